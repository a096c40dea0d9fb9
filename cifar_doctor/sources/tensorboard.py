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
import os
import stat
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..records import History
from ..sanitize import one_line
from .history import history_from_dict
from .logstream import LogInput
from .regular import kind_of, open_regular
from .tfevents import (
    FieldBudget,
    Malformed,
    TooManyFields,
    event_scalars,
    looks_like_event_file,
    masked_crc32c,
)

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
    budget: FieldBudget | None = None
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
            budget = FieldBudget(MAX_RECORD_FIELDS)
            try:
                step, scalars = event_scalars(data, prefix, budget)
            except TooManyFields:
                series.skipped += 1  # not a scalar event: skipped, as records over MAX_RECORD_BYTES are
                continue
            except Malformed as exc:
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
            f"Cannot read the TensorBoard event file {path}: it is {kind_of(st.st_mode)}, not a regular file",
            expected="an events.out.tfevents.* file",
            hint="Move it out of the run folder, or pass the run's CSVLogger file",
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


def _what(path: Path) -> str:
    """What a path that is not a regular file is, in words (without following a dangling link)."""
    try:
        return kind_of(path.stat().st_mode)
    except OSError:
        return "a dangling link" if path.is_symlink() else "unreadable"


def _event_dirs(root: Path, skipped: list[Path] | None = None) -> dict[Path, list[Path]]:
    """Folders under `root` (itself included, `MAX_DEPTH` levels) holding event files, with their files.

    Entries named as event files that are not regular files are appended to `skipped`.
    """
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
                elif EVENT_FILE_MARK in entry.name:
                    if entry.is_file():
                        found.setdefault(folder, []).append(Path(entry.path))
                    elif skipped is not None:  # a pipe, a socket, a device, a dangling link: never opened
                        skipped.append(Path(entry.path))
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
    skipped: list[Path] = []
    dirs = _event_dirs(p, skipped)
    if not dirs:
        raise InputError(
            f"No TensorBoard event files in the folder {p}",
            expected=f"events.out.tfevents.* files in the folder, in train/ and validation/ sub-folders, or up to "
            f"{MAX_DEPTH} levels below",
            received=f"{skipped[0]}: {_what(skipped[0])}, not a regular file" if skipped else _describe_folder(p),
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
    for path in skipped[:MAX_RUNS_SHOWN]:
        print(f"Notice: skipped {one_line(str(path))}: {_what(path)}, not a regular file.", file=sys.stderr)
    if len(skipped) > MAX_RUNS_SHOWN:
        print(
            f"Notice: skipped {len(skipped) - MAX_RUNS_SHOWN:,} more entries that are not regular files.",
            file=sys.stderr,
        )
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
