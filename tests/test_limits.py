"""The one budget (dashboard/limits.py) and every crafted input of issue 14, built by code.

Peak memory is the traced peak (numpy, Python buffers, zlib output) measured by
``run_bounded`` from test_hostile; the benchmark measures the real server's RSS.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from dashboard import limits
from dashboard.data.userdata import read_files
from dashboard.errors import DataError
from dashboard.lab.imageprep import prepare_upload
from dashboard.limits import Limits, UploadLedger, load_limits
from tests import crafted
from tests.test_hostile import run_bounded

MB = 1 << 20


# --- the budget ------------------------------------------------------------------------


def test_defaults_let_the_real_sets_and_normal_uploads_through(mnist_train, digits_train):
    budget = Limits()
    budget.check_shape(len(mnist_train), *mnist_train.shape, "mnist")  # 47 MB of pixels
    budget.check_shape(70_000, 28, 28, "fashion-mnist, both splits")
    budget.check_shape(len(digits_train), 8, 8, "digits")
    budget.check_classes(10, "mnist")
    budget.check_file_size(110 * MB, "mnist_train.csv")  # a full MNIST train CSV


def test_environment_and_file_override_the_defaults(tmp_path):
    assert load_limits({}) == Limits()
    path = tmp_path / "limits.toml"
    path.write_text("[limits]\nmax_upload_mb = 50\nmax_classes = 20\n")
    env = {"DASHBOARD_LIMITS_FILE": str(path), "DASHBOARD_MAX_CLASSES": "30"}
    got = load_limits(env)
    assert got.max_upload_mb == 50.0 and got.max_classes == 30  # the environment wins
    assert got.upload_bytes == 50 * MB


@pytest.mark.parametrize("env, message", [
    ({"DASHBOARD_MAX_UPLOAD_MB": "lots"}, "not a number"),
    ({"DASHBOARD_MAX_CLASSES": "0"}, "above 0"),
    ({"DASHBOARD_MAX_DECODED_MB": "nan"}, "above 0"),
])
def test_bad_limits_are_refused_with_the_variable_named(env, message):
    with pytest.raises(DataError, match=message) as err:
        load_limits(env)
    assert next(iter(env)) in str(err.value)


def test_unknown_keys_in_the_file_are_refused(tmp_path):
    path = tmp_path / "limits.toml"
    path.write_text("max_uplaod_mb = 5\n")
    with pytest.raises(DataError, match="unknown limits"):
        load_limits({"DASHBOARD_LIMITS_FILE": str(path)})


# --- crafted files: refused or served, fast, in bounded memory ------------------------------

# (builder, file name, expected message or None for "served", traced-peak bound in MB)
CASES = {
    "npz 2x4000x4000 zeros (31 KB)": (crafted.npz_huge_images, "a.npz", "DASHBOARD_MAX_IMAGE_SIDE", 64),
    "npz 2x1000x1000, labels 0 and 999": (crafted.npz_far_labels, "b.npz", None, 64),
    "csv 2,000,000 columns (4 MB)": (crafted.csv_wide_first_line, "c.csv", "DASHBOARD_MAX_IMAGE_PIXELS", 64),
    "csv ';'-separated": (crafted.csv_semicolons, "d.csv", "use commas", 8),
    "csv header with UTF-8 across byte 65,536": (crafted.csv_utf8_across_64k, "e.csv", None, 16),
    "csv labels 0 and 255": (crafted.csv_labels_0_and_255, "f.csv", None, 8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_crafted_files_at_full_size(case):
    build, name, message, bound_mb = CASES[case]
    out = run_bounded(lambda: read_files([(name, build())]), bound_mb * MB)
    if message is None:
        assert isinstance(out, dict), out
    else:
        assert isinstance(out, DataError) and message in str(out), out


def test_labels_0_and_255_make_two_classes_named_by_their_values():
    ds = read_files([("f.csv", crafted.csv_labels_0_and_255())])["all"]
    assert ds.class_names == ("0", "255")
    assert sorted(set(ds.labels.tolist())) == [0, 1] and ds.name == "f"


def test_far_labels_make_two_classes_not_a_thousand():
    ds = read_files([("b.npz", crafted.npz_far_labels())])["all"]
    assert ds.class_names == ("0", "999") and ds.shape == (1000, 1000)


def test_too_many_classes_are_refused(monkeypatch):
    monkeypatch.setenv("DASHBOARD_MAX_CLASSES", "5")
    data = crafted.npz_bytes(images=np.zeros((8, 4, 4), np.uint8), labels=np.arange(8))
    with pytest.raises(DataError, match="8 classes; at most 5 .DASHBOARD_MAX_CLASSES"):
        read_files([("many.npz", data)])


# The gzip and zip bombs, scaled down with the decoded limit lowered to 16 MB: the
# same code path as the issue's 1 GB / 4 GB files against the default 256 MB.
@pytest.fixture()
def small_decoded(monkeypatch):
    monkeypatch.setenv("DASHBOARD_MAX_DECODED_MB", "16")


def test_idx_gz_with_a_forged_size_is_refused_from_its_header(small_decoded):
    files = [("train-images-idx3-ubyte.gz", crafted.idx_gz_forged(content_mb=64)),
             ("train-labels-idx1-ubyte", crafted.idx_labels(5))]
    out = run_bounded(lambda: read_files(files), 8 * MB)
    assert isinstance(out, DataError) and "DASHBOARD_MAX_DECODED_MB" in str(out)


def test_idx_gz_whose_header_fits_but_whose_content_does_not_stops_at_the_claim(small_decoded):
    # Claims 10 images (7,856 bytes) but holds 64 MB: stops at the first chunk past the claim.
    files = [("train-images-idx3-ubyte.gz", crafted.idx_gz_forged(content_mb=64, claimed_images=10)),
             ("train-labels-idx1-ubyte", crafted.idx_labels(10))]
    out = run_bounded(lambda: read_files(files), 16 * MB)
    assert isinstance(out, DataError) and "more than its header allows" in str(out)


def test_csv_gz_holding_more_than_the_decoded_limit_stops_there(small_decoded):
    data = crafted.csv_gz_big(content_mb=64)
    out = run_bounded(lambda: read_files([("big.csv.gz", data)]), 40 * MB)
    assert isinstance(out, DataError)
    assert "more than 16 MB" in str(out) and "DASHBOARD_MAX_DECODED_MB" in str(out)


def test_npz_zip_bomb_is_refused_before_inflating(small_decoded):
    data = crafted.npz_zip_bomb(content_mb=64)
    assert len(data) < MB
    out = run_bounded(lambda: read_files([("bomb.npz", data)]), 4 * MB)
    assert isinstance(out, DataError) and "DASHBOARD_MAX_DECODED_MB" in str(out)


def test_the_full_size_csv_gz_of_the_issue_is_refused_at_the_default_limit():
    data = crafted.csv_gz_big(content_mb=1024)  # 1.9 MB holding 1 GB
    out = run_bounded(lambda: read_files([("big.csv.gz", data)]), 300 * MB)
    assert isinstance(out, DataError) and "more than 256 MB" in str(out)


@pytest.mark.parametrize("width, message", [
    (100_000, "DASHBOARD_MAX_PREDICT_SIDE"),
    (25_000_000, "DASHBOARD_MAX_PREDICT_SIDE"),
    (5_000, None),
])
def test_prediction_strips_are_refused_or_fitted_without_padding(width, message):
    data = crafted.png_strip(width)
    assert len(data) < 4096
    out = run_bounded(lambda: prepare_upload(data, (28, 28)), 64 * MB)
    if message:
        assert isinstance(out, DataError) and message in str(out)
    else:
        assert out.shape == (28, 28)


# --- upload memory across sessions ------------------------------------------------------------


class Owner:
    """Stands for a session's held upload (anything weakly referenceable)."""


