"""Check MDL012: where it fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest
from test_model_orientation import bars

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, Split


def _trained(momentum: float):
    """A small CNN with BatchNormalization, 57 steps on bars lifted to 10-30 (activations far from the
    moving statistics' starting 0 and 1), and its data."""
    keras = pytest.importorskip("keras")
    from keras import layers

    keras.utils.set_random_seed(0)
    x, y = bars(600, seed=1)
    x = x * 20 + 10
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            layers.Conv2D(8, 3),
            layers.BatchNormalization(momentum=momentum),
            layers.ReLU(),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model, x, y


def _inputs(model, x, y) -> Inputs:
    from cifar_doctor.sources.evaluator import make_evaluator

    return Inputs(splits={"train": Split("train", x, y)}, evaluate=make_evaluator(model))


@pytest.mark.slow
def test_mdl012_fires_on_moving_statistics_that_have_not_settled():
    # momentum 0.99 for 57 steps: the moving averages still hold 57% of their starting values
    model, x, y = _trained(0.99)
    before = model.predict(x, verbose=0)
    report = run(_inputs(model, x, y), calibrated=False)
    (f,) = [f for f in report.findings if f.code == "MDL012"]
    ev = f.evidence
    assert f.cause == "regularization-gap" and f.severity.value == "warning"
    assert ev["training_mode_accuracy"] - ev["inference_accuracy"] >= 0.2
    assert ev["batch_norm_layers"] and ev["images"] == 600
    # the training-mode call updates the moving averages; they are restored
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)


@pytest.mark.slow
def test_mdl012_silent_when_the_moving_statistics_have_settled():
    # momentum 0.5: the moving averages follow the batches within a few steps
    model, x, y = _trained(0.5)
    report = run(_inputs(model, x, y), calibrated=False)
    assert "MDL012" not in {f.code for f in report.findings}
    assert next(c for c in report.checks if c.code == "MDL012").status == "ran"


@pytest.mark.slow
def test_mdl006_compares_the_splits_in_training_mode_when_the_moving_statistics_are_stale():
    # inference mode scores the moving statistics on both splits; batch statistics score the network,
    # so eval labels shuffled apart from their images show as chance there, and aligned ones do not
    from cifar_doctor.sources.evaluator import make_evaluator

    model, x, y = _trained(0.99)
    xe, ye = bars(400, seed=2)
    xe = xe * 20 + 10
    shuffled = np.random.default_rng(0).permutation(ye)
    for labels, cause, verdict in ((ye, None, "regularization-gap"), (shuffled, "eval-labels-misaligned", None)):
        inp = Inputs(
            splits={"train": Split("train", x, y), "test": Split("test", xe, labels)},
            evaluate=make_evaluator(model),
            classes=2,
        )
        report = run(inp, select_codes=["MDL006", "MDL012"], calibrated=False)
        (f,) = [f for f in report.findings if f.code == "MDL006"]
        assert f.evidence["mode"] == "training" and f.cause == cause
        assert f.evidence["train"]["accuracy"] - f.evidence["inference_mode"]["train"]["accuracy"] >= 0.2
        assert report.verdict.cause == (verdict or cause)


@pytest.mark.slow
def test_mdl011_reads_a_transposed_eval_split_in_training_mode_when_the_moving_statistics_are_stale():
    # transposing the bars swaps the classes; with the moving statistics stale, inference mode scores them
    # both ways alike, so the re-arrangement is read with batch statistics
    from cifar_doctor.sources.evaluator import make_evaluator

    model, x, y = _trained(0.99)
    xe, ye = bars(400, seed=2)
    xe = np.ascontiguousarray(np.swapaxes(xe * 20 + 10, 1, 2))
    inp = Inputs(
        splits={"train": Split("train", x, y), "test": Split("test", xe, ye)},
        evaluate=make_evaluator(model),
        classes=2,
    )
    report = run(inp, select_codes=["MDL006", "MDL011", "MDL012"], calibrated=False)
    (f,) = [f for f in report.findings if f.code == "MDL011"]
    ev = f.evidence
    assert ev["mode"] == "training" and ev["best"] == "transposed"
    assert ev["accuracy_reoriented"]["transposed"] - ev["accuracy_given"] >= 0.3
    assert report.verdict.cause == "input-layout-mismatch"


def test_mdl012_skipped_without_a_model():
    x, y = bars(50, seed=1)
    inp = Inputs(splits={"train": Split("train", x, y)})
    assert next(c for c in run(inp).checks if c.code == "MDL012").status == "skipped"


def test_mdl012_silent_on_an_evaluator_without_a_keras_model():
    # a plain evaluate(x, y) (no model to call in training mode): nothing to compare
    x, y = bars(50, seed=1)
    inp = Inputs(splits={"train": Split("train", x, y)}, evaluate=lambda x, y: {"accuracy": 0.5, "loss": 0.7})
    report = run(inp, calibrated=False)
    assert "MDL012" not in {f.code for f in report.findings}


