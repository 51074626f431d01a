"""Review: the samples whose label looks wrong, worst first; relabel, exclude or keep them.

The search (out-of-fold MLP + cleanlab, :mod:`dashboard.lab.labelissues`) runs as
a job in a worker process, so every session sees its progress and the page
stays responsive; once computed it is read from the cache, so the page opens
at once. Decisions go to the corrections file (:mod:`dashboard.data.corrections`);
the data itself is never changed.

State kept in the URL (``rv_given``, ``rv_sugg``, ``rv_focus``, ``rv_page``,
``rv_all``) and session state, so filters and the reviewed sample survive
reloads and page switches.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import shell, state as url_state
from dashboard.data import corrections as cr
from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError
from dashboard.explore.thumbnails import picture_uri
from dashboard.lab import labelissues as li

JOB_KIND = "label_issues"
PAGE_SIZE = 24
GRID_COLS = 6
K_GIVEN, K_SUGG, K_FOCUS, K_PAGE, K_ALL = "rv_given", "rv_sugg", "rv_focus", "rv_page", "rv_all"
K_SEL, K_DS, K_MSG, K_RELABEL = "rv_selected", "rv_ds", "rv_msg", "rv_relabel_to"
URL_KEYS = (K_GIVEN, K_SUGG, K_FOCUS, K_PAGE, K_ALL)
# Shortcuts: single keys (Streamlit reserves C and R).
SHORTCUTS = {"accept": "a", "exclude": "x", "keep": "k", "undo": "u", "next": "n", "prev": "p",
             "explore": "e"}


# --------------------------------------------------------------------------- data access

def _params() -> li.OOFParams:
    return li.OOFParams()


@st.cache_resource(max_entries=8, show_spinner=False)
def _suspects(key: str, _ds: Dataset, method: str) -> li.Suspects | None:
    # Keyed by the search key (data checksum + corrections + params): the ranked arrays are small.
    return li.cached_suspects(_ds, _params(), method)


def _load_suspects(ds: Dataset) -> li.Suspects | None:
    key = li.cache_key(*li.dataset_version(ds), _params())
    found = _suspects(key, ds, li.DEFAULT_METHOD)
    if found is None:
        _suspects.clear()  # a miss is not cached: the job may finish at any moment
    return found


def _corrections(ds: Dataset) -> cr.Corrections:
    return cr.load_corrections(ds) or cr.Corrections.for_dataset(ds)


def _queue():
    from dashboard.lab import jobs

    return jobs.default_queue()


def _job_params(ds: Dataset) -> dict:
    params = {"dataset": ds.name, "split": ds.split, "method": li.DEFAULT_METHOD, **_params().to_dict()}
    if shell.current_name().startswith(shell.UPLOAD_PREFIX):
        # A worker process cannot see this session's upload: hand it over as a file.
        params["data"] = str(li.save_for_worker(ds))
    return params


def _active_job(ds: Dataset):
    """This dataset's running or queued search, if any (any session may have started it)."""
    try:
        jobs = _queue().list(JOB_KIND)
    except Exception:  # the job folder unreadable: the page still shows cached results
        return None
    for job in jobs:
        p = job.params
        if p.get("dataset") == ds.name and p.get("split") == ds.split and \
                getattr(job.state, "name", str(job.state)) in ("QUEUED", "RUNNING"):
            return job
    return None


def _last_failure(ds: Dataset):
    try:
        jobs = _queue().list(JOB_KIND)
    except Exception:
        return None
    mine = [j for j in jobs if j.params.get("dataset") == ds.name and j.params.get("split") == ds.split]
    if not mine:
        return None
    last = max(mine, key=lambda j: j.created or 0)
    return last if getattr(last.state, "name", "") == "FAILED" else None


# --------------------------------------------------------------------------- URL state

def _restore_from_url() -> None:
    state, qp = st.session_state, st.query_params
    for key in URL_KEYS:
        if key in state or key not in qp:
            continue
        text = qp.get(key, "")
        if key in (K_GIVEN, K_SUGG):
            state[key] = [int(t) for t in text.split(",") if t.strip().isdigit()]
        elif key in (K_FOCUS, K_PAGE):
            state[key] = int(text) if text.isdigit() else None
        else:
            state[key] = text == "1"


