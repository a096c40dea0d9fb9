"""FIT: the train/validation gap and its turns: overfitting, validation better than training, and a
loss that diverges or spikes, told apart from overfitting, and a validation split that never benefits from
training (FIT001, FIT003, FIT004, FIT008).

See `cifar_doctor.checks.fit` for the family.
"""

from __future__ import annotations

import math
from typing import Any

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import (
    ASSUMED_CLASSES,
    CONSTANT_ACCURACY_RUN,
    CONSTANT_ACCURACY_SPREAD,
    FITTED_ACCURACY,
    LOSS_JUMP,
    MIN_EPOCHS_FOR_CURVES,
    STEP_BLOCKS,
    TRAIN_LEARNED_FRACTION,
    accuracy_denominator,
    accuracy_step,
    aligned,
    chance_accuracy_band,
    classes_at_chance,
    classification_loss_scale,
    finite,
    from_training_start,
    index_unit,
    judged_loss,
    pinned_at_chance,
    printed_index,
    printed_step,
    repeated_run,
    repeats_readable,
    score_keys,
    val_at_chance,
)
from ...registry import register

#: Epochs after the best validation epoch without a new best before calling it
#: overfitting. Keras' EarlyStopping users pick 2-10; 2 is the least that
#: ignores a single noisy epoch.
OVERFIT_PATIENCE = 2


#: Validation loss must end this fraction above its minimum. Epoch-to-epoch
#: noise of a loss averaged over 10,000 images is about 1%.
VAL_LOSS_RISE_TOLERANCE = 0.03


#: ... or validation accuracy this far (absolute) below its maximum: twice the
#: binomial standard deviation of an accuracy near 0.65 on 10,000 images (0.0048).
VAL_ACC_DROP_TOLERANCE = 0.01


#: The train-validation accuracy gap must widen by at least this much from the
#: best epoch to the last (absolute).
GAP_WIDENING_MIN = 0.02


#: At the last epoch training accuracy must exceed validation accuracy by at
#: least this much (absolute): a model that does not fit its training images
#: better than unseen ones is not memorizing, whatever its val curve does
#: (short runs where validation starts above training, dropout-heavy models).
OVERFIT_MIN_FINAL_GAP = 0.05


#: Validation beats training by at least this much accuracy (absolute) in
#: each of the later epochs for `val-better-than-train`.
VAL_ABOVE_TRAIN_MARGIN = 0.01


#: Without training accuracy (custom training loops log losses only), validation
#: loss at least this fraction below the training loss in each later epoch: the
#: dropout/averaging gap (the Lasagne MNIST thread: 0.24 against 0.41).
VAL_LOSS_BELOW_TRAIN_FRACTION = 0.10


#: ... and by more than this fraction of the largest loss so far, so that late
#: wobbles of a nearly fitted model (0.11 -> 0.16 after starting at 2.2, the
#: re-enacted overfitting run) are not taken for overshooting steps.
LOSS_JUMP_SCALE = 0.05


#: This many jumps make the loss oscillating, unless the validation loss, read at the same epoch ends on
#: fixed images in inference mode, made no jump at all (`_steady_validation`): weights thrown about by too
#: large steps throw the validation loss about with them, while the noise of a training-mode epoch average
#: (dropout, a handful of batches on a small set) leaves it falling smoothly.
OSCILLATION_JUMPS = 2


#: A training loss that grows this many times from one epoch to the next (and by more than the
#: classification scale, `CLASSIFICATION_LOSS_SCALE`) explodes: an epoch average never multiplies
#: by ten while training is stable; one such epoch is enough (2.23 -> 2.5e8 on raw inputs and SGD).
EXPLOSION_FACTOR = 10.0


#: The last training loss this many times its minimum is divergence ...
DIVERGENCE_RATIO = 1.5


#: ... when it also ended above its minimum by this fraction of the largest loss:
#: a ratio of a loss near zero is noise (a memorizing model at training accuracy
#: 1.0 wanders 0.018 -> 0.028 after starting at 0.68, which is 1.6x its minimum
#: and 1.6% of its range), where an overshooting run climbs back by a good part
#: of where it started.
DIVERGENCE_SCALE = 0.05


#: ... with the minimum at least this many epochs before the end: a loss climbing back takes
#: epochs, where a last epoch up from the one before, the minimum, is a spike (RMSprop near a loss
#: of zero: 0.054, 0.100, 0.044, 0.150), which the jumps count.
DIVERGENCE_EPOCHS = 2


#: A training loss that rose in each of the last this-many epochs ...
RISE_EPOCHS = 3


#: ... and ended above its minimum by this fraction of the largest loss is
#: climbing: an epoch average rises three times in a row by that much only when
#: the steps overshoot (cifar10_cnn with RMSprop(1e-3): +0.14 after starting at
#: 1.59). A nearly fitted model's loss can wobble up for three epochs by a few
#: hundredths (0.116 -> 0.143 after starting at 2.26) while it overfits.
SUSTAINED_RISE = 0.05


#: Training accuracy that rose this far above chance and ended back in the
#: chance band collapsed: the weights were thrown out of a good region.
COLLAPSE_FROM_ABOVE_CHANCE = 0.15


