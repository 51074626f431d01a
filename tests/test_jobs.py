"""The job system: real worker processes, state on disk, visible from any JobQueue object."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.errors import DashboardError
from dashboard.lab import jobs
from dashboard.lab.jobs import JobInfo, JobQueue, JobState, Progress
from tests.job_kinds_for_tests import KINDS

ROOT = Path(__file__).resolve().parents[1]


def _queue(tmp_path, n=2):
    return JobQueue(tmp_path / "jobs", max_workers=n, kinds=KINDS)


def test_a_job_runs_in_a_worker_process_and_reports_progress_and_result(tmp_path):
    q = _queue(tmp_path)
    job_id = q.submit("count", {"n": 3, "delay": 0.01}, title="three")
    info = q.wait(job_id, timeout=60)
    assert isinstance(info, JobInfo)
    assert info.state is JobState.DONE, info.error
    assert info.result == {"counted": 3}
    assert info.fraction == 1.0 and info.message == "step 3 of 3"
    assert info.data["steps"] == [1, 2, 3]
    assert info.data["pid"] != os.getpid()  # not a thread of this process
    assert info.title == "three" and info.kind == "count" and info.params == {"n": 3, "delay": 0.01}
    assert info.created <= info.started <= info.ended


def test_a_new_queue_object_sees_the_same_jobs(tmp_path):
    """A reload, a new tab or a restarted server builds a new queue on the same folder."""
    q = _queue(tmp_path)
    job_id = q.submit("count", {"n": 40, "delay": 0.05})
    other = JobQueue(tmp_path / "jobs", kinds=KINDS)
    deadline = time.monotonic() + 30
    while other.get(job_id).fraction == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = other.get(job_id)
    assert seen.state is JobState.RUNNING and 0 < seen.fraction < 1
    assert [j.id for j in other.list()] == [job_id]
    other.stop(job_id)
    end = q.wait(job_id, timeout=30)
    assert end.state is JobState.STOPPED
    assert 1 <= end.result["counted"] < 40


def test_at_most_max_workers_run_and_the_queue_moves_on(tmp_path):
    q = _queue(tmp_path, n=1)
    first = q.submit("count", {"n": 10, "delay": 0.05})
    second = q.submit("count", {"n": 2, "delay": 0.01})
    assert q.get(second).state is JobState.QUEUED
    assert q.get(first).state is JobState.RUNNING
    # Nobody calls dispatch here: the first worker starts the second when it ends.
    deadline = time.monotonic() + 60
    while not (jobs.read_json(q.root / second / jobs.RESULT_FILE)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jobs.read_job(q.root / second).state is JobState.DONE
    first_info, second_info = q.get(first), q.get(second)
    assert first_info.ended <= second_info.started


def test_stopping_a_queued_job_means_it_never_starts(tmp_path):
    q = _queue(tmp_path, n=1)
    first = q.submit("count", {"n": 20, "delay": 0.05})
    second = q.submit("count", {"n": 2, "delay": 0.01})
    q.stop(second)
    assert q.get(second).state is JobState.STOPPED
    q.stop(first)
    assert q.wait(first, timeout=30).state is JobState.STOPPED
    assert not (q.root / second / jobs.CLAIM_FILE).exists()


def test_a_failing_job_is_failed_with_its_message(tmp_path):
    q = _queue(tmp_path)
    info = q.wait(q.submit("fail", {"message": "class 3 is missing"}), timeout=60)
    assert info.state is JobState.FAILED
    assert info.error == "class 3 is missing"


def test_a_worker_that_dies_leaves_an_interrupted_job_with_its_progress(tmp_path):
    q = _queue(tmp_path)
    info = q.wait(q.submit("crash", {}), timeout=60)
    assert info.state is JobState.INTERRUPTED
    assert info.data == {"steps": [1]} and info.fraction == 0.5
    assert "ended without finishing" in info.error


def test_killing_a_worker_mid_run_frees_its_slot(tmp_path):
    q = _queue(tmp_path, n=1)
    first = q.submit("count", {"n": 400, "delay": 0.05})
    second = q.submit("count", {"n": 2, "delay": 0.01})
    deadline = time.monotonic() + 30
    while q.get(first).fraction == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = jobs.read_json(q.root / first / jobs.CLAIM_FILE)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while jobs.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = q.get(first)  # this dispatch sees the slot free and launches the next job
    assert killed.state is JobState.INTERRUPTED and killed.data["steps"]
    assert q.wait(second, timeout=60).state is JobState.DONE


def test_workers_run_niced_with_blas_threads_capped(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.ENV_JOB_THREADS, "1")
    q = _queue(tmp_path)
    info = q.wait(q.submit("threads", {}), timeout=60)
    assert info.state is JobState.DONE, info.error
    assert info.result["nice"] >= os.nice(0) + 10 or info.result["nice"] == 19
    assert info.result["blas"] and all(n == 1 for n in info.result["blas"])


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="no autogroup scheduling here")
def test_workers_session_group_is_niced_too(tmp_path):
    # A worker is alone in its session, hence in its own autogroup, which the scheduler
    # weighs like a nice-0 process unless the group itself is niced: two jobs together
    # must not start at the same moment and lose the kernel's 0.1 s rate limit either.
    q = _queue(tmp_path, n=2)
    ids = [q.submit("threads", {}) for _ in range(2)]
    for i in ids:
        info = q.wait(i, timeout=60)
        assert info.state is JobState.DONE, info.error
        assert info.result["sid_is_self"]
        assert info.result["autogroup_nice"] == info.result["nice"] > 0


def test_lower_priority_sets_the_autogroup_and_survives_bad_values(tmp_path):
    group = tmp_path / "autogroup"
    group.write_text("/autogroup-1 nice 0\n")
    code = ("import sys; from pathlib import Path; from dashboard.lab.worker import lower_priority;"
            "print(lower_priority(sys.argv[1], Path(sys.argv[2])))")
    out = subprocess.run([sys.executable, "-c", code, "5", str(group)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert int(out.stdout) >= 5 and group.read_text() == out.stdout.strip()
    group.write_text("untouched")
    out = subprocess.run([sys.executable, "-c", code, "ten", str(group)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert int(out.stdout) == os.nice(0) and group.read_text() == "untouched"


def test_bad_requests_are_refused(tmp_path):
    q = _queue(tmp_path)
    with pytest.raises(DashboardError, match="unknown job kind"):
        q.submit("nope", {})
    with pytest.raises(DashboardError, match="plain JSON"):
        q.submit("count", {"n": object()})
    with pytest.raises(DashboardError, match="no job"):
        q.get("20260101-000000-count-abcdef")
    with pytest.raises(DashboardError, match="invalid job id"):
        q.get("../etc")


def test_an_unreadable_job_folder_is_skipped(tmp_path):
    q = _queue(tmp_path)
    (q.root / "garbage").mkdir()
    (q.root / "garbage" / "job.json").write_text("{not json")
    assert q.list() == []


def test_progress_writes_atomically_and_keeps_data(tmp_path):
    p = Progress(tmp_path)
    p.update(0.25, "a", {"x": [1]})
    p.update(0.5, "b")
    value = jobs.read_json(tmp_path / jobs.PROGRESS_FILE)
    assert value["fraction"] == 0.5 and value["message"] == "b" and value["data"] == {"x": [1]}
    assert [f.name for f in tmp_path.iterdir()] == [jobs.PROGRESS_FILE]  # no temporary left
    assert not p.should_stop()
    (tmp_path / jobs.STOP_FILE).touch()
    assert p.should_stop()


def test_default_queue_lives_beside_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(jobs.ENV_JOBS_DIR, raising=False)
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path / "data" / "runs"))
    monkeypatch.setenv(jobs.ENV_MAX_JOBS, "3")
    q = jobs.default_queue()
    assert q.root == (tmp_path / "data" / "jobs").resolve() and q.max_workers == 3
    assert jobs.default_queue() is q
    assert set(q.kinds) >= {"train"}
