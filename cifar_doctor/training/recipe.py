"""The recipe protocol: a model builder, its compile/fit settings and its NumPy data pipeline.

`Recipe` is what `compare` trains and `check --recipe` diagnoses; the built-in
recipes are in `cifar_doctor.training.recipes`, user recipes are read by
`cifar_doctor.training.user_recipe`. The pipeline is plain NumPy, so checking
a recipe's data never imports TensorFlow; Keras is imported when a model is
compiled with gradient accumulation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..mapped import MappedImages
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

    def preprocess(
        self, arrays: dict[str, np.ndarray], *, limit: int | None = None, seed: int = 0
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

    def feed(self, arrays: dict[str, np.ndarray], *, limit: int | None = None, seed: int = 0) -> dict[str, Any]:
        """This recipe's pipeline, with the images scaled on demand from the uint8 arrays.

        The same values as `preprocess`, but `x_train` and `x_test` are
        `cifar_doctor.mapped.MappedImages` over the (subset of the) uint8 images:
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
        model.compile(
            optimizer=with_accumulation(self.optimizer(), gradient_accumulation_steps),
            loss=self.loss,
            metrics=list(self.metrics),
        )
        return model


def with_accumulation(optimizer: Any, steps: int) -> Any:
    """`optimizer` (an instance or a name), rebuilt with `gradient_accumulation_steps=steps` when `steps > 1`."""
    if steps <= 1:
        return optimizer
    keras = import_keras()

    opt = keras.optimizers.get(optimizer)
    return type(opt).from_config(dict(opt.get_config(), gradient_accumulation_steps=int(steps)))
