"""SVG charts of the HTML report: accuracy and loss per epoch, one run or several overlaid.

Drawn as inline `<svg>` from the plain values of the JSON document (no script, no
library), with every label escaped. `charts(series, report)` returns the two
charts (accuracy, loss) in one `<div class="charts">`; the page's CSS styles them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..sanitize import html as escape
from .common import fmt_value

#: Chart size in SVG user units (the SVG scales to its container's width).
CHART_WIDTH, CHART_HEIGHT = 560, 300
#: Room for the axes' tick labels and titles around the plot area.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 58, 18, 16, 44

#: A loss chart switches to a log scale when its largest positive value is this
#: many times its smallest: a scale bug's validation loss (7-16 nats, more with
#: logits) beside a healthy run's 1 flattens the healthy curve on a linear axis.
LOG_SCALE_RATIO = 30.0

#: One colour per run of a comparison (colour-blind-safe, Okabe-Ito), cycled beyond.
RUN_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
#: A single report's training (dashed) and validation (solid) curves.
TRAIN_COLOR, VAL_COLOR = "#0072B2", "#D55E00"
#: Vertical marks: the epoch the verdict was read at, where a run stopped.
MARKER_COLOR = "#6a737d"


@dataclass(frozen=True)
class Series:
    """One run's curves for the charts: its name, `{"epoch": [...], "loss": [...], ...}`, its
    comparison entry (`None` for a single report) and its colour (`None`: training/validation colours)."""

    name: str
    curves: dict[str, list[Any]]
    run: dict[str, Any] | None
    color: str | None


def _num_or_none(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def charts(runs: list[Series], report: dict[str, Any] | None) -> str:
    """The accuracy chart and the loss chart, each run overlaid: one `<svg>` per chart."""
    single = len(runs) == 1 and runs[0].run is None
    out = []
    for metric, title in (("accuracy", "Accuracy per epoch"), ("loss", "Loss per epoch")):
        lines: list[dict[str, Any]] = []
        points: list[dict[str, Any]] = []
        vlines: list[tuple[float, str]] = []
        for run in runs:
            xs = run.curves.get("epoch", [])
            for key, dashed in ((metric, True), ("val_" + metric, False)):
                ys = run.curves.get(key)
                if not ys:
                    continue
                label = (
                    ("training" if dashed else "validation") if single else f"{run.name} {'train' if dashed else 'val'}"
                )
                color = (TRAIN_COLOR if dashed else VAL_COLOR) if single else run.color
                lines.append({"xs": xs, "ys": ys, "label": label, "color": color, "dashed": dashed})
            if single:
                rep, name, color = report, "", VAL_COLOR
            else:
                # a comparison's series carries its run entry and its colour
                assert run.run is not None and run.color is not None
                rep, name, color = run.run["report"], run.name, run.color
            if xs:
                points += _counterfactual_points(rep, metric, xs[-1], name, color)
            vlines += _epoch_marks(rep, run.run, "" if single else run.name)
        if not lines:
            continue
        out.append(_chart(title, metric, lines, points, vlines))
    return f'<div class="charts">{"".join(out)}</div>'


def _counterfactual_points(
    rep: dict[str, Any] | None, metric: str, x: float, name: str, color: str
) -> list[dict[str, Any]]:
    """A diamond at the last epoch: the measured score of the trained model with a data fix applied."""
    out = []
    for c in (rep or {}).get("counterfactuals") or []:
        y = _num_or_none((c.get("after") or {}).get(metric))
        if y is None:
            continue
        expr = (c.get("transform") or {}).get("expression") or "fix"
        out.append({"x": x, "y": y, "color": color, "label": f"{name + ': ' if name else ''}val with {expr}"})
    return out


def _epoch_marks(rep: dict[str, Any] | None, run: dict[str, Any] | None, name: str) -> list[tuple[float, str]]:
    """Epochs to mark: where the verdict's evidence was read, where a run stopped early."""
    marks = []
    ev = ((rep or {}).get("verdict") or {}).get("evidence") or {}
    epoch = ev.get("epoch")
    if (
        isinstance(epoch, int)
        and not isinstance(epoch, bool)
        and (rep or {}).get("verdict", {}).get("cause") not in ("healthy", "insufficient-evidence")
    ):
        marks.append((float(epoch), f"{name + ': ' if name else ''}verdict (epoch {epoch})"))
    stopped = (run or {}).get("stopped_early")
    if stopped and isinstance(stopped.get("after_epoch"), int):
        marks.append((float(stopped["after_epoch"]), f"{name + ': ' if name else ''}stopped"))
    return marks


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    step = _nice_step(hi - lo, target)
    start = math.ceil(lo / step - 1e-9) * step
    out, v = [], start
    while v <= hi + step * 1e-6:
        out.append(round(v, 10))
        v += step
    return out


