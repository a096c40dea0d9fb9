"""What a Keras model is, read off the model: output activation, compiled loss, input normalization, optimizer.

`model_info(model)` gives the checks a `cifar_doctor.records.ModelInfo`; the
checks never see the model itself. Keras is imported only inside the functions
here (through `cifar_doctor.tfenv`), so importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..records import Affine, ModelInfo
from .losses import PROBABILITY_LOSSES, canonical_loss_name, describe_loss

#: Keras 3's `backend.epsilon()`: probabilities are clipped to
#: [EPSILON, 1 - EPSILON] before the log in the cross-entropies, and a
#: `Normalization` layer divides by at least it.
EPSILON = 1e-7

#: Layers that change neither the values' meaning nor the last activation:
#: walking back from the output past these finds the activation that matters.
PASSTHROUGH_LAYERS = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "AlphaDropout",
    "GaussianDropout",
    "GaussianNoise",
    "ActivityRegularization",
    "Identity",
    "Flatten",
    "Reshape",
    "InputLayer",
}

#: Layers that return their input tensor unchanged at inference, so a softmax
#: output's cached logits survive them.
INFERENCE_IDENTITY_LAYERS = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "AlphaDropout",
    "GaussianDropout",
    "GaussianNoise",
    "Identity",
    "ActivityRegularization",
}

#: Layers with trainable weights that end the "input normalization" prefix of a model.
COMPUTE_LAYERS = re.compile(
    r"^(Conv\d?D|Conv\dDTranspose|DepthwiseConv\dD|SeparableConv\dD|Dense|EinsumDense|"
    r"Embedding|LSTM|GRU|SimpleRNN|MultiHeadAttention|Bidirectional|ConvLSTM\dD)$"
)

#: Functional-API operations on the input that act as an affine rescaling,
#: when their other argument is a scalar: name -> (scale(c), offset(c)).
AFFINE_OPS: dict[str, Callable[[float], tuple[float, float]]] = {
    "TrueDivide": lambda c: (1.0 / c, 0.0),
    "Divide": lambda c: (1.0 / c, 0.0),
    "Multiply": lambda c: (c, 0.0),
    "Subtract": lambda c: (1.0, -c),
    "Add": lambda c: (1.0, c),
}


def quiet_keras():
    """Import Keras without TensorFlow's start-up chatter (`cifar_doctor.tfenv`)."""
    from ..tfenv import import_keras

    return import_keras()


def activation_name(fn: Any) -> str | None:
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return _snake(name)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def output_op(model: Any) -> Any:
    """The operation (layer or functional op) that produces the model's single output."""
    outputs = getattr(model, "outputs", None)
    try:
        if outputs and len(outputs) == 1:
            return outputs[0]._keras_history[0]
    except (AttributeError, IndexError, TypeError):
        pass
    layers = getattr(model, "layers", None)
    return layers[-1] if layers else None


def input_of(op: Any) -> Any:
    """The operation feeding `op` (single input), or None."""
    try:
        node = op._inbound_nodes[0]
        tensors = node.input_tensors
        if len(tensors) == 1:
            return tensors[0]._keras_history[0]
    except (AttributeError, IndexError, TypeError):
        pass
    return None


def last_activation(model: Any) -> str | None:
    """The activation applied last: `softmax`, `sigmoid`, `linear`, ...; None when it cannot be told.

    Walks back from the output past layers that change no values (Dropout,
    Flatten, Reshape, `Activation("linear")`), into nested models.
    """
    op = output_op(model)
    for _ in range(64):
        if op is None:
            return None
        cls = type(op).__name__
        if _is_model(op) and op is not model:  # nested model
            return last_activation(op)
        if cls == "Softmax":
            return "softmax"
        if cls == "Sigmoid":
            return "sigmoid"
        if cls == "Activation":
            name = activation_name(getattr(op, "activation", None))
            if name != "linear":
                return name
        elif cls in ("ReLU", "LeakyReLU", "ELU", "PReLU"):
            return _snake(cls) if cls != "ReLU" else "relu"
        elif cls in PASSTHROUGH_LAYERS:
            pass
        elif hasattr(op, "activation"):
            return activation_name(op.activation)
        else:
            return None
        prev = input_of(op)
        if prev is None:
            # Sequential without functional history: the previous layer in order
            layers = list(getattr(model, "layers", []))
            idx = next((i for i, lay in enumerate(layers) if lay is op), None)
            prev = layers[idx - 1] if idx else None
        if prev is None:
            return "linear"
        op = prev
    return None


