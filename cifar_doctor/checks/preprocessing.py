"""PRE: preprocessing that differs between the training split and an eval split.

Each eval split (test, val) is compared with train through the statistics of
`cifar_doctor.measure.stats` (inferred scheme, per-channel mean/std and the
sampling noise of those). The three checks are exclusive per split, most
specific first, as declared at registration (`superseded_by`): a scale/offset
mismatch (PRE001), else reversed channels (PRE002), else a milder per-channel
drift (PRE003).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..findings import DataFix, Fix, Severity, rounded
from ..inputs import Inputs
from ..measure.scale import ScaleComparison, compare_scale
from ..measure.stats import SCHEME_TEXT, ImageStats
from ..registry import register

#: PRE001 fires when the eval split's pooled pixel std differs from train's by
#: more than this factor. Real CIFAR-10 test vs train: 0.992-0.997 (measured);
#: 100-image subsets: 0.92-0.98; different photo sets on one scale stay within
#: ~1.3x. The smallest scheme confusion, [0, 1] vs [-1, 1], is 2x.
SCALE_RATIO_BAND = 1.5

#: PRE001 also fires when the pooled means differ by more than this many train
#: stds with the scale unchanged: an offset bug (mean subtracted on one split
#: only, or x - 0.5 on one split) shifts by 1.8-2 stds. Real CIFAR-10 test vs
#: train differ by 0.011-0.015 stds; 100-image subsets by up to 0.12.
MEAN_SHIFT_LIMIT = 1.0

#: Below this many eval images, the statistics alone are too noisy to call a
#: mismatch: PRE001 then also needs the inferred schemes to differ.
MIN_EVAL_IMAGES = 16

#: PRE002: channel contrast (channel means minus their average, in train
#: stds) must differ by at least this before reversal. CIFAR-10 with R and B
#: swapped: ~0.2 (measured); real test vs train: < 0.01.
CHANNEL_SWAP_MIN_GAP = 0.08

#: PRE002: reversing the eval channels must shrink that distance to at most
#: this fraction of the direct distance.
CHANNEL_SWAP_MAX_RATIO = 1 / 3

#: Differences must also exceed this many standard errors of the split means
#: (from the spread of per-image means, or of per-image color balance for
#: PRE002), so small eval splits do not fire on sampling noise. 4 sigma: about 6 false alarms per 100,000 channels.
NOISE_Z = 4.0

#: PRE003: a channel mean shifted by more than this many train stds is drift.
#: Real CIFAR-10 test (90% JPEG-decoded) vs train: 0.011, 0.012, 0.015 (measured);
#: exact test[:1000]: 0.022.
DRIFT_MEAN_LIMIT = 0.1

#: PRE003: a channel std off by more than this fraction is drift. Real CIFAR-10
#: test vs train: -0.8%, -0.5%, -0.35% (JPEG smooths; measured); exact
#: test[:1000]: within 0.3%.
DRIFT_STD_MARGIN = 0.05


SCALE_SNIPPET = """\
# Best: let the model scale its own inputs, and feed every split the same way.
from keras import layers
model = keras.Sequential([keras.Input((32, 32, 3)), layers.Rescaling(1.0 / 255), ...])
model.fit(x_train_uint8, y_train, validation_data=(x_test_uint8, y_test))

# Or scale both splits with the same code:
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255"""


def _noise(spread_a: list[float], scale_a: Any, n_a: int, spread_b: list[float], scale_b: Any, n_b: int) -> np.ndarray:
    """Standard error of a difference of two split statistics, per channel, in units of `scale_a`.

    Each split's per-image spread is taken relative to its own scale and the
    larger of the two is used for both: a small eval split that happens to be
    homogeneous must not shrink its own error bars.
    """
    rel = np.maximum(np.asarray(spread_a) / np.asarray(scale_a), np.asarray(spread_b) / np.asarray(scale_b))
    return rel * math.sqrt(1.0 / max(n_a, 1) + 1.0 / max(n_b, 1))


def scale_mismatch(cmp: ScaleComparison) -> bool:
    """PRE001's judgement: the std ratio leaves `SCALE_RATIO_BAND` or the mean moves past `MEAN_SHIFT_LIMIT`,
    on at least `MIN_EVAL_IMAGES` images unless the schemes' families differ."""
    off_scale = not (1 / SCALE_RATIO_BAND <= cmp.ratio <= SCALE_RATIO_BAND)
    off_center = abs(cmp.shift) > MEAN_SHIFT_LIMIT
    if not (off_scale or off_center):
        return False
    return cmp.eval_images >= MIN_EVAL_IMAGES or cmp.families_differ


