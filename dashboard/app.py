"""The Streamlit app: ``streamlit run dashboard/app.py``."""

# NOTE to page authors: page modules live in dashboard/views/ (``def page() -> None``),
# never in a folder named ``pages`` beside app.py: that name switches Streamlit to its
# legacy multipage mode, and AppTest then renders nothing after the first run.

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ (not the project) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from dashboard import shell  # noqa: E402
from dashboard.views import datasets, explore, overview, runs, train  # noqa: E402

st.set_page_config(page_title="MNIST explorer", layout="wide")

pages = [
    st.Page(explore.page, title="Explore", url_path="explore", icon=":material/grid_view:", default=True),
    st.Page(overview.page, title="Dataset overview", url_path="overview", icon=":material/bar_chart:"),
    st.Page(train.page, title="Train", url_path="train", icon=":material/model_training:"),
    st.Page(runs.page, title="Runs", url_path="runs", icon=":material/history:"),
    st.Page(datasets.page, title="Datasets", url_path="datasets", icon=":material/database:"),
]
nav = st.navigation(pages)
shell.sidebar()
nav.run()
