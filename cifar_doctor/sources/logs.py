"""Training histories from console logs, CSVLogger CSV files, History JSON and TensorBoard logs.

`read_history(path_or_textio)` turns what a Keras user has at hand into a
`cifar_doctor.records.History`. Each format is a reader (`LogReader`: `sniff`
says whether an input is its format, `read` reads it) in one ordered table,
`LOG_READERS`, walked first match wins:

- TensorBoard logs (a `keras.callbacks.TensorBoard` log_dir, a folder of
  `events.out.tfevents.*` files, one such file, or its bytes on stdin),
  `cifar_doctor.sources.tensorboard`, read without TensorFlow;
- a `json.dump(history.history)` file, `cifar_doctor.sources.history`;
- a CSVLogger CSV, `cifar_doctor.sources.csvlog` (`NA`/`null` where an epoch
  has no value: no validation data, `validation_freq`);
- console output, `cifar_doctor.sources.console`: `model.fit`'s in every Keras
  generation, else the printout of a custom training loop
  (`cifar_doctor.sources.textlog`), in one pass.

A new format is one module with a reader plus one line in `LOG_READERS`.
Input is read in chunks (`cifar_doctor.sources.logstream`), so a 1 GB log is
parsed in bounded memory. Nothing here imports TensorFlow or NumPy.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any, Protocol

from ..errors import InputError
from ..records import History
from . import console, csvlog, history, tensorboard
from .console import COMMON_CLASS_COUNTS, MAX_SEGMENT, Epoch, LogParser
from .history import history_from_dict
from .logstream import LogInput
from .regular import NotRegular, open_regular

__all__ = [
    "COMMON_CLASS_COUNTS",
    "LOG_READERS",
    "MAX_SEGMENT",
    "Epoch",
    "LogParser",
    "LogReader",
    "history_from_dict",
    "read_history",
]


class LogReader(Protocol):
    """One log format.

    Attributes:
        name: The format's name (`History.read_as["format"]` for most).
        text: Whether it reads text (sniffed on the decoded head, after empty
            and binary input is refused) rather than bytes.
    """

    name: str
    text: bool

    def sniff(self, head: bytes | None, path: str | None) -> bool:
        """Whether the input is this format.

        Args:
            head: Its first bytes: raw for a binary reader, the decoded text
                (UTF-8, blank lead and byte-order mark dropped) for a text
                reader; `None` before anything is opened, when only `path`
                can tell (a folder, a file's name).
            path: The path given, if any.
        """
        ...

    def read(self, log: LogInput, classes: int | None) -> History:
        """The history of the input (`log.binary()`, `log.texts()` or `log.rest_text()`, or `log.path`)."""
        ...


#: The log formats, in the order they are tried: the first whose `sniff` accepts an input reads it.
LOG_READERS: tuple[LogReader, ...] = (tensorboard.READER, history.JSON_READER, csvlog.READER, console.READER)


def read_history(path_or_textio: Any, classes: int | None = None) -> History:
    """Read a training history from a console log, a CSVLogger CSV, a History JSON or a TensorBoard log.

    Args:
        path_or_textio: A path, `-` for stdin, or an open text/binary stream.
            A folder or a file named `*tfevents*` is read as a TensorBoard
            log (`cifar_doctor.sources.tensorboard.read_tensorboard`), and so
            is any input whose first bytes are a TFRecord header.
        classes: Number of classes, when known (`--classes`). Defaults to
            `None`: inferred from the first-batch loss when a `verbose=1`
            log shows it.

    Returns:
        A `History` with one value per completed epoch for each metric, the
        printed `evaluate()` results, the Keras flavor and the sample counts;
        for a custom loop's printout, one value per printed epoch or step
        (`History.index`, `History.read_as["mapping"]`).

    Raises:
        InputError: for a missing, empty, binary or unreadable input, or one
            with no complete epoch and no per-epoch or per-step metric values.

    Example:

    >>> import io
    >>> log = io.StringIO("Epoch 1/1\\n50000/50000 [====] - 454s 9ms/step - loss: 1.7761 "
    ...                   "- acc: 0.3584 - val_loss: 8.6776 - val_acc: 0.4489\\n")
    >>> h = read_history(log)
    >>> h.val_loss, h.flavor
    ([8.6776], 'keras2')
    """
    close = None
    if isinstance(path_or_textio, (str, os.PathLike)):
        name = str(path_or_textio)
        if name == "-":
            src: Any = getattr(sys.stdin, "buffer", sys.stdin)
            name = "<stdin>"
        elif _is_stdin(name):  # /dev/stdin, /dev/fd/0: standard input by another name
            src = getattr(sys.stdin, "buffer", sys.stdin)
        else:
            for reader in LOG_READERS:  # a folder or a file's name can tell before anything is opened
                if reader.sniff(None, name):
                    return reader.read(LogInput(None, name, path=name), classes)
            try:
                src = close = open_regular(name)
            except NotRegular as exc:
                raise InputError(
                    f"Cannot read the log {name}: it is {exc.kind}, not a regular file",
                    expected="a log, CSV or JSON file, or - for standard input",
                    hint="Save the log to a file, or pipe it in: ... | cifar-doctor check --log -",
                ) from None
            except FileNotFoundError:
                raise InputError(
                    f"Cannot read the log {name}: no such file",
                    expected="an existing log, CSV or JSON file",
                    hint="Check the path, or pass - to read standard input",
                ) from None
            except OSError as exc:
                raise InputError(
                    f"Cannot read the log {name}: {exc.strerror or exc}", expected="a readable file"
                ) from None
    else:
        src = getattr(path_or_textio, "buffer", path_or_textio)
        name = getattr(path_or_textio, "name", None) or "<stream>"
        if not isinstance(name, str):
            name = "<stream>"
    if src is None:  # sys.stdin is None when the process started with standard input closed
        raise InputError(
            "Cannot read the log from standard input: it is closed",
            expected="a log piped to standard input, or a file",
            hint="Pipe the log in (python train.py 2>&1 | cifar-doctor check --log -), or pass the file",
        )
    try:
        return _read(src, name, classes)
    finally:
        if close is not None:
            close.close()


def _is_stdin(name: str) -> bool:
    """Whether `name` is a pipe, socket or device that is this process's standard input (`/dev/stdin`)."""
    try:
        st = os.stat(name)
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            return False
        fd0 = os.fstat(0)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (fd0.st_dev, fd0.st_ino)


def _read(src: Any, name: str, classes: int | None) -> History:
    log = LogInput(src, name)
    for reader in LOG_READERS:
        head = log.text_head().encode("utf-8") if reader.text else log.head
        if reader.sniff(head, None):
            return reader.read(log, classes)
    raise AssertionError("the console reader reads any text")  # pragma: no cover
