"""Real faults: a download killed by SIGKILL, and saving a run on a full or read-only disk.

Nothing here is mocked. The download runs the real CLI in a subprocess against
a slow HTTP server on 127.0.0.1 and is killed mid-file. The full disk is a
1 MB tmpfs and the read-only folder a read-only bind mount (both need root, as
on the team's machines); where ``mount`` is not allowed those tests are
skipped, and the RLIMIT_FSIZE test below still makes writes fail for real
(``EFBIG``) in a subprocess, without privileges.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dashboard.data.catalog import CATALOG
from dashboard.errors import DataError
from dashboard.data.idx import read_idx
from dashboard.lab.trainjob import DONE
from dashboard.lab.runs import RunStore
from dashboard.lab.training import Trainer, TrainParams, evaluate
from tests.conftest import ROOT, real_app
from tests.test_runs import _save as save

MNIST = CATALOG["mnist"]
PARAMS = TrainParams(hidden=(16,), epochs=2, train_size=0, batch_size=100, seed=0)


# ---------------------------------------------------------------- killed download

class SlowHandler(BaseHTTPRequestHandler):
    """``/slow/mnist/<file>``: 16 KB every 20 ms (a 10 MB file takes ~12 s);
    ``/fast/mnist/<file>``: at once. ``sent`` is set once 256 KB of a slow file went out."""

    root: Path
    sent = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        _, mode, _, name = self.path.split("/", 3)
        src = self.root / "mnist" / name
        if not src.is_file():
            self.send_error(404)
            return
        body = src.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = 16 * 1024 if mode == "slow" else len(body)
        deadline = time.monotonic() + 60  # never outlive the test by much
        try:
            for start in range(0, len(body), step):
                self.wfile.write(body[start:start + step])
                self.wfile.flush()
                if mode == "slow":
                    if start >= 256 * 1024:
                        self.sent.set()
                    if time.monotonic() > deadline:
                        return
                    time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed


@pytest.fixture()
def slow_server(shared_data):
    SlowHandler.root = shared_data
    SlowHandler.sent = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def fetch_cmd(mirror: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "dashboard", "fetch", "mnist", "--mirror", mirror, "--data-dir", str(data_dir)]


def open_files_in(pid: int, folder: Path) -> list[tuple[str, int]]:
    """(link target, size) of the files ``pid`` holds open inside ``folder``."""
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
            if target.startswith(str(folder)):
                out.append((target, os.stat(fd).st_size))
        except OSError:
            continue
    return out


def test_download_killed_mid_file_leaves_nothing_and_the_next_fetch_works(slow_server, tmp_path):
    folder = tmp_path / "mnist"
    proc = subprocess.Popen(fetch_cmd(f"{slow_server}/slow", tmp_path), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert SlowHandler.sent.wait(30), "the download never started"
        # Wait until the client has written part of the file, so the kill is mid-file.
        deadline = time.monotonic() + 20
        while not any(size > 0 for _, size in open_files_in(proc.pid, folder)):
            assert time.monotonic() < deadline and proc.poll() is None, "no partial file ever appeared"
            time.sleep(0.05)
        partial = open_files_in(proc.pid, folder)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert all(size < 9_912_422 for _, size in partial)  # really cut: less than the whole file
    # Nothing of the dataset is left: no partial file, no hidden .part file.
    assert not any(p.is_file() for p in tmp_path.rglob("*")), list(tmp_path.rglob("*"))

    done = subprocess.run(fetch_cmd(f"{slow_server}/fast", tmp_path), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "mnist: ready in" in done.stdout
    assert sorted(os.listdir(folder)) == sorted(MNIST.file_names)  # verified, then named
    assert read_idx(folder / "t10k-labels-idx1-ubyte.gz")[:4].tolist() == [7, 2, 1, 0]


# ---------------------------------------------------------------- saving a run on a bad disk

def train_digits():
    """A small model on scikit-learn's digits and its test metrics: what a run holds."""
    from dashboard.data.loading import load_dataset

    trainer = Trainer(PARAMS, load_dataset("digits", "train"))
    list(trainer.run())
    model = trainer.final_model()
    return trainer, model, evaluate(model, load_dataset("digits", "test"))


@pytest.fixture(scope="module")
def trained():
    return train_digits()


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount is not allowed here ({done.stderr.strip()}); see the RLIMIT_FSIZE test")


