"""LBL: wrong training labels, estimated with the model (LBL010), and eval labels it contradicts (LBL011).

The estimate and the suspects come from `cifar_doctor.measure.noise` (cross-validated
probabilities of a cheap classifier on the model's penultimate features, and
confident learning on them); this check only judges the estimated fraction.
"""

from __future__ import annotations

import numpy as np

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.noise import Suspect
from ...registry import register

#: Estimated fraction of wrong training labels from which LBL010 supports `noisy-labels` (a hint
#: unless the raw images corroborate it). The estimate reads human noise low, because people
#: mislabel the images a classifier finds ambiguous too: on the small CNN of `bench/noisy_labels.py`,
#: CIFAR-10N labels read 0.04-0.05 when clean (two seeds), 0.045-0.063 at 9.4% wrong (`aggre`), and
#: mixtures of the `worse` and `clean` labels 0.08 at 10.5%, 0.13-0.14 at 16.2%, 0.15-0.17 at 24.9%,
#: 0.22-0.32 at 41.6%. From about 15% wrong labels, memorizing them opens a gap that early stopping
#: and dropout (the overfitting fixes) do not close; 0.10 is where such a run reads, twice a clean
#: reading. Clean labels on a network stopped early read as high (0.13-0.21 at 6-8 epochs), which
#: the raw images rule out (`CLEAN_GAP`).
NOISY_FRACTION = 0.10

#: Estimated fraction from which LBL012 (outputs recorded early in training) supports `noisy-labels`:
#: that estimate is not the features' and keeps its own bar (`compare fixed --train-labels`: 0.31 at
#: 43% wrong, clean and 9.4% well below).
EARLY_NOISY_FRACTION = 0.15

#: Whether LBL010 may support `noisy-labels` (only ever when both guards below hold, since a cause
#: named on clean labels would send the user to relabel good data). On CIFAR-10N the guards trust the
#: 41.6%-wrong run (estimate 0.32) and distrust the clean and 9.4% ones, but on the run corpus
#: (`bench/corpus`, 418 runs with a kept model) trusted estimates from 15% up came on 12 runs, 7 of
#: them with clean labels (weak models at 0.2-0.4 eval accuracy read 0.34-0.55 wrong). So a trusted
#: estimate is a hint under `also` (`diagnosis.HINT_CODES`) unless the raw images corroborate it
#: (`CORROBORATING_GAP`); then it may be the primary verdict.
NAMES_CAUSE = True

#: Most the model's agreement with its training labels may exceed its accuracy on the eval labels
#: (`memorization_gap`) for the estimate to be trusted. Beyond it the model has memorized much of what
#: it cannot generalize, wrong labels included, and its features agree with them: the estimate is a
#: lower bound (the `fixed` recipe trained on past its peak, 0.86 on training against falling
#: validation accuracy, reads 0.1%). Measured on CIFAR-10N `worse` (41.6% wrong), small CNN, 12
#: epochs: 0.09 and 0.18 over two seeds, with estimates 0.32 and 0.22; clean and `aggre` runs, which
#: fit their training images further, 0.21 to 0.25.
MEMORIZATION_GAP = 0.2

#: Least the cheap classifier on the features must agree with the training labels beyond its accuracy
#: on the eval labels (`fit_margin`) for the estimate to be trusted. Below it the model has not yet
#: fitted its training images better than unseen ones: its features are a weak classifier, whose own
#: errors confident learning counts as wrong labels (the bundled sample's model after 6 epochs reads
#: 0.43 on clean labels with a margin of 0.04, and -0.05 on `worse`; the CIFAR-10N runs of
#: `bench/noisy_labels.py` have 0.11 to 0.26).
FIT_MARGIN = 0.07

