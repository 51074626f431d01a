"""What a saved run's test predictions say: per-cell samples, confident mistakes, what a new run fixed.

Pure functions on arrays (no Streamlit): the results view
(:mod:`dashboard.views.results`) and the Runs page wire them to widgets.

A model trained on a subset that lacked some classes knows fewer classes than
the dataset (``model.classes_`` is a subset of ``0..k-1``); its
``predict_proba`` has one column per class it knows. Every function here works
on *full* probabilities, one column per dataset class, made by
:func:`full_probabilities`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neural_network import MLPClassifier

from dashboard.data.dataset import Dataset
from dashboard.errors import DataError
from dashboard.lab.training import predict_proba


def full_probabilities(probabilities: np.ndarray, model_classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Spread a model's probability columns over all ``n_classes`` dataset classes.

    Parameters
    ----------
    probabilities : ndarray, shape (n, len(model_classes))
        ``model.predict_proba`` output.
    model_classes : ndarray of int
        ``model.classes_``: the dataset class of each column.
    n_classes : int
        Classes of the dataset.

    Returns
    -------
    ndarray of float32, shape (n, n_classes)
        Classes the model never saw get probability 0.

    Raises
    ------
    DataError
        If the columns do not match the model's classes, or a class is outside
        ``0..n_classes-1``.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    classes = np.asarray(model_classes).astype(np.int64, copy=False).ravel()
    if p.ndim == 1:
        p = p[None]
    if p.ndim != 2:
        raise DataError(f"probabilities of shape {p.shape} are not one row per image")
    if len(classes) == 1 and p.shape[1] == 2:
        # A model fitted on one class: sklearn's predict_proba still returns two columns
        # ([1 - p, p] of its single logistic output) while predict always answers that
        # class -- "2 probabilities for 1 classes" of issue 9. All mass goes to that class.
        p = np.ones((p.shape[0], 1), dtype=np.float32)
    if p.shape[1] != len(classes):
        raise DataError(f"{p.shape[1]} probabilities for a model of {len(classes)} classes")
    if len(classes) and (classes.min() < 0 or classes.max() >= n_classes):
        raise DataError(f"the model predicts classes {classes.tolist()}, the dataset has {n_classes}")
    if len(classes) == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return p
    out = np.zeros((p.shape[0], n_classes), dtype=np.float32)
    out[:, classes] = p
    return out


def predict_full(model: MLPClassifier, images: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities of uint8 ``images`` for every dataset class (see :func:`full_probabilities`)."""
    return full_probabilities(predict_proba(model, images), model.classes_, n_classes)


@dataclass(frozen=True)
class RunOutputs:
    """A run's predictions on its test split, checked against it.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
    predictions : ndarray of int64, shape (n,)
    probabilities : ndarray of float32, shape (n, k)
        One column per dataset class.
    """

    labels: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray

    @property
    def confusion(self) -> np.ndarray:
        k = self.probabilities.shape[1]
        return np.bincount(self.labels * k + self.predictions, minlength=k * k).reshape(k, k)


def pair_outputs(
    test: Dataset,
    predictions: np.ndarray | None,
    probabilities: np.ndarray | None,
    saved_confusion: np.ndarray,
    model: MLPClassifier | None = None,
) -> RunOutputs:
    """Pair a run's saved test predictions with the test split, checking they belong together.

    Parameters
    ----------
    test : Dataset
        The test split as loaded now.
    predictions, probabilities : ndarray or None
        From the run's ``test.npz``; None (or unusable) to recompute them with ``model``.
    saved_confusion : ndarray, shape (k, k)
        The run's recorded test confusion matrix.
    model : MLPClassifier, optional
        Used when the saved arrays are missing or do not fit.

    Returns
    -------
    RunOutputs
        Read-only arrays.

    Raises
    ------
    DataError
        If the predictions do not reproduce the recorded confusion matrix on this
        test split: it is not the split the run was evaluated on.
    """
    k = test.n_classes
    labels = np.asarray(test.labels, dtype=np.int64)
    saved = np.asarray(saved_confusion)
    if saved.shape != (k, k):
        raise DataError(f"the run has {saved.shape[0]} classes, {test.name} has {k}: this is not its test split")
    usable = (
        predictions is not None and probabilities is not None
        and np.shape(predictions) == (len(test),) and np.ndim(probabilities) == 2
        and np.shape(probabilities)[0] == len(test)
    )
    if usable:
        pred = np.asarray(predictions, dtype=np.int64)
        proba = np.asarray(probabilities, dtype=np.float32)
        if proba.shape[1] != k:
            if model is None:
                usable = False
            else:
                proba = full_probabilities(proba, model.classes_, k)
        usable = usable and pred.min(initial=0) >= 0 and pred.max(initial=0) < k
    if not usable:
        if model is None:
            raise DataError("the run's saved test predictions do not fit this test split")
        proba = predict_full(model, test.images, k)
        pred = np.argmax(proba, axis=1).astype(np.int64)
    out = RunOutputs(labels, pred, proba)
    if not np.array_equal(out.confusion, saved):
        raise DataError(f"the predictions do not reproduce the run's test confusion matrix on {test.name}'s "
                        "test split as loaded now: the data changed since the run was saved")
    for a in (labels, pred, proba):
        a.flags.writeable = False
    return out


