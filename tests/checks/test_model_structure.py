"""Checks MDL001, MDL002, MDL009, MDL010: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.api import build_inputs
from cifar_doctor.checks.model.input_layer import in_model_affine
from cifar_doctor.engine import run
from cifar_doctor.inputs import Affine
from conftest import model_info, run_check, run_cli, run_json


@pytest.fixture(scope="module")
def logits_model_file(tmp_path_factory):
    keras = pytest.importorskip("keras")
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10),
        ]
    )  # no softmax
    path = tmp_path_factory.mktemp("models") / "logits.keras"
    model.save(path)
    return path


def test_mdl001_linear_output_with_probability_loss_is_an_error():
    found, outcome, report = run_check(
        "MDL001",
        model=model_info(last_activation="linear", loss=None, from_logits=None),
        loss="categorical_crossentropy",
    )
    assert outcome.status == "ran" and len(found) == 1
    f = found[0]
    assert f.severity.value == "error" and f.cause == "output-loss-mismatch"
    assert f.evidence["last_activation"] == "linear" and f.evidence["from_logits"] is False
    assert f.evidence["loss_source"] == "loss"  # Python's words; the CLI's below
    from cifar_doctor.cli.common import CHECK_HINTS

    cli = run(
        build_inputs(
            model=model_info(last_activation="linear", loss=None, from_logits=None), loss="categorical_crossentropy"
        ),
        select_codes=["MDL001"],
        counterfactual=False,
        hints=CHECK_HINTS,
    )
    assert cli.findings[0].evidence["loss_source"] == "--loss"
    assert 'activation="softmax"' in f.fix.snippet and "from_logits=True" in f.fix.snippet
    assert report.verdict.cause == "output-loss-mismatch"


def test_mdl001_compiled_sparse_loss_and_other_mismatches():
    found, _, _ = run_check(
        "MDL001", model=model_info(last_activation="linear", loss="sparse_categorical_crossentropy")
    )
    assert [f.severity.value for f in found] == ["error"] and found[0].evidence["loss_source"] == "compiled model"
    found, _, _ = run_check("MDL001", model=model_info(from_logits=True))
    assert found[0].severity.value == "warning" and "from_logits=True" in found[0].message
    found, _, _ = run_check("MDL001", model=model_info(last_activation="sigmoid"))
    assert found[0].severity.value == "warning" and "'sigmoid'" in found[0].message
    found, _, _ = run_check("MDL001", model=model_info(loss="binary_crossentropy"))
    assert found[0].severity.value == "warning" and "90%" in found[0].explanation
    found, _, _ = run_check("MDL001", model=model_info(output_units=1))
    assert found[0].severity.value == "error" and "single unit" in found[0].message
    found, _, _ = run_check(
        "MDL001", model=model_info(last_activation="linear", loss="binary_crossentropy", output_units=1)
    )
    assert found[0].severity.value == "error"


@pytest.mark.parametrize(
    "kw",
    [
        dict(),  # softmax + categorical cross-entropy
        dict(last_activation="linear", from_logits=True),
        dict(last_activation="linear", loss="sparse_categorical_crossentropy", from_logits=True),
        dict(last_activation="sigmoid", loss="binary_crossentropy", output_units=1),
        dict(last_activation=None),  # unknown output: no judgement
        dict(loss="mean_squared_error"),
    ],
    ids=["softmax-cce", "logits-cce", "logits-scce", "sigmoid-bce", "unknown-activation", "mse"],
)
def test_mdl001_silent_when_consistent(kw):
    found, outcome, _ = run_check("MDL001", model=model_info(**kw))
    assert outcome.status == "ran" and found == []


def test_mdl001_skipped_without_model_or_loss():
    _, outcome, _ = run_check("MDL001", loss="categorical_crossentropy")
    assert outcome.status == "skipped" and "needs a model (model)" in outcome.reason
    _, outcome, _ = run_check("MDL001", model=model_info(loss=None, from_logits=None))
    assert outcome.status == "skipped" and "loss" in outcome.reason


def test_mdl002_one_hot_width_differs(make_images, make_labels):
    found, outcome, _ = run_check(
        "MDL002",
        model=model_info(output_units=100),
        x_train=make_images(50, "unit"),
        y_train=make_labels(50, 10, one_hot=True),
    )
    assert outcome.status == "ran" and len(found) == 1
    f = found[0]
    assert f.severity.value == "error" and f.cause == "label-format-mismatch"
    assert f.evidence["output_units"] == 100 and f.evidence["classes"] == 10
    assert "Dense(10" in f.fix.title


def test_mdl002_integer_labels_beyond_outputs(make_labels):
    found, _, _ = run_check("MDL002", model=model_info(output_units=5), y_train=make_labels(60, 10))
    assert found[0].severity.value == "error" and found[0].evidence["classes_from"] == "largest integer label + 1"


def test_mdl002_single_unit_for_many_classes(make_labels):
    found, _, _ = run_check(
        "MDL002", model=model_info(output_units=1, last_activation="sigmoid"), y_train=make_labels(60, 10)
    )
    assert found[0].severity.value == "error" and "1 output unit" in found[0].message


def test_mdl002_a_regressor_has_targets_not_classes():
    # diabetes progression (25-346) into one linear unit with mean squared error (the run corpus)
    y = np.arange(25, 347, dtype="float32")
    regressor = model_info(output_units=1, last_activation="linear", loss="mse", layers=["Dense", "Dense"])
    found, outcome, _ = run_check("MDL002", model=regressor, y_train=y)
    assert outcome.status == "ran" and found == []
    # the same unit with a classification loss cannot express 347 classes
    found, _, _ = run_check("MDL002", model=model_info(output_units=1, last_activation="linear"), y_train=y)
    assert found and "1 output unit" in found[0].message


def test_mdl002_unused_outputs_warn_only_with_enough_labels(make_labels):
    found, _, _ = run_check("MDL002", model=model_info(output_units=100), y_train=make_labels(5000, 10))
    assert found[0].severity.value == "warning" and found[0].evidence["labels"] == 5000
    found, outcome, _ = run_check("MDL002", model=model_info(output_units=10), y_train=make_labels(30, 9))
    assert outcome.status == "ran" and found == []  # a small subset may miss a class


@pytest.mark.parametrize("units,labels", [(10, "one-hot"), (10, "integer"), (1, "binary")])
def test_mdl002_silent_when_units_match(make_labels, units, labels):
    y = {
        "one-hot": make_labels(80, 10, one_hot=True),
        "integer": make_labels(80, 10, column=True),
        "binary": make_labels(80, 2),
    }[labels]
    act = "sigmoid" if units == 1 else "softmax"
    found, outcome, _ = run_check("MDL002", model=model_info(output_units=units, last_activation=act), y_train=y)
    assert outcome.status == "ran" and found == []


def test_mdl002_skipped_without_labels():
    _, outcome, _ = run_check("MDL002", model=model_info())
    assert outcome.status == "skipped" and "labels" in outcome.reason


def test_in_model_affine_composes_steps():
    steps = (Affine("TrueDivide", 1 / 127.5, 0.0), Affine("Subtract", 1.0, -1.0))
    assert in_model_affine(steps) == pytest.approx((1 / 127.5, -1.0))
    assert in_model_affine((Affine("Normalization", (2.0, 2.0, 2.0), (-1.0, -1.0, -1.0)),)) is None
    assert in_model_affine(()) is None


@pytest.mark.tf
def test_mdl001_model_without_softmax_and_cce_is_output_loss_mismatch(logits_model_file):
    import cifar_doctor

    report = cifar_doctor.diagnose(model=str(logits_model_file), loss="categorical_crossentropy")
    assert report.verdict.cause == "output-loss-mismatch"
    assert "MDL001" in report.verdict.evidence["codes"]


@pytest.mark.tf
def test_mdl001_cli_model_without_softmax(logits_model_file):
    rc, data, err = run_json("check", "--model", str(logits_model_file), "--loss", "categorical_crossentropy")
    assert rc == 1, err
    assert data["verdict"]["cause"] == "output-loss-mismatch"
    mdl = [f for f in data["findings"] if f["code"] == "MDL001"]
    assert mdl and mdl[0]["evidence"]["last_activation"] == "linear"


@pytest.mark.tf
def test_cli_lambda_model_exits_2_with_one_line(tmp_path):
    keras = pytest.importorskip("keras")
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Lambda(lambda x: x / 255.0),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path / "lambda.keras"
    model.save(path)
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = run_cli("check", "--model", str(path), "--json")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Lambda" in lines[0] and "never executes code" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.tf
def test_cli_text_file_renamed_keras_exits_2(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("not a model\n")
    proc = run_cli("check", "--model", str(path))
    assert proc.returncode == 2
    assert "not a .keras file" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_mdl009_softmax_twice():
    m = model_info(layers=["Flatten", "Dense", "Dense", "Softmax"], activations=[None, "relu", "softmax", "softmax"])
    f = run_check("MDL009", model=m)[0][0]
    assert f.evidence["max_probability"] == pytest.approx(0.232, abs=1e-4) and f.severity.value == "error"
    ok = model_info(layers=["Dense", "Dense", "Dense", "Softmax"], activations=["relu", "softmax", "linear", "softmax"])
    assert run_check("MDL009", model=ok)[0] == []


def test_mdl010_stacked_sigmoids():
    m = model_info(layers=["Flatten"] + ["Dense"] * 5, activations=[None] + ["sigmoid"] * 4 + ["softmax"])
    assert run_check("MDL010", model=m)[0][0].evidence["sigmoid_hidden_layers"] == 4
    shallow = model_info(layers=["Dense"] * 3, activations=["sigmoid", "relu", "sigmoid"])
    assert run_check("MDL010", model=shallow)[0] == []


@pytest.mark.tf
def test_model_facts_read_optimizer_and_activations(tmp_path):
    keras = pytest.importorskip("keras")
    from keras import layers

    from cifar_doctor.sources.models import load_model

    model = keras.Sequential(
        [keras.Input((8,)), layers.Dense(4, activation="sigmoid"), layers.Dense(3), layers.Softmax()]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="categorical_crossentropy")
    model.save(tmp_path / "m.keras")
    _, facts = load_model(tmp_path / "m.keras")
    assert (facts.optimizer, facts.learning_rate) == ("SGD", 1.0)
    assert facts.activations == ["sigmoid", "linear", "softmax"]
