"""`cifar_doctor.keras.DoctorCallback`: live diagnosis inside `model.fit`.

The Done-when list of the callback issue, on the bundled CIFAR-10 sample, plus
unit tests of the warning logic (no training) and of the argument handling.
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

from cifar_doctor.errors import InputError, UsageError  # noqa: E402
from cifar_doctor.findings import Finding, Fix, Severity  # noqa: E402
from cifar_doctor.training.recipes import RECIPES  # noqa: E402

pytestmark = pytest.mark.tf

#: Verdicts a consistent pipeline may get, each only with a FIT finding from the curves (but healthy).
#: `not-learning`: the fixed recipe's 12 steps on 1,000 images can leave it at chance in inference
#: mode (model.evaluate: 0.108 on the training images, 0.110 on the test images after 3 epochs).
BENIGN = ("healthy", "overfitting", "underfitting", "regularization-gap", "not-learning")

#: Training images of the Done-when runs (the issue: 2,000 CIFAR-10 images).
N_TRAIN = 2000
#: Batch size of the test runs: the seed's 1000 would allocate ~1 GB per activation
#: of the 256-filter convolution on a shared CPU; the diagnosis does not depend on it.
BATCH = 250


def _seed_arrays(sample_arrays, recipe: str, n_train: int, n_test: int):
    """The recipe's pipeline on the first images of the bundled sample."""
    rec = RECIPES[recipe]
    arrays = {
        "x_train": sample_arrays["x_train"][:n_train],
        "y_train": sample_arrays["y_train"][:n_train],
        "x_test": sample_arrays["x_test"][:n_test],
        "y_test": sample_arrays["y_test"][:n_test],
    }
    return rec, rec.preprocess(arrays)


def _fit(
    recipe: str, sample_arrays, *, epochs: int, n_train: int = N_TRAIN, n_test: int = 1000, seed: int = 0, **callback_kw
):
    from cifar_doctor.keras import DoctorCallback

    keras.utils.set_random_seed(seed)
    rec, a = _seed_arrays(sample_arrays, recipe, n_train, n_test)
    model = rec.compile(rec.build())
    doctor = DoctorCallback(
        train_sample=(a["x_train"], a["y_train"]), validation_data=(a["x_test"], a["y_test"]), **callback_kw
    )
    hist = model.fit(
        a["x_train"],
        a["y_train"],
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        validation_data=(a["x_test"], a["y_test"]),
        callbacks=[doctor],
    )
    return doctor, hist


def _scale_codes(report) -> set[str]:
    return {f.code for f in report.findings if f.cause == "eval-input-scale-mismatch" and f.severity == Severity.ERROR}


# --- Done when: the seed's bug -------------------------------------------------------------
@pytest.mark.training
def test_seed_original_warns_by_epoch_one_and_diagnoses_scale_mismatch(sample_arrays, capfd):
    doctor, hist = _fit("original", sample_arrays, epochs=1, n_test=500, sample_size=500)
    out, err = capfd.readouterr()
    report = doctor.report
    assert report.verdict.cause == "eval-input-scale-mismatch"
    codes = _scale_codes(report)
    assert codes, [f.code for f in report.findings]
    # one warning on stderr naming the code and the ~255x ratio; nothing of ours on stdout
    assert "cifar-doctor:" in err
    assert any(code in err for code in codes)
    assert "255" in err
    assert "cifar-doctor" not in out
    assert doctor.events and doctor.events[0]["stopped"] is False
    assert doctor.events[0]["stage"] == "train_begin"  # the data samples show it before the first batch
    # default: warn only, training ran its epoch
    assert len(hist.history["loss"]) == 1
    # inference-mode accuracy on the training sample, per epoch
    acc = doctor.history["train_eval_accuracy"]
    assert len(acc) == 1 and 0.0 <= acc[0] <= 1.0
    assert report.to_dict()["inputs"]["history"]["epochs"] == 1
    assert "train_eval_accuracy" in report.to_dict()["inputs"]["history"]["metrics"]


