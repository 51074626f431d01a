"""The one resource budget: how large a file, an image or a set may be.

Every reader checks these limits *before* allocating, from headers and shapes;
inflating (gzip, zip) stops at ``decoded_bytes``; the views never send more
than a window of a large image. The defaults let real MNIST, Fashion-MNIST,
digits and ordinary uploads through while a crafted file of a few kilobytes
cannot take hundreds of megabytes.

Declared once here. Each limit can be changed by an environment variable (in
MB where it is a size) or by a TOML file named by ``DASHBOARD_LIMITS_FILE``
holding the same field names, e.g.::

    max_upload_mb = 100
    max_classes = 200

The environment wins over the file, the file over the defaults.
"""

from __future__ import annotations

import math
import os
import threading
import tomllib
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from dashboard.errors import DataError

MB = 1024 * 1024
ENV_FILE = "DASHBOARD_LIMITS_FILE"


@dataclass(frozen=True)
class Limits:
    """The budget. Sizes in MB are floats; counts are ints.

    Parameters
    ----------
    max_upload_mb : float
        Largest file a user may give (upload or ``info PATH``). Streamlit's own
        ``server.maxUploadSize`` (.streamlit/config.toml) is set to the same 200.
    max_decoded_mb : float
        Largest size a file may decode to (gzip/zip inflated, or the pixel
        array of a set): inflation stops here, with a message naming it.
    max_image_side : int
        Longest image side, in pixels (datasets and prediction uploads).
    max_image_pixels : int
        Pixels per image (height x width) in a dataset.
    max_classes : int
        Classes in a dataset.
    max_samples : int
        Images in a dataset (all splits together).
    max_total_upload_mb : float
        Decoded upload memory the server holds for all sessions together.
    max_predict_pixels : int
        Pixels of an image uploaded for a prediction (decoded by PIL).
    max_predict_side : int
        Longest side of an image uploaded for a prediction (a phone photo is
        4032; a 25,000,000 x 1 strip would cost gigabytes to resample).
    """

    max_upload_mb: float = 200.0
    max_decoded_mb: float = 256.0
    max_image_side: int = 2048
    max_image_pixels: int = 1024 * 1024
    max_classes: int = 1000
    max_samples: int = 1_000_000
    max_total_upload_mb: float = 1024.0
    max_predict_pixels: int = 25_000_000
    max_predict_side: int = 10_000

    # --- in bytes, for the readers -------------------------------------------------

    @property
    def upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def decoded_bytes(self) -> int:
        return int(self.max_decoded_mb * MB)

    @property
    def total_upload_bytes(self) -> int:
        return int(self.max_total_upload_mb * MB)

    def check_shape(self, n: int, h: int, w: int, what: str) -> None:
        """Refuse an image set of ``n`` images of ``h x w`` bytes before it is allocated.

        Raises
        ------
        DataError
            Naming the limit and its environment variable.
        """
        if max(h, w) > self.max_image_side:
            raise DataError(f"{what}: images of {h}x{w} pixels; the longest side allowed is "
                            f"{self.max_image_side:,} ({env_name('max_image_side')})")
        if h * w > self.max_image_pixels:
            raise DataError(f"{what}: images of {h}x{w} = {h * w:,} pixels; at most "
                            f"{self.max_image_pixels:,} per image ({env_name('max_image_pixels')})")
        self.check_samples(n, what)
        if n * h * w > self.decoded_bytes:
            raise DataError(f"{what}: {n:,} images of {h}x{w} make {n * h * w / MB:,.0f} MB of "
                            f"pixels; at most {self.max_decoded_mb:g} MB ({env_name('max_decoded_mb')})")

    def check_samples(self, n: int, what: str) -> None:
        """Refuse more than ``max_samples`` images."""
        if n > self.max_samples:
            raise DataError(f"{what}: {n:,} samples; at most {self.max_samples:,} "
                            f"({env_name('max_samples')})")

    def check_classes(self, k: int, what: str) -> None:
        """Refuse more than ``max_classes`` classes."""
        if k > self.max_classes:
            raise DataError(f"{what}: {k:,} classes; at most {self.max_classes:,} "
                            f"({env_name('max_classes')})")

    def check_file_size(self, size: int, what: str) -> None:
        """Refuse a file larger than ``max_upload_mb``."""
        if size > self.upload_bytes:
            raise DataError(f"{what}: the file is {size / MB:,.1f} MB; at most "
                            f"{self.max_upload_mb:g} MB ({env_name('max_upload_mb')})")

    def decoded_message(self, what: str) -> str:
        """The message of a stream that inflates past ``max_decoded_mb``."""
        return (f"{what}: decompresses to more than {self.max_decoded_mb:g} MB, the limit on "
                f"decoded data ({env_name('max_decoded_mb')}); refused")


def env_name(field: str) -> str:
    """The environment variable of a limit: ``max_upload_mb`` -> ``DASHBOARD_MAX_UPLOAD_MB``."""
    return "DASHBOARD_" + field.upper()


