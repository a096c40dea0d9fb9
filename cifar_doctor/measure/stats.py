"""Image statistics in one chunked pass, and the normalization scheme they imply.

`image_stats(x)` reads the images once, `CHUNK_IMAGES` at a time, and keeps
float64 accumulators of per-chunk reductions: it never makes a float64 (or
any full-size) copy of the array, so checking 60,000 float32 CIFAR images costs
one 12 MB work buffer on top of the arrays themselves.

Per-channel reductions over a channel axis of length 3 are slow in NumPy
(the inner loop has 3 elements), so each chunk is viewed as a matrix
(images x values) and reduced along rows and columns, one channel at a time
through a strided column view. No BLAS call: OpenBLAS threads slow down badly
on a shared 2-core machine. The values are shifted by a per-channel reference before squaring,
so the variance does not suffer from cancellation on data far from zero.

The scheme (`raw-uint8`, `unit`, `standardized`, ...) is *inferred* from the
numbers, with the tolerances below; the checks compare schemes and statistics
between splits, never a split against one fixed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..errors import InputError
from ..findings import EVIDENCE_MAX_ITEMS, rounded
from ..runners.base import DIRECT, Rows, Runner, array_rows, local_runner, map_jobs

#: Images per chunk. 1024 float32 CIFAR images are a 12 MB work buffer: large
#: enough that per-chunk Python overhead is negligible, small enough that the
#: extra memory is about 2% of the full training set.
CHUNK_IMAGES = 1024

#: Slack around a scheme's nominal range, as a fraction of that range. Covers
#: float rounding, mild augmentation overshoot (brightness/contrast jitter
#: without clipping) and interpolation ringing, while staying far below the
#: gap to the next scheme (a unit image set exceeding 1.05 is no longer [0, 1]).
RANGE_SLACK = 0.05

#: Raw 0-255 data must reach at least this maximum: a set of real photographs
#: on the 0-255 scale whose brightest value is under 8 would be black. Between
#: 1 + slack and this value no common scheme exists, so such data is `unknown`.
RAW_MIN_PEAK = 8.0

#: Whole-number values from 0 to at least `RAW_MIN_PEAK` whose spread is below
#: `MIN_STD_255` are intensity levels fed as they are, on a scale other than
#: 0-255 (scikit-learn's 8x8 digits hold 0-16, std about 6): quantized pixels,
#: not values scaled to the order 1 that Keras' initializers expect, and not
#: a 0-255 photo set either (its std is 40-80).
RAW_LEVELS = "raw-levels"

#: A 0-255-scale scheme (raw or mean-subtracted) has a pixel std of at least
#: this. Real photo sets have std 40-80 on 0-255 (CIFAR-10: 63); 8 leaves room
#: for very flat image sets while staying 8x above standardized data (std 1).
MIN_STD_255 = 8.0

#: Per-channel standardized data: every channel mean within this many units of
#: 0. Applying another dataset's statistics moves it: CIFAR-10 normalized with
#: the ImageNet mean/std has channel means 0.03, 0.12, 0.18; the CIFAR-10 test
#: split normalized with train statistics has means 0.01-0.015 (measured).
STANDARDIZED_MEAN_TOL = 0.3

#: Per-channel standardized data: every channel std within this band. CIFAR-10
#: with ImageNet statistics gives 1.08-1.16; test with train statistics 0.99.
STANDARDIZED_STD_BAND = (0.7, 1.4)

#: Per-image standardization (`tf.image.per_image_standardization`): an image
#: counts as standardized when its mean is within this of 0 and its std within
#: this of 1 (float32 rounding is ~1e-6; TF's std floor of 1/sqrt(N) only
#: matters for near-constant images, which are also accepted).
PER_IMAGE_TOL = 0.01

#: Fraction of images that must look per-image standardized for the scheme.
PER_IMAGE_MIN_FRACTION = 0.95

#: ImageNet statistics on the 0-1 scale ("torch" mode of
#: `keras.applications.imagenet_utils.preprocess_input`, torchvision).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: A channel's min/max "matches" the ImageNet bound (0-m)/s or (1-m)/s within
#: this many standardized units: one 8-bit gray level is 1/(255*0.225) = 0.017,
#: so 0.03 allows rounding and one level of quantization, and is far below the
#: 0.1-0.5 gap to CIFAR-10's own bounds.
IMAGENET_BOUND_TOL = 0.03

#: Schemes on the 0-255 scale with nothing subtracted.
RAW_SCHEMES = ("raw-uint8", "raw-float")

#: The scale family of each scheme: schemes of the same family differ at most
#: by details (dtype; which mean/std were used to standardize).
SCHEME_FAMILY = {
    "raw-uint8": "0-255",
    "raw-float": "0-255",
    "centered-255": "0-255-centered",
    "unit": "0-1",
    "symmetric": "-1-1",
    "standardized": "standardized",
    "imagenet": "standardized",
    "double-scaled": "0-1/255",
    RAW_LEVELS: "levels",
    "unknown": None,
}

#: Human description of each scheme, for messages.
SCHEME_TEXT = {
    "raw-uint8": "raw 0-255 integers",
    "raw-float": "raw 0-255 floats",
    "centered-255": "mean-subtracted 0-255 values (caffe style)",
    "unit": "scaled to [0, 1]",
    "symmetric": "scaled to [-1, 1]",
    "standardized": "standardized (mean 0, std 1)",
    "imagenet": "standardized with ImageNet mean/std",
    "double-scaled": "divided by 255 twice (max <= 1/255)",
    RAW_LEVELS: "raw whole-number levels",
    "unknown": "of unknown scale",
}


@dataclass
class ImageStats:
    """Statistics of one image array, per channel, plus its inferred scheme.

    Attributes:
        n: Number of images.
        shape: The array's shape.
        dtype: The array's dtype name.
        channel_axis: -1 (channels-last) or 1 (channels-first).
        channels: Number of channels (1 when the images have no channel axis).
        layout: `NHWC`, `NCHW`, `NHW` (no channel axis) or `flat` (N, D).
        min, max, mean, std: Per-channel values over all finite pixels.
        nan_count, inf_count: Non-finite values.
        nonfinite_images: Images holding at least one NaN/Inf.
        nonfinite_indices: The first `findings.EVIDENCE_MAX_ITEMS` of them.
        constant_images: Images whose pixels all have one value.
        constant_indices: The first `findings.EVIDENCE_MAX_ITEMS` of them.
        integer_valued: Every finite value is a whole number.
        scheme: One of `raw-uint8`, `raw-float`, `raw-levels`, `unit`, `symmetric`,
            `standardized`, `imagenet`, `centered-255`, `double-scaled`, `unknown`.
        scheme_detail: Why that scheme, with the numbers.
        image_mean_std: Per channel, the std across images of the image means
            (the sampling noise of a split mean is this / sqrt(n)).
        image_var_std: Per channel, the std across images of each image's mean
            squared deviation from the channel mean (noise of the pooled variance).
        image_contrast_std: Per channel, the std across images of the image's
            channel mean minus its average over channels (noise of color balance).
        per_image_standardized: Fraction of images with mean ~0 and std ~1.
    """

    n: int
    shape: tuple
    dtype: str
    channel_axis: int
    channels: int
    layout: str
    min: list[float]
    max: list[float]
    mean: list[float]
    std: list[float]
    nan_count: int = 0
    inf_count: int = 0
    nonfinite_images: int = 0
    nonfinite_indices: list[int] = field(default_factory=list)
    constant_images: int = 0
    constant_indices: list[int] = field(default_factory=list)
    integer_valued: bool = False
    scheme: str = "unknown"
    scheme_detail: str = ""
    image_mean_std: list[float] = field(default_factory=list)
    image_var_std: list[float] = field(default_factory=list)
    image_contrast_std: list[float] = field(default_factory=list)
    per_image_standardized: float = 0.0

    @property
    def image_shape(self) -> tuple:
        return tuple(self.shape[1:])

    @property
    def family(self) -> str | None:
        return SCHEME_FAMILY.get(self.scheme)

    @property
    def is_raw(self) -> bool:
        return self.scheme in RAW_SCHEMES

    @property
    def pooled_mean(self) -> float:
        return float(np.mean(self.mean)) if self.mean else float("nan")

    @property
    def pooled_std(self) -> float:
        """Std over all pixels of all channels (channels weigh equally)."""
        if not self.std:
            return float("nan")
        m = np.asarray(self.mean)
        var = float(np.mean(np.square(self.std)) + np.mean((m - m.mean()) ** 2))
        return math.sqrt(max(var, 0.0))

    @property
    def value_min(self) -> float:
        return float(min(self.min)) if self.min else float("nan")

    @property
    def value_max(self) -> float:
        return float(max(self.max)) if self.max else float("nan")

    def canonical_affine(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(k, c) per channel such that `x * k + c` gives the 0-255 pixel values, or None.

        Known only for schemes whose constants are fixed: raw, unit,
        symmetric, double-scaled and ImageNet-standardized data.
        """
        ones = np.ones(self.channels)
        if self.scheme in RAW_SCHEMES:
            return ones, 0 * ones
        if self.scheme == "unit":
            return 255.0 * ones, 0 * ones
        if self.scheme == "symmetric":
            return 127.5 * ones, 127.5 * ones
        if self.scheme == "double-scaled":
            return 255.0 * 255.0 * ones, 0 * ones
        if self.scheme == "imagenet" and self.channels == 3:
            return 255.0 * np.asarray(IMAGENET_STD), 255.0 * np.asarray(IMAGENET_MEAN)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "layout": self.layout,
            "channels": self.channels,
            "scheme": self.scheme,
            "scheme_detail": self.scheme_detail,
            "min": _significant(self.min),
            "max": _significant(self.max),
            "mean": _significant(self.mean),
            "std": _significant(self.std),
        }


