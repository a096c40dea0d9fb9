"""The library entry point: `diagnose(...)`.

Builds an `Inputs` from arrays, a model, a loss and/or a history, and runs
the same engine as the command line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from . import engine
from .errors import InputError, UsageError, invalid_value
from .inputs import History, Inputs, ModelInfo, Split, check_classes
from .mapped import is_lazy
from .report import Report
from .runners.base import DIRECT
from .sources.base import LoadedData
from .sources.datasets import load_data, load_data_path
from .sources.evaluator import Evaluator
from .sources.folders import load_folder_pair
from .sources.history import history_from_dict
from .sources.logs import read_history
from .sources.losses import canonical_loss_name, describe_loss
from .sources.model_facts import model_info
from .sources.models import load_model
from .sources.npy import memmap_source
from .sources.pipelines import is_pipeline, take_sample
from .sources.sampling import SAMPLE_IMAGES, SampleInfo, sample_indices
from .training.recipes import get_recipe


def _canonical_loss(loss: Any) -> tuple[str | None, bool | None]:
    """Name and from_logits of a loss given as a string, a Keras loss object or function."""
    if loss is None:
        return None, None
    if isinstance(loss, str):
        return canonical_loss_name(loss), None
    return describe_loss(loss)


def _as_history(history: Any) -> History | None:
    if history is None or isinstance(history, History):
        return history
    if hasattr(history, "history") and isinstance(history.history, dict):  # keras.callbacks.History
        history = history.history
    if isinstance(history, dict):
        return history_from_dict(history, source="dict")
    if isinstance(history, (str, os.PathLike)):
        return read_history(history)
    raise invalid_value(
        "history",
        history,
        received=f"an object of type {type(history).__name__}",
        error=InputError,
        expected="a keras History, a dict of per-epoch lists, or a path to a log/CSV/JSON file",
    )


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
    provenance: dict[str, Any] | None = None,
    data: Any = None,
    log: Any = None,
    recipe: Any = None,
    limit: int | None = None,
    train_folder: Any = None,
    eval_folders: Any = None,
    sources: dict[str, Any] | None = None,
    runner: Any = None,
) -> Inputs:
    """Assemble an `Inputs` from arrays, objects or files; see `diagnose` for the in-memory arguments.

    Files are read here, the same way for every front end (`cifar-doctor check`
    calls this with its options): `data` through `cifar_doctor.sources.datasets`,
    `log` through `cifar_doctor.sources.logs`, a model path safely. Each file
    read is named in the report's `inputs` (its provenance).

    Args:
        data: Image data: a path (an `.npz`, a `cifar-10-batches-py` folder, a
            CIFAR-10 tarball, a folder of `.npy` files or of image folders), or
            a `cifar_doctor.sources.base.LoadedData`. It supplies the arrays not
            given. Defaults to `None`.
        log: A training log: a path (console output, CSVLogger CSV, History
            JSON, TensorBoard log_dir or event file), `-` for standard input, or
            an open stream. Defaults to `None`.
        recipe: A built-in recipe name or a `path/file.py:function` user recipe, or a
            `cifar_doctor.training.recipe.Recipe`: its pipeline is applied to
            `data` (CIFAR-10 when no `data` is given) and its loss is the loss
            when `loss` is not given. Defaults to `None`.
        limit: Keep only the first `limit` images of each split of `data` (with a
            recipe, a stratified subset of that many). Defaults to `None` (all).
        train_folder: A folder of class folders of training images (instead of `data`).
            Defaults to `None`.
        eval_folders: With `train_folder`: a folder of test images, then optionally
            one of validation images. Defaults to `None`.
        provenance: Plain values naming where inputs came from, added to the
            report's `inputs` section. Defaults to `None`.
        sources: The former name of `provenance`. Defaults to `None`.
        runner: Where the passes that read every image run: a runner of
            `cifar_doctor.runners` (`runner_named("beam", ["--direct_num_workers=2"])`).
            Defaults to `None`: in this process.

    Raises:
        UsageError: for arguments that do not go together, or a bad `limit` (naming the parameter).
        InputError: for a file that cannot be read.
    """
    described: dict[str, Any] = {**(sources or {}), **(provenance or {})}
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise invalid_value("limit", limit, expected="a positive integer")
    if log is not None and history is not None:
        raise UsageError(
            "Received both a training log and a history",
            param="log",
            value=log,
            expected="one of {arg} and argument `history`",
        )
    if train_folder is not None or eval_folders:
        if train_folder is None or not eval_folders:
            raise UsageError(
                "Image folders come in pairs",
                param="train_folder",
                value=train_folder,
                expected="{arg} with a test folder (then a validation one) in `eval_folders`",
            )
        if data is not None or recipe is not None:
            raise UsageError(
                "Image folders replace {arg} and `recipe`",
                param="data",
                value=data,
                expected="either image folders or a data file",
            )
    loaded = data if isinstance(data, LoadedData) else None
    if recipe is not None:
        rec = get_recipe(recipe) if isinstance(recipe, str) else recipe
        raw = loaded if loaded is not None else load_data(data)
        if any(k not in raw.arrays for k in ("x_train", "y_train", "x_test", "y_test")):
            raise InputError(
                "A recipe's pipeline needs a training and a test split",
                param="data",
                value=data,
                expected="{arg} with x_train, y_train, x_test and y_test",
                received=f"arrays {sorted(raw.arrays)}",
            )
        arrays = rec.preprocess(raw.arrays, limit=limit)
        x_train = x_train if x_train is not None else arrays.get("x_train")
        y_train = y_train if y_train is not None else arrays.get("y_train")
        x_test = x_test if x_test is not None else arrays.get("x_test")
        y_test = y_test if y_test is not None else arrays.get("y_test")
        x_val = x_val if x_val is not None else arrays.get("x_val")
        y_val = y_val if y_val is not None else arrays.get("y_val")
        described.setdefault("data", raw.description)
        described.setdefault("recipe", rec.name)
        loss = loss if loss is not None else rec.loss
        loaded = None
    elif train_folder is not None:
        loaded = load_folder_pair(train_folder, list(eval_folders))
    elif data is not None and loaded is None:
        loaded = load_data_path(data)
    if loaded is not None and recipe is None:
        if limit:
            loaded = LoadedData({k: v[:limit] for k, v in loaded.arrays.items()}, loaded.description, scan=loaded.scan)
        if train_folder is not None or not isinstance(data, LoadedData):
            described.setdefault("data", loaded.description)
    if log is not None:
        history = read_history(sys.stdin if log == "-" else log, classes=check_classes(classes))
        described.setdefault(
            "log",
            "<stdin>"
            if log == "-"
            else str(log)
            if isinstance(log, (str, os.PathLike))
            else getattr(log, "name", "<stream>"),
        )
    if isinstance(model, (str, os.PathLike)):
        described.setdefault("model_file", str(model))
    if loaded is not None:
        arrays = loaded.arrays
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
        full, sample = (loaded.full.get(name), loaded.samples.get(name)) if loaded is not None else (None, None)
        if is_pipeline(x):
            taken = take_sample(x, SAMPLE_IMAGES, f"x_{name}", one_shot_ok=True)
            assert taken is not None  # None only for no data, which is not a pipeline
            x, full, sample = taken.x, taken.full, taken.sample
            if y is None:
                y = taken.y
        elif full is None and isinstance(x, np.ndarray) and len(x) > SAMPLE_IMAGES:
            full = memmap_source(x)
            if full is not None:  # a memory-mapped array: sample it instead of paging it all in
                idx, method = sample_indices(len(x), SAMPLE_IMAGES, y)
                x, y = full.take(idx), (np.asarray(y)[idx] if y is not None else None)
                sample = SampleInfo(full.count, len(idx), method, indices=idx)
        splits[name] = Split(
            name, _array(x, f"x_{name}"), _array(y, f"y_{name}"), full=full, sample=sample, runner=runner or DIRECT
        )
    info: ModelInfo | None = None
    evaluate = None
    if model is not None:
        if isinstance(model, ModelInfo):
            info = model
        elif isinstance(model, (str, os.PathLike)):
            keras_model, info = load_model(model)
            evaluate = Evaluator.of(keras_model)
        else:
            info = model_info(model)
            evaluate = Evaluator.of(model)
    loss_name, from_logits = _canonical_loss(loss)
    if runner is not None and runner is not DIRECT:
        _statistics_together(list(splits.values()), runner)
    return Inputs(
        splits=splits,
        loss=loss_name,
        from_logits=from_logits,
        model=info,
        history=_as_history(history),
        classes=check_classes(classes),
        evaluate=evaluate,
        provenance=described,
        folders=getattr(loaded, "scan", None),
        runner=runner or DIRECT,
    )


def _statistics_together(splits: list[Split], runner: Any) -> None:
    """Every split's statistics in one stage of `runner` (one pipeline rather than one per split)."""
    from .measure.stats import image_stats_many

    todo = [s for s in splits if s.x is not None]
    try:
        stats = image_stats_many([(s.x, s.full, getattr(s.sample, "indices", None)) for s in todo], runner)
    except InputError:  # not image arrays: each check meets that itself, as on the direct runner
        return
    for split, st in zip(todo, stats):
        split._stats = st


