"""TFRecord shards of encoded images: read without TensorFlow, the same report on every runner."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifar_doctor.api import build_inputs
from cifar_doctor.engine import run
from cifar_doctor.errors import InputError
from cifar_doctor.runners import DIRECT, runner_named
from cifar_doctor.sources import sampling
from cifar_doctor.sources.tfevents import masked_crc32c
from cifar_doctor.sources.tfrecord import find_shards, parse_example
from test_runners import BEAM_FLAGS, PickleRunner

#: Test images copied into the training shards (PNG: lossless, so the copies stay exact).
COPIES = 6


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def example(image: bytes, label: int, image_key: str = "image/encoded", label_key: str = "image/class/label") -> bytes:
    """A serialized tf.train.Example with an encoded image and an int64 label."""
    img = _field(1, _field(1, image))  # Feature.bytes_list { value }
    lab = _field(3, _field(1, _varint(label)))  # Feature.int64_list { packed value }
    feats = _field(1, _field(1, image_key.encode()) + _field(2, img)) + _field(
        1, _field(1, label_key.encode()) + _field(2, lab)
    )
    return _field(1, feats)


def write_tfrecord(path: Path, records: list[bytes]) -> None:
    """Records framed as tf.io.TFRecordWriter frames them: length, its CRC, data, its CRC."""
    with open(path, "wb") as fh:
        for r in records:
            head = struct.pack("<Q", len(r))
            fh.write(head + struct.pack("<I", masked_crc32c(head)) + r + struct.pack("<I", masked_crc32c(r)))


def png(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(x).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def shards(tmp_path, make_images) -> Path:
    """Train in two shards, test in one; `COPIES` test images also in train."""
    x_train = make_images(240, "uint8", seed=1)
    x_test = make_images(80, "uint8", seed=2)
    x_train[[5, 150, 200, 201, 230, 17]] = x_test[[1, 2, 3, 40, 41, 79]]
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 10, 240), rng.integers(0, 10, 80)
    d = tmp_path / "records"
    d.mkdir()
    for k, part in enumerate((slice(0, 120), slice(120, 240))):
        records = [example(png(x), int(y)) for x, y in zip(x_train[part], y_train[part])]
        write_tfrecord(d / f"train-{k:05d}-of-00002", records)
    write_tfrecord(d / "test-00000-of-00001", [example(png(x), int(y)) for x, y in zip(x_test, y_test)])
    (d / "README.txt").write_text("not a shard")
    return d


def test_parse_example_reads_what_tensorflow_writes():
    # tf.train.Example(features={"label": int64_list [7]}).SerializeToString()
    assert parse_example(bytes.fromhex("0a100a0e0a056c6162656c12051a030a0107")) == {"label": ("int64", [7])}
    record = example(b"\x89PNG...", 3, "image", "label")
    assert parse_example(record) == {"image": ("bytes", [b"\x89PNG..."]), "label": ("int64", [3])}


def test_shards_are_found_by_split(shards):
    found = find_shards(shards)
    assert sorted(found) == ["test", "train"] and len(found["train"]) == 2


def test_tfrecord_folder_is_checked_like_arrays(shards, monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", 100)  # a sample of train; the duplicate checks read all
    inputs = build_inputs(data=shards)
    train = inputs.splits["train"]
    assert train.count == 240 and len(train.x) == 100 and train.x.shape[1:] == (32, 32, 3)
    report = run(inputs).to_dict()
    assert report["inputs"]["data"]["kind"] == "tfrecord"
    dup = next(f for f in report["findings"] if f["code"] == "DUP001")
    assert dup["evidence"]["count"] == COPIES
    assert sorted(map(tuple, dup["evidence"]["pairs"])) == [(5, 1), (17, 79), (150, 2), (200, 3), (201, 40), (230, 41)]
    assert report == run(build_inputs(data=shards, runner=PickleRunner())).to_dict()


def test_damaged_shard_is_one_error(shards):
    path = shards / "test-00000-of-00001"
    raw = bytearray(path.read_bytes())
    raw[8] ^= 0xFF  # the first record's length checksum
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="fails its length checksum"):
        build_inputs(data=shards)


def test_undecodable_record_is_a_notice(shards):
    path = shards / "test-00000-of-00001"
    write_tfrecord(path, [example(b"not an image", 1)] + [example(png(np.zeros((32, 32, 3), np.uint8)), 2)] * 3)
    inputs = build_inputs(data=shards)
    notices = inputs.provenance["data"]["notices"]
    assert any("unreadable" in n and "record 0" in n for n in notices)


@pytest.mark.slow
@pytest.mark.tf
def test_tensorflow_written_shards(tmp_path, make_images):
    tf = pytest.importorskip("tensorflow")
    x = make_images(30, "uint8", seed=3)
    for split, part in (("train", x[:20]), ("test", x[20:])):
        with tf.io.TFRecordWriter(str(tmp_path / f"{split}.tfrecord")) as w:
            for i, im in enumerate(part):
                feature = {
                    "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[png(im)])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 10])),
                }
                w.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    inputs = build_inputs(data=tmp_path)
    np.testing.assert_array_equal(inputs.splits["train"].x, x[:20])
    np.testing.assert_array_equal(inputs.splits["test"].y, np.arange(10))


@pytest.mark.slow
@pytest.mark.beam
def test_beam_pipeline_reads_tfrecord_shards(shards, monkeypatch):
    pytest.importorskip("apache_beam")
    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", 100)
    direct = run(build_inputs(data=shards, runner=DIRECT)).to_dict()
    beam = run(build_inputs(data=shards, runner=runner_named("beam", BEAM_FLAGS))).to_dict()
    assert direct == beam


@pytest.mark.parametrize(
    "damage,says",
    [
        (lambda raw: raw[:-7], "declares"),  # the last record cut short
        (lambda raw: raw + b"\x01\x02", "header cut short"),  # a partial header after the last record
        (
            lambda raw: struct.pack("<Q", 1 << 40) + struct.pack("<I", masked_crc32c(struct.pack("<Q", 1 << 40))) + raw,
            "declares",
        ),
    ],
    ids=["truncated", "partial-header", "forged-length"],
)
def test_hostile_shards_are_refused(shards, damage, says):
    path = shards / "train-00001-of-00002"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(InputError, match=says):
        build_inputs(data=shards)
