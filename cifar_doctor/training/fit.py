"""The training loop of `cifar-doctor compare`: a plain `model.fit` plus a cheap progress callback.

Keras trains with `verbose=0` (its progress bars write to stdout, which carries
the report). Progress comes from `ProgressCallback`: `on_train_batch_end` only
stores the step number in `RunState`, and it is marked `async_safe`, so Keras
dispatches it exactly as it dispatches its own History callback (no extra device
synchronisation per batch). The live view (`cifar_doctor.cli.progress`)
reads `RunState` when it redraws. Per-epoch work (recording the metrics,
the optional `--until-verdict` diagnosis) happens in `on_epoch_end`.

`bench/compare_overhead.py` measures this loop against a plain `model.fit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..records import TrainProbes
from ..tfenv import import_keras, import_tensorflow, quiet_tracing
from .feed import TrainingPlan, activation_bytes, dataset, eval_plan, plan_batches
from .recipe import Recipe

#: Images read at a time when the fed range is noted (50 MB of float32 CIFAR images).
SCALE_NOTE_CHUNK = 4096

#: The history keys the report uses, as Keras names them (`metrics=["accuracy"]`).
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

#: Whether `--seed` also turns on `tf.config.experimental.enable_op_determinism()`.
#: Measured on this 2-core CPU (`bench/compare_overhead.py --determinism`): the
#: seeded run without it already repeats its figures to ~1e-3 on CPU, and op
#: determinism costs time for these models; see README. Kept off by default,
#: `--deterministic` turns it on.
OP_DETERMINISM_DEFAULT = False


@dataclass
class RunState:
    """Live progress of one run, written by the Keras callback and read by the view.

    Attributes:
        name: Run name.
        epochs: Planned epochs.
        steps: Training steps per epoch.
        batch_size: Batch size.
        train_images: Training images per epoch.
        epoch: Epochs finished.
        step: Steps done in the current epoch.
        phase: `waiting`, `preparing`, `training`, `validating`, `diagnosing`, `done`.
        history: Per-epoch metrics so far, keyed as Keras names them.
        epoch_seconds: Wall seconds of each finished epoch (training + validation).
        probes: The model's outputs on the first `PROBE_IMAGES` training images at each epoch end.
        note: A short status note (e.g. why it stopped early).
    """

    name: str
    epochs: int = 0
    steps: int = 0
    batch_size: int = 0
    train_images: int = 0
    epoch: int = 0
    step: int = 0
    phase: str = "waiting"
    history: dict[str, list[float]] = field(default_factory=dict)
    epoch_seconds: list[float] = field(default_factory=list)
    probes: list[Any] = field(default_factory=list)
    note: str = ""
    t_start: float = 0.0
    t_epoch: float = 0.0
    t_end: float = 0.0

    def images_per_second(self) -> float | None:
        """Training throughput of the current epoch (or of the last finished ones)."""
        now = time.perf_counter()
        if self.phase == "training" and self.step > 0 and now > self.t_epoch:
            return min(self.step * self.batch_size, self.train_images) / (now - self.t_epoch)
        if self.epoch_seconds:
            return self.train_images / (sum(self.epoch_seconds) / len(self.epoch_seconds))
        return None

    def eta_seconds(self) -> float | None:
        """Seconds left in this run, from finished epochs or the current epoch's speed."""
        if self.phase in ("done", "waiting"):
            return None
        left_epochs = self.epochs - self.epoch
        if self.epoch_seconds:
            per_epoch = sum(self.epoch_seconds) / len(self.epoch_seconds)
            done = (time.perf_counter() - self.t_epoch) if self.phase in ("training", "validating") else 0.0
            return max(per_epoch * left_epochs - done, 0.0)
        ips = self.images_per_second()
        if ips:
            # first epoch: no validation timing yet; count training only
            left = (self.steps - self.step) * self.batch_size + (left_epochs - 1) * self.train_images
            return max(left, 0) / ips
        return None


