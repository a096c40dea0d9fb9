"""Wrong training labels, estimated from the model's own features: measurement only (LBL010 judges).

A model's probabilities on its own training images are in-sample: it has partly
memorized the wrong labels, so confident learning on them finds too few. The
honest reading used instead comes from one extra pass over (a sample of) the
training images that reads the penultimate-layer features and the outputs
together (`cifar_doctor.sources.features`): a logistic regression on the
standardized features, fitted on four fifths of the images and predicting the
fifth (`CV_FOLDS`), so no image is scored by a classifier that saw its label.
Confident learning (cleanlab) then estimates the joint distribution of given and
true labels on those probabilities (`cleanlab.count.estimate_joint`: the mass
off its diagonal is the estimated fraction of wrong labels), counts the label
issues (`num_label_issues`) and ranks them (`find_label_issues`, by
self-confidence).

Measured on CIFAR-10N (`bench/noisy_labels.py`, the small CNN on 4,000 images):
0.04, 0.04 and 0.32 at 0%, 9.4% and 41.6% wrong labels (0.05, 0.06 and 0.22 with
another training seed). It is low at high noise because the features of a network
that memorized part of the wrong labels agree with them; the suspects are right
(92 of the top 100 truly wrong at 41.6%) at every level. Features read before the
dense head memorize less but make a weaker classifier, whose own errors confident
learning counts as label issues (0.26 on clean labels).

Two readings against the first eval split with labels (its images and outputs are
read in the pass LBL011 shares, so no extra pass) say whether the estimate can be
trusted, which LBL010 judges: `memorization_gap`, the model's agreement with its
training labels less its accuracy on the eval labels (how far it fits what it does
not generalize), and `fit_margin`, the fold classifiers' agreement with the training
labels less their accuracy on the eval images' features (near zero or below, the
features are a weak classifier that has not fitted its training images).

A third reading involves no model at all: `image_label_gap`, how much less the training labels
agree with a logistic regression on random-patch features of the raw images (`patch_features`) than
the eval labels do (fitted by folds on training images, scored on both), as a fraction of wrong
labels. Neither a weak nor a memorizing network can produce it, so LBL010 names the cause only when
it corroborates the estimate, and rules it out when it reads clean. It reads low on human noise
(0.28-0.29 for 41.6% on CIFAR-10N: the wrong labels follow the classes a classifier confuses) and is
the estimate's witness, not its value.

`label_noise(inputs)` is cached per `Inputs`. scikit-learn and cleanlab are
imported on use (the `labels` extra); nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import sample_indices, split_features, take

#: Training images read for the estimate (evenly spaced, like the model measurement):
#: 10,000 bound the extra pass to about 40 s of a small CNN on a CPU and the features
#: (256 floats each) to 10 MB, and put the standard error of a fraction near 0.4 at 0.005.
NOISE_SAMPLE = 10_000

#: Eval images whose outputs are read for LBL011 (the same pass as the features).
NOISE_EVAL_SAMPLE = 5_000

#: Folds of the cross-validation: each image is scored by a classifier fitted on the
#: other 80%, the usual choice of confident learning (cleanlab's default is 5 too).
CV_FOLDS = 5

#: Inverse L2 strength of the logistic regression on standardized features. Strong
#: regularization keeps the classifier from following the wrong labels of the
#: images it is fitted on (it averages over each class instead), and converges fast;
#: on the CIFAR-10N runs of `bench/noisy_labels.py` 0.01 and 0.1 give estimates within
#: 0.02 of each other, and 0.01 the more precise top suspects (92 of 100 against 84).
LOGISTIC_C = 0.01

#: Iterations of the logistic regression's solver (lbfgs converges in about 100 on 256 features).
LOGISTIC_ITERATIONS = 300

#: Widest feature vector the logistic regression is fitted on. A wider one (a Flatten of
#: thousands of activations straight into the output layer) is projected on its first
#: principal components, fitted without the labels so no fold learns from held-out labels:
#: on 4,096 features the five fits took 82 s for 2,000 images on a 2-core CPU, on 256
#: components about 3 s. The small CNN of `bench/noisy_labels.py` has 256 features: unchanged.
CLASSIFIER_WIDTH = 256

#: Fewest images per class the estimate needs: fewer than one per fold cannot be cross-validated.
MIN_PER_CLASS = CV_FOLDS

#: Training images whose raw content is compared with the eval images' (`image_label_gap`): 4,000
#: keep the five fits to a few seconds and the held-out agreement's standard error near 0.008.
GAP_SAMPLE = 4_000

#: Side of the thumbnails the raw-image classifier reads (block means per channel) when the inputs
#: are images too small for patches (under `PATCH_GRID`): 8x8x3 = 192 numbers for a CIFAR-10 image,
#: which a logistic regression classifies at about 0.37 on clean labels.
GAP_GRID = 8

#: Side images are resampled to (block means per channel) before the raw-image classifier reads
#: their patches (`patch_features`). Responses of random patches, the single-layer features of
#: Coates, Lee and Ng (AISTATS 2011), make a far stronger classifier than thumbnails with no
#: training: on three slices of 4,000 CIFAR-10 training images, 0.45-0.47 eval accuracy against 0.36
#: for 8x8 thumbnails. 32 px read no better on one slice (0.475) at four times the cost.
PATCH_GRID = 16

#: Side of the square patches (5x5 on a 16-px image: a quarter of an object's width).
PATCH_SIZE = 5

#: Filters: random patches of the training images, zero-mean and unit-norm. 128 of them pooled over
#: the four quadrants give 512 numbers an image; 256 read no better on four slices, 64 a little worse.
PATCH_FILTERS = 128

#: Threshold of a filter's response, in standard deviations of the training pixels: the
#: "triangle" activation of Coates et al. keeps only a patch's strong matches, which carry the shape.
PATCH_THRESHOLD = 0.4

#: Least the raw-image classifier must beat chance (1/K) by on the eval labels for its gap to be read:
#: the gap is divided by that margin, which must be well above its own sampling noise.
GAP_MIN_SIGNAL = 0.1


@dataclass(frozen=True)
class Suspect:
    """A training image whose label the cross-validated classifier contradicts."""

    index: int
    given: int
    likely: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "given": self.given,
            "likely": self.likely,
            "confidence": round(self.confidence, 4),
        }


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


def too_few_per_class(labels: np.ndarray, k: int) -> bool:
    """No labels, fewer than two classes, or a class with fewer than `MIN_PER_CLASS` images."""
    counts = np.bincount(labels, minlength=k)
    return len(labels) == 0 or counts[counts > 0].min() < MIN_PER_CLASS or (counts > 0).sum() < 2


def at_indices(suspects: tuple[Suspect, ...], indices: np.ndarray) -> tuple[Suspect, ...]:
    """`suspects` named by `indices[s.index]`: positions in the split instead of in a sample."""
    return tuple(Suspect(int(indices[s.index]), s.given, s.likely, s.confidence) for s in suspects)


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


def _narrowed(features: np.ndarray, seed: int) -> np.ndarray:
    """`features`, or their first `CLASSIFIER_WIDTH` principal components when wider (standardized first)."""
    width = min(CLASSIFIER_WIDTH, len(features))  # n images span at most n dimensions
    if features.shape[1] <= width:
        return features
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(features)
    pca = PCA(n_components=width, svd_solver="randomized" if width < min(scaled.shape) else "full", random_state=seed)
    return pca.fit_transform(scaled).astype(np.float32)


def cross_validated_probabilities(
    features: np.ndarray, labels: np.ndarray, k: int, *, seed: int = 0, others: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold class probabilities (N, K) of a logistic regression on `features`, and the mean
    probabilities of the fold classifiers on `others` (features of images none was fitted on), if given."""
    from sklearn.model_selection import StratifiedKFold

    wide = features.shape[1]
    both = features if others is None else np.concatenate([features, others.reshape(len(others), wide)])
    both = _narrowed(both, seed)  # the projection sees no label, so eval images may shape it too
    features, rest = both[: len(labels)], both[len(labels) :]
    probs = np.zeros((len(labels), k), dtype=np.float64)
    other_probs = None if others is None else np.zeros((len(rest), k), dtype=np.float64)
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    for fit_idx, held in folds.split(features, labels):
        clf = _classifier().fit(features[fit_idx], labels[fit_idx])
        classes = clf.classes_.astype(np.int64)
        probs[np.ix_(held, classes)] = clf.predict_proba(features[held])
        if other_probs is not None and len(rest):
            other_probs[:, classes] += clf.predict_proba(rest) / CV_FOLDS
    return probs, other_probs


