"""Helpers of the browser tests and the load benchmark: the app under ``streamlit run``, chromium.

Kept apart from conftest.py so that ``benchmarks/bench_load.py`` starts the
server and the browser the same way the tests do.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("DASHBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 900}
# The README's pictures: re-taken into docs/ only when asked (tests never modify tracked
# files); otherwise into the ignored test-artifacts/ folder, to look at after a run.
SHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") == "1"
         else ARTIFACTS / "screenshots")


def offline_noise(text: str) -> bool:
    """A console error that only says this machine has no internet (Streamlit's fonts and
    analytics hosts), not a fault of the app."""
    return "net::ERR_NAME_NOT_RESOLVED" in text or "net::ERR_INTERNET_DISCONNECTED" in text


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (never 8501)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_chromium() -> str:
    """The browser's path; a missing browser fails in CI and skips elsewhere."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("browser tests cannot run in CI: " + reason, pytrace=False)
    pytest.skip(reason)


class StreamlitServer:
    """``streamlit run dashboard/app.py`` as a child process on a free port.

    Parameters
    ----------
    runs_dir, cache_dir : Path
        ``DASHBOARD_RUNS_DIR`` and ``DASHBOARD_CACHE_DIR`` of the server.
    data_dir : Path
        ``DASHBOARD_DATA_DIR`` (the real MNIST / Fashion-MNIST files).
    app : Path
        The script to serve.
    """

    def __init__(self, runs_dir: Path, cache_dir: Path, data_dir: Path, app: Path = APP,
                 log: Path | None = None) -> None:
        self.runs_dir, self.cache_dir, self.data_dir, self.app = Path(runs_dir), Path(cache_dir), Path(data_dir), app
        self.log = log or Path(tempfile.mkstemp(prefix="streamlit-", suffix=".log")[1])
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> StreamlitServer:
        env = dict(os.environ)
        env.update({
            "DASHBOARD_DATA_DIR": str(self.data_dir),
            "DASHBOARD_CACHE_DIR": str(self.cache_dir),
            "DASHBOARD_RUNS_DIR": str(self.runs_dir),
            "PYTHONUNBUFFERED": "1",
        })
        for _ in range(3):  # a port found free may be taken by someone else before we bind it
            self.port = free_port()
            cmd = [
                sys.executable, "-m", "streamlit", "run", str(self.app),
                "--server.port", str(self.port), "--server.address", "127.0.0.1",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            ]
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            if self._wait_healthy(timeout):
                return self
            self.stop()
        raise RuntimeError(f"streamlit did not start; its log:\n{self.log_text()}")

    def _wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean-up code of the server runs."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-5000:]
        except OSError:
            return ""


