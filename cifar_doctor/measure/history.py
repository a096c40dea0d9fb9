"""Measurements on a training history shared by the LOG and FIT checks.

Nothing here decides a finding: these helpers read numbers off a `History`
(aligned epochs, the class count a loss implies, the metric that scores
validation, the cost of one wrong prediction) and answer the questions more
than one check asks of them (is validation at chance, pinned at ln K, after
few optimizer steps?); the checks compare them with their thresholds.

The loss math they rest on, for a K-class softmax classifier trained with
cross-entropy:

- a model that gives every class probability 1/K has loss ln K (2.3026 for
  K = 10) and accuracy 1/K;
- a model whose K sigmoid outputs all predict the class prior 1/K, scored by
  binary cross-entropy on one-hot targets, has loss H(1/K) (the binary
  entropy, 0.325 nats for K = 10) and binary accuracy 1 - 1/K.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeGuard

from ..records import ACCURACY_NAMES
from ..sources.logs import (
    COMMON_CLASS_COUNTS,  # the class counts a K is read as (2, 10, 100, 1000)
)

#: The class count assumed when nothing states K (no `classes`, no model, no
#: one-hot labels, no K read from the log): this tool's subject is CIFAR-10, and
#: a finding that rests on the assumption says so in its message.
ASSUMED_CLASSES = 10

#: Loss within this fraction of ln K counts as chance level (an untrained
#: softmax over K classes; a model that learned anything is well below it
#: within one epoch on CIFAR-10). Chosen on the run corpus by
#: `bench/corpus/fit.py` from 0.02-0.12: every fold of families chose 0.08, and
#: on the held-out folds it gave 1,662 right and 386 forbidden log verdicts of
#: 2,301 against 1,654 and 393 at the former 0.05 (runs at chance whose epoch
#: averages drift 5-8% off ln K as the output bias settles).
CHANCE_LOSS_TOLERANCE = 0.08

#: A K fitted to an epoch-1 loss at ln K must agree with that epoch's
#: accuracy: an epoch spent at chance cannot end with a running accuracy above
#: twice 1/K (a 100-class fit is rejected for a run that already scores 9.5%).
FITTED_MAX_ACCURACY_FACTOR = 2.0


#: Metric names (after a `val_` prefix) that score predictions, higher is
#: better, in the order they are preferred: the accuracy spellings of
#: `History` first, then, for a history with no accuracy, ROC AUC and average
#: precision, which link-prediction and imbalanced binary tasks print (the
#: graph auto-encoder thread logs `val_roc`/`val_ap`).
SCORE_NAMES = ACCURACY_NAMES + (
    "auc",
    "roc",
    "roc_auc",
    "ap",
    "average_precision",
    "f1",
    "f1_score",
    "precision",
    "recall",
    "iou",
    "mean_iou",
    "dice",
    "map",
)


def finite(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


#: Training loss (an epoch average) rising by more than this fraction from one
#: epoch to the next counts as a jump; healthy training almost never does it
#: outside learning-rate restarts (FIT004; LOG008 reads a climb past the first
#: epoch's loss by it).
LOSS_JUMP = 0.10


#: A log of optimizer steps is judged on this many blocks of consecutive steps, each
#: averaged: one step's loss is one batch (or a running mean that Keras restarts at each
#: epoch from one batch), whose sampling noise makes a 10% rise common in a healthy run;
#: a block mean of a tenth of the run keeps divergence, climbs and collapses.
STEP_BLOCKS = 10


def judged_loss(h: Any) -> tuple[list[float], list[int | None]]:
    """The training loss as FIT004 and LOG008 judge its course, with the printed epoch or step of each value.

    Epochs as logged; a log of optimizer steps as the means of `STEP_BLOCKS` blocks of
    consecutive steps, each labelled with its last step.
    """
    loss = list(h.loss)
    n = len(loss)
    if index_unit(h) != "step" or n < 2 * STEP_BLOCKS:
        return loss, [printed_index(h, i) for i in range(n)]
    bounds = [round(b * n / STEP_BLOCKS) for b in range(STEP_BLOCKS + 1)]
    means = [sum(loss[a:b]) / (b - a) for a, b in zip(bounds, bounds[1:])]
    return means, [printed_index(h, b - 1) for b in bounds[1:]]


def first_non_finite(h: Any, name: str) -> int | None:
    """The first position where metric `name` holds a computed NaN or infinity, or None.

    A value the file does not hold (a CSVLogger `NA`, listed in `History.gaps`) is no NaN loss.
    """
    missing = set((getattr(h, "gaps", None) or {}).get(name) or ())
    for i, v in enumerate(h.metrics.get(name) or []):
        if i not in missing and isinstance(v, (int, float)) and not math.isfinite(v):
            return i
    return None


def aligned(*series: list[float]) -> list[tuple[int, tuple[float, ...]]]:
    """(epoch index, values) for epochs where every series has a finite value."""
    n = min((len(s) for s in series), default=0)
    return [(i, tuple(s[i] for s in series)) for i in range(n) if all(finite(s[i]) for s in series)]


def chance_accuracy_band(k: int) -> float:
    """Accuracy within this absolute distance of 1/K counts as chance level.

    max(0.02, min(0.05, 0.3 / K)), i.e. 0.03 for K = 10. The binomial noise of
    an accuracy on 10,000 samples is 0.003; on 1,000 samples 0.01.
    """
    return max(0.02, min(0.05, 0.3 / k))


#: Class counts a validation curve at chance may be read as when nothing states K:
#: 2, 3 (iris, wine, three-class subsets of image sets) and 10. Not 100 or 1000:
#: their 1/K lies within the chance band of zero, where a validation split of
#: classes the model never trained on sits too (a class-sorted `validation_split`).
CHANCE_CLASS_CANDIDATES = (2, 3, 10)

#: A model whose validation predictions are independent of the validation labels
#: cannot score a cross-entropy below the labels' entropy, ln K for balanced
#: classes (Gibbs' inequality): its validation loss stays at or above ln K. This
#: slack allows for the sampling noise of a small validation set and for mild
#: imbalance, which lowers the entropy (a 60/40 split of two classes: 0.673 for
#: ln 2 = 0.693, 3% below).
INDEPENDENT_LOSS_SLACK = 0.05

#: ... and the first epoch's training loss is at most (1 + this) x ln K: a fresh
#: softmax over K classes starts near ln K and the first epoch's mean only falls
#: from there, while random initial logits and a large first step can put it up
#: to about 30% above (a 10-class run's first epoch at 2.3-2.9 is never read as
#: 3 classes, ln 3 x 1.3 = 1.43).
FIRST_LOSS_MARGIN = 0.30


#: Validation accuracies within this of each other in every epoch are (nearly) one
#: answer for every image, which a slow BatchNorm start gives as well as a broken
#: pipeline, not labels unrelated to the images: a model that is learning its
#: training set changes many validation predictions each epoch, and against
#: unrelated labels each change moves the accuracy at random, so it wanders
#: (0.013-0.107 over 5-38 epochs on the run corpus's misaligned-label runs).
NEAR_CONSTANT_SPAN = 0.005


def classes_at_chance(h: Any, min_train_rise: float) -> int | None:
    """The one K for which the validation curve is a model unrelated to its labels, if exactly one.

    For K in `CHANCE_CLASS_CANDIDATES`: every validation accuracy within the chance
    band of 1/K (`val_chance_band`), the lowest validation loss at least (1 - `INDEPENDENT_LOSS_SLACK`)
    ln K, the first training loss at most (1 + `FIRST_LOSS_MARGIN`) ln K, and the
    last training accuracy at least 1/K + `min_train_rise`. None when no K or more
    than one fits, when the validation accuracy spans at most `NEAR_CONSTANT_SPAN`,
    or when a curve is missing or not finite.
    """
    rows = aligned(h.acc, h.val_acc, h.val_loss)
    loss = [v for v in h.loss if finite(v)]
    if not rows or not loss:
        return None
    start = from_training_start(h)  # a log pasted from its middle shows no start to read K off
    val_acc = [va for _, (_, va, _) in rows]
    if max(val_acc) - min(val_acc) <= NEAR_CONSTANT_SPAN:
        return None
    low_val_loss = min(vl for _, (_, _, vl) in rows)
    last_acc = rows[-1][1][0]
    fits = [
        k
        for k in CHANCE_CLASS_CANDIDATES
        if all(abs(v - 1.0 / k) <= val_chance_band(h, k) for v in val_acc)
        and low_val_loss >= (1 - INDEPENDENT_LOSS_SLACK) * math.log(k)
        and (not start or loss[0] <= (1 + FIRST_LOSS_MARGIN) * math.log(k))
        and last_acc >= 1.0 / k + min_train_rise
    ]
    return fits[0] if len(fits) == 1 else None


def chance_k(
    loss: float, acc: float | None, known: int | None, candidates: tuple[int, ...] = COMMON_CLASS_COUNTS
) -> int | None:
    """The K among `candidates` (or `known`) whose chance level (loss ln K, accuracy 1/K) fits these numbers."""
    for k in [known] if known else candidates:
        ln_k = math.log(k)
        if abs(loss - ln_k) > CHANCE_LOSS_TOLERANCE * ln_k:
            continue
        if acc is not None and abs(acc - 1.0 / k) > chance_accuracy_band(k):
            continue
        return k
    return None


def log_classes(inputs: Any, *, trust_log: bool = True) -> tuple[int | None, str]:
    """(K, where it came from) for checks that reason about ln K: `Inputs`' K, else a K fitted to the loss.

    `Inputs.num_classes` first (or `classes_from_data` with `trust_log=False`);
    else the K whose ln K the first epoch's training loss (or, failing that,
    validation loss) matches within `CHANCE_LOSS_TOLERANCE`: an
    epoch average that close to ln K was spent at chance, which only a K-class
    softmax can do. Else `(None, "unknown")`. With `trust_log=False` the K a
    console log inferred from its own first-batch loss is ignored (checks
    about a broken loss cannot rest on the loss being a softmax's).
    """
    k = inputs.num_classes if trust_log else classes_from_data(inputs)
    if k:
        return k, "given"
    h = inputs.history
    if not from_training_start(h):
        return None, "unknown"  # the first epoch printed is not the start, where a softmax sits at ln K
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
    """`Inputs`' K unless it was read from the log: K stated by the user, the model or the labels.

    A console log's K is inferred from its first-batch loss (about ln K for a
    softmax); a model scored by binary cross-entropy starts at ln 2 whatever
    its number of classes, so checks about the loss itself must not trust it.
    """
    count = inputs.class_count
    return count.k if count.k and count.k >= 2 and count.read_from != "log" else None


def named_other_than_cross_entropy(name: str | None) -> bool:
    """Whether the loss is named, and as no cross-entropy (a mean squared error beside an accuracy): the
    readings of a loss against ln K or against what wrong answers cost then do not apply. An unnamed loss
    (a History JSON, a console) is read as a classifier's."""
    return name is not None and "crossentropy" not in name


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


