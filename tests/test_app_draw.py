"""The Draw page in the real app under AppTest (the canvas itself is driven in tests/browser/test_draw.py)."""

from __future__ import annotations

import numpy as np

from dashboard.data.scratch import ScratchSet, default_root
from tests.conftest import real_app


def test_draw_page_opens_and_the_scratch_set_opens_as_a_dataset(tmp_path, monkeypatch, mnist_test):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    at = real_app("draw")
    at.run()
    assert not at.exception, at.exception
    assert any("Nothing drawn yet" in i.value for i in at.info)
    assert any("No saved run fits" in c.value for c in at.caption)
    assert at.button(key="draw_open_scratch").disabled  # nothing kept yet
    # Two drawings kept (as the page's "Add" does), then opened like an upload.
    scratch = ScratchSet(default_root(), (28, 28), mnist_test.class_names)
    scratch.add(mnist_test.images[0], 7)
    scratch.add(mnist_test.images[1], 2)
    at.run()
    at.button(key="draw_open_scratch").click().run()
    assert not at.exception, at.exception
    assert at.session_state["ds_name"] == "upload: my drawings 28x28"
    assert any("my drawings 28x28 (all): 2 images of 28x28" in c.value.replace("\\", "") for c in at.sidebar.caption)
    # MNIST itself is untouched: its own entry still holds 10,000 test images.
    at.selectbox(key="ds_name").set_value("mnist").run()
    at.radio(key="ds_split").set_value("test").run()
    assert any("mnist (test): 10,000 images" in c.value.replace("\\", "") for c in at.sidebar.caption)
    assert np.array_equal(scratch.load().labels, [7, 2])
