"""LOG: what a logged metric means (binary accuracy on one-hot labels, loss and accuracy that disagree).

See `cifar_doctor.checks.log` for the loss arithmetic these checks rest on.
"""

from __future__ import annotations

import math

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import (
    CONSOLE_STEP,
    FITTED_ACCURACY,
    FROZEN_ACCURACY_DECIMALS,
    FROZEN_ACCURACY_MIN_EPOCHS,
    MAJORITY_MIN_SHARE,
    MIN_EPOCHS_FOR_CURVES,
    accuracy_step,
    aligned,
    binary_entropy,
    classes_from_data,
    finite,
    first_non_finite,
    majority_answer,
    rounding,
)
from ...records import History
from ...registry import register

# --- LOG009 -----------------------------------------------------------------------
#: The first epoch's accuracy lies within this of 1 - 1/K for an integer K >= 3:
#: binary accuracy of K one-hot outputs that all predict "no" is exactly
#: 1 - 1/K (0.9000 for K = 10; the re-enactments print 0.8999 and 0.9000).
PRIOR_ACCURACY_TOLERANCE = 0.001


#: ... and, read on validation, within this (or half the step coarser printing rounds to, up to
#: `PRIOR_ACCURACY_TOLERANCE`): K outputs that all answer "no" get K - 1 of every image's K answers right,
#: so in inference mode the binary accuracy is 1 - 1/K exactly, whatever the class mix, and only printing
#: moves it (a console's 0.9000, 0.6667). An imbalanced binary task answered with its majority class
#: scores its majority share instead, which lands near some 1 - 1/K by chance: on the run corpus and draws
#: 2-10, every validation accuracy of one-hot labels under binary_crossentropy that the check read sat on
#: 1 - 1/K to the printed digit, and the four other runs it had named (imbalanced binary splits at
#: 0.9095, 0.9326 and 0.9529, a breast-cancer split at 0.9366) lay 0.0004-0.0009 off it.
PRIOR_VAL_ACCURACY_TOLERANCE = 1e-4


#: ... and 1 - 1/K must stand apart from its neighbours 1 - 1/(K +- 1) by at
#: least this many tolerances, else every high accuracy matches some K
#: (0.9733 is 1 - 1/37 within 0.0003): K up to 21.
PRIOR_SPACING_FACTOR = 2.0


#: ... and its loss between H(1/K), the binary cross-entropy of K outputs that
#: each predict the class prior 1/K (0.325 nats for K = 10), and ln 2, that of
#: outputs that each still answer 1/2 (a residual network's first epoch sits
#: there: 0.686 and 0.656 with accuracy 0.9000 in the run corpus), within this
#: fraction at either end. A categorical cross-entropy at that accuracy is far
#: from ln 2 only on an easy task, whose accuracy then climbs on.
PRIOR_LOSS_TOLERANCE = 0.15


#: A first loss above H(1/K) itself (towards ln 2) also fits a class-imbalanced
#: binary task whose majority share happens to print as 1 - 1/K, so there
#: 1 - 1/K must stand apart from its neighbours by this many tolerances (K up
#: to 10): the closer the neighbours, the likelier such a coincidence (an
#: imbalanced binary run of the corpus printed 0.9516, 1 - 1/21 within 0.0008).
WIDE_LOSS_SPACING_FACTOR = 8.0


#: Over the run the accuracy moves less than this: a per-output binary accuracy
#: barely moves while the model learns (0.8999 -> 0.9078 in five epochs, or
#: 0.9000 flat), where a categorical accuracy starting at 1 - 1/K (an easy
#: 10-class task at 0.90 after one epoch) climbs on. A longer run may leave the
#: range once the outputs learn to say "yes" (0.9000 for five epochs, then
#: 0.912 and 0.931): the accuracy then still sits at 1 - 1/K, within
#: `PRIOR_ACCURACY_TOLERANCE`, in each of the first `MIN_EPOCHS_FOR_CURVES`
#: epochs, which a categorical accuracy, moving with every epoch of learning,
#: does not.
FLAT_ACCURACY_RANGE = 0.02


