"""Near-duplicate verification: whether two images are the same shot, judged on 32x32 gray pixels.

The third step of the near-duplicate search (`cifar_doctor.measure.neardup`): each candidate pair
of the thumbnail search is compared at full verification resolution, allowing shifts of up to
`MAX_SHIFT` pixels. The coarse picture (`COARSE_THRESHOLD`) and the fine detail that tells two
shots of a similar scene apart (`DETAIL_THRESHOLD`) must both match; a half-resolution screen
of the detail (`SCREEN_DETAIL`) drops most candidates first. Pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Verification grid: images are compared as 32x32 gray (resized by block
#: means when they are another size).
VERIFY_GRID = 32

#: Largest shift (pixels on the verification grid) tried between two images.
MAX_SHIFT = 2

#: Coarse match: the 2x2-smoothed images must correlate at least this much at
#: the best shift. Re-encoded and re-coloured copies score above 0.98.
COARSE_THRESHOLD = 0.90

#: Detail match: after subtracting a 5x5 box blur, the remaining detail must
#: correlate at least this much at the same shift. This is what separates the
#: same shot from two photos of the same kind of scene: two different ships
#: on a calm sea correlate at 0.95 coarsely but their detail does not (0.2-0.5
#: measured), while a JPEG q75 copy keeps its detail at 0.98. Tuned for
#: precision on full CIFAR-10 (README, "Measured figures"): a false leakage
#: claim costs the user more than a missed near-duplicate.
DETAIL_THRESHOLD = 0.80

#: Screening at half resolution (16x16, shifts of one half-resolution pixel):
#: pairs whose detail correlates less than this there are not compared at full
#: resolution. The screen may only drop pairs that the full comparison would
#: reject, so the bar sits well under what accepted pairs score there: 0.51 at
#: the lowest of 27,587 pairs the full comparison accepts among copies of
#: CIFAR-10 training images moved by up to 2 pixels, JPEG re-encoded at quality
#: 10-90, re-lit, rescaled by 0.9-1.1 and noised (about 0.60 at the 0.1th
#: percentile), and 0.68 for the lowest of the 350 accepted test/train pairs of
#: full CIFAR-10 (`python bench/verify_screen.py --copies 12000 --seed 2`, and
#: `--seed 1` with its 4,000 default copies).
#: It leaves 15,000 of CIFAR-10's 54,000 candidate pairs to the full comparison
#: (28,000 at the former 0.30). The coarse picture is not screened: a screen at
#: 0.85 pruned 3% beyond this one and dropped accepted pairs (1 of CIFAR-10's
#: 350; 20 of 7,997 copies), since the detail's best shift at half resolution
#: need not align the coarse pictures.
SCREEN_DETAIL = 0.40


def _smooth(g: np.ndarray) -> np.ndarray:
    """2x2 box smoothing (stride 1) of (n, G, G) images: (n, G-1, G-1)."""
    return 0.25 * (g[:, :-1, :-1] + g[:, 1:, :-1] + g[:, :-1, 1:] + g[:, 1:, 1:])


def _box(v: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Mean over a window of 2r+1 along `axis` (edges replicated)."""
    pad = [(0, 0)] * v.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(v, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = v.shape[axis]
    hi: list[slice] = [slice(None)] * v.ndim
    lo: list[slice] = [slice(None)] * v.ndim
    hi[axis], lo[axis] = slice(2 * r + 1, n + 2 * r + 1), slice(0, n)
    return (c[tuple(hi)] - c[tuple(lo)]) / np.float32(2 * r + 1)


def _box_sums(v: np.ndarray) -> np.ndarray:
    """Integral images of (n, G, G) arrays, zero-padded: (n, G+1, G+1)."""
    return np.pad(np.cumsum(np.cumsum(v, axis=1, dtype=np.float64), axis=2), ((0, 0), (1, 0), (1, 0)))


def _rect(ii: np.ndarray, ys: slice, xs: slice) -> np.ndarray:
    return ii[:, ys.stop, xs.stop] - ii[:, ys.start, xs.stop] - ii[:, ys.stop, xs.start] + ii[:, ys.start, xs.start]


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return (a * b).sum(axis=1) / np.maximum(den, 1e-12)


@dataclass(frozen=True)
class _Features:
    """Per image: the 2x2-smoothed picture, its detail, and the detail's energy integral image."""

    smooth: np.ndarray
    detail: np.ndarray
    energy: np.ndarray


def _features(g: np.ndarray, radius: int) -> _Features:
    s = _smooth(g)
    d = s - _box(_box(s, radius, 1), radius, 2)
    return _Features(s, d, _box_sums(d * d))


def _match(
    fa: _Features, ia: np.ndarray, fb: _Features, ib: np.ndarray, max_shift: int, *, coarse: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Detail and coarse correlation of pairs (ia[k], ib[k]) at the shift where the detail matches best.

    The detail is compared at every shift up to `max_shift` pixels in each
    direction, as a cosine over the overlap; the coarse (smoothed) picture at
    the best shift, unless `coarse` is false (NaN then).
    """
    da, db = fa.detail[ia], fb.detail[ib]
    g = da.shape[1]
    best = np.full(len(ia), -1.0)
    at = np.zeros((len(ia), 2), np.int64)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            ya, yb = slice(max(dy, 0), g + min(dy, 0)), slice(max(-dy, 0), g + min(-dy, 0))
            xa, xb = slice(max(dx, 0), g + min(dx, 0)), slice(max(-dx, 0), g + min(-dx, 0))
            cross = np.einsum("nij,nij->n", da[:, ya, xa], db[:, yb, xb])
            # each image's detail energy over the overlap, once per image rather than per pair
            energy = _rect(fa.energy, ya, xa)[ia] * _rect(fb.energy, yb, xb)[ib]
            cd = cross / np.sqrt(np.maximum(energy, 1e-12))
            better = cd > best
            best[better] = cd[better]
            at[better] = (dy, dx)
    pictures = np.full(len(ia), np.nan)
    for dy, dx in {tuple(v) for v in at.tolist()} if coarse else ():
        rows = np.flatnonzero((at[:, 0] == dy) & (at[:, 1] == dx))
        ya, yb = slice(max(dy, 0), g + min(dy, 0)), slice(max(-dy, 0), g + min(-dy, 0))
        xa, xb = slice(max(dx, 0), g + min(dx, 0)), slice(max(-dx, 0), g + min(-dx, 0))
        pictures[rows] = _corr(fa.smooth[ia[rows]][:, ya, xa], fb.smooth[ib[rows]][:, yb, xb])
    return best.astype(np.float32), pictures.astype(np.float32)


def _half(g: np.ndarray) -> np.ndarray:
    """2x2 block means of (n, G, G) images, from four strided views summed in the order NumPy's mean
    over the blocks sums them (the same values to the bit with NumPy 2.4, on CIFAR-10 and on random
    floats), in a tenth of that mean's time."""
    return ((g[:, 0::2, 0::2] + g[:, 0::2, 1::2]) + (g[:, 1::2, 0::2] + g[:, 1::2, 1::2])) / np.float32(4)


def verify(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray | None = None, ib: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Judge pairs of prepared images (`prepare`): `a[ia[k]]` against `b[ib[k]]`.

    A quick look at the detail at half resolution (shifts of one
    half-resolution pixel) drops the pairs that are clearly different
    (`SCREEN_DETAIL`); the rest are compared at full resolution with shifts up
    to `MAX_SHIFT` pixels. Features are computed once per image, not per pair.

    Args:
        a, b: Prepared images.
        ia, ib: Pair indices into `a` and `b`. Defaults to `None`: row k of
            `a` against row k of `b`.

    Returns:
        (same, detail, coarse): whether each pair is the same shot, and its
        detail and coarse correlations at the best shift (screened-out pairs
        keep their half-resolution detail, and a NaN coarse correlation).
    """
    ia = np.arange(len(a)) if ia is None else np.asarray(ia)
    ib = np.arange(len(b)) if ib is None else np.asarray(ib)
    detail, coarse = _match(_features(_half(a), 1), ia, _features(_half(b), 1), ib, 1, coarse=False)
    look = np.flatnonzero(detail >= SCREEN_DETAIL)
    same = np.zeros(len(ia), bool)
    if len(look):
        ua, ja = np.unique(ia[look], return_inverse=True)
        ub, jb = np.unique(ib[look], return_inverse=True)
        d, c = _match(_features(a[ua], 2), ja, _features(b[ub], 2), jb, MAX_SHIFT)
        detail[look], coarse[look] = d, c
        same[look] = (d >= DETAIL_THRESHOLD) & (c >= COARSE_THRESHOLD)
    return same, detail, coarse
