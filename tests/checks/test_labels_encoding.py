"""Checks LBL001, LBL002, LBL003, LBL004, LBL005, LBL008: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cifar_doctor.api import diagnose
from cifar_doctor.inputs import ModelInfo
from cifar_doctor.measure.labelinfo import ROW_SUM_TOLERANCE, label_info
from cifar_doctor.registry import all_checks, get
from conftest import run_json


def one_hot(y, k=10):
    return np.eye(k, dtype=np.float32)[np.ravel(y)]


def found(report, code):
    return [f for f in report.findings if f.code == code]


@pytest.fixture
def data(make_images, make_labels):
    """Unit-scaled images with balanced integer labels: (N, 1) train and test, like keras' load_data."""
    return {
        "x_train": make_images(300, "unit", seed=1),
        "y_train": make_labels(300, column=True, seed=1),
        "x_test": make_images(200, "unit", seed=2),
        "y_test": make_labels(200, column=True, seed=2),
    }


def run_lbl(**kw):
    """Run only the LBL checks."""
    return diagnose(select=["LBL"], **kw)


def outcome(report, code):
    return next(o for o in report.checks if o.code == code)


# --- label_info ---------------------------------------------------------------------------------
def test_label_info_integer_encodings():
    i = label_info(np.array([3, 1, 3]))
    assert (i.encoding, i.n, i.classes, i.counts) == ("integer", 3, 4, [0, 1, 0, 2])
    c = label_info(np.array([[0], [9]], dtype=np.uint8))
    assert (c.encoding, c.classes, c.counts[9]) == ("integer-column", 10, 1)


def test_label_info_one_hot_soft_and_invalid_rows():
    y = one_hot([0, 1, 2, 2], 3)
    assert label_info(y).encoding == "one-hot"
    assert label_info(y).counts == [1, 1, 2]
    smoothed = y * 0.9 + 0.1 / 3  # keras label_smoothing=0.1
    s = label_info(smoothed)
    assert (s.encoding, s.invalid_rows, s.counts) == ("soft", 0, [1, 1, 2])
    bad = y.copy()
    bad[1] = 0  # all-zero row
    bad[2, 0] = 1  # multi-hot row
    b = label_info(bad)
    assert (b.encoding, b.invalid_rows, b.invalid_indices) == ("invalid", 2, [1, 2])
    assert (b.zero_rows, b.multi_hot_rows, b.row_sum_min, b.row_sum_max) == (1, 1, 0.0, 2.0)


def test_label_info_row_tolerance_admits_float16():
    y = (one_hot(np.arange(100) % 10) * 0.9 + 0.01).astype(np.float16)  # sums 1 within float16 rounding
    info = label_info(y)
    assert info.invalid_rows == 0 and info.encoding == "soft"
    assert ROW_SUM_TOLERANCE < 0.5


def test_label_info_out_of_range_and_non_integer():
    i = label_info(np.array([0, 1, 2.5, np.nan, -1, 10]), classes=10)
    assert (i.out_of_range, i.non_integer) == (2, 2)
    assert i.out_of_range_indices == [4, 5] and i.non_integer_indices == [2, 3]
    assert i.counts[:2] == [1, 1] and sum(i.counts) == 2


def test_label_info_on_the_bundled_sample(sample_arrays):
    info = label_info(sample_arrays["y_train"])
    assert info.encoding == "integer-column"
    assert info.classes == 10 and info.counts == [250] * 10


# --- the Done-when case: (N, 1) integers with categorical_crossentropy --------------------
def test_lbl001_integer_column_with_categorical_loss_is_a_label_format_mismatch(sample_arrays):
    x_train = sample_arrays["x_train"][:500].astype(np.float32) / 255
    x_test = sample_arrays["x_test"][:200].astype(np.float32) / 255
    report = diagnose(
        x_train=x_train,
        y_train=sample_arrays["y_train"][:500],
        x_test=x_test,
        y_test=sample_arrays["y_test"][:200],
        loss="categorical_crossentropy",
        select=["LBL"],
    )
    assert report.verdict.cause == "label-format-mismatch"
    (f,) = found(report, "LBL001")
    assert f.severity.value == "error"
    assert "(500, 1)" in f.message and "categorical_crossentropy" in f.message
    text = f.fix.title + "\n" + f.fix.snippet
    assert "to_categorical" in text and "sparse_categorical_crossentropy" in text
    assert f.evidence["splits"]["train"]["shape"] == [500, 1]
    assert sorted(f.evidence["splits"]) == ["test", "train"]


