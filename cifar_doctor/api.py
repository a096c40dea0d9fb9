"""The library entry point: `diagnose(...)`.

Builds an `Inputs` from arrays, a model, a loss and/or a history, and runs
the same engine as the command line.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import engine
from .errors import InputError, invalid_value
from .inputs import History, Inputs, ModelInfo, Split, check_classes
from .report import Report
from .sources.npy import memmap_source
from .sources.pipelines import is_pipeline, take_sample
from .sources.sampling import SAMPLE_IMAGES, SampleInfo, sample_indices


def _canonical_loss(loss: Any) -> tuple[str | None, bool | None]:
    """Name and from_logits of a loss given as a string, a Keras loss object or function."""
    if loss is None:
        return None, None
    if isinstance(loss, str):
        from .sources.losses import canonical_loss_name

        return canonical_loss_name(loss), None
    from .sources.losses import describe_loss

    return describe_loss(loss)


def _as_history(history: Any) -> History | None:
    if history is None or isinstance(history, History):
        return history
    if hasattr(history, "history") and isinstance(history.history, dict):  # keras.callbacks.History
        history = history.history
    if isinstance(history, dict):
        from .sources.logs import history_from_dict

        return history_from_dict(history, source="dict")
    if isinstance(history, (str, os.PathLike)):
        from .sources.logs import read_history

        return read_history(history)
    raise invalid_value("history", history, received=f"an object of type {type(history).__name__}", error=InputError,
                        expected="a keras History, a dict of per-epoch lists, or a path to a log/CSV/JSON file")


def build_inputs(
    *,
    x_train: Any = None,
    y_train: Any = None,
    x_test: Any = None,
    y_test: Any = None,
    x_val: Any = None,
    y_val: Any = None,
    model: Any = None,
    loss: Any = None,
    history: Any = None,
    classes: int | None = None,
    sources: dict[str, Any] | None = None,
    data: Any = None,
) -> Inputs:
    """Assemble an `Inputs`; see `diagnose` for the arguments.

    `data`, a `cifar_doctor.sources.datasets.LoadedData`, supplies the arrays
    not given, with the full sources and samples of sampled splits and what
    reading image folders found.
    """
    if data is not None:
        arrays = data.arrays
        x_train = x_train if x_train is not None else arrays.get("x_train")
        y_train = y_train if y_train is not None else arrays.get("y_train")
        x_test = x_test if x_test is not None else arrays.get("x_test")
        y_test = y_test if y_test is not None else arrays.get("y_test")
        x_val = x_val if x_val is not None else arrays.get("x_val")
        y_val = y_val if y_val is not None else arrays.get("y_val")
    splits = {}
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test), ("val", x_val, y_val)):
        if x is None and y is None:
            continue
        full, sample = (data.sources.get(name), data.samples.get(name)) if data is not None else (None, None)
        if is_pipeline(x):
            taken = take_sample(x, SAMPLE_IMAGES, f"x_{name}", one_shot_ok=True)
            x, full, sample = taken.x, taken.source, taken.sample
            if y is None:
                y = taken.y
        elif full is None and isinstance(x, np.ndarray) and len(x) > SAMPLE_IMAGES:
            full = memmap_source(x)
            if full is not None:  # a memory-mapped array: sample it instead of paging it all in
                idx, method = sample_indices(len(x), SAMPLE_IMAGES, y)
                x, y = full.take(idx), (np.asarray(y)[idx] if y is not None else None)
                sample = SampleInfo(full.count, len(idx), method)
        splits[name] = Split(name, _array(x, f"x_{name}"), _array(y, f"y_{name}"), source=full, sample=sample)
    info: ModelInfo | None = None
    evaluate = None
    if model is not None:
        if isinstance(model, ModelInfo):
            info = model
        elif isinstance(model, (str, os.PathLike)):
            from .sources.models import load_model

            keras_model, info = load_model(model)
            from .sources.models import make_evaluator

            evaluate = make_evaluator(keras_model)
        else:
            from .sources.models import make_evaluator, model_info

            info = model_info(model)
            evaluate = make_evaluator(model)
    loss_name, from_logits = _canonical_loss(loss)
    return Inputs(
        splits=splits,
        loss=loss_name,
        from_logits=from_logits,
        model=info,
        history=_as_history(history),
        classes=check_classes(classes),
        evaluate=evaluate,
        sources=dict(sources or {}),
        folders=getattr(data, "scan", None),
    )


def _array(a: Any, name: str) -> Any:
    if a is None:
        return None
    from .lazy import is_lazy

    if is_lazy(a):  # images computed on demand (compare): the readers take them a chunk at a time
        return a
    arr = np.asarray(a)
    if arr.dtype == object:
        raise invalid_value(name, arr, received=f"an object array of shape {arr.shape}", error=InputError,
                            expected="a numeric array",
                            hint="Convert it with np.stack(...) or np.asarray(..., dtype='float32')")
    return arr


def diagnose(
    *,
    x_train: Any = None,
    y_train: Any = None,
    x_test: Any = None,
    y_test: Any = None,
    x_val: Any = None,
    y_val: Any = None,
    model: Any = None,
    loss: Any = None,
    history: Any = None,
    classes: int | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
) -> Report:
    """Diagnose why validation accuracy lags training accuracy.

    Runs every check whose inputs are given (data, labels, model, history),
    tests proposed data fixes on the model when one is given, and returns a
    `Report` whose `.verdict.cause` is one of `cifar_doctor.CAUSES`.

    Args:
        x_train: Training images as fed to the model. Defaults to `None`.
        y_train: Training labels, integers or one-hot. Defaults to `None`.
        x_test: Test images as fed to the model. Defaults to `None`.
        y_test: Test labels. Defaults to `None`.
        x_val: Validation images, if separate from test. Defaults to `None`.
        y_val: Validation labels. Defaults to `None`.
        model: A Keras model, a path to a `.keras` file (loaded with
            `safe_mode=True`), or a `ModelInfo`. Defaults to `None`.
        loss: The loss trained with, a name (`"categorical_crossentropy"`) or a
            Keras loss; taken from the compiled model when omitted. Defaults to `None`.
        history: A Keras `History`, a dict like `history.history`, or a path to
            a console log, CSVLogger CSV or History JSON. Defaults to `None`.
        classes: Number of classes, when it cannot be inferred. Defaults to `None`.
        select: Only run checks whose code starts with one of these. Defaults to `None`.
        ignore: Skip checks whose code starts with one of these. Defaults to `None`.

    Returns:
        A `Report` with `.verdict`, `.findings`, `.to_dict()`, `.to_json()` and `.print()`.

    Example:

    >>> import numpy as np
    >>> from cifar_doctor import diagnose
    >>> report = diagnose(history={"loss": [1.78, 1.37, 1.21], "accuracy": [0.36, 0.51, 0.57],
    ...                            "val_loss": [8.68, 8.97, 7.73], "val_accuracy": [0.45, 0.44, 0.51]})
    >>> report.verdict.cause
    'eval-input-scale-mismatch'
    """
    inputs = build_inputs(
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, x_val=x_val, y_val=y_val,
        model=model, loss=loss, history=history, classes=classes,
    )
    return engine.run(inputs, select_codes=select, ignore_codes=ignore)
