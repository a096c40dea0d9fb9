"""`DoctorCallback`: diagnose a Keras training run while it runs.

Importing this module imports Keras (the callback subclasses
`keras.callbacks.Callback`) and does nothing else: no printing, no
TensorFlow or Keras configuration change.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import numpy as np

from .errors import InputError, UsageError, invalid_value
from .inputs import check_classes
from .records import TrainProbes
from .sources.evaluator import count_correct
from .sources.history import history_from_dict
from .sources.pipelines import take_sample
from .tfenv import import_keras, quiet_tracing

keras = import_keras()

#: Images of each split the data and label checks look at. Range, scheme and
#: label-encoding checks are decided by statistics that are stable at a few
#: hundred images; 2,000 keeps 200 per class on a 10-class problem, enough for
#: the class-count checks, and a strided sample of this size is a view, not a
#: pass over the data.
DEFAULT_SAMPLE_SIZE = 2_000

#: Training images evaluated in inference mode at each epoch end. At 1,000
#: images the binomial standard error of an accuracy near 0.5 is 1.6 points,
#: small next to the train/validation gaps the report reasons about, and the
#: forward pass costs about 1/150 of an epoch of the seed model on CIFAR-10
#: (see bench/callback_overhead.py).
TRAIN_EVAL_IMAGES = 1_000

#: Batch size of that inference pass: large enough to keep the forward pass
#: efficient, small enough that activations of wide convolutions (256 filters
#: at 30x30) stay well under a gigabyte.
TRAIN_EVAL_BATCH = 250

#: History key under which the inference-mode accuracy on `train_sample` is stored.
TRAIN_EVAL_KEY = "train_eval_accuracy"

STOP_ON_CHOICES = (None, "error", "warning")

#: How a callback user supplies each requirement, for skip reasons.
CALLBACK_HINTS = {
    "train_x": "train_sample",
    "labels": "train_sample",
    "eval_x": "validation_data",
    "eval_labels": "validation_data",
    "loss": "loss, or a compiled model",
    "model": "the model being fitted",
    "history": "an epoch end",
    "folders": "cifar-doctor check --data on the image folders",
    "label_order": "train_sample",
}


class DoctorCallback(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
    """Diagnoses a training run while it runs: pipeline bug or overfitting.

    Before the first batch it checks the model (last activation against the
    loss, output units against the classes) and, when given samples of the
    data, the inputs and labels of both splits (value range, normalization
    scheme, encoding). At each epoch end it adds the epoch's metrics to a
    history and re-runs the same checks as `cifar-doctor check`. When a new
    error appears it prints one warning on stderr, with the check code and the
    numbers it was judged on, and, with `stop_on="error"`, stops training.
    After training, `callback.report` holds the full `Report`.

    The checks look at bounded samples (`sample_size` images per split): the
    callback never makes a pass over the full data. When `train_sample` is
    given it also measures, at each epoch end, the accuracy of the model in
    inference mode (dropout off) on up to 1,000 of those training images and
    stores it in the history as `train_eval_accuracy`: Keras logs training
    accuracy in training mode, so a gap between `accuracy` and `val_accuracy`
    can come from dropout or augmentation alone.

    It works unchanged on every Keras 3 backend (TensorFlow, JAX, PyTorch) and
    inside a `tf.distribute` strategy scope: the model is evaluated with
    `model.predict`, which runs on the strategy's replicas. In a multi-worker
    run every worker diagnoses and stops alike, and only the chief prints.

    The diagnosis itself is a `cifar_doctor.session.Session`, the same one
    `cifar-doctor watch` and `compare --until-verdict` use.

    Args:
        train_sample: A sample of the training data as fed to the model,
            `(x, y)` arrays (the full arrays are fine: a strided sample of
            `sample_size` images is taken), a `tf.data.Dataset` or a
            `keras.utils.PyDataset` yielding `(x, y)` batches. Defaults to `None`.
        validation_data: The validation or test data as fed to the model,
            in the same forms (pass what you give `model.fit`). Defaults to `None`.
        loss: The loss, a name or a Keras loss, when it is not the model's
            compiled loss. Defaults to `None` (read from the compiled model).
        classes: Number of classes, when it cannot be inferred from the model
            or the labels. Defaults to `None`.
        stop_on: `"error"` sets `model.stop_training` when an error-level
            finding appears (Keras stops after the current batch or epoch);
            `"warning"` also stops on warnings; `None` only warns. Defaults to `None`.
        warn: Print a warning on stderr when a new error appears. Defaults to `True`.
        sample_size: Images per split that the data and label checks look at.
            Defaults to `2000`.

    Attributes:
        report: The latest `cifar_doctor.Report` (after training: the final
            one, with measured fixes when a fix could be tested on the model).
            `None` before training starts.
        history: The metrics seen so far, one list per key, including
            `train_eval_accuracy` when `train_sample` is given; `None` at an
            epoch that did not log the key (validation every few epochs).
        events: One dict per warning printed: `{"stage", "epoch", "codes", "stopped"}`.

    Example:

    >>> import numpy as np, keras
    >>> from cifar_doctor.keras import DoctorCallback
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 256, size=(200, 32, 32, 3)).astype("float32")
    >>> y = keras.utils.to_categorical(np.arange(200) % 10, 10)
    >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10, activation="softmax")])
    >>> model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    >>> doctor = DoctorCallback(train_sample=(x / 255, y), validation_data=(x, y), warn=False)
    >>> _ = model.fit(x / 255, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[doctor])
    >>> doctor.report.verdict.cause
    'eval-input-scale-mismatch'
    """

    def __init__(
        self,
        train_sample: Any = None,
        validation_data: Any = None,
        loss: Any = None,
        classes: int | None = None,
        stop_on: str | None = None,
        warn: bool = True,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
    ) -> None:
        super().__init__()
        if stop_on not in STOP_ON_CHOICES:
            raise invalid_value("stop_on", stop_on, expected="None, 'error' or 'warning'")
        if not isinstance(sample_size, (int, np.integer)) or isinstance(sample_size, bool) or sample_size < 1:
            raise invalid_value("sample_size", sample_size, expected="a positive integer")
        self.stop_on = stop_on
        self.warn = bool(warn)
        self.sample_size = int(sample_size)
        self.classes = check_classes(classes)
        self.loss = loss
        # Bounded samples, taken once, here: a malformed argument fails at construction,
        # not in the middle of `fit`.
        sampled = take_sample(train_sample, self.sample_size, "train_sample")
        self._train = _arrays(sampled)
        self._train_step = _sample_step(sampled)  # the sample's i-th image is train_sample's (i * step)-th
        self._val = _arrays(take_sample(validation_data, self.sample_size, "validation_data"))
        self.report: Any = None
        self.history: dict[str, list[float | None]] = {}
        self.events: list[dict[str, Any]] = []
        self._session: Any = None
        self._pending: list[tuple[Any, bool]] = []
        self._speaks = True  # False in the workers of a multi-worker run that are not the chief
        # the model's probabilities on the training sample at each epoch end (`History.probes`)
        self._probes: list[np.ndarray | None] = []

    # --- Keras hooks ---------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.history, self.events, self.report, self._pending = {}, [], None, []
        self._probes = []
        self._session = None
        # Every worker of a multi-worker run diagnoses (and stops) alike; only the chief prints.
        self._speaks = _is_chief(self.model)
        try:
            session = self._new_session(self._build_inputs())
            update = session.update()
        except Exception as exc:  # never break the user's training
            self._notice_failure(exc)
            return
        self._session = session
        self._react(update, stage="train_begin")

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._flush()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        epochs = 1 + max((len(v) for k, v in self.history.items() if k != TRAIN_EVAL_KEY), default=0)
        for key, value in (logs or {}).items():
            num = _as_float(value)
            if num is not None:
                series = self.history.setdefault(str(key), [])
                series.extend([None] * (epochs - 1 - len(series)))  # first logged now (`validation_freq`)
                series.append(num)
        for key, series in self.history.items():
            if key != TRAIN_EVAL_KEY and len(series) < epochs:
                series.append(None)  # not logged at this epoch: a gap, where Keras' History would shift
        if self._train is not None and self.model is not None:
            try:
                probe = self._train_probe()
            except Exception:  # e.g. labels the model's output cannot be compared with
                probe = None
            if probe is not None:
                acc, probs = probe
                self.history.setdefault(TRAIN_EVAL_KEY, []).append(acc)
                self._probes.append(probs if probs.ndim == 2 and probs.shape[1] > 1 else None)
        if self._session is None:
            return
        try:
            update = self._session.update(self._history_object())
        except Exception as exc:
            self._notice_failure(exc)
            return
        self._react(update, stage="epoch_end")

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        from .render.live import print_notice

        self._flush()
        if self._session is None:
            return
        try:
            report = self._session.finish(self._history_object() if self.history else None)
        except Exception as exc:
            self._notice_failure(exc)
            return
        self.report = report
        if self.warn and self._speaks and any(f.severity.value == "error" for f in report.findings):
            v = report.verdict
            print_notice(
                f"verdict {v.cause} (confidence {v.confidence:.2f}). "
                "callback.report.print() shows the evidence and the fix.",
                style="",
            )

    # --- adapter: Keras logs in, alerts out ----------------------------------------------
    def _new_session(self, inputs: Any) -> Any:
        from .session import Session

        return Session(inputs, floor="warning" if self.stop_on == "warning" else "error", hints=CALLBACK_HINTS)

    def _build_inputs(self) -> Any:
        from .api import build_inputs

        x_tr, y_tr = self._train if self._train is not None else (None, None)
        x_va, y_va = self._val if self._val is not None else (None, None)
        return build_inputs(
            x_train=x_tr,
            y_train=y_tr,
            x_val=x_va,
            y_val=y_va,
            model=self.model,
            loss=self.loss,
            classes=self.classes,
            provenance={"callback": "cifar_doctor.keras.DoctorCallback", "sample_size": self.sample_size},
        )

    def _history_object(self) -> Any:
        history = history_from_dict(
            {k: list(v) for k, v in self.history.items()}, source="DoctorCallback", classes=self.classes
        )
        if (
            getattr(history, "flavor", None) in (None, "unknown")
            and _keras_major() >= 3
            and keras.backend.backend() == "tensorflow"
        ):
            # live Keras 3 on TensorFlow: cross-entropy from the logits, unclipped. On JAX and
            # PyTorch it comes from probabilities clipped at 1e-7: left unknown, read from the numbers.
            history.flavor = "keras3"
        if self.history.get(TRAIN_EVAL_KEY):
            # the field the FIT checks read to tell a real gap from the training-mode effect
            history.train_accuracy_inference_mode = [v for v in self.history[TRAIN_EVAL_KEY] if v is not None]
        kept = [p for p in self._probes if p is not None]
        if kept and len(kept) == len(self._probes) and self._train is not None:
            n = len(kept[0])
            y = self._train[1]
            if y is not None and all(len(p) == n for p in kept):
                history.probes = TrainProbes(
                    labels=np.asarray(y[:n]),
                    probabilities=tuple(kept),
                    indices=np.arange(n) * self._train_step,
                )
        return history

    def _react(self, update: Any, *, stage: str) -> None:
        """Record and show the update's new findings; stop training if asked."""
        self.report = update.report
        if not update.new:
            return
        stop = self.stop_on is not None and self.model is not None
        if stop:
            self.model.stop_training = True
        self.events.append(
            {"stage": stage, "epoch": update.epoch, "codes": sorted({f.code for f in update.new}), "stopped": stop}
        )
        if self.warn or stop:
            self._pending.append((update, stop))
            if stage == "train_begin":
                self._flush()
            # At an epoch end, Keras' own progress line for the epoch is not written yet (its
            # ProgbarLogger runs after user callbacks, and at verbose=1 the bar is mid-line):
            # the warning goes out at the next epoch begin or at train end, right after it.

    def _flush(self) -> None:
        from .render.live import print_alert

        pending, self._pending = self._pending, []
        if not self._speaks:
            return
        for update, stop in pending:
            if stop:
                action = f"Stopping training (stop_on={self.stop_on!r}): Keras ends the run after the current " + (
                    "batch." if update.epoch is None else "epoch."
                )
            else:
                action = "Training goes on; pass stop_on='error' to stop on such findings."
            print_alert(update.new, update.report.verdict, epoch=update.epoch, action=action)

    def _notice_failure(self, exc: BaseException) -> None:
        from .render.live import print_notice

        self._session = None
        if not self._speaks:
            return
        msg = exc.line() if isinstance(exc, (InputError, UsageError)) else f"{type(exc).__name__}: {exc}"
        print_notice(f"diagnosis disabled for this run ({msg}). Training goes on.", style="")

    def _train_probe(self) -> tuple[float, np.ndarray] | None:
        """(accuracy, outputs) of the model in inference mode on up to `TRAIN_EVAL_IMAGES` training images.

        `model.predict` runs the batches on the model's distribution strategy
        (every replica of a `MirroredStrategy`, every worker of a
        `MultiWorkerMirroredStrategy`, which all call it together) and returns
        NumPy arrays on every Keras backend.
        """
        if self._train is None:
            return None
        x, y = self._train
        if y is None:
            return None
        n = min(len(x), TRAIN_EVAL_IMAGES)
        if not n:
            return None
        with quiet_tracing():
            out = self.model.predict(x[:n], batch_size=TRAIN_EVAL_BATCH, verbose=0)
        if isinstance(out, (list, tuple)):
            if len(out) != 1:
                return None
            out = out[0]
        if isinstance(out, dict):
            return None
        probs = np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)
        return round(count_correct(probs, y[:n]) / n, 6), probs


