"""A verdict's confidence as a measured frequency, and abstention where the evidence was mostly wrong.

The rules in `diagnosis.decide` pick a cause; how often that pick is right depends on the
evidence behind it. The reliability table (`data/calibration.json`) counts, on the run corpus
(`bench/corpus`: real Keras training runs whose cause was injected), how often each **evidence
pattern** named an acceptable cause. A pattern has three levels, from coarse to fine:

1. the cause (`overfitting`),
2. the cause from a kind of input (`overfitting|log`: the inputs given, among `log`, `data`, `model`;
   a log that starts after training did, a console pasted from its middle, is `partial-log`),
3. the cause from that input with the exact findings behind it, each with its severity
   (`overfitting|log|FIT001:w+FIT003:i`); a `healthy` verdict is keyed by the families that ran.

A verdict's confidence is the precision of its finest pattern, shrunk towards its parent's by
`prior_strength` pseudo-runs: a pattern seen on three runs says little on its own, so it
mostly inherits its parent's frequency, while one seen on sixty speaks for itself. Every run
counts once per kind of input, however many log shapes it was rendered in.

`bench/corpus/calibrate.py` fits the table and its two constants on the corpus and reports
them out-of-fold (families split into folds, never runs), so the shipped confidences are
promises checked on runs they were not fitted on.

Abstention: when the pattern behind a verdict was right less often than `abstain_below`, the
verdict is `insufficient-evidence`, with the rules' cause under `also` at its measured
precision and the one missing input that would settle it named. Its confidence is the measured
frequency with which committing to the rules' cause there would have been wrong.

A verdict confirmed by a counterfactual evaluation (a fix measured to restore accuracy) keeps its
confidence: that is a test on the user's own model, not a frequency on other runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from .diagnosis import Verdict
from .findings import Finding, Severity

#: A confidence is never stated below this or above `CEILING`: a frequency measured on a few
#: hundred runs cannot promise certainty either way.
FLOOR = 0.05

#: See `FLOOR`.
CEILING = 0.98

#: The causes that abstention never replaces: `insufficient-evidence` is already an abstention.
NEVER_ABSTAIN = frozenset({"insufficient-evidence"})

#: Inputs, in the order in which one settles a verdict the others cannot: the images (and with
#: them the labels) show a scale or label bug directly; a model adds what it does with them;
#: a training log adds the curves.
SETTLING_ORDER = ("eval_x", "evaluator", "history")

#: An abstention overturns a rule that rests on the loss math, which a handful of corpus runs
#: cannot do: a pattern seen on 3 runs and never right still bounds its precision only below
#: 0.63 (95%, 1 - 0.05^(1/3)); on 10 runs never right, below 0.26. A pattern (with what it
#: inherited from its parents) on fewer runs than this keeps its verdict, at its frequency.
ABSTAIN_MIN_RUNS = 10.0

_SEVERITY_LETTER = {Severity.ERROR: "e", Severity.WARNING: "w", Severity.INFO: "i"}


@dataclass(frozen=True)
class Table:
    """The reliability table: weighted (runs, right) per pattern, and the two fitted constants."""

    nodes: Mapping[str, tuple[float, float]]
    prior_strength: float
    abstain_below: float
    prior: float
    meta: Mapping[str, Any]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Table:
        nodes = {k: (float(v[0]), float(v[1])) for k, v in d["nodes"].items()}
        return cls(nodes, float(d["prior_strength"]), float(d["abstain_below"]), float(d["prior"]), d.get("meta", {}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "meta": dict(self.meta),
            "prior": round(self.prior, 4),
            "prior_strength": self.prior_strength,
            "abstain_below": self.abstain_below,
            "nodes": {k: [round(n, 3), round(r, 3)] for k, (n, r) in sorted(self.nodes.items())},
        }

    def judge(self, keys: Sequence[str], cause: str) -> tuple[float, bool]:
        """(stated confidence, abstain) for a verdict of `cause` with pattern `keys`: its measured
        frequency, or, below `abstain_below` on at least `ABSTAIN_MIN_RUNS` runs, an abstention stated
        at the frequency it would be wrong."""
        p, _, runs, _ = self.precision(keys)
        if cause in NEVER_ABSTAIN or p >= self.abstain_below or runs < ABSTAIN_MIN_RUNS:
            return stated(p), False
        return stated(1.0 - p), True

    def precision(self, keys: Sequence[str]) -> tuple[float, str, float, float]:
        """(shrunk precision, finest key seen, its runs, its right) for a pattern's keys, coarse to fine."""
        p, seen, n_seen, r_seen = self.prior, "", 0.0, 0.0
        for key in keys:
            if key not in self.nodes:
                break
            n, r = self.nodes[key]
            p = (r + self.prior_strength * p) / (n + self.prior_strength)
            seen, n_seen, r_seen = key, n, r
        return p, seen, n_seen, r_seen


def stated(p: float) -> float:
    """A frequency as a stated confidence: within `FLOOR` and `CEILING`."""
    return min(max(p, FLOOR), CEILING)


