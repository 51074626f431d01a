"""Paging and filtering on the real label arrays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from dashboard.explore import browse


def test_filter_keeps_only_the_chosen_classes(mnist_train):
    idx = browse.filter_indices(mnist_train.labels, {3, 7})
    assert set(np.unique(mnist_train.labels[idx])) == {3, 7}
    assert len(idx) == int(mnist_train.class_counts()[[3, 7]].sum())
    assert np.all(np.diff(idx) > 0)


@pytest.mark.parametrize("classes", [None, set(), []])
def test_no_class_means_all(digits_train, classes):
    idx = browse.filter_indices(digits_train.labels, classes)
    assert np.array_equal(idx, np.arange(len(digits_train)))


def test_pages_walk_the_filtered_set(mnist_train):
    idx = browse.filter_indices(mnist_train.labels, {5})
    total = len(idx)
    first = browse.make_page(idx, 0, 48)
    second = browse.make_page(idx, 1, 48)
    last = browse.make_page(idx, 10**9, 48)
    assert (first.start, first.stop) == (0, 48)
    assert (second.start, second.stop) == (48, 96)
    assert np.array_equal(second.indices, idx[48:96])
    assert last.number == first.n_pages - 1 == (total - 1) // 48
    assert last.stop == total and 0 < len(last.indices) <= 48
    assert browse.make_page(idx, -3, 48).number == 0


def test_showing_text_reads_like_the_issue(shared_data):
    from dashboard.data.loading import load_dataset

    fashion = load_dataset("fashion-mnist", "train")
    sandal = fashion.class_names.index("Sandal")
    idx = browse.filter_indices(fashion.labels, [sandal])
    page = browse.make_page(idx, 1, 48)
    what = browse.selection_label(fashion.class_names, [sandal])
    assert browse.showing_text(page, what) == "showing 49–96 of 6,000 Sandal"


def test_selection_label_for_digit_names_and_all():
    names = tuple(str(i) for i in range(10))
    assert browse.selection_label(names, None) == "images"
    assert browse.selection_label(names, {5, 3}) == "images of class 3, 5"


def test_empty_filter_has_one_empty_page():
    idx = np.array([], dtype=np.int64)
    page = browse.make_page(idx, 4, 24)
    assert (page.number, page.n_pages, page.total, len(page.indices)) == (0, 1, 0, 0)
    assert browse.showing_text(page, "images") == "no images to show"


def test_jump_to_a_sample_finds_its_page(mnist_train):
    idx = browse.filter_indices(mnist_train.labels, {1})
    sample = int(idx[500])
    page = browse.page_holding(idx, sample, 96)
    assert page == 500 // 96
    assert sample in browse.make_page(idx, page, 96).indices
    other = int(np.flatnonzero(mnist_train.labels != 1)[0])
    assert browse.page_holding(idx, other, 96) is None


def test_random_page_is_reproducible_and_in_range():
    pages = [browse.random_page(6000, 48, np.random.default_rng(7)) for _ in range(3)]
    assert len(set(pages)) == 1
    rng = np.random.default_rng(0)
    drawn = {browse.random_page(100, 24, rng) for _ in range(200)}
    assert drawn == set(range(5))


def test_page_size_must_be_positive():
    with pytest.raises(ValueError):
        browse.n_pages(10, 0)


@given(total=st.integers(0, 5000), size=st.integers(1, 200), page=st.integers(-5, 500))
def test_pages_partition_the_positions(total, size, page):
    idx = np.arange(total, dtype=np.int64) * 2
    p = browse.make_page(idx, page, size)
    assert 0 <= p.number < p.n_pages
    assert 0 <= p.start <= p.stop <= total
    assert p.stop - p.start == (min(size, total - p.start) if total else 0)
    if total:
        assert browse.page_holding(idx, int(idx[p.start]), size) == p.number
