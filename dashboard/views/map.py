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
- A box or lasso selection shows, beside the map, its count and first thumbnails (a
  click on one opens the selection in Explore with it inspected) and, under the map,
  its class breakdown; one button opens all of it in Explore's grid
  (``dashboard.state.open_in_explore``). The
  selection is kept in session state and in the URL (``msel``, as index ranges,
  when short enough), so Back and a reload keep it.
- The sample inspected in Explore is marked on the map with a ring.
- The chart of 60,000 points takes the browser about half a second to build after a
  page switch, and seconds in a new tab (Plotly's script loads first): meanwhile the same
  map is shown as a picture (:func:`map_preview`, a PNG drawn here) in the chart's plot
  area, framed identically (:func:`map_frame`), and hidden once Plotly has drawn. In a
  new tab the first run sends the picture alone and the chart follows once it is painted.
- No drag mode is set: Streamlit then starts in pan mode, where a click selects a
  point (in box/lasso mode Streamlit turns click-selection off); box and lasso are one
  click away in the chart's toolbar.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from dashboard import shell, state as url_state
from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError
from dashboard.explore import embedding
from dashboard.explore.embedding import METHOD_TITLES, MapStore
from dashboard.explore.thumbnails import picture_uri, plotly_plain
from dashboard.views import explore, model_overlay, tilegrid

K_METHOD = "map_method"
K_COLOUR = "map_colour"
K_RUN = "map_run"
K_SEL = "map_selection"  # {"ds": checksum, "indices": ndarray}
K_JOBS = "map_jobs"  # {(checksum, method): job id}
K_CLICKED = "map_clicked"
K_NOTES = "map_notes"
K_CHART = "map_chart"
K_GEN = "map_chart_gen"
K_OPEN = "map_open_request"  # set by a button's callback: the next run opens Explore at once
URL_METHOD, URL_SEL = "map", "msel"
K_SEL_GRID, K_SEL_TILES = "map_sel_grid", "map_sel_tiles"  # the selection's first thumbnails
# Beside the map (a quarter of the width): 12 thumbnails, 4 a row, about 50 px each, so the
# count, the buttons and every thumbnail are in view beside the map at 1400x900.
PREVIEW_TILES, PREVIEW_COLS, PREVIEW_CELL_PX = 12, 4, 48
K_STACK = "map_stack"
K_DRAWN = "map_drawn"  # this session's browser has been sent the map's chart once (Plotly is loaded)
K_FOLLOW = "map_follow"  # this run follows a light first one: keep the picture until the chart covers it
COLOURS = ("label", "prediction", "correct / wrong", "confidence")
MAX_URL_CHARS = 1500
PALETTE = tuple(plotly.colors.qualitative.D3)  # one colour per class (ten; repeats after)
# "correct / wrong": the mistakes stand out red on pale blue.
CORRECT_COLOUR, WRONG_COLOUR = "#9fb7cf", "#d62728"
CONFIDENCE_SCALE = "Viridis"  # the chart's colorscale; the picture uses the same stops
OPACITY = 0.75  # the markers': dense clusters darken, outliers stay visible

# The picture of the map and the chart share one grid cell: the picture is seen while the
# chart's message travels and Plotly builds it (0.5 s after a page switch here, seconds in a
# new tab, where Plotly's script loads first), then the chart covers it and it is hidden.
# Its box is the chart's plot area (the figure's margins: 40 px above, 10 px on the sides).
_CSS = """<style>
.st-key-map_stack { display: grid !important; grid-template-columns: minmax(0, 1fr); }
.st-key-map_stack > div { grid-area: 1 / 1; width: 100%; min-width: 0; }
.st-key-map_stack .map-preview { position: relative; height: 640px; padding: 40px 10px 10px 10px;
  box-sizing: border-box; }
.st-key-map_stack .map-preview img { width: 100%; height: 100%; object-fit: contain; display: block; }
.st-key-map_stack .map-preview span { position: absolute; top: 10px; left: 10px; opacity: 0.6;
  font-size: 0.875rem; }
.st-key-map_stack:has(.js-plotly-plot .main-svg) .map-preview { visibility: hidden; }
</style>"""


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


def map_frame(points: np.ndarray, pad: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """The part of the plane the map shows: its lower-left corner and its extent.

    The finite points' range plus ``pad`` of it on every side; an extent of zero (one
    point, or points on a line) becomes the other axis's, or 1. :func:`map_figure` sets
    these as its axis ranges and :func:`map_preview` draws the same part, so the picture
    and the chart line up.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
    pad : float

    Returns
    -------
    lo, extent : ndarray of float, shape (2,)
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return np.zeros(2), np.ones(2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = hi - lo
    extent = np.where(extent > 0, extent, max(float(extent.max()), 1.0))
    return lo - pad * extent, extent * (1 + 2 * pad)


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
            marker=dict(size=size, color=color, opacity=OPACITY, **marker),
            hovertemplate="#%{customdata[0]} · " + label + pred + "<extra></extra>"))

    if colour == "label" or predictions is None:
        for c in range(len(class_names)):
            add(labels == c, plotly_plain(f"{c} · {class_names[c]}"), PALETTE[c % len(PALETTE)],
                label_name=class_names[c])
    elif colour == "prediction":
        for c in range(len(class_names)):
            add(predictions == c, plotly_plain(f"pred {c} · {class_names[c]}"), PALETTE[c % len(PALETTE)])
    elif colour == "correct / wrong":
        add(predictions == labels, "correct", CORRECT_COLOUR)
        add(predictions != labels, "wrong", WRONG_COLOUR)
    else:
        conf = np.asarray(confidence if confidence is not None else np.ones(n))
        add(np.ones(n, dtype=bool), "confidence", conf, colorscale=CONFIDENCE_SCALE, cmin=0, cmax=1,
            colorbar=dict(title="confidence"))
    if marked is not None and 0 <= marked < n:
        fig.add_trace(go.Scattergl(
            x=[points[marked, 0]], y=[points[marked, 1]], mode="markers", name=f"inspected #{marked}",
            marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(width=3, color="black")),
            hoverinfo="skip"))
    lo, extent = map_frame(points)
    # The legend lies over the plot (its top right corner), not beside it: the plot area is
    # then the figure less its fixed margins, which the picture shown before it matches.
    fig.update_layout(
        title=title, height=640, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(itemsizing="constant", x=1, xanchor="right", y=1, yanchor="top",
                    bgcolor="rgba(255,255,255,0.8)"), uirevision="map",
        xaxis=dict(showticklabels=False, zeroline=False, showgrid=False, range=[lo[0], lo[0] + extent[0]]),
        yaxis=dict(showticklabels=False, zeroline=False, showgrid=False, scaleanchor="x",
                   range=[lo[1], lo[1] + extent[1]]),
        plot_bgcolor="white")
    return fig


def _rgb(colours) -> np.ndarray:
    """Hex colours as an (n, 3) float array of 0-255 values."""
    return np.array([plotly.colors.hex_to_rgb(c) for c in colours], dtype=float)


def point_colours(labels: np.ndarray, *, colour: str = "label", predictions: np.ndarray | None = None,
                  confidence: np.ndarray | None = None, opacity: float = OPACITY) -> tuple[np.ndarray, np.ndarray]:
    """Each point's colour on white, and its drawing order, as :func:`map_figure` draws it.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    colour, predictions, confidence
        As for :func:`map_figure`.
    opacity : float
        The markers' opacity over the white plot.

    Returns
    -------
    rgb : ndarray of uint8, shape (n, 3)
    layer : ndarray of int, shape (n,)
        The trace each point is in: higher layers are drawn over lower ones.
    """
    labels = np.asarray(labels)
    n = labels.shape[0]
    if colour == "label" or predictions is None:
        layer = labels.astype(np.int64)
        rgb = _rgb(PALETTE)[layer % len(PALETTE)]
    elif colour == "prediction":
        layer = np.asarray(predictions).astype(np.int64)
        rgb = _rgb(PALETTE)[layer % len(PALETTE)]
    elif colour == "correct / wrong":
        layer = (np.asarray(predictions) != labels).astype(np.int64)
        rgb = _rgb((CORRECT_COLOUR, WRONG_COLOUR))[layer]
    else:
        conf = np.clip(np.nan_to_num(np.asarray(confidence if confidence is not None else np.ones(n),
                                                dtype=float), nan=0.0), 0.0, 1.0)
        # The stops plotly.py itself expands the scale's name to, for the chart.
        stops, hexes = zip(*plotly.colors.get_colorscale(CONFIDENCE_SCALE))
        scale = _rgb(hexes)
        rgb = np.stack([np.interp(conf, np.asarray(stops, dtype=float), scale[:, k]) for k in range(3)], axis=1)
        layer = np.zeros(n, dtype=np.int64)
    rgb = opacity * rgb + (1.0 - opacity) * 255.0
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), layer


def map_preview(points: np.ndarray, rgb: np.ndarray, layer: np.ndarray | None = None, *,
                width: int = 800, dot: int = 2) -> np.ndarray:
    """The map drawn as a picture: what the page shows while Plotly builds the real chart.

    Framed as the chart frames it (:func:`map_frame`, equal scale on both axes), so the
    picture shown with ``object-fit: contain`` in the chart's plot area lies where the
    points will be drawn.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
    rgb : ndarray of uint8, shape (n, 3)
        Each point's colour (see :func:`point_colours`).
    layer : ndarray of int, shape (n,), optional
        Drawing order: higher layers over lower ones.
    width : int
        Picture width in pixels; the height follows the points' aspect (at most 2x the width).
    dot : int
        Side of a point's square, in pixels.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3)
        White where there is no point.
    """
    points = np.asarray(points, dtype=float)
    keep = np.isfinite(points).all(axis=1) if points.size else np.zeros(0, dtype=bool)
    if not keep.any():
        return np.full((max(width // 2, 1), width, 3), 255, dtype=np.uint8)
    pts, rgb = points[keep], np.asarray(rgb)[keep]
    order = np.argsort(np.asarray(layer)[keep], kind="stable") if layer is not None else slice(None)
    pts, rgb = pts[order], rgb[order]
    lo, extent = map_frame(pts)
    height = int(np.clip(round(width * extent[1] / extent[0]), 1, 2 * width))
    scale = min(width / extent[0], height / extent[1])
    # A point's square is centred on it, as a marker is.
    x = np.clip(((pts[:, 0] - lo[0]) * scale - dot / 2).astype(np.int64), 0, width - dot)
    y = np.clip((height - (pts[:, 1] - lo[1]) * scale - dot / 2).astype(np.int64), 0, height - dot)
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    for dy in range(dot):
        for dx in range(dot):
            img[y + dy, x + dx] = rgb
    return img


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


def _on_picture_painted() -> None:
    """The light first page's picture is on screen: the rerun this ends draws the chart."""
    st.session_state[K_DRAWN] = True
    st.session_state[K_FOLLOW] = True


def _ask_open(**kwargs) -> None:
    """Button callback: the run it starts opens Explore (:func:`dashboard.state.open_in_explore`)
    before drawing anything. Drawn after the button, the map's 60,000 points were sent
    and redrawn by the browser only to be thrown away by the page switch."""
    st.session_state[K_OPEN] = kwargs


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


@st.cache_data(max_entries=16, show_spinner=False)
def _preview_html(checksum: str, split: str, method: str, colour: str, run_id: str | None,
                  points_key: tuple[int, float], _points: np.ndarray, _labels: np.ndarray,
                  _preds: np.ndarray | None, _conf: np.ndarray | None) -> str:
    """The map's picture as an ``<img>`` (PNG data URI), per data, method, colouring and points.

    ``points_key`` (count and a sum of every 256th point) tells a map computed again, e.g.
    with other parameters by the CLI, from the one pictured before, without hashing all of it.
    """
    import base64
    import io

    from PIL import Image

    rgb, layer = point_colours(_labels, colour=colour, predictions=_preds, confidence=_conf)
    n = len(_points)
    dot = 2 if n > 20_000 else 3 if n > 5_000 else 5  # about the chart's marker sizes (3, 4, 6 px)
    buffer = io.BytesIO()
    Image.fromarray(map_preview(_points, rgb, layer, dot=dot)).save(buffer, format="PNG", compress_level=3)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<div class="map-preview"><img src="{uri}" alt="the map, while the chart is drawn">'
            '<span>Drawing the interactive map…</span></div>')


def light_run() -> bool:
    """Whether this run draws the light first page (the picture alone, see :func:`page`)."""
    state = st.session_state
    return bool(st.context.headers) and not (state.get(K_DRAWN) or state.get(explore.K_OPENED))


def page() -> None:
    """Draw the Map page."""
    request = st.session_state.pop(K_OPEN, None)
    # Asked by a button of this page, so this run reruns it. A request left by a run that a
    # click elsewhere cut short is dropped: arriving on the Map later must not jump away.
    if request is not None and not url_state.arrived():
        url_state.open_in_explore(**request)  # switches page: ends this run
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

    st.html(_CSS)
    left, right = st.columns([3, 1])
    gen = state.setdefault(K_GEN, 0)  # a new chart key clears the chart's own selection
    chart_key = f"{K_CHART}_{shown}_{gen}"
    # The chart's last event, read before the chart is drawn: the panel it fills (beside
    # the chart, in view) is sent first, not after the 1.5 MB chart is built and sent again.
    picked = selected_indices(state.get(chart_key), len(ds))
    if picked.size == 1:
        state[K_CLICKED] = int(picked[0])
    elif picked.size > 1:
        state[K_SEL] = sel = {"ds": ds.checksum, "indices": picked}
        _write_selection(picked)

    # A new tab (or a reload) first gets a light page: the picture, no chart. Arriving
    # together, the chart's message (1.5 MB) and Plotly's script (4.7 MB, compiled on the
    # browser's one main thread) held the picture's paint back: seen 2.3-5.3 s after
    # opening the page, though its message was there at 1.7-2.5 s. A hidden watcher says
    # when the picture is on screen; the rerun it starts draws the chart and the side
    # panel (its table's script would compete too), as Explore's first page does. Not once
    # the session's browser has Plotly (the map or Explore's charts drawn), nor without a
    # browser (AppTest: no headers). The app leaves the sidebar's widgets out of such a run too.
    light = light_run()
    follow = bool(state.pop(K_FOLLOW, False))
    if not light:
        # Before the chart, which takes the server and the browser longest: the side
        # panel (a selection's count and thumbnails) is what a box selection waits for.
        with right:
            _side_panel(ds, sel, preds, conf, pca)

    with left:
        with st.container(key=K_STACK):
            # The picture first, in its own message: the browser shows it while the chart's
            # message (1.5 MB for 60,000 points) is built, sent and drawn by Plotly. Only when
            # the page has just been opened: on a rerun the chart drawn before stays in view
            # until the new one replaces it, and 0.2 MB more per run only slowed that down.
            # An empty stand-in keeps the chart the stack's second element, so a rerun
            # updates it in place instead of drawing it anew.
            # A light run always sends it: one started by a click before the picture was
            # painted (a method chosen at once) would otherwise leave the map blank.
            if url_state.arrived() or follow or light:
                points_key = (len(points), float(np.nansum(np.asarray(points)[::256], dtype=np.float64)))
                st.html(_preview_html(ds.checksum, ds.split, shown, colour if preds is not None else "label",
                                      run_id if preds is not None else None, points_key, points, ds.labels,
                                      preds, conf))
            else:
                st.html('<div class="map-preview-none"></div>')
            if not light:
                fig = map_figure(points, ds.labels, ds.class_names, colour=colour, predictions=preds, confidence=conf,
                                 marked=marked, title=f"{METHOD_TITLES[shown]} of {len(ds):,} samples")
                st.plotly_chart(fig, key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                                config={"scrollZoom": True, "displaylogo": False})
                state[K_DRAWN] = True
        if light:
            tilegrid.when_painted(selector=f".st-key-{K_STACK} .map-preview img", on_painted=_on_picture_painted)
            return
        st.caption(f"Drawn in {time.perf_counter() - t0:.2f} s.")
        if sel:
            _breakdown(ds, sel["indices"])


def _side_panel(ds: Dataset, sel: dict | None, preds: np.ndarray | None, conf: np.ndarray | None,
                pca: tuple[np.ndarray, float, float]) -> None:
    """Beside the map: the selection, the clicked point, and each map's kNN figure."""
    _selection_panel(ds, sel, preds, conf)
    _point_panel(ds, preds)
    st.markdown("**How much class structure each map keeps**")
    st.caption("10-nearest-neighbour accuracy of the 2-D points (fit on 80% of them, "
               "scored on the other 20%); chance is about "
               f"{1 / ds.n_classes:.2f}.")
    rows = []
    for m in embedding.METHODS:
        g = pca if m == "pca" else _points(ds.checksum, ds.split, m, ds)
        rows.append({"method": METHOD_TITLES[m], "kNN accuracy": None if g is None else round(g[1], 3)})
    st.dataframe(rows, hide_index=True)


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
    st.button("Inspect in Explore", key="map_inspect", on_click=_ask_open, kwargs={"sample": int(i)})


def _open_tile(indices: np.ndarray, shown: tuple[int, ...]) -> None:
    """A thumbnail of the selection was clicked: open the selection in Explore, inspecting it."""
    sample = tilegrid.clicked(st.session_state.get(K_SEL_TILES), shown)
    if sample is not None:
        _ask_open(indices=indices, label="Map selection", sample=sample)


def _selection_panel(ds: Dataset, sel: dict | None, preds: np.ndarray | None,
                     conf: np.ndarray | None) -> None:
    """Beside the map, in view as the box is drawn: the count, Open / Clear, the first thumbnails."""
    if not sel:
        return
    idx = sel["indices"]
    st.markdown(f"#### Selection: {idx.size:,} samples")  # a subheader would wrap in this column
    st.button(f"Open {idx.size:,} samples in Explore", type="primary", key="map_open", on_click=_ask_open,
              kwargs={"indices": idx, "label": "Map selection"}, width="stretch")
    if st.button("Clear the selection", key="map_clear", width="stretch"):
        st.session_state.pop(K_SEL, None)
        st.session_state[K_GEN] = st.session_state.get(K_GEN, 0) + 1
        _write_selection(np.empty(0, dtype=np.int64))
        st.rerun()
    first = idx[:PREVIEW_TILES]
    tiles = explore.grid_tiles(ds, first)
    if preds is not None and conf is not None:
        for tile, badge in zip(tiles, model_overlay.prediction_badges(ds, preds, conf, first)):
            tile.update(badge=badge["badge"], wrong=badge["wrong"], hover=tile["hover"] + badge["hover"])
    if not tiles:
        return
    shown = tuple(t["v"] for t in tiles)
    st.caption((f"The first {len(first)} of them" if idx.size > len(first) else "All of them")
               + "; click one to inspect it in Explore.")
    with st.container(key=K_SEL_GRID):
        tilegrid.tile_grid(key=K_SEL_TILES, tiles=tiles, cols=PREVIEW_COLS, selected=st.session_state.get(K_CLICKED),
                           font_px=explore.caption_font(max(len(t["cap"]) for t in tiles), cell_px=PREVIEW_CELL_PX),
                           on_click=functools.partial(_open_tile, idx, shown),
                           right_colour=model_overlay.RIGHT_COLOUR, wrong_colour=model_overlay.WRONG_COLOUR)


def _breakdown(ds: Dataset, idx: np.ndarray) -> None:
    st.markdown(f"**Classes in the selection** ({idx.size:,} samples)")
    st.dataframe(class_breakdown(ds.labels, idx, ds.class_names), hide_index=True,
                 column_config={"share": st.column_config.ProgressColumn(
                     "share", format="percent", min_value=0.0, max_value=1.0)},
                 )
