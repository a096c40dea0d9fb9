"""The runner seam: work items over a split's images, and the in-process runner."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Rows:
    """Some images of one split: read where they lie, or carried along when they are only in memory.

    Args:
        source: A `cifar_doctor.sources.base.DataSource` (a file, image folders) to read them
            from; `None` when `images` carries them.
        start: Position of the first image in the split (or in the subset of the split searched).
        stop: One past the last position.
        indices: The split positions to read, when they are not `start..stop` (a sample, a subset).
            Defaults to `None`.
        images: The images themselves, when the split exists only in memory. Defaults to `None`.
    """

    source: Any
    start: int
    stop: int
    indices: np.ndarray | None = None
    images: Any = None

    def __len__(self) -> int:
        return self.stop - self.start

    def read(self) -> np.ndarray:
        """The images, as one array."""
        if self.images is not None:
            return np.asarray(self.images)
        idx = self.indices if self.indices is not None else np.arange(self.start, self.stop, dtype=np.int64)
        rows = getattr(self.source, "rows", None)
        if self.indices is None and rows is not None:  # one contiguous read
            return rows(self.start, self.stop)
        return self.source.take(idx)


def split_rows(split: Any, size: int, subset: np.ndarray | None = None) -> list[Rows]:
    """The images of `split` (its full source when `split.x` is a sample), `size` at a time.

    With `subset` (sorted split positions), the images at those positions, numbered 0.. in the subset.
    """
    n = len(subset) if subset is not None else split.count
    out = []
    for a in range(0, n, size):
        b = min(a + size, n)
        idx = None if subset is None else np.asarray(subset[a:b], dtype=np.int64)
        if split.full is not None:
            out.append(Rows(split.full, a, b, indices=idx))
        else:
            out.append(Rows(None, a, b, images=split.x[a:b] if idx is None else split.x[idx]))
    return out


def array_rows(x: Any, size: int, indices: np.ndarray | None = None, source: Any = None) -> list[Rows]:
    """The images of an in-memory array `size` at a time: read again from `source` at `indices` when
    both are given (the array is a sample of that source), else carried."""
    out = []
    for a in range(0, len(x), size):
        b = min(a + size, len(x))
        if source is not None and indices is not None:
            out.append(Rows(source, a, b, indices=np.asarray(indices[a:b], dtype=np.int64)))
        else:
            out.append(Rows(None, a, b, images=x[a:b]))
    return out


class Runner(Protocol):
    """Applies a function to work items and returns the results in item order.

    Attributes:
        name: `direct` or `beam`, for the report.
        searches_all: DUP002 searches every eval image, whatever the number of image pairs
            (a distributed runner), rather than a sample above `NEAR_PAIR_BUDGET` pairs.
    """

    name: str
    searches_all: bool

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, stage: str) -> list[R]:
        """`[fn(item) for item in items]`, wherever `fn` runs; `stage` names the step for logs."""
        ...


class DirectRunner:
    """Every work item in this process, one after another: the default."""

    name = "direct"
    searches_all = False

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, stage: str) -> list[R]:
        return [fn(item) for item in items]


#: The runner used when none is given.
DIRECT = DirectRunner()


#: Most threads of the in-process pool (`ThreadedRunner`): each holds one chunk buffer (12 MB of float32
#: pixels for the near-duplicate search), and these passes are bound by memory bandwidth well before
#: eight cores, so a workstation's many cores add memory, not speed.
MAX_THREADS = 8


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the platform says, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def blas_threads(threads: int) -> contextlib.AbstractContextManager[Any]:
    """At most `threads` BLAS threads for the block, when `threadpoolctl` is there to set them
    (`pip install cifar-doctor[search]`); otherwise the block runs as it is."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(threads, user_api="blas")


class ThreadedRunner:
    """Work items on a pool of threads in this process, in item order: for items that carry their
    images in memory (NumPy releases the interpreter lock in its array loops and products, so the
    items of a stage share the cores). Items that read files go through `DIRECT`, one at a time:
    a reader's open handles are not shared between threads.

    Args:
        workers: Threads. Defaults to `None`: the cores this process may use, at most `MAX_THREADS`.
    """

    name = "direct"
    searches_all = False

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else min(available_cores(), MAX_THREADS)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, stage: str) -> list[R]:
        if self.workers < 2 or len(items) < 2:
            return [fn(item) for item in items]
        # one BLAS thread per worker: the pool already fills the cores, nested BLAS pools would contend for them
        with blas_threads(1), ThreadPoolExecutor(min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))


def _tagged(fns: tuple[Callable[[Any], Any], ...], item: tuple[int, Any]) -> Any:
    tag, payload = item
    return fns[tag](payload)


def map_jobs(
    runner: Runner, jobs: Sequence[tuple[Callable[[Any], Any], Sequence[Any]]], *, stage: str
) -> list[list[Any]]:
    """Several functions over their own items in one stage (one pipeline on the beam runner, whose
    start-up is paid once): the results of each job, in item order.

    Example:

    >>> map_jobs(DIRECT, [(abs, [-1, 2]), (str, [3])], stage="demo")
    [[1, 2], ['3']]
    """
    fns = tuple(fn for fn, _ in jobs)
    tagged = [(tag, item) for tag, (_, items) in enumerate(jobs) for item in items]
    flat = runner.map(partial(_tagged, fns), tagged, stage=stage)
    out, at = [], 0
    for _, items in jobs:
        out.append(flat[at : at + len(items)])
        at += len(items)
    return out


def local_runner(runner: Runner, in_memory: bool) -> Runner:
    """`runner`, or a pool of threads (`ThreadedRunner`) for the default in-process runner when every
    work item carries its images in memory; items that read files keep `DIRECT`, one at a time."""
    if runner is DIRECT and in_memory:
        return ThreadedRunner()
    return runner
