"""MDL: eval images laid out unlike the training images, measured on the model (MDL011).

Re-oriented (transposed, upside down) or with their colour channels reversed: each
re-arrangement is applied to a sample of the eval images, and the model says which reads best.

See `cifar_doctor.checks.model` for the family. The check evaluates the user's model
(`Inputs.evaluate`, inference mode; training mode through the model already loaded when its
BatchNormalization statistics are stale) on a sample of each eval split as given and re-oriented.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...findings import Finding, Fix, Severity, rounded
from ...inputs import Inputs
from ...measure.model import sample_indices, score_at, stale_statistics, take, training_mode_accuracy
from ...registry import register

#: Images of each split evaluated per orientation: 2,000 put the standard error of an accuracy
#: near 0.5 at 0.011, and take about a second for a small CNN on a CPU (as `TRAIN_SAMPLE`).
ORIENTATION_SAMPLE = 2000

#: ... and at most this many bytes of them, as stored (each re-arrangement is one more copy): 64 MiB
#: keep CIFAR-sized images at 2,000 and cap 224 x 224 x 3 bytes at 445, whatever the split holds.
ORIENTATION_BYTES = 64 * 2**20

#: A re-orientation counts when it raises eval accuracy by at least this many standard errors
#: of the difference (binomial, on the images measured; the two evaluations read the same
#: images, so this overstates the noise) ...
ORIENTATION_STANDARD_ERRORS = 3.0

#: ... and by at least this much (absolute): the counterfactual step's own bar for a fix that
#: restores accuracy (`counterfactual.CONFIRMING_ACCURACY_GAIN`).
ORIENTATION_MIN_GAIN = 0.02

#: The smallest image side worth re-orienting: below it an image is too coarse for orientation
#: to carry signal (8x8 digits still do).
ORIENTATION_MIN_SIDE = 8


def _axes(x: Any) -> tuple[int, int, int | None] | None:
    """(row axis, column axis, colour axis or None) of square images in `x`: (N, H, W), (N, H, W, C)
    or (N, C, H, W); the colour axis only for three channels."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) == 3 and shape[1] == shape[2] >= ORIENTATION_MIN_SIDE:
        return 1, 2, None
    if len(shape) == 4 and shape[-1] in (1, 3, 4) and shape[1] == shape[2] >= ORIENTATION_MIN_SIDE:
        return 1, 2, (3 if shape[-1] == 3 else None)
    if len(shape) == 4 and shape[1] in (1, 3, 4) and shape[2] == shape[3] >= ORIENTATION_MIN_SIDE:
        return 2, 3, (1 if shape[1] == 3 else None)
    return None


#: The re-arrangements a loader produces by mistake, each undone by a function of (images, row
#: axis, column axis, colour axis): rows and columns swapped (a raw CIFAR-style buffer reshaped
#: to (N, 3, 32, 32) and transposed with (0, 3, 2, 1) instead of (0, 2, 3, 1)), rows stored
#: bottom-up (bitmaps, a flipped OpenCV read), and colour channels reversed (OpenCV's BGR beside
#: RGB: PRE002 reads it from channel means, which a set with few colourful classes hides). A
#: mirror image (left-right) is not among them: models trained with flips read it as well as
#: the original, so its gain says nothing.
ORIENTATIONS: dict[str, Callable[[np.ndarray, int, int, int | None], np.ndarray]] = {
    "transposed": lambda a, r, c, ch: np.swapaxes(a, r, c),
    "upside-down": lambda a, r, c, ch: np.flip(a, axis=r),
    "channels-reversed": lambda a, r, c, ch: np.flip(a, axis=ch if ch is not None else -1),
}

#: What each re-arrangement means: its words, and the cause it supports (a layout bug, or colours
#: that mean something else: the cause of PRE002).
MEANING = {
    "transposed": ("with rows and columns swapped", "input-layout-mismatch"),
    "upside-down": ("upside down", "input-layout-mismatch"),
    "channels-reversed": ("with the colour channels reversed", "eval-distribution-shift"),
}


