"""Explore through a model: a saved run's predictions on the thumbnails, filters, sorts, inspector.

Explore calls four functions and nothing else:

* :func:`choose` (outside the browser fragment, so a new run redraws the inspector
  too): the run selectbox, kept in the URL as ``?run=<id>``; returns an
  :class:`Overlay` or None.
* :func:`filter_and_sort` (in the fragment, after the class filter): the model
  filters (misclassified, predicted class, confidence range), the sort, and the
  counts per filter value; returns the indices to page through.
* :func:`badges`: a badge for each tile of the thumbnail grid (predicted
  label and confidence; green when right, red with a ✗ when wrong).
* :func:`inspector`: the inspected sample's class probabilities and the first
  layer's view of it.

All computing is in :mod:`dashboard.lab.predictions`; this module only draws.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from dashboard import shell, state as url_state
from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError
from dashboard.lab import predictions as P
from dashboard.lab.runs import Run
from dashboard.lab.train_figures import probability_figure, weights_figure
from dashboard.views.draw import fitting_runs, prediction_cache

# Session-state keys (and the URL parameter of the run).
K_RUN = "explore_run"
K_WRONG = "explore_mis"
K_PRED = "explore_pred"
K_CONF = "explore_conf"
K_SORT = "explore_sort"
K_NOTE = "explore_model_note"
URL_RUN = "run"
NO_RUN = ""
WRONG_CHOICES = ("all", "misclassified", "correct")
SORT_CHOICES = ("dataset order", "confidence, lowest first", "confidence, highest first",
                "loss, highest first", "loss, lowest first")
# Light colours on a dark badge: the badges sit on the (dark) image tiles.
RIGHT_COLOUR, WRONG_COLOUR = "#4ade80", "#ff5c5c"
TOP_UNITS = 8


@dataclass(frozen=True)
class Overlay:
    """The chosen run and its predictions on the dataset shown."""

    run: Run
    preds: P.Predictions


def _run_title(runs: dict[str, Run], run_id: str) -> str:
    if run_id == NO_RUN:
        return "none"
    run = runs[run_id]
    return f"{run.name} · {run_id}"


# --- state: session + URL (``?run=&mis=&pred=&conf=&sort=``, via dashboard.state) ----------

SCOPE = "model"
URL_KEYS = (URL_RUN, "mis", "pred", "conf", "sort")
K_KEPT = "explore_model_kept"  # the values, kept while Streamlit drops the widgets' keys


def _encode(values: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    if values.get(K_RUN):
        out[URL_RUN] = str(values[K_RUN])
    else:
        return out
    if values.get(K_WRONG, "all") != "all":
        out["mis"] = str(values[K_WRONG])
    if values.get(K_PRED):
        out["pred"] = ",".join(str(int(c)) for c in values[K_PRED])
    low, high = values.get(K_CONF, (0.0, 1.0))
    if (low, high) != (0.0, 1.0):
        out["conf"] = f"{low:g}-{high:g}"
    if values.get(K_SORT, SORT_CHOICES[0]) != SORT_CHOICES[0]:
        out["sort"] = str(SORT_CHOICES.index(values[K_SORT]))
    return out


def _decode(params: dict, runs: Collection[str], n_classes: int) -> dict:
    """URL values to widget values; anything malformed or unknown is left out."""
    out: dict = {}
    run = params.get(URL_RUN)
    if run not in runs:
        return out
    out[K_RUN] = run
    if params.get("mis") in WRONG_CHOICES:
        out[K_WRONG] = params["mis"]
    pred = url_state.parse_int_list(params.get("pred", ""), 0, n_classes - 1, max_items=n_classes)
    if pred:
        out[K_PRED] = sorted(set(pred))
    try:
        low, high = (round(float(v) / 0.05) * 0.05 for v in str(params.get("conf", "")).split("-"))
        if 0.0 <= low <= high <= 1.0:
            out[K_CONF] = (round(low, 2), round(high, 2))
    except ValueError:
        pass
    sort = url_state.parse_int(params.get("sort"), 0, len(SORT_CHOICES) - 1)
    if sort is not None:
        out[K_SORT] = SORT_CHOICES[sort]
    return out


def _restore(runs: Collection[str], ds: Dataset) -> None:
    """Before the widgets: values from a link (reload, Back) or those kept while another page ran."""
    state = st.session_state
    news = url_state.url_news(SCOPE, URL_KEYS)
    if news is not None:
        for k in (K_RUN, K_WRONG, K_PRED, K_CONF, K_SORT):
            state.pop(k, None)
        wanted = _decode(news, runs, ds.n_classes)
        if news.get(URL_RUN) and not wanted:
            state[K_NOTE] = f"Run {news[URL_RUN]} (from the link) does not fit {ds.describe()}; no model shown."
        state.update(wanted)
    else:
        for k, v in state.get(K_KEPT, {}).items():
            state.setdefault(k, v)
    if state.get(K_RUN) not in (NO_RUN, *runs):
        state[K_RUN] = NO_RUN


def _save() -> None:
    state = st.session_state
    kept = {k: state[k] for k in (K_RUN, K_WRONG, K_PRED, K_CONF, K_SORT) if k in state}
    state[K_KEPT] = kept
    url_state.write_url(SCOPE, URL_KEYS, _encode(kept))


def _on_run() -> None:
    for k in (K_WRONG, K_PRED, K_CONF, K_SORT):  # another model: its filters start afresh
        st.session_state.pop(k, None)
    st.session_state.get(K_KEPT, {}).clear()


def choose(ds: Dataset, on_change: Callable[[], None] | None = None) -> Overlay | None:
    """The run selectbox (runs whose model reads ``ds``); the chosen run's predictions on ``ds``.

    The choice and the model filters live in session state and in the URL
    (``?run=``, ``mis``, ``pred``, ``conf``, ``sort``), so they survive page
    switches, Back and reload. A run in a link that does not fit the dataset
    is dropped with a note.

    Parameters
    ----------
    ds : Dataset
        The split shown.
    on_change : callable, optional
        Called after the run changes (Explore goes back to page 1).
    """
    state = st.session_state
    try:
        runs = {r.run_id: r for r in fitting_runs(ds)}
    except DashboardError as exc:
        st.warning(shell.plain(f"Saved runs cannot be listed: {exc}"))
        return None
    _restore(runs, ds)
    note = state.pop(K_NOTE, None)
    if note:
        st.caption(shell.plain(note))

    def changed() -> None:
        _on_run()
        if on_change is not None:
            on_change()

    run_id = st.selectbox(
        "Browse with a model (a saved run)", [NO_RUN, *runs], key=K_RUN, on_change=changed,
        format_func=lambda r: _run_title(runs, r),
        help="Each thumbnail then shows the run's predicted label and confidence; filter and sort by them.",
    )
    if run_id == NO_RUN:
        _save()
        return None
    try:
        with st.spinner("Predicting every sample with this run (once; kept on disk)…"):
            preds = prediction_cache(str(shell.runs_dir())).get(run_id, ds)
    except DashboardError as exc:
        st.error(shell.plain(f"Run {run_id} cannot be used here: {exc}"))
        return None
    return Overlay(runs[run_id], preds)


def filter_and_sort(ds: Dataset, overlay: Overlay, indices: np.ndarray,
                    on_change: Callable[[], None] | None = None) -> np.ndarray:
    """Draw the model filters with their counts and return ``indices`` filtered and sorted.

    Counts are over ``indices`` (the samples the class filter lets through),
    as FiftyOne's sidebar counts within the current view.

    Parameters
    ----------
    ds : Dataset
    overlay : Overlay
    indices : ndarray of int
        Samples passing Explore's own filters, in dataset order.
    on_change : callable, optional
        Called when a model filter or the sort changes (back to page 1).
    """
    state = st.session_state
    preds = overlay.preds
    counts = P.filter_counts(preds, indices)
    c = st.columns([2, 3, 2, 2])
    wrong_counts = {"all": len(indices), "misclassified": counts.wrong, "correct": counts.right}
    c[0].selectbox("Predictions", WRONG_CHOICES, key=K_WRONG, on_change=on_change,
                   format_func=lambda v: f"{v} ({wrong_counts[v]:,})")
    c[1].multiselect(
        "Predicted class", list(range(ds.n_classes)), key=K_PRED, on_change=on_change,
        format_func=lambda k: f"{ds.class_names[k]} ({int(counts.per_predicted[k]):,})",
        placeholder="any predicted class",
    )
    state.setdefault(K_CONF, (0.0, 1.0))  # set here, not as value=: the URL may have set it
    c[2].slider("Confidence", 0.0, 1.0, step=0.05, key=K_CONF, on_change=on_change)
    c[3].selectbox("Sort", SORT_CHOICES, key=K_SORT, on_change=on_change)
    hist = " · ".join(f"{lo:.1f}–{hi:.1f}: {n:,}" for lo, hi, n in zip(
        counts.confidence_edges[:-1], counts.confidence_edges[1:], counts.per_confidence) if n)
    st.caption(f"Samples per confidence: {hist}")

    wrong = {"misclassified": True, "correct": False}.get(state.get(K_WRONG, "all"))
    low, high = state.get(K_CONF, (0.0, 1.0))
    conf = None if (low, high) == (0.0, 1.0) else (float(low), float(high))
    mask = P.filter_mask(preds, misclassified=wrong, predicted=state.get(K_PRED) or None, confidence=conf)
    indices = np.asarray(indices, dtype=np.int64)
    kept = indices[mask[indices]]
    order = state.get(K_SORT, SORT_CHOICES[0])
    if order != SORT_CHOICES[0]:
        by = "confidence" if order.startswith("confidence") else "loss"
        kept = P.sort_indices(kept, preds, by, descending=order.endswith("highest first"))
    _save()
    return kept


def badges(ds: Dataset, overlay: Overlay, indices: np.ndarray) -> list[dict[str, Any]]:
    """A prediction badge for each tile of Explore's thumbnail grid, in order.

    Each is ``{"badge": "✗ 3 87%", "wrong": True, "hover": " · predicted 3 (87.1%)"}``:
    the predicted class and confidence (a ✗ when it is not the label) and the text
    the tile's tooltip gains.
    """
    return prediction_badges(ds, overlay.preds.predicted, overlay.preds.confidence, indices)


def prediction_badges(ds: Dataset, predicted: np.ndarray, confidence: np.ndarray,
                      indices: np.ndarray) -> list[dict[str, Any]]:
    """:func:`badges` from a run's predicted classes and confidences over the whole split."""
    idx = np.asarray(indices, dtype=np.int64)
    pred, conf = predicted[idx].tolist(), confidence[idx].tolist()
    wrong = (predicted[idx] != ds.labels[idx]).tolist()
    return [
        {"badge": f"{'✗ ' if w else ''}{ds.class_names[p]} {c:.0%}", "wrong": bool(w),
         "hover": f" · predicted {ds.class_names[p]} ({c:.1%})"}
        for p, c, w in zip(pred, conf, wrong)
    ]


