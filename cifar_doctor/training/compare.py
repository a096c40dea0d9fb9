"""Train recipes side by side and diagnose each run with the engine.

`compare(["original", "fixed"], ...)` checks its arguments (`runs`), sets up
the strategy (`strategy.configure`), loads the data once (uint8), then for each
recipe: takes its pipeline as images scaled on demand (`Recipe.feed`: no float32
copy of a split), plans its batches (`feed.plan_batches`: small-data scaling,
per-replica batches, gradient accumulation when a batch would not fit in
memory), trains its model from `tf.data` (`cifar_doctor.training.fit.train`), optionally
stopping once the verdict is certain (`until_verdict`), and diagnoses the run
through `cifar_doctor.api.build_inputs` + `cifar_doctor.engine.run` with the
run's data, history and trained model: the data checks, the history checks,
the verdict and, for a proposed data fix, the counterfactual. It returns a
`cifar_doctor.comparison.ComparisonReport` holding every run's report;
`--save` writes the artifacts (`artifacts`). Each run's model and datasets
are released (`keras.backend.clear_session()`) before the next one. Progress
goes to a `Progress` (the CLI's is `cifar_doctor.cli.progress.LiveView`).
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..comparison import ComparisonReport, RunResult
from ..measure.noise import labels_1d
from ..records import TrainProbes
from .artifacts import save_comparison, save_run
from .fit import HISTORY_KEYS, OP_DETERMINISM_DEFAULT, RunState, train
from .recipe import stratified_indices
from .runs import RunSpec, check_positive, check_save_dir, load_arrays, parse_limit, resolve
from .until_verdict import UntilVerdict


class Progress(Protocol):
    """What `compare` reports while it trains."""

    def start(self, states: list[RunState]) -> None: ...

    def epoch_done(self, state: RunState) -> None: ...

    def message(self, text: str) -> None: ...

    def stop(self) -> None: ...


class Silent:
    """A `Progress` that shows nothing."""

    def start(self, states: list[RunState]) -> None:
        pass

    def epoch_done(self, state: RunState) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


def compare(
    names: list[str],
    *,
    epochs: int | None = None,
    limit: Any = None,
    batch_size: int | None = None,
    seed: int = 0,
    deterministic: bool = OP_DETERMINISM_DEFAULT,
    data: Path | None = None,
    until_verdict: bool = False,
    save: Path | None = None,
    progress: Progress | None = None,
    strategy: str = "default",
    devices: int | None = None,
    mixed_precision: bool = False,
    train_labels: str | None = None,
) -> ComparisonReport:
    """Train each recipe and diagnose each run.

    Args:
        names: Recipe names or `path.py:function` user recipes.
        epochs: Epochs per run. Defaults to `None` (each recipe's own).
        limit: Stratified training subset size (also caps the test split). Defaults to `None` (all).
        batch_size: Batch size for every run. Defaults to `None`: each recipe's
            own, scaled down on small data so that an epoch has at least
            `feed.MIN_STEPS_PER_EPOCH` optimizer steps.
        seed: Seed for the subset, the weights and the shuffling. Defaults to `0`.
        deterministic: Also enable TensorFlow op determinism. Defaults to `False`.
        data: A data path as for `check --data`. Defaults to `None` (CIFAR-10 from the
            Keras cache, else download, else the bundled sample with a notice).
        until_verdict: Stop each run once its verdict is certain. Defaults to `False`.
        save: A new or empty directory for per-run artifacts. Defaults to `None`.
        progress: Where progress goes. Defaults to `None` (nowhere).
        strategy: `default`, `mirrored` or `multiworker` (`tf.distribute`; see
            `cifar_doctor.training.strategy`). Defaults to `"default"`.
        devices: Split the CPU into this many logical devices first. Defaults to `None`.
        mixed_precision: Train under the Keras policy `mixed_float16`. Defaults to `False`.
        train_labels: `FILE.npy` or `FILE.npz:KEY`: labels that replace the training split's
            (one per training image, in the data's order; e.g. CIFAR-10N's human labels), read
            before any subset is drawn. The report's provenance says how many differ.
            Defaults to `None` (the data's own labels).

    Returns:
        A `ComparisonReport`: one `RunResult` (with its full `Report`) per run, and the comparison.

    Raises:
        UsageError: a bad argument (named as the parameter), before any data is read.

    Example:

    >>> report = compare(["original", "fixed"], limit=600, epochs=1)  # doctest: +SKIP
    >>> [r.report.verdict.cause for r in report.runs]  # doctest: +SKIP
    ['eval-input-scale-mismatch', 'healthy']
    """
    from .strategy import check_options, configure, reset_precision

    limit = parse_limit(limit)
    check_positive(epochs=epochs, batch_size=batch_size)
    check_options(strategy, devices)
    specs = resolve(names)
    check_save_dir(save)
    raw, description = load_arrays(data)  # no TensorFlow yet: a bad path fails at once
    if train_labels is not None:
        from .labels import read_train_labels

        labels, summary = read_train_labels(train_labels, raw["y_train"])
        raw, description = {**raw, "y_train": labels}, {**description, "train_labels": summary}
    placement = configure(strategy, devices=devices, mixed_precision=mixed_precision)
    try:
        progress = progress or Silent()
        states = [RunState(s.name, epochs=int(epochs or s.recipe.epochs)) for s in specs]
        runs: list[RunResult] = []
        progress.start(states)
        try:
            for spec, state in zip(specs, states):
                run, model = _one_run(
                    spec,
                    state,
                    raw,
                    description,
                    progress,
                    epochs=epochs,
                    limit=limit,
                    batch_size=batch_size,
                    seed=seed,
                    deterministic=deterministic,
                    until_verdict=until_verdict,
                    placement=placement,
                )
                runs.append(run)
                if save is not None:
                    save_run(save, run, model)
                del model
                _release()
        finally:
            progress.stop()
    finally:
        if mixed_precision:
            reset_precision()
    report = ComparisonReport.of(runs)
    if save is not None:
        save_comparison(save, report)
    return report


def _release() -> None:
    """Free the finished run's model, datasets and TensorFlow state before the next run."""
    import keras

    keras.backend.clear_session()
    gc.collect()


def feed_arrays(recipe: Any, raw: dict[str, np.ndarray], *, limit: int | None, seed: int) -> dict[str, Any]:
    """The run's arrays: `recipe.feed` (images scaled on demand), or `preprocess` for a recipe that overrides it."""
    from .recipe import Recipe

    if type(recipe).preprocess is not Recipe.preprocess and type(recipe).feed is Recipe.feed:
        return recipe.preprocess(raw, limit=limit, seed=seed)  # a Recipe subclass with its own pipeline
    return recipe.feed(raw, limit=limit, seed=seed)


def _in_data_order(probes: TrainProbes, raw: dict[str, np.ndarray], *, limit: int | None, seed: int) -> TrainProbes:
    """`probes` with the indices of its images in the data's training split, when the recipe fed the
    stratified subset `recipe.subset` draws (its labels match); else as they are (positions in the fed split)."""
    y = np.asarray(raw.get("y_train")).reshape(-1)
    idx = stratified_indices(y, limit, seed) if limit is not None else np.arange(len(y))
    n = len(probes.labels)
    given = np.asarray(probes.labels)
    given = labels_1d(given, given.shape[-1])  # one-hot rows (n, K), or integers (n,)
    if len(idx) < n or not np.array_equal(y[idx[:n]], given):
        return probes
    return replace(probes, indices=idx[:n])


def _one_run(
    spec: RunSpec,
    state: RunState,
    raw: dict[str, np.ndarray],
    description: dict[str, Any],
    progress: Progress,
    *,
    epochs: int | None,
    limit: int | None,
    batch_size: int | None,
    seed: int,
    deterministic: bool,
    until_verdict: bool,
    placement: Any,
) -> tuple[RunResult, Any]:
    from ..api import build_inputs
    from ..engine import run

    state.phase = "preparing"
    if placement.mixed_precision:  # keras.backend.clear_session() after the previous run reset the policy
        import keras

        keras.mixed_precision.set_global_policy(placement.mixed_precision)
    arrays = feed_arrays(spec.recipe, raw, limit=limit, seed=seed)
    evidence = {
        "x_train": arrays["x_train"],
        "y_train": arrays["y_train"],
        "x_test": arrays["x_test"],
        "y_test": arrays["y_test"],
        "loss": spec.recipe.loss if isinstance(spec.recipe.loss, str) else None,
        "provenance": {"data": description, "recipe": spec.recipe.name},
    }
    watch = UntilVerdict(build_inputs(**evidence)) if until_verdict else None

    def on_epoch(s: RunState) -> bool:
        stop = watch(s) if watch is not None else False
        progress.epoch_done(s)
        return stop

    t0 = time.perf_counter()
    trained = train(
        spec.recipe,
        arrays,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        deterministic=deterministic,
        state=state,
        on_epoch=on_epoch,
        strategy=placement.strategy,
        small_data=True,
    )
    state.phase = "diagnosing"
    history = dict(trained.history)
    inputs = build_inputs(model=trained.model, history=history, **evidence)
    if inputs.history is not None and trained.probes is not None:
        inputs.history.probes = _in_data_order(trained.probes, raw, limit=limit, seed=seed)
    report = run(inputs)
    scale = _scale_ratio(inputs)
    del inputs  # its evaluator holds the model
    state.phase = "done"
    stopped = watch.stopped if watch is not None else None
    training = dict(
        trained.plan.to_dict() if trained.plan is not None else {},
        strategy=placement.to_dict(),
        output_dtype=_output_dtype(trained.model),
        compute_dtype=_compute_dtype(trained.model),
    )
    result = RunResult(
        name=spec.name,
        recipe=spec.recipe.name,
        doc=spec.recipe.doc,
        settings=dict(trained.settings, limit=limit),
        history={k: history[k] for k in HISTORY_KEYS if k in history}
        | {k: v for k, v in history.items() if k not in HISTORY_KEYS},
        epochs_run=trained.epochs_run,
        report=report,
        eval_to_train_scale=scale,
        expected=spec.recipe.expected,
        seconds=round(time.perf_counter() - t0, 1),
        train_seconds=round(trained.seconds, 1),
        stopped_early=stopped,
        training=training,
    )
    if stopped:
        progress.message(
            f"{spec.name}: stopped after epoch {stopped.after_epoch}/{stopped.planned_epochs}: "
            f"{stopped.reason}; saved {stopped.epochs_saved} epochs, about "
            f"{stopped.seconds_saved_estimate:.0f} s."
        )
    return result, trained.model


def _compute_dtype(model: Any) -> str | None:
    """The dtype the model's first layer computes in (`float16` under mixed precision)."""
    layers = getattr(model, "layers", None) or []
    policy = getattr(layers[0], "dtype_policy", None) if layers else None
    return str(getattr(policy, "compute_dtype", None) or "") or None


def _output_dtype(model: Any) -> str | None:
    """The dtype of the model's output (float32 expected, also under mixed precision)."""
    try:
        return str(getattr(model.outputs[0].dtype, "name", model.outputs[0].dtype))
    except Exception:  # a subclassed model without symbolic outputs
        return None


def _scale_ratio(inputs: Any) -> float | None:
    """How many times larger the test inputs are than the training inputs (1.0 when scaled alike)."""
    from ..measure.stats import scale_ratio

    train_split, test_split = inputs.splits.get("train"), inputs.splits.get("test")
    if train_split is None or test_split is None or train_split.stats is None or test_split.stats is None:
        return None
    ratio = scale_ratio(train_split.stats, test_split.stats)
    return round(ratio, 1) if ratio is not None else None