def estimate_noise(
    features: np.ndarray,
    labels: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    eval_features: np.ndarray | None = None,
    eval_labels: np.ndarray | None = None,
) -> NoiseEstimate | None:
    """Estimate the fraction of wrong `labels` from `features` (N, D); None when too few images per class.

    Args:
        features: One feature vector per training image.
        labels: Integer training labels (N,).
        k: Number of classes.
        seed: Seed of the folds. Defaults to `0`.
        eval_features: Features of eval images the model never trained on, for the signal
            `cv_eval_accuracy` (the fold classifiers' accuracy on them). Defaults to `None`.
        eval_labels: Their labels. Defaults to `None`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if too_few_per_class(labels, k):
        return None
    others = None if eval_features is None or eval_labels is None else np.asarray(eval_features, dtype=np.float32)
    probs, other_probs = cross_validated_probabilities(
        np.asarray(features, dtype=np.float32), labels, k, seed=seed, others=others
    )
    fraction, suspects, signals = confident_learning(probs, labels, k)
    if other_probs is not None and len(other_probs):
        eval_y = np.asarray(eval_labels, dtype=np.int64)
        signals["cv_eval_accuracy"] = round(float((other_probs.argmax(axis=1) == eval_y).mean()), 4)
    return NoiseEstimate(fraction, suspects, len(labels), len(labels), signals)


def confident_learning(
    probs: np.ndarray, labels: np.ndarray, k: int
) -> tuple[float, tuple[Suspect, ...], dict[str, Any]]:
    """(estimated fraction of wrong labels, suspects most likely first, readings) from class probabilities.

    The fraction is the mass off the diagonal of cleanlab's estimated joint distribution of
    given and true labels; the suspects are cleanlab's label issues ranked by self-confidence.
    """
    from cleanlab.count import estimate_joint, num_label_issues
    from cleanlab.filter import find_label_issues

    counts = np.bincount(labels, minlength=k)
    # cleanlab wants every class present: drop the columns of absent classes and map back
    cols = np.flatnonzero(counts > 0)
    remap = -np.ones(k, dtype=np.int64)
    remap[cols] = np.arange(len(cols))
    p = probs[:, cols]
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    y = remap[labels]
    joint = estimate_joint(y, p)
    fraction = float(max(0.0, 1.0 - np.trace(joint)))
    issues = int(num_label_issues(y, p))
    # n_jobs=1: cleanlab's default forks a process pool, which can deadlock in a process whose
    # TensorFlow threads are running (the callback at train end, a multi-worker cluster)
    ranked = find_label_issues(y, p, return_indices_ranked_by="self_confidence", n_jobs=1)
    signals: dict[str, Any] = {
        "joint_off_diagonal": round(fraction, 4),
        "label_issues": round(issues / len(labels), 4),
        "cv_agreement": round(float((p.argmax(axis=1) == y).mean()), 4),
    }
    suspects = tuple(Suspect(int(i), int(labels[i]), int(cols[p[i].argmax()]), float(p[i].max())) for i in ranked)
    return fraction, suspects, signals


def _thumbnails(x: np.ndarray, grid: int) -> np.ndarray:
    """Images (N, H, W[, C], channels last) as grid x grid block means per channel, flattened; other arrays
    (and images smaller than the grid) flat."""
    from .neardup import block_means

    x = _channels_last(x)
    if x.ndim != 4 or min(x.shape[1:3]) < grid:
        return x.reshape(len(x), -1).astype(np.float32)
    n, h, w, c = x.shape
    planes = np.moveaxis(x, -1, 1).reshape(n * c, h, w).astype(np.float32)  # each channel an image
    return np.moveaxis(block_means(planes, grid).reshape(n, c, grid, grid), 1, -1).reshape(n, -1)


def _channels_last(x: np.ndarray) -> np.ndarray:
    """Images as (N, H, W, C): channels-first moved last, a missing channel axis added."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[1] <= 4 < x.shape[3]:  # channels first
        x = np.moveaxis(x, 1, -1)
    return x[..., None] if x.ndim == 3 else x


