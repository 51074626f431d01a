"""Train: set hyper-parameters, start a job in a worker process, watch it, study the saved run.

Training runs in a worker process of the job queue (:mod:`dashboard.lab.jobs`),
not in the server, so the page only reads the job's folder: any session — after
a reload, in a new tab, after a server restart — lists the running jobs and can
watch or stop them. The session remembers the job it watches (session state and
the URL, ``?train_job=``); while it runs, a fragment re-reads it every
:data:`REFRESH_SECONDS`. The form is generated from the parameter table
(:data:`dashboard.lab.params.PARAMS`); its preset and fields are kept in session
state and the URL so they survive page switches and reloads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from dashboard import shell, state as url_state
from dashboard.data.corrections import corrections_record
from dashboard.errors import DashboardError, ParameterError
from dashboard.lab import jobs, train_figures
from dashboard.lab.jobs import JobInfo, JobState
from dashboard.lab.params import PARAMS, PRESETS, TrainParams, describe_error, fit_preset
from dashboard.lab.runs import RunStore
from dashboard.lab.shared import share_splits
from dashboard.lab.sweep import grid_configs, load_sweeps, parse_grid, random_configs, ranking
from dashboard.lab.sweep_figures import sweep_figure
from dashboard.lab.training import EpochReport, check_trainable, estimate_seconds
from dashboard.views.results import show_run

REFRESH_SECONDS = 1.0
PANEL_REFRESH_SECONDS = 3.0  # the list of other jobs
# A worker's start (Python, numpy, scikit-learn imports; mapping the data) on the reference machine,
# measured by benchmarks/bench_jobs.py; added to the estimate.
WORKER_START_SECONDS = 3.0

# Session-state keys (the tests drive the widgets by these keys).
K_JOB = "train_job"  # id of the job this session watches
K_SHOWN = "train_shown"  # job id whose end has rerun the page once
K_PRESET, K_FORM = "train_preset", "train_form"
K_SAVED = "train_saved"  # the form's last submitted / preset values: survive the widgets' cleanup
K_FROM_PRESET = "train_from_preset"  # the fields hold a preset's values, not yet submitted
K_BEFORE = "train_before"  # the fields' values before the last preset change (see _form)
K_ADAPTED = "train_adapted"
K_PENDING = "train_pending"  # field values to put into the widgets before they are drawn
K_START, K_STOP, K_ERROR = "train_start", "train_stop", "train_error"
K_ETA = "train_eta"
K_NORMALISE = "train_normalise"
K_GRID, K_RANDOM = "train_sweep_grid", "train_sweep_random"
K_CLUSTER, K_SWEEP_GO = "train_sweep_cluster", "train_sweep_go"
K_SWEEP_PICK = "train_sweep_pick"
KEYS = {spec.name: f"train_{spec.name}" for spec in PARAMS}
K_HIDDEN, K_EPOCHS, K_SIZE, K_BATCH = KEYS["hidden"], KEYS["epochs"], KEYS["train_size"], KEYS["batch_size"]
K_LR, K_VAL, K_KEEP, K_AVERAGE, K_MODEL = (KEYS["learning_rate"], KEYS["val_fraction"], KEYS["keep_best"],
                                          KEYS["average_last"], KEYS["model"])
Q_PRESET, Q_JOB, Q_FIELD = "train_preset", "train_job", "tp_"


def busy_factor() -> float:
    """How much slower than idle a job runs now: the 1-minute load average per core, at least 1."""
    try:
        return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    except OSError:
        return 1.0


def queue() -> jobs.JobQueue:
    """The server's job queue (beside the runs folder)."""
    return jobs.default_queue()


# -- the form --------------------------------------------------------------------------


def _widget_value(spec, value):
    """A parameter's value as its widget holds it (text for text fields)."""
    if spec.kind in ("int", "bool", "choice") or spec.widget == "number":
        return value
    return spec.format(value)


def _values_of(params: TrainParams) -> dict:
    return {spec.name: _widget_value(spec, getattr(params, spec.name)) for spec in PARAMS}


def _preset_values(name: str, n: int, k: int) -> tuple[dict, list[str]]:
    fitted, changes = fit_preset(PRESETS[name], n, k)
    return _values_of(fitted), changes


