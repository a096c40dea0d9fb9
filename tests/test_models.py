"""Safe model loading, model facts and the quiet evaluator (cifar_doctor.sources.models)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from cifar_doctor.errors import InputError
from cifar_doctor.inputs import Affine

pytestmark = pytest.mark.tf

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from cifar_doctor.sources import evaluator  # noqa: E402
from cifar_doctor.sources import models as M  # noqa: E402


def small_cnn(head=None, *, rescale=False, shape=(8, 8, 3)):
    stack = [keras.Input(shape)]
    if rescale:
        stack.append(layers.Rescaling(1.0 / 255))
    stack += [layers.Conv2D(4, 3, activation="relu"), layers.Flatten(), layers.Dropout(0.1)]
    stack += head if head is not None else [layers.Dense(10, activation="softmax")]
    return keras.Sequential(stack)


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A compiled softmax CNN saved as .keras, and its folder."""
    folder = tmp_path_factory.mktemp("saved")
    model = small_cnn(rescale=True)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    path = folder / "model.keras"
    model.save(path)
    return path


# --- load_model ---------------------------------------------------------------------------


def test_load_model_reads_facts_and_writes_nothing(saved):
    before = listing(saved.parent)
    model, info = M.load_model(saved)
    assert info.input_shape == (8, 8, 3)
    assert info.output_units == 10
    assert info.last_activation == "softmax"
    assert info.loss == "categorical_crossentropy" and info.from_logits is False
    assert info.rescaling == ["Rescaling(scale=0.00392156863, offset=0)"]
    assert info.rescaling_affine == (Affine("Rescaling", pytest.approx(1 / 255), 0.0),)
    assert info.layers[:2] == ["Rescaling", "Conv2D"]
    assert listing(saved.parent) == before


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        M.load_model(tmp_path / "nope.keras")


def test_text_file_renamed_keras(tmp_path):
    p = tmp_path / "model.keras"
    p.write_text("this is not a model\n")
    with pytest.raises(InputError, match="not a .keras file") as err:
        M.load_model(p)
    assert "\n" not in err.value.line()
    assert listing(tmp_path) == ["model.keras"]


