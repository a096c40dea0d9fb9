"""Built-in recipes: the models and data pipelines of the question this project comes from.

A recipe is a model builder, its compile/fit settings and its data pipeline
(`preprocess`). The pipeline is plain NumPy, so `cifar-doctor check --recipe`
never imports TensorFlow; `build_model()` imports Keras when called.

User recipes follow the same protocol (see `cifar_doctor.training.user_recipe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import numpy as np

from ..errors import UsageError
from ..tfenv import import_keras

NUM_CLASSES = 10


def one_hot(y: np.ndarray, classes: int = NUM_CLASSES) -> np.ndarray:
    """`keras.utils.to_categorical` in NumPy: (N,) or (N, 1) integers -> (N, classes) float32."""
    y = np.asarray(y).reshape(-1).astype(np.int64)
    out = np.zeros((y.shape[0], classes), dtype=np.float32)
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def stratified_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` indices with the class proportions of `y`, deterministic for `seed`, sorted."""
    y = np.asarray(y).reshape(-1)
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = np.floor(counts / counts.sum() * n).astype(int)
    # hand out the remainder to the largest fractional parts
    rest = n - quota.sum()
    frac = counts / counts.sum() * n - quota
    for i in np.argsort(-frac)[:rest]:
        quota[i] += 1
    picks = [rng.choice(np.flatnonzero(y == c), size=q, replace=False) for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picks))


def subset(arrays: dict[str, np.ndarray], limit: int | None, seed: int = 0) -> tuple[Any, Any, Any, Any]:
    """`x_train, y_train, x_test, y_test`, or a stratified subset of `limit` training (and at most
    `limit` test) images, deterministic for `seed`."""
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    if limit is not None:
        idx = stratified_indices(y_train, limit, seed)
        x_train, y_train = x_train[idx], np.asarray(y_train)[idx]
        tidx = stratified_indices(y_test, min(limit, len(y_test)), seed)
        x_test, y_test = x_test[tidx], np.asarray(y_test)[tidx]
    return x_train, y_train, x_test, y_test


def _scale(x: np.ndarray, divide: bool) -> np.ndarray:
    """One float32 copy of `x`, divided by 255 in place when `divide`."""
    out = np.asarray(x).astype(np.float32)
    if divide:
        out /= 255.0
    return out