def _significant(v: float) -> float:
    return rounded(v, significant=6)


def _contrast(mean: list[float], std: list[float], pooled: float) -> np.ndarray:
    m = np.asarray(mean, dtype=np.float64)
    return (m - m.mean()) / pooled


def compare_channels(tr: ImageStats, ev: ImageStats) -> dict[str, Any] | None:
    """Evidence that eval has its channels reversed relative to train, or None."""
    if tr.channels != 3 or ev.channels != 3:
        return None
    pooled = tr.pooled_std
    if not pooled > 0:
        return None
    c_tr = _contrast(tr.mean, tr.std, pooled)
    c_ev = _contrast(ev.mean, ev.std, pooled)
    c_rev = _contrast(ev.mean[::-1], ev.std[::-1], pooled)
    direct = float(np.linalg.norm(c_ev - c_tr))
    reversed_ = float(np.linalg.norm(c_rev - c_tr))
    noise = float(
        np.linalg.norm(_noise(tr.image_contrast_std, pooled, tr.n, ev.image_contrast_std, ev.pooled_std, ev.n))
    )
    fires = (
        direct >= CHANNEL_SWAP_MIN_GAP and direct >= NOISE_Z * noise and reversed_ <= CHANNEL_SWAP_MAX_RATIO * direct
    )
    if not fires:
        return None
    return {
        "train_mean": [_significant(v) for v in tr.mean],
        "eval_mean": [_significant(v) for v in ev.mean],
        "eval_mean_reversed": [_significant(v) for v in ev.mean[::-1]],
        "train_std": [_significant(v) for v in tr.std],
        "eval_std": [_significant(v) for v in ev.std],
        "contrast_distance": _significant(direct),
        "contrast_distance_reversed": _significant(reversed_),
        "noise": _significant(noise),
        "channel_layout": ev.layout,
    }


def compare_drift(tr: ImageStats, ev: ImageStats) -> dict[str, Any] | None:
    """Per-channel drift of eval vs train beyond natural and sampling variation, or None."""
    if tr.channels != ev.channels:
        return None
    m_tr, m_ev = np.asarray(tr.mean), np.asarray(ev.mean)
    s_tr, s_ev = np.asarray(tr.std), np.asarray(ev.std)
    if not np.all(s_tr > 0):
        return None
    shift = (m_ev - m_tr) / s_tr
    if not np.all(s_ev > 0):
        s_ev_safe = np.where(s_ev > 0, s_ev, s_tr)
    else:
        s_ev_safe = s_ev
    shift_noise = _noise(tr.image_mean_std, s_tr, tr.n, ev.image_mean_std, s_ev_safe, ev.n)
    ratio = s_ev / s_tr
    # pooled variance noise -> std-ratio noise: d(s)/s = d(var) / (2 var)
    ratio_noise = _noise(tr.image_var_std, s_tr**2, tr.n, ev.image_var_std, s_ev_safe**2, ev.n) / 2
    mean_limit = np.maximum(DRIFT_MEAN_LIMIT, NOISE_Z * shift_noise)
    std_limit = np.maximum(DRIFT_STD_MARGIN, NOISE_Z * ratio_noise)
    bad_mean = np.abs(shift) > mean_limit
    bad_std = np.abs(ratio - 1) > std_limit
    if not (bad_mean.any() or bad_std.any()):
        return None
    return {
        "train_scheme": tr.scheme,
        "eval_scheme": ev.scheme,
        "train_mean": [_significant(v) for v in m_tr],
        "eval_mean": [_significant(v) for v in m_ev],
        "train_std": [_significant(v) for v in s_tr],
        "eval_std": [_significant(v) for v in s_ev],
        "mean_shift_in_train_std": [_significant(v) for v in shift],
        "mean_shift_limit": [_significant(v) for v in mean_limit],
        "std_ratio": [_significant(v) for v in ratio],
        "std_ratio_margin": [_significant(v) for v in std_limit],
        "drifting_channels": [int(c) for c in np.flatnonzero(bad_mean | bad_std)],
        "eval_images": ev.n,
    }


def _pairs(inputs: Inputs) -> Any:
    tr = inputs.splits["train"]
    for ev in inputs.eval_splits:
        yield tr.stats, ev.stats, ev.name


