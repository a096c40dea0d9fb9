"""The reliability table: confidences as measured frequencies, abstention where evidence was mostly wrong."""

from __future__ import annotations

import json

import pytest

from cifar_doctor import diagnose
from cifar_doctor.calibration import (
    ABSTAIN_MIN_RUNS,
    CEILING,
    FLOOR,
    Table,
    calibrate,
    pattern_keys,
    shipped,
    source_of,
)
from cifar_doctor.diagnosis import Verdict
from cifar_doctor.findings import Finding, Severity

STORY = {
    "loss": [1.78, 1.37, 1.21],
    "accuracy": [0.36, 0.51, 0.57],
    "val_loss": [8.68, 8.97, 7.73],
    "val_accuracy": [0.45, 0.44, 0.51],
}


def make_table(nodes: dict[str, tuple[float, float]], *, strength: float = 4.0, abstain: float = 0.4) -> Table:
    return Table(nodes, strength, abstain, 0.7, {})


def finding(code: str, cause: str, severity: Severity = Severity.WARNING) -> Finding:
    return Finding(code=code, name="x", severity=severity, message="m", cause=cause)


def verdict(cause: str, codes: list[str], confidence: float = 0.7) -> Verdict:
    return Verdict(cause, confidence, "Because.", {"codes": codes}, [])


# --- the table ------------------------------------------------------------------------------


def test_a_pattern_seen_on_many_runs_speaks_for_itself():
    t = make_table({"overfitting": (100, 70), "overfitting|log": (100, 70), "overfitting|log|FIT001:w": (400, 100)})
    p, seen, runs, right = t.precision(pattern_keys("overfitting", "log", "FIT001:w"))
    assert seen == "overfitting|log|FIT001:w" and (runs, right) == (400, 100)
    assert p == pytest.approx(0.25, abs=0.01)


def test_an_unseen_pattern_inherits_its_parents_frequency():
    t = make_table({"overfitting": (50, 40), "overfitting|log": (50, 40)})
    p, seen, *_ = t.precision(pattern_keys("overfitting", "log", "FIT009:e"))
    assert seen == "overfitting|log"
    assert 0.75 < p < 0.8  # 40/50 shrunk a little towards the corpus prior 0.7


def test_a_pattern_seen_on_few_runs_is_shrunk_towards_its_parent():
    t = make_table({"healthy": (200, 180), "healthy|log": (200, 180), "healthy|log|ran:FIT+LOG": (2, 0)})
    p, *_ = t.precision(pattern_keys("healthy", "log", "ran:FIT+LOG"))
    assert 0.5 < p < 0.9  # two wrong runs do not make it 0


def test_source_names_the_inputs_given():
    assert source_of(["history"]) == "log"
    assert source_of(["train_x", "eval_x", "labels"]) == "data"
    assert source_of(["train_x", "model", "evaluator"]) == "data+model"
    assert source_of([]) == "none"
    assert source_of(["history", "train_x"], partial_log=True) == "data+partial-log"


def test_a_pasted_log_gets_patterns_of_its_own_and_leaves_the_others_as_they_were():
    from bench.corpus.calibrate import Row, fit

    def row(run_id: str, kind: str, cause: str, right: bool) -> Row:
        keys = (cause, f"{cause}|{kind}", f"{cause}|{kind}|FIT001:w")
        return Row(run_id, 0, kind, kind, "c", cause, keys, right, False, False, False, 0.7)

    whole = [
        row("a", "log", "overfitting", True),
        row("b", "log", "overfitting", False),
        row("c", "log", "healthy", True),
    ]
    pasted = [row("a", "partial-log", "overfitting", False), row("d", "partial-log", "unstable-training", False)]
    alone, both = fit(whole, 8.0, 0.0), fit(whole + pasted, 8.0, 0.0)
    assert {k: v for k, v in both.nodes.items() if "partial-log" not in k} == {
        **alone.nodes,
        "unstable-training": (0, 0),
    }
    assert both.prior == alone.prior and both.nodes["overfitting|partial-log"] == (1, 0)
    # a cause seen on pasted logs only is judged at its own frequency, shrunk towards the prior
    p, seen, *_ = both.precision(pattern_keys("unstable-training", "partial-log", "FIT001:w"))
    assert seen == "unstable-training|partial-log|FIT001:w" and p < both.prior