#: ... or the first epoch's training accuracy sits at 1 - 1/K too, within this: two readings at the prior,
#: one measured in training mode as a running mean over the epoch's batches (0.6659, 0.6676 and 0.8986 in
#: the run corpus, whose first batches were answered before every output said "no"), the other in
#: inference mode. A class accuracy landing on 1 - 1/K in both splits after one epoch of learning is a
#: coincidence of two narrow bands; a per-output accuracy starts there whatever it does next (on three
#: classes it then climbs with the model: 0.667 -> 0.80 in nine epochs). On the run corpus and draws 2-10,
#: 15 runs show both splits there, 14 of them one-hot labels under binary_crossentropy (the 15th, an
#: imbalanced six-class run at 0.833, has a validation loss 19% below H(1/6)). Read on accuracies printed
#: to four places or more (`CONSOLE_STEP`): a value printed to three (0.900) stands for a band as wide as
#: `PRIOR_ACCURACY_TOLERANCE` itself, and two round values agreeing is no narrow coincidence.
TRAIN_PRIOR_ACCURACY_TOLERANCE = 2 * PRIOR_ACCURACY_TOLERANCE


def _spaced(k: int, factor: float) -> bool:
    """1 - 1/K stands at least `factor` x `PRIOR_ACCURACY_TOLERANCE` from 1 - 1/(K + 1), its nearer neighbour."""
    return 1.0 / (k * (k + 1)) >= factor * PRIOR_ACCURACY_TOLERANCE


