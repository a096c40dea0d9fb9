"""Checks MDL008: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import pytest

from conftest import model_info, run_check


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
    f = run_check("MDL008", model=model_info(optimizer=opt, learning_rate=lr))[0][0]
    assert (f.severity.value, f.cause) == (severity, cause) and f.evidence["learning_rate"] == lr


@pytest.mark.parametrize("opt,lr", [("Adam", 1e-3), ("SGD", 0.1), ("Adadelta", 1.0), ("RMSprop", 1e-4)])
def test_mdl008_silent_on_usual_learning_rates(opt, lr):
    assert run_check("MDL008", model=model_info(optimizer=opt, learning_rate=lr))[0] == []


def test_mdl008_skipped_or_silent_without_optimizer():
    assert run_check("MDL008", model=model_info())[0] == []
