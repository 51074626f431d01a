"""Train: set hyper-parameters, train in the background, watch each epoch, study the result.

One :class:`~dashboard.lab.jobs.TrainingJob` per session, kept in
``st.session_state[K_JOB]``; it runs in its own thread, so the page stays
responsive and switching pages does not stop it. While it runs, a fragment
re-draws itself every :data:`REFRESH_SECONDS` from ``job.snapshot()``; when it
ends, the whole page reruns once to show the results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import shell
from dashboard.lab import train_figures
from dashboard.errors import DashboardError
from dashboard.lab.imageprep import prepare_upload
from dashboard.lab.trainjob import DONE, FAILED, TrainingJob
from dashboard.lab.runs import RunStore
from dashboard.lab.training import (
    ACTIVATIONS,
    BASELINES,
    PRESETS,
    EpochReport,
    SOLVERS,
    TrainParams,
    estimate_seconds,
    predict_proba,
)

REFRESH_SECONDS = 1.0
MAX_CELL_IMAGES = 30
N_MISTAKES = 16
IMAGE_WIDTH = 84

# Session-state keys (the tests drive the widgets by these keys).
K_JOB = "train_job"
K_SHOWN = "train_shown"  # set once the page has rerun for the current job's end
K_PRESET, K_FORM = "train_preset", "train_form"
K_FROM_PRESET = "train_from_preset"  # True while the fields hold a preset's values, not yet submitted
K_HIDDEN, K_ACTIVATION, K_SOLVER = "train_hidden", "train_activation", "train_solver"
K_ALPHA, K_LR, K_BATCH = "train_alpha", "train_learning_rate", "train_batch_size"
K_EPOCHS, K_SIZE, K_VAL, K_SEED = "train_epochs", "train_train_size", "train_val_fraction", "train_seed"
K_KEEP = "train_keep_best"
K_AVERAGE = "train_average_last"
K_START, K_STOP, K_ERROR = "train_start", "train_stop", "train_error"
K_NORMALISE, K_TEST_CONF, K_SAMPLE, K_UPLOAD = "train_normalise", "train_test_conf", "train_sample", "train_upload"

# Form key -> TrainParams field.
FIELDS = {
    K_HIDDEN: "hidden", K_ACTIVATION: "activation", K_SOLVER: "solver", K_ALPHA: "alpha",
    K_LR: "learning_rate", K_BATCH: "batch_size", K_EPOCHS: "epochs", K_SIZE: "train_size",
    K_VAL: "val_fraction", K_SEED: "seed", K_KEEP: "keep_best", K_AVERAGE: "average_last",
}


def _apply_preset() -> None:
    """Copy the chosen preset into the form's widgets (a callback, before they are drawn)."""
    p = PRESETS[st.session_state[K_PRESET]]
    state = st.session_state
    state[K_HIDDEN] = ",".join(str(h) for h in p.hidden)
    state[K_ACTIVATION], state[K_SOLVER] = p.activation, p.solver
    state[K_ALPHA], state[K_LR] = f"{p.alpha:g}", f"{p.learning_rate:g}"
    state[K_BATCH], state[K_EPOCHS], state[K_SIZE] = p.batch_size, p.epochs, p.train_size
    state[K_VAL], state[K_SEED], state[K_KEEP] = p.val_fraction, p.seed, p.keep_best
    state[K_AVERAGE] = p.average_last
    state[K_FROM_PRESET] = True


