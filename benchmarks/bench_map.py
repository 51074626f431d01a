"""The map (issue 11): compute times, kNN accuracies, and the Map page in Chromium.

    .venv/bin/python -m benchmarks.bench_map [compute] [browser]

compute: UMAP and t-SNE of MNIST train (60,000 x PCA-50), each cold in a fresh worker
process (``python -m dashboard map ...`` with an empty maps folder: nothing cached, numba's
own on-disk cache as a fresh install leaves it), with the 2-D kNN accuracy; PCA likewise;
the cached map read back.
browser: the real app in Chromium: PCA map seen after opening the page (the map's picture
or the chart, whichever is first, and the chart with all 60,000 points drawn; first open,
which computes PCA-50, and a later open, and from Explore), a cached UMAP map opened,
60,000 points panned with the mouse (frames per second during the drag; and the same
points in a bare page of plain Plotly, its floor), a box drawn by the mouse -> the
selection panel and its first thumbnails painted beside the map, its Open button ->
Explore's grid, and (back on the Map) a click on one of those thumbnails -> Explore's
inspector (each timed inside the page, until the painted frame that shows it). Each action but the first
page-switch one starts once the page is drawn (no long task for 0.5 s), as a user acts
on what they see; the page switch is also timed the moment Explore's run ends.

Prints the figures and writes benchmarks/results/map.json (with the load average).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "map.json"
DATA = Path(os.environ.get("DASHBOARD_DATA_DIR") or ROOT.parent / "shared" / "data")


# Resolves once the page has run no long task (a script or render of 50 ms or more) for `ms`.
QUIET_JS = """(ms) => new Promise((resolve) => {
    let last = performance.now();
    const obs = new PerformanceObserver(() => { last = performance.now(); });
    obs.observe({entryTypes: ['longtask']});
    const tick = () => {
        if (performance.now() - last >= ms) { obs.disconnect(); resolve(true); } else { setTimeout(tick, 50); }
    };
    tick();
})"""


# Resolves nothing: arms a watcher. From the first `on` event (pointerdown, pointerup) it
# checks every animation frame for a heading or text matching `pattern` (not stale); see seen_after.
WATCH_TEXT_JS = """([pattern, on]) => {
    const ev = window.__text_ev = {}; const re = new RegExp(pattern);
    addEventListener(on, () => { if (ev.t0 === undefined) ev.t0 = performance.now(); }, {capture: true, once: true});
    const f = () => {
        const hit = ev.t0 !== undefined && [...document.querySelectorAll('h3, h4, [data-testid="stText"]')]
            .some((e) => re.test(e.textContent.trim()) && !e.closest('[data-stale="true"]'));
        if (hit) ev.ms = performance.now() - ev.t0; else requestAnimationFrame(f);
    };
    requestAnimationFrame(f);
}"""


# Resolves nothing: arms a watcher. From the first `on` event, every animation frame, until
# the thumbnails `selector` finds (not stale) are all decoded: window.__imgs_ev.ms; see seen_after.
WATCH_IMAGES_JS = """([selector, on]) => {
    const ev = window.__imgs_ev = {};
    addEventListener(on, () => { if (ev.t0 === undefined) ev.t0 = performance.now(); }, {capture: true, once: true});
    const f = () => {
        const imgs = ev.t0 === undefined ? [] : [...document.querySelectorAll(selector)]
            .filter((i) => !i.closest('[data-stale="true"]'));
        if (imgs.length && imgs.every((i) => i.complete && i.naturalWidth > 0)) ev.ms = performance.now() - ev.t0;
        else requestAnimationFrame(f);
    };
    requestAnimationFrame(f);
}"""


def seen_after(page, ev: str = "__text_ev") -> float:
    """Seconds from the event a watcher (``WATCH_TEXT_JS``: ``__text_ev``; ``WATCH_IMAGES_JS``:
    ``__imgs_ev``) waited for until what it looks for was painted."""
    page.wait_for_function(f"() => window.{ev} && window.{ev}.ms !== undefined", timeout=120_000)
    return round(page.evaluate(f"() => window.{ev}.ms") / 1000, 2)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cli_map(cache: Path, method: str, *extra: str) -> dict:
    """One ``python -m dashboard map`` in its own process; its JSON plus the wall time."""
    env = dict(os.environ, DASHBOARD_DATA_DIR=str(DATA), DASHBOARD_CACHE_DIR=str(cache))
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "dashboard", "map", "--dataset", "mnist", "--method", method,
                          *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_seconds"] = round(wall, 2)
    res["load_before_after"] = None
    return res


def compute(results: dict, cache: Path) -> None:
    for method in ("pca", "umap", "tsne"):
        before = load()
        r = cli_map(cache, method)
        r["load_before_after"] = [before, load()]
        results[f"{method}_cold"] = r
        print(f"{method:5s} cold in a worker process: {r['process_seconds']:7.1f} s "
              f"(compute {r['compute_seconds']:.1f} s), 2-D 10-NN accuracy {r['knn_accuracy']:.4f}, "
              f"load {before} -> {load()}", flush=True)
    r = cli_map(cache, "umap")
    assert r["cached"]
    results["umap_cached_cli"] = r
    sys.path.insert(0, str(ROOT))
    os.environ["DASHBOARD_CACHE_DIR"] = str(cache)
    os.environ["DASHBOARD_DATA_DIR"] = str(DATA)
    from dashboard.data.loading import load_dataset
    from dashboard.explore.embedding import MapStore

    ds = load_dataset("mnist", "train")
    ds.checksum  # noqa: B018 (computed once per process, like the app's shared copy)
    t = time.perf_counter()
    hit = MapStore().cached(ds, "umap")
    results["umap_cached_read_seconds"] = round(time.perf_counter() - t, 4)
    print(f"cached UMAP map read from disk: {results['umap_cached_read_seconds'] * 1000:.1f} ms "
          f"({hit.points.shape[0]:,} points)", flush=True)


def pan(page, box: dict, moves: int = 60) -> dict:
    """Drag the plot with the mouse (``moves`` moves), counting animation frames meanwhile."""
    page.evaluate("() => { window.__frames = []; const f = (t) => { window.__frames.push(t);"
                  " if (window.__frames.length < 100000) requestAnimationFrame(f); }; requestAnimationFrame(f); }")
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    t = time.perf_counter()
    for i in range(moves):
        page.mouse.move(cx + 150 * ((i % 20) / 20 - 0.5), cy + 80 * ((i % 12) / 12 - 0.5))
    page.mouse.up()
    seconds = time.perf_counter() - t
    frames = page.evaluate("() => window.__frames")
    gaps = sorted(b - a for a, b in zip(frames, frames[1:]))
    return {"moves": moves, "seconds": round(seconds, 2), "ms_per_move": round(1000 * seconds / moves),
            "fps": round(len(frames) / max((frames[-1] - frames[0]) / 1000, 1e-9), 1),
            "median_frame_ms": round(gaps[len(gaps) // 2], 1) if gaps else None,
            "p95_frame_ms": round(gaps[int(len(gaps) * 0.95)], 1) if gaps else None}


def pan_floor(browser, app_page, key: str) -> dict:
    """:func:`pan` on the app's chart ``key`` redrawn alone in a bare page by plain Plotly."""
    import plotly

    script = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    fig = app_page.evaluate(
        "(k) => { const gd = document.querySelector('.st-key-' + k + ':not([data-stale=true]) .js-plotly-plot');"
        " const L = gd._fullLayout; return {w: L.width, h: L.height, margin: L.margin, traces: gd._fullData.map((t) =>"
        " ({type: t.type, mode: t.mode, x: Array.from(t.x), y: Array.from(t.y), marker: {size: t.marker.size,"
        " color: t.marker.color, opacity: t.marker.opacity}}))}; }", key)
    page = browser.new_page(viewport=app_page.viewport_size)
    try:
        page.set_content('<div id="g"></div>')
        page.add_script_tag(path=str(script))
        page.evaluate("(f) => Plotly.newPlot('g', f.traces, {width: f.w, height: f.h, margin: f.margin,"
                      " dragmode: 'pan', showlegend: false}).then(() => { window.__drawn = true; })", fig)
        page.wait_for_function("() => window.__drawn", timeout=120_000)
        page.evaluate(QUIET_JS, 500)
        return pan(page, page.locator("#g .nsewdrag").first.bounding_box())
    finally:
        page.close()


