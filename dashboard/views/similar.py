"""Similar images: the nearest neighbours of one sample in PCA-50 space, for Explore's inspector.

The fastest way to see why a sample is ambiguous or mislabelled: if its nearest
neighbours carry another label, the set itself says it looks like that class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from dashboard import shell
from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError
from dashboard.explore.embedding import MapStore, maps_dir
from dashboard.explore.thumbnails import picture_uri
from dashboard.state import open_in_explore


# cache_resource: one shared read-only array (cache_data would copy 12 MB on every rerun).
@st.cache_resource(max_entries=4, show_spinner="PCA of every sample (once per dataset)…")
def _pca50(checksum: str, split: str, maps_root: str, _ds: Dataset) -> np.ndarray:
    # maps_root in the key: a changed cache folder (DASHBOARD_CACHE_DIR) gets its own disk copy.
    return MapStore(Path(maps_root)).pca50(_ds)


def neighbours(ds: Dataset, sample: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)`` of the ``k`` nearest neighbours of ``sample`` (PCA-50, cached)."""
    from dashboard.explore.embedding import nearest_neighbours

    return nearest_neighbours(_pca50(ds.checksum, ds.split, str(maps_dir()), ds), int(sample), k)


def show_similar(ds: Dataset, sample: int, *, k: int = 8, key: str = "similar") -> None:
    """Draw the ``k`` nearest neighbours of ``sample`` with their labels and distances.

    Parameters
    ----------
    ds : Dataset
        The split shown (neighbours are searched in it).
    sample : int
        Index of the inspected sample.
    k : int
        Neighbours shown.
    key : str
        Prefix of this block's widget keys (one button per neighbour opens it).
    """
    try:
        idx, dist = neighbours(ds, sample, k)
    except DashboardError as exc:
        st.caption(f"Similar images are not available: {exc}")
        return
    own = int(ds.labels[sample])
    other = int(np.sum(ds.labels[idx] != own))
    others = f" · {other} of {idx.size} carry another label" if other else ""
    st.markdown(f"**Similar images** (nearest in PCA space){others}")
    cols = st.columns(min(idx.size, 8) or 1)
    for j, (i, d) in enumerate(zip(idx.tolist(), dist.tolist())):
        lab = int(ds.labels[i])
        mark = "" if lab == own else " ≠"
        with cols[j % len(cols)]:
            st.image(picture_uri(ds.images[i], 112), width="stretch",
                     caption=shell.plain(f"#{i} · {ds.class_names[lab]}{mark} · d={d:.0f}"))
            if st.button("Inspect", key=f"{key}_{i}", help=f"inspect sample #{i}"):
                _inspect(i)


def _inspect(i: int) -> None:
    open_in_explore(sample=int(i))
