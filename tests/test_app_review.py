"""The Review page under AppTest: real search results on digits, real corrections file."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.data import corrections as cr
from dashboard.lab import labelissues as li
from tests.conftest import real_app


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture()
def searched(cache, digits_train):
    """digits train searched with the page's parameters (the real computation, cached on disk)."""
    from dashboard.views import review

    review._suspects.clear()
    s = li.find_suspects(digits_train, li.OOFParams())
    assert len(s) > 5
    return s


def open_review(name: str = "digits"):
    at = real_app("review").run()
    at.selectbox(key="ds_name").select(name).run()
    assert not at.exception, at.exception
    return at


def focused(at) -> int:
    return int(at.session_state["rv_focus"])


def test_page_lists_suspects_worst_first(searched, digits_train):
    at = open_review()
    assert at.title[0].value == "Review label issues"
    assert any("Reviewing the **train** split" in c.value for c in at.caption)
    # The focus starts on the worst suspect; the grid holds the first page of them.
    assert focused(at) == int(searched.indices[0])
    shown = [int(b.key.removeprefix("rv_open_")) for b in at.button if b.key and b.key.startswith("rv_open_")]
    assert shown == [int(i) for i in searched.indices[:len(shown)]] and len(shown) == min(24, len(searched))
    assert any(f"{len(searched):,} suspects among {len(digits_train):,}" in c.value for c in at.caption)


def test_relabel_exclude_keep_undo(searched, digits_train, cache):
    at = open_review()
    first = focused(at)
    pos = int(np.flatnonzero(searched.indices == first)[0])
    sugg = int(searched.suggested[pos])
    at.button(key="rv_accept").click().run()
    assert not at.exception, at.exception
    corr = cr.load_corrections(digits_train)
    assert corr.relabelled() == {first: sugg}
    # The reviewed one leaves the list; the focus moves to the next suspect.
    second = focused(at)
    assert second != first and second == int(searched.indices[1])
    at.button(key="rv_exclude").click().run()
    assert cr.load_corrections(digits_train).excluded() == [second]
    third = focused(at)
    at.button(key="rv_keep").click().run()
    corr = cr.load_corrections(digits_train)
    assert corr.kept() == [third] and corr.version == 3
    at.button(key="rv_undo").click().run()
    corr = cr.load_corrections(digits_train)
    assert corr.kept() == [] and corr.excluded() == [second] and corr.version == 4
    assert any("undid the last action" in s.value for s in at.success)


def test_filters_and_bulk(searched, digits_train):
    at = open_review()
    cls = int(searched.given[0])
    at.multiselect(key="rv_given").select(cls).run()
    shown = [int(b.key.removeprefix("rv_open_")) for b in at.button if b.key and b.key.startswith("rv_open_")]
    assert shown and all(int(digits_train.labels[i]) == cls for i in shown)
    assert at.query_params["rv_given"] in (str(cls), [str(cls)])
    at.button(key="rv_sel_page").click().run()
    at.button(key="rv_bulk_exclude").click().run()
    assert not at.exception, at.exception
    assert cr.load_corrections(digits_train).excluded() == sorted(shown)
    # One bulk action is one undo step.
    at.button(key="rv_undo").click().run()
    assert cr.load_corrections(digits_train).excluded() == []


def test_without_a_search_offers_one(cache):
    at = open_review()
    assert at.button(key="rv_start")
    assert any("No search for label issues" in i.value for i in at.info)


def test_tampered_corrections_file_is_a_message(searched, digits_train):
    path = cr.corrections_path(digits_train)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"format": 1, "digest": "x"}')
    at = open_review()
    assert not at.exception
    assert any("changed outside the app" in e.value for e in at.error)
