"""Checks MDL008: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import pytest

from cifar_doctor.api import build_inputs
from cifar_doctor.engine import run
from cifar_doctor.inputs import ModelInfo


def info(**kw) -> ModelInfo:
    base = dict(
        input_shape=(32, 32, 3),
        output_units=10,
        last_activation="softmax",
        loss="categorical_crossentropy",
        from_logits=False,
        rescaling=[],
        layers=["Conv2D", "MaxPooling2D", "Flatten", "Dense"],
    )
    base.update(kw)
    return ModelInfo(**base)


def check(code, **kw):
    """Run one check through the engine; return (findings of that code, its outcome)."""
    report = run(build_inputs(**kw), select_codes=[code], counterfactual=False)
    outcome = next(o for o in report.checks if o.code == code)
    return [f for f in report.findings if f.code == code], outcome, report


# --- MDL008-MDL010: optimizer and activations read off the model --------------------------
@pytest.mark.parametrize(
    "opt,lr,severity,cause",
    [
        ("SGD", 1.0, "warning", "unstable-training"),  # 100x the default: the re-enacted dead network
        ("Adam", 0.5, "warning", "unstable-training"),
        ("Adam", -1e-3, "error", "not-learning"),
        ("Adadelta", 1e-3, "warning", "underfitting"),  # Keras' Adadelta default, 1000x below Keras 2's
        ("Adam", 1e-7, "warning", "underfitting"),
    ],
)
def test_mdl008_learning_rate_out_of_range(opt, lr, severity, cause):
    f = check("MDL008", model=info(optimizer=opt, learning_rate=lr))[0][0]
    assert (f.severity.value, f.cause) == (severity, cause) and f.evidence["learning_rate"] == lr


@pytest.mark.parametrize("opt,lr", [("Adam", 1e-3), ("SGD", 0.1), ("Adadelta", 1.0), ("RMSprop", 1e-4)])
def test_mdl008_silent_on_usual_learning_rates(opt, lr):
    assert check("MDL008", model=info(optimizer=opt, learning_rate=lr))[0] == []


def test_mdl008_skipped_or_silent_without_optimizer():
    assert check("MDL008", model=info())[0] == []
