"""Everything about one saved run, reopened from its folder: :func:`show_run`.

Used by the Runs page (the chosen run) and by the Train page (once a job is
done). The run's model is loaded with skops; its test split comes from the
app's shared dataset access (:func:`dashboard.shell.get_split`, or the
session's own upload when the run was trained on it). The model and the test
predictions are loaded once per run and cached (keyed by the run's folder and
id), so a rerun -- a click on a cell, a new sample number -- recomputes nothing.

Each section is drawn on its own: one that fails shows a short message and the
others still render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from sklearn.neural_network import MLPClassifier

from dashboard import shell
from dashboard.data.catalog import dataset_names
from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError, DataError
from dashboard.explore.thumbnails import picture_uri
from dashboard.lab import train_figures
from dashboard.lab.imageprep import prepare_upload
from dashboard.lab.models import first_layer
from dashboard.lab.results import (
    RunOutputs,
    cell_samples,
    confident_mistakes,
    pair_outputs,
    predict_full,
    top_classes,
)
from dashboard.lab.runs import MODEL_FILE, TEST_FILE, Run, RunStore
from dashboard.lab.training import BASELINES, EpochReport

MAX_CELL_IMAGES = 30
N_MISTAKES = 16
IMAGE_WIDTH = 84


# --- cached loading (per server process, keyed by folder + id + file times) -------------


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Loading the run's model…", max_entries=16)
def _model(root: str, run_id: str, stamp: float) -> MLPClassifier:
    return RunStore(Path(root)).load_model(run_id)


@st.cache_resource(show_spinner="Reading the run's test predictions…", max_entries=16)
def _outputs(root: str, run_id: str, stamp: float, test_checksum: str, _test: Dataset,
             _confusion: tuple) -> RunOutputs:
    # _test and _confusion are not hashed: test_checksum and (root, run_id, stamp) identify them.
    store = RunStore(Path(root))
    try:
        predictions, probabilities = store.load_test_outputs(run_id)
    except DataError:
        predictions = probabilities = None  # older or damaged: recomputed once with the model
    model = _model(root, run_id, _stamp(Path(root) / run_id / MODEL_FILE))
    return pair_outputs(_test, predictions, probabilities, np.asarray(_confusion), model)


def load_model(run: Run) -> MLPClassifier:
    """The run's model (cached; shared by every session: never modify it)."""
    return _model(str(run.path.parent), run.run_id, _stamp(run.path / MODEL_FILE))


def run_test_split(run: Run) -> Dataset:
    """The test split the run was evaluated on.

    The session's chosen dataset first (an upload's held-out test part only
    exists there), recognised by the training split's checksum; else the
    catalog set of that name.

    Raises
    ------
    DataError
        If the data is not available in this session.
    """
    try:
        train, test = shell.train_test()
        if train.name == run.dataset and train.checksum == run.info.get("dataset_checksum"):
            return test
    except DashboardError:
        pass
    if run.dataset in dataset_names():
        return shell.get_split(run.dataset, "test")
    raise DataError(f"this run was trained on your file {run.dataset!r}, which is not loaded in this session: "
                    "upload it again in the sidebar (Your own data) to see its test images")


def run_outputs(run: Run, test: Dataset) -> RunOutputs:
    """The run's test predictions paired with ``test`` (cached; see :func:`pair_outputs`)."""
    confusion = tuple(tuple(row) for row in run.info["metrics"]["test_confusion"])
    return _outputs(str(run.path.parent), run.run_id, _stamp(run.path / TEST_FILE), test.checksum, test, confusion)


# --- the view ------------------------------------------------------------------------


def show_run(run: Run, *, key: str) -> None:
    """Draw everything about one saved run.

    Test accuracy beside the published baselines, per-class precision / recall /
    F1, the test confusion matrix (click a cell: its images with their
    probabilities), the most confident mistakes, the first-layer weights, and
    Predict on a test sample or an uploaded PNG/JPG.

    Parameters
    ----------
    run : Run
        A run from :class:`dashboard.lab.runs.RunStore`.
    key : str
        Prefix of every widget key, so that several views can share a page.
    """
    names = run.class_names
    st.subheader(shell.plain(run.name))
    _section("the summary", _summary, run, key)
    test: Dataset | None = None
    outputs: RunOutputs | None = None
    try:
        test = run_test_split(run)
        outputs = run_outputs(run, test)
    except DashboardError as exc:
        st.info(shell.plain(f"Test images are not shown: {exc}."))
    except Exception as exc:  # noqa: BLE001 - no page shows a traceback
        _unexpected("reading the test split", exc)
    _section("the per-class scores", _per_class, run, key)
    _section("the test confusion matrix", _confusion, run, key, test, outputs)
    if test is not None and outputs is not None:
        _section("the mistakes", _mistakes, names, test, outputs)
    _section("the first-layer weights", _weights, run, key)
    _section("Predict", _predict, run, key, test, outputs)