def from_training_start(h: Any) -> bool:
    """Whether the log's first record is the start of training: epoch 1 (or 0) as printed, or no number
    printed. A console pasted from its middle (`Epoch 6/12` first), or a run resumed with `initial_epoch`,
    is not: what its first epoch shows (the loss a fresh softmax starts at, how far validation fell since)
    happened before the log. A log of optimizer steps prints its first block after some steps by design
    and counts as from the start."""
    return index_unit(h) == "step" or (printed_index(h, 0) or 1) <= 1


def index_unit(h: Any) -> str:
    """`"step"` for a log of optimizer steps, else `"epoch"`."""
    return "step" if getattr(h, "index_kind", "epoch") == "step" else "epoch"


#: -ln(1e-7): the most one sample can cost under Keras 2's clipped cross-entropy.
KERAS2_LOSS_CEILING = -math.log(1e-7)


#: Error rates below this are not used as divisors (val_acc > 0.98 leaves too
#: few errors for a per-error cost to mean anything).
MIN_ERROR_RATE = 0.02


#: Curve checks (overfitting, underfitting, unstable loss, chance level) need
#: at least this many epochs: a minimum followed by a rise needs three points.
MIN_EPOCHS_FOR_CURVES = 3


def per_error_cost(loss: float, acc: float) -> float:
    """loss / (1 - acc): an upper bound on the mean cost of one wrong prediction, in nats."""
    return loss / max(1.0 - acc, MIN_ERROR_RATE)


