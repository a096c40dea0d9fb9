"""Data sources: npz files and their key aliases, CIFAR-10 batches and tarballs, the Keras cache, the sample."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cifar_doctor.errors import InputError
from cifar_doctor.sources import cifar10, datasets
from cifar_doctor.sources.datasets import KEY_ALIASES, canonical_key, load_cifar10, load_data_path
from conftest import ROOT, SAMPLE, run_cli


# --- helpers ------------------------------------------------------------------------------------
def _arrays(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.int64),
        "x_test": rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.int64),
    }


def _batch_bytes(images_nhwc: np.ndarray, labels: np.ndarray, protocol: int = 2) -> bytes:
    """A batch in the official format: dict with bytes keys, data (N, 3072) in CHW order, labels list."""
    data = images_nhwc.transpose(0, 3, 1, 2).reshape(len(images_nhwc), -1)
    d = {
        b"batch_label": b"fake batch",
        b"labels": [int(v) for v in labels],
        b"data": data,
        b"filenames": [b"img_%d.png" % i for i in range(len(labels))],
    }
    return pickle.dumps(d, protocol=protocol)


def _fake_batches(per_batch=4, n_test=6, seed=0):
    """name -> bytes for data_batch_1..5 and test_batch, plus the expected NHWC arrays."""
    rng = np.random.default_rng(seed)
    raw, xs, ys = {}, [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch)
        raw[f"data_batch_{i}"] = _batch_bytes(x, y)
        xs.append(x)
        ys.append(y)
    xt = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    yt = rng.integers(0, 10, n_test)
    raw["test_batch"] = _batch_bytes(xt, yt)
    expected = {"x_train": np.concatenate(xs), "y_train": np.concatenate(ys), "x_test": xt, "y_test": yt}
    return raw, expected


def _write_folder(folder: Path, raw: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, b in raw.items():
        (folder / name).write_bytes(b)
    return folder


def _tarball_bytes(raw: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, b in raw.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(b)
            tar.addfile(info, io.BytesIO(b))
    return buf.getvalue()


def _assert_matches(loaded, expected):
    a = loaded.arrays
    assert a["x_train"].shape == (len(expected["y_train"]), 32, 32, 3) and a["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(a["x_train"], expected["x_train"])
    np.testing.assert_array_equal(a["x_test"], expected["x_test"])
    # labels as keras.datasets.cifar10.load_data() returns them: uint8 (N, 1)
    assert a["y_train"].shape == (len(expected["y_train"]), 1) and a["y_train"].dtype == np.uint8
    np.testing.assert_array_equal(a["y_train"].ravel(), expected["y_train"])
    np.testing.assert_array_equal(a["y_test"].ravel(), expected["y_test"])


# --- npz and key aliases ------------------------------------------------------------------------
ALIAS_SCHEMES = [
    ("x_train", "y_train", "x_test", "y_test"),
    ("train_images", "train_labels", "test_images", "test_labels"),
    ("X_train", "Y_train", "X_test", "Y_test"),
    ("X_train", "y_train", "X_test", "y_test"),
    ("xtrain", "ytrain", "xtest", "ytest"),
    ("x_tr", "y_tr", "x_te", "y_te"),
    ("trainX", "trainY", "testX", "testY"),
    ("train_data", "train_targets", "test_data", "test_targets"),
    ("TRAIN_IMAGES", "TRAIN_LABELS", "TEST_IMAGES", "TEST_LABELS"),
    ("images_train", "labels_train", "images_test", "labels_test"),
    ("x-train", "y-train", "x-test", "y-test"),
]
VAL_SCHEMES = [
    ("x_val", "y_val"),
    ("val_images", "val_labels"),
    ("x_valid", "y_valid"),
    ("X_validation", "Y_validation"),
    ("xval", "yval"),
    ("dev_x", "dev_y"),
]


@pytest.mark.parametrize("keys", ALIAS_SCHEMES, ids=lambda k: k[0])
def test_npz_key_aliases_map_to_canonical_keys(tmp_path, keys):
    arrays = _arrays()
    path = tmp_path / "d.npz"
    np.savez(path, **{alias: arrays[c] for alias, c in zip(keys, datasets.REQUIRED_KEYS)})
    loaded = load_data_path(path)
    assert sorted(loaded.arrays) == sorted(datasets.REQUIRED_KEYS)
    for c in datasets.REQUIRED_KEYS:
        np.testing.assert_array_equal(loaded.arrays[c], arrays[c])
    assert loaded.description["kind"] == "npz"
    assert loaded.description["shapes"]["x_train"] == [20, 32, 32, 3]
    if keys[0] != "x_train":
        assert loaded.description["keys"]["x_train"] == keys[0]


@pytest.mark.parametrize("keys", VAL_SCHEMES, ids=lambda k: k[0])
def test_npz_validation_aliases(tmp_path, keys):
    arrays = _arrays()
    path = tmp_path / "d.npz"
    np.savez(path, **arrays, **{keys[0]: arrays["x_test"][:5], keys[1]: arrays["y_test"][:5]})
    loaded = load_data_path(path)
    assert loaded.arrays["x_val"].shape == (5, 32, 32, 3)
    assert loaded.arrays["y_val"].shape == (5,)


def test_alias_table_is_unambiguous_and_covers_the_documented_names():
    assert canonical_key("train_images") == "x_train"
    assert canonical_key("Y_TEST") == "y_test"
    assert canonical_key("x_valid") == "x_val"
    assert canonical_key("val_images") == "x_val"
    assert canonical_key("something") is None
    assert canonical_key("x") is None
    # every compact spelling maps to exactly one canonical key
    assert set(KEY_ALIASES.values()) == set(datasets.CANONICAL_KEYS)


def test_canonical_name_wins_over_an_alias(tmp_path):
    arrays = _arrays()
    path = tmp_path / "d.npz"
    np.savez(path, **arrays, train_images=np.zeros((3, 32, 32, 3), np.uint8))
    loaded = load_data_path(path)
    assert len(loaded.arrays["x_train"]) == 20
    assert "ignored keys: train_images" in loaded.description["notices"]


def test_two_aliases_for_one_key_are_refused(tmp_path):
    arrays = _arrays()
    path = tmp_path / "d.npz"
    np.savez(
        path,
        train_images=arrays["x_train"],
        X_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
    )
    with pytest.raises(InputError, match="several arrays for the same split") as exc:
        load_data_path(path)
    assert "X_train" in str(exc.value) and "train_images" in str(exc.value)


def test_missing_keys_lists_found_and_expected(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((4, 32, 32, 3), np.uint8), labels=np.arange(4))
    with pytest.raises(InputError) as exc:
        load_data_path(path)
    msg = str(exc.value)
    assert "lacks x_train, y_train, x_test, y_test" in msg
    assert "['images', 'labels']" in msg
    assert "x_train, y_train, x_test, y_test" in msg and "train_images" in msg


def test_half_a_split_is_reported(tmp_path):
    arrays = _arrays()
    path = tmp_path / "d.npz"
    np.savez(path, **arrays, x_val=arrays["x_test"])
    with pytest.raises(InputError, match="lacks y_val"):
        load_data_path(path)


def test_train_and_validation_only_is_accepted(tmp_path):
    a = _arrays()
    path = tmp_path / "d.npz"
    np.savez(path, x_train=a["x_train"], y_train=a["y_train"], x_val=a["x_test"], y_val=a["y_test"])
    assert sorted(load_data_path(path).arrays) == ["x_train", "x_val", "y_train", "y_val"]


def test_length_mismatch_is_an_input_error(tmp_path):
    arrays = _arrays()
    arrays["y_test"] = arrays["y_test"][:7]
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=r"x_test and y_test .* different lengths") as exc:
        load_data_path(path)
    assert "(10, 32, 32, 3)" in str(exc.value) and "(7,)" in str(exc.value)


@pytest.mark.parametrize("cut", [0.5, 0.98, 40])
def test_truncated_npz(tmp_path, cut):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, **_arrays())
    data = path.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    path.write_bytes(data[:n])
    with pytest.raises(InputError, match="truncated or corrupt") as exc:
        load_data_path(path)
    assert "\n" not in str(exc.value)


def test_corrupt_member_npz(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, **_arrays(n_train=60))
    data = bytearray(path.read_bytes())
    data[3000] ^= 0xFF  # inside the compressed x_train stream
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_data_path(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "d.npz"
    path.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(InputError, match="not an npz file"):
        load_data_path(path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(InputError, match="is not an npz, a cifar-10-batches-py folder or a CIFAR-10 tarball"):
        load_data_path(other)


def test_single_npy_is_explained(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((3, 32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="single .npy array"):
        load_data_path(path)


def test_object_array_npz_is_refused_without_unpickling(tmp_path):
    arrays = _arrays()
    arrays["x_train"] = np.array([arrays["x_train"][0], arrays["x_train"][1][:5]], dtype=object)
    arrays["y_train"] = arrays["y_train"][:2]
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match="pickled object array") as exc:
        load_data_path(path)
    assert "'x_train'" in str(exc.value)


def test_string_array_is_refused(tmp_path):
    arrays = _arrays()
    arrays["y_train"] = np.array(["cat"] * 20)
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match="'y_train' .* is not numeric"):
        load_data_path(path)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_data_path(tmp_path / "nope.npz")


def test_folder_with_cifar10_npz(tmp_path):
    np.savez(tmp_path / "cifar10.npz", **_arrays())
    assert load_data_path(tmp_path).description["kind"] == "npz"


def test_folder_without_data_lists_its_entries(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(InputError, match="holds no image data") as exc:
        load_data_path(tmp_path)
    assert "readme.txt" in str(exc.value)


# --- official batches -----------------------------------------------------------------------------
def test_batches_folder(tmp_path):
    raw, expected = _fake_batches()
    folder = _write_folder(tmp_path / "cifar-10-batches-py", raw)
    loaded = load_data_path(folder)
    _assert_matches(loaded, expected)
    assert loaded.description["kind"] == "cifar-10-batches-py"
    # the parent folder works too
    _assert_matches(load_data_path(tmp_path), expected)


def test_batches_with_str_keys_and_new_protocol(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    b = pickle.dumps({"data": x.transpose(0, 3, 1, 2).reshape(3, -1), "labels": [1, 2, 3]}, protocol=5)
    folder = _write_folder(tmp_path / "b", {"data_batch_1": b, "test_batch": b})
    loaded = load_data_path(folder)
    np.testing.assert_array_equal(loaded.arrays["x_train"], x)
    assert loaded.description["notices"] == [
        "missing training batches: data_batch_2, data_batch_3, data_batch_4, data_batch_5"
    ]


def test_tarball_is_read_in_memory(tmp_path):
    raw, expected = _fake_batches()
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(_tarball_bytes(raw))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    loaded = load_data_path(path)
    _assert_matches(loaded, expected)
    assert loaded.description["kind"] == "cifar-10-tarball"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing extracted


def test_truncated_tarball(tmp_path):
    raw, _ = _fake_batches()
    data = _tarball_bytes(raw)
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable tar archive|lacks the CIFAR-10 batches"):
        load_data_path(path)


class _Payload:
    """Unpickling this would create a folder: the restricted unpickler must refuse it."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.makedirs, (self.target,))