def cell_samples(outputs: RunOutputs, true: int, predicted: int) -> np.ndarray:
    """Indices of the test samples of class ``true`` predicted as ``predicted`` (one confusion cell)."""
    return np.flatnonzero((outputs.labels == true) & (outputs.predictions == predicted))


def confident_mistakes(outputs: RunOutputs, n: int) -> np.ndarray:
    """The ``n`` wrong predictions made with the highest confidence, most confident first."""
    wrong = np.flatnonzero(outputs.predictions != outputs.labels)
    confidence = outputs.probabilities[wrong, outputs.predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:n]]


def top_classes(probabilities: np.ndarray, n: int = 2) -> list[tuple[int, float]]:
    """The ``n`` most probable classes of one sample, as ``(class, probability)``."""
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(-p, kind="stable")[:n]
    return [(int(c), float(p[c])) for c in order]


@dataclass(frozen=True)
class CellChange:
    """How one cell of the confusion difference came about.

    Attributes
    ----------
    entered : ndarray of int
        Test samples in this cell for the new run, not for the old one.
    left : ndarray of int
        Test samples in this cell for the old run, not for the new one.
    diagonal : bool
        Whether the cell is a correct prediction (then ``entered`` are fixed
        and ``left`` broken; off the diagonal it is the other way round).
    """

    entered: np.ndarray
    left: np.ndarray
    diagonal: bool

    @property
    def fixed(self) -> np.ndarray:
        """Samples the new run gets right (on the diagonal) or no longer gets wrong this way."""
        return self.entered if self.diagonal else self.left

    @property
    def broken(self) -> np.ndarray:
        """Samples the new run gets wrong (on the diagonal) or newly gets wrong this way."""
        return self.left if self.diagonal else self.entered


def cell_change(labels: np.ndarray, old: np.ndarray, new: np.ndarray, true: int, predicted: int) -> CellChange:
    """The samples behind one cell of ``confusion(new) - confusion(old)``.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        True classes of the shared test split.
    old, new : ndarray of int, shape (n,)
        The two runs' predictions on it.
    true, predicted : int
        The cell.

    Returns
    -------
    CellChange
        ``len(entered) - len(left)`` equals the cell's difference.
    """
    labels, old, new = (np.asarray(a) for a in (labels, old, new))
    if not labels.shape == old.shape == new.shape:
        raise ValueError("labels and both runs' predictions must be of the same length")
    row = labels == true
    in_new, in_old = row & (new == predicted), row & (old == predicted)
    return CellChange(np.flatnonzero(in_new & ~in_old), np.flatnonzero(in_old & ~in_new), true == predicted)


def differing_params(params: list[dict]) -> list[str]:
    """Names of the parameters whose values are not the same in all of ``params``.

    Parameters
    ----------
    params : list of dict
        One parameter dict per run (``TrainParams.to_dict()``); a key missing
        from some runs counts as differing.

    Returns
    -------
    list of str
        In the order of first appearance.
    """
    keys: list[str] = []
    for p in params:
        keys.extend(k for k in p if k not in keys)
    missing = object()
    return [k for k in keys if len({repr(p.get(k, missing)) for p in params}) > 1]