def test_lbl001_done_when_through_the_cli(tmp_path, sample_arrays):
    path = tmp_path / "int_labels.npz"
    np.savez(
        path,
        x_train=sample_arrays["x_train"][:300].astype(np.float32) / 255,
        y_train=sample_arrays["y_train"][:300],
        x_test=sample_arrays["x_test"][:100].astype(np.float32) / 255,
        y_test=sample_arrays["y_test"][:100],
    )
    rc, out, err = run_json(
        "check", "--data", str(path), "--loss", "categorical_crossentropy", "--select", "LBL", timeout=300
    )
    assert rc == 1, err
    assert out["verdict"]["cause"] == "label-format-mismatch"
    lbl001 = [f for f in out["findings"] if f["code"] == "LBL001"]
    assert lbl001 and "to_categorical" in json.dumps(lbl001[0]["fix"])
    assert "sparse_categorical_crossentropy" in json.dumps(lbl001[0]["fix"])


# --- LBL001 -------------------------------------------------------------------------------------
def test_lbl001_fires_for_flat_integers_too(data):
    data["y_train"] = data["y_train"].ravel()
    report = run_lbl(**data, loss="CategoricalCrossentropy")
    (f,) = found(report, "LBL001")
    assert f.evidence["splits"]["train"]["encoding"] == "integer"


def test_lbl001_silent_with_one_hot_labels(data):
    data["y_train"], data["y_test"] = one_hot(data["y_train"]), one_hot(data["y_test"])
    report = run_lbl(**data, loss="categorical_crossentropy")
    assert outcome(report, "LBL001").status == "ran"
    assert not found(report, "LBL001")


def test_lbl001_silent_with_sparse_loss(data):
    report = run_lbl(**data, loss="sparse_categorical_crossentropy")
    assert outcome(report, "LBL001").status == "ran" and not report.findings


def test_lbl001_skipped_without_a_loss(data):
    report = run_lbl(**data)
    assert outcome(report, "LBL001").status == "skipped"
    assert "loss" in outcome(report, "LBL001").reason


def test_lbl001_uses_the_compiled_loss_of_a_model(data):
    report = run_lbl(
        **data,
        model=ModelInfo(
            input_shape=(32, 32, 3), output_units=10, last_activation="softmax", loss="categorical_crossentropy"
        ),
    )
    assert found(report, "LBL001")


# --- LBL002 -------------------------------------------------------------------------------------
def test_lbl002_fires_for_one_hot_with_sparse_loss(data):
    data["y_train"], data["y_test"] = one_hot(data["y_train"]), one_hot(data["y_test"])
    report = run_lbl(**data, loss="sparse_categorical_crossentropy")
    (f,) = found(report, "LBL002")
    assert f.cause == "label-format-mismatch" and f.severity.value == "error"
    assert "(300, 10)" in f.message
    assert "categorical_crossentropy" in f.fix.title and "argmax" in f.fix.title
    assert report.verdict.cause == "label-format-mismatch"


def test_lbl002_fires_for_label_smoothed_rows(data):
    data["y_train"] = one_hot(data["y_train"]) * 0.9 + 0.01
    report = run_lbl(**data, loss="sparse_categorical_crossentropy")
    assert found(report, "LBL002")[0].evidence["splits"]["train"]["encoding"] == "soft"


def test_lbl002_silent_with_integer_labels(data):
    report = run_lbl(**data, loss="sparse_categorical_crossentropy")
    assert outcome(report, "LBL002").status == "ran" and not found(report, "LBL002")


