"""`compare --train-labels`: labels read from a file replace the training split's before a run."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cifar_doctor.errors import InputError
from cifar_doctor.training.labels import read_train_labels
from conftest import SAMPLE, run_cli, run_json

Y = np.array([[3], [1], [0], [9], [2], [2]], dtype=np.uint8)  # the shape CIFAR-10's y_train has


def test_npz_key_replaces_the_labels_in_the_data_shape(tmp_path):
    noisy = np.array([3, 5, 0, 9, 2, 7])
    np.savez(tmp_path / "labels.npz", clean=Y.reshape(-1), worse=noisy)
    labels, summary = read_train_labels(f"{tmp_path / 'labels.npz'}:worse", Y)
    assert labels.shape == Y.shape and labels.dtype == Y.dtype
    assert labels.reshape(-1).tolist() == noisy.tolist()
    assert (
        summary["key"] == "worse"
        and summary["changed"] == 2
        and summary["changed_fraction"] == pytest.approx(2 / 6, abs=1e-4)
    )


def test_npy_and_single_array_npz_need_no_key(tmp_path):
    np.save(tmp_path / "y.npy", Y.reshape(-1))
    np.savez(tmp_path / "one.npz", labels=Y.reshape(-1))
    for spec in (tmp_path / "y.npy", tmp_path / "one.npz"):
        labels, summary = read_train_labels(str(spec), Y)
        assert summary["changed"] == 0 and (labels == Y).all()


@pytest.mark.parametrize(
    "array, match",
    [
        (np.arange(5), "do not match the training split"),  # one label short
        (np.eye(10, dtype=np.float32)[Y.reshape(-1)], "not one integer label per image"),  # one-hot
        (np.array([0, 1, 2, 3, 4, 10]), "classes the data does not have"),
        (np.array([0, 1, 2, 3, 4, -1]), "classes the data does not have"),
    ],
)
def test_labels_that_do_not_fit_are_refused(tmp_path, array, match):
    np.save(tmp_path / "y.npy", array)
    with pytest.raises(InputError, match=match):
        read_train_labels(str(tmp_path / "y.npy"), Y)


def test_unreadable_files_are_refused(tmp_path):
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}] * 6, dtype=object), allow_pickle=True)
    np.savez(tmp_path / "two.npz", a=Y, b=Y)
    os.mkfifo(tmp_path / "pipe.npy")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04 not a zip")
    cases = {
        str(tmp_path / "missing.npy"): "Cannot read",
        str(tmp_path / "pickled.npy"): "not a numeric array",  # refused from its header, never unpickled
        str(tmp_path / "two.npz"): "Name the key",
        f"{tmp_path / 'two.npz'}:c": "has no key 'c'",
        str(tmp_path / "pipe.npy"): "a named pipe",
        str(tmp_path / "garbage.npz"): "Cannot read",
    }
    for spec, match in cases.items():
        with pytest.raises(InputError, match=match):
            read_train_labels(spec, Y)


def test_forged_headers_and_deflate_bombs_are_refused_before_reading(tmp_path):
    forged = tmp_path / "forged.npy"
    with forged.open("wb") as fh:  # a 10^11-label header over 64 bytes
        np.lib.format.write_array_header_1_0(fh, {"descr": "<i8", "fortran_order": False, "shape": (10**11,)})
        fh.write(bytes(64))
    with pytest.raises(InputError, match="declares shape"):
        read_train_labels(str(forged), Y)
    bomb = tmp_path / "bomb.npz"  # 100 million zeros deflate to a few hundred kB
    np.savez_compressed(bomb, y=np.zeros(100_000_000, dtype=np.int8))
    with pytest.raises(InputError, match="declares shape"):
        read_train_labels(str(bomb), Y)
    np.savez(tmp_path / "objects.npz", y=np.array([{"a": 1}] * 6, dtype=object))
    with pytest.raises(InputError, match="pickled object array"):
        read_train_labels(str(tmp_path / "objects.npz"), Y)


@pytest.mark.slow
def test_compare_refuses_labels_of_another_length_before_training(tmp_path):
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    np.save(tmp_path / "y.npy", np.zeros(7, dtype=np.int64))
    proc = run_cli("compare", "fixed", "--data", str(SAMPLE), "--train-labels", str(tmp_path / "y.npy"))
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "2,500 labels" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.training
def test_compare_trains_on_the_given_labels_and_says_so(tmp_path):
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    with np.load(SAMPLE, allow_pickle=False) as d:
        y = d["y_train"].reshape(-1).astype(np.int64)
    flipped = y.copy()
    flipped[::4] = (flipped[::4] + 1) % 10  # a quarter of the labels wrong
    np.savez(tmp_path / "labels.npz", clean=y, noisy=flipped)
    rc, data, err = run_json(
        "compare", "fixed", "--data", str(SAMPLE), "--limit", "200", "--epochs", "1", "--quiet",
        "--train-labels", f"{tmp_path / 'labels.npz'}:noisy",
    )  # fmt: skip
    assert rc == 0, err
    (run,) = data["runs"]
    summary = run["report"]["inputs"]["data"]["train_labels"]
    assert summary["key"] == "noisy" and summary["changed"] == 625 and summary["changed_fraction"] == 0.25
