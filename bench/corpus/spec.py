"""The records of one corpus run: what data, model and training it uses, what was injected, the truth.

Every record is a frozen dataclass of plain values (str, int, float, bool, tuples of those), so a
spec hashes to a stable `run_id` (`RunSpec.make`) and round-trips through JSON (`to_dict` /
`spec_from_dict`). Nothing here imports NumPy or Keras.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

#: Severities of an injected cause: `none` marks a control run (no bug), `mild` a bug whose effect
#: is small or hidden, `gross` one whose effect is large.
SEVERITIES = ("none", "mild", "gross")

#: Characters of the SHA-1 of a spec kept as its `run_id`: 12 hex digits (48 bits) make a collision
#: among a few thousand specs vanishingly unlikely, and stay short in folder names.
RUN_ID_CHARS = 12


@dataclass(frozen=True)
class Split:
    """How one split's images are drawn from a pool of the dataset.

    Args:
        n: Number of rows.
        rule: `first` (the first `n` rows of the pool, in pool order), `random` (`n` rows drawn without
            replacement, in drawn order), `imbalanced` (per-class counts falling geometrically from the
            first class to the last, down to `imbalance` times the largest; drawn per class, then
            shuffled) or `from-train` (rows of the training split as fed, see `leak`).
        imbalance: For `imbalanced`: the rarest class's count over the commonest's. Defaults to `1.0`.
        leak: For an eval split: the fraction of its rows that are copies of training rows (the rest
            is drawn from the test pool). Defaults to `0.0`.
        sort_by_class: Stable-sort the split by label after drawing (images read class folder by
            class folder). Defaults to `False`.
    """

    n: int
    rule: str = "random"
    imbalance: float = 1.0
    leak: float = 0.0
    sort_by_class: bool = False


@dataclass(frozen=True)
class DataSpec:
    """The data of a run: dataset, task, the draw of each split and the transforms applied to it.

    Args:
        dataset: `cifar10`, `cifar10-sample` (the sample bundled with cifar_doctor), `digits`,
            `breast_cancer`, `wine`, `diabetes` (regression) or `digits-sum` (regression: the digit
            images with their pixel sum as target).
        classes: For CIFAR-10: the original class ids kept, in the order they are renumbered
            0..K-1. Defaults to `()` (all classes, or the dataset's own).
        gray: Convert images to grayscale (ITU-R 601 luma), one channel. Defaults to `False`.
        size: Image side in pixels; 16 averages 2x2 blocks of CIFAR-10's 32. Defaults to `32`.
        train: The training split. Defaults to 2,000 random rows.
        eval: The eval split (validation_data and/or evaluate()). Defaults to 500 random rows.
        holdout: A separate validation split drawn from the training pool (disjoint from `train`);
            when set, `fit` validates on it and only `evaluate()` sees `eval`. Defaults to `None`.
        x_train / x_eval: Transforms applied in order to the training / eval images (also to the
            holdout, which is prepared like the training split): each a tuple `(op, *args)`;
            see `bench.corpus.data.TRANSFORMS`.
        y_train / y_eval: Label corruptions, each `(op, *args)`: `("flip", fraction, "symmetric" |
            "pairs")`, `("shuffle",)`.
        label_format: `int` (shape (N,)), `column` (shape (N, 1)) or `onehot` (float one-hot).
        pretrain: For fine-tuning: the CIFAR-10 classes a base network is pre-trained on in the
            same process (never the task's classes), with `pretrain_n` images. Defaults to `()`.
        pretrain_n: Images the base is pre-trained on. Defaults to `0`.
        seed: Seed of every draw and corruption of this data. Defaults to `0`.
    """

    dataset: str
    classes: tuple[int, ...] = ()
    gray: bool = False
    size: int = 32
    train: Split = Split(2000)
    eval: Split = Split(500)
    holdout: Split | None = None
    x_train: tuple[tuple[Any, ...], ...] = ()
    x_eval: tuple[tuple[Any, ...], ...] = ()
    y_train: tuple[tuple[Any, ...], ...] = ()
    y_eval: tuple[tuple[Any, ...], ...] = ()
    label_format: str = "int"
    pretrain: tuple[int, ...] = ()
    pretrain_n: int = 0
    seed: int = 0

    @property
    def family(self) -> str:
        """`cifar10-c3-gray16`, `digits-8x8`, `wine-tabular`, ...: the data part of a fold family."""
        if self.dataset in ("cifar10", "cifar10-sample"):
            k = len(self.classes) or 10
            return f"{self.dataset}-c{k}-{'gray' if self.gray else 'rgb'}{self.size}"
        if self.dataset in ("digits", "digits-sum"):
            return f"{self.dataset}-8x8"
        return f"{self.dataset}-tabular"


@dataclass(frozen=True)
class ModelSpec:
    """The network: `kind` and the knobs real runs vary.

    Args:
        kind: `mlp`, `logreg` (one Dense layer), `cnn`, `cnn-bn`, `resnet` (functional, residual
            blocks), `tiny-cnn` (a few filters and global pooling) or `finetune` (a `cnn` base
            pre-trained on other classes in the same process, frozen, with a new head).
        width: Filters of the first convolution, or units of the first Dense layer. Defaults to `16`.
        depth: Hidden Dense layers (mlp) or residual blocks (resnet). Defaults to `2`.
        dropout: Dropout rate before the output (and between Dense layers). Defaults to `0.0`.
        weight_decay: L2 factor on every kernel. Defaults to `0.0`.
        augment: Random flips and shifts as the first layers (active in training only).
            Defaults to `False`.
        units: Output units. Defaults to `10`.
        activation: Output activation: `softmax`, `sigmoid` or `linear`. Defaults to `"softmax"`.
        bn_momentum: BatchNormalization momentum. Defaults to `0.99` (Keras' default).
    """

    kind: str
    width: int = 16
    depth: int = 2
    dropout: float = 0.0
    weight_decay: float = 0.0
    augment: bool = False
    units: int = 10
    activation: str = "softmax"
    bn_momentum: float = 0.99

    @property
    def family(self) -> str:
        """The model part of a fold family: the architecture, not its knobs."""
        return {"logreg": "mlp", "tiny-cnn": "cnn"}.get(self.kind, self.kind)


@dataclass(frozen=True)
class TrainSpec:
    """compile() and fit() settings.

    Args:
        optimizer: `sgd`, `sgd-momentum` (0.9), `adam`, `rmsprop` or `adadelta`.
        lr: Learning rate.
        batch: Batch size.
        epochs: Epochs.
        loss: A Keras loss name (`sparse_categorical_crossentropy`, `categorical_crossentropy`,
            `binary_crossentropy`, `mse`).
        from_logits: Passed to the loss. Defaults to `False`.
        metric: `accuracy` (Keras resolves it from shapes), `sparse_categorical_accuracy`,
            `categorical_accuracy`, or `binary-accuracy-named-accuracy` (BinaryAccuracy logged as
            `accuracy`, what Keras <= 2.3 picked for binary_crossentropy). Defaults to `"accuracy"`.
        validation: `eval` (validation_data is the eval split), `holdout` (the data's holdout split),
            `split:F` (fit's validation_split=F) or `none`. Defaults to `"eval"`.
        pretrain_epochs: Epochs of the fine-tuning base's pre-training. Defaults to `0`.
    """

    optimizer: str
    lr: float
    batch: int
    epochs: int
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = False
    metric: str = "accuracy"
    validation: str = "eval"
    pretrain_epochs: int = 0


@dataclass(frozen=True)
class Injection:
    """One injected cause.

    Args:
        cause: The truth id (a `cifar_doctor.diagnosis.CAUSES` id, or `noisy-labels` /
            `metric-not-applicable`).
        kind: The concrete bug, e.g. `test-not-rescaled`, `val-split-class-sorted`.
        severity: `none`, `mild` or `gross`.
    """

    cause: str
    kind: str
    severity: str


@dataclass(frozen=True)
class Truth:
    """What a diagnosis of this run should say, from what was injected (never from any tool's output).

    Args:
        expected: Right primary verdicts.
        also_acceptable: Right but not exact.
        must_not: Forbidden primary verdicts (worse than a miss).
        detectable_from: Inputs that carry the evidence: `log`, `history` (the history-only shapes:
            CSV, JSON, TensorBoard; false where only a printed evaluate() shows the bug), `data`,
            `model+data`; each a bool.
    """

    expected: tuple[str, ...]
    also_acceptable: tuple[str, ...] = ()
    must_not: tuple[str, ...] = ()
    detectable_from: tuple[tuple[str, bool], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected": list(self.expected),
            "also_acceptable": list(self.also_acceptable),
            "must_not": list(self.must_not),
            "detectable_from": dict(self.detectable_from),
        }


@dataclass(frozen=True)
class RunSpec:
    """One run of the corpus: everything needed to train it again, and its truth.

    Build with `RunSpec.make(...)`, which fills `run_id` from a hash of all other fields.

    Args:
        run_id: The first `RUN_ID_CHARS` hex digits of the SHA-1 of the spec's JSON (without run_id).
        family: `<data family>/<model family>`, the unit of cross-validation folds.
        data / model / train: See `DataSpec`, `ModelSpec`, `TrainSpec`.
        injections: The injected causes; empty for a control run.
        truth: See `Truth`.
        shapes: Log shapes that apply to this run (`bench.corpus.shapes.SHAPES`).
        verbose1: Also run it a second time, identically seeded, with verbose=1 under a
            pseudo-terminal, and keep that console text.
        seed: `keras.utils.set_random_seed` before building the model.
        note: What the run re-enacts, in plain words.
    """

    run_id: str
    family: str
    data: DataSpec
    model: ModelSpec
    train: TrainSpec
    injections: tuple[Injection, ...]
    truth: Truth
    shapes: tuple[str, ...]
    verbose1: bool = False
    seed: int = 0
    note: str = ""

    @classmethod
    def make(cls, **kwargs: Any) -> RunSpec:
        data, model = kwargs["data"], kwargs["model"]
        kwargs.setdefault("family", f"{data.family}/{model.family}")
        spec = cls(run_id="", **kwargs)
        return replace(spec, run_id=spec_hash(spec))

    @property
    def cause(self) -> str:
        """The primary injected cause (`healthy` for a control run)."""
        return self.injections[0].cause if self.injections else "healthy"

    @property
    def severity(self) -> str:
        return max((i.severity for i in self.injections), key=SEVERITIES.index, default="none")

    @property
    def kind(self) -> str:
        return "+".join(i.kind for i in self.injections) or "control"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["truth"] = self.truth.to_dict()
        return _plain(d)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def spec_hash(spec: RunSpec) -> str:
    d = spec.to_dict()
    d.pop("run_id")
    text = json.dumps(d, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:RUN_ID_CHARS]


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def _build(cls: type, d: dict[str, Any]) -> Any:
    kw = {}
    for f in fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name in ("train", "eval", "holdout") and cls is DataSpec:
            v = None if v is None else Split(**v)
        else:
            v = _tuples(v)
        kw[f.name] = v
    return cls(**kw)


def spec_from_dict(d: dict[str, Any]) -> RunSpec:
    """The `RunSpec` a `RunSpec.to_dict()` came from (tuples restored)."""
    truth = d["truth"]
    return RunSpec(
        run_id=d["run_id"],
        family=d["family"],
        data=_build(DataSpec, d["data"]),
        model=_build(ModelSpec, d["model"]),
        train=_build(TrainSpec, d["train"]),
        injections=tuple(Injection(**i) for i in d["injections"]),
        truth=Truth(
            tuple(truth["expected"]),
            tuple(truth["also_acceptable"]),
            tuple(truth["must_not"]),
            tuple(truth["detectable_from"].items()),
        ),
        shapes=tuple(d["shapes"]),
        verbose1=d.get("verbose1", False),
        seed=d.get("seed", 0),
        note=d.get("note", ""),
    )


__all__ = [
    "SEVERITIES",
    "DataSpec",
    "Injection",
    "ModelSpec",
    "RunSpec",
    "Split",
    "TrainSpec",
    "Truth",
    "spec_from_dict",
    "spec_hash",
]
