"""LOG: a printed `model.evaluate()` result against the validation numbers of the same run.

See `cifar_doctor.checks.log` for the loss arithmetic these checks rest on.
"""

from __future__ import annotations

from typing import Any

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import (
    BN_SETTLING_STEPS,
    aligned,
    epochs_trained,
    few_optimizer_steps,
    finite,
    index_unit,
    per_error_cost,
    printed_index,
)
from ...registry import register
from . import SATURATED_COST

#: evaluate() vs the last epoch's val_ accuracy: Keras evaluates the same data
#: the same way (inference mode) for both, so on the same data they agree to
#: the printed digits (the seed: 0.5321 and 0.5321). More than this apart
#: means a different pipeline or different data.
EVAL_ACCURACY_TOLERANCE = 0.05


#: The same for the loss, as a ratio (loss is more sensitive to a few
#: confident errors than accuracy).
EVAL_LOSS_RATIO = 1.5


#: evaluate() of the very arrays validated on, with the weights of an earlier epoch restored
#: (`EarlyStopping(restore_best_weights=True)` after `validation_data=(x_test, y_test)`, then
#: `evaluate(x_test, y_test)`), repeats that epoch's validation accuracy to the printed digits: within
#: this, and the loss within `RESTORED_LOSS_RATIO`, LOG005 reads a restored epoch. The generous
#: tolerances above would match some epoch of a noisy curve by coincidence (0.035 and x1.38 from the
#: best epoch of a class-sorted validation split of the run corpus).
RESTORED_ACCURACY_TOLERANCE = 0.005

#: See `RESTORED_ACCURACY_TOLERANCE`.
RESTORED_LOSS_RATIO = 1.02


def _unprinted_drift(h: Any) -> tuple[float, float]:
    """(accuracy, loss ratio) that validation moved by in one printed step of the log's second half, when
    its last two records are epochs apart (a loop printing every fifth epoch): training may have gone on
    for up to that many epochs after the last one printed. (0, 1) otherwise."""
    index = getattr(h, "index", None)
    if not index or len(index) < 2 or index_unit(h) != "epoch" or index[-1] - index[-2] <= 1:
        return 0.0, 1.0
    if getattr(h, "read_as", {}).get("downsampled_from"):
        return 0.0, 1.0  # the reader kept every n-th epoch of a long log, and the last one
    half = len(index) // 2
    acc = [v for v in h.val_acc[half:] if finite(v)]
    loss = [v for v in h.val_loss[half:] if finite(v) and v > 0]
    moved = max((abs(b - a) for a, b in zip(acc, acc[1:])), default=0.0)
    ratio = max((max(a, b) / min(a, b) for a, b in zip(loss, loss[1:])), default=1.0)
    return moved, ratio


def _compared(
    ev: dict[str, float], h: Any, at: tuple[int, int], accuracy_tolerance: float, loss_ratio: float
) -> list[tuple[str, float, float, bool | None]]:
    """`ev` (a printed evaluate() result) against the validation accuracy and loss at positions `at`, the
    metrics both hold as finite numbers: (name, evaluate, validation, whether they agree within
    `accuracy_tolerance` / `loss_ratio`, None for a loss not above 0, which no ratio compares)."""
    out: list[tuple[str, float, float, bool | None]] = []
    for name, series, i in (("accuracy", h.val_acc, at[0]), ("loss", h.val_loss, at[1])):
        if name not in ev or not 0 <= i < len(series) or not finite(series[i]) or not finite(ev[name]):
            continue
        a, b = ev[name], series[i]
        if name == "accuracy":
            out.append((name, a, b, abs(a - b) <= accuracy_tolerance))
        else:
            out.append((name, a, b, max(a, b) / min(a, b) <= loss_ratio if a > 0 and b > 0 else None))
    return out


def _differences(ev: dict[str, float], h: Any, i: int | None = None) -> dict[str, tuple[float, float]]:
    """The metrics in which `ev` (a printed evaluate() result) differs from epoch `i`'s validation metrics
    (each series' last without `i`) beyond `EVAL_ACCURACY_TOLERANCE` or `EVAL_LOSS_RATIO`: name ->
    (evaluate, validation). Metrics that either side lacks (or holds as NaN) are not compared."""
    moved, ratio = _unprinted_drift(h) if i is None else (0.0, 1.0)
    at = (len(h.val_acc) - 1, len(h.val_loss) - 1) if i is None else (i, i)
    pairs = _compared(ev, h, at, max(EVAL_ACCURACY_TOLERANCE, moved), max(EVAL_LOSS_RATIO, ratio))
    return {name: (a, b) for name, a, b, agree in pairs if agree is False}