def test_mdl007_leaves_a_model_that_learned_with_batch_statistics_to_mdl012(monkeypatch):
    """At chance in inference mode, 0.80 in training mode (a BatchNorm model of the run corpus, ten
    classes): it learned, so not `not-learning`; MDL012 names the moving statistics."""
    import cifar_doctor.measure.model as measure
    from cifar_doctor.measure.model import Measurement, ModeScores, SplitScore

    x = np.zeros((100, 8, 8, 1), np.float32)
    y = np.arange(100) % 10
    scores = Measurement(SplitScore("train", 100, 100, 0.094, 2.4), (SplitScore("test", 100, 100, 0.1, 2.4),))
    monkeypatch.setattr(measure, "measure_model", lambda inputs: scores)
    inp = Inputs(
        splits={"train": Split("train", x, y), "test": Split("test", x, y)},
        evaluate=lambda x, y: {"accuracy": 0.1, "loss": 2.3},
    )
    for training, expected in ((0.80, "regularization-gap"), (0.12, "not-learning")):
        monkeypatch.setattr(measure, "mode_scores", lambda inputs, t=training: ModeScores(100, 100, 0.094, t, ("bn",)))
        report = run(inp, select_codes=["MDL007", "MDL012"], calibrated=False)
        assert report.verdict.cause == expected


def test_mdl006_a_generalization_gap_smaller_than_the_statistics_gap_leaves_the_verdict_to_mdl012(monkeypatch):
    """Stale statistics cost the training images 0.825 -> 0.336 and the splits differ by 0.092 in training mode
    (a BatchNorm model of the run corpus): both are real, the larger leads. A one-unit model is two classes."""
    import cifar_doctor.measure.model as measure
    from cifar_doctor.inputs import ModelInfo
    from cifar_doctor.measure.model import Measurement, ModeScores, SplitScore

    x = np.zeros((800, 8, 8, 1), np.float32)
    y = np.arange(800) % 2
    inference = Measurement(SplitScore("train", 800, 800, 0.336, 1.9), (SplitScore("test", 600, 600, 0.31, 2.0),))
    monkeypatch.setattr(measure, "measure_model", lambda inputs: inference)
    monkeypatch.setattr(measure, "mode_scores", lambda inputs: ModeScores(800, 800, 0.336, 0.825, ("bn",)))
    inp = Inputs(
        splits={"train": Split("train", x, y), "test": Split("test", x[:600], y[:600])},
        evaluate=lambda x, y: {"accuracy": 0.3, "loss": 2.0},
        model=ModelInfo(input_shape=(8, 8, 1), output_units=1, last_activation="sigmoid", loss="binary_crossentropy"),
    )
    for test, cause, severity, verdict in (
        (0.733, "overfitting", "info", "regularization-gap"),
        (0.30, "overfitting", "warning", "overfitting"),
        (0.49, "eval-labels-misaligned", "warning", "eval-labels-misaligned"),
    ):
        batch = Measurement(SplitScore("train", 800, 800, 0.825), (SplitScore("test", 600, 600, test),))
        monkeypatch.setattr(measure, "training_mode_measurement", lambda inputs, b=batch: b)
        report = run(inp, select_codes=["MDL006", "MDL012"], calibrated=False)
        (f,) = [f for f in report.findings if f.code == "MDL006"]
        assert (f.cause, f.severity.value, report.verdict.cause) == (cause, severity, verdict)
        assert f.evidence["inference_mode"]["train"]["accuracy"] == 0.336


@pytest.mark.slow
def test_mdl012_reads_the_same_accuracy_whatever_the_dropout_seed_states():
    # Keras does not save seed states: a loaded model draws new ones in each process. The reading
    # fixes them for the pass and restores them after.
    keras = pytest.importorskip("keras")
    from keras import layers

    from cifar_doctor.sources.evaluator import make_evaluator
    from cifar_doctor.sources.training_mode import training_mode_outputs

    keras.utils.set_random_seed(0)
    x, y = bars(200, seed=1)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            layers.Flatten(),
            layers.Dense(16),
            layers.BatchNormalization(),
            layers.Dropout(0.5),
            layers.Dense(2, activation="softmax"),
        ]
    )
    (seed,) = [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]
    readings = []
    for start in (11, 12345):
        seed.assign(np.array([start, 0], dtype=np.dtype(str(seed.dtype))))
        readings.append(training_mode_outputs(make_evaluator(model), x))
        assert seed.numpy().tolist() == [start, 0]
    np.testing.assert_array_equal(readings[0], readings[1])


def test_mdl012_cuts_a_single_logit_where_evaluate_does():
    # one linear unit trained with from_logits=True: an output of 0.3 is class 1 in both modes, though it
    # lies within [0, 1] where a probability would be cut at 0.5
    keras = pytest.importorskip("keras")
    from keras import layers

    from cifar_doctor.measure.model import mode_scores
    from cifar_doctor.sources.evaluator import make_evaluator

    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = np.ones(64, np.int64)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            layers.BatchNormalization(),
            layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros"),
        ]
    )
    model.layers[-1].bias.assign(np.array([0.3], np.float32))
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    inputs = Inputs(splits={"train": Split("train", x, y)}, evaluate=make_evaluator(model))
    scores = mode_scores(inputs)
    assert scores is not None
    assert scores.inference == 1.0 and scores.training == 1.0
