"""LBL: how classes are distributed, per split and in feeding order (LBL006, LBL007, LBL009).

See `cifar_doctor.checks.labels` for the family.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

from ...findings import Finding, Fix, Severity
from ...inputs import Inputs
from ...measure.labelinfo import (
    label_classes,
    split_label_info,
)
from ...registry import register

#: LBL006: train classes whose largest/smallest count ratio exceeds this are flagged.
#: CIFAR-10 is exactly balanced (5,000 per class). A uniform random sample with 36+
#: images per class stays under 3x at three standard deviations, so crossing it means a
#: real imbalance, at which an unweighted loss measurably favours the majority classes.
IMBALANCE_RATIO = 3.0


#: LBL006: below this mean count per class, count ratios are sampling noise, not imbalance
#: (see `IMBALANCE_RATIO`: 3x is a 3-sigma deviation at ~36 per class).
MIN_MEAN_COUNT_FOR_RATIO = 36


#: LBL006: a class counts as absent from training only when at least this many images per
#: class were expected: a uniform sample misses a class with probability ~K*exp(-n/K),
#: 0.05% for K=10 at 10 per class.
MIN_MEAN_COUNT_FOR_ABSENT = 10


#: LBL007: total-variation distance (half the L1 distance of class frequencies) above which
#: an eval split's class mix counts as shifted: 10% of the eval mass sits in other classes
#: than training would put it, enough to move accuracy by points on its own.
SHIFT_TV_FLOOR = 0.10


#: LBL007: the shift must also exceed this multiple of the TV expected from sampling noise
#: alone (two finite samples of one distribution). Simulated for K=10 uniform classes, the
#: 99.9th percentile of that noise is 1.85x its mean at any split size; 3x leaves margin for
#: K=2, whose noise tail is heavier (half-normal, 99.9th percentile at 4.1x, but there the
#: floor decides).
SHIFT_NOISE_MULTIPLIER = 3.0


#: LBL007, LBL009: ... and Pearson's chi-square test of the two splits' class counts must reject one
#: shared class distribution at this level, the 99.9th percentile `SHIFT_NOISE_MULTIPLIER` aims at
#: whatever K and the split sizes: on two classes with a small split neither it nor the floor gets
#: there (a shuffled two-class set of 1,613 labels of the run corpus: its last 161 labels 0.104 off the
#: rest, 2.5 standard errors, which 1.2% of shuffles reach).
SHIFT_SIGNIFICANCE = 1e-3


def chi_square_critical(df: int, alpha: float) -> float:
    """The chi-square value with `df` degrees of freedom that a fraction `alpha` of samples exceeds
    (Wilson-Hilferty's cube-root normal approximation: 11.2 for df 1 at 1e-3, against 10.8 exact;
    within 2% from df 3)."""
    z = NormalDist().inv_cdf(1.0 - alpha)
    c = 2.0 / (9.0 * df)
    return float(df * (1.0 - c + z * math.sqrt(c)) ** 3)


def beyond_sampling(a: list[float], b: list[float]) -> bool:
    """Whether class counts `a` and `b` (two splits, class by class) differ beyond sampling one class
    distribution at `SHIFT_SIGNIFICANCE` (Pearson's chi-square test of homogeneity)."""
    na, nb = sum(a), sum(b)
    cols = [(x, y) for x, y in zip(a, b) if x + y > 0]
    if na <= 0 or nb <= 0 or len(cols) < 2:
        return False
    n = na + nb
    stat = 0.0
    for x, y in cols:
        t = x + y
        ea, eb = t * na / n, t * nb / n
        stat += (x - ea) ** 2 / ea + (y - eb) ** 2 / eb
    return stat > chi_square_critical(len(cols) - 1, SHIFT_SIGNIFICANCE)


# --- LBL006 -------------------------------------------------------------------------------------
@register("LBL006", "class-imbalance", requires=("labels",), cause="class-imbalance")
def class_imbalance(inputs: Inputs) -> list[Finding]:
    """Training classes strongly imbalanced, or a class absent from training.

    ## What it does
    Counts training labels per class and flags a largest/smallest count ratio above
    `IMBALANCE_RATIO` (3x), when there are enough labels per class (`MIN_MEAN_COUNT_FOR_RATIO`)
    for the ratio to be more than sampling noise, or a class with no training labels at
    all when `MIN_MEAN_COUNT_FOR_ABSENT` per class were expected.

    ## Why is this bad?
    An unweighted loss is dominated by the majority classes, so the model learns them
    first and under-predicts the rare ones; overall accuracy then depends on the eval
    split's class mix, and a balanced test set scores lower than training. A class
    absent from training can never be predicted. CIFAR-10 itself is exactly balanced
    (5,000 per class), so imbalance here comes from subsetting or filtering.

    ## Example
    ```python
    keep = (y_train.ravel() != 3) | (np.random.rand(len(y_train)) < 0.1)   # 90% of cats dropped
    x_train, y_train = x_train[keep], y_train[keep]
    ```

    ## Use instead
    ```python
    counts = np.bincount(y_train.ravel(), minlength=10)
    class_weight = {c: len(y_train) / (10 * n) for c, n in enumerate(counts) if n}
    model.fit(x_train, y_train, class_weight=class_weight)
    ```
    """
    tr = inputs.splits["train"]
    k = label_classes(inputs)
    info = split_label_info(tr, k)
    counts = list(info.counts)
    if not counts or sum(counts) == 0 or len(counts) < 2:
        return []
    total = sum(counts)
    mean = total / len(counts)
    absent = [c for c, n in enumerate(counts) if n == 0]
    present = [n for n in counts if n > 0]
    ratio = max(present) / min(present) if present else math.inf
    evidence: dict[str, Any] = {
        "counts": counts,
        "classes": len(counts),
        "labels": total,
        "ratio": ratio,
        "largest_class": int(max(range(len(counts)), key=lambda c: counts[c])),
        "smallest_class": int(min((c for c in range(len(counts)) if counts[c]), key=lambda c: counts[c]))
        if present
        else None,
        "absent_classes": absent,
        "threshold_ratio": IMBALANCE_RATIO,
        "mean_count": mean,
    }
    problems = []
    if absent and mean >= MIN_MEAN_COUNT_FOR_ABSENT:
        problems.append(
            f"class{'es' if len(absent) > 1 else ''} {', '.join(map(str, absent))} "
            f"{'have' if len(absent) > 1 else 'has'} no training labels"
        )
    if len(present) >= 2 and ratio > IMBALANCE_RATIO and mean >= MIN_MEAN_COUNT_FOR_RATIO:
        problems.append(
            f"the largest class (class {evidence['largest_class']}, {max(present)} labels) has "
            f"{ratio:.1f}x the smallest (class {evidence['smallest_class']}, {min(present)} labels), "
            f"above the {IMBALANCE_RATIO:g}x threshold"
        )
    if not problems:
        return []
    return [
        class_imbalance.finding(
            Severity.WARNING,
            f"Training classes are imbalanced: {'; '.join(problems)}.",
            evidence=evidence,
            fix=Fix(
                "Weight the loss by inverse class frequency (class_weight) or rebalance the training set",
                f"counts = np.bincount(np.ravel(y_train) if y_train.ndim == 1 or y_train.shape[1] == 1 "
                f"else y_train.argmax(1), minlength={len(counts)})\n"
                f"class_weight = {{c: len(y_train) / ({len(counts)} * n) for c, n in enumerate(counts) if n}}\n"
                "model.fit(x_train, y_train, class_weight=class_weight, ...)",
            ),
            explanation=(
                "With an unweighted loss the majority classes dominate training, so rare classes are under-predicted "
                "and accuracy on a differently balanced eval split lags training accuracy."
            ),
            split="train",
        )
    ]


# --- LBL007 -------------------------------------------------------------------------------------
def expected_noise_tv(p: list[float], n_train: int, n_eval: int) -> float:
    """Total-variation distance expected between two samples of sizes n_train and n_eval of one distribution p.

    Each class frequency difference is ~Normal(0, p(1-p)(1/n_train + 1/n_eval)), whose
    absolute value has mean sigma*sqrt(2/pi); TV is half their sum.
    """
    if n_eval <= 0 or n_train <= 0:
        return math.inf
    var_scale = 1.0 / n_train + 1.0 / n_eval
    return 0.5 * sum(math.sqrt(2.0 * q * (1.0 - q) * var_scale / math.pi) for q in p)


@register("LBL007", "label-distribution-shift", requires=("labels", "eval_labels"), cause="eval-distribution-shift")
def label_distribution_shift(inputs: Inputs) -> list[Finding]:
    """The class mix of an eval split differs from training by more than sampling noise.

    ## What it does
    Computes the total-variation distance (TV, half the L1 distance) between the training
    and eval class frequencies, and flags it when it exceeds both `SHIFT_TV_FLOOR` (0.10)
    and `SHIFT_NOISE_MULTIPLIER` (3x) times the TV that sampling alone would produce for
    splits of these sizes, and the chi-square test of the two splits' counts rejects one
    shared class mix at `SHIFT_SIGNIFICANCE`. A small eval split is noisy: 1,000 images drawn from a
    balanced 10-class set are already about 0.04 away from it (CIFAR-10's `test_batch[:1000]`
    measures 0.035), 100 images about 0.12; neither is a shift.

    ## Why is this bad?
    Accuracy is an average over the eval class mix. When that mix differs from training,
    eval accuracy moves with the per-class accuracies of the over- and under-represented
    classes, so a gap to training accuracy appears without any overfitting. Common causes:
    a validation split taken from the end of sorted data (`validation_split` takes the last
    rows before shuffling), or filtering applied to one split.

    ## Example
    ```python
    order = np.argsort(y.ravel())                  # sorted by class
    model.fit(x[order], y[order], validation_split=0.2)   # validation = last 2 classes only
    ```

    ## Use instead
    ```python
    from sklearn.model_selection import train_test_split
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, stratify=y.ravel(), random_state=0)
    ```
    """
    tr = inputs.splits["train"]
    k = label_classes(inputs)
    ti = split_label_info(tr, k)
    ptr = ti.frequencies
    out = []
    for split in inputs.eval_label_splits:
        ei = split_label_info(split, k)
        pev = ei.frequencies
        if not ptr or not pev:
            continue
        width = max(len(ptr), len(pev))
        a = ptr + [0.0] * (width - len(ptr))
        b = pev + [0.0] * (width - len(pev))
        tv = 0.5 * sum(abs(x - y) for x, y in zip(a, b))
        n_tr, n_ev = sum(ti.counts), sum(ei.counts)
        noise = expected_noise_tv(a, n_tr, n_ev)
        threshold = max(SHIFT_TV_FLOOR, SHIFT_NOISE_MULTIPLIER * noise)
        if tv <= threshold or not beyond_sampling([x * n_tr for x in a], [y * n_ev for y in b]):
            continue
        diffs = sorted(range(width), key=lambda c: -abs(b[c] - a[c]))[:3]
        worst = ", ".join(f"class {c} {a[c]:.1%} in train vs {b[c]:.1%} in {split.name}" for c in diffs)
        out.append(
            label_distribution_shift.finding(
                Severity.WARNING,
                f"The class mix of {split.name} differs from training: total-variation distance {tv:.3f}, above "
                f"{threshold:.3f} (the larger of {SHIFT_TV_FLOOR:g} and {SHIFT_NOISE_MULTIPLIER:g}x the {noise:.3f} "
                f"expected from sampling {n_ev} labels); largest differences: {worst}.",
                evidence={
                    "tv_distance": tv,
                    "threshold": threshold,
                    "expected_noise_tv": noise,
                    "tv_floor": SHIFT_TV_FLOOR,
                    "noise_multiplier": SHIFT_NOISE_MULTIPLIER,
                    "train_frequencies": a,
                    "eval_frequencies": b,
                    "train_labels": n_tr,
                    "eval_labels": n_ev,
                    "largest_differences": [int(c) for c in diffs],
                },
                fix=Fix(
                    "Split train and eval data with the same class mix (shuffle before splitting, stratify)",
                    "from sklearn.model_selection import train_test_split\n"
                    "x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, stratify=np.ravel(y), "
                    "random_state=0)",
                ),
                explanation=(
                    "Eval accuracy averages over the eval class mix; when it differs from training beyond sampling "
                    "noise, eval accuracy shifts with the per-class accuracies of the over- and under-represented "
                    "classes, a gap that is not overfitting."
                ),
                split=split.name,
            )
        )
    return out


# --- LBL009 -------------------------------------------------------------------------------------
#: Fewer labels than this say nothing about order.
MIN_LABELS_FOR_ORDER = 100


@register("LBL009", "labels-ordered-by-class", requires=("labels", "label_order"), cause="eval-distribution-shift")
def labels_ordered_by_class(inputs: Inputs) -> list[Finding]:
    """The last 10-20% of the training labels hold another class mix: `validation_split` would hold out other classes.

    ## What it does
    Compares the class mix of the last 10% and the last 20% of the training
    labels (what `validation_split=0.1` / `0.2` holds out) with the rest, by
    total-variation distance, and fires when one exceeds both
    `SHIFT_TV_FLOOR` (0.10) and `SHIFT_NOISE_MULTIPLIER` (3x) times the
    distance sampling alone gives for those sizes, beyond sampling at
    `SHIFT_SIGNIFICANCE` (the same bar as LBL007), with at least
    `MIN_LABELS_FOR_ORDER` labels.

    ## Why is this bad?
    `model.fit(x, y, validation_split=0.2)` takes the last 20% of the arrays
    as validation data *before* shuffling. On data read class folder by class
    folder (or in blocks of classes), that is a few classes the model rarely
    or never trains on: validation accuracy sits near 0 and validation loss
    climbs while training improves, which looks like extreme overfitting.
    `shuffle=True` in `fit` does not help: it shuffles only the training part.
    Motivated by the re-enacted unshuffled validation split (validation held
    classes 8 and 9 only, accuracy exactly 0).

    ## Example
    ```python
    order = np.argsort(y.ravel())
    model.fit(x[order], y[order], validation_split=0.2)
    ```

    ## Use instead
    ```python
    idx = np.random.default_rng(0).permutation(len(x))
    model.fit(x[idx], y[idx], validation_split=0.2)
    ```
    """
    from ...measure.labelinfo import label_order

    order = label_order(inputs.splits["train"].y)
    if order is None or order.n < MIN_LABELS_FOR_ORDER:
        return []
    worst = None
    measured: dict[str, dict[str, Any]] = {}
    for key, part in order.tails.items():
        tail, rest = part["tail"], part["rest"]
        n_tail, n_rest = sum(tail), sum(rest)
        if not n_tail or not n_rest:
            continue
        pt, pr = [c / n_tail for c in tail], [c / n_rest for c in rest]
        tv = 0.5 * sum(abs(a - b) for a, b in zip(pt, pr))
        threshold = max(SHIFT_TV_FLOOR, SHIFT_NOISE_MULTIPLIER * expected_noise_tv(pr, n_rest, n_tail))
        measured[key] = {
            "tv_distance": round(tv, 4),
            "threshold": round(threshold, 4),
            "classes_in_tail": order.tail_classes(key),
        }
        significant = beyond_sampling(list(tail), list(rest))
        measured[key]["beyond_sampling"] = significant
        if tv > threshold and significant and (worst is None or tv > measured[worst]["tv_distance"]):
            worst = key
    if worst is None:
        return []
    frac = worst.split("_")[1].replace("pct", "%")
    m = measured[worst]
    return [
        labels_ordered_by_class.finding(
            Severity.WARNING,
            f"The last {frac} of the training labels holds another class mix than the rest (total-variation distance "
            f"{m['tv_distance']:.2f}, above {m['threshold']:.2f}): classes {m['classes_in_tail']} there; "
            f"{order.adjacent_same:.0%} of neighbouring labels are equal ({order.expected_if_shuffled:.0%} if shuffled).",
            evidence={
                "labels": order.n,
                "adjacent_same": order.adjacent_same,
                "expected_if_shuffled": order.expected_if_shuffled,
                "tails": measured,
                "classes_in_last_10pct": order.tail_classes("last_10pct"),
                "classes_in_last_20pct": order.tail_classes("last_20pct"),
            },
            fix=Fix(
                "Shuffle images and labels together before fit(validation_split=...)",
                "idx = np.random.default_rng(0).permutation(len(x_train))\n"
                "x_train, y_train = x_train[idx], y_train[idx]\n"
                "model.fit(x_train, y_train, validation_split=0.2)",
            ),
            explanation=(
                "Keras' validation_split holds out the last rows of the arrays before any shuffling; here that "
                f"validation set would be classes {m['classes_in_tail']} in another mix than the training part, so "
                "validation accuracy collapses without any overfitting."
            ),
            split="train",
        )
    ]
