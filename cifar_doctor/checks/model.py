"""MDL: the model's structure against its loss and its data.

These checks read `inputs.model`, a `cifar_doctor.inputs.ModelInfo` (plain facts
read off a Keras model by `cifar_doctor.sources.models`); they never import
TensorFlow or Keras.

What Keras 3 actually does, which the judgements below rest on (TensorFlow
backend, verified against `model.evaluate`):

- `categorical_crossentropy` / `sparse_categorical_crossentropy` with
  `from_logits=False` divide the outputs by their sum, clip them to
  [1e-7, 1 - 1e-7] and take the log. Fed logits (a linear output), negative
  values are clipped to 1e-7: the loss is wrong and learning is crippled.
- A softmax or sigmoid output tensor carries its logits (`_keras_logits`),
  and every cross-entropy uses them when present, whatever `from_logits` says:
  softmax + `from_logits=True` trains correctly there (with a UserWarning), but
  applies softmax twice in JAX/PyTorch, in Keras 2 and in any loss computed
  outside Keras.
"""

from __future__ import annotations

import math
from typing import Any

from ..findings import Fix, Severity
from ..registry import register
from ..sources.losses import BINARY_LOSSES
from ..measure.stats import RAW_SCHEMES

#: Cross-entropies that expect one probability distribution over K classes.
CATEGORICAL_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                      "categorical_focal_crossentropy")

#: Output activations whose values can be negative: never valid probabilities.
SIGNED_ACTIVATIONS = {"linear", "tanh", "elu", "selu", "leaky_relu", "gelu", "silu", "swish", "mish",
                      "softsign", "hard_silu", "hard_swish", "p_re_lu", "prelu", "celu", "glu", "log_softmax"}
#: Non-negative activations that Keras' sum-normalisation turns into a (poor) distribution.
NONNEGATIVE_ACTIVATIONS = {"relu", "relu6", "softplus", "exponential", "hard_sigmoid", "sigmoid"}

#: With at least this many labels per model output, a class that the labels never
#: use is not a sampling accident: under balanced classes the chance that one
#: class is absent from 20*K draws is about K * exp(-20), below 1e-7.
MIN_LABELS_PER_OUTPUT = 20

#: An in-model scale at or below this (about 1/100) on data already in [0, 1]
#: leaves the first layer inputs within [0, 0.01]: 1/255 applied twice, or
#: 1/127.5 applied to unit data.
DOUBLE_SCALE_MAX = 0.01


_DENSE_SNIPPET = (
    "from keras import layers\n"
    "# probabilities out, loss on probabilities:\n"
    "outputs = layers.Dense({k}, activation=\"softmax\")(x)\n"
    "model.compile(loss=\"{loss}\", optimizer=\"adam\", metrics=[\"accuracy\"])\n"
    "# or keep the linear output and tell the loss it gets logits:\n"
    "model.compile(loss=keras.losses.{cls}(from_logits=True), optimizer=\"adam\", metrics=[\"accuracy\"])"
)
_LOSS_CLASS = {"categorical_crossentropy": "CategoricalCrossentropy",
               "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
               "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
               "binary_crossentropy": "BinaryCrossentropy",
               "binary_focal_crossentropy": "BinaryFocalCrossentropy"}


def _scheme(split: Any) -> str | None:
    """The split's normalization scheme from the shared `ImageStats`, or None."""
    try:
        stats = split.stats
    except ImportError:  # the statistics module is unavailable
        return None
    return getattr(stats, "scheme", None) if stats is not None else None


