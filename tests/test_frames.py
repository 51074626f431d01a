"""The page frame holds the array's values; pixel (r, c) is column pixel{r*w+c}."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from dashboard.explore import frames


@pytest.fixture(params=["mnist_train", "digits_train"])
def ds(request):
    return request.getfixturevalue(request.param)


def test_page_frame_equals_the_array(ds):
    idx = np.flatnonzero(ds.labels == 4)[10:58]
    df = frames.page_frame(ds.flat(), ds.labels, idx)
    h, w = ds.shape
    assert list(df.columns) == ["label"] + [f"pixel{i}" for i in range(h * w)]
    assert df.index.name == "sample" and df.index.tolist() == idx.tolist()
    assert (df["label"] == 4).all()
    assert np.array_equal(df.iloc[:, 1:].to_numpy(), ds.flat()[idx])
    r, c = h - 2, w // 3
    assert np.array_equal(df[f"pixel{r * w + c}"].to_numpy(), ds.images[idx, r, c])


def test_page_frame_in_0_1(digits_train):
    idx = [0, 5, 9]
    df = frames.page_frame(digits_train.flat(), digits_train.labels, idx, value_scale=1.0)
    assert np.allclose(df.iloc[:, 1:].to_numpy(), digits_train.flat()[idx] / 255.0)
    assert df.iloc[:, 1:].to_numpy().max() <= 1.0


def test_dataset_arrays_are_not_touched(digits_train):
    before = digits_train.flat()[:3].copy()
    df = frames.page_frame(digits_train.flat(), digits_train.labels, [0, 1, 2])
    df.iloc[:, 1:] = 0
    assert np.array_equal(digits_train.flat()[:3], before)


def test_display_table_marks_row_and_column(ds):
    idx = np.arange(100, 124)
    df = frames.page_frame(ds.flat(), ds.labels, idx)
    k = ds.n_features // 2
    shown = frames.display_table(df, sample=105, pixel=k).to_pandas()
    assert list(shown.columns[:4]) == ["sample", "inspected", "label", f"pixel{k}"]
    assert sorted(shown.columns) == sorted(["sample", "inspected", *df.columns])
    assert shown["sample"].tolist() == idx.tolist()
    assert shown["inspected"].tolist() == [frames.MARK if i == 105 else "" for i in idx]
    assert np.array_equal(shown[f"pixel{k}"].to_numpy(), ds.flat()[idx, k])
    assert np.array_equal(shown[list(df.columns)].to_numpy(), df.to_numpy())
    assert list(df.columns)[1] == "pixel0"  # the input frame is unchanged
    off_page = frames.display_table(df, sample=5, pixel=None).to_pandas()
    assert set(off_page["inspected"]) == {""} and list(off_page.columns[2:]) == list(df.columns)


def test_csv_round_trips(digits_train):
    idx = [3, 1, 4, 1, 5]
    df = frames.page_frame(digits_train.flat(), digits_train.labels, idx)
    back = pd.read_csv(io.BytesIO(frames.csv_bytes(df)), index_col="sample")
    assert back.index.tolist() == idx
    assert np.array_equal(back.to_numpy(), df.to_numpy())


@pytest.mark.parametrize("scale", [255.0, 1.0])
def test_vector_text_is_the_flat_image(ds, scale):
    img = ds.images[11]
    text = frames.vector_text(img, scale)
    values = np.array([float(v) for v in text.split(", ")])
    assert values.shape == (ds.n_features,)
    assert np.allclose(values, img.reshape(-1) * scale / 255, atol=1e-4)


def test_large_images_give_a_window_of_columns_around_the_pixel():
    rng = np.random.default_rng(1)
    flat = rng.integers(0, 256, (30, 1000 * 1000), dtype=np.uint8)
    labels = np.arange(30) % 3
    k = 500_123
    df = frames.page_frame(flat, labels, [4, 9], pixel=k)
    lo, hi = df.attrs["columns"]
    assert hi - lo == frames.MAX_TABLE_COLUMNS and lo <= k < hi
    assert list(df.columns[:2]) == ["label", f"pixel{lo}"]
    assert np.array_equal(df.iloc[:, 1:].to_numpy(), flat[[4, 9], lo:hi])
    shown = frames.display_table(df, sample=9, pixel=k).to_pandas()
    assert list(shown.columns[:4]) == ["sample", "inspected", "label", f"pixel{k}"]
    assert shown[f"pixel{k}"].tolist() == flat[[4, 9], k].tolist()
    assert shown.shape[1] == 3 + frames.MAX_TABLE_COLUMNS
    text = frames.vector_text(flat[4].reshape(1000, 1000), index=k)
    assert text.startswith(f"(indices {lo:,} to {hi - 1:,} of 1,000,000)")
    assert text.count(",") - text[:text.index(")")].count(",") == frames.MAX_TABLE_COLUMNS - 1
