"""`compare --save DIR`: per-run history, model, report and curves, then the comparison.

Never overwrites; every file is written under a temporary name and moved into
place when complete (`cifar_doctor.atomic`), so an interrupted run leaves no
half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from ..atomic import atomic_path, write_text
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
    rows = io.StringIO(newline="")
    w = csv.writer(rows)  # CSVLogger layout: epoch first
    w.writerow(["epoch", *keys])
    for i in range(n):
        w.writerow([i, *[h[k][i] if i < len(h[k]) else "" for k in keys]])
    write_text(d / "history.csv", rows.getvalue(), exclusive=True)
    write_text(d / "history.json", json.dumps(h, indent=2), exclusive=True)
    with atomic_path(d / "model.keras", exclusive=True) as tmp:
        model.save(tmp)
    write_text(d / "report.json", run.report.to_json() + "\n", exclusive=True)
    from .plot import save_curves

    save_curves(h, d / "curves.png", title=run.name)


def save_comparison(root: Path, report: ComparisonReport) -> None:
    """`root/report.json` and `root/report.md`: the whole comparison."""
    from ..render.markdown import to_markdown

    write_text(root / "report.json", report.to_json() + "\n", exclusive=True)
    write_text(root / "report.md", to_markdown(report), exclusive=True)
