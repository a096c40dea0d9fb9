"""What a live diagnosis prints on stderr while training runs (`watch`, `DoctorCallback`, `compare`).

One layout for every front end: a line per new finding, greppable in a CI log
(`cifar-doctor ✖ PRE001 train-test-scale-mismatch [val] (after epoch 1): ...`),
its fix, then the likely cause and what happens to the run. Lines are not
wrapped to the terminal's width (the terminal wraps them; a log keeps them whole).
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from rich.text import Text

from .common import SEVERITY_ICON, SEVERITY_STYLE


def where(epoch: int | None) -> str:
    """When a finding appeared: before the first batch, or after an epoch."""
    return "before the first batch" if epoch is None else f"after epoch {epoch}"


def alert(findings: Sequence[Any], verdict: Any, *, epoch: int | None, action: str | None = None) -> Text:
    """The alert for new findings of one update.

    Args:
        findings: The new `Finding`s, most severe first.
        verdict: The update's `Verdict`.
        epoch: Epochs seen (`None` before training).
        action: What happens to the run, e.g. "Training goes on.". Defaults to `None`.
    """
    t = Text()
    for f in findings:
        sev = f.severity.value
        t.append(f"cifar-doctor {SEVERITY_ICON[sev]} {f.code} {f.name}", style=SEVERITY_STYLE[sev])
        if f.split:
            t.append(f" [{f.split}]", style="dim")
        t.append(f" ({where(epoch)}): ", style="bold")
        t.append(f.message)
        if f.fix is not None:
            t.append("\n  Fix: ", style="bold green")
            t.append(f.fix.title)
        t.append("\n")
    t.append(f"cifar-doctor: likely cause {verdict.cause} (confidence {verdict.confidence:.2f}).", style="bold")
    if action:
        t.append("\n  " + action)
    return t


def print_alert(findings: Sequence[Any], verdict: Any, *, epoch: int | None, action: str | None = None,
                console: Any = None) -> None:
    """Print `alert(...)` on stderr (or `console`), after whatever stdout holds so far."""
    _print(alert(findings, verdict, epoch=epoch, action=action), console)


def print_notice(text: str, *, console: Any = None, style: str = "yellow") -> None:
    """One `cifar-doctor: ...` line on stderr (or `console`)."""
    _print(Text(f"cifar-doctor: {text}", style=style), console)


def _print(renderable: Any, console: Any) -> None:
    from .text import make_console

    sys.stdout.flush()  # the training output that came before stays before
    console = console or make_console(stderr=True)
    console.print(renderable, soft_wrap=True)  # one line per finding, whatever the width: greppable
    console.file.flush()
