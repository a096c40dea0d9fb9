"""MDL: the model measured on its own data, in inference mode (MDL006, MDL007).

See `cifar_doctor.checks.model` for what Keras does that these checks rest on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.history import ASSUMED_CLASSES, chance_accuracy_band
from ...measure.stats import split_scheme
from ...registry import register

if TYPE_CHECKING:
    from ...measure.model import Measurement

#: Inference-mode accuracy on training images above every eval split's by at least this many
#: standard errors of the difference (binomial, on the images measured) is a gap the model made,
#: not sampling noise: 2 standard errors are 0.05 for 300 training and 300 eval images near 0.8,
#: 0.02 for 2,000 and 5,000. A fixed gap of 0.15 (the former rule) ignored the task: on easy
#: tasks an overfit model's whole error is a few points (1.0 against 0.97 on ten digits). Chosen
#: on the run corpus's model+data trials, in every fold from the other four (2 in all five, of
#: 2, 3 and 4; `bench/corpus`): in place of the fixed 0.15, with `OVERFIT_ERROR_RATIO` 1.5,
#: 357 -> 365 right and 24 -> 14 forbidden of 418.
OVERFIT_STANDARD_ERRORS = 2.0


#: ... and every eval split's error rate at least this many times the training error
#: rate. Memorization drives the training error towards 0 while the eval error stays,
#: so the ratio grows (overfit re-enactment: 0.52 / 0.025 = 21; leaked-test run:
#: 2.3); a model that merely has not finished learning errs about as often on both
#: (the standardized healthy run: 0.48 / 0.36 = 1.3). On the run corpus 1.5 and 3 give the
#: same 377 right and 14 forbidden of 418: 3 calls an overfit run (0.92 against 0.77) healthy,
#: 1.5 calls a heavy-dropout run overfitting (its gap, measured in inference mode, is real:
#: 0.90 against 0.79). 3 also called a small CNN's 0.775 against 0.523 on 4,000 CIFAR-10
#: images (2.1x the errors, 7 standard errors apart) not overfitting; 1.5 keeps the reason above.
OVERFIT_ERROR_RATIO = 1.5


def _gap_noise(train: Any, split: Any, errors: float = OVERFIT_STANDARD_ERRORS) -> float:
    """`errors` standard errors of train accuracy minus `split`'s (binomial)."""
    var = sum(s.accuracy * (1.0 - s.accuracy) / max(s.images, 1) for s in (train, split))
    return errors * var**0.5


#: Every eval split scoring above the training images by at least this many standard errors of the
#: difference (binomial), read in the same mode, says the training labels disagree with what the
#: network learned more often than the eval labels do. A network scores the images it was fitted to at
#: least as well as unseen ones of the same distribution, against the same kind of labels; the reverse
#: leaves one reading, wrong training labels it did not memorize, at a rate of at least the difference.
#: Three standard errors, as `MODE_STANDARD_ERRORS`: a one-sided normal tail of 0.0013 for a healthy run.
TRAIN_BELOW_EVAL_STANDARD_ERRORS = 3.0

#: ... and by at least this much (absolute): a fiftieth of the images, the bar MDL011 and the counterfactual
#: step set for a measured difference; on an easy task both splits can score 1.0, with no noise to judge by.
TRAIN_BELOW_EVAL_MIN_GAP = 0.02


#: An eval accuracy within this many standard errors of 1/K (binomial, on the images
#: measured), or within the chance band when that is wider, is chance: the model's
#: answers on those images are unrelated to their labels.
CHANCE_STANDARD_ERRORS = 2.0

#: ... while the training accuracy stands at least this far above 1/K: the model did
#: learn its own training images (the same margin as LOG004's `TRAIN_ABOVE_CHANCE`).
TRAIN_ABOVE_CHANCE = 0.15


def _chance_band(k: int, images: int) -> float:
    p = 1.0 / k
    return max(chance_accuracy_band(k), CHANCE_STANDARD_ERRORS * (p * (1.0 - p) / max(images, 1)) ** 0.5)


def _eval_unrelated_to_labels(m: Measurement, k: int, majority: float) -> bool:
    """Every eval split scores chance while the training images score well above it, and above what
    answering the training split's most common class scores (`majority`: a model that learned only the
    class mix of an imbalanced split scores its share there and 1/K on a balanced eval split)."""
    return m.train.accuracy >= max(1.0 / k, majority) + TRAIN_ABOVE_CHANCE and all(
        abs(s.accuracy - 1.0 / k) <= _chance_band(k, s.images) for s in m.evals
    )


