"""Finding mislabelled training samples: out-of-fold probabilities, ranked by cleanlab.

Pure code: no Streamlit. The steps:

1. :func:`out_of_fold_proba` trains the lab's MLP K times (stratified K-fold);
   every sample's probabilities come from the model that never saw it, so a
   wrong label cannot be memorised into its own prediction.
2. :func:`rank_suspects` scores every sample's label with cleanlab
   (``get_label_quality_scores``) and flags the issues with
   ``find_label_issues``; the flagged samples, worst first, are the suspects.
3. :func:`find_suspects` does both with an on-disk cache keyed by the dataset's
   checksum, the corrections version and the model parameters (``.npy`` +
   JSON, never pickle), so the Review page opens instantly once computed.

:func:`run` is the job kind (``"label_issues"``) the app's job queue runs in a
worker process.

Why ``self_confidence`` ranks (and ``prune_by_noise_rate`` flags): measured on
MNIST train with 1% (600) of the labels flipped at random (seed 0), 4-fold MLP
(256,), 10 epochs, the top 1% (600) of samples by each cleanlab score held
self-confidence 0.902 precision / 0.902 recall, normalized margin 0.855,
confidence-weighted entropy 0.820 (top-k, so precision = recall; the real
MNIST errors in that top 1% count as misses, so these are lower bounds).
``find_label_issues`` (prune by noise rate) flagged 725 samples: recall 0.898,
precision 0.743 -- it sets how many suspects the page lists, self-confidence
orders them. Self-confidence is also the easiest score to explain ("the model
that never saw this image gives its label p = 0.02"). Figures:
``benchmarks/bench_label_issues.py`` and ``benchmarks/results/label_issues.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dashboard.data.dataset import Dataset
from dashboard.errors import DataError, ParameterError

# cleanlab's label-quality scores, compared by the benchmark; the first is the default.
RANKING_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
DEFAULT_METHOD = "self_confidence"
# How find_label_issues decides which samples are issues (the count of suspects).
DEFAULT_FILTER = "prune_by_noise_rate"
CACHE_SUBDIR = "label_issues"
# Version of the cached files' layout: bump when their meaning changes.
CACHE_FORMAT = 1

FoldProgress = Callable[[float, str], None]


@dataclass(frozen=True)
class OOFParams:
    """How the out-of-fold probabilities are computed.

    Parameters
    ----------
    folds : int
        K of the stratified K-fold, 2..20.
    hidden : tuple of int
        Hidden layer sizes of the MLP.
    epochs : int
        Passes over each fold's training part. Few on purpose: a model trained
        long enough starts fitting the wrong labels too.
    batch_size : int
        Samples per adam step.
    learning_rate : float
        adam's initial learning rate.
    alpha : float
        L2 penalty.
    seed : int
        Seeds the folds, the initial weights and the shuffling.
    """

    folds: int = 4
    hidden: tuple[int, ...] = (256,)
    epochs: int = 10
    batch_size: int = 256
    learning_rate: float = 1e-3
    alpha: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.hidden, (list, int)):
            object.__setattr__(self, "hidden", tuple(np.atleast_1d(self.hidden).tolist()))

    def validate(self, n_samples: int | None = None, class_counts: np.ndarray | None = None) -> OOFParams:
        """Check every field; raise :class:`ParameterError` naming the first bad one."""
        if not isinstance(self.folds, int) or not 2 <= self.folds <= 20:
            raise ParameterError("folds", f"must be a whole number from 2 to 20, got {self.folds!r}")
        if not self.hidden or any(not isinstance(h, int) or not 1 <= h <= 4096 for h in self.hidden):
            raise ParameterError("hidden", f"must be 1 to 4096 units per layer, got {self.hidden!r}")
        if not isinstance(self.epochs, int) or not 1 <= self.epochs <= 200:
            raise ParameterError("epochs", f"must be a whole number from 1 to 200, got {self.epochs!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ParameterError("batch_size", f"must be a positive whole number, got {self.batch_size!r}")
        if not self.learning_rate > 0:
            raise ParameterError("learning_rate", f"must be > 0, got {self.learning_rate!r}")
        if not self.alpha >= 0:
            raise ParameterError("alpha", f"must be >= 0, got {self.alpha!r}")
        if class_counts is not None:
            present = class_counts[class_counts > 0]
            if present.size < 2:
                raise ParameterError("folds", "needs at least two classes to find label issues")
            if present.min() < self.folds:
                raise ParameterError(
                    "folds", f"a class has only {int(present.min())} samples, fewer than {self.folds} folds"
                )
        return self

    def to_dict(self) -> dict:
        """JSON-able form (``hidden`` as a list)."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, values: dict) -> OOFParams:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        known = {k: values[k] for k in cls.__dataclass_fields__ if k in values}
        if "hidden" in known:
            known["hidden"] = tuple(int(h) for h in known["hidden"])
        return cls(**known)