def test_batches_never_execute_code(tmp_path):
    marker = tmp_path / "pwned"
    raw, _ = _fake_batches()
    raw["test_batch"] = pickle.dumps({b"data": _Payload(str(marker)), b"labels": [0]}, protocol=2)
    folder = _write_folder(tmp_path / "cifar-10-batches-py", raw)
    with pytest.raises(InputError, match="not an official CIFAR-10 batch"):
        load_data_path(folder)
    assert not marker.exists()


def test_batch_with_wrong_shape(tmp_path):
    raw, _ = _fake_batches()
    raw["test_batch"] = pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2)
    folder = _write_folder(tmp_path / "cifar-10-batches-py", raw)
    with pytest.raises(InputError, match=r"data shape \(2, 100\)"):
        load_data_path(folder)


# --- load_cifar10: Keras cache, download, bundled sample ----------------------------------------
@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("CIFAR_DOCTOR_OFFLINE", "1")
    # Keras' /tmp fallback cache must not leak into these tests
    monkeypatch.setattr(cifar10, "cache_candidates", _only_home_candidates)
    return home


def _only_home_candidates():
    d = cifar10.datasets_dir(cifar10.keras_home())
    return [
        d / datasets.KERAS_EXTRACT_DIR / datasets.BATCHES_DIR,
        d / datasets.BATCHES_DIR,
        d / datasets.KERAS_ARCHIVE_NAME,
    ] + [d / n for n in datasets.LEGACY_ARCHIVE_NAMES]


