"""Job-system benchmarks: worker vs plain fit, sweeps on loky / Dask / sequential, worker memory, the estimate.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_jobs            # every part
    .venv/bin/python -m benchmarks.bench_jobs worker sweep sweep_large sweep_full memory estimate

Run it with ``DASHBOARD_JOB_NICE=0`` to compare throughput: a niced worker yields the CPU to
anything else on a shared machine, which is its purpose in the app but not what is measured here.

Results are printed and merged into benchmarks/results/jobs.json (one key per
part), each with the 1-minute load average before and after it: the machine is
shared by several sessions, and the figures mean little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "jobs.json"
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402

from dashboard.data.loading import load_dataset  # noqa: E402
from dashboard.lab import jobs  # noqa: E402
from dashboard.lab.params import PRESETS, TrainParams  # noqa: E402
from dashboard.lab.runs import RunStore  # noqa: E402
from dashboard.lab.shared import share_splits  # noqa: E402
from dashboard.lab.training import estimate_seconds, scale_images, split_indices  # noqa: E402


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _save(key: str, value: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, RESULTS)
    print(json.dumps({key: value}, indent=1), flush=True)


def _wait(q: jobs.JobQueue, job_id: str, timeout: float = 1800) -> jobs.JobInfo:
    info = q.wait(job_id, timeout=timeout, poll=0.05)
    if info.state is not jobs.JobState.DONE:
        raise SystemExit(f"job {job_id} ended {info.state}: {info.error}")
    return info


def bench_worker(tmp: Path) -> None:
    """Training in a worker (epoch by epoch, validation each epoch) vs one plain MLPClassifier.fit."""
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    params = TrainParams(hidden=(100,), epochs=4, batch_size=200, train_size=10000, keep_best=False)
    load0 = _load()
    q = jobs.JobQueue(tmp / "jobs-worker", max_workers=1)
    ref = share_splits(train, test, tmp / "arrays")
    threads = int(os.environ.get(jobs.ENV_JOB_THREADS) or max(1, (os.cpu_count() or 1) // q.max_workers))
    info = _wait(q, q.submit("train", {"train": params.to_dict(), "data": ref, "runs_dir": str(tmp / "runs")}))
    worker_train = info.data["history"][-1]["elapsed"]  # data preparation + every epoch + validation
    # The same work as one plain fit: same samples, same parameters, same BLAS threads.
    fit_idx, _ = split_indices(np.asarray(train.labels), params)
    x, y = scale_images(train.flat()[fit_idx]), np.asarray(train.labels)[fit_idx]
    with threadpool_limits(limits=threads):
        t0 = time.perf_counter()
        MLPClassifier(hidden_layer_sizes=params.hidden, batch_size=params.batch_size, max_iter=params.epochs,
                      random_state=0, n_iter_no_change=params.epochs + 1, tol=0.0).fit(x, y)
        plain = time.perf_counter() - t0
    _save("worker_vs_plain_fit", {
        "params": params.to_dict(), "blas_threads": threads, "worker_train_seconds": round(worker_train, 3),
        "worker_job_seconds": round(info.ended - info.started, 3), "plain_fit_seconds": round(plain, 3),
        "ratio_train": round(worker_train / plain, 3), "target": "<= 1.10",
        "load_before": load0, "load_after": _load(),
    })


def _sweep_configs(train_size: int = 4000, epochs: int = 3) -> list[TrainParams]:
    base = TrainParams(hidden=(64,), epochs=epochs, batch_size=200, train_size=train_size)
    return [TrainParams(**{**base.to_dict(), "hidden": h, "alpha": a})
            for h in ((32,), (64,), (128,), (64, 32)) for a in (1e-4, 1e-3)]


def bench_sweep(tmp: Path, train_size: int = 4000, epochs: int = 3, key: str = "sweep_8_configs") -> None:
    """8 configurations: one after the other in this process, on loky with 2 processes,
    on a 2-worker Dask LocalCluster."""
    from dask.distributed import Client, LocalCluster

    from dashboard.lab.sweep import run_sweep

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    configs = _sweep_configs(train_size, epochs)
    out: dict = {"configs": len(configs), "train_size": train_size, "epochs": epochs, "cores": os.cpu_count(),
                 "load_before": _load()}
    # The same sweep in this process, one configuration after the other (runs saved too).
    out["sequential_seconds"] = round(run_sweep(configs, train, test, RunStore(tmp / "runs-sequential"), n_jobs=1,
                                                arrays_root=tmp / "arrays")["seconds"], 2)
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # cold, as a sweep job's fresh process starts it
    out["loky_seconds"] = round(run_sweep(configs, train, test, RunStore(tmp / "runs-loky"), n_jobs=2,
                                          arrays_root=tmp / "arrays")["seconds"], 2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        out["dask_seconds"] = round(run_sweep(configs, train, test, RunStore(tmp / "runs-dask"),
                                              cluster=cluster.scheduler_address, client=client)["seconds"], 2)
    out["loky_vs_sequential"] = round(out["loky_seconds"] / out["sequential_seconds"], 3)
    out["dask_vs_loky"] = round(out["dask_seconds"] / out["loky_seconds"], 3)
    out["targets"] = {"loky_vs_sequential": "<= 0.65", "dask_vs_loky": "<= 1.2"}
    out["load_after"] = _load()
    _save(key, out)


def _rss_pss(pid: int) -> tuple[int, int]:
    import psutil

    p = psutil.Process(pid)
    try:
        full = p.memory_full_info()
        return full.rss, getattr(full, "pss", full.rss)
    except psutil.AccessDenied:
        return p.memory_info().rss, p.memory_info().rss


def bench_memory(tmp: Path) -> None:
    """4 training workers at once (2 on MNIST, 2 on Fashion-MNIST) plus this process holding
    both sets (the server's share)."""
    q = jobs.JobQueue(tmp / "jobs-memory", max_workers=4)
    refs = {}
    for name in ("mnist", "fashion-mnist"):
        refs[name] = share_splits(load_dataset(name, "train"), load_dataset(name, "test"), tmp / "arrays")
    params = TrainParams(hidden=(256, 128), epochs=200, batch_size=200)
    ids = [q.submit("train", {"train": params.to_dict(), "data": refs[n], "runs_dir": str(tmp / "runs")})
           for n in ("mnist", "mnist", "fashion-mnist", "fashion-mnist")]
    load0 = _load()
    peak_rss = peak_pss = 0
    # Sample for 60 s from the launch: each worker maps its set, makes float32 copies of its
    # validation rows and train-accuracy subset, then trains on float32 chunks of the fit rows.
    for _ in range(60):
        pids = [jobs.read_json(q.root / i / jobs.CLAIM_FILE)["pid"] for i in ids]
        sizes = [_rss_pss(p) for p in pids if jobs.pid_alive(p)]
        peak_rss = max(peak_rss, sum(s[0] for s in sizes))
        peak_pss = max(peak_pss, sum(s[1] for s in sizes))
        time.sleep(1.0)
    for i in ids:
        q.stop(i)
    for i in ids:
        q.wait(i, timeout=300)
    server_rss, server_pss = _rss_pss(os.getpid())
    _save("memory_4_workers", {
        "workers": 4, "params": params.to_dict(),
        "workers_rss_mb": round(peak_rss / 2**20), "workers_pss_mb": round(peak_pss / 2**20),
        "server_share_rss_mb": round(server_rss / 2**20),
        "total_rss_mb": round((peak_rss + server_rss) / 2**20), "total_pss_mb": round((peak_pss + server_pss) / 2**20),
        "target": "<= 1536 MB resident in total",
        "note": "the server's share is this process holding MNIST and Fashion-MNIST loaded (as the app's cache does); "
                "PSS counts the memory-mapped dataset pages once across the processes that share them",
        "load_before": load0, "load_after": _load(),
    })


def bench_estimate(tmp: Path) -> None:
    """The Train page's estimate against the measured wall time of a job, for quick and default on MNIST."""
    from dashboard.views.train import WORKER_START_SECONDS

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    q = jobs.JobQueue(tmp / "jobs-estimate", max_workers=1)
    ref = share_splits(train, test, tmp / "arrays")
    out = {"load_before": _load()}
    for name in ("quick",):
        p = PRESETS[name]
        est = WORKER_START_SECONDS + estimate_seconds(p, len(train), train.n_features, train.n_classes)
        t0 = time.time()
        info = _wait(q, q.submit("train", {"train": p.to_dict(), "data": ref, "runs_dir": str(tmp / "runs")}))
        out[name] = {"estimate_seconds": round(est, 1), "measured_seconds": round(info.ended - t0, 1),
                     "first_epoch_at_seconds": round(info.data["history"][0]["elapsed"], 2)}
    out["load_after"] = _load()
    _save("estimate", out)


def bench_sweep_large(tmp: Path) -> None:
    """The same with configurations big enough (12,000 images, 4 epochs) to pay for the workers' start."""
    bench_sweep(tmp, train_size=12000, epochs=4, key="sweep_8_configs_larger")


def bench_sweep_full(tmp: Path) -> None:
    """The same on the whole MNIST train split, 5 epochs: a sweep of the size a user runs."""
    bench_sweep(tmp, train_size=0, epochs=5, key="sweep_8_configs_full")


PARTS = {"worker": bench_worker, "sweep": bench_sweep, "sweep_large": bench_sweep_large,
         "sweep_full": bench_sweep_full, "memory": bench_memory, "estimate": bench_estimate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", choices=[[], *PARTS], default=[])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        for name in args.parts or list(PARTS):
            print(f"== {name} (load {_load()})", flush=True)
            PARTS[name](Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
