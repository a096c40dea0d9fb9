"""The report's JSON Schema, shipped with the package."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report, version `report.SCHEMA_VERSION`."""
    return json.loads(resources.files(__name__).joinpath("report.schema.json").read_text(encoding="utf-8"))
