"""Wrong training labels, estimated from the model's own features: measurement only (LBL010 judges).

A model's probabilities on its own training images are in-sample: it has partly
memorized the wrong labels, so confident learning on them finds few issues. Two
honest readings are taken instead, from one extra pass over (a sample of) the
training images that reads the penultimate-layer features and the outputs
together (`cifar_doctor.sources.features`):

- **cross-validated probabilities**: a logistic regression on the standardized
  features, fitted on four fifths of the images and predicting the fifth
  (`CV_FOLDS`), so no image is scored by a classifier that saw its label.
  Confident learning (`cleanlab.filter.find_label_issues`,
  `cleanlab.count.num_label_issues`) ranks the suspects on them and counts the
  issues;
- **agreement against accuracy**: the same classifier, fitted on every training
  image, predicts the eval images; where it agrees with the training labels at
  rate `g` (cross-validated) and with the eval labels at rate `a`, a fraction
  `1 - g / a` of training labels disagrees with what the same features say about
  images of known label. The eval labels serve as the clean reference; a wrong
  label the classifier happens to agree with (cat for dog, where people and
  networks err alike) is not counted, so this reading is a floor.

`label_noise(inputs)` is cached per `Inputs`. scikit-learn and cleanlab are
imported on use (the `labels` extra); nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import sample_indices

#: Training images read for the estimate (evenly spaced, like the model measurement):
#: 10,000 bound the extra pass to about 40 s of a small CNN on a CPU and the features
#: (256 floats each) to 10 MB, and put the standard error of a fraction near 0.4 at 0.005.
NOISE_SAMPLE = 10_000

#: Eval images whose features are read to measure the classifier against eval labels.
NOISE_EVAL_SAMPLE = 5_000

#: Folds of the cross-validation: each image is scored by a classifier fitted on the
#: other 80%, the usual choice of confident learning (cleanlab's default is 5 too).
CV_FOLDS = 5

#: Inverse L2 strength of the logistic regression on standardized features. Strong
#: regularization keeps the classifier from following the wrong labels of the
#: images it is fitted on (it averages over each class instead); on the CIFAR-10N
#: runs of `bench/noisy_labels.py` 0.01 to 0.1 give the same estimates within 0.01.
LOGISTIC_C = 0.05

#: Iterations of the logistic regression's solver (lbfgs converges in about 100 on 256 features).
LOGISTIC_ITERATIONS = 300

#: Fewest images per class the estimate needs: fewer than one per fold cannot be cross-validated.
MIN_PER_CLASS = CV_FOLDS


@dataclass(frozen=True)
class Suspect:
    """A training image whose label the cross-validated classifier contradicts."""

    index: int
    given: int
    likely: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "given": self.given, "likely": self.likely,
                "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class NoiseEstimate:
    """The estimated fraction of wrong training labels, the suspects (most likely first) and the readings behind it.

    `fraction` is the estimate; `signals` holds each reading (`confident_learning`,
    `agreement`, the accuracies they rest on). `images` of `of` training images were read.
    """

    fraction: float
    suspects: tuple[Suspect, ...]
    images: int
    of: int
    signals: dict[str, Any] = field(default_factory=dict)
    layer: str = ""


def labels_1d(y: Any, k: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        return y.argmax(axis=1).astype(np.int64)
    return y.reshape(-1).astype(np.int64)


def _classifier(c: float = LOGISTIC_C) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=LOGISTIC_ITERATIONS))


def cross_validated_probabilities(features: np.ndarray, labels: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Out-of-fold class probabilities (N, K) of a logistic regression on `features`."""
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros((len(labels), k), dtype=np.float64)
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    for fit_idx, held in folds.split(features, labels):
        clf = _classifier().fit(features[fit_idx], labels[fit_idx])
        classes = clf.classes_.astype(np.int64)
        probs[np.ix_(held, classes)] = clf.predict_proba(features[held])
    return probs


