"""Training benchmarks: live-training overhead, the "best" preset, and the preset search.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_training            # overhead + best on both sets
    .venv/bin/python -m benchmarks.bench_training overhead
    .venv/bin/python -m benchmarks.bench_training best
    .venv/bin/python -m benchmarks.bench_training search     # the bounded preset search

Results are printed and merged into benchmarks/results/training.json (one key
per part). The machine is shared: the load average at the start of each part is
recorded next to its figures.

The search selects on *validation* accuracy only; the test split is evaluated
once per dataset for the chosen preset, in ``best``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "training.json"
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))

from dashboard.loading import load_dataset  # noqa: E402
from dashboard.training import PRESETS, Trainer, TrainParams, evaluate, scale_images, split_indices  # noqa: E402

DATASETS = ("mnist", "fashion-mnist")

# The bounded search: one configuration at a time, each under the 90 s budget.
SEARCH: list[TrainParams] = [
    TrainParams(hidden=(512, 256), batch_size=200, epochs=30, val_fraction=0.05),
    TrainParams(hidden=(512, 256), alpha=1e-3, batch_size=200, epochs=30, val_fraction=0.05),
    TrainParams(hidden=(1024,), alpha=1e-3, batch_size=200, epochs=30, val_fraction=0.05),
    TrainParams(hidden=(1024, 512), alpha=1e-3, batch_size=256, epochs=20, val_fraction=0.05),
    TrainParams(hidden=(512, 256), alpha=1e-3, learning_rate=5e-4, batch_size=128, epochs=30, val_fraction=0.05),
    TrainParams(hidden=(512, 512), alpha=3e-3, batch_size=200, epochs=30, val_fraction=0.05),
]


def _load() -> float:
    return os.getloadavg()[0]


def _save(key: str, value: object) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


def live_run(params: TrainParams, dataset: str, test: bool) -> dict:
    """One epoch-by-epoch run as the app does it; evaluates the test split if ``test``."""
    train = load_dataset(dataset, "train")
    load = _load()
    t0 = time.perf_counter()
    trainer = Trainer(params, train)
    for report in trainer.run():
        print("   ", report.line(), flush=True)
    train_seconds = time.perf_counter() - t0
    out = {
        "dataset": dataset,
        "params": params.to_dict(),
        "val_accuracy": trainer.history[-1].val_accuracy,
        "best_val_accuracy": max(r.val_accuracy for r in trainer.history),
        "train_seconds": round(train_seconds, 2),
        "load_average_at_start": round(load, 2),
    }
    if test:
        metrics = evaluate(trainer.final_model(), load_dataset(dataset, "test"))
        out["test_accuracy"] = metrics.accuracy
        out["seconds_with_test"] = round(time.perf_counter() - t0, 2)
    return out


def overhead(dataset: str = "mnist", params: TrainParams | None = None) -> dict:
    """Live epoch-by-epoch run with per-epoch evaluation vs plain ``fit``, same parameters.

    Both get the same float32 fit data; the plain fit runs exactly ``epochs``
    epochs (no early stop), like the live run. Data preparation (split,
    scaling) is outside both timings. Plain fit runs first, then live, then
    plain again; the ratio uses the mean of the two plain runs to damp drift
    from the shared CPU.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    params = params or PRESETS["default"]
    train = load_dataset(dataset, "train")
    fit_idx, _ = split_indices(np.asarray(train.labels), params)
    x_fit, y_fit = scale_images(train.flat()[fit_idx]), np.asarray(train.labels)[fit_idx]

    def plain() -> float:
        model = params.model()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_fit, y_fit)
        assert model.n_iter_ == params.epochs
        assert model.coefs_[0].dtype == np.float32
        return time.perf_counter() - t

    load = _load()
    plain_1 = plain()
    trainer = Trainer(params, train)
    t = time.perf_counter()
    reports = list(trainer.run())
    live_total = time.perf_counter() - t
    # Time inside the epochs only (the live run also splits and scales, which fit is not charged for).
    live_epochs = sum(r.seconds for r in reports)
    plain_2 = plain()
    plain_mean = (plain_1 + plain_2) / 2
    out = {
        "dataset": dataset,
        "params": params.to_dict(),
        "plain_fit_seconds": [round(plain_1, 3), round(plain_2, 3)],
        "live_seconds_epochs": round(live_epochs, 3),
        "live_seconds_total_with_data_prep": round(live_total, 3),
        "ratio_epochs": round(live_epochs / plain_mean, 4),
        "ratio_total": round(live_total / plain_mean, 4),
        "load_average_at_start": round(load, 2),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(out, indent=2), flush=True)
    return out


def best() -> list[dict]:
    """The "best" preset, live, on both sets, with test accuracy and seconds."""
    results = []
    for name in DATASETS:
        print(f"best preset on {name}", flush=True)
        res = live_run(PRESETS["best"], name, test=True)
        print(json.dumps(res), flush=True)
        results.append(res)
    return results


def search() -> list[dict]:
    """The preset search: each candidate on both sets, selected on validation accuracy."""
    results = []
    for params in SEARCH:
        for name in DATASETS:
            print(f"search {params.hidden} alpha={params.alpha} lr={params.learning_rate} "
                  f"bs={params.batch_size} epochs={params.epochs} on {name}", flush=True)
            res = live_run(params, name, test=False)
            print(json.dumps(res), flush=True)
            results.append(res)
            _save("search", results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=["all", "overhead", "best", "search"])
    args = parser.parse_args(argv)
    if args.part in ("all", "overhead"):
        _save("overhead", overhead())
    if args.part in ("all", "best"):
        _save("best", best())
    if args.part == "search":
        search()
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
