"""The Draw page in Chromium with real mouse strokes, and a real MNIST model trained here."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from dashboard.lab.training import TrainParams
from tests.browser.drawhelp import ONE, ZERO, matrix_values, stroke, wait_strokes
from tests.browser.helpers import TILES, StreamlitServer, goto_app, wait_idle
from tests.mkrun import train_and_save

# The brief's model: an MLP (64,) on 10,000 real MNIST samples.
PARAMS = TrainParams(hidden=(64,), epochs=8, train_size=10_000, batch_size=100, seed=0)


@pytest.fixture(scope="module")
def draw_server(shared_data, tmp_path_factory, chromium_path, mnist_train, mnist_test):
    """The app, with one real MNIST run saved through RunStore in its runs folder."""
    base = tmp_path_factory.mktemp("draw")
    run = train_and_save(base / "runs", mnist_train, mnist_test, PARAMS)
    assert run.test_accuracy > 0.93
    server = StreamlitServer(base / "runs", base / "cache", shared_data, log=base / "streamlit.log")
    server.start()
    server.run = run
    yield server
    server.stop()


def _ink(matrix) -> np.ndarray:
    return np.asarray(matrix, dtype=float)


def _matrix_until(page, check, message: str, timeout: float = 30.0) -> np.ndarray:
    """The matrix chart's values once ``check`` holds for them (it redraws after the status line)."""
    deadline = time.monotonic() + timeout
    while True:
        m = _ink(matrix_values(page))
        if check(m):
            return m
        assert time.monotonic() < deadline, message
        page.wait_for_timeout(100)


