"""Measure the user's model on the data: accuracy and loss on training images and on each eval split.

Keras logs training accuracy in training mode (dropout on, BatchNorm on batch
statistics), averaged over an epoch in which the weights changed. To compare
like with like, this evaluates the trained model in inference mode on a
sample of the training images, as they were fed (the training split's own
preprocessing), and on each eval split. The MDL checks judge the numbers
(`overfitting`, `not-learning`, healthy); nothing here decides.

Measurement only, through `Inputs.evaluate` (the model's own predictions;
no TensorFlow import here). Computed once per `Inputs` and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Training images evaluated: evenly spaced over the array, so class-ordered
#: data is covered too. 2,000 images put the binomial standard error of an
#: accuracy near 0.5 at 0.011, and take about a second for a small CNN on a CPU.
TRAIN_SAMPLE = 2000

#: Images evaluated per eval split (the same spacing): 5,000 give a standard
#: error of 0.007; all of them when the split is smaller.
EVAL_SAMPLE = 5000


@dataclass(frozen=True)
class SplitScore:
    """The model's accuracy and loss on (a sample of) one split, in inference mode (in training mode for
    `training_mode_measurement`, which reads no loss)."""

    split: str
    images: int
    of: int
    accuracy: float
    loss: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "images": self.images,
            "of": self.of,
            "accuracy": round(self.accuracy, 4),
            "loss": None if self.loss is None else round(self.loss, 4),
        }


@dataclass(frozen=True)
class Measurement:
    """Scores on the training sample and on each eval split; `errors` says what could not be evaluated."""

    train: SplitScore | None
    evals: tuple[SplitScore, ...]
    errors: tuple[str, ...] = ()


def sample_indices(n: int, m: int) -> np.ndarray:
    """`min(n, m)` evenly spaced indices into `n` items (all of them when `n <= m`)."""
    if n <= m:
        return np.arange(n)
    return np.linspace(0, n - 1, m).round().astype(np.int64)


def take(a: Any, idx: np.ndarray) -> Any:
    """`a`'s rows at `idx`, or `a` itself when `idx` covers it all (`sample_indices` gives them in
    order), so a whole memory-mapped or lazily computed split is handed on as it is, not copied."""
    return a[idx] if len(idx) < len(a) else a


def _score(inputs: Any, split: Any, limit: int) -> SplitScore:
    idx = sample_indices(len(split.x), limit)
    res = inputs.evaluate(take(split.x, idx), take(split.y, idx))
    return SplitScore(split.name, len(idx), len(split.x), float(res["accuracy"]), float(res["loss"]))


def measure_model(inputs: Any) -> Measurement | None:
    """Evaluate `inputs.evaluate` on the training sample and the eval splits; None without a model or data.

    Cached on `inputs`: every check that asks gets the same numbers.
    """
    cached = getattr(inputs, "_measurement", None)
    if cached is not None:
        return cached
    tr = inputs.train
    if inputs.evaluate is None or tr is None or tr.x is None or tr.y is None:
        return None
    errors: list[str] = []
    train = None
    try:
        train = _score(inputs, tr, TRAIN_SAMPLE)
    except Exception as exc:  # reported, never fatal
        errors.append(f"train: {type(exc).__name__}: {exc}")
    evals = []
    for split in inputs.eval_splits:
        if split.y is None:
            continue
        try:
            evals.append(_score(inputs, split, EVAL_SAMPLE))
        except Exception as exc:  # reported, never fatal
            errors.append(f"{split.name}: {type(exc).__name__}: {exc}")
    result = Measurement(train, tuple(evals), tuple(errors))
    inputs._measurement = result
    return result


def score_at(inputs: Any, split: Any, idx: np.ndarray) -> dict[str, float]:
    """The model's score on `split`'s images at `idx` as given: `measure_model`'s when it evaluated the
    same images (`sample_indices` over as many of as many), else measured through `inputs.evaluate`."""
    m = measure_model(inputs)
    for s in (m.train, *m.evals) if m is not None else ():
        if (
            s is not None
            and s.loss is not None
            and s.split == split.name
            and s.of == len(split.x)
            and s.images == len(idx)
        ):
            return {"accuracy": s.accuracy, "loss": s.loss}
    assert inputs.evaluate is not None  # checked by the caller
    return inputs.evaluate(take(split.x, idx), take(split.y, idx))


#: Training images read in both modes by `mode_scores`: 1,000 put the standard error of the
#: difference of two accuracies near 0.5 at 0.022, in one pass of each kind (training mode runs
#: eagerly, batch by batch, so it costs a few times a `predict` of the same images).
MODE_SAMPLE = 1000


@dataclass(frozen=True)
class ModeScores:
    """Accuracy on the same training images in inference mode (moving statistics) and in training mode
    (batch statistics), and the BatchNormalization layers that differ between the two."""

    images: int
    of: int
    inference: float
    training: float
    layers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "of": self.of,
            "inference_accuracy": round(self.inference, 4),
            "training_mode_accuracy": round(self.training, 4),
            "batch_norm_layers": list(self.layers),
        }


def mode_scores(inputs: Any) -> ModeScores | None:
    """The model's accuracy on up to `MODE_SAMPLE` training images in each mode, cached on `inputs`;
    None without a Keras model with BatchNormalization, training images and labels."""
    if inputs._modes is None:
        inputs._modes = (_mode_scores(inputs),)
    return inputs._modes[0]


def _mode_scores(inputs: Any) -> ModeScores | None:
    from ..sources.training_mode import batch_norm_layers

    tr = inputs.train
    model = getattr(inputs.evaluate, "model", None)
    if model is None or tr is None or tr.x is None or tr.y is None:
        return None
    layers = batch_norm_layers(model)
    if not layers:
        return None
    idx = sample_indices(len(tr.x), MODE_SAMPLE)
    x, y = np.asarray(take(tr.x, idx)), np.asarray(take(tr.y, idx))
    try:
        inference = float(score_at(inputs, tr, idx)["accuracy"])
    except Exception:  # noqa: BLE001 - no reading, never fatal
        return None
    training = training_mode_accuracy(inputs, x, y)
    if training is None:
        return None
    return ModeScores(len(idx), len(tr.x), inference, training, tuple(layers))


def training_mode_accuracy(inputs: Any, x: Any, y: Any) -> float | None:
    """The accuracy of the model behind `inputs.evaluate` on `x` in training mode (each batch normalized with
    its own statistics, `sources.training_mode`), its outputs cut where `evaluate` cuts them; None without
    a reading."""
    from ..sources.evaluator import count_correct
    from ..sources.training_mode import training_mode_outputs

    try:
        out = training_mode_outputs(inputs.evaluate, np.asarray(x))
        if out is None or not len(out):
            return None
        cut = getattr(inputs.evaluate, "output_threshold", None)
        return count_correct(out, np.asarray(y), threshold=cut) / len(out)
    except Exception:  # noqa: BLE001 - no reading, never fatal
        return None


def training_mode_measurement(inputs: Any) -> Measurement | None:
    """`measure_model`'s comparison read in training mode, where the moving statistics are stale.

    When `stale_statistics` finds BatchNormalization's moving averages off, every inference-mode
    accuracy is theirs, not the network's, and the gap between splits says nothing. In training mode
    each batch is normalized with its own statistics, as `fit` normalized it: the training images'
    score is `mode_scores`' reading, and up to `MODE_SAMPLE` images of each eval split with labels
    are read the same way. None when the statistics are not stale or a split cannot be read. Cached
    on `inputs`.
    """
    if inputs._training_mode is None:
        inputs._training_mode = (_training_mode_measurement(inputs),)
    return inputs._training_mode[0]


def _training_mode_measurement(inputs: Any) -> Measurement | None:
    m = stale_statistics(inputs)
    if m is None:
        return None
    evals = []
    for split in inputs.eval_splits:
        if split.x is None or split.y is None:
            continue
        idx = sample_indices(len(split.x), MODE_SAMPLE)
        accuracy = training_mode_accuracy(inputs, take(split.x, idx), take(split.y, idx))
        if accuracy is None:
            return None
        evals.append(SplitScore(split.name, len(idx), len(split.x), accuracy))
    if not evals:
        return None
    return Measurement(SplitScore(inputs.train.name, m.images, m.of, m.training), tuple(evals))


#: Training-mode accuracy above inference-mode accuracy on the same training images by at least
#: this many standard errors of the difference (binomial, both accuracies on the images read;
#: they are paired, so this overstates the noise) ...
MODE_STANDARD_ERRORS = 3.0

#: ... and by at least this much: a tenth of the training images answered differently by the same
#: weights. Dropout and augmentation act in training mode too and only lower the training-mode
#: reading, so a gap this wide comes from normalization. Where the moving statistics have settled
#: the two modes agree within a few points; on the run corpus's BatchNorm models trained a few
#: hundred steps the gap reaches 0.7 (`bench/corpus`, the `cnn-bn` and `resnet` families).
MODE_MIN_GAP = 0.1


def stale_statistics(inputs: Any) -> ModeScores | None:
    """The two modes' scores when training mode beats inference mode by `MODE_MIN_GAP` and
    `MODE_STANDARD_ERRORS`; None otherwise or without a BatchNorm model."""
    m = mode_scores(inputs)
    if m is None:
        return None
    gap = m.training - m.inference
    se = ((m.training * (1 - m.training) + m.inference * (1 - m.inference)) / max(m.images, 1)) ** 0.5
    return m if gap >= max(MODE_MIN_GAP, MODE_STANDARD_ERRORS * se) else None


#: Images taken from a split and passed to `read_features` at a time by `split_features` (float32
#: pixels of 8,192 CIFAR images are 100 MB).
FEATURE_READ_CHUNK = 8192


def split_features(inputs: Any, split: Any, limit: int) -> tuple[np.ndarray, Any] | None:
    """(positions in the split, `sources.features.Features`) of up to `limit` evenly spaced images of
    `split`'s full source, read once per `Inputs`; None without a model whose features can be read.

    LBL010 and DUP003 read the same images when a split fits both their samples (every split of
    up to 5,000 images): one `predict` pass then serves both.
    """
    from ..sources.features import Features, read_features

    cache = inputs._features
    if cache is None:
        cache = inputs._features = {}
    idx = sample_indices(split.count, limit)
    key = (split.name, split.count, len(idx))
    if key not in cache:
        parts: list[Features] = []
        for s in range(0, len(idx), FEATURE_READ_CHUNK):
            got = read_features(inputs.evaluate, split.take(idx[s : s + FEATURE_READ_CHUNK]))
            if got is None:
                parts = []
                break
            parts.append(got)
        cache[key] = None
        if parts:
            features = np.concatenate([g.features for g in parts])
            probabilities = np.concatenate([g.probabilities for g in parts])
            cache[key] = (idx, Features(features, probabilities, parts[0].layer))
    return cache[key]
