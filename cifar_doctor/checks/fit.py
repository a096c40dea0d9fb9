"""FIT: over- and underfitting read from learning curves.

These checks look at trends over epochs of a `History`, so they need
`checks.log.MIN_EPOCHS_FOR_CURVES` epochs at least. A pipeline bug (LOG001)
can coexist with a real trend: the question's second run has both a scale
bug and a widening gap, and reports both.
"""

from __future__ import annotations

from ..findings import Fix, Severity
from ..registry import register
from .log import MIN_EPOCHS_FOR_CURVES, _chance_k, aligned, finite, history_classes, r, val_at_chance

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

#: Training accuracy below this after a plateau is underfitting on CIFAR-10:
#: a small CNN passes 0.6 within 5 epochs; for more than 20 classes the
#: threshold is `UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES`.
UNDERFIT_TRAIN_ACCURACY = 0.5
UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES = 0.3

#: Plateau: training accuracy gained less than `PLATEAU_GAIN` over the last
#: `PLATEAU_WINDOW` epochs.
PLATEAU_WINDOW = 3
PLATEAU_GAIN = 0.01

#: Validation beats training by at least this much accuracy (absolute) in
#: each of the later epochs for `val-better-than-train`.
VAL_ABOVE_TRAIN_MARGIN = 0.01

#: Training loss (an epoch average) rising by more than this fraction from one
#: epoch to the next counts as a jump; healthy training almost never does it
#: outside learning-rate restarts.
LOSS_JUMP = 0.10

#: This many jumps make the loss oscillating.
OSCILLATION_JUMPS = 2

#: The last training loss this many times its minimum is divergence.
DIVERGENCE_RATIO = 1.5