#: Validation accuracy whose mean across epochs lies in the chance band may still
#: stray above it in single epochs by this many bands: a small validation set
#: scatters (44 images: one image is 0.023) and a model unrelated to the labels
#: wanders as it learns its training set; a model that generalizes rises past it.
CHANCE_PEAK_BANDS = 2.0


#: A model whose answers are unrelated to the validation labels scores 1/K give or take the split's
#: sampling noise: on a split of known size (`val_split_images`) the chance band is at least this many
#: binomial standard errors of an accuracy of 1/K. Three, not two: each epoch is a separate draw of
#: the answers, and at two standard errors one epoch in twenty falls outside, so that a run of eleven
#: epochs at chance on 439 images (standard error 0.023 at K = 3) strays outside the 0.05 band more
#: often than not (0.273 among 0.29-0.31, read as a peak and a fall: overfitting).
VAL_CHANCE_STANDARD_ERRORS = 3.0

#: ... up to this: a split whose noise is wider cannot tell a model at chance from one that learned
#: (3 standard errors on 32 images at K = 2 are 0.27: 0.53-0.63 is chance and a modest model alike),
#: so its band stays `chance_accuracy_band`, and its curves are judged by their other signs.
VAL_CHANCE_MAX_BAND = 0.10


def chance_standard_error(k: int, images: int) -> float:
    """The standard error of the accuracy of answers unrelated to the labels (1/K on average) on a split of
    `images` images: sqrt(p (1 - p) / n), p = 1/K."""
    p = 1.0 / k
    return (p * (1.0 - p) / images) ** 0.5


def val_split_images(h: Any) -> int | None:
    """The validation split's size: as the log states it, else read off its accuracies (`accuracy_denominator`)."""
    return getattr(h, "val_samples", None) or accuracy_denominator(list(h.val_acc), accuracy_step(h))


