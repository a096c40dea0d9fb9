"""Image arrays computed on demand, a chunk at a time, from a stored (base) array.

`compare` keeps one uint8 copy of CIFAR-10 and hands each run's diagnosis the
images as the recipe feeds them through a `MappedImages`: indexing it
(`x[a:b]`, `x[idx]`, `x[i]`) applies the recipe's own preprocessing to the
selected uint8 images and returns a NumPy array, so the values are the ones a
fully preprocessed array would hold, and no full-size float32 copy is ever
made. The readers that go through a whole split (`cifar_doctor.measure.stats.image_stats`,
the model evaluator, the counterfactual) read it in chunks; `np.asarray(x)`
still works and computes everything (for a reader that needs it all at once).

No TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def is_lazy(x: Any) -> bool:
    """Whether `x` is a `MappedImages` (read it in chunks rather than with `np.asarray`)."""
    return isinstance(x, MappedImages)


class MappedImages:
    """`fn(base)`, computed for the images that are indexed.

    Args:
        base: The stored images (a NumPy array, or another `MappedImages`).
        fn: The preprocessing, from an array of images to an array of `dtype`
            of the same shape (e.g. a recipe's `x.astype("float32") / 255`).
        dtype: What `fn` returns. Defaults to `"float32"`.
        elementwise: `fn` maps each value on its own (a scaling), so any index
            can be applied to the base first (`x[:, 3, 4, 0]` reads one value
            per image). Otherwise `fn` must map each image on its own (a
            channel reordering), and only the first axis is applied first.
            Defaults to `True`.

    Example:

    >>> import numpy as np
    >>> raw = np.full((4, 2, 2, 3), 255, np.uint8)
    >>> x = MappedImages(raw, lambda a: a.astype("float32") / 255)
    >>> x.shape, x.dtype, float(x[1:3].max())
    ((4, 2, 2, 3), dtype('float32'), 1.0)
    """

    def __init__(
        self, base: Any, fn: Callable[[np.ndarray], np.ndarray], *, dtype: Any = "float32", elementwise: bool = True
    ) -> None:
        self.base = base
        self.fn = fn
        self.dtype = np.dtype(dtype)
        self.elementwise = elementwise

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.base.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes the images would take as one array of `dtype` (what the model is fed)."""
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return int(self.shape[0])

    def head(self, n: int) -> MappedImages:
        """The first `n` images, still computed on demand."""
        return MappedImages(
            self.base[:n] if not is_lazy(self.base) else self.base.head(n),
            self.fn,
            dtype=self.dtype,
            elementwise=self.elementwise,
        )

    def _apply(self, values: Any) -> np.ndarray:
        return np.asarray(self.fn(np.asarray(values)), dtype=self.dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        if self.elementwise:
            return self._apply(self.base[key])
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, (int, np.integer)):
            return self._apply(self.base[first : first + 1 if first != -1 else None])[0][rest]
        return self._apply(self.base[first])[(slice(None),) + tuple(rest)]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self._apply(self.base[:])
        return out.astype(dtype, copy=False) if dtype is not None else out

    def __repr__(self) -> str:
        return f"MappedImages(shape={self.shape}, dtype={self.dtype}, base dtype={self.base.dtype})"
