"""LOG: what the loss and accuracy numbers of a training log say about the pipeline.

These checks read a `History` only (console log, CSVLogger CSV, History JSON
or a live Keras history). They rest on how Keras computes its numbers:

- Standalone Keras 2 (<= 2.2) computed cross-entropy from probabilities
  clipped at 1e-7 (`K.epsilon()`), so one sample costs at most
  -ln(1e-7) = 16.12 nats.
- Keras 3 and tf.keras 2.x (`tf_keras`, TF 2.x) compute it from the logits
  behind a softmax output (tf.keras: `backend._get_logits`), unclipped: a
  confidently wrong sample can cost hundreds of nats. A Keras 2-style log
  ("[====]" bars) therefore does not tell which regime applies; the numbers
  do (a cost per error above 16.12 cannot come from clipped probabilities).
- A wrong prediction of a model that learned something costs a few nats
  (-ln of the probability it gives the true class); the loss of a model that
  predicts every class with probability 1/K is ln K (2.3026 for K = 10).

So `val_loss / (1 - val_acc)`, an upper bound on the mean cost of one wrong
validation prediction (right ones cost a little, too), tells a saturated
softmax from honest mistakes without the data or the model.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from ..findings import Fix, Severity
from ..registry import register
from ..measure.history import (
    CHANCE_LOSS_TOLERANCE,
    COMMON_CLASS_COUNTS,
    aligned,
    binary_entropy,
    chance_accuracy_band,
    chance_k,
    classes_from_data,
    finite,
    index_unit,
    known_classes,
    log_classes,
    printed_index,
    r,
)

#: -ln(1e-7): the most one sample can cost under Keras 2's clipped cross-entropy.
KERAS2_LOSS_CEILING = -math.log(1e-7)

#: A mean cost per wrong validation prediction at or above this many nats is
#: saturation: 80% of the Keras 2 ceiling (12.9 nats) means the true class gets
#: a probability near e^-12.9 = 2.5e-6 on essentially every error. A model at
#: its best validation epoch, overfitted or not, pays 2-5 nats per error on
#: CIFAR-sized problems; under Keras 3 (unclipped) a real scale bug pays 20 to
#: several hundred, so one threshold serves both regimes.
SATURATED_COST = 0.8 * KERAS2_LOSS_CEILING

#: The validation cost per error must also be this many times the training
#: cost per error: when training itself saturates (raw 0-255 inputs in both
#: splits, a diverging run) the cause is not an eval-only mismatch.
SATURATION_TRAIN_RATIO = 3.0

#: Error rates below this are not used as divisors (val_acc > 0.98 leaves too
#: few errors for a per-error cost to mean anything).
MIN_ERROR_RATE = 0.02

#: Epochs at chance needed before calling a run "not learning": epoch 1 alone
#: can sit near chance while a slow optimizer warms up.
CHANCE_MIN_EPOCHS = 2

#: For `val-accuracy-at-chance`, training accuracy must have risen this far
#: above chance: a model that learned nothing is `loss-at-chance` instead.
TRAIN_ABOVE_CHANCE = 0.15

#: Validation accuracies within this of each other count as the same printed value.
CONSTANT_ACCURACY_SPREAD = 1e-4

#: The same validation accuracy in this many consecutive epochs, while the weights
#: change, is a model giving every validation image the same answer (the accuracy
#: is then that class's share of the validation set: 0.112, 0.112, 0.112, 0.112,
#: 0.112, 0.085, 0.085 for test images divided by 255 twice). Predictions that
#: wander near chance repeat a value on 1,000 images with probability ~0.03 per
#: pair of epochs, three times in a row ~0.001.
CONSTANT_ACCURACY_RUN = 3

#: evaluate() vs the last epoch's val_ accuracy: Keras evaluates the same data
#: the same way (inference mode) for both, so on the same data they agree to
#: the printed digits (the seed: 0.5321 and 0.5321). More than this apart
#: means a different pipeline or different data.
EVAL_ACCURACY_TOLERANCE = 0.05

#: The same for the loss, as a ratio (loss is more sensitive to a few
#: confident errors than accuracy).
EVAL_LOSS_RATIO = 1.5

#: Curve checks (overfitting, underfitting, unstable loss, chance level) need
#: at least this many epochs: a minimum followed by a rise needs three points.
MIN_EPOCHS_FOR_CURVES = 3


def per_error_cost(loss: float, acc: float) -> float:
    """loss / (1 - acc): an upper bound on the mean cost of one wrong prediction, in nats."""
    return loss / max(1.0 - acc, MIN_ERROR_RATE)


# --- LOG001 -----------------------------------------------------------------------
@register("LOG001", "saturated-eval-loss", requires=("history",), cause="eval-input-scale-mismatch")
def saturated_eval_loss(inputs):
    """Validation loss per wrong prediction is at the saturation ceiling while training loss is ordinary.

    ## What it does
    Computes `val_loss / (1 - val_acc)` (the mean cost of one wrong validation
    prediction, in nats) at the epoch with the lowest validation loss, and the
    same for training. Fires when the validation cost is at least
    `SATURATED_COST` (12.9 nats, 80% of Keras 2's clipped ceiling of
    -ln(1e-7) = 16.12) and `SATURATION_TRAIN_RATIO` times the training cost.
    When the validation data is fine (e.g. `validation_split` carved it out of
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
    k = known_classes(inputs) or 10
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
    evidence.update({
        "keras2_ceiling": r(KERAS2_LOSS_CEILING, 3),
        "saturated_cost_threshold": r(SATURATED_COST, 3),
        "flavor": h.flavor, "clipped": clipped,
    })
    return [saturated_eval_loss.finding(
        Severity.ERROR,
        message,
        evidence=evidence,
        fix=Fix(
            "Preprocess validation and test images exactly like the training images",
            'x_test = x_test.astype("float32") / 255.0  # whatever x_train got, x_test gets too',
        ),
        explanation=explanation,
        split=split,
    )]


def _above_chance(acc: float, k: int) -> bool:
    """The saturated epoch's accuracy lies above chance (1/K plus `chance_accuracy_band(K)`).

    The scale-bug fingerprint is a model whose arg-max still works on the
    mismatched inputs while its softmax saturates. A run at chance with a huge
    loss (one optimizer step per epoch on a handful of images, a collapsed
    network) shows nothing about the eval pipeline; LOG004 speaks for
    validation at chance.
    """
    return acc > 1.0 / k + chance_accuracy_band(k)


def _saturated_val(h: Any, rows: list, k: int) -> tuple | None:
    """LOG001 on the val_ metrics, at the epoch with the lowest val_loss."""
    costs = [(i, per_error_cost(vl, va), per_error_cost(lo, ac), lo, ac, vl, va) for i, (lo, ac, vl, va) in rows]
    best = min(costs, key=lambda c: c[5])  # the epoch early stopping keeps: lowest val_loss
    i, vcost, tcost, lo, ac, vl, va = best
    if vcost < SATURATED_COST or vcost < SATURATION_TRAIN_RATIO * tcost or not _above_chance(va, k):
        return None
    all_v = [c[1] for c in costs]
    n = len(costs)
    span = f"; {min(all_v):.1f}-{max(all_v):.1f} over {n} epochs" if n > 1 else ""
    message = (
        f"val_loss / (1 - val_acc) = {vcost:.1f} nats per wrong validation prediction at epoch {i + 1} "
        f"(val_loss {vl:.4g}, val_acc {va:.4f}{span}), while training pays {tcost:.1f} nats per error "
        f"(loss {lo:.4g}, acc {ac:.4f})."
    )
    evidence = {
        "epoch": i + 1,
        "val_loss": r(vl), "val_acc": r(va), "loss": r(lo), "acc": r(ac),
        "val_cost_per_error": r(vcost, 3), "train_cost_per_error": r(tcost, 3),
        "val_cost_per_error_by_epoch": [r(c, 3) for c in all_v],
        "cost_per_error": r(vcost, 3), "reference_cost_per_error": r(tcost, 3),
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
        "evaluate_loss": r(el), "evaluate_accuracy": r(ea), "evaluate_cost_per_error": r(ecost, 3),
        "reference": ref_name, "reference_loss": r(rl), "reference_acc": r(ra),
        "cost_per_error": r(ecost, 3), "reference_cost_per_error": r(rcost, 3),
    }
    return message, evidence, [ecost], "test", "evaluate loss/(1 - accuracy)"


# --- LOG002 -----------------------------------------------------------------------
@register("LOG002", "loss-at-chance", requires=("history",), cause="not-learning")
def loss_at_chance(inputs):
    """Training loss stays at ln K and accuracy at 1/K: the network learns nothing.

    ## What it does
    Looks at the last epochs (at least `CHANCE_MIN_EPOCHS`). Fires when the
    training loss is within `CHANCE_LOSS_TOLERANCE` (5%) of ln K and the
    training accuracy within a few points of 1/K in every one of them. K is
    `--classes`, what the log tells, or else the common class count (2, 10,
    100, 1000) that fits both numbers.

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
    known = known_classes(inputs)
    loss = h.loss
    acc = h.acc
    n = len(loss)
    if n < CHANCE_MIN_EPOCHS:
        return []
    tail = list(range(max(0, n - MIN_EPOCHS_FOR_CURVES), n))
    ks = set()
    for i in tail:
        if not finite(loss[i]):
            return []
        a = acc[i] if i < len(acc) and finite(acc[i]) else None
        k = chance_k(loss[i], a, known)
        if k is None:
            return []
        ks.add(k)
    if len(ks) != 1:
        return []
    k = ks.pop()
    last_acc = acc[-1] if acc and finite(acc[-1]) else None
    acc_txt = f" and accuracy {last_acc:.4f} (1/K = {1 / k:.4f})" if last_acc is not None else ""
    return [loss_at_chance.finding(
        Severity.ERROR,
        f"Training loss stays at {loss[-1]:.4f} ≈ ln {k} = {math.log(k):.4f}{acc_txt} for the last "
        f"{len(tail)} epochs.",
        evidence={
            "classes": k, "classes_source": "given" if known else "fitted to loss and accuracy",
            "ln_k": r(math.log(k)), "loss_tail": [r(loss[i]) for i in tail],
            "acc_tail": [r(acc[i]) for i in tail if i < len(acc)],
            "tolerance": CHANCE_LOSS_TOLERANCE,
        },
        fix=Fix("Make the network learn: normalize inputs, use a sane learning rate, check the label order",
                'x_train = x_train.astype("float32") / 255.0\n'
                "model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=[\"accuracy\"])"),
        explanation=(
            f"A {k}-class model that predicts 1/{k} for every class has loss ln {k} = {math.log(k):.4f}; a model "
            "that learned anything drops below it within an epoch. The training curve is flat at chance, so the "
            "validation numbers say nothing about generalization yet."
        ),
        split="train",
    )]


# --- LOG003 -----------------------------------------------------------------------
@register("LOG003", "non-finite-loss", requires=("history",), cause="numerical-instability")
def non_finite_loss(inputs):
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
    """
    h = inputs.history
    gaps = getattr(h, "gaps", None) or {}
    bad: dict[str, int] = {}  # metric -> first 0-based position with a computed NaN/inf
    for name, values in h.metrics.items():
        missing = set(gaps.get(name, ()))  # no value in the file (CSVLogger NA), not a NaN loss
        for i, v in enumerate(values):
            if i not in missing and isinstance(v, (int, float)) and not math.isfinite(v):
                bad[name] = i
                break
    if not bad:
        return []
    at = min(bad.values())
    first = printed_index(h, at)
    names = sorted(bad, key=lambda k: (bad[k], k))
    unit = index_unit(h)
    return [non_finite_loss.finding(
        Severity.ERROR,
        f"{', '.join(names)} became NaN or infinite (first at {unit} {first}; the log ends at {unit} "
        f"{printed_index(h, h.epochs - 1)}).",
        evidence={"first_epoch": first, "unit": unit, "metrics": {k: printed_index(h, bad[k]) for k in names},
                  "values_at_first": {k: str(h.metrics[k][at]) for k in names if len(h.metrics[k]) > at}},
        fix=Fix("Lower the learning rate and clip gradients; check inputs for NaN",
                "optimizer = keras.optimizers.Adam(learning_rate=1e-4, clipnorm=1.0)\n"
                "assert np.isfinite(x_train).all() and np.isfinite(x_test).all()"),
        explanation="After a NaN loss the weights are NaN, so the accuracies that follow carry no information.",
    )]


def val_at_chance(h: Any, k: int) -> bool:
    """Every epoch's validation accuracy lies in the chance band of K classes."""
    vals = [v for v in h.val_acc if finite(v)]
    band = chance_accuracy_band(k)
    return bool(vals) and all(abs(v - 1.0 / k) <= band for v in vals)


# --- LOG004 -----------------------------------------------------------------------
@register("LOG004", "val-accuracy-at-chance", requires=("history",), cause="eval-labels-misaligned")
def val_accuracy_at_chance(inputs):
    """Validation accuracy stays at 1/K while training accuracy rises.

    ## What it does
    Fires when every epoch's validation accuracy lies within a few points of
    1/K (K from `--classes`, the log or the model) while training accuracy has
    risen at least `TRAIN_ABOVE_CHANCE` above chance, over at least
    `CHANCE_MIN_EPOCHS` epochs. With K unknown it assumes CIFAR-10's 10 classes
    and reports a warning instead of an error. When each validation error
    costs at least `SATURATED_COST` nats (and `SATURATION_TRAIN_RATIO` times a
    training error), the softmax is saturated on validation inputs only: it
    then supports `eval-input-scale-mismatch` (misaligned labels cost a few
    nats per error, about 3 in the shuffled-labels fixtures). When the
    validation accuracy repeats the same value in `CONSTANT_ACCURACY_RUN` (3)
    consecutive epochs, the model answers one class for every validation
    image: that supports `eval-distribution-shift` (validation inputs without
    signal for the network, inference-mode BatchNorm statistics that do not fit).

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
    known = known_classes(inputs)
    k = known or 10
    rows = aligned(h.acc, h.val_acc)
    if len(rows) < CHANCE_MIN_EPOCHS or not val_at_chance(h, k):
        return []
    band = chance_accuracy_band(k)
    vals = [va for _, (_, va) in rows]
    last_acc = rows[-1][1][0]
    if last_acc < 1.0 / k + TRAIN_ABOVE_CHANCE:
        return []
    sev = Severity.ERROR if known else Severity.WARNING
    assumed = "" if known else " (assuming 10 classes; pass --classes K if not)"
    message = (f"Validation accuracy stays at {min(vals):.4f}-{max(vals):.4f} ≈ 1/{k}{assumed} over {len(vals)} "
               f"epochs while training accuracy reaches {last_acc:.4f}.")
    evidence = {"classes": k, "classes_assumed": not known, "chance": r(1.0 / k), "band": band,
                "val_acc": [r(v) for v in vals], "train_acc_last": r(last_acc)}
    costs = aligned(h.loss, h.acc, h.val_loss, h.val_acc)
    if costs:
        _, (lo, ac, vl, va) = costs[-1]
        vcost, tcost = per_error_cost(vl, va), per_error_cost(lo, ac)
        evidence.update(val_cost_per_error=r(vcost, 3), train_cost_per_error=r(tcost, 3))
        if vcost >= SATURATED_COST and vcost >= SATURATION_TRAIN_RATIO * tcost:
            # misaligned labels cost a few nats per error (the model is unsure on unseen images); a saturated
            # softmax on validation only is the scale fingerprint of LOG001, at chance (every image one class)
            return [val_accuracy_at_chance.finding(
                sev, message + f" Each validation error costs {vcost:.1f} nats against {tcost:.1f} in training.",
                evidence=evidence, cause="eval-input-scale-mismatch", split="val",
                fix=Fix("Preprocess validation and test images exactly like the training images",
                        'x_test = x_test.astype("float32") / 255.0  # whatever x_train got, x_test gets too'),
                explanation=(
                    "Validation at chance with a saturated softmax (an error costing ≥ "
                    f"{SATURATED_COST:.1f} nats gives the true class a probability below 1e-5) while training "
                    "errors cost a few nats: the network is pushed into one confident answer by validation inputs "
                    "on another scale than the training inputs (e.g. raw 0-255 test images into a model trained on "
                    "/255 images with BatchNormalization), not by wrong labels and not by overfitting."
                ),
            )]
    if _longest_constant_run(vals) >= CONSTANT_ACCURACY_RUN:
        # the same validation accuracy every epoch while the weights change: one answer for every validation
        # image. Misaligned labels give an accuracy that wanders around 1/K; a frozen answer is inference-mode
        # behaviour that differs from training (BatchNorm statistics) or validation inputs that carry no signal.
        return [val_accuracy_at_chance.finding(
            sev, message + f" It repeats the same value in {_longest_constant_run(vals)} consecutive epochs.",
            evidence={**evidence, "constant": True, "longest_constant_run": _longest_constant_run(vals)},
            cause="eval-distribution-shift", split="val",
            fix=Fix("Evaluate the training images in inference mode and compare validation inputs with training inputs",
                    "model.evaluate(x_train[:1000], y_train[:1000])  # inference mode, training images\n"
                    "print(x_train.mean(), x_train.std(), x_val.mean(), x_val.std())"),
            explanation=(
                "A validation accuracy that does not move while the weights change means the model gives every "
                "validation image the same answer. Misaligned labels would leave accuracy wandering around chance; "
                "a frozen answer comes from inference mode behaving unlike training (BatchNormalization moving "
                "statistics that do not fit the data, e.g. a frozen pretrained BatchNorm) or from validation "
                "inputs that carry no signal for the network. It is not overfitting."
            ),
        )]
    return [val_accuracy_at_chance.finding(
        sev,
        message,
        evidence=evidence,
        fix=Fix("Keep validation labels aligned with their images, and preprocess them like training images",
                "idx = np.random.default_rng(0).permutation(len(x))\nx, y = x[idx], y[idx]  # never shuffle x and y separately"),
        explanation=(
            "Overfitting lowers validation accuracy gradually from a peak above chance; accuracy at chance from the "
            "first epoch while the model learns the training set means its predictions are unrelated to the "
            "validation labels: misaligned or wrong labels, or validation inputs so far off that every image "
            "looks alike (e.g. divided by 255 twice)."
        ),
        split="val",
    )]


def _longest_constant_run(vals: list[float]) -> int:
    """The most consecutive values equal within `CONSTANT_ACCURACY_SPREAD`."""
    best = run = 1 if vals else 0
    for a, b in zip(vals, vals[1:]):
        run = run + 1 if abs(a - b) <= CONSTANT_ACCURACY_SPREAD else 1
        best = max(best, run)
    return best


# --- LOG005 -----------------------------------------------------------------------
@register("LOG005", "evaluate-differs-from-validation", requires=("history",), cause="eval-distribution-shift")
def evaluate_differs_from_validation(inputs):
    """The printed evaluate() result is far from the last epoch's validation metrics.

    ## What it does
    Compares the last `model.evaluate()` result found in the log (the printed
    `loss: …` / `accuracy: …`, `[loss, acc]`, or Keras' evaluate progress bar)
    with the last epoch's `val_loss` and `val_accuracy`. Fires when accuracy
    differs by more than `EVAL_ACCURACY_TOLERANCE` (0.05) or loss by more than a
    factor `EVAL_LOSS_RATIO` (1.5).

    When validation keeps up with the training accuracy to the last epoch
    (within `VAL_TRACKS_TRAIN_MARGIN`) while `evaluate()` falls far below
    both, the validation data behaves like training data: the finding then
    supports `train-test-leakage` (validation drawn from the training arrays).

    ## Why is this bad?
    Keras computes `val_*` and `evaluate()` the same way, in inference mode, so
    on the same data they agree to the printed digits (the seed question:
    accuracy 0.5321 in both). A large difference means the data passed to
    `evaluate()` went through a different pipeline (another scaling, another
    split, other labels) than `validation_data`, and one of the two numbers is
    not measuring what you think.

    ## Example
    ```
    Epoch 10/10 ... - val_loss: 0.8211 - val_accuracy: 0.7180
    [2.3071, 0.1002]
    ```

    ## Use instead
    Build validation and test inputs with one function, and evaluate the very
    arrays you validated on to compare.
    """
    h = inputs.history
    evals = [e for e in h.evaluations if "accuracy" in e or "loss" in e]
    if not evals:
        return []
    ev = evals[-1]
    diffs: dict[str, Any] = {}
    val_acc, val_loss = h.val_acc, h.val_loss
    if "accuracy" in ev and val_acc and finite(val_acc[-1]) and finite(ev["accuracy"]):
        d = abs(ev["accuracy"] - val_acc[-1])
        if d > EVAL_ACCURACY_TOLERANCE:
            diffs["accuracy"] = (ev["accuracy"], val_acc[-1])
    if "loss" in ev and val_loss and finite(val_loss[-1]) and finite(ev["loss"]) and ev["loss"] > 0 and val_loss[-1] > 0:
        ratio = max(ev["loss"], val_loss[-1]) / min(ev["loss"], val_loss[-1])
        if ratio > EVAL_LOSS_RATIO:
            diffs["loss"] = (ev["loss"], val_loss[-1])
    if not diffs:
        return []
    parts = [f"evaluate() {k} {a:.4g} vs last val_{k} {b:.4g}" for k, (a, b) in diffs.items()]
    message = "The printed evaluate() result differs from the last epoch's validation metrics: " + "; ".join(parts) + "."
    evidence = {"evaluate": {k: r(v) for k, v in ev.items()},
                "last_val": {"loss": r(val_loss[-1]) if val_loss else None,
                             "accuracy": r(val_acc[-1]) if val_acc else None},
                "accuracy_tolerance": EVAL_ACCURACY_TOLERANCE, "loss_ratio": EVAL_LOSS_RATIO}
    leak = _validation_like_training(h, ev)
    if leak is not None:
        evidence["last_train_accuracy"] = r(leak)
        return [evaluate_differs_from_validation.finding(
            Severity.WARNING,
            message + f" Validation scores like the training data ({val_acc[-1]:.4f} vs {leak:.4f} in training); "
            f"evaluate() is {leak - ev['accuracy']:.2f} below both.",
            evidence=evidence, cause="train-test-leakage", split="val",
            fix=Fix("Validate on held-out data that never enters training",
                    "x_tr, x_val, y_tr, y_val = train_test_split(x_train, y_train, test_size=0.1, stratify=y_train)\n"
                    "model.fit(x_tr, y_tr, validation_data=(x_val, y_val))"),
            explanation=(
                "A held-out validation set scores below the training data once a model fits anything particular to "
                "its training images; this one keeps up with training to the last epoch while the evaluated test "
                "set, which the model has not seen, falls far below both. The validation data behaves like "
                "training data: it is (partly) the training images, so val_accuracy measures memorization and "
                "evaluate() shows the real generalization."
            ),
        )]
    return [evaluate_differs_from_validation.finding(
        Severity.WARNING,
        message,
        evidence=evidence,
        fix=Fix("Evaluate the same arrays, preprocessed the same way, as validation_data",
                "x_val_ready = preprocess(x_test)  # one function for every split\n"
                "model.fit(..., validation_data=(x_val_ready, y_test))\nmodel.evaluate(x_val_ready, y_test)"),
        explanation=(
            "Keras computes val_* and evaluate() identically, in inference mode; on the same data they agree. "
            "A gap this large means the evaluated data went through a different pipeline or is another split."
        ),
        split="test",
    )]


#: Validation counts as scoring like the training data when its last accuracy
#: is at most this far below the last (training-mode) training accuracy.
#: Keras' running training accuracy lags the end-of-epoch model by about the
#: epoch's improvement (0.01-0.04 late in a run), so a validation set of
#: training images sits at or above it; a held-out one falls below it as soon
#: as the model fits anything particular to its training images.
VAL_TRACKS_TRAIN_MARGIN = 0.02


def _validation_like_training(h: Any, ev: dict[str, float]) -> float | None:
    """The last training accuracy when validation keeps up with it while evaluate() falls far below both.

    Not when evaluate()'s errors cost a saturated softmax's loss: that is the
    test set on another scale (LOG001), whatever validation does.
    """
    rows = aligned(h.acc, h.val_acc)
    ea, el = ev.get("accuracy"), ev.get("loss")
    if not rows or not finite(ea):
        return None
    if finite(el) and per_error_cost(el, ea) >= SATURATED_COST:
        return None
    _, (ta, va) = rows[-1]
    if va >= ta - VAL_TRACKS_TRAIN_MARGIN and ea < ta - EVAL_ACCURACY_TOLERANCE and ea < va - EVAL_ACCURACY_TOLERANCE:
        return ta
    return None


# --- LOG006 -----------------------------------------------------------------------
@register("LOG006", "too-few-epochs", requires=("history",), cause="insufficient-evidence")
def too_few_epochs(inputs):
    """The history is too short for the learning-curve checks.

    ## What it does
    Reports when the history holds fewer than `MIN_EPOCHS_FOR_CURVES` (3)
    complete epochs, has no validation metrics, or no training loss or
    accuracy (a custom loop that printed only its test accuracy), and says
    what the curve checks (FIT001-FIT004, LOG002, LOG004) would need.

    ## Why is this bad?
    Overfitting is a trend (validation loss reaching a minimum, then rising),
    and a trend needs points. One epoch can still show a scale bug (LOG001
    works on a single epoch), but it cannot show overfitting or a plateau.

    ## Example
    ```
    Epoch 1/1
    1563/1563 - 9s - accuracy: 0.45 - loss: 1.52 - val_accuracy: 0.53 - val_loss: 1.31
    ```

    ## Use instead
    Train for at least 3 epochs with `validation_data=` or `validation_split=`
    and pass the whole log.
    """
    h = inputs.history
    n = h.epochs
    needs = []
    if n < MIN_EPOCHS_FOR_CURVES:
        needs.append(f"at least {MIN_EPOCHS_FOR_CURVES} epochs (the log has {n})")
    if not h.val_loss and not h.val_acc:
        needs.append("validation metrics (fit with validation_data= or validation_split=)")
    if not h.loss and not h.acc:
        needs.append("training loss or accuracy (a gap needs both sides)")
    if not needs:
        return []
    trunc = " The last epoch was cut off before its end and was not counted." if h.truncated else ""
    return [too_few_epochs.finding(
        Severity.INFO,
        f"The history is too thin to judge the learning curves: it needs {' and '.join(needs)}.{trunc}",
        evidence={"epochs": n, "min_epochs": MIN_EPOCHS_FOR_CURVES, "has_validation": bool(h.val_loss or h.val_acc),
                  "has_training": bool(h.loss or h.acc), "truncated": h.truncated},
        fix=Fix(f"Train at least {MIN_EPOCHS_FOR_CURVES} epochs with validation data and pass the whole log"),
        explanation="Overfitting, underfitting and instability are trends over epochs; this log has too few points.",
    )]


# --- LOG007 -----------------------------------------------------------------------
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

#: ... while the last training loss is at most this fraction of ln K: the
#: model did learn on its training inputs (1.84 for K = 10).
TRAIN_LEARNED_FRACTION = 0.8


def pinned_at_chance(series: list[float], known: int | None, accuracy: list[float] | None = None) -> int | None:
    """The K (known, else a common count) whose ln K the validation losses stay at.

    Every value within `UNIFORM_EVAL_TOLERANCE` of ln K; or, when the
    validation accuracies stay below 1/K + `NO_LEARNING_ACCURACY_MARGIN` in
    every epoch, within `UNIFORM_EVAL_TOLERANCE_AT_CHANCE`.
    """
    accs = [a for a in accuracy or [] if finite(a)]
    for k in ([known] if known else COMMON_CLASS_COUNTS):
        ln_k = math.log(k)
        at_chance = bool(accs) and len(accs) == len(series) and max(accs) < 1.0 / k + NO_LEARNING_ACCURACY_MARGIN
        tol = UNIFORM_EVAL_TOLERANCE_AT_CHANCE if at_chance else UNIFORM_EVAL_TOLERANCE
        if series and all(abs(v - ln_k) <= tol * ln_k for v in series):
            return k
    return None


@register("LOG007", "eval-loss-at-chance", requires=("history",), cause="eval-input-scale-mismatch")
def eval_loss_at_chance(inputs):
    """Validation loss is pinned at ln K while the training loss falls well below it.

    ## What it does
    Fires when every epoch's `val_loss` lies within `UNIFORM_EVAL_TOLERANCE`
    (2%) of ln K, or within `UNIFORM_EVAL_TOLERANCE_AT_CHANCE` (5%) with
    validation accuracy near chance throughout, over at least
    `CHANCE_MIN_EPOCHS` epochs, while the last
    training loss is at most `TRAIN_LEARNED_FRACTION` (0.8) of ln K. K is the
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
    known = known_classes(inputs)
    k = pinned_at_chance(vl, known, h.val_acc)
    if k is None or loss[-1] > TRAIN_LEARNED_FRACTION * math.log(k):
        return []
    ln_k = math.log(k)
    val_acc = [v for v in h.val_acc if finite(v)]
    acc_txt = f", val accuracy {min(val_acc):.3f}-{max(val_acc):.3f}" if val_acc else ""
    return [eval_loss_at_chance.finding(
        Severity.ERROR,
        f"val_loss stays at {min(vl):.4f}-{max(vl):.4f} ≈ ln {k} = {ln_k:.4f} over {len(vl)} epochs{acc_txt}, "
        f"while the training loss falls to {loss[-1]:.4g}.",
        evidence={"classes": k, "classes_source": "given" if known else "fitted to val_loss",
                  "ln_k": r(ln_k), "val_loss": [r(v) for v in vl], "train_loss_last": r(loss[-1]),
                  "val_acc": [r(v) for v in val_acc], "tolerance": UNIFORM_EVAL_TOLERANCE,
                  "train_learned_fraction": TRAIN_LEARNED_FRACTION},
        fix=Fix("Preprocess validation and test images exactly like the training images",
                "x_train = x_train.astype(\"float32\") / 255.0\n"
                "x_test = x_test.astype(\"float32\") / 255.0  # the same for every split"),
        explanation=(
            f"A validation loss of ln {k} is an output that gives each class 1/{k}: the network sees no signal in "
            "the validation inputs although it learned its training inputs. That happens when the validation "
            "images are on a far smaller scale than the training images (e.g. training on raw 0-255 pixels, "
            "validating on /255 pixels that look black to it) or are blank; overfitting would make the model "
            "confidently wrong and push val_loss above ln K instead."
        ),
        split="val",
    )]


# --- LOG008 -----------------------------------------------------------------------
#: Training loss above (1 + this) x ln K after the first epoch: worse than the
#: uniform guess that a correctly wired softmax reaches by zeroing its last layer.
ABOVE_CHANCE_MARGIN = 0.10

#: ... with training accuracy below 1/K + this in each of those epochs (no learning).
NO_LEARNING_ACCURACY_MARGIN = 0.10

#: ... and the loss not trending down: it fell by less than this fraction from
#: the second epoch to the last (a slow but healthy many-class run falls faster).
NO_PROGRESS_DROP = 0.10


@register("LOG008", "loss-above-chance", requires=("history",), cause="output-loss-mismatch")
def loss_above_chance(inputs):
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
    output layer when the model is given).

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
    k = k or 10
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
        return [loss_above_chance.finding(
            Severity.INFO,
            f"The training loss stays above ln 10 = {math.log(10):.3f} ({min(losses):.3f}-{max(losses):.3f}) while "
            f"accuracy reaches {max(accs):.3f}: with 10 classes the loss cannot even reach a uniform guess (an "
            "output the loss does not expect); with 100 or more it is an ordinary start. The number of classes "
            "is not known.",
            evidence={"classes": None, "ln_10": r(math.log(10)), "loss": [r(v) for v in losses],
                      "acc": [r(v) for v in accs], "margin": ABOVE_CHANCE_MARGIN},
            fix=Fix("Pass --classes K (or classes=K), or the model with --model"),
            explanation="Whether a loss above ln 10 is a fault depends on the number of classes K: the loss of a "
                        "uniform guess is ln K.",
            cause="insufficient-evidence", split="train",
        )]
    note = " (assuming 10 classes; pass --classes K if not)" if assumed else ""
    message = (f"Training loss stays at {min(losses):.3f}-{max(losses):.3f}, above ln {k} = {ln_k:.3f}{note}, with "
               f"accuracy {min(accs):.3f}-{max(accs):.3f} over epochs {later[0][0] + 1}-{later[-1][0] + 1}.")
    evidence = {"classes": k, "classes_source": "assumed" if assumed else source, "ln_k": r(ln_k),
                "loss": [r(v) for v in losses], "acc": [r(v) for v in accs], "cost_per_error": r(cost, 3),
                "saturated_cost_threshold": r(SATURATED_COST, 3),
                "margin": ABOVE_CHANCE_MARGIN, "no_progress_drop": NO_PROGRESS_DROP}
    severity = Severity.WARNING if assumed else Severity.ERROR
    if cost >= SATURATED_COST:
        # every training error costs what a saturated softmax charges: the outputs are confidently wrong
        # on the training inputs themselves (inputs on a huge scale, weights blown up), not mis-wired
        return [loss_above_chance.finding(
            severity, message + f" Each training error costs {cost:.1f} nats: a saturated softmax.",
            evidence=evidence, cause="not-learning", split="train",
            fix=Fix("Normalize the inputs and lower the learning rate",
                    'x_train = x_train.astype("float32") / 255.0\n'
                    'model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=..., metrics=["accuracy"])'),
            explanation=(
                f"Training errors costing {cost:.0f} nats each (Keras 2's clipped ceiling is "
                f"{KERAS2_LOSS_CEILING:.1f}) mean the softmax is saturated on the training images: logits tens of "
                "units apart, from inputs on a huge scale (raw 0-255 pixels into an unnormalized network) or "
                "weights thrown far by too large steps. The network is not learning; there is no generalization "
                "gap to read yet."
            ),
        )]
    return [loss_above_chance.finding(
        severity,
        message,
        evidence=evidence,
        fix=Fix("Give the loss what it expects: softmax probabilities, or from_logits=True for a linear output",
                'outputs = layers.Dense(10, activation="softmax")(x)\n'
                "# or: loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
        explanation=(
            f"A {k}-class softmax trained with cross-entropy reaches ln {k} = {ln_k:.2f} just by predicting 1/{k} "
            "for every class; staying above it, without learning, means the loss is not getting the outputs it "
            "expects (logits fed to a loss with from_logits=False clip to 1e-7 and pass no gradient). The "
            "validation numbers of such a run measure the wiring, not generalization."
        ),
        split="train",
    )]


# --- LOG009 -----------------------------------------------------------------------
#: The first epoch's accuracy lies within this of 1 - 1/K for an integer K >= 3:
#: binary accuracy of K one-hot outputs that all predict "no" is exactly
#: 1 - 1/K (0.9000 for K = 10; the re-enactments print 0.8999 and 0.9000).
PRIOR_ACCURACY_TOLERANCE = 0.001

#: ... and 1 - 1/K must stand apart from its neighbours 1 - 1/(K +- 1) by at
#: least this many tolerances, else every high accuracy matches some K
#: (0.9733 is 1 - 1/37 within 0.0003): K up to 21.
PRIOR_SPACING_FACTOR = 2.0

#: ... and its loss within this fraction of H(1/K), the binary cross-entropy of
#: K outputs that each predict the class prior 1/K (0.325 nats for K = 10).
PRIOR_LOSS_TOLERANCE = 0.15

#: Over the run the accuracy moves less than this: a per-output binary accuracy
#: barely moves while the model learns (0.8999 -> 0.9078 in five epochs, or
#: 0.9000 flat), where a categorical accuracy starting at 1 - 1/K (an easy
#: 10-class task at 0.90 after one epoch) climbs on.
FLAT_ACCURACY_RANGE = 0.02


@register("LOG009", "binary-accuracy-on-one-hot", requires=("history",), cause="label-format-mismatch")
def binary_accuracy_on_one_hot(inputs):
    """Accuracy sits at 1 - 1/K from the first epoch with a loss of H(1/K): per-output binary accuracy.

    ## What it does
    Reads the first epoch's validation accuracy and loss (training, when there
    is no validation). Fires when the accuracy is within
    `PRIOR_ACCURACY_TOLERANCE` of 1 - 1/K for some K >= 3, the loss within
    `PRIOR_LOSS_TOLERANCE` of the binary entropy H(1/K), and, over at least
    `MIN_EPOCHS_FOR_CURVES` epochs, the accuracy moves less than
    `FLAT_ACCURACY_RANGE`.

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
    if k < 3 or (known and known != k) or abs(a0 - (1 - 1.0 / k)) > PRIOR_ACCURACY_TOLERANCE:
        return []
    if 1.0 / (k * (k + 1)) < PRIOR_SPACING_FACTOR * PRIOR_ACCURACY_TOLERANCE:
        return []  # 1 - 1/K and 1 - 1/(K+1) too close: any accuracy this high matches some K
    prior_loss = binary_entropy(1.0 / k)
    if abs(l0 - prior_loss) > PRIOR_LOSS_TOLERANCE * prior_loss:
        return []
    accs = [a for _, (_, a) in rows]
    losses = [lo for _, (lo, _) in rows]
    if max(accs) - min(accs) >= FLAT_ACCURACY_RANGE:
        return []
    name = "val_" if split == "val" else ""
    return [binary_accuracy_on_one_hot.finding(
        Severity.WARNING,
        f"{name}accuracy starts at {a0:.4f} ≈ 1 - 1/{k} and stays within {min(accs):.4f}-{max(accs):.4f} while "
        f"{name}loss falls from {losses[0]:.4f} (H(1/{k}) = {prior_loss:.4f}) to {losses[-1]:.4f}.",
        evidence={"classes_implied": k, "accuracy_first": r(a0), "prior_accuracy": r(1 - 1.0 / k),
                  "loss_first": r(l0), "prior_binary_entropy": r(prior_loss), "accuracy": [r(a) for a in accs],
                  "loss": [r(v) for v in losses], "split": split},
        fix=Fix("Use softmax with categorical_crossentropy for one-hot single-label classes",
                'outputs = layers.Dense(10, activation="softmax")(x)\n'
                'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])'),
        explanation=(
            f"{1 - 1.0 / k:.4f} is what {k} yes/no outputs score by answering 'no' to all of them, and "
            f"{prior_loss:.3f} nats is their binary cross-entropy when each predicts the prior 1/{k}: the run "
            "scores one-hot labels output by output (binary_crossentropy with binary accuracy). That accuracy "
            "is inflated and barely moves as the model learns; the class accuracy is far lower."
        ),
        split=split,
    )]


# --- LOG010 -----------------------------------------------------------------------
#: Validation accuracy below this fraction of chance (1/K) in every epoch: the
#: predictions anti-correlate with the validation labels, which one class
#: distribution cannot produce (a model that learned nothing still scores 1/K).
#: At K = 10: below 0.05. The re-enacted unshuffled `validation_split` printed
#: exactly 0 for five epochs: validation held classes 8 and 9, training never did.
BELOW_CHANCE_FRACTION = 0.5


@register("LOG010", "val-accuracy-below-chance", requires=("history",), cause="eval-distribution-shift")
def val_accuracy_below_chance(inputs):
    """Validation accuracy stays far below chance while training accuracy rises.

    ## What it does
    Fires when every epoch's validation accuracy is below
    `BELOW_CHANCE_FRACTION` x 1/K (over at least `CHANCE_MIN_EPOCHS` epochs)
    while training accuracy ends at least `TRAIN_ABOVE_CHANCE` above 1/K.
    With K unknown, 10 is assumed and the finding is a warning.

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
    known = known_classes(inputs)
    k = known or 10
    vals = [va for _, (_, va) in rows]
    last_acc = rows[-1][1][0]
    if max(vals) >= BELOW_CHANCE_FRACTION / k or last_acc < 1.0 / k + TRAIN_ABOVE_CHANCE:
        return []
    assumed = "" if known else " (assuming 10 classes; pass --classes K if not)"
    return [val_accuracy_below_chance.finding(
        Severity.ERROR if known else Severity.WARNING,
        f"Validation accuracy stays at {min(vals):.4f}-{max(vals):.4f}, below half of chance (1/{k}){assumed}, "
        f"over {len(vals)} epochs while training accuracy reaches {last_acc:.4f}.",
        evidence={"classes": k, "classes_assumed": not known, "chance": r(1.0 / k),
                  "threshold": r(BELOW_CHANCE_FRACTION / k), "val_acc": [r(v) for v in vals],
                  "train_acc_last": r(last_acc)},
        fix=Fix("Shuffle images and labels together before validation_split, or validate on a stratified split",
                "idx = np.random.default_rng(0).permutation(len(x))\nx, y = x[idx], y[idx]\n"
                "model.fit(x, y, validation_split=0.2)"),
        explanation=(
            "Accuracy far below chance, every epoch, means the model's predictions never match the validation "
            "labels: the validation data holds classes (or a class mix) that training did not, typically "
            "validation_split on class-sorted data. It is not overfitting: that lowers validation accuracy "
            "from a peak above chance."
        ),
        split="val",
    )]


# --- LOG011 -----------------------------------------------------------------------
#: Keras' BatchNormalization updates its moving mean and variance with momentum
#: 0.99: after n optimizer steps their initial values (mean 0, variance 1)
#: still weigh 0.99^n, more than 5% below 300 steps. A Keras progress bar
#: counts steps or samples, so bar total x epochs bounds the steps from above.
BN_SETTLING_STEPS = 300


def few_optimizer_steps(h: Any) -> int | None:
    """The most optimizer steps the run can have taken, when that is at most `BN_SETTLING_STEPS`."""
    total = getattr(h, "bar_total", None)
    if not total or total <= 0 or h.epochs <= 0:
        return None
    bound = int(total) * h.epochs
    return bound if bound <= BN_SETTLING_STEPS else None


@register("LOG011", "evaluate-after-few-steps", requires=("history",), cause="regularization-gap")
def evaluate_after_few_steps(inputs):
    """evaluate() is far below the training accuracy after too few steps for BatchNorm statistics to settle.

    ## What it does
    For a run without validation metrics, compares the last printed
    `model.evaluate()` accuracy with the last training accuracy. Fires when it
    is more than `EVAL_ACCURACY_TOLERANCE` lower and the run can have taken
    at most `BN_SETTLING_STEPS` optimizer steps (progress-bar total x epochs).

    ## Why is this bad?
    Training metrics are computed in training mode: BatchNormalization
    normalizes with each batch's own statistics and Dropout is active.
    `evaluate()` runs in inference mode, with the moving statistics, which
    move only 1% per step (momentum 0.99): after a few dozen steps they are
    still near their initial values, so the same images, perfectly fitted in
    training, are classified from badly normalized activations. The gap is a
    train/inference-mode gap, not overfitting and not a data bug. Motivated by
    the thread where a ResNet fitted 3 batches to 100% and `evaluate()` on the
    same data gave 33%.

    ## Example
    ```
    Epoch 5/5
    3/3 [==============================] - 0s 53ms/step - loss: 1.1921e-07 - acc: 1.0000
    [10.745396614074707, 0.3333333432674408]
    ```

    ## Use instead
    Train for more steps (more data or epochs), lower the BatchNormalization
    momentum (`momentum=0.9`), and compare like with like: evaluate the
    training images with `model.evaluate` too.
    """
    h = inputs.history
    if h.val_acc or h.val_loss:
        return []
    steps = few_optimizer_steps(h)
    evals = [e for e in h.evaluations if finite(e.get("accuracy"))]
    acc = [a for a in h.acc if finite(a)]
    if steps is None or not evals or not acc:
        return []
    ea = evals[-1]["accuracy"]
    if not ea < acc[-1] - EVAL_ACCURACY_TOLERANCE:
        return []
    weight = 0.99 ** steps
    return [evaluate_after_few_steps.finding(
        Severity.WARNING,
        f"evaluate() gives accuracy {ea:.4f} against {acc[-1]:.4f} in training, after at most {steps} optimizer "
        f"steps ({h.bar_total} per epoch x {h.epochs} epochs).",
        evidence={"evaluate": {k: r(v) for k, v in evals[-1].items() if finite(v)}, "train_acc_last": r(acc[-1]),
                  "max_steps": steps, "bar_total": h.bar_total, "epochs": h.epochs,
                  "initial_statistics_weight": r(weight, 3), "settling_steps": BN_SETTLING_STEPS},
        fix=Fix("Train for more steps or lower BatchNormalization's momentum; evaluate training images to compare",
                "layers.BatchNormalization(momentum=0.9)\nmodel.evaluate(x_train, y_train)  # inference mode, same data"),
        explanation=(
            f"Training accuracy is measured in training mode (batch statistics, dropout on); evaluate() uses "
            f"BatchNormalization's moving statistics, which after {steps} steps at momentum 0.99 still carry "
            f"{weight:.0%} of their initial values. A model can fit its training batches perfectly and still "
            "misclassify them in inference mode: a train/inference-mode gap, not overfitting or a data bug."
        ),
        split="test",
    )]


# --- LOG012 -----------------------------------------------------------------------
#: In every epoch (at least `MIN_EPOCHS_FOR_CURVES`), validation loss is at
#: least this fraction below the training loss ...
OPPOSITE_LOSS_MARGIN = 0.10

#: ... while validation accuracy is at least this far below training accuracy.
OPPOSITE_ACCURACY_MARGIN = 0.02


@register("LOG012", "val-loss-lower-accuracy-lower", requires=("history",), cause="eval-distribution-shift")
def val_loss_lower_accuracy_lower(inputs):
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
    if not all(vl <= (1 - OPPOSITE_LOSS_MARGIN) * lo and va <= a - OPPOSITE_ACCURACY_MARGIN
               for _, (lo, vl, a, va) in rows):
        return []
    _, (lo, vl, a, va) = rows[-1]
    return [val_loss_lower_accuracy_lower.finding(
        Severity.WARNING,
        f"In all {len(rows)} epochs validation loss is lower than training loss (last {vl:.4g} vs {lo:.4g}) while "
        f"validation accuracy is lower than training accuracy (last {va:.4f} vs {a:.4f}).",
        evidence={"epochs": len(rows), "loss_ratio": [r(v[1] / v[0]) for _, v in rows if v[0] > 0],
                  "accuracy_gap": [r(v[2] - v[3]) for _, v in rows],
                  "loss_margin": OPPOSITE_LOSS_MARGIN, "accuracy_margin": OPPOSITE_ACCURACY_MARGIN},
        fix=Fix("Split with stratification and compare the class counts of the splits",
                "from sklearn.model_selection import train_test_split\n"
                "x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, stratify=y)\n"
                "print(np.bincount(y_tr.ravel()), np.bincount(y_val.ravel()))"),
        explanation=(
            "On one distribution loss and accuracy agree on which split does better (overfitting: validation "
            "worse on both; dropout: validation better on both). Here they disagree in every epoch, which "
            "points to validation data with another class mix or other labels than the training data."
        ),
        split="val",
    )]


# --- LOG013 -----------------------------------------------------------------------
def double_softmax_floor(k: int) -> float:
    """The least cross-entropy softmax(softmax(z)) can reach over K classes: -ln(e / (e + K - 1))."""
    return -math.log(math.e / (math.e + k - 1))


#: Training accuracy at least this far above chance: the model ranks classes well...
FLOOR_ACCURACY_ABOVE_CHANCE = 0.4

#: ... while its loss stays between the double-softmax floor (1% under it for
#: rounding) and this fraction of the way from the floor up to ln K. A second
#: softmax over probabilities gives every sample a loss of at least the floor
#: (1.46 for K = 10) and about 1.55 at 90% accuracy; a single softmax at that
#: accuracy scores 0.3-0.4, and label smoothing 0.1 floors it near 0.5.
FLOOR_BAND = 0.35


@register("LOG013", "loss-at-double-softmax-floor", requires=("history",), cause="output-loss-mismatch")
def loss_at_double_softmax_floor(inputs):
    """Accuracy is high but the loss cannot fall below the floor of a softmax applied twice.

    ## What it does
    For K known, or the common count (2, 10, 100, 1000) that fits, computes
    the floor -ln(e / (e + K - 1)) (1.46 for K = 10). Fires when, in the last
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
    known = classes_from_data(inputs)
    for k in ([known] if known else COMMON_CLASS_COUNTS):
        floor, ln_k = double_softmax_floor(k), math.log(k)
        top = floor + FLOOR_BAND * (ln_k - floor)
        if min(all_losses) < 0.99 * floor:
            continue
        if all(ac >= 1.0 / k + FLOOR_ACCURACY_ABOVE_CHANCE and lo <= top for _, (lo, ac) in tail):
            break
    else:
        return []
    lo, ac = tail[-1][1]
    return [loss_at_double_softmax_floor.finding(
        Severity.WARNING,
        f"Training accuracy reaches {ac:.4f} but the loss stays at {min(all_losses):.4f}-{lo:.4f}, never below "
        f"{floor:.4f} = -ln(e/(e+{k - 1})), the least a softmax applied twice can score over {k} classes.",
        evidence={"classes": k, "classes_source": "given" if known else "fitted to the loss floor",
                  "floor": r(floor), "ln_k": r(ln_k), "loss": [r(v) for v in all_losses],
                  "acc_last": r(ac), "band": FLOOR_BAND},
        fix=Fix("Apply softmax once: from_logits=False with a softmax output, or a linear output with from_logits=True",
                'outputs = layers.Dense(10, activation="softmax")(x)\n'
                'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])'),
        explanation=(
            f"A model that ranks classes this well would score a loss far below {floor:.2f} with one softmax; a "
            f"softmax of probabilities cannot give the true class more than {math.exp(-floor):.2f}, so the loss sits "
            "on that floor and its gradients are weak. The loss curve (and any gap read from it) reflects the "
            "double softmax, not generalization."
        ),
        split="train",
    )]


# --- LOG014 -----------------------------------------------------------------------
@register("LOG014", "saturated-training-loss", requires=("history",), cause="input-not-normalized")
def saturated_training_loss(inputs):
    """Every training error costs a saturated softmax's loss while the model learns a little: inputs on a huge scale.

    ## What it does
    Computes the training `loss / (1 - accuracy)` (the mean cost of one wrong
    training prediction) at the last epoch. Fires when it is at least
    `SATURATED_COST` (12.9 nats) while the training accuracy is above chance
    (1/K + `chance_accuracy_band(K)`; K as known or fitted, else 10). At
    chance, LOG008 speaks instead.

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
    k = k or 10
    i, (lo, ac) = rows[-1]
    cost = per_error_cost(lo, ac)
    if cost < SATURATED_COST or ac <= 1.0 / k + chance_accuracy_band(k):
        return []
    first = rows[0][1][0]
    return [saturated_training_loss.finding(
        Severity.WARNING,
        f"Training errors cost {cost:.1f} nats each at epoch {i + 1} (loss {lo:.4g}, accuracy {ac:.4f}; the first "
        f"epoch's loss was {first:.4g}).",
        evidence={"cost_per_error": r(cost, 3), "loss": [r(v) for _, (v, _) in rows],
                  "acc": [r(a) for _, (_, a) in rows], "saturated_cost_threshold": r(SATURATED_COST, 3),
                  "classes": k},
        fix=Fix("Scale the inputs to [0, 1] in every split (or use layers.Rescaling(1./255))",
                'x_train = x_train.astype("float32") / 255.0\nx_test = x_test.astype("float32") / 255.0'),
        explanation=(
            f"An error costing {cost:.0f} nats gives the true class a probability of about e^-{cost:.0f}: the "
            "softmax is saturated on the training images themselves, which a network initialized for inputs of "
            "order 1 does when fed raw 0-255 pixels (or weights blown up by too large steps). Training is then "
            "slow and erratic, and its gap to validation is not overfitting."
        ),
        split="train",
    )]
