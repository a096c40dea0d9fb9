"""JSON renderer: the versioned envelope of `Report.to_dict()` or `ComparisonReport.to_dict()`."""

from __future__ import annotations

from typing import Any


def to_json(report: Any, indent: int | None = 2) -> str:
    return report.to_json(indent=indent)
