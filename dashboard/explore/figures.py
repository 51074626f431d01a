"""The inspect views of one image as plotly figures: heatmap, number matrix, flat vector.

Every view takes the raw uint8 ``(h, w)`` image and a value scale, and marks one
chosen pixel ``(row, col)``, whose flattened index is ``row * w + col``.
Nothing here assumes 28x28.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

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


# A view never draws more than this many cells a side: a 1000x1000 image is shown
# downsampled (heatmap) or as the window around the chosen pixel (numbers, vector),
# so what reaches the browser scales with the screen, not with the data.
HEATMAP_MAX_CELLS = 96
MATRIX_WINDOW = 28
VECTOR_WINDOW = 2048


def _value_format(value_scale: float) -> str:
    return "d" if value_scale == 255.0 else ".2f"


def cell_text(values: np.ndarray, value_scale: float) -> np.ndarray:
    """The numbers written in the grid's cells: three characters at most.

    0-255 values as integers; 0-1 values with two decimals and no leading zero
    (``.50``), 0 and 1 as ``0`` and ``1``, so every cell holds as many
    characters as ``255`` and no text spills into its neighbour.
    """
    values = np.asarray(values)
    if value_scale == 255.0:
        return values.astype(np.int64).astype(str)
    text = np.char.mod("%.2f", np.round(values.astype(np.float64), 2))
    text = np.char.lstrip(text, "0")
    text = np.where(text == ".00", "0", text)
    return np.where(text == "1.00", "1", text)


def contrast_colours(values: np.ndarray, value_scale: float, colorscale: str) -> np.ndarray:
    """Black or white per cell, whichever reads better on that cell's colour."""
    import plotly.colors as pc

    fractions = np.clip(np.asarray(values, dtype=np.float64).reshape(-1) / value_scale, 0.0, 1.0)
    # 64 levels of the scale are plenty to pick black or white.
    levels = np.linspace(0.0, 1.0, 64)
    rgb = np.array([[float(v) for v in c[4:-1].split(",")]
                    for c in pc.sample_colorscale(pc.get_colorscale(colorscale), levels.tolist())])
    lum = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]) / 255.0
    pick = np.where(lum > 0.5, "#000000", "#ffffff")
    return pick[np.rint(fractions * 63).astype(int)].reshape(np.shape(values))


# At most 1024 tiles of at most 96x96 RGBA (37 MB); a 28x28 grid's are 2.5 KB each.
@functools.lru_cache(maxsize=1024)
def number_glyph(text: str, colour: str, cell: int, font_px: int) -> np.ndarray:
    """One cell's number, centred, as an RGBA ``(cell, cell, 4)`` tile on a transparent ground."""
    tile = Image.new("RGBA", (cell, cell), (0, 0, 0, 0))
    # Pillow's own scalable font: the same glyphs on every machine, no system font needed.
    ImageDraw.Draw(tile).text((cell / 2, cell / 2), text, fill=colour, anchor="mm",
                              font=ImageFont.load_default(size=font_px))
    out = np.asarray(tile)
    out.setflags(write=False)
    return out


