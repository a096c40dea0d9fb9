"""MDL: the output layer against the loss and the classes (MDL001, MDL002, MDL009, MDL010).

See `cifar_doctor.checks.model` for what Keras does that these checks rest on.
"""

from __future__ import annotations

import math
from typing import Any

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.history import ASSUMED_CLASSES
from ...registry import register
from ...sources.losses import BINARY_LOSSES, REGRESSION_LOSSES, canonical_loss_name

#: Cross-entropies that expect one probability distribution over K classes.
CATEGORICAL_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_focal_crossentropy")


#: Output activations whose values can be negative: never valid probabilities.
SIGNED_ACTIVATIONS = {
    "linear",
    "tanh",
    "elu",
    "selu",
    "leaky_relu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "softsign",
    "hard_silu",
    "hard_swish",
    "p_re_lu",
    "prelu",
    "celu",
    "glu",
    "log_softmax",
}


#: Non-negative activations that Keras' sum-normalisation turns into a (poor) distribution.
NONNEGATIVE_ACTIVATIONS = {"relu", "relu6", "softplus", "exponential", "hard_sigmoid", "sigmoid"}


#: With at least this many labels per model output, a class that the labels never
#: use is not a sampling accident: under balanced classes the chance that one
#: class is absent from 20*K draws is about K * exp(-20), below 1e-7.
MIN_LABELS_PER_OUTPUT = 20


_DENSE_SNIPPET = (
    "from keras import layers\n"
    "# probabilities out, loss on probabilities:\n"
    'outputs = layers.Dense({k}, activation="softmax")(x)\n'
    'model.compile(loss="{loss}", optimizer="adam", metrics=["accuracy"])\n'
    "# or keep the linear output and tell the loss it gets logits:\n"
    'model.compile(loss=keras.losses.{cls}(from_logits=True), optimizer="adam", metrics=["accuracy"])'
)


_LOSS_CLASS = {
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
}


def classes_from_labels(inputs: Any) -> tuple[int | None, str | None]:
    """(K, how it was read) from the training labels alone, ignoring the model."""
    tr = inputs.train
    if tr is None or tr.y is None:
        return None, None
    y = tr.y
    if getattr(y, "ndim", 0) == 2 and y.shape[1] > 1:
        return int(y.shape[1]), "one-hot width"
    info = tr.labels(inputs.classes)
    if info is None or info.encoding not in ("integer", "integer-column") or info.max_value is None:
        return None, None
    if not math.isfinite(info.max_value):
        return None, None
    return int(info.max_value) + 1, "largest integer label + 1"


