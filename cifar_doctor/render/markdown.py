"""Markdown renderer: a report to paste into a forum question or an issue.

Every string of the report may hold names from the inputs, so none is pasted as
Markdown: prose goes through `md()` (HTML escaped, code spans, links, emphasis
and table pipes neutralized, one line), short values through `code()` (a code
span no backtick inside can close) and fix snippets through `fence()` (a code
block no backtick run inside can close).
"""

from __future__ import annotations

from typing import Any

from ..sanitize import markdown as md
from ..sanitize import markdown_code as code
from ..sanitize import markdown_fence as fence
from .common import (
    EPOCH_COLUMNS,
    checks_line,
    counts_line,
    dispatch,
    epoch_rows,
    evidence_lines,
    finding_codes,
    fmt_value,
    history_read_line,
    sample_line,
    training_line,
)


def to_markdown(report: Any) -> str:
    """A `Report` or a `ComparisonReport` as Markdown."""
    d = report.to_dict()
    return "\n".join(dispatch(d, {"report": _report, "comparison": _comparison})(d))


def _report(d: dict[str, Any]) -> list[str]:
    v = d["verdict"]
    lines = [
        "## cifar-doctor report",
        "",
        f"**Verdict: {code(v['cause'])}** (confidence {v['confidence']:.2f})",
        "",
        md(v["explanation"]),
        "",
    ]
    if v["also"]:
        lines += ["Also: " + ", ".join(code(a["cause"]) for a in v["also"]), ""]
    read = history_read_line(d["inputs"])
    if read:
        lines += [f"_{md(read)}_", ""]
    sampled = sample_line(d["inputs"])
    if sampled:
        lines += [f"_{md(sampled)}_", ""]
    for cf in d.get("counterfactuals", []):
        if "summary" in cf:
            lines += [f"> {md(cf['summary'])}", ""]
    lines += _findings(d, "###")
    lines += _footer(d["summary"], d["tool"])
    return lines


def _findings(d: dict[str, Any], heading: str) -> list[str]:
    lines = [f"{heading} Findings ({counts_line(d['summary'])})", ""]
    if not d["findings"]:
        lines.append("No findings.")
    for f in d["findings"]:
        where = f" [{md(f['split'])}]" if f.get("split") else ""
        lines.append(f"- **{md(f['code'])} {md(f['name'])}** ({md(f['severity'])}){where}: {md(f['message'])}")
        for k, val in evidence_lines(f["evidence"], limit=6):
            lines.append(f"  - {md(k)}: {_value(val)}")
        if f.get("fix"):
            lines.append(f"  - Fix: {md(f['fix']['title'])}")
            if f["fix"].get("snippet"):
                lines += [""] + ["    " + ln if ln else "" for ln in fence(f["fix"]["snippet"], "python")]
    crashed = [c for c in d["checks"] if c["status"] == "crashed"]
    if crashed:
        lines += [""] + [f"- crashed: {md(c['code'])} {md(c['name'])}: {md(c['reason'])}" for c in crashed]
    return lines + [""]


def _value(text: str) -> str:
    """An evidence value as a code span, or as escaped text when it holds `<`, `>` or `&`.

    A code span shows its text as written (no HTML), but a reader of the raw Markdown, or a
    renderer that gets it wrong, would still see a tag there: values with HTML syntax are
    HTML-escaped text instead.
    """
    return md(text) if set(text) & set("<>&") else code(text)


def _footer(s: dict[str, Any], tool: dict[str, Any]) -> list[str]:
    return [f"<sub>{checks_line(s)} · cifar-doctor {md(tool['version'])}</sub>", ""]


def _last(h: dict[str, list[float]], key: str) -> Any:
    return h[key][-1] if h.get(key) else None


def _comparison(d: dict[str, Any]) -> list[str]:
    runs, comp = d["runs"], d["comparison"]
    lines = [
        "## cifar-doctor comparison",
        "",
        md(comp["summary"]),
        "",
        "### Runs",
        "",
        "| run | verdict | final acc | final val acc | final val loss | epochs | findings |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        h = r.get("history", {})
        lines.append(
            f"| {md(r['name'])} | {code(r['report']['verdict']['cause'])} | "
            f"{md(fmt_value(_last(h, 'accuracy')))} | "
            f"{md(fmt_value(_last(h, 'val_accuracy')))} | {md(fmt_value(_last(h, 'val_loss')))} | "
            f"{md(r.get('epochs_run', ''))} | {md(' '.join(finding_codes(r['report'])))} |"
        )
    lines.append("")
    rows = epoch_rows([r.get("history", {}) for r in runs])
    if rows:
        head = ["epoch"] + [f"{md(r['name'])} {label}" for r in runs for label, _ in EPOCH_COLUMNS]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in rows:
            lines.append(
                "| " + " | ".join([str(row[0])] + ["" if v is None else md(fmt_value(v)) for v in row[1:]]) + " |"
            )
        lines.append("")
    for r in runs:
        v = r["report"]["verdict"]
        lines += [
            f"### Run: {md(r['name'])}",
            "",
            f"**Verdict: {code(v['cause'])}** (confidence {v['confidence']:.2f})",
            "",
            md(v["explanation"]),
            "",
        ]
        line = training_line(r.get("training"))
        if line:
            lines += [
                md(f"Training: {line}" + (f" {r['training']['reason']}." if r["training"].get("reason") else "")),
                "",
            ]
        stopped = r.get("stopped_early")
        if stopped:
            lines += [
                md(f"Stopped after epoch {stopped['after_epoch']}/{stopped['planned_epochs']}: {stopped['reason']}."),
                "",
            ]
        lines += _findings(r["report"], "####")
    return lines + [f"<sub>cifar-doctor {md(d['tool']['version'])}</sub>", ""]
