"""Checks MDL006, MDL007: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, ModelInfo, Split
from conftest import run_json


def fixed_evaluator(scores: dict[int, float]):
    """An `evaluate(x, y)` that returns the accuracy registered for the number of images."""

    def evaluate(x, y):
        acc = scores[len(x)]
        return {"accuracy": acc, "loss": 3.0 * (1 - acc)}

    return evaluate


def inputs(make_images, make_labels, train_acc, test_acc, *, n_train=300, n_test=200, test_scale="unit"):
    return Inputs(
        splits={
            "train": Split("train", make_images(n_train, "unit", seed=1), make_labels(n_train, seed=1)),
            "test": Split("test", make_images(n_test, test_scale, seed=2), make_labels(n_test, seed=2)),
        },
        model=ModelInfo(
            input_shape=(32, 32, 3), output_units=10, last_activation="softmax", loss="sparse_categorical_crossentropy"
        ),
        evaluate=fixed_evaluator({n_train: train_acc, n_test: test_acc}),
    )


def findings(inp):
    report = run(inp)
    return {f.code: f for f in report.findings}, report


# --- real models through the CLI ------------------------------------------------------------------
def _train(x, y, *, epochs, lr, seed=0):
    keras = pytest.importorskip("keras")
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(lr) if lr > 0.5 else keras.optimizers.Adam(lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def sample_npz(tmp_path_factory, sample_arrays):
    x = sample_arrays["x_train"][:400].astype("float32") / 255.0
    y = sample_arrays["y_train"][:400].reshape(-1)
    xt = sample_arrays["x_test"][:400].astype("float32") / 255.0
    yt = sample_arrays["y_test"][:400].reshape(-1)
    path = tmp_path_factory.mktemp("measured") / "data.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path, (x, y)


@pytest.mark.parametrize("code", ["MDL006", "MDL007"])
def test_mdl006_skipped_without_an_evaluator(make_images, make_labels, code):
    inp = Inputs(splits={"train": Split("train", make_images(50, "unit"), make_labels(50))})
    assert next(c for c in run(inp).checks if c.code == code).status == "skipped"


def test_mdl006_large_measured_gap_is_overfitting(make_images, make_labels):
    f, report = findings(inputs(make_images, make_labels, 0.975, 0.477))
    assert f["MDL006"].cause == "overfitting" and f["MDL006"].severity.value == "warning"
    assert f["MDL006"].evidence["train"]["accuracy"] == 0.975
    assert f["MDL006"].evidence["eval"][0]["accuracy"] == 0.477
    assert report.verdict.cause == "overfitting"


def test_mdl006_eval_at_chance_is_not_overfitting(make_images, make_labels):
    # eval labels shuffled apart from their images: the model learned its training images, scores 1/K on eval
    f, report = findings(inputs(make_images, make_labels, 0.92, 0.105, n_test=1000))
    assert f["MDL006"].cause == "eval-labels-misaligned" and f["MDL006"].severity.value == "warning"
    assert f["MDL006"].evidence["chance"] == 0.1 and f["MDL006"].evidence["chance_band"]["test"] == 0.03
    assert report.verdict.cause == "eval-labels-misaligned"


def test_mdl006_eval_above_chance_by_more_than_its_noise_is_overfitting(make_images, make_labels):
    # 0.16 on 1,000 images is 6 standard errors above 1/10: the model generalizes a little, and overfits
    f, _ = findings(inputs(make_images, make_labels, 0.92, 0.16, n_test=1000))
    assert f["MDL006"].cause == "overfitting"


def test_mdl006_a_small_eval_split_widens_the_chance_band(make_images, make_labels):
    # 0.16 on 60 images is within two standard errors (0.077) of 1/10
    f, _ = findings(inputs(make_images, make_labels, 0.92, 0.16, n_test=60))
    assert f["MDL006"].cause == "eval-labels-misaligned"


def test_mdl006_small_gap_is_reported_and_rules_overfitting_out(make_images, make_labels):
    # the standardized healthy re-enactment: 0.637 vs 0.516, eval errors 1.3x the training errors
    f, report = findings(inputs(make_images, make_labels, 0.637, 0.516))
    assert f["MDL006"].severity.value == "info" and f["MDL006"].cause is None
    assert "not overfitting" in f["MDL006"].message
    assert report.verdict.cause == "healthy"


def test_mdl006_judges_the_gap_against_its_sampling_noise(make_images, make_labels):
    # an easy task: 1.000 against 0.970 on 500 eval images is 3.9 standard errors, and every error is an eval
    # error; 0.85 against 0.80 on 300 and 200 images is 1.4 standard errors
    f, report = findings(inputs(make_images, make_labels, 1.0, 0.97, n_train=400, n_test=500))
    assert f["MDL006"].cause == "overfitting" and f["MDL006"].evidence["gap_noise"]["test"] == pytest.approx(
        0.0153, abs=1e-4
    )
    f, _ = findings(inputs(make_images, make_labels, 0.85, 0.80))
    assert f["MDL006"].cause is None and "within 2 standard errors" in f["MDL006"].message


def test_mdl006_training_images_scoring_below_eval_ones_are_wrong_training_labels(make_images, make_labels):
    # a model scores its own training images at least as well as unseen ones, against labels of the same kind:
    # 0.70 against 0.82 on 1,200 and 1,000 images (6.7 standard errors) leaves training labels it did not fit
    f, report = findings(inputs(make_images, make_labels, 0.70, 0.82, n_train=1200, n_test=1000))
    assert f["MDL006"].cause == "noisy-labels" and f["MDL006"].severity.value == "warning"
    assert f["MDL006"].evidence["wrong_labels_at_least"] == 0.12
    assert report.verdict.cause == "noisy-labels"
    # 0.78 against 0.82 is 2.3 standard errors: sampling noise, no judgement
    f, report = findings(inputs(make_images, make_labels, 0.78, 0.82, n_train=1200, n_test=1000))
    assert f["MDL006"].cause is None and report.verdict.cause == "healthy"


def _one_unit(make_images, y_train, y_test, train_acc, test_acc):
    return Inputs(
        splits={
            "train": Split("train", make_images(len(y_train), "unit", seed=1), y_train),
            "test": Split("test", make_images(len(y_test), "unit", seed=2), y_test),
        },
        model=ModelInfo(input_shape=(32, 32, 3), output_units=1, last_activation="sigmoid", loss="binary_crossentropy"),
        evaluate=fixed_evaluator({len(y_train): train_acc, len(y_test): test_acc}),
    )


def test_mdl006_one_unit_reads_two_classes_and_the_class_mix_of_training(make_images):
    rng = np.random.default_rng(0)
    balanced = rng.integers(0, 2, 600)
    # a one-unit model at 0.92 on its balanced training images and 0.49 on eval images: chance for two classes
    f, _ = findings(_one_unit(make_images, balanced, rng.integers(0, 2, 400), 0.92, 0.49))
    assert f["MDL006"].cause == "eval-labels-misaligned" and f["MDL006"].evidence["chance"] == 0.5
    # 95% of the training labels one class: answering it everywhere scores 0.95 there and half a balanced eval
    # split, which is the class mix, not eval labels out of their images' order
    skewed = (rng.random(600) < 0.05).astype(np.int64)
    f, _ = findings(_one_unit(make_images, skewed, rng.integers(0, 2, 400), 0.952, 0.507))
    assert f["MDL006"].cause == "overfitting"


def test_mdl006_silent_on_targets_that_are_not_classes(make_images):
    # a regression's integer-valued targets (25-346) under one output unit: its accuracy reads 1.0 on both
    # splits and measures nothing
    rng = np.random.default_rng(0)
    y, yt = rng.integers(25, 347, 300).astype("float32"), rng.integers(25, 347, 100).astype("float32")
    f, report = findings(_one_unit(make_images, y, yt, 1.0, 1.0))
    assert "MDL006" not in f and next(c for c in report.checks if c.code == "MDL006").status == "ran"
    f, _ = findings(_one_unit(make_images, y + 0.5, yt + 0.5, 1.0, 1.0))
    assert "MDL006" not in f


def test_mdl006_silent_when_the_splits_are_on_different_scales(make_images, make_labels):
    f, _ = findings(inputs(make_images, make_labels, 0.5, 0.2, test_scale="uint8"))
    assert "MDL006" not in f and "PRE001" in f


def test_mdl007_model_at_chance_everywhere(make_images, make_labels):
    f, report = findings(inputs(make_images, make_labels, 0.107, 0.109))
    assert f["MDL007"].severity.value == "warning" and "MDL006" not in f
    assert report.verdict.cause == "not-learning"


def test_mdl007_silent_when_the_model_learned(make_images, make_labels):
    f, _ = findings(inputs(make_images, make_labels, 0.52, 0.46))
    assert "MDL007" not in f


def test_mdl007_eval_at_chance_and_training_barely_above_it(make_images, make_labels):
    # a BatchNorm model whose inference-mode statistics lag (the run corpus): 0.139 on its training
    # images, 0.089 on the test images; neither a gap nor its absence says anything, and it is not healthy
    f, report = findings(inputs(make_images, make_labels, 0.139, 0.089))
    assert "less than 0.15 above it in training" in f["MDL007"].message
    assert report.verdict.cause == "not-learning"
    # the same training score with test images above chance: a weak model, judged by MDL006
    f, _ = findings(inputs(make_images, make_labels, 0.139, 0.2))
    assert "MDL007" not in f


@pytest.mark.training
def test_mdl006_cli_overfit_model_prints_train_and_eval_accuracy(sample_npz, tmp_path):
    path, (x, y) = sample_npz
    model = _train(x, y, epochs=40, lr=1e-3)  # 400 images, a 786k-parameter MLP: memorizes
    model.save(tmp_path / "overfit.keras")
    rc, data, err = run_json("check", "--data", str(path), "--model", str(tmp_path / "overfit.keras"))
    assert data["verdict"]["cause"] == "overfitting", (data["verdict"], err)
    mdl = next(f for f in data["findings"] if f["code"] == "MDL006")
    train, test = mdl["evidence"]["train"]["accuracy"], mdl["evidence"]["eval"][0]["accuracy"]
    assert train > 0.6 and train - test >= 0.15
    assert "on training images" in mdl["message"]


@pytest.mark.training
def test_mdl007_cli_model_that_never_learned_is_not_learning(sample_npz, tmp_path):
    path, (x, y) = sample_npz
    model = _train(x, y, epochs=2, lr=5.0)  # SGD(5.0): the ReLUs die in the first steps
    model.save(tmp_path / "dead.keras")
    rc, data, err = run_json("check", "--data", str(path), "--model", str(tmp_path / "dead.keras"))
    assert data["verdict"]["cause"] == "not-learning", (data["verdict"], err)
    assert "MDL007" in data["verdict"]["evidence"]["codes"]