def scale_ratio(train: ImageStats, other: ImageStats) -> float | None:
    """How many times larger `other`'s pixel values are than `train`'s (1.0 when scaled alike).

    The schemes' nominal ratio when both have fixed constants (255 for raw test
    images against training images divided by 255), else the ratio of the
    pooled standard deviations; `None` when neither can be measured.
    """
    nominal = scheme_ratio(train, other)
    return nominal if nominal is not None else std_ratio(train, other)


def scheme_ratio(train: ImageStats, other: ImageStats) -> float | None:
    """The ratio the two inferred schemes imply (255 for raw against /255), or None without fixed constants."""
    ka, kb = train.canonical_affine(), other.canonical_affine()
    if ka is not None and kb is not None and train.channels == other.channels:
        return float(np.mean(ka[0] / kb[0]))
    return None


def std_ratio(train: ImageStats, other: ImageStats) -> float | None:
    """`other`'s pooled pixel std over `train`'s, or None when either is not measurable."""
    s_tr, s_other = train.pooled_std, other.pooled_std
    if s_tr > 0 and math.isfinite(s_tr) and math.isfinite(s_other):
        return s_other / s_tr
    return None


def _significant(values: list[float], digits: int = 6) -> list[float]:
    return [rounded(v, significant=digits) for v in values]


