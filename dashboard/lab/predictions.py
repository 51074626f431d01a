"""A saved run's predictions on a dataset split, to browse the data through the model.

For every sample: the class probabilities, the predicted label, its confidence
(the top probability) and the per-sample loss (``-log p(true label)``, the
cross-entropy the model was trained on). Computing them for MNIST's 60,000
training images takes a few seconds, so they are kept on disk under
``<data cache>/predictions/<run id>--<dataset checksum>.npy`` (a plain float32
array, no pickle) and in memory by :class:`PredictionCache`.

Also here: the filters and sorts Explore offers once a run is chosen, the
counts per filter value (as FiftyOne's sidebar shows them), and the first
layer's view of an image (which hidden units fire most).
"""

from __future__ import annotations

import os
import secrets
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier

from dashboard.data.dataset import Dataset
from dashboard.data.loading import cache_dir
from dashboard.errors import DataError
from dashboard.lab.models import first_layer
from dashboard.lab.runs import Run, RunStore
from dashboard.lab.training import scale_images

SORTS = ("confidence", "loss")
# Probabilities are clipped here before the log: a loss stays finite (log(1e-7) ~ -16).
_EPS = 1e-7
_BATCH = 8192


def default_cache_root() -> Path:
    """``predictions/`` in the data cache (the project's ``data/`` by default)."""
    return cache_dir() / "predictions"