@register("LOG009", "binary-accuracy-on-one-hot", requires=("history",), cause="label-format-mismatch")
def binary_accuracy_on_one_hot(inputs: Inputs) -> list[Finding]:
    """Accuracy sits at 1 - 1/K from the first epoch with a loss of H(1/K): per-output binary accuracy.

    ## What it does
    Reads the first epoch's validation accuracy and loss (training, when there
    is no validation). Fires when the accuracy is within
    `PRIOR_ACCURACY_TOLERANCE` of 1 - 1/K for some K >= 3 (on validation,
    `PRIOR_VAL_ACCURACY_TOLERANCE`: there it is exact), the loss within
    `PRIOR_LOSS_TOLERANCE` of the binary entropy H(1/K) (or between it and
    ln 2 where 1 - 1/K stands `WIDE_LOSS_SPACING_FACTOR` tolerances from its
    neighbours), and, over at least `MIN_EPOCHS_FOR_CURVES` epochs, the
    accuracy moves less than `FLAT_ACCURACY_RANGE` or stays at 1 - 1/K in the
    first of them, or the first epoch's training accuracy sits at 1 - 1/K too
    (within `TRAIN_PRIOR_ACCURACY_TOLERANCE`).

    ## Why is this bad?
    `binary_crossentropy` on K-class one-hot labels scores each of the K
    outputs as a separate yes/no question, and Keras <= 2.3 then reported
    `binary_accuracy` as "accuracy": predicting "no" everywhere is already
    1 - 1/K right (90% for CIFAR-10). The reported accuracy is inflated and
    says nothing about which class the model picks; the true class accuracy
    can be 0.4 while the log shows 0.91. Motivated by the re-enacted
    binary-crossentropy-on-one-hot case (accuracy 0.8999 -> 0.9078, true
    categorical accuracy 0.42) and the 19-class thread where 0.98 "accuracy"
    was 0.83.

    ## Example
    ```
    Epoch 1/5
    63/63 - 3s - accuracy: 0.8999 - loss: 0.3614 - val_accuracy: 0.9000 - val_loss: 0.3235
    ```

    ## Use instead
    ```python
    outputs = layers.Dense(10, activation="softmax")(x)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])  # one-hot labels
    ```
    """
    h = inputs.history
    acc_s, loss_s, split = (h.val_acc, h.val_loss, "val") if h.val_acc and h.val_loss else (h.acc, h.loss, "train")
    rows = aligned(loss_s, acc_s)
    if len(rows) < MIN_EPOCHS_FOR_CURVES or rows[0][0] != 0:
        return []
    l0, a0 = rows[0][1]
    if a0 >= 1.0:
        return []
    k = round(1.0 / (1.0 - a0))
    known = classes_from_data(inputs)
    step = accuracy_step(h)
    tolerance = PRIOR_ACCURACY_TOLERANCE
    if split == "val":
        tolerance = min(PRIOR_ACCURACY_TOLERANCE, max(PRIOR_VAL_ACCURACY_TOLERANCE, rounding(step)))
    if k < 3 or (known and known != k) or abs(a0 - (1 - 1.0 / k)) > tolerance:
        return []
    if not _spaced(k, PRIOR_SPACING_FACTOR):
        return []  # 1 - 1/K and 1 - 1/(K+1) too close: any accuracy this high matches some K
    prior_loss = binary_entropy(1.0 / k)
    if abs(l0 - prior_loss) > PRIOR_LOSS_TOLERANCE * prior_loss:
        if not (_spaced(k, WIDE_LOSS_SPACING_FACTOR) and prior_loss <= l0 <= (1 + PRIOR_LOSS_TOLERANCE) * math.log(2)):
            return []
    accs = [a for _, (_, a) in rows]
    losses = [lo for _, (lo, _) in rows]
    pinned = all(abs(a - (1 - 1.0 / k)) <= PRIOR_ACCURACY_TOLERANCE for a in accs[:MIN_EPOCHS_FOR_CURVES])
    train0 = h.acc[0] if split == "val" and h.acc and finite(h.acc[0]) else None
    both = train0 is not None and abs(train0 - (1 - 1.0 / k)) <= TRAIN_PRIOR_ACCURACY_TOLERANCE and step <= CONSOLE_STEP
    if max(accs) - min(accs) >= FLAT_ACCURACY_RANGE and not pinned and not both:
        return []
    name = "val_" if split == "val" else ""
    both_txt = f" (training accuracy {train0:.4f} too)" if both and train0 is not None else ""
    return [
        binary_accuracy_on_one_hot.finding(
            Severity.WARNING,
            f"{name}accuracy starts at {a0:.4f} ≈ 1 - 1/{k}{both_txt} and stays within {min(accs):.4f}-{max(accs):.4f} "
            f"while {name}loss falls from {losses[0]:.4f} (H(1/{k}) = {prior_loss:.4f}) to {losses[-1]:.4f}.",
            evidence={
                "classes_implied": k,
                "accuracy_first": rounded(a0),
                "train_accuracy_first": rounded(train0) if train0 is not None else None,
                "prior_accuracy": rounded(1 - 1.0 / k),
                "loss_first": rounded(l0),
                "prior_binary_entropy": rounded(prior_loss),
                "accuracy": [rounded(a) for a in accs],
                "loss": [rounded(v) for v in losses],
                "split": split,
            },
            fix=Fix(
                "Use softmax with categorical_crossentropy for one-hot single-label classes",
                'outputs = layers.Dense(10, activation="softmax")(x)\n'
                'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])',
            ),
            explanation=(
                f"{1 - 1.0 / k:.4f} is what {k} yes/no outputs score by answering 'no' to all of them, and "
                f"{prior_loss:.3f} nats is their binary cross-entropy when each predicts the prior 1/{k}: the run "
                "scores one-hot labels output by output (binary_crossentropy with binary accuracy). That accuracy "
                "is inflated and barely moves as the model learns; the class accuracy is far lower."
            ),
            split=split,
        )
    ]


# --- LOG012 -----------------------------------------------------------------------
#: In every epoch (at least `MIN_EPOCHS_FOR_CURVES`), validation loss is at
#: least this fraction below the training loss ...
OPPOSITE_LOSS_MARGIN = 0.10


#: ... while validation accuracy is at least this far below training accuracy.
OPPOSITE_ACCURACY_MARGIN = 0.02


