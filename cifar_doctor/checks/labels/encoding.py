"""LBL: how labels are encoded against the loss and across splits (LBL001-LBL005, LBL008).

See `cifar_doctor.checks.labels` for the family.
"""

from __future__ import annotations

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.labelinfo import (
    LabelInfo,
    label_classes,
    label_splits,
    split_label_info,
)
from ...registry import register
from ...sources.losses import BINARY_LOSSES, ONE_HOT_LOSSES, SPARSE_LOSSES


def _shape(info: LabelInfo) -> str:
    return str(tuple(info.shape))


def _example_shape(info: LabelInfo, k: int | None) -> str:
    return f"({info.n}, {k if k else 'K'})"


# --- LBL001 -------------------------------------------------------------------------------------
@register("LBL001", "integer-labels-with-categorical-loss", requires=("labels", "loss"), cause="label-format-mismatch")
def integer_labels_with_categorical_loss(inputs: Inputs) -> list[Finding]:
    """Integer class labels fed to a loss that expects one-hot targets.

    ## What it does
    Flags labels of shape (N,) or (N, 1) holding class indices when the loss is
    `categorical_crossentropy` (or another loss that expects one row of K class
    probabilities per image: `categorical_focal_crossentropy`, `kl_divergence`,
    `categorical_hinge`).

    ## Why is this bad?
    These losses compare the target with the model's (N, K) output entry by entry, so
    the target must be (N, K) too. Keras 3 stops at the first `fit` step with
    "Arguments `target` and `output` must have the same shape. Received:
    target.shape=(32, 1), output.shape=(32, 10)" (or "must have the same rank" for
    (N,) labels); tf.keras 2 raised "Shapes (None, 1) and (None, 10) are incompatible",
    and Keras 2.0-2.2 "A target array with shape (600, 1) was passed for an output of
    shape (None, 10) while using as loss `categorical_crossentropy`". Code that gets past
    the error without fixing the labels (a one-unit output, a custom loss that
    broadcasts, accuracy computed as `argmax(y)`, which is always 0 for a column of
    integers) trains or scores against meaningless targets.

    ## Example
    ```python
    (x_train, y_train), _ = keras.datasets.cifar10.load_data()   # y_train: (50000, 1)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train)
    ```

    ## Use instead
    ```python
    y_train = keras.utils.to_categorical(y_train, 10)             # (50000, 10)
    # or keep the integers and use the sparse loss:
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    ```
    """
    loss = inputs.effective_loss
    if loss not in ONE_HOT_LOSSES:
        return []
    k = label_classes(inputs)
    hits = [(s, split_label_info(s, k)) for s in label_splits(inputs)]
    hits = [(s, i) for s, i in hits if i.family == "integer"]
    if not hits:
        return []
    split, info = hits[0]
    names = [s.name for s, _ in hits]
    kk = k or "K"
    message = (
        f"Labels of {', '.join('y_' + n for n in names)} are integer class indices of shape "
        f"{_shape(info)}, but the loss `{loss}` expects one-hot targets of shape "
        f"{_example_shape(info, k)}."
    )
    explanation = (
        f"`{loss}` compares each target row with the model's {kk}-way output, so integer labels do not "
        "match it: Keras 3 raises 'Arguments `target` and `output` must have the same shape' at the first "
        "fit step (tf.keras 2: 'Shapes (None, 1) and (None, 10) are incompatible'), and any code that gets "
        "past it without converting the labels trains or scores against meaningless targets."
    )
    return [
        integer_labels_with_categorical_loss.finding(
            Severity.ERROR,
            message,
            evidence={
                "loss": loss,
                "classes": k,
                "splits": {
                    s.name: {
                        "shape": list(i.shape),
                        "dtype": i.dtype,
                        "encoding": i.encoding,
                        "min": i.min_value,
                        "max": i.max_value,
                    }
                    for s, i in hits
                },
            },
            fix=Fix(
                "One-hot encode the labels with keras.utils.to_categorical, or switch to "
                "sparse_categorical_crossentropy",
                f"y_train = keras.utils.to_categorical(y_train, {kk})\n"
                f"y_test = keras.utils.to_categorical(y_test, {kk})\n"
                "# or keep integer labels:\n"
                'model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])',
            ),
            explanation=explanation,
            split=split.name,
        )
    ]


