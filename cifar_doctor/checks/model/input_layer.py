"""MDL: the model's input side against the data: in-model rescaling and input shape (MDL003-MDL005).

See `cifar_doctor.checks.model` for what Keras does that these checks rest on.
"""

from __future__ import annotations

import math
from typing import Any

from ...findings import DataFix, Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.stats import RAW_SCHEMES, split_scheme
from ...registry import register

#: An in-model scale at or below this (about 1/100) on data already in [0, 1]
#: leaves the first layer inputs within [0, 0.01]: 1/255 applied twice, or
#: 1/127.5 applied to unit data.
DOUBLE_SCALE_MAX = 0.01


@register("MDL003", "missing-in-model-rescaling", requires=("model",), cause=None)
def missing_in_model_rescaling(inputs: Inputs) -> list[Finding]:
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
    found = {s.name: split_scheme(s) for s in [inputs.train, *inputs.eval_splits] if s is not None and s.x is not None}
    schemes = {k: v for k, v in found.items() if v is not None}
    raw = sorted(n for n, sch in schemes.items() if sch in RAW_SCHEMES)
    ev = {"rescaling": [], "first_layers": m.layers[:4], "input_shape": list(m.input_shape or ()), "schemes": schemes}
    if raw:
        message = (
            f"The model has no Rescaling or Normalization layer and the {', '.join(raw)} images "
            "reach it as raw 0-255 pixels."
        )
    elif schemes:
        message = (
            "The model has no Rescaling or Normalization layer: the images are normalized outside it "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(schemes.items()))}), so every pipeline must "
            "repeat that step exactly."
        )
    else:
        message = (
            "The model has no Rescaling or Normalization layer before its first layer: it relies on "
            "every data pipeline scaling the pixels the same way."
        )
    common = sorted(set(schemes.values()))
    scheme = common[0] if len(common) == 1 else None
    if scheme == "symmetric":
        snippet = (
            "inputs = keras.Input((32, 32, 3))\n"
            "x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)   # then feed raw 0-255 pixels"
        )
    elif scheme in ("standardized", "imagenet"):
        snippet = (
            "norm = layers.Normalization(axis=-1)\n"
            "norm.adapt(x_train_raw)            # per-channel mean and variance, stored in the model\n"
            "model = keras.Sequential([keras.Input((32, 32, 3)), norm, ...])"
        )
    else:
        snippet = (
            "model = keras.Sequential([\n"
            "    keras.Input((32, 32, 3)),\n"
            "    layers.Rescaling(1.0 / 255),   # raw 0-255 pixels in, for training and test alike\n"
            "    ...\n"
            "])"
        )
    return [
        missing_in_model_rescaling.finding(
            Severity.INFO,
            message,
            evidence=ev,
            explanation="Scaling inside the model is applied identically to every split and is saved with the "
            "model, so a forgotten `/ 255` on the test set can no longer happen.",
            fix=Fix("Put the scaling inside the model with layers.Rescaling(1./255) and feed raw pixels", snippet),
        )
    ]


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
def double_rescaling(inputs: Inputs) -> list[Finding]:
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
    return [
        double_rescaling.finding(
            Severity.WARNING,
            f"The model rescales its input by {scale:.6g} (offset {offset:g}) but the {', '.join(unit)} images are "
            f"already in [0, 1]: the first layer sees values in [{seen[0]:.4g}, {seen[1]:.4g}].",
            evidence={
                "in_model": list(m.rescaling),
                "scale": scale,
                "offset": offset,
                "unit_splits": unit,
                "data_max": maxima,
                "first_layer_range": seen,
                "double_scale_max": DOUBLE_SCALE_MAX,
            },
            explanation="The data is scaled twice, so its range is squeezed about 255-fold: inputs that are "
            "nearly constant train slowly, and the model will misbehave on data scaled once.",
            fix=Fix(
                "Feed raw 0-255 pixels (remove the `/ 255` from the data pipeline), or remove the Rescaling layer",
                "model.fit(x_train_raw, y_train, validation_data=(x_test_raw, y_test))  # model rescales",
                DataFix(
                    split=unit[0], scale=255.0, offset=0.0, expression=f"x_{unit[0]} * 255 (undo the outside scaling)"
                ),
            ),
            split=unit[0] if len(unit) == 1 else None,
        )
    ]


def _image_shape(x: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in getattr(x, "shape", ())[1:])


def _matches(data: tuple[int, ...], model: tuple) -> bool:
    return len(data) == len(model) and all(m is None or m == d for d, m in zip(data, model))


@register("MDL005", "input-shape-mismatch", requires=("model", "train_x"), cause="input-layout-mismatch")
def input_shape_mismatch(inputs: Inputs) -> list[Finding]:
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
                findings.append(
                    input_shape_mismatch.finding(
                        Severity.ERROR,
                        f"The {s.name} images are channels-first {got} but the model expects channels-last "
                        f"{shape_text(want)}.",
                        evidence={**ev, "layout": "NCHW data, NHWC model"},
                        explanation="Keras convolutions default to channels_last; fed (C, H, W) the model "
                        "either refuses the data or mixes the colour axis into the image rows.",
                        fix=Fix(
                            f"Transpose the {s.name} images to channels-last",
                            f"x_{s.name} = np.transpose(x_{s.name}, (0, 2, 3, 1))",
                        ),
                        split=s.name,
                    )
                )
                continue
            if _matches(nchw, want):
                findings.append(
                    input_shape_mismatch.finding(
                        Severity.ERROR,
                        f"The {s.name} images are channels-last {got} but the model expects channels-first "
                        f"{shape_text(want)}.",
                        evidence={**ev, "layout": "NHWC data, NCHW model"},
                        explanation="The model was built with data_format='channels_first'.",
                        fix=Fix(
                            f"Transpose the {s.name} images to channels-first",
                            f"x_{s.name} = np.transpose(x_{s.name}, (0, 3, 1, 2))",
                        ),
                        split=s.name,
                    )
                )
                continue
        want_size = math.prod(w for w in want if w is not None) if all(w is not None for w in want) else None
        got_size = math.prod(got) if got else 0
        if want_size is not None and got_size == want_size:
            fix = Fix(
                f"Reshape the {s.name} images to {shape_text(want)}",
                f"x_{s.name} = x_{s.name}.reshape((-1, {', '.join(str(int(w)) for w in want)}))",
            )
            expl = (
                "The images hold the right number of values in another shape (flattened, or a "
                "different axis order); check which axis order they were stored in before reshaping."
            )
        else:
            fix = Fix(
                f"Feed images of shape {shape_text(want)}: resize or crop them, or build the model for "
                f"{shape_text(got)}",
                f"model = keras.Sequential([keras.Input({shape_text(tuple(int(g) for g in got))}), ...])",
            )
            expl = "The model cannot take these images as they are."
        findings.append(
            input_shape_mismatch.finding(
                Severity.ERROR,
                f"The {s.name} images have shape {shape_text(got)} but the model expects {shape_text(want)}.",
                evidence=ev,
                explanation=expl,
                fix=fix,
                split=s.name,
            )
        )
    return findings


def shape_text(shape: tuple) -> str:
    """Shapes print as Python tuples (Keras style)."""
    return str(tuple(shape))
