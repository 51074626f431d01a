"""The parameter table, the linear baseline, degenerate sets and presets that adapt."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from dashboard.data.dataset import Dataset
from dashboard.errors import ParameterError
from dashboard.lab.models import first_layer
from dashboard.lab.params import PARAMS, PRESETS, TrainParams, describe_error, fit_preset
from dashboard.lab.training import Trainer, evaluate, predict_proba


def test_the_table_declares_every_field_once():
    assert [p.name for p in PARAMS] == [f.name for f in fields(TrainParams)]
    for spec in PARAMS:
        assert getattr(TrainParams(), spec.name) == spec.default
        assert spec.label and spec.help and spec.column and spec.flag.startswith("--")
        # every default round-trips through its text form
        assert spec.parse(spec.format(spec.default)) == spec.default


@pytest.mark.parametrize("values, label, flag", [
    ({"train_size": "-3"}, "Train subset size (0 = all)", "--train-size"),
    ({"learning_rate": "0"}, "Learning rate", "--learning-rate"),
    ({"hidden": "10,,3"}, "Hidden layer sizes", "--hidden"),
    ({"model": "forest"}, "Model", "--model"),
])
def test_errors_name_the_form_label_or_the_flag(values, label, flag):
    with pytest.raises(ParameterError) as info:
        TrainParams.from_strings(values)
    assert describe_error(info.value, "form").startswith(label + ": ")
    assert describe_error(info.value, "cli").startswith(flag + ": ")
    assert "train_size" not in describe_error(info.value, "form")


def test_linear_baseline_trains_epoch_by_epoch_and_evaluates(mnist_train, mnist_test):
    params = TrainParams(model="linear", epochs=3, train_size=5000, seed=2)
    trainer = Trainer(params, mnist_train)
    reports = list(trainer.run())
    assert [r.epoch for r in reports] == [1, 2, 3]
    assert all(np.isfinite(r.loss) for r in reports)
    assert reports[-1].val_accuracy > 0.8
    model = trainer.final_model()
    assert type(model).__name__ == "SGDClassifier"
    assert first_layer(model).shape == (784, 10)
    metrics = evaluate(model, mnist_test)
    assert 0.8 < metrics.accuracy < 0.95  # a linear model: below the MLP's ~0.97
    np.testing.assert_allclose(predict_proba(model, mnist_test.images[:5]).sum(axis=1), 1, atol=1e-5)
    # Same seed, same run.
    again = Trainer(params, mnist_train)
    assert [r.val_accuracy for r in again.run()] == [r.val_accuracy for r in reports]


def _tiny(labels, n_classes):
    labels = np.asarray(labels)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(len(labels), 4, 4), dtype=np.uint8)
    return Dataset(images, labels, tuple(f"c{i}" for i in range(n_classes)), "tiny", "train", "test")


def test_degenerate_sets_are_refused_with_a_message_before_any_work():
    with pytest.raises(ParameterError, match="only one class"):
        Trainer(TrainParams(batch_size=1, val_fraction=0.5), _tiny([0] * 20, 1))
    with pytest.raises(ParameterError, match="single training sample"):
        Trainer(TrainParams(batch_size=1, val_fraction=0.5), _tiny([0] * 20 + [1], 2))
    with pytest.raises(ParameterError):
        Trainer(TrainParams(batch_size=1, val_fraction=0.5), _tiny([0, 1], 2))


def test_a_class_missing_from_train_still_trains_with_every_class_column():
    labels = [0] * 30 + [1] * 30  # class 2 exists (a test split may hold it) but not in train
    trainer = Trainer(TrainParams(hidden=(8,), epochs=2, batch_size=10, val_fraction=0.3), _tiny(labels, 3))
    list(trainer.run())
    model = trainer.final_model()
    assert predict_proba(model, np.zeros((2, 4, 4), np.uint8)).shape == (2, 3)


def test_presets_adapt_to_the_small_digits_set_and_say_what_changed(digits_train):
    quick = PRESETS["quick"]
    with pytest.raises(ParameterError):
        quick.validate(len(digits_train), digits_train.n_classes)
    fitted, changes = fit_preset(quick, len(digits_train), digits_train.n_classes)
    fitted.validate(len(digits_train), digits_train.n_classes)
    assert fitted.train_size == 0 and any("Train subset size" in c for c in changes)
    untouched, none = fit_preset(quick, 60000, 10)
    assert untouched == quick and none == []
    assert replace(PRESETS["linear"]).model == "linear"