def _apply_preset() -> None:
    """Copy the chosen preset (adapted to the data) into the fields (a callback, before they are drawn)."""
    state = st.session_state
    n, k = state.get("train_data_size", (0, 0))
    state[K_BEFORE] = dict(state.get(K_SAVED, {}))
    values, changes = _preset_values(state[K_PRESET], n, k)
    for name, value in values.items():
        state[KEYS[name]] = value
    state[K_SAVED], state[K_ADAPTED], state[K_FROM_PRESET] = values, changes, True
    _to_url()


def _to_url() -> None:
    """The preset and the fields that differ from it, in the URL (a link reproduces the form)."""
    state = st.session_state
    preset = state.get(K_PRESET, "default")
    n, k = state.get("train_data_size", (0, 0))
    base, _ = _preset_values(preset, n, k)
    # Defaults stay out of the URL: a first visit then writes nothing (no extra Back step).
    values: dict[str, str | None] = {Q_PRESET: None if preset == "default" else preset}
    for spec in PARAMS:
        value = state.get(K_SAVED, {}).get(spec.name)
        # the widget's own text (or number, choice, true/false), when it differs from the preset
        changed = value is not None and value != base.get(spec.name)
        values[Q_FIELD + spec.name] = str(value) if changed else None
    url_state.put_url(values)  # one message: one Back step


def _restore(n: int, k: int) -> None:
    """Fill the fields from session state, else from the URL, else from the default preset."""
    state = st.session_state
    state["train_data_size"] = (n, k)
    if K_SAVED not in state:
        preset = st.query_params.get(Q_PRESET, "default")
        preset = preset if preset in PRESETS else "default"
        values, changes = _preset_values(preset, n, k)
        for spec in PARAMS:
            text = st.query_params.get(Q_FIELD + spec.name)
            if text is not None:
                try:
                    values[spec.name] = _widget_value(spec, spec.parse(text))
                except ParameterError:
                    pass  # a hand-edited link: keep the preset's value
        state[K_PRESET], state[K_SAVED], state[K_ADAPTED] = preset, values, changes
        state[K_FROM_PRESET] = True
    if K_PRESET not in state:  # the widget's key was cleaned up on another page
        state[K_PRESET] = state.get("train_preset_kept", "default")
    for name, value in state.pop(K_PENDING, {}).items():
        state[KEYS[name]] = value
    for spec in PARAMS:  # widgets' keys are dropped when another page ran: put them back
        if KEYS[spec.name] not in state:
            state[KEYS[spec.name]] = state[K_SAVED][spec.name]


def _fields() -> None:
    """One widget per row of the parameter table (inside the form)."""
    cols = st.columns(3)
    for i, spec in enumerate(PARAMS):
        col = cols[i % 3]
        key, help_ = KEYS[spec.name], spec.help
        if len(spec.models) < 2:
            help_ += f" ({', '.join(spec.models)} only)"
        if spec.kind == "choice":
            col.selectbox(spec.label, spec.choices, key=key, help=help_)
        elif spec.kind == "bool":
            col.checkbox(spec.label, key=key, help=help_)
        elif spec.kind == "int":
            col.number_input(spec.label, min_value=int(spec.low) if spec.low is not None else None,
                             max_value=int(spec.high) if spec.high is not None else None, step=1, key=key,
                             help=help_)
        elif spec.widget == "number":
            col.number_input(spec.label, min_value=0.01, max_value=float(spec.high), step=0.05, format="%.2f",
                             key=key, help=help_)
        else:
            col.text_input(spec.label, key=key, help=help_)


