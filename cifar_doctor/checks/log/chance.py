"""LOG: losses and accuracies at (or below) chance level, ln K and 1/K.

See `cifar_doctor.checks.log` for the loss arithmetic these checks rest on.
"""

from __future__ import annotations

import math
from typing import Any

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import (
    ASSUMED_CLASSES,
    BN_SETTLING_STEPS,
    CHANCE_CLASS_CANDIDATES,
    CHANCE_LOSS_TOLERANCE,
    COMMON_CLASS_COUNTS,
    CONSTANT_ACCURACY_RUN,
    FIRST_LOSS_MARGIN,
    FRESH_START_FACTOR,
    KERAS2_LOSS_CEILING,
    LOSS_JUMP,
    MIN_EPOCHS_FOR_CURVES,
    NO_LEARNING_ACCURACY_MARGIN,
    TRAIN_LEARNED_FRACTION,
    UNIFORM_EVAL_TOLERANCE,
    above_chance_bands,
    accuracy_denominator,
    accuracy_step,
    aligned,
    chance_accuracy_band,
    chance_k,
    chance_standard_error,
    classes_at_chance,
    epochs_trained,
    few_optimizer_steps,
    finite,
    fresh_start_classes,
    fresh_start_possible,
    from_training_start,
    index_unit,
    initial_statistics_weight,
    judged_loss,
    log_classes,
    longest_constant_run,
    named_other_than_cross_entropy,
    per_error_cost,
    pinned_at_chance,
    printed_index,
    repeat_not_ruled_out,
    repeated_run,
    repeats_readable,
    shown_moving,
    val_at_chance,
    val_chance_band,
    val_near_chance,
    val_split_images,
)
from ...registry import register
from . import CHANCE_MIN_EPOCHS, SATURATED_COST, SATURATION_TRAIN_RATIO

#: What tells the readings of one answer for every validation image apart (LOG004, LOG007): the training
#: images in inference mode at chance too is BatchNorm's statistics; high there, it is the validation inputs.
ONE_ANSWER_FIX = Fix(
    "Evaluate the training images in inference mode and compare validation inputs with training inputs",
    "model.evaluate(x_train[:1000], y_train[:1000])  # inference mode, training images\n"
    "print(x_train.mean(), x_train.std(), x_val.mean(), x_val.std())",
)


#: The fix of a network whose steps are too small to move it (LOG008's `not-learning` readings).
SMALL_STEPS_FIX = Fix(
    "Raise the learning rate (e.g. 10x) or train with Adam's default 1e-3",
    'model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=["accuracy"])',
)

#: What tells the readings of `unsettled_statistics` apart.
UNSETTLED_FIX = Fix(
    "Evaluate training images in inference mode: at chance there too, train longer or lower BatchNorm's "
    "momentum; high, check the validation labels and inputs",
    "model.evaluate(x_train[:1000], y_train[:1000])  # inference mode, training images\n"
    "layers.BatchNormalization(momentum=0.9)  # statistics that settle in tens of steps\n"
    "idx = rng.permutation(len(x)); x, y = x[idx], y[idx]  # images and labels shuffled together",
)


def unsettled_statistics(h: Any, steps: int) -> str:
    """Why validation at chance after at most `steps` optimizer steps (`few_optimizer_steps`) names no
    pipeline bug from a log alone: BatchNormalization's moving statistics, which inference mode uses, still
    carry 0.99^steps of their initial values, and the log cannot show whether the network has such layers."""
    return (
        f"After at most {steps} optimizer steps ({h.bar_total} per epoch x {epochs_trained(h)} epochs), a network "
        f"with BatchNormalization classifies validation images with moving statistics that still carry "
        f"{initial_statistics_weight(steps):.0%} of their initial values: in inference mode it can answer at chance while its "
        "training-mode accuracy climbs. The log cannot show whether the network has such layers, so it cannot "
        "tell that from validation labels out of step with their images or validation inputs on another scale. "
        "Evaluating training images in inference mode tells them apart: at chance there too, it is BatchNorm "
        "(more steps, or momentum=0.9); high, it is the validation data."
    )


# --- LOG002 -----------------------------------------------------------------------
#: Class counts LOG002 reads a loss and accuracy at chance as when nothing states K: the
#: common counts and 3 (wine, iris, three-class subsets), whose ln 3 = 1.0986 lies 8% from no
#: other candidate. Loss and accuracy must both sit at chance in every judged epoch, so a
#: 3-class task stuck at 1.0986 and 0.33 is not mistaken for anything a 2- or 10-class model does.
STUCK_CLASS_CANDIDATES = tuple(sorted(set(COMMON_CLASS_COUNTS) | set(CHANCE_CLASS_CANDIDATES)))


def _stuck_k(
    loss: float, acc: float | None, known: int | None, val: tuple[float, float] | None = None
) -> tuple[int, bool] | None:
    """The K whose chance level this epoch sits at (`chance_k`), or, for a loss at or above ln K,
    whose accuracy is at most `AT_CHANCE_LOSS_ACCURACY_BANDS` chance bands above 1/K, and whether that K
    was read off validation. It is the one the loss fits, or, for a training loss further above every
    ln K, the one whose uniform guess (loss ln K, accuracy 1/K) the epoch's validation numbers `val` sit
    at: in inference mode the network answers 1/K for every class, and in training mode (dropout,
    BatchNorm's batch statistics, a start far off) it pays more than ln K, which is learning nothing all
    the same (a 10-class CNN fed raw pixels: validation 2.302 at every epoch, training 67 -> 2.48,
    accuracy 0.10-0.11 in both splits)."""
    k = chance_k(loss, acc, known, STUCK_CLASS_CANDIDATES)
    if k is not None or acc is None:
        return None if k is None else (k, False)
    k = chance_k(loss, None, known, STUCK_CLASS_CANDIDATES)
    from_val = False
    if k is None and val is not None:
        k, from_val = chance_k(*val, known, STUCK_CLASS_CANDIDATES), True
    if k is None or loss < math.log(k) or above_chance_bands(acc, k):
        return None
    return k, from_val


