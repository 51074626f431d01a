"""Reading IDX files (the MNIST file format), plain or gzip-compressed.

An IDX file is a 4-byte magic ``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values. Nothing in a file is trusted: the
header is checked against the real length of the body before any array is
allocated and against the budget of :mod:`dashboard.limits`, and a gzip stream
is inflated in bounded chunks, never past its header's claim or the decoded limit.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from pathlib import Path

import numpy as np

from dashboard import limits
from dashboard.errors import DataError

# dtype code -> numpy dtype (IDX values are big-endian).
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot expand more than ~1032:1, so a gzip file whose header claims more
# than this many times its own size is lying; this bounds every allocation by the
# file's size.
MAX_INFLATE_RATIO = 1100


def parse_header(head: bytes, what: str = "file") -> tuple[np.dtype, tuple[int, ...], int]:
    """Decode an IDX header.

    Parameters
    ----------
    head : bytes
        At least the first ``4 + 4*ndim`` bytes of the (decompressed) file.
    what : str
        Name of the file, for messages.

    Returns
    -------
    dtype : numpy.dtype
    shape : tuple of int
    offset : int
        Where the values start.
    """
    if len(head) < 4:
        raise DataError(f"{what}: too short to be an IDX file ({len(head)} bytes)")
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            f"{what}: not an IDX file (magic number starts {head[:2].hex()}, expected 0000)"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{what}: unknown IDX value type 0x{code:02x}")
    if not 1 <= ndim <= 4:
        raise DataError(f"{what}: IDX file claims {ndim} dimensions; 1 to 4 are supported")
    offset = 4 + 4 * ndim
    if len(head) < offset:
        raise DataError(f"{what}: header is truncated")
    shape = tuple(int(x) for x in np.frombuffer(head, dtype=">u4", count=ndim, offset=4))
    return IDX_DTYPES[code], shape, offset


def _expected_size(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    # Python ints: no overflow even for a header claiming 2**32 ** 4 values.
    n = 1
    for s in shape:
        n *= s
    return n * dtype.itemsize


def check_budget(dtype: np.dtype, shape: tuple[int, ...], what: str) -> None:
    """Refuse an IDX array the budget does not allow, from its header alone."""
    budget = limits.current()
    need = _expected_size(dtype, shape)
    if need > budget.decoded_bytes:
        raise DataError(f"{what}: its header claims {need / limits.MB:,.0f} MB of values (shape "
                        f"{shape}); at most {budget.max_decoded_mb:g} MB "
                        f"({limits.env_name('max_decoded_mb')})")
    if len(shape) == 3:
        budget.check_shape(*shape, what)
    elif len(shape) >= 1:
        budget.check_samples(shape[0], what)


def parse_idx(data: bytes | bytearray, what: str = "file") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file into a read-only array.

    Raises
    ------
    DataError
        If the header is malformed or the body length does not match it.
    """
    dtype, shape, offset = parse_header(data[:20], what)
    check_budget(dtype, shape, what)
    need = _expected_size(dtype, shape)
    have = len(data) - offset
    if have < need:
        raise DataError(
            f"{what}: truncated: the header promises {need:,} bytes of values "
            f"for shape {shape}, the file holds {have:,}"
        )
    if have > need:
        raise DataError(
            f"{what}: {have - need:,} unexpected bytes after the values of shape {shape}"
        )
    # An empty body still has a shape; (0, 2**32-1, 2**32-1) is beyond what numpy can index.
    if _expected_size(dtype, tuple(max(d, 1) for d in shape)) >= 2**62:
        raise DataError(f"{what}: shape {shape} in the header is impossibly large")
    arr = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    if dtype.byteorder == ">":
        arr = arr.astype(dtype.newbyteorder("="))
    arr.flags.writeable = False
    return arr


