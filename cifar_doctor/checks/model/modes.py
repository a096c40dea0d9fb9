"""MDL: BatchNormalization's moving statistics unlike the batch statistics it trained with (MDL012).

The model is read on the same training images in inference mode and in training mode
(`cifar_doctor.measure.model.mode_scores`); MDL007 asks the same reading before it calls a
model at chance in inference mode untrained (`stale_statistics`).
"""

from __future__ import annotations

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.model import MODE_MIN_GAP, MODE_STANDARD_ERRORS, stale_statistics
from ...registry import register


@register(
    "MDL012",
    "batchnorm-statistics-stale",
    requires=("evaluator", "train_x", "labels"),
    cause="regularization-gap",
)
def batchnorm_statistics_stale(inputs: Inputs) -> list[Finding]:
    """The model classifies its own training images far better with batch statistics than with its moving ones.

    ## What it does
    For a model with BatchNormalization layers, reads up to 1,000 evenly spaced
    training images twice: in inference mode, as `evaluate` and `predict` do
    (BatchNormalization on its moving averages), and in training mode, as `fit`
    does (each batch of 64 normalized with its own statistics; the moving
    averages this call updates are restored, so the model is left as found).
    Fires (warning) when training mode scores at least `MODE_MIN_GAP` (0.1)
    and `MODE_STANDARD_ERRORS` (3) standard errors higher.

    ## Why is this bad?
    The weights are the same in both readings; only the normalization differs.
    BatchNormalization's moving averages move 1% per step (momentum 0.99):
    after a few hundred steps, or when the data fed at inference is not
    distributed like the training batches, they do not describe the
    activations, and every prediction made with them (validation, test,
    deployment) is worse than what the network learned. The gap looks like
    overfitting or a model that never learned (at chance in inference mode),
    but regularizing or retraining the same way does not close it.

    ## Example
    ```
    cifar-doctor check --data data.npz --model model.keras
    # the same 1,000 training images: 0.801 with batch statistics, 0.094 with the moving ones
    ```

    ## Use instead
    ```python
    layers.BatchNormalization(momentum=0.9)   # moving averages that settle in tens of steps
    ```
    or train for more steps, and feed inference the same preprocessing as training.
    """
    m = stale_statistics(inputs)
    if m is None:
        return []
    return [
        batchnorm_statistics_stale.finding(
            Severity.WARNING,
            f"The same {m.images} training images score {m.training:.3f} in training mode (batch statistics) and "
            f"{m.inference:.3f} in inference mode (BatchNormalization's moving statistics).",
            evidence={**m.to_dict(), "min_gap": MODE_MIN_GAP, "standard_errors": MODE_STANDARD_ERRORS},
            fix=Fix(
                "Let the moving statistics settle: lower BatchNormalization's momentum or train more steps",
                "layers.BatchNormalization(momentum=0.9)",
            ),
            explanation=(
                "Both readings use the same weights on the same images; only BatchNormalization's statistics differ. "
                "Its moving averages, which evaluate() and predict() use, do not describe the activations the "
                f"network learned with, which costs {m.training - m.inference:.0%} of the training images' accuracy "
                "and every prediction made in inference mode: not overfitting, and not a model that never learned."
            ),
            split="train",
        )
    ]
