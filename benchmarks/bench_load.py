"""Load: the real server, real browsers. Page-change latency alone, under load, and its floor.

Usage (from the project root; needs Debian's chromium at /usr/bin/chromium)::

    .venv/bin/python -m benchmarks.bench_load                # about two minutes
    .venv/bin/python -m benchmarks.bench_load --seconds 30 --changes 15

What runs, all against servers started here with ``streamlit run`` on free ports,
driven by one headless chromium (one browser context per session):

``floor``
    A trivial Streamlit page (a button that increments a counter shown as text),
    served by the same streamlit in the same run: time from the click until the
    text changes. No app can page faster than this round trip.
    The same page opened in a new tab (from navigation start until its text is
    painted): the floor of "first grid after opening". And a page with one tiny
    Plotly chart, opened the same way (Plotly's script loads with the first chart).
``lone``
    One session on Explore (MNIST train, 48 per page): time from clicking
    "Next" until the range text ("showing 49–96 of ...") changes; then, timed per
    painted frame, until the new thumbnails are on screen and until the page table
    (which follows them, in its own run) shows the new rows. Explore opened
    in a new tab: until its thumbnails are painted, and until its heatmap is; both as a
    first visit (a fresh browser profile) and as a new tab of a browser that has opened
    the app before (its scripts cached), each beside the one-button page opened the same way.
``busy``
    The lone session's paging again while 2 trainings and a sweep of 8 configurations run
    as jobs of the server (3 at once; the sweep's own 2 loky processes under its worker).
``load``
    8 sessions paging and inspecting at once (4 on MNIST, 4 on Fashion-MNIST;
    every third step a click on a thumbnail, timed until the inspect text shows the
    new sample), while 2 more sessions train an MLP on the Train page.

Times are taken inside the browser (``performance.now()`` from the click to the
DOM change, seen by a MutationObserver). Thumbnail clicks are real mouse clicks,
timed in the browser from pointerdown to the first painted frame (a
requestAnimationFrame callback) whose inspect text names the sample, and to the one
whose heatmap shows it; timing them from the driver instead would add Playwright's
polling, which cannot run while the page renders the heavier charts below. The server's memory is sampled from
``/proc/<pid>/status`` (VmRSS over time, VmHWM at the end). The browsers share the
2 cores with the server, so the load figures include their rendering.
Printed and written to benchmarks/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "load.json"
sys.path.insert(0, str(ROOT))

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, StreamlitServer  # noqa: E402

DATA_DIR = Path(os.environ.get("DASHBOARD_DATA_DIR") or ROOT.parent / "shared" / "data")
FRESH = ":not([data-stale=true])"
FLOOR_APP = '''
import streamlit as st
st.session_state.setdefault("n", 0)
if st.button("Add one", key="add"):
    st.session_state.n += 1
st.text(f"count {st.session_state.n}")
'''
# A page holding one tiny Plotly chart: Plotly's script is fetched and compiled when the
# first chart mounts; no page with a Plotly chart opens faster.
PLOTLY_FLOOR_APP = '''
import plotly.graph_objects as go
import streamlit as st
st.plotly_chart(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), key="floor_plot")
'''

# Click a button and resolve with the milliseconds until the text starting with `prefix` changes.
CLICK_AND_WAIT = """async ([button, prefix]) => {
    const target = () => [...document.querySelectorAll('[data-testid="stText"]')]
        .find(e => e.textContent.startsWith(prefix));
    const before = target() ? target().textContent : null;
    const el = document.querySelector(button);
    if (!el) throw new Error('no ' + button);
    return await new Promise((resolve, reject) => {
        const done = () => { const t = target(); return t && t.textContent !== before; };
        const obs = new MutationObserver(() => {
            if (done()) { obs.disconnect(); clearTimeout(timer); resolve(performance.now() - t0); }
        });
        const timer = setTimeout(() => { obs.disconnect(); reject(new Error('no change in 60 s')); }, 60000);
        obs.observe(document.body, {subtree: true, childList: true, characterData: true});
        const t0 = performance.now();
        el.click();
    });
}"""
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"

# Click Next and resolve with the milliseconds until the frame (requestAnimationFrame) in
# which the grid's first tile is the next page's with its picture decoded, and until the
# one in which the page table's first row is (the table follows the tiles: explore.page_table).
NEXT_AND_PAINT = """async (button) => {
    const tile = () => document.querySelector('.st-key-explore_grid .tg-tile');
    const row = () => { const r = document.querySelectorAll('.st-key-explore_table_box table tr');
        return r.length > 1 ? r[1].querySelector('td').textContent : null; };
    const before = tile().dataset.sample;
    return await new Promise((resolve, reject) => {
        const got = {};
        const timer = setTimeout(() => reject(new Error('no new page in 60 s')), 60000);
        const tick = () => {
            const now = performance.now() - t0, t = tile();
            const moved = t && t.dataset.sample !== before;
            if (got.tiles === undefined && moved && t.querySelector('img').complete) got.tiles = now;
            if (got.table === undefined && moved && row() === t.dataset.sample) got.table = now;
            if (got.tiles !== undefined && got.table !== undefined) { clearTimeout(timer); resolve(got); }
            else requestAnimationFrame(tick);
        };
        const t0 = performance.now();
        document.querySelector(button).click();
        requestAnimationFrame(tick);
    });
}"""


MISSED: list[int] = []  # thumbnail clicks whose sample never showed in the inspector


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    v = sorted(values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return {"n": len(v), "median_ms": round(statistics.median(v), 1), "p95_ms": round(p95, 1),
            "min_ms": round(v[0], 1), "max_ms": round(v[-1], 1)}


class MemorySampler:
    """VmRSS of a process every ``every`` seconds in a thread; VmHWM on demand."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def status_mb(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((round(time.monotonic() - self._t0, 1), round(self.status_mb("VmRSS"), 1)))
            except OSError:
                return
            self._stop.wait(self.every)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


