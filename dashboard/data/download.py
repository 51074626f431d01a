"""Downloading catalog datasets from their public mirrors.

Each file is streamed to a temporary file beside its destination while its
decompressed content is hashed; only a file whose SHA-256 matches the catalog is
renamed into place. A failure on one mirror (unreachable, 404, cut off half-way,
wrong content) removes the temporary file and tries the next mirror.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from dashboard.data.catalog import CatalogEntry
from dashboard.errors import DataError

CHUNK = 1 << 16
TIMEOUT_S = 30.0

Progress = Callable[[int, int | None, str], None]


def _open_unnamed(folder: Path) -> tuple[int, Path | None]:
    """Open a file in ``folder`` that has no name yet (Linux ``O_TMPFILE``), so that a
    process killed while writing it leaves nothing behind. Where that is not supported,
    a hidden named ``.part`` file (removed on failure, and by the next fetch if killed)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if flag:
        try:
            return os.open(folder, flag | os.O_RDWR, 0o644), None
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix=".", suffix=".part", dir=folder)
    return fd, Path(name)


def _name_it(fd: int, tmp: Path | None, final: Path) -> None:
    """Give the finished, verified file its final name in one step."""
    if tmp is not None:
        os.replace(tmp, final)
        return
    try:
        os.link(f"/proc/self/fd/{fd}", final)
        return
    except FileExistsError:
        return  # another download of the same verified file finished first
    except OSError:
        pass  # some kernels and sandboxes refuse the link (EXDEV, EPERM): copy locally
    copy_fd, copy_name = tempfile.mkstemp(prefix=".", suffix=".part", dir=final.parent)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, "rb", closefd=False) as src, os.fdopen(copy_fd, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK * 16)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(copy_name, final)
    finally:
        Path(copy_name).unlink(missing_ok=True)


def size_cap(content_size: int) -> int:
    """Most bytes a download of a file of ``content_size`` may take: gzip adds at most
    a little to incompressible data; 1% + 64 KB is far above that."""
    return content_size + content_size // 100 + 65536


def _download_one(url: str, dest: Path, expected_sha256: str, name: str,
                  progress: Progress | None, timeout: float, content_size: int | None = None) -> None:
    """Fetch ``url`` into ``dest`` atomically, verifying the decompressed content.

    With ``content_size`` (the catalog's exact decompressed size) the transfer
    stops as soon as either the bytes received pass :func:`size_cap` or the
    inflated content passes ``content_size``: an endless stream costs nothing.
    """
    cap = size_cap(content_size) if content_size is not None else None
    fd, tmp = _open_unnamed(dest.parent)
    try:
        with os.fdopen(fd, "wb", closefd=False) as out, \
                urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            sha = hashlib.sha256()
            # wbits=47 inflates gzip or zlib and is fooled by neither; plain files are
            # hashed as they are.
            inflater: zlib._Decompress | None = None
            done = 0
            if progress:
                progress(0, total, name)
            if cap is not None and total is not None and total > cap:
                raise DataError(f"{name}: the server announces {total:,} bytes; the file is "
                                f"{content_size:,} bytes, so this is not it")
            inflated = 0
            while chunk := resp.read(CHUNK):
                if done == 0 and inflater is None and chunk[:2] == b"\x1f\x8b":
                    inflater = zlib.decompressobj(wbits=47)
                done += len(chunk)
                if cap is not None and done > cap:
                    raise DataError(f"{name}: the server sent more than {cap:,} bytes for a file "
                                    f"of {content_size:,}; stopped")
                out.write(chunk)
                while chunk:  # inflate in bounded pieces: a gzip bomb never lands in memory
                    part = inflater.decompress(chunk, CHUNK * 16) if inflater else chunk
                    chunk = inflater.unconsumed_tail if inflater else b""
                    inflated += len(part)
                    if content_size is not None and inflated > content_size:
                        raise DataError(f"{name}: decompresses to more than the {content_size:,} "
                                        f"bytes this file has; stopped")
                    sha.update(part)
                if progress:
                    progress(done, total, name)
            if total is not None and done != total:
                raise DataError(f"{name}: connection closed after {done:,} of {total:,} bytes")
            if inflater is not None:
                sha.update(inflater.flush())
                if not inflater.eof:
                    raise DataError(f"{name}: the download is truncated (incomplete gzip stream)")
            out.flush()
            os.fsync(fd)
        if sha.hexdigest() != expected_sha256:
            raise DataError(f"{name}: checksum mismatch (got {sha.hexdigest()[:12]}…, expected "
                            f"{expected_sha256[:12]}…): the file is corrupt or not the real one")
        final = dest if inflater is not None else dest.with_name(dest.name.removesuffix(".gz"))
        _name_it(fd, tmp, final)
        tmp = None
    except zlib.error as exc:
        raise DataError(f"{name}: corrupt gzip data from the server ({exc})") from None
    finally:
        os.close(fd)
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def fetch_dataset(
    entry: CatalogEntry,
    data_dir: str | os.PathLike,
    *,
    progress: Progress | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download the four files of ``entry`` into ``data_dir/<name>/``.

    Files already present and complete are not fetched again. For each missing
    file the mirrors are tried in order (https ones first in the catalog); each transfer stops
    at the file's known size (plus a margin).

    Parameters
    ----------
    entry : CatalogEntry
    data_dir : path-like
        Parent folder; the files go to ``data_dir/entry.name``.
    progress : callable, optional
        ``progress(done_bytes, total_bytes_or_None, file_name)``, called often.
    timeout : float
        Seconds a connection may stay silent.

    Returns
    -------
    Path
        The dataset's folder.

    Raises
    ------
    DataError
        If some file could not be fetched from any mirror; the message lists why
        each mirror failed. Files fetched before the failure are kept.
    """
    folder = Path(data_dir) / entry.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {folder}: {exc.strerror or exc}") from None
    # A process killed mid-download leaves its temporary file behind; clear it.
    for stale in folder.glob(".*.part"):
        stale.unlink(missing_ok=True)
    for name in entry.file_names:
        dest = folder / name
        if dest.is_file() or dest.with_name(name.removesuffix(".gz")).is_file():
            continue
        errors = []
        try:
            content_size = entry.content_size(name)
        except KeyError:
            content_size = None
        for mirror in entry.mirrors:
            url = mirror + name
            try:
                _download_one(url, dest, entry.sha256[name], name, progress, timeout, content_size)
                break
            except DataError as exc:
                errors.append(f"{url}: {exc}")
            except urllib.error.HTTPError as exc:
                errors.append(f"{url}: HTTP {exc.code} {exc.reason}")
            except urllib.error.URLError as exc:
                errors.append(f"{url}: {exc.reason}")
            except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
                errors.append(f"{url}: {exc}")
        else:
            try:  # leave no empty folder behind either
                folder.rmdir()
            except OSError:
                pass
            offline = all("Name or service not known" in e or "resolution" in e
                          or "unreachable" in e.lower() for e in errors)
            hint = " This machine seems to have no internet connection." if offline else ""
            raise DataError(
                f"could not download {entry.title} ({name}) from any mirror.{hint} "
                f"Put the files in {folder} by hand, or try again later.\n"
                + "\n".join(f"  - {e}" for e in errors)
            )
    return folder
