"""Thumbnails: exact pixels, upscaled by whole pixels, large images shrunk; one grid image for figures."""

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


def test_tile_sources_are_each_image_exactly(ds):
    idx = np.arange(10, 22)
    uris, shape = thumbnails.tile_sources(ds.images[idx])
    assert shape == ds.shape and len(uris) == len(idx)
    for uri, i in zip(uris, idx):
        assert np.array_equal(_decode(uri), ds.images[i])  # sent at their own size: the browser scales


def test_a_page_of_large_images_is_shrunk_to_thumbnail_size():
    from dashboard.explore.thumbnails import TARGET_TILE_PX, shrink_tiles

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (24, 1000, 1000), dtype=np.uint8)
    small = shrink_tiles(images)
    assert max(small.shape[1:]) <= TARGET_TILE_PX
    f = -(-1000 // TARGET_TILE_PX)
    assert small[3, 0, 0] == round(float(images[3, :f, :f].mean()))
    uris, shape = thumbnails.tile_sources(images)
    assert max(shape) <= TARGET_TILE_PX
    assert sum(map(len, uris)) < 2_000_000  # a few hundred KB of PNG, not 24 megapixels
    assert np.array_equal(_decode(uris[3]), small[3])


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
