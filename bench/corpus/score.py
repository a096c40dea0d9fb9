"""Score cifar-doctor's verdicts on the run corpus, from every input each run offers.

A run is scored from each log shape its truth says carries the evidence (`log`; the history-only
shapes, CSV, History JSON and TensorBoard, unless `history` is false), from its arrays alone
(`data`) and from its arrays with its trained model (`model+data`, when the model was kept). A
trial is **right** when the primary verdict is in the run's `expected` or `also_acceptable`, and
**forbidden** when it is in `must_not` (a pipeline bug called `overfitting` or `healthy`, a healthy
run called a pipeline bug): worse than a miss.

Folds: every run belongs to one of `FOLDS` folds by its family (data x model), never by run, so
that a threshold fitted on some folds is judged on families it never saw. The rules of the
package are not fitted on the corpus, so every figure printed here is out-of-sample; the per-fold
figures show how much they vary between families.

Usage (from the repository root):

    python -m bench.corpus.score [--corpus bench/corpus/runs.jsonl.gz] [--inputs log data model+data]
                                 [--only CAUSE|KIND|FAMILY] [--out out/corpus-score.jsonl] [-v]

It prints the confusion by cause, per-cause precision and recall, the forbidden verdicts (and those
at confidence >= 0.7), the reliability table (confidence bins against observed accuracy) and ends
with `accuracy R/N = X%, forbidden F (F7 at confidence >= 0.7)`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cifar_doctor.measure.history import finite
from cifar_doctor.sources.history import history_from_dict

from .effects import BN_MODELS, EFFECTS_DIR
from .grid import KINDS
from .load import DEFAULT_OUT, CorpusRun, load_runs, model_path, rebuild_arrays, render_log
from .pack import PACKED
from .shapes import HISTORY_SHAPES, REPRINT_MIN_EPOCHS, REPRINT_SHAPES

#: Cross-validation folds, drawn by family.
FOLDS = 5

#: Shapes that never carry a printed `evaluate()` line: the history files (`shapes.HISTORY_SHAPES`,
#: which the grid already keeps off such runs) and a run cut off in the middle of an epoch
#: (`truncated`), which never reaches its `evaluate()`. Where only that line shows the bug
#: (`history: false`), they are not scored.
NO_EVALUATE_SHAPES = HISTORY_SHAPES | {"truncated"}

#: The causes `--reprint restored` scores: runs without a pipeline bug, whose printed evaluate() a
#: restored best epoch's replaces without erasing any evidence.
RESTORABLE_CAUSES = frozenset({"overfitting", "healthy", "regularization-gap"})

#: The verdict that names no cause: an abstention.
ABSTENTION = "insufficient-evidence"

#: Shapes without validation metrics: a log of optimizer steps prints the training loss and
#: accuracy only.
NO_VALIDATION_SHAPES = frozenset({"per-step"})

#: Causes whose evidence in a log lies in the validation curves (or the absence of a problem
#: there): from a log without them, abstaining (`insufficient-evidence`, naming validation metrics
#: as what would settle it) is the right answer, and is accepted beside the run's truth.
VALIDATION_SIDE_CAUSES = frozenset(
    {
        "eval-input-scale-mismatch",
        "eval-labels-misaligned",
        "eval-distribution-shift",
        "train-test-leakage",
        "overfitting",
        "regularization-gap",
        "class-imbalance",
        "healthy",
    }
)

#: Kinds whose bug no log shows, whatever the packed truth says (the truth is part of what a run id
#: hashes, so the packed runs keep it): scored from their data and model only. A validation split
#: drawn wholly from the training images tracks the training curves exactly as a clean split does
#: until the model memorizes; the leak then shows only as a gap that is missing, and no log says
#: what gap a clean split would have shown (the corpus's six such logs read as healthy runs, an
#: underfit one and BatchNorm's lag).
LOG_BLIND_KINDS = frozenset({"eval-from-train"})

#: Verdicts that are misses, not forbidden verdicts, for a run whose truth is `overfitting`, whatever the
#: packed truth says (the grid's overfitting kinds list `healthy` under `must_not`; a run id hashes the
#: truth, so the correction is here). A forbidden verdict sends the user to a wrong fix: a pipeline bug
#: called overfitting or healthy, overfitting called a pipeline bug. Overfitting called healthy sends
#: the user to no fix; the corpus's such runs end at 0.96-0.98 validation accuracy against 1.0 in
#: training (small digits and wine sets), where either reading is defensible.
MISSES_NOT_FORBIDDEN = {"overfitting": frozenset({"healthy"})}

#: Kinds whose bug lives in a layer: a run whose model was built without it had nothing injected,
#: and is scored as the correct run it is (the `healthy` kind's truth). Draws packed before the grid
#: kept BatchNormalization on 16-px images only (`grid.v_bn_gap`) built `bn-inference-gap` runs on
#: 32-px images with the plain CNN, which has no BatchNormalization layer.
NEEDS_LAYER = {"bn-inference-gap": BN_MODELS}

#: A BatchNormalization gap (`effects.bn_gap`: the kept model's accuracy on its validation images with
#: batch statistics minus with its moving statistics, what `fit` logs) is the run's cause from 0.10, a
#: lag of validation accuracy a user sees and asks about, and from `BN_GAP_STANDARD_ERRORS` standard
#: errors of the difference (independent binomial errors, 0.015-0.06 on the runs' 45 to 1,000 images).
#: Where nothing lags the readings agree within 0.03 (the corpus's class-imbalance and shuffled-eval-label
#: runs with the layer: -0.01 to +0.02); its `healthy` runs with the layer read -0.02 to +0.43.
BN_GAP_MATERIAL = 0.10

#: Standard errors a material BatchNormalization gap must also exceed (`BN_GAP_MATERIAL`).
BN_GAP_STANDARD_ERRORS = 3.0

#: An `overfitting` run (small data, a fine-tuned base) whose validation loss is still at its lowest in
#: the last epoch and whose validation accuracy ends within this of the training accuracy never
#: overfitted: overfitting is the turn of the validation curve, and a lag under five points on the
#: runs' 45 to 1,000 validation images (standard errors of 0.01-0.05) is nothing a user asks about.
#: `healthy` is then right as well. On the corpus and draws 2-7, five runs qualify (gaps 0.000-0.030),
#: every one with a validation loss still falling; the next closest turned (0.014 with a 7.8% rise).
OVERFIT_GAP_MATERIAL = 0.05

#: A verdict at or above this confidence that is forbidden is the failure the tool must never make.
CONFIDENT = 0.7

#: Confidence bins of the reliability table (lower bounds; the last bin closes at 1.0).
BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)

FILE_SUFFIX = {"csvlogger": ".csv", "history-json": ".json", "tensorboard": ".tfevents"}


@dataclass
class Trial:
    """One diagnosis of one run from one input."""

    run_id: str
    family: str
    fold: int
    cause: str
    kind: str
    severity: str
    source: str
    expected: list[str]
    accepted: list[str]
    forbidden: list[str]
    verdict: str = ""
    confidence: float = 0.0
    also: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    error: str = ""
    seconds: float = 0.0

    @property
    def right(self) -> bool:
        return self.verdict in self.accepted

    @property
    def is_forbidden(self) -> bool:
        return self.verdict in self.forbidden


def input_kind(source: str) -> str:
    """The kind of input a trial's source is, as `cifar_doctor.calibration.source_of` names it (a log that
    starts after training did is `partial-log` there, which `diagnose_trial` tells from the log it read)."""
    return {"data": "data", "model+data": "data+model"}.get(source, "log")


def fold_of(family: str) -> int:
    """The fold of a family: a stable hash, so a family never straddles folds."""
    return int(hashlib.sha1(family.encode()).hexdigest(), 16) % FOLDS


@lru_cache(maxsize=1)
def measured_effects() -> dict[str, dict[str, Any]]:
    """Every committed measurement of `effects.py` (`bench/corpus/effects/*.json`), by run id."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(EFFECTS_DIR.glob("*.json")):
        out.update(json.loads(path.read_text(encoding="utf-8"))["runs"])
    return out


