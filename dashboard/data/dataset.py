"""The in-memory form of one split of an image-classification dataset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dashboard.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of a labelled image set.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, height, width)
        Pixel values 0-255. Stored read-only: every user shares one copy.
    labels : ndarray of int, shape (n,)
        Class index of each image, ``0 <= label < len(class_names)``.
    class_names : tuple of str
        Human name of each class index.
    name : str
        Dataset name (``"mnist"``, ``"digits"``, or a user file's stem).
    split : str
        ``"train"``, ``"test"`` or ``"all"`` for a user file with no split.
    source : str
        Where the data came from (a path, a URL, or a package), for display.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    split: str
    source: str

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(
                f"images must be a uint8 array of shape (n, height, width), "
                f"got {images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{images.shape[0]} images but {labels.shape[0] if labels.ndim else 0} labels"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"labels must be integers, got {labels.dtype}")
        if images.shape[0] == 0:
            raise DataError("the dataset holds no images")
        if min(images.shape[1:]) < 1:
            raise DataError(f"images have an empty side: {images.shape[1:]}")
        if len(self.class_names) == 0:
            raise DataError("the dataset has no class names")
        if labels.min() < 0 or labels.max() >= len(self.class_names):
            raise DataError(
                f"labels must lie in 0..{len(self.class_names) - 1}, "
                f"found {int(labels.min())}..{int(labels.max())}"
            )
        # Freeze views, not copies: the arrays may be shared by many sessions.
        if images.flags.writeable:
            images = images.view()
            images.flags.writeable = False
        if labels.flags.writeable:
            labels = labels.view()
            labels.flags.writeable = False
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))

    def __repr__(self) -> str:
        return f"<Dataset {self.describe()}>"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape ``(height, width)``."""
        return (int(self.images.shape[1]), int(self.images.shape[2]))

    @property
    def n_features(self) -> int:
        """Pixels per image, ``height * width``."""
        return self.shape[0] * self.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def flat(self) -> np.ndarray:
        """Images as a read-only ``(n, height*width)`` view; pixel (r, c) is column ``r*width + c``."""
        return self.images.reshape(len(self), self.n_features)

    def class_counts(self) -> np.ndarray:
        """Number of samples of each class, indexed by label."""
        return np.bincount(self.labels, minlength=self.n_classes)

    @cached_property
    def checksum(self) -> str:
        """SHA-256 over the shape, pixels and labels: identifies the exact data a model saw."""
        h = hashlib.sha256()
        h.update(repr((self.images.shape, self.class_names)).encode())
        h.update(np.ascontiguousarray(self.images).data)
        h.update(np.ascontiguousarray(self.labels, dtype="<i8").data)
        return h.hexdigest()

    def describe(self) -> str:
        """One line for people: name, split, size and shape."""
        h, w = self.shape
        return f"{self.name} ({self.split}): {len(self):,} images of {h}x{w}, {self.n_classes} classes"