@register("LOG012", "val-loss-lower-accuracy-lower", requires=("history",), cause="eval-distribution-shift")
def val_loss_lower_accuracy_lower(inputs: Inputs) -> list[Finding]:
    """Validation loss is lower than training loss but validation accuracy is lower too, every epoch.

    ## What it does
    Fires when, in every epoch (at least `MIN_EPOCHS_FOR_CURVES`), `val_loss`
    is at least `OPPOSITE_LOSS_MARGIN` (10%) below the training loss and
    validation accuracy at least `OPPOSITE_ACCURACY_MARGIN` below training
    accuracy.

    ## Why is this bad?
    On one data distribution the two measures agree on which split the model
    does better on: overfitting makes validation worse on both, dropout and
    augmentation make validation better on both. Better on loss but worse on
    accuracy means the splits differ: another class mix (a rare class
    under-represented in validation), other label noise, other inputs. The
    gap in accuracy then says little about generalization. Motivated by the
    binary LSTM thread (val_loss 0.50 vs 0.63, val accuracy 0.78 vs 0.83,
    answered with the class mix of the test set).

    ## Example
    ```
    Epoch 5/10
    10708/10708 [=======] - loss: 0.6180 - acc: 0.8318 - val_loss: 0.4942 - val_acc: 0.7848
    ```

    ## Use instead
    Split with `sklearn.model_selection.train_test_split(..., stratify=y)`,
    compare the class counts of the splits (`np.bincount`), and report a
    metric that is robust to the class mix (per-class recall, AUC).
    """
    h = inputs.history
    rows = aligned(h.loss, h.val_loss, h.acc, h.val_acc)
    if len(rows) < MIN_EPOCHS_FOR_CURVES or len(rows) != h.epochs:
        return []
    if not all(
        vl <= (1 - OPPOSITE_LOSS_MARGIN) * lo and va <= a - OPPOSITE_ACCURACY_MARGIN for _, (lo, vl, a, va) in rows
    ):
        return []
    _, (lo, vl, a, va) = rows[-1]
    return [
        val_loss_lower_accuracy_lower.finding(
            Severity.WARNING,
            f"In all {len(rows)} epochs validation loss is lower than training loss (last {vl:.4g} vs {lo:.4g}) while "
            f"validation accuracy is lower than training accuracy (last {va:.4f} vs {a:.4f}).",
            evidence={
                "epochs": len(rows),
                "loss_ratio": [rounded(v[1] / v[0]) for _, v in rows if v[0] > 0],
                "accuracy_gap": [rounded(v[2] - v[3]) for _, v in rows],
                "loss_margin": OPPOSITE_LOSS_MARGIN,
                "accuracy_margin": OPPOSITE_ACCURACY_MARGIN,
            },
            fix=Fix(
                "Split with stratification and compare the class counts of the splits",
                "from sklearn.model_selection import train_test_split\n"
                "x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, stratify=y)\n"
                "print(np.bincount(y_tr.ravel()), np.bincount(y_val.ravel()))",
            ),
            explanation=(
                "On one distribution loss and accuracy agree on which split does better (overfitting: validation "
                "worse on both; dropout: validation better on both). Here they disagree in every epoch, which "
                "points to validation data with another class mix or other labels than the training data."
            ),
            split="val",
        )
    ]


# --- LOG015 -----------------------------------------------------------------------
#: A training accuracy at most this in every epoch counts as exactly zero (Keras
#: prints it as `0.0000e+00`).
ZERO_ACCURACY = 1e-9