#: Least `image_label_gap` (`cifar_doctor.measure.noise`: how much less the training labels agree
#: with a raw-image classifier than the eval labels do, as a fraction of wrong labels) that
#: corroborates a trusted estimate, so that LBL010 may name `noisy-labels` as the primary cause rather
#: than a hint. The reading involves no model, so a weak or memorizing network cannot produce it. It
#: reads human noise at 0.5-0.9 of its rate (people mislabel the images a classifier finds hard), so
#: 15% wrong labels, from where the cause should be named, read from about 0.08. On 12 disjoint slices
#: of 4,000 CIFAR-10 training images, each against 1,000 test images (`bench/raw_label_gap.py`),
#: clean labels read -0.04 to 0.05, `aggre` (9-10%) -0.00 to 0.10, mixtures of human noise at 15-17%
#: 0.10 to 0.17 and at 19-21% 0.10 to 0.22, with standard errors of 0.043-0.050: at those sizes the
#: two standard errors below (about 0.09) are the bar, and 0.08 binds only on larger samples, where a
#: systematic difference between the splits rather than chance could reach two standard errors. This
#: bar corroborates 12 of 12 readings at 15-17% and 19-21%, one at 9-10% and none on clean labels;
#: 0.12 (the bar of the weaker thumbnail reading) corroborated 5 and 9 of 12.
CORROBORATING_GAP = 0.08

#: ... and at least this many of the reading's standard errors (`image_label_gap_se`, binomial, from
#: the numbers of training and eval images): on a few hundred images one standard error passes 0.1.
CORROBORATING_ERRORS = 2.0

#: Most `image_label_gap` at which the training labels agree with the images as well as the eval labels
#: do (within about one standard error of a clean reading): LBL010 then names no cause, whatever its
#: estimate, and rules `noisy-labels` out (`rules_out` in its evidence), so a log's memorization curve
#: (FIT007) suggests nothing about the labels either. CIFAR-10N: -0.02 to 0.03 on clean labels, from
#: 0.06 at 9.4% (`CORROBORATING_GAP` lists the readings). The reading involves no model: the clean
#: labels trained for 6 epochs instead of 12 read 0.21 wrong from the network's features (trusted by
#: both guards), -0.02 from the raw images.
CLEAN_GAP = 0.06

#: Estimated fraction below which the labels are reported as clean (info, no cause):
#: the estimate of the clean run plus its spread over seeds.
CLEAN_FRACTION = 0.05

#: Suspects named in the message; the evidence lists every one.
SHOWN_SUSPECTS = 5


def distrust(signals: dict) -> str | None:
    """Why the estimate cannot be trusted (a reason to print), or None when both guards hold."""
    gap, margin = signals.get("memorization_gap"), signals.get("fit_margin")
    if gap is None or margin is None:
        return "no eval split with labels to check the features against"
    if gap > MEMORIZATION_GAP:
        return (
            f"the model agrees with its training labels {gap:.2f} more than with the eval labels (over "
            f"{MEMORIZATION_GAP}): it has memorized labels it cannot generalize, so this is a lower bound"
        )
    if margin < FIT_MARGIN:
        return (
            f"a classifier on the model's features agrees with the training labels only {margin:.2f} more than "
            f"with the eval labels (under {FIT_MARGIN}): features too weak, their errors read as wrong labels"
        )
    return None


def corroborates(signals: dict) -> bool:
    """The raw-image gap (`image_label_gap`, with its standard error) is at least `CORROBORATING_GAP` and
    `CORROBORATING_ERRORS` standard errors: wrong training labels seen with no model involved."""
    gap = signals.get("image_label_gap")
    return gap is not None and gap >= max(
        CORROBORATING_GAP, CORROBORATING_ERRORS * signals.get("image_label_gap_se", 0.0)
    )


def _suspect_text(s, classes: list[str] | None) -> str:
    def name(c: int) -> str:
        return f"{c} ({classes[c]})" if classes and 0 <= c < len(classes) else str(c)

    return f"#{s.index}: {name(s.given)}, likely {name(s.likely)} ({s.confidence:.2f})"


#: The fix of a `noisy-labels` finding (LBL010, LBL012).
RELABEL_FIX = Fix(
    "Relabel or drop the listed suspects; train with a noise-robust loss, or stop at the validation peak as a stop-gap",
    'keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)',
)