def test_load_cifar10_falls_back_to_the_bundled_sample(keras_home, capsys):
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    loaded = load_cifar10()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("Notice: ")
    assert "using the bundled CIFAR-10 sample (2500 train / 1000 test images" in lines[0]
    assert "CIFAR_DOCTOR_OFFLINE=1" in lines[0]
    assert loaded.description["source"] == "bundled-sample"
    assert loaded.arrays["x_train"].shape == (2500, 32, 32, 3)
    assert loaded.arrays["y_test"].shape == (1000, 1)
    assert not (keras_home / "datasets").exists()  # nothing written


@pytest.mark.parametrize("layout", ["keras3", "keras2", "keras3-archive", "legacy-tarball"])
def test_load_cifar10_reads_the_keras_cache(keras_home, layout, capsys):
    raw, expected = _fake_batches()
    d = keras_home / "datasets"
    if layout == "keras3":
        _write_folder(d / "cifar-10-batches-py-target" / "cifar-10-batches-py", raw)
    elif layout == "keras2":
        _write_folder(d / "cifar-10-batches-py", raw)
    else:
        d.mkdir(parents=True)
        name = "cifar-10-batches-py-target_archive" if layout == "keras3-archive" else "cifar-10-batches-py.tar.gz"
        (d / name).write_bytes(_tarball_bytes(raw))
    loaded = load_cifar10()
    assert loaded.description["source"] == "keras-cache"
    _assert_matches(loaded, expected)
    assert capsys.readouterr().err == ""


