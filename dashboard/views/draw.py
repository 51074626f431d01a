"""Draw: a digit drawn with the mouse (or a finger), made into a dataset image and shown like any sample.

The drawing is turned into the chosen dataset's format the way MNIST was made
(:func:`dashboard.lab.drawing.to_dataset_image`) and shown the same four linked
ways as a sample on Explore, by the same figure builders. With a saved run
chosen, its prediction and probabilities follow every stroke, with the
nearest training images. Drawings can be added to a scratch set (kept like an
upload, never mixed into the real data) and that set opened as a dataset.

The canvas and everything that depends on it form one ``st.fragment``: a
stroke reruns only that part of the page.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from dashboard import shell
from dashboard.data.dataset import Dataset
from dashboard.data.scratch import ScratchSet, default_root
from dashboard.errors import DashboardError
from dashboard.explore import figures, frames, thumbnails
from dashboard.explore.nearest import NearestIndex
from dashboard.lab import drawing
from dashboard.lab.predictions import PredictionCache, default_cache_root, predict_images
from dashboard.lab.runs import Run, RunStore
from dashboard.lab.train_figures import probability_figure
from dashboard.views.drawpad import decode_drawing, draw_pad, stroke_paths

CANVAS_PX = 280
STROKE_PX = 18  # ~2 px at 28x28 once the digit is scaled into its 20x20 box, as MNIST's strokes
N_NEIGHBOURS = 8

K_GEN = "draw_canvas_gen"
K_DRAWING = "draw_last"  # the pad's last value, kept past page switches (a widget's state is not)
K_RUN = "draw_run"
K_LABEL = "draw_label"
K_ROW, K_COL = "draw_row", "draw_col"
K_NOTICE = "draw_notice"
K_APP_RERUN = "draw_app_rerun"
NO_RUN = ""


@st.cache_resource(show_spinner="Indexing the training images…", max_entries=4)
def _nearest_index(key: str, _images: np.ndarray) -> NearestIndex:
    """One index per training set (``key``: name + checksum), shared by all sessions."""
    return NearestIndex(_images)


@st.cache_resource(max_entries=4)
def prediction_cache(runs_dir: str) -> PredictionCache:
    """The process's cache of runs' models and predictions (shared by Draw and Explore)."""
    return PredictionCache(RunStore(runs_dir), default_cache_root())


def fitting_runs(ds: Dataset) -> list[Run]:
    """Saved runs whose model reads ``ds``'s images (same shape and number of classes), newest first."""
    listing = RunStore(shell.runs_dir()).list()
    return [
        r for r in listing.runs
        if tuple(r.info.get("image_shape") or ()) == ds.shape and len(r.class_names) == ds.n_classes
    ]


def _run_title(runs: dict[str, Run], run_id: str) -> str:
    if run_id == NO_RUN:
        return "none"
    run = runs[run_id]
    return f"{run.name} · {run_id}"


def _clear() -> None:
    # A new key is a new, empty canvas.
    st.session_state[K_GEN] = st.session_state.get(K_GEN, 0) + 1
    st.session_state.pop(K_DRAWING, None)


def _on_pixel_click(chart_key: str, shape: tuple[int, int]) -> None:
    pixel = figures.clicked_pixel(st.session_state[chart_key].selection, shape)
    if pixel is not None:
        st.session_state[K_ROW], st.session_state[K_COL] = pixel


def _scratch(ds: Dataset) -> ScratchSet:
    return ScratchSet(default_root(), ds.shape, ds.class_names)


def _add_to_scratch(ds: Dataset, image: np.ndarray) -> None:
    try:
        saved = _scratch(ds).add(image, int(st.session_state.get(K_LABEL, 0)))
        plural = "" if len(saved) == 1 else "s"
        st.session_state[K_NOTICE] = ("success", f"Added: the scratch set holds {len(saved):,} drawing{plural}.")
        _clear()
    except DashboardError as exc:
        st.session_state[K_NOTICE] = ("error", f"Not added: {exc}")
    # The notice and the scratch set's size sit outside the fragment this click reruns.
    st.session_state[K_APP_RERUN] = True


