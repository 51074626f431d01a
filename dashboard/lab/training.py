"""Training a scikit-learn MLP one epoch at a time, and evaluating it once on the test split.

Pure code: no Streamlit. The app, the CLI and the benchmark all train through
:class:`Trainer`, whose :meth:`Trainer.run` yields an :class:`EpochReport` after
every epoch so the caller can draw, log or stop between epochs.

The split discipline: the training split is cut into a *fit* part and a
stratified *validation* part; the model learns from the fit part only, the
per-epoch figures use the fit subset and the validation part, and the test split
is touched once, by :func:`evaluate`, after training.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import sklearn
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from dashboard.data.dataset import Dataset
from dashboard.errors import ParameterError
from dashboard.lab.models import first_layer, make_model

# The parameters live in params.py (one table); re-exported for the modules that import them from here.
from dashboard.lab.params import (  # noqa: F401
    ACTIVATIONS,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_UNITS,
    MODELS,
    PRESETS,
    SOLVERS,
    TrainParams,
    n_val_of as _n_val,
    parse_hidden,
)

# Per-epoch train accuracy is measured on a fixed subset of the fit data, small
# enough that the evaluation stays a few percent of an epoch.
TRAIN_EVAL_SIZE = 2000

# Test accuracies to show next to a run's result (see docs/presets.md).
BASELINES: dict[str, dict[str, float]] = {
    "mnist": {
        "published MLPClassifier (Fashion-MNIST benchmark)": 0.972,
        "plain fit, hidden (100,), 10 s": 0.9775,
    },
    "fashion-mnist": {
        "published MLPClassifier (Fashion-MNIST benchmark)": 0.871,
        "plain fit, hidden (100,), 10 s": 0.8831,
    },
}


@dataclass(frozen=True)
class EpochReport:
    """What the caller learns after one epoch.

    Attributes
    ----------
    epoch : int
        1-based number of the finished epoch.
    epochs : int
        Epochs planned.
    loss : float
        Mean training loss over the epoch (with the L2 term), as sklearn reports it.
    train_accuracy : float
        Accuracy on a fixed subset of the fit data.
    val_accuracy : float
        Accuracy on the validation part.
    val_confusion : ndarray of int64, shape (k, k)
        Validation confusion matrix, rows = true class, columns = predicted.
    seconds : float
        Wall time of this epoch, training and evaluation.
    elapsed : float
        Wall time since training started (data preparation included).
    """

    epoch: int
    epochs: int
    loss: float
    train_accuracy: float
    val_accuracy: float
    val_confusion: np.ndarray
    seconds: float
    elapsed: float

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out = asdict(self)
        out["val_confusion"] = self.val_confusion.tolist()
        return out

    @classmethod
    def from_dict(cls, values: Mapping) -> EpochReport:
        """Inverse of :meth:`to_dict`."""
        kwargs = dict(values)
        kwargs["val_confusion"] = np.asarray(kwargs["val_confusion"], dtype=np.int64)
        return cls(**kwargs)

    def line(self) -> str:
        """One human line, as the CLI prints it."""
        return (
            f"epoch {self.epoch}/{self.epochs}  loss {self.loss:.4f}  "
            f"train_acc {self.train_accuracy:.4f}  val_acc {self.val_accuracy:.4f}  {self.seconds:.2f}s"
        )


CHUNK_ROWS = 8192  # rows made float32 at a time while training (about 25 MB for 28x28)


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels ``(n, ...)`` to float32 rows ``(n, features)`` in 0-1.

    Parameters
    ----------
    images : ndarray of uint8
        Shape ``(n, h, w)`` or ``(n, h*w)``.

    Returns
    -------
    ndarray of float32, shape (n, h*w), C-contiguous
    """
    flat = np.asarray(images).reshape(len(images), -1)
    out = np.empty(flat.shape, dtype=np.float32)
    np.multiply(flat, np.float32(1 / 255), out=out, casting="unsafe")
    return out


