"""The model measured in NumPy: Keras' cross-entropies, correct predictions, and the `Evaluator`.

`Evaluator(model)` is a quiet `evaluate(x, y) -> {"loss", "accuracy"}` for the
counterfactual and the model measurements: it runs the model only through
`model.predict` (on every replica of its strategy, NumPy out on every backend)
and computes the loss as Keras 3 does. `count_correct` is the one rule for a
correct prediction (arg-max, or a threshold for one unit), shared with
`DoctorCallback`'s inference-mode accuracy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..mapped import is_lazy
from ..tfenv import quiet_tracing
from .model_facts import (
    EPSILON,
    INFERENCE_IDENTITY_LAYERS,
    activation_name,
    input_of,
    model_info,
    output_op,
    quiet_keras,
    to_numpy,
)

#: Images per `model.predict` call in the evaluator. Each chunk is cast to
#: float32 on its own, so raw uint8 data never needs a full float32 copy
#: (2,048 CIFAR images are 25 MB as float32).
EVAL_CHUNK = 2048

#: `batch_size` passed to `model.predict`: the Keras default is 32, which
#: is slow on a CPU for small CNNs; 256 keeps activations of the seed's models
#: well under 1 GB.
PREDICT_BATCH_SIZE = 256


def _softmax_logits_model(model: Any) -> tuple[Any, Callable[[np.ndarray], np.ndarray]] | None:
    """A sub-model returning the logits under a final softmax/sigmoid, and how to finish them.

    Keras 3 on TensorFlow keeps the logits of a softmax/sigmoid output
    (`_keras_logits`) and computes any cross-entropy from them, unclipped,
    whatever `from_logits` says (a sigmoid output with categorical
    cross-entropy is scored as a softmax over the same logits). To report the loss `model.evaluate` reports,
    the evaluator needs those logits too.
    """
    keras = quiet_keras()
    if keras.backend.backend() != "tensorflow":
        return None
    op = output_op(model)
    if op is None or not getattr(model, "inputs", None):
        return None
    # layers that return their input tensor itself at inference keep `_keras_logits`
    while type(op).__name__ in INFERENCE_IDENTITY_LAYERS:
        op = input_of(op)
        if op is None:
            return None
    cls = type(op).__name__
    strategy = getattr(model, "distribute_strategy", None)
    # built under the model's strategy, the sub-model's predict runs on the same replicas
    scope = strategy.scope() if strategy is not None and hasattr(strategy, "scope") else contextlib.nullcontext()
    try:
        with scope:
            if cls in ("Softmax", "Sigmoid") or (
                cls == "Activation" and activation_name(op.activation) in ("softmax", "sigmoid")
            ):
                if cls == "Softmax" and getattr(op, "axis", -1) not in (-1, None):
                    return None
                sub = keras.Model(model.inputs, op.input)
                return sub, lambda h: h
            if cls == "Dense" and activation_name(op.activation) in ("softmax", "sigmoid"):
                sub = keras.Model(model.inputs, op.input)

                def dense(h: np.ndarray) -> np.ndarray:
                    # the weights as they are now: an evaluator made before `fit` is used after it
                    kernel = np.asarray(to_numpy(op.kernel), dtype=np.float32)
                    bias = np.asarray(to_numpy(op.bias), dtype=np.float32) if op.use_bias else np.float32(0)
                    return h.astype(np.float32) @ kernel + bias

                return sub, dense
    except Exception:  # noqa: BLE001 - fall back to probabilities
        return None
    return None


def _activate(z: np.ndarray, activation: str | None) -> np.ndarray:
    """Softmax or sigmoid of logits in float32, as the model's output layer computes them."""
    z = z.astype(np.float32)
    if activation == "sigmoid":
        with np.errstate(over="ignore"):
            return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    return -np.logaddexp(0.0, -z)


