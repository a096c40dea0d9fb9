"""The check catalog: `cifar-doctor checks` (a table) and `cifar-doctor explain CODE` (a check's documentation)."""

from __future__ import annotations

from typing import Any

from rich.markdown import Markdown
from rich.table import Table

from .text import make_console


def print_checks(specs: list[Any], families: dict[str, str], console: Any = None) -> None:
    """Every check: code, name, what it needs, the cause it supports, what it does."""
    console = console or make_console()
    table = Table(title="cifar-doctor checks")
    for col in ("code", "name", "needs", "cause", "what it does"):
        table.add_column(col, overflow="fold")
    for s in specs:
        table.add_row(s.code, s.name, ", ".join(s.requires) or "-", s.cause or "-", s.summary)
    console.print(table)
    console.print("Families: " + "; ".join(f"{k} {v}" for k, v in families.items()), style="dim")


def print_explanation(spec: Any, family: str, console: Any = None) -> None:
    """A check's documentation (its docstring), under its code, family, needs and cause."""
    console = console or make_console()
    console.print(Markdown(f"# {spec.code} {spec.name}\n\n"
                           f"Family: {spec.family} ({family}). "
                           f"Needs: {', '.join(spec.requires) or 'nothing'}. Supports cause: `{spec.cause or '-'}`.\n\n"
                           + spec.doc))
