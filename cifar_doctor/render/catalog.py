"""The check catalog: `cifar-doctor checks` (a table) and `cifar-doctor explain CODE` (a check's documentation)."""

from __future__ import annotations

import re
from typing import Any

from rich.markdown import Markdown
from rich.table import Table

from .text import make_console, print_code, t

#: A fenced code block of a check's documentation (its docstring).
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.S | re.M)


def print_checks(specs: list[Any], families: dict[str, str], console: Any = None) -> None:
    """Every check: code, name, what it needs, the cause it supports, what it does."""
    console = console or make_console()
    table = Table(title="cifar-doctor checks")
    for col in ("code", "name", "needs", "cause", "what it does"):
        table.add_column(col, overflow="fold")
    for s in specs:
        table.add_row(t(s.code), t(s.name), t(", ".join(s.requires) or "-"), t(s.cause or "-"), t(s.summary))
    console.print(table)
    console.print(t("Families: " + "; ".join(f"{k} {v}" for k, v in families.items()), style="dim"))


def print_explanation(spec: Any, family: str, console: Any = None) -> None:
    """A check's documentation (its docstring), under its code, family, needs and cause."""
    console = console or make_console()
    print_markdown(
        f"# {spec.code} {spec.name}\n\n"
        f"Family: {spec.family} ({family}). "
        f"Needs: {', '.join(spec.requires) or 'nothing'}. Supports cause: `{spec.cause or '-'}`.\n\n" + spec.doc,
        console,
    )


def print_markdown(text: str, console: Any) -> None:
    """Markdown with its prose wrapped to the width and its code blocks printed whole (never wrapped or cut)."""
    pos = 0
    for m in FENCE.finditer(text):
        if text[pos : m.start()].strip():
            console.print(Markdown(text[pos : m.start()]))
        console.print()
        print_code(m.group(1), console)
        console.print()
        pos = m.end()
    if text[pos:].strip():
        console.print(Markdown(text[pos:]))
