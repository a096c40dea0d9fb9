"""Checks LOG005, LOG011: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

from pathlib import Path

from cifar_doctor import diagnose
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


def codes(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["LOG", "FIT"]).findings}


# a healthy CIFAR-10 run: loss falls, val follows, honest errors cost ~2-3 nats
HEALTHY = dict(
    loss=[1.55, 1.20, 1.02, 0.90, 0.82],
    accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
    val_loss=[1.30, 1.10, 0.98, 0.92, 0.90],
    val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69],
)


LOGS = Path(__file__).parent.parent / "fixtures" / "logs"


def outcome(report, code):
    return next(c for c in report.checks if c.code == code)


# --- LOG011: evaluate() after few steps ------------------------------------------------------------
def test_log011_few_steps_train_eval_mode_gap(make_history):
    h = make_history(loss=[1.4624, 0.6051, 0.2168, 1.1921e-07, 1.1921e-07], acc=[0.3333, 0.6667, 1.0, 1.0, 1.0])
    h.evaluations = [{"loss": 10.745, "accuracy": 0.3333}]
    h.bar_total = 3
    f = found(h)
    assert f["LOG011"].evidence["max_steps"] == 15 and "LOG001" not in f
    assert verdict(h) == "regularization-gap"
    h.bar_total = 1563  # thousands of steps: the BatchNorm statistics have settled, LOG001 may speak
    assert "LOG011" not in found(h)


def test_log005_validation_that_keeps_up_with_training_is_leakage(make_history):
    # validation_data = a slice of the training arrays; the real test set is printed after fit
    h = make_history(
        loss=[1.2543, 1.1561, 1.0593],
        accuracy=[0.5543, 0.5933, 0.6297],
        val_loss=[1.2082, 1.147, 1.0001],
        val_accuracy=[0.5533, 0.59, 0.63],
    )
    h.evaluations = [{"loss": 1.7336, "accuracy": 0.438}]
    assert found(h)["LOG005"].cause == "train-test-leakage"
    # a test set read in BGR: validation (held out, correct) falls behind training, the test far below
    h = make_history(
        loss=[1.708, 1.59, 1.498],
        accuracy=[0.3906, 0.4267, 0.4653],
        val_loss=[1.675, 1.584, 1.534],
        val_accuracy=[0.3775, 0.4275, 0.425],
    )
    h.evaluations = [{"loss": 2.3128, "accuracy": 0.209}]
    assert found(h)["LOG005"].cause == "eval-distribution-shift"


# --- LOG005 -----------------------------------------------------------------------------
def test_log005_fires_when_evaluate_disagrees(make_history):
    h = make_history(**HEALTHY)
    h.evaluations = [{"loss": 2.31, "accuracy": 0.10}]
    f = codes(h)["LOG005"]
    assert f.severity.value == "warning" and f.evidence["evaluate"]["accuracy"] == 0.1


def test_log005_silent_on_seed_where_evaluate_equals_val():
    report = diagnose(history=str(LOGS / "seed-question-run1-keras2.txt"))
    assert "LOG005" not in report.codes()
    assert outcome(report, "LOG005").status == "ran"


#: An overfitting run whose validation loss is lowest at epoch 5 of 10.
TURNED = dict(
    loss=[1.8, 1.4, 1.1, 0.9, 0.7, 0.55, 0.42, 0.31, 0.22, 0.15],
    accuracy=[0.35, 0.5, 0.61, 0.68, 0.75, 0.81, 0.86, 0.9, 0.93, 0.95],
    val_loss=[1.6, 1.35, 1.2, 1.12, 1.09, 1.13, 1.22, 1.35, 1.5, 1.68],
    val_accuracy=[0.42, 0.52, 0.57, 0.6, 0.615, 0.61, 0.605, 0.6, 0.59, 0.585],
)


def test_log005_an_evaluate_of_the_restored_best_epoch_is_not_another_pipeline(make_history):
    # EarlyStopping(restore_best_weights=True), then evaluate() on the validation data: epoch 5's numbers
    h = make_history(**TURNED)
    h.evaluations = [{"loss": 1.0903, "accuracy": 0.615}]
    report = run(Inputs(history=h), calibrated=False)
    f = {x.code: x for x in report.findings}["LOG005"]
    assert f.cause is None and f.severity.value == "info" and f.evidence["matches_epoch"] == 5
    assert "that epoch's (EarlyStopping(restore_best_weights=True) or a best-only checkpoint), not" in f.message
    assert report.verdict.cause == "overfitting"
    # the same result only near the best epoch (within the generous tolerances) is still another pipeline
    h.evaluations = [{"loss": 1.05, "accuracy": 0.65}]
    assert codes(h)["LOG005"].cause == "eval-distribution-shift"
    # and an evaluate far from every epoch keeps the warning
    h.evaluations = [{"loss": 2.9, "accuracy": 0.31}]
    assert codes(h)["LOG005"].cause == "eval-distribution-shift"


def test_log005_compares_evaluate_with_the_epoch_the_log_says_was_restored(tmp_path):
    # EarlyStopping(restore_best_weights=True, verbose=1) says which epoch it restored; evaluate() on the test
    # split then lies within LOG005's usual tolerances of that epoch's validation numbers, not the last's
    from cifar_doctor.sources.logs import read_history
    from conftest import keras3_console

    lines = [keras3_console(TURNED)]
    said = "Epoch 10: early stopping\nRestoring model weights from the end of the best epoch: 5.\n"
    evaluate = "10/10 - 0s - 8ms/step - accuracy: 0.6300 - loss: 1.0400\n"
    path = tmp_path / "restored.txt"
    path.write_text("".join(lines) + said + evaluate)
    h = read_history(path)
    assert h.restored_epoch == 5
    f = {x.code: x for x in run(Inputs(history=h), calibrated=False).findings}["LOG005"]
    assert f.cause is None and f.evidence["restored_in_log"] is True and "EarlyStopping restored" in f.message
    assert "that epoch's, not a different pipeline" in f.message
    # without the line the same evaluate() is only near epoch 5: another pipeline, as before
    path.write_text("".join(lines) + evaluate)
    assert {x.code: x for x in run(Inputs(history=read_history(path))).findings}["LOG005"].cause == (
        "eval-distribution-shift"
    )


def test_log005_a_log_printing_every_fifth_epoch_allows_one_printed_step_of_drift():
    # a custom loop printing epochs 1, 5, ..., 20 of a longer run: evaluate() may follow up to four unprinted
    # epochs, in which a small validation split moves as much as it did between two printed ones
    from cifar_doctor.records import History

    metrics = dict(
        loss=[1.2, 0.6, 0.4, 0.3, 0.2],
        accuracy=[0.6, 0.8, 0.87, 0.91, 0.94],
        val_loss=[1.0, 0.7, 0.62, 0.66, 0.71],
        val_accuracy=[0.66, 0.75, 0.82, 0.75, 0.81],
    )
    ev = [{"loss": 0.69, "accuracy": 0.75}]
    h = History(metrics={k: list(v) for k, v in metrics.items()}, evaluations=ev, index=[1, 5, 10, 15, 20])
    assert "LOG005" not in codes(h)
    # printed every epoch, the same numbers are another pipeline
    assert codes(History(metrics={k: list(v) for k, v in metrics.items()}, evaluations=ev))["LOG005"]
    # and a drift far beyond any printed step still is
    h.evaluations = [{"loss": 2.3, "accuracy": 0.5}]
    assert codes(h)["LOG005"].cause == "eval-distribution-shift"
