"""Explore: browse a dataset page by page, click a sample, see it four ways.

Layout: the browser (filter, paging, thumbnail grid) on the left and the
inspector (sample, pixel, heatmap) beside it on the right, kept in view while
the grid scrolls; the number grid, the vector and the page table below.

The browser is one ``st.fragment``, so paging reruns only it. The page table is
another: it follows the thumbnails once they are on screen (see :func:`page_table`).
Picking a sample or a pixel reruns the whole page, because the inspect views depend on them.

State: the widgets are driven by ``explore_*`` session-state keys, and the view
as a whole (:class:`dashboard.state.ExploreView`) is kept under ``K_VIEW`` and in
the URL. Streamlit drops a widget's state once a run does not draw it (any other
page), so every run first puts back what the view says, then writes the view
again: page switches, Back/Forward, reload and a copied link all restore it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import streamlit as st

from dashboard import shell, state as url_state
from dashboard.data.dataset import Dataset
from dashboard.explore import browse, figures, frames, thumbnails
from dashboard.views import model_overlay, tilegrid
from dashboard.views.similar import show_similar

# Session-state keys (widgets are driven by these keys in the tests too).
K_DS = "explore_ds"
K_VIEW = "explore_view"
K_CLASSES = "explore_classes"
K_SIZE = "explore_page_size"
K_PAGE = "explore_page"
K_RANDOM = "explore_random"
K_SAMPLE = "explore_sample"
K_ROW = "explore_row"
K_COL = "explore_col"
K_GRID = "explore_grid"  # the grid's container (tests and benchmarks find the tiles in it)
K_GRID_TILES = "explore_grid_tiles"
K_GRID_SHOWN = "explore_grid_shown"
K_HEATMAP = "explore_heatmap"
K_MATRIX = "explore_matrix"
K_APP_RERUN = "explore_app_rerun"
K_NOTE = "explore_note"
K_SUBSET_NOTE = "explore_subset_note"
K_SCROLL = "explore_scroll"  # a counter: bumped when the inspector should come into view
K_INSPECT_FIRST = "explore_inspect_first"  # this run answers a new sample or pixel: draw the inspector first
K_OPENED = "explore_opened"  # this session has drawn Explore once (its charts' scripts are in the browser)
K_DRAWN = "explore_drawn"  # (dataset key, page, filtered indices) the browser drew last: the table's rows
K_WHOLE_RUN = "explore_whole_run"  # set by a run of the whole page, popped by the table it draws
DEFAULT_PAGE_SIZE = browse.PAGE_SIZES[1]
SCOPE = "explore"

# The inspector column stays in view while the grid beside it scrolls (wide screens;
# on a phone the columns stack and the click scrolls to it instead, see _scroll_script).
# Below 1200 px the grid beside the inspector would be too narrow for its captions: the
# two stack (the grid full width) and a click scrolls the inspector into view.
_CSS = """<style>
.st-key-explore_inspector { position: sticky; top: 3.75rem; z-index: 2; }
@media (max-width: 1199px) {
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .st-key-explore_inspector) {
    flex-wrap: wrap; }
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .st-key-explore_inspector)
    > [data-testid="stColumn"] { min-width: 100%; flex: 1 1 100%; }
  .st-key-explore_inspector { position: static; }
}
</style>"""


def default_view(ds: Dataset | None = None, per_page: int = DEFAULT_PAGE_SIZE) -> url_state.ExploreView:
    """The view of a freshly opened set: page 1, sample 0, the centre pixel."""
    h, w = ds.shape if ds is not None else (28, 28)
    return url_state.ExploreView(per_page=per_page, sample=0, pixel=(h // 2, w // 2))


def _ds_key(ds: Dataset) -> str:
    return f"{ds.name}|{ds.split}|{ds.checksum}"


def _decode(params, ds: Dataset, default: url_state.ExploreView) -> url_state.ExploreView:
    return url_state.decode_explore(
        params, n_samples=len(ds), n_classes=ds.n_classes, shape=ds.shape,
        page_sizes=browse.PAGE_SIZES, default=default,
    )


def _restore(ds: Dataset) -> None:
    """Put the view back into the widgets' keys before any widget is drawn.

    Where the view comes from, first match wins: :func:`dashboard.state.open_in_explore`;
    URL values this session did not write (reload, link, Back/Forward); the
    session's view, if the dataset is the same; a fresh view.
    """
    state = st.session_state
    key = _ds_key(ds)
    saved = state.get(K_VIEW)
    per = saved.per_page if isinstance(saved, url_state.ExploreView) else DEFAULT_PAGE_SIZE
    fresh = default_view(ds, per)
    same_set = state.get(K_DS) == key and isinstance(saved, url_state.ExploreView)
    pending = state.pop(url_state.K_PENDING, None)
    news = url_state.url_news(SCOPE, url_state.EXPLORE_KEYS)
    if isinstance(pending, url_state.ExploreView):  # re-checked like a URL: it may name anything
        view = _decode(url_state.encode_explore(pending), ds, fresh)
    elif news is not None:
        view = _decode(news, ds, default_view(ds))
    elif same_set:
        view = saved
    else:
        view = fresh
    state[K_DS] = key
    if view is saved:
        # The widgets hold the newest values (a change the user just made); only
        # those Streamlit dropped while another page ran are put back.
        _apply(view, only_missing=True)
        return
    for k in (K_NOTE, K_SUBSET_NOTE, K_RANDOM, K_APP_RERUN):
        state.pop(k, None)
    _apply(_check_subset(view, ds))


def _check_subset(view: url_state.ExploreView, ds: Dataset) -> url_state.ExploreView:
    """Keep a subset only if this session knows it or the URL carries its indices."""
    if not view.subset or url_state.recall_subset(view.subset) is not None:
        return view
    indices = url_state.decode_indices(view.ids, len(ds)) if view.ids else None
    if indices is not None:
        st.session_state.setdefault(url_state.K_SUBSETS, {})[view.subset] = ("Selection from a link", indices)
        return view
    st.session_state[K_SUBSET_NOTE] = (
        "The selection in this link is no longer available (it was kept in another browser "
        "session); showing every sample instead."
    )
    return replace(view, subset=None, ids=None)


def _apply(view: url_state.ExploreView, *, only_missing: bool = False) -> None:
    """Drive the widgets from ``view``; with ``only_missing``, only keys that are gone."""
    state = st.session_state
    wanted = {
        K_CLASSES: list(view.classes), K_SIZE: view.per_page, K_PAGE: view.page,
        K_SAMPLE: view.sample or 0, K_ROW: view.pixel[0] if view.pixel else 0,
        K_COL: view.pixel[1] if view.pixel else 0,
    }
    for k, v in wanted.items():
        if k not in state or (not only_missing and state[k] != v):
            state[k] = v
    state[K_VIEW] = view


def _widgets_view(ds: Dataset) -> url_state.ExploreView:
    """The view the widgets' values make (the selection kept from the saved view)."""
    state = st.session_state
    old = state.get(K_VIEW) or default_view(ds)
    return url_state.ExploreView(
        classes=tuple(int(c) for c in state.get(K_CLASSES) or ()),
        page=int(state.get(K_PAGE, 0)), per_page=int(state.get(K_SIZE, DEFAULT_PAGE_SIZE)),
        sample=int(state.get(K_SAMPLE, 0)), pixel=(int(state.get(K_ROW, 0)), int(state.get(K_COL, 0))),
        subset=old.subset, ids=old.ids,
    )


