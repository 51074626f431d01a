"""The catalog: which datasets exist, which are on this machine, and a button to fetch one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import shell
from dashboard.data.catalog import CATALOG, DIGITS_NAME, DIGITS_TITLE
from dashboard.data.loading import cache_dir, is_available


def catalog_frame() -> pd.DataFrame:
    rows = [
        {"name": e.name, "title": e.title, "images": f"{e.shape[0]}x{e.shape[1]}",
         "train": e.sizes["train"], "test": e.sizes["test"], "classes": len(e.class_names),
         "on this machine": "yes" if is_available(e.name) else "no (downloads on first use)"}
        for e in CATALOG.values()
    ]
    rows.append({"name": DIGITS_NAME, "title": DIGITS_TITLE, "images": "8x8", "train": 1437,
                 "test": 360, "classes": 10, "on this machine": "yes (built in)"})
    return pd.DataFrame(rows)


def page() -> None:
    st.title("Datasets")
    st.write("The sets the explorer knows. Pick one in the sidebar; a set that is not on this "
             "machine is downloaded on first use (about 12 to 30 MB) and kept in the data cache, "
             "here:")
    st.code(str(cache_dir()), language=None)
    st.caption("To download one from a terminal instead (in the project folder):")
    st.code(".venv/bin/python -m dashboard fetch mnist fashion-mnist", language="bash")
    st.dataframe(catalog_frame(), hide_index=True)
    ds = shell.current_dataset()
    st.subheader("Loaded now")
    st.text(f"{ds.describe()}\nfrom {ds.source}")
