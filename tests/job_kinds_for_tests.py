"""Small job kinds the job-system tests run in real worker processes."""

from __future__ import annotations

import os
import time

from dashboard.errors import DashboardError

KINDS = {
    "count": "tests.job_kinds_for_tests:count",
    "fail": "tests.job_kinds_for_tests:fail",
    "crash": "tests.job_kinds_for_tests:crash",
    "threads": "tests.job_kinds_for_tests:threads",
}


def count(params: dict, progress) -> dict:
    """Count to ``n`` with ``delay`` seconds per step; stops when asked."""
    n, delay = int(params["n"]), float(params.get("delay", 0.05))
    done = 0
    for i in range(1, n + 1):
        if progress.should_stop():
            break
        time.sleep(delay)
        done = i
        progress.update(i / n, f"step {i} of {n}", {"steps": list(range(1, i + 1)), "pid": os.getpid()})
    return {"counted": done}


def fail(params: dict, progress) -> dict:
    raise DashboardError(params.get("message", "bad input"))


def crash(params: dict, progress) -> dict:
    progress.update(0.5, "half way", {"steps": [1]})
    os._exit(3)  # a worker dying without a word


def threads(params: dict, progress) -> dict:
    import numpy  # noqa: F401 - BLAS is loaded
    from threadpoolctl import threadpool_info

    try:  # "/autogroup-123 nice 10" on Linux with autogroup scheduling
        group = open("/proc/self/autogroup").read().split()
    except OSError:
        group = None
    return {"nice": os.nice(0), "blas": [p["num_threads"] for p in threadpool_info()],
            "autogroup_nice": int(group[-1]) if group else None, "sid_is_self": os.getsid(0) == os.getpid()}
