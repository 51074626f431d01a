"""The catalog sets load with their known facts (../shared/data/README.md)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.data.catalog import CATALOG
from dashboard.data.loading import DatasetCache, is_available, load_dataset
from dashboard.errors import DataError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def test_mnist_train_facts(mnist_train):
    ds = mnist_train
    assert len(ds) == 60_000 and ds.shape == (28, 28)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (60_000, 28, 28)
    assert ds.class_counts().tolist() == MNIST_TRAIN_COUNTS
    assert round(float(ds.images.mean(dtype=np.float64)), 2) == 33.32
    assert ds.class_names == tuple("0123456789")
    assert not ds.images.flags.writeable and not ds.labels.flags.writeable


def test_mnist_test_facts(mnist_test):
    assert mnist_test.class_counts().tolist() == MNIST_TEST_COUNTS
    assert mnist_test.split == "test"


@pytest.mark.parametrize("split, n", [("train", 6000), ("test", 1000)])
def test_fashion_facts(shared_data, split, n):
    ds = load_dataset("fashion-mnist", split)
    assert ds.class_names == FASHION_NAMES
    assert ds.class_counts().tolist() == [n] * 10
    if split == "train":
        assert round(float(ds.images.mean(dtype=np.float64)), 2) == 72.94


def test_digits_is_8x8_and_always_there(monkeypatch, tmp_path):
    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.shape == (8, 8) and len(train) + len(test) == 1797
    assert train.images.max() == 255 and train.images.min() == 0
    # The split is fixed: the same seed gives the same test set, and no image is in both.
    assert np.array_equal(test.labels, load_dataset("digits", "test").labels)
    assert is_available("digits")


def test_missing_set_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    assert not is_available("mnist")
    with pytest.raises(DataError, match="python -m dashboard fetch mnist"):
        load_dataset("mnist", "train")


def test_search_order_prefers_env_then_data_then_system(monkeypatch, tmp_path, shared_data):
    """A set in data/ is found when the variable is unset; the variable wins when set."""
    import shutil

    proj = tmp_path / "proj"
    (proj / "mnist").mkdir(parents=True)
    for f in CATALOG["mnist"].file_names:
        shutil.copy(shared_data / "mnist" / f, proj / "mnist" / f)
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(proj))
    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    assert load_dataset("mnist", "test").source == str(proj / "mnist")
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(shared_data))
    assert load_dataset("mnist", "test").source == str(shared_data / "mnist")


def test_system_package_folder_is_searched(monkeypatch, tmp_path, shared_data):
    from dataclasses import replace

    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "empty"))
    entry = replace(CATALOG["fashion-mnist"], system_dirs=(str(shared_data / "fashion-mnist"),))
    monkeypatch.setitem(CATALOG, "fashion-mnist", entry)
    ds = load_dataset("fashion-mnist", "test")
    assert ds.source == str(shared_data / "fashion-mnist") and len(ds) == 10_000
    assert CATALOG.get("fashion-mnist") is entry
    # The real entry names Debian's path for its dataset-fashion-mnist package.
    monkeypatch.undo()
    assert "/usr/share/datasets/fashion-mnist" in CATALOG["fashion-mnist"].system_dirs


def test_uncompressed_files_are_accepted(monkeypatch, tmp_path, shared_data):
    import gzip

    (tmp_path / "mnist").mkdir()
    for f in CATALOG["mnist"].files["test"]:
        raw = gzip.decompress((shared_data / "mnist" / f).read_bytes())
        (tmp_path / "mnist" / f.removesuffix(".gz")).write_bytes(raw)
    monkeypatch.delenv("DASHBOARD_DATA_DIR", raising=False)
    ds = load_dataset("mnist", "test", extra_dirs=[tmp_path])
    assert ds.class_counts().tolist() == MNIST_TEST_COUNTS


def test_unknown_name_and_split():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("kmnist")
    with pytest.raises(DataError, match="unknown split"):
        load_dataset("digits", "validation")


def test_cache_returns_the_same_object(shared_data):
    cache = DatasetCache()
    a = cache.get("mnist", "test")
    assert cache.get("mnist", "test") is a
    assert cache.get("digits", "test") is not a
