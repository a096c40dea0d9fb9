"""Check FIT007 (memorizing-wrong-labels): where it fires, where it stays silent, where it is skipped,
and that a log alone never makes `noisy-labels` the primary verdict."""

from __future__ import annotations

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs

#: A small CNN on 4,000 CIFAR-10 images with 41.6% wrong labels (CIFAR-10N `worse`): validation peaks
#: and falls while training accuracy climbs slowly.
NOISY = {
    "accuracy": [0.20, 0.30, 0.35, 0.38, 0.40, 0.42, 0.44, 0.46, 0.49, 0.51, 0.54, 0.56],
    "val_accuracy": [0.30, 0.38, 0.43, 0.46, 0.47, 0.46, 0.45, 0.44, 0.43, 0.42, 0.41, 0.40],
    "loss": [2.20, 2.00, 1.95, 1.90, 1.85, 1.80, 1.76, 1.70, 1.64, 1.58, 1.52, 1.46],
    "val_loss": [1.90, 1.72, 1.62, 1.57, 1.55, 1.56, 1.58, 1.61, 1.65, 1.70, 1.76, 1.82],
}

#: Plain overfitting of clean labels: training accuracy runs to 0.97 while validation plateaus.
OVERFIT = {
    "accuracy": [0.40, 0.55, 0.65, 0.74, 0.82, 0.88, 0.92, 0.95, 0.96, 0.97],
    "val_accuracy": [0.45, 0.52, 0.55, 0.56, 0.56, 0.55, 0.55, 0.54, 0.54, 0.54],
    "loss": [1.70, 1.25, 1.00, 0.75, 0.52, 0.35, 0.23, 0.15, 0.11, 0.09],
    "val_loss": [1.55, 1.35, 1.30, 1.32, 1.40, 1.52, 1.66, 1.80, 1.95, 2.10],
}


def test_fit007_fires_on_the_memorization_curve(make_history):
    report = run(Inputs(history=make_history(**NOISY)))
    (f,) = [f for f in report.findings if f.code == "FIT007"]
    assert f.cause == "noisy-labels" and f.evidence["memorization_from_epoch"] == 5
    assert f.evidence["val_peak"] == 0.47 and f.evidence["train_last"] == 0.56


def test_fit007_never_makes_noisy_labels_primary_from_a_log(make_history):
    report = run(Inputs(history=make_history(**NOISY)))
    assert report.verdict.cause != "noisy-labels"
    assert "noisy-labels" in [a["cause"] for a in report.verdict.also]


def test_fit007_alone_adds_noisy_labels_to_also_only(make_history):
    from cifar_doctor.diagnosis import decide
    from cifar_doctor.registry import get

    spec = get("FIT007")
    finding = spec.finding("info", "curve")
    verdict = decide([finding], ran=["FIT007"])
    assert verdict.cause == "healthy" and [a["cause"] for a in verdict.also] == ["noisy-labels"]


def test_fit007_silent_on_plain_overfitting(make_history):
    report = run(Inputs(history=make_history(**OVERFIT)))
    assert "FIT007" not in {f.code for f in report.findings}


def test_fit007_skipped_without_a_history():
    report = run(Inputs(), select_codes=["FIT007"])
    assert report.checks[0].status == "skipped"