def estimate_noise(
    features: np.ndarray,
    labels: np.ndarray,
    k: int,
    *,
    eval_features: np.ndarray | None = None,
    eval_labels: np.ndarray | None = None,
    seed: int = 0,
) -> NoiseEstimate | None:
    """Estimate the fraction of wrong `labels` from `features` (N, D); None when too few images per class.

    Args:
        features: One feature vector per training image.
        labels: Integer training labels (N,).
        k: Number of classes.
        eval_features: Features of images with trusted labels. Defaults to `None`.
        eval_labels: Their labels. Defaults to `None`.
        seed: Seed of the folds. Defaults to `0`.
    """
    from cleanlab.count import num_label_issues
    from cleanlab.filter import find_label_issues

    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=k)
    if len(labels) == 0 or counts[counts > 0].min() < MIN_PER_CLASS or (counts > 0).sum() < 2:
        return None
    features = np.asarray(features, dtype=np.float32)
    probs = cross_validated_probabilities(features, labels, k, seed=seed)
    present = counts > 0
    # cleanlab wants every class present; drop the columns of absent classes and map back
    cols = np.flatnonzero(present)
    remap = -np.ones(k, dtype=np.int64)
    remap[cols] = np.arange(len(cols))
    p = probs[:, cols]
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    y = remap[labels]
    issues = int(num_label_issues(y, p))
    ranked = find_label_issues(y, p, return_indices_ranked_by="self_confidence")
    cl_fraction = issues / len(labels)
    agree_cv = float((p.argmax(axis=1) == y).mean())
    signals: dict[str, Any] = {"confident_learning": round(cl_fraction, 4), "cv_agreement": round(agree_cv, 4)}
    fraction = cl_fraction
    if eval_features is not None and eval_labels is not None and len(eval_labels):
        clf = _classifier().fit(features, labels)
        eval_acc = float((clf.predict(np.asarray(eval_features, np.float32)) == np.asarray(eval_labels)).mean())
        signals["eval_accuracy"] = round(eval_acc, 4)
        if eval_acc > 0:
            agreement = max(0.0, 1.0 - agree_cv / eval_acc)
            signals["agreement"] = round(agreement, 4)
            fraction = max(cl_fraction, agreement)
    suspects = tuple(
        Suspect(int(i), int(labels[i]), int(cols[p[i].argmax()]), float(p[i].max())) for i in ranked
    )
    return NoiseEstimate(float(fraction), suspects, len(labels), len(labels), signals)


def _cache(inputs: Any) -> dict[str, Any]:
    cache = getattr(inputs, "_label_noise", None)
    if cache is None:
        cache = {}
        inputs._label_noise = cache
    return cache


def eval_outputs(inputs: Any) -> tuple[Any, Any, np.ndarray] | None:
    """(split, features read on up to `NOISE_EVAL_SAMPLE` of its images, their indices) for the first
    eval split with labels, read once per `Inputs`; None without a Keras model or such a split."""
    cache = _cache(inputs)
    if "eval" not in cache:
        from ..sources.features import read_features

        cache["eval"] = None
        for split in inputs.eval_splits:
            if split.y is None or inputs.evaluate is None:
                continue
            idx = sample_indices(len(split.x), NOISE_EVAL_SAMPLE)
            got = read_features(inputs.evaluate, split.x[idx] if len(idx) < len(split.x) else split.x)
            if got is not None:
                cache["eval"] = (split, got, idx)
            break
    return cache["eval"]


def label_noise(inputs: Any) -> NoiseEstimate | None:
    """The estimate for `inputs` (model, training images and labels), cached; None when it cannot be made."""
    cache = _cache(inputs)
    if "train" not in cache:
        cache["train"] = _measure(inputs)
    return cache["train"]


def _measure(inputs: Any) -> NoiseEstimate | None:
    from ..sources.features import read_features

    tr = inputs.train
    k = inputs.num_classes
    if inputs.evaluate is None or tr is None or tr.x is None or tr.y is None or not k or k < 2:
        return None
    idx = sample_indices(len(tr.x), NOISE_SAMPLE)
    x = tr.x[idx] if len(idx) < len(tr.x) else tr.x
    labels = labels_1d(tr.y, k)[idx]
    read = read_features(inputs.evaluate, x)
    if read is None:
        return None
    eval_f = eval_y = None
    ev = eval_outputs(inputs)
    if ev is not None:
        split, got, e_idx = ev
        eval_f, eval_y = got.features, labels_1d(split.y, k)[e_idx]
    est = estimate_noise(read.features, labels, k, eval_features=eval_f, eval_labels=eval_y)
    if est is None:
        return None
    # positions in the split, not in the sample
    suspects = tuple(Suspect(int(idx[s.index]), s.given, s.likely, s.confidence) for s in est.suspects)
    agree_model = float((read.probabilities.argmax(axis=1) == labels).mean())
    signals = {**est.signals, "model_train_agreement": round(agree_model, 4)}
    return NoiseEstimate(est.fraction, suspects, len(idx), len(tr.x), signals, read.layer)
