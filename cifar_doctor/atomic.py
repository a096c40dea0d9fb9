"""Write output files so that an interrupted run never leaves a half-written one.

Everything the tool writes (`compare --save`, `watch --json-out`) is written to
a temporary name beside its destination and moved into place only once it is
complete: an interrupt (Ctrl-C, a kill) or an error leaves either the whole
file or nothing. With `exclusive=True` an existing file is never replaced.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` when the block completes.

    The temporary name keeps `path`'s suffix (Keras' `model.save` insists on
    `.keras`). On any exception, KeyboardInterrupt included, the temporary
    file is removed and `path` is untouched.

    Args:
        path: The destination.
        exclusive: Refuse to replace an existing `path` (raises
            `FileExistsError`). Defaults to `False`.
    """
    dest = Path(path)
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.part{dest.suffix}")
    try:
        yield tmp
        if exclusive:
            os.link(tmp, dest)  # fails if dest exists, atomically
            os.unlink(tmp)
        else:
            os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str, *, exclusive: bool = False) -> None:
    """Write `text` (UTF-8) to `path` atomically; see `atomic_path`."""
    with atomic_path(path, exclusive=exclusive) as tmp:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
