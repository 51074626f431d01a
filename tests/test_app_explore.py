"""The real app, driven by widget keys, on real MNIST (via DASHBOARD_DATA_DIR), Fashion-MNIST and digits."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.views import explore as ex

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def start(dataset: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if dataset is not None:
        at.selectbox(key="ds_name").set_value(dataset).run()
    assert not at.exception, at.exception
    return at


def chart(at: AppTest, key: str) -> dict:
    """The plotly figure (as JSON) of the chart with this widget key."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key)]
    assert len(found) == 1, f"{len(found)} charts keyed {key}"
    return json.loads(found[0].proto.spec)


def arr(value) -> np.ndarray:
    """An array from plotly JSON, which packs numeric arrays as base64 ``bdata``."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.array(value)


def showing(at: AppTest) -> tuple[int, int, int]:
    """(first, last, total) from the "showing 49–96 of 6,000 ..." line."""
    for t in at.text:
        m = re.match(r"showing ([\d,]+)–([\d,]+) of ([\d,]+)", t.value)
        if m:
            return tuple(int(g.replace(",", "")) for g in m.groups())
    raise AssertionError(f"no 'showing' line in {[t.value for t in at.text]}")


def grid_data(at: AppTest) -> dict:
    """What the thumbnail grid component was given: ``{"tiles": [...], "selected": ..., ...}``."""
    found = [e for e in at.get("bidi_component") if e.proto.id.endswith(ex.K_GRID_TILES)]
    assert len(found) == 1, f"{len(found)} thumbnail grids"
    return json.loads(found[0].proto.json)


def grid_samples(at: AppTest) -> list[int]:
    return [t["v"] for t in grid_data(at)["tiles"]]


def page_table(at: AppTest):
    (df,) = [d.value for d in at.dataframe]
    return df.set_index("sample")


def test_first_page_of_mnist(mnist_train):
    at = start()
    assert at.session_state["ds_name"] == "mnist"
    assert showing(at) == (1, 48, 60_000)
    assert grid_samples(at) == list(range(48))
    df = page_table(at)
    assert df.index.tolist() == list(range(48))
    assert np.array_equal(df["label"].to_numpy(), mnist_train.labels[:48])


def test_filter_and_paging(mnist_train):
    at = start()
    at.multiselect(key=ex.K_CLASSES).set_value([3]).run()
    threes = np.flatnonzero(mnist_train.labels == 3)
    assert showing(at) == (1, 48, len(threes))
    assert grid_samples(at) == threes[:48].tolist()
    assert set(page_table(at)["label"]) == {3}
    # The inspected sample follows the filter.
    assert at.session_state[ex.K_SAMPLE] == threes[0]

    at.button(key="explore_next").click().run()
    assert showing(at) == (49, 96, len(threes))
    assert grid_samples(at) == threes[48:96].tolist()
    # No browser to see the tiles painted: the table follows in the same run.
    assert page_table(at).index.tolist() == threes[48:96].tolist()
    at.button(key="explore_last").click().run()
    last_start = (len(threes) - 1) // 48 * 48
    assert showing(at) == (last_start + 1, len(threes), len(threes))
    assert at.button(key="explore_next").disabled
    at.button(key="explore_prev").click().run()
    assert showing(at) == (last_start - 47, last_start, len(threes))
    at.button(key="explore_first").click().run()
    assert showing(at) == (1, 48, len(threes))
    at.selectbox(key=ex.K_SIZE).set_value(96).run()
    assert showing(at) == (1, 96, len(threes))
    at.button(key="explore_random_page").click().run()
    first, last, total = showing(at)
    assert total == len(threes) and (first - 1) % 96 == 0
    assert not at.exception


def test_jump_to_a_sample_shows_its_page(mnist_train):
    at = start()
    at.number_input(key=ex.K_SAMPLE).set_value(1000).run()
    assert showing(at) == (961, 1008, 60_000)
    assert 1000 in grid_samples(at)
    assert grid_data(at)["selected"] == 1000  # the inspected thumbnail is outlined


@pytest.mark.parametrize("name, fixture", [("mnist", "mnist_train"), ("digits", "digits_train")])
def test_inspect_views_hold_the_arrays_values(request, name, fixture):
    ds = request.getfixturevalue(fixture)
    h, w = ds.shape
    at = start(None if name == "mnist" else name)
    sample, r, c = 40, h - 3, 2
    at.number_input(key=ex.K_SAMPLE).set_value(sample).run()
    at.number_input(key=ex.K_ROW).set_value(r).run()
    at.number_input(key=ex.K_COL).set_value(c).run()
    assert not at.exception
    image = ds.images[sample]
    k = r * w + c

    heat = chart(at, ex.K_HEATMAP)
    assert np.array_equal(arr(heat["data"][0]["z"]), image)
    (mark,) = heat["layout"]["shapes"]
    assert (mark["x0"] + 0.5, mark["y0"] + 0.5) == (c, r)
    matrix = chart(at, ex.K_MATRIX)
    assert np.array_equal(arr(matrix["data"][0]["text"]), image.astype(str))
    vector = chart(at, "explore_vector")
    assert np.array_equal(arr(vector["data"][0]["y"]), image.reshape(-1))
    assert arr(vector["data"][2]["x"]).tolist() == [k]

    df = page_table(at)
    assert df.loc[sample, "inspected"] == "▶"
    assert list(df.columns[:3]) == ["inspected", "label", f"pixel{k}"]
    pixels = df.loc[sample, [f"pixel{i}" for i in range(h * w)]].to_numpy(dtype=int)
    assert np.array_equal(pixels, ds.flat()[sample])
    assert df.loc[sample, f"pixel{k}"] == image[r, c]
    code = at.get("code")[0].proto.code_text
    assert [int(v) for v in code.split(", ")] == image.reshape(-1).tolist()


def test_value_scale_0_1_reaches_every_view(digits_train):
    at = start("digits")
    at.radio(key="value_scale").set_value("0–1").run()
    image = digits_train.images[0] / 255.0
    assert np.allclose(arr(chart(at, ex.K_HEATMAP)["data"][0]["z"]), image, atol=1e-6)
    row = page_table(at).loc[0, [f"pixel{i}" for i in range(64)]].to_numpy(dtype=float)
    assert np.allclose(row, image.reshape(-1), atol=1e-6)


def test_fashion_shows_class_names(shared_data):
    at = start("fashion-mnist")
    ms = at.multiselect(key=ex.K_CLASSES)
    assert "Sandal" in ms.options and "5" not in ms.options
    sandal = ms.options.index("Sandal")
    ms.set_value([sandal]).run()
    at.button(key="explore_next").click().run()
    assert any(t.value.startswith("showing 49–96 of 6,000 Sandal") for t in at.text)
    assert set(page_table(at)["label"]) == {sandal}


def test_switching_dataset_resets_paging():
    at = start()
    at.button(key="explore_next").click().run()
    at.number_input(key=ex.K_SAMPLE).set_value(59_999).run()
    at.selectbox(key="ds_name").set_value("digits").run()
    assert not at.exception
    assert at.session_state[ex.K_SAMPLE] == 0 and showing(at)[0] == 1
    assert arr(chart(at, ex.K_HEATMAP)["data"][0]["z"]).shape == (8, 8)


def test_bad_upload_shows_a_message():
    at = start()
    at.file_uploader(key="upload_files").set_value([("broken.csv", b"label,pixel0\nx,y\n", "text/csv")]).run()
    assert not at.exception
    assert any("not loaded" in e.value for e in at.error)
    assert showing(at) == (1, 48, 60_000)  # still exploring the set it had


def test_a_link_reproduces_the_view(mnist_train):
    """The URL's state wins on a fresh session (a reload or a pasted link)."""
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in {"classes": "7", "page": "5", "per": "48", "sample": "1719", "px": "10,12"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    sevens = np.flatnonzero(mnist_train.labels == 7)
    assert showing(at) == (4 * 48 + 1, 5 * 48, len(sevens))
    assert at.session_state[ex.K_CLASSES] == [7]
    assert at.session_state[ex.K_SAMPLE] == 1719
    assert (at.session_state[ex.K_ROW], at.session_state[ex.K_COL]) == (10, 12)
    assert grid_samples(at) == sevens[4 * 48: 5 * 48].tolist()


@pytest.mark.parametrize("params", [
    {"page": "-5", "sample": "abc", "classes": "99"},
    {"page": "99999999", "per": "7", "px": "99,99", "sel": "deadbeef0000"},
    {"ds": "nope", "split": "../x", "scale": "2", "cmap": "<b>x</b>"},
])
def test_hostile_url_values_fall_back_quietly(params):
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    first, last, total = showing(at)
    assert total == 60_000 and at.session_state["ds_name"] == "mnist"
    assert at.session_state[ex.K_SAMPLE] == 0


def test_view_written_to_the_url():
    at = start()
    at.multiselect(key=ex.K_CLASSES).set_value([3]).run()
    at.button(key="explore_next").click().run()
    assert at.query_params["classes"] == "3" and at.query_params["page"] == "2"
    at.radio(key="value_scale").set_value("0–1").run()
    assert at.query_params["scale"] == "1"


def test_a_subset_sent_to_explore_is_shown_and_cleared(mnist_train):
    """What open_in_explore leaves for Explore (subset in session, pending view) is shown
    with its label; "Show all samples" goes back to the whole set."""
    from dashboard import state as url_state
    from tests.conftest import real_app

    at = real_app("explore")
    chosen = np.array([9, 5, 7, 1200, 59_999])
    token = url_state.subset_token(np.unique(chosen), "Map selection")
    at.session_state[url_state.K_SUBSETS] = {token: ("Map selection", np.unique(chosen))}
    at.session_state[url_state.K_PENDING] = url_state.ExploreView(subset=token, sample=7)
    at.run()
    assert not at.exception
    assert grid_samples(at) == [5, 7, 9, 1200, 59_999]
    assert showing(at) == (1, 5, 5)
    assert any(t.value == "Map selection: 5 samples" for t in at.text)
    assert at.session_state[ex.K_SAMPLE] == 7
    assert at.query_params["sel"] == token
    at.button(key="explore_clear_subset").click().run()
    assert showing(at) == (1, 48, 60_000)
    assert "sel" not in at.query_params


def test_a_subset_in_a_link_is_rebuilt_from_its_indices():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sel"] = "0123456789ab"
    at.query_params["ids"] = "10-12,500"
    at.run()
    assert not at.exception
    assert grid_samples(at) == [10, 11, 12, 500]
    assert any(t.value == "Selection from a link: 4 samples" for t in at.text)
    # A token this session never saw and no indices: said, and every sample shown.
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sel"] = "0123456789ab"
    at.run()
    assert not at.exception and showing(at) == (1, 48, 60_000)
    assert any("no longer available" in i.value for i in at.info)
