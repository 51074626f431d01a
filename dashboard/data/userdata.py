"""Reading datasets that users hold in their own files.

Formats, as people actually keep these sets:

* CSV: the label in the first column, then one column per pixel (row-major),
  with or without a header row; ``h*w`` must be a square (784 -> 28x28).
* NumPy ``.npz`` (never unpickled): ``images``/``labels``, ``x``/``y`` or
  ``X``/``y``, or the split pairs ``x_train``/``y_train`` and ``x_test``/``y_test``;
  images shaped ``(n, h, w)`` or ``(n, h*w)``; an optional ``class_names`` array.
* IDX: an image file and its label file, or the four files of an MNIST-style set.

Pixel values must lie in 0-255; floats that all lie in 0-1 are taken as a
0-1 scale. Every problem raises :class:`~dashboard.errors.DataError` naming the
line, column or key.
"""

from __future__ import annotations

import io
import lzma
import math
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import limits
from dashboard.data.dataset import Dataset
from dashboard.data.idx import MAX_INFLATE_RATIO, gunzip, inflate, parse_idx, read_regular_file
from dashboard.errors import DataError

Splits = dict[str, Dataset]

# Key pairs looked for in an .npz, in order; each gives (images, labels, split).
NPZ_LAYOUTS = (
    (("x_train", "y_train", "train"), ("x_test", "y_test", "test")),
    (("train_images", "train_labels", "train"), ("test_images", "test_labels", "test")),
    (("images", "labels", "all"),),
    (("x", "y", "all"),),
    (("X", "y", "all"),),
)


def to_pixels(values: np.ndarray, what: str) -> np.ndarray:
    """Validate numeric pixel values and return them as uint8 0-255.

    ``values`` has samples on axis 0. NaN, infinities and values outside 0-255
    are refused with the first offending sample named.
    """
    if values.dtype == np.uint8:
        return values
    if values.size == 0:  # (checked here: reshape(n, -1) below cannot infer a side of 0)
        raise DataError(f"{what}: holds no pixel values (no samples, or images with an empty side)")
    if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer)
                                    or np.issubdtype(values.dtype, np.floating)):
        raise DataError(f"{what}: pixel values must be numbers, got {values.dtype}")
    flat = values.reshape(len(values), -1)
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(flat)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(f"{what}: sample {row}, pixel {col} is {flat[row, col]} (NaN or infinite)")
        lo, hi = float(flat.min()), float(flat.max())
        if lo >= 0.0 and hi <= 1.0 and not np.all(flat == np.round(flat)):
            # A 0-1 scale, as many pipelines store it.
            return np.rint(values * 255.0).astype(np.uint8)
    bad = (flat < 0) | (flat > 255)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{what}: sample {row}, pixel {col} is {flat[row, col]}; pixel values must lie in 0-255"
        )
    return np.rint(values).astype(np.uint8) if values.dtype.kind == "f" else values.astype(np.uint8)