@register("FIT001", "overfitting", requires=("history",), cause="overfitting")
def overfitting(inputs):
    """Validation loss passed its minimum and rises while training loss keeps falling.

    ## What it does
    Finds the epoch with the lowest `val_loss` (the one `EarlyStopping(monitor="val_loss",
    restore_best_weights=True)` would keep) and the epoch with the highest
    validation accuracy. Fires when, for at least `OVERFIT_PATIENCE` epochs
    after it, validation loss ended more than `VAL_LOSS_RISE_TOLERANCE` (3%)
    above its minimum or validation accuracy more than
    `VAL_ACC_DROP_TOLERANCE` (0.01) below its maximum, while training loss
    kept falling and the train-validation accuracy gap widened by at least
    `GAP_WIDENING_MIN`.

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
    loss, val_loss, acc, val_acc = h.loss, h.val_loss, h.acc, h.val_acc
    rows = aligned(loss, val_loss)
    if len(rows) < MIN_EPOCHS_FOR_CURVES:
        return []
    if val_at_chance(h, history_classes(inputs) or 10):
        return []  # validation never left chance: no peak to fall from (LOG004)
    idx = [i for i, _ in rows]
    last = idx[-1]
    best_l = min(idx, key=lambda i: val_loss[i])
    loss_rise = val_loss[last] / val_loss[best_l] - 1.0 if val_loss[best_l] > 0 else 0.0
    loss_turn = last - best_l >= OVERFIT_PATIENCE and loss_rise > VAL_LOSS_RISE_TOLERANCE
    acc_rows = aligned(acc, val_acc)
    acc_turn = False
    best_a = None
    if len(acc_rows) >= MIN_EPOCHS_FOR_CURVES:
        aidx = [i for i, _ in acc_rows]
        best_a = max(aidx, key=lambda i: val_acc[i])
        a_last = aidx[-1]
        acc_turn = a_last - best_a >= OVERFIT_PATIENCE and val_acc[best_a] - val_acc[a_last] > VAL_ACC_DROP_TOLERANCE
        # An accuracy dip while val_loss is still setting new minima is not memorization: the model
        # keeps improving on validation data in likelihood, and EarlyStopping(monitor="val_loss")
        # would not stop. It is accuracy noise on a small validation set or a model near chance whose
        # argmax flips between classes. Overfitting needs val_loss to have stopped improving too.
        if acc_turn and not loss_turn and last - best_l < OVERFIT_PATIENCE:
            acc_turn = False
    if not (loss_turn or acc_turn):
        return []
    best = best_l if loss_turn else best_a
    if not loss[last] < loss[best]:
        return []  # training got worse too: instability, not overfitting
    gap_best = gap_last = None
    # Keras logs training accuracy in training mode (dropout on); when the inference-mode accuracy on
    # training images was measured (DoctorCallback), the gap compares like with like.
    inference = h.train_accuracy_inference_mode
    train_acc = inference if inference and len(inference) == len(acc) and all(map(finite, inference)) else acc
    if acc_rows and best < len(acc) and finite(train_acc[best]) and finite(val_acc[best]):
        gap_best = train_acc[best] - val_acc[best]
        gap_last = train_acc[-1] - val_acc[-1]
        if gap_last - gap_best < GAP_WIDENING_MIN or gap_last < OVERFIT_MIN_FINAL_GAP:
            return []
    elif (val_loss[last] - loss[last]) <= (val_loss[best] - loss[best]):
        return []
    pieces = []
    if loss_turn:
        pieces.append(f"val_loss reached its minimum {val_loss[best_l]:.4g} at epoch {best_l + 1} and ended "
                      f"{loss_rise:.1%} higher ({val_loss[last]:.4g}) {last - best_l} epochs later")
    if acc_turn:
        pieces.append(f"val accuracy peaked at {val_acc[best_a]:.4f} at epoch {best_a + 1} and fell to "
                      f"{val_acc[-1]:.4f}")
    gap_txt = (f"; the accuracy gap widened from {gap_best:.2f} to {gap_last:.2f}" if gap_best is not None else "")
    return [overfitting.finding(
        Severity.WARNING,
        "; ".join(pieces) + f", while training loss kept falling ({loss[best]:.4g} -> {loss[last]:.4g})" + gap_txt + ".",
        evidence={
            "early_stopping_epoch": best_l + 1 if loss_turn else best_a + 1,
            "best_val_loss_epoch": best_l + 1, "best_val_loss": r(val_loss[best_l]),
            "best_val_acc_epoch": best_a + 1 if best_a is not None else None,
            "best_val_acc": r(val_acc[best_a]) if best_a is not None else None,
            "last_val_loss": r(val_loss[last]), "val_loss_rise": r(loss_rise),
            "train_loss_at_best": r(loss[best]), "train_loss_last": r(loss[last]),
            "gap_at_best": r(gap_best) if gap_best is not None else None,
            "gap_measured_with": "inference-mode training accuracy" if train_acc is not acc else "logged accuracy",
            "gap_last": r(gap_last) if gap_last is not None else None,
            "epochs": h.epochs, "patience": OVERFIT_PATIENCE,
        },
        fix=Fix(f"Stop at epoch {best + 1} (EarlyStopping) and regularize: augmentation, dropout, weight decay",
                'keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)'),
        explanation=(
            f"Early stopping on val_loss would have kept epoch {best_l + 1 if loss_turn else best + 1}. After it the "
            "model keeps improving on training data and gets worse on validation data: the signature of overfitting."
        ),
        split="val",
    )]


@register("FIT002", "underfitting", requires=("history",), cause="underfitting")
def underfitting(inputs):
    """Training accuracy is low and has stopped improving.

    ## What it does
    Fires (warning) when the last training accuracy is below
    `UNDERFIT_TRAIN_ACCURACY` (0.5; 0.3 for more than 20 classes) and gained
    less than `PLATEAU_GAIN` over the last `PLATEAU_WINDOW` epochs. When it is
    low but still rising, it only advises (info) to train longer.

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
    """
    h = inputs.history
    acc = [a for a in h.acc if finite(a)]
    if len(acc) < MIN_EPOCHS_FOR_CURVES:
        return []
    k = history_classes(inputs)
    if h.loss and finite(h.loss[-1]) and _chance_k(h.loss[-1], acc[-1], k):
        return []  # at chance: loss-at-chance says it better
    low = UNDERFIT_TRAIN_ACCURACY_MANY_CLASSES if k and k > 20 else UNDERFIT_TRAIN_ACCURACY
    if acc[-1] >= low:
        return []
    window = min(PLATEAU_WINDOW, len(acc) - 1)
    gain = acc[-1] - acc[-1 - window]
    ev = {"train_acc_last": r(acc[-1]), "gain_last_epochs": r(gain), "window": window, "threshold": low,
          "epochs": len(acc)}
    if gain < PLATEAU_GAIN:
        return [underfitting.finding(
            Severity.WARNING,
            f"Training accuracy is {acc[-1]:.4f} and gained {gain:+.4f} over the last {window} epochs: a plateau "
            f"below {low}.",
            evidence=ev,
            fix=Fix("Give the model more capacity or less regularization, or raise the learning rate"),
            explanation="A model that cannot fit the training data will not generalize better; more regularization "
                        "would widen the problem, not fix it.",
            split="train",
        )]
    return [underfitting.finding(
        Severity.INFO,
        f"Training accuracy is {acc[-1]:.4f} and still rising ({gain:+.4f} over the last {window} epochs): train longer "
        "before judging the gap.",
        evidence=ev,
        fix=Fix("Train for more epochs"),
        explanation="The model is still learning; the curves do not show a plateau yet.",
        split="train",
        cause=None,
    )]


@register("FIT003", "val-better-than-train", requires=("history",), cause="regularization-gap")
def val_better_than_train(inputs):
    """Validation beats training in the later epochs, with lower loss too: dropout/augmentation at work.

    ## What it does
    Fires (info) when, in each of the later half of the epochs (at least 2),
    validation accuracy exceeds training accuracy by `VAL_ABOVE_TRAIN_MARGIN`
    and validation loss is below training loss.

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
    rows = aligned(h.acc, h.val_acc, h.loss, h.val_loss)
    if len(rows) < 2:
        return []
    later = rows[len(rows) // 2:]
    if len(later) < 2:
        later = rows[-2:]
    if not all(va - a > VAL_ABOVE_TRAIN_MARGIN and vl < lo for _, (a, va, lo, vl) in later):
        return []
    _, (a, va, lo, vl) = later[-1]
    ev = {"epochs_checked": [i + 1 for i, _ in later], "acc_last": r(a), "val_acc_last": r(va),
          "loss_last": r(lo), "val_loss_last": r(vl), "margin": VAL_ABOVE_TRAIN_MARGIN}
    if h.train_accuracy_inference_mode:
        ev["train_accuracy_inference_mode"] = [r(x) for x in h.train_accuracy_inference_mode]
    return [val_better_than_train.finding(
        Severity.INFO,
        f"Validation beats training in the last {len(later)} epochs: val accuracy {va:.4f} vs {a:.4f}, val loss "
        f"{vl:.4g} vs {lo:.4g}.",
        evidence=ev,
        fix=Fix("Nothing to fix; compare in inference mode with model.evaluate on a training subset"),
        explanation="Training metrics are measured with dropout and augmentation active and averaged over the "
                    "epoch; validation runs in inference mode. This gap is benign.",
    )]


@register("FIT004", "unstable-loss", requires=("history",), cause="unstable-training")
def unstable_loss(inputs):
    """Training loss oscillates or diverges: the learning rate is likely too high.

    ## What it does
    Counts epochs whose training loss rose more than `LOSS_JUMP` (10%) over
    the previous epoch and fires at `OSCILLATION_JUMPS` (2) such jumps, or
    when the last training loss is `DIVERGENCE_RATIO` (1.5) times its
    minimum.

    ## Why is this bad?
    The epoch-average training loss of a well-tuned run falls almost
    monotonically. Jumps mean optimizer steps overshoot: a learning rate too
    high for the batch size, no normalization, or exploding gradients. The
    validation numbers of such a run reflect where the oscillation stopped,
    not what the model can learn.

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
    loss = [v for v in h.loss if finite(v)]
    if len(loss) < MIN_EPOCHS_FOR_CURVES or len(loss) != len(h.loss):
        return []  # non-finite values: LOG003
    jumps = [i + 1 for i in range(1, len(loss)) if loss[i - 1] > 0 and loss[i] > loss[i - 1] * (1 + LOSS_JUMP)]
    lo = min(loss)
    diverging = lo > 0 and loss[-1] >= DIVERGENCE_RATIO * lo and loss.index(lo) < len(loss) - 1
    if len(jumps) < OSCILLATION_JUMPS and not diverging:
        return []
    what = "diverges" if diverging else "oscillates"
    return [unstable_loss.finding(
        Severity.WARNING,
        f"Training loss {what}: it rose by more than {LOSS_JUMP:.0%} at epochs {jumps or '-'}"
        f"; minimum {lo:.4g} at epoch {loss.index(lo) + 1}, last {loss[-1]:.4g}.",
        evidence={"loss": [r(v) for v in loss], "jump_epochs": jumps, "min_loss": r(lo),
                  "min_epoch": loss.index(lo) + 1, "last_loss": r(loss[-1]), "diverging": diverging,
                  "jump": LOSS_JUMP, "divergence_ratio": DIVERGENCE_RATIO},
        fix=Fix("Lower the learning rate (e.g. 10x) and clip gradients",
                "optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)"),
        explanation="The epoch-average training loss of a stable run falls almost monotonically; rises mean the "
                    "optimizer overshoots.",
        split="train",
    )]