@dataclass
class Recipe:
    """A model, its training settings and its data pipeline.

    Args:
        name: Recipe name.
        doc: What it is and where it comes from.
        build: Function returning an uncompiled Keras model.
        optimizer: Function returning a Keras optimizer.
        loss: Loss name.
        batch_size: Training batch size.
        epochs: Default number of epochs.
        scale_train / scale_test: Whether the pipeline divides that split by 255.
        expected: Published or measured reference figures, for the report.
    """

    name: str
    doc: str
    build: Callable[[], Any]
    optimizer: Callable[[], Any]
    loss: str = "categorical_crossentropy"
    batch_size: int = 1000
    epochs: int = 5
    scale_train: bool = True
    scale_test: bool = True
    metrics: tuple[str, ...] = ("accuracy",)
    expected: dict[str, Any] = field(default_factory=dict)

    def preprocess(self, arrays: dict[str, np.ndarray], *, limit: int | None = None, seed: int = 0
                   ) -> dict[str, np.ndarray]:
        """Apply this recipe's pipeline to raw uint8 CIFAR-10 arrays.

        Args:
            arrays: `x_train`, `y_train`, `x_test`, `y_test` as loaded (0-255).
            limit: Keep a stratified subset of this many training images (and
                at most this many test images). Defaults to `None` (all).
            seed: Seed of the subset. Defaults to `0`.
        """
        fed = self.feed(arrays, limit=limit, seed=seed)
        return {k: np.asarray(v) for k, v in fed.items()}

    def feed(self, arrays: dict[str, np.ndarray], *, limit: int | None = None, seed: int = 0
             ) -> dict[str, Any]:
        """This recipe's pipeline, with the images scaled on demand from the uint8 arrays.

        The same values as `preprocess`, but `x_train` and `x_test` are
        `cifar_doctor.lazy.MappedImages` over the (subset of the) uint8 images:
        each read applies the recipe's scaling to the images it selects, so no
        float32 copy of a whole split is made. `compare` trains and diagnoses
        from these (`cifar_doctor.training.feed` streams them to the model).

        Args:
            arrays: `x_train`, `y_train`, `x_test`, `y_test` as loaded (0-255).
            limit: As for `preprocess`. Defaults to `None` (all).
            seed: Seed of the subset. Defaults to `0`.

        Example:

        >>> import numpy as np
        >>> raw = {"x_train": np.full((20, 32, 32, 3), 255, np.uint8), "y_train": np.arange(20) % 10,
        ...        "x_test": np.full((10, 32, 32, 3), 255, np.uint8), "y_test": np.arange(10)}
        >>> fed = RECIPES["original"].feed(raw)
        >>> float(fed["x_train"][:2].max()), float(fed["x_test"][:2].max())
        (1.0, 255.0)
        """
        from ..lazy import MappedImages

        x_train, y_train, x_test, y_test = subset(arrays, limit, seed)
        if self.loss == "sparse_categorical_crossentropy":
            ytr, yte = np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)
        else:
            ytr, yte = one_hot(y_train, NUM_CLASSES), one_hot(y_test, NUM_CLASSES)
        return {
            "x_train": MappedImages(x_train, partial(_scale, divide=self.scale_train)),
            "y_train": ytr,
            "x_test": MappedImages(x_test, partial(_scale, divide=self.scale_test)),
            "y_test": yte,
        }

    def compile(self, model: Any, gradient_accumulation_steps: int = 1) -> Any:
        """Compile `model` with the recipe's optimizer, loss and metrics.

        Args:
            model: The built model.
            gradient_accumulation_steps: Micro-batches whose averaged gradients
                make one optimizer update (Keras' optimizer argument of that name);
                `compare` uses it when a batch would not fit in memory at once.
                Defaults to `1`.
        """
        model.compile(optimizer=with_accumulation(self.optimizer(), gradient_accumulation_steps), loss=self.loss,
                      metrics=list(self.metrics))
        return model


def with_accumulation(optimizer: Any, steps: int) -> Any:
    """`optimizer` (an instance or a name), rebuilt with `gradient_accumulation_steps=steps` when `steps > 1`."""
    if steps <= 1:
        return optimizer
    keras = import_keras()

    opt = keras.optimizers.get(optimizer)
    return type(opt).from_config(dict(opt.get_config(), gradient_accumulation_steps=int(steps)))


# --- models (Keras is imported only when a model is built) -----------------------------

def _question_cnn(name: str, conv1: tuple[int, int], conv2: tuple[int, int], dense: int, dropout: float,
                  init: str | None) -> Any:
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
        build=_original_model, optimizer=_adam, batch_size=1000, epochs=5,
        scale_train=True, scale_test=False,
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
        build=_revised_model, optimizer=_adam, batch_size=1000, epochs=10,
        scale_train=True, scale_test=False,
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
        build=_fixed_model, optimizer=_adam, batch_size=500, epochs=5,
        scale_train=True, scale_test=True,
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
        build=_keras_example_model, optimizer=_rmsprop, batch_size=32, epochs=25,
        scale_train=True, scale_test=True,
        expected={"documented": {"val_acc_at_25": 0.75, "val_acc_at_50": 0.79}},
    ),
}


def get_recipe(name: str) -> Recipe:
    """A built-in recipe by name, or a user recipe given as `path/to/file.py:function` or `module:function`."""
    if name in RECIPES:
        return RECIPES[name]
    if ":" in name:
        from .user_recipe import load_user_recipe

        return load_user_recipe(name)
    import difflib

    close = difflib.get_close_matches(name, list(RECIPES), n=1)
    raise UsageError(
        "Unknown recipe",
        expected=f"one of {', '.join(RECIPES)}, or path/to/file.py:function",
        received=repr(name),
        hint=f"Did you mean {close[0]}?" if close else "Run `cifar-doctor compare --help` for the list",
    )