def to_labels(values: np.ndarray, what: str) -> np.ndarray:
    """Validate class labels: whole numbers >= 0. Returns int64."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise DataError(f"{what}: labels must be one number per sample, got shape {values.shape}")
    if np.issubdtype(values.dtype, np.integer):
        out = values.astype(np.int64)
    elif np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(f"{what}: label of sample {i} is {values[i]}, not a whole number")
        out = values.astype(np.int64)
    else:
        raise DataError(f"{what}: labels must be whole numbers, got {values.dtype}")
    if out.size and out.min() < 0:
        i = int(np.argmin(out))
        raise DataError(f"{what}: label of sample {i} is {out[i]}; labels must be 0 or more")
    return out


def square_side(n_pixels: int, what: str) -> int:
    """The side of a square image of ``n_pixels`` pixels, or a clear error."""
    side = math.isqrt(n_pixels)
    if n_pixels < 1 or side * side != n_pixels:
        raise DataError(
            f"{what}: {n_pixels} pixel values per sample is not a square image "
            f"(784 values make 28x28, 64 make 8x8)"
        )
    return side


# Bidirectional controls (RLO reverses the text after it) and other control
# characters: a user's name for a file or class is shown as written, never reordered.
_CONTROLS = dict.fromkeys([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x061C, 0x200E, 0x200F,
                           *range(0x202A, 0x202F), *range(0x2066, 0x206A)], 0xFFFD)


def clean_name(text: object) -> str:
    """``text`` with control and bidirectional-override characters shown as U+FFFD."""
    return str(text).translate(_CONTROLS)


def class_labels(labels: Sequence[np.ndarray], what: str) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """The classes of a set, from the labels of every split together.

    Labels are class numbers 0..max, as in MNIST, and a class absent from a
    small sample stays a class. But when most of 0..max would be empty classes
    (labels ``{0, 255}``: 254 empty classes), the classes are the label values
    present, each named by its number, and the labels are renumbered 0..k-1.
    More classes than the budget's ``max_classes`` are refused.

    Returns
    -------
    labels : list of ndarray of int64
        One per given array (renumbered when the classes are the values present).
    class_names : tuple of str
    """
    budget = limits.current()
    present = np.unique(np.concatenate([np.asarray(y, dtype=np.int64) for y in labels]))
    top = int(present[-1]) + 1 if len(present) else 1
    if 2 * len(present) >= top:
        budget.check_classes(top, what)
        return [np.asarray(y, dtype=np.int64) for y in labels], tuple(str(i) for i in range(top))
    budget.check_classes(len(present), what)
    names = tuple(str(v) for v in present.tolist())
    return [np.searchsorted(present, y).astype(np.int64) for y in labels], names


def _make(images, labels, class_names, name, split, source) -> Dataset:
    if len(images) == 0:
        raise DataError(f"{source}: holds no samples")
    if class_names is None:
        (labels,), class_names = class_labels([labels], source)
    elif labels.max() >= len(class_names):
        raise DataError(f"{source}: label {int(labels.max())} but only {len(class_names)} class names")
    return Dataset(images=images, labels=labels, class_names=tuple(clean_name(c) for c in class_names),
                   name=clean_name(name), split=split, source=clean_name(source))


# ---------------------------------------------------------------- CSV

def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _float_or_nan(text) -> float:
    try:
        return float(text)
    except OverflowError:  # a Python int beyond float range
        return math.inf if text > 0 else -math.inf
    except (TypeError, ValueError):
        return math.nan


def _to_float(column: pd.Series) -> pd.Series:
    """A column as numbers, NaN where a cell is not one."""
    try:
        return pd.to_numeric(column, errors="coerce")
    except OverflowError:
        # pandas raises, despite errors="coerce", on integers too long for a float
        # ("9" * 400); Python makes them inf, which the range check then refuses.
        return column.map(_float_or_nan).astype(np.float64)


def _csv_chunk(frame: pd.DataFrame, name: str, offset: int) -> np.ndarray:
    """One parsed chunk as float64 values, every cell a number (line numbers from ``offset``)."""
    numeric = frame.apply(_to_float) if any(dt.kind not in "iuf" for dt in frame.dtypes) else frame
    values = numeric.to_numpy(dtype=np.float64)
    bad = np.isnan(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raw = frame.iat[row, col]
        shown = ("empty (a short row?)" if pd.isna(raw) or str(raw).strip() == ""
                 else f"{str(raw)[:40]!r}, not a number")
        raise DataError(f"{name}: line {row + offset}, column {col + 1} is {shown}")
    labels = values[:, 0]
    # Infinite or huge labels are not class numbers either (and would wrap in int64).
    frac = (labels != np.round(labels)) | ~(np.abs(labels) < 2.0**62)
    if frac.any() or (labels < 0).any():
        row = int(np.argmax(frac | (labels < 0)))
        raise DataError(f"{name}: line {row + offset}: label {labels[row]:g} is not a class number "
                        f"(a whole number 0 or more)")
    pixels = values[:, 1:]
    out_of_range = (pixels < 0) | (pixels > 255)
    if out_of_range.any():
        row, col = np.argwhere(out_of_range)[0]
        raise DataError(f"{name}: line {row + offset}, column {col + 2} is {pixels[row, col]:g}; "
                        f"pixel values must lie in 0-255")
    return values


# Cells parsed at a time: pandas holds a chunk as float64, so this bounds the parse to ~32 MB
# whatever the file's size; the set itself is kept as uint8 only.
CSV_CHUNK_CELLS = 4_000_000


def read_csv(data: bytes | bytearray, name: str = "upload.csv") -> Splits:
    """Parse a CSV dataset: label first, then ``h*w`` pixel columns; header optional.

    The shape is taken from the first line (and checked against the second) and
    checked against :mod:`dashboard.limits` before anything is allocated; the
    rows are then parsed a chunk at a time into one uint8 array, so memory stays
    a small multiple of the decoded set, never rows x columns float64 at once.
    """
    budget = limits.current()
    if b"\x00" in data[:4096]:
        raise DataError(f"{name}: this is not a text file, so not a CSV")
    end = data.find(b"\n")
    first_raw = bytes(data[: end if end >= 0 else len(data)]).rstrip(b"\r")
    if first_raw.startswith(b"\xef\xbb\xbf"):
        first_raw = first_raw[3:]
    if not first_raw.strip():
        body = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf").strip()
        raise DataError(f"{name}: the file is empty" if not body else f"{name}: the first line is empty")
    n_cols = first_raw.count(b",") + 1
    if n_cols == 1:
        for sep, what in ((b";", "semicolons"), (b"\t", "tabs"), (b"|", "bars")):
            if sep in first_raw:
                raise DataError(f"{name}: the columns are separated by {what}; use commas "
                                f"(label,pixel0,pixel1,...)")
        raise DataError(f"{name}: needs a label column and pixel columns; found 1 column")
    n_pixels = n_cols - 1
    if n_pixels > budget.max_image_pixels:
        raise DataError(f"{name}: the first line has {n_cols:,} columns: {n_pixels:,} pixels per "
                        f"image; at most {budget.max_image_pixels:,} "
                        f"({limits.env_name('max_image_pixels')})")
    try:
        first_field = first_raw.split(b",", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{name}: not UTF-8 text, so not a CSV") from None
    has_header = not _is_number(first_field.strip().strip('"'))
    # pandas pads every short row to the first line's width, so a long first line
    # followed by many short rows would cost rows x columns cells from a file of
    # rows + columns bytes. A complete row needs at least one byte per cell, so a
    # file with more cells than bytes has short rows: refuse it before parsing.
    n_lines = max(data.count(b"\n"), data.count(b"\r")) + 1
    if n_lines * n_cols > len(data) + n_cols + 1:
        raise DataError(f"{name}: rows are shorter than the first line ({n_cols} columns); "
                        f"every row needs a label and all its pixel values")
    side = square_side(n_pixels, name)
    if has_header and end >= 0:
        nxt = data.find(b"\n", end + 1)
        second = bytes(data[end + 1: nxt if nxt >= 0 else len(data)]).strip()
        if second and second.count(b",") + 1 != n_cols:
            raise DataError(f"{name}: line 2 has {second.count(b',') + 1:,} columns but the header "
                            f"has {n_cols:,}")
    n_rows = n_lines - (1 if has_header else 0)
    budget.check_shape(n_rows, side, side, name)
    images = np.empty((n_rows, side, side), dtype=np.uint8)
    as01: np.ndarray | None = np.empty((n_rows, side, side), dtype=np.uint8)
    labels = np.empty(n_rows, dtype=np.int64)
    fractional = False
    done = 0
    offset = 2 if has_header else 1  # line number of data row 0
    try:
        reader = pd.read_csv(io.BytesIO(data), header=0 if has_header else None,
                             skip_blank_lines=False, encoding="utf-8-sig",
                             keep_default_na=False, na_values=[""],
                             chunksize=max(1, CSV_CHUNK_CELLS // n_cols))
        with reader:
            for frame in reader:
                if frame.shape[1] != n_cols:
                    raise DataError(f"{name}: needs a label column and pixel columns; found "
                                    f"{frame.shape[1]} column")
                values = _csv_chunk(frame, name, offset + done)
                k = len(values)
                if done + k > n_rows:  # cannot happen: rows <= lines
                    raise DataError(f"{name}: more rows than lines")
                pixels = values[:, 1:]
                labels[done:done + k] = values[:, 0]
                images[done:done + k] = np.rint(pixels).reshape(k, side, side)
                fractional = fractional or bool((pixels != np.round(pixels)).any())
                if as01 is not None:
                    if pixels.size and pixels.max() > 1.0:
                        as01 = None  # a 0-255 set: the 0-1 reading is not needed
                    else:
                        as01[done:done + k] = np.rint(pixels * 255.0).reshape(k, side, side)
                done += k
    except DataError:
        raise
    except pd.errors.ParserError as exc:
        # pandas says e.g. "Expected 785 fields in line 3, saw 786": keep its line number.
        raise DataError(f"{name}: rows have different lengths ({str(exc).strip().splitlines()[-1]})") from None
    except (UnicodeDecodeError, ValueError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{name}: cannot be read as CSV ({exc})") from None
    if done == 0:
        raise DataError(f"{name}: no data rows")
    # Floats that all lie in 0-1 (and are not all 0 and 1) are a 0-1 scale, as in to_pixels.
    pixels_out = as01 if (as01 is not None and fractional) else images
    stem = Path(name).stem
    return {"all": _make(pixels_out[:done], labels[:done], None, stem, "all", name)}


# ---------------------------------------------------------------- NPZ

def _check_npz_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> int:
    """Refuse object arrays and absurd sizes by reading only the .npy header.

    Returns the bytes the member's array will take, checked against the budget.
    """
    budget = limits.current()
    if info.file_size > MAX_INFLATE_RATIO * max(info.compress_size, 1) + 4096:
        raise DataError(f"{what}: member {info.filename} claims an impossible size; refused")
    if info.file_size > budget.decoded_bytes + 4096:
        raise DataError(budget.decoded_message(f"{what} [{info.filename}]"))
    with zf.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        except (ValueError, OSError, EOFError, SyntaxError, zipfile.BadZipFile) as exc:
            raise DataError(f"{what}: {info.filename} is not a valid NumPy array ({exc})") from None
    if dtype.hasobject:
        raise DataError(f"{what}: {info.filename} holds Python objects; refused (it would need "
                        f"unpickling, which is never done with a user's file)")
    need = math.prod(shape) * dtype.itemsize
    if need > info.file_size:
        raise DataError(f"{what}: {info.filename} claims {need:,} bytes of data but holds "
                        f"{info.file_size:,}; refused")
    key = info.filename.removesuffix(".npy")
    images = {x for layout in NPZ_LAYOUTS for x, _, _ in layout}
    if key in images and len(shape) == 3:
        budget.check_shape(*(int(d) for d in shape), f"{what} [{key}]")
    elif key in images and len(shape) == 2:
        budget.check_samples(int(shape[0]), f"{what} [{key}]")
        if shape[1] > budget.max_image_pixels:
            raise DataError(f"{what} [{key}]: {shape[1]:,} pixels per image; at most "
                            f"{budget.max_image_pixels:,} ({limits.env_name('max_image_pixels')})")
    return need


def read_npz(data: bytes, name: str = "upload.npz") -> Splits:
    """Parse a NumPy ``.npz`` dataset without ever unpickling (see module doc for keys)."""
    buf = io.BytesIO(data)
    try:
        with zipfile.ZipFile(buf) as zf:
            # Every member, not only *.npy ones: np.load also reads a member named
            # "x" as key "x", and would allocate whatever its header claims.
            need = sum(_check_npz_member(zf, info, name) for info in zf.infolist())
            budget = limits.current()
            if need > budget.decoded_bytes:
                raise DataError(f"{name}: its arrays take {need / limits.MB:,.0f} MB together; at "
                                f"most {budget.max_decoded_mb:g} MB ({limits.env_name('max_decoded_mb')})")
        buf.seek(0)
        with np.load(buf, allow_pickle=False) as npz:
            keys = set(npz.files)
            layout = next((lay for lay in NPZ_LAYOUTS if all(x in keys and y in keys for x, y, _ in lay)), None)
            if layout is None:
                raise DataError(
                    f"{name}: found arrays {sorted(keys)[:10]}; expected images and labels under "
                    f"'images'/'labels', 'x'/'y', or 'x_train'/'y_train' (+ 'x_test'/'y_test')"
                )
            class_names = None
            if "class_names" in keys:
                cn = npz["class_names"]
                if cn.ndim != 1 or cn.dtype.kind not in "UiS":
                    raise DataError(f"{name}: 'class_names' must be a 1-D array of strings")
                class_names = tuple(c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c)
                                    for c in cn.tolist())
            parts = []
            for xk, yk, split in layout:
                x, y = npz[xk], npz[yk]
                what = f"{name} [{xk}]"
                if x.ndim == 2:
                    side = square_side(x.shape[1], what)
                    x = x.reshape(-1, side, side)
                elif x.ndim != 3:
                    raise DataError(f"{what}: images must be shaped (n, height, width) or "
                                    f"(n, height*width), got {x.shape}")
                labels = to_labels(y, f"{name} [{yk}]")
                if len(labels) != len(x):
                    raise DataError(f"{name}: {len(x):,} images in '{xk}' but {len(labels):,} labels in '{yk}'")
                parts.append((split, to_pixels(x, what), labels))
    except DataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"{name}: not a readable .npz file ({exc})") from None
    except (NotImplementedError, RuntimeError) as exc:
        # zipfile's words for an unsupported compression method or version, and for encryption.
        raise DataError(f"{name}: a zip archive this app cannot read ({exc})") from None
    # Splits of one file share their classes.
    if class_names is None:
        ys, class_names = class_labels([y for _, _, y in parts], name)
    else:
        limits.current().check_classes(len(class_names), name)
        ys = [y for _, _, y in parts]
    return {split: _make(x, y, class_names, Path(name).stem, split, name)
            for (split, x, _), y in zip(parts, ys)}


# ---------------------------------------------------------------- IDX

def read_idx_files(files: Sequence[tuple[str, bytes]], name: str | None = None,
                   source: str | None = None) -> Splits:
    """An IDX image file and its label file, or the four files of an MNIST-style set.

    Files are told apart by their content (3-D images, 1-D labels) and split by
    name (``train`` / ``t10k`` or ``test``).
    """
    arrays = []
    for fname, data in files:
        arr = parse_idx(inflate(data, fname), fname)
        arrays.append((fname, arr))
    groups: dict[str, dict[str, tuple[str, np.ndarray]]] = {}
    for fname, arr in arrays:
        low = fname.lower()
        split = "train" if "train" in low else "test" if ("t10k" in low or "test" in low) else "all"
        kind = "images" if arr.ndim == 3 else "labels" if arr.ndim == 1 else None
        if kind is None:
            raise DataError(f"{fname}: an IDX file of shape {arr.shape} is neither images (n, h, w) "
                            f"nor labels (n,)")
        if kind in groups.setdefault(split, {}):
            raise DataError(f"two {kind} files for the {split} split: {groups[split][kind][0]} and {fname}")
        groups[split][kind] = (fname, arr)
    if len(groups) > 1 and "all" in groups:
        groups = {"all": {k: v for g in groups.values() for k, v in g.items()}} if len(arrays) == 2 else groups
    parts = []
    for split, group in groups.items():
        if set(group) != {"images", "labels"}:
            missing = {"images", "labels"} - set(group)
            raise DataError(f"the {split} split lacks its {missing.pop()} file (give images and labels together)")
        (iname, images), (lname, labels) = group["images"], group["labels"]
        if images.dtype != np.uint8:
            images = to_pixels(images, iname)
        labels = to_labels(labels, lname)
        if len(labels) != len(images):
            raise DataError(f"{iname} holds {len(images):,} images but {lname} holds {len(labels):,} labels")
        parts.append((split, iname, images, labels))
    limits.current().check_samples(sum(len(p[3]) for p in parts), name or "the IDX files")
    # The set is named for its image file (not "train", which names the split).
    set_name = name or parts[0][1].removesuffix(".gz")
    ys, class_names = class_labels([p[3] for p in parts], set_name)
    return {split: _make(images, y, class_names, set_name, split, source or iname)
            for (split, iname, images, _), y in zip(parts, ys)}


# ---------------------------------------------------------------- entry points

def read_files(files: Sequence[tuple[str, bytes]]) -> Splits:
    """Read an uploaded dataset given as ``(file name, bytes)`` pairs.

    The file name picks the parser only (never a path on disk): ``.csv``,
    ``.npz``, anything else is tried as IDX.

    Returns
    -------
    dict
        ``{split: Dataset}`` with splits ``train``/``test`` or just ``all``.
    """
    if not files:
        raise DataError("no file given")
    names = [os.path.basename(str(n)) or "upload" for n, _ in files]
    files = list(zip(names, (d for _, d in files)))
    if len(files) == 1:
        fname, data = files[0]
        low = fname.lower()
        if low.endswith(".csv") or low.endswith(".csv.gz"):
            return read_csv(gunzip(data, fname), fname)
        if low.endswith(".npz") or data[:2] == b"PK":
            return read_npz(data, fname)
        raise DataError(f"{fname}: one IDX file is not a dataset; give the image file and its "
                        f"label file together (or a .csv / .npz)")
    if any(n.lower().endswith((".csv", ".npz")) for n in names):
        raise DataError("give one CSV or NPZ file at a time (several files are read as IDX)")
    return read_idx_files(files)


def read_path(path: str | os.PathLike) -> Splits:
    """Read a dataset from a file or a folder on disk (CSV, NPZ, IDX pair or folder of IDX files)."""
    path = Path(path)
    try:
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.is_file() and "idx" in p.name.lower())
            if not members:
                raise DataError(f"{path}: no IDX files (names containing 'idx') in this folder")
            return read_idx_files([(p.name, read_regular_file(p)) for p in members], name=path.name,
                                  source=str(path))
        return read_files([(path.name, read_regular_file(path))])
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def holdout_split(ds: Dataset, test_fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split a set with no test split into stratified train and test parts (for training)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(ds))
    counts = np.bincount(ds.labels)
    stratify = ds.labels if counts[counts > 0].min() >= 2 else None
    try:
        tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise DataError(f"{ds.name}: too small to split into train and test ({exc})") from None
    tr, te = np.sort(tr), np.sort(te)
    return tuple(
        Dataset(ds.images[i], ds.labels[i], ds.class_names, ds.name, split, ds.source)
        for i, split in ((tr, "train"), (te, "test"))
    )
