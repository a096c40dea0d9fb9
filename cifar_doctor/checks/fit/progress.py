"""FIT: how training progresses: underfitting, an oscillating validation loss, slow learning
(FIT002, FIT005, FIT006).

See `cifar_doctor.checks.fit` for the family.
"""

from __future__ import annotations

import math

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import (
    ASSUMED_CLASSES,
    CHANCE_LOSS_TOLERANCE,
    MIN_EPOCHS_FOR_CURVES,
    accuracy_step,
    chance_k,
    classification_loss_scale,
    finite,
    first_non_finite,
    log_classes,
    printed_index,
    rounding,
)
from ...registry import register

#: A run still below this many times chance (1/K) after `MIN_EPOCHS_FOR_CURVES`
#: epochs has barely started to learn: FIT002 names `underfitting` then even
#: from a log without validation metrics (a 10-class run at 0.145 training and
#: 0.171 validation accuracy after 5 epochs is no evidence of a healthy
#: pipeline). Above it, a rising run names it only when the log has validation
#: metrics (`STILL_LEARNING_ACCURACY`).
NEAR_CHANCE_FACTOR = 2.0


#: Training accuracy below this after a plateau is underfitting: a model with
#: the capacity for the task keeps climbing past it (a small CNN passes 0.6 on
#: CIFAR-10 within 5 epochs, 0.9 on two classes); for more than 20 classes the
#: threshold is `UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES`. Chosen on the run corpus
#: by `bench/corpus/fit.py` from 0.3-0.8 (with the other thresholds as
#: shipped): every fold of families chose 0.8, which gave 1,681 right and 348
#: forbidden log verdicts of 2,301 on the held-out folds against 1,662 and 369
#: at the former 0.5 (0.7: 1,677 and 348).
UNDERFIT_TRAIN_ACCURACY = 0.8


#: A run still rising below this training accuracy has not fitted its training data yet: FIT002
#: names `underfitting` (information; the fix is to train longer), since a small CNN on CIFAR-10
#: passes 0.5 within a few epochs, and a run stopped below it has not shown whether validation
#: would follow. Such a curve is also all the log of an eval-side bug shows before the model has
#: learned enough to expose it (eval images 16x too large on digits at 0.34 training accuracy,
#: a learning rate of 1.0 at 0.45): called `healthy`, that was a forbidden verdict. Naming
#: `underfitting` from 0.5 down (it was named only below `NEAR_CHANCE_FACTOR` x chance) moved the
#: log and data verdicts of the corpus from 2,238 to 2,255 right of 2,506 and its forbidden ones
#: from 83 to 66, with no set worse: draws 2-7 from 3,220 to 3,272 right of 3,987, forbidden 266
#: to 230 (draw 7 was never used to fit a rule: 684 -> 700 of 879, 81 -> 69). Above it a rising
#: run is left to the other checks; the plateau bound `UNDERFIT_TRAIN_ACCURACY` is a different
#: question.
STILL_LEARNING_ACCURACY = 0.5


UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES = 0.3


#: Plateau: training accuracy gained less than `PLATEAU_GAIN` over the last
#: `PLATEAU_WINDOW` epochs.
PLATEAU_WINDOW = 3


PLATEAU_GAIN = 0.01


#: Validation loss changing by this factor between two epochs is a swing; a
#: stable run's validation loss moves by a few percent per epoch. Chosen on the
#: run corpus by `bench/corpus/fit.py` from 1.25-3: every fold of families chose
#: 1.25, which cut the forbidden log verdicts on the held-out folds from 393 to
#: 376 of 2,301 at the same 1,654 right (a learning rate too high swings the
#: validation loss by 30-50%, not only by half again).
SWING_FACTOR = 1.25


#: ... and, for a classifier (an accuracy is logged), by at least this fraction of
#: `CLASSIFICATION_LOSS_SCALE` (ln 2) in nats:
#: a memorizing model's validation loss near zero swings by factors of two in hundredths
#: (0.141 <-> 0.315 at validation accuracy 0.89-0.95), which is noise of a few images, where
#: a learning rate too high moves it by nats (3.29, 0.92, 1.43, 1.85, 0.58, 2.30, 0.17).
SWING_SCALE = 0.5


