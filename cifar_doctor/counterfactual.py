"""Test a proposed data fix: evaluate the model on eval data with the fix applied.

A finding may carry `fix.transform`, a `DataFix`, e.g. `DataFix("test", scale=1/255,
offset=0.0, expression="x_test / 255")`. When the user's model is at
hand (`Inputs.evaluate`), we evaluate it on the eval split as given and as
fixed, and report both: a claim like "rescaling the test set restores
accuracy" becomes a measured result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .findings import DataFix, Finding, plain, rounded
from .inputs import Inputs
from .mapped import MappedImages, is_lazy

#: Images evaluated per counterfactual. Enough for +-1.5 accuracy points at
#: 95% on a 10-class problem, and a few seconds on a CPU.
MAX_EVAL_IMAGES = 10_000

#: A counterfactual "confirms" a fix when accuracy improves by at least this much
#: (absolute): two points are above the +-1.5 points of noise of `MAX_EVAL_IMAGES`.
CONFIRMING_ACCURACY_GAIN = 0.02

#: A fix that does not raise accuracy by `CONFIRMING_ACCURACY_GAIN` still
#: counts as confirmed when it cuts the loss by at least this factor without
#: costing accuracy: a model that was trained briefly can turn an absurd loss
#: (raw 0-255 inputs) into a sane one before its accuracy moves.
CONFIRMING_LOSS_FACTOR = 0.5


@dataclass(frozen=True)
class Counterfactual:
    """One proposed data fix, measured on the user's model: eval data as given vs with the fix.

    Attributes:
        code: The check whose finding proposed the fix.
        split: The eval split it was measured on.
        transform: The finding's `fix.transform`.
        images: Images evaluated. `None` when the evaluation failed.
        before: `{"loss", "accuracy"}` on the data as given. `None` when it failed.
        after: The same with the fix applied. `None` when it failed.
        accuracy_gain: `after` minus `before` accuracy. `None` when it failed.
        confirmed: The fix measurably restores the model's performance.
        summary: One sentence with the numbers. `None` when it failed.
        error: Why the evaluation failed, else `None`.
    """

    code: str
    split: str
    transform: DataFix
    images: int | None = None
    before: Mapping[str, float] | None = None
    after: Mapping[str, float] | None = None
    accuracy_gain: float | None = None
    confirmed: bool = False
    summary: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.transform, DataFix):  # a mapping with DataFix's field names
            object.__setattr__(self, "transform", DataFix.from_dict(self.transform))

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return plain(
                {
                    "code": self.code,
                    "split": self.split,
                    "transform": self.transform.to_dict(),
                    "error": self.error,
                    "confirmed": self.confirmed,
                }
            )
        return plain(
            {
                "code": self.code,
                "split": self.split,
                "images": self.images,
                "transform": self.transform.to_dict(),
                "before": self.before,
                "after": self.after,
                "accuracy_gain": self.accuracy_gain,
                "confirmed": self.confirmed,
                "summary": self.summary,
            }
        )


def apply_transform(x: Any, transform: DataFix | Mapping[str, Any]) -> np.ndarray:
    """Apply `scale`, `offset` (scalars or per-channel lists) and `channel_order`."""
    fix = transform if isinstance(transform, DataFix) else DataFix.from_dict(transform)
    x = np.asarray(x)
    out = x.astype(np.float32, copy=True)
    if fix.channel_order is not None:
        out = out[..., list(fix.channel_order)]
    scale = np.asarray(1.0 if fix.scale is None else fix.scale, dtype=np.float32)
    offset = np.asarray(0.0 if fix.offset is None else fix.offset, dtype=np.float32)
    out *= scale
    out += offset
    return out


def run_counterfactuals(inputs: Inputs, findings: list[Finding]) -> list[Counterfactual]:
    """Evaluate each distinct transform proposed by the findings; return the measurements."""
    results: list[Counterfactual] = []
    seen: set[str] = set()
    evaluate = inputs.evaluate
    if evaluate is None:
        return results
    for f in findings:
        tr = f.fix.transform if f.fix else None
        if not tr:
            continue
        split = inputs.splits.get(tr.split)
        if split is None or split.x is None or split.y is None:
            continue
        key = repr(sorted((k, repr(v)) for k, v in tr.to_dict().items()))
        if key in seen:
            continue
        seen.add(key)
        n = min(len(split.x), MAX_EVAL_IMAGES)
        x, y = (split.x.head(n) if is_lazy(split.x) else split.x[:n]), split.y[:n]
        try:
            before = evaluate(x, y)
            # the fixed images are computed a chunk at a time as the model reads them, never all at once
            after = evaluate(MappedImages(x, partial(apply_transform, transform=tr), elementwise=False), y)
        except Exception as exc:  # reported, never fatal
            results.append(Counterfactual(f.code, split.name, tr, error=str(exc)))
            continue
        gain = after["accuracy"] - before["accuracy"]
        expr = tr.expression if tr.expression is not None else "the fix"
        summary = (
            f"Measured: the same model scores accuracy {after['accuracy']:.3f} (loss {after['loss']:.3g}) "
            f"on {split.name} images with {expr} applied, against {before['accuracy']:.3f} "
            f"(loss {before['loss']:.3g}) as given ({n} images)."
        )
        results.append(
            Counterfactual(
                f.code,
                split.name,
                tr,
                images=n,
                before={k: rounded(v, 4) for k, v in before.items()},
                after={k: rounded(v, 4) for k, v in after.items()},
                accuracy_gain=rounded(gain, 4),
                confirmed=confirms(before, after),
                summary=summary,
            )
        )
    return results


def confirms(before: Mapping[str, float], after: Mapping[str, float]) -> bool:
    """Whether a fix measurably restores the model: `CONFIRMING_ACCURACY_GAIN` more accuracy, or
    `CONFIRMING_LOSS_FACTOR` of the loss at no cost in accuracy."""
    gain = after["accuracy"] - before["accuracy"]
    return bool(
        gain >= CONFIRMING_ACCURACY_GAIN
        or (after["loss"] < before["loss"] * CONFIRMING_LOSS_FACTOR and gain > -CONFIRMING_ACCURACY_GAIN)
    )