def test_load_cifar10_downloads_where_keras_would(keras_home, monkeypatch, capsys):
    raw, expected = _fake_batches()
    payload = _tarball_bytes(raw)
    monkeypatch.delenv("CIFAR_DOCTOR_OFFLINE")
    monkeypatch.setattr(cifar10, "CIFAR10_SHA256", hashlib.sha256(payload).hexdigest())
    seen = {}

    def fake_urlopen(url, timeout):
        seen["url"], seen["timeout"] = url, timeout
        return io.BytesIO(payload)

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    loaded = load_cifar10()
    assert seen == {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "timeout": cifar10.DOWNLOAD_TIMEOUT_S,
    }
    assert loaded.description["source"] == "keras-download"
    _assert_matches(loaded, expected)
    archive = keras_home / "datasets" / "cifar-10-batches-py-target_archive"
    assert archive.read_bytes() == payload
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]  # no partial file left


def test_load_cifar10_rejects_a_download_with_the_wrong_hash(keras_home, monkeypatch, capsys):
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    monkeypatch.delenv("CIFAR_DOCTOR_OFFLINE")
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: io.BytesIO(b"not the dataset"))
    loaded = load_cifar10()
    assert loaded.description["source"] == "bundled-sample"
    assert "download failed (sha256" in capsys.readouterr().err
    assert list((keras_home / "datasets").iterdir()) == []