def split_indices(labels: np.ndarray, params: TrainParams) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fit and validation samples of a training split.

    Both the optional subset and the validation part are stratified by label
    and depend on ``params.seed`` only.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    params : TrainParams

    Returns
    -------
    fit_idx, val_idx : ndarray of int64
        Disjoint, sorted.
    """
    n = len(labels)
    idx = np.arange(n)
    try:
        if params.n_used(n) < n:
            idx, _ = train_test_split(
                idx, train_size=params.train_size, stratify=labels, random_state=params.seed
            )
        fit_idx, val_idx = train_test_split(
            idx, test_size=params.val_fraction, stratify=labels[idx], random_state=params.seed
        )
    except ValueError as exc:
        # e.g. a class with a single member cannot be stratified
        raise ParameterError("train_size", f"cannot make a stratified split: {exc}") from None
    return np.sort(fit_idx), np.sort(val_idx)


class KeepLast:
    """Weight selector: the model ends with the last epoch's weights."""

    def observe(self, epoch: int, is_best: bool, weights: list[np.ndarray]) -> None:
        pass

    def choose(self, n_epochs: int, best_epoch: int) -> tuple[list[np.ndarray] | None, int, int]:
        """``(weights or None to keep the current ones, kept_epoch, averaged_epochs)``."""
        return None, n_epochs, 0


class KeepBest(KeepLast):
    """Weight selector: the weights of the best-validation epoch (a copy kept when it improves)."""

    def __init__(self) -> None:
        self._best: list[np.ndarray] | None = None
        self._epoch = 0

    def observe(self, epoch: int, is_best: bool, weights: list[np.ndarray]) -> None:
        if is_best:
            # ~2 MB for the "best" preset: negligible next to an epoch.
            self._best, self._epoch = [w.copy() for w in weights], epoch

    def choose(self, n_epochs: int, best_epoch: int) -> tuple[list[np.ndarray] | None, int, int]:
        if self._best is None:
            return None, n_epochs, 0
        return self._best, self._epoch, 0


