"""Checks LBL006, LBL007, LBL009: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.api import diagnose
from cifar_doctor.checks.labels import distribution as lbl
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, Split


def run_lbl(**kw):
    """Run only the LBL checks."""
    return diagnose(select=["LBL"], **kw)


def found(report, code):
    return [f for f in report.findings if f.code == code]


def outcome(report, code):
    return next(o for o in report.checks if o.code == code)


@pytest.fixture
def data(make_images, make_labels):
    """Unit-scaled images with balanced integer labels: (N, 1) train and test, like keras' load_data."""
    return {
        "x_train": make_images(300, "unit", seed=1),
        "y_train": make_labels(300, column=True, seed=1),
        "x_test": make_images(200, "unit", seed=2),
        "y_test": make_labels(200, column=True, seed=2),
    }


def findings(inp):
    report = run(inp)
    return {f.code: f for f in report.findings}, report


def test_lbl009_ignores_labels_that_are_not_class_indices(make_labels):
    y = make_labels(500) / 255.0  # labels caught by a blanket x / 255
    assert "LBL009" not in {f.code for f in diagnose(y_train=y).findings}


# --- LBL006 -------------------------------------------------------------------------------------
def test_lbl006_fires_for_a_strong_imbalance(sample_arrays):
    y = sample_arrays["y_train"].ravel()
    keep = np.ones(len(y), bool)
    keep[np.flatnonzero(y == 3)[50:]] = False  # keep 50 cats of 250: ratio 5x
    report = run_lbl(y_train=y[keep], x_train=sample_arrays["x_train"][keep])
    (f,) = found(report, "LBL006")
    assert f.severity.value == "warning" and f.cause == "class-imbalance"
    assert f.evidence["ratio"] == pytest.approx(5.0) and f.evidence["smallest_class"] == 3
    assert f.evidence["counts"][3] == 50 and f.evidence["threshold_ratio"] == lbl.IMBALANCE_RATIO


def test_lbl006_fires_for_an_absent_class(make_labels):
    y = make_labels(1000)
    y = np.where(y == 7, 6, y)
    report = run_lbl(y_train=y, classes=10)
    (f,) = found(report, "LBL006")
    assert f.evidence["absent_classes"] == [7]
    assert "class 7 has no training labels" in f.message


def test_lbl006_silent_for_the_balanced_sample_and_for_small_noisy_counts(sample_arrays, make_labels):
    report = run_lbl(y_train=sample_arrays["y_train"])
    assert outcome(report, "LBL006").status == "ran" and not report.findings
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 150)  # 15 per class on average: ratios of 3x are plain noise here
    assert not found(run_lbl(y_train=y), "LBL006")


def test_lbl006_skipped_without_labels(data):
    report = run_lbl(x_train=data["x_train"])
    assert outcome(report, "LBL006").status == "skipped"


# --- LBL007 -------------------------------------------------------------------------------------
def test_lbl007_silent_for_the_real_test_split(sample_arrays):
    # test_batch[:1000] vs a balanced train set: TV 0.035, the size of sampling noise
    report = run_lbl(y_train=sample_arrays["y_train"], y_test=sample_arrays["y_test"])
    assert outcome(report, "LBL007").status == "ran"
    assert not found(report, "LBL007")


def test_lbl007_fires_for_a_validation_split_cut_from_sorted_data(sample_arrays):
    y = np.sort(sample_arrays["y_train"].ravel())
    cut = int(len(y) * 0.8)  # validation_split=0.2 on class-sorted data: last two classes only
    report = run_lbl(y_train=y[:cut], y_val=y[cut:])
    (f,) = found(report, "LBL007")
    assert f.split == "val" and f.cause == "eval-distribution-shift"
    assert f.evidence["tv_distance"] == pytest.approx(1.0)
    assert f.evidence["threshold"] >= lbl.SHIFT_TV_FLOOR
    assert set(f.evidence["largest_differences"][:2]) == {8, 9}


def test_lbl007_threshold_grows_for_small_eval_splits():
    p = [0.1] * 10
    small = lbl.expected_noise_tv(p, 50000, 100)
    large = lbl.expected_noise_tv(p, 50000, 10000)
    assert small == pytest.approx(0.119, abs=0.003)  # matches simulation of multinomial sampling
    assert large == pytest.approx(0.012 * np.sqrt(1.2), abs=0.0005)  # both splits add noise
    # 60 test images, one class over-represented by chance-level amounts: no finding
    rng = np.random.default_rng(3)
    report = run_lbl(y_train=np.arange(5000) % 10, y_test=rng.integers(0, 10, 60))
    assert not found(report, "LBL007")


def test_lbl007_skipped_without_eval_labels(sample_arrays):
    report = run_lbl(y_train=sample_arrays["y_train"])
    assert outcome(report, "LBL007").status == "skipped"


# --- LBL009 ------------------------------------------------------------------------------------
def test_lbl009_class_sorted_labels(make_images, make_labels):
    y = np.sort(make_labels(1000))
    report = run(Inputs(splits={"train": Split("train", None, y)}))
    f = {x.code: x for x in report.findings}["LBL009"]
    assert f.evidence["classes_in_last_20pct"] == [8, 9]
    assert report.verdict.cause == "eval-distribution-shift"


def test_lbl009_silent_on_shuffled_labels_binary_included(make_labels):
    for k in (10, 2):
        y = make_labels(1000, classes=k)
        assert "LBL009" not in {x.code for x in run(Inputs(splits={"train": Split("train", None, y)})).findings}


def test_lbl009_silent_on_a_two_class_tail_off_by_sampling_alone():
    # a shuffled two-class set of 1,613 labels (the run corpus): its last 161 labels hold 55% of class 1
    # against 45% in the rest, 0.103 apart, over the 0.10 floor but 2.5 standard errors: 1.2% of shuffles
    rng = np.random.default_rng(0)
    rest = rng.permutation(np.repeat([0, 1], [799, 653]))
    tail = rng.permutation(np.repeat([0, 1], [72, 89]))
    report = run(Inputs(splits={"train": Split("train", None, np.concatenate([rest, tail]))}))
    assert "LBL009" not in {x.code for x in report.findings}
    assert not lbl.beyond_sampling([799, 653], [72, 89])
    # the same tail twice as long, 3.6 standard errors: beyond sampling
    assert lbl.beyond_sampling([799, 653], [144, 178])


def test_chi_square_critical_values_near_the_exact_ones():
    for df, exact in ((1, 10.828), (2, 13.816), (9, 27.877)):
        assert lbl.chi_square_critical(df, 1e-3) == pytest.approx(exact, rel=0.035)


def test_lbl009_one_hot_labels(make_labels):
    y = make_labels(500, one_hot=True)
    order = np.argsort(y.argmax(1), kind="stable")
    assert "LBL009" in {x.code for x in run(Inputs(splits={"train": Split("train", None, y[order])})).findings}


def test_lbl009_classes_in_blocks_of_two(make_labels):
    # class folders read in pairs: each block of two classes shuffled inside, blocks in order
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.permutation(np.repeat([a, b], 100)) for a, b in ((0, 1), (2, 3), (5, 6), (8, 9), (4, 7))])
    report = run(Inputs(splits={"train": Split("train", None, y)}))
    f = {x.code: x for x in report.findings}["LBL009"]
    assert f.evidence["classes_in_last_20pct"] == [4, 7]
