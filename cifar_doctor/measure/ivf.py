"""The index of the near-duplicate search: a split's signatures grouped into inverted lists.

Built once per training split (`build_index`) and queried shard by shard (`list_candidates`):
the signatures are clustered by spherical k-means on a sample, each image is filed under its
nearest centroid, and a query is compared only with the lists of its `IVF_PROBE` nearest
centroids. Small splits (under `IVF_MIN_INDEX`) are searched exhaustively
(`cifar_doctor.measure.neardup.candidates`), which loses no pair. Pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Signatures(Protocol):
    """What the index reads of a split's signatures (`cifar_doctor.measure.neardup.Signatures`)."""

    @property
    def thumbs(self) -> np.ndarray: ...

    @property
    def flat(self) -> np.ndarray: ...

    def __len__(self) -> int: ...


#: Indexes of at least this many signatures are searched through an inverted
#: file (`build_index`): each query is compared with the signatures of its
#: `IVF_PROBE` nearest lists instead of half the index. Below it the exact
#: window search (`candidates`) costs no more: within slices of CIFAR-10 (a split
#: against itself and its probes, `python bench/ivf_crossover.py`), 5,000 images
#: take 0.15 s either way, 10,000 take 0.47 s exhaustively and 0.35 s in 50 lists,
#: 20,000 take 1.75 s and 0.78 s, and from 10,000 up the lists reach the same
#: candidate pairs, so the same verified ones, on each slice.
IVF_MIN_INDEX = 10_000

#: Mean signatures per inverted list: 50,000 training images make 250 lists,
#: 1,000,000 make 5,000, so a query's work grows with the square root of the
#: index, not with the index.
IVF_LIST_SIZE = 200

#: Lists probed per query, nearest centroids first. On full CIFAR-10 (250
#: lists) 16 probes keep every verified test/train pair and all but about 20 of
#: the 54,000 candidate pairs of the exact search (8 probes lose one verified
#: pair), while comparing each query with 6% of the training images.
IVF_PROBE = 16

#: Signatures sampled per list to fit the centroids (spherical k-means).
IVF_TRAIN_PER_LIST = 64

#: k-means iterations: the lists only group the signatures, so a few
#: iterations from a random start are enough (probing absorbs the rest).
IVF_ITERATIONS = 8

#: Seed of the k-means sample and start, so that a search is reproducible.
IVF_SEED = 0

#: Queries whose centroid similarities are ranked at once: 4,096 x 5,000
#: lists of float32 are 80 MB.
IVF_QUERY_BLOCK = 4096


@dataclass(frozen=True)
class Index:
    """The signatures of one split, grouped into inverted lists for search (`build_index`).

    Attributes:
        signatures: The split's signatures, in split order.
        centroids: (lists, 64) float32 unit vectors; no rows when the index is
            searched exhaustively (fewer than `IVF_MIN_INDEX` signatures).
        members: Positions of the split's images that are not flat, list by list.
        starts: (lists + 1,) offsets of each list in `members`.
        thumbs: The members' thumbnails, in `members` order.
    """

    signatures: Any  # `neardup.Signatures`, as given to `build_index`
    centroids: np.ndarray
    members: np.ndarray
    starts: np.ndarray
    thumbs: np.ndarray

    def __len__(self) -> int:
        return len(self.signatures)

    @property
    def exhaustive(self) -> bool:
        """Queries are compared with every signature (within the projection window)."""
        return len(self.centroids) == 0


def _by_list(lists: np.ndarray, count: int) -> np.ndarray:
    """The stable order of `lists` (list numbers below `count`): the same order as `np.argsort(lists,
    kind="stable")`, which NumPy sorts by radix when the numbers fit 8 or 16 bits (800,000 probes of
    CIFAR-10's test split by their 250 lists: 5 ms against 51 ms as int64)."""
    if count <= 1 << 8:
        return np.argsort(lists.astype(np.uint8), kind="stable")
    if count <= 1 << 16:
        return np.argsort(lists.astype(np.uint16), kind="stable")
    return np.argsort(lists, kind="stable")


