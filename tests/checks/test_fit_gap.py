"""Check FIT009: where it fires, where it stays silent, where it is skipped."""

from __future__ import annotations

from cifar_doctor.calibration import evidence_key
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.records import History

#: BatchNormalization statistics that lag on ten CIFAR-10 classes (the run corpus): validation keeps rising
#: but ends 0.20 below training.
LAGGING = dict(
    loss=[2.303, 2.088, 1.942, 1.750, 1.598, 1.466],
    accuracy=[0.119, 0.264, 0.335, 0.411, 0.449, 0.520],
    val_loss=[2.179, 2.094, 2.035, 1.969, 1.957, 1.922],
    val_accuracy=[0.217, 0.267, 0.294, 0.300, 0.312, 0.323],
)


def findings(**metrics):
    report = run(Inputs(history=History(metrics=metrics)), calibrated=False)
    return report, {f.code: f for f in report.findings}


def test_fit009_reports_a_gap_no_check_explains():
    report, codes = findings(**LAGGING)
    f = codes["FIT009"]
    assert f.cause is None and f.severity.value == "info"
    assert f.evidence["gap"] == 0.197 and f.evidence["epoch"] == 6
    assert evidence_key("healthy", [], report.findings, ["FIT", "LOG"]) == "ran:FIT+LOG+FIT009:i"


def test_fit009_alone_in_a_log_is_an_abstention_that_names_the_model_and_data():
    # no check names a cause, and the curves cannot tell overfitting under way, a split unlike training and a
    # BatchNorm lag apart: not "no problem found"
    report, _ = findings(**LAGGING)
    v = report.verdict
    assert v.cause == "insufficient-evidence" and v.evidence["codes"] == ["FIT009"]
    assert v.evidence["gap"] == 0.197 and "the trained model with the data" in v.explanation
    assert any("model" in need for need in v.evidence["needs"])


def test_fit009_with_the_model_measured_on_its_data_leaves_no_problem_found():
    from cifar_doctor.diagnosis import decide

    report, _ = findings(**LAGGING)
    ran = [o.code for o in report.checks if o.status == "ran"]
    assert decide(report.findings, ran=[*ran, "MDL012"]).cause == "healthy"


def test_fit009_silent_when_validation_keeps_up():
    _, codes = findings(
        loss=[1.55, 1.20, 1.02, 0.90],
        accuracy=[0.44, 0.57, 0.64, 0.68],
        val_loss=[1.30, 1.10, 0.98, 0.92],
        val_accuracy=[0.53, 0.61, 0.66, 0.66],
    )
    assert "FIT009" not in codes


def test_fit009_silent_when_the_gap_is_within_a_small_splits_noise():
    # 0.10 on 44 validation images (every accuracy a count k/44) is within two standard errors (0.15)
    _, codes = findings(
        loss=[1.0, 0.8, 0.6, 0.5],
        accuracy=[0.55, 0.65, 0.75, 0.80],
        val_loss=[1.0, 0.9, 0.8, 0.75],
        val_accuracy=[k / 44 for k in (24, 27, 29, 31)],
    )
    assert "FIT009" not in codes


def test_fit009_leaves_a_turned_validation_curve_to_fit001():
    # validation peaks and falls while training climbs: overfitting, which explains the gap
    _, codes = findings(
        loss=[1.5, 1.1, 0.8, 0.5, 0.3, 0.2],
        accuracy=[0.45, 0.60, 0.72, 0.82, 0.90, 0.94],
        val_loss=[1.3, 1.1, 1.0, 1.1, 1.3, 1.5],
        val_accuracy=[0.52, 0.60, 0.64, 0.62, 0.60, 0.59],
    )
    assert "FIT001" in codes and "FIT009" not in codes


def test_fit009_skipped_without_validation_accuracy():
    _, codes = findings(loss=[1.5, 1.1, 0.8], accuracy=[0.45, 0.60, 0.72])
    assert "FIT009" not in codes


def test_fit009_is_superseded_by_every_log_check_that_names_a_cause():
    from cifar_doctor.checks.fit.gap import EXPLAINED_BY
    from cifar_doctor.registry import all_checks

    causal = {s.code for s in all_checks() if s.family in ("LOG", "FIT") and s.cause}
    assert set(EXPLAINED_BY) == causal


def test_fit009_silent_beside_a_scale_bug():
    # the question's log: LOG001 names the scale bug, which is what the gap is
    from pathlib import Path

    from cifar_doctor.sources.logs import read_history

    log = Path(__file__).resolve().parents[1] / "fixtures" / "logs" / "seed-question-run1-keras2.txt"
    report = run(Inputs(history=read_history(log)), calibrated=False)
    codes = {f.code for f in report.findings}
    assert "LOG001" in codes and "FIT009" not in codes


# --- FIT010: a gap open from the first epoch -------------------------------------------------------
#: Three classes, imbalanced in training and balanced in validation (the run corpus): training starts at
#: the commonest class's share and creeps up, validation starts near 1/3 and never catches up.
IMBALANCED_TRAIN = dict(
    loss=[0.639, 0.614, 0.602, 0.582, 0.565, 0.56, 0.536, 0.523, 0.498, 0.483, 0.463, 0.459],
    accuracy=[0.783, 0.785, 0.785, 0.788, 0.793, 0.799, 0.8, 0.808, 0.817, 0.818, 0.825, 0.825],
    val_loss=[1.973, 1.894, 1.883, 1.867, 1.954, 1.78, 1.71, 1.774, 1.564, 1.532, 1.573, 1.462],
    val_accuracy=[0.348, 0.348, 0.348, 0.351, 0.355, 0.369, 0.373, 0.374, 0.398, 0.408, 0.422, 0.444],
)