async def wait_idle(page) -> None:
    await page.wait_for_function(IDLE, timeout=120_000)


async def timed_click(page, button: str, prefix: str) -> float:
    """Milliseconds, in the browser, from clicking ``button`` until the text starting with ``prefix`` changes."""
    await page.locator(button).wait_for(timeout=60_000)
    ms = await page.evaluate(CLICK_AND_WAIT, [button, prefix])
    await wait_idle(page)
    return ms


async def open_explore(browser, url: str, dataset: str | None = None):
    ctx = await browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(180_000)
    page = await ctx.new_page()
    await page.goto(url)
    await page.get_by_text("showing 1–").wait_for(timeout=180_000)
    if dataset:
        await page.locator(f".st-key-ds_name{FRESH} [role=combobox]").click()
        await page.get_by_role("option", name=dataset, exact=True).click()
        await page.get_by_text("fashion-mnist (train)").first.wait_for(timeout=180_000)
    await page.locator(f".st-key-explore_grid{FRESH} .tg-tile").first.wait_for(timeout=120_000)
    await page.locator(f".st-key-explore_heatmap{FRESH} .js-plotly-plot").wait_for(timeout=120_000)
    await wait_idle(page)
    return ctx, page


async def painted_page_changes(page, n: int, tiles: list[float], table: list[float]) -> None:
    """Click Next ``n`` times: ms until the new thumbnails are on screen, and the table's rows."""
    for _ in range(n):
        got = await page.evaluate(NEXT_AND_PAINT, f".st-key-explore_next{FRESH} button")
        tiles.append(got["tiles"])
        table.append(got["table"])
        await wait_idle(page)
        await page.wait_for_timeout(300)  # the table's own run has started by now, or was not needed


async def page_changes(page, n: int, out: list[float], deadline: float | None = None) -> None:
    """Click Next ``n`` times (or until ``deadline``), each timed; wait for the run to end between."""
    for _ in range(n):
        if deadline is not None and time.monotonic() > deadline:
            return
        out.append(await timed_click(page, f".st-key-explore_next{FRESH} button", "showing "))


