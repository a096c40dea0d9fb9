"""Training histories from TensorBoard event files, without TensorFlow.

`keras.callbacks.TensorBoard(log_dir)` writes a run as `train/` and
`validation/` folders of `events.out.tfevents.*` files, each a TFRecord file of
`Event` protocol buffers. Keras 3 and tf.keras 2.x write per-epoch scalars as
tensor summaries (`tf.summary.scalar("epoch_loss", ...)`, tags `epoch_loss`,
`epoch_accuracy`, `epoch_learning_rate`, step = the 0-based epoch);
standalone Keras 2 wrote `simple_value` summaries tagged `loss`, `val_acc`, ...
in `log_dir` itself. `read_tensorboard(path)` turns either into the
`cifar_doctor.inputs.History` a CSVLogger file of the same run gives:
`epoch_loss` in `train/` is `loss`, in `validation/` `val_loss`.

The TFRecord framing (a little-endian uint64 length, the masked CRC32C of
those 8 bytes, the data, the masked CRC32C of the data) and the few
`Event`/`Summary`/`TensorProto` fields used are decoded here, in pure Python:

- the length's checksum is verified on every record, so a record boundary is
  never taken from corrupted bytes;
- the data's checksum is verified on every record whose values are used
  (those holding per-epoch scalars) and on every record that does not decode.
  Other records (graphs, histograms, images) are not checksummed: their bytes
  are never used, and a pure-Python CRC32C runs at ~3 MB/s, which a model
  graph or image summaries written every epoch would make slow;
- a record over `MAX_RECORD_BYTES` is skipped without being read (after
  checking that the file holds it), so a declared length never sizes an
  allocation.

A last record cut short (a run still writing, or killed) is dropped and
`History.truncated` is set, as for a console log cut mid-epoch; a file whose
very first record is cut, or any checksum mismatch, is refused. Nothing here
imports TensorFlow, protobuf or NumPy.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputError
from ..records import History
from .history import history_from_dict
from .logstream import LogInput
from .regular import open_regular

#: Largest record read into memory, in bytes. An epoch's scalar event is about
#: 100 bytes, and even a summary of hundreds of scalars is a few kB; larger
#: records hold a graph, an image or a histogram, which are skipped unread.
MAX_RECORD_BYTES = 1 << 20

#: Largest event file read. One scalar record is ~100 bytes, so 256 MiB is over
#: two million values: more than any per-epoch history (per-batch logging of a
#: long run stays under it too); a larger file is refused before it is read.
MAX_EVENT_FILE_BYTES = 256 << 20

#: Records read from all event files of a run together. Bounds the time of a
#: pure-Python pass (about 10 µs a record): 2,000,000 records are ~20 s.
MAX_RECORDS = 2_000_000

#: Largest record parsed for scalars. A scalar event is ~100 bytes and a summary of hundreds
#: of scalars a few kB; a larger record holds an image, a histogram or a graph and is
#: skipped unparsed, which also bounds the pure-Python checksum of each record used.
MAX_SCALAR_RECORD_BYTES = 64 << 10

#: Protocol buffer fields parsed in one record. A scalar event has about 10 and a summary of
#: hundreds of scalars a few thousand; a record with more is no scalar summary and is skipped,
#: as records over `MAX_RECORD_BYTES` are, after this many fields (~10 ms of parsing).
MAX_RECORD_FIELDS = 20_000

#: Protocol buffer fields parsed from all event files of a run together, skipped records
#: included. Bounds the time of the pure-Python parse (about 0.5 µs a field, ~10 s) the way
#: `MAX_RECORDS` bounds the records: 2,000,000 scalar events of ~10 fields each.
MAX_FIELDS = 20_000_000

#: Event files read from one run. Keras writes one per folder per `fit()`
#: call; hundreds mean a folder of many runs or a log folder gone wrong.
MAX_EVENT_FILES = 1_000

#: Folder levels searched below the given folder for event files:
#: `logs/fit/20240101-120000/train/events...` is 4 levels below `logs`.
MAX_DEPTH = 4

#: Folder entries looked at while searching (a log folder is small; a home
#: folder passed by mistake is not searched for minutes).
MAX_WALK_ENTRIES = 20_000

#: Runs named when a folder holds several.
MAX_RUNS_SHOWN = 8

#: Events whose records are read: `tfevents` appears in the file names
#: every TensorBoard writer produces (`events.out.tfevents.<time>.<host>...`).
EVENT_FILE_MARK = "tfevents"

#: Sub-folder names Keras' TensorBoard callback writes and the prefix their
#: metrics get in a Keras History (`validation/epoch_loss` -> `val_loss`).
SPLIT_PREFIXES = {"train": "", "validation": "val_"}

#: Tag prefix of Keras' per-epoch scalars; per-batch ones start `batch_`.
EPOCH_TAG_PREFIX = "epoch_"

#: TensorFlow `DataType` codes of numeric scalars: float, double, int32,
#: int64, bfloat16, half, with the `TensorProto` field holding their values.
_DTYPES = {1: "float", 2: "double", 3: "int32", 9: "int64", 14: "bfloat16", 19: "half"}
_TENSOR_CONTENT_FORMATS = {"float": "<f", "double": "<d", "int32": "<i", "int64": "<q"}


# ------------------------------------------------------------------------------------
# CRC32C (Castagnoli), table-driven, and TFRecord's masking
# ------------------------------------------------------------------------------------
def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC32C of `data` (the checksum TFRecord uses).

    Example:

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C: the CRC rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def looks_like_event_file(head: bytes) -> bool:
    """Whether `head` (the first bytes of a file) starts with a TFRecord header whose checksum holds."""
    return len(head) >= 12 and masked_crc32c(head[:8]) == struct.unpack("<I", head[8:12])[0]


# ------------------------------------------------------------------------------------
# Protocol buffer wire format: just enough for Event, Summary and TensorProto
# ------------------------------------------------------------------------------------
class _Malformed(Exception):
    """Bytes that are not the protocol buffer they should be."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    if pos < len(buf) and buf[pos] < 0x80:  # one byte: field keys and short lengths
        return buf[pos], pos + 1
    result = shift = 0
    for i in range(pos, min(pos + 10, len(buf))):
        b = buf[i]
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i + 1
        shift += 7
    raise _Malformed("bad varint")


