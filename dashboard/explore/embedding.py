"""Maps of a whole dataset in 2-D: PCA, UMAP and t-SNE, cached on disk without pickle.

Every method starts from the same PCA-50 reduction of the pixels (float32):

- ``pca``: its first two components (exactly PCA-2, because PCA components are
  ordered), so the PCA map costs nothing once PCA-50 exists;
- ``umap``: umap-learn on PCA-50;
- ``tsne``: openTSNE on PCA-50.

Results are cached under ``<cache_dir>/maps/`` keyed by the dataset's checksum,
its split, the method and the method's parameters: one ``.npz`` (opened with
``allow_pickle=False``) and one small JSON sidecar. A cache file that cannot be
read, or whose sidecar does not match the key, is recomputed (the reason is
reported through ``notify``); it is never trusted.

How much class structure a map keeps is measured by :func:`knn_accuracy`: the
10-nearest-neighbour accuracy of the 2-D points, fitted on "train points" and
scored on "test points". A map shows one split, so those are a fixed, seeded,
stratified 80/20 split of the mapped samples (the same for every method, so the
figures compare).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError

METHODS = ("pca", "umap", "tsne")
METHOD_TITLES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
PCA_DIMS = 50
CACHE_VERSION = 1
# Default parameters of each method (named, so that the cache key is explicit). UMAP:
# 100 epochs, not umap-learn's 200 for large sets: on MNIST train the 2-D kNN accuracy
# is the same (0.970 vs 0.972) and it is 10 s faster. seed -1 = unseeded: a seed makes
# umap-learn single-threaded, and a map is computed once and cached anyway.
DEFAULTS: dict[str, dict[str, Any]] = {
    "pca": {},
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "n_epochs": 100, "seed": -1},
    "tsne": {"perplexity": 30.0, "n_iter": 500, "seed": 0},
}

#: ``progress(fraction, message)``: fraction in [0, 1].
ProgressFn = Callable[[float, str], None]
#: ``notify(message)``: things a user should know (a cache recomputed).
NotifyFn = Callable[[str], None]


class MapError(DashboardError):
    """A map cannot be computed with these parameters."""


class MapStopped(DashboardError):
    """The computation was asked to stop."""


def _noop(*_args, **_kwargs) -> None:
    return None


def maps_dir(root: Path | None = None) -> Path:
    """Where maps are cached: ``root`` or ``dashboard.data.loading.cache_dir() / "maps"``."""
    if root is not None:
        return Path(root)
    from dashboard.data.loading import cache_dir

    return cache_dir() / "maps"


def method_params(method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The full parameters of ``method``: its defaults updated by ``params``.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    params : mapping, optional
        Overrides; unknown names are refused.

    Returns
    -------
    dict
        JSON-able parameters, in a fixed key order.
    """
    if method not in METHODS:
        raise MapError(f"unknown map method {method!r}; known: {', '.join(METHODS)}")
    out = dict(DEFAULTS[method])
    for k, v in (params or {}).items():
        if k not in out:
            raise MapError(f"{METHOD_TITLES[method]} has no parameter {k!r}; it has: {', '.join(out) or 'none'}")
        out[k] = type(out[k])(v)
    if method == "umap":
        if out["n_neighbors"] < 2 or out["n_epochs"] < 1 or not 0.0 <= out["min_dist"] <= 1.0:
            raise MapError("UMAP needs n_neighbors >= 2, n_epochs >= 1 and 0 <= min_dist <= 1")
    if method == "tsne" and (out["perplexity"] <= 0 or out["n_iter"] < 1):
        raise MapError("t-SNE needs perplexity > 0 and n_iter >= 1")
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- computing


MAX_PCA_SIDE = 64  # larger images are averaged down in blocks before PCA


