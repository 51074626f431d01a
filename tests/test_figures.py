"""The inspect figures show the array's own values, with index r*w+c, at 8x8 and 28x28."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from dashboard.explore import figures


@pytest.fixture(params=["mnist_train", "digits_train"])
def ds(request):
    return request.getfixturevalue(request.param)


def test_flat_index_round_trips(ds):
    h, w = ds.shape
    grid = figures.index_grid(ds.shape)
    flat = ds.flat()[17]
    for r in range(h):
        for c in range(w):
            k = figures.flat_index(r, c, w)
            assert grid[r, c] == k == r * w + c
            assert figures.pixel_of(k, w) == (r, c)
            assert flat[k] == ds.images[17, r, c]


@pytest.mark.parametrize("scale", [255.0, 1.0])
def test_heatmap_values_hover_and_cells(ds, scale):
    img = ds.images[42]
    h, w = ds.shape
    fig = figures.heatmap_figure(img, value_scale=scale, colorscale="Viridis", pixel=(h // 2, w - 1))
    heat, cells = fig.data[0], fig.data[1]
    assert np.allclose(np.asarray(heat.z, dtype=float), img * scale / 255)
    assert np.array_equal(np.asarray(heat.customdata), np.arange(h * w).reshape(h, w))
    assert (heat.zmin, heat.zmax) == (0, scale)
    assert heat.colorscale is not None and heat.showscale is not False
    # The cell layer lists cells in flattened order: point k is (k // w, k % w).
    cd = np.asarray(cells.customdata, dtype=float)
    assert cd.shape == (h * w, 4)
    k = np.arange(h * w)
    assert np.array_equal(cd[:, 0], k // w) and np.array_equal(cd[:, 1], k % w)
    assert np.allclose(cd[:, 2], img.reshape(-1) * scale / 255)
    assert np.array_equal(cd[:, 3], k)
    assert np.array_equal(cells.x, k % w) and np.array_equal(cells.y, k // w)
    assert "row" in cells.hovertemplate and "index" in cells.hovertemplate
    (mark,) = fig.layout.shapes
    assert (mark.x0, mark.x1, mark.y0, mark.y1) == (w - 1.5, w - 0.5, h // 2 - 0.5, h // 2 + 0.5)


def test_heatmap_row_zero_is_at_the_top(digits_train):
    fig = figures.heatmap_figure(digits_train.images[0])
    assert tuple(fig.layout.yaxis.range) == (7.5, -0.5)


def _numbers(fig) -> tuple[np.ndarray, dict]:
    """The grid's picture of numbers as (grey + alpha) pixels, and its layout image entry."""
    (im,) = [i for i in fig.layout.images if i.name == "numbers"]
    raw = base64.b64decode(im.source.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("LA")), im


def _written(fig):
    """{(row, col): (text, colour, tile)}: each cell's number as the picture draws it.

    The colour is read from the picture's own pixels: the grey level under the glyph's
    opaque pixels, black (0) or white (255).
    """
    pic, im = _numbers(fig)
    grid = fig.data[0]
    rows, cols = np.asarray(grid.y), np.asarray(grid.x)
    cell = pic.shape[0] // len(rows)
    out = {}
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            tile = pic[i * cell:(i + 1) * cell, j * cell:(j + 1) * cell]
            ink = tile[..., 1] > 200
            assert ink.any(), f"no number drawn at ({r}, {c})"
            grey = np.unique(tile[..., 0][ink])
            assert len(grey) == 1 and grey[0] in (0, 255), (r, c, grey)
            out[(int(r), int(c))] = (grid.text[i][j], "#000000" if grey[0] == 0 else "#ffffff", tile)
    return out


@pytest.mark.parametrize("scale", [255.0, 1.0])
def test_matrix_writes_every_value_in_three_characters(ds, scale):
    img = ds.images[7]
    fig = figures.matrix_figure(img, value_scale=scale, pixel=(0, 0))
    text = np.asarray(fig.data[0].text)
    assert text.shape == ds.shape
    written = _written(fig)
    assert len(written) == img.size
    tiles: dict[tuple[str, str], np.ndarray] = {}
    for (r, c), (t, colour, tile) in written.items():
        v = img[r, c] * scale / 255
        assert len(t) <= 3  # "255" or ".50": never "0.00" running into the next cell
        assert float("0" + t if t.startswith(".") else t) == pytest.approx(v, abs=0.005)
        assert text[r, c] == t
        # The same number in the same colour is the same glyph wherever it is; the glyph
        # stays inside its cell with a margin (never running into the next one).
        ink = np.argwhere(tile[..., 1] > 0)
        assert ink.min() >= 1 and ink.max() <= tile.shape[0] - 2, (r, c, t)
        np.testing.assert_array_equal(tiles.setdefault((t, colour), tile), tile)
    # Different numbers look different.
    by_text = {}
    for (t, colour), tile in tiles.items():
        by_text.setdefault(colour, {})[t] = tile.tobytes()
    for glyphs in by_text.values():
        assert len(set(glyphs.values())) == len(glyphs)
    # The picture lies exactly over the cells.
    pic, im = _numbers(fig)
    h, w = ds.shape
    assert (im.x, im.y, im.sizex, im.sizey) == (-0.5, -0.5, w, h) and im.xref == "x" and im.yref == "y"
    assert pic.shape[0] % h == 0 and pic.shape[0] // h == pic.shape[1] // w
    assert len(fig.layout.shapes) == 1


