"""RNG: the input range and normalization scheme of each split.

The scheme of every split is inferred by `cifar_doctor.stats.infer_scheme`
(raw 0-255, [0, 1], [-1, 1], standardized, ImageNet-standardized, ...), never
judged against one fixed range: standardized or [-1, 1] inputs are healthy
and raise nothing here.
"""

from __future__ import annotations

from ..findings import Finding, Fix, Severity
from ..inputs import Inputs
from ..measure.stats import RAW_LEVELS, SCHEME_TEXT
from ..registry import register

#: An in-model rescaling layer whose scale is within this relative distance of
#: 1/255 divides by 255 (Keras prints 1./255 as 0.00392156862745098).
RESCALE_255_TOL = 0.02

RESCALING_SNIPPET = """\
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    layers.Rescaling(1.0 / 255),   # the model scales its own inputs
    # ... your layers ...
])
# and feed x_train / x_test as loaded (uint8 0-255). Or, outside the model,
# scale both splits the same way:
# x_train = x_train.astype("float32") / 255
# x_test = x_test.astype("float32") / 255"""


def _split_summary(inputs: Inputs) -> dict[str, dict]:
    out = {}
    for name, split in inputs.splits.items():
        if split.x is None:
            continue
        st = split.stats
        out[name] = {
            "scheme": st.scheme,
            "dtype": st.dtype,
            "min": st.value_min,
            "max": st.value_max,
            "mean": [round(v, 4) for v in st.mean],
            "std": [round(v, 4) for v in st.std],
        }
    return out


@register("RNG001", "inputs-not-normalized", requires=("train_x",), cause="input-not-normalized")
def inputs_not_normalized(inputs: Inputs) -> list[Finding]:
    """Inputs are fed to the network as raw 0-255 pixel values, or as other unscaled intensity levels.

    ## What it does
    Flags data whose every split is on the raw 0-255 scale (uint8 or float),
    or holds whole-number levels from 0 to 8 or more on a narrower scale
    (`stats.RAW_LEVELS`: scikit-learn's digits, 0-16), while the model, if
    given, has no `Rescaling`/`Normalization` layer that scales its inputs.

    ## Why is this bad?
    Keras' default initializers (Glorot uniform) assume inputs of order 1.
    Pixels up to 255 make the first layer's outputs about 100x larger than
    that, so with Adam's default learning rate training is slow and unstable,
    many ReLUs die early, and the model usually plateaus below the same model
    trained on scaled inputs. It is not a train/test mismatch: both splits
    are raw, so the evaluation itself is consistent.

    ## Example
    ```python
    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    model.fit(x_train, y_train, validation_data=(x_test, y_test))
    ```

    ## Use instead
    ```python
    model = keras.Sequential([keras.Input((32, 32, 3)), layers.Rescaling(1.0 / 255), ...])
    ```
    or divide both splits by 255.
    """
    model = inputs.model
    if model is not None and model.rescaling:
        return []
    splits = {n: s for n, s in inputs.splits.items() if s.x is not None}
    if not splits or not all(s.stats.is_raw or s.stats.scheme == RAW_LEVELS for s in splits.values()):
        return []
    summary = _split_summary(inputs)
    names = ", ".join(f"x_{n}" for n in splits)
    maxima = ", ".join(f"{n} {summary[n]['max']:.4g}" for n in splits)
    no_layer = " and the model has no Rescaling or Normalization layer." if model is not None else "."
    evidence = {"splits": summary, "model_rescaling": list(model.rescaling) if model else None}
    if all(s.stats.is_raw for s in splits.values()):
        what = "raw 0-255 pixels"
        fix = Fix(
            "Scale inputs to [0, 1], preferably with layers.Rescaling(1./255) as the model's first layer",
            RESCALING_SNIPPET,
        )
        explanation = (
            "Keras initializes weights for inputs of order 1; raw pixels up to 255 make the first layer's "
            "activations about 100x too large, which slows and destabilizes training and usually costs "
            "accuracy on every split alike."
        )
    else:
        top = max(s.stats.value_max for s in splits.values())
        what = "unscaled whole-number intensity levels"
        evidence["levels_max"] = top
        fix = Fix(
            f"Scale inputs to [0, 1]: divide every split by the largest level ({top:.4g} here; 16 for "
            "scikit-learn's digits, 255 for 8-bit pixels), or put layers.Rescaling first in the model",
            f"x_train = x_train.astype('float32') / {top:.4g}\nx_test = x_test.astype('float32') / {top:.4g}",
        )
        explanation = (
            f"Keras initializes weights for inputs of order 1; levels up to {top:.4g} make the first layer's "
            "activations several times too large. Adaptive optimizers (Adam, RMSprop) often cope; plain SGD "
            "at a usual learning rate diverges or stalls, on every split alike."
        )
    return [
        inputs_not_normalized.finding(
            Severity.WARNING,
            f"Every split is fed as {what} ({names}; max {maxima})" + no_layer,
            evidence=evidence,
            fix=fix,
            explanation=explanation,
        )
    ]


