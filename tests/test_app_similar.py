"""show_similar under AppTest on the 8x8 digits: the k nearest images, labels and distances."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest


def _script(cache: str) -> None:
    import os

    os.environ["DASHBOARD_CACHE_DIR"] = cache
    from dashboard.data.loading import load_digits
    from dashboard.views.similar import show_similar

    show_similar(load_digits("train"), 11, k=6, key="sim")


def test_show_similar_draws_the_nearest_images(tmp_path):
    from dashboard.data.loading import load_digits
    from dashboard.explore.embedding import nearest_neighbours, pca_reduce

    ds = load_digits("train")
    at = AppTest.from_function(_script, args=(str(tmp_path),), default_timeout=60).run()
    assert not at.exception, at.exception
    # Captions reach Streamlit markdown-escaped (class names may come from a user's file).
    captions = [i.caption.replace("\\", "") for img in at.get("image") for i in img.proto.imgs]
    want, dist = nearest_neighbours(pca_reduce(ds.flat()), 11, 6)
    assert [int(re.match(r"#(\d+)", c).group(1)) for c in captions] == want.tolist()
    assert all(f"d={d:.0f}" in c for c, d in zip(captions, dist))
    assert len([b for b in at.button if b.label == "Inspect"]) == 6
    assert list((tmp_path / "maps").glob("*.npz"))  # PCA-50 kept on disk for the next time