def gunzip(raw: bytes, what: str = "file", claimed: int | None = None,
           limit: int | None = None) -> bytes | bytearray:
    """Decompress ``raw`` if it is gzip, in bounded chunks, never past a bound.

    The output grows with what the stream really yields (a few MB at a time),
    never with what a header claims, so a lying size field costs nothing and a
    bomb stops at the first chunk past the bound.

    Parameters
    ----------
    raw : bytes
        The file's bytes; returned as they are when they are not gzip.
    what : str
        Name for messages.
    claimed : int, optional
        The length the content says it has (an IDX header): more output is refused.
    limit : int, optional
        The decoded-size budget; default :attr:`dashboard.limits.Limits.decoded_bytes`.

    Raises
    ------
    DataError
        Corrupt or truncated data, more data than ``claimed``, or more than the
        decoded-size limit (the message names the limit and its variable).
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    budget = limits.current()
    limit = budget.decoded_bytes if limit is None else limit
    # Deflate cannot expand more than ~1032:1: past that the stream is not honest either.
    ratio_cap = MAX_INFLATE_RATIO * len(raw) + 64
    out = bytearray()
    d = zlib.decompressobj(wbits=31)
    try:
        view = memoryview(raw)
        for start in range(0, len(raw), _IN_CHUNK):
            data = view[start:start + _IN_CHUNK]
            while data and not d.eof:
                chunk = d.decompress(data, _OUT_CHUNK)
                size = len(out) + len(chunk)
                if claimed is not None and size > claimed:
                    raise DataError(f"{what}: decompresses to more than its header allows; refused")
                if size > limit:
                    raise DataError(budget.decoded_message(what))
                if size > ratio_cap:
                    raise DataError(f"{what}: decompresses to more than gzip can honestly hold; refused")
                out += chunk
                data = d.unconsumed_tail
            if d.eof:
                break
    except zlib.error as exc:
        raise DataError(f"{what}: corrupt gzip data ({exc})") from None
    if not d.eof:
        raise DataError(f"{what}: gzip stream is truncated")
    return out


def inflate(raw: bytes, what: str = "file") -> bytes | bytearray:
    """Decompress an IDX file if it is gzip, bounded by the size its header claims.

    The header (the first bytes of the inflated stream) is peeked at first and
    checked against the budget; the content is then inflated by :func:`gunzip` in
    bounded chunks, refused as soon as it passes that claim.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        head = zlib.decompressobj(wbits=31).decompress(raw, 64)
    except zlib.error as exc:
        raise DataError(f"{what}: corrupt gzip data ({exc})") from None
    claimed = None
    try:
        dtype, shape, offset = parse_header(head[:20], what)
        claimed = offset + _expected_size(dtype, shape)
    except DataError:
        if len(head) >= 4:
            raise
    else:
        check_budget(dtype, shape, what)
    return gunzip(raw, what, claimed)


_IN_CHUNK = 1 << 20
_OUT_CHUNK = 1 << 22


def read_regular_file(path: str | os.PathLike, what: str | None = None,
                      max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file no larger than the upload limit.

    A device (``/dev/zero``), a FIFO or a socket is refused before it is opened,
    so nothing blocks or reads forever; an oversize file before it is read.

    Raises
    ------
    DataError
        Naming the file and what is wrong.
    """
    path = Path(path)
    what = what or path.name
    budget = limits.current()
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"{what}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{what}: not a regular file (a device, pipe or socket); give a data file")
    if max_bytes is None:
        budget.check_file_size(st.st_size, what)
    elif st.st_size > max_bytes:
        raise DataError(f"{what}: the file is {st.st_size:,} bytes; at most {max_bytes:,} expected")
    try:
        with open(path, "rb") as fh:
            data = fh.read(st.st_size + 1)
    except OSError as exc:
        raise DataError(f"{what}: cannot read ({exc.strerror or exc})") from None
    if len(data) > st.st_size:  # it grew while being read
        raise DataError(f"{what}: the file changed while it was read")
    return data


def read_idx(path: str | os.PathLike, what: str | None = None) -> np.ndarray:
    """Read an IDX file from disk, gzip-compressed or not.

    Parameters
    ----------
    path : path-like
        The file. A ``.gz`` name is not required: compression is detected from the bytes.
    what : str, optional
        Name for messages; defaults to the file name.
    """
    path = Path(path)
    what = what or path.name
    raw = read_regular_file(path, what)
    return parse_idx(inflate(raw, what), what)


def write_idx(arr: np.ndarray, path: str | os.PathLike | None = None, compress: bool = False) -> bytes:
    """Encode ``arr`` as IDX bytes (used to export and in tests); write them to ``path`` if given."""
    arr = np.asarray(arr)
    code = {v.str.lstrip("<>|="): k for k, v in IDX_DTYPES.items()}
    big = arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype
    key = big.str.lstrip("<>|=")
    if key not in code:
        raise DataError(f"cannot write dtype {arr.dtype} as IDX")
    head = bytes([0, 0, code[key], arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    data = head + arr.astype(big).tobytes()
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
