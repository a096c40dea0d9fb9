"""The engine and the verdict: skipped and crashed checks, precedence, confidence."""

from __future__ import annotations

from cifar_doctor.counterfactual import Counterfactual
from cifar_doctor.diagnosis import decide
from cifar_doctor.engine import run_checks
from cifar_doctor.findings import Finding, Fix, Severity
from cifar_doctor.inputs import Inputs
from cifar_doctor.registry import CheckSpec
from cifar_doctor.report import Report


def _finding(code, cause, severity=Severity.ERROR, **evidence):
    return Finding(
        code=code,
        name="some-problem",
        severity=severity,
        message=f"{code} fired.",
        evidence=evidence,
        cause=cause,
        fix=Fix("Do something."),
    )


def test_skip_reasons_are_a_tuple_of_phrases():
    spec = CheckSpec("MDL998", "needs-model-and-loss", lambda inputs: [], requires=("model", "loss"))
    _, outcomes = run_checks(Inputs(), [spec])
    assert outcomes[0].missing == ("needs a model (model)", "needs the training loss (loss, or a compiled model)")
    assert outcomes[0].reason == "; ".join(outcomes[0].missing)
    _, outcomes = run_checks(Inputs(), [spec], hints={"model": "--model"})
    assert outcomes[0].missing == ("needs a model (--model)", "needs the training loss")


def test_superseded_finding_is_dropped_on_the_same_split_only():
    def general(inputs):
        return [
            Finding("PRE998", "general", Severity.ERROR, "test fired.", split="test"),
            Finding("PRE998", "general", Severity.ERROR, "val fired.", split="val"),
        ]

    def specific(inputs):
        return [Finding("PRE997", "specific", Severity.ERROR, "test only.", split="test")]

    specs = [
        CheckSpec("PRE997", "specific", specific),
        CheckSpec("PRE998", "general", general, superseded_by=("PRE997",)),
    ]
    findings, outcomes = run_checks(Inputs(), specs)
    assert [(f.code, f.split) for f in findings] == [("PRE997", "test"), ("PRE998", "val")]
    assert [o.findings for o in outcomes] == [1, 1]  # counts of the findings kept
    # without the superseding check (not selected), the superseded one keeps every finding
    findings, _ = run_checks(Inputs(), specs[1:])
    assert len(findings) == 2


def test_a_finding_about_the_whole_run_is_superseded_by_a_finding_on_any_split():
    def whole_run(inputs):
        return [Finding("LOG998", "whole-run", Severity.ERROR, "the run.")]

    def on_train(inputs):
        return [Finding("LOG997", "on-train", Severity.WARNING, "train.", split="train")]

    specs = [
        CheckSpec("LOG997", "on-train", on_train),
        CheckSpec("LOG998", "whole-run", whole_run, superseded_by=("LOG997",)),
    ]
    findings, outcomes = run_checks(Inputs(), specs)
    assert [f.code for f in findings] == ["LOG997"]
    assert [o.findings for o in outcomes] == [1, 0]


def test_finding_messages_use_the_front_ends_words():
    def assumes(inputs):
        return [
            Finding(
                "LOG998",
                "assumes-k",
                Severity.WARNING,
                "At chance (assuming 10 classes; pass {classes} if not).",
                evidence={"from": "{classes_arg}"},
                fix=Fix("Pass {classes}, or the model ({model})"),
            )
        ]

    spec = CheckSpec("LOG998", "assumes-k", assumes)
    python = run_checks(Inputs(), [spec])[0][0]
    assert python.message == "At chance (assuming 10 classes; pass classes=K if not)."
    assert python.fix.title == "Pass classes=K, or the model (model)" and python.evidence["from"] == "classes"
    cli = run_checks(
        Inputs(), [spec], hints={"classes": "--classes K", "classes_arg": "--classes", "model": "--model"}
    )[0][0]
    assert "pass --classes K if not" in cli.message and cli.fix.title == "Pass --classes K, or the model (--model)"
    assert "--" not in python.message + python.fix.title


def test_crashing_check_is_recorded_and_run_goes_on():
    def boom(inputs):
        raise RuntimeError("broken")

    def fine(inputs):
        return [_finding("PRE999", "overfitting", Severity.WARNING)]

    specs = [CheckSpec("PRE998", "boom-check", boom), CheckSpec("PRE999", "fine-check", fine)]
    findings, outcomes = run_checks(Inputs(), specs)
    assert [o.status for o in outcomes] == ["crashed", "ran"]
    assert "RuntimeError: broken" in outcomes[0].reason
    assert len(findings) == 1


