"""Label corrections: a small versioned file beside the data, never touching the data itself.

A corrections file records what a reviewer did to the samples of one split,
as a log of actions: *relabel* (new label), *exclude* (drop the sample) or
*keep* (confirmed correct). The last action on a sample wins; :meth:`Corrections.undo`
removes the last batch of actions (one click, or one bulk action). The file is
JSON, written atomically (temporary file + ``os.replace``), and carries

* the SHA-256 checksum of the dataset it was made for: a file made for other data
  (another version of the set, another upload with the same name) is refused;
* a digest of its own content: a file edited by hand is refused, rather than
  silently relabelling samples nobody reviewed.

:func:`apply_corrections` gives "dataset + corrections" as a
:class:`CorrectedDataset`, a :class:`~dashboard.data.dataset.Dataset` like any
other (browse it, map it, train on it), which remembers the original checksum,
the corrections version and which original sample each row is.
:func:`export_dataset` writes it as NPZ, CSV or IDX in the formats the app's own
loaders (:mod:`dashboard.data.userdata`) read back.

Versions: ``version`` counts every change to the file (undo included), so a run
can say exactly which file state it trained on; ``state_id`` identifies the
*effect* on the data (labels and exclusions, not the "keep" marks), so two
states with the same effect share one cached label-issue search.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dashboard.data.dataset import Dataset
from dashboard.errors import DataError

FORMAT = 1
KINDS = ("relabel", "exclude", "keep")
# A corrections file holds at most one action per click; this bounds what we read.
MAX_FILE_BYTES = 64 * 1024 * 1024
SUBDIR = "corrections"
EXPORT_FORMATS = ("npz", "csv", "idx")


@dataclass(frozen=True)
class Action:
    """One reviewer decision about one sample.

    Parameters
    ----------
    index : int
        Row of the sample in the original split.
    old : int
        Its label in the original data.
    new : int or None
        The label it gets (``old`` for *keep*); None when it is excluded.
    kind : {"relabel", "exclude", "keep"}
    when : str
        UTC time, ISO 8601.
    batch : int
        Actions made by one click share a batch number; undo removes the last batch.
    """

    index: int
    old: int
    new: int | None
    kind: str
    when: str
    batch: int

    def to_dict(self) -> dict:
        return {"index": self.index, "old": self.old, "new": self.new, "kind": self.kind,
                "when": self.when, "batch": self.batch}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class Corrections:
    """The corrections of one split: what it was made for, and the log of actions.

    Immutable: every change returns a new object with ``version + 1``.

    Parameters
    ----------
    dataset, split : str
        Name and split of the data, for people.
    checksum : str
        :attr:`Dataset.checksum` of the original split.
    n_samples, n_classes : int
        Of the original split (bounds for indices and labels).
    version : int
        Number of changes made so far (0 = none).
    actions : tuple of Action
        The log, oldest first.
    """

    dataset: str
    split: str
    checksum: str
    n_samples: int
    n_classes: int
    version: int = 0
    actions: tuple[Action, ...] = field(default_factory=tuple)

    @classmethod
    def for_dataset(cls, ds: Dataset) -> Corrections:
        """Empty corrections for ``ds`` (an original split, not a corrected one)."""
        base = getattr(ds, "base_checksum", "") or ds.checksum
        if getattr(ds, "base_checksum", ""):
            raise DataError("corrections are made against the original data, not a corrected copy")
        return cls(dataset=ds.name, split=ds.split, checksum=base,
                   n_samples=len(ds), n_classes=ds.n_classes)

    # ------------------------------------------------------------ reading the state

    def state(self) -> dict[int, Action]:
        """The last action on every sample that has one."""
        out: dict[int, Action] = {}
        for a in self.actions:
            out[a.index] = a
        return out

    def relabelled(self) -> dict[int, int]:
        """``{index: new label}`` of samples whose label changes."""
        return {i: a.new for i, a in self.state().items() if a.kind == "relabel" and a.new != a.old}

    def excluded(self) -> list[int]:
        """Sorted indices of excluded samples."""
        return sorted(i for i, a in self.state().items() if a.kind == "exclude")

    def kept(self) -> list[int]:
        """Sorted indices confirmed correct (or relabelled back to their own label)."""
        return sorted(i for i, a in self.state().items()
                      if a.kind == "keep" or (a.kind == "relabel" and a.new == a.old))

    def reviewed(self) -> set[int]:
        """Indices with any decision."""
        return set(self.state())

    @property
    def state_id(self) -> str:
        """Identifies the effect on the data (relabels and exclusions); ``""`` when there is none."""
        relabel, excluded = self.relabelled(), self.excluded()
        if not relabel and not excluded:
            return ""
        blob = json.dumps({"checksum": self.checksum, "relabel": sorted(relabel.items()),
                           "exclude": excluded})
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def summary(self) -> str:
        """One line for people."""
        return (f"version {self.version}: {len(self.relabelled())} relabelled, "
                f"{len(self.excluded())} excluded, {len(self.kept())} kept")

    # ------------------------------------------------------------ changing it

    def _check_indices(self, indices: Iterable[int]) -> list[int]:
        out = []
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= int(i) < self.n_samples:
                raise DataError(f"sample index {i!r} is outside 0..{self.n_samples - 1}")
            out.append(int(i))
        if not out:
            raise DataError("no samples chosen")
        return out

    def _with(self, kind: str, indices: Iterable[int], labels: np.ndarray, new: int | None) -> Corrections:
        idx = self._check_indices(indices)
        labels = np.asarray(labels)
        if labels.shape != (self.n_samples,):
            raise DataError(f"the labels hold {labels.shape[0]} samples but the corrections "
                            f"were made for {self.n_samples}")
        batch = (self.actions[-1].batch + 1) if self.actions else 1
        when = _now()
        added = []
        for i in idx:
            old = int(labels[i])
            target = old if kind == "keep" else new
            added.append(Action(index=i, old=old, new=target, kind=kind, when=when, batch=batch))
        return replace(self, version=self.version + 1, actions=self.actions + tuple(added))

    def relabel(self, indices: Iterable[int], new: int | None, labels: np.ndarray) -> Corrections:
        """Give ``indices`` the label ``new``.

        Parameters
        ----------
        indices : iterable of int
            Rows of the original split.
        new : int
            The new class, ``0 <= new < n_classes``.
        labels : ndarray of int, shape (n_samples,)
            The original labels (recorded as ``old``).
        """
        if new is None or isinstance(new, bool) or not isinstance(new, (int, np.integer)) \
                or not 0 <= int(new) < self.n_classes:
            raise DataError(f"new label {new!r} is outside 0..{self.n_classes - 1}")
        return self._with("relabel", indices, labels, int(new))

    def relabel_each(self, pairs: Sequence[tuple[int, int]], labels: np.ndarray) -> Corrections:
        """Relabel several samples to their own new labels, as one batch (e.g. each to its suggestion)."""
        if not pairs:
            raise DataError("no samples chosen")
        out = self
        for i, new in pairs:
            out = out.relabel([i], new, labels)
        # One batch, one version step: the user clicked once.
        batch = (self.actions[-1].batch + 1) if self.actions else 1
        added = tuple(replace(a, batch=batch) for a in out.actions[len(self.actions):])
        return replace(self, version=self.version + 1, actions=self.actions + added)

    def exclude(self, indices: Iterable[int], labels: np.ndarray) -> Corrections:
        """Drop ``indices`` from the corrected set."""
        return self._with("exclude", indices, labels, None)

    def keep(self, indices: Iterable[int], labels: np.ndarray) -> Corrections:
        """Mark ``indices`` as checked and correct."""
        return self._with("keep", indices, labels, None)

    def undo(self) -> Corrections:
        """Remove the last batch of actions (a new version; the log keeps no trace of it)."""
        if not self.actions:
            raise DataError("nothing to undo")
        last = self.actions[-1].batch
        kept = tuple(a for a in self.actions if a.batch != last)
        return replace(self, version=self.version + 1, actions=kept)

    # ------------------------------------------------------------ file form

    def _body(self) -> dict:
        return {"format": FORMAT, "dataset": self.dataset, "split": self.split,
                "checksum": self.checksum, "n_samples": self.n_samples, "n_classes": self.n_classes,
                "version": self.version, "actions": [a.to_dict() for a in self.actions]}

    def to_json(self) -> str:
        """The file's text: the content plus a digest of it (see :func:`_digest`)."""
        body = self._body()
        return json.dumps({**body, "digest": _digest(body)}, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes, what: str = "corrections file") -> Corrections:
        """Parse and check a corrections file; a hand-edited or malformed one raises :class:`DataError`."""
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{what} is not valid JSON ({exc}); refusing it") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise DataError(f"{what} is not a corrections file this app writes (format {FORMAT})")
        digest = doc.pop("digest", None)
        if digest != _digest(doc):
            raise DataError(f"{what} was changed outside the app (its digest does not match its "
                            f"content); refusing it. Move it away to start the corrections afresh.")
        try:
            n, k = int(doc["n_samples"]), int(doc["n_classes"])
            actions = []
            for a in doc["actions"]:
                act = Action(index=int(a["index"]), old=int(a["old"]),
                             new=None if a["new"] is None else int(a["new"]), kind=str(a["kind"]),
                             when=str(a["when"]), batch=int(a["batch"]))
                if act.kind not in KINDS or not 0 <= act.index < n or not 0 <= act.old < k \
                        or (act.new is not None and not 0 <= act.new < k) \
                        or ((act.new is None) != (act.kind == "exclude")):
                    raise ValueError(f"bad action {a}")
                actions.append(act)
            return cls(dataset=str(doc["dataset"]), split=str(doc["split"]), checksum=str(doc["checksum"]),
                       n_samples=n, n_classes=k, version=int(doc["version"]), actions=tuple(actions))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{what} is malformed ({exc}); refusing it") from None

    def check_against(self, ds: Dataset, what: str = "corrections file") -> None:
        """Refuse (:class:`DataError`) corrections made for other data than ``ds``."""
        if self.checksum != ds.checksum or self.n_samples != len(ds) or self.n_classes != ds.n_classes:
            raise DataError(
                f"{what} was made for other data ({self.dataset} {self.split}, checksum "
                f"{self.checksum[:12]}…) than {ds.name} {ds.split} (checksum {ds.checksum[:12]}…); "
                f"refusing it. Move it away to start the corrections afresh."
            )
        labels = ds.labels
        for a in self.actions:
            if int(labels[a.index]) != a.old:
                raise DataError(f"{what} says sample {a.index} had label {a.old}, but the data says "
                                f"{int(labels[a.index])}; refusing it")


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- files