def _training_classes(inputs: Inputs) -> np.ndarray | None:
    """Class indices of up to `TRAIN_SAMPLE` training labels (one-hot rows by arg-max), or None when the
    labels are not classes: targets with a fractional part (a regression, whose accuracy means nothing)."""
    from ...measure.model import TRAIN_SAMPLE, sample_indices, take
    from ...sources.sampling import class_ids

    y = inputs.train.y if inputs.train is not None else None
    if y is None or not len(y):
        return None
    ids = class_ids(take(y, sample_indices(len(y), TRAIN_SAMPLE)))
    return None if ids is None or ids.min() < 0 else ids


def _measured(inputs: Inputs) -> Measurement | None:
    from ...measure.model import measure_model

    m = measure_model(inputs)
    if m is None or m.train is None or not m.evals:
        return None
    return m


def _schemes_differ(inputs: Inputs) -> bool:
    """Train and an eval split arrive on different input scales: the PRE checks explain that gap."""
    tr = split_scheme(inputs.train)
    return any(split_scheme(s) != tr for s in inputs.eval_splits)


def _scores_text(m: Measurement) -> str:
    return ", ".join(
        f"{s.split} {s.accuracy:.3f} ({'' if s.loss is None else f'loss {s.loss:.3g}, '}{s.images} images)"
        for s in (m.train, *m.evals)
    )


def _dict(score: Any) -> dict[str, Any] | None:
    return None if score is None else score.to_dict()


def _accuracy_classes(inputs: Inputs) -> int | None:
    """K for the chance level of the measured accuracy: `Inputs.num_classes`, else 2 for a model with one
    output unit, whose answers are cut into two classes (`count_correct`)."""
    if inputs.num_classes:
        return inputs.num_classes
    return 2 if inputs.model is not None and inputs.model.output_units == 1 else None


def _statistics_gap(inputs: Inputs) -> float | None:
    """What stale moving statistics cost the training images (training mode minus inference mode), or None."""
    from ...measure.model import stale_statistics

    stale = stale_statistics(inputs)
    return None if stale is None else stale.training - stale.inference


def _batch_statistics(inputs: Inputs) -> Measurement | None:
    """The comparison read in training mode when BatchNormalization's moving statistics are stale."""
    from ...measure.model import training_mode_measurement

    return training_mode_measurement(inputs)


