"""The TensorBoard event file format, in pure Python: TFRecord's masked CRC32C and the few protocol buffer
fields of `Event`, `Summary` and `TensorProto` that hold scalars.

`cifar_doctor.sources.tensorboard` reads runs with these; nothing here imports TensorFlow, protobuf or
NumPy, or knows about histories.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import Any

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
class Malformed(Exception):
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
    raise Malformed("bad varint")


class FieldBudget:
    """Protocol buffer fields one record may still have parsed (`MAX_RECORD_FIELDS`), all levels together."""

    def __init__(self, left: int) -> None:
        self.left = left


class TooManyFields(Exception):
    """A record with more fields than a scalar event has: not parsed further."""


NO_BUDGET = FieldBudget(-1)


def _fields(buf: bytes, budget: FieldBudget = NO_BUDGET) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field: an int for varints, bytes otherwise.

    Each field takes one from `budget` (when given); `TooManyFields` once it is spent.
    """
    pos, end = 0, len(buf)
    value: int | bytes
    while pos < end:
        if budget.left >= 0:
            if budget.left == 0:
                raise TooManyFields
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
            raise Malformed(f"wire type {wire}")
        if pos > end:
            raise Malformed("field past the end of its message")
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


def _tensor_scalar(buf: bytes, budget: FieldBudget = NO_BUDGET) -> float | None:
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


def event_scalars(
    buf: bytes, prefix: str | None, budget: FieldBudget = NO_BUDGET
) -> tuple[int | None, list[tuple[str, float]]]:
    """The step and the (metric name, value) scalars of one `Event` that become metrics (`metric_name`).

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
        metric = metric_name(tag, prefix) if tag is not None else None
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


def metric_name(tag: str, prefix: str | None) -> str | None:
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
