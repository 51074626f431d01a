"""Dataset statistics, computed once per dataset, and the figures of the overview page.

Class by class: counts, mean image, standard-deviation image. Whole set: the
intensity histogram, the per-pixel variance map, and a facts table. All
statistics come from one pass over the classes in float64, so even MNIST
train (60,000 images) never needs a float copy of the whole set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.data.dataset import Dataset
from dashboard.explore.figures import image_axes, index_grid
from dashboard.explore.thumbnails import plotly_plain, tiles_figure


@dataclass(frozen=True, eq=False)
class OverviewStats:
    """Statistics of one dataset split (arrays read-only: shared by every session).

    Parameters
    ----------
    counts : ndarray of int64, shape (k,)
        Samples per class.
    class_mean, class_std : ndarray of float64, shape (k, h, w)
        Per-class mean and (population) standard deviation of each pixel, in 0-255;
        zeros for a class with no samples.
    histogram : ndarray of int64, shape (256,)
        How many pixels take each value 0..255, over the whole set.
    pixel_mean, pixel_var : ndarray of float64, shape (h, w)
        Mean and variance of each pixel over the whole set.
    value_min, value_max : int
        Smallest and largest pixel value present.
    """

    counts: np.ndarray
    class_mean: np.ndarray
    class_std: np.ndarray
    histogram: np.ndarray
    pixel_mean: np.ndarray
    pixel_var: np.ndarray
    value_min: int
    value_max: int

    @property
    def imbalance(self) -> float:
        """Largest class count over the smallest (``inf`` if a class is empty)."""
        smallest = int(self.counts.min())
        return float("inf") if smallest == 0 else float(self.counts.max()) / smallest


def compute_stats(ds: Dataset) -> OverviewStats:
    """All overview statistics of ``ds`` (reads, never modifies, its arrays).

    Parameters
    ----------
    ds : Dataset

    Returns
    -------
    OverviewStats
    """
    k, (h, w) = ds.n_classes, ds.shape
    flat = ds.flat()
    counts = ds.class_counts().astype(np.int64)
    mean = np.zeros((k, h * w))
    std = np.zeros((k, h * w))
    sq_sum = np.zeros(h * w)
    order = np.argsort(ds.labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    for c in range(k):
        if counts[c] == 0:
            continue
        x = flat[order[bounds[c] : bounds[c + 1]]].astype(np.float64)
        mean[c] = x.mean(axis=0)
        std[c] = x.std(axis=0)
        sq_sum += np.einsum("ij,ij->j", x, x)
    n = len(ds)
    pixel_mean = (counts[:, None] * mean).sum(axis=0) / n
    # Var = E[x^2] - E[x]^2, clipped: rounding can leave -1e-12 on constant pixels.
    pixel_var = np.clip(sq_sum / n - pixel_mean**2, 0.0, None)
    histogram = np.bincount(flat.reshape(-1), minlength=256).astype(np.int64)
    present = np.flatnonzero(histogram)
    arrays = [counts, mean.reshape(k, h, w), std.reshape(k, h, w), histogram,
              pixel_mean.reshape(h, w), pixel_var.reshape(h, w)]
    for a in arrays:
        a.flags.writeable = False
    return OverviewStats(*arrays, value_min=int(present[0]), value_max=int(present[-1]))


def facts_frame(ds: Dataset, stats: OverviewStats) -> pd.DataFrame:
    """The facts table: one row per fact, columns ``fact`` and ``value`` (all strings)."""
    h, w = ds.shape
    imbalance = "∞ (a class has no samples)" if np.isinf(stats.imbalance) else f"{stats.imbalance:.2f}"
    rows = [
        ("dataset", f"{ds.name} ({ds.split})"),
        ("samples", f"{len(ds):,}"),
        ("image shape", f"{h} × {w} = {h * w} pixels"),
        ("classes", f"{ds.n_classes}: " + ", ".join(ds.class_names)),
        ("value range", f"{stats.value_min}–{stats.value_max} (stored as 0–255 bytes)"),
        ("imbalance (largest / smallest class)", imbalance),
        ("constant pixels (zero variance)", f"{int((stats.pixel_var == 0).sum())} of {h * w}"),
        ("source", ds.source),
        ("checksum (SHA-256)", ds.checksum[:16] + "…"),
    ]
    return pd.DataFrame(rows, columns=["fact", "value"])


def counts_figure(counts: np.ndarray, class_names: Sequence[str], imbalance: float) -> go.Figure:
    """Per-class sample counts as bars, the imbalance ratio in the title.

    Parameters
    ----------
    counts : ndarray of int, shape (k,)
    class_names : sequence of str
        Bar labels (kept as category labels, not parsed as numbers).
    imbalance : float
        Largest / smallest count.
    """
    ratio = "∞" if np.isinf(imbalance) else f"{imbalance:.2f}"
    fig = go.Figure(
        go.Bar(
            x=[plotly_plain(c) for c in class_names], y=counts, text=[f"{c:,}" for c in counts.tolist()],
            textposition="outside", hovertemplate="%{x}: %{y:,} samples<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(title="samples", range=[0, float(counts.max()) * 1.15])
    fig.update_layout(
        title={"text": f"Samples per class — imbalance (largest / smallest) {ratio}"},
        height=360, margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def class_images_figure(
    images: np.ndarray, class_names: Sequence[str], *, stretch: bool = False, cols: int = 10
) -> go.Figure:
    """One tile per class (mean or std image), captioned with the class name.

    Parameters
    ----------
    images : ndarray of float, shape (k, h, w)
        Values in 0-255.
    class_names : sequence of str
    stretch : bool
        Scale so the largest value is white (for std images, whose values
        stay well under 255).
    cols : int
        Tiles per row.
    """
    top = float(images.max()) if stretch and images.size and images.max() > 0 else 255.0
    tiles = np.clip(np.rint(images * (255.0 / top)), 0, 255).astype(np.uint8)
    hover = [f"class {name}" for name in class_names]
    return tiles_figure(tiles, list(class_names), hover=hover, cols=cols)


def histogram_figure(histogram: np.ndarray, *, value_scale: float = 255.0, log: bool = False) -> go.Figure:
    """How often each pixel value occurs, over every pixel of every image.

    Parameters
    ----------
    histogram : ndarray of int, shape (256,)
    value_scale : float
        x axis in 0-255 (255.0) or 0-1 (1.0).
    log : bool
        Log-scale y axis (MNIST is mostly zeros, which flattens the rest).
    """
    x = np.arange(256) * (value_scale / 255.0)
    fig = go.Figure(go.Bar(x=x, y=histogram, marker={"line": {"width": 0}},
                           hovertemplate="value %{x}<br>%{y:,} pixels<extra></extra>"))
    fig.update_xaxes(title="pixel value")
    fig.update_yaxes(title="pixels" + (" (log scale)" if log else ""), type="log" if log else "linear")
    fig.update_layout(height=320, bargap=0, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def variance_figure(pixel_var: np.ndarray, *, value_scale: float = 255.0, colorscale: str = "Viridis",
                    size_px: int = 420) -> go.Figure:
    """The per-pixel variance map: which pixels carry information (zero = constant).

    Parameters
    ----------
    pixel_var : ndarray of float, shape (h, w)
        Variance in 0-255 units; shown in ``value_scale`` units squared.
    value_scale : float
    colorscale : str
    size_px : int
    """
    shape = pixel_var.shape
    z = pixel_var * (value_scale / 255.0) ** 2
    fig = go.Figure(
        go.Heatmap(
            z=z, customdata=index_grid(shape), colorscale=colorscale, zmin=0,
            colorbar={"title": {"text": "variance"}, "thickness": 14},
            hovertemplate="row %{y}, column %{x}<br>index %{customdata}<br>variance %{z:.4g}<extra></extra>",
        )
    )
    image_axes(fig, shape, size_px)
    return fig