def _form(running: bool) -> tuple[TrainParams | None, bool]:
    """The preset selector and the parameter form; returns ``(parsed values or None, submitted)``.

    The fields sit in an ``st.form``, so edits reach the script only with Train.
    The preset race: choosing a preset and pressing Train at once can deliver
    the form with the fields' values from *before* the preset filled them. When
    the fields still hold a preset (nothing was submitted since) and the form
    brings exactly the values from before that preset, the preset is meant.
    """
    state = st.session_state
    st.selectbox("Preset", list(PRESETS), key=K_PRESET, on_change=_apply_preset,
                 help="quick: seconds. default: a solid MLP. best: the strongest found in ≤ 90 s on 2 cores. "
                      "linear: the baseline without hidden layers.")
    state["train_preset_kept"] = state[K_PRESET]
    if state.get(K_ADAPTED):
        st.info(f"Preset {state[K_PRESET]} adapted to this dataset: " + "; ".join(state[K_ADAPTED]))
    with st.form(K_FORM, enter_to_submit=False):
        _fields()
        label = "Training… (see below)" if running else "Train"
        submitted = st.form_submit_button(label, key=K_START, type="primary", disabled=running)
    values = {spec.name: state[KEYS[spec.name]] for spec in PARAMS}
    if submitted:
        if state.get(K_FROM_PRESET) and values == state.get(K_BEFORE) and values != state[K_SAVED]:
            values = dict(state[K_SAVED])  # the race: train the preset that was chosen
            state[K_PENDING] = values  # and show its values in the fields on the next run
        state[K_SAVED], state[K_FROM_PRESET] = dict(values), False
        _to_url()
    try:
        return TrainParams.from_strings({k: str(v) for k, v in values.items()}), submitted
    except ParameterError as exc:
        st.error(describe_error(exc, "form"))
        return None, submitted


# -- jobs -------------------------------------------------------------------------------


def _submit_train(params: TrainParams, train, test) -> str:
    ref = share_splits(train, test)
    title = f"{train.name} · {params.model} {'x'.join(map(str, params.hidden)) if params.model == 'mlp' else ''}"
    job = {"train": params.to_dict(), "data": ref, "runs_dir": str(shell.runs_dir()),
           # The run records what it was trained and scored on.
           "corrections": corrections_record(train), "test_corrections": corrections_record(test)}
    return queue().submit("train", job, title=title.strip())


def _watch(job_id: str | None) -> None:
    state = st.session_state
    if job_id is None:
        state.pop(K_JOB, None)
        url_state.put_url({Q_JOB: None})
    else:
        state[K_JOB] = job_id
        url_state.put_url({Q_JOB: job_id})
    state.pop(K_ETA, None)


def _current_job() -> JobInfo | None:
    state = st.session_state
    job_id = state.get(K_JOB) or st.query_params.get(Q_JOB)
    if not job_id:
        return None
    try:
        info = queue().get(job_id)
    except DashboardError:
        _watch(None)
        return None
    state[K_JOB] = job_id
    return info


def _history(info: JobInfo) -> list[EpochReport]:
    try:
        return [EpochReport.from_dict(h) for h in info.data.get("history", [])]
    except (TypeError, ValueError, KeyError):
        return []


def eta_seconds(info: JobInfo, history: Sequence[EpochReport], now: float, estimate: float | None) -> float | None:
    """Seconds left: the mean epoch time so far times the epochs left, less the time since the last epoch."""
    epochs = int(info.data.get("epochs") or 0)
    if info.finished or not epochs:
        return None
    if not history:
        if estimate is None or info.started is None:
            return None
        return max(0.0, estimate - (now - info.started))
    per_epoch = history[-1].elapsed / len(history)
    since = now - float(info.data.get("updated_at") or now)
    return max(0.0, (epochs - len(history)) * per_epoch - since)


def _steady_eta(job_id: str, eta: float | None, now: float) -> float | None:
    """The ETA shown never goes back up: it counts down from the last one shown."""
    state = st.session_state
    last = state.get(K_ETA)
    if eta is None:
        return None
    if last and last[0] == job_id:
        eta = min(eta, max(0.0, last[1] - (now - last[2])))
    state[K_ETA] = (job_id, eta, now)
    return eta


def _live(job_id: str) -> None:
    """Progress, curves and validation confusion of the watched job (re-drawn by the fragment)."""
    try:
        info = queue().get(job_id)
    except DashboardError as exc:
        st.warning(str(exc))
        return
    now = time.time()
    history = _history(info)
    epochs = int(info.data.get("epochs") or 0)
    elapsed = (info.ended or now) - (info.started or now)
    eta = _steady_eta(job_id, eta_seconds(info, history, now, st.session_state.get("train_estimate")), now)
    left = "" if eta is None else (", finishing…" if eta < 1 else f", about {eta:.0f} s left")
    what = info.message or "waiting for a free worker"
    st.progress(min(1.0, info.fraction), text=shell.plain(f"{info.state.value}: {what}, {elapsed:.0f} s{left}"))
    if not info.finished:
        st.button("Stop after this epoch", key=K_STOP, on_click=queue().stop, args=(job_id,))
    if history:
        st.plotly_chart(
            train_figures.training_curves([r.epoch for r in history], [r.loss for r in history],
                                          [r.train_accuracy for r in history], [r.val_accuracy for r in history],
                                          total_epochs=epochs or None),
            key="train_curves",
        )
        names = shell.train_test()[0].class_names
        if len(names) == len(history[-1].val_confusion):
            norm = st.toggle("Row-normalised", key=K_NORMALISE)
            st.plotly_chart(
                train_figures.confusion_figure(history[-1].val_confusion, names, normalise=norm,
                                               title=f"Validation confusion matrix, epoch {history[-1].epoch}"),
                key="train_val_conf",
            )
    if info.finished and st.session_state.get(K_SHOWN) != job_id:
        st.session_state[K_SHOWN] = job_id
        st.rerun()  # the whole page: results below, Train enabled again


