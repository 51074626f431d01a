"""Fault: the server is SIGKILLed in the middle of a training run, then restarted.

Every run that had finished loads (record, model, test outputs), the Runs page
lists it without a warning or an exception, and the interrupted run is absent
(a run is written to a hidden temporary folder and renamed into place only when
complete) or, if a later version records it, marked interrupted.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

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


def test_sigkill_mid_training_keeps_finished_runs(shared_data, tmp_path, page):
    runs_dir = tmp_path / "runs"
    server = StreamlitServer(runs_dir, tmp_path / "cache", shared_data, log=tmp_path / "streamlit.log")
    server.start()
    try:
        # 1. One run to the end.
        goto_app(page, server.url, "train")
        _start_training(page, epochs=2, train_size=2000)
        saved = page.get_by_text(re.compile(r"Saved as run \S+"))
        expect(saved).to_be_visible(timeout=120_000)
        finished_id = re.search(r"Saved as run (\S+) \(", saved.inner_text()).group(1)

        # 2. A long one, killed once at least one epoch is done.
        goto_app(page, server.url, "train")
        _start_training(page, epochs=500, train_size=3000)
        expect(page.locator('[data-testid="stProgress"]')).to_contain_text(
            re.compile(r"running: epoch [1-9]\d* of 500"), timeout=120_000
        )
        server.kill()
        assert server.proc.returncode == -9
    finally:
        server.stop()

    on_disk = sorted(p.name for p in runs_dir.iterdir())
    visible = [n for n in on_disk if not n.startswith(".")]
    store = RunStore(runs_dir)
    listing = store.list()
    assert listing.problems == []
    for run in listing.runs:  # every run folder loads completely
        store.load_model(run.run_id)
        preds, proba = store.load_test_outputs(run.run_id)
        assert len(preds) == len(proba) == 10_000
    ids = {r.run_id: r for r in listing.runs}
    assert finished_id in ids and ids[finished_id].info["status"] == "completed"
    assert set(visible) == set(ids), on_disk
    for run_id, run in ids.items():  # the killed run: absent, or marked as interrupted
        if run_id != finished_id:
            assert run.info.get("status") == "interrupted", (run_id, run.info.get("status"))

    # 3. Restart on the same folder: the Runs page lists the finished run, no warning, no crash.
    restarted = StreamlitServer(runs_dir, tmp_path / "cache", shared_data, log=tmp_path / "streamlit2.log")
    restarted.start()
    try:
        goto_app(page, restarted.url, "runs")
        expect(page.get_by_role("heading", name="Runs")).to_be_visible()
        expect(page.locator('[data-testid="stDataFrame"]')).to_contain_text(finished_id, timeout=30_000)
        expect(page.locator('[data-testid="stAlert"]')).to_have_count(0)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        restarted.stop()
