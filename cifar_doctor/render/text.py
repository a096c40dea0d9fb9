"""Rich text renderer: verdict first, then findings by severity with evidence and fix.

A comparison draws, by default, a compact view: each run's verdict with its
confidence and final scores, one line per finding (code, severity, the message's
first sentence) with its fix title, and what tells the runs apart. With
`details=True` it draws each run's full report (evidence, explanations, fix
code), the epochs side by side and a table of the runs.

Every string of the report may hold names from the inputs (class folders,
metric names, file names, run names): each is drawn as a `rich.text.Text` made
by `t()` (control characters shown as escapes), never as a markup string, and
the console parses no markup or emoji codes in what it is given.

Code (fix snippets) is never wrapped or cut: it is printed as it is, indented,
and a terminal narrower than a line soft-wraps it; copied from a terminal or read
from a pipe, every line is whole.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from .. import sanitize
from .common import (
    EPOCH_COLUMNS,
    SEVERITY_ICON,
    SEVERITY_STYLE,
    checks_line,
    counts_line,
    dispatch,
    epoch_rows,
    evidence_lines,
    finding_codes,
    fmt_metric,
    history_read_line,
    sample_line,
    spark,
    training_line,
)

VERDICT_STYLE = {"healthy": "green", "insufficient-evidence": "yellow"}

#: Columns a fix snippet is indented by under its finding.
SNIPPET_INDENT = 4


def make_console(file: Any = None, stderr: bool = False) -> Console:
    """A Console honouring NO_COLOR, writing to `file`, stdout or stderr.

    It parses neither markup nor emoji codes in plain strings: text from an input
    (`[link=...]`, `[/]`, `:smile:`) is shown as written.
    """
    return Console(
        file=file or (sys.stderr if stderr else sys.stdout), highlight=False, soft_wrap=False, markup=False, emoji=False
    )


def t(text: object, style: str = "") -> Text:
    """`text` as one line of Rich `Text`, newlines and control characters shown as escapes: never parsed as markup.

    A name holding a newline cannot forge a line of the report; text of several lines is
    drawn line by line (`lines()`).
    """
    return Text(sanitize.one_line(text), style=style)


def lines(text: str, style: str = "") -> Text:
    """Text of several lines of the report's own (`"\n"`-joined), each line through `t()`."""
    return Text("\n", style=style).join(t(line, style) for line in text.split("\n"))


def verdict_panel(verdict: dict[str, Any], title: str = "Verdict") -> Panel:
    cause = verdict["cause"]
    style = VERDICT_STYLE.get(cause, "red")
    body = Text()
    body.append_text(t(cause, style=f"bold {style}"))
    body.append(f"  (confidence {verdict['confidence']:.2f})\n\n", style="dim")
    body.append_text(t(verdict["explanation"]))
    if verdict.get("also"):
        body.append("\n\nAlso: ", style="bold")
        body.append_text(t(", ".join(f"{a['cause']} ({a['confidence']:.2f})" for a in verdict["also"])))
    return Panel(body, title=t(title), border_style=style, expand=True)


def code_text(code: str, indent: int = SNIPPET_INDENT) -> Text:
    """`code` highlighted as Python, each line indented, no trailing padding.

    Print it with `soft_wrap=True` (as `print_code` does): Rich then neither
    wraps nor crops it, so every line stays whole at any width.
    """
    code = sanitize.terminal(code)
    highlighted = Syntax(code, "python", theme="ansi_dark", background_color="default").highlight(code)
    highlighted.rstrip()
    out = Text()
    for i, line in enumerate(highlighted.split("\n", allow_blank=True)):
        if i:
            out.append("\n")
        if line.plain.strip():
            out.append(" " * indent)
            out.append_text(line)
    return out


def print_code(code: str, console: Console, indent: int = SNIPPET_INDENT) -> None:
    """Print `code` whole: never wrapped or cut to the console's width (the terminal soft-wraps it)."""
    console.print(code_text(code, indent), soft_wrap=True)


def finding_head(f: dict[str, Any]) -> Text:
    """`✖ PRE001 train-test-scale-mismatch [test]`."""
    sev = f["severity"]
    head = Text()
    head.append_text(t(f"{SEVERITY_ICON[sev]} {f['code']} ", style=SEVERITY_STYLE[sev]))
    head.append_text(t(f["name"], style="bold"))
    if f.get("split"):
        head.append_text(t(f" [{f['split']}]", style="dim"))
    return head


def print_finding(f: dict[str, Any], console: Console) -> None:
    """One finding in full: message, explanation, evidence, fix title and its code."""
    parts: list[Any] = [finding_head(f), t("  " + f["message"])]
    if f.get("explanation"):
        parts.append(t("  " + f["explanation"], style="dim"))
    ev = evidence_lines(f["evidence"])
    if ev:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        for k, val in ev:
            grid.add_row(t("    " + k), t(val))
        parts.append(grid)
    fix = f.get("fix")
    if fix:
        parts.append(Text.assemble(("  Fix: ", "bold green"), t(fix["title"])))
    console.print(Group(*parts))
    if fix and fix.get("snippet"):
        print_code(fix["snippet"], console)
    console.print(Text(""))


