"""The Train and Runs pages, driven through AppTest on real MNIST with short runs."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lab import jobs
from dashboard.lab.jobs import JobState
from dashboard.lab.runs import RunStore
from dashboard.lab.training import PRESETS
from dashboard.views import runs as runs_view, train as tv
from tests.conftest import real_app
from tests.test_app_explore import arr  # plotly JSON (base64 "bdata") to an array


def app(page: str) -> AppTest:
    at = real_app(page, timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("DASHBOARD_JOBS_DIR", str(tmp_path / "jobs"))
    return tmp_path / "runs"


def set_short(at: AppTest, hidden: str, epochs: int = 2, size: int = 2000) -> None:
    """Pick the quick preset, then fill form fields; they reach the app with the Train button."""
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    assert not at.exception, at.exception
    at.text_input(key=tv.K_HIDDEN).set_value(hidden)
    at.number_input(key=tv.K_EPOCHS).set_value(epochs)
    at.number_input(key=tv.K_SIZE).set_value(size)
    at.number_input(key=tv.K_BATCH).set_value(100)


def finish(at: AppTest, timeout: float = 180) -> jobs.JobInfo:
    """Wait for the session's job (in its worker process), then let the page notice the end."""
    job_id = at.session_state[tv.K_JOB]
    info = jobs.default_queue().wait(job_id, timeout=timeout)
    assert info.finished, info
    at.run()  # the fragment sees the end and reruns the page once
    at.run()
    assert not at.exception, at.exception
    return info


def test_train_page_runs_a_job_in_a_worker_then_runs_page_lists_it(runs_dir):
    at = app("train")
    assert at.selectbox(key=tv.K_PRESET).value == "default"
    assert any("Estimated time" in c.value for c in at.caption)
    set_short(at, "32")
    at.button(key=tv.K_START).click().run()
    assert not at.exception, at.exception
    job_id = at.session_state[tv.K_JOB]
    # Train is disabled while this session's job runs, and the URL names the job.
    info = jobs.default_queue().get(job_id)
    if not info.finished:
        assert at.button(key=tv.K_START).disabled
    assert at.query_params[tv.Q_JOB] == [job_id] or at.query_params[tv.Q_JOB] == job_id
    info = finish(at)
    assert info.state is JobState.DONE, info.error
    assert not at.button(key=tv.K_START).disabled
    run = RunStore(runs_dir).get(info.result["run_id"])
    # The preset filled every other field; the submitted edits changed only these.
    assert run.params == replace(PRESETS["quick"], hidden=(32,), epochs=2, train_size=2000, batch_size=100)
    assert info.data["history"][0]["epoch"] == 1 and len(info.data["history"]) == 2
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert any(k.endswith("train_curves") for k in keys)
    runs = app("runs")
    df = runs.dataframe[0].value
    assert df["run"].tolist() == [run.run_id]


def estimate(at: AppTest) -> str:
    (text,) = [c.value for c in at.caption if c.value.startswith("Estimated time")]
    # The idle-machine figure: the load-scaled one moves with the machine's load between runs.
    idle = re.search(r"(\d+) s on an idle machine", text) or re.search(r"about (\d+) s", text)
    return idle.group(1)


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
    # The preset and the fields are in the URL: a new session opened on it gets them back.
    assert at.query_params[tv.Q_PRESET] in (["best"], "best")


def test_form_survives_a_page_switch_and_a_reload_from_the_url():
    at = app("train")
    set_short(at, "24", epochs=4)
    at.button(key=tv.K_START).click().run()  # a submit records the fields (and starts a job)
    query = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert query[tv.Q_PRESET] == "quick" and query["tp_hidden"] == "24" and query["tp_epochs"] == "4"
    # (A page switch, which drops the widgets' keys, is proven by a real click in tests/browser.)
    # A reload: a new session with only the URL.
    fresh = real_app("train", timeout=90)
    for k, v in query.items():
        fresh.query_params[k] = v
    fresh.run()
    assert not fresh.exception, fresh.exception
    assert fresh.selectbox(key=tv.K_PRESET).value == "quick"
    assert fresh.text_input(key=tv.K_HIDDEN).value == "24" and fresh.number_input(key=tv.K_EPOCHS).value == 4
    # ... and it watches the same job.
    assert fresh.session_state[tv.K_JOB] == at.session_state[tv.K_JOB]
    jobs.default_queue().stop(at.session_state[tv.K_JOB])


def test_preset_race_trains_the_chosen_preset():
    """Choose quick and press Train before the fields were redrawn: the form brings default's values."""
    at = app("train")
    before = {name: at.session_state[key] for name, key in tv.KEYS.items()}
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    # What the browser sends in the race: the old (default) field values with the submit.
    for name, key in tv.KEYS.items():
        widget = at.get("text_input") + at.get("number_input") + at.get("selectbox") + at.get("checkbox")
        (w,) = [x for x in widget if getattr(x, "key", None) == key]
        w.set_value(before[name])
    at.button(key=tv.K_START).click().run()
    assert not at.exception, at.exception
    info = jobs.default_queue().get(at.session_state[tv.K_JOB])
    assert info.params["train"]["hidden"] == [64] and info.params["train"]["epochs"] == 3
    jobs.default_queue().stop(info.id)