def _section(what: str, draw: Callable, *args) -> None:
    try:
        draw(*args)
    except DashboardError as exc:
        st.error(shell.plain(f"Cannot show {what}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - no page shows a traceback
        _unexpected(f"showing {what}", exc)


def _unexpected(doing: str, exc: Exception) -> None:
    st.error(shell.plain(f"Something unexpected went wrong {doing}; the rest of the page still works."))
    with st.expander("Details"):
        st.code(f"{type(exc).__name__}: {exc}", language=None)


def _summary(run: Run, key: str) -> None:
    info = run.info
    status = info.get("status", "completed")
    history = run.history
    if status == "stopped":
        st.info(f"Stopped by you after epoch {len(history)} of {history[-1].epochs}; the model is kept.")
    st.caption(kept_text(history, run.kept_epoch, bool(info["params"].get("keep_best", True)),
                         int(info.get("averaged_epochs") or info["params"].get("average_last") or 0)))
    baselines = BASELINES.get(run.dataset, {})
    cols = st.columns(1 + len(baselines))
    cols[0].metric("Test accuracy", f"{run.test_accuracy:.4f}")
    for col, (label, value) in zip(cols[1:], baselines.items()):
        col.metric(label, f"{value:.4f}", delta=f"{run.test_accuracy - value:+.4f} for this run")
    seconds = info.get("timing", {}).get("total")
    when = run.created_at.strftime("%Y-%m-%d %H:%M UTC") if run.created_at else "an unknown date"
    took = f" ({seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
    st.caption(shell.plain(f"Saved as run {run.run_id}{took}: {run.dataset}, {when}."))


def kept_text(history: Sequence[EpochReport], kept_epoch: int, keep_best: bool, averaged_epochs: int = 0) -> str:
    """Which epoch's weights the model holds, for the results.

    Parameters
    ----------
    history : sequence of EpochReport
        The finished epochs.
    kept_epoch : int
        1-based epoch whose weights were kept.
    keep_best : bool
        Whether the run kept its best-validation epoch (else its last one).
    averaged_epochs : int
        How many of the last epochs' weights the model averages (0 = none);
        averaging overrides ``keep_best``.

    Returns
    -------
    str
        E.g. "Kept epoch 24 of 30, best validation accuracy 0.9060 (last epoch 0.8983)."
    """
    last = history[-1].val_accuracy
    if averaged_epochs:
        averaged_epochs = min(averaged_epochs, len(history))
        first = len(history) - averaged_epochs + 1
        return (f"Averaged the weights of the last {averaged_epochs} epochs ({first}–{len(history)} of "
                f"{len(history)}); last epoch's validation accuracy {last:.4f}.")
    kept = history[kept_epoch - 1].val_accuracy
    if keep_best:
        return (f"Kept epoch {kept_epoch} of {len(history)}, best validation accuracy {kept:.4f} "
                f"(last epoch {last:.4f}).")
    return f"Kept the last epoch, {kept_epoch} of {len(history)}: validation accuracy {kept:.4f}."


def _per_class(run: Run, key: str) -> None:
    m, names = run.info["metrics"], run.class_names
    st.markdown("**Per class**")
    st.plotly_chart(train_figures.per_class_figure(m["precision"], m["recall"], m["f1"], names),
                    key=f"{key}_per_class")
    st.dataframe(pd.DataFrame({"class": names, "precision": m["precision"], "recall": m["recall"],
                               "f1": m["f1"], "support": m["support"]}), hide_index=True)


def _images(images: np.ndarray, captions: list[str]) -> None:
    if len(images):
        # Captions render markdown and hold class names, which may be a user's.
        st.image([picture_uri(im, IMAGE_WIDTH) for im in images], caption=[shell.plain(c) for c in captions],
                 width=IMAGE_WIDTH)
    else:
        st.caption("No images here.")


def probability_caption(i: int, probabilities: np.ndarray, names: Sequence[str]) -> str:
    """``"#12 7 0.98, 2 0.01"``: a sample's number and its two most probable classes."""
    return f"#{i} " + ", ".join(f"{names[c]} {p:.2f}" for c, p in top_classes(probabilities, 2))


def _confusion(run: Run, key: str, test: Dataset | None, outputs: RunOutputs | None) -> None:
    names = run.class_names
    matrix = np.asarray(run.info["metrics"]["test_confusion"])
    st.markdown("**Test confusion matrix**: click a cell to see its images")
    normalise = st.toggle("Row-normalised", key=f"{key}_normalise")
    event = st.plotly_chart(
        train_figures.confusion_figure(matrix, names, normalise=normalise, title="Test confusion matrix"),
        key=f"{key}_test_conf", on_select="rerun", selection_mode="points",
    )
    cell = train_figures.selected_cell(event.selection.points if event else [], n_classes=len(names))
    if cell is None:
        return
    t, p = cell
    if test is None or outputs is None:
        st.caption(shell.plain(f"True {names[t]}, predicted {names[p]}: {int(matrix[t, p])} images "
                               "(the test images are not available here)."))
        return
    idx = cell_samples(outputs, t, p)
    more = f" (first {MAX_CELL_IMAGES})" if len(idx) > MAX_CELL_IMAGES else ""
    st.write(f"True **{shell.plain(names[t])}**, predicted **{shell.plain(names[p])}**: {len(idx)} images{more}")
    idx = idx[:MAX_CELL_IMAGES]
    _images(test.images[idx], [probability_caption(int(i), outputs.probabilities[i], names) for i in idx])


def _mistakes(names: Sequence[str], test: Dataset, outputs: RunOutputs) -> None:
    st.markdown("**Most confident mistakes**")
    worst = confident_mistakes(outputs, N_MISTAKES)
    _images(test.images[worst], [
        f"#{i} {names[outputs.labels[i]]}→{names[outputs.predictions[i]]} "
        f"{outputs.probabilities[i, outputs.predictions[i]]:.2f}"
        for i in worst
    ])


def _image_shape(run: Run) -> tuple[int, int]:
    shape = run.info.get("image_shape")
    if shape:
        return int(shape[0]), int(shape[1])
    n = int(first_layer(load_model(run)).shape[0])
    side = int(round(n ** 0.5))
    if side * side != n:
        raise DataError(f"the run does not record its image shape and {n} pixels are not a square")
    return side, side


def _weights(run: Run, key: str) -> None:
    what = "hidden unit" if run.info.get("params", {}).get("model", "mlp") == "mlp" else "class (linear model)"
    st.markdown(f"**First-layer weights**: what each {what} looks for (red +, blue −)")
    st.plotly_chart(train_figures.weights_figure(first_layer(load_model(run)), _image_shape(run)),
                    key=f"{key}_weights")


def _predict(run: Run, key: str, test: Dataset | None, outputs: RunOutputs | None) -> None:
    names = run.class_names
    st.subheader("Predict")
    tab_sample, tab_upload = st.tabs(["A test sample", "Your image"])
    with tab_sample:
        if test is None or outputs is None:
            st.caption("The test images of this run are not available here; try your own image.")
        else:
            i = int(st.number_input(f"Sample (0–{len(test) - 1})", min_value=0, max_value=len(test) - 1,
                                    step=1, key=f"{key}_sample"))
            c1, c2 = st.columns([1, 3])
            c1.image(picture_uri(test.images[i], IMAGE_WIDTH * 2),
                     caption=f"#{i} true: {shell.plain(names[test.labels[i]])}", width=IMAGE_WIDTH * 2)
            # The saved probabilities: computed once for the whole test split.
            c2.plotly_chart(train_figures.probability_figure(outputs.probabilities[i], names,
                                                             true=int(outputs.labels[i])),
                            key=f"{key}_sample_proba")
    with tab_upload:
        upload = st.file_uploader("A PNG or JPG image", type=["png", "jpg", "jpeg"], key=f"{key}_upload")
        if upload is not None:
            try:
                image = prepare_upload(upload.getvalue(), _image_shape(run))
            except DashboardError as exc:
                st.error(shell.plain(str(exc)))
                return
            c1, c2 = st.columns([1, 3])
            c1.image(image, caption="as the model sees it", width=IMAGE_WIDTH * 2)
            proba = predict_full(load_model(run), image, len(names))[0]
            c2.plotly_chart(train_figures.probability_figure(proba, names), key=f"{key}_upload_proba")
