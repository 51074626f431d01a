"""Paging through a filtered set of samples: pure index arithmetic, no Streamlit.

Pages are numbered from 0 here; people see them (and sample positions) from 1.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

PAGE_SIZES = (24, 48, 96)


@dataclass(frozen=True)
class Page:
    """One page of a filtered index list.

    Parameters
    ----------
    number : int
        0-based page number, already clamped to ``0 .. n_pages - 1``.
    n_pages : int
        Number of pages (at least 1, even when nothing matches).
    start, stop : int
        Positions ``[start, stop)`` of this page within the filtered list.
    total : int
        Length of the filtered list.
    indices : ndarray of int64
        Sample indices (into the dataset) shown on this page.
    """

    number: int
    n_pages: int
    start: int
    stop: int
    total: int
    indices: np.ndarray


def filter_indices(labels: np.ndarray, classes: Collection[int] | None) -> np.ndarray:
    """Indices of the samples whose label is in ``classes``, ascending.

    Parameters
    ----------
    labels : ndarray of int, shape (n,)
    classes : collection of int or None
        Class indices to keep; None or empty keeps every sample ("all").

    Returns
    -------
    ndarray of int64
    """
    if not classes:
        return np.arange(len(labels), dtype=np.int64)
    wanted = np.fromiter(classes, dtype=np.int64)
    return np.flatnonzero(np.isin(labels, wanted)).astype(np.int64, copy=False)


def n_pages(total: int, page_size: int) -> int:
    """Number of pages of ``page_size`` holding ``total`` items; 1 when empty."""
    _check_page_size(page_size)
    return max(1, -(-total // page_size))


def clamp_page(page: int, total: int, page_size: int) -> int:
    """``page`` moved into ``0 .. n_pages - 1``."""
    return int(min(max(page, 0), n_pages(total, page_size) - 1))


def make_page(indices: np.ndarray, page: int, page_size: int) -> Page:
    """The page ``page`` (clamped) of the filtered ``indices``.

    Parameters
    ----------
    indices : ndarray of int
        The filtered sample indices, as from :func:`filter_indices`.
    page : int
        Wanted 0-based page number; out-of-range values are clamped.
    page_size : int
        Samples per page, at least 1.
    """
    total = len(indices)
    number = clamp_page(page, total, page_size)
    start = number * page_size
    stop = min(start + page_size, total)
    return Page(
        number=number,
        n_pages=n_pages(total, page_size),
        start=start,
        stop=stop,
        total=total,
        indices=np.asarray(indices[start:stop], dtype=np.int64),
    )


def position_of(indices: np.ndarray, sample: int) -> int | None:
    """Position of dataset index ``sample`` in the ascending ``indices``, or None if absent."""
    pos = int(np.searchsorted(indices, sample))
    if pos < len(indices) and int(indices[pos]) == sample:
        return pos
    return None


def page_holding(indices: np.ndarray, sample: int, page_size: int) -> int | None:
    """The 0-based page on which dataset index ``sample`` appears, or None if filtered out."""
    _check_page_size(page_size)
    pos = position_of(indices, sample)
    return None if pos is None else pos // page_size


def random_page(total: int, page_size: int, rng: np.random.Generator) -> int:
    """A page drawn uniformly from the ``n_pages(total, page_size)`` pages.

    Parameters
    ----------
    total, page_size : int
    rng : numpy.random.Generator
        The caller owns the randomness (seeded in tests, fresh in the app).
    """
    return int(rng.integers(n_pages(total, page_size)))


def selection_label(class_names: Sequence[str], classes: Collection[int] | None) -> str:
    """How the filtered set is named: ``"images"``, ``"Sandal"``, ``"Sandal, Sneaker"``.

    Classes whose names are plain numbers read as ``"images of class 3, 5"``.
    """
    if not classes:
        return "images"
    names = [class_names[c] for c in sorted(classes)]
    if any(n.strip().lstrip("-").isdigit() for n in names):
        return "images of class " + ", ".join(names)
    return ", ".join(names)


def showing_text(page: Page, what: str) -> str:
    """``"showing 49–96 of 6,000 Sandal"`` (positions counted from 1)."""
    if page.total == 0:
        return f"no {what} to show"
    return f"showing {page.start + 1:,}–{page.stop:,} of {page.total:,} {what}"


def _check_page_size(page_size: int) -> None:
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