def _repeats(ev: dict[str, float], h: Any, i: int) -> bool:
    """Whether `ev` repeats epoch `i`'s validation metrics to the printed digits: every metric both hold
    (at least one) within `RESTORED_ACCURACY_TOLERANCE` / `RESTORED_LOSS_RATIO`."""
    pairs = _compared(ev, h, (i, i), RESTORED_ACCURACY_TOLERANCE, RESTORED_LOSS_RATIO)
    return bool(pairs) and all(agree for *_, agree in pairs)


def _restored_epoch(ev: dict[str, float], h: Any) -> int | None:
    """The position of the epoch whose weights `ev` scored, when not the last: the epoch the log says
    `EarlyStopping` restored (`History.restored_epoch`) when `ev` is within LOG005's own tolerances of its
    validation metrics (the evaluated data may be another split of the same pipeline); else the epoch with
    the lowest `val_loss`, or the highest validation accuracy (what `EarlyStopping(restore_best_weights=True)`
    and `ModelCheckpoint(save_best_only=True)` keep, by their two usual monitors), when `ev` repeats its
    validation metrics (`_repeats`). None otherwise."""
    last = len(h.val_acc or h.val_loss) - 1
    stated = getattr(h, "restored_epoch", None)
    if stated is not None:
        numbers = [printed_index(h, i) for i in range(last + 1)]
        if stated in numbers:
            i = numbers.index(stated)
            return i if i != last and not _differences(ev, h, i) else None
    for series, best in ((h.val_loss, min), (h.val_acc, max)):
        scored = [i for i, v in enumerate(series) if finite(v)]
        if not scored:
            continue
        i = best(scored, key=lambda j: series[j])
        if i != last and _repeats(ev, h, i):
            return i
    return None


def _restored_finding(h: Any, ev: dict[str, float], i: int, diffs: dict[str, tuple[float, float]]) -> Finding:
    """LOG005's reading when the evaluate() result is the validation result of the run's best epoch."""
    shown = ", ".join(f"{k} {ev[k]:.4g}" for k in ("loss", "accuracy") if k in ev and finite(ev[k]))
    best = {k: rounded(series[i]) for k, series in (("loss", h.val_loss), ("accuracy", h.val_acc)) if i < len(series)}
    said = getattr(h, "restored_epoch", None) == printed_index(h, i)
    return evaluate_differs_from_validation.finding(
        Severity.INFO,
        f"evaluate() ({shown}) differs from the last epoch's validation metrics but matches those of "
        f"{index_unit(h)} {printed_index(h, i)}, "
        + ("whose weights the log says EarlyStopping restored: " if said else "the best: ")
        + "the weights evaluated are that epoch's"
        + ("" if said else " (EarlyStopping(restore_best_weights=True) or a best-only checkpoint)")
        + ", not a different pipeline.",
        evidence={
            "evaluate": {k: rounded(v) for k, v in ev.items()},
            "matches_epoch": printed_index(h, i),
            "restored_in_log": said,
            "best_val": best,
            "last_val": {k: rounded(b) for k, (_, b) in diffs.items()},
            "accuracy_tolerance": EVAL_ACCURACY_TOLERANCE if said else RESTORED_ACCURACY_TOLERANCE,
            "loss_ratio": EVAL_LOSS_RATIO if said else RESTORED_LOSS_RATIO,
        },
        cause=None,
        split="val",
        explanation=(
            "Keras computes val_* and evaluate() identically; an evaluate() that agrees with an earlier epoch's "
            "validation numbers is the model of that epoch, restored after training. The run's later epochs, and "
            "whatever the curves say about them, are not what was evaluated."
        ),
    )