class _FieldBudget:
    """Protocol buffer fields one record may still have parsed (`MAX_RECORD_FIELDS`), all levels together."""

    def __init__(self, left: int) -> None:
        self.left = left


class _TooManyFields(Exception):
    """A record with more fields than a scalar event has: not parsed further."""


_NO_BUDGET = _FieldBudget(-1)


def _fields(buf: bytes, budget: _FieldBudget = _NO_BUDGET) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field: an int for varints, bytes otherwise.

    Each field takes one from `budget` (when given); `_TooManyFields` once it is spent.
    """
    pos, end = 0, len(buf)
    value: int | bytes
    while pos < end:
        if budget.left >= 0:
            if budget.left == 0:
                raise _TooManyFields
            budget.left -= 1
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:  # groups (3, 4) are not used by these messages; 6 and 7 do not exist
            raise _Malformed(f"wire type {wire}")
        if pos > end:
            raise _Malformed("field past the end of its message")
        yield number, wire, value


def _packed(value: Any, wire: int, fmt: str, size: int) -> list[float]:
    if wire == 2:  # packed repeated
        return [v for (v,) in struct.iter_unpack(fmt, value[: len(value) - len(value) % size])]
    if wire in (1, 5) and len(value) == size:
        return [struct.unpack(fmt, value)[0]]
    return []


def _packed_varints(value: Any, wire: int) -> list[int]:
    if wire == 0:
        return [value]
    if wire != 2:
        return []
    out, pos = [], 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(v)
    return out


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _half(bits: int) -> float:
    return struct.unpack("<e", struct.pack("<H", bits & 0xFFFF))[0]


def _bfloat16(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))[0]


def _tensor_scalar(buf: bytes, budget: _FieldBudget = _NO_BUDGET) -> float | None:
    """The value of a scalar (one-element) numeric `TensorProto`; None for anything else."""
    dtype, dims, content = None, [], None
    values: list[float] = []
    for number, wire, value in _fields(buf, budget):
        if number == 1 and wire == 0:
            dtype = _DTYPES.get(value)
        elif number == 2 and wire == 2:  # TensorShapeProto: dim = 2 (Dim: size = 1)
            for n2, w2, v2 in _fields(value, budget):
                if n2 == 2 and w2 == 2:
                    dims.append(next((_signed64(v3) for n3, w3, v3 in _fields(v2, budget) if n3 == 1 and w3 == 0), 0))
                elif n2 == 3 and w2 == 0 and v2:  # unknown_rank
                    return None
        elif number == 4 and wire == 2:
            content = value
        elif number == 5:
            values += _packed(value, wire, "<f", 4)
        elif number == 6:
            values += _packed(value, wire, "<d", 8)
        elif number in (7, 13):  # int_val; half_val holds half and bfloat16 bits
            values += [float(_signed64(v)) for v in _packed_varints(value, wire)]
        elif number == 10:
            values += [float(_signed64(v)) for v in _packed_varints(value, wire)]
    if dtype is None or math.prod(dims) != 1:
        return None  # a string, a bool, a histogram or an image tensor: not a scalar metric
    if content:
        if dtype in ("half", "bfloat16"):
            bits = struct.unpack("<H", content[:2])[0] if len(content) >= 2 else None
            return None if bits is None else _half(bits) if dtype == "half" else _bfloat16(bits)
        fmt = _TENSOR_CONTENT_FORMATS[dtype]
        return struct.unpack(fmt, content[: struct.calcsize(fmt)])[0] if len(content) >= struct.calcsize(fmt) else None
    if not values:
        return None
    if dtype == "half":
        return _half(int(values[0]))
    if dtype == "bfloat16":
        return _bfloat16(int(values[0]))
    return float(values[0])


def _event_scalars(
    buf: bytes, prefix: str | None, budget: _FieldBudget = _NO_BUDGET
) -> tuple[int | None, list[tuple[str, float]]]:
    """The step and the (metric name, value) scalars of one `Event` that become metrics (`_metric_name`).

    A value is decoded only when its tag is kept, so per-batch records cost one pass over their fields.
    """
    step: int | None = None
    scalars: list[tuple[str, float]] = []
    summary = None
    for number, wire, value in _fields(buf, budget):
        if number == 2 and wire == 0:
            step = _signed64(value)
        elif number == 5 and wire == 2:
            summary = value
    if summary is None:
        return step, scalars
    for number, wire, value in _fields(summary, budget):
        if number != 1 or wire != 2:
            continue
        tag, simple, tensor = None, None, None
        for n2, w2, v2 in _fields(value, budget):
            if n2 == 1 and w2 == 2:
                tag = bytes(v2).decode("utf-8", "replace")
            elif n2 == 2 and w2 == 5 and len(v2) == 4:
                simple = v2
            elif n2 == 8 and w2 == 2:
                tensor = v2
        metric = _metric_name(tag, prefix) if tag is not None else None
        if metric is None:
            continue
        scalar = (
            struct.unpack("<f", simple)[0]
            if simple is not None
            else (_tensor_scalar(tensor, budget) if tensor is not None else None)
        )
        if scalar is not None:
            scalars.append((metric, scalar))
    return step, scalars


# ------------------------------------------------------------------------------------
# TFRecord framing
# ------------------------------------------------------------------------------------
class _Truncated(Exception):
    """The stream ends inside a record: the one at `offset`, which needed `needed` bytes and had `got`."""

    def __init__(self, offset: int, needed: int, got: int) -> None:
        super().__init__(offset)
        self.offset, self.needed, self.got = offset, needed, got


def _read_exact(fh: BinaryIO | io.RawIOBase, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = fh.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _skip(fh: BinaryIO | io.RawIOBase, n: int) -> int:
    """Skip `n` bytes without keeping them; return how many there were."""
    try:
        if fh.seekable():
            here = fh.tell()
            end = fh.seek(0, os.SEEK_END)
            fh.seek(min(here + n, end))
            return min(n, end - here)
    except (OSError, ValueError):
        pass
    skipped = 0
    while skipped < n:
        chunk = fh.read(min(n - skipped, 1 << 20))
        if not chunk:
            break
        skipped += len(chunk)
    return skipped


def _records(fh: BinaryIO | io.RawIOBase, name: str) -> Iterator[tuple[int, bytes | None, bytes]]:
    """(offset, data, masked data CRC) of each record; data is None for a record over `MAX_RECORD_BYTES`.

    Raises `_Truncated` at a record cut short, and `InputError` for a length whose
    checksum fails. The data checksum is checked by the caller, for records it uses.
    """
    offset = 0
    while True:
        header = _read_exact(fh, 12)
        if not header:
            return
        if len(header) < 12:
            raise _Truncated(offset, 12, len(header))
        (length,) = struct.unpack("<Q", header[:8])
        if masked_crc32c(header[:8]) != struct.unpack("<I", header[8:])[0]:
            if offset == 0:
                raise InputError(
                    f"Cannot read {name}: it is not a TensorBoard event file (its first 12 bytes are not a "
                    "TFRecord header)",
                    expected="an events.out.tfevents.* file written by TensorBoard or keras.callbacks.TensorBoard",
                    received=f"a file starting {header!r}",
                    hint="Pass the log_dir given to keras.callbacks.TensorBoard, a CSVLogger file or a console log",
                )
            raise _corrupt(
                name,
                offset,
                "the checksum of its length does not match",
                "bytes that are not TFRecord framing at this point",
            )
        if length > MAX_EVENT_FILE_BYTES:  # no writer makes such a record; a cut-short write is not this
            raise _corrupt(
                name,
                offset,
                f"it declares {length:,} bytes, more than the "
                f"{MAX_EVENT_FILE_BYTES >> 20} MiB an event file is read up to",
                f"a record header declaring {length:,} bytes",
            )
        if length > MAX_RECORD_BYTES:
            got = _skip(fh, length + 4)
            if got < length + 4:
                raise _Truncated(offset, 12 + length + 4, 12 + got)
            yield offset, None, b""
        else:
            body = _read_exact(fh, length + 4)
            if len(body) < length + 4:
                raise _Truncated(offset, 12 + length + 4, 12 + len(body))
            yield offset, body[:length], body[length:]
        offset += 16 + length


def _verify(name: str, offset: int, data: bytes, crc: bytes) -> None:
    if crc != struct.pack("<I", masked_crc32c(data)):
        raise _corrupt(
            name,
            offset,
            "the checksum of its data does not match",
            f"a record of {len(data)} bytes whose contents were changed",
        )


def _corrupt(name: str, offset: int, what: str, received: str) -> InputError:
    return InputError(
        f"Cannot read the TensorBoard event file {name}: the record at byte {offset:,} is corrupt ({what})",
        expected="an events.out.tfevents.* file written by TensorBoard or keras.callbacks.TensorBoard",
        received=received,
        hint="Copy the file again, or pass the run's CSVLogger file or console log instead",
    )


# ------------------------------------------------------------------------------------
# Files, folders and runs
# ------------------------------------------------------------------------------------
@dataclass
class _Series:
    """Scalars read from one folder: metric -> {step: value}, in file order (later wins)."""

    values: dict[str, dict[int, float]] = field(default_factory=dict)
    records: int = 0
    truncated: bool = False
    fields: int = 0
    skipped: int = 0


def _read_file(path: Path | None, fh: BinaryIO | io.RawIOBase, name: str, prefix: str | None, series: _Series) -> None:
    """Read one event file's scalars into `series`; `prefix` None keeps the tags as they are."""
    seen = 0
    budget: _FieldBudget | None = None
    try:
        for offset, data, crc in _records(fh, name):
            seen += 1
            series.records += 1
            series.fields += MAX_RECORD_FIELDS - budget.left if budget is not None else 0
            budget = None
            if series.fields > MAX_FIELDS:
                raise InputError(
                    f"The TensorBoard run {name} holds too many protocol buffer fields to be read as a training "
                    "history",
                    expected=f"at most {MAX_FIELDS:,} fields in all (a scalar event has about 10)",
                    received=f"more than {MAX_FIELDS:,} in {series.records:,} records",
                    hint="Pass the run's CSVLogger file, or log per epoch (update_freq='epoch')",
                )
            if series.records > MAX_RECORDS:
                raise InputError(
                    f"The TensorBoard run {name} holds too many records to be read as a training history",
                    expected=f"at most {MAX_RECORDS:,} records (a per-epoch history has a few per epoch)",
                    received=f"more than {MAX_RECORDS:,}",
                    hint="Pass the run's CSVLogger file, or log per epoch (update_freq='epoch')",
                )
            if data is None:
                continue
            if len(data) > MAX_SCALAR_RECORD_BYTES:
                series.skipped += 1  # an image, a histogram, a graph: never a per-epoch scalar
                continue
            budget = _FieldBudget(MAX_RECORD_FIELDS)
            try:
                step, scalars = _event_scalars(data, prefix, budget)
            except _TooManyFields:
                series.skipped += 1  # not a scalar event: skipped, as records over MAX_RECORD_BYTES are
                continue
            except _Malformed as exc:
                _verify(name, offset, data, crc)  # changed bytes, or a valid record that is no Event
                raise _corrupt(
                    name, offset, f"not an Event message: {exc}", f"a record of {len(data)} bytes with a valid checksum"
                ) from None
            if scalars:
                _verify(name, offset, data, crc)
            if step is None:
                step = 0
            for metric, value in scalars:
                series.values.setdefault(metric, {})[step] = value
    except _Truncated as cut:
        if seen == 0:
            raise InputError(
                f"Cannot read the TensorBoard event file {name}: it ends inside its first record",
                expected="an events.out.tfevents.* file with at least one complete record",
                received=f"a first record of {cut.needed:,} bytes (header, data, checksum) with {cut.got:,} "
                "bytes in the file",
                hint="Pass the file once the run has written it, or the run's CSVLogger file",
            ) from None
        series.truncated = True  # a run still writing, or killed mid-record: the last record is dropped


