"""The Map page under AppTest: the PCA map at once, a UMAP job, kNN figures, the selection panel."""

from __future__ import annotations

import json
import time

import numpy as np
import plotly.colors
import pytest

from dashboard.views import explore, map as map_view
from tests.conftest import real_app
from tests.test_app_explore import arr


@pytest.fixture()
def app_dirs(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DASHBOARD_JOBS_DIR", str(tmp_path / "jobs"))
    return tmp_path


def map_spec(at) -> dict:
    chart = next(c for c in at.get("plotly_chart") if "map_chart" in c.proto.id)
    return json.loads(chart.proto.spec)


def plotted(spec) -> np.ndarray:
    """Sample indices drawn, from every class trace's customdata."""
    out = []
    for trace in spec["data"]:
        if trace.get("name", "").startswith("inspected"):
            continue
        out += arr(trace["customdata"]).reshape(-1, 2)[:, 0].tolist()
    return np.sort(np.array(out))


def knn_table(at) -> dict:
    df = next(d.value for d in at.dataframe if "kNN accuracy" in d.value.columns)
    return dict(zip(df["method"], df["kNN accuracy"]))


def test_pca_map_of_digits_then_umap(app_dirs):
    from dashboard.data.loading import load_dataset

    ds = load_dataset("digits", "train")
    at = real_app("map").run()
    at.selectbox(key="ds_name").select("digits").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Map"
    spec = map_spec(at)
    assert spec["data"][0]["type"] == "scattergl"
    np.testing.assert_array_equal(plotted(spec), np.arange(len(ds)))  # every sample, once
    # Each class trace holds exactly that class's samples.
    for c, trace in enumerate(spec["data"][: ds.n_classes]):
        ids = arr(trace["customdata"]).reshape(-1, 2)[:, 0]
        assert set(ds.labels[ids]) == {c}
    assert knn_table(at)["PCA"] > 0.3  # chance 0.1
    assert (app_dirs / "cache" / "maps").is_dir()

    # UMAP is not there yet: the PCA map stays and a button computes it.
    at.radio(key=map_view.K_METHOD).set_value("umap").run()
    assert any("No UMAP map" in i.value for i in at.info)
    assert "PCA" in map_spec(at)["layout"]["title"]["text"]
    next(b for b in at.button if b.label.startswith("Compute the UMAP")).click().run()
    deadline = time.monotonic() + 240
    while "UMAP" not in map_spec(at)["layout"]["title"]["text"]:
        assert time.monotonic() < deadline, "the UMAP map did not arrive"
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        time.sleep(1)
        at.run()
    assert knn_table(at)["UMAP"] > 0.9
    np.testing.assert_array_equal(plotted(map_spec(at)), np.arange(len(ds)))


def test_selection_panel_and_clicked_point(app_dirs):
    from dashboard.data.loading import load_dataset

    ds = load_dataset("digits", "train")
    at = real_app("map")
    at.run()
    at.selectbox(key="ds_name").select("digits").run()
    chosen = np.flatnonzero(ds.labels == 3)[:20]
    at.session_state[map_view.K_SEL] = {"ds": ds.checksum, "indices": chosen}
    at.session_state[map_view.K_CLICKED] = int(chosen[0])
    at.run()
    assert not at.exception, at.exception
    assert any("Selection: 20 samples" in m.value for m in at.markdown)
    # Its first 12 thumbnails beside the map, clicks going to Explore (clicked in Chromium).
    (grid,) = [e for e in at.get("bidi_component") if e.proto.id.endswith(map_view.K_SEL_TILES)]
    tiles = json.loads(grid.proto.json)["tiles"]
    assert [t["v"] for t in tiles] == chosen[:12].tolist()
    assert all(t["cap"] == f"#{t['v']} · 3" and "badge" not in t for t in tiles)
    breakdown = next(d.value for d in at.dataframe if "share" in d.value.columns)
    assert breakdown["count"].tolist() == [20] and breakdown["class"][0].startswith("3")
    assert any(b.label == "Inspect in Explore" for b in at.button)
    # Open: the next run goes to Explore at once, its grid holding just the selection.
    at.button(key="map_open").click().run()
    assert not at.exception, at.exception
    assert any(t.value.startswith("Map selection: 20 samples") for t in at.text), [t.value for t in at.text]
    assert any("of 20" in t.value for t in at.text)
    assert at.session_state[explore.K_SAMPLE] == int(chosen[0])
    assert map_view.K_OPEN not in at.session_state


def test_a_stale_open_request_does_not_move_a_later_visit_away(app_dirs):
    # A request whose run was cut short by a click elsewhere is still in the session when
    # the Map page is next opened: that visit stays on the Map and forgets it.
    at = real_app("map")
    at.session_state[map_view.K_OPEN] = {"sample": 3}
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Map"]
    assert map_view.K_OPEN not in at.session_state


def test_class_breakdown_and_figure_pure(digits_train):
    ds = digits_train
    idx = np.arange(100)
    rows = map_view.class_breakdown(ds.labels, idx, ds.class_names)
    assert sum(r["count"] for r in rows) == 100
    assert rows == sorted(rows, key=lambda r: -r["count"])
    pts = np.random.default_rng(0).normal(size=(len(ds), 2)).astype(np.float32)
    preds = ds.labels.copy()
    preds[:10] = (preds[:10] + 1) % 10
    fig = map_view.map_figure(pts, ds.labels, ds.class_names, colour="correct / wrong",
                              predictions=preds, confidence=np.ones(len(ds)), marked=5)
    names = [t.name for t in fig.data]
    assert names == ["correct", "wrong", "inspected #5"]
    assert len(fig.data[1].x) == 10
    assert list(fig.data[2].x) == [pts[5, 0]]


def test_preview_draws_each_point_where_the_chart_frames_it(digits_train):
    ds = digits_train
    pts = np.random.default_rng(1).normal(size=(len(ds), 2)).astype(np.float32) * [3.0, 1.0]
    fig = map_view.map_figure(pts, ds.labels, ds.class_names)
    lo, extent = map_view.map_frame(pts)
    # The figure shows exactly the framed part of the plane, which holds every point.
    assert np.allclose(fig.layout.xaxis.range, [lo[0], lo[0] + extent[0]])
    assert np.allclose(fig.layout.yaxis.range, [lo[1], lo[1] + extent[1]])
    assert (pts >= lo).all() and (pts <= lo + extent).all()
    rgb, layer = map_view.point_colours(ds.labels)
    assert np.array_equal(layer, ds.labels)
    img = map_view.map_preview(pts, rgb, layer, width=600, dot=2)
    h, w, _ = img.shape
    assert w == 600 and abs(h / w - extent[1] / extent[0]) < 0.01
    # A lone point: its colour (the class colour at 0.75 over white) lands at its place,
    # y pointing up as on the chart; the rest of the picture stays white.
    one = np.array([[lo[0] + 0.25 * extent[0], lo[1] + 0.75 * extent[1]], [lo[0], lo[1]],
                    [lo[0] + extent[0], lo[1] + extent[1]]])
    img = map_view.map_preview(one, rgb[[3, 0, 0]], width=600, dot=2)
    lo1, ext1 = map_view.map_frame(one)
    fx, fy = (one[0] - lo1) / ext1
    ys, xs = np.nonzero((img != 255).any(axis=2))
    near = (abs(xs + 0.5 - fx * 600) <= 2) & (abs(ys + 0.5 - (1 - fy) * img.shape[0]) <= 2)
    assert near.sum() == 4 and (img[ys[near], xs[near]] == rgb[3]).all()
    r, g, b = (int("d62728"[i:i + 2], 16) for i in (0, 2, 4))  # PALETTE[3]
    assert tuple(rgb[3]) == tuple(round(0.75 * c + 0.25 * 255) for c in (r, g, b))


def test_preview_colours_follow_the_chosen_colouring_and_later_traces_win():
    labels = np.array([0, 1, 1, 2])
    preds = np.array([0, 2, 1, 2])
    rgb, layer = map_view.point_colours(labels, colour="correct / wrong", predictions=preds)
    assert list(layer) == [0, 1, 0, 0] and (rgb[1] != rgb[0]).any() and (rgb[0] == rgb[2]).all()
    rgb, layer = map_view.point_colours(labels, colour="prediction", predictions=preds)
    assert list(layer) == list(preds) and (rgb[1] == rgb[3]).all()
    rgb, _ = map_view.point_colours(labels, colour="confidence", predictions=preds,
                                    confidence=np.array([0.0, np.nan, 1.0, 0.5]))
    assert (rgb[0] == rgb[1]).all() and (rgb[0] != rgb[2]).any()
    # Two points on the same spot: the one of the higher layer (the later trace) is seen.
    same = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    colours = np.array([[10, 10, 10], [200, 0, 0], [0, 0, 200]], dtype=np.uint8)
    img = map_view.map_preview(same, colours, np.array([5, 1, 0]), width=50)
    assert (img == [10, 10, 10]).all(axis=2).any() and not (img == [200, 0, 0]).all(axis=2).any()
    # Nothing to draw: a white picture, never an error.
    for bad in (np.empty((0, 2)), np.array([[np.nan, 1.0]]), np.array([[2.0, 2.0]])):
        out = map_view.map_preview(bad, np.zeros((len(bad), 3), np.uint8), width=40)
        assert out.dtype == np.uint8 and out.shape[1] == 40 and out.ndim == 3


@pytest.mark.parametrize("colour", map_view.COLOURS)
def test_preview_colours_are_the_charts_own(colour):
    # Each point's colour in the picture is the colour its trace has in the chart (Plotly's
    # own interpolation for the confidence scale), at the markers' opacity over white.
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, 300)
    preds = np.where(rng.random(300) < 0.2, (labels + 1) % 10, labels)
    conf = rng.random(300)
    pts = rng.normal(size=(300, 2))
    fig = map_view.map_figure(pts, labels, tuple(str(c) for c in range(10)), colour=colour,
                              predictions=preds, confidence=conf)
    rgb, _ = map_view.point_colours(labels, colour=colour, predictions=preds, confidence=conf)
    seen = 0
    for trace in fig.data:
        ids = np.asarray(trace.customdata)[:, 0]
        alpha = trace.marker.opacity
        if isinstance(trace.marker.color, str):
            chart = np.tile(plotly.colors.hex_to_rgb(trace.marker.color), (len(ids), 1))
        else:
            chart = np.array([plotly.colors.unlabel_rgb(c) for c in plotly.colors.sample_colorscale(
                [[s, c] for s, c in trace.marker.colorscale], list(trace.marker.color))])
        expected = alpha * np.asarray(chart, dtype=float) + (1 - alpha) * 255
        assert np.abs(rgb[ids].astype(float) - expected).max() <= 1.0, trace.name
        seen += len(ids)
    assert seen == len(labels)