@register("LOG002", "loss-at-chance", requires=("history",), cause="not-learning", superseded_by=("LOG015",))
def loss_at_chance(inputs: Inputs) -> list[Finding]:
    """Training loss stays at ln K and accuracy at 1/K: the network learns nothing.

    ## What it does
    Looks at the last epochs (at least `CHANCE_MIN_EPOCHS`). Fires when the
    training loss is within `CHANCE_LOSS_TOLERANCE` (8%) of ln K and the
    training accuracy within a few points of 1/K in every one of them (for a
    loss at or above ln K, any accuracy up to `AT_CHANCE_LOSS_ACCURACY_BANDS`
    bands above 1/K: `_stuck_k`). K is
    `--classes`, what the log tells, or else the common class count (2, 10,
    100, 1000, and 3: `STUCK_CLASS_CANDIDATES`) that fits both numbers; for a
    training loss above every such ln K, the one whose uniform guess (loss
    ln K, accuracy 1/K) validation sits at in those epochs.
    It stays silent when validation accuracy averages above the chance band
    (`chance_accuracy_band`) over those epochs: the training numbers are
    measured with dropout on, validation's in inference mode, so a network
    under heavy dropout that learned shows training at chance and validation
    above it. Not when validation accuracy repeats from one epoch to the
    next: one answer for every image scores that class's share, which on an
    unbalanced split lies above 1/K (printed coarser than `CONSTANT_RUN_MAX_STEP`,
    validation must not print one value throughout: `shown_moving`).

    ## Why is this bad?
    ln K is the loss of a model that gives every class probability 1/K. Staying
    there for epochs means no gradient reaches the weights usefully: a learning
    rate far too high or too low, dead ReLUs from unnormalized inputs, labels
    shuffled independently of the images, or a frozen model.

    ## Example
    ```
    Epoch 3/3
    1563/1563 - 12s - loss: 2.3026 - accuracy: 0.0998
    ```

    ## Use instead
    Normalize the inputs (`x / 255.0`), use Adam with its default learning rate
    (1e-3), check that `y_train[i]` belongs to `x_train[i]`, and that the layers
    are trainable.
    """
    h = inputs.history
    known = inputs.num_classes
    loss = h.loss
    acc = h.acc
    n = len(loss)
    if n < CHANCE_MIN_EPOCHS:
        return []
    tail = list(range(max(0, n - MIN_EPOCHS_FOR_CURVES), n))
    ks = set()
    read_off_val = False
    for i in tail:
        if not finite(loss[i]):
            return []
        a = acc[i] if i < len(acc) and finite(acc[i]) else None
        vl, va = (h.val_loss[i], h.val_acc[i]) if i < min(len(h.val_loss), len(h.val_acc)) else (None, None)
        stuck = _stuck_k(loss[i], a, known, (vl, va) if finite(vl) and finite(va) else None)
        if stuck is None:
            return []
        ks.add(stuck[0])
        read_off_val = read_off_val or stuck[1]
    if len(ks) != 1:
        return []
    k = ks.pop()
    val = [h.val_acc[i] for i in tail if i < len(h.val_acc) and finite(h.val_acc[i])]
    moving = len(val) == len(tail) and shown_moving(h, val)
    if moving and sum(val) / len(val) > 1.0 / k + chance_accuracy_band(k):
        # validation, in inference mode, beats chance: the network learned; its training numbers are
        # measured with dropout (or augmentation) on, which is a regularization gap, not a stuck model.
        # (An accuracy repeated from one epoch to the next is one answer for every image: a class's share.)
        return []
    last_acc = acc[-1] if acc and finite(acc[-1]) else None
    acc_txt = f" and accuracy {last_acc:.4f} (1/K = {1 / k:.4f})" if last_acc is not None else ""
    # K read off validation's uniform guess where a judged training loss lies above every ln K band
    from_val = not known and read_off_val
    level = "at or above" if from_val else "≈"
    val_txt = ""
    evidence: dict[str, Any] = {}
    if from_val:
        vals = [h.val_loss[i] for i in tail]
        val_txt = f", while the validation loss sits at {min(vals):.4f}-{max(vals):.4f}, the uniform guess"
        evidence = {"val_loss_tail": [rounded(v) for v in vals], "val_acc_tail": [rounded(h.val_acc[i]) for i in tail]}
    return [
        loss_at_chance.finding(
            Severity.ERROR,
            f"Training loss stays at {loss[-1]:.4f} {level} ln {k} = {math.log(k):.4f}{acc_txt} for the last "
            f"{len(tail)} epochs{val_txt}.",
            evidence={
                "classes": k,
                "classes_source": "given"
                if known
                else ("validation at the uniform guess" if from_val else "fitted to loss and accuracy"),
                "ln_k": rounded(math.log(k)),
                "loss_tail": [rounded(loss[i]) for i in tail],
                "acc_tail": [rounded(acc[i]) for i in tail if i < len(acc)],
                **evidence,
                "tolerance": CHANCE_LOSS_TOLERANCE,
            },
            fix=Fix(
                "Make the network learn: normalize inputs, use a sane learning rate, check the label order",
                'x_train = x_train.astype("float32") / 255.0\n'
                'model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=["accuracy"])',
            ),
            explanation=(
                f"A {k}-class model that predicts 1/{k} for every class has loss ln {k} = {math.log(k):.4f}; a model "
                "that learned anything drops below it within an epoch. The training curve is flat at chance, so the "
                "validation numbers say nothing about generalization yet."
            ),
            split="train",
        )
    ]


#: For `val-accuracy-at-chance`, training accuracy must have risen this far
#: above chance: a model that learned nothing is `loss-at-chance` instead.
TRAIN_ABOVE_CHANCE = 0.15


