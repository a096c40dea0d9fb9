"""Choose the named thresholds of the log checks on training folds; report every choice out-of-fold.

For each threshold in `THRESHOLDS` (a module constant of `cifar_doctor.checks` or
`cifar_doctor.measure`), the rules' verdicts on every log trial of the corpus are computed at each
candidate value, the others left as shipped. Then, for each fold of families, the value that
maximises right verdicts minus `calibrate.FORBIDDEN_COST` times forbidden ones on the *other*
folds is applied to the fold's trials: the out-of-fold figure. The value chosen on every fold is
what the package should ship; a threshold whose out-of-fold figure does not beat the shipped
value's keeps it (ties go to the shipped value).

The fingerprints themselves (ln K, 1/K, the cost of an error) stay derived from the loss math:
the corpus sets how far from them a run may stray, not what they are.

Usage (from the repository root; about 40 s per candidate value on 2 cores):

    python -m bench.corpus.fit [--only NAME ...] [--out out/cal/fit.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .calibrate import FORBIDDEN_COST
from .load import load_runs
from .score import FOLDS, Trial, diagnose_trial, plan

#: (module, name, candidate values). The shipped value is always a candidate.
THRESHOLDS: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("cifar_doctor.checks.fit.overfitting", "OVERFIT_MIN_FINAL_GAP", (0.03, 0.05, 0.08, 0.12)),
    ("cifar_doctor.checks.fit.overfitting", "GAP_WIDENING_MIN", (0.01, 0.02, 0.04, 0.08)),
    ("cifar_doctor.checks.fit.overfitting", "VAL_LOSS_RISE_TOLERANCE", (0.01, 0.03, 0.06, 0.1)),
    ("cifar_doctor.checks.fit.overfitting", "DIVERGENCE_RATIO", (1.25, 1.5, 2.0, 3.0)),
    ("cifar_doctor.checks.fit.overfitting", "DIVERGENCE_SCALE", (0.02, 0.05, 0.1, 0.2)),
    ("cifar_doctor.measure.history", "LOSS_JUMP", (0.05, 0.1, 0.2, 0.4)),
    ("cifar_doctor.checks.log.chance", "TRAIN_ABOVE_CHANCE", (0.1, 0.15, 0.25, 0.35)),
    ("cifar_doctor.measure.history", "TRAIN_LEARNED_FRACTION", (0.5, 0.65, 0.8, 0.9)),
    ("cifar_doctor.checks.log", "SATURATED_COST", (4.0, 6.0, 8.0, 10.0, 14.0)),
    ("cifar_doctor.checks.fit.progress", "UNDERFIT_TRAIN_ACCURACY", (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)),
    ("cifar_doctor.checks.fit.progress", "UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES", (0.2, 0.3, 0.4)),
    ("cifar_doctor.checks.fit.progress", "SWING_FACTOR", (1.25, 1.5, 2.0, 3.0)),
    ("cifar_doctor.checks.fit.progress", "MIN_SWINGS", (2, 3, 4, 5)),
    ("cifar_doctor.checks.fit.overfitting", "LOSS_JUMP_SCALE", (0.02, 0.05, 0.1, 0.2)),
    ("cifar_doctor.checks.fit.memorization", "VAL_DROP", (0.02, 0.04, 0.08)),
    ("cifar_doctor.checks.log", "SATURATION_TRAIN_RATIO", (1.5, 2.0, 3.0, 5.0)),
    ("cifar_doctor.checks.log.saturation", "FLOOR_ACCURACY_ABOVE_CHANCE", (0.2, 0.3, 0.4, 0.5)),
    ("cifar_doctor.checks.log.saturation", "FLOOR_BAND", (0.2, 0.35, 0.5)),
    ("cifar_doctor.checks.log.evaluate", "EVAL_ACCURACY_TOLERANCE", (0.02, 0.05, 0.1)),
    ("cifar_doctor.measure.history", "CHANCE_LOSS_TOLERANCE", (0.02, 0.05, 0.08, 0.12)),
    ("cifar_doctor.measure.history", "UNIFORM_EVAL_TOLERANCE", (0.01, 0.02, 0.04)),
    ("cifar_doctor.measure.history", "NO_LEARNING_ACCURACY_MARGIN", (0.05, 0.1, 0.15, 0.2)),
    ("cifar_doctor.measure.history", "INDEPENDENT_LOSS_SLACK", (0.0, 0.02, 0.05, 0.1, 0.2)),
    ("cifar_doctor.measure.history", "FIRST_LOSS_MARGIN", (0.1, 0.2, 0.3, 0.5, 1.0)),
    ("cifar_doctor.measure.history", "NEAR_CONSTANT_SPAN", (0.0, 0.002, 0.005, 0.01, 0.02)),
    ("cifar_doctor.measure.history", "CHANCE_PEAK_BANDS", (1.0, 1.5, 2.0, 3.0)),
)


def _bind(name: str, value: Any, original: Any) -> list[tuple[Any, Any]]:
    """Set `name` to `value` in every loaded cifar_doctor module that bound the original; returns undo pairs."""
    undo = []
    for modname, mod in list(sys.modules.items()):
        if modname.startswith("cifar_doctor") and getattr(mod, name, None) is original:
            undo.append((mod, original))
            setattr(mod, name, value)
    return undo


def score_at(runs: Sequence[Any], module: str, name: str, value: float) -> list[Trial]:
    """The rules' log trials with `module.name` set to `value`."""
    from cifar_doctor.registry import load_all

    load_all()  # every check module before binding: a constant imported by name is bound in each of them
    mod = importlib.import_module(module)
    original = getattr(mod, name)
    cast = type(original)(value)
    undo = _bind(name, cast, original)
    trials: list[Trial] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for run in runs:
                for t in plan(run, ("log",)):
                    diagnose_trial(run, t, Path(tmp), calibrated=False)
                    trials.append(t)
    finally:
        for m, v in undo:
            setattr(m, name, v)
    return trials


