"""How `compare` feeds a recipe: the batch plan and the `tf.data` pipelines.

Two decisions are made here, each reported with the run (`TrainingPlan.to_dict`,
`runs[i].training` in the JSON):

- **Small data.** A recipe's batch size was chosen for the 50,000 CIFAR-10
  training images. On the bundled 2,500-image sample or a `--limit` subset it
  leaves a handful of optimizer steps per epoch (the answer's `fixed`, batch
  500, gets 5), and the comparison then measures how far each recipe got in
  15-25 steps instead of what its pipeline gives. `plan_batches` scales the
  batch size down so that an epoch has at least `MIN_STEPS_PER_EPOCH` steps;
  the model, the optimizer, the pipeline and the epochs stay the recipe's. A
  batch size given by the user (`--batch-size`) is used as given.
- **Memory.** A batch of 1,000 images through `original` (256 filters of 30x30
  on the first layer) takes 2.65 GB for its activations and their gradients
  alone (measured). When a batch's estimated activations exceed
  `ACTIVATION_BUDGET_BYTES`, the batch is computed as `k` equal micro-batches
  whose gradients Keras accumulates and averages before one optimizer update
  (`gradient_accumulation_steps`, with Adam's step count advancing once per
  update): the same batch size, the same number of optimizer steps per epoch,
  the same update up to float rounding and dropout draws.

The pipelines read one uint8 copy of the images and apply the recipe's scaling
per batch (`MappedImages.fn`, the same NumPy function `preprocess` applies, run
through `tf.numpy_function` on the gathered batch; TensorFlow holds no copy of
the images), so training, validation and the diagnosis see exactly the values
a fully preprocessed float32 array would hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..mapped import MappedImages, is_lazy

#: The training-set size the built-in recipes' batch sizes were chosen for (CIFAR-10).
REFERENCE_TRAIN_IMAGES = 50_000

#: Fewest optimizer steps per epoch before the batch size is scaled down on small
#: data. The question's own recipe takes 50 steps per epoch on the full data
#: (50,000 images, batch 1,000); the bundled sample at the recipes' batch sizes
#: gives 3 and 5, after which `fixed` (25 steps in 5 epochs) ended below `original`
#: (0.30 against 0.35 validation accuracy) although it reaches 0.68 against 0.54
#: on the full data. 50 steps per epoch restores that order on the sample.
MIN_STEPS_PER_EPOCH = 50

#: Smallest scaled batch: under 8 images a step's gradient is mostly noise and
#: per-step overhead dominates; a tiny `--limit` then gets fewer than
#: `MIN_STEPS_PER_EPOCH` steps rather than batches of 1-7.
MIN_BATCH_SIZE = 8

#: Bytes of process memory per activation value while a micro-batch trains: the
#: forward value and its gradient (float32 each) plus what oneDNN and the
#: allocator keep around them. Measured on `original` (327,690 values per image)
#: with micro-batches of 250: 1.0 GB above the built model, 12.2 bytes per value.
BYTES_PER_ACTIVATION = 12

#: Activation memory one micro-batch may take. `compare` aims at a peak under
#: 2 GB: TensorFlow and Keras take about 0.75 GB, the uint8 data and its
#: tensors 0.35 GB, evaluating the trained model 0.3 GB; 512 MiB is what is left
#: with a margin. `original` (3.9 MB per image) then trains its batches of 1,000
#: as 8 micro-batches of 125, `fixed` (1.8 MB per image) its 500 as 2 x 250.
ACTIVATION_BUDGET_BYTES = 512 * 2**20

#: How compare reads the data, for the report.
FEED_NOTE = "one uint8 copy of the images; each batch is scaled on the fly with the recipe's preprocessing (tf.data)"


@dataclass(frozen=True)
class TrainingPlan:
    """How a run's optimizer steps are made.

    Attributes:
        batch_size: Images per optimizer step (the global batch under a strategy).
        epochs: Planned epochs.
        train_images: Training images per epoch.
        replicas: Replicas the batch is split over (1 without a strategy).
        accumulation: Micro-batches per optimizer step (1: the batch at once).
        scaled_from: The recipe's batch size when it was scaled for small data, else `None`.
        reason: Why it was scaled, else `None`.
        source: `recipe`, `scaled` or `given` (`--batch-size`).
    """

    batch_size: int
    epochs: int
    train_images: int
    replicas: int = 1
    accumulation: int = 1
    scaled_from: dict[str, int] | None = None
    reason: str | None = None
    source: str = "recipe"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch."""
        return max(1, math.ceil(self.train_images / self.batch_size))

    @property
    def micro_batch(self) -> int:
        """Images computed at once (over all replicas)."""
        return self.batch_size // self.accumulation

    @property
    def micro_steps_per_epoch(self) -> int:
        """Batches Keras runs per epoch (optimizer steps x micro-batches)."""
        return self.steps_per_epoch * self.accumulation

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "optimizer_steps": self.steps_per_epoch * self.epochs,
            "batch_size_source": self.source,
            "scaled_from": dict(self.scaled_from) if self.scaled_from else None,
            "reason": self.reason,
            "global_batch_size": self.batch_size,
            "per_replica_batch_size": self.batch_size // self.replicas,
            "gradient_accumulation_steps": self.accumulation,
            "micro_batch_size": self.micro_batch,
            "feed": FEED_NOTE,
            **self.extra,
        }


