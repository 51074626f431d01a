"""Keeping training runs on disk: one folder per run under a root (``data/runs/`` by default).

A run folder holds::

    run.json         parameters, per-epoch history, final metrics, timing, dataset + checksum
    model.skops      the fitted MLPClassifier, saved with skops (never pickle)
    test.npz         test predictions and probabilities (for the mistake views)

A run is written into a hidden temporary folder in the same root and renamed
into place when complete, so a reader never sees half a run and a crash leaves
only a ``.tmp-*`` folder that listing ignores.

``run.json`` is checked on load against one schema (:data:`SCHEMA`, a table of
field -> check): a folder that fails is listed as broken, with the reason, and
can be deleted; it never stops the other runs from loading.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier

from dashboard.data.loading import cache_dir
from dashboard.errors import DashboardError, DataError
from dashboard.lab.training import EpochReport, TestMetrics, TrainParams

ENV_RUNS_DIR = "DASHBOARD_RUNS_DIR"
RUN_FILE = "run.json"
MODEL_FILE = "model.skops"


def _skops():
    """``skops.io``, imported on first use: it imports all of scikit-learn (~0.9 s), which a
    sweep's worker process, importing this module only to train, would pay at every start."""
    import skops.io

    return skops.io
TEST_FILE = "test.npz"
FORMAT_VERSION = 1
_TMP_PREFIX = ".tmp-"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

MODEL_TYPES = (MLPClassifier, SGDClassifier)  # what the lab trains (dashboard.lab.models)

# The only types a run's model file may contain; anything else is refused on load.
TRUSTED_TYPES = [
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",  # the linear baseline
    "sklearn.preprocessing._label.LabelBinarizer",
]


# --- the run.json schema ------------------------------------------------------------
# Each check takes the field's value (and the whole record, for fields that must agree
# with others) and returns None when it is fine, else a short reason. Checks run in the
# table's order, so later ones may rely on earlier fields being sound.

Check = Callable[[object, dict], "str | None"]


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _matrix(v: object, k: int, what: str) -> str | None:
    if not (isinstance(v, list) and len(v) == k and all(isinstance(r, list) and len(r) == k for r in v)):
        return f"{what} is not a {k}x{k} table"
    if not all(_is_count(c) for r in v for c in r):
        return f"{what} holds something other than whole counts"
    return None


def _check_str(v: object, info: dict) -> str | None:
    return None if isinstance(v, str) and v else "is not a non-empty text"


def _check_class_names(v: object, info: dict) -> str | None:
    if not (isinstance(v, list) and v and all(isinstance(c, str) for c in v)):
        return "is not a non-empty list of texts"
    return None


def _check_image_shape(v: object, info: dict) -> str | None:
    if not (isinstance(v, list) and len(v) == 2 and all(_is_count(d) and d > 0 for d in v)):
        return "is not [height, width]"
    return None


def _check_params(v: object, info: dict) -> str | None:
    if not isinstance(v, dict):
        return "is not an object"
    try:
        TrainParams.from_dict(v).validate()
    except (DashboardError, TypeError, ValueError, KeyError) as exc:
        return f"is not valid ({exc})"
    return None


_EPOCH_NUMBERS = ("loss", "train_accuracy", "val_accuracy", "seconds", "elapsed")


def _check_history(v: object, info: dict) -> str | None:
    if not (isinstance(v, list) and v):
        return "is not a non-empty list of epochs"
    k = len(info["class_names"])
    for n, h in enumerate(v, start=1):
        if not isinstance(h, dict):
            return f"entry {n} is not an epoch record"
        if h.get("epoch") != n or not _is_count(h.get("epochs")):
            return f"entry {n} does not number its epoch {n}"
        bad = [f for f in _EPOCH_NUMBERS if not _is_num(h.get(f))]
        if bad:
            return f"entry {n}: {bad[0]} is not a number"
        problem = _matrix(h.get("val_confusion"), k, f"entry {n}'s validation confusion matrix")
        if problem:
            return problem
        try:
            EpochReport.from_dict(h)
        except (TypeError, ValueError) as exc:
            return f"entry {n} is not an epoch record ({exc})"
    return None


def _check_metrics(v: object, info: dict) -> str | None:
    if not isinstance(v, dict):
        return "is not an object"
    acc = v.get("test_accuracy")
    if not (_is_num(acc) and 0 <= acc <= 1):
        return "test_accuracy is not a number from 0 to 1"
    k = len(info["class_names"])
    problem = _matrix(v.get("test_confusion"), k, "the test confusion matrix")
    if problem:
        return problem
    for name in ("precision", "recall", "f1", "support"):
        values = v.get(name)
        if not (isinstance(values, list) and len(values) == k and all(_is_num(x) for x in values)):
            return f"{name} is not a list of {k} numbers"
    return None