def test_fit010_a_gap_from_the_first_epoch_is_the_validation_datas_doing():
    report, codes = findings(**IMBALANCED_TRAIN)
    f = codes["FIT010"]
    assert f.cause == "eval-distribution-shift" and f.evidence["gap_first"] == 0.435
    assert f.evidence["gap_min"] == 0.381 and "FIT009" not in codes
    assert report.verdict.cause == "eval-distribution-shift"


def test_fit010_silent_on_overfitting_and_on_statistics_that_settle():
    # overfitting opens its gap over epochs; BatchNorm statistics that lag close theirs
    _, codes = findings(
        loss=[1.6, 1.1, 0.8, 0.5, 0.3], accuracy=[0.42, 0.61, 0.72, 0.83, 0.9], val_accuracy=[0.5, 0.6, 0.62, 0.6, 0.58]
    )
    assert "FIT010" not in codes
    _, codes = findings(loss=[1.2, 0.9, 0.7, 0.6], accuracy=[0.6, 0.7, 0.76, 0.8], val_accuracy=[0.2, 0.45, 0.7, 0.76])
    assert "FIT010" not in codes


def test_fit010_silent_on_few_steps_a_later_first_epoch_or_a_majority_answer():
    h = History(metrics={k: list(v) for k, v in IMBALANCED_TRAIN.items()})
    h.bar_total = 20  # 240 steps: BatchNorm statistics may not have settled
    assert "FIT010" not in {f.code for f in run(Inputs(history=h), calibrated=False).findings}
    h = History(metrics={k: list(v) for k, v in IMBALANCED_TRAIN.items()}, index=list(range(20, 32)))
    assert "FIT010" not in {f.code for f in run(Inputs(history=h), calibrated=False).findings}
    # every image given one answer: LOG018 names the class mix instead
    _, codes = findings(
        loss=[0.3, 0.2, 0.19, 0.18, 0.17, 0.16],
        accuracy=[0.93, 0.9521, 0.9521, 0.9521, 0.9521, 0.9521],
        val_loss=[0.9, 1.0, 1.0, 1.01, 1.01, 1.01],
        val_accuracy=[0.5, 0.5009, 0.5009, 0.5009, 0.5009, 0.5009],
    )
    assert "LOG018" in codes and "FIT010" not in codes


# --- FIT011: a gap after too few steps for BatchNorm statistics ------------------------------------
#: A BatchNorm CNN on 800 images, batch 256 (the run corpus): 4 steps an epoch for 5 epochs.
FEW_STEPS = dict(
    loss=[2.1, 1.8, 1.6, 1.45, 1.33],
    accuracy=[0.24, 0.35, 0.42, 0.48, 0.53],
    val_loss=[2.25, 2.2, 2.1, 2.0, 1.95],
    val_accuracy=[0.16, 0.22, 0.27, 0.3, 0.33],
)


def test_fit011_a_gap_after_few_steps_reads_as_statistics_that_lag():
    h = History(metrics={k: list(v) for k, v in FEW_STEPS.items()})
    h.bar_total = 4
    report = run(Inputs(history=h), calibrated=False)
    f = {x.code: x for x in report.findings}["FIT011"]
    assert f.cause == "regularization-gap" and f.evidence["max_steps"] == 20
    assert f.evidence["initial_statistics_weight"] == 0.818
    assert report.verdict.cause == "regularization-gap"
    assert "FIT009" not in {x.code for x in report.findings}


def test_fit011_silent_on_many_steps_unknown_steps_or_an_explained_gap():
    h = History(metrics={k: list(v) for k, v in FEW_STEPS.items()})
    assert "FIT011" not in {x.code for x in run(Inputs(history=h), calibrated=False).findings}  # no progress bar
    h.bar_total = 400
    codes = {x.code for x in run(Inputs(history=h), calibrated=False).findings}
    assert "FIT011" not in codes and "FIT009" in codes
    h = History(metrics={k: list(v) for k, v in IMBALANCED_TRAIN.items()})
    h.bar_total = 20  # FIT010 is silent on so few steps; the gap is FIT011's then, since nothing explains it
    assert "FIT011" in {x.code for x in run(Inputs(history=h), calibrated=False).findings}
    # the same five epochs pasted as epochs 46-50 of a console: 10 steps an epoch, 500 by the end (50 in five)
    h = History(metrics={k: list(v) for k, v in FEW_STEPS.items()}, index=[46, 47, 48, 49, 50])
    h.bar_total = 10
    assert "FIT011" not in {x.code for x in run(Inputs(history=h), calibrated=False).findings}
    h.bar_total = 1
    assert {x.code: x for x in run(Inputs(history=h), calibrated=False).findings}["FIT011"].evidence["max_steps"] == 50


def test_fit009_under_ten_points_leaves_no_problem_found_keyed_by_it():
    # a healthy control of the development cases: 0.60 against 0.52 after five epochs, validation still improving
    report, codes = findings(
        loss=[1.955, 1.588, 1.407, 1.269, 1.127],
        accuracy=[0.2912, 0.4297, 0.4952, 0.5533, 0.6035],
        val_loss=[1.698, 1.506, 1.409, 1.369, 1.364],
        val_accuracy=[0.395, 0.464, 0.499, 0.515, 0.516],
    )
    assert codes["FIT009"].evidence["gap"] == 0.0875
    assert report.verdict.cause == "healthy"