def test_lbl002_skipped_without_labels(data):
    report = run_lbl(x_train=data["x_train"], x_test=data["x_test"], loss="sparse_categorical_crossentropy")
    assert outcome(report, "LBL002").status == "skipped"


# --- LBL003 -------------------------------------------------------------------------------------
def test_lbl003_fires_for_zero_and_multi_hot_rows(data):
    y = one_hot(data["y_train"])
    y[[3, 7]] = 0
    y[11, (np.argmax(y[11]) + 1) % 10] = 1
    data["y_train"], data["y_test"] = y, one_hot(data["y_test"])
    report = run_lbl(**data, loss="categorical_crossentropy")
    (f,) = found(report, "LBL003")
    assert f.evidence["invalid_rows"] == 3
    assert f.evidence["first_indices"] == [3, 7, 11]
    assert (f.evidence["zero_rows"], f.evidence["multi_hot_rows"]) == (2, 1)
    assert "3 of 300" in f.message and f.split == "train"


def test_lbl003_fires_for_negative_entries_in_eval(data):
    yt = one_hot(data["y_test"])
    yt[0] = np.where(yt[0] > 0, 1.9, -0.1)  # entries -0.1 and 1.9: sums to 1, still not a distribution
    data["y_train"], data["y_test"] = one_hot(data["y_train"]), yt
    report = run_lbl(**data)
    (f,) = found(report, "LBL003")
    assert f.split == "test" and f.evidence["negative_rows"] == 1


def test_lbl003_silent_for_label_smoothing(data):
    data["y_train"] = one_hot(data["y_train"]) * 0.9 + 0.1 / 10
    data["y_test"] = one_hot(data["y_test"])
    report = run_lbl(**data, loss="categorical_crossentropy")
    assert outcome(report, "LBL003").status == "ran"
    assert not report.findings


def test_lbl003_skipped_without_labels(data):
    report = run_lbl(x_train=data["x_train"])
    assert outcome(report, "LBL003").status == "skipped"


# --- LBL004 -------------------------------------------------------------------------------------
def test_lbl004_one_based_labels_against_a_ten_unit_model(data):
    data["y_train"] = data["y_train"] + 1
    data["y_test"] = data["y_test"] + 1
    report = run_lbl(
        **data, model=ModelInfo(output_units=10, last_activation="softmax", loss="sparse_categorical_crossentropy")
    )
    fs = found(report, "LBL004")
    assert {f.split for f in fs} == {"train", "test"}
    f = next(f for f in fs if f.split == "train")
    assert f.evidence["out_of_range"] == 30 and f.evidence["one_based"] is True
    assert "1-based" in f.message and f.fix.snippet == "y_train = y_train - 1"
    assert report.verdict.cause == "label-format-mismatch"


def test_lbl004_negative_and_fractional_labels(data):
    y = data["y_train"].astype(np.float32)
    y[0], y[1], y[2] = -1, 2.5, np.nan
    data["y_train"] = y
    report = run_lbl(**data)
    (f,) = found(report, "LBL004")
    assert (f.evidence["out_of_range"], f.evidence["non_integer"]) == (1, 2)
    assert f.evidence["first_non_integer"] == [1, 2]


def test_lbl004_silent_for_valid_labels(data):
    report = run_lbl(**data, classes=10)
    assert outcome(report, "LBL004").status == "ran" and not report.findings


def test_lbl004_skipped_without_labels(data):
    report = run_lbl(x_train=data["x_train"], x_test=data["x_test"])
    assert outcome(report, "LBL004").status == "skipped"


# --- LBL005 -------------------------------------------------------------------------------------
def test_lbl005_one_hot_train_integer_test(data):
    data["y_train"] = one_hot(data["y_train"])
    report = run_lbl(**data)
    (f,) = found(report, "LBL005")
    assert f.split == "test"
    assert f.evidence["train"]["encoding"] == "one-hot" and f.evidence["test"]["encoding"] == "integer-column"
    assert report.verdict.cause == "label-format-mismatch"


