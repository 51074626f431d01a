"""Explore: browse a dataset page by page, click a sample, see it four ways.

The browser (filter, paging, thumbnail grid, page table) is one ``st.fragment``,
so paging reruns only it. Picking a sample or a pixel reruns the whole page,
because the four inspect views depend on them. All state lives in
``st.session_state`` under ``explore_*`` keys and is reset when the dataset
(name, split or content) changes.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from dashboard import shell
from dashboard.explore import browse
from dashboard.explore import figures
from dashboard.explore import frames
from dashboard.explore import thumbnails
from dashboard.views import model_overlay
from dashboard.data.dataset import Dataset

# Session-state keys (widgets are driven by these keys in the tests too).
K_DS = "explore_ds"
K_CLASSES = "explore_classes"
K_SIZE = "explore_page_size"
K_PAGE = "explore_page"
K_RANDOM = "explore_random"
K_SAMPLE = "explore_sample"
K_ROW = "explore_row"
K_COL = "explore_col"
K_GRID = "explore_grid"
K_HEATMAP = "explore_heatmap"
K_MATRIX = "explore_matrix"
K_APP_RERUN = "explore_app_rerun"
K_NOTE = "explore_note"
GRID_COLS = 12


def _ds_key(ds: Dataset) -> str:
    return f"{ds.name}|{ds.split}|{ds.checksum}"


def _reset_if_new(ds: Dataset) -> None:
    """Start from page 1, sample 0 and the centre pixel whenever the dataset changes."""
    state = st.session_state
    key = _ds_key(ds)
    if state.get(K_DS) == key:
        return
    for k in (K_CLASSES, K_PAGE, K_RANDOM, K_SAMPLE, K_ROW, K_COL, K_NOTE, K_APP_RERUN):
        state.pop(k, None)
    h, w = ds.shape
    state[K_DS] = key
    state[K_PAGE] = 0
    state[K_SAMPLE] = 0
    state[K_ROW] = h // 2
    state[K_COL] = w // 2
    state.setdefault(K_SIZE, browse.PAGE_SIZES[1])


def _filtered(ds: Dataset) -> np.ndarray:
    return browse.filter_indices(ds.labels, st.session_state.get(K_CLASSES) or None)


# --- callbacks (run before the rerun they cause) ---------------------------------


def _go_to(page: int) -> None:
    st.session_state[K_PAGE] = page


def _step(delta: int) -> None:
    st.session_state[K_PAGE] = st.session_state.get(K_PAGE, 0) + delta


def _ask_random() -> None:
    st.session_state[K_RANDOM] = True


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
            f"Sample {sample} is class {ds.class_names[ds.labels[sample]]}, which the class "
            "filter hides; it is inspected below but not on the grid."
        )
    else:
        state[K_PAGE] = page
        state.pop(K_NOTE, None)


def _on_grid_click() -> None:
    sample = thumbnails.clicked_value(st.session_state[K_GRID].selection)
    if sample is not None and sample != st.session_state.get(K_SAMPLE):
        st.session_state[K_SAMPLE] = sample
        st.session_state.pop(K_NOTE, None)
        # The click reran only the fragment; the inspect views need the whole page.
        st.session_state[K_APP_RERUN] = True


def _on_pixel_click(chart_key: str) -> None:
    ds = shell.current_dataset()
    pixel = figures.clicked_pixel(st.session_state[chart_key].selection, ds.shape)
    if pixel is not None:
        st.session_state[K_ROW], st.session_state[K_COL] = pixel


# --- the browser fragment ------------------------------------------------------------


@st.fragment
def browser(table_area, overlay: model_overlay.Overlay | None = None) -> None:
    """Filter, page controls, thumbnail grid; the page table goes into ``table_area``."""
    state = st.session_state
    if state.pop(K_APP_RERUN, False):
        st.rerun(scope="app")
    ds = shell.current_dataset()
    scale = shell.value_scale()

    left, right = st.columns([4, 1])
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

    b = st.columns([1, 1, 1, 1, 1, 4])
    at_start, at_end = page.number == 0, page.number >= page.n_pages - 1
    # Material icons ship with Streamlit's own font: they render where emoji fonts are missing.
    b[0].button("First", icon=":material/first_page:", key="explore_first", on_click=_go_to,
                args=(0,), disabled=at_start)
    b[1].button("Previous", icon=":material/chevron_left:", key="explore_prev", on_click=_step,
                args=(-1,), disabled=at_start)
    b[2].button("Next", icon=":material/chevron_right:", key="explore_next", on_click=_step,
                args=(1,), disabled=at_end)
    b[3].button("Last", icon=":material/last_page:", key="explore_last", on_click=_go_to,
                args=(page.n_pages - 1,), disabled=at_end)
    b[4].button("Random", icon=":material/shuffle:", key="explore_random_page", on_click=_ask_random)
    what = browse.selection_label(ds.class_names, state.get(K_CLASSES))
    # Plain text: class names may come from a user's file.
    b[5].text(f"{browse.showing_text(page, what)} · page {page.number + 1:,} of {page.n_pages:,}")

    sample = int(state.get(K_SAMPLE, 0))
    if len(page.indices):
        fig = thumbnails.grid_figure(
            ds.images, ds.labels, ds.class_names, page.indices, cols=GRID_COLS, selected_sample=sample
        ) if overlay is None else model_overlay.grid_figure(
            ds, overlay, page.indices, cols=GRID_COLS, selected_sample=sample)
        st.plotly_chart(
            fig, key=K_GRID, on_select=_on_grid_click, selection_mode="points",
            config={"displayModeBar": False}, theme=None,
        )
        st.caption("Click a thumbnail to inspect it below.")
    else:
        st.info("No sample matches the filter.")

    pixel_k = figures.flat_index(int(state[K_ROW]), int(state[K_COL]), ds.shape[1])
    frame = frames.page_frame(ds.flat(), ds.labels, page.indices, scale)
    with table_area:
        _page_table(ds, frame, page, indices, sample, pixel_k, scale)


def _page_table(
    ds: Dataset, frame, page: browse.Page, indices: np.ndarray, sample: int, pixel_k: int, scale: float
) -> None:
    st.subheader("This page as a table")
    st.caption(
        f"One row per sample: label, then pixel0 … pixel{ds.n_features - 1} (pixel (r, c) is "
        f"column r×{ds.shape[1]}+c). ▶ marks the inspected sample; the chosen pixel's column "
        "is moved next to the label."
    )
    shown = frames.display_table(frame, sample, pixel_k)
    st.dataframe(
        shown,
        key="explore_table",
        height=min(38 + 35 * len(shown), 400),
        hide_index=True,
        column_config={
            "sample": st.column_config.NumberColumn("sample", pinned=True),
            "inspected": st.column_config.TextColumn("▶", width="small", pinned=True),
            "label": st.column_config.NumberColumn("label", pinned=True),
            f"pixel{pixel_k}": st.column_config.NumberColumn(f"pixel{pixel_k} ◀", pinned=True),
        },
    )
    stem = f"{ds.name}-{ds.split}".replace(" ", "_").replace(":", "")
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download this page (CSV)", lambda: frames.csv_bytes(frame), file_name=f"{stem}-page{page.number + 1}.csv",
        mime="text/csv", key="explore_csv_page", on_click="ignore",
    )
    # Both deferred (built on click): CSV of even one page costs more than the rest of a
    # page change, and the filtered set can be 60,000 rows.
    c2.download_button(
        f"Download all {len(indices):,} filtered samples (CSV)",
        lambda: frames.csv_bytes(frames.page_frame(ds.flat(), ds.labels, indices, scale)),
        file_name=f"{stem}-filtered.csv", mime="text/csv", key="explore_csv_all", on_click="ignore",
    )


# --- the inspect views ---------------------------------------------------------------


def _inspect(ds: Dataset, overlay: model_overlay.Overlay | None = None) -> None:
    state = st.session_state
    h, w = ds.shape
    scale = shell.value_scale()
    st.subheader("Inspect one sample")
    c = st.columns([2, 1, 1, 3])
    c[0].number_input(
        "Sample index (jump to it)", min_value=0, max_value=len(ds) - 1, step=1, key=K_SAMPLE,
        on_change=_on_sample,
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
    c[3].text(
        f"sample #{sample}: {ds.class_names[label]} (label {label})\n"
        f"pixel row {r}, column {col} → index {r}×{w}+{col} = {k}, value {value:g}"
    )

    # The number grid gets the wider column: at 28x28 its cells must hold three digits.
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**As a picture** (click a cell to follow that pixel)")
        st.plotly_chart(
            figures.heatmap_figure(image, value_scale=scale, colorscale=shell.colorscale(), pixel=(r, col)),
            key=K_HEATMAP, on_select=partial(_on_pixel_click, K_HEATMAP), selection_mode="points",
            config={"displayModeBar": False},
        )
    with right:
        st.markdown(f"**As a grid of numbers** ({h}×{w})")
        st.plotly_chart(
            figures.matrix_figure(image, value_scale=scale, pixel=(r, col)),
            key=K_MATRIX, on_select=partial(_on_pixel_click, K_MATRIX), selection_mode="points",
            config={"displayModeBar": False}, theme=None,
        )
    st.markdown(f"**As one row of {h * w} numbers** (dotted lines: the start of each image row)")
    st.plotly_chart(figures.vector_figure(image, value_scale=scale, index=k), key="explore_vector")
    with st.expander("The vector as text (copy it)"):
        st.code(frames.vector_text(image, scale), language=None, wrap_lines=True)
    if overlay is not None:
        model_overlay.inspector(ds, overlay, sample)


def page() -> None:
    """The Explore page."""
    ds = shell.current_dataset()
    _reset_if_new(ds)
    st.title("Explore")
    st.text(ds.describe())
    overlay = model_overlay.choose(ds, on_change=partial(_go_to, 0))
    browse_area = st.container()
    inspect_area = st.container()
    table_area = st.container()
    with inspect_area:
        _inspect(ds, overlay)
    with browse_area:
        browser(table_area, overlay)
