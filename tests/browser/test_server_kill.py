"""Fault: the server is SIGKILLed while a training job runs, then restarted.

Training runs in a worker process of the job queue, in its own session, so it
survives the server. Every run that had finished loads; after the restart a new
tab lists the running job, a real click on Watch shows its live progress and a
real click on Stop ends it with its model saved.
"""

from __future__ import annotations

import os
import re
import signal

from playwright.sync_api import expect

from dashboard.lab import jobs
from dashboard.lab.runs import RunStore
from tests.browser.helpers import StreamlitServer, goto_app, wait_idle
from tests.browser.test_e2e import FRESH, choose, set_number


def _start_training(page, epochs: int, train_size: int) -> None:
    choose(page, "train_preset", "quick")
    expect(page.locator(f".st-key-train_hidden{FRESH} input")).to_have_value("64")
    wait_idle(page)
    set_number(page, "train_epochs", epochs)
    set_number(page, "train_train_size", train_size)
    wait_idle(page)
    page.locator(f".st-key-train_start{FRESH} button").click()


def test_sigkill_of_the_server_leaves_the_job_running_and_visible_after_restart(shared_data, tmp_path, page):
    runs_dir = tmp_path / "runs"
    queue_dir = tmp_path / "jobs"  # beside the runs folder: the server's default
    server = StreamlitServer(runs_dir, tmp_path / "cache", shared_data, log=tmp_path / "streamlit.log")
    server.start()
    restarted = None
    try:
        # 1. One run to the end.
        goto_app(page, server.url, "train")
        _start_training(page, epochs=2, train_size=2000)
        saved = page.get_by_text(re.compile(r"Saved as run \S+"))
        expect(saved).to_be_visible(timeout=120_000)
        finished_id = re.search(r"Saved as run (\S+) \(", saved.inner_text()).group(1)

        # 2. A long one; the server is killed once an epoch is done.
        goto_app(page, server.url, "train")
        _start_training(page, epochs=1000, train_size=3000)
        expect(page.locator('.st-key-train_live [data-testid="stProgress"]')).to_contain_text(
            re.compile(r"running: epoch [1-9]\d* of 1000"), timeout=120_000
        )
        server.kill()
        assert server.proc.returncode == -9
        q = jobs.JobQueue(queue_dir)
        (running,) = [j for j in q.list() if not j.finished]
        assert running.state is jobs.JobState.RUNNING  # the worker outlived the server

        store = RunStore(runs_dir)
        listing = store.list()
        assert listing.problems == [] and [r.run_id for r in listing.runs] == [finished_id]
        store.load_model(finished_id)

        # 3. Restart; a new tab with no job in its URL lists the running job: Watch, then Stop.
        restarted = StreamlitServer(runs_dir, tmp_path / "cache", shared_data, log=tmp_path / "streamlit2.log")
        restarted.start()
        goto_app(page, restarted.url, "train")
        page.locator(f".st-key-watch_{running.id}{FRESH} button").click()
        expect(page.locator('.st-key-train_live [data-testid="stProgress"]')).to_contain_text(
            re.compile(r"running: epoch \d+ of 1000"), timeout=60_000)
        expect(page.locator(f".st-key-train_start{FRESH} button")).to_be_disabled()
        page.locator(f".st-key-train_stop{FRESH} button").click()
        expect(page.get_by_text(re.compile(r"Stopped by you after epoch \d+ of 1000"))).to_be_visible(timeout=120_000)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        info = q.get(running.id)
        assert info.state is jobs.JobState.STOPPED
        run = store.get(info.result["run_id"])
        assert run.info["status"] == "stopped" and 1 <= len(run.history) < 1000
        store.load_model(run.run_id)
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()
        for claim in queue_dir.glob(f"*/{jobs.CLAIM_FILE}"):  # workers outlive servers: end ours
            pid = (jobs.read_json(claim) or {}).get("pid")
            if jobs.pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
