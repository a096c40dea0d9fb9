"""Measurements on a training history shared by the LOG and FIT checks.

Nothing here judges: these helpers read numbers off a `History` (aligned
epochs, the class count a loss implies, the metric that scores validation);
the checks compare them with their thresholds.

The loss math they rest on, for a K-class softmax classifier trained with
cross-entropy:

- a model that gives every class probability 1/K has loss ln K (2.3026 for
  K = 10) and accuracy 1/K;
- a model whose K sigmoid outputs all predict the class prior 1/K, scored by
  binary cross-entropy on one-hot targets, has loss H(1/K) (the binary
  entropy, 0.325 nats for K = 10) and binary accuracy 1 - 1/K.
"""

from __future__ import annotations

import math
from typing import Any

from ..sources.logs import COMMON_CLASS_COUNTS  # the class counts a K is read as (2, 10, 100, 1000)

#: Loss within this fraction of ln K counts as chance level (an untrained
#: softmax over K classes; a model that learned anything is >5% below it
#: within one epoch on CIFAR-10).
CHANCE_LOSS_TOLERANCE = 0.05

#: A K fitted to an epoch-1 loss at ln K must agree with that epoch's
#: accuracy: an epoch spent at chance cannot end with a running accuracy above
#: twice 1/K (a 100-class fit is rejected for a run that already scores 9.5%).
FITTED_MAX_ACCURACY_FACTOR = 2.0


#: Metric names (after a `val_` prefix) that score predictions, higher is
#: better, in the order they are preferred when a history has no accuracy:
#: ROC AUC and average precision are what link-prediction and imbalanced
#: binary tasks print (the graph auto-encoder thread logs `val_roc`/`val_ap`).
SCORE_NAMES = ("acc", "accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy",
               "auc", "roc", "roc_auc", "ap", "average_precision", "f1", "f1_score", "precision", "recall",
               "iou", "mean_iou", "dice", "map")


def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def aligned(*series: list[float]) -> list[tuple[int, tuple[float, ...]]]:
    """(epoch index, values) for epochs where every series has a finite value."""
    n = min((len(s) for s in series), default=0)
    return [(i, tuple(s[i] for s in series)) for i in range(n) if all(finite(s[i]) for s in series)]


def r(v: float, nd: int = 4) -> float:
    return round(float(v), nd)


def chance_accuracy_band(k: int) -> float:
    """Accuracy within this absolute distance of 1/K counts as chance level.

    max(0.02, min(0.05, 0.3 / K)), i.e. 0.03 for K = 10. The binomial noise of
    an accuracy on 10,000 samples is 0.003; on 1,000 samples 0.01.
    """
    return max(0.02, min(0.05, 0.3 / k))


def chance_k(loss: float, acc: float | None, known: int | None) -> int | None:
    """The K whose chance level (loss ln K, accuracy 1/K) fits these numbers, if one does."""
    for k in ([known] if known else COMMON_CLASS_COUNTS):
        ln_k = math.log(k)
        if abs(loss - ln_k) > CHANCE_LOSS_TOLERANCE * ln_k:
            continue
        if acc is not None and abs(acc - 1.0 / k) > chance_accuracy_band(k):
            continue
        return k
    return None


def known_classes(inputs: Any) -> int | None:
    """K when the inputs state it (given, model, labels or the log), else None."""
    k = inputs.num_classes
    return k if k and k >= 2 else None


def log_classes(inputs: Any, *, trust_log: bool = True) -> tuple[int | None, str]:
    """(K, where it came from) for checks that reason about ln K.

    Known K first; else the K whose ln K the first epoch's training loss (or,
    failing that, validation loss) matches within `CHANCE_LOSS_TOLERANCE`: an
    epoch average that close to ln K was spent at chance, which only a K-class
    softmax can do. Else `(None, "unknown")`. With `trust_log=False` the K a
    console log inferred from its own first-batch loss is ignored (checks
    about a broken loss cannot rest on the loss being a softmax's).
    """
    k = known_classes(inputs) if trust_log else classes_from_data(inputs)
    if k:
        return k, "given"
    h = inputs.history
    for name, series, acc in (("loss", h.loss, h.acc), ("val_loss", h.val_loss, h.val_acc)):
        if series and finite(series[0]):
            fitted = chance_k(series[0], None, None)
            if not fitted or fitted <= 2:
                continue
            if acc and finite(acc[0]) and acc[0] > FITTED_MAX_ACCURACY_FACTOR / fitted:
                continue
            return fitted, f"fitted: epoch-1 {name} {series[0]:.4g} ≈ ln {fitted}"
    return None, "unknown"


def classes_from_data(inputs: Any) -> int | None:
    """K stated by the user, the model or the labels; None when only the log's own inference says it.

    A console log's K is inferred from its first-batch loss (about ln K for a
    softmax); a model scored by binary cross-entropy starts at ln 2 whatever
    its number of classes, so checks about the loss itself must not trust it.
    """
    count = inputs.class_count
    return count.k if count.k and count.k >= 2 and count.read_from != "log" else None


def binary_entropy(p: float) -> float:
    """H(p) in nats: the binary cross-entropy of predicting p for a target that is 1 with probability p."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def score_keys(h: Any) -> tuple[str | None, str | None]:
    """(train key, val key) of the metric that scores predictions, higher is better.

    Accuracy when the history has it; otherwise the first of `SCORE_NAMES`
    logged for validation (`val_roc`, `val_auc`, ...), with its training
    counterpart when logged, else the training accuracy (or None).
    """
    if h.val_acc_key:
        return h.acc_key, h.val_acc_key
    for name in SCORE_NAMES:
        if "val_" + name in h.metrics:
            train = name if name in h.metrics else h.acc_key
            return train, "val_" + name
    return h.acc_key, None


def printed_index(h: Any, i: int | None) -> int | None:
    """The epoch (or step) number the log printed for position `i` (1-based positions when it printed none)."""
    if i is None:
        return None
    index = getattr(h, "index", None)
    return int(index[i]) if index and i < len(index) else i + 1


def index_unit(h: Any) -> str:
    """`"step"` for a log of optimizer steps, else `"epoch"`."""
    return "step" if getattr(h, "index_kind", "epoch") == "step" else "epoch"