# --- LBL002 -------------------------------------------------------------------------------------
@register("LBL002", "one-hot-labels-with-sparse-loss", requires=("labels", "loss"), cause="label-format-mismatch")
def one_hot_labels_with_sparse_loss(inputs: Inputs) -> list[Finding]:
    """One-hot (N, K) labels fed to `sparse_categorical_crossentropy`.

    ## What it does
    Flags labels with one row of K entries per image (one-hot, label-smoothed or
    otherwise 2-D) when the loss is `sparse_categorical_crossentropy`, which expects
    one integer class index per image.

    ## Why is this bad?
    The sparse loss reads each target as a class index. Keras 3 stops at `fit` with
    "Argument `output` must have rank (ndim) `target.ndim - 1`. Received:
    target.shape=(32, 10), output.shape=(32, 10)"; tf.keras 2 raised "logits and labels
    must have the same first dimension, got logits shape [32,10] and labels shape
    [320]". Typically `to_categorical` was applied and the loss was switched to the
    sparse one (or the reverse), one half of two consistent fixes.

    ## Example
    ```python
    y_train = keras.utils.to_categorical(y_train, 10)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    ```

    ## Use instead
    ```python
    model.compile(loss="categorical_crossentropy", optimizer="adam")   # keep one-hot labels
    # or: y_train = y_train.argmax(axis=1) and keep the sparse loss
    ```
    """
    loss = inputs.effective_loss
    if loss not in SPARSE_LOSSES:
        return []
    k = label_classes(inputs)
    hits = [(s, split_label_info(s, k)) for s in label_splits(inputs)]
    hits = [(s, i) for s, i in hits if i.family == "one-hot" and len(i.shape) == 2]
    if not hits:
        return []
    split, info = hits[0]
    names = [s.name for s, _ in hits]
    message = (
        f"Labels of {', '.join('y_' + n for n in names)} are {info.encoding} rows of shape {_shape(info)}, "
        f"but the loss `{loss}` expects integer class indices of shape ({info.n},) or ({info.n}, 1)."
    )
    return [
        one_hot_labels_with_sparse_loss.finding(
            Severity.ERROR,
            message,
            evidence={
                "loss": loss,
                "splits": {s.name: {"shape": list(i.shape), "dtype": i.dtype, "encoding": i.encoding} for s, i in hits},
            },
            fix=Fix(
                "Use categorical_crossentropy with one-hot labels, or pass integer labels (y.argmax(axis=1)) "
                "to sparse_categorical_crossentropy",
                'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])\n'
                "# or keep the sparse loss and undo the one-hot encoding:\n"
                "y_train = y_train.argmax(axis=1)\ny_test = y_test.argmax(axis=1)",
            ),
            explanation=(
                "The sparse loss reads one class index per image; a one-hot row is not one. Keras 3 raises "
                "'Argument `output` must have rank (ndim) `target.ndim - 1`' at fit (tf.keras 2: 'logits and labels "
                "must have the same first dimension')."
            ),
            split=split.name,
        )
    ]


