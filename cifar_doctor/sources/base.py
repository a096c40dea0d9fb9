"""What every data source gives the checks: a full pass in chunks, random access, a count.

A split's images reach the checks as `Split.x`, an in-memory array: all of
them for data that fits (an `.npz`, the CIFAR-10 files, arrays handed to
`diagnose`), a sample (`cifar_doctor.sources.sampling`) for data that does
not. The few checks that must see every image (duplicates) go through the
split's `DataSource`, so no check knows where the images came from.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

import numpy as np

#: Images per chunk of a full pass: 1,024 CIFAR images are 3 MB as uint8,
#: 12 MB as float32; a 48x48 uint8 chunk is 7 MB. Large enough that per-chunk
#: overhead vanishes, small enough that memory is set by the sample, not by this.
CHUNK_IMAGES = 1_024


class DataSource(Protocol):
    """The full images of one split, read without holding them all in memory.

    Attributes:
        count: Images in the split.
        description: Where they come from, for the report.
    """

    count: int
    description: str

    def chunks(self, size: int = CHUNK_IMAGES) -> Iterator[np.ndarray]:
        """Every image, in order, `size` at a time, as arrays `(n, H, W, C)`."""
        ...

    def take(self, indices: Sequence[int]) -> np.ndarray:
        """The images at `indices` (sorted or not), as one array."""
        ...


class ArraySource:
    """A `DataSource` over an array already in memory (or a NumPy memmap)."""

    def __init__(self, x: np.ndarray, description: str = "array") -> None:
        self.x = x
        self.count = len(x)
        self.description = description

    def chunks(self, size: int = CHUNK_IMAGES) -> Iterator[np.ndarray]:
        for start in range(0, self.count, size):
            yield self.x[start:start + size]

    def take(self, indices: Sequence[int]) -> np.ndarray:
        return self.x[np.asarray(indices, dtype=np.int64)]