#: CIFAR-10 class names, used when K is 10.
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@register(
    "LBL010", "noisy-training-labels", requires=("evaluator", "train_x", "labels", "noise_extra"), cause="noisy-labels"
)
def noisy_training_labels(inputs: Inputs) -> list[Finding]:
    """Estimate the fraction of wrong training labels from the model's own features, and list the suspects.

    ## What it does
    Estimates the fraction of wrong training labels and lists the images most likely mislabeled.
    It reads the model's penultimate-layer features on up to 10,000 training
    images (one extra pass, through `model.predict`), fits a logistic
    regression on them with 5-fold cross-validation, so that no image is
    judged by a classifier that saw its label, and runs confident learning
    (cleanlab) on those out-of-sample probabilities: the estimated fraction
    of wrong labels is the mass off the diagonal of the estimated joint
    distribution of given and true labels. Fires (warning,
    `noisy-labels`) from an estimate of `NOISY_FRACTION` (0.10) when two
    guards hold against the first eval split with labels: the model agrees
    with its training labels at most `MEMORIZATION_GAP` (0.2) more than with
    the eval labels (else it memorized the wrong labels too and the estimate
    is a lower bound), and the classifier on its features agrees with the
    training labels at least `FIT_MARGIN` (0.07) more than with the eval
    labels (else the features are too weak and their errors read as wrong
    labels). Otherwise it reports the estimate, the reason and the suspects
    as information. The warning stays a hint under `also` unless a reading
    that involves no model corroborates it: the training labels agree with a
    classifier on raw-image patches at least `CORROBORATING_GAP` (0.08) and
    two standard errors less than the eval labels do (`image_label_gap`);
    then `noisy-labels` may be the primary verdict. Below `CLEAN_GAP` (0.06) it names no cause, whatever
    the estimate, and rules `noisy-labels` out: a log's memorization curve
    (FIT007) no longer suggests it. The evidence lists
    every suspect: its index in the training split, its given label, the
    likely label and the classifier's confidence in it. Needs the optional
    extra `pip install 'cifar-doctor[labels]'` (cleanlab, scikit-learn).

    ## Why is this bad?
    A network learns the clean patterns first and then memorizes the wrong
    labels: validation accuracy peaks and falls while training accuracy climbs
    past what the labels allow. That looks like overfitting, but its fix is
    not regularization: it is relabeling or dropping the wrong labels. On
    4,000 CIFAR-10 images labeled by a careless annotator (CIFAR-10N `worse`,
    41.6% wrong), a small CNN peaks at 0.47 validation accuracy and falls to
    0.40 while its training accuracy climbs to 0.56.

    ## Example
    ```
    cifar-doctor check --data data.npz --model model.keras
    # About 32% of the training labels look wrong (...); most likely: #1234: 3 (cat), likely 5 (dog) (0.83); ...
    ```

    ## Use instead
    ```python
    import json, numpy as np
    suspects = [s["index"] for s in json.load(open("report.json"))["findings"][0]["evidence"]["suspects"]]
    keep = np.setdiff1d(np.arange(len(y_train)), suspects)   # or relabel them
    model.fit(x_train[keep], y_train[keep], ...)
    ```
    or train with a noise-robust loss, and stop at the validation peak
    (`EarlyStopping(restore_best_weights=True)`) as a stop-gap.
    """
    from ...measure.noise import label_noise

    est = label_noise(inputs)
    if est is None:
        return []
    k = inputs.num_classes or 0
    classes = CIFAR10_CLASSES if k == 10 else None
    shown = "; ".join(_suspect_text(s, classes) for s in est.suspects[:SHOWN_SUSPECTS])
    evidence = {
        "estimated_wrong_fraction": round(est.fraction, 4),
        "threshold": NOISY_FRACTION,
        "clean_below": CLEAN_FRACTION,
        "images": est.images,
        "of": est.of,
        "feature_layer": est.layer,
        "signals": est.signals,
        "suspect_count": len(est.suspects),
        "suspects": [s.to_dict() for s in est.suspects],
    }
    why_not = distrust(est.signals)
    evidence["trusted"] = why_not is None
    gap = est.signals.get("image_label_gap")
    evidence["corroborated"] = why_not is None and corroborates(est.signals)
    evidence["corroborating_gap"] = CORROBORATING_GAP
    # the raw images agree with the training labels as well as with the eval labels: no cause, and none hinted
    contradicted = gap is not None and gap < CLEAN_GAP
    if contradicted:
        evidence["rules_out"] = ["noisy-labels"]
    if NAMES_CAUSE and why_not is None and not contradicted and est.fraction >= NOISY_FRACTION:
        return [
            noisy_training_labels.finding(
                Severity.WARNING,
                f"About {est.fraction:.0%} of the training labels look wrong ({len(est.suspects)} suspects among "
                f"{est.images} images read); most likely: {shown}.",
                evidence=evidence,
                fix=RELABEL_FIX,
                explanation=(
                    "A classifier fitted on the model's own features, each image scored by one that never saw its "
                    "label, contradicts these labels far more often than a clean dataset allows."
                    + (
                        " The raw images agree, with no model involved: a classifier on their pixels' patches matches "
                        f"the eval labels {est.signals['image_eval_accuracy']:.0%} of the time and the training labels "
                        f"{est.signals['image_train_agreement']:.0%}, which by itself reads about "
                        f"{est.signals['image_label_gap']:.0%} wrong training labels."
                        if evidence["corroborated"]
                        else ""
                    )
                    + " A network fits the clean patterns first and then memorizes the wrong labels, which costs "
                    "validation accuracy: regularizing hides the gap, relabeling removes its cause."
                ),
                split="train",
            )
        ]
    if why_not is not None:
        verdict = f"not trusted: {why_not}"
    elif contradicted and est.fraction >= NOISY_FRACTION:
        verdict = (
            f"not supported: a classifier on the raw images agrees with the training labels as well as with the "
            f"eval labels (gap {gap:.2f}, under {CLEAN_GAP})"
        )
    elif est.fraction < CLEAN_FRACTION:
        verdict = "the labels look clean"
    elif est.fraction < NOISY_FRACTION:
        verdict = "below the level that explains a gap"
    else:
        verdict = f"above the {NOISY_FRACTION:.0%} that would explain a gap"
    return [
        noisy_training_labels.finding(
            Severity.INFO,
            f"Estimated wrong training labels: {est.fraction:.1%} ({verdict})"
            + (f"; most likely: {shown}." if est.suspects else "."),
            evidence=evidence,
            fix=Fix("Review the listed suspects: relabel or drop those that are wrong"),
            explanation=(
                "A classifier fitted on the model's own features, each image scored by one that never saw its "
                "label, says how often the given labels contradict the images. It names a cause only from "
                f"{NOISY_FRACTION:.0%} on, and only when the model has neither memorized far past what it "
                "generalizes nor stayed too weak to tell a hard image from a wrong label."
            ),
            cause=None,
            split="train",
        )
    ]


