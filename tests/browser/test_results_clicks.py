"""Real mouse clicks in Chromium on saved runs reopened from the Runs page.

Two tiny MLPs are trained on real MNIST subsets and saved with RunStore before the
server starts. Every interaction is a real click (Playwright mouse) on the page the
server draws: a Runs table row, a cell of the test confusion matrix, a cell of the
confusion difference, Predict on a sample and on an uploaded PNG. No event payload
is built by hand.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from dashboard.lab.results import cell_change
from dashboard.lab.runs import RunStore
from dashboard.lab.training import TrainParams
from tests.browser.helpers import (
    FRESH,
    StreamlitServer,
    choose,
    click_plot,
    goto_app,
    no_exception,
    plot_data,
    set_number,
    wait_idle,
)
from tests.test_app_runs import save_run

OLD, NEW = "20260101-000001-mnist-old", "20260101-000002-mnist-new"
ROW_HEIGHT = 35  # st.dataframe's default row and header height, in CSS pixels


@pytest.fixture(scope="module")
def runs_server(shared_data, tmp_path_factory, chromium_path, mnist_train, mnist_test):
    base = tmp_path_factory.mktemp("results-app")
    store = RunStore(base / "runs")
    save_run(store, mnist_train, mnist_test,
             TrainParams(hidden=(16,), epochs=1, train_size=1500, batch_size=100, seed=1), OLD)
    save_run(store, mnist_train, mnist_test,
             TrainParams(hidden=(64,), epochs=2, train_size=4000, batch_size=100, seed=2), NEW)
    server = StreamlitServer(base / "runs", base / "cache", shared_data, log=base / "streamlit.log")
    server.start()
    yield server, store
    server.stop()


def tick_row(page, row: int) -> None:
    """Click the selection box at the left of table row ``row`` (0 = first data row)."""
    grid = page.locator(f".st-key-runs_table{FRESH} [data-testid='stDataFrameResizable']").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    x, y = box["x"] + 14, box["y"] + ROW_HEIGHT * (row + 1) + ROW_HEIGHT / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_idle(page)


def cell_point(k: int, t: int, p: int) -> tuple[float, float]:
    """Fractions of a k-class matrix's plot area at the centre of cell (true t, predicted p)."""
    return (p + 0.5) / k, (t + 0.5) / k


