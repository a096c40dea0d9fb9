"""FIT: the train-validation accuracy gap a run ends with, when no check explains it (FIT009).

See `cifar_doctor.checks.fit` for the family.
"""

from __future__ import annotations

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.history import aligned, index_unit, printed_index, val_split_images
from ...registry import register

#: The last epoch's training accuracy above validation accuracy by at least this much (absolute).
#: Chosen among 0.05, 0.1 and 0.15 on the log trials of the run corpus and draws 2-4, by the out-of-fold
#: log-loss of the confidences stated for `healthy` verdicts keyed by it (0.264, 0.263, 0.269) and the
#: forbidden verdicts stated at 0.7 or more (156, 184, 240 of 3,866 trials); on draw 5, held out from
#: the table but seen when this rule was written, 59, 59 and 72 of 882. On the corpus a log that found
#: no problem was right 86% of the time below 0.05 and 63% above it (a
#: validation split that differs, BatchNorm statistics that lag and overfitting still under way all
#: end there, where a log cannot tell them apart).
GAP_OBSERVED = 0.05

#: ... and by at least this many standard errors of the validation accuracy when the split's size is
#: known (`val_split_images`): on 45 images the gap of a healthy model scatters by 0.07.
GAP_STANDARD_ERRORS = 2.0


#: The log checks that name a cause: any of them on the validation split explains the gap better
#: than the gap itself (FIT001's turn, LOG001's saturated softmax, LOG004's chance level, ...).
#: `tests/checks/test_fit_gap.py` keeps the list whole.
EXPLAINED_BY = (
    *(f"FIT00{i}" for i in range(1, 9)),
    *(f"LOG0{i:02d}" for i in range(1, 20)),
)


@register("FIT009", "train-validation-gap", requires=("history",), cause=None, superseded_by=EXPLAINED_BY)
def train_validation_gap(inputs: Inputs) -> list[Finding]:
    """The run ends with training accuracy above validation accuracy, and no check says why.

    ## What it does
    Reads the last epoch that logs the same accuracy for both splits (the inference-mode accuracy
    on training images, when `DoctorCallback` recorded it). Reports (info, no cause) a gap of at least
    `GAP_OBSERVED`, and of `GAP_STANDARD_ERRORS` standard errors of the validation accuracy when
    the split's size is known. Any log check that names a cause on the validation split supersedes
    it (`EXPLAINED_BY`): a validation curve that turned is overfitting, a saturated softmax a scale bug.

    ## Why is this bad?
    A gap alone is not a diagnosis. Overfitting still under way, a validation split that differs
    from training (another class mix, other preprocessing) and BatchNormalization statistics that
    do not fit yet all end with training above validation, and the curves of a log cannot tell
    them apart. A verdict of no problem found in such a log is right less often than in a log
    without the gap, and its confidence says so: the reliability table keys `healthy` by it.

    ## Example
    ```
    Epoch 6/6 ... accuracy: 0.5199 - loss: 1.4660 - val_accuracy: 0.3234 - val_loss: 1.9224
    ```

    ## Use instead
    ```python
    model.evaluate(x_train[:1000], y_train[:1000])  # inference mode on training images: as high as training?
    ```
    and give the data and the model (`--data`, `--model`): they measure what the log cannot.
    """
    h = inputs.history
    inference = h.train_accuracy_inference_mode
    train = inference if inference and len(inference) == len(h.acc) else h.acc
    rows = aligned(train, h.val_acc)
    if len(rows) < 2 or not h.acc_key or h.val_acc_key != "val_" + h.acc_key:
        return []
    last, (acc, val) = rows[-1]
    gap = acc - val
    images = val_split_images(h)
    noise = GAP_STANDARD_ERRORS * (val * (1.0 - val) / images) ** 0.5 if images else 0.0
    if gap < max(GAP_OBSERVED, noise):
        return []
    unit = index_unit(h)
    return [
        train_validation_gap.finding(
            Severity.INFO,
            f"At {unit} {printed_index(h, last)} training accuracy is {acc:.4f} and validation accuracy {val:.4f}: a "
            f"gap of {gap:.4f}. A log alone cannot tell overfitting still under way from a validation split that "
            "differs or BatchNorm statistics that lag.",
            evidence={
                "train_acc": rounded(acc),
                "val_acc": rounded(val),
                "gap": rounded(gap),
                "epoch": printed_index(h, last),
                "train_inference_mode": train is inference,
                "val_images": images,
                "threshold": rounded(max(GAP_OBSERVED, noise)),
            },
            fix=Fix(
                "Measure the gap on the images themselves: give the model ({model}) with its data",
                "model.evaluate(x_train[:1000], y_train[:1000])  # inference mode on training images",
            ),
            explanation=(
                "Training accuracy above validation accuracy has several readings: the model memorizes training "
                "images (overfitting, before validation turns), the validation images differ from the training "
                "images, or the network behaves differently in inference mode. Evaluating the model on training "
                "images in inference mode tells them apart."
            ),
            split="val",
        )
    ]