def layout_of(shape: tuple) -> tuple[str, int, int]:
    """(layout, channel_axis, channels) of an image array shape (batch axis first)."""
    if len(shape) == 4:
        if shape[-1] in (1, 3, 4):
            return "NHWC", -1, int(shape[-1])
        if shape[1] in (1, 3, 4):
            return "NCHW", 1, int(shape[1])
        return "NHWC", -1, int(shape[-1])
    if len(shape) == 3:
        return "NHW", -1, 1
    return "flat", -1, 1


def channel_of_position(shape: tuple, layout: str, channels: int) -> np.ndarray:
    d = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    if layout == "NHWC":
        return np.arange(d) % channels
    if layout == "NCHW":
        return np.arange(d) // (d // channels)
    return np.zeros(d, dtype=np.int64)


@dataclass(frozen=True)
class _Plan:
    """What reducing any chunk needs: the values per image, the work dtype, the per-channel columns
    and reference (the mean of the first images, subtracted before squaring)."""

    d: int
    channels: int
    work: Any
    is_float: bool
    ref: np.ndarray
    ref_row: np.ndarray
    chan: np.ndarray
    cols: tuple
    full_count: np.ndarray


@dataclass
class _Partial:
    """One chunk's reductions: per image (rows) and per value position, and its non-finite counts."""

    sums: np.ndarray
    sqs: np.ndarray
    counts: np.ndarray
    img_min: np.ndarray
    img_max: np.ndarray
    pos_min: np.ndarray
    pos_max: np.ndarray
    nan_count: int
    inf_count: int
    integer_valued: bool