@dataclass(frozen=True, eq=False)
class Predictions:
    """A model's outputs on every sample of one split.

    The derived arrays (predicted, confidence, loss, wrong) are computed once,
    on first use: a page change reads them many times.

    Attributes
    ----------
    probabilities : ndarray of float32, shape (n, n_classes)
        Column ``c`` is the dataset's class ``c``.
    labels : ndarray of int, shape (n,)
        The true labels.
    """

    probabilities: np.ndarray
    labels: np.ndarray

    @cached_property
    def predicted(self) -> np.ndarray:
        """Predicted class of each sample (the most probable)."""
        return self.probabilities.argmax(axis=1)

    @cached_property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class, float32 in 0-1."""
        return self.probabilities.max(axis=1)

    @cached_property
    def loss(self) -> np.ndarray:
        """``-log p(true label)`` of each sample, float32."""
        p = self.probabilities[np.arange(len(self.labels)), self.labels]
        return -np.log(np.clip(p, _EPS, 1.0)).astype(np.float32)

    @cached_property
    def wrong(self) -> np.ndarray:
        """Boolean mask of misclassified samples."""
        return self.predicted != self.labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def check_compatible(run: Run, model: MLPClassifier, ds: Dataset) -> None:
    """Refuse, with a message, a run whose model cannot read ``ds``'s images.

    Raises
    ------
    DataError
        If the image sizes or the number of classes differ.
    """
    shape = tuple(run.info.get("image_shape") or ())
    n_in = int(getattr(model, "n_features_in_", ds.n_features))
    if n_in != ds.n_features or (shape and shape != ds.shape):
        got = "x".join(map(str, shape)) if shape else f"{n_in} pixels"
        raise DataError(
            f"run {run.run_id} was trained on {got} images; {ds.name} has {ds.shape[0]}x{ds.shape[1]} images"
        )
    classes = np.asarray(model.classes_)
    if classes.min() < 0 or classes.max() >= ds.n_classes:
        raise DataError(
            f"run {run.run_id} predicts classes up to {int(classes.max())}; {ds.name} has {ds.n_classes} classes"
        )


def predict_dataset(model: MLPClassifier, ds: Dataset) -> np.ndarray:
    """Class probabilities of every image of ``ds``, in batches, as float32 ``(n, n_classes)``.

    A model trained on data lacking some class has fewer columns; those classes get 0.
    """
    classes = np.asarray(model.classes_, dtype=np.int64)
    out = np.zeros((len(ds), ds.n_classes), dtype=np.float32)
    for start in range(0, len(ds), _BATCH):
        x = scale_images(ds.images[start : start + _BATCH])
        out[start : start + len(x), classes] = model.predict_proba(x)
    return out


def predict_images(model: MLPClassifier, images: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities of uint8 images ``(n, h, w)`` (or one ``(h, w)``), float32 ``(n, n_classes)``."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim == 2:
        images = images[None]
    classes = np.asarray(model.classes_, dtype=np.int64)
    out = np.zeros((len(images), n_classes), dtype=np.float32)
    out[:, classes] = model.predict_proba(scale_images(images))
    return out


class PredictionCache:
    """Predictions of saved runs on dataset splits, on disk and in memory.

    Parameters
    ----------
    store : RunStore
        Where the runs are.
    root : Path
        Folder of the ``.npy`` files (see :func:`default_cache_root`).
    max_in_memory : int
        How many ``(run, dataset)`` results to keep in memory (MNIST train: 2.4 MB each).
    """

    def __init__(self, store: RunStore, root: Path, max_in_memory: int = 16) -> None:
        self.store = store
        self.root = Path(root)
        self.max_in_memory = int(max_in_memory)
        self._memory: OrderedDict[tuple[str, str], Predictions] = OrderedDict()
        self._models: OrderedDict[str, MLPClassifier] = OrderedDict()

    def path(self, run_id: str, ds: Dataset) -> Path:
        """The cache file of ``run_id`` on ``ds``."""
        return self.root / f"{run_id}--{ds.checksum}.npy"

    def model(self, run_id: str) -> MLPClassifier:
        """The run's model (loaded once with skops, trusting only the run store's types)."""
        if run_id not in self._models:
            self._models[run_id] = self.store.load_model(run_id)
            while len(self._models) > self.max_in_memory:
                self._models.popitem(last=False)
        self._models.move_to_end(run_id)
        return self._models[run_id]

    def get(self, run_id: str, ds: Dataset) -> Predictions:
        """The predictions of ``run_id`` on ``ds``: from memory, the disk, or computed and kept.

        Raises
        ------
        DataError
            If the run cannot be loaded or does not fit the dataset.
        """
        key = (run_id, ds.checksum)
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        probs = self._read(run_id, ds)
        if probs is None:
            run = self.store.get(run_id)
            model = self.model(run_id)
            check_compatible(run, model, ds)
            probs = predict_dataset(model, ds)
            self._write(self.path(run_id, ds), probs)
        preds = Predictions(probs, np.asarray(ds.labels))
        self._memory[key] = preds
        while len(self._memory) > self.max_in_memory:
            self._memory.popitem(last=False)
        return preds

    def _read(self, run_id: str, ds: Dataset) -> np.ndarray | None:
        path = self.path(run_id, ds)
        try:
            probs = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # missing or damaged: recompute
        if probs.dtype != np.float32 or probs.shape != (len(ds), ds.n_classes):
            return None
        return probs

    def _write(self, path: Path, probs: np.ndarray) -> None:
        # Written aside and renamed: a reader never sees half a file. A cache that
        # cannot be written (read-only disk) only costs a recomputation next time.
        tmp = path.with_name(f".tmp-{secrets.token_hex(4)}-{path.name}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.save(fh, probs, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)


# --- filters, sorts and counts ------------------------------------------------------


def filter_mask(
    preds: Predictions,
    *,
    misclassified: bool | None = None,
    predicted: Collection[int] | None = None,
    confidence: tuple[float, float] | None = None,
) -> np.ndarray:
    """Boolean mask of the samples passing the model filters (None: no filter).

    Parameters
    ----------
    preds : Predictions
    misclassified : bool, optional
        True keeps only wrong predictions, False only right ones.
    predicted : collection of int, optional
        Keep samples predicted as one of these classes (empty: no filter).
    confidence : (float, float), optional
        Keep samples whose confidence lies in ``[low, high]``.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    mask = np.ones(len(preds), dtype=bool)
    if misclassified is not None:
        mask &= preds.wrong if misclassified else ~preds.wrong
    if predicted:
        mask &= np.isin(preds.predicted, np.asarray(list(predicted), dtype=np.int64))
    if confidence is not None:
        low, high = confidence
        conf = preds.confidence
        mask &= (conf >= low) & (conf <= high)
    return mask


