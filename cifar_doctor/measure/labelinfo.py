"""Label facts: how labels are encoded, how many classes, how many per class, which rows are broken.

Measurement only (the LBL checks judge). Vectorised NumPy; no TensorFlow.
Reached through `Split.labels(classes)`, which caches the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A one-hot or soft-label row is valid when it sums to 1 within this tolerance.
#: float32 label smoothing sums to 1 within ~1e-7; 1e-3 also admits float16
#: labels (eps ~1e-3) and rounded soft targets, while a missing class (sum 0) or a
#: multi-hot row (sum 2) is off by 1.
ROW_SUM_TOLERANCE = 1e-3
#: How far below 0 or above 1 an entry may sit (float rounding) before the row is invalid.
VALUE_TOLERANCE = 1e-6
#: Largest class count a label array is tabulated for when nothing states K
#: (the data loaders refuse labels of 100,000 or more too): labels up to 10^12
#: passed to `diagnose()` count as out of range instead of allocating a table of
#: 10^12 counts.
MAX_CLASSES = 100_000

#: Indices of invalid rows kept as evidence.
MAX_INDICES = 10

ENCODINGS = ("integer", "integer-column", "one-hot", "soft", "invalid")


@dataclass
class LabelInfo:
    """What a label array holds.

    Attributes:
        encoding: `integer` (N,), `integer-column` (N, 1), `one-hot` (N, K) rows of
            0s and one 1, `soft` (N, K) probability rows that are not all 0/1 (label
            smoothing, mixup), or `invalid` (a 2-D row that is not a distribution,
            more than two dimensions, non-numeric values).
        n: Number of labels (rows).
        classes: Number of classes: the given `classes`, else the one-hot width, else
            the largest valid integer label + 1; `None` when nothing tells.
        counts: Labels per class, `classes` entries (argmax for one-hot/soft rows;
            out-of-range and non-integer values are not counted).
        invalid_rows: 2-D rows that are not a distribution (see `ROW_SUM_TOLERANCE`).
        invalid_indices: The first few such rows.
        out_of_range: Integer labels < 0, or >= `classes` when `classes` is known.
        non_integer: Integer-encoded labels that are not whole numbers (incl. NaN/Inf).
        shape: The label array's shape.
        dtype: Its dtype.
        given_classes: The `classes` argument this was computed with.
        min_value / max_value: Smallest and largest finite label value (integer
            encodings) or entry (2-D encodings); `None` for an empty array.
        zero_rows / multi_hot_rows / negative_rows / nonfinite_rows: Breakdown of
            the invalid 2-D rows (rows summing to 0, rows with more than one entry at
            1, rows with a negative entry, rows with NaN/Inf).
        row_sum_min / row_sum_max: Range of the 2-D row sums.
        out_of_range_indices / non_integer_indices: The first few offending labels.
    """

    encoding: str
    n: int
    classes: int | None = None
    counts: list[int] = field(default_factory=list)
    invalid_rows: int = 0
    invalid_indices: list[int] = field(default_factory=list)
    out_of_range: int = 0
    non_integer: int = 0
    shape: tuple = ()
    dtype: str = ""
    given_classes: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    zero_rows: int = 0
    multi_hot_rows: int = 0
    negative_rows: int = 0
    nonfinite_rows: int = 0
    row_sum_min: float | None = None
    row_sum_max: float | None = None
    out_of_range_indices: list[int] = field(default_factory=list)
    non_integer_indices: list[int] = field(default_factory=list)

    @property
    def family(self) -> str:
        """`integer` for (N,)/(N, 1) class indices, `one-hot` for (N, K) rows (valid or not)."""
        return "integer" if self.encoding in ("integer", "integer-column") else "one-hot"

    @property
    def frequencies(self) -> list[float]:
        total = sum(self.counts)
        return [c / total for c in self.counts] if total else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "n": self.n,
            "classes": self.classes,
            "counts": list(self.counts),
            "invalid_rows": self.invalid_rows,
            "invalid_indices": list(self.invalid_indices),
            "out_of_range": self.out_of_range,
            "non_integer": self.non_integer,
            "shape": list(self.shape),
            "dtype": self.dtype,
        }


def label_info(y: Any, classes: int | None = None) -> LabelInfo:
    """Describe a label array.

    Args:
        y: Labels: integers of shape (N,) or (N, 1), or one-hot / soft rows (N, K).
        classes: Number of classes, when known (model outputs, `--classes`). Integer
            labels at or above it count as out of range. Defaults to `None`
            (inferred: one-hot width, or largest label + 1).

    Returns:
        A `LabelInfo`.

    Example:

    >>> label_info([[3], [1], [3]]).encoding, label_info([[3], [1], [3]]).counts
    ('integer-column', [0, 1, 0, 2])
    """
    arr = np.asarray(y)
    shape = tuple(int(s) for s in arr.shape)
    dtype = str(arr.dtype)
    if arr.ndim == 0 or arr.dtype.kind not in "biuf":
        n = shape[0] if shape else 0
        return LabelInfo(
            "invalid",
            n,
            classes,
            [0] * (classes or 0),
            n,
            list(range(min(n, MAX_INDICES))),
            shape=shape,
            dtype=dtype,
            given_classes=classes,
        )
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        return _integer(arr.reshape(-1), "integer" if arr.ndim == 1 else "integer-column", classes, shape, dtype)
    if arr.ndim == 2:
        return _rows(arr, classes, shape, dtype)
    n = shape[0]
    return LabelInfo(
        "invalid",
        n,
        classes,
        [0] * (classes or 0),
        n,
        list(range(min(n, MAX_INDICES))),
        shape=shape,
        dtype=dtype,
        given_classes=classes,
    )


def _integer(v: np.ndarray, encoding: str, classes: int | None, shape: tuple, dtype: str) -> LabelInfo:
    n = int(v.shape[0])
    if v.dtype.kind == "f":
        finite = np.isfinite(v)
        whole = finite & (v == np.round(v))
    else:
        whole = np.ones(n, dtype=bool)
        finite = whole
    ints = np.where(whole, v, 0).astype(np.int64, copy=False)
    fin_vals = v[finite]
    vmin = float(fin_vals.min()) if fin_vals.size else None
    vmax = float(fin_vals.max()) if fin_vals.size else None
    valid_nonneg = whole & (ints >= 0)
    k = classes
    if k is None and valid_nonneg.any():
        top = int(ints[valid_nonneg].max()) + 1
        k = top if top <= MAX_CLASSES else None
    in_range = valid_nonneg & (ints < (k if k is not None else MAX_CLASSES))
    out = whole & ~in_range
    counts = np.bincount(ints[in_range], minlength=k or 0).tolist() if k else []
    return LabelInfo(
        encoding,
        n,
        k,
        counts,
        out_of_range=int(out.sum()),
        non_integer=int((~whole).sum()),
        shape=shape,
        dtype=dtype,
        given_classes=classes,
        min_value=vmin,
        max_value=vmax,
        out_of_range_indices=np.flatnonzero(out)[:MAX_INDICES].tolist(),
        non_integer_indices=np.flatnonzero(~whole)[:MAX_INDICES].tolist(),
    )


def _rows(a: np.ndarray, classes: int | None, shape: tuple, dtype: str) -> LabelInfo:
    n, k = int(a.shape[0]), int(a.shape[1])
    f = a.astype(np.float32, copy=False) if a.dtype.kind in "biu" or a.dtype == np.float16 else a
    nonfinite = ~np.isfinite(f).all(axis=1) if f.dtype.kind == "f" else np.zeros(n, dtype=bool)
    sums = np.nansum(f, axis=1) if nonfinite.any() else f.sum(axis=1)
    negative = (f < -VALUE_TOLERANCE).any(axis=1)
    above = (f > 1 + VALUE_TOLERANCE).any(axis=1)
    bad_sum = np.abs(sums - 1) > ROW_SUM_TOLERANCE
    invalid = nonfinite | negative | above | bad_sum
    binary = ((f == 0) | (f == 1)).all(axis=1)
    zero_rows = int((np.abs(sums) <= ROW_SUM_TOLERANCE).sum())
    multi_hot = int(((f == 1).sum(axis=1) > 1).sum())
    n_invalid = int(invalid.sum())
    if n_invalid:
        encoding = "invalid"
    elif binary.all():
        encoding = "one-hot"
    else:
        encoding = "soft"
    valid = ~invalid
    winners = np.argmax(np.where(np.isfinite(f), f, -np.inf), axis=1)[valid] if n else np.zeros(0, np.int64)
    counts = np.bincount(winners, minlength=k).tolist()
    finite_vals = f[np.isfinite(f)] if f.dtype.kind == "f" else f
    return LabelInfo(
        encoding,
        n,
        k,
        counts,
        invalid_rows=n_invalid,
        invalid_indices=np.flatnonzero(invalid)[:MAX_INDICES].tolist(),
        shape=shape,
        dtype=dtype,
        given_classes=classes,
        min_value=float(finite_vals.min()) if finite_vals.size else None,
        max_value=float(finite_vals.max()) if finite_vals.size else None,
        zero_rows=zero_rows,
        multi_hot_rows=multi_hot,
        negative_rows=int(negative.sum()),
        nonfinite_rows=int(nonfinite.sum()),
        row_sum_min=float(np.nanmin(sums)) if n else None,
        row_sum_max=float(np.nanmax(sums)) if n else None,
    )


@dataclass(frozen=True)
class LabelOrder:
    """How the labels are ordered along the array, and what `validation_split` would cut off.

    Attributes:
        n: Number of labels read.
        adjacent_same: Fraction of neighbouring labels that are equal.
        expected_if_shuffled: That fraction for the same class counts in random
            order: the sum of squared class frequencies (0.1 for 10 balanced classes).
        tails: For the last 10% and 20% of the array (what
            `validation_split=0.1/0.2` holds out before shuffling): the class
            counts of that tail and of the rest, over the same classes.
    """

    n: int
    adjacent_same: float
    expected_if_shuffled: float
    tails: dict[str, dict[str, list[int]]]

    def tail_classes(self, key: str) -> list[int]:
        """The classes present in tail `key` (`last_10pct`, `last_20pct`)."""
        return [c for c, n in enumerate(self.tails[key]["tail"]) if n]


def label_order(y: Any) -> LabelOrder | None:
    """Measure the order of integer or one-hot labels; None for other encodings or fewer than 2 labels."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] > 1:
        idx = arr.argmax(axis=1)
    elif arr.ndim in (1, 2) and (arr.ndim == 1 or arr.shape[1] == 1):
        flat = arr.reshape(-1)
        if not np.issubdtype(flat.dtype, np.number) or not np.isfinite(flat).all():
            return None
        idx = flat.astype(np.int64)
        if not np.array_equal(idx, flat) or idx.min() < 0 or idx.max() >= MAX_CLASSES:
            return None  # not class indices (labels scaled by mistake, regression targets)
    else:
        return None
    n = len(idx)
    if n < 2:
        return None
    k = int(idx.max()) + 1
    counts = np.bincount(idx, minlength=k)
    freq = counts / n
    tails = {}
    for frac in (0.1, 0.2):
        cut = int(n * (1 - frac))
        tails[f"last_{int(frac * 100)}pct"] = {
            "tail": np.bincount(idx[cut:], minlength=k).tolist(),
            "rest": np.bincount(idx[:cut], minlength=k).tolist(),
        }
    return LabelOrder(n, float(np.mean(idx[1:] == idx[:-1])), float(np.sum(freq**2)), tails)


def label_classes(inputs: Any) -> int | None:
    """K for the label checks: `Inputs.num_classes`; else the largest label + 1 over all labelled splits.

    Deliberately wider than `Inputs.class_count`, which never guesses K from
    integer labels: a label check needs some K to judge integer labels by.
    """
    k = inputs.num_classes
    if k:
        return k
    guesses = [g for g in (label_info(s.y).classes for s in label_splits(inputs)) if g]
    return max(guesses) if guesses else None


def label_splits(inputs: Any) -> list[Any]:
    """The splits with labels: train first, then the eval splits."""
    out = []
    tr = inputs.splits.get("train")
    if tr is not None and tr.y is not None:
        out.append(tr)
    return out + inputs.eval_label_splits


def split_label_info(split: Any, k: int | None) -> LabelInfo:
    """The split's cached LabelInfo when it was computed with the same K, else a fresh one."""
    info = split.labels(k)
    if info.given_classes != k:
        info = label_info(split.y, k)
    return info