# --- LOG004 -----------------------------------------------------------------------
@register("LOG004", "val-accuracy-at-chance", requires=("history",), cause="eval-labels-misaligned")
def val_accuracy_at_chance(inputs: Inputs) -> list[Finding]:
    """Validation accuracy stays at 1/K while training accuracy rises.

    ## What it does
    Fires when every epoch's validation accuracy lies within a few points of
    1/K (K from `--classes`, the log or the model) while training accuracy has
    risen at least `TRAIN_ABOVE_CHANCE` above chance, over at least
    `CHANCE_MIN_EPOCHS` epochs. With K unknown it reads K off the curves when
    exactly one of 2, 3 and 10 fits a model unrelated to its validation labels
    (`classes_at_chance`: accuracy at 1/K, validation loss never below ln K,
    which such a model cannot beat, and a first training loss near ln K), else
    assumes CIFAR-10's 10 classes; either way it reports a warning instead of an
    error. When each validation error
    costs at least `SATURATED_COST` nats (and `SATURATION_TRAIN_RATIO` times a
    training error), the softmax is saturated on validation inputs only: it
    then supports `eval-input-scale-mismatch` (misaligned labels cost a few
    nats per error, about 3 in the shuffled-labels fixtures); for this branch
    the validation accuracy need only centre on 1/K (`val_near_chance`: its
    mean in the band, no epoch above `CHANCE_PEAK_BANDS` bands), the others
    need every epoch in the band. When the
    validation accuracy repeats the same value in `CONSTANT_ACCURACY_RUN` (3)
    consecutive epochs (of a log printed to `CONSTANT_RUN_MAX_STEP` or finer), the model answers one class for every validation
    image: that supports `eval-distribution-shift` (validation inputs without
    signal for the network, inference-mode BatchNorm statistics that do not fit).
    So does a run of at most `BN_SETTLING_STEPS` optimizer steps (a console's
    progress-bar total x epochs, `few_optimizer_steps`), warned of whatever K:
    BatchNormalization's moving statistics have not settled, and a network
    with them answers at chance in inference mode as misaligned labels make it
    score (`unsettled_statistics`).

    ## Why is this bad?
    Overfitting lowers validation accuracy gradually, from a peak well above
    chance. Accuracy pinned at chance from the first epoch means the model's
    predictions have nothing to do with the validation labels: the labels are
    not in the images' order (shuffled separately, sorted differently, another
    split's labels), or the validation inputs are so far off (divided by 255
    twice, wrong channel order) that every image looks alike.

    ## Example
    ```
    Epoch 5/5
    1563/1563 - 9s - accuracy: 0.7012 - loss: 0.8520 - val_accuracy: 0.1004 - val_loss: 4.1123
    ```

    ## Use instead
    Shuffle images and labels together (`idx = rng.permutation(n); x, y = x[idx], y[idx]`)
    and preprocess validation images exactly like training images.
    """
    h = inputs.history
    known = inputs.num_classes
    inferred = None if known else classes_at_chance(h, TRAIN_ABOVE_CHANCE)
    k = known or inferred or ASSUMED_CLASSES
    rows = aligned(h.acc, h.val_acc)
    if len(rows) < CHANCE_MIN_EPOCHS or not val_near_chance(h, k):
        return []
    band = chance_accuracy_band(k)
    vals = [va for _, (_, va) in rows]
    last_acc = rows[-1][1][0]
    if last_acc < 1.0 / k + TRAIN_ABOVE_CHANCE:
        return []
    if inferred and repeat_not_ruled_out(vals):
        # one answer for every validation image, or too coarsely printed to rule it out: with K read off the
        # curve itself, a class share (0.333 of three balanced classes) is indistinguishable from a slow
        # BatchNorm start
        return []
    sev = Severity.ERROR if known else Severity.WARNING
    if known:
        assumed = ""
    elif inferred:
        assumed = (
            f" (K = {k} read off the curves: validation loss never below ln {k}, first training loss near it;"
            " pass {classes} if not)"
        )
    else:
        assumed = " (assuming 10 classes; pass {classes} if not)"
    message = (
        f"Validation accuracy stays at {min(vals):.4f}-{max(vals):.4f} ≈ 1/{k}{assumed} over {len(vals)} "
        f"epochs while training accuracy reaches {last_acc:.4f}."
    )
    evidence = {
        "classes": k,
        "classes_assumed": not known,
        "classes_source": "given" if known else "read off the curves" if inferred else "assumed",
        "chance": rounded(1.0 / k),
        "band": band,
        "val_acc": [rounded(v) for v in vals],
        "train_acc_last": rounded(last_acc),
    }
    costs = aligned(h.loss, h.acc, h.val_loss, h.val_acc)
    if costs:
        _, (lo, ac, vl, va) = costs[-1]
        vcost, tcost = per_error_cost(vl, va), per_error_cost(lo, ac)
        evidence.update(val_cost_per_error=rounded(vcost, 3), train_cost_per_error=rounded(tcost, 3))
        if vcost >= SATURATED_COST and vcost >= SATURATION_TRAIN_RATIO * tcost:
            # misaligned labels cost a few nats per error (the model is unsure on unseen images); a saturated
            # softmax on validation only is the scale fingerprint of LOG001, at chance (every image one class)
            return [
                val_accuracy_at_chance.finding(
                    sev,
                    message + f" Each validation error costs {vcost:.1f} nats against {tcost:.1f} in training.",
                    evidence=evidence,
                    cause="eval-input-scale-mismatch",
                    split="val",
                    fix=Fix(
                        "Preprocess validation and test images exactly like the training images",
                        'x_test = x_test.astype("float32") / 255.0  # whatever x_train got, x_test gets too',
                    ),
                    explanation=(
                        "Validation at chance with a saturated softmax (an error costing ≥ "
                        f"{SATURATED_COST:.1f} nats gives the true class a probability below 1e-5) while training "
                        "errors cost a few nats: the network is pushed into one confident answer by validation inputs "
                        "on another scale than the training inputs (e.g. raw 0-255 test images into a model trained on "
                        "/255 images with BatchNormalization), not by wrong labels and not by overfitting."
                    ),
                )
            ]
    if not val_at_chance(h, k):
        # near chance on average but astray in some epochs: without a saturated softmax, a slow
        # BatchNorm start looks the same (0.142, 0.113, 0.116 on ten classes), so no judgement
        return []
    if (steps := few_optimizer_steps(h)) is not None:
        # a BatchNorm network this early answers at chance in inference mode as misaligned labels do
        return [
            val_accuracy_at_chance.finding(
                Severity.WARNING,
                message + f" The run took at most {steps} optimizer steps.",
                evidence={**evidence, "max_steps": steps, "settling_steps": BN_SETTLING_STEPS},
                cause="eval-distribution-shift",
                split="val",
                fix=UNSETTLED_FIX,
                explanation=unsettled_statistics(h, steps),
            )
        ]
    if repeated_run(h, vals) >= CONSTANT_ACCURACY_RUN:
        # the same validation accuracy every epoch while the weights change: one answer for every validation
        # image. Misaligned labels give an accuracy that wanders around 1/K; a frozen answer is inference-mode
        # behaviour that differs from training (BatchNorm statistics) or validation inputs that carry no signal.
        return [
            val_accuracy_at_chance.finding(
                sev,
                message + f" It repeats the same value in {longest_constant_run(vals)} consecutive epochs.",
                evidence={**evidence, "constant": True, "longest_constant_run": longest_constant_run(vals)},
                cause="eval-distribution-shift",
                split="val",
                fix=ONE_ANSWER_FIX,
                explanation=(
                    "A validation accuracy that does not move while the weights change means the model gives every "
                    "validation image the same answer. Misaligned labels would leave accuracy wandering around chance; "
                    "a frozen answer comes from inference mode behaving unlike training (BatchNormalization moving "
                    "statistics that do not fit the data, e.g. a frozen pretrained BatchNorm) or from validation "
                    "inputs that carry no signal for the network. It is not overfitting."
                ),
            )
        ]
    return [
        val_accuracy_at_chance.finding(
            sev,
            message,
            evidence=evidence,
            fix=Fix(
                "Keep validation labels aligned with their images, and preprocess them like training images",
                "idx = np.random.default_rng(0).permutation(len(x))\nx, y = x[idx], y[idx]  # never shuffle x and y separately",
            ),
            explanation=(
                "Overfitting lowers validation accuracy gradually from a peak above chance; accuracy at chance from the "
                "first epoch while the model learns the training set means its predictions are unrelated to the "
                "validation labels: misaligned or wrong labels, or validation inputs so far off that every image "
                "looks alike (e.g. divided by 255 twice)."
            ),
            split="val",
        )
    ]


# --- LOG020 -----------------------------------------------------------------------
#: Epochs at the end of the log that LOG020 needs validation accuracy in the chance band in. The band
#: is already the noise allowance of one epoch's accuracy (`val_chance_band`), so two in a row after
#: the curve stood above it is a fall, not a dip; chosen on the run corpus and draws 2-4 against
#: three (`CONSTANT_ACCURACY_RUN`, one repeated answer): 11 more log trials right and 11 fewer
#: forbidden, none worse, and draws 5 and 6 unchanged.
COLLAPSED_EPOCHS = 2

#: ... or, when validation has not followed training (`FOLLOW_SHARE`), within this share of the way from
#: 1/K to a perfect score (0.10 +- 0.135 on ten classes, 0.5 +- 0.075 on two): validation that kept a
#: sliver of skill while the network fit its training set (0.142 on ten classes against a training
#: accuracy of 0.44, 0.518 on two against 0.89) has come apart from it as surely as one at 1/K, and such
#: runs had been read as overfitting (a BatchNorm lag, validation images scrambled or labels shuffled).
#: Chosen with `FOLLOW_SHARE` over 0.12, 0.15 and 0.2 (and 0.2, 0.3, 0.5) on the log trials of the run
#: corpus and draws 2-4, every fold choosing on the other folds' families: out-of-fold 2,996 -> 3,023 right
#: of 3,471 and 140 -> 118 forbidden; on draws 5-7, held out, 1,935 -> 1,953 right and 144 -> 126 forbidden.
COLLAPSED_SKILL = 0.15

#: Validation "has not followed training" when its accuracy rose, from the log's first epoch to its last,
#: by at most this share of what training accuracy rose: a network whose training gains generalize moves
#: validation with them, most of all early on. A slow start that climbs with training (0.12 -> 0.18 on ten
#: classes while training went 0.16 -> 0.30, a BatchNorm still settling) keeps the noise band alone.
FOLLOW_SHARE = 0.3


def _collapse_band(h: Any, k: int, vals: list[float], train: list[float]) -> float:
    """The band around 1/K that LOG020 reads the last validation accuracies in: the noise of one epoch's
    accuracy (`val_chance_band`), widened to `COLLAPSED_SKILL` of the way to 1 when validation has not
    followed training since it started (`FOLLOW_SHARE`; not on a log that starts after training did), on a
    split whose standard error at 1/K is narrower than that (32 images of two classes: 0.088 against 0.075)."""
    band = val_chance_band(h, k)
    wide = COLLAPSED_SKILL * (1.0 - 1.0 / k)
    images = val_split_images(h)
    if images and chance_standard_error(k, images) >= wide:
        return band  # one standard error of the split spans the band: skill that small cannot be read off it
    # what either curve gained since the start of training: a log pasted from its middle does not show it
    if from_training_start(h) and vals[-1] - vals[0] <= FOLLOW_SHARE * (train[-1] - train[0]):
        band = max(band, wide)
    return band


