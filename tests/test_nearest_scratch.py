"""Nearest training images (PCA shortlist, exact re-rank) and the scratch set of drawings."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.data.scratch import ScratchSet
from dashboard.errors import DataError
from dashboard.explore.nearest import NearestIndex


def test_nearest_agrees_with_brute_force_on_real_mnist(mnist_train, mnist_test):
    sub = mnist_train.images[:20000]
    index = NearestIndex(sub, n_components=40, fit_sample=3000)
    flat = sub.reshape(len(sub), -1).astype(np.float32) / 255
    hits = 0
    for q in mnist_test.images[:20]:
        got = index.query(q, k=5)
        exact = np.linalg.norm(flat - q.reshape(-1).astype(np.float32) / 255, axis=1)
        truth = np.argsort(exact)[:5]
        assert np.all(np.diff(got.distances) >= 0)
        np.testing.assert_allclose(got.distances, exact[got.indices], rtol=1e-5)
        hits += got.indices[0] == truth[0]
    assert hits >= 18  # the PCA shortlist rarely misses the true nearest image
    # Nearest images of a test digit are mostly of its class.
    labels = mnist_train.labels[:20000]
    same = np.mean([np.mean(labels[index.query(q, k=5).indices] == y)
                    for q, y in zip(mnist_test.images[:50], mnist_test.labels[:50])])
    assert same > 0.9


def test_nearest_of_a_training_image_is_itself(digits_train):
    index = NearestIndex(digits_train.images)
    got = index.query(digits_train.images[7], k=3)
    assert got.indices[0] == 7 and got.distances[0] == 0


def test_scratch_set_round_trip_opens_like_an_upload(tmp_path, mnist_test):
    names = mnist_test.class_names
    scratch = ScratchSet(tmp_path, (28, 28), names)
    assert scratch.load() is None and len(scratch) == 0
    scratch.add(mnist_test.images[0], 7)
    ds = scratch.add(mnist_test.images[1], 2)
    assert len(ds) == 2 and ds.shape == (28, 28) and ds.class_names == names
    np.testing.assert_array_equal(ds.images, mnist_test.images[:2])
    assert list(ds.labels) == [7, 2]
    from dashboard.data.userdata import read_npz

    assert len(read_npz(scratch.path.read_bytes())["all"]) == 2  # the upload reader opens it
    with pytest.raises(DataError):
        scratch.add(np.zeros((8, 8), np.uint8), 1)
    with pytest.raises(DataError):
        scratch.add(mnist_test.images[0], 10)
    other = ScratchSet(tmp_path, (8, 8), names)
    assert other.load() is None  # shapes never mix
    scratch.clear()
    assert scratch.load() is None
