"""Runs: every saved training run in a sortable table; compare, diff and delete them.

Reads the run folders under ``shell.runs_dir()`` on every rerun (they are small
JSON files), so runs saved by other sessions or by the CLI appear at once.
Broken folders are reported and skipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import shell
from dashboard.lab import train_figures
from dashboard.errors import DashboardError
from dashboard.lab.runs import Run, RunStore

K_TABLE = "runs_table"
K_OLD, K_NEW = "runs_diff_old", "runs_diff_new"
K_DELETE, K_DELETE_CONFIRM, K_DELETE_GO = "runs_delete", "runs_delete_confirm", "runs_delete_go"
K_NOTICE = "runs_notice"


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
        rows.append({
            "run": run.run_id,
            "dataset": run.dataset,
            "test accuracy": run.test_accuracy,
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
            "date": pd.Timestamp(run.info.get("created")) if run.info.get("created") else pd.NaT,
            "status": run.info.get("status", ""),
        })
    return pd.DataFrame(rows)


def _label(run: Run) -> str:
    return f"{run.run_id} ({run.test_accuracy:.4f})"


def _compare(store: RunStore, chosen: list[Run]) -> None:
    labels = [_label(r) for r in chosen]
    hist = [r.history for r in chosen]
    st.plotly_chart(
        train_figures.compare_curves_figure(
            labels, [[h.loss for h in rh] for rh in hist], [[h.train_accuracy for h in rh] for rh in hist],
            [[h.val_accuracy for h in rh] for rh in hist],
        ),
        key="runs_curves",
    )
    st.plotly_chart(train_figures.compare_accuracy_figure(labels, [r.test_accuracy for r in chosen]),
                    key="runs_accuracy")
    st.markdown("**Where the new run gains and loses** (difference of test confusion matrices)")
    by_id = {r.run_id: r for r in chosen}
    ordered = sorted(by_id, key=lambda i: by_id[i].info.get("created", ""))
    c1, c2 = st.columns(2)
    old_id = c1.selectbox("Old run", ordered, index=0, key=K_OLD)
    new_id = c2.selectbox("New run", ordered, index=len(ordered) - 1, key=K_NEW)
    old, new = by_id[old_id], by_id[new_id]
    if old.dataset != new.dataset or old.info.get("dataset_checksum") != new.info.get("dataset_checksum"):
        st.info("These runs were trained on different datasets; their confusion matrices cannot be compared.")
        return
    if old_id == new_id:
        st.caption("Pick two different runs.")
        return
    st.plotly_chart(
        train_figures.confusion_difference_figure(
            np.asarray(new.info["metrics"]["test_confusion"]), np.asarray(old.info["metrics"]["test_confusion"]),
            new.class_names, title=f"{new_id} minus {old_id}: green = better",
        ),
        key="runs_diff",
    )


def _delete(store: RunStore, runs: list[Run]) -> None:
    with st.expander("Delete a run"):
        run_id = st.selectbox("Run", [r.run_id for r in runs], key=K_DELETE)
        sure = st.checkbox("Yes, delete it for good", key=K_DELETE_CONFIRM)
        if st.button("Delete", key=K_DELETE_GO, disabled=not sure):
            try:
                store.delete(run_id)
                st.session_state[K_NOTICE] = f"Deleted run {run_id}."
            except DashboardError as exc:
                st.session_state[K_NOTICE] = f"Could not delete {run_id}: {exc}"
            st.session_state.pop(K_DELETE_CONFIRM, None)
            st.rerun()


def page() -> None:
    """The Runs page."""
    st.title("Runs")
    store = RunStore(shell.runs_dir())
    listing = store.list()
    notice = st.session_state.pop(K_NOTICE, None)
    if notice:
        st.success(notice)
    for problem in listing.problems:
        st.warning(problem)
    if not listing.runs:
        st.info(f"No runs yet in {store.root}. Train one on the Train page or with "
                "`python -m dashboard train --dataset mnist`.")
        return
    frame = runs_frame(listing.runs)
    st.caption("Click a column header to sort; tick two or more rows to compare them.")
    event = st.dataframe(
        frame, hide_index=True, on_select="rerun", selection_mode="multi-row", key=K_TABLE,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.4f"),
            "seconds": st.column_config.NumberColumn(format="%.1f"),
            "date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    rows = [r for r in (event.selection.rows if event else []) if r < len(listing.runs)]
    chosen = [listing.runs[r] for r in rows]
    if len(chosen) >= 2:
        _compare(store, chosen)
    else:
        st.caption("Select at least two runs to compare their curves, accuracies and confusion matrices.")
    _delete(store, listing.runs)
