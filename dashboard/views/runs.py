"""Runs: every saved training run in a sortable table; compare, diff and delete them.

Reads the run folders under ``shell.runs_dir()`` on every rerun (they are small
JSON files), so runs saved by other sessions or by the CLI appear at once.
Broken folders are reported with the reason and can be deleted.

Choosing: tick rows. One run is shown in full (:func:`dashboard.views.results.show_run`);
two or more are compared, and one of them can be opened in full. The chosen runs are
kept by id (session state and ``?runs=`` in the URL), never by row number: when runs
appear or disappear (another tab, the CLI, a sweep), the table is redrawn with the
same runs ticked, and a chosen run that is gone is named in a warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import shell, state as url_state
from dashboard.errors import DashboardError
from dashboard.explore.thumbnails import picture_uri
from dashboard.lab import train_figures
from dashboard.lab.results import cell_change, differing_params
from dashboard.lab.runs import Run, RunListing, RunStore
from dashboard.views import results

K_TABLE = "runs_table"
K_OLD, K_NEW = "runs_diff_old", "runs_diff_new"
K_DELETE, K_DELETE_CONFIRM, K_DELETE_GO = "runs_delete", "runs_delete_confirm", "runs_delete_go"
K_NOTICE = "runs_notice"
K_CHOSEN = "runs_chosen"  # ids of the chosen runs: the truth the table's selection is read into
K_SHOWN = "runs_shown_ids"  # ids in the order the table showed them on the last run
K_GEN = "runs_table_gen"  # bumped when the rows change, so the table starts again from K_CHOSEN
K_OPEN = "runs_open"
K_DIFF = "runs_diff"
RUN_KEY = "runs_run"  # widget-key prefix of the full view of one run
URL_RUNS = "runs"  # ?runs=id1,id2: the chosen runs, so a reload or a link shows the same comparison
MAX_DIFF_IMAGES = 30


def corrections_text(info: dict) -> str:
    """Which label corrections a run's train and test splits carried: "none", "train v2 · test v1"."""
    parts = [f"{split} v{info[key]['version']}"
             for split, key in (("train", "corrections"), ("test", "test_corrections")) if info.get(key)]
    return " · ".join(parts) or "none"


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run: dataset, parameters, test accuracy, time and date.

    Parameters
    ----------
    runs : list of Run

    Returns
    -------
    pandas.DataFrame
        Indexed 0..n-1 in the order of ``runs``.
    """
    rows = []
    for run in runs:
        p = run.params
        created = run.created_at
        rows.append({
            "name": run.name,
            "run": run.run_id,
            "dataset": run.dataset,
            # Which label corrections the training data carried (Review labels page), if any.
            "corrections": corrections_text(run.info),
            "test accuracy": run.test_accuracy,
            "model": p.model,
            "hidden": ",".join(map(str, p.hidden)),
            "activation": p.activation,
            "solver": p.solver,
            "alpha": p.alpha,
            "learning rate": p.learning_rate,
            "batch": p.batch_size,
            "epochs": len(run.info["history"]),
            "kept epoch": run.kept_epoch,  # the best-validation epoch when keep_best is on
            "train size": p.train_size or None,
            "val fraction": p.val_fraction,
            "seed": p.seed,
            "seconds": float(run.info.get("timing", {}).get("total", np.nan)),
            "date": pd.Timestamp(created.replace(tzinfo=None) - (created.utcoffset() or pd.Timedelta(0)))
            if created else pd.NaT,
            "status": run.info.get("status", ""),
        })
    return pd.DataFrame(rows)


def labels(runs: list[Run]) -> list[str]:
    """Readable, unique labels: the run's name, with the end of its id when names repeat."""
    names = [r.name for r in runs]
    return [n if names.count(n) == 1 else f"{n} · {r.run_id[-6:]}" for n, r in zip(names, runs)]


