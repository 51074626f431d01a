"""The Map page under AppTest: the PCA map at once, a UMAP job, kNN figures, the selection panel."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from dashboard.views import map as map_view
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
    assert any("Selection: 20 samples" in s.value for s in at.subheader)
    breakdown = next(d.value for d in at.dataframe if "share" in d.value.columns)
    assert breakdown["count"].tolist() == [20] and breakdown["class"][0].startswith("3")
    assert any(b.label == "Open 20 samples in Explore" for b in at.button)
    assert any(b.label == "Inspect in Explore" for b in at.button)


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