#: Validation loss at least this many times the last training loss, with
#: validation no longer improving, is memorization even when the accuracy gap
#: looks small: near 100% training accuracy the accuracies saturate, the loss
#: does not (the keras#1971 thread: training loss 5e-4 against val_loss 0.13
#: after 100 epochs, accuracy 1.0 vs 0.96). A healthy run keeps the two
#: losses within a factor of about 2-3 at its best epoch.
MEMORIZATION_LOSS_RATIO = 10.0


#: A validation loss that fell (first epoch to lowest) by at most this share of what the training
#: loss fell never showed what the model learned: overfitting first carries over (the validation
#: loss falls with the training loss, less steeply, then climbs). A turn without that fall reads the
#: same from a validation split the learning never reached: BatchNormalization statistics lagging
#: the weights, a split unlike the training one, eval labels or images astray. FIT001 then reports
#: the turn as information, so that it neither outranks a warning nor takes the confidence of a
#: real turn. Of the runs FIT001 called overfitting on the corpus and draws 2-7 (History JSON),
#: 15 of the 19 at or below 0.10 were pipeline bugs or BatchNorm lags (the other 4, tiny training
#: sets on ten classes), against 9 of the 67 above it; at 0.05, 11 of 14.
NEVER_CARRIED_OVER_SHARE = 0.10


def _curve_turn(inputs: Inputs) -> dict | None:
    """Measure where validation stopped improving; None when the curves cannot show it.

    Returns the best epochs of val_loss and of the validation score (accuracy,
    or ROC/AUC/F1... when the log has no accuracy), whether each turned (a new
    best at least `OVERFIT_PATIENCE` epochs back and a drop beyond noise), and
    whether the training loss at the end is a memorizing fraction of val_loss.
    """
    h = inputs.history
    loss, val_loss = h.loss, h.val_loss
    train_key, val_key = score_keys(h)
    val_score, train_score = h.series(val_key), h.series(train_key)
    if not loss:
        return None
    out: dict = {
        "val_key": val_key,
        "train_key": train_key,
        "loss_turn": False,
        "score_turn": False,
        "memorized": False,
        "best_l": None,
        "best_a": None,
        "loss_rise": 0.0,
    }
    rows = aligned(loss, val_loss)
    if len(rows) >= MIN_EPOCHS_FOR_CURVES:
        idx = [i for i, _ in rows]
        last = idx[-1]
        best_l = min(idx, key=lambda i: val_loss[i])
        rise = val_loss[last] / val_loss[best_l] - 1.0 if val_loss[best_l] > 0 else 0.0
        out.update(
            best_l=best_l,
            last=last,
            loss_rise=rise,
            loss_turn=last - best_l >= OVERFIT_PATIENCE and rise > VAL_LOSS_RISE_TOLERANCE,
        )
        stalled = last - best_l >= OVERFIT_PATIENCE
        # a training loss printed as 0 (`f"{loss:.2f}"` of 0.004) is below half the step the losses were printed
        # in (read off both: 0.1 and 0.0 alone look like one decimal)
        train_last = loss[last] if loss[last] > 0 else printed_step(loss, val_loss) / 2
        out["train_loss_bound"] = train_last
        out["memorized"] = stalled and train_last > 0 and val_loss[last] >= MEMORIZATION_LOSS_RATIO * train_last
    srows = aligned(val_score)
    if len(srows) >= MIN_EPOCHS_FOR_CURVES:
        sidx = [i for i, _ in srows]
        best_a = max(sidx, key=lambda i: val_score[i])
        s_last = sidx[-1]
        turn = s_last - best_a >= OVERFIT_PATIENCE and val_score[best_a] - val_score[s_last] > VAL_ACC_DROP_TOLERANCE
        # An accuracy dip while val_loss is still setting new minima is not memorization: the model
        # keeps improving on validation data in likelihood, and EarlyStopping(monitor="val_loss")
        # would not stop. It is accuracy noise on a small validation set or a model near chance whose
        # argmax flips between classes. Overfitting needs val_loss to have stopped improving too.
        if (
            turn
            and not out["loss_turn"]
            and out["best_l"] is not None
            and out["last"] - out["best_l"] < OVERFIT_PATIENCE
        ):
            turn = False
        out.update(best_a=best_a, score_turn=turn)
        out.setdefault("last", s_last)
    if "last" not in out:
        return None
    out["val_score"], out["train_score"] = val_score, train_score
    return out


#: The validation accuracy printed in at least this many final epochs, the same
#: value each time, while training accuracy climbed by `GAP_WIDENING_MIN` or
#: more: the model gives the validation images the answers it gave when the
#: curve froze, one answer for every image as a rule (a class's share: 0.521 on
#: two classes, 0.335 on three). Overfitting moves validation predictions as the
#: weights move. Validation inputs on another scale than the training inputs,
#: BatchNormalization statistics that do not fit them, or a small validation set
#: the model stopped changing its mind on all print this; a log cannot tell them
#: apart, the images can. `CONSTANT_ACCURACY_RUN` (3) is the shortest run that
#: chance repeats rarely on 1,000 images; half the run keeps late convergence on
#: a small validation set (the same value in the last 3 of 30 epochs) overfitting,
#: and a value within `OVERFIT_MIN_FINAL_GAP` of training accuracy is a model that
#: transfers what it learned (0.977 on 45 wine images against 1.0 in training).
FROZEN_VAL_MIN_SHARE = 0.5