def _collapse_k(h: Any, known: int | None, vals: list[float], train: list[float]) -> int | None:
    """The K whose chance band holds the last `COLLAPSED_EPOCHS` validation accuracies: `known`, else the
    one candidate of `CHANCE_CLASS_CANDIDATES` whose ln K the first training loss starts within
    `FIRST_LOSS_MARGIN` of or below (a K-class softmax starts at ln K), if exactly one."""
    tail = vals[-COLLAPSED_EPOCHS:]
    candidates = [known] if known else list(CHANCE_CLASS_CANDIDATES)
    start = from_training_start(h)  # a log pasted from its middle shows no start to read K off
    loss = [v for v in h.loss if finite(v)]
    fits = [
        k
        for k in candidates
        if all(abs(v - 1.0 / k) <= _collapse_band(h, k, vals, train) for v in tail)
        and (known or (loss and (not start or loss[0] <= (1 + FIRST_LOSS_MARGIN) * math.log(k))))
    ]
    return fits[0] if len(fits) == 1 else None


@register(
    "LOG020",
    "val-accuracy-ends-at-chance",
    requires=("history",),
    cause="eval-distribution-shift",
    superseded_by=("LOG004",),
)
def val_accuracy_ends_at_chance(inputs: Inputs) -> list[Finding]:
    """Validation accuracy ends at 1/K, fallen back or frozen there, while training accuracy climbs.

    ## What it does
    Over at least `CHANCE_MIN_EPOCHS` epochs: fires (warning) when the last
    `COLLAPSED_EPOCHS` validation accuracies lie in the chance band of 1/K
    (`val_chance_band`, or `COLLAPSED_SKILL` of the way from 1/K to 1 when
    validation rose by at most `FOLLOW_SHARE` of what training rose:
    `_collapse_band`; K from `--classes` or the model, else the one of 2, 3
    and 10 whose band holds them and whose ln K the first training loss starts
    near, `_collapse_k`), and not on the curve's best epoch a band above its
    worst (a model still climbing out of chance with training), while the
    last training accuracy is at least `TRAIN_ABOVE_CHANCE` above 1/K.
    Validation inside the band in every epoch is LOG004's reading, which
    supersedes this one; a training accuracy that never moved by a band is
    one answer on both splits (LOG018's majority share), not this. It
    supersedes FIT001: neither the curve that falls back to chance nor the
    one frozen there is overfitting.

    ## Why is this bad?
    Overfitting lowers validation accuracy from its peak gradually and keeps
    most of what the network learned: its predictions still follow the images.
    Validation accuracy at 1/K is predictions that no longer follow them (often
    one answer for every image, the accuracy then repeating one value), while
    the same network fits more of its training images every epoch: what it
    does in inference mode has come apart from what it learned in training
    mode. The usual cause is BatchNormalization whose moving statistics lag
    the weights (momentum 0.99 and a few hundred steps); validation inputs
    preprocessed unlike the training inputs do it too. Regularization does not
    fix it.

    ## Example
    ```
    accuracy: 0.663 -> 0.911    val_accuracy: 0.640, 0.529, 0.492, 0.490, 0.492, 0.492
    ```

    ## Use instead
    Evaluate the training images in inference mode (at chance there too: the
    BatchNorm statistics; then `BatchNormalization(momentum=0.9)` or more
    steps), and compare the validation inputs' statistics with the training
    inputs'.
    """
    h = inputs.history
    rows = aligned(h.acc, h.val_acc)
    if len(rows) < max(CHANCE_MIN_EPOCHS, COLLAPSED_EPOCHS + 1) or len(rows) != len(h.val_acc):
        return []
    vals = [va for _, (_, va) in rows]
    train = [a for _, (a, _) in rows]
    k = _collapse_k(h, inputs.num_classes, vals, train)
    if k is None:
        return []
    band = val_chance_band(h, k)  # the noise of one epoch's accuracy
    read_in = _collapse_band(h, k, vals, train)
    peak = max(vals[:-COLLAPSED_EPOCHS])
    tail = vals[-COLLAPSED_EPOCHS:]
    last_acc = train[-1]
    if last_acc < 1.0 / k + TRAIN_ABOVE_CHANCE or max(train) - min(train) <= band:
        return []
    if tail[-1] >= max(vals) and tail[-1] - min(vals) > band:
        # the best epoch yet, a band above the worst: validation is still climbing out of chance with training
        # (0.085 -> 0.171 on 129 images of ten classes), not stuck at it
        return []
    return [
        val_accuracy_ends_at_chance.finding(
            Severity.WARNING,
            (
                f"Validation accuracy falls from {peak:.4f} to"
                if peak > 1.0 / k + read_in
                else "Validation accuracy stays at"
            )
            + f" {min(tail):.4f}-{max(tail):.4f}, within {read_in:.3f} of 1/{k}, in the last {len(tail)} epochs while"
            f" training accuracy reaches {last_acc:.4f}"
            + (
                f" (validation rose {vals[-1] - vals[0]:+.4f} since the first epoch, training {train[-1] - train[0]:+.4f})."
                if read_in > band
                else "."
            ),
            evidence={
                "classes": k,
                "classes_source": "given" if inputs.num_classes else "read off the curves",
                "chance": rounded(1.0 / k),
                "band": rounded(band),
                "band_read_in": rounded(read_in),
                "val_acc_first": rounded(vals[0]),
                "train_acc_first": rounded(train[0]),
                "val_acc_peak": rounded(peak),
                "val_acc_last": [rounded(v) for v in tail],
                "train_acc_last": rounded(last_acc),
                "longest_constant_run": repeated_run(h, vals),
            },
            split="val",
            fix=ONE_ANSWER_FIX,
            explanation=(
                "Overfitting lowers validation accuracy gradually and keeps what the network learned; accuracy back at "
                "chance means the validation predictions no longer follow the images while training still improves: "
                "inference mode has come apart from training mode (BatchNormalization moving statistics that lag the "
                "weights) or the validation inputs differ from the training inputs. More dropout will not fix it."
            ),
        )
    ]


#: ... or every training loss at least this many times ln K: a correctly wired softmax falls below
#: ln K within an epoch (LOG008), so a network that stays far above it on its training inputs while
#: its validation loss sits exactly at ln K is saturated by the training inputs and blind to the
#: validation inputs: the training split was left on a far larger scale (raw 0-255 training pixels,
#: /255 validation pixels: 22.6 -> 4.47 against 2.302 on ten classes in the run corpus).
TRAIN_SATURATED_FACTOR = 1.5