def cross_entropy(
    outputs: np.ndarray, y: np.ndarray, *, loss: str, from_logits: bool, label_smoothing: float = 0.0
) -> np.ndarray:
    """Per-sample loss as Keras 3 computes it (TensorFlow backend), in NumPy.

    Args:
        outputs: Model outputs (N, K): probabilities, or logits when `from_logits`.
        y: Integer labels (N,)/(N, 1) or one-hot/soft targets (N, K).
        loss: `categorical_crossentropy`, `sparse_categorical_crossentropy` or `binary_crossentropy`.
        from_logits: Whether `outputs` are logits.
        label_smoothing: As in `CategoricalCrossentropy`. Defaults to `0.0`.

    Returns:
        The loss of each sample, float64 (N,).
    """
    out = np.asarray(outputs)
    k = out.shape[-1]
    if loss == "binary_crossentropy":
        t = _targets_binary(y, out.shape)
        if from_logits:
            per = -(t * _log_sigmoid(out) + (1 - t) * _log_sigmoid(-out))
        else:
            p = np.clip(out.astype(np.float64), EPSILON, 1 - EPSILON)
            per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
        return per.reshape(len(out), -1).mean(axis=-1)
    t = _targets_one_hot(y, k)
    if label_smoothing and loss == "categorical_crossentropy":
        t = t * (1 - label_smoothing) + label_smoothing / k
    if from_logits:
        logp = _log_softmax(out)
    elif loss == "sparse_categorical_crossentropy":
        # Keras: clip, log, then sparse_softmax_cross_entropy_with_logits on those logs
        logp = _log_softmax(np.log(np.clip(out.astype(np.float64), EPSILON, 1 - EPSILON)))
    else:
        # Keras: normalise by the sum, clip to [eps, 1 - eps], log
        p = out.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = p / p.sum(axis=-1, keepdims=True)
        logp = np.log(np.clip(p, EPSILON, 1 - EPSILON))
    return -(t * logp).sum(axis=-1)


def _targets_one_hot(y: np.ndarray, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        return y.astype(np.float64)
    idx = y.reshape(-1).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= k):
        raise InputError(
            "Cannot evaluate the model on these labels",
            expected=f"class indices in [0, {k - 1}] for a model with {k} outputs",
            received=f"labels from {int(idx.min())} to {int(idx.max())}",
        )
    out = np.zeros((idx.shape[0], k), dtype=np.float64)
    out[np.arange(idx.shape[0]), idx] = 1.0
    return out


def _targets_binary(y: np.ndarray, shape: tuple) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != shape:
        if shape[-1] == 1:
            y = y.reshape(shape)
        else:
            y = _targets_one_hot(y, shape[-1])
    return y


def count_correct(pred: np.ndarray, y: np.ndarray, threshold: float | None = None) -> int:
    """Correct predictions: arg-max for K outputs, a threshold for one unit.

    Args:
        pred: Model outputs (N, K) or (N,)/(N, 1).
        y: Integer labels (N,)/(N, 1) or one-hot (N, K); for one unit, 0/1
            labels (a label counts as 1 from 0.5 up).
        threshold: For one unit, the cut above which a prediction is class 1.
            Defaults to `None`: 0.5 for probabilities in [0, 1], 0.0 for
            logits (anything outside that range).

    Raises:
        ValueError: predictions and labels differ in length.
    """
    pred, y = np.asarray(pred), np.asarray(y)
    if pred.ndim == 2 and pred.shape[1] > 1:
        p = pred.argmax(axis=1)
        t = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype(np.int64)
    else:
        pred = pred.reshape(-1)
        if threshold is None:  # a single unit: probabilities in [0, 1] or logits centred on 0
            threshold = 0.5 if pred.size and pred.min() >= 0.0 and pred.max() <= 1.0 else 0.0
        p = (pred > threshold).astype(np.int64)
        t = (y.reshape(-1) >= 0.5).astype(np.int64)
    if len(p) != len(t):
        raise ValueError("predictions and labels differ in length")
    return int((p == t).sum())


