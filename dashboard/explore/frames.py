"""Samples as table rows: the page DataFrame, its highlighting, CSV and text export.

A row is one image flattened row by row, so pixel (r, c) of an h x w image is
column ``pixel{r*w + c}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa


def display_values(pixels: np.ndarray, value_scale: float) -> np.ndarray:
    """Pixel values as shown: ``pixel * value_scale / 255``.

    Parameters
    ----------
    pixels : ndarray of uint8
    value_scale : float
        255.0 keeps the raw 0-255 integers (returned unchanged, no copy);
        1.0 gives floats in 0-1.
    """
    if value_scale == 255.0:
        return pixels
    return pixels.astype(np.float32) * np.float32(value_scale / 255.0)


def pixel_columns(n_features: int) -> list[str]:
    """``["pixel0", ..., "pixel{n_features-1}"]``."""
    return [f"pixel{i}" for i in range(n_features)]


# A table never carries more pixel columns than this (64x64 images fit whole; a
# 1000x1000 image shows the columns around the chosen pixel, not a million).
MAX_TABLE_COLUMNS = 4096


def column_window(n_features: int, pixel: int | None, max_columns: int = MAX_TABLE_COLUMNS) -> tuple[int, int]:
    """The ``[lo, hi)`` flattened indices shown for images of ``n_features`` pixels,
    around ``pixel`` (all of them when they fit)."""
    if n_features <= max_columns:
        return 0, n_features
    centre = pixel if pixel is not None and 0 <= pixel < n_features else 0
    lo = int(np.clip(centre - max_columns // 2, 0, n_features - max_columns))
    return lo, lo + max_columns


def page_frame(
    flat: np.ndarray, labels: np.ndarray, indices: Sequence[int] | np.ndarray, value_scale: float = 255.0,
    *, pixel: int | None = None, max_columns: int = MAX_TABLE_COLUMNS,
) -> pd.DataFrame:
    """The samples ``indices`` as rows ``label, pixel0 ... pixel{h*w-1}``.

    Images of more than ``max_columns`` pixels give only the columns around
    ``pixel`` (named by their true index; ``frame.attrs["columns"]`` holds the
    ``(lo, hi)`` range shown), so a page of large images stays small.

    Parameters
    ----------
    flat : ndarray of uint8, shape (n, h*w)
        The dataset's flattened images (``Dataset.flat()``).
    labels : ndarray of int, shape (n,)
    indices : sequence of int
        Dataset indices of the rows, kept as the frame's index (named ``sample``).
    value_scale : float
        See :func:`display_values`.
    pixel : int, optional
        Flattened index the column window is centred on.
    max_columns : int
        Most pixel columns.

    Returns
    -------
    DataFrame
        A new frame; the dataset's arrays are only read.
    """
    idx = np.asarray(indices, dtype=np.int64)
    lo, hi = column_window(flat.shape[1], pixel, max_columns)
    values = display_values(flat[idx, lo:hi], value_scale)
    names = [f"pixel{i}" for i in range(lo, hi)]
    frame = pd.DataFrame(values, columns=names, index=pd.Index(idx, name="sample"))
    frame.insert(0, "label", np.asarray(labels[idx], dtype=np.int64))
    frame.attrs["columns"] = (lo, hi)
    return frame


MARK = "\u25b6"  # the "inspected" marker shown in the table


def display_table(frame: pd.DataFrame, sample: int | None = None, pixel: int | None = None) -> pa.Table:
    """The page frame as shown: the inspected row and the chosen pixel column marked.

    A pandas Styler would colour the cells instead, but Streamlit renders a
    Styler cell by cell: about 0.7 s for 96 x 785 and 0.35 s even for one row
    of 785 (measured), far over the paging budget. So the marks are data: an
    ``inspected`` column holding a marker on the inspected row, and the chosen
    ``pixel{k}`` column moved next to ``label`` so it is seen without
    scrolling past hundreds of columns. The result is an Arrow table built
    column by column from one numpy block: Streamlit's own pandas-to-Arrow
    conversion of 786 columns takes ~10x longer (26 ms against 2.6 ms, measured).

    Parameters
    ----------
    frame : DataFrame
        As from :func:`page_frame` (not modified).
    sample : int, optional
        Dataset index of the inspected sample (no row is marked if it is not on the page).
    pixel : int, optional
        Flattened pixel index ``r*w + c`` (left in place if out of range).

    Returns
    -------
    pyarrow.Table
        Columns ``sample, inspected, label, [pixel{k},] pixel0, ...``; the
        frame's index becomes the ``sample`` column, values unchanged.
    """
    index = frame.index.to_numpy()
    pixels = frame.iloc[:, 1:].to_numpy()  # one block: the pixel columns share a dtype
    names = list(frame.columns[1:])
    order = list(range(len(names)))
    position = {name: j for j, name in enumerate(names)}.get(f"pixel{pixel}") if pixel is not None else None
    if position is not None:  # by name: a windowed frame does not start at pixel0
        order.remove(position)
        order.insert(0, position)
    marks = np.where(index == sample, MARK, "") if sample is not None else np.full(len(index), "")
    columns = [pa.array(index), pa.array(marks), pa.array(frame["label"].to_numpy())]
    columns += [pa.array(pixels[:, j]) for j in order]
    return pa.Table.from_arrays(columns, names=["sample", "inspected", "label", *(names[j] for j in order)])


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV, the ``sample`` index as its first column."""
    return frame.to_csv(index=True).encode("utf-8")


def vector_text(image: np.ndarray, value_scale: float = 255.0, *, index: int | None = None,
                max_values: int = MAX_TABLE_COLUMNS) -> str:
    """An image's flattened values as one comma-separated line, ready to copy.

    Parameters
    ----------
    image : ndarray of uint8, shape (h, w)
    value_scale : float
        See :func:`display_values`; 0-1 values are written with 4 decimals.
    index : int, optional
        For an image of more than ``max_values`` pixels, the flattened index the
        written part is centred on; the text then says which indices it holds.
    max_values : int
    """
    flat = np.asarray(image).reshape(-1)
    lo, hi = column_window(flat.size, index, max_values)
    values = display_values(flat[lo:hi], value_scale)
    if values.dtype.kind == "f":
        text = ", ".join(f"{v:.4g}" for v in values.tolist())
    else:
        text = ", ".join(str(v) for v in values.tolist())
    if (lo, hi) != (0, flat.size):
        return f"(indices {lo:,} to {hi - 1:,} of {flat.size:,}) {text}"
    return text
