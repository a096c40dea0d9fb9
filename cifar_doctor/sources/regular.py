"""Open only regular files: never block on a named pipe, never read a device.

Opening a named pipe for reading waits until a writer comes, forever when none
does; a device (`/dev/zero`, a tape, a terminal) can be read without end or
changed by being opened. Every file the tool reads from a path is opened here:
the path is looked at first (`os.stat`, links followed), then opened with
`O_NONBLOCK` (a pipe swapped in between opens at once instead of waiting) and
looked at again through the open descriptor, so the file read is the regular
file that was checked. Nothing here imports NumPy or TensorFlow.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO


class NotRegular(OSError):
    """A path that is not a regular file; `strerror` names what it is instead."""

    def __init__(self, path: str | os.PathLike, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a file of `st_mode` `mode` is, in words: `a regular file`, `a named pipe` ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a file"


def require_regular(path: str | os.PathLike) -> os.stat_result:
    """`os.stat(path)` when it is a regular file; raises `NotRegular` (or the `OSError` of `stat`) otherwise."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(path, kind_of(st.st_mode))
    return st


def open_fd(path: str | os.PathLike) -> int:
    """A blocking read-only descriptor of the regular file at `path`.

    Raises:
        NotRegular: `path` is a pipe, a socket, a device or a folder.
        OSError: it cannot be looked at or opened.
    """
    require_regular(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped for something else after the first look
            raise NotRegular(path, kind_of(mode))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(path: str | os.PathLike, buffering: int = -1) -> BinaryIO:
    """`open(path, "rb")` for a regular file only (see `open_fd`)."""
    return os.fdopen(open_fd(path), "rb", buffering=buffering)
