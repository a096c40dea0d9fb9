"""The full passes as an Apache Beam pipeline: each work item read and processed where a worker runs.

One pipeline per stage (hashing a split, signatures, the candidate search,
verification, statistics): the items (`Rows`, or batches of them) are
created, redistributed (`Reshuffle`) and processed by `_Apply`, which loads the
stage's function once per worker and writes each item's result to the
results folder; the driver reads the results back in item order. A work item
names a file and rows or image files to read, never the pixels, so each worker
reads its shard where it lies; images that exist only in memory (an `.npz`
read whole) are written to the results folder first.

The pipeline options are Beam's own flags (`--runner=DataflowRunner
--project=... --temp_location=gs://...`, `--runner=FlinkRunner ...`), passed
through unchanged and checked before any data is read.
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ..errors import UsageError
from .base import Rows

T = TypeVar("T")
R = TypeVar("R")

#: Options added when the user gives none of their own: the local DirectRunner with one worker
#: process per core (`direct_num_workers=0`), and Beam's workers logging errors only.
DEFAULT_FLAGS = {
    "--runner": "DirectRunner",
    "--direct_running_mode": "multi_processing",
    "--direct_num_workers": "0",
    "--default_sdk_harness_log_level": "ERROR",
}

#: Runners that run on this machine, whose results folder may be a local temporary folder;
#: any other needs `--temp_location` on storage its workers and this process both reach.
LOCAL_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "FnApiRunner", "PrismRunner")

#: Bytes of the held-back stderr of a failed pipeline shown (its last lines hold the workers' error).
STDERR_TAIL_BYTES = 4000

#: What to install for this runner.
INSTALL_HINT = "pip install 'cifar-doctor[beam]' (apache-beam), or leave out --runner beam"


def _flag_name(flag: str) -> str:
    return flag.split("=", 1)[0]


def _with_defaults(flags: list[str]) -> list[str]:
    """The user's flags, plus each of `DEFAULT_FLAGS` they did not give (Direct ones only for the DirectRunner)."""
    given = {_flag_name(f) for f in flags if f.startswith("--")}
    runner = next((f.split("=", 1)[1] for f in flags if f.startswith("--runner=")), None)
    if runner is None and "--runner" in flags:
        at = flags.index("--runner")
        runner = flags[at + 1] if at + 1 < len(flags) else None
    out = list(flags)
    for name, value in DEFAULT_FLAGS.items():
        if name in given:
            continue
        if name.startswith("--direct_") and runner not in (None, "DirectRunner"):
            continue
        out.append(f"{name}={value}")
    return out


def check_options(flags: list[str]) -> Any:
    """Beam `PipelineOptions` from `flags`, refused with one line when Beam would not accept them.

    Raises:
        UsageError: apache-beam is not installed, a flag is unknown or has a bad value, the runner
            does not exist, or a remote runner has no `--temp_location`.
    """
    try:
        with _no_import_warnings():
            import apache_beam  # noqa: F401
            from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions
    except ImportError:
        raise UsageError(
            "The beam runner needs Apache Beam, which is not installed", hint=f"Install it: {INSTALL_HINT}"
        ) from None
    full = _with_defaults(flags)
    captured = io.StringIO()
    quiet = logging.getLogger("apache_beam.options.pipeline_options")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the unknown flags are reported below, as an error
    try:
        with contextlib.redirect_stderr(captured):
            options = PipelineOptions(full)
            known = options.get_all_options(retain_unknown_options=False)
            every = options.get_all_options(retain_unknown_options=True)
    except SystemExit:  # argparse: a bad value; its last line says which
        lines = [ln for ln in captured.getvalue().splitlines() if ln.strip()]
        why = lines[-1].split("error:", 1)[-1].strip() if lines else "not accepted"
        raise UsageError(
            f"Invalid Beam pipeline option: {why}",
            received=" ".join(flags),
            hint="Beam's flags follow `--` after the cifar-doctor options, e.g. -- --direct_num_workers=2",
        ) from None
    finally:
        quiet.setLevel(level)
    unknown = sorted(set(every) - set(known))
    if unknown:
        raise UsageError(
            f"Unknown Beam pipeline option --{unknown[0]}",
            expected="a flag of apache_beam's PipelineOptions (e.g. --runner, --direct_num_workers, --temp_location)",
            received=" ".join(flags),
            hint="Check its spelling; a runner's own flags need that runner's extra (e.g. apache-beam[gcp])",
        )
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    try:
        from apache_beam.runners.runner import create_runner

        with contextlib.redirect_stderr(io.StringIO()), _no_import_warnings():
            create_runner(runner)
    except (ValueError, ImportError) as exc:
        raise UsageError(
            f"Cannot use the Beam runner {runner!r}: {str(exc).splitlines()[0][:200]}",
            hint="Name a runner Beam knows (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner) "
            "and install its extra",
        ) from None
    temp = options.view_as(GoogleCloudOptions).temp_location
    if runner.split(".")[-1] not in LOCAL_RUNNERS and not temp:
        raise UsageError(
            f"The Beam runner {runner} needs --temp_location",
            expected="a folder its workers and this machine both reach (e.g. gs://bucket/tmp)",
            hint="Add --temp_location=gs://... after `--`",
        )
    return options