@register("LOG007", "eval-loss-at-chance", requires=("history",), cause="eval-input-scale-mismatch")
def eval_loss_at_chance(inputs: Inputs) -> list[Finding]:
    """Validation loss is pinned at ln K while the training loss falls well below it.

    ## What it does
    Fires when every epoch's `val_loss` lies within `UNIFORM_EVAL_TOLERANCE`
    (2%) of ln K, or within `UNIFORM_EVAL_TOLERANCE_AT_CHANCE` (5%) with
    validation accuracy near chance throughout, over at least
    `CHANCE_MIN_EPOCHS` epochs, while the last
    training loss is at most `TRAIN_LEARNED_FRACTION` (0.8) of ln K, or every
    training loss at least `TRAIN_SATURATED_FACTOR` (1.5) times ln K. When the
    validation accuracy also repeats one value in `CONSTANT_ACCURACY_RUN`
    epochs (one uniform answer for every image), it warns of
    `eval-distribution-shift` instead: inference mode differing from training
    (BatchNorm statistics) gives that as well as a scale does. So it does when
    the values repeat as printed too coarsely to read (`repeats_readable`):
    the scale reading needs answers seen to move, and when the run took at
    most `BN_SETTLING_STEPS` optimizer steps (`few_optimizer_steps`): moving
    statistics that have not settled give the uniform output too
    (`unsettled_statistics`). K is the
    known class count, or the common count (2, 10, 100, 1000) whose ln K the
    validation losses all match.

    ## Why is this bad?
    ln K is the loss of an output that gives every class probability 1/K. A
    network that learned its training images (training loss well below ln K)
    produces that uniform output only when its validation inputs carry no
    signal for it: images on a far smaller scale than the training images
    (raw 0-255 training pixels, /255 validation pixels: to the network they
    look black), blank or constant images, or a broken validation pipeline.
    Overfitting cannot do it: an overfitted model is confidently wrong, and
    its validation loss climbs above ln K. Motivated by the re-enacted
    `trian_images = train_images / 255.0` typo (TensorFlow tutorial model):
    val_loss 2.301-2.303 for five epochs while the training loss fell to 1.48.

    ## Example
    ```
    Epoch 5/5
    125/125 - 2s - accuracy: 0.4593 - loss: 1.4776 - val_accuracy: 0.1070 - val_loss: 2.3033
    ```

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0   # one preprocessing for every split
    ```
    """
    h = inputs.history
    vl = h.val_loss
    loss = [v for v in h.loss if finite(v)]
    if len(vl) < CHANCE_MIN_EPOCHS or not all(finite(v) for v in vl) or not loss:
        return []
    known = inputs.num_classes
    k = pinned_at_chance(vl, known, h.val_acc)
    if k is None:
        return []
    ln_k = math.log(k)
    learned = loss[-1] <= TRAIN_LEARNED_FRACTION * ln_k
    saturated = len(loss) == len(h.loss) and min(loss) >= TRAIN_SATURATED_FACTOR * ln_k
    if not (learned or saturated):
        return []
    val_acc = [v for v in h.val_acc if finite(v)]
    acc_txt = f", val accuracy {min(val_acc):.3f}-{max(val_acc):.3f}" if val_acc else ""
    if learned and (steps := few_optimizer_steps(h)) is not None:
        # a BatchNorm network this early gives the uniform output in inference mode as blank inputs do
        return [
            eval_loss_at_chance.finding(
                Severity.WARNING,
                f"val_loss stays at {min(vl):.4f}-{max(vl):.4f} ≈ ln {k} = {ln_k:.4f} over {len(vl)} epochs{acc_txt}, "
                f"while the training loss falls to {loss[-1]:.4g}, after at most {steps} optimizer steps.",
                evidence={
                    "classes": k,
                    "ln_k": rounded(ln_k),
                    "val_loss": [rounded(v) for v in vl],
                    "val_acc": [rounded(v) for v in val_acc],
                    "train_loss_last": rounded(loss[-1]),
                    "max_steps": steps,
                    "settling_steps": BN_SETTLING_STEPS,
                },
                cause="eval-distribution-shift",
                split="val",
                fix=UNSETTLED_FIX,
                explanation=unsettled_statistics(h, steps),
            )
        ]
    if learned and repeat_not_ruled_out(val_acc):
        # a repeat printed too coarsely to read (`repeats_readable`) cannot show that the answers moved, which
        # the scale reading needs: the hedged one-answer reading, which names the scale too, holds on it
        return [_one_uniform_answer(h, k, vl, val_acc, loss)]
    if learned:
        train_txt = f"while the training loss falls to {loss[-1]:.4g}."
    else:
        train_txt = (
            f"while every training loss stays at or above {TRAIN_SATURATED_FACTOR:g} ln {k} ({loss[0]:.4g} -> "
            f"{loss[-1]:.4g}): the same network saturates on the training inputs and sees nothing in the validation "
            "inputs, so the training inputs are on a far larger scale."
        )
    return [
        eval_loss_at_chance.finding(
            Severity.ERROR,
            f"val_loss stays at {min(vl):.4f}-{max(vl):.4f} ≈ ln {k} = {ln_k:.4f} over {len(vl)} epochs{acc_txt}, "
            + train_txt,
            evidence={
                "classes": k,
                "classes_source": "given" if known else "fitted to val_loss",
                "ln_k": rounded(ln_k),
                "val_loss": [rounded(v) for v in vl],
                "train_loss_last": rounded(loss[-1]),
                "val_acc": [rounded(v) for v in val_acc],
                "tolerance": UNIFORM_EVAL_TOLERANCE,
                "train_learned_fraction": TRAIN_LEARNED_FRACTION,
                "train_saturated": saturated and not learned,
                "train_saturated_factor": TRAIN_SATURATED_FACTOR,
            },
            fix=Fix(
                "Preprocess validation and test images exactly like the training images",
                'x_train = x_train.astype("float32") / 255.0\n'
                'x_test = x_test.astype("float32") / 255.0  # the same for every split',
            ),
            explanation=(
                f"A validation loss of ln {k} is an output that gives each class 1/{k}: the network sees no signal in "
                "the validation inputs although it learned its training inputs. That happens when the validation "
                "images are on a far smaller scale than the training images (e.g. training on raw 0-255 pixels, "
                "validating on /255 pixels that look black to it) or are blank; overfitting would make the model "
                "confidently wrong and push val_loss above ln K instead."
            ),
            split="val",
        )
    ]


def _one_uniform_answer(h: Any, k: int, vl: list[float], val_acc: list[float], loss: list[float]) -> Finding:
    """LOG007's reading when the validation accuracy repeats one value: a uniform output and one answer for
    every validation image. Inputs on a far smaller scale still move the answers a little from epoch to
    epoch (0.128, 0.139, 0.135, 0.122, 0.107 for the re-enacted typo); a frozen answer is inference mode
    that differs from training (BatchNorm statistics) as much as it is a scale."""
    run = longest_constant_run(val_acc)
    value = next(v for i, v in enumerate(val_acc) if longest_constant_run(val_acc[i : i + run]) == run)
    step, readable = accuracy_step(h), repeats_readable(h)
    printed = "" if readable else f" as printed (in steps of {step:g}, which hide smaller moves)"
    return eval_loss_at_chance.finding(
        Severity.WARNING,
        f"val_loss stays at {min(vl):.4f}-{max(vl):.4f} ≈ ln {k} = {math.log(k):.4f} and validation accuracy "
        f"repeats {value:.4f} in {run} consecutive epochs{printed}, while the training loss falls to "
        f"{loss[-1]:.4g}: "
        + (
            "the model gives every validation image the same uniform answer."
            if readable
            else "the model may give every validation image the same uniform answer."
        ),
        evidence={
            "classes": k,
            "ln_k": rounded(math.log(k)),
            "val_loss": [rounded(v) for v in vl],
            "val_acc": [rounded(v) for v in val_acc],
            "longest_constant_run": run,
            "accuracy_step": step,
            "train_loss_last": rounded(loss[-1]),
        },
        cause="eval-distribution-shift",
        split="val",
        fix=ONE_ANSWER_FIX,
        explanation=(
            f"A validation loss of ln {k} with one unchanging accuracy is an output that gives each class 1/{k} for "
            "every validation image. The network learned its training inputs, so in inference mode it does not see "
            "what training showed it: BatchNormalization moving statistics that do not fit yet (few steps, "
            "momentum 0.99), or validation inputs on a far smaller scale. Evaluating training images in inference "
            "mode tells them apart: at chance there too, it is BatchNorm; high, it is the validation inputs."
        ),
    )