def wait_idle(page, timeout: float = 60_000) -> None:
    """Until Streamlit's "running" indicator is gone (the script run has ended)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def goto_app(page, url: str, path: str = "") -> None:
    """Open a page of the app and wait until its script has run."""
    page.goto(f"{url}/{path}")
    page.locator('.st-key-app_nav').wait_for(timeout=90_000)
    wait_idle(page, 90_000)
    # A session's first Explore page comes in two steps (the grid, then the rest, once the
    # browser says the grid is painted): the tests act on the whole page, as a user mostly
    # does. tests/browser/test_explore_clicks.py covers leaving the page between the two.
    page.wait_for_function("() => !document.querySelector('.st-key-tilegrid_painted')", timeout=60_000)
    wait_idle(page, 90_000)



# --- page helpers shared by the browser tests ---------------------------------------

RANGE = re.compile(r"^showing [\d,]+–[\d,]+ of ")
MAX_SHOT_BYTES = 1_000_000
# Streamlit keeps an element of the previous run, marked stale, while it redraws (and may
# retain a hidden copy): select the current one.
FRESH = ":not([data-stale=true])"


# --- small page helpers ------------------------------------------------------------


def range_text(page) -> str:
    loc = page.get_by_text(RANGE)
    loc.wait_for()
    return loc.inner_text()


def wait_range(page, pattern: str) -> str:
    """Until the range text matches ``pattern`` (a regular expression)."""
    loc = page.get_by_text(RANGE)
    expect(loc).to_have_text(re.compile(pattern), timeout=30_000)
    return loc.inner_text()


def plot_data(page, key: str) -> list[dict]:
    """The traces plotly drew for the chart with widget key ``key`` (decoded, as plain JSON)."""
    page.wait_for_function(
        "(key) => { const gd = document.querySelector('.st-key-' + key + ':not([data-stale=true]) .js-plotly-plot');"
        " return gd && gd._fullData && gd._fullData.length > 0; }", arg=key,
    )
    return page.evaluate(
        """(key) => {
            const gd = document.querySelector('.st-key-' + key + ':not([data-stale=true]) .js-plotly-plot');
            if (!gd || !gd._fullData) return null;
            const plain = (v) => v == null ? null
                : (ArrayBuffer.isView(v) ? Array.from(v)
                : (Array.isArray(v) ? v.map(plain) : v));
            return gd._fullData.map(t => ({
                type: t.type, name: t.name, x: plain(t.x), y: plain(t.y), z: plain(t.z),
                text: plain(t.text), hovertext: plain(t.hovertext), customdata: plain(t.customdata),
                source: t.source || null,
            }));
        }""",
        key,
    )


def plot_title(page, key: str) -> str:
    return page.evaluate(
        "(key) => { const gd = document.querySelector('.st-key-' + key + ':not([data-stale=true]) .js-plotly-plot');"
        " const t = gd && gd._fullLayout && gd._fullLayout.title; return t ? String(t.text) : ''; }",
        key,
    )


def click_plot(page, key: str, fx: float, fy: float) -> None:
    """Click a chart at fractions (fx, fy) of its plot area, as a person would."""
    area = page.locator(f".st-key-{key}{FRESH} .js-plotly-plot .nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.mouse.move(x, y)  # plotly picks the point under the pointer on hover, then clicks it
    page.mouse.click(x, y)


TILES = ".st-key-explore_grid:not([data-stale=true]) .tg-tile"


def grid_samples(page) -> list[int]:
    """The samples of Explore's thumbnail grid, in order, as the page shows them."""
    return [int(v) for v in page.locator(TILES).evaluate_all("(ts) => ts.map(t => t.dataset.sample)")]


def wait_grid_starts(page, first: int, timeout: float = 60_000) -> None:
    """Until the thumbnail grid's first tile is sample ``first`` (its picture loaded)."""
    page.wait_for_function(
        "([sel, want]) => { const t = document.querySelector(sel);"
        " return t && Number(t.dataset.sample) === want && t.querySelector('img').complete; }",
        arg=[TILES, first], timeout=timeout)


def click_tile(page, pos: int) -> None:
    """Click the ``pos``-th thumbnail of Explore's grid with the mouse, as a person would."""
    tile = page.locator(TILES).nth(pos)
    tile.scroll_into_view_if_needed()
    box = tile.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)


def choose(page, key: str, option: str) -> None:
    """Pick ``option`` in the selectbox or multiselect with widget key ``key``."""
    page.locator(f".st-key-{key}{FRESH} [role=combobox]").click()
    page.get_by_role("option", name=option, exact=True).click()


def set_number(page, key: str, value) -> None:
    box = page.locator(f".st-key-{key}{FRESH} input")
    box.fill(str(value))
    box.press("Enter")
    expect(box).to_have_value(str(value))


def no_exception(page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert not page.js_errors, page.js_errors


def shoot(page, name: str, *, top=None) -> None:
    """Save docs/screenshots/<name>.png (1400x900 viewport), with ``top`` scrolled to the top."""
    if top is not None:
        top.evaluate("el => el.scrollIntoView({block: 'start'})")
    wait_idle(page)
    page.wait_for_timeout(400)  # plotly's transitions and the status widget's fade-out
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    size = path.stat().st_size
    assert 10_000 < size < MAX_SHOT_BYTES, f"{path}: {size} bytes"


