"""Finding and loading datasets by name.

A catalog set is looked for, in order, in ``$DASHBOARD_DATA_DIR/<name>/``, in
the project's ``data/<name>/``, and in the folders a system package installs it
to; :func:`load_dataset` can then download it into ``data/``. ``digits`` ships
inside scikit-learn and is always there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from dashboard.data.catalog import (
    CATALOG,
    DIGITS_NAME,
    DIGITS_SEED,
    DIGITS_TEST_FRACTION,
    SPLITS,
    CatalogEntry,
)
from dashboard.data.dataset import Dataset
from dashboard.data.idx import read_idx
from dashboard.errors import DataError

ENV_DATA_DIR = "DASHBOARD_DATA_DIR"
ENV_CACHE_DIR = "DASHBOARD_CACHE_DIR"
PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"

Progress = Callable[[int, int | None, str], None]


def cache_dir() -> Path:
    """Where downloads go (and runs are kept): ``$DASHBOARD_CACHE_DIR`` or the project's ``data/``."""
    return Path(os.environ.get(ENV_CACHE_DIR) or PROJECT_DATA_DIR)


def search_dirs(extra: Sequence[str | os.PathLike] = ()) -> list[Path]:
    """The data folders searched, in order: ``extra``, ``$DASHBOARD_DATA_DIR``, :func:`cache_dir`."""
    dirs = [Path(d) for d in extra]
    if os.environ.get(ENV_DATA_DIR):
        dirs.append(Path(os.environ[ENV_DATA_DIR]))
    dirs.append(cache_dir())
    return dirs


def _file_in(folder: Path, gz_name: str) -> Path | None:
    # Accept the file as the mirrors serve it (.gz) or already decompressed.
    for candidate in (folder / gz_name, folder / gz_name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_files(
    entry: CatalogEntry, split: str, extra_dirs: Sequence[str | os.PathLike] = ()
) -> tuple[Path, Path] | None:
    """Where the image and label files of ``entry``'s ``split`` are, or None.

    Looks in ``<dir>/<name>/`` for each of :func:`search_dirs`, then in the
    entry's system folders.
    """
    folders = [d / entry.name for d in search_dirs(extra_dirs)]
    folders += [Path(d) for d in entry.system_dirs]
    for folder in folders:
        found = [_file_in(folder, f) for f in entry.files[split]]
        if all(found):
            return found[0], found[1]
    return None


def is_available(name: str, extra_dirs: Sequence[str | os.PathLike] = ()) -> bool:
    """Whether ``name`` can be loaded now without a network."""
    if name == DIGITS_NAME:
        return True
    entry = _entry(name)
    return all(find_files(entry, s, extra_dirs) for s in SPLITS)


def _entry(name: str) -> CatalogEntry:
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join([*CATALOG, DIGITS_NAME])
        raise DataError(f"unknown dataset {name!r}; known datasets: {known}") from None


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose train or test")


def load_idx_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    split: str = "all",
) -> Dataset:
    """Load an IDX image file and its IDX label file as a :class:`Dataset`."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    ipath, lpath = Path(images_path), Path(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{ipath.name}: expected unsigned-byte images of shape (n, height, width), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{lpath.name}: expected a 1-D integer label file, got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{ipath.name} holds {images.shape[0]:,} images but {lpath.name} "
            f"holds {labels.shape[0]:,} labels"
        )
    if labels.size and labels.min() < 0:
        raise DataError(f"{lpath.name}: negative label {int(labels.min())}")
    if class_names is None:
        class_names = default_class_names(labels)
    elif labels.size and labels.max() >= len(class_names):
        raise DataError(
            f"{lpath.name}: label {int(labels.max())} but only {len(class_names)} classes"
        )
    return Dataset(
        images=images,
        labels=labels.astype(np.int64),
        class_names=tuple(class_names),
        name=name or ipath.parent.name,
        split=split,
        source=str(ipath.parent),
    )


MAX_CLASSES = 1000


def default_class_names(labels: np.ndarray) -> tuple[str, ...]:
    """``("0", "1", ...)`` up to the largest label; refuses absurd label values."""
    top = int(labels.max()) if labels.size else 0
    if top >= MAX_CLASSES:
        raise DataError(
            f"label {top} is too large: labels must be class numbers 0..{MAX_CLASSES - 1}"
        )
    return tuple(str(i) for i in range(top + 1))


def load_digits(split: str = "train") -> Dataset:
    """scikit-learn's 8x8 digits, values 0-16 scaled to 0-255, with a fixed stratified split."""
    _check_split(split)
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = _sk_load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    idx_train, idx_test = train_test_split(
        np.arange(len(images)),
        test_size=DIGITS_TEST_FRACTION,
        random_state=DIGITS_SEED,
        stratify=bunch.target,
    )
    idx = np.sort(idx_train if split == "train" else idx_test)
    return Dataset(
        images=images[idx],
        labels=bunch.target[idx].astype(np.int64),
        class_names=tuple(str(i) for i in range(10)),
        name=DIGITS_NAME,
        split=split,
        source="scikit-learn (sklearn.datasets.load_digits)",
    )


def load_dataset(
    name: str,
    split: str = "train",
    *,
    extra_dirs: Sequence[str | os.PathLike] = (),
    download: bool = False,
    progress: Progress | None = None,
) -> Dataset:
    """Load one split of a catalog dataset.

    Parameters
    ----------
    name : str
        A name from :func:`dashboard.data.catalog.dataset_names`.
    split : {"train", "test"}
    extra_dirs : sequence of path-like
        Folders to look in first (each holding ``<name>/``).
    download : bool
        When the files are nowhere local, download them into ``cache_dir()/<name>/``.
    progress : callable, optional
        ``progress(done_bytes, total_bytes_or_None, file_name)`` during a download.

    Raises
    ------
    DataError
        If the set is not available (the message says how to get it) or a file is bad.
    """
    _check_split(split)
    if name == DIGITS_NAME:
        return load_digits(split)
    entry = _entry(name)
    found = find_files(entry, split, extra_dirs)
    if found is None and download:
        from dashboard.data.download import fetch_dataset

        fetch_dataset(entry, cache_dir(), progress=progress)
        found = find_files(entry, split, extra_dirs)
    if found is None:
        raise DataError(
            f"{entry.title} is not on this machine. Download it with "
            f"`python -m dashboard fetch {entry.name}` (needs internet), or put its four "
            f"IDX files ({', '.join(entry.file_names)}) in {cache_dir() / entry.name} "
            f"or in a folder named by ${ENV_DATA_DIR}."
        )
    return load_idx_pair(*found, class_names=entry.class_names, name=entry.name, split=split)


class DatasetCache:
    """Decoded datasets kept in memory, keyed by (name, split), safe across threads.

    The app keeps one per server process so that every session shares one copy.
    """

    def __init__(self, loader: Callable[..., Dataset] = load_dataset) -> None:
        self._loader = loader
        self._items: dict[tuple[str, str], Dataset] = {}
        self._lock = threading.Lock()

    def get(self, name: str, split: str = "train", **kwargs) -> Dataset:
        key = (name, split)
        with self._lock:
            if key not in self._items:
                self._items[key] = self._loader(name, split, **kwargs)
            return self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
