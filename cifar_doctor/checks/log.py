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

#: The saturated epoch's accuracy must lie above chance (1/K plus
#: `chance_accuracy_band(K)`): the scale-bug fingerprint is a model whose
#: arg-max still works on the mismatched inputs while its softmax saturates.
#: A run at chance with a huge loss (one optimizer step per epoch on a
#: handful of images, a collapsed network) shows nothing about the eval
#: pipeline; LOG004 speaks for validation at chance.
SATURATION_NEEDS_ABOVE_CHANCE = True

#: Error rates below this are not used as divisors (val_acc > 0.98 leaves too
#: few errors for a per-error cost to mean anything).
MIN_ERROR_RATE = 0.02

#: Loss within this fraction of ln K counts as chance level (an untrained
#: softmax over K classes; a model that learned anything is >5% below it
#: within one epoch on CIFAR-10).
CHANCE_LOSS_TOLERANCE = 0.05

#: Accuracy within this absolute distance of 1/K counts as chance level:
#: max(0.02, min(0.05, 0.3 / K)), i.e. 0.07-0.13 for K = 10. The binomial
#: noise of an accuracy on 10,000 samples is 0.003.
def chance_accuracy_band(k: int) -> float:
    return max(0.02, min(0.05, 0.3 / k))


#: Epochs at chance needed before calling a run "not learning": epoch 1 alone
#: can sit near chance while a slow optimizer warms up.
CHANCE_MIN_EPOCHS = 2

#: For `val-accuracy-at-chance`, training accuracy must have risen this far
#: above chance: a model that learned nothing is `loss-at-chance` instead.
TRAIN_ABOVE_CHANCE = 0.15

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

#: Common class counts tried when K is unknown (binary, CIFAR-10, CIFAR-100, ImageNet).
COMMON_CLASS_COUNTS = (2, 10, 100, 1000)


# --- helpers shared with checks.fit ------------------------------------------------
def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def aligned(*series: list[float]) -> list[tuple[int, tuple[float, ...]]]:
    """(epoch index, values) for epochs where every series has a finite value."""
    n = min((len(s) for s in series), default=0)
    return [(i, tuple(s[i] for s in series)) for i in range(n) if all(finite(s[i]) for s in series)]


def per_error_cost(loss: float, acc: float) -> float:
    """loss / (1 - acc): an upper bound on the mean cost of one wrong prediction, in nats."""
    return loss / max(1.0 - acc, MIN_ERROR_RATE)


def history_classes(inputs: Any) -> int | None:
    k = inputs.num_classes
    return k if k and k >= 2 else None


def r(v: float, nd: int = 4) -> float:
    return round(float(v), nd)


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
    k = history_classes(inputs) or 10
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
    return not SATURATION_NEEDS_ABOVE_CHANCE or acc > 1.0 / k + chance_accuracy_band(k)


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
def _chance_k(loss: float, acc: float | None, known: int | None) -> int | None:
    for k in ([known] if known else COMMON_CLASS_COUNTS):
        ln_k = math.log(k)
        if abs(loss - ln_k) > CHANCE_LOSS_TOLERANCE * ln_k:
            continue
        if acc is not None and abs(acc - 1.0 / k) > chance_accuracy_band(k):
            continue
        return k
    return None


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
    known = history_classes(inputs)
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
        k = _chance_k(loss[i], a, known)
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
    bad: dict[str, int] = {}
    for name, values in h.metrics.items():
        for i, v in enumerate(values):
            if isinstance(v, (int, float)) and not math.isfinite(v):
                bad[name] = i + 1
                break
    if not bad:
        return []
    first = min(bad.values())
    names = sorted(bad, key=lambda k: (bad[k], k))
    return [non_finite_loss.finding(
        Severity.ERROR,
        f"{', '.join(names)} became NaN or infinite (first at epoch {first} of {h.epochs}).",
        evidence={"first_epoch": first, "metrics": {k: bad[k] for k in names},
                  "values_at_first": {k: str(h.metrics[k][first - 1]) for k in names
                                      if len(h.metrics[k]) >= first}},
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
    and reports a warning instead of an error.

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
    known = history_classes(inputs)
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
    return [val_accuracy_at_chance.finding(
        sev,
        f"Validation accuracy stays at {min(vals):.4f}-{max(vals):.4f} ≈ 1/{k}{assumed} over {len(vals)} epochs "
        f"while training accuracy reaches {last_acc:.4f}.",
        evidence={"classes": k, "classes_assumed": not known, "chance": r(1.0 / k), "band": band,
                  "val_acc": [r(v) for v in vals], "train_acc_last": r(last_acc)},
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
    return [evaluate_differs_from_validation.finding(
        Severity.WARNING,
        "The printed evaluate() result differs from the last epoch's validation metrics: " + "; ".join(parts) + ".",
        evidence={"evaluate": {k: r(v) for k, v in ev.items()},
                  "last_val": {"loss": r(val_loss[-1]) if val_loss else None,
                               "accuracy": r(val_acc[-1]) if val_acc else None},
                  "accuracy_tolerance": EVAL_ACCURACY_TOLERANCE, "loss_ratio": EVAL_LOSS_RATIO},
        fix=Fix("Evaluate the same arrays, preprocessed the same way, as validation_data",
                "x_val_ready = preprocess(x_test)  # one function for every split\n"
                "model.fit(..., validation_data=(x_val_ready, y_test))\nmodel.evaluate(x_val_ready, y_test)"),
        explanation=(
            "Keras computes val_* and evaluate() identically, in inference mode; on the same data they agree. "
            "A gap this large means the evaluated data went through a different pipeline or is another split."
        ),
        split="test",
    )]


# --- LOG006 -----------------------------------------------------------------------
@register("LOG006", "too-few-epochs", requires=("history",), cause="insufficient-evidence")
def too_few_epochs(inputs):
    """The history is too short for the learning-curve checks.

    ## What it does
    Reports when the history holds fewer than `MIN_EPOCHS_FOR_CURVES` (3)
    complete epochs, or has no validation metrics, and says what the curve
    checks (FIT001-FIT004, LOG002, LOG004) would need.

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
    if not needs:
        return []
    trunc = " The last epoch was cut off before its end and was not counted." if h.truncated else ""
    return [too_few_epochs.finding(
        Severity.INFO,
        f"The history is too short to judge the learning curves: it needs {' and '.join(needs)}.{trunc}",
        evidence={"epochs": n, "min_epochs": MIN_EPOCHS_FOR_CURVES, "has_validation": bool(h.val_loss or h.val_acc),
                  "truncated": h.truncated},
        fix=Fix(f"Train at least {MIN_EPOCHS_FOR_CURVES} epochs with validation data and pass the whole log"),
        explanation="Overfitting, underfitting and instability are trends over epochs; this log has too few points.",
    )]
