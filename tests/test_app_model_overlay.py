"""Explore through a saved run, in the real app under AppTest: badges, model filters, sorts, inspector, URL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lab.runs import RunStore
from dashboard.lab.training import TrainParams
from dashboard.views import model_overlay as mo
from tests.mkrun import train_and_save
from tests.test_app_explore import arr, chart, grid_data, grid_samples, showing

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PARAMS = TrainParams(hidden=(32,), epochs=3, train_size=3000, batch_size=100, seed=5)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, mnist_train, mnist_test):
    root = tmp_path_factory.mktemp("runs")
    return root, train_and_save(root, mnist_train, mnist_test, PARAMS)


@pytest.fixture()
def at(saved_run, tmp_path, monkeypatch):
    root, run = saved_run
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(root))
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.radio(key="ds_split").set_value("test").run()
    assert not app.exception, app.exception
    return app


def _with_run(at: AppTest, run_id: str) -> AppTest:
    at.selectbox(key=mo.K_RUN).set_value(run_id).run()
    assert not at.exception, at.exception
    return at


def _badges(at: AppTest) -> list[str]:
    """The badge of each tile, in grid order."""
    tiles = grid_data(at)["tiles"]
    assert all(t.get("wrong") == t["badge"].startswith("✗ ") for t in tiles)
    assert all("predicted" in t["hover"] for t in tiles)
    return [t["badge"] for t in tiles]


def test_badges_agree_with_the_saved_predictions(at, saved_run, mnist_test):
    root, run = saved_run
    _with_run(at, run.run_id)
    saved_pred, saved_proba = RunStore(root).load_test_outputs(run.run_id)
    samples = grid_samples(at)
    assert samples == list(range(48))
    badges = _badges(at)
    for i, badge in zip(samples, badges):
        wrong = saved_pred[i] != mnist_test.labels[i]
        assert badge == f"{'✗ ' if wrong else ''}{saved_pred[i]} {saved_proba[i].max():.0%}", (i, badge)
    assert at.query_params[mo.URL_RUN] == [run.run_id] or at.query_params[mo.URL_RUN] == run.run_id


def test_misclassified_count_is_the_confusion_off_diagonal(at, saved_run, mnist_test):
    root, run = saved_run
    _with_run(at, run.run_id)
    confusion = np.asarray(run.info["metrics"]["test_confusion"])
    off_diagonal = int(confusion.sum() - np.trace(confusion))
    at.selectbox(key=mo.K_WRONG).set_value("misclassified").run()
    assert showing(at)[2] == off_diagonal
    saved_pred, _ = RunStore(root).load_test_outputs(run.run_id)
    samples = grid_samples(at)
    assert all(saved_pred[i] != mnist_test.labels[i] for i in samples)
    assert all(b.startswith("✗ ") for b in _badges(at))
    # The count shown beside the choice is the same number.
    assert f"misclassified ({off_diagonal:,})" in at.selectbox(key=mo.K_WRONG).format_func("misclassified")


def test_predicted_class_confidence_and_sorts(at, saved_run, mnist_test):
    root, run = saved_run
    _with_run(at, run.run_id)
    saved_pred, saved_proba = RunStore(root).load_test_outputs(run.run_id)
    at.multiselect(key=mo.K_PRED).set_value([7]).run()
    assert showing(at)[2] == int((saved_pred == 7).sum())
    assert all(saved_pred[i] == 7 for i in grid_samples(at))
    at.slider(key=mo.K_CONF).set_value((0.0, 0.6)).run()
    conf = saved_proba.max(axis=1)
    assert showing(at)[2] == int(((saved_pred == 7) & (conf <= 0.6)).sum())
    at.multiselect(key=mo.K_PRED).set_value([]).run()
    at.slider(key=mo.K_CONF).set_value((0.0, 1.0)).run()
    at.selectbox(key=mo.K_SORT).set_value("loss, highest first").run()
    loss = -np.log(np.clip(saved_proba[np.arange(len(mnist_test)), mnist_test.labels], 1e-7, 1))
    samples = grid_samples(at)
    assert samples[0] == int(np.argmax(loss))
    assert np.all(np.diff(loss[samples]) <= 1e-6)
    at.selectbox(key=mo.K_SORT).set_value("confidence, lowest first").run()
    assert np.all(np.diff(conf[grid_samples(at)]) >= -1e-6)


def test_inspector_shows_probabilities_and_first_layer(at, saved_run, mnist_test):
    root, run = saved_run
    _with_run(at, run.run_id)
    probs = chart(at, "explore_probs")["data"][0]
    _, saved_proba = RunStore(root).load_test_outputs(run.run_id)
    np.testing.assert_allclose(arr(probs["x"]), saved_proba[0], atol=1e-6)
    units = chart(at, "explore_units")
    assert units["data"][0]["type"] == "heatmap"
    assert any(re.search(r"the 8 hidden units that fire most", c.value) for c in at.caption)


def test_run_in_the_url_is_restored(saved_run, tmp_path, monkeypatch):
    root, run = saved_run
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(root))
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params[mo.URL_RUN] = run.run_id
    app.run()
    assert not app.exception, app.exception
    assert app.session_state[mo.K_RUN] == run.run_id
    assert _badges(app)
    # Choosing none removes it from the URL and the badges from the grid.
    app.selectbox(key=mo.K_RUN).set_value("").run()
    assert mo.URL_RUN not in app.query_params
    assert not any("badge" in t for t in grid_data(app)["tiles"])


def test_model_filters_from_a_link(saved_run, tmp_path, monkeypatch, mnist_test):
    root, run = saved_run
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(root))
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update({"split": "test", mo.URL_RUN: run.run_id, "mis": "misclassified", "pred": "3",
                             "sort": "3"})
    app.run()
    assert not app.exception, app.exception
    saved_pred, saved_proba = RunStore(root).load_test_outputs(run.run_id)
    wrong3 = (saved_pred != mnist_test.labels) & (saved_pred == 3)
    assert showing(app)[2] == int(wrong3.sum())
    assert app.session_state[mo.K_SORT] == "loss, highest first"
    # A malformed or foreign link is ignored, not an error.
    bad = AppTest.from_file(APP, default_timeout=120)
    bad.query_params.update({mo.URL_RUN: "no-such-run", "mis": "<b>", "conf": "x-y"})
    bad.run()
    assert not bad.exception and bad.session_state[mo.K_RUN] == ""


def test_the_map_selections_thumbnails_carry_the_runs_badges(saved_run, tmp_path, monkeypatch, mnist_test):
    # Colour the map by the run: the selection's thumbnails beside it get Explore's badges.
    from dashboard.views import map as map_view
    from tests.conftest import real_app

    root, run = saved_run
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(root))
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    app = real_app("map")
    app.run()
    app.radio(key="ds_split").set_value("test").run()
    app.selectbox(key=map_view.K_RUN).set_value(run.run_id).run()
    chosen = np.arange(100, 400, 7)
    app.session_state[map_view.K_SEL] = {"ds": mnist_test.checksum, "indices": chosen}
    app.run()
    assert not app.exception, app.exception
    (grid,) = [e for e in app.get("bidi_component") if e.proto.id.endswith(map_view.K_SEL_TILES)]
    tiles = json.loads(grid.proto.json)["tiles"]
    assert [t["v"] for t in tiles] == chosen[:12].tolist()
    saved_pred, saved_proba = RunStore(root).load_test_outputs(run.run_id)
    for t in tiles:
        i = t["v"]
        wrong = saved_pred[i] != mnist_test.labels[i]
        assert t["badge"] == f"{'✗ ' if wrong else ''}{saved_pred[i]} {saved_proba[i].max():.0%}", t
        assert t["wrong"] == wrong and "predicted" in t["hover"]