def test_saved_run_confusion_cell_predict_and_difference(runs_server, page, mnist_test):
    server, store = runs_server
    new, old = store.get(NEW), store.get(OLD)
    goto_app(page, server.url, "runs")
    expect(page.locator('[data-testid="stDataFrame"]').first).to_contain_text(re.compile(r"mnist · 64 · "))

    # A tick on the first row (the newest run) opens it in full.
    tick_row(page, 0)
    expect(page.get_by_text(re.compile(r"^Kept epoch \d of 2"))).to_be_visible(timeout=60_000)
    conf = plot_data(page, "runs_run_test_conf")
    assert np.asarray(conf[0]["z"]).tolist() == new.info["metrics"]["test_confusion"]

    # A real click on an off-diagonal cell with images (the run's most frequent mistake).
    m = np.asarray(new.info["metrics"]["test_confusion"])
    off = m - np.diag(np.diag(m))
    t, p = np.unravel_index(np.argmax(off), off.shape)
    click_plot(page, "runs_run_test_conf", *cell_point(10, t, p))
    expect(page.get_by_text(re.compile(rf"^True {t}, predicted {p}: {m[t, p]} images"))).to_be_visible(timeout=60_000)
    wait_idle(page)
    preds, proba = store.load_test_outputs(NEW)
    first = int(np.flatnonzero((mnist_test.labels == t) & (preds == p))[0])
    top = np.argsort(-proba[first])[:2]
    caption = f"#{first} {top[0]} {proba[first, top[0]]:.2f}, {top[1]} {proba[first, top[1]]:.2f}"
    expect(page.get_by_text(caption, exact=True)).to_be_visible()
    no_exception(page)

    # Predict on a test sample: the saved probabilities of that image.
    box = page.locator(f".st-key-runs_run_sample{FRESH} input")
    box.scroll_into_view_if_needed()
    box.click()
    box.fill("7")
    box.press("Enter")
    wait_idle(page)
    page.wait_for_function(
        "() => {"
        " const gd = document.querySelector('.st-key-runs_run_sample_proba:not([data-stale=true]) .js-plotly-plot');"
        " return gd && gd._fullData && Math.abs(gd._fullData[0].x[0] - %f) < 1e-4; }" % float(proba[7, 0]))
    np.testing.assert_allclose(plot_data(page, "runs_run_sample_proba")[0]["x"], proba[7], atol=1e-5)

    # Predict on an uploaded PNG (a test 7 saved as an image file).
    page.get_by_role("tab", name="Your image").click()
    png = io.BytesIO()
    seven = int(np.flatnonzero(mnist_test.labels == 7)[0])
    Image.fromarray(np.asarray(mnist_test.images[seven])).save(png, format="PNG")
    page.locator(f".st-key-runs_run_upload{FRESH} input[type=file]").set_input_files(
        files=[{"name": "seven.png", "mimeType": "image/png", "buffer": png.getvalue()}])
    expect(page.get_by_text("as the model sees it")).to_be_visible(timeout=60_000)
    upload = plot_data(page, "runs_run_upload_proba")[0]["x"]
    assert len(upload) == 10 and abs(sum(upload) - 1) < 1e-4
    no_exception(page)

    # A tick on the second row too: the comparison, with the difference of confusion matrices.
    tick_row(page, 1)
    expect(page.get_by_text(re.compile(r"Parameters that differ"))).to_be_visible(timeout=60_000)
    old_preds, _ = store.load_test_outputs(OLD)
    diff = m - np.asarray(old.info["metrics"]["test_confusion"])
    dt, dp = np.unravel_index(np.argmax(np.abs(diff)), diff.shape)
    page.locator(f".st-key-runs_diff{FRESH} .js-plotly-plot").wait_for()
    click_plot(page, "runs_diff", *cell_point(10, dt, dp))
    change = cell_change(mnist_test.labels, old_preds, preds, int(dt), int(dp))
    heading = re.compile("^" + re.escape(f"Cell true {dt}, predicted {dp}: {diff[dt, dp]:+d} "))
    expect(page.get_by_text(heading)).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(rf"^Fixed by the new run \({len(change.fixed)}"))).to_be_visible()
    expect(page.get_by_text(re.compile(rf"^Broken by the new run \({len(change.broken)}"))).to_be_visible()
    no_exception(page)
    # The chosen runs are in the URL: a reload shows the same comparison.
    assert set(re.search(r"runs=([^&]+)", page.url).group(1).replace("%2C", ",").split(",")) == {OLD, NEW}
    page.reload()
    expect(page.get_by_text(re.compile(r"Parameters that differ"))).to_be_visible(timeout=60_000)
    no_exception(page)

    # The old run is deleted elsewhere (the CLI, another tab); the next rerun here says so and
    # keeps showing the run that is left, not whatever moved into the old row.
    store.delete(OLD)
    page.locator(f".st-key-runs_run_normalise{FRESH} label").first.click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(rf"Run {OLD} is no longer there"))).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"Parameters that differ"))).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^Kept epoch \d of 2"))).to_be_visible()
    assert re.search(r"runs=([^&]+)", page.url).group(1) == NEW
    no_exception(page)


def test_train_page_result_confusion_cell(runs_server, page, mnist_test):
    """The Train page shows the finished run through the same view: its confusion cells click too."""
    server, store = runs_server
    goto_app(page, server.url, "train")
    choose(page, "train_preset", "quick")
    expect(page.locator(f".st-key-train_hidden{FRESH} input")).to_have_value("64")
    wait_idle(page)
    set_number(page, "train_epochs", 2)
    set_number(page, "train_train_size", 3000)
    wait_idle(page)
    page.locator(f".st-key-train_start{FRESH} button").click()
    saved = page.get_by_text(re.compile(r"^Saved as run \S+ \("))
    expect(saved).to_be_visible(timeout=180_000)
    run_id = re.search(r"Saved as run (\S+) \(", saved.inner_text()).group(1)
    run = store.get(run_id)
    m = np.asarray(run.info["metrics"]["test_confusion"])
    click_plot(page, "train_result_test_conf", *cell_point(10, 4, 4))
    expect(page.get_by_text(re.compile(rf"^True 4, predicted 4: {m[4, 4]} images"))).to_be_visible(timeout=60_000)
    expect(page.locator('[data-testid="stImage"]').first).to_be_visible()
    no_exception(page)
