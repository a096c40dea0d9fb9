"""A log as the readers see it: opened once, its first bytes kept for sniffing, text decoded on demand.

`LogInput` reads a file or stream in `CHUNK_BYTES` chunks (bounded memory on a
1 GB log), keeps the first chunk for the readers' `sniff`, replays it to the
reader that claims the input (`binary()` for TensorBoard's TFRecords,
`texts()`/`rest_text()` for the text formats), and refuses empty and binary
input once, before any text reader runs. Nothing here imports TensorFlow or NumPy.
"""

from __future__ import annotations

import codecs
import io
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import InputError
from ..records import History

#: Bytes read at a time from a file or stream.
CHUNK_BYTES = 1 << 20

#: Largest CSV/JSON history read whole. A History JSON of 10,000 epochs with
#: 20 metrics is ~4 MB; anything far larger is not a history.
MAX_STRUCTURED_BYTES = 64 << 20

#: Bytes looked at to tell text from binary data and to detect the format.
SNIFF_BYTES = 8192

#: Share of non-text characters in the first `SNIFF_BYTES` above which the
#: input is called binary. Progress-bar redraws use \\b, \\r and ESC, which are
#: not counted; real logs have none of the others.
BINARY_CONTROL_FRACTION = 0.10


class LogInput:
    """One log being read: its name, its path (when it is a file or folder), its bytes in chunks.

    Args:
        src: An open binary (or text) stream, or `None` for a folder, which only
            a reader that takes paths reads. Defaults to `None`.
        name: Its name, for messages.
        path: The path it was opened from, if any. Defaults to `None`.
    """

    def __init__(self, src: Any, name: str, path: str | None = None) -> None:
        self.name, self.path = name, path
        self._chunks: Iterator[Any] = iter(_byte_chunks(src, name)) if src is not None else iter(())
        self.first: Any = next(self._chunks, b"")
        self._text_head: str | None = None
        self._text_rest: Iterator[str] | None = None

    @property
    def head(self) -> bytes:
        """The first chunk as bytes (what a binary reader sniffs); `b""` for text given as `str`."""
        return bytes(self.first) if isinstance(self.first, (bytes, bytearray)) else b""

    def binary(self) -> io.RawIOBase:
        """The whole input as a binary stream, the first chunk replayed."""
        return _Rewound(self.head, self._chunks)

    def text_head(self) -> str:
        """The first `SNIFF_BYTES` characters of text or more, blank lead and byte-order mark dropped.

        Raises:
            InputError: the input is empty, binary, or UTF-16 without a byte-order mark.
        """
        if self._text_head is not None:
            return self._text_head
        first, chunks, name = self.first, self._chunks, self.name
        encoding = _encoding(first) if isinstance(first, (bytes, bytearray)) else "utf-8"
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

        def texts() -> Iterable[str]:
            for chunk in itertools.chain([first], chunks):
                yield decoder.decode(chunk) if isinstance(chunk, (bytes, bytearray)) else chunk
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail

        it = iter(texts())
        head = ""
        for t in it:  # enough text to sniff the format; blank text before it is dropped as it is read
            head = head + t if head else t.lstrip()
            if len(head) >= SNIFF_BYTES:
                break
        if head.startswith("\ufeff"):
            head = head[1:]
        if not head.strip():
            raise InputError(
                f"The log {name} is empty",
                expected="the console output of model.fit, a CSVLogger CSV or a History JSON",
                hint=(
                    "Keras writes progress to stdout and warnings to stderr: use python train.py 2>&1 | "
                    "cifar-doctor check --log -"
                )
                if name == "<stdin>"
                else None,
            )
        _check_text(head[:SNIFF_BYTES], name)
        self._text_head, self._text_rest = head, it
        return head

    def texts(self) -> Iterator[str]:
        """The whole text, in pieces: the head, then the rest as it is read."""
        head = self.text_head()
        yield head
        yield from self._text_rest or ()

    def rest_text(self) -> str:
        """The whole text as one string, for the formats read whole (CSV, JSON), at most `MAX_STRUCTURED_BYTES`."""
        head = self.text_head()
        parts, size = [head], len(head)
        for t in self._text_rest or ():
            size += len(t)
            if size > MAX_STRUCTURED_BYTES:
                raise InputError(
                    f"The history file {self.name} is too large to be a CSV/JSON history",
                    expected=f"at most {MAX_STRUCTURED_BYTES >> 20} MB",
                    received=f"more than {size >> 20} MB",
                )
            parts.append(t)
        return "".join(parts)


