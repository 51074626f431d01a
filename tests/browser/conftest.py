"""Real-browser fixtures: the app under ``streamlit run`` on a free port, and Debian's chromium.

The browser is ``/usr/bin/chromium`` (Debian's package, installed by ``.ci/run``),
driven by Playwright through ``executable_path``; ``playwright install`` is never
needed. Without that browser the tests fail in CI (``CI=true``) and skip elsewhere.

On a failure the page's screenshot and text are saved under ``test-artifacts/``
and the text and paths are printed, since CI shows only the output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import ARTIFACTS, CHROMIUM_ARGS, VIEWPORT, StreamlitServer, offline_noise, require_chromium

# The machine running the tests may be busy (CI, other jobs): Streamlit then draws a
# skeleton for seconds before a widget's code has loaded. Assertions wait for it.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_chromium()


@pytest.fixture(scope="session")
def pw(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser_context(pw, chromium_path, tmp_path_factory):
    """One headless chromium with a fresh profile for the whole run."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    ctx = pw.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
        viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="UTC",
    )
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def app_server(shared_data, tmp_path_factory, chromium_path):
    """The app on a free port, with its own (empty) runs and download folders."""
    base = tmp_path_factory.mktemp("app")
    server = StreamlitServer(base / "runs", base / "cache", shared_data, log=base / "streamlit.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def page(browser_context):
    """A new tab: a new Streamlit session. Closed after the test."""
    pg = browser_context.new_page()
    errors: list[str] = []
    console: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: (console.append(msg.text)
                                  if msg.type == "error" and not offline_noise(msg.text) else None))
    bad: list[str] = []
    pg.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.js_errors = errors  # type: ignore[attr-defined]
    pg.bad_responses = bad  # type: ignore[attr-defined]
    pg.console_errors = console  # type: ignore[attr-defined]
    yield pg
    pg.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    pg = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if pg is None or pg.is_closed():
        return
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-120:] + f"-{rep.when}"
    shot, text_file = ARTIFACTS / f"{stem}.png", ARTIFACTS / f"{stem}.txt"
    try:
        pg.screenshot(path=str(shot), full_page=True, timeout=15_000)
    except Exception as exc:  # the page may be gone; the text may still be there
        shot = Path(f"(no screenshot: {exc})")
    try:
        text = pg.locator("body").inner_text(timeout=5_000)
    except Exception as exc:
        text = f"(no page text: {exc})"
    text_file.write_text(f"url: {pg.url}\n\n{text}", encoding="utf-8")
    summary = (f"\n===== browser page at failure of {item.nodeid} ({rep.when}) =====\n"
               f"url: {pg.url}\nscreenshot: {shot}\npage text: {text_file}\n{text}\n"
               "===== end of page text =====")
    rep.sections.append(("browser page", summary))
    # The full text is in the failure's report section; say where the files are at once too.
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    line = f"browser artifacts of {item.nodeid}: {shot} {text_file}"
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line, flush=True)