@lru_cache(maxsize=1)
def shipped() -> Table | None:
    """The table shipped with the package, or `None` when there is none."""
    try:
        text = resources.files("cifar_doctor").joinpath("data/calibration.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return Table.from_dict(json.loads(text))


#: The requirements (tokens of `inputs.REQUIREMENTS`) that tell the kind of input (`source_of`).
SOURCE_REQUIREMENTS = ("history", "train_x", "eval_x", "model")


#: The kind of input of a log whose first record is not the start of training
#: (`measure.history.from_training_start`): a console pasted from its middle, a run resumed with
#: `initial_epoch`. What the first epochs showed (the loss a fresh softmax starts at, a validation
#: curve's turn) is missing from it, so the same findings name the right cause less often than on a
#: whole log (whole logs' patterns stated 0.95 where 0.86 of the verdicts were right, on the run
#: corpus's consoles pasted from their middle): its patterns are measured on such pastes of the
#: corpus's runs, and leave each cause's root to whole inputs (`bench/corpus/calibrate.py`).
PARTIAL_LOG = "partial-log"


def source_of(given: Sequence[str], *, partial_log: bool = False) -> str:
    """The kind of input a verdict was judged from, e.g. `data+log`, from the requirements given;
    `partial_log`: the log starts after training did (`PARTIAL_LOG`)."""
    kinds = set()
    if "history" in given:
        kinds.add(PARTIAL_LOG if partial_log else "log")
    if "train_x" in given or "eval_x" in given:
        kinds.add("data")
    if "model" in given:
        kinds.add("model")
    return "+".join(sorted(kinds)) or "none"


#: Findings without a cause that a `healthy` verdict is keyed by, as observations that change how
#: often "no problem found" is right: a run that ends with training accuracy above validation
#: accuracy (FIT009) was healthy 63% of the time on the run corpus, against 86% without the gap.
HEALTHY_OBSERVATIONS = ("FIT009",)


def evidence_key(cause: str, codes: Sequence[str], findings: Sequence[Finding], families: Sequence[str]) -> str:
    """The finest level of a pattern: the findings behind the cause with their severities.

    A `healthy` verdict has no findings; the families of checks that ran stand for its evidence,
    with the `HEALTHY_OBSERVATIONS` made.
    """
    if cause == "healthy":
        seen = sorted({f.code for f in findings if f.code in HEALTHY_OBSERVATIONS})
        return "ran:" + "+".join(sorted(families)) + "".join(f"+{c}:i" for c in seen)
    worst: dict[str, Severity] = {}
    for f in findings:
        if f.code in codes and (f.code not in worst or f.severity.rank > worst[f.code].rank):
            worst[f.code] = f.severity
    return "+".join(f"{c}:{_SEVERITY_LETTER.get(worst[c], 'i')}" if c in worst else c for c in sorted(codes)) or "-"


def pattern_keys(cause: str, source: str, evidence: str) -> tuple[str, str, str]:
    """The keys of a pattern, coarse to fine (see the module docstring)."""
    return (cause, f"{cause}|{source}", f"{cause}|{source}|{evidence}")


def verdict_pattern(verdict: Verdict, findings: Sequence[Finding], source: str) -> tuple[str, str, str]:
    """The pattern keys of a verdict as `decide` gave it."""
    codes = verdict.evidence.get("codes", [])
    families = verdict.evidence.get("families", [])
    return pattern_keys(verdict.cause, source, evidence_key(verdict.cause, codes, findings, families))


def calibrate(
    verdict: Verdict,
    findings: Sequence[Finding],
    *,
    given: Sequence[str],
    settle: Mapping[str, str],
    table: Table | None = None,
    partial_log: bool = False,
) -> Verdict:
    """The verdict with its confidence measured on the corpus, or an abstention.

    Args:
        verdict: The rules' verdict (`diagnosis.decide`).
        findings: The findings it was decided from.
        given: The requirements the inputs hold (tokens of `inputs.REQUIREMENTS`; `SOURCE_REQUIREMENTS` are read).
        settle: For each missing requirement, the phrase that says how to supply it.
        table: The reliability table. Defaults to `None` (the shipped one; without one the
            verdict is returned unchanged).
        partial_log: The log starts after training did (`PARTIAL_LOG`). Defaults to `False`.
    """
    table = table or shipped()
    if table is None or "counterfactual" in verdict.evidence:
        return verdict
    source = source_of(given, partial_log=partial_log)
    keys = verdict_pattern(verdict, findings, source)
    p, seen, runs, right = table.precision(keys)
    confidence, abstain = table.judge(keys, verdict.cause)
    record = {
        "pattern": keys[-1],
        "matched": seen or "(none: the corpus prior)",
        "runs": round(runs, 1),
        "right": round(right, 1),
        "frequency": round(stated(p), 2),
        "rules_confidence": round(verdict.confidence, 2),
    }
    also = [_calibrated_also(a, findings, source, table) for a in verdict.also]
    if not abstain:
        evidence = {**verdict.evidence, "calibration": record}
        return replace(verdict, confidence=confidence, evidence=evidence, also=also)
    needed = next((settle[r] for r in SETTLING_ORDER if r in settle), None)
    explanation = (
        f"The findings point to {verdict.cause}, but on the run corpus that evidence ({keys[-1]}) named an "
        f"acceptable cause on {right:.0f} of {runs:.0f} runs ({p:.0%}): too few to decide. "
        f"{verdict.explanation}"
    )
    if needed:
        explanation += f" What would settle it: {needed}."
    evidence = {
        "codes": verdict.evidence.get("codes", []),
        "abstained_from": verdict.cause,
        "calibration": record,
        "needs": [needed] if needed else [],
    }
    first = {"cause": verdict.cause, "confidence": round(stated(p), 2), "codes": verdict.evidence.get("codes", [])}
    return Verdict("insufficient-evidence", confidence, explanation, evidence, [first, *also])


def _calibrated_also(entry: dict[str, Any], findings: Sequence[Finding], source: str, table: Table) -> dict[str, Any]:
    keys = pattern_keys(entry["cause"], source, evidence_key(entry["cause"], entry.get("codes", []), findings, []))
    return {**entry, "confidence": round(stated(table.precision(keys)[0]), 2)}
