"""Click everything: every page of the app, on MNIST and on an uploaded CSV set.

On each page (the app's own list, ``dashboard.app.PAGES``) the crawler clicks
every button, tab, radio option, checkbox/toggle, the middle of every chart and one
tile of every thumbnail grid it finds, with the real mouse, bounded in count and time, and fails on any
Streamlit exception element, uncaught page error, console error or traceback
text. Downloads are skipped (they leave the page); the server's runs folder is
a scratch folder of this test, so Delete may be clicked.

A failure names the page, the dataset, and the click that caused it, in order,
so it can be reproduced by hand.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from dashboard.app import PAGES
from tests.browser.helpers import goto_app, wait_idle

MAX_CLICKS = 25  # per page and dataset
MAX_SECONDS = 90
# Buttons never clicked: downloads (leave the page); the file picker (opens an OS dialog).
# Collapsing the sidebar would hide half of what there is to click.
SKIP_TEXT = ("Download", "Browse files", "Collapse sidebar", "keyboard_double_arrow_left")
# Charts and choices before the many small toolbar buttons, so the bound leaves none out.
ORDER = {"chart": 0, "tab": 1, "radio": 2, "check": 3, "expander": 4, "button": 5}

MARK_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const side = document.querySelector('[data-testid="stSidebar"]');
  const roots = [main, side].filter(Boolean);
  const out = [];
  const seen = new Set();
  const keyOf = (el) => { const k = el.closest('[class*="st-key-"]');
      return k ? (k.className.match(/st-key-\\S+/) || [''])[0] : ''; };
  const add = (el, kind) => {
      const shown = el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
      if (seen.has(el) || !shown || el.closest('[data-stale="true"]')) return;
      if (el.closest('.st-key-app_nav')) return;
      seen.add(el);
      const text = (el.innerText || el.getAttribute('aria-label') || '').trim().slice(0, 60);
      const disabled = el.disabled || el.getAttribute('aria-disabled') === 'true'
          || !!el.querySelector('input:disabled');
      out.push({kind, key: keyOf(el), text, disabled});
      el.setAttribute('data-crawl', String(out.length - 1));
  };
  document.querySelectorAll('[data-crawl]').forEach(e => e.removeAttribute('data-crawl'));
  for (const r of roots) {
    r.querySelectorAll('[data-testid="stDownloadButton"] button').forEach(b => seen.add(b));
    r.querySelectorAll('[data-testid="stFileUploader"] button').forEach(b => seen.add(b));
    r.querySelectorAll('button[aria-label^="Remove"], button[aria-label="Clear all"]').forEach(b => seen.add(b));
    r.querySelectorAll('[role="tab"]').forEach(e => add(e, 'tab'));
    r.querySelectorAll('label:has(input[type="radio"])').forEach(e => add(e, 'radio'));
    r.querySelectorAll('label:has(input[type="checkbox"])').forEach(e => add(e, 'check'));
    r.querySelectorAll('[data-testid="stExpander"] summary').forEach(e => add(e, 'expander'));
    // A thumbnail grid: one tile (the second) stands for all of them, as a chart's middle does.
    r.querySelectorAll('.tg-grid').forEach(g => {
      const tiles = [...g.querySelectorAll('.tg-tile')];
      const one = tiles[Math.min(1, tiles.length - 1)];
      if (one) add(one, 'chart');
      tiles.forEach(t => seen.add(t));
    });
    r.querySelectorAll('button').forEach(e => add(e, 'button'));
    r.querySelectorAll('.js-plotly-plot .nsewdrag').forEach(e => add(e, 'chart'));
  }
  return out;
}"""

TRACEBACK = "Traceback (most recent call last)"
# Opened at /<page>, Streamlit's frontend first looks for the server under that path
# (/<page>/_stcore/health, then /_stcore/health): its own expected 404s.
BASE_PATH_PROBE = re.compile(r"^404 \S+/[^/]+/_stcore/(health|host-config)$")


