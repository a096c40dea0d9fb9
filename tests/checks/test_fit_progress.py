"""Checks FIT002, FIT005, FIT006: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


# --- FIT006: slow learning ---------------------------------------------------------------------------
ADADELTA = dict(
    loss=[2.2754, 2.2023, 2.1075, 1.9826],
    accuracy=[0.1646, 0.2839, 0.3794, 0.4569],
    val_loss=[2.2287, 2.138, 2.0163, 1.8593],
    val_accuracy=[0.3468, 0.5022, 0.5872, 0.6505],
)


def found_fit(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["FIT", "LOG"]).findings}


# --- FIT005: oscillating validation loss -------------------------------------------------------------
def test_fit005_validation_loss_swings(make_history):
    h = make_history(
        loss=[2.27, 1.55, 1.07, 0.87, 0.59, 0.52, 0.38, 0.32, 0.21, 0.34],
        acc=[0.5, 0.5, 0.51, 0.58, 0.72, 0.79, 0.85, 0.88, 0.91, 0.88],
        val_loss=[3.29, 0.92, 1.43, 1.85, 0.58, 2.3, 0.17, 1.52, 0.14, 2.81],
        val_acc=[0.49, 0.5, 0.53, 0.61, 0.61, 0.5, 0.86, 0.6, 0.88, 0.49],
    )
    f = found(h)["FIT005"]
    assert len(f.evidence["reversal_epochs"]) >= 3
    assert verdict(h) == "unstable-training"


def test_fit005_silent_on_swings_of_hundredths_near_zero(make_history):
    # a memorizing CNN (the run corpus): val loss 0.141 <-> 0.315 at validation accuracy 0.89-0.95
    h = make_history(
        loss=[0.68, 0.457, 0.327, 0.266, 0.224, 0.179, 0.137, 0.104, 0.077, 0.056, 0.045, 0.052],
        acc=[0.565, 0.793, 0.852, 0.89, 0.919, 0.948, 0.964, 0.971, 0.978, 0.986, 0.995, 0.986],
        val_loss=[0.653, 0.397, 0.313, 0.288, 0.251, 0.219, 0.199, 0.205, 0.161, 0.23, 0.141, 0.315],
        val_acc=[0.522, 0.855, 0.893, 0.89, 0.908, 0.914, 0.92, 0.914, 0.941, 0.917, 0.947, 0.887],
    )
    assert "FIT005" not in found(h)
    # the same numbers as a regression's loss (no accuracy) keep their own scale
    assert "FIT005" in found(make_history(loss=h.loss, val_loss=h.val_loss))


def test_fit006_slow_learning_over_many_steps(make_history):
    h = make_history(**ADADELTA)
    h.bar_total = 60000
    f = found(h)["FIT006"]
    assert f.evidence["classes"] == 10 and f.evidence["fraction_of_ln_k"] == pytest.approx(0.861, abs=1e-3)
    assert verdict(h) == "underfitting"


def test_fit006_a_loss_falling_at_every_epoch_inside_the_chance_band(make_history):
    # five epochs of 45,000 images: 2.295 -> 2.169, 94% of ln 10, lower at every epoch
    h = make_history(
        loss=[2.2954, 2.2623, 2.2301, 2.1990, 2.1685],
        accuracy=[0.1246, 0.1849, 0.2230, 0.2512, 0.2731],
        val_loss=[2.2787, 2.2412, 2.2066, 2.1725, 2.1390],
        val_accuracy=[0.1781, 0.2334, 0.2710, 0.2991, 0.3176],
    )
    h.bar_total = 45000
    assert found(h)["FIT006"].evidence["fraction_of_ln_k"] == pytest.approx(0.942, abs=1e-3)
    assert verdict(h) == "underfitting"
    h = make_history(loss=[2.2954, 2.2623, 2.2701, 2.1990, 2.1985], accuracy=h.acc)
    h.bar_total = 45000
    assert "FIT006" not in found(h)  # inside the band and not lower at every epoch: LOG002's to judge


def test_fit006_silent_on_few_steps_or_unknown_steps(make_history):
    h = make_history(**ADADELTA)
    assert "FIT006" not in found(h)  # no progress bar: the pace cannot be judged
    h.bar_total = 40  # 160 steps: a healthy start is this slow too
    assert "FIT006" not in found(h)


def test_fit002_plateau_low(make_history):
    h = make_history(
        loss=[1.9, 1.75, 1.74, 1.74, 1.73],
        accuracy=[0.30, 0.37, 0.375, 0.378, 0.379],
        val_loss=[1.95, 1.8, 1.79, 1.79, 1.78],
        val_accuracy=[0.29, 0.35, 0.36, 0.36, 0.37],
    )
    f = found_fit(h)["FIT002"]
    assert f.severity.value == "warning" and f.cause == "underfitting"


def test_fit002_a_rise_of_one_two_decimal_step_is_no_rise(make_history):
    # a learning rate too low on two classes (the run corpus), printed f"{acc:.2f}": 0.50 -> 0.51 may be
    # 0.5049 -> 0.5051; a rise is read from two steps up
    flat = dict(
        loss=[0.87, 0.86, 0.88, 0.87, 0.88, 0.86],
        accuracy=[0.52, 0.53, 0.50, 0.52, 0.50, 0.51],
        val_loss=[0.75, 0.75, 0.75, 0.75, 0.75, 0.75],
        val_accuracy=[0.52, 0.52, 0.49, 0.51, 0.51, 0.49],
    )
    f = found_fit(make_history(**flat))["FIT002"]
    assert f.cause == "underfitting" and f.evidence["gain_last_epochs"] == pytest.approx(0.01)
    rising = make_history(**{**flat, "accuracy": [0.52, 0.53, 0.50, 0.52, 0.50, 0.54]})
    assert "FIT002" not in found_fit(rising)
    # four decimals show a rise of 0.0101 as one
    fine = make_history(**{**flat, "accuracy": [0.5213, 0.5302, 0.5011, 0.5204, 0.5043, 0.5112]})
    assert "FIT002" not in found_fit(fine)


def test_fit002_plateau_without_validation_metrics_leaves_the_gap_unjudged(make_history):
    # a custom loop that printed training numbers only: validation inputs on another scale would leave
    # these training curves as they are, so the plateau cannot be why validation lags
    h = make_history(loss=[1.9, 1.75, 1.74, 1.74, 1.73], accuracy=[0.30, 0.37, 0.375, 0.378, 0.379])
    f = found_fit(h)["FIT002"]
    assert f.severity.value == "info" and f.cause is None and f.evidence["has_validation"] is False
    report = run(Inputs(history=h), calibrated=False)
    assert report.verdict.cause == "insufficient-evidence"
    assert "validation" in report.verdict.explanation


def test_fit002_still_rising_is_advice_only(make_history):
    h = make_history(loss=[2.1, 1.9, 1.7], accuracy=[0.22, 0.31, 0.39])
    f = found_fit(h)["FIT002"]
    assert f.severity.value == "info" and f.cause is None


def test_fit002_rising_but_near_chance_names_underfitting_not_healthy(make_history):
    # 10 classes, 5 epochs, the first epoch saturated: 0.145 training, 0.171 validation accuracy
    h = make_history(
        loss=[13.7, 2.6, 2.25, 2.21, 2.19],
        accuracy=[0.101, 0.112, 0.128, 0.139, 0.145],
        val_loss=[2.4, 2.27, 2.24, 2.22, 2.2],
        val_accuracy=[0.12, 0.14, 0.155, 0.165, 0.171],
    )
    report = run(Inputs(history=h))
    (f,) = [f for f in report.findings if f.code == "FIT002"]
    assert f.severity.value == "info" and f.cause == "underfitting" and f.evidence["near_chance"] is True
    assert report.verdict.cause == "underfitting"


def test_fit002_rising_below_half_names_underfitting_train_longer(make_history):
    h = make_history(
        loss=[2.083, 1.738, 1.58, 1.454, 1.354],
        accuracy=[0.241, 0.368, 0.427, 0.443, 0.471],
        val_loss=[1.932, 1.74, 1.594, 1.551, 1.513],
        val_accuracy=[0.299, 0.376, 0.42, 0.45, 0.457],
    )
    report = run(Inputs(history=h), calibrated=False)
    (f,) = [f for f in report.findings if f.code == "FIT002"]
    assert f.severity.value == "info" and f.cause == "underfitting" and f.evidence["near_chance"] is False
    assert f.fix is not None and "more epochs" in f.fix.title
    assert report.verdict.cause == "underfitting"


def test_fit002_rising_past_half_is_left_to_the_other_checks(make_history):
    h = make_history(
        loss=[1.6, 1.3, 1.1, 0.95, 0.85],
        accuracy=[0.42, 0.53, 0.6, 0.66, 0.7],
        val_loss=[1.4, 1.25, 1.15, 1.1, 1.05],
        val_accuracy=[0.5, 0.56, 0.6, 0.62, 0.63],
    )
    assert "FIT002" not in found_fit(h)
