"""DUP003: eval images the model cannot tell apart from a training image (near-duplicates in its features).

The search is `cifar_doctor.measure.featdup` over the penultimate-layer features
that `cifar_doctor.sources.features.read_features` reads (one `predict` pass per
split, as LBL010). Pairs that the pixel comparison of DUP002
(`cifar_doctor.measure.neardup.confirm`) accepts are counted apart: the finding is
about the pairs pixels miss (mirrored, cropped, re-framed or strongly re-coloured
copies of one photo).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...findings import EVIDENCE_MAX_ITEMS, Finding, Fix, Severity
from ...inputs import Inputs
from ...registry import register

#: Training images whose features are read: all 50,000 of CIFAR-10 (about 20 s of `predict` for a
#: small CNN on 2 busy CPU cores, 51 MB of 256 features). A larger training split is read at
#: evenly spaced images and the finding says how many.
FEATURE_TRAIN_MAX = 50_000

#: Eval images read per eval split: all 10,000 of CIFAR-10's test split.
FEATURE_EVAL_MAX = 10_000

#: An eval image's nearest training image is a near-duplicate when it stands out from the rest: its
#: cosine distance (1 - similarity) is at most 1/3 of the distance to the second-nearest training
#: image (the ratio test of image matching). A similarity alone does not separate copies from
#: look-alikes, because a classifier's last features gather each class tightly: with the CNN of
#: `bench/feature_duplicates.py` on full CIFAR-10, 682 test images have a training image at cosine
#: 0.97 or more, while DUP002's pixel duplicates score 0.93-0.99. Looked at by eye (README,
#: "Measured figures"), the feature-only pairs at a ratio of 3 or more were the same photo in 59 of
#: all 60, a sample of 30 of the 81 between 2 and 3 in 24 (two different ships, jets, dogs...).
FEATURE_DISTANCE_RATIO = 3.0

#: Least cosine similarity of a pair, whatever the ratio: an eval image far from every training image
#: can still stand out from its second neighbour. On full CIFAR-10 every pair passing the ratio
#: scores 0.96 or more, so this removes none there.
FEATURE_MIN_SIMILARITY = 0.9

#: Warn (and name `train-test-leakage`) when more than this fraction of an eval split has a
#: feature-only near-duplicate in train: about three times CIFAR-10's own 0.6% (60 of its 10,000 test
#: images with the CNN of `bench/feature_duplicates.py`).
FEATURE_WARN_FRACTION = 0.02

#: Whether DUP003 may name `train-test-leakage` at all. Not yet: the ratio test was measured on one
#: well-trained CIFAR-10 CNN (59 of 60 feature-only pairs the same photo), but on the run corpus
#: (`bench/corpus`, 418 runs with a kept model) it warned on 30 runs without leakage, a third of them
#: healthy, and on none with it: the features of small, weak or tabular models put many eval images next
#: to one training image. The pairs stay information until a guard holds on such models.
FEATURE_NAMES_CAUSE = False

#: Pairs quoted in the message (the evidence lists up to `EVIDENCE_MAX_ITEMS`).
FEATURE_MAX_PAIRS = 3


def _read(inputs: Any, split: Any, limit: int) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(positions in the split, features, layer name) of up to `limit` evenly spaced images; None without features."""
    from ...measure.model import split_features

    got = split_features(inputs, split, limit)
    if got is None:
        return None
    idx, read = got
    return idx, read.features, read.layer


