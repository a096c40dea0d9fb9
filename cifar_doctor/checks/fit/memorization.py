"""FIT: the learning curve of a network memorizing wrong labels (FIT007).

From a log alone this is a hint, never a verdict: the curve is also what plain
overfitting on a small dataset can draw, and only the labels (LBL010, with a
model) can tell. `cifar_doctor.diagnosis` never makes `noisy-labels` primary on
LOG/FIT findings alone (`diagnosis.LOG_ONLY_CAUSES`).
"""

from __future__ import annotations

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.history import MIN_EPOCHS_FOR_CURVES, finite, printed_index
from ...registry import register

#: Validation accuracy must fall at least this far (absolute) from its peak to the last epoch.
#: On 4,000 CIFAR-10 images with 41.6% wrong labels (CIFAR-10N `worse`) a small CNN peaks at 0.47
#: and ends at 0.40 after 12 epochs; plain overfitting on clean labels mostly plateaus (the
#: re-enacted overfit run loses 0.01-0.03 after its peak), as the wrong labels it memorizes are few.
VAL_DROP = 0.04

#: ... while training accuracy climbs at least this far after the validation peak: the network
#: keeps fitting its training labels while it gets worse on correct ones.
TRAIN_CLIMB = 0.05

#: ... and ends below this: memorizing wrong labels is slow, so training accuracy stays far from 1
#: while validation falls (0.56 in the run above). A clean training set is fitted near 1.0 before
#: validation loses that much, which is plain overfitting.
TRAIN_CEILING = 0.85

#: The validation peak must lie at least this many epochs before the last (one noisy epoch is not a turn).
PEAK_BEFORE_END = 2


@register("FIT007", "memorizing-wrong-labels", requires=("history",), cause="noisy-labels")
def memorizing_wrong_labels(inputs: Inputs) -> list[Finding]:
    """Validation accuracy peaks and falls while training accuracy climbs slowly: wrong labels being learned.

    ## What it does
    Looks for the curve of a network memorizing wrong training labels.
    Fires (information) when validation accuracy falls at least `VAL_DROP`
    (0.04) from a peak at least two epochs before the end while training
    accuracy climbs at least `TRAIN_CLIMB` (0.05) after that peak, past the
    validation peak, and ends below `TRAIN_CEILING` (0.85). From a log alone it
    only adds `noisy-labels` to the verdict's `also`; LBL010, with the model and
    the training data, measures the labels themselves.

    ## Why is this bad?
    Networks learn the clean patterns first; then, as training goes on, they
    memorize the wrong labels, and each memorized wrong label costs accuracy on
    correctly labeled images. On 4,000 CIFAR-10 images with 41.6% wrong labels,
    a small CNN peaks at 0.47 validation accuracy and falls to 0.40 while its
    training accuracy climbs to 0.56. Dropout and early stopping hide this;
    relabeling removes it.

    ## Example
    ```
    Epoch 5/12 ... accuracy: 0.4020 - val_accuracy: 0.4700
    Epoch 12/12 ... accuracy: 0.5600 - val_accuracy: 0.4000
    ```

    ## Use instead
    ```
    cifar-doctor check --data data.npz --model model.keras   # LBL010 lists the suspect labels
    ```
    """
    h = inputs.history
    acc, val = h.acc, h.val_acc
    n = min(len(acc), len(val))
    if n < MIN_EPOCHS_FOR_CURVES + PEAK_BEFORE_END or not all(finite(v) for v in acc[:n] + val[:n]):
        return []
    inference = h.train_accuracy_inference_mode
    if inference and len(inference) >= n and all(finite(v) for v in inference[:n]):
        acc = inference
    peak = max(range(n), key=lambda i: val[i])
    last = n - 1
    if last - peak < PEAK_BEFORE_END:
        return []
    drop = val[peak] - val[last]
    climb = acc[last] - acc[peak]
    if not (drop >= VAL_DROP and climb >= TRAIN_CLIMB and val[peak] < acc[last] < TRAIN_CEILING):
        return []
    peak_epoch = printed_index(h, peak)
    return [
        memorizing_wrong_labels.finding(
            Severity.INFO,
            f"Validation accuracy peaked at {val[peak]:.4f} (epoch {peak_epoch}) and fell to {val[last]:.4f} while "
            f"training accuracy climbed from {acc[peak]:.4f} to only {acc[last]:.4f}: the curve of a network "
            "memorizing wrong training labels.",
            evidence={
                "val_peak": round(val[peak], 4),
                "val_peak_epoch": peak_epoch,
                "val_last": round(val[last], 4),
                "train_at_peak": round(acc[peak], 4),
                "train_last": round(acc[last], 4),
                "memorization_from_epoch": peak_epoch,
                "thresholds": {"val_drop": VAL_DROP, "train_climb": TRAIN_CLIMB, "train_ceiling": TRAIN_CEILING},
            },
            fix=Fix(
                "Check the training labels: run check with the model and the data to list the suspects",
                "cifar-doctor check --data data.npz --model model.keras",
            ),
            explanation=(
                "A network fits clean patterns first and memorizes wrong labels later, slowly, at the expense of "
                "correctly labeled images; only the labels themselves can confirm it."
            ),
        )
    ]
