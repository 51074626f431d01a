"""The ``train`` sub-command: train from the command line, saved like the app's runs.

Output: one line per epoch, then one JSON line with at least ``test_accuracy``,
``seconds``, ``run_id``, ``kept_epoch`` (the epoch whose weights were kept; the
last one when the weights are averaged) and ``averaged_epochs`` (0 = no averaging).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

from dashboard.lab.trainjob import DONE, TrainingJob
from dashboard.data.loading import load_dataset
from dashboard.errors import DashboardError
from dashboard.lab.runs import RunStore, default_runs_dir
from dashboard.lab.training import PRESETS, TrainParams

# CLI flag -> TrainParams field (argparse turns dashes into underscores for us).
_FIELDS = [f.name for f in fields(TrainParams)]


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
        help="train an MLP epoch by epoch and save the run",
        description="Train scikit-learn's MLPClassifier one epoch at a time; the run is saved "
        "under the runs folder and appears on the app's Runs page.",
    )
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist or digits")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="starting values; other flags override them (default: default)")
    # Strings, parsed by TrainParams.from_strings so errors name the field the same way everywhere.
    p.add_argument("--hidden", help='hidden layer sizes, e.g. "256,128"')
    p.add_argument("--activation", help="relu, tanh, logistic or identity")
    p.add_argument("--solver", help="adam or sgd")
    p.add_argument("--alpha", help="L2 penalty (>= 0)")
    p.add_argument("--learning-rate", help="initial learning rate (> 0)")
    p.add_argument("--batch-size", help="samples per step")
    p.add_argument("--epochs", help="passes over the data")
    p.add_argument("--train-size", help="samples taken from the train split (0 = all)")
    p.add_argument("--val-fraction", help="share held out for validation, in (0, 0.5]")
    p.add_argument("--seed", help="random seed")
    # None (neither flag) keeps the preset's value; from_strings reads "True"/"False".
    p.add_argument("--keep-best", action=argparse.BooleanOptionalAction, default=None,
                   help="end with the weights of the best-validation epoch (default: the preset's, on)")
    p.add_argument("--average-last", metavar="K",
                   help="end with the mean of the last K epochs' weights; 0 = off (overrides --keep-best)")
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
    values = {name: getattr(args, name, None) for name in _FIELDS}
    params = TrainParams.from_strings(
        {name: None if value is None else str(value) for name, value in values.items()}, PRESETS[args.preset]
    )
    train, test = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
    store = RunStore(args.runs_dir or default_runs_dir())
    job = TrainingJob(params, train, test, store)
    snap = job.run(on_epoch=lambda report: print(report.line(), flush=True))
    if snap.state != DONE:
        raise DashboardError(f"training failed: {snap.error}")
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


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m dashboard.train_cli ...``) until the main CLI wires ``train`` in."""
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
