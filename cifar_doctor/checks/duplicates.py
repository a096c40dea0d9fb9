"""DUP: exact duplicate images shared by the training split and an eval split.

Each image is identified by a blake2b hash of its bytes. Hashing every
float32 CIFAR image (12 KB each, 737 MB for the full set) costs about a
second, so candidates are found first with a key of `KEY_PIXELS` fixed
pixels per image (a vectorized gather), and only images whose key occurs in
both splits are hashed in full. Two images with different keys cannot be
identical, so no duplicate is missed.

When the two splits use different schemes (train divided by 255, test raw:
the seed bug), both are compared as a canonical uint8 reconstruction
`rint(x * k + c)` of their 0-255 pixels, so the images stay comparable.
"""

from __future__ import annotations

import hashlib
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

#: Pixels per image in the candidate key: enough that different real images
#: almost never share a key (CIFAR-10: no collisions observed), so few full
#: hashes are needed.
KEY_PIXELS = 32

#: Pairs listed in evidence.
MAX_PAIRS = 5


def _positions(d: int) -> np.ndarray:
    """KEY_PIXELS flat positions spread over the image (deterministic)."""
    k = min(KEY_PIXELS, d)
    pos = np.linspace(0, d - 1, k).astype(np.int64)
    # odd offsets so the positions do not all fall on the same channel
    return np.unique(np.clip(pos + np.arange(k) % 3, 0, d - 1))


class _View:
    """How one split's images are keyed and hashed: raw bytes or canonical uint8."""

    def __init__(self, x: np.ndarray, affine: tuple[np.ndarray, np.ndarray] | None, chan: np.ndarray,
                 pos: np.ndarray) -> None:
        self.x = x
        self.pos = pos
        self.index = (slice(None),) + np.unravel_index(pos, x.shape[1:])
        if affine is not None:
            k, c = affine
            self.k_row = np.asarray(k, dtype=np.float64)[chan]
            self.c_row = np.asarray(c, dtype=np.float64)[chan]
        else:
            self.k_row = None
            self.c_row = None

    def _canon(self, values: np.ndarray, k: np.ndarray, c: np.ndarray) -> np.ndarray:
        v = np.nan_to_num(values.astype(np.float64), nan=-1.0, posinf=-1.0, neginf=-1.0) * k + c
        return np.clip(np.rint(v), 0, 255).astype(np.uint8)

    def keys(self) -> list[bytes]:
        g = self.x[self.index]
        if self.k_row is not None:
            g = self._canon(g, self.k_row[self.pos], self.c_row[self.pos])
        g = np.ascontiguousarray(g)
        return g.view(np.dtype((np.void, g.dtype.itemsize * g.shape[1]))).ravel().tolist()

    def digest(self, i: int) -> bytes:
        img = np.ascontiguousarray(self.x[i])
        if self.k_row is not None:
            img = self._canon(img.reshape(-1), self.k_row, self.c_row)
        return hashlib.blake2b(img.tobytes(), digest_size=16).digest()


def find_duplicates(x_train: np.ndarray, x_eval: np.ndarray, chan: np.ndarray,
                    affines: tuple[Any, Any] | None) -> list[tuple[int, int]]:
    """(train_index, eval_index) for every eval image identical to a training image."""
    d = int(np.prod(x_train.shape[1:]))
    pos = _positions(d)
    a_tr, a_ev = affines if affines is not None else (None, None)
    tr = _View(x_train, a_tr, chan, pos)
    ev = _View(x_eval, a_ev, chan, pos)
    lookup: dict[bytes, list[int]] = {}
    for i, key in enumerate(tr.keys()):
        lookup.setdefault(key, []).append(i)
    digests: dict[bytes, dict[bytes, int]] = {}
    pairs = []
    for j, key in enumerate(ev.keys()):
        group = lookup.get(key)
        if group is None:
            continue
        known = digests.get(key)
        if known is None:
            known = {}
            for i in group:
                known.setdefault(tr.digest(i), i)
            digests[key] = known
        i = known.get(ev.digest(j))
        if i is not None:
            pairs.append((i, j))
    return pairs


@register("DUP001", "train-test-duplicates", requires=("train_x", "eval_x"), cause="train-test-leakage")
def train_test_duplicates(inputs):
    """Eval images that also appear, pixel for pixel, in the training split.

    ## What it does
    Hashes every image (blake2b of its bytes, after a cheap candidate key)
    and counts eval images identical to a training image. Splits fed on
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
        pairs = find_duplicates(train.x, split.x, chan, affines)
        if not pairs:
            continue
        frac = len(pairs) / ev.n
        mode = "canonical uint8 pixels" if affines is not None else "raw bytes"
        sev = Severity.WARNING if frac > DUP_WARN_FRACTION else Severity.INFO
        found.append(train_test_duplicates.finding(
            sev,
            f"{len(pairs)} of {ev.n} x_{split.name} images ({frac:.2%}) are exact copies of training images "
            f"(first pairs train/{split.name}: {pairs[:3]}).",
            evidence={"split": split.name, "count": len(pairs), "fraction": frac, "eval_images": ev.n,
                      "pairs": [list(p) for p in pairs[:MAX_PAIRS]], "compared_as": mode,
                      "hash": "blake2b-128", "warn_fraction": DUP_WARN_FRACTION},
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