def test_draw_a_one_and_a_zero(draw_server, page):
    goto_app(page, draw_server.url, "draw")
    # The newest fitting run is chosen.
    page.wait_for_function("(id) => (document.querySelector('.st-key-draw_run') || {innerHTML: ''})"
                           ".innerHTML.includes(id)", arg=draw_server.run.run_id)

    stroke(page, ONE)
    status = wait_strokes(page, 1)
    assert "prediction: 1 (" in status, status
    one = _ink(matrix_values(page))
    assert one.shape == (28, 28)
    rows, cols = np.flatnonzero(one.sum(axis=1)), np.flatnonzero(one.sum(axis=0))
    # A vertical stroke: ink over the 20-pixel box's height, a few columns wide, in the middle.
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 <= 7
    assert one[:, :8].sum() == 0 and one[:, 20:].sum() == 0 and one.max() == 255

    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_text("Nothing drawn yet")).to_be_visible()
    stroke(page, ZERO)
    status = wait_strokes(page, 1)
    assert "prediction: 0 (" in status, status
    zero = _ink(matrix_values(page))
    # A ring: ink left, right, top and bottom of the centre, the centre itself empty.
    assert zero[12:16, 12:16].sum() == 0
    assert zero[14, :12].max() > 100 and zero[14, 16:].max() > 100
    assert zero[:12, 14].max() > 100 and zero[16:, 14].max() > 100
    # The probabilities chart shows the same prediction.
    expect(page.locator(".st-key-draw_probs .js-plotly-plot")).to_be_visible()

    # A second stroke, then the pad's own undo: back to the zero alone.
    stroke(page, [(60, 60), (220, 220)])
    wait_strokes(page, 2)
    page.get_by_role("button", name="Undo").click()
    status = wait_strokes(page, 1)
    assert "prediction: 0 (" in status
    # The status line can show before the matrix chart has redrawn: wait for the chart itself.
    _matrix_until(page, lambda m: np.array_equal(m, zero), "the undo did not bring back the zero")
    # Redo brings the stroke back; undo once more for the zero alone.
    page.get_by_role("button", name="Redo").click()
    wait_strokes(page, 2)
    _matrix_until(page, lambda m: m.sum() > zero.sum(), "the redo did not bring back the stroke")
    page.get_by_role("button", name="Undo").click()
    wait_strokes(page, 1)
    _matrix_until(page, lambda m: np.array_equal(m, zero), "the second undo did not bring back the zero")

    # The drawing survives a page switch: the pad redraws it and the page shows it again.
    page.locator(".st-key-app_nav a", has_text="Explore").click()
    expect(page.get_by_text(re.compile(r"^showing 1–"))).to_be_visible(timeout=60_000)
    page.locator(".st-key-app_nav a", has_text="Draw").click()
    status = wait_strokes(page, 1)
    assert "prediction: 0 (" in status
    np.testing.assert_array_equal(_ink(matrix_values(page)), zero)
    dark = page.locator(".st-key-draw_pad canvas").evaluate(
        "(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }")
    assert dark > 1000, dark  # the zero is on the canvas again, not only on the page

    # Nearest training images: mostly zeros.
    page.wait_for_function(
        "() => { const gd = document.querySelector('.st-key-draw_nearest .js-plotly-plot');"
        " return gd && gd._fullData && gd._fullData.length > 1; }")
    hover = page.evaluate(
        "() => Array.from(document.querySelector('.st-key-draw_nearest .js-plotly-plot')._fullData[1].hovertext)")
    assert sum(": 0, distance" in h for h in hover) >= len(hover) // 2, hover
    assert not page.js_errors, page.js_errors
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_scratch_set_keeps_drawings_and_opens_as_a_dataset(draw_server, page):
    goto_app(page, draw_server.url, "draw")
    for n, strokes in enumerate((ONE, ZERO), start=1):
        stroke(page, strokes)
        wait_strokes(page, 1)
        page.get_by_role("button", name="Add to the scratch set").click()
        expect(page.get_by_text(re.compile(rf"the scratch set holds {n} drawings?"))).to_be_visible()
        expect(page.get_by_text("Nothing drawn yet")).to_be_visible()  # cleared for the next one
    page.get_by_role("button", name="Open it as a dataset").click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"my drawings 28x28 \(all\): 2 images of 28x28"))).to_be_visible()
    # Kept under the data cache as NPZ, labels as predicted; MNIST itself untouched.
    files = list((draw_server.cache_dir / "scratch").glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as npz:
        assert list(npz["labels"]) == [1, 0] and npz["images"].shape == (2, 28, 28)
    assert not page.js_errors, page.js_errors


# --- Explore through the same run ------------------------------------------------------

FRESH = ":not([data-stale=true])"


def _badges(page) -> tuple[list[int], list[str]]:
    """Grid samples in order, and the badge each tile shows."""
    page.wait_for_function(f"() => document.querySelectorAll('{TILES} .tg-badge').length > 0", timeout=90_000)
    tiles = page.locator(TILES).evaluate_all(
        "(ts) => ts.map(t => [Number(t.dataset.sample), (t.querySelector('.tg-badge') || {}).textContent])")
    return [s for s, _ in tiles], [b for _, b in tiles]


def test_explore_badges_and_misclassified_filter(draw_server, page, mnist_test):
    """The run from a link (?run=), on the test split: badges = saved predictions; the
    misclassified filter, chosen with real clicks, counts the confusion matrix' off-diagonal."""
    from dashboard.lab.runs import RunStore

    run = draw_server.run
    saved_pred, saved_proba = RunStore(draw_server.runs_dir).load_test_outputs(run.run_id)
    goto_app(page, draw_server.url, f"?run={run.run_id}")
    page.locator('[data-testid="stSidebar"] label').filter(has_text=re.compile(r"^test$")).click()
    expect(page.get_by_text(re.compile(r"^showing 1–48 of 10,000 images"))).to_be_visible(timeout=60_000)
    samples, badges = _badges(page)
    assert samples == list(range(48))
    for i, badge in zip(samples, badges):
        wrong = saved_pred[i] != mnist_test.labels[i]
        assert badge == f"{'✗ ' if wrong else ''}{saved_pred[i]} {saved_proba[i].max():.0%}", (i, badge)
    assert f"run={run.run_id}" in page.url  # the run is in the URL

    confusion = np.asarray(run.info["metrics"]["test_confusion"])
    off_diagonal = int(confusion.sum() - np.trace(confusion))
    page.locator(f".st-key-explore_mis{FRESH} [role=combobox]").click()
    page.get_by_role("option", name=f"misclassified ({off_diagonal:,})", exact=True).click()
    expect(page.get_by_text(re.compile(rf"^showing 1–48 of {off_diagonal:,} images"))).to_be_visible(timeout=30_000)
    wait_idle(page)
    _, badges = _badges(page)
    assert all(b.startswith("✗ ") for b in badges)
    # The inspector shows the run's probabilities and first layer.
    expect(page.locator(".st-key-explore_probs .js-plotly-plot")).to_be_visible()
    expect(page.locator(".st-key-explore_units .js-plotly-plot")).to_be_visible()
    assert not page.js_errors, page.js_errors
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
