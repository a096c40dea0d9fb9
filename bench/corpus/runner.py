"""One corpus run: real Keras training of a `RunSpec`, its console captured, written atomically.

`run_spec(spec, runs_dir)` builds the arrays (`data.build`), the model (`models.build_model`), calls
`model.fit(..., verbose=2)` with a `Recorder` callback (per-epoch logs and times, per-step logs),
then `model.evaluate(x_test, y_test, verbose=2)` and prints the result as a user would; Keras' stdout
is captured as `console-v2.txt`. A `verbose1` spec is trained a second time, identically seeded,
with verbose=1 under a pseudo-terminal (`\\r\\n` line ends, `\\b`/`\\r` redraws and ANSI colours,
as a terminal recording has them): `console-v1.txt`.

Everything goes to `runs/.tmp-<run_id>-<pid>/` first and is renamed to `runs/<run_id>/` when
complete, so a folder `runs/<run_id>/` with `result.json` is a finished run.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import data as datamod
from .spec import RunSpec

#: Optimizer steps recorded per epoch at most (every k-th step, and always the last): enough to see
#: a loss curve inside an epoch without storing thousands of points for batch-1 runs.
STEPS_RECORDED_PER_EPOCH = 200

#: model.keras files larger than this are not kept: the corpus is about logs and data; a 2 MB cap
#: keeps every small model (the largest grid models are a few hundred kB).
MAX_MODEL_BYTES = 2 << 20

#: How the user prints the evaluate() result (picked per run by its seed): the Keras examples'
#: two lines, the list Keras returns, and `loss:`/`accuracy:` lines.
PRINT_STYLES = ("test-lines", "list", "plain-lines")

RESULT = "result.json"
CONSOLE_V2 = "console-v2.txt"
CONSOLE_V1 = "console-v1.txt"
MODEL = "model.keras"


def configure_threads() -> None:
    """One thread per job (set before TensorFlow is imported): jobs share few cores."""
    for k in ("TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ[k] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        import keras

        return float(keras.ops.convert_to_numpy(v))


def make_recorder() -> Any:
    import keras

    class Recorder(keras.callbacks.Callback):
        """Per-epoch logs, key order and seconds; per-step logs (every k-th step of each epoch)."""

        def __init__(self) -> None:
            super().__init__()
            self.epochs: list[dict[str, float]] = []
            self.order: list[str] = []
            self.epoch_seconds: list[float] = []
            self.steps: dict[str, list[float]] = {"epoch": [], "step": []}
            self._t = 0.0
            self._stride = 1

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t = time.perf_counter()
            steps = self.params.get("steps") or 0
            self._stride = max(1, math.ceil(steps / STEPS_RECORDED_PER_EPOCH)) if steps else 1

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            steps = self.params.get("steps") or 0
            if (batch + 1) % self._stride and batch + 1 != steps:
                return
            self.steps["epoch"].append(len(self.epochs) + 1)
            self.steps["step"].append(batch + 1)
            for k, v in (logs or {}).items():
                self.steps.setdefault(k, []).append(_float(v))

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epoch_seconds.append(time.perf_counter() - self._t)
            logs = {k: _float(v) for k, v in (logs or {}).items()}
            for k in logs:
                if k not in self.order:
                    self.order.append(k)
            self.epochs.append(logs)

    return Recorder()


@contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    """Python's sys.stdout into a buffer (Keras' progress and the user's prints go there)."""
    buf, old = io.StringIO(), sys.stdout
    sys.stdout = buf
    try:
        yield buf
    finally:
        sys.stdout = old


@contextmanager
def pty_stdout(sink: bytearray) -> Iterator[None]:
    """sys.stdout on the slave side of a pseudo-terminal; what the terminal shows goes to `sink`."""
    master, slave = os.openpty()
    writer = io.TextIOWrapper(
        io.FileIO(slave, "w", closefd=False), encoding="utf-8", line_buffering=True, write_through=True
    )

    def pump() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            sink.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    old = sys.stdout
    sys.stdout = writer
    try:
        yield
    finally:
        sys.stdout = old
        writer.flush()
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)


def print_style(spec: RunSpec) -> str:
    return PRINT_STYLES[spec.seed % len(PRINT_STYLES)]