def params_frame(runs: list[Run], names: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The runs' parameters side by side, and the names of those that differ.

    Parameters
    ----------
    runs : list of Run
    names : list of str
        One label per run (the frame's first column).

    Returns
    -------
    frame : pandas.DataFrame
        One row per run; differing parameters first, their column names marked "≠".
    differing : list of str
    """
    dicts = [r.params.to_dict() for r in runs]
    differing = differing_params(dicts)
    same = [k for k in dicts[0] if k not in differing]
    rows = []
    for name, d in zip(names, dicts):
        row = {"run": name}
        row.update({f"≠ {k}": _cell(d.get(k)) for k in differing})
        row.update({k: _cell(d.get(k)) for k in same})
        rows.append(row)
    return pd.DataFrame(rows), differing


def _cell(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _compare(chosen: list[Run]) -> None:
    names = labels(chosen)
    hist = [r.history for r in chosen]
    st.subheader("Comparison")
    frame, differing = params_frame(chosen, names)
    if differing:
        st.caption(shell.plain("Parameters that differ (marked ≠, shaded): " + ", ".join(differing)))
    else:
        st.caption("Same parameters in all these runs.")
    marked = [c for c in frame.columns if c.startswith("≠ ")]
    styled = frame.style.set_properties(subset=marked, **{"background-color": "#fff3b0", "font-weight": "bold"})
    st.dataframe(styled, hide_index=True, key="runs_params")
    st.plotly_chart(
        train_figures.compare_curves_figure(
            names, [[h.loss for h in rh] for rh in hist], [[h.train_accuracy for h in rh] for rh in hist],
            [[h.val_accuracy for h in rh] for rh in hist],
        ),
        key="runs_curves",
    )
    st.plotly_chart(train_figures.compare_accuracy_figure(names, [r.test_accuracy for r in chosen]),
                    key="runs_accuracy")
    _difference(chosen)


def _difference(chosen: list[Run]) -> None:
    st.markdown("**Where the new run gains and loses** (difference of test confusion matrices; "
                "click a cell to see the images it fixed or broke)")
    by_id = {r.run_id: r for r in chosen}
    label = dict(zip(by_id, labels(chosen)))
    ordered = sorted(by_id, key=lambda i: (by_id[i].created_at is not None, by_id[i].created_at, i))
    c1, c2 = st.columns(2)
    old_id = c1.selectbox("Old run", ordered, index=0, key=K_OLD, format_func=label.get)
    new_id = c2.selectbox("New run", ordered, index=len(ordered) - 1, key=K_NEW, format_func=label.get)
    if old_id not in by_id or new_id not in by_id:  # kept from an earlier choice of runs
        st.caption("Pick the two runs again.")
        return
    old, new = by_id[old_id], by_id[new_id]
    if old_id == new_id:
        st.caption("Pick two different runs.")
        return
    old_m = np.asarray(old.info["metrics"]["test_confusion"])
    new_m = np.asarray(new.info["metrics"]["test_confusion"])
    problem = train_figures.diff_problem(new_m, old_m, new.class_names)
    if problem:
        st.info(shell.plain(f"These two runs cannot be compared cell by cell: {problem}."))
        return
    if old.dataset != new.dataset or old.info.get("dataset_checksum") != new.info.get("dataset_checksum"):
        st.info(shell.plain(f"These runs were trained on different datasets ({old.dataset} and {new.dataset}, "
                            "or different versions of it); their confusion matrices cannot be compared."))
        return
    event = st.plotly_chart(
        train_figures.confusion_difference_figure(
            new_m, old_m, new.class_names, title=f"{label[new_id]} minus {label[old_id]}: green = better",
        ),
        key=K_DIFF, on_select="rerun", selection_mode="points",
    )
    cell = train_figures.selected_cell(event.selection.points if event else [], n_classes=len(new.class_names))
    if cell is not None:
        _cell_change(old, new, cell)


def _cell_change(old: Run, new: Run, cell: tuple[int, int]) -> None:
    t, p = cell
    names = new.class_names
    try:
        test = results.run_test_split(new)
        a, b = results.run_outputs(old, test), results.run_outputs(new, test)
    except DashboardError as exc:
        st.info(shell.plain(f"The images of this cell cannot be shown: {exc}."))
        return
    change = cell_change(test.labels, a.predictions, b.predictions, t, p)
    where = f"true {names[t]}, predicted {names[p]}"
    st.write(shell.plain(f"Cell {where}: {len(change.entered) - len(change.left):+d} "
                         f"({len(change.entered)} in, {len(change.left)} out)"))
    c1, c2 = st.columns(2)
    for col, title, idx in ((c1, "Fixed by the new run", change.fixed), (c2, "Broken by the new run", change.broken)):
        with col:
            more = f", first {MAX_DIFF_IMAGES}" if len(idx) > MAX_DIFF_IMAGES else ""
            st.markdown(f"**{title}** ({len(idx)}{more})")
            idx = idx[:MAX_DIFF_IMAGES]
            if len(idx):
                st.image([picture_uri(test.images[i], results.IMAGE_WIDTH) for i in idx],
                         width=results.IMAGE_WIDTH, caption=[
                    shell.plain(f"#{i} {names[test.labels[i]]}: old {names[a.predictions[i]]}, "
                                f"new {names[b.predictions[i]]} {b.probabilities[i, b.predictions[i]]:.2f}")
                    for i in idx])
            else:
                st.caption("None.")


def _delete(store: RunStore, listing: RunListing) -> None:
    names = {r.run_id: r.name for r in listing.runs}
    names.update({b.run_id: f"(broken) {b.run_id}" for b in listing.broken})
    with st.expander("Delete a run", expanded=bool(listing.broken)):
        run_id = st.selectbox("Run", list(names), key=K_DELETE,
                              format_func=lambda i: f"{names.get(i, i)} · {i}" if i in names else str(i))
        sure = st.checkbox("Yes, delete it for good", key=K_DELETE_CONFIRM)
        if st.button("Delete", key=K_DELETE_GO, disabled=not sure or run_id is None):
            try:
                store.delete(run_id)
                st.session_state[K_NOTICE] = f"Deleted run {run_id}."
                # Our own deletion: no "gone" warning for it.
                st.session_state[K_CHOSEN] = [i for i in st.session_state.get(K_CHOSEN, []) if i != run_id]
            except DashboardError as exc:
                st.session_state[K_NOTICE] = f"Could not delete {run_id}: {exc}"
            st.session_state.pop(K_DELETE_CONFIRM, None)
            st.rerun()


def _table_key(gen: int) -> str:
    return K_TABLE if gen == 0 else f"{K_TABLE}_{gen}"


def _rows_of(value: object) -> list[int] | None:
    try:
        rows = value["selection"]["rows"]  # type: ignore[index]
        return [int(r) for r in rows]
    except (KeyError, TypeError, ValueError):
        return None


def _choose(runs: list[Run], frame: pd.DataFrame) -> list[Run]:
    """Draw the table; return the chosen runs (by id, see the module docstring)."""
    state = st.session_state
    ids = [r.run_id for r in runs]
    if K_CHOSEN not in state:
        state[K_CHOSEN] = [i for i in str(st.query_params.get(URL_RUNS, "")).split(",") if i]
    gen = int(state.get(K_GEN, 0))
    shown = state.get(K_SHOWN)
    if shown is not None and shown != ids:
        # The rows changed since the table was drawn: its selection refers to the old rows.
        rows = _rows_of(state[_table_key(gen)]) if _table_key(gen) in state else None
        if rows is not None:
            state[K_CHOSEN] = [shown[r] for r in rows if 0 <= r < len(shown)]
        gen += 1
        state[K_GEN] = gen
    gone = [i for i in state[K_CHOSEN] if i not in ids]
    if gone:
        st.warning(shell.plain(
            f"{'Run' if len(gone) == 1 else 'Runs'} {', '.join(gone)} "
            f"{'is' if len(gone) == 1 else 'are'} no longer there (deleted in another tab or outside the app): "
            "left out of what is shown."))
        state[K_CHOSEN] = [i for i in state[K_CHOSEN] if i in ids]
    key = _table_key(gen)
    extra = {}
    if key not in state:  # a new table: tick the chosen runs (a default must not meet a set state)
        extra["selection_default"] = {"selection": {"rows": [ids.index(i) for i in state[K_CHOSEN]],
                                                    "columns": []}}
    st.caption("Click a column header to sort; tick a row to open that run, two or more to compare them.")
    event = st.dataframe(
        frame, hide_index=True, on_select="rerun", selection_mode="multi-row", key=key,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.4f"),
            "seconds": st.column_config.NumberColumn(format="%.1f"),
            "date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
        **extra,
    )
    rows = _rows_of(event) or []
    chosen = [ids[r] for r in rows if 0 <= r < len(ids)]
    state[K_CHOSEN], state[K_SHOWN] = chosen, ids
    url_state.put_url({URL_RUNS: ",".join(chosen)})
    by_id = dict(zip(ids, runs))
    return [by_id[i] for i in chosen]


def page() -> None:
    """The Runs page."""
    st.title("Runs")
    store = RunStore(shell.runs_dir())
    listing = store.list()
    notice = st.session_state.pop(K_NOTICE, None)
    if notice:
        st.success(shell.plain(notice))
    for problem in listing.problems:  # folder names and reasons quote files: shown as written
        st.warning(shell.plain(problem))
    if listing.broken:
        st.caption("Broken run folders can be deleted below (Delete a run).")
    if not listing.runs:
        st.info(shell.plain(f"No runs yet in {store.root}.") + " Train one on the Train page or with "
                "`python -m dashboard train --dataset mnist`.")
        if listing.broken:
            _delete(store, listing)
        return
    chosen = _choose(listing.runs, runs_frame(listing.runs))
    if len(chosen) == 1:
        st.divider()
        results.show_run(chosen[0], key=RUN_KEY)
    elif len(chosen) >= 2:
        st.divider()
        _compare(chosen)
        st.divider()
        ids = [r.run_id for r in chosen]
        names = dict(zip(ids, labels(chosen)))
        if st.session_state.get(K_OPEN) not in ids:
            st.session_state[K_OPEN] = ids[-1]
        open_id = st.selectbox("Open one of these runs in full", ids, key=K_OPEN, format_func=names.get)
        results.show_run(chosen[ids.index(open_id)], key=RUN_KEY)
    else:
        st.caption("Tick a run to see its full results; tick two or more to compare them.")
    _delete(store, listing)
