"""Checks DAT001, DAT002, DAT003, DAT004, DAT009: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor import diagnose
from conftest import only, status


def codes(report):
    return [f.code for f in report.findings]


MINE = ["RNG", "PRE", "DAT", "DUP"]


@pytest.mark.parametrize("scale", ["unit", "standardized", "imagenet", "symmetric"])
def test_consistent_normalization_is_healthy(data, scale):
    report = diagnose(**data(scale, scale))
    assert report.verdict.cause == "healthy", [(f.code, f.message) for f in report.findings]
    assert report.exit_code() == 0
    assert not [c for c in codes(report) if c[:3] in ("RNG", "PRE")]


def test_dat001_float64(data):
    d = data()
    d["x_train"] = d["x_train"].astype(np.float64)
    f = only(diagnose(**d, select=["DAT"]), "DAT001")
    assert f.severity.value == "info" and f.split == "train" and f.cause is None
    assert f.evidence["bytes"] == 2 * f.evidence["bytes_as_float32"]


def test_dat001_silent(data):
    assert "DAT001" not in codes(diagnose(**data(), select=["DAT"]))


def test_dat002_non_finite(data):
    d = data()
    d["x_test"] = d["x_test"].copy()
    d["x_test"][4, 0, 0, 0] = np.nan
    d["x_test"][9, 1, 2, 0] = np.inf
    report = diagnose(**d, select=MINE)
    f = only(report, "DAT002")
    assert (f.evidence["nan_count"], f.evidence["inf_count"]) == (1, 1)
    assert f.evidence["first_indices"] == [4, 9]
    assert report.verdict.cause == "numerical-instability"


def test_dat002_silent(data):
    report = diagnose(**data(), select=["DAT"])
    assert status(report, "DAT002") == "ran" and "DAT002" not in codes(report)


def test_dat003_constant_images(data):
    d = data()
    d["x_train"] = d["x_train"].copy()
    d["x_train"][:30] = 0.0  # 5% blank
    d["x_test"] = d["x_test"].copy()
    d["x_test"][7] = 0.5  # one blank image: 0.5%
    found = {f.split: f for f in diagnose(**d, select=["DAT"]).findings if f.code == "DAT003"}
    assert found["train"].severity.value == "warning" and found["train"].evidence["count"] == 30
    assert found["test"].severity.value == "info" and found["test"].evidence["first_indices"] == [7]


def test_dat003_silent(data):
    assert "DAT003" not in codes(diagnose(**data(), select=["DAT"]))


def test_dat004_channels_first_eval(data):
    d = data()
    d["x_test"] = np.transpose(d["x_test"], (0, 3, 1, 2))
    report = diagnose(**d, select=MINE)
    f = only(report, "DAT004")
    assert "np.transpose(x_test, (0, 2, 3, 1))" in f.fix.snippet
    assert (f.evidence["train_layout"], f.evidence["eval_layout"]) == ("NHWC", "NCHW")
    assert report.verdict.cause == "input-layout-mismatch"


def test_dat004_grayscale_eval(data):
    d = data()
    d["x_test"] = d["x_test"].mean(-1, keepdims=True)
    f = only(diagnose(**d, select=["DAT"]), "DAT004")
    assert "np.repeat" in f.fix.snippet and f.evidence["eval_channels"] == 1


def test_dat004_silent(data):
    report = diagnose(**data(), select=["DAT"])
    assert status(report, "DAT004") == "ran" and "DAT004" not in codes(report)


# --- DAT009: eval pixels scrambled --------------------------------------------------------------------
def _scrambled(x: np.ndarray) -> np.ndarray:
    """Channels-last images whose buffer is read as channels-first planes, then laid out channels-last."""
    n, h, w, c = x.shape
    return np.ascontiguousarray(x.reshape(n, c, h, w).transpose(0, 2, 3, 1))


def test_dat009_eval_buffer_read_in_the_wrong_axis_order(sample_arrays):
    x, y = sample_arrays["x_train"][:400] / 255.0, sample_arrays["y_train"][:400]
    xt, yt = sample_arrays["x_test"][:200] / 255.0, sample_arrays["y_test"][:200]
    report = diagnose(x_train=x, y_train=y, x_test=_scrambled(xt), y_test=yt, select=["DAT"])
    f = only(report, "DAT009")
    assert f.severity.value == "error" and f.evidence["axis"] == "down"
    assert f.evidence["train_correlation"]["down"] > 0.8 and f.evidence["eval_correlation"]["down"] < 0.2
    assert "reshape(len(x_test), 3, 32, 32).transpose(0, 2, 3, 1)" in f.fix.snippet
    assert report.verdict.cause == "input-layout-mismatch"


def test_dat009_silent_on_the_same_pipeline_noise_and_a_transpose(sample_arrays):
    x, y = sample_arrays["x_train"][:400] / 255.0, sample_arrays["y_train"][:400]
    xt, yt = sample_arrays["x_test"][:200] / 255.0, sample_arrays["y_test"][:200]
    noisy = np.clip(xt + np.random.default_rng(0).normal(0, 0.1, xt.shape), 0, 1)
    for eval_x in (xt, noisy, xt.transpose(0, 2, 1, 3)):
        report = diagnose(x_train=x, y_train=y, x_test=eval_x, y_test=yt, select=["DAT"])
        assert status(report, "DAT009") == "ran" and "DAT009" not in codes(report)
    # both splits scrambled alike: the same pipeline, nothing between the splits to tell
    both = diagnose(x_train=_scrambled(x), y_train=y, x_test=_scrambled(xt), y_test=yt, select=["DAT"])
    assert "DAT009" not in codes(both)


def test_dat009_skipped_without_eval_images(sample_arrays):
    report = diagnose(x_train=sample_arrays["x_train"][:100], y_train=sample_arrays["y_train"][:100], select=["DAT"])
    assert status(report, "DAT009") == "skipped"
