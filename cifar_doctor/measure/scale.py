"""How an eval split's scale and offset compare with the training split's.

Measurement only: `compare_scale` returns the std ratio, the mean shift and the
affine map eval -> train (snapped to the schemes' constants when they agree);
PRE001 judges it with its thresholds, and PRE002/PRE003 are superseded by
PRE001 on the same split through the registry, not by recomputing this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..findings import DataFix, rounded
from .stats import ImageStats, scheme_ratio, std_ratio

#: A fitted eval->train scale snaps to the transform implied by the two
#: schemes (e.g. 1/255) when they agree within this factor; known transforms
#: are at least 2x apart, different photo sets differ by up to ~1.3x.
SNAP_TOLERANCE = 1.3


@dataclass(frozen=True)
class ScaleComparison:
    """Eval vs train scale: what PRE001 judges.

    Attributes:
        ratio: Eval's pooled pixel std over train's.
        shift: Eval's pooled mean minus train's, in train stds.
        families_differ: Both schemes are known and of different families.
        eval_images: Images in the eval split's statistics.
        snapped: The map eval -> train is the schemes' own (`x / 255`, ...), not fitted.
        scale_ratio: How many times larger eval's values are (the snapped ratio when snapped).
        transform: The map eval -> train, as a data fix on the eval split.
    """

    ratio: float
    shift: float
    families_differ: bool
    eval_images: int
    snapped: bool
    scale_ratio: float
    transform: DataFix
    train: ImageStats
    eval: ImageStats

    def evidence(self) -> dict[str, Any]:
        """The plain numbers, as a finding's evidence."""
        tr, ev = self.train, self.eval
        return {
            "train_scheme": tr.scheme,
            "eval_scheme": ev.scheme,
            "train_scheme_detail": tr.scheme_detail,
            "eval_scheme_detail": ev.scheme_detail,
            "train_mean": [rounded(v, significant=6) for v in tr.mean],
            "train_std": [rounded(v, significant=6) for v in tr.std],
            "eval_mean": [rounded(v, significant=6) for v in ev.mean],
            "eval_std": [rounded(v, significant=6) for v in ev.std],
            "scale_ratio": rounded(self.scale_ratio, significant=6),
            "measured_scale_ratio": rounded(self.ratio, significant=6),
            "mean_shift_in_train_std": rounded(self.shift, significant=6),
            "eval_images": self.eval_images,
            "snapped": self.snapped,
            "transform": self.transform.to_dict(),
        }


def compare_scale(tr: ImageStats, ev: ImageStats, name: str) -> ScaleComparison | None:
    """Eval split `name` against train; None when train's spread is zero or either spread is not finite."""
    ratio = std_ratio(tr, ev)
    if ratio is None or not tr.pooled_std > 0:
        return None
    shift = (ev.pooled_mean - tr.pooled_mean) / tr.pooled_std
    families_differ = tr.family is not None and ev.family is not None and tr.family != ev.family

    # The affine map eval -> train: snapped to the schemes' constants when they agree.
    scale: Any
    offset: Any
    snapped = False
    nominal = scheme_ratio(tr, ev)
    if nominal is not None and ratio > 0 and abs(math.log(ratio / nominal)) <= math.log(SNAP_TOLERANCE):
        (k_t, c_t), (k_e, c_e) = tr.canonical_affine(), ev.canonical_affine()  # type: ignore[misc]
        scale, offset, snapped = per_channel(k_e / k_t), per_channel((c_e - c_t) / k_t), True
        expression = affine_expression(name, scale, offset)
    else:
        if tr.channels == ev.channels:
            s_fit = np.asarray(tr.std) / np.where(np.asarray(ev.std) > 0, ev.std, np.nan)
            o_fit = np.asarray(tr.mean) - s_fit * np.asarray(ev.mean)
        else:
            s_fit = np.array([tr.pooled_std / ev.pooled_std]) if ev.pooled_std > 0 else np.array([np.nan])
            o_fit = np.array([tr.pooled_mean]) - s_fit * ev.pooled_mean
        if not np.all(np.isfinite(s_fit)):
            s_fit, o_fit = np.array([1.0]), np.array([0.0])
        scale, offset = per_channel(s_fit), per_channel(o_fit)
        expression = affine_expression(name, np.atleast_1d(scale).tolist(), np.atleast_1d(offset).tolist())
    shown_ratio = (1.0 / float(np.mean(np.atleast_1d(scale)))) if snapped else ratio
    return ScaleComparison(
        ratio=ratio,
        shift=shift,
        families_differ=families_differ,
        eval_images=ev.n,
        snapped=snapped,
        scale_ratio=shown_ratio,
        transform=DataFix(split=name, scale=scale, offset=offset, expression=expression),
        train=tr,
        eval=ev,
    )


def per_channel(values: Any) -> Any:
    """A per-channel vector as one scalar when all channels agree, else a list."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if np.allclose(arr, arr[0], rtol=1e-6, atol=1e-12):
        return float(arr[0])
    return [float(v) for v in arr]


def short_literal(v: float) -> str:
    """A number as a short literal: 255, 127.5, 0.5, 1.234e-05."""
    if abs(v - round(v)) < 1e-9 * max(1.0, abs(v)):
        return str(int(round(v)))
    return f"{v:.6g}"


def affine_expression(name: str, scale: Any, offset: Any) -> str:
    """Readable code for `x * scale + offset`; lists (per channel) read as `(x - mean) / std`."""
    x = f"x_{name}"
    if isinstance(scale, list) or isinstance(offset, list):
        s = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        o = np.atleast_1d(np.asarray(offset, dtype=np.float64))
        s, o = np.broadcast_arrays(s, o)
        mean, std = -o / s, 1.0 / s
        if len(s) == 1:
            return f"({x} - {mean[0]:.4g}) / {std[0]:.4g}"
        m = ", ".join(f"{v:.4g}" for v in mean)
        d = ", ".join(f"{v:.4g}" for v in std)
        return f"({x} - np.array([{m}])) / np.array([{d}])"
    if scale == 1:
        body = x
    elif abs(scale) < 1:
        body = f"{x} / {short_literal(1 / scale)}"
    else:
        body = f"{x} * {short_literal(scale)}"
    if offset == 0:
        return body
    return f"{body} {'-' if offset < 0 else '+'} {short_literal(abs(offset))}"
