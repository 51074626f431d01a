"""The ``sweep`` sub-command: many configurations, each saved as an ordinary run, ranked at the end.

``python -m dashboard sweep --dataset mnist --grid hidden=100,256x128 alpha=1e-4,1e-3 --epochs 10``
trains the 4 combinations (layers inside one value are joined by ``x``);
``--random 8`` draws 8 configurations instead, where a grid item may also be a
range ``alpha=1e-5:1e-2`` (log scale for alpha and the learning rate).
``--cluster tcp://HOST:8786`` sends the work to a Dask cluster, ``--cluster ray``
(or ``ray://HOST:10001``) to Ray; the default runs local processes (loky).
Output: one line per finished run, then one JSON line (the sweep record's summary).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dashboard.errors import DashboardError, ParameterError
from dashboard.lab.params import PRESETS, describe_error
from dashboard.train_cli import add_param_flags, load_splits, params_from_args


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``sweep`` sub-command to ``subparsers`` and return its parser."""
    p = subparsers.add_parser(
        "sweep", help="train a grid (or a random sample) of configurations; each becomes a run",
        description=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", required=True, metavar="NAME|PATH", help="a catalog name or a file or folder")
    p.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                   help="values per parameter, e.g. hidden=100,256x128 alpha=1e-4,1e-3 model=mlp,linear")
    p.add_argument("--random", type=int, metavar="N", default=0,
                   help="draw N configurations from the grid's values and ranges (low:high) instead of all")
    p.add_argument("--random-seed", type=int, default=0, help="seed of the random draw (default 0)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="loky (default), tcp://HOST:8786 or dask (Dask), ray or ray://HOST:10001 (Ray)")
    p.add_argument("--n-jobs", type=int, default=None, help="parallel tasks (default: all cores / the cluster)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="base values (default: default)")
    add_param_flags(p)
    p.add_argument("--runs-dir", type=Path, default=None,
                   help="where runs are saved (default: $DASHBOARD_RUNS_DIR or data/runs)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ``sweep`` sub-command; returns 0 (user errors raise :class:`DashboardError`)."""
    # Imported here: scikit-learn and skops would cost every other command 2.5 s and 220 MB.
    from dashboard.lab.runs import RunStore, default_runs_dir
    from dashboard.lab.sweep import grid_configs, parse_grid, random_configs, ranking, run_sweep

    base = params_from_args(args, PRESETS[args.preset])
    try:
        grid = parse_grid(args.grid, ranges=bool(args.random))
        configs = (random_configs(base, grid, args.random, args.random_seed) if args.random
                   else grid_configs(base, grid))
    except ParameterError as exc:
        raise DashboardError(f"--grid {describe_error(exc, 'cli')}") from None
    train, test = load_splits(args.dataset)
    store = RunStore(args.runs_dir or default_runs_dir())
    print(f"{len(configs)} configurations on {train.name}", file=sys.stderr, flush=True)

    def on_run(row, done, total):
        status = row.error or f"run {row.run_id}"
        print(f"[{done}/{total}] val_acc {row.val_accuracy:.4f}  test_acc {row.test_accuracy:.4f}  "
              f"{row.seconds:.1f}s  {status}", flush=True)

    try:
        record = run_sweep(configs, train, test, store, cluster=args.cluster, n_jobs=args.n_jobs, on_run=on_run,
                           title=" ".join(args.grid))
    except ParameterError as exc:
        raise DashboardError(describe_error(exc, "cli")) from None
    ranked = ranking(record)
    print(json.dumps({"sweep_id": record["id"], "engine": record["engine"], "seconds": round(record["seconds"], 3),
                      "axes": record["axes"], "ranking": ranked}), flush=True)
    return 0