def _form(running: bool) -> tuple[TrainParams | None, bool]:
    """Draw the preset selector and the parameter form.

    The fields sit in an ``st.form``: edits reach the script only with the
    "Train" button, so a field edited right after a preset change cannot re-send
    the old values and undo the preset (each widget change used to rerun the
    page). The preset selector stays outside, since choosing one fills the fields.

    Parameters
    ----------
    running : bool
        Whether the session's job is still training (the button is disabled).

    Returns
    -------
    params : TrainParams or None
        The form's current (last submitted or preset) values, parsed; None if
        one is invalid (the message is shown).
    submitted : bool
        Whether "Train" was clicked in this run.
    """
    state = st.session_state
    if K_PRESET not in state:
        state[K_PRESET] = "default"
        _apply_preset()
    if K_AVERAGE not in state:  # a session started before the field existed
        state[K_AVERAGE] = PRESETS[state[K_PRESET]].average_last
    st.selectbox("Preset", list(PRESETS), key=K_PRESET, on_change=_apply_preset,
                 help="quick: seconds. default: a solid MLP. best: the strongest found in ≤ 90 s on 2 cores.")
    # Enter in a field does not submit: starting a long run is the button's job.
    with st.form(K_FORM, enter_to_submit=False):
        _fields()
        submitted = st.form_submit_button("Train", key=K_START, type="primary", disabled=running)
    try:
        return TrainParams.from_strings({field: str(state[key]) for key, field in FIELDS.items()}), submitted
    except DashboardError as exc:
        st.error(str(exc))
        return None, submitted


def _fields() -> None:
    """The parameter widgets (inside the form)."""
    c1, c2, c3 = st.columns(3)
    c1.text_input("Hidden layer sizes", key=K_HIDDEN, help='Comma-separated, e.g. "256,128"')
    c1.selectbox("Activation", ACTIVATIONS, key=K_ACTIVATION)
    c1.selectbox("Solver", SOLVERS, key=K_SOLVER)
    c2.text_input("Alpha (L2 penalty)", key=K_ALPHA)
    c2.text_input("Learning rate", key=K_LR)
    c2.number_input("Batch size", min_value=1, step=50, key=K_BATCH)
    c3.number_input("Epochs", min_value=1, step=1, key=K_EPOCHS)
    c3.number_input("Train subset size (0 = all)", min_value=0, step=1000, key=K_SIZE)
    c3.number_input("Validation fraction", min_value=0.01, max_value=0.5, step=0.05, format="%.2f", key=K_VAL)
    c1, c2, c3 = st.columns(3)
    c1.number_input("Seed", min_value=0, step=1, key=K_SEED)
    c3.number_input("Average the last K epochs (0 = off)", min_value=0, step=1, key=K_AVERAGE,
                    help="At the end (or on Stop) the model takes the mean of the weights of the last K "
                         "epochs run, which damps adam's epoch-to-epoch wobble. Overrides keep-best.")
    c2.checkbox("Keep the best-validation epoch", key=K_KEEP,
                help="At the end (or on Stop) the model takes the weights of the epoch with the highest "
                     "validation accuracy, not the last epoch's. The test split plays no part in the choice.")


def _start(params: TrainParams) -> None:
    train, test = shell.train_test()
    try:
        job = TrainingJob(params, train, test, RunStore(shell.runs_dir()))
    except DashboardError as exc:
        st.session_state[K_ERROR] = str(exc)
        return
    st.session_state.pop(K_ERROR, None)
    st.session_state.pop(K_SHOWN, None)  # the new job's end must rerun the page once
    st.session_state[K_JOB] = job.start()


def _live(job: TrainingJob) -> None:
    """Progress, curves and validation confusion of the session's job (re-drawn by the fragment)."""
    snap = job.snapshot()
    done = snap.epoch / snap.epochs
    eta = f", about {snap.eta:.0f} s left" if snap.eta is not None else ""
    st.progress(min(1.0, done), text=f"{snap.state}: epoch {snap.epoch} of {snap.epochs}, "
                                     f"{snap.elapsed:.0f} s{eta}")
    if not snap.finished:
        st.button("Stop after this epoch", key=K_STOP, on_click=job.stop,
                  disabled=snap.state != "running")
    if snap.history:
        h = snap.history
        st.plotly_chart(
            train_figures.training_curves(
                [r.epoch for r in h], [r.loss for r in h], [r.train_accuracy for r in h],
                [r.val_accuracy for r in h], total_epochs=snap.epochs,
            ),
            key="train_curves",
        )
        norm = st.toggle("Row-normalised", key=K_NORMALISE)
        st.plotly_chart(
            train_figures.confusion_figure(
                h[-1].val_confusion, job.train.class_names, normalise=norm,
                title=f"Validation confusion matrix, epoch {h[-1].epoch}",
            ),
            key="train_val_conf",
        )
    if snap.finished and not st.session_state.get(K_SHOWN):
        st.session_state[K_SHOWN] = True
        st.rerun()  # the whole page, to draw the results below


