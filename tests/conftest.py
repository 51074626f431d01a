"""Shared test setup: the real datasets from ../shared/data, and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DASHBOARD_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
# Tests and benchmarks read the real files; the product never needs this folder.
os.environ.setdefault("DASHBOARD_DATA_DIR", str(SHARED_DATA))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.fail(f"the reference data is missing: {SHARED_DATA} (set DASHBOARD_DATA_DIR)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_train(shared_data):
    from dashboard.loading import load_dataset

    return load_dataset("mnist", "train")


@pytest.fixture(scope="session")
def mnist_test(shared_data):
    from dashboard.loading import load_dataset

    return load_dataset("mnist", "test")


@pytest.fixture(scope="session")
def digits_train():
    from dashboard.loading import load_dataset

    return load_dataset("digits", "train")
