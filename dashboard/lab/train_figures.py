"""Plotly figures for the training lab: curves, confusion matrices, weights, probabilities, comparisons.

Pure functions from arrays to ``plotly.graph_objects.Figure``; no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.explore.thumbnails import plotly_plain

# A cell of a clickable confusion matrix carries (true, predicted) as customdata.
CELL_TRACE_NAME = "cells"


def training_curves(
    epochs: Sequence[int],
    loss: Sequence[float],
    train_accuracy: Sequence[float],
    val_accuracy: Sequence[float],
    total_epochs: int | None = None,
) -> go.Figure:
    """Loss (left) and train / validation accuracy (right) per epoch.

    Parameters
    ----------
    epochs, loss, train_accuracy, val_accuracy : sequences of equal length
    total_epochs : int, optional
        Fixes the x range to the planned epochs, so a live chart does not rescale.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Accuracy"))
    x = list(epochs)
    fig.add_trace(go.Scatter(x=x, y=list(loss), mode="lines+markers", name="loss"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=list(train_accuracy), mode="lines+markers", name="train"), row=1, col=2)
    fig.add_trace(go.Scatter(x=x, y=list(val_accuracy), mode="lines+markers", name="validation"), row=1, col=2)
    if total_epochs:
        for col in (1, 2):
            fig.update_xaxes(range=[0.5, total_epochs + 0.5], row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="accuracy", row=1, col=2)
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def row_normalise(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows summing to 0 stay 0)."""
    m = np.asarray(matrix, dtype=float)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def confusion_figure(
    matrix: np.ndarray,
    class_names: Sequence[str],
    normalise: bool = False,
    title: str = "Confusion matrix",
) -> go.Figure:
    """A confusion matrix, true class down, predicted across, with clickable cells.

    Streamlit reports no selection for heatmap clicks, so a transparent
    scatter trace (named :data:`CELL_TRACE_NAME`) puts one selectable point
    on every cell, with ``customdata = [true, predicted]`` class indices.

    Parameters
    ----------
    matrix : ndarray of int, shape (k, k)
        Counts; rows are true classes.
    class_names : sequence of str, length k
    normalise : bool
        Show each row as shares of the true class instead of counts.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    counts = np.asarray(matrix)
    k = counts.shape[0]
    if counts.shape != (k, k) or len(class_names) != k:
        raise ValueError(f"a {k}-class matrix needs {k} names and a square shape, got {counts.shape}")
    names = [plotly_plain(c) for c in class_names]  # user-given: no HTML
    z = row_normalise(counts) if normalise else counts
    text = [[f"{v:.2f}" if normalise else f"{int(v)}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}" if k <= 20 else None,
            colorscale="Blues",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
            showscale=False,
        )
    )
    true_idx, pred_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    fig.add_trace(
        go.Scatter(
            x=[names[j] for j in pred_idx.ravel()],
            y=[names[i] for i in true_idx.ravel()],
            customdata=np.stack([true_idx.ravel(), pred_idx.ravel(), counts.ravel()], axis=1),
            mode="markers",
            marker=dict(size=max(8, 300 // k), opacity=0, symbol="square"),
            name=CELL_TRACE_NAME,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata[2]} images<extra></extra>",
            showlegend=False,
        )
    )
    _matrix_layout(fig, title, k)
    fig.update_layout(clickmode="event+select")
    return fig


def selected_cell(points: Sequence[dict]) -> tuple[int, int] | None:
    """The ``(true, predicted)`` indices of the clicked cell from a Streamlit selection.

    Parameters
    ----------
    points : sequence of dict
        ``event.selection.points`` of ``st.plotly_chart(..., on_select="rerun")``.

    Returns
    -------
    tuple of int, or None
        The first point that carries cell customdata.
    """
    for point in points or ():
        data = point.get("customdata") if isinstance(point, dict) else None
        if data is not None and len(data) >= 2:
            return int(data[0]), int(data[1])
    return None


def confusion_difference_figure(
    new: np.ndarray, old: np.ndarray, class_names: Sequence[str], title: str = "New minus old"
) -> go.Figure:
    """Difference of two confusion matrices on the same test set, with a diverging scale.

    Green where the new run is better: more on the diagonal, fewer off it.
    Red where it is worse.

    Parameters
    ----------
    new, old : ndarray of int, shape (k, k)
    class_names : sequence of str
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    new, old = np.asarray(new, dtype=np.int64), np.asarray(old, dtype=np.int64)
    if new.shape != old.shape:
        raise ValueError(f"cannot compare a {new.shape} and a {old.shape} confusion matrix")
    diff = new - old
    k = diff.shape[0]
    # Signed so that positive always means "better": diagonal gains and off-diagonal losses.
    gain = np.where(np.eye(k, dtype=bool), diff, -diff)
    names = [plotly_plain(c) for c in class_names]  # user-given: no HTML
    bound = max(1, int(np.abs(gain).max()))
    fig = go.Figure(
        go.Heatmap(
            z=gain,
            x=names,
            y=names,
            text=diff,
            texttemplate="%{text:+d}" if k <= 20 else None,
            colorscale="RdYlGn",
            zmin=-bound,
            zmax=bound,
            hovertemplate="true %{y}<br>predicted %{x}<br>change %{text:+d}<extra></extra>",
            colorbar=dict(title="better"),
        )
    )
    return _matrix_layout(fig, title, k)


def _matrix_layout(fig: go.Figure, title: str, k: int) -> go.Figure:
    # Shared by every class-by-class matrix: true down (first class on top), predicted across.
    fig.update_layout(
        title=title,
        xaxis=dict(title="predicted", type="category"),
        yaxis=dict(title="true", type="category", autorange="reversed"),
        height=max(320, 34 * k + 120),
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return fig


def per_class_figure(
    precision: Sequence[float], recall: Sequence[float], f1: Sequence[float], class_names: Sequence[str]
) -> go.Figure:
    """Grouped bars of per-class precision, recall and F1."""
    names = [plotly_plain(c) for c in class_names]  # user-given: no HTML
    fig = go.Figure()
    for label, values in (("precision", precision), ("recall", recall), ("F1", f1)):
        fig.add_trace(go.Bar(x=names, y=list(values), name=label))
    low = min(min(precision, default=0), min(recall, default=0), min(f1, default=0))
    fig.update_layout(
        barmode="group",
        yaxis=dict(range=[max(0.0, low - 0.05), 1.0], title="score"),
        xaxis=dict(type="category"),
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
    )
    return fig


def weight_mosaic(weights: np.ndarray, shape: tuple[int, int], max_units: int = 64, gap: int = 1) -> np.ndarray:
    """Tile first-layer weights into one image: each hidden unit's inputs as an ``h x w`` tile.

    Parameters
    ----------
    weights : ndarray, shape (h*w, n_hidden)
        ``model.coefs_[0]``.
    shape : (int, int)
        Image shape ``(h, w)``.
    max_units : int
        Draw at most this many units (the first ones).
    gap : int
        NaN pixels between tiles (drawn as background).

    Returns
    -------
    ndarray of float, shape (rows*(h+gap)-gap, cols*(w+gap)-gap)
        Each tile scaled to [-1, 1] by its own largest absolute weight.
    """
    h, w = shape
    weights = np.asarray(weights, dtype=float)
    if weights.ndim != 2 or weights.shape[0] != h * w:
        raise ValueError(f"weights of shape {weights.shape} do not fit images of {h}x{w}")
    n = min(max_units, weights.shape[1])
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for unit in range(n):
        tile = weights[:, unit].reshape(h, w)
        scale = np.abs(tile).max()
        r, c = divmod(unit, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile / scale if scale > 0 else tile
    return out


def weights_figure(weights: np.ndarray, shape: tuple[int, int], max_units: int = 64) -> go.Figure:
    """First-layer weights as a grid of ``h x w`` images, red positive, blue negative.

    Parameters
    ----------
    weights : ndarray, shape (h*w, n_hidden)
    shape : (int, int)
    max_units : int

    Returns
    -------
    plotly.graph_objects.Figure
    """
    mosaic = weight_mosaic(weights, shape, max_units)
    fig = go.Figure(
        go.Heatmap(z=mosaic, colorscale="RdBu_r", zmin=-1, zmax=1, showscale=False, hoverinfo="skip")
    )
    fig.update_layout(
        xaxis=dict(visible=False, constrain="domain"),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
        height=520,
        margin=dict(l=0, r=0, t=10, b=0),
    )
    return fig


def probability_figure(probabilities: Sequence[float], class_names: Sequence[str], true: int | None = None) -> go.Figure:
    """Horizontal bars of class probabilities; the top class and the true class (if known) stand out."""
    p = np.asarray(probabilities, dtype=float)
    names = [plotly_plain(c) for c in class_names]  # user-given: no HTML
    if p.shape != (len(names),):
        raise ValueError(f"{p.shape[0] if p.ndim else 0} probabilities for {len(names)} classes")
    top = int(np.argmax(p))
    colours = ["#1f77b4"] * len(names)
    if true is not None and true != top:
        colours[true] = "#2ca02c"
        colours[top] = "#d62728"
    else:
        colours[top] = "#2ca02c" if true is not None else "#ff7f0e"
    fig = go.Figure(
        go.Bar(x=p, y=names, orientation="h", marker_color=colours, text=[f"{v:.3f}" for v in p], textposition="auto")
    )
    fig.update_layout(
        xaxis=dict(range=[0, 1], title="probability"),
        yaxis=dict(type="category", autorange="reversed"),
        height=max(220, 26 * len(names) + 60),
        margin=dict(l=10, r=10, t=10, b=10),
    )
    return fig


def compare_curves_figure(
    labels: Sequence[str],
    losses: Sequence[Sequence[float]],
    train_accuracies: Sequence[Sequence[float]],
    val_accuracies: Sequence[Sequence[float]],
) -> go.Figure:
    """Loss and validation accuracy (train dotted) of several runs, overlaid.

    Parameters
    ----------
    labels : sequence of str
        One per run.
    losses, train_accuracies, val_accuracies : sequences of per-epoch sequences

    Returns
    -------
    plotly.graph_objects.Figure
    """
    if not len(labels) == len(losses) == len(train_accuracies) == len(val_accuracies):
        raise ValueError("one label and one history per run")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Accuracy (val solid, train dotted)"))
    palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
    for i, label in enumerate(labels):
        colour = palette[i % len(palette)]
        x = list(range(1, len(losses[i]) + 1))
        fig.add_trace(go.Scatter(x=x, y=list(losses[i]), name=label, legendgroup=label, line=dict(color=colour)), 1, 1)
        fig.add_trace(
            go.Scatter(x=x, y=list(val_accuracies[i]), name=label, legendgroup=label, showlegend=False,
                       line=dict(color=colour)),
            1, 2,
        )
        fig.add_trace(
            go.Scatter(x=x, y=list(train_accuracies[i]), name=f"{label} (train)", legendgroup=label,
                       showlegend=False, line=dict(color=colour, dash="dot")),
            1, 2,
        )
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def compare_accuracy_figure(labels: Sequence[str], accuracies: Sequence[float]) -> go.Figure:
    """Bars of the final test accuracy of several runs, zoomed to where they differ."""
    acc = np.asarray(accuracies, dtype=float)
    if len(labels) != len(acc):
        raise ValueError("one accuracy per label")
    low = float(acc.min()) if len(acc) else 0.0
    fig = go.Figure(go.Bar(x=list(labels), y=acc, text=[f"{a:.4f}" for a in acc], textposition="auto"))
    fig.update_layout(
        yaxis=dict(range=[max(0.0, low - 0.02), 1.0], title="test accuracy"),
        xaxis=dict(type="category"),
        height=320,
        margin=dict(l=10, r=10, t=10, b=10),
    )
    return fig
