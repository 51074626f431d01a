"""The Train page with real clicks in Chromium: presets, the preset race, Train, reload, Stop, page switch."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from dashboard.lab import jobs
from tests.browser.helpers import goto_app, wait_idle
from tests.browser.test_e2e import FRESH, choose, set_number


def _queue(app_server) -> jobs.JobQueue:
    return jobs.JobQueue(app_server.runs_dir.parent / "jobs")


def test_preset_then_train_at_once_trains_the_preset(app_server, page):
    """Choose quick and click Train without waiting: the quick parameters are the ones trained."""
    goto_app(page, app_server.url, "train")
    before = {j.id for j in _queue(app_server).list()}
    choose(page, "train_preset", "quick")
    page.locator(".st-key-train_start button").click()  # no wait: the race of issue 9
    expect(page.locator('.st-key-train_live [data-testid="stProgress"]')).to_be_visible(timeout=60_000)
    wait_idle(page)
    (new,) = [j for j in _queue(app_server).list() if j.id not in before]
    assert new.params["train"]["hidden"] == [64] and new.params["train"]["epochs"] == 3
    # quick shows live progress, then its result; epoch 1 is drawn.
    expect(page.get_by_text(re.compile(r"Saved as run \S+"))).to_be_visible(timeout=120_000)
    wait_idle(page)
    page.locator(".st-key-train_curves .js-plotly-plot").first.wait_for(timeout=60_000)
    xs = page.evaluate("""() => document.querySelector('.st-key-train_curves .js-plotly-plot').data[0].x""")
    assert list(xs) == [1, 2, 3]
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_reload_shows_the_running_job_and_the_form_and_stop_works(app_server, page):
    goto_app(page, app_server.url, "train")
    choose(page, "train_preset", "quick")
    expect(page.locator(f".st-key-train_hidden{FRESH} input")).to_have_value("64")
    wait_idle(page)
    set_number(page, "train_epochs", 1000)
    set_number(page, "train_train_size", 3000)
    wait_idle(page)
    page.locator(f".st-key-train_start{FRESH} button").click()
    progress = page.locator('.st-key-train_live [data-testid="stProgress"]')
    expect(progress).to_contain_text(re.compile(r"running: epoch [1-9]\d* of 1000"), timeout=120_000)
    expect(page.locator(f".st-key-train_start{FRESH} button")).to_be_disabled()
    assert "train_job=" in page.url and "train_preset=quick" in page.url

    # Reload: the job and the form come back from the URL.
    page.reload()
    wait_idle(page, 90_000)
    expect(page.locator('.st-key-train_live [data-testid="stProgress"]')).to_contain_text(
        re.compile(r"running: epoch \d+ of 1000"), timeout=60_000)
    expect(page.locator(f".st-key-train_epochs{FRESH} input")).to_have_value("1000")
    expect(page.locator(f".st-key-train_start{FRESH} button")).to_be_disabled()

    # A page switch and back: the fields are kept. Train is clicked once Explore is drawn
    # (a link clicked before Explore's first page has mounted its paint watcher is a race of
    # its own, see test_explore_clicks.py; here it brought Explore back in 2 runs of 10).
    page.locator('.st-key-app_nav a', has_text="Explore").click()
    expect(page.locator(f".st-key-explore_heatmap{FRESH} .js-plotly-plot")).to_be_visible(timeout=60_000)
    page.wait_for_function("() => !document.querySelector('.st-key-tilegrid_painted')", timeout=60_000)
    wait_idle(page)
    page.locator('.st-key-app_nav a', has_text="Train").click()
    wait_idle(page)
    expect(page.locator(f".st-key-train_epochs{FRESH} input")).to_have_value("1000")
    expect(page.locator(f".st-key-train_hidden{FRESH} input")).to_have_value("64")

    page.locator(f".st-key-train_stop{FRESH} button").click()
    expect(page.get_by_text(re.compile(r"Stopped by you after epoch \d+ of 1000"))).to_be_visible(timeout=120_000)
    expect(page.locator(f".st-key-train_start{FRESH} button")).to_be_enabled()
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