def val_chance_band(h: Any, k: int) -> float:
    """`chance_accuracy_band(K)`, or `VAL_CHANCE_STANDARD_ERRORS` standard errors of 1/K on the validation
    split when its size is known and that is wider (up to `VAL_CHANCE_MAX_BAND`); for accuracies printed
    coarser than a console (`CONSOLE_STEP`), widened by half the step they were printed in, within which
    the value printed lies anywhere (0.2849 prints 0.28, 0.053 from 1/3)."""
    band = chance_accuracy_band(k)
    images = val_split_images(h)
    if images:
        noise = VAL_CHANCE_STANDARD_ERRORS * chance_standard_error(k, images)
        if noise <= VAL_CHANCE_MAX_BAND:
            band = max(band, noise)
    return band + rounding(accuracy_step(h))


def val_near_chance(h: Any, k: int) -> bool:
    """The validation accuracy centres on 1/K: its mean within the chance band (`val_chance_band`), no
    epoch above 1/K + `CHANCE_PEAK_BANDS` bands."""
    vals = [v for v in h.val_acc if finite(v)]
    band = val_chance_band(h, k)
    return (
        bool(vals) and abs(sum(vals) / len(vals) - 1.0 / k) <= band and max(vals) <= 1.0 / k + CHANCE_PEAK_BANDS * band
    )


def val_at_chance(h: Any, k: int) -> bool:
    """Every epoch's validation accuracy lies in the chance band of K classes (`val_chance_band`)."""
    vals = [v for v in h.val_acc if finite(v)]
    band = val_chance_band(h, k)
    return bool(vals) and all(abs(v - 1.0 / k) <= band for v in vals)


#: Validation loss within this fraction of ln K in every epoch is a model giving
#: every class about 1/K on validation inputs. A model that learned anything
#: keeps further away (a CIFAR-10 model at 20% accuracy already scores about
#: 2.1, 9% below ln 10); a uniform output sits on it up to float noise (the
#: re-enacted typo case, raw 0-255 training images and /255 test images:
#: 2.3009-2.3033 against ln 10 = 2.3026).
UNIFORM_EVAL_TOLERANCE = 0.02


#: ... or within this fraction when validation accuracy also stays near chance
#: (below 1/K + `NO_LEARNING_ACCURACY_MARGIN`) in every epoch: a near-constant
#: answer drifts a little off ln K as the output bias sharpens (test images
#: divided by 255 twice: 2.307-2.367 with accuracy 0.09-0.11; training images
#: standardized, test images only /255: 2.19-2.30 with accuracy 0.11-0.16).
#: Misaligned labels move further: the model's confident answers on images it
#: has learned to read cost more each epoch (2.34 -> 2.71 in four epochs).
UNIFORM_EVAL_TOLERANCE_AT_CHANCE = 0.05


#: ... with training accuracy below 1/K + this in each of those epochs (no learning).
NO_LEARNING_ACCURACY_MARGIN = 0.10


def pinned_at_chance(series: list[float], known: int | None, accuracy: list[float] | None = None) -> int | None:
    """The K (known, else a common count) whose ln K the validation losses stay at.

    Every value within `UNIFORM_EVAL_TOLERANCE` of ln K; or, when the
    validation accuracies stay below 1/K + `NO_LEARNING_ACCURACY_MARGIN` in
    every epoch, within `UNIFORM_EVAL_TOLERANCE_AT_CHANCE`.
    """
    accs = [a for a in accuracy or [] if finite(a)]
    for k in [known] if known else COMMON_CLASS_COUNTS:
        ln_k = math.log(k)
        at_chance = bool(accs) and len(accs) == len(series) and max(accs) < 1.0 / k + NO_LEARNING_ACCURACY_MARGIN
        tol = UNIFORM_EVAL_TOLERANCE_AT_CHANCE if at_chance else UNIFORM_EVAL_TOLERANCE
        if series and all(abs(v - ln_k) <= tol * ln_k for v in series):
            return k
    return None


#: Keras' BatchNormalization updates its moving mean and variance with momentum
#: 0.99: after n optimizer steps their initial values (mean 0, variance 1)
#: still weigh 0.99^n, more than 5% below 300 steps. A Keras progress bar
#: counts steps or samples, so bar total x epochs bounds the steps from above.
BN_SETTLING_STEPS = 300


def initial_statistics_weight(steps: int) -> float:
    """What BatchNormalization's initial moving statistics still weigh after `steps` optimizer steps: 0.99^steps
    (Keras' momentum, `BN_SETTLING_STEPS`)."""
    return 0.99**steps


#: The scale a classifier's loss movements are measured against is at least ln 2, the loss of a
#: coin flip between two classes: a cross-entropy near zero (a model already at training accuracy
#: 1.0) wanders by factors of two in its third decimal, which is noise, not overshooting.
CLASSIFICATION_LOSS_SCALE = math.log(2)


def classification_loss_scale(h: Any) -> float:
    """`CLASSIFICATION_LOSS_SCALE` when the log holds an accuracy above 0 (a classifier), else 0:
    a regression's loss (an MSE, with an accuracy of 0 or none) keeps its own range."""
    return CLASSIFICATION_LOSS_SCALE if h.acc and any(a > 0 for a in h.acc if finite(a)) else 0.0


