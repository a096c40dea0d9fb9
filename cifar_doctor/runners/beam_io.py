"""The pieces of the beam runner that run on its workers: a stage's DoFn and the files it reads and writes.

Imported only with Apache Beam installed (`cifar_doctor.runners.beam` imports it when a pipeline runs).
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from .base import Rows


class Apply(beam.DoFn):
    """The DoFn of a stage: loads the stage's function once per worker, writes one result file per item."""

    def __init__(self, fn_path: str, out_dir: str) -> None:
        super().__init__()
        self.fn_path, self.out_dir = fn_path, out_dir
        self.fn: Callable[[Any], Any] | None = None

    def setup(self) -> None:
        self.fn = pickle.loads(read_file(self.fn_path))

    def process(self, element: tuple[int, Any]) -> Iterator[int]:
        k, item = element
        if self.fn is None:
            self.setup()
        assert self.fn is not None
        write_file(f"{self.out_dir}/out-{k:07d}.pkl", pickle.dumps(self.fn(unstaged(item)), protocol=5))
        yield k


def read_file(path: str) -> bytes:
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return fh.read()


def write_file(path: str, data: bytes) -> None:
    with FileSystems.create(path, compression_type="uncompressed") as fh:
        fh.write(data)


class Staged:
    """Images written to the results folder (`np.save`), read back by a worker."""

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> np.ndarray:
        return np.load(io.BytesIO(read_file(self.path)), allow_pickle=False)


def unstaged(item: Any) -> Any:
    if isinstance(item, Rows) and isinstance(item.images, Staged):
        return Rows(None, item.start, item.stop, item.indices, item.images.load())
    if isinstance(item, (list, tuple)):
        return type(item)(unstaged(v) for v in item)
    return item
