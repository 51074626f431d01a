"""The drawing pad's value as the browser sends it: decoded when it is a canvas PNG, refused otherwise."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dashboard.lab import drawing
from dashboard.views.drawpad import MAX_URI_CHARS, PNG_PREFIX, decode_drawing


def _uri(img: Image.Image, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return PNG_PREFIX + base64.b64encode(buf.getvalue()).decode("ascii")


def _stroke(size: int = 280) -> Image.Image:
    img = Image.new("RGBA", (size, size), "white")
    ImageDraw.Draw(img).line([(140, 40), (140, 240)], fill="black", width=18)
    return img


def test_a_canvas_png_decodes_to_its_pixels_and_a_dataset_image():
    rgba, strokes = decode_drawing({"png": _uri(_stroke()), "strokes": 1}, 280)
    assert strokes == 1 and rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8
    assert (rgba[140, 140, :3] == 0).all() and (rgba[140, 20, :3] == 255).all()
    image = drawing.to_dataset_image(rgba, (28, 28))
    cols = np.flatnonzero(image.sum(axis=0))
    assert image.max() == 255 and cols[-1] - cols[0] + 1 <= 7  # a vertical "1", centred


@pytest.mark.parametrize("value", [
    None, "x", 3, [], {}, {"png": _uri(_stroke())}, {"png": _uri(_stroke()), "strokes": 0},
    {"png": _uri(_stroke()), "strokes": "1"}, {"png": 5, "strokes": 1},
    {"png": "data:image/jpeg;base64,AAAA", "strokes": 1},  # not the PNG the pad sends
    {"png": PNG_PREFIX + "not base64!", "strokes": 1},
    {"png": PNG_PREFIX + base64.b64encode(b"\x89PNG\r\n\x1a\n broken").decode(), "strokes": 1},
    {"png": _uri(_stroke(281)), "strokes": 1},  # another size: refused from the header
    {"png": _uri(_stroke().convert("RGB"), "BMP").replace("image/png", "image/png"), "strokes": 1},
    {"png": PNG_PREFIX + "A" * (MAX_URI_CHARS + 4), "strokes": 1},
])
def test_anything_else_is_nothing_drawn(value):
    assert decode_drawing(value, 280) == (None, 0)


def test_a_huge_png_header_is_refused_before_decoding():
    # A 30000x30000 PNG would decode to 3.6 GB: its header alone refuses it.
    img = Image.new("1", (30000, 30000))
    uri = _uri(img)
    assert len(uri) < MAX_URI_CHARS
    assert decode_drawing({"png": uri, "strokes": 1}, 280) == (None, 0)


def test_stroke_paths_are_echoed_back_only_when_well_formed():
    from dashboard.views.drawpad import stroke_paths

    good = {"paths": [[[10, 20], [30.5, 40]], [[0, 0]]]}
    assert stroke_paths(good, 280) == [[[10.0, 20.0], [30.5, 40.0]], [[0.0, 0.0]]]
    for bad in (None, {}, {"paths": "x"}, {"paths": [[]]}, {"paths": [[[1, 2, 3]]]},
                {"paths": [[[1, "2"]]]}, {"paths": [[[-1, 2]]]}, {"paths": [[[1, 281]]]}):
        assert stroke_paths(bad, 280) == [], bad
    assert stroke_paths({"paths": [[[1, 1]] * 10]}, 280, max_points=9) == []  # bounded
