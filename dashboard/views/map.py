"""Map: every sample of the chosen split as a point in 2-D, linked to Explore.

PCA is drawn at once (from the cached PCA-50 reduction); UMAP and t-SNE are
computed as background jobs (``map`` job kind, :mod:`dashboard.explore.embedding`)
while the map shown stays usable. A map already on disk opens instantly.

Linking, and why it is built this way:

- Plotly cannot put an image in a hover label, and Streamlit receives clicks and
  selections from a chart, never hovers. So the hover label says index, label (and
  prediction), and a *click* fills the side panel with the sample's image and a
  button to inspect it in Explore: the image is one click away and stays visible
  while the user reads it, which a hover image would not.
- A box or lasso selection shows its class breakdown here, and one button opens the
  selected samples in Explore's grid (``dashboard.state.open_in_explore``). The
  selection is kept in session state and in the URL (``msel``, as index ranges,
  when short enough), so Back and a reload keep it.
- The sample inspected in Explore is marked on the map with a ring.
- No drag mode is set: Streamlit then starts in pan mode, where a click selects a
  point (in box/lasso mode Streamlit turns click-selection off); box and lasso are one
  click away in the chart's toolbar.
"""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from dashboard import shell
from dashboard import state as url_state
from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError
from dashboard.explore import embedding
from dashboard.explore.embedding import METHOD_TITLES, MapStore
from dashboard.explore.thumbnails import picture_uri, plotly_plain

K_METHOD = "map_method"
K_COLOUR = "map_colour"
K_RUN = "map_run"
K_SEL = "map_selection"  # {"ds": checksum, "indices": ndarray}
K_JOBS = "map_jobs"  # {(checksum, method): job id}
K_CLICKED = "map_clicked"
K_NOTES = "map_notes"
K_CHART = "map_chart"
K_GEN = "map_chart_gen"
URL_METHOD, URL_SEL = "map", "msel"
COLOURS = ("label", "prediction", "correct / wrong", "confidence")
MAX_URL_CHARS = 1500
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


# ------------------------------------------------------------------ pure helpers (no Streamlit)


def class_breakdown(labels: np.ndarray, indices: np.ndarray, class_names: tuple[str, ...]) -> list[dict]:
    """Rows ``{class, count, share}`` of the selected samples, largest first.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    indices : ndarray of int
        Selected sample indices.
    class_names : tuple of str

    Returns
    -------
    list of dict
    """
    counts = np.bincount(labels[indices], minlength=len(class_names))
    total = max(int(counts.sum()), 1)
    order = np.argsort(-counts, kind="stable")
    return [{"class": f"{i} · {class_names[i]}", "count": int(counts[i]), "share": counts[i] / total}
            for i in order if counts[i]]


def map_figure(points: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...], *,
               colour: str = "label", predictions: np.ndarray | None = None,
               confidence: np.ndarray | None = None, marked: int | None = None,
               title: str = "") -> go.Figure:
    """The map as a WebGL scatter: one trace per group (legend toggles it), index in customdata.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
    labels : ndarray of int, shape (n,)
    class_names : tuple of str
    colour : str
        One of :data:`COLOURS`; the last three need ``predictions`` (and ``confidence``).
    predictions : ndarray of int, optional
    confidence : ndarray of float, optional
        Probability of the predicted class.
    marked : int, optional
        A sample drawn with a ring (the one inspected in Explore).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
    """
    n = points.shape[0]
    idx_all = np.arange(n)
    size = 3 if n > 20_000 else 4 if n > 5_000 else 6
    fig = go.Figure()

    def add(mask: np.ndarray, name: str, color, label_name: str | None = None, **marker) -> None:
        # Numeric customdata (index, label[, prediction]) travels as one binary block: an
        # object array of strings made the 60,000-point figure's JSON several times slower.
        ids = idx_all[mask]
        cols = [ids, labels[ids]] + ([predictions[ids]] if predictions is not None else [])
        custom = np.stack(cols, axis=1).astype(np.int32)
        label = plotly_plain(label_name) if label_name is not None else "label %{customdata[1]}"
        pred = "<br>predicted %{customdata[2]}" if predictions is not None else ""
        fig.add_trace(go.Scattergl(
            x=points[ids, 0], y=points[ids, 1], mode="markers", name=name, customdata=custom,
            marker=dict(size=size, color=color, opacity=0.75, **marker),
            hovertemplate="#%{customdata[0]} · " + label + pred + "<extra></extra>"))

    if colour == "label" or predictions is None:
        for c in range(len(class_names)):
            add(labels == c, plotly_plain(f"{c} · {class_names[c]}"), PALETTE[c % len(PALETTE)], label_name=class_names[c])
    elif colour == "prediction":
        for c in range(len(class_names)):
            add(predictions == c, plotly_plain(f"pred {c} · {class_names[c]}"), PALETTE[c % len(PALETTE)])
    elif colour == "correct / wrong":
        add(predictions == labels, "correct", "#9fb7cf")
        add(predictions != labels, "wrong", "#d62728")
    else:
        conf = np.asarray(confidence if confidence is not None else np.ones(n))
        add(np.ones(n, dtype=bool), "confidence", conf, colorscale="Viridis", cmin=0, cmax=1,
            colorbar=dict(title="confidence"))
    if marked is not None and 0 <= marked < n:
        fig.add_trace(go.Scattergl(
            x=[points[marked, 0]], y=[points[marked, 1]], mode="markers", name=f"inspected #{marked}",
            marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(width=3, color="black")),
            hoverinfo="skip"))
    fig.update_layout(
        title=title, height=640, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(itemsizing="constant"), uirevision="map",
        xaxis=dict(showticklabels=False, zeroline=False, showgrid=False),
        yaxis=dict(showticklabels=False, zeroline=False, showgrid=False, scaleanchor="x"),
        plot_bgcolor="white")
    return fig


