"""The one place cifar-doctor imports Keras (and so TensorFlow): quietly.

TensorFlow's native libraries write start-up lines straight to file
descriptor 2 while they load, before absl's logging is initialised, so
`TF_CPP_MIN_LOG_LEVEL` cannot hide them (`WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR`, `I0000 ... oneDNN
custom operations are on`, `Could not find cuda drivers on your machine`,
once per native library that loads), and the first device probe adds
`E0000 ... failed call to cuInit` on a machine without a GPU. None of it is
about the user's model or data.

From the command line (`set_cli()`), `import_keras()` sets the logging
variables (unless the user set them), then imports Keras and lists
TensorFlow's physical devices with file descriptor 2 pointed at a temporary file; the
descriptor is restored afterwards and the captured text dropped. Nothing is
hidden when:

- the import fails: the captured text is written to stderr before the error
  propagates, so a broken installation still says why;
- `--debug` is given (`set_debug(True)`) or `CIFAR_DOCTOR_DEBUG` is set;
- the caller is a library user's process (`DoctorCallback`, `diagnose` in a
  notebook), or Keras or TensorFlow was already imported: Keras is imported
  as a plain `import keras` would, and nothing is redirected or configured.

Example:

>>> from cifar_doctor.tfenv import import_keras
>>> keras = import_keras()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

#: Environment variables set before the import, unless the user set them.
#: `TF_CPP_MIN_LOG_LEVEL=2` drops TensorFlow's C++ INFO and WARNING lines and
#: keeps its errors; `GLOG_minloglevel` and `ABSL_MIN_LOG_LEVEL` say the same
#: to libraries that read them. None of them reaches the lines written before
#: absl's logging starts, which the descriptor redirection catches.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GLOG_minloglevel": "2", "ABSL_MIN_LOG_LEVEL": "2"}

#: Setting it to anything non-empty shows everything, as `--debug` does.
DEBUG_ENV = "CIFAR_DOCTOR_DEBUG"

_state = {"debug": False, "cli": False}


def set_debug(debug: bool) -> None:
    """Show TensorFlow's start-up output (`--debug`). Defaults to hiding it."""
    _state["debug"] = bool(debug)


def set_cli(cli: bool = True) -> None:
    """The process is the command line: import Keras quietly and probe TensorFlow's devices with it.

    A library caller's process (`DoctorCallback`, `diagnose` in a notebook) is
    left as the user set it up: its logging variables and file descriptors are
    not touched.
    """
    _state["cli"] = bool(cli)


def debugging() -> bool:
    """Whether nothing is to be hidden (`--debug` or `CIFAR_DOCTOR_DEBUG`)."""
    return _state["debug"] or bool(os.environ.get(DEBUG_ENV))


@contextlib.contextmanager
def silenced_stderr_fd() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file for the block; show what it caught only on error.

    Python's `sys.stderr` is flushed before and after, so text written through
    it keeps its order. When the block raises, the captured bytes are written to
    the real stderr before the exception propagates.
    """
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a closed stderr): nothing to hide
        yield
        return
    import tempfile  # here: only a command that loads Keras pays for it

    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            try:
                sys.stderr.flush()
            except (AttributeError, ValueError, OSError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                captured = sink.read(1 << 20)
                if captured:
                    os.write(2, captured)


def _probe_devices(keras: ModuleType) -> None:
    """List TensorFlow's physical devices: the CUDA probe (and its `cuInit` error line) happens here.

    Listing physical devices does not initialise them, so memory growth and
    logical devices (`training.strategy`) can still be configured afterwards.
    """
    try:
        backend = keras.backend.backend()
    except Exception:  # noqa: BLE001 - an odd Keras: nothing to probe
        return
    if backend != "tensorflow":
        return
    import tensorflow as tf

    tf.config.list_physical_devices()


def import_keras() -> ModuleType:
    """Import Keras (and its backend) for cifar-doctor, without TensorFlow's start-up chatter.

    Returns:
        The `keras` module.

    Raises:
        ImportError: when Keras or its backend cannot be imported; the
            native libraries' output is shown on stderr first.
    """
    first = "keras" not in sys.modules and "tensorflow" not in sys.modules
    if not first or not _state["cli"] or debugging():
        import keras

        return keras
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    with silenced_stderr_fd():
        import keras

        _probe_devices(keras)
    return keras


def import_tensorflow() -> ModuleType:
    """Import TensorFlow for cifar-doctor, quietly (through `import_keras`, so both are set up once)."""
    import_keras()
    import tensorflow as tf

    return tf


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Keep TensorFlow's Python warnings about retraced functions out of the user's terminal for the block.

    The measurements call `model.predict` on samples of several sizes (a training sample, an eval
    sample, the last partial chunk), and TensorFlow warns about each retrace of its predict function
    ("5 out of the last 17 calls ... triggered tf.function retracing"): advice about the user's own
    code that this tool's calls caused. Other warnings and errors still show; `--debug` shows all.
    """
    import logging

    logger = logging.getLogger("tensorflow")
    if debugging():
        yield
        return
    retraced = _RetraceFilter()
    logger.addFilter(retraced)
    try:
        yield
    finally:
        logger.removeFilter(retraced)


class _RetraceFilter:
    """Drops TensorFlow's "triggered tf.function retracing" records; passes every other record."""

    def filter(self, record: Any) -> bool:
        try:
            return "tf.function retracing" not in record.getMessage()
        except Exception:  # a record whose message cannot be formatted: let logging report it
            return True