def _save(ds: Dataset) -> None:
    """The widgets' values as the view, in session state and in the URL."""
    view = _widgets_view(ds)
    st.session_state[K_VIEW] = view
    url_state.write_url(SCOPE, url_state.EXPLORE_KEYS, url_state.encode_explore(view, default_view(ds)))


def _subset(ds: Dataset) -> tuple[str, np.ndarray] | None:
    view = st.session_state.get(K_VIEW)
    found = url_state.recall_subset(view.subset if view else None)
    if found is None:
        return None
    label, indices = found
    return label, indices[indices < len(ds)]


def _filtered(ds: Dataset) -> np.ndarray:
    indices = browse.filter_indices(ds.labels, st.session_state.get(K_CLASSES) or None)
    subset = _subset(ds)
    if subset is not None:
        indices = np.intersect1d(indices, subset[1], assume_unique=True)
    return indices


# --- callbacks (run before the rerun they cause) ---------------------------------


def _go_to(page: int) -> None:
    st.session_state[K_PAGE] = page


def _step(delta: int) -> None:
    st.session_state[K_PAGE] = st.session_state.get(K_PAGE, 0) + delta


def _ask_random() -> None:
    st.session_state[K_RANDOM] = True


def _clear_subset() -> None:
    state = st.session_state
    state[K_VIEW] = replace(state[K_VIEW], subset=None, ids=None)
    state[K_PAGE] = 0
    state[K_APP_RERUN] = True


