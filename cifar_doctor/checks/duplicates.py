"""DUP: exact duplicate images shared by the training split and an eval split.

Every image of both splits is read once, in chunks (`Split.chunks`: the
whole source, not the sample, for data larger than memory), and reduced to a
64-bit hash of `KEY_VALUES` of its values: those bytes read as 64-bit
words, multiplied by fixed odd constants and summed (wrapping). Equal images
have equal hashes; eval images whose hash occurs in train are then compared
byte for byte, so a hash collision cannot make a false pair, and memory is
8 bytes per image.

When the two splits use different schemes (train divided by 255, test raw:
the seed bug), both are compared as a canonical uint8 reconstruction
`rint(x * k + c)` of their 0-255 pixels, so the images stay comparable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Fix, Severity
from ..registry import register
from ..stats import channel_of_position

#: Warn above this fraction of the eval split duplicated in train. Real
#: CIFAR-10 has no exact train/test duplicates (measured: 0 of 10,000);
#: 1% exact copies inflate eval accuracy by up to a point and mean the
#: splits were drawn from overlapping files.
DUP_WARN_FRACTION = 0.01

#: Pairs listed in evidence.
MAX_PAIRS = 5

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
        self.k = self.c = None
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
            k, c = (k[cols], c[cols]) if k is not None else (None, None)
        if k is None and flat.dtype == np.uint8:
            return flat
        v = np.nan_to_num(flat.astype(np.float32), nan=-1.0, posinf=-1.0, neginf=-1.0)
        if k is not None:
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


def split_hashes(split: Any, canon: Canonical, cols: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """The hash of the key values (`cols`) of every image of `split`, read chunk by chunk."""
    out = [_hash_rows(canon(chunk, cols), mult) for chunk in split.chunks()]
    return np.concatenate(out) if out else np.zeros(0, np.uint64)


def _key_columns(d: int) -> np.ndarray:
    """`KEY_VALUES` positions spread evenly over an image's `d` values (all of them when fewer)."""
    if d <= KEY_VALUES:
        return np.arange(d)
    return np.unique(np.linspace(0, d - 1, KEY_VALUES).round().astype(np.int64))


def find_duplicates(train: Any, ev: Any, chan: np.ndarray,
                    affines: tuple[Any, Any] | None) -> list[tuple[int, int]]:
    """(train_index, eval_index) for every eval image identical to a training image."""
    a_tr, a_ev = affines if affines is not None else (None, None)
    canon_tr, canon_ev = Canonical(a_tr, chan), Canonical(a_ev, chan)
    d = int(np.prod(train.x.shape[1:])) * (1 if affines is not None else train.x.dtype.itemsize)
    cols = _key_columns(d)
    mult = _multipliers(len(cols))
    h_tr = split_hashes(train, canon_tr, cols, mult)
    h_ev = split_hashes(ev, canon_ev, cols, mult)
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


@register("DUP001", "train-test-duplicates", requires=("train_x", "eval_x"), cause="train-test-leakage")
def train_test_duplicates(inputs):
    """Eval images that also appear, pixel for pixel, in the training split.

    ## What it does
    Hashes every image (a 64-bit hash of 512 of its values, every
    candidate pair then compared byte for byte) and counts eval images identical to a
    training image, reading the whole of each split in chunks. Splits fed on
    different scales (train / 255, test raw) are compared through their
    reconstructed uint8 pixels.

    ## Why is this bad?
    A duplicated image is scored on something the model memorized: eval
    accuracy is inflated and no longer measures generalization. Many
    duplicates mean the splits were cut from overlapping files (e.g. a
    random split of a folder that already held augmented copies).

    ## Example
    ```python
    x = np.concatenate([x_train, x_test]); rng.shuffle(x)   # then split again...
    x_val = x_train[:5000]                                  # ...or val cut from train, still trained on
    ```

    ## Use instead
    Split once, by source image, before any augmentation; drop eval images
    whose hash occurs in train.
    """
    train = inputs.splits["train"]
    tr = train.stats
    found = []
    for split in inputs.eval_splits:
        ev = split.stats
        if ev.image_shape != tr.image_shape or ev.n == 0 or tr.n == 0:
            continue
        same = ev.dtype == tr.dtype and (ev.scheme == tr.scheme or ev.family == tr.family)
        affines = None
        if not same:
            a_tr, a_ev = tr.canonical_affine(), ev.canonical_affine()
            if a_tr is not None and a_ev is not None:
                affines = (a_tr, a_ev)
            elif ev.dtype != tr.dtype:
                continue  # no common representation: cannot compare exactly
        chan = channel_of_position(tr.shape, tr.layout, tr.channels)
        pairs = find_duplicates(train, split, chan, affines)
        if not pairs:
            continue
        n_eval = split.count
        frac = len(pairs) / n_eval
        mode = "canonical uint8 pixels" if affines is not None else "raw bytes"
        sev = Severity.WARNING if frac > DUP_WARN_FRACTION else Severity.INFO
        found.append(train_test_duplicates.finding(
            sev,
            f"{len(pairs)} of {n_eval} x_{split.name} images ({frac:.2%}) are exact copies of training images "
            f"(first pairs train/{split.name}: {pairs[:3]}).",
            evidence={"split": split.name, "count": len(pairs), "fraction": frac, "eval_images": n_eval,
                      "pairs": [list(p) for p in pairs[:MAX_PAIRS]], "compared_as": mode,
                      "files": _files(train, split, pairs[:MAX_PAIRS]),
                      "hash": f"64-bit hash of {KEY_VALUES} values per image, pairs compared byte for byte", "warn_fraction": DUP_WARN_FRACTION},
            fix=Fix(f"Remove the duplicated images from x_{split.name} (or from x_train)",
                    "import hashlib\n"
                    "seen = {hashlib.blake2b(im.tobytes()).digest() for im in x_train}\n"
                    f"keep = np.array([hashlib.blake2b(im.tobytes()).digest() not in seen for im in x_{split.name}])\n"
                    f"x_{split.name}, y_{split.name} = x_{split.name}[keep], y_{split.name}[keep]"),
            explanation=("Images the model was trained on are scored again in evaluation, inflating eval accuracy "
                         "and hiding overfitting."),
            split=split.name,
        ))
    return found


def _files(train: Any, ev: Any, pairs: list[tuple[int, int]]) -> list[list[str]] | None:
    """The file names of the pairs, when the splits were read from image files."""
    tf, ef = getattr(train.full, "files", None), getattr(ev.full, "files", None)
    if tf is None or ef is None:
        return None
    return [[str(tf[i]), str(ef[j])] for i, j in pairs]
