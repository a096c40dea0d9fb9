"""Keras models: safe loading, the facts the checks need, and an evaluator for counterfactuals.

Keras (and so TensorFlow) is imported only inside the functions here, so the
data-only and log-only paths never pay for it. A model file never executes
code: it is loaded with `keras.saving.load_model(path, safe_mode=True)`, and
every refusal becomes one `InputError` line (what was received, what was
expected, how to fix it). Nothing is ever written next to the user's file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..inputs import Affine, ModelInfo
from . import archives

#: First bytes of an HDF5 file (the legacy `.h5` Keras format).
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

#: Largest config.json read: the config of a ResNet-152 is under 1 MB.
MAX_CONFIG_BYTES = 16 << 20

#: Largest declared content of a .keras archive, all members together. Keras reads
#: the weights member into memory whole; a model for 32x32 images is rarely over
#: 100 MB (a ResNet-50 is 98 MB of float32 weights), and 2 GiB refuses forged sizes
#: (a member declaring 10 GB) before Keras allocates them.
MAX_MODEL_BYTES = 2 << 30

#: The weights member Keras needs in a .keras archive (one of them).
WEIGHTS_MEMBERS = ("model.weights.h5", "model.weights.npz")

#: Images per `model.predict` call in the evaluator. Each chunk is cast to
#: float32 on its own, so raw uint8 data never needs a full float32 copy
#: (2,048 CIFAR images are 25 MB as float32).
EVAL_CHUNK = 2048

#: `batch_size` passed to `model.predict`: the Keras default is 32, which
#: is slow on a CPU for small CNNs; 256 keeps activations of the seed's models
#: well under 1 GB.
PREDICT_BATCH_SIZE = 256

#: Keras 3's `backend.epsilon()`: probabilities are clipped to
#: [EPSILON, 1 - EPSILON] before the log in the cross-entropies.
EPSILON = 1e-7

#: Layers that change neither the values' meaning nor the last activation:
#: walking back from the output past these finds the activation that matters.
PASSTHROUGH_LAYERS = {
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
    "GaussianDropout", "GaussianNoise", "ActivityRegularization", "Identity", "Flatten", "Reshape",
    "InputLayer",
}

#: Layers that return their input tensor unchanged at inference, so a softmax
#: output's cached logits survive them.
INFERENCE_IDENTITY_LAYERS = {
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout",
    "GaussianNoise", "Identity", "ActivityRegularization",
}

#: Layers with trainable weights that end the "input normalization" prefix of a model.
COMPUTE_LAYERS = re.compile(r"^(Conv\d?D|Conv\dDTranspose|DepthwiseConv\dD|SeparableConv\dD|Dense|EinsumDense|"
                            r"Embedding|LSTM|GRU|SimpleRNN|MultiHeadAttention|Bidirectional|ConvLSTM\dD)$")

#: Functional-API operations on the input that act as an affine rescaling,
#: when their other argument is a scalar: name -> (scale(c), offset(c)).
AFFINE_OPS: dict[str, Callable[[float], tuple[float, float]]] = {
    "TrueDivide": lambda c: (1.0 / c, 0.0),
    "Divide": lambda c: (1.0 / c, 0.0),
    "Multiply": lambda c: (c, 0.0),
    "Subtract": lambda c: (1.0, -c),
    "Add": lambda c: (1.0, c),
}


def _quiet_keras():
    """Import Keras without TensorFlow's start-up chatter (`cifar_doctor.tfenv`)."""
    from ..tfenv import import_keras

    return import_keras()


# --- loading ------------------------------------------------------------------------------

def load_model(path: str | os.PathLike) -> tuple[Any, ModelInfo]:
    """Load a `.keras` model file safely and read its facts.

    Args:
        path: A `.keras` file written by `model.save("model.keras")`.

    Returns:
        `(keras_model, ModelInfo)`.

    Raises:
        InputError: The file is missing, not a `.keras` archive (a text file, a
            truncated download, a legacy `.h5`, a SavedModel folder), holds a
            `Lambda` layer, or needs custom objects that are not importable.
    """
    p = Path(path)
    config = read_model_config(p)
    keras = _quiet_keras()
    try:
        with warnings.catch_warnings():
            # Optimizer-state mismatches are irrelevant for diagnosis.
            warnings.filterwarnings("ignore", message=r".*[Ss]kipping variable loading for optimizer.*")
            model = keras.saving.load_model(str(p), safe_mode=True)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - every refusal becomes one line
        raise _load_error(p, exc, config) from None
    if not hasattr(model, "layers"):
        raise InputError(
            f"Cannot use {p} ({{arg}})",
            expected="a Keras model saved with model.save('model.keras')",
            received=f"a saved {type(model).__name__}", param="model",
        )
    return model, model_info(model)