def _check_kept_epoch(v: object, info: dict) -> str | None:
    if v is None:
        return None
    if not (_is_count(v) and 1 <= v <= len(info["history"])):
        return f"is not an epoch from 1 to {len(info['history'])}"
    return None


def _check_created(v: object, info: dict) -> str | None:
    if not isinstance(v, str):
        return "is not an ISO date text"
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return "is not an ISO date"
    return None


def _check_timing(v: object, info: dict) -> str | None:
    if not (isinstance(v, dict) and all(isinstance(k, str) and _is_num(x) for k, x in v.items())):
        return "is not an object of seconds"
    return None


def _check_status(v: object, info: dict) -> str | None:
    return None if isinstance(v, str) else "is not a text"


def _check_corrections(v: object, info: dict) -> str | None:
    if not isinstance(v, dict):
        return "is not an object"
    if not _is_count(v.get("version")):
        return "has no version number"
    if not all(isinstance(v.get(k), str) for k in ("state_id", "base_checksum")):
        return "lacks its state_id or base_checksum"
    return None


# field -> (required, check). Optional fields may be absent (older runs), never wrong.
SCHEMA: dict[str, tuple[bool, Check]] = {
    "dataset": (True, _check_str),
    "class_names": (True, _check_class_names),
    "params": (True, _check_params),
    "history": (True, _check_history),
    "metrics": (True, _check_metrics),
    "kept_epoch": (False, _check_kept_epoch),
    "created": (False, _check_created),
    "dataset_checksum": (False, _check_str),
    "image_shape": (False, _check_image_shape),
    "timing": (False, _check_timing),
    "status": (False, _check_status),
    "corrections": (False, _check_corrections),
    "test_corrections": (False, _check_corrections),
}


def schema_problem(info: object) -> str | None:
    """Why a parsed ``run.json`` does not fit :data:`SCHEMA`, or None if it does.

    Parameters
    ----------
    info : object
        The parsed JSON.

    Returns
    -------
    str or None
        E.g. ``"kept_epoch is not an epoch from 1 to 3"``.
    """
    if not isinstance(info, dict):
        return f"{RUN_FILE} is not an object"
    missing = [k for k, (required, _) in SCHEMA.items() if required and k not in info]
    if missing:
        return f"{RUN_FILE} lacks {', '.join(missing)}"
    for key, (_, check) in SCHEMA.items():
        if key in info:
            try:
                problem = check(info[key], info)
            except Exception as exc:  # a check must never be what breaks the page
                problem = f"cannot be checked ({type(exc).__name__})"
            if problem:
                return f"{key} {problem}"
    return None


def default_runs_dir() -> Path:
    """``$DASHBOARD_RUNS_DIR`` if set, else ``runs/`` in the data cache (the project's ``data/``)."""
    env = os.environ.get(ENV_RUNS_DIR)
    return Path(env) if env else cache_dir() / "runs"


@dataclass(frozen=True)
class Run:
    """A saved run's record (everything but the model).

    Attributes
    ----------
    run_id : str
        Folder name.
    info : dict
        The parsed ``run.json``: keys ``params``, ``dataset``,
        ``dataset_checksum``, ``class_names``, ``image_shape``, ``history``,
        ``kept_epoch`` (absent in runs saved before it existed: the last
        epoch), ``metrics``, ``timing``, ``created``, ``status``, ...
    path : Path
        The run folder.
    """

    run_id: str
    info: dict
    path: Path

    @property
    def params(self) -> TrainParams:
        return TrainParams.from_dict(self.info["params"])

    @property
    def history(self) -> list[EpochReport]:
        return [EpochReport.from_dict(h) for h in self.info["history"]]

    @property
    def kept_epoch(self) -> int:
        """Epoch whose weights the saved model holds (the last one for older runs)."""
        return int(self.info.get("kept_epoch") or len(self.info["history"]))

    @property
    def dataset(self) -> str:
        return str(self.info["dataset"])

    @property
    def test_accuracy(self) -> float:
        return float(self.info["metrics"]["test_accuracy"])

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.info["class_names"])

    @property
    def created_at(self) -> datetime | None:
        """When the run was saved (None if its record does not say)."""
        created = self.info.get("created")
        if not isinstance(created, str):
            return None
        try:
            when = datetime.fromisoformat(created)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    @property
    def name(self) -> str:
        """A readable name: dataset, hidden layers, test accuracy, e.g. ``"mnist · 256-128 · 98.1%"``."""
        return run_name(self.dataset, self.params.hidden, self.test_accuracy)