# --- calibrate --------------------------------------------------------------------------------


def test_confidence_becomes_the_measured_frequency_with_its_record():
    t = make_table({"overfitting": (80, 60), "overfitting|log": (80, 60)})
    v = calibrate(
        verdict("overfitting", ["FIT001"]), [finding("FIT001", "overfitting")], given=["history"], settle={}, table=t
    )
    assert v.cause == "overfitting"
    assert v.confidence == pytest.approx(t.precision(pattern_keys("overfitting", "log", "FIT001:w"))[0])
    rec = v.evidence["calibration"]
    assert rec["pattern"] == "overfitting|log|FIT001:w" and rec["matched"] == "overfitting|log"
    assert rec["runs"] == 80 and rec["right"] == 60 and rec["rules_confidence"] == 0.7


def test_weak_evidence_abstains_and_names_what_would_settle_it():
    t = make_table({"unstable-training": (60, 10), "unstable-training|log": (60, 10)})
    v = calibrate(
        verdict("unstable-training", ["FIT004"]),
        [finding("FIT004", "unstable-training")],
        given=["history"],
        settle={"eval_x": "test or validation images (--data)", "evaluator": "a model (--model)"},
        table=t,
    )
    assert v.cause == "insufficient-evidence"
    assert v.evidence["abstained_from"] == "unstable-training"
    assert v.evidence["needs"] == ["test or validation images (--data)"]  # the images settle first
    assert v.also[0]["cause"] == "unstable-training" and v.also[0]["confidence"] < t.abstain_below
    assert "What would settle it: test or validation images (--data)." in v.explanation
    assert v.confidence == pytest.approx(1 - t.precision(pattern_keys("unstable-training", "log", "FIT004:w"))[0])


def test_strong_evidence_does_not_abstain():
    t = make_table({"unstable-training": (60, 50), "unstable-training|log": (60, 50)})
    v = calibrate(
        verdict("unstable-training", ["FIT004"]), [finding("FIT004", "unstable-training")], given=["history"],
        settle={}, table=t,
    )  # fmt: skip
    assert v.cause == "unstable-training"


def test_a_pattern_seen_on_a_few_runs_does_not_overturn_the_rule():
    # never right on 3 runs bounds the pattern's precision only below 0.63: too few to abstain on
    t = make_table({"eval-input-scale-mismatch": (3, 0), "eval-input-scale-mismatch|log": (3, 0)}, strength=1)
    keys = pattern_keys("eval-input-scale-mismatch", "log", "LOG007:e")
    assert t.precision(keys)[0] < t.abstain_below and t.precision(keys)[2] < ABSTAIN_MIN_RUNS
    v = calibrate(
        verdict("eval-input-scale-mismatch", ["LOG007"]), [finding("LOG007", "eval-input-scale-mismatch")],
        given=["history"], settle={}, table=t,
    )  # fmt: skip
    assert v.cause == "eval-input-scale-mismatch" and v.confidence < t.abstain_below


def test_insufficient_evidence_never_abstains_again():
    t = make_table({"insufficient-evidence": (60, 1)})
    v = calibrate(verdict("insufficient-evidence", []), [], given=["history"], settle={}, table=t)
    assert v.cause == "insufficient-evidence" and "abstained_from" not in v.evidence


def test_a_measured_fix_keeps_its_confidence():
    t = make_table({"eval-input-scale-mismatch": (60, 1)})
    v = Verdict("eval-input-scale-mismatch", 0.99, "Measured.", {"codes": ["PRE001"], "counterfactual": {}}, [])
    assert calibrate(v, [], given=["model"], settle={}, table=t) is v


def test_confidences_stay_inside_the_floor_and_ceiling():
    t = make_table({"healthy": (1000, 1000), "not-learning": (1000, 0)}, strength=1, abstain=0.0)
    hi = calibrate(Verdict("healthy", 0.9, "ok", {"families": ["LOG"]}, []), [], given=["history"], settle={}, table=t)
    lo = calibrate(verdict("not-learning", ["LOG002"]), [], given=["history"], settle={}, table=t)
    assert hi.confidence == CEILING and lo.confidence == FLOOR


# --- the shipped table --------------------------------------------------------------------------


