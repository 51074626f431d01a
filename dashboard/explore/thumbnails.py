"""Thumbnails: small images as PNG data URIs, and a figure of captioned tiles.

:func:`tile_sources` gives Explore's grid (:mod:`dashboard.views.tilegrid`) one
small PNG per sample. :func:`tiles_figure` draws tiles as ONE image with numpy
(nearest-neighbour upscale, no blur), encoded once as a PNG and shown as a single
``go.Image``, one invisible scatter point per tile to carry a value, and the
captions as one text trace (the mean image per class, the Draw page's nearest
samples).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from PIL import Image

BACKGROUND = 255  # gaps and caption strips: white, so black MNIST tiles stand out
TARGET_TILE_PX = 84  # 28x28 -> x3, 8x8 -> x10


@dataclass(frozen=True)
class GridLayout:
    """Where each tile sits in the grid image (pixels, origin top-left).

    Parameters
    ----------
    n : int
        Number of tiles.
    cols, rows : int
        Grid size in tiles.
    tile_h, tile_w : int
        Upscaled tile size.
    pad : int
        Gap around each tile.
    caption_h : int
        Blank strip under each tile for its caption.
    """

    n: int
    cols: int
    rows: int
    tile_h: int
    tile_w: int
    pad: int
    caption_h: int

    @property
    def cell_h(self) -> int:
        return self.tile_h + self.caption_h + 2 * self.pad

    @property
    def cell_w(self) -> int:
        return self.tile_w + 2 * self.pad

    @property
    def size(self) -> tuple[int, int]:
        """Grid image ``(height, width)``."""
        return (self.rows * self.cell_h, self.cols * self.cell_w)

    def origins(self) -> np.ndarray:
        """``(n, 2)`` top-left ``(y, x)`` of each tile."""
        i = np.arange(self.n)
        return np.stack([(i // self.cols) * self.cell_h + self.pad, (i % self.cols) * self.cell_w + self.pad], axis=1)

    def centres(self) -> np.ndarray:
        """``(n, 2)`` centre ``(y, x)`` of each tile, in image pixel coordinates."""
        return self.origins() + np.array([self.tile_h / 2, self.tile_w / 2])

    def caption_points(self) -> np.ndarray:
        """``(n, 2)`` centre ``(y, x)`` of each caption strip."""
        return self.origins() + np.array([self.tile_h + (self.caption_h + self.pad) / 2, self.tile_w / 2])


def tile_scale(shape: tuple[int, int], target_px: int = TARGET_TILE_PX) -> int:
    """Integer upscale factor bringing an image's longer side near ``target_px`` (at least 1)."""
    return max(1, round(target_px / max(shape)))


def grid_layout(
    n: int, shape: tuple[int, int], *, cols: int = 12, scale: int | None = None, pad: int = 3, caption_h: int = 16
) -> GridLayout:
    """The layout of ``n`` tiles of image ``shape`` in rows of ``cols``.

    Parameters
    ----------
    n : int
        Number of thumbnails (0 gives an empty 1-row grid).
    shape : (int, int)
        Image ``(h, w)`` before upscaling.
    cols : int
        Tiles per row (fewer if ``n`` is smaller).
    scale : int, optional
        Upscale factor; default :func:`tile_scale`.
    pad, caption_h : int
        Gap around tiles and height of the caption strip, in pixels.
    """
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols}")
    scale = tile_scale(shape) if scale is None else scale
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    return GridLayout(n, cols, rows, shape[0] * scale, shape[1] * scale, pad, caption_h)