@register("MDL001", "output-activation-loss-mismatch", requires=("model", "loss"), cause="output-loss-mismatch")
def output_activation_loss_mismatch(inputs: Inputs) -> list[Finding]:
    """Compare the model's last activation with its loss and `from_logits`.

    ## What it does
    Compares the activation of the model's output layer with the loss it is
    trained with and the loss's `from_logits` setting.

    ## Why is this bad?
    With `from_logits=False` (the default) Keras treats the outputs as
    probabilities: it divides them by their sum, clips them to [1e-7, 1 - 1e-7]
    and takes the log. A linear output (logits) is then scored on clipped
    nonsense, learning is crippled and the reported loss is meaningless. A
    softmax output with `from_logits=True` applies softmax twice except where
    Keras on TensorFlow silently repairs it. A sigmoid output with a
    categorical loss, or a softmax output with `binary_crossentropy` over many
    classes, scores independent yes/no outputs as one distribution (or the
    reverse), and `Dense(1, activation="softmax")` outputs 1.0 whatever the input.

    ## Example
    ```python
    model.add(Dense(10))                      # no activation: logits
    model.compile(loss="categorical_crossentropy", ...)
    ```

    ## Use instead
    ```python
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", ...)
    # or: loss=keras.losses.CategoricalCrossentropy(from_logits=True) with Dense(10)
    ```
    """
    m = inputs.model
    act = m.last_activation
    loss = inputs.effective_loss
    raw_fl = inputs.effective_from_logits
    from_logits = bool(raw_fl)
    units = m.output_units
    k = inputs.num_classes
    if act is None:
        return []
    ev = {
        "last_activation": act,
        "loss": loss,
        "from_logits": raw_fl if raw_fl is not None else False,
        "from_logits_given": raw_fl is not None,
        "output_units": units,
        "classes": k,
        "loss_source": "{loss_arg}" if inputs.loss else "compiled model",
    }
    findings = []
    if act == "softmax" and units == 1:
        findings.append(
            output_activation_loss_mismatch.finding(
                Severity.ERROR,
                "The model ends in softmax over a single unit: its output is 1.0 for every image.",
                evidence=ev,
                explanation="Softmax normalises across the output units; over one unit it is constant, so the "
                "predictions carry no information whatever the weights learn.",
                fix=Fix(
                    'Use Dense(1, activation="sigmoid") for two classes, or one unit per class with softmax',
                    'outputs = layers.Dense(1, activation="sigmoid")(x)   # binary_crossentropy\n'
                    '# or, K classes:\noutputs = layers.Dense(K, activation="softmax")(x)',
                ),
            )
        )
        return findings
    outputs = units or k or ASSUMED_CLASSES
    # `loss` and `cls` enter the snippets below as written: both are names of this module's
    # tables (`_LOSS_CLASS`), never free text from a model file
    if loss in CATEGORICAL_LOSSES:
        cls = _LOSS_CLASS[loss]
        if act in SIGNED_ACTIVATIONS and not from_logits:
            findings.append(
                output_activation_loss_mismatch.finding(
                    Severity.ERROR,
                    f"The model's output is '{act}' (logits, can be negative) but {loss} is computed with "
                    f"from_logits=False: Keras treats these outputs as probabilities.",
                    evidence=ev,
                    explanation="Keras divides the outputs by their sum and clips them to [1e-7, 1 - 1e-7] before "
                    "the log, so negative logits all count as probability 1e-7: the loss is not the "
                    "cross-entropy, its gradients are mostly zero, and accuracy and loss curves of "
                    "train and validation stop meaning what they seem to.",
                    fix=Fix(
                        f'Add activation="softmax" to the last Dense, or use {cls}(from_logits=True)',
                        _DENSE_SNIPPET.format(k=outputs, loss=loss, cls=cls),
                    ),
                )
            )
        elif act == "softmax" and from_logits:
            findings.append(
                output_activation_loss_mismatch.finding(
                    Severity.WARNING,
                    f"The model's output is already a softmax but {loss} is told from_logits=True.",
                    evidence=ev,
                    explanation="The loss applies softmax again to probabilities, which squashes them towards "
                    "uniform and shrinks the gradients. Keras 3 on TensorFlow detects a softmax "
                    "output, uses its logits and prints a UserWarning, so training there is unharmed; "
                    "with JAX or PyTorch, Keras 2, or a loss computed by hand, it is not.",
                    fix=Fix(
                        "Remove from_logits=True (the output is a softmax), or drop the softmax activation",
                        f'model.compile(loss="{loss}", ...)   # from_logits=False with a softmax output',
                    ),
                )
            )
        elif act in NONNEGATIVE_ACTIVATIONS and not from_logits and outputs > 2:
            findings.append(
                output_activation_loss_mismatch.finding(
                    Severity.WARNING,
                    f"The model's output is '{act}' over {outputs} units, but {loss} expects one probability "
                    "distribution (a softmax).",
                    evidence=ev,
                    explanation=f"'{act}' outputs do not sum to 1; Keras renormalises them by their sum before the "
                    "log, which is not a softmax cross-entropy (Keras 3 on TensorFlow scores a sigmoid "
                    "output through its logits instead). The outputs cannot be read as class "
                    "probabilities either way.",
                    fix=Fix(
                        'Use activation="softmax" on the output layer',
                        f'outputs = layers.Dense({outputs}, activation="softmax")(x)',
                    ),
                )
            )
    elif loss in BINARY_LOSSES:
        cls = _LOSS_CLASS[loss]
        if act in SIGNED_ACTIVATIONS and not from_logits:
            findings.append(
                output_activation_loss_mismatch.finding(
                    Severity.ERROR,
                    f"The model's output is '{act}' (logits) but {loss} is computed with from_logits=False.",
                    evidence=ev,
                    explanation="Keras clips the outputs to [1e-7, 1 - 1e-7] as if they were sigmoid "
                    "probabilities: negative logits all count as 1e-7 and the loss is not the "
                    "cross-entropy.",
                    fix=Fix(
                        f'Add activation="sigmoid" to the last layer, or use {cls}(from_logits=True)',
                        f'outputs = layers.Dense({units or 1}, activation="sigmoid")(x)\n'
                        f"# or: model.compile(loss=keras.losses.{cls}(from_logits=True), ...)",
                    ),
                )
            )
        elif act == "sigmoid" and from_logits:
            findings.append(
                output_activation_loss_mismatch.finding(
                    Severity.WARNING,
                    f"The model's output is already a sigmoid but {loss} is told from_logits=True.",
                    evidence=ev,
                    explanation="The loss applies a second sigmoid, which keeps every prediction within "
                    "[0.5, 0.73]. Keras 3 on TensorFlow repairs this silently (with a UserWarning); "
                    "other backends and Keras 2 do not.",
                    fix=Fix("Remove from_logits=True, or drop the sigmoid activation"),
                )
            )
        elif act == "softmax" and outputs > 2:
            findings.append(
                output_activation_loss_mismatch.finding(
                    Severity.WARNING,
                    f"The model ends in softmax over {outputs} classes but is trained with {loss}, which scores each "
                    "output as an independent yes/no question.",
                    evidence=ev,
                    explanation="For single-label classification over more than two classes the loss is "
                    "categorical cross-entropy. With binary_crossentropy, tf.keras 2 and standalone "
                    "Keras turn metrics=['accuracy'] into binary accuracy per output, so a model "
                    f"predicting no class at all scores {1 - 1 / outputs:.0%}: reported accuracy is inflated.",
                    fix=Fix(
                        "Use categorical_crossentropy (one-hot labels) or sparse_categorical_crossentropy "
                        "(integer labels)",
                        'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])',
                    ),
                )
            )
    return findings


