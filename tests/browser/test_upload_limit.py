"""An upload over the configured size limit is refused in the browser with a message.

The app's limit is ``server.maxUploadSize`` in .streamlit/config.toml (200 MB, as the README
says). Streamlit reads the same setting from ``STREAMLIT_SERVER_MAX_UPLOAD_SIZE``; this test
serves the app with a 1 MB limit, so that a 2 MB file shows the refusal without moving 200 MB.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import StreamlitServer, goto_app
from tests.browser.test_e2e import FRESH, no_exception, range_text


@pytest.fixture()
def small_limit_server(shared_data, tmp_path, monkeypatch, chromium_path):
    monkeypatch.setenv("STREAMLIT_SERVER_MAX_UPLOAD_SIZE", "1")
    server = StreamlitServer(tmp_path / "runs", tmp_path / "cache", shared_data, log=tmp_path / "st.log")
    server.start()
    yield server
    server.stop()


def test_upload_over_the_limit_is_refused_with_a_message(small_limit_server, page):
    goto_app(page, small_limit_server.url)
    before = range_text(page)
    page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary').click()
    row = ",".join(["1"] + ["0"] * 784) + "\n"
    big = (row * (2_100_000 // len(row) + 1)).encode()  # a valid CSV of about 2 MB
    page.locator(f".st-key-upload_files{FRESH} input[type=file]").set_input_files(
        files=[{"name": "big.csv", "mimeType": "text/csv", "buffer": big}]
    )
    uploader = page.locator(f".st-key-upload_files{FRESH}")
    expect(uploader).to_contain_text("File must be 1.0MB or smaller", timeout=30_000)
    no_exception(page)
    # Nothing was loaded: the app keeps MNIST and the page it showed.
    expect(page.locator(f".st-key-ds_name{FRESH} input")).to_have_value("MNIST handwritten digits")
    assert range_text(page) == before
