"""Helpers shared by the text and Markdown renderers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_ICON = {"error": "✖", "warning": "▲", "info": "•"}


def dispatch(d: dict[str, Any], drawers: Mapping[str, T]) -> T:
    """The drawer for a JSON document's `kind` (`"report"` or `"comparison"`, `report.DOCUMENT_KINDS`).

    Raises:
        ValueError: the document has no `kind` the renderer draws.
    """
    kind = d.get("kind")
    if not isinstance(kind, str) or kind not in drawers:
        raise ValueError(f"Cannot draw a document of kind {kind!r}: expected one of {', '.join(drawers)}")
    return drawers[kind]


def plural(n: int, word: str) -> str:
    """`plural(1, "error")` -> "1 error", `plural(2, "error")` -> "2 errors"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def counts_line(s: dict[str, int]) -> str:
    """ "2 errors, 1 warning, 0 info" from a report summary."""
    return f"{plural(s['errors'], 'error')}, {plural(s['warnings'], 'warning')}, {s['infos']} info"


def checks_line(s: dict[str, int]) -> str:
    """ "48 checks ran, 1 skipped, 0 crashed" from a report summary."""
    return f"{plural(s['checks_ran'], 'check')} ran, {s['checks_skipped']} skipped, {s['checks_crashed']} crashed"


#: Items of an evidence list or mapping shown in the text, Markdown and HTML reports;
#: the JSON report carries them all (up to `findings.EVIDENCE_MAX_ITEMS`).
SHOWN_ITEMS = 8


def fmt_value(v: Any) -> str:
    """Short human form of an evidence value: lists and mappings cut at `SHOWN_ITEMS` ("… and N more")."""
    if isinstance(v, float):
        return "0" if v == 0 else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        more = f", … and {len(v) - SHOWN_ITEMS} more" if len(v) > SHOWN_ITEMS else ""
        return "[" + ", ".join(fmt_value(x) for x in v[:SHOWN_ITEMS]) + more + "]"
    if isinstance(v, dict):
        items = list(v.items())
        more = f", … and {len(items) - SHOWN_ITEMS} more" if len(items) > SHOWN_ITEMS else ""
        return "{" + ", ".join(f"{k}: {fmt_value(x)}" for k, x in items[:SHOWN_ITEMS]) + more + "}"
    return str(v)


def evidence_lines(evidence: dict[str, Any], limit: int = 10) -> list[tuple[str, str]]:
    items = list(evidence.items())[:limit]
    return [(str(k), fmt_value(v)) for k, v in items]


def spark(values: list[float], width: int = 24) -> str:
    """A unicode sparkline of `values` (NaN shown as a space)."""
    bars = "▁▂▃▄▅▆▇█"
    vals = [v for v in values if isinstance(v, (int, float)) and v == v]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    out = []
    for v in values[-width:]:
        if not isinstance(v, (int, float)) or v != v:
            out.append(" ")
        else:
            out.append(bars[min(int((v - lo) / span * (len(bars) - 1) + 0.5), len(bars) - 1)])
    return "".join(out)


#: The per-epoch columns shown for each run of a comparison: (label, Keras history key).
EPOCH_COLUMNS = (("acc", "accuracy"), ("val acc", "val_accuracy"), ("val loss", "val_loss"))

#: Shown for an epoch a run has planned but not reached yet.
PENDING = "·"


def epoch_rows(histories: list[dict[str, list[float]]], planned: list[int] | None = None) -> list[list[Any]]:
    """One row per epoch: the epoch number, then each history's `EPOCH_COLUMNS` values.

    A missing value is `None`, or `PENDING` for an epoch within the run's `planned` count.
    """
    planned = planned or [0] * len(histories)
    n = max([len(v) for h in histories for v in h.values()] + planned, default=0)
    rows = []
    for i in range(n):
        row: list[Any] = [i + 1]
        for h, p in zip(histories, planned):
            for _, key in EPOCH_COLUMNS:
                vals = h.get(key, [])
                row.append(vals[i] if i < len(vals) else (PENDING if i < p else None))
        rows.append(row)
    return rows


def fmt_metric(v: Any) -> str:
    """A per-epoch metric: 3 decimals, 4 significant digits from 100 up; strings as they are; "" for none."""
    if isinstance(v, str):
        return v
    if not isinstance(v, (int, float)):
        return ""
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.4g}"


