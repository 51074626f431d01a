"""Keeping training runs on disk: one folder per run under a root (``data/runs/`` by default).

A run folder holds::

    run.json         parameters, per-epoch history, final metrics, timing, dataset + checksum
    model.skops      the fitted MLPClassifier, saved with skops (never pickle)
    test.npz         test predictions and probabilities (for the mistake views)

A run is written into a hidden temporary folder in the same root and renamed
into place when complete, so a reader never sees half a run and a crash leaves
only a ``.tmp-*`` folder that listing ignores. A folder that cannot be read is
reported and skipped, never fatal.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.neural_network import MLPClassifier

from dashboard.errors import DashboardError, DataError
from dashboard.data.loading import cache_dir
from dashboard.lab.training import EpochReport, TestMetrics, TrainParams

ENV_RUNS_DIR = "DASHBOARD_RUNS_DIR"
RUN_FILE = "run.json"
MODEL_FILE = "model.skops"
TEST_FILE = "test.npz"
FORMAT_VERSION = 1
_TMP_PREFIX = ".tmp-"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# The only types a run's model file may contain; anything else is refused on load.
TRUSTED_TYPES = [
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.preprocessing._label.LabelBinarizer",
]


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


@dataclass(frozen=True)
class RunListing:
    """Result of :meth:`RunStore.list`: readable runs (newest first) and skipped folders."""

    runs: list[Run]
    problems: list[str] = field(default_factory=list)


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
            sio.dump(model, tmp / MODEL_FILE)
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
        if not self.root.is_dir():
            return RunListing(runs, problems)
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or not path.is_dir():
                continue  # temporary folders of runs being written (or crashed)
            try:
                runs.append(self.get(path.name))
            except DashboardError as exc:
                problems.append(f"skipped run folder {path.name}: {exc}")
        runs.sort(key=lambda r: (r.info.get("created", ""), r.run_id), reverse=True)
        return RunListing(runs, problems)

    def get(self, run_id: str) -> Run:
        """The record of one run (``run.json``), checked for the keys the app needs."""
        path = self._path(run_id)
        try:
            info = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"no {RUN_FILE}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{RUN_FILE} is unreadable ({exc})") from None
        if not isinstance(info, dict):
            raise DataError(f"{RUN_FILE} is not an object")
        missing = [k for k in ("params", "dataset", "history", "metrics", "class_names") if k not in info]
        if missing:
            raise DataError(f"{RUN_FILE} lacks {', '.join(missing)}")
        if not (path / MODEL_FILE).is_file():
            raise DataError(f"no {MODEL_FILE}")
        try:
            run = Run(run_id, info, path)
            run.params, run.history, run.test_accuracy  # noqa: B018 - parse now, fail here
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{RUN_FILE} is malformed ({exc})") from None
        return run

    def load_model(self, run_id: str) -> MLPClassifier:
        """The run's model, loaded with skops trusting only :data:`TRUSTED_TYPES`."""
        path = self._path(run_id) / MODEL_FILE
        try:
            model = sio.load(path, trusted=TRUSTED_TYPES)
        except FileNotFoundError:
            raise DataError(f"run {run_id} has no {MODEL_FILE}") from None
        except Exception as exc:  # skops raises many types on bad or untrusted files
            raise DataError(f"run {run_id}: the model cannot be loaded ({type(exc).__name__}: {exc})") from None
        if not isinstance(model, MLPClassifier):
            raise DataError(f"run {run_id}: {MODEL_FILE} is not an MLPClassifier")
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
            raise DataError(f"no run {run_id}")
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
