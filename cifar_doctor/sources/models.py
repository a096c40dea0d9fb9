"""Keras model files, loaded safely; the facts and the evaluator live in `model_facts` and `evaluator`.

Keras (and so TensorFlow) is imported only inside the functions here, so the
data-only and log-only paths never pay for it. A model file never executes
code: it is loaded with `keras.saving.load_model(path, safe_mode=True)`, and
every refusal becomes one `InputError` line (what was received, what was
expected, how to fix it). Nothing is ever written next to the user's file.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings
import zipfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import ModelInfo
from . import archives
from .evaluator import Evaluator, count_correct, cross_entropy, make_evaluator
from .model_facts import model_info, quiet_keras
from .regular import open_regular

__all__ = [
    "Evaluator",
    "count_correct",
    "cross_entropy",
    "load_model",
    "make_evaluator",
    "model_info",
    "read_model_config",
]

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
#: Most layers in a model config, nested models included. The largest Keras Applications
#: models (ConvNeXtXLarge, EfficientNetV2L) have about 1,100; Keras builds every layer
#: object, so a config listing hundreds of thousands would take gigabytes and minutes.
MAX_LAYERS = 10_000

#: Most serialized objects (`"class_name"` keys: layers, initializers, dtype policies ...) in
#: config.json, counted in its bytes before it is parsed. A layer serializes up to ~10.
MAX_CONFIG_OBJECTS = 20 * MAX_LAYERS

#: Deepest nesting of JSON lists and objects in a config. A layer's config is ~6 levels
#: deep and each nested model adds ~4; Keras deserializes the levels recursively.
MAX_CONFIG_DEPTH = 100

WEIGHTS_MEMBERS = ("model.weights.h5", "model.weights.npz")

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
    keras = quiet_keras()
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
            received=f"a saved {type(model).__name__}",
            param="model",
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
            hint="Check the path",
            param="model",
        ) from None
    except OSError as exc:  # a symbolic link loop, a folder on the way that cannot be searched
        raise InputError(
            f"Cannot read {p} ({{arg}}): {exc.strerror or exc}",
            expected="a .keras file",
            hint="Check the path and its permissions",
            param="model",
        ) from None
    if stat.S_ISDIR(st.st_mode):
        if (p / "saved_model.pb").exists():
            raise InputError(
                f"Cannot read {p} ({{arg}}): it is a TensorFlow SavedModel folder",
                expected="a .keras file",
                hint="Re-save it from Keras with model.save('model.keras'); SavedModels hold no Keras loss or "
                "layer configuration to check",
                param="model",
            )
        raise InputError(
            f"Cannot read {p} ({{arg}}): it is a folder",
            expected="a .keras file",
            hint="Pass the .keras file written by model.save('model.keras')",
            param="model",
        )
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"Cannot read {p} ({{arg}}): not a regular file (a pipe, a device or a socket)",
            expected="a .keras file",
            hint="Save the model to a file and pass its path",
            param="model",
        )
    try:
        with open_regular(p) as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(
            f"Cannot read {p} ({{arg}}): {exc.strerror or exc}",
            expected="a readable .keras file",
            hint="Check the file's permissions",
            param="model",
        ) from None
    if head == HDF5_MAGIC or p.suffix.lower() in (".h5", ".hdf5"):
        raise InputError(
            f"Cannot read {p} ({{arg}}): legacy HDF5 (.h5) model files are not supported",
            expected="a Keras 3 .keras file (safe_mode loading is guaranteed only for that format)",
            hint="In the environment that wrote it, run keras.models.load_model('model.h5').save('model.keras') "
            "and pass the .keras file",
            param="model",
        )
    if not zipfile.is_zipfile(p):
        size = p.stat().st_size
        what = "an empty file" if size == 0 else f"{size} bytes that are not a zip archive"
        raise InputError(
            f"Cannot read {p} ({{arg}}): not a .keras file",
            expected="a .keras zip archive written by model.save('model.keras')",
            received=f"{what} (a text file, or a truncated or partial download)",
            hint="Save the model again with model.save('model.keras')",
            param="model",
        )
    if p.suffix.lower() != ".keras":
        raise InputError(
            f"Cannot read {p} ({{arg}}): the name does not end in .keras",
            expected="a file named *.keras (Keras refuses other names)",
            hint="Copy it to a name ending in .keras and pass that",
            param="model",
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
                hint = (
                    "It looks like a NumPy .npz archive: pass it as data, not as a model"
                    if npy
                    else "Save the model again with model.save('model.keras')"
                )
                raise InputError(
                    f"Cannot read {p} ({{arg}}): the zip archive holds no Keras model",
                    expected="a .keras archive with config.json and model.weights.h5",
                    received=", ".join(names[:5]) + (" ..." if len(names) > 5 else "") if names else "an empty archive",
                    hint=hint,
                    param="model",
                )
            if not any(n in names for n in WEIGHTS_MEMBERS):
                raise InputError(
                    f"Cannot read {p} ({{arg}}): the archive holds no weights",
                    expected=f"a .keras archive with config.json and {' or '.join(WEIGHTS_MEMBERS)}",
                    received=", ".join(names[:5]) + (" ..." if len(names) > 5 else ""),
                    hint="Save the model again with model.save('model.keras')",
                    param="model",
                )
            raw = zf.read("config.json")
            _check_config_size(p, raw)
            config = json.loads(raw.decode("utf-8"))
    except InputError:
        raise
    except archives.ArchiveError as exc:
        raise InputError(
            damaged,
            expected="a .keras file written by model.save('model.keras')",
            received=str(exc),
            hint="Save the model again with model.save('model.keras'), or re-copy the file",
            param="model",
        ) from None
    except RecursionError:
        raise InputError(
            f"Cannot read {p} ({{arg}}): its config.json nests too deeply to be a Keras config",
            expected="a .keras file written by model.save('model.keras')",
            hint="Save the model again with model.save('model.keras')",
            param="model",
        ) from None
    except archives.ZIP_READ_ERRORS + (UnicodeDecodeError,) as exc:
        raise InputError(
            damaged,
            expected="a complete .keras file",
            received=f"{type(exc).__name__}: {str(exc)[:200]}",
            hint="Save the model again with model.save('model.keras'), or re-copy the file",
            param="model",
        ) from None
    if isinstance(config, dict):
        _check_config_shape(p, config)
    if not isinstance(config, dict):
        raise InputError(
            f"Cannot read {p} ({{arg}}): its config.json does not describe a Keras model",
            expected="a JSON object with class_name and config",
            received=f"a JSON {type(config).__name__}",
            hint="Save the model again with model.save('model.keras')",
            param="model",
        )
    return config


def _too_large(p: Path, what: str, limit: str) -> InputError:
    return InputError(
        f"Refusing to load {p} ({{arg}}): its config.json {what}",
        expected=f"a Keras model config with {limit} (the largest Keras Applications model has about 1,100 layers)",
        hint="A config this large is corrupt or forged; save the model again with model.save('model.keras')",
        param="model",
    )


def _check_config_size(p: Path, raw: bytes) -> None:
    """Refuse, from the bytes of config.json (one pass in C), more serialized objects than a model holds."""
    objects = raw.count(b'"class_name"')
    if objects > MAX_CONFIG_OBJECTS:
        raise _too_large(p, f"lists {objects:,} serialized objects", f"at most {MAX_CONFIG_OBJECTS:,} objects")


def _check_config_shape(p: Path, config: dict[str, Any]) -> None:
    """Refuse, before Keras builds anything, more layers or deeper nesting than a model holds."""
    layers = 0
    stack: list[tuple[Any, int]] = [(config, 0)]
    while stack:
        o, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise _too_large(p, f"nests deeper than {MAX_CONFIG_DEPTH} levels", f"at most {MAX_CONFIG_DEPTH} levels")
        if isinstance(o, dict):
            found = o.get("layers")
            if isinstance(found, list):
                layers += len(found)
                if layers > MAX_LAYERS:
                    raise _too_large(p, f"lists more than {MAX_LAYERS:,} layers", f"at most {MAX_LAYERS:,} layers")
            stack.extend((v, depth + 1) for v in o.values() if isinstance(v, (dict, list)))
        elif isinstance(o, list):
            stack.extend((v, depth + 1) for v in o if isinstance(v, (dict, list)))


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
                hint="Do not extract it; save the model again with model.save('model.keras')",
                param="model",
            )
        problem = archives.zip_member_problem(info, archive_size)
        if problem is not None:
            raise archives.ArchiveError(f"{name[:200]} {problem}")
        limit = MAX_CONFIG_BYTES if name == "config.json" else MAX_MODEL_BYTES
        total += info.file_size
        if info.file_size > limit or total > MAX_MODEL_BYTES:
            raise InputError(
                f"Refusing to load {p} ({{arg}}): its {name[:200]} declares {archives.size_text(info.file_size)}",
                expected=f"at most {archives.size_text(limit)}"
                + (" of config" if limit == MAX_CONFIG_BYTES else " in all (a ResNet-50 is 98 MB)"),
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
            "layers.Normalization for mean/std) and save again, or check the data without the model",
            param="model",
        )
    first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
    custom = _custom_objects(config)
    if custom or "Could not locate" in msg or "could not be deserialized" in msg:
        located = re.search(r"Could not locate (?:class|function) '([^']+)'", msg)
        needed = custom or ([located.group(1)] if located else [])
        return InputError(
            f"Cannot load {p} ({{arg}}): it needs custom objects that are not Keras built-ins "
            f"({', '.join(needed) or 'unknown'})",
            expected="a model made of built-in Keras layers, losses and activations",
            hint="cifar-doctor does not import your code; rebuild the model from built-in layers, or check "
            "the data and log without the model",
            param="model",
        )
    return InputError(
        f"Cannot load {p} ({{arg}})",
        expected="a .keras file that this Keras can read",
        received=f"{type(exc).__name__}: {first[:300]}",
        hint="Save it again with model.save('model.keras') using Keras 3",
        param="model",
    )