@pytest.mark.training
def test_stop_on_error_stops_training_after_epoch_one(sample_arrays, capfd):
    doctor, hist = _fit("original", sample_arrays, epochs=3, n_test=500, stop_on="error", sample_size=500)
    err = capfd.readouterr().err
    assert len(hist.history["loss"]) == 1  # stopped: one (partial) epoch of three
    assert "Stopping training" in err and "stop_on='error'" in err
    assert doctor.events[0]["stopped"] is True
    assert doctor.report.verdict.cause == "eval-input-scale-mismatch"


@pytest.mark.training
def test_fixed_recipe_no_warning_and_no_pipeline_verdict(sample_arrays, capfd):
    # three epochs: the history checks judge curves from the third epoch on
    doctor, hist = _fit("fixed", sample_arrays, epochs=3, n_train=1000, n_test=500, sample_size=500)
    err = capfd.readouterr().err
    assert "cifar-doctor:" not in err
    assert doctor.events == []
    assert not [f for f in doctor.report.findings if f.severity == Severity.ERROR]
    assert doctor.report.verdict.cause in BENIGN, doctor.report.verdict
    if doctor.report.verdict.cause != "healthy":  # only if the curves say so: a FIT finding carries it
        assert any(f.code.startswith("FIT") for f in doctor.report.findings)
    assert len(doctor.history["train_eval_accuracy"]) == 3


@pytest.mark.training
def test_logits_output_with_categorical_crossentropy_reported_before_first_batch(make_images, make_labels, capfd):
    from cifar_doctor.keras import DoctorCallback

    x = make_images(64, scale="unit")
    y = make_labels(64, one_hot=True)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    doctor = DoctorCallback()
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not seen:
                seen["cause"] = doctor.report.verdict.cause
                seen["codes"] = {f.code for f in doctor.report.findings}

    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[doctor, Probe()])
    err = capfd.readouterr().err
    assert seen["cause"] == "output-loss-mismatch"
    mdl = {f.code for f in doctor.report.findings if f.cause == "output-loss-mismatch"}
    assert mdl and mdl <= seen["codes"]
    assert "before the first batch" in err and any(c in err for c in mdl)


# --- the warning logic, without training ----------------------------------------------------
def _finding(code="PRE001", severity=Severity.ERROR, split="val", message="x_val is 255.0x x_train"):
    return Finding(
        code=code,
        name="train-test-scale-mismatch",
        severity=severity,
        message=message,
        evidence={"ratio": 255.0},
        fix=Fix("Divide x_val by 255"),
        cause="eval-input-scale-mismatch",
        split=split,
    )


def _report(*findings):
    from cifar_doctor.diagnosis import decide
    from cifar_doctor.report import Report

    return Report(verdict=decide(list(findings), ran=["PRE001"]), findings=list(findings))


def _bare_callback(**kw):
    from cifar_doctor.inputs import Inputs
    from cifar_doctor.keras import DoctorCallback

    cb = DoctorCallback(**kw)
    model = SimpleNamespace(stop_training=False)
    cb.set_model(model)
    cb.set_params({"verbose": 1, "epochs": 5, "steps": 10})
    cb._session = cb._new_session(Inputs())
    return cb, model


def _feed(cb, *findings, epoch):
    """The callback's reaction to a session update whose report holds `findings`."""
    update = cb._session.observe(_report(*findings), epoch=epoch)
    cb._react(update, stage="train_begin" if epoch is None else "epoch_end")


