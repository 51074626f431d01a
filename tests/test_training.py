"""Epoch-by-epoch training on real data, parameter checks, and the final evaluation."""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np
import pytest

from dashboard.errors import ParameterError
from dashboard.lab.training import (
    PRESETS,
    EpochReport,
    Trainer,
    TrainParams,
    estimate_seconds,
    evaluate,
    parse_hidden,
    scale_images,
    split_indices,
)

SHORT = TrainParams(hidden=(64,), epochs=2, train_size=3000, val_fraction=0.2, batch_size=100, seed=1)


@pytest.fixture(scope="module")
def short_run(mnist_train):
    trainer = Trainer(SHORT, mnist_train)
    reports = list(trainer.run())
    return trainer, reports


def test_short_run_learns_and_reports_each_epoch(short_run, mnist_test):
    trainer, reports = short_run
    assert [r.epoch for r in reports] == [1, 2]
    assert trainer.history == reports
    assert reports[-1].loss < reports[0].loss
    assert reports[-1].val_accuracy > 0.8  # chance is 0.1
    assert reports[-1].train_accuracy > 0.8
    conf = reports[-1].val_confusion
    assert conf.shape == (10, 10) and conf.sum() == trainer.n_val == 600
    assert math.isclose(reports[-1].val_accuracy, np.trace(conf) / conf.sum())
    assert trainer.n_fit == 2400
    # float32 end to end: sklearn keeps the input dtype for the weights
    assert trainer.model.coefs_[0].dtype == np.float32
    metrics = evaluate(trainer.final_model(), mnist_test)
    assert metrics.accuracy > 0.8
    assert metrics.confusion.sum() == len(mnist_test)
    assert metrics.probabilities.shape == (len(mnist_test), 10)
    np.testing.assert_allclose(metrics.probabilities.sum(axis=1), 1, atol=1e-4)
    assert np.array_equal(metrics.support, mnist_test.class_counts())
    assert metrics.precision.shape == metrics.recall.shape == metrics.f1.shape == (10,)


def test_stop_after_first_epoch_keeps_a_usable_model(mnist_train, mnist_test):
    stop = threading.Event()
    trainer = Trainer(SHORT, mnist_train)
    for report in trainer.run(stop):
        stop.set()  # as the Stop button does, while epoch 1 is reported
    assert len(trainer.history) == 1 and trainer.stopped
    metrics = evaluate(trainer.final_model(), mnist_test)
    assert metrics.accuracy > 0.7


# A high learning rate makes validation accuracy wobble: the best epoch (5) is not the last (6).
WOBBLY = TrainParams(hidden=(32,), epochs=6, train_size=3000, batch_size=100, learning_rate=0.02, seed=1)


def _val_accuracy(model, train, params) -> float:
    """Accuracy of ``model`` on the run's validation part, recomputed from the raw split."""
    labels = np.asarray(train.labels)
    _, val_idx = split_indices(labels, params)
    return float(np.mean(model.predict(scale_images(train.flat()[val_idx])) == labels[val_idx]))


def test_keep_best_restores_the_best_validation_epoch(mnist_train):
    trainer = Trainer(WOBBLY, mnist_train)
    reports = list(trainer.run())
    accs = [r.val_accuracy for r in reports]
    # The case worth testing: the last epoch is worse than the best one.
    assert max(accs) > accs[-1]
    best = int(np.argmax(accs)) + 1  # the first epoch reaching the maximum
    assert trainer.best_epoch == trainer.kept_epoch == best < len(reports)
    assert reports[trainer.kept_epoch - 1].val_accuracy == max(accs)
    model = trainer.final_model()
    assert _val_accuracy(model, mnist_train, WOBBLY) == max(accs)
    # The final model owns its weights: no reader of it ever sees training write into them.
    assert not np.shares_memory(model.coefs_[0], trainer.model.coefs_[0])


def test_without_keep_best_the_last_epoch_is_kept(mnist_train):
    params = replace(WOBBLY, keep_best=False)
    trainer = Trainer(params, mnist_train)
    reports = list(trainer.run())
    assert trainer.kept_epoch == len(reports) == 6
    assert trainer.best_epoch < 6  # the same run as above: the best epoch is known, just not kept
    assert _val_accuracy(trainer.final_model(), mnist_train, params) == reports[-1].val_accuracy


def test_stop_keeps_the_best_epoch_so_far(mnist_train):
    trainer = Trainer(WOBBLY, mnist_train)
    for report in trainer.run():
        if report.epoch == 6:
            break  # the caller walked away without finishing the generator
    # final_model settles the weights even when run() was not exhausted.
    model = trainer.final_model()
    accs = [r.val_accuracy for r in trainer.history]
    assert trainer.kept_epoch == int(np.argmax(accs)) + 1
    assert _val_accuracy(model, mnist_train, WOBBLY) == max(accs)
    stop = threading.Event()
    trainer = Trainer(WOBBLY, mnist_train)
    for report in trainer.run(stop):
        if report.epoch == 3:
            stop.set()  # the Stop button
    assert trainer.stopped and len(trainer.history) == 3
    accs = [r.val_accuracy for r in trainer.history]
    assert trainer.kept_epoch == int(np.argmax(accs)) + 1
    assert _val_accuracy(trainer.final_model(), mnist_train, WOBBLY) == max(accs)


