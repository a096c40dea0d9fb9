"""Checks PRE001, PRE002, PRE003: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor import diagnose
from conftest import only, status

MINE = ["RNG", "PRE", "DAT", "DUP"]


def codes(report):
    return [f.code for f in report.findings]


def test_pre001_seed_case_train_scaled_test_raw(data):
    d = data("unit", "raw-float")
    assert d["x_test"].dtype == np.float32 and d["y_test"].shape == (200, 10)
    report = diagnose(**d)
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert report.exit_code() == 1
    f = only(report, "PRE001")
    assert f.severity.value == "error" and f.split == "test"
    assert f.evidence["scale_ratio"] == pytest.approx(255.0)
    assert f.evidence["measured_scale_ratio"] == pytest.approx(255.0, rel=0.05)
    assert (f.evidence["train_scheme"], f.evidence["eval_scheme"]) == ("unit", "raw-float")
    assert f.fix.transform.to_dict() == {
        "split": "test",
        "scale": pytest.approx(1 / 255),
        "offset": 0.0,
        "expression": "x_test / 255",
    }
    assert "Rescaling" in f.fix.snippet
    assert "255" in f.message and "16.1" in f.explanation
    assert report.verdict.evidence["scale_ratio"] == pytest.approx(255.0)


@pytest.mark.parametrize("code", ["PRE001", "PRE002", "PRE003", "DAT004", "DUP001"])
def test_pre001_train_only_skips_comparisons(data, code):
    d = data()
    report = diagnose(x_train=d["x_train"], select=MINE)
    assert status(report, code) == "skipped"
    assert "test or validation images" in {c.code: c for c in report.checks}[code].reason


@pytest.mark.parametrize(
    "train, test, expression, ratio",
    [
        ("uint8", "unit", "x_test * 255", 1 / 255),
        ("symmetric", "unit", "x_test * 2 - 1", 0.5),
        ("symmetric", "uint8", "x_test / 127.5 - 1", 127.5),
        ("imagenet", "unit", "(x_test - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])", None),
    ],
)
def test_pre001_snaps_known_transforms(data, train, test, expression, ratio):
    f = only(diagnose(**data(train, test), select=["PRE"]), "PRE001")
    assert f.fix.transform.expression == expression
    assert f.evidence["snapped"] is True
    if ratio is not None:
        assert f.evidence["scale_ratio"] == pytest.approx(ratio, rel=1e-3)


def test_pre001_standardized_train_raw_test_fits_mean_std(data):
    f = only(diagnose(**data("standardized", "raw-float"), select=["PRE"]), "PRE001")
    tr = f.fix.transform
    assert tr.expression.startswith("(x_test - np.array([")
    assert isinstance(tr.scale, list) and len(tr.scale) == 3
    # the fitted transform maps the test images onto the training statistics
    from cifar_doctor.counterfactual import apply_transform

    x = apply_transform(data("standardized", "raw-float")["x_test"], tr)
    assert abs(float(x.mean())) < 0.2 and 0.8 < float(x.std()) < 1.2


def test_pre001_offset_only_mismatch(data):
    d = data("raw-float", "raw-float")
    d["x_test"] = d["x_test"] - d["x_test"].mean(axis=(0, 1, 2))  # mean subtracted on test only
    f = only(diagnose(**d, select=["PRE"]), "PRE001")
    assert f.evidence["eval_scheme"] == "centered-255"
    assert abs(f.evidence["mean_shift_in_train_std"]) > 1


def test_pre001_validation_split_too(data, make_images):
    d = data()
    report = diagnose(**d, x_val=make_images(100, scale="raw-float", seed=5), select=["PRE"])
    f = only(report, "PRE001")
    assert f.split == "val" and f.fix.transform.expression == "x_val / 255"


def test_pre001_silent_for_small_natural_differences(data):
    report = diagnose(**data("unit", "unit", n_test=20), select=["PRE"])
    assert status(report, "PRE001") == "ran" and not codes(report)


def test_pre002_reversed_channels(data):
    d = data()
    d["x_test"] = d["x_test"][..., ::-1]
    report = diagnose(**d, select=MINE)
    f = only(report, "PRE002")
    assert f.fix.transform.channel_order == (2, 1, 0)
    assert f.evidence["contrast_distance_reversed"] < f.evidence["contrast_distance"] / 3
    assert report.verdict.cause == "eval-distribution-shift"
    assert "PRE003" not in codes(report)


def test_pre002_silent_on_gray_like_images(data):
    d = data()
    gray_tr = np.repeat(d["x_train"].mean(-1, keepdims=True), 3, axis=-1)
    gray_te = np.repeat(d["x_test"].mean(-1, keepdims=True), 3, axis=-1)[..., ::-1]
    report = diagnose(x_train=gray_tr, x_test=gray_te, select=["PRE"])
    assert status(report, "PRE002") == "ran" and "PRE002" not in codes(report)


def test_pre003_drift(data):
    d = data()
    d["x_test"] = np.clip(d["x_test"] * 0.8 + 0.1, 0, 1)  # lower contrast, brighter
    report = diagnose(**d, select=["PRE"])
    f = only(report, "PRE003")
    assert f.severity.value == "warning" and f.evidence["drifting_channels"]
    assert min(f.evidence["std_ratio"]) < 0.9


def test_pre003_silent_for_another_sample_of_the_same_distribution(data):
    report = diagnose(**data("unit", "unit", n_test=400), select=["PRE"])
    assert status(report, "PRE003") == "ran" and "PRE003" not in codes(report)


def test_pre001_pre_checks_are_exclusive(data):
    report = diagnose(**data("unit", "raw-float"), select=["PRE"])
    assert codes(report) == ["PRE001"]


def test_pre001_real_sample_recipes(sample_arrays):
    from cifar_doctor.training.recipes import get_recipe

    arrays = {k: sample_arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    seed = get_recipe("original").preprocess(arrays)
    report = diagnose(**seed, select=MINE)
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert only(report, "PRE001").evidence["scale_ratio"] == pytest.approx(255.0)
    fixed = get_recipe("fixed").preprocess(arrays)
    report = diagnose(**fixed, select=MINE)
    assert report.verdict.cause == "healthy", [(f.code, f.message) for f in report.findings]