def bn_gap_opened(run: CorpusRun) -> bool | None:
    """Whether the run's BatchNormalization gap is material (`effects.bn_gap`: `BN_GAP_MATERIAL` and
    `BN_GAP_STANDARD_ERRORS`), or `None` where it was not measured (no such layer, no kept model)."""
    m = measured_effects().get(run.run_id, {}).get("bn")
    if m is None:
        return None
    gap = m["batch_statistics"] - m["inference"]
    return gap >= BN_GAP_MATERIAL and gap >= BN_GAP_STANDARD_ERRORS * m["se"]


def overfitting_never_showed(run: CorpusRun) -> bool:
    """Whether the run's last epoch has its lowest validation loss and an accuracy gap (training minus
    validation) under `OVERFIT_GAP_MATERIAL`: no turn, no lag. `False` without both curves."""
    h = history_from_dict(run.history, source=run.run_id)  # the package's own reading of the metric names
    a, v, vl = ([x for x in series if finite(x)] for series in (h.acc, h.val_acc, h.val_loss))
    if not (a and v and vl):
        return False
    return vl[-1] <= min(vl) and a[-1] - v[-1] < OVERFIT_GAP_MATERIAL


def effective_truth(run: CorpusRun) -> tuple[str, dict[str, Any]]:
    """The run's cause and truth, as what acted: the `healthy` kind's where the injected layer was never
    built (`NEEDS_LAYER`) or the measured BatchNormalization gap of a `bn-inference-gap` run never
    opened; the `bn-inference-gap` kind's where a correct run's gap did (`BN_GAP_MATERIAL`); `healthy`
    accepted beside `overfitting` where the curves never showed it (`overfitting_never_showed`)."""
    if run.cause == "overfitting" and overfitting_never_showed(run):
        truth = dict(run.truth)
        truth["also_acceptable"] = sorted({*truth.get("also_acceptable", []), "healthy"})
        return run.cause, truth
    layered = NEEDS_LAYER.get(run.kind)
    if layered is not None and run.record["spec"]["model"]["kind"] not in layered:
        return "healthy", KINDS["healthy"].truth().to_dict()
    opened = bn_gap_opened(run)
    if run.kind == "bn-inference-gap" and opened is False:
        return "healthy", KINDS["healthy"].truth().to_dict()
    if run.cause == "healthy" and opened:
        bn = KINDS["bn-inference-gap"]
        return bn.cause, bn.truth().to_dict()
    return run.cause, run.truth