#: A last training loss at most this fraction of its reference (ln K, or the first epoch's loss)
#: is a model that did learn on its training inputs (1.84 for K = 10).
TRAIN_LEARNED_FRACTION = 0.8


#: Validation accuracies within this of each other count as the same printed value.
CONSTANT_ACCURACY_SPREAD = 1e-4


#: The same validation accuracy in this many consecutive epochs, while the weights
#: change, is a model giving every validation image the same answer (the accuracy
#: is then that class's share of the validation set: 0.112, 0.112, 0.112, 0.112,
#: 0.112, 0.085, 0.085 for test images divided by 255 twice). Predictions that
#: wander near chance repeat a value on 1,000 images with probability ~0.03 per
#: pair of epochs, three times in a row ~0.001.
CONSTANT_ACCURACY_RUN = 3


def longest_constant_run(vals: list[float]) -> int:
    """The most consecutive values equal within `CONSTANT_ACCURACY_SPREAD`."""
    best = run = 1 if vals else 0
    for a, b in zip(vals, vals[1:]):
        run = run + 1 if abs(a - b) <= CONSTANT_ACCURACY_SPREAD else 1
        best = max(best, run)
    return best


#: Repeated values are read (`CONSTANT_ACCURACY_RUN`) only from a log printed in steps this fine or
#: finer. The odds behind that run are those of an accuracy that moves by one image in 1,000; printed
#: to two decimals (`f"{acc:.2f}"`, a rounded CSV: 0.58, 0.58, 0.58) a value hides moves of up to ten
#: images in 1,000, which a validation accuracy on a plateau makes every epoch, so its repeats are a
#: plateau as often as one answer for every image. Keras prints four decimals.
CONSTANT_RUN_MAX_STEP = 1e-3


#: Decimal places `printed_step` tries; values that need more (float32 values in a History JSON or a
#: CSVLogger file, `4.5123e-05`) are read as printed in full.
MAX_PRINTED_DECIMALS = 6


def _multiple_of(v: float, places: int) -> bool:
    x = v * 10.0**places
    return abs(x - round(x)) <= 1e-6 + 1e-9 * abs(x)


def printed_step(*series: list[float]) -> float:
    """The coarsest decimal step (1, 0.1, 0.01, ...) that every finite value of `series` is a multiple of:
    the precision they were printed with (0.01 for `f"{acc:.2f}"` and for whole percents, 1e-4 for a Keras
    console), or 0 when the values need more than `MAX_PRINTED_DECIMALS` places."""
    return _printed_step(tuple(itertools.chain(*series)))


@lru_cache(maxsize=64)
def _printed_step(values: tuple[float, ...]) -> float:
    """`printed_step` of the values, cached: several checks read one log's step (16 readings of a 10,000-epoch
    log took 0.1 s)."""
    finite_values = [v for v in values if finite(v)]
    for places in range(MAX_PRINTED_DECIMALS + 1):
        if all(_multiple_of(v, places) for v in finite_values):
            return 10.0**-places
    return 0.0


def accuracy_step(h: Any) -> float:
    """`printed_step` of the log's training and validation accuracies together: one finer value shows the
    printer's precision, so a validation accuracy of exactly 0.1000 beside a training accuracy of 0.3524
    reads 1e-4. The losses are left out: a loop may print them to more places than its accuracies
    (`loss 1.812, acc 58%`)."""
    return printed_step(h.acc, h.val_acc)


def repeats_readable(h: Any) -> bool:
    """Whether the log's accuracies are printed finely enough for a repeated value to be one
    (`CONSTANT_RUN_MAX_STEP`)."""
    return accuracy_step(h) <= CONSTANT_RUN_MAX_STEP


def repeat_not_ruled_out(vals: list[float]) -> bool:
    """Whether `vals` print one value in `CONSTANT_ACCURACY_RUN` consecutive epochs, however coarse the
    printing: a reading that hedges between one answer for every image and another cause holds on it, where
    a reading that needs the accuracy to have moved does not (`repeated_run` says whether the repeat shows)."""
    return longest_constant_run(vals) >= CONSTANT_ACCURACY_RUN


def shown_moving(h: Any, vals: list[float]) -> bool:
    """Whether `vals`, an accuracy series of the log `h`, are seen to move from epoch to epoch: no value
    repeated in consecutive epochs when `repeats_readable`; printed coarser, where a plateau repeats values,
    not one value throughout."""
    run = longest_constant_run(vals)
    return run == 1 if repeats_readable(h) else run < len(vals)


def repeated_run(h: Any, vals: list[float]) -> int:
    """`longest_constant_run` of `vals`, an accuracy series of the log `h`, when `repeats_readable`;
    1 (nothing repeats) otherwise."""
    return longest_constant_run(vals) if repeats_readable(h) else min(len(vals), 1)


