"""JSON renderer: the versioned envelope of `Report.to_dict()`."""

from __future__ import annotations

import json
from typing import Any


def to_json(report: Any, indent: int | None = 2) -> str:
    return json.dumps(report.to_dict(), indent=indent, allow_nan=False)
