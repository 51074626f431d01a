"""Corrections: round trip, undo, refusal of tampered and stale files, export -> re-import."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.data import corrections as cr
from dashboard.data.dataset import Dataset
from dashboard.data.userdata import read_files
from dashboard.errors import DataError


@pytest.fixture(scope="module")
def small(mnist_train) -> Dataset:
    # A real slice of MNIST: 600 samples keep the CSV export quick.
    return Dataset(mnist_train.images[:600], mnist_train.labels[:600], mnist_train.class_names,
                   "mnist", "train", mnist_train.source)


def _other_label(ds, i):
    return (int(ds.labels[i]) + 1) % ds.n_classes


def test_round_trip_and_apply(small, tmp_path):
    path = tmp_path / "c.json"
    labels = small.labels
    c = cr.Corrections.for_dataset(small)
    c = c.relabel([3], _other_label(small, 3), labels)
    c = c.exclude([10, 11], labels)
    c = c.keep([20], labels)
    cr.save_corrections(c, path)
    back = cr.load_corrections(small, path)
    assert back == c
    assert back.version == 3
    assert back.relabelled() == {3: _other_label(small, 3)}
    assert back.excluded() == [10, 11]
    assert back.kept() == [20]

    fixed = cr.apply_corrections(small, back)
    assert isinstance(fixed, Dataset) and len(fixed) == len(small) - 2
    assert fixed.base_checksum == small.checksum and fixed.checksum != small.checksum
    assert fixed.corrections_version == 3
    assert 10 not in fixed.original_indices and 11 not in fixed.original_indices
    row = int(np.flatnonzero(fixed.original_indices == 3)[0])
    assert fixed.labels[row] == _other_label(small, 3)
    np.testing.assert_array_equal(fixed.images[row], small.images[3])
    # Every other label is untouched, and the original data too.
    others = fixed.original_indices != 3
    np.testing.assert_array_equal(fixed.labels[others], small.labels[fixed.original_indices[others]])
    assert int(small.labels[3]) != _other_label(small, 3)
    assert cr.corrections_record(fixed)["version"] == 3
    assert cr.corrections_record(small) is None


def test_undo_removes_last_batch(small):
    labels = small.labels
    c0 = cr.Corrections.for_dataset(small)
    c1 = c0.relabel([1], _other_label(small, 1), labels)
    c2 = c1.exclude([5, 6, 7], labels)  # one bulk action
    c3 = c2.undo()
    assert c3.version == 3 and c3.excluded() == [] and c3.relabelled() == c1.relabelled()
    assert c3.state_id == c1.state_id
    c4 = c3.undo()
    assert c4.relabelled() == {} and c4.state_id == ""
    with pytest.raises(DataError, match="nothing to undo"):
        c4.undo()
    # Relabelling each to its own suggestion is one batch too.
    c5 = c0.relabel_each([(1, _other_label(small, 1)), (2, _other_label(small, 2))], labels)
    assert len(c5.relabelled()) == 2 and c5.version == 1
    assert c5.undo().relabelled() == {}


def test_later_action_wins(small):
    labels = small.labels
    c = cr.Corrections.for_dataset(small).exclude([4], labels).relabel([4], _other_label(small, 4), labels)
    assert c.excluded() == [] and c.relabelled() == {4: _other_label(small, 4)}
    c = c.keep([4], labels)
    assert c.relabelled() == {} and c.kept() == [4] and c.state_id == ""


def test_tampered_file_is_refused(small, tmp_path):
    path = tmp_path / "c.json"
    c = cr.Corrections.for_dataset(small).relabel([3], _other_label(small, 3), small.labels)
    cr.save_corrections(c, path)
    doc = json.loads(path.read_text())
    doc["actions"][0]["new"] = (doc["actions"][0]["new"] + 1) % 10  # hand edit, digest kept
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="changed outside the app"):
        cr.load_corrections(small, path)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        cr.load_corrections(small, path)


def test_stale_file_is_refused(small, mnist_train, tmp_path):
    path = tmp_path / "c.json"
    c = cr.Corrections.for_dataset(small).exclude([0], small.labels)
    cr.save_corrections(c, path)
    # Same name and split, different data: another slice of MNIST.
    other = Dataset(mnist_train.images[600:1200], mnist_train.labels[600:1200], small.class_names,
                    "mnist", "train", "elsewhere")
    with pytest.raises(DataError, match="made for other data"):
        cr.load_corrections(other, path)
    with pytest.raises(DataError, match="made for other data"):
        cr.apply_corrections(other, c)


def test_bad_actions_are_refused(small):
    c = cr.Corrections.for_dataset(small)
    with pytest.raises(DataError, match="outside"):
        c.exclude([len(small)], small.labels)
    with pytest.raises(DataError, match="new label"):
        c.relabel([0], 10, small.labels)
    with pytest.raises(DataError, match="no samples"):
        c.keep([], small.labels)


def test_change_saves_and_rereads(small, tmp_path):
    path = tmp_path / "sub" / "c.json"
    c = cr.change(small, lambda c: c.exclude([2], small.labels), path)
    c = cr.change(small, lambda c: c.keep([8], small.labels), path)
    assert cr.load_corrections(small, path) == c and c.version == 2
    assert cr.corrections_path(small, tmp_path).name == "mnist-train.json"


@pytest.mark.parametrize("fmt", cr.EXPORT_FORMATS)
def test_export_reimport_gives_the_corrected_set(small, fmt):
    labels = small.labels
    c = cr.Corrections.for_dataset(small).relabel([3, 9], _other_label(small, 3), labels).exclude([0, 599], labels)
    fixed = cr.apply_corrections(small, c)
    files = cr.export_dataset(fixed, fmt)
    splits = read_files(files)
    assert len(splits) == 1
    back = next(iter(splits.values()))
    np.testing.assert_array_equal(back.images, fixed.images)
    np.testing.assert_array_equal(back.labels, fixed.labels)
    assert back.class_names == fixed.class_names
    if fmt == "idx":
        assert next(iter(splits)) == "train"


def test_export_unknown_format(small):
    with pytest.raises(DataError, match="unknown export format"):
        cr.export_dataset(small, "xlsx")