@register("MDL002", "output-units-vs-classes", requires=("model", "labels"), cause="label-format-mismatch")
def output_units_vs_classes(inputs: Inputs) -> list[Finding]:
    """Compare the model's output units with the number of classes in the labels.

    ## What it does
    Compares the units of the model's last layer with the number of classes the
    labels hold: the one-hot width, or the largest integer label + 1 (or
    `--classes`). A regressor (one linear output unit and a regression loss,
    `REGRESSION_LOSSES`: mean squared error and the like) has targets, not
    classes, and is not compared.

    ## Why is this bad?
    One-hot labels wider or narrower than the output make `fit` fail; integer
    labels at or above the number of outputs index past the output (an error on
    CPU, silent garbage or NaN on GPU). A model with more outputs than the labels
    ever use wastes probability mass on classes that never occur.

    ## Example
    ```python
    model.add(Dense(100, activation="softmax"))   # CIFAR-100 head
    model.fit(x_train, y_train_cifar10, ...)      # 10 classes
    ```

    ## Use instead
    ```python
    model.add(Dense(10, activation="softmax"))    # one unit per class
    ```
    """
    m = inputs.model
    units = m.output_units
    if units is None:
        return []
    k_labels, how = classes_from_labels(inputs)
    explicit = inputs.classes
    k = explicit or k_labels
    if k is None:
        return []
    tr = inputs.train
    n = int(len(tr.y)) if tr is not None and tr.y is not None else 0
    act = m.last_activation
    ev = {
        "output_units": units,
        "classes": k,
        "classes_from": "{classes_arg}" if explicit else how,
        "label_classes": k_labels,
        "labels": n,
        "last_activation": act,
        "loss": inputs.effective_loss,
    }
    fix_units = Fix(
        f'Give the last layer one unit per class: Dense({k}, activation="softmax")',
        f'outputs = layers.Dense({k}, activation="softmax")(x)',
    )
    loss = inputs.effective_loss
    if units == 1 and act in ("linear", None) and loss and canonical_loss_name(loss, strict=False) in REGRESSION_LOSSES:
        return []  # a regressor: one linear unit and a regression loss; its targets are not classes
    if units == 1:
        if k <= 2 and act in ("sigmoid", "linear"):
            return []  # a binary head: one sigmoid unit (or its logit) for two classes
        return [
            output_units_vs_classes.finding(
                Severity.ERROR,
                f"The model has 1 output unit but the labels hold {k} classes.",
                evidence=ev,
                explanation="One unit can only separate two classes; with more, the model cannot express "
                "the labels and accuracy is capped near the largest class's share.",
                fix=fix_units,
            )
        ]
    if k_labels is not None and how == "one-hot width" and k_labels != units:
        return [
            output_units_vs_classes.finding(
                Severity.ERROR,
                f"The labels are one-hot with {k_labels} columns but the model has {units} output units.",
                evidence=ev,
                explanation="Categorical cross-entropy compares each label row with the output row; with "
                "different widths Keras refuses to train, or the classes are scored against the "
                "wrong outputs.",
                fix=fix_units if k_labels > 1 else None,
            )
        ]
    if k > units:
        return [
            output_units_vs_classes.finding(
                Severity.ERROR,
                f"The labels hold {k} classes ({ev['classes_from']}) but the model has only {units} output units.",
                evidence=ev,
                explanation=f"Labels {units} and above have no output to score: sparse categorical "
                "cross-entropy fails on CPU and yields garbage or NaN on GPU.",
                fix=fix_units,
            )
        ]
    if k < units:
        if explicit:
            return [
                output_units_vs_classes.finding(
                    Severity.ERROR,
                    f"{{classes_arg}} says {k} classes but the model has {units} output units.",
                    evidence=ev,
                    explanation="Each class needs exactly one output unit.",
                    fix=fix_units,
                )
            ]
        if n >= MIN_LABELS_PER_OUTPUT * units:
            return [
                output_units_vs_classes.finding(
                    Severity.WARNING,
                    f"The model has {units} output units but {n} training labels use only classes 0-{k - 1}.",
                    evidence={**ev, "min_labels_per_output": MIN_LABELS_PER_OUTPUT},
                    explanation=f"With {n} labels, a class that exists would almost surely appear; the extra "
                    f"{units - k} outputs are never the right answer, which suggests the head was "
                    "built for another dataset.",
                    fix=fix_units,
                )
            ]
    return []


