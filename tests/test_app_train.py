"""The Train and Runs pages, driven through AppTest on real MNIST with short runs."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
from PIL import Image

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lab.jobs import DONE
from dashboard.lab.training import PRESETS
from dashboard.views import runs as runs_view
from dashboard.views import train as tv
from tests.conftest import real_app
from tests.test_app_explore import arr  # plotly JSON (base64 "bdata") to an array

def app(page: str) -> AppTest:
    at = real_app(page, timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path))
    return tmp_path


def set_short(at: AppTest, hidden: str, epochs: int = 2, size: int = 2000) -> None:
    """Pick the quick preset, then fill form fields; they reach the app with the Train button."""
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    assert not at.exception, at.exception
    at.text_input(key=tv.K_HIDDEN).set_value(hidden)
    at.number_input(key=tv.K_EPOCHS).set_value(epochs)
    at.number_input(key=tv.K_SIZE).set_value(size)
    at.number_input(key=tv.K_BATCH).set_value(100)


def finish(at: AppTest):
    job = at.session_state[tv.K_JOB]
    assert job.join(timeout=120)
    at.run()  # the page notices the end and reruns once to draw the results
    assert not at.exception, at.exception
    return job


def test_train_page_short_run_then_runs_page_lists_it(mnist_train):
    at = app("train")
    assert at.selectbox(key=tv.K_PRESET).value == "default"
    assert any("Estimated time" in c.value for c in at.caption)
    set_short(at, "32")
    at.button(key=tv.K_START).click().run()
    assert not at.exception, at.exception
    job = finish(at)
    snap = job.snapshot()
    assert snap.state == DONE and snap.epoch == 2
    # The preset filled every other field; the submitted edits changed only these.
    assert job.params == replace(PRESETS["quick"], hidden=(32,), epochs=2, train_size=2000, batch_size=100)
    kept = [c.value for c in at.caption if c.value.startswith("Kept epoch")]
    best = max(r.val_accuracy for r in snap.history)
    assert kept == [f"Kept epoch {snap.kept_epoch} of 2, best validation accuracy {best:.4f} "
                    f"(last epoch {snap.history[-1].val_accuracy:.4f})."]
    assert snap.run.info["kept_epoch"] == snap.kept_epoch
    acc = [m for m in at.metric if m.label == "Test accuracy"]
    assert len(acc) == 1 and float(acc[0].value) == pytest.approx(snap.metrics.accuracy, abs=1e-4)
    assert float(acc[0].value) > 0.7
    keys = {c.proto.id for c in at.get("plotly_chart")}
    for key in ("train_curves", "train_val_conf", tv.K_TEST_CONF, "train_weights", "train_sample_proba"):
        assert any(k.endswith(key) for k in keys), key
    # Predict another sample, then an uploaded drawing of a "1" (dark stroke on white paper).
    at.number_input(key=tv.K_SAMPLE).set_value(5).run()
    assert not at.exception, at.exception
    paper = np.full((120, 90), 255, dtype=np.uint8)
    paper[15:105, 40:52] = 0
    buf = io.BytesIO()
    Image.fromarray(paper).save(buf, format="PNG")
    at.file_uploader(key=tv.K_UPLOAD).set_value(("one.png", buf.getvalue(), "image/png")).run()
    assert not at.exception, at.exception
    assert not at.error
    assert any(c.proto.id.endswith("train_upload_proba") for c in at.get("plotly_chart"))

    runs = app("runs")
    (table,) = runs.dataframe
    df = table.value
    assert df["run"].tolist() == [snap.run.run_id]
    assert df["dataset"].tolist() == ["mnist"] and df["hidden"].tolist() == ["32"]
    assert df["test accuracy"].iloc[0] == pytest.approx(snap.metrics.accuracy)


def estimate(at: AppTest) -> str:
    (text,) = [c.value for c in at.caption if c.value.startswith("Estimated time")]
    return text


def test_form_fields_wait_for_the_button_and_presets_fill_them():
    at = app("train")
    assert at.checkbox(key=tv.K_KEEP).value is True
    assert at.number_input(key=tv.K_AVERAGE).value == 0
    quick = estimate(at.selectbox(key=tv.K_PRESET).set_value("quick").run())
    assert at.text_input(key=tv.K_HIDDEN).value == "64" and at.number_input(key=tv.K_EPOCHS).value == 3
    best = estimate(at.selectbox(key=tv.K_PRESET).set_value("best").run())
    assert at.text_input(key=tv.K_HIDDEN).value == "512,256" and at.number_input(key=tv.K_EPOCHS).value == 30
    assert at.number_input(key=tv.K_AVERAGE).value == PRESETS["best"].average_last == 10
    assert quick != best  # the estimate follows the preset
    # An edited field does nothing until the form is submitted (no rerun, no job).
    at.number_input(key=tv.K_EPOCHS).set_value(1)
    at.run()
    assert estimate(at) == best and tv.K_JOB not in at.session_state


def test_preset_too_big_for_the_dataset_warns_until_a_bad_submit():
    at = app("train")
    at.sidebar.selectbox(key="ds_name").set_value("digits").run()
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()  # train subset 10,000 > digits' 1,437
    assert not at.error
    assert any(w.value.startswith("The preset does not fit this dataset: train_size:") for w in at.warning)
    at.button(key=tv.K_START).click().run()  # submitted unchanged: now it is an error
    assert any(e.value.startswith("train_size:") for e in at.error)
    assert tv.K_JOB not in at.session_state


def test_bad_parameter_is_named_and_training_cannot_start():
    at = app("train")
    at.text_input(key=tv.K_HIDDEN).set_value("256,-1")
    at.button(key=tv.K_START).click().run()
    assert not at.exception, at.exception
    assert any(e.value.startswith("hidden:") for e in at.error)
    assert tv.K_JOB not in at.session_state
    at.text_input(key=tv.K_HIDDEN).set_value("64")
    at.text_input(key=tv.K_LR).set_value("0")
    at.button(key=tv.K_START).click().run()
    assert any(e.value.startswith("learning_rate:") for e in at.error)
    assert not any(e.value.startswith("hidden:") for e in at.error)
    assert tv.K_JOB not in at.session_state


def test_two_sessions_training_at_once_keep_separate_results(runs_dir):
    a, b = app("train"), app("train")
    set_short(a, "16", epochs=2)
    set_short(b, "48", epochs=3, size=3000)
    a.button(key=tv.K_START).click().run()
    b.button(key=tv.K_START).click().run()
    ja, jb = finish(a), finish(b)
    assert ja is not jb
    sa, sb = ja.snapshot(), jb.snapshot()
    assert (sa.state, sb.state) == (DONE, DONE)
    assert (sa.epoch, sb.epoch) == (2, 3)
    assert ja.model.coefs_[0].shape[1] == 16 and jb.model.coefs_[0].shape[1] == 48
    assert sa.run.run_id != sb.run.run_id
    # Each page shows its own session's result.
    for at, snap in ((a, sa), (b, sb)):
        (acc,) = [m for m in at.metric if m.label == "Test accuracy"]
        assert float(acc.value) == pytest.approx(snap.metrics.accuracy, abs=1e-4)
    # Both runs are listed; selecting both draws the comparison.
    runs = app("runs")
    assert set(runs.dataframe[0].value["run"]) == {sa.run.run_id, sb.run.run_id}
    frame = runs_view.runs_frame(runs_view.RunStore(runs_dir).list().runs)
    assert sorted(frame["epochs"]) == [2, 3]
    # The kept epoch is the one with the best validation accuracy of each run.
    for snap in (sa, sb):
        row = frame[frame["run"] == snap.run.run_id].iloc[0]
        best = 1 + int(np.argmax([h.val_accuracy for h in snap.history]))
        assert row["kept epoch"] == best


def test_runs_page_compares_diffs_reports_broken_and_deletes(runs_dir):
    import json as _json

    from dashboard.lab.jobs import TrainingJob
    from dashboard.data.loading import load_dataset
    from dashboard.lab.runs import RunStore
    from dashboard.lab.training import TrainParams

    store = RunStore(runs_dir)
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    old = TrainingJob(TrainParams(hidden=(4,), epochs=1, batch_size=50), train, test, store).run().run
    new = TrainingJob(TrainParams(hidden=(32,), epochs=3, batch_size=50), train, test, store).run().run
    (runs_dir / "20200101-000000-broken").mkdir()

    at = app("runs")
    assert any("20200101\\-000000\\-broken" in w.value for w in at.warning)  # escaped markdown
    df = at.dataframe[0].value
    assert set(df["run"]) == {old.run_id, new.run_id}
    # Tick both rows (what a click on the table's checkboxes sets).
    at.session_state[runs_view.K_TABLE] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    charts = {c.proto.id.rsplit("-", 1)[-1]: _json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert {"runs_curves", "runs_accuracy", "runs_diff"} <= set(charts)
    bars = charts["runs_accuracy"]["data"][0]
    assert len(bars["x"]) == 2
    # The diff is "new minus old" for the two runs picked.
    at.selectbox(key=runs_view.K_OLD).set_value(old.run_id)
    at.selectbox(key=runs_view.K_NEW).set_value(new.run_id).run()
    diff = {c.proto.id.rsplit("-", 1)[-1]: _json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    text = arr(diff["runs_diff"]["data"][0]["text"])
    expected = np.asarray(new.info["metrics"]["test_confusion"]) - np.asarray(old.info["metrics"]["test_confusion"])
    assert np.array_equal(text, expected)
    # Delete the old run through the page.
    at.selectbox(key=runs_view.K_DELETE).set_value(old.run_id)
    at.checkbox(key=runs_view.K_DELETE_CONFIRM).check().run()
    at.button(key=runs_view.K_DELETE_GO).click().run()
    assert not at.exception, at.exception
    assert [r.run_id for r in store.list().runs] == [new.run_id]
    assert any(old.run_id.replace("-", "\\-") in s.value for s in at.success)  # escaped markdown


def test_stop_button_keeps_the_model_and_shows_results():
    at = app("train")
    set_short(at, "64", epochs=300, size=10000)
    at.button(key=tv.K_START).click().run()
    job = at.session_state[tv.K_JOB]
    while not job.snapshot().history:
        assert not job.snapshot().finished
        job.join(timeout=0.05)
    at.run()  # the live view now shows epoch >= 1 and the Stop button
    at.button(key=tv.K_STOP).click().run()
    assert not at.exception, at.exception
    finish(at)
    snap = job.snapshot()
    assert snap.state == DONE and snap.stopped_early and 1 <= snap.epoch < 300
    assert snap.run.info["status"] == "stopped"
    assert any("Stopped by you" in i.value for i in at.info)
    (acc,) = [m for m in at.metric if m.label == "Test accuracy"]
    assert float(acc.value) > 0.7


def test_kept_text_names_the_averaged_epochs():
    from dashboard.lab.training import EpochReport

    history = [EpochReport(e, 5, 0.1, 0.9, acc, np.eye(2, dtype=np.int64), 1.0, e) for e, acc in
               enumerate([0.80, 0.90, 0.85, 0.87, 0.86], start=1)]
    text = tv.kept_text(history, 5, True, averaged_epochs=3)
    assert text.startswith("Averaged the weights of the last 3 epochs (3–5 of 5)") and "0.8600" in text
    assert tv.kept_text(history, 2, True).startswith("Kept epoch 2 of 5, best validation accuracy 0.9000")
