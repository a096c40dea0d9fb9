"""Images and labels from what Keras' `fit` accepts: arrays, `tf.data`, `PyDataset`, generators.

`take_sample(data, n, name)` reads a bounded sample from any of them and
returns a `Sampled`: the sample as arrays, how it was drawn, and, for inputs
that can be read again, a `DataSource` over every image for the checks that
need the full data (duplicates). Nothing here imports TensorFlow: a
`tf.data.Dataset` is recognised by its methods and read with
`as_numpy_iterator()`.

Elements may be `(x, y)`, `(x, y, sample_weight)`, `x` alone, or dicts such
as `{"image": ..., "label": ...}`; a `tf.data` pipeline may be batched or
not (an element of rank 3 is one image).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from .base import CHUNK_IMAGES
from .sampling import SampleInfo

#: Dict keys read as the images and as the labels of an element, in order of preference
#: (`tfds` uses `image`/`label`; Hugging Face datasets `img`/`pixel_values` and `label`/`labels`).
IMAGE_KEYS = ("image", "images", "img", "x", "pixel_values", "pixels", "input", "inputs", "input_1")
LABEL_KEYS = ("label", "labels", "y", "target", "targets", "class", "class_id")

#: Rank of one image (H, W, C); a `tf.data` element of this rank is unbatched.
IMAGE_RANK = 3


@dataclass
class Sampled:
    """A sample of images and labels read from a pipeline.

    Args:
        x: The sampled images.
        y: Their labels, or `None` when the pipeline yields none.
        sample: How the sample was drawn.
        full: Every image, read again on demand (`None` for one-shot iterators).
    """

    x: np.ndarray
    y: np.ndarray | None
    sample: SampleInfo | None
    full: Any = None


def is_pipeline(data: Any) -> bool:
    """`data` is a `tf.data.Dataset`, a `keras.utils.PyDataset`/`Sequence` or an iterator, not an array."""
    if data is None or isinstance(data, (np.ndarray, tuple, list, dict, str, bytes, range)):
        return False
    if hasattr(data, "__array__") or hasattr(data, "shape"):
        return False
    return _is_dataset(data) or _is_indexed(data) or hasattr(data, "__iter__")


def _is_dataset(data: Any) -> bool:
    return hasattr(data, "element_spec") and hasattr(data, "as_numpy_iterator")


def _is_indexed(data: Any) -> bool:
    return hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "shape")


def strided(a: Any, n: int) -> Any:
    """`n` items spread evenly over `a` (a view for NumPy arrays), or `a` itself if short."""
    length = len(a)
    if length <= n:
        return a
    step = length // n
    return a[: step * n : step]


def take_sample(data: Any, n: int, name: str, *, one_shot_ok: bool = False) -> Sampled | None:
    """A bounded sample of `data`: arrays, a tf.data.Dataset, a PyDataset or (with `one_shot_ok`) an iterator.

    Args:
        data: `(x, y)` or `(x, y, sample_weight)` arrays, a `tf.data.Dataset`,
            a `keras.utils.PyDataset`, or an iterator of batches.
        n: At most this many images.
        name: The argument's name, for error messages.
        one_shot_ok: Accept an iterator that can be read only once (it is
            consumed). Defaults to `False`: `DoctorCallback` must not consume
            what `fit` is about to read.

    Raises:
        InputError: `data` is none of these, or yields something other than images.
    """
    if data is None:
        return None
    if isinstance(data, (tuple, list)):
        return _from_arrays(data, n, name)
    if _is_dataset(data):
        total = _cardinality(data)
        batches = _batches_of(data.as_numpy_iterator(), _unbatched(data))
        x, y = _collect(batches, n, name)
        return Sampled(x, y, SampleInfo(total, len(x), "head"), PipelineSource(data, total, name))
    if _is_indexed(data):
        total_batches = len(data)
        x, y = _collect((data[i] for i in range(total_batches)), n, name)
        return Sampled(x, y, SampleInfo(None, len(x), "head"), IndexedSource(data, name))
    if hasattr(data, "__iter__"):
        if iter(data) is data and not one_shot_ok:
            raise InputError(
                f"Invalid value received for argument `{name}`",
                expected="arrays, a tf.data.Dataset or a keras.utils.PyDataset",
                received=f"a one-shot iterator ({type(data).__name__}), which the callback would consume",
                hint="Pass a few batches as arrays, e.g. (x[:2000], y[:2000])",
            )
        x, y = _collect(iter(data), n, name)
        return Sampled(x, y, SampleInfo(None, len(x), "head"), None)
    raise InputError(
        f"Invalid value received for argument `{name}`",
        expected="a tuple (x, y) of arrays, a tf.data.Dataset or a keras.utils.PyDataset",
        received=f"{name} of type {type(data).__name__}",
    )


def _from_arrays(data: Sequence[Any], n: int, name: str) -> Sampled:
    if len(data) not in (2, 3) or data[0] is None:
        raise InputError(
            f"Invalid value received for argument `{name}`",
            expected="a tuple (x, y) or (x, y, sample_weight) of arrays, a tf.data.Dataset or a keras.utils.PyDataset",
            received=f"a {type(data).__name__} of length {len(data)}",
        )
    x, y = data[0], data[1]
    if isinstance(x, dict) or not hasattr(x, "__len__"):
        raise InputError(
            f"Invalid value received for argument `{name}`",
            expected="image arrays of shape (N, H, W, C) or (N, C, H, W)",
            received=f"x of type {type(x).__name__}",
            hint="Multi-input models are not supported; pass the image input only",
        )
    if y is not None and len(y) != len(x):
        raise InputError(
            f"Invalid value received for argument `{name}`",
            expected="as many labels as images",
            received=f"{len(x)} images and {len(y)} labels",
        )
    xs = np.asarray(strided(x, n))
    ys = np.asarray(strided(y, n)) if y is not None else None
    xs, ys = checked(xs, ys, name)
    return Sampled(xs, ys, SampleInfo(len(x), len(xs), "even"), None)


def _cardinality(ds: Any) -> int | None:
    """Elements of an unbatched dataset, or `None` (infinite, unknown, or batched: batches, not images)."""
    try:
        card = int(ds.cardinality())
    except Exception:  # noqa: BLE001 - not every Dataset-like object has it
        return None
    return card if card >= 0 and _unbatched(ds) else None


def _unbatched(ds: Any) -> bool:
    """An element of `ds` is one image (rank <= 3), not a batch."""
    spec = ds.element_spec
    if isinstance(spec, (tuple, list)):
        spec = spec[0] if spec else None
    elif isinstance(spec, dict):
        spec = spec.get(_pick_key(spec, IMAGE_KEYS) or "", None)
    shape = getattr(spec, "shape", None)
    rank = getattr(shape, "rank", None)
    if rank is None and shape is not None:
        try:
            rank = len(shape)
        except TypeError:
            rank = None
    return rank is not None and rank <= IMAGE_RANK and not _is_batched_gray(shape)


def _is_batched_gray(shape: Any) -> bool:
    """A rank-3 element whose first axis is unknown is a batch of grayscale images `(None, H, W)`."""
    try:
        dims = list(shape)
    except TypeError:
        return False
    return len(dims) == IMAGE_RANK and dims[0] is None


def _batches_of(elements: Iterable[Any], unbatched: bool, size: int = 256) -> Iterator[Any]:
    """Batches from elements: unbatched elements are grouped `size` at a time."""
    if not unbatched:
        yield from elements
        return
    group: list[Any] = []
    for el in elements:
        group.append(el)
        if len(group) == size:
            yield _stack(group)
            group = []
    if group:
        yield _stack(group)


def _stack(elements: list[Any]) -> Any:
    first = elements[0]
    if isinstance(first, dict):
        return {k: np.stack([e[k] for e in elements]) for k in first}
    if isinstance(first, (tuple, list)):
        return tuple(np.stack([e[i] for e in elements]) for i in range(len(first)))
    return np.stack(elements)


def _pick_key(d: Any, names: tuple[str, ...]) -> str | None:
    lower = {str(k).lower(): k for k in d}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def split_batch(batch: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """`(x, y)` of one batch: a tuple `(x, y[, w])`, a dict, or `x` alone."""
    if isinstance(batch, dict):
        xk = _pick_key(batch, IMAGE_KEYS)
        if xk is None:
            arrays = [k for k, v in batch.items() if np.ndim(v) >= IMAGE_RANK]
            xk = arrays[0] if len(arrays) == 1 else None
        if xk is None:
            raise InputError(
                f"Invalid value received for argument `{name}`",
                expected=f"elements with an image entry (one of {', '.join(IMAGE_KEYS[:4])}, ...)",
                received=f"dict elements with keys {sorted(map(str, batch))[:8]}",
                hint="Map the dataset to (image, label) pairs, e.g. ds.map(lambda d: (d['img'], d['y']))",
            )
        yk = _pick_key(batch, LABEL_KEYS)
        return np.asarray(batch[xk]), (np.asarray(batch[yk]) if yk is not None else None)
    if isinstance(batch, (tuple, list)):
        bx = batch[0]
        if isinstance(bx, dict):
            return split_batch({**bx, **({"label": batch[1]} if len(batch) > 1 else {})}, name)
        return np.asarray(bx), (np.asarray(batch[1]) if len(batch) > 1 and batch[1] is not None else None)
    return np.asarray(batch), None


def _collect(batches: Iterable[Any], n: int, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The first `n` images (and labels) of `batches`."""
    xs, ys, count = [], [], 0
    for batch in batches:
        bx, by = split_batch(batch, name)
        xs.append(bx)
        if by is not None:
            ys.append(by)
        count += len(bx)
        if count >= n:
            break
    if not xs:
        raise InputError(
            f"Invalid value received for argument `{name}`", expected="at least one batch", received="an empty dataset"
        )
    x = np.concatenate(xs)[:n]
    y = np.concatenate(ys)[:n] if len(ys) == len(xs) else None
    return checked(x, y, name)


