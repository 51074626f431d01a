"""Server time of one page change in Explore, on MNIST train.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_paging            # both parts, 40 page changes each
    .venv/bin/python -m benchmarks.bench_paging --n 100

Two measurements, printed and written to benchmarks/results/paging.json:

``pipeline``
    In-process, what the browser fragment computes on a page change: filter,
    page, the thumbnail grid's tiles (PNG data URIs) serialised to JSON as the grid
    component's data, the page DataFrame with its marks serialised to Arrow as ``st.dataframe``
    does. Split by step. (The CSV downloads are deferred to a click, so not timed.)
``apptest``
    The real app under ``streamlit.testing.v1.AppTest``: click "Next" and time
    ``AppTest.run()``, which reruns the fragment only. Includes AppTest's own
    overhead (it also parses every delta), so it is an upper bound on the
    server's work. No browser/network time is included in either.

The machine is shared with other work: the 1-minute load average is recorded.
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
RESULTS = ROOT / "benchmarks" / "results" / "paging.json"
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

from dashboard.data.loading import load_dataset
from dashboard.explore import browse, frames
from dashboard.views import explore as explore_view


def summary(ms: list[float]) -> dict:
    """Median, p95, min and max (milliseconds, 1 decimal) of a list of timings."""
    a = np.asarray(ms)
    return {
        "n": len(a),
        "median_ms": round(float(np.median(a)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "min_ms": round(float(a.min()), 1),
        "max_ms": round(float(a.max()), 1),
    }


def bench_pipeline(n: int, page_size: int = 96) -> dict:
    """Time each step of one page change, over ``n`` consecutive pages of class 1 (6,742 samples)."""
    from streamlit import dataframe_util

    ds = load_dataset("mnist", "train")
    names = ("filter_page", "grid_tiles", "grid_json", "frame", "frame_arrow", "total")
    steps: dict[str, list[float]] = {k: [] for k in names}
    for p in range(n + 3):
        t0 = time.perf_counter()
        idx = browse.filter_indices(ds.labels, [1])
        page = browse.make_page(idx, p, page_size)
        t1 = time.perf_counter()
        tiles = explore_view.grid_tiles(ds, page.indices)  # as the page draws it
        t2 = time.perf_counter()
        json.dumps(tiles)
        t3 = time.perf_counter()
        frame = frames.page_frame(ds.flat(), ds.labels, page.indices, 255.0)
        shown = frames.display_table(frame, int(page.indices[0]), 406)
        t4 = time.perf_counter()
        dataframe_util.convert_arrow_table_to_arrow_bytes(shown)
        t5 = time.perf_counter()
        if p < 3:  # warm-up
            continue
        for key, dt in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
            steps[key].append(dt * 1000)
    return {"page_size": page_size, "steps": {k: summary(v) for k, v in steps.items()}}


def _app_script() -> str:
    """The real app, unless it does not register Explore yet: then a minimal shell + Explore app."""
    real = ROOT / "dashboard" / "app.py"
    if "explore.page" in real.read_text():
        return str(real)
    harness = Path(tempfile.mkdtemp()) / "app.py"
    harness.write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nimport streamlit as st\n"
        "from dashboard import shell\nfrom dashboard.views import explore\n"
        "nav = st.navigation([st.Page(explore.page, title='Explore', url_path='explore', default=True)])\n"
        "shell.sidebar()\nnav.run()\n"
    )
    return str(harness)


def bench_apptest(n: int, page_size: int = 96) -> dict:
    """Time ``AppTest.run()`` after clicking Next, ``n`` times, on MNIST train (all classes)."""
    from streamlit.testing.v1 import AppTest

    script = _app_script()
    at = AppTest.from_file(script, default_timeout=120)
    at.run()
    at.selectbox(key="explore_page_size").set_value(page_size).run()
    first_full = []
    for _ in range(3):  # full reruns, for comparison
        t = time.perf_counter()
        at.run()
        first_full.append((time.perf_counter() - t) * 1000)
    times = []
    for i in range(n + 3):
        at.button(key="explore_next").click()
        t = time.perf_counter()
        at.run()
        dt = (time.perf_counter() - t) * 1000
        if at.exception:
            raise RuntimeError(at.exception)
        if i >= 3:
            times.append(dt)
    shown = [t.value for t in at.text if t.value.startswith("showing")]
    return {
        "app": ("dashboard/app.py" if script.endswith("dashboard/app.py")
                else "harness (app.py does not register Explore yet)"),
        "page_size": page_size,
        "last_page_text": shown[0] if shown else None,
        "page_change": summary(times),
        "full_rerun": summary(first_full),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="page changes per measurement")
    args = parser.parse_args()
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "pipeline": bench_pipeline(args.n),
        "apptest": bench_apptest(args.n),
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
