"""Datasets shared with worker processes: ``.npy`` files written once, memory-mapped by every reader.

A job gets a small *reference* (a dict) instead of the arrays. The arrays are
written once into ``<cache>/arrays/<key>/`` (key from the splits' checksums, so
the same data is never written twice) and each worker opens them with
``np.load(mmap_mode="r")``: the pages of the file are shared by every process
through the OS page cache, not copied per worker. The folder is written aside
and renamed into place, so a reader never sees half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

import numpy as np

from dashboard.data.dataset import Dataset
from dashboard.errors import DataError

META_FILE = "meta.json"


def arrays_dir() -> Path:
    """``arrays/`` in the data cache (``$DASHBOARD_CACHE_DIR`` or ``data/``)."""
    from dashboard.data.loading import cache_dir

    return cache_dir() / "arrays"


def share_splits(train: Dataset, test: Dataset, root: Path | None = None) -> dict:
    """Write the two splits as ``.npy`` files (once per content) and return their reference.

    Parameters
    ----------
    train, test : Dataset
        Splits of one dataset.
    root : Path, optional
        Default :func:`arrays_dir`.

    Returns
    -------
    dict
        JSON-able: ``{"dir", "key", "name"}``; give it to :func:`open_splits`.
    """
    root = Path(root) if root is not None else arrays_dir()
    key = hashlib.sha256(f"{train.checksum}:{test.checksum}".encode()).hexdigest()[:32]
    final = root / key
    if not (final / META_FILE).is_file():
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".tmp-{key}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            for part, ds in (("train", train), ("test", test)):
                np.save(tmp / f"{part}_images.npy", np.ascontiguousarray(ds.images))
                np.save(tmp / f"{part}_labels.npy", np.ascontiguousarray(ds.labels, dtype=np.int64))
            meta = {"name": train.name, "source": train.source, "class_names": list(train.class_names),
                    "splits": [train.split, test.split]}
            (tmp / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / META_FILE).is_file():  # not a concurrent writer that won: a real error
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"dir": str(final), "key": key, "name": train.name}


def open_splits(ref: dict) -> tuple[Dataset, Dataset]:
    """The train and test splits of a reference from :func:`share_splits`, memory-mapped read-only."""
    folder = Path(str(ref.get("dir", "")))
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        out = []
        for part, split in zip(("train", "test"), meta["splits"]):
            out.append(Dataset(
                images=np.load(folder / f"{part}_images.npy", mmap_mode="r", allow_pickle=False),
                labels=np.load(folder / f"{part}_labels.npy", mmap_mode="r", allow_pickle=False),
                class_names=tuple(meta["class_names"]), name=meta["name"], split=split, source=meta["source"],
            ))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"the shared copy of the dataset in {folder} cannot be read ({exc})") from None
    return out[0], out[1]