def plan(
    run: CorpusRun, inputs: tuple[str, ...], models: Path = DEFAULT_OUT, reprint: str | None = None
) -> list[Trial]:
    """The trials a run offers among `inputs` (`log`, `data`, `model+data`); models are looked for under
    `models`/runs/ (the generator's output folder). With `reprint` (a key of `REPRINT_SHAPES`), the log
    is scored once, in that shape (a custom loop printing 2 or 3 places or every fifth epoch; the console
    pasted from its middle, cut in the middle, with TensorFlow's chatter or with metric objects' names; the
    console with the best epoch restored before `evaluate()`, for runs of `RESTORABLE_CAUSES`), on runs of
    `REPRINT_MIN_EPOCHS` or more, instead of in the run's shapes."""
    cause, truth = effective_truth(run)
    det = truth.get("detectable_from", {})
    severity = run.record["spec"]["injections"][0]["severity"] if run.record["spec"]["injections"] else "none"
    base = dict(
        run_id=run.run_id,
        family=run.family,
        fold=fold_of(run.family),
        cause=cause,
        kind=run.kind,
        severity=severity,
        expected=list(truth["expected"]),
        accepted=sorted(set(truth["expected"]) | set(truth.get("also_acceptable", []))),
        forbidden=sorted(set(truth.get("must_not", [])) - MISSES_NOT_FORBIDDEN.get(cause, frozenset())),
    )
    out: list[Trial] = []
    short = reprint is not None and len(run.history.get("loss", [])) < REPRINT_MIN_EPOCHS.get(reprint, 0)
    # a restored evaluate() replaces the one the run printed: only runs whose evaluate() shows no bug
    skipped = short or (reprint == "restored" and (cause not in RESTORABLE_CAUSES or not run.history.get("val_loss")))
    if "log" in inputs and det.get("log", True) and run.kind not in LOG_BLIND_KINDS and not skipped:
        for shape in [REPRINT_SHAPES[reprint]] if reprint else run.shapes:
            if shape in NO_EVALUATE_SHAPES and det.get("history", True) is False:
                continue
            trial = Trial(source=shape, **base)  # type: ignore[arg-type]
            if shape in NO_VALIDATION_SHAPES and cause in VALIDATION_SIDE_CAUSES:
                trial.accepted = sorted({*trial.accepted, ABSTENTION})
            out.append(trial)
    if "data" in inputs and det.get("data"):
        out.append(Trial(source="data", **base))  # type: ignore[arg-type]
    if "model+data" in inputs and det.get("model+data") and model_path(run, models) is not None:
        out.append(Trial(source="model+data", **base))  # type: ignore[arg-type]
    return out