def _jobs_panel(watched: str | None) -> None:
    """Every other job of this server that has not finished, with Watch and Stop; the recent ones to reopen.

    A fragment: it re-reads the queue every few seconds while some job is active.
    """
    try:
        all_jobs = [j for j in queue().list() if j.kind in ("train", "sweep")]
    except OSError as exc:
        st.warning(f"The job list cannot be read: {exc}")
        return
    active = [j for j in all_jobs if not j.finished and j.id != watched]
    if active:
        st.markdown("**Running and queued jobs on this server**")
    for j in active:
        c1, c2, c3 = st.columns([6, 1, 1])
        c1.progress(min(1.0, j.fraction), text=f"{shell.plain(j.title)} ({j.kind}): {j.state.value} — "
                                               f"{shell.plain(j.message or '')}")
        if j.kind == "train" and c2.button("Watch", key=f"watch_{j.id}"):
            _watch(j.id)
            st.rerun(scope="app")  # the panel is a fragment: the whole page must draw the watched job
        c3.button("Stop", key=f"stop_{j.id}", on_click=queue().stop, args=(j.id,))
    done = [j for j in all_jobs if j.finished and j.kind == "train"][:10]
    if done:
        with st.expander("Recent training jobs"):
            for j in done:
                c1, c2 = st.columns([7, 1])
                acc = (j.result or {}).get("test_accuracy")
                c1.write(f"{shell.plain(j.title)}: {j.state.value}" + (f", test accuracy {acc:.4f}" if acc else ""))
                if c2.button("Open", key=f"open_{j.id}", disabled=j.id == watched):
                    _watch(j.id)
                    st.rerun(scope="app")


def _results(info: JobInfo) -> None:
    """The end of the watched job: the saved run in full, or why there is none."""
    if info.state is JobState.FAILED:
        first, _, rest = (info.error or "unknown error").partition("\n")
        st.error(f"Training failed: {first}")
        if rest:
            with st.expander("Details"):
                st.code(rest)
        return
    if info.state is JobState.INTERRUPTED:
        n = len(info.data.get("history", []))
        st.warning(f"This job was interrupted after {n} finished epoch(s): its worker process ended "
                   "(killed, crashed, or the machine restarted). Its curves are kept above; no model was saved.")
        return
    result = info.result or {}
    if not result.get("run_id"):
        if result.get("stopped"):
            planned = info.data.get("epochs") or info.params.get("train", {}).get("epochs")
            st.info(f"Stopped by you after epoch {result.get('epochs_run')} of {planned}.")
        if result.get("save_error"):
            st.error(shell.plain(f"Not saved: {result['save_error']}"))
        return
    try:
        run = RunStore(shell.runs_dir()).get(result["run_id"])
    except DashboardError as exc:
        st.error(shell.plain(f"The run {result['run_id']} cannot be opened: {exc}"))
        return
    st.caption("The Runs page lists this run with all the others.")
    show_run(run, key="train_result")


