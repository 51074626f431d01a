"""The CLI as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT, Handler


def run(*args, env=None, check=True):
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_info_mnist_prints_the_real_counts(shared_data):
    out = run("info", "mnist").stdout
    assert "samples:  60,000" in out and "28x28" in out and "mean 33.32" in out
    for count in ("5,923", "6,742", "5,949"):
        assert count in out
    test = run("info", "mnist", "--split", "test").stdout
    assert "10,000" in test and "1,135" in test


def test_info_fashion_names_and_a_folder_path(shared_data):
    out = run("info", "fashion-mnist").stdout
    assert "Ankle boot" in out and "6,000" in out
    out = run("info", str(shared_data / "mnist"), "--split", "test").stdout
    assert "samples:  10,000" in out


def test_datasets_lists_availability(shared_data):
    out = run("datasets").stdout
    assert "mnist" in out and "fashion-mnist" in out and "yes (built in)" in out


def test_errors_are_messages_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    proc = run("info", str(bad), check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    proc = run("info", "mnist", env={"DASHBOARD_DATA_DIR": str(tmp_path),
                                     "DASHBOARD_CACHE_DIR": str(tmp_path)}, check=False)
    assert proc.returncode == 1 and "python -m dashboard fetch mnist" in proc.stderr


def test_fetch_with_progress_bar(server, tmp_path):
    proc = run("fetch", "mnist", "--mirror", f"{server}/good", "--data-dir", str(tmp_path))
    assert "mnist: ready in" in proc.stdout
    assert "100.0%" in proc.stderr and "train-images-idx3-ubyte.gz" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
        ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])


def test_fetch_failure_exits_1_and_keeps_nothing(server, tmp_path):
    proc = run("fetch", "mnist", "--mirror", f"{server}/missing", "--data-dir", str(tmp_path),
               check=False)
    assert proc.returncode == 1 and "could not download" in proc.stderr
    assert not (tmp_path / "mnist").exists()


def test_help_explains_commands():
    out = run("--help").stdout
    for cmd in ("datasets", "fetch", "info"):
        assert cmd in out


def test_info_split_all_of_a_catalog_set_describes_both(shared_data):
    out = run("info", "mnist", "--split", "all").stdout
    assert "dataset:  mnist (train)" in out and "dataset:  mnist (test)" in out
    assert "total:    70,000 samples in 2 splits" in out


def test_fetch_of_a_set_already_present_says_so_without_the_network(server, tmp_path):
    # Available through DASHBOARD_DATA_DIR: nothing is asked of any server.
    proc = run("fetch", "mnist", "--mirror", f"{server}/good")
    assert "already on this machine" in proc.stdout and str(shared_data_dir()) in proc.stdout
    # Downloaded into a folder once, then asked again: "already present", no request.
    run("fetch", "mnist", "--mirror", f"{server}/good", "--data-dir", str(tmp_path))
    hits = len(Handler.hits)
    proc = run("fetch", "mnist", "--mirror", f"{server}/good", "--data-dir", str(tmp_path))
    assert "already present in" in proc.stdout
    assert len(Handler.hits) == hits


def shared_data_dir():
    return os.environ["DASHBOARD_DATA_DIR"]


def test_info_refuses_devices_fifos_and_oversize_files_fast(tmp_path):
    proc = run("info", "/dev/zero", check=False)
    assert proc.returncode == 1 and "not a regular file" in proc.stderr
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    proc = run("info", str(fifo), check=False)  # would block forever if it were opened
    assert proc.returncode == 1 and "not a regular file" in proc.stderr
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:
        fh.truncate(3 * 2**20)  # sparse: no disk used
    proc = run("info", str(big), check=False, env={"DASHBOARD_MAX_UPLOAD_MB": "2"})
    assert proc.returncode == 1 and "DASHBOARD_MAX_UPLOAD_MB" in proc.stderr
    assert "Traceback" not in proc.stderr