def make_callback(state: RunState, on_epoch: Callable[[RunState], bool] | None = None, accumulation: int = 1) -> Any:
    """A Keras callback that keeps `state` current.

    Args:
        state: Progress record to update.
        on_epoch: Called after each epoch with the state; returning `True`
            stops training (`model.stop_training`). Defaults to `None`.
        accumulation: Keras batches per optimizer step (micro-batches whose
            gradients are accumulated); `state.step` counts optimizer steps.
            Defaults to `1`.
    """
    keras = import_keras()

    class ProgressCallback(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
        # Only stores an int per batch: safe to run on Keras' async dispatcher,
        # which keeps the training loop free of a per-batch device sync.
        async_safe = True

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            state.phase, state.step, state.t_epoch = "training", 0, time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            step = (batch + 1) // accumulation
            if step > state.step:
                state.step = step

        def on_test_begin(self, logs: Any = None) -> None:
            state.phase = "validating"

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            state.epoch_seconds.append(time.perf_counter() - state.t_epoch)
            for key, value in (logs or {}).items():
                state.history.setdefault(key, []).append(float(value))
            state.epoch = epoch + 1
            state.step = state.steps
            if on_epoch is not None and on_epoch(state):
                self.model.stop_training = True

    return ProgressCallback()


#: Training images whose outputs are recorded at each epoch end (`History.probes`, read by
#: LBL012): 100 per class on CIFAR-10, one inference pass over them per epoch (about 2% of an
#: epoch on 4,000 images).
PROBE_IMAGES = 1000


def make_probe_callback(state: RunState, probe_ds: Any) -> Any:
    """A Keras callback that appends the model's outputs on `probe_ds` to `state.probes` at each epoch end."""
    keras = import_keras()

    class ProbeCallback(keras.callbacks.Callback):  # type: ignore[name-defined]  # Keras is imported at run time
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            try:
                with quiet_tracing():
                    out = self.model.predict(probe_ds, verbose=0)
            except Exception:  # a multi-output model, say: no probes, training goes on
                return
            if isinstance(out, np.ndarray) or hasattr(out, "shape"):
                state.probes.append(np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32))

    return ProbeCallback()


@dataclass
class TrainedRun:
    """A finished training run.

    Attributes:
        model: The trained Keras model.
        history: Per-epoch metrics keyed as Keras names them.
        seconds: Wall seconds of `model.fit`.
        epochs_run: Epochs actually trained.
        settings: Epochs, batch size, seed, image counts, optimizer, loss.
        plan: How the optimizer steps were made (`feed.TrainingPlan`).
        probes: The model's outputs on the first training images at each epoch end (`TrainProbes`).
    """

    model: Any
    history: dict[str, list[float]]
    seconds: float
    epochs_run: int
    settings: dict[str, Any]
    plan: TrainingPlan | None = None
    probes: TrainProbes | None = None


def set_seed(seed: int, deterministic: bool = OP_DETERMINISM_DEFAULT) -> None:
    """Seed Python, NumPy and the backend (`keras.utils.set_random_seed`); optionally deterministic ops."""
    keras = import_keras()

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf = import_tensorflow()

        tf.config.experimental.enable_op_determinism()


def build_compiled(recipe: Recipe, accumulation: int = 1) -> Any:
    """Build and compile the recipe's model (`accumulation` micro-batches per optimizer step)."""
    model = recipe.build()
    _compile(recipe, model, accumulation)
    return model


def _compile(recipe: Recipe, model: Any, accumulation: int) -> None:
    # a user's Recipe subclass may define compile(model) without the accumulation argument
    if accumulation > 1:
        recipe.compile(model, gradient_accumulation_steps=accumulation)
    else:
        recipe.compile(model)