def _write_url() -> None:
    state = st.session_state
    values = {
        K_GIVEN: ",".join(map(str, state.get(K_GIVEN) or [])),
        K_SUGG: ",".join(map(str, state.get(K_SUGG) or [])),
        K_FOCUS: "" if state.get(K_FOCUS) is None else str(state[K_FOCUS]),
        K_PAGE: str(state.get(K_PAGE) or 0) if state.get(K_PAGE) else "",
        K_ALL: "1" if state.get(K_ALL) else "",
    }
    url_state.put_url(values)  # one message: one Back step


def _reset_if_new(ds: Dataset) -> None:
    key = f"{ds.name}|{ds.split}|{ds.checksum}"
    if st.session_state.get(K_DS) == key:
        return
    if st.session_state.get(K_DS) is not None:  # another dataset: its filters make no sense here
        for k in (*URL_KEYS, K_SEL):
            st.session_state.pop(k, None)
    st.session_state[K_DS] = key


# --------------------------------------------------------------------------- actions

def _act(ds: Dataset, kind: str, indices: list[int], new: int | None = None,
         pairs: list[tuple[int, int]] | None = None) -> None:
    """Record one decision (one undo step), then move the focus on."""
    labels = ds.labels
    try:
        if kind == "accept":
            result = cr.change(ds, lambda c: c.relabel_each(pairs, labels))
        elif kind == "relabel":
            result = cr.change(ds, lambda c: c.relabel(indices, new, labels))
        elif kind == "exclude":
            result = cr.change(ds, lambda c: c.exclude(indices, labels))
        elif kind == "keep":
            result = cr.change(ds, lambda c: c.keep(indices, labels))
        elif kind == "undo":
            result = cr.change(ds, lambda c: c.undo())
        else:
            raise ValueError(kind)
    except DashboardError as exc:
        st.session_state[K_MSG] = ("error", f"Not saved: {exc}")
        return
    n = len(pairs or indices)
    what = {"accept": f"relabelled {n} to the suggestion", "relabel": f"relabelled {n} to {new}",
            "exclude": f"excluded {n}", "keep": f"kept {n} as labelled", "undo": "undid the last action"}
    st.session_state[K_MSG] = ("success", f"Saved: {what[kind]}. Corrections {result.summary()}.")
    _new_selection(())
    if kind != "undo" and not st.session_state.get(K_ALL):
        # The reviewed sample leaves the list; the next one takes the focus.
        st.session_state[K_FOCUS] = st.session_state.get("rv_next")


def _set_focus(index: int) -> None:
    st.session_state[K_FOCUS] = index


def _toggle(index: int) -> None:
    sel = st.session_state.setdefault(K_SEL, set())
    sel.symmetric_difference_update({index})


def _new_selection(indices) -> None:
    # The checkboxes' keys carry a generation number, so they are redrawn from K_SEL.
    st.session_state[K_SEL] = set(indices)
    st.session_state["rv_sel_gen"] = st.session_state.get("rv_sel_gen", 0) + 1


def _select_page(indices: list[int]) -> None:
    _new_selection(set(st.session_state.get(K_SEL) or ()) | set(indices))


def _clear_selection() -> None:
    _new_selection(())


def _submit(ds: Dataset) -> None:
    try:
        _queue().submit(JOB_KIND, _job_params(ds), title=f"Label issues: {ds.name} ({ds.split})")
    except Exception as exc:  # noqa: BLE001 - the job system's own errors are messages here
        st.session_state[K_MSG] = ("error", f"Could not start the search: {exc}")


# --------------------------------------------------------------------------- drawing

def _status(state: dict[int, cr.Action], index: int, names: tuple[str, ...]) -> str:
    a = state.get(index)
    if a is None:
        return ""
    if a.kind == "exclude":
        return "excluded"
    if a.kind == "keep" or a.new == a.old:
        return "kept"
    return f"relabelled → {names[a.new]}"