@register("LOG015", "accuracy-always-zero", requires=("history",), cause="metric-not-applicable")
def accuracy_always_zero(inputs: Inputs) -> list[Finding]:
    """Training accuracy is exactly 0 in every epoch: the metric does not measure the task.

    ## What it does
    Fires (warning) when the training accuracy is at most `ZERO_ACCURACY` in
    every one of at least `MIN_EPOCHS_FOR_CURVES` epochs. Its finding
    supersedes the checks that read the training curves as a classifier's:
    underfitting (FIT002, FIT006), which would read the zero as a model that
    cannot fit, and the loss-against-ln K checks (LOG002, LOG008, LOG014),
    whose arithmetic holds for a cross-entropy only.

    ## Why is this bad?
    No classifier scores exactly 0: answering one class for every image
    already scores that class's share, and guessing scores about 1/K. Keras'
    `accuracy` on continuous targets (a regression compiled with
    `metrics=["accuracy"]`) compares float predictions with float targets
    for equality, which never holds, so it prints 0 while the loss falls.
    The accuracy curves then say nothing, and judging them as underfitting
    sends the user the wrong way.

    ## Example
    ```
    Epoch 12/12
    10/10 - 0s - accuracy: 0.0000e+00 - loss: 2.0e+04 - val_accuracy: 0.0000e+00 - val_loss: 1.9e+04
    ```

    ## Use instead
    ```python
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])  # a regression metric
    ```
    """
    h = inputs.history
    accs = [a for a in h.acc if finite(a)]
    if len(accs) < MIN_EPOCHS_FOR_CURVES or len(accs) != len(h.acc) or max(accs) > ZERO_ACCURACY:
        return []
    losses = [v for v in h.loss if finite(v)]
    evidence = {"epochs": len(accs), "max_accuracy": rounded(max(accs))}
    if len(losses) >= 2:
        evidence.update(loss_first=rounded(losses[0], 4), loss_last=rounded(losses[-1], 4))
    return [
        accuracy_always_zero.finding(
            Severity.WARNING,
            f"Training accuracy is exactly 0 in all {len(accs)} epochs"
            + (f" while the loss goes from {losses[0]:.4g} to {losses[-1]:.4g}." if len(losses) >= 2 else "."),
            evidence=evidence,
            fix=Fix(
                "For a regression, compile with a regression metric; for a classifier, check the labels and the output",
                'model.compile(optimizer="adam", loss="mse", metrics=["mae"])',
            ),
            explanation=(
                "A classifier cannot score exactly 0: one answer for every image scores that class's share. "
                "Keras' accuracy on continuous targets compares floats for equality and prints 0 whatever the model "
                "learned, so the accuracy curves of this run say nothing about fit or generalization; judge it by "
                "its loss and a regression metric."
            ),
            split="train",
        )
    ]


# --- LOG016 -----------------------------------------------------------------------
#: A loss below this in some epoch is outside the range of every classification
#: loss Keras ships: cross-entropies, hinge losses, squared errors and KL
#: divergence are >= 0, and cosine similarity, the one negative loss, is >= -1.
NEGATIVE_LOSS_FLOOR = -1.0


@register("LOG016", "negative-loss", requires=("history",), cause="label-format-mismatch")
def negative_loss(inputs: Inputs) -> list[Finding]:
    """The loss goes below -1 while an accuracy is logged: the labels are outside the loss's range.

    ## What it does
    Fires when the training or validation loss falls below
    `NEGATIVE_LOSS_FLOOR` in some epoch of a run that logs an accuracy that
    is not always 0 (LOG015 covers a regression). When the loss later turns
    NaN, this finding supersedes LOG003: the NaN follows from the loss having
    no lower bound.

    ## Why is this bad?
    A cross-entropy is never negative: `-y log p - (1 - y) log(1 - p)` is >= 0
    for targets in [0, 1]. Integer class labels 0-9 fed to
    `binary_crossentropy` (one sigmoid unit) make `1 - y` negative, so the
    loss falls without bound by pushing the output to 1, and the run looks
    like it learns while its accuracy stays at one class's share.

    ## Example
    ```
    Epoch 3/5
    38/38 - 1s - accuracy: 0.0913 - loss: -2081.7490 - val_accuracy: 0.0890 - val_loss: -3097.6069
    ```

    ## Use instead
    ```python
    outputs = layers.Dense(10, activation="softmax")(x)  # one unit per class
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ```
    """
    h = inputs.history
    accs = [a for a in h.acc if finite(a)]
    if not accs or max(accs) <= ZERO_ACCURACY:
        return []
    lows = {
        name: min(v for v in series if finite(v))
        for name, series in (("loss", h.loss), ("val_loss", h.val_loss))
        if any(finite(v) for v in series)
    }
    below = {name: low for name, low in lows.items() if low < NEGATIVE_LOSS_FLOOR}
    if not below:
        return []
    shown = ", ".join(f"{name} {low:.4g}" for name, low in below.items())
    return [
        negative_loss.finding(
            Severity.ERROR,
            f"The loss goes below {NEGATIVE_LOSS_FLOOR:g} ({shown}), which no classification loss can reach.",
            evidence={"lowest": {k: rounded(v, 4) for k, v in below.items()}, "floor": NEGATIVE_LOSS_FLOOR},
            fix=Fix(
                "Give the loss labels in its range: one unit per class with sparse categorical cross-entropy",
                'outputs = layers.Dense(num_classes, activation="softmax")(x)\n'
                'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
            ),
            explanation=(
                "Cross-entropy, hinge and squared-error losses are never negative, cosine similarity never below -1. "
                "A loss that keeps falling below that receives targets outside its range, typically integer class "
                "labels fed to binary cross-entropy over one sigmoid unit: its term (1 - y) log(1 - p) turns negative "
                "for y > 1, so the loss has no floor and training chases it while accuracy stays at one class's share."
            ),
        )
    ]


