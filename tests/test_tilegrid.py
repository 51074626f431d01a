"""Explore's thumbnail grid: the tiles a page hands the component, and the click it accepts back."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from PIL import Image

from dashboard.views import explore as ex, tilegrid


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


@pytest.mark.parametrize("fixture", ["mnist_train", "digits_train"])
def test_grid_tiles_carry_sample_picture_and_caption(request, fixture):
    ds = request.getfixturevalue(fixture)
    idx = np.flatnonzero(ds.labels == 7)[5:29]
    tiles = ex.grid_tiles(ds, idx)
    assert [t["v"] for t in tiles] == idx.tolist()
    h, w = ds.shape
    for t, i in zip(tiles, idx):
        assert (t["h"], t["w"]) == (h, w)
        assert np.array_equal(_decode(t["src"]), ds.images[i])
        assert t["cap"] == f"#{i} · 7"
        assert t["hover"] == f"sample {i}: 7 (label 7)"
        assert "badge" not in t
    assert ex.grid_tiles(ds, np.array([], dtype=int)) == []


def test_user_class_names_are_passed_as_they_are(digits_train):
    """Markup in a class name reaches the component as text (it sets textContent, never HTML)."""
    from dataclasses import replace

    ds = replace(digits_train, class_names=("<b>zero</b>",) + tuple(digits_train.class_names[1:]))
    tiles = ex.grid_tiles(ds, np.flatnonzero(ds.labels == 0)[:2])
    assert all(t["cap"].endswith("· <b>zero</b>") for t in tiles)
    assert "textContent" in tilegrid._JS and "innerHTML" not in tilegrid._JS


@pytest.mark.parametrize("value, expected", [
    ({"clicked": 13}, 13),
    ({"clicked": 13.0}, 13),
    ({"clicked": 14}, None),          # not a tile of this page
    ({"clicked": True}, None),        # JSON true is not a sample
    ({"clicked": "13"}, None),
    ({"clicked": 13.5}, None),
    ({"clicked": math.inf}, None),
    ({"clicked": math.nan}, None),
    ({"clicked": [13]}, None),
    ({"clicked": None}, None),
    ({}, None),
    (None, None),
    ("13", None),
])
def test_a_click_is_checked_against_the_tiles_shown(value, expected):
    assert tilegrid.clicked(value, [3, 13, 2297]) == expected


def test_a_click_read_from_a_result_object():
    class Result:
        clicked = 2297

    assert tilegrid.clicked(Result(), [2297]) == 2297
