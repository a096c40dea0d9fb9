"""Inflating deflated zip members straight into arrays: libdeflate in one call, or a stream.

A member of `np.savez_compressed` is one deflate stream, which no reader can split between
cores. A member that ends with its array (every one `np.savez_compressed` writes) is inflated
in one call by libdeflate (`deflate`, a dependency), from the file mapped in memory, so the
compressed bytes are never copied: CIFAR-10's 150 MB of training images in 0.42 s on one core
here, against 0.67 s with zlib and 0.70 s with ISA-L's inflate streaming into the array, and
0.68 s with `np.load` (best of 5, `python bench/check_speed.py --inflate --repeat 5`). Any other
member, or one libdeflate cannot read, is streamed: its local header read, the stream inflated
chunk by chunk into the caller's buffer by ISA-L's inflate (`isal`, where it has wheels; about
twice zlib's speed on the machines where it was first measured) or zlib, and the member's length
and CRC-32 checked as `zipfile` checks them, which is where a damaged member is reported.
"""

from __future__ import annotations

import mmap
import struct
import zipfile
import zlib
from typing import IO, Any

import numpy as np

try:  # libdeflate: a whole member in one call, about 1.6x zlib's speed
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - installed with the package
    _libdeflate = None  # type: ignore[assignment]

try:  # ISA-L's inflate: the same stream format, about twice zlib's speed
    from isal import igzip as _gzip
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - the platforms without isal's wheels
    import gzip as _gzip  # type: ignore[no-redef]
    import zlib as _zlib  # type: ignore[no-redef]

#: Compressed bytes read per step: large enough that the per-call cost vanishes,
#: small enough that the compressed copy in memory stays a few MB.
READ_CHUNK_BYTES = 4 << 20

#: Most bytes inflated per call, so that a member that inflates far more than its
#: chunk (a run of zeros) still lands in the output a piece at a time.
INFLATE_CHUNK_BYTES = 16 << 20

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_MAGIC = b"PK\x03\x04"

#: What inflating a damaged member raises (ISA-L raises its own `IsalError`, a subclass of OSError).
INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, OSError, ValueError, EOFError)

BACKEND = "isal" if _zlib is not zlib else "zlib"


def gzip_reader(fh: IO[bytes]) -> Any:
    """A gzip stream read from `fh` (a CIFAR-10 tarball), inflated by the same backend as zip members."""
    return _gzip.GzipFile(fileobj=fh, mode="rb")


def fast_path(info: zipfile.ZipInfo) -> bool:
    """Whether a member is a plain deflate stream (not encrypted) that `inflate_member` reads."""
    return info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x1


def inflate_array(fh: IO[bytes], info: zipfile.ZipInfo, skip: int, nbytes: int) -> np.ndarray:
    """Bytes `skip` to `skip + nbytes` of the member `info` of the zip open as `fh`, as a 1-D uint8 array.

    A member that ends there is inflated in one libdeflate call from the file mapped in memory, its
    length and CRC-32 checked; a member that does not, a file that cannot be mapped, a stream that
    libdeflate rejects, or a platform without it, goes through `inflate_member`, which raises what
    is wrong with a damaged one.

    Raises:
        zipfile.BadZipFile, INFLATE_ERRORS: as `inflate_member`.
    """
    if _libdeflate is not None and info.file_size == skip + nbytes and fast_path(info):
        whole = _inflate_whole(fh, info)
        if whole is not None:
            return np.frombuffer(whole, np.uint8, count=nbytes, offset=skip)
    out = np.empty(nbytes, np.uint8)
    inflate_member(fh, info, out, skip)
    return out


def _inflate_whole(fh: IO[bytes], info: zipfile.ZipInfo) -> bytearray | None:
    """The member inflated by libdeflate, its length and CRC-32 right; `None` when it could not be."""
    start = _data_offset(fh, info)
    try:
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as view:
            if start + info.compress_size > len(view):
                return None
            part = view[start : start + info.compress_size]
            try:
                out = _libdeflate.deflate_decompress(part, info.file_size)
            finally:
                part.release()
    except (OSError, ValueError, _libdeflate.DeflateError):  # not mappable (a pipe), or damaged: streamed
        return None
    if len(out) != info.file_size or _zlib.crc32(out) & 0xFFFFFFFF != info.CRC:
        return None
    return out


def _data_offset(fh: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where the member's compressed bytes start, past its local header.

    Raises:
        zipfile.BadZipFile: no local header there.
    """
    fh.seek(info.header_offset)
    header = fh.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    fields = _LOCAL_HEADER.unpack(header)
    return info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]  # past its name and extra field


def inflate_member(fh: IO[bytes], info: zipfile.ZipInfo, out: np.ndarray, skip: int) -> None:
    """Inflate the member `info` of the zip open as `fh`, writing its bytes from `skip` on into `out`.

    `out` is a 1-D uint8 array, filled in order. A member that ends with it (every
    member `np.savez` writes) is inflated to its end and its CRC-32 checked; one
    that declares more bytes after it is read only as far as `out` (as NumPy's
    reader does), so what a forged directory declares beyond the array costs nothing.

    Raises:
        zipfile.BadZipFile: a bad local header, a length or CRC-32 that does not match the directory.
        INFLATE_ERRORS: a broken deflate stream or a truncated file.
    """
    fh.seek(_data_offset(fh, info))
    view = out.data
    stream: Any = _zlib.decompressobj(-zlib.MAX_WBITS)
    left, crc, total, pos = info.compress_size, 0, 0, 0
    pending = b""
    whole = info.file_size <= skip + len(view)
    while not stream.eof and total <= info.file_size and (whole or pos < len(view)):
        if not pending and left > 0:
            pending = fh.read(min(READ_CHUNK_BYTES, left))
            if not pending:
                raise EOFError(f"{info.filename!r} ends {left} bytes early")
            left -= len(pending)
        piece = stream.decompress(pending, INFLATE_CHUNK_BYTES)  # with no input: what it still holds
        pending = stream.unconsumed_tail
        if not piece and not pending and left <= 0:
            break  # input spent and nothing held back: the stream is cut short
        crc = _zlib.crc32(piece, crc)
        start = max(skip - total, 0)
        end = min(len(piece), skip + len(view) - total)
        if end > start:
            view[pos : pos + end - start] = piece[start:end]
            pos += end - start
        total += len(piece)
    if pos != len(view) or (whole and (not stream.eof or total != info.file_size)):
        raise zipfile.BadZipFile(f"{info.filename!r} inflates to {total} bytes, its directory says {info.file_size}")
    if whole and crc & 0xFFFFFFFF != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 for {info.filename!r}")
