"""The training images nearest to a given image, at a bounded cost per query.

Distances are Euclidean in pixel space, the plainest meaning of "looks
alike". Comparing a drawing with all 60,000 MNIST images pixel by pixel on
every stroke would cost ~47 M multiply-adds and a float copy of the set, so
the set is projected once onto its first principal components (PCA fitted on
a seeded sample); a query ranks all images in that small space, then re-ranks
the best ``candidates`` by their exact pixel distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from dashboard.lab.training import scale_images

_BATCH = 8192


@dataclass(frozen=True)
class Neighbours:
    """Indices of the nearest images (closest first) and their pixel distances (0-1 scale)."""

    indices: np.ndarray
    distances: np.ndarray


class NearestIndex:
    """Nearest images of one set of uint8 images ``(n, h, w)``.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, h, w)
        Not copied (kept by reference for the exact re-ranking).
    n_components : int
        PCA dimensions (capped by the pixel count and the sample size).
    fit_sample : int
        Images the PCA is fitted on (a seeded random sample).
    seed : int
    """

    def __init__(self, images: np.ndarray, n_components: int = 40, fit_sample: int = 5000, seed: int = 0) -> None:
        self.images = np.asarray(images)
        n = len(self.images)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=min(fit_sample, n), replace=False))
        x_fit = scale_images(self.images[sample])
        k = max(1, min(n_components, x_fit.shape[1], len(sample)))
        self.pca = PCA(n_components=k, svd_solver="randomized" if k < min(x_fit.shape) else "full",
                       random_state=seed).fit(x_fit)
        self.codes = np.concatenate([
            self.pca.transform(scale_images(self.images[s : s + _BATCH])).astype(np.float32)
            for s in range(0, n, _BATCH)
        ])

    def query(self, image: np.ndarray, k: int = 8, candidates: int = 64) -> Neighbours:
        """The ``k`` images nearest to ``image`` (uint8 ``(h, w)``), closest first.

        Parameters
        ----------
        image : ndarray of uint8, shape (h, w)
        k : int
        candidates : int
            How many PCA-nearest images are re-ranked by exact pixel distance.
        """
        x = scale_images(np.asarray(image)[None])
        code = self.pca.transform(x).astype(np.float32)[0]
        d2 = np.einsum("ij,ij->i", self.codes - code, self.codes - code)
        m = min(max(candidates, k), len(d2))
        cand = np.argpartition(d2, m - 1)[:m]
        exact = np.linalg.norm(scale_images(self.images[cand]) - x, axis=1)
        order = np.argsort(exact, kind="stable")[:k]
        return Neighbours(cand[order].astype(np.int64), exact[order].astype(np.float32))
