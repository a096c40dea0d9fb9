"""The evidence a diagnosis works on: data splits, labels, loss, model facts, a history.

Every front end (the `check` CLI, `watch`, `compare`, the Keras callback and
`diagnose()`) builds one `Inputs` and hands it to `cifar_doctor.engine.run`.
Nothing here imports TensorFlow: a model is described by `ModelInfo`, plain
facts read off a Keras model by `cifar_doctor.sources.models`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import invalid_value
from .memo import recall
from .records import (
    ACCURACY_NAMES,
    CURVE_POINTS,
    Affine,
    ClassCount,
    History,
    ModelInfo,
)
from .runners.base import DIRECT, Runner
from .sources.base import CHUNK_IMAGES, ArraySource

__all__ = [
    "ACCURACY_NAMES",
    "CURVE_POINTS",
    "EVAL_SPLITS",
    "Affine",
    "ClassCount",
    "History",
    "Inputs",
    "ModelInfo",
    "Split",
    "check_classes",
    "resolve_classes",
]

EVAL_SPLITS = ("test", "val")

#: The `cifar_doctor.memo` key of an array's `ImageStats`.
STATS_KEY = "image-stats"


@dataclass
class Split:
    """One split of the data as it is fed to the model.

    Args:
        name: `train`, `test` or `val`.
        x: Images, an array of shape (N, H, W, C) or (N, C, H, W). Defaults to `None`.
        y: Labels, integers (N,)/(N, 1) or one-hot (N, K). Defaults to `None`.
        full: The full images when `x` is a sample of them (a memory-mapped
            file, an image folder, a `tf.data` pipeline): a
            `cifar_doctor.sources.base.DataSource`. Defaults to `None`: `x`
            holds every image.
        sample: How `x` was drawn from `full` (`cifar_doctor.sources.sampling.SampleInfo`).
            Defaults to `None`.
        runner: Where full passes over the split run (`cifar_doctor.runners`). Defaults to the
            direct runner (in this process).
    """

    name: str
    x: Any = None
    y: Any = None
    full: Any = None
    sample: Any = None
    runner: Runner = DIRECT
    _stats: Any = field(default=None, repr=False)
    _labels: dict[int | None, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # fix snippets name the split's arrays `x_{name}`: a name is a Python identifier, never code
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ValueError(f"A split name must be a Python identifier such as 'train': got {self.name!r}")

    @property
    def stats(self) -> Any:
        """Per-channel image statistics (`cifar_doctor.measure.stats.ImageStats`), computed once."""
        if self._stats is None and self.x is not None:
            from .measure.stats import image_stats

            # computed while the data was read (`engine.ahead`), for this very array
            self._stats = recall(self.x, STATS_KEY) if self.full is None else None
            if self._stats is None:
                indices = getattr(self.sample, "indices", None)
                self._stats = image_stats(self.x, self.runner, self.full, indices)
        return self._stats

    def labels(self, classes: int | None = None) -> Any:
        """Label facts (`cifar_doctor.measure.labelinfo.LabelInfo`) read with `classes`, computed once per K."""
        if self.y is None:
            return None
        if classes not in self._labels:
            from .measure.labelinfo import label_info

            self._labels[classes] = label_info(self.y, classes)
        return self._labels[classes]

    @property
    def count(self) -> int:
        """Images in the split: in its full source, or in `x`."""
        if self.full is not None:
            return int(self.full.count)
        return len(self.x) if self.x is not None else 0

    def chunks(self, size: int | None = None) -> Any:
        """Every image of the split, in order, `size` at a time: from `full` when `x` is a sample."""
        images = self.full if self.full is not None else ArraySource(self.x)
        return images.chunks(size or CHUNK_IMAGES)

    def take(self, indices: Any) -> Any:
        """The images at `indices` of the full split (positions as `chunks` yields them)."""
        if self.full is not None:
            return self.full.take(indices)
        return self.x[np.asarray(indices, dtype=np.int64)]

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.x is not None:
            out["x_shape"] = list(getattr(self.x, "shape", ()))
            out["x_dtype"] = str(getattr(self.x, "dtype", type(self.x).__name__))
        if self.y is not None:
            out["y_shape"] = list(getattr(self.y, "shape", ()))
            out["y_dtype"] = str(getattr(self.y, "dtype", type(self.y).__name__))
        if self.sample is not None:
            out["sample"] = self.sample.to_dict()
        if self.full is not None:
            out["source"] = self.full.description  # the report's key stays "source"
        return out


def resolve_classes(given: int | None, output_units: int | None, train_labels: Any, logged: int | None) -> ClassCount:
    """K from the first that tells it: given, model output units (> 1), one-hot label width, log."""
    if given:
        return ClassCount(int(given), "given")
    if output_units and output_units > 1:
        return ClassCount(int(output_units), "model")
    if getattr(train_labels, "ndim", 0) == 2 and train_labels.shape[1] > 1:
        return ClassCount(int(train_labels.shape[1]), "labels")
    if logged:
        return ClassCount(int(logged), "log")
    return ClassCount(None, None)


def check_classes(classes: Any) -> int | None:
    """`classes` as given by a caller: `None` or an integer >= 2.

    Raises:
        UsageError: naming the `classes` parameter.
    """
    if classes is None:
        return None
    try:
        k = operator.index(classes)  # int and NumPy integers, not floats or bools
    except TypeError:
        k = None
    if k is None or isinstance(classes, bool) or k < 2:
        raise invalid_value("classes", classes, expected="an integer >= 2")
    return k


@dataclass
class Inputs:
    """Everything one diagnosis looks at. Any part may be missing.

    Args:
        splits: Split name -> `Split`. Defaults to `{}`.
        loss: The loss the user trains with (canonical snake case). Defaults to `None`.
        from_logits: Whether that loss is computed from logits. Defaults to `None`.
        model: Facts about the model. Defaults to `None`.
        history: The training history. Defaults to `None`.
        classes: Number of classes, if known. Defaults to `None`.
        evaluate: A function `(x, y) -> {"loss": float, "accuracy": float}`
            that evaluates the user's model; used to test data fixes
            (the counterfactual). Defaults to `None`.
        provenance: Plain description of where each input came from (file paths,
            the recipe, what a reader noticed), merged into the report's
            `inputs` section. Defaults to `{}`.
        folders: What reading image folders found
            (`cifar_doctor.sources.folders.FolderScan`): class folders per
            split, files that did not decode, colour modes and sizes. Defaults to `None`.
        runner: Where the passes that read every image run (`cifar_doctor.runners`): the
            direct runner (this process) or the beam runner. Defaults to the direct runner.
    """

    splits: dict[str, Split] = field(default_factory=dict)
    loss: str | None = None
    from_logits: bool | None = None
    model: ModelInfo | None = None
    history: History | None = None
    classes: int | None = None
    evaluate: Callable[[Any, Any], dict[str, float]] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    folders: Any = None
    runner: Runner = DIRECT
    _measurement: Any = field(default=None, repr=False, compare=False)  # cifar_doctor.measure.model cache
    _class_count: Any = field(default=None, repr=False, compare=False)  # (what K depends on, ClassCount)
    _label_noise: Any = field(default=None, repr=False, compare=False)  # cifar_doctor.measure.noise cache
    _features: Any = field(default=None, repr=False, compare=False)  # cifar_doctor.measure.model.split_features
    _modes: Any = field(default=None, repr=False, compare=False)  # cifar_doctor.measure.model.mode_scores
    _training_mode: Any = field(default=None, repr=False, compare=False)  # measure.model.training_mode_measurement

    def __post_init__(self) -> None:
        for split in self.splits.values():  # the splits' own passes (statistics) run where the checks' do
            if split.runner is DIRECT:
                split.runner = self.runner

    # --- accessors used by checks -------------------------------------------------
    @property
    def train(self) -> Split | None:
        s = self.splits.get("train")
        return s if s is not None and (s.x is not None or s.y is not None) else None

    @property
    def eval_splits(self) -> list[Split]:
        return [self.splits[n] for n in EVAL_SPLITS if n in self.splits and self.splits[n].x is not None]

    @property
    def eval_label_splits(self) -> list[Split]:
        return [self.splits[n] for n in EVAL_SPLITS if n in self.splits and self.splits[n].y is not None]

    @property
    def effective_loss(self) -> str | None:
        return self.loss or (self.model.loss if self.model else None)

    @property
    def effective_from_logits(self) -> bool | None:
        if self.from_logits is not None:
            return self.from_logits
        return self.model.from_logits if self.model else None

    @property
    def num_classes(self) -> int | None:
        """The number of classes K (see `class_count` for where it was read), or `None`."""
        return self.class_count.k

    @property
    def class_count(self) -> ClassCount:
        """K and its provenance, resolved once for the evidence it depends on.

        Read, in order, from: `classes` as given, the model's output units,
        the one-hot width of the training labels, the training log.
        """
        tr = self.splits.get("train")
        y = tr.y if tr is not None else None
        units = self.model.output_units if self.model else None
        logged = self.history.classes if self.history else None
        key = (self.classes, units, id(y), getattr(y, "shape", None), logged)
        if self._class_count is None or self._class_count[0] != key:
            self._class_count = (key, resolve_classes(self.classes, units, y, logged))
        count: ClassCount = self._class_count[1]
        return count

    def has(self, requirement: str) -> bool:
        """Whether the inputs hold `requirement` (a token of `registry.REQUIREMENTS`); KeyError for an unknown one."""

        return REQUIREMENTS[requirement].present(self)

    def describe(self) -> dict[str, Any]:
        """A plain description for the report's `inputs` section."""
        out: dict[str, Any] = {
            "splits": {n: s.describe() for n, s in sorted(self.splits.items())},
            "loss": self.effective_loss,
            "from_logits": self.effective_from_logits,
            "classes": self.num_classes,
            "classes_from": self.class_count.read_from,
            "model": self.model.to_dict() if self.model else None,
            "history": (
                {
                    "epochs": self.history.epochs,
                    "metrics": sorted(self.history.metrics),
                    "flavor": self.history.flavor,
                    "read_as": self.history.read_as,
                    "curves": self.history.curves(),
                }
                if self.history
                else None
            ),
        }
        if self.folders is not None:
            out["folders"] = self.folders.to_dict()
        out.update(self.provenance)
        return out