def csv_upload() -> bytes:
    """A small real set: 200 of scikit-learn's 8x8 digits as label + 64 pixels (0-255)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.data[:200] * 255 / 16).astype(int)
    rows = [",".join(["label", *(f"pixel{i}" for i in range(64))])]
    rows += [",".join(map(str, [int(y), *r])) for y, r in zip(d.target[:200], x)]
    return ("\n".join(rows) + "\n").encode()


def upload(page) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary').first.click()
    page.locator(".st-key-upload_files input[type=file]").set_input_files(
        files=[{"name": "crawl.csv", "mimeType": "text/csv", "buffer": csv_upload()}])
    page.get_by_text("Loaded ").first.wait_for(timeout=60_000)
    wait_idle(page)


def problems(page) -> list[str]:
    found = []
    n = page.locator('[data-testid="stException"]').count()
    if n:
        found.append(f"{n} exception element(s): "
                     + page.locator('[data-testid="stException"]').first.inner_text()[:500])
    body = page.locator("body").inner_text()
    if TRACEBACK in body:
        at = body.index(TRACEBACK)
        # A guarded page folds the traceback into a closed "Details" expander: not shown.
        details = page.locator('[data-testid="stExpander"]:has-text("Details (for a bug report)")')
        if not details.count():
            found.append("traceback text: " + body[at: at + 300])
    found += [f"page error: {e}" for e in page.js_errors]
    # "Failed to load resource" says no more than the HTTP error below, which names the URL.
    found += [f"console error: {e}" for e in page.console_errors if not e.startswith("Failed to load resource")]
    found += [f"HTTP error: {e}" for e in page.bad_responses if not BASE_PATH_PROBE.search(e)]
    return found


MINOR = ("Increment", "Decrement", "Help for ", "Open", "Zoom", "Pan", "Autoscale", "Reset axes",
         "Fullscreen", "Close fullscreen", "Show/hide columns", "Search", "Close Search", "Copy to clipboard")


def rank(item: dict) -> int:
    """Click order: charts and choices, then the page's own buttons (Train, Stop, Delete...),
    and last the many small ones (steppers, help, chart and table toolbars)."""
    if item["kind"] == "button" and any(item["text"].startswith(m) for m in MINOR):
        return 9
    return ORDER[item["kind"]]


def settle(page) -> None:
    """Until the script run has ended and no widget is still a loading skeleton."""
    wait_idle(page, 120_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stSkeleton\"], [data-testid=\"stSpinner\"]')"
        " && document.querySelector('[data-testid=\"stMain\"] h1')", timeout=120_000)


def crawl(page, url: str, path: str, *, with_upload: bool) -> list[str]:
    """Click everything on one page; the clicks made, and a problem as the last line if any."""
    goto_app(page, url, path)
    if with_upload:
        upload(page)
        if path:
            page.locator('.st-key-app_nav a', has_text=dict((p, t) for _, t, p, _ in PAGES)[path]).click()
            wait_idle(page)
    log: list[str] = []
    done: set[tuple] = set()
    start = time.monotonic()
    while len(done) < MAX_CLICKS and time.monotonic() - start < MAX_SECONDS:
        settle(page)
        items = page.evaluate(MARK_JS)
        todo = [(i, it) for i, it in enumerate(items)
                if not it["disabled"] and (it["kind"], it["key"], it["text"]) not in done
                and not any(s in it["text"] for s in SKIP_TEXT)]
        if not todo:
            break
        i, it = min(todo, key=lambda t: rank(t[1]))
        done.add((it["kind"], it["key"], it["text"]))
        where = page.locator(f'[data-crawl="{i}"]')
        step = f"click {it['kind']} {it['key'] or '-'} {it['text']!r}"
        try:
            where.scroll_into_view_if_needed(timeout=5_000)
            box = where.bounding_box()
            if box is None:
                log.append(f"{step} (not clickable: not drawn)")
                continue
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.click(x, y)
            log.append(step)
            page.wait_for_timeout(150)  # let the click reach the server before waiting for idle
            wait_idle(page, 120_000)
        except Exception as exc:  # a click that could not be made is not an app fault
            log.append(f"{step} (not clickable: {type(exc).__name__})")
            continue
        if page.url.split("?")[0].rstrip("/") != f"{url}/{path}".rstrip("/"):
            # A button moved us to another page (e.g. "open in Explore"): check it, come back.
            found = problems(page)
            if found:
                return [*log, *found]
            goto_app(page, url, path)
        found = problems(page)
        if found:
            return [*log, *found]
    return log


# Cases known to fail in pages owned by others, with their reproduction: xfail, not
# hidden; the lead removes the mark once the owner's fix is merged.
KNOWN: dict[tuple[str, str], str] = {}


def cases():
    for dataset in ("mnist", "upload"):
        for _, title, path, _ in PAGES:
            marks = []
            if (path, dataset) in KNOWN:
                marks.append(pytest.mark.xfail(reason=KNOWN[(path, dataset)], strict=False))
            yield pytest.param(path, dataset, id=f"{path}-{dataset}", marks=marks)


@pytest.mark.parametrize("path, dataset", list(cases()))
def test_click_everything(app_server, page, path, dataset):
    url_path = "" if path == PAGES[0][2] else path
    log = crawl(page, app_server.url, url_path, with_upload=dataset == "upload")
    text = "\n".join(log)
    print(f"--- {path} on {dataset}: {len(log)} steps\n{text}")
    clicks = [line for line in log if line.startswith("click ") and "not clickable" not in line]
    assert clicks, f"nothing clicked on {path} ({dataset})"
    found = [line for line in log if not line.startswith("click ")]
    assert not found, f"{path} on {dataset}, after these clicks:\n{text}"