def read_model_config(path: str | os.PathLike) -> dict[str, Any]:
    """Check a `.keras` file without Keras and return its config: what `load_model` does first.

    The file, the archive's member names and declared sizes and the config are
    checked from their bytes; nothing is imported from Keras and nothing runs.

    Args:
        path: A `.keras` file.

    Returns:
        The parsed `config.json`.

    Raises:
        InputError: The file is missing or unreadable, not a `.keras` archive,
            holds unsafe or oversized members, no weights, or a `Lambda` layer.
    """
    p = Path(path)
    _precheck(p)
    config = _read_config(p)
    if _lambda_layers(config):  # refused from the config alone: safe_mode would refuse it too
        raise _load_error(p, ValueError("Lambda"), config)
    if _registered_custom_objects(config):  # `package>Name`: user code this process never imports
        raise _load_error(p, ValueError("Could not locate class"), config)
    return config


def _registered_custom_objects(config: dict[str, Any]) -> list[str]:
    """Objects saved with `keras.saving.register_keras_serializable(package=...)` (`registered_name`
    `package>Name`), outside Keras' own packages: Keras can only load them after the user's code has
    registered them, which cifar-doctor never imports, so they are refused before Keras is imported."""
    out = []
    for o in _walk_config(config):
        name = o.get("registered_name")
        if isinstance(name, str) and ">" in name and not name.startswith(("keras>", "keras.")) and name not in out:
            out.append(name)
    return out


def _precheck(p: Path) -> None:
    """Refuse, from the bytes alone, what `load_model` must not or cannot open."""
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(
            f"Cannot read {p} ({{arg}}): no such file",
            expected="a .keras file written by model.save('model.keras')",
            hint="Check the path", param="model",
        ) from None
    except OSError as exc:  # a symbolic link loop, a folder on the way that cannot be searched
        raise InputError(f"Cannot read {p} ({{arg}}): {exc.strerror or exc}", expected="a .keras file",
                         hint="Check the path and its permissions", param="model") from None
    if stat.S_ISDIR(st.st_mode):
        if (p / "saved_model.pb").exists():
            raise InputError(
                f"Cannot read {p} ({{arg}}): it is a TensorFlow SavedModel folder",
                expected="a .keras file",
                hint="Re-save it from Keras with model.save('model.keras'); SavedModels hold no Keras loss or "
                     "layer configuration to check", param="model",
            )
        raise InputError(f"Cannot read {p} ({{arg}}): it is a folder", expected="a .keras file",
                         hint="Pass the .keras file written by model.save('model.keras')", param="model")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"Cannot read {p} ({{arg}}): not a regular file (a pipe, a device or a socket)",
                         expected="a .keras file", hint="Save the model to a file and pass its path", param="model")
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"Cannot read {p} ({{arg}}): {exc.strerror or exc}", expected="a readable .keras file",
                         hint="Check the file's permissions", param="model") from None
    if head == HDF5_MAGIC or p.suffix.lower() in (".h5", ".hdf5"):
        raise InputError(
            f"Cannot read {p} ({{arg}}): legacy HDF5 (.h5) model files are not supported",
            expected="a Keras 3 .keras file (safe_mode loading is guaranteed only for that format)",
            hint="In the environment that wrote it, run keras.models.load_model('model.h5').save('model.keras') "
                 "and pass the .keras file", param="model",
        )
    if not zipfile.is_zipfile(p):
        size = p.stat().st_size
        what = "an empty file" if size == 0 else f"{size} bytes that are not a zip archive"
        raise InputError(
            f"Cannot read {p} ({{arg}}): not a .keras file",
            expected="a .keras zip archive written by model.save('model.keras')",
            received=f"{what} (a text file, or a truncated or partial download)",
            hint="Save the model again with model.save('model.keras')", param="model",
        )
    if p.suffix.lower() != ".keras":
        raise InputError(
            f"Cannot read {p} ({{arg}}): the name does not end in .keras",
            expected="a file named *.keras (Keras refuses other names)",
            hint="Copy it to a name ending in .keras and pass that", param="model",
        )