def browser(results: dict, cache: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, StreamlitServer, wait_idle

    base = Path(tempfile.mkdtemp(prefix="bench-map-"))
    server = StreamlitServer(base / "runs", cache, DATA, log=base / "streamlit.log").start()
    gd = "document.querySelector('.st-key-' + k + ':not([data-stale=true]) .js-plotly-plot')"
    # The map's picture (shown until Plotly has drawn the chart): painted and visible.
    picture_js = ("() => { const i = document.querySelector('.st-key-map_stack .map-preview img');"
                  " return !!i && i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().height > 100"
                  " && getComputedStyle(i.parentElement).visibility === 'visible'; }")
    drawn_js = ("(k) => { const gd = %s; if (!gd || !gd._fullData) return 0; let s = 0;"
                " for (const t of gd._fullData) s += t.x.length; return s; }" % gd)
    # Timed inside the page, on every animation frame (a driver-side wait is polled late
    # while the page renders): from the navigation's start, or from the pointerdown of the
    # click that follows, until the map's picture or chart is seen, and until Plotly has
    # drawn all 60,000 points.
    watch_js = ("([key, onClick]) => {"
                " const ev = window.__map_ev = {t0: onClick ? null : 0};"
                " if (onClick) addEventListener('pointerdown',"
                " () => { if (ev.t0 === null) ev.t0 = performance.now(); }, {capture: true, once: true});"
                " const f = () => { const now = performance.now(); if (ev.t0 !== null) {"
                f" const drawn = ({drawn_js})(key) >= 60000;"
                f" if (!ev.seen && (drawn || ({picture_js})())) ev.seen = now - ev.t0;"
                " if (!ev.drawn && drawn) ev.drawn = now - ev.t0; }"
                " if (!ev.drawn) requestAnimationFrame(f); }; requestAnimationFrame(f); }")

    def timed(page, label: str, what: str) -> None:
        page.wait_for_function("() => window.__map_ev && window.__map_ev.drawn", timeout=180_000)
        ev = page.evaluate("() => window.__map_ev")
        results[f"{what}_seen_{label}_seconds"] = round(ev["seen"] / 1000, 2)
        results[f"{what}_visible_{label}_seconds"] = round(ev["drawn"] / 1000, 2)
        print(f"{what} map ({label}): seen (its picture or the chart) after {ev['seen'] / 1000:.2f} s, "
              f"chart of 60,000 points drawn after {ev['drawn'] / 1000:.2f} s", flush=True)

    for old in [k for k in results if k in ("umap_cached_visible_seconds", "pca_visible_page_switch_seconds")
                or k.startswith(("pca_picture_", "umap_picture_"))]:  # renamed (to *_seen_*)
        results.pop(old)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for label in ("first_open", "second_open"):
                page = b.new_page(viewport=VIEWPORT)
                page.add_init_script(f"({watch_js})(['map_chart_pca_0', false])")
                page.goto(f"{server.url}/map")
                timed(page, label, "pca")
                if label == "first_open":
                    page.close()
            wait_idle(page)
            # Opening the Map page from another page of the app (Streamlit itself already
            # loaded, as a user mostly opens it): the sidebar link, until 60,000 points drawn.
            # Twice: the moment Explore's server run ends (its charts may still be drawing in
            # the browser, which delays everything after), and once Explore is fully drawn
            # (no long task for half a second), as when a user has looked at it.
            for label, settle in (("right_after_explore_run", False), ("explore_drawn", True)):
                page.locator(".st-key-app_nav a", has_text="Explore").click()
                page.get_by_text(re.compile(r"^showing [\d,]+–[\d,]+ of ")).wait_for(timeout=120_000)
                wait_idle(page)
                if settle:
                    page.evaluate(QUIET_JS, 500)
                page.evaluate(watch_js, ["map_chart_pca_0", True])
                page.locator(".st-key-app_nav a", has_text="Map").click()
                timed(page, f"page_switch_{label}", "pca")
                wait_idle(page)
            # A cached UMAP map (computed above): switch the method, once the PCA map is drawn.
            page.evaluate(QUIET_JS, 500)
            page.evaluate(watch_js, ["map_chart_umap_0", True])
            page.locator(".st-key-map_method label", has_text="UMAP").first.click()  # the Method radio
            timed(page, "cached", "umap")
            wait_idle(page)
            key = "map_chart_umap_0"
            area = page.locator(f".st-key-{key}:not([data-stale=true]) .nsewdrag").first
            box = area.bounding_box()
            results["pan"] = pan(page, box)
            print(f"pan 60,000 points: {results['pan']}", flush=True)
            # Its floor: the same traces in a bare page, drawn by plain Plotly (the copy the
            # plotly package ships), panned the same way in the same browser.
            floor = results["pan_plain_plotly_same_points"] = pan_floor(b, page, key)
            print(f"pan, the same points in a bare Plotly page: {floor}", flush=True)
            # Plotly's Reset axes
            page.locator(f".st-key-{key}:not([data-stale=true]) .modebar-btn[data-val='reset']").first.click()
            wait_idle(page)
            page.evaluate(QUIET_JS, 500)
            # Box select -> selection panel -> Explore grid; timed in the page, from the
            # mouse's release (the box's event) and from the button's pointerdown, until a
            # painted frame shows the panel's heading, and Explore's "... of N" range text.
            page.locator(f".st-key-{key}:not([data-stale=true]) .modebar-btn[data-val='select']").first.click()
            box = area.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=10)
            page.evaluate(WATCH_TEXT_JS, [r"^Selection: [\d,]+ samples$", "pointerup"])
            page.evaluate(WATCH_IMAGES_JS, [".st-key-map_sel_grid .tg-tile img", "pointerup"])
            page.mouse.up()
            results["box_to_panel_seconds"] = seen_after(page)
            # The selection's first thumbnails, beside the map: the grid a box reaches first.
            results["box_to_thumbnails_seconds"] = seen_after(page, "__imgs_ev")
            heading = page.get_by_text(re.compile(r"^Selection: [\d,]+ samples$"))
            n = int(heading.inner_text().split()[1].replace(",", ""))
            wait_idle(page)
            page.evaluate(QUIET_JS, 500)
            page.evaluate(WATCH_TEXT_JS, [rf"of {n:,}\b", "pointerdown"])
            page.get_by_role("button", name=f"Open {n:,} samples in Explore").click()
            results["open_to_grid_seconds"] = seen_after(page)
            results["selected"] = n
            wait_idle(page)
            # Back to the Map (the selection is kept); a click on a thumbnail of the selection
            # -> Explore, that sample in the inspector (the selection in the grid).
            page.locator(".st-key-app_nav a", has_text="Map").click()
            tile = page.locator(".st-key-map_sel_grid:not([data-stale=true]) .tg-tile").nth(2)
            tile.wait_for(timeout=120_000)
            wait_idle(page)
            page.evaluate(QUIET_JS, 500)
            sample = int(tile.get_attribute("data-sample"))
            page.evaluate(WATCH_TEXT_JS, [rf"^sample #{sample}: ", "pointerdown"])
            tile.click()
            results["thumbnail_to_inspector_seconds"] = seen_after(page)
            print(f"box of {n:,} samples: mouse up -> selection panel {results['box_to_panel_seconds']:.2f} s, "
                  f"-> its first thumbnails painted {results['box_to_thumbnails_seconds']:.2f} s; "
                  f"Open -> Explore grid {results['open_to_grid_seconds']:.2f} s; "
                  f"a thumbnail -> Explore's inspector {results['thumbnail_to_inspector_seconds']:.2f} s", flush=True)
            b.close()
    finally:
        server.stop()


def main() -> None:
    parts = set(sys.argv[1:]) or {"compute", "browser"}
    results: dict = json.loads(OUT.read_text()) if OUT.exists() else {}
    cache = Path(os.environ.get("BENCH_MAP_CACHE") or tempfile.mkdtemp(prefix="bench-map-cache-"))
    results.update({"cores": os.cpu_count(), "load_start": load(), "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    print(f"uptime load average at start: {results['load_start']} on {os.cpu_count()} cores", flush=True)
    if "compute" in parts:
        compute(results, cache)
    if "browser" in parts:
        browser(results, cache)
    results["load_end"] = load()
    print(f"uptime load average at end: {results['load_end']}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