def test_ledger_caps_the_total_and_a_replaced_upload_frees_its_share():
    ledger = UploadLedger(100)
    a, b = Owner(), Owner()
    ledger.hold("s1", 60, a, lambda: None)
    with pytest.raises(DataError, match="already holds .*DASHBOARD_MAX_TOTAL_UPLOAD_MB"):
        ledger.hold("s2", 50, b, lambda: None)
    ledger.hold("s1", 90, Owner(), lambda: None)  # s1 replaces its own: counts once
    assert ledger.total == 90 and ledger.held_by("s1") == 90
    gc.collect()  # the replaced owner's finaliser must not drop the new entry
    assert ledger.total == 90


def test_ledger_forgets_a_session_whose_state_is_gone():
    ledger = UploadLedger(100)
    owner = Owner()
    ledger.hold("s1", 80, owner, lambda: None)
    del owner
    gc.collect()
    assert ledger.total == 0
    ledger.hold("s2", 80, Owner(), lambda: None)


def test_ledger_evicts_disconnected_sessions_when_room_is_needed():
    active = {"s1": True, "s2": True}
    dropped = []
    ledger = UploadLedger(100, is_active=lambda s: active.get(s, False))
    keep = [Owner(), Owner()]
    ledger.hold("s1", 70, keep[0], lambda: dropped.append("s1"))
    active["s1"] = False  # its tab was closed
    ledger.hold("s2", 70, keep[1], lambda: dropped.append("s2"))
    assert dropped == ["s1"] and ledger.total == 70


def test_current_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DASHBOARD_MAX_TOTAL_UPLOAD_MB", "3")
    assert limits.current().total_upload_bytes == 3 * MB