def utility(trials: Sequence[Trial]) -> float:
    return sum(t.right - FORBIDDEN_COST * t.is_forbidden for t in trials)


def fit_one(by_value: dict[float, list[Trial]], shipped: float) -> dict[str, Any]:
    """Per-fold choices and the out-of-fold figures of one threshold."""
    oof: list[Trial] = []
    chosen = {}
    for k in range(FOLDS):
        best = max(
            by_value,
            key=lambda v: (utility([t for t in by_value[v] if t.fold != k]), v == shipped),
        )
        chosen[k] = best
        oof.extend(t for t in by_value[best] if t.fold == k)
    overall = max(by_value, key=lambda v: (utility(by_value[v]), v == shipped))
    base = by_value[shipped]

    def figures(ts: Sequence[Trial]) -> dict[str, int]:
        return {"right": sum(t.right for t in ts), "forbidden": sum(t.is_forbidden for t in ts), "trials": len(ts)}

    return {
        "shipped": shipped,
        "chosen_per_fold": chosen,
        "chosen_on_all": overall,
        "out_of_fold": figures(oof),
        "at_shipped": figures(base),
        "per_value": {str(v): figures(ts) for v, ts in sorted(by_value.items())},
        "utility_per_fold": {
            str(v): [utility([t for t in ts if t.fold == k]) for k in range(FOLDS)]
            for v, ts in sorted(by_value.items())
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", default=None, help="fit only these thresholds (names)")
    ap.add_argument("--out", type=Path, default=Path("out/cal/fit.json"), help="write the figures here")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    runs = load_runs()
    results: dict[str, Any] = {}
    if args.out.is_file():
        results = json.loads(args.out.read_text(encoding="utf-8"))
    for module, name, candidates in THRESHOLDS:
        if args.only and name not in args.only:
            continue
        shipped = getattr(importlib.import_module(module), name)
        values = sorted(set(candidates) | {shipped})
        t0 = time.perf_counter()
        by_value = {v: score_at(runs, module, name, v) for v in values}
        res = fit_one(by_value, shipped)
        res["seconds"] = round(time.perf_counter() - t0)
        results[f"{module}.{name}"] = res
        o, b = res["out_of_fold"], res["at_shipped"]
        print(
            f"{name:26} shipped {shipped:<6g} chosen {res['chosen_on_all']:<6g} per fold "
            f"{[res['chosen_per_fold'][k] for k in range(FOLDS)]}  out-of-fold {o['right']}/{o['trials']} right, "
            f"{o['forbidden']} forbidden  | shipped {b['right']} right, {b['forbidden']} forbidden  ({res['seconds']} s)",
            flush=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
