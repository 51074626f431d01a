"""Heavy work as jobs: run in worker processes, kept on disk, visible to every session.

Pure Python: no Streamlit. A :class:`JobQueue` keeps one folder per job under
its root (``data/jobs/`` by default)::

    job.json        the request: id, kind, target, title, params, created (written once, by submit)
    claim.json      written when a worker is launched: pid, launched time (by the dispatcher)
    progress.json   fraction, message, data (the latest payload), written by the worker after each step
    heartbeat       touched by the worker every few seconds while it lives
    result.json     the end: state DONE / FAILED / STOPPED, result or error, ended (by the worker)
    stop            present once someone asked the job to stop
    worker.log      the worker's stdout and stderr

Every file has one writer and is replaced atomically (written aside, then
``os.replace``), so a reader in any process sees the old or the new content,
never half of it. The state is derived from which files exist, which is why
any session — after a reload, in a new tab, after a server restart — sees the
same jobs: QUEUED (no claim), RUNNING (claimed, worker alive), INTERRUPTED
(claimed, worker dead or silent, no result), or the state in ``result.json``.

Why subprocesses launched by the queue itself (``python -m dashboard.lab.worker
<folder>``) rather than a pool owned by the server: a pool dies with the
server and its queue lives in the server's memory. Here the queue *is* the
folder; the launching is a short, file-locked "dispatch" step that any process
may run: the server when a job is submitted or listed, and every worker when it
ends (so the queue moves on with no server at all). Workers start in their own
session, so killing the server does not kill them; a restarted server simply
finds them running. Workers run at a lower priority (``os.nice``, and their
session's autogroup on Linux) with BLAS threads capped (threadpoolctl) so pages
stay quick while they train.
"""

from __future__ import annotations

import enum
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dashboard.errors import DashboardError

ENV_MAX_JOBS = "DASHBOARD_MAX_JOBS"  # jobs running at once (default: the core count)
ENV_JOB_THREADS = "DASHBOARD_JOB_THREADS"  # BLAS threads per worker (default: cores / max jobs)
ENV_JOB_NICE = "DASHBOARD_JOB_NICE"  # added niceness of workers (default 10)
ENV_JOBS_DIR = "DASHBOARD_JOBS_DIR"

