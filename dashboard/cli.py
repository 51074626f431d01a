"""Command line: ``python -m dashboard {datasets,fetch,info,train} ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from dashboard import map_cli
from dashboard.data.catalog import CATALOG, DIGITS_NAME, DIGITS_TITLE, SPLITS, dataset_names
from dashboard.data.dataset import Dataset
from dashboard.data.loading import cache_dir, find_files, is_available, load_dataset
from dashboard.errors import DashboardError, DataError


class ProgressBar:
    """A one-line text progress bar on stderr for downloads."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream, self.width, self._last = stream, width, None

    def __call__(self, done: int, total: int | None, name: str) -> None:
        if total:
            frac = min(done / total, 1.0)
            filled = int(self.width * frac)
            line = f"{name:<28} [{'#' * filled}{'.' * (self.width - filled)}] {frac:6.1%} {done / 1e6:6.1f} MB"
        else:
            line = f"{name:<28} {done / 1e6:6.1f} MB"
        if line != self._last:
            end = "\n" if total and done >= total else ""
            self.stream.write("\r" + line + end)
            self.stream.flush()
            self._last = line


def cmd_datasets(args: argparse.Namespace) -> int:
    rows = []
    for name in dataset_names():
        title = CATALOG[name].title if name in CATALOG else DIGITS_TITLE
        if name == DIGITS_NAME:
            where = "yes (built in)"
        elif is_available(name):
            where = f"yes ({find_files(CATALOG[name], 'train')[0].parent})"
        else:
            where = "no: fetch it"
        rows.append((name, where, title))
    width = max(len(r[1]) for r in rows)
    print(f"{'name':<15} {'available offline':<{width}}  title")
    for name, where, title in rows:
        print(f"{name:<15} {where:<{width}}  {title}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from dashboard.data.download import fetch_dataset

    for name in args.names:
        if name == DIGITS_NAME:
            print("digits ships with scikit-learn; nothing to fetch.")
            continue
        if name not in CATALOG:
            raise DataError(f"unknown dataset {name!r}; known: {', '.join(CATALOG)}")
        entry = CATALOG[name]
        target = Path(args.data_dir or cache_dir()) / name
        here = [find_files(entry, split, [target.parent]) for split in SPLITS]
        if all(f is not None and f[0].parent == target for f in here):
            print(f"{name}: already present in {target}; nothing downloaded.")
            continue
        if args.data_dir is None and is_available(name):
            where = find_files(entry, "train")[0].parent
            print(f"{name}: already on this machine, in {where}; nothing downloaded "
                  f"(give --data-dir to download a copy elsewhere).")
            continue
        if args.mirror:
            base = args.mirror.rstrip("/") + "/"
            entry = replace(entry, mirrors=(base + name + "/", *entry.mirrors))
        folder = fetch_dataset(entry, args.data_dir or cache_dir(), progress=ProgressBar())
        print(f"{name}: ready in {folder}")
    return 0


def describe(ds: Dataset) -> str:
    """The ``info`` report of one split, as text."""
    h, w = ds.shape
    counts = ds.class_counts()
    width = max(len(c) for c in ds.class_names)
    lines = [
        f"dataset:  {ds.name} ({ds.split})",
        f"source:   {ds.source}",
        f"samples:  {len(ds):,}",
        f"image:    {h}x{w} ({ds.n_features} values)",
        f"pixels:   min {int(ds.images.min())}  mean {float(ds.images.mean(dtype=np.float64)):.2f}"
        f"  max {int(ds.images.max())}",
        f"classes:  {ds.n_classes}",
    ]
    lines += [f"  {i:>3}  {name:<{width}}  {int(counts[i]):>7,}" for i, name in enumerate(ds.class_names)]
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    if args.target in dataset_names():
        if args.split == "all":  # a catalog set is its two splits, described one after the other
            parts = [load_dataset(args.target, split) for split in SPLITS]
            print("\n\n".join(describe(ds) for ds in parts))
            print(f"\ntotal:    {sum(len(ds) for ds in parts):,} samples in {len(parts)} splits")
            return 0
        ds = load_dataset(args.target, args.split or "train")
    else:
        from dashboard.data.userdata import read_path

        splits = read_path(args.target)
        split = args.split or ("train" if "train" in splits else next(iter(splits)))
        if split not in splits:
            raise DataError(f"{args.target} has no {split} split; it has: {', '.join(splits)}")
        ds = splits[split]
    print(describe(ds))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description="Explore MNIST-like image datasets from the command line. "
                    "The app itself: streamlit run dashboard/app.py",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("datasets", help="list the known datasets and whether each is on this machine")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("fetch", help="download datasets into data/ (verified by checksum)",
                       description="Download catalog datasets from their public mirrors into "
                                   "data/<name>/, verifying each file's SHA-256.")
    p.add_argument("names", nargs="+", metavar="NAME", help=f"one or more of: {', '.join(CATALOG)}")
    p.add_argument("--data-dir", default=None,
                   help=f"where to put them (default: {cache_dir()}); a set already on this "
                        f"machine is only downloaded again when this is given")
    p.add_argument("--mirror", metavar="URL",
                   help="a mirror to try first, holding <URL>/<name>/<file> (e.g. a local copy)")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("info", help="summarise a dataset: samples, shape, classes, pixel values",
                       description="Summarise a catalog dataset by NAME, or your own file or folder "
                                   "by PATH (CSV, NPZ, IDX pair or a folder of IDX files).")
    p.add_argument("target", metavar="NAME|PATH", help=f"{', '.join(dataset_names())}, or a path")
    p.add_argument("--split", choices=["train", "test", "all"],
                   help="which split (default: train; all: every split, one after the other)")
    p.set_defaults(func=cmd_info)

    try:
        from dashboard import train_cli
    except ImportError:  # the training lab is optional for the data commands
        train_cli = None
    if train_cli is not None:
        train_cli.add_parser(sub)
        from dashboard import sweep_cli  # noqa: I001 - the sweep command (issue 10)

        sweep_cli.add_parser(sub)

        from dashboard import labelissues_cli

        labelissues_cli.add_parser(sub)
    map_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