def test_the_shipped_table_was_fitted_out_of_fold_on_hundreds_of_runs():
    t = shipped()
    assert t is not None
    assert t.meta["runs"] >= 300 and t.meta["folds"] >= 5
    assert 0 < t.prior < 1 and t.prior_strength > 0
    oof = t.meta["out_of_fold"]
    assert oof["right"] <= oof["trials"]
    # every level of a pattern is present whenever its finest is
    for key in t.nodes:
        parts = key.split("|")
        for i in range(1, len(parts)):
            assert "|".join(parts[:i]) in t.nodes


def test_diagnose_states_the_measured_frequency_and_where_it_comes_from():
    report = diagnose(history=STORY)
    v = report.verdict
    assert v.cause == "eval-input-scale-mismatch"
    rec = v.evidence["calibration"]
    assert rec["pattern"].startswith("eval-input-scale-mismatch|log|")
    assert round(v.confidence, 2) == rec["frequency"]
    assert rec["runs"] > 0
    doc = json.loads(report.to_json())
    assert doc["schema_version"] == "2.4" and doc["verdict"]["evidence"]["calibration"]["pattern"] == rec["pattern"]


def test_a_console_pasted_from_its_middle_is_judged_by_the_patterns_of_pasted_logs(tmp_path):
    from tests.conftest import keras3_console

    patterns = {}
    for name, first in (("whole", 1), ("pasted", 4)):
        path = tmp_path / f"{name}.txt"
        path.write_text(keras3_console(STORY, first=first, total=12))
        patterns[name] = diagnose(history=str(path)).verdict.evidence["calibration"]["pattern"]
    assert "|log|" in patterns["whole"] and "|partial-log|" in patterns["pasted"]


def test_diagnose_without_calibration_gives_the_rules_own_verdict():
    v = diagnose(history=STORY, calibrated=False).verdict
    assert v.cause == "eval-input-scale-mismatch" and "calibration" not in v.evidence
    assert v.confidence == 0.9


def test_draws_joining_the_corpus_keep_its_mix_of_kinds():
    from collections import Counter

    from bench.corpus.calibrate import Row, keep_corpus_mix

    def row(run_id: str) -> Row:
        return Row(run_id, 0, "log", "csvlogger", "c", "healthy", ("healthy",), True, False, False, False, 0.7)

    # the corpus: 8 healthy runs, 2 of a bug; a draw adds 2 of each
    kinds = {f"h{i}": "healthy" for i in range(10)} | {f"b{i}": "bug" for i in range(4)}
    rows = [row(i) for i in kinds]
    keep_corpus_mix(rows, Counter({"healthy": 8, "bug": 2}), kinds)
    weight = Counter()
    for r in rows:
        weight[kinds[r.run_id]] += r.weight
    assert weight["healthy"] / weight["bug"] == pytest.approx(4.0)  # 8 : 2, as in the corpus
    assert sum(weight.values()) == pytest.approx(14.0)  # the number of runs


def test_an_input_carried_from_a_fit_gives_what_refitting_its_trials_would():
    """`--carry`: a fit on the other inputs' trials plus the carried input's nodes is the fit on all of them."""
    from bench.corpus.calibrate import Row, carried, fit, with_carried

    def row(run_id: str, kind: str, cause: str, evidence: str, right: bool, weight: float = 1.0) -> Row:
        keys = (cause, f"{cause}|{kind}", f"{cause}|{kind}|{evidence}")
        return Row(run_id, 0, kind, kind, "c", cause, keys, right, False, False, False, 0.7, weight)

    rows = [
        row("a", "log", "overfitting", "FIT001:w", True, 0.5),
        row("a", "log", "overfitting", "FIT001:w", False, 0.5),
        row("a", "data+model", "overfitting", "MDL006:w", True),
        row("b", "log", "healthy", "ran:FIT", True),
        row("b", "data+model", "healthy", "ran:MDL", False),
        row("c", "data+model", "eval-labels-misaligned", "MDL006:e", True),
    ]
    both = fit(rows, 8.0, 0.0)
    merged = with_carried(fit([r for r in rows if r.kind != "data+model"], 8.0, 0.0), carried(both, "data+model"))
    assert merged.nodes.keys() == both.nodes.keys()
    for key, (n, r) in both.nodes.items():
        assert merged.nodes[key] == pytest.approx((n, r)), key
    assert merged.prior == pytest.approx(both.prior)