def _classes_from_labels(inputs: Any) -> tuple[int | None, str | None]:
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
def output_activation_loss_mismatch(inputs):
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
    ev = {"last_activation": act, "loss": loss, "from_logits": raw_fl if raw_fl is not None else False,
          "from_logits_given": raw_fl is not None, "output_units": units, "classes": k,
          "loss_source": "--loss" if inputs.loss else "compiled model"}
    findings = []
    if act == "softmax" and units == 1:
        findings.append(output_activation_loss_mismatch.finding(
            Severity.ERROR,
            "The model ends in softmax over a single unit: its output is 1.0 for every image.",
            evidence=ev,
            explanation="Softmax normalises across the output units; over one unit it is constant, so the "
                        "predictions carry no information whatever the weights learn.",
            fix=Fix("Use Dense(1, activation=\"sigmoid\") for two classes, or one unit per class with softmax",
                    "outputs = layers.Dense(1, activation=\"sigmoid\")(x)   # binary_crossentropy\n"
                    "# or, K classes:\noutputs = layers.Dense(K, activation=\"softmax\")(x)"),
        ))
        return findings
    kk = units or k or 10
    if loss in CATEGORICAL_LOSSES:
        cls = _LOSS_CLASS[loss]
        if act in SIGNED_ACTIVATIONS and not from_logits:
            findings.append(output_activation_loss_mismatch.finding(
                Severity.ERROR,
                f"The model's output is '{act}' (logits, can be negative) but {loss} is computed with "
                f"from_logits=False: Keras treats these outputs as probabilities.",
                evidence=ev,
                explanation="Keras divides the outputs by their sum and clips them to [1e-7, 1 - 1e-7] before "
                            "the log, so negative logits all count as probability 1e-7: the loss is not the "
                            "cross-entropy, its gradients are mostly zero, and accuracy and loss curves of "
                            "train and validation stop meaning what they seem to.",
                fix=Fix(f"Add activation=\"softmax\" to the last Dense, or use {cls}(from_logits=True)",
                        _DENSE_SNIPPET.format(k=kk, loss=loss, cls=cls)),
            ))
        elif act == "softmax" and from_logits:
            findings.append(output_activation_loss_mismatch.finding(
                Severity.WARNING,
                f"The model's output is already a softmax but {loss} is told from_logits=True.",
                evidence=ev,
                explanation="The loss applies softmax again to probabilities, which squashes them towards "
                            "uniform and shrinks the gradients. Keras 3 on TensorFlow detects a softmax "
                            "output, uses its logits and prints a UserWarning, so training there is unharmed; "
                            "with JAX or PyTorch, Keras 2, or a loss computed by hand, it is not.",
                fix=Fix("Remove from_logits=True (the output is a softmax), or drop the softmax activation",
                        f"model.compile(loss=\"{loss}\", ...)   # from_logits=False with a softmax output"),
            ))
        elif act in NONNEGATIVE_ACTIVATIONS and not from_logits and kk > 2:
            findings.append(output_activation_loss_mismatch.finding(
                Severity.WARNING,
                f"The model's output is '{act}' over {kk} units, but {loss} expects one probability "
                "distribution (a softmax).",
                evidence=ev,
                explanation=f"'{act}' outputs do not sum to 1; Keras renormalises them by their sum before the "
                            "log, which is not a softmax cross-entropy (Keras 3 on TensorFlow scores a sigmoid "
                            "output through its logits instead). The outputs cannot be read as class "
                            "probabilities either way.",
                fix=Fix("Use activation=\"softmax\" on the output layer",
                        f"outputs = layers.Dense({kk}, activation=\"softmax\")(x)"),
            ))
    elif loss in BINARY_LOSSES:
        cls = _LOSS_CLASS[loss]
        if act in SIGNED_ACTIVATIONS and not from_logits:
            findings.append(output_activation_loss_mismatch.finding(
                Severity.ERROR,
                f"The model's output is '{act}' (logits) but {loss} is computed with from_logits=False.",
                evidence=ev,
                explanation="Keras clips the outputs to [1e-7, 1 - 1e-7] as if they were sigmoid "
                            "probabilities: negative logits all count as 1e-7 and the loss is not the "
                            "cross-entropy.",
                fix=Fix(f"Add activation=\"sigmoid\" to the last layer, or use {cls}(from_logits=True)",
                        f"outputs = layers.Dense({units or 1}, activation=\"sigmoid\")(x)\n"
                        f"# or: model.compile(loss=keras.losses.{cls}(from_logits=True), ...)"),
            ))
        elif act == "sigmoid" and from_logits:
            findings.append(output_activation_loss_mismatch.finding(
                Severity.WARNING,
                f"The model's output is already a sigmoid but {loss} is told from_logits=True.",
                evidence=ev,
                explanation="The loss applies a second sigmoid, which keeps every prediction within "
                            "[0.5, 0.73]. Keras 3 on TensorFlow repairs this silently (with a UserWarning); "
                            "other backends and Keras 2 do not.",
                fix=Fix("Remove from_logits=True, or drop the sigmoid activation"),
            ))
        elif act == "softmax" and kk > 2:
            findings.append(output_activation_loss_mismatch.finding(
                Severity.WARNING,
                f"The model ends in softmax over {kk} classes but is trained with {loss}, which scores each "
                "output as an independent yes/no question.",
                evidence=ev,
                explanation="For single-label classification over more than two classes the loss is "
                            "categorical cross-entropy. With binary_crossentropy, tf.keras 2 and standalone "
                            "Keras turn metrics=['accuracy'] into binary accuracy per output, so a model "
                            f"predicting no class at all scores {1 - 1 / kk:.0%}: reported accuracy is inflated.",
                fix=Fix("Use categorical_crossentropy (one-hot labels) or sparse_categorical_crossentropy "
                        "(integer labels)",
                        "model.compile(loss=\"categorical_crossentropy\", optimizer=\"adam\", "
                        "metrics=[\"accuracy\"])"),
            ))
    return findings