# --- LOG017 -----------------------------------------------------------------------
#: ... while the loss moves by at least this fraction of its largest value: the
#: weights change, yet no prediction crosses to another class.
FROZEN_LOSS_MOVE = 0.10


#: ... or pinned within this of 1 - 1/K (K from 3 to `PINNED_MAX_CLASSES`) from the first epoch on:
#: binary cross-entropy on K one-hot labels makes Keras' "accuracy" a binary accuracy over the K
#: outputs, and an output near 0 everywhere scores 1 - 1/K (0.9 for 10 classes) whatever it
#: learns; the running mean then wanders by a few thousandths (0.8964-0.8976 over six epochs in
#: the run corpus). A real K-class model's first epoch starts from chance, not at 1 - 1/K.
PINNED_BAND = 0.005

#: Largest K whose 1 - 1/K LOG017 recognizes: beyond 10 the values crowd (1 - 1/11 = 0.909).
PINNED_MAX_CLASSES = 10


#: A loss at most this in every epoch counts as zero (printed 0.0000e+00).
ZERO_LOSS = 1e-6


@register("LOG017", "accuracy-frozen-while-loss-moves", requires=("history",), cause="output-loss-mismatch")
def accuracy_frozen_while_loss_moves(inputs: Inputs) -> list[Finding]:
    """Training accuracy never changes while the loss moves, or the loss is 0 at a low accuracy.

    ## What it does
    Fires (warning) when the training accuracy, between 0 and
    `FITTED_ACCURACY`, is the same to `FROZEN_ACCURACY_DECIMALS` decimals in
    every one of at least `FROZEN_ACCURACY_MIN_EPOCHS` epochs (the first may
    differ below a majority share) while the training loss moves by at least `FROZEN_LOSS_MOVE` of its largest value,
    or stays within `PINNED_BAND` of 1 - 1/K (K from 3 to 10) from the first
    epoch on while the loss moves as much (the binary accuracy of binary
    cross-entropy on one-hot labels); or when the training loss is at most
    `ZERO_LOSS` in every epoch (at least `MIN_EPOCHS_FOR_CURVES`) while the
    accuracy stays below `FITTED_ACCURACY`. A run whose loss turned NaN or
    infinite for good is judged on the epochs before (such a loss can grow
    until it overflows while accuracy never moves); its LOG003 then gives way.

    ## Why is this bad?
    The loss is then disconnected from the predictions that accuracy scores.
    A softmax over a single unit always outputs 1.0: categorical
    cross-entropy is exactly 0 whatever the weights, binary cross-entropy on
    it moves with the bias of nothing, and accuracy is frozen at the share of
    one class. A loss of 0 says every prediction is certain and right, which
    an accuracy below 1 contradicts. Validation numbers of such a run measure
    the wiring, not generalization.

    ## Example
    ```
    Epoch 6/6
    30/30 - 0s - accuracy: 0.5320 - loss: 0.6290 - val_accuracy: 0.4920 - val_loss: 0.5830
    ```
    (0.5320 in all six epochs while the loss fell from 0.811.)

    ## Use instead
    ```python
    outputs = layers.Dense(1, activation="sigmoid")(x)  # two classes: one sigmoid unit
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    ```
    """
    h = inputs.history
    rows = _before_blow_up(h)
    if rows is None or len(rows) < MIN_EPOCHS_FOR_CURVES:
        return []
    losses = [lo for _, (lo, _) in rows]
    accs = [a for _, (_, a) in rows]
    if not ZERO_ACCURACY < max(accs) < FITTED_ACCURACY:
        return []
    # from the second epoch on: the first epoch's running mean still carries the first steps
    frozen_all = len({round(a, FROZEN_ACCURACY_DECIMALS) for a in accs}) == 1
    frozen_late = len({round(a, FROZEN_ACCURACY_DECIMALS) for a in accs[1:]}) == 1 and accs[-1] < MAJORITY_MIN_SHARE
    frozen = frozen_all or frozen_late  # one value, whatever the stretch
    pinned = next(
        (k for k in range(3, PINNED_MAX_CLASSES + 1) if all(abs(a - (1 - 1 / k)) <= PINNED_BAND for a in accs)), None
    )
    top = max(abs(v) for v in losses)
    moved = top > 0 and (max(losses) - min(losses)) / top >= FROZEN_LOSS_MOVE
    zero = top <= ZERO_LOSS
    if zero:
        what = f"The training loss is 0 in all {len(rows)} epochs while training accuracy stays at {max(accs):.4f}."
    elif moved and (
        (frozen_all and len(rows) >= FROZEN_ACCURACY_MIN_EPOCHS)
        or (frozen_late and len(rows) - 1 >= FROZEN_ACCURACY_MIN_EPOCHS)
    ):
        since, n = ("all", len(rows)) if frozen_all else ("the last", len(rows) - 1)
        what = (
            f"Training accuracy is {accs[-1]:.4f} in {since} {n} epochs while the loss moves from "
            f"{losses[0]:.4g} to {losses[-1]:.4g}."
        )
    elif pinned and moved and len(rows) >= FROZEN_ACCURACY_MIN_EPOCHS:
        what = (
            f"Training accuracy stays at {min(accs):.4f}-{max(accs):.4f} ≈ 1 - 1/{pinned} from the first of "
            f"{len(rows)} epochs while the loss moves from {losses[0]:.4g} to {losses[-1]:.4g}: the binary accuracy "
            f"of outputs near 0 on {pinned} one-hot labels (binary cross-entropy on a multi-class task)."
        )
    else:
        return []
    return [
        accuracy_frozen_while_loss_moves.finding(
            Severity.WARNING,
            what,
            evidence={
                "epochs": len(rows),
                "accuracy": sorted({rounded(a) for a in accs}),
                "loss_first": rounded(losses[0], 4),
                "loss_last": rounded(losses[-1], 4),
                "loss_zero": zero,
                "pinned_at_one_minus_one_over": pinned if not (zero or frozen) else None,
            },
            fix=Fix(
                "Give the output one unit per class (softmax) or one sigmoid unit for two classes, with the matching loss",
                'outputs = layers.Dense(1, activation="sigmoid")(x)  # or Dense(num_classes, activation="softmax")\n'
                'model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])',
            ),
            explanation=(
                "No prediction changes class while the loss moves, or the loss claims perfect certainty at a low "
                "accuracy: the loss does not see what accuracy scores. A softmax over one unit outputs 1.0 for every "
                "input, so categorical cross-entropy is 0 and accuracy is frozen at one class's share. Neither curve "
                "says anything about fit or generalization until the output matches the labels."
            ),
            split="train",
        )
    ]