def finding_codes(report: dict[str, Any]) -> list[str]:
    """The distinct finding codes of a report dict, sorted."""
    return sorted({f["code"] for f in report["findings"]})


def sample_line(inputs: dict[str, Any]) -> str | None:
    """What the data checks read, when a split was sampled: "Data: a sample of 10,000 of 1,000,000 train images ...".

    None when every image of every split was read.
    """
    parts = []
    limits = ""  # set with every part: a sample records what it can rule out
    for name, split in (inputs.get("splits") or {}).items():
        s = split.get("sample")
        if not s or (s.get("total") is not None and s["taken"] >= s["total"]):
            continue
        total = f"{s['total']:,}" if s.get("total") is not None else "an unknown number of"
        parts.append(f"{s['taken']:,} of {total} {name} images")
        limits = s.get("limits")
    if not parts:
        return None
    return f"Data: statistics on a sample of {', '.join(parts)}; duplicates on every image. {limits[0].upper()}{limits[1:]}."


def history_read_line(inputs: dict[str, Any]) -> str | None:
    """What was read from a training history, in one line: "Log: 5 epochs of loss, val_loss (custom format; ...)".

    None when the report has no history. Says how printed names were mapped
    for a custom training-loop log, the index when it is not 1..N, and which run
    was read when the log holds several (`fit()` called again).
    """
    h = inputs.get("history")
    if not h:
        return None
    read = h.get("read_as") or {}
    unit = "step" if read.get("index_kind") == "step" else "epoch"
    n = h.get("epochs", 0)
    fmt = read.get("format")
    label = "Log" if fmt in ("keras", "custom") else "History"
    text = f"{label}: {plural(n, unit)} of {', '.join(h.get('metrics', []))}"
    details = []
    if fmt and fmt != "history":
        details.append(f"{fmt} format")
    mapping = {k: v for k, v in (read.get("mapping") or {}).items() if k != v}
    if mapping:
        details.append("read " + ", ".join(f"'{k}' as {v}" for k, v in mapping.items()))
    if int(read.get("runs") or 1) > 1:
        details.append(f"the last of {read['runs']} training runs, where the epoch numbers start over")
    numbers = (h.get("curves") or {}).get("epoch") or []
    if unit == "epoch" and numbers and numbers[0] > 1:
        details.append(f"epochs {numbers[0]}-{numbers[-1]}: the log starts after training did")
    if details:
        text += f" ({'; '.join(details)})"
    source = inputs.get("log")
    return f"{text}, from {source}." if source else text + "."


def training_line(training: dict[str, Any] | None) -> str | None:
    """How a `compare` run made its optimizer steps, in one sentence (from `runs[i].training`)."""
    if not training:
        return None
    parts = [f"batch {training['batch_size']}, {training['steps_per_epoch']} optimizer steps per epoch"]
    if training.get("scaled_from"):
        parts[0] += f" (scaled from the recipe's {training['scaled_from']['batch_size']} for small data)"
    elif training.get("batch_size_source") == "given":
        parts[0] += " (given)"
    st = training.get("strategy") or {}
    if st:
        devices = ", ".join(st.get("devices") or []) or "default placement"
        where = f"strategy {st.get('name', 'default')}: {plural(int(st.get('replicas', 1)), 'replica')} ({devices})"
        if int(st.get("replicas", 1)) > 1:
            where += (
                f", per-replica batch {training['per_replica_batch_size']} "
                f"(global {training['global_batch_size']} = per-replica x replicas)"
            )
        if int(st.get("workers", 1)) > 1:
            where += f", {st['workers']} workers"
        parts.append(where)
        if st.get("mixed_precision"):
            parts.append(
                f"mixed precision {st['mixed_precision']} (computes in "
                f"{training.get('compute_dtype') or '?'}, output {training.get('output_dtype') or '?'})"
            )
    if int(training.get("gradient_accumulation_steps", 1)) > 1:
        parts.append(
            f"each batch computed as {training['gradient_accumulation_steps']} micro-batches of "
            f"{training['micro_batch_size']} with accumulated gradients"
        )
    return "; ".join(parts) + "."
