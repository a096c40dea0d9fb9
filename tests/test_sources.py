"""Data sources beyond in-memory arrays: .npy folders, memory maps, image folders, tf.data pipelines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cifar_doctor.errors import InputError
from cifar_doctor.sources import sampling
from cifar_doctor.sources.datasets import load_data_path
from cifar_doctor.sources.sampling import SampleInfo, sample_indices
from conftest import run_cli


# --- the sample ------------------------------------------------------------------------------------
def test_stratified_sample_keeps_class_shares():
    y = np.repeat(np.arange(4), [700, 200, 90, 10])
    idx, method = sample_indices(len(y), 100, y)
    assert method == "stratified" and len(idx) == 100
    assert np.all(np.diff(idx) > 0)  # sorted: a file is read front to back
    counts = np.bincount(y[idx], minlength=4)
    assert counts.tolist() == [70, 20, 9, 1]


def test_sample_without_labels_is_even_and_small_data_is_whole():
    idx, method = sample_indices(1000, 10)
    assert method == "even" and idx[0] == 0 and idx[-1] == 999
    idx, _ = sample_indices(50, 100, np.zeros(50))
    assert len(idx) == 50


def test_sample_says_what_it_can_rule_out():
    info = SampleInfo(total=1_000_000, taken=10_000, method="stratified")
    assert 2.9e-4 < info.rule_out_fraction < 3.1e-4  # the rule of three: about 3/n
    assert "0.03%" in info.limits() and "rarer ones can be missed" in info.limits()
    assert SampleInfo(total=500, taken=500, method="stratified").limits() == "every image was read"


# --- .npy files, read in chunks -----------------------------------------------------------------------
def _npy_folder(d: Path, make_images, make_labels, n_train=3000, n_test=600, test_scale="uint8"):
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / "x_train.npy", make_images(n_train, seed=1))
    np.save(d / "y_train.npy", make_labels(n_train, column=True))
    np.save(d / "x_test.npy", make_images(n_test, scale=test_scale, seed=2))
    np.save(d / "y_test.npy", make_labels(n_test, seed=3, column=True))
    return d


def test_npy_folder_is_sampled_and_read_in_full_by_the_duplicate_check(tmp_path, make_images, make_labels, monkeypatch):
    from cifar_doctor import diagnose  # noqa: F401 - the same engine as the CLI
    from cifar_doctor.api import build_inputs
    from cifar_doctor.engine import run

    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", 500)
    d = _npy_folder(tmp_path / "arrays", make_images, make_labels)
    x_test = np.load(d / "x_test.npy")
    x_train = np.load(d / "x_train.npy", mmap_mode="r")
    x_test[-7:] = x_train[2990:2997]  # copies far outside any sample of the first images
    np.save(d / "x_test.npy", x_test)
    loaded = load_data_path(d)
    assert loaded.description["kind"] == "npy-folder"
    assert len(loaded.arrays["x_train"]) == 500 and loaded.samples["train"].total == 3000
    assert loaded.samples["train"].method == "stratified"
    report = run(build_inputs(data=loaded), select_codes=["DUP001"])
    (dup,) = report.findings
    assert dup.evidence["count"] == 7 and dup.evidence["eval_images"] == 600
    assert [2990, 593] in dup.evidence["pairs"]
    split = report.to_dict()["inputs"]["splits"]["train"]
    assert split["sample"]["taken"] == 500 and split["sample"]["total"] == 3000


def test_npy_folder_finds_the_scale_bug(tmp_path, make_images, make_labels):
    d = _npy_folder(tmp_path / "arrays", make_images, make_labels, test_scale="raw-float")
    np.save(d / "x_train.npy", make_images(3000, scale="unit", seed=1))
    res = run_cli("check", "--data", str(d), "--json")
    report = json.loads(res.stdout)
    assert res.returncode == 1
    assert report["verdict"]["cause"] == "eval-input-scale-mismatch"


@pytest.mark.parametrize(
    "problem, match",
    [
        ("missing labels", "no y_test.npy"),
        ("short file", "short by"),
        ("object array", "not a .npy array|not a numeric"),
        ("length mismatch", "different lengths"),
    ],
)
def test_npy_folder_bad_input(tmp_path, make_images, make_labels, problem, match):
    d = _npy_folder(tmp_path / "arrays", make_images, make_labels, n_train=100, n_test=50)
    if problem == "missing labels":
        (d / "y_test.npy").unlink()
    elif problem == "short file":
        raw = (d / "x_train.npy").read_bytes()
        (d / "x_train.npy").write_bytes(raw[: len(raw) // 2])
    elif problem == "object array":
        np.save(d / "y_train.npy", np.array([{"a": 1}] * 100, dtype=object), allow_pickle=True)
    else:
        np.save(d / "y_train.npy", make_labels(90))
    with pytest.raises(InputError, match=match):
        load_data_path(d)


def test_memmap_given_to_diagnose_is_sampled_not_paged_in(tmp_path, make_images, make_labels, monkeypatch):
    from cifar_doctor.api import build_inputs

    monkeypatch.setattr("cifar_doctor.api.SAMPLE_IMAGES", 400)
    np.save(tmp_path / "x.npy", make_images(2000, seed=4))
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    inputs = build_inputs(
        x_train=x, y_train=make_labels(2000), x_test=make_images(100, seed=5), y_test=make_labels(100)
    )
    tr = inputs.splits["train"]
    assert len(tr.x) == 400 and tr.count == 2000 and not isinstance(tr.x, np.memmap)
    assert np.array_equal(np.concatenate(list(tr.chunks(512))), np.asarray(x))


# --- image folders (the `photos` fixture is in conftest.py) -----------------------------------------
def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _codes(report) -> dict[str, object]:
    return {f["code"]: f for f in report["findings"]}


def test_folders_find_copied_test_images(photos, tmp_path):
    import shutil

    root = _copy(photos, tmp_path / "photos")
    copied = sorted((root / "test").rglob("*.png"))[:50]
    for p in copied:
        shutil.copy(p, root / "train" / p.parent.name / f"copy_{p.name}")
    report = json.loads(run_cli("check", "--data", str(root), "--json").stdout)
    dup = _codes(report)["DUP001"]
    assert dup["evidence"]["count"] == 50
    train_file, test_file = dup["evidence"]["files"][0]
    assert Path(train_file).name == f"copy_{Path(test_file).name}"


def test_train_and_eval_folders_given_apart(photos):
    res = run_cli("check", "--train", str(photos / "train"), "--eval", str(photos / "test"), "--json")
    assert res.returncode in (0, 1), res.stderr
    assert json.loads(res.stdout)["inputs"]["folders"]["splits"]["test"]["images"] == 300
    bad = run_cli("check", "--train", str(photos / "train"))
    assert bad.returncode == 2 and "--eval" in bad.stderr


def test_folders_and_npy_do_not_import_tensorflow(photos, tmp_path, make_images, make_labels):
    d = _npy_folder(tmp_path / "arrays", make_images, make_labels, n_train=200, n_test=100)
    code = (
        "import sys\n"
        "from cifar_doctor.api import build_inputs\n"
        "from cifar_doctor.engine import run\n"
        "from cifar_doctor.sources.datasets import load_data_path\n"
        f"for p in ({str(photos)!r}, {str(d)!r}):\n"
        "    run(build_inputs(data=load_data_path(p)))\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# --- tf.data, PyDataset, iterators ---------------------------------------------------------------------
@pytest.mark.tf
def test_tf_data_gives_the_same_verdict_as_the_arrays(make_images, make_labels):
    import tensorflow as tf

    from cifar_doctor import diagnose

    x_train, y_train = make_images(1200, scale="unit", seed=1), make_labels(1200)
    x_test, y_test = make_images(400, scale="raw-float", seed=2), make_labels(400, seed=2)
    x_test[:20] = x_train[:20] * 255  # leaked, on the test scale
    arrays = diagnose(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(64)
    test_ds = tf.data.Dataset.from_tensor_slices({"image": x_test, "label": y_test})  # unbatched, dict elements
    piped = diagnose(x_train=train_ds, x_test=test_ds)
    assert piped.verdict.cause == arrays.verdict.cause == "eval-input-scale-mismatch"
    assert {f.code for f in piped.findings} == {f.code for f in arrays.findings}
    dup = next(f for f in piped.findings if f.code == "DUP001")
    assert dup.evidence["count"] == 20
    splits = piped.to_dict()["inputs"]["splits"]
    assert splits["test"]["sample"]["total"] == 400 and splits["train"]["source"] == "tf.data pipeline"


@pytest.mark.tf
def test_pydataset_and_generators(make_images, make_labels):
    import keras

    from cifar_doctor import diagnose

    x, y = make_images(300, scale="unit"), make_labels(300)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return x[i * 30 : (i + 1) * 30], y[i * 30 : (i + 1) * 30]

    gen = ((x[i : i + 50] * 255, y[i : i + 50]) for i in range(0, 300, 50))
    report = diagnose(x_train=Batches(), x_test=gen)
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert report.to_dict()["inputs"]["splits"]["test"]["sample"]["method"] == "head"


def test_large_npz_with_stored_members_is_read_in_chunks(tmp_path, make_images, make_labels, monkeypatch):
    from cifar_doctor.sources import npz

    monkeypatch.setattr(npz, "CHUNKED_ABOVE_BYTES", 100_000)
    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", 200)
    x, y = make_images(400, seed=6), make_labels(400)
    np.savez(tmp_path / "big.npz", x_train=x, y_train=y, x_test=x[:100], y_test=y[:100])
    loaded = load_data_path(tmp_path / "big.npz")
    assert loaded.samples["train"].total == 400 and len(loaded.arrays["x_train"]) == 200
    assert np.array_equal(np.concatenate(list(loaded.full["train"].chunks(128))), x)
    np.savez_compressed(tmp_path / "small.npz", x_train=x, y_train=y, x_test=x[:100], y_test=y[:100])
    with pytest.raises(InputError, match="compressed"):
        load_data_path(tmp_path / "small.npz")


def test_compressed_npz_members_read_side_by_side(tmp_path, make_images, make_labels, monkeypatch):
    """Members inflated in threads give np.load's arrays; a corrupt one is still one clear error."""
    import zipfile

    from cifar_doctor.sources import npz

    monkeypatch.setattr(npz, "PARALLEL_READ_BYTES", 1000)
    monkeypatch.setattr(npz, "available_cores", lambda: 2)
    x, y = make_images(300, seed=8), make_labels(300)
    path = tmp_path / "c.npz"
    np.savez_compressed(path, x_train=x, y_train=y, x_test=x[:120], y_test=y[:120])
    loaded = load_data_path(path)
    with np.load(path) as want:
        for key in want.files:
            np.testing.assert_array_equal(loaded.arrays[key], want[key])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("x_test.npy")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # the member's deflated bytes
    raw[start + info.compress_size // 2 : start + info.compress_size // 2 + 64] = bytes(64)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_data_path(bad)


@pytest.mark.parametrize("backend", ["libdeflate", "isal", "zlib"])
def test_deflated_members_inflate_into_the_arrays_np_load_gives(
    tmp_path, make_images, make_labels, monkeypatch, backend
):
    """Every dtype and order np.savez_compressed writes reads back as np.load reads it, with libdeflate in
    one call or either streaming inflate; a member with bytes past its array is read as far as the array,
    one whose stream ends before its directory says is refused."""
    import zipfile
    import zlib

    from cifar_doctor.sources import inflate

    whole: list[bool] = []
    if backend == "libdeflate":
        pytest.importorskip("deflate")
        one_call = inflate._inflate_whole
        monkeypatch.setattr(inflate, "_inflate_whole", lambda fh, info: whole.append(True) or one_call(fh, info))
    else:
        monkeypatch.setattr(inflate, "_libdeflate", None)  # members streamed
    if backend == "zlib":
        monkeypatch.setattr(inflate, "_zlib", zlib)
    elif backend == "isal":
        pytest.importorskip("isal")
    monkeypatch.setattr(inflate, "READ_CHUNK_BYTES", 1000)  # many steps, a header split across them
    monkeypatch.setattr(inflate, "INFLATE_CHUNK_BYTES", 777)
    x, y = make_images(60, seed=3), make_labels(60)
    path = tmp_path / "kinds.npz"
    np.savez_compressed(
        path,
        x_train=np.asfortranarray(x.astype(np.float32) / 255),
        y_train=y.astype(np.int16),
        x_test=x[:20].astype(">f8"),
        y_test=y[:20],
    )
    loaded = load_data_path(path)
    with np.load(path) as want:
        for key in want.files:
            np.testing.assert_array_equal(loaded.arrays[key], want[key])
    assert loaded.arrays["x_train"].flags.writeable
    assert len(whole) == (4 if backend == "libdeflate" else 0)

    # the same members with bytes after the array, and with a stream cut short
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    longer = tmp_path / "longer.npz"
    with zipfile.ZipFile(longer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data + (bytes(100) if name == "y_train.npy" else b""))
    np.testing.assert_array_equal(load_data_path(longer).arrays["y_train"], y.astype(np.int16))
    raw = bytearray(longer.read_bytes())
    entry = raw.index(b"x_test.npy", raw.index(b"PK\x01\x02")) - 46  # its central directory record
    declared = int.from_bytes(raw[entry + 20 : entry + 24], "little")
    raw[entry + 20 : entry + 24] = (declared - 100).to_bytes(4, "little")  # its stream cut 100 bytes short
    short = tmp_path / "short.npz"
    short.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_data_path(short)


def test_near_duplicates_on_a_sampled_split_search_the_full_data(tmp_path, make_images, make_labels, monkeypatch):
    from cifar_doctor.api import build_inputs
    from cifar_doctor.checks.duplicates import near as near_duplicates
    from cifar_doctor.engine import run

    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", 300)
    monkeypatch.setattr(near_duplicates, "NEAR_PAIR_BUDGET", 2000 * 400)  # 400 of the 800 test images searched
    monkeypatch.setattr(near_duplicates, "NEAR_MIN_QUERIES", 10)
    d = _npy_folder(tmp_path / "arrays", make_images, make_labels, n_train=2000, n_test=800)
    x_train = np.load(d / "x_train.npy")
    x_test = np.load(d / "x_test.npy")
    for j in range(0, 800, 8):  # 100 copies, shifted by a pixel and brightened, of the last training images
        x_test[j] = np.clip(np.roll(x_train[1900 + j // 8], 1, axis=1).astype(int) + 6, 0, 255)
    np.save(d / "x_test.npy", x_test)
    report = run(build_inputs(data=load_data_path(d)), select_codes=["DUP002"])
    (f,) = report.findings
    ev = f.evidence
    assert ev["eval_images"] == 800 and ev["searched"] == 400
    assert 40 <= ev["count"] <= 60  # the evenly spaced 400 hold about half of the 100 copies
    lo, hi = ev["estimate"]["fraction_interval_95"]
    assert lo < 0.125 < hi
    assert all(p[0] >= 1900 for p in ev["pairs"])  # found in training images outside the sample


def test_near_duplicates_with_train_raw_and_test_divided_by_255(make_images):
    from cifar_doctor.api import build_inputs
    from cifar_doctor.checks.duplicates.near import train_test_near_duplicates

    x_train = make_images(600, seed=8)
    x_test = make_images(200, seed=9).astype(np.float32)
    x_test[:30] = np.clip(np.roll(x_train[:30], 1, axis=2).astype(np.float32) + 5, 0, 255)
    (f,) = train_test_near_duplicates(build_inputs(x_train=x_train, x_test=x_test / 255))
    assert f.evidence["count"] >= 25 and f.evidence["compared_as"] == "canonical 0-255 pixels"