def test_lbl005_one_hot_widths_differ(data):
    data["y_train"], data["y_test"] = one_hot(data["y_train"]), one_hot(data["y_test"], 11)
    report = run_lbl(**data)
    assert "10 columns but y_test has 11" in found(report, "LBL005")[0].message


def test_lbl005_offset_integer_labels(make_labels, make_images):
    report = run_lbl(
        x_train=make_images(300),
        y_train=make_labels(300),
        x_test=make_images(100, seed=3),
        y_test=make_labels(100, seed=3) + 1,
    )
    (f,) = found(report, "LBL005")
    assert "shifted by +1" in f.message


def test_lbl005_silent_for_column_vs_flat_and_smoothed_vs_one_hot(data):
    data["y_test"] = data["y_test"].ravel()  # (N, 1) vs (N,) is the same encoding for Keras
    report = run_lbl(**data)
    assert outcome(report, "LBL005").status == "ran" and not found(report, "LBL005")
    data["y_train"], data["y_test"] = one_hot(data["y_train"]) * 0.9 + 0.01, one_hot(data["y_test"])
    assert not found(run_lbl(**data), "LBL005")


def test_lbl005_silent_when_a_small_test_split_lacks_a_class(data):
    data["y_test"] = np.clip(data["y_test"], 0, 8)  # class 9 missing at one end only
    assert not found(run_lbl(**data), "LBL005")


def test_lbl005_skipped_without_eval_labels(data):
    report = run_lbl(x_train=data["x_train"], y_train=data["y_train"], x_test=data["x_test"])
    assert outcome(report, "LBL005").status == "skipped"
    assert "test or validation labels" in outcome(report, "LBL005").reason


# --- LBL008 -------------------------------------------------------------------------------------
def test_lbl008_fires_for_binary_crossentropy_with_ten_classes(data):
    data["y_train"], data["y_test"] = one_hot(data["y_train"]), one_hot(data["y_test"])
    report = run_lbl(**data, loss="binary_crossentropy")
    (f,) = found(report, "LBL008")
    assert f.severity.value == "warning"
    assert f.evidence["chance_binary_accuracy"] == pytest.approx(0.9)
    assert "90%" in f.message
    assert "categorical_crossentropy" in f.fix.snippet


def test_lbl008_silent_for_two_classes_and_for_categorical_loss(data, make_labels):
    y2 = one_hot(make_labels(300, classes=2), 2)
    report = run_lbl(x_train=data["x_train"], y_train=y2, loss="binary_crossentropy")
    assert outcome(report, "LBL008").status == "ran" and not found(report, "LBL008")
    data["y_train"], data["y_test"] = one_hot(data["y_train"]), one_hot(data["y_test"])
    assert not run_lbl(**data, loss="categorical_crossentropy").findings


def test_lbl008_skipped_without_a_loss(data):
    report = run_lbl(**data)
    assert outcome(report, "LBL008").status == "skipped"


# --- registry invariants for this family ----------------------------------------------------------
@pytest.mark.parametrize("code", [f"LBL00{i}" for i in range(1, 9)])
def test_every_label_check_is_documented(code):
    spec = get(code)
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in spec.doc, (code, heading)
    assert spec.cause in ("label-format-mismatch", "class-imbalance", "eval-distribution-shift")
    assert spec.summary and spec.summary.endswith(".")


def test_healthy_labels_give_no_label_findings(sample_arrays):
    report = run_lbl(
        y_train=one_hot(sample_arrays["y_train"]),
        y_test=one_hot(sample_arrays["y_test"]),
        loss="categorical_crossentropy",
    )
    assert not report.findings
    assert all(o.status in ("ran", "skipped") for o in report.checks)
    # every label check that needs labels alone ran (the others need a model, or outputs recorded in training)
    label_only = {
        s.code for s in all_checks() if s.code.startswith("LBL") and not {"evaluator", "probes"} & set(s.requires)
    }
    assert label_only and all(o.status == "ran" for o in report.checks if o.code in label_only)
