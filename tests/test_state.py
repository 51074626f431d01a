"""URL state without Streamlit: encoding, decoding, and hostile values from a typed URL."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import state as s

SIZES = (24, 48, 96)
SCALES = {"0–255": "255", "0–1": "1"}


def dec(params, **kw):
    args = dict(n_samples=60_000, n_classes=10, shape=(28, 28), page_sizes=SIZES)
    args.update(kw)
    return s.decode_explore(params, **args)


def test_explore_round_trip():
    view = s.ExploreView(classes=(7,), page=4, per_page=48, sample=1719, pixel=(10, 12))
    params = s.encode_explore(view)
    assert params == {"classes": "7", "page": "5", "sample": "1719", "px": "10,12"}
    assert dec(params) == view
    # values equal to the default view are left out: an untouched view has a plain URL
    default = s.ExploreView(per_page=48, sample=0, pixel=(14, 14))
    assert s.encode_explore(default, default) == {}
    assert s.encode_explore(view, default) == {"classes": "7", "page": "5", "sample": "1719", "px": "10,12"}
    assert dec(s.encode_explore(view, default), default=default) == view


def test_subset_round_trip():
    idx = np.array([5, 1, 2, 3, 900, 901, 77])
    ids = s.encode_indices(idx)
    assert ids == "1-3,5,77,900-901"
    token = s.subset_token(np.unique(idx), "Map selection")
    view = s.ExploreView(subset=token, ids=ids, sample=77)
    back = dec(s.encode_explore(view))
    assert back == view
    assert s.decode_indices(back.ids, 60_000).tolist() == [1, 2, 3, 5, 77, 900, 901]


@pytest.mark.parametrize("params, field, expected", [
    ({"page": "-5"}, "page", 0),
    ({"page": "0"}, "page", 0),
    ({"page": "abc"}, "page", 0),
    ({"page": "1e9"}, "page", 0),
    ({"page": "99999999999999999999"}, "page", 0),
    ({"sample": "abc"}, "sample", None),
    ({"sample": "60000"}, "sample", None),
    ({"sample": "-1"}, "sample", None),
    ({"sample": "1.5"}, "sample", None),
    ({"classes": "99"}, "classes", ()),
    ({"classes": "3,99,x,3,-1"}, "classes", (3,)),
    ({"classes": ",".join(["1"] * 5000)}, "classes", ()),
    ({"per": "1000000"}, "per_page", 48),
    ({"per": "25"}, "per_page", 48),
    ({"px": "28,0"}, "pixel", None),
    ({"px": "1,2,3"}, "pixel", None),
    ({"px": "a,b"}, "pixel", None),
    ({"sel": "<script>"}, "subset", None),
    ({"sample": ["1", "2"]}, "sample", 2),  # a repeated key: the last one, as Streamlit reads it
])
def test_hostile_values_fall_back(params, field, expected):
    assert getattr(dec(params), field) == expected


def test_missing_values_keep_the_default():
    default = s.ExploreView(classes=(2,), page=3, per_page=96, sample=10, pixel=(1, 1))
    assert dec({}, default=default) == default
    # classes= present but empty means "all classes", not "keep the default"
    assert dec({"classes": ""}, default=default).classes == ()


def test_decode_indices_is_bounded_by_the_dataset():
    # a range reaching outside the set is dropped whole, never allocated
    assert s.decode_indices("0-999999999999", 100) is None
    assert s.decode_indices("5-3,abc,-,", 100) is None
    assert s.decode_indices("", 100) is None
    assert s.decode_indices("x" * 10**6, 100) is None
    assert s.decode_indices("1,1,2", 100).tolist() == [1, 2]


def test_encode_indices_empty_and_single():
    assert s.encode_indices([]) == ""
    assert s.encode_indices([4]) == "4"
    assert s.encode_indices(np.arange(60_000)) == "0-59999"


def test_sidebar_round_trip_and_hostile():
    kw = dict(datasets=["mnist", "digits"], splits=["train", "test"], scale_codes=SCALES,
              colorscales=["gray", "Viridis"])
    view = s.SidebarView("digits", "test", "0–1", "Viridis")
    params = s.encode_sidebar(view, SCALES)
    assert params == {"ds": "digits", "split": "test", "scale": "1", "cmap": "Viridis"}
    assert s.decode_sidebar(params, **kw) == view
    default = s.SidebarView("mnist", "train", "0–255", "gray")
    assert s.encode_sidebar(default, SCALES, default) == {}
    assert s.encode_sidebar(view, SCALES, default) == params
    bad = {"ds": "../../etc", "split": "all", "scale": "0–1", "cmap": "<b>"}
    assert s.decode_sidebar(bad, **kw) == s.SidebarView()


def test_merged_params_keep_other_pages_keys():
    current = {"preset": "quick", "classes": "3", "page": "2"}
    out = s.merged_params(current, s.EXPLORE_KEYS, {"classes": "7"})
    assert out == {"preset": "quick", "classes": "7"}


def test_parse_int():
    assert s.parse_int(" 12 ", 0, 20) == 12
    assert s.parse_int("+3", 0, 20) == 3
    assert s.parse_int(True, 0, 20) is None
    assert s.parse_int(None, 0, 20) is None
    assert s.parse_int("21", 0, 20) is None


def test_link_params_carry_the_target_pages_own_state_and_the_sidebar_of_now():
    from dashboard.state import link_params

    explore_then = {"classes": "7", "page": "5", "ds": "mnist", "cmap": "Viridis"}
    now = {"ds": "fashion", "scale": "1", "train_preset": "quick"}
    # Explore's own keys as it left them; the sidebar's as they are now (cmap went back to default).
    assert link_params(explore_then, now) == {"classes": "7", "page": "5", "ds": "fashion", "scale": "1"}
    # A page never drawn: the sidebar's alone; the current page's own keys never leak across.
    assert link_params(None, now) == {"ds": "fashion", "scale": "1"}
    assert link_params({}, {}) == {}