def test_load_cifar10_skips_an_unreadable_cache_entry(keras_home, capsys):
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    d = keras_home / "datasets"
    d.mkdir()
    (d / "cifar-10-batches-py.tar.gz").write_bytes(b"\x1f\x8b broken")
    loaded = load_cifar10()
    assert loaded.description["source"] == "bundled-sample"
    assert "unreadable cache entry" in capsys.readouterr().err


# --- the bundled sample and its build script ------------------------------------------------------
def test_bundled_sample_contents():
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    assert SAMPLE.stat().st_size <= 10_000_000
    with np.load(SAMPLE, allow_pickle=False) as d:
        assert sorted(d.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert d["x_train"].shape == (2500, 32, 32, 3) and d["x_train"].dtype == np.uint8
        assert d["x_test"].shape == (1000, 32, 32, 3) and d["x_test"].dtype == np.uint8
        assert d["y_train"].shape == (2500, 1) and d["y_train"].dtype == np.uint8
        assert np.bincount(d["y_train"].ravel()).tolist() == [250] * 10
        assert np.bincount(d["y_test"].ravel()).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
        # spot values of the official arrays (first training image: a frog; first test image: a cat)
        assert d["x_train"][0, 0, 0].tolist() == [59, 62, 63] and int(d["y_train"][0, 0]) == 6
        assert d["x_test"][0, 0, 0].tolist() == [158, 112, 49] and int(d["y_test"][0, 0]) == 3


def test_sample_readme_states_the_real_checksum_and_size():
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    readme = (SAMPLE.parent / "README.md").read_text()
    data = SAMPLE.read_bytes()
    assert hashlib.sha256(data).hexdigest() in readme
    assert f"{len(data):,} bytes" in readme


def _build_script():
    spec = importlib.util.spec_from_file_location("build_sample", ROOT / "scripts" / "build_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_build_script_is_deterministic(tmp_path):
    mod = _build_script()
    y = np.random.default_rng(0).integers(0, 10, 4000)
    idx = mod.sample_indices(y, per_class=20)
    assert len(idx) == 200 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx], minlength=10).tolist() == [20] * 10
    # each class's first 20 occurrences
    assert idx.tolist() == sorted(i for c in range(10) for i in np.flatnonzero(y == c)[:20].tolist())
    arrays = {
        "x_train": np.arange(3 * 32 * 32 * 3, dtype=np.uint8).reshape(3, 32, 32, 3),
        "y_train": np.array([[1], [2], [3]], np.uint8),
    }
    a = mod.write_npz(tmp_path / "a.npz", arrays)
    b = mod.write_npz(tmp_path / "b.npz", arrays)
    assert a == b
    with np.load(tmp_path / "a.npz", allow_pickle=False) as d:
        np.testing.assert_array_equal(d["x_train"], arrays["x_train"])


# --- no TensorFlow, and the CLI's one-line errors -------------------------------------------------
def test_loading_and_label_checks_do_not_import_tensorflow(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, **_arrays())
    code = (
        "import sys\n"
        "from cifar_doctor.sources.datasets import load_data_path, load_cifar10\n"
        "from cifar_doctor.measure.labelinfo import label_info\n"
        "import cifar_doctor.checks.labels.encoding, cifar_doctor.checks.labels.distribution\n"
        f"d = load_data_path({str(path)!r})\n"
        "label_info(d.arrays['y_train'])\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("content", ["truncated", "object", "missing-keys", "absent"])
def test_cli_bad_data_exits_2_with_one_line(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content == "truncated":
        np.savez_compressed(path, **_arrays())
        path.write_bytes(path.read_bytes()[:500])
    elif content == "object":
        np.savez(
            path,
            x_train=np.array([1, "a"], dtype=object),
            y_train=np.arange(2),
            x_test=np.zeros((2, 32, 32, 3)),
            y_test=np.arange(2),
        )
    elif content == "missing-keys":
        np.savez(path, a=np.zeros(3))
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run_cli("check", "--data", str(path), timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(path.name) in lines[0] or "bad.npz" in lines[0]
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert re.search(r"truncated|pickled object array|lacks|does not exist", lines[0])