#: This many reversals of direction between swings make validation loss oscillate.
MIN_SWINGS = 3


#: Training loss still above this fraction of ln K after several epochs is slow
#: learning: a usable learning rate brings a small CNN on CIFAR-10 to about
#: 0.65 ln K within three epochs of 4,000 images.
SLOW_LOSS_FRACTION = 0.8


#: ... provided the run can have taken at least this many optimizer steps (the
#: progress bar's total times the epochs, an upper bound): 40 steps a epoch
#: for 4 epochs on 2,000 images leave a healthy model at 0.85 ln K, while 1,000
#: Adam steps at 1e-3 take a small CNN far below 0.8 ln K.
SLOW_MIN_STEPS = 1000


@register("FIT002", "underfitting", requires=("history",), cause="underfitting", superseded_by=("LOG015",))
def underfitting(inputs: Inputs) -> list[Finding]:
    """Training accuracy is low and has stopped improving.

    ## What it does
    Fires (warning) when the last training accuracy is below
    `UNDERFIT_TRAIN_ACCURACY` (0.8; 0.3 for more than 20 classes) and gained
    less than `PLATEAU_GAIN` over the last `PLATEAU_WINDOW` epochs (printed
    coarser than a console, less than `PLATEAU_GAIN` plus one printed step:
    0.50 -> 0.51 may be no rise). When it is
    still rising below `STILL_LEARNING_ACCURACY` (0.5), it advises (info) to
    train longer and names `underfitting`: the model has not fitted its
    training data yet (without validation metrics, only near chance). A log
    without validation metrics gets the plateau as information with no
    cause: a validation-side bug (eval inputs on another scale, shuffled eval
    labels) leaves the training curves as they are, so the plateau cannot
    say why validation lags, and LOG006 names the
    validation curve as what would settle it (on the run corpus, 5 more of
    its per-step log trials right than with the warning, 3 more on draws 2-5).

    ## Why is this bad?
    A model that cannot fit its training data will not do better on
    validation data; regularizing it further (a common reaction to a
    train/val gap) makes it worse. Too little capacity, too much dropout or
    weight decay, or a learning rate too low for the schedule.

    ## Example
    ```
    Epoch 8/10 ... accuracy: 0.3812 ...
    Epoch 10/10 ... accuracy: 0.3849 ...
    ```

    ## Use instead
    Add capacity (filters, layers), reduce dropout/weight decay, raise the
    learning rate, or train longer.

    Silent when the training loss turned NaN or infinite: the accuracies of NaN
    weights say nothing about capacity, and a higher learning rate is the
    wrong advice there (LOG003, LOG019).
    """
    h = inputs.history
    if first_non_finite(h, "loss") is not None:
        return []
    acc = [a for a in h.acc if finite(a)]
    if len(acc) < MIN_EPOCHS_FOR_CURVES:
        return []
    k = inputs.num_classes
    if h.loss and finite(h.loss[-1]) and chance_k(h.loss[-1], acc[-1], k):
        return []  # at chance: loss-at-chance says it better
    low = UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES if k and k > 20 else UNDERFIT_TRAIN_ACCURACY
    if acc[-1] >= low:
        return []
    window = min(PLATEAU_WINDOW, len(acc) - 1)
    gain = acc[-1] - acc[-1 - window]
    # a rise shown by accuracies printed coarser than a console: the difference of two values rounded to a
    # step can be up to that step more than the rise itself (0.01 at two decimals is 0.0001 to 0.0199)
    rising = gain - 2 * rounding(accuracy_step(h)) >= PLATEAU_GAIN
    if rising and acc[-1] >= min(low, STILL_LEARNING_ACCURACY):
        return []  # still rising, and far enough along for the other checks to judge the curves
    ev = {
        "train_acc_last": rounded(acc[-1]),
        "gain_last_epochs": rounded(gain),
        "window": window,
        "threshold": low,
        "epochs": len(acc),
    }
    blind = not (h.val_acc or h.val_loss)  # no validation metrics: the training curves cannot say why validation lags
    if not rising:
        return [
            underfitting.finding(
                Severity.INFO if blind else Severity.WARNING,
                f"Training accuracy is {acc[-1]:.4f} and gained {gain:+.4f} over the last {window} epochs: a plateau "
                f"below {low}."
                + (
                    " The log has no validation metrics, so it cannot tell whether validation lags further."
                    if blind
                    else ""
                ),
                evidence={**ev, "has_validation": not blind},
                cause=None if blind else "underfitting",
                fix=Fix("Give the model more capacity or less regularization, or raise the learning rate"),
                explanation="A model that cannot fit the training data will not generalize better; more regularization "
                "would widen the problem, not fix it.",
                split="train",
            )
        ]
    chance_classes = log_classes(inputs)[0] or ASSUMED_CLASSES  # the given K first
    near_chance = acc[-1] < NEAR_CHANCE_FACTOR / chance_classes
    ev["near_chance"] = near_chance
    return [
        underfitting.finding(
            Severity.INFO,
            f"Training accuracy is {acc[-1]:.4f} and still rising ({gain:+.4f} over the last {window} epochs): train longer "
            "before judging the gap."
            + (
                f" It is below {NEAR_CHANCE_FACTOR:g}x chance (1/{chance_classes}): the model has barely started."
                if near_chance
                else ""
            ),
            evidence=ev,
            fix=Fix("Train for more epochs"),
            explanation="The model is still learning; the curves do not show a plateau yet.",
            split="train",
            cause=None if blind and not near_chance else "underfitting",
        )
    ]


