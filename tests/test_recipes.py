"""Built-in recipes (pipelines and real training on the bundled sample) and user recipes."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cifar_doctor.errors import InputError, UsageError
from cifar_doctor.training.recipes import RECIPES, get_recipe, stratified_indices
from cifar_doctor.training.user_recipe import UserRecipe, load_user_recipe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "my_recipe.py"


# --- pipelines (NumPy only) ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_preprocess_makes_one_float32_copy_with_the_recipe_scaling(name, sample_arrays):
    rec = RECIPES[name]
    out = rec.preprocess(sample_arrays, limit=300)
    assert out["x_train"].dtype == np.float32 and out["x_test"].dtype == np.float32
    assert out["x_train"].shape == (300, 32, 32, 3) and out["x_test"].shape == (300, 32, 32, 3)
    assert not np.shares_memory(out["x_train"], sample_arrays["x_train"])
    assert out["x_train"].max() <= 1.0 if rec.scale_train else out["x_train"].max() > 1.0
    assert (out["x_test"].max() <= 1.0) == rec.scale_test
    assert out["y_train"].shape == (300, 10) and np.all(out["y_train"].sum(1) == 1)


def test_limit_is_stratified_and_deterministic(sample_arrays):
    y = sample_arrays["y_train"].reshape(-1)
    idx = stratified_indices(y, 300, seed=0)
    assert np.array_equal(idx, stratified_indices(y, 300, seed=0))
    assert not np.array_equal(idx, stratified_indices(y, 300, seed=1))
    assert np.all(np.bincount(y[idx], minlength=10) == 30)
    assert len(stratified_indices(y, 10**6)) == len(y)


def test_data_checks_flag_original_but_not_fixed(sample_arrays):
    """The data checks alone (no training) see the question's bug in `original`."""
    from cifar_doctor.api import build_inputs
    from cifar_doctor.engine import run

    reports = {}
    for name in ("original", "fixed"):
        rec = RECIPES[name]
        a = rec.preprocess(sample_arrays, limit=500)
        reports[name] = run(build_inputs(**a, loss=rec.loss))
    assert "PRE001" in reports["original"].codes()
    assert reports["original"].verdict.cause == "eval-input-scale-mismatch"
    assert "PRE001" not in reports["fixed"].codes()
    assert reports["fixed"].verdict.cause != "eval-input-scale-mismatch"


def test_unknown_recipe_suggests_the_closest():
    with pytest.raises(UsageError, match="Did you mean fixed"):
        get_recipe("fixd")


# --- real training (<= 1 epoch, a few hundred images) --------------------------------------


@pytest.mark.training
@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_builtin_recipe_trains(name, sample_arrays):
    from cifar_doctor.training.fit import RunState, train

    rec = RECIPES[name]
    arrays = rec.preprocess(sample_arrays, limit=300)
    state = RunState(name)
    run = train(rec, arrays, epochs=1, seed=0, state=state)
    assert run.epochs_run == 1 and state.epoch == 1 and state.step == math.ceil(300 / rec.batch_size)
    assert set(run.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key, vals in run.history.items():
        assert len(vals) == 1 and math.isfinite(vals[0]), (key, vals)
    assert 0.0 <= run.history["accuracy"][0] <= 1.0 and 0.0 <= run.history["val_accuracy"][0] <= 1.0
    assert run.model.output_shape == (None, 10)
    assert run.settings["train_images"] == 300 and run.settings["batch_size"] == rec.batch_size
    assert run.settings["test_scale"]["max"] == (1.0 if rec.scale_test else 255.0)


@pytest.mark.training
@pytest.mark.tf
def test_same_seed_same_history(sample_arrays):
    from cifar_doctor.training.fit import train

    rec = RECIPES["fixed"]
    arrays = rec.preprocess(sample_arrays, limit=200)
    a = train(rec, arrays, epochs=1, batch_size=50, seed=3).history
    b = train(rec, arrays, epochs=1, batch_size=50, seed=3).history
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)


@pytest.mark.training
@pytest.mark.tf
def test_example_user_recipe_trains(sample_arrays):
    from cifar_doctor.training.fit import train

    rec = load_user_recipe(f"{EXAMPLE}:recipe")
    assert isinstance(rec, UserRecipe) and rec.name == "rescaling-in-model"
    arrays = rec.preprocess(sample_arrays, limit=200)
    assert arrays["x_train"].dtype == np.uint8 and arrays["y_train"].shape == (200,)
    run = train(rec, arrays, epochs=1, seed=0)
    assert len(run.history["val_accuracy"]) == 1 and run.settings["batch_size"] == 128


# --- user recipe protocol -------------------------------------------------------------------


def _write(tmp_path: Path, body: str, name: str = "rec.py") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def test_user_recipe_may_return_a_builtin_recipe(tmp_path):
    p = _write(
        tmp_path,
        """
        from cifar_doctor.training.recipes import RECIPES
        def mine():
            return RECIPES["fixed"]
    """,
    )
    assert load_user_recipe(f"{p}:mine") is RECIPES["fixed"]


def test_user_recipe_as_module_function(tmp_path, monkeypatch):
    _write(
        tmp_path,
        """
        def r():
            return {"model": lambda: None, "compile": {"loss": "mse"}, "preprocess": lambda a: a,
                    "fit": {"epochs": 2}}
    """,
        name="my_mod_recipe.py",
    )
    monkeypatch.chdir(tmp_path)
    rec = get_recipe("my_mod_recipe:r")
    assert isinstance(rec, UserRecipe) and rec.epochs == 2 and rec.batch_size == 32 and rec.loss == "mse"


@pytest.mark.parametrize(
    "body, match",
    [
        ("raise RuntimeError('boom at import')\n", "raised while being imported.*boom at import"),
        ("def recipe():\n    raise ValueError('bad call')\n", "raised when called.*bad call"),
        ("def recipe():\n    return 42\n", "Invalid user recipe.*int"),
        ("def recipe():\n    return {'model': None}\n", "missing compile, preprocess"),
        ("def recipe():\n    return {'model': lambda: 1, 'compile': {'loss': 'mse'}, 'preprocess': 1}\n", "preprocess"),
        ("def other():\n    pass\n", "No function `recipe`.*other"),
    ],
    ids=["import-raises", "call-raises", "wrong-type", "missing-keys", "bad-preprocess", "no-function"],
)
def test_bad_user_recipes_raise_input_error(tmp_path, body, match):
    p = _write(tmp_path, body)
    with pytest.raises(InputError, match=match):
        load_user_recipe(f"{p}:recipe")


def test_missing_user_recipe_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_user_recipe(f"{tmp_path / 'nope.py'}:recipe")


def test_user_preprocess_output_is_validated(tmp_path, sample_arrays):
    p = _write(
        tmp_path,
        """
        def recipe():
            return {"model": lambda: None, "compile": {"loss": "mse"}, "preprocess": lambda a: {"x": 1}}
    """,
    )
    rec = load_user_recipe(f"{p}:recipe")
    with pytest.raises(InputError, match="x_train"):
        rec.preprocess(sample_arrays, limit=50)