# --- LOG008 -----------------------------------------------------------------------
#: Training loss above (1 + this) x ln K after the first epoch: worse than the
#: uniform guess that a correctly wired softmax reaches by zeroing its last layer.
ABOVE_CHANCE_MARGIN = 0.10


#: ... and the loss not trending down: it fell by less than this fraction from
#: the second epoch to the last (a slow but healthy many-class run falls faster).
NO_PROGRESS_DROP = 0.10


@register("LOG008", "loss-above-chance", requires=("history",), cause="output-loss-mismatch", superseded_by=("LOG015",))
def loss_above_chance(inputs: Inputs) -> list[Finding]:
    """The training loss stays above ln K with accuracy near chance: the loss cannot reach a uniform guess.

    ## What it does
    Looks at every epoch after the first (at least two). Fires when the
    training loss stays above (1 + `ABOVE_CHANCE_MARGIN`) x ln K, training
    accuracy stays below 1/K + `NO_LEARNING_ACCURACY_MARGIN`, and the loss
    fell by less than `NO_PROGRESS_DROP` (10%) over those epochs. K is the
    known class count or the one the first epoch's loss fits; otherwise 10 is
    assumed and the finding is a warning. When each training error costs at
    least `SATURATED_COST` nats (loss / (1 - accuracy)), the softmax is
    saturated on the training inputs themselves (raw 0-255 pixels, blown-up
    weights): that is reported as `not-learning` instead. When K is unknown
    and the model is learning (accuracy rising, loss falling) with every loss
    above ln 10, it cannot tell a broken output (K = 10) from an ordinary
    100-class start, and says so (`insufficient-evidence`); with K known, a
    learning model's loss falling from far above ln K can be a rough start
    over a few optimizer steps, and the check stays silent (MDL001 reads the
    output layer when the model is given). When the first epoch's loss lies
    within `FIRST_LOSS_MARGIN` of ln K (the start of a softmax the loss
    expects, where a broken output starts far above: 4.7-10.9 for the run
    corpus's linear outputs over 10 classes, 6.1 over 3), the wiring is not
    what failed: a loss that then climbed more than `LOSS_JUMP` (FIT004's
    jump) above its start is FIT004's divergence (a log of steps read, as
    FIT004 reads it, on block means), and any other, falling at every epoch
    or wandering within that jump of its start (a learning rate of 1e-6
    barely moves the weights), is a network learning in steps too small
    (`not-learning`, raise the learning rate). So is a run whose validation
    loss stays within `CHANCE_LOSS_TOLERANCE` of ln K in every epoch: in
    inference mode the same output and loss give the uniform guess, which a
    broken output cannot hold (it gives ln K only while every output is dead
    and equal, and leaves it as soon as they differ).

    ## Why is this bad?
    ln K is what a softmax classifier scores by predicting 1/K for every
    class, and gradient descent reaches it within a few hundred steps by
    shrinking the last layer. A loss that stays above it means the gradient
    path from the loss to the output is broken: logits (a linear or ReLU
    output) fed to a cross-entropy with `from_logits=False`, which clips
    negative outputs to 1e-7 (16.1 nats) and gives them no gradient, or
    another output activation the loss does not expect. Motivated by the
    re-enacted `Dense(10)` + `sparse_categorical_crossentropy` case (loss
    3.4-4.5 against ln 10 = 2.30, accuracy 0.10-0.18 for five epochs).

    ## Example
    ```
    Epoch 5/5
    25/25 - 1s - accuracy: 0.1841 - loss: 3.4144 - val_accuracy: 0.0887 - val_loss: 3.4288
    ```

    ## Use instead
    ```python
    outputs = layers.Dense(10, activation="softmax")(x)       # probabilities for the default loss
    # or keep Dense(10) and say so:
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), ...)
    ```
    """
    h = inputs.history
    rows = aligned(h.loss, h.acc)
    later = [(i, lo, ac) for i, (lo, ac) in rows if i > 0]
    if len(later) < CHANCE_MIN_EPOCHS:
        return []
    k, source = log_classes(inputs, trust_log=False)
    assumed = k is None
    k = k or ASSUMED_CLASSES
    ln_k = math.log(k)
    losses = [lo for _, lo, _ in later]
    accs = [ac for _, _, ac in later]
    if min(losses) <= (1 + ABOVE_CHANCE_MARGIN) * ln_k:
        return []
    cost = per_error_cost(losses[-1], accs[-1])
    learning = max(accs) >= 1.0 / k + NO_LEARNING_ACCURACY_MARGIN or losses[-1] < (1 - NO_PROGRESS_DROP) * losses[0]
    if learning and (cost >= SATURATED_COST or not assumed):
        # a saturated softmax that still learns is LOG014's; with K known, a loss that falls from far above
        # ln K may be a rough start (a handful of optimizer steps on a few hundred images) as well as a bad
        # output: the model checks (MDL001) tell them apart
        return []
    if learning:
        # learning, with every loss above ln 10: broken with 10 classes, ordinary with 100. Say what settles it
        # rather than call the run healthy.
        return [
            loss_above_chance.finding(
                Severity.INFO,
                f"The training loss stays above ln 10 = {math.log(10):.3f} ({min(losses):.3f}-{max(losses):.3f}) while "
                f"accuracy reaches {max(accs):.3f}: with 10 classes the loss cannot even reach a uniform guess (an "
                "output the loss does not expect); with 100 or more it is an ordinary start. The number of classes "
                "is not known.",
                evidence={
                    "classes": None,
                    "ln_10": rounded(math.log(10)),
                    "loss": [rounded(v) for v in losses],
                    "acc": [rounded(v) for v in accs],
                    "margin": ABOVE_CHANCE_MARGIN,
                },
                fix=Fix("Pass {classes}, or the model ({model})"),
                explanation="Whether a loss above ln 10 is a fault depends on the number of classes K: the loss of a "
                "uniform guess is ln K.",
                cause="insufficient-evidence",
                split="train",
            )
        ]
    note = " (assuming 10 classes; pass {classes} if not)" if assumed else ""
    message = (
        f"Training loss stays at {min(losses):.3f}-{max(losses):.3f}, above ln {k} = {ln_k:.3f}{note}, with "
        f"accuracy {min(accs):.3f}-{max(accs):.3f} over epochs {later[0][0] + 1}-{later[-1][0] + 1}."
    )
    evidence = {
        "classes": k,
        "classes_source": "assumed" if assumed else source,
        "ln_k": rounded(ln_k),
        "loss": [rounded(v) for v in losses],
        "acc": [rounded(v) for v in accs],
        "cost_per_error": rounded(cost, 3),
        "saturated_cost_threshold": rounded(SATURATED_COST, 3),
        "margin": ABOVE_CHANCE_MARGIN,
        "no_progress_drop": NO_PROGRESS_DROP,
    }
    severity = Severity.WARNING if assumed else Severity.ERROR
    if cost >= SATURATED_COST:
        # every training error costs what a saturated softmax charges: the outputs are confidently wrong
        # on the training inputs themselves (inputs on a huge scale, weights blown up), not mis-wired
        return [
            loss_above_chance.finding(
                severity,
                message + f" Each training error costs {cost:.1f} nats: a saturated softmax.",
                evidence=evidence,
                cause="not-learning",
                split="train",
                fix=Fix(
                    "Normalize the inputs and lower the learning rate",
                    'x_train = x_train.astype("float32") / 255.0\n'
                    'model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=..., metrics=["accuracy"])',
                ),
                explanation=(
                    f"Training errors costing {cost:.0f} nats each (Keras 2's clipped ceiling is "
                    f"{KERAS2_LOSS_CEILING:.1f}) mean the softmax is saturated on the training images: logits tens of "
                    "units apart, from inputs on a huge scale (raw 0-255 pixels into an unnormalized network) or "
                    "weights thrown far by too large steps. The network is not learning; there is no generalization "
                    "gap to read yet."
                ),
            )
        ]
    first = rows[0][1][0] if rows[0][0] == 0 else None
    if first is not None and first <= (1 + FIRST_LOSS_MARGIN) * ln_k:
        # its course: the epochs, or for a log of steps the block means FIT004 reads (one batch is noisy)
        course = judged_loss(h)[0] if index_unit(h) == "step" else [first, *losses]
        if not all(finite(v) for v in course):
            course = [first, *losses]
        if max(course[1:]) > (1 + LOSS_JUMP) * course[0]:
            return []  # a fresh softmax start that climbed: steps too large (FIT004), not a broken output
        # no climb: it fell at every epoch, or wandered within a jump of where it began, as a network does
        # that moves little or not at all from its start (a learning rate of 1e-6), wired as the loss expects
        fell = all(b < a for a, b in zip(course, course[1:]))
        course_text = "fell at every epoch" if fell else f"stayed within {LOSS_JUMP:.0%} of it"
        change = (losses[-1] - first) / first
        return [
            loss_above_chance.finding(
                severity,
                message + f" It started at {first:.3f} and {course_text}.",
                evidence={**evidence, "first_loss": rounded(first), "first_loss_margin": FIRST_LOSS_MARGIN},
                cause="not-learning",
                split="train",
                fix=SMALL_STEPS_FIX,
                explanation=(
                    f"The loss began where a {k}-class softmax begins (ln {k} = {ln_k:.2f}, a little above from "
                    f"random initial logits) and {course_text}, {abs(change):.1%} {'lower' if change < 0 else 'higher'} "
                    "at the end: the output and the loss fit, and the network learns in steps too small to reach "
                    "even a uniform guess. The validation numbers of such a run say nothing about generalization yet."
                ),
            )
        ]
    val = [v for _, (v,) in aligned(h.val_loss)]
    if len(val) == len(h.val_loss) >= CHANCE_MIN_EPOCHS and all(
        abs(v - ln_k) <= CHANCE_LOSS_TOLERANCE * ln_k for v in val
    ):
        # in inference mode the same output and loss give the uniform guess at every epoch: they fit each other,
        # and the training-mode loss above ln K is the network's (dropout, BatchNorm's batch statistics, a start
        # far off that steps too small never leave), not the wiring's. A broken output gives ln K only while
        # its outputs are all equal (every unit dead: Keras then normalizes them to 1/K), and leaves it as soon
        # as they differ (a linear output: 2.30, then 4.46 -> 6.50)
        return [
            loss_above_chance.finding(
                severity,
                message + f" The validation loss stays at {min(val):.3f}-{max(val):.3f}, at ln {k}.",
                evidence={**evidence, "val_loss": [rounded(v) for v in val], "tolerance": CHANCE_LOSS_TOLERANCE},
                cause="not-learning",
                split="train",
                fix=SMALL_STEPS_FIX,
                explanation=(
                    f"A validation loss at ln {k} = {ln_k:.2f} in every epoch is the uniform guess, which an output "
                    "the loss expects gives: the wiring fits. The training loss above it is measured in "
                    "training mode (dropout, BatchNorm's batch statistics) on a network that has not learned: its "
                    "accuracy stays at chance. Steps too small to move it (a learning rate of 1e-6) do that."
                ),
            )
        ]
    return [
        loss_above_chance.finding(
            severity,
            message,
            evidence=evidence,
            fix=Fix(
                "Give the loss what it expects: softmax probabilities, or from_logits=True for a linear output",
                'outputs = layers.Dense(10, activation="softmax")(x)\n'
                "# or: loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
            ),
            explanation=(
                f"A {k}-class softmax trained with cross-entropy reaches ln {k} = {ln_k:.2f} just by predicting 1/{k} "
                "for every class; staying above it, without learning, means the loss is not getting the outputs it "
                "expects (logits fed to a loss with from_logits=False clip to 1e-7 and pass no gradient). The "
                "validation numbers of such a run measure the wiring, not generalization."
            ),
            split="train",
        )
    ]