JOB_FILE, CLAIM_FILE, PROGRESS_FILE, RESULT_FILE = "job.json", "claim.json", "progress.json", "result.json"
HEARTBEAT_FILE, STOP_FILE, LOG_FILE, QUEUE_FILE, LOCK_FILE = "heartbeat", "stop", "worker.log", "queue.json", ".lock"
HEARTBEAT_SECONDS = 2.0
# A worker silent for this long is taken for dead (hung, or its pid reused after a reboot).
HEARTBEAT_TIMEOUT = 30.0
# A launched worker has this long to write its first heartbeat (imports take a few seconds).
STARTUP_GRACE = 60.0
# Modules a job's target may live in: a job folder never names arbitrary code.
TRUSTED_MODULE_PREFIXES = ("dashboard.", "tests.")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class JobState(str, enum.Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more."""
        return self not in (JobState.QUEUED, JobState.RUNNING)


@dataclass(frozen=True)
class JobInfo:
    """A consistent picture of one job, read from its folder.

    Attributes
    ----------
    id, kind, title : str
    params : dict
        As submitted.
    state : JobState
    fraction : float
        Progress, 0 to 1.
    message : str
        The latest progress message.
    data : dict
        The latest progress payload (e.g. per-epoch curves).
    result : dict or None
        What the job returned, once DONE (or STOPPED with a result).
    error : str or None
        Why it FAILED or was INTERRUPTED.
    folder : Path
    created, started, ended : float or None
        Unix timestamps.
    """

    id: str
    kind: str
    title: str
    params: dict
    state: JobState
    fraction: float
    message: str
    data: dict
    result: dict | None
    error: str | None
    folder: Path
    created: float | None
    started: float | None
    ended: float | None

    @property
    def finished(self) -> bool:
        return self.state.finished


class Progress:
    """What a job kind's ``run`` function reports through (used inside the worker).

    Parameters
    ----------
    folder : Path
        The job's folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._last: dict = {"fraction": 0.0, "message": "", "data": {}}

    def update(self, fraction: float, message: str = "", data: dict | None = None) -> None:
        """Record progress (atomically); ``data=None`` keeps the previous payload."""
        if data is not None:
            self._last["data"] = data
        self._last["fraction"] = float(min(1.0, max(0.0, fraction)))
        self._last["message"] = str(message)
        self._last["updated"] = time.time()
        write_json(self.folder / PROGRESS_FILE, self._last)

    def should_stop(self) -> bool:
        """Whether someone asked this job to stop (checked between steps)."""
        return (self.folder / STOP_FILE).exists()


def write_json(path: Path, value: object) -> None:
    """Write JSON atomically: aside, flushed, then renamed over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(value, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None if it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def pid_alive(pid: object) -> bool:
    """Whether a process with this pid exists and is not a zombie (on this host)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a dead child not yet reaped still answers kill(0)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def default_jobs_dir() -> Path:
    """``$DASHBOARD_JOBS_DIR``, else ``jobs/`` beside the runs folder (``data/jobs``)."""
    env = os.environ.get(ENV_JOBS_DIR)
    if env:
        return Path(env)
    from dashboard.lab.runs import default_runs_dir

    return default_runs_dir().parent / "jobs"


_DEFAULT_QUEUES: dict[Path, JobQueue] = {}


def default_queue() -> JobQueue:
    """The app's queue (one object per jobs folder in this process)."""
    root = default_jobs_dir().resolve()
    if root not in _DEFAULT_QUEUES:
        _DEFAULT_QUEUES[root] = JobQueue(root)
    return _DEFAULT_QUEUES[root]


class JobQueue:
    """Submit, list, watch and stop jobs kept under ``root``.

    Parameters
    ----------
    root : Path
        One folder per job; created if missing.
    max_workers : int, optional
        Jobs running at once; default ``$DASHBOARD_MAX_JOBS`` or the core count.
        Recorded in ``root/queue.json`` so workers that dispatch the next job
        honour it.
    kinds : mapping of str to str, optional
        Kind name to ``"module:function"``; default
        :data:`dashboard.lab.jobkinds.KINDS`.
    """

    def __init__(self, root: Path, max_workers: int | None = None, kinds: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        if max_workers is None:
            env = os.environ.get(ENV_MAX_JOBS, "")
            max_workers = int(env) if env.strip().isdigit() and int(env) > 0 else (os.cpu_count() or 1)
        if max_workers < 1:
            raise DashboardError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = int(max_workers)
        if kinds is None:
            from dashboard.lab.jobkinds import KINDS

            kinds = KINDS
        self.kinds = dict(kinds)
        self._procs: list[subprocess.Popen] = []
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / QUEUE_FILE, {"max_workers": self.max_workers})

    # -- the public API -------------------------------------------------

    def submit(self, kind: str, params: dict, title: str = "") -> str:
        """Queue a job and start it if a worker slot is free; returns its id."""
        if kind not in self.kinds:
            raise DashboardError(f"unknown job kind {kind!r}; known: {', '.join(sorted(self.kinds))}")
        try:
            json.dumps(params)
        except (TypeError, ValueError) as exc:
            raise DashboardError(f"job parameters must be plain JSON values ({exc})") from None
        job_id = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"
        folder = self.root / job_id
        tmp = self.root / f".tmp-{job_id}"
        try:
            tmp.mkdir(parents=True)
            write_json(tmp / JOB_FILE, {
                "id": job_id, "kind": kind, "target": self.kinds[kind], "title": title or kind,
                "params": params, "created": time.time(),
            })
            os.rename(tmp, folder)  # a job appears whole or not at all
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DashboardError(f"the job could not be written in {self.root}: "
                                 f"{exc.strerror or exc}") from None
        self.dispatch()
        return job_id

    def get(self, job_id: str) -> JobInfo:
        """The job's state now (raises :class:`DashboardError` if there is no such job)."""
        self.dispatch()
        return self._read(self._folder(job_id))

    def list(self, kind: str | None = None) -> list[JobInfo]:
        """Every job (of ``kind`` if given), newest first."""
        self.dispatch()
        out = []
        for folder in self._job_folders():
            try:
                info = self._read(folder)
            except DashboardError:
                continue  # a folder that is not a readable job: skipped, never fatal
            if kind is None or info.kind == kind:
                out.append(info)
        out.sort(key=lambda j: (j.created or 0.0, j.id), reverse=True)
        return out

    def stop(self, job_id: str) -> None:
        """Ask a job to stop: a queued job never starts; a running one ends after its current step."""
        folder = self._folder(job_id)
        with self._lock():
            info = self._read(folder)
            if info.finished:
                return
            (folder / STOP_FILE).touch()
            if info.state is JobState.QUEUED:
                write_json(folder / RESULT_FILE, {"state": JobState.STOPPED.value, "result": None,
                                                  "error": None, "ended": time.time()})

    def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.1) -> JobInfo:
        """Poll until the job has finished or ``timeout`` seconds passed; the last state read."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.get(job_id)
            if info.finished or time.monotonic() > deadline:
                return info
            time.sleep(poll)

    def dispatch(self) -> list[str]:
        """Launch queued jobs, oldest first, while fewer than ``max_workers`` run.

        Safe to call from any process at any time (a file lock serialises it).

        Returns
        -------
        list of str
            Ids of the jobs launched now.
        """
        self._procs = [p for p in self._procs if p.poll() is None]  # reap finished children
        launched: list[str] = []
        if not self.root.is_dir():
            return launched
        with self._lock():
            queued, running = [], 0
            for folder in self._job_folders():
                try:
                    info = self._read(folder)
                except DashboardError:
                    continue
                if info.state is JobState.RUNNING:
                    running += 1
                elif info.state is JobState.QUEUED:
                    queued.append(info)
            queued.sort(key=lambda j: (j.created or 0.0, j.id))
            for info in queued[: max(0, self.max_workers - running)]:
                self._launch(info.folder)
                launched.append(info.id)
        return launched

    # -- internals ---------------------------------------------------------

    def _launch(self, folder: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), env.get("PYTHONPATH", "")]))
        env.setdefault(ENV_JOB_THREADS, str(max(1, (os.cpu_count() or 1) // self.max_workers)))
        with open(folder / LOG_FILE, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dashboard.lab.worker", str(folder)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=str(_PROJECT_ROOT),
                start_new_session=True,  # survives the server (and its Ctrl-C)
            )
        write_json(folder / CLAIM_FILE, {"pid": proc.pid, "launched": time.time()})
        self._procs.append(proc)
        # Reap the child when it ends, so a finished worker is not left a zombie.
        threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()

    def _lock(self):
        return _FileLock(self.root / LOCK_FILE)

    def _job_folders(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            return []

    def _folder(self, job_id: str) -> Path:
        if not isinstance(job_id, str) or not job_id or "/" in job_id or job_id.startswith("."):
            raise DashboardError(f"invalid job id {job_id!r}")
        folder = self.root / job_id
        if not (folder / JOB_FILE).is_file():
            raise DashboardError(f"no job {job_id}")
        return folder

    def _read(self, folder: Path) -> JobInfo:
        return read_job(folder)


def read_job(folder: Path) -> JobInfo:
    """Read one job folder into a :class:`JobInfo` (its state derived from the files present)."""
    spec = read_json(folder / JOB_FILE)
    if spec is None or not isinstance(spec.get("id"), str):
        raise DashboardError(f"{folder.name} is not a readable job")
    claim = read_json(folder / CLAIM_FILE)
    progress = read_json(folder / PROGRESS_FILE) or {}
    result = read_json(folder / RESULT_FILE)
    error = None
    ended = None
    out_result = None
    started = float(claim["launched"]) if claim and _is_number(claim.get("launched")) else None
    if result is not None:
        try:
            state = JobState(result.get("state"))
        except ValueError:
            state = JobState.FAILED
        error = result.get("error")
        out_result = result.get("result") if isinstance(result.get("result"), dict) else None
        ended = result.get("ended") if _is_number(result.get("ended")) else None
    elif claim is None:
        state = JobState.QUEUED
    elif _worker_alive(folder, claim):
        state = JobState.RUNNING
    else:
        state = JobState.INTERRUPTED
        error = "the worker process ended without finishing (killed, crashed or the machine restarted)"
        beat = _mtime(folder / HEARTBEAT_FILE)
        ended = beat if beat is not None else started
    data = progress.get("data") if isinstance(progress.get("data"), dict) else {}
    fraction = progress.get("fraction") if _is_number(progress.get("fraction")) else 0.0
    if state is JobState.DONE:
        fraction = 1.0
    return JobInfo(
        id=spec["id"], kind=str(spec.get("kind", "")), title=str(spec.get("title", "")),
        params=spec.get("params") if isinstance(spec.get("params"), dict) else {},
        state=state, fraction=float(fraction), message=str(progress.get("message", "")), data=data,
        result=out_result, error=None if error is None else str(error), folder=folder,
        created=spec.get("created") if _is_number(spec.get("created")) else None,
        started=started, ended=ended,
    )


def _worker_alive(folder: Path, claim: dict) -> bool:
    if not pid_alive(claim.get("pid")):
        return False
    beat = _mtime(folder / HEARTBEAT_FILE)
    now = time.time()
    if beat is None:
        launched = claim.get("launched") if _is_number(claim.get("launched")) else 0.0
        return now - launched < STARTUP_GRACE
    return now - beat < HEARTBEAT_TIMEOUT


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _FileLock:
    """An exclusive ``flock`` on a file, across processes (released on exit, even on a crash)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = None

    def __enter__(self) -> _FileLock:
        self._fh = open(self.path, "a+")
        fcntl.flock(self._fh, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()
