"""Saving, listing, reloading (skops) and deleting runs on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skops.io as sio
from hypothesis import HealthCheck, given, settings, strategies as hs

from dashboard.errors import DataError
from dashboard.lab.runs import MODEL_FILE, RUN_FILE, SCHEMA, RunStore, run_name, schema_problem
from dashboard.lab.training import Trainer, TrainParams, evaluate, scale_images

PARAMS = TrainParams(hidden=(32,), epochs=2, train_size=2000, batch_size=100, seed=2)


@pytest.fixture(scope="module")
def trained(mnist_train, mnist_test):
    trainer = Trainer(PARAMS, mnist_train)
    list(trainer.run())
    model = trainer.final_model()
    return trainer, model, evaluate(model, mnist_test)


def _save(store, trained, **kw):
    trainer, model, metrics = trained
    return store.save(
        model=model,
        params=trainer.params,
        history=trainer.history,
        metrics=metrics,
        dataset=trainer.dataset_name,
        dataset_checksum=trainer.dataset_checksum,
        class_names=trainer.class_names,
        image_shape=trainer.image_shape,
        timing={"train": 1.0, "test": 0.1, "total": 1.2},
        **kw,
    )


def test_saved_run_reloads_to_the_same_predictions(tmp_path, trained, mnist_test):
    store = RunStore(tmp_path)
    run = _save(store, trained)
    _, model, metrics = trained
    assert sorted(p.name for p in run.path.iterdir()) == sorted([RUN_FILE, MODEL_FILE, "test.npz"])
    loaded = store.load_model(run.run_id)
    x = scale_images(mnist_test.images[:500])
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), rtol=1e-6)
    again = store.get(run.run_id)
    assert again.params == PARAMS
    assert [h.epoch for h in again.history] == [1, 2]
    assert again.test_accuracy == pytest.approx(metrics.accuracy)
    assert again.info["dataset_checksum"] == trained[0].dataset_checksum
    assert again.info["metrics"]["test_confusion"] == metrics.confusion.tolist()
    preds, proba = store.load_test_outputs(run.run_id)
    assert np.array_equal(preds, metrics.predictions) and proba.shape == (len(mnist_test), 10)
    # the file holds only types we trust: nothing to approve
    assert sio.get_untrusted_types(file=run.path / MODEL_FILE) == []


def test_corrupt_and_partial_folders_are_skipped_with_a_message(tmp_path, trained):
    store = RunStore(tmp_path)
    good = _save(store, trained)
    bad = tmp_path / "20260101-000000-mnist-bad"
    bad.mkdir()
    (bad / RUN_FILE).write_text("{not json")
    (bad / MODEL_FILE).write_bytes(b"junk")
    empty = tmp_path / "20260101-000001-mnist-empty"
    empty.mkdir()
    (tmp_path / ".tmp-crashed-run").mkdir()  # a writer that died mid-save
    listing = store.list()
    assert [r.run_id for r in listing.runs] == [good.run_id]
    assert len(listing.problems) == 2
    assert any("20260101-000000-mnist-bad" in p and "unreadable" in p for p in listing.problems)
    assert any("20260101-000001-mnist-empty" in p for p in listing.problems)


def test_a_model_file_with_untrusted_content_is_refused(tmp_path, trained):
    store = RunStore(tmp_path)
    run = _save(store, trained)
    # A skops file that would call os.system: its type is not in the trusted list.
    import os

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    sio.dump(FunctionTransformer(func=os.system), run.path / MODEL_FILE)
    with pytest.raises(DataError, match="cannot be loaded.*Untrusted"):
        store.load_model(run.run_id)
    # A trusted sklearn type that is not our model is refused too.
    sio.dump(LogisticRegression(), run.path / MODEL_FILE)
    with pytest.raises(DataError, match="not a model this app trains"):
        store.load_model(run.run_id)


def test_list_sorts_newest_first_and_delete_removes(tmp_path, trained):
    store = RunStore(tmp_path)
    a = _save(store, trained, run_id="20260101-000000-mnist-a")
    b = _save(store, trained, run_id="20260101-000000-mnist-b", status="stopped")
    # created stamps may tie within a second; the id breaks the tie
    assert [r.run_id for r in store.list().runs][0] in {a.run_id, b.run_id}
    assert store.get(b.run_id).info["status"] == "stopped"
    store.delete(a.run_id)
    assert [r.run_id for r in store.list().runs] == [b.run_id]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
    with pytest.raises(DataError):
        store.delete(a.run_id)


def test_failed_save_leaves_nothing(tmp_path, trained):
    store = RunStore(tmp_path)
    trainer, model, metrics = trained
    with pytest.raises(Exception):
        store.save(
            model=model, params=trainer.params, history=trainer.history, metrics=metrics,
            dataset="mnist", dataset_checksum="x", class_names=trainer.class_names,
            image_shape=trainer.image_shape, timing={"train": object()},  # not a number: fails mid-save
        )
    assert list(tmp_path.iterdir()) == []


def test_ids_cannot_escape_the_root(tmp_path):
    store = RunStore(tmp_path)
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(DataError):
            store.get(bad)


def test_run_json_is_plain_json(tmp_path, trained):
    run = _save(RunStore(tmp_path), trained)
    info = json.loads((run.path / RUN_FILE).read_text())
    assert info["params"]["hidden"] == [32]
    assert len(info["history"]) == 2 and len(info["metrics"]["f1"]) == 10


# --- run.json against the schema: one bad folder never takes the listing down -----------

JSON_LEAF = hs.none() | hs.booleans() | hs.integers(-10**6, 10**6) | hs.floats(allow_nan=True) | hs.text(max_size=8)
JSON = hs.recursive(JSON_LEAF, lambda kids: hs.lists(kids, max_size=4) | hs.dictionaries(hs.text(max_size=6), kids,
                                                                                         max_size=4), max_leaves=12)


def _good_info(tmp_path, trained) -> tuple[dict, bytes]:
    run = _save(RunStore(tmp_path / "src"), trained)
    return json.loads((run.path / RUN_FILE).read_text()), (run.path / MODEL_FILE).read_bytes()


@pytest.fixture(scope="module")
def good(tmp_path_factory, trained):
    return _good_info(tmp_path_factory.mktemp("good"), trained)


HOSTILE = {
    "created a number": ("created", 1700000000),
    "created not a date": ("created", "not a date"),
    "kept_epoch abc": ("kept_epoch", "abc"),
    "kept_epoch beyond the history": ("kept_epoch", 99),
    "history of the wrong thing": ("history", [1, 2, 3]),
    "history of strings": ("history", ["epoch"]),
    "confusion of strings": ("metrics", "CONF_STRINGS"),
    "class_names a text": ("class_names", "0123456789"),
    "params a list": ("params", [1, 2]),
    "params with bad hidden": ("params", "BAD_HIDDEN"),
    "timing a text": ("timing", "fast"),
    "accuracy a text": ("metrics", "ACC_TEXT"),
    "corrections a text": ("corrections", "v3"),
    "corrections without a version": ("corrections", {"state_id": "x", "base_checksum": "y"}),
    "test_corrections a list": ("test_corrections", [1]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_each_hostile_field_is_a_broken_run_and_others_stay(tmp_path, trained, good, case):
    info, model = good
    key, value = HOSTILE[case]
    bad = json.loads(json.dumps(info))
    if value == "CONF_STRINGS":
        bad["metrics"]["test_confusion"] = [["x"] * 10 for _ in range(10)]
    elif value == "BAD_HIDDEN":
        bad["params"]["hidden"] = "many"
    elif value == "ACC_TEXT":
        bad["metrics"]["test_accuracy"] = "high"
    else:
        bad[key] = value
    store = RunStore(tmp_path)
    kept = _save(store, trained)
    folder = tmp_path / "20260101-000000-mnist-bad"
    folder.mkdir()
    (folder / RUN_FILE).write_text(json.dumps(bad))
    (folder / MODEL_FILE).write_bytes(model)
    listing = store.list()
    assert [r.run_id for r in listing.runs] == [kept.run_id]
    (broken,) = listing.broken
    assert broken.run_id == folder.name and broken.reason.startswith(key)
    store.delete(broken.run_id)  # a broken run can be deleted
    assert not folder.exists() and store.list().broken == []


@pytest.mark.parametrize("key", [k for k, (required, _) in SCHEMA.items() if required])
def test_a_missing_required_key_is_named(good, key):
    info = dict(good[0])
    del info[key]
    assert key in schema_problem(info)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=hs.sampled_from(sorted(SCHEMA)), value=JSON)
def test_any_value_in_any_field_is_checked_or_accepted_never_raised(good, key, value):
    info = json.loads(json.dumps(good[0]))
    info[key] = value
    problem = schema_problem(info)  # never raises
    if problem is None:
        # Whatever the schema lets through, every property the pages read works.
        from dashboard.lab.runs import Run
        run = Run("x", info, None)
        run.params, run.history, run.test_accuracy, run.kept_epoch, run.class_names, run.name, run.created_at
        assert run.kept_epoch <= len(run.history)
    else:
        assert problem.startswith(key)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=JSON)
def test_any_json_document_lists_without_raising(tmp_path_factory, trained, good, doc):
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "20260101-000000-any"
    folder.mkdir()
    (folder / RUN_FILE).write_text(json.dumps(doc))
    (folder / MODEL_FILE).write_bytes(good[1])
    listing = RunStore(root).list()
    assert listing.runs == [] and [b.run_id for b in listing.broken] == [folder.name]


def test_readable_name():
    assert run_name("mnist", (256, 128), 0.9812) == "mnist · 256-128 · 98.1%"
    assert run_name("digits", (), 0.5) == "digits · linear · 50.0%"


def test_a_linear_run_reopens_with_its_weights_and_unit_view(tmp_path, digits_train):
    # The linear baseline (issue 10) is saved like an MLP and must reopen like one.
    from dashboard.data.loading import load_dataset
    from dashboard.lab.models import first_layer
    from dashboard.lab.predictions import first_layer_view
    from dashboard.lab.training import TrainParams
    from tests.mkrun import train_and_save

    digits_test = load_dataset("digits", "test")
    run = train_and_save(tmp_path, digits_train, digits_test, TrainParams(model="linear", epochs=2, seed=0))
    model = RunStore(tmp_path).load_model(run.run_id)
    weights = first_layer(model)
    assert weights.shape == (64, len(digits_train.class_names))
    view = first_layer_view(model, digits_test.images[0], top=3)
    assert len(view.units) == 3 and view.weights.shape == (3, 8, 8)


def test_a_run_records_the_corrections_it_was_trained_with(tmp_path, trained, mnist_train):
    # Issue 12: runs before and after cleaning are told apart on the Runs page.
    from dashboard.data.corrections import Corrections, apply_corrections, corrections_record
    from dashboard.views.runs import runs_frame

    corr = Corrections.for_dataset(mnist_train).relabel([0, 1], 3, mnist_train.labels).exclude([2], mnist_train.labels)
    record = corrections_record(apply_corrections(mnist_train, corr))
    store = RunStore(tmp_path)
    plain, cleaned = _save(store, trained), _save(store, trained, corrections=record, test_corrections=record)
    assert "corrections" not in plain.info
    again = store.get(cleaned.run_id)
    assert again.info["corrections"] == record and record["version"] == corr.version >= 1
    frame = runs_frame([store.get(plain.run_id), again]).set_index("run")
    assert frame.loc[plain.run_id, "corrections"] == "none"
    assert frame.loc[cleaned.run_id, "corrections"] == f"train v{corr.version} · test v{corr.version}"
    assert again.info["test_corrections"] == record
