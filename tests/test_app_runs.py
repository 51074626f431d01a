"""The Runs page through AppTest, on real runs: tiny MLPs trained on MNIST subsets and saved with RunStore.

Clicks on chart cells are proven in Chromium (tests/browser/test_results_clicks.py);
here the table selection is set the way a tick on the table sets it (its session
state), and everything else is the real page on real saved runs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import shell
from dashboard.data.dataset import Dataset
from dashboard.lab.runs import RUN_FILE, RunStore
from dashboard.lab.training import Trainer, TrainParams, evaluate
from dashboard.views import runs as rv
from tests.conftest import real_app
from tests.test_app_explore import arr  # plotly JSON (base64 "bdata") to an array


def save_run(store: RunStore, train: Dataset, test: Dataset, params: TrainParams, run_id: str):
    trainer = Trainer(params, train)
    list(trainer.run())
    model = trainer.final_model()
    return store.save(
        model=model, params=trainer.params, history=trainer.history, metrics=evaluate(model, test),
        dataset=trainer.dataset_name, dataset_checksum=trainer.dataset_checksum,
        class_names=trainer.class_names, image_shape=trainer.image_shape,
        timing={"train": 1.0, "test": 0.1, "total": 1.1}, run_id=run_id, kept_epoch=trainer.kept_epoch,
    )


def subset(ds: Dataset, keep: np.ndarray, *, names=None, labels=None, name=None) -> Dataset:
    return Dataset(ds.images[keep], ds.labels[keep] if labels is None else labels, names or ds.class_names,
                   name or ds.name, ds.split, ds.source)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, mnist_train, mnist_test):
    """Four real runs: two ordinary MNIST ones, one whose training lacked the digit 9, one 0-vs-1."""
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    small = TrainParams(hidden=(16,), epochs=1, train_size=1500, batch_size=100, seed=1)
    bigger = TrainParams(hidden=(48,), epochs=2, train_size=3000, batch_size=100, seed=2, alpha=1e-3)
    a = save_run(store, mnist_train, mnist_test, small, "20260101-000001-mnist-a")
    b = save_run(store, mnist_train, mnist_test, bigger, "20260101-000002-mnist-b")
    no9 = subset(mnist_train, np.flatnonzero(mnist_train.labels[:6000] != 9))
    c = save_run(store, no9, mnist_test, TrainParams(hidden=(16,), epochs=1, batch_size=100),
                 "20260101-000003-mnist-no9")
    keep_tr = np.flatnonzero(mnist_train.labels[:4000] <= 1)
    keep_te = np.flatnonzero(mnist_test.labels <= 1)
    binary = [subset(d, k, names=("zero", "one"), name="mnist-01") for d, k in ((mnist_train, keep_tr),
                                                                               (mnist_test, keep_te))]
    d = save_run(store, *binary, TrainParams(hidden=(8,), epochs=1, batch_size=100), "20260101-000004-mnist01")
    return root, {"a": a, "b": b, "no9": c, "binary": d}


@pytest.fixture()
def runs_root(saved, tmp_path, monkeypatch):
    """A private copy of the saved runs (tests delete and break some)."""
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(saved[0], root)
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(root))
    return root


def app() -> AppTest:
    at = real_app("runs", timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def tick(at: AppTest, *run_ids: str) -> None:
    """Select rows by run id, as a tick on the table's checkboxes sets them."""
    ids = list(at.dataframe[0].value["run"])
    gen = at.session_state[rv.K_GEN] if rv.K_GEN in at.session_state else 0
    key = rv.K_TABLE if gen == 0 else f"{rv.K_TABLE}_{gen}"
    at.session_state[key] = {"selection": {"rows": [ids.index(i) for i in run_ids], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception


def charts(at: AppTest) -> dict[str, dict]:
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def test_names_and_one_run_reopens_in_full(runs_root, saved):
    at = app()
    table = at.dataframe[0].value
    runs = saved[1]
    row = table[table["run"] == runs["b"].run_id].iloc[0]
    assert row["name"] == f"mnist · 48 · {runs['b'].test_accuracy:.1%}"
    tick(at, runs["b"].run_id)
    (acc,) = [m for m in at.metric if m.label == "Test accuracy"]
    assert float(acc.value) == pytest.approx(runs["b"].test_accuracy, abs=1e-4)
    drawn = charts(at)
    assert {"runs_run_per_class", "runs_run_test_conf", "runs_run_weights", "runs_run_sample_proba"} <= set(drawn)
    # The confusion matrix is the saved one; the weights are the model's 48 units.
    z = drawn["runs_run_test_conf"]["data"][0]["z"]
    assert arr(z).tolist() == runs["b"].info["metrics"]["test_confusion"]
    # Predict on a sample: the saved probabilities of that test image.
    at.number_input(key="runs_run_sample").set_value(7).run()
    assert not at.exception, at.exception
    bars = charts(at)["runs_run_sample_proba"]["data"][0]
    store = RunStore(runs_root)
    _, proba = store.load_test_outputs(runs["b"].run_id)
    np.testing.assert_allclose(arr(bars["x"]), proba[7], rtol=1e-5)
    assert "Most confident mistakes" in " ".join(m.value for m in at.markdown)
    assert at.query_params[rv.URL_RUNS] in (runs["b"].run_id, [runs["b"].run_id])


def test_a_model_that_never_saw_a_class_predicts_over_all_classes(runs_root, saved):
    at = app()
    tick(at, saved[1]["no9"].run_id)
    assert not at.error, [e.value for e in at.error]
    x = arr(charts(at)["runs_run_sample_proba"]["data"][0]["x"])
    assert len(x) == 10 and x.sum() == pytest.approx(1, abs=1e-4)


def test_a_one_class_model_predicts_that_class(runs_root, mnist_train, mnist_test):
    """A set with a single class: sklearn gives 2 probabilities for 1 class; the view maps them."""
    ones_tr = np.flatnonzero(mnist_train.labels[:3000] == 1)
    ones_te = np.flatnonzero(mnist_test.labels == 1)
    one = [subset(d, k, names=("one",), labels=np.zeros(len(k), dtype=np.int64), name="ones")
           for d, k in ((mnist_train, ones_tr), (mnist_test, ones_te))]
    try:
        run = save_run(RunStore(runs_root), *one, TrainParams(hidden=(8,), epochs=1, batch_size=100),
                       "20260101-000005-ones")
    except Exception as exc:  # the trainer refuses a one-class set up front: that must be a message
        from dashboard.errors import DashboardError
        assert isinstance(exc, DashboardError) and "one class" in str(exc), exc
        return  # (the mapping of such a model's probabilities: test_train_figures)
    at = app()
    tick(at, run.run_id)
    assert not at.exception, at.exception
    assert not [e.value for e in at.error if "probabilities" in e.value]


def test_compare_marks_differing_parameters_and_diffs(runs_root, saved):
    runs = saved[1]
    at = app()
    tick(at, runs["a"].run_id, runs["b"].run_id)
    captions = " ".join(c.value for c in at.caption)
    assert "Parameters that differ" in captions
    for name in ("hidden", "alpha", "epochs", "train\\_size", "seed"):
        assert name in captions
    params = at.dataframe[1].value
    assert [c for c in params.columns if c.startswith("≠")] == ["≠ hidden", "≠ alpha", "≠ epochs", "≠ train_size",
                                                                "≠ seed"]
    drawn = charts(at)
    acc = drawn["runs_accuracy"]
    assert acc["layout"]["yaxis"]["range"] == [0, 1]
    diff = arr(acc["data"][1]["y"])
    assert diff[1] == pytest.approx((runs["b"].test_accuracy - runs["a"].test_accuracy) * 100)
    text = arr(drawn["runs_diff"]["data"][0]["text"])
    expected = np.asarray(runs["b"].info["metrics"]["test_confusion"]) - runs["a"].info["metrics"]["test_confusion"]
    assert np.array_equal(text, expected)
    # One of the compared runs in full, below.
    assert "runs_run_test_conf" in drawn


def test_ten_and_two_classes_say_why_they_cannot_be_diffed(runs_root, saved):
    runs = saved[1]
    at = app()
    tick(at, runs["a"].run_id, runs["binary"].run_id)
    assert any("10 and 2 classes" in i.value or "2 and 10 classes" in i.value for i in at.info)
    assert "runs_diff" not in charts(at)


def test_a_run_deleted_in_another_tab_is_named_not_silently_swapped(runs_root, saved):
    runs = saved[1]
    at = app()
    tick(at, runs["a"].run_id, runs["no9"].run_id)
    RunStore(runs_root).delete(runs["a"].run_id)  # another tab, or the CLI
    at.run()
    assert not at.exception, at.exception
    (warning,) = [w.value for w in at.warning if "no longer there" in w.value]
    assert runs["a"].run_id.replace("-", "\\-") in warning
    # Still shown: the run that remains, and only it (not whatever moved into the old row).
    (acc,) = [m for m in at.metric if m.label == "Test accuracy"]
    assert float(acc.value) == pytest.approx(runs["no9"].test_accuracy, abs=1e-4)
    assert at.session_state[rv.K_CHOSEN] == [runs["no9"].run_id]


def test_hostile_run_folders_are_listed_broken_escaped_and_deletable(runs_root, saved):
    info = json.loads((runs_root / saved[1]["a"].run_id / RUN_FILE).read_text())
    hostile = {
        "20250101-000000-date": {**info, "created": 1700000000},
        "20250101-000001-kept": {**info, "kept_epoch": "abc"},
        "20250101-000002-conf": {**info, "metrics": {**info["metrics"], "test_confusion": [["x"] * 10] * 10}},
        "20250101-000003-link": {**info, "params": {**info["params"], "[click](http://evil.example)": 1}},
        "20250101-000004-hist": {**info, "history": [[1, 2]]},
    }
    for name, doc in hostile.items():
        (runs_root / name).mkdir()
        (runs_root / name / RUN_FILE).write_text(json.dumps(doc))
        (runs_root / name / "model.skops").write_bytes((runs_root / saved[1]["a"].run_id / "model.skops").read_bytes())
    link_problem = next(p for p in RunStore(runs_root).list().problems if "link" in p)
    at = app()
    warnings = [w.value for w in at.warning]
    for name in hostile:
        assert any(name.replace("-", "\\-") in w for w in warnings), name
    (link,) = [w for w in warnings if "link" in w]
    assert link == shell.plain(link_problem) and "\\[click\\]" in link  # escaped: no link in the page
    assert len(at.dataframe[0].value) == 4  # the good runs are all there
    at.selectbox(key=rv.K_DELETE).set_value("20250101-000003-link")
    at.checkbox(key=rv.K_DELETE_CONFIRM).check().run()
    at.button(key=rv.K_DELETE_GO).click().run()
    assert not at.exception, at.exception
    assert not (runs_root / "20250101-000003-link").exists()
    assert len(RunStore(runs_root).list().broken) == 4