def _scale(images: np.ndarray) -> np.ndarray:
    # float32 halves memory and roughly halves the BLAS time against float64.
    flat = np.asarray(images).reshape(len(images), -1)
    out = np.empty(flat.shape, dtype=np.float32)
    np.multiply(flat, np.float32(1 / 255), out=out, casting="unsafe")
    return out


def out_of_fold_proba(
    images: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    params: OOFParams = OOFParams(),
    progress: FoldProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Predicted class probabilities of every sample from a model that did not train on it.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, h, w) or (n, h*w)
    labels : ndarray of int, shape (n,)
        The given labels, ``0 <= label < n_classes``.
    n_classes : int
        Number of classes (columns of the result), also those absent from ``labels``.
    params : OOFParams
    progress : callable, optional
        ``progress(fraction, message)`` after every epoch of every fold.
    should_stop : callable, optional
        Checked after every epoch; when it returns True, :class:`InterruptedError` is raised.

    Returns
    -------
    ndarray of float32, shape (n, n_classes)
        Rows sum to 1.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neural_network import MLPClassifier

    labels = np.asarray(labels, dtype=np.int64)
    params.validate(len(labels), np.bincount(labels, minlength=n_classes))
    x = _scale(images)
    classes = np.arange(n_classes)
    proba = np.zeros((len(labels), n_classes), dtype=np.float32)
    folds = StratifiedKFold(n_splits=params.folds, shuffle=True, random_state=params.seed)
    total = params.folds * params.epochs
    t0 = time.perf_counter()
    for k, (fit_idx, held_idx) in enumerate(folds.split(x, labels)):
        model = MLPClassifier(
            hidden_layer_sizes=params.hidden,
            alpha=params.alpha,
            learning_rate_init=params.learning_rate,
            batch_size=min(params.batch_size, len(fit_idx)),
            shuffle=True,
            # A RandomState, not an int: partial_fit re-reads it, and an int would replay one shuffle.
            random_state=np.random.RandomState(params.seed + k),
        )
        x_fit, y_fit = x[fit_idx], labels[fit_idx]
        for epoch in range(params.epochs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.partial_fit(x_fit, y_fit, classes=classes)
            done = k * params.epochs + epoch + 1
            if progress is not None:
                progress(done / total * 0.98, f"fold {k + 1}/{params.folds}, epoch {epoch + 1}/{params.epochs}"
                         f" ({time.perf_counter() - t0:.0f} s)")
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
        proba[held_idx] = model.predict_proba(x[held_idx])
    return proba


@dataclass(frozen=True)
class Suspects:
    """Samples whose given label looks wrong, worst first.

    Parameters
    ----------
    indices : ndarray of int64, shape (m,)
        Sample indices (rows of the dataset the search ran on), worst first.
    given : ndarray of int64, shape (m,)
        Their given labels.
    suggested : ndarray of int64, shape (m,)
        The class the held-out model prefers.
    quality : ndarray of float32, shape (m,)
        cleanlab label-quality score, 0 (surely wrong) .. 1 (surely right).
    proba : ndarray of float32, shape (m, n_classes)
        Out-of-fold probabilities of each suspect.
    method : str
        The quality score used to rank.
    n_samples : int
        Samples searched.
    """

    indices: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray
    proba: np.ndarray
    method: str
    n_samples: int
    key: str = ""
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.indices))

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the suggested label, shape (m,)."""
        return self.proba[np.arange(len(self)), self.suggested] if len(self) else np.zeros(0, np.float32)

    def records(self, top: int | None = None, class_names: tuple[str, ...] | None = None) -> list[dict]:
        """JSON-able rows, worst first: rank, index, given, suggested, quality, confidence, probabilities."""
        n = len(self) if top is None else min(top, len(self))
        conf = self.confidence
        out = []
        for r in range(n):
            row = {
                "rank": r + 1,
                "index": int(self.indices[r]),
                "given": int(self.given[r]),
                "suggested": int(self.suggested[r]),
                "quality": round(float(self.quality[r]), 6),
                "confidence": round(float(conf[r]), 6),
                "probabilities": [round(float(p), 6) for p in self.proba[r]],
            }
            if class_names is not None:
                row["given_name"] = class_names[row["given"]]
                row["suggested_name"] = class_names[row["suggested"]]
            out.append(row)
        return out


def filter_suspects(
    suspects: Suspects,
    given: Sequence[int] | None = None,
    suggested: Sequence[int] | None = None,
    hide: Iterable[int] = (),
) -> np.ndarray:
    """Positions (into ``suspects``, worst first) of the suspects that pass the filters.

    Parameters
    ----------
    suspects : Suspects
    given, suggested : sequence of int, optional
        Keep only these given / suggested classes; None or empty keeps all.
    hide : iterable of int
        Sample indices to leave out (e.g. those already reviewed).

    Returns
    -------
    ndarray of int64
    """
    keep = np.ones(len(suspects), dtype=bool)
    if given:
        keep &= np.isin(suspects.given, np.asarray(list(given), dtype=np.int64))
    if suggested:
        keep &= np.isin(suspects.suggested, np.asarray(list(suggested), dtype=np.int64))
    hidden = np.fromiter((int(i) for i in hide), dtype=np.int64)
    if hidden.size:
        keep &= ~np.isin(suspects.indices, hidden)
    return np.flatnonzero(keep)


def quality_scores(labels: np.ndarray, proba: np.ndarray, method: str = DEFAULT_METHOD) -> np.ndarray:
    """cleanlab's label-quality score of every sample (low = likely mislabelled).

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    proba : ndarray of float, shape (n, n_classes)
        Out-of-fold probabilities.
    method : str
        One of :data:`RANKING_METHODS`.

    Returns
    -------
    ndarray of float32, shape (n,)
    """
    from cleanlab.rank import get_label_quality_scores

    if method not in RANKING_METHODS:
        raise ParameterError("method", f"must be one of {', '.join(RANKING_METHODS)}, got {method!r}")
    return get_label_quality_scores(np.asarray(labels), np.asarray(proba, dtype=np.float64),
                                    method=method).astype(np.float32)


def issue_mask(labels: np.ndarray, proba: np.ndarray, filter_by: str = DEFAULT_FILTER) -> np.ndarray:
    """cleanlab's ``find_label_issues``: which samples are likely label issues (boolean, shape (n,))."""
    from cleanlab.filter import find_label_issues

    # n_jobs=1: no multiprocessing pool inside a job worker or a Streamlit server.
    return np.asarray(find_label_issues(np.asarray(labels), np.asarray(proba, dtype=np.float64),
                                        filter_by=filter_by, n_jobs=1), dtype=bool)


