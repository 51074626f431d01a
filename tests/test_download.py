"""Downloads, for real, from an HTTP server on 127.0.0.1 serving ../shared/data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dashboard.data import loading
from dashboard.data.catalog import CATALOG
from dashboard.data.download import fetch_dataset
from dashboard.errors import DataError
from dashboard.data.loading import load_dataset
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