def _images(images: np.ndarray, captions: list[str]) -> None:
    if len(images):
        # Captions render markdown and hold class names, which may be a user's.
        st.image([np.asarray(im) for im in images], caption=[shell.plain(c) for c in captions], width=IMAGE_WIDTH)
    else:
        st.caption("No images here.")


def _results(job: TrainingJob) -> None:
    snap = job.snapshot()
    metrics, test, run = snap.metrics, job.test, snap.run
    names = test.class_names
    st.subheader("Test result")
    if snap.stopped_early:
        st.info(f"Stopped by you after epoch {snap.epoch} of {snap.epochs}; the model is kept.")
    st.caption(kept_text(snap.history, snap.kept_epoch, job.params.keep_best, snap.averaged_epochs))
    cols = st.columns(1 + len(BASELINES.get(test.name, {})))
    cols[0].metric("Test accuracy", f"{metrics.accuracy:.4f}")
    for col, (label, value) in zip(cols[1:], BASELINES.get(test.name, {}).items()):
        col.metric(label, f"{value:.4f}", delta=f"{metrics.accuracy - value:+.4f} for this run")
    if run is not None:
        st.caption(f"Saved as run `{run.run_id}` ({run.info['timing']['total']:.1f} s); see the Runs page.")
    if snap.save_error:
        st.error(f"Not saved: {snap.save_error}")

    st.markdown("**Per class**")
    st.plotly_chart(train_figures.per_class_figure(metrics.precision, metrics.recall, metrics.f1, names),
                    key="train_per_class")
    st.dataframe(
        pd.DataFrame({"class": names, "precision": metrics.precision, "recall": metrics.recall,
                      "f1": metrics.f1, "support": metrics.support}),
        hide_index=True,
    )

    st.markdown("**Test confusion matrix**: click a cell to see its images")
    event = st.plotly_chart(
        train_figures.confusion_figure(metrics.confusion, names, normalise=st.session_state.get(K_NORMALISE, False),
                                       title="Test confusion matrix"),
        key=K_TEST_CONF, on_select="rerun", selection_mode="points",
    )
    cell = train_figures.selected_cell(event.selection.points if event else [])
    if cell is not None:
        t, p = cell
        idx = np.flatnonzero((test.labels == t) & (metrics.predictions == p))
        st.write(f"True **{shell.plain(names[t])}**, predicted **{shell.plain(names[p])}**: {len(idx)} images"
                 + (f" (first {MAX_CELL_IMAGES})" if len(idx) > MAX_CELL_IMAGES else ""))
        idx = idx[:MAX_CELL_IMAGES]
        _images(test.images[idx], [
            f"#{i} " + ", ".join(f"{names[k]} {metrics.probabilities[i, k]:.2f}"
                                for k in np.argsort(metrics.probabilities[i])[::-1][:2])
            for i in idx
        ])

    st.markdown("**Most confident mistakes**")
    wrong = np.flatnonzero(metrics.predictions != test.labels)
    confidence = metrics.probabilities[wrong, metrics.predictions[wrong]]
    worst = wrong[np.argsort(confidence)[::-1][:N_MISTAKES]]
    _images(test.images[worst], [
        f"#{i} {names[test.labels[i]]}→{names[metrics.predictions[i]]} {metrics.probabilities[i].max():.2f}"
        for i in worst
    ])

    st.markdown("**First-layer weights**: what each hidden unit looks for (red +, blue −)")
    st.plotly_chart(train_figures.weights_figure(job.model.coefs_[0], test.shape), key="train_weights")

    _predict(job)


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
        first = len(history) - averaged_epochs + 1
        return (f"Averaged the weights of the last {averaged_epochs} epochs ({first}–{len(history)} of "
                f"{len(history)}); last epoch's validation accuracy {last:.4f}.")
    kept = history[kept_epoch - 1].val_accuracy
    if keep_best:
        return (f"Kept epoch {kept_epoch} of {len(history)}, best validation accuracy {kept:.4f} "
                f"(last epoch {last:.4f}).")
    return f"Kept the last epoch, {kept_epoch} of {len(history)}: validation accuracy {kept:.4f}."


