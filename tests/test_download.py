"""Downloads, for real, from an HTTP server on 127.0.0.1 serving ../shared/data."""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from dashboard.data import loading
from dashboard.data.catalog import CATALOG
from dashboard.data.download import fetch_dataset, size_cap
from dashboard.data.loading import load_dataset
from dashboard.errors import DataError
from tests.conftest import Handler

MNIST = CATALOG["mnist"]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_success_then_load(server, tmp_path, monkeypatch):
    entry = replace(MNIST, mirrors=(f"{server}/good/",))
    calls = []
    folder = fetch_dataset(entry, tmp_path, progress=lambda d, t, n: calls.append((d, t, n)))
    assert leftovers(folder) == sorted(MNIST.file_names)
    # Progress went from 0 to the full size of every file.
    for name in MNIST.file_names:
        sizes = [(d, t) for d, t, n in calls if n == name]
        assert sizes[0][0] == 0 and sizes[-1][0] == sizes[-1][1] > 0
    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    assert load_dataset("mnist", "test").class_counts()[1] == 1135
    # A second fetch finds everything in place and downloads nothing.
    hits = len(Handler.hits)
    fetch_dataset(entry, tmp_path)
    assert len(Handler.hits) == hits


def test_load_dataset_downloads_when_asked(server, tmp_path, monkeypatch):
    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(CATALOG, "mnist", replace(MNIST, mirrors=(f"{server}/good/",)))
    ds = load_dataset("mnist", "train", download=True)
    assert len(ds) == 60_000 and ds.source == str(tmp_path / "mnist")


@pytest.mark.parametrize("mode, message", [
    ("wrongfile", "checksum mismatch"),
    ("garbage", "corrupt gzip|checksum"),
    ("cut", "closed after|truncated"),
    ("nolength", "truncated"),
    ("missing", "HTTP 404"),
])
def test_failures_leave_no_partial_file(server, tmp_path, mode, message):
    entry = replace(MNIST, mirrors=(f"{server}/{mode}/",))
    with pytest.raises(DataError, match=message) as err:
        fetch_dataset(entry, tmp_path)
    assert f"{server}/{mode}/" in str(err.value)  # says which mirror failed and why
    assert not (tmp_path / "mnist").exists()


def test_404_on_first_mirror_then_second_succeeds(server, tmp_path):
    entry = replace(MNIST, mirrors=(f"{server}/missing/", f"{server}/good/"))
    folder = fetch_dataset(entry, tmp_path)
    assert leftovers(folder) == sorted(MNIST.file_names)
    assert any(h.startswith("/missing/") for h in Handler.hits)


def test_cut_on_first_mirror_then_second_succeeds(server, tmp_path):
    entry = replace(MNIST, mirrors=(f"{server}/cut/", f"{server}/good/"))
    folder = fetch_dataset(entry, tmp_path)
    assert leftovers(folder) == sorted(MNIST.file_names)
    labels = loading.read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    assert np.bincount(labels).tolist()[0] == 980


def test_unreachable_host_says_so(tmp_path):
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    entry = replace(MNIST, mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(DataError, match="could not download"):
        fetch_dataset(entry, tmp_path, timeout=5)
    assert not (tmp_path / "mnist").exists()


def test_stale_part_file_from_a_killed_download_is_removed(server, tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / ".train-images-idx3-ubyte.gz.abc.part").write_bytes(b"half")
    fetch_dataset(replace(MNIST, mirrors=(f"{server}/good/",)), tmp_path)
    assert leftovers(tmp_path / "mnist") == sorted(MNIST.file_names)


# --- size caps (issue 14): an endless or oversized stream is cut off at the known size ---



class Endless(BaseHTTPRequestHandler):
    """``/endless/<file>``: random-looking bytes forever, no length; ``/bomb/<file>``: an
    endless valid gzip stream of zeros; ``/liar/<file>``: announces 10 GB."""

    sent: list[int] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        mode = self.path.split("/")[1]
        self.send_response(200)
        if mode == "liar":
            self.send_header("Content-Length", str(10 * 2**30))
        self.end_headers()
        block = np.random.default_rng(0).integers(0, 256, 1 << 16, dtype=np.uint8).tobytes()
        gz = zlib.compressobj(9, zlib.DEFLATED, 31)
        sent = 0
        try:
            while sent < 2 * 2**30:  # 2 GB at most, should the client never stop
                chunk = gz.compress(b"\0" * (1 << 22)) if mode == "bomb" else block
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            Endless.sent.append(sent)


@pytest.fixture()
def endless_server():
    Endless.sent = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("mode, message", [
    ("endless", "more than"),
    ("bomb", "decompresses to more than"),
    ("liar", "announces"),
])
def test_an_endless_or_oversized_stream_stops_at_the_known_size(endless_server, tmp_path, mode, message):
    entry = replace(MNIST, mirrors=(f"{endless_server}/{mode}/",))
    with pytest.raises(DataError, match=message):
        fetch_dataset(entry, tmp_path)
    assert not (tmp_path / "mnist").exists()
    # The client hung up at the cap: the server sent nothing near its 2 GB.
    for _ in range(100):
        if Endless.sent:
            break
        time.sleep(0.05)
    # Slack: what the loopback socket buffers had accepted when the client hung up (seen 4.3 MB
    # past the cap under load); still far from the 2 GB the server would send.
    assert Endless.sent and max(Endless.sent) < size_cap(MNIST.content_size("train-images-idx3-ubyte.gz")) + 2**24


def test_content_sizes_match_the_real_files(shared_data):
    import gzip

    for name in MNIST.file_names:
        with gzip.open(shared_data / "mnist" / name) as fh:
            assert len(fh.read()) == MNIST.content_size(name)


def test_catalog_mirrors_put_https_first():
    for entry in CATALOG.values():
        schemes = [m.split(":", 1)[0] for m in entry.mirrors]
        assert schemes == sorted(schemes, key=lambda s: s != "https"), entry.name
        assert schemes[0] == "https"