def run_name(dataset: str, hidden: tuple[int, ...], accuracy: float) -> str:
    """``"<dataset> · <layers> · <accuracy>%"``; a model without hidden layers reads "linear".

    Parameters
    ----------
    dataset : str
    hidden : tuple of int
    accuracy : float
        In [0, 1].

    Returns
    -------
    str
    """
    layers = "-".join(str(h) for h in hidden) if hidden else "linear"
    return f"{dataset} · {layers} · {accuracy:.1%}"


@dataclass(frozen=True)
class BrokenRun:
    """A run folder that cannot be used, and why (it can still be deleted)."""

    run_id: str
    reason: str
    path: Path


@dataclass(frozen=True)
class RunListing:
    """Result of :meth:`RunStore.list`: readable runs (newest first) and skipped folders."""

    runs: list[Run]
    problems: list[str] = field(default_factory=list)
    broken: list[BrokenRun] = field(default_factory=list)


class RunStore:
    """Save, list, load and delete runs under ``root``.

    Parameters
    ----------
    root : Path
        Folder holding one sub-folder per run; created on first save.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def new_id(self, dataset: str) -> str:
        """A fresh, sortable run id: ``YYYYmmdd-HHMMSS-<dataset>-<random>``."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9]+", "-", dataset).strip("-")[:40] or "data"
        return f"{stamp}-{safe}-{secrets.token_hex(3)}"

    def save(
        self,
        *,
        model: MLPClassifier,
        params: TrainParams,
        history: list[EpochReport],
        metrics: TestMetrics,
        dataset: str,
        dataset_checksum: str,
        class_names: tuple[str, ...],
        image_shape: tuple[int, int],
        timing: Mapping[str, float],
        status: str = "completed",
        run_id: str | None = None,
        kept_epoch: int | None = None,
        corrections: Mapping[str, object] | None = None,
        test_corrections: Mapping[str, object] | None = None,
    ) -> Run:
        """Write a run atomically and return its record.

        Parameters
        ----------
        model : MLPClassifier
            Without optimizer state (see :func:`dashboard.lab.training.strip_training_state`).
        params, history, metrics
            What the trainer and :func:`dashboard.lab.training.evaluate` produced.
        dataset, dataset_checksum : str
            Name and :attr:`Dataset.checksum` of the training split.
        corrections : mapping, optional
            :func:`dashboard.data.corrections.corrections_record` of the training
            split when it carries label corrections; recorded as ``corrections``.
        test_corrections : mapping, optional
            The same for the test split the metrics were computed on.
        class_names : tuple of str
        image_shape : (int, int)
            ``(h, w)`` of the inputs, to draw weights and prepare uploads.
        timing : mapping
            Seconds, e.g. ``{"train": ..., "test": ..., "total": ...}``.
        status : str
            ``"completed"`` or ``"stopped"`` (stopped early by the user).
        run_id : str, optional
            Defaults to :meth:`new_id`.
        kept_epoch : int, optional
            The epoch whose weights the saved model holds (1-based); defaults
            to the last epoch of ``history``.

        Returns
        -------
        Run
        """
        run_id = run_id or self.new_id(dataset)
        _check_id(run_id)
        final = self.root / run_id
        tmp = self.root / f"{_TMP_PREFIX}{run_id}-{secrets.token_hex(4)}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if final.exists():
                raise DataError(f"run {run_id} already exists")
            tmp.mkdir()
        except OSError as exc:
            raise _save_error(self.root, exc) from None
        try:
            info = {
                "format": FORMAT_VERSION,
                "run_id": run_id,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "status": status,
                "dataset": dataset,
                "dataset_checksum": dataset_checksum,
                "class_names": list(class_names),
                "image_shape": list(image_shape),
                "params": params.to_dict(),
                "history": [h.to_dict() for h in history],
                "kept_epoch": int(kept_epoch or len(history)),
                "metrics": metrics.summary(),
                "timing": {k: float(v) for k, v in timing.items()},
            }
            if corrections:  # trained on "dataset + corrections" (dashboard.data.corrections)
                info["corrections"] = dict(corrections)
            if test_corrections:  # scored on a corrected test split: another "test accuracy"
                info["test_corrections"] = dict(test_corrections)
            _skops().dump(model, tmp / MODEL_FILE)
            np.savez(tmp / TEST_FILE, predictions=metrics.predictions, probabilities=metrics.probabilities)
            _write_json(tmp / RUN_FILE, info)
            _fsync_dir(tmp)
            # The rename is the commit point: before it no reader sees the run.
            os.rename(tmp, final)
            _fsync_dir(self.root)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):  # disk full, read-only, file too large...
                raise _save_error(self.root, exc) from None
            raise
        return Run(run_id, info, final)

    def list(self) -> RunListing:
        """All readable runs, newest first, and a message for each folder skipped."""
        runs: list[Run] = []
        problems: list[str] = []
        broken: list[BrokenRun] = []
        if not self.root.is_dir():
            return RunListing(runs, problems, broken)
        try:
            entries = sorted(self.root.iterdir())
        except OSError as exc:
            return RunListing(runs, [f"cannot read {self.root}: {exc.strerror or exc}"], broken)
        for path in entries:
            if path.name.startswith(".") or not path.is_dir():
                continue  # temporary folders of runs being written (or crashed)
            try:
                runs.append(self.get(path.name))
            except DashboardError as exc:
                problems.append(f"skipped run folder {path.name}: {exc}")
                if _ID_RE.match(path.name) and ".." not in path.name:
                    broken.append(BrokenRun(path.name, str(exc), path))
            except Exception as exc:  # noqa: BLE001 - one folder must never break the listing
                problems.append(f"skipped run folder {path.name}: {type(exc).__name__}: {exc}")
                if _ID_RE.match(path.name) and ".." not in path.name:
                    broken.append(BrokenRun(path.name, f"{type(exc).__name__}: {exc}", path))
        epoch = datetime.fromtimestamp(0, timezone.utc)
        runs.sort(key=lambda r: (r.created_at or epoch, r.run_id), reverse=True)
        return RunListing(runs, problems, broken)

    def get(self, run_id: str) -> Run:
        """The record of one run (``run.json``), checked for the keys the app needs."""
        path = self._path(run_id)
        try:
            info = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"no {RUN_FILE}") from None
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise DataError(f"{RUN_FILE} is unreadable ({type(exc).__name__}: {exc})") from None
        problem = schema_problem(info)
        if problem:
            raise DataError(problem)
        if not (path / MODEL_FILE).is_file():
            raise DataError(f"no {MODEL_FILE}")
        return Run(run_id, info, path)

    def load_model(self, run_id: str) -> MLPClassifier | SGDClassifier:
        """The run's model, loaded with skops trusting only :data:`TRUSTED_TYPES`."""
        path = self._path(run_id) / MODEL_FILE
        try:
            model = _skops().load(path, trusted=TRUSTED_TYPES)
        except FileNotFoundError:
            raise DataError(f"run {run_id} has no {MODEL_FILE}") from None
        except Exception as exc:  # skops raises many types on bad or untrusted files
            raise DataError(f"run {run_id}: the model cannot be loaded ({type(exc).__name__}: {exc})") from None
        if not isinstance(model, MODEL_TYPES):
            raise DataError(f"run {run_id}: {MODEL_FILE} is not a model this app trains")
        return model

    def load_test_outputs(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Saved test ``(predictions, probabilities)`` of a run."""
        path = self._path(run_id) / TEST_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                return data["predictions"], data["probabilities"]
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"run {run_id}: {TEST_FILE} cannot be read ({exc})") from None

    def delete(self, run_id: str) -> None:
        """Remove a run: renamed aside first, so a half-deleted run is never listed."""
        path = self._path(run_id)
        if not path.is_dir():
            raise DataError(f"no run {run_id} (deleted already?)")
        trash = self.root / f"{_TMP_PREFIX}deleted-{run_id}-{secrets.token_hex(4)}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def clean_stale(self, older_than_seconds: float = 86400.0) -> int:
        """Remove temporary folders left by crashed writers; returns how many."""
        removed = 0
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        for path in self.root.iterdir():
            if path.name.startswith(_TMP_PREFIX) and path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    def _path(self, run_id: str) -> Path:
        _check_id(run_id)
        return self.root / run_id


def _save_error(root: Path, exc: OSError) -> DataError:
    """The message for a run that could not be written (nothing of it is left behind)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
              errno.EROFS: "the folder is read-only", errno.EACCES: "no permission to write there",
              errno.EPERM: "no permission to write there", errno.EFBIG: "a file grew beyond the size limit",
              }.get(exc.errno, exc.strerror or str(exc))
    return DataError(f"the run could not be saved in {root}: {reason}. Free some space or set "
                     f"{ENV_RUNS_DIR} to a writable folder; the results below are not kept.")


def _check_id(run_id: str) -> None:
    # Ids become folder names: no separators, no leading dot, no "..".
    if not _ID_RE.match(run_id) or ".." in run_id:
        raise DataError(f"invalid run id {run_id!r}")


def _write_json(path: Path, value: object) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