def rank_suspects(
    labels: np.ndarray,
    proba: np.ndarray,
    method: str = DEFAULT_METHOD,
    filter_by: str | None = DEFAULT_FILTER,
) -> Suspects:
    """The suspects: samples cleanlab flags, ordered by label quality, worst first.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
        Given labels.
    proba : ndarray of float, shape (n, n_classes)
        Out-of-fold probabilities (:func:`out_of_fold_proba`).
    method : str
        Score that orders them, one of :data:`RANKING_METHODS`.
    filter_by : str or None
        ``find_label_issues``' rule for which samples are issues; None ranks every sample.

    Returns
    -------
    Suspects
    """
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float32)
    if proba.ndim != 2 or proba.shape[0] != labels.shape[0]:
        raise DataError(f"{labels.shape[0]} labels but probabilities of shape {proba.shape}")
    scores = quality_scores(labels, proba, method)
    if filter_by is None:
        candidates = np.arange(len(labels))
    else:
        candidates = np.flatnonzero(issue_mask(labels, proba, filter_by))
    order = candidates[np.argsort(scores[candidates], kind="stable")]
    return Suspects(
        indices=order.astype(np.int64),
        given=labels[order],
        suggested=proba[order].argmax(axis=1).astype(np.int64),
        quality=scores[order],
        proba=proba[order],
        method=method,
        n_samples=int(len(labels)),
    )


def noise_recovery(
    flipped: np.ndarray, proba: np.ndarray, noisy_labels: np.ndarray, fraction: float = 0.01
) -> dict[str, dict[str, float]]:
    """Precision and recall of the top ``fraction`` of suspects against known flipped samples.

    Parameters
    ----------
    flipped : ndarray of int
        Indices whose label was changed on purpose.
    proba : ndarray, shape (n, n_classes)
        Out-of-fold probabilities computed on ``noisy_labels``.
    noisy_labels : ndarray of int, shape (n,)
    fraction : float
        Share of all samples taken from the top of each ranking.

    Returns
    -------
    dict
        ``{method: {"precision", "recall", "top"}}`` for every :data:`RANKING_METHODS`,
        plus ``"find_label_issues"`` (its whole flagged set, ``top`` = its size).
    """
    truth = np.zeros(len(noisy_labels), dtype=bool)
    truth[np.asarray(flipped)] = True
    top = max(1, int(round(fraction * len(noisy_labels))))
    out: dict[str, dict[str, float]] = {}
    for method in RANKING_METHODS:
        scores = quality_scores(noisy_labels, proba, method)
        picked = np.argsort(scores, kind="stable")[:top]
        hits = int(truth[picked].sum())
        out[method] = {"precision": hits / top, "recall": hits / max(1, int(truth.sum())), "top": top}
    mask = issue_mask(noisy_labels, proba)
    hits = int((truth & mask).sum())
    out["find_label_issues"] = {"precision": hits / max(1, int(mask.sum())),
                                "recall": hits / max(1, int(truth.sum())), "top": int(mask.sum())}
    return out


