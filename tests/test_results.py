"""The pure results core (dashboard.lab.results) on real runs of real data (scikit-learn's digits)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.data.loading import load_dataset
from dashboard.errors import DataError
from dashboard.lab.results import (
    cell_change,
    cell_samples,
    confident_mistakes,
    differing_params,
    pair_outputs,
    predict_full,
)
from dashboard.lab.training import Trainer, TrainParams, evaluate


def fit(params: TrainParams, train):
    trainer = Trainer(params, train)
    list(trainer.run())
    return trainer.final_model()


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="module")
def two_runs(digits):
    train, test = digits
    a = fit(TrainParams(hidden=(4,), epochs=1, batch_size=50, seed=0), train)
    b = fit(TrainParams(hidden=(32,), epochs=5, batch_size=50, seed=1), train)
    return evaluate(a, test), evaluate(b, test), b


def test_pair_outputs_checks_the_test_split_and_recomputes_when_needed(digits, two_runs):
    train, test = digits
    _, mb, model = two_runs
    out = pair_outputs(test, mb.predictions, mb.probabilities, mb.confusion)
    assert np.array_equal(out.confusion, mb.confusion) and not out.probabilities.flags.writeable
    # no saved arrays: recomputed with the model, same answer
    again = pair_outputs(test, None, None, mb.confusion, model)
    assert np.array_equal(again.predictions, mb.predictions)
    # another split (or changed data) does not reproduce the recorded matrix: refused
    with pytest.raises(DataError, match="not|do not"):
        pair_outputs(train, None, None, mb.confusion, model)
    with pytest.raises(DataError):
        pair_outputs(test, mb.predictions, mb.probabilities, np.eye(3, dtype=int))


def test_cells_mistakes_and_what_a_new_run_changed(digits, two_runs):
    _, test = digits
    ma, mb, _ = two_runs
    out = pair_outputs(test, mb.predictions, mb.probabilities, mb.confusion)
    for t, p in [(3, 3), (8, 1)]:
        assert len(cell_samples(out, t, p)) == mb.confusion[t, p]
    worst = confident_mistakes(out, 5)
    conf = out.probabilities[worst, out.predictions[worst]]
    assert (out.predictions[worst] != out.labels[worst]).all() and (np.diff(conf) <= 0).all()
    diff = mb.confusion - ma.confusion
    for t in range(10):
        for p in range(10):
            ch = cell_change(test.labels, ma.predictions, mb.predictions, t, p)
            assert len(ch.entered) - len(ch.left) == diff[t, p]
            if t == p:  # on the diagonal, entering means now right
                assert (mb.predictions[ch.fixed] == t).all() and (ma.predictions[ch.fixed] != t).all()


def test_predict_full_and_differing_params(digits, two_runs):
    _, test = digits
    model = two_runs[2]
    p = predict_full(model, test.images[:3], 10)
    assert p.shape == (3, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5)
    a, b = TrainParams(hidden=(4,)).to_dict(), TrainParams(hidden=(4,), alpha=1e-2).to_dict()
    assert differing_params([a, b]) == ["alpha"]
    assert differing_params([a, a]) == []
