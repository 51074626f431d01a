"""Review page in a real Chromium: relabel, exclude and keep by real clicks, and a keyboard shortcut."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from dashboard.data import corrections as cr
from dashboard.data.catalog import DIGITS_TITLE
from dashboard.lab import labelissues as li
from tests.browser.helpers import FRESH, choose, goto_app, no_exception, wait_idle


def saved(path, check, timeout: float = 30.0):
    """The corrections file once ``check(corrections)`` holds (the click's rerun writes it)."""
    deadline = time.monotonic() + timeout
    corr = None
    while time.monotonic() < deadline:
        if path.is_file():
            corr = cr.Corrections.from_json(path.read_text())
            if check(corr):
                return corr
        time.sleep(0.2)
    raise AssertionError(f"corrections never matched; last: {corr and corr.summary()}")


@pytest.fixture(scope="module")
def searched(app_server, digits_train):
    # The search the page would start, computed here into the server's cache.
    return li.find_suspects(digits_train, li.OOFParams(), root=app_server.cache_dir / li.CACHE_SUBDIR)


def test_relabel_exclude_keep_and_shortcut(app_server, page, searched, digits_train):
    path = app_server.cache_dir / cr.SUBDIR / "digits-train.json"
    goto_app(page, app_server.url, "review")
    choose(page, "ds_name", DIGITS_TITLE)
    wait_idle(page)
    expect(page.get_by_role("heading", name="Review label issues")).to_be_visible()
    first, second, third, fourth = (int(i) for i in searched.indices[:4])
    expect(page.get_by_text(f"Sample {first} (rank 1 of")).to_be_visible()

    # Relabel to the suggestion: a real mouse click on the button.
    # (A button with a keyboard shortcut holds a second button-like element for its key hint.)
    page.locator(f".st-key-rv_accept{FRESH} button:visible", has_text="Relabel to").click()
    corr = saved(path, lambda c: first in c.relabelled())
    assert corr.relabelled()[first] == int(searched.suggested[0])
    expect(page.get_by_text(f"Sample {second} (rank 2 of")).to_be_visible()

    page.locator(f".st-key-rv_exclude{FRESH} button:visible", has_text="Exclude").click()
    saved(path, lambda c: c.excluded() == [second])
    expect(page.get_by_text(f"Sample {third} (rank 3 of")).to_be_visible()

    page.locator(f".st-key-rv_keep{FRESH} button:visible", has_text="Keep label").click()
    saved(path, lambda c: c.kept() == [third])
    expect(page.get_by_text(f"Sample {fourth} (rank 4 of")).to_be_visible()

    # Keyboard: X excludes the focused sample, U undoes it.
    # Focus the page, not a widget (a click on the heading), as a user would before typing.
    page.get_by_role("heading", name="Review label issues").click()
    page.keyboard.press("x")
    saved(path, lambda c: c.excluded() == [second, fourth])
    wait_idle(page)
    page.keyboard.press("u")
    corr = saved(path, lambda c: c.excluded() == [second])
    assert corr.version == 5
    no_exception(page)
    # The original data is untouched; the corrected set carries the decisions.
    fixed = cr.apply_corrections(digits_train, corr)
    assert len(fixed) == len(digits_train) - 1
