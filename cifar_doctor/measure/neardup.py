"""Near-duplicate images: the same shot after re-encoding, a small shift or a colour change.

Pure NumPy, in three steps, none of which holds more than one chunk of pixels:

1. `signatures(chunk, ...)` reduces each image to 65 bytes: its gray 8x8
   thumbnail (block means), made zero-mean and unit-norm and stored as int8,
   plus a flag for images too flat to compare. One million images take 65 MB.
2. `build_index(signatures)` groups the indexed split's signatures once into
   inverted lists (spherical k-means, about `IVF_LIST_SIZE` a list; small
   splits stay exhaustive), and `search(chunks, index)` looks each query image
   up as it is and moved by 2 pixels in each direction (`PROBE_SHIFTS`),
   keeping the pairs whose thumbnails correlate at `PREFILTER_CORR` or more.
   The probes of a batch of queries are looked up together: each query is
   multiplied with the lists of its `IVF_PROBE` nearest centroids (float32
   products, list by list), or, exhaustively, with the window a projection
   bound leaves (`candidates`). Correlating zero-mean, unit-norm thumbnails
   ignores brightness and contrast (and, in gray, most colour casts).
3. `confirm(i, j, ...)` re-reads the candidate images and judges each pair
   on 32x32 gray images, allowing shifts of up to `MAX_SHIFT` pixels: the
   coarse picture (`COARSE_THRESHOLD`) and the fine detail that tells two
   shots of a similar scene apart (`DETAIL_THRESHOLD`) must both match.

Through the inverted lists a query is compared with about 3,200 indexed
signatures (16 lists of 200) whatever the split's size, so a search grows
with the number of queries, not with the product of the split sizes (full
CIFAR-10, 10,000 x 50,000, and 50,000 x 1,000,000: `bench/near_search.py`).
Probing the nearest lists rather than all of them is what makes it fast; on
full CIFAR-10 it keeps every verified pair of the exhaustive search. FAISS
(faiss-cpu 1.15) was measured on the same look-ups and not adopted: its
exhaustive range search (`IndexFlatIP`) took as long as NumPy's products (both
are bound by writing the 2.5 x 10^9 products out), and its inverted-file range
search (`IndexIVFFlat`, 256 lists, 16 probed) scans each list one query at a
time, no faster than these list-by-list matrix products.
Multi-index hashing of a 64-bit perceptual hash was tried first and rejected
on CIFAR-10: a mean-threshold hash puts thousands of images in one 16-bit
bucket (every photo with bright sky has the same top rows), 5 x 10^8
candidate pairs, and a DCT hash keeps only 1.3% of images shifted by (2, 2)
pixels within the pigeonhole distance.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ..runners.base import DIRECT, blas_threads
from .ivf import Index, build_index, list_candidates  # noqa: F401  (re-exported: the index of the search)
from .pixelmatch import (  # noqa: F401  (the verification stage, re-exported with the search)
    COARSE_THRESHOLD,
    DETAIL_THRESHOLD,
    MAX_SHIFT,
    SCREEN_DETAIL,
    VERIFY_GRID,
    verify,
)

#: Side of the signature thumbnail. 8x8 block means of a 32x32 image are 4x4
#: pixels each: coarse enough that JPEG re-encoding and a 1-pixel shift keep
#: the correlation above 0.9 for 95% of CIFAR-10 images (measured on 1,000
#: training images: JPEG q30 0.99, 1-px shift 0.92 at the 5th percentile).
SIG_GRID = 8

#: Signatures of images of 48 pixels or more a side read every f-th pixel, keeping at
#: least SIG_GRID x this many per side (24 for the 8x8 grid): each thumbnail block
#: still averages 3x3 pixels, which is what makes it robust to re-encoding, and a
#: 48x48 image costs a quarter of the conversion (the full-resolution check of every
#: candidate pair is unchanged). CIFAR-sized images (32 px) are read whole.
SIG_STRIDE_BLOCK = 3

#: Candidate pairs: 8x8 thumbnails correlating at least this much. On the full
#: CIFAR-10 test x train search this leaves about 42,000 of 5 x 10^8 pairs
#: for verification (0.85 would leave 258,000).
PREFILTER_CORR = 0.90

#: An image whose gray values vary by less than this (0-255 units, std over
#: the image; only when the scale is known) is too flat for correlation to
#: mean anything: blank and near-constant images are DAT003's and DUP001's
#: business.
MIN_STD_255 = 2.0


#: Probes: each query image is also looked up moved by these (dy, dx) pixels,
#: so that a copy shifted by up to 2 pixels (half a thumbnail block) meets its
#: original within the 1 pixel the thumbnails tolerate. Measured on 1,000
#: CIFAR-10 images, found after a shift of (1, -2): 33% without probes, then
#: verification keeps 99.8%. Each probe costs one more search.
PROBE_SHIFTS = ((0, 2), (0, -2), (2, 0), (-2, 0))

#: Probes within one split: a pair is looked up from both of its images, so
#: moving each image one way covers both directions.
WITHIN_PROBE_SHIFTS = ((0, 2), (2, 0))

#: Candidate threshold for the shifted probes: a probe leaves at most 1 pixel
#: of the shift, after which 95% of CIFAR-10 images still correlate at 0.92
#: (measured); the stricter bar keeps the extra verification small.
PROBE_CORR = 0.92

#: Query images searched together (their probe signatures, 65 bytes each per
#: probe, are collected first): the window of a block of sorted queries is
#: narrow only when the batch is large.
SEARCH_BATCH = 16384

#: Queries per block of the candidate search.
QUERY_BLOCK = 1024

#: Indexed signatures per block: 1024 x 8192 float32 correlations are 32 MB.
INDEX_BLOCK = 8192

#: Most candidate pairs verified per search, best correlated first: bounds the
#: time on pathological data (thousands of copies of one scene).
MAX_CANDIDATES = 500_000

#: Pairs verified per batch (images re-read and compared together). Candidate
#: pairs share images (on full CIFAR-10, 54,000 pairs involve 6,200 images), so
#: a large batch prepares each image fewer times; its per-pair arrays (two
#: 31x31 float32 details) are 63 MB.
VERIFY_BATCH = 8192


#: BLAS threads for the search's matrix products. They are many and small
#: (a list's queries by its 200 signatures), and two BLAS threads that
#: spin-wait for each other on 2 shared cores made them 2-8 times slower than
#: one (measured under a load average of 5). Applied when `threadpoolctl`
#: is installed (`pip install cifar-doctor[search]`).
SEARCH_BLAS_THREADS = 1


@dataclass(frozen=True)
class Signatures:
    """Per-image signatures of one split.

    Attributes:
        thumbs: (n, 64) int8, the zero-mean unit-norm 8x8 gray thumbnail x 127.
        flat: (n,) bool, images too flat to compare.
    """

    thumbs: np.ndarray
    flat: np.ndarray

    def __len__(self) -> int:
        return len(self.flat)


def _gray(chunk: np.ndarray, layout: str, affine: tuple[Any, Any] | None) -> np.ndarray:
    """(n, H, W) float32 gray values on the canonical 0-255 scale when `affine` is known."""
    x = np.asarray(chunk)
    if layout == "NCHW":
        x = np.moveaxis(x, 1, -1)
    elif layout == "NHW":
        x = x[..., None]
    channels = x.shape[-1]
    if affine is not None:
        k, c = (np.asarray(v, dtype=np.float32).reshape(-1) for v in affine)
        if k.size != channels or (np.all(k == 1) and np.all(c == 0)):
            affine = None
    if x.dtype == np.uint8 and affine is None and channels <= 256:
        # channel sums of bytes are exact in 16 bits (and then in float32): the same values as below
        total = x[..., 0].astype(np.uint16)
        for ch in range(1, channels):
            total += x[..., ch]
        return total.astype(np.float32) / np.float32(channels)
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if affine is not None:
        x = x * k + c
    out = x[..., 0].copy()
    for ch in range(1, channels):  # a strided add per channel: faster than mean over a length-3 axis
        out += x[..., ch]
    return out / np.float32(channels)


def _stride(shape: tuple[int, ...], layout: str) -> int:
    """Pixel stride for signatures: 1 up to 47 px, then every f-th pixel so that >= 24 px remain per side."""
    h, w = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
    return max(1, min(h, w) // (SIG_GRID * SIG_STRIDE_BLOCK))


def _sig_gray(chunk: np.ndarray, layout: str, affine: tuple[Any, Any] | None) -> tuple[np.ndarray, int]:
    """Gray images for signatures, read at `_stride` (a view: only those pixels are converted), and the stride."""
    f = _stride(np.shape(chunk), layout)
    if f > 1:
        chunk = chunk[:, :, ::f, ::f] if layout == "NCHW" else chunk[:, ::f, ::f]
    return _gray(chunk, layout, affine), f


def _strided_shift(dy: int, dx: int, f: int) -> tuple[int, int]:
    """A probe shift in pixels, in strided pixels (at least one when it was not zero)."""

    def one(d: int) -> int:
        return 0 if d == 0 else int(np.sign(d)) * max(1, int(round(abs(d) / f)))

    return one(dy), one(dx)


def block_means(gray: np.ndarray, g: int) -> np.ndarray:
    """Block means onto a g x g grid (nearest-neighbour upsampling first when smaller)."""
    n, h, w = gray.shape
    if h == g and w == g:
        return gray
    if h < g or w < g:
        gray = np.repeat(np.repeat(gray, -(-g // h), axis=1), -(-g // w), axis=2)
        n, h, w = gray.shape
    if h % g == 0 and w % g == 0:
        return gray.reshape(n, g, h // g, g, w // g).mean(axis=(2, 4), dtype=np.float32)
    er, ec = (np.arange(g) * h) // g, (np.arange(g) * w) // g
    rows = np.add.reduceat(gray, er, axis=1) / np.diff(np.r_[er, h]).astype(np.float32)[None, :, None]
    return np.add.reduceat(rows, ec, axis=2) / np.diff(np.r_[ec, w]).astype(np.float32)[None, None, :]


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows made zero-mean and unit-norm; also each row's std before."""
    v = v - v.mean(axis=1, keepdims=True)
    norm = np.sqrt((v * v).sum(axis=1))
    return v / np.maximum(norm, 1e-12)[:, None], norm / np.sqrt(v.shape[1])


