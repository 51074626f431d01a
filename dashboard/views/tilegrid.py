"""Explore's thumbnail grid: a small ``st.components.v2`` component of image buttons.

The grid used to be a Plotly figure (one image, one invisible click layer). A page
opened in a new tab could not show it before Plotly's 4.7 MB script had been
fetched and compiled: 2.4 s on this machine before the first thumbnail, for a
grid that needs none of Plotly. Here each thumbnail is a ``<button>`` holding an
``<img>`` (a small PNG data URI, scaled up by the browser with
``image-rendering: pixelated``), its caption and, with a run chosen, its
prediction badge. A click, or Enter / Space on a focused tile, sends the sample's
index as a one-shot trigger value; the tile is outlined at once, before the
server answers. Text reaches the DOM through ``textContent`` only: class names
may come from a user's file.

The styles are not isolated in a shadow root (every class is prefixed ``tg-``),
so the page's own tests and the crawler find the tiles as ordinary buttons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

_HTML = '<div class="tg-grid" role="group" aria-label="Thumbnails: click one to inspect it"></div>'

_CSS = """
.tg-grid { display: grid; gap: 6px 4px; align-items: start; }
.tg-tile { position: relative; display: flex; flex-direction: column; align-items: center; gap: 1px;
           min-width: 0; margin: 0; padding: 2px; border: 2px solid transparent; border-radius: 5px;
           background: #fff; color: #222; font: inherit; cursor: pointer; }
.tg-tile:hover { border-color: #c8c8c8; }
.tg-tile:focus-visible { outline: 2px solid #1c83e1; outline-offset: 1px; }
.tg-tile.tg-sel { border-color: #ff3030; }
.tg-tile img { display: block; width: 100%; height: auto; image-rendering: pixelated; }
.tg-cap { max-width: 100%; line-height: 1.25; text-align: center; overflow-wrap: anywhere; }
.tg-badge { position: absolute; top: 4px; left: 4px; padding: 0 3px; border-radius: 3px;
            font-size: 10px; font-weight: 600; line-height: 1.35; background: rgba(0, 0, 0, 0.7); }
"""

# Called on every render with fresh `data`. The tiles are rebuilt only when they change
# (a selection alone moves the outline), so images are not decoded again on every rerun.
_JS = """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const grid = parentElement.querySelector('.tg-grid');
  const tiles = data.tiles || [];
  const sig = JSON.stringify([data.cols, data.font, data.right, data.wrong, tiles]);
  if (grid.__sig !== sig) {
    grid.__sig = sig;
    grid.style.gridTemplateColumns = `repeat(${data.cols}, minmax(0, 1fr))`;
    const made = tiles.map((t) => {
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'tg-tile'; b.dataset.sample = String(t.v);
      b.title = t.hover; b.setAttribute('aria-label', t.hover);
      const img = document.createElement('img');
      img.src = t.src; img.alt = ''; img.draggable = false;
      img.style.aspectRatio = `${t.w} / ${t.h}`;
      const cap = document.createElement('span');
      cap.className = 'tg-cap'; cap.textContent = t.cap; cap.style.fontSize = data.font + 'px';
      b.append(img, cap);
      if (t.badge) {
        const badge = document.createElement('span');
        badge.className = 'tg-badge' + (t.wrong ? ' tg-wrong' : '');
        badge.style.color = t.wrong ? data.wrong : data.right;
        badge.textContent = t.badge;
        b.append(badge);
      }
      return b;
    });
    grid.replaceChildren(...made);
  }
  const mark = (v) => grid.querySelectorAll('.tg-tile').forEach(
    (b) => b.classList.toggle('tg-sel', b.dataset.sample === String(v)));
  mark(data.selected);
  grid.onclick = (e) => {
    const b = e.target.closest('.tg-tile');
    if (!b || !grid.contains(b)) return;
    mark(b.dataset.sample);  // outlined now; the inspector follows when the server answers
    setTriggerValue('clicked', Number(b.dataset.sample));
  };
}
"""

_grid = st.components.v2.component("dashboard.tilegrid", html=_HTML, css=_CSS, js=_JS, isolate_styles=False)


def tile_grid(
    *,
    key: str,
    tiles: Sequence[Mapping[str, Any]],
    cols: int,
    selected: int | None,
    font_px: float,
    on_click: Callable[[], None],
    right_colour: str = "#4ade80",
    wrong_colour: str = "#ff5c5c",
) -> Any:
    """Mount the grid; ``on_click`` runs when a tile is clicked (read it with :func:`clicked`).

    Parameters
    ----------
    key : str
        Widget key; ``st.session_state[key]`` holds the click in the callback.
    tiles : sequence of mapping
        One per thumbnail, in order: ``v`` (the sample index), ``src`` (PNG data
        URI), ``w`` and ``h`` (the image's size, for its aspect ratio), ``cap``
        (caption), ``hover`` (tooltip and accessible name), and optionally
        ``badge`` (text) and ``wrong`` (bool, the badge's colour).
    cols : int
        Thumbnails per row.
    selected : int or None
        Sample index to outline.
    font_px : float
        Caption font size.
    on_click : callable
        Called (as a Streamlit callback) after a click.
    right_colour, wrong_colour : str
        Badge text colours (on a dark badge) for right and wrong predictions.
    """
    data = {
        "tiles": list(tiles), "cols": int(cols), "font": float(font_px),
        "selected": None if selected is None else int(selected),
        "right": right_colour, "wrong": wrong_colour,
    }
    return _grid(key=key, data=data, on_clicked_change=on_click)


# Both watchers below send a trigger whose rerun names the page they are on: sent after the
# user has asked for another page (a link, Back) it would bring them back there, or be applied
# to the new page's tree. So a watcher stops for good once a link to another page is clicked
# or the address changes (`gone`), and otherwise sends only at a quiet moment (`quiet`): no
# click, key or drop for `quietMs`, no script running, not stale.
_GUARDS_JS = """
function guards(parentElement, quietMs) {
  const path = window.location.pathname;
  let input = -Infinity;
  let leaving = false;
  const touched = () => { input = performance.now(); };
  // A link to another page of the app: the address changes only when the server answers.
  const followed = (e) => {
    const a = e.target instanceof Element && e.target.closest('a[href]');
    if (a && a.target !== '_blank' && new URL(a.href, window.location.href).pathname !== path) leaving = true;
  };
  const kinds = ['pointerdown', 'keydown', 'click', 'change', 'drop'];
  kinds.forEach((k) => document.addEventListener(k, touched, true));
  document.addEventListener('click', followed, true);
  window.addEventListener('popstate', touched);
  return {
    gone: () => leaving || !parentElement.isConnected || window.location.pathname !== path,
    quiet: () => performance.now() - input > quietMs
      && !parentElement.closest('[data-stale="true"]')
      && !document.querySelector('[data-testid="stStatusWidget"]'),
    touched,
    stop: () => {
      kinds.forEach((k) => document.removeEventListener(k, touched, true));
      document.removeEventListener('click', followed, true);
      window.removeEventListener('popstate', touched);
    },
  };
}
"""

# Polls each frame until every image `data.selector` finds is decoded (or `data.timeout` ms
# have passed), then sends one trigger after that frame is painted, at a quiet moment.
_PAINTED_JS = _GUARDS_JS + """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  if (parentElement.__watching) return;
  parentElement.__watching = true;
  const t0 = performance.now();
  const { gone, quiet, stop } = guards(parentElement, data.quiet);
  const painted = () => {
    const imgs = [...document.querySelectorAll(data.selector)];
    return (imgs.length && imgs.every((i) => i.complete)) || performance.now() - t0 > data.timeout;
  };
  const check = () => {
    if (gone()) { stop(); return; }
    if (!(painted() && quiet())) { requestAnimationFrame(check); return; }
    requestAnimationFrame(() => setTimeout(() => {
      if (gone()) { stop(); return; }
      if (!quiet()) { requestAnimationFrame(check); return; }
      stop();
      setTriggerValue('painted', true);
    }, 0));
  };
  requestAnimationFrame(check);
}
"""

_painted = st.components.v2.component(
    "dashboard.painted", html="<span hidden></span>", js=_PAINTED_JS,
    css=".st-key-tilegrid_painted { display: none; }", isolate_styles=False,
)


K_WATCHING = "tilegrid_watching"  # set by a run that mounts the watcher (the app pops it)


def when_painted(
    *, selector: str, on_painted: Callable[[], None], timeout_ms: int = 3000, quiet_ms: int = 1000
) -> None:
    """Call ``on_painted`` (a whole-app rerun) once the images ``selector`` finds are on screen.

    Mount it outside any fragment: a trigger from a widget inside one reruns only that
    fragment, and a fragment rerun that reaches the browser after the user has switched
    pages adds its elements to the new page's tree, which Streamlit's frontend cannot
    apply ("Bad delta path index"): the page went blank. A widget outside fragments
    reruns the app, whichever page it is on by then. After ``timeout_ms`` it calls back
    anyway. It never calls back once a link to another page has been clicked or the
    browser's address has changed (the user is leaving), nor within ``quiet_ms`` of the
    user's last click, key press or drop, nor while a script runs: the rerun it starts
    names this page, and arriving just after the user's own request it would win over it
    (a Train link clicked at that moment showed Explore again). Hidden: it draws nothing.
    Sets ``st.session_state[K_WATCHING]``: the app then knows a follow-up run will come.
    """
    st.session_state[K_WATCHING] = True
    with st.container(key="tilegrid_painted"):
        _painted(key="tilegrid_painted_watch",
                 data={"selector": selector, "timeout": int(timeout_ms), "quiet": int(quiet_ms)},
                 on_painted_change=on_painted)


def clicked(value: object, shown: Sequence[int]) -> int | None:
    """The sample a click sent, if it is one of the tiles ``shown``; None otherwise.

    ``value`` is the grid's session-state value (or its result): what the browser
    sent is checked, never trusted.
    """
    if isinstance(value, Mapping):
        got = value.get("clicked")
    else:
        got = getattr(value, "clicked", None)
    if isinstance(got, bool) or not isinstance(got, int | float) or not math.isfinite(got) or got != int(got):
        return None
    sample = int(got)
    return sample if sample in {int(s) for s in shown} else None


# Mounted beside something drawn for the grid's page (Explore's page table): every 50 ms it
# reads which samples the grid's tiles show; once they differ from `data.shown`, their images
# are decoded and the frame with them is painted, it sends the tiles' samples as a trigger at a
# quiet moment, once per set of tiles. Its fragment reruns and draws for the page on screen.
# Quiet here means the user has stopped paging for a moment: the table's rendering (~160 ms of
# the browser's main thread for 48 x 787 cells) does not hold back the tiles of a user still paging.
_FOLLOW_JS = _GUARDS_JS + """
export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  parentElement.__data = data;
  if (parentElement.__following) return;
  parentElement.__following = true;
  const { gone, quiet, stop, touched } = guards(parentElement, data.quiet);
  let sent = null;
  const onScreen = () => {
    const d = parentElement.__data;
    const grid = document.querySelector(d.grid);
    const tiles = grid ? [...grid.querySelectorAll(d.tiles)] : [];
    if (grid && !tiles.length) return null;  // not drawn yet (no grid at all: no samples)
    const now = tiles.map((b) => b.dataset.sample).join(',');
    if (now === d.shown.join(',') || now === sent) return null;
    return tiles.every((b) => [...b.querySelectorAll('img')].every((i) => i.complete)) ? now : null;
  };
  const timer = setInterval(() => {
    if (gone()) { clearInterval(timer); stop(); return; }
    if (document.querySelector('[data-testid="stStatusWidget"]')) touched();  // a run counts as input
    const now = onScreen();
    if (now === null || !quiet()) return;
    requestAnimationFrame(() => setTimeout(() => {  // after the frame with the tiles is painted
      if (gone() || !quiet() || onScreen() !== now) return;
      sent = now;
      setTriggerValue('changed', now);
    }, 0));
  }, 50);
}
"""

_follow = st.components.v2.component(
    "dashboard.follow_grid", html="<span hidden></span>", js=_FOLLOW_JS,
    css=".st-key-tilegrid_follow { display: none; }", isolate_styles=False,
)


def when_tiles_change(
    *, grid: str, tiles: str, shown: Sequence[int], on_change: Callable[[], None], quiet_ms: int = 300
) -> None:
    """Call ``on_change`` once the grid's tiles show other samples than ``shown``, painted.

    Mount it inside the fragment that draws for the grid's page (a click's trigger reruns
    only that fragment): the grid's fragment then answers a page change with the tiles
    alone, and this one follows with its heavier part once the tiles are on screen.
    Hidden: it draws nothing. One per page.

    Parameters
    ----------
    grid : str
        CSS selector of the grid's container; none on the page means no tiles (nothing
        to show), a container without tiles is one still being drawn.
    tiles : str
        CSS selector of the tiles within it (elements with ``data-sample`` holding ``<img>``).
    shown : sequence of int
        The samples the caller has drawn for.
    on_change : callable
        Called (as a Streamlit callback) before the rerun the change starts.
    quiet_ms : int
        Not within this many ms of the user's last click, key press or drop, or of a
        script run seen in progress.
    """
    data = {"grid": grid, "tiles": tiles, "shown": [int(s) for s in shown], "quiet": int(quiet_ms)}
    with st.container(key="tilegrid_follow"):
        _follow(key="tilegrid_follow_watch", data=data, on_changed_change=on_change)