def frozen_validation(h: Any) -> dict[str, Any] | None:
    """The final stretch of identical validation accuracies, when it makes a log unable to say overfitting.

    Returns `{"value", "epochs", "train_from", "train_to"}` when the last
    max(`CONSTANT_ACCURACY_RUN`, `FROZEN_VAL_MIN_SHARE` x epochs) validation
    accuracies repeat one value (within `CONSTANT_ACCURACY_SPREAD`) while the
    training accuracy rose by at least `GAP_WIDENING_MIN` over them to at least
    `OVERFIT_MIN_FINAL_GAP` above that value; else None, and None for a log printed in coarser steps
    than `CONSTANT_RUN_MAX_STEP`, whose repeats a plateau makes.
    """
    rows = aligned(h.acc, h.val_acc)
    if len(rows) < MIN_EPOCHS_FOR_CURVES or not repeats_readable(h):
        return None
    vals = [va for _, (_, va) in rows]
    tail = 1
    while tail < len(vals) and abs(vals[-tail - 1] - vals[-1]) <= CONSTANT_ACCURACY_SPREAD:
        tail += 1
    if tail < max(CONSTANT_ACCURACY_RUN, FROZEN_VAL_MIN_SHARE * len(vals)):
        return None
    train_from, train_to = rows[-tail][1][0], rows[-1][1][0]
    if train_to - train_from < GAP_WIDENING_MIN or train_to - vals[-1] < OVERFIT_MIN_FINAL_GAP:
        return None
    return {"value": vals[-1], "epochs": tail, "train_from": train_from, "train_to": train_to}


