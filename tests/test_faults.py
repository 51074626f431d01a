"""Real faults: a download killed by SIGKILL, saving a run on a full or read-only disk, and dying
job workers, sweep drivers and Dask workers.

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
from dashboard.data.idx import read_idx
from dashboard.errors import DataError
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



def _digits_short(at, tv):
    at.selectbox(key="ds_name").set_value("digits").run()
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    at.text_input(key=tv.K_HIDDEN).set_value("16")
    at.number_input(key=tv.K_EPOCHS).set_value(2)
    at.number_input(key=tv.K_SIZE).set_value(0)  # all of digits' 1,437
    at.number_input(key=tv.K_BATCH).set_value(100)


def test_train_page_on_a_full_disk_says_the_run_was_not_saved(full_disk, tmp_path, monkeypatch):
    """The job runs (its folder is elsewhere); saving the run fails: the page says so, nothing half-written."""
    from dashboard.lab import jobs
    from dashboard.views import train as tv

    runs = full_disk / "runs"
    runs.mkdir()
    fill(full_disk)
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(runs))
    monkeypatch.setenv("DASHBOARD_JOBS_DIR", str(tmp_path / "jobs"))
    at = real_app("train", timeout=90)
    at.run()
    _digits_short(at, tv)
    at.button(key=tv.K_START).click().run()
    assert not at.error, [e.value for e in at.error]
    info = jobs.default_queue().wait(at.session_state[tv.K_JOB], timeout=180)
    at.run()
    at.run()
    assert not at.exception, at.exception
    assert info.state is jobs.JobState.DONE and info.result["run_id"] is None
    assert "the disk is full" in info.result["save_error"]
    errors = [e.value for e in at.error]
    assert any("Not saved" in e and "the disk is full" in e for e in errors), errors
    assert os.listdir(runs) == []


def test_jobs_folder_on_a_full_disk_refuses_the_job_cleanly(full_disk, monkeypatch):
    from dashboard.views import train as tv

    fill(full_disk)
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(full_disk / "runs"))
    monkeypatch.setenv("DASHBOARD_JOBS_DIR", str(full_disk / "jobs"))
    at = real_app("train", timeout=90)
    at.run()
    _digits_short(at, tv)
    at.button(key=tv.K_START).click().run()
    assert not at.exception, at.exception
    assert any("could not" in e.value for e in at.error), [e.value for e in at.error]
    folder = full_disk / "jobs"
    assert not folder.exists() or [p.name for p in folder.iterdir() if p.is_dir()] == []


# ---------------------------------------------------------------- workers, servers and clusters dying


def _kill_job_workers(folder: Path) -> None:
    """End the workers a test started (they outlive servers by design), by the pids they recorded."""
    from dashboard.lab import jobs

    for claim in folder.glob(f"*/{jobs.CLAIM_FILE}"):
        pid = (jobs.read_json(claim) or {}).get("pid")
        if jobs.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_training_worker_killed_mid_epoch_is_interrupted_and_the_queue_moves_on(tmp_path, mnist_train, mnist_test):
    from dashboard.lab import jobs
    from dashboard.lab.shared import share_splits

    q = jobs.JobQueue(tmp_path / "jobs", max_workers=1)
    ref = share_splits(mnist_train, mnist_test, tmp_path / "arrays")
    runs = tmp_path / "runs"
    long = TrainParams(hidden=(64,), epochs=500, train_size=5000, batch_size=100)
    first = q.submit("train", {"train": long.to_dict(), "data": ref, "runs_dir": str(runs)})
    second = q.submit("train", {"train": PARAMS.to_dict() | {"train_size": 2000}, "data": ref, "runs_dir": str(runs)})
    try:
        deadline = time.monotonic() + 180
        while len(q.get(first).data.get("history", [])) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = jobs.read_json(q.root / first / jobs.CLAIM_FILE)["pid"]
        os.kill(pid, signal.SIGKILL)  # mid-epoch: epochs take ~0.3 s, we poll every 50 ms
        while jobs.pid_alive(pid):
            time.sleep(0.05)
        killed = q.get(first)
        assert killed.state is jobs.JobState.INTERRUPTED
        assert len(killed.data["history"]) >= 2  # the epochs it finished are kept
        done = q.wait(second, timeout=180)  # the queue moved on
        assert done.state is jobs.JobState.DONE, done.error
    finally:
        _kill_job_workers(q.root)
    store = RunStore(runs)
    listing = store.list()
    assert listing.problems == [] and [r.run_id for r in listing.runs] == [done.result["run_id"]]
    assert [p.name for p in runs.iterdir()] == [done.result["run_id"]]  # nothing half-written
    store.load_model(done.result["run_id"])


def test_the_sweep_driver_killed_mid_sweep_leaves_only_whole_runs(tmp_path):
    """``python -m dashboard sweep`` SIGKILLed after its first run: the saved runs load, the rest never appear."""
    from dashboard.lab.sweep import load_sweeps

    runs = tmp_path / "runs"
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(runs), "DASHBOARD_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "sweep", "--dataset", "digits", "--grid", "hidden=8,16,32,64,128,256",
         "epochs=1,300", "--batch-size", "50", "--n-jobs", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("[1/12]"), line
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    time.sleep(1)
    store = RunStore(runs)
    listing = store.list()
    assert listing.problems == [] and 1 <= len(listing.runs) < 12
    for run in listing.runs:
        store.load_model(run.run_id)
        store.load_test_outputs(run.run_id)
    (record,) = load_sweeps(runs)
    assert record["state"] == "interrupted"
    assert {row["run_id"] for row in record["rows"]} <= {r.run_id for r in listing.runs}


def test_a_dask_worker_stopped_mid_task_is_replaced_and_the_sweep_completes(tmp_path):
    from dask.distributed import Client, LocalCluster

    from dashboard.data.loading import load_dataset
    from dashboard.lab.sweep import grid_configs, parse_grid, run_sweep

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    configs = grid_configs(TrainParams(epochs=40, batch_size=50), parse_grid(["hidden=16,32,48,64"]))
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())

        def on_run(row, done, total):
            if not killed:  # the other worker is mid-task now: stop it hard
                busy = [p for p in pids if p != row.pid]
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])

        record = run_sweep(configs, train, test, RunStore(tmp_path / "runs"), cluster=cluster.scheduler_address,
                           client=client, on_run=on_run)
    assert killed
    assert record["state"] == "done" and len(record["rows"]) == 4
    store = RunStore(tmp_path / "runs")
    assert len(store.list().runs) == 4 and store.list().problems == []
