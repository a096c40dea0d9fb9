"""MDL: the optimizer's settings (MDL008).

See `cifar_doctor.checks.model` for what Keras does that these checks rest on.
"""

from __future__ import annotations

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...registry import register
from ...sanitize import python_literal

#: The usual learning rate per optimizer: Keras' default, except Adadelta, whose
#: algorithm needs about 1.0 (Keras 2's default; see `TINY_LR_FACTOR`). Adaptive
#: optimizers (Adam and its family, RMSprop) scale each step to about the learning
#: rate whatever the gradient, so their usable range is narrow around 1e-3; plain
#: SGD scales with the gradient.
DEFAULT_LEARNING_RATES = {
    "Adam": 1e-3,
    "AdamW": 1e-3,
    "Adamax": 1e-3,
    "Nadam": 1e-3,
    "RMSprop": 1e-3,
    "Adagrad": 1e-3,
    "Adafactor": 1e-3,
    "Lion": 1e-4,
    "Lamb": 1e-3,
    "Ftrl": 1e-3,
    "SGD": 1e-2,
    "Adadelta": 1.0,
}


#: A learning rate this many times the optimizer's default is huge: each adaptive step
#: moves every weight by about the learning rate, so at 100x (0.1 for Adam) a ReLU
#: network leaves its basin in the first steps (the re-enacted Adam(0.05) spiked to a
#: loss of 8.4; SGD(1.0), 100x its default, died at chance).
HUGE_LR_FACTOR = 100.0


#: A learning rate this many times below the usual one is too small to train in a
#: usual number of epochs. Adadelta is the trap: Keras 3 and tf.keras default it to
#: 1e-3, the original algorithm (and Keras 2) to 1.0, so Keras' own default trains
#: about 1,000x slower (the tf.keras MNIST thread: 84% instead of 99%); below
#: `ADADELTA_USABLE_LR` it is already too slow.
TINY_LR_FACTOR = 1e-3


ADADELTA_USABLE_LR = 0.1


@register("MDL008", "learning-rate-out-of-range", requires=("model",), cause="unstable-training")
def learning_rate_out_of_range(inputs: Inputs) -> list[Finding]:
    """The compiled optimizer's learning rate is negative, huge or far too small for that optimizer.

    ## What it does
    Reads the optimizer and learning rate saved with the model. Fires
    (error) for a learning rate <= 0, (warning) for one at least
    `HUGE_LR_FACTOR` (100) times the optimizer's usual learning rate
    (`DEFAULT_LEARNING_RATES`), or at most `TINY_LR_FACTOR` (1/1000) of it;
    Adadelta below `ADADELTA_USABLE_LR` (0.1) is too small too.

    ## Why is this bad?
    A negative learning rate climbs the loss: nothing is learned. A huge one
    throws the weights out of their basin in the first steps (dead ReLUs, a
    network stuck at chance, NaN). A tiny one barely moves them, so after the
    usual number of epochs the model is still near its initialization; the
    train/validation gap then says nothing about generalization.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), ...)     # 100x the default
    model.compile(optimizer=keras.optimizers.Adadelta(), ...)                 # 0.001: 1000x too slow
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), ...)
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), ...)
    ```
    """
    m = inputs.model
    name, lr = m.optimizer, m.learning_rate
    if name is None or lr is None:
        return []
    default = DEFAULT_LEARNING_RATES.get(name)
    ev = {
        "optimizer": name,
        "learning_rate": lr,
        "usual_learning_rate": default,
        "huge_factor": HUGE_LR_FACTOR,
        "tiny_factor": TINY_LR_FACTOR,
    }
    fix = Fix(
        f"Use a learning rate near {name}'s default ({default if default else 1e-3:g})",
        f"model.compile(optimizer={optimizer_code(name, default if default else 1e-3)}, ...)",
    )
    if lr <= 0:
        return [
            learning_rate_out_of_range.finding(
                Severity.ERROR,
                f"The model's {name} optimizer has learning rate {lr:g}: it cannot decrease the loss.",
                evidence=ev,
                fix=fix,
                cause="not-learning",
                explanation="Gradient descent steps by -learning_rate x gradient; with a learning rate of zero or below "
                "the weights stand still or climb the loss, so nothing is learned.",
            )
        ]
    if default is None:
        return []
    if lr >= HUGE_LR_FACTOR * default:
        return [
            learning_rate_out_of_range.finding(
                Severity.WARNING,
                f"The model's {name} optimizer has learning rate {lr:g}, {lr / default:.0f}x its usual {default:g}.",
                evidence=ev,
                fix=fix,
                explanation="Steps that large throw the weights out of their basin within the first batches: ReLUs die, "
                "the network settles at chance or the loss becomes NaN.",
            )
        ]
    tiny = lr <= TINY_LR_FACTOR * default or (name == "Adadelta" and lr < ADADELTA_USABLE_LR)
    if tiny:
        note = " (Keras' Adadelta default; the algorithm and Keras 2 use 1.0)" if name == "Adadelta" else ""
        return [
            learning_rate_out_of_range.finding(
                Severity.WARNING,
                f"The model's {name} optimizer has learning rate {lr:g}{note}: far too small to train in a usual "
                "number of epochs.",
                evidence=ev,
                cause="underfitting",
                fix=Fix(
                    "Raise the learning rate",
                    "model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), ...)"
                    if name == "Adadelta"
                    else fix.snippet,
                ),
                explanation="With steps this small the weights stay near their initialization for many epochs; the "
                "model underfits and its train/validation gap says nothing about generalization.",
            )
        ]
    return []


def optimizer_code(name: str, learning_rate: float) -> str:
    """Python that builds optimizer `name` with `learning_rate`, safe for any name a model file gives.

    A name of Keras' own (`DEFAULT_LEARNING_RATES`) is written as its class; any other
    goes into `keras.optimizers.get` as a string literal (`repr`), so it cannot add code.
    """
    if name in DEFAULT_LEARNING_RATES:
        return f"keras.optimizers.{name}(learning_rate={learning_rate:g})"
    return (
        f"keras.optimizers.get({{'class_name': {python_literal(name)}, "
        f"'config': {{'learning_rate': {learning_rate:g}}}}})"
    )
