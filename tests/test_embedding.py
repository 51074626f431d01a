"""The map core on real MNIST: compute, cache, reload, corrupt caches, the job kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dashboard.data.dataset import Dataset
from dashboard.data.loading import load_dataset
from dashboard.explore import embedding
from dashboard.explore.embedding import MapError, MapStore

N = 3000


@pytest.fixture(scope="module")
def small() -> Dataset:
    """The first 3,000 MNIST training images, as their own dataset."""
    full = load_dataset("mnist", "train")
    return Dataset(full.images[:N], full.labels[:N], full.class_names, "mnist-small", "train", "test")


class RecordingProgress:
    """What the job system hands a job kind, recording every update."""

    def __init__(self, folder: Path, stop_after: int | None = None) -> None:
        self.folder = folder
        self.updates: list[tuple[float, str]] = []
        self.stop_after = stop_after

    def update(self, fraction: float, message: str = "", data: dict | None = None) -> None:
        assert 0.0 <= fraction <= 1.0
        self.updates.append((fraction, message))

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.updates) >= self.stop_after


def test_pca_map_is_pca2_and_keeps_some_structure(small, tmp_path):
    store = MapStore(tmp_path)
    res = store.compute(small, "pca")
    assert res.points.shape == (N, 2) and res.points.dtype == np.float32
    assert not res.cached
    # Chance is ~0.1; PCA-2 of MNIST keeps some class structure, far from all.
    assert 0.3 < res.knn_accuracy < 0.7
    Z = store.pca50(small)
    assert Z.shape == (N, 50) and Z.dtype == np.float32
    # The first two PCA-50 components, centred and scaled: same geometry as PCA-2.
    assert np.corrcoef(res.points[:, 0], Z[:, 0])[0, 1] > 0.999


def test_umap_computes_caches_and_reloads_identically(small, tmp_path):
    seen: list[tuple[float, str]] = []
    store = MapStore(tmp_path)
    first = store.compute(small, "umap", {"n_epochs": 100}, progress=lambda f, m: seen.append((f, m)))
    assert first.points.shape == (N, 2) and np.isfinite(first.points).all()
    assert first.knn_accuracy > 0.85, first.knn_accuracy  # chance is 0.1
    assert any("epoch" in m for _, m in seen) and seen[-1][0] == 1.0
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert ".npz" in files and ".json" in files and ".pkl" not in files
    again = MapStore(tmp_path).compute(small, "umap", {"n_epochs": 100})
    assert again.cached
    np.testing.assert_array_equal(again.points, first.points)
    assert again.knn_accuracy == first.knn_accuracy
    # Other parameters are another map, not this one.
    assert MapStore(tmp_path).cached(small, "umap", {"n_epochs": 101}) is None


def test_exact_neighbours_match_scikit_learn_and_put_each_point_first(small):
    from sklearn.neighbors import NearestNeighbors

    Z = embedding.pca_reduce(small.flat())
    Z[1] = Z[0]  # a duplicate: each of the two still lists itself first
    seen: list[float] = []
    idx, dist = embedding.exact_neighbours(Z, 15, seen.append, chunk=700)
    assert idx.shape == dist.shape == (N, 15)
    assert (idx[:, 0] == np.arange(N)).all() and (dist[:, 0] < 1e-2).all()
    d_ref, i_ref = NearestNeighbors(n_neighbors=15, algorithm="brute").fit(Z).kneighbors(Z)
    np.testing.assert_allclose(dist, d_ref, rtol=1e-3, atol=1e-2)
    # Ties aside, the same neighbours (as sets, per row).
    same = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(idx, i_ref)])
    assert same > 0.99, same
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == -(-N // 700)
    with pytest.raises(embedding.MapStopped):
        embedding.exact_neighbours(Z, 15, should_stop=lambda: True)


def test_tsne_small_map_separates_classes(small, tmp_path):
    res = MapStore(tmp_path).compute(small, "tsne", {"n_iter": 250})
    assert res.points.shape == (N, 2)
    assert res.knn_accuracy > 0.85, res.knn_accuracy


@pytest.mark.parametrize("damage", ["garbage", "truncate", "sidecar", "shape", "pickle"])
def test_corrupt_cache_is_recomputed_with_a_message(small, tmp_path, damage):
    store = MapStore(tmp_path)
    good = store.compute(small, "pca")
    npz = next(p for p in tmp_path.glob("*-pca-*.npz"))
    side = npz.with_suffix(".json")
    if damage == "garbage":
        npz.write_bytes(b"not a zip file at all")
    elif damage == "truncate":
        npz.write_bytes(npz.read_bytes()[:200])
    elif damage == "sidecar":
        info = json.loads(side.read_text())
        info["key"]["checksum"] = "0" * 64
        side.write_text(json.dumps(info))
    elif damage == "shape":
        np.savez(npz, points=np.zeros((10, 2), np.float32))
    elif damage == "pickle":  # an object array needs pickle to load: refused, not run
        np.savez(npz, points=np.array([{"a": 1}] * N, dtype=object))
    messages: list[str] = []
    again = MapStore(tmp_path, notify=messages.append).compute(small, "pca")
    assert not again.cached
    assert messages and "recomput" in messages[0]
    np.testing.assert_allclose(again.points, good.points, atol=1e-5)
    # The recomputed file is good again.
    assert MapStore(tmp_path).cached(small, "pca") is not None


def test_nearest_neighbours_are_nearest_and_mostly_same_class(small, tmp_path):
    store = MapStore(tmp_path)
    Z = store.pca50(small)
    idx, dist = store.similar(small, 7, k=8)
    assert idx.shape == (8,) and 7 not in idx
    assert np.all(np.diff(dist) >= 0)
    brute = np.sqrt(((Z - Z[7]) ** 2).sum(axis=1))
    brute[7] = np.inf
    np.testing.assert_array_equal(np.sort(idx), np.sort(np.argsort(brute)[:8]))
    np.testing.assert_allclose(dist, np.sort(brute)[:8], rtol=1e-4)
    same = np.mean([small.labels[i] == small.labels[s] for s in range(0, 200, 10)
                    for i in store.similar(small, s, 8)[0]])
    assert same > 0.6  # chance is 0.1; a 3,000-sample set has few close neighbours
    with pytest.raises(MapError):
        store.similar(small, N)


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(MapError, match="n_epoch"):
        embedding.method_params("umap", {"n_epoch": 5})
    with pytest.raises(MapError, match="unknown map method"):
        embedding.method_params("mds")
    with pytest.raises(MapError):
        embedding.method_params("umap", {"n_neighbors": 1})


def test_job_kind_runs_reports_progress_and_stops(small, tmp_path):
    data = embedding.export_dataset(small, tmp_path / "maps")
    prog = RecordingProgress(tmp_path)
    params = {"dataset": small.name, "split": "train", "method": "umap", "params": {"n_epochs": 50},
              "data": str(data), "cache": str(tmp_path / "maps"), "checksum": small.checksum}
    out = embedding.run(params, prog)
    json.dumps(out)  # JSON-able, as the contract says
    assert out["n"] == N and out["knn_accuracy"] > 0.8 and not out["cached"]
    assert prog.updates[-1][0] == 1.0 and any("epoch" in m for _, m in prog.updates)
    # The second run is read from the cache.
    assert embedding.run(params, RecordingProgress(tmp_path))["cached"]
    # A stop request ends a fresh computation early.
    stopping = RecordingProgress(tmp_path, stop_after=3)
    assert embedding.run({**params, "params": {"n_epochs": 60}}, stopping)["stopped"]
    assert len(stopping.updates) <= 4
    assert MapStore(tmp_path / "maps").cached(small, "umap", {"n_epochs": 60}) is None
    # Data that changed since the page showed them is refused.
    with pytest.raises(MapError, match="differs"):
        embedding.run({**params, "checksum": "f" * 64}, RecordingProgress(tmp_path))


def test_large_images_are_averaged_in_blocks_before_pca(tmp_path):
    # 1000x1000 images: PCA of a million columns held 1.3 GB for 60 of them (issue 14's budget).
    assert embedding.pca_block(28, 28) == 1 and embedding.pca_block(1000, 1000) == 16
    x = np.arange(2 * 5 * 7, dtype=np.uint8).reshape(2, 5, 7)
    m = embedding.block_means(x, 2, max_chunk_bytes=1)  # one image per chunk
    assert m.shape == (2, 3 * 4) and m.dtype == np.float32
    assert m[0, 0] == x[0, :2, :2].mean() and m[1, 0] == x[1, :2, :2].mean()
    assert m[0, 3] == np.mean([x[0, 0, 6], x[0, 0, 6], x[0, 1, 6], x[0, 1, 6]])  # edge repeated
    rng = np.random.default_rng(0)
    big = Dataset(rng.integers(0, 256, (30, 300, 200), dtype=np.uint8), np.arange(30) % 3,
                  ("a", "b", "c"), "big", "train", "test")
    Z = MapStore(tmp_path).pca50(big)
    assert Z.shape[0] == 30 and 2 <= Z.shape[1] < 30 and np.isfinite(Z).all()
    np.testing.assert_array_equal(MapStore(tmp_path).pca50(big), Z)  # cached under its own key