def test_truncated_keras_file(saved, tmp_path):
    data = saved.read_bytes()
    p = tmp_path / "cut.keras"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        M.load_model(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.keras"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="an empty file"):
        M.load_model(p)


def test_legacy_h5_refused_by_magic_and_suffix(tmp_path):
    p = tmp_path / "model.h5"
    p.write_bytes(M.HDF5_MAGIC + b"\0" * 64)
    with pytest.raises(InputError, match=r"legacy HDF5.*\.save\('model\.keras'\)"):
        M.load_model(p)
    q = tmp_path / "renamed.keras"
    q.write_bytes(M.HDF5_MAGIC + b"\0" * 64)
    with pytest.raises(InputError, match="legacy HDF5"):
        M.load_model(q)


def test_npz_passed_as_model_points_to_data(tmp_path):
    p = tmp_path / "data.keras"
    with open(p, "wb") as fh:
        np.savez(fh, x_train=np.zeros((2, 2)))
    with pytest.raises(InputError, match="pass it as data"):
        M.load_model(p)


def test_folder_and_wrong_suffix(saved, tmp_path):
    with pytest.raises(InputError, match="folder"):
        M.load_model(tmp_path)
    other = tmp_path / "model.zip"
    other.write_bytes(saved.read_bytes())
    with pytest.raises(InputError, match="end in .keras"):
        M.load_model(other)


def test_lambda_layer_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    model = keras.Sequential([keras.Input((4,)), layers.Lambda(lambda x: x * 2.0), layers.Dense(3)])
    p = tmp_path / "lam.keras"
    model.save(p)
    before = listing(tmp_path)
    with pytest.raises(InputError) as err:
        M.load_model(p)
    line = err.value.line()
    assert "Lambda" in line and "never executes code" in line and "without the model" in line
    assert "layers.Rescaling(1./255)" in line  # how to fix it
    assert listing(tmp_path) == before and not marker.exists()


def test_unknown_custom_object(tmp_path):
    @keras.saving.register_keras_serializable(package="cdtest")
    class Doubler(layers.Layer):
        def call(self, x):
            return x * 2.0

    model = keras.Sequential([keras.Input((4,)), Doubler(), layers.Dense(3)])
    p = tmp_path / "custom.keras"
    model.save(p)
    # a fresh process would not know the class: simulate by unregistering it
    from keras.src.saving import object_registration

    object_registration.GLOBAL_CUSTOM_OBJECTS.pop("cdtest>Doubler", None)
    object_registration.GLOBAL_CUSTOM_NAMES.pop(Doubler, None)
    with pytest.raises(InputError, match=r"custom objects.*cdtest>Doubler"):
        M.load_model(p)


# --- model_info ---------------------------------------------------------------------------


def test_model_info_uncompiled_sequential_with_logits():
    info = M.model_info(small_cnn([layers.Dense(10)]))
    assert info.last_activation == "linear"
    assert info.loss is None and info.from_logits is None
    assert info.rescaling == []


def test_model_info_trailing_activation_layers():
    assert M.model_info(small_cnn([layers.Dense(10), layers.Activation("softmax")])).last_activation == "softmax"
    assert (
        M.model_info(small_cnn([layers.Dense(10), layers.Softmax(), layers.Dropout(0.2)])).last_activation == "softmax"
    )
    assert (
        M.model_info(small_cnn([layers.Dense(10, activation="softmax"), layers.Activation("linear")])).last_activation
        == "softmax"
    )
    assert M.model_info(small_cnn([layers.Dense(1, activation="sigmoid")])).last_activation == "sigmoid"


def test_model_info_functional_ops_and_compiled_objects():
    inp = keras.Input((8, 8, 3))
    x = inp / 127.5
    x = x - 1.0
    x = layers.Conv2D(4, 3)(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = keras.ops.softmax(layers.Dense(5)(x))
    model = keras.Model(inp, out)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    info = M.model_info(model)
    assert info.input_shape == (8, 8, 3) and info.output_units == 5
    assert info.last_activation == "softmax"
    assert info.loss == "sparse_categorical_crossentropy" and info.from_logits is True
    assert info.rescaling == ["TrueDivide(scale=0.00784313725, offset=0)", "Subtract(scale=1, offset=-1)"]
    assert info.rescaling_affine == (Affine("TrueDivide", pytest.approx(1 / 127.5), 0.0), Affine("Subtract", 1.0, -1.0))


def test_model_info_normalization_layer_and_nested_model():
    norm = layers.Normalization(axis=-1, mean=[0.5, 0.5, 0.5], variance=[0.25, 0.25, 0.25])
    prep = keras.Sequential([keras.Input((8, 8, 3)), norm], name="prep")
    model = keras.Sequential([keras.Input((8, 8, 3)), prep, layers.Conv2D(2, 3), layers.Flatten(), layers.Dense(3)])
    model.compile(loss=keras.losses.categorical_crossentropy)
    info = M.model_info(model)
    assert info.rescaling == ["Normalization(mean=[0.5, 0.5, 0.5], variance=[0.25, 0.25, 0.25])"]
    assert info.rescaling_affine == (Affine("Normalization", (2.0, 2.0, 2.0), (-1.0, -1.0, -1.0)),)
    assert info.loss == "categorical_crossentropy" and info.from_logits is False


# --- make_evaluator -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(150, 8, 8, 3)).astype(np.uint8)
    y = rng.integers(0, 10, size=150)
    return x, y, np.eye(10, dtype=np.float32)[y]


@pytest.mark.parametrize(
    "head,loss,sparse",
    [
        ([layers.Dense(10, activation="softmax")], "categorical_crossentropy", False),
        ([layers.Dense(10, activation="softmax")], "sparse_categorical_crossentropy", True),
        ([layers.Dense(10)], "categorical_crossentropy", False),  # the bug: logits as probabilities
        ([layers.Dense(10)], "sparse_categorical_crossentropy", True),
        ([layers.Dense(10)], "logits", False),
        ([layers.Dense(10), layers.Softmax()], "categorical_crossentropy", False),
        ([layers.Dense(10, activation="sigmoid")], "categorical_crossentropy", False),
        ([layers.Dense(10, activation="softmax")], "binary_crossentropy", False),
    ],
    ids=[
        "softmax-cce",
        "softmax-scce",
        "linear-cce",
        "linear-scce",
        "linear-logits",
        "softmax-layer",
        "sigmoid-cce",
        "softmax-bce",
    ],
)
def test_evaluator_matches_keras_evaluate(data, head, loss, sparse, capfd):
    x, yi, yo = data
    keras.utils.set_random_seed(3)
    model = small_cnn(head)
    compiled = keras.losses.CategoricalCrossentropy(from_logits=True) if loss == "logits" else loss
    model.compile(loss=compiled, metrics=["accuracy"])
    y = yi if sparse else yo
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_loss, k_acc = model.evaluate(x.astype(np.float32), y, batch_size=150, verbose=0)
    capfd.readouterr()
    ours = M.make_evaluator(model)(x, y)
    assert capfd.readouterr().out == ""  # quiet
    assert ours["loss"] == pytest.approx(k_loss, rel=1e-4, abs=1e-4)
    assert ours["accuracy"] == pytest.approx(k_acc, abs=1e-6)  # Keras keeps float32


def test_evaluator_integer_or_one_hot_labels_agree(data):
    x, yi, yo = data
    model = small_cnn()
    model.compile(loss="categorical_crossentropy")
    ev = M.make_evaluator(model)
    a, b, c = ev(x, yi), ev(x, yo), ev(x, yi.reshape(-1, 1))
    assert a == pytest.approx(b)
    assert a == pytest.approx(c)
    assert ev.loss_name == "categorical_crossentropy" and ev.output_kind == "logits"


def test_evaluator_chunks_large_inputs(data, monkeypatch):
    x, yi, _ = data
    model = small_cnn()
    model.compile(loss="sparse_categorical_crossentropy")
    ev = M.make_evaluator(model)
    whole = ev(x, yi)
    monkeypatch.setattr(evaluator, "EVAL_CHUNK", 32)
    assert ev(x, yi) == pytest.approx(whole, rel=1e-6)


def test_evaluator_uncompiled_uses_output_cross_entropy(data):
    x, yi, _ = data
    ev = M.make_evaluator(small_cnn([layers.Dense(10)]))
    assert ev.loss_name == "categorical_crossentropy" and ev.from_logits is True
    res = ev(x, yi)
    assert np.isfinite(res["loss"]) and 0.0 <= res["accuracy"] <= 1.0


def test_evaluator_rejects_mismatched_lengths(data):
    x, yi, _ = data
    ev = M.make_evaluator(small_cnn())
    with pytest.raises(InputError, match="as many labels as images"):
        ev(x, yi[:-1])


def test_cross_entropy_matches_hand_computation():
    p = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0]], dtype=np.float32)
    y = np.array([0, 0])
    got = M.cross_entropy(p, y, loss="sparse_categorical_crossentropy", from_logits=False)
    assert got[0] == pytest.approx(-np.log(0.7), rel=1e-5)
    assert got[1] == pytest.approx(-np.log(1e-7), rel=1e-3)  # clipped, as Keras does
    z = np.array([[2.0, 0.0, -1.0]])
    want = -(2.0 - np.log(np.exp([2.0, 0.0, -1.0]).sum()))
    assert M.cross_entropy(z, np.array([0]), loss="categorical_crossentropy", from_logits=True)[0] == pytest.approx(
        want
    )


def test_module_imports_no_keras_at_import_time():
    import subprocess
    import sys

    code = "import sys, cifar_doctor.sources.models; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    ).stdout.strip()
    assert out == "False False"