def first_sentence(text: str) -> str:
    """The first sentence of a message (up to ". " followed by a capital or a backtick), or all of it."""
    for i in range(len(text) - 2):
        if text[i] == "." and text[i + 1] == " " and (text[i + 2].isupper() or text[i + 2] == "`"):
            return text[: i + 1]
    return text


def finding_line(f: dict[str, Any]) -> Text:
    """A finding in one line: icon, code, severity, split and the message's first sentence.

    Print it with `no_wrap=True, overflow="ellipsis"`: cut to the width (the full message: `details=True`).
    """
    sev = f["severity"]
    line = t(f"  {SEVERITY_ICON[sev]} {f['code']} {sev}", style=SEVERITY_STYLE[sev])
    if f.get("split"):
        line.append_text(t(f" [{f['split']}]", style="dim"))
    line.append_text(t(" " + first_sentence(sanitize.one_line(f["message"]))))
    return line


def fix_line(f: dict[str, Any]) -> Text | None:
    """`      Fix: <title>` (print it as `finding_line`), or None without a fix."""
    if not f.get("fix"):
        return None
    return Text.assemble(("      Fix: ", "green"), t(sanitize.one_line(f["fix"]["title"])))


def runs_table(runs: list[dict[str, Any]]) -> Table:
    table = Table(title="Runs", expand=False)
    for col in ("run", "verdict", "train acc", "val acc", "val loss", "curves (acc / val acc)", "findings"):
        table.add_column(col, overflow="fold")
    for r in runs:
        h = r.get("history", {})
        acc, vacc, vloss = h.get("accuracy", []), h.get("val_accuracy", []), h.get("val_loss", [])
        table.add_row(
            t(r["name"]),
            t(r["report"]["verdict"]["cause"]),
            Text(f"{acc[-1]:.3f}" if acc else "-"),
            Text(f"{vacc[-1]:.3f}" if vacc else "-"),
            Text(f"{vloss[-1]:.3g}" if vloss else "-"),
            Text(f"{spark(acc, 12)} / {spark(vacc, 12)}"),
            t(" ".join(finding_codes(r["report"])) or "-"),
        )
    return table


def epochs_table(names: list[str], histories: list[dict[str, list[float]]], planned: list[int] | None = None) -> Table:
    """Side by side per-epoch results: one column group (acc, val acc, val loss) per run.

    `planned` epochs not reached yet show as "·" (the live view of `compare`).
    """
    table = Table(title="Per-epoch results", title_justify="left", expand=False)
    table.add_column("epoch", justify="right")
    for name in names:
        for label, _ in EPOCH_COLUMNS:
            table.add_column(Text("\n").join([t(name), Text(label)]), justify="right")
    for row in epoch_rows(histories, planned):
        table.add_row(Text(str(row[0])), *(t(fmt_metric(v)) for v in row[1:]))
    return table


def run_panel(r: dict[str, Any]) -> Panel:
    """A run's verdict, its measured counterfactual and how the run ended."""
    v = r["report"]["verdict"]
    style = VERDICT_STYLE.get(v["cause"], "red")
    body = Text()
    body.append_text(t(v["cause"], style=f"bold {style}"))
    body.append(f"  (confidence {v['confidence']:.2f})\n", style="dim")
    body.append_text(t(v["explanation"]))
    settings = r.get("settings", {})
    body.append("\n\n")
    body.append_text(
        t(
            f"{r.get('epochs_run', '?')} epochs, batch {settings.get('batch_size', '?')}, "
            f"{settings.get('train_images', '?')} training / {settings.get('test_images', '?')} test images, "
            f"{r.get('seconds', 0):.0f} s",
            style="dim",
        )
    )
    line = training_line(r.get("training"))
    if line:
        body.append("\n")
        body.append_text(t("Training: " + line, style="dim"))
        if (r.get("training") or {}).get("reason"):
            body.append("\n")
            body.append_text(t(r["training"]["reason"] + ".", style="dim"))
    stopped = r.get("stopped_early")
    if stopped:
        body.append("\n")
        body.append_text(
            t(
                f"Stopped after epoch {stopped['after_epoch']}/{stopped['planned_epochs']}: "
                f"{stopped['reason']}; saved {stopped['epochs_saved']} epochs "
                f"(about {stopped['seconds_saved_estimate']:.0f} s).",
                style="dim",
            )
        )
    return Panel(body, title=t(f"Run: {sanitize.one_line(r['name'])}"), border_style=style, expand=True)