@register("FIT005", "oscillating-val-loss", requires=("history",), cause="unstable-training")
def oscillating_val_loss(inputs: Inputs) -> list[Finding]:
    """Validation loss swings up and down by large factors from epoch to epoch.

    ## What it does
    Counts epochs where `val_loss` changed by a factor of at least
    `SWING_FACTOR` (1.25) from the previous epoch (and, for a classifier, by
    at least `SWING_SCALE` x ln 2 nats) in the opposite direction of the
    previous such swing, and fires at `MIN_SWINGS` (3) reversals.

    ## Why is this bad?
    Validation loss is measured on fixed data with the weights of the end of
    each epoch; it moves smoothly when training is stable, whether the model
    is improving or overfitting. Swings by half or more, back and forth, mean
    the weights jump from one side of the loss valley to the other between
    epochs: the learning rate is too high (or the batch size too small for
    it). Motivated by the binary image classifier thread whose val_loss went
    3.29, 0.92, 1.43, 1.85, 0.58, 2.30, 0.17, 1.52, 0.14, 2.81.

    ## Example
    ```
    epoch [6]: training loss: 0.52 - acc: 0.79 - val_loss: 2.30 - val_acc: 0.50
    epoch [7]: training loss: 0.38 - acc: 0.85 - val_loss: 0.17 - val_acc: 0.86
    epoch [8]: training loss: 0.32 - acc: 0.88 - val_loss: 1.52 - val_acc: 0.60
    ```

    ## Use instead
    ```python
    optimizer = keras.optimizers.Adam(learning_rate=1e-4)
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)]
    ```
    """
    h = inputs.history
    vl = h.val_loss
    if len(vl) < MIN_EPOCHS_FOR_CURVES or not all(finite(v) and v > 0 for v in vl):
        return []
    floor = SWING_SCALE * classification_loss_scale(h)
    swings: list[int | None] = []
    direction = 0
    for i in range(1, len(vl)):
        ratio = vl[i] / vl[i - 1]
        step = 1 if ratio >= SWING_FACTOR else (-1 if ratio <= 1 / SWING_FACTOR else 0)
        if abs(vl[i] - vl[i - 1]) < floor:
            step = 0
        if step and step != direction:
            if direction:
                swings.append(printed_index(h, i))
            direction = step
    if len(swings) < MIN_SWINGS:
        return []
    return [
        oscillating_val_loss.finding(
            Severity.WARNING,
            f"Validation loss swings by {SWING_FACTOR}x or more, reversing direction {len(swings)} times "
            f"(epochs {swings}); it ranges {min(vl):.4g}-{max(vl):.4g}.",
            evidence={
                "val_loss": [rounded(v) for v in vl],
                "reversal_epochs": swings,
                "swing_factor": SWING_FACTOR,
                "min_swings": MIN_SWINGS,
            },
            fix=Fix(
                "Lower the learning rate (e.g. 10x) or reduce it on plateau",
                "optimizer = keras.optimizers.Adam(learning_rate=1e-4)\n"
                'keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)',
            ),
            explanation="Validation loss on fixed data moves smoothly when training is stable, improving or "
            "overfitting alike; back-and-forth swings mean the weights jump across the loss valley "
            "between epochs: the learning rate is too high.",
            split="val",
        )
    ]


