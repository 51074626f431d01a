"""The ``train`` sub-command, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.lab.runs import RunStore
from dashboard.train_cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_train_prints_epochs_then_json_and_saves_the_run(tmp_path, shared_data):
    env = {**os.environ, "DASHBOARD_RUNS_DIR": str(tmp_path), "DASHBOARD_DATA_DIR": str(shared_data)}
    proc = subprocess.run(
        [sys.executable, "-m", "dashboard", "train", "--dataset", "mnist", "--preset", "quick",
         "--hidden", "32", "--epochs", "2", "--train-size", "2000", "--batch-size", "100"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert "val_acc" in lines[0]
    result = json.loads(lines[-1])
    assert result["test_accuracy"] > 0.7 and result["seconds"] > 0
    assert result["params"]["hidden"] == [32] and result["params"]["train_size"] == 2000
    runs = RunStore(tmp_path).list().runs
    assert [r.run_id for r in runs] == [result["run_id"]]
    assert runs[0].info["dataset"] == "mnist"
    assert result["params"]["keep_best"] is True and 1 <= result["kept_epoch"] <= 2
    assert runs[0].info["kept_epoch"] == result["kept_epoch"]


def test_no_keep_best_keeps_the_last_epoch(tmp_path, capsys, monkeypatch, shared_data):
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(shared_data))
    code = main(["train", "--dataset", "digits", "--preset", "quick", "--train-size", "0", "--epochs", "3",
                 "--batch-size", "50", "--no-keep-best"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["params"]["keep_best"] is False and result["kept_epoch"] == 3


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--hidden", "256,-1"], "--hidden"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--alpha", "nan"], "--alpha"),
        (["--train-size", "1000", "--batch-size", "5000"], "--batch-size"),
    ],
)
def test_bad_parameters_exit_1_with_the_field(tmp_path, capsys, monkeypatch, flags, field):
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path))
    code = main(["train", "--dataset", "digits", *flags])
    assert code == 1
    err = capsys.readouterr().err
    assert f"error: {field}:" in err
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_average_last_flag(tmp_path, capsys, monkeypatch, shared_data):
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("DASHBOARD_DATA_DIR", str(shared_data))
    code = main(["train", "--dataset", "digits", "--preset", "quick", "--train-size", "0", "--epochs", "3",
                 "--batch-size", "50", "--average-last", "2"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["params"]["average_last"] == 2 and result["params"]["keep_best"] is True
    assert result["averaged_epochs"] == 2 and result["kept_epoch"] == 3
    assert main(["train", "--dataset", "digits", "--preset", "quick", "--average-last", "4"]) == 1
    assert "--average-last" in capsys.readouterr().err


def test_quick_adapts_to_digits_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path))
    assert main(["train", "--dataset", "digits", "--preset", "quick"]) == 0
    out = capsys.readouterr()
    assert "preset quick adapted to digits" in out.err and "Train subset size" in out.err
    assert json.loads(out.out.strip().splitlines()[-1])["params"]["train_size"] == 0


def test_linear_model_and_a_dataset_path(tmp_path, capsys, monkeypatch):
    """--model linear, and --dataset PATH reads a file as ``info`` does (an NPZ with one split)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    path = tmp_path / "digits.npz"
    import numpy as np

    np.savez(path, images=(d.images * 16).clip(0, 255).astype("uint8"), labels=d.target)
    monkeypatch.setenv("DASHBOARD_RUNS_DIR", str(tmp_path / "runs"))
    code = main(["train", "--dataset", str(path), "--model", "linear", "--epochs", "3", "--val-fraction", "0.2"])
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["params"]["model"] == "linear" and result["test_accuracy"] > 0.8
    assert main(["train", "--dataset", str(tmp_path / "nope.csv")]) == 1
    assert "neither a known dataset" in capsys.readouterr().err
