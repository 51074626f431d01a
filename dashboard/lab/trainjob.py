"""Training one run: the ``train`` job kind (in a worker process) and an in-process job.

Pure Python: no Streamlit. :func:`run` is the job kind registered in
:mod:`dashboard.lab.jobkinds`: it opens the shared (memory-mapped) splits,
trains epoch by epoch writing progress after each epoch, evaluates on the test
split once and saves the run with :class:`~dashboard.lab.runs.RunStore`.
:class:`TrainingJob` runs the same in a thread of the calling process (the CLI
and tests use it).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError
from dashboard.lab.runs import Run, RunStore
from dashboard.lab.shared import open_splits
from dashboard.lab.training import EpochReport, TestMetrics, Trainer, TrainParams, evaluate

PENDING, RUNNING, STOPPING, EVALUATING, DONE, FAILED = (
    "pending",
    "running",
    "stopping",
    "evaluating",
    "done",
    "failed",
)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent picture of a job at one moment.

    Attributes
    ----------
    state : str
        ``pending``, ``running``, ``stopping``, ``evaluating``, ``done`` or ``failed``.
    epoch, epochs : int
        Finished and planned epochs.
    history : tuple of EpochReport
        One entry per finished epoch.
    elapsed : float
        Seconds since the job started.
    eta : float or None
        Seconds left, from the mean epoch time so far.
    stopped_early : bool
        Whether the user stopped it before the last epoch.
    error : str or None
        The message if the job failed.
    run : Run or None
        The saved run once done (if the job had a store).
    save_error : str or None
        Why the run could not be saved (disk full, read-only...); the job is
        still done and its metrics are kept.
    metrics : TestMetrics or None
        Test metrics once done.
    kept_epoch : int
        Once training has ended, the epoch whose weights the model holds (the
        best-validation one with ``keep_best``, else the last; the last with
        ``average_last``); 0 before.
    averaged_epochs : int
        Once training has ended with ``average_last``, how many epochs' weights
        the model averages; 0 otherwise.
    """

    state: str
    epoch: int
    epochs: int
    history: tuple[EpochReport, ...]
    elapsed: float
    eta: float | None
    stopped_early: bool = False
    error: str | None = None
    run: Run | None = None
    metrics: TestMetrics | None = field(default=None, repr=False)
    save_error: str | None = None
    kept_epoch: int = 0
    averaged_epochs: int = 0

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)


class TrainingJob:
    """Train, evaluate on the test split once, and save, in a daemon thread.

    Parameters
    ----------
    params : TrainParams
    train, test : Dataset
        The two splits of one dataset; shared, never modified.
    store : RunStore, optional
        Where to save the run when training ends; ``None`` to keep it in memory only.

    Attributes
    ----------
    params : TrainParams
        The validated parameters.
    train, test : Dataset
        The splits given.
    """

    def __init__(self, params: TrainParams, train: Dataset, test: Dataset, store: RunStore | None = None,
                 stop: threading.Event | None = None, corrections: dict | None = None,
                 test_corrections: dict | None = None) -> None:
        if train.shape != test.shape or train.class_names != test.class_names:
            raise DashboardError("the train and test splits do not belong to the same dataset")
        # Validate now, in the caller's thread, so bad parameters never start a thread.
        self.trainer = Trainer(params, train)
        self.params = self.trainer.params
        self.train, self.test = train, test
        self._store = store
        self._corrections = corrections  # label corrections the training data carries (issue 12)
        self._test_corrections = test_corrections  # ... and the test split: they change what test accuracy means
        # Anything with set() / is_set(): a thread's event, or a job's stop file (see _StopFlag).
        self._stop = stop if stop is not None else threading.Event()
        self._lock = threading.Lock()
        self._state = PENDING
        self._history: list[EpochReport] = []
        self._error: str | None = None
        self._run: Run | None = None
        self._save_error: str | None = None
        self._metrics: TestMetrics | None = None
        self._started_at: float | None = None
        self._finished_at: float | None = None
        self._thread = threading.Thread(target=self._work, args=(None,), name="training-job", daemon=True)

    def start(self) -> TrainingJob:
        """Start the thread (once); returns ``self``."""
        with self._lock:
            if self._state != PENDING:
                raise DashboardError("this job has already been started")
            self._state = RUNNING
            self._started_at = time.perf_counter()
        self._thread.start()
        return self

    def run(self, on_epoch: Callable[[EpochReport], None] | None = None) -> JobSnapshot:
        """Run the job in the calling thread (the CLI's way) and return the final snapshot.

        Parameters
        ----------
        on_epoch : callable, optional
            Called with each :class:`EpochReport` as it arrives.
        """
        with self._lock:
            if self._state != PENDING:
                raise DashboardError("this job has already been started")
            self._state = RUNNING
            self._started_at = time.perf_counter()
        self._work(on_epoch)
        return self.snapshot()

    def stop(self) -> None:
        """Ask training to end after the current epoch; the model is kept and saved."""
        self._stop.set()
        with self._lock:
            if self._state == RUNNING:
                self._state = STOPPING

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; returns whether it has finished."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def model(self):
        """The model being trained (usable for prediction after the first epoch)."""
        return self.trainer.model

    def snapshot(self) -> JobSnapshot:
        """The job's state now; cheap, safe to call from any thread."""
        with self._lock:
            history = tuple(self._history)
            now = self._finished_at or time.perf_counter()
            elapsed = 0.0 if self._started_at is None else now - self._started_at
            epochs = self.params.epochs
            eta = None
            if self._state in (RUNNING, STOPPING) and history:
                per_epoch = history[-1].elapsed / len(history)
                left = 0 if self._state == STOPPING else epochs - len(history)
                eta = max(0.0, left * per_epoch - (elapsed - history[-1].elapsed))
            return JobSnapshot(
                state=self._state,
                epoch=len(history),
                epochs=epochs,
                history=history,
                elapsed=elapsed,
                eta=eta,
                stopped_early=self.trainer.stopped,
                error=self._error,
                run=self._run,
                metrics=self._metrics,
                save_error=self._save_error,
                # Set by the trainer before the job leaves RUNNING/STOPPING.
                kept_epoch=self.trainer.kept_epoch,
                averaged_epochs=self.trainer.averaged_epochs,
            )

    def _work(self, on_epoch: Callable[[EpochReport], None] | None) -> None:
        t0 = time.perf_counter()
        try:
            for report in self.trainer.run(self._stop):
                with self._lock:
                    self._history.append(report)
                if on_epoch is not None:
                    on_epoch(report)
            if not self._history:
                raise DashboardError("stopped before the first epoch finished: no model to keep")
            train_seconds = time.perf_counter() - t0
            with self._lock:
                self._state = EVALUATING
            model = self.trainer.final_model()
            metrics = evaluate(model, self.test)
            run = None
            if self._store is not None:
                try:
                    run = self._save(model, metrics, train_seconds, t0)
                except DashboardError as exc:
                    # The model and metrics are good: show them, and say why they are not kept.
                    with self._lock:
                        self._save_error = str(exc)
            with self._lock:
                self._metrics, self._run, self._state = metrics, run, DONE
        except DashboardError as exc:
            with self._lock:
                self._error, self._state = str(exc), FAILED
        except Exception as exc:  # a bug: keep the thread's death visible to the page
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
                self._state = FAILED
        finally:
            with self._lock:
                self._finished_at = time.perf_counter()

    def _save(self, model, metrics: TestMetrics, train_seconds: float, t0: float) -> Run:
        """Write the finished run to the store (raises DashboardError if it cannot)."""
        return self._store.save(
            model=model,
            params=self.params,
            history=list(self._history),
            metrics=metrics,
            dataset=self.trainer.dataset_name,
            dataset_checksum=self.trainer.dataset_checksum,
            class_names=self.trainer.class_names,
            image_shape=self.trainer.image_shape,
            timing={"train": train_seconds, "test": metrics.seconds, "total": time.perf_counter() - t0},
            status="stopped" if self.trainer.stopped else "completed",
            kept_epoch=self.trainer.kept_epoch,
            corrections=self._corrections,
            test_corrections=self._test_corrections,
        )