def test_same_seed_same_model_and_epochs_reshuffle(mnist_train):
    # partial_fit re-reads random_state each call; an int would replay one shuffle.
    params = TrainParams(hidden=(16,), epochs=2, train_size=2000, batch_size=50, seed=3)
    a, b = Trainer(params, mnist_train), Trainer(params, mnist_train)
    la = [r.loss for r in a.run()]
    lb = [r.loss for r in b.run()]
    assert la == lb
    np.testing.assert_array_equal(a.model.coefs_[0], b.model.coefs_[0])


def test_split_is_stratified_disjoint_and_seeded(mnist_train):
    labels = np.asarray(mnist_train.labels)
    params = TrainParams(train_size=5000, val_fraction=0.1, seed=7)
    fit_idx, val_idx = split_indices(labels, params)
    assert len(fit_idx) + len(val_idx) == 5000 and len(val_idx) == 500
    assert not set(fit_idx) & set(val_idx)
    counts = np.bincount(labels[val_idx], minlength=10)
    expected = mnist_train.class_counts() / len(labels) * 500
    assert np.all(np.abs(counts - expected) <= 1.5)
    again = split_indices(labels, params)
    assert np.array_equal(again[0], fit_idx) and np.array_equal(again[1], val_idx)


def test_digits_8x8_trains(digits_train):
    params = TrainParams(hidden=(32,), epochs=3, batch_size=32, val_fraction=0.2, learning_rate=0.01)
    trainer = Trainer(params, digits_train)
    reports = list(trainer.run())
    assert trainer.model.coefs_[0].shape == (64, 32)
    assert reports[-1].val_accuracy > 0.5


def test_scale_images_is_float32_in_unit_range():
    imgs = np.array([[[0, 255], [128, 1]]], dtype=np.uint8)
    out = scale_images(imgs)
    assert out.dtype == np.float32 and out.shape == (1, 4)
    np.testing.assert_allclose(out, [[0, 1, 128 / 255, 1 / 255]], rtol=1e-6)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"hidden": ""}, "hidden"),
        ({"hidden": "256,,128"}, "hidden"),
        ({"hidden": "256,-5"}, "hidden"),
        ({"hidden": "0"}, "hidden"),
        ({"hidden": "abc"}, "hidden"),
        ({"learning_rate": "0"}, "learning_rate"),
        ({"learning_rate": "-0.1"}, "learning_rate"),
        ({"learning_rate": "nan"}, "learning_rate"),
        ({"alpha": "NaN"}, "alpha"),
        ({"alpha": "-1"}, "alpha"),
        ({"batch_size": "0"}, "batch_size"),
        ({"epochs": "0"}, "epochs"),
        ({"epochs": "2.5"}, "epochs"),
        ({"val_fraction": "0"}, "val_fraction"),
        ({"val_fraction": "0.9"}, "val_fraction"),
        ({"val_fraction": "inf"}, "val_fraction"),
        ({"activation": "softmax"}, "activation"),
        ({"solver": "lbfgs"}, "solver"),
        ({"train_size": "-3"}, "train_size"),
        ({"seed": "-1"}, "seed"),
    ],
)
def test_bad_parameters_name_the_field(values, field):
    with pytest.raises(ParameterError) as info:
        TrainParams.from_strings(values)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}:")


def test_data_dependent_checks_happen_before_training(digits_train):
    n = len(digits_train)
    with pytest.raises(ParameterError, match="^batch_size:") as info:
        Trainer(TrainParams(batch_size=n), digits_train)
    assert info.value.field == "batch_size"
    with pytest.raises(ParameterError, match="^train_size:"):
        Trainer(TrainParams(train_size=n + 1), digits_train)
    with pytest.raises(ParameterError, match="^val_fraction:"):
        Trainer(TrainParams(train_size=40, batch_size=10, val_fraction=0.1), digits_train)
    with pytest.raises(ParameterError, match="^hidden:"):
        Trainer(TrainParams(hidden=()), digits_train)
    with pytest.raises(ParameterError, match="^learning_rate:"):
        Trainer(TrainParams(learning_rate=float("nan")), digits_train)


