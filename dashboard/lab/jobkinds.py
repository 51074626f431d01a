"""The registry of job kinds: name -> ``"module:function"``, imported in the worker process.

A job kind is a plain function ``run(params: dict, progress: Progress) -> dict``
(see :mod:`dashboard.lab.jobs`). Strings, not functions, so that listing the
kinds imports nothing heavy and a job folder names its code by a registered name.
"""

KINDS: dict[str, str] = {
    "train": "dashboard.lab.trainjob:run",
    "sweep": "dashboard.lab.sweep:run_job",
    "map": "dashboard.explore.embedding:run",
    "label_issues": "dashboard.lab.labelissues:run",
}
