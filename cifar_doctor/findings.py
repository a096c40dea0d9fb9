"""Findings: what a check observed, how bad it is, and how to fix it.

All types here are frozen dataclasses holding plain JSON values, so a finding
can be rendered, serialised and compared without importing anything heavy.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Items of one list kept in a finding's evidence (duplicate pairs, file names, class
#: names, image indices). The JSON report carries every item up to this bound, so a
#: script can act on all of them; the text, Markdown and HTML reports show the first
#: few ("... and N more"). The bound keeps the report's memory and size small when
#: every image of a large split is flagged (100,000 pairs are about 3 MB of JSON); a
#: list that was cut says so in its evidence (`listed_up_to`).
EVIDENCE_MAX_ITEMS = 100_000


def listed(items: Any, evidence: dict[str, Any] | None = None) -> list[Any]:
    """The first `EVIDENCE_MAX_ITEMS` of `items` as a list; sets `evidence["listed_up_to"]` when it cuts."""
    out = list(items[:EVIDENCE_MAX_ITEMS])
    if evidence is not None and len(items) > EVIDENCE_MAX_ITEMS:
        evidence["listed_up_to"] = EVIDENCE_MAX_ITEMS
    return out


class Severity(str, enum.Enum):
    """How much a finding matters. Ordered: `error` > `warning` > `info`."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"Invalid severity. Expected one of error, warning, info. Received: {value!r}") from None


def rounded(value: float, places: int = 4, *, significant: int | None = None) -> float:
    """`value` as a plain float, rounded to `places` decimals, or to `significant` digits when given.

    The one rounding rule of reports: measurements of a history or a model round
    to 4 decimals, JSON evidence to 6, image statistics to 6 significant digits
    (non-finite values pass through).
    """
    value = float(value)
    if significant is not None:
        return float(f"{value:.{significant}g}") if math.isfinite(value) else value
    return round(value, places)


@dataclass(frozen=True)
class DataFix:
    """A data fix the counterfactual step can apply: `x[..., channel_order] * scale + offset` on `split`.

    Attributes:
        split: The eval split to fix (`"test"`, `"val"`).
        scale: A scalar or one value per channel. Defaults to `None` (1.0).
        offset: A scalar or one value per channel. Defaults to `None` (0.0).
        channel_order: A permutation of the channels (`[2, 1, 0]`: BGR <-> RGB). Defaults to `None`.
        expression: The fix as code the user can read (`"x_test / 255"`). Defaults to `None`.
    """

    split: str = "test"
    scale: Any = None
    offset: Any = None
    channel_order: tuple[int, ...] | None = None
    expression: str | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DataFix:
        order = values.get("channel_order")
        return cls(
            split=values.get("split", "test"),
            scale=values.get("scale"),
            offset=values.get("offset"),
            channel_order=tuple(order) if order is not None else None,
            expression=values.get("expression"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (keys present only when set; `channel_order` as a list)."""
        out: dict[str, Any] = {"split": self.split}
        if self.channel_order is not None:
            out["channel_order"] = list(self.channel_order)
        if self.scale is not None:
            out["scale"] = self.scale
        if self.offset is not None:
            out["offset"] = self.offset
        if self.expression is not None:
            out["expression"] = self.expression
        return out


@dataclass(frozen=True)
class Fix:
    """An imperative summary of the fix, optionally with a code snippet.

    `transform` is a data fix that can be tested (`DataFix`; a mapping with its
    field names is converted): the counterfactual evaluation applies it to
    measure what the fix buys.
    """

    title: str
    snippet: str | None = None
    transform: DataFix | None = None

    def __post_init__(self) -> None:
        if self.transform is not None and not isinstance(self.transform, DataFix):
            object.__setattr__(self, "transform", DataFix.from_dict(self.transform))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title}
        if self.snippet is not None:
            out["snippet"] = self.snippet
        if self.transform is not None:
            out["transform"] = self.transform.to_dict()
        return out


@dataclass(frozen=True)
class Finding:
    """One problem (or notable fact) found by a check.

    Args:
        code: The check's code, e.g. `PRE001`.
        name: The check's kebab-case name, e.g. `train-test-scale-mismatch`.
        severity: `Severity.ERROR`, `WARNING` or `INFO`.
        message: What is wrong, with the observed numbers.
        evidence: The plain JSON values the judgement was made on.
        fix: How to fix it.
        cause: The verdict cause this finding supports (one of
            `cifar_doctor.diagnosis.CAUSES`), or `None` for advice that
            explains no accuracy gap by itself.
        explanation: Why the observation leads to the judgement.
        split: The split the finding is about, if any.
    """

    code: str
    name: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: Fix | None = None
    cause: str | None = None
    explanation: str | None = None
    split: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "cause": self.cause,
            "split": self.split,
            "explanation": self.explanation,
            "evidence": _plain(self.evidence),
            "fix": self.fix.to_dict() if self.fix else None,
            "docs": f"cifar-doctor explain {self.code}",
        }


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain JSON values, recursively."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if isinstance(value, DataFix):
        return _plain(value.to_dict())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if np is not None:
        if isinstance(value, np.ndarray):
            return _plain(value.tolist())
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            value = float(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return rounded(value, 6)
    return value


plain = _plain
