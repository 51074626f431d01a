"""User files: CSV, NPZ and IDX, good and bad, never unpickled."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from dashboard.data.idx import write_idx
from dashboard.data.userdata import holdout_split, read_files, read_path
from dashboard.errors import DataError


def csv_bytes(labels, pixels, header=False) -> bytes:
    lines = []
    if header:
        lines.append(",".join(["label"] + [f"pixel{i}" for i in range(len(pixels[0]))]))
    lines += [",".join(str(v) for v in [lab, *row]) for lab, row in zip(labels, pixels)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("header", [True, False])
def test_csv_of_real_mnist_rows(mnist_test, header):
    ds = mnist_test
    data = csv_bytes(ds.labels[:50], ds.flat()[:50].tolist(), header=header)
    out = read_files([("mnist_head.csv", data)])["all"]
    assert out.shape == (28, 28) and len(out) == 50
    assert np.array_equal(out.images, ds.images[:50])
    assert np.array_equal(out.labels, ds.labels[:50])
    assert out.name == "mnist_head"


def test_csv_any_square_side():
    pixels = np.arange(2 * 256).reshape(2, 256) % 256
    out = read_files([("s.csv", csv_bytes([0, 3], pixels.tolist()))])["all"]
    assert out.shape == (16, 16) and out.class_names == ("0", "1", "2", "3")
    assert out.images[1, 0, 5] == pixels[1, 5]  # pixel (r, c) is column r*16+c


def test_csv_zero_one_scale_is_rescaled():
    out = read_files([("f.csv", b"1,0.0,0.5,1.0,0.25\n")])["all"]
    assert out.images.ravel().tolist() == [0, 128, 255, 64]


@pytest.mark.parametrize("data, message", [
    (b"1,0,256,3,4\n", r"line 1, column 3 is 256"),
    (b"1,0,-1,3,4\n", r"line 1, column 3 is -1"),
    (b"1,0,2,3\n", "not a square"),
    (b"1,0,2,3,4\n2,1,2,3,4,5\n", "line 2"),
    (b"1,0,2,3,4\n2,1,2\n", r"line 2, column 4 is empty"),
    (b"label,a,b,c,d\n1,0,2,3,4\n1,0,nan,3,4\n", r"line 3, column 3 is 'nan'"),
    (b"1,0,abc,3,4\n", r"'abc', not a number"),
    (b"1.5,0,2,3,4\n", r"line 1: label 1.5"),
    (b"-2,0,2,3,4\n", "label -2"),
    (b"", "empty"),
    (b"label,p0\n", "no data rows|needs"),
    (b"\x00\x01\x02", "not a text file"),
    (b"\xff\xfe\xfa,1\n", "not UTF-8"),
])
def test_csv_errors_name_the_place(data, message):
    with pytest.raises(DataError, match=message):
        read_files([("bad.csv", data)])


def npz_bytes(compress=False, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()


def test_npz_keras_layout_gives_two_splits(mnist_test):
    x = np.asarray(mnist_test.images[:30])
    data = npz_bytes(True, x_train=x[:20], y_train=mnist_test.labels[:20],
                     x_test=x[20:], y_test=mnist_test.labels[20:30])
    out = read_files([("mnist.npz", data)])
    assert set(out) == {"train", "test"}
    assert np.array_equal(out["test"].images, x[20:])


def test_npz_flat_float_with_class_names():
    x = np.linspace(0, 1, 3 * 64).reshape(3, 64)
    data = npz_bytes(images=x, labels=np.array([0, 1, 1]), class_names=np.array(["cat", "dog"]))
    out = read_files([("pets.npz", data)])["all"]
    assert out.shape == (8, 8) and out.class_names == ("cat", "dog")
    assert out.images[2, 7, 7] == 255


@pytest.mark.parametrize("arrays, message", [
    (dict(a=np.zeros(3)), "expected images and labels"),
    (dict(x=np.zeros((2, 5)), y=np.array([0, 1])), "not a square"),
    (dict(x=np.full((2, 4), np.nan), y=np.array([0, 1])), "NaN"),
    (dict(x=np.full((2, 4), 300.0), y=np.array([0, 1])), "0-255"),
    (dict(x=np.zeros((2, 2, 2)), y=np.array([0, 1, 2])), "2 images .* 3 labels"),
    (dict(x=np.zeros((2, 2, 2)), y=np.array([0.5, 1])), "not a whole number"),
    (dict(x=np.zeros((2, 2, 2)), y=np.array(["a", "b"])), "whole numbers"),
    (dict(x=np.zeros((2, 2, 2, 2)), y=np.array([0, 1])), "shaped"),
])
def test_npz_errors(arrays, message):
    with pytest.raises(DataError, match=message):
        read_files([("bad.npz", npz_bytes(**arrays))])


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


def test_npz_object_array_is_refused_not_unpickled():
    data = npz_bytes(x=np.array([Boom(), 1], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataError, match="Python objects"):
        read_files([("evil.npz", data)])
    # A bare pickle renamed .npz is refused too.
    with pytest.raises(DataError):
        read_files([("evil.npz", pickle.dumps(Boom()))])


def test_npz_member_claiming_huge_array_is_refused():
    good = npz_bytes(x=np.zeros((2, 2, 2), np.uint8), y=np.array([0, 1]))
    # Rewrite x.npy's header to claim 10**12 elements while the member stays small.
    src = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = src.read(info)
            if info.filename == "x.npy":
                payload = payload.replace(b"(2, 2, 2)", b"(1000000, 1000, 1000)", 1)
            dst.writestr(info.filename, payload)
    with pytest.raises(DataError, match="claims"):
        read_files([("huge.npz", out.getvalue())])


def test_corrupt_zip():
    with pytest.raises(DataError, match="npz"):
        read_files([("x.npz", b"PK\x03\x04garbage")])


def test_idx_pair_and_folder(shared_data, tmp_path):
    folder = shared_data / "mnist"
    pair = [(n, (folder / n).read_bytes()) for n in ("t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")]
    out = read_files(pair)
    assert set(out) == {"test"} and len(out["test"]) == 10_000
    splits = read_path(folder)
    assert set(splits) == {"train", "test"} and splits["train"].name == "mnist"
    assert splits["train"].class_counts()[0] == 5923


def test_idx_pair_errors(tmp_path):
    imgs = write_idx(np.zeros((3, 4, 4), np.uint8))
    labs = write_idx(np.array([0, 1], np.uint8))
    with pytest.raises(DataError, match="3 images but .* 2 labels"):
        read_files([("a-images-idx3", imgs), ("a-labels-idx1", labs)])
    with pytest.raises(DataError, match="image file and its label file"):
        read_files([("a-images-idx3", imgs)])
    with pytest.raises(DataError, match="two images files"):
        read_files([("a-images-idx3", imgs), ("b-images-idx3", imgs)])
    with pytest.raises(DataError, match="train split lacks its labels"):
        read_files([("train-images-idx3", imgs), ("t10k-labels-idx1", labs)])


def test_uploaded_name_never_becomes_a_path():
    data = b"1,0,2,3,4\n"
    out = read_files([("../../etc/passwd.csv", data)])["all"]
    assert out.name == "passwd" and "/" not in out.source


def test_holdout_split_is_stratified_and_disjoint(digits_train):
    tr, te = holdout_split(digits_train, 0.25, seed=1)
    assert len(tr) + len(te) == len(digits_train)
    assert tr.split == "train" and te.split == "test"
    assert np.all(np.abs(te.class_counts() / len(te) - tr.class_counts() / len(tr)) < 0.03)


def test_gzipped_csv_is_read_and_a_cut_one_refused():
    import gzip

    data = gzip.compress(b"1,0,2,3,4\n2,5,6,7,8\n")
    out = read_files([("small.csv.gz", data)])["all"]
    assert out.images.reshape(2, 4).tolist() == [[0, 2, 3, 4], [5, 6, 7, 8]]
    with pytest.raises(DataError, match="truncated"):
        read_files([("small.csv.gz", data[:-6])])