@register("FIT001", "overfitting", requires=("history",), cause="overfitting", superseded_by=("LOG020",))
def overfitting(inputs: Inputs) -> list[Finding]:
    """Validation passed its best epoch and got worse while training kept improving.

    ## What it does
    Finds the epoch with the lowest `val_loss` (the one `EarlyStopping(monitor="val_loss",
    restore_best_weights=True)` would keep) and the epoch with the best
    validation score (accuracy; ROC AUC, average precision, F1 ... when the
    log has no accuracy). Fires when, for at least `OVERFIT_PATIENCE` epochs
    after it, validation loss ended more than `VAL_LOSS_RISE_TOLERANCE` (3%)
    above its minimum or the validation score more than
    `VAL_ACC_DROP_TOLERANCE` (0.01) below its best, while the training loss
    kept falling and the train-validation accuracy gap widened by at least
    `GAP_WIDENING_MIN` to at least `OVERFIT_MIN_FINAL_GAP`. When validation
    has stopped improving and its loss is `MEMORIZATION_LOSS_RATIO` (10) times
    the training loss, the loss gap stands for the accuracy gap (accuracies
    saturate near 100%, losses do not), and so does a widening loss gap when
    training accuracy was already at `FITTED_ACCURACY` at the best epoch; a training loss printed as 0 counts
    as half the step it was printed in, the most it can be. It stays silent when validation never
    left chance or sits at ln K (LOG004, LOG007, LOG010 speak for those).

    ## Why is this bad?
    Past that epoch the model memorizes training images at the expense of
    new ones: every further epoch makes it worse on data it has not seen.
    A gap alone is not overfitting (dropout lowers training accuracy, a
    pipeline bug lowers validation accuracy from the first epoch); the
    turn of the validation curve is.

    ## Example
    ```
    Epoch 8/10 ... loss: 0.3995 - acc: 0.8611 - val_loss: 5.3879 - val_acc: 0.6615
    Epoch 10/10 ... loss: 0.2806 - acc: 0.9033 - val_loss: 5.7424 - val_acc: 0.6399
    ```

    ## Use instead
    ```python
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)]
    ```
    and add data augmentation, dropout or weight decay.
    """
    h = inputs.history
    loss = h.loss
    k = inputs.num_classes or ASSUMED_CLASSES
    if val_at_chance(h, k) or _val_never_above_chance(h, k) or _val_loss_pinned(h):
        return []  # no peak to fall from: LOG004 / LOG010 / LOG007
    inferred = None if inputs.num_classes else classes_at_chance(h, 0.0)
    if inferred and val_at_chance(h, inferred) and not frozen_validation(h):
        return []  # at the chance level of the one K the curves fit, wandering by the split's noise: LOG004
    t = _curve_turn(inputs)
    if t is None or not (t["loss_turn"] or t["score_turn"] or t["memorized"]):
        return []
    frozen = frozen_validation(h)
    if frozen:
        return [_frozen_finding(h, frozen)]
    best_l, best_a, last = t["best_l"], t["best_a"], t["last"]
    best = best_l if (t["loss_turn"] or t["memorized"]) else best_a
    if best is None or best >= len(loss) or last >= len(loss) or not (finite(loss[best]) and finite(loss[last])):
        return []
    if loss[last] - loss[best] > LOSS_JUMP_SCALE * max(v for v in loss if finite(v)):
        return []  # training got worse too: instability, not overfitting
    val_score, train_score = t["val_score"], t["train_score"]
    same_metric = t["train_key"] is not None and t["val_key"] == "val_" + t["train_key"]
    # Keras logs training accuracy in training mode (dropout on); when the inference-mode accuracy on
    # training images was measured (DoctorCallback), the gap compares like with like.
    inference = h.train_accuracy_inference_mode
    use_inference = bool(
        same_metric and inference and len(inference) == len(train_score) and all(map(finite, inference))
    )
    if use_inference:
        train_score = inference
    gap_best = gap_last = None
    s_last = len(val_score) - 1
    scored = (
        best < len(train_score)
        and best < len(val_score)
        and s_last < len(train_score)
        and all(finite(v) for v in (train_score[best], val_score[best], train_score[s_last], val_score[s_last]))
    )
    if scored and same_metric:
        gap_best = train_score[best] - val_score[best]
        gap_last = train_score[s_last] - val_score[s_last]
        widened = gap_last - gap_best >= GAP_WIDENING_MIN and gap_last >= OVERFIT_MIN_FINAL_GAP
        if not (widened or t["memorized"] or _loss_gap_at_ceiling(h, t, best, train_score[best], gap_last)):
            return []
    elif scored:
        # different metrics (training accuracy, validation ROC): compare their changes since the best epoch
        if (
            not (
                train_score[s_last] - train_score[best] >= GAP_WIDENING_MIN
                and val_score[best] - val_score[s_last] > VAL_ACC_DROP_TOLERANCE
            )
            and not t["memorized"]
        ):
            return []
    elif best_l is not None and (t["loss_turn"] or t["memorized"]):
        # no training score to set against the validation one (a custom loop that prints the training
        # loss and the validation loss and accuracy): the loss gap stands for the accuracy gap, and the
        # training loss must have fallen since the best epoch (the "kept falling" the finding states)
        if loss[last] >= loss[best] or (h.val_loss[last] - loss[last]) <= (h.val_loss[best] - loss[best]):
            return []
    else:
        return []
    val_name = t["val_key"] or "val score"
    pieces = []
    if t["loss_turn"] or t["memorized"]:
        pieces.append(
            f"val_loss reached its minimum {h.val_loss[best_l]:.4g} at epoch {printed_index(h, best_l)} and "
            f"ended {t['loss_rise']:+.1%} from it ({h.val_loss[last]:.4g}) {last - best_l} epochs later"
        )
    if t["score_turn"]:
        pieces.append(
            f"{val_name} peaked at {val_score[best_a]:.4f} at epoch {printed_index(h, best_a)} and fell to "
            f"{val_score[s_last]:.4f}"
        )
    gap_txt = f"; the accuracy gap widened from {gap_best:.2f} to {gap_last:.2f}" if gap_best is not None else ""
    ratio = h.val_loss[last] / t["train_loss_bound"] if t["memorized"] else None
    if ratio is not None:
        at_least = "at least " if loss[last] <= 0 else ""
        gap_txt += f"; val_loss is {at_least}{ratio:.0f}x the training loss"
    stop_epoch = printed_index(h, best)
    carried = _carried_over(h)
    never_carried = carried is not None and carried <= NEVER_CARRIED_OVER_SHARE
    if never_carried and from_training_start(h):
        gap_txt += (
            f"; but val_loss fell by {carried:.0%} of what the training loss fell: what the model learned never "
            "showed on the validation split, as overfitting first does"
        )
    elif never_carried:
        gap_txt += (
            f"; but in the epochs the log shows (from epoch {printed_index(h, 0)}) val_loss fell by {carried:.0%} of "
            "what the training loss fell, and whether what the model learned showed on the validation split before "
            "them, as overfitting first does, the log cannot say"
        )
    return [
        overfitting.finding(
            Severity.INFO if never_carried else Severity.WARNING,
            "; ".join(pieces)
            + f", while training loss kept falling ({loss[best]:.4g} -> {loss[last]:.4g})"
            + gap_txt
            + ".",
            evidence={
                "val_loss_fall_share": rounded(carried) if carried is not None else None,
                "never_carried_over": never_carried,
                "early_stopping_epoch": stop_epoch,
                "best_val_loss_epoch": printed_index(h, best_l) if best_l is not None else None,
                "best_val_loss": rounded(h.val_loss[best_l]) if best_l is not None else None,
                "val_score": val_name,
                "best_val_acc_epoch": printed_index(h, best_a) if best_a is not None else None,
                "best_val_acc": rounded(val_score[best_a]) if best_a is not None else None,
                "last_val_loss": rounded(h.val_loss[last]) if best_l is not None else None,
                "val_loss_rise": rounded(t["loss_rise"]),
                "train_loss_at_best": rounded(loss[best]),
                "train_loss_last": rounded(loss[last]),
                "gap_at_best": rounded(gap_best) if gap_best is not None else None,
                "gap_measured_with": "inference-mode training accuracy" if use_inference else "logged accuracy",
                "gap_last": rounded(gap_last) if gap_last is not None else None,
                "memorization_loss_ratio": rounded(ratio, 1) if ratio is not None else None,
                "epochs": h.epochs,
                "patience": OVERFIT_PATIENCE,
            },
            fix=Fix(
                f"Stop at epoch {stop_epoch} (EarlyStopping) and regularize: augmentation, dropout, weight decay",
                'keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)',
            ),
            explanation=(
                f"Early stopping on validation would have kept epoch {stop_epoch}. After it the model keeps improving "
                "on training data and gets worse on validation data: the signature of overfitting."
            ),
            split="val",
        )
    ]


