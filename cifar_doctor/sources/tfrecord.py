"""TFRecord shards of encoded images (`tf.train.Example`), read without TensorFlow.

A folder of shards named by split, as TensorFlow Datasets and the ImageNet
conversion scripts write them (`train-00000-of-01024`, `cifar10-train.tfrecord-00000-of-00001`,
`validation-00007-of-00128.tfrecord`, `test.tfrecord`): each record is an `Example` whose
features hold the encoded image (`image/encoded` or `image`, JPEG or PNG bytes) and its
class (`image/class/label` or `label`, an int64).

The shards are indexed once by reading only the records' 12-byte headers (the
length, then its checksum, which is verified) and seeking over the data: a
record is then read with one `os.pread` where it lies, so any worker can read any
record. The image bytes are decoded with Pillow as image folders are
(`cifar_doctor.sources.folders`): RGB, 0-255, at the most common size of the
sampled training images. The record data's own checksum is not computed (CRC-32C
in Python would cost more than decoding the image); a record that does not
parse, or an image that does not decode, is reported, not fatal.

Labels are inside the records, so reading every label would read every byte:
the sample is drawn evenly over each split's records (`sampling` method `even`)
and its labels are read with its images.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from . import sampling
from .base import CHUNK_IMAGES, LoadedData
from .folders import MAX_IMAGE_FILE_BYTES, Unreadable, as_array, decode_stream
from .regular import open_fd
from .sampling import SampleInfo, sample_indices
from .tfevents import masked_crc32c

#: Feature names of the encoded image, tried in this order (TF-slim/ImageNet, then TensorFlow Datasets).
IMAGE_KEYS = ("image/encoded", "image", "image_raw", "encoded")

#: Feature names of the class index, tried in this order.
LABEL_KEYS = ("image/class/label", "label", "class")

#: A shard's name: the split's name as a word of it, and `tfrecord` in it or a `-NNNNN-of-NNNNN` suffix.
SHARD_PATTERN = re.compile(r"(tfrecord|-\d{5}-of-\d{5})", re.IGNORECASE)

#: Split names in shard names, by the canonical split.
SPLIT_WORDS = {"train": ("train", "training"), "test": ("test", "testing"), "val": ("val", "validation", "valid")}

#: Records indexed in one split: ImageNet-21k has 14.2 million images.
MAX_RECORDS = 50_000_000

#: Largest record read: an encoded image plus its features (`folders.MAX_IMAGE_FILE_BYTES`, 64 MB).
MAX_RECORD_BYTES = MAX_IMAGE_FILE_BYTES + (1 << 20)

#: The header of a record: its length (little-endian uint64) and the length's masked CRC-32C.
HEADER_BYTES = 12

#: The bytes after a record's data: the data's masked CRC-32C.
FOOTER_BYTES = 4


def _split_of(name: str) -> str | None:
    words = set(re.split(r"[-_.]", name.lower()))
    for split, names in SPLIT_WORDS.items():
        if words & set(names):
            return split
    return None


def find_shards(p: Path) -> dict[str, list[Path]]:
    """Split -> its shard files, sorted by name (empty when the folder holds none)."""
    shards: dict[str, list[Path]] = {}
    try:
        entries = sorted(os.listdir(p))
    except OSError:
        return {}
    for name in entries:
        split = _split_of(name)
        if split is not None and SHARD_PATTERN.search(name) and (p / name).is_file():
            shards.setdefault(split, []).append(p / name)
    return shards if "train" in shards else {}


def _index(path: Path) -> tuple[list[int], list[int]]:
    """(data offsets, data lengths) of every record of one shard, from the record headers only."""
    offsets, lengths = [], []
    fd = open_fd(path)
    try:
        size, pos = os.fstat(fd).st_size, 0
        while pos < size:
            head = os.pread(fd, HEADER_BYTES, pos)
            if len(head) < HEADER_BYTES:
                raise _bad(path, f"a record header cut short at byte {pos:,}")
            (length,) = struct.unpack("<Q", head[:8])
            if struct.unpack("<I", head[8:])[0] != masked_crc32c(head[:8]):
                raise _bad(path, f"the record at byte {pos:,} fails its length checksum")
            if length > MAX_RECORD_BYTES or pos + HEADER_BYTES + length + FOOTER_BYTES > size:
                raise _bad(path, f"the record at byte {pos:,} declares {length:,} bytes")
            offsets.append(pos + HEADER_BYTES)
            lengths.append(length)
            pos += HEADER_BYTES + length + FOOTER_BYTES
            if len(offsets) > MAX_RECORDS:
                raise _bad(path, f"more than {MAX_RECORDS:,} records")
    finally:
        os.close(fd)
    return offsets, lengths


def _bad(path: Path, why: str) -> InputError:
    return InputError(
        f"Cannot read data: {path} is not a complete TFRecord file ({why})",
        expected="TFRecord shards of tf.train.Example records, as tf.io.TFRecordWriter writes them",
        hint="Write the shard again, or leave it out of the folder",
    )


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        out |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return out, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: varints as ints, length-delimited as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field")
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield field, wire, value


def parse_example(record: bytes) -> dict[str, tuple[str, list[Any]]]:
    """The features of a serialized `tf.train.Example`: name -> (kind, values), kind `bytes` or `int64`
    (float features are skipped).

    Example:

    >>> record = bytes.fromhex("0a100a0e0a056c6162656c12051a030a0107")
    >>> parse_example(record)
    {'label': ('int64', [7])}
    """
    out: dict[str, tuple[str, list[Any]]] = {}
    for f, w, features in _fields(record):
        if f != 1 or w != 2:
            continue
        for g, v, entry in _fields(features):  # Features.feature: map<string, Feature>
            if g != 1 or v != 2:
                continue
            name, feature = "", b""
            for h, _, value in _fields(entry):
                if h == 1:
                    name = bytes(value).decode("utf-8", "replace")
                elif h == 2:
                    feature = value
            for kind, _, values in _fields(feature):  # oneof: 1 bytes_list, 2 float_list, 3 int64_list
                if kind == 1:
                    out[name] = ("bytes", [bytes(x) for n, _, x in _fields(values) if n == 1])
                elif kind == 3:
                    out[name] = ("int64", _int64s(values))
    return out


def _int64s(values: bytes) -> list[int]:
    """The values of an `Int64List` (packed or not), as signed integers."""
    out: list[int] = []
    for n, wire, x in _fields(values):
        if n != 1:
            continue
        if wire == 2:  # packed
            pos = 0
            while pos < len(x):
                v, pos = _varint(x, pos)
                out.append(v - (1 << 64) if v >= 1 << 63 else v)
        elif wire == 0:
            out.append(x - (1 << 64) if x >= 1 << 63 else x)
    return out


def _image_and_label(record: bytes) -> tuple[bytes | None, int | None]:
    feats = parse_example(record)
    image = next((v[1][0] for k in IMAGE_KEYS if (v := feats.get(k)) and v[0] == "bytes" and v[1]), None)
    label = next((v[1][0] for k in LABEL_KEYS if (v := feats.get(k)) and v[0] == "int64" and v[1]), None)
    return image, label


def _decoded(record: bytes) -> tuple[Any, int | None, str | None]:
    """(Pillow image or None, label or None, why the image is missing or None) of one record."""
    try:
        data, label = _image_and_label(record)
    except ValueError as exc:
        return None, None, f"not a tf.train.Example ({exc})"
    if data is None:
        return None, label, f"no image feature ({' or '.join(IMAGE_KEYS)})"
    try:
        return decode_stream(io.BytesIO(data))[0], label, None
    except Unreadable as exc:
        return None, label, str(exc)


class TfRecordSource:
    """A `DataSource` over the records of a split's TFRecord shards: decoded, RGB, at the target size."""

    def __init__(self, shards: list[Path], shard_ids: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> None:
        # not `files`: a source's `files` are one per image (DUP001 names them in its evidence)
        self.shards, self.shard_ids, self.offsets, self.lengths = shards, shard_ids, offsets, lengths
        self.count = len(offsets)
        self.target: tuple[int, int] = (0, 0)
        self.unreadable: list[tuple[int, str]] = []
        self.description = f"{len(shards)} TFRecord shard(s) in {shards[0].parent} ({self.count:,} records)"

    def records(self, indices: Sequence[int] | np.ndarray) -> list[bytes]:
        """The serialized records at `indices`, each read with one `os.pread` from its shard."""
        out: list[bytes] = []
        fds: dict[int, int] = {}
        try:
            for i in np.asarray(indices, dtype=np.int64).tolist():
                f = int(self.shard_ids[i])
                if f not in fds:
                    fds[f] = open_fd(self.shards[f])
                out.append(os.pread(fds[f], int(self.lengths[i]), int(self.offsets[i])))
        finally:
            for fd in fds.values():
                os.close(fd)
        return out

    def decoded(self, indices: Sequence[int] | np.ndarray) -> tuple[list[Any], list[int | None], list[str | None]]:
        """Pillow images (None where unreadable), labels and the reason each unreadable one failed."""
        images: list[Any] = []
        labels: list[int | None] = []
        why: list[str | None] = []
        for record in self.records(indices):
            image, label, reason = _decoded(record)
            images.append(image)
            labels.append(label)
            why.append(reason)
        return images, labels, why

    def take(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        images, _, _ = self.decoded(indices)
        blank = np.zeros((*self.target, 3), np.uint8)  # an unreadable record keeps positions aligned
        rows = [as_array(img, self.target) if img is not None else blank for img in images]
        return np.stack(rows) if rows else np.zeros((0, *self.target, 3), np.uint8)

    def chunks(self, size: int = CHUNK_IMAGES) -> Iterator[np.ndarray]:
        for start in range(0, self.count, size):
            yield self.take(np.arange(start, min(start + size, self.count)))


def split_source(files: list[Path]) -> TfRecordSource:
    """The records of one split's shards, indexed from their headers."""
    ids, offs, lens = [], [], []
    for k, path in enumerate(files):
        o, n = _index(path)
        ids.extend([k] * len(o))
        offs.extend(o)
        lens.extend(n)
    return TfRecordSource(files, np.asarray(ids, np.int32), np.asarray(offs, np.int64), np.asarray(lens, np.int64))


def load_tfrecord_dir(p: Path, shards: dict[str, list[Path]], sample_size: int | None = None) -> LoadedData:
    """A folder of TFRecord shards: an even sample of each split decoded, the records indexed for full passes."""
    n = sample_size or sampling.SAMPLE_IMAGES
    sources = {split: split_source(files) for split, files in shards.items()}
    arrays: dict[str, np.ndarray] = {}
    samples: dict[str, SampleInfo] = {}
    decoded: dict[str, tuple[np.ndarray, list[Any], list[int | None], list[str | None]]] = {}
    notices: list[str] = []
    for split, src in sources.items():
        if src.count == 0:
            raise InputError(
                f"Cannot read data: the {split} shards in {p} hold no records",
                expected="TFRecord shards of tf.train.Example records",
                hint="Check the folder",
            )
        idx, method = sample_indices(src.count, n, None)
        decoded[split] = (idx, *src.decoded(idx))
    sizes = Counter((img.height, img.width) for img in decoded["train"][1] if img is not None)
    if not sizes:
        raise InputError(
            f"Cannot read data: no training record in {p} holds an image that decodes",
            expected=f"tf.train.Example records with an encoded image in {' or '.join(IMAGE_KEYS)}",
            hint="Check the feature names with tf.train.Example.FromString(record)",
        )
    target = sizes.most_common(1)[0][0]
    for split, (idx, images, labels, why) in decoded.items():
        src = sources[split]
        src.target = target
        bad = [(int(i), w) for i, w in zip(idx.tolist(), why) if w is not None]
        src.unreadable = bad
        if bad:
            notices.append(f"{len(bad)} sampled {split} records unreadable (first: record {bad[0][0]}: {bad[0][1]})")
        blank = np.zeros((*target, 3), np.uint8)
        arrays[f"x_{split}"] = np.stack([as_array(im, target) if im is not None else blank for im in images])
        if all(label is not None for label in labels):
            arrays[f"y_{split}"] = np.asarray(labels, dtype=np.int64)
        else:
            notices.append(f"{split} records without a label ({' or '.join(LABEL_KEYS)}): labels not checked")
        samples[split] = SampleInfo(src.count, len(idx), "even", indices=idx)
    description = {
        "kind": "tfrecord",
        "path": str(p),
        "shards": {split: len(files) for split, files in shards.items()},
        "shapes": {f"x_{split}": [src.count, *target, 3] for split, src in sources.items()},
        "dtypes": {k: str(v.dtype) for k, v in arrays.items()},
        "notices": notices,
    }
    return LoadedData(arrays, description, full=dict(sources), samples=samples)


class TfRecordFolder:
    """A folder of TFRecord shards named by split (`train-00000-of-00004`, `test.tfrecord`, ...)."""

    name = "tfrecord-folder"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is None and bool(find_shards(path))

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        return load_tfrecord_dir(path, find_shards(path))


READER = TfRecordFolder()