# --- LOG010 -----------------------------------------------------------------------
#: Validation accuracy below this fraction of chance (1/K) in every epoch: the
#: predictions anti-correlate with the validation labels, which one class
#: distribution cannot produce (a model that learned nothing still scores 1/K).
#: At K = 10: below 0.05. The re-enacted unshuffled `validation_split` printed
#: exactly 0 for five epochs: validation held classes 8 and 9, training never did.
BELOW_CHANCE_FRACTION = 0.5

#: ... while the last training accuracy is at least 1/K: a model at chance on
#: its own training labels still scores about 1/K on validation data drawn like
#: them, even one that learned nothing (its one answer is some class's share), so
#: a validation accuracy under half of that is the validation data's doing. Below
#: 1/K on training too, the metric itself is suspect (an `accuracy` logged for a
#: regression reads 0 on both splits). A rise of `TRAIN_ABOVE_CHANCE` is not
#: needed: validation that holds the last two of ten classes leaves eight to
#: train on, whose accuracy creeps from 0.13 to 0.20 in eight epochs.
BELOW_CHANCE_TRAIN_FLOOR = 1.0


#: Short of every epoch, one epoch is enough when a random split could not have printed it: the chance
#: that a validation split of n images scores at most `BELOW_CHANCE_FRACTION` / K while the model is right
#: on a share p of training images (that epoch's running training accuracy, a lower bound of the model
#: at its end), bounded by Chernoff, exp(-n KL(q || p)), is under this. n comes from the printed
#: validation accuracies (`accuracy_denominator`); without it a small split (10 images score 0 at p = 0.3
#: three times in a hundred) cannot be ruled out and the epoch does not count. Of the 850 runs of the corpus
#: and draws 2-5, 5 had an epoch like this with validation above it in other epochs (read with their true
#: class counts): 4 class-sorted validation splits (3 of them of 100 images or more) and one learning rate
#: too high on a split under 100 images, whose verdict it does not change.
RANDOM_SPLIT_BELOW_CHANCE_P = 1e-3


def _binomial_lower_tail_bound(n: int, q: float, p: float) -> float:
    """Chernoff's bound on P(Binomial(n, p) <= q n) for q < p: exp(-n KL(q || p))."""
    if q >= p:
        return 1.0
    if p >= 1.0:
        return 0.0
    kl = (q * math.log(q / p) if q > 0 else 0.0) + (1 - q) * math.log((1 - q) / (1 - p))
    return math.exp(-n * kl)


def _epochs_below_chance(rows: list, k: int, n: int | None) -> list[int]:
    """Positions in `rows` whose validation accuracy a random split of `n` images could not have printed."""
    if not n:
        return []
    q = BELOW_CHANCE_FRACTION / k
    return [
        i
        for i, (_, (acc, va)) in enumerate(rows)
        if va < q
        and acc >= BELOW_CHANCE_TRAIN_FLOOR / k
        and _binomial_lower_tail_bound(n, q, acc) < RANDOM_SPLIT_BELOW_CHANCE_P
    ]


