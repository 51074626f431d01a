"""End-to-end flows in a real browser against ``streamlit run``, on real MNIST and Fashion-MNIST.

Each test opens a new tab (a new Streamlit session) on one server. The README's
screenshots are taken here, from the real app: into docs/screenshots/ when
UPDATE_SCREENSHOTS=1, otherwise into the ignored test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re

import numpy as np
from playwright.sync_api import expect

from tests.browser.helpers import (  # noqa: F401 - page helpers shared with the other browser tests
    FRESH,
    RANGE,
    TILES,
    choose,
    click_plot,
    click_tile,
    goto_app,
    grid_samples,
    no_exception,
    plot_data,
    plot_title,
    range_text,
    set_number,
    shoot,
    wait_grid_starts,
    wait_idle,
    wait_range,
)

LIVE_JS = """() => {
    const q = (k) => document.querySelector('.st-key-' + k + ':not([data-stale=true]) .js-plotly-plot');
    const curves = q('train_curves'), conf = q('train_val_conf');
    if (!curves || !conf || !curves._fullData || !conf._fullData || !conf._fullLayout) return null;
    const plain = (v) => ArrayBuffer.isView(v) ? Array.from(v) : (Array.isArray(v) ? v.map(plain) : v);
    return {title: String(conf._fullLayout.title.text || ''),
            curves: curves._fullData.map(t => ({x: plain(t.x), y: plain(t.y)})),
            conf: plain(conf._fullData[0].z)};
}"""


# --- the flows ---------------------------------------------------------------------


def test_filter_and_page(app_server, page, mnist_train):
    goto_app(page, app_server.url)
    assert range_text(page) == "showing 1–48 of 60,000 images · page 1 of 1,250"
    wait_grid_starts(page, 0)
    assert grid_samples(page) == list(range(48))

    choose(page, "explore_classes", "3")
    page.keyboard.press("Escape")
    threes = np.flatnonzero(mnist_train.labels == 3)
    wait_range(page, rf"^showing 1–48 of {len(threes):,} images of class 3 · page 1 of ")
    wait_grid_starts(page, int(threes[0]))
    assert grid_samples(page) == threes[:48].tolist()

    page.locator(f".st-key-explore_next{FRESH} button").click()
    wait_range(page, rf"^showing 49–96 of {len(threes):,} images of class 3 · page 2 of ")
    wait_grid_starts(page, int(threes[48]))
    assert grid_samples(page) == threes[48:96].tolist()

    page.locator(f".st-key-explore_prev{FRESH} button").click()
    wait_range(page, rf"^showing 1–48 of {len(threes):,} images of class 3 · page 1 of ")
    wait_grid_starts(page, int(threes[0]))
    assert grid_samples(page) == threes[:48].tolist()
    expect(page.locator(f".st-key-explore_prev{FRESH} button")).to_be_disabled()
    no_exception(page)
    shoot(page, "explore", top=page.locator('[data-testid="stMain"] h1').first)


def test_inspect_sample(app_server, page, mnist_train):
    goto_app(page, app_server.url)
    range_text(page)
    # A click on the 6th thumbnail (sample 5).
    click_tile(page, 5)
    label5 = int(mnist_train.labels[5])
    expect(page.get_by_text(f"sample #5: {label5} (label {label5})")).to_be_visible()
    expect(page.locator(f".st-key-explore_sample{FRESH} input")).to_have_value("5")

    # A click on a heatmap cell follows that pixel.
    r, c = 10, 12
    h, w = mnist_train.shape
    click_plot(page, "explore_heatmap", (c + 0.5) / w, (r + 0.5) / h)
    expect(page.locator(f".st-key-explore_row{FRESH} input")).to_have_value(str(r))
    expect(page.locator(f".st-key-explore_col{FRESH} input")).to_have_value(str(c))
    k = r * w + c
    value = int(mnist_train.images[5][r, c])
    assert value > 0  # a stroke pixel, so agreement is not just zeros
    expect(page.get_by_text(f"pixel row {r}, column {c} → index {r}×{w}+{c} = {k}, value {value}")).to_be_visible()
    wait_idle(page)

    image = mnist_train.images[5].astype(int)
    table = page.locator('[data-testid="stDataFrame"]')  # (st.dataframe gets no st-key-* class)
    charts = ("explore_heatmap", "explore_matrix", "explore_vector")
    for loc in [*(page.locator(f".st-key-{key}{FRESH}") for key in charts), table]:
        loc.scroll_into_view_if_needed()
        expect(loc).to_be_visible()
    heat = plot_data(page, "explore_heatmap")
    assert np.array_equal(np.asarray(heat[0]["z"]), image)
    matrix = plot_data(page, "explore_matrix")
    assert matrix[0]["text"][r][c] == str(value)
    assert np.array_equal(np.asarray(matrix[0]["z"]), image)
    vector = plot_data(page, "explore_vector")
    assert np.array_equal(np.asarray(vector[0]["y"]), image.reshape(-1))
    marked = next(t for t in vector if t["name"] == "marked pixel")
    assert marked["x"] == [k] and marked["y"] == [value]
    # The page table (glide grid; its accessible cells carry the text): sample 5 is row 5,
    # marked, and the chosen pixel's column sits right after the label.
    cell = lambda col, row: page.get_by_test_id(f"glide-cell-{col}-{row}").inner_text()  # noqa: E731
    assert cell(0, 5) == "5" and cell(1, 5) == "▶" and cell(2, 5) == str(label5)
    assert cell(3, 5) == str(value)
    expect(table).to_contain_text(f"pixel{k}")
    no_exception(page)
    shoot(page, "inspect", top=page.get_by_role("heading", name="Inspect one sample"))


def test_fashion_mnist_class_names(app_server, page):
    goto_app(page, app_server.url)
    range_text(page)
    choose(page, "ds_name", "Fashion-MNIST (Zalando)")
    expect(page.get_by_text("fashion-mnist (train): 60,000 images of 28x28, 10 classes").first).to_be_visible()
    wait_range(page, r"^showing 1–48 of 60,000 images · page 1 of 1,250")
    expect(page.get_by_text("sample #0: Ankle boot (label 9)")).to_be_visible()
    page.wait_for_function("(sel) => { const t = document.querySelectorAll(sel)[1];"
                           " return t && t.title.includes('T-shirt'); }", arg=TILES)
    hover = page.locator(TILES).evaluate_all("(ts) => ts.map(t => t.title)")
    assert hover[0] == "sample 0: Ankle boot (label 9)" and hover[1] == "sample 1: T-shirt/top (label 0)"
    choose(page, "explore_classes", "Sandal")
    page.keyboard.press("Escape")
    wait_range(page, r"^showing 1–48 of 6,000 Sandal · page 1 of 125")
    no_exception(page)


def test_bad_csv_upload(app_server, page):
    goto_app(page, app_server.url)
    before = range_text(page)
    page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary').click()
    bad = b"label,p0,p1,p2,p3\n1,0,0,0\n2,0,0,0,0\n"  # row 1 is short
    page.locator(f".st-key-upload_files{FRESH} input[type=file]").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad}]
    )
    alert = page.locator('[data-testid="stAlert"]', has_text="That file was not loaded")
    expect(alert).to_be_visible(timeout=30_000)
    no_exception(page)
    # The app keeps MNIST and still works.
    expect(page.locator(f".st-key-ds_name{FRESH} input")).to_have_value("MNIST handwritten digits")
    assert range_text(page) == before
    page.locator(f".st-key-explore_next{FRESH} button").click()
    wait_range(page, r"^showing 49–96 of 60,000 images")
    no_exception(page)


def test_train_stop_then_runs_page(app_server, page):
    goto_app(page, app_server.url, "train")
    choose(page, "train_preset", "quick")
    expect(page.locator(f".st-key-train_hidden{FRESH} input")).to_have_value("64")
    wait_idle(page)
    # The fields are in a form: Enter commits a field without submitting; the Train button submits.
    # Far more epochs than the test needs (~0.1 s each): Stop must reach a running job. With
    # 200, a slow CI run took its screenshot after the job had finished (stopped nothing).
    set_number(page, "train_epochs", 1000)
    set_number(page, "train_train_size", 3000)
    wait_idle(page)
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)  # nothing started yet
    page.locator(f".st-key-train_start{FRESH} button").click()

    # Watch the live fragment: at least two epochs update the curves and the confusion matrix.
    seen: dict[int, tuple] = {}
    while len(seen) < 2:
        page.wait_for_function(
            """(n) => {
                const gd = document.querySelector('.st-key-train_val_conf:not([data-stale=true]) .js-plotly-plot');
                const m = gd && gd._fullLayout && String(gd._fullLayout.title.text).match(/epoch (\\d+)/);
                return m && Number(m[1]) > n; }""",
            arg=max(seen, default=0), timeout=120_000,
        )
        live = page.evaluate(LIVE_JS)  # both charts read in one go: they re-draw every second
        if not live or not live["title"]:
            continue
        epoch = int(re.search(r"epoch (\d+)", live["title"]).group(1))
        xs = live["curves"][0]["x"]
        if len(xs) != epoch:  # the two charts are drawn one after the other: read again
            continue
        assert xs == list(range(1, epoch + 1))
        assert all(len(t["y"]) == epoch for t in live["curves"])
        seen[epoch] = (tuple(live["curves"][2]["y"]), live["conf"])
    (e1, (v1, c1)), (e2, (v2, c2)) = sorted(seen.items())
    assert e2 > e1 >= 1 and v2[: len(v1)] == v1  # the curve grew; its past is unchanged
    assert np.asarray(c1).sum() == np.asarray(c2).sum() > 0  # same validation set, new counts
    expect(page.locator('[data-testid="stProgress"]')).to_contain_text(re.compile(r"running: epoch \d+ of 1000"))
    shoot(page, "train", top=page.locator('[data-testid="stProgress"]'))

    page.locator(f".st-key-train_stop{FRESH} button").click()
    expect(page.get_by_text(re.compile(r"Stopped by you after epoch \d+ of 1000"))).to_be_visible(timeout=120_000)
    expect(page.get_by_text(re.compile(r"^Kept epoch \d+ of \d+, best validation accuracy 0\.\d{4}"))).to_be_visible()
    saved = page.get_by_text(re.compile(r"Saved as run \S+"))
    expect(saved).to_be_visible()
    run_id = re.search(r"Saved as run (\S+) \(", saved.inner_text()).group(1)
    no_exception(page)

    # Reload: a new session; the run is on the Runs page.
    page.reload()
    page.locator('.st-key-app_nav').wait_for()
    page.locator('.st-key-app_nav a', has_text="Runs").click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    table = page.locator('[data-testid="stDataFrame"]')
    expect(table).to_contain_text(run_id, timeout=30_000)
    # (the table draws only the columns in view; the status is read from the run's file)
    info = json.loads((app_server.runs_dir / run_id / "run.json").read_text())
    assert info["status"] == "stopped" and len(info["history"]) < 1000
    accs = [h["val_accuracy"] for h in info["history"]]
    assert info["kept_epoch"] == int(np.argmax(accs)) + 1
    no_exception(page)
    shoot(page, "runs", top=page.locator('[data-testid="stMain"] h1').first)