def _plan(x: Any, shape: tuple, layout: str, channels: int) -> _Plan:
    n = shape[0]
    d = int(np.prod(shape[1:], dtype=np.int64))
    work = np.float64 if x.dtype in (np.float64, np.int64, np.uint64, np.int32, np.uint32) else np.float32
    chan = channel_of_position(shape, layout, channels)
    per_channel = d // channels
    if layout == "NCHW":
        cols = tuple(slice(c * per_channel, (c + 1) * per_channel) for c in range(channels))
    else:
        cols = tuple(slice(c, None, channels) for c in range(channels))
    # Per-channel reference subtracted before squaring (no cancellation).
    head = np.asarray(x[: min(n, 64)], dtype=np.float64).reshape(-1, d)
    with np.errstate(all="ignore"):
        ref = np.array(
            [np.nanmean(head[:, chan == c]) if np.isfinite(head[:, chan == c]).any() else 0.0 for c in range(channels)]
        )
    ref = np.where(np.isfinite(ref), ref, 0.0)
    return _Plan(
        d,
        channels,
        work,
        bool(np.issubdtype(x.dtype, np.floating)),
        ref,
        ref[chan].astype(work),
        chan,
        cols,
        np.full(channels, per_channel, dtype=np.float64),
    )


def _chunk_partial(plan: _Plan, rows: Rows) -> _Partial:
    """The reductions of one chunk of images (a runner applies this to every chunk)."""
    chunk = rows.read()
    if chunk.dtype == np.bool_:
        chunk = chunk.view(np.uint8)
    d, channels, work, is_float = plan.d, plan.channels, plan.work, plan.is_float

    def by_channel(a: np.ndarray) -> np.ndarray:
        """(m, d) -> (m, channels) row sums per channel, accumulated in float64."""
        return np.stack([a[:, col].sum(axis=1) for col in plan.cols], axis=1).astype(np.float64)

    f = chunk.reshape(-1, d)
    m = f.shape[0]
    b = np.empty((m, d), dtype=work)
    nan_count = inf_count = 0
    integer_valued = True
    lo, hi = f.min(axis=1), f.max(axis=1)
    if is_float and not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        finite = np.isfinite(f)
        nans = int(np.isnan(f).sum())
        nan_count += nans
        inf_count += int(f.size - finite.sum()) - nans
        clean = np.where(finite, f, 0).astype(work, copy=False)
        lo = np.where(finite, f, np.inf).min(axis=1)
        hi = np.where(finite, f, -np.inf).max(axis=1)
        pos_min = np.where(finite, f, np.inf).min(axis=0)
        pos_max = np.where(finite, f, -np.inf).max(axis=0)
        integer_valued = bool(np.all(np.rint(clean) == clean))
        fin = finite.astype(work)
        np.subtract(clean, plan.ref_row, out=b)
        b *= fin
        counts = by_channel(fin)
        del clean, finite, fin
    else:
        pos_min = f.min(axis=0)
        pos_max = f.max(axis=0)
        if is_float:
            np.rint(f, out=b)
            integer_valued = bool(np.array_equal(b, f))
        np.subtract(f, plan.ref_row, out=b)
        counts = np.broadcast_to(plan.full_count, (m, channels))
    sums = by_channel(b)
    np.multiply(b, b, out=b)
    sqs = by_channel(b)
    return _Partial(
        sums,
        sqs,
        np.ascontiguousarray(counts),
        lo.astype(np.float64),
        hi.astype(np.float64),
        np.minimum(np.full(d, np.inf), pos_min),
        np.maximum(np.full(d, -np.inf), pos_max),
        nan_count,
        inf_count,
        integer_valued,
    )


def image_stats(x: Any, runner: Runner = DIRECT, source: Any = None, indices: Any = None) -> ImageStats:
    """Per-channel statistics of an image array, in one chunked pass.

    Each chunk is reduced to per-image and per-position partial sums
    (`_chunk_partial`, applied by `runner`), which are then combined in chunk
    order, so every runner gives the same statistics.

    Args:
        x: Images, shape (N, H, W, C), (N, C, H, W), (N, H, W) or (N, D); any
            numeric dtype. Not copied.
        runner: Where the chunks are reduced (`cifar_doctor.runners`). Defaults to the direct runner.
        source: The `DataSource` that `x` is a sample of; with `indices`, the
            runner's workers read the sampled images from it rather than
            receiving them. Defaults to `None`.
        indices: The positions of `x`'s images in `source`. Defaults to `None`.

    Returns:
        An `ImageStats` with the inferred normalization `scheme`.

    Raises:
        InputError: `x` is not a numeric array with a batch axis.

    Example:

    >>> import numpy as np
    >>> image_stats(np.full((2, 4, 4, 3), 255, np.uint8)).scheme
    'raw-uint8'
    """
    return image_stats_many([(x, source, indices)], runner)[0]