#: `accuracy_denominator` looks for image counts up to this from any three or more four-decimal
#: values; more distinct values let it look further (`COINCIDENTAL_FITS`).
MAX_INFERRED_IMAGES = 200

#: Four printed decimals pin a count k/n only up to a window of 2 x `PRINTED_ACCURACY_TOLERANCE` x n
#: counts, so a value fits a wrong n by coincidence with about that probability, and D distinct values
#: (0 and 1 fit every n) with about its D-th power. `accuracy_denominator` looks as far as the expected
#: number of coincidental fits summed over every n it tries stays below this: 389 images for three
#: values, 751 for four, 1,157 for five, 2,338 for eight (`printed_search_limit`). A Keras console
#: prints the validation accuracy of a split of a few hundred images to four decimals; the same
#: values at float32 precision (CSVLogger, History JSON) pin its size already.
COINCIDENTAL_FITS = 0.01


#: Printed accuracies are rounded to four decimals (Keras' console) or are float32 (CSV, JSON):
#: a count k/n matches a printed value within this.
PRINTED_ACCURACY_TOLERANCE = 6e-5


#: The step of a Keras console's four decimals. Accuracies printed coarser (`printed_step`) match a
#: count only to within half their step, and `printed_search_limit` at that tolerance bounds the
#: splits they can pin: two-decimal values are all counts of 100 images, whatever the split.
CONSOLE_STEP = 1e-4


def rounding(step: float) -> float:
    """How far a value printed in steps of `step` (`printed_step`) may lie from the one it was rounded
    from, where that is more than a console's four decimals (`CONSOLE_STEP`, which the checks' own
    tolerances allow for): half the step; else 0."""
    return step / 2 if step > CONSOLE_STEP else 0.0


#: ... from at least this many distinct accuracies.
DENOMINATOR_MIN_VALUES = 3


#: Accuracies written at float32 precision (CSVLogger, History JSON, TensorBoard; not a console's
#: four decimals) pin k/n for larger splits: float32 holds k/n to a relative 6e-8, so a count fits
#: within `FLOAT32_ACCURACY_TOLERANCE` x n, and `accuracy_denominator` looks up to this many images.
#: Three values that are not counts of one split fit some n up to 20,000 by coincidence about once
#: in 2,000 logs ((2.4e-7)^3 x 20,000^4 / 4); the fewest n that fits a split's true counts is its size
#: unless a smaller one fits all of them too, as rare.
MAX_INFERRED_IMAGES_FLOAT32 = 20_000

#: See `MAX_INFERRED_IMAGES_FLOAT32`: two float32 ulps, relative.
FLOAT32_ACCURACY_TOLERANCE = 1.2e-7


def accuracy_denominator(values: list[float], step: float = 0.0) -> int | None:
    """The fewest images n (at most `MAX_INFERRED_IMAGES`, further for more distinct values
    (`printed_search_limit`), or `MAX_INFERRED_IMAGES_FLOAT32` for values at float32 precision) for
    which every accuracy is a count k/n.

    An accuracy measured on n images is a multiple of 1/n: 0.5938, 0.625, 0.5312 and 0.5625 are
    19, 20, 17 and 18 of 32. None when no n up to the bound fits every value, which for more than
    one distinct value means the split is larger (or the values are averages over batches).
    `step` is the step the log printed its accuracies in (`accuracy_step`), when coarser than a
    console's (`CONSOLE_STEP`): the values alone cannot say, 0.4100 being 41 of 100 images.
    """
    return _denominator(tuple(v for v in values if finite(v) and 0.0 <= v <= 1.0), step)


@lru_cache(maxsize=64)
def _denominator(vals: tuple[float, ...], step: float) -> int | None:
    """`accuracy_denominator` of finite values in [0, 1], cached: several checks read one log's split size."""
    printed = {round(v, 4) for v in vals}
    if len(printed) < DENOMINATOR_MIN_VALUES:
        return None  # two values fit many counts by coincidence (0.5154 and 0.4845: 50 and 47 of 97, of 615)
    tolerance = rounding(step)
    if tolerance:
        # printed coarser than a console (`f"{acc:.2f}"`, whole percents): every value is a count k/100 to
        # within half a step, so only splits too small for that to fit by coincidence are read
        limit = min(MAX_INFERRED_IMAGES, printed_search_limit(len(printed - {0.0, 1.0}), tolerance))
        return next((n for n in range(2, limit + 1) if all(_count_of(v, n, tolerance) for v in vals)), None)
    limit = MAX_INFERRED_IMAGES
    if all(abs(v - round(v, 4)) <= 1e-9 for v in vals):  # four decimals, as a console prints them
        limit = max(limit, printed_search_limit(len(printed - {0.0, 1.0})))
    for n in range(2, limit + 1):
        if all(_count_of(v, n, PRINTED_ACCURACY_TOLERANCE) for v in vals):
            return n
    if all(abs(v - round(v, 4)) > 1e-6 or v in (0.0, 1.0) for v in vals):  # float32, not four decimals
        first = vals[0]
        for n in range(MAX_INFERRED_IMAGES + 1, MAX_INFERRED_IMAGES_FLOAT32 + 1):
            if not _count_of(first, n, FLOAT32_ACCURACY_TOLERANCE):
                continue  # most counts fail on the first value: no generator for them
            if all(_count_of(v, n, FLOAT32_ACCURACY_TOLERANCE) for v in vals):
                return n
    return None


