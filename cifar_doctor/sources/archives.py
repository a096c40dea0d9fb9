"""Bounds on the archives users hand in: `.npz` and `.keras` zips, CIFAR-10 tarballs.

Everything here is read from headers before any member is read or allocated:
the size of a zip's central directory, each member's declared size against
what the file can hold and what deflate can produce, unsafe member names and
links. The loaders turn a problem into their own `InputError`, in their terms.
"""

from __future__ import annotations

import bz2
import lzma
import os
import stat
import struct
import zipfile
import zlib
from typing import IO, Any

from . import inflate
from .regular import open_regular

#: Largest zip central directory read, in bytes. An .npz of six arrays has a
#: directory of ~600 bytes and a .keras file ~300; Python's zipfile builds an
#: object of ~500 bytes per entry when it opens an archive, so 1 MiB (~20,000
#: entries) keeps that under ~10 MB where a forged directory could ask for GBs.
MAX_ZIP_DIRECTORY_BYTES = 1 << 20

#: The most deflate can inflate one compressed byte to: a 258-byte match coded
#: in 2 bits is 1032:1. A member declaring more is corrupt or forged.
DEFLATE_MAX_RATIO = 1032

#: Bytes of slack on the deflate bound: the fixed cost of a tiny member's blocks.
DEFLATE_SLACK_BYTES = 1024

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD_SIZE = 22
_MAX_COMMENT = 0xFFFF


#: What reading a damaged zip member raises: a bad CRC or header (BadZipFile), a broken
#: deflate, bzip2 or xz stream, a truncated file, an encrypted member (RuntimeError), an
#: unknown compression method (NotImplementedError).
ZIP_READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


class ArchiveError(ValueError):
    """An archive that cannot be read within bounds: `str(exc)` says what is wrong, in plain words."""


def size_text(n: int) -> str:
    """`10737418240` -> `10.7 GB` (decimal units, as file managers show sizes)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def zip_directory_size(fh: IO[bytes]) -> int | None:
    """The size the end record of a zip declares for its central directory; `None` without an end record.

    Reads at most the last 64 kB (the end record and its comment) and, for a
    zip64 archive, the 56-byte zip64 end record.
    """
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_len = min(size, _EOCD_SIZE + _MAX_COMMENT)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or at + _EOCD_SIZE > len(tail):
        return None
    (directory,) = struct.unpack("<I", tail[at + 12 : at + 16])
    if directory != 0xFFFFFFFF:
        return directory
    locator = tail[at - 20 : at] if at >= 20 else b""
    if not locator.startswith(_EOCD64_LOCATOR):
        return directory
    (offset,) = struct.unpack("<Q", locator[8:16])
    if offset + 56 > size:
        return directory
    fh.seek(offset)
    record = fh.read(56)
    if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
        return directory
    (directory,) = struct.unpack("<Q", record[40:48])
    return directory


def open_zip(path: str | os.PathLike) -> zipfile.ZipFile:
    """Open a zip archive after checking that its central directory is of a sane size.

    Raises:
        ArchiveError: the directory is larger than `MAX_ZIP_DIRECTORY_BYTES`.
        zipfile.BadZipFile, OSError: the file is not a readable zip archive.
    """
    with open_regular(path) as fh:
        directory = zip_directory_size(fh)
    if directory is not None and directory > MAX_ZIP_DIRECTORY_BYTES:
        raise ArchiveError(
            f"its zip directory declares {size_text(directory)} of entries, more than the "
            f"{size_text(MAX_ZIP_DIRECTORY_BYTES)} read"
        )
    return zipfile.ZipFile(path)


def unsafe_name(name: str) -> bool:
    """A member name that could land outside the folder it is extracted to: absolute, a drive, a `..` part.

    Official archives have none; a `..` part is refused even where it would stay inside.
    """
    normal = name.replace("\\", "/")
    return normal.startswith("/") or (len(normal) > 1 and normal[1] == ":") or ".." in normal.split("/")


def is_zip_link(info: zipfile.ZipInfo) -> bool:
    """A zip member stored as a Unix symbolic link."""
    return stat.S_ISLNK(info.external_attr >> 16)


def zip_member_problem(info: zipfile.ZipInfo, archive_size: int) -> str | None:
    """Why a member's declared sizes cannot be true, or `None`.

    A member whose data would end past the end of the file is truncated; a
    stored member holds exactly its size; a deflated one cannot inflate more
    than `DEFLATE_MAX_RATIO` times.
    """
    if info.header_offset + info.compress_size > archive_size:
        return (
            f"declares {size_text(info.compress_size)} of data but the file ends before "
            f"({size_text(archive_size)} in all): the archive is truncated"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        return (
            f"is stored uncompressed but declares {size_text(info.file_size)} from "
            f"{size_text(info.compress_size)}: the archive is corrupt"
        )
    if (
        info.compress_type == zipfile.ZIP_DEFLATED
        and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + DEFLATE_SLACK_BYTES
    ):
        return (
            f"declares {size_text(info.file_size)} from {size_text(info.compress_size)} of deflated data, "
            f"more than deflate can produce: the archive is corrupt or forged"
        )
    return None


class BoundedReader:
    """A read-only stream that raises `ArchiveError` once more than `limit` bytes have been read.

    Args:
        raw: The stream to read from.
        limit: Bytes that may be read in all.
        what: What the limit is about, for the message.
    """

    def __init__(self, raw: IO[bytes], limit: int, what: str) -> None:
        self.raw, self.limit, self.left, self.what = raw, limit, limit, what

    def read(self, n: int = -1) -> bytes:
        want = self.left + 1 if n is None or n < 0 else min(n, self.left + 1)
        chunk = self.raw.read(want)
        self.left -= len(chunk)
        if self.left < 0:
            raise ArchiveError(f"{self.what} holds more than the {size_text(self.limit)} read")
        return chunk

    def close(self) -> None:
        self.raw.close()


def decompressed(fh: IO[bytes], head: bytes) -> Any:
    """`fh` decompressed by what its first bytes say it is: gzip (with ISA-L's inflate where it is
    installed, `inflate.BACKEND`), bzip2, xz, or nothing."""
    if head.startswith(b"\x1f\x8b"):
        return inflate.gzip_reader(fh)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(fh, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(fh, "rb")
    return fh
