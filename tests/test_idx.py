"""IDX decoding refuses corrupt and hostile files before allocating."""

from __future__ import annotations

import gzip
import tracemalloc

import numpy as np
import pytest

from dashboard.data.idx import inflate, parse_idx, read_idx, write_idx
from dashboard.errors import DataError


def header(code: int, dims: list[int]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, dtype=">u4").tobytes()


def test_roundtrip_all_dtypes(tmp_path):
    for dtype in ("u1", "i1", ">i2", ">i4", ">f4", ">f8"):
        arr = (np.arange(24) % 100).astype(dtype).reshape(2, 3, 4)
        write_idx(arr, tmp_path / "a.idx", compress=True)
        back = read_idx(tmp_path / "a.idx")
        assert back.shape == (2, 3, 4) and np.array_equal(back, arr)


def test_real_file_matches_known_first_labels(shared_data):
    labels = read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
    assert labels[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", "too short"),
    (b"\x1f\x00\x08\x01" + b"\x00" * 8, "magic number"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX value type"),
    (b"\x00\x00\x08\x09" + b"\x00" * 40, "dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x01", "header is truncated"),
    (header(0x08, [3]) + b"\x01\x02", "truncated"),
    (header(0x08, [2]) + b"\x01\x02\x03", "unexpected bytes"),
])
def test_malformed(data, message):
    with pytest.raises(DataError, match=message):
        parse_idx(inflate(data))


def test_huge_header_is_refused_without_allocating():
    # Claims 2**32-1 cubed pixels (about 10**28 bytes) with a 20-byte body.
    data = header(0x08, [2**32 - 1] * 3) + b"\x00" * 20
    tracemalloc.start()
    with pytest.raises(DataError, match="truncated|DASHBOARD_MAX_DECODED_MB"):
        parse_idx(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000


def test_gzip_bomb_is_not_inflated():
    """10**9 zeros compress to ~1 MB; the claim is refused long before 10**9 bytes exist."""
    body = header(0x08, [10**9])
    comp = gzip.compress(body + b"\x00" * 50_000_000, compresslevel=1)
    tracemalloc.start()
    with pytest.raises(DataError):
        parse_idx(inflate(comp))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Bounded by the inflation ratio limit times the file size, far below 10**9.
    assert peak < 1100 * len(comp) + 10_000_000
    assert peak < 200_000_000


def test_truncated_and_corrupt_gzip(shared_data):
    raw = (shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    for cut in (len(raw) // 3, len(raw) // 2, len(raw) - 5):
        with pytest.raises(DataError, match="truncated"):
            inflate(raw[:cut])
    bad = raw[:30] + bytes(b ^ 0xFF for b in raw[30:60]) + raw[60:]
    with pytest.raises(DataError):
        parse_idx(inflate(bad))


def test_unreadable_path(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "missing.gz")