def selected_indices(event, n: int) -> np.ndarray:
    """Sample indices a chart selection event names (from each point's customdata)."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return np.empty(0, dtype=np.int64)
    out = []
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(cd, dict):
            cd = [cd.get(k) for k in sorted(cd, key=str)]
        try:
            i = int(cd[0]) if isinstance(cd, list | tuple) else int(cd)
        except (TypeError, ValueError, IndexError):
            continue
        if 0 <= i < n:
            out.append(i)
    return np.unique(np.asarray(out, dtype=np.int64))


# ------------------------------------------------------------------ Streamlit wiring


def _store() -> MapStore:
    notes = st.session_state.setdefault(K_NOTES, [])
    return MapStore(notify=notes.append)


@st.cache_data(max_entries=8, show_spinner=False)
def _pca_points(checksum: str, split: str, _ds: Dataset) -> tuple[np.ndarray, float, float]:
    """The PCA map (computed on the first open, then on disk); memory-cached per dataset."""
    res = MapStore().compute(_ds, "pca")
    return res.points, res.knn_accuracy, res.seconds


def _points(checksum: str, split: str, method: str, _ds: Dataset) -> tuple[np.ndarray, float, float] | None:
    """Points, kNN accuracy and seconds of a map; None when UMAP/t-SNE is not computed yet.

    UMAP and t-SNE maps are read from disk on every run (a few ms), so a map finished by
    another session, a job or the CLI shows up without any cache to clear.
    """
    if method == "pca":
        return _pca_points(checksum, split, _ds)
    res = _store().cached(_ds, method)
    return None if res is None else (res.points, res.knn_accuracy, res.seconds)


def _queue():
    """The app's job queue, or None when the job system is not there."""
    try:
        from dashboard.lab import jobs

        return jobs.default_queue()
    except (ImportError, AttributeError):
        return None


def _job_for(queue, ds: Dataset, method: str):
    """The newest map job of this data and method (any session's): JobInfo or None."""
    if queue is None:
        return None
    try:
        found = [j for j in queue.list("map") if j.params.get("checksum") == ds.checksum
                 and j.params.get("method") == method and j.params.get("split") == ds.split]
    except Exception:  # a damaged jobs folder must not take the map down
        return None
    return max(found, key=lambda j: j.created or 0.0) if found else None


