"""Overview statistics against direct numpy on the real sets, and their figures."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.explore import overview


@pytest.fixture(scope="module")
def mnist_stats(mnist_train):
    return overview.compute_stats(mnist_train)


def test_counts_and_imbalance(mnist_train, mnist_stats):
    counts = np.bincount(mnist_train.labels, minlength=10)
    assert np.array_equal(mnist_stats.counts, counts)
    assert mnist_stats.imbalance == pytest.approx(counts.max() / counts.min())
    fig = overview.counts_figure(mnist_stats.counts, mnist_train.class_names, mnist_stats.imbalance)
    assert list(fig.data[0].x) == list(mnist_train.class_names)
    assert np.array_equal(fig.data[0].y, counts)
    assert f"{counts.max() / counts.min():.2f}" in fig.layout.title.text


def test_class_mean_and_std_match_numpy(mnist_train, mnist_stats):
    for c in (0, 7):
        x = mnist_train.images[mnist_train.labels == c].astype(np.float64)
        assert np.allclose(mnist_stats.class_mean[c], x.mean(axis=0))
        assert np.allclose(mnist_stats.class_std[c], x.std(axis=0))


def test_histogram_and_value_range(mnist_train, mnist_stats):
    assert mnist_stats.histogram.sum() == mnist_train.images.size
    assert mnist_stats.histogram[0] == int((mnist_train.images == 0).sum())
    assert (mnist_stats.value_min, mnist_stats.value_max) == (0, 255)
    fig = overview.histogram_figure(mnist_stats.histogram, value_scale=1.0, log=True)
    assert fig.layout.yaxis.type == "log" and fig.data[0].x[-1] == pytest.approx(1.0)


def test_variance_map_and_mnist_border(mnist_train, mnist_stats):
    flat = mnist_train.flat()
    cols = [0, 406, 783]
    expected = flat[:, cols].astype(np.float64).var(axis=0)
    assert np.allclose(mnist_stats.pixel_var.reshape(-1)[cols], expected)
    # The corners of MNIST are blank in every image.
    assert mnist_stats.pixel_var[0, 0] == 0 and mnist_stats.pixel_var[27, 27] == 0
    assert mnist_stats.pixel_var[14, 14] > 1000
    fig = overview.variance_figure(mnist_stats.pixel_var)
    assert np.allclose(np.asarray(fig.data[0].z), mnist_stats.pixel_var)
    assert np.array_equal(np.asarray(fig.data[0].customdata), np.arange(784).reshape(28, 28))


def test_digits_is_8x8(digits_train):
    stats = overview.compute_stats(digits_train)
    assert stats.class_mean.shape == (10, 8, 8) and stats.pixel_var.shape == (8, 8)
    x = digits_train.images[digits_train.labels == 3].astype(np.float64)
    assert np.allclose(stats.class_mean[3], x.mean(axis=0))
    fig = overview.class_images_figure(stats.class_std, digits_train.class_names, stretch=True)
    assert list(fig.data[2].text) == list(digits_train.class_names)
    assert fig.data[0].source.startswith("data:image/png")


def test_stats_are_read_only(digits_train):
    stats = overview.compute_stats(digits_train)
    with pytest.raises(ValueError):
        stats.class_mean[0, 0, 0] = 1.0


def test_facts_table(digits_train):
    stats = overview.compute_stats(digits_train)
    facts = dict(overview.facts_frame(digits_train, stats).itertuples(index=False))
    assert facts["samples"] == f"{len(digits_train):,}"
    assert facts["image shape"] == "8 × 8 = 64 pixels"
    assert facts["source"] == digits_train.source
    assert facts["constant pixels (zero variance)"] == f"{int((digits_train.flat().var(axis=0) == 0).sum())} of 64"


def test_large_images_and_many_classes_stay_within_the_budget():
    import tracemalloc

    from dashboard.data.dataset import Dataset

    # The 2.4 KB NPZ: two 1000x1000 images, labels 0 and 999 -> 1000 classes
    # when kept as class numbers (here built directly, to test the statistics).
    images = np.zeros((2, 1000, 1000), dtype=np.uint8)
    images[1, 500:, :] = 200
    ds = Dataset(images, np.array([0, 999]), tuple(str(i) for i in range(1000)), "big", "all", "test")
    tracemalloc.start()
    stats = overview.compute_stats(ds)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2**20  # was 16 GB: classes x pixels in float64
    side = -(-1000 // -(-1000 // overview.STATS_MAX_SIDE))
    assert stats.class_mean.shape == (1000, side, side)
    assert stats.class_mean[999].max() == pytest.approx(200) and stats.class_mean[0].max() == 0
    assert stats.pixel_var.shape == (1000, 1000) and stats.pixel_var[999, 0] == pytest.approx(100 * 100)
    assert stats.histogram[200] == 500_000 and stats.histogram[0] == 1_500_000
    fig = overview.variance_figure(stats.pixel_var)
    assert len(fig.to_json()) < 1_000_000
    mean_fig = overview.class_images_figure(stats.class_mean, ds.class_names)
    assert len(mean_fig.to_json()) < 5_000_000
