"""Sweeps: grids and random draws, and the same sweep on loky, a real Dask LocalCluster and a local Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.errors import ParameterError
from dashboard.lab.params import TrainParams
from dashboard.lab.runs import RunStore
from dashboard.lab.sweep import (
    engine_of,
    grid_configs,
    load_sweeps,
    parse_grid,
    random_configs,
    ranking,
    run_sweep,
)

ROOT = Path(__file__).resolve().parent.parent
BASE = TrainParams(hidden=(16,), epochs=2, batch_size=50, seed=3)


def test_grid_parsing_and_combinations():
    grid = parse_grid(["hidden=100,256x128", "alpha=1e-4,1e-3"])
    assert grid == {"hidden": [(100,), (256, 128)], "alpha": [1e-4, 1e-3]}
    configs = grid_configs(BASE, grid)
    assert len(configs) == 4 and {c.hidden for c in configs} == {(100,), (256, 128)}
    # The linear model ignores the layers: two layer sizes make one linear configuration.
    mixed = grid_configs(BASE, parse_grid(["hidden=16,8x8", "model=mlp,linear"]))
    assert len(mixed) == 3
    for bad, field in ((["hidden"], "hidden"), (["depth=3"], "depth"), (["alpha=x"], "alpha"),
                       (["alpha=1", "alpha=2"], "alpha")):
        with pytest.raises(ParameterError) as info:
            parse_grid(bad)
        assert info.value.field == field


def test_random_search_draws_within_ranges_reproducibly():
    space = parse_grid(["alpha=1e-5:1e-2", "epochs=2:4", "hidden=16,32"], ranges=True)
    a = random_configs(BASE, space, 6, seed=1)
    assert a == random_configs(BASE, space, 6, seed=1) and a != random_configs(BASE, space, 6, seed=2)
    assert all(1e-5 <= c.alpha <= 1e-2 and 2 <= c.epochs <= 4 and c.hidden in ((16,), (32,)) for c in a)
    with pytest.raises(ParameterError):
        parse_grid(["alpha=1e-2:1e-5"], ranges=True)


def test_engine_names():
    assert engine_of(None) == engine_of("loky") == "loky"
    assert engine_of("tcp://10.0.0.1:8786") == engine_of("dask") == "dask"
    assert engine_of("ray") == engine_of("ray://head:10001") == "ray"


def _summary(record):
    return sorted((json.dumps(r["params"], sort_keys=True), r["val_accuracy"], r["test_accuracy"])
                  for r in record["rows"])


@pytest.fixture(scope="module")
def loky_sweep(tmp_path_factory, digits_train):
    from dashboard.data.loading import load_dataset

    root = tmp_path_factory.mktemp("loky")
    test = load_dataset("digits", "test")
    configs = grid_configs(BASE, parse_grid(["hidden=16,8x8", "model=mlp,linear"]))
    record = run_sweep(configs, digits_train, test, RunStore(root / "runs"), n_jobs=2, arrays_root=root / "arrays")
    return configs, test, record, root


def test_loky_sweep_saves_each_configuration_as_a_run(loky_sweep):
    configs, _, record, root = loky_sweep
    assert record["state"] == "done" and record["engine"] == "loky" and len(record["rows"]) == 3
    runs = RunStore(root / "runs").list()
    assert not runs.problems and len(runs.runs) == 3
    assert {r.run_id for r in runs.runs} == {row["run_id"] for row in record["rows"]}
    for run in runs.runs:  # ordinary runs: the Runs page reads them like any other
        assert TrainParams.from_dict(run.info["params"]) in configs
    assert load_sweeps(root / "runs")[0]["id"] == record["id"]
    ranked = ranking(record)
    assert [r["val_accuracy"] for r in ranked] == sorted((r["val_accuracy"] for r in ranked), reverse=True)
    assert set(record["axes"]) == {"model", "hidden"}


def test_a_dask_local_cluster_gives_the_same_runs(loky_sweep, digits_train, tmp_path):
    from dask.distributed import Client, LocalCluster

    configs, test, loky_record, _ = loky_sweep
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        record = run_sweep(configs, digits_train, test, RunStore(tmp_path / "runs"), cluster=cluster.scheduler_address,
                           client=client)
        worker_pids = set(client.run(os.getpid).values())
    assert record["engine"] == "dask" and record["state"] == "done"
    assert _summary(record) == _summary(loky_record)
    assert len(RunStore(tmp_path / "runs").list().runs) == 3
    assert os.getpid() not in worker_pids and len(worker_pids) == 2


def test_a_local_ray_gives_the_same_runs(loky_sweep, digits_train, tmp_path):
    ray = pytest.importorskip("ray")
    configs, test, loky_record, _ = loky_sweep
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        record = run_sweep(configs, digits_train, test, RunStore(tmp_path / "runs"), cluster="ray", n_jobs=2)
    finally:
        ray.shutdown()
    assert record["engine"] == "ray" and _summary(record) == _summary(loky_record)
    assert len(RunStore(tmp_path / "runs").list().runs) == 3


def test_sweep_command(tmp_path):
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "sweep", "--dataset", "digits", "--grid", "hidden=16,32",
         "alpha=1e-4,1e-3", "--epochs", "2", "--batch-size", "50", "--n-jobs", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len([line for line in lines if line.startswith("[")]) == 4
    result = json.loads(lines[-1])
    assert result["engine"] == "loky" and len(result["ranking"]) == 4 and set(result["axes"]) == {"hidden", "alpha"}
    assert len(RunStore(tmp_path / "runs").list().runs) == 4
    bad = subprocess.run([sys.executable, "-m", "dashboard", "sweep", "--dataset", "digits", "--grid", "depth=3"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "--grid --depth" not in bad.stderr and "depth" in bad.stderr


# Allocates and frees 1 MB arrays (a mini-batch's size) and counts the page faults that cost.
_FAULTS = """
import resource, numpy as np
from dashboard.lab.sweep import _glibc_malloc_for_numpy
def faults(wrap):
    with wrap():
        a = np.ones(1)  # the thresholds apply from the next allocation
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(200):
            a = np.ones(2**17)  # 1 MB, freed when the next one replaces it
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
import contextlib
print(faults(contextlib.nullcontext), faults(_glibc_malloc_for_numpy))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_dask_workers_malloc_setting_is_undone_while_a_configuration_trains():
    """Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536: every freed 1 MB array went
    back to the system and faulted in again (training ran 2.3x slower there than on loky)."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    proc = subprocess.run([sys.executable, "-c", _FAULTS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    with_setting, undone = map(int, proc.stdout.split())
    assert with_setting > 200 * 200, with_setting  # ~256 page faults per fresh 1 MB mapping
    assert undone < with_setting / 20, (with_setting, undone)