def patch_features(x: Any, x_other: Any, seed: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """Single-layer random-patch features of two sets of images, the second read like the first.

    Each image is resampled to `PATCH_GRID` px, scaled by the first set's pixel standard deviation,
    and every `PATCH_SIZE` patch (less its mean) is matched against `PATCH_FILTERS` random patches
    of the first set; responses above `PATCH_THRESHOLD` are averaged over each quadrant. None when
    the inputs are not images of at least `PATCH_GRID` px.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    a, b = _channels_last(x), _channels_last(x_other)
    if a.ndim != 4 or b.ndim != 4 or a.shape[1:] != b.shape[1:] or min(a.shape[1:3]) < PATCH_GRID or not len(a):
        return None
    a, b = (_thumbnails(v, PATCH_GRID).reshape(len(v), PATCH_GRID, PATCH_GRID, -1) for v in (a, b))
    scale = float(a.std()) or 1.0
    a, b = a / scale, b / scale
    rng = np.random.default_rng(seed)
    p, last = PATCH_SIZE, PATCH_GRID - PATCH_SIZE + 1
    picks = zip(
        rng.integers(0, len(a), PATCH_FILTERS),
        rng.integers(0, last, PATCH_FILTERS),
        rng.integers(0, last, PATCH_FILTERS),
    )
    filters = np.stack([a[i, r : r + p, c : c + p].ravel() for i, r, c in picks])
    filters -= filters.mean(axis=1, keepdims=True)
    filters /= np.maximum(np.linalg.norm(filters, axis=1, keepdims=True), 1e-6)
    half = last // 2

    def read(v: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(v), 500):  # 500 images of windows: about 20 MB
            w = np.moveaxis(sliding_window_view(v[start : start + 500], (p, p), axis=(1, 2)), 3, -1)
            w = w.reshape(*w.shape[:3], -1)
            z = np.maximum((w - w.mean(axis=-1, keepdims=True)) @ filters.T - PATCH_THRESHOLD, 0.0)
            quads = (z[:, :half, :half], z[:, :half, half:], z[:, half:, :half], z[:, half:, half:])
            out.append(np.concatenate([q.mean(axis=(1, 2)) for q in quads], axis=1))
        return np.concatenate(out).astype(np.float32)

    return read(a), read(b)


def image_label_gap(
    x: Any, labels: np.ndarray, x_eval: Any, eval_labels: np.ndarray, k: int, *, seed: int = 0
) -> dict[str, float] | None:
    """How much less the training labels agree with the images' raw content than the eval labels do.

    A logistic regression on random-patch features of the raw images (`patch_features`; thumbnails,
    `GAP_GRID`, for inputs too small for patches), no model involved, so nothing in it memorized a
    label, is fitted by folds on training images: `m` is each fold classifier's
    agreement with the training labels it did not see, `a` its accuracy on the eval images, both
    averaged over the folds (the same classifiers on both sides: an average of their probabilities
    would be a stronger ensemble on the eval side alone). With clean labels on both sides the two
    match up to sampling noise; a fraction r of wrong training labels lowers `m` to about
    (1 - r) a + r (1 - a) / (K - 1), so r = (a - m) / (a - (1 - a) / (K - 1)), reported with its
    binomial standard error. It reads low when the wrong labels follow the classes the classifier
    confuses (human noise), and a training split drawn unlike the eval split raises it too. None when
    the classifier is within `GAP_MIN_SIGNAL` of chance on the eval labels, or too few images per class.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, dtype=np.int64)
    eval_labels = np.asarray(eval_labels, dtype=np.int64)
    idx = sample_indices(len(labels), GAP_SAMPLE)
    labels = labels[idx]
    if too_few_per_class(labels, k) or not len(eval_labels):
        return None
    x = np.asarray(take(x, idx))
    read = patch_features(x, x_eval, seed)
    if read is None:
        both = _narrowed(np.concatenate([_thumbnails(x, GAP_GRID), _thumbnails(np.asarray(x_eval), GAP_GRID)]), seed)
        read = both[: len(labels)], both[len(labels) :]
    train, other = read
    agree, accuracy = [], []
    for fit_idx, held in StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed).split(train, labels):
        clf = _classifier().fit(train[fit_idx], labels[fit_idx])
        agree.append(float((clf.predict(train[held]) == labels[held]).sum()))
        accuracy.append(float((clf.predict(other) == eval_labels).mean()))
    m, a = sum(agree) / len(labels), float(np.mean(accuracy))
    if a < 1.0 / k + GAP_MIN_SIGNAL:
        return None
    room = a - (1.0 - a) / max(k - 1, 1)
    se = ((a * (1 - a) / len(eval_labels) + m * (1 - m) / len(labels)) ** 0.5) / room
    return {
        "image_label_gap": round((a - m) / room, 4),
        "image_label_gap_se": round(se, 4),
        "image_eval_accuracy": round(a, 4),
        "image_train_agreement": round(m, 4),
    }


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
        cache["eval"] = None
        for split in inputs.eval_splits:
            if split.y is None or inputs.evaluate is None:
                continue
            read = _features(inputs, split, NOISE_EVAL_SAMPLE)
            if read is not None:
                cache["eval"] = (split, read[1], read[0])
            break
    return cache["eval"]


