"""LOG: saturated losses (a softmax driven to its ceiling), near-uniform ones (LOG022), losses below what errors cost
(LOG023), non-finite ones (LOG003, LOG019).

See `cifar_doctor.checks.log` for the loss arithmetic these checks rest on.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import (
    ASSUMED_CLASSES,
    COMMON_CLASS_COUNTS,
    FIRST_LOSS_MARGIN,
    KERAS2_LOSS_CEILING,
    MIN_EPOCHS_FOR_CURVES,
    MIN_ERROR_RATE,
    accuracy_step,
    aligned,
    binary_entropy,
    chance_accuracy_band,
    classes_from_data,
    double_softmax_floor,
    few_optimizer_steps,
    finite,
    first_non_finite,
    fresh_start_possible,
    from_training_start,
    index_unit,
    log_classes,
    named_other_than_cross_entropy,
    per_error_cost,
    printed_index,
    printed_step,
    rounding,
)
from ...registry import register
from . import CHANCE_MIN_EPOCHS, SATURATED_COST, SATURATION_TRAIN_RATIO


def _above_chance(acc: float, k: int) -> bool:
    """An accuracy of the saturated epoch lies above chance (1/K plus `chance_accuracy_band(K)`).

    The scale-bug fingerprint is a model that learned on its training inputs
    (its training accuracy above chance, its errors there costing a few nats)
    or whose arg-max still works on the mismatched inputs, while the softmax
    saturates on the eval inputs. A run at chance in both splits with a huge
    loss (one optimizer step per epoch on a handful of images, a collapsed
    network) shows nothing about the eval pipeline.
    """
    return acc > 1.0 / k + chance_accuracy_band(k)


def _saturated_val(h: Any, rows: list, k: int) -> tuple | None:
    """LOG001 on the val_ metrics, at the epoch with the lowest val_loss."""
    # a cost per error needs errors to divide by: epochs with under `MIN_ERROR_RATE` of them are not read
    # (validation holding one class the model gets right, val_acc 1.0 at val_loss 0.36, read 18 nats)
    costs = [
        (i, per_error_cost(vl, va), per_error_cost(lo, ac), lo, ac, vl, va)
        for i, (lo, ac, vl, va) in rows
        if 1.0 - va >= MIN_ERROR_RATE
    ]
    if not costs:
        return None
    best = min(costs, key=lambda c: c[5])  # the epoch early stopping keeps: lowest val_loss
    i, vcost, tcost, lo, ac, vl, va = best
    if vcost < SATURATED_COST or vcost < SATURATION_TRAIN_RATIO * tcost:
        return None
    if not (_above_chance(va, k) or _above_chance(ac, k)):
        return None  # neither split shows a model that learned anything
    all_v = [c[1] for c in costs]
    if statistics.median(all_v) < SATURATED_COST:
        # a scale mismatch saturates every epoch; one epoch's ratio at a high accuracy can be a single
        # overconfident error on a small split (1 of 44 wine rows: 13.9 nats, the other epochs 2-6)
        return None
    n = len(costs)
    span = f"; {min(all_v):.1f}-{max(all_v):.1f} over {n} epochs" if n > 1 else ""
    message = (
        f"val_loss / (1 - val_acc) = {vcost:.1f} nats per wrong validation prediction at epoch {i + 1} "
        f"(val_loss {vl:.4g}, val_acc {va:.4f}{span}), while training pays {tcost:.1f} nats per error "
        f"(loss {lo:.4g}, acc {ac:.4f})."
    )
    evidence = {
        "epoch": i + 1,
        "val_loss": rounded(vl),
        "val_acc": rounded(va),
        "loss": rounded(lo),
        "acc": rounded(ac),
        "val_cost_per_error": rounded(vcost, 3),
        "train_cost_per_error": rounded(tcost, 3),
        "val_cost_per_error_by_epoch": [rounded(c, 3) for c in all_v],
        "cost_per_error": rounded(vcost, 3),
        "reference_cost_per_error": rounded(tcost, 3),
    }
    return message, evidence, all_v, "val", "val_loss/(1 - val_acc)"


def _saturated_evaluate(h: Any, rows: list, k: int) -> tuple | None:
    """LOG001 on the last printed evaluate() result, against the last epoch.

    With `validation_split` the validation data comes from the (correctly
    scaled) training arrays, and the mismatched test set shows up only in
    `model.evaluate(x_test, y_test)`. The reference is the last epoch's
    validation cost (inference mode, like evaluate) when the log has one,
    else its training cost.
    """
    evals = [e for e in h.evaluations if finite(e.get("loss")) and finite(e.get("accuracy"))]
    if not evals:
        return None
    ev = evals[-1]
    el, ea = ev["loss"], ev["accuracy"]
    if not 0.0 <= ea <= 1.0:
        return None
    ecost = per_error_cost(el, ea)
    ref_rows = aligned(h.val_loss, h.val_acc)
    ref_name = "validation"
    if not ref_rows:
        if few_optimizer_steps(h) is not None:
            return None  # a training-mode reference after too few steps: LOG011 speaks
        ref_rows, ref_name = aligned(h.loss, h.acc), "training"
    if not ref_rows:
        return None
    _, (rl, ra) = ref_rows[-1]
    rcost = per_error_cost(rl, ra)
    if ecost < SATURATED_COST or ecost < SATURATION_TRAIN_RATIO * rcost or not _above_chance(ea, k):
        return None
    message = (
        f"The printed evaluate() result costs loss / (1 - accuracy) = {ecost:.1f} nats per wrong prediction "
        f"(loss {el:.4g}, accuracy {ea:.4f}), while the last epoch's {ref_name} data costs {rcost:.1f} "
        f"(loss {rl:.4g}, accuracy {ra:.4f})."
    )
    evidence = {
        "evaluate_loss": rounded(el),
        "evaluate_accuracy": rounded(ea),
        "evaluate_cost_per_error": rounded(ecost, 3),
        "reference": ref_name,
        "reference_loss": rounded(rl),
        "reference_acc": rounded(ra),
        "cost_per_error": rounded(ecost, 3),
        "reference_cost_per_error": rounded(rcost, 3),
    }
    return message, evidence, [ecost], "test", "evaluate loss/(1 - accuracy)"


# --- LOG001 -----------------------------------------------------------------------
@register("LOG001", "saturated-eval-loss", requires=("history",), cause="eval-input-scale-mismatch")
def saturated_eval_loss(inputs: Inputs) -> list[Finding]:
    """Validation loss per wrong prediction is at the saturation ceiling while training loss is ordinary.

    ## What it does
    Computes `val_loss / (1 - val_acc)` (the mean cost of one wrong validation
    prediction, in nats) at the epoch with the lowest validation loss, and the
    same for training. Fires when the validation cost is at least
    `SATURATED_COST` (12.9 nats, 80% of Keras 2's clipped ceiling of
    -ln(1e-7) = 16.12) and `SATURATION_TRAIN_RATIO` times the training cost,
    and its median over the epochs is at least `SATURATED_COST` too (a scale
    mismatch saturates every epoch; one epoch can be a single overconfident
    error of a small split). Epochs with under `MIN_ERROR_RATE` (2%) validation
    errors are not read: their loss is not the cost of errors. When the validation data is fine (e.g.
    `validation_split` carved it out of
    the training arrays), it does the same with the last printed
    `model.evaluate()` result, against the last epoch's validation cost.

    ## Why is this bad?
    A wrong prediction that cost 16 nats gave the true class a probability of
    about 1e-7: the softmax is saturated. A model that trains normally (a few
    nats per training error) does that on validation data only when the
    validation inputs are on another scale, e.g. `x_train / 255` but raw
    0-255 `x_test`: activations are 255 times larger and the logits explode.
    Overfitting cannot do it at the best validation epoch. Keras 2 clips the
    cost at 16.12, so the numbers sit just under it (the question this tool
    comes from: 15.8-15.9); Keras 3 and tf.keras 2.x do not clip, and the
    same bug gives val_loss in the tens to hundreds. The accuracy gap this produces looks like
    overfitting and is not.

    ## Example
    ```
    Epoch 1/5
    50000/50000 [====] - 454s 9ms/step - loss: 1.7761 - acc: 0.3584 - val_loss: 8.6776 - val_acc: 0.4489
    ```
    8.6776 / (1 - 0.4489) = 15.7 nats per error, against a training 2.8.

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0   # the same preprocessing for every split
    ```
    """
    h = inputs.history
    rows = aligned(h.loss, h.acc, h.val_loss, h.val_acc)
    k = inputs.num_classes or ASSUMED_CLASSES
    hit = _saturated_val(h, rows, k) if rows else None
    if hit is None:
        hit = _saturated_evaluate(h, rows, k)
    if hit is None:
        return []
    message, evidence, all_v, split, what = hit
    med = statistics.median(all_v)
    vcost = evidence["cost_per_error"]
    # clipping is read from the numbers: a cost per error above the ceiling cannot
    # come from clipped probabilities, whatever the log's flavor
    clipped = h.flavor != "keras3" and max(all_v) <= KERAS2_LOSS_CEILING * 1.01
    tcost = evidence["reference_cost_per_error"]
    if clipped:
        explanation = (
            f"Standalone Keras 2 computes cross-entropy from probabilities clipped at 1e-7, so a wrong prediction "
            f"costs at most -ln(1e-7) = {KERAS2_LOSS_CEILING:.2f} nats; {what} ≈ {med:.1f} "
            f"(median; {min(all_v):.1f}-{max(all_v):.1f}) against that {KERAS2_LOSS_CEILING:.2f} ceiling means "
            "every wrong prediction on that split gives the true class a probability of about 1e-7: a saturated "
            "softmax. With training errors costing a few nats, that is the fingerprint of evaluation inputs on "
            "another scale than the training inputs (e.g. x_train / 255 but raw 0-255 x_test), not of "
            "overfitting."
        )
    else:
        explanation = (
            f"Keras 3 and tf.keras 2.x compute cross-entropy from the logits, unclipped: {vcost:.0f} nats per wrong "
            f"prediction (median {med:.0f}) means logits tens to hundreds of units apart, where honest mistakes cost "
            f"a few nats ({tcost:.1f} here) and even standalone Keras 2's clipped loss stops at "
            f"{KERAS2_LOSS_CEILING:.2f}. Such a saturated softmax on evaluation data only is the fingerprint of "
            "evaluation inputs on another scale than the training inputs (e.g. x_train / 255 but raw 0-255 "
            "x_test), not of overfitting."
        )
    evidence.update(
        {
            "keras2_ceiling": rounded(KERAS2_LOSS_CEILING, 3),
            "saturated_cost_threshold": rounded(SATURATED_COST, 3),
            "flavor": h.flavor,
            "clipped": clipped,
        }
    )
    return [
        saturated_eval_loss.finding(
            Severity.ERROR,
            message,
            evidence=evidence,
            fix=Fix(
                "Preprocess validation and test images exactly like the training images",
                'x_test = x_test.astype("float32") / 255.0  # whatever x_train got, x_test gets too',
            ),
            explanation=explanation,
            split=split,
        )
    ]


# --- LOG003 -----------------------------------------------------------------------
@register(
    "LOG003",
    "non-finite-loss",
    requires=("history",),
    cause="numerical-instability",
    superseded_by=("LOG016", "LOG017", "LOG019", "LOG023"),
)
def non_finite_loss(inputs: Inputs) -> list[Finding]:
    """A loss or metric in the log is NaN or infinite.

    ## What it does
    Scans every metric of every epoch for NaN and ±inf and reports the first
    epoch and the metrics affected.

    ## Why is this bad?
    Once the loss is NaN the weights are NaN too: every later number, including
    validation accuracy, is meaningless (Keras then reports a constant accuracy,
    usually that of predicting class 0). The usual causes are a learning rate
    too high, unnormalized inputs, `log(0)` in a custom loss, or NaN in the data.

    ## Example
    ```
    Epoch 4/10
    1563/1563 - 9s - loss: nan - accuracy: 0.1000 - val_loss: nan - val_accuracy: 0.1000
    ```

    ## Use instead
    Lower the learning rate, normalize inputs, add `clipnorm=1.0` to the
    optimizer, check the data with `np.isfinite(x).all()`, and use
    `keras.callbacks.TerminateOnNaN()`.

    LOG016, LOG017, LOG019 and LOG023 supersede it: a loss with no floor, a loss
    that grew until it overflowed while accuracy never moved, a loss that was
    never finite and one below what the accuracy allows are read for what drove them.
    """
    h = inputs.history
    # metric -> first 0-based position with a computed NaN/inf
    bad = {name: i for name in h.metrics if (i := first_non_finite(h, name)) is not None}
    if not bad:
        return []
    at = min(bad.values())
    first = printed_index(h, at)
    names = sorted(bad, key=lambda k: (bad[k], k))
    unit = index_unit(h)
    return [
        non_finite_loss.finding(
            Severity.ERROR,
            f"{', '.join(names)} became NaN or infinite (first at {unit} {first}; the log ends at {unit} "
            f"{printed_index(h, h.epochs - 1)}).",
            evidence={
                "first_epoch": first,
                "unit": unit,
                "metrics": {k: printed_index(h, bad[k]) for k in names},
                "values_at_first": {k: str(h.metrics[k][at]) for k in names if len(h.metrics[k]) > at},
            },
            fix=Fix(
                "Lower the learning rate and clip gradients; check inputs for NaN",
                "optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)\n"
                "assert np.isfinite(x_train).all() and np.isfinite(x_test).all()",
            ),
            explanation="After a NaN loss the weights are NaN, so the accuracies that follow carry no information.",
        )
    ]


# --- LOG019 -----------------------------------------------------------------------
#: Training accuracy rising this much above its first value shows a network that learns despite a
#: non-finite loss (a loss that is NaN in what is printed, not in the gradients): LOG019 then stays
#: silent. NaN weights predict one class, so their accuracy is frozen to the last digit; a rise as large
#: as the widest chance band (`chance_accuracy_band`: 0.05 up to 6 classes, 0.03 for 10) is not noise.
LEARNING_ACCURACY_RISE = 0.05


@register(
    "LOG019", "loss-non-finite-from-the-start", requires=("history",), cause="not-learning", superseded_by=("LOG016",)
)
def loss_non_finite_from_the_start(inputs: Inputs) -> list[Finding]:
    """The training loss is NaN or infinite from the first record on: the network never learned.

    ## What it does
    Fires when the training loss is non-finite at the first epoch (or step)
    the log holds, and no training accuracy rises `LEARNING_ACCURACY_RISE`
    above its first value afterwards. Supersedes LOG003, which reads the same
    NaN as a training run that diverged.

    ## Why is this bad?
    An epoch's loss is the mean over its batches, so a NaN at the first epoch
    means the weights turned NaN before one pass over the data: the network
    never held anything it learned. From a log alone the reason cannot be
    told apart, and a learning rate is only one of them: NaN or infinite
    values in the inputs, a loss that does not fit the output layer or the
    labels (categorical cross-entropy on one unit, a sigmoid unit with
    integer class labels, labels out of range), or a step so large it
    diverged at once. On the run corpus NaN from the first epoch came from
    each of these (`bench/corpus`), so the verdict names what is known (the
    network learned nothing) rather than one of them.

    ## Example
    ```
    Epoch 1/8
    37/37 - 1s - accuracy: 0.5057 - loss: nan - val_accuracy: 0.4954 - val_loss: nan
    Epoch 2/8
    37/37 - 0s - accuracy: 0.5057 - loss: nan - val_accuracy: 0.4954 - val_loss: nan
    ```

    ## Use instead
    ```python
    assert np.isfinite(x_train).all() and np.isfinite(x_test).all()
    print(model.output_shape, model.loss, np.unique(y_train)[:10])  # units, loss and labels must agree
    optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)
    ```
    """
    h = inputs.history
    loss = h.metrics.get("loss") or []
    if first_non_finite(h, "loss") != 0:
        return []
    acc = [v for v in (h.acc or []) if finite(v)]
    rise = max(acc) - acc[0] if acc else 0.0
    if rise >= LEARNING_ACCURACY_RISE:
        return []
    unit = index_unit(h)
    first = printed_index(h, 0)
    shown = "NaN" if math.isnan(loss[0]) else f"{loss[0]:+}"
    finite_later = next((i for i, v in enumerate(loss) if finite(v)), None)
    evidence: dict[str, Any] = {
        "first_epoch": first,
        "unit": unit,
        "loss_at_first": shown,
        "records": len(loss),
        "first_finite_loss": printed_index(h, finite_later),
        "accuracy_rise": rounded(rise) if acc else None,
        "learning_accuracy_rise": LEARNING_ACCURACY_RISE,
    }
    return [
        loss_non_finite_from_the_start.finding(
            Severity.ERROR,
            f"The training loss was already {shown} at {unit} {first}, the first in the log"
            + (f", and training accuracy never rose (by {rise:.3f} at most)." if acc else "."),
            evidence=evidence,
            fix=Fix(
                "Find what makes the first batches' loss non-finite: the inputs, the output layer against the "
                "loss and labels, then the learning rate",
                "assert np.isfinite(x_train).all() and np.isfinite(x_test).all()\n"
                "print(model.output_shape, model.loss, np.unique(y_train)[:10])  # units, loss and labels agree?\n"
                "optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)",
            ),
            explanation=(
                f"The weights were NaN before the log's first {unit} ended (an epoch's loss averages its batches), "
                "so the network learned nothing. A log alone cannot tell why: NaN in the inputs, a "
                "loss that does not fit the output layer or the labels, or a learning rate that diverged at "
                "once. --data checks the inputs and labels; --model checks the output layer against the loss."
            ),
        )
    ]


#: Training accuracy at least this far above chance: the model ranks classes well...
FLOOR_ACCURACY_ABOVE_CHANCE = 0.4


#: ... while its loss stays between the double-softmax floor (1% under it for
#: rounding) and this fraction of the way from the floor up to ln K. A second
#: softmax over probabilities gives every sample a loss of at least the floor
#: (1.46 for K = 10) and about 1.55 at 90% accuracy; a single softmax at that
#: accuracy scores 0.3-0.4, and label smoothing 0.1 floors it near 0.5.
FLOOR_BAND = 0.35


@register("LOG013", "loss-at-double-softmax-floor", requires=("history",), cause="output-loss-mismatch")
def loss_at_double_softmax_floor(inputs: Inputs) -> list[Finding]:
    """Accuracy is high but the loss cannot fall below the floor of a softmax applied twice.

    ## What it does
    For K known, or the common count (2, 10, 100, 1000) that fits (a count
    whose ln K the first epoch's loss exceeds by more than `FIRST_LOSS_MARGIN`
    does not: a fresh softmax starts near ln K), computes the floor -ln(e / (e + K - 1)) (1.46 for K = 10). Fires when, in the last
    `MIN_EPOCHS_FOR_CURVES` epochs, training accuracy is at least
    `FLOOR_ACCURACY_ABOVE_CHANCE` above 1/K while the training loss never goes
    below the floor and stays within `FLOOR_BAND` of the way from the floor to
    ln K.

    ## Why is this bad?
    A softmax output compiled with `from_logits=True` (or a `Softmax` layer
    after `activation="softmax"`) makes the loss apply softmax to
    probabilities in [0, 1]: the best it can give the true class is
    e / (e + K - 1) (0.23 for K = 10), so the loss is stuck above 1.46
    however well the model ranks the classes, gradients are small and
    training crawls. tf.keras 2.x and Keras 3 on JAX or PyTorch do this;
    Keras 3 on TensorFlow silently repairs the `from_logits=True` case.

    ## Example
    ```
    Epoch 20/20 ... - loss: 1.5512 - accuracy: 0.9012 - val_loss: 1.5723 - val_accuracy: 0.8711
    ```

    ## Use instead
    ```python
    outputs = layers.Dense(10, activation="softmax")(x)
    model.compile(loss="categorical_crossentropy", ...)            # from_logits=False with a softmax
    # or: outputs = layers.Dense(10)(x); loss=CategoricalCrossentropy(from_logits=True)
    ```
    """
    h = inputs.history
    rows = aligned(h.loss, h.acc)
    if len(rows) < MIN_EPOCHS_FOR_CURVES:
        return []
    tail = rows[-MIN_EPOCHS_FOR_CURVES:]
    all_losses = [lo for _, (lo, _) in rows]
    # never below the floor, and accuracies high enough, whatever values printed coarser than a console (for
    # which the 1% below the floor allows) were rounded from
    lowest = min(all_losses) - rounding(printed_step(all_losses))
    slack = rounding(accuracy_step(h))
    known = classes_from_data(inputs)
    for k in [known] if known else COMMON_CLASS_COUNTS:
        floor, ln_k = double_softmax_floor(k), math.log(k)
        top = floor + FLOOR_BAND * (ln_k - floor)
        if lowest < 0.99 * floor:
            continue
        if not known and all_losses[0] > (1 + FIRST_LOSS_MARGIN) * ln_k:
            continue  # a fresh softmax over K classes, applied once or twice, starts near ln K: not this K
        if all(ac - slack >= 1.0 / k + FLOOR_ACCURACY_ABOVE_CHANCE and lo <= top for _, (lo, ac) in tail):
            break
    else:
        return []
    lo, ac = tail[-1][1]
    return [
        loss_at_double_softmax_floor.finding(
            Severity.WARNING,
            f"Training accuracy reaches {ac:.4f} but the loss stays at {min(all_losses):.4f}-{lo:.4f}, never below "
            f"{floor:.4f} = -ln(e/(e+{k - 1})), the least a softmax applied twice can score over {k} classes.",
            evidence={
                "classes": k,
                "classes_source": "given" if known else "fitted to the loss floor",
                "floor": rounded(floor),
                "ln_k": rounded(ln_k),
                "loss": [rounded(v) for v in all_losses],
                "acc_last": rounded(ac),
                "band": FLOOR_BAND,
            },
            fix=Fix(
                "Apply softmax once: from_logits=False with a softmax output, or a linear output with from_logits=True",
                'outputs = layers.Dense(10, activation="softmax")(x)\n'
                'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])',
            ),
            explanation=(
                f"A model that ranks classes this well would score a loss far below {floor:.2f} with one softmax; a "
                f"softmax of probabilities cannot give the true class more than {math.exp(-floor):.2f}, so the loss sits "
                "on that floor and its gradients are weak. The loss curve (and any gap read from it) reflects the "
                "double softmax, not generalization."
            ),
            split="train",
        )
    ]


# --- LOG014 -----------------------------------------------------------------------
@register(
    "LOG014", "saturated-training-loss", requires=("history",), cause="input-not-normalized", superseded_by=("LOG015",)
)
def saturated_training_loss(inputs: Inputs) -> list[Finding]:
    """Every training error costs a saturated softmax's loss while the model learns a little: inputs on a huge scale.

    ## What it does
    Computes the training `loss / (1 - accuracy)` (the mean cost of one wrong
    training prediction) at the last epoch, when at least `MIN_ERROR_RATE` of
    the training predictions are wrong. Fires when it is at least
    `SATURATED_COST` (12.9 nats) while the training accuracy is above chance
    (1/K + `chance_accuracy_band(K)`; K as known or fitted, else 10). At
    chance, LOG008 speaks instead. Silent on a log from the start of training
    whose first epoch can be a fresh softmax's (`fresh_start_possible`, LOG021's
    reading): huge inputs saturate the softmax from the first step, so a run
    that began near ln K saturated later, from its steps.

    ## Why is this bad?
    A wrong prediction costing 13 nats or more gives the true class a
    probability below 3e-6: the softmax is saturated on the training images
    themselves. A network initialized for inputs of order 1 does that when it
    is fed raw 0-255 pixels (or worse): logits are hundreds of units apart,
    the loss starts in the hundreds and the model learns slowly and
    erratically; the gap to validation then says nothing about overfitting.
    Motivated by a Dense network on raw CIFAR-10 pixels: loss 644 in the first
    epoch, still 12 (16.6 nats per error) at accuracy 0.27 after ten.

    ## Example
    ```
    Epoch 10/10
    47/47 - 1s - accuracy: 0.2710 - loss: 12.1380 - val_accuracy: 0.2480 - val_loss: 10.0220
    ```

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    # or layers.Rescaling(1.0 / 255) as the model's first layer
    ```
    """
    h = inputs.history
    rows = aligned(h.loss, h.acc)
    if len(rows) < CHANCE_MIN_EPOCHS:
        return []
    k, _ = log_classes(inputs, trust_log=False)
    k = k or ASSUMED_CLASSES
    i, (lo, ac) = rows[-1]
    if 1.0 - ac < MIN_ERROR_RATE:
        return []  # too few training errors for a cost per error: the loss is then the correct answers' doubt
    cost = per_error_cost(lo, ac)
    if cost < SATURATED_COST or ac <= 1.0 / k + chance_accuracy_band(k):
        return []
    first = rows[0][1][0]
    if rows[0][0] == 0 and from_training_start(h) and fresh_start_possible(first, rows[0][1][1], inputs.num_classes):
        # began as a fresh softmax (LOG021's reading): inputs on a huge scale saturate it from the first step,
        # so a loss that climbed there later came from the steps (a wine MLP's slow SGD at 97.8% ends at 0.30,
        # the right answers' doubt; a learning rate that blew up from 0.56 to 5e12)
        return []
    return [
        saturated_training_loss.finding(
            Severity.WARNING,
            f"Training errors cost {cost:.1f} nats each at epoch {i + 1} (loss {lo:.4g}, accuracy {ac:.4f}; the first "
            f"epoch's loss was {first:.4g}).",
            evidence={
                "cost_per_error": rounded(cost, 3),
                "loss": [rounded(v) for _, (v, _) in rows],
                "acc": [rounded(a) for _, (_, a) in rows],
                "saturated_cost_threshold": rounded(SATURATED_COST, 3),
                "classes": k,
            },
            fix=Fix(
                "Scale the inputs to [0, 1] in every split (or use layers.Rescaling(1./255))",
                'x_train = x_train.astype("float32") / 255.0\nx_test = x_test.astype("float32") / 255.0',
            ),
            explanation=(
                f"An error costing {cost:.0f} nats gives the true class a probability of about e^-{cost:.0f}: the "
                "softmax is saturated on the training images themselves, which a network initialized for inputs of "
                "order 1 does when fed raw 0-255 pixels (or weights blown up by too large steps). Training is then "
                "slow and erratic, and its gap to validation is not overfitting."
            ),
            split="train",
        )
    ]


# --- LOG022 -----------------------------------------------------------------------
#: Validation accuracy at least the training accuracy minus this, at the epoch judged: the network's
#: arg-max works on the validation inputs as well as on its training inputs. Inputs on a smaller scale
#: keep it (a ReLU network's logits scale with its inputs, their order with them), so what lags is not
#: what the network answers but how sure it is; an overfitted or shifted split loses accuracy instead.
FLAT_ACCURACY_SLACK = 0.05

#: The last validation loss at least this fraction of ln K: outputs within a quarter of the uniform
#: guess's loss, as a network gives whose logits shrank with its inputs (a scale bug's runs of the corpus
#: and draws 2-12 end at 0.79-1.0 ln K while their arg-max is right 77-96% of the time).
FLAT_UNIFORM_FRACTION = 0.75

#: No validation loss above (1 + this) x ln K: near-uniform outputs cost at most ln K on a right answer and
#: little more on a wrong one; 5% above allows the first epoch's random initial logits. A loss above it is
#: confidently wrong answers, which LOG001 reads.
FLAT_CEILING_TOLERANCE = 0.05

#: The last validation loss at least this many times the most a calibrated classifier at that accuracy can
#: lose (`calibrated_loss_ceiling`): half again is far past what a split's noise moves (a calibrated
#: model's loss sits below the ceiling, not at it), and the corpus's scale bugs read 1.7-7.3 times it.
FLAT_CALIBRATION_FACTOR = 1.5

#: The last training loss at most the validation loss divided by this: at no better accuracy, the same
#: network is far surer of its training answers (the corpus's scale bugs: 2.0-5.6 times).
FLAT_TRAIN_RATIO = 1.5

#: Class counts a log's K is read as when none is given: a uniform guess over two outputs (p = 0.5) is
#: also what a per-output binary accuracy of one-hot labels shows beside ln 2 (LOG009's reading), and
#: the calibrated ceiling of two classes lies too near ln 2 to tell a doubtful model from a flat one.
FLAT_READ_CLASS_COUNTS = tuple(k for k in COMMON_CLASS_COUNTS if k >= 10)


def calibrated_loss_ceiling(acc: float, k: int) -> float:
    """The largest mean cross-entropy a calibrated K-class classifier of accuracy `acc` can have.

    Calibrated, its mean loss is the mean entropy of its outputs. An output whose top class gets c has
    at most the entropy of c beside (1 - c) spread evenly over the other K - 1 classes, a concave
    function of c; the top probabilities average `acc`, so by Jensen's inequality the mean entropy is at
    most that function at `acc`.
    """
    a = min(max(acc, 1.0 / k), 1.0)
    return binary_entropy(a) + (1.0 - a) * math.log(k - 1)


def _flat_k(val_loss: list[float], known: int | None) -> int | None:
    """The K whose ln K bounds every validation loss from above (`FLAT_CEILING_TOLERANCE`) while the last
    lies within `FLAT_UNIFORM_FRACTION` of it: the known K, else one of `FLAT_READ_CLASS_COUNTS`."""
    for k in [known] if known else FLAT_READ_CLASS_COUNTS:
        ln_k = math.log(k)
        if max(val_loss) <= (1.0 + FLAT_CEILING_TOLERANCE) * ln_k and val_loss[-1] >= FLAT_UNIFORM_FRACTION * ln_k:
            return k
    return None


@register("LOG022", "eval-outputs-near-uniform", requires=("history",), cause="eval-input-scale-mismatch")
def eval_outputs_near_uniform(inputs: Inputs) -> list[Finding]:
    """Validation answers are as often right as training's, but with near-uniform outputs: the eval inputs are smaller.

    ## What it does
    Reads the last epoch that has all four numbers, in a log of at least `MIN_EPOCHS_FOR_CURVES`
    epochs whose loss is a categorical cross-entropy. Fires when validation accuracy is at least the
    training accuracy minus `FLAT_ACCURACY_SLACK`, every validation loss stays at or under ln K
    (`FLAT_CEILING_TOLERANCE`) and the last is at least `FLAT_UNIFORM_FRACTION` of it, that last loss is
    at least `FLAT_CALIBRATION_FACTOR` times the most a calibrated classifier at the validation accuracy
    can lose (`calibrated_loss_ceiling`), and the training loss is at most the validation loss divided
    by `FLAT_TRAIN_RATIO`. K is the known count, or one of 10, 100 and 1000 that the validation losses
    fit (`FLAT_READ_CLASS_COUNTS`); a K a console inferred from its first batch's loss is not used.

    ## Why is this bad?
    A ReLU network's logits scale with its inputs. Validation images on a smaller scale than the training
    images (training pixels left at 0-16 or 0-255, validation pixels divided) give logits shrunk by the
    same factor: the arg-max survives, so validation accuracy looks fine, but the softmax flattens towards
    1/K and the validation loss sits near ln K however well the network learned. It is LOG001's scale bug
    seen from the other side (there the eval inputs are larger and the softmax saturates). Overfitting
    cannot produce it: an overfitted network loses accuracy and is confidently wrong, above ln K.

    ## Example
    ```
    Epoch 12/12
    19/19 - 0s - categorical_accuracy: 0.8500 - loss: 0.5089 - val_categorical_accuracy: 0.8665 - val_loss: 2.0453
    ```
    2.0453 is 0.89 ln 10 at 87% validation accuracy, where a calibrated classifier loses at most 0.69.

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 16.0
    x_test = x_test.astype("float32") / 16.0   # one preprocessing for every split
    ```
    """
    h = inputs.history
    named = inputs.effective_loss
    if named_other_than_cross_entropy(named) or (named is not None and "binary" in named):
        return []  # a per-output binary loss and accuracy read as two classes each (LOG009)
    rows = aligned(h.loss, h.acc, h.val_loss, h.val_acc)
    vl = [v for v in h.val_loss if finite(v)]
    if len(rows) < MIN_EPOCHS_FOR_CURVES or len(vl) != len(h.val_loss):
        return []
    known = classes_from_data(inputs)  # not a console's first-batch K: a binary cross-entropy starts at ln 2
    k = _flat_k(vl, known)
    if k is None:
        return []
    i, (lo, ac, vlo, va) = rows[-1]
    ceiling = calibrated_loss_ceiling(va, k)
    if va < ac - FLAT_ACCURACY_SLACK or vlo < FLAT_CALIBRATION_FACTOR * ceiling or lo > vlo / FLAT_TRAIN_RATIO:
        return []
    ln_k = math.log(k)
    return [
        eval_outputs_near_uniform.finding(
            Severity.ERROR,
            f"At {index_unit(h)} {printed_index(h, i)} validation accuracy is {va:.4f} (training {ac:.4f}) but "
            f"val_loss is {vlo:.4g}, "
            f"{vlo / ln_k:.2f} ln {k}: a calibrated classifier right {va:.0%} of the time loses at most "
            f"{ceiling:.3g}, and the training loss is {lo:.4g}. The validation outputs are near uniform while "
            "their arg-max is right.",
            evidence={
                "epoch": printed_index(h, i),
                "classes": k,
                "classes_source": "given" if known else "fitted to val_loss",
                "ln_k": rounded(ln_k),
                "val_loss": [rounded(v) for v in vl],
                "val_acc_last": rounded(va),
                "train_acc_last": rounded(ac),
                "train_loss_last": rounded(lo),
                "calibrated_ceiling": rounded(ceiling),
                "calibration_factor": FLAT_CALIBRATION_FACTOR,
                "train_ratio": FLAT_TRAIN_RATIO,
                "uniform_fraction": FLAT_UNIFORM_FRACTION,
            },
            fix=Fix(
                "Preprocess validation and test images exactly like the training images",
                'x_train = x_train.astype("float32") / 255.0\n'
                'x_test = x_test.astype("float32") / 255.0  # the same scale for every split',
            ),
            explanation=(
                f"A ReLU network's logits scale with its inputs: validation inputs on a smaller scale than the "
                f"training inputs keep the arg-max (accuracy {va:.0%}) but flatten the softmax towards 1/{k}, so "
                f"the validation loss stays near ln {k} = {ln_k:.3f} while training's falls to {lo:.3g}. Check "
                "that every split gets the same scaling (e.g. training pixels left raw, validation pixels "
                "divided); overfitting would lose accuracy and push val_loss above ln K instead."
            ),
            split="val",
        )
    ]


# --- LOG023 -----------------------------------------------------------------------
#: Every wrong answer costs a cross-entropy at least ln 2: the arg-max picked another class, which got at
#: least the probability the true class got, so the true class got at most 1/2 (a sigmoid's threshold is
#: 1/2 too). A mean loss under (1 - accuracy) x ln 2 is then no cross-entropy of the outputs the accuracy
#: was read from. Validation is weighted by nothing; training can carry `class_weight` or
#: `sample_weight`, which scale the cost of the errors they down-weight, so a training epoch must lie under
#: this fraction of the floor (a weight of 1/2 on the commonest class of a 2:1 split, as
#: scikit-learn's "balanced" weights give it, halves its errors' cost at most).
ERROR_FLOOR_TRAIN_FRACTION = 0.5


def _below_error_floor(loss: list[float], acc: list[float], fraction: float) -> tuple[int, float, float] | None:
    """The first epoch (index, loss, accuracy) whose loss lies under `fraction` x (1 - accuracy) x ln 2 by more
    than the printing of either can explain (`rounding` of the `printed_step` of both series: a loss of 0 alone
    reads as printed in whole units), or None."""
    slack = rounding(printed_step(loss, acc))
    for i, (lo, ac) in aligned(loss, acc):
        if 0.0 < ac < 1.0 and lo + slack < fraction * (1.0 - ac - slack) * math.log(2):
            return i, lo, ac
    return None


@register(
    "LOG023", "loss-below-error-floor", requires=("history",), cause="output-loss-mismatch", superseded_by=("LOG015",)
)
def loss_below_error_floor(inputs: Inputs) -> list[Finding]:
    """The loss is lower than the wrong answers alone must cost: it is not the cross-entropy of the outputs scored.

    ## What it does
    Reads each epoch's loss beside its accuracy (a classifier's: an accuracy above 0). Fires when a
    validation loss lies under (1 - val_acc) x ln 2, or a training loss under
    `ERROR_FLOOR_TRAIN_FRACTION` of (1 - acc) x ln 2 (class and sample weights act in training), by
    more than the printing explains, or when a loss is negative. A loss named as anything but a
    cross-entropy is not read; LOG015 (accuracy that does not apply) supersedes it.

    ## Why is this bad?
    A wrong arg-max gives the true class at most 1/2, so each wrong answer costs at least ln 2 nats and
    the mean loss is at least (1 - accuracy) x ln 2, for one output or many, softmax or sigmoid. A loss
    below that (0.0000 at accuracy 0.49) measures something other than the predictions the accuracy
    counts: a single output unit under `categorical_crossentropy` (its one probability is always 1, its
    loss always 0), one softmax unit on binary labels, labels outside 0-1 under `binary_crossentropy`
    (a negative loss). Such a network learns nothing the loss could teach, and the curves that follow,
    often NaN, describe no generalization.

    ## Example
    ```
    Epoch 1/11
    19/19 - 1s - accuracy: 0.4935 - loss: 0.0000e+00 - val_accuracy: 0.4926 - val_loss: 0.0000e+00
    ```

    ## Use instead
    ```python
    outputs = layers.Dense(1, activation="sigmoid")(h)      # one unit: binary_crossentropy, labels 0/1
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    # or Dense(num_classes, activation="softmax") with sparse_categorical_crossentropy
    ```
    """
    h = inputs.history
    named = inputs.effective_loss
    if named_other_than_cross_entropy(named):
        return []
    hit = None
    for split, loss, acc, fraction in (
        ("val", h.val_loss, h.val_acc, 1.0),
        ("train", h.loss, h.acc, ERROR_FLOOR_TRAIN_FRACTION),
    ):
        if not acc or not any(finite(a) and a > 0 for a in acc):
            continue  # no accuracy, or never right: maybe a regression's mean squared error beside it
        negative = next(((i, lo) for i, (lo,) in aligned(loss) if lo < 0), None)
        below = _below_error_floor(loss, acc, fraction)
        if negative is not None or below is not None:
            hit = (split, negative, below, fraction)
            break
    if hit is None:
        return []
    split, negative, below, fraction = hit
    prefix = "val_" if split == "val" else ""
    unit = index_unit(h)
    if negative is not None:
        i, lo = negative
        what = f"{prefix}loss is {lo:.4g} at {unit} {printed_index(h, i)}: a cross-entropy is never negative."
        evidence: dict[str, Any] = {"epoch": printed_index(h, i), "loss": rounded(lo)}
    else:
        assert below is not None
        i, lo, ac = below
        error_floor = (1.0 - ac) * math.log(2)
        what = (
            f"{prefix}loss is {lo:.4g} at {unit} {printed_index(h, i)} with {prefix}accuracy {ac:.4f}: the "
            f"{1.0 - ac:.1%} wrong answers alone cost at least {error_floor:.4g} (ln 2 each)"
            + (
                f", and at least {fraction * error_floor:.4g} under any class weights of 1/2 or more."
                if fraction < 1.0
                else "."
            )
        )
        evidence = {
            "epoch": printed_index(h, i),
            "loss": rounded(lo),
            "accuracy": rounded(ac),
            "error_floor": rounded(error_floor),
            "floor_fraction": fraction,
        }
    return [
        loss_below_error_floor.finding(
            Severity.ERROR,
            what + " The loss is not the cross-entropy of the outputs the accuracy is read from.",
            evidence={"split": split, **evidence, "loss_name": named},
            fix=Fix(
                "Match the output layer, the labels and the loss",
                "# binary labels 0/1: one sigmoid unit\n"
                'outputs = layers.Dense(1, activation="sigmoid")(h)\n'
                'model.compile(loss="binary_crossentropy", metrics=["accuracy"])\n'
                "# K classes, integer labels: K softmax units\n"
                'outputs = layers.Dense(num_classes, activation="softmax")(h)\n'
                'model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
            ),
            explanation=(
                "A wrong arg-max gives the true class at most 1/2, so every wrong answer costs at least ln 2 nats "
                "and the mean cross-entropy is at least (1 - accuracy) x ln 2. A loss below it does not score the "
                "predictions: one output unit under categorical_crossentropy (its single probability is 1, its loss "
                "0), one softmax unit on binary labels, labels outside 0-1 under binary_crossentropy. The network "
                "gets no signal to learn from, so neither its gap nor its curves say anything about generalization."
            ),
            split=split,
        )
    ]