@register(
    "MDL006",
    "measured-generalization-gap",
    requires=("evaluator", "train_x", "labels", "eval_x", "eval_labels"),
    cause="overfitting",
)
def measured_generalization_gap(inputs: Inputs) -> list[Finding]:
    """Evaluate the model on training images and on each eval split, in inference mode, and compare.

    ## What it does
    Evaluates the model on up to 2,000 evenly spaced training images, as they
    were fed, and on up to 5,000 images of each eval split, in inference mode
    (dropout off, BatchNorm on its moving statistics). Fires (warning) when
    training accuracy beats every eval split by at least
    `OVERFIT_STANDARD_ERRORS` (2) standard errors of the difference and every
    eval error rate is at least `OVERFIT_ERROR_RATIO` (1.5) times the training
    error rate; otherwise it
    reports the measured accuracies (info). When K is known and every eval
    split scores chance (within `CHANCE_STANDARD_ERRORS` binomial standard
    errors of 1/K, or the chance band) while the training images score at least
    `TRAIN_ABOVE_CHANCE` above it (and above the share of the training split's
    most common class), the gap is no overfitting: the warning then
    names `eval-labels-misaligned` (eval labels out of their images' order, or
    eval images laid out differently). Silent when the splits arrive on
    different input scales (the PRE checks explain that gap) or when the model
    is at chance everywhere (MDL007), and on targets that are not classes (a
    regression's, where accuracy measures nothing). When every eval split scores above the
    training images by `TRAIN_BELOW_EVAL_STANDARD_ERRORS` (3) standard errors,
    the warning names `noisy-labels`: the training labels contradict what the
    model learned more often than eval labels do, in at least the difference
    of the two accuracies. When BatchNormalization's moving
    statistics are stale (MDL012's reading), inference mode measures them
    rather than the network: the same comparison is then read in training
    mode, each batch of up to 1,000 images of every split normalized with its
    own statistics (`training_mode_measurement`), and the evidence keeps the
    inference-mode scores; a generalization gap smaller than what the stale
    statistics cost the training images is then reported as information.
    A model with one output unit is read as two classes.

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
    classes = _training_classes(inputs)
    if m is None or classes is None or _schemes_differ(inputs):
        return []
    majority = float(np.bincount(classes).max() / len(classes))
    known = _accuracy_classes(inputs)
    if known and classes.max() >= known:
        return []  # labels beyond the model's classes (a regression's integer targets, LBL004's range error)
    k = known or ASSUMED_CLASSES
    inference = m
    mode = "inference"
    batch = _batch_statistics(inputs)
    if batch is not None:
        m, mode = batch, "training"
    if _all_at_chance(m, k):
        return []
    gaps = {s.split: m.train.accuracy - s.accuracy for s in m.evals}
    noise = {s.split: _gap_noise(m.train, s) for s in m.evals}
    smallest = min(gaps.values())
    significant = all(gaps[n] >= noise[n] for n in gaps)
    train_error = 1.0 - m.train.accuracy
    error_ratio = min((1.0 - s.accuracy) / max(train_error, 1e-9) for s in m.evals)
    evidence = {
        "train": m.train.to_dict(),
        "eval": [s.to_dict() for s in m.evals],
        "gap": {n: round(g, 4) for n, g in gaps.items()},
        "gap_noise": {n: round(v, 4) for n, v in noise.items()},
        "standard_errors": OVERFIT_STANDARD_ERRORS,
        "error_ratio": round(error_ratio, 3),
        "error_ratio_threshold": OVERFIT_ERROR_RATIO,
        "mode": mode,
        "errors": list(m.errors),
    }
    said = f"Measured in {mode} mode"
    why = ""
    if batch is not None:
        evidence["inference_mode"] = {"train": _dict(inference.train), "eval": [s.to_dict() for s in inference.evals]}
        said += " (BatchNormalization on each batch's statistics: its moving ones are stale, MDL012)"
        why = (
            " BatchNormalization's moving statistics do not fit (MDL012), so both splits were read as fit reads "
            "them, each batch normalized with its own statistics: what remains between them is the network's."
        )
    if known and _eval_unrelated_to_labels(m, k, majority):
        evidence.update(
            chance=round(1.0 / k, 4), chance_band={s.split: round(_chance_band(k, s.images), 4) for s in m.evals}
        )
        return [
            measured_generalization_gap.finding(
                Severity.WARNING,
                f"{said}, the model scores {m.train.accuracy:.3f} on training images and "
                f"{', '.join(f'{s.accuracy:.3f} on {s.split}' for s in m.evals)}: chance for {k} classes "
                f"(1/{k} = {1.0 / k:.3f}).",
                evidence=evidence,
                cause="eval-labels-misaligned",
                fix=Fix(
                    "Check that each eval label belongs to its image: shuffle images and labels together, "
                    "and lay eval images out like training images",
                    "idx = np.random.default_rng(0).permutation(len(x_test))\n"
                    "x_test, y_test = x_test[idx], y_test[idx]  # never shuffle x and y separately",
                ),
                explanation=(
                    "A model that learned its training images and overfits still scores above chance on new ones: "
                    "what it learned partly carries over. At exactly chance on every eval split, its answers there "
                    "are unrelated to the eval labels: the labels are not in the images' order (shuffled "
                    "separately, another split's labels) or the images are laid out differently (transposed, "
                    "another channel order), so the model sees something else. It is not overfitting." + why
                ),
            )
        ]
    below = {
        n: max(TRAIN_BELOW_EVAL_MIN_GAP, _gap_noise(m.train, s, TRAIN_BELOW_EVAL_STANDARD_ERRORS))
        for n, s in zip(gaps, m.evals)
    }
    if all(-gaps[n] >= below[n] for n in gaps):
        least = -max(gaps.values())
        evidence.update(wrong_labels_at_least=round(least, 4), standard_errors=TRAIN_BELOW_EVAL_STANDARD_ERRORS)
        return [
            measured_generalization_gap.finding(
                Severity.WARNING,
                f"{said}, the model scores {m.train.accuracy:.3f} on its own training images and "
                f"{', '.join(f'{s.accuracy:.3f} on {s.split}' for s in m.evals)}: it agrees with the training labels "
                f"less often than with labels it never saw, so at least {least:.1%} of the training labels "
                "contradict what it learned.",
                evidence=evidence,
                cause="noisy-labels",
                fix=Fix(
                    "Relabel or drop the training images whose label the model contradicts (LBL010 lists them with "
                    "the `labels` extra); until then, a noise-robust loss or early stopping at the validation peak"
                ),
                explanation=(
                    "A network scores the images it was fitted to at least as well as unseen images of the same "
                    "kind; here it scores its training images worse, against their own labels, in the same mode. "
                    "The training labels disagree with what it learned more often than the eval labels do: wrong "
                    "training labels it did not memorize. Regularizing will not fix them." + why
                ),
            )
        ]
    if significant and error_ratio >= OVERFIT_ERROR_RATIO:
        # with stale moving statistics both gaps are real; the verdict goes to the larger one, and a
        # generalization gap smaller than what the statistics cost the training images is information
        bn_gap = _statistics_gap(inputs)
        minor = ""
        if bn_gap is not None and smallest < bn_gap:
            evidence.update(statistics_gap=round(bn_gap, 4))
            minor = (
                f" It is smaller than the {bn_gap:.3f} the stale moving statistics cost the training images "
                "(MDL012), which comes first."
            )
        return [
            measured_generalization_gap.finding(
                Severity.INFO if minor else Severity.WARNING,
                f"{said}, the model scores {m.train.accuracy:.3f} on training images and "
                f"{', '.join(f'{s.accuracy:.3f} on {s.split}' for s in m.evals)}: a gap of at least {smallest:.3f}."
                + minor,
                evidence=evidence,
                fix=Fix(
                    "Stop earlier and regularize: EarlyStopping, augmentation, dropout, weight decay",
                    'keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)',
                ),
                explanation=(
                    f"Both accuracies come from the finished model in {mode} mode on data preprocessed the same way, "
                    f"so the {smallest:.2f} gap is not dropout or a pipeline difference: the model fits images it "
                    "trained on far better than images it did not. That is overfitting." + why
                ),
            )
        ]
    return [
        measured_generalization_gap.finding(
            Severity.INFO,
            f"{said}: {_scores_text(m)}; the training-eval gap ({smallest:.3f}, eval errors "
            f"{error_ratio:.2f}x the training errors) is within {OVERFIT_STANDARD_ERRORS:g} standard errors or "
            f"under {OVERFIT_ERROR_RATIO:g}x: "
            "not overfitting.",
            evidence=evidence,
            fix=Fix("Nothing to fix for overfitting"),
            explanation="The finished model scores about as well on unseen images as on its training images." + why,
            cause=None,
        )
    ]


def _all_at_chance(m: Measurement, k: int) -> bool:
    band = chance_accuracy_band(k)
    return all(s.accuracy <= 1.0 / k + band for s in (m.train, *m.evals))


def _barely_learned(m: Measurement, k: int) -> bool:
    """Every eval split at chance (within `_chance_band` of 1/K) while the training images score
    less than `TRAIN_ABOVE_CHANCE` above it: too little learned for any of it to have reached new
    images, so neither a gap nor its absence says anything (0.139 on training images against 0.089
    on test images, ten classes, in the run corpus: it had been called healthy)."""
    return (
        bool(m.evals)
        and m.train.accuracy < 1.0 / k + TRAIN_ABOVE_CHANCE
        and all(s.accuracy <= 1.0 / k + _chance_band(k, s.images) for s in m.evals)
    )


@register("MDL007", "model-at-chance", requires=("evaluator", "train_x", "labels"), cause="not-learning")
def model_at_chance(inputs: Inputs) -> list[Finding]:
    """The model scores chance on its own training images: it has not learned.

    ## What it does
    Evaluates the model in inference mode on up to 2,000 training images and
    on the eval splits (see MDL006). Fires (warning) when every accuracy lies
    within the chance band of 1/K (K from the labels or the model's outputs),
    or when every eval split does and the training images score less than
    `TRAIN_ABOVE_CHANCE` above it (`_barely_learned`).
    A model at chance is a symptom: a finding that names why (labels encoded
    for another loss, an output the loss does not expect) takes precedence.
    Silent when the same training images score at least `TRAIN_ABOVE_CHANCE`
    above chance in training mode and MDL012 finds BatchNormalization's
    moving statistics stale: the network learned, its inference mode fails.

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
    from ...measure.model import measure_model

    m = measure_model(inputs)
    if m is None or m.train is None:
        return []
    k = inputs.num_classes or ASSUMED_CLASSES
    everywhere = _all_at_chance(m, k)
    if not (everywhere or _barely_learned(m, k)):
        return []
    from ...measure.model import stale_statistics

    stale = stale_statistics(inputs)
    if stale is not None and stale.training >= 1.0 / k + TRAIN_ABOVE_CHANCE:
        return []  # learned with batch statistics: MDL012 names the moving ones
    where = "" if everywhere else f" on every eval split, and less than {TRAIN_ABOVE_CHANCE} above it in training"
    return [
        model_at_chance.finding(
            Severity.WARNING,
            f"Measured in inference mode, the model scores chance (1/{k} = {1 / k:.3f}){where}: {_scores_text(m)}.",
            evidence={
                "train": m.train.to_dict(),
                "eval": [s.to_dict() for s in m.evals],
                "classes": k,
                "chance": round(1 / k, 4),
                "mode": "inference",
                "errors": list(m.errors),
            },
            fix=Fix(
                "Make the network learn: normalize inputs, use a sane learning rate, check the label order",
                'x_train = x_train.astype("float32") / 255.0\n'
                'model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=..., metrics=["accuracy"])',
            ),
            explanation=(
                "A model that learned anything scores above chance on its own training images; this one does not, "
                "so the training failed and no train/validation gap can be read from it."
            ),
            split="train",
        )
    ]