def _read_config(p: Path) -> dict[str, Any]:
    """The archive's `config.json` (plain JSON: reading it runs nothing), once every member is checked.

    Keras reads the weights member into memory whole and may extract the archive,
    so the names and declared sizes of all members are checked first (`_check_members`).
    """
    damaged = f"Cannot read {p} ({{arg}}): the archive is damaged"
    try:
        with archives.open_zip(p) as zf:
            _check_members(p, zf)
            names = zf.namelist()
            if "config.json" not in names:
                npy = [n for n in names if n.endswith(".npy")]
                hint = ("It looks like a NumPy .npz archive: pass it as data, not as a model"
                        if npy else "Save the model again with model.save('model.keras')")
                raise InputError(
                    f"Cannot read {p} ({{arg}}): the zip archive holds no Keras model",
                    expected="a .keras archive with config.json and model.weights.h5",
                    received=", ".join(names[:5]) + (" ..." if len(names) > 5 else "") if names else "an empty archive",
                    hint=hint, param="model",
                )
            if not any(n in names for n in WEIGHTS_MEMBERS):
                raise InputError(
                    f"Cannot read {p} ({{arg}}): the archive holds no weights",
                    expected=f"a .keras archive with config.json and {' or '.join(WEIGHTS_MEMBERS)}",
                    received=", ".join(names[:5]) + (" ..." if len(names) > 5 else ""),
                    hint="Save the model again with model.save('model.keras')", param="model",
                )
            config = json.loads(zf.read("config.json").decode("utf-8"))
    except InputError:
        raise
    except archives.ArchiveError as exc:
        raise InputError(damaged, expected="a .keras file written by model.save('model.keras')", received=str(exc),
                         hint="Save the model again with model.save('model.keras'), or re-copy the file",
                         param="model") from None
    except RecursionError:
        raise InputError(f"Cannot read {p} ({{arg}}): its config.json nests too deeply to be a Keras config",
                         expected="a .keras file written by model.save('model.keras')",
                         hint="Save the model again with model.save('model.keras')", param="model") from None
    except (*archives.ZIP_READ_ERRORS, UnicodeDecodeError) as exc:
        raise InputError(
            damaged,
            expected="a complete .keras file",
            received=f"{type(exc).__name__}: {str(exc)[:200]}",
            hint="Save the model again with model.save('model.keras'), or re-copy the file", param="model",
        ) from None
    if not isinstance(config, dict):
        raise InputError(f"Cannot read {p} ({{arg}}): its config.json does not describe a Keras model",
                         expected="a JSON object with class_name and config",
                         received=f"a JSON {type(config).__name__}",
                         hint="Save the model again with model.save('model.keras')", param="model")
    return config


def _check_members(p: Path, zf: zipfile.ZipFile) -> None:
    """Refuse unsafe names, links and declared sizes before Keras reads or extracts any member."""
    archive_size = p.stat().st_size
    total = 0
    for info in zf.infolist():
        name = info.filename
        if archives.unsafe_name(name) or archives.is_zip_link(info):
            what = "a symbolic link" if archives.is_zip_link(info) else "a member with an unsafe path"
            raise InputError(
                f"Refusing to load {p} ({{arg}}): the archive holds {what}",
                expected="a .keras file written by model.save('model.keras') (config.json, model.weights.h5, "
                         "metadata.json and assets/)",
                received=repr(name[:200]),
                hint="Do not extract it; save the model again with model.save('model.keras')", param="model",
            )
        problem = archives.zip_member_problem(info, archive_size)
        if problem is not None:
            raise archives.ArchiveError(f"{name[:200]} {problem}")
        limit = MAX_CONFIG_BYTES if name == "config.json" else MAX_MODEL_BYTES
        total += info.file_size
        if info.file_size > limit or total > MAX_MODEL_BYTES:
            raise InputError(
                f"Refusing to load {p} ({{arg}}): its {name[:200]} declares {archives.size_text(info.file_size)}",
                expected=f"at most {archives.size_text(limit)}" + (
                    " of config" if limit == MAX_CONFIG_BYTES else " in all (a ResNet-50 is 98 MB)"),
                hint="A size this large is corrupt or forged; save the model again with model.save('model.keras')",
                param="model",
            )