#: The model's probability of another class from which an eval label counts as contradicted. The
#: model never trained on eval images, so this is an out-of-sample judgement; at 0.9 a well-trained
#: CIFAR-10 CNN flags about 1% of the test set, among them most of its few dozen known wrong labels
#: (and as many hard images it is confidently wrong about: hence information, never a cause).
EVAL_CONTRADICTION_CONFIDENCE = 0.9


@register("LBL011", "eval-labels-contradicted", requires=("evaluator", "eval_x", "eval_labels"))
def eval_labels_contradicted(inputs: Inputs) -> list[Finding]:
    """List the eval images whose label the model contradicts with high confidence (information).

    ## What it does
    Lists the eval images whose label the model contradicts with high confidence.
    It reads the model's probabilities on up to 5,000 images of the first eval split
    with labels (the pass LBL010 shares) and lists those where the model gives another class a
    probability of at least `EVAL_CONTRADICTION_CONFIDENCE` (0.9): the index,
    the given label, the model's class and its probability. Information only:
    it supports no cause.

    ## Why is this bad?
    Even curated test sets hold wrong labels (CIFAR-10's test set has a few
    dozen), and each costs a correct model a point of measured accuracy.
    A confident contradiction is either such a label or an image the model
    gets confidently wrong; a person can tell them apart in seconds. Neither
    makes the eval set misaligned: that needs accuracy at chance (LOG004).

    ## Example
    ```
    cifar-doctor check --data data.npz --model model.keras
    # 12 of 1,000 test labels contradicted at >= 0.9: #2405 cat, model says frog (0.97), ...
    ```

    ## Use instead
    Look at the listed images; relabel the ones whose label is wrong.
    """
    from ...measure.noise import eval_outputs, labels_1d

    ev = eval_outputs(inputs)
    if ev is None:
        return []
    split, got, idx = ev
    k = inputs.num_classes or got.probabilities.shape[1]
    labels = labels_1d(split.y, k)[idx]
    probs = got.probabilities
    likely = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    hit = (likely != labels) & (conf >= EVAL_CONTRADICTION_CONFIDENCE)
    order = np.flatnonzero(hit)[np.argsort(-conf[hit], kind="stable")]
    classes = CIFAR10_CLASSES if k == 10 else None
    listed = [Suspect(int(idx[i]), int(labels[i]), int(likely[i]), float(conf[i])) for i in order]
    shown = "; ".join(_suspect_text(s, classes) for s in listed[:SHOWN_SUSPECTS])
    return [
        eval_labels_contradicted.finding(
            Severity.INFO,
            f"The model contradicts {len(listed)} of {len(idx)} {split.name} labels with a probability of at least "
            f"{EVAL_CONTRADICTION_CONFIDENCE}" + (f": {shown}." if listed else "."),
            evidence={
                "split": split.name,
                "images": len(idx),
                "of": len(split.x),
                "threshold": EVAL_CONTRADICTION_CONFIDENCE,
                "count": len(listed),
                "contradicted": [s.to_dict() for s in listed],
            },
            fix=Fix("Look at the listed images and relabel those whose label is wrong"),
            explanation=(
                "The model never trained on these images, so a confident contradiction is either a wrong label "
                "or an image it gets confidently wrong; it does not make the eval labels misaligned."
            ),
            split=split.name,
        )
    ]


