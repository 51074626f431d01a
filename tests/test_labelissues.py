"""Label-issue search: injected-noise recovery on real MNIST, the cache, the job kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dashboard.data import corrections as cr
from dashboard.errors import ParameterError
from dashboard.lab import labelissues as li

FAST = li.OOFParams(folds=3, hidden=(128,), epochs=6, batch_size=128, seed=0)


class RecordingProgress:
    """The job system's Progress, as the contract describes it, recording every call."""

    def __init__(self, folder: Path, stop_after: int | None = None) -> None:
        self.folder = folder
        self.calls: list[tuple[float, str, dict | None]] = []
        self.stop_after = stop_after

    def update(self, fraction: float, message: str = "", data: dict | None = None) -> None:
        self.calls.append((fraction, message, data))

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.calls) >= self.stop_after


@pytest.fixture(scope="module")
def noisy_subset(mnist_train):
    # 6,000 real MNIST images with 2% of their labels flipped at random (seeded).
    rng = np.random.default_rng(1)
    idx = np.sort(rng.choice(len(mnist_train), 6000, replace=False))
    images, labels = mnist_train.images[idx], mnist_train.labels[idx]
    noisy, flipped = li.flip_labels(labels, 0.02, 10, seed=3)
    proba = li.out_of_fold_proba(images, noisy, 10, FAST)
    return images, labels, noisy, flipped, proba


def test_flip_labels_changes_exactly_the_chosen(mnist_train):
    labels = mnist_train.labels[:5000]
    noisy, flipped = li.flip_labels(labels, 0.01, 10, seed=0)
    assert len(flipped) == 50
    assert np.all(noisy[flipped] != labels[flipped])
    same = np.ones(len(labels), bool)
    same[flipped] = False
    np.testing.assert_array_equal(noisy[same], labels[same])


def test_oof_probabilities_are_held_out(noisy_subset):
    images, labels, noisy, flipped, proba = noisy_subset
    assert proba.shape == (6000, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    # The held-out model mostly disagrees with a flipped label (it never saw it) ...
    assert (proba[flipped, noisy[flipped]] < 0.5).mean() > 0.8
    # ... and mostly agrees with the true one.
    assert (proba.argmax(axis=1)[flipped] == labels[flipped]).mean() > 0.8


def test_injected_noise_is_recovered(noisy_subset):
    _, labels, noisy, flipped, proba = noisy_subset
    result = li.noise_recovery(flipped, proba, noisy, fraction=0.02)
    chance = len(flipped) / len(noisy)  # 0.02: precision of a random pick
    for method in li.RANKING_METHODS:
        assert result[method]["top"] == 120
        # Far above chance, with margin (a real subset still holds some real label errors).
        assert result[method]["precision"] > 0.6, (method, result)
        assert result[method]["recall"] > 0.6, (method, result)
    assert result["find_label_issues"]["recall"] > 0.7
    assert result[li.DEFAULT_METHOD]["precision"] > 30 * chance


def test_rank_suspects_worst_first(noisy_subset):
    _, labels, noisy, flipped, proba = noisy_subset
    s = li.rank_suspects(noisy, proba)
    assert 0 < len(s) < 600
    assert np.all(np.diff(s.quality) >= 0)
    np.testing.assert_array_equal(s.given, noisy[s.indices])
    np.testing.assert_array_equal(s.suggested, proba[s.indices].argmax(axis=1))
    # The top suspects are mostly the flipped ones, and the suggestion is mostly the true label.
    top = s.indices[:50]
    assert np.isin(top, flipped).mean() > 0.7
    hit = np.isin(s.indices, flipped)
    assert (s.suggested[hit] == labels[s.indices[hit]]).mean() > 0.8
    rec = s.records(3, class_names=tuple("abcdefghij"))
    assert [r["rank"] for r in rec] == [1, 2, 3] and len(rec[0]["probabilities"]) == 10
    assert rec[0]["given_name"] == "abcdefghij"[rec[0]["given"]]
    json.dumps(rec)


def test_params_are_checked():
    with pytest.raises(ParameterError, match="folds"):
        li.OOFParams(folds=1).validate()
    with pytest.raises(ParameterError, match="epochs"):
        li.OOFParams(epochs=0).validate()
    with pytest.raises(ParameterError, match="fewer than 4 folds"):
        li.OOFParams().validate(class_counts=np.array([10, 3]))
    with pytest.raises(ParameterError, match="method"):
        li.quality_scores(np.zeros(2, int), np.full((2, 2), 0.5), "magic")
    p = li.OOFParams(hidden=[64, 32])
    assert li.OOFParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_cache_is_keyed_and_reused(digits_train, tmp_path):
    calls = []
    s1 = li.find_suspects(digits_train, FAST, progress=lambda f, m: calls.append(f), root=tmp_path)
    assert calls and calls[-1] == 1.0 and len(calls) == FAST.folds * FAST.epochs + 1
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and (folders[0] / "meta.json").is_file() and (folders[0] / "proba.npy").is_file()
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.tmp"))
    # Cached: no training, same answer.
    s2 = li.cached_suspects(digits_train, FAST, root=tmp_path)
    np.testing.assert_array_equal(s1.indices, s2.indices)
    assert s1.key == s2.key
    # Other model parameters or other corrections: another key, not cached yet.
    assert li.cached_suspects(digits_train, li.OOFParams(folds=3, hidden=(64,), epochs=6), root=tmp_path) is None
    corr = cr.Corrections.for_dataset(digits_train).exclude([0], digits_train.labels)
    fixed = cr.apply_corrections(digits_train, corr)
    assert li.cached_suspects(fixed, FAST, root=tmp_path) is None
    assert li.cache_key(*li.dataset_version(fixed), FAST) != s1.key


def test_job_kind_run(digits_train, tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    progress = RecordingProgress(tmp_path / "job")
    params = {"dataset": "digits", "split": "train", **FAST.to_dict()}
    result = li.run(params, progress)
    json.dumps(result)
    assert result["dataset"] == "digits" and result["n_samples"] == len(digits_train)
    assert result["n_suspects"] >= len(result["top"]) > 0
    fractions = [c[0] for c in progress.calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("fold 3/3" in c[1] for c in progress.calls)
    assert (tmp_path / li.CACHE_SUBDIR / result["key"] / "proba.npy").is_file()


def test_job_kind_stops(tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_CACHE_DIR", str(tmp_path))
    progress = RecordingProgress(tmp_path / "job", stop_after=3)
    with pytest.raises(InterruptedError):
        li.run({"dataset": "digits", **FAST.to_dict()}, progress)
    assert len(progress.calls) == 3
    assert not (tmp_path / li.CACHE_SUBDIR).exists() or not any((tmp_path / li.CACHE_SUBDIR).iterdir())