def _on_filter() -> None:
    """Back to page 1; inspect the first match if the inspected sample is filtered out."""
    state = st.session_state
    state[K_PAGE] = 0
    indices = _filtered(shell.current_dataset())
    if len(indices) and browse.position_of(indices, int(state.get(K_SAMPLE, 0))) is None:
        state[K_SAMPLE] = int(indices[0])
        state.pop(K_NOTE, None)
        state[K_APP_RERUN] = True  # the inspect views sit outside the fragment


def _on_sample() -> None:
    """Jump: show the page holding the typed sample index, if the filter lets it through."""
    ds = shell.current_dataset()
    state = st.session_state
    sample = int(state[K_SAMPLE])
    page = browse.page_holding(_filtered(ds), sample, int(state[K_SIZE]))
    if page is None:
        state[K_NOTE] = (
            f"Sample #{sample} ({ds.class_names[ds.labels[sample]]}) is not among the samples "
            "shown on the grid (class filter or selection); it is inspected here all the same."
        )
    else:
        state[K_PAGE] = page
        state.pop(K_NOTE, None)
    state[K_INSPECT_FIRST] = True


def _on_grid_click() -> None:
    sample = tilegrid.clicked(st.session_state[K_GRID_TILES], st.session_state.get(K_GRID_SHOWN, ()))
    if sample is not None and sample != st.session_state.get(K_SAMPLE):
        st.session_state[K_SAMPLE] = sample
        st.session_state.pop(K_NOTE, None)
        st.session_state[K_SCROLL] = st.session_state.get(K_SCROLL, 0) + 1
        # The click reran only the fragment; the inspect views need the whole page.
        st.session_state[K_APP_RERUN] = True
        st.session_state[K_INSPECT_FIRST] = True


def _on_pixel_click(chart_key: str) -> None:
    ds = shell.current_dataset()
    pixel = figures.clicked_pixel(st.session_state[chart_key].selection, ds.shape)
    if pixel is not None:
        st.session_state[K_ROW], st.session_state[K_COL] = pixel
        st.session_state[K_INSPECT_FIRST] = True


# --- the browser fragment ------------------------------------------------------------


def grid_columns(class_names) -> int:
    """Thumbnails per row: fewer when class names are long, so "#59999 · Ankle boot" fits."""
    longest = max((len(str(n)) for n in class_names), default=1)
    return 8 if longest <= 3 else 6 if longest <= 6 else 4


_CELL_PX = 84  # a thumbnail cell's width on screen at most, less its padding
_CHAR_EM = 0.53  # sans-serif: average character width per pixel of font size (measured)


def caption_font(chars: int, cell_px: int = _CELL_PX) -> float:
    """Font size (px) at which a caption of ``chars`` characters fits under a thumbnail ``cell_px`` wide."""
    return max(8.0, min(11.0, round(cell_px / (_CHAR_EM * max(chars, 1)), 1)))


def captions(indices: np.ndarray, labels: np.ndarray, class_names) -> list[str]:
    """``"#2297 · 7"``: the dataset index and the class name under each thumbnail."""
    return [f"#{i} · {class_names[c]}" for i, c in zip(indices.tolist(), labels[indices].tolist())]