@st.fragment(run_every=1.0)
def _progress(ds: Dataset) -> None:
    job = _active_job(ds)
    if job is None:
        st.rerun()  # finished (or stopped): draw the results
    st.progress(min(max(float(job.fraction), 0.0), 1.0),
                text=shell.plain(job.message or "queued: waiting for a worker"))
    if st.button("Stop the search", key="rv_stop"):
        _queue().stop(job.id)


def _search_panel(ds: Dataset) -> None:
    job = _active_job(ds)
    if job is not None:
        st.info("Searching for label issues (a background job: you can leave this page and come back).")
        _progress(ds)
        return
    p = _params()
    failed = _last_failure(ds)
    if failed is not None:
        st.error(shell.plain(f"The last search failed: {failed.error or failed.message}"))
    st.info(
        f"No search for label issues on this data yet. It trains the MLP {p.folds} times "
        f"({p.folds}-fold, hidden {','.join(map(str, p.hidden))}, {p.epochs} epochs) so every sample "
        f"gets probabilities from a model that never saw it, then ranks the labels with cleanlab. "
        f"About 1–2 minutes for MNIST on two cores."
    )
    st.button("Find label issues", type="primary", key="rv_start", on_click=_submit, args=(ds,))


def _focus_panel(ds: Dataset, s: li.Suspects, pos: int, order: np.ndarray,
                 state: dict[int, cr.Action]) -> None:
    names = ds.class_names
    index = int(s.indices[pos])
    given, sugg = int(s.given[pos]), int(s.suggested[pos])
    conf = float(s.proba[pos, sugg])
    where = np.flatnonzero(order == pos)
    k = int(where[0]) if where.size else -1
    # Where the focus goes after an action: the next listed suspect.
    nxt = order[k + 1] if 0 <= k < len(order) - 1 else (order[k - 1] if k > 0 else None)
    st.session_state["rv_next"] = None if nxt is None else int(s.indices[nxt])
    left, right = st.columns([1, 2])
    with left:
        st.image(picture_uri(ds.images[index], 196), caption=f"sample {index}", width=196)
    with right:
        st.markdown(f"**Sample {index}** (rank {pos + 1} of {len(s)}) · given **{shell.plain(names[given])}**"
                    f" · suggested **{shell.plain(names[sugg])}** (p = {conf:.3f}) · "
                    f"label quality {float(s.quality[pos]):.4f}")
        status = _status(state, index, names)
        if status:
            st.caption(f"Decision: {status}")
        top = np.argsort(s.proba[pos])[::-1][:3]
        st.caption("Model probabilities: " + ", ".join(
            f"{shell.plain(names[c])} {float(s.proba[pos, c]):.3f}" for c in top))
        b = st.columns(3)
        b[0].button(f"Relabel to {names[sugg]}", key="rv_accept", type="primary",
                    shortcut=SHORTCUTS["accept"], on_click=_act,
                    args=(ds, "accept", [index]), kwargs={"pairs": [(index, sugg)]},
                    disabled=sugg == given, help="Give it the suggested label (A)")
        b[1].button("Exclude", key="rv_exclude", shortcut=SHORTCUTS["exclude"], on_click=_act,
                    args=(ds, "exclude", [index]), help="Leave it out of the corrected set (X)")
        b[2].button("Keep label", key="rv_keep", shortcut=SHORTCUTS["keep"], on_click=_act,
                    args=(ds, "keep", [index]), help="The given label is right (K)")
        c = st.columns([2, 1])
        other = c[0].selectbox("Relabel to any class", range(len(names)), index=sugg,
                               format_func=lambda i: f"{i}: {names[i]}", key=K_RELABEL)
        c[1].button("Relabel", key="rv_relabel", on_click=_act, args=(ds, "relabel", [index]),
                    kwargs={"new": int(other)}, disabled=int(other) == given)
        n = st.columns(3)
        prev_i = int(s.indices[order[k - 1]]) if k > 0 else None
        next_i = int(s.indices[order[k + 1]]) if 0 <= k < len(order) - 1 else None
        n[0].button("Previous", key="rv_prev", shortcut=SHORTCUTS["prev"], disabled=prev_i is None,
                    on_click=_set_focus, args=(prev_i,))
        n[1].button("Next", key="rv_next_btn", shortcut=SHORTCUTS["next"], disabled=next_i is None,
                    on_click=_set_focus, args=(next_i,))
        if n[2].button("Inspect in Explore", key="rv_explore", shortcut=SHORTCUTS["explore"]):
            from dashboard.state import open_in_explore

            open_in_explore(sample=index)
    _neighbours(ds, index)