@register("MDL002", "output-units-vs-classes", requires=("model", "labels"), cause="label-format-mismatch")
def output_units_vs_classes(inputs):
    """Compare the model's output units with the number of classes in the labels.

    ## What it does
    Compares the units of the model's last layer with the number of classes the
    labels hold: the one-hot width, or the largest integer label + 1 (or
    `--classes`).

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
    k_labels, how = _classes_from_labels(inputs)
    explicit = inputs.classes
    k = explicit or k_labels
    if k is None:
        return []
    tr = inputs.train
    n = int(len(tr.y)) if tr is not None and tr.y is not None else 0
    act = m.last_activation
    ev = {"output_units": units, "classes": k, "classes_from": "--classes" if explicit else how,
          "label_classes": k_labels, "labels": n, "last_activation": act, "loss": inputs.effective_loss}
    fix_units = Fix(f"Give the last layer one unit per class: Dense({k}, activation=\"softmax\")",
                    f"outputs = layers.Dense({k}, activation=\"softmax\")(x)")
    if units == 1:
        if k <= 2 and act in ("sigmoid", "linear"):
            return []  # a binary head: one sigmoid unit (or its logit) for two classes
        return [output_units_vs_classes.finding(
            Severity.ERROR,
            f"The model has 1 output unit but the labels hold {k} classes.",
            evidence=ev,
            explanation="One unit can only separate two classes; with more, the model cannot express "
                        "the labels and accuracy is capped near the largest class's share.",
            fix=fix_units,
        )]
    if k_labels is not None and how == "one-hot width" and k_labels != units:
        return [output_units_vs_classes.finding(
            Severity.ERROR,
            f"The labels are one-hot with {k_labels} columns but the model has {units} output units.",
            evidence=ev,
            explanation="Categorical cross-entropy compares each label row with the output row; with "
                        "different widths Keras refuses to train, or the classes are scored against the "
                        "wrong outputs.",
            fix=fix_units if k_labels > 1 else None,
        )]
    if k > units:
        return [output_units_vs_classes.finding(
            Severity.ERROR,
            f"The labels hold {k} classes ({ev['classes_from']}) but the model has only {units} output units.",
            evidence=ev,
            explanation=f"Labels {units} and above have no output to score: sparse categorical "
                        "cross-entropy fails on CPU and yields garbage or NaN on GPU.",
            fix=fix_units,
        )]
    if k < units:
        if explicit:
            return [output_units_vs_classes.finding(
                Severity.ERROR,
                f"--classes says {k} classes but the model has {units} output units.",
                evidence=ev,
                explanation="Each class needs exactly one output unit.",
                fix=fix_units,
            )]
        if n >= MIN_LABELS_PER_OUTPUT * units:
            return [output_units_vs_classes.finding(
                Severity.WARNING,
                f"The model has {units} output units but {n} training labels use only classes 0-{k - 1}.",
                evidence={**ev, "min_labels_per_output": MIN_LABELS_PER_OUTPUT},
                explanation=f"With {n} labels, a class that exists would almost surely appear; the extra "
                            f"{units - k} outputs are never the right answer, which suggests the head was "
                            "built for another dataset.",
                fix=fix_units,
            )]
    return []


@register("MDL003", "missing-in-model-rescaling", requires=("model",), cause=None)
def missing_in_model_rescaling(inputs):
    """Recommend normalizing the pixels inside the model.

    ## What it does
    Looks for a `Rescaling` or `Normalization` layer (or `x / 255.0` in the
    functional API) before the model's first Conv/Dense layer.

    ## Why is this bad?
    When scaling happens outside the model, every pipeline that feeds it (the
    test set, a validation generator, the deployed app) must repeat it exactly.
    Forgetting it once is the most common cause of a validation accuracy that
    lags training: train images divided by 255, test images left raw. A
    `Rescaling` layer inside the model makes the model take raw pixels
    everywhere, so train and test can never diverge again.

    ## Example
    ```python
    x_train = x_train / 255.0          # and x_test?
    model = Sequential([Input((32, 32, 3)), Conv2D(64, 3), ...])
    ```

    ## Use instead
    ```python
    model = Sequential([Input((32, 32, 3)), layers.Rescaling(1.0 / 255), Conv2D(64, 3), ...])
    model.fit(x_train_raw, ...); model.evaluate(x_test_raw, ...)
    ```
    """
    m = inputs.model
    if m.rescaling:
        return []
    schemes = {s.name: _scheme(s) for s in [inputs.train, *inputs.eval_splits] if s is not None and s.x is not None}
    schemes = {k: v for k, v in schemes.items() if v is not None}
    raw = sorted(n for n, sch in schemes.items() if sch in RAW_SCHEMES)
    ev = {"rescaling": [], "first_layers": m.layers[:4], "input_shape": list(m.input_shape or ()),
          "schemes": schemes}
    if raw:
        message = (f"The model has no Rescaling or Normalization layer and the {', '.join(raw)} images "
                   "reach it as raw 0-255 pixels.")
    elif schemes:
        message = ("The model has no Rescaling or Normalization layer: the images are normalized outside it "
                   f"({', '.join(f'{k}: {v}' for k, v in sorted(schemes.items()))}), so every pipeline must "
                   "repeat that step exactly.")
    else:
        message = ("The model has no Rescaling or Normalization layer before its first layer: it relies on "
                   "every data pipeline scaling the pixels the same way.")
    common = sorted(set(schemes.values()))
    scheme = common[0] if len(common) == 1 else None
    if scheme == "symmetric":
        snippet = ("inputs = keras.Input((32, 32, 3))\n"
                   "x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)   # then feed raw 0-255 pixels")
    elif scheme in ("standardized", "imagenet"):
        snippet = ("norm = layers.Normalization(axis=-1)\n"
                   "norm.adapt(x_train_raw)            # per-channel mean and variance, stored in the model\n"
                   "model = keras.Sequential([keras.Input((32, 32, 3)), norm, ...])")
    else:
        snippet = ("model = keras.Sequential([\n"
                   "    keras.Input((32, 32, 3)),\n"
                   "    layers.Rescaling(1.0 / 255),   # raw 0-255 pixels in, for training and test alike\n"
                   "    ...\n"
                   "])")
    return [missing_in_model_rescaling.finding(
        Severity.INFO, message, evidence=ev,
        explanation="Scaling inside the model is applied identically to every split and is saved with the "
                    "model, so a forgotten `/ 255` on the test set can no longer happen.",
        fix=Fix("Put the scaling inside the model with layers.Rescaling(1./255) and feed raw pixels", snippet),
    )]


def in_model_affine(steps: tuple) -> tuple[float, float] | None:
    """Combined (scale, offset) of the in-model normalization steps (`ModelInfo.rescaling_affine`).

    None when there is none, or when a step is per-channel (a `Normalization`
    layer): that is standardization, not a scalar rescaling.
    """
    scale, offset = 1.0, 0.0
    if not steps:
        return None
    for step in steps:
        if not isinstance(step.scale, (int, float)) or not isinstance(step.offset, (int, float)):
            return None
        scale, offset = scale * step.scale, offset * step.scale + step.offset
    return scale, offset


@register("MDL004", "double-rescaling", requires=("model", "train_x"), cause="input-not-normalized")
def double_rescaling(inputs):
    """Find data scaled to [0, 1] that the model scales by 1/255 again.

    ## What it does
    Combines the model's in-model rescaling (`Rescaling(1./255)`, `x / 255.0`)
    with the scheme of the data fed to it, and flags splits already in [0, 1].

    ## Why is this bad?
    Pixels divided by 255 twice span [0, 0.004]: the first layer sees almost
    constant inputs, learning is slow and fragile, and a model trained this
    way breaks as soon as another pipeline feeds it correctly scaled data.

    ## Example
    ```python
    model = Sequential([Input((32, 32, 3)), layers.Rescaling(1./255), ...])
    model.fit(x_train / 255.0, ...)
    ```

    ## Use instead
    ```python
    model.fit(x_train, ...)    # raw 0-255 pixels: the model rescales them
    ```
    """
    m = inputs.model
    affine = in_model_affine(m.rescaling_affine)
    if affine is None:
        return []
    scale, offset = affine
    if not (0 < abs(scale) <= DOUBLE_SCALE_MAX):
        return []
    splits = [s for s in [inputs.train, *inputs.eval_splits] if s is not None and s.x is not None]
    unit = []
    maxima = {}
    for s in splits:
        st = s.stats
        if st is not None and getattr(st, "scheme", None) == "unit":
            unit.append(s.name)
            maxima[s.name] = round(max(st.max), 6) if st.max else None
    if not unit:
        return []
    top = max(v for v in maxima.values() if v is not None) if any(v is not None for v in maxima.values()) else 1.0
    seen = sorted([offset, offset + scale * top])
    return [double_rescaling.finding(
        Severity.WARNING,
        f"The model rescales its input by {scale:.6g} (offset {offset:g}) but the {', '.join(unit)} images are "
        f"already in [0, 1]: the first layer sees values in [{seen[0]:.4g}, {seen[1]:.4g}].",
        evidence={"in_model": list(m.rescaling), "scale": scale, "offset": offset, "unit_splits": unit,
                  "data_max": maxima, "first_layer_range": seen, "double_scale_max": DOUBLE_SCALE_MAX},
        explanation="The data is scaled twice, so its range is squeezed about 255-fold: inputs that are "
                    "nearly constant train slowly, and the model will misbehave on data scaled once.",
        fix=Fix("Feed raw 0-255 pixels (remove the `/ 255` from the data pipeline), or remove the Rescaling "
                "layer",
                "model.fit(x_train_raw, y_train, validation_data=(x_test_raw, y_test))  # model rescales",
                {"split": unit[0], "scale": 255.0, "offset": 0.0,
                 "expression": f"x_{unit[0]} * 255 (undo the outside scaling)"}),
        split=unit[0] if len(unit) == 1 else None,
    )]


def _image_shape(x: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in getattr(x, "shape", ())[1:])


def _matches(data: tuple[int, ...], model: tuple) -> bool:
    return len(data) == len(model) and all(m is None or m == d for d, m in zip(data, model))


@register("MDL005", "input-shape-mismatch", requires=("model", "train_x"), cause="input-layout-mismatch")
def input_shape_mismatch(inputs):
    """Compare the image shape of each split with the model's input shape.

    ## What it does
    Compares each split's image shape (without the batch axis) with the model's
    input shape, and recognises channels-first data for a channels-last model
    (and the reverse), flattened images and a wrong size.

    ## Why is this bad?
    Keras refuses most mismatches, but some get through: a model with flexible
    spatial size (`Input((None, None, 3))`, global pooling) accepts (3, 32, 32)
    images and convolves across the wrong axes, and a layout converted for one
    split but not the other trains on one and evaluates on another.

    ## Example
    ```python
    x_test.shape            # (10000, 3, 32, 32): PyTorch-style NCHW
    model.input_shape       # (None, 32, 32, 3)
    ```

    ## Use instead
    ```python
    x_test = np.transpose(x_test, (0, 2, 3, 1))   # NCHW -> NHWC
    ```
    """
    m = inputs.model
    if not m.input_shape:
        return []
    want = tuple(m.input_shape)
    findings = []
    for s in [inputs.train, *inputs.eval_splits]:
        if s is None or s.x is None:
            continue
        got = _image_shape(s.x)
        exact = len(got) == len(want) and all(w is None or w == g for g, w in zip(got, want))
        ev = {"data_shape": list(got), "model_input_shape": [w for w in want], "split": s.name}
        if exact:
            continue
        if len(got) == 3 and len(want) == 3:
            nhwc = (got[1], got[2], got[0])
            nchw = (got[2], got[0], got[1])
            if _matches(nhwc, want):
                findings.append(input_shape_mismatch.finding(
                    Severity.ERROR,
                    f"The {s.name} images are channels-first {got} but the model expects channels-last "
                    f"{_tup(want)}.",
                    evidence={**ev, "layout": "NCHW data, NHWC model"},
                    explanation="Keras convolutions default to channels_last; fed (C, H, W) the model "
                                "either refuses the data or mixes the colour axis into the image rows.",
                    fix=Fix(f"Transpose the {s.name} images to channels-last",
                            f"x_{s.name} = np.transpose(x_{s.name}, (0, 2, 3, 1))"),
                    split=s.name,
                ))
                continue
            if _matches(nchw, want):
                findings.append(input_shape_mismatch.finding(
                    Severity.ERROR,
                    f"The {s.name} images are channels-last {got} but the model expects channels-first "
                    f"{_tup(want)}.",
                    evidence={**ev, "layout": "NHWC data, NCHW model"},
                    explanation="The model was built with data_format='channels_first'.",
                    fix=Fix(f"Transpose the {s.name} images to channels-first",
                            f"x_{s.name} = np.transpose(x_{s.name}, (0, 3, 1, 2))"),
                    split=s.name,
                ))
                continue
        want_size = math.prod(w for w in want if w is not None) if all(w is not None for w in want) else None
        got_size = math.prod(got) if got else 0
        if want_size is not None and got_size == want_size:
            fix = Fix(f"Reshape the {s.name} images to {_tup(want)}",
                      f"x_{s.name} = x_{s.name}.reshape((-1, {', '.join(str(w) for w in want)}))")
            expl = ("The images hold the right number of values in another shape (flattened, or a "
                    "different axis order); check which axis order they were stored in before reshaping.")
        else:
            fix = Fix(f"Feed images of shape {_tup(want)}: resize or crop them, or build the model for "
                      f"{_tup(got)}",
                      f"model = keras.Sequential([keras.Input({_tup(got)}), ...])")
            expl = "The model cannot take these images as they are."
        findings.append(input_shape_mismatch.finding(
            Severity.ERROR,
            f"The {s.name} images have shape {_tup(got)} but the model expects {_tup(want)}.",
            evidence=ev, explanation=expl, fix=fix, split=s.name,
        ))
    return findings


def _tup(shape: tuple) -> str:
    """Shapes print as Python tuples (Keras style)."""
    return str(tuple(shape))


# --- MDL006 / MDL007: the model measured on its own data --------------------------------
#: Inference-mode accuracy on training images at least this far above every eval
#: split's is overfitting. Sampling noise of the two accuracies (2,000 training and
#: up to 5,000 eval images) stays below 0.03 at two standard errors; a small CNN at a
#: sensible point of training keeps them within about 0.10 on CIFAR-10 (the re-enacted
#: healthy runs: 0.03-0.10); the re-enacted overfit model measures 0.97 against 0.48.
OVERFIT_MEASURED_GAP = 0.15

#: ... and every eval split's error rate at least this many times the training error
#: rate. Memorization drives the training error towards 0 while the eval error stays,
#: so the ratio grows (overfit re-enactment: 0.52 / 0.025 = 21; leaked-test run:
#: 2.3); a model that merely has not finished learning errs about as often on both
#: (the standardized healthy run: 0.48 / 0.36 = 1.3, at a 0.12 gap).
OVERFIT_ERROR_RATIO = 1.5


def _measured(inputs):
    from ..measure.model import measure_model

    m = measure_model(inputs)
    if m is None or m.train is None or not m.evals:
        return None
    return m


def _model_classes(inputs) -> int:
    """K as resolved for the inputs (given, model outputs, labels, log); 10 when nothing tells."""
    return inputs.num_classes or 10


def _schemes_differ(inputs) -> bool:
    """Train and an eval split arrive on different input scales: the PRE checks explain that gap."""
    tr = _scheme(inputs.train)
    return any(_scheme(s) != tr for s in inputs.eval_splits)


def _scores_text(m) -> str:
    return ", ".join(f"{s.split} {s.accuracy:.3f} (loss {s.loss:.3g}, {s.images} images)" for s in (m.train, *m.evals))


@register("MDL006", "measured-generalization-gap",
          requires=("evaluator", "train_x", "labels", "eval_x", "eval_labels"), cause="overfitting")
def measured_generalization_gap(inputs):
    """Evaluate the model on training images and on each eval split, in inference mode, and compare.

    ## What it does
    Evaluates the model on up to 2,000 evenly spaced training images, as they
    were fed, and on up to 5,000 images of each eval split, in inference mode
    (dropout off, BatchNorm on its moving statistics). Fires (warning) when
    training accuracy beats every eval split by at least
    `OVERFIT_MEASURED_GAP` (0.15) and every eval error rate is at least
    `OVERFIT_ERROR_RATIO` (1.5) times the training error rate; otherwise it
    reports the measured accuracies (info). Silent when the splits arrive on different input
    scales (the PRE checks explain that gap) or when the model is at chance
    everywhere (MDL007).

    ## Why is this bad?
    The accuracies Keras logs during `fit` are measured in training mode and
    averaged over an epoch of changing weights, so the logged gap mixes
    generalization with dropout and timing. Measured on the finished model
    in inference mode, a large gap between images it trained on and images
    it did not is overfitting itself: the model memorized its training set.
    A small gap rules overfitting out, whatever the logs suggested.

    ## Example
    ```
    cifar-doctor check --data data.npz --model model.keras
    # train 0.968, test 0.477: the model fits its training images far better
    ```

    ## Use instead
    ```python
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)]
    ```
    and add data (augmentation), dropout or weight decay, or use a smaller model.
    """
    m = _measured(inputs)
    if m is None or _schemes_differ(inputs):
        return []
    k = _model_classes(inputs)
    if _all_at_chance(m, k):
        return []
    gaps = {s.split: m.train.accuracy - s.accuracy for s in m.evals}
    smallest = min(gaps.values())
    train_error = 1.0 - m.train.accuracy
    error_ratio = min((1.0 - s.accuracy) / max(train_error, 1e-9) for s in m.evals)
    evidence = {"train": m.train.to_dict(), "eval": [s.to_dict() for s in m.evals],
                "gap": {n: round(g, 4) for n, g in gaps.items()}, "threshold": OVERFIT_MEASURED_GAP,
                "error_ratio": round(error_ratio, 3), "error_ratio_threshold": OVERFIT_ERROR_RATIO,
                "mode": "inference", "errors": list(m.errors)}
    if smallest >= OVERFIT_MEASURED_GAP and error_ratio >= OVERFIT_ERROR_RATIO:
        return [measured_generalization_gap.finding(
            Severity.WARNING,
            f"Measured in inference mode, the model scores {m.train.accuracy:.3f} on training images and "
            f"{', '.join(f'{s.accuracy:.3f} on {s.split}' for s in m.evals)}: a gap of at least {smallest:.3f}.",
            evidence=evidence,
            fix=Fix("Stop earlier and regularize: EarlyStopping, augmentation, dropout, weight decay",
                    'keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)'),
            explanation=(
                "Both accuracies come from the finished model in inference mode on data preprocessed the same way, "
                f"so the {smallest:.2f} gap is not dropout or a pipeline difference: the model fits images it "
                "trained on far better than images it did not. That is overfitting."
            ),
        )]
    return [measured_generalization_gap.finding(
        Severity.INFO,
        f"Measured in inference mode: {_scores_text(m)}; the training-eval gap ({smallest:.3f}, eval errors "
        f"{error_ratio:.2f}x the training errors) is below {OVERFIT_MEASURED_GAP} / {OVERFIT_ERROR_RATIO}x: "
        "not overfitting.",
        evidence=evidence,
        fix=Fix("Nothing to fix for overfitting"),
        explanation="The finished model scores about as well on unseen images as on its training images.",
        cause=None,
    )]


def _all_at_chance(m, k: int) -> bool:
    from ..measure.history import chance_accuracy_band

    band = chance_accuracy_band(k)
    return all(s.accuracy <= 1.0 / k + band for s in (m.train, *m.evals))


@register("MDL007", "model-at-chance", requires=("evaluator", "train_x", "labels"), cause="not-learning")
def model_at_chance(inputs):
    """The model scores chance on its own training images: it has not learned.

    ## What it does
    Evaluates the model in inference mode on up to 2,000 training images and
    on the eval splits (see MDL006). Fires (warning) when every accuracy lies
    within the chance band of 1/K (K from the labels or the model's outputs).
    A model at chance is a symptom: a finding that names why (labels encoded
    for another loss, an output the loss does not expect) takes precedence.

    ## Why is this bad?
    A model that learned anything scores above chance on the very images it
    was trained on. At chance everywhere, there is no generalization gap to
    discuss: the training itself failed. Usual causes: a learning rate so high
    that the ReLUs died in the first steps (the re-enacted `SGD(learning_rate=1.0)`
    run predicts class 9 for every image), unnormalized inputs, labels
    shuffled independently of the images, or an untrained model file.

    ## Example
    ```
    cifar-doctor check --data data.npz --model model.keras
    # train 0.100, test 0.109 with 10 classes
    ```

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 255.0
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=["accuracy"])
    ```
    """
    from ..measure.model import measure_model

    m = measure_model(inputs)
    if m is None or m.train is None:
        return []
    k = _model_classes(inputs)
    if not _all_at_chance(m, k):
        return []
    return [model_at_chance.finding(
        Severity.WARNING,
        f"Measured in inference mode, the model scores chance (1/{k} = {1 / k:.3f}): {_scores_text(m)}.",
        evidence={"train": m.train.to_dict(), "eval": [s.to_dict() for s in m.evals], "classes": k,
                  "chance": round(1 / k, 4), "mode": "inference", "errors": list(m.errors)},
        fix=Fix("Make the network learn: normalize inputs, use a sane learning rate, check the label order",
                'x_train = x_train.astype("float32") / 255.0\n'
                "model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=[\"accuracy\"])"),
        explanation=(
            "A model that learned anything scores above chance on its own training images; this one does not, "
            "so the training failed and no train/validation gap can be read from it."
        ),
        split="train",
    )]


# --- MDL008: the optimizer's learning rate --------------------------------------------------
#: The usual learning rate per optimizer: Keras' default, except Adadelta, whose
#: algorithm needs about 1.0 (Keras 2's default; see `TINY_LR_FACTOR`). Adaptive
#: optimizers (Adam and its family, RMSprop) scale each step to about the learning
#: rate whatever the gradient, so their usable range is narrow around 1e-3; plain
#: SGD scales with the gradient.
DEFAULT_LEARNING_RATES = {"Adam": 1e-3, "AdamW": 1e-3, "Adamax": 1e-3, "Nadam": 1e-3, "RMSprop": 1e-3,
                          "Adagrad": 1e-3, "Adafactor": 1e-3, "Lion": 1e-4, "Lamb": 1e-3, "Ftrl": 1e-3,
                          "SGD": 1e-2, "Adadelta": 1.0}

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
def learning_rate_out_of_range(inputs):
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
    ev = {"optimizer": name, "learning_rate": lr, "usual_learning_rate": default,
          "huge_factor": HUGE_LR_FACTOR, "tiny_factor": TINY_LR_FACTOR}
    fix = Fix(f"Use a learning rate near {name}'s default ({default if default else 1e-3:g})",
              f"model.compile(optimizer=keras.optimizers.{name}(learning_rate={default if default else 1e-3:g}), ...)")
    if lr <= 0:
        return [learning_rate_out_of_range.finding(
            Severity.ERROR, f"The model's {name} optimizer has learning rate {lr:g}: it cannot decrease the loss.",
            evidence=ev, fix=fix, cause="not-learning",
            explanation="Gradient descent steps by -learning_rate x gradient; with a learning rate of zero or below "
                        "the weights stand still or climb the loss, so nothing is learned.",
        )]
    if default is None:
        return []
    if lr >= HUGE_LR_FACTOR * default:
        return [learning_rate_out_of_range.finding(
            Severity.WARNING,
            f"The model's {name} optimizer has learning rate {lr:g}, {lr / default:.0f}x its usual {default:g}.",
            evidence=ev, fix=fix,
            explanation="Steps that large throw the weights out of their basin within the first batches: ReLUs die, "
                        "the network settles at chance or the loss becomes NaN.",
        )]
    tiny = lr <= TINY_LR_FACTOR * default or (name == "Adadelta" and lr < ADADELTA_USABLE_LR)
    if tiny:
        note = (" (Keras' Adadelta default; the algorithm and Keras 2 use 1.0)" if name == "Adadelta" else "")
        return [learning_rate_out_of_range.finding(
            Severity.WARNING,
            f"The model's {name} optimizer has learning rate {lr:g}{note}: far too small to train in a usual "
            "number of epochs.",
            evidence=ev, cause="underfitting",
            fix=Fix("Raise the learning rate", "model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), ...)"
                    if name == "Adadelta" else fix.snippet),
            explanation="With steps this small the weights stay near their initialization for many epochs; the "
                        "model underfits and its train/validation gap says nothing about generalization.",
        )]
    return []


# --- MDL009: softmax applied twice --------------------------------------------------------------
@register("MDL009", "softmax-applied-twice", requires=("model",), cause="output-loss-mismatch")
def softmax_applied_twice(inputs):
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
    k = m.output_units or 10
    ceiling = math.e / (math.e + k - 1)
    return [softmax_applied_twice.finding(
        Severity.ERROR,
        f"The model applies softmax twice at its output: its largest probability is at most {ceiling:.2f} for "
        f"{k} classes.",
        evidence={"activations": [a for a in m.activations if a], "output_units": k,
                  "max_probability": round(ceiling, 4), "loss_floor": round(-math.log(ceiling), 4)},
        fix=Fix("Remove the second softmax", 'model.add(layers.Dense(10, activation="softmax"))  # and nothing after'),
        explanation=(f"A softmax of probabilities can give at most e/(e+K-1) = {ceiling:.2f}, so the loss cannot "
                     f"fall below {-math.log(ceiling):.2f} and gradients are small: the model learns slowly and "
                     "its loss and accuracy curves mislead."),
    )]


# --- MDL010: stacked saturating activations ------------------------------------------------------
#: Hidden layers with sigmoid (or hard sigmoid) activations in a stack of this many or
#: more: a sigmoid's derivative is at most 0.25, so the gradient reaching the first of
#: four such layers is at most 0.25^4 = 0.004 of what reaches the last.
STACKED_SIGMOID_LAYERS = 4
SATURATING_ACTIVATIONS = {"sigmoid", "hard_sigmoid"}


@register("MDL010", "stacked-sigmoid-layers", requires=("model",), cause="not-learning")
def stacked_sigmoid_layers(inputs):
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
    return [stacked_sigmoid_layers.finding(
        Severity.WARNING,
        f"{n} hidden layers use a sigmoid activation: the gradient reaching the first is at most "
        f"0.25^{n} = {0.25 ** n:.1e} of the last one's.",
        evidence={"sigmoid_hidden_layers": n, "threshold": STACKED_SIGMOID_LAYERS,
                  "layers": [f"{cls}({a})" for cls, a in hidden]},
        fix=Fix("Use relu in hidden layers", 'layers.Dense(128, activation="relu")'),
        explanation="Each sigmoid layer scales the gradient by at most 0.25, so a stack of them starves the first "
                    "layers of gradient: the network barely learns, and its curves show underfitting, not a gap.",
    )]
