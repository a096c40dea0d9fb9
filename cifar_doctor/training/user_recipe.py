"""User recipes: compare your own model and pipeline against the built-in ones.

`cifar-doctor compare original path/to/my_recipe.py:recipe` (or `my_package.module:recipe`)
imports the file or module and calls the function with no arguments. The function
returns either:

- a `cifar_doctor.training.recipe.Recipe`, or
- a dict with these keys:

  - `model`: a built Keras model, or a function returning one (preferred: a
    builder gives every run fresh weights after the seed is set).
  - `compile`: keyword arguments for `model.compile`, e.g.
    `{"optimizer": "adam", "loss": "categorical_crossentropy", "metrics": ["accuracy"]}`.
    `metrics` defaults to `["accuracy"]`; `loss` is required.
  - `fit`: `{"batch_size": 128, "epochs": 5}` (both optional; defaults 32 and 5).
  - `preprocess`: a function `preprocess(arrays) -> arrays`, taking and returning
    a dict with `x_train`, `y_train`, `x_test`, `y_test`. It receives the arrays
    as loaded (uint8 0-255 for CIFAR-10, labels as integers) after `--limit` took
    its stratified subset, and returns them exactly as your model is fed.
  - `name` and `doc` (optional): shown in the report.

A recipe file is your own code and runs as such (like a `conftest.py`): only
pass files you trust. A file that fails to import, a function that raises, or
a return value outside this protocol is reported as one `InputError` line.

Example (`examples/my_recipe.py`):

```python
def recipe():
    import keras

    def build():
        return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255),
                                 keras.layers.Conv2D(32, 3, activation="relu"),
                                 keras.layers.GlobalAveragePooling2D(),
                                 keras.layers.Dense(10, activation="softmax")])

    def preprocess(arrays):
        return {k: (v.reshape(-1) if k.startswith("y") else v.astype("float32"))
                for k, v in arrays.items()}

    return {"model": build, "compile": {"optimizer": "adam",
            "loss": "sparse_categorical_crossentropy"},
            "fit": {"batch_size": 128, "epochs": 3}, "preprocess": preprocess}
```
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..tfenv import import_keras
from .recipe import Recipe, subset, with_accumulation

#: Keys of a dict recipe, and those of the arrays a `preprocess` must return.
DICT_KEYS = ("model", "compile", "fit", "preprocess", "name", "doc")
REQUIRED_KEYS = ("model", "compile", "preprocess")
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

#: Defaults for a dict recipe's `fit` section (those of `keras.Model.fit`, except epochs).
DEFAULT_BATCH_SIZE = 32
DEFAULT_EPOCHS = 5

PROTOCOL_HINT = (
    "Return a cifar_doctor.training.recipe.Recipe or a dict with model, compile, fit and preprocess "
    '(see `python -c "import cifar_doctor.training.user_recipe as m; help(m)"` or examples/my_recipe.py)'
)


def split_spec(spec: str) -> tuple[str, str]:
    """`path/to/file.py:function` or `module:function` -> (target, function)."""
    target, sep, func = spec.rpartition(":")
    if not sep or not target or not func or not func.isidentifier():
        raise InputError(
            "Invalid user recipe",
            expected="path/to/file.py:function or module:function",
            received=repr(spec),
        )
    return target, func


def _import_target(target: str, spec: str) -> Any:
    path = Path(target).expanduser()
    looks_like_file = target.endswith(".py") or os.sep in target or "/" in target
    if looks_like_file:
        if not path.is_file():
            raise InputError(
                "Cannot find the user recipe file",
                expected="an existing .py file",
                received=f"{spec!r} ({path} does not exist)",
            )
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
        mod_name = f"cifar_doctor_user_recipe_{digest}"
        mspec = importlib.util.spec_from_file_location(mod_name, path)
        if mspec is None or mspec.loader is None:
            raise InputError("Cannot load the user recipe file", expected="a Python source file", received=str(path))
        module = importlib.util.module_from_spec(mspec)
        sys.modules[mod_name] = module
        try:
            mspec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything
            sys.modules.pop(mod_name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise InputError(
                f"The user recipe file {path} raised while being imported",
                received=f"{type(exc).__name__}: {exc}",
                hint="Fix the file (run `python " + str(path) + "` to see the traceback)",
            ) from exc
        return module
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:  # `module:function` resolves against the working directory, as with `python -m`
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise InputError(
                "Cannot find the user recipe module",
                expected="an importable module (module:function) or a file path (path/to/file.py:function)",
                received=repr(spec),
            ) from exc
        raise InputError(
            f"The user recipe module {target} raised while being imported", received=f"{type(exc).__name__}: {exc}"
        ) from exc
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError(
            f"The user recipe module {target} raised while being imported", received=f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        if added:
            sys.path.remove(cwd)


def load_user_recipe(spec: str) -> Recipe:
    """Import `spec` (`path/to/file.py:function` or `module:function`), call it, return a `Recipe`.

    Args:
        spec: Where the recipe function is.

    Returns:
        A `Recipe` (a `UserRecipe` for a dict).

    Raises:
        InputError: The file is missing or raises on import, the function is
            missing or raises, or it returns something outside the protocol.
    """
    target, func_name = split_spec(spec)
    module = _import_target(target, spec)
    func = getattr(module, func_name, None)
    if func is None or not callable(func):
        have = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise InputError(
            f"No function `{func_name}` in the user recipe {target}",
            expected="a function returning a recipe",
            received=f"functions {', '.join(have[:8]) or 'none'}",
        )
    try:
        value = func()
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError(f"The user recipe {spec} raised when called", received=f"{type(exc).__name__}: {exc}") from exc
    return as_recipe(value, default_name=func_name if func_name != "recipe" else Path(target).stem)


def as_recipe(value: Any, default_name: str = "user") -> Recipe:
    """Validate a user recipe's return value and turn it into a `Recipe`."""
    if isinstance(value, Recipe):
        return value
    if not isinstance(value, dict):
        raise InputError(
            "Invalid user recipe", expected="a Recipe or a dict", received=f"{type(value).__name__}", hint=PROTOCOL_HINT
        )
    missing = [k for k in REQUIRED_KEYS if k not in value]
    unknown = [k for k in value if k not in DICT_KEYS]
    if missing or unknown:
        raise InputError(
            "Invalid user recipe dict",
            expected=f"keys {', '.join(REQUIRED_KEYS)} (and optionally fit, name, doc)",
            received=(f"missing {', '.join(missing)}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"unknown {', '.join(unknown)}" if unknown else ""),
            hint=PROTOCOL_HINT,
        )
    compile_kw = value["compile"]
    if not isinstance(compile_kw, dict) or "loss" not in compile_kw:
        raise InputError(
            "Invalid `compile` in the user recipe",
            expected="a dict of model.compile arguments with a `loss`",
            received=repr(compile_kw)[:120],
        )
    fit_kw = value.get("fit") or {}
    if not isinstance(fit_kw, dict) or set(fit_kw) - {"batch_size", "epochs"}:
        raise InputError(
            "Invalid `fit` in the user recipe",
            expected="a dict with batch_size and/or epochs",
            received=repr(fit_kw)[:120],
        )
    for key in ("batch_size", "epochs"):
        v = fit_kw.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise InputError(
                f"Invalid `fit[{key!r}]` in the user recipe", expected="a positive integer", received=repr(v)
            )
    if not callable(value["preprocess"]):
        raise InputError(
            "Invalid `preprocess` in the user recipe",
            expected="a function arrays -> arrays",
            received=type(value["preprocess"]).__name__,
        )
    model = value["model"]
    if not callable(model) and not hasattr(model, "fit"):
        raise InputError(
            "Invalid `model` in the user recipe",
            expected="a Keras model or a function returning one",
            received=type(model).__name__,
        )
    loss = compile_kw["loss"]
    return UserRecipe(
        name=str(value.get("name") or default_name),
        doc=str(value.get("doc") or "User recipe."),
        build=_builder(model),
        optimizer=lambda: compile_kw.get("optimizer", "rmsprop"),
        loss=loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", str(loss)),
        batch_size=int(fit_kw.get("batch_size") or DEFAULT_BATCH_SIZE),
        epochs=int(fit_kw.get("epochs") or DEFAULT_EPOCHS),
        compile_kwargs=dict(compile_kw),
        user_preprocess=value["preprocess"],
    )


def _builder(model: Any) -> Callable[[], Any]:
    """A builder: the user's, or one returning the given model first and clones of it afterwards."""
    if not hasattr(model, "fit"):

        def build() -> Any:
            built = model()
            if not hasattr(built, "fit"):
                raise InputError(
                    "Invalid `model` builder in the user recipe",
                    expected="a Keras model",
                    received=type(built).__name__,
                )
            return built

        return build
    used = [False]

    def reuse() -> Any:
        if not used[0]:
            used[0] = True
            return model
        keras = import_keras()

        return keras.models.clone_model(model)

    return reuse


class UserRecipe(Recipe):
    """A `Recipe` built from a user's dict: their compile arguments and their `preprocess`."""

    def __init__(
        self, *, compile_kwargs: dict[str, Any], user_preprocess: Callable[[dict], dict], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.compile_kwargs = compile_kwargs
        self.user_preprocess = user_preprocess

    def preprocess(
        self, arrays: dict[str, np.ndarray], *, limit: int | None = None, seed: int = 0
    ) -> dict[str, np.ndarray]:
        arrays = dict(zip(ARRAY_KEYS, subset(arrays, limit, seed)))
        try:
            out = self.user_preprocess({k: arrays[k] for k in ARRAY_KEYS})
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise InputError(
                f"The preprocess function of user recipe {self.name} raised", received=f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(out, dict) or any(k not in out for k in ARRAY_KEYS):
            got = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise InputError(
                f"Invalid return value of preprocess in user recipe {self.name}",
                expected=f"a dict with {', '.join(ARRAY_KEYS)}",
                received=str(got),
            )
        return {k: np.asarray(out[k]) for k in ARRAY_KEYS}

    def feed(self, arrays: dict[str, np.ndarray], *, limit: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """The user's `preprocess` output (arbitrary code: run once, its arrays fed as they are)."""
        return self.preprocess(arrays, limit=limit, seed=seed)

    def compile(self, model: Any, gradient_accumulation_steps: int = 1) -> Any:
        kw = dict(self.compile_kwargs)
        kw["optimizer"] = with_accumulation(kw.get("optimizer", "rmsprop"), gradient_accumulation_steps)
        kw.setdefault("metrics", ["accuracy"])
        model.compile(**kw)
        return model