def final_scores(r: dict[str, Any]) -> str:
    """`2 epochs: train acc 0.640, val acc 0.530, val loss 7.43` for a run of a comparison."""
    h = r.get("history") or {}
    scores = [
        f"{label} {fmt_metric(h[key][-1])}"
        for label, key in (("train acc", "accuracy"), ("val acc", "val_accuracy"), ("val loss", "val_loss"))
        if h.get(key)
    ]
    epochs = f"{r.get('epochs_run', '?')} epochs"
    return epochs + (": " + ", ".join(scores) if scores else "")


def print_run_summary(r: dict[str, Any], console: Console) -> None:
    """A run in a few lines: verdict and confidence, final scores, one line per finding and its fix title."""
    rep = r["report"]
    v = rep["verdict"]
    style = VERDICT_STYLE.get(v["cause"], "red")
    head = Text()
    head.append_text(t(f"Run {sanitize.one_line(r['name'])}: ", style="bold"))
    head.append_text(t(v["cause"], style=f"bold {style}"))
    head.append(f" (confidence {v['confidence']:.2f})")
    console.print(head)
    console.print(t("  " + final_scores(r), style="dim"))
    stopped = r.get("stopped_early")
    if stopped:
        console.print(
            t(
                f"  Stopped after epoch {stopped['after_epoch']}/{stopped['planned_epochs']}: {stopped['reason']}.",
                style="dim",
            )
        )
    for f in rep["findings"]:
        console.print(finding_line(f), no_wrap=True, overflow="ellipsis")
        fix = fix_line(f)
        if fix is not None:
            console.print(fix, no_wrap=True, overflow="ellipsis")
    if not rep["findings"]:
        console.print(Text("  No findings.", style="green"))
    print_counts(rep, console, indent="  ")
    console.print(Text(""))


def print_comparison(d: dict[str, Any], console: Console, details: bool = True) -> None:
    """A comparison: each run's verdict and findings, then what tells them apart.

    With `details`, each run's full report, the epochs side by side and a table of the runs.
    """
    runs = d["runs"]
    if details:
        for r in runs:
            console.print(run_panel(r))
            print_findings(r["report"], console)
        console.print(epochs_table([r["name"] for r in runs], [r.get("history", {}) for r in runs]))
        console.print(runs_table(runs))
    else:
        for r in runs:
            print_run_summary(r, console)
    comp = d["comparison"]
    if comp["lines"]:
        body = lines("\n".join([*comp["lines"], *(["", comp["note"]] if comp.get("note") else [])]))
        console.print(Panel(body, title="Comparison", border_style="blue"))


def print_counts(d: dict[str, Any], console: Console, indent: str = "") -> None:
    """A report's counts (findings by severity, checks by status), then any crashed check."""
    s = d["summary"]
    console.print(Text(f"{indent}{counts_line(s)} · {checks_line(s)}", style="dim"))
    for c in d["checks"]:
        if c["status"] == "crashed":
            console.print(t(f"{indent}  crashed: {c['code']} {c['name']}: {c['reason']}", style="red"))


def print_findings(d: dict[str, Any], console: Console) -> None:
    """A report's findings in full, then its counts and any crashed check."""
    if d["findings"]:
        console.print(Text("Findings", style="bold underline"))
        for f in d["findings"]:
            print_finding(f, console)
    else:
        console.print(Text("No findings.", style="green"))
    print_counts(d, console)


def print_single(d: dict[str, Any], console: Console, details: bool = True) -> None:
    """A report: verdict, what was read, measured fixes, findings (always in full: one report fits a screen)."""
    console.print(verdict_panel(d["verdict"]))
    read = history_read_line(d["inputs"])
    if read:
        console.print(t(read, style="dim"))
    sampled = sample_line(d["inputs"])
    if sampled:
        console.print(t(sampled, style="dim"))
    for cf in d.get("counterfactuals", []):
        if "summary" in cf:
            style = "green" if cf.get("confirmed") else "yellow"
            console.print(Panel(lines(cf["summary"]), title="Counterfactual (measured)", border_style=style))
    print_findings(d, console)


#: How each document `kind` is drawn.
DRAW = {"report": print_single, "comparison": print_comparison}


def print_report(report: Any, console: Console | None = None, file: Any = None, *, details: bool = True) -> None:
    """Draw a `Report` (verdict, measured fixes, findings) or a `ComparisonReport`.

    Args:
        report: A `Report` or a `ComparisonReport`.
        console: The Rich console to draw on. Defaults to `None` (one on `file`).
        file: Where to write without a `console`. Defaults to `None` (stdout).
        details: A comparison in full (each run's evidence, explanations and fix code, the
            per-epoch table); `False` for its compact form. A report is always drawn in full.
            Defaults to `True`.
    """
    console = console or make_console(file)
    d = report.to_dict()
    dispatch(d, DRAW)(d, console, details)