def _open_scratch(ds: Dataset) -> None:
    try:
        scratch = _scratch(ds).load()
    except DashboardError as exc:
        st.session_state[K_NOTICE] = ("error", f"The scratch set cannot be opened: {exc}")
        return
    if scratch is None:
        st.session_state[K_NOTICE] = ("info", "The scratch set is empty: add a drawing first.")
        return
    # Opened exactly as an upload is (the sidebar lists it; it replaces this session's
    # upload and is counted in the server's upload memory); the real data stays untouched.
    label = shell.UPLOAD_PREFIX + scratch.name
    held = shell.HeldUpload({label: {"all": scratch}})
    sid = shell._session_id()
    try:
        shell.upload_ledger().hold(sid, scratch.images.nbytes + scratch.labels.nbytes, held,
                                   partial(shell._evict, sid, held))
    except DashboardError as exc:
        st.session_state[K_NOTICE] = ("error", f"The scratch set cannot be opened: {exc}")
        return
    st.session_state[shell.K_UPLOADS] = held
    st.session_state.pop("upload_holdouts", None)
    st.session_state[shell.K_SWITCH] = label


def _clear_scratch(ds: Dataset) -> None:
    _scratch(ds).clear()
    st.session_state[K_NOTICE] = ("info", "The scratch set is empty now.")