# --- LBL003 -------------------------------------------------------------------------------------
@register("LBL003", "invalid-one-hot-rows", requires=("labels",), cause="label-format-mismatch")
def invalid_one_hot_rows(inputs: Inputs) -> list[Finding]:
    """One-hot or soft label rows that are not probability distributions.

    ## What it does
    For labels of shape (N, K), flags rows that do not sum to 1 (within
    `labelinfo.ROW_SUM_TOLERANCE`) or hold entries below 0, above 1, NaN or Inf: all-zero
    rows, multi-hot rows, rows of raw scores. Label-smoothed rows (0.91, 0.01, ...) sum to
    1 and pass.

    ## Why is this bad?
    Categorical cross-entropy is -sum(y * log(p)). An all-zero row contributes no loss, so
    that image is never learned and counts as wrong in accuracy; a row with two 1s is
    weighted twice and its argmax class is arbitrary; a negative entry rewards pushing a
    probability towards 0 without bound, which drives the loss below 0 and training off.
    These rows come from a `to_categorical` call with the wrong number of classes,
    1-based labels, or labels concatenated or padded by mistake.

    ## Example
    ```python
    y = np.zeros((n, 10)); y[np.arange(n), labels - 1] = 1   # labels 1..10: class 10 -> column 9, 0 -> -1
    ```

    ## Use instead
    ```python
    y = keras.utils.to_categorical(labels, 10)   # labels 0..9
    assert np.allclose(y.sum(axis=1), 1)
    ```
    """
    k = label_classes(inputs)
    out = []
    for split in label_splits(inputs):
        info = split_label_info(split, k)
        if len(info.shape) != 2 or info.shape[1] < 2 or info.invalid_rows == 0:
            continue
        frac = info.invalid_rows / info.n if info.n else 0.0
        kinds = []
        if info.zero_rows:
            kinds.append(f"{info.zero_rows} all-zero")
        if info.multi_hot_rows:
            kinds.append(f"{info.multi_hot_rows} with several 1s")
        if info.negative_rows:
            kinds.append(f"{info.negative_rows} with negative entries")
        if info.nonfinite_rows:
            kinds.append(f"{info.nonfinite_rows} with NaN/Inf")
        detail = f" ({', '.join(kinds)})" if kinds else ""
        message = (
            f"{info.invalid_rows} of {info.n} label rows of y_{split.name} ({frac:.1%}) are not one-hot or "
            f"probability rows{detail}; row sums range from {_fmt(info.row_sum_min)} to {_fmt(info.row_sum_max)}, "
            f"entries from {_fmt(info.min_value)} to {_fmt(info.max_value)}."
        )
        out.append(
            invalid_one_hot_rows.finding(
                Severity.ERROR,
                message,
                evidence={
                    "invalid_rows": info.invalid_rows,
                    "rows": info.n,
                    "fraction": frac,
                    "first_indices": info.invalid_indices,
                    "zero_rows": info.zero_rows,
                    "multi_hot_rows": info.multi_hot_rows,
                    "negative_rows": info.negative_rows,
                    "nonfinite_rows": info.nonfinite_rows,
                    "row_sum_min": info.row_sum_min,
                    "row_sum_max": info.row_sum_max,
                    "min_value": info.min_value,
                    "max_value": info.max_value,
                    "shape": list(info.shape),
                    "tolerance": 1e-3,
                },
                fix=Fix(
                    "Rebuild the labels with keras.utils.to_categorical from 0-based integer labels",
                    f"y_{split.name} = keras.utils.to_categorical(labels_{split.name}, {info.shape[1]})\n"
                    f"assert np.allclose(y_{split.name}.sum(axis=1), 1)",
                ),
                explanation=(
                    "Cross-entropy against a row that is not a distribution is wrong for that image: an all-zero row "
                    "adds no loss and is never learned, a multi-hot row is counted twice with an arbitrary argmax, a "
                    "negative entry makes the loss unbounded below."
                ),
                split=split.name,
            )
        )
    return out


# --- LBL004 -------------------------------------------------------------------------------------
@register("LBL004", "labels-out-of-range", requires=("labels",), cause="label-format-mismatch")
def labels_out_of_range(inputs: Inputs) -> list[Finding]:
    """Integer labels outside 0..K-1, or labels that are not whole numbers.

    ## What it does
    For integer labels of shape (N,) or (N, 1), flags values below 0, at or above the
    number of classes K (from `--classes`, the model's output units, one-hot labels of
    another split or the training log), and values that are not whole numbers
    (3.5, NaN). Labels 1..K, a 1-based encoding, are called out as such.

    ## Why is this bad?
    `sparse_categorical_crossentropy` indexes the output with the label. On CPU, an index
    >= K fails with "Received a label value of 10 which is outside the valid range of
    [0, 10)"; on GPU TensorFlow returns NaN for that row, so the loss turns NaN without
    an error. A negative label is never valid. `to_categorical` silently maps a fractional
    label down to an integer and raises for labels >= K.

    ## Example
    ```python
    y = df["class_id"].values          # 1..10 from a CSV
    model.compile(loss="sparse_categorical_crossentropy")   # 10 outputs
    ```

    ## Use instead
    ```python
    y = df["class_id"].values - 1      # 0..9
    ```
    """
    k = label_classes(inputs)
    out = []
    for split in label_splits(inputs):
        info = split_label_info(split, k)
        if info.family != "integer" or (info.out_of_range == 0 and info.non_integer == 0):
            continue
        parts = []
        if info.out_of_range:
            rng = f"0..{k - 1}" if k else "0 or above"
            parts.append(f"{info.out_of_range} outside {rng}")
        if info.non_integer:
            parts.append(f"{info.non_integer} not whole numbers")
        one_based = bool(k and info.min_value == 1 and info.max_value == k and info.non_integer == 0)
        message = (
            f"{' and '.join(parts).capitalize()} among the {info.n} labels of y_{split.name} "
            f"(min {_fmt(info.min_value)}, max {_fmt(info.max_value)}, {k if k else 'unknown'} classes)."
        )
        if one_based:
            message += f" They look 1-based (1..{k})."
        fix_title = (
            "Shift the labels to start at 0"
            if one_based
            else "Map the labels to integers 0..K-1 and drop or fix the others"
        )
        snippet = (
            f"y_{split.name} = y_{split.name} - 1"
            if one_based
            else f"bad = (y_{split.name} < 0) | (y_{split.name} >= {k if k else 'K'}) "
            f"| (y_{split.name} != np.round(y_{split.name}))\nprint(np.flatnonzero(bad)[:10])"
        )
        out.append(
            labels_out_of_range.finding(
                Severity.ERROR,
                message,
                evidence={
                    "classes": k,
                    "labels": info.n,
                    "out_of_range": info.out_of_range,
                    "non_integer": info.non_integer,
                    "min": info.min_value,
                    "max": info.max_value,
                    "first_out_of_range": info.out_of_range_indices,
                    "first_non_integer": info.non_integer_indices,
                    "one_based": one_based,
                    "dtype": info.dtype,
                },
                fix=Fix(fix_title, snippet),
                explanation=(
                    "A sparse loss indexes the model's output with each label: an index outside 0..K-1 fails on CPU "
                    "('Received a label value of ... outside the valid range') and gives NaN loss on GPU; a "
                    "fractional label names no class."
                ),
                split=split.name,
            )
        )
    return out