def test_new_error_warns_once_after_keras_epoch_line(capsys):
    cb, model = _bare_callback()
    _feed(cb, _finding(), epoch=1)
    # Keras' ProgbarLogger writes the epoch's line after user callbacks: the warning waits for it
    assert capsys.readouterr().err == ""
    cb.on_epoch_begin(1)
    err = capsys.readouterr().err
    assert "(after epoch 1)" in err and "PRE001" in err and "255.0x" in err and "Divide x_val by 255" in err
    assert "likely cause eval-input-scale-mismatch" in err
    assert model.stop_training is False
    _feed(cb, _finding(), epoch=2)  # same finding: silent
    cb.on_epoch_begin(2)
    assert capsys.readouterr().err == ""
    _feed(cb, _finding(), _finding(code="LOG001", split=None, message="val_loss 8.7"), epoch=3)
    cb._flush()
    err = capsys.readouterr().err
    assert "LOG001" in err and "PRE001" not in err
    assert [e["codes"] for e in cb.events] == [["PRE001"], ["LOG001"]]


def test_train_begin_warns_at_once(capsys):
    cb, _ = _bare_callback()
    _feed(cb, _finding(), epoch=None)
    err = capsys.readouterr().err
    assert err.startswith("cifar-doctor ✖ PRE001 train-test-scale-mismatch [val] (before the first batch): ")


def test_warnings_and_infos_do_not_warn_by_default(capsys):
    cb, model = _bare_callback()
    _feed(cb, _finding(severity=Severity.WARNING), _finding(code="RNG001", severity=Severity.INFO), epoch=1)
    assert capsys.readouterr().err == "" and cb.events == [] and model.stop_training is False


def test_stop_on_error_sets_stop_training_with_message(capsys):
    cb, model = _bare_callback(stop_on="error", warn=False)
    _feed(cb, _finding(), epoch=1)
    assert model.stop_training is True  # at once; the message follows Keras' epoch line
    cb.on_train_end()
    err = capsys.readouterr().err
    assert "Stopping training (stop_on='error')" in err  # shown even with warn=False


def test_stop_on_warning_stops_on_warnings(capsys):
    cb, model = _bare_callback(stop_on="warning")
    _feed(cb, _finding(severity=Severity.WARNING), epoch=2)
    cb._flush()
    assert model.stop_training is True and "PRE001" in capsys.readouterr().err


def test_warn_false_is_silent(capsys):
    cb, model = _bare_callback(warn=False)
    _feed(cb, _finding(), epoch=1)
    cb.on_epoch_begin(1)
    assert capsys.readouterr().err == "" and cb.events[0]["codes"] == ["PRE001"]


def test_validation_every_other_epoch_keeps_epochs_aligned():
    """fit(validation_freq=2): the epochs without validation are gaps, not a shifted validation curve."""
    from cifar_doctor.keras import DoctorCallback

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    cb = DoctorCallback(warn=False)
    cb.set_model(model)
    cb.set_params({"verbose": 0, "epochs": 4, "steps": 10})
    cb.on_train_begin()
    for epoch in range(4):
        logs = {"loss": 1.0 - epoch / 10, "accuracy": 0.5 + epoch / 20}
        if epoch % 2:
            logs.update(val_loss=1.1 - epoch / 20, val_accuracy=0.45 + epoch / 40)
        cb.on_epoch_end(epoch, logs)
    assert cb.history["val_loss"] == [None, pytest.approx(1.05), None, pytest.approx(0.95)]
    h = cb._history_object()
    assert h.gaps == {"val_loss": [0, 2], "val_accuracy": [0, 2]} and h.epochs == 4


def test_history_only_seed_log_warns_at_epoch_one(capsys):
    """No data given: the epoch's numbers alone (the seed's Keras 3 epoch 1) raise the alarm."""
    from cifar_doctor.keras import DoctorCallback

    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    cb = DoctorCallback()
    cb.set_model(model)
    cb.set_params({"verbose": 2, "epochs": 5, "steps": 50})
    cb.on_train_begin()
    assert capsys.readouterr().err == ""
    cb.on_epoch_end(0, {"accuracy": 0.3584, "loss": 1.7761, "val_accuracy": 0.4489, "val_loss": 8.6776})
    cb.on_epoch_begin(1)
    err = capsys.readouterr().err
    errors = [f for f in cb.report.findings if f.severity == Severity.ERROR]
    assert errors, [(f.code, f.severity) for f in cb.report.findings]
    assert "(after epoch 1)" in err and errors[0].code in err
    assert cb.history["val_loss"] == [pytest.approx(8.6776)]
    assert cb.report.verdict.cause == "eval-input-scale-mismatch"