def _predict(job: TrainingJob) -> None:
    test, names = job.test, job.test.class_names
    st.subheader("Predict")
    tab_sample, tab_upload = st.tabs(["A test sample", "Your image"])
    with tab_sample:
        i = int(st.number_input(f"Sample (0–{len(test) - 1})", min_value=0, max_value=len(test) - 1,
                                step=1, key=K_SAMPLE))
        c1, c2 = st.columns([1, 3])
        c1.image(np.asarray(test.images[i]), caption=f"true: {shell.plain(names[test.labels[i]])}", width=IMAGE_WIDTH * 2)
        proba = predict_proba(job.model, test.images[i])[0]
        c2.plotly_chart(train_figures.probability_figure(proba, names, true=int(test.labels[i])),
                        key="train_sample_proba")
    with tab_upload:
        upload = st.file_uploader("A PNG or JPG image", type=["png", "jpg", "jpeg"], key=K_UPLOAD)
        if upload is not None:
            try:
                image = prepare_upload(upload.getvalue(), test.shape)
            except DashboardError as exc:
                st.error(str(exc))
                return
            c1, c2 = st.columns([1, 3])
            c1.image(image, caption="as the model sees it", width=IMAGE_WIDTH * 2)
            proba = predict_proba(job.model, image)[0]
            c2.plotly_chart(train_figures.probability_figure(proba, names), key="train_upload_proba")


def page() -> None:
    """The Train page."""
    st.title("Train")
    state = st.session_state
    job: TrainingJob | None = state.get(K_JOB)
    running = job is not None and not job.snapshot().finished
    try:
        train, _ = shell.train_test()
    except DashboardError as exc:  # e.g. an upload too small to hold out a test split
        st.error(shell.plain(f"This dataset cannot be trained on: {exc}"))
        return
    st.caption(f"Training on {shell.plain(train.describe())}; the test split is used once, after training.")
    params, submitted = _form(running)
    if submitted:
        state[K_FROM_PRESET] = False
    if params is not None:
        try:
            params.validate(len(train), train.n_classes)
            est = estimate_seconds(params, len(train), train.n_features, train.n_classes)
            st.caption(f"Estimated time: about {est:.0f} s (on 2 shared cores; more when the machine is busy).")
        except DashboardError as exc:
            if state.get(K_FROM_PRESET):
                # Nothing was asked yet, and edits in the form are unseen until "Train": a hint, not an error.
                st.warning(f"The preset does not fit this dataset: {exc}. Change the field, then press Train.")
            else:
                st.error(str(exc))
            params = None
    if submitted and params is not None and not running:
        _start(params)
        job = state.get(K_JOB)
        running = job is not None
    if K_ERROR in state:
        st.error(state[K_ERROR])
    if job is None:
        return
    st.divider()
    # Poll only while the job runs; a finished job is drawn once.
    st.fragment(_live, run_every=REFRESH_SECONDS if running else None)(job)
    snap = job.snapshot()
    if snap.state == FAILED:
        st.error(f"Training failed: {snap.error}")
    elif snap.state == DONE:
        _results(job)
