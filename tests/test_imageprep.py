"""Uploaded images become dataset-like inputs; bad files are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dashboard.errors import DataError
from dashboard.lab.imageprep import prepare_upload


def _encode(arr: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format=fmt)
    return buf.getvalue()


def _dark_bar_on_white(h=100, w=60):
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    img[20:80, 25:35] = 0  # a black vertical stroke, like a "1" on paper
    return img


def test_light_background_png_is_grey_resized_and_inverted():
    out = prepare_upload(_encode(_dark_bar_on_white(), "PNG"), (28, 28))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0, 0] < 10 and out[-1, -1] < 10  # background now dark
    assert out[14, 14] > 200  # the stroke now light, centred (padding kept proportions)
    assert out[14, 5] < 10


def test_dark_background_jpg_is_not_inverted_and_fits_8x8():
    img = np.zeros((40, 40), dtype=np.uint8)
    img[10:30, 18:22] = 255
    out = prepare_upload(_encode(img, "JPEG"), (8, 8))
    assert out.shape == (8, 8)
    assert out[0, 0] < 30 and out[4, 4] > 100


def test_transparent_png_counts_as_white_paper():
    rgba = np.zeros((50, 50, 4), dtype=np.uint8)
    rgba[10:40, 22:28] = (0, 0, 0, 255)  # opaque black stroke, the rest fully transparent
    out = prepare_upload(_encode(rgba, "PNG"), (28, 28))
    assert out[0, 0] < 10 and out[14, 14] > 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not an image at all", "not a readable"),
        (_encode(np.zeros((10, 10), dtype=np.uint8), "GIF"), "only PNG and JPG"),
        (_encode(np.zeros((10, 10), dtype=np.uint8), "PNG")[:30], "not a readable"),
    ],
)
def test_bad_files_are_refused(data, message):
    with pytest.raises(DataError, match=message):
        prepare_upload(data, (28, 28))


def test_huge_images_are_refused_before_decoding():
    big = _encode(np.zeros((400, 400), dtype=np.uint8), "PNG")
    with pytest.raises(DataError, match="pixels"):
        prepare_upload(big, (28, 28), max_pixels=100_000)
    with pytest.raises(DataError, match="MB"):
        prepare_upload(big, (28, 28), max_bytes=100)
