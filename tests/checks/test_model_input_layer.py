"""Checks MDL003, MDL004, MDL005: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.inputs import Affine
from conftest import model_info, run_check

RESCALE_255 = "Rescaling(scale=0.00392156863, offset=0)"


#: What sources.models reads off a model with `layers.Rescaling(1./255)`: the description and the record.
BY_255 = dict(rescaling=[RESCALE_255], rescaling_affine=(Affine("Rescaling", 1 / 255, 0.0),))


def test_mdl003_fires_on_raw_data_without_rescaling(make_images):
    found, outcome, _ = run_check(
        "MDL003", model=model_info(), x_train=make_images(40, "uint8"), x_test=make_images(40, "uint8", seed=1)
    )
    assert outcome.status == "ran" and len(found) == 1
    f = found[0]
    assert f.severity.value == "info" and f.cause is None
    assert "raw 0-255" in f.message and f.evidence["schemes"]["train"] == "raw-uint8"
    assert "Rescaling(1.0 / 255)" in f.fix.snippet


def test_mdl003_advises_normalization_layer_for_standardized_data(make_images):
    found, _, _ = run_check(
        "MDL003",
        model=model_info(),
        x_train=make_images(60, "standardized"),
        x_test=make_images(60, "standardized", seed=1),
    )
    assert found and "Normalization" in found[0].fix.snippet


def test_mdl003_silent_with_in_model_rescaling(make_images):
    found, outcome, _ = run_check("MDL003", model=model_info(**BY_255), x_train=make_images(40))
    assert outcome.status == "ran" and found == []


def test_mdl003_skipped_without_model(make_images):
    _, outcome, _ = run_check("MDL003", x_train=make_images(10))
    assert outcome.status == "skipped"


def test_mdl004_fires_on_unit_data_into_rescaling_model(make_images):
    found, outcome, report = run_check(
        "MDL004", model=model_info(**BY_255), x_train=make_images(60, "unit"), x_test=make_images(60, "unit", seed=1)
    )
    assert outcome.status == "ran" and len(found) == 1
    f = found[0]
    assert f.severity.value == "warning" and f.cause == "input-not-normalized"
    assert f.evidence["unit_splits"] == ["train", "test"]
    assert f.evidence["scale"] == pytest.approx(1 / 255)
    assert f.evidence["first_layer_range"][1] <= 1 / 255 + 1e-9
    assert report.verdict.cause == "input-not-normalized"


def test_mdl004_silent_on_raw_data_or_symmetric_model(make_images):
    found, outcome, _ = run_check("MDL004", model=model_info(**BY_255), x_train=make_images(60, "uint8"))
    assert outcome.status == "ran" and found == []
    found, _, _ = run_check(
        "MDL004",
        model=model_info(
            rescaling=["Rescaling(scale=2, offset=-1)"], rescaling_affine=(Affine("Rescaling", 2.0, -1.0),)
        ),
        x_train=make_images(60, "unit"),
    )
    assert found == []


def test_mdl004_skipped_without_data():
    _, outcome, _ = run_check("MDL004", model=model_info(**BY_255))
    assert outcome.status == "skipped" and "training images" in outcome.reason


def test_mdl005_channels_first_data_for_channels_last_model(make_images, make_labels):
    x = make_images(20, "unit")
    found, outcome, report = run_check("MDL005", model=model_info(), x_train=x, x_test=np.transpose(x, (0, 3, 1, 2)))
    assert outcome.status == "ran" and len(found) == 1
    f = found[0]
    assert f.severity.value == "error" and f.cause == "input-layout-mismatch" and f.split == "test"
    assert f.evidence["data_shape"] == [3, 32, 32] and f.evidence["model_input_shape"] == [32, 32, 3]
    assert "np.transpose(x_test, (0, 2, 3, 1))" in f.fix.snippet
    assert report.verdict.cause == "input-layout-mismatch"


def test_mdl005_channels_last_data_for_channels_first_model(make_images):
    found, _, _ = run_check("MDL005", model=model_info(input_shape=(3, 32, 32)), x_train=make_images(10, "unit"))
    assert "(0, 3, 1, 2)" in found[0].fix.snippet


def test_mdl005_flattened_and_wrong_size(make_images):
    x = make_images(10, "unit")
    found, _, _ = run_check("MDL005", model=model_info(), x_train=x.reshape(10, -1))
    assert "reshape((-1, 32, 32, 3))" in found[0].fix.snippet
    found, _, _ = run_check("MDL005", model=model_info(input_shape=(28, 28, 1)), x_train=x)
    assert found[0].evidence["data_shape"] == [32, 32, 3] and "(28, 28, 1)" in found[0].message


def test_mdl005_silent_on_matching_or_flexible_shape(make_images):
    found, outcome, _ = run_check("MDL005", model=model_info(), x_train=make_images(10), x_test=make_images(10, seed=2))
    assert outcome.status == "ran" and found == []
    found, _, _ = run_check("MDL005", model=model_info(input_shape=(None, None, 3)), x_train=make_images(10))
    assert found == []


def test_mdl005_skipped_without_model(make_images):
    _, outcome, _ = run_check("MDL005", x_train=make_images(10))
    assert outcome.status == "skipped"