#: An estimate from outputs recorded before the validation peak trusts a model that had learned
#: something by then: below this multiple of chance (1/K) at the peak, its own mistakes would be
#: counted as wrong labels (a 10-class model at 0.2 is wrong on 80% of the images, clean or not).
EARLY_MIN_ACCURACY_FACTOR = 3.0


@register("LBL012", "noisy-labels-early", requires=("probes", "history", "noise_extra"), cause="noisy-labels")
def noisy_labels_early(inputs: Inputs) -> list[Finding]:
    """Estimate wrong training labels from the model's outputs before it memorized them.

    ## What it does
    Averages the probabilities the model gave a fixed sample of training images at each epoch
    end (recorded by `DoctorCallback` with `train_sample`, and by `compare`) from the first
    epoch to the validation peak, and runs confident learning (cleanlab) on the average against
    the given labels. Fires (warning, `noisy-labels`) from an estimate of `EARLY_NOISY_FRACTION`
    (0.15) when the validation accuracy at the peak is at least `EARLY_MIN_ACCURACY_FACTOR`
    (3) times chance and the curves show memorization after it (validation falls while
    training accuracy climbs, for at least `MEMORIZATION_MIN_EPOCHS` (2) epochs after the peak:
    the gap that wrong labels open); reports the estimate as
    information otherwise (a model still climbing at its last epoch is weak, and its own
    mistakes would read as wrong labels). Says at which epoch
    memorization starts when the validation accuracy falls after the peak while the training
    accuracy climbs. The evidence lists every suspect.

    ## Why is this bad?
    Networks fit the images whose labels agree with the rest first and memorize the others
    later: until validation accuracy peaks, the model's output on a mislabeled training image
    mostly names its true class. Many such disagreements mean many wrong labels, and the gap
    they open after the peak is memorization of those labels, which regularizing only hides.

    ## Example
    ```
    cifar-doctor compare fixed --train-labels cifar10n_labels.npz:worse --limit 4000
    # About 35% of the training labels look wrong before epoch 6 ...; memorization starts at epoch 7
    ```

    ## Use instead
    Relabel or drop the listed suspects, train with a noise-robust loss, and stop at the
    validation peak (`EarlyStopping(restore_best_weights=True)`) as a stop-gap.
    """
    from ...measure.early import MEMORIZATION_MIN_EPOCHS, early_noise

    k = inputs.num_classes
    if not k:
        return []
    est = early_noise(inputs.history, k)
    if est is None:
        return []
    classes = CIFAR10_CLASSES if k == 10 else None
    shown = "; ".join(_suspect_text(s, classes) for s in est.suspects[:SHOWN_SUSPECTS])
    peak_acc = est.signals["val_accuracy_at_peak"]
    evidence = {
        "estimated_wrong_fraction": round(est.fraction, 4),
        "threshold": EARLY_NOISY_FRACTION,
        "images": est.images,
        "peak_epoch": est.peak_epoch,
        "memorization_from": est.memorization_from,
        "min_accuracy_at_peak": round(EARLY_MIN_ACCURACY_FACTOR / k, 4),
        "signals": est.signals,
        "suspect_count": len(est.suspects),
        "suspects": [s.to_dict() for s in est.suspects],
    }
    when = f" Memorization starts at epoch {est.memorization_from}." if est.memorization_from else ""
    read = f"read on {est.images} training images over epochs 1-{est.peak_epoch}, up to the validation peak"
    if est.fraction >= EARLY_NOISY_FRACTION and peak_acc >= EARLY_MIN_ACCURACY_FACTOR / k and est.memorization_from:
        return [
            noisy_labels_early.finding(
                Severity.WARNING,
                f"About {est.fraction:.0%} of the training labels look wrong ({read}); most likely: {shown}.{when}",
                evidence=evidence,
                fix=RELABEL_FIX,
                explanation=(
                    "Before validation accuracy peaked, the model's outputs on these training images named another "
                    "class than their label far more often than clean labels allow: networks learn what the images "
                    "share before they memorize exceptions. After the peak the model memorizes the wrong labels, "
                    "which costs validation accuracy: regularizing hides the gap, relabeling removes its cause."
                ),
                split="train",
            )
        ]
    weak = peak_acc < EARLY_MIN_ACCURACY_FACTOR / k
    if weak:
        status = (
            f"not judged: validation accuracy {peak_acc:.2f} at the peak is under {EARLY_MIN_ACCURACY_FACTOR:g}x chance"
        )
    elif est.fraction < CLEAN_FRACTION:
        status = "the labels look clean"
    elif est.fraction < EARLY_NOISY_FRACTION:
        status = "below the level that explains a gap"
    else:
        status = (
            f"not judged: validation has not stayed below its peak for {MEMORIZATION_MIN_EPOCHS} epochs, so no gap "
            "comes from memorizing labels yet"
        )
    return [
        noisy_labels_early.finding(
            Severity.INFO,
            f"Estimated wrong training labels before the validation peak: {est.fraction:.1%} ({status}; {read})."
            + when,
            evidence=evidence,
            fix=Fix("Review the listed suspects: relabel or drop those that are wrong") if est.suspects else None,
            explanation=(
                "The model's outputs on training images before it could memorize them say how often the given "
                f"labels contradict the images; a cause is named from {EARLY_NOISY_FRACTION:.0%} on."
            ),
            cause=None,
            split="train",
        )
    ]