def _spherical_kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(k, d) unit centroids of the unit rows of `x`, by `IVF_ITERATIONS` rounds of k-means on cosine."""
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(IVF_ITERATIONS):
        a = _nearest_list(x, c)
        order = _by_list(a, k)
        a = a[order]
        starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
        sums = np.add.reduceat(x[order], starts, axis=0)
        norm = np.linalg.norm(sums, axis=1, keepdims=True)
        c[a[starts]] = sums / np.maximum(norm, 1e-12)  # an empty list keeps its centroid
    return c


def _nearest_list(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """The list of each row of `x` (largest inner product with a centroid), a block of rows at a time."""
    return np.concatenate(
        [np.argmax(x[s : s + IVF_QUERY_BLOCK] @ centroids.T, axis=1) for s in range(0, len(x), IVF_QUERY_BLOCK)]
        or [np.zeros(0, np.int64)]
    )


def build_index(sigs: Signatures, *, lists: int | None = None) -> Index:
    """Group a split's signatures for search: once per training split, then queried shard by shard.

    The signatures are clustered (spherical k-means on a sample, about
    `IVF_LIST_SIZE` per list) and each image is filed under its nearest
    centroid; a query is compared only with the lists of its `IVF_PROBE`
    nearest centroids (`search`). Small splits (under `IVF_MIN_INDEX`) are
    searched exhaustively, which loses no pair.

    Args:
        sigs: Signatures of the split (`signatures`, `concat`).
        lists: Number of inverted lists; 0 for an exhaustive index. Defaults to
            `None`: one per `IVF_LIST_SIZE` signatures from `IVF_MIN_INDEX` up.

    Example:

    >>> import numpy as np
    >>> from cifar_doctor.measure.neardup import signatures
    >>> x = np.random.default_rng(0).integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)
    >>> index = build_index(signatures(x), lists=4)
    >>> len(index), index.exhaustive, len(index.starts)
    (300, False, 5)
    """
    live = np.flatnonzero(~sigs.flat)
    if lists is None:
        lists = len(live) // IVF_LIST_SIZE if len(live) >= IVF_MIN_INDEX else 0
    lists = min(lists, len(live))
    if lists <= 1:
        return Index(
            sigs, np.zeros((0, sigs.thumbs.shape[1]), np.float32), live, np.array([0, len(live)]), sigs.thumbs[live]
        )
    rng = np.random.default_rng(IVF_SEED)
    x = sigs.thumbs[live].astype(np.float32) / np.float32(127.0)
    sample = x[np.sort(rng.choice(len(x), min(len(x), lists * IVF_TRAIN_PER_LIST), replace=False))]
    centroids = _spherical_kmeans(sample, lists, rng)
    a = _nearest_list(x, centroids)
    order = _by_list(a, lists)
    starts = np.searchsorted(a[order], np.arange(lists + 1))
    return Index(sigs, centroids, live[order], starts, sigs.thumbs[live[order]])


def list_candidates(
    thumbs: np.ndarray, flat: np.ndarray, index: Index, cuts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query, index, correlation) of the pairs over `cuts`, each query against its `IVF_PROBE` nearest lists.

    Queries probing a list are gathered and multiplied with the list's
    thumbnails in one product, list by list.
    """
    q = thumbs.astype(np.float32)
    probe = min(IVF_PROBE, len(index.centroids))
    nearest = np.concatenate(
        [
            np.argpartition(-(q[s : s + IVF_QUERY_BLOCK] @ index.centroids.T), probe - 1, axis=1)[:, :probe]
            for s in range(0, len(q), IVF_QUERY_BLOCK)
        ]
        or [np.zeros((0, probe), np.int64)]
    )
    live = np.flatnonzero(~flat)
    lists = nearest[live].ravel()
    who = np.repeat(live, probe)
    order = _by_list(lists, len(index.centroids))
    lists, who = lists[order], who[order]
    bounds = np.searchsorted(lists, np.arange(len(index.centroids) + 1))
    qi, ij, cs = [], [], []
    for k in range(len(index.centroids)):
        rows, m0, m1 = who[bounds[k] : bounds[k + 1]], index.starts[k], index.starts[k + 1]
        if not len(rows) or m0 == m1:
            continue
        s = q[rows] @ index.thumbs[m0:m1].T.astype(np.float32, order="C")
        hit = np.flatnonzero(s.max(axis=1) >= cuts[rows])  # most queries have no hit in a list
        if not len(hit):
            continue
        r, c = np.nonzero(s[hit] >= cuts[rows[hit], None])
        r = hit[r]
        if len(r):
            qi.append(rows[r])
            ij.append(index.members[m0 + c])
            cs.append(s[r, c] / (127.0 * 127.0))
    if not qi:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(qi), np.concatenate(ij), np.concatenate(cs)