def grid_tiles(ds: Dataset, page_indices: np.ndarray, overlay: model_overlay.Overlay | None = None) -> list[dict]:
    """The page's thumbnails as :func:`dashboard.views.tilegrid.tile_grid` takes them:
    picture, ``"#2297 · 7"`` caption, tooltip, and with a run its prediction badge."""
    idx = np.asarray(page_indices, dtype=np.int64)
    if not len(idx):
        return []
    sources, (h, w) = thumbnails.tile_sources(ds.images[idx])
    labs = ds.labels[idx].tolist()
    tiles = [
        {"v": i, "src": src, "w": w, "h": h, "cap": cap, "hover": f"sample {i}: {ds.class_names[c]} (label {c})"}
        for i, src, cap, c in zip(idx.tolist(), sources, captions(idx, ds.labels, ds.class_names), labs)
    ]
    if overlay is not None:
        for tile, badge in zip(tiles, model_overlay.badges(ds, overlay, idx)):
            tile.update(badge=badge["badge"], wrong=badge["wrong"], hover=tile["hover"] + badge["hover"])
    return tiles


def _on_grid_painted() -> None:
    """The light first page's thumbnails are on screen: the rerun this ends draws the whole page."""
    st.session_state[K_OPENED] = True


def _grid(ds: Dataset, page_indices: np.ndarray, sample: int, overlay: model_overlay.Overlay | None = None) -> None:
    tiles = grid_tiles(ds, page_indices, overlay)
    st.session_state[K_GRID_SHOWN] = [t["v"] for t in tiles]  # what a click may name
    with st.container(key=K_GRID):
        tilegrid.tile_grid(
            key=K_GRID_TILES, tiles=tiles, cols=grid_columns(ds.class_names), selected=sample,
            font_px=caption_font(max(len(t["cap"]) for t in tiles)), on_click=_on_grid_click,
            right_colour=model_overlay.RIGHT_COLOUR, wrong_colour=model_overlay.WRONG_COLOUR,
        )


@st.fragment
def browser(overlay: model_overlay.Overlay | None = None, *, light: bool = False) -> None:
    """Filter, page controls, thumbnail grid (``light``: the first page of a new tab)."""
    if st.session_state.pop(K_APP_RERUN, False):
        st.rerun(scope="app")
    try:  # a fragment rerun does not pass through the page's guard in app.py
        _browser(overlay, light=light)
    except Exception as exc:  # noqa: BLE001
        shell.show_failure(exc, "The sample browser")


def _browser(overlay: model_overlay.Overlay | None = None, *, light: bool = False) -> None:
    state = st.session_state
    ds = shell.current_dataset()

    subset = _subset(ds)
    if subset is not None:
        label, members = subset
        with st.container(horizontal=True, vertical_alignment="center"):
            st.text(f"{label}: {len(members):,} samples")  # plain text: labels may hold user text
            st.button("Show all samples", icon=":material/close:", key="explore_clear_subset",
                      on_click=_clear_subset)
    left, right = st.columns([3, 1])
    left.multiselect(
        "Classes (none chosen = all)", options=list(range(ds.n_classes)),
        format_func=lambda c: ds.class_names[c], key=K_CLASSES, on_change=_on_filter,
        placeholder="all classes",
    )
    right.selectbox("Per page", browse.PAGE_SIZES, key=K_SIZE)
    size = int(state[K_SIZE])
    indices = _filtered(ds)
    if overlay is not None:
        indices = model_overlay.filter_and_sort(ds, overlay, indices, on_change=partial(_go_to, 0))
    wanted = state.get(K_PAGE, 0)
    if state.pop(K_RANDOM, False):
        wanted = browse.random_page(len(indices), size, np.random.default_rng())
    page = browse.make_page(indices, wanted, size)
    state[K_PAGE] = page.number  # store the clamped page so "previous" after "last" works

    at_start, at_end = page.number == 0, page.number >= page.n_pages - 1
    # A wrapping row of content-wide buttons: a label is never cut ("Prev…") at any width.
    # Material icons ship with Streamlit's own font: they render where emoji fonts are missing.
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.button("First", icon=":material/first_page:", key="explore_first", on_click=_go_to,
                  args=(0,), disabled=at_start)
        st.button("Previous", icon=":material/chevron_left:", key="explore_prev", on_click=_step,
                  args=(-1,), disabled=at_start)
        st.button("Next", icon=":material/chevron_right:", key="explore_next", on_click=_step,
                  args=(1,), disabled=at_end)
        st.button("Last", icon=":material/last_page:", key="explore_last", on_click=_go_to,
                  args=(page.n_pages - 1,), disabled=at_end)
        st.button("Random", icon=":material/shuffle:", key="explore_random_page", on_click=_ask_random)
    what = browse.selection_label(ds.class_names, state.get(K_CLASSES))
    # Plain text: class names may come from a user's file.
    st.text(f"{browse.showing_text(page, what)} · page {page.number + 1:,} of {page.n_pages:,}")

    sample = int(state.get(K_SAMPLE, 0))
    if len(page.indices):
        _grid(ds, page.indices, sample, overlay)
        st.caption("Click a thumbnail to inspect it.")
    else:
        st.info("No sample matches the filter.")

    state[K_DRAWN] = (_ds_key(ds), page, indices)
    if light and not len(page.indices):  # the first, light run of a session (see page())
        _on_grid_painted()  # no grid to wait for
        st.rerun(scope="app")
    _save(ds)


