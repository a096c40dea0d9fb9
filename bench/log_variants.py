"""How the log verdicts hold on logs as users print and paste them: each variant of `score.py --reprint`
against the same runs' own log, over the run corpus and its draws.

For every variant (`bench.corpus.shapes.REPRINT_SHAPES`) and every corpus file, each run the variant
applies to is scored twice with the rules' own verdicts (`score.py --rules`): in the variant, and in the
log it was made from (the custom loop printed to four decimals for the custom-loop variants, the Keras 2
console for `wrapped`, `terminal` and `quoted`, the Keras 3 console otherwise). One line a variant: the runs, then right / forbidden for the log as made and for the
variant, summed over the files.

Usage:

    python bench/log_variants.py [--corpus FILE ...] [--only VARIANT ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus.load import load_runs  # noqa: E402
from bench.corpus.pack import PACKED  # noqa: E402
from bench.corpus.score import diagnose_trial, plan  # noqa: E402
from bench.corpus.shapes import REPRINT_SHAPES  # noqa: E402

#: The log each variant is made from, scored beside it.
SOURCE = {
    "2": "custom-loop",
    "3": "custom-loop",
    "every5": "custom-loop",
    "chatter": "keras3-v1",
    "wrapped": "keras2",
    "terminal": "keras2",
    "terminal-any": "keras2",
    "quoted": "keras2",
}
DEFAULT_SOURCE = "keras3-v2"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    draws = sorted((ROOT / "bench" / "corpus" / "draws").glob("draw*.jsonl.gz"))
    ap.add_argument("--corpus", nargs="+", type=Path, default=[PACKED, *draws], help="packed corpus files")
    ap.add_argument("--only", nargs="+", choices=sorted(REPRINT_SHAPES), default=sorted(REPRINT_SHAPES))
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    runs_by_file = {path: load_runs(path) for path in args.corpus}
    print(f"{'variant':10} {'runs':>5}   {'as made: right, forbidden':>26}   {'variant: right, forbidden':>26}")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.only:
            n = made_right = made_forbidden = right = forbidden = 0
            for runs in runs_by_file.values():
                for run in runs:
                    trials = plan(run, ("log",), reprint=variant)
                    if not trials:
                        continue
                    made = replace(trials[0], source=SOURCE.get(variant, DEFAULT_SOURCE))
                    for t in (made, trials[0]):
                        diagnose_trial(run, t, Path(tmp), calibrated=False)
                    n += 1
                    made_right += made.right
                    made_forbidden += made.is_forbidden
                    right += trials[0].right
                    forbidden += trials[0].is_forbidden
            print(
                f"{variant:10} {n:>5}   {made_right:>5} = {made_right / max(n, 1):6.1%}, {made_forbidden:>3} forbidden"
                f"   {right:>5} = {right / max(n, 1):6.1%}, {forbidden:>3} forbidden",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
