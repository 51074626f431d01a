"""Draw page: time from the end of a real mouse stroke to the new matrix and prediction on screen.

Usage (from the project root)::

    .venv/bin/python -m benchmarks.bench_draw            # 20 timed strokes
    .venv/bin/python -m benchmarks.bench_draw --n 40

The real app under ``streamlit run`` in headless Chromium, with a real MNIST
model (an MLP (64,) trained here on 10,000 samples, saved through RunStore).
Each stroke is drawn with Playwright's mouse; inside the page, the time is
taken from the ``mouseup`` event (``performance.now()``) to the first moment
the DOM shows both the status line with the new stroke count and prediction
and the number-matrix chart redrawn with new values (a MutationObserver checks
on every DOM change, so no polling delay is added). The first stroke (which
builds the nearest-image index) is a warm-up and not counted; the canvas is
cleared every 4 strokes. Target: <= 300 ms.

The machine is shared: the 1-minute load average is recorded. Printed and
written to benchmarks/results/draw.json.
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
RESULTS = ROOT / "benchmarks" / "results" / "draw.json"
os.environ.setdefault("DASHBOARD_DATA_DIR", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

from dashboard.data.loading import load_dataset  # noqa: E402
from dashboard.lab.training import TrainParams  # noqa: E402
from tests.browser.drawhelp import ONE, ZERO, stroke, wait_strokes  # noqa: E402
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, StreamlitServer, goto_app, wait_idle  # noqa: E402
from tests.mkrun import train_and_save  # noqa: E402

TARGET_MS = 300.0
STROKES = [ONE, ZERO, [(60, 140), (220, 140)], [(70, 70), (210, 210)]]

# When the page first sends on its websocket after the stroke: the canvas component's own
# delay before the app hears of the stroke (streamlit-drawable-canvas, used before
# dashboard/views/drawpad.py, debounced it by 200 ms).
WS_HOOK = """(() => {
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (d) {
        if (window.__t0 !== null && window.__t0 !== undefined && window.__tw === null) window.__tw = performance.now();
        return send.call(this, d);
    };
})()"""

ARM = """(n) => {
    window.__t0 = null; window.__t1 = null; window.__ts = null; window.__tm = null; window.__tw = null;
    const sig = () => {
        const gd = document.querySelector('.st-key-draw_matrix:not([data-stale=true]) .js-plotly-plot');
        if (!gd || !gd._fullData || !gd._fullData.length) return null;
        let s = 0; for (const r of gd._fullData[0].z) for (const v of r) s = s * 31 + v | 0;
        return s;
    };
    const before = sig();
    document.addEventListener('mouseup', () => { window.__t0 = performance.now(); }, {once: true, capture: true});
    const re = new RegExp('strokes: ' + n + ' · prediction: ');
    const check = () => {
        if (window.__t0 === null || window.__t1 !== null) return;
        const status = Array.from(document.querySelectorAll('[data-testid=stText]'))
            .some(e => re.test(e.innerText) && !e.closest('[data-stale=true]'));
        const now = sig();
        if (status && window.__ts === null) window.__ts = performance.now();
        if (now !== null && now !== before && window.__tm === null) window.__tm = performance.now();
        if (status && now !== null && now !== before) {
            window.__t1 = performance.now();
            obs.disconnect();
        }
    };
    const obs = new MutationObserver(check);
    obs.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="timed strokes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="bench-draw-"))
    t = time.perf_counter()
    run = train_and_save(base / "runs", load_dataset("mnist", "train"), load_dataset("mnist", "test"),
                         TrainParams(hidden=(64,), epochs=5, train_size=10_000, batch_size=100, seed=0))
    print(f"trained {run.run_id} in {time.perf_counter() - t:.1f} s, test accuracy {run.test_accuracy:.4f}")
    server = StreamlitServer(base / "runs", base / "cache", Path(os.environ["DASHBOARD_DATA_DIR"]),
                             log=base / "streamlit.log").start()
    load_start = os.getloadavg()
    times: list[float] = []
    parts: list[tuple[float, float]] = []
    sends: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport=VIEWPORT)
            page.add_init_script(WS_HOOK)
            goto_app(page, server.url, "draw")
            stroke(page, ONE)  # warm-up: builds the nearest-image index
            wait_strokes(page, 1, timeout=120_000)
            wait_idle(page)
            page.get_by_role("button", name="Clear").click()
            page.get_by_text("Nothing drawn yet").wait_for()
            strokes_on_canvas = 0
            for i in range(args.n):
                if strokes_on_canvas == len(STROKES):
                    page.get_by_role("button", name="Clear").click()
                    page.get_by_text("Nothing drawn yet").wait_for()
                    wait_idle(page)
                    strokes_on_canvas = 0
                page.evaluate(ARM, strokes_on_canvas + 1)
                stroke(page, STROKES[strokes_on_canvas])
                strokes_on_canvas += 1
                page.wait_for_function("() => window.__t1 !== null", timeout=60_000)
                ms, ms_status, ms_matrix, ms_send = page.evaluate(
                    "() => [window.__t1 - window.__t0, window.__ts - window.__t0, window.__tm - window.__t0,"
                    " window.__tw === null ? null : window.__tw - window.__t0]")
                times.append(ms)
                parts.append((ms_status, ms_matrix))
                if ms_send is not None:
                    sends.append(ms_send)
                print(f"stroke {i + 1:3d}: {ms:6.1f} ms (prediction text {ms_status:6.1f}, matrix {ms_matrix:6.1f})")
                wait_idle(page)
            browser.close()
    finally:
        server.stop()
    a = np.asarray(times)
    result = {
        "what": "Draw page: mouseup -> status line with prediction + redrawn number matrix, in Chromium",
        "model": {"run": run.run_id, "hidden": [64], "train_size": 10_000, "test_accuracy": run.test_accuracy},
        "n": len(a),
        "median_ms": round(float(np.median(a)), 1),
        "p90_ms": round(float(np.percentile(a, 90)), 1),
        "min_ms": round(float(a.min()), 1),
        "max_ms": round(float(a.max()), 1),
        "median_prediction_text_ms": round(float(np.median([p[0] for p in parts])), 1),
        "median_matrix_ms": round(float(np.median([p[1] for p in parts])), 1),
        # mouseup -> the stroke leaves the page, before the app can do anything (206 ms with
        # streamlit-drawable-canvas 0.13's fixed debounce; the pad sends on pointer-up).
        "median_canvas_send_ms": round(float(np.median(sends)), 1) if sends else None,
        "target_ms": TARGET_MS,
        "median_within_target": bool(np.median(a) <= TARGET_MS),
        "share_within_target": round(float(np.mean(a <= TARGET_MS)), 3),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "timings_ms": [round(float(x), 1) for x in a],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "timings_ms"}, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
