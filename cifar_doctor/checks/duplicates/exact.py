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

from ...findings import EVIDENCE_MAX_ITEMS, Finding, Fix, Severity, listed
from ...inputs import Inputs
from ...measure.duplicates import KEY_VALUES, find_duplicates
from ...measure.stats import channel_of_position
from ...registry import register

#: Warn above this fraction of the eval split duplicated in train. Real
#: CIFAR-10 has no exact train/test duplicates (measured: 0 of 10,000);
#: 1% exact copies inflate eval accuracy by up to a point and mean the
#: splits were drawn from overlapping files.
DUP_WARN_FRACTION = 0.01

#: Pairs quoted in the message (the evidence lists them all, up to `EVIDENCE_MAX_ITEMS`).
MAX_PAIRS = 3


@register("DUP001", "train-test-duplicates", requires=("train_x", "eval_x"), cause="train-test-leakage")
def train_test_duplicates(inputs: Inputs) -> list[Finding]:
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
        pairs = find_duplicates(train, split, chan, affines, inputs.runner)
        if not pairs:
            continue
        n_eval = split.count
        frac = len(pairs) / n_eval
        mode = "canonical uint8 pixels" if affines is not None else "raw bytes"
        sev = Severity.WARNING if frac > DUP_WARN_FRACTION else Severity.INFO
        found.append(
            train_test_duplicates.finding(
                sev,
                f"{len(pairs)} of {n_eval} x_{split.name} images ({frac:.2%}) are exact copies of training images "
                f"(first pairs train/{split.name}: {pairs[:MAX_PAIRS]}).",
                evidence={
                    "split": split.name,
                    "count": len(pairs),
                    "fraction": frac,
                    "eval_images": n_eval,
                    "pairs": [list(p) for p in listed(pairs)],
                    "compared_as": mode,
                    "files": _files(train, split, listed(pairs)),
                    "hash": f"64-bit hash of {KEY_VALUES} values per image, pairs compared byte for byte",
                    "warn_fraction": DUP_WARN_FRACTION,
                    **({"listed_up_to": EVIDENCE_MAX_ITEMS} if len(pairs) > EVIDENCE_MAX_ITEMS else {}),
                },
                fix=Fix(
                    f"Remove the duplicated images from x_{split.name} (or from x_train)",
                    "import hashlib\n"
                    "seen = {hashlib.blake2b(im.tobytes()).digest() for im in x_train}\n"
                    f"keep = np.array([hashlib.blake2b(im.tobytes()).digest() not in seen for im in x_{split.name}])\n"
                    f"x_{split.name}, y_{split.name} = x_{split.name}[keep], y_{split.name}[keep]",
                ),
                explanation=(
                    "Images the model was trained on are scored again in evaluation, inflating eval accuracy "
                    "and hiding overfitting."
                ),
                split=split.name,
            )
        )
    return found


def _files(train: Any, ev: Any, pairs: list[tuple[int, int]]) -> list[list[str]] | None:
    """The file names of the pairs, when the splits were read from image files."""
    tf, ef = getattr(train.full, "files", None), getattr(ev.full, "files", None)
    if tf is None or ef is None:
        return None
    return [[str(tf[i]), str(ef[j])] for i, j in pairs]
