"""The background training job: runs in a thread, can be stopped, keeps its own state."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dashboard.errors import DashboardError, ParameterError
from dashboard.lab.runs import RunStore
from dashboard.lab.training import TrainParams, scale_images
from dashboard.lab.trainjob import DONE, TrainingJob

PARAMS = TrainParams(hidden=(32,), epochs=3, train_size=2000, batch_size=100)


def test_job_trains_evaluates_and_saves(tmp_path, mnist_train, mnist_test):
    store = RunStore(tmp_path)
    job = TrainingJob(PARAMS, mnist_train, mnist_test, store).start()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == DONE, snap.error
    assert snap.epoch == 3 and len(snap.history) == 3 and not snap.stopped_early
    assert snap.metrics.accuracy > 0.7
    assert [r.run_id for r in store.list().runs] == [snap.run.run_id]
    assert snap.run.info["status"] == "completed"
    # The saved run records the epoch whose weights it holds: the best on validation.
    accs = [r.val_accuracy for r in snap.history]
    assert snap.kept_epoch == snap.run.info["kept_epoch"] == int(np.argmax(accs)) + 1
    assert store.get(snap.run.run_id).kept_epoch == snap.kept_epoch


def test_stop_ends_after_current_epoch_and_saves_the_model(tmp_path, mnist_train, mnist_test):
    store = RunStore(tmp_path)
    job = TrainingJob(TrainParams(hidden=(32,), epochs=50, train_size=2000, batch_size=100),
                      mnist_train, mnist_test, store)
    first = threading.Event()
    # Stop as soon as the first epoch is reported, from another thread, like the page's button.
    job.start()
    while not job.snapshot().history:
        assert job._thread.is_alive()
        first.wait(0.01)
    job.stop()
    assert job.join(timeout=120)
    snap = job.snapshot()
    assert snap.state == DONE and snap.stopped_early
    assert 1 <= snap.epoch < 50
    assert snap.run.info["status"] == "stopped"
    model = store.load_model(snap.run.run_id)
    acc = np.mean(model.predict(scale_images(mnist_test.images)) == mnist_test.labels)
    assert acc == pytest.approx(snap.metrics.accuracy)


def test_two_jobs_at_once_keep_separate_results(mnist_train, mnist_test):
    a = TrainingJob(TrainParams(hidden=(16,), epochs=2, train_size=2000, batch_size=100, seed=1),
                    mnist_train, mnist_test).start()
    b = TrainingJob(TrainParams(hidden=(48,), epochs=3, train_size=3000, batch_size=100, seed=2),
                    mnist_train, mnist_test).start()
    assert a.join(120) and b.join(120)
    sa, sb = a.snapshot(), b.snapshot()
    assert (sa.state, sb.state) == (DONE, DONE)
    assert (sa.epoch, sb.epoch) == (2, 3)
    assert a.model.coefs_[0].shape == (784, 16) and b.model.coefs_[0].shape == (784, 48)
    assert sa.history[0].val_confusion.sum() == 200 and sb.history[0].val_confusion.sum() == 300


def test_bad_parameters_fail_before_a_thread_starts(mnist_train, mnist_test):
    with pytest.raises(ParameterError, match="^batch_size:"):
        TrainingJob(TrainParams(train_size=1000, batch_size=5000), mnist_train, mnist_test)


def test_splits_of_different_sets_are_refused(mnist_train, digits_train):
    with pytest.raises(DashboardError):
        TrainingJob(PARAMS, mnist_train, digits_train)


def test_run_in_calling_thread_reports_each_epoch(mnist_train, mnist_test):
    seen = []
    snap = TrainingJob(TrainParams(hidden=(16,), epochs=2, train_size=2000, batch_size=100),
                       mnist_train, mnist_test).run(on_epoch=seen.append)
    assert snap.state == DONE and [r.epoch for r in seen] == [1, 2]
    with pytest.raises(DashboardError):
        TrainingJob(PARAMS, mnist_train, mnist_test).start().start()


def test_train_kind_runs_in_a_worker_and_saves_a_run(tmp_path, mnist_train, mnist_test):
    """The registered ``train`` kind through a real JobQueue: per-epoch progress, then a saved run."""
    from dashboard.lab.jobs import JobQueue, JobState
    from dashboard.lab.shared import open_splits, share_splits

    ref = share_splits(mnist_train, mnist_test, tmp_path / "arrays")
    again = share_splits(mnist_train, mnist_test, tmp_path / "arrays")
    assert again == ref  # written once, keyed by content
    shared_train, _ = open_splits(ref)
    assert isinstance(shared_train.images.base, np.memmap) or "memmap" in type(shared_train.images.base).__name__
    assert shared_train.checksum == mnist_train.checksum
    queue = JobQueue(tmp_path / "jobs", max_workers=1)
    job_id = queue.submit("train", {"train": PARAMS.to_dict(), "data": ref, "runs_dir": str(tmp_path / "runs")},
                          title="mnist quick")
    info = queue.wait(job_id, timeout=180)
    assert info.state is JobState.DONE, info.error
    history = info.data["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3] and info.data["epochs"] == 3
    assert len(history[-1]["val_confusion"]) == 10
    run = RunStore(tmp_path / "runs").get(info.result["run_id"])
    assert run.test_accuracy == pytest.approx(info.result["test_accuracy"])
    assert run.info["status"] == "completed" and len(run.history) == 3