@dataclass(frozen=True)
class Evaluator:
    """A quiet `evaluate(x, y) -> {"loss", "accuracy"}` of a Keras model, for counterfactual measurements.

    Predictions come from `model.predict(..., verbose=0)` in chunks (each cast to
    float32 on its own); the loss is computed in NumPy like the model's
    compiled loss (categorical, sparse categorical or binary cross-entropy),
    accuracy with `count_correct`. Labels may be integers or one-hot.

    As Keras 3 does on TensorFlow, a softmax or sigmoid output's cross-entropy
    is computed from the logits under it when they can be reached (a final
    `Dense(..., activation="softmax")`, `Softmax` or `Activation` layer), so the
    loss matches `model.evaluate`; otherwise from the probabilities, clipped
    to [1e-7, 1 - 1e-7] as Keras does. Build one with `Evaluator.of(model)`.

    Attributes:
        model: The Keras model.
        loss_name: The cross-entropy computed.
        from_logits: Whether the model's outputs are logits for that loss.
        output_kind: What the loss is computed from: `"logits"` or `"probabilities"`.
        activation: The model's last activation (`softmax`, `sigmoid`, ...).
        label_smoothing: The compiled loss's label smoothing.
        output_units: Units of the output, for an empty prediction.
    """

    model: Any
    loss_name: str
    from_logits: bool
    output_kind: str
    activation: str | None = None
    label_smoothing: float = 0.0
    output_units: int | None = None
    _logits_path: tuple[Any, Callable[[np.ndarray], np.ndarray]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, model: Any, *, loss: str | None = None, from_logits: bool | None = None) -> Evaluator:
        """The evaluator of `model`.

        Args:
            model: A Keras model.
            loss: Loss to compute instead of the compiled one. Defaults to `None`.
            from_logits: Whether the model outputs logits, instead of the compiled
                loss's setting. Defaults to `None`.
        """
        info = model_info(model)
        name = loss or info.loss
        fl = from_logits if from_logits is not None else info.from_logits
        act = info.last_activation
        if name not in ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"):
            # uncompiled or another loss: the cross-entropy that fits the output
            name = "binary_crossentropy" if (info.output_units == 1) else "categorical_crossentropy"
            fl = act not in ("softmax", "sigmoid")
        if fl is None:
            fl = False
        smoothing = 0.0
        fn_kwargs = getattr(getattr(model, "loss", None), "_fn_kwargs", None) or {}
        if isinstance(fn_kwargs.get("label_smoothing"), (int, float)):
            smoothing = float(fn_kwargs["label_smoothing"])
        logits_path = None
        if act in ("softmax", "sigmoid"):
            # Keras 3 (TensorFlow) computes every cross-entropy from the logits cached
            # under a softmax or sigmoid output, with the loss's own link function.
            logits_path = _softmax_logits_model(model)
        kind = "logits" if (logits_path is not None or fl) else "probabilities"
        return cls(model, name, bool(fl), kind, act, smoothing, info.output_units, logits_path)

    def predict(self, x: Any) -> np.ndarray:
        """The model's outputs on `x` (logits under a softmax/sigmoid when reachable), `EVAL_CHUNK` at a time."""
        net = self._logits_path[0] if self._logits_path else self.model
        parts = []
        for start in range(0, len(x), EVAL_CHUNK):
            chunk = np.asarray(x[start : start + EVAL_CHUNK])
            if chunk.dtype != np.float32:
                chunk = chunk.astype(np.float32)
            with quiet_tracing():
                out = np.asarray(net.predict(chunk, batch_size=PREDICT_BATCH_SIZE, verbose=0))
            if self._logits_path:
                out = self._logits_path[1](out)
            parts.append(out)
        return np.concatenate(parts) if parts else np.zeros((0, self.output_units or 1), np.float32)

    @property
    def output_threshold(self) -> float:
        """Where a single output unit, as the model emits it, turns from class 0 to class 1: 0 for a
        logit (`from_logits`), 0.5 for a probability."""
        return 0.0 if self.from_logits else 0.5

    def __call__(self, x: Any, y: Any) -> dict[str, float]:
        x = x if is_lazy(x) else np.asarray(x)  # images computed on demand are predicted chunk by chunk
        y = np.asarray(y)
        if len(x) != len(y):
            raise InputError(
                "Cannot evaluate the model",
                expected="as many labels as images",
                received=f"{len(x)} images and {len(y)} labels",
            )
        if len(x) == 0:
            raise InputError("Cannot evaluate the model", expected="at least one image", received="none")
        out = self.predict(x)
        if out.ndim != 2:
            out = out.reshape(len(out), -1)
        logits = self._logits_path is not None
        per = cross_entropy(
            out, y, loss=self.loss_name, from_logits=self.from_logits or logits, label_smoothing=self.label_smoothing
        )
        if logits:
            # accuracy from the outputs as the model emits them (float32 ties included)
            out = _activate(out, self.activation)
        accuracy = count_correct(out, y, threshold=0.5 if logits else self.output_threshold) / len(y)
        return {"loss": float(np.mean(per)), "accuracy": float(accuracy)}


def make_evaluator(model: Any, *, loss: str | None = None, from_logits: bool | None = None) -> Evaluator:
    """`Evaluator.of(model, loss=..., from_logits=...)`."""
    return Evaluator.of(model, loss=loss, from_logits=from_logits)
