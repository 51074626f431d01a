"""The ``label-issues`` sub-command: rank the likely mislabelled samples of a dataset.

Output (stdout): a table of the top suspects, worst first, then one JSON line
``{"dataset", "split", "n_samples", "n_suspects", "method", "params", "key",
"seconds", "suspects": [...]}``. Progress goes to stderr. The out-of-fold
probabilities are cached, so a second run with the same data and parameters is
immediate (and the app's Review page sees the same search).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from dashboard.lab import labelissues as li


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``label-issues`` sub-command to ``subparsers`` and return its parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        With ``func=run`` set as its default.
    """
    d = li.OOFParams()
    p = subparsers.add_parser(
        "label-issues",
        help="find likely mislabelled samples (out-of-fold MLP + cleanlab)",
        description="Train the MLP K times (stratified K-fold) so that every sample gets "
        "probabilities from a model that never saw it, then rank the labels with cleanlab. "
        "Prints the suspects, worst first, as a table and then as JSON.",
    )
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist or digits")
    p.add_argument("--split", choices=["train", "test"], default="train",
                   help="which split to search (default: train)")
    p.add_argument("--corrections", action="store_true",
                   help="search the dataset with its saved corrections applied")
    p.add_argument("--folds", type=int, default=d.folds, help="K of the K-fold (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs per fold (default: %(default)s)")
    p.add_argument("--hidden", default=",".join(map(str, d.hidden)),
                   help='hidden layer sizes, e.g. "256,128" (default: %(default)s)')
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (default: %(default)s)")
    p.add_argument("--method", choices=li.RANKING_METHODS, default=li.DEFAULT_METHOD,
                   help="cleanlab label-quality score to rank by (default: %(default)s)")
    p.add_argument("--top", type=int, default=100, help="suspects to print (default: %(default)s)")
    p.set_defaults(func=run)
    return p


def _hidden(text: str) -> tuple[int, ...]:
    from dashboard.errors import ParameterError

    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ParameterError("hidden", f"must be whole numbers separated by commas, got {text!r}") from None
    if not sizes:
        raise ParameterError("hidden", "needs at least one layer size")
    return sizes


def table(records: list[dict]) -> str:
    """The suspects as a fixed-width text table."""
    lines = [f"{'rank':>5} {'index':>7}  {'given':<12} {'suggested':<12} {'quality':>8} {'confidence':>10}"]
    for r in records:
        lines.append(f"{r['rank']:>5} {r['index']:>7}  {r.get('given_name', r['given'])!s:<12} "
                     f"{r.get('suggested_name', r['suggested'])!s:<12} {r['quality']:>8.4f} {r['confidence']:>10.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the ``label-issues`` sub-command; user errors raise :class:`DashboardError`."""
    from dashboard.errors import ParameterError

    if args.top < 0:
        raise ParameterError("top", "must be >= 0")
    t0 = time.perf_counter()
    params = li.OOFParams(folds=args.folds, hidden=_hidden(args.hidden), epochs=args.epochs,
                          seed=args.seed)
    ds = li.load_for_search({"dataset": args.dataset, "split": args.split,
                             "corrections": args.corrections})
    if args.split == "test":
        print("note: searching the TEST split; corrections to it change what test accuracy means",
              file=sys.stderr)
    last = [""]

    def progress(fraction: float, message: str) -> None:
        line = f"{fraction:6.1%}  {message}"
        if line != last[0]:
            print(line, file=sys.stderr, flush=True)
            last[0] = line

    suspects = li.find_suspects(ds, params, args.method, progress)
    records = suspects.records(args.top, class_names=ds.class_names)
    print(f"{ds.describe()}: {len(suspects):,} suspects ({args.method}), top {len(records)}:")
    print(table(records))
    print(json.dumps({
        "dataset": ds.name, "split": ds.split, "n_samples": suspects.n_samples,
        "n_suspects": len(suspects), "method": args.method, "params": params.to_dict(),
        "key": suspects.key, "corrections_version": li.dataset_version(ds)[1],
        "seconds": round(time.perf_counter() - t0, 3), "suspects": records,
    }), flush=True)
    return 0