def _metric_name(tag: str, prefix: str | None) -> str | None:
    """Keras History name of a tag: `epoch_loss` in validation/ -> `val_loss`; None for per-batch tags."""
    if tag.startswith(EPOCH_TAG_PREFIX):
        base = tag[len(EPOCH_TAG_PREFIX) :]
    elif tag.startswith(("batch_", "evaluation_")):
        return None  # per-batch values, Keras' per-iteration evaluation curve (`evaluation_loss_vs_iterations`)
    else:
        base = tag
    if not base:
        return None
    if prefix and not base.startswith(prefix):
        return prefix + base
    return base


def _open_event_file(path: Path) -> tuple[BinaryIO, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(
            f"Cannot read the TensorBoard event file {path}: {exc.strerror or exc}",
            expected="a readable events.out.tfevents.* file",
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"Cannot read the TensorBoard event file {path}: not a regular file",
            expected="an events.out.tfevents.* file",
        )
    if st.st_size > MAX_EVENT_FILE_BYTES:
        raise InputError(
            f"The TensorBoard event file {path} is too large to be read as a training history",
            expected=f"at most {MAX_EVENT_FILE_BYTES >> 20} MiB",
            received=f"{st.st_size / 2**20:,.0f} MiB",
            hint="Pass the run's CSVLogger file, or log per epoch (update_freq='epoch')",
        )
    try:
        return open_regular(path), st.st_size
    except OSError as exc:
        raise InputError(
            f"Cannot read the TensorBoard event file {path}: {exc.strerror or exc}",
            expected="a readable events.out.tfevents.* file",
        ) from None


def _event_dirs(root: Path) -> dict[Path, list[Path]]:
    """Folders under `root` (itself included, `MAX_DEPTH` levels) holding event files, with their files."""
    found: dict[Path, list[Path]] = {}
    entries = 0
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if folder == root:
                raise InputError(
                    f"Cannot read the TensorBoard folder {root}: {exc.strerror or exc}", expected="a readable folder"
                ) from None
            continue  # an unreadable sub-folder is not part of the run
        for entry in children:
            entries += 1
            if entries > MAX_WALK_ENTRIES:
                raise InputError(
                    f"The folder {root} holds too many entries to be one TensorBoard run",
                    expected=f"a run folder (train/, validation/) with at most {MAX_WALK_ENTRIES:,} entries",
                    hint="Pass the run's own folder, e.g. logs/fit/20240101-120000",
                )
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH:
                        stack.append((Path(entry.path), depth + 1))
                elif EVENT_FILE_MARK in entry.name and entry.is_file():
                    found.setdefault(folder, []).append(Path(entry.path))
            except OSError:
                continue
    return found


def _run_of(folder: Path, root: Path) -> Path:
    """The run a folder of event files belongs to: `run/train` and `run/validation` belong to `run`."""
    if folder != root and folder.name in SPLIT_PREFIXES:
        return folder.parent
    return folder


def _prefix(folder: Path) -> str | None:
    """`val_` for a `validation/` folder (also when it is passed alone), `""` for `train/`, else None."""
    return SPLIT_PREFIXES.get(folder.name)


def read_tensorboard(path: str | os.PathLike, classes: int | None = None) -> History:
    """Read a training history from TensorBoard event files, without TensorFlow.

    Args:
        path: A run folder (`train/` and `validation/` sub-folders, as
            `keras.callbacks.TensorBoard(log_dir)` writes), a folder of event
            files, one `events.out.tfevents.*` file, or a folder holding one
            such run deeper down (`logs/fit/<time>/`).
        classes: Number of classes, when known. Defaults to `None`.

    Returns:
        A `History` with Keras' names (`loss`, `accuracy`, `val_loss`,
        `val_accuracy`, `learning_rate`, ...), one value per epoch, the
        epochs numbered from 1 as CSVLogger's 0-based `epoch` column + 1.
        A metric missing at an epoch (`validation_freq`) is NaN there and
        listed in `History.gaps`.

    Raises:
        InputError: for a folder without event files, a folder of several
            runs (they are listed), a corrupt record, a file cut inside its
            first record, or more than the bounds allow.

    Example:

    >>> h = read_tensorboard("logs/fit/20240101-120000")  # doctest: +SKIP
    >>> h.metrics["val_loss"]  # doctest: +SKIP
    [121.39, 107.86, 95.86]
    """
    p = Path(path)
    try:
        is_dir = p.is_dir()
    except OSError as exc:
        raise InputError(f"Cannot read {p}: {exc.strerror or exc}", expected="a TensorBoard run folder") from None
    series = _Series()
    if not is_dir:
        fh, _size = _open_event_file(p)
        with fh:
            _read_file(p, fh, str(p), SPLIT_PREFIXES.get(p.parent.name), series)
        return _history(series, str(p), classes, files=1)
    dirs = _event_dirs(p)
    if not dirs:
        raise InputError(
            f"No TensorBoard event files in the folder {p}",
            expected=f"events.out.tfevents.* files in the folder, in train/ and validation/ sub-folders, or up to "
            f"{MAX_DEPTH} levels below",
            received=_describe_folder(p),
            hint="Pass the log_dir given to keras.callbacks.TensorBoard, a CSVLogger file or a console log",
        )
    runs: dict[Path, list[Path]] = {}
    for folder in dirs:
        runs.setdefault(_run_of(folder, p), []).append(folder)
    if len(runs) > 1:
        names = sorted(str(r.relative_to(p)) if r != p else "." for r in runs)
        shown = ", ".join(names[:MAX_RUNS_SHOWN]) + (
            f" and {len(names) - MAX_RUNS_SHOWN} more" if len(names) > MAX_RUNS_SHOWN else ""
        )
        raise InputError(
            f"The folder {p} holds {len(runs)} TensorBoard runs: {shown}",
            expected="one run (a log_dir with train/ and validation/, or one folder of event files)",
            hint=f"Pass one of them, e.g. --log {p / names[0]}",
        )
    ((run, folders),) = runs.items()
    files = sum(len(dirs[f]) for f in folders)
    if files > MAX_EVENT_FILES:
        raise InputError(
            f"The TensorBoard run {run} holds {files:,} event files",
            expected=f"at most {MAX_EVENT_FILES:,} (Keras writes one per folder and fit() call)",
            hint="Pass one run's folder",
        )
    for folder in sorted(folders):
        prefix = _prefix(folder)
        for f in sorted(dirs[folder]):  # names start with the creation time: later files override
            fh, _size = _open_event_file(f)
            with fh:
                _read_file(f, fh, str(f), prefix, series)
    return _history(series, str(p), classes, files=files)


def read_event_stream(fh: BinaryIO | io.RawIOBase, name: str, classes: int | None = None) -> History:
    """Read a history from one event file already open (e.g. standard input).

    Args:
        fh: A binary stream positioned at the start of the file.
        name: Its name, for messages.
        classes: Number of classes, when known. Defaults to `None`.
    """
    series = _Series()
    _read_file(None, fh, name, None, series)
    return _history(series, name, classes, files=1)


def _describe_folder(p: Path) -> str:
    try:
        names = sorted(e.name for _, e in zip(range(6), os.scandir(p)))
    except OSError:
        return "an unreadable folder"
    if not names:
        return "an empty folder"
    return "a folder holding " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")


def _history(series: _Series, name: str, classes: int | None, files: int) -> History:
    steps = sorted({s for per_step in series.values.values() for s in per_step})
    if not steps:
        raise InputError(
            f"No per-epoch scalars in the TensorBoard log {name}",
            expected="scalar summaries such as epoch_loss and epoch_accuracy "
            "(keras.callbacks.TensorBoard with update_freq='epoch')",
            received=f"{series.records:,} records in {files} event file{'s' if files != 1 else ''}, no epoch scalar",
            hint="Pass the log_dir of a run that completed an epoch, a CSVLogger file or a console log",
        )
    columns = {metric: [per_step.get(s) for s in steps] for metric, per_step in series.values.items()}
    h = history_from_dict(columns, source=name, classes=classes)
    numbers = [s + 1 for s in steps]  # Keras' step is the 0-based epoch, as CSVLogger's `epoch` column
    h.index = None if numbers == list(range(1, len(numbers) + 1)) else numbers
    h.truncated = series.truncated
    h.read_as = {**h.read_as, "format": "tensorboard", "files": files}
    return h


class TensorBoardReader:
    """A TensorBoard log: a log_dir or a folder of event files, an `events.out.tfevents.*` file, or TFRecord bytes."""

    name = "tensorboard"
    text = False

    def sniff(self, head: bytes | None, path: str | None) -> bool:
        if head is None:
            return path is not None and (os.path.isdir(path) or EVENT_FILE_MARK in os.path.basename(path))
        return looks_like_event_file(head)

    def read(self, log: LogInput, classes: int | None) -> History:
        if log.path is not None:
            return read_tensorboard(log.path, classes=classes)
        return read_event_stream(log.binary(), log.name, classes=classes)


READER = TensorBoardReader()
