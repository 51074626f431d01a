"""Explore's page change with and without a run's prediction badges (96 thumbnails, MNIST train).

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_badges           # 30 page changes per side
    .venv/bin/python -m benchmarks.bench_badges --n 60

Two measurements of the same kind, on the real app under
``streamlit.testing.v1.AppTest`` (as ``bench_paging`` does): click "Next" and
time ``AppTest.run()`` (the browser fragment's rerun), first with no run
chosen, then with a real MNIST run (an MLP (64,) trained here on 10,000
samples) whose predictions are already cached, alternating sides in rounds so
that a change in the machine's load hits both alike. Plus the in-process cost
of the badge pieces alone (the grid's tiles with badges vs without, both to JSON).
Target: badges add <= 20% to the page-change time.

The machine is shared: the load average is recorded. Printed and written to
benchmarks/results/badges.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "badges.json"
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

TARGET = 0.20
PAGE = 96


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"n": len(a), "median_ms": round(float(np.median(a)), 1), "p90_ms": round(float(np.percentile(a, 90)), 1),
            "min_ms": round(float(a.min()), 1), "max_ms": round(float(a.max()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="page changes per side")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-badges-"))
    os.environ["DASHBOARD_RUNS_DIR"] = str(base / "runs")
    os.environ["DASHBOARD_CACHE_DIR"] = str(base / "cache")
    from streamlit.testing.v1 import AppTest

    from dashboard.data.loading import load_dataset
    from dashboard.lab.predictions import PredictionCache
    from dashboard.lab.runs import RunStore
    from dashboard.lab.training import TrainParams
    from dashboard.views import model_overlay as mo
    from tests.mkrun import train_and_save

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    run = train_and_save(base / "runs", train, test,
                         TrainParams(hidden=(64,), epochs=5, train_size=10_000, batch_size=100, seed=0))
    load_start = os.getloadavg()

    # In-process: the tiles of one 96-sample page, with and without badges, to JSON.
    cache = PredictionCache(RunStore(base / "runs"), base / "cache" / "predictions")
    overlay = mo.Overlay(run, cache.get(run.run_id, train))
    from dashboard.views import explore as ex

    plain_ms, badge_ms = [], []
    for p in range(args.n + 3):
        idx = np.arange(p * PAGE, (p + 1) * PAGE)
        t0 = time.perf_counter()
        json.dumps(ex.grid_tiles(train, idx))
        t1 = time.perf_counter()
        json.dumps(ex.grid_tiles(train, idx, overlay))
        t2 = time.perf_counter()
        if p >= 3:
            plain_ms.append((t1 - t0) * 1000)
            badge_ms.append((t2 - t1) * 1000)

    # The real app: page changes with no run and with the run, alternating rounds of 5.
    apps = {}
    for side in ("none", "run"):
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
        at.run()
        at.selectbox(key="explore_page_size").set_value(PAGE).run()
        if side == "run":
            at.selectbox(key=mo.K_RUN).set_value(run.run_id).run()
        assert not at.exception, at.exception
        for _ in range(3):  # warm-up
            at.button(key="explore_next").click()
            at.run()
        apps[side] = at
    times: dict[str, list[float]] = {"none": [], "run": []}
    while len(times["run"]) < args.n:
        for side, at in apps.items():
            for _ in range(5):
                at.button(key="explore_next").click()
                t = time.perf_counter()
                at.run()
                times[side].append((time.perf_counter() - t) * 1000)
                if at.exception:
                    raise RuntimeError(at.exception)
    none, with_run = stats(times["none"]), stats(times["run"])
    added = with_run["median_ms"] / none["median_ms"] - 1
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "what": "Explore page change (Next, 96 thumbnails, MNIST train), AppTest.run() of the fragment",
        "run": run.run_id,
        "page_change_without_run": none,
        "page_change_with_badges": with_run,
        "added_fraction_median": round(added, 3),
        "target_added_fraction": TARGET,
        "within_target": bool(added <= TARGET),
        "grid_tiles_json_without": stats(plain_ms),
        "grid_tiles_json_with_badges": stats(badge_ms),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