def _shift(gray: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(n, H, W) images moved by whole pixels, the edge repeated into the gap."""
    if not dy and not dx:
        return gray
    h, w = gray.shape[1:]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return gray[:, rows][:, :, cols]


def _flat(gray: np.ndarray, scaled: bool) -> np.ndarray:
    """Images too flat to compare: gray std under `MIN_STD_255` on the canonical scale, else no variation."""
    flat_gray = gray.reshape(len(gray), -1)
    pix_std = flat_gray.std(axis=1)
    if scaled:
        return pix_std < MIN_STD_255
    return pix_std <= 1e-6 * np.maximum(1.0, np.abs(flat_gray).max(axis=1))


def _thumb_signatures(thumbs: np.ndarray, flat: np.ndarray) -> Signatures:
    """Signatures of (n, G*G) thumbnails: zero-mean, unit-norm, x 127 as int8; flat images all zero."""
    unit, _ = _unit(thumbs)
    out = np.clip(np.rint(unit * 127.0), -127, 127).astype(np.int8)
    out[flat] = 0
    return Signatures(out, flat)


def _signatures_of_gray(gray: np.ndarray, scaled: bool) -> Signatures:
    t = block_means(gray, SIG_GRID).reshape(len(gray), -1)
    return _thumb_signatures(t, _flat(gray, scaled))


def _half_block_probes(h: int, w: int, shifts: Sequence[tuple[int, int]]) -> bool:
    """Whether `_probe_signatures` can build every shifted thumbnail from half-block sums: the grid divides
    the image into blocks of an even side, and every shift is 0 or half a block along each axis."""
    if h % SIG_GRID or w % SIG_GRID or (h // SIG_GRID) % 2 or (w // SIG_GRID) % 2:
        return False
    hy, hx = h // SIG_GRID // 2, w // SIG_GRID // 2
    return all(dy in (0, hy, -hy) and dx in (0, hx, -hx) for dy, dx in shifts)


def _pair_sums(v: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Sums of `size` consecutive entries along `axis` (its length a multiple of `size`)."""
    index: list[Any] = [slice(None)] * v.ndim
    index[axis] = slice(0, None, size)
    out = v[tuple(index)].copy()
    for o in range(1, size):
        index[axis] = slice(o, None, size)
        out += v[tuple(index)]
    return out


def _probe_signatures(gray: np.ndarray, shifts: Sequence[tuple[int, int]], scaled: bool) -> list[Signatures]:
    """The signatures of `gray` moved by each of `shifts` (whole pixels, edges repeated), in order.

    When the shifts are half a thumbnail block (`_half_block_probes`: 2 pixels on a 32-pixel image),
    the image is summed once into half-block cells, edges repeated by half a block around them, and
    each probe's thumbnail adds four cells per block: the same block means as shifting first, from a
    quarter of the pixels, and the flatness is judged once on the unshifted image.
    """
    n, h, w = gray.shape
    if not _half_block_probes(h, w, shifts):
        return [_signatures_of_gray(_shift(gray, dy, dx), scaled) for dy, dx in shifts]
    hy, hx = h // SIG_GRID // 2, w // SIG_GRID // 2
    rows = _pair_sums(gray, 1, hy)  # (n, 2G, W)
    cells = np.empty((n, 2 * SIG_GRID + 2, 2 * SIG_GRID + 2), np.float32)
    inner = _pair_sums(rows, 2, hx)  # (n, 2G, 2G)
    cells[:, 1:-1, 1:-1] = inner
    # the half-block beyond each edge repeats the edge pixels: hy copies of the first (last) row ...
    cells[:, 0, 1:-1] = hy * _pair_sums(gray[:, 0, :], 1, hx)
    cells[:, -1, 1:-1] = hy * _pair_sums(gray[:, -1, :], 1, hx)
    # ... and hx copies of the first (last) column, the corners hy x hx copies of the corner pixel
    cells[:, 1:-1, 0] = hx * rows[:, :, 0]
    cells[:, 1:-1, -1] = hx * rows[:, :, -1]
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        cells[:, r, c] = hy * hx * gray[:, r, c]
    flat = _flat(gray, scaled)
    area = np.float32(4 * hy * hx)
    out = []
    for dy, dx in shifts:
        # a block of the image moved by (dy, dx) covers the cells of the block moved by (-dy, -dx)
        oy, ox = 1 - int(np.sign(dy)), 1 - int(np.sign(dx))
        band = cells[:, oy : oy + 2 * SIG_GRID]
        band = band[:, 0::2] + band[:, 1::2]
        band = band[:, :, ox : ox + 2 * SIG_GRID]
        out.append(_thumb_signatures((band[:, :, 0::2] + band[:, :, 1::2]).reshape(n, -1) / area, flat))
    return out


def signatures(
    chunk: np.ndarray, *, layout: str = "NHWC", affine: tuple[Any, Any] | None = None, shift: tuple[int, int] = (0, 0)
) -> Signatures:
    """Signatures of a chunk of images.

    Args:
        chunk: Images, (n, H, W, C), (n, C, H, W) or (n, H, W), any numeric dtype.
        layout: `NHWC`, `NCHW` or `NHW`. Defaults to `"NHWC"`.
        affine: Per-channel (k, c) with `x * k + c` on the 0-255 scale
            (`ImageStats.canonical_affine`), or `None` to use the values as
            they are. Defaults to `None`.
        shift: (dy, dx) pixels to move the images by first (a search probe).
            Defaults to `(0, 0)`.

    Example:

    >>> import numpy as np
    >>> s = signatures(np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    >>> s.thumbs.shape, s.thumbs.dtype.name
    ((4, 64), 'int8')
    """
    gray, f = _sig_gray(chunk, layout, affine)
    return _probe_signatures(gray, [_strided_shift(*shift, f)], affine is not None)[0]


def concat(parts: Iterable[Signatures]) -> Signatures:
    """One `Signatures` from per-chunk parts, in order."""
    parts = list(parts)
    if not parts:
        return Signatures(np.zeros((0, SIG_GRID * SIG_GRID), np.int8), np.zeros(0, bool))
    return Signatures(np.concatenate([p.thumbs for p in parts]), np.concatenate([p.flat for p in parts]))


def _ramp() -> np.ndarray:
    """The unit-norm, zero-mean vertical ramp over the thumbnail (top rows minus bottom rows)."""
    r = np.repeat(np.arange(SIG_GRID, dtype=np.float64), SIG_GRID)
    r -= r.mean()
    return (r / np.linalg.norm(r)).astype(np.float32)


def candidates(
    query: Signatures, index: Signatures, *, same: bool = False, threshold: float | np.ndarray = PREFILTER_CORR
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query i, index j) whose thumbnails correlate at `PREFILTER_CORR` or more, exhaustively.

    Two unit vectors with a dot product of at least t lie within
    sqrt(2 - 2t) of each other, and so do their projections on any unit
    direction. Both sides are sorted by their projection on a vertical ramp
    (the first principal direction of natural photos: sky above, ground
    below) and each block of queries is compared only with the index window
    that bound leaves: about half of the full product on CIFAR-10, no pair lost.

    Args:
        query: Signatures of the images to look up.
        index: Signatures to look them up in.
        same: `query` and `index` are the same split: each unordered pair is
            returned once, as i < j. Defaults to `False`.
        threshold: The correlation required, one for all queries or one per
            query. Defaults to `PREFILTER_CORR`.

    Returns:
        (i, j, correlation), best correlated first, at most `MAX_CANDIDATES`.
    """
    cuts = _cuts(threshold, len(query))
    unit = np.float32(1.0 / 127.0)
    u = _ramp()
    pq = (query.thumbs.astype(np.float32) @ u) * unit
    pi = pq if same else (index.thumbs.astype(np.float32) @ u) * unit
    qo = np.argsort(pq, kind="stable")
    io = qo if same else np.argsort(pi, kind="stable")
    qs = query.thumbs[qo]
    ts = qs if same else index.thumbs[io]
    ps = pi[io]
    # thumbnails are int8-rounded, so their norms are not exactly 1: widen the window to the largest norms
    norm_q = float(np.sqrt((qs.astype(np.float32) ** 2).sum(axis=1).max(initial=0.0))) * unit
    norm_i = float(np.sqrt((ts.astype(np.float32) ** 2).sum(axis=1).max(initial=0.0))) * unit
    lowest = float(cuts.min(initial=127.0 * 127.0)) / (127.0 * 127.0)
    reach = float(np.sqrt(max(norm_q**2 + norm_i**2 - 2 * lowest, 0.0))) + 1e-4
    cs_sorted = cuts[qo]
    qi, ij, cs = [], [], []
    for q0 in range(0, len(qs), QUERY_BLOCK):
        q = qs[q0 : q0 + QUERY_BLOCK].astype(np.float32)
        cut = cs_sorted[q0 : q0 + QUERY_BLOCK]
        lo = int(np.searchsorted(ps, pq[qo[q0]] - reach, side="left"))
        hi = int(np.searchsorted(ps, pq[qo[min(q0 + QUERY_BLOCK, len(qs)) - 1]] + reach, side="right"))
        if same:
            lo = max(lo, q0)
        for i0 in range(lo, hi, INDEX_BLOCK):
            i1 = min(i0 + INDEX_BLOCK, hi)
            s = q @ ts[i0:i1].astype(np.float32).T
            rows = np.flatnonzero(s.max(axis=1) >= cut)  # most rows have no hit: skip them cheaply
            if not len(rows):
                continue
            r, c = np.nonzero(s[rows] >= cut[rows, None])
            r = rows[r]
            if same:
                keep = r + q0 < c + i0
                r, c = r[keep], c[keep]
            if len(r):
                qi.append(r + q0)
                ij.append(c + i0)
                cs.append(s[r, c] / (127.0 * 127.0))
    if not qi:
        return _no_pairs()
    i, j, c = qo[np.concatenate(qi)], io[np.concatenate(ij)], np.concatenate(cs)
    if same:
        i, j = np.minimum(i, j), np.maximum(i, j)
    return _best(query, index, i, j, c)


def _cuts(threshold: float | np.ndarray, n: int) -> np.ndarray:
    """Per-query thresholds on products of int8 thumbnails (correlation x 127^2)."""
    return np.broadcast_to(np.asarray(threshold, np.float32) * np.float32(127.0 * 127.0), (n,)).copy()


def _no_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    empty = np.zeros(0, np.int64)
    return empty, empty, np.zeros(0, np.float32)


def _best(
    query: Signatures, index: Signatures, i: np.ndarray, j: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of images that are not flat, best correlated first, at most `MAX_CANDIDATES`."""
    keep = ~(query.flat[i] | index.flat[j])
    i, j, c = i[keep], j[keep], c[keep]
    order = np.argsort(-c, kind="stable")[:MAX_CANDIDATES]
    return i[order], j[order], c[order]


def _ivf_candidates(query: Signatures, index: Index, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`candidates` through the inverted lists (`ivf.list_candidates`), best correlated first."""
    qi, ij, cs = list_candidates(query.thumbs, query.flat, index, cuts)
    if not len(qi):
        return _no_pairs()
    return _best(query, index.signatures, qi, ij, cs)


def prepare(images: np.ndarray, *, layout: str = "NHWC", affine: tuple[Any, Any] | None = None) -> np.ndarray:
    """Images as the (n, G, G) gray arrays `verify` compares (G = `VERIFY_GRID`)."""
    return block_means(_gray(images, layout, affine), VERIFY_GRID)


@dataclass(frozen=True)
class Pairs:
    """Verified near-duplicate pairs between two splits (or within one).

    Attributes:
        a, b: Indices into the query and the index split.
        similarity: Detail correlation at the best shift (1.0 for identical images).
        coarse: Coarse correlation at that shift.
        exact: The two images are identical (in canonical uint8 pixels when comparable).
        candidates: Pairs the prefilter passed to verification.
    """

    a: np.ndarray
    b: np.ndarray
    similarity: np.ndarray
    coarse: np.ndarray
    exact: np.ndarray
    candidates: int


def _blas_threads() -> contextlib.AbstractContextManager[Any]:
    """`SEARCH_BLAS_THREADS` for the products inside, when `threadpoolctl` is there to set them."""
    return blas_threads(SEARCH_BLAS_THREADS)


def lookup(
    query: Signatures, index: Index, threshold: float | np.ndarray = PREFILTER_CORR
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query i, index j) whose thumbnails correlate at `threshold` or more (one, or one per query).

    Exhaustive (`candidates`) for a small index, through the inverted lists
    for a large one (`build_index`).

    Returns:
        (i, j, correlation), best correlated first, at most `MAX_CANDIDATES`.
    """
    with _blas_threads():
        if index.exhaustive:
            return candidates(query, index.signatures, threshold=threshold)
        return _ivf_candidates(query, index, _cuts(threshold, len(query)))


def pairs_within(index: Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs within the indexed split, once each as i < j (the first part of a search `within`)."""
    if index.exhaustive:
        with _blas_threads():
            return candidates(index.signatures, index.signatures, same=True)
    i, j, c = lookup(index.signatures, index)
    keep = i != j
    return np.minimum(i, j)[keep], np.maximum(i, j)[keep], c[keep]


def search(
    chunks: Iterable[tuple[int, np.ndarray]],
    index: Signatures | Index,
    *,
    layout: str = "NHWC",
    affine: tuple[Any, Any] | None = None,
    within: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs between the images of `chunks` and `index`, shifted probes included.

    Each chunk of query images is looked up as it is and moved by each of
    `PROBE_SHIFTS`, so that a copy shifted by up to 2 pixels still meets its
    original within the 1 pixel the thumbnails tolerate. The probes of up to
    `SEARCH_BATCH` query images are looked up together, in one search (each
    probe with its own threshold), then dropped: memory stays at the index's.

    Args:
        chunks: (start, images) of the query split, in order.
        index: Signatures searched, or their `build_index` (built here when
            signatures are given).
        layout: The query images' layout. Defaults to `"NHWC"`.
        affine: The query images' canonical affine. Defaults to `None`.
        within: `index` holds the query split's own signatures (duplicates
            within a split): pairs come back once, as i < j, and the probes
            are `WITHIN_PROBE_SHIFTS`. Defaults to `False`.

    Returns:
        (i, j, correlation), unique pairs, best correlated first, at most `MAX_CANDIDATES`.
    """
    if not isinstance(index, Index):
        index = build_index(index)
    parts = [pairs_within(index)] if within else []
    batch: list[tuple[int, np.ndarray]] = []
    count = 0
    for start, chunk in chunks:
        batch.append((start, chunk))
        count += len(chunk)
        if count >= SEARCH_BATCH:  # a large sorted batch narrows each block's window
            parts.append(search_batch(batch, index, layout=layout, affine=affine, within=within))
            batch, count = [], 0
    if batch:
        parts.append(search_batch(batch, index, layout=layout, affine=affine, within=within))
    return merge_candidates(parts, len(index))


def search_batch(
    chunks: list[tuple[int, np.ndarray]],
    index: Index,
    *,
    layout: str = "NHWC",
    affine: tuple[Any, Any] | None = None,
    within: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs of one batch of consecutive query chunks (`search` cuts the queries into
    batches of `SEARCH_BATCH` images or more; a runner may search the batches anywhere).

    The probes of the batch's images are looked up together, each probe with its own threshold.
    """
    probes = WITHIN_PROBE_SHIFTS if within else ((0, 0),) + PROBE_SHIFTS
    if not chunks:
        return _no_pairs()
    first = chunks[0][0]  # query index of the batch's first image
    pending: list[list[Signatures]] = [[] for _ in probes]
    count = 0
    for _, chunk in chunks:
        gray, f = _sig_gray(chunk, layout, affine)
        shifted = _probe_signatures(gray, [_strided_shift(dy, dx, f) for dy, dx in probes], affine is not None)
        for sig, sigs in zip(shifted, pending):
            sigs.append(sig)
        count += len(gray)
    if not count:
        return _no_pairs()
    stacked = concat(concat(sigs) for sigs in pending)  # probe by probe, `count` rows each
    thresholds = np.repeat([PREFILTER_CORR if p == (0, 0) else PROBE_CORR for p in probes], count)
    rows, j, c = lookup(stacked, index, thresholds)
    i = rows % count + first
    if within:  # an image's probe meets the image itself; a pair is kept as (smaller, larger)
        keep = i != j
        i, j, c = np.minimum(i, j)[keep], np.maximum(i, j)[keep], c[keep]
    return i, j, c


def merge_candidates(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], index_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs of a search's parts (in batch order): unique, best correlated first, at most
    `MAX_CANDIDATES`."""
    if not parts:
        return _no_pairs()
    i, j, c = (np.concatenate([p[k] for p in parts]) for k in range(3))
    order = np.argsort(-c, kind="stable")
    i, j, c = i[order], j[order], c[order]
    _, keep = np.unique(i * (index_size + 1) + j, return_index=True)
    keep = np.sort(keep)[:MAX_CANDIDATES]
    return i[keep], j[keep], c[keep]


def verify_batch(
    take_query: Callable[[np.ndarray], np.ndarray],
    take_index: Callable[[np.ndarray], np.ndarray],
    pairs: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The verified pairs of one batch of candidates: (query, index, detail, coarse) of the pairs kept."""
    bi, bj = pairs
    ui, inv_i = np.unique(bi, return_inverse=True)
    uj, inv_j = np.unique(bj, return_inverse=True)
    ok, d, c = verify(take_query(ui), take_index(uj), inv_i, inv_j)
    return bi[ok], bj[ok], d[ok], c[ok]


def confirm(
    i: np.ndarray,
    j: np.ndarray,
    take_query: Callable[[np.ndarray], np.ndarray],
    take_index: Callable[[np.ndarray], np.ndarray],
    *,
    exact_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    runner: Any = None,
) -> Pairs:
    """Verify candidate pairs (`search`): the near-duplicates among them.

    Args:
        i, j: Candidate pairs, query and index indices.
        take_query: Sorted unique indices -> prepared images (`prepare`) of the query split.
        take_index: The same for the index split.
        exact_of: (query indices, index indices) -> bool array, whether each
            pair is identical; `None` when the splits cannot be compared
            exactly. Defaults to `None`.
        runner: Where the batches of `VERIFY_BATCH` pairs are verified
            (`cifar_doctor.runners`; `take_query` and `take_index` then travel to
            its workers). Defaults to `None`: in this process.
    """
    runner = runner if runner is not None else DIRECT
    done = runner.map(partial(verify_batch, take_query, take_index), verify_plan(i, j), stage="verify")
    return confirmed(done, len(i), exact_of)


def verify_plan(i: np.ndarray, j: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Candidate pairs in batches of `VERIFY_BATCH` (`verify_batch` judges one), sorted by the side with
    more distinct images, so that each of those images is prepared once."""
    by = j if len(np.unique(j)) >= len(np.unique(i)) else i
    order = np.argsort(by, kind="stable")
    i, j = np.asarray(i)[order], np.asarray(j)[order]
    return [(i[s : s + VERIFY_BATCH], j[s : s + VERIFY_BATCH]) for s in range(0, len(i), VERIFY_BATCH)]


def confirmed(
    done: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    candidates: int,
    exact_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> Pairs:
    """The `Pairs` of the verified batches of `verify_plan` (`verify_batch`'s results, in order)."""
    keep_i, keep_j, sims, coarse = ([part[k] for part in done] for k in range(4))
    if keep_i:
        a_idx, b_idx = np.concatenate(keep_i), np.concatenate(keep_j)
        sim, co = np.concatenate(sims), np.concatenate(coarse)
    else:
        a_idx = b_idx = np.zeros(0, np.int64)
        sim = co = np.zeros(0, np.float32)
    order = np.lexsort((b_idx, a_idx))
    a_idx, b_idx, sim, co = a_idx[order], b_idx[order], sim[order], co[order]
    exact = exact_of(a_idx, b_idx) if exact_of is not None and len(a_idx) else np.zeros(len(a_idx), bool)
    sim = np.where(exact, 1.0, np.minimum(sim, 1.0))
    return Pairs(a_idx, b_idx, sim.astype(np.float32), co.astype(np.float32), exact, int(candidates))


def find(query: np.ndarray, index: np.ndarray | None = None, *, chunk: int = 1024) -> Pairs:
    """Near-duplicate pairs between two image arrays, or within one (as given, no rescaling).

    Args:
        query: Images, (n, H, W, C).
        index: Images to look the query up in; `None` for pairs within `query`. Defaults to `None`.
        chunk: Images per chunk. Defaults to `1024`.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).integers(0, 256, (50, 32, 32, 3), dtype=np.uint8)
    >>> p = find(x[:10], x)
    >>> [(int(a), int(b)) for a, b in zip(p.a, p.b)][:3]
    [(0, 0), (1, 1), (2, 2)]
    """

    def chunks(x):
        return ((s, x[s : s + chunk]) for s in range(0, len(x), chunk))

    base = index if index is not None else query
    idx_sig = concat(signatures(c) for _, c in chunks(base))
    i, j, _ = search(chunks(query), idx_sig, within=index is None)
    return confirm(
        i,
        j,
        lambda ix: prepare(query[ix]),
        lambda ix: prepare(base[ix]),
        exact_of=lambda a, b: np.array([np.array_equal(query[p], base[q]) for p, q in zip(a, b)], bool),
    )
