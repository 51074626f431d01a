"""Training benchmarks: live-training overhead, the "best" preset, and the preset search.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_training            # overhead + best on both sets
    .venv/bin/python -m benchmarks.bench_training overhead
    .venv/bin/python -m benchmarks.bench_training best
    .venv/bin/python -m benchmarks.bench_training search     # the bounded preset search
    .venv/bin/python -m benchmarks.bench_training variants   # keep-best judged on split validation
    .venv/bin/python -m benchmarks.bench_training averaging  # last / keep-best / average-last-K, split-half

Results are printed and merged into benchmarks/results/training.json (one key
per part). The machine is shared: the load average at the start of each part is
recorded next to its figures.

The search selects on *validation* accuracy only; the test split is evaluated
once per dataset for the chosen preset, in ``best``.
"""

from __future__ import annotations

import argparse
import copy
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

from dashboard.data.loading import load_dataset  # noqa: E402
from dashboard.lab.models import make_model  # noqa: E402
from dashboard.lab.training import PRESETS, Trainer, TrainParams, evaluate, scale_images, split_indices  # noqa: E402

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
        # With average_last, the model holds the mean of this many last epochs (kept_epoch = last).
        "averaged_epochs": trainer.averaged_epochs,
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

    What each side includes:

    * plain: ``MLPClassifier.fit`` on ready float32 fit data (the same rows,
      in the same order, as the live run's), exactly ``epochs`` epochs (no early
      stop), with its one-off input validation. Its data preparation (gathering
      the fit rows from the uint8 set and scaling them to float32, into the
      array fit then uses, fresh each round) is timed apart as
      ``plain_data_prep_seconds``.
    * live, total: all of ``Trainer.run``: the stratified split, the one
      float32 copy of the fit + validation rows, the train-eval subset, and per
      epoch ``partial_fit``, validation predictions, train-subset accuracy, the
      validation confusion matrix and the keep-best weight copy, then the
      restore of the best weights. Not included on either side: building the
      (unfitted) model and loading the uint8 dataset.
    * live, epochs: the per-epoch part only (the sum of ``EpochReport.seconds``);
      ``live_prep_seconds`` is the rest before the first epoch.

    ``same_first_epoch_loss`` checks that both start from the same weights
    and batches. The sides alternate ``rounds`` times and the ratios
    compare the fastest of each (the least disturbed by other work on the
    shared CPU); every time is recorded, wall and CPU (process) time.

    With ``threads=1`` BLAS runs single-threaded: no spinning worker threads,
    so the CPU-time ratio measures the extra work itself, and is much less
    moved by the other engineers' processes than the 2-thread wall time.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    params = params or PRESETS["default"]
    train = load_dataset(dataset, "train")
    labels = np.asarray(train.labels)
    fit_idx, _ = split_indices(labels, params)
    y_fit = labels[fit_idx]
    first_loss: dict[str, float] = {}

    def plain() -> tuple[float, float, float]:
        # The plain user's own float32 copy, made fresh each round and fed to fit: its first
        # touch of new memory happens under the same conditions as the live run's.
        t = time.perf_counter()
        x_fit = scale_images(train.flat()[fit_idx])
        prep = time.perf_counter() - t
        model = make_model(params).estimator
        t, c = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_fit, y_fit)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        assert model.n_iter_ == params.epochs
        assert model.coefs_[0].dtype == np.float32
        first_loss["plain"] = model.loss_curve_[0]
        return wall, cpu, prep

    def live() -> tuple[float, float, float, float]:
        trainer = Trainer(params, train)
        t, c = time.perf_counter(), time.process_time()
        reports = list(trainer.run())
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        assert trainer.model.coefs_[0].dtype == np.float32
        first_loss["live"] = reports[0].loss
        # Inside the epochs only, and the preparation before the first epoch began.
        return wall, cpu, sum(r.seconds for r in reports), reports[0].elapsed - reports[0].seconds

    load = _load()
    plain_runs, live_runs = [], []
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(rounds):
            # Alternate, so drift in the shared CPU's load hits both sides alike.
            plain_runs.append(plain())
            live_runs.append(live())
    p_wall, p_cpu, p_prep = zip(*plain_runs)
    l_wall, l_cpu, l_epochs, l_prep = zip(*live_runs)
    p_from_uint8 = [w + q for w, q in zip(p_wall, p_prep)]
    out = {
        "dataset": dataset,
        "params": params.to_dict(),
        "rounds": rounds,
        "blas_threads": threads or "default (2)",
        "plain_fit_wall_seconds": [round(x, 3) for x in p_wall],
        "plain_data_prep_seconds": [round(x, 3) for x in p_prep],
        "live_wall_seconds_total": [round(x, 3) for x in l_wall],
        "live_wall_seconds_in_epochs": [round(x, 3) for x in l_epochs],
        "live_prep_seconds": [round(x, 3) for x in l_prep],
        # Same start (weights, first epoch's batches): equal first-epoch losses. Later epochs
        # differ: fit re-shuffles its previous order, partial_fit shuffles 0..n-1 afresh, with
        # the same random draws, so both do the same work on different (equally random) orders.
        "same_first_epoch_loss": bool(np.isclose(first_loss["plain"], first_loss["live"], rtol=1e-6)),
        "plain_fit_cpu_seconds": [round(x, 3) for x in p_cpu],
        "live_cpu_seconds_total": [round(x, 3) for x in l_cpu],
        # The measure: the whole live run (its split and float32 copy included)
        # over plain fit handed ready float32 data.
        "ratio_wall_total_min": round(min(l_wall) / min(p_wall), 4),
        # The per-epoch cost alone (training + per-epoch evaluation + keep-best copies).
        "ratio_wall_epochs_min": round(min(l_epochs) / min(p_wall), 4),
        # Both sides from the uint8 set, each making its float32 copy in the same round.
        "ratio_wall_total_vs_plain_with_prep_min": round(min(l_wall) / min(p_from_uint8), 4),
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


# Variants of "best" with keep_best, judged on validation data only (see split_half).
VARIANTS: list[TrainParams] = [
    PRESETS["best"],
    # Twice the validation images: a less noisy choice of the epoch to keep.
    replace(PRESETS["best"], val_fraction=0.1),
]


def split_half(params: TrainParams, dataset: str, average_ks: tuple[int, ...] = (5, 10)) -> dict:
    """Does keeping the best epoch help on unseen data? Answered with validation data only.

    The validation part is cut in two stratified halves A and B. The epoch with
    the best accuracy on A is scored on B (and vice versa), next to the last
    epoch's score on the same half: an unbiased estimate of what keep-best
    gains, which the maximum over the epochs (picked and scored on the same
    images) is not. The test split is not used. Each epoch predicts the
    validation part once more for this, so ``train_seconds`` is a little
    higher than the app's.

    For each K in ``average_ks`` it also scores the mean of the last K epochs'
    weights (epoch-end snapshots of ``coefs_`` and ``intercepts_``, what
    ``average_last=K`` does) on both halves: K is fixed in advance, so no half
    is used to choose anything and each scores it without bias.
    """
    from sklearn.model_selection import train_test_split

    train = load_dataset(dataset, "train")
    labels = np.asarray(train.labels)
    _, val_idx = split_indices(labels, params)
    x_val, y_val = scale_images(train.flat()[val_idx]), labels[val_idx]
    half_a, half_b = train_test_split(np.arange(len(y_val)), test_size=0.5, stratify=y_val, random_state=1)
    load = _load()
    t0 = time.perf_counter()
    trainer = Trainer(params, train)
    correct = []
    # Epoch-end snapshots of the weights (coefs_ + intercepts_) for the averaging check.
    snapshots: list[list[np.ndarray]] = []
    keep = max(average_ks, default=0)
    for report in trainer.run():
        print("   ", report.line(), flush=True)
        correct.append(trainer.model.predict(x_val) == y_val)
        if keep:
            snapshots.append([w.copy() for w in trainer.model.coefs_ + trainer.model.intercepts_])
            del snapshots[:-keep]
    seconds = time.perf_counter() - t0
    hits = np.asarray(correct)  # epochs x validation images
    acc_a, acc_b = hits[:, half_a].mean(axis=1), hits[:, half_b].mean(axis=1)
    pick_a, pick_b = int(np.argmax(acc_a)), int(np.argmax(acc_b))
    kept_held_out = (acc_b[pick_a] + acc_a[pick_b]) / 2
    last_held_out = (acc_b[-1] + acc_a[-1]) / 2
    # Weight averaging over the last K epochs: K is fixed beforehand, nothing is picked on
    # validation data, so each half scores it without bias; the figure is the mean of both.
    averaged = {}
    n_layers = len(trainer.model.coefs_)
    for k in average_ks:
        if k > len(snapshots):
            continue
        mean = [np.mean([snap[i] for snap in snapshots[-k:]], axis=0) for i in range(len(snapshots[0]))]
        model = copy.copy(trainer.model)
        model.coefs_, model.intercepts_ = mean[:n_layers], mean[n_layers:]
        hit = model.predict(x_val) == y_val
        held_out = (hit[half_a].mean() + hit[half_b].mean()) / 2
        averaged[f"average_last_{k}"] = {
            "held_out_half_accuracy": round(float(held_out), 5),
            "halves_a_b": [round(float(hit[half_a].mean()), 5), round(float(hit[half_b].mean()), 5)],
            "gain_over_last": round(float(held_out - last_held_out), 5),
            "gain_over_keep_best": round(float(held_out - kept_held_out), 5),
        }
    out = {
        "dataset": dataset,
        "params": params.to_dict(),
        "n_val": len(y_val),
        "val_accuracy_last": float(hits[-1].mean()),
        "val_accuracy_best": float(hits.mean(axis=1).max()),
        "kept_epoch": trainer.kept_epoch,
        "picked_on_a_b": [pick_a + 1, pick_b + 1],
        # Picked on one half, scored on the other, averaged over both ways.
        "held_out_half_accuracy_kept": round(float(kept_held_out), 5),
        "held_out_half_accuracy_last": round(float(last_held_out), 5),
        "held_out_gain_of_keep_best": round(float(kept_held_out - last_held_out), 5),
        **averaged,
        "train_seconds": round(seconds, 2),
        "load_average_at_start": round(load, 2),
    }
    print(json.dumps(out), flush=True)
    return out


def variants(datasets: tuple[str, ...] = DATASETS) -> list[dict]:
    """:func:`split_half` for each of :data:`VARIANTS` on each dataset (no test split)."""
    results = []
    for params in VARIANTS:
        for name in datasets:
            print(f"variant val_fraction={params.val_fraction} bs={params.batch_size} "
                  f"epochs={params.epochs} on {name}", flush=True)
            results.append(split_half(params, name))
            _save("variants", results)
    return results


def averaging(datasets: tuple[str, ...] = DATASETS) -> list[dict]:
    """Last epoch vs keep-best vs the average of the last 5 / 10 epochs' weights, split-half.

    One run of the "best" preset per dataset; validation data only.
    """
    results = []
    for name in datasets:
        print(f"averaging check, best preset, on {name}", flush=True)
        results.append(split_half(PRESETS["best"], name, average_ks=(5, 10)))
        _save("averaging", results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all",
                        choices=["all", "overhead", "best", "search", "variants", "averaging"])
    args = parser.parse_args(argv)
    if args.part in ("all", "overhead"):
        _save("overhead_1_thread", overhead(rounds=3, threads=1))
    if args.part in ("all", "best"):
        _save("best", best())
    if args.part in ("all", "overhead"):
        _save("overhead", overhead())
    if args.part == "search":
        search()
    if args.part == "variants":
        variants()
    if args.part == "averaging":
        averaging()
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
