"""State survives in a real browser: page switches, Back/Forward, reload, a copied link.

Issue 9's reproduction, exactly: on MNIST, filter class 7, 48 per page, page 5,
inspect sample #1719, choose pixel (10, 12) -> Train -> Explore: everything is
still there; browser Back from Train does the same; a reload and the copied URL
in a new tab do too. Every change is made with real clicks and keys.
"""

from __future__ import annotations

import re

import numpy as np
from playwright.sync_api import expect

from tests.browser.helpers import (
    FRESH,
    choose,
    click_plot,
    click_tile,
    goto_app,
    grid_samples,
    no_exception,
    wait_grid_starts,
    wait_idle,
    wait_range,
)

NAV = '.st-key-app_nav a'


def go(page, title: str) -> None:
    page.locator(NAV, has_text=title).first.click()
    wait_idle(page)


def assert_view(page, sevens: np.ndarray, scale: str = "0–1") -> None:
    """Every piece of the built view, read from the page."""
    total = len(sevens)
    wait_range(page, rf"^showing 193–240 of {total:,} images of class 7 · page 5 of ")
    expect(page.locator(f".st-key-explore_classes{FRESH}")).to_contain_text("7")
    expect(page.locator(f".st-key-explore_page_size{FRESH} input")).to_have_value("48")
    expect(page.locator(f".st-key-explore_sample{FRESH} input")).to_have_value("1719")
    expect(page.locator(f".st-key-explore_row{FRESH} input")).to_have_value("10")
    expect(page.locator(f".st-key-explore_col{FRESH} input")).to_have_value("12")
    expect(page.get_by_text("sample #1719: 7 (label 7)")).to_be_visible()
    expect(page.get_by_text(re.compile(r"pixel row 10, column 12 → index 10×28\+12 = 292"))).to_be_visible()
    expect(page.locator(f".st-key-value_scale{FRESH} label:has(input:checked)")).to_have_text(scale)
    expect(page.locator(f".st-key-colorscale{FRESH} input")).to_have_value("Viridis")
    wait_grid_starts(page, int(sevens[192]))
    assert grid_samples(page) == sevens[192:240].tolist()


def build_view(page, mnist_train) -> np.ndarray:
    goto_app(page, page.app_url)
    choose(page, "explore_classes", "7")
    page.keyboard.press("Escape")
    sevens = np.flatnonzero(mnist_train.labels == 7)
    wait_range(page, r"^showing 1–48 of [\d,]+ images of class 7")
    for n in range(2, 6):
        page.locator(f".st-key-explore_next{FRESH} button").click()
        wait_range(page, rf"· page {n} of ")
    wait_idle(page)
    # Sample 1719 is a 7 on page 5: click its thumbnail (8 per row).
    pos = int(np.flatnonzero(sevens[192:240] == 1719)[0])
    click_tile(page, pos)
    expect(page.locator(f".st-key-explore_sample{FRESH} input")).to_have_value("1719")
    wait_idle(page)
    # Pixel (10, 12): a click on the heatmap cell.
    click_plot(page, "explore_heatmap", 12.5 / 28, 10.5 / 28)
    expect(page.locator(f".st-key-explore_row{FRESH} input")).to_have_value("10")
    wait_idle(page)
    page.locator(f".st-key-value_scale{FRESH} label", has_text="0–1").click()
    wait_idle(page)
    choose(page, "colorscale", "Viridis")
    wait_idle(page)
    return sevens


def test_issue_9_round_trip(app_server, page, mnist_train):
    assert 1719 in np.flatnonzero(mnist_train.labels == 7)[192:240]
    page.app_url = app_server.url
    sevens = build_view(page, mnist_train)
    assert_view(page, sevens)
    link = page.url
    assert "classes=7" in link and "page=5" in link and "sample=1719" in link

    # Sidebar: Train, then Explore.
    go(page, "Train")
    expect(page.get_by_role("heading", name="Train", exact=False).first).to_be_visible()
    go(page, "Explore")
    assert_view(page, sevens)

    # Train, then the browser's Back button.
    go(page, "Train")
    expect(page.get_by_role("heading", name="Train").first).to_be_visible()
    page.go_back()
    wait_idle(page)
    assert_view(page, sevens)
    # ...and Forward (to Train), then Back again.
    page.go_forward()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Train").first).to_be_visible()
    page.go_back()
    wait_idle(page)
    assert_view(page, sevens)

    # Reload: a new session, restored from the URL.
    page.reload()
    goto_app(page, app_server.url, page.url.split("/", 3)[-1])
    assert_view(page, sevens)
    no_exception(page)

    # The copied link in a fresh tab (a new session).
    other = page.context.new_page()
    try:
        other.goto(link)
        other.locator('.st-key-app_nav').wait_for()
        wait_idle(other)
        assert_view(other, sevens)
        expect(other.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        other.close()


def test_hostile_link_opens_quietly(app_server, page):
    goto_app(page, app_server.url, "?page=-5&sample=abc&classes=99&px=1,2,3&per=7&sel=zz&ds=../x")
    wait_range(page, r"^showing 1–48 of 60,000 images · page 1 of 1,250")
    expect(page.locator(f".st-key-explore_sample{FRESH} input")).to_have_value("0")
    no_exception(page)


PAGE_TITLES = ("Dataset overview", "Map", "Train", "Runs", "Review labels", "Datasets", "Draw")


def test_sidebar_switch_is_one_back_step(app_server, page):
    """Each page of the sidebar adds one history entry, so Back returns to the view left.

    Streamlit's own page list opened a page with an empty URL and the page wrote
    its state back: a second entry, and Back from Train then stayed on Train (or
    landed on Explore with half its parameters), depending on which message the
    browser handled first (a CI failure under load). Our links carry the URL.
    """
    goto_app(page, app_server.url, "?classes=3&page=2&sample=7&scale=1&cmap=Viridis")
    wait_range(page, r"^showing 49–96 of [\d,]+ images of class 3 · page 2 of ")
    explore_url = page.url
    # One entry more than Explore's; after Back, the next switch replaces the forward entry.
    entries = page.evaluate("history.length") + 1
    for title in PAGE_TITLES:
        go(page, title)
        page.wait_for_timeout(500)  # a late URL write would land in here
        wait_idle(page)
        assert page.evaluate("history.length") == entries, title
        assert "cmap=Viridis" in page.url and "scale=1" in page.url, (title, page.url)
        page.go_back()
        wait_idle(page)
        assert page.url == explore_url, (title, page.url)
        wait_range(page, r"^showing 49–96 of [\d,]+ images of class 3 · page 2 of ")
        expect(page.locator(f".st-key-explore_sample{FRESH} input")).to_have_value("7")
    no_exception(page)
