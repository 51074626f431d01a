"""Shared test setup: the real datasets from ../shared/data, and small helpers."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DASHBOARD_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
# Tests and benchmarks read the real files; the product never needs this folder.
os.environ["DASHBOARD_DATA_DIR"] = str(SHARED_DATA)  # absolute: some tests chdir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.fail(f"the reference data is missing: {SHARED_DATA} (set DASHBOARD_DATA_DIR)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_train(shared_data):
    from dashboard.data.loading import load_dataset

    return load_dataset("mnist", "train")


@pytest.fixture(scope="session")
def mnist_test(shared_data):
    from dashboard.data.loading import load_dataset

    return load_dataset("mnist", "test")


@pytest.fixture(scope="session")
def digits_train():
    from dashboard.data.loading import load_dataset

    return load_dataset("digits", "train")


class Handler(BaseHTTPRequestHandler):
    """``/<mode>/<file>``: good, missing (404), wrongfile (another set's valid file),
    garbage (not gzip), cut (closes the connection half-way), nolength (no Content-Length, cut)."""

    root = None
    hits: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        self.hits.append(self.path)
        # /<mode>/<file> or /<mode>/<set>/<file> (the CLI's --mirror layout)
        parts = self.path.split("/")
        mode, name = parts[1], parts[-1]
        src = self.root / ("fashion-mnist" if mode == "wrongfile" else "mnist") / name
        if mode == "missing" or not src.is_file():
            self.send_error(404)
            return
        body = src.read_bytes()
        if mode == "garbage":
            body = body[:10] + bytes(b ^ 0x5A for b in body[10:])
        self.send_response(200)
        if mode != "nolength":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode in ("cut", "nolength"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def server(shared_data):
    """A real HTTP server on 127.0.0.1 serving ../shared/data (see Handler for its modes)."""
    Handler.root = shared_data
    Handler.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def real_app(page: str = "explore", timeout: float = 120):
    """The real app (dashboard/app.py's pages and sidebar) under AppTest, opened on ``page``.

    AppTest cannot switch to pages registered as functions, so the app's own ``main``
    is called with that page as the default.
    """
    from streamlit.testing.v1 import AppTest

    script = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
              f"from dashboard.app import main\nmain(start={page!r})\n")
    return AppTest.from_string(script, default_timeout=timeout)
