"""Turning a drawing on a canvas into a dataset image, the way MNIST itself was made.

MNIST's digits were written on paper, scanned, and then (LeCun et al.): the
digit's bounding box was scaled to fit a 20x20 box keeping its aspect ratio,
with anti-aliasing (hence the grey edges), and placed in the 28x28 field so
that its centre of mass sits at the centre. On real MNIST the centre of mass
is at (14.0, 14.0) +- 0.3 and the ink's extent is at most 20 pixels.

For another image shape (the 8x8 digits, a 16x16 upload) the same proportions
are used: a box of ``20/28`` of each side, centre of mass at ``(h/2, w/2)``.
Nothing here assumes 28x28.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from dashboard.errors import DataError
from dashboard.lab.imageprep import border_level, to_grey

# MNIST's proportions: a 20-pixel box in a 28-pixel field.
BOX_FRACTION = 20 / 28
MAX_CANVAS_PIXELS = 4_000_000


def box_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """The box ``(bh, bw)`` a drawing is scaled into for images of ``shape``: 20x20 for 28x28.

    Parameters
    ----------
    shape : (int, int)
        The dataset's ``(height, width)``.

    Returns
    -------
    (int, int)
        At least 1 in each direction.
    """
    h, w = shape
    return max(1, round(h * BOX_FRACTION)), max(1, round(w * BOX_FRACTION))


def ink_of(rgba: np.ndarray) -> np.ndarray:
    """How much ink each canvas pixel holds, 0 (paper) to 255 (full stroke).

    Transparent areas are paper (white). Dark strokes on light paper and light
    strokes on a dark background both give ink where the strokes are: the
    background is recognised by the border's brightness.

    Parameters
    ----------
    rgba : ndarray of uint8, shape (H, W, 4), (H, W, 3) or (H, W)
        The canvas as the browser rendered it.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    arr = np.asarray(rgba)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise DataError(f"a canvas image must be (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.shape[0] * arr.shape[1] > MAX_CANVAS_PIXELS:
        raise DataError(f"the canvas is {arr.shape[1]}x{arr.shape[0]}; at most {MAX_CANVAS_PIXELS:,} pixels")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        return np.zeros(arr.shape[:2], dtype=np.float32)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    grey = to_grey(Image.fromarray(np.ascontiguousarray(arr))).astype(np.float32)
    if border_level(grey) > 127:  # dark ink on light paper: the usual way to draw
        return 255.0 - grey
    return grey


def is_empty(ink: np.ndarray, threshold: float = 0.0) -> bool:
    """Whether nothing is drawn: no pixel holds more than ``threshold`` ink."""
    return not bool(np.any(np.asarray(ink) > threshold))


def to_dataset_image(rgba: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """A canvas image as a dataset image of ``shape``, made the way MNIST was made.

    Steps: ink (light on dark, like the datasets); crop to the ink's bounding
    box; scale it, keeping its aspect ratio and anti-aliased, so its longer
    side fills the box of :func:`box_shape` (20x20 in 28x28); stretch the grey
    levels so the darkest stroke is 255 (the scanned strokes were full ink);
    place it so its centre of mass is at ``(h/2, w/2)`` (shifted by whole
    pixels, and never so far that ink leaves the image).

    Parameters
    ----------
    rgba : ndarray of uint8, shape (H, W, 4) (or (H, W, 3), (H, W))
        The canvas.
    shape : (int, int)
        The dataset's ``(height, width)``.

    Returns
    -------
    ndarray of uint8, shape ``shape``, or None
        None when nothing is drawn (an empty canvas is not an error).
    """
    h, w = shape
    if h < 1 or w < 1:
        raise DataError(f"invalid target shape {shape}")
    ink = ink_of(rgba)
    if is_empty(ink):
        return None
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    bh, bw = box_shape(shape)
    ch, cw = crop.shape
    factor = min(bh / ch, bw / cw)
    new_h, new_w = max(1, min(bh, round(ch * factor))), max(1, min(bw, round(cw * factor)))
    # LANCZOS on a float image: anti-aliased grey edges, as in MNIST.
    picture = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32))
    small = np.asarray(picture.resize((new_w, new_h), Image.Resampling.LANCZOS))
    small = np.clip(small, 0.0, None)
    top = small.max()
    if top <= 0:
        return None
    small = small * (255.0 / top)
    return _place_by_centre_of_mass(small, shape)


def _place_by_centre_of_mass(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    sh, sw = small.shape
    mass = small.sum()
    cy = float((small.sum(axis=1) * np.arange(sh)).sum() / mass)
    cx = float((small.sum(axis=0) * np.arange(sw)).sum() / mass)
    # Top-left corner that puts the centre of mass at (h/2, w/2), kept inside the image.
    top = int(np.clip(round(h / 2 - cy), 0, h - sh))
    left = int(np.clip(round(w / 2 - cx), 0, w - sw))
    out = np.zeros(shape, dtype=np.float32)
    out[top : top + sh, left : left + sw] = small
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """``(row, col)`` centre of mass of an image's values (the image centre if it is blank)."""
    img = np.asarray(image, dtype=np.float64)
    mass = img.sum()
    if mass <= 0:
        return (img.shape[0] / 2, img.shape[1] / 2)
    rows = (img.sum(axis=1) * np.arange(img.shape[0])).sum() / mass
    cols = (img.sum(axis=0) * np.arange(img.shape[1])).sum() / mass
    return float(rows), float(cols)


def ink_extent(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of an image's non-zero pixels (0, 0 if blank)."""
    img = np.asarray(image)
    rows = np.flatnonzero(img.any(axis=1))
    cols = np.flatnonzero(img.any(axis=0))
    if len(rows) == 0:
        return (0, 0)
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
