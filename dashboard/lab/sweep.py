"""Hyper-parameter sweeps: many configurations, each an ordinary saved run, on loky, Dask or Ray.

Pure code: no Streamlit. One code path for every engine: the configurations go
through ``joblib.Parallel``; only the backend changes:

- ``cluster=None`` or ``"loky"``: local processes (joblib's default). The data
  reaches them as ``.npy`` files memory-mapped from the cache (:mod:`shared`).
- ``cluster="tcp://HOST:8786"`` (or ``"dask"`` for a local cluster): a Dask
  cluster through ``dask.distributed``. The splits are scattered to the workers
  once (``scatter=``), never pickled per task.
- ``cluster="ray"`` (a local Ray) or ``"ray://HOST:10001"`` / ``"HOST:6379"`` with
  ``ray`` in front (``ray:HOST:6379``): Ray through ``ray.util.joblib``. The
  splits go into Ray's object store once (``ray.put``); tasks get a reference.

Each task trains one configuration with BLAS capped to one thread (so the same
seed gives the same weights on every engine) and sends back the model and its
metrics; the driver saves each run with :class:`~dashboard.lab.runs.RunStore`
as soon as it arrives (so a remote worker needs no access to the runs folder)
and rewrites the sweep's record (``sweeps/<id>.json``) that the sweep view ranks.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dashboard.data.dataset import Dataset
from dashboard.errors import DashboardError, ParameterError
from dashboard.lab.jobs import pid_alive, read_json, write_json
from dashboard.lab.params import PARAM_BY_NAME, PARAMS, TrainParams, describe_error
from dashboard.lab.runs import Run, RunStore
from dashboard.lab.shared import open_splits, share_splits

MAX_CONFIGS = 256
RANDOM_FLOAT_LOG = ("alpha", "learning_rate")  # ranges searched on a log scale


# -- the configurations ------------------------------------------------------------


def parse_grid(items: Sequence[str], *, ranges: bool = False) -> dict[str, list]:
    """Parse ``name=v1,v2`` items (``hidden=100,256x128``; layers joined by ``x``).

    Parameters
    ----------
    items : sequence of str
        One item per parameter, as on the command line.
    ranges : bool
        Allow ``name=low:high`` (for random search): kept as a ``("range", low, high)`` tuple.

    Returns
    -------
    dict
        Parameter name to its list of values (or a range tuple).
    """
    grid: dict[str, list] = {}
    for item in items:
        name, sep, text = str(item).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not text.strip():
            raise ParameterError(name or "grid", f"write name=value1,value2, got {item!r}")
        spec = PARAM_BY_NAME.get(name)
        if spec is None:
            raise ParameterError(name, f"is not a training parameter; known: {', '.join(PARAM_BY_NAME)}")
        if name in grid:
            raise ParameterError(name, "is given twice")
        if ranges and ":" in text and spec.kind in ("int", "float"):
            low, _, high = text.partition(":")
            lo, hi = spec.parse(low), spec.parse(high)
            if lo > hi:
                raise ParameterError(name, f"the range {text!r} is empty")
            grid[name] = ["range", lo, hi]
            continue
        values = [spec.parse(v) for v in text.split(",")]  # layers inside a value are joined by "x"
        grid[name] = list(dict.fromkeys(values))  # duplicates once
    return grid


def grid_configs(base: TrainParams, grid: Mapping[str, list]) -> list[TrainParams]:
    """Every combination of the grid's values over ``base``, each validated."""
    names = list(grid)
    combos = list(itertools.product(*(grid[n] for n in names)))
    if len(combos) > MAX_CONFIGS:
        raise ParameterError(names[0], f"the grid makes {len(combos)} configurations; at most {MAX_CONFIGS}")
    configs = [effective(replace(base, **dict(zip(names, combo))).validate()) for combo in combos]
    return list(dict.fromkeys(configs))  # e.g. the linear model with two layer sizes is one configuration


def effective(params: TrainParams) -> TrainParams:
    """``params`` with the fields its model ignores set to their defaults (so equal models compare equal)."""
    return replace(params, **{p.name: p.default for p in PARAMS if params.model not in p.models})


