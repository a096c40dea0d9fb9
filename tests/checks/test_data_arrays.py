"""Checks DAT001, DAT002, DAT003, DAT004: where each fires, where it stays silent, where it is skipped."""

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