@dataclass(frozen=True)
class _Pending:
    """An array whose chunks are to be reduced: its layout, the reduction plan and the work items."""

    x: Any
    shape: tuple
    layout: str
    axis: int
    channels: int
    plan: _Plan
    items: list


def image_stats_many(arrays: list[tuple[Any, Any, Any]], runner: Runner = DIRECT) -> list[ImageStats]:
    """`image_stats` of several arrays (`(x, source, indices)` each), their chunks reduced in one runner stage."""
    prepared = [_prepare(x, source, indices) for x, source, indices in arrays]
    pending = [p for p in prepared if isinstance(p, _Pending)]
    jobs = [(partial(_chunk_partial, p.plan), p.items) for p in pending]
    # chunks of arrays in memory on a pool of threads (combined in chunk order: the same statistics)
    runner = local_runner(runner, all(source is None for _, source, _ in arrays))
    reduced = iter(map_jobs(runner, jobs, stage="statistics"))
    return [p if isinstance(p, ImageStats) else _finish(p, next(reduced)) for p in prepared]


def _prepare(x: Any, source: Any, indices: Any) -> ImageStats | _Pending:
    """The statistics of an empty array, or what reducing a non-empty one needs."""
    from ..mapped import is_lazy

    if not is_lazy(x):  # images computed on demand are read chunk by chunk below, never whole
        x = np.asarray(x)
    if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise InputError(
            "Invalid image array",
            expected="a numeric array of shape (N, H, W, C) or (N, C, H, W)",
            received=f"shape {tuple(x.shape)}, dtype {x.dtype}",
            hint="Pass images as a NumPy array, e.g. np.asarray(images, dtype='float32')",
        )
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    shape = tuple(int(s) for s in x.shape)
    layout, axis, channels = layout_of(shape)
    n = shape[0]
    d = int(np.prod(shape[1:], dtype=np.int64))
    if n == 0 or d == 0:
        nan = [float("nan")] * channels
        return ImageStats(
            n,
            shape,
            str(x.dtype),
            axis,
            channels,
            layout,
            nan,
            nan,
            nan,
            nan,
            scheme="unknown",
            scheme_detail="empty array",
        )

    if indices is None or source is None or len(indices) != n:
        source = indices = None  # the runner's workers are sent the images themselves
    plan = _plan(x, shape, layout, channels)
    return _Pending(x, shape, layout, axis, channels, plan, array_rows(x, CHUNK_IMAGES, indices, source))


