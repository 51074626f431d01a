"""A saved run's predictions on a split: cached on disk and in memory, filters, sorts, counts, first layer."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.errors import DataError
from dashboard.lab import predictions as P
from dashboard.lab.runs import RunStore
from dashboard.lab.training import TrainParams
from tests.mkrun import train_and_save

PARAMS = TrainParams(hidden=(32,), epochs=3, train_size=3000, batch_size=100, seed=3)


@pytest.fixture(scope="module")
def run_root(tmp_path_factory, mnist_train, mnist_test):
    root = tmp_path_factory.mktemp("runs")
    run = train_and_save(root, mnist_train, mnist_test, PARAMS)
    return root, run


def test_predictions_match_the_saved_test_outputs_and_confusion(tmp_path, run_root, mnist_test):
    root, run = run_root
    store = RunStore(root)
    cache = P.PredictionCache(store, tmp_path / "pred")
    preds = cache.get(run.run_id, mnist_test)
    saved_pred, saved_proba = store.load_test_outputs(run.run_id)
    np.testing.assert_array_equal(preds.predicted, saved_pred)
    np.testing.assert_allclose(preds.probabilities, saved_proba, atol=1e-6)
    confusion = np.asarray(run.info["metrics"]["test_confusion"])
    off_diagonal = confusion.sum() - np.trace(confusion)
    assert int(preds.wrong.sum()) == off_diagonal
    assert int(P.filter_mask(preds, misclassified=True).sum()) == off_diagonal
    assert P.filter_counts(preds).wrong == off_diagonal
    # Loss is the cross-entropy: its mean matches sklearn's log_loss.
    from sklearn.metrics import log_loss

    assert preds.loss.mean() == pytest.approx(log_loss(mnist_test.labels, saved_proba, labels=range(10)), rel=1e-4)


def test_cached_on_disk_as_plain_npy_and_in_memory(tmp_path, run_root, mnist_test):
    root, run = run_root
    store = RunStore(root)
    cache = P.PredictionCache(store, tmp_path / "pred")
    first = cache.get(run.run_id, mnist_test)
    path = cache.path(run.run_id, mnist_test)
    assert path.is_file() and mnist_test.checksum in path.name
    on_disk = np.load(path, allow_pickle=False)
    np.testing.assert_array_equal(on_disk, first.probabilities)
    assert cache.get(run.run_id, mnist_test) is first  # memory
    # A new cache (a new process) reads the file instead of loading the model.
    fresh = P.PredictionCache(store, tmp_path / "pred")
    again = fresh.get(run.run_id, mnist_test)
    assert not fresh._models
    np.testing.assert_array_equal(again.probabilities, first.probabilities)
    # A damaged file is recomputed, not trusted.
    path.write_bytes(b"garbage")
    np.testing.assert_array_equal(P.PredictionCache(store, tmp_path / "pred").get(run.run_id, mnist_test).probabilities,
                                  first.probabilities)


def test_a_run_of_another_image_size_is_refused(tmp_path, run_root, digits_train):
    root, run = run_root
    with pytest.raises(DataError, match="28x28"):
        P.PredictionCache(RunStore(root), tmp_path).get(run.run_id, digits_train)


def test_filters_sorts_and_counts(tmp_path, run_root, mnist_test):
    root, run = run_root
    preds = P.PredictionCache(RunStore(root), tmp_path).get(run.run_id, mnist_test)
    right = P.filter_mask(preds, misclassified=False)
    assert (right | P.filter_mask(preds, misclassified=True)).all() and not (right & preds.wrong).any()
    as7 = P.filter_mask(preds, predicted=[7])
    assert (preds.predicted[as7] == 7).all() and as7.sum() == (preds.predicted == 7).sum()
    unsure = P.filter_mask(preds, confidence=(0.0, 0.6))
    assert (preds.confidence[unsure] <= 0.6).all() and unsure.sum() > 0
    both = P.filter_mask(preds, misclassified=True, predicted=[7], confidence=(0.9, 1.0))
    assert (preds.wrong[both] & (preds.predicted[both] == 7) & (preds.confidence[both] >= 0.9)).all()

    idx = np.flatnonzero(mnist_test.labels == 3)
    by_loss = P.sort_indices(idx, preds, "loss", descending=True)
    assert sorted(by_loss) == sorted(idx)
    assert np.all(np.diff(preds.loss[by_loss]) <= 0)
    assert preds.wrong[by_loss[0]]  # the worst loss of a class is a mistake
    by_conf = P.sort_indices(idx, preds, "confidence")
    assert np.all(np.diff(preds.confidence[by_conf]) >= 0)
    with pytest.raises(DataError):
        P.sort_indices(idx, preds, "colour")

    counts = P.filter_counts(preds, idx)
    assert counts.right + counts.wrong == len(idx)
    assert counts.per_predicted.sum() == len(idx) and counts.per_predicted[3] == (preds.predicted[idx] == 3).sum()
    assert counts.per_confidence.sum() == len(idx)
    assert counts.wrong == (preds.predicted[idx] != 3).sum()


def test_first_layer_view(tmp_path, run_root, mnist_test):
    root, run = run_root
    model = RunStore(root).load_model(run.run_id)
    image = mnist_test.images[0]
    view = P.first_layer_view(model, image, top=5)
    assert view.weights.shape == (5, 28, 28)
    hidden = np.maximum(image.reshape(-1) / 255.0 @ model.coefs_[0] + model.intercepts_[0], 0)
    assert view.units[0] == int(np.argmax(hidden))
    np.testing.assert_allclose(view.activations, np.sort(hidden)[::-1][:5], rtol=1e-4)
    assert np.all(np.diff(view.activations) <= 0)
    np.testing.assert_allclose(view.weights[1].reshape(-1), model.coefs_[0][:, view.units[1]], rtol=1e-6)
    assert P.first_layer_view(model, image, top=100).units.shape == (32,)