def _pixel_matched(split: Any, train: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each (eval a, train b) pair is a near-duplicate in pixels as well (DUP002's verification)."""
    from ...measure import neardup

    if not len(a) or split.stats.layout != train.stats.layout or split.stats.channels != train.stats.channels:
        return np.zeros(len(a), bool)
    a_ev, a_tr = split.stats.canonical_affine(), train.stats.canonical_affine()
    if a_ev is None or a_tr is None:
        a_ev = a_tr = None
    layout = split.stats.layout
    ok, _, _ = neardup.verify(
        neardup.prepare(split.take(np.unique(a)), layout=layout, affine=a_ev),
        neardup.prepare(train.take(np.unique(b)), layout=layout, affine=a_tr),
        np.unique(a, return_inverse=True)[1],
        np.unique(b, return_inverse=True)[1],
    )
    return ok


def standing_out(similarity: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Whether each nearest pair is a near-duplicate: similar enough, and far closer than the second-nearest."""
    s, s2 = np.asarray(similarity, np.float64), np.asarray(second, np.float64)
    return (s >= FEATURE_MIN_SIMILARITY) & (1.0 - s2 >= FEATURE_DISTANCE_RATIO * (1.0 - s))


@register("DUP003", "feature-near-duplicates", requires=("evaluator", "train_x", "eval_x"), cause="train-test-leakage")
def feature_near_duplicates(inputs: Inputs) -> list[Finding]:
    """Eval images that the model cannot tell apart from a training image, though their pixels differ.

    ## What it does
    Reads the model's penultimate-layer features (the input of its output
    layer, one `predict` pass) on up to 50,000 training images and 10,000
    images of each eval split, L2-normalizes them and finds for each eval
    image its nearest training image by cosine similarity. A pair whose
    cosine distance is at most a third of the distance to the second-nearest
    training image (`FEATURE_DISTANCE_RATIO`), at a similarity of at least
    `FEATURE_MIN_SIMILARITY`, is a near-duplicate in the model's eyes; those
    that DUP002's pixel comparison also accepts are counted apart, and the
    finding is about the others: mirrored, cropped, re-framed or strongly
    re-coloured copies that pixel signatures miss. Information (a warning
    naming `train-test-leakage` above `FEATURE_WARN_FRACTION` of an eval split
    only once `FEATURE_NAMES_CAUSE` is set).

    ## Why is this bad?
    An eval image the model sees as a training image it was fitted on is
    scored on memory, not on generalization: a flipped or cropped copy of a
    training photo leaks as surely as a re-encoded one, and augmenting the
    training set before splitting puts such copies on both sides.

    ## Example
    ```python
    x = np.concatenate([x, x[:, :, ::-1]])      # mirrored copies added, then split at random:
    x_train, x_test = train_test_split(x)       # a photo in train, its mirror image in test
    ```

    ## Use instead
    Split by source image before augmenting; drop the eval images listed in
    the evidence, or report accuracy without them too.
    """
    from ...measure import featdup

    train = inputs.splits["train"]
    if train.count == 0:
        return []
    t0 = time.perf_counter()
    tr = _read(inputs, train, FEATURE_TRAIN_MAX)
    if tr is None:
        return []
    tr_idx, tr_feat, layer = tr
    found = []
    for split in inputs.eval_splits:
        if split.count == 0:
            continue
        ev = _read(inputs, split, FEATURE_EVAL_MAX)
        if ev is None or ev[1].shape[1:] != tr_feat.shape[1:]:
            continue
        ev_idx, ev_feat, _ = ev
        near = featdup.nearest(ev_feat, tr_feat)
        hit = np.flatnonzero(standing_out(near.similarity, near.second))
        a, b = ev_idx[hit], tr_idx[near.index[hit]]
        pixel = _pixel_matched(split, train, a, b)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        only = ~pixel
        if not only.any():
            continue
        pairs = (a[only], b[only], near.similarity[hit][only], near.second[hit][only])
        counts = {"pixel": int(pixel.sum()), "searched": len(ev_idx), "train_read": len(tr_idx), "train": train.count}
        found.append(_finding(split, pairs, counts, layer, seconds))
    return found


def _finding(split: Any, found: tuple[np.ndarray, ...], counts: dict[str, int], layer: str, seconds: float) -> Finding:
    """The finding for one eval split: `found` is (eval indices, train indices, similarity, second similarity)."""
    name = split.name
    pixel, searched, train_read, train_count = (
        counts["pixel"],
        counts["searched"],
        counts["train_read"],
        counts["train"],
    )
    order = np.lexsort((found[0], -found[2]))  # most similar first, ties by eval index
    a, b, sim, second = (v[order] for v in found)
    k = len(a)
    frac = k / searched
    warn = FEATURE_NAMES_CAUSE and frac > FEATURE_WARN_FRACTION
    pairs = [
        [int(i), int(j), round(float(s), 4), round(float(s2), 4)]
        for i, j, s, s2 in zip(a[:EVIDENCE_MAX_ITEMS], b[:EVIDENCE_MAX_ITEMS], sim, second)
    ]
    evidence: dict[str, Any] = {
        "split": name,
        "eval_images": split.count,
        "searched": searched,
        "train_images_read": train_read,
        "train_images": train_count,
        "feature_layer": layer,
        "count": k,
        "fraction": frac,
        "pixel_matched": pixel,
        "pairs": pairs,
        "pair_fields": f"{name}_index, train_index, similarity, second_similarity",
        "distance_ratio": FEATURE_DISTANCE_RATIO,
        "min_similarity": FEATURE_MIN_SIMILARITY,
        "warn_fraction": FEATURE_WARN_FRACTION,
        "max_accuracy_inflation": frac,
        "seconds": round(seconds, 1),
        "method": (
            f"nearest training image per eval image by cosine similarity of L2-normalized features of layer "
            f"{layer!r}, kept when 1 - second >= {FEATURE_DISTANCE_RATIO} x (1 - similarity) and similarity >= "
            f"{FEATURE_MIN_SIMILARITY}; pairs DUP002's pixel comparison accepts are counted apart"
        ),
    }
    if k > EVIDENCE_MAX_ITEMS:
        evidence["listed_up_to"] = EVIDENCE_MAX_ITEMS
    sampled = f" of {train_read:,} read" if train_read < train_count else ""
    message = (
        f"{k} of {searched:,} x_{name} images ({frac:.1%}) are near-duplicates of a training image{sampled} in the "
        f"model's features (each {FEATURE_DISTANCE_RATIO:g}x closer than the next training image) though their pixels do not match (first pairs "
        f"{name}/train: {[p[:2] for p in pairs[:FEATURE_MAX_PAIRS]]}); {pixel} more match in pixels too (DUP002)."
    )
    if warn:
        explanation = (
            f"{frac:.1%} of x_{name} looks to the model like images it was trained on, more than a clean split "
            f"of scraped photos has: {name} accuracy is partly scored on copies (mirrored, cropped or re-coloured) "
            "of training images."
        )
    else:
        explanation = (
            "A few such pairs occur in scraped datasets (the same object photographed twice, or one photo "
            f"mirrored or cropped): {name} accuracy on them is slightly optimistic."
        )
    return feature_near_duplicates.finding(
        Severity.WARNING if warn else Severity.INFO,
        message,
        evidence=evidence,
        fix=Fix(
            f"Drop the x_{name} images listed in the evidence, or report {name} accuracy without them too",
            "import json, numpy as np\n"
            "pairs = [f for f in json.load(open('report.json'))['findings'] if f['code'] == 'DUP003'][0]['evidence']['pairs']\n"
            f"keep = np.setdiff1d(np.arange(len(x_{name})), [p[0] for p in pairs])\n"
            f"x_{name}, y_{name} = x_{name}[keep], y_{name}[keep]",
        ),
        explanation=explanation,
        split=name,
        cause="train-test-leakage" if warn else None,
    )