@st.fragment
def drawing_area(ds: Dataset, train: Dataset, run: Run | None) -> None:
    """Canvas, the drawing four ways, the model's view of it, the scratch set."""
    state = st.session_state
    if state.pop(K_APP_RERUN, False):
        st.rerun(scope="app")
    h, w = ds.shape
    scale = shell.value_scale()
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Draw here** (with the mouse or a finger)")
        kept = state.get(K_DRAWING)
        with st.container(key="draw_pad"):
            # After a page switch the pad mounts empty: it is handed the kept strokes to redraw.
            result = draw_pad(key=f"draw_canvas_{state.get(K_GEN, 0)}", size=CANVAS_PX, stroke=STROKE_PX,
                              paths=stroke_paths(kept, CANVAS_PX))
        st.button("Clear", icon=":material/delete:", key="draw_clear", on_click=_clear)
    if result.drawing is not None:
        state[K_DRAWING] = result.drawing
    rgba, strokes = decode_drawing(state.get(K_DRAWING), CANVAS_PX)
    image = drawing.to_dataset_image(rgba, ds.shape) if rgba is not None and strokes else None
    with right:
        if image is None:
            st.info(f"Nothing drawn yet. Draw a digit: it becomes a {h}x{w} image as MNIST's were made "
                    f"(scaled into a {'x'.join(map(str, drawing.box_shape(ds.shape)))} box, centred by "
                    "its centre of mass).")
            return
        if run is None:
            st.text(f"strokes: {strokes} · choose a saved run above to see a prediction")
            probs = None
        else:
            model = prediction_cache(str(shell.runs_dir())).model(run.run_id)
            probs = predict_images(model, image, ds.n_classes)[0]
            top = int(np.argmax(probs))
            st.text(f"strokes: {strokes} · prediction: {ds.class_names[top]} ({probs[top]:.1%})")
        probs_area = st.container()

    r, c = int(state.get(K_ROW, h // 2)), int(state.get(K_COL, w // 2))
    r, c = min(r, h - 1), min(c, w - 1)
    k = figures.flat_index(r, c, w)
    st.subheader(f"Your drawing as a {h}x{w} image")
    value = frames.display_values(image[r : r + 1, c : c + 1], scale).item()
    st.text(f"pixel row {r}, column {c} → index {r}×{w}+{c} = {k}, value {value:g}")
    a, b = st.columns([2, 3])
    # Sent in order of need: the numbers first, then the charts that follow every stroke less urgently.
    with b:
        st.markdown(f"**As a grid of numbers** ({h}×{w})")
        st.plotly_chart(
            figures.matrix_figure(image, value_scale=scale, colorscale=shell.colorscale(), pixel=(r, c)),
            key="draw_matrix", on_select=partial(_on_pixel_click, "draw_matrix", ds.shape),
            selection_mode="points", config={"displayModeBar": False}, theme=None,
        )
    if probs is not None:
        probs_area.plotly_chart(probability_figure(probs, ds.class_names), key="draw_probs",
                                config={"displayModeBar": False})
    with a:
        st.markdown("**As a picture** (click a cell to follow that pixel)")
        st.plotly_chart(
            figures.heatmap_figure(image, value_scale=scale, colorscale=shell.colorscale(), pixel=(r, c)),
            key="draw_heatmap", on_select=partial(_on_pixel_click, "draw_heatmap", ds.shape),
            selection_mode="points", config={"displayModeBar": False},
        )
    st.markdown(f"**As one row of {h * w} numbers** (dotted lines: the start of each image row)")
    st.plotly_chart(figures.vector_figure(image, value_scale=scale, index=k), key="draw_vector")
    label = int(state.get(K_LABEL, 0))
    frame = frames.page_frame(image.reshape(1, -1), np.array([label]), [0], scale)
    st.markdown("**As a DataFrame row** (label: what you say it is, below)")
    st.dataframe(frames.display_table(frame, 0, k), key="draw_row_table", hide_index=True, height=80)

    st.subheader("Nearest training images")
    nearest = _nearest_index(f"{train.name}|{train.split}|{train.checksum}", train.images).query(
        image, k=N_NEIGHBOURS)
    captions = [f"#{i} {train.class_names[train.labels[i]]}" for i in nearest.indices.tolist()]
    hover = [f"sample {i} of {train.name} ({train.split}): {train.class_names[train.labels[i]]}, "
             f"distance {d:.2f}" for i, d in zip(nearest.indices.tolist(), nearest.distances.tolist())]
    st.plotly_chart(thumbnails.tiles_figure(train.images[nearest.indices], captions, hover=hover,
                                            cols=N_NEIGHBOURS), key="draw_nearest",
                    config={"displayModeBar": False}, theme=None)
    st.caption(f"Closest first, by Euclidean distance of the pixels (0–1) among {len(train):,} "
               f"{train.split} images.")

    st.subheader("Keep it")
    s = st.columns([2, 2, 2, 2])
    if probs is not None and K_LABEL not in state:
        state[K_LABEL] = int(np.argmax(probs))
    s[0].selectbox("This is a…", list(range(ds.n_classes)), format_func=lambda i: ds.class_names[i],
                   key=K_LABEL)
    s[1].button("Add to the scratch set", icon=":material/add:", key="draw_add",
                on_click=_add_to_scratch, args=(ds, image))


def page() -> None:
    """The Draw page."""
    ds = shell.current_dataset()
    try:
        train, _ = shell.train_test()
    except DashboardError:  # a set too small to hold out a test part (a scratch set of one drawing)
        train = ds
    st.title("Draw a digit")
    notice = st.session_state.pop(K_NOTICE, None)
    if notice:
        getattr(st, notice[0])(shell.plain(notice[1]))
    runs = {r.run_id: r for r in fitting_runs(ds)}
    if st.session_state.get(K_RUN) not in (NO_RUN, *runs):
        st.session_state[K_RUN] = next(iter(runs), NO_RUN)
    c = st.columns([3, 2])
    run_id = c[0].selectbox(
        "Model (a saved run)", [NO_RUN, *runs], key=K_RUN, format_func=partial(_run_title, runs),
        help=f"Saved runs trained on {ds.shape[0]}x{ds.shape[1]} images with {ds.n_classes} classes.",
    )
    if not runs:
        c[1].caption("No saved run fits this dataset yet: train one on the Train page.")
    run = runs.get(run_id)
    try:
        # Built on opening the page (seconds, once per set), not on the first stroke.
        _nearest_index(f"{train.name}|{train.split}|{train.checksum}", train.images)
        drawing_area(ds, train, run)
    except DashboardError as exc:
        st.error(shell.plain(f"The drawing could not be shown: {exc}"))

    st.subheader("Scratch set")
    scratch = _scratch(ds)
    try:
        n = len(scratch)
    except DashboardError as exc:
        st.error(shell.plain(f"The scratch set cannot be read: {exc}"))
        n = 0
    st.text(f"{n:,} drawings of {ds.shape[0]}x{ds.shape[1]} kept in {scratch.path}")
    b = st.columns([2, 2, 4])
    b[0].button("Open it as a dataset", icon=":material/folder_open:", key="draw_open_scratch",
                on_click=_open_scratch, args=(ds,), disabled=n == 0)
    b[1].button("Empty it", icon=":material/delete_sweep:", key="draw_clear_scratch",
                on_click=_clear_scratch, args=(ds,), disabled=n == 0)