def _count_of(v: float, n: int, tolerance: float) -> bool:
    """Whether `v` is a count k/n to within `tolerance`."""
    return abs(v * n - round(v * n)) <= tolerance * n


@lru_cache(maxsize=32)
def printed_search_limit(distinct: int, tolerance: float = PRINTED_ACCURACY_TOLERANCE) -> int:
    """The most images n up to which `distinct` accuracies printed to within `tolerance` (four decimals by
    default) are expected to fit a wrong count, summed over every n from 2, less than `COINCIDENTAL_FITS`
    times."""
    expected, n = 0.0, 1
    while n < MAX_INFERRED_IMAGES_FLOAT32:
        expected += min(1.0, 2 * tolerance * (n + 1)) ** distinct
        if expected > COINCIDENTAL_FITS:
            break
        n += 1
    return n


def epochs_trained(h: Any) -> int:
    """The epochs the run had trained by its last record: the last epoch number printed (a console pasted
    from its middle, or with epochs cut out of it, prints `Epoch 50/50` after six records), else the records."""
    last = printed_index(h, h.epochs - 1) if h.epochs > 0 and index_unit(h) == "epoch" else None
    return max(h.epochs, last or 0)


def few_optimizer_steps(h: Any) -> int | None:
    """The most optimizer steps the run can have taken, when that is at most `BN_SETTLING_STEPS`."""
    total = getattr(h, "bar_total", None)
    epochs = epochs_trained(h)
    if not total or total <= 0 or epochs <= 0:
        return None
    bound = int(total) * epochs
    return bound if bound <= BN_SETTLING_STEPS else None


def double_softmax_floor(k: int) -> float:
    """The least cross-entropy softmax(softmax(z)) can reach over K classes: -ln(e / (e + K - 1))."""
    return -math.log(math.e / (math.e + k - 1))


# --- one answer for every image (LOG017, LOG018, FIT010) ------------------------------------------
#: Accuracies equal to this many decimals (the four a Keras log prints) count as the same value.
FROZEN_ACCURACY_DECIMALS = 4


#: The frozen accuracy must span at least this many epochs: an epoch's training
#: accuracy is a running mean over every batch, so a model whose predictions
#: change moves it in the third or fourth decimal from one epoch to the next.
#: The first epoch may differ, as in LOG018 (`MAJORITY_START_EPOCH`): its running
#: mean still carries the first steps (0.4880, then 0.4840 in ten epochs while
#: the loss climbed from 0.22 to 6.9: categorical cross-entropy on one unit),
#: below `MAJORITY_MIN_SHARE`: at or above it, an answer frozen from the second
#: epoch is the commonest class of imbalanced data (LOG018).
FROZEN_ACCURACY_MIN_EPOCHS = 4


#: Training accuracy at or above this is a model that fits its training set:
#: a frozen 1.0 (or a loss of 0 there) is convergence, not a wiring bug.
FITTED_ACCURACY = 0.99


#: A single answer for every image scores the share of that class; with K >= 2 balanced
#: classes that is at most 1/2. A training accuracy frozen at or above this share can only be
#: one answer if one class holds that share of the training images: the classes are imbalanced
#: (60/40 on two classes; 95/5 in the run corpus's gross runs).
MAJORITY_MIN_SHARE = 0.6


#: The frozen stretch must start by this epoch (1-based): a model that learns the task climbs
#: over several epochs, a model that collapses onto the commonest class sits at its share from
#: the first or second epoch (the running mean of epoch 1 still carries the first steps).
MAJORITY_START_EPOCH = 2


def frozen_stretch(values: list[float]) -> tuple[int, int]:
    """(start, length) of the longest stretch of values equal to `FROZEN_ACCURACY_DECIMALS` decimals."""
    best = (0, 0)
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or round(values[i], FROZEN_ACCURACY_DECIMALS) != round(
            values[start], FROZEN_ACCURACY_DECIMALS
        ):
            if i - start > best[1]:
                best = (start, i - start)
            start = i
    return best


@dataclass(frozen=True)
class MajorityAnswer:
    """A stretch of epochs in which a run gives every image one answer: `first` to `last` (1-based) of the
    `epochs` read, training accuracy `share` and validation accuracy `val` in each."""

    first: int
    last: int
    share: float
    val: float
    epochs: int