def inspector(ds: Dataset, overlay: Overlay, sample: int) -> None:
    """The run's view of one sample: class probabilities and the first layer's strongest units."""
    preds = overlay.preds
    label = int(ds.labels[sample])
    top = int(preds.predicted[sample])
    verdict = "right" if top == label else "wrong"
    st.markdown(f"**What run {shell.plain(overlay.run.run_id)} sees**")
    st.text(f"predicted {ds.class_names[top]} with {preds.confidence[sample]:.1%} ({verdict}); "
            f"loss {preds.loss[sample]:.3f}")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(probability_figure(preds.probabilities[sample], ds.class_names, true=label),
                        key="explore_probs", config={"displayModeBar": False})
    with right:
        try:
            model = prediction_cache(str(shell.runs_dir())).model(overlay.run.run_id)
            view = P.first_layer_view(model, ds.images[sample], top=TOP_UNITS)
        except DashboardError as exc:
            st.error(shell.plain(f"The first layer cannot be shown: {exc}"))
            return
        h, w = ds.shape
        st.caption(
            f"First layer: the {len(view.units)} hidden units that fire most on this image "
            f"(activation relu(x·W1 + b1)), each drawn as its {h}x{w} weight image (red +, blue −), "
            "strongest first: " + ", ".join(f"unit {u} ({a:.2f})" for u, a in
                                            zip(view.units.tolist(), view.activations.tolist()))
        )
        fig = weights_figure(view.weights.reshape(len(view.units), -1).T, ds.shape, max_units=TOP_UNITS)
        fig.update_layout(height=260)
        st.plotly_chart(fig, key="explore_units", config={"displayModeBar": False})
