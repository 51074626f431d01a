"""Helpers of the browser tests and the load benchmark: the app under ``streamlit run``, chromium.

Kept apart from conftest.py so that ``benchmarks/bench_load.py`` starts the
server and the browser the same way the tests do.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("DASHBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 900}
SHOTS = ROOT / "docs" / "screenshots"  # the README's pictures, re-taken by every e2e run


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
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=90_000)
    wait_idle(page, 90_000)