@register("MDL009", "softmax-applied-twice", requires=("model",), cause="output-loss-mismatch")
def softmax_applied_twice(inputs: Inputs) -> list[Finding]:
    """Two softmax activations in a row at the output: probabilities squashed towards uniform.

    ## What it does
    Reads the activations of the model's layers in order, skipping layers
    that have none (pooling, Dropout, Flatten, Reshape), and fires when the
    output softmax directly follows another softmax.

    ## Why is this bad?
    softmax(softmax(z)) sees inputs in [0, 1]: the largest probability it can
    give out of K classes is e / (e + K - 1) (0.23 for K = 10), so the loss
    cannot go below about -ln 0.23 = 1.46 however well the model ranks the
    classes, gradients are tiny and training crawls. It comes from
    `Dense(10, activation="softmax")` followed by `Activation("softmax")`, or a
    `Softmax()` layer appended to a model that already ends in one.

    ## Example
    ```python
    model.add(layers.Dense(10, activation="softmax"))
    model.add(layers.Softmax())
    ```

    ## Use instead
    ```python
    model.add(layers.Dense(10, activation="softmax"))   # one softmax
    ```
    """
    m = inputs.model
    # layers without an activation (pooling, dropout, reshaping) pass values through;
    # a Dense with a linear activation between two softmaxes does not
    acts = [a for a in m.activations if a is not None]
    if len(acts) < 2 or acts[-1] != "softmax" or acts[-2] != "softmax":
        return []
    k = m.output_units or ASSUMED_CLASSES
    ceiling = math.e / (math.e + k - 1)
    return [
        softmax_applied_twice.finding(
            Severity.ERROR,
            f"The model applies softmax twice at its output: its largest probability is at most {ceiling:.2f} for "
            f"{k} classes.",
            evidence={
                "activations": [a for a in m.activations if a],
                "output_units": k,
                "max_probability": round(ceiling, 4),
                "loss_floor": round(-math.log(ceiling), 4),
            },
            fix=Fix(
                "Remove the second softmax", 'model.add(layers.Dense(10, activation="softmax"))  # and nothing after'
            ),
            explanation=(
                f"A softmax of probabilities can give at most e/(e+K-1) = {ceiling:.2f}, so the loss cannot "
                f"fall below {-math.log(ceiling):.2f} and gradients are small: the model learns slowly and "
                "its loss and accuracy curves mislead."
            ),
        )
    ]