def fill(folder: Path) -> None:
    """Write until the file system says it is full."""
    with open(folder / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC


@pytest.fixture()
def full_disk(tmp_path):
    """A runs folder on a 1 MB tmpfs holding one saved run, then filled up."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture()
def read_only_dir(tmp_path):
    """A runs folder seen through a read-only bind mount (root ignores chmod, not ``ro``)."""
    real, seen = tmp_path / "real", tmp_path / "runs"
    real.mkdir()
    seen.mkdir()
    mount("--bind", str(real), str(seen))
    try:
        mount("-o", "remount,bind,ro", str(seen))
        yield real, seen
    finally:
        subprocess.run(["umount", "-l", str(seen)], check=False)


def assert_failed_cleanly(store: RunStore, before: list[str], exc: DataError, reason: str) -> None:
    assert reason in str(exc) and "could not be saved" in str(exc)
    # No partial run folder, not even a hidden temporary one.
    assert sorted(p.name for p in store.root.iterdir() if p.name != "filler") == before
    listing = store.list()
    assert [r.run_id for r in listing.runs] == before and not listing.problems
    for run_id in before:  # the older runs stay loadable, model included
        assert store.load_model(run_id).predict_proba is not None


def test_save_on_a_full_disk_fails_cleanly(full_disk, trained):
    store = RunStore(full_disk / "runs")
    first = save(store, trained)
    fill(full_disk)
    with pytest.raises(DataError) as err:
        save(store, trained)
    assert_failed_cleanly(store, [first.run_id], err.value, "the disk is full")


def test_save_in_a_read_only_folder_fails_cleanly(read_only_dir, trained):
    real, seen = read_only_dir
    first = save(RunStore(real), trained)  # written before, through the writable side
    store = RunStore(seen)
    with pytest.raises(DataError) as err:
        save(store, trained)
    assert_failed_cleanly(store, [first.run_id], err.value, "read-only")


FSIZE_SCRIPT = """
import json, resource, signal, sys
sys.path.insert(0, {root!r})
from tests.test_faults import save, train_digits
from dashboard.errors import DataError
from dashboard.lab.runs import RunStore
trained = train_digits()
store = RunStore({root_runs!r})
first = save(store, trained)
# From here on no file may grow past 4 KB; SIGXFSZ ignored, so write() fails with EFBIG.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    save(store, trained)
    print(json.dumps({{"first": first.run_id, "error": None}}))
except DataError as exc:
    print(json.dumps({{"first": first.run_id, "error": str(exc), "type": "DataError"}}))
"""


def test_save_past_the_file_size_limit_fails_cleanly(tmp_path):
    """Works without root: RLIMIT_FSIZE makes the model file's write fail for real (EFBIG)."""
    runs = tmp_path / "runs"
    script = FSIZE_SCRIPT.format(root=str(ROOT), root_runs=str(runs))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["type"] == "DataError"
    assert_failed_cleanly(RunStore(runs), [out["first"]], DataError(out["error"]), "size limit")


# ---------------------------------------------------------------- the Train page on a full disk



def test_train_page_on_a_full_disk_shows_the_message_and_the_results(full_disk, monkeypatch):
    from dashboard.views import train as tv

    runs = full_disk / "runs"
    runs.mkdir()
    fill(full_disk)
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(runs))
    at = real_app("train", timeout=90)
    at.run()
    at.selectbox(key="ds_name").set_value("digits").run()
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    at.text_input(key=tv.K_HIDDEN).set_value("16")
    at.number_input(key=tv.K_EPOCHS).set_value(2)
    at.number_input(key=tv.K_SIZE).set_value(0)  # all of digits' 1,437
    at.number_input(key=tv.K_BATCH).set_value(100)
    at.button(key=tv.K_START).click().run()
    assert not at.error, [e.value for e in at.error]
    job = at.session_state[tv.K_JOB]
    assert job.join(timeout=120)
    at.run()
    assert not at.exception, at.exception
    snap = job.snapshot()
    assert snap.state == DONE and snap.run is None and "the disk is full" in snap.save_error
    errors = [e.value for e in at.error]
    assert any("Not saved" in e and "the disk is full" in e for e in errors), errors
    (acc,) = [m for m in at.metric if m.label == "Test accuracy"]
    assert float(acc.value) == pytest.approx(snap.metrics.accuracy, abs=1e-4)  # results still shown
    assert any(c.proto.id.endswith(tv.K_TEST_CONF) for c in at.get("plotly_chart"))
    assert os.listdir(runs) == []
