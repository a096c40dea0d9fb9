"""Snapshots of what the CLI prints for a few fixed reports: stdout, stderr and exit code, per format.

The reports are built here, not computed, so a snapshot changes only when a
renderer, the JSON envelope, the exit-code rule or the CLI's stream handling
changes, and the change shows in review. After an intended change:

    CIFAR_DOCTOR_UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cifar_doctor.comparison import ComparisonReport, RunResult
from cifar_doctor.counterfactual import Counterfactual
from cifar_doctor.diagnosis import Verdict
from cifar_doctor.findings import Finding, Fix, Severity
from cifar_doctor.report import CheckOutcome, Report
from cifar_doctor.version import __version__

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("CIFAR_DOCTOR_UPDATE_SNAPSHOTS", "") not in ("", "0")
LOG = "tests/fixtures/logs/seed-question-run1-keras2.txt"

TRANSFORM = {"split": "test", "scale": 0.003922, "offset": 0.0, "expression": "x_test / 255"}


def seed_bug() -> Report:
    """The question's bug: test images 255x the training images, measured on the model."""
    pre = Finding(
        "PRE001",
        "train-test-scale-mismatch",
        Severity.ERROR,
        "x_test is raw 0-255 floats (max 255) while x_train is scaled to [0, 1] (max 1).",
        evidence={
            "scale_ratio": 255.0,
            "train_scheme": "unit",
            "eval_scheme": "raw-float",
            "eval_mean": [125.3, 122.9, 113.8],
        },
        fix=Fix(
            "Scale x_test exactly like x_train (`x_test / 255`)",
            snippet='x_test = x_test.astype("float32") / 255',
            transform=TRANSFORM,
        ),
        cause="eval-input-scale-mismatch",
        explanation="The validation numbers measure the pipeline.",
        split="test",
    )
    log = Finding(
        "LOG001",
        "saturated-eval-loss",
        Severity.ERROR,
        "val_loss / (1 - val_acc) = 15.9 nats per wrong validation prediction.",
        evidence={"val_cost_per_error": 15.88, "train_cost_per_error": 2.86},
        fix=Fix("Preprocess validation and test images exactly like the training images"),
        cause="eval-input-scale-mismatch",
        split="val",
    )
    fit = Finding(
        "FIT001",
        "train-val-gap",
        Severity.WARNING,
        "Training accuracy leads validation by 0.11.",
        evidence={"gap": 0.1064},
        cause="overfitting",
    )
    info = Finding(
        "MDL003",
        "missing-in-model-rescaling",
        Severity.INFO,
        "The model has no Rescaling layer.",
        fix=Fix("Put the scaling inside the model"),
    )
    cf = Counterfactual(
        "PRE001",
        "test",
        TRANSFORM,
        images=1000,
        before={"loss": 7.43, "accuracy": 0.532},
        after={"loss": 1.04, "accuracy": 0.641},
        accuracy_gain=0.109,
        confirmed=True,
        summary="Measured: the same model scores accuracy 0.641 (loss 1.04) on test images with "
        "x_test / 255 applied, against 0.532 (loss 7.43) as given (1000 images).",
    )
    verdict = Verdict(
        "eval-input-scale-mismatch",
        0.99,
        "x_test is raw 0-255 floats while x_train is scaled to [0, 1]. " + cf.summary,
        {"codes": ["LOG001", "PRE001"], "scale_ratio": 255.0},
        [{"cause": "overfitting", "confidence": 0.7, "codes": ["FIT001"]}],
    )
    checks = [
        CheckOutcome("FIT001", "train-val-gap", "ran", None, 1),
        CheckOutcome("LOG001", "saturated-eval-loss", "ran", None, 1),
        CheckOutcome("MDL003", "missing-in-model-rescaling", "ran", None, 1),
        CheckOutcome("PRE001", "train-test-scale-mismatch", "ran", None, 1),
        CheckOutcome("LBL001", "integer-labels-with-categorical-loss", "ran"),
    ]
    return Report(
        verdict,
        [pre, log, fit, info],
        checks,
        inputs={"loss": "categorical_crossentropy", "classes": 10, "classes_from": "labels"},
        counterfactuals=[cf],
    )


def healthy() -> Report:
    checks = [
        CheckOutcome("LOG001", "saturated-eval-loss", "ran"),
        CheckOutcome(
            "MDL001",
            "output-activation-loss-mismatch",
            "skipped",
            "needs a model (--model)",
            missing=("needs a model (--model)",),
        ),
    ]
    return Report(
        Verdict(
            "healthy",
            0.58,
            "No problem found by 1 check (LOG). Not checked: needs a model (--model).",
            {"checks_ran": 1, "families": ["LOG"]},
        ),
        [],
        checks,
        inputs={"classes": None},
    )


def crashed() -> Report:
    report = healthy()
    return Report(
        report.verdict,
        [],
        report.checks + [CheckOutcome("LOG002", "nan-loss", "crashed", "RuntimeError: broken")],
        report.inputs,
    )