# Armed before a thumbnail click: resolves with the milliseconds from the browser's
# pointerdown to the first animation frame (the frame that paints) showing the sample in
# the inspect text, and the heatmap drawn for it (its layout.meta names the sample).
ARM_INSPECT = """(n) => { window.__inspect = new Promise((resolve) => {
  const t = {};
  window.addEventListener('pointerdown', () => { t.down = performance.now(); }, {capture: true, once: true});
  const textOk = () => [...document.querySelectorAll('[data-testid="stText"]')]
      .some(e => e.textContent.startsWith('sample #' + n + ':'));
  const heatOk = () => { const gd = document.querySelector('.st-key-explore_heatmap .js-plotly-plot');
      return !!(gd && gd.layout && gd.layout.meta && gd.layout.meta.sample === n); };
  const tick = () => {
    const now = performance.now();
    if (t.down !== undefined) {
      if (t.text === undefined && textOk()) t.text = now - t.down;
      if (t.heat === undefined && heatOk()) t.heat = now - t.down;
      if ((t.text !== undefined && t.heat !== undefined) || now - t.down > 30000) { resolve(t); return; }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}); }"""


async def inspect_click(page, position: int, out: list[float], heat: list[float] | None = None) -> None:
    """Click the thumbnail at ``position`` (a real mouse click) and time the inspector.

    ``out`` gets the milliseconds, measured in the browser, from pointerdown to the
    painted frame whose inspect text names the sample; ``heat`` (if given) to the
    frame whose heatmap shows it.
    """
    for attempt in (1, 2):
        # A run that ends after the page change's text has changed (under load) may rebuild
        # the tiles between finding one and scrolling to it: then find it again.
        tile = page.locator(f".st-key-explore_grid{FRESH} .tg-tile").nth(position)
        data = int(await tile.get_attribute("data-sample"))
        try:
            await tile.scroll_into_view_if_needed(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - a detached tile
            if attempt == 2:
                raise
            await wait_idle(page)
    box = await tile.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    await wait_idle(page)
    await page.mouse.move(x, y)
    await page.evaluate(ARM_INSPECT, int(data))
    await page.mouse.click(x, y)
    t = await page.evaluate("() => window.__inspect")
    if "text" not in t:  # a lost click is counted, not timed
        MISSED.append(int(data))
        return
    out.append(float(t["text"]))
    if heat is not None and "heat" in t:
        heat.append(float(t["heat"]))
    await wait_idle(page)


# Page-ready conditions for a new tab (checked on every animation frame).
TILES_SHOWN = ("() => { const im = [...document.querySelectorAll('.st-key-explore_grid .tg-tile img')];"
               " return im.length > 0 && im.every(i => i.complete); }")
HEATMAP_SHOWN = ("() => { const gd = document.querySelector('.st-key-explore_heatmap .js-plotly-plot');"
                 " return !!(gd && gd._fullData); }")
FLOOR_TEXT_SHOWN = ("() => [...document.querySelectorAll('[data-testid=\"stText\"]')]"
                    ".some(e => e.textContent === 'count 0')")
PLOTLY_FLOOR_SHOWN = ("() => { const gd = document.querySelector('.st-key-floor_plot .js-plotly-plot');"
                      " return !!(gd && gd._fullData && gd._fullData.length > 0); }")


async def open_tab_times(browser, url: str, ready: dict[str, str], n: int = 5,
                         cached: bool = False) -> dict[str, list[float]]:
    """Milliseconds from opening ``url`` in a new tab until each condition in ``ready``
    (name -> JS predicate) first holds, ``n`` times. Timed in the browser from navigation
    start to the animation frame that sees it; the tab stays open until all hold.

    ``cached=False``: each tab in a fresh browser profile (a first visit: every script
    fetched and compiled). ``cached=True``: tabs of one profile that has opened ``url``
    once before, untimed (Streamlit's scripts and their compiled code in the browser's
    cache, as for anyone who has used the app before)."""
    out: dict[str, list[float]] = {name: [] for name in ready}
    watch = """(conds) => { window.__ready = new Promise((resolve) => {
      const seen = {};
      const fns = Object.fromEntries(Object.entries(conds).map(([k, v]) => [k, eval(v)]));
      const tick = () => {
        for (const [k, f] of Object.entries(fns)) {
          try { if (!(k in seen) && f()) seen[k] = performance.now(); } catch (e) {}
        }
        if (Object.keys(seen).length === Object.keys(fns).length) resolve(seen); else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }); }"""
    shared = await browser.new_context(viewport=VIEWPORT) if cached else None
    for i in range(n + int(cached)):
        ctx = shared or await browser.new_context(viewport=VIEWPORT)
        page = await ctx.new_page()
        await page.add_init_script(f"({watch})({json.dumps(ready)})")
        await page.goto(url)
        seen = await page.evaluate("() => window.__ready")
        if not (cached and i == 0):  # the visit that fills the cache is not timed
            for name, ms in seen.items():
                out[name].append(float(ms))
        await wait_idle(page)
        await page.wait_for_timeout(500)  # the server's part of this tab is over before the next opens
        await (page if shared else ctx).close()
    if shared is not None:
        await shared.close()
    return out


async def browse_loop(ctx, page, deadline: float, changes: list[float], inspects: list[float]) -> None:
    """Page (two of three steps) and inspect (one of three) until ``deadline``."""
    try:
        step = 0
        while time.monotonic() < deadline:
            step += 1
            if step % 3 == 0:
                await inspect_click(page, step % 48, inspects)
            else:
                await page_changes(page, 1, changes, deadline)
    finally:
        await ctx.close()


async def open_trainer(browser, url: str):
    """A session on the Train page, quick preset, 500 epochs on 10,000 images (not started)."""
    ctx = await browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(180_000)
    page = await ctx.new_page()
    await page.goto(url + "/train")
    await page.locator(f".st-key-train_preset{FRESH} [role=combobox]").click()
    await page.get_by_role("option", name="quick", exact=True).click()
    await page.locator(f".st-key-train_hidden{FRESH} input[value='64']").wait_for()
    await wait_idle(page)
    for key, value in (("train_epochs", "500"), ("train_train_size", "10000")):
        box = page.locator(f".st-key-{key}{FRESH} input")
        await box.fill(value)
        await box.press("Enter")
        await wait_idle(page)
    return ctx, page


async def limited(sem: asyncio.Semaphore, coro):
    async with sem:
        return await coro


def _stop_workers(work: Path) -> None:
    """End the job workers this benchmark started: they outlive the server by design."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(work) in part for part in proc.info["cmdline"] or []):
                proc.terminate()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def start_jobs(work: Path) -> tuple[object, list[str]]:
    """2 MNIST trainings and a sweep of 8 configurations, submitted to the server's job folder
    (as its Train page does) with room for all 3 at once (DASHBOARD_MAX_JOBS=3)."""
    sys.path.insert(0, str(ROOT))
    from dashboard.data.loading import load_dataset
    from dashboard.lab import jobs
    from dashboard.lab.params import TrainParams
    from dashboard.lab.shared import share_splits

    queue = jobs.JobQueue(work / "jobs", max_workers=3)
    data = share_splits(load_dataset("mnist", "train"), load_dataset("mnist", "test"), work / "cache" / "arrays")
    runs = str(work / "runs")
    train = TrainParams(hidden=(64,), epochs=500, train_size=10000)
    ids = [queue.submit("train", {"train": train.to_dict(), "data": data, "runs_dir": runs}, title="bench train")
           for _ in range(2)]
    configs = [TrainParams(hidden=h, alpha=a, epochs=5) for h in ((64,), (128,), (256,), (128, 64))
               for a in (1e-4, 1e-3)]
    ids.append(queue.submit("sweep", {"configs": [c.to_dict() for c in configs], "data": data, "runs_dir": runs,
                                      "cluster": None, "title": "bench sweep"}, title="bench sweep"))
    return queue, ids


async def paging_while_jobs_run(browser, url: str, work: Path, n: int) -> tuple[list[float], list[str]]:
    """Page changes of one session while the jobs of :func:`start_jobs` run; their states after."""
    ctx, page = await open_explore(browser, url)
    queue, ids = start_jobs(work)
    try:
        for _ in range(300):  # until all three are running (workers started, data mapped)
            if all(queue.get(i).state.value == "running" for i in ids):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # past the workers' start: training under way
        times: list[float] = []
        await page_changes(page, n, times)
        states = [f"{queue.get(i).kind}: {queue.get(i).state.value}" for i in ids]
    finally:
        for i in ids:
            queue.stop(i)
        await ctx.close()
    return times, states


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    floor_app = work / "floor_app.py"
    floor_app.write_text(FLOOR_APP)
    plotly_app = work / "plotly_floor_app.py"
    plotly_app.write_text(PLOTLY_FLOOR_APP)
    app = StreamlitServer(work / "runs", work / "cache", DATA_DIR, log=work / "app.log").start()
    floor = StreamlitServer(work / "runs", work / "cache", DATA_DIR, app=floor_app, log=work / "floor.log").start()
    plotly_floor = StreamlitServer(work / "runs", work / "cache", DATA_DIR, app=plotly_app,
                                   log=work / "plotly_floor.log").start()
    mem = MemorySampler(app.proc.pid).start()
    result: dict = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(), "machine": platform.machine(),
        "load_avg_1min_start": round(os.getloadavg()[0], 2),
        "server_mb_after_start": round(mem.status_mb("VmRSS"), 1),
    }
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                # The floor: a one-button page on the same streamlit.
                ctx = await browser.new_context(viewport=VIEWPORT)
                page = await ctx.new_page()
                await page.goto(floor.url)
                await page.get_by_text("count 0").wait_for(timeout=60_000)
                floor_ms: list[float] = []
                for _ in range(args.changes):
                    floor_ms.append(await timed_click(page, f".st-key-add{FRESH} button", "count "))
                await ctx.close()

                # One lone session paging.
                ctx, page = await open_explore(browser, app.url)
                result["server_mb_one_session_mnist"] = round(mem.status_mb("VmRSS"), 1)
                await page_changes(page, 2, [])  # warm-up
                lone_ms: list[float] = []
                await page_changes(page, args.changes, lone_ms)
                lone_tiles_ms: list[float] = []
                lone_table_ms: list[float] = []
                await painted_page_changes(page, args.changes // 2, lone_tiles_ms, lone_table_ms)
                # Thumbnail click -> the inspector names the sample (real mouse clicks).
                lone_inspect_ms: list[float] = []
                lone_heat_ms: list[float] = []
                for i in range(args.changes // 2):
                    await inspect_click(page, (7 * i + 3) % 48, lone_inspect_ms, lone_heat_ms)
                await ctx.close()

                # The same paging while 2 trainings and 1 sweep run as jobs of this server.
                busy_ms, busy_jobs = await paging_while_jobs_run(browser, app.url, work, args.changes)

                # First thumbnail grid after opening the app in a new tab (a warm server), and
                # its floor: a page with one tiny Plotly chart, opened the same way.
                explore_tab = await open_tab_times(browser, app.url, {"grid": TILES_SHOWN, "heatmap": HEATMAP_SHOWN})
                first_grid_ms, tab_heatmap_ms = explore_tab["grid"], explore_tab["heatmap"]
                floor_tab_ms = (await open_tab_times(browser, floor.url, {"text": FLOOR_TEXT_SHOWN}))["text"]
                cached_tab = await open_tab_times(browser, app.url, {"grid": TILES_SHOWN, "heatmap": HEATMAP_SHOWN},
                                                  cached=True)
                floor_cached_ms = (await open_tab_times(browser, floor.url, {"text": FLOOR_TEXT_SHOWN},
                                                        cached=True))["text"]
                plotly_floor_ms = (await open_tab_times(browser, plotly_floor.url,
                                                        {"chart": PLOTLY_FLOOR_SHOWN}))["chart"]

                # Load: 8 browsing sessions (half on Fashion-MNIST) and 2 training; opened 3 at a time.
                sem = asyncio.Semaphore(3)
                browsers = await asyncio.gather(*(
                    limited(sem, open_explore(browser, app.url, "Fashion-MNIST (Zalando)" if i % 2 else None))
                    for i in range(args.sessions)))
                trainers = await asyncio.gather(*(limited(sem, open_trainer(browser, app.url))
                                                  for _ in range(args.trainers)))
                for _, tpage in trainers:
                    await tpage.locator(f".st-key-train_start{FRESH} button").click()
                    # (.first: other sessions' jobs are listed too)
                    await tpage.locator('[data-testid="stProgress"]').first.wait_for()
                changes: list[float] = []
                inspects: list[float] = []
                t_load = time.monotonic()
                await asyncio.gather(*(browse_loop(c, pg, t_load + args.seconds, changes, inspects)
                                       for c, pg in browsers))
                load_seconds = time.monotonic() - t_load
                epochs_seen = []
                for tctx, tpage in trainers:
                    epochs_seen.append(await tpage.locator('[data-testid="stProgress"]').first.inner_text())
                    await tctx.close()
            finally:
                await browser.close()
        result["server_mb_peak_vmhwm"] = round(mem.status_mb("VmHWM"), 1)
    finally:
        mem.stop()
        app.stop()
        _stop_workers(work)
        floor.stop()
        plotly_floor.stop()

    result.update({
        "floor_one_button_page": stats(floor_ms),
        "lone_page_change": stats(lone_ms),
        "lone_page_change_to_thumbnails_painted": stats(lone_tiles_ms),
        "lone_page_change_to_table_rows": stats(lone_table_ms),
        "page_change_while_2_train_1_sweep": {**stats(busy_ms), "jobs_at_end": busy_jobs},
        "lone_thumbnail_click_to_inspector": stats(lone_inspect_ms),
        "lone_thumbnail_click_to_heatmap": stats(lone_heat_ms),
        "thumbnail_clicks_missed": list(MISSED),
        "first_grid_after_opening": stats(first_grid_ms),
        "heatmap_after_opening": stats(tab_heatmap_ms),
        "floor_one_button_page_after_opening": stats(floor_tab_ms),
        "first_grid_new_tab_browser_cache_warm": stats(cached_tab["grid"]),
        "heatmap_new_tab_browser_cache_warm": stats(cached_tab["heatmap"]),
        "floor_one_button_page_new_tab_browser_cache_warm": stats(floor_cached_ms),
        "floor_first_plotly_chart_after_opening": stats(plotly_floor_ms),
        "load": {
            "browse_sessions": args.sessions, "train_sessions": args.trainers,
            "seconds": round(load_seconds, 1),
            "page_change": stats(changes),
            "inspect_click": stats(inspects),
            "training_progress_at_end": epochs_seen,
        },
        "load_avg_1min_end": round(os.getloadavg()[0], 2),
        "server_rss_mb_series": mem.samples[:: max(1, len(mem.samples) // 120)],
    })
    lone, fl = result["lone_page_change"], result["floor_one_button_page"]
    result["goals"] = {
        "lone_median_over_floor_median": round(lone["median_ms"] / fl["median_ms"], 2),
        "lone_page_change_le_1_5x_floor": lone["median_ms"] <= 1.5 * fl["median_ms"],
        "busy_over_idle_page_change": round(result["page_change_while_2_train_1_sweep"]["median_ms"]
                                            / lone["median_ms"], 2),
        "busy_page_change_le_1_5x_idle": result["page_change_while_2_train_1_sweep"]["median_ms"]
                                         <= 1.5 * lone["median_ms"],
        "thumbnail_click_to_inspector_le_400_ms": result["lone_thumbnail_click_to_inspector"]["median_ms"] <= 400,
        "thumbnail_click_to_heatmap_le_400_ms": result["lone_thumbnail_click_to_heatmap"]["median_ms"] <= 400,
        "first_grid_le_1500_ms": result["first_grid_after_opening"]["median_ms"] <= 1500,
        "first_grid_browser_cache_warm_le_1500_ms":
            result["first_grid_new_tab_browser_cache_warm"]["median_ms"] <= 1500,
        "first_grid_over_one_button_page": round(
            result["first_grid_after_opening"]["median_ms"]
            / result["floor_one_button_page_after_opening"]["median_ms"], 2),
        "peak_memory_le_1536_mb": result["server_mb_peak_vmhwm"] <= 1536,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase")
    parser.add_argument("--changes", type=int, default=30, help="timed clicks for the floor and the lone session")
    parser.add_argument("--sessions", type=int, default=8, help="browsing sessions under load")
    parser.add_argument("--trainers", type=int, default=2, help="training sessions under load")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    result = asyncio.run(run(args))
    short = {k: v for k, v in result.items() if k != "server_rss_mb_series"}
    print(json.dumps(short, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, RESULTS)
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
