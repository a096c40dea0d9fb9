"""Markdown renderer: a report to paste into a forum question or an issue."""

from __future__ import annotations

from typing import Any

from .common import EPOCH_COLUMNS, counts_line, epoch_rows, evidence_lines, fmt_value


def to_markdown(report: Any) -> str:
    d = report.to_dict()
    v = d["verdict"]
    lines = [
        "## cifar-doctor report",
        "",
        f"**Verdict: `{v['cause']}`** (confidence {v['confidence']:.2f})",
        "",
        v["explanation"],
        "",
    ]
    if v["also"]:
        lines.append("Also: " + ", ".join(f"`{a['cause']}`" for a in v["also"]))
        lines.append("")
    for cf in d.get("counterfactuals", []):
        if "summary" in cf:
            lines += [f"> {cf['summary']}", ""]
    runs = d.get("runs")
    if runs:
        comp = d.get("comparison") or {}
        if comp.get("summary"):
            lines += ["### Comparison", "", comp["summary"], ""]
        lines += ["### Runs", "", "| run | verdict | final acc | final val acc | final val loss | epochs | findings |",
                  "|---|---|---|---|---|---|---|"]
        for r in runs:
            h = r.get("history", {})
            acc = h.get("accuracy", [None])[-1] if h.get("accuracy") else None
            vacc = h.get("val_accuracy", [None])[-1] if h.get("val_accuracy") else None
            vloss = h.get("val_loss", [None])[-1] if h.get("val_loss") else None
            lines.append(f"| {r['name']} | `{r['verdict']['cause']}` | {fmt_value(acc)} | {fmt_value(vacc)} | "
                         f"{fmt_value(vloss)} | {r.get('epochs_run', '')} | {' '.join(r.get('findings', []))} |")
        lines.append("")
        rows = epoch_rows(runs)
        if rows:
            head = ["epoch"] + [f"{r['name']} {label}" for r in runs for label, _ in EPOCH_COLUMNS]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for row in rows:
                lines.append("| " + " | ".join([str(row[0])] + ["" if v is None else fmt_value(v) for v in row[1:]])
                             + " |")
            lines.append("")
        lines += [f"Findings below are those of the first run ({runs[0]['name']}).", ""]
    s = d["summary"]
    lines += [
        f"### Findings ({counts_line(s)})",
        "",
    ]
    if not d["findings"]:
        lines += ["No findings.", ""]
    for f in d["findings"]:
        where = f" [{f['split']}]" if f.get("split") else ""
        lines.append(f"- **{f['code']} {f['name']}** ({f['severity']}){where}: {f['message']}")
        for k, val in evidence_lines(f["evidence"], limit=6):
            lines.append(f"  - {k}: `{val}`")
        if f.get("fix"):
            lines.append(f"  - Fix: {f['fix']['title']}")
            if f["fix"].get("snippet"):
                lines += ["", "    ```python"] + ["    " + ln for ln in f["fix"]["snippet"].splitlines()] + ["    ```"]
    lines += [
        "",
        f"<sub>{s['checks_ran']} checks ran, {s['checks_skipped']} skipped, {s['checks_crashed']} crashed · "
        f"cifar-doctor {d['tool']['version']}</sub>",
        "",
    ]
    return "\n".join(lines)
