"""Which images of a large split the data checks look at, and what that sample can rule out.

Statistics such as the input range, the per-channel mean and the label
encoding are settled by a few thousand images; reading a million is wasted
time and memory. A source that is not already in memory (a memory-mapped
`.npy`, an image folder, a `tf.data` pipeline) is therefore read as a sample
of at most `SAMPLE_IMAGES` images, drawn per class in proportion to the
class counts when labels are known (stratified), and the report says so.
Checks that must see every image (duplicates) read the whole source in
chunks instead (`cifar_doctor.inputs.Split.chunks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Images per split in a sample. A defect present in a fraction p of the
#: images is missed by a sample of n with probability (1 - p)^n, so n =
#: 10,000 sees, with 95% probability, any defect affecting at least 3 in
#: 10,000 images (the "rule of three"); per-channel means are then known to
#: about 1% of their standard deviation, far below the 2x-255x differences
#: the preprocessing checks look for. 10,000 CIFAR-sized images are 30 MB
#: as uint8.
SAMPLE_IMAGES = 10_000

#: The seed of the stratified draw: the same data gives the same sample and the same report.
SAMPLE_SEED = 0

#: Confidence of the "can rule out" statement in the report.
RULE_OUT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class SampleInfo:
    """How the in-memory images of a split were drawn from its source.

    Args:
        total: Images in the source, or `None` when it cannot tell (a
            generator, a `tf.data` pipeline of unknown cardinality).
        taken: Images in the sample.
        method: `stratified` (per class, in proportion to the class counts),
            `even` (evenly spaced, labels unknown) or `head` (the first
            `taken` images a pipeline yields, in its order).
        indices: The sampled positions in the source, when known (a runner's
            workers read the sample from there). Defaults to `None`.
    """

    total: int | None
    taken: int
    method: str
    indices: Any = field(default=None, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        """The sample holds every image of the source."""
        return self.total is not None and self.taken >= self.total

    @property
    def rule_out_fraction(self) -> float:
        """The smallest fraction of affected images that the sample sees at `RULE_OUT_CONFIDENCE`.

        From (1 - p)^n = 1 - confidence: p = 1 - (1 - confidence)^(1/n), about 3/n.
        """
        if self.complete or self.taken == 0:
            return 0.0 if self.complete else 1.0
        return 1.0 - (1.0 - RULE_OUT_CONFIDENCE) ** (1.0 / self.taken)

    def limits(self) -> str:
        """What the sample can and cannot rule out, in one sentence."""
        if self.complete:
            return "every image was read"
        p = self.rule_out_fraction
        where = {
            "stratified": "drawn per class",
            "even": "evenly spaced",
            "head": "the first images the pipeline yields",
        }.get(self.method, self.method)
        text = (
            f"a sample of {self.taken:,} images ({where}) sees, with {RULE_OUT_CONFIDENCE:.0%} probability, "
            f"any defect affecting at least {_pct(p)} of the images; rarer ones can be missed"
        )
        if self.method == "head":
            text += ", and so can defects confined to later parts of an unshuffled pipeline"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "taken": self.taken,
            "method": self.method,
            "rule_out_fraction": round(self.rule_out_fraction, 6),
            "limits": self.limits(),
        }


def _pct(p: float) -> str:
    return f"{p:.2%}" if p >= 1e-4 else f"{p:.1e}"


def class_ids(y: Any) -> np.ndarray | None:
    """Integer class ids of labels `(N,)`, `(N, 1)` or one-hot `(N, K)`; `None` when they are not labels."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    if y.ndim in (1, 2) and np.issubdtype(y.dtype, np.number):
        flat = y.reshape(len(y), -1)[:, 0]
        if np.issubdtype(flat.dtype, np.integer):
            return flat.astype(np.int64)
        if np.all(np.isfinite(flat)) and np.all(flat == np.round(flat)):
            return flat.astype(np.int64)
    return None


def sample_indices(
    total: int, n: int = SAMPLE_IMAGES, labels: Any = None, seed: int = SAMPLE_SEED
) -> tuple[np.ndarray, str]:
    """Sorted indices of at most `n` of `total` images, and how they were drawn.

    With labels, each class contributes in proportion to its count (at least
    one image per class present), drawn at random with `seed`; without, the
    indices are evenly spaced. Sorted indices read a memory-mapped file
    front to back.
    """
    if total <= n:
        return np.arange(total, dtype=np.int64), "stratified" if labels is not None else "even"
    ids = class_ids(labels) if labels is not None else None
    if ids is None or len(ids) != total:
        return np.linspace(0, total - 1, n).round().astype(np.int64), "even"
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(ids, return_counts=True)
    quota = np.maximum(1, np.floor(counts * (n / total))).astype(np.int64)
    # hand out what flooring left over to the largest remainders, within n
    spare = n - int(quota.sum())
    if spare > 0:
        rema = counts * (n / total) - np.floor(counts * (n / total))
        for k in np.argsort(-rema)[:spare]:
            quota[k] += 1
    picked = []
    for c, q in zip(classes, quota):
        members = np.flatnonzero(ids == c)
        picked.append(members if q >= len(members) else rng.choice(members, size=int(q), replace=False))
    out = np.sort(np.concatenate(picked))[: max(n, len(classes))]
    return out, "stratified"
