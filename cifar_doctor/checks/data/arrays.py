"""DAT: data integrity: dtype, NaN/Inf, constant images, image layout between splits.

Everything is read off `Split.stats` (one chunked pass per split), but for DAT009's neighbouring
pixels (a sample of each split); the data-vs-model input shape is the MDL family's business.
"""

from __future__ import annotations

from ...findings import EVIDENCE_MAX_ITEMS, Finding, Fix, Severity, rounded
from ...inputs import Inputs, Split
from ...measure.stats import neighbour_correlation
from ...memo import recall, remember
from ...registry import register

#: DAT003 warns when more than this fraction of a split is constant (blank)
#: images; below, it is advice. Real CIFAR-10 has none in 60,000 images
#: (measured), so 1% blank images means a broken loader or padding, not data.
CONSTANT_WARN_FRACTION = 0.01

#: Indices quoted in a message (the evidence lists them all, up to `EVIDENCE_MAX_ITEMS`).
MAX_INDICES = 5


def _image_splits(inputs: Inputs) -> list[Split]:
    return [s for s in inputs.splits.values() if s.x is not None]


@register("DAT001", "float64-inputs", requires=("train_x",), cause=None)
def float64_inputs(inputs: Inputs) -> list[Finding]:
    """Images are stored as float64.

    ## What it does
    Flags image splits whose dtype is float64. NumPy gives float64 for the
    most common scaling line, `x_train / 255.0` on the uint8 CIFAR-10 arrays,
    and for `np.array(list_of_floats)`.

    ## Why is this bad?
    Keras casts inputs to float32 (the default `floatx`) batch by batch, so
    float64 buys no precision and doubles the memory of the arrays (CIFAR-10
    train: 1.2 GB instead of 614 MB), which can push a notebook into swapping
    or an out-of-memory kill.

    ## Example
    ```python
    x_train = x_train / 255.0          # uint8 / float -> float64 in NumPy
    ```

    ## Use instead
    ```python
    x_train = x_train.astype("float32") / 255
    ```
    """
    found = []
    for split in _image_splits(inputs):
        if split.stats.dtype != "float64":
            continue
        nbytes = int(split.x.nbytes)
        found.append(
            float64_inputs.finding(
                Severity.INFO,
                f"x_{split.name} is float64 ({nbytes / 2**20:.1f} MiB); Keras casts it to float32 anyway.",
                evidence={"split": split.name, "dtype": "float64", "bytes": nbytes, "bytes_as_float32": nbytes // 2},
                fix=Fix("Store images as float32", f"x_{split.name} = x_{split.name}.astype('float32')"),
                explanation="float64 inputs double memory use and give no precision: Keras computes in float32.",
                split=split.name,
            )
        )
    return found


@register("DAT002", "non-finite-inputs", requires=("train_x",), cause="numerical-instability")
def non_finite_inputs(inputs: Inputs) -> list[Finding]:
    """Images contain NaN or Inf values.

    ## What it does
    Counts NaN and Inf values in every image split and lists the first
    images holding them.

    ## Why is this bad?
    One NaN in a batch makes that batch's loss and gradients NaN; the
    optimizer then writes NaN into the weights and every later prediction is
    NaN (`loss: nan`). In evaluation, NaN inputs give NaN outputs whose
    arg-max is class 0, silently lowering accuracy.

    ## Example
    ```python
    x = (x - x.mean()) / x.std(axis=(1, 2, 3), keepdims=True)   # 0/0 on blank images
    ```

    ## Use instead
    ```python
    bad = ~np.isfinite(x).all(axis=(1, 2, 3))
    x, y = x[~bad], y[~bad]          # or np.nan_to_num(x)
    ```
    """
    found = []
    for split in _image_splits(inputs):
        st = split.stats
        if st.nan_count == 0 and st.inf_count == 0:
            continue
        found.append(
            non_finite_inputs.finding(
                Severity.ERROR,
                f"x_{split.name} holds {st.nan_count} NaN and {st.inf_count} Inf values in {st.nonfinite_images} "
                f"images (first: {st.nonfinite_indices[:MAX_INDICES]}).",
                evidence={
                    "split": split.name,
                    "nan_count": st.nan_count,
                    "inf_count": st.inf_count,
                    "images": st.nonfinite_images,
                    "fraction": st.nonfinite_images / max(st.n, 1),
                    "first_indices": st.nonfinite_indices,
                    **({"listed_up_to": EVIDENCE_MAX_ITEMS} if st.nonfinite_images > EVIDENCE_MAX_ITEMS else {}),
                },
                fix=Fix(
                    "Drop or repair the non-finite images before training",
                    f"bad = ~np.isfinite(x_{split.name}).reshape(len(x_{split.name}), -1).all(axis=1)\n"
                    f"x_{split.name}, y_{split.name} = x_{split.name}[~bad], y_{split.name}[~bad]",
                ),
                explanation=(
                    "A single NaN/Inf input turns the loss and gradients of its batch into NaN, which then "
                    "spreads into the weights."
                ),
                split=split.name,
            )
        )
    return found


@register("DAT003", "constant-images", requires=("train_x",), cause=None)
def constant_images(inputs: Inputs) -> list[Finding]:
    """Some images have a single value in every pixel (blank images).

    ## What it does
    Counts images whose pixels all have the same value, per split. Warns
    above 1% of a split, mentions them below.

    ## Why is this bad?
    Blank images carry no information but still get a label: they are
    usually padding, failed decodes or a loader bug (e.g. images read before
    the file was written). In training they add noise; in an eval split
    they cap the reachable accuracy.

    ## Example
    ```python
    x = np.zeros((n, 32, 32, 3)); x[:len(decoded)] = decoded   # the rest stays black
    ```

    ## Use instead
    Drop them (`x[~blank]`) or fix the loader that produced them.
    """
    found = []
    for split in _image_splits(inputs):
        st = split.stats
        if st.constant_images == 0:
            continue
        frac = st.constant_images / max(st.n, 1)
        sev = Severity.WARNING if frac > CONSTANT_WARN_FRACTION else Severity.INFO
        found.append(
            constant_images.finding(
                sev,
                f"{st.constant_images} of {st.n} images in x_{split.name} ({frac:.2%}) are blank (one value in every "
                f"pixel; first: {st.constant_indices[:MAX_INDICES]}).",
                evidence={
                    "split": split.name,
                    "count": st.constant_images,
                    "fraction": frac,
                    "first_indices": st.constant_indices,
                    **({"listed_up_to": EVIDENCE_MAX_ITEMS} if st.constant_images > EVIDENCE_MAX_ITEMS else {}),
                    "warn_fraction": CONSTANT_WARN_FRACTION,
                },
                fix=Fix(
                    "Drop blank images or fix the loader that produced them",
                    f"flat = x_{split.name}.reshape(len(x_{split.name}), -1)\n"
                    f"keep = flat.min(axis=1) != flat.max(axis=1)\n"
                    f"x_{split.name}, y_{split.name} = x_{split.name}[keep], y_{split.name}[keep]",
                ),
                explanation="Blank images carry no information; many of them point to a loading bug.",
                split=split.name,
            )
        )
    return found


def _layout_fix(tr, ev, name: str) -> tuple[str, str]:
    """(title, snippet) that makes the eval images look like the training images."""
    x = f"x_{name}"
    if tr.layout == "NHWC" and ev.layout == "NCHW" and tr.image_shape == (ev.shape[2], ev.shape[3], ev.shape[1]):
        return "Transpose the eval images to channels-last", f"{x} = np.transpose({x}, (0, 2, 3, 1))"
    if tr.layout == "NCHW" and ev.layout == "NHWC" and tr.image_shape == (ev.shape[3], ev.shape[1], ev.shape[2]):
        return "Transpose the eval images to channels-first", f"{x} = np.transpose({x}, (0, 3, 1, 2))"
    if tr.layout == "NHWC" and ev.layout == "NHW" and tr.image_shape[:2] == ev.image_shape:
        if tr.channels == 1:
            return "Add the channel axis", f"{x} = {x}[..., np.newaxis]"
        return "Convert the eval images to RGB", f"{x} = np.repeat({x}[..., np.newaxis], {tr.channels}, axis=-1)"
    if tr.channels != ev.channels and tr.layout == ev.layout == "NHWC" and tr.image_shape[:2] == ev.image_shape[:2]:
        if ev.channels == 1:
            return "Convert the eval images to RGB", f"{x} = np.repeat({x}, {tr.channels}, axis=-1)"
        if tr.channels == 1:
            return (
                "Convert the eval images to grayscale like the training images",
                f"{x} = {x}[..., :3] @ np.array([0.299, 0.587, 0.114], dtype='float32')[:, None]",
            )
        return "Give both splits the same channels", f"{x} = {x}[..., :{tr.channels}]"
    return (
        "Resize the eval images to the training image size",
        f"{x} = keras.ops.image.resize({x}, {tr.image_shape[:2] if tr.layout == 'NHWC' else tr.image_shape[1:]})",
    )


@register("DAT004", "split-layout-mismatch", requires=("train_x", "eval_x"), cause="input-layout-mismatch")
def split_layout_mismatch(inputs: Inputs) -> list[Finding]:
    """Train and eval images have different shapes or layouts.

    ## What it does
    Compares the per-image shape and layout (NHWC, NCHW, no channel axis) of
    every eval split with the training split: channels-first vs
    channels-last, grayscale vs RGB, different sizes.

    ## Why is this bad?
    A model accepts one input shape. An eval split in another layout either
    fails to evaluate or, when the shapes happen to be compatible (32x32x3
    vs 3x32x32 with a flexible input), is evaluated on scrambled pixels and
    scores near chance.

    ## Example
    ```python
    x_test = torch_dataset.data.transpose(0, 3, 1, 2)    # NCHW, train is NHWC
    ```

    ## Use instead
    ```python
    x_test = np.transpose(x_test, (0, 2, 3, 1))          # NCHW -> NHWC
    ```
    """
    tr = inputs.splits["train"].stats
    found = []
    for split in inputs.eval_splits:
        ev = split.stats
        if ev.image_shape == tr.image_shape:
            continue
        title, snippet = _layout_fix(tr, ev, split.name)
        found.append(
            split_layout_mismatch.finding(
                Severity.ERROR,
                f"x_{split.name} images have shape {ev.image_shape} ({ev.layout}, {ev.channels} channels) but x_train "
                f"images have shape {tr.image_shape} ({tr.layout}, {tr.channels} channels).",
                evidence={
                    "split": split.name,
                    "train_shape": list(tr.shape),
                    "eval_shape": list(ev.shape),
                    "train_layout": tr.layout,
                    "eval_layout": ev.layout,
                    "train_channels": tr.channels,
                    "eval_channels": ev.channels,
                },
                fix=Fix(title, snippet),
                explanation=(
                    "The model has one input shape; eval images in another layout are either rejected or "
                    "read as scrambled pixels."
                ),
                split=split.name,
            )
        )
    return found


# --- DAT009 ------------------------------------------------------------------------------------------
#: Neighbouring pixels of natural images correlate strongly: 0.87 (down) and 0.89 (across) on CIFAR-10
#: at 32 px, 0.74 and 0.80 at 16 px, each split within 0.02 of the other (measured on 512 images).
#: Reading a channels-last buffer as channels-first, or the reverse, keeps the shape and scrambles
#: the pixels: the correlation down the image falls to -0.03 at both sizes while the one across stays
#: at 0.72-0.78; Gaussian noise of 0.1 on [0, 1] images lowers both by 0.09. A fall of this much along
#: one axis, from a training split where that axis holds this much structure, is a scramble.
SCRAMBLE_DROP = 0.3

#: ... the training images' correlation along that axis must reach this: below it there is too little
#: structure to lose (8x8 digits correlate 0.39 across).
SCRAMBLE_MIN_TRAIN = 0.5


def _unscramble_snippet(tr, name: str) -> str:
    """The reshape and transpose that turn a buffer stored in the other axis order into x_train's layout."""
    x = f"x_{name}"
    if tr.layout == "NHWC":
        h, w, c = tr.image_shape
        return f"{x} = {x}.reshape(len({x}), {c}, {h}, {w}).transpose(0, 2, 3, 1)  # stored as channels-first planes"
    if tr.layout == "NCHW":
        c, h, w = tr.image_shape
        return f"{x} = {x}.reshape(len({x}), {h}, {w}, {c}).transpose(0, 3, 1, 2)  # stored channels-last"
    h, w = tr.image_shape[:2]
    return f"{x} = {x}.reshape(len({x}), {w}, {h}).transpose(0, 2, 1)  # stored column by column"


def _correlation_key(split: Split) -> tuple[str, str]:
    """The `cifar_doctor.memo` key of a split's `neighbour_correlation`."""
    return ("neighbour-correlation", split.stats.layout)


def _correlation(split: Split) -> tuple[float, float] | None:
    """`neighbour_correlation` of a split's images: kept from while the data was read, or computed."""
    kept = recall(split.x, _correlation_key(split))
    return kept if kept is not None else neighbour_correlation(split.x, split.stats.layout)


def _correlation_ahead(split: Split) -> None:
    """A split's `neighbour_correlation`, computed while the rest of the data is read (`engine.ahead`)."""
    remember(split.x, _correlation_key(split), neighbour_correlation(split.x, split.stats.layout))


@register(
    "DAT009",
    "eval-pixels-scrambled",
    requires=("train_x", "eval_x"),
    cause="input-layout-mismatch",
    ahead=_correlation_ahead,
)
def eval_pixels_scrambled(inputs: Inputs) -> list[Finding]:
    """Neighbouring pixels of the eval images no longer correlate as the training images' do.

    ## What it does
    Measures, on up to `stats.NEIGHBOUR_SAMPLE` images of each split, how much
    each gray pixel correlates with the one below it and the one to its right
    (`neighbour_correlation`). Fires when an eval split's correlation along an
    axis is `SCRAMBLE_DROP` or more below the training split's, where the
    training images' reaches `SCRAMBLE_MIN_TRAIN`. Splits of another shape are
    DAT004's.

    ## Why is this bad?
    A buffer read in the wrong axis order (channels-first data reshaped as
    channels-last, or the reverse) keeps the array's shape, so nothing fails,
    but each "pixel" then holds values from across the image: the model sees
    noise and scores near chance on that split, which looks like a model that
    does not generalize. Regularization cannot help.

    ## Example
    ```python
    x_test = np.frombuffer(raw, np.uint8).reshape(-1, 32, 32, 3)   # the file stores 3x32x32 planes
    ```

    ## Use instead
    ```python
    x_test = np.frombuffer(raw, np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    ```
    """
    train = inputs.splits["train"]
    tr = train.stats
    base = _correlation(train)
    if base is None:
        return []
    found = []
    for split in inputs.eval_splits:
        ev = split.stats
        if ev.image_shape != tr.image_shape:
            continue  # DAT004
        got = _correlation(split)
        if got is None:
            continue
        drops = [
            (axis, b, g)
            for axis, b, g in zip(("down", "across"), base, got)
            if b == b and g == g and b >= SCRAMBLE_MIN_TRAIN and b - g >= SCRAMBLE_DROP
        ]
        if not drops:
            continue
        axis, b, g = max(drops, key=lambda d: d[1] - d[2])
        name = split.name
        found.append(
            eval_pixels_scrambled.finding(
                Severity.ERROR,
                f"Neighbouring pixels of x_{name} correlate {g:.2f} {axis} the image, against {b:.2f} in x_train "
                f"(same shape {tr.image_shape}): its pixels are scrambled, as when a buffer is read in the wrong "
                "axis order.",
                evidence={
                    "split": name,
                    "axis": axis,
                    "train_correlation": {"down": rounded(base[0], 3), "across": rounded(base[1], 3)},
                    "eval_correlation": {"down": rounded(got[0], 3), "across": rounded(got[1], 3)},
                    "drop_threshold": SCRAMBLE_DROP,
                    "min_train_correlation": SCRAMBLE_MIN_TRAIN,
                    "layout": ev.layout,
                },
                fix=Fix(
                    f"Build x_{name} the way x_train was built: reshape to the axis order the data is stored in, "
                    "then transpose",
                    _unscramble_snippet(tr, name),
                ),
                explanation=(
                    "Natural images are smooth: a pixel resembles its neighbours (correlation 0.7-0.9). When the "
                    "eval images lose that along one axis while the training images keep it, their values were "
                    "laid out in another order than the array's shape says, and the model is scored on noise."
                ),
                split=name,
            )
        )
    return found