def majority_answer(h: Any) -> MajorityAnswer | None:
    """The stretch in which a run gives every image the commonest class's answer, or None.

    Over at least `FROZEN_ACCURACY_MIN_EPOCHS` epochs and at least half of the run, starting by
    epoch `MAJORITY_START_EPOCH`, the training accuracy and the validation accuracy each repeat
    one value to `FROZEN_ACCURACY_DECIMALS` decimals, the training value lying between
    `MAJORITY_MIN_SHARE` and `FITTED_ACCURACY`.
    """
    rows = aligned(h.acc, h.val_acc)
    if len(rows) < FROZEN_ACCURACY_MIN_EPOCHS:
        return None
    accs = [a for _, (a, _) in rows]
    vals = [v for _, (_, v) in rows]
    start, length = frozen_stretch(accs)
    first, last = rows[start][0] + 1, rows[start + length - 1][0] + 1
    if length < FROZEN_ACCURACY_MIN_EPOCHS or 2 * length < len(rows) or first > MAJORITY_START_EPOCH:
        return None
    share = accs[start]
    if not MAJORITY_MIN_SHARE <= share < FITTED_ACCURACY:
        return None
    stretch = vals[start : start + length]
    if len({round(v, FROZEN_ACCURACY_DECIMALS) for v in stretch}) != 1:
        return None
    return MajorityAnswer(first, last, share, stretch[0], len(rows))


#: An epoch whose loss is at or above ln K has learned nothing whatever its accuracy reads, up to
#: this many chance bands above 1/K: exp(-loss), the geometric mean of the probability given to
#: the right class, is then at most 1/K, and an accuracy off 1/K is the arg-max of near-equal
#: outputs, which may land below chance (0.058 on ten digit classes) or a few points above it
#: (0.137). On the run corpus this named `not-learning` in 23 log trials of 4 runs (18 of them 2-epoch
#: logs of a model too small to learn, `insufficient-evidence` before; one band: 11 trials of 2 runs),
#: every one acceptable, and changed no verdict of draws 2-5.
AT_CHANCE_LOSS_ACCURACY_BANDS = 2


def above_chance_bands(acc: float, k: int) -> bool:
    """Whether an accuracy lies more than `AT_CHANCE_LOSS_ACCURACY_BANDS` chance bands above 1/K: more than
    the arg-max of near-equal outputs reads, so at a loss at or above ln K the outputs are confident."""
    return acc > 1.0 / k + AT_CHANCE_LOSS_ACCURACY_BANDS * chance_accuracy_band(k)


#: Class counts LOG021 reads a first epoch against: every one up to CIFAR-100's 100 (and a larger one
#: given). A fresh softmax over 1,000 classes starts at ln 1000 = 6.9, past the reading's reach; such a
#: run, if it begins above ln 100 with answers above chance, gets the abstention until its class count
#: is given.
FRESH_START_MAX_CLASSES = 100

#: A first epoch's mean training loss of more than this many times ln K is no fresh K-class softmax's:
#: one starts near ln K (within `FIRST_LOSS_MARGIN` from random initial logits) and the epoch's mean falls
#: from there. A large first step can put it higher: runs of the corpus and draws 2-11 that call for no
#: pipeline fix begin at up to 2.2 ln K (1.54 nats, an MLP on 30 standardized features of two classes),
#: and with BatchNormalization far higher while answering at chance (4.53 nats on two classes). Since
#: every K up to `FRESH_START_MAX_CLASSES` is tried, the factor decides only for a log that begins above
#: ln 100 = 4.6, where it rules out K up to 10 (e^(4.6 / 2)); none of the runs that begin there calls
#: for no fix (17 log trials of 4 runs that read `healthy`: a linear output, a learning rate of 1, raw
#: training pixels).
FRESH_START_FACTOR = 2.0


def fresh_start(loss: float, acc: float | None, k: int) -> bool:
    """Whether a first epoch of mean training loss `loss` and accuracy `acc` can be a fresh K-class
    softmax's: at most `FRESH_START_FACTOR` x ln K, and, at or above ln K (where exp(-loss), the geometric
    mean of the probability the right class gets, is at most 1/K), an accuracy within
    `AT_CHANCE_LOSS_ACCURACY_BANDS` chance bands of 1/K: above them the outputs are confident, and the
    wrong ones cost more than a uniform guess."""
    ln_k = math.log(k)
    if loss > FRESH_START_FACTOR * ln_k:
        return False
    return not (loss >= ln_k and acc is not None and above_chance_bands(acc, k))


def fresh_start_classes(known: int | None) -> int:
    """The largest class count a first epoch is read against: `FRESH_START_MAX_CLASSES`, or the known one if larger."""
    return max(FRESH_START_MAX_CLASSES, known or 0)


def fresh_start_possible(loss: float, acc: float | None, known: int | None) -> bool:
    """Whether a first epoch of mean training loss `loss` and accuracy `acc` can be a fresh softmax's for
    some class count from 2 to `fresh_start_classes(known)`: `fresh_start`."""
    return any(fresh_start(loss, acc, k) for k in range(2, fresh_start_classes(known) + 1))