class _StopFlag:
    """Adapts :meth:`Progress.should_stop` to the ``is_set()`` the trainer checks between epochs."""

    def __init__(self, progress) -> None:
        self._progress = progress

    def is_set(self) -> bool:
        return bool(self._progress.should_stop())

    def set(self) -> None:
        pass  # the stop file, written by JobQueue.stop, is the only switch


def progress_payload(history: list[EpochReport], epochs: int, phase: str, extra: dict | None = None) -> dict:
    """The JSON progress a training job writes: every finished epoch (curves, validation confusion)."""
    import time as _time

    out = {"phase": phase, "epochs": int(epochs), "history": [h.to_dict() for h in history],
           "updated_at": _time.time()}
    out.update(extra or {})
    return out


def run(params: dict, progress) -> dict:
    """The ``train`` job kind: train, evaluate once, save the run.

    Parameters
    ----------
    params : dict
        ``{"train": TrainParams.to_dict(), "data": share_splits(...) reference,
        "runs_dir": str}``.
    progress : Progress
        Written after every epoch with :func:`progress_payload`.

    Returns
    -------
    dict
        ``run_id`` (None if it could not be saved), ``save_error``, ``test_accuracy``,
        ``epochs_run``, ``kept_epoch``, ``averaged_epochs``, ``stopped``, ``timing``.
    """
    train_params = TrainParams.from_dict(params["train"])
    train, test = open_splits(params["data"])
    job = TrainingJob(train_params, train, test, RunStore(params["runs_dir"]), stop=_StopFlag(progress),
                      corrections=params.get("corrections"), test_corrections=params.get("test_corrections"))
    epochs = job.params.epochs
    progress.update(0.0, "preparing the data", progress_payload([], epochs, "preparing"))

    def on_epoch(report: EpochReport) -> None:
        snap = job.snapshot()
        progress.update(report.epoch / epochs * 0.98, f"epoch {report.epoch} of {epochs}",
                        progress_payload(list(snap.history), epochs, "training",
                                         {"elapsed": report.elapsed}))

    snap = job.run(on_epoch=on_epoch)
    if snap.state != DONE:
        raise DashboardError(snap.error or "training failed")
    progress.update(1.0, "done", progress_payload(list(snap.history), epochs, "done",
                                                  {"elapsed": snap.elapsed}))
    return {
        "run_id": snap.run.run_id if snap.run is not None else None,
        "save_error": snap.save_error,
        "test_accuracy": snap.metrics.accuracy,
        "epochs_run": snap.epoch,
        "kept_epoch": snap.kept_epoch,
        "averaged_epochs": snap.averaged_epochs,
        "stopped": snap.stopped_early,
        "seconds": snap.elapsed,
    }
