"""Checks DUP001: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import pytest

from cifar_doctor import diagnose
from conftest import only, status


def codes(report):
    return [f.code for f in report.findings]


def test_dup001_copies_across_schemes(data):
    d = data("unit", "raw-float")
    d["x_test"] = d["x_test"].copy()
    d["x_test"][10:20] = d["x_train"][100:110] * 255  # the seed's scales: still comparable
    report = diagnose(**d, select=["DUP"])
    f = only(report, "DUP001")
    assert f.evidence["count"] == 10 and f.evidence["fraction"] == pytest.approx(0.05)
    assert f.evidence["pairs"][:2] == [[100, 10], [101, 11]]
    assert f.evidence["compared_as"] == "canonical uint8 pixels"
    assert f.severity.value == "warning" and f.cause == "train-test-leakage"


def test_dup001_single_copy_is_info(data):
    d = data()
    d["x_test"] = d["x_test"].copy()
    d["x_test"][3] = d["x_train"][42]
    f = only(diagnose(**d, select=["DUP"]), "DUP001")
    assert f.severity.value == "info" and f.evidence["pairs"] == [[42, 3]]
    assert f.evidence["compared_as"] == "raw bytes"


def test_dup001_silent(data):
    report = diagnose(**data(), select=["DUP"])
    assert status(report, "DUP001") == "ran" and not codes(report)
