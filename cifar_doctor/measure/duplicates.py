"""Exact duplicates between two splits: every image hashed once, candidate pairs compared byte for byte.

Measurement only (DUP001 judges the fraction). Images of splits on different
schemes are compared as their canonical uint8 reconstruction (`Canonical`),
which the near-duplicate search (DUP002) also uses to tell exact copies.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..runners.base import DIRECT, Rows, Runner, local_runner, map_jobs, split_rows
from ..sources.base import CHUNK_IMAGES

#: Values per image that the hash reads: 512 positions spread over the image. Two
#: different real images agree on all of them essentially never, and every candidate
#: pair is then compared in full, so reading a subset trades hashing work (13x less for
#: a 48x48x3 image, and as much less float arithmetic for a split on another scale) for
#: a few extra comparisons on images that are blank or nearly so.
KEY_VALUES = 512

#: Seed of the hash's multipliers: fixed, so the same data gives the same pairs.
HASH_SEED = 20201


class Canonical:
    """How one split's images become comparable bytes: as stored (`affine` None) or as canonical uint8."""

    def __init__(self, affine: tuple[np.ndarray, np.ndarray] | None, chan: np.ndarray) -> None:
        self.to_uint8 = affine is not None
        # the scale and offset per value, set together: both None when the stored bytes are compared
        self.k: np.ndarray | None = None
        self.c: np.ndarray | None = None
        if affine is not None:
            k, c = (np.asarray(a, dtype=np.float64) for a in affine)
            if not (np.all(k == 1) and np.all(c == 0)):  # raw 0-255 data is its own reconstruction
                # float32 is exact enough: |x * k + c - v| stays far below the 0.5 that rint rounds away
                self.k, self.c = k[chan].astype(np.float32), c[chan].astype(np.float32)

    def __call__(self, images: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Comparable bytes of `images`, or of the values at `cols` only (byte or pixel positions)."""
        flat = np.ascontiguousarray(images).reshape(len(images), -1)
        if not self.to_uint8:
            raw = flat.view(np.uint8).reshape(len(images), -1)
            return raw if cols is None else raw[:, cols]
        k, c = self.k, self.c
        if cols is not None:
            flat = flat[:, cols]
            k, c = (k[cols], c[cols]) if k is not None and c is not None else (None, None)
        if k is None and flat.dtype == np.uint8:
            return flat
        v = np.nan_to_num(flat.astype(np.float32), nan=-1.0, posinf=-1.0, neginf=-1.0)
        if k is not None and c is not None:
            v = v * k + c
        return np.clip(np.rint(v), 0, 255).astype(np.uint8)


def _hash_rows(rows: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """One uint64 per row of bytes: the row's 64-bit words times `mult`, summed with wrap-around."""
    n, d = rows.shape
    pad = (-d) % 8
    if pad:
        rows = np.concatenate([rows, np.zeros((n, pad), np.uint8)], axis=1)
    words = np.ascontiguousarray(rows).view(np.uint64)
    with np.errstate(over="ignore"):
        return (words * mult[: words.shape[1]]).sum(axis=1, dtype=np.uint64)


def _multipliers(d: int) -> np.ndarray:
    rng = np.random.default_rng(HASH_SEED)
    return rng.integers(0, 2**63, size=(d + 7) // 8, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _hash_part(canon: Canonical, cols: np.ndarray, mult: np.ndarray, rows: Rows) -> np.ndarray:
    """The hashes of one work item's images (a runner applies this to every chunk of a split)."""
    return _hash_rows(canon(rows.read(), cols), mult)


def split_hashes(
    splits: list[tuple[Any, Canonical]], cols: np.ndarray, mult: np.ndarray, runner: Runner = DIRECT
) -> list[np.ndarray]:
    """The hash of the key values (`cols`) of every image of each split, chunk by chunk on `runner` (one stage)."""
    jobs = [(partial(_hash_part, canon, cols, mult), split_rows(split, CHUNK_IMAGES)) for split, canon in splits]
    parts = map_jobs(local_runner(runner, all(split.full is None for split, _ in splits)), jobs, stage="hash")
    return [np.concatenate(p) if p else np.zeros(0, np.uint64) for p in parts]


def _key_columns(d: int) -> np.ndarray:
    """`KEY_VALUES` positions spread evenly over an image's `d` values (all of them when fewer)."""
    if d <= KEY_VALUES:
        return np.arange(d)
    return np.unique(np.linspace(0, d - 1, KEY_VALUES).round().astype(np.int64))


def find_duplicates(
    train: Any, ev: Any, chan: np.ndarray, affines: tuple[Any, Any] | None, runner: Runner = DIRECT
) -> list[tuple[int, int]]:
    """(train_index, eval_index) for every eval image identical to a training image (hashes on `runner`)."""
    a_tr, a_ev = affines if affines is not None else (None, None)
    canon_tr, canon_ev = Canonical(a_tr, chan), Canonical(a_ev, chan)
    d = int(np.prod(train.x.shape[1:])) * (1 if affines is not None else train.x.dtype.itemsize)
    cols = _key_columns(d)
    mult = _multipliers(len(cols))
    h_tr, h_ev = split_hashes([(train, canon_tr), (ev, canon_ev)], cols, mult, runner)
    order = np.argsort(h_tr, kind="stable")
    sorted_tr = h_tr[order]
    pos = np.searchsorted(sorted_tr, h_ev)
    hit = np.flatnonzero((pos < len(sorted_tr)) & (sorted_tr[np.minimum(pos, len(sorted_tr) - 1)] == h_ev))
    if not len(hit):
        return []
    pairs = []
    ev_imgs = canon_ev(ev.take(hit))
    for row, j in zip(ev_imgs, hit):
        k = pos[j]
        while k < len(sorted_tr) and sorted_tr[k] == h_ev[j]:  # every train image with that hash, byte-checked
            i = int(order[k])
            if np.array_equal(canon_tr(train.take([i]))[0], row):
                pairs.append((i, int(j)))
                break
            k += 1
    return pairs