def training(batch: int, accumulation: int = 1) -> dict:
    """`runs[i].training` of a run on the full data under the default strategy."""
    from cifar_doctor.training.feed import TrainingPlan

    plan = TrainingPlan(batch, 2, 50000, accumulation=accumulation).to_dict()
    return dict(
        plan,
        output_dtype="float32",
        strategy={
            "name": "default",
            "class": "_DefaultDistributionStrategy",
            "replicas": 1,
            "devices": ["/device:CPU:0"],
            "workers": 1,
            "task": None,
            "logical_cpu_devices": None,
            "mixed_precision": None,
            "batch": "global batch = per-replica batch x replicas",
        },
    )


def comparison() -> ComparisonReport:
    return ComparisonReport.of(
        [
            RunResult(
                "original",
                "original",
                seed_bug(),
                history={
                    "loss": [1.78, 1.03],
                    "accuracy": [0.36, 0.64],
                    "val_loss": [8.68, 7.43],
                    "val_accuracy": [0.45, 0.53],
                },
                doc="The question's pipeline.",
                settings={"batch_size": 1000, "train_images": 50000, "test_images": 10000},
                epochs_run=2,
                eval_to_train_scale=255.0,
                seconds=61.0,
                train_seconds=58.2,
                training=training(1000, 4),
            ),
            RunResult(
                "fixed",
                "fixed",
                healthy(),
                history={
                    "loss": [1.55, 1.2],
                    "accuracy": [0.44, 0.57],
                    "val_loss": [1.3, 1.1],
                    "val_accuracy": [0.53, 0.61],
                },
                settings={"batch_size": 1000, "train_images": 50000, "test_images": 10000},
                epochs_run=2,
                eval_to_train_scale=1.0,
                seconds=59.0,
                train_seconds=57.9,
                training=training(1000),
            ),
        ]
    )


CASES = {
    "check-seed-bug": (seed_bug, ["check", "--log", LOG]),
    "check-healthy": (healthy, ["check", "--log", LOG]),
    "check-crashed": (crashed, ["check", "--log", LOG]),
    "compare": (comparison, ["compare", "original", "fixed", "--quiet"]),
}
FORMATS = ("text", "markdown", "json", "html")
#: `--details` changes only the text of a comparison: its other formats always hold everything.
DETAILS = ("compare-details", comparison, ["compare", "original", "fixed", "--quiet", "--details"])


def _run_cli(monkeypatch, capsys, make, args):
    """Run the CLI in-process with the engine (or compare) returning the fixed report."""
    from cifar_doctor import engine
    from cifar_doctor.cli.app import main
    from cifar_doctor.training import compare

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(engine, "run", lambda *a, **kw: make())
    monkeypatch.setattr(compare, "compare", lambda *a, **kw: make())
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return f"$ cifar-doctor {' '.join(args)}\n# exit code: {exc.value.code}\n# stdout\n{out}# stderr\n{err}"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(CASES))
def test_snapshot(monkeypatch, capsys, case, fmt):
    make, args = CASES[case]
    got = _run_cli(monkeypatch, capsys, make, [*args, "--format", fmt]).replace(__version__, "<version>")
    path = SNAPSHOTS / f"{case}.{fmt}.txt"
    if UPDATE or not path.exists():
        path.write_text(got, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"new snapshot written: {path.name}; check it and commit it")
    assert got == path.read_text(encoding="utf-8"), f"{path.name} differs; see the module docstring to update"


def test_snapshot_compare_details(monkeypatch, capsys):
    name, make, args = DETAILS
    got = _run_cli(monkeypatch, capsys, make, [*args, "--format", "text"]).replace(__version__, "<version>")
    path = SNAPSHOTS / f"{name}.text.txt"
    if UPDATE or not path.exists():
        path.write_text(got, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"new snapshot written: {path.name}; check it and commit it")
    assert got == path.read_text(encoding="utf-8"), f"{path.name} differs; see the module docstring to update"


@pytest.mark.parametrize("fmt", ["markdown", "json", "html"])
def test_details_changes_only_the_text_of_a_comparison(monkeypatch, capsys, fmt):
    _, make, args = DETAILS
    plain = _run_cli(monkeypatch, capsys, make, [*args[:-1], "--format", fmt])
    detailed = _run_cli(monkeypatch, capsys, make, [*args, "--format", fmt])
    assert detailed.replace(" --details", "", 1) == plain


def test_snapshot_json_validates(monkeypatch, capsys):
    import json

    import jsonschema

    from cifar_doctor.schema import load_schema

    for make, args in CASES.values():
        text = _run_cli(monkeypatch, capsys, make, [*args, "--json"])
        body = text.split("# stdout\n", 1)[1].split("# stderr\n", 1)[0]
        jsonschema.validate(json.loads(body), load_schema())
