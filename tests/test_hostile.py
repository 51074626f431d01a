"""Hostile bytes: every loader gives a valid dataset or a DashboardError, within a memory bound.

Property, for IDX, CSV, NPZ and image uploads, for any bytes:

* the result satisfies the loader's invariants (a ``{split: Dataset}`` with
  read-only uint8 ``(n, h, w)`` images, ``n > 0``, integer labels in
  ``0..len(class_names)-1``), or
* :class:`~dashboard.errors.DashboardError` is raised. Any other exception
  (``IndexError``, ``MemoryError``, ``SyntaxError`` ...) fails the test.

Memory: the peak traced by :mod:`tracemalloc` (every Python and NumPy
allocation; not the C buffers of pandas' tokenizer or PIL's decoder) must stay
under a bound linear in what the file can honestly hold; see :func:`bound_for`.
A header that lies about its size must cost nothing.

The strategies build near-valid files (right magic, header sizes a little off,
every dtype code, huge dimensions, lying .npy headers, cut or flipped gzip
streams) so that the search gets past the first checks, besides plain noise.
Found bugs are kept below as plain regression examples.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, event, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from dashboard.data.dataset import Dataset
from dashboard.data.idx import IDX_DTYPES, MAX_INFLATE_RATIO, inflate, parse_idx
from dashboard.data.userdata import read_csv, read_files, read_npz
from dashboard.errors import DashboardError, DataError
from dashboard.lab.imageprep import MAX_UPLOAD_PIXELS, prepare_upload

# One profile for the file: fast enough for CI on 2 shared cores (the whole file
# takes well under a minute), no deadline (the machine is shared, timings vary),
# and no example database written into the project. HOSTILE_EXAMPLES=2000 for a
# deeper search by hand.
HOSTILE = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

# Memory bound, in bytes: K * (bytes the input can honestly decode to) + C.
# "Honestly decode to": the file's length for plain IDX, CSV and stored .npz
# members; for gzip, what the intact stream inflates to, or for a damaged one
# MAX_INFLATE_RATIO (1100) times the file, the cap idx.inflate and read_npz
# enforce (deflate cannot expand more than ~1032:1); for images, 8 pixels per
# deflated byte times that ratio (1-bit PNG), capped by MAX_UPLOAD_PIXELS.
# K = 24: the widest legitimate expansion is a 1-byte value becoming an int64
# label (8x) or a CSV cell ("7,", 2 bytes) a float64 (4x) next to a few
# temporaries of the same size (NaN and range masks, a float copy, the uint8
# result). C = 4 MB: overhead independent of the input (pandas' parser objects,
# exception tracebacks, PIL plugin state). A header claiming more than its body
# holds, the thing this catches, costs gigabytes: far outside the bound.
K = 24
C = 4_000_000


def bound_for(n_bytes: int) -> int:
    """The allowed traced peak for an input that decodes to at most ``n_bytes``."""
    return K * n_bytes + C


def run_bounded(fn, bound: int):
    """Call ``fn()``; return its result or the DashboardError it raised, checking the peak.

    Any exception other than DashboardError propagates and fails the test.
    """
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            # A RuntimeWarning is not a failure, but an error from one would hide the result.
            warnings.simplefilter("ignore")
            try:
                out = fn()
            except DashboardError as exc:
                out = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= bound, f"traced peak {peak:,} bytes exceeds the bound {bound:,}"
    # Shown by --hypothesis-show-statistics: how deep the search got.
    if currently_in_test_context():
        event("refused" if isinstance(out, DashboardError) else "loaded")
    return out


def check_splits(out) -> None:
    """The invariants of a loaded dataset (or nothing to check for a refusal)."""
    if isinstance(out, DashboardError):
        assert str(out), "an error for a user must say something"
        return
    assert isinstance(out, dict) and out
    assert set(out) <= {"train", "test", "all"}
    n_classes = {ds.n_classes for ds in out.values()}
    assert len(n_classes) == 1, "splits of one file must agree on the classes"
    for ds in out.values():
        assert isinstance(ds, Dataset)
        im, lab = ds.images, ds.labels
        assert isinstance(im, np.ndarray) and im.dtype == np.uint8 and im.ndim == 3
        assert im.shape[0] > 0 and min(im.shape[1:]) >= 1
        assert not im.flags.writeable and not lab.flags.writeable
        assert lab.ndim == 1 and lab.shape[0] == im.shape[0]
        assert np.issubdtype(lab.dtype, np.integer)
        assert 0 <= lab.min() and lab.max() < ds.n_classes
        assert all(isinstance(c, str) for c in ds.class_names)


# ---------------------------------------------------------------- IDX

CODES = [*IDX_DTYPES, 0x00, 0x07, 0x0A, 0x0F, 0xFF]
HUGE_DIMS = [2**32 - 1, 2**31, 2**16 + 1, 60_000, 1_000_000]


def idx_header(code: int, dims: list[int], magic: bytes = b"\x00\x00") -> bytes:
    return magic + bytes([code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@st.composite
def idx_files(draw, ndim: int | None = None, n: int | None = None, clean: bool | None = None):
    """A near-valid IDX file: a real header, a body of the right length give or take."""
    # A third of the files are valid but for the values, so that pairs get loaded too.
    clean = draw(st.integers(0, 2)) == 0 if clean is None else clean
    code = draw(st.sampled_from([0x08, 0x08, 0x0B, 0x0D] if clean else CODES))
    nd = draw(st.integers(0, 6)) if ndim is None else ndim
    dims = draw(st.lists(st.integers(1, 6) if clean else st.one_of(st.integers(0, 6), st.sampled_from(HUGE_DIMS)),
                         min_size=nd, max_size=nd))
    if n is not None and dims:
        dims[0] = n
    dtype = IDX_DTYPES.get(code, np.dtype("u1"))
    count = math.prod(dims)
    need = count * dtype.itemsize
    size = need + (0 if clean else draw(st.sampled_from([0, 0, 0, 0, -1, 1, -dtype.itemsize, dtype.itemsize, 7])))
    if not 0 <= size <= 4096:
        size = draw(st.integers(0, 64))
    if (clean or draw(st.booleans())) and size == need:
        # Plausible values: small class numbers / pixel levels, NaN and inf for floats.
        values = draw(st.lists(st.sampled_from([0, 1, 2, 3, 9, 127, 255, 256, -1, 0.5, np.nan, np.inf]),
                               min_size=count, max_size=count))
        with np.errstate(all="ignore"):
            body = np.array(values, dtype=np.float64).astype(dtype).tobytes()
    else:
        body = draw(st.binary(min_size=size, max_size=size))
    magic = b"\x00\x00" if clean else draw(st.sampled_from([b"\x00\x00"] * 6 + [b"\x00\x01", b"\x1f\x8b", b"PK"]))
    head = idx_header(code, dims, magic)
    if not clean and draw(st.integers(0, 9)) == 0:
        head = head[: draw(st.integers(0, len(head)))]
    return head + body


def test_idx_empty_body_with_huge_other_dimensions_is_refused():
    with pytest.raises(DataError, match="impossibly large|DASHBOARD_MAX_IMAGE_SIDE"):
        parse_idx(idx_header(0x08, [0, 2**32 - 1, 2**32 - 1]))
    assert parse_idx(idx_header(0x08, [0, 28, 28])).shape == (0, 28, 28)


def test_idx_pair_with_no_samples_in_a_wide_dtype_is_refused():
    # to_pixels raised ValueError (reshape of an empty array) for non-uint8 images.
    files = [("train-images-idx3-ubyte", idx_header(0x09, [0, 0, 0])),
             ("train-labels-idx1-ubyte", idx_header(0x08, [0]))]
    with pytest.raises(DataError, match="no pixel values"):
        read_files(files)


def gzipped(data: bytes, how: str, cut: int) -> bytes:
    comp = gzip.compress(data, compresslevel=1, mtime=0)
    if how == "cut":
        return comp[: max(0, len(comp) - 1 - cut % max(1, len(comp)))]
    if how == "flip":
        i = 10 + cut % max(1, len(comp) - 10)
        return comp[:i] + bytes([comp[i] ^ 0xA5]) + comp[i + 1:] if i < len(comp) else comp
    if how == "trailer":  # a lying ISIZE
        return comp[:-4] + (cut * 7919 % 2**32).to_bytes(4, "little")
    if how == "junk":
        return comp + b"\x00" * (cut % 50)
    return comp


@HOSTILE
@given(st.one_of(st.binary(max_size=512), idx_files()))
@example(idx_header(0x08, [2**32 - 1] * 3) + b"\x00" * 20)
@example(idx_header(0x0E, [2, 2]) + np.full(4, np.nan).tobytes())
@example(idx_header(0x08, [0, 2**32 - 1, 2**32 - 1]))  # was ValueError from reshape
def test_idx_plain(data):
    out = run_bounded(lambda: parse_idx(inflate(data)), bound_for(len(data)))
    if not isinstance(out, DashboardError):
        assert isinstance(out, np.ndarray) and not out.flags.writeable
        assert out.dtype.isnative and out.nbytes == len(data) - (4 + 4 * out.ndim)


@HOSTILE
@given(idx_files(), st.sampled_from(["ok", "cut", "flip", "trailer", "junk"]), st.integers(0, 10**6))
@example(idx_header(0x08, [10**9]) + b"\x00" * 100_000, "ok", 0)  # a small gzip bomb
def test_idx_gzip(payload, how, cut):
    data = gzipped(payload, how, cut)
    # A stream with a lying trailer may be inflated up to what its IDX header claims,
    # itself capped at MAX_INFLATE_RATIO times the file; an intact one up to its content.
    honest = len(payload) if how in ("ok", "junk") else MAX_INFLATE_RATIO * len(data)
    out = run_bounded(lambda: parse_idx(inflate(data)), bound_for(honest))
    if not isinstance(out, DashboardError):
        assert out.nbytes == len(payload) - (4 + 4 * out.ndim)


@st.composite
def idx_pairs(draw):
    n = draw(st.integers(0, 6))
    clean = draw(st.booleans())  # both files well-formed (values may still be out of range)
    images = draw(idx_files(ndim=draw(st.sampled_from([3, 3, 3, 1, 2])), n=n, clean=clean or None))
    labels = draw(idx_files(ndim=draw(st.sampled_from([1, 1, 1, 3])), n=n + draw(st.sampled_from([0, 0, 0, 1])),
                            clean=clean or None))
    names = draw(st.sampled_from([
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("a", "b"), ("x.csv", "y"),
    ]))
    files = [(names[0], images), (names[1], labels)]
    total = len(images) + len(labels)  # what the files decode to, gzip or not
    if draw(st.booleans()):
        files = [(name, gzip.compress(data, mtime=0)) for name, data in files]
    return files, total


@HOSTILE
@given(idx_pairs())
def test_idx_pair_gives_dataset_or_error(case):
    files, total = case
    out = run_bounded(lambda: read_files(files), bound_for(total))
    check_splits(out)


# ---------------------------------------------------------------- CSV

CELL_TEXT = ["", " ", "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e300", "1e19", "-0", "0x10",
             " 3 ", '"5"', '"a,b"', '"', '""', "abc", "1_000", "\u0661", "\u00a0", "1.5", "255.0",
             "256", "-1", "0.25", "True", "label", "<b>x</b>", "**x**", "=1+1", "9" * 400]


@st.composite
def csv_files(draw) -> bytes:
    """Rows of numbers and text, near-valid widths, every kind of odd cell and line ending."""
    width = draw(st.sampled_from([1, 2, 3, 5, 10, 17, 65]))
    nice = st.one_of(st.integers(0, 9).map(str), st.integers(0, 255).map(str),
                     st.floats(0, 1).map(repr))
    odd = st.one_of(st.sampled_from(CELL_TEXT), st.integers(-(10**30), 10**30).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=4))
    # A third of the files are clean: a class number, then pixel levels, full rows.
    clean = draw(st.integers(0, 2)) == 0
    cell = st.one_of(st.integers(0, 255).map(str), st.floats(0, 1).map(repr)) if clean else \
        st.one_of(nice, nice, nice, odd)
    n_rows = draw(st.integers(1 if clean else 0, 8))
    rows = []
    for _ in range(n_rows):
        w = width + (0 if clean else draw(st.sampled_from([0, 0, 0, 0, -1, 1, -width, 30])))
        label = [str(draw(st.integers(0, 9)))] if clean and w > 0 else []
        rows.append(label + draw(st.lists(cell, min_size=max(w - len(label), 0), max_size=max(w - len(label), 0))))
    if draw(st.booleans()):
        rows.insert(0, ["label", *(f"pixel{i}" for i in range(width - 1))])
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = eol.join(",".join(r) for r in rows) + draw(st.sampled_from(["", eol, eol * 3]))
    data = text.encode("utf-8")
    if clean:
        return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + data
    prefix = draw(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00"]))
    return prefix + data + draw(st.sampled_from([b"", b"", b"\x00", b"\xff", b"\xe2\x82"]))


@HOSTILE
@given(st.one_of(st.binary(max_size=256), csv_files()))
@example(b"\xef\xbb\xbf")  # a bare BOM was an IndexError
@example(b"1e400,0,0,0,0\n")
@example(b"1e19,0,0,0,0\n")
# A long first line then short rows: pandas would pad every row to the first
# line's width (rows x columns cells from a file of rows + columns bytes).
@example(b"label" + b",p" * 3000 + b"\n" + b"1\n" * 3000)
def test_csv_gives_dataset_or_error(data):
    out = run_bounded(lambda: read_files([("x.csv", data)]), bound_for(len(data)))
    check_splits(out)


def test_csv_short_rows_after_a_wide_first_line_are_refused_cheaply():
    data = b"label" + b",p" * 3000 + b"\n" + b"1\n" * 3000
    out = run_bounded(lambda: read_csv(data), bound_for(len(data)))
    assert isinstance(out, DataError) and "shorter than the first" in str(out)


def test_csv_of_only_a_byte_order_mark_is_empty():
    with pytest.raises(DataError, match="empty"):
        read_csv(b"\xef\xbb\xbf")


def test_csv_label_too_large_for_int64_is_refused_as_a_label():
    for label in ("1e19", "1e400", "-1e400"):
        with pytest.raises(DataError, match="not a class number"):
            read_csv(f"{label},0,0,0,0\n".encode())


# ---------------------------------------------------------------- NPZ

KEYS = ["x", "y", "images", "labels", "x_train", "y_train", "x_test", "y_test", "X", "class_names", "z"]
DTYPES = ["u1", "i1", "<i2", ">i4", "<i8", "<u8", "<f2", "<f4", ">f8", "?", "<c8", "<U3", "S3",
          "<M8[s]"]


@st.composite
def arrays_for(draw, key: str):
    if key in ("y", "labels", "y_train", "y_test") and draw(st.booleans()):
        with np.errstate(all="ignore"):
            return np.array(draw(st.lists(st.integers(-1, 12), min_size=0, max_size=6)),
                            dtype=np.float64).astype(draw(st.sampled_from(["u1", "<i8", "<f8", ">i4"])))
    if key.startswith(("x", "X", "images")) and draw(st.booleans()):
        n, side = draw(st.integers(0, 5)), draw(st.sampled_from([1, 2, 3, 8]))
        shape = draw(st.sampled_from([(n, side, side), (n, side * side), (n, side * side + 1)]))
        values = draw(hnp.arrays("<f8", shape, elements=st.sampled_from([0.0, 1.0, 255.0, 0.5, 300.0, -1.0])))
        with np.errstate(all="ignore"):
            return values.astype(draw(st.sampled_from(["u1", "<f8", "<i4"])))
    if key == "class_names" and draw(st.booleans()):
        return np.array(draw(st.lists(st.text(max_size=8), max_size=12)), dtype=str)
    if draw(st.integers(0, 9)) == 0:
        return np.array([1, "two", None, {"a": 1}], dtype=object)
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    return draw(hnp.arrays(dtype, shape))


def _npy_claiming(arr: np.ndarray, shape) -> bytes:
    """The .npy bytes of ``arr`` with a header that claims ``shape`` instead (a lie)."""
    fp = io.BytesIO()
    header = np.lib.format.header_data_from_array_1_0(arr)
    header["shape"] = shape
    np.lib.format.write_array_header_1_0(fp, header)
    body = _npy(arr)
    return fp.getvalue() + body[_header_len(body):]


def _header_len(npy: bytes) -> int:
    fp = io.BytesIO(npy)
    version = np.lib.format.read_magic(fp)
    (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(fp)
    return fp.tell()


@st.composite
def npz_files(draw):
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=5, unique=True))
    if draw(st.booleans()):
        keys = [*draw(st.sampled_from([["x", "y"], ["images", "labels"], ["x_train", "y_train", "x_test", "y_test"]])),
                *keys]
    arrays = {k: draw(arrays_for(k)) for k in dict.fromkeys(keys)}
    if draw(st.integers(0, 2)) == 0:
        # A well-formed set (images, labels of the same length, enough class names), so
        # the search also reaches the code after the checks; lies and cuts may follow.
        n, side = draw(st.integers(1, 6)), draw(st.sampled_from([1, 3, 8]))
        labels = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)))
        images = draw(hnp.arrays("u1", (n, side, side) if draw(st.booleans()) else (n, side * side)))
        arrays = {"x": images, "y": labels}
        if draw(st.booleans()):
            arrays["class_names"] = np.array(draw(st.lists(st.text(max_size=6), min_size=10, max_size=12)))
    deflate = draw(st.booleans())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for k, arr in arrays.items():
            lie = draw(st.sampled_from([None] * 12 + [(10**12,), (2**31, 2**31), (1000000, 1000, 1000),
                                                     (0,), (-1,), (3,), (1, 1, 1, 1, 1), "x"]))
            if lie is None or arr.dtype.hasobject:
                member = io.BytesIO()
                np.lib.format.write_array(member, arr, allow_pickle=True)
                npy = member.getvalue()
            else:
                npy = _npy_claiming(arr, lie)
            if draw(st.integers(0, 9)) == 0:
                npy = npy[: draw(st.integers(0, len(npy)))]
            # Sometimes the member has no .npy suffix: numpy still reads it as an array.
            name = k if draw(st.integers(0, 7)) == 0 else k + ".npy"
            zf.writestr(name, npy)
    data = buf.getvalue()
    if draw(st.integers(0, 9)) == 0:
        i = draw(st.integers(0, max(0, len(data) - 1)))
        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:] if data else data
    return data, deflate


def _npz_bound(data: bytes, deflate: bool) -> int:
    # Stored members hold at most the file's bytes; deflated ones at most
    # MAX_INFLATE_RATIO times (the limit read_npz enforces per member).
    return bound_for(len(data) * (MAX_INFLATE_RATIO if deflate else 1))


def huge_member_without_suffix() -> bytes:
    """An .npz whose images member is named ``x`` (no .npy) and claims 10 GB."""
    npy = _npy_claiming(np.zeros((2, 2, 2), np.uint8), (10000, 1000, 1000))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x", npy)
        zf.writestr("y.npy", _npy(np.array([0, 1])))
    return buf.getvalue()


def _npz_xy() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((2, 2, 2), np.uint8), y=np.array([0, 1]))
    return buf.getvalue()


def _npy(arr) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, arr)
    return b.getvalue()


@HOSTILE
@given(st.one_of(st.binary(max_size=256).map(lambda b: (b"PK\x03\x04" + b, False)), npz_files()))
@example((huge_member_without_suffix(), False))
def test_npz_gives_dataset_or_error(case):
    data, deflate = case
    out = run_bounded(lambda: read_files([("x.npz", data)]), _npz_bound(data, deflate))
    check_splits(out)


def test_npz_member_without_npy_suffix_cannot_claim_a_huge_array():
    data = huge_member_without_suffix()
    out = run_bounded(lambda: read_npz(data), bound_for(len(data)))
    assert isinstance(out, DataError) and "claims" in str(out)


def test_npz_class_names_without_npy_suffix_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.npy", _npy(np.zeros((2, 2, 2), np.uint8)))
        zf.writestr("y.npy", _npy(np.array([0, 1])))
        zf.writestr("class_names", b"not an array")
    with pytest.raises(DataError, match="class_names"):
        read_npz(buf.getvalue())


# ---------------------------------------------------------------- image uploads

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "I", "I;16", "F", "CMYK"]
FORMATS = ["PNG", "PNG", "JPEG", "JPEG", "GIF", "BMP", "TIFF"]


@st.composite
def image_files(draw) -> bytes:
    mode, fmt = draw(st.sampled_from(MODES)), draw(st.sampled_from(FORMATS))
    w, h = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    img = Image.fromarray(pixels, "RGBA")
    if draw(st.booleans()):
        img = Image.new("RGBA", (w, h), (255, 255, 255, draw(st.sampled_from([0, 128, 255]))))
    if mode == "I;16" and fmt == "PNG":  # 16-bit grey, which convert() cannot make
        img = Image.fromarray(np.random.default_rng(seed).integers(0, 65536, (h, w), dtype=np.uint16))
    try:
        img = img if img.mode == "I;16" else img.convert(mode)
        buf = io.BytesIO()
        img.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # this mode cannot be written in this format
    data = buf.getvalue()
    how = draw(st.sampled_from(["ok", "ok", "cut", "flip", "dims"]))
    if how == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "flip":
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif how == "dims" and fmt == "PNG":
        # Claim another size in IHDR (bytes 16-24); the CRC then no longer matches.
        dims = draw(st.sampled_from([(0, 0), (1, 10**6), (50_000, 50_000), (2**31 - 1, 1)]))
        data = data[:16] + dims[0].to_bytes(4, "big") + dims[1].to_bytes(4, "big") + data[24:]
    return data


@HOSTILE
@given(st.one_of(st.binary(max_size=256), st.binary(max_size=256).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
                 image_files()),
       st.sampled_from([(28, 28), (8, 8), (1, 1), (3, 50)]))
def test_image_upload_gives_grey_image_or_error(data, shape):
    # PIL's decoded image (untraced C memory) is capped by MAX_UPLOAD_PIXELS; what numpy
    # holds is a few bytes per pixel, and a pixel costs at least 1/8 byte of the file
    # times the deflate ratio (1-bit PNG), hence the bound.
    pixels = min(MAX_UPLOAD_PIXELS, 8 * MAX_INFLATE_RATIO * len(data))
    out = run_bounded(lambda: prepare_upload(data, shape), bound_for(pixels))
    if not isinstance(out, DashboardError):
        assert out.shape == shape and out.dtype == np.uint8


def test_csv_integer_too_long_for_a_float_is_refused_as_out_of_range():
    # pd.to_numeric(errors="coerce") raised OverflowError on this cell.
    with pytest.raises(DataError, match="column 10 is inf"):
        read_csv(b"0,0,0,0,0,0,0,0,0," + b"9" * 400 + b"\n")


@pytest.mark.parametrize("patch, message", [
    ((8, b"\x63\x00"), "cannot read"),       # compression method 99 (AES): NotImplementedError
    ((6, b"\x01\x00"), "cannot read"),       # the "encrypted" flag: RuntimeError
])
def test_npz_unsupported_zip_features_are_refused(patch, message):
    data = bytearray(_npz_xy())
    at, value = patch
    # Patch both the local header and the central directory entry of the first member.
    for start in (0, data.rindex(b"PK\x01\x02", 0, data.rindex(b"PK\x05\x06"))):
        off = at if start == 0 else at + 2
        data[start + off:start + off + 2] = value
    with pytest.raises(DataError, match=message):
        read_npz(bytes(data))


def test_16_bit_grey_png_is_scaled_not_clipped():
    # A dark stroke on light paper, in 16 bits: convert("L") made every value above 255 white.
    paper = np.full((40, 40), 60000, dtype=np.uint16)
    paper[5:35, 18:22] = 2000
    buf = io.BytesIO()
    Image.fromarray(paper).save(buf, format="PNG")
    out = prepare_upload(buf.getvalue(), (28, 28))
    assert out[0, 0] < 40 and out[14, 14] > 200  # background inverted to dark, the stroke light