def _tick_label(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def _chart(
    title: str, metric: str, lines: list[dict[str, Any]], points: list[dict[str, Any]], vlines: list[tuple[float, str]]
) -> str:
    xs_all = [x for ln in lines for x in ln["xs"] if _num_or_none(x) is not None]
    ys_all = [y for ln in lines for y in map(_num_or_none, ln["ys"]) if y is not None] + [p["y"] for p in points]
    x0, x1 = (min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    log = False
    if metric == "accuracy":
        y0, y1 = min([0.0] + ys_all), max([1.0] + ys_all)
    else:
        pos = [y for y in ys_all if y > 0]
        y0, y1 = min([0.0] + ys_all), (max(ys_all) if ys_all else 1.0)
        log = bool(pos) and min(ys_all) > 0 and max(pos) / min(pos) >= LOG_SCALE_RATIO
        if log:
            y0, y1 = 10 ** math.floor(math.log10(min(pos))), 10 ** math.ceil(math.log10(max(pos)))
        elif y1 <= y0:
            y1 = y0 + 1
        else:
            step = _nice_step(y1 - y0, 5)
            y1 = math.ceil(y1 / step - 1e-9) * step
    pw, ph = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT, CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def sx(x: float) -> float:
        return MARGIN_LEFT + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        if log:
            y = max(y, y0)
            return MARGIN_TOP + ph - (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * ph
        return MARGIN_TOP + ph - (y - y0) / (y1 - y0) * ph

    el = [
        f'<svg viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui,sans-serif" font-size="11">',
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{pw}" height="{ph}" fill="#fff" stroke="#d0d7de"/>',
    ]
    yticks = (
        [10**e for e in range(int(round(math.log10(y0))), int(round(math.log10(y1))) + 1)] if log else _ticks(y0, y1)
    )
    for t in yticks:
        y = sy(t)
        el.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
            f'<line x1="{MARGIN_LEFT - 4}" x2="{MARGIN_LEFT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#57606a"/>'
            f'<text x="{MARGIN_LEFT - 7}" y="{y + 3.5:.1f}" text-anchor="end" fill="#57606a">'
            f"{escape(_tick_label(t))}</text>"
        )
    xticks = [t for t in _ticks(x0, x1, 8) if float(t).is_integer()] or [x0, x1]
    for t in xticks:
        x = sx(t)
        el.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP + ph}" y2="{MARGIN_TOP + ph + 4}" '
            f'stroke="#57606a"/><text x="{x:.1f}" y="{MARGIN_TOP + ph + 16}" text-anchor="middle" '
            f'fill="#57606a">{escape(_tick_label(t))}</text>'
        )
    el.append(
        f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT}" y1="{MARGIN_TOP}" y2="{MARGIN_TOP + ph}" stroke="#57606a"/>'
        f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + pw}" y1="{MARGIN_TOP + ph}" y2="{MARGIN_TOP + ph}" '
        f'stroke="#57606a"/>'
    )
    el.append(
        f'<text x="{MARGIN_LEFT + pw / 2:.1f}" y="{CHART_HEIGHT - 6}" text-anchor="middle" fill="#1f2328">'
        f'epoch</text><text transform="translate(14 {MARGIN_TOP + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'fill="#1f2328">{escape(metric + (" (log scale)" if log else ""))}</text>'
    )
    for i, (xv, label) in enumerate(vlines):
        if not x0 <= xv <= x1:
            continue
        x = sx(xv)
        el.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{MARGIN_TOP + ph}" stroke="{MARKER_COLOR}" '
            f'stroke-dasharray="2 3"/><text x="{x - 4:.1f}" y="{MARGIN_TOP + 12 + 13 * i}" text-anchor="end" '
            f'fill="{MARKER_COLOR}">{escape(label)}</text>'
        )
    for ln in lines:
        segs: list[list[str]] = []
        cur: list[str] = []
        for x, y in zip(ln["xs"], ln["ys"]):
            vy, vx = _num_or_none(y), _num_or_none(x)
            if vy is None or vx is None:
                if cur:
                    segs.append(cur)
                cur = []
                continue
            cur.append(f"{sx(vx):.1f},{sy(vy):.1f}")
        if cur:
            segs.append(cur)
        dash = ' stroke-dasharray="6 4"' if ln["dashed"] else ""
        for seg in segs:
            el.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{ln["color"]}" stroke-width="2"{dash}/>')
            if len(ln["xs"]) <= 60:
                el += [
                    f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{ln["color"]}"/>' for p in seg
                ]
    for p in points:
        x, y = sx(p["x"]), sy(p["y"])
        el.append(
            f'<path d="M{x:.1f} {y - 6:.1f} L{x + 6:.1f} {y:.1f} L{x:.1f} {y + 6:.1f} L{x - 6:.1f} {y:.1f} Z" '
            f'fill="#fff" stroke="{p["color"]}" stroke-width="2"><title>{escape(p["label"])}: '
            f"{escape(fmt_value(p['y']))}</title></path>"
        )
    el.append("</svg>")
    legend = "".join(
        f'<li><span class="sw{" dash" if ln["dashed"] else ""}" style="border-color:{ln["color"]}"></span>'
        f"{escape(ln['label'])}</li>"
        for ln in lines
    )
    legend += "".join(
        f'<li><span style="color:{p["color"]}">&#9671;</span> {escape(p["label"])} ({escape(fmt_value(p["y"]))})</li>'
        for p in points
    )
    return f'<figure><figcaption>{escape(title)}</figcaption>{"".join(el)}<ul class="legend">{legend}</ul></figure>'
