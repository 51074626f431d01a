"""Real mouse strokes on the Draw page's canvas, shared by tests/browser/test_draw.py and
benchmarks/bench_draw.py."""

from __future__ import annotations

import re

from playwright.sync_api import expect

# One stroke each, in canvas pixels (the canvas is 280x280): a "1" and a "0" as a person draws them.
ONE = [(150, 40), (148, 80), (146, 120), (143, 160), (141, 200), (140, 240)]
ZERO = [(140, 40), (110, 55), (90, 80), (80, 115), (80, 150), (88, 190), (100, 220), (120, 237), (140, 240),
         (165, 230), (185, 210), (198, 175), (200, 140), (196, 100), (190, 70), (168, 48), (140, 40)]

STROKES_RE = re.compile(r"strokes: (\d+)")


def canvas_box(page) -> dict:
    """The canvas' box on the screen (fabric's top canvas takes the mouse)."""
    canvas = page.locator(".st-key-draw_pad canvas").last
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def stroke(page, points, steps: int = 4) -> None:
    """One stroke with the real mouse: down at the first point, moves through the rest, up."""
    box = canvas_box(page)
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        for i in range(1, steps + 1):
            t = i / steps
            page.mouse.move(x0 + ax + (bx - ax) * t, y0 + ay + (by - ay) * t)
    page.mouse.up()


def status_text(page) -> str:
    """The line under the model choice: ``strokes: N · prediction: ...``."""
    loc = page.get_by_text(STROKES_RE)
    return loc.inner_text() if loc.count() else ""


def wait_strokes(page, n: int, timeout: float = 30_000) -> str:
    """Until the page shows the drawing with ``n`` strokes; returns the status line."""
    loc = page.get_by_text(re.compile(rf"strokes: {n}\b"))
    expect(loc).to_be_visible(timeout=timeout)
    return loc.inner_text()


def matrix_values(page, timeout: float = 90_000) -> list[list[float]]:
    """The numbers the matrix view shows (trace 0's z), row 0 at the top."""
    page.wait_for_function(
        "() => { const gd = document.querySelector('.st-key-draw_matrix:not([data-stale=true]) .js-plotly-plot');"
        " return gd && gd._fullData && gd._fullData.length > 0; }", timeout=timeout,
    )
    return page.evaluate(
        """() => {
            const gd = document.querySelector('.st-key-draw_matrix:not([data-stale=true]) .js-plotly-plot');
            return gd._fullData[0].z.map(r => Array.from(r));
        }"""
    )
