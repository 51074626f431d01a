"""The inspect figures show the array's own values, with index r*w+c, at 8x8 and 28x28."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.parametrize("scale", [255.0, 1.0])
def test_matrix_writes_every_value(ds, scale):
    img = ds.images[7]
    fig = figures.matrix_figure(img, value_scale=scale, pixel=(0, 0))
    text = np.asarray(fig.data[0].text)
    assert text.shape == ds.shape
    expected = img.astype(int).astype(str) if scale == 255.0 else np.char.mod("%.2f", img / 255)
    assert np.array_equal(text, expected)
    assert fig.data[0].texttemplate == "%{text}"
    assert fig.data[0].textfont.size >= 8  # readable at 28x28
    assert len(fig.layout.shapes) == 1


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


def test_vector_without_mark_has_two_traces(digits_train):
    assert len(figures.vector_figure(digits_train.images[0]).data) == 2


def test_clicked_pixel_from_selection():
    sel = {"points": [{"curve_number": 1, "point_index": 61, "x": 5, "y": 7}]}
    assert figures.clicked_pixel(sel, (8, 8)) == (7, 5)
    assert figures.clicked_pixel({"points": [{"curve_number": 1, "x": 9, "y": 0}]}, (8, 8)) is None
    assert figures.clicked_pixel({"points": [{"curve_number": 0, "x": 1, "y": 1}]}, (8, 8)) is None
    assert figures.clicked_pixel(None, (28, 28)) is None
