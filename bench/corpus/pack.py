"""Pack finished runs into one committed file: `bench/corpus/runs.jsonl.gz`, one JSON object per line.

Each record holds what the runner wrote (`result.json`) with the per-step history downsampled to at
most `MAX_STEP_POINTS` points, the captured console texts, and the data recipe that rebuilds the
arrays (`spec.data` with the rules of `bench.corpus.data`; `arrays` holds the fingerprint of each
array as fed, which `load.rebuild_arrays` checks). Records are sorted by run id and written with a
fixed gzip mtime, so packing the same runs twice gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

from .runner import CONSOLE_V1, CONSOLE_V2, RESULT

#: Per-step points kept per run: enough for the shape of the loss inside and across epochs.
MAX_STEP_POINTS = 300

#: Version of the record layout (bumped when a field changes meaning).
RECORD_VERSION = 1

PACKED = Path(__file__).resolve().parent / "runs.jsonl.gz"


def downsample_steps(steps: dict[str, list[float]], limit: int = MAX_STEP_POINTS) -> dict[str, list[float]]:
    """Every k-th recorded step (and always the last one), so that at most `limit` remain."""
    n = len(steps.get("step", []))
    if n <= limit:
        return steps
    stride = -(-n // limit)
    keep = list(range(0, n, stride))
    if keep[-1] != n - 1:
        keep[-1] = n - 1
    return {k: [v[i] for i in keep] for k, v in steps.items()}


def record(run_dir: Path) -> dict[str, Any]:
    result = json.loads((run_dir / RESULT).read_text(encoding="utf-8"))
    result["record_version"] = RECORD_VERSION
    result["steps_recorded"] = len(result["steps"].get("step", []))
    result["steps"] = downsample_steps(result["steps"])
    result["recipe"] = {
        "data": result["spec"]["data"],
        "validation": result["spec"]["train"]["validation"],
        "rules": "bench/corpus/data.py (build)",
    }
    result["captured"] = {"console-v2": (run_dir / CONSOLE_V2).read_text(encoding="utf-8")}
    if (run_dir / CONSOLE_V1).is_file():
        result["captured"]["console-v1"] = (run_dir / CONSOLE_V1).read_bytes().decode("utf-8", "replace")
    result["model_in_out"] = result.pop("model", None)
    return result


def pack(out: Path, dest: Path = PACKED, keep: set[str] | None = None) -> tuple[int, int]:
    """Write the finished runs under `out/runs/` to `dest`; returns (runs, bytes).

    Args:
        out: The generator's output folder.
        dest: The file written. Defaults to `bench/corpus/runs.jsonl.gz`.
        keep: Only these run ids (the current grid's); runs of specs no longer in it are left out
            and counted on stderr. Defaults to `None`: every finished run.
    """
    runs_dir = out / "runs"
    dirs = (
        sorted(p for p in runs_dir.iterdir() if not p.name.startswith(".") and (p / RESULT).is_file())
        if runs_dir.is_dir()
        else []
    )
    if keep is not None:
        stale = [p for p in dirs if p.name not in keep]
        if stale:
            print(f"left out {len(stale)} finished runs whose spec is no longer in the grid", file=sys.stderr)
        dirs = [p for p in dirs if p.name in keep]
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
        for d in dirs:
            line = json.dumps(record(d), separators=(",", ":"), sort_keys=True)
            gz.write(line.encode("utf-8") + b"\n")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(dest)
    print(f"packed {len(dirs)} runs into {dest} ({len(buf.getvalue()) / 1e6:.2f} MB)", file=sys.stderr)
    return len(dirs), len(buf.getvalue())