def pca_block(height: int, width: int, max_side: int = MAX_PCA_SIDE) -> int:
    """The block size that brings ``height x width`` images to at most ``max_side`` a side (1: none)."""
    return max(1, -(-max(height, width) // max_side))


def block_means(images: np.ndarray, factor: int, max_chunk_bytes: int = 64 << 20) -> np.ndarray:
    """Images averaged over ``factor x factor`` blocks, flattened to float32 rows.

    PCA of 1000x1000 images held 1.3 GB for 60 samples (float copies of a million
    columns); at 63x63 the map and similar images keep the picture's layout for a
    fraction of that. Converted a few images at a time, so memory stays bounded.

    Parameters
    ----------
    images : ndarray, shape (n, height, width)
    factor : int
        Block side; the edges are padded by repeating the last row and column.
    max_chunk_bytes : int
        Float32 working memory per chunk of images.

    Returns
    -------
    ndarray of float32, shape (n, ceil(height / factor) * ceil(width / factor))
    """
    n, h, w = images.shape
    hb, wb = -(-h // factor), -(-w // factor)
    out = np.empty((n, hb * wb), dtype=np.float32)
    step = max(1, max_chunk_bytes // max(1, h * w * 4))
    for start in range(0, n, step):
        part = images[start:start + step].astype(np.float32)
        part = np.pad(part, ((0, 0), (0, hb * factor - h), (0, wb * factor - w)), mode="edge")
        blocks = part.reshape(len(part), hb, factor, wb, factor)
        out[start:start + step] = blocks.mean(axis=(2, 4)).reshape(len(part), -1)
    return out


def pca_reduce(X: np.ndarray, n_components: int = PCA_DIMS, seed: int = 0,
               max_fit: int = 20_000) -> np.ndarray:
    """PCA of the rows of ``X`` to ``n_components`` dimensions (randomized solver, float32).

    The components are fitted on at most ``max_fit`` seeded random rows, then every row
    is projected: for 60,000 MNIST images this is several times faster than fitting on
    all of them, and 20,000 samples pin 50 components of 784 pixels down well.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        One sample per row (e.g. ``Dataset.flat()``; converted to float32 here).
    n_components : int
        Wanted dimensions; capped at ``min(n - 1, d)`` for small sets.
    seed : int
        Seed of the randomized SVD and of the rows fitted.
    max_fit : int
        Rows the components are fitted on (all when fewer).

    Returns
    -------
    ndarray of float32, shape (n, k)
        Components in order of explained variance: column 0 and 1 are PCA-2.
    """
    from sklearn.decomposition import PCA

    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 3:
        raise MapError(f"a map needs at least 3 samples with features, got shape {X.shape}")
    k = int(min(n_components, X.shape[0] - 1, X.shape[1]))
    pca = PCA(n_components=k, svd_solver="randomized", random_state=seed)
    rows = np.arange(X.shape[0])
    if X.shape[0] > max_fit:
        rows = np.sort(np.random.default_rng(seed).choice(X.shape[0], size=max_fit, replace=False))
    pca.fit(X[rows].astype(np.float32))
    out = np.empty((X.shape[0], k), dtype=np.float32)
    for start in range(0, X.shape[0], 10_000):  # bounded float32 copies of the pixels
        out[start:start + 10_000] = pca.transform(X[start:start + 10_000].astype(np.float32))
    return out


def _normalise(points: np.ndarray) -> np.ndarray:
    """Centre and scale 2-D points to unit standard deviation (the axes carry no meaning)."""
    points = np.asarray(points, dtype=np.float32)
    points = points - points.mean(axis=0)
    scale = float(points.std()) or 1.0
    return (points / scale).astype(np.float32)


class _TqdmStream:
    """A file for tqdm that turns its "12/200" counts into progress calls.

    umap-learn reports its epochs only through tqdm; this reads them rather than
    splitting the optimisation (which would change its learning-rate schedule).
    """

    _count = re.compile(r"(\d+)/(\d+)")

    def __init__(self, report: Callable[[int, int], None]) -> None:
        self.report = report

    def write(self, text: str) -> int:
        found = self._count.findall(text)
        if found:
            done, total = found[-1]
            if int(total):
                self.report(int(done), int(total))
        return len(text)

    def flush(self) -> None:
        return None


def umap_2d(Z: np.ndarray, params: Mapping[str, Any], progress: ProgressFn = _noop,
            should_stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """UMAP of ``Z`` (PCA-50 points) to 2-D.

    Parameters
    ----------
    Z : ndarray of float32, shape (n, k)
    params : mapping
        ``n_neighbors``, ``min_dist``, ``n_epochs``, ``seed`` (see :data:`DEFAULTS`).
    progress : callable
        ``progress(fraction, message)``, called during the neighbour search and each epoch.
    should_stop : callable
        Polled at every progress report; True raises :class:`MapStopped`.

    Returns
    -------
    ndarray of float32, shape (n, 2)
    """
    import warnings

    import umap

    n = Z.shape[0]
    n_neighbors = int(min(params["n_neighbors"], n - 1))
    seed = int(params["seed"])

    def epochs(done: int, total: int) -> None:
        if should_stop():
            raise MapStopped("stopped")
        progress(0.3 + 0.65 * done / total, f"UMAP: epoch {done}/{total}")

    knn = exact_neighbours(Z, n_neighbors, lambda f: progress(0.05 + 0.2 * f, "UMAP: nearest neighbours"),
                           should_stop)
    progress(0.27, "UMAP: fuzzy graph and spectral layout")
    reducer = umap.UMAP(
        n_neighbors=n_neighbors, min_dist=float(params["min_dist"]), n_epochs=int(params["n_epochs"]),
        random_state=None if seed < 0 else seed, n_jobs=-1 if seed < 0 else 1,
        n_components=2, precomputed_knn=(*knn, None),
        tqdm_kwds={"disable": False, "file": _TqdmStream(epochs), "mininterval": 0.25,
                   "ascii": True, "ncols": 80},
    )
    with warnings.catch_warnings():
        # "transforms of new data won't be possible" (we never transform), "n_jobs overridden"
        warnings.simplefilter("ignore")
        return _normalise(reducer.fit_transform(Z))


def exact_neighbours(Z: np.ndarray, k: int, progress: Callable[[float], None] = lambda f: None,
                     should_stop: Callable[[], bool] = lambda: False,
                     chunk: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``Z`` to each row (itself first), exactly, in chunks.

    For UMAP's neighbour graph: on 60,000 x 50 points scikit-learn's brute-force search
    on two cores takes about 13 s, faster than pynndescent's approximate one (about 43 s
    here), and exact neighbours cost the map nothing. Chunks give progress and a way out.

    Parameters
    ----------
    Z : ndarray of float32, shape (n, d)
    k : int
        Neighbours per row, the row itself included (UMAP's convention).
    progress : callable
        ``progress(fraction)`` after each chunk.
    should_stop : callable
        Polled after each chunk; True raises :class:`MapStopped`.
    chunk : int
        Query rows per call (scikit-learn bounds the memory of each by its working_memory).

    Returns
    -------
    indices : ndarray of int64, shape (n, k)
    distances : ndarray of float32, shape (n, k)
        Euclidean distances, ascending along each row.
    """
    from sklearn.neighbors import NearestNeighbors

    Z = np.ascontiguousarray(Z, dtype=np.float32)
    n = Z.shape[0]
    k = int(min(k, n))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", n_jobs=-1).fit(Z)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        dist, idx = nn.kneighbors(Z[start:stop])
        indices[start:stop], distances[start:stop] = idx, dist
        if should_stop():
            raise MapStopped("stopped")
        progress(stop / n)
    # A duplicate image can come before the row itself (both at distance 0): put it first.
    rows = np.flatnonzero(indices[:, 0] != np.arange(n))
    for r in rows:
        rest = [j for j in indices[r] if j != r][: k - 1]
        indices[r] = [r, *rest]
        distances[r] = [0.0, *np.linalg.norm(Z[rest] - Z[r], axis=1)]
    return indices, distances


def tsne_2d(Z: np.ndarray, params: Mapping[str, Any], progress: ProgressFn = _noop,
            should_stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """t-SNE (openTSNE) of ``Z`` (PCA-50 points) to 2-D, initialised by PCA.

    Parameters
    ----------
    Z : ndarray of float32, shape (n, k)
    params : mapping
        ``perplexity``, ``n_iter`` (optimisation iterations after early exaggeration), ``seed``.
    progress, should_stop : callable
        As in :func:`umap_2d`.

    Returns
    -------
    ndarray of float32, shape (n, 2)
    """
    import openTSNE

    n = Z.shape[0]
    perplexity = float(min(params["perplexity"], max((n - 1) / 3.0, 1.0)))
    n_iter = int(params["n_iter"])
    early = 250
    total = early + n_iter

    class Callback:
        def __init__(self, offset: int) -> None:
            self.offset = offset

        def __call__(self, iteration, error, embedding) -> bool:
            if should_stop():
                return True  # openTSNE stops when a callback returns True
            done = self.offset + iteration
            progress(0.3 + 0.65 * done / total, f"t-SNE: iteration {done}/{total}")
            return False

    progress(0.05, "t-SNE: affinities (nearest neighbours)")
    affinities = openTSNE.affinity.PerplexityBasedNN(
        Z, perplexity=perplexity, n_jobs=-1, random_state=int(params["seed"]), method="annoy")
    if should_stop():
        raise MapStopped("stopped")
    progress(0.3, "t-SNE: optimising")
    init = openTSNE.initialization.pca(Z, random_state=int(params["seed"]))
    emb = openTSNE.TSNEEmbedding(init, affinities, n_jobs=-1, random_state=int(params["seed"]))
    emb = emb.optimize(n_iter=early, exaggeration=12, momentum=0.5, callbacks=Callback(0),
                       callbacks_every_iters=10)
    if should_stop():
        raise MapStopped("stopped")
    emb = emb.optimize(n_iter=n_iter, momentum=0.8, callbacks=Callback(early), callbacks_every_iters=10)
    if should_stop():
        raise MapStopped("stopped")
    return _normalise(np.asarray(emb))


def holdout_mask(labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """The "test points" of :func:`knn_accuracy`: a seeded, stratified share of the samples.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    test_fraction : float
        Share of each class held out (at least one sample of a class with two or more).
    seed : int

    Returns
    -------
    ndarray of bool, shape (n,)
        True for a test point.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(labels.shape[0], dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if idx.size < 2:
            continue
        k = max(1, int(round(idx.size * test_fraction)))
        mask[rng.choice(idx, size=k, replace=False)] = True
    return mask


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 10, seed: int = 0) -> float:
    """10-nearest-neighbour accuracy of 2-D points: how much class structure a map keeps.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
    k : int
        Neighbours that vote (capped by the number of train points).
    seed : int
        Seed of the train/test split (:func:`holdout_mask`).

    Returns
    -------
    float
        Accuracy on the test points of a k-NN classifier fitted on the train points.
    """
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    test = holdout_mask(labels, seed=seed)
    if not test.any() or test.all():
        return float("nan")
    clf = KNeighborsClassifier(n_neighbors=int(min(k, (~test).sum())))
    clf.fit(points[~test], labels[~test])
    return float(clf.score(points[test], labels[test]))


def nearest_neighbours(Z: np.ndarray, sample: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of one sample in PCA space ("similar images").

    Parameters
    ----------
    Z : ndarray, shape (n, d)
        PCA-50 points of the whole split.
    sample : int
        Index of the sample.
    k : int
        Neighbours wanted (the sample itself is excluded).

    Returns
    -------
    indices : ndarray of int64, shape (k,)
        Nearest first.
    distances : ndarray of float32, shape (k,)
        Euclidean distances in PCA space.
    """
    Z = np.asarray(Z)
    n = Z.shape[0]
    if not 0 <= sample < n:
        raise MapError(f"sample {sample} is out of range 0..{n - 1}")
    k = int(min(k, n - 1))
    d2 = np.einsum("ij,ij->i", Z - Z[sample], Z - Z[sample])  # one pass, no n x n matrix
    d2[sample] = np.inf
    idx = np.argpartition(d2, k - 1)[:k] if k < n - 1 else np.flatnonzero(np.isfinite(d2))
    idx = idx[np.argsort(d2[idx], kind="stable")]
    return idx.astype(np.int64), np.sqrt(d2[idx]).astype(np.float32)


# --------------------------------------------------------------------------- caching


@dataclass(frozen=True)
class MapResult:
    """One computed map.

    Attributes
    ----------
    method : str
    params : dict
        Full parameters (:func:`method_params`).
    points : ndarray of float32, shape (n, 2)
    knn_accuracy : float
    seconds : float
        Time the computation took (0 for a map read from the cache is not used: the
        time of the original computation is kept).
    cached : bool
        True when read from the cache.
    """

    method: str
    params: dict
    points: np.ndarray
    knn_accuracy: float
    seconds: float
    cached: bool = False
    extra: dict = field(default_factory=dict)


def cache_key(ds_checksum: str, split: str, method: str, params: Mapping[str, Any]) -> dict:
    """What identifies a cached map: data, split, method, parameters and format version."""
    return {"version": CACHE_VERSION, "checksum": ds_checksum, "split": split, "method": method,
            "params": dict(sorted(params.items())), "pca_dims": PCA_DIMS}


def cache_stem(key: Mapping[str, Any]) -> str:
    """File-name stem of a cache entry: readable prefix plus a hash of the full key."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"{key['checksum'][:12]}-{key['split']}-{key['method']}-{digest}"


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    fd, tmp = tempfile.mkstemp(prefix="." + path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(folder: Path, key: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``arrays`` as ``<stem>.npz`` and ``key`` + ``meta`` as ``<stem>.json``, atomically.

    Parameters
    ----------
    folder : Path
    key : mapping
        From :func:`cache_key`.
    arrays : mapping of str to ndarray
        Plain numeric arrays (no objects: the file is read with ``allow_pickle=False``).
    meta : mapping, optional
        JSON-able extras (timings, accuracy).

    Returns
    -------
    Path
        The ``.npz`` file.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = cache_stem(key)
    npz, side = folder / f"{stem}.npz", folder / f"{stem}.json"
    shapes = {k: list(np.shape(v)) for k, v in arrays.items()}
    _atomic_write(npz, lambda f: np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()}))
    text = json.dumps({"key": dict(key), "shapes": shapes, "meta": dict(meta or {})}, indent=1)
    _atomic_write(side, lambda f: f.write(text), mode="w")
    return npz


def load_arrays(folder: Path, key: Mapping[str, Any],
                notify: NotifyFn = _noop) -> tuple[dict[str, np.ndarray], dict] | None:
    """Read a cache entry written by :func:`save_arrays`; None when absent or not trustworthy.

    Parameters
    ----------
    folder : Path
    key : mapping
        The entry wanted; the sidecar must hold exactly this key and the arrays the shapes it
        records.
    notify : callable
        Told why an existing entry is not used (it is then recomputed by the caller).

    Returns
    -------
    (arrays, meta) or None
    """
    stem = cache_stem(key)
    npz, side = Path(folder) / f"{stem}.npz", Path(folder) / f"{stem}.json"
    if not npz.exists() and not side.exists():
        return None
    try:
        info = json.loads(side.read_text())
        if info.get("key") != json.loads(json.dumps(dict(key))):
            raise ValueError("its description does not match this dataset and parameters")
        with np.load(npz, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
        if {k: list(v.shape) for k, v in arrays.items()} != info.get("shapes"):
            raise ValueError("its arrays do not have the recorded shapes")
        for v in arrays.values():
            if v.dtype.kind == "f" and not np.isfinite(v).all():
                raise ValueError("it holds non-finite numbers")
        return arrays, dict(info.get("meta") or {})
    except (OSError, ValueError, KeyError, TypeError, EOFError, json.JSONDecodeError) as exc:
        notify(f"The cached map {npz.name} is unreadable or does not match ({exc}); recomputing it.")
        return None
    except Exception as exc:  # zipfile.BadZipFile and friends: never trust a broken file
        notify(f"The cached map {npz.name} is damaged ({type(exc).__name__}: {exc}); recomputing it.")
        return None


class MapStore:
    """The PCA-50 reduction and the 2-D maps of datasets, computed once and kept on disk.

    Parameters
    ----------
    root : Path, optional
        Cache folder (default: :func:`maps_dir`).
    notify : callable, optional
        Receives messages about damaged cache files that were recomputed.
    """

    def __init__(self, root: Path | None = None, notify: NotifyFn = _noop) -> None:
        self.root = maps_dir(root)
        self.notify = notify

    # PCA-50 is shared by every method and by "similar images".
    def pca50(self, ds: Dataset, progress: ProgressFn = _noop) -> np.ndarray:
        """The PCA-50 points of ``ds`` (cached).

        Parameters
        ----------
        ds : Dataset
        progress : callable, optional

        Returns
        -------
        ndarray of float32, shape (n, k), k <= 50
        """
        factor = pca_block(*ds.shape)
        key = cache_key(ds.checksum, ds.split, "pca50", {"block": factor} if factor > 1 else {})
        got = load_arrays(self.root, key, self.notify)
        if got is not None and got[0]["Z"].shape[0] == len(ds):
            return got[0]["Z"]
        progress(0.01, "PCA-50")
        t = time.perf_counter()
        Z = pca_reduce(ds.flat() if factor == 1 else block_means(ds.images, factor))
        save_arrays(self.root, key, {"Z": Z}, {"seconds": time.perf_counter() - t})
        return Z

    def cached(self, ds: Dataset, method: str, params: Mapping[str, Any] | None = None) -> MapResult | None:
        """The map if it is already on disk (never computes), else None."""
        p = method_params(method, params)
        got = load_arrays(self.root, cache_key(ds.checksum, ds.split, method, p), self.notify)
        if got is None:
            return None
        arrays, meta = got
        pts = arrays.get("points")
        if pts is None or pts.shape != (len(ds), 2):
            self.notify(f"The cached {METHOD_TITLES[method]} map has the wrong shape; recomputing it.")
            return None
        return MapResult(method, p, pts, float(meta.get("knn_accuracy", float("nan"))),
                         float(meta.get("seconds", 0.0)), cached=True, extra=meta)

    def compute(self, ds: Dataset, method: str, params: Mapping[str, Any] | None = None,
                progress: ProgressFn = _noop, should_stop: Callable[[], bool] = lambda: False) -> MapResult:
        """The map of ``ds`` by ``method``: from the cache, or computed and cached.

        Parameters
        ----------
        ds : Dataset
        method : str
            One of :data:`METHODS`.
        params : mapping, optional
            Overrides of :data:`DEFAULTS`.
        progress : callable, optional
            ``progress(fraction, message)``.
        should_stop : callable, optional
            True stops the computation (raises :class:`MapStopped`).

        Returns
        -------
        MapResult
        """
        p = method_params(method, params)
        hit = self.cached(ds, method, p)
        if hit is not None:
            progress(1.0, f"{METHOD_TITLES[method]} map read from the cache")
            return hit
        t0 = time.perf_counter()
        Z = self.pca50(ds, progress)
        t_pca = time.perf_counter() - t0
        if method == "pca":
            pts = _normalise(Z[:, :2])
        elif method == "umap":
            pts = umap_2d(Z, p, progress, should_stop)
        else:
            pts = tsne_2d(Z, p, progress, should_stop)
        seconds = time.perf_counter() - t0
        progress(0.99, "10-NN accuracy of the map")
        acc = knn_accuracy(pts, ds.labels)
        meta = {"knn_accuracy": acc, "seconds": seconds, "pca_seconds": t_pca, "n": len(ds),
                "dataset": ds.name}
        save_arrays(self.root, cache_key(ds.checksum, ds.split, method, p), {"points": pts}, meta)
        progress(1.0, f"{METHOD_TITLES[method]} map done in {seconds:.1f} s")
        return MapResult(method, p, pts, acc, seconds, cached=False, extra=meta)

    def similar(self, ds: Dataset, sample: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest neighbours of ``sample`` in PCA-50 space (see :func:`nearest_neighbours`)."""
        return nearest_neighbours(self.pca50(ds), sample, k)


# --------------------------------------------------------------------------- the job kind


def export_dataset(ds: Dataset, root: Path | None = None) -> Path:
    """Write ``ds`` as a plain ``.npz`` a worker process can read (for uploads, which live
    only in the server's memory). Written once per checksum.

    Parameters
    ----------
    ds : Dataset
    root : Path, optional
        Maps folder (default: :func:`maps_dir`).

    Returns
    -------
    Path
    """
    folder = maps_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"data-{ds.checksum[:24]}.npz"
    if not path.exists():
        _atomic_write(path, lambda f: np.savez(
            f, images=ds.images, labels=ds.labels, class_names=np.array(ds.class_names, dtype=str),
            name=np.array(ds.name), split=np.array(ds.split)))
    return path


def load_split(dataset: str, split: str, data: str | None = None) -> Dataset:
    """The dataset a map job names: a catalog set, or an exported ``.npz`` (``data``)."""
    if data:
        with np.load(data, allow_pickle=False) as f:
            return Dataset(f["images"], f["labels"], tuple(str(c) for c in f["class_names"]),
                           str(f["name"]), str(f["split"]), source=str(data))
    from dashboard.data.loading import load_dataset

    return load_dataset(dataset, split)


def run(params: dict, progress) -> dict:
    """Job kind ``map``: compute (or read) one map in a worker process.

    Parameters
    ----------
    params : dict
        ``dataset`` (catalog name), ``split``, ``method``, optional ``params`` (method
        overrides), optional ``data`` (an :func:`export_dataset` file, for uploads), optional ``cache`` (maps folder),
        optional ``checksum`` (refused when the data read differ from what the page showed).
    progress : Progress
        The job system's progress object (``update``, ``should_stop``, ``folder``).

    Returns
    -------
    dict
        ``method``, ``params``, ``knn_accuracy``, ``seconds``, ``cached``, ``n``, ``checksum``;
        ``{"stopped": True, ...}`` when asked to stop (nothing is cached then).
    """
    ds = load_split(params["dataset"], params.get("split", "train"), params.get("data"))
    if params.get("checksum") and params["checksum"] != ds.checksum:
        raise MapError("the dataset on disk differs from the one shown; reopen it and try again")
    messages: list[str] = []
    store = MapStore(params.get("cache") and Path(params["cache"]), notify=messages.append)

    def report(fraction: float, message: str) -> None:
        progress.update(float(min(max(fraction, 0.0), 1.0)), message)

    try:
        result = store.compute(ds, params["method"], params.get("params"), report, progress.should_stop)
    except MapStopped:  # the worker then records the job as stopped, not failed
        return {"method": params["method"], "stopped": True, "n": len(ds), "checksum": ds.checksum}
    return {"method": result.method, "params": result.params, "knn_accuracy": result.knn_accuracy,
            "seconds": result.seconds, "cached": result.cached, "n": len(ds), "checksum": ds.checksum,
            "split": ds.split, "dataset": ds.name, "notes": messages}