@st.fragment
def _neighbours(ds: Dataset, index: int) -> None:
    with st.expander("Nearest neighbours (PCA-50 space) and their labels", expanded=True):
        try:
            from dashboard.explore.embedding import MapStore

            nn, dist = MapStore().similar(ds, index, k=8)
        except (ImportError, AttributeError):
            st.caption("Nearest neighbours need the map module (dashboard/explore/embedding.py).")
            return
        except DashboardError as exc:
            st.caption(shell.plain(f"No neighbours: {exc}"))
            return
        nn = [int(i) for i in np.asarray(nn).ravel() if int(i) != index][:8]
        cols = st.columns(8)
        for col, i in zip(cols, nn):
            col.image(picture_uri(ds.images[i], 84), caption=shell.plain(f"{i}: {ds.class_names[int(ds.labels[i])]}"),
                      width=84)


def _grid(ds: Dataset, s: li.Suspects, order: np.ndarray, state: dict[int, cr.Action]) -> list[int]:
    names = ds.class_names
    pages = max(1, -(-len(order) // PAGE_SIZE))
    page = min(int(st.session_state.get(K_PAGE) or 0), pages - 1)
    st.session_state[K_PAGE] = page
    shown = order[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    selected: set[int] = st.session_state.setdefault(K_SEL, set())
    focus = st.session_state.get(K_FOCUS)
    gen = st.session_state.get("rv_sel_gen", 0)
    for start in range(0, len(shown), GRID_COLS):
        cols = st.columns(GRID_COLS)
        for col, pos in zip(cols, shown[start:start + GRID_COLS]):
            i = int(s.indices[pos])
            g, sg = int(s.given[pos]), int(s.suggested[pos])
            with col:
                mark = "▶ " if i == focus else ""
                st.image(picture_uri(ds.images[i], 84), width=84)
                st.caption(f"{mark}#{pos + 1} · {shell.plain(names[g])} → {shell.plain(names[sg])} "
                           f"· {float(s.proba[pos, sg]):.2f}")
                status = _status(state, i, names)
                if status:
                    st.caption(status)
                st.checkbox("select", value=i in selected, key=f"rv_sel_{i}_{gen}", on_change=_toggle, args=(i,))
                st.button("Review", key=f"rv_open_{i}", on_click=_set_focus, args=(i,))
    nav = st.columns([1, 1, 3])
    nav[0].button("◀ Page", key="rv_pg_prev", disabled=page == 0,
                  on_click=lambda: st.session_state.update({K_PAGE: page - 1}))
    nav[1].button("Page ▶", key="rv_pg_next", disabled=page >= pages - 1,
                  on_click=lambda: st.session_state.update({K_PAGE: page + 1}))
    nav[2].caption(f"page {page + 1} of {pages} · {len(order):,} suspects listed")
    return [int(s.indices[p]) for p in shown]


def _bulk(ds: Dataset, s: li.Suspects, page_indices: list[int]) -> None:
    selected = sorted(st.session_state.get(K_SEL) or ())
    pos_of = {int(i): p for p, i in enumerate(s.indices)}
    pairs = [(i, int(s.suggested[pos_of[i]])) for i in selected if i in pos_of
             and int(s.suggested[pos_of[i]]) != int(s.given[pos_of[i]])]
    st.markdown(f"**Selection: {len(selected)}**")
    b = st.columns(5)
    b[0].button("Select this page", key="rv_sel_page", on_click=_select_page, args=(page_indices,))
    b[1].button("Clear selection", key="rv_sel_clear", on_click=_clear_selection, disabled=not selected)
    b[2].button("Relabel selected to suggestions", key="rv_bulk_accept", disabled=not pairs,
                on_click=_act, args=(ds, "accept", selected), kwargs={"pairs": pairs})
    b[3].button("Exclude selected", key="rv_bulk_exclude", disabled=not selected,
                on_click=_act, args=(ds, "exclude", selected))
    b[4].button("Keep selected", key="rv_bulk_keep", disabled=not selected,
                on_click=_act, args=(ds, "keep", selected))


def _export(ds: Dataset, corr: cr.Corrections) -> None:
    with st.expander("Export the corrected set"):
        if not corr.state_id:
            st.caption("No relabels or exclusions yet: the corrected set is the original.")
            return
        fmt = st.radio("Format", cr.EXPORT_FORMATS, horizontal=True, key="rv_export_fmt",
                       format_func=str.upper)
        if st.button("Prepare files", key="rv_export_go"):
            fixed = cr.apply_corrections(ds, corr)
            st.session_state["rv_export"] = cr.export_dataset(fixed, fmt)
        for name, data in st.session_state.get("rv_export") or []:
            st.download_button(f"Download {name}", data, file_name=name, key=f"rv_dl_{name}")


def page() -> None:
    """The Review page."""
    st.title("Review label issues")
    _restore_from_url()
    # Always the original split: corrections are decisions about it (the sidebar may show it corrected).
    ds = shell.get_split(shell.current_name(), shell.current_split())
    _reset_if_new(ds)
    if ds.split == "test":
        st.warning(f"Reviewing the **test** split of {shell.plain(ds.name)} ({len(ds):,} samples). The search "
                   "trains on folds of the test split itself; corrections here change what "
                   "“test accuracy” means, and runs record which corrections their data carried.")
    else:
        st.caption(f"Reviewing the **{shell.plain(ds.split)}** split of {shell.plain(ds.name)} "
                   f"({len(ds):,} samples). The test split is reviewed only if you choose it in the sidebar.")
    try:
        corr = _corrections(ds)
    except DashboardError as exc:
        st.error(shell.plain(str(exc)))
        return
    msg = st.session_state.pop(K_MSG, None)
    if msg:
        getattr(st, msg[0])(shell.plain(msg[1]))
    top = st.columns([3, 1])
    top[0].caption(f"Corrections {corr.summary()} · saved in {shell.plain(cr.corrections_path(ds))}")
    top[1].button("Undo last action", key="rv_undo", shortcut=SHORTCUTS["undo"], disabled=not corr.actions,
                  on_click=_act, args=(ds, "undo", []), help="Undo the last decision or bulk action (U)")
    s = _load_suspects(ds)
    if s is None:
        _search_panel(ds)
        _write_url()
        return
    state = corr.state()
    names = ds.class_names
    f = st.columns([2, 2, 1])
    f[0].multiselect("Given class", range(len(names)), key=K_GIVEN, format_func=lambda i: names[i])
    f[1].multiselect("Suggested class", range(len(names)), key=K_SUGG, format_func=lambda i: names[i])
    f[2].toggle("Show reviewed", key=K_ALL)
    hide = () if st.session_state.get(K_ALL) else state.keys()
    order = li.filter_suspects(s, st.session_state.get(K_GIVEN), st.session_state.get(K_SUGG), hide)
    st.caption(f"{len(s):,} suspects among {s.n_samples:,} samples (cleanlab, ranked by "
               f"{s.method.replace('_', ' ')}); {len(state):,} reviewed. Shortcuts: A relabel to the "
               f"suggestion, X exclude, K keep, U undo, N / P next / previous, E inspect in Explore.")
    if len(order) == 0:
        st.success("Nothing left to review with these filters.")
    else:
        pos_of = {int(i): p for p, i in enumerate(s.indices)}
        focus = st.session_state.get(K_FOCUS)
        if focus not in pos_of or (pos_of[focus] not in set(order.tolist())):
            focus = int(s.indices[order[0]])
            st.session_state[K_FOCUS] = focus
        _focus_panel(ds, s, pos_of[focus], order, state)
        st.divider()
        page_indices = _grid(ds, s, order, state)
        _bulk(ds, s, page_indices)
    _export(ds, corr)
    _write_url()
