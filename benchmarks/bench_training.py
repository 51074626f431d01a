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
        # The epoch whose weights the model ends with (the best one with keep_best).
        "kept_epoch": trainer.kept_epoch,
        "kept_val_accuracy": trainer.history[trainer.kept_epoch - 1].val_accuracy,
        "train_seconds": round(train_seconds, 2),
        "load_average_at_start": round(load, 2),
    }
    if test:
        metrics = evaluate(trainer.final_model(), load_dataset(dataset, "test"))
        out["test_accuracy"] = metrics.accuracy
        out["seconds_with_test"] = round(time.perf_counter() - t0, 2)
    return out


def overhead(
    dataset: str = "mnist", params: TrainParams | None = None, rounds: int = 5, threads: int | None = None
) -> dict:
    """Live epoch-by-epoch run with per-epoch evaluation vs plain ``fit``, same parameters.

    Both get the same float32 fit data; the plain fit runs exactly ``epochs``
    epochs (no early stop), like the live run. They alternate ``rounds`` times
    and the ratios compare the fastest of each (the least disturbed by other
    work on the shared CPU); every time is recorded, wall and CPU (process)
    time. The total live time charges the live run for its own split and
    scaling too, which the plain fit, handed ready float32 data, does not pay.

    With ``threads=1`` BLAS runs single-threaded: no spinning worker threads,
    so the CPU-time ratio measures the extra work itself, and is much less
    moved by the other engineers' processes than the 2-thread wall time.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    params = params or PRESETS["default"]
    train = load_dataset(dataset, "train")
    fit_idx, _ = split_indices(np.asarray(train.labels), params)
    x_fit, y_fit = scale_images(train.flat()[fit_idx]), np.asarray(train.labels)[fit_idx]

    def plain() -> tuple[float, float]:
        model = params.model()
        t, c = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_fit, y_fit)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        assert model.n_iter_ == params.epochs
        assert model.coefs_[0].dtype == np.float32
        return wall, cpu

    def prep() -> float:
        # What a plain-fit user pays to get the same float32 data from the uint8 set.
        t = time.perf_counter()
        scale_images(train.flat()[fit_idx])
        return time.perf_counter() - t

    def live() -> tuple[float, float, float]:
        trainer = Trainer(params, train)
        t, c = time.perf_counter(), time.process_time()
        reports = list(trainer.run())
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        assert trainer.model.coefs_[0].dtype == np.float32
        # Wall time inside the epochs only: the live run also splits and scales, which fit is not charged for.
        return wall, cpu, sum(r.seconds for r in reports)

    load = _load()
    plain_runs, live_runs, preps = [], [], []
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(rounds):
            # Alternate, so drift in the shared CPU's load hits both sides alike.
            preps.append(prep())
            plain_runs.append(plain())
            live_runs.append(live())
    p_wall, p_cpu = zip(*plain_runs)
    l_wall, l_cpu, l_epochs = zip(*live_runs)
    out = {
        "dataset": dataset,
        "params": params.to_dict(),
        "rounds": rounds,
        "blas_threads": threads or "default (2)",
        "plain_fit_wall_seconds": [round(x, 3) for x in p_wall],
        "live_wall_seconds_total": [round(x, 3) for x in l_wall],
        "live_wall_seconds_in_epochs": [round(x, 3) for x in l_epochs],
        "plain_data_prep_seconds": [round(x, 3) for x in preps],
        "plain_fit_cpu_seconds": [round(x, 3) for x in p_cpu],
        "live_cpu_seconds_total": [round(x, 3) for x in l_cpu],
        # Headline: the fastest live run, data preparation included, over the fastest plain fit.
        "ratio_wall_total_min": round(min(l_wall) / min(p_wall), 4),
        "ratio_wall_epochs_min": round(min(l_epochs) / min(p_wall), 4),
        # Both sides from the uint8 set: the plain fit also pays for its float32 copy.
        "ratio_wall_total_vs_plain_with_prep_min": round(min(l_wall) / (min(p_wall) + min(preps)), 4),
        # CPU time is less disturbed by other processes competing for the 2 cores.
        "ratio_cpu_total_min": round(min(l_cpu) / min(p_cpu), 4),
        "load_average_at_start": round(load, 2),
        "load_average_at_end": round(_load(), 2),
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
        _save("overhead_1_thread", overhead(rounds=3, threads=1))
    if args.part in ("all", "best"):
        _save("best", best())
    if args.part in ("all", "overhead"):
        _save("overhead", overhead())
    if args.part == "search":
        search()
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