# --- LBL005 -------------------------------------------------------------------------------------
@register("LBL005", "label-encoding-differs", requires=("labels", "eval_labels"), cause="label-format-mismatch")
def label_encoding_differs(inputs: Inputs) -> list[Finding]:
    """Training and evaluation labels are encoded differently.

    ## What it does
    Compares the training labels with each eval split's (test, validation): integer
    indices on one side and one-hot rows on the other, one-hot rows of different widths,
    or integer labels whose range does not overlap the training range (train 0..9,
    test 1..10). (N,) and (N, 1) integers count as the same encoding, and so do one-hot
    and label-smoothed rows.

    ## Why is this bad?
    One loss and one metric serve both splits, so one of them gets targets it does not
    expect: Keras raises a shape error at the first validation step, or, if evaluation is
    done by hand, accuracy compares against the wrong classes (`argmax` of a column of
    integers is always 0; an offset by one turns every correct answer wrong). The
    typical cause is a preprocessing step applied to one split only.

    ## Example
    ```python
    y_train = keras.utils.to_categorical(y_train, 10)
    model.fit(x_train, y_train, validation_data=(x_test, y_test))   # y_test still integers
    ```

    ## Use instead
    ```python
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)   # same steps for every split
    ```
    """
    tr = inputs.splits["train"]
    k = label_classes(inputs)
    ti = split_label_info(tr, k)
    out = []
    for split in inputs.eval_label_splits:
        ei = split_label_info(split, k)
        reason = None
        if ti.family != ei.family:
            reason = f"y_train is {ti.encoding} {_shape(ti)} but y_{split.name} is {ei.encoding} {_shape(ei)}"
        elif ti.family == "one-hot" and len(ti.shape) == 2 and len(ei.shape) == 2 and ti.shape[1] != ei.shape[1]:
            reason = f"y_train has {ti.shape[1]} columns but y_{split.name} has {ei.shape[1]}"
        elif (
            ti.family == "integer"
            and ti.min_value is not None
            and ei.min_value is not None
            and ti.max_value is not None
            and ei.max_value is not None
            and ti.n >= 10 * (ti.classes or 1)
            and ei.non_integer == 0
            and ti.non_integer == 0
            and _offset_ranges(ti, ei)
        ):
            lo, hi = ei.min_value - ti.min_value, ei.max_value - ti.max_value
            shift = f" (shifted by {lo:+g})" if lo == hi else ""
            reason = (
                f"y_train spans {_fmt(ti.min_value)}..{_fmt(ti.max_value)} but y_{split.name} spans "
                f"{_fmt(ei.min_value)}..{_fmt(ei.max_value)}{shift}"
            )
        if reason is None:
            continue
        out.append(
            label_encoding_differs.finding(
                Severity.ERROR,
                f"Training and {split.name} labels are encoded differently: {reason}.",
                evidence={
                    "train": {
                        "encoding": ti.encoding,
                        "shape": list(ti.shape),
                        "dtype": ti.dtype,
                        "min": ti.min_value,
                        "max": ti.max_value,
                    },
                    split.name: {
                        "encoding": ei.encoding,
                        "shape": list(ei.shape),
                        "dtype": ei.dtype,
                        "min": ei.min_value,
                        "max": ei.max_value,
                    },
                    "classes": k,
                },
                fix=Fix(
                    "Apply the same label preprocessing to every split",
                    "def prepare_labels(y):\n    return keras.utils.to_categorical(np.ravel(y), 10)  # or np.ravel(y) "
                    "for a sparse loss\n\ny_train, y_test = prepare_labels(y_train), prepare_labels(y_test)",
                ),
                explanation=(
                    "One loss and one accuracy metric serve both splits, so one of them is scored against targets "
                    "it does not expect: a shape error at validation, or accuracy measured against the wrong classes."
                ),
                split=split.name,
            )
        )
    return out