def _finish(p: _Pending, parts: list[_Partial]) -> ImageStats:
    """The statistics from the chunks' reductions, combined in chunk order."""
    x, shape, layout, axis, channels, plan = p.x, p.shape, p.layout, p.axis, p.channels, p.plan
    n, d = shape[0], plan.d
    ref, chan = plan.ref, plan.chan
    nan_count = sum(p.nan_count for p in parts)
    inf_count = sum(p.inf_count for p in parts)
    integer_valued = all(p.integer_valued for p in parts)
    pos_min = np.minimum.reduce([p.pos_min for p in parts])
    pos_max = np.maximum.reduce([p.pos_max for p in parts])
    s = np.concatenate([p.sums for p in parts])
    q = np.concatenate([p.sqs for p in parts])
    cnt = np.concatenate([p.counts for p in parts])
    lo = np.concatenate([p.img_min for p in parts])
    hi = np.concatenate([p.img_max for p in parts])

    nonfinite = np.flatnonzero(cnt.sum(axis=1) < d)
    valid = cnt.sum(axis=1) > 0
    total = cnt.sum(axis=0)
    with np.errstate(all="ignore"):
        shift = s.sum(axis=0) / total
        var = np.maximum(q.sum(axis=0) / total - shift**2, 0.0)
        mean = ref + shift
        std = np.sqrt(var)
        vmin = np.array([pos_min[chan == c].min() for c in range(channels)], dtype=np.float64)
        vmax = np.array([pos_max[chan == c].max() for c in range(channels)], dtype=np.float64)

        c_ok = cnt > 0
        img_mean = np.where(c_ok, s / np.where(c_ok, cnt, 1), np.nan)  # shifted by ref
        img_msd = np.where(c_ok, q / np.where(c_ok, cnt, 1) - 2 * shift * img_mean + shift**2, np.nan)
        image_mean_std = np.nanstd(img_mean[valid], axis=0) if valid.any() else np.zeros(channels)
        image_var_std = np.nanstd(img_msd[valid], axis=0) if valid.any() else np.zeros(channels)
        contrast = img_mean + ref - np.nanmean(img_mean + ref, axis=1, keepdims=True)
        image_contrast_std = np.nanstd(contrast[valid], axis=0) if valid.any() else np.zeros(channels)

        tot = cnt.sum(axis=1)
        ex = (s + ref * cnt).sum(axis=1) / tot
        ex2 = (q + 2 * ref * s + ref**2 * cnt).sum(axis=1) / tot
        img_std = np.sqrt(np.maximum(ex2 - ex**2, 0.0))
    constant = np.flatnonzero(valid & (lo == hi))
    standardized_images = (
        valid & (np.abs(ex) <= PER_IMAGE_TOL) & ((np.abs(img_std - 1.0) <= PER_IMAGE_TOL) | (lo == hi))
    )
    per_image = float(standardized_images.sum() / max(valid.sum(), 1))

    st = ImageStats(
        n=n,
        shape=shape,
        dtype=str(x.dtype),
        channel_axis=axis,
        channels=channels,
        layout=layout,
        min=[float(v) for v in vmin],
        max=[float(v) for v in vmax],
        mean=[float(v) for v in mean],
        std=[float(v) for v in std],
        nan_count=nan_count,
        inf_count=inf_count,
        nonfinite_images=int(nonfinite.size),
        nonfinite_indices=[int(i) for i in nonfinite[:EVIDENCE_MAX_ITEMS]],
        constant_images=int(constant.size),
        constant_indices=[int(i) for i in constant[:EVIDENCE_MAX_ITEMS]],
        integer_valued=bool(integer_valued),
        image_mean_std=[float(v) for v in image_mean_std],
        image_var_std=[float(v) for v in image_var_std],
        image_contrast_std=[float(v) for v in image_contrast_std],
        per_image_standardized=per_image,
    )
    st.scheme, st.scheme_detail = infer_scheme(st)
    return st


def _fmt(values: Any) -> str:
    vals = [float(v) for v in np.atleast_1d(values)]
    return ", ".join(f"{v:.4g}" for v in vals)