def _follow_grid() -> None:
    pass  # the trigger's rerun of the table's fragment is the point


@st.fragment
def page_table() -> None:
    """The page the browser drew last, as a table.

    Its own fragment: a page change reruns the browser alone, whose thumbnails then
    reach the screen without waiting for the table (the data grid's rendering of 48 x 787
    cells held them back by ~160 ms on a 2-core machine). A hidden watcher here sees the
    new tiles painted and, once the user has stopped paging for 300 ms, reruns this
    fragment, which draws the new page's rows.
    """
    try:
        _table()
    except Exception as exc:  # noqa: BLE001
        shell.show_failure(exc, "The page table")


def _table() -> None:
    state = st.session_state
    ds = shell.current_dataset()
    drawn = state.get(K_DRAWN)
    if not state.pop(K_WHOLE_RUN, False) and (
        drawn is None or drawn[0] != _ds_key(ds) or _widgets_view(ds) != state.get(K_VIEW)
        or state.get(K_RANDOM) or state.get(K_APP_RERUN)
    ):
        # This fragment's own rerun carries a change no part on screen has drawn: the browser
        # sends the triggers and values of one moment in one request, under this fragment's id
        # when its watcher's trigger is among them (a Next click was lost so, in a benchmark).
        st.rerun(scope="app")
    if drawn is None or drawn[0] != _ds_key(ds):
        return  # the browser has not drawn this set (it failed): nothing to follow
    _, page, indices = drawn
    scale = shell.value_scale()
    sample = int(state.get(K_SAMPLE, 0))
    pixel_k = figures.flat_index(int(state[K_ROW]), int(state[K_COL]), ds.shape[1])
    frame = frames.page_frame(ds.flat(), ds.labels, page.indices, scale, pixel=pixel_k)
    _page_table(ds, frame, page, indices, sample, pixel_k, scale)
    if st.context.headers:  # a browser on the other end (a script run without one draws each run)
        tilegrid.when_tiles_change(grid=f".st-key-{K_GRID}", tiles=".tg-tile", shown=page.indices.tolist(),
                                   on_change=_follow_grid)


