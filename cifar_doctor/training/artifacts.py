"""`compare --save DIR`: per-run history, model, report and curves, then the comparison. Never overwrites."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from ..comparison import ComparisonReport, RunResult


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"


def save_run(root: Path, run: RunResult, model: Any) -> None:
    """Under `root/<run name>`: history CSV and JSON, the model (.keras), the run's report, curves PNG."""
    d = root / _safe_name(run.name)
    d.mkdir(parents=True, exist_ok=False)
    h = {k: list(v) for k, v in run.history.items()}
    keys = list(h)
    n = max((len(v) for v in h.values()), default=0)
    with open(d / "history.csv", "x", newline="") as fh:  # CSVLogger layout: epoch first
        w = csv.writer(fh)
        w.writerow(["epoch", *keys])
        for i in range(n):
            w.writerow([i, *[h[k][i] if i < len(h[k]) else "" for k in keys]])
    with open(d / "history.json", "x") as fh:
        json.dump(h, fh, indent=2)
    model.save(d / "model.keras")
    with open(d / "report.json", "x") as fh:
        fh.write(run.report.to_json() + "\n")
    from .plot import save_curves

    save_curves(h, d / "curves.png", title=run.name)


def save_comparison(root: Path, report: ComparisonReport) -> None:
    """`root/report.json` and `root/report.md`: the whole comparison."""
    from ..render.markdown import to_markdown

    with open(root / "report.json", "x") as fh:
        fh.write(report.to_json() + "\n")
    with open(root / "report.md", "x") as fh:
        fh.write(to_markdown(report))
