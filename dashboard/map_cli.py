"""The ``map`` sub-command: compute and cache a 2-D map of a dataset, print timing and kNN figure.

Output: progress lines on stderr, then one JSON line on stdout with ``method``, ``params``,
``seconds`` (wall time of this command), ``compute_seconds`` (time of the computation,
the original one when the map came from the cache), ``cached``, ``knn_accuracy``, ``n``,
``dataset``, ``split`` and ``file`` (the cache file).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dashboard.data.loading import load_dataset
from dashboard.errors import DashboardError
from dashboard.explore import embedding


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``map`` sub-command to ``subparsers`` and return its parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        With ``func=run`` set as its default.
    """
    p = subparsers.add_parser(
        "map", help="compute and cache a 2-D map (PCA, UMAP, t-SNE) of a dataset",
        description="Compute a 2-D map of every sample of a split on its PCA-50 reduction and "
        "cache it under <cache>/maps/ (the app's Map page opens it instantly). Prints the time and "
        "the 10-nearest-neighbour accuracy of the 2-D points as JSON.")
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist or digits")
    p.add_argument("--split", choices=["train", "test"], default="train", help="(default: train)")
    p.add_argument("--method", choices=embedding.METHODS, default="umap", help="(default: umap)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a method parameter, e.g. n_epochs=200 (repeatable); defaults: "
                   + "; ".join(f"{m}: {', '.join(f'{k}={v}' for k, v in d.items()) or '-'}"
                               for m, d in embedding.DEFAULTS.items()))
    p.add_argument("--cache-dir", type=Path, default=None, help="maps folder (default: <cache>/maps)")
    p.add_argument("--force", action="store_true", help="recompute even when cached")
    p.set_defaults(func=run)
    return p


def _parse_params(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise DashboardError(f"--param needs NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    """Run the ``map`` sub-command.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the parser from :func:`add_parser`.

    Returns
    -------
    int
        0 on success; user errors raise :class:`DashboardError`.
    """
    t0 = time.perf_counter()
    try:
        params = embedding.method_params(args.method, _parse_params(args.param))
    except (TypeError, ValueError) as exc:
        raise DashboardError(f"bad --param: {exc}") from None
    ds = load_dataset(args.dataset, args.split)
    store = embedding.MapStore(args.cache_dir, notify=lambda m: print(m, file=sys.stderr))
    if args.force:
        key = embedding.cache_key(ds.checksum, ds.split, args.method, params)
        for suffix in (".npz", ".json"):
            (store.root / (embedding.cache_stem(key) + suffix)).unlink(missing_ok=True)
    last = [""]

    def progress(fraction: float, message: str) -> None:
        line = f"{fraction:6.1%} {message}"
        if line != last[0]:
            print(line, file=sys.stderr, flush=True)
            last[0] = line

    res = store.compute(ds, args.method, params, progress)
    key = embedding.cache_key(ds.checksum, ds.split, args.method, params)
    print(json.dumps({
        "dataset": ds.name, "split": ds.split, "n": len(ds), "method": res.method, "params": res.params,
        "seconds": round(time.perf_counter() - t0, 3), "compute_seconds": round(res.seconds, 3),
        "cached": res.cached, "knn_accuracy": round(res.knn_accuracy, 4),
        "file": str(store.root / (embedding.cache_stem(key) + ".npz")),
    }), flush=True)
    return 0