def test_pipeline_bug_outranks_overfitting():
    v = decide(
        [_finding("FIT001", "overfitting", Severity.WARNING), _finding("LOG001", "eval-input-scale-mismatch")],
        ran=["FIT001", "LOG001"],
    )
    assert v.cause == "eval-input-scale-mismatch"
    assert [a["cause"] for a in v.also] == ["overfitting"]
    assert v.evidence["codes"] == ["LOG001"]


def test_same_severity_uses_precedence():
    v = decide([_finding("FIT001", "overfitting"), _finding("LBL001", "label-format-mismatch")], ran=["x"])
    assert v.cause == "label-format-mismatch"


def test_corroboration_raises_confidence():
    one = decide([_finding("LOG001", "eval-input-scale-mismatch")], ran=["LOG001"])
    two = decide(
        [_finding("LOG001", "eval-input-scale-mismatch"), _finding("PRE001", "eval-input-scale-mismatch")],
        ran=["LOG001", "PRE001"],
    )
    assert two.confidence > one.confidence


def test_confirmed_counterfactual_is_cited():
    cf = Counterfactual(
        "PRE001",
        "test",
        {"scale": 1 / 255},
        images=100,
        before={"accuracy": 0.53, "loss": 190.0},
        after={"accuracy": 0.64, "loss": 1.0},
        accuracy_gain=0.11,
        confirmed=True,
        summary="Measured: 0.64 instead of 0.53.",
    )
    v = decide([_finding("PRE001", "eval-input-scale-mismatch")], ran=["PRE001"], counterfactuals=[cf])
    assert v.confidence == 0.99
    assert "0.64" in v.explanation
    assert v.evidence["counterfactual"]["after"]["accuracy"] == 0.64


def test_no_findings_is_healthy_only_if_checks_ran():
    assert decide([], ran=["PRE001", "LBL001"]).cause == "healthy"
    v = decide([], ran=[], missing=["needs a model (--model)"])
    assert v.cause == "insufficient-evidence"
    assert "--model" in v.explanation


def test_advice_without_cause_does_not_decide():
    v = decide([_finding("MDL003", None, Severity.INFO)], ran=["MDL003"])
    assert v.cause == "healthy"


def test_exit_codes_follow_fail_on():
    r = Report(verdict=decide([], ran=["x"]), findings=[_finding("FIT001", "overfitting", Severity.WARNING)])
    assert r.exit_code("error") == 0
    assert r.exit_code("warning") == 1
    assert r.exit_code("info") == 1
    assert r.exit_code("never") == 0


def test_findings_sorted_stably_by_severity_then_code():
    fs = [
        _finding("LBL006", None, Severity.WARNING),
        _finding("PRE001", None),
        _finding("DAT001", None, Severity.INFO),
        _finding("LOG001", None),
    ]
    r = Report(verdict=decide(fs, ran=["x"]), findings=fs)
    assert [f.code for f in r.findings] == ["LOG001", "PRE001", "LBL006", "DAT001"]


def test_missing_evidence_is_listed_once():
    # MDL001 and MDL002 both miss the model: one phrase each in `missing`, listed once
    v = decide(
        [],
        ran=["LOG001"],
        missing=[
            "needs a model (model)",
            "needs a model (model)",
            "needs the training loss (loss, or a compiled model)",
        ],
    )
    assert v.cause == "healthy"
    assert v.explanation.count("needs a model (model)") == 1 and "needs the training loss" in v.explanation


def test_direct_data_evidence_leads_the_explanation():
    log = Finding(
        code="LOG001",
        name="saturated-eval-loss",
        severity=Severity.ERROR,
        message="Log says so.",
        cause="eval-input-scale-mismatch",
    )
    data = Finding(
        code="PRE001",
        name="train-test-scale-mismatch",
        severity=Severity.ERROR,
        message="Data says so.",
        cause="eval-input-scale-mismatch",
        evidence={"scale_ratio": 255.0},
    )
    v = decide([log, data], ran=["LOG001", "PRE001"])
    assert v.explanation.startswith("Data says so.")
    assert v.evidence["scale_ratio"] == 255.0 and v.evidence["codes"] == ["LOG001", "PRE001"]