def sort_indices(indices: np.ndarray, preds: Predictions, by: str, descending: bool = False) -> np.ndarray:
    """``indices`` ordered by the samples' confidence or loss (stable: ties keep index order).

    Parameters
    ----------
    indices : ndarray of int
    preds : Predictions
    by : {"confidence", "loss"}
    descending : bool
        Highest first (e.g. the largest losses: the worst mistakes).
    """
    if by not in SORTS:
        raise DataError(f"unknown sort {by!r}; choose one of {', '.join(SORTS)}")
    indices = np.asarray(indices, dtype=np.int64)
    values = (preds.confidence if by == "confidence" else preds.loss)[indices]
    order = np.argsort(-values if descending else values, kind="stable")
    return indices[order]


@dataclass(frozen=True)
class FilterCounts:
    """How many samples of a set have each filter value (a FiftyOne-style sidebar).

    Attributes
    ----------
    right, wrong : int
        Correct and misclassified predictions.
    per_predicted : ndarray of int, shape (n_classes,)
        Samples predicted as each class.
    confidence_edges : ndarray of float, shape (bins + 1,)
    per_confidence : ndarray of int, shape (bins,)
        Samples per confidence bin (the last bin includes 1.0).
    """

    right: int
    wrong: int
    per_predicted: np.ndarray
    confidence_edges: np.ndarray
    per_confidence: np.ndarray


def filter_counts(preds: Predictions, indices: np.ndarray | None = None, bins: int = 10) -> FilterCounts:
    """Counts per filter value over ``indices`` (all samples if None).

    Parameters
    ----------
    preds : Predictions
    indices : ndarray of int, optional
        The samples to count (e.g. those passing the class filter).
    bins : int
        Confidence bins between 0 and 1.
    """
    idx = np.arange(len(preds)) if indices is None else np.asarray(indices, dtype=np.int64)
    wrong = int(np.count_nonzero(preds.wrong[idx]))
    per_pred = np.bincount(preds.predicted[idx], minlength=preds.probabilities.shape[1])
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Equal-width bins: a bincount of the bin number is ~10x faster than np.histogram.
    which = np.minimum((preds.confidence[idx] * bins).astype(np.int64), bins - 1)
    per_conf = np.bincount(which, minlength=bins)
    return FilterCounts(len(idx) - wrong, wrong, per_pred, edges, per_conf)


# --- the first layer's view of an image -----------------------------------------------


@dataclass(frozen=True)
class UnitView:
    """The hidden units of the first layer that fire most on one image.

    Attributes
    ----------
    units : ndarray of int, shape (k,)
        Unit indices, strongest first.
    activations : ndarray of float32, shape (k,)
        ``relu(x @ W1 + b1)`` of those units.
    weights : ndarray of float32, shape (k, h, w)
        Each unit's incoming weights drawn as an image.
    """

    units: np.ndarray
    activations: np.ndarray
    weights: np.ndarray


def first_layer_view(model: MLPClassifier, image: np.ndarray, top: int = 8) -> UnitView:
    """Which first-layer units fire most on ``image``, and their weight images.

    Parameters
    ----------
    model : MLPClassifier
        A fitted model whose input is the image's pixels scaled to 0-1.
    image : ndarray of uint8, shape (h, w)
    top : int
        How many units to return (fewer if the layer is smaller).

    Returns
    -------
    UnitView
    """
    image = np.asarray(image)
    h, w = image.shape
    w1 = np.asarray(first_layer(model), dtype=np.float32)
    # A linear model's "first layer" is its per-class weights (one unit per class).
    b1 = np.asarray(model.intercepts_[0] if hasattr(model, "intercepts_") else model.intercept_, dtype=np.float32)
    if w1.shape[0] != h * w:
        raise DataError(f"the model reads {w1.shape[0]} pixels; this image has {h * w}")
    x = scale_images(image[None])[0]
    act = np.maximum(x @ w1 + b1, 0.0)
    k = max(0, min(int(top), act.shape[0]))
    units = np.argsort(-act, kind="stable")[:k]
    return UnitView(units, act[units].astype(np.float32), w1[:, units].T.reshape(k, h, w))