def require_epochs(h: History, name: str, detail: str | None = None) -> History:
    """`h` when it holds an epoch; otherwise the error saying what was read instead (`detail`)."""
    if h.epochs > 0:
        return h
    raise InputError(
        f"No complete training epoch found in the log {name}",
        expected="Keras fit() output ('Epoch 1/5' then '... - loss: 1.77 - accuracy: 0.36 ...'), "
        "a CSVLogger CSV or a History JSON",
        received=detail if detail is not None else "no per-epoch metric values",
        hint="Train with verbose=1 or 2 and capture both streams (python train.py 2>&1 | tee train.log)",
    )


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, at most 160 characters."""
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _byte_chunks(src: Any, name: str) -> Iterable[bytes]:
    while True:
        try:
            chunk = src.read(CHUNK_BYTES)
        except OSError as exc:  # a failing disk or mount, a stream closed under us
            raise InputError(
                f"Cannot read the log {name}: {exc.strerror or exc}",
                expected="a readable file or stream",
                hint="Copy the log to a local file and pass that",
            ) from None
        except ValueError as exc:  # "I/O operation on closed file"
            raise InputError(f"Cannot read the log {name}: {exc}", expected="an open stream") from None
        if not chunk:
            return
        yield chunk


def _encoding(first: bytes | bytearray) -> str:
    """The text encoding a byte-order mark announces (Windows PowerShell 5 writes UTF-16); UTF-8 otherwise."""
    if first.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _check_text(head: str, name: str) -> None:
    if "\x00" in head:
        nul = head.count("\x00")
        # UTF-16 text of ASCII characters has a NUL in every other position
        utf16 = nul >= len(head) // 3 and max(head[0::2].count("\x00"), head[1::2].count("\x00")) >= 0.9 * nul
        if utf16:
            raise InputError(
                f"Cannot read the log {name}: it looks like UTF-16 text without a byte-order mark",
                expected="UTF-8 text, or UTF-16 that starts with its byte-order mark",
                received=f"{len(head)} characters starting {head[:16]!r}",
                hint="Convert it to UTF-8, e.g. iconv -f UTF-16LE -t UTF-8 train.log > train-utf8.log",
            )
        raise InputError(
            f"Cannot read the log {name}: it looks like binary data (NUL bytes)",
            expected="a text training log, a CSVLogger CSV or a History JSON",
            received=f"{len(head)} characters starting {head[:16]!r}",
            hint="Pass the console output of model.fit (python train.py 2>&1 | tee train.log)",
        )
    bad = sum(1 for c in head if (ord(c) < 32 and c not in "\n\r\t\b\x1b\f") or c == "\ufffd")
    if head and bad / len(head) > BINARY_CONTROL_FRACTION:
        raise InputError(
            f"Cannot read the log {name}: it looks like binary data ({bad} of the first {len(head)} "
            "characters are not text)",
            expected="a text training log, a CSVLogger CSV or a History JSON",
            received=f"data starting {head[:16]!r}",
            hint="Pass the console output of model.fit, or the file CSVLogger wrote",
        )


class _Rewound(io.RawIOBase):
    """A binary stream that replays the chunks already read before the rest (for a sniffed event file)."""

    def __init__(self, first: bytes, rest: Iterable[bytes]) -> None:
        self._buf, self._pos, self._rest = bytes(first), 0, iter(rest)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        parts = []
        while n != 0:
            if self._pos >= len(self._buf):
                self._buf, self._pos = next(self._rest, b""), 0
                if not self._buf:
                    break
            take = len(self._buf) - self._pos if n < 0 else min(n, len(self._buf) - self._pos)
            parts.append(self._buf[self._pos : self._pos + take])
            self._pos += take
            n = n - take if n > 0 else n
        return b"".join(parts)
