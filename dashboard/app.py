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
from dashboard.views import datasets, draw, explore, overview, review, runs, train  # noqa: E402
from dashboard.views import map as map_view  # noqa: E402

PAGES = (
    # (view, title, url path, icon); the first is the default.
    (explore.page, "Explore", "explore", ":material/grid_view:"),
    (overview.page, "Dataset overview", "overview", ":material/bar_chart:"),
    (map_view.page, "Map", "map", ":material/scatter_plot:"),
    (train.page, "Train", "train", ":material/model_training:"),
    (runs.page, "Runs", "runs", ":material/history:"),
    (review.page, "Review labels", "review", ":material/fact_check:"),
    (datasets.page, "Datasets", "datasets", ":material/database:"),
    (draw.page, "Draw", "draw", ":material/draw:"),
)


def main(start: str | None = None) -> None:
    """Draw the app; ``start`` (a url path) makes another page the default, for tests."""
    st.set_page_config(page_title="MNIST explorer", layout="wide")
    start = start or PAGES[0][2]
    nav = st.navigation([
        # Each page guarded: an error is a message, and the sidebar and other pages still work.
        st.Page(shell.guarded(view, f"The {title} page"), title=title, url_path=path, icon=icon,
                default=path == start)
        for view, title, path, icon in PAGES
    ])
    try:
        shell.sidebar()
    except Exception as exc:  # noqa: BLE001 - the page below still renders
        with st.sidebar:
            shell.show_failure(exc, "The sidebar")
    nav.run()


if __name__ == "__main__":  # streamlit run executes this file as __main__
    main()