class AverageLast(KeepLast):
    """Weight selector: the mean of the last ``k`` epochs' weights (Polyak / stochastic weight averaging)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self._snapshots: list[list[np.ndarray]] = []

    def observe(self, epoch: int, is_best: bool, weights: list[np.ndarray]) -> None:
        self._snapshots.append([w.copy() for w in weights])
        del self._snapshots[: -self.k]

    def choose(self, n_epochs: int, best_epoch: int) -> tuple[list[np.ndarray] | None, int, int]:
        if not self._snapshots:
            return None, n_epochs, 0
        mean = [np.mean([s[i] for s in self._snapshots], axis=0, dtype=np.float64).astype(self._snapshots[0][i].dtype)
                for i in range(len(self._snapshots[0]))]
        return mean, n_epochs, len(self._snapshots)


def weight_selector(params: TrainParams) -> KeepLast:
    """The selector the parameters ask for: averaging overrides keep-best."""
    if params.average_last:
        return AverageLast(params.average_last)
    if params.keep_best:
        return KeepBest()
    return KeepLast()


class Trainer:
    """Train a model (:mod:`dashboard.lab.models`) epoch by epoch on a training split.

    Parameters
    ----------
    params : TrainParams
        Validated against the data here, before any work.
    train : Dataset
        The training split (never modified).
    train_eval_size : int
        Size of the fixed fit subset on which train accuracy is measured.

    Attributes
    ----------
    model : estimator
        The scikit-learn model being trained (changes while training runs: use
        :meth:`final_model` for a copy no training touches).
    history : list of EpochReport
        One entry per finished epoch.
    stopped : bool
        Whether training ended early because the stop event was set.
    best_epoch : int
        Epoch with the highest validation accuracy so far (the first of ties).
    kept_epoch : int
        Epoch whose weights the model ends with (best with keep-best, else the
        last; the last with averaging); 0 until training has ended.
    averaged_epochs : int
        How many epochs' weights the final model averages; 0 without averaging.
    """

    def __init__(self, params: TrainParams, train: Dataset, train_eval_size: int = TRAIN_EVAL_SIZE) -> None:
        self.params = params.validate(len(train), train.n_classes)
        check_trainable(train)
        self.dataset_name = train.name
        self.dataset_checksum = train.checksum
        self.class_names = train.class_names
        self.image_shape = train.shape
        self.n_classes = train.n_classes
        self._train = train
        self._train_eval_size = train_eval_size
        self.adapter = make_model(self.params)
        self.selector = weight_selector(self.params)
        self.history: list[EpochReport] = []
        self.stopped = False
        self.n_fit = 0
        self.n_val = 0
        self.best_epoch = 0
        self.kept_epoch = 0
        self.averaged_epochs = 0
        self._final = None

    @property
    def model(self):
        return self.adapter.estimator

    def run(self, stop: threading.Event | None = None) -> Iterator[EpochReport]:
        """Train, yielding a report after each epoch; the weights are settled when it ends.

        Parameters
        ----------
        stop : threading.Event, optional
            Anything with ``is_set()``; checked between epochs. Once set,
            training ends after the current epoch and the model is kept.

        Yields
        ------
        EpochReport
        """
        start = time.perf_counter()
        p = self.params
        labels = np.asarray(self._train.labels)
        fit_idx, val_idx = split_indices(labels, p)
        # The fit rows stay uint8 (a memory map in a worker) and become float32 one chunk at
        # a time: a whole float32 copy of MNIST is 170 MB per process, four workers 0.7 GB.
        flat = self._train.flat()
        y_fit = labels[fit_idx]
        x_val, y_val = scale_images(np.take(flat, val_idx, axis=0)), labels[val_idx]
        self.n_fit, self.n_val = len(y_fit), len(y_val)
        # A fixed, seeded subset of the fit data for the per-epoch train accuracy.
        rng = np.random.default_rng(p.seed)
        sub = np.sort(rng.choice(len(y_fit), size=min(self._train_eval_size, len(y_fit)), replace=False))
        x_sub, y_sub = scale_images(np.take(flat, fit_idx[sub], axis=0)), y_fit[sub]
        classes = np.arange(self.n_classes)
        order_rng = np.random.default_rng([p.seed, 1])  # this epoch's order of the chunks' rows
        chunk = p.batch_size * max(1, CHUNK_ROWS // p.batch_size)  # whole mini-batches per chunk
        for epoch in range(1, p.epochs + 1):
            if stop is not None and stop.is_set():
                self.stopped = True
                self._settle()
                return
            t0 = time.perf_counter()
            order = fit_idx[order_rng.permutation(len(fit_idx))]
            self.adapter.fit_epoch(
                ((scale_images(np.take(flat, rows, axis=0)), labels[rows])
                 for rows in (order[i : i + chunk] for i in range(0, len(order), chunk))),
                classes)
            with sklearn.config_context(assume_finite=True):
                val_pred = self.model.predict(x_val)
                train_acc = float(np.mean(self.model.predict(x_sub) == y_sub))
                loss = self.adapter.loss(x_sub, y_sub)
            conf = confusion_matrix(y_val, val_pred, labels=classes).astype(np.int64)
            val_acc = float(np.trace(conf) / max(1, conf.sum()))
            is_best = not self.history or val_acc > self.history[self.best_epoch - 1].val_accuracy
            if is_best:
                self.best_epoch = epoch
            self.selector.observe(epoch, is_best, self.adapter.get_weights())
            now = time.perf_counter()
            report = EpochReport(epoch=epoch, epochs=p.epochs, loss=loss, train_accuracy=train_acc,
                                 val_accuracy=val_acc, val_confusion=conf, seconds=now - t0, elapsed=now - start)
            self.history.append(report)
            yield report
        if stop is not None and stop.is_set() and len(self.history) < p.epochs:
            self.stopped = True
        self._settle()

    def _settle(self) -> None:
        """Fix the weights the model ends with (once): the selector's choice, on a copy of the model."""
        if not self.history or self._final is not None:
            return
        weights, self.kept_epoch, self.averaged_epochs = self.selector.choose(len(self.history), self.best_epoch)
        # The final model is a separate object with its own arrays: whoever holds it never sees training.
        final = self.adapter.final()
        if weights is not None:
            holder = type(self.adapter).__new__(type(self.adapter))
            holder.estimator = final
            holder.set_weights(weights)
        self._final = final

    def final_model(self):
        """The trained model, ready to save: the kept weights, no optimizer state, an int ``random_state``.

        Its ``loss_`` and ``loss_curve_`` (MLP) still describe the last epoch trained.
        """
        if not self.history:
            raise ParameterError("epochs", "no epoch has finished: there is no model yet")
        self._settle()
        return self._final