def _before_blow_up(h: History | None) -> list[tuple[int, tuple[float, ...]]] | None:
    """(epoch, (loss, accuracy)) of every epoch, or of the epochs before the loss turned non-finite for good
    (an output that cannot express the labels can drive the loss to overflow while accuracy stays put);
    `None` when an epoch in between lacks either value, or there is no history."""
    if h is None:
        return None
    rows = aligned(h.loss, h.acc)
    if len(rows) == h.epochs:
        return rows
    blown = first_non_finite(h, "loss")  # a computed NaN or infinity, not a value the file lacks
    before = blown is not None and [i for i, _ in rows] == list(range(blown))
    if before and len(h.loss) == h.epochs and not any(finite(v) for v in h.loss[blown:]):
        return rows
    return None


# --- LOG018 -----------------------------------------------------------------------
@register(
    "LOG018",
    "accuracy-frozen-at-majority-share",
    requires=("history",),
    cause="class-imbalance",
    superseded_by=("LOG017",),
)
def accuracy_frozen_at_majority_share(inputs: Inputs) -> list[Finding]:
    """Training and validation accuracy freeze together from the start, training at a share only imbalance gives.

    ## What it does
    Fires (warning) when, over at least `FROZEN_ACCURACY_MIN_EPOCHS` epochs and at
    least half of the run, starting by epoch `MAJORITY_START_EPOCH`, the training
    accuracy and the validation accuracy each repeat one value to
    `FROZEN_ACCURACY_DECIMALS` decimals, the training value lying between
    `MAJORITY_MIN_SHARE` and `FITTED_ACCURACY`. LOG017 (frozen in every epoch
    while the loss moves: an output that cannot express the labels) supersedes it.

    ## Why is this bad?
    Accuracy that does not move in either split while the weights change means
    the model gives every image the same answer. One answer scores the share of
    its class, at most 1/2 on balanced classes; frozen at 0.95, 95% of the
    training images carry one label. Minimizing the average loss over such a set
    is easiest by always answering the commonest class, and the validation
    accuracy then only shows the validation set's share of that class: a
    balanced validation split sits at 1/K, an equally imbalanced one at the same
    high value, which looks healthy. It is not overfitting and not a scale bug.

    ## Example
    ```
    Epoch 6/6
    34/34 - 0s - accuracy: 0.9521 - loss: 0.1702 - val_accuracy: 0.5009 - val_loss: 1.0100
    ```
    (0.9521 and 0.5009 from epoch 2 on.)

    ## Use instead
    ```python
    counts = np.bincount(y_train.ravel())
    class_weight = {c: len(y_train) / (len(counts) * n) for c, n in enumerate(counts) if n}
    model.fit(x_train, y_train, class_weight=class_weight, validation_data=(x_val, y_val))
    ```
    """
    h = inputs.history
    answer = majority_answer(h)
    if answer is None:
        return []
    first, last, epochs, share, val = answer.first, answer.last, answer.epochs, answer.share, answer.val
    return [
        accuracy_frozen_at_majority_share.finding(
            Severity.WARNING,
            f"Training accuracy is {share:.4f} and validation accuracy {val:.4f} in every epoch from "
            f"{first} to {last} of {epochs}: the model gives every image one answer, and {share:.0%} of the "
            "training images carry that label.",
            evidence={
                "epochs": epochs,
                "frozen_from": first,
                "frozen_to": last,
                "train_accuracy": rounded(share),
                "val_accuracy": rounded(val),
                "majority_min_share": MAJORITY_MIN_SHARE,
            },
            fix=Fix(
                "Weight the classes by their inverse frequency (or resample) and validate on a split with every class",
                "counts = np.bincount(y_train.ravel())\n"
                "class_weight = {c: len(y_train) / (len(counts) * n) for c, n in enumerate(counts) if n}\n"
                "model.fit(x_train, y_train, class_weight=class_weight, validation_data=(x_val, y_val))",
            ),
            explanation=(
                "Neither accuracy moves while the weights change, so every image gets the same answer; one answer "
                f"scores its class's share, which reaches {share:.2f} only when that class dominates the training "
                "labels. The network has learned the class prior, not the images: the fix is in the class balance, "
                "not in regularization."
            ),
            split="train",
        )
    ]
