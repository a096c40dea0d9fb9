"""Helpers shared by the text and Markdown renderers."""

from __future__ import annotations

from typing import Any

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_ICON = {"error": "✖", "warning": "▲", "info": "•"}


def fmt_value(v: Any) -> str:
    """Short human form of an evidence value."""
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000 or abs(v) < 0.001:
            return f"{v:.4g}"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        if len(v) > 8:
            return "[" + ", ".join(fmt_value(x) for x in v[:8]) + f", … ({len(v)} items)]"
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {fmt_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def evidence_lines(evidence: dict[str, Any], limit: int = 10) -> list[tuple[str, str]]:
    items = list(evidence.items())[:limit]
    return [(str(k), fmt_value(v)) for k, v in items]


def spark(values: list[float], width: int = 24) -> str:
    """A unicode sparkline of `values` (NaN shown as a space)."""
    bars = "▁▂▃▄▅▆▇█"
    vals = [v for v in values if isinstance(v, (int, float)) and v == v]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    out = []
    for v in values[-width:]:
        if not isinstance(v, (int, float)) or v != v:
            out.append(" ")
        else:
            out.append(bars[min(int((v - lo) / span * (len(bars) - 1) + 0.5), len(bars) - 1)])
    return "".join(out)