def print_evaluation(style: str, names: list[str], values: list[float]) -> str:
    """What the user's script prints after evaluate(): the text (also printed by the shape writers)."""
    if style == "list":
        return f"test loss, test acc: {values!r}\n"
    if style == "plain-lines":
        return "".join(f"{n}:  {v!r} \n" for n, v in zip(names, values))
    return (
        f"Test loss: {values[0]!r}\nTest accuracy: {values[1]!r}\n"
        if len(values) > 1
        else f"Test loss: {values[0]!r}\n"
    )


def _train(spec: RunSpec, arrays: dict[str, Any], verbose: int, base: Any) -> tuple[Any, Any, dict, float, float]:
    """Build, compile, fit and evaluate once; returns (model, recorder, eval dict, fit s, eval s)."""
    import keras

    from . import models

    keras.utils.set_random_seed(spec.seed)
    model = models.build_model(spec.model, datamod.input_shape(spec.data), datamod.is_image(spec.data), base)
    model.compile(
        optimizer=models.optimizer(spec.train), loss=models.loss(spec.train), metrics=models.metrics(spec.train)
    )
    rec = make_recorder()
    kw: dict[str, Any] = {
        "batch_size": spec.train.batch,
        "epochs": spec.train.epochs,
        "verbose": verbose,
        "shuffle": True,
        "callbacks": [rec],
    }
    val = spec.train.validation
    if val == "eval":
        kw["validation_data"] = (arrays["x_test"], arrays["y_test"])
    elif val == "holdout":
        kw["validation_data"] = (arrays["x_val"], arrays["y_val"])
    elif val.startswith("split:"):
        kw["validation_split"] = float(val.split(":", 1)[1])
    t0 = time.perf_counter()
    model.fit(arrays["x_train"], arrays["y_train"], **kw)
    t1 = time.perf_counter()
    result = model.evaluate(arrays["x_test"], arrays["y_test"], verbose=verbose, return_dict=True)
    t2 = time.perf_counter()
    names = ["loss"] + [k for k in result if k != "loss"]
    values = [_float(result[k]) for k in names]
    print(print_evaluation(print_style(spec), names, values), end="")
    sys.stdout.flush()
    return model, rec, {"names": names, "values": values}, t1 - t0, t2 - t1


def _steps(n: int, batch: int) -> int:
    return max(1, math.ceil(n / batch))