def check_trainable(train: Dataset) -> None:
    """Refuse, with a message, a training split no model can learn from (before any work)."""
    counts = train.class_counts()
    present = int(np.count_nonzero(counts))
    if present < 2:
        only = train.class_names[int(np.argmax(counts))]
        raise ParameterError("dataset", f"the training split holds only one class ({only!r}): "
                                        "a classifier needs at least two")
    if counts[counts > 0].min() < 2:
        rare = [train.class_names[i] for i in np.flatnonzero(counts == 1)]
        raise ParameterError("dataset", f"class {rare[0]!r} has a single training sample; a stratified "
                                        "validation split needs at least two of every class present")


@dataclass(frozen=True)
class TestMetrics:
    """Final evaluation on the test split.

    Attributes
    ----------
    accuracy : float
    precision, recall, f1 : ndarray of float, shape (k,)
        Per class, in label order (0 where undefined).
    support : ndarray of int, shape (k,)
        Test samples of each class.
    confusion : ndarray of int64, shape (k, k)
        Rows = true class, columns = predicted.
    predictions : ndarray of int64, shape (n,)
    probabilities : ndarray of float32, shape (n, k)
    seconds : float
        Time the evaluation took.
    """

    accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion: np.ndarray
    predictions: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)
    seconds: float = 0.0

    def summary(self) -> dict:
        """JSON-ready metrics (without the per-sample arrays)."""
        return {
            "test_accuracy": self.accuracy,
            "precision": self.precision.tolist(),
            "recall": self.recall.tolist(),
            "f1": self.f1.tolist(),
            "support": self.support.tolist(),
            "test_confusion": self.confusion.tolist(),
            "test_seconds": self.seconds,
        }


def predict_proba(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities of uint8 images ``(n, h, w)`` or ``(h, w)``, as float32 ``(n, k)``."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    return model.predict_proba(scale_images(images)).astype(np.float32, copy=False)


def evaluate(model, test: Dataset) -> TestMetrics:
    """Evaluate ``model`` on the test split: the one time the test split is used.

    Parameters
    ----------
    model : MLPClassifier
        Trained on a split of the same dataset.
    test : Dataset
        The test split.

    Returns
    -------
    TestMetrics
    """
    t0 = time.perf_counter()
    n_features = int(first_layer(model).shape[0])
    if n_features != test.n_features:
        raise ParameterError(
            "dataset", f"the model takes {n_features} pixels per image, {test.name} has {test.n_features}"
        )
    proba = predict_proba(model, test.images)
    pred = model.classes_[np.argmax(proba, axis=1)].astype(np.int64)
    labels = np.asarray(test.labels)
    classes = np.arange(test.n_classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, pred, labels=classes, zero_division=0
    )
    conf = confusion_matrix(labels, pred, labels=classes).astype(np.int64)
    return TestMetrics(
        accuracy=float(np.mean(pred == labels)),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support.astype(np.int64),
        confusion=conf,
        predictions=pred,
        probabilities=proba,
        seconds=time.perf_counter() - t0,
    )


# Sustained float32 multiply-adds per second of one MLP epoch on the reference
# 2-core machine, measured by benchmarks/bench_training.py; used only to guess.
DEFAULT_MACS_PER_SECOND = 7e10


def estimate_seconds(
    params: TrainParams,
    n_available: int,
    n_features: int,
    n_classes: int,
    macs_per_second: float = DEFAULT_MACS_PER_SECOND,
) -> float:
    """Guess the wall time of a run before starting it.

    Counts multiply-adds: a training sample costs about three forward passes
    (forward, backward, gradient), an evaluated sample one.

    Parameters
    ----------
    params : TrainParams
    n_available : int
        Size of the training split.
    n_features, n_classes : int
        Input pixels and classes.
    macs_per_second : float
        Throughput of this machine; the default was measured on the reference one.

    Returns
    -------
    float
        Seconds, training plus per-epoch evaluation plus a fixed start-up cost.
    """
    units = [n_features, *params.hidden, n_classes] if params.model == "mlp" else [n_features, n_classes]
    macs = sum(a * b for a, b in zip(units[:-1], units[1:]))
    n_used = params.n_used(n_available)
    n_val = _n_val(n_used, params.val_fraction)
    n_fit = n_used - n_val
    per_epoch = 3 * n_fit * macs + (n_val + min(TRAIN_EVAL_SIZE, n_fit)) * macs
    # Small batches pay a per-step overhead that the MAC count does not see.
    steps = math.ceil(n_fit / params.batch_size)
    return 0.5 + params.epochs * (per_epoch / macs_per_second + steps * 2e-4)