def _submit(queue, ds: Dataset, method: str) -> None:
    params = {"dataset": ds.name, "split": ds.split, "method": method, "checksum": ds.checksum,
              "cache": str(embedding.maps_dir())}
    from dashboard.data.catalog import dataset_names

    if shell.current_name() not in dataset_names():  # an upload: the worker reads an exported copy
        params["data"] = str(embedding.export_dataset(ds))
    if queue is None:  # no job system: compute here, with a progress bar
        bar = st.progress(0.0, text=f"Computing the {METHOD_TITLES[method]} map…")
        _store().compute(ds, method, progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        return
    queue.submit("map", params, title=f"{METHOD_TITLES[method]} map of {ds.name} ({ds.split})")


def _predictions(ds: Dataset, run_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    @st.cache_data(max_entries=4, show_spinner="Predicting every sample with the run's model…")
    def predict(run_id: str, checksum: str, _ds: Dataset, root: str):
        from dashboard.lab.runs import RunStore
        from dashboard.lab.training import predict_proba

        model = RunStore(shell.runs_dir()).load_model(run_id)
        proba = predict_proba(model, _ds.images)
        return proba.argmax(axis=1).astype(np.int64), proba.max(axis=1).astype(np.float32)

    try:
        return predict(run_id, ds.checksum, ds, str(shell.runs_dir()))
    except DashboardError as exc:
        st.warning(f"That run cannot colour the map: {exc}")
    except Exception as exc:  # a model that does not fit this data
        st.warning(f"That run cannot colour the map ({type(exc).__name__}: {exc}).")
    return None


def _runs_for(ds: Dataset) -> dict[str, str]:
    try:
        from dashboard.lab.runs import RunStore

        runs = RunStore(shell.runs_dir()).list().runs
    except Exception:
        return {}
    out = {}
    for r in runs:
        info = getattr(r, "info", {}) or {}
        if info.get("dataset_checksum") in (None, ds.checksum) or info.get("dataset") == ds.name:
            names = info.get("class_names")
            if names is None or len(names) == ds.n_classes:
                out[r.run_id] = getattr(r, "name", None) or r.run_id
    return out


def _url_selection(ds: Dataset) -> None:
    """Take a selection from the URL (reload, Back, a pasted link) when the session has none."""
    text = st.query_params.get(URL_SEL)
    sel = st.session_state.get(K_SEL)
    if not text or (sel and sel["ds"] == ds.checksum):
        return
    found = url_state.decode_indices(text, len(ds))
    if found is not None:
        st.session_state[K_SEL] = {"ds": ds.checksum, "indices": found}


def _write_selection(indices: np.ndarray) -> None:
    text = url_state.encode_indices(indices) if indices.size else ""
    url_state.put_url({URL_SEL: text if len(text) <= MAX_URL_CHARS else None})


def _open(**kwargs) -> None:
    try:
        from dashboard.state import open_in_explore
    except ImportError:  # dashboard/state.py (issue 9) is not merged yet
        st.warning("Opening samples in Explore needs dashboard/state.py.")
        return
    open_in_explore(**kwargs)


@st.fragment(run_every=1.0)
def _job_panel(ds: Dataset, method: str) -> None:
    """Progress of the map being computed; reruns the page once it is done."""
    job = _job_for(_queue(), ds, method)
    if job is None:
        return
    state = getattr(job.state, "value", str(job.state)).lower()
    if state in ("queued", "running"):
        st.progress(min(max(float(job.fraction or 0.0), 0.0), 1.0),
                    text=f"{METHOD_TITLES[method]}: {job.message or state}")
        if st.button("Stop", key=f"map_stop_{job.id}"):
            _queue().stop(job.id)
    elif state == "done" and _points(ds.checksum, ds.split, method, ds) is not None:
        st.rerun(scope="app")  # the page now finds the map on disk
    elif state in ("failed", "interrupted"):
        st.error(f"The {METHOD_TITLES[method]} map failed: {(job.error or state).splitlines()[-1]}")


def page() -> None:
    """Draw the Map page."""
    st.title("Map")
    try:
        ds = shell.current_dataset()
    except DashboardError as exc:
        st.error(str(exc))
        return
    state = st.session_state
    if state.get(K_METHOD) is None:
        m = st.query_params.get(URL_METHOD)
        state[K_METHOD] = m if m in embedding.METHODS else "pca"
    _url_selection(ds)
    sel = state.get(K_SEL)
    if sel and sel["ds"] != ds.checksum:
        state.pop(K_SEL, None)
        sel = None

    st.caption(f"{ds.describe()}: every sample is a point; similar images lie close together. "
               "Drag a box or lasso to select, click a point to see it.")
    top = st.columns([2, 2, 3])
    method = top[0].radio("Method", embedding.METHODS, key=K_METHOD, horizontal=True,
                          format_func=METHOD_TITLES.get)
    url_state.put_url({URL_METHOD: None if method == "pca" else method})  # defaults stay out
    runs = _runs_for(ds)
    run_id = top[1].selectbox("Colour by a run's predictions", [None, *runs], key=K_RUN,
                              format_func=lambda r: "none (labels)" if r is None else runs.get(r, r))
    colour = "label"
    if run_id:
        colour = top[2].radio("Colour", COLOURS, key=K_COLOUR, horizontal=True)

    # The map shown: the chosen method when it exists, else PCA (instant) while it computes.
    t0 = time.perf_counter()
    with st.spinner("PCA of every sample…"):
        pca = _points(ds.checksum, ds.split, "pca", ds)
    shown, got = method, _points(ds.checksum, ds.split, method, ds)
    if got is None:
        shown, got = "pca", pca
        queue = _queue()
        job = _job_for(queue, ds, method)
        busy = job is not None and getattr(job.state, "value", str(job.state)).lower() in ("queued", "running")
        st.info(f"No {METHOD_TITLES[method]} map of this data yet: the PCA map is shown"
                + (" while it computes." if busy else "."))
        if not busy and st.button(f"Compute the {METHOD_TITLES[method]} map"
                                  + (" in the background" if queue else ""), type="primary"):
            _submit(queue, ds, method)
            st.rerun()
        _job_panel(ds, method)
    for note in state.pop(K_NOTES, []):
        st.warning(note)
    points, acc, _secs = got

    preds = conf = None
    if run_id:
        out = _predictions(ds, run_id)
        if out is not None:
            preds, conf = out
    inspected = state.get("explore_sample")
    marked = int(inspected) if isinstance(inspected, int | np.integer) and 0 <= inspected < len(ds) else None
    fig = map_figure(points, ds.labels, ds.class_names, colour=colour, predictions=preds, confidence=conf,
                     marked=marked, title=f"{METHOD_TITLES[shown]} of {len(ds):,} samples")

    left, right = st.columns([3, 1])
    with left:
        gen = state.setdefault(K_GEN, 0)  # a new chart key clears the chart's own selection
        event = st.plotly_chart(fig, key=f"{K_CHART}_{shown}_{gen}", on_select="rerun",
                                selection_mode=("points", "box", "lasso"),
                                config={"scrollZoom": True, "displaylogo": False})
    picked = selected_indices(event, len(ds))
    if picked.size == 1:
        state[K_CLICKED] = int(picked[0])
    elif picked.size > 1:
        state[K_SEL] = sel = {"ds": ds.checksum, "indices": picked}
        _write_selection(picked)

    with right:
        st.markdown("**How much class structure each map keeps**")
        st.caption("10-nearest-neighbour accuracy of the 2-D points (fit on 80% of them, "
                   "scored on the other 20%); chance is about "
                   f"{1 / ds.n_classes:.2f}.")
        rows = []
        for m in embedding.METHODS:
            g = pca if m == "pca" else _points(ds.checksum, ds.split, m, ds)
            rows.append({"method": METHOD_TITLES[m], "kNN accuracy": None if g is None else round(g[1], 3)})
        st.dataframe(rows, hide_index=True)
        st.caption(f"Drawn in {time.perf_counter() - t0:.2f} s.")
        _point_panel(ds, preds)
    _selection_panel(ds, sel)


def _point_panel(ds: Dataset, preds: np.ndarray | None) -> None:
    i = st.session_state.get(K_CLICKED)
    if i is None or not 0 <= i < len(ds):
        st.caption("Click a point to see its image here.")
        return
    label = ds.class_names[int(ds.labels[i])]
    text = f"#{i} · label {label}"
    if preds is not None:
        text += f" · predicted {ds.class_names[int(preds[i])]}"
    st.image(picture_uri(ds.images[i], 140), caption=shell.plain(text), width=140)
    if st.button("Inspect in Explore", key="map_inspect"):
        _open(sample=int(i))


def _selection_panel(ds: Dataset, sel: dict | None) -> None:
    if not sel:
        return
    idx = sel["indices"]
    st.subheader(f"Selection: {idx.size:,} samples")
    cols = st.columns([1, 2])
    if cols[0].button(f"Open {idx.size:,} samples in Explore", type="primary", key="map_open"):
        _open(indices=idx, label="Map selection")
    if cols[0].button("Clear the selection", key="map_clear"):
        st.session_state.pop(K_SEL, None)
        st.session_state[K_GEN] = st.session_state.get(K_GEN, 0) + 1
        _write_selection(np.empty(0, dtype=np.int64))
        st.rerun()
    cols[1].dataframe(class_breakdown(ds.labels, idx, ds.class_names), hide_index=True,
                      column_config={"share": st.column_config.ProgressColumn(
                          "share", format="percent", min_value=0.0, max_value=1.0)},
                      )