def flip_labels(labels: np.ndarray, fraction: float, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``fraction`` of the labels to another class, uniformly at random (seeded).

    Returns
    -------
    noisy : ndarray of int64, shape (n,)
    flipped : ndarray of int64
        Sorted indices of the changed samples.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, dtype=np.int64)
    n_flip = int(round(fraction * len(labels)))
    flipped = np.sort(rng.choice(len(labels), size=n_flip, replace=False))
    noisy = labels.copy()
    # Adding 1..k-1 modulo k gives a different class, uniformly.
    noisy[flipped] = (labels[flipped] + rng.integers(1, n_classes, size=n_flip)) % n_classes
    return noisy, flipped


# ---------------------------------------------------------------- cache

def cache_root() -> Path:
    """``<data cache>/label_issues``: where the computed probabilities are kept."""
    from dashboard.data.loading import cache_dir

    return cache_dir() / CACHE_SUBDIR


def cache_key(checksum: str, corrections_version: str, params: OOFParams) -> str:
    """Identifies one search: the data's checksum, the corrections version and the model parameters."""
    blob = json.dumps({"checksum": checksum, "corrections": corrections_version,
                       "params": params.to_dict(), "format": CACHE_FORMAT}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_proba(folder: Path, proba: np.ndarray, labels: np.ndarray, meta: dict) -> None:
    """Write ``proba.npy``, ``labels.npy`` then ``meta.json`` (last: its presence means complete)."""
    folder.mkdir(parents=True, exist_ok=True)

    def npy(arr):
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
        return write

    _atomic_write(folder / "proba.npy", npy(np.asarray(proba, dtype=np.float32)))
    _atomic_write(folder / "labels.npy", npy(np.asarray(labels, dtype=np.int64)))
    _atomic_write(folder / "meta.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=1)))


def load_proba(folder: Path, n_samples: int | None = None) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The cached ``(proba, labels, meta)`` of one search, or None when absent or unreadable."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        proba = np.load(folder / "proba.npy", allow_pickle=False)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if proba.ndim != 2 or labels.shape != (proba.shape[0],):
        return None
    if n_samples is not None and proba.shape[0] != n_samples:
        return None
    return proba, labels, meta


def dataset_version(ds: Dataset) -> tuple[str, str]:
    """``(checksum of the original data, corrections version)`` of a dataset.

    A corrected dataset (:class:`dashboard.data.corrections.CorrectedDataset`)
    reports its base checksum and its corrections' version; any other dataset
    reports its own checksum and ``""``.
    """
    base = getattr(ds, "base_checksum", None)
    if base:
        return base, str(getattr(ds, "corrections_version", ""))
    return ds.checksum, ""


def cached_suspects(ds: Dataset, params: OOFParams = OOFParams(), method: str = DEFAULT_METHOD,
                    root: Path | None = None) -> Suspects | None:
    """The suspects of ``ds`` if its search is cached, else None (cheap: no training)."""
    checksum, version = dataset_version(ds)
    key = cache_key(checksum, version, params)
    folder = (root or cache_root()) / key
    loaded = load_proba(folder, len(ds))
    if loaded is None:
        return None
    proba, labels, meta = loaded
    ranked_path = folder / f"suspects-{method}.npz"
    try:
        with np.load(ranked_path, allow_pickle=False) as z:
            s = Suspects(indices=z["indices"], given=z["given"], suggested=z["suggested"],
                         quality=z["quality"], proba=z["proba"], method=method,
                         n_samples=len(labels), key=key, params=meta.get("params", {}))
        return s
    except (OSError, ValueError, KeyError):
        pass
    s = rank_suspects(labels, proba, method)
    s = Suspects(**{**s.__dict__, "key": key, "params": meta.get("params", {})})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, indices=s.indices, given=s.given, suggested=s.suggested,
                     quality=s.quality, proba=s.proba)
    try:
        _atomic_write(ranked_path, write)
    except OSError:
        pass  # a read-only cache still gives the answer, just not faster next time
    return s


def find_suspects(
    ds: Dataset,
    params: OOFParams = OOFParams(),
    method: str = DEFAULT_METHOD,
    progress: FoldProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    root: Path | None = None,
) -> Suspects:
    """The suspects of ``ds``, computing and caching the out-of-fold probabilities if needed.

    Parameters
    ----------
    ds : Dataset
        The split to search (its labels are the given labels).
    params : OOFParams
    method : str
        Ranking score, one of :data:`RANKING_METHODS`.
    progress, should_stop : callable, optional
        As for :func:`out_of_fold_proba`.
    root : Path, optional
        Cache folder (default :func:`cache_root`).

    Returns
    -------
    Suspects
    """
    found = cached_suspects(ds, params, method, root)
    if found is not None:
        if progress is not None:
            progress(1.0, "cached")
        return found
    checksum, version = dataset_version(ds)
    key = cache_key(checksum, version, params)
    t0 = time.perf_counter()
    proba = out_of_fold_proba(ds.images, ds.labels, ds.n_classes, params, progress, should_stop)
    meta = {"format": CACHE_FORMAT, "dataset": ds.name, "split": ds.split, "checksum": checksum,
            "corrections_version": version, "params": params.to_dict(), "n_samples": len(ds),
            "seconds": round(time.perf_counter() - t0, 3), "created": time.time()}
    try:
        save_proba((root or cache_root()) / key, proba, ds.labels, meta)
    except OSError as exc:
        raise DataError(f"cannot keep the label-issue search in {root or cache_root()}: "
                        f"{exc.strerror or exc}") from None
    found = cached_suspects(ds, params, method, root)
    if progress is not None:
        progress(1.0, f"{len(found):,} suspects")
    return found


# ---------------------------------------------------------------- job kind

def load_for_search(params: dict) -> Dataset:
    """The dataset a job's ``params`` name: ``dataset`` + ``split``, with its corrections if ``corrections``."""
    from dashboard.data.loading import load_dataset

    name = params.get("dataset")
    split = params.get("split", "train")
    if params.get("data"):
        # A user's upload, handed over as an NPZ by save_for_worker (never a pickle).
        from dashboard.data.userdata import read_path

        ds = next(iter(read_path(params["data"]).values()))
        return ds
    if not name:
        raise ParameterError("dataset", "is required")
    ds = load_dataset(str(name), str(split))
    if params.get("corrections"):
        from dashboard.data.corrections import apply_corrections, load_corrections

        corr = load_corrections(ds)
        if corr is not None:
            ds = apply_corrections(ds, corr)
    return ds


def save_for_worker(ds: Dataset, root: Path | None = None) -> Path:
    """Write ``ds`` as an NPZ a worker process can load (uploads live in one session's memory).

    Named by the checksum, so the worker's search lands in the same cache entry.
    """
    from dashboard.data.corrections import export_dataset

    folder = (root or cache_root()) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ds.checksum[:24]}.npz"
    if not path.is_file():
        (_, data), = export_dataset(ds, "npz")
        _atomic_write(path, lambda tmp: tmp.write_bytes(data))
    return path