def _loss_gap_at_ceiling(h: Any, t: dict, best: int, train_at_best: float, gap_last: float) -> bool:
    """Whether, with the training accuracy already at `FITTED_ACCURACY` at the best epoch (no room left for
    the accuracy gap to widen: 0.9941 is one error in 169), the loss gap widened instead: validation loss
    turned, the training loss fell since the best epoch, val_loss - loss grew, and the accuracy gap at the
    end is at least `OVERFIT_MIN_FINAL_GAP`."""
    last = t["last"]
    if not (t["loss_turn"] and train_at_best >= FITTED_ACCURACY and gap_last >= OVERFIT_MIN_FINAL_GAP):
        return False
    loss, val = h.loss, h.val_loss
    return bool(loss[last] < loss[best] and val[last] - loss[last] > val[best] - loss[best])


def _carried_over(h: Any) -> float | None:
    """How far the validation loss fell (first epoch to lowest) as a share of the training loss's fall;
    `None` when training did not fall."""
    train = [v for v in h.loss if finite(v)]
    val = [v for v in h.val_loss if finite(v)]
    if not train or not val or min(train) >= train[0]:
        return None
    return (val[0] - min(val)) / (train[0] - min(train))


def _val_never_above_chance(h, k: int) -> bool:
    vals = [v for v in h.val_acc if finite(v)]
    return bool(vals) and max(vals) <= 1.0 / k


def _val_loss_pinned(h) -> bool:
    vl = h.val_loss
    return len(vl) >= 2 and all(finite(v) for v in vl) and pinned_at_chance(vl, None, h.val_acc) is not None