def _features(inputs: Any, split: Any, limit: int) -> tuple[np.ndarray, Any] | None:
    """(positions in `split.x`, features) of up to `limit` evenly spaced images of the split's sample: the
    pass DUP003 shares (`measure.model.split_features`) when the sample is the whole split."""
    from ..sources.features import read_features

    if split.full is None:
        return split_features(inputs, split, limit)
    idx = sample_indices(len(split.x), limit)
    got = read_features(inputs.evaluate, take(split.x, idx))
    return None if got is None else (idx, got)


def label_noise(inputs: Any) -> NoiseEstimate | None:
    """The estimate for `inputs` (model, training images and labels), cached; None when it cannot be made."""
    cache = _cache(inputs)
    if "train" not in cache:
        cache["train"] = _measure(inputs)
    return cache["train"]


def _measure(inputs: Any) -> NoiseEstimate | None:
    tr = inputs.train
    k = inputs.num_classes
    if inputs.evaluate is None or tr is None or tr.x is None or tr.y is None or not k or k < 2:
        return None
    got = _features(inputs, tr, NOISE_SAMPLE)
    if got is None:
        return None
    idx, read = got
    x = take(tr.x, idx)
    labels = labels_1d(tr.y, k)[idx]
    ev = eval_outputs(inputs)
    eval_features = eval_labels = None
    if ev is not None and ev[1].features.shape[1:] == read.features.shape[1:]:
        split, got, eval_idx = ev
        eval_features, eval_labels = got.features, labels_1d(split.y, k)[eval_idx]
    est = estimate_noise(read.features, labels, k, eval_features=eval_features, eval_labels=eval_labels)
    if est is None:
        return None
    # positions in the split, not in the sample
    suspects = at_indices(est.suspects, idx)
    agree_model = float((read.probabilities.argmax(axis=1) == labels).mean())
    signals: dict[str, Any] = {**est.signals, "model_train_agreement": round(agree_model, 4)}
    if eval_features is not None and eval_labels is not None and ev is not None:
        eval_acc = float((ev[1].probabilities.argmax(axis=1) == eval_labels).mean())
        signals["model_eval_accuracy"] = round(eval_acc, 4)
        # how far the model fits its training labels beyond what it gets right on images it never saw
        signals["memorization_gap"] = round(agree_model - eval_acc, 4)
        # how far the classifier on the features agrees with the training labels beyond the eval labels
        signals["fit_margin"] = round(est.signals["cv_agreement"] - est.signals["cv_eval_accuracy"], 4)
        gap = image_label_gap(x, labels, ev[0].x[ev[2]], eval_labels, k)
        if gap is not None:
            signals.update(gap)
    return NoiseEstimate(est.fraction, suspects, len(idx), len(tr.x), signals, read.layer)
