"""Renderers: one per output format. `render(report, fmt)` writes the report to stdout."""

from __future__ import annotations

import enum
import sys
from typing import Any


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


def render(
    report: Any, fmt: Format | str = "text", *, console: Any = None, file: Any = None, details: bool = True
) -> None:
    """Write `report` in `fmt` to `file` (default stdout), or to a Rich `console` for text.

    `details=False` draws a comparison's text in its compact form (JSON, Markdown and
    HTML always hold everything).
    """
    fmt = Format(getattr(fmt, "value", fmt))
    out = file or sys.stdout
    if fmt is Format.json:
        from .json import to_json

        out.write(to_json(report) + "\n")
    elif fmt is Format.html:
        from .html import to_html

        out.write(to_html(report))
    elif fmt is Format.markdown:
        from .markdown import to_markdown

        out.write(to_markdown(report))
    else:
        from .text import print_report

        print_report(report, console=console, file=file, details=details)
