"""The Map page in Chromium, with real mouse gestures: hover, click, box select -> Explore's grid.

60,000 MNIST points are drawn with WebGL; the box is drawn by the mouse (the modebar's
Box Select button, then a drag), never a hand-made selection event.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import goto_app, wait_idle

FRESH = ":not([data-stale=true])"
CHART = "map_chart_pca_0"

GD = "document.querySelector('.st-key-' + key + ':not([data-stale=true]) .js-plotly-plot')"

POINT_JS = """([key, trace, i]) => {
    const gd = %s;
    const t = gd._fullData[trace], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
    const cd = t.customdata[i];
    return {x: r.left + xa.l2p(t.x[i]), y: r.top + ya.l2p(t.y[i]), id: Number(cd[0])};
}""" % GD

SELECTED_JS = """(key) => {
    const gd = %s;
    const ids = new Set(), names = [];
    for (const t of gd._fullData) {
        if (!t.selectedpoints || !t.customdata) continue;
        names.push(t.name + ':' + t.selectedpoints.length);
        for (const i of t.selectedpoints) ids.add(Number(t.customdata[i][0]));
    }
    return [ids.size, names.join(' ')];
}""" % GD


def wait_map(page, n: int) -> None:
    """Until the map's plot holds ``n`` points in its class traces."""
    page.wait_for_function(
        "([key, n]) => { const gd = %s; if (!gd || !gd._fullData) return false;"
        " let s = 0; for (const t of gd._fullData) if (!String(t.name).startsWith('inspected')) s += t.x.length;"
        " return s === n; }" % GD, arg=[CHART, n], timeout=120_000)


def test_map_hover_click_and_box_select_reach_explore(app_server, page, mnist_train):
    goto_app(page, app_server.url, "map")
    wait_map(page, len(mnist_train))
    assert page.locator('[data-testid="stException"]').count() == 0

    # Hover: a point's index and label in the hover label.
    pt = page.evaluate(POINT_JS, [CHART, 3, 0])
    page.mouse.move(pt["x"] - 30, pt["y"] - 30)
    page.mouse.move(pt["x"], pt["y"], steps=5)
    hover = page.locator(f".st-key-{CHART} .hoverlayer .hovertext")
    expect(hover.first).to_contain_text("#", timeout=10_000)
    m = re.search(r"#(\d+) · (\S+)", hover.first.text_content())
    assert m, hover.first.text_content()
    assert mnist_train.class_names[mnist_train.labels[int(m.group(1))]] == m.group(2)

    # Click: the side panel shows that sample's image and caption.
    page.mouse.click(pt["x"], pt["y"])
    caption = page.get_by_text(re.compile(r"^#\d+ · label "))
    expect(caption).to_be_visible(timeout=30_000)
    idx = int(re.match(r"#(\d+)", caption.inner_text()).group(1))
    assert caption.inner_text().startswith(f"#{idx} · label {mnist_train.class_names[mnist_train.labels[idx]]}")
    wait_idle(page)

    # Box select drawn by the mouse, on a freshly opened map (a click-selected point
    # would stay selected in the browser beside the box).
    goto_app(page, app_server.url, "map")
    wait_map(page, len(mnist_train))
    page.locator(f".st-key-{CHART}{FRESH} .modebar-btn[data-val='select']").first.click()
    area = page.locator(f".st-key-{CHART}{FRESH} .nsewdrag").first
    box = area.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45
    x1, y1 = box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    page.mouse.up()
    heading = page.get_by_text(re.compile(r"^Selection: [\d,]+ samples$"))
    expect(heading).to_be_visible(timeout=30_000)
    n_sel = int(heading.inner_text().split()[1].replace(",", ""))
    drawn, traces = page.evaluate(SELECTED_JS, CHART)  # what plotly itself selected in the browser
    # The server's count (Streamlit's selection event) against the points Plotly marked
    # selected in the browser. Observed: on a 60,000-point scattergl box, Plotly's
    # selectedpoints held one point more than the event it sent (1,927 vs 1,926), the
    # same at every run; so the comparison allows that one point.
    assert n_sel > 100 and abs(n_sel - drawn) <= 1, (n_sel, drawn, traces)

    # ... and reaches Explore's grid with that count.
    page.get_by_role("button", name=f"Open {n_sel:,} samples in Explore").click()
    expect(page.get_by_text(re.compile(rf"of {n_sel:,}\b")).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Map selection").first).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
