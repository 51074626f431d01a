"""The worker process of one job: ``python -m dashboard.lab.worker <job folder>``.

Launched by :meth:`dashboard.lab.jobs.JobQueue.dispatch`. It lowers its
priority (and its session's autogroup's, see :func:`lower_priority`), caps BLAS
threads, beats a heartbeat, imports the job's kind (a
``module:function`` from a trusted module), runs it with a
:class:`~dashboard.lab.jobs.Progress`, writes ``result.json`` and, before it
exits, dispatches the next queued job so the queue moves on without a server.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from dashboard.errors import DashboardError
from dashboard.lab import jobs
from dashboard.lab.jobs import JobState, Progress


def _heartbeat(path: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            path.touch()
        except OSError:
            pass  # a full disk must not kill the job; a stale beat only marks it interrupted later
        stop.wait(jobs.HEARTBEAT_SECONDS)


def resolve(target: str):
    """The function named ``"module:function"``, from a trusted module only."""
    module_name, _, func_name = str(target).partition(":")
    if not module_name.startswith(jobs.TRUSTED_MODULE_PREFIXES) or not func_name:
        raise DashboardError(f"job target {target!r} is not a known job kind")
    return getattr(importlib.import_module(module_name), func_name)


def run_job(folder: Path) -> JobState:
    """Run the job in ``folder`` in this process and record its end; returns the final state."""
    folder = Path(folder)
    spec = jobs.read_json(folder / jobs.JOB_FILE)
    if spec is None:
        raise SystemExit(f"{folder}: no readable {jobs.JOB_FILE}")
    progress = Progress(folder)
    result, error, state = None, None, JobState.DONE
    try:
        func = resolve(spec.get("target", ""))
        result = func(dict(spec.get("params") or {}), progress)
        if result is not None and not isinstance(result, dict):
            raise TypeError(f"a job kind must return a dict, got {type(result).__name__}")
        if progress.should_stop():
            state = JobState.STOPPED
    except DashboardError as exc:
        state, error = JobState.FAILED, str(exc)
    except Exception as exc:  # a bug: keep the detail for the folded-away view
        state, error = JobState.FAILED, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
    jobs.write_json(folder / jobs.RESULT_FILE, {
        "state": state.value, "result": result, "error": error, "ended": time.time(),
    })
    return state


def lower_priority(increment: str | int, autogroup: Path = Path("/proc/self/autogroup")) -> int:
    """Add ``increment`` to this process's niceness, and give its autogroup the same value.

    Parameters
    ----------
    increment : str or int
        Added niceness (``DASHBOARD_JOB_NICE``); a value that is not an integer is ignored.
    autogroup : Path
        Linux's autogroup file of this process.

    Returns
    -------
    int
        The niceness now in effect.

    Notes
    -----
    Why the autogroup: a worker starts in its own session, and with Linux's autogroup
    scheduling (on by default in most distributions) each session is a group that gets an
    equal share of the CPU whatever its tasks' nice values. Three niced workers then still
    left the server and the browser half a core of two; with the group niced too they get a
    whole one. The kernel limits unprivileged changes to one every 0.1 s machine-wide, so
    workers started together retry briefly.
    """
    try:
        nice = os.nice(int(increment))
    except (OSError, ValueError, TypeError):
        return os.nice(0)
    if nice > 0 and autogroup.exists():
        for _ in range(10):
            try:
                autogroup.write_text(str(min(nice, 19)))
                break
            except BlockingIOError:  # EAGAIN: another process changed its autogroup just now
                time.sleep(0.11)
            except OSError:
                break
    return nice


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m dashboard.lab.worker JOB_FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    lower_priority(os.environ.get(jobs.ENV_JOB_NICE, "10"))
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(folder / jobs.HEARTBEAT_FILE, stop), daemon=True)
    beat.start()
    threads = os.environ.get(jobs.ENV_JOB_THREADS, "")
    try:
        import numpy  # noqa: F401 - load BLAS now, so the limit below reaches it
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=int(threads)) if threads.isdigit() else None
        state = run_job(folder)
        if limits is not None:
            limits.restore_original_limits()
    finally:
        stop.set()
    print(f"job {folder.name}: {state.value}", flush=True)
    # Start the next queued job: the queue moves on even with no server running.
    try:
        queue_info = jobs.read_json(folder.parent / jobs.QUEUE_FILE) or {}
        jobs.JobQueue(folder.parent, max_workers=int(queue_info.get("max_workers") or 1), kinds={}).dispatch()
    except Exception as exc:  # never turn a finished job into a crash
        print(f"could not dispatch the next job: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