def random_configs(base: TrainParams, space: Mapping[str, list], n: int, seed: int = 0) -> list[TrainParams]:
    """``n`` configurations drawn from ``space`` (lists: uniform choice; ranges: uniform, log for rates)."""
    if not 1 <= n <= MAX_CONFIGS:
        raise ParameterError("random", f"draw from 1 to {MAX_CONFIGS} configurations, got {n}")
    rng = np.random.default_rng(seed)
    out: list[TrainParams] = []
    for _ in range(n):
        values = {}
        for name, choices in space.items():
            spec = PARAM_BY_NAME[name]
            if choices and choices[0] == "range":
                lo, hi = choices[1], choices[2]
                if spec.kind == "int":
                    values[name] = int(rng.integers(lo, hi + 1))
                elif name in RANDOM_FLOAT_LOG and lo > 0:
                    values[name] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
                else:
                    values[name] = float(rng.uniform(lo, hi))
            else:
                values[name] = choices[int(rng.integers(len(choices)))]
        out.append(replace(base, **values).validate())
    return out


def differing(configs: Sequence[TrainParams]) -> list[str]:
    """Names of the parameters that differ between configurations (the sweep's axes)."""
    return [spec.name for spec in PARAMS
            if len({repr(getattr(c, spec.name)) for c in configs if c.model in spec.models}) > 1]


# -- one task ------------------------------------------------------------------------


def _resolve(data):
    """The ``(train, test)`` splits a task was given: a shared-file reference, a Ray reference, or the splits."""
    if isinstance(data, dict):
        return open_splits(data)
    if type(data).__name__ == "ObjectRef":
        import ray

        return ray.get(data)
    return data


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


@contextlib.contextmanager
def _glibc_malloc_for_numpy() -> Iterator[None]:
    """Undo, for one task, the malloc setting a Dask worker is started with.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``; setting it fixes
    glibc's mmap threshold at 128 KB, so every mini-batch array is a fresh ``mmap`` whose
    pages fault in again: training ran 2.3x slower on a Dask worker than on a loky one
    (1.43 s against 0.61 s for one configuration, measured). The worker's own values are
    put back afterwards: it may serve other work.
    """
    trim = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # glibc only; elsewhere nothing to undo
    except (OSError, AttributeError):
        mallopt = None
    if trim is None or mallopt is None:
        yield
        return
    mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
    mallopt(_M_TRIM_THRESHOLD, 64 * 2**20)
    try:
        yield
    finally:
        mallopt(_M_MMAP_THRESHOLD, 128 * 2**10)  # glibc's default, where the variable fixed it
        try:
            mallopt(_M_TRIM_THRESHOLD, int(trim))
        except ValueError:
            pass


def train_config(params: dict, data) -> dict:
    """Train one configuration (runs on a worker of any engine) and return everything to save.

    Parameters
    ----------
    params : dict
        ``TrainParams.to_dict()``.
    data : dict, tuple or ray.ObjectRef
        The splits, as the engine delivers them.

    Returns
    -------
    dict
        ``params``, ``model`` (the estimator), ``history`` (EpochReports),
        ``metrics`` (TestMetrics), ``kept_epoch``, ``averaged_epochs``, ``timing``, ``pid``.
    """
    from threadpoolctl import threadpool_limits

    from dashboard.lab.training import Trainer, evaluate

    t0 = time.perf_counter()
    train, test = _resolve(data)
    with threadpool_limits(limits=1), _glibc_malloc_for_numpy():
        trainer = Trainer(TrainParams.from_dict(params), train)
        history = list(trainer.run())
        train_seconds = time.perf_counter() - t0
        model = trainer.final_model()
        metrics = evaluate(model, test)
    return {
        "params": params, "model": model, "history": history, "metrics": metrics,
        "kept_epoch": trainer.kept_epoch, "averaged_epochs": trainer.averaged_epochs,
        "timing": {"train": train_seconds, "test": metrics.seconds, "total": time.perf_counter() - t0},
        "pid": os.getpid(), "dataset": trainer.dataset_name, "checksum": trainer.dataset_checksum,
        "class_names": trainer.class_names, "image_shape": trainer.image_shape,
    }


# -- engines -------------------------------------------------------------------------


def engine_of(cluster: str | None) -> str:
    """``"loky"``, ``"dask"`` or ``"ray"`` for a ``--cluster`` value."""
    if not cluster or cluster == "loky":
        return "loky"
    if cluster == "ray" or cluster.startswith(("ray:", "ray://")):
        return "ray"
    if cluster == "dask" or cluster.startswith(("tcp://", "tls://", "dask:")) or ":" in cluster:
        return "dask"
    raise DashboardError(f"--cluster: use loky, dask, tcp://HOST:8786 (Dask), ray or ray://HOST:10001, got {cluster!r}")