def test_parse_and_round_trip():
    assert parse_hidden("hidden", " 256, 128 ") == (256, 128)
    p = TrainParams.from_strings({"hidden": "32,16", "alpha": "1e-3", "epochs": "4", "seed": None})
    assert p.hidden == (32, 16) and p.alpha == 1e-3 and p.epochs == 4 and p.seed == 0
    assert TrainParams.from_dict(p.to_dict()) == p
    assert p.keep_best is True
    for text, value in (("False", False), ("no", False), ("0", False), ("true", True), (" On ", True)):
        assert TrainParams.from_strings({"keep_best": text}).keep_best is value
    with pytest.raises(ParameterError, match="^keep_best:"):
        TrainParams.from_strings({"keep_best": "maybe"})
    with pytest.raises(ParameterError, match="^keep_best:"):
        TrainParams(keep_best="yes").validate()
    for preset in PRESETS.values():
        preset.validate(60000, 10)
        assert preset.keep_best


def test_epoch_report_round_trips():
    r = EpochReport(1, 2, 0.5, 0.9, 0.8, np.eye(3, dtype=np.int64), 1.0, 1.5)
    back = EpochReport.from_dict(r.to_dict())
    assert back.loss == r.loss and np.array_equal(back.val_confusion, r.val_confusion)
    assert "epoch 1/2" in r.line()


def test_estimate_grows_with_work():
    small = estimate_seconds(PRESETS["quick"], 60000, 784, 10)
    best = estimate_seconds(PRESETS["best"], 60000, 784, 10)
    assert 0 < small < best
    longer, shorter = (estimate_seconds(TrainParams(epochs=e), 60000, 784, 10) for e in (20, 10))
    assert longer > shorter


def _weights(model) -> list[np.ndarray]:
    return [w.copy() for w in model.coefs_ + model.intercepts_]


def test_average_last_ends_with_the_mean_of_the_last_k_epochs(mnist_train):
    # keep_best is on too (WOBBLY's default): averaging overrides it.
    params = replace(WOBBLY, average_last=3)
    trainer = Trainer(params, mnist_train)
    snapshots = []
    for report in trainer.run():
        # The weights at the end of each epoch, as the caller sees them between epochs.
        snapshots.append(_weights(trainer.model))
    assert len(snapshots) == 6 and params.keep_best
    assert trainer.averaged_epochs == 3 and trainer.kept_epoch == 6
    model = trainer.final_model()
    final = model.coefs_ + model.intercepts_
    for i, w in enumerate(final):
        expected = (snapshots[3][i].astype(np.float64) + snapshots[4][i] + snapshots[5][i]) / 3
        assert w.dtype == np.float32 and w.shape == expected.shape
        np.testing.assert_allclose(w, expected, rtol=1e-5, atol=1e-7)
        # Really an average, not the last epoch's weights nor the best epoch's.
        assert not np.allclose(w, snapshots[5][i]) and not np.allclose(w, snapshots[trainer.best_epoch - 1][i])
    assert not np.shares_memory(model.coefs_[0], trainer.model.coefs_[0])
    # Settling again (final_model called twice) does not average the average.
    np.testing.assert_array_equal(trainer.final_model().coefs_[0], final[0])
    # Averaging a well-trained stretch keeps a usable model.
    assert _val_accuracy(model, mnist_train, params) > 0.8


def test_average_last_after_a_stop_averages_the_epochs_run(mnist_train):
    stop = threading.Event()
    trainer = Trainer(replace(SHORT, epochs=4, average_last=3), mnist_train)
    snapshots = []
    for report in trainer.run(stop):
        snapshots.append(_weights(trainer.model))
        if report.epoch == 2:
            stop.set()
    assert trainer.stopped and len(trainer.history) == 2
    assert trainer.averaged_epochs == 2 and trainer.kept_epoch == 2
    final = trainer.final_model()
    for w, a, b in zip(final.coefs_ + final.intercepts_, *snapshots):
        np.testing.assert_allclose(w, (a.astype(np.float64) + b) / 2, rtol=1e-5, atol=1e-7)


def test_average_last_is_validated():
    assert TrainParams().average_last == 0
    assert TrainParams.from_strings({"average_last": "5", "epochs": "10"}).average_last == 5
    assert TrainParams.from_strings({"average_last": "10", "epochs": "10"}).average_last == 10
    for values in ({"average_last": "-1"}, {"average_last": "11", "epochs": "10"}, {"average_last": "two"},
                   {"average_last": "2.5"}):
        with pytest.raises(ParameterError, match="^average_last:") as info:
            TrainParams.from_strings(values)
        assert info.value.field == "average_last"
    for bad in (-1, 3.0, True, None):
        with pytest.raises(ParameterError, match="^average_last:"):
            TrainParams(epochs=10, average_last=bad).validate()
    p = TrainParams(epochs=10, average_last=4)
    assert TrainParams.from_dict(p.to_dict()) == p
    # Runs saved before the field existed load with averaging off.
    old = p.to_dict()
    del old["average_last"]
    assert TrainParams.from_dict(old).average_last == 0