def numbers_picture(text: np.ndarray, colours: np.ndarray, cell: int, font_px: int) -> np.ndarray:
    """Every cell's number pasted into one RGBA picture ``(h*cell, w*cell, 4)``.

    Drawn once per distinct (text, colour) and pasted: a 28x28 grid is a few
    milliseconds, and the browser draws one image instead of 784 SVG texts
    (about 45 ms instead of 120 ms per redraw in Chromium here).
    """
    h, w = text.shape
    out = np.zeros((h * cell, w * cell, 4), dtype=np.uint8)
    for r in range(h):
        for c in range(w):
            out[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = number_glyph(
                str(text[r, c]), str(colours[r, c]), cell, font_px)
    return out


def _numbers_uri(picture: np.ndarray) -> str:
    buf = io.BytesIO()
    # The numbers are black or white: grey + alpha (LA) holds them in half the bytes of RGBA.
    grey_alpha = np.ascontiguousarray(picture[..., [0, 3]])
    Image.fromarray(grey_alpha, mode="LA").save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def window(shape: tuple[int, int], pixel: tuple[int, int] | None, size: int) -> tuple[slice, slice]:
    """Rows and columns of the ``size`` x ``size`` part of an image around ``pixel`` (clipped to it)."""
    h, w = shape
    r, c = pixel if pixel is not None else (h // 2, w // 2)
    r0 = int(np.clip(r - size // 2, 0, max(h - size, 0)))
    c0 = int(np.clip(c - size // 2, 0, max(w - size, 0)))
    return slice(r0, min(h, r0 + size)), slice(c0, min(w, c0 + size))


def _cell_layer(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, width: int,
                value_scale: float) -> go.Scatter:
    # Heatmap cells emit no selection events in Streamlit (streamlit#8760), so an
    # invisible marker on each cell centre takes the clicks and the hover. Its x and y
    # are the image's own column and row, windowed or not.
    fmt = _value_format(value_scale)
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    return go.Scatter(
        x=cols,
        y=rows,
        mode="markers",
        marker={"opacity": 0, "size": 8, "symbol": "square"},
        customdata=np.stack([rows, cols, np.asarray(values).reshape(-1), rows * width + cols], axis=1),
        hovertemplate=(
            "row %{customdata[0]}, column %{customdata[1]}<br>"
            f"value %{{customdata[2]:{fmt}}}<br>"
            f"index %{{customdata[3]}} = %{{customdata[0]}}×{width}+%{{customdata[1]}}"
            "<extra></extra>"
        ),
        showlegend=False,
        name="cells",
    )


def _mark_shape(pixel: tuple[int, int] | None, shape: tuple[int, int], block: int = 1) -> list[dict]:
    """The outline of the chosen pixel (of its block, on a downsampled picture), as layout shapes."""
    if pixel is None:
        return []
    r, c = pixel
    if not (0 <= r < shape[0] and 0 <= c < shape[1]):
        return []
    r0, c0 = (r // block) * block, (c // block) * block
    return [{"type": "rect", "x0": c0 - 0.5, "x1": min(c0 + block, shape[1]) - 0.5,
             "y0": r0 - 0.5, "y1": min(r0 + block, shape[0]) - 0.5,
             "line": {"color": MARK_COLOUR, "width": 3}, "name": "marked pixel"}]


def image_layout(shape: tuple[int, int], size_px: int,
                 rows: slice | None = None, cols: slice | None = None) -> dict:
    """Layout of an image figure: square pixels, row 0 at the top, column numbers on top,
    no drag (clicks select). ``rows`` / ``cols`` limit the axes to a window of the image
    (in its own coordinates).

    The figures here are built in one ``go.Figure(data, layout)`` call: each
    ``update_layout`` / ``update_xaxes`` / ``add_shape`` afterwards walks and validates
    the figure again, and those calls were most of a new sample's cost on the server.
    """
    h, w = shape
    rows = rows or slice(0, h)
    cols = cols or slice(0, w)
    return {
        "xaxis": {"range": [cols.start - 0.5, cols.stop - 0.5], "constrain": "domain", "showgrid": False,
                  "zeroline": False, "side": "top"},
        "yaxis": {"range": [rows.stop - 0.5, rows.start - 0.5], "scaleanchor": "x", "constrain": "domain",
                  "showgrid": False, "zeroline": False},
        "height": size_px, "margin": {"l": 40, "r": 10, "t": 40, "b": 10},  # room for row numbers
        "hovermode": "closest", "hoverdistance": -1, "dragmode": False, "clickmode": "event+select",
        "plot_bgcolor": "white",
    }


def image_axes(fig: go.Figure, shape: tuple[int, int], size_px: int,
               rows: slice | None = None, cols: slice | None = None) -> None:
    """Apply :func:`image_layout` to an existing figure."""
    fig.update_layout(image_layout(shape, size_px, rows, cols))


def downsample(image: np.ndarray, block: int) -> np.ndarray:
    """Mean of each ``block`` x ``block`` square (edge blocks averaged over what they hold)."""
    h, w = image.shape
    if block <= 1:
        return image
    hb, wb = -(-h // block), -(-w // block)
    total = np.zeros((hb, wb), dtype=np.float64)
    count = np.zeros((hb, wb), dtype=np.float64)
    np.add.at(total, (np.arange(h)[:, None] // block, np.arange(w)[None, :] // block), image)
    np.add.at(count, (np.arange(h)[:, None] // block, np.arange(w)[None, :] // block), 1.0)
    return total / count


def heatmap_figure(
    image: np.ndarray,
    *,
    value_scale: float = 255.0,
    colorscale: str = "gray",
    pixel: tuple[int, int] | None = None,
    size_px: int = 520,
    max_cells: int = HEATMAP_MAX_CELLS,
    meta: Mapping[str, Any] | None = None,
) -> go.Figure:
    """The image as a heatmap with a colour bar, one clickable point per cell, and a marked pixel.

    An image with more than ``max_cells`` pixels a side is drawn downsampled:
    each cell is the mean of a square block, and a click on it picks the
    block's centre pixel (in the image's own coordinates).

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
    max_cells : int
        Most cells drawn a side.
    meta : mapping, optional
        The layout's ``meta`` (e.g. which sample it shows, for the page's own scripts).

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 the heatmap (``z`` = displayed values, ``customdata`` = flat
        indices), trace 1 the invisible cell layer whose points are in
        flattened order, so ``point_index == row * w + col`` (at full size).
    """
    shape = image.shape
    h, w = shape
    block = max(1, -(-max(h, w) // max_cells))
    if block == 1:
        values = display_values(image, value_scale)
        rows, cols = np.divmod(np.arange(h * w), w)
        x, y = np.arange(w), np.arange(h)
    else:
        values = downsample(image, block) * (value_scale / 255.0)
        hb, wb = values.shape
        # Cell centres in image coordinates; the click point is the block's central pixel.
        x, y = np.arange(wb) * block + (block - 1) / 2, np.arange(hb) * block + (block - 1) / 2
        br, bc = np.divmod(np.arange(hb * wb), wb)
        rows = np.minimum(br * block + block // 2, h - 1)
        cols = np.minimum(bc * block + block // 2, w - 1)
    heat = go.Heatmap(
        z=values, x=x, y=y,
        customdata=(rows * w + cols).reshape(values.shape),
        colorscale=colorscale,
        zmin=0,
        zmax=value_scale,
        colorbar={"title": {"text": "value"}, "thickness": 14},
        hoverinfo="skip",
        name="image",
    )
    layout = image_layout(shape, size_px)
    layout["shapes"] = _mark_shape(pixel, shape, block)
    if meta is not None:
        layout["meta"] = dict(meta)
    if block > 1:
        layout["title"] = {"text": f"{h}×{w}, drawn in blocks of {block}×{block} (mean)", "font": {"size": 12}}
    return go.Figure(data=[heat, _cell_layer(rows, cols, values, w, value_scale)], layout=layout)


def matrix_figure(
    image: np.ndarray,
    *,
    value_scale: float = 255.0,
    colorscale: str = "gray",
    pixel: tuple[int, int] | None = None,
    size_px: int = 760,
    window_cells: int = MATRIX_WINDOW,
) -> go.Figure:
    """The image as its grid of numbers, each cell shaded by its value.

    The classic "digit drawn as numbers". Shaded with the same colour scale,
    in the same direction, as :func:`heatmap_figure`; each number is written
    in black or white, whichever contrasts with its cell; a number is three
    characters at most (``255``, ``.50``), sized to its cell. An image larger
    than ``window_cells`` a side shows the window around ``pixel``.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    value_scale : float
        255.0 writes integers, 1.0 two decimals (``.50``).
    colorscale : str
        The heatmap's colour scale.
    pixel : (int, int), optional
        ``(row, col)`` to outline (and to centre the window on).
    size_px : int
        Figure height.
    window_cells : int
        Most cells shown a side.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 a heatmap of the window (``text`` = the written numbers), trace 1
        the clickable cell layer (as in :func:`heatmap_figure`); the numbers are
        one layout image over the cells (:func:`numbers_picture`), each in
        black or white as its cell needs.
    """
    shape = image.shape
    h, w = shape
    rs, cs = window(shape, pixel, window_cells)
    part = image[rs, cs]
    values = display_values(part, value_scale)
    text = cell_text(values, value_scale)
    colours = contrast_colours(values, value_scale, colorscale)
    n = max(part.shape)
    cell_px = (size_px - 50) / n
    # Three characters of ~0.6 em must fit a cell with a margin: font <= cell / 2.2.
    font = int(np.clip(cell_px / 2.2, 6, 16))
    # The picture of the numbers at about the size it is shown (sharp, few bytes).
    cell = int(np.clip(round(cell_px), 12, 96))
    font_px = max(6, int(round(font * cell / cell_px)))
    ys, xs = np.mgrid[rs, cs]
    heat = go.Heatmap(
        z=values, x=np.arange(cs.start, cs.stop), y=np.arange(rs.start, rs.stop),
        text=text,
        colorscale=colorscale,
        zmin=0,
        zmax=value_scale,
        showscale=False,
        hoverinfo="skip",
        xgap=1,
        ygap=1,
        name="numbers",
    )
    layout = image_layout(shape, size_px, rs, cs)
    layout["images"] = [{
        "source": _numbers_uri(numbers_picture(text, colours, cell, font_px)), "name": "numbers",
        "xref": "x", "yref": "y", "x": cs.start - 0.5, "y": rs.start - 0.5, "sizex": part.shape[1],
        "sizey": part.shape[0], "xanchor": "left", "yanchor": "top", "sizing": "stretch", "layer": "above",
    }]
    layout["shapes"] = _mark_shape(pixel, shape)
    layout["plot_bgcolor"] = "#dddddd"
    if part.shape != shape:
        layout["title"] = {
            "text": f"rows {rs.start}–{rs.stop - 1}, columns {cs.start}–{cs.stop - 1} of {h}×{w}",
            "font": {"size": 12}}
    return go.Figure(data=[heat, _cell_layer(ys, xs, values, w, value_scale)], layout=layout)


def vector_figure(
    image: np.ndarray,
    *,
    value_scale: float = 255.0,
    index: int | None = None,
    height_px: int = 300,
    max_points: int = VECTOR_WINDOW,
) -> go.Figure:
    """The flattened image as a plot of value against index, row boundaries marked.

    An image of more than ``max_points`` pixels shows the ``max_points``
    indices around ``index`` (x stays the true flattened index).

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    value_scale : float
    index : int, optional
        Flattened index ``row * w + col`` to mark.
    height_px : int
    max_points : int

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0 the values (``x`` = 0..h*w-1, or the window's indices, ``y`` =
        values), trace 1 the row boundaries (dotted verticals at multiples of
        ``w``), trace 2 (when ``index`` is given) the marked point.
    """
    h, w = image.shape
    n = h * w
    flat = image.reshape(-1)
    centre = index if index is not None and 0 <= index < n else 0
    lo = int(np.clip(centre - max_points // 2, 0, max(n - max_points, 0)))
    hi = min(n, lo + max_points)
    values = display_values(flat[lo:hi], value_scale)
    fmt = _value_format(value_scale)
    x = np.arange(lo, hi)
    traces = [go.Scatter(
        x=x, y=values, mode="lines+markers", line={"width": 1, "color": "#1f77b4"}, marker={"size": 3},
        customdata=np.stack(np.divmod(x, w), axis=1),
        hovertemplate=("index %{x} (row %{customdata[0]}, column %{customdata[1]})"
                       f"<br>value %{{y:{fmt}}}<extra></extra>"),
        name="values", showlegend=False,
    )]
    # One trace of None-separated segments instead of h-1 shapes: cheaper to draw.
    bounds = np.arange(-(-max(lo, 1) // w) * w, hi, w)
    bx = np.repeat(bounds, 3).astype(object)
    by = np.tile(np.array([0, value_scale, None], dtype=object), len(bounds))
    bx[2::3] = None
    traces.append(go.Scatter(
        x=bx, y=by, mode="lines", line={"color": "#999", "width": 1, "dash": "dot"},
        hoverinfo="skip", name="row boundaries", showlegend=False,
    ))
    rows_shown = max(1, (hi - lo) // w)
    # Built in one go.Figure call (see image_layout).
    layout = {
        "xaxis": {"title": {"text": "flattened index (row × %d + column)" % w}, "range": [lo - 1, hi],
                  "tickmode": "array", "tickvals": np.arange(-(-lo // w) * w, hi + 1, w * max(1, rows_shown // 14))},
        "yaxis": {"title": {"text": "value"}, "range": [-0.05 * value_scale, 1.08 * value_scale]},
        "height": height_px, "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "hovermode": "closest",
    }
    if index is not None and 0 <= index < n:
        r, c = pixel_of(index, w)
        traces.append(go.Scatter(
            x=[index], y=[values[index - lo]], mode="markers",
            marker={"size": 12, "color": MARK_COLOUR, "symbol": "circle-open", "line": {"width": 3}},
            hovertemplate=f"pixel ({r}, {c}) = index {index}<extra></extra>", name="marked pixel",
            showlegend=False,
        ))
        layout["shapes"] = [{"type": "line", "x0": index, "x1": index, "xref": "x", "y0": 0, "y1": 1,
                             "yref": "y domain", "line": {"color": MARK_COLOUR, "width": 1}}]
    if (lo, hi) != (0, n):
        layout["title"] = {"text": f"indices {lo:,}–{hi - 1:,} of {n:,}", "font": {"size": 12}}
        layout["margin"]["t"] = 30
    return go.Figure(data=traces, layout=layout)


def clicked_pixel(
    selection: Mapping[str, Any] | None, shape: tuple[int, int], trace: int = 1
) -> tuple[int, int] | None:
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
