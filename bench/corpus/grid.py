"""The declarative grid of corpus runs: `GRID`, a list of `RunSpec`, every cause in `KINDS`.

Each *kind* is one concrete way a cause shows up in a real run (`test-not-rescaled`,
`val-split-class-sorted`, `heavy-dropout`, ...). `KINDS` gives its cause, severity, truth and how
many runs it gets; `VARIANTS` the function that turns a seeded `random.Random` into one run's data,
model and training settings. Settings vary what real runs vary (dataset, class count, grayscale,
16 or 32 px, image count, architecture, dropout and weight decay, optimizer, learning rate, batch,
epochs, label encoding), drawn from a stream seeded by the kind's name, so the grid is the same on
every machine and adding a kind never changes another kind's runs.

The truth of a run follows from what was injected, never from any tool's output:

- `expected` / `also_acceptable` / `must_not` use the cause ids of `cifar_doctor.diagnosis.CAUSES`
  (`noisy-labels` and `metric-not-applicable` included), with the accepted
  verdicts of the shared cases' README (e.g. a learning rate too high is right as
  `unstable-training`, `not-learning` or `numerical-instability`);
- `must_not`: a pipeline bug must never be called `overfitting` or `healthy`, genuine overfitting or
  a healthy run never a pipeline bug;
- `detectable_from`: `log` where the console log shows the effect by itself (gross bugs; mild ones
  usually do not), `history: false` where only a printed evaluate() shows it, `data` where the
  arrays alone show it (a scale, a duplicate, a class count), `model+data` where the model on its
  data does.

`GRID` is ordered round-robin over kinds, so that the first N runs of a generator cover every kind.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .shapes import CAPTURED_V1, HISTORY_SHAPES, OPTIONAL_SHAPES
from .spec import DataSpec, Injection, ModelSpec, RunSpec, Split, TrainSpec, Truth

#: Causes the grid injects (the truth ids), in the order of the brief's list.
CAUSES_INJECTED = (
    "eval-input-scale-mismatch",
    "input-not-normalized",
    "label-format-mismatch",
    "output-loss-mismatch",
    "eval-labels-misaligned",
    "eval-distribution-shift",
    "train-test-leakage",
    "not-learning",
    "unstable-training",
    "numerical-instability",
    "overfitting",
    "underfitting",
    "regularization-gap",
    "class-imbalance",
    "noisy-labels",
    "metric-not-applicable",
    "healthy",
)

#: Verdicts that name a bug in the data, labels, loss or eval pipeline: never right for a run without one.
PIPELINE = (
    "eval-input-scale-mismatch",
    "input-not-normalized",
    "label-format-mismatch",
    "output-loss-mismatch",
    "train-test-leakage",
    "eval-labels-misaligned",
    "eval-distribution-shift",
)

#: CIFAR-10 class subsets (original ids): 3 classes airplane/cat/truck, 2 classes automobile/horse.
C3 = (0, 3, 9)
C2 = (1, 7)

#: Pre-training classes of a fine-tuned base: the CIFAR-10 classes outside the task's.
PRETRAIN = {C3: (1, 2, 4, 5, 6, 7, 8), C2: (0, 2, 3, 4, 5, 6, 8, 9)}

#: Share of runs also trained a second time with verbose=1 under a pseudo-terminal (among those of
#: at most `VERBOSE1_MAX_EPOCHS` epochs): a second training costs its whole time again.
VERBOSE1_SHARE = 0.15
VERBOSE1_MAX_EPOCHS = 20
VERBOSE1_MAX_SECONDS = 20

ALL = {"log": True, "data": True, "model+data": True}
LOG_MODEL = {"log": True, "data": False, "model+data": True}
DATA_MODEL = {"log": False, "data": True, "model+data": True}
MODEL_ONLY = {"log": False, "data": False, "model+data": True}
EVAL_ONLY = {"log": True, "history": False, "data": True, "model+data": True}


@dataclass(frozen=True)
class Kind:
    """One concrete bug (or control): its cause, severity, truth and number of runs."""

    cause: str
    severity: str
    expected: tuple[str, ...]
    also: tuple[str, ...]
    must_not: tuple[str, ...]
    detectable: dict[str, bool]
    count: int
    note: str

    def truth(self) -> Truth:
        return Truth(self.expected, self.also, self.must_not, tuple(self.detectable.items()))


def _k(
    cause: str,
    severity: str,
    expected: tuple[str, ...],
    also: tuple[str, ...],
    must_not: tuple[str, ...],
    detectable: dict[str, bool],
    count: int,
    note: str,
) -> Kind:
    return Kind(cause, severity, expected, also, must_not, detectable, count, note)


SCALE_BAD = ("overfitting", "healthy")
NOT_PIPELINE = PIPELINE + ("healthy",)

KINDS: dict[str, Kind] = {
    # eval-input-scale-mismatch
    "test-not-rescaled": _k(
        "eval-input-scale-mismatch",
        "gross",
        ("eval-input-scale-mismatch",),
        ("eval-distribution-shift",),
        SCALE_BAD,
        ALL,
        24,
        "training inputs scaled, eval inputs left raw (the `x_test /= 255` line missing)",
    ),
    "evaluate-not-rescaled": _k(
        "eval-input-scale-mismatch",
        "gross",
        ("eval-input-scale-mismatch",),
        ("eval-distribution-shift",),
        SCALE_BAD,
        EVAL_ONLY,
        10,
        "validation is a clean slice of the training data; only the test set passed to evaluate() is left raw",
    ),
    "train-not-rescaled": _k(
        "eval-input-scale-mismatch",
        "gross",
        ("eval-input-scale-mismatch",),
        ("input-not-normalized", "eval-distribution-shift"),
        SCALE_BAD,
        ALL,
        6,
        "training inputs raw 0-255 (a typo in the rescaling line), eval inputs scaled",
    ),
    "test-half-scale": _k(
        "eval-input-scale-mismatch",
        "mild",
        ("eval-input-scale-mismatch",),
        ("eval-distribution-shift",),
        ("overfitting",),
        DATA_MODEL,
        10,
        "training inputs /255, eval inputs /127.5 (or /127.5 - 1): another helper's scaling",
    ),
    "per-split-standardize": _k(
        "eval-input-scale-mismatch",
        "mild",
        ("eval-input-scale-mismatch",),
        ("healthy", "eval-distribution-shift"),
        ("overfitting",),
        {"log": False, "data": False, "model+data": False},
        6,
        "each split standardized with its own mean and std instead of the training "
        "split's (nearly harmless on a random split: a control for false alarms)",
    ),
    "tabular-test-unscaled": _k(
        "eval-input-scale-mismatch",
        "gross",
        ("eval-input-scale-mismatch",),
        ("eval-distribution-shift",),
        SCALE_BAD,
        ALL,
        6,
        "tabular features standardized for training, eval features left raw",
    ),
    # input-not-normalized
    "inputs-raw-sgd": _k(
        "input-not-normalized",
        "gross",
        ("input-not-normalized",),
        ("not-learning", "unstable-training", "numerical-instability", "underfitting"),
        ("eval-input-scale-mismatch", "overfitting", "healthy"),
        ALL,
        8,
        "both splits raw 0-255 (or raw tabular features), trained with SGD",
    ),
    "inputs-raw-adaptive": _k(
        "input-not-normalized",
        "mild",
        ("input-not-normalized",),
        ("not-learning", "underfitting", "healthy"),
        ("eval-input-scale-mismatch",),
        DATA_MODEL,
        8,
        "both splits raw 0-255 (or raw tabular features), trained with Adam/RMSprop, which often learns anyway",
    ),
    # label-format-mismatch
    "binary-labels-categorical-one-unit": _k(
        "label-format-mismatch",
        "gross",
        ("label-format-mismatch",),
        ("output-loss-mismatch", "not-learning"),
        SCALE_BAD,
        LOG_MODEL,
        6,
        "binary 0/1 labels of shape (N, 1) with categorical_crossentropy "
        "and one output unit: Keras accepts it, the loss is always 0",
    ),
    "onehot-binary-crossentropy": _k(
        "label-format-mismatch",
        "gross",
        ("label-format-mismatch", "output-loss-mismatch"),
        (),
        ("healthy",),
        LOG_MODEL,
        8,
        "one-hot multiclass labels with binary_crossentropy; `accuracy` is the "
        "per-output binary accuracy Keras <= 2.3 picked (inflated)",
    ),
    # output-loss-mismatch
    "linear-output-no-logits": _k(
        "output-loss-mismatch",
        "gross",
        ("output-loss-mismatch",),
        ("not-learning", "underfitting", "numerical-instability"),
        SCALE_BAD,
        LOG_MODEL,
        8,
        "linear output layer with a crossentropy loss and from_logits=False",
    ),
    "softmax-with-from-logits": _k(
        "output-loss-mismatch",
        "mild",
        ("healthy",),
        ("output-loss-mismatch", "underfitting"),
        ("eval-input-scale-mismatch", "input-not-normalized", "overfitting", "not-learning"),
        MODEL_ONLY,
        6,
        "softmax output with from_logits=True: Keras 3 on TensorFlow takes the "
        "logits behind the softmax, so there is no symptom (as in the shared case 10)",
    ),
    "single-softmax-unit-binary": _k(
        "output-loss-mismatch",
        "gross",
        ("output-loss-mismatch",),
        ("not-learning", "label-format-mismatch"),
        SCALE_BAD,
        LOG_MODEL,
        5,
        "one softmax unit on a binary task: the output is always 1",
    ),
    "sigmoid-unit-integer-labels": _k(
        "output-loss-mismatch",
        "gross",
        ("output-loss-mismatch", "label-format-mismatch"),
        ("not-learning",),
        SCALE_BAD,
        LOG_MODEL,
        5,
        "one sigmoid unit with binary_crossentropy on integer labels 0-9",
    ),
    # eval-labels-misaligned
    "eval-labels-shuffled": _k(
        "eval-labels-misaligned",
        "gross",
        ("eval-labels-misaligned",),
        ("eval-distribution-shift",),
        SCALE_BAD,
        LOG_MODEL,
        12,
        "eval labels shuffled apart from their images",
    ),
    "eval-images-scrambled": _k(
        "eval-labels-misaligned",
        "gross",
        ("eval-labels-misaligned", "eval-distribution-shift"),
        ("input-layout-mismatch",),
        SCALE_BAD,
        ALL,
        5,
        "eval images stored channels-first and reshaped to channels-last without a "
        "transpose: the pixels no longer show what the labels say",
    ),
    "eval-images-transposed": _k(
        "eval-labels-misaligned",
        "mild",
        ("eval-labels-misaligned", "eval-distribution-shift"),
        ("input-layout-mismatch",),
        ("overfitting",),
        MODEL_ONLY,
        6,
        "eval images with rows and columns swapped (a transposed loader)",
    ),
    # eval-distribution-shift
    "val-split-class-sorted": _k(
        "eval-distribution-shift",
        "gross",
        ("eval-distribution-shift",),
        ("class-imbalance", "eval-labels-misaligned"),
        ("overfitting", "eval-input-scale-mismatch", "healthy"),
        ALL,
        12,
        "training array sorted by class, then fit(validation_split=...): validation holds the last classes only",
    ),
    "eval-bgr": _k(
        "eval-distribution-shift",
        "mild",
        ("eval-distribution-shift", "eval-input-scale-mismatch"),
        (),
        ("overfitting", "healthy", "input-not-normalized"),
        DATA_MODEL,
        8,
        "eval images in BGR channel order (OpenCV), training images RGB",
    ),
    # train-test-leakage
    "eval-from-train": _k(
        "train-test-leakage",
        "gross",
        ("train-test-leakage",),
        ("overfitting",),
        ("eval-input-scale-mismatch", "input-not-normalized", "healthy"),
        ALL,
        6,
        "the eval split is drawn wholly from the training images",
    ),
    "eval-partly-from-train": _k(
        "train-test-leakage",
        "mild",
        ("train-test-leakage",),
        ("overfitting",),
        ("eval-input-scale-mismatch", "input-not-normalized"),
        DATA_MODEL,
        8,
        "30-60% of the eval split are copies of training images",
    ),
    # learning rate, numerics
    "lr-too-low": _k(
        "not-learning",
        "gross",
        ("not-learning", "underfitting"),
        (),
        ("healthy", "overfitting", "eval-input-scale-mismatch", "input-not-normalized"),
        LOG_MODEL,
        10,
        "learning rate 1e-6 to 1e-5: the loss barely moves",
    ),
    "lr-too-high": _k(
        "unstable-training",
        "gross",
        ("unstable-training", "not-learning", "numerical-instability"),
        ("underfitting",),
        ("healthy", "overfitting", "eval-input-scale-mismatch"),
        LOG_MODEL,
        16,
        "learning rate far too high for the optimizer (SGD 1-10, Adam/RMSprop 0.1-1)",
    ),
    "nan-inputs": _k(
        "numerical-instability",
        "gross",
        ("numerical-instability",),
        ("not-learning",),
        SCALE_BAD,
        ALL,
        8,
        "a few training values are NaN: the loss turns NaN",
    ),
    # fit
    "overfit-small-data": _k(
        "overfitting",
        "gross",
        ("overfitting",),
        (),
        NOT_PIPELINE,
        LOG_MODEL,
        22,
        "a small training set, a large model and many epochs",
    ),
    "finetune-overfit": _k(
        "overfitting",
        "gross",
        ("overfitting",),
        (),
        NOT_PIPELINE,
        LOG_MODEL,
        5,
        "a frozen pre-trained base with a wide new head on a few hundred images, trained "
        "until training accuracy reaches 1.0",
    ),
    "underfit-tiny": _k(
        "underfitting",
        "gross",
        ("underfitting",),
        ("not-learning",),
        PIPELINE + ("overfitting",),
        LOG_MODEL,
        14,
        "a tiny model (a few filters, or one Dense layer) for few epochs",
    ),
    "heavy-dropout": _k(
        "regularization-gap",
        "gross",
        ("regularization-gap",),
        ("healthy", "underfitting"),
        ("eval-input-scale-mismatch", "input-not-normalized", "overfitting", "train-test-leakage"),
        LOG_MODEL,
        10,
        "dropout 0.6-0.8: training accuracy (dropout on) below validation",
    ),
    "augment-train-only": _k(
        "regularization-gap",
        "mild",
        ("regularization-gap", "eval-distribution-shift"),
        ("healthy", "underfitting"),
        ("eval-input-scale-mismatch", "input-not-normalized", "overfitting", "train-test-leakage"),
        LOG_MODEL,
        6,
        "random flips and shifts on training inputs only",
    ),
    "bn-inference-gap": _k(
        "regularization-gap",
        "gross",
        ("regularization-gap", "eval-distribution-shift"),
        (),
        (
            "overfitting",
            "healthy",
            "eval-input-scale-mismatch",
            "input-not-normalized",
            "train-test-leakage",
            "label-format-mismatch",
        ),
        LOG_MODEL,
        6,
        "BatchNormalization with few optimizer steps (small data, large batches, momentum "
        "0.99): its moving statistics lag, inference differs from training",
    ),
    "class-imbalance": _k(
        "class-imbalance",
        "gross",
        ("class-imbalance",),
        ("eval-distribution-shift",),
        ("eval-input-scale-mismatch", "input-not-normalized", "label-format-mismatch", "healthy"),
        ALL,
        10,
        "training classes 95/5 (binary) or a long tail down to 5%",
    ),
    "class-imbalance-mild": _k(
        "class-imbalance",
        "mild",
        ("class-imbalance",),
        ("eval-distribution-shift", "healthy"),
        ("eval-input-scale-mismatch", "input-not-normalized", "label-format-mismatch"),
        DATA_MODEL,
        6,
        "training classes falling to 20-30% of the commonest",
    ),
    "noisy-labels-symmetric": _k(
        "noisy-labels",
        "mild",
        ("noisy-labels",),
        ("overfitting", "underfitting", "healthy"),
        ("eval-input-scale-mismatch", "input-not-normalized", "label-format-mismatch", "output-loss-mismatch"),
        MODEL_ONLY,
        14,
        "a fraction (0.1, 0.2, 0.4) of training labels flipped to another class",
    ),
    "noisy-labels-pairs": _k(
        "noisy-labels",
        "mild",
        ("noisy-labels",),
        ("overfitting", "underfitting", "healthy"),
        ("eval-input-scale-mismatch", "input-not-normalized", "label-format-mismatch", "output-loss-mismatch"),
        MODEL_ONLY,
        12,
        "a fraction of training labels flipped within confusable pairs (cat<->dog, automobile<->truck, ...)",
    ),
    "regression-with-accuracy": _k(
        "metric-not-applicable",
        "gross",
        ("metric-not-applicable",),
        ("insufficient-evidence", "healthy"),
        ("not-learning", "eval-labels-misaligned", "overfitting"),
        ALL,
        12,
        "a regression target trained with MSE and logged with an `accuracy` metric",
    ),
    # controls
    # A correct pipeline may still overfit a little (nothing in a control stops it): for the controls
    # `overfitting` is acceptable, every pipeline verdict forbidden.
    "healthy": _k(
        "healthy",
        "none",
        ("healthy",),
        ("regularization-gap", "underfitting", "overfitting"),
        PIPELINE,
        ALL,
        80,
        "a correct pipeline trained for a moderate number of epochs",
    ),
    "healthy-finetune": _k(
        "healthy",
        "none",
        ("healthy",),
        ("regularization-gap", "underfitting", "overfitting"),
        PIPELINE,
        ALL,
        6,
        "a frozen pre-trained base with a new head",
    ),
    "healthy-val-above-train": _k(
        "healthy",
        "none",
        ("healthy", "regularization-gap"),
        ("underfitting",),
        PIPELINE + ("overfitting",),
        ALL,
        8,
        "dropout and augmentation: validation above training, as it should be",
    ),
    "healthy-small-val": _k(
        "healthy",
        "none",
        ("healthy",),
        ("regularization-gap", "underfitting", "overfitting"),
        PIPELINE,
        ALL,
        8,
        "a validation set of 100-200 images: noisy validation curves",
    ),
    "healthy-long-plateau": _k(
        "healthy",
        "none",
        ("healthy",),
        ("underfitting", "overfitting", "regularization-gap"),
        PIPELINE,
        ALL,
        8,
        "long runs (60-150 epochs) on tiny data whose loss plateaus",
    ),
    "healthy-large-batch": _k(
        "healthy",
        "none",
        ("healthy",),
        ("underfitting", "regularization-gap", "overfitting"),
        PIPELINE,
        ALL,
        6,
        "5,000-10,000 images in batches of 500-1,000, or batch 1 on tiny data",
    ),
}


# ------------------------------------------------------------------------------------------
# Variety: what real runs vary
# ------------------------------------------------------------------------------------------
class Draw:
    """A seeded stream of choices for one kind."""

    def __init__(self, name: str, draw: int = 0) -> None:
        key = name if draw == 0 else f"{name}#draw{draw}"
        self.r = random.Random(zlib.crc32(key.encode()))
        self.seed_base = zlib.crc32(key.encode()) % 100_000

    def pick(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[self.r.randrange(len(options))]

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def between(self, lo: int, hi: int) -> int:
        return self.r.randint(lo, hi)

    def log_uniform(self, lo: float, hi: float) -> float:
        import math

        return float(f"{math.exp(self.r.uniform(math.log(lo), math.log(hi))):.2g}")


#: Image tasks: (dataset, classes, gray, size); listed twice where they should come up twice as often
#: (32 px costs four times 16 px, so it comes up least).
IMAGE_TASKS = [
    ("cifar10", (), False, 16),
    ("cifar10", (), False, 16),
    ("cifar10", (), True, 16),
    ("cifar10", C3, False, 16),
    ("cifar10", C3, False, 16),
    ("cifar10", C3, True, 16),
    ("cifar10", C2, False, 16),
    ("cifar10", C2, False, 16),
    ("cifar10", C2, True, 16),
    ("cifar10", (), False, 32),
    ("digits", (), True, 8),
    ("digits", (), True, 8),
]
CIFAR_TASKS = [t for t in IMAGE_TASKS if t[0] == "cifar10"]
TABULAR = ["breast_cancer", "wine"]


def unit_scale(d: Draw, dataset: str) -> tuple[tuple[Any, ...], ...]:
    """A correct normalization of a dataset's inputs, as users write it."""
    if dataset in ("digits", "digits-sum"):
        return (("div", 16),)
    if dataset in ("breast_cancer", "wine", "diabetes"):
        return (("standardize", "train"),)
    return d.pick(
        [
            (("div", 255),),
            (("div", 255),),
            (("div", 255),),
            (("affine", 1 / 127.5, -1.0),),
            (("float32",), ("standardize", "train")),
        ]
    )


