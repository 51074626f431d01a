"""The ``train`` sub-command: train from the command line, saved like the app's runs.

Output: one line per epoch, then one JSON line with at least ``test_accuracy``,
``seconds``, ``run_id``, ``kept_epoch`` (the epoch whose weights were kept; the
last one when the weights are averaged) and ``averaged_epochs`` (0 = no averaging).
The flags are generated from the parameter table (:data:`dashboard.lab.params.PARAMS`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError, DataError, ParameterError
from dashboard.lab.params import PARAMS, PRESETS, TrainParams, describe_error, fit_preset


def add_param_flags(p: argparse.ArgumentParser) -> None:
    """One flag per row of the parameter table (strings, parsed by the table so errors read alike)."""
    for spec in PARAMS:
        if spec.kind == "bool":
            # None (neither flag) keeps the preset's value.
            p.add_argument(spec.flag, dest=spec.name, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{spec.help} (default: the preset's)")
        else:
            choices = f" One of: {', '.join(spec.choices)}." if spec.choices else ""
            p.add_argument(spec.flag, dest=spec.name, metavar=spec.name.upper(), help=spec.help + choices)


def params_from_args(args: argparse.Namespace, base: TrainParams) -> TrainParams:
    """The flags given, over ``base``; a :class:`ParameterError` names the ``--flag``."""
    values = {spec.name: getattr(args, spec.name, None) for spec in PARAMS}
    try:
        return TrainParams.from_strings({k: None if v is None else str(v) for k, v in values.items()}, base)
    except ParameterError as exc:
        raise DashboardError(describe_error(exc, "cli")) from None


def load_splits(target: str) -> tuple[Dataset, Dataset]:
    """Train and test splits of a catalog set by name, or of a file or folder by path (as ``info`` reads it).

    A file with one split is held out 80/20 (stratified), as the app does with an upload.
    """
    from dashboard.data.catalog import dataset_names
    from dashboard.data.loading import load_dataset

    if target in dataset_names():
        return load_dataset(target, "train"), load_dataset(target, "test")
    if not Path(target).exists():
        raise DataError(f"{target!r} is neither a known dataset ({', '.join(dataset_names())}) nor a file or folder")
    from dashboard.data.userdata import holdout_split, read_path

    splits = read_path(target)
    if "train" in splits and "test" in splits:
        return splits["train"], splits["test"]
    return holdout_split(next(iter(splits.values())))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command to ``subparsers`` and return its parser.

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
        "train",
        help="train a model (MLP or linear baseline) epoch by epoch and save the run",
        description="Train one model epoch by epoch; the run is saved under the runs folder and "
        "appears on the app's Runs page.",
    )
    p.add_argument("--dataset", required=True, metavar="NAME|PATH",
                   help="mnist, fashion-mnist, digits, or a CSV/NPZ/IDX file or folder")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="starting values; other flags override them (default: default)")
    add_param_flags(p)
    p.add_argument("--runs-dir", type=Path, default=None,
                   help="where runs are saved (default: $DASHBOARD_RUNS_DIR or data/runs)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``train`` sub-command.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the parser from :func:`add_parser`.

    Returns
    -------
    int
        0 on success. User errors raise :class:`DashboardError`, which the
        dispatcher prints.
    """
    t0 = time.perf_counter()
    params = params_from_args(args, PRESETS[args.preset])
    train, test = load_splits(args.dataset)
    # A preset made for MNIST adapts to a small set, and says so; values given as flags are kept.
    explicit = {spec.name for spec in PARAMS if getattr(args, spec.name, None) is not None}
    fitted, changes = fit_preset(params, len(train), train.n_classes)
    if changes and not explicit & set(_changed_fields(params, fitted)):
        params = fitted
        print(f"preset {args.preset} adapted to {train.name}: " + "; ".join(changes), file=sys.stderr)
    # Imported here: scikit-learn and skops cost every other command 2.5 s and 220 MB.
    from dashboard.lab.runs import RunStore, default_runs_dir
    from dashboard.lab.trainjob import DONE, TrainingJob

    store = RunStore(args.runs_dir or default_runs_dir())
    try:
        job = TrainingJob(params, train, test, store)
    except ParameterError as exc:
        raise DashboardError(describe_error(exc, "cli")) from None
    snap = job.run(on_epoch=lambda report: print(report.line(), flush=True))
    if snap.state != DONE:
        raise DashboardError(f"training failed: {snap.error}")
    if snap.run is None:
        raise DashboardError(f"trained (test accuracy {snap.metrics.accuracy:.4f}) but {snap.save_error}")
    print(
        json.dumps(
            {
                "test_accuracy": snap.metrics.accuracy,
                "seconds": round(time.perf_counter() - t0, 3),
                "train_seconds": round(snap.run.info["timing"]["train"], 3),
                "run_id": snap.run.run_id,
                "dataset": train.name,
                "epochs_run": snap.epoch,
                "kept_epoch": snap.kept_epoch,
                "kept_val_accuracy": snap.history[snap.kept_epoch - 1].val_accuracy,
                "averaged_epochs": snap.averaged_epochs,
                "params": params.to_dict(),
            }
        ),
        flush=True,
    )
    return 0


def _changed_fields(a: TrainParams, b: TrainParams) -> list[str]:
    return [spec.name for spec in PARAMS if getattr(a, spec.name) != getattr(b, spec.name)]


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m dashboard.train_cli ...``)."""
    parser = argparse.ArgumentParser(prog="dashboard")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
