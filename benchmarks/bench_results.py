"""Server time of reopening a saved run on the Runs page, first time and on a rerun, on MNIST.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_results          # 10 reruns
    .venv/bin/python -m benchmarks.bench_results --n 20

A real run (MLP (256, 128), 1 epoch on 10,000 MNIST images) is trained and saved
in a temporary runs folder; the real app under ``streamlit.testing.v1.AppTest``
opens the Runs page and ticks it. Timed, printed and written to
benchmarks/results/results.json:

``first_open``
    The tick that opens the run: the model is loaded with skops and the test
    predictions read and checked against the test split (the caches are empty).
``rerun``
    Reruns of the same page with the run open (a new sample number in Predict):
    the model and predictions come from the cache, nothing is recomputed.
``recompute``
    For scale: what one rerun would cost if predictions were recomputed each
    time (``predict_proba`` on the 10,000 test images).

AppTest's own overhead is included (an upper bound on the server's work). The
machine is shared: the 1-minute load average is recorded.
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
RESULTS = ROOT / "benchmarks" / "results" / "results.json"
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="reruns to time")
    args = parser.parse_args()

    from streamlit.testing.v1 import AppTest

    from dashboard.data.loading import load_dataset
    from dashboard.lab.results import predict_full
    from dashboard.lab.runs import RunStore
    from dashboard.lab.training import Trainer, TrainParams, evaluate
    from dashboard.views import runs as rv

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    runs_dir = Path(tempfile.mkdtemp(prefix="bench-results-"))
    os.environ["DASHBOARD_RUNS_DIR"] = str(runs_dir)
    trainer = Trainer(TrainParams(hidden=(256, 128), epochs=1, train_size=10_000), train)
    list(trainer.run())
    model = trainer.final_model()
    run = RunStore(runs_dir).save(
        model=model, params=trainer.params, history=trainer.history, metrics=evaluate(model, test),
        dataset=trainer.dataset_name, dataset_checksum=trainer.dataset_checksum, class_names=trainer.class_names,
        image_shape=trainer.image_shape, timing={"total": 0.0}, kept_epoch=trainer.kept_epoch,
    )

    script = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
              "from dashboard.app import main\nmain(start='runs')\n")
    at = AppTest.from_string(script, default_timeout=300)
    at.run()
    at.session_state[rv.K_TABLE] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    assert not at.exception and any(m.label == "Test accuracy" for m in at.metric), at.exception
    reruns = []
    for i in range(args.n):
        at.number_input(key=f"{rv.RUN_KEY}_sample").set_value(i + 1)
        t0 = time.perf_counter()
        at.run()
        reruns.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    t0 = time.perf_counter()
    predict_full(model, test.images, test.n_classes)
    recompute = time.perf_counter() - t0

    load = os.getloadavg()[0]
    out = {
        "run": run.name,
        "first_open_s": round(first, 3),
        "rerun_median_s": round(float(np.median(reruns)), 3),
        "rerun_max_s": round(float(np.max(reruns)), 3),
        "predict_all_test_s": round(recompute, 3),
        "n_reruns": args.n,
        "load_average_1min": round(load, 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