def image_data(
    d: Draw,
    i: int,
    *,
    tasks: list | None = None,
    n: tuple[int, int] = (800, 2500),
    n_eval: tuple[int, int] = (300, 1000),
    **kw: Any,
) -> DataSpec:
    dataset, classes, gray, size = d.pick(tasks or IMAGE_TASKS)
    if dataset == "digits":
        n_train = min(d.between(*n), 1200)
        ne = min(d.between(*n_eval), 440)
    else:
        n_train, ne = d.between(*n), d.between(*n_eval)
        if size == 32:
            n_train = min(n_train, 1200)
    rule = d.pick(["random", "random", "first"])
    x = unit_scale(d, dataset)
    spec = DataSpec(
        dataset=dataset,
        classes=classes,
        gray=gray,
        size=size,
        train=Split(n_train, rule),
        eval=Split(ne, rule),
        x_train=x,
        x_eval=x,
        seed=d.seed_base + i,
    )
    return replace(spec, **kw) if kw else spec


def tabular_data(d: Draw, i: int, dataset: str | None = None, **kw: Any) -> DataSpec:
    dataset = dataset or d.pick(TABULAR)
    pool = {"breast_cancer": 427, "wine": 134, "diabetes": 332}[dataset]
    x = unit_scale(d, dataset)
    spec = DataSpec(
        dataset=dataset,
        train=Split(pool, "random"),
        eval=Split(pool // 3 + 1, "random"),
        x_train=x,
        x_eval=x,
        seed=d.seed_base + i,
    )
    return replace(spec, **kw) if kw else spec


def classes_of(data: DataSpec) -> int:
    from .data import num_classes

    return num_classes(data)


#: Width choices (first Dense units, or first convolution's filters) by model kind.
WIDTHS = {
    "mlp": [32, 64, 128, 256],
    "cnn": [8, 16, 32],
    "cnn-bn": [8, 16, 32],
    "resnet": [8, 16],
    "tiny-cnn": [2, 4],
    "logreg": [0],
    "finetune": [32, 64],
}


def image_model(d: Draw, data: DataSpec, kinds: list[str] | None = None, **kw: Any) -> ModelSpec:
    kinds = kinds or ["mlp", "cnn", "cnn", "cnn-bn", "resnet"]
    kind = d.pick(kinds)
    if data.dataset not in ("cifar10", "cifar10-sample", "digits", "digits-sum"):
        kind = "mlp" if kind not in ("logreg",) else kind
    width = d.pick(WIDTHS[kind])
    depth = d.pick([1, 2, 2]) if kind == "mlp" else 2
    spec = ModelSpec(
        kind,
        width=width,
        depth=depth,
        dropout=d.pick([0.0, 0.0, 0.25, 0.5]) if kind != "logreg" else 0.0,
        weight_decay=d.pick([0.0, 0.0, 0.0, 1e-4, 1e-3]),
        units=classes_of(data),
    )
    return replace(spec, **kw) if kw else spec


OPTIMIZERS = [
    ("adam", 1e-3),
    ("adam", 1e-3),
    ("adam", 3e-4),
    ("rmsprop", 1e-3),
    ("sgd", 0.05),
    ("sgd-momentum", 0.01),
    ("sgd-momentum", 0.02),
    ("adadelta", 1.0),
]


def training(d: Draw, *, epochs: tuple[int, int] = (5, 12), batches: list[int] | None = None, **kw: Any) -> TrainSpec:
    opt, lr = d.pick(OPTIMIZERS)
    spec = TrainSpec(opt, lr, d.pick(batches or [32, 64, 64, 128]), d.between(*epochs))
    return replace(spec, **kw) if kw else spec


def label_setup(d: Draw, data: DataSpec, model: ModelSpec, train: TrainSpec) -> tuple[DataSpec, ModelSpec, TrainSpec]:
    """A correct label encoding, loss and output layer for the task (varied as users vary them)."""
    k = classes_of(data)
    if k == 2 and d.chance(0.5):
        return (
            replace(data, label_format=d.pick(["int", "column"])),
            replace(model, units=1, activation="sigmoid"),
            replace(train, loss="binary_crossentropy", metric="accuracy"),
        )
    if d.chance(0.4):
        metric = d.pick(["accuracy", "accuracy", "categorical_accuracy"])
        return (
            replace(data, label_format="onehot"),
            replace(model, units=k, activation="softmax"),
            replace(train, loss="categorical_crossentropy", metric=metric),
        )
    if d.chance(0.15):  # logits out, from_logits=True: the other correct way
        return (
            replace(data, label_format="int"),
            replace(model, units=k, activation="linear"),
            replace(train, loss="sparse_categorical_crossentropy", from_logits=True),
        )
    metric = d.pick(["accuracy", "accuracy", "accuracy", "sparse_categorical_accuracy"])
    return (
        replace(data, label_format="int"),
        replace(model, units=k, activation="softmax"),
        replace(train, loss="sparse_categorical_crossentropy", metric=metric),
    )


#: The residual CNN is the costliest model per image (about 3x a plain CNN on CPU): its runs keep to
#: this many images and epochs.
RESNET_MAX_IMAGES = 1200
RESNET_MAX_EPOCHS = 6


def standard(
    d: Draw,
    i: int,
    *,
    data: DataSpec | None = None,
    model_kinds: list[str] | None = None,
    tabular: float = 0.15,
    **train_kw: Any,
) -> tuple[DataSpec, ModelSpec, TrainSpec]:
    """A correct run: image or tabular data, a model and a training setup."""
    if data is None:
        data = tabular_data(d, i) if d.chance(tabular) else image_data(d, i)
    model = image_model(d, data, model_kinds)
    train = training(d, **train_kw)
    if data.size == 32 and model.kind in ("resnet", "cnn-bn"):
        model = replace(model, kind="cnn")  # BatchNorm and residual stacks at 32 px cost too much CPU
    if model.kind == "resnet":
        data = replace(data, train=replace(data.train, n=min(data.train.n, RESNET_MAX_IMAGES)))
        train = replace(train, epochs=min(train.epochs, RESNET_MAX_EPOCHS))
    if data.dataset in TABULAR:
        train = replace(train, batch=d.pick([16, 32, 64]), epochs=max(train.epochs, d.between(15, 40)))
    return label_setup(d, data, model, train)


Variant = Callable[[Draw, int], tuple[DataSpec, ModelSpec, TrainSpec]]


def v_test_not_rescaled(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0)
    raw = (("float32",),) if d.chance(0.8) else (("uint8",),)
    return replace(data, x_eval=raw), model, train


def v_evaluate_not_rescaled(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0)
    if d.chance(0.5):
        return (
            replace(data, x_eval=(("float32",),), holdout=Split(d.between(300, 600))),
            model,
            replace(train, validation="holdout"),
        )
    return replace(data, x_eval=(("float32",),)), model, replace(train, validation=f"split:{d.pick([0.1, 0.2])}")


def v_train_not_rescaled(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0)
    scaled = (("div", 16),) if data.dataset == "digits" else (("div", 255),)
    return replace(data, x_train=d.pick([(("float32",),), (("uint8",),)]), x_eval=scaled), model, train


def v_test_half_scale(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0, data=image_data(d, i, tasks=CIFAR_TASKS))
    ev = d.pick([(("div", 127.5),), (("affine", 1 / 127.5, -1.0),)])
    return replace(data, x_train=(("div", 255),), x_eval=ev), model, train


def v_per_split_standardize(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.3)
    if data.dataset in TABULAR:
        return replace(data, x_train=(("standardize", "self"),), x_eval=(("standardize", "self"),)), model, train
    ops = (("float32",), ("standardize", "self"))
    return replace(data, x_train=ops, x_eval=ops, eval=Split(d.between(150, 400), "random")), model, train


def v_tabular_test_unscaled(d: Draw, i: int):
    data, model, train = standard(d, i, data=tabular_data(d, i))
    return replace(data, x_eval=(("float32",),)), model, train


def v_inputs_raw_sgd(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.25)
    raw = (("float32",),) if data.dataset in TABULAR or d.chance(0.7) else (("uint8",),)
    opt, lr = d.pick([("sgd", 0.01), ("sgd", 0.05), ("sgd-momentum", 0.01)])
    return replace(data, x_train=raw, x_eval=raw), model, replace(train, optimizer=opt, lr=lr)


def v_inputs_raw_adaptive(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.25)
    raw = (("float32",),) if data.dataset in TABULAR or d.chance(0.7) else (("uint8",),)
    opt, lr = d.pick([("adam", 1e-3), ("rmsprop", 1e-3), ("adam", 3e-4)])
    return replace(data, x_train=raw, x_eval=raw), model, replace(train, optimizer=opt, lr=lr)


def _binary_data(d: Draw, i: int) -> DataSpec:
    if d.chance(0.3):
        return tabular_data(d, i, dataset="breast_cancer")
    return image_data(d, i, tasks=[t for t in CIFAR_TASKS if t[1] == C2])


def v_binary_labels_categorical(d: Draw, i: int):
    data = _binary_data(d, i)
    data, model, train = standard(d, i, data=data)
    return (
        replace(data, label_format="column"),
        replace(model, units=1, activation=d.pick(["sigmoid", "softmax"])),
        replace(train, loss="categorical_crossentropy", metric="accuracy", from_logits=False),
    )


def v_onehot_bce(d: Draw, i: int):
    data = image_data(d, i, tasks=[t for t in IMAGE_TASKS if t[1] != C2])
    data, model, train = standard(d, i, data=data)
    return (
        replace(data, label_format="onehot"),
        replace(model, activation=d.pick(["softmax", "sigmoid"]), units=classes_of(data)),
        replace(train, loss="binary_crossentropy", metric="binary-accuracy-named-accuracy", from_logits=False),
    )


def v_linear_no_logits(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15)
    fmt = d.pick(["int", "onehot"])
    loss = "sparse_categorical_crossentropy" if fmt == "int" else "categorical_crossentropy"
    return (
        replace(data, label_format=fmt),
        replace(model, activation="linear", units=classes_of(data)),
        replace(train, loss=loss, from_logits=False, metric="accuracy"),
    )


def v_softmax_from_logits(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0)
    return (
        replace(data, label_format="int"),
        replace(model, activation="softmax", units=classes_of(data)),
        replace(train, loss="sparse_categorical_crossentropy", from_logits=True, metric="accuracy"),
    )


def v_single_softmax_binary(d: Draw, i: int):
    data, model, train = standard(d, i, data=_binary_data(d, i))
    return (
        replace(data, label_format=d.pick(["int", "column"])),
        replace(model, units=1, activation="softmax"),
        replace(train, loss="binary_crossentropy", metric="accuracy", from_logits=False),
    )


def v_sigmoid_int_labels(d: Draw, i: int):
    data = image_data(d, i, tasks=[t for t in IMAGE_TASKS if not t[1]])
    data, model, train = standard(d, i, data=data)
    return (
        replace(data, label_format="int"),
        replace(model, units=1, activation="sigmoid"),
        replace(train, loss="binary_crossentropy", metric="accuracy", from_logits=False),
    )


def v_eval_labels_shuffled(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15)
    return replace(data, y_eval=(("shuffle",),)), model, train


def v_eval_scrambled(d: Draw, i: int):
    data, model, train = standard(d, i, data=image_data(d, i, tasks=[t for t in CIFAR_TASKS if not t[2]]))
    return replace(data, x_eval=data.x_eval + (("scramble-chw",),)), model, train


def v_eval_transposed(d: Draw, i: int):
    data, model, train = standard(d, i, data=image_data(d, i, tasks=CIFAR_TASKS))
    return replace(data, x_eval=data.x_eval + (("transpose-hw",),)), model, train


def v_val_split_sorted(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.2)
    tr = replace(data.train, sort_by_class=True)
    return replace(data, train=tr), model, replace(train, validation=f"split:{d.pick([0.1, 0.2, 0.2, 0.3])}")


def v_eval_bgr(d: Draw, i: int):
    data, model, train = standard(d, i, data=image_data(d, i, tasks=[t for t in CIFAR_TASKS if not t[2]]))
    return replace(data, x_eval=data.x_eval + (("bgr",),)), model, train


def v_eval_from_train(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15)
    return replace(data, eval=replace(data.eval, leak=1.0)), model, train


def v_eval_partly_from_train(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15)
    return replace(data, eval=replace(data.eval, leak=d.pick([0.3, 0.3, 0.6]))), model, train


def v_lr_too_low(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15)
    opt, lr = d.pick([("adam", 1e-6), ("sgd", 1e-5), ("sgd", 1e-6), ("rmsprop", 1e-6), ("adam", 3e-6)])
    return data, model, replace(train, optimizer=opt, lr=lr)


def v_lr_too_high(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15)
    opt, lr = d.pick(
        [
            ("sgd", 1.0),
            ("sgd", 3.0),
            ("sgd", 10.0),
            ("sgd-momentum", 1.0),
            ("adam", 0.1),
            ("adam", 0.5),
            ("adam", 1.0),
            ("rmsprop", 0.1),
            ("rmsprop", 0.5),
        ]
    )
    return data, model, replace(train, optimizer=opt, lr=lr)


def v_nan_inputs(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.2)
    return replace(data, x_train=data.x_train + (("nan", d.pick([0.001, 0.01, 0.05])),)), model, train


def v_overfit(d: Draw, i: int):
    if d.chance(0.25):
        data = tabular_data(d, i, train=Split(d.between(60, 120), "random"))
        epochs = (80, 150)
    else:
        data = image_data(d, i, n=(500, 800), n_eval=(300, 600))
        epochs = (20, 40)
    data, model, train = standard(d, i, data=data, model_kinds=["mlp", "cnn", "cnn"], epochs=epochs)
    wide = replace(model, dropout=0.0, weight_decay=0.0, width=256 if model.kind == "mlp" else 32, depth=2)
    opt, lr = d.pick([("adam", 1e-3), ("rmsprop", 1e-3), ("sgd-momentum", 0.02)])
    return data, wide, replace(train, optimizer=opt, lr=lr, epochs=d.between(*epochs), batch=d.pick([16, 32, 64]))


def _finetune(d: Draw, i: int, n: tuple[int, int], epochs: tuple[int, int], width: int, dropout: float):
    classes = d.pick([C3, C2])
    gray = d.chance(0.3)
    data = DataSpec(
        dataset="cifar10",
        classes=classes,
        gray=gray,
        size=16,
        train=Split(d.between(*n), "random"),
        eval=Split(d.between(300, 600), "random"),
        x_train=(("div", 255),),
        x_eval=(("div", 255),),
        pretrain=PRETRAIN[classes],
        pretrain_n=d.pick([1500, 2000, 3000]),
        seed=d.seed_base + i,
    )
    model = ModelSpec("finetune", width=width, dropout=dropout, units=len(classes))
    opt, lr = d.pick([("adam", 1e-3), ("adam", 3e-3), ("rmsprop", 1e-3)])
    train = TrainSpec(opt, lr, 32, d.between(*epochs), pretrain_epochs=d.pick([3, 4, 5]))
    return label_setup(d, data, model, train)


def v_finetune_overfit(d: Draw, i: int):
    return _finetune(d, i, (150, 300), (30, 50), 256, 0.0)


def v_healthy_finetune(d: Draw, i: int):
    return _finetune(d, i, (1500, 3000), (4, 8), 64, 0.25)


def v_underfit(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0, data=image_data(d, i, tasks=[t for t in IMAGE_TASKS if not t[1]]))
    small = d.pick([ModelSpec("tiny-cnn", width=d.pick([2, 4])), ModelSpec("logreg", width=0)])
    return (
        data,
        replace(small, units=model.units, activation=model.activation),
        replace(train, epochs=d.between(2, 4), optimizer="sgd", lr=d.pick([0.005, 0.01])),
    )


def v_heavy_dropout(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.15, model_kinds=["mlp", "cnn"])
    return data, replace(model, dropout=d.pick([0.6, 0.7, 0.8]), width=max(model.width, 32)), train


def v_augment_train_only(d: Draw, i: int):
    data, model, train = standard(d, i, data=image_data(d, i, tasks=CIFAR_TASKS), model_kinds=["cnn", "cnn-bn"])
    return data, replace(model, augment=True, dropout=0.0), train


def v_bn_gap(d: Draw, i: int):
    # below 32 px: `standard` builds the plain CNN (no BatchNormalization) for 32-px images
    tasks = [t for t in CIFAR_TASKS if t[3] < 32]
    data, model, train = standard(
        d, i, data=image_data(d, i, tasks=tasks, n=(500, 1000)), model_kinds=["cnn-bn", "resnet"]
    )
    return (
        data,
        replace(model, bn_momentum=0.99, dropout=0.0),
        replace(train, batch=d.pick([128, 256]), epochs=d.between(3, 6), optimizer="adam", lr=d.pick([1e-3, 3e-3])),
    )


def _imbalanced(d: Draw, i: int, ratios: list[float]):
    if d.chance(0.2):
        data = tabular_data(d, i, dataset="breast_cancer")
    else:
        data = image_data(d, i, tasks=[t for t in CIFAR_TASKS if t[1] in ((), C2, C3)], n=(1500, 3000))
    ratio = d.pick(ratios)
    tr = Split(data.train.n, "imbalanced", imbalance=ratio)
    ev = Split(data.eval.n, "imbalanced", imbalance=ratio) if d.chance(0.4) else data.eval
    return standard(d, i, data=replace(data, train=tr, eval=ev))


def v_imbalance(d: Draw, i: int):
    return _imbalanced(d, i, [0.05, 0.05, 0.1])


def v_imbalance_mild(d: Draw, i: int):
    return _imbalanced(d, i, [0.2, 0.3])


def v_noisy_sym(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.1, epochs=(8, 20))
    return replace(data, y_train=(("flip", d.pick([0.1, 0.2, 0.4]), "symmetric"),)), model, train


def v_noisy_pairs(d: Draw, i: int):
    data = image_data(d, i, tasks=[t for t in IMAGE_TASKS if not t[1]])
    data, model, train = standard(d, i, data=data, epochs=(8, 20))
    return replace(data, y_train=(("flip", d.pick([0.1, 0.2, 0.4]), "pairs"),)), model, train


def v_regression(d: Draw, i: int):
    if d.chance(0.5):
        data = tabular_data(d, i, dataset="diabetes")
        model = ModelSpec("mlp", width=d.pick([16, 32, 64]), depth=d.pick([1, 2]), units=1, activation="linear")
        epochs = (30, 100)
    else:
        data = DataSpec(
            dataset="digits-sum",
            gray=True,
            size=8,
            train=Split(d.between(600, 1200), "random"),
            eval=Split(d.between(200, 400), "random"),
            x_train=(("div", 16),),
            x_eval=(("div", 16),),
            seed=d.seed_base + i,
        )
        model = ModelSpec(d.pick(["mlp", "cnn"]), width=d.pick([16, 32]), units=1, activation="linear")
        epochs = (10, 30)
    opt, lr = d.pick([("adam", 1e-3), ("adam", 1e-2), ("rmsprop", 1e-3), ("sgd", 1e-4)])
    train = TrainSpec(opt, lr, d.pick([16, 32]), d.between(*epochs), loss="mse", metric="accuracy")
    return replace(data, label_format="int"), model, train


def v_healthy(d: Draw, i: int):
    return standard(d, i, tabular=0.2, model_kinds=["mlp", "cnn", "cnn", "cnn-bn", "resnet", "logreg"])


def v_healthy_val_above(d: Draw, i: int):
    data, model, train = standard(d, i, data=image_data(d, i, tasks=CIFAR_TASKS), model_kinds=["cnn", "mlp"])
    return (
        data,
        replace(model, augment=d.chance(0.7), dropout=d.pick([0.3, 0.5]), width=max(model.width, 16)),
        replace(train, epochs=d.between(6, 12)),
    )


def v_healthy_small_val(d: Draw, i: int):
    data, model, train = standard(d, i, tabular=0.0)
    return replace(data, eval=Split(d.between(100, 200), "random")), model, train


def v_healthy_long(d: Draw, i: int):
    if d.chance(0.6):
        data = tabular_data(d, i)
        model = ModelSpec(
            "mlp",
            width=d.pick([8, 16, 32]),
            depth=1,
            units=classes_of(data),
            dropout=d.pick([0.0, 0.2]),
            weight_decay=d.pick([0.0, 1e-3]),
        )
    else:
        data = DataSpec(
            dataset="digits",
            gray=True,
            size=8,
            train=Split(d.between(400, 800), "random"),
            eval=Split(d.between(200, 400), "random"),
            x_train=(("div", 16),),
            x_eval=(("div", 16),),
            seed=d.seed_base + i,
        )
        model = ModelSpec("logreg", width=0, units=10)
    opt, lr = d.pick([("sgd", 0.01), ("sgd", 0.003), ("adadelta", 0.1), ("sgd-momentum", 0.001)])
    train = TrainSpec(opt, lr, d.pick([16, 32, 64]), d.between(60, 150))
    return label_setup(d, data, model, train)


def v_healthy_large_batch(d: Draw, i: int):
    if d.chance(0.3):
        data = tabular_data(d, i, dataset="wine")
        data, model, train = standard(d, i, data=data)
        return (
            data,
            replace(model, kind="mlp", width=16, depth=1, dropout=0.0),
            replace(train, batch=1, epochs=d.between(5, 12), optimizer="sgd", lr=0.01),
        )
    data = image_data(d, i, tasks=[t for t in CIFAR_TASKS if t[3] == 16], n=(5000, 10000), n_eval=(1000, 2000))
    data, model, train = standard(d, i, data=data, model_kinds=["mlp", "cnn"])
    return (
        data,
        replace(model, width=min(model.width, 64)),
        replace(train, batch=d.pick([500, 1000]), epochs=d.between(3, 6), optimizer="adam", lr=d.pick([1e-3, 3e-3])),
    )


VARIANTS: dict[str, Variant] = {
    "test-not-rescaled": v_test_not_rescaled,
    "evaluate-not-rescaled": v_evaluate_not_rescaled,
    "train-not-rescaled": v_train_not_rescaled,
    "test-half-scale": v_test_half_scale,
    "per-split-standardize": v_per_split_standardize,
    "tabular-test-unscaled": v_tabular_test_unscaled,
    "inputs-raw-sgd": v_inputs_raw_sgd,
    "inputs-raw-adaptive": v_inputs_raw_adaptive,
    "binary-labels-categorical-one-unit": v_binary_labels_categorical,
    "onehot-binary-crossentropy": v_onehot_bce,
    "linear-output-no-logits": v_linear_no_logits,
    "softmax-with-from-logits": v_softmax_from_logits,
    "single-softmax-unit-binary": v_single_softmax_binary,
    "sigmoid-unit-integer-labels": v_sigmoid_int_labels,
    "eval-labels-shuffled": v_eval_labels_shuffled,
    "eval-images-scrambled": v_eval_scrambled,
    "eval-images-transposed": v_eval_transposed,
    "val-split-class-sorted": v_val_split_sorted,
    "eval-bgr": v_eval_bgr,
    "eval-from-train": v_eval_from_train,
    "eval-partly-from-train": v_eval_partly_from_train,
    "lr-too-low": v_lr_too_low,
    "lr-too-high": v_lr_too_high,
    "nan-inputs": v_nan_inputs,
    "overfit-small-data": v_overfit,
    "finetune-overfit": v_finetune_overfit,
    "underfit-tiny": v_underfit,
    "heavy-dropout": v_heavy_dropout,
    "augment-train-only": v_augment_train_only,
    "bn-inference-gap": v_bn_gap,
    "class-imbalance": v_imbalance,
    "class-imbalance-mild": v_imbalance_mild,
    "noisy-labels-symmetric": v_noisy_sym,
    "noisy-labels-pairs": v_noisy_pairs,
    "regression-with-accuracy": v_regression,
    "healthy": v_healthy,
    "healthy-finetune": v_healthy_finetune,
    "healthy-val-above-train": v_healthy_val_above,
    "healthy-small-val": v_healthy_small_val,
    "healthy-long-plateau": v_healthy_long,
    "healthy-large-batch": v_healthy_large_batch,
}


# ------------------------------------------------------------------------------------------
# Shapes and cost
# ------------------------------------------------------------------------------------------
#: Rough seconds of one run on one shared CPU core, measured on the first runs: a fixed cost (building
#: the model, tracing the train and test functions: the first epoch takes 4-8 s), a cost per optimizer
#: step (Keras' per-step overhead, ~20 ms with callbacks on a busy core), and a cost per image and
#: epoch by model kind at 16 px (x4 at 32 px, /4 at 8 px, /10 for tabular rows). Only used to pick
#: the runs that also get a verbose=1 twin and to estimate the total; each result holds its timings.
SECONDS_PER_IMAGE_EPOCH = {
    "logreg": 5e-5,
    "mlp": 1e-4,
    "tiny-cnn": 2e-4,
    "cnn": 5e-4,
    "cnn-bn": 8e-4,
    "resnet": 1.5e-3,
    "finetune": 3e-4,
}
FIXED_SECONDS = 8.0
SECONDS_PER_STEP = 0.02


def estimated_seconds(data: DataSpec, model: ModelSpec, train: TrainSpec) -> float:
    per = SECONDS_PER_IMAGE_EPOCH[model.kind]
    if data.dataset in ("breast_cancer", "wine", "diabetes"):
        per /= 10
    elif data.dataset in ("digits", "digits-sum"):
        per /= 4
    elif data.size == 32:
        per *= 4
    steps = train.epochs * -(-data.train.n // train.batch)
    pre = data.pretrain_n * train.pretrain_epochs * SECONDS_PER_IMAGE_EPOCH["cnn"] + (4.0 if data.pretrain else 0)
    return FIXED_SECONDS + per * data.train.n * train.epochs + SECONDS_PER_STEP * steps + pre


def shapes_for(run_key: str, truth: Truth, epochs: int) -> tuple[str, ...]:
    """The log shapes that apply to a run: the captured console and the Keras 3 writer always; history
    files unless only evaluate() shows the bug; the other shapes for a deterministic share of runs."""
    r = random.Random(zlib.crc32(run_key.encode()))
    history_ok = dict(truth.detectable_from).get("history", True)
    out = ["console-v2", "keras3-v2"]
    for shape, share in OPTIONAL_SHAPES.items():
        if shape in HISTORY_SHAPES and not history_ok:
            continue
        if shape == "truncated" and epochs < 2:
            continue
        if shape in ("csvlogger", "history-json") or r.random() < share:
            out.append(shape)
    return tuple(out)


def _spec(name: str, i: int, d: Draw) -> RunSpec:
    kind = KINDS[name]
    data, model, train = VARIANTS[name](d, i)
    truth = kind.truth()
    key = f"{name}:{i}"
    shapes = shapes_for(key, truth, train.epochs)
    cheap = (
        train.epochs <= VERBOSE1_MAX_EPOCHS
        and model.kind != "finetune"
        and estimated_seconds(data, model, train) < VERBOSE1_MAX_SECONDS
    )
    verbose1 = cheap and random.Random(zlib.crc32(b"v1" + key.encode())).random() < VERBOSE1_SHARE / 0.8
    if verbose1:
        shapes = shapes + (CAPTURED_V1,)
    return RunSpec.make(
        data=data,
        model=model,
        train=train,
        injections=(Injection(kind.cause, name, kind.severity),),
        truth=truth,
        shapes=shapes,
        verbose1=verbose1,
        seed=d.seed_base + i,
        note=kind.note,
    )


def build_grid(draw: int = 0) -> list[RunSpec]:
    """Every run, round-robin over kinds (the i-th run of each kind, then the (i+1)-th, ...).

    `draw` 0 is the committed corpus; any other number draws fresh runs of the same kinds from
    other seeds: runs that no rule or threshold has seen, to check rules written after the corpus.
    """
    per_kind: dict[str, list[RunSpec]] = {}
    for name, kind in KINDS.items():
        d = Draw(name, draw)
        per_kind[name] = [_spec(name, i, d) for i in range(kind.count)]
    out: list[RunSpec] = []
    for i in range(max(k.count for k in KINDS.values())):
        for name in KINDS:
            if i < len(per_kind[name]):
                out.append(per_kind[name][i])
    return out


GRID: list[RunSpec] = build_grid()
BY_ID: dict[str, RunSpec] = {s.run_id: s for s in GRID}