def _array(a: Any, name: str) -> Any:
    if a is None:
        return None
    if is_lazy(a):  # images computed on demand (compare): the readers take them a chunk at a time
        return a
    arr = np.asarray(a)
    if arr.dtype == object:
        raise invalid_value(
            name,
            arr,
            received=f"an object array of shape {arr.shape}",
            error=InputError,
            expected="a numeric array",
            hint="Convert it with np.stack(...) or np.asarray(..., dtype='float32')",
        )
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
    data: Any = None,
    limit: int | None = None,
    calibrated: bool = True,
    runner: Any = None,
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
        data: A path to image data (an `.npz`, possibly with only `x_train`
            and `y_train`; a `cifar-10-batches-py` folder or tarball; a folder
            of `.npy` files or image folders); it supplies the arrays not given.
            Defaults to `None`.
        limit: Check only the first `limit` images of each split of `data`.
            Defaults to `None` (all).
        calibrated: State the verdict's confidence as the frequency measured on the run
            corpus for the same evidence, and abstain (`insufficient-evidence`) where that
            evidence was mostly wrong. `False` gives the rules' own verdict. Defaults to `True`.
        runner: Where the passes that read every image run (`cifar_doctor.runners.runner_named`).
            Defaults to `None`: in this process.

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
    # work on each split's images alone is done while the others are still read (`engine.ahead`)
    with engine.reading_ahead(select, ignore, runner):
        inputs = build_inputs(
            x_train=x_train,
            y_train=y_train,
            x_test=x_test,
            y_test=y_test,
            x_val=x_val,
            y_val=y_val,
            model=model,
            loss=loss,
            history=history,
            classes=classes,
            data=data,
            limit=limit,
            runner=runner,
        )
    return engine.run(inputs, select_codes=select, ignore_codes=ignore, calibrated=calibrated)
