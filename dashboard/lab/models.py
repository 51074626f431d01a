"""The models the trainer can train, behind one small interface.

A model adapter wraps a scikit-learn estimator that learns epoch by epoch
(``partial_fit``) and exposes what the trainer's weight selectors need: the
weights as a list of arrays, replaceable as a whole. :class:`MLP` wraps
``MLPClassifier``; :class:`Linear` wraps ``SGDClassifier(loss="log_loss")``, a
one-vs-rest logistic regression, the baseline that shows what hidden layers buy.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np
import sklearn
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier

from dashboard.lab.params import TrainParams


class MLP:
    """``MLPClassifier`` trained one epoch per :meth:`fit_epoch`."""

    def __init__(self, params: TrainParams) -> None:
        # random_state is a RandomState, not an int: partial_fit re-reads it on every call, and an
        # int would replay the same shuffle every epoch.
        self.estimator = MLPClassifier(
            hidden_layer_sizes=params.hidden, activation=params.activation, solver=params.solver,
            alpha=params.alpha, learning_rate_init=params.learning_rate, batch_size=params.batch_size,
            max_iter=params.epochs, shuffle=True, random_state=np.random.RandomState(params.seed),
            # Run exactly `epochs` epochs; stopping is the user's call.
            n_iter_no_change=params.epochs + 1, tol=0.0,
        )
        self.seed = params.seed
        self._epoch_loss = float("nan")

    def fit_epoch(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]], classes: np.ndarray) -> None:
        """One pass over the ``(x, y)`` chunks (one ``partial_fit`` each; the optimizer carries over)."""
        total, n = 0.0, 0
        with sklearn.config_context(assume_finite=True):
            for x, y in chunks:
                self.estimator.partial_fit(x, y, classes=classes)
                total += float(self.estimator.loss_) * len(y)
                n += len(y)
        self._epoch_loss = total / max(1, n)

    def loss(self, x_sub: np.ndarray, y_sub: np.ndarray) -> float:
        """Mean training loss of the last epoch (with the L2 term), as sklearn reports it per chunk."""
        return self._epoch_loss

    def get_weights(self) -> list[np.ndarray]:
        """The live weight arrays (do not modify)."""
        return list(self.estimator.coefs_) + list(self.estimator.intercepts_)

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Replace the weights with new arrays (rebinding, never writing into arrays a reader holds)."""
        n = len(self.estimator.coefs_)
        self.estimator.coefs_ = [np.array(w) for w in weights[:n]]
        self.estimator.intercepts_ = [np.array(w) for w in weights[n:]]

    def final(self):
        """A copy ready to save: own weight arrays, no optimizer state, an int ``random_state``."""
        out = copy.copy(self.estimator)
        out.coefs_ = [w.copy() for w in self.estimator.coefs_]
        out.intercepts_ = [w.copy() for w in self.estimator.intercepts_]
        out.random_state = int(self.seed)
        for attr in ("_optimizer", "_random_state"):
            out.__dict__.pop(attr, None)
        return out


class Linear:
    """``SGDClassifier`` with log loss (one-vs-rest logistic regression), one pass per :meth:`fit_epoch`."""

    def __init__(self, params: TrainParams) -> None:
        self.estimator = SGDClassifier(
            loss="log_loss", alpha=params.alpha, learning_rate="optimal", shuffle=True,
            random_state=np.random.RandomState(params.seed), tol=None,
        )
        self.seed = params.seed

    def fit_epoch(self, chunks: Iterable[tuple[np.ndarray, np.ndarray]], classes: np.ndarray) -> None:
        """One pass over the ``(x, y)`` chunks."""
        with sklearn.config_context(assume_finite=True):
            for x, y in chunks:
                self.estimator.partial_fit(x, y, classes=classes)

    def loss(self, x_sub: np.ndarray, y_sub: np.ndarray) -> float:
        """Log loss on the fixed fit subset (SGDClassifier keeps no running loss)."""
        proba = self.estimator.predict_proba(x_sub)
        return float(log_loss(y_sub, proba, labels=self.estimator.classes_))

    def get_weights(self) -> list[np.ndarray]:
        return [self.estimator.coef_, self.estimator.intercept_]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        self.estimator.coef_ = np.array(weights[0])
        self.estimator.intercept_ = np.array(weights[1])

    def final(self):
        out = copy.copy(self.estimator)
        out.coef_ = self.estimator.coef_.copy()
        out.intercept_ = self.estimator.intercept_.copy()
        out.random_state = int(self.seed)
        return out


MODEL_CLASSES = {"mlp": MLP, "linear": Linear}


def make_model(params: TrainParams) -> MLP | Linear:
    """A fresh, untrained model adapter for ``params.model``."""
    return MODEL_CLASSES[params.model](params)


def first_layer(estimator) -> np.ndarray:
    """Input weights as ``(n_features, units)``: an MLP's first layer, a linear model's per-class weights."""
    if hasattr(estimator, "coefs_"):
        return np.asarray(estimator.coefs_[0])
    return np.asarray(estimator.coef_).T
