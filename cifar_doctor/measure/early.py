"""Wrong training labels from the outputs a model gave its training images before it memorized them.

Networks fit the images whose labels agree with what the other images show first, and the
rest later: while validation accuracy still rises, a model's output on a training image
whose label is wrong mostly names the true class. `DoctorCallback` and `compare` record the
model's probabilities on a fixed sample of training images at each epoch end
(`History.probes`); this module averages them from the first epoch to the validation peak
(after it the model memorizes what it cannot generalize, wrong labels included) and runs
confident learning (cleanlab, the `labels` extra) on the average against the given labels.

The epoch after the peak is where memorization starts when the validation accuracy falls
from there while the training accuracy keeps rising. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..records import History
from .history import finite
from .noise import Suspect, at_indices, confident_learning, labels_1d, too_few_per_class

#: Fewest epochs of probes before the peak (inclusive) for the average to mean anything:
#: a single epoch's outputs are those of a model that has seen each image once.
MIN_PROBE_EPOCHS = 2


@dataclass(frozen=True)
class EarlyEstimate:
    """The fraction of wrong labels estimated from the probes, and where it was read."""

    fraction: float
    suspects: tuple[Suspect, ...]
    images: int
    peak_epoch: int  # 1-based: the epoch of the best validation accuracy, the last one averaged
    memorization_from: int | None  # 1-based: the first epoch after the peak, when the curves show memorization
    signals: dict[str, Any]


def _as_probabilities(out: Any) -> np.ndarray:
    """Outputs as class probabilities: softmax of logits (a row that is not a distribution)."""
    a = np.asarray(out, dtype=np.float64)
    if a.ndim == 2 and (a.min() < 0 or np.abs(a.sum(axis=1) - 1.0).max() > 1e-3):
        z = np.exp(a - a.max(axis=1, keepdims=True))
        a = z / z.sum(axis=1, keepdims=True)
    return a


def peak_epoch(history: History) -> int | None:
    """0-based position of the first best validation accuracy, or None without a validation curve."""
    vals = history.val_acc
    good = [(v, -i) for i, v in enumerate(vals) if finite(v)]
    return -max(good)[1] if good else None


#: Fewest epochs after the validation peak for the curves to show memorization: one epoch's dip
#: is what validation noise draws (a clean CIFAR-10 run whose test images were left unscaled,
#: 0.556 -> 0.515 in its fifth and last epoch, read 27% of its labels as wrong), while a model
#: memorizing wrong labels keeps validation below the peak as training accuracy climbs (the
#: `worse` labels of CIFAR-10N: six epochs after the peak, 0.463 -> 0.418).
MEMORIZATION_MIN_EPOCHS = 2


def memorization_start(history: History, peak: int) -> int | None:
    """1-based epoch where memorization starts: at least `MEMORIZATION_MIN_EPOCHS` epochs follow the
    validation peak (its first best, so none of them above it), the last below it, while training
    accuracy rises."""
    vals, accs = history.val_acc, history.acc
    if peak + MEMORIZATION_MIN_EPOCHS >= min(len(vals), len(accs)):
        return None
    if not all(finite(x) for x in (vals[-1], accs[-1], accs[peak])):
        return None
    return peak + 2 if vals[-1] < vals[peak] and accs[-1] > accs[peak] else None


def early_noise(history: History | None, k: int) -> EarlyEstimate | None:
    """The estimate from `history.probes`, or None when there are none, no validation curve or too few epochs."""
    probes = history.probes if history is not None else None
    if history is None or probes is None or not probes.epochs:
        return None
    peak = peak_epoch(history)
    if peak is None:
        return None
    last = min(peak, probes.epochs - 1)
    if last + 1 < MIN_PROBE_EPOCHS:
        return None
    labels = labels_1d(probes.labels, k)
    if too_few_per_class(labels, k):
        return None
    averaged = [_as_probabilities(p) for p in probes.probabilities[: last + 1]]
    mean = np.mean(np.stack(averaged), axis=0)
    if mean.shape != (len(labels), k) or not np.isfinite(mean).all():
        return None
    fraction, suspects, signals = confident_learning(mean, labels, k)
    indices = np.asarray(probes.indices) if probes.indices is not None else np.arange(len(labels))
    suspects = at_indices(suspects, indices)
    signals = {
        **signals,
        "epochs_averaged": last + 1,
        "agreement_at_peak": round(float((averaged[-1].argmax(axis=1) == labels).mean()), 4),
        "val_accuracy_at_peak": round(float(history.val_acc[peak]), 4),
    }
    return EarlyEstimate(fraction, suspects, len(labels), peak + 1, memorization_start(history, peak), signals)