def _staged(item: Any, folder: str, key: str) -> Any:
    """`item` with the images it carries written to `folder` (Rows, or tuples and lists of them)."""
    from .beam_io import Staged, write_file

    if isinstance(item, Rows) and item.images is not None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(np.asarray(item.images)), allow_pickle=False)
        path = f"{folder}/in-{key}.npy"
        write_file(path, buf.getvalue())
        return Rows(None, item.start, item.stop, item.indices, Staged(path))
    if isinstance(item, (list, tuple)):
        return type(item)(_staged(v, folder, f"{key}-{i}") for i, v in enumerate(item))
    return item


class BeamRunner:
    """Each stage's work items processed by an Apache Beam pipeline, on the runner Beam's flags name.

    Args:
        flags: Beam's command-line flags (`--runner=...`, `--direct_num_workers=...`), checked at once.
    """

    name = "beam"
    searches_all = True

    def __init__(self, flags: Sequence[str] = ()) -> None:
        self.flags = list(flags)
        self.options = check_options(self.flags)
        self.stages: list[dict[str, Any]] = []

    def _folder(self) -> tuple[str, bool]:
        """The results folder of one stage, and whether it is local (removed with shutil)."""
        from apache_beam.options.pipeline_options import GoogleCloudOptions

        temp = self.options.view_as(GoogleCloudOptions).temp_location
        if temp:
            return f"{temp.rstrip('/')}/cifar-doctor-{uuid.uuid4().hex}", False
        return tempfile.mkdtemp(prefix="cifar-doctor-beam-"), True

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, stage: str) -> list[R]:
        if not items:
            return []
        import time

        import apache_beam as beam
        from apache_beam.io.filesystems import FileSystems

        from .beam_io import Apply, read_file, write_file

        t0 = time.perf_counter()
        folder, local = self._folder()
        try:
            fn_path = f"{folder}/fn.pkl"
            write_file(fn_path, pickle.dumps(fn, protocol=5))
            keyed = [(k, _staged(item, folder, str(k))) for k, item in enumerate(items)]
            with _quiet_beam(), _held_stderr(), beam.Pipeline(options=self.options) as p:
                (
                    p
                    | f"{stage}/items" >> beam.Create(keyed)
                    | f"{stage}/spread" >> beam.Reshuffle()
                    | f"{stage}/apply" >> beam.ParDo(Apply(fn_path, folder))
                )
            results = [pickle.loads(read_file(f"{folder}/out-{k:07d}.pkl")) for k in range(len(items))]
        finally:
            if local:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                with contextlib.suppress(Exception):
                    FileSystems.delete([folder])
        self.stages.append({"stage": stage, "items": len(items), "seconds": round(time.perf_counter() - t0, 2)})
        return results


@contextlib.contextmanager
def _no_import_warnings() -> Any:
    """Beam's modules warn at import about optional cloud clients that are not installed: not ours to show."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@contextlib.contextmanager
def _held_stderr() -> Any:
    """The process's stderr (file descriptor 2, which Beam's worker processes inherit) held in a file while a
    pipeline runs: their start-up warnings are not ours to show. Shown after all when the pipeline fails."""
    import os
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                held.seek(0)
                sys.stderr.write(held.read()[-STDERR_TAIL_BYTES:].decode("utf-8", "replace"))


@contextlib.contextmanager
def _quiet_beam() -> Any:
    """Beam's INFO logging (pipeline start, worker start-up) held back; warnings still shown."""
    log = logging.getLogger("apache_beam")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)
