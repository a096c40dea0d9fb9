"""Rich text renderer: verdict first, then findings by severity with evidence and fix.

A comparison draws each run's verdict and findings, the epochs side by side,
a table of the runs and what tells them apart.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from .common import (
    EPOCH_COLUMNS,
    SEVERITY_ICON,
    SEVERITY_STYLE,
    checks_line,
    counts_line,
    epoch_rows,
    history_read_line,
    evidence_lines,
    sample_line,
    finding_codes,
    fmt_metric,
    spark,
    training_line,
)

VERDICT_STYLE = {"healthy": "green", "insufficient-evidence": "yellow"}


def make_console(file: Any = None, stderr: bool = False) -> Console:
    """A Console honouring NO_COLOR, writing to `file`, stdout or stderr."""
    return Console(file=file or (sys.stderr if stderr else sys.stdout), highlight=False, soft_wrap=False)


def verdict_panel(verdict: dict[str, Any], title: str = "Verdict") -> Panel:
    cause = verdict["cause"]
    style = VERDICT_STYLE.get(cause, "red")
    body = Text()
    body.append(cause, style=f"bold {style}")
    body.append(f"  (confidence {verdict['confidence']:.2f})\n\n", style="dim")
    body.append(verdict["explanation"])
    if verdict.get("also"):
        body.append("\n\nAlso: ", style="bold")
        body.append(", ".join(f"{a['cause']} ({a['confidence']:.2f})" for a in verdict["also"]))
    return Panel(body, title=title, border_style=style, expand=True)


def finding_block(f: dict[str, Any]) -> Group:
    sev = f["severity"]
    head = Text()
    head.append(f"{SEVERITY_ICON[sev]} {f['code']} ", style=SEVERITY_STYLE[sev])
    head.append(f["name"], style="bold")
    if f.get("split"):
        head.append(f" [{f['split']}]", style="dim")
    parts: list[Any] = [head, Text("  " + f["message"])]
    if f.get("explanation"):
        parts.append(Text("  " + f["explanation"], style="dim"))
    ev = evidence_lines(f["evidence"])
    if ev:
        t = Table.grid(padding=(0, 1))
        t.add_column(style="dim", no_wrap=True)
        t.add_column()
        for k, val in ev:
            t.add_row("    " + k, val)
        parts.append(t)
    fix = f.get("fix")
    if fix:
        parts.append(Text.assemble(("  Fix: ", "bold green"), fix["title"]))
        if fix.get("snippet"):
            parts.append(Syntax(fix["snippet"], "python", theme="ansi_dark", padding=(0, 4), background_color="default"))
    parts.append(Text(""))
    return Group(*parts)


def runs_table(runs: list[dict[str, Any]]) -> Table:
    t = Table(title="Runs", expand=False)
    for col in ("run", "verdict", "train acc", "val acc", "val loss", "curves (acc / val acc)", "findings"):
        t.add_column(col, overflow="fold")
    for r in runs:
        h = r.get("history", {})
        acc, vacc, vloss = h.get("accuracy", []), h.get("val_accuracy", []), h.get("val_loss", [])
        t.add_row(
            r["name"],
            r["report"]["verdict"]["cause"],
            f"{acc[-1]:.3f}" if acc else "-",
            f"{vacc[-1]:.3f}" if vacc else "-",
            f"{vloss[-1]:.3g}" if vloss else "-",
            f"{spark(acc, 12)} / {spark(vacc, 12)}",
            " ".join(finding_codes(r["report"])) or "-",
        )
    return t


def epochs_table(names: list[str], histories: list[dict[str, list[float]]],
                 planned: list[int] | None = None) -> Table:
    """Side by side per-epoch results: one column group (acc, val acc, val loss) per run.

    `planned` epochs not reached yet show as "·" (the live view of `compare`).
    """
    t = Table(title="Per-epoch results", title_justify="left", expand=False)
    t.add_column("epoch", justify="right")
    for name in names:
        for label, _ in EPOCH_COLUMNS:
            t.add_column(f"{name}\n{label}", justify="right")
    for row in epoch_rows(histories, planned):
        t.add_row(str(row[0]), *(fmt_metric(v) for v in row[1:]))
    return t


def run_panel(r: dict[str, Any]) -> Panel:
    """A run's verdict, its measured counterfactual and how the run ended."""
    v = r["report"]["verdict"]
    style = VERDICT_STYLE.get(v["cause"], "red")
    body = Text()
    body.append(v["cause"], style=f"bold {style}")
    body.append(f"  (confidence {v['confidence']:.2f})\n", style="dim")
    body.append(v["explanation"])
    settings = r.get("settings", {})
    body.append(
        f"\n\n{r.get('epochs_run', '?')} epochs, batch {settings.get('batch_size', '?')}, "
        f"{settings.get('train_images', '?')} training / {settings.get('test_images', '?')} test images, "
        f"{r.get('seconds', 0):.0f} s",
        style="dim",
    )
    line = training_line(r.get("training"))
    if line:
        body.append("\nTraining: " + line, style="dim")
        if (r.get("training") or {}).get("reason"):
            body.append("\n" + r["training"]["reason"] + ".", style="dim")
    stopped = r.get("stopped_early")
    if stopped:
        body.append(f"\nStopped after epoch {stopped['after_epoch']}/{stopped['planned_epochs']}: "
                    f"{stopped['reason']}; saved {stopped['epochs_saved']} epochs "
                    f"(about {stopped['seconds_saved_estimate']:.0f} s).", style="dim")
    return Panel(body, title=f"Run: {r['name']}", border_style=style, expand=True)


def print_comparison(d: dict[str, Any], console: Console) -> None:
    """A comparison: each run's verdict and findings, the epochs side by side, the runs, what tells them apart."""
    runs = d["runs"]
    for r in runs:
        console.print(run_panel(r))
        print_findings(r["report"], console)
    console.print(epochs_table([r["name"] for r in runs], [r.get("history", {}) for r in runs]))
    console.print(runs_table(runs))
    comp = d["comparison"]
    if comp["lines"]:
        body = "\n".join(comp["lines"]) + ("\n\n" + comp["note"] if comp.get("note") else "")
        console.print(Panel(body, title="Comparison", border_style="blue"))


def print_findings(d: dict[str, Any], console: Console) -> None:
    """A report's findings, then its counts and any crashed check."""
    if d["findings"]:
        console.print(Text("Findings", style="bold underline"))
        for f in d["findings"]:
            console.print(finding_block(f))
    else:
        console.print(Text("No findings.", style="green"))
    s = d["summary"]
    console.print(Text(
        f"{counts_line(s)} · {checks_line(s)}",
        style="dim",
    ))
    for c in d["checks"]:
        if c["status"] == "crashed":
            console.print(Text(f"  crashed: {c['code']} {c['name']}: {c['reason']}", style="red"))


def print_report(report: Any, console: Console | None = None, file: Any = None) -> None:
    """Draw a `Report` (verdict, measured fixes, findings) or a `ComparisonReport`."""
    console = console or make_console(file)
    d = report.to_dict()
    if "runs" in d:
        print_comparison(d, console)
        return
    console.print(verdict_panel(d["verdict"]))
    read = history_read_line(d["inputs"])
    if read:
        console.print(Text(read, style="dim"))
    sampled = sample_line(d["inputs"])
    if sampled:
        console.print(Text(sampled, style="dim"))
    for cf in d.get("counterfactuals", []):
        if "summary" in cf:
            style = "green" if cf.get("confirmed") else "yellow"
            console.print(Panel(cf["summary"], title="Counterfactual (measured)", border_style=style))
    print_findings(d, console)