def _sweep_tab(base: TrainParams | None, train, test) -> None:
    st.caption("Each configuration is trained as an ordinary run (the Runs page lists it as it finishes); "
               "parameters not in the grid take the values of the form on the left tab.")
    st.text_area("Grid: one parameter per line, values separated by commas (layers joined by x)",
                 value="hidden=100,256x128\nalpha=1e-4,1e-3", key=K_GRID, height=100)
    c1, c2 = st.columns(2)
    c1.number_input("Random draws (0 = every combination)", min_value=0, max_value=256, step=1, key=K_RANDOM,
                    help="Draw this many configurations; a line may then give a range, e.g. alpha=1e-5:1e-2.")
    c2.text_input("Cluster (blank = this machine)", key=K_CLUSTER,
                  help="tcp://HOST:8786 for a Dask scheduler, ray or ray://HOST:10001 for Ray.")
    if st.button("Run sweep", key=K_SWEEP_GO, disabled=base is None):
        lines = [line.strip() for line in st.session_state[K_GRID].splitlines() if line.strip()]
        n = int(st.session_state.get(K_RANDOM) or 0)
        try:
            grid = parse_grid(lines, ranges=bool(n))
            configs = random_configs(base, grid, n) if n else grid_configs(base, grid)
            for c in configs:
                c.validate(len(train), train.n_classes)
        except ParameterError as exc:
            st.error(f"Grid: {describe_error(exc, 'form')}")
        else:
            job_id = queue().submit("sweep", {
                "configs": [c.to_dict() for c in configs], "data": share_splits(train, test),
                "runs_dir": str(shell.runs_dir()), "cluster": st.session_state.get(K_CLUSTER) or None,
                "title": " ".join(lines),
            }, title=f"{train.name} sweep · {len(configs)} configurations")
            st.success(f"Sweep queued ({len(configs)} configurations): job {job_id}.")
    sweeps = load_sweeps(shell.runs_dir())
    if not sweeps:
        return
    labels = {s["id"]: f"{s['id']} · {s.get('dataset')} · {len(s['rows'])}/{s.get('total')} · {s.get('state')}"
              for s in sweeps}
    pick = st.selectbox("Sweep", list(labels), format_func=labels.get, key=K_SWEEP_PICK)
    record = next(s for s in sweeps if s["id"] == pick)
    rows = ranking(record)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        if record.get("axes"):
            st.plotly_chart(sweep_figure(rows, record["axes"]), key="train_sweep_fig")


# -- the page ---------------------------------------------------------------------------


def page() -> None:
    """The Train page."""
    st.title("Train")
    state = st.session_state
    try:
        train, test = shell.train_test()
    except DashboardError as exc:  # e.g. an upload too small to hold out a test split
        st.error(shell.plain(f"This dataset cannot be trained on: {exc}"))
        return
    try:  # one class, a class with a single sample: refused up front, not in the worker
        check_trainable(train)
    except ParameterError as exc:
        st.error(shell.plain(f"This dataset cannot be trained on: {str(exc).removeprefix('dataset: ')}"))
        return
    _restore(len(train), train.n_classes)
    info = _current_job()
    running = info is not None and not info.finished
    st.caption(f"Training on {shell.plain(train.describe())}; the test split is used once, after training. "
               "Jobs run in worker processes: leaving or reloading the page does not stop them.")
    tab_one, tab_sweep = st.tabs(["One model", "Sweep"])
    with tab_one:
        params, submitted = _form(running)
        if params is not None:
            try:
                params.validate(len(train), train.n_classes)
                idle = WORKER_START_SECONDS + estimate_seconds(params, len(train), train.n_features, train.n_classes)
                busy = busy_factor()
                state["train_estimate"] = est = idle * busy
                text = f"Estimated time: about {est:.0f} s"
                if busy > 1.2:  # bench_jobs: quick took 22 s at load 17.8 on 2 cores, 3.6 s estimated idle
                    text += f" at the machine's current load ({idle:.0f} s on an idle machine)"
                st.caption(text + ".")
            except ParameterError as exc:
                st.error(describe_error(exc, "form"))
                params = None
        if submitted and params is not None and not running:
            try:
                _watch(_submit_train(params, train, test))
                state.pop(K_ERROR, None)
            except (DashboardError, OSError) as exc:
                state[K_ERROR] = f"The job could not start: {exc}"
            else:
                st.rerun()  # draw the form again, Train disabled while the job runs
        if K_ERROR in state:
            st.error(state[K_ERROR])
    with tab_sweep:
        _sweep_tab(params, train, test)
    st.divider()
    with st.container(key="train_jobs"):
        st.fragment(_jobs_panel, run_every=PANEL_REFRESH_SECONDS)(info.id if info else None)
    if info is None:
        return
    st.subheader(info.title)
    with st.container(key="train_live"):
        st.fragment(_live, run_every=REFRESH_SECONDS if running else None)(info.id)
    info = queue().get(info.id)
    if info.finished:
        _results(info)
