"""The counterfactual proof: the same trained model, test images as given vs fixed.

Reproduces the seed's pipeline bug on a small scale: a CNN trained on images
divided by 255 and evaluated on raw test images. The diagnosis must find the
scale mismatch and measure that rescaling the test images restores accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.counterfactual import apply_transform, run_counterfactuals
from cifar_doctor.findings import Finding, Fix, Severity
from cifar_doctor.inputs import Inputs, Split

pytestmark = [pytest.mark.tf]

N_TRAIN = 600
N_TEST = 300


@pytest.fixture(scope="module")
def seed_case(request):
    """(x_train ÷255, y_train one-hot, x_test raw, y_test one-hot, trained model)."""
    keras = pytest.importorskip("keras")
    from keras import layers

    from cifar_doctor.training.recipes import one_hot, stratified_indices

    try:
        arrays = request.getfixturevalue("sample_arrays")
        tr = stratified_indices(arrays["y_train"], N_TRAIN)
        x_train, y_train = arrays["x_train"][tr], arrays["y_train"][tr]
        x_test, y_test = arrays["x_test"][:N_TEST], arrays["y_test"][:N_TEST]
    except pytest.skip.Exception:  # bundled sample absent: generated, learnable data
        x_train, y_train, x_test, y_test = _generated()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    xtr = x_train.astype(np.float32) / 255.0  # the seed's pipeline: train divided by 255 ...
    xte = x_test.astype(np.float32)  # ... test left raw
    ytr, yte = one_hot(y_train), one_hot(y_test)
    model.fit(xtr, ytr, batch_size=32, epochs=2, verbose=0)
    return xtr, ytr, xte, yte, model


def _generated():
    """Ten classes told apart by brightness (a 0-1 feature that raw 0-255 inputs blow past)."""

    def make(n, seed):
        rng = np.random.default_rng(seed)
        y = np.arange(n) % 10
        level = 20.0 + 22.0 * y
        x = level[:, None, None, None] + rng.normal(0, 6, size=(n, 32, 32, 3))
        return np.clip(x, 0, 255).astype(np.uint8), y

    xtr, ytr = make(N_TRAIN, 1)
    xte, yte = make(N_TEST, 2)
    return xtr, ytr, xte, yte


@pytest.mark.training
def test_diagnose_measures_the_fix_on_the_trained_model(seed_case, capfd):
    import cifar_doctor

    xtr, ytr, xte, yte, model = seed_case
    capfd.readouterr()
    report = cifar_doctor.diagnose(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, model=model)
    assert capfd.readouterr().out == ""  # the evaluator is quiet
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert report.counterfactuals, "no counterfactual was measured"
    cf = report.counterfactuals[0]
    assert cf.split == "test" and cf.images == N_TEST
    assert cf.transform.scale == pytest.approx(1 / 255, rel=1e-3)
    for side in (cf.before, cf.after):
        assert set(side) == {"loss", "accuracy"}
    assert cf.confirmed is True
    assert cf.after["accuracy"] > cf.before["accuracy"]
    assert cf.after["loss"] < cf.before["loss"] / 2
    assert report.verdict.confidence >= 0.99
    assert report.verdict.evidence["counterfactual"]["after"] == cf.after
    assert "Measured" in report.verdict.explanation
    # the measurement is the model's own evaluation of the fixed test set
    k_loss, k_acc = model.evaluate(xte / 255.0, yte, verbose=0, batch_size=N_TEST)
    assert cf.after["accuracy"] == pytest.approx(k_acc, abs=1e-3)
    assert cf.after["loss"] == pytest.approx(k_loss, rel=1e-3)


@pytest.mark.training
def test_counterfactual_from_finding_transform_with_real_evaluator(seed_case):
    from cifar_doctor.sources.models import make_evaluator

    xtr, ytr, xte, yte, model = seed_case
    inputs = Inputs(
        splits={"train": Split("train", xtr, ytr), "test": Split("test", xte, yte)}, evaluate=make_evaluator(model)
    )
    finding = Finding(
        "PRE001",
        "train-test-scale-mismatch",
        Severity.ERROR,
        "test is 255x train",
        fix=Fix(
            "Divide x_test by 255",
            transform={"split": "test", "scale": 1 / 255, "offset": 0.0, "expression": "x_test / 255"},
        ),
        cause="eval-input-scale-mismatch",
    )
    useless = Finding(
        "PRE001",
        "train-test-scale-mismatch",
        Severity.ERROR,
        "same transform twice",
        fix=Fix(
            "Divide x_test by 255",
            transform={"split": "test", "scale": 1 / 255, "offset": 0.0, "expression": "x_test / 255"},
        ),
    )
    results = run_counterfactuals(inputs, [finding, useless])
    assert len(results) == 1  # one evaluation per distinct transform
    assert results[0].confirmed is True and "x_test / 255" in results[0].summary


def test_counterfactual_not_confirmed_when_fix_does_not_help(make_images, make_labels):
    x = make_images(50, "unit")
    y = make_labels(50)

    def evaluate(xx, yy):  # a model indifferent to scale
        return {"loss": 2.3, "accuracy": 0.1}

    inputs = Inputs(splits={"test": Split("test", x, y)}, evaluate=evaluate)
    f = Finding("PRE001", "n", Severity.ERROR, "m", fix=Fix("t", transform={"split": "test", "scale": 2.0}))
    res = run_counterfactuals(inputs, [f])
    assert res[0].confirmed is False and res[0].accuracy_gain == 0.0


def test_counterfactual_errors_are_reported_not_raised(make_images, make_labels):
    def evaluate(xx, yy):
        raise ValueError("shape mismatch")

    inputs = Inputs(splits={"test": Split("test", make_images(5), make_labels(5))}, evaluate=evaluate)
    f = Finding("PRE001", "n", Severity.ERROR, "m", fix=Fix("t", transform={"split": "test", "scale": 0.5}))
    res = run_counterfactuals(inputs, [f])
    assert res[0].confirmed is False and "shape mismatch" in res[0].error
    assert res[0].to_dict() == {
        "code": "PRE001",
        "split": "test",
        "transform": {"split": "test", "scale": 0.5},
        "error": "shape mismatch",
        "confirmed": False,
    }


def test_apply_transform_scale_offset_and_channel_order():
    x = np.arange(2 * 1 * 1 * 3, dtype=np.uint8).reshape(2, 1, 1, 3)
    out = apply_transform(x, {"scale": 0.5, "offset": 1.0, "channel_order": [2, 1, 0]})
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0], [2.0, 1.5, 1.0])
    assert x[0, 0, 0, 0] == 0  # input untouched
