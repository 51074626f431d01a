"""The inspect views of one image as plotly figures: heatmap, number matrix, flat vector.

Every view takes the raw uint8 ``(h, w)`` image and a value scale, and marks one
chosen pixel ``(row, col)``, whose flattened index is ``row * w + col``.
Nothing here assumes 28x28.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.explore.frames import display_values

MARK_COLOUR = "#ff3030"


def flat_index(row: int, col: int, width: int) -> int:
    """Index of pixel ``(row, col)`` in the row-by-row flattened image: ``row * width + col``."""
    return row * width + col


def pixel_of(index: int, width: int) -> tuple[int, int]:
    """``(row, col)`` of flattened index ``index``; inverse of :func:`flat_index`."""
    return divmod(index, width)


def index_grid(shape: tuple[int, int]) -> np.ndarray:
    """``(h, w)`` array whose cell ``(r, c)`` holds ``r * w + c``."""
    h, w = shape
    return np.arange(h * w).reshape(h, w)


def _value_format(value_scale: float) -> str:
    return "d" if value_scale == 255.0 else ".2f"


def _cell_layer(shape: tuple[int, int], values: np.ndarray, value_scale: float) -> go.Scatter:
    # Heatmap cells emit no selection events in Streamlit (streamlit#8760), so an
    # invisible marker on each cell centre takes the clicks and the hover.
    h, w = shape
    rows, cols = np.divmod(np.arange(h * w), w)
    fmt = _value_format(value_scale)
    return go.Scatter(
        x=cols,
        y=rows,
        mode="markers",
        marker={"opacity": 0, "size": 8, "symbol": "square"},
        customdata=np.stack([rows, cols, values.reshape(-1), rows * w + cols], axis=1),
        hovertemplate=(
            "row %{customdata[0]}, column %{customdata[1]}<br>"
            f"value %{{customdata[2]:{fmt}}}<br>index %{{customdata[3]}} = %{{customdata[0]}}×{w}+%{{customdata[1]}}"
            "<extra></extra>"
        ),
        showlegend=False,
        name="cells",
    )


def _mark_cell(fig: go.Figure, pixel: tuple[int, int] | None, shape: tuple[int, int]) -> None:
    if pixel is None:
        return
    r, c = pixel
    if 0 <= r < shape[0] and 0 <= c < shape[1]:
        fig.add_shape(
            type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
            line={"color": MARK_COLOUR, "width": 3}, name="marked pixel",
        )


def image_axes(fig: go.Figure, shape: tuple[int, int], size_px: int) -> None:
    """Square pixels, row 0 at the top, column numbers on top, no drag (clicks select)."""
    h, w = shape
    fig.update_xaxes(range=[-0.5, w - 0.5], constrain="domain", showgrid=False, zeroline=False, side="top")
    fig.update_yaxes(range=[h - 0.5, -0.5], scaleanchor="x", constrain="domain", showgrid=False, zeroline=False)
    fig.update_layout(
        height=size_px, margin={"l": 40, "r": 10, "t": 40, "b": 10},  # room for row numbers
        hovermode="closest", hoverdistance=-1, dragmode=False, clickmode="event+select",
        plot_bgcolor="white",
    )


def heatmap_figure(
    image: np.ndarray,
    *,
    value_scale: float = 255.0,
    colorscale: str = "gray",
    pixel: tuple[int, int] | None = None,
    size_px: int = 520,
) -> go.Figure:
    """The image as a heatmap with a colour bar, one clickable point per cell, and a marked pixel.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    value_scale : float
        255.0 (raw) or 1.0 (0-1); sets the colour bar range ``0 .. value_scale``.
    colorscale : str
        Any plotly colour scale name (``"gray"``, ``"Viridis"``, ``"gray_r"``...).
    pixel : (int, int), optional
        ``(row, col)`` to outline.
    size_px : int
        Figure height.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 the heatmap (``z`` = displayed values, ``customdata`` = flat
        indices), trace 1 the invisible cell layer whose points are in
        flattened order, so ``point_index == row * w + col``.
    """
    shape = image.shape
    values = display_values(image, value_scale)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            customdata=index_grid(shape),
            colorscale=colorscale,
            zmin=0,
            zmax=value_scale,
            colorbar={"title": {"text": "value"}, "thickness": 14},
            hoverinfo="skip",
            name="image",
        )
    )
    fig.add_trace(_cell_layer(shape, values, value_scale))
    _mark_cell(fig, pixel, shape)
    image_axes(fig, shape, size_px)
    return fig


def matrix_figure(
    image: np.ndarray,
    *,
    value_scale: float = 255.0,
    pixel: tuple[int, int] | None = None,
    size_px: int = 760,
) -> go.Figure:
    """The image as its grid of numbers, each cell shaded by its value.

    The classic "digit drawn as numbers": a light-to-dark shading (so the
    numbers stay readable) with each value written in its cell. At 28x28 and
    the default size a cell is about 26 px, room for three digits at 9 pt.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    value_scale : float
        255.0 writes integers, 1.0 writes two decimals.
    pixel : (int, int), optional
        ``(row, col)`` to outline.
    size_px : int
        Figure height.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 a heatmap whose ``text`` holds the written numbers, trace 1
        the clickable cell layer (as in :func:`heatmap_figure`).
    """
    shape = image.shape
    values = display_values(image, value_scale)
    fmt = _value_format(value_scale)
    text = np.vectorize(lambda v: format(v, fmt), otypes=[str])(values) if values.size else values.astype(str)
    cell_px = size_px / max(shape)
    font = int(np.clip(cell_px * 0.36, 6, 18))
    fig = go.Figure(
        go.Heatmap(
            z=values,
            text=text,
            texttemplate="%{text}",
            textfont={"size": font},
            colorscale="Greys",
            zmin=0,
            zmax=value_scale,
            showscale=False,
            hoverinfo="skip",
            xgap=1,
            ygap=1,
            name="numbers",
        )
    )
    fig.add_trace(_cell_layer(shape, values, value_scale))
    _mark_cell(fig, pixel, shape)
    image_axes(fig, shape, size_px)
    fig.update_layout(plot_bgcolor="#dddddd")
    return fig


def vector_figure(
    image: np.ndarray,
    *,
    value_scale: float = 255.0,
    index: int | None = None,
    height_px: int = 300,
) -> go.Figure:
    """The flattened image as a plot of value against index, row boundaries marked.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    value_scale : float
    index : int, optional
        Flattened index ``row * w + col`` to mark.
    height_px : int

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 the values (``x`` = 0..h*w-1, ``y`` = values), trace 1 the row
        boundaries (dotted verticals at multiples of ``w``), trace 2 (when
        ``index`` is given) the marked point.
    """
    h, w = image.shape
    n = h * w
    values = display_values(image, value_scale).reshape(-1)
    fmt = _value_format(value_scale)
    x = np.arange(n)
    fig = go.Figure(
        go.Scatter(
            x=x, y=values, mode="lines+markers", line={"width": 1, "color": "#1f77b4"}, marker={"size": 3},
            customdata=np.stack(np.divmod(x, w), axis=1),
            hovertemplate=f"index %{{x}} (row %{{customdata[0]}}, column %{{customdata[1]}})<br>value %{{y:{fmt}}}<extra></extra>",
            name="values", showlegend=False,
        )
    )
    # One trace of None-separated segments instead of h-1 shapes: cheaper to draw.
    bounds = np.arange(w, n, w)
    bx = np.repeat(bounds, 3).astype(object)
    by = np.tile(np.array([0, value_scale, None], dtype=object), len(bounds))
    bx[2::3] = None
    fig.add_trace(
        go.Scatter(
            x=bx, y=by, mode="lines", line={"color": "#999", "width": 1, "dash": "dot"},
            hoverinfo="skip", name="row boundaries", showlegend=False,
        )
    )
    if index is not None and 0 <= index < n:
        r, c = pixel_of(index, w)
        fig.add_trace(
            go.Scatter(
                x=[index], y=[values[index]], mode="markers",
                marker={"size": 12, "color": MARK_COLOUR, "symbol": "circle-open", "line": {"width": 3}},
                hovertemplate=f"pixel ({r}, {c}) = index {index}<extra></extra>", name="marked pixel",
                showlegend=False,
            )
        )
        fig.add_vline(x=index, line={"color": MARK_COLOUR, "width": 1})
    fig.update_xaxes(title="flattened index (row × %d + column)" % w, range=[-1, n], tickmode="array",
                     tickvals=np.arange(0, n + 1, w * max(1, h // 14)))
    fig.update_yaxes(title="value", range=[-0.05 * value_scale, 1.08 * value_scale])
    fig.update_layout(height=height_px, margin={"l": 10, "r": 10, "t": 10, "b": 10}, hovermode="closest")
    return fig


def clicked_pixel(selection: Mapping[str, Any] | None, shape: tuple[int, int], trace: int = 1) -> tuple[int, int] | None:
    """The ``(row, col)`` clicked on the cell layer of :func:`heatmap_figure` / :func:`matrix_figure`.

    Parameters
    ----------
    selection : mapping or None
        ``event.selection`` from ``st.plotly_chart(on_select=...)``.
    shape : (int, int)
        Image ``(h, w)``, to reject points outside it.
    trace : int
        Curve number of the cell layer.
    """
    points = (selection or {}).get("points") or []
    for point in reversed(points):
        if point.get("curve_number", trace) != trace:
            continue
        x, y = point.get("x"), point.get("y")
        if x is None or y is None:
            continue
        r, c = int(round(float(y))), int(round(float(x)))
        if 0 <= r < shape[0] and 0 <= c < shape[1]:
            return (r, c)
    return None