# --- LOG005 -----------------------------------------------------------------------
@register("LOG005", "evaluate-differs-from-validation", requires=("history",), cause="eval-distribution-shift")
def evaluate_differs_from_validation(inputs: Inputs) -> list[Finding]:
    """The printed evaluate() result is far from the last epoch's validation metrics.

    ## What it does
    Compares the last `model.evaluate()` result found in the log (the printed
    `loss: …` / `accuracy: …`, `[loss, acc]`, or Keras' evaluate progress bar)
    with the last epoch's `val_loss` and `val_accuracy`. Fires when accuracy
    differs by more than `EVAL_ACCURACY_TOLERANCE` (0.05) or loss by more than a
    factor `EVAL_LOSS_RATIO` (1.5), or than validation moved between two
    records of the log's second half when its last two records are epochs
    apart (a loop printing every fifth epoch: training may have gone on
    after the last one printed).

    When validation keeps up with the training accuracy to the last epoch
    (within `VAL_TRACKS_TRAIN_MARGIN`) while `evaluate()` falls far below
    both, the validation data behaves like training data: the finding then
    supports `train-test-leakage` (validation drawn from the training arrays).

    When `evaluate()` instead matches an earlier epoch, the weights evaluated
    are that epoch's, restored after training, and the finding is
    information without a cause: the epoch the console says EarlyStopping
    restored ("Restoring model weights from the end of the best epoch: 5."),
    within the tolerances above, or the epoch of lowest `val_loss` (else of
    highest validation accuracy) when `evaluate()` repeats its numbers to
    the printed digits (`RESTORED_ACCURACY_TOLERANCE`, `RESTORED_LOSS_RATIO`).

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
    val_acc, val_loss = h.val_acc, h.val_loss
    diffs = _differences(ev, h)
    if not diffs:
        return []
    restored = _restored_epoch(ev, h)
    if restored is not None:
        return [_restored_finding(h, ev, restored, diffs)]
    parts = [f"evaluate() {k} {a:.4g} vs last val_{k} {b:.4g}" for k, (a, b) in diffs.items()]
    message = (
        "The printed evaluate() result differs from the last epoch's validation metrics: " + "; ".join(parts) + "."
    )
    evidence = {
        "evaluate": {k: rounded(v) for k, v in ev.items()},
        "last_val": {
            "loss": rounded(val_loss[-1]) if val_loss else None,
            "accuracy": rounded(val_acc[-1]) if val_acc else None,
        },
        "accuracy_tolerance": EVAL_ACCURACY_TOLERANCE,
        "loss_ratio": EVAL_LOSS_RATIO,
    }
    leak = _validation_like_training(h, ev)
    if leak is not None:
        evidence["last_train_accuracy"] = rounded(leak)
        return [
            evaluate_differs_from_validation.finding(
                Severity.WARNING,
                message + f" Validation scores like the training data ({val_acc[-1]:.4f} vs {leak:.4f} in training); "
                f"evaluate() is {leak - ev['accuracy']:.2f} below both.",
                evidence=evidence,
                cause="train-test-leakage",
                split="val",
                fix=Fix(
                    "Validate on held-out data that never enters training",
                    "x_tr, x_val, y_tr, y_val = train_test_split(x_train, y_train, test_size=0.1, stratify=y_train)\n"
                    "model.fit(x_tr, y_tr, validation_data=(x_val, y_val))",
                ),
                explanation=(
                    "A held-out validation set scores below the training data once a model fits anything particular to "
                    "its training images; this one keeps up with training to the last epoch while the evaluated test "
                    "set, which the model has not seen, falls far below both. The validation data behaves like "
                    "training data: it is (partly) the training images, so val_accuracy measures memorization and "
                    "evaluate() shows the real generalization."
                ),
            )
        ]
    return [
        evaluate_differs_from_validation.finding(
            Severity.WARNING,
            message,
            evidence=evidence,
            fix=Fix(
                "Evaluate the same arrays, preprocessed the same way, as validation_data",
                "x_val_ready = preprocess(x_test)  # one function for every split\n"
                "model.fit(..., validation_data=(x_val_ready, y_test))\nmodel.evaluate(x_val_ready, y_test)",
            ),
            explanation=(
                "Keras computes val_* and evaluate() identically, in inference mode; on the same data they agree. "
                "A gap this large means the evaluated data went through a different pipeline or is another split."
            ),
            split="test",
        )
    ]


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


@register("LOG011", "evaluate-after-few-steps", requires=("history",), cause="regularization-gap")
def evaluate_after_few_steps(inputs: Inputs) -> list[Finding]:
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
    weight = 0.99**steps
    return [
        evaluate_after_few_steps.finding(
            Severity.WARNING,
            f"evaluate() gives accuracy {ea:.4f} against {acc[-1]:.4f} in training, after at most {steps} optimizer "
            f"steps ({h.bar_total} per epoch x {epochs_trained(h)} epochs).",
            evidence={
                "evaluate": {k: rounded(v) for k, v in evals[-1].items() if finite(v)},
                "train_acc_last": rounded(acc[-1]),
                "max_steps": steps,
                "bar_total": h.bar_total,
                "epochs": epochs_trained(h),
                "initial_statistics_weight": rounded(weight, 3),
                "settling_steps": BN_SETTLING_STEPS,
            },
            fix=Fix(
                "Train for more steps or lower BatchNormalization's momentum; evaluate training images to compare",
                "layers.BatchNormalization(momentum=0.9)\nmodel.evaluate(x_train, y_train)  # inference mode, same data",
            ),
            explanation=(
                f"Training accuracy is measured in training mode (batch statistics, dropout on); evaluate() uses "
                f"BatchNormalization's moving statistics, which after {steps} steps at momentum 0.99 still carry "
                f"{weight:.0%} of their initial values. A model can fit its training batches perfectly and still "
                "misclassify them in inference mode: a train/inference-mode gap, not overfitting or a data bug."
            ),
            split="test",
        )
    ]