def _convert(field: str, value: object) -> float | int:
    kind = float if field.endswith("_mb") else int
    try:
        number = kind(value) if kind is float else int(str(value).replace("_", ""))
    except (TypeError, ValueError):
        raise DataError(f"limit {field} ({env_name(field)}): {value!r} is not a number") from None
    if not (math.isfinite(number) and number > 0):
        raise DataError(f"limit {field} ({env_name(field)}): must be above 0, got {value!r}")
    return number


def load_limits(environ: Mapping[str, str] | None = None) -> Limits:
    """The limits in force: defaults, then ``$DASHBOARD_LIMITS_FILE``, then the environment.

    Parameters
    ----------
    environ : mapping, optional
        The environment to read (default ``os.environ``).

    Raises
    ------
    DataError
        If a value is not a positive number or the file is unreadable.
    """
    environ = os.environ if environ is None else environ
    names = {f.name for f in fields(Limits)}
    values: dict[str, float | int] = {}
    path = environ.get(ENV_FILE)
    if path:
        try:
            table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DataError(f"{ENV_FILE}={path}: cannot read the limits ({exc})") from None
        table = table.get("limits", table)
        unknown = set(table) - names
        if unknown:
            raise DataError(f"{path}: unknown limits {sorted(unknown)}; known: {sorted(names)}")
        values.update({k: _convert(k, v) for k, v in table.items()})
    for name in names:
        if env_name(name) in environ:
            values[name] = _convert(name, environ[env_name(name)])
    return replace(Limits(), **values)


def current() -> Limits:
    """The limits in force now (read from the environment on each call: cheap, and tests can change it)."""
    return load_limits()


def array_bytes(shape: tuple[int, ...], itemsize: int) -> int:
    """Bytes of an array of ``shape``, in Python integers (no overflow)."""
    return math.prod(int(s) for s in shape) * int(itemsize)


class UploadLedger:
    """Decoded upload memory held by the server, across all sessions.

    Each session holds at most one upload (a new one replaces it). An entry is
    dropped when its owner object is garbage-collected (the session's state was
    cleared), when the session replaces it, or when room is needed and its
    session is no longer connected (``is_active(session) is False``).

    Parameters
    ----------
    capacity : int
        Bytes all sessions together may hold.
    is_active : callable, optional
        ``is_active(session_id) -> bool``; sessions judged inactive are evicted
        first when room is needed. Default: every session is active.
    """

    def __init__(self, capacity: int, is_active: Callable[[str], bool] | None = None) -> None:
        self.capacity = int(capacity)
        self._is_active = is_active or (lambda _sid: True)
        self._held: dict[str, tuple[int, Callable[[], None], object]] = {}
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        """Bytes held now."""
        with self._lock:
            return sum(v[0] for v in self._held.values())

    def held_by(self, session: str) -> int:
        with self._lock:
            return self._held.get(session, (0,))[0]

    def release(self, session: str) -> None:
        """Forget what ``session`` holds (it replaced or dropped its upload)."""
        with self._lock:
            self._held.pop(session, None)

    def _evict_inactive(self) -> None:
        for sid in [s for s in self._held if not self._is_active(s)]:
            drop = self._held.pop(sid)[1]
            drop()

    def room_for(self, session: str, nbytes: int) -> bool:
        """Whether ``session`` could hold ``nbytes`` (its own current upload counts as freed)."""
        with self._lock:
            used = sum(v[0] for s, v in self._held.items() if s != session)
            if used + nbytes > self.capacity:
                self._evict_inactive()
                used = sum(v[0] for s, v in self._held.items() if s != session)
            return used + nbytes <= self.capacity

    def hold(self, session: str, nbytes: int, owner: object, drop: Callable[[], None]) -> None:
        """Record that ``session`` now holds ``nbytes`` (replacing what it held).

        Parameters
        ----------
        session : str
        nbytes : int
        owner : object
            Weakly referenced; when it is collected the entry is dropped.
        drop : callable
            Called (under no lock of the session) to free the upload when the
            session is evicted as inactive.

        Raises
        ------
        DataError
            When all sessions together would hold more than ``capacity``.
        """
        if not self.room_for(session, nbytes):
            raise DataError(
                f"the server already holds {self.total / MB:,.0f} MB of uploads from other "
                f"sessions; with this one ({nbytes / MB:,.1f} MB) that would pass the limit of "
                f"{self.capacity / MB:g} MB ({env_name('max_total_upload_mb')}). Try again "
                f"later or with a smaller file.")
        entry = object()
        with self._lock:
            self._held[session] = (int(nbytes), drop, entry)

        def _gone(sid: str = session, mine: object = entry) -> None:
            with self._lock:  # only this entry: the session may hold a newer one
                if sid in self._held and self._held[sid][2] is mine:
                    self._held.pop(sid, None)

        weakref.finalize(owner, _gone)