@register("FIT006", "slow-learning", requires=("history",), cause="underfitting", superseded_by=("LOG015",))
def slow_learning(inputs: Inputs) -> list[Finding]:
    """The training loss has barely moved below ln K after several epochs.

    ## What it does
    With K known or read off the first epoch (a first-epoch loss within 8% of
    ln K), fires when, after at least `MIN_EPOCHS_FOR_CURVES` epochs and at
    least `SLOW_MIN_STEPS` possible optimizer steps (a Keras console log's
    progress-bar total x epochs), the training loss is still above
    `SLOW_LOSS_FRACTION` (0.8) x ln K while below chance level (it is
    falling, just slowly; a loss stuck at ln K is LOG002), or still within
    the chance band but lower at every epoch than at the one before.

    ## Why is this bad?
    A small CNN at a usable learning rate takes the loss far below ln K within
    an epoch or two (CIFAR-10: about 0.65 ln K after three epochs of 4,000
    images). Still at 80% of the uniform guess after several full epochs,
    the model is barely learning: a learning rate far too low for the
    optimizer (tf.keras' Adadelta defaults to 0.001 where Keras 2 used 1.0),
    too much regularization, or vanishing gradients. Its validation numbers
    say little about generalization yet. Motivated by the tf.keras MNIST
    thread: loss 2.28 -> 1.98 over four epochs of 60,000 images.

    ## Example
    ```
    Epoch 4/12
    60000/60000 [====] - 5s 88us/sample - loss: 1.9826 - accuracy: 0.4569 - val_loss: 1.8593 - val_accuracy: 0.6505
    ```

    ## Use instead
    ```python
    optimizer = keras.optimizers.Adam()                        # learning_rate=1e-3
    optimizer = keras.optimizers.Adadelta(learning_rate=1.0)   # Keras 2's default
    ```
    """
    h = inputs.history
    loss = [v for v in h.loss if finite(v)]
    if len(loss) < MIN_EPOCHS_FOR_CURVES or len(loss) != len(h.loss):
        return []
    k, source = log_classes(inputs)
    bar_total = getattr(h, "bar_total", None)
    if k is None or not bar_total or bar_total * len(loss) < SLOW_MIN_STEPS:
        return []  # too few (or an unknown number of) optimizer steps to call the pace slow
    ln_k = math.log(k)
    frac = loss[-1] / ln_k
    # within the chance band (LOG002's) a loss that fell at every epoch is learning, slowly, not stuck
    falling = all(b < a for a, b in zip(loss, loss[1:]))
    if frac < SLOW_LOSS_FRACTION or (frac >= 1 - CHANCE_LOSS_TOLERANCE and not falling) or not loss[-1] < loss[0]:
        return []
    acc = [a for a in h.acc if finite(a)]
    acc_txt = f" (accuracy {acc[-1]:.4f})" if acc else ""
    return [
        slow_learning.finding(
            Severity.WARNING,
            f"After {len(loss)} epochs the training loss is {loss[-1]:.4g}{acc_txt}, still {frac:.0%} of ln {k} = "
            f"{ln_k:.4f} (it started at {loss[0]:.4g}).",
            evidence={
                "classes": k,
                "classes_source": source,
                "ln_k": rounded(ln_k),
                "loss": [rounded(v) for v in loss],
                "fraction_of_ln_k": rounded(frac),
                "threshold": SLOW_LOSS_FRACTION,
                "epochs": len(loss),
            },
            fix=Fix(
                "Raise the learning rate (Adam's default 1e-3; Adadelta 1.0) or reduce regularization",
                'model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=["accuracy"])',
            ),
            explanation=(
                f"ln {k} is the loss of a uniform guess; after {len(loss)} epochs this model has covered only "
                f"{1 - frac:.0%} of the way from it, where a usable learning rate gets most of the way within an "
                "epoch or two. The model is barely learning (learning rate too low, too much regularization), so "
                "the gap between training and validation says nothing about generalization yet."
            ),
            split="train",
        )
    ]