@contextlib.contextmanager
def engine(cluster: str | None, train: Dataset, test: Dataset, arrays_root: Path | None = None,
           client=None) -> Iterator[tuple[str, object]]:
    """Enter the joblib backend for ``cluster``; yields ``(backend name, data handle for the tasks)``.

    Parameters
    ----------
    cluster : str or None
        See :func:`engine_of`.
    train, test : Dataset
    arrays_root : Path, optional
        Where the loky engine's shared ``.npy`` files go (default: the cache's ``arrays/``).
    client : dask.distributed.Client, optional
        An existing client (tests pass the one of their LocalCluster).
    """
    import joblib

    kind = engine_of(cluster)
    if kind == "loky":
        yield "loky", share_splits(train, test, arrays_root)
        return
    if kind == "dask":
        from dask.distributed import Client

        own = None
        if client is None:
            address = None if cluster == "dask" else cluster.removeprefix("dask:")
            try:
                own = client = Client(address, timeout="10s") if address else Client(processes=True)
            except OSError as exc:
                raise DashboardError(f"cannot reach the Dask scheduler at {cluster}: {exc}") from None
        data = (train, test)
        try:
            # scatter=: the splits go to the workers once; tasks get a future in their place.
            with joblib.parallel_config(backend="dask", scatter=[data]):
                yield "dask", data
        finally:
            if own is not None:
                own.close()
        return
    import ray
    from ray.util.joblib import register_ray

    started = False
    if not ray.is_initialized():
        address = None if cluster == "ray" else cluster.removeprefix("ray:")
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True, **({} if address else {"num_cpus": os.cpu_count()}))
        except Exception as exc:  # ray raises ConnectionError, RuntimeError... for a bad address
            raise DashboardError(f"cannot start or reach Ray ({cluster}): {exc}") from None
        started = True
    register_ray()
    ref = ray.put((train, test))  # once, into the object store
    try:
        with joblib.parallel_config(backend="ray"):
            yield "ray", ref
    finally:
        if started:
            ray.shutdown()


# -- the sweep -----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One finished configuration of a sweep."""

    run_id: str | None
    params: dict
    val_accuracy: float
    test_accuracy: float
    seconds: float
    error: str | None = None
    pid: int = 0  # the worker process that trained it


def sweeps_dir(runs_root: Path) -> Path:
    """``sweeps/`` beside the runs folder."""
    return Path(runs_root).parent / "sweeps"


