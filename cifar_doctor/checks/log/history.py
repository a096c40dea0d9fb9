"""LOG: whether the history is long enough to judge curves at all.

See `cifar_doctor.checks.log` for the loss arithmetic these checks rest on.
"""

from __future__ import annotations

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.history import (
    MIN_EPOCHS_FOR_CURVES,
)
from ...registry import register


# --- LOG006 -----------------------------------------------------------------------
@register("LOG006", "too-few-epochs", requires=("history",), cause="insufficient-evidence")
def too_few_epochs(inputs: Inputs) -> list[Finding]:
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
    return [
        too_few_epochs.finding(
            Severity.INFO,
            f"The history is too thin to judge the learning curves: it needs {' and '.join(needs)}.{trunc}",
            evidence={
                "epochs": n,
                "min_epochs": MIN_EPOCHS_FOR_CURVES,
                "has_validation": bool(h.val_loss or h.val_acc),
                "has_training": bool(h.loss or h.acc),
                "truncated": h.truncated,
            },
            fix=Fix(f"Train at least {MIN_EPOCHS_FOR_CURVES} epochs with validation data and pass the whole log"),
            explanation="Overfitting, underfitting and instability are trends over epochs; this log has too few points.",
        )
    ]