# --- helpers ------------------------------------------------------------------------------
def _as_float(value: Any) -> float | None:
    try:
        out = float(np.asarray(value).reshape(()))
    except (TypeError, ValueError):
        return None
    return out


def _is_chief(model: Any) -> bool:
    """Whether this process prints: the chief of a multi-worker run, or the only process.

    A multi-worker run calls the callback in every worker, each diagnosing the
    same all-reduced metrics; one of them speaks for all. Under `tf.distribute`
    that is the chief: task type `chief`, or worker 0 of a cluster without one,
    read from the strategy's cluster resolver, else from `TF_CONFIG`. On JAX
    and PyTorch it is process 0 of an initialised multi-process run.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        task = _strategy_task(getattr(model, "distribute_strategy", None)) or _tf_config_task()
        if task is None:
            return True
        task_type, task_id, has_chief = task
        return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    if backend == "jax" and "jax" in sys.modules:
        try:
            return int(sys.modules["jax"].process_index()) == 0
        except Exception:  # noqa: BLE001 - no runtime to ask: a single process
            return True
    if backend == "torch" and "torch.distributed" in sys.modules:
        dist = sys.modules["torch.distributed"]
        try:
            return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
        except Exception:  # noqa: BLE001
            return True
    return True


def _strategy_task(strategy: Any) -> tuple[str, int, bool] | None:
    """(task type, task id, whether the cluster has a chief) from a multi-worker strategy, or None."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or task_type is None:
        return None
    try:
        has_chief = "chief" in resolver.cluster_spec().as_dict()
    except Exception:  # noqa: BLE001 - a resolver without a spec: no chief known
        has_chief = False
    return str(task_type), int(getattr(resolver, "task_id", 0) or 0), has_chief


def _tf_config_task() -> tuple[str, int, bool] | None:
    """(task type, index, whether the cluster has a chief) from the `TF_CONFIG` variable, or None."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task = config.get("task") or {}
        if not task.get("type"):
            return None
        return str(task["type"]), int(task.get("index", 0)), "chief" in (config.get("cluster") or {})
    except (ValueError, TypeError, AttributeError):  # unreadable: act as a single process
        return None


def _keras_major() -> int:
    try:
        return int(str(keras.__version__).split(".")[0])
    except ValueError:  # pragma: no cover
        return 0


def _arrays(sampled: Any) -> tuple[np.ndarray, np.ndarray | None] | None:
    return (sampled.x, sampled.y) if sampled is not None else None


def _sample_step(sampled: Any) -> int:
    """The stride of an evenly spaced sample (`sources.pipelines.strided`); 1 for the head of a pipeline."""
    info = getattr(sampled, "sample", None)
    if info is None or info.method != "even" or not info.total or info.total <= info.taken or not info.taken:
        return 1
    return int(info.total // info.taken)