def _walk_config(obj: Any):
    """Every serialized object (a dict with `class_name`) in a Keras config, depth first, without recursion."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            if "class_name" in o:
                yield o
            stack.extend(reversed(list(o.values())))
        elif isinstance(o, list):
            stack.extend(reversed(o))


def _lambda_layers(config: dict[str, Any]) -> list[str]:
    out = []
    for o in _walk_config(config):
        if o.get("class_name") == "Lambda":
            name = o["config"].get("name") if isinstance(o.get("config"), dict) else None
            out.append(name[:100] if isinstance(name, str) else "lambda")
    return out


def _custom_objects(config: dict[str, Any]) -> list[str]:
    """Names of objects that are not Keras built-ins (custom layers, losses, functions)."""
    out = []
    for o in _walk_config(config):
        module = o.get("module") if isinstance(o.get("module"), str) else None
        name = o.get("registered_name") or o.get("class_name")
        if o.get("class_name") in ("__lambda__", "function", "__tensor__", "__numpy__", "__bytes__"):
            continue
        if module is None or not (str(module) == "keras" or str(module).startswith(("keras.", "builtins"))):
            if isinstance(name, str) and name not in out:
                out.append(name)
    return out


def _load_error(p: Path, exc: Exception, config: dict[str, Any]) -> InputError:
    msg = str(exc)
    lambdas = _lambda_layers(config)
    if lambdas or "Lambda" in msg:
        names = ", ".join(lambdas) or "a Lambda layer"
        return InputError(
            f"Refusing to load {p} ({{arg}}): it contains a Lambda layer ({names}), whose Python code "
            "safe_mode will not run; cifar-doctor never executes code from a model file",
            hint="Replace the Lambda with a built-in layer (layers.Rescaling(1./255) for x / 255, "
                 "layers.Normalization for mean/std) and save again, or check the data without the model", param="model",
        )
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    custom = _custom_objects(config)
    if custom or "Could not locate" in msg or "could not be deserialized" in msg:
        located = re.search(r"Could not locate (?:class|function) '([^']+)'", msg)
        names = custom or ([located.group(1)] if located else [])
        return InputError(
            f"Cannot load {p} ({{arg}}): it needs custom objects that are not Keras built-ins "
            f"({', '.join(names) or 'unknown'})",
            expected="a model made of built-in Keras layers, losses and activations",
            hint="cifar-doctor does not import your code; rebuild the model from built-in layers, or check "
                 "the data and log without the model", param="model",
        )
    return InputError(
        f"Cannot load {p} ({{arg}})",
        expected="a .keras file that this Keras can read",
        received=f"{type(exc).__name__}: {first[:300]}",
        hint="Save it again with model.save('model.keras') using Keras 3", param="model",
    )


# --- facts --------------------------------------------------------------------------------

def _activation_name(fn: Any) -> str | None:
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return _snake(name)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _output_op(model: Any) -> Any:
    """The operation (layer or functional op) that produces the model's single output."""
    outputs = getattr(model, "outputs", None)
    try:
        if outputs and len(outputs) == 1:
            return outputs[0]._keras_history[0]
    except (AttributeError, IndexError, TypeError):
        pass
    layers = getattr(model, "layers", None)
    return layers[-1] if layers else None


def _input_of(op: Any) -> Any:
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
    op = _output_op(model)
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
            name = _activation_name(getattr(op, "activation", None))
            if name != "linear":
                return name
        elif cls in ("ReLU", "LeakyReLU", "ELU", "PReLU"):
            return _snake(cls) if cls != "ReLU" else "relu"
        elif cls in PASSTHROUGH_LAYERS:
            pass
        elif hasattr(op, "activation"):
            return _activation_name(op.activation)
        else:
            return None
        prev = _input_of(op)
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


