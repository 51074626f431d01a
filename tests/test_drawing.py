"""Canvas drawings made into dataset images the way MNIST was made, checked against real MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dashboard.lab import drawing

CANVAS = 280


def canvas(strokes, size: int = CANVAS, width: int = 18, ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)) -> np.ndarray:
    """An RGBA canvas like the browser's: transparent paper, black strokes (polylines)."""
    img = Image.new("RGBA", (size, size), paper)
    draw = ImageDraw.Draw(img)
    for line in strokes:
        draw.line(line, fill=ink, width=width, joint="curve")
    return np.asarray(img)


ONE = [[(150, 40), (140, 240)]]
ZERO = [[(140, 40), (90, 80), (80, 150), (100, 220), (140, 240), (185, 210), (200, 140), (190, 70), (140, 40)]]


@pytest.mark.parametrize("strokes", [ONE, ZERO], ids=["one", "zero"])
def test_like_mnist_centre_of_mass_and_box(strokes, mnist_test):
    img = drawing.to_dataset_image(canvas(strokes), (28, 28))
    assert img.shape == (28, 28) and img.dtype == np.uint8
    cy, cx = drawing.centre_of_mass(img)
    # Real MNIST: centre of mass at (14, 14) +- 0.3; a whole-pixel shift leaves at most 0.5.
    real = np.array([drawing.centre_of_mass(x) for x in mnist_test.images[:2000]])
    assert abs(real.mean(axis=0) - 14).max() < 0.1
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    eh, ew = drawing.ink_extent(img)
    assert max(eh, ew) == 20  # the longer side fills the 20x20 box, as in MNIST
    assert img.max() == 255
    # Anti-aliased: grey levels between paper and full ink, as in MNIST.
    assert np.count_nonzero((img > 0) & (img < 255)) > 10


def test_aspect_ratio_kept():
    img = drawing.to_dataset_image(canvas(ONE), (28, 28))
    eh, ew = drawing.ink_extent(img)
    # The stroke is ~200 px tall and ~28 px wide: still tall and thin, not stretched to a square.
    assert eh == 20 and ew <= 6


def test_empty_canvas_is_nothing_drawn():
    assert drawing.to_dataset_image(canvas([]), (28, 28)) is None
    assert drawing.to_dataset_image(np.full((50, 60, 4), 255, np.uint8), (28, 28)) is None  # white paper


def test_light_ink_on_dark_background_same_result():
    dark = drawing.to_dataset_image(canvas(ZERO), (28, 28))
    light = drawing.to_dataset_image(canvas(ZERO, ink=(255, 255, 255, 255), paper=(0, 0, 0, 255)), (28, 28))
    assert np.abs(dark.astype(int) - light.astype(int)).max() <= 1


@pytest.mark.parametrize("shape", [(8, 8), (16, 16), (20, 32)])
def test_other_shapes_use_the_same_proportions(shape):
    img = drawing.to_dataset_image(canvas(ZERO), shape)
    assert img.shape == shape
    bh, bw = drawing.box_shape(shape)
    eh, ew = drawing.ink_extent(img)
    assert eh <= bh and ew <= bw and (eh == bh or ew == bw)
    cy, cx = drawing.centre_of_mass(img)
    assert abs(cy - shape[0] / 2) <= 0.5 and abs(cx - shape[1] / 2) <= 0.5


def test_box_shape():
    assert drawing.box_shape((28, 28)) == (20, 20)
    assert drawing.box_shape((8, 8)) == (6, 6)
    assert drawing.box_shape((1, 1)) == (1, 1)


def test_real_mnist_digit_redrawn_comes_back(mnist_test):
    """Real MNIST digits, enlarged to a canvas as dark ink on paper, are turned back into themselves."""

    def corr(a, b):
        return np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]

    plain, shifted = [], []
    for original in mnist_test.images[:50]:
        big = np.asarray(Image.fromarray(255 - original).resize((CANVAS, CANVAS), Image.Resampling.BILINEAR))
        back = drawing.to_dataset_image(big, (28, 28))
        plain.append(corr(back, original))
        # Centring by whole pixels may land one pixel off MNIST's own choice.
        shifted.append(max(corr(np.roll(back, (dy, dx), (0, 1)), original)
                           for dy in (-1, 0, 1) for dx in (-1, 0, 1)))
    assert np.median(plain) > 0.93
    assert min(shifted) > 0.8


def test_bad_canvas_refused():
    from dashboard.errors import DataError

    with pytest.raises(DataError):
        drawing.to_dataset_image(np.zeros((4, 4, 5), np.uint8), (28, 28))
    with pytest.raises(DataError):
        drawing.to_dataset_image(np.zeros((3000, 3000, 4), np.uint8), (28, 28))