def _is_model(op: Any) -> bool:
    """A (nested) Keras model: it has layers and can be compiled."""
    return hasattr(op, "layers") and callable(getattr(op, "compile", None))


def _ordered_ops(model: Any) -> list[Any]:
    """Layers and functional ops in order, nested models flattened."""
    ops = list(getattr(model, "_operations", None) or getattr(model, "layers", []))
    out: list[Any] = []
    for op in ops:
        if _is_model(op) and op is not model:
            out.extend(_ordered_ops(op))
        else:
            out.append(op)
    return out


def _scale_text(v: float) -> str:
    return f"{float(v):.9g}"


def _affine_of_op(op: Any) -> tuple[float, float] | None:
    """(scale, offset) of a functional op such as `inputs / 255.0`, or None."""
    factory = AFFINE_OPS.get(type(op).__name__)
    if factory is None:
        return None
    try:
        args = op._inbound_nodes[0].arguments.args
    except (AttributeError, IndexError):
        return None
    consts = [a for a in args if isinstance(a, (int, float, np.floating, np.integer))]
    tensors = [a for a in args if not isinstance(a, (int, float, np.floating, np.integer))]
    if len(consts) != 1 or len(tensors) != 1:
        return None
    c = float(consts[0])
    if type(op).__name__ in ("TrueDivide", "Divide") and (c == 0 or args[0] is consts[0]):
        return None
    if type(op).__name__ == "Subtract" and args[0] is consts[0]:
        return None
    return factory(c)


