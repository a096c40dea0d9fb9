"""What every data source gives the checks: a full pass in chunks, random access, a count.

A split's images reach the checks as `Split.x`, an in-memory array: all of
them for data that fits (an `.npz`, the CIFAR-10 files, arrays handed to
`diagnose`), a sample (`cifar_doctor.sources.sampling`) for data that does
not. The few checks that must see every image (duplicates) go through the
split's `DataSource`, so no check knows where the images came from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import InputError

#: Images per chunk of a full pass: 1,024 CIFAR images are 3 MB as uint8,
#: 12 MB as float32; a 48x48 uint8 chunk is 7 MB. Large enough that per-chunk
#: overhead vanishes, small enough that memory is set by the sample, not by this.
CHUNK_IMAGES = 1_024

#: Labels are class indices below this. The largest class-index dataset, ImageNet-21k, has
#: 21,841 classes; the label checks size per-class tables by the largest label, so a label of
#: 10**12 would ask them for terabytes.
MAX_LABEL_VALUE = 100_000


#: Called as `(canonical key, array)` by a reader that reads several arrays side by side, in the
#: thread that read that array, as soon as it is read (`while_reading`).
_ON_READ: ContextVar[Callable[[str, np.ndarray], None] | None] = ContextVar("on_read", default=None)


@contextlib.contextmanager
def while_reading(fn: Callable[[str, np.ndarray], None] | None) -> Iterator[None]:
    """Within the block, readers that read a file's arrays side by side (an npz's deflated members)
    call `fn(canonical key, array)` in the thread that read an array, as soon as it is read, while
    another still is: work on the test images then uses the core that the reading of the training
    images leaves idle. `fn` must not raise."""
    token = _ON_READ.set(fn)
    try:
        yield
    finally:
        _ON_READ.reset(token)


def on_read() -> Callable[[str, np.ndarray], None] | None:
    """The function `while_reading` set for this context, if any."""
    return _ON_READ.get()


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
            yield self.x[start : start + size]

    def take(self, indices: Sequence[int]) -> np.ndarray:
        return self.x[np.asarray(indices, dtype=np.int64)]


@dataclass
class LoadedData:
    """Arrays read from a data source, and a plain description of it.

    Args:
        arrays: Canonical key (`x_train`, `y_train`, `x_test`, `y_test`, optionally
            `x_val`, `y_val`) -> array, as stored.
        description: Plain JSON values: `kind` (`npz`, `cifar-10-batches-py`,
            `cifar-10-tarball`, `bundled-sample`), `path`, `shapes`, `dtypes`,
            `notices` and, for `load_cifar10()`, `source`.
        full: Split name -> `DataSource` over every image, for splits
            whose `arrays` hold a sample (`.npy` files, image folders).
            Defaults to `{}`.
        samples: Split name -> `SampleInfo`: how that sample was drawn. Defaults to `{}`.
        scan: What reading an image folder found (`cifar_doctor.sources.folders.FolderScan`).
            Defaults to `None`.
    """

    arrays: dict[str, np.ndarray]
    description: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, Any] = field(default_factory=dict)
    scan: Any = None


def _check_images(x: np.ndarray, key: str, p: Path) -> None:
    """Images are (N, H, W, C), (N, C, H, W), (N, H, W) or flattened (N, D), with at least one image."""
    if not 2 <= x.ndim <= 4:
        raise InputError(
            f"Cannot read data: {key} in {p} is not an array of images",
            expected="images of shape (N, H, W, C), (N, C, H, W), (N, H, W) or flattened (N, D)",
            received=f"shape {tuple(x.shape)}",
            hint="Reshape before saving, e.g. x.reshape(-1, 32, 32, 3)",
        )
    if 0 in x.shape:
        raise InputError(
            f"Cannot read data: {key} in {p} holds no " + ("images" if len(x) == 0 else "pixels"),
            expected="at least one image with at least one pixel",
            received=f"shape {tuple(x.shape)}",
            hint="Save the split's images, or leave the split out",
        )


def _check_label_values(y: np.ndarray, key: str, p: Path) -> None:
    """Class-index labels stay below `MAX_LABEL_VALUE` (a class count is taken from the largest one)."""
    if (y.ndim == 2 and y.shape[1] != 1) or y.ndim > 2 or y.size == 0 or y.dtype.kind not in "iuf":
        return  # one-hot rows, or labels the label checks report as invalid
    finite = y[np.isfinite(y)] if y.dtype.kind == "f" else y
    top = finite.max() if finite.size else 0
    if top >= MAX_LABEL_VALUE:
        raise InputError(
            f"Cannot read data: {key} in {p} holds the label {top:.6g}, which is not a class index",
            expected=f"class indices 0..K-1 below {MAX_LABEL_VALUE:,} (ImageNet-21k has 21,841 classes), "
            "or one-hot rows",
            hint="Save the class index of each image, e.g. np.argmax(one_hot, axis=1)",
        )


def loaded_arrays(
    arrays: dict[str, np.ndarray], kind: str, p: Path, notices: list[str], renamed: dict[str, str] | None = None
) -> LoadedData:
    """Arrays read whole, checked (images, label values, one label per image), as a `LoadedData`."""
    for split in ("train", "test", "val"):
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is not None:
            _check_images(x, f"x_{split}", p)
        if y is not None:
            _check_label_values(y, f"y_{split}", p)
        if x is not None and y is not None and len(x) != len(y):
            raise InputError(
                f"Cannot read data: x_{split} and y_{split} in {p} have different lengths",
                expected="one label per image",
                received=f"x_{split} shape {tuple(x.shape)}, y_{split} shape {tuple(y.shape)}",
                hint="Save the images and labels of each split together, in the same order",
            )
    description: dict[str, Any] = {
        "kind": kind,
        "path": str(p),
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "dtypes": {k: str(v.dtype) for k, v in arrays.items()},
        "notices": notices,
    }
    if renamed:
        description["keys"] = dict(renamed)
    return LoadedData(arrays, description)


def short_error(exc: BaseException) -> str:
    """The first line of an exception's message, at most 160 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
