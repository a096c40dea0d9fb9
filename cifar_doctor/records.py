"""The records at the bottom of the package: a history, model facts, an in-model normalization, K.

Plain frozen (or plain) dataclasses that every layer reads: the readers in
`cifar_doctor.sources` build them, `cifar_doctor.inputs.Inputs` holds them,
the checks read their fields. This module imports nothing of the package
but `findings` (the one float rule), so any module may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .findings import plain

#: Most points per learning curve in a report's `inputs.history.curves`: a
#: chart a page wide shows no more, and a 100,000-step log keeps the JSON
#: report a few tens of kB.
CURVE_POINTS = 1000

#: Canonical history keys and the Keras names they are read from.
ACCURACY_NAMES = ("acc", "accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy")


@dataclass(frozen=True)
class Affine:
    """An input normalization inside a model: `x * scale + offset`, for all channels or per channel.

    Args:
        layer: What applies it: `Rescaling`, `Normalization` (mean and
            variance as scale `1 / sqrt(variance)` and offset `-mean / sqrt(variance)`),
            or a functional op on the input (`TrueDivide`, `Multiply`, `Subtract`, `Add`).
        scale: A float, or a tuple of one float per channel.
        offset: A float, or a tuple of one float per channel.
    """

    layer: str
    scale: float | tuple[float, ...]
    offset: float | tuple[float, ...]


@dataclass
class ModelInfo:
    """Facts about a Keras model that the checks need, without TensorFlow.

    Args:
        input_shape: Input shape without the batch axis, e.g. `(32, 32, 3)`.
        output_units: Units of the last layer. Defaults to `None`.
        last_activation: Activation applied to the output (`softmax`, `sigmoid`,
            `linear`, ...). Defaults to `None`.
        loss: Name of the compiled loss, canonical snake case. Defaults to `None`.
        from_logits: The compiled loss's `from_logits`, if known. Defaults to `None`.
        rescaling: Descriptions of in-model input normalization layers
            (`Rescaling`, `Normalization`) found before the first trainable
            layer, for the report. Defaults to `[]`.
        rescaling_affine: The same normalizations as data, one `Affine` each
            (a `Normalization` layer that was never adapted has none). Defaults to `()`.
        layers: Class names of the layers, in order. Defaults to `[]`.
        name: The model's name. Defaults to `None`.
        activations: The activation each layer of `layers` applies (`relu`,
            `softmax`, `linear` ...; `None` for layers without one), in the
            same order. Defaults to `[]`.
        optimizer: Class name of the compiled optimizer (`Adam`, `SGD` ...).
            Defaults to `None`.
        learning_rate: Its learning rate when the model was saved. Defaults to `None`.
    """

    input_shape: tuple[int | None, ...] | None = None
    output_units: int | None = None
    last_activation: str | None = None
    loss: str | None = None
    from_logits: bool | None = None
    rescaling: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    name: str | None = None
    activations: list[str | None] = field(default_factory=list)
    optimizer: str | None = None
    learning_rate: float | None = None
    rescaling_affine: tuple[Affine, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "output_units": self.output_units,
            "last_activation": self.last_activation,
            "loss": self.loss,
            "from_logits": self.from_logits,
            "rescaling": list(self.rescaling),
            "layers": len(self.layers),
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
        }


@dataclass(frozen=True)
class TrainProbes:
    """The model's outputs on a fixed sample of training images, one array per epoch end.

    Networks fit the images whose labels agree with what the others show before they
    memorize the rest: outputs recorded before validation accuracy peaks say which
    given labels the model could not yet agree with, without a held-out copy of them.

    Args:
        labels: The given labels of the sampled images, integers (n,).
        probabilities: One (n, K) float32 array of class probabilities per epoch end.
        indices: Positions of the sampled images in the training split. Defaults to
            `None` (the first n).
    """

    labels: Any
    probabilities: tuple[Any, ...]
    indices: Any = None

    @property
    def epochs(self) -> int:
        return len(self.probabilities)

    def describe(self) -> dict[str, Any]:
        return {"images": int(len(self.labels)), "epochs": self.epochs}


@dataclass
class History:
    """A training history: per-epoch metrics, as Keras' `History.history` holds them.

    Args:
        metrics: Metric name -> one value per epoch (`loss`, `val_loss`,
            `accuracy`/`acc`, `val_accuracy`/`val_acc`, anything else).
        evaluations: Results the user printed from `model.evaluate()`, each
            a dict like `{"loss": 7.43, "accuracy": 0.53}`. Defaults to `[]`.
        flavor: `keras2` (Keras 2 API output: standalone Keras 2 computed
            the loss from clipped probabilities, tf.keras 2.x from logits),
            `keras3` (loss from logits, unclipped) or `unknown`. Defaults to
            `"unknown"`.
        classes: Number of classes, if the log tells. Defaults to `None`.
        source: Where the history came from, for the report. Defaults to `None`.
        train_samples / val_samples: From "Train on N samples, validate on M samples".
        truncated: The last epoch line was incomplete and was dropped.
        index: The printed epoch or step number of each position, when it
            is not simply 1..N (a custom log printing `Epoch: 0198`, a log
            of every 100th step). Defaults to `None`: positions are epochs
            1..N.
        index_kind: What a position is: `"epoch"` or `"step"` (a log with
            one line per optimizer step). Defaults to `"epoch"`.
        gaps: Metric name -> 0-based positions where the file had no value
            (`NA` in a CSVLogger column, `null` in a History JSON, e.g.
            with `validation_freq`); those positions hold NaN, which is then
            a missing value and not a NaN loss. Defaults to `{}`.
        read_as: What was read, for the report: `format` (`keras`,
            `csvlogger`, `history-json`, `history` (a Keras History or dict in memory) or `custom`), `records`,
            `index_kind` and, for custom logs, `mapping` (printed name ->
            Keras name). Defaults to `{}`.
        bar_total: For Keras console logs, the progress bar's total in the
            last epoch (`3/3 [====]` -> 3, `50000/50000` -> 50000): steps or
            samples, so an upper bound on optimizer steps per epoch.
            Defaults to `None`.
        probes: The model's class probabilities on a fixed sample of training
            images at each epoch end (`TrainProbes`), recorded by
            `DoctorCallback` and `compare`. Defaults to `None`.
        restored_epoch: The epoch whose weights the model ended with, when the log says so
            (`EarlyStopping(restore_best_weights=True)` prints "Restoring model weights from the end
            of the best epoch: 5."): the model a later `evaluate()` scored. Defaults to `None`.
    """

    metrics: dict[str, list[float]] = field(default_factory=dict)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    flavor: str = "unknown"
    classes: int | None = None
    source: str | None = None
    train_samples: int | None = None
    val_samples: int | None = None
    truncated: bool = False
    train_accuracy_inference_mode: list[float] | None = None
    index: list[int] | None = None
    index_kind: str = "epoch"
    gaps: dict[str, list[int]] = field(default_factory=dict)
    read_as: dict[str, Any] = field(default_factory=dict)
    bar_total: int | None = None
    probes: TrainProbes | None = None
    restored_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return max((len(v) for v in self.metrics.values()), default=0)

    def _find(self, prefix: str, names: tuple[str, ...]) -> str | None:
        for n in names:
            if prefix + n in self.metrics:
                return prefix + n
        # any metric ending in accuracy (custom names), train or val
        for key in self.metrics:
            bare = key[len(prefix) :] if key.startswith(prefix) else None
            if bare is None or (not prefix and key.startswith("val_")):
                continue
            if bare.endswith("accuracy") or bare.endswith("acc"):
                if "top_k" in bare or "top" in bare.split("_"):
                    continue
                return key
        return None

    @property
    def acc_key(self) -> str | None:
        return self._find("", ACCURACY_NAMES)

    @property
    def val_acc_key(self) -> str | None:
        return self._find("val_", ACCURACY_NAMES)

    def series(self, key: str | None) -> list[float]:
        if key is None:
            return []
        return list(self.metrics.get(key, []))

    @property
    def loss(self) -> list[float]:
        return self.series("loss" if "loss" in self.metrics else None)

    @property
    def val_loss(self) -> list[float]:
        return self.series("val_loss" if "val_loss" in self.metrics else None)

    @property
    def acc(self) -> list[float]:
        return self.series(self.acc_key)

    @property
    def val_acc(self) -> list[float]:
        return self.series(self.val_acc_key)

    def curves(self, max_points: int = CURVE_POINTS) -> dict[str, list[Any]]:
        """The learning curves for a report: `epoch` (x) and the canonical series, at most `max_points` each.

        Keys: `epoch` (the printed epoch or step number, else 1..N), then those of
        `loss`, `val_loss`, `accuracy`, `val_accuracy` the history has (accuracy
        under its Keras 2 spelling too). A longer history is sampled at evenly
        spaced positions, first and last kept. Values follow the one float rule
        of `findings.plain` (NaN as the string `"nan"`).

        Args:
            max_points: Most points per series. Defaults to `CURVE_POINTS`.

        Example:

        >>> History({"loss": [2.0, 1.5], "acc": [0.3, 0.5]}).curves()
        {'epoch': [1, 2], 'loss': [2.0, 1.5], 'accuracy': [0.3, 0.5]}
        """
        n = self.epochs
        keep = (
            list(range(n))
            if n <= max_points
            else sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
        )
        index = self.index if self.index is not None and len(self.index) == n else range(1, n + 1)
        out: dict[str, list[Any]] = {"epoch": [int(index[i]) for i in keep]}
        for name, key in (
            ("loss", "loss" if "loss" in self.metrics else None),
            ("val_loss", "val_loss" if "val_loss" in self.metrics else None),
            ("accuracy", self.acc_key),
            ("val_accuracy", self.val_acc_key),
        ):
            values = self.series(key)
            if values:
                out[name] = [_num(values[i]) if i < len(values) else None for i in keep]
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epochs": self.epochs,
            "metrics": {k: [_num(v) for v in vals] for k, vals in sorted(self.metrics.items())},
            "evaluations": self.evaluations,
            "flavor": self.flavor,
            "classes": self.classes,
            "source": self.source,
        }
        if self.read_as:
            out["read_as"] = self.read_as
        if self.index is not None:
            out["index"] = list(self.index)
            out["index_kind"] = self.index_kind
        if self.gaps:
            out["gaps"] = {k: list(v) for k, v in sorted(self.gaps.items())}
        if self.bar_total is not None:
            out["bar_total"] = self.bar_total
        return out


def _num(v: float) -> float | str:
    """A metric value as plain JSON: the one float rule of `findings.plain` (NaN/Inf as strings, 6 decimals)."""
    value: float | str = plain(float(v))
    return value


@dataclass(frozen=True)
class ClassCount:
    """The number of classes K, and where it was read.

    Attributes:
        k: K, or `None` when nothing tells it.
        read_from: `given` (the caller's `classes`), `model` (its output units),
            `labels` (the one-hot width of the training labels) or `log` (the
            training log); `None` with `k`.
    """

    k: int | None
    read_from: str | None
