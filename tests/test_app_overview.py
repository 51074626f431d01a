"""The Dataset overview page under AppTest, on real MNIST and on 8x8 digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import real_app
from tests.test_app_explore import arr


def charts(at: AppTest) -> dict:
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def facts(at: AppTest) -> dict:
    df = next(d.value for d in at.dataframe)
    return dict(zip(df["fact"], df["value"].astype(str)))


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_overview_matches_the_data(name, shared_data):
    from dashboard.data.loading import load_dataset

    ds = load_dataset(name, "train")
    at = real_app("overview").run()
    if name != "mnist":
        at.selectbox(key="ds_name").select(name).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Dataset overview"
    figs = charts(at)
    assert {"overview_counts", "overview_mean", "overview_std", "overview_hist", "overview_var"} <= set(figs)
    bars = figs["overview_counts"]["data"][0]
    assert arr(bars["y"]).tolist() == ds.class_counts().tolist()
    # The variance map has the image's shape and is zero exactly where the pixel never varies.
    var = arr(figs["overview_var"]["data"][0]["z"])
    assert var.shape == ds.shape
    constant = ds.flat().min(axis=0) == ds.flat().max(axis=0)
    assert np.array_equal(var.ravel() == 0, constant)
    f = facts(at)
    assert f["samples"].replace(",", "") == str(len(ds))
    if name == "mnist":
        assert "67 of 784" in f["constant pixels (zero variance)"]
        assert f["imbalance (largest / smallest class)"] == "1.24"