def checked(x: np.ndarray, y: np.ndarray | None, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """`x` must be a numeric image batch."""
    if x.dtype == object or x.ndim < 2:
        raise InputError(
            f"Invalid value received for argument `{name}`",
            expected="a numeric image array of shape (N, H, W, C) or (N, C, H, W)",
            received=f"x of shape {tuple(x.shape)} and dtype {x.dtype}",
        )
    return x, y


class _Rereadable:
    """A `DataSource` over an input that can be iterated again from the start."""

    description = "pipeline"

    def __init__(self, batches: Callable[[], Iterable[Any]], count: int | None, name: str) -> None:
        self._batches = batches
        self._count = count
        self.name = name

    @property
    def count(self) -> int:
        if self._count is None:
            self._count = sum(len(split_batch(b, self.name)[0]) for b in self._batches())
        return self._count

    def chunks(self, size: int = CHUNK_IMAGES) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        held = 0
        for batch in self._batches():
            bx = split_batch(batch, self.name)[0]
            pending.append(bx)
            held += len(bx)
            while held >= size:
                block = np.concatenate(pending)
                yield block[:size]
                rest = block[size:]
                pending, held = ([rest] if len(rest) else []), len(rest)
        if held:
            yield np.concatenate(pending)

    def take(self, indices: Sequence[int]) -> np.ndarray:
        want = np.asarray(indices, dtype=np.int64)
        order = np.argsort(want)
        out: list[np.ndarray | None] = [None] * len(want)
        pos, k = 0, 0
        for chunk in self.chunks():
            while k < len(order) and want[order[k]] < pos + len(chunk):
                out[order[k]] = chunk[want[order[k]] - pos]
                k += 1
            pos += len(chunk)
            if k == len(order):
                break
        rows = [o for o in out if o is not None]
        if len(rows) < len(out):
            raise IndexError("index beyond the end of the pipeline")
        return np.stack(rows)


class PipelineSource(_Rereadable):
    """Every image of a `tf.data.Dataset`, read again with `as_numpy_iterator()`."""

    description = "tf.data pipeline"

    def __init__(self, ds: Any, count: int | None, name: str) -> None:
        unbatched = _unbatched(ds)
        super().__init__(lambda: _batches_of(ds.as_numpy_iterator(), unbatched), count, name)


class IndexedSource(_Rereadable):
    """Every image of a `keras.utils.PyDataset` (or `Sequence`), batch by batch."""

    description = "keras PyDataset"

    def __init__(self, data: Any, name: str) -> None:
        super().__init__(lambda: (data[i] for i in range(len(data))), None, name)