@register("LOG010", "val-accuracy-below-chance", requires=("history",), cause="eval-distribution-shift")
def val_accuracy_below_chance(inputs: Inputs) -> list[Finding]:
    """Validation accuracy stays far below chance while training accuracy rises.

    ## What it does
    Fires when every epoch's validation accuracy is below
    `BELOW_CHANCE_FRACTION` x 1/K (over at least `CHANCE_MIN_EPOCHS` epochs)
    while training accuracy ends at `BELOW_CHANCE_TRAIN_FLOOR` x 1/K or above,
    or when some epochs are, and a validation split of the size its printed
    accuracies imply, drawn like the training images, would print that with a
    probability under `RANDOM_SPLIT_BELOW_CHANCE_P` at that epoch's training
    accuracy. With K unknown, 10 is assumed and the finding is a warning.

    ## Why is this bad?
    A model scores 1/K on validation data from its training distribution even
    when it learned nothing. Far below that, its predictions systematically
    miss: the validation set holds classes the model never saw in training.
    The classic cause is `validation_split` on data sorted by class (Keras
    takes the last fraction before shuffling, e.g. only the last classes).
    Overfitting lowers validation accuracy from a peak above chance, never to 0.

    ## Example
    ```
    Epoch 5/5
    100/100 - 2s - accuracy: 0.4953 - loss: 1.3735 - val_accuracy: 0.0000e+00 - val_loss: 8.6281
    ```

    ## Use instead
    ```python
    idx = np.random.default_rng(0).permutation(len(x_train))
    x_train, y_train = x_train[idx], y_train[idx]   # shuffle before validation_split
    model.fit(x_train, y_train, validation_split=0.2)
    ```
    """
    h = inputs.history
    rows = aligned(h.acc, h.val_acc)
    if len(rows) < CHANCE_MIN_EPOCHS:
        return []
    known = inputs.num_classes
    k = known or ASSUMED_CLASSES
    vals = [va for _, (_, va) in rows]
    last_acc = rows[-1][1][0]
    assumed = "" if known else " (assuming 10 classes; pass {classes} if not)"
    n_val = accuracy_denominator(vals, accuracy_step(h))
    if max(vals) >= BELOW_CHANCE_FRACTION / k or last_acc < BELOW_CHANCE_TRAIN_FLOOR / k:
        below = _epochs_below_chance(rows, k, n_val)
        if not below:
            return []
        first, last = below[0], below[-1]
        span = f"epoch {printed_index(h, rows[first][0])}" + (
            f"-{printed_index(h, rows[last][0])}" if last > first else ""
        )
        message = (
            f"Validation accuracy was {min(vals[i] for i in below):.4f} at {span}, below half of chance "
            f"(1/{k}){assumed}, while training accuracy was {rows[first][1][0]:.4f}"
            + (f"-{rows[last][1][0]:.4f}" if last > first else "")
            + f": a validation split of {n_val} images drawn like the training images scores that with a "
            f"probability under {RANDOM_SPLIT_BELOW_CHANCE_P:g}. It ends at {vals[-1]:.4f}."
        )
    else:
        below = list(range(len(rows)))
        message = (
            f"Validation accuracy stays at {min(vals):.4f}-{max(vals):.4f}, below half of chance (1/{k}){assumed}, "
            f"over {len(vals)} epochs while training accuracy reaches {last_acc:.4f}."
        )
    return [
        val_accuracy_below_chance.finding(
            Severity.ERROR if known else Severity.WARNING,
            message,
            evidence={
                "classes": k,
                "classes_assumed": not known,
                "chance": rounded(1.0 / k),
                "threshold": rounded(BELOW_CHANCE_FRACTION / k),
                "val_acc": [rounded(v) for v in vals],
                "train_acc_last": rounded(last_acc),
                "epochs_below": [printed_index(h, rows[i][0]) for i in below],
                "val_images_implied": n_val,
            },
            fix=Fix(
                "Shuffle images and labels together before validation_split, or validate on a stratified split",
                "idx = np.random.default_rng(0).permutation(len(x))\nx, y = x[idx], y[idx]\n"
                "model.fit(x, y, validation_split=0.2)",
            ),
            explanation=(
                "Accuracy far below chance, every epoch, means the model's predictions never match the validation "
                "labels: the validation data holds classes (or a class mix) that training did not, typically "
                "validation_split on class-sorted data. It is not overfitting: that lowers validation accuracy "
                "from a peak above chance."
            ),
            split="val",
        )
    ]


# --- LOG021 -----------------------------------------------------------------------
@register("LOG021", "first-loss-past-a-fresh-start", requires=("history",), cause="insufficient-evidence")
def first_loss_past_a_fresh_start(inputs: Inputs) -> list[Finding]:
    """The first epoch's training loss is no fresh softmax's for any class count: abstain, naming the model.

    ## What it does
    Reads the first epoch's training loss and accuracy of a log that starts with training
    (`from_training_start`) and prints an accuracy above zero (a classifier's: a loss beside no accuracy
    may be a regression's; a loss given by name must be a cross-entropy). Fires, as
    `insufficient-evidence`, when no class count from 2 to `FRESH_START_MAX_CLASSES` (or the one given,
    if larger) admits them as a fresh softmax's start (`fresh_start`): a loss above
    `FRESH_START_FACTOR` x ln K, or at or above ln K with an accuracy above chance. Only decides when no
    other check names a cause.

    ## Why is this bad?
    A classifier initialized as Keras initializes it begins near ln K, the loss of the uniform guess, and
    its first epoch's mean only falls from there. A first epoch far above, or above ln K while many answers
    are right, had saturated outputs from the start: inputs on a huge scale, an output the loss does not
    expect (logits into a loss that wants probabilities), or a first step far too large. Such a run can
    then learn and look healthy (a three-class MLP with a linear output began at 5.45 nats, ended at 0.84
    and 66% validation accuracy where the task allows 95%), so "no problem found" would be a confident
    wrong answer; which of the three it is, the model and the data tell.

    ## Example
    ```
    Epoch 1/18
    9/9 - 1s - accuracy: 0.3209 - loss: 5.4458 - val_accuracy: 0.3864 - val_loss: 2.1235
    ```

    ## Use instead
    ```python
    x = x.astype("float32") / 255.0                                   # inputs on a small scale
    outputs = layers.Dense(num_classes, activation="softmax")(h)       # what the default loss expects
    ```
    """
    h = inputs.history
    rows = aligned(h.loss)
    if not rows or rows[0][0] != 0 or not from_training_start(h):
        return []
    loss = rows[0][1][0]
    acc = h.acc[0] if h.acc and finite(h.acc[0]) else None
    if acc is None or acc <= 0.0:
        return []  # no accuracy, or none ever right (LOG015): the loss need not be a cross-entropy (an MSE of 1,042)
    if named_other_than_cross_entropy(inputs.effective_loss):
        return []
    known = inputs.num_classes
    most = fresh_start_classes(known)
    if fresh_start_possible(loss, acc, known):
        return []
    return [
        first_loss_past_a_fresh_start.finding(
            Severity.INFO,
            f"The first epoch's training loss, {loss:.4g} at accuracy {acc:.4f}, lies past the start of a fresh "
            f"softmax over any number of classes up to {most}: the network began with saturated outputs.",
            evidence={
                "loss_first": rounded(loss),
                "acc_first": rounded(acc),
                "classes": known,
                "classes_read": [2, most],
                "fresh_start_factor": FRESH_START_FACTOR,
            },
            fix=Fix(
                "Give the model ({model}) with its data: its checks tell an input scale, an output the loss does "
                "not expect and a step too large apart",
                'x_train = x_train.astype("float32") / 255.0  # a small input scale, the same for every split',
            ),
            explanation=(
                "A softmax classifier begins near ln K and its first epoch's mean loss only falls from there; "
                "this one began with confident outputs whose wrong answers cost more than a uniform guess: inputs "
                "on a huge scale, an output the loss does not expect (logits into a loss that wants "
                "probabilities), or a first step far too large. Such a run can learn afterwards and look healthy, "
                "so the curves that follow are not read as a clean bill."
            ),
            split="train",
        )
    ]
