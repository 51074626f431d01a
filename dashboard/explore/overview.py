"""Dataset statistics, computed once per dataset, and the figures of the overview page.

Class by class: counts, mean image, standard-deviation image. Whole set: the
intensity histogram, the per-pixel variance map, and a facts table. All
statistics come from one streaming pass in bounded chunks, so no set, however
many samples, classes or pixels it has, needs a float copy of itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.data.dataset import Dataset
from dashboard.explore.figures import HEATMAP_MAX_CELLS, downsample, image_axes, index_grid
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
        zeros for a class with no samples. For images larger than
        :data:`STATS_MAX_SIDE` a side, of their block means (shape (k, hb, wb)).
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


# Per-class images are kept at most this many pixels a side (block means): k classes
# x pixels stays small for any image size, and a tile is never shown larger anyway.
STATS_MAX_SIDE = 64
# Pixels converted to float64 at a time (32 MB): memory does not grow with the set.
CHUNK_PIXELS = 1 << 22


def _blocks(x: np.ndarray, h: int, w: int, f: int) -> np.ndarray:
    """``(m, h*w)`` rows as ``(m, hb*wb)`` means of ``f`` x ``f`` blocks (edges repeated)."""
    if f == 1:
        return x
    m = len(x)
    hb, wb = -(-h // f), -(-w // f)
    img = np.pad(x.reshape(m, h, w), ((0, 0), (0, hb * f - h), (0, wb * f - w)), mode="edge")
    return img.reshape(m, hb, f, wb, f).mean(axis=(2, 4)).reshape(m, hb * wb)


def compute_stats(ds: Dataset, *, max_side: int = STATS_MAX_SIDE) -> OverviewStats:
    """All overview statistics of ``ds`` (reads, never modifies, its arrays).

    One streaming pass in chunks of :data:`CHUNK_PIXELS`: memory is bounded by
    a chunk, the whole-set pixel maps (``h*w``) and the per-class images
    (``k x`` at most ``max_side`` squared), whatever the number of samples, and
    never classes x full-size pixels (1,000 classes of 1000x1000 images would
    be 16 GB in float64).

    Parameters
    ----------
    ds : Dataset
    max_side : int
        Images larger than this a side get per-class mean/std images of their
        block means (factor ``ceil(side / max_side)``); the whole-set pixel
        mean and variance stay at full size.

    Returns
    -------
    OverviewStats
    """
    k, (h, w) = ds.n_classes, ds.shape
    f = max(1, -(-max(h, w) // max_side))
    hb, wb = -(-h // f), -(-w // f)
    flat = ds.flat()
    counts = ds.class_counts().astype(np.int64)
    class_sum = np.zeros((k, hb * wb))
    class_sq = np.zeros((k, hb * wb))
    total = np.zeros(h * w)
    total_sq = np.zeros(h * w)
    histogram = np.zeros(256, dtype=np.int64)
    order = np.argsort(ds.labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    step = max(1, CHUNK_PIXELS // (h * w))
    for c in range(k):
        members = order[bounds[c] : bounds[c + 1]]
        for start in range(0, len(members), step):
            raw = flat[members[start : start + step]]
            histogram += np.bincount(raw.reshape(-1), minlength=256)
            x = raw.astype(np.float64)
            total += x.sum(axis=0)
            total_sq += np.einsum("ij,ij->j", x, x)
            xb = _blocks(x, h, w, f)
            class_sum[c] += xb.sum(axis=0)
            class_sq[c] += np.einsum("ij,ij->j", xb, xb)
    n = len(ds)
    safe = np.maximum(counts, 1)[:, None]
    mean = class_sum / safe
    # Var = E[x^2] - E[x]^2 (exact sums of small integers), clipped: rounding can leave -1e-12.
    std = np.sqrt(np.clip(class_sq / safe - mean**2, 0.0, None))
    pixel_mean = total / n
    pixel_var = np.clip(total_sq / n - pixel_mean**2, 0.0, None)
    present = np.flatnonzero(histogram)
    arrays = [counts, mean.reshape(k, hb, wb), std.reshape(k, hb, wb), histogram,
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
    h, w = shape
    z = pixel_var * (value_scale / 255.0) ** 2
    block = max(1, -(-max(h, w) // HEATMAP_MAX_CELLS))
    x, y, customdata = np.arange(w), np.arange(h), index_grid(shape)
    if block > 1:  # a large image's map in block means: what the browser gets stays small
        z = downsample(z, block)
        x = np.arange(z.shape[1]) * block + (block - 1) / 2
        y = np.arange(z.shape[0]) * block + (block - 1) / 2
        customdata = index_grid(shape)[::block, ::block]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=x, y=y, customdata=customdata, colorscale=colorscale, zmin=0,
            colorbar={"title": {"text": "variance"}, "thickness": 14},
            hovertemplate="row %{y}, column %{x}<br>index %{customdata}<br>variance %{z:.4g}<extra></extra>",
        )
    )
    image_axes(fig, shape, size_px)
    return fig