@register("RNG002", "double-scaled-inputs", requires=("train_x",), cause="input-not-normalized")
def double_scaled_inputs(inputs: Inputs) -> list[Finding]:
    """Inputs were divided by 255 twice.

    ## What it does
    Flags splits whose values all lie in [0, 1/255] (the pipeline divided by
    255 twice), and [0, 1] data fed to a model whose first layer divides by 255
    again (`Rescaling(1./255)`).

    ## Why is this bad?
    Inputs of order 0.004 carry almost no signal into the first layer: the
    biases dominate, gradients to the first weights are 255x too small, and
    the network trains as if on nearly black images (accuracy near chance,
    or a long plateau).

    ## Example
    ```python
    x_train = x_train / 255.0
    ...
    x_train = x_train.astype("float32") / 255   # again, in another cell
    ```

    ## Use instead
    Divide by 255 exactly once: either in the data pipeline or with a
    `Rescaling(1./255)` layer in the model, not both.
    """
    findings = []
    for name, split in inputs.splits.items():
        if split.x is None:
            continue
        st = split.stats
        if st.scheme == "double-scaled":
            findings.append(
                double_scaled_inputs.finding(
                    Severity.WARNING,
                    f"x_{name} values lie in [0, 1/255] (max {st.value_max:.3g}): divided by 255 twice.",
                    evidence={
                        "split": name,
                        "scheme": st.scheme,
                        "min": st.value_min,
                        "max": st.value_max,
                        "max_times_255": st.value_max * 255.0,
                    },
                    fix=Fix("Divide by 255 once", f"x_{name} = x_{name}_uint8.astype('float32') / 255"),
                    explanation=(
                        "Inputs of order 1/255 give the first layer almost no signal; the model trains as if on "
                        "nearly black images."
                    ),
                    split=name,
                )
            )
    model = inputs.model
    if model is not None and model.rescaling:
        scales = [a.scale for a in model.rescaling_affine if isinstance(a.scale, (int, float))]
        by_255 = [s for s in scales if abs(s * 255.0 - 1.0) <= RESCALE_255_TOL]
        unit = [n for n, s in inputs.splits.items() if s.x is not None and s.stats.scheme == "unit"]
        if by_255 and unit:
            findings.append(
                double_scaled_inputs.finding(
                    Severity.WARNING,
                    f"The model divides its inputs by 255 ({model.rescaling[0]}) but x_{unit[0]} is already "
                    f"{SCHEME_TEXT['unit']}: the network sees values of at most 1/255.",
                    evidence={"model_rescaling": list(model.rescaling), "splits": _split_summary(inputs)},
                    fix=Fix(
                        "Feed the raw 0-255 images to this model, or drop its Rescaling layer",
                        "x_train, x_test = x_train_uint8, x_test_uint8   # the model rescales them",
                    ),
                    explanation=("Scaling twice leaves inputs of order 1/255: the first layer gets almost no signal."),
                )
            )
    return findings


#: Inputs whose largest magnitude reaches this are on an absurd scale for a
#: network: raw 8-bit pixels stop at 255 (already ~100x what Keras' initializers
#: expect), so values of 1,000 and more are pixels scaled up again (x * 255 on
#: raw data, 16-bit images fed as they are, an accumulated sum).
EXTREME_SCALE_MAX = 1000.0


@register("RNG003", "inputs-on-extreme-scale", requires=("train_x",), cause="input-not-normalized")
def inputs_on_extreme_scale(inputs: Inputs) -> list[Finding]:
    """Inputs reach magnitudes of 1,000 or more: far beyond even raw pixels.

    ## What it does
    Flags every split whose largest absolute value is at least
    `EXTREME_SCALE_MAX` (1,000), unless the model scales its inputs back down
    (an in-model rescaling that maps them below 10).

    ## Why is this bad?
    Keras' default initializers are set for inputs of order 1. Raw pixels
    (up to 255) already make the first layer's activations about 100x too
    large; values in the thousands (`x * 255` applied to raw pixels, 16-bit
    images up to 65,535) saturate every softmax from the first batch, kill
    ReLUs and make the loss explode or stall at chance, in every split alike.

    ## Example
    ```python
    x_train = x_train.astype("float32") * 255   # meant / 255
    ```

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 255.0   # 8-bit images; / 65535.0 for 16-bit
    ```
    """
    model = inputs.model
    splits = {n: s for n, s in inputs.splits.items() if s.x is not None and s.stats is not None}
    peaks = {n: max(abs(s.stats.value_min), abs(s.stats.value_max)) for n, s in splits.items()}
    big = {n: v for n, v in peaks.items() if v == v and v >= EXTREME_SCALE_MAX}
    if not big:
        return []
    if model is not None and model.rescaling_affine:
        scales = [a.scale for a in model.rescaling_affine if isinstance(a.scale, (int, float))]
        factor = 1.0
        for sc in scales:
            factor *= sc
        if scales and max(big.values()) * abs(factor) < 10.0:
            return []
    summary = _split_summary(inputs)
    names = ", ".join(f"x_{n} up to {v:.4g}" for n, v in big.items())
    return [
        inputs_on_extreme_scale.finding(
            Severity.WARNING,
            f"Inputs reach magnitudes far beyond raw pixels: {names}.",
            evidence={
                "splits": summary,
                "peak_abs": {n: float(v) for n, v in peaks.items()},
                "threshold": EXTREME_SCALE_MAX,
            },
            fix=Fix(
                "Scale the images to [0, 1]: divide 8-bit pixels by 255 (16-bit by 65535), once",
                'x_train = x_train.astype("float32") / 255.0\nx_test = x_test.astype("float32") / 255.0',
            ),
            explanation=(
                "A network initialized for inputs of order 1 fed values in the thousands saturates its softmax and "
                "kills its ReLUs from the first batch: training stalls or explodes on every split alike."
            ),
            split=next(iter(big)) if len(big) == 1 else None,
        )
    ]