def _offset_ranges(ti: LabelInfo, ei: LabelInfo) -> bool:
    """Eval labels extend past the training range at one end and stop short at the other.

    One end alone is a class missing from a split (LBL006's concern, or a small eval split);
    both ends moved the same way is an offset encoding such as 0..9 vs 1..10.
    """
    e_lo, e_hi, t_lo, t_hi = ei.min_value, ei.max_value, ti.min_value, ti.max_value
    if e_lo is None or e_hi is None or t_lo is None or t_hi is None:
        return False
    return bool((e_lo > t_lo and e_hi > t_hi) or (e_lo < t_lo and e_hi < t_hi))


# --- LBL008 -------------------------------------------------------------------------------------
@register("LBL008", "binary-loss-for-multiclass", requires=("labels", "loss"), cause="label-format-mismatch")
def binary_loss_for_multiclass(inputs: Inputs) -> list[Finding]:
    """`binary_crossentropy` used for one-hot labels of more than two classes.

    ## What it does
    Flags `binary_crossentropy` (or `binary_focal_crossentropy`) with training labels that
    are one-hot or soft rows over K > 2 classes.

    ## Why is this bad?
    Binary cross-entropy treats the K outputs as K independent yes/no questions rather than
    one K-way choice. With `metrics=["accuracy"]`, tf.keras 2 picked *binary* accuracy for
    this loss: the share of the N*K entries on the right side of 0.5, which is 90% for a
    10-class model that predicts "no" everywhere, i.e. at chance. Keras 3 picks the accuracy
    from the label shape instead, but an explicit `binary_accuracy` still reads ~0.9, the
    loss is on a different scale from categorical logs, and a softmax output fed to a
    per-unit loss mixes two models of the problem. Numbers from such a run look far better
    than the model is.

    ## Example
    ```python
    y_train = keras.utils.to_categorical(y_train, 10)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    ```

    ## Use instead
    ```python
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    ```
    """
    loss = inputs.effective_loss
    if loss not in BINARY_LOSSES:
        return []
    tr = inputs.splits["train"]
    info = split_label_info(tr, label_classes(inputs))
    if len(info.shape) != 2 or info.shape[1] <= 2 or info.encoding not in ("one-hot", "soft"):
        return []
    k = info.shape[1]
    chance_binary_accuracy = 1.0 - 1.0 / k
    return [
        binary_loss_for_multiclass.finding(
            Severity.WARNING,
            f"The loss `{loss}` is used with {info.encoding} labels over {k} classes {_shape(info)}; binary accuracy "
            f"of a model at chance reads {chance_binary_accuracy:.0%} here.",
            evidence={
                "loss": loss,
                "classes": k,
                "encoding": info.encoding,
                "shape": list(info.shape),
                "chance_binary_accuracy": chance_binary_accuracy,
                "chance_categorical_accuracy": 1.0 / k,
            },
            fix=Fix(
                "Use categorical_crossentropy for one-of-K labels",
                'model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])',
            ),
            explanation=(
                f"Binary cross-entropy scores each of the {k} outputs as a separate yes/no question; its binary "
                f"accuracy counts the {k - 1} correct 'no' entries of every row, so it reads "
                f"{chance_binary_accuracy:.0%} at chance and hides how often the class is right."
            ),
            split="train",
        )
    ]


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.4g}"