@dataclass(frozen=True)
class Requirement:
    """One input a check can need: its token, the skip reason, and whether `Inputs` holds it."""

    token: str
    reason: str
    present: Callable[[Inputs], bool]


def _train_labels(inputs: Inputs) -> bool:
    tr = inputs.splits.get("train")
    return tr is not None and tr.y is not None


def _label_order(inputs: Inputs) -> bool:
    """Training labels in feeding order: files listed from class folders are sorted by class, not fed so."""
    return _train_labels(inputs) and (inputs.folders is None or "train" not in inputs.folders.splits)


def _noise_extra(inputs: Inputs) -> bool:
    """The optional packages LBL010 runs on (`pip install 'cifar-doctor[labels]'`), found without importing them."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("cleanlab", "sklearn"))


def _train_images(inputs: Inputs) -> bool:
    tr = inputs.splits.get("train")
    return tr is not None and tr.x is not None


#: Every requirement a check may declare, with the reason given when it is missing.
REQUIREMENTS: dict[str, Requirement] = {
    r.token: r
    for r in (
        Requirement("train_x", "needs training images", _train_images),
        Requirement("eval_x", "needs test or validation images", lambda inputs: bool(inputs.eval_splits)),
        Requirement("labels", "needs training labels", _train_labels),
        Requirement("eval_labels", "needs test or validation labels", lambda inputs: bool(inputs.eval_label_splits)),
        Requirement("loss", "needs the training loss", lambda inputs: inputs.effective_loss is not None),
        Requirement("model", "needs a model", lambda inputs: inputs.model is not None),
        Requirement(
            "history",
            "needs a training history",
            lambda inputs: inputs.history is not None and inputs.history.epochs > 0,
        ),
        Requirement(
            "evaluator", "needs a model that can be evaluated on the data", lambda inputs: inputs.evaluate is not None
        ),
        Requirement("folders", "needs image folders", lambda inputs: inputs.folders is not None),
        Requirement(
            "label_order",
            "needs the training labels in the order fit() reads them (Keras shuffles image folders)",
            _label_order,
        ),
        Requirement(
            "probes",
            "needs the model's outputs on training images recorded during training (DoctorCallback with "
            "train_sample, or compare)",
            lambda inputs: inputs.history is not None and inputs.history.probes is not None,
        ),
        Requirement(
            "noise_extra",
            "needs the optional packages cleanlab and scikit-learn: pip install 'cifar-doctor[labels]'",
            _noise_extra,
        ),
    )
}
