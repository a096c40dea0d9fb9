"""RNG, PRE, DAT and DUP checks, through the engine (`diagnose`)."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor import diagnose
from cifar_doctor.inputs import Affine, ModelInfo

from conftest import only, status

MINE = ["RNG", "PRE", "DAT", "DUP"]
RESCALING = dict(rescaling=["Rescaling(scale=0.00392156862745098, offset=0.0)"],
                 rescaling_affine=(Affine("Rescaling", 1 / 255, 0.0),))


def codes(report):
    return [f.code for f in report.findings]


@pytest.fixture
def data(make_images, make_labels):
    """Train (600) and test (200) images from different seeds, one-hot labels."""

    def make(train="unit", test="unit", n_train=600, n_test=200):
        return dict(
            x_train=make_images(n_train, scale=train, seed=0),
            y_train=make_labels(n_train, one_hot=True, seed=0),
            x_test=make_images(n_test, scale=test, seed=1),
            y_test=make_labels(n_test, one_hot=True, seed=1),
        )

    return make


# --- the "Done when" cases, through the full engine -----------------------


def test_seed_case_train_scaled_test_raw(data):
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
    assert f.fix.transform.to_dict() == {"split": "test", "scale": pytest.approx(1 / 255), "offset": 0.0,
                               "expression": "x_test / 255"}
    assert "Rescaling" in f.fix.snippet
    assert "255" in f.message and "16.1" in f.explanation
    assert report.verdict.evidence["scale_ratio"] == pytest.approx(255.0)


@pytest.mark.parametrize("scale", ["unit", "standardized", "imagenet", "symmetric"])
def test_consistent_normalization_is_healthy(data, scale):
    report = diagnose(**data(scale, scale))
    assert report.verdict.cause == "healthy", [(f.code, f.message) for f in report.findings]
    assert report.exit_code() == 0
    assert not [c for c in codes(report) if c[:3] in ("RNG", "PRE")]


def test_both_raw_is_input_not_normalized(data):
    report = diagnose(**data("uint8", "uint8"))
    assert report.verdict.cause == "input-not-normalized"
    f = only(report, "RNG001")
    assert f.severity.value == "warning"
    assert f.evidence["splits"]["train"]["scheme"] == "raw-uint8"
    assert "Rescaling(1.0 / 255)" in f.fix.snippet


def test_skipped_with_labels_only(make_labels):
    report = diagnose(y_train=make_labels(50), y_test=make_labels(20), select=MINE)
    for code in ("RNG001", "RNG002", "PRE001", "PRE002", "PRE003", "DAT001", "DAT002", "DAT003", "DAT004",
                 "DUP001"):
        assert status(report, code) == "skipped", code
    assert "needs training images" in {c.code: c for c in report.checks}["PRE001"].reason


@pytest.mark.parametrize("code", ["PRE001", "PRE002", "PRE003", "DAT004", "DUP001"])
def test_train_only_skips_comparisons(data, code):
    d = data()
    report = diagnose(x_train=d["x_train"], select=MINE)
    assert status(report, code) == "skipped"
    assert "test or validation images" in {c.code: c for c in report.checks}[code].reason


# --- RNG ------------------------------------------------------------------------------


def test_rng001_silent_when_the_model_rescales(data):
    report = diagnose(**data("uint8", "uint8"), model=ModelInfo(input_shape=(32, 32, 3), **RESCALING),
                      select=["RNG"])
    assert status(report, "RNG001") == "ran" and "RNG001" not in codes(report)


def test_rng001_silent_for_scaled_inputs(data):
    assert "RNG001" not in codes(diagnose(**data("unit", "unit"), select=["RNG"]))


def test_rng002_double_scaled(data):
    d = data()
    d["x_train"] = d["x_train"] / 255
    d["x_test"] = d["x_test"] / 255
    report = diagnose(**d, select=MINE)
    found = [f for f in report.findings if f.code == "RNG002"]
    assert {f.split for f in found} == {"train", "test"}
    assert found[0].evidence["max"] <= 1 / 255 + 1e-6
    assert "PRE001" not in codes(report)  # both splits agree
    assert report.verdict.cause == "input-not-normalized"


def test_rng002_unit_data_into_a_rescaling_model(data):
    report = diagnose(**data(), model=ModelInfo(**RESCALING), select=["RNG"])
    f = only(report, "RNG002")
    assert f.evidence["model_rescaling"] == RESCALING["rescaling"]


def test_rng002_silent(data):
    report = diagnose(**data("uint8", "uint8"), model=ModelInfo(**RESCALING), select=["RNG"])
    assert status(report, "RNG002") == "ran" and "RNG002" not in codes(report)


# --- PRE ------------------------------------------------------------------------------


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


def test_pre_checks_are_exclusive(data):
    report = diagnose(**data("unit", "raw-float"), select=["PRE"])
    assert codes(report) == ["PRE001"]


# --- DAT ------------------------------------------------------------------------------


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


# --- DUP ------------------------------------------------------------------------------


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


# --- the bundled real sample ------------------------------------------------------------


def test_real_sample_recipes(sample_arrays):
    from cifar_doctor.training.recipes import get_recipe

    arrays = {k: sample_arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    seed = get_recipe("original").preprocess(arrays)
    report = diagnose(**seed, select=MINE)
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert only(report, "PRE001").evidence["scale_ratio"] == pytest.approx(255.0)
    fixed = get_recipe("fixed").preprocess(arrays)
    report = diagnose(**fixed, select=MINE)
    assert report.verdict.cause == "healthy", [(f.code, f.message) for f in report.findings]


# --- RNG003 inputs-on-extreme-scale ------------------------------------------------------------
def test_rng003_pixels_scaled_up_again(make_images):
    x = make_images(60, "uint8").astype("float32") * 255.0
    report = diagnose(x_train=x, x_test=make_images(30, "uint8", seed=1).astype("float32") * 255.0)
    f = {f.code: f for f in report.findings}["RNG003"]
    assert f.evidence["peak_abs"]["train"] > 1000 and f.cause == "input-not-normalized"
    assert report.verdict.cause == "input-not-normalized"


def test_rng003_silent_on_raw_or_unit_pixels_and_when_the_model_scales_down(make_images):
    for scale in ("uint8", "unit"):
        assert "RNG003" not in {f.code for f in diagnose(x_train=make_images(40, scale)).findings}
    x = make_images(40, "uint8").astype("float32") * 255.0
    model = ModelInfo(rescaling=["Rescaling(scale=1.5378e-05, offset=0)"],
                      rescaling_affine=(Affine("Rescaling", 1 / 65025, 0.0),))
    assert "RNG003" not in {f.code for f in diagnose(x_train=x, model=model).findings}


def test_lbl009_ignores_labels_that_are_not_class_indices(make_labels):
    y = make_labels(500) / 255.0  # labels caught by a blanket x / 255
    assert "LBL009" not in {f.code for f in diagnose(y_train=y).findings}
