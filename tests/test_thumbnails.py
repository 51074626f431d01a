"""The thumbnail grid: one image, exact pixels, clickable points carrying sample indices."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from dashboard.explore import thumbnails


@pytest.fixture(params=["mnist_train", "digits_train"])
def ds(request):
    return request.getfixturevalue(request.param)


def test_upscale_is_nearest_neighbour(ds):
    imgs = ds.images[:5]
    s = 3
    big = thumbnails.upscale(imgs, s)
    h, w = ds.shape
    assert big.shape == (5, h * s, w * s) and big.dtype == np.uint8
    # Every s x s block is one original pixel: no blur, no new values.
    assert np.array_equal(big[:, ::s, ::s], imgs)
    assert np.array_equal(big[:, s - 1 :: s, s - 1 :: s], imgs)


def test_tile_scale_fits_both_shapes():
    assert thumbnails.tile_scale((28, 28)) == 3
    assert thumbnails.tile_scale((8, 8)) == 10
    assert thumbnails.tile_scale((500, 500)) == 1


def test_grid_image_places_every_tile(ds):
    idx = np.arange(30, 30 + 26)
    layout = thumbnails.grid_layout(len(idx), ds.shape, cols=8)
    assert (layout.rows, layout.cols) == (4, 8)
    grid = thumbnails.grid_image(ds.images[idx], layout)
    assert grid.shape == layout.size and grid.dtype == np.uint8
    s = layout.tile_h // ds.shape[0]
    for k, (y, x) in enumerate(layout.origins()):
        tile = grid[y : y + layout.tile_h, x : x + layout.tile_w]
        assert np.array_equal(tile[::s, ::s], ds.images[idx[k]])
    # The unused cells of the last row stay background.
    y, x = layout.origins()[-1]
    assert np.all(grid[y:, x + layout.cell_w :] == thumbnails.BACKGROUND)


def test_grid_image_rejects_wrong_count(digits_train):
    layout = thumbnails.grid_layout(4, digits_train.shape)
    with pytest.raises(ValueError):
        thumbnails.grid_image(digits_train.images[:5], layout)


def test_png_round_trips_exactly(digits_train):
    layout = thumbnails.grid_layout(10, digits_train.shape, cols=5)
    grid = thumbnails.grid_image(digits_train.images[:10], layout)
    uri = thumbnails.png_data_uri(grid)
    assert uri.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    assert np.array_equal(decoded, grid)


def test_grid_figure_points_carry_sample_indices(ds):
    idx = np.flatnonzero(ds.labels == 7)[:24]
    fig = thumbnails.grid_figure(ds.images, ds.labels, ds.class_names, idx, cols=6, selected_sample=int(idx[3]))
    image, clicks, captions = fig.data
    assert image.type == "image" and image.source.startswith("data:image/png")
    assert list(clicks.customdata) == idx.tolist()
    assert list(captions.text) == [f"#{i} 7" for i in idx]
    # Each click point sits on the centre of its tile.
    layout = thumbnails.grid_layout(24, ds.shape, cols=6)
    assert np.allclose(clicks.x, layout.centres()[:, 1]) and np.allclose(clicks.y, layout.centres()[:, 0])
    # The selected tile is outlined around its own origin.
    (rect,) = fig.layout.shapes
    y0, x0 = layout.origins()[3]
    assert rect.x0 < x0 < rect.x1 and rect.y0 < y0 < rect.y1


def test_captions_with_markup_stay_plain(digits_train):
    names = ("<b>zero</b>",) + digits_train.class_names[1:]
    idx = np.flatnonzero(digits_train.labels == 0)[:2]
    fig = thumbnails.grid_figure(digits_train.images, digits_train.labels, names, idx)
    assert all("<b>" not in t and "&lt;b&gt;zero" in t for t in fig.data[2].text)


def test_clicked_value_reads_streamlit_selection():
    sel = {
        "points": [
            {"curve_number": 1, "point_index": 2, "customdata": 512, "x": 1, "y": 2},
        ],
        "point_indices": [2],
        "box": [],
        "lasso": [],
    }
    assert thumbnails.clicked_value(sel) == 512
    assert thumbnails.clicked_value({"points": [{"curve_number": 1, "customdata": [77]}]}) == 77
    assert thumbnails.clicked_value({"points": [{"curve_number": 0, "customdata": 5}]}) is None
    assert thumbnails.clicked_value({"points": []}) is None
    assert thumbnails.clicked_value(None) is None


def test_long_captions_are_trimmed_but_hover_is_whole(shared_data):
    from dashboard.data.loading import load_dataset

    fashion = load_dataset("fashion-mnist", "test")
    boot = fashion.class_names.index("Ankle boot")
    idx = np.flatnonzero(fashion.labels == boot)[-3:]
    fig = thumbnails.grid_figure(fashion.images, fashion.labels, fashion.class_names, idx)
    cell_chars = thumbnails.grid_layout(1, fashion.shape).cell_w // 7
    assert all(len(t) <= cell_chars and t.startswith(f"#{i} ") for t, i in zip(fig.data[2].text, idx))
    assert all(h.endswith("Ankle boot (label 9)") for h in fig.data[1].hovertext)


def test_a_page_of_large_images_is_shrunk_to_thumbnail_size():
    from dashboard.explore.thumbnails import TARGET_TILE_PX, grid_figure, shrink_tiles

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (24, 1000, 1000), dtype=np.uint8)
    small = shrink_tiles(images)
    assert max(small.shape[1:]) <= TARGET_TILE_PX
    f = -(-1000 // TARGET_TILE_PX)
    assert small[3, 0, 0] == round(float(images[3, :f, :f].mean()))
    fig = grid_figure(images, np.arange(24) % 2, ("a", "b"), np.arange(24))
    assert len(fig.to_json()) < 2_000_000  # a few hundred KB of PNG, not 24 megapixels
    assert list(fig.data[1].customdata) == list(range(24))


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_picture_uri_upscales_small_images_by_whole_pixels(ds):
    image = ds.images[7]
    h, w = image.shape
    picture = _decode(thumbnails.picture_uri(image, 84))
    s = 84 // max(h, w)  # 28 -> x3, 8 -> x10
    assert picture.shape == (h * s, w * s)
    assert np.array_equal(picture[::s, ::s], image)  # nearest neighbour: every pixel kept exactly


def test_picture_uri_reduces_a_large_image_to_its_display_size():
    image = np.random.default_rng(3).integers(0, 256, (1000, 700), dtype=np.uint8)
    uri = thumbnails.picture_uri(image, 140)
    picture = _decode(uri)
    assert max(picture.shape) <= 140 and max(picture.shape) > 100
    assert len(uri) < 40_000  # a thumbnail's bytes, not a megapixel's
