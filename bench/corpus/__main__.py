"""Generate, list or pack the corpus of real Keras training runs with known causes.

Usage:

    python -m bench.corpus --jobs N [--out out/corpus] [--limit-runs K] [--only FAMILY_OR_KIND]
    python -m bench.corpus list [--only ...]        # the grid: counts by cause, family, shape
    python -m bench.corpus pack [--out out/corpus]  # -> bench/corpus/runs.jsonl.gz

`--only` keeps the runs whose family (`cifar10-c3-gray16/cnn-bn`), data family (`cifar10-c3-gray16`),
model family (`cnn-bn`), kind (`test-not-rescaled`) or cause (`overfitting`) equals it.
Finished runs are skipped, so the command resumes where it stopped.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from .load import DEFAULT_OUT


def select(grid: list, only: str | None, limit: int | None) -> list:
    if only:
        grid = [s for s in grid if only in (s.family, s.family.split("/")[0], s.family.split("/")[1], s.kind, s.cause)]
    return grid[:limit] if limit else grid


def summary(grid: list) -> str:
    from .grid import estimated_seconds

    lines = [
        f"{len(grid)} runs, {len({s.family for s in grid})} families, "
        f"{sum(s.verbose1 for s in grid)} with a verbose=1 twin"
    ]
    for title, counter in (
        ("cause", Counter(s.cause for s in grid)),
        ("severity", Counter(s.severity for s in grid)),
        ("kind", Counter(s.kind for s in grid)),
        ("family", Counter(s.family for s in grid)),
        ("shape", Counter(sh for s in grid for sh in s.shapes)),
    ):
        lines.append(f"\nby {title}:")
        lines += [f"  {n:4d}  {k}" for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]
    est = sum(estimated_seconds(s.data, s.model, s.train) * (2 if s.verbose1 else 1) for s in grid)
    lines.append(f"\nestimated CPU time: {est / 3600:.1f} h on one job")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", nargs="?", default="run", choices=["run", "list", "pack"])
    ap.add_argument("--jobs", type=int, default=1, help="job processes (one thread each). Defaults to 1.")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder. Defaults to out/corpus.")
    ap.add_argument("--limit-runs", type=int, default=None, help="only the first K runs of the selection")
    ap.add_argument("--only", default=None, help="a family, data or model family, kind or cause")
    ap.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="pack: the file written (bench/corpus/runs.jsonl.gz; a draw: bench/corpus/draws/drawK.jsonl.gz)",
    )
    ap.add_argument(
        "--draw",
        type=int,
        default=0,
        help="draw fresh runs of every kind from other seeds (0, the default: the committed corpus); "
        "use with its own --out; `pack` then writes bench/corpus/draws/drawK.jsonl.gz unless --dest says",
    )
    a = ap.parse_args(argv)
    from .grid import GRID, build_grid

    runs = GRID if a.draw == 0 else build_grid(a.draw)
    if a.command == "pack":
        from .pack import PACKED, pack

        # a draw never overwrites the committed corpus: it has its own file beside the other draws
        default = PACKED if a.draw == 0 else PACKED.parent / "draws" / f"draw{a.draw}.jsonl.gz"
        pack(a.out, a.dest or default, keep={s.run_id for s in runs})
        return 0
    grid = select(runs, a.only, a.limit_runs)
    if a.command == "list":
        print(summary(grid))
        return 0
    if not grid:
        print(f"Error: no run matches --only {a.only}", file=sys.stderr)
        return 2
    from .generate import generate

    return 1 if generate(grid, a.out, a.jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