def diagnose_trial(
    run: CorpusRun, t: Trial, work: Path, *, calibrated: bool = True, models: Path = DEFAULT_OUT
) -> None:
    """Run cifar-doctor on the trial's input, in-process, and record its verdict.

    With `calibrated` false the verdict is the rules' own (no reliability table, no abstention),
    and `t.keys` its evidence pattern: what `bench/corpus/calibrate.py` fits the table on.
    """
    from cifar_doctor.api import diagnose
    from cifar_doctor.calibration import source_of, verdict_pattern
    from cifar_doctor.measure.history import from_training_start
    from cifar_doctor.sources.logs import read_history

    t0 = time.perf_counter()
    try:
        kind = input_kind(t.source)
        if t.source == "data" or t.source == "model+data":
            arrays = rebuild_arrays(run, check=False)
            model = str(model_path(run, models)) if t.source == "model+data" else None
            report = diagnose(model=model, calibrated=calibrated, **arrays)
        else:
            text = render_log(run, t.source)
            path = work / f"{run.run_id}-{t.source}{FILE_SUFFIX.get(t.source, '.txt')}"
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")
            history = read_history(path)  # as `diagnose` reads a path, once for both
            kind = source_of(["history"], partial_log=not from_training_start(history))
            report = diagnose(history=history, calibrated=calibrated)
        t.verdict, t.confidence = report.verdict.cause, float(report.verdict.confidence)
        t.also = tuple(a["cause"] for a in report.verdict.also)
        t.keys = verdict_pattern(report.verdict, report.findings, kind)
    except Exception as exc:  # a refused or unreadable input counts as wrong
        t.verdict, t.error = "error", f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    t.seconds = time.perf_counter() - t0


