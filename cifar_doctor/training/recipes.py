"""Built-in recipes: the models and data pipelines of the question this project comes from.

A recipe is a model builder, its compile/fit settings and its data pipeline
(`preprocess`). The pipeline is plain NumPy, so `cifar-doctor check --recipe`
never imports TensorFlow; `build_model()` imports Keras when called.

User recipes follow the same protocol (see `cifar_doctor.training.user_recipe`).
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..tfenv import import_keras
from .recipe import (
    NUM_CLASSES,
    Recipe,
    one_hot,
    stratified_indices,
    subset,
    with_accumulation,
)
from .user_recipe import load_user_recipe

__all__ = [
    "NUM_CLASSES",
    "RECIPES",
    "Recipe",
    "get_recipe",
    "one_hot",
    "stratified_indices",
    "subset",
    "with_accumulation",
]


# --- models (Keras is imported only when a model is built) -----------------------------


def _question_cnn(
    name: str, conv1: tuple[int, int], conv2: tuple[int, int], dense: int, dropout: float, init: str | None
) -> Any:
    """The two-conv CNN shape shared by the question's models and the answer's: Conv -> MaxPool ->
    Conv -> MaxPool -> Flatten -> Dense relu -> Dropout -> Dense 10 softmax, `(filters, kernel)` per conv."""
    keras = import_keras()
    Input, Sequential, layers = keras.Input, keras.Sequential, keras.layers

    kw = {"kernel_initializer": init} if init else {}
    return Sequential(
        [
            Input((32, 32, 3)),
            layers.Conv2D(conv1[0], (conv1[1], conv1[1]), activation="relu", **kw),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(conv2[0], (conv2[1], conv2[1]), activation="relu", **kw),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(dense, activation="relu"),
            layers.Dropout(dropout),
            # float32 output: under mixed precision (compare --mixed-precision) the softmax stays in float32
            layers.Dense(10, activation="softmax", dtype="float32"),
        ],
        name=name,
    )


def _original_model() -> Any:
    # the question's first model: default (glorot) initializers, filters shrinking 256 -> 128
    return _question_cnn("original", (256, 3), (128, 2), dense=1024, dropout=0.5, init=None)


def _revised_model() -> Any:
    # the question's edit after the first answer: he_normal convolutions, 64 -> 256, Dense 512
    return _question_cnn("revised", (64, 3), (256, 3), dense=512, dropout=0.3, init="he_normal")


def _fixed_model() -> Any:
    # the answer's final code: he_normal convolutions, 64 3x3 -> 256 2x2, Dense 1024, Dropout 0.4
    return _question_cnn("fixed", (64, 3), (256, 2), dense=1024, dropout=0.4, init="he_normal")


def _keras_example_model() -> Any:
    keras = import_keras()
    Input, Sequential, layers = keras.Input, keras.Sequential, keras.layers

    return Sequential(
        [
            Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax", dtype="float32"),
        ],
        name="keras_example",
    )


def _adam() -> Any:
    optimizers = import_keras().optimizers

    return optimizers.Adam()


def _rmsprop() -> Any:
    optimizers = import_keras().optimizers

    return optimizers.RMSprop(learning_rate=1e-4)


RECIPES: dict[str, Recipe] = {
    "original": Recipe(
        name="original",
        doc=(
            "The question's first model, faithful to the post: Conv2D 256 3x3 relu -> MaxPool 2 -> "
            "Conv2D 128 2x2 relu -> MaxPool 2 -> Flatten -> Dense 1024 relu -> Dropout 0.5 -> "
            "Dense 10 softmax; Adam, categorical cross-entropy, batch 1000, 5 epochs. Pipeline: "
            "training images divided by 255, test images left raw (the bug; the question's "
            "numbers are reproduced only this way)."
        ),
        build=_original_model,
        optimizer=_adam,
        batch_size=1000,
        epochs=5,
        scale_train=True,
        scale_test=False,
        expected={"question": {"acc": [0.3584, 0.6385], "val_acc": [0.4489, 0.5321]}},
    ),
    "revised": Recipe(
        name="revised",
        doc=(
            "The question's edited model, faithful to the post: Conv2D 64 3x3 he_normal -> MaxPool -> "
            "Conv2D 256 3x3 he_normal -> MaxPool -> Flatten -> Dense 512 -> Dropout 0.3 -> Dense 10 "
            "softmax; Adam, categorical cross-entropy, batch 1000, 10 epochs; the same pipeline bug "
            "(train divided by 255, test raw)."
        ),
        build=_revised_model,
        optimizer=_adam,
        batch_size=1000,
        epochs=10,
        scale_train=True,
        scale_test=False,
        expected={"question": {"acc": [0.4809, 0.9033], "val_acc": [0.5134, 0.6399]}},
    ),
    "fixed": Recipe(
        name="fixed",
        doc=(
            "The answer's final code, faithful to the post: Conv2D 64 3x3 he_normal -> MaxPool -> "
            "Conv2D 256 2x2 he_normal -> MaxPool -> Flatten -> Dense 1024 -> Dropout 0.4 -> Dense 10 "
            "softmax; Adam, categorical cross-entropy, batch 500, 5 epochs. Pipeline: both splits "
            "divided by 255."
        ),
        build=_fixed_model,
        optimizer=_adam,
        batch_size=500,
        epochs=5,
        scale_train=True,
        scale_test=True,
        expected={"answer": {"val_acc": [None, 0.7126]}},
    ),
    "keras-example": Recipe(
        name="keras-example",
        doc=(
            "The classic Keras cifar10_cnn example: Conv 32-32 / MaxPool / Dropout 0.25 / Conv 64-64 / "
            "MaxPool / Dropout 0.25 / Dense 512 / Dropout 0.5 / Dense 10 softmax; RMSprop "
            "(learning rate 1e-4), batch 32, both splits divided by 255. Documented to reach 75% "
            "validation accuracy at 25 epochs and 79% at 50 (with its data augmentation, which this "
            "recipe leaves out)."
        ),
        build=_keras_example_model,
        optimizer=_rmsprop,
        batch_size=32,
        epochs=25,
        scale_train=True,
        scale_test=True,
        expected={"documented": {"val_acc_at_25": 0.75, "val_acc_at_50": 0.79}},
    ),
}


def get_recipe(name: str) -> Recipe:
    """A built-in recipe by name, or a user recipe given as `path/to/file.py:function` or `module:function`."""
    if name in RECIPES:
        return RECIPES[name]
    if ":" in name:
        return load_user_recipe(name)
    import difflib

    close = difflib.get_close_matches(name, list(RECIPES), n=1)
    raise UsageError(
        "Unknown recipe",
        expected=f"one of {', '.join(RECIPES)}, or path/to/file.py:function",
        received=repr(name),
        hint=f"Did you mean {close[0]}?" if close else "Run `cifar-doctor compare --help` for the list",
    )