def _page_table(
    ds: Dataset, frame, page: browse.Page, indices: np.ndarray, sample: int, pixel_k: int, scale: float
) -> None:
    st.subheader("This page as a table")
    st.caption(
        f"One row per sample: label, then pixel0 … pixel{ds.n_features - 1} (pixel (r, c) is "
        f"column r×{ds.shape[1]}+c). ▶ marks the inspected sample; the chosen pixel's column "
        "(marked ◀) is moved next to the label."
    )
    shown = frames.display_table(frame, sample, pixel_k)
    with st.container(key="explore_table_box"):
        st.dataframe(
            shown,
            key="explore_table",
            height=min(38 + 35 * len(shown), 400),
            hide_index=True,
            column_config={
                "sample": st.column_config.NumberColumn("sample", pinned=True),
                "inspected": st.column_config.TextColumn("▶", width="small", pinned=True),
                "label": st.column_config.NumberColumn("label", pinned=True),
                # "medium": the header "pixel784 ◀" is never cut to "pixel264 ◂"
                f"pixel{pixel_k}": st.column_config.NumberColumn(f"pixel{pixel_k} ◀", width="medium", pinned=True),
            },
        )
    rows = np.flatnonzero(page.indices == sample)
    if len(rows):
        _scroll_table_to(int(rows[0]))
    stem = f"{ds.name}-{ds.split}".replace(" ", "_").replace(":", "")
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "Download this page (CSV)", lambda: frames.csv_bytes(frame), file_name=f"{stem}-page{page.number + 1}.csv",
            mime="text/csv", key="explore_csv_page", on_click="ignore",
        )
        # Both deferred (built on click): CSV of even one page costs more than the rest of a
        # page change, and the filtered set can be 60,000 rows.
        st.download_button(
            f"Download all {len(indices):,} shown samples (CSV)",
            lambda: frames.csv_bytes(frames.page_frame(ds.flat(), ds.labels, indices, scale, pixel=pixel_k)),
            file_name=f"{stem}-filtered.csv", mime="text/csv", key="explore_csv_all", on_click="ignore",
        )


_ROW_PX = 35  # glide-data-grid's row height in st.dataframe


def _scroll_table_to(row: int) -> None:
    """Scroll the page table so the inspected row is in view (no Streamlit API does this)."""
    st.html(
        f"""<script>
        (() => {{
          const find = (n) => {{
            const s = window.parent.document.querySelector('.st-key-explore_table_box .dvn-scroller')
                   || document.querySelector('.st-key-explore_table_box .dvn-scroller');
            if (s) {{ s.scrollTop = Math.max(0, {row} * {_ROW_PX} - 2 * {_ROW_PX}); }}
            else if (n > 0) {{ setTimeout(() => find(n - 1), 100); }}
          }};
          find(30);
        }})();
        </script><span data-row="{row}"></span>""",
        unsafe_allow_javascript=True,
    )


def _scroll_script(count: int) -> None:
    """After a thumbnail click: bring the inspector into view if it is not (narrow screens)."""
    st.html(
        f"""<script>
        (() => {{
          const el = document.querySelector('.st-key-explore_inspector');
          if (!el) return;
          const r = el.getBoundingClientRect();
          if (r.top < 0 || r.top > window.innerHeight - 120) el.scrollIntoView({{block: 'start'}});
        }})();
        </script><span data-click="{count}"></span>""",
        unsafe_allow_javascript=True,
    )


# --- the inspect views ---------------------------------------------------------------


def _inspector(ds: Dataset, *, heatmap: bool = True) -> None:
    """Sample and pixel choice, what they are, and the heatmap: beside the grid."""
    state = st.session_state
    h, w = ds.shape
    scale = shell.value_scale()
    st.subheader("Inspect one sample")
    c = st.columns([3, 2, 2])
    c[0].number_input(
        "Sample index", min_value=0, max_value=len(ds) - 1, step=1, key=K_SAMPLE,
        on_change=_on_sample, help="Type an index to inspect it and jump to its page.",
    )
    c[1].number_input("Pixel row", min_value=0, max_value=h - 1, step=1, key=K_ROW)
    c[2].number_input("Pixel column", min_value=0, max_value=w - 1, step=1, key=K_COL)
    note = state.get(K_NOTE)
    if note:
        st.text(note)  # holds class names, which may be user-given: plain text
    sample, r, col = int(state[K_SAMPLE]), int(state[K_ROW]), int(state[K_COL])
    k = figures.flat_index(r, col, w)
    image = ds.images[sample]
    value = frames.display_values(image[r : r + 1, col : col + 1], scale).item()
    label = int(ds.labels[sample])
    st.text(
        f"sample #{sample}: {ds.class_names[label]} (label {label})\n"
        f"pixel row {r}, column {col} → index {r}×{w}+{col} = {k}, value {value:g}"
    )
    st.markdown("**As a picture** (click a cell to follow that pixel)")
    if not heatmap:
        st.container(height=420, border=False)  # its place, so the page does not jump
        return
    heat = figures.heatmap_figure(image, value_scale=scale, colorscale=shell.colorscale(), pixel=(r, col),
                                  size_px=420, meta={"sample": sample})  # names what it shows (tests, benchmarks)
    st.plotly_chart(
        heat,
        key=K_HEATMAP, on_select=partial(_on_pixel_click, K_HEATMAP), selection_mode="points",
        config={"displayModeBar": False},
    )