def input_normalization(model: Any) -> list[tuple[str, Affine | None]]:
    """In-model normalization found before the first Conv/Dense layer.

    Each entry is a plain description and, when the values are known, the
    same normalization as an `Affine`: `Rescaling(scale=S, offset=O)` for a
    `Rescaling` layer or a scalar arithmetic op on the input (`x / 255.0` in
    the functional API), `Normalization(mean=[...], variance=[...])` for an
    adapted `Normalization` layer (`Normalization(not adapted)`, with no
    `Affine`, for one that never saw data).
    """
    out: list[tuple[str, Affine | None]] = []
    for op in _ordered_ops(model):
        cls = type(op).__name__
        if COMPUTE_LAYERS.match(cls):
            break
        if cls == "Rescaling":
            scale, offset = getattr(op, "scale", 1.0), getattr(op, "offset", 0.0)
            if np.ndim(scale) == 0 and np.ndim(offset) == 0:
                text = f"Rescaling(scale={_scale_text(scale)}, offset={_scale_text(offset)})"
            else:
                text = (
                    f"Rescaling(scale={np.asarray(scale).round(6).tolist()}, "
                    f"offset={np.asarray(offset).round(6).tolist()})"
                )
            out.append((text, Affine(cls, _float_or_per_channel(scale), _float_or_per_channel(offset))))
        elif cls == "Normalization":
            try:
                mean = np.asarray(to_numpy(getattr(op, "mean", None)), dtype=np.float64).reshape(-1)
                var = np.asarray(to_numpy(getattr(op, "variance", None)), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                out.append(("Normalization(not adapted)", None))
                continue
            text = f"Normalization(mean={mean.round(6).tolist()}, variance={var.round(6).tolist()})"
            if not (np.isfinite(mean).all() and np.isfinite(var).all()):
                out.append((text, None))
                continue
            std = np.maximum(np.sqrt(var), EPSILON)  # as Keras divides: by max(sqrt(variance), epsilon)
            out.append((text, Affine(cls, _float_or_per_channel(1.0 / std), _float_or_per_channel(-mean / std))))
        else:
            affine = _affine_of_op(op)
            if affine is not None:
                out.append(
                    (
                        f"{cls}(scale={_scale_text(affine[0])}, offset={_scale_text(affine[1])})",
                        Affine(cls, affine[0], affine[1]),
                    )
                )
    return out


def to_numpy(value: Any) -> Any:
    """A plain value as it is; a backend tensor or variable (TensorFlow, JAX or PyTorch, on any device) as NumPy.

    `np.asarray` fails on a PyTorch tensor on a GPU or one that requires grad;
    `keras.ops.convert_to_numpy` copies any backend's tensor to the host.
    """
    if value is None or isinstance(value, (int, float, list, tuple, np.ndarray, np.generic)):
        return value
    try:
        return quiet_keras().ops.convert_to_numpy(value)
    except Exception:  # noqa: BLE001 - not a tensor of this backend: as NumPy reads it
        return np.asarray(value)


def _float_or_per_channel(v: Any) -> float | tuple[float, ...]:
    """A float, or a tuple of floats for a per-channel value."""
    arr = np.asarray(v, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else tuple(float(x) for x in arr.reshape(-1))


def compiled_loss(model: Any) -> tuple[str | None, bool | None]:
    """Canonical name and `from_logits` of the loss the model was compiled with."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        loss = loss[0]
    if isinstance(loss, dict) and len(loss) == 1:
        loss = next(iter(loss.values()))
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None, None
    name: str | None
    from_logits: bool | None
    if isinstance(loss, str):
        name, from_logits = canonical_loss_name(loss, strict=False), None
    else:
        name, from_logits = describe_loss(loss)
    if from_logits is None and name in PROBABILITY_LOSSES:
        from_logits = False  # the Keras default for names and plain loss functions
    return name, from_logits


def model_info(model: Any) -> ModelInfo:
    """Read the facts the checks need from a Keras model (Sequential or functional, compiled or not).

    Args:
        model: A Keras model.

    Returns:
        A `ModelInfo`: input shape without the batch axis, output units, last
        activation, compiled loss and `from_logits`, in-model normalization,
        layer class names.
    """
    input_shape = None
    try:
        shape = model.input_shape
        if isinstance(shape, list) and len(shape) == 1:
            shape = shape[0]
        if isinstance(shape, tuple):
            input_shape = tuple(shape[1:])
    except (AttributeError, ValueError):
        pass
    output_units = None
    try:
        oshape = model.output_shape
        if isinstance(oshape, list) and len(oshape) == 1:
            oshape = oshape[0]
        if isinstance(oshape, tuple) and oshape and isinstance(oshape[-1], int):
            output_units = int(oshape[-1])
    except (AttributeError, ValueError):
        pass
    loss, from_logits = compiled_loss(model)
    normalization = input_normalization(model)
    ops = _ordered_ops(model)
    optimizer, learning_rate = optimizer_facts(model)
    return ModelInfo(
        input_shape=input_shape,
        output_units=output_units,
        last_activation=last_activation(model),
        loss=loss,
        from_logits=from_logits,
        rescaling=[text for text, _ in normalization],
        rescaling_affine=tuple(affine for _, affine in normalization if affine is not None),
        layers=[type(op).__name__ for op in ops],
        name=getattr(model, "name", None),
        activations=[_op_activation(op) for op in ops],
        optimizer=optimizer,
        learning_rate=learning_rate,
    )


def _op_activation(op: Any) -> str | None:
    """The activation a layer applies: its `activation` argument, or what an activation layer is."""
    cls = type(op).__name__
    if cls == "Softmax":
        return "softmax"
    if cls == "Sigmoid":
        return "sigmoid"
    if cls in ("ReLU", "LeakyReLU", "ELU", "PReLU"):
        return "relu" if cls == "ReLU" else _snake(cls)
    if hasattr(op, "activation") and not _is_model(op):
        return activation_name(op.activation)
    return None


def optimizer_facts(model: Any) -> tuple[str | None, float | None]:
    """(class name, learning rate) of the compiled optimizer; Nones when there is none.

    For a learning-rate schedule, the rate it starts from; a schedule without
    one gives `None` (unknown), never where the schedule ended.
    """
    opt = getattr(model, "optimizer", None)
    opt = getattr(opt, "inner_optimizer", None) or opt  # mixed precision's LossScaleOptimizer
    if opt is None:
        return None, None
    lr = None
    schedule = getattr(opt, "_learning_rate", None)
    if schedule is not None and callable(schedule) and hasattr(schedule, "get_config"):
        # a LearningRateSchedule: the rate it starts from, not where it ended (cosine decay ends at 0)
        start = getattr(schedule, "initial_learning_rate", None)
        try:
            value = float(np.asarray(start))
            return type(opt).__name__, float(f"{value:.6g}") if np.isfinite(value) else None
        except (TypeError, ValueError):
            return type(opt).__name__, None
    try:
        value = float(to_numpy(opt.learning_rate))
        lr = float(f"{value:.6g}") if np.isfinite(value) else None  # float32 0.001 reads 0.0010000000474974513
    except Exception:  # noqa: BLE001 - a schedule or backend object that cannot be read: unknown
        lr = None
    return type(opt).__name__, lr
