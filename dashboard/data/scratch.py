"""A scratch set: the user's own drawings, kept like an upload, never mixed into the real data.

One ``.npz`` per image shape under ``<data cache>/scratch/`` (``images``,
``labels``, ``class_names``: the layout :func:`dashboard.data.userdata.read_npz`
reads, without pickle), so the set is opened exactly as an uploaded file is.
"""

from __future__ import annotations

import io
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dashboard.data.dataset import Dataset
from dashboard.data.loading import cache_dir
from dashboard.data.userdata import read_npz
from dashboard.errors import DataError

MAX_DRAWINGS = 10_000


def default_root() -> Path:
    """``scratch/`` in the data cache (the project's ``data/`` by default)."""
    return cache_dir() / "scratch"


class ScratchSet:
    """The drawings of one image shape, with the label the user gave each.

    Parameters
    ----------
    root : Path
        Folder of the scratch files.
    shape : (int, int)
        ``(height, width)`` of the drawings.
    class_names : sequence of str
        Names of the labels (those of the dataset the drawings are for).
    """

    def __init__(self, root: Path, shape: tuple[int, int], class_names: Sequence[str]) -> None:
        self.root = Path(root)
        self.shape = (int(shape[0]), int(shape[1]))
        self.class_names = tuple(str(c) for c in class_names)

    @property
    def path(self) -> Path:
        h, w = self.shape
        return self.root / f"drawings-{h}x{w}-{len(self.class_names)}classes.npz"

    @property
    def name(self) -> str:
        h, w = self.shape
        return f"my drawings {h}x{w}"

    def load(self) -> Dataset | None:
        """The drawings saved so far as a dataset (split ``"all"``), or None if there are none.

        Raises
        ------
        DataError
            If the file is damaged (it is read exactly like an uploaded .npz).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DataError(f"the scratch set cannot be read ({exc})") from None
        ds = read_npz(data, self.path.name)["all"]
        return Dataset(ds.images, ds.labels, ds.class_names, self.name, "all", str(self.path))

    def __len__(self) -> int:
        ds = self.load()
        return 0 if ds is None else len(ds)

    def add(self, image: np.ndarray, label: int) -> Dataset:
        """Append one drawing with its label; returns the whole set.

        Raises
        ------
        DataError
            On a wrong shape or label, a full set, or a disk that refuses the write.
        """
        image = np.asarray(image)
        if image.shape != self.shape or image.dtype != np.uint8:
            raise DataError(f"a drawing must be uint8 {self.shape}, got {image.dtype} {image.shape}")
        if not 0 <= int(label) < len(self.class_names):
            raise DataError(f"label {label} is not one of 0..{len(self.class_names) - 1}")
        old = self.load()
        if old is not None and len(old) >= MAX_DRAWINGS:
            raise DataError(f"the scratch set holds {MAX_DRAWINGS:,} drawings already; clear it first")
        images = image[None] if old is None else np.concatenate([old.images, image[None]])
        labels = np.array([label]) if old is None else np.append(old.labels, int(label))
        self._write(images, labels.astype(np.int64))
        return self.load()

    def clear(self) -> None:
        """Forget every drawing of this shape."""
        self.path.unlink(missing_ok=True)

    def _write(self, images: np.ndarray, labels: np.ndarray) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, images=images, labels=labels, class_names=np.array(self.class_names, dtype=str))
        tmp = self.path.with_name(f".tmp-{secrets.token_hex(4)}-{self.path.name}")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(buf.getvalue())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(f"the drawing could not be saved in {self.root} ({exc.strerror or exc})") from None
