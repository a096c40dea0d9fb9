"""The model's penultimate-layer features and its class probabilities, in one `model.predict` pass.

`read_features(evaluate, x)` runs a `keras.Model(model.inputs, [features, output])`
built from the user's own layers (no user code is executed: the sub-model reuses
the loaded graph) through `predict`, as the evaluator does, on every replica of
the model's strategy. The features are the input of the output layer (walking
back past a separate Softmax/Activation layer and layers that are the identity at
inference, such as Dropout): what the last Dense layer sees. LBL010 reads them to
get honest, cross-validated probabilities of the training labels.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..tfenv import quiet_tracing
from .model_facts import INFERENCE_IDENTITY_LAYERS, activation_name, input_of, output_op, quiet_keras

#: Images per `predict` call: as the evaluator's chunks, each cast to float32 on its own.
FEATURE_CHUNK = 2048

#: `batch_size` of `predict`, as the evaluator's.
FEATURE_BATCH_SIZE = 256

#: Widest feature vector read: 4,096 floats per image keep 10,000 images at 160 MB.
#: A wider penultimate layer (a Flatten straight into the output) is reduced by average pooling.
MAX_FEATURES = 4096


@dataclass(frozen=True)
class Features:
    """Penultimate features (N, D) and class probabilities (N, K) of the same images."""

    features: np.ndarray
    probabilities: np.ndarray
    layer: str


def _feature_model(model: Any) -> tuple[Any, str] | None:
    """A sub-model with outputs [penultimate features, probabilities], and the feature layer's name."""
    keras = quiet_keras()
    op = output_op(model)
    if op is None or not getattr(model, "inputs", None):
        return None
    while type(op).__name__ in INFERENCE_IDENTITY_LAYERS:
        op = input_of(op)
        if op is None:
            return None
    cls = type(op).__name__
    if cls in ("Softmax", "Activation"):  # a separate activation: the Dense under it is the output layer
        op = input_of(op)
        if op is None:
            return None
    if type(op).__name__ != "Dense":
        return None
    feeder = input_of(op)
    while feeder is not None and type(feeder).__name__ in INFERENCE_IDENTITY_LAYERS:
        feeder = input_of(feeder)
    name = getattr(feeder, "name", None) or "input of the output layer"
    strategy = getattr(model, "distribute_strategy", None)
    scope = strategy.scope() if strategy is not None and hasattr(strategy, "scope") else contextlib.nullcontext()
    try:
        with scope:
            return keras.Model(model.inputs, [op.input, model.outputs[0]]), name
    except Exception:  # noqa: BLE001 - a graph that cannot be cut: no features
        return None


def _as_probabilities(out: np.ndarray, activation: str | None) -> np.ndarray:
    out = out.astype(np.float32).reshape(len(out), -1)
    if activation in ("softmax", "sigmoid") and out.size and out.min() >= 0.0 and out.max() <= 1.0:
        s = out.sum(axis=1, keepdims=True)
        return out / np.where(s > 0, s, 1.0)
    e = np.exp(out - out.max(axis=1, keepdims=True))  # logits
    return e / e.sum(axis=1, keepdims=True)


def read_features(evaluate: Any, x: Any) -> Features | None:
    """Features and probabilities of `x` from the model behind `evaluate` (a `sources.evaluator.Evaluator`).

    Returns `None` when `evaluate` holds no Keras model or its output layer is not a Dense
    layer with a vector input.
    """
    model = getattr(evaluate, "model", None)
    if model is None:
        return None
    built = _feature_model(model)
    if built is None:
        return None
    sub, layer = built
    act = getattr(evaluate, "activation", None) or activation_name(getattr(output_op(model), "activation", None))
    feats, probs = [], []
    for start in range(0, len(x), FEATURE_CHUNK):
        chunk = np.asarray(x[start : start + FEATURE_CHUNK])
        if chunk.dtype != np.float32:
            chunk = chunk.astype(np.float32)
        with quiet_tracing():
            f, p = sub.predict(chunk, batch_size=FEATURE_BATCH_SIZE, verbose=0)
        f = np.asarray(f, dtype=np.float32).reshape(len(chunk), -1)
        if f.shape[1] > MAX_FEATURES:
            f = _pool(f, MAX_FEATURES)
        feats.append(f)
        probs.append(_as_probabilities(np.asarray(p), act))
    if not feats:
        return None
    return Features(np.concatenate(feats), np.concatenate(probs), layer)


def _pool(f: np.ndarray, width: int) -> np.ndarray:
    """Average consecutive features down to at most `width` columns."""
    step = -(-f.shape[1] // width)
    pad = (-f.shape[1]) % step
    if pad:
        f = np.pad(f, ((0, 0), (0, pad)))
    return f.reshape(len(f), -1, step).mean(axis=2)