def _fmt(v: float) -> str:
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
                text = f"Rescaling(scale={_fmt(scale)}, offset={_fmt(offset)})"
            else:
                text = (f"Rescaling(scale={np.asarray(scale).round(6).tolist()}, "
                        f"offset={np.asarray(offset).round(6).tolist()})")
            out.append((text, Affine(cls, _floats(scale), _floats(offset))))
        elif cls == "Normalization":
            try:
                mean = np.asarray(_numpy(getattr(op, "mean", None)), dtype=np.float64).reshape(-1)
                var = np.asarray(_numpy(getattr(op, "variance", None)), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                out.append(("Normalization(not adapted)", None))
                continue
            text = f"Normalization(mean={mean.round(6).tolist()}, variance={var.round(6).tolist()})"
            if not (np.isfinite(mean).all() and np.isfinite(var).all()):
                out.append((text, None))
                continue
            std = np.maximum(np.sqrt(var), EPSILON)  # as Keras divides: by max(sqrt(variance), epsilon)
            out.append((text, Affine(cls, _floats(1.0 / std), _floats(-mean / std))))
        else:
            affine = _affine_of_op(op)
            if affine is not None:
                out.append((f"{cls}(scale={_fmt(affine[0])}, offset={_fmt(affine[1])})",
                            Affine(cls, affine[0], affine[1])))
    return out


def _numpy(value: Any) -> Any:
    """A plain value as it is; a backend tensor or variable (TensorFlow, JAX or PyTorch, on any device) as NumPy.

    `np.asarray` fails on a PyTorch tensor on a GPU or one that requires grad;
    `keras.ops.convert_to_numpy` copies any backend's tensor to the host.
    """
    if value is None or isinstance(value, (int, float, list, tuple, np.ndarray, np.generic)):
        return value
    try:
        return _quiet_keras().ops.convert_to_numpy(value)
    except Exception:  # noqa: BLE001 - not a tensor of this backend: as NumPy reads it
        return np.asarray(value)


def _floats(v: Any) -> float | tuple[float, ...]:
    """A float, or a tuple of floats for a per-channel value."""
    arr = np.asarray(v, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else tuple(float(x) for x in arr.reshape(-1))


def compiled_loss(model: Any) -> tuple[str | None, bool | None]:
    """Canonical name and `from_logits` of the loss the model was compiled with."""
    from .losses import PROBABILITY_LOSSES, canonical_loss_name, describe_loss

    loss = getattr(model, "loss", None)
    if isinstance(loss, (list, tuple)) and len(loss) == 1:
        loss = loss[0]
    if isinstance(loss, dict) and len(loss) == 1:
        loss = next(iter(loss.values()))
    if loss is None or isinstance(loss, (list, tuple, dict)):
        return None, None
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
        return _activation_name(op.activation)
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
        value = float(_numpy(opt.learning_rate))
        lr = float(f"{value:.6g}") if np.isfinite(value) else None  # float32 0.001 reads 0.0010000000474974513
    except Exception:  # noqa: BLE001 - a schedule or backend object that cannot be read: unknown
        lr = None
    return type(opt).__name__, lr


# --- evaluation ---------------------------------------------------------------------------

def _softmax_logits_model(model: Any) -> tuple[Any, Callable[[np.ndarray], np.ndarray]] | None:
    """A sub-model returning the logits under a final softmax/sigmoid, and how to finish them.

    Keras 3 on TensorFlow keeps the logits of a softmax/sigmoid output
    (`_keras_logits`) and computes any cross-entropy from them, unclipped,
    whatever `from_logits` says (a sigmoid output with categorical
    cross-entropy is scored as a softmax over the same logits). To report the loss `model.evaluate` reports,
    the evaluator needs those logits too.
    """
    keras = _quiet_keras()
    if keras.backend.backend() != "tensorflow":
        return None
    op = _output_op(model)
    if op is None or not getattr(model, "inputs", None):
        return None
    # layers that return their input tensor itself at inference keep `_keras_logits`
    while type(op).__name__ in INFERENCE_IDENTITY_LAYERS:
        op = _input_of(op)
        if op is None:
            return None
    cls = type(op).__name__
    strategy = getattr(model, "distribute_strategy", None)
    # built under the model's strategy, the sub-model's predict runs on the same replicas
    scope = strategy.scope() if hasattr(strategy, "scope") else contextlib.nullcontext()
    try:
        with scope:
            if cls in ("Softmax", "Sigmoid") or (cls == "Activation" and _activation_name(op.activation) in
                                                  ("softmax", "sigmoid")):
                if cls == "Softmax" and getattr(op, "axis", -1) not in (-1, None):
                    return None
                sub = keras.Model(model.inputs, op.input)
                return sub, lambda h: h
            if cls == "Dense" and _activation_name(op.activation) in ("softmax", "sigmoid"):
                sub = keras.Model(model.inputs, op.input)

                def dense(h: np.ndarray) -> np.ndarray:
                    # the weights as they are now: an evaluator made before `fit` is used after it
                    kernel = np.asarray(_numpy(op.kernel), dtype=np.float32)
                    bias = np.asarray(_numpy(op.bias), dtype=np.float32) if op.use_bias else np.float32(0)
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


def _labels_index(y: np.ndarray, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    idx = y.reshape(-1)
    if k == 1:
        return (idx >= 0.5).astype(np.int64)
    return idx.astype(np.int64)


def make_evaluator(model: Any, *, loss: str | None = None, from_logits: bool | None = None
                   ) -> Callable[[Any, Any], dict[str, float]]:
    """A quiet `evaluate(x, y) -> {"loss", "accuracy"}` for counterfactual measurements.

    Predictions come from `model.predict(..., verbose=0)` in chunks (each cast to
    float32 on its own); the loss is computed in NumPy like the model's
    compiled loss (categorical, sparse categorical or binary cross-entropy),
    accuracy by arg-max (a 0.5 threshold for one sigmoid unit). Labels may be
    integers or one-hot.

    As Keras 3 does on TensorFlow, a softmax or sigmoid output's cross-entropy
    is computed from the logits under it when they can be reached (a final
    `Dense(..., activation="softmax")`, `Softmax` or `Activation` layer), so the
    loss matches `model.evaluate`; otherwise from the probabilities, clipped
    to [1e-7, 1 - 1e-7] as Keras does.

    Args:
        model: A Keras model.
        loss: Loss to compute instead of the compiled one. Defaults to `None`.
        from_logits: Whether the model outputs logits, instead of the compiled
            loss's setting. Defaults to `None`.

    Returns:
        `evaluate(x, y)`; its attributes `loss_name`, `from_logits` and `source`
        say what is computed.
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
    source = "logits" if (logits_path is not None or fl) else "probabilities"

    def predict(x: np.ndarray) -> np.ndarray:
        net = logits_path[0] if logits_path else model
        parts = []
        for start in range(0, len(x), EVAL_CHUNK):
            chunk = np.asarray(x[start:start + EVAL_CHUNK])
            if chunk.dtype != np.float32:
                chunk = chunk.astype(np.float32)
            out = np.asarray(net.predict(chunk, batch_size=PREDICT_BATCH_SIZE, verbose=0))
            if logits_path:
                out = logits_path[1](out)
            parts.append(out)
        return np.concatenate(parts) if parts else np.zeros((0, info.output_units or 1), np.float32)

    def evaluate(x: Any, y: Any) -> dict[str, float]:
        from ..lazy import is_lazy

        x = x if is_lazy(x) else np.asarray(x)  # images computed on demand are predicted chunk by chunk
        y = np.asarray(y)
        if len(x) != len(y):
            raise InputError("Cannot evaluate the model", expected="as many labels as images",
                             received=f"{len(x)} images and {len(y)} labels")
        if len(x) == 0:
            raise InputError("Cannot evaluate the model", expected="at least one image", received="none")
        out = predict(x)
        if out.ndim != 2:
            out = out.reshape(len(out), -1)
        per = cross_entropy(out, y, loss=name, from_logits=bool(fl or logits_path), label_smoothing=smoothing)
        k = out.shape[-1]
        if logits_path:
            # accuracy from the outputs as the model emits them (float32 ties included)
            out = _activate(out, act)
        if k == 1:
            thresh = 0.0 if (fl and not logits_path) else 0.5
            pred = (out[:, 0] > thresh).astype(np.int64)
        else:
            pred = out.argmax(axis=-1)
        acc = float(np.mean(pred == _labels_index(y, k)))
        return {"loss": float(np.mean(per)), "accuracy": acc}

    evaluate.loss_name = name  # type: ignore[attr-defined]
    evaluate.from_logits = bool(fl)  # type: ignore[attr-defined]
    evaluate.source = source  # type: ignore[attr-defined]
    return evaluate