def run_sweep(
    configs: Sequence[TrainParams],
    train: Dataset,
    test: Dataset,
    store: RunStore,
    *,
    cluster: str | None = None,
    n_jobs: int | None = None,
    sweep_id: str | None = None,
    on_run: Callable[[SweepRow, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    arrays_root: Path | None = None,
    client=None,
    title: str = "",
) -> dict:
    """Train every configuration through joblib and save each as an ordinary run as it finishes.

    Parameters
    ----------
    configs : sequence of TrainParams
        Validated against the data before anything starts.
    train, test : Dataset
    store : RunStore
        Where the runs go (the sweep's record goes to ``sweeps/`` beside it).
    cluster : str, optional
        ``None``/``"loky"``, ``"tcp://HOST:8786"``/``"dask"``, ``"ray"``/``"ray://..."``.
    n_jobs : int, optional
        Parallel tasks; default the core count (loky) or the cluster's size (-1).
    sweep_id : str, optional
    on_run : callable, optional
        ``on_run(row, done, total)`` after each saved run.
    should_stop : callable, optional
        Checked as results arrive; once true, no further result is waited for.

    Returns
    -------
    dict
        The sweep record (also written to ``sweeps/<id>.json``).
    """
    import joblib

    if not configs:
        raise ParameterError("grid", "the sweep has no configuration")
    from dashboard.lab.training import check_trainable

    check_trainable(train)
    for c in configs:
        c.validate(len(train), train.n_classes)
    sweep_id = sweep_id or f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-sweep-{secrets.token_hex(3)}"
    record = {
        "id": sweep_id, "title": title, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": train.name, "engine": engine_of(cluster), "axes": differing(configs),
        "total": len(configs), "rows": [], "state": "running", "pid": os.getpid(),
    }
    path = sweeps_dir(store.root) / f"{sweep_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    t0 = time.perf_counter()
    with engine(cluster, train, test, arrays_root, client) as (backend, data):
        jobs = n_jobs or ((os.cpu_count() or 1) if backend == "loky" else -1)
        n = min(jobs, len(configs)) if jobs > 0 else jobs
        try:  # results as they finish, so each run is saved (and listed) at once
            parallel = joblib.Parallel(n_jobs=n, return_as="generator_unordered")
        except ValueError:  # Ray's joblib backend returns a list only: its runs are saved at the end
            parallel = joblib.Parallel(n_jobs=n)
        results = parallel(joblib.delayed(train_config)(c.to_dict(), data) for c in configs)
        try:
            for out in results:
                row = _save(out, store)
                record["rows"].append(row.__dict__)
                write_json(path, record)
                if on_run is not None:
                    on_run(row, len(record["rows"]), len(configs))
                if should_stop is not None and should_stop():
                    record["state"] = "stopped"
                    break
        finally:
            if hasattr(results, "close"):
                results.close()  # stops waiting; pending tasks are dropped
    if record["state"] == "running":
        record["state"] = "done"
    record["seconds"] = time.perf_counter() - t0
    write_json(path, record)
    return record


def _save(out: dict, store: RunStore) -> SweepRow:
    params = TrainParams.from_dict(out["params"])
    history, metrics = out["history"], out["metrics"]
    kept = out["kept_epoch"]
    try:
        run: Run | None = store.save(
            model=out["model"], params=params, history=history, metrics=metrics, dataset=out["dataset"],
            dataset_checksum=out["checksum"], class_names=out["class_names"], image_shape=out["image_shape"],
            timing=out["timing"], status="completed", kept_epoch=kept,
        )
        error = None
    except DashboardError as exc:  # disk full: the row says so, the sweep goes on
        run, error = None, str(exc)
    return SweepRow(run_id=run.run_id if run else None, params=out["params"],
                    val_accuracy=float(history[kept - 1].val_accuracy),
                    test_accuracy=float(metrics.accuracy), seconds=float(out["timing"]["total"]), error=error,
                    pid=int(out.get("pid") or 0))


def load_sweeps(runs_root: Path) -> list[dict]:
    """Every sweep record beside ``runs_root``, newest first (unreadable ones skipped)."""
    folder = sweeps_dir(runs_root)
    out = []
    if folder.is_dir():
        for p in folder.glob("*.json"):
            rec = read_json(p)
            if rec and isinstance(rec.get("rows"), list):
                if rec.get("state") == "running" and not pid_alive(rec.get("pid")):
                    rec["state"] = "interrupted"  # its driver died: the rows saved so far are all there is
                out.append(rec)
    out.sort(key=lambda r: str(r.get("created", "")), reverse=True)
    return out


def ranking(record: Mapping) -> list[dict]:
    """The sweep's rows as flat dicts, best validation accuracy first (the axes as columns)."""
    rows = []
    for row in record.get("rows", []):
        flat = {"run_id": row.get("run_id"), "val_accuracy": row.get("val_accuracy"),
                "test_accuracy": row.get("test_accuracy"), "seconds": row.get("seconds")}
        for name in record.get("axes", []):
            spec = PARAM_BY_NAME.get(name)
            value = row.get("params", {}).get(name)
            flat[name] = spec.format(tuple(value) if spec and spec.kind == "layers" else value) if spec else value
        rows.append(flat)
    rows.sort(key=lambda r: -(r["val_accuracy"] or 0))
    return rows


# -- the job kind ----------------------------------------------------------------------


def run_job(params: dict, progress) -> dict:
    """The ``sweep`` job kind (in a worker process): ``{"configs": [...], "data": ref, "runs_dir",
    "cluster", "n_jobs", "title"}``; progress after every finished configuration."""
    configs = [TrainParams.from_dict(c) for c in params["configs"]]
    train, test = open_splits(params["data"])
    total = len(configs)
    sweep_id = f"{progress.folder.name}"
    progress.update(0.0, f"0 of {total} configurations", {"sweep_id": sweep_id, "rows": []})
    rows: list[dict] = []

    def on_run(row: SweepRow, done: int, n: int) -> None:
        rows.append(row.__dict__)
        progress.update(done / n, f"{done} of {n} configurations", {"sweep_id": sweep_id, "rows": rows})

    try:
        record = run_sweep(configs, train, test, RunStore(params["runs_dir"]), cluster=params.get("cluster"),
                           n_jobs=params.get("n_jobs"), sweep_id=sweep_id, on_run=on_run,
                           should_stop=progress.should_stop, title=params.get("title", ""))
    except ParameterError as exc:
        raise DashboardError(describe_error(exc, "form")) from None
    return {"sweep_id": sweep_id, "done": len(record["rows"]), "total": total,
            "best_run": (ranking(record) or [{}])[0].get("run_id")}
