"""Reading printed metric keys: which split a key names and which Keras History metric it is.

`train_loss`, `Validation Accuracy`, `val-acc`, `Test ROC score`: the words of a key printed by a custom
training loop, read once each (`key`) into the name a Keras History would use (`metric_name`). The
console and custom-loop reader (`cifar_doctor.sources.textlog`) reads lines with it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

#: Distinct printed keys whose reading is cached; a log repeats a few dozen.
KEY_CACHE_SIZE = 4096

#: First word of a key -> the Keras prefix of its split. `eval` is what
#: Hugging Face's Trainer prints for the validation set evaluated during training.
SPLIT_PREFIXES = {
    "train": "",
    "training": "",
    "tr": "",
    "val": "val_",
    "validation": "val_",
    "valid": "val_",
    "dev": "val_",
    "eval": "val_",
    "evaluation": "val_",
    "test": "test_",
    "testing": "test_",
}

#: Words after a split name that only say it is a split (`Test set: Average loss: ...`).
SET_WORDS = frozenset({"set", "split", "data", "dataset"})

#: Words that make a key a metric. Keys without one (`time`, `lr`, `eta`,
#: `epoch`, `batch`, sample counts) are not metrics. `cost` is the loss in
#: TF1-era tutorials (`Epoch: 0001 cost= 2.17`).
METRIC_WORDS = frozenset(
    {
        "loss",
        "cost",
        "acc",
        "accuracy",
        "roc",
        "ap",
        "auc",
        "f1",
        "precision",
        "recall",
        "iou",
        "miou",
        "dice",
        "mae",
        "mse",
        "rmse",
        "error",
        "err",
        "top1",
        "top5",
        "nll",
        "perplexity",
        "ppl",
        "bleu",
    }
)

#: Trailing words dropped from a metric key: filler of prose (`an accuracy of 0.9`)
#: and the aggregation suffixes of PyTorch Lightning (`val_loss_epoch`).
TRAILING_WORDS = frozenset({"of", "is", "was", "at", "epoch", "step"})

#: Header words -> what a position is.
HEADER_WORDS = {"epoch": "epoch", "iter": "step", "iteration": "step", "step": "step"}

#: Characters allowed between a header word and its number (`epoch [1]`, `Epoch #3`).
HEADER_BRACKETS = "[(#"

_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PART_RE = re.compile(r"[\s_.\-/]+")


def _parts(raw: str) -> list[str]:
    return [p for p in _PART_RE.split(_CAMEL_RE.sub(" ", raw).lower()) if p]


@dataclass(frozen=True)
class Key:
    """A printed key, read once: as printed, in snake case, its header kind, its metric name."""

    raw: str
    snake: str
    header: str | None
    name: str | None


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def read_key(raw: str, split: str) -> Key:
    parts = _parts(raw)
    header = None
    if parts and parts[-1] in HEADER_WORDS and all(p in SPLIT_PREFIXES for p in parts[:-1]):
        header = HEADER_WORDS[parts[-1]]
    return Key(raw, "_".join(parts), header, metric_name(raw, split))


def metric_name(raw: str, split: str = "") -> str | None:
    """The Keras History name of a printed metric key, or `None` for a non-metric.

    Args:
        raw: The key as printed (`train loss`, `val_acc`, `Testing Accuracy`).
        split: The prefix for a key that names no split itself, from the
            line's context (`Test set: Average loss: ...`). Defaults to `""`
            (training).

    Returns:
        `loss`, `accuracy`, `val_loss`, `val_accuracy`, `test_accuracy`,
        `val_roc`, ...; `None` when no word of the key names a metric.

    Example:

    >>> metric_name("Training Loss"), metric_name("validation accuracy"), metric_name("time")
    ('loss', 'val_accuracy', None)
    """
    parts = _parts(raw)
    while parts and parts[0] not in SPLIT_PREFIXES and parts[0] not in METRIC_WORDS:
        parts.pop(0)  # "Minibatch Loss", "Average loss", a logger name
    if not parts:
        return None
    prefix = split
    if parts[0] in SPLIT_PREFIXES:
        prefix = SPLIT_PREFIXES[parts.pop(0)]
        while parts and parts[0] not in METRIC_WORDS:
            parts.pop(0)  # "test set accuracy", "train mean loss"
    while len(parts) > 1 and parts[-1] in TRAILING_WORDS:
        parts.pop()
    if not parts or parts[-1] in TRAILING_WORDS:
        return None
    if parts in (["acc"], ["accuracy"]):
        body = "accuracy"
    elif parts == ["cost"]:
        body = "loss"
    else:
        body = "_".join(parts)
    return prefix + body


def _bare(name: str) -> str:
    for prefix in ("val_", "test_"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def is_core(name: str) -> bool:
    """A loss or an accuracy, of any split: what a main series must include."""
    return _bare(name) in ("loss", "accuracy")


def is_accuracy(name: str) -> bool:
    return any(p in ("acc", "accuracy") for p in _bare(name).split("_"))


def split_context(words: list[str]) -> str | None:
    """`Test set`, `Validation` before a `:` name the split of the pairs after it."""
    if not words or len(words) > 2 or len(words[0]) > len("validation"):
        return None
    return _split_of(" ".join(words))


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _split_of(raw: str) -> str | None:
    parts = _parts(raw)
    if parts and parts[0] in SPLIT_PREFIXES and all(p in SET_WORDS for p in parts[1:]):
        return SPLIT_PREFIXES[parts[0]]
    return None