LAYOUT_EXPLANATION = (
    "A network trained on upright images reads their orientation, so re-oriented images score lower; here "
    "re-orienting the eval images restores accuracy, so they were stored differently from the training images "
    "(a raw buffer reshaped or transposed in the wrong order, rows read bottom-up). Their pixel statistics match, "
    "which is why the gap looked like overfitting or a shift in the data."
)

COLOUR_EXPLANATION = (
    "A network reads what each colour channel means; here reversing the eval images' channels restores accuracy, "
    "so they arrive in another channel order than the training images (OpenCV's BGR beside RGB). The gap looked "
    "like overfitting; it is the same photographs in other colours."
)


def _sample(x: Any) -> np.ndarray:
    """Evenly spaced indices of at most `ORIENTATION_SAMPLE` images and `ORIENTATION_BYTES` bytes of `x`."""
    per_image = max(1, int(np.prod(x.shape[1:])) * np.dtype(getattr(x, "dtype", np.float32)).itemsize)
    return sample_indices(len(x), max(1, min(ORIENTATION_SAMPLE, ORIENTATION_BYTES // per_image)))


def _noise(p1: float, p2: float, n: int) -> float:
    return ORIENTATION_STANDARD_ERRORS * ((p1 * (1 - p1) + p2 * (1 - p2)) / max(n, 1)) ** 0.5


def _code(name: str, x: str, r: int, c: int, ch: int | None) -> str:
    if name == "upside-down":
        return f"{x} = {x}[:, ::-1]" if r == 1 else f"{x} = {x}[:, :, ::-1]"
    if name == "channels-reversed":
        return f"{x} = {x}[..., ::-1]  # BGR <-> RGB" if ch == 3 else f"{x} = {x}[:, ::-1]  # BGR <-> RGB"
    return f"{x} = np.swapaxes({x}, {r}, {c})"


@register(
    "MDL011",
    "eval-images-reoriented",
    requires=("evaluator", "train_x", "labels", "eval_x", "eval_labels"),
    cause="input-layout-mismatch",
)
def eval_images_reoriented(inputs: Inputs) -> list[Finding]:
    """Re-arranging the eval images (transposed, upside down, BGR) raises the model's accuracy on them.

    ## What it does
    For each eval split of square images, evaluates the model in inference
    mode on up to `ORIENTATION_SAMPLE` evenly spaced images (and
    `ORIENTATION_BYTES`) as given, with rows
    and columns swapped, upside down and, for three channels, with the channels
    reversed. Fires (error) when a re-arrangement
    raises the accuracy by at least `ORIENTATION_STANDARD_ERRORS` standard
    errors and `ORIENTATION_MIN_GAIN`, and the same re-arrangement of the
    training images lowers theirs by as much: the model reads that
    arrangement (a model at chance gains or loses a few points from any change
    of its input, which says nothing). When BatchNormalization's moving
    statistics are stale (MDL012's reading), inference mode measures them, not
    the network, and every accuracy is read in training mode instead.

    ## Why is this bad?
    A network trained on upright images reads their orientation: transposed or
    flipped images score lower, often near chance. If re-orienting the eval
    images *restores* accuracy, they are stored differently from the training
    images: a loader that reshapes a raw buffer in the wrong order (CIFAR's
    (N, 3072) rows reshaped to (N, 3, 32, 32) and transposed with (0, 3, 2, 1)
    instead of (0, 2, 3, 1)), or reads rows bottom-up. Pixel statistics cannot
    see it (a transposed image has the same histogram), and the gap looks like
    overfitting or a distribution shift. Reversed channels (BGR beside RGB) are
    measured the same way and support `eval-distribution-shift`, as PRE002 does
    from channel means. The measured accuracy with the fix is the proof.

    ## Example
    ```
    cifar-doctor check --data data.npz --model model.keras
    # test 0.194 as given, 0.339 with rows and columns swapped (train 0.392 -> 0.173): a corpus run
    ```

    ## Use instead
    ```python
    x_test = raw.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channels last, rows first
    ```
    """
    evaluate = inputs.evaluate
    tr = inputs.train
    if evaluate is None or tr is None or tr.x is None or tr.y is None:
        return []
    # with BatchNormalization's moving statistics stale (MDL012), inference mode reads them, not the network:
    # every accuracy here is then read in training mode, as fit reads it
    stale = stale_statistics(inputs) is not None

    def accuracy(x: Any, y: Any) -> float:
        if not stale:
            return float(evaluate(x, y)["accuracy"])
        got = training_mode_accuracy(inputs, x, y)
        if got is None:
            raise ValueError("no training-mode reading")
        return got

    def as_given(split: Any, idx: np.ndarray) -> float:
        if not stale:
            return float(score_at(inputs, split, idx)["accuracy"])
        return accuracy(np.asarray(take(split.x, idx)), take(split.y, idx))

    findings: list[Finding] = []
    for split in inputs.eval_splits:
        if split.x is None or split.y is None:
            continue
        axes = _axes(split.x)
        if axes is None or _axes(tr.x) != axes:
            continue
        r, c, ch = axes
        probes = {name: fn for name, fn in ORIENTATIONS.items() if name != "channels-reversed" or ch is not None}
        idx = _sample(split.x)
        x, y = np.asarray(take(split.x, idx)), take(split.y, idx)
        try:
            before = as_given(split, idx)
            scores = {name: accuracy(np.ascontiguousarray(fn(x, r, c, ch)), y) for name, fn in probes.items()}
        except Exception:  # the model cannot read the re-oriented images: nothing measured
            continue
        best = max(scores, key=lambda name: scores[name])
        after = scores[best]
        gain = after - before
        bar = max(ORIENTATION_MIN_GAIN, _noise(before, after, len(idx)))
        if gain < bar:
            continue
        tidx = _sample(tr.x)
        try:
            t_before = as_given(tr, tidx)
            tx = np.asarray(take(tr.x, tidx))
            t_after = accuracy(np.ascontiguousarray(ORIENTATIONS[best](tx, r, c, ch)), take(tr.y, tidx))
        except Exception:
            continue
        if t_before - t_after < max(ORIENTATION_MIN_GAIN, _noise(t_before, t_after, len(tidx))):
            continue  # the model does not read this arrangement of its own training images: the gain is chance
        control = {"given": rounded(t_before, 4), best: rounded(t_after, 4)}
        what, cause = MEANING[best]
        x_name = f"x_{split.name}"
        control_text = f" (training images {what}: {t_before:.3f} -> {t_after:.3f})"
        findings.append(
            eval_images_reoriented.finding(
                Severity.ERROR,
                f"The model scores {after:.3f} on {split.name} images {what}, against {before:.3f} as given "
                f"({len(idx)} images){control_text}: the {split.name} images are arranged unlike the training images.",
                evidence={
                    "split": split.name,
                    "images": len(idx),
                    "accuracy_given": rounded(before, 4),
                    "accuracy_reoriented": {name: rounded(a, 4) for name, a in scores.items()},
                    "mode": "training" if stale else "inference",
                    "best": best,
                    "gain": rounded(gain, 4),
                    "threshold": rounded(bar, 4),
                    "train_control": control,
                },
                fix=Fix(
                    f"Load the {split.name} images in the training images' layout",
                    _code(best, x_name, r, c, ch) + f"  # measured: accuracy {before:.3f} -> {after:.3f}",
                ),
                explanation=COLOUR_EXPLANATION if best == "channels-reversed" else LAYOUT_EXPLANATION,
                split=split.name,
                cause=cause,
            )
        )
    return findings