def _imagenet_match(st: ImageStats) -> bool:
    """Every channel lies inside its ImageNet bounds and touches at least one of them."""
    if st.channels != 3:
        return False
    lo = (0.0 - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    hi = (1.0 - np.asarray(IMAGENET_MEAN)) / np.asarray(IMAGENET_STD)
    vmin, vmax = np.asarray(st.min), np.asarray(st.max)
    inside = np.all(vmin >= lo - IMAGENET_BOUND_TOL) and np.all(vmax <= hi + IMAGENET_BOUND_TOL)
    touches = (np.abs(vmin - lo) <= IMAGENET_BOUND_TOL) | (np.abs(vmax - hi) <= IMAGENET_BOUND_TOL)
    return bool(inside and touches.all())


def infer_scheme(st: ImageStats) -> tuple[str, str]:
    """The normalization scheme implied by the statistics, and why.

    Returns:
        (scheme, detail), scheme one of the values documented on `ImageStats`.
    """
    if st.n == 0 or not st.min or not all(math.isfinite(v) for v in st.min + st.max):
        return "unknown", "no finite values"
    lo, hi = st.value_min, st.value_max
    mean, std = np.asarray(st.mean), np.asarray(st.std)
    rng = f"min {lo:.4g}, max {hi:.4g}"
    is_int = np.issubdtype(np.dtype(st.dtype), np.integer)
    if lo == hi:
        return "unknown", f"every value equals {lo:.4g}"

    if lo >= -RANGE_SLACK * 1.0:
        if hi <= (1.0 + RANGE_SLACK) / 255.0 and not is_int:
            return "double-scaled", f"{st.dtype} values in [0, 1/255] ({rng}): divided by 255 twice?"
        if hi <= 1.0 + RANGE_SLACK:
            if is_int:
                return "unknown", f"{st.dtype} values {rng}: only 0/1"
            return "unit", f"{st.dtype} values in [0, 1] ({rng})"
    if lo >= -RANGE_SLACK * 255.0 and RAW_MIN_PEAK <= hi <= 255.0 * (1 + RANGE_SLACK) and st.pooled_std >= MIN_STD_255:
        if is_int:
            return "raw-uint8", f"{st.dtype} pixels 0-255 ({rng})"
        whole = ", whole numbers" if st.integer_valued else ""
        return "raw-float", f"{st.dtype} values on the 0-255 scale ({rng}{whole})"
    if lo >= 0 and RAW_MIN_PEAK <= hi <= 255.0 * (1 + RANGE_SLACK) and (is_int or st.integer_valued):
        return RAW_LEVELS, f"{st.dtype} whole numbers {rng}, std {st.pooled_std:.3g}: intensity levels, unscaled"
    if lo < -RANGE_SLACK and lo >= -1.0 - 2 * RANGE_SLACK and hi <= 1.0 + 2 * RANGE_SLACK:
        return "symmetric", f"values in [-1, 1] ({rng})"
    if _imagenet_match(st):
        return "imagenet", (
            f"channel min/max ({_fmt(st.min)} / {_fmt(st.max)}) match (0-m)/s and (1-m)/s for the "
            f"ImageNet mean ({_fmt(IMAGENET_MEAN)}) and std ({_fmt(IMAGENET_STD)})"
        )
    if st.per_image_standardized >= PER_IMAGE_MIN_FRACTION:
        return "standardized", (
            f"per-image standardized: {st.per_image_standardized:.1%} of images have mean 0 and std 1 ({rng})"
        )
    if np.all(np.abs(mean) <= STANDARDIZED_MEAN_TOL) and np.all(
        (std >= STANDARDIZED_STD_BAND[0]) & (std <= STANDARDIZED_STD_BAND[1])
    ):
        return "standardized", f"channel means {_fmt(mean)}, stds {_fmt(std)} ({rng})"
    spans = np.asarray(st.max) - np.asarray(st.min)
    if (
        lo < -RANGE_SLACK * 255.0
        and hi >= RAW_MIN_PEAK
        and np.all(spans <= 255.0 * (1 + RANGE_SLACK))
        and st.pooled_std >= MIN_STD_255
    ):
        return "centered-255", f"0-255 values with a mean subtracted ({rng}, channel means {_fmt(mean)})"
    return "unknown", f"{st.dtype} values {rng}, channel means {_fmt(mean)}, stds {_fmt(std)}"


def split_scheme(split: Any) -> str | None:
    """The split's normalization scheme from its shared `ImageStats`, or None."""
    try:
        stats = split.stats
    except ImportError:  # the statistics module is unavailable
        return None
    return getattr(stats, "scheme", None) if stats is not None else None


# --- neighbouring pixels (DAT009) ------------------------------------------------------------------
#: Images read for `neighbour_correlation`, evenly spaced: the mean of per-image correlations (which
#: spread by about 0.1 on CIFAR-10) then has a standard error near 0.005.
NEIGHBOUR_SAMPLE = 512


def neighbour_correlation(x: Any, layout: str, limit: int = NEIGHBOUR_SAMPLE) -> tuple[float, float] | None:
    """(down, across): the mean over up to `limit` images of the correlation between each gray pixel and
    the one below it, and the one to its right, each image's mean removed; None without two rows and
    two columns of pixels or without a finite image (`layout` from `layout_of`: NHWC, NCHW or NHW)."""
    if layout not in ("NHWC", "NCHW", "NHW") or len(x) == 0:
        return None
    rows = np.unique(np.linspace(0, len(x) - 1, min(limit, len(x))).astype(np.int64))
    images = np.asarray(x[rows], dtype=np.float64)
    gray = images if layout == "NHW" else images.mean(axis=-1 if layout == "NHWC" else 1)
    if gray.ndim != 3 or gray.shape[1] < 2 or gray.shape[2] < 2:
        return None
    gray = gray[np.isfinite(gray).all(axis=(1, 2))]  # images with NaN or Inf are DAT002's
    if len(gray) == 0:
        return None
    gray = gray - gray.mean(axis=(1, 2), keepdims=True)

    def mean_corr(a: np.ndarray, b: np.ndarray) -> float:
        den = np.sqrt((a * a).sum(axis=(1, 2)) * (b * b).sum(axis=(1, 2)))
        ok = np.isfinite(den) & (den > 0)
        if not ok.any():
            return float("nan")
        return float(np.mean((a * b).sum(axis=(1, 2))[ok] / den[ok]))

    return mean_corr(gray[:, 1:, :], gray[:, :-1, :]), mean_corr(gray[:, :, 1:], gray[:, :, :-1])
