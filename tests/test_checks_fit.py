"""FIT checks: learning-curve judgements fire, stay silent, and are skipped without a history."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.sources.logs import read_history

LOGS = Path(__file__).parent / "fixtures" / "logs"
FIT_CODES = ["FIT001", "FIT002", "FIT003", "FIT004"]
HEALTHY = dict(loss=[1.55, 1.20, 1.02, 0.90, 0.82], accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
               val_loss=[1.30, 1.10, 0.98, 0.92, 0.90], val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69])


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["FIT", "LOG"]).findings}


@pytest.mark.parametrize("code", FIT_CODES)
def test_skipped_without_history(code):
    o = next(c for c in run(Inputs()).checks if c.code == code)
    assert o.status == "skipped"


@pytest.mark.parametrize("code", FIT_CODES)
def test_silent_on_healthy(make_history, code):
    assert code not in found(make_history(**HEALTHY))


def test_fit001_seed_run2_fires_with_early_stopping_epoch():
    f = found(read_history(LOGS / "seed-question-run2-keras2.txt"))["FIT001"]
    assert f.evidence["early_stopping_epoch"] == 8
    assert f.evidence["best_val_acc"] == 0.6615
    assert f.evidence["gap_last"] == pytest.approx(0.2634, abs=1e-4)


def test_fit001_silent_on_seed_run1_val_still_improving():
    assert "FIT001" not in found(read_history(LOGS / "seed-question-run1-keras2.txt"))


def test_fit001_needs_patience(make_history):
    h = make_history(loss=[1.5, 1.0, 0.7, 0.5], accuracy=[0.45, 0.65, 0.75, 0.83],
                     val_loss=[1.2, 0.95, 0.9, 1.0], val_accuracy=[0.57, 0.66, 0.70, 0.69])
    assert "FIT001" not in found(h)  # one epoch past the minimum is noise, not a trend


def test_fit002_plateau_low(make_history):
    h = make_history(loss=[1.9, 1.75, 1.74, 1.74, 1.73], accuracy=[0.30, 0.37, 0.375, 0.378, 0.379])
    f = found(h)["FIT002"]
    assert f.severity.value == "warning" and f.cause == "underfitting"


def test_fit002_still_rising_is_advice_only(make_history):
    h = make_history(loss=[2.1, 1.9, 1.7], accuracy=[0.22, 0.31, 0.39])
    f = found(h)["FIT002"]
    assert f.severity.value == "info" and f.cause is None


def test_fit003_val_better_than_train(make_history):
    h = make_history(loss=[1.9, 1.5, 1.3, 1.2], accuracy=[0.30, 0.45, 0.53, 0.57],
                     val_loss=[1.6, 1.25, 1.1, 1.0], val_accuracy=[0.42, 0.55, 0.61, 0.64])
    f = found(h)["FIT003"]
    assert f.cause == "regularization-gap" and f.severity.value == "info"


def test_fit004_oscillating(make_history):
    h = make_history(loss=[1.91, 1.62, 2.05, 1.70, 2.31], accuracy=[0.3, 0.4, 0.3, 0.38, 0.28])
    f = found(h)["FIT004"]
    assert f.evidence["jump_epochs"] == [3, 5] and f.cause == "unstable-training"


def test_fit004_diverging(make_history):
    f = found(make_history(loss=[1.5, 1.2, 1.6, 2.1], accuracy=[0.45, 0.55, 0.45, 0.30]))["FIT004"]
    assert f.evidence["diverging"] is True


def test_fit001_silent_when_training_does_not_beat_validation(make_history):
    # validation starts far above training (dropout, a short run); its small dip is not memorization
    h = make_history(loss=[2.28, 2.11, 2.02], accuracy=[0.13, 0.22, 0.25],
                     val_loss=[1.95, 2.01, 2.06], val_accuracy=[0.238, 0.208, 0.21])
    from cifar_doctor.engine import run
    from cifar_doctor.inputs import Inputs

    assert "FIT001" not in {f.code for f in run(Inputs(history=h), select_codes=["FIT001"]).findings}


def test_fit001_uses_inference_mode_training_accuracy_for_the_gap(make_history):
    from cifar_doctor.engine import run
    from cifar_doctor.inputs import Inputs

    # val loss turns up; logged (dropout-on) training accuracy barely beats validation,
    # but in inference mode the model fits its training images far better: a real gap
    curves = dict(loss=[1.6, 1.2, 1.0, 0.8, 0.6], accuracy=[0.40, 0.52, 0.58, 0.61, 0.63],
                  val_loss=[1.3, 1.1, 1.05, 1.12, 1.2], val_accuracy=[0.55, 0.60, 0.62, 0.60, 0.59])
    h = make_history(**curves)
    assert "FIT001" not in {f.code for f in run(Inputs(history=h), select_codes=["FIT001"]).findings}
    h = make_history(**curves)
    h.train_accuracy_inference_mode = [0.50, 0.64, 0.72, 0.80, 0.86]
    found = {f.code: f for f in run(Inputs(history=h), select_codes=["FIT001"]).findings}
    assert found["FIT001"].evidence["gap_measured_with"] == "inference-mode training accuracy"
    assert found["FIT001"].evidence["gap_last"] == pytest.approx(0.27)