def confidence_bins(trials: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """(bin label, its trials) for each non-empty bin of `BINS`, for anything with a `confidence`."""
    out = []
    for i, lo in enumerate(BINS):
        hi = BINS[i + 1] if i + 1 < len(BINS) else 1.0001
        band = [t for t in trials if lo <= t.confidence < hi]
        if band:
            out.append((f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}", band))
    return out


def reliability(trials: Sequence[Any]) -> list[tuple[str, int, float, float]]:
    """(bin, verdicts, mean stated confidence, observed accuracy) per confidence bin, for anything with a
    `confidence` and a `right` (`Trial`, `calibrate.Applied`)."""
    return [
        (label, len(band), sum(t.confidence for t in band) / len(band), sum(t.right for t in band) / len(band))
        for label, band in confidence_bins(trials)
    ]


def summarize(trials: list[Trial], out: Any = sys.stdout) -> None:
    scored = [t for t in trials if t.verdict]
    print(
        f"{len(scored)} trials on {len({t.run_id for t in scored})} runs, {len({t.family for t in scored})} families",
        file=out,
    )
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for t in scored:
        table[t.cause][t.verdict] += 1
    print("\nConfusion (rows: injected cause, columns: primary verdict given)", file=out)
    for row in sorted(table):
        print(f"  {row:26} " + ", ".join(f"{v} {n}" for v, n in table[row].most_common()), file=out)
    print("\nPer cause (recall: right / trials of that cause; precision: right / verdicts naming it)", file=out)
    given = Counter(t.verdict for t in scored)
    right_given = Counter(t.verdict for t in scored if t.right)
    for cause in sorted(set(table) | set(given)):
        mine = [t for t in scored if t.cause == cause]
        rec = f"{sum(t.right for t in mine)}/{len(mine)}" if mine else "-"
        prec = f"{right_given[cause]}/{given[cause]}" if given[cause] else "-"
        print(f"  {cause:26} recall {rec:>9}   precision {prec:>9}", file=out)
    print("\nBy input", file=out)
    by_source: dict[str, list[Trial]] = defaultdict(list)
    for t in scored:
        by_source[t.source].append(t)
    for src in sorted(by_source):
        ts = by_source[src]
        print(
            f"  {src:14} {sum(t.right for t in ts)}/{len(ts)} right, {sum(t.is_forbidden for t in ts)} forbidden",
            file=out,
        )
    print("\nBy fold (families never split)", file=out)
    for k in range(FOLDS):
        ts = [t for t in scored if t.fold == k]
        if ts:
            print(
                f"  fold {k}: {sum(t.right for t in ts)}/{len(ts)} = {100 * sum(t.right for t in ts) / len(ts):.1f}%"
                f" on {len({t.family for t in ts})} families",
                file=out,
            )
    forbidden = [t for t in scored if t.is_forbidden]
    print(f"\nForbidden ({len(forbidden)}):", file=out)
    for t in sorted(forbidden, key=lambda t: -t.confidence)[:40]:
        print(f"  {t.run_id} {t.kind:28} [{t.source}] -> {t.verdict} ({t.confidence:.2f})", file=out)
    # an abstention names no cause, so its confidence promises no cause; the bins hold the committed verdicts,
    # as `calibrate.py`'s do
    committed = [t for t in scored if t.verdict != ABSTENTION]
    abstained = [t for t in scored if t.verdict == ABSTENTION]
    print(
        "\nReliability of committed verdicts (confidence bin: verdicts, mean stated confidence, observed accuracy)",
        file=out,
    )
    for label, n, stated, observed in reliability(committed):
        print(f"  {label:12} {n:5}   stated {stated:.2f}   observed {observed:.2f}", file=out)
    print(f"  abstentions ({ABSTENTION}): {len(abstained)}, acceptable {sum(t.right for t in abstained)}", file=out)
    right = sum(t.right for t in scored)
    n = len(scored)
    f7 = sum(t.is_forbidden and t.confidence >= CONFIDENT for t in scored)
    print(
        f"accuracy {right}/{n} = {100.0 * right / max(n, 1):.1f}%, forbidden {len(forbidden)} "
        f"({f7} at confidence >= {CONFIDENT})",
        file=out,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=PACKED, help="the packed corpus (default: %(default)s)")
    ap.add_argument(
        "--inputs",
        nargs="+",
        default=["log", "data"],
        choices=["log", "data", "model+data"],
        help="which inputs to score from (default: log data; model+data needs the kept models)",
    )
    ap.add_argument(
        "--models",
        type=Path,
        default=DEFAULT_OUT,
        help="the generator's output folder holding runs/<id>/model.keras (default: %(default)s)",
    )
    ap.add_argument("--only", default=None, help="only runs whose cause, kind or family contains this")
    ap.add_argument("--out", type=Path, default=None, help="write every trial as JSON lines here")
    ap.add_argument(
        "--rules",
        action="store_true",
        help="score the rules' own verdicts: no reliability table, no abstention (what calibrate.py fits on)",
    )
    ap.add_argument(
        "--reprint",
        choices=sorted(REPRINT_SHAPES),
        default=None,
        help="score each run's log once, as users print and paste it, instead of in the run's shapes: a custom "
        "loop printing 2 or 3 decimal places (2, 3) or every fifth epoch (every5); the console pasted from its "
        "middle (tail), with its middle cut out (cut), with its best epoch restored before evaluate() (restored), "
        "with TensorFlow's chatter (chatter), metric objects' names (renamed) or timestamps (stamped); the Keras 2 "
        "console hard-wrapped at 80 columns (wrapped) or quoted with '> ' (quoted)",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="print every trial")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not args.corpus.is_file():
        print(f"Error: no corpus at {args.corpus}; build it with python -m bench.corpus, then pack it", file=sys.stderr)
        return 2
    runs = load_runs(args.corpus)
    if args.only:
        runs = [r for r in runs if args.only in r.cause or args.only in r.kind or args.only in r.family]
    unmeasured = [r for r in runs if r.record["spec"]["model"]["kind"] in BN_MODELS and bn_gap_opened(r) is None]
    if unmeasured:
        print(
            f"note: {len(unmeasured)} runs with BatchNormalization have no measured gap and keep their packed truth; "
            f"measure them with python -m bench.corpus.effects --corpus {args.corpus} --models {args.models}",
            file=sys.stderr,
        )
    trials: list[Trial] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            for t in plan(run, tuple(args.inputs), args.models, args.reprint):
                diagnose_trial(run, t, Path(tmp), calibrated=not args.rules, models=args.models)
                trials.append(t)
                if args.verbose:
                    mark = "ok " if t.right else ("FORBIDDEN" if t.is_forbidden else "miss")
                    print(
                        f"{mark:9} {t.run_id} {t.kind:28} {t.source:13} {t.verdict} ({t.confidence:.2f}) {t.error}",
                        flush=True,
                    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as f:
            for t in trials:
                f.write(json.dumps(asdict(t)) + "\n")
    summarize(trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
