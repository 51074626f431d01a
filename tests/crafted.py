"""The crafted inputs of issue 14, built by code (nothing committed), at any scale.

Each builder returns bytes. ``scale`` shrinks the expensive ones so that unit tests
can run them against lowered limits in milliseconds; the benchmark builds them at
the issue's full size and runs them against the real server with default limits.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np

MB = 1 << 20


def npz_bytes(compress: bool = True, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


def npz_huge_images(side: int = 4000) -> bytes:
    """The 31 KB NPZ: two side x side images of zeros, labels 0 and 1."""
    return npz_bytes(images=np.zeros((2, side, side), np.uint8), labels=np.array([0, 1]))


def npz_far_labels(side: int = 1000, top: int = 999) -> bytes:
    """The 2.4 KB NPZ: two side x side images, labels 0 and ``top``."""
    return npz_bytes(images=np.zeros((2, side, side), np.uint8), labels=np.array([0, top]))


def repeated_gzip(unit: bytes, repeats: int, head: bytes = b"") -> bytes:
    """A valid gzip stream of ``head + unit * repeats``, built without holding the content:
    ``unit`` is deflated once with a full flush, and that block is repeated."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(unit) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(unit, crc)
    size = (len(head) + len(unit) * repeats) & 0xFFFFFFFF
    gz_head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return b"".join([gz_head, first, block * repeats, tail, struct.pack("<II", crc, size)])


def idx_gz_forged(content_mb: int = 4096, claimed_images: int = 5_600_000) -> bytes:
    """The 3.95 MB IDX.gz: a header claiming ``claimed_images`` 28x28 images (4.4 GB)
    over ``content_mb`` MB of zeros."""
    head = bytes([0, 0, 8, 3]) + struct.pack(">III", claimed_images, 28, 28)
    return repeated_gzip(b"\0" * MB, content_mb, head)


def idx_labels(n: int) -> bytes:
    return bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(n)


def csv_gz_big(content_mb: int = 1024) -> bytes:
    """The 1.77 MB .csv.gz holding 1 GB: rows of a label and 784 zero pixels."""
    row = ",".join(["1"] + ["0"] * 784).encode() + b"\n"
    unit = row * (MB // len(row))
    return repeated_gzip(unit, max(1, content_mb * MB // len(unit)))


def npz_zip_bomb(content_mb: int = 1024) -> bytes:
    """The 0.99 MB NPZ zip bomb: ``images.npy`` of ``content_mb`` MB of zeros, deflated."""
    buf = io.BytesIO()
    n = content_mb  # images of 1024x1024 bytes: 1 MB each
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (n, 1024, 1024)})
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("images.npy", "w", force_zip64=True) as fh:
            fh.write(b"\x93NUMPY" + header.getvalue()[6:] if header.getvalue()[:6] == b"\x93NUMPY"
                     else header.getvalue())
            zero = b"\0" * MB
            for _ in range(n):
                fh.write(zero)
        labels = io.BytesIO()
        np.save(labels, np.zeros(n, np.int64))
        zf.writestr("labels.npy", labels.getvalue())
    return buf.getvalue()


def csv_wide_first_line(columns: int = 2_000_000, rows: int = 120) -> bytes:
    """The 4 MB CSV: a first line of ``columns`` columns, then short rows."""
    return b"1" + b",0" * (columns - 1) + b"\n" + b"1,0\n" * (rows - 1)


def csv_semicolons() -> bytes:
    return (";".join(["label"] + [f"p{i}" for i in range(64)]) + "\n"
            + ";".join(["1"] + ["0"] * 64) + "\n").encode()


def csv_labels_0_and_255(n: int = 20) -> bytes:
    rows = [",".join([str(0 if i % 2 else 255)] + [str(i % 256)] * 64) for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def csv_utf8_across_64k() -> bytes:
    """A valid CSV whose header has a two-byte character split by byte 65,536."""
    names = [f"p{i}" for i in range(64)]
    label = "l" + "a" * 65534 + "é"  # the first column's name: "é" is bytes 65,535 and 65,536
    header = (label + "," + ",".join(names)).encode()
    assert header.index("é".encode()) == 65535
    rows = "\n".join(",".join([str(i % 3)] + [str((i * 7 + j) % 256) for j in range(64)]) for i in range(12))
    return header + b"\n" + rows.encode() + b"\n"


def png_strip(width: int, height: int = 1) -> bytes:
    """A 1-bit black PNG of ``width`` x ``height`` (177 bytes for 100000x1)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\0" + b"\0" * ((width + 7) // 8)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def csv_named_digits(n: int = 60) -> bytes:
    from dashboard.data.loading import load_digits

    ds = load_digits("train")
    rows = [",".join(map(str, [lab, *img.ravel()])) for lab, img in zip(ds.labels[:n], ds.images[:n])]
    return ("\n".join(rows) + "\n").encode()
