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


def print_cause(cause: str, meaning: str, rank: int | None, checks: list[Any], console: Any = None) -> None:
    """A verdict's cause: what it means, where it ranks among causes of one severity, the checks behind it."""
    console = console or make_console()
    order = f"Rank {rank} in precedence among causes of the same severity." if rank else "Never outranks a finding."
    console.print(t(cause, style="bold"))
    console.print(t(f"{meaning}. {order}"))
    if checks:
        table = Table(title="Checks that support it")
        for col in ("code", "name", "what it does"):
            table.add_column(col, overflow="fold")
        for s in checks:
            table.add_row(t(s.code), t(s.name), t(s.summary))
        console.print(table)
    else:
        console.print(t("No check names it directly: the verdict gives it when the findings leave it.", style="dim"))


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