def run_spec(spec: RunSpec, runs_dir: Path) -> dict[str, Any]:
    """Train `spec` and write `runs_dir/<run_id>/` (result.json, console-v2.txt[, console-v1.txt,
    model.keras]). Returns the result."""
    import keras

    from . import models

    t_start, cpu_start = time.perf_counter(), time.process_time()
    tmp = runs_dir / f".tmp-{spec.run_id}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays = datamod.build(spec.data, spec.train.validation)
    t_data = time.perf_counter() - t_start

    keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    base, t_pre = None, 0.0
    if spec.model.kind == "finetune":
        t0 = time.perf_counter()
        base = models.pretrain_base(
            datamod.input_shape(spec.data),
            len(spec.data.pretrain),
            arrays["x_pre"],
            arrays["y_pre"],
            spec.train.pretrain_epochs,
            spec.seed,
        )
        t_pre = time.perf_counter() - t0

    caught: list[str] = []
    with warnings.catch_warnings(record=True) as w, captured_stdout() as buf:
        warnings.simplefilter("always")
        model, rec, evaluation, t_fit, t_eval = _train(spec, arrays, 2, base)
        for item in w:
            msg = f"{item.category.__name__}: {str(item.message).splitlines()[0][:200]}"
            if msg not in caught:
                caught.append(msg)
    (tmp / CONSOLE_V2).write_text(buf.getvalue(), encoding="utf-8")

    history = {k: [e.get(k, float("nan")) for e in rec.epochs] for k in rec.order}
    n_train = len(arrays["x_train"])
    val = spec.train.validation
    if val.startswith("split:"):
        n_val = n_train - int(n_train * (1 - float(val.split(":", 1)[1])))  # Keras' slicing
        n_fit = n_train - n_val
    else:
        n_fit = n_train
        n_val = len(arrays["x_val"]) if val == "holdout" else len(arrays["x_test"]) if val == "eval" else 0

    model_file = None
    t0 = time.perf_counter()
    try:
        model.save(tmp / MODEL)
        if (tmp / MODEL).stat().st_size <= MAX_MODEL_BYTES:
            model_file = MODEL
        else:
            (tmp / MODEL).unlink()
    except Exception as exc:  # a model that cannot be saved is recorded, not fatal
        caught.append(f"model.save failed: {type(exc).__name__}: {str(exc)[:160]}")
        (tmp / MODEL).unlink(missing_ok=True)
    t_save = time.perf_counter() - t0

    v1: dict[str, Any] = {}
    if spec.verbose1:
        t0 = time.perf_counter()
        keras.backend.clear_session()
        sink = bytearray()
        with warnings.catch_warnings(), pty_stdout(sink):
            warnings.simplefilter("ignore")
            _m, rec1, ev1, _f, _e = _train(spec, arrays, 1, base)
        (tmp / CONSOLE_V1).write_bytes(bytes(sink))
        diffs = [
            abs(a - b)
            for k in rec.order
            for a, b in zip(history[k], [e.get(k) for e in rec1.epochs])
            if b is not None and not (math.isnan(a) or math.isnan(b))
        ]
        v1 = {
            "file": CONSOLE_V1,
            "seconds": round(time.perf_counter() - t0, 3),
            "history_max_abs_diff": max(diffs, default=0.0),
            "evaluate_max_abs_diff": max(
                (
                    abs(a - b)
                    for a, b in zip(evaluation["values"], ev1["values"])
                    if not (math.isnan(a) or math.isnan(b))
                ),
                default=0.0,
            ),
        }

    import numpy as np
    import tensorflow as tf

    result: dict[str, Any] = {
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "status": "ok",
        "history": history,
        "history_order": rec.order,
        "steps": rec.steps,
        "steps_per_epoch": _steps(n_fit, spec.train.batch),
        "val_steps": _steps(n_val, spec.train.batch) if n_val else 0,
        "samples": {"train": n_fit, "val": n_val, "eval": len(arrays["x_test"])},
        "epoch_seconds": [round(s, 4) for s in rec.epoch_seconds],
        "evaluate": {
            **evaluation,
            "steps": _steps(len(arrays["x_test"]), 32),
            "seconds": round(t_eval, 4),
            "print_style": print_style(spec),
            "printed": print_evaluation(print_style(spec), evaluation["names"], evaluation["values"]),
        },
        "arrays": {k: datamod.describe(arrays[k]) for k in datamod.FED if k in arrays},
        "label_noise": _noise(arrays),
        "console_v2": CONSOLE_V2,
        "verbose1": v1 or None,
        "model": model_file,
        "params": int(model.count_params()),
        "warnings": caught,
        "timings": {
            "data_s": round(t_data, 3),
            "pretrain_s": round(t_pre, 3),
            "fit_s": round(t_fit, 3),
            "evaluate_s": round(t_eval, 3),
            "save_s": round(t_save, 3),
            "verbose1_s": v1.get("seconds", 0.0),
            "total_s": round(time.perf_counter() - t_start, 3),
            # CPU seconds of this process (all its threads): the wall times above include
            # waiting for a core on a shared machine
            "cpu_s": round(time.process_time() - cpu_start, 3),
        },
        "env": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
    }
    (tmp / RESULT).write_text(json.dumps(result, indent=None, separators=(",", ":")), encoding="utf-8")
    final = runs_dir / spec.run_id
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return result


def _noise(arrays: dict[str, Any]) -> dict[str, Any] | None:
    """Share of training labels changed by the recipe's corruption (None for regression targets)."""

    y, clean = arrays["y_train"], arrays["y_train_clean"]
    if y.dtype.kind == "f" and y.ndim == 1:
        return None
    as_int = y.argmax(-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)
    return {"flipped": int((as_int != clean).sum()), "fraction": round(float((as_int != clean).mean()), 4)}


def is_done(runs_dir: Path, run_id: str) -> bool:
    return (runs_dir / run_id / RESULT).is_file()