#: Hidden layers with sigmoid (or hard sigmoid) activations in a stack of this many or
#: more: a sigmoid's derivative is at most 0.25, so the gradient reaching the first of
#: four such layers is at most 0.25^4 = 0.004 of what reaches the last.
STACKED_SIGMOID_LAYERS = 4


SATURATING_ACTIVATIONS = {"sigmoid", "hard_sigmoid"}


@register("MDL010", "stacked-sigmoid-layers", requires=("model",), cause="not-learning")
def stacked_sigmoid_layers(inputs: Inputs) -> list[Finding]:
    """Many hidden layers use sigmoid activations: gradients vanish before they reach the first layers.

    ## What it does
    Counts the hidden (non-output) layers with a sigmoid activation and fires
    (warning) at `STACKED_SIGMOID_LAYERS` (4) or more.

    ## Why is this bad?
    The sigmoid's derivative is at most 0.25 and near 0 once a unit
    saturates; backpropagation multiplies one such factor per layer, so the
    first layers of a deep sigmoid stack receive almost no gradient and the
    network learns slowly or not at all (the reason ReLU replaced sigmoid in
    hidden layers).

    ## Example
    ```python
    for _ in range(4):
        model.add(layers.Dense(128, activation="sigmoid"))
    ```

    ## Use instead
    ```python
    model.add(layers.Dense(128, activation="relu"))   # hidden layers; sigmoid/softmax only at the output
    ```
    """
    m = inputs.model
    hidden = [(cls, a) for cls, a in zip(m.layers, m.activations) if a is not None][:-1]
    n = sum(1 for _, a in hidden if a in SATURATING_ACTIVATIONS)
    if n < STACKED_SIGMOID_LAYERS:
        return []
    return [
        stacked_sigmoid_layers.finding(
            Severity.WARNING,
            f"{n} hidden layers use a sigmoid activation: the gradient reaching the first is at most "
            f"0.25^{n} = {0.25**n:.1e} of the last one's.",
            evidence={
                "sigmoid_hidden_layers": n,
                "threshold": STACKED_SIGMOID_LAYERS,
                "layers": [f"{cls}({a})" for cls, a in hidden],
            },
            fix=Fix("Use relu in hidden layers", 'layers.Dense(128, activation="relu")'),
            explanation="Each sigmoid layer scales the gradient by at most 0.25, so a stack of them starves the first "
            "layers of gradient: the network barely learns, and its curves show underfitting, not a gap.",
        )
    ]
