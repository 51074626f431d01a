"""Plotly figures for the training lab: curves, confusion matrices, weights, probabilities, comparisons.

Pure functions from arrays to ``plotly.graph_objects.Figure``; no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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
    # Markers always: a line needs two points, and epoch 1 alone must still be seen.
    marker = dict(size=7)
    fig.add_trace(go.Scatter(x=x, y=list(loss), mode="lines+markers", marker=marker, name="loss"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=list(train_accuracy), mode="lines+markers", marker=marker, name="train"),
                  row=1, col=2)
    fig.add_trace(go.Scatter(x=x, y=list(val_accuracy), mode="lines+markers", marker=marker, name="validation"),
                  row=1, col=2)
    last = max([total_epochs or 0, *x, 1])
    # Epochs are whole numbers: ticks only on integers (plotly picks 1.5, 2.5 for a short
    # range otherwise), and the range always includes epoch 1 so a single point is drawn
    # in the middle of the axis rather than on its edge.
    for col in (1, 2):
        fig.update_xaxes(range=[0.5, last + 0.5], tickmode="linear", tick0=1, dtick=_epoch_step(last),
                         tickformat="d", row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="accuracy", row=1, col=2)
    fig.update_layout(height=330, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


def _epoch_step(last: int) -> int:
    """A whole tick step giving at most about 10 ticks for epochs 1..last."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if last / step <= 10:
            return step
    return max(1, last // 10)


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
    _add_cell_trace(fig, names, [[int(v) for v in row] for row in counts],
                    "true %{y}<br>predicted %{x}<br>%{customdata[2]} images<extra></extra>")
    _matrix_layout(fig, title, k)
    fig.update_layout(clickmode="event+select")
    return fig


def _add_cell_trace(fig: go.Figure, names: list[str], values: list[list], hovertemplate: str) -> None:
    """One invisible, selectable marker per cell, ``customdata = [true, predicted, value]``.

    The customdata is a plain list of lists, and cells are also recoverable from
    their position (``point_index = true * k + predicted``): a NumPy array would be
    sent base64-encoded, and a real click in the browser then reports each row as an
    object ``{"0": t, "1": p, ...}`` rather than a list (the ``KeyError: 0`` of issue 9).
    """
    k = len(names)
    fig.add_trace(
        go.Scatter(
            x=[names[j] for i in range(k) for j in range(k)],
            y=[names[i] for i in range(k) for j in range(k)],
            customdata=[[i, j, values[i][j]] for i in range(k) for j in range(k)],
            mode="markers",
            marker=dict(size=max(8, 300 // max(k, 1)), opacity=0, symbol="square"),
            name=CELL_TRACE_NAME,
            hovertemplate=hovertemplate,
            showlegend=False,
        )
    )


def selected_cell(points: Sequence[Mapping], n_classes: int | None = None) -> tuple[int, int] | None:
    """The ``(true, predicted)`` indices of the clicked cell from a Streamlit selection.

    A real click in Chromium gives points such as ``{"curve_number": 1,
    "point_index": 7, "x": "b", "y": "c", "customdata": {"0": 2, "1": 1, "2": 5}}``:
    the customdata row arrives as a list or as an object keyed by position,
    depending on how the figure was serialised. Both are read; failing that, the
    position of the point in the cell trace gives the cell.

    Parameters
    ----------
    points : sequence of mapping
        ``event.selection.points`` of ``st.plotly_chart(..., on_select="rerun")``.
    n_classes : int, optional
        Size of the matrix; allows the cell to be found from ``point_index``
        when a point has no usable customdata, and bounds the answer.

    Returns
    -------
    tuple of int, or None
        The first point that names a cell.
    """
    for point in points or ():
        if not isinstance(point, Mapping):
            continue
        cell = _cell_from_customdata(point.get("customdata"))
        if cell is None and n_classes and point.get("curve_number") == 1:
            index = point.get("point_index", point.get("point_number"))
            if isinstance(index, int) and 0 <= index < n_classes * n_classes:
                cell = divmod(index, n_classes)
        if cell is None:
            continue
        if n_classes is not None and not (0 <= cell[0] < n_classes and 0 <= cell[1] < n_classes):
            continue
        return cell
    return None


def _cell_from_customdata(data: object) -> tuple[int, int] | None:
    if isinstance(data, Mapping):  # {"0": t, "1": p, ...}: a typed-array row decoded by the browser
        data = [data.get("0", data.get(0)), data.get("1", data.get(1))]
    if isinstance(data, (list, tuple)) and len(data) >= 2:
        try:
            t, p = data[0], data[1]
            if isinstance(t, bool) or isinstance(p, bool):
                return None
            t, p = float(t), float(p)
        except (TypeError, ValueError):
            return None
        if t.is_integer() and p.is_integer() and t >= 0 and p >= 0:
            return int(t), int(p)
    return None


def confusion_difference_figure(
    new: np.ndarray, old: np.ndarray, class_names: Sequence[str], title: str = "New minus old"
) -> go.Figure:
    """Difference of two confusion matrices on the same test set, with a diverging scale.

    Green where the new run is better: more on the diagonal, fewer off it.
    Red where it is worse.

    Parameters
    ----------
    Every cell is clickable, like :func:`confusion_figure`'s (read it with
    :func:`selected_cell`).

    Parameters
    ----------
    new, old : ndarray of int, shape (k, k)
    class_names : sequence of str
    title : str

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    ValueError
        If the matrices differ in shape or are not square with one name per class
        (see :func:`diff_problem` for the message to show instead).
    """
    problem = diff_problem(new, old, class_names)
    if problem:
        raise ValueError(problem)
    new, old = np.asarray(new, dtype=np.int64), np.asarray(old, dtype=np.int64)
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
    _add_cell_trace(fig, names, diff.tolist(), "true %{y}<br>predicted %{x}<br>change %{customdata[2]:+d}"
                    "<br>click: the images fixed or broken<extra></extra>")
    _matrix_layout(fig, title, k)
    fig.update_layout(clickmode="event+select")
    return fig


def diff_problem(new: object, old: object, class_names: Sequence[str]) -> str | None:
    """Why two confusion matrices cannot be subtracted, or None if they can.

    Parameters
    ----------
    new, old : array-like
        Confusion matrices of two runs.
    class_names : sequence of str
        The classes of the new run.

    Returns
    -------
    str or None
    """
    try:
        a, b = np.asarray(new), np.asarray(old)
    except (TypeError, ValueError):
        return "a confusion matrix is not a table of numbers"
    for m in (a, b):
        if m.ndim != 2 or m.shape[0] != m.shape[1] or not np.issubdtype(m.dtype, np.number):
            return "a confusion matrix is not a square table of counts"
    if a.shape != b.shape:
        return (f"the runs have {a.shape[0]} and {b.shape[0]} classes; a cell-by-cell difference needs "
                "the same classes in both")
    if len(class_names) != a.shape[0]:
        return f"{len(class_names)} class names for a {a.shape[0]}-class matrix"
    return None


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


def probability_figure(
    probabilities: Sequence[float], class_names: Sequence[str], true: int | None = None
) -> go.Figure:
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
    """Test accuracy of several runs, honestly scaled.

    Left: bars from 0 to 1 (a bar's length is the accuracy). Right: each run's
    difference to the first one in percentage points, a labelled axis through 0,
    where small differences are visible without truncated bars exaggerating them.

    Parameters
    ----------
    labels : sequence of str
        One per run; the first is the reference of the difference plot.
    accuracies : sequence of float
        Test accuracies in [0, 1].

    Returns
    -------
    plotly.graph_objects.Figure
    """
    acc = np.asarray(accuracies, dtype=float)
    if len(labels) != len(acc):
        raise ValueError("one accuracy per label")
    names = [plotly_plain(str(label)) for label in labels]
    ref = names[0] if names else ""
    diff = (acc - acc[0]) * 100 if len(acc) else acc
    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], horizontal_spacing=0.12,
                        subplot_titles=("Test accuracy (axis from 0)", f"Difference to {ref} (points)"))
    fig.add_trace(go.Bar(x=names, y=acc, text=[f"{a:.2%}" for a in acc], textposition="auto",
                         name="test accuracy", showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=names, y=diff, text=[f"{d:+.2f}" for d in diff], textposition="outside",
                         marker_color=["#7f7f7f" if d == 0 else "#2ca02c" if d > 0 else "#d62728" for d in diff],
                         name="difference", showlegend=False), 1, 2)
    bound = max(0.5, float(np.abs(diff).max()) * 1.3) if len(diff) else 1.0
    fig.update_yaxes(range=[0, 1], title_text="test accuracy", tickformat=".0%", row=1, col=1)
    fig.update_yaxes(range=[-bound, bound], title_text="percentage points", zeroline=True, zerolinewidth=2,
                     row=1, col=2)
    fig.update_xaxes(type="category")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
    return fig