def run(params: dict, progress) -> dict:
    """Job kind ``label_issues``: find the suspects of a dataset in a worker, with progress.

    Parameters
    ----------
    params : dict
        ``dataset`` (catalog name), ``split`` (default ``"train"``), ``corrections``
        (bool: search the corrected set), ``method`` and the fields of :class:`OOFParams`.
    progress : Progress
        The job system's progress handle (``update``, ``should_stop``, ``folder``).

    Returns
    -------
    dict
        JSON-able: ``key``, ``dataset``, ``split``, ``n_samples``, ``n_suspects``,
        ``method``, ``params`` and the ``top`` 20 suspects.
    """
    ds = load_for_search(params)
    oof = OOFParams.from_dict(params)
    method = params.get("method", DEFAULT_METHOD)
    progress.update(0.0, f"searching {ds.describe()}", {"dataset": ds.name, "split": ds.split})

    def report(fraction: float, message: str) -> None:
        progress.update(fraction, message, {"dataset": ds.name, "split": ds.split})

    suspects = find_suspects(ds, oof, method, report, progress.should_stop)
    return {
        "key": suspects.key,
        "dataset": ds.name,
        "split": ds.split,
        "corrections_version": dataset_version(ds)[1],
        "n_samples": suspects.n_samples,
        "n_suspects": len(suspects),
        "method": method,
        "params": oof.to_dict(),
        "top": suspects.records(20),
    }