@pytest.mark.parametrize("colorscale", ["gray", "gray_r", "Viridis", "Blues"])
def test_matrix_is_shaded_like_the_heatmap_with_contrasting_numbers(mnist_train, colorscale):
    import plotly.colors as pc

    img = mnist_train.images[0]
    heat = figures.heatmap_figure(img, colorscale=colorscale).data[0]
    grid = figures.matrix_figure(img, colorscale=colorscale).data[0]
    assert grid.colorscale == heat.colorscale and (grid.zmin, grid.zmax) == (heat.zmin, heat.zmax)
    scale = pc.get_colorscale(colorscale)
    for (r, c), (_, colour, _tile) in _written(figures.matrix_figure(img, colorscale=colorscale)).items():
        cell = pc.sample_colorscale(scale, [img[r, c] / 255])[0]
        red, green, blue = (float(v) for v in cell[4:-1].split(","))
        lum = (0.299 * red + 0.587 * green + 0.114 * blue) / 255
        assert colour == ("#000000" if lum > 0.5 else "#ffffff"), (r, c, cell, colour)


def test_large_image_views_are_windows_in_the_images_own_coordinates():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1000, 1000), dtype=np.uint8)
    pixel = (600, 10)
    grid = figures.matrix_figure(img, pixel=pixel)
    z = np.asarray(grid.data[0].z)
    assert z.shape == (figures.MATRIX_WINDOW, figures.MATRIX_WINDOW)
    r0, c0 = int(grid.data[0].y[0]), int(grid.data[0].x[0])
    assert r0 <= 600 < r0 + 28 and c0 == 0
    assert np.array_equal(z, img[r0:r0 + 28, :28])
    assert figures.clicked_pixel({"points": [{"curve_number": 1, "x": 5, "y": 601}]}, img.shape) == (601, 5)
    heat = figures.heatmap_figure(img, pixel=pixel)
    hz = np.asarray(heat.data[0].z)
    assert max(hz.shape) <= figures.HEATMAP_MAX_CELLS
    block = -(-1000 // figures.HEATMAP_MAX_CELLS)
    assert hz[0, 0] == pytest.approx(img[:block, :block].mean())
    cells = heat.data[1]
    assert len(cells.x) == hz.size and max(cells.x) < 1000 and max(cells.y) < 1000
    vec = figures.vector_figure(img, index=600 * 1000 + 10)
    assert len(vec.data[0].x) == figures.VECTOR_WINDOW
    assert vec.data[0].x[0] <= 600_010 <= vec.data[0].x[-1]
    assert np.array_equal(vec.data[0].y, img.reshape(-1)[vec.data[0].x[0]:vec.data[0].x[-1] + 1])
    assert list(vec.data[2].x) == [600_010] and list(vec.data[2].y) == [img[600, 10]]
    # Every view of it fits in well under a megabyte of JSON.
    for fig in (grid, heat, vec):
        assert len(fig.to_json()) < 1_000_000


def test_vector_has_values_boundaries_and_mark(ds):
    img = ds.images[3]
    h, w = ds.shape
    r, c = 2, 5
    k = figures.flat_index(r, c, w)
    fig = figures.vector_figure(img, index=k)
    values, bounds, mark = fig.data[:3]
    assert np.array_equal(values.x, np.arange(h * w))
    assert np.array_equal(values.y, img.reshape(-1))
    xs = [x for x in bounds.x if x is not None]
    assert sorted(set(xs)) == list(range(w, h * w, w))
    assert list(mark.x) == [k] and list(mark.y) == [img[r, c]]
    # ... and a vertical line through it, across the whole plot's height.
    (line,) = fig.layout.shapes
    assert (line.type, line.x0, line.x1, line.yref, line.y0, line.y1) == ("line", k, k, "y domain", 0, 1)
    assert fig.layout.xaxis.title.text == f"flattened index (row × {w} + column)"


def test_a_heatmap_names_what_it_shows_in_its_meta(digits_train):
    fig = figures.heatmap_figure(digits_train.images[4], meta={"sample": 4})
    assert fig.layout.meta == {"sample": 4}
    assert figures.heatmap_figure(digits_train.images[4]).layout.meta is None


def test_vector_without_mark_has_two_traces(digits_train):
    assert len(figures.vector_figure(digits_train.images[0]).data) == 2


def test_clicked_pixel_from_selection():
    sel = {"points": [{"curve_number": 1, "point_index": 61, "x": 5, "y": 7}]}
    assert figures.clicked_pixel(sel, (8, 8)) == (7, 5)
    assert figures.clicked_pixel({"points": [{"curve_number": 1, "x": 9, "y": 0}]}, (8, 8)) is None
    assert figures.clicked_pixel({"points": [{"curve_number": 0, "x": 1, "y": 1}]}, (8, 8)) is None
    assert figures.clicked_pixel(None, (28, 28)) is None
