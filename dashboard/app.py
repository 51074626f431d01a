"""The Streamlit app: ``streamlit run dashboard/app.py``."""

# NOTE to page authors: page modules live in dashboard/views/ (``def page() -> None``),
# never in a folder named ``pages`` beside app.py: that name switches Streamlit to its
# legacy multipage mode, and AppTest then renders nothing after the first run.

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ (not the project) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from dashboard import shell, state as url_state
from dashboard.views import datasets, draw, explore, map as map_view, overview, review, runs, tilegrid, train

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
# Pages that draw a light first page in a new tab (by their own rule): the sidebar's
# widgets wait for its follow-up run.
LIGHT_FIRST = {"Explore": explore.light_run, "Map": map_view.light_run}


def main(start: str | None = None) -> None:
    """Draw the app; ``start`` (a url path) makes another page the default, for tests."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        # Not a Streamlit run: e.g. a worker process that multiprocessing's spawn started by
        # re-running the parent's main script (an AppTest script, in the tests). Draw nothing.
        return
    st.set_page_config(page_title="MNIST explorer", layout="wide")
    start = start or PAGES[0][2]
    pages = [
        # Each page guarded: an error is a message, and the sidebar and other pages still work.
        st.Page(shell.guarded(view, f"The {title} page"), title=title, url_path=path, icon=icon,
                default=path == start)
        for view, title, path, icon in PAGES
    ]
    # Our own page list (see nav_links): Streamlit's drops the URL on a switch.
    nav = st.navigation(pages, position="hidden")
    links = st.sidebar.container(key="app_nav")
    url_state.begin_run(nav.url_path)
    st.session_state.pop(tilegrid.K_WATCHING, None)
    controls = None
    try:
        try:
            light = LIGHT_FIRST.get(nav.title)
            controls = shell.sidebar(light=light is not None and light())
        except Exception as exc:  # noqa: BLE001 - the page below still renders
            with st.sidebar:
                shell.show_failure(exc, "The sidebar")
        nav.run()
        if controls is not None and not st.session_state.get(tilegrid.K_WATCHING):
            shell.sidebar_controls(controls)  # no follow-up run will come to draw them
    finally:  # after the page, so the links carry what it wrote (also after st.stop)
        nav_links(links, pages, nav)


def nav_links(box, pages: list, current) -> None:
    """The page list, each link carrying the URL its page showed last (and the sidebar's now).

    Streamlit's own list opens a page with an empty URL; the page then writes its
    state back, a second history entry, and Back landed on it (issue 9).
    """
    url_state.remember_page_url()
    now = st.query_params.to_dict()
    known = st.session_state.get(url_state.K_PAGE_URLS, {})
    for pg in pages:
        same = pg.url_path == current.url_path
        box.page_link(pg, label=pg.title, icon=pg.icon,
                      query_params=None if same else url_state.link_params(known.get(pg.url_path), now))


if __name__ == "__main__":  # streamlit run executes this file as __main__
    main()
