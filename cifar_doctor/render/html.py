"""HTML renderer: one self-contained page to share (a file, a notebook cell, an issue attachment).

The page holds the verdict, what was read, the measured counterfactuals, the
learning curves as inline SVG and every finding with its evidence and fix.
Everything is inline: CSS in one `<style>`, no script, no font, image or style
sheet fetched from anywhere, so the file opens the same offline and in a mail.
Every string that comes from the user's files (log keys, file names, messages
quoting them) is escaped, control characters shown as escapes (`sanitize.html`): a hostile
log cannot inject markup.

`to_html(report)` is the whole document (`--format html`); `html_fragment(report)`
the same content as one `<div>` with its scoped style, for a Jupyter cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..sanitize import html as escape
from .charts import RUN_COLORS, Series, charts
from .common import checks_line, counts_line, dispatch, fmt_value, history_read_line, sample_line, training_line

#: Evidence items shown per finding: the numbers the judgement was made on come first.
EVIDENCE_ROWS = 24

VERDICT_CLASS = {"healthy": "ok", "insufficient-evidence": "unsure"}

STYLE = """
.cd{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;
background:#fff;line-height:1.45;font-size:14px;max-width:1180px;margin:0 auto;padding:8px 16px}
.cd h1{font-size:22px;margin:8px 0 12px}.cd h2{font-size:18px;margin:22px 0 8px;border-bottom:1px solid #d0d7de;
padding-bottom:4px}.cd h3{font-size:15px;margin:14px 0 6px}
.cd .verdict{border:2px solid #c62828;border-radius:6px;padding:10px 14px;margin:8px 0;background:#fff5f5}
.cd .verdict.ok{border-color:#2e7d32;background:#f3faf3}.cd .verdict.neutral{border-color:#0969da;background:#f6f8fa}.cd .verdict.unsure{border-color:#b26a00;background:#fffaf0}
.cd .cause{font-size:18px;font-weight:700;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cd .muted{color:#57606a}.cd .conf{color:#57606a;margin-left:8px}
.cd table{border-collapse:collapse;margin:6px 0;font-size:13px}
.cd th,.cd td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
.cd th{background:#f6f8fa;font-weight:600}.cd td.num{text-align:right;font-variant-numeric:tabular-nums}
.cd code,.cd pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cd pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:8px 10px;overflow-x:auto;margin:4px 0}
.cd .finding{border-left:4px solid #d0d7de;padding:4px 12px;margin:12px 0}
.cd .finding.error{border-color:#c62828}.cd .finding.warning{border-color:#b26a00}.cd .finding.info{border-color:#1565c0}
.cd .sev{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;color:#fff;margin-right:6px}
.cd .sev.error{background:#c62828}.cd .sev.warning{background:#b26a00}.cd .sev.info{background:#1565c0}
.cd .fix{color:#1a7f37;font-weight:600}.cd .cf{border:1px solid #2e7d32;border-radius:6px;padding:8px 12px;margin:8px 0}
.cd .cf.unconfirmed{border-color:#b26a00}
.cd .charts{display:flex;flex-wrap:wrap;gap:16px}.cd figure{margin:0;flex:1 1 440px;max-width:580px}
.cd figcaption{font-weight:600;margin-bottom:2px}.cd svg{width:100%;height:auto;display:block}
.cd .legend{list-style:none;padding:0;margin:2px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.cd .sw{display:inline-block;width:22px;height:0;border-top:2px solid;vertical-align:middle;margin-right:4px}
.cd .sw.dash{border-top-style:dashed}.cd details{margin:6px 0}.cd summary{cursor:pointer}
.cd footer{margin-top:24px;color:#57606a;font-size:12px}
"""


def to_html(report: Any) -> str:
    """A `Report` or a `ComparisonReport` as one self-contained HTML document."""
    d = report.to_dict()
    title = dispatch(d, TITLES)(d)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{_fragment(d)}\n</body>\n</html>\n"
    )


def html_fragment(report: Any) -> str:
    """The same content as `to_html`, as one `<div>` with its scoped `<style>` (for a notebook cell)."""
    return _fragment(report.to_dict())


def _fragment(d: dict[str, Any]) -> str:
    body = dispatch(d, BODIES)(d)
    return f'<div class="cd">\n<style>{STYLE}</style>\n{body}\n</div>'


# --- a report ------------------------------------------------------------------------------


def _report(d: dict[str, Any], level: int, color: str | None = None) -> str:
    """A report's sections; `level` 1 for a page of its own, 2 inside a comparison."""
    h = f"h{level + 1}"
    parts = []
    if level == 1:
        parts.append("<h1>cifar-doctor report</h1>")
    parts.append(_verdict(d["verdict"]))
    parts += [f"<{h}>Inputs read</{h}>", _inputs(d["inputs"])]
    cfs = d.get("counterfactuals") or []
    if cfs:
        parts += [f"<{h}>Measured counterfactual{'s' if len(cfs) > 1 else ''}</{h}>"] + [
            _counterfactual(c) for c in cfs
        ]
    curves = (d["inputs"].get("history") or {}).get("curves")
    if level == 1 and curves and len(curves.get("epoch", [])) > 0:
        parts += [f"<{h}>Learning curves</{h}>", charts([Series("", curves, None, color)], d)]
    parts += [
        f'<{h}>Findings <span class="muted">({escape(counts_line(d["summary"]))})</span></{h}>',
        _findings(d),
        _checks(d),
    ]
    if level == 1:
        parts.append(f"<footer>cifar-doctor {escape(str(d['tool']['version']))}</footer>")
    return "\n".join(parts)


def _verdict(v: dict[str, Any], title: str = "Verdict") -> str:
    cls = VERDICT_CLASS.get(v["cause"], "bug")
    also = ""
    if v.get("also"):
        also = (
            "<p><b>Also:</b> "
            + ", ".join(f"<code>{escape(a['cause'])}</code> ({a['confidence']:.2f})" for a in v["also"])
            + "</p>"
        )
    return (
        f'<section class="verdict {cls}"><div class="muted">{escape(title)}</div>'
        f'<span class="cause">{escape(v["cause"])}</span>'
        f'<span class="conf">confidence {v["confidence"]:.2f}</span>'
        f"<p>{escape(v['explanation'])}</p>{also}</section>"
    )


def _kv_table(rows: Sequence[tuple[str, Any]], head: tuple[str, str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append(f"<tr><th>{escape(head[0])}</th><th>{escape(head[1])}</th></tr>")
    for k, val in rows:
        out.append(
            f"<tr><th>{escape(str(k))}</th><td>{escape(val if isinstance(val, str) else fmt_value(val))}</td></tr>"
        )
    return "".join(out) + "</table>"


def _inputs(inputs: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = []
    notices: list[str] = []
    for key in ("recipe", "data", "log", "model_file"):
        val = inputs.get(key)
        if isinstance(val, dict):
            notices += [str(n) for n in val.get("notices") or []]
            val = val.get("path") or val.get("kind") or fmt_value(val)
        if val is not None:
            rows.append((key.replace("_", " "), str(val)))
    if inputs.get("loss"):
        rows.append(("loss", inputs["loss"] + (" (from logits)" if inputs.get("from_logits") else "")))
    if inputs.get("classes") is not None:
        rows.append(("classes", f"{inputs['classes']} (from {inputs.get('classes_from') or '?'})"))
    model = inputs.get("model")
    if isinstance(model, dict):
        rows.append(("model", ", ".join(f"{k} {fmt_value(v)}" for k, v in model.items() if v not in (None, [], ""))))
    read = history_read_line(inputs)
    if read:
        rows.append(("history", read))
    sampled = sample_line(inputs)
    if sampled:
        rows.append(("sample", sampled))
    known = {
        "recipe",
        "data",
        "log",
        "model_file",
        "loss",
        "from_logits",
        "classes",
        "classes_from",
        "model",
        "history",
        "splits",
    }
    rows += [(k, v) for k, v in inputs.items() if k not in known and v not in (None, {}, [])]
    parts = [_kv_table(rows) if rows else '<p class="muted">Nothing was read.</p>']
    splits = inputs.get("splits") or {}
    if splits:
        parts.append(
            "<table><tr><th>split</th><th>images</th><th>image dtype</th><th>labels</th><th>label dtype</th></tr>"
        )
        for name, s in splits.items():
            parts.append(
                f"<tr><td>{escape(str(name))}</td><td>{escape(fmt_value(s.get('x_shape')))}</td>"
                f"<td>{escape(str(s.get('x_dtype') or ''))}</td><td>{escape(fmt_value(s.get('y_shape')))}</td>"
                f"<td>{escape(str(s.get('y_dtype') or ''))}</td></tr>"
            )
        parts.append("</table>")
    parts += [f'<p class="muted">{escape(n)}</p>' for n in notices]
    return "\n".join(parts)


def _counterfactual(c: dict[str, Any]) -> str:
    expr = (c.get("transform") or {}).get("expression") or "the fix"
    if c.get("error"):
        return (
            f'<div class="cf unconfirmed"><b>{escape(c["code"])}</b>: {escape(expr)} could not be measured: '
            f"{escape(str(c['error']))}</div>"
        )
    before, after = c.get("before") or {}, c.get("after") or {}
    status = "confirmed" if c.get("confirmed") else "not confirmed"
    rows = "".join(
        f'<tr><td>{escape(label)}</td><td class="num">{escape(fmt_value(m.get("accuracy")))}</td>'
        f'<td class="num">{escape(fmt_value(m.get("loss")))}</td></tr>'
        for label, m in ((f"{c['split']} images as given", before), (f"with {expr}", after))
    )
    return (
        f'<div class="cf{"" if c.get("confirmed") else " unconfirmed"}"><p>{escape(c.get("summary") or "")}</p>'
        f"<table><tr><th>{escape(c['code'])}: fix {escape(status)}</th><th>accuracy</th><th>loss</th></tr>"
        f"{rows}</table></div>"
    )


def _findings(d: dict[str, Any]) -> str:
    if not d["findings"]:
        return "<p>No findings.</p>"
    return "\n".join(_finding(f) for f in d["findings"])


def _finding(f: dict[str, Any]) -> str:
    sev = f["severity"] if f["severity"] in ("error", "warning", "info") else "info"
    where = f' <span class="muted">[{escape(f["split"])}]</span>' if f.get("split") else ""
    parts = [
        f'<section class="finding {sev}"><h4><span class="sev {sev}">{escape(sev)}</span>'
        f"<code>{escape(f['code'])}</code> {escape(f['name'])}{where}</h4>",
        f"<p>{escape(f['message'])}</p>",
    ]
    ev = list((f.get("evidence") or {}).items())
    if ev:
        shown = ev[:EVIDENCE_ROWS]
        parts.append(_kv_table([(k, v) for k, v in shown], head=("evidence", "value")))
        if len(ev) > len(shown):
            parts.append(f'<p class="muted">{len(ev) - len(shown)} more evidence items in the JSON report.</p>')
    fix = f.get("fix")
    if fix:
        parts.append(f'<p><span class="fix">Fix:</span> {escape(fix["title"])}</p>')
        if fix.get("snippet"):
            parts.append(f"<pre><code>{escape(fix['snippet'])}</code></pre>")
    if f.get("explanation"):
        parts.append(f'<p class="muted">{escape(f["explanation"])}</p>')
    parts.append(f'<p class="muted"><code>{escape(f.get("docs") or "cifar-doctor explain " + f["code"])}</code></p>')
    return "\n".join(parts) + "</section>"


def _checks(d: dict[str, Any]) -> str:
    s = d["summary"]
    out = [f'<p class="muted">{escape(checks_line(s))}</p>']
    crashed = [c for c in d["checks"] if c["status"] == "crashed"]
    if crashed:
        out.append(
            "<ul>"
            + "".join(
                f"<li><b>crashed</b>: <code>{escape(c['code'])}</code> {escape(c['name'])}: "
                f"{escape(str(c['reason']))}</li>"
                for c in crashed
            )
            + "</ul>"
        )
    skipped = [c for c in d["checks"] if c["status"] == "skipped"]
    if skipped:
        out.append(
            f"<details><summary>{len(skipped)} skipped check{'s' if len(skipped) != 1 else ''}</summary><ul>"
            + "".join(
                f"<li><code>{escape(c['code'])}</code> {escape(c['name'])}: {escape(str(c['reason']))}</li>"
                for c in skipped
            )
            + "</ul></details>"
        )
    return "\n".join(out)


# --- a comparison --------------------------------------------------------------------------


def _last(h: dict[str, Any], key: str) -> Any:
    vals = h.get(key) or []
    return vals[-1] if vals else None


def _comparison(d: dict[str, Any]) -> str:
    runs, comp = d["runs"], d["comparison"]
    parts = ["<h1>cifar-doctor comparison</h1>", '<section class="verdict neutral"><div class="muted">Comparison</div>']
    parts += [f"<p>{escape(line)}</p>" for line in comp["lines"]]
    if comp.get("note"):
        parts.append(f"<p><b>{escape(comp['note'])}</b></p>")
    parts.append("</section>")
    parts.append(
        "<h2>Runs</h2><table><tr><th>run</th><th>verdict</th><th>train acc</th><th>val acc</th>"
        "<th>val loss</th><th>epochs</th><th>images (train / test)</th><th>seconds</th><th>findings</th></tr>"
    )
    for i, r in enumerate(runs):
        h, st = r.get("history") or {}, r.get("settings") or {}
        codes = " ".join(sorted({f["code"] for f in r["report"]["findings"]}))
        parts.append(
            f'<tr><td><span class="sw" style="border-color:{_run_color(i)}"></span>{escape(r["name"])}</td>'
            f"<td><code>{escape(r['report']['verdict']['cause'])}</code></td>"
            + "".join(
                f'<td class="num">{escape(_metric(_last(h, k)))}</td>' for k in ("accuracy", "val_accuracy", "val_loss")
            )
            + f'<td class="num">{escape(str(r.get("epochs_run", "")))}</td>'
            f'<td class="num">{escape(str(st.get("train_images", "?")))} / {escape(str(st.get("test_images", "?")))}</td>'
            f'<td class="num">{float(r.get("seconds") or 0):.0f}</td><td>{escape(codes) or "-"}</td></tr>'
        )
    parts.append("</table>")
    series = [Series(r["name"], _run_curves(r), r, _run_color(i)) for i, r in enumerate(runs)]
    if any(len(s.curves.get("epoch", [])) for s in series):
        parts += [
            "<h2>Learning curves</h2>",
            '<p class="muted">Each run in its colour: training dashed, validation solid.</p>',
            charts(series, None),
        ]
    parts.append(_epoch_table(runs))
    for i, r in enumerate(runs):
        parts.append(f'<h2><span class="sw" style="border-color:{_run_color(i)}"></span>Run: {escape(r["name"])}</h2>')
        if r.get("doc"):
            parts.append(f'<p class="muted">{escape(r["doc"])}</p>')
        trained = training_line(r.get("training"))
        if trained:
            parts.append(f"<p>{escape(trained)}</p>")
        stopped = r.get("stopped_early")
        if stopped:
            parts.append(
                f"<p>Stopped after epoch {stopped['after_epoch']}/{stopped['planned_epochs']}: "
                f"{escape(stopped['reason'])}.</p>"
            )
        parts.append(_report(r["report"], level=2))
    parts.append(f"<footer>cifar-doctor {escape(str(d['tool']['version']))}</footer>")
    return "\n".join(parts)


def _run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def _metric(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, (int, float)) and math.isfinite(v) else ("-" if v is None else str(v))


def _run_curves(r: dict[str, Any]) -> dict[str, list[Any]]:
    h = r.get("history") or {}
    n = max((len(v) for v in h.values()), default=0)
    out: dict[str, list[Any]] = {"epoch": list(range(1, n + 1))}
    for k in ("loss", "val_loss", "accuracy", "val_accuracy"):
        if h.get(k):
            out[k] = list(h[k])
    return out


def _epoch_table(runs: list[dict[str, Any]]) -> str:
    cols = (("acc", "accuracy"), ("val acc", "val_accuracy"), ("loss", "loss"), ("val loss", "val_loss"))
    n = max((len(v) for r in runs for v in (r.get("history") or {}).values()), default=0)
    if not n:
        return ""
    head = "".join(f"<th>{escape(r['name'])} {label}</th>" for r in runs for label, _ in cols)
    rows = []
    for i in range(n):
        cells = []
        for r in runs:
            h = r.get("history") or {}
            for _, key in cols:
                vals = h.get(key) or []
                cells.append(f'<td class="num">{escape(_metric(vals[i]) if i < len(vals) else "")}</td>')
        rows.append(f'<tr><td class="num">{i + 1}</td>{"".join(cells)}</tr>')
    return (
        f"<details open><summary>Per-epoch results</summary><table><tr><th>epoch</th>{head}</tr>"
        f"{''.join(rows)}</table></details>"
    )


#: The page's title and body per document `kind`.
TITLES: dict[str, Callable[[dict[str, Any]], str]] = {
    "report": lambda d: f"cifar-doctor: {d['verdict']['cause']}",
    "comparison": lambda d: "cifar-doctor comparison",
}
BODIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "report": lambda d: _report(d, level=1),
    "comparison": lambda d: _comparison(d),
}


def mimebundle(report: Any) -> dict[str, str]:
    """What Jupyter shows for a report: the HTML fragment, and the text report for plain front ends."""
    import io

    from rich.console import Console

    from .text import print_report

    buf = io.StringIO()
    # force_jupyter=False: in a kernel, Rich would otherwise display each part itself instead of writing to `buf`
    print_report(
        report, console=Console(file=buf, force_jupyter=False, color_system=None, width=100, markup=False, emoji=False)
    )
    return {"text/html": html_fragment(report), "text/plain": buf.getvalue()}