# --- arguments ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw, err",
    [
        ({"stop_on": "always"}, UsageError),
        ({"sample_size": 0}, UsageError),
        ({"classes": 1}, UsageError),
        ({"train_sample": (np.zeros((4, 8, 8, 3)),)}, InputError),
        ({"train_sample": (np.zeros((4, 8, 8, 3)), np.zeros(3))}, InputError),
        ({"validation_data": iter([(np.zeros((4, 8, 8, 3)), np.zeros(4))])}, InputError),
        ({"validation_data": ({"image": np.zeros((4, 8, 8, 3))}, np.zeros(4))}, InputError),
        ({"validation_data": 3}, InputError),
    ],
    ids=[
        "stop_on",
        "sample_size",
        "classes",
        "one-tuple",
        "length-mismatch",
        "one-shot-iterator",
        "dict-input",
        "scalar",
    ],
)
def test_bad_arguments_raise_actionable_errors(kw, err):
    from cifar_doctor.keras import DoctorCallback

    with pytest.raises(err) as info:
        DoctorCallback(**kw)
    assert "Expected" in str(info.value) or "Received" in str(info.value)


def test_samples_are_bounded_and_strided(make_labels):
    from cifar_doctor.keras import DoctorCallback

    x = (np.arange(10_000) % 256).astype(np.uint8).reshape(10_000, 1, 1, 1) * np.ones((1, 4, 4, 3), np.uint8)
    y = make_labels(10_000)
    cb = DoctorCallback(train_sample=(x, y), validation_data=(x, y, np.ones(10_000)), sample_size=500)
    xs, ys = cb._train
    assert len(xs) == 500 and len(ys) == 500
    assert np.shares_memory(xs, x)  # a view: no copy, no pass over the data
    assert xs[1, 0, 0, 0] == 20  # every 20th image, spread over the whole array
    assert len(cb._val[0]) == 500


def test_tf_data_and_pydataset_samples(make_images, make_labels):
    import tensorflow as tf

    from cifar_doctor.keras import DoctorCallback

    x, y = make_images(100), make_labels(100)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    cb = DoctorCallback(validation_data=ds, sample_size=40)
    assert cb._val[0].shape == (40, 32, 32, 3) and cb._val[1].shape == (40,)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return x[i * 10 : (i + 1) * 10], y[i * 10 : (i + 1) * 10]

    cb = DoctorCallback(train_sample=Batches(), sample_size=25)
    assert cb._train[0].shape == (25, 32, 32, 3)


@pytest.mark.parametrize(
    "pred, y, expected",
    [
        (np.eye(3)[[0, 1, 2, 0]], np.eye(3)[[0, 1, 1, 0]], 3),  # one-hot labels
        (np.eye(3)[[0, 1, 2, 0]], np.array([[0], [1], [2], [2]]), 3),  # integer column
        (np.array([[0.9], [0.2], [0.7]]), np.array([1, 0, 0]), 2),  # one sigmoid unit
        (np.array([[2.0], [-1.0], [0.5]]), np.array([1, 0, 0]), 2),  # one logit
    ],
    ids=["one-hot", "integer", "sigmoid", "logit"],
)
def test_count_correct(pred, y, expected):
    from cifar_doctor.sources.evaluator import count_correct

    assert count_correct(pred, y) == expected


def test_import_has_no_side_effects():
    code = (
        "import keras; before = (keras.config.floatx(), keras.config.image_data_format()); "
        "import cifar_doctor.keras; "
        "assert (keras.config.floatx(), keras.config.image_data_format()) == before"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "cifar-doctor" not in proc.stderr


@pytest.mark.training
def test_docstring_example_runs():
    import cifar_doctor.keras as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
