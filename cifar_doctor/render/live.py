"""What a live diagnosis prints on stderr while training runs (`watch`, `DoctorCallback`, `compare`).

One layout for every front end: a line per new finding, greppable in a CI log
(`cifar-doctor ✖ PRE001 train-test-scale-mismatch [val] (after epoch 1): ...`),
its fix, then the likely cause and what happens to the run. Lines are not
wrapped to the terminal's width (the terminal wraps them; a log keeps them whole).

In a Jupyter notebook (a running IPython kernel), the same content is shown as an
HTML block in the cell's output instead of terminal-styled text on stderr.

Messages and names come from the inputs: in the terminal every string is drawn
as a `Text` with its control characters shown as escapes (`sanitize.terminal`),
never parsed as markup; in HTML every string goes through `sanitize.html`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich.text import Text

from ..sanitize import html as escape
from ..sanitize import one_line, terminal
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
        t.append(terminal(f"cifar-doctor {SEVERITY_ICON[sev]} {f.code} {f.name}"), style=SEVERITY_STYLE[sev])
        if f.split:
            t.append(terminal(f" [{f.split}]"), style="dim")
        t.append(f" ({where(epoch)}): ", style="bold")
        t.append(one_line(f.message))
        if f.fix is not None:
            t.append("\n  Fix: ", style="bold green")
            t.append(one_line(f.fix.title))
        t.append("\n")
    t.append(
        terminal(f"cifar-doctor: likely cause {verdict.cause} (confidence {verdict.confidence:.2f})."), style="bold"
    )
    if action:
        t.append("\n  " + terminal(action))
    return t


def print_alert(
    findings: Sequence[Any], verdict: Any, *, epoch: int | None, action: str | None = None, console: Any = None
) -> None:
    """Print `alert(...)` on stderr (or `console`), after whatever stdout holds so far.

    In a notebook (and no `console` given), display `alert_html(...)` in the cell instead.
    """
    if console is None and in_notebook():
        _display_html(
            alert_html(findings, verdict, epoch=epoch, action=action),
            alert(findings, verdict, epoch=epoch, action=action).plain,
        )
        return
    _print(alert(findings, verdict, epoch=epoch, action=action), console)


def print_notice(text: str, *, console: Any = None, style: str = "yellow") -> None:
    """One `cifar-doctor: ...` line on stderr (or `console`); in a notebook, an HTML line in the cell."""
    if console is None and in_notebook():
        _display_html(
            f'<div style="{_BOX}border-left-color:#6a737d"><b>cifar-doctor:</b> {escape(text)}</div>',
            f"cifar-doctor: {text}",
        )
        return
    _print(Text(f"cifar-doctor: {terminal(text)}", style=style), console)


#: Colours of the HTML alert by severity (those of the HTML report).
SEVERITY_COLOR = {"error": "#c62828", "warning": "#b26a00", "info": "#1565c0"}
_BOX = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.45;color:#1f2328;background:#fff;"
    "border-left:4px solid;padding:4px 10px;margin:4px 0;"
)


def alert_html(findings: Sequence[Any], verdict: Any, *, epoch: int | None, action: str | None = None) -> str:
    """The content of `alert(...)` as one HTML block (for a notebook cell); every string escaped."""
    top = findings[0].severity.value if findings else "info"
    rows = []
    for f in findings:
        sev = f.severity.value
        split = f" [{escape(f.split)}]" if f.split else ""
        row = (
            f'<div><span style="color:{SEVERITY_COLOR.get(sev, "#1565c0")};font-weight:600">'
            f"{SEVERITY_ICON.get(sev, '')} {escape(f.code)} {escape(f.name)}</span>{split} "
            f"<i>({escape(where(epoch))})</i>: {escape(f.message)}"
        )
        if f.fix is not None:
            row += f'<br><span style="color:#1a7f37;font-weight:600">Fix:</span> {escape(f.fix.title)}'
        rows.append(row + "</div>")
    rows.append(
        f"<div><b>cifar-doctor: likely cause <code>{escape(verdict.cause)}</code> "
        f"(confidence {verdict.confidence:.2f}).</b>" + (f" {escape(action)}" if action else "") + "</div>"
    )
    return f'<div style="{_BOX}border-left-color:{SEVERITY_COLOR.get(top, "#1565c0")}">{"".join(rows)}</div>'


def in_notebook() -> bool:
    """True inside a running IPython kernel (Jupyter). Never imports IPython: a kernel has already."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an odd IPython: draw as in a terminal
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _display_html(html: str, plain: str) -> None:
    """Show `html` in the cell (with `plain` for front ends that show text only)."""
    from IPython.display import display

    sys.stdout.flush()
    display({"text/html": html, "text/plain": plain}, raw=True)


def _print(renderable: Any, console: Any) -> None:
    from .text import make_console

    sys.stdout.flush()  # the training output that came before stays before
    console = console or make_console(stderr=True)
    console.print(renderable, soft_wrap=True)  # one line per finding, whatever the width: greppable
    console.file.flush()