def _scale_explanation(ratio: float) -> str:
    if ratio > 1:
        return (
            f"The model was trained on inputs about {ratio:.4g}x smaller than the ones it is evaluated on. "
            f"A ReLU network fed inputs {ratio:.4g}x larger produces logits roughly {ratio:.4g}x larger: the "
            "arg-max often survives, so accuracy looks merely low (it reads like overfitting), but the softmax "
            "saturates and every mistake costs the maximum loss (16.1 nats in Keras 2, which clips "
            "probabilities at 1e-7; hundreds in Keras 3, which computes the loss from logits). The validation "
            "numbers measure the pipeline, not generalization."
        )
    return (
        f"The model is evaluated on inputs about {1 / ratio:.4g}x smaller than it was trained on: activations "
        "shrink toward the biases, predictions collapse onto one or a few classes, and accuracy drops toward "
        "chance. The validation numbers measure the pipeline, not generalization."
    )


@register("PRE001", "train-test-scale-mismatch", requires=("train_x", "eval_x"), cause="eval-input-scale-mismatch")
def train_test_scale_mismatch(inputs: Inputs):
    """Eval images are on a different scale from training images.

    ## What it does
    Infers each split's normalization scheme and compares the eval splits
    (test, val) with train: the pooled pixel std ratio (e.g. 255 when train
    was divided by 255 and test was not) and the shift of the mean. Reports
    the affine transform that maps eval onto train, snapped to the known one
    (`x / 255`, `x / 127.5 - 1`, `(x - mean) / std`, `x * 255`) when close.

    ## Why is this bad?
    The network only ever saw inputs on the training scale. Fed inputs 255x
    larger, a ReLU network's logits grow ~255x: accuracy looks merely low and
    the loss explodes, which reads like overfitting but is a pipeline bug.
    Fixing the data restores the real accuracy without retraining.

    ## Example
    ```python
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32")          # forgot / 255
    ```

    ## Use instead
    ```python
    model = keras.Sequential([keras.Input((32, 32, 3)), layers.Rescaling(1.0 / 255), ...])
    ```
    so that every split is fed raw and scaled in one place, or apply the same
    code to both splits.
    """
    findings = []
    for tr, ev, name in _pairs(inputs):
        cmp = compare_scale(tr, ev, name)
        if cmp is None or not scale_mismatch(cmp):
            continue
        ev_d = cmp.evidence()
        ratio = ev_d["scale_ratio"]
        tr_text = SCHEME_TEXT.get(tr.scheme, tr.scheme)
        ev_text = SCHEME_TEXT.get(ev.scheme, ev.scheme)
        if 1 / SCALE_RATIO_BAND <= ev_d["measured_scale_ratio"] <= SCALE_RATIO_BAND:
            what = (
                f"its mean is shifted by {ev_d['mean_shift_in_train_std']:.3g} train stds "
                f"({ev.pooled_mean:.4g} vs {tr.pooled_mean:.4g})"
            )
        else:
            times = f"{ratio:.4g}x" if ratio >= 1 else f"1/{1 / ratio:.4g} of"
            what = f"its pixel std is {times} train's ({ev.pooled_std:.4g} vs {tr.pooled_std:.4g})"
        expr = cmp.transform.expression
        findings.append(
            train_test_scale_mismatch.finding(
                Severity.ERROR,
                f"x_{name} is {ev_text} (max {ev.value_max:.4g}) while x_train is {tr_text} "
                f"(max {tr.value_max:.4g}): {what}. `{expr}` maps it onto the training scale.",
                evidence=ev_d,
                fix=Fix(
                    f"Scale x_{name} exactly like x_train (`{expr}`), better with layers.Rescaling inside the model",
                    SCALE_SNIPPET,
                    cmp.transform,
                ),
                explanation=_scale_explanation(ratio),
                split=name,
            )
        )
    return findings


