"""Checks LOG001, LOG003, LOG013, LOG014, LOG019, LOG022, LOG023: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cifar_doctor import diagnose
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from conftest import run_cli  # noqa: E402


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


#: A healthy small-CNN run on CIFAR-10 (validation a little below training, both improving).
HEALTHY = dict(
    loss=[2.083, 1.738, 1.58, 1.454, 1.354],
    accuracy=[0.241, 0.368, 0.427, 0.473, 0.511],
    val_loss=[1.932, 1.74, 1.594, 1.551, 1.513],
    val_accuracy=[0.299, 0.376, 0.42, 0.45, 0.457],
)


LOGS = Path(__file__).parent.parent / "fixtures" / "logs"


def codes(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["LOG", "FIT"]).findings}


# a healthy CIFAR-10 run: loss falls, val follows, honest errors cost ~2-3 nats
HEALTHY_LOG = dict(
    loss=[1.55, 1.20, 1.02, 0.90, 0.82],
    accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
    val_loss=[1.30, 1.10, 0.98, 0.92, 0.90],
    val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69],
)


def test_log013_loss_stuck_on_the_double_softmax_floor(make_history):
    h = make_history(
        loss=[2.05, 1.72, 1.61, 1.57, 1.55],
        accuracy=[0.45, 0.72, 0.83, 0.88, 0.90],
        val_loss=[1.80, 1.66, 1.60, 1.58, 1.57],
        val_accuracy=[0.62, 0.78, 0.84, 0.86, 0.87],
    )
    f = found(h)["LOG013"]
    assert f.evidence["classes"] == 10 and f.evidence["floor"] == pytest.approx(1.4612, abs=1e-4)
    assert verdict(h) == "output-loss-mismatch"


def test_log013_silent_when_one_softmax_takes_the_loss_below_the_floor(make_history):
    h = make_history(loss=[1.6, 0.9, 0.6, 0.45, 0.38], accuracy=[0.45, 0.72, 0.83, 0.88, 0.90])
    assert "LOG013" not in found(h)


def test_log013_values_printed_to_two_decimals_must_clear_its_bars_as_rounded(make_history):
    # a healthy two-class ResNet (the run corpus) printed f"{v:.2f}": 0.90 may be 0.8951, below 1/2 + 0.4
    loss = [0.74, 0.54, 0.45, 0.39, 0.36, 0.34]
    assert "LOG013" not in found(make_history(loss=loss, accuracy=[0.66, 0.82, 0.86, 0.90, 0.90, 0.91]))
    assert "LOG013" in found(make_history(loss=loss, accuracy=[0.66, 0.82, 0.86, 0.93, 0.94, 0.95]))
    # printed 1.45, a loss may be 1.4451, under 0.99 of the ten-class floor 1.4612: not a floor it never crossed
    stuck = dict(loss=[2.05, 1.72, 1.61, 1.57, 1.45], accuracy=[0.45, 0.72, 0.83, 0.88, 0.90])
    assert "LOG013" not in found(make_history(**stuck))
    assert "LOG013" in found(make_history(**{**stuck, "loss": [2.05, 1.72, 1.61, 1.57, 1.47]}))


def test_log014_saturated_training_errors_while_learning(make_history):
    h = make_history(
        loss=[643.99, 89.73, 27.71, 39.43, 38.48, 31.03, 19.08, 16.93, 18.71, 12.14],
        accuracy=[0.119, 0.155, 0.214, 0.196, 0.206, 0.218, 0.237, 0.253, 0.216, 0.271],
        val_loss=[165.8, 27.6, 25.5, 63.0, 40.8, 21.9, 20.7, 16.7, 18.5, 10.0],
        val_accuracy=[0.151, 0.232, 0.188, 0.167, 0.177, 0.228, 0.267, 0.206, 0.196, 0.248],
    )
    assert found(h)["LOG014"].evidence["cost_per_error"] > 16
    assert verdict(h) == "input-not-normalized"


def test_log014_silent_once_training_makes_no_errors(make_history):
    # wine at training accuracy 1.0 (the run corpus): a loss of 0.29 is the correct answers' doubt, and
    # loss / max(1 - acc, 0.02) = 14 nats measures nothing about errors
    h = make_history(
        loss=[1.287, 1.001, 0.796, 0.641, 0.523, 0.433, 0.365, 0.313, 0.286],
        accuracy=[0.201, 0.642, 0.896, 0.97, 0.978, 0.985, 0.993, 1.0, 1.0],
        val_loss=[1.195, 0.934, 0.744, 0.601, 0.49, 0.407, 0.345, 0.298, 0.274],
        val_accuracy=[0.273, 0.773, 0.886, 0.932, 0.955, 0.977, 0.977, 0.977, 0.977],
    )
    assert "LOG014" not in found(h)


def test_log014_silent_when_the_run_began_as_a_fresh_softmax(make_history):
    # a wine MLP under slow SGD (the run corpus): 1.34 = 1.2 ln 3 at first, 0.303 at 97.8% after 75 epochs,
    # 13.5 nats per error by the ratio, which is the right answers' doubt; huge inputs saturate from the start
    loss = [1.3439, 1.1188, 0.8607, 0.6899, 0.5836, 0.4838, 0.4123, 0.3638, 0.3289, 0.303]
    accuracy = [0.291, 0.3582, 0.6045, 0.7313, 0.8731, 0.9328, 0.9552, 0.9627, 0.9627, 0.9776]
    assert "LOG014" not in found(make_history(loss=loss, accuracy=accuracy))
    # the same end after a start no fresh softmax gives
    assert "LOG014" in found(make_history(loss=[64.0, *loss[1:]], accuracy=accuracy))


def test_log003_a_missing_value_is_not_a_nan_loss(make_history):
    # CSVLogger with validation every other epoch: NA in val_loss is a gap, not NaN
    h = make_history(**HEALTHY)
    h.metrics["val_loss"][1] = float("nan")
    h.gaps = {"val_loss": [1]}
    assert "LOG003" not in found(h)
    h.gaps = {}
    assert found(h)["LOG003"].evidence["first_epoch"] == 2


# --- LOG001 ---------------------------------------------------------------------------
def test_log001_seed_run1_quotes_ceiling():
    report = diagnose(history=str(LOGS / "seed-question-run1-keras2.txt"))
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert "overfitting" not in report.verdict.causes
    f = next(f for f in report.findings if f.code == "LOG001")
    assert f.severity.value == "error"
    assert 15.7 <= f.evidence["val_cost_per_error"] <= 15.95
    assert "16.12" in f.explanation and "15.9" in f.explanation and "15.7-15.9" in f.explanation
    assert f.evidence["train_cost_per_error"] < 3.5


def test_log001_seed_run2_also_overfitting():
    report = diagnose(history=str(LOGS / "seed-question-run2-keras2.txt"))
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert [a["cause"] for a in report.verdict.also] == ["overfitting"]


@pytest.mark.parametrize(
    "name", ["seed-original-keras3-verbose2.txt", "k3-scale-bug-verbose1-tty.txt", "k3-scale-bug-verbose2.txt"]
)
def test_log001_keras3_unclipped(name):
    report = diagnose(history=str(LOGS / name))
    assert report.verdict.cause == "eval-input-scale-mismatch"
    f = next(f for f in report.findings if f.code == "LOG001")
    assert f.evidence["val_cost_per_error"] > 20 and "unclipped" in f.explanation


def test_log001_fires_on_a_single_epoch(make_history):
    found = codes(make_history(loss=[1.7761], acc=[0.3584], val_loss=[8.6776], val_acc=[0.4489]))
    assert found["LOG001"].evidence["epoch"] == 1


def test_log001_silent_for_overfitting_with_high_val_loss(make_history):
    # strong overfitting: val loss climbs to 2.6 at val acc .70 (3.7 nats/error at the end, 2.6 at the best epoch)
    h = make_history(
        loss=[1.5, 1.0, 0.6, 0.3, 0.1, 0.03],
        accuracy=[0.45, 0.65, 0.79, 0.90, 0.97, 0.99],
        val_loss=[1.2, 0.95, 0.9, 1.2, 1.8, 2.6],
        val_accuracy=[0.57, 0.66, 0.70, 0.71, 0.70, 0.70],
    )
    found = codes(h)
    assert "LOG001" not in found and "FIT001" in found


def test_log001_silent_when_validation_has_too_few_errors_to_divide_by(make_history):
    # a class-sorted validation split holding one class the model gets right: val_acc 0.996-1.0 at val_loss
    # 0.36-0.58 read 18-29 "nats per error" from errors that are not there (the run corpus, a fourth draw)
    h = make_history(
        loss=[0.6356, 0.4965, 0.4225, 0.3881, 0.3385],
        accuracy=[0.7209, 0.7997, 0.8445, 0.867, 0.8832],
        val_loss=[0.813, 0.6791, 0.5804, 0.4616, 0.3641],
        val_accuracy=[0.1833, 0.9521, 0.9958, 1.0, 1.0],
    )
    assert "LOG001" not in codes(h)


def test_log001_silent_on_one_overconfident_error_of_a_small_split(make_history):
    # 44 wine rows at 0.977 (one error): val_loss / (1 - val_acc) reads 13.9 nats at the best epoch,
    # 2-6 in the others; a scale mismatch saturates every epoch (the run corpus)
    h = make_history(
        loss=[1.346, 1.157, 1.043, 0.977, 0.894, 0.808, 0.741, 0.69, 0.685],
        accuracy=[0.381, 0.418, 0.493, 0.56, 0.642, 0.657, 0.716, 0.769, 0.679],
        val_loss=[0.972, 0.87, 0.779, 0.701, 0.638, 0.561, 0.489, 0.416, 0.3166],
        val_accuracy=[0.568, 0.682, 0.818, 0.886, 0.886, 0.909, 0.932, 0.955, 0.9773],
    )
    assert "LOG001" not in codes(h)


def test_log001_silent_when_training_saturates_too(make_history):
    # raw 0-255 inputs in both splits under Keras 2: train and val both near the ceiling
    found = codes(
        make_history(
            loss=[14.3, 14.2, 14.3], acc=[0.11, 0.12, 0.11], val_loss=[14.4, 14.3, 14.4], val_acc=[0.10, 0.11, 0.10]
        )
    )
    assert "LOG001" not in found


# --- LOG003 -----------------------------------------------------------------------------
def test_log003_nan(make_history):
    f = codes(make_history(loss=[1.5, 1.2, math.nan], accuracy=[0.4, 0.5, 0.1]))["LOG003"]
    assert f.evidence["first_epoch"] == 3 and f.cause == "numerical-instability"
    assert diagnose(history={"loss": [1.5, math.inf], "accuracy": [0.4, 0.1]}).verdict.cause == "numerical-instability"


def test_log003_silent(make_history):
    assert "LOG003" not in codes(make_history(**HEALTHY_LOG))


def test_log013_does_not_fit_a_class_count_the_first_loss_rules_out(make_history):
    # a slow 10-class MLP (digits, SGD; a healthy run of the corpus): loss 0.43 at accuracy 0.93 sits on the
    # 2-class floor band, but a first epoch at 2.36 = ln 10 is no fresh 2-class softmax (ln 2 = 0.69)
    loss = [2.356 * 0.97**i for i in range(30)] + [0.446, 0.44, 0.435, 0.43]
    acc = [min(0.93, 0.06 + 0.05 * i) for i in range(30)] + [0.93, 0.931, 0.932, 0.933]
    h = make_history(loss=loss, accuracy=acc)
    assert "LOG013" not in codes(h)
    # the same end with a first epoch near ln 2 is a double softmax over two classes
    assert codes(make_history(loss=[0.69, 0.6, 0.52, *loss[-4:]], accuracy=[0.6, 0.8, 0.9, *acc[-4:]]))["LOG013"]


# --- LOG019 -----------------------------------------------------------------------------
#: Binary labels under categorical cross-entropy on one unit (a run of the corpus): NaN from the first
#: epoch, every accuracy frozen to the last digit.
NAN_FROM_THE_START = dict(
    loss=[math.nan] * 4,
    accuracy=[0.5057082] * 4,
    val_loss=[math.nan] * 4,
    val_accuracy=[0.4954035] * 4,
)


def test_log019_nan_from_the_first_epoch_is_not_learning(make_history):
    found = codes(make_history(**NAN_FROM_THE_START))
    f = found["LOG019"]
    assert "LOG003" not in found  # superseded: not a run that diverged
    assert f.cause == "not-learning" and f.evidence["first_epoch"] == 1 and f.evidence["accuracy_rise"] == 0.0
    assert f.evidence["loss_at_first"] == "NaN" and f.evidence["first_finite_loss"] is None
    assert "--data" in f.explanation and "--model" in f.explanation
    assert verdict(make_history(**NAN_FROM_THE_START)) == "not-learning"
    # a network that never learned has no generalization gap for the explanation to call a symptom
    assert "gap between training and validation" not in diagnose(history=NAN_FROM_THE_START).verdict.explanation


def test_log019_leaves_no_advice_to_raise_the_learning_rate(make_history):
    # FIT002 (underfitting: "raise the learning rate") does not read the accuracies of NaN weights
    assert "FIT002" not in codes(make_history(**NAN_FROM_THE_START))
    assert "FIT002" not in codes(make_history(loss=[2.1, 1.9, math.nan, math.nan], accuracy=[0.3, 0.35, 0.1, 0.1]))


def test_log019_infinite_first_loss_without_accuracy(make_history):
    f = codes(make_history(loss=[math.inf, math.nan, math.nan]))["LOG019"]
    assert f.evidence["loss_at_first"] == "+inf" and f.evidence["accuracy_rise"] is None


def test_log019_silent_when_the_loss_turns_nan_later(make_history):
    found = codes(make_history(loss=[1.5, 1.2, math.nan], accuracy=[0.4, 0.5, 0.1]))
    assert "LOG019" not in found and "LOG003" in found


def test_log019_silent_when_accuracy_rises_despite_a_nan_loss(make_history):
    # a loss that is NaN only as printed: the accuracy shows a network that learns
    found = codes(make_history(loss=[math.nan] * 4, accuracy=[0.20, 0.31, 0.38, 0.42]))
    assert "LOG019" not in found and "LOG003" in found


def test_log019_skipped_without_a_log():
    assert next(c for c in run(Inputs()).checks if c.code == "LOG019").status == "skipped"


def test_log001_cli_check_log_text_output():
    proc = run_cli("check", "--log", str(LOGS / "seed-question-run2-keras2.txt"))
    assert proc.returncode == 1
    assert "eval-input-scale-mismatch" in proc.stdout and "overfitting" in proc.stdout
    assert "LOG001" in proc.stdout and "FIT001" in proc.stdout


def test_log001_silent_when_saturated_run_is_at_chance(make_history):
    # one optimizer step per epoch on a few hundred images: huge val loss, accuracy at chance.
    # Nothing here shows an arg-max that survives on mismatched inputs.
    h = make_history(
        loss=[2.35, 2.30, 2.29],
        accuracy=[0.10, 0.11, 0.10],
        val_loss=[14.1, 13.8, 13.5],
        val_accuracy=[0.09, 0.10, 0.11],
    )
    assert "LOG001" not in codes(h)


def test_log001_fires_when_training_learned_and_validation_sits_at_chance(make_history):
    # raw test pixels into an MLP trained on /255 pixels, three epochs (the run corpus): 240 nats per validation
    # error against 2.8 per training error, the training accuracy above chance, the validation one not
    h = make_history(
        loss=[2.387, 2.202, 2.124],
        accuracy=[0.137, 0.203, 0.229],
        val_loss=[206.8, 192.1, 230.8],
        val_accuracy=[0.135, 0.123, 0.127],
    )
    assert "LOG001" in codes(h)
    assert verdict(h) == "eval-input-scale-mismatch"


def test_log001_fires_on_one_epoch_above_chance(make_history):
    h = make_history(loss=[1.7761], acc=[0.3584], val_loss=[8.6776], val_acc=[0.4489])
    f = codes(h)["LOG001"]
    assert f.evidence["val_cost_per_error"] == pytest.approx(8.6776 / (1 - 0.4489), rel=1e-3)


#: Raw 0-16 training digits, validation digits divided by 16 (the run corpus): the arg-max survives the smaller
#: scale, the softmax flattens, val_loss stays near ln 10 at 87% validation accuracy.
FLAT_VAL = dict(
    loss=[3.2051, 1.9865, 1.6655, 1.3746, 1.1313, 0.9781, 0.815, 0.7381, 0.6827, 0.5849, 0.5716, 0.5089],
    accuracy=[0.1425, 0.3375, 0.47, 0.5917, 0.6758, 0.7192, 0.7625, 0.7875, 0.7992, 0.8342, 0.8317, 0.85],
    val_loss=[2.3285, 2.3096, 2.2691, 2.2339, 2.197, 2.1674, 2.1311, 2.1164, 2.0958, 2.0795, 2.0636, 2.0453],
    val_accuracy=[0.3591, 0.4332, 0.5846, 0.7033, 0.7685, 0.7656, 0.8487, 0.8309, 0.8398, 0.8338, 0.8546, 0.8665],
)


def test_log022_right_answers_with_near_uniform_outputs(make_history):
    from cifar_doctor.checks.log.saturation import calibrated_loss_ceiling

    f = found(make_history(**FLAT_VAL))["LOG022"]
    assert f.evidence["classes"] == 10 and f.evidence["classes_source"] == "fitted to val_loss"
    assert f.evidence["calibrated_ceiling"] == pytest.approx(calibrated_loss_ceiling(0.8665, 10), abs=1e-4)
    assert f.evidence["calibrated_ceiling"] < 0.7 < 2.0453 / 1.5
    assert verdict(make_history(**FLAT_VAL)) == "eval-input-scale-mismatch"


def test_log022_calibrated_ceiling_is_the_uniform_guess_at_chance():
    from cifar_doctor.checks.log.saturation import calibrated_loss_ceiling

    assert calibrated_loss_ceiling(0.1, 10) == pytest.approx(math.log(10))
    assert calibrated_loss_ceiling(0.5, 2) == pytest.approx(math.log(2))
    assert calibrated_loss_ceiling(1.0, 10) == 0.0
    assert calibrated_loss_ceiling(0.9, 10) < calibrated_loss_ceiling(0.6, 10)


def test_log022_silent_on_healthy_runs(make_history):
    assert "LOG022" not in found(make_history(**HEALTHY))
    assert "LOG022" not in found(make_history(**HEALTHY_LOG))


def test_log022_silent_when_validation_loses_accuracy(make_history):
    # the same losses with validation 0.10 below training: a split that differs, not only a scale
    h = make_history(**{**FLAT_VAL, "val_accuracy": [max(a - 0.1, 0.05) for a in FLAT_VAL["accuracy"]]})
    assert "LOG022" not in found(h)


def test_log022_silent_when_training_is_as_unsure(make_history):
    # label smoothing or a strong weight decay flattens both splits' outputs alike
    h = make_history(**{**FLAT_VAL, "loss": [v * 0.98 for v in FLAT_VAL["val_loss"]]})
    assert "LOG022" not in found(h)


def test_log022_two_classes_only_when_given(make_history):
    # val_loss at ln 2 with 86% right: two outputs at 0.5; from a log alone ln 2 is also a per-output binary loss
    h = make_history(
        loss=[0.62, 0.45, 0.37, 0.33, 0.30],
        accuracy=[0.66, 0.79, 0.84, 0.87, 0.88],
        val_loss=[0.7005, 0.6995, 0.699, 0.6985, 0.698],
        val_accuracy=[0.70, 0.80, 0.84, 0.85, 0.86],
    )
    assert "LOG022" not in found(h)
    assert found(h, classes=2)["LOG022"].evidence["classes_source"] == "given"


def test_log022_silent_for_a_binary_crossentropy(make_history):
    h = make_history(**FLAT_VAL)
    assert "LOG022" not in found(h, loss="binary_crossentropy")
    assert "LOG022" in found(h, loss="categorical_crossentropy")


def test_log022_skipped_without_a_log():
    assert next(c for c in run(Inputs()).checks if c.code == "LOG022").status == "skipped"


def test_log023_a_loss_of_zero_at_chance_accuracy(make_history):
    # one softmax unit under categorical_crossentropy (the run corpus): its one probability is 1, its loss 0
    h = make_history(
        loss=[0.0, float("nan"), float("nan"), float("nan")],
        accuracy=[0.4935, 0.514, 0.5065, 0.5065],
        val_loss=[0.0, float("nan"), float("nan"), float("nan")],
        val_accuracy=[0.4926, 0.5074, 0.5074, 0.5074],
    )
    f = found(h)
    assert f["LOG023"].split == "val" and f["LOG023"].evidence["error_floor"] == pytest.approx(0.3517, abs=1e-4)
    assert "LOG003" not in f  # the NaN that followed is read for what drove it
    assert verdict(h) == "output-loss-mismatch"


def test_log023_a_negative_loss(make_history):
    h = make_history(loss=[-7.39, -12.1, -17.2], accuracy=[0.0925, 0.095, 0.094])
    assert found(h)["LOG023"].evidence["loss"] == pytest.approx(-7.39)


def test_log023_training_loss_under_half_the_floor_only(make_history):
    # class weights can halve what training errors cost; 0.25 at 0.5 is within that, 0.14 is not
    ok = make_history(loss=[0.25, 0.24, 0.24], accuracy=[0.5, 0.52, 0.52])
    assert "LOG023" not in found(ok)
    assert "LOG023" in found(make_history(loss=[0.1417, 0.1419, 0.143], accuracy=[0.4988, 0.5234, 0.5246]))


def test_log023_silent_on_healthy_runs_and_rounded_printing(make_history):
    assert "LOG023" not in found(make_history(**HEALTHY))
    assert "LOG023" not in found(make_history(**HEALTHY_LOG))
    # printed to two decimals: 0.00 at 0.99 may be 0.0034 at 0.9949, over the floor
    assert "LOG023" not in found(make_history(loss=[0.05, 0.01, 0.0], accuracy=[0.97, 0.99, 0.99]))


def test_log023_silent_for_a_regression_and_for_other_losses(make_history):
    # a mean squared error beside an accuracy that is never right, and a named loss that is no cross-entropy
    assert "LOG023" not in found(make_history(loss=[0.31, 0.12, 0.05], accuracy=[0.0, 0.0, 0.0]))
    h = make_history(loss=[0.05, 0.04, 0.03], accuracy=[0.6, 0.62, 0.63])
    assert "LOG023" not in found(h, loss="mean_squared_error")
    assert "LOG023" in found(h, loss="categorical_crossentropy")


def test_log023_skipped_without_a_log():
    assert next(c for c in run(Inputs()).checks if c.code == "LOG023").status == "skipped"
