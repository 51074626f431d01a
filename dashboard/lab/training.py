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

import copy
import math
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import sklearn
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from dashboard.data.dataset import Dataset
from dashboard.errors import ParameterError

ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
SOLVERS = ("adam", "sgd")
MAX_LAYERS = 8
MAX_UNITS = 4096
MAX_EPOCHS = 1000
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
class TrainParams:
    """Hyper-parameters of one training run.

    Field names are the names the form, the CLI (with dashes) and
    :class:`~dashboard.errors.ParameterError` use.

    Parameters
    ----------
    hidden : tuple of int
        Units of each hidden layer, e.g. ``(256, 128)``.
    activation : str
        One of :data:`ACTIVATIONS`.
    solver : str
        ``"adam"`` or ``"sgd"`` (SGD with Nesterov momentum 0.9).
    alpha : float
        L2 penalty, ``>= 0``.
    learning_rate : float
        Initial learning rate, ``> 0``.
    batch_size : int
        Samples per gradient step, at most the number of fit samples.
    epochs : int
        Passes over the fit data.
    train_size : int
        Samples taken (stratified) from the training split before the
        validation split; 0 means all of them.
    val_fraction : float
        Share of those samples held out (stratified) for validation, in (0, 0.5].
    seed : int
        Seeds the subset, the split, the initial weights and the shuffling.
    keep_best : bool
        When training ends (or is stopped), restore the weights of the epoch
        with the highest *validation* accuracy instead of keeping the last
        epoch's (model selection on validation data; the test split is not
        involved).
    average_last : int
        0 (off) or K from 1 to ``epochs``: when training ends (or is stopped),
        the model takes the mean of the weights (``coefs_`` and
        ``intercepts_``) at the end of the last K epochs run (fewer if fewer
        ran), a Polyak / stochastic weight average that damps the epoch-to-epoch
        wobble of adam's constant learning rate. It overrides ``keep_best``:
        with both on, the model ends with the average, and
        :attr:`Trainer.averaged_epochs` records how many epochs went into it.
    """

    hidden: tuple[int, ...] = (100,)
    activation: str = "relu"
    solver: str = "adam"
    alpha: float = 1e-4
    learning_rate: float = 1e-3
    batch_size: int = 200
    epochs: int = 10
    train_size: int = 0
    val_fraction: float = 0.1
    seed: int = 0
    keep_best: bool = True
    average_last: int = 0

    def __post_init__(self) -> None:
        # Accept a list or a single int for convenience; validate() checks the values.
        if isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))
        elif _is_int(self.hidden):
            object.__setattr__(self, "hidden", (int(self.hidden),))

    def validate(self, n_available: int | None = None, n_classes: int | None = None) -> TrainParams:
        """Check every field; raise :class:`ParameterError` naming the first bad one.

        Parameters
        ----------
        n_available : int, optional
            Size of the training split; when given, ``train_size`` and
            ``batch_size`` are checked against the data.
        n_classes : int, optional
            Number of classes; when given, the validation part must hold at
            least one sample of each.

        Returns
        -------
        TrainParams
            ``self``, so that calls can be chained.
        """
        hidden = self.hidden
        if not isinstance(hidden, tuple) or len(hidden) == 0:
            raise ParameterError("hidden", "give at least one layer size, e.g. 256,128")
        if len(hidden) > MAX_LAYERS:
            raise ParameterError("hidden", f"at most {MAX_LAYERS} layers, got {len(hidden)}")
        for size in hidden:
            if not _is_int(size) or size < 1 or size > MAX_UNITS:
                raise ParameterError(
                    "hidden", f"layer sizes must be whole numbers from 1 to {MAX_UNITS}, got {size!r}"
                )
        if self.activation not in ACTIVATIONS:
            raise ParameterError("activation", f"must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in SOLVERS:
            raise ParameterError("solver", f"must be one of {', '.join(SOLVERS)}, got {self.solver!r}")
        if not _is_real(self.alpha) or not math.isfinite(self.alpha) or self.alpha < 0:
            raise ParameterError("alpha", f"must be a finite number >= 0, got {self.alpha!r}")
        if not _is_real(self.learning_rate) or not math.isfinite(self.learning_rate) or self.learning_rate <= 0:
            raise ParameterError("learning_rate", f"must be a finite number > 0, got {self.learning_rate!r}")
        if self.learning_rate > 10:
            raise ParameterError("learning_rate", f"must be at most 10, got {self.learning_rate!r}")
        if not _is_int(self.batch_size) or self.batch_size < 1:
            raise ParameterError("batch_size", f"must be a whole number >= 1, got {self.batch_size!r}")
        if not _is_int(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise ParameterError("epochs", f"must be a whole number from 1 to {MAX_EPOCHS}, got {self.epochs!r}")
        if not _is_int(self.train_size) or self.train_size < 0:
            raise ParameterError("train_size", f"must be a whole number >= 0 (0 = all), got {self.train_size!r}")
        if (
            not _is_real(self.val_fraction)
            or not math.isfinite(self.val_fraction)
            or not 0 < self.val_fraction <= 0.5
        ):
            raise ParameterError("val_fraction", f"must lie in (0, 0.5], got {self.val_fraction!r}")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ParameterError("seed", f"must be a whole number from 0 to 2**32-1, got {self.seed!r}")
        if not isinstance(self.keep_best, (bool, np.bool_)):
            raise ParameterError("keep_best", f"must be true or false, got {self.keep_best!r}")
        if not _is_int(self.average_last) or self.average_last < 0:
            raise ParameterError(
                "average_last", f"must be a whole number >= 0 (0 = off), got {self.average_last!r}"
            )
        if self.average_last > self.epochs:
            raise ParameterError(
                "average_last", f"cannot average more epochs than are run ({self.epochs}), got {self.average_last}"
            )
        if n_available is not None:
            if self.train_size > n_available:
                raise ParameterError(
                    "train_size", f"the training split has {n_available:,} samples, asked for {self.train_size:,}"
                )
            n_used = self.n_used(n_available)
            n_val = _n_val(n_used, self.val_fraction)
            if n_classes is not None and n_val < n_classes:
                raise ParameterError(
                    "val_fraction",
                    f"{n_val} validation samples cannot hold one of each of the {n_classes} classes; "
                    f"raise val_fraction or train_size",
                )
            n_fit = n_used - n_val
            if n_classes is not None and n_fit < n_classes:
                raise ParameterError("train_size", f"too few samples left to fit ({n_fit}) for {n_classes} classes")
            if self.batch_size > n_fit:
                raise ParameterError(
                    "batch_size", f"must be at most the {n_fit:,} samples trained on, got {self.batch_size:,}"
                )
        return self

    def n_used(self, n_available: int) -> int:
        """Samples taken from a training split of ``n_available`` samples."""
        return n_available if self.train_size == 0 else min(self.train_size, n_available)

    def to_dict(self) -> dict:
        """JSON-ready form (``hidden`` as a list)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, values: Mapping) -> TrainParams:
        """Inverse of :meth:`to_dict`; unknown keys are refused, missing ones take defaults."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ParameterError(sorted(unknown)[0], "is not a training parameter")
        kwargs = dict(values)
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"])
        return cls(**kwargs)

    @classmethod
    def from_strings(cls, values: Mapping[str, str | None], base: TrainParams | None = None) -> TrainParams:
        """Parse text fields (form or command line) over ``base`` and validate.

        Parameters
        ----------
        values : mapping of str to str or None
            Field name to its text; ``None`` keeps ``base``'s value.
        base : TrainParams, optional
            The starting values (a preset); defaults to ``TrainParams()``.

        Returns
        -------
        TrainParams
            Validated parameters (without data-dependent checks).

        Raises
        ------
        ParameterError
            Naming the field that cannot be parsed or is out of range.
        """
        base = base or cls()
        parsers = {
            "hidden": parse_hidden,
            "activation": lambda f, s: s.strip().lower(),
            "solver": lambda f, s: s.strip().lower(),
            "alpha": _parse_float,
            "learning_rate": _parse_float,
            "batch_size": _parse_int,
            "epochs": _parse_int,
            "train_size": _parse_int,
            "val_fraction": _parse_float,
            "seed": _parse_int,
            "keep_best": _parse_bool,
            "average_last": _parse_int,
        }
        changes = {}
        for name, text in values.items():
            if name not in parsers:
                raise ParameterError(name, "is not a training parameter")
            if text is None:
                continue
            changes[name] = parsers[name](name, str(text))
        return replace(base, **changes).validate()

    def model(self) -> MLPClassifier:
        """A fresh, unfitted ``MLPClassifier`` with these parameters.

        ``random_state`` is a ``RandomState`` rather than an int: ``partial_fit``
        re-reads ``random_state`` on every call, and an int would replay the
        same shuffle every epoch.
        """
        return MLPClassifier(
            hidden_layer_sizes=self.hidden,
            activation=self.activation,
            solver=self.solver,
            alpha=self.alpha,
            learning_rate_init=self.learning_rate,
            batch_size=self.batch_size,
            max_iter=self.epochs,
            shuffle=True,
            random_state=np.random.RandomState(self.seed),
            # Run exactly `epochs` epochs; stopping is the user's call.
            n_iter_no_change=self.epochs + 1,
            tol=0.0,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _parse_int(field_name: str, text: str) -> int:
    try:
        return int(text.strip().replace("_", ""))
    except ValueError:
        raise ParameterError(field_name, f"must be a whole number, got {text!r}") from None


def _parse_float(field_name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ParameterError(field_name, f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ParameterError(field_name, f"must be a finite number, got {text!r}")
    return value


def _parse_bool(field_name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ParameterError(field_name, f"must be true or false, got {text!r}")


def parse_hidden(field_name: str, text: str) -> tuple[int, ...]:
    """Parse layer sizes such as ``"256,128"`` (spaces allowed).

    Parameters
    ----------
    field_name : str
        Name to put in the error message (``"hidden"``).
    text : str
        Comma-separated positive whole numbers.

    Returns
    -------
    tuple of int
    """
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    if not text.strip() or any(p == "" for p in parts):
        raise ParameterError(field_name, f"give comma-separated layer sizes such as 256,128, got {text!r}")
    sizes = tuple(_parse_int(field_name, p) for p in parts)
    if any(s < 1 for s in sizes):
        raise ParameterError(field_name, f"layer sizes must be >= 1, got {text!r}")
    return sizes


def _n_val(n_used: int, val_fraction: float) -> int:
    # The rounding train_test_split uses for a float test_size.
    return math.ceil(n_used * val_fraction)


# Presets: see docs/presets.md for how "best" was chosen and measured.
PRESETS: dict[str, TrainParams] = {
    "quick": TrainParams(hidden=(64,), batch_size=200, epochs=3, train_size=10000, val_fraction=0.1),
    "default": TrainParams(hidden=(256, 128), batch_size=200, epochs=10, val_fraction=0.1),
    # val_fraction 0.1: 6,000 validation images. average_last 10: the model ends with the mean of
    # the last 10 epochs' weights (beat keep-best and the last epoch on held-out validation halves
    # of both sets); keep_best stays on for when averaging is switched off.
    "best": TrainParams(
        hidden=(512, 256), alpha=1e-4, learning_rate=1e-3, batch_size=200, epochs=30, val_fraction=0.1,
        average_last=10,
    ),
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


class Trainer:
    """Train an ``MLPClassifier`` epoch by epoch on a training split.

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
    model : MLPClassifier
        The model, usable (``predict``) as soon as one epoch has run.
    history : list of EpochReport
        One entry per finished epoch.
    stopped : bool
        Whether training ended early because the stop event was set.
    best_epoch : int
        Epoch with the highest validation accuracy so far (the first of ties);
        0 before any epoch.
    kept_epoch : int
        Epoch whose weights the model holds once training has ended: the best
        epoch with ``params.keep_best``, else the last one; 0 until then. With
        ``params.average_last`` the model holds an average that ends at the
        last epoch, and this is the last epoch.
    averaged_epochs : int
        How many epoch-end snapshots the final weights average (the last ones
        run, up to ``params.average_last``); 0 when averaging is off or before
        training has ended.
    """

    def __init__(self, params: TrainParams, train: Dataset, train_eval_size: int = TRAIN_EVAL_SIZE) -> None:
        self.params = params.validate(len(train), train.n_classes)
        self.dataset_name = train.name
        self.dataset_checksum = train.checksum
        self.class_names = train.class_names
        self.image_shape = train.shape
        self.n_classes = train.n_classes
        self._train = train
        self._train_eval_size = train_eval_size
        self.model = params.model()
        self.history: list[EpochReport] = []
        self.stopped = False
        self.n_fit = 0
        self.n_val = 0
        self.best_epoch = 0
        self.kept_epoch = 0
        self.averaged_epochs = 0
        # Copies of coefs_ + intercepts_ at best_epoch (only with keep_best and no averaging).
        self._best_weights: list[np.ndarray] | None = None
        # Epoch-end copies of coefs_ + intercepts_ of the last average_last epochs, oldest first.
        self._snapshots: list[list[np.ndarray]] = []

    def run(self, stop: threading.Event | None = None) -> Iterator[EpochReport]:
        """Train, yielding a report after each epoch.

        When the last epoch is done, or the stop event ends training early, the
        model is settled: with ``params.average_last`` its weights become the
        mean of the last epochs' (:attr:`averaged_epochs`); otherwise, with
        ``params.keep_best``, they are restored to those of the best-validation
        epoch (:attr:`kept_epoch`).

        Parameters
        ----------
        stop : threading.Event, optional
            Checked between epochs; once set, training ends after the current
            epoch and the model keeps its (best or last) weights.

        Yields
        ------
        EpochReport
        """
        start = time.perf_counter()
        p = self.params
        labels = np.asarray(self._train.labels)
        fit_idx, val_idx = split_indices(labels, p)
        # One float32 copy holds both parts (fit rows first, then validation
        # rows), so the fit and validation arrays are contiguous views of it.
        n_fit = len(fit_idx)
        x_used = scale_images(np.take(self._train.flat(), np.concatenate([fit_idx, val_idx]), axis=0))
        x_fit, y_fit = x_used[:n_fit], labels[fit_idx]
        x_val, y_val = x_used[n_fit:], labels[val_idx]
        self.n_fit, self.n_val = len(y_fit), len(y_val)
        # A fixed, seeded subset of the fit data for the per-epoch train accuracy.
        rng = np.random.default_rng(p.seed)
        sub = np.sort(rng.choice(len(y_fit), size=min(self._train_eval_size, len(y_fit)), replace=False))
        x_sub, y_sub = x_fit[sub], y_fit[sub]
        classes = np.arange(self.n_classes)
        for epoch in range(1, p.epochs + 1):
            if stop is not None and stop.is_set():
                self.stopped = True
                self._settle()
                return
            t0 = time.perf_counter()
            # Pixels scaled from uint8 are finite by construction: skip sklearn's
            # full scan of the inputs on every call (a plain fit scans once).
            with sklearn.config_context(assume_finite=True):
                self.model.partial_fit(x_fit, y_fit, classes=classes)
                val_pred = self.model.predict(x_val)
                train_acc = float(np.mean(self.model.predict(x_sub) == y_sub))
            conf = confusion_matrix(y_val, val_pred, labels=classes).astype(np.int64)
            val_acc = float(np.trace(conf) / max(1, conf.sum()))
            if not self.history or val_acc > self.history[self.best_epoch - 1].val_accuracy:
                self.best_epoch = epoch
                if p.keep_best and not p.average_last:
                    self._remember_weights()
            if p.average_last:
                self._remember_snapshot()
            now = time.perf_counter()
            report = EpochReport(
                epoch=epoch,
                epochs=p.epochs,
                loss=float(self.model.loss_),
                train_accuracy=train_acc,
                val_accuracy=val_acc,
                val_confusion=conf,
                seconds=now - t0,
                elapsed=now - start,
            )
            self.history.append(report)
            yield report
        if stop is not None and stop.is_set() and len(self.history) < p.epochs:
            self.stopped = True
        self._settle()

    def _remember_weights(self) -> None:
        # A copy of ~2 MB for the "best" preset: negligible next to an epoch.
        weights = self.model.coefs_ + self.model.intercepts_
        if self._best_weights is None:
            self._best_weights = [w.copy() for w in weights]
        else:
            for kept, w in zip(self._best_weights, weights):
                np.copyto(kept, w)

    def _remember_snapshot(self) -> None:
        # One copy per epoch (~2 MB for the "best" preset); the oldest buffer is reused.
        weights = self.model.coefs_ + self.model.intercepts_
        if len(self._snapshots) < self.params.average_last:
            self._snapshots.append([w.copy() for w in weights])
        else:
            oldest = self._snapshots.pop(0)
            for kept, w in zip(oldest, weights):
                np.copyto(kept, w)
            self._snapshots.append(oldest)

    def _settle(self) -> None:
        """Fix the weights the model ends with (idempotent): averaged, best epoch's or last epoch's."""
        if not self.history:
            return
        if self.params.average_last and self._snapshots:
            if not self.averaged_epochs:  # average once: the model's weights become the average
                for i, w in enumerate(self.model.coefs_ + self.model.intercepts_):
                    mean = np.mean([snap[i] for snap in self._snapshots], axis=0, dtype=np.float64)
                    np.copyto(w, mean, casting="same_kind")
                self.averaged_epochs = len(self._snapshots)
                self._snapshots = []
            self.kept_epoch = len(self.history)
        elif self.params.keep_best and self._best_weights is not None:
            # In place, so every holder of the model (the page, a shallow copy) sees them.
            for w, kept in zip(self.model.coefs_ + self.model.intercepts_, self._best_weights):
                np.copyto(w, kept)
            self.kept_epoch = self.best_epoch
        else:
            self.kept_epoch = len(self.history)

    def final_model(self) -> MLPClassifier:
        """The trained model, ready to save: no optimizer state, an int ``random_state``.

        A shallow copy, so the weights are shared, not duplicated. Holds the
        weights of :attr:`kept_epoch`; its ``loss_`` and ``loss_curve_`` still
        describe the last epoch trained.
        """
        if not self.history:
            raise ParameterError("epochs", "no epoch has finished: there is no model yet")
        if not self.kept_epoch:  # the caller left run() early: settle the weights now
            self._settle()
        return strip_training_state(self.model, self.params.seed)


def strip_training_state(model: MLPClassifier, seed: int) -> MLPClassifier:
    """A shallow copy of ``model`` without what only further training needs.

    The optimizer and the random generator are not prediction state, and
    leaving them out keeps the saved file to plain, trusted types.
    """
    out = copy.copy(model)
    out.random_state = int(seed)
    for attr in ("_optimizer", "_random_state"):
        out.__dict__.pop(attr, None)
    return out


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


def predict_proba(model: MLPClassifier, images: np.ndarray) -> np.ndarray:
    """Class probabilities of uint8 images ``(n, h, w)`` or ``(h, w)``, as float32 ``(n, k)``."""
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    return model.predict_proba(scale_images(images)).astype(np.float32, copy=False)


def evaluate(model: MLPClassifier, test: Dataset) -> TestMetrics:
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
    n_features = int(model.coefs_[0].shape[0])
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
    units = [n_features, *params.hidden, n_classes]
    macs = sum(a * b for a, b in zip(units[:-1], units[1:]))
    n_used = params.n_used(n_available)
    n_val = _n_val(n_used, params.val_fraction)
    n_fit = n_used - n_val
    per_epoch = 3 * n_fit * macs + (n_val + min(TRAIN_EVAL_SIZE, n_fit)) * macs
    # Small batches pay a per-step overhead that the MAC count does not see.
    steps = math.ceil(n_fit / params.batch_size)
    return 0.5 + params.epochs * (per_epoch / macs_per_second + steps * 2e-4)