def corrections_dir() -> Path:
    """``<data cache>/corrections``: beside the downloaded data, never inside a read-only data folder."""
    from dashboard.data.loading import cache_dir

    return cache_dir() / SUBDIR


def corrections_path(ds: Dataset, root: Path | None = None) -> Path:
    """Where the corrections of ``ds`` live: ``<root>/<name>-<split>.json``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{ds.name}-{ds.split}")
    return (root or corrections_dir()) / f"{safe}.json"


def load_corrections(ds: Dataset, path: Path | None = None, root: Path | None = None) -> Corrections | None:
    """The corrections of ``ds``, checked against it; None when there is no file.

    Raises
    ------
    DataError
        The file is unreadable, too large, edited by hand, or made for other data.
    """
    path = path or corrections_path(ds, root)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path} is {size / 1e6:.0f} MB, too large for a corrections file; refusing it")
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    corr = Corrections.from_json(text, what=str(path))
    corr.check_against(ds, what=str(path))
    return corr


def save_corrections(corr: Corrections, path: Path) -> None:
    """Write ``corr`` to ``path`` atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(corr.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise DataError(f"cannot save the corrections to {path}: {exc.strerror or exc}") from None


_LOCK = threading.Lock()


def change(ds: Dataset, edit, path: Path | None = None, root: Path | None = None) -> Corrections:
    """Load the current file, apply ``edit(corrections) -> corrections``, save, return the result.

    Re-reading under a lock means two sessions of one server never overwrite each other's actions.
    """
    path = path or corrections_path(ds, root)
    with _LOCK:
        current = load_corrections(ds, path) or Corrections.for_dataset(ds)
        new = edit(current)
        save_corrections(new, path)
        return new


# ---------------------------------------------------------------- dataset + corrections

@dataclass(frozen=True, eq=False)
class CorrectedDataset(Dataset):
    """A dataset with corrections applied: a :class:`Dataset` plus where it came from.

    Parameters
    ----------
    base_checksum : str
        Checksum of the original split.
    corrections_version : int
        :attr:`Corrections.version` applied.
    corrections_id : str
        :attr:`Corrections.state_id` applied.
    original_indices : ndarray of int64
        Row of the original split each sample comes from (excluded rows are absent).
    """

    base_checksum: str = ""
    corrections_version: int = 0
    corrections_id: str = ""
    original_indices: np.ndarray | None = None

    def describe(self) -> str:
        return super().describe() + f" + corrections v{self.corrections_version}"


def apply_corrections(ds: Dataset, corr: Corrections) -> CorrectedDataset:
    """"Dataset + corrections": relabelled labels, excluded samples dropped; ``ds`` is unchanged.

    Parameters
    ----------
    ds : Dataset
        The original split the corrections were made for.
    corr : Corrections

    Returns
    -------
    CorrectedDataset
    """
    corr.check_against(ds)
    labels = np.array(ds.labels, dtype=np.int64)
    for i, new in corr.relabelled().items():
        labels[i] = new
    keep = np.ones(len(ds), dtype=bool)
    keep[corr.excluded()] = False
    if not keep.any():
        raise DataError("every sample is excluded; nothing is left to use")
    rows = np.flatnonzero(keep)
    images = ds.images if keep.all() else ds.images[rows]
    return CorrectedDataset(
        images=images, labels=labels[rows], class_names=ds.class_names, name=ds.name,
        split=ds.split, source=f"{ds.source} + corrections v{corr.version}",
        base_checksum=ds.checksum, corrections_version=corr.version,
        corrections_id=corr.state_id, original_indices=rows.astype(np.int64),
    )


def corrections_record(ds: Dataset) -> dict | None:
    """What a run records about the corrections its data carried (None for uncorrected data)."""
    if not getattr(ds, "base_checksum", ""):
        return None
    return {"version": int(ds.corrections_version), "state_id": ds.corrections_id,
            "base_checksum": ds.base_checksum, "n_samples": len(ds)}


# ---------------------------------------------------------------- export

def _csv_bytes(ds: Dataset) -> bytes:
    # A lookup table of the 256 pixel strings keeps this a join per row, not a format per value.
    table = np.array([str(v) for v in range(256)], dtype=object)
    out = io.StringIO()
    out.write("label," + ",".join(f"pixel{i}" for i in range(ds.n_features)) + "\n")
    flat = ds.flat()
    for label, row in zip(ds.labels.tolist(), flat):
        out.write(f"{label}," + ",".join(table[row]) + "\n")
    return out.getvalue().encode()


def export_dataset(ds: Dataset, fmt: str) -> list[tuple[str, bytes]]:
    """A dataset as files the app's loaders read back (:func:`dashboard.data.userdata.read_files`).

    Parameters
    ----------
    ds : Dataset
        Any dataset, typically a :class:`CorrectedDataset`.
    fmt : {"npz", "csv", "idx"}
        NPZ keeps the class names (``images``, ``labels``, ``class_names``); CSV is
        ``label,pixel0..`` with a header; IDX is an image file and a label file (gzip).

    Returns
    -------
    list of (file name, bytes)
    """
    from dashboard.data.idx import write_idx

    stem = f"{ds.name}-{ds.split}" + (f"-corrected-v{ds.corrections_version}"
                                      if getattr(ds, "base_checksum", "") else "")
    labels = np.asarray(ds.labels)
    if fmt == "npz":
        buf = io.BytesIO()
        np.savez_compressed(buf, images=np.asarray(ds.images), labels=labels.astype(np.int64),
                            class_names=np.array(ds.class_names, dtype=str))
        return [(f"{stem}.npz", buf.getvalue())]
    if fmt == "csv":
        return [(f"{stem}.csv", _csv_bytes(ds))]
    if fmt == "idx":
        if ds.n_classes > 256:
            raise DataError("IDX label files hold one byte per label: at most 256 classes")
        return [
            (f"{stem}-images-idx3-ubyte.gz", write_idx(np.ascontiguousarray(ds.images), compress=True)),
            (f"{stem}-labels-idx1-ubyte.gz", write_idx(labels.astype(np.uint8), compress=True)),
        ]
    raise DataError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
