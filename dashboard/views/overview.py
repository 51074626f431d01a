"""Dataset overview: class balance, mean and std images per class, histogram, variance map, facts."""

from __future__ import annotations

import streamlit as st

from dashboard import shell
from dashboard.explore import overview


@st.cache_resource(show_spinner="Computing dataset statistics…", max_entries=16)
def _stats(name: str, split: str, checksum: str) -> overview.OverviewStats:
    # Keyed by strings: hashing a Dataset (tens of MB) per call would cost more than
    # the lookup saves. The checksum tells apart two uploads with the same name.
    ds = shell.get_split(name, split)
    if ds.checksum != checksum:  # the session's data changed between key and fetch
        raise RuntimeError("dataset changed while computing its statistics; reload the page")
    return overview.compute_stats(ds)


def page() -> None:
    """The Dataset overview page."""
    ds = shell.current_dataset()
    stats = _stats(shell.current_name(), shell.current_split(), ds.checksum)
    scale = shell.value_scale()
    st.title("Dataset overview")
    st.text(ds.describe())  # names may come from a user's file: plain text

    st.plotly_chart(overview.counts_figure(stats.counts, ds.class_names, stats.imbalance), key="overview_counts")

    cols = min(10, ds.n_classes)
    left, right = st.columns(2)
    with left:
        st.subheader("Mean image of each class")
        st.plotly_chart(overview.class_images_figure(stats.class_mean, ds.class_names, cols=cols),
                        key="overview_mean", config={"displayModeBar": False}, theme=None)
    with right:
        st.subheader("Standard deviation of each class")
        st.caption("Stretched so the largest deviation is white: bright = where writers differ.")
        st.plotly_chart(overview.class_images_figure(stats.class_std, ds.class_names, stretch=True, cols=cols),
                        key="overview_std", config={"displayModeBar": False}, theme=None)

    left, right = st.columns(2)
    with left:
        st.subheader("Pixel intensities")
        log = st.toggle("Log scale", value=True, key="overview_log",
                        help="Most pixels are 0 (background); a log scale shows the rest.")
        st.plotly_chart(overview.histogram_figure(stats.histogram, value_scale=scale, log=log),
                        key="overview_hist")
    with right:
        st.subheader("Variance of each pixel")
        st.caption("Which pixels carry information: a pixel with zero variance is the same in "
                   "every image (the border, on MNIST) and tells a model nothing.")
        st.plotly_chart(overview.variance_figure(stats.pixel_var, value_scale=scale,
                                                 colorscale=shell.colorscale()), key="overview_var")

    st.subheader("Facts")
    st.dataframe(overview.facts_frame(ds, stats), hide_index=True, key="overview_facts")