@register("FIT003", "val-better-than-train", requires=("history",), cause="regularization-gap")
def val_better_than_train(inputs: Inputs) -> list[Finding]:
    """Validation beats training in the later epochs, with lower loss too: dropout/augmentation at work.

    ## What it does
    Fires (info) when, in each of the later half of the epochs (at least 2),
    validation accuracy exceeds training accuracy by `VAL_ABOVE_TRAIN_MARGIN`
    and validation loss is below training loss. A log without training
    accuracy (custom loops) needs validation loss at least
    `VAL_LOSS_BELOW_TRAIN_FRACTION` (10%) below the training loss instead.

    ## Why is this bad?
    It is usually not: Keras measures training metrics in training mode, with
    dropout active and augmented images, averaged over an epoch in which the
    model improved; validation runs in inference mode at the end of the epoch.
    It is reported so that a "val is better than train" surprise is not
    mistaken for a bug, and so that the real gap is measured in inference mode
    (`model.evaluate(x_train_sample, y_train_sample)`).

    ## Example
    ```
    Epoch 6/6 ... accuracy: 0.6012 - loss: 1.1403 - val_accuracy: 0.6634 - val_loss: 0.9731
    ```

    ## Use instead
    Nothing to fix. To compare like with like, evaluate a training subset
    with `model.evaluate` after training.
    """
    h = inputs.history
    if h.acc:
        rows = aligned(h.acc, h.val_acc, h.loss, h.val_loss)
        ok = lambda a, va, lo, vl: va - a > VAL_ABOVE_TRAIN_MARGIN and vl < lo  # noqa: E731
    else:  # no training accuracy logged (custom loops): the losses alone
        rows = [(i, (math.nan, math.nan, lo, vl)) for i, (lo, vl) in aligned(h.loss, h.val_loss)]
        ok = lambda a, va, lo, vl: vl <= (1 - VAL_LOSS_BELOW_TRAIN_FRACTION) * lo  # noqa: E731
    if len(rows) < 2:
        return []
    later = rows[len(rows) // 2 :]
    if len(later) < 2:
        later = rows[-2:]
    if not all(ok(*v) for _, v in later):
        return []
    _, (a, va, lo, vl) = later[-1]
    ev: dict[str, Any] = {
        "epochs_checked": [printed_index(h, i) for i, _ in later],
        "acc_last": rounded(a) if h.acc else None,
        "val_acc_last": rounded(va) if h.acc else None,
        "loss_last": rounded(lo),
        "val_loss_last": rounded(vl),
        "margin": VAL_ABOVE_TRAIN_MARGIN if h.acc else VAL_LOSS_BELOW_TRAIN_FRACTION,
    }
    if h.train_accuracy_inference_mode:
        ev["train_accuracy_inference_mode"] = [rounded(x) for x in h.train_accuracy_inference_mode]
    what = f"val accuracy {va:.4f} vs {a:.4f}, val loss" if h.acc else "val loss"
    return [
        val_better_than_train.finding(
            Severity.INFO,
            f"Validation beats training in the last {len(later)} epochs: {what} {vl:.4g} vs {lo:.4g}.",
            evidence=ev,
            fix=Fix("Nothing to fix; compare in inference mode with model.evaluate on a training subset"),
            explanation="Training metrics are measured with dropout and augmentation active and averaged over the "
            "epoch; validation runs in inference mode. This gap is benign.",
        )
    ]


@register(
    "FIT004", "unstable-loss", requires=("history",), cause="unstable-training", superseded_by=("LOG015", "LOG014")
)
def unstable_loss(inputs: Inputs) -> list[Finding]:
    """Training loss oscillates, diverges or climbs for epochs; or accuracy collapses to chance.

    ## What it does
    Fires on any of:
    - `OSCILLATION_JUMPS` (2) epochs whose training loss rose more than
      `LOSS_JUMP` (10%) over the previous epoch and by more than
      `LOSS_JUMP_SCALE` (5%) of the largest loss so far (late wobbles of a
      tiny loss, 0.11 -> 0.16 after starting at 2.2, are not jumps), while
      the validation loss jumped too (a validation loss that never jumped
      shows steady weights under a noisy training-mode average);
    - divergence: the last training loss `DIVERGENCE_RATIO` (1.5) times its
      minimum, at least `DIVERGENCE_EPOCHS` (2) epochs before it, and above it
      by `DIVERGENCE_SCALE` (5%) of the largest loss;
    - a sustained climb: the loss rose in each of the last `RISE_EPOCHS` (3)
      epochs and ended above its minimum by `SUSTAINED_RISE` (5%) of the
      largest loss;
    - a collapse: training accuracy rose `COLLAPSE_FROM_ABOVE_CHANCE` above
      chance, then ended back in the chance band;
    - an explosion: the loss grew `EXPLOSION_FACTOR` (10) times in one epoch.

    For a classifier (an accuracy is logged) "the largest loss" is at least
    `CLASSIFICATION_LOSS_SCALE` (ln 2), so a loss near zero that wanders by
    factors of two is not judged by its own ratios. A log of optimizer steps is
    judged on the means of `STEP_BLOCKS` blocks of consecutive steps. LOG014
    supersedes it: a training softmax saturated by unscaled inputs explains
    the same losses, and its fix (scale the inputs) is the one that helps.

    ## Why is this bad?
    The epoch-average training loss of a well-tuned run falls almost
    monotonically. Jumps mean optimizer steps overshoot; a loss that climbs
    epoch after epoch (Keras' cifar10_cnn with RMSprop(1e-3): 1.09 at epoch 4,
    1.24 at epoch 9) or a collapse to chance means the steps are too large for
    where the weights are now: a learning rate too high for the batch size, no
    normalization, or exploding gradients. The validation numbers of such a
    run reflect where the oscillation stopped, not what the model can learn.
    Overfitting is different: there the training loss keeps falling, so when
    FIT001 finds overfitting, spikes of a loss that still ends lower (a
    memorizing model's occasional bad batches) do not count as oscillation.

    ## Example
    ```
    loss: 1.91 -> 1.62 -> 2.05 -> 1.70 -> 2.31
    ```

    ## Use instead
    ```python
    optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)
    ```
    or a `ReduceLROnPlateau` callback; normalize inputs.
    """
    h = inputs.history
    if len(h.loss) < MIN_EPOCHS_FOR_CURVES or not all(finite(v) for v in h.loss):
        return []  # non-finite values: LOG003
    loss, where = judged_loss(h)
    floor = classification_loss_scale(h)
    jumps = [where[i] for i in _jumps(loss, floor)]
    exploded = [
        where[i]
        for i in range(1, len(loss))
        if loss[i - 1] > 0 and loss[i] >= EXPLOSION_FACTOR * loss[i - 1] and loss[i] - loss[i - 1] > floor
    ]
    lo = min(loss)
    at = loss.index(lo)
    diverging = (
        lo > 0
        and loss[-1] >= DIVERGENCE_RATIO * lo
        and loss[-1] - lo >= DIVERGENCE_SCALE * max(max(loss), floor)
        and at < len(loss) - DIVERGENCE_EPOCHS
    )
    tail = loss[-(RISE_EPOCHS + 1) :]
    climbing = (
        len(loss) > RISE_EPOCHS
        and all(b > a for a, b in zip(tail, tail[1:]))
        and lo > 0
        and loss[-1] - lo >= SUSTAINED_RISE * max(lo, max(loss), floor)
    )
    collapse = _accuracy_collapse(inputs)
    oscillating = len(jumps) >= OSCILLATION_JUMPS and not _steady_validation(h, floor)
    if not oscillating and not exploded and not diverging and not climbing and collapse is None:
        return []
    if not (diverging or climbing or collapse or exploded) and overfitting(inputs):
        # spikes along a training loss that keeps falling while validation turned: the run's story is
        # overfitting (FIT001 already required training to end lower than at the best validation epoch)
        return []
    if exploded:
        what = f"explodes (at least {EXPLOSION_FACTOR:g}x in one {index_unit(h)}, at {exploded})"
    elif diverging:
        what = "diverges"
    elif climbing:
        what = f"has climbed for {RISE_EPOCHS} epochs in a row"
    elif collapse is not None:
        what = f"is unstable: training accuracy rose to {collapse[0]:.3f} and collapsed to {collapse[1]:.3f} (chance)"
    else:
        what = "oscillates"
    return [
        unstable_loss.finding(
            Severity.WARNING,
            f"Training {'' if collapse is not None and what.startswith('is unstable') else 'loss '}{what}: "
            f"minimum {lo:.4g} at {index_unit(h)} {where[at]}, last {loss[-1]:.4g}"
            + (f"; rises of more than {LOSS_JUMP:.0%} at {index_unit(h)}s {jumps}" if jumps else "")
            + (f" (means of {STEP_BLOCKS} blocks of steps)" if len(loss) < len(h.loss) else "")
            + ".",
            evidence={
                "loss": [rounded(v) for v in loss],
                "jump_epochs": jumps,
                "min_loss": rounded(lo),
                "min_epoch": where[at],
                "step_blocks": STEP_BLOCKS if len(loss) < len(h.loss) else None,
                "last_loss": rounded(loss[-1]),
                "diverging": diverging,
                "exploded_at": exploded,
                "climbing": climbing,
                "accuracy_collapse": [rounded(v) for v in collapse] if collapse else None,
                "jump": LOSS_JUMP,
                "jump_scale": LOSS_JUMP_SCALE,
                "divergence_ratio": DIVERGENCE_RATIO,
                "rise_epochs": RISE_EPOCHS,
                "sustained_rise": SUSTAINED_RISE,
            },
            fix=Fix(
                "Lower the learning rate (e.g. 10x) and clip gradients",
                "optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)",
            ),
            explanation="The epoch-average training loss of a stable run falls almost monotonically; rises and "
            "collapses mean the optimizer overshoots. This is not overfitting, where the training loss "
            "keeps falling.",
            split="train",
        )
    ]


def _jumps(loss: list[float], floor: float) -> list[int]:
    """Positions where `loss` rose by more than `LOSS_JUMP` and `LOSS_JUMP_SCALE` of its largest value so far."""
    return [
        i
        for i in range(1, len(loss))
        if loss[i - 1] > 0
        and loss[i] > loss[i - 1] * (1 + LOSS_JUMP)
        and loss[i] - loss[i - 1] > LOSS_JUMP_SCALE * max(max(loss[:i]), floor)
    ]


def _steady_validation(h: Any, floor: float) -> bool:
    """A per-epoch validation loss, finite, that never jumped (see `OSCILLATION_JUMPS`)."""
    val = list(h.val_loss or [])
    if index_unit(h) == "step" or len(val) < MIN_EPOCHS_FOR_CURVES or not all(finite(v) for v in val):
        return False
    return not _jumps(val, floor)


def _accuracy_collapse(inputs: Inputs) -> tuple[float, float] | None:
    """(peak, last) training accuracy when it rose well above chance and fell back into the chance band."""
    acc = [a for a in inputs.history.acc if finite(a)]
    if len(acc) < MIN_EPOCHS_FOR_CURVES:
        return None
    k = inputs.num_classes or ASSUMED_CLASSES
    peak = max(acc)
    if peak >= 1.0 / k + COLLAPSE_FROM_ABOVE_CHANCE and abs(acc[-1] - 1.0 / k) <= chance_accuracy_band(k):
        return peak, acc[-1]
    return None


# --- FIT008 -----------------------------------------------------------------------
#: ... and validation accuracy never moved more than this from its first epoch's, up or down.
#: A model whose learning carries over gains tens of points on the validation images (0.27 ->
#: 0.55 on ten digits in three epochs); one that had something at epoch 1 and loses it falls as
#: far (0.64 -> 0.49 on two classes: inference-mode drift, not a split the model never knew).
#: Predictions unrelated to the validation labels wander by a few images' worth and by the
#: classes' shares (0.318 -> 0.386 on 44 wine images is three images).
VAL_ACCURACY_DRIFT = 0.10


@register(
    "FIT008",
    "validation-never-improved",
    requires=("history",),
    cause="eval-distribution-shift",
    superseded_by=("LOG001", "LOG007"),
)
def validation_never_improved(inputs: Inputs) -> list[Finding]:
    """The validation loss never falls below the first epoch's training loss while training learns.

    ## What it does
    Fires (warning) over at least `MIN_EPOCHS_FOR_CURVES` epochs when the training
    loss ends at or below `TRAIN_LEARNED_FRACTION` of its first epoch, every
    validation loss is at least the first epoch's training loss, and the
    validation accuracy (when logged) stays within `VAL_ACCURACY_DRIFT` of its
    first epoch without repeating one value in `CONSTANT_ACCURACY_RUN` epochs
    (one answer for every image: LOG004's reading). Silent when the validation
    accuracies show a split of fewer than 100 images (every value a count k/n,
    `accuracy_denominator`): two standard errors of its accuracy then exceed
    `VAL_ACCURACY_DRIFT`, and flat says nothing; and on a log that does not start at
    epoch 1 (`from_training_start`: a console pasted from its middle, a resumed run),
    whose validation loss fell before it began. LOG001 and LOG007 supersede it
    on the same split: a softmax saturated by the eval inputs (or left uniform
    by them) keeps the validation loss high whatever carries over, and they
    name the scale.

    ## Why is this bad?
    The first epoch's training loss is a mean over weights that had learned at
    most one epoch, starting from none; after that epoch a model scores lower
    on images of the same distribution, seen or not, unless what it learned
    does not carry over at all. Overfitting first carries over, then turns:
    the validation loss dips below where training started, then climbs. A
    validation loss that never gets there, while training learns, says the
    validation images or labels are not what training saw: labels shuffled
    apart from their images, images laid out or scaled differently, or a
    validation split of other classes. Regularization does not fix that.

    ## Example
    ```
    loss: 1.061 -> 0.081    val_loss: 1.154 -> 3.029    val_accuracy: 0.318 -> 0.386
    ```

    ## Use instead
    ```python
    model.evaluate(x_train[:1000], y_train[:1000])  # inference mode, training images: high?
    print(x_train.mean(), x_train.std(), x_val.mean(), x_val.std())  # same preprocessing?
    print(np.bincount(y_train.ravel()), np.bincount(y_val.ravel()))  # same classes?
    ```
    """
    h = inputs.history
    rows = aligned(h.loss, h.val_loss)
    if len(rows) < MIN_EPOCHS_FOR_CURVES or len(rows) != len(h.loss) or not from_training_start(h):
        return []  # from a log pasted from its middle, what validation learned before it is unseen
    losses = [lo for _, (lo, _) in rows]
    val_losses = [vl for _, (_, vl) in rows]
    first = losses[0]
    if first <= 0 or losses[-1] > TRAIN_LEARNED_FRACTION * first or min(val_losses) < first:
        return []
    val_acc = [v for v in h.val_acc if finite(v)]
    if val_acc and (
        max(abs(v - val_acc[0]) for v in val_acc) > VAL_ACCURACY_DRIFT
        or repeated_run(h, val_acc) >= CONSTANT_ACCURACY_RUN
    ):
        return []
    images = accuracy_denominator(val_acc, accuracy_step(h))
    if images is not None and 2.0 * (0.25 / images) ** 0.5 > VAL_ACCURACY_DRIFT:
        return []  # too few validation images: their accuracy's noise exceeds the flatness judged
    low = val_losses.index(min(val_losses))
    acc_txt = f", validation accuracy {val_acc[0]:.4f} -> {val_acc[-1]:.4f}" if val_acc else ""
    return [
        validation_never_improved.finding(
            Severity.WARNING,
            f"Training loss fell from {first:.4g} to {losses[-1]:.4g}, but the validation loss never went below "
            f"{first:.4g} (lowest {val_losses[low]:.4g} at {index_unit(h)} {printed_index(h, low)}, last "
            f"{val_losses[-1]:.4g}){acc_txt}: nothing the model learned carries over to the validation split.",
            evidence={
                "loss_first": rounded(first, 4),
                "loss_last": rounded(losses[-1], 4),
                "val_loss_min": rounded(val_losses[low], 4),
                "val_loss_min_epoch": printed_index(h, low),
                "val_loss_last": rounded(val_losses[-1], 4),
                "val_acc_first": rounded(val_acc[0]) if val_acc else None,
                "val_acc_max": rounded(max(val_acc)) if val_acc else None,
                "learned_fraction": TRAIN_LEARNED_FRACTION,
                "val_accuracy_drift": VAL_ACCURACY_DRIFT,
            },
            fix=Fix(
                "Check that validation images and labels are what training saw: same preprocessing, labels in their "
                "images' order, the same classes",
                "model.evaluate(x_train[:1000], y_train[:1000])  # high here, low on validation: the split differs\n"
                "print(x_train.mean(), x_train.std(), x_val.mean(), x_val.std())\n"
                "print(np.bincount(y_train.ravel()), np.bincount(y_val.ravel()))",
            ),
            explanation=(
                "After its first epoch a model scores better than that epoch's average on any images of the same "
                "distribution. Overfitting first generalizes, then turns; a validation loss that never even reaches "
                "where training started means the validation split is not the distribution the model learned: "
                "labels out of their images' order, images preprocessed or laid out differently, or other classes. "
                "It is not overfitting, and regularization will not help."
            ),
            split="val",
        )
    ]


def _frozen_finding(h: Any, frozen: dict[str, Any]) -> Finding:
    v, n = frozen["value"], frozen["epochs"]
    return overfitting.finding(
        Severity.INFO,
        f"Validation accuracy printed {v:.4f} in each of the last {n} {index_unit(h)}s while training accuracy "
        f"climbed from {frozen['train_from']:.4f} to {frozen['train_to']:.4f}: the curves turn like overfitting, "
        "but the validation predictions stopped changing.",
        evidence={
            "val_acc_frozen": rounded(v),
            "frozen_epochs": n,
            "train_acc_from": rounded(frozen["train_from"]),
            "train_acc_to": rounded(frozen["train_to"]),
            "spread": CONSTANT_ACCURACY_SPREAD,
        },
        cause="insufficient-evidence",
        split="val",
        fix=Fix(
            "Check the validation inputs against the training inputs: give the data (--data), and the model (--model)",
            "print(x_train.min(), x_train.max(), x_val.min(), x_val.max())  # one preprocessing for every split",
        ),
        explanation=(
            "Overfitting moves the validation predictions as the weights change; an accuracy that repeats the "
            "same value while training accuracy climbs means the model keeps giving the validation images the "
            "same answers, usually one class for all of them. Validation inputs on another scale than the "
            "training inputs, BatchNormalization statistics that do not fit them, or a small validation set "
            "whose predictions settled all print this, and a log cannot tell them apart: the images and the "
            "model can."
        ),
    )