def small_data_batch(recipe_batch: int, train_images: int) -> int:
    """The batch size that gives `train_images` at least `MIN_STEPS_PER_EPOCH` steps (never above the recipe's).

    Example:

    >>> small_data_batch(500, 2500), small_data_batch(1000, 50000), small_data_batch(32, 2500)
    (50, 1000, 32)
    """
    if math.ceil(train_images / recipe_batch) >= MIN_STEPS_PER_EPOCH:
        return recipe_batch
    return max(MIN_BATCH_SIZE, min(recipe_batch, train_images // MIN_STEPS_PER_EPOCH))


def plan_batches(
    recipe_batch: int,
    epochs: int,
    train_images: int,
    *,
    given: int | None = None,
    scale_small: bool = True,
    replicas: int = 1,
    activation_bytes_per_image: int | None = None,
) -> TrainingPlan:
    """The batch plan of a run: small-data scaling, replicas, gradient accumulation.

    Args:
        recipe_batch: The recipe's batch size.
        epochs: Planned epochs.
        train_images: Training images per epoch.
        given: A batch size the user asked for (used as given). Defaults to `None`.
        scale_small: Scale the recipe's batch down on small data (`small_data_batch`).
            Defaults to `True`.
        replicas: Replicas of the distribution strategy; the global batch is
            rounded up to a multiple of it. Defaults to `1`.
        activation_bytes_per_image: Estimated training memory per image
            (`activation_bytes`); `None` never accumulates. Defaults to `None`.

    Returns:
        A `TrainingPlan`.

    Example:

    >>> plan = plan_batches(500, 5, 2500)
    >>> plan.batch_size, plan.steps_per_epoch, plan.scaled_from
    (50, 50, {'batch_size': 500, 'steps_per_epoch': 5})
    """
    scaled_from = reason = None
    if given is not None:
        batch, source = int(given), "given"
    else:
        batch = small_data_batch(recipe_batch, train_images) if scale_small else recipe_batch
        source = "recipe"
        if batch != recipe_batch:
            source = "scaled"
            scaled_from = {"batch_size": recipe_batch, "steps_per_epoch": math.ceil(train_images / recipe_batch)}
            before = scaled_from["steps_per_epoch"]
            reason = (
                f"{train_images} training images at the recipe's batch {recipe_batch} give "
                f"{before} optimizer step{'s' if before != 1 else ''} per epoch; batch scaled to {batch} "
                f"for {math.ceil(train_images / batch)} steps per epoch (the rule: at least "
                f"{MIN_STEPS_PER_EPOCH} steps per "
                f"epoch, batches of at least {MIN_BATCH_SIZE}; model, optimizer, pipeline and epochs "
                "unchanged)"
            )
    replicas = max(1, int(replicas))
    batch = max(batch, replicas)
    if batch % replicas:
        batch = math.ceil(batch / replicas) * replicas
    accumulation = 1
    if activation_bytes_per_image:
        largest = min(batch, max(train_images, 1)) // replicas  # images one replica computes at once
        accumulation = max(1, math.ceil(largest * activation_bytes_per_image / ACTIVATION_BUDGET_BYTES))
        while (batch // replicas) % accumulation:
            accumulation += 1
        if 0 < train_images % batch < accumulation * replicas:
            accumulation = 1  # the epoch's last batch cannot be split that far: train it whole
    return TrainingPlan(batch, epochs, train_images, replicas, accumulation, scaled_from, reason, source)


def activation_bytes(model: Any) -> int:
    """Estimated training memory per image: every layer's output values x `BYTES_PER_ACTIVATION`."""
    values = 0
    for layer in getattr(model, "layers", []):
        try:
            shape = layer.output.shape
        except Exception:  # a layer without a single symbolic output: skip it
            continue
        values += int(np.prod([d for d in shape[1:] if d is not None], dtype=np.int64))
    return values * BYTES_PER_ACTIVATION


def _source_and_fn(x: Any) -> tuple[np.ndarray, Any]:
    """The stored images and the per-batch preprocessing (`None`: fed as stored)."""
    if is_lazy(x) and not is_lazy(x.base):
        return np.asarray(x.base), x
    return np.asarray(x), None


def dataset(x: Any, y: Any, plan: TrainingPlan, *, shuffle: bool, seed: int = 0) -> Any:
    """A `tf.data.Dataset` of `(images, labels)` micro-batches read from one copy of `x`.

    Args:
        x: Images: a `MappedImages` (its uint8 source is stored once, its
            preprocessing applied per batch) or an array fed as it is.
        y: Labels.
        plan: The batch plan: each batch of `plan.batch_size` is split into
            `plan.accumulation` micro-batches.
        shuffle: Reshuffle the images every epoch (as `model.fit` does).
        seed: Shuffle seed. Defaults to `0`.
    """
    import tensorflow as tf

    source, mapped = _source_and_fn(x)
    labels = np.asarray(y)
    n = int(source.shape[0])
    idx = tf.data.Dataset.range(n)
    if shuffle:
        idx = idx.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    idx = idx.batch(plan.batch_size)
    k = plan.accumulation
    if k > 1:

        def split(b: Any) -> Any:
            size = tf.shape(b, out_type=tf.int64)[0]
            return tf.data.Dataset.range(k).map(lambda j: b[j * size // k : (j + 1) * size // k])

        idx = idx.flat_map(split)

    x_dtype = mapped.dtype if mapped is not None else source.dtype

    def gather(i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # NumPy reads the batch from the one stored copy (no TensorFlow copy of the images) and applies the
        # recipe's own preprocessing to it
        xb = source[i]
        return (mapped.fn(xb) if mapped is not None else xb).astype(x_dtype, copy=False), labels[i]

    def load(i: Any) -> tuple[Any, Any]:
        xb, yb = tf.numpy_function(gather, [i], (tf.as_dtype(x_dtype), tf.as_dtype(labels.dtype)), stateful=False)
        xb.set_shape((None, *source.shape[1:]))
        yb.set_shape((None, *labels.shape[1:]))
        return xb, yb

    ds = idx.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # flat_map hides the length from Keras, which then warns at every epoch end
    ds = ds.apply(tf.data.experimental.assert_cardinality(math.ceil(n / plan.batch_size) * k))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(2)


def eval_plan(plan: TrainingPlan) -> TrainingPlan:
    """Validation batches: the training micro-batch (no gradients, so it always fits)."""
    return TrainingPlan(plan.micro_batch, plan.epochs, plan.train_images, plan.replicas, 1)


__all__ = [
    "MappedImages",
    "TrainingPlan",
    "plan_batches",
    "small_data_batch",
    "activation_bytes",
    "dataset",
    "eval_plan",
]
