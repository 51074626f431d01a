"""Turning an uploaded PNG/JPG into the model's input: grey, the set's (h, w), dark background.

The datasets are light strokes on a dark background; a photo or drawing of a
dark digit on white paper is inverted so the model sees what it was trained on.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from dashboard import limits
from dashboard.errors import DataError
from dashboard.limits import Limits

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = Limits().max_predict_pixels  # the budget's default (dashboard.limits)
ALLOWED_FORMATS = ("PNG", "JPEG")


def prepare_upload(
    data: bytes,
    shape: tuple[int, int],
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Decode a PNG/JPG and make it look like a dataset image.

    Steps: refuse non-PNG/JPG, oversized files and images before decoding the
    pixels; flatten transparency onto white; convert to grey; pad to a square
    with the background colour (so digits are not stretched); resize to
    ``shape``; invert if the background (the border) is light.

    Parameters
    ----------
    data : bytes
        The file's content.
    shape : (int, int)
        Target ``(height, width)``, the dataset's image shape.
    max_bytes, max_pixels : int
        Limits on the file size and on width * height (default: the budget's
        ``max_predict_pixels``, :mod:`dashboard.limits`).

    Returns
    -------
    ndarray of uint8, shape ``shape``
        Light strokes on a dark background, like the training images.

    Raises
    ------
    DataError
        If the file is too large, not a PNG/JPG, or cannot be decoded.
    """
    h, w = shape
    if max_pixels is None:
        max_pixels = limits.current().max_predict_pixels
    if h < 1 or w < 1:
        raise DataError(f"invalid target shape {shape}")
    if len(data) == 0:
        raise DataError("the uploaded file is empty")
    if len(data) > max_bytes:
        raise DataError(f"the file is {len(data) / 1e6:.1f} MB; at most {max_bytes / 1e6:.0f} MB is accepted")
    try:
        with warnings.catch_warnings():
            # PIL warns (not fails) on decompression bombs below its hard limit; we check size ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        if img.format not in ALLOWED_FORMATS:
            raise DataError(f"only PNG and JPG images are accepted, this is {img.format or 'unknown'}")
        width, height = img.size
        if width * height > max_pixels:
            raise DataError(f"the image is {width}x{height} pixels; at most {max_pixels:,} pixels are accepted")
        side = limits.current().max_predict_side
        if max(width, height) > side:
            raise DataError(f"the image is {width}x{height} pixels; its longest side may be at most "
                            f"{side:,} ({limits.env_name('max_predict_side')})")
        if width < 1 or height < 1:
            raise DataError("the image is empty")
        img.load()
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"the file is not a readable PNG or JPG image ({exc})") from None
    grey = to_grey(img)
    return fit_to_shape(grey, shape)


def to_grey(img: Image.Image) -> np.ndarray:
    """Grey uint8 pixels, transparent areas taken as white paper."""
    if img.mode.startswith("I;16") or img.mode == "I":
        # 16-bit grey (how PIL opens a 16-bit PNG): scale 0-65535 to 0-255, where
        # convert("L") would clip everything above 255 to white.
        values = np.asarray(img, dtype=np.float64)
        return np.rint(np.clip(values, 0, 65535) / 257.0).astype(np.uint8)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    return np.asarray(img.convert("L"), dtype=np.uint8)


def fit_to_shape(grey: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fit a grey image into the target shape with its background, keeping its proportions.

    The image is resized first (so its longer side fits), then centred on a
    canvas of the target size filled with its background, then inverted if that
    background is light. Never padded at full resolution: a 100000x1 image costs
    its own pixels, not 100000 squared.

    Parameters
    ----------
    grey : ndarray of uint8, shape (H, W)
    shape : (int, int)
        Target ``(height, width)``.

    Returns
    -------
    ndarray of uint8, shape ``shape``
    """
    grey = np.asarray(grey, dtype=np.uint8)
    h, w = shape
    background = border_level(grey)
    H, W = grey.shape
    s = min(h / H, w / W)
    new_h, new_w = max(1, min(h, round(H * s))), max(1, min(w, round(W * s)))
    small = np.asarray(Image.fromarray(grey).resize((new_w, new_h), Image.Resampling.LANCZOS),
                       dtype=np.uint8)
    canvas = np.full((h, w), int(round(background)), dtype=np.uint8)
    top, left = (h - new_h) // 2, (w - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = small
    if background > 127:
        canvas = 255 - canvas
    return canvas


def border_level(grey: np.ndarray) -> float:
    """Median grey level of the outermost pixels: the background's brightness."""
    g = np.asarray(grey)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    return float(np.median(border))