def upscale(images: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscale of ``(k, h, w)`` images by an integer factor (no blur)."""
    k, h, w = images.shape
    big = np.broadcast_to(images[:, :, None, :, None], (k, h, scale, w, scale))
    return big.reshape(k, h * scale, w * scale)


def shrink_tiles(images: np.ndarray, target_px: int = TARGET_TILE_PX) -> np.ndarray:
    """Images larger than ``target_px`` a side, reduced by an integer factor (block means).

    A page of 1000x1000 images would otherwise make a 24-megapixel grid picture;
    a thumbnail needs no more pixels than it is shown with. Small images are
    returned as they are.
    """
    k, h, w = images.shape
    f = -(-max(h, w) // target_px)
    if f <= 1:
        return images
    hb, wb = -(-h // f), -(-w // f)
    out = np.empty((k, hb, wb), dtype=np.uint8)
    for i in range(k):  # one image at a time: the float copy stays one image large
        padded = np.pad(images[i], ((0, hb * f - h), (0, wb * f - w)), mode="edge")
        out[i] = np.rint(padded.reshape(hb, f, wb, f).mean(axis=(1, 3), dtype=np.float32))
    return out


def grid_image(images: np.ndarray, layout: GridLayout) -> np.ndarray:
    """All tiles pasted into one uint8 ``layout.size`` image.

    Parameters
    ----------
    images : ndarray of uint8, shape (k, h, w)
        ``k == layout.n``; upscaled by ``layout.tile_h // h``.
    layout : GridLayout

    Returns
    -------
    ndarray of uint8, shape ``layout.size``
        Background :data:`BACKGROUND` around the tiles.
    """
    k, h, w = images.shape
    if k != layout.n:
        raise ValueError(f"layout is for {layout.n} tiles, got {k} images")
    canvas = np.full((layout.rows * layout.cols, layout.cell_h, layout.cell_w), BACKGROUND, dtype=np.uint8)
    p = layout.pad
    canvas[:k, p : p + layout.tile_h, p : p + layout.tile_w] = upscale(images, layout.tile_h // h)
    # (rows*cols, ch, cw) -> (rows, ch, cols, cw) -> one image, tiles in reading order.
    grid = canvas.reshape(layout.rows, layout.cols, layout.cell_h, layout.cell_w).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(grid).reshape(layout.size)


def png_data_uri(image: np.ndarray) -> str:
    """A grey uint8 image as a ``data:image/png;base64,...`` URI (fast, light compression)."""
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def picture_uri(image: np.ndarray, px: int = TARGET_TILE_PX) -> str:
    """One grey uint8 image as a crisp PNG data URI about ``px`` pixels a side.

    Small images are upscaled by an integer factor (nearest neighbour: the browser
    would blur them), large ones reduced by block means. A data URI travels inside
    the page message, so it cannot 404 the way a media-file URL does when a rerun
    drops the file before the browser fetched it.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    px : int
        Wanted longest side, in pixels.

    Returns
    -------
    str
        ``data:image/png;base64,...``
    """
    image = np.asarray(image, dtype=np.uint8)
    small = shrink_tiles(image[None], max(1, int(px)))
    scale = max(1, int(px) // max(small.shape[1:]))
    return png_data_uri(np.ascontiguousarray(upscale(small, scale)[0]))


def tile_sources(images: np.ndarray, target_px: int = TARGET_TILE_PX) -> tuple[list[str], tuple[int, int]]:
    """Each image as its own small PNG data URI, for a grid of ``<img>`` tiles.

    Images larger than ``target_px`` a side are shrunk first (:func:`shrink_tiles`);
    small ones are sent at their own size, for the browser to scale up without blur
    (``image-rendering: pixelated``), which keeps a page of 96 MNIST tiles near 50 KB.

    Parameters
    ----------
    images : ndarray of uint8, shape (k, h, w)
    target_px : int

    Returns
    -------
    uris : list of str
        ``data:image/png;base64,...``, one per image, in order.
    shape : (int, int)
        The (height, width) of the pictures sent.
    """
    small = shrink_tiles(np.asarray(images, dtype=np.uint8), max(1, int(target_px)))
    return [png_data_uri(np.ascontiguousarray(im)) for im in small], (int(small.shape[1]), int(small.shape[2]))


def tiles_figure(
    images: np.ndarray,
    captions: Sequence[str],
    *,
    customdata: Sequence[int] | None = None,
    hover: Sequence[str] | None = None,
    cols: int = 12,
    scale: int | None = None,
    selected: int | None = None,
) -> go.Figure:
    """A figure of captioned tiles: one image trace, one caption trace, one click layer.

    Parameters
    ----------
    images : ndarray of uint8, shape (k, h, w)
        Larger than :data:`TARGET_TILE_PX` a side, they are shrunk first
        (:func:`shrink_tiles`).
    captions : sequence of str
        Text under each tile (plain text; plotly does not render it as HTML
        because every ``<`` is escaped here).
    customdata : sequence of int, optional
        Value each tile's click point carries (e.g. the sample index).
    hover : sequence of str, optional
        Hover text of each tile; defaults to the caption.
    cols, scale : int
        See :func:`grid_layout`.
    selected : int, optional
        Position (0..k-1) of a tile to outline.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces: 0 the image, 1 the invisible click points (one per tile, in
        order), 2 the captions.
    """
    images = shrink_tiles(np.asarray(images))
    k, h, w = images.shape
    layout = grid_layout(k, (h, w), cols=cols, scale=scale)
    height, width = layout.size
    centres = layout.centres()
    caps = layout.caption_points()
    safe = [plotly_plain(c) for c in captions]
    fig = go.Figure()
    fig.add_trace(go.Image(source=png_data_uri(grid_image(images, layout)), hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=centres[:, 1],
            y=centres[:, 0],
            mode="markers",
            marker={"size": max(layout.tile_w, 10), "opacity": 0, "symbol": "square"},
            customdata=list(customdata) if customdata is not None else list(range(k)),
            hovertext=[plotly_plain(t) for t in hover] if hover is not None else safe,
            hoverinfo="text",
            name="tiles",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=caps[:, 1], y=caps[:, 0], mode="text", text=safe, hoverinfo="skip",
            textfont={"size": 11, "color": "#222"}, showlegend=False,
        )
    )
    if selected is not None and 0 <= selected < k:
        y0, x0 = layout.origins()[selected]
        fig.add_shape(
            type="rect", x0=x0 - 1.5, y0=y0 - 1.5, x1=x0 + layout.tile_w + 0.5, y1=y0 + layout.tile_h + 0.5,
            line={"color": "#ff3030", "width": 3},
        )
    fig.update_xaxes(visible=False, range=[0, width], constrain="domain")
    fig.update_yaxes(visible=False, range=[height, 0], scaleanchor="x", constrain="domain")
    fig.update_layout(
        width=None, height=int(height) + 10, margin={"l": 0, "r": 0, "t": 0, "b": 0},
        dragmode=False, hovermode="closest", hoverdistance=-1, clickmode="event+select",
        plot_bgcolor="white",
    )
    return fig


def plotly_plain(text: str) -> str:
    """``text`` for a Plotly label: Plotly renders a subset of HTML (``<b>``, ``<a href>``,
    ``<br>``) in every text, and user-given class names must stay plain."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
