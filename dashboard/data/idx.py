"""Reading IDX files (the MNIST file format), plain or gzip-compressed.

An IDX file is a 4-byte magic ``0x00 0x00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values. Nothing in a file is trusted: the
header is checked against the real length of the body before any array is
allocated, and a gzip stream is never inflated past what its header claims.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

import numpy as np

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


def parse_idx(data: bytes | bytearray, what: str = "file") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file into a read-only array.

    Raises
    ------
    DataError
        If the header is malformed or the body length does not match it.
    """
    dtype, shape, offset = parse_header(data[:20], what)
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


def gunzip(raw: bytes, what: str = "file", claimed: int | None = None) -> bytes | bytearray:
    """Decompress ``raw`` if it is gzip, into one buffer, never past a bound.

    The bound is ``claimed`` (what the content says its length is) when given,
    and never more than :data:`MAX_INFLATE_RATIO` times the input, so a gzip bomb
    costs no memory and a real file costs its decoded size, once.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    limit = MAX_INFLATE_RATIO * len(raw) + 64
    if claimed is not None:
        limit = min(limit, claimed)
    try:
        d = zlib.decompressobj(wbits=31)
        # The gzip trailer's ISIZE (length mod 2**32) is a cheap, checked hint: a lying
        # claim then costs no more than the real content.
        isize = int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else limit
        bound = limit
        limit = min(limit, max(isize, 64))
        out = bytearray(limit)
        pos = 0
        view = memoryview(raw)
        for start in range(0, len(raw), _IN_CHUNK):
            data = view[start:start + _IN_CHUNK]
            while data and not d.eof:
                chunk = d.decompress(data, _OUT_CHUNK)
                if pos + len(chunk) > limit:
                    raise DataError(
                        f"{what}: decompresses to more than its header allows; refused"
                        if limit == bound else
                        f"{what}: gzip data is truncated or corrupt (its length does not match)")
                out[pos:pos + len(chunk)] = chunk
                pos += len(chunk)
                data = d.unconsumed_tail
            if d.eof:
                break
    except zlib.error as exc:
        raise DataError(f"{what}: corrupt gzip data ({exc})") from None
    if not d.eof:
        raise DataError(f"{what}: gzip stream is truncated")
    del out[pos:]
    return out


def inflate(raw: bytes, what: str = "file") -> bytes | bytearray:
    """Decompress an IDX file if it is gzip, bounded by the size its header claims.

    The header (the first bytes of the inflated stream) is peeked at first; the
    content is then inflated once by :func:`gunzip` into a buffer of that size.
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
    return gunzip(raw, what, claimed)


_IN_CHUNK = 1 << 20
_OUT_CHUNK = 1 << 22


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
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{what}: cannot read ({exc.strerror or exc})") from None
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
