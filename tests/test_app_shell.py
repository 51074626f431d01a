"""The real app under AppTest: dataset choice, first-run download, offline fallback, uploads."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data.catalog import CATALOG
from tests.conftest import ROOT

APP = str(ROOT / "dashboard" / "app.py")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120)


def page_text(at: AppTest) -> str:
    """The sidebar's line about the loaded dataset (markdown, escaped: read as rendered)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(c.value) for c in at.sidebar.caption))


@pytest.fixture()
def empty_machine(monkeypatch, tmp_path):
    """Nothing cached, no reference data: as a user's first run."""
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    from dashboard import shell

    shell.load_shared.clear()
    yield tmp_path / "cache"
    shell.load_shared.clear()


def test_opens_on_mnist(shared_data):
    at = app().run()
    assert not at.exception
    assert at.selectbox(key="ds_name").value == "mnist"
    assert "mnist (train): 60,000 images of 28x28" in page_text(at)
    at.radio(key="ds_split").set_value("test").run()
    assert "mnist (test): 10,000 images" in page_text(at)


def test_offline_first_run_says_so_and_uses_digits(empty_machine, monkeypatch):
    # Loopback port 9: the connection is refused, as with no network.
    monkeypatch.setitem(CATALOG, "mnist", replace(CATALOG["mnist"], mirrors=("http://127.0.0.1:9/",)))
    at = app().run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "could not be downloaded" in warning and "python -m dashboard fetch mnist" in warning
    assert at.selectbox(key="ds_name").value == "digits"
    assert "digits (train): 1,437 images of 8x8" in page_text(at)
    assert not (empty_machine / "mnist").exists()


def test_first_run_downloads_with_progress(empty_machine, monkeypatch, server):
    monkeypatch.setitem(CATALOG, "mnist", replace(CATALOG["mnist"], mirrors=(f"{server}/good/",)))
    at = app().run()
    assert not at.exception and not at.warning
    assert sorted(p.name for p in (empty_machine / "mnist").iterdir()) == sorted(CATALOG["mnist"].file_names)
    assert "mnist (train): 60,000 images" in page_text(at)


def test_bad_upload_shows_message_and_keeps_dataset(shared_data):
    at = app().run()
    at.selectbox(key="ds_name").select("fashion-mnist").run()
    at.file_uploader(key="upload_files").set_value(("bad.csv", b"1,2,3\n4,5,6\n", "text/csv")).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "That file was not loaded" in errors and "not a square" in errors
    assert at.selectbox(key="ds_name").value == "fashion-mnist"
    assert "fashion-mnist (train)" in page_text(at)


def test_good_upload_becomes_the_dataset(digits_train):
    rows = [",".join(map(str, [lab, *img.ravel()])) for lab, img in
            zip(digits_train.labels[:40], digits_train.images[:40])]
    at = app().run()
    at.file_uploader(key="upload_files").set_value(
        ("my digits.csv", ("\n".join(rows) + "\n").encode(), "text/csv")).run()
    assert not at.exception
    assert at.selectbox(key="ds_name").value == "upload: my digits.csv"
    assert at.radio(key="ds_split").options == ["all"]
    assert "my digits (all): 40 images of 8x8" in page_text(at)
    # The upload is this session's: its arrays are what was sent.
    ds = at.session_state["uploads"]["upload: my digits.csv"]["all"]
    assert np.array_equal(ds.images, digits_train.images[:40])


def _replace_page(monkeypatch, path: str, view) -> None:
    """The app's page at url ``path`` drawn by ``view`` (the app module is imported once)."""
    from dashboard import app as app_module

    pages = tuple((view if p == path else v, t, p, i) for v, t, p, i in app_module.PAGES)
    monkeypatch.setattr(app_module, "PAGES", pages)


def test_a_failing_page_is_a_message_not_a_traceback(shared_data, monkeypatch):
    """An unexpected error: a short message, the traceback folded away, the sidebar intact."""
    from tests.conftest import real_app

    def broken() -> None:
        import streamlit as st

        st.write("before the failure")
        raise KeyError(0)

    _replace_page(monkeypatch, "overview", broken)
    at = real_app("overview").run()
    assert not at.exception
    (error,) = at.error
    assert "unexpected problem (KeyError: 0)" in re.sub(r"\\(.)", r"\1", error.value)
    (details,) = [e for e in at.expander if "Details" in e.label]
    assert "Traceback" in details.code[0].value and "KeyError" in details.code[0].value
    assert "mnist (train): 60,000 images" in page_text(at)  # the sidebar still drew


def test_a_dashboard_error_is_its_message(shared_data, monkeypatch):
    from dashboard.errors import DataError
    from tests.conftest import real_app

    def refuses() -> None:
        raise DataError("that file has no label column")

    _replace_page(monkeypatch, "overview", refuses)
    at = real_app("overview").run()
    assert not at.exception
    assert [re.sub(r"\\(.)", r"\1", e.value) for e in at.error] == ["that file has no label column"]
    assert not [e for e in at.expander if "Details" in e.label]  # the user's message needs no trace


def _light_overview(monkeypatch, view) -> None:
    """The overview page drawn by ``view`` as a page with a light first page."""
    from dashboard import app as app_module

    _replace_page(monkeypatch, "overview", view)
    monkeypatch.setattr(app_module, "LIGHT_FIRST", {"Dataset overview": lambda: True})


def test_a_light_first_page_leaves_the_sidebars_widgets_to_its_follow_up_run(shared_data, monkeypatch):
    """A page whose light first page mounts the paint watcher: its follow-up run draws the widgets."""
    from dashboard.views import tilegrid
    from tests.conftest import real_app

    def light() -> None:
        tilegrid.when_painted(selector=".nothing", on_painted=lambda: None)

    _light_overview(monkeypatch, light)
    at = real_app("overview").run()
    assert not at.exception
    assert [h.value for h in at.sidebar.header] == ["Data"]
    assert not at.sidebar.selectbox and not at.sidebar.radio
    assert "mnist (train): 60,000 images" in page_text(at)  # what the page shows is said


def test_a_light_first_page_that_fails_still_gets_the_sidebars_widgets(shared_data, monkeypatch):
    """No watcher mounted (the page failed first): no follow-up run would come, so the same
    run draws the widgets, in their place under the heading."""
    from tests.conftest import real_app

    def broken() -> None:
        raise KeyError(0)

    _light_overview(monkeypatch, broken)
    at = real_app("overview").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="ds_name").value == "mnist"
    assert at.sidebar.radio(key="ds_split").value == "train"
    assert "unexpected problem (KeyError: 0)" in re.sub(r"\\(.)", r"\1", at.error[0].value)