def train(
    recipe: Recipe,
    arrays: dict[str, Any],
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    deterministic: bool = OP_DETERMINISM_DEFAULT,
    state: RunState | None = None,
    on_epoch: Callable[[RunState], bool] | None = None,
    plan: TrainingPlan | None = None,
    strategy: Any = None,
    small_data: bool = False,
) -> TrainedRun:
    """Train `recipe` on `arrays`, validating on the test split each epoch.

    The images are streamed to the model by `tf.data` (`cifar_doctor.training.feed.dataset`):
    from one uint8 copy, scaled per batch, when `arrays` come from `Recipe.feed`.

    Args:
        recipe: The recipe (model builder, compile settings).
        arrays: `x_train`, `y_train`, `x_test`, `y_test` as `recipe.feed` (or `recipe.preprocess`) returns them.
        epochs: Epochs. Defaults to `None` (the recipe's).
        batch_size: Batch size. Defaults to `None` (the recipe's).
        seed: Seed set before the model is built. Defaults to `0`.
        deterministic: Also enable TensorFlow op determinism. Defaults to `False`.
        state: Progress record for a live view. Defaults to `None` (a fresh one).
        on_epoch: Called after each epoch; returning `True` stops training. Defaults to `None`.
        plan: The batch plan (`feed.plan_batches`). Defaults to `None`: the
            batch size as given or the recipe's, gradient accumulation as memory requires.
        strategy: A `tf.distribute.Strategy` to build, compile and train under.
            Defaults to `None` (the default strategy).
        small_data: Scale the recipe's batch size down on small data
            (`feed.small_data_batch`) unless `batch_size` is given. Defaults to `False`.

    Returns:
        A `TrainedRun`.
    """
    import contextlib

    epochs = int(epochs or recipe.epochs)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    n = int(len(x_train))
    state = state or RunState(recipe.name)
    state.phase = "preparing"
    state.t_start = time.perf_counter()
    set_seed(seed, deterministic)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    replicas = int(getattr(strategy, "num_replicas_in_sync", 1) or 1)
    with scope:
        model = recipe.build()
        if plan is None:
            plan = plan_batches(
                recipe.batch_size,
                epochs,
                n,
                given=batch_size,
                scale_small=small_data,
                replicas=replicas,
                activation_bytes_per_image=activation_bytes(model),
            )
        _compile(recipe, model, plan.accumulation)
    state.epochs, state.batch_size, state.train_images = epochs, plan.batch_size, n
    state.steps = plan.steps_per_epoch
    train_ds = dataset(x_train, y_train, plan, shuffle=True, seed=seed)
    val_ds = dataset(x_test, y_test, eval_plan(plan), shuffle=False)
    callback = make_callback(state, on_epoch, plan.accumulation)
    callbacks = [callback]
    probed = min(n, PROBE_IMAGES)
    if probed and not _multi_worker(strategy):  # predict() inside a multi-worker fit would need every worker
        probe_ds = dataset(x_train[:probed], y_train[:probed], eval_plan(plan), shuffle=False)
        callbacks.append(make_probe_callback(state, probe_ds))
    if _multi_worker(strategy):
        # Keras 3.15's fit averages a first distributed batch with strategy.reduce to build the model, which
        # fails under MultiWorkerMirroredStrategy (a PerReplica value is converted to one tensor). Build it
        # here from the shapes of one batch instead, and let the scope below supply the strategy to fit.
        with strategy.scope():
            model._symbolic_build(data_batch=(np.asarray(x_train[:1]), np.asarray(y_train[:1])))
        model._distribute_strategy = None
        _reduce_scalars_across_workers()
    t0 = time.perf_counter()
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model.fit(train_ds, epochs=epochs, verbose=0, validation_data=val_ds, callbacks=callbacks, shuffle=False)
    seconds = time.perf_counter() - t0
    del train_ds, val_ds
    history = {k: list(v) for k, v in state.history.items()}
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    settings = {
        "epochs": epochs,
        "batch_size": plan.batch_size,
        "seed": seed,
        "deterministic": bool(deterministic),
        "train_images": n,
        "test_images": int(len(x_test)),
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "loss": recipe.loss,
        "train_scale": _scale_note(x_train),
        "test_scale": _scale_note(x_test),
    }
    probes = None
    if state.probes and all(p.shape == state.probes[0].shape for p in state.probes):
        probes = TrainProbes(labels=np.asarray(y_train[:probed]), probabilities=tuple(state.probes))
    return TrainedRun(model, history, seconds, state.epoch, settings, plan, probes)


def _reduce_scalars_across_workers() -> None:
    """Let Keras 3 average per-replica scalars (the step's loss and metrics) across workers.

    Keras 3.15 reduces them under MultiWorkerMirroredStrategy with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on a scalar ("Invalid
    reduction dimension 0 for input with 0 dimensions"): every multi-worker fit
    stops at its first step. This wraps Keras' `reduce_per_replica` so that a
    scalar is averaged over the replicas (`axis=None`); everything else goes to
    Keras unchanged. Installed once, only for a multi-worker run.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "scalar_shim", False):
        return

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):

            def one(v: Any) -> Any:
                local = strategy.experimental_local_results(v)[0] if tf_trainer._is_per_replica_instance(v) else v
                if getattr(getattr(local, "shape", None), "rank", None) == 0:
                    return strategy.reduce("MEAN", v, axis=None)
                return original(v, strategy, reduction)

            return tree.map_structure(one, values)
        return original(values, strategy, reduction)

    reduce_per_replica.scalar_shim = True  # type: ignore[attr-defined]
    tf_trainer.reduce_per_replica = reduce_per_replica


def _multi_worker(strategy: Any) -> bool:
    """Whether `strategy` is a MultiWorkerMirroredStrategy (any number of workers)."""
    if strategy is None:
        return False
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _scale_note(x: Any) -> dict[str, Any]:
    """dtype and value range of what the model was fed (read a chunk at a time)."""
    lo = hi = None
    for start in range(0, len(x), SCALE_NOTE_CHUNK):
        chunk = np.asarray(x[start : start + SCALE_NOTE_CHUNK])
        if chunk.size:
            lo = float(chunk.min()) if lo is None else min(lo, float(chunk.min()))
            hi = float(chunk.max()) if hi is None else max(hi, float(chunk.max()))
    return {"dtype": str(x.dtype), "min": lo, "max": hi}