def test_quick_adapts_to_digits_and_says_what_changed():
    at = app("train")
    at.sidebar.selectbox(key="ds_name").set_value("digits").run()
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()  # train subset 10,000 > digits' 1,437
    assert not at.error
    assert any("adapted to this dataset" in i.value and "Train subset size" in i.value for i in at.info)
    assert at.number_input(key=tv.K_SIZE).value == 0
    at.button(key=tv.K_START).click().run()
    info = finish(at)
    assert info.state is JobState.DONE, info.error


def test_bad_parameter_is_named_by_its_label_and_training_cannot_start():
    at = app("train")
    at.text_input(key=tv.K_HIDDEN).set_value("256,-1")
    at.button(key=tv.K_START).click().run()
    assert not at.exception, at.exception
    assert any(e.value.startswith("Hidden layer sizes:") for e in at.error)
    assert tv.K_JOB not in at.session_state
    at.text_input(key=tv.K_HIDDEN).set_value("64")
    at.text_input(key=tv.K_LR).set_value("0")
    at.button(key=tv.K_START).click().run()
    assert any(e.value.startswith("Learning rate:") for e in at.error)
    assert not any(e.value.startswith("Hidden layer sizes:") for e in at.error)
    assert tv.K_JOB not in at.session_state


def test_a_new_session_lists_running_jobs_and_can_watch_and_stop_them(runs_dir):
    a = app("train")
    set_short(a, "64", epochs=300, size=10000)
    a.button(key=tv.K_START).click().run()
    job_id = a.session_state[tv.K_JOB]
    q = jobs.default_queue()
    deadline = __import__("time").monotonic() + 120
    while not q.get(job_id).data.get("history") and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.2)
    b = app("train")  # a new tab: nothing in its session
    assert tv.K_JOB not in b.session_state
    b.button(key=f"watch_{job_id}").click().run()
    assert not b.exception, b.exception
    assert b.session_state[tv.K_JOB] == job_id
    assert any(c.proto.id.endswith("train_curves") for c in b.get("plotly_chart"))
    assert b.button(key=tv.K_START).disabled
    b.button(key=tv.K_STOP).click().run()
    info = finish(b)
    assert info.state is JobState.STOPPED and info.result["stopped"]
    assert 1 <= info.result["epochs_run"] < 300
    assert any("Stopped by you" in i.value for i in b.info)
    assert RunStore(runs_dir).get(info.result["run_id"]).info["status"] == "stopped"


def test_sweep_form_queues_a_sweep_and_ranks_its_runs(runs_dir):
    at = app("train")
    at.sidebar.selectbox(key="ds_name").set_value("digits").run()
    at.selectbox(key=tv.K_PRESET).set_value("quick").run()
    at.number_input(key=tv.K_EPOCHS).set_value(2)
    at.number_input(key=tv.K_BATCH).set_value(50)
    at.button(key=tv.K_START).click().run()  # the form's values are the sweep's base
    jobs.default_queue().stop(at.session_state[tv.K_JOB])
    at.text_area(key=tv.K_GRID).set_value("hidden=16,32\nmodel=mlp,linear")
    at.button(key=tv.K_SWEEP_GO).click().run()
    assert not at.exception, at.exception
    assert any("Sweep queued (3 configurations)" in s.value for s in at.success)
    (sweep,) = [j for j in jobs.default_queue().list(kind="sweep")]
    info = jobs.default_queue().wait(sweep.id, timeout=240)
    assert info.state is JobState.DONE, info.error
    at.run()
    df = at.dataframe[0].value
    assert len(df) == 3 and list(df["val_accuracy"]) == sorted(df["val_accuracy"], reverse=True)
    assert any(c.proto.id.endswith("train_sweep_fig") for c in at.get("plotly_chart"))
    saved = {r.run_id for r in RunStore(runs_dir).list().runs}
    assert set(df["run_id"]) <= saved and len(set(df["run_id"])) == 3


def test_runs_page_compares_diffs_reports_broken_and_deletes(runs_dir):
    import json as _json

    from dashboard.data.loading import load_dataset
    from dashboard.lab.runs import RunStore
    from dashboard.lab.training import TrainParams
    from dashboard.lab.trainjob import TrainingJob

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


def test_kept_text_names_the_averaged_epochs():
    from dashboard.lab.training import EpochReport
    from dashboard.views import results

    history = [EpochReport(e, 5, 0.1, 0.9, acc, np.eye(2, dtype=np.int64), 1.0, e) for e, acc in
               enumerate([0.80, 0.90, 0.85, 0.87, 0.86], start=1)]
    text = results.kept_text(history, 5, True, averaged_epochs=3)
    assert text.startswith("Averaged the weights of the last 3 epochs (3–5 of 5)") and "0.8600" in text
    assert results.kept_text(history, 2, True).startswith("Kept epoch 2 of 5, best validation accuracy 0.9000")


def test_a_one_class_upload_is_refused_up_front():
    from tests.test_app_hostile import npz, upload

    images = np.random.default_rng(0).integers(0, 255, (40, 8, 8), dtype=np.uint8)
    at = upload(app("train"), "one.npz", npz(x=images, y=np.zeros(40, dtype=np.int64)))
    assert not at.exception, at.exception
    assert any("cannot be trained on" in e.value and "only one class" in e.value for e in at.error)
    assert not at.get("form")