def _details(ds: Dataset) -> None:
    """The number grid and the vector: full width, where three digits per cell fit."""
    state = st.session_state
    h, w = ds.shape
    scale = shell.value_scale()
    sample, r, col = int(state[K_SAMPLE]), int(state[K_ROW]), int(state[K_COL])
    k = figures.flat_index(r, col, w)
    image = ds.images[sample]
    st.markdown(f"**As a grid of numbers** ({h}×{w}; click a cell to follow that pixel)")
    st.plotly_chart(
        figures.matrix_figure(image, value_scale=scale, colorscale=shell.colorscale(), pixel=(r, col)),
        key=K_MATRIX, on_select=partial(_on_pixel_click, K_MATRIX), selection_mode="points",
        config={"displayModeBar": False}, theme=None,
    )
    st.markdown(f"**As one row of {h * w} numbers** (dotted lines: the start of each image row)")
    st.plotly_chart(figures.vector_figure(image, value_scale=scale, index=k), key="explore_vector")
    with st.expander("The vector as text (copy it)"):
        st.code(frames.vector_text(image, scale, index=k), language=None, wrap_lines=True)


def light_run() -> bool:
    """Whether this run draws the light first page (see :func:`page`)."""
    return bool(st.context.headers) and not st.session_state.get(K_OPENED)


def page() -> None:
    """The Explore page."""
    ds = shell.current_dataset()
    _restore(ds)
    st.html(_CSS)
    st.title("Explore")
    st.text(ds.describe())
    overlay = model_overlay.choose(ds, on_change=partial(_go_to, 0))
    note = st.session_state.get(K_SUBSET_NOTE)
    if note:
        st.info(note)
    with st.container(key="explore_layout"):
        grid_col, inspect_col = st.columns([3, 2], gap="medium")
    details_area = st.container()
    # The browser draws what arrives in script order, each Plotly chart a long task on a
    # slow machine: after a thumbnail or pixel click the inspector goes first (it is what
    # the user waits for), otherwise the thumbnail grid does (a new tab, a page switch).
    inspect_first = bool(st.session_state.pop(K_INSPECT_FIRST, False))
    # A new tab (or a reload) first gets a light page: the thumbnails and the inspector's text,
    # no chart or table. Plotly's script (4.7 MB), the data grid's (1.2 MB) and the code view's
    # (1.5 MB) compile on the browser's one main thread: arriving with the grid, they held its
    # first paint back from ~1.5 s to ~4.5 s on a 2-core machine (a rerun started at once still
    # lost that race). A hidden watcher says when the tiles are on screen (or 3 s have passed),
    # and the rerun that starts draws the rest; it sits outside the grid's fragment (see
    # tilegrid.when_painted). Only with a browser on the other end (it sends headers): a
    # script run without one (AppTest) draws the whole page at once. The app leaves the
    # sidebar's widgets out of such a run too.
    light = light_run()
    if not inspect_first:
        with grid_col:
            browser(overlay, light=light)
    with inspect_col, st.container(key="explore_inspector"):
        _inspector(ds, heatmap=not light)
    if inspect_first:
        with grid_col:
            browser(overlay, light=light)
    if light:
        # Last on the page: until its hiding style arrives, its empty place shifts nothing.
        tilegrid.when_painted(selector=f".st-key-{K_GRID} .tg-tile img", on_painted=_on_grid_painted)
        return
    with details_area:
        if overlay is not None:
            model_overlay.inspector(ds, overlay, int(st.session_state[K_SAMPLE]))
        show_similar(ds, int(st.session_state[K_SAMPLE]), key="explore_similar")
        _details(ds)
    st.session_state[K_WHOLE_RUN] = True
    page_table()  # last: the heaviest element to render, after what the user looks at
    scroll = st.session_state.get(K_SCROLL, 0)
    if scroll:
        _scroll_script(scroll)
