"""The model's outputs in training mode (BatchNormalization on each batch's own statistics), model left as found.

Keras computes a network's training metrics in training mode, where BatchNormalization
normalizes with the statistics of the batch at hand, and `evaluate`/`predict` in inference
mode, with the moving averages it keeps (momentum 0.99: each step moves them 1%). Calling
the model with `training=True` on batches of images shows what it does with batch
statistics. Keras updates the moving averages as a side effect of that call, so every
non-trainable variable (moving statistics, seed states) is saved before and restored after:
the user's model is the same afterwards, and every other check reads it as loaded. Dropout
and augmentation layers act too in training mode; they only lower the accuracy read here. Keras
does not save their seed states, so a loaded model draws new ones in every process: each is set
to a fixed seed for the pass (`DROPOUT_SEED`), so that the reading is the same in every run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tfenv import quiet_tracing
from .model_facts import _ordered_ops

#: Layer classes that normalize with batch statistics in training mode.
BATCH_NORM_LAYERS = frozenset({"BatchNormalization", "SyncBatchNormalization"})

#: Images per training-mode call: Keras' `fit` default batch is 32, and 64 keeps the batch
#: statistics' own noise (one image's share of a mean) under 2% while costing half the calls.
TRAIN_MODE_BATCH = 64

#: Seed of the order the images are batched in: shuffled, so a class-ordered sample does not
#: hand BatchNormalization batches of one class (whose statistics carry no contrast between classes).
SHUFFLE_SEED = 0

#: Seed of the random layers' draws (Dropout masks, augmentations) during the pass, the i-th seed
#: generator of the model getting `DROPOUT_SEED + i`: without it the training-mode accuracy of a
#: loaded model with Dropout moved by 0.03 from one process to the next (0.284 to 0.311 on a
#: corpus ResNet), enough to move a reading near MDL012's bar.
DROPOUT_SEED = 1


def _seed_states(variables: list[Any]) -> list[Any]:
    """The seed-generator state variables among a model's non-trainable variables."""
    return [v for v in variables if "seed_generator_state" in str(getattr(v, "path", None) or getattr(v, "name", ""))]


def batch_norm_layers(model: Any) -> list[str]:
    """Names of the model's BatchNormalization layers, nested models included."""
    return [getattr(op, "name", "") for op in _ordered_ops(model) if type(op).__name__ in BATCH_NORM_LAYERS]


def training_mode_outputs(evaluate: Any, x: Any) -> np.ndarray | None:
    """The outputs of the model behind `evaluate` on `x`, computed in training mode, in `x`'s order.

    None when `evaluate` holds no Keras model, the model has no BatchNormalization layer, or the
    call fails (a model that cannot be called eagerly, a distribution strategy that refuses it).
    """
    model = getattr(evaluate, "model", None)
    if model is None or not batch_norm_layers(model) or not len(x):
        return None
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(x))
    batches = [np.sort(order[start : start + TRAIN_MODE_BATCH]) for start in range(0, len(x), TRAIN_MODE_BATCH)]
    state = list(getattr(model, "non_trainable_variables", []))
    saved = [np.array(v.numpy()) for v in state]
    parts = []
    try:
        for i, v in enumerate(_seed_states(state)):
            v.assign(np.array([DROPOUT_SEED + i, 0], dtype=np.dtype(str(v.dtype))))
        for batch in batches:
            chunk = np.asarray(x[batch], dtype=np.float32)
            with quiet_tracing():
                out = model(chunk, training=True)
            parts.append(np.asarray(out[0] if isinstance(out, (list, tuple)) else out).reshape(len(chunk), -1))
    except Exception:  # noqa: BLE001 - no training-mode reading, never fatal
        return None
    finally:
        for v, s in zip(state, saved):
            v.assign(s)
    out = np.empty((len(x), parts[0].shape[1]), dtype=np.float32)
    for batch, part in zip(batches, parts):
        out[batch] = part
    return out