@register(
    "PRE002",
    "channel-order-mismatch",
    requires=("train_x", "eval_x"),
    cause="eval-distribution-shift",
    superseded_by=("PRE001",),
)
def channel_order_mismatch(inputs: Inputs):
    """Eval images have their color channels reversed (BGR vs RGB).

    ## What it does
    On splits with the same scale, compares the channel contrast (each
    channel's mean minus the average of the three, in train stds) of train
    and eval, directly and with the eval channels reversed. Fires when the
    reversal matches train much better, beyond sampling noise.

    ## Why is this bad?
    OpenCV (`cv2.imread`) and caffe-style preprocessing give BGR; Keras,
    PIL and the CIFAR files give RGB. A model trained on one order and
    evaluated on the other sees sky-colored fire trucks: accuracy drops for
    every color-dependent class, which looks like overfitting.

    ## Example
    ```python
    x_test = np.stack([cv2.imread(p) for p in paths])   # BGR
    ```

    ## Use instead
    ```python
    x_test = x_test[..., ::-1]                           # BGR -> RGB
    ```
    """
    findings = []
    for tr, ev, name in _pairs(inputs):
        ev_d = compare_channels(tr, ev)
        if ev_d is None:
            continue
        expr = f"x_{name}[..., ::-1]" if ev.channel_axis == -1 else f"x_{name}[:, ::-1]"
        transform = None
        if ev.channel_axis == -1:
            transform = DataFix(split=name, channel_order=(2, 1, 0), scale=1.0, offset=0.0, expression=expr)
            ev_d["transform"] = transform.to_dict()
        findings.append(
            channel_order_mismatch.finding(
                Severity.ERROR,
                f"x_{name}'s channel means ({', '.join(f'{v:.4g}' for v in ev.mean)}) match x_train's "
                f"({', '.join(f'{v:.4g}' for v in tr.mean)}) far better reversed: distance "
                f"{ev_d['contrast_distance']:.3g} -> {ev_d['contrast_distance_reversed']:.3g} train stds.",
                evidence=ev_d,
                fix=Fix(
                    f"Reverse the channels of x_{name} (`{expr}`), or load both splits with the same library",
                    f"x_{name} = {expr}   # BGR -> RGB, like x_train",
                    transform,
                ),
                explanation=(
                    "Reversed color channels (BGR vs RGB) change what every color feature means, so a model "
                    "trained on one order loses accuracy on the other while its training accuracy looks fine."
                ),
                split=name,
            )
        )
    return findings


@register(
    "PRE003",
    "eval-channel-drift",
    requires=("train_x", "eval_x"),
    cause="eval-distribution-shift",
    superseded_by=("PRE001", "PRE002"),
)
def eval_channel_drift(inputs: Inputs):
    """A channel's mean or spread differs between train and eval beyond natural variation.

    ## What it does
    On splits with the same scale and channel order, compares each channel's
    mean (shift in train stds) and std (ratio). Fires when a difference exceeds
    both a fixed margin (well above what real CIFAR-10 test vs train shows)
    and 4 standard errors of the sampling noise of the eval split.

    ## Why is this bad?
    Eval data normalized with other statistics (another dataset's mean/std,
    its own instead of train's after a color change), color-jittered,
    brightened or heavily compressed images shift what the network sees: the
    eval accuracy then measures a distribution shift, not generalization.

    ## Example
    ```python
    x_train = (x_train - train_mean) / train_std
    x_test = (x_test - imagenet_mean) / imagenet_std    # other statistics
    ```

    ## Use instead
    Normalize every split with the statistics computed on the training split
    (or with a `layers.Normalization` adapted on it, inside the model).
    """
    findings = []
    for tr, ev, name in _pairs(inputs):
        ev_d = compare_drift(tr, ev)
        if ev_d is None:
            continue
        chans = ev_d["drifting_channels"]
        parts = []
        for c in chans:
            parts.append(
                f"channel {c}: mean shift {ev_d['mean_shift_in_train_std'][c]:+.3g} train stds, "
                f"std ratio {ev_d['std_ratio'][c]:.3g}"
            )
        findings.append(
            eval_channel_drift.finding(
                Severity.WARNING,
                f"x_{name} drifts from x_train ({'; '.join(parts)}); natural margins are "
                f"{DRIFT_MEAN_LIMIT} stds and {DRIFT_STD_MARGIN:.0%}.",
                evidence=ev_d,
                fix=Fix(
                    f"Preprocess x_{name} with the training split's statistics and pipeline",
                    "mean = x_train.mean(axis=(0, 1, 2)); std = x_train.std(axis=(0, 1, 2))\n"
                    f"x_train = (x_train - mean) / std\nx_{name} = (x_{name} - mean) / std   # same constants",
                ),
                explanation=(
                    "The eval images do not have the color statistics the model was trained on; the accuracy gap "
                    "then partly measures that shift rather than overfitting."
                ),
                split=name,
            )
        )
    return findings
