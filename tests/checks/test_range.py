"""Checks RNG001, RNG002, RNG003: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

from cifar_doctor import diagnose
from cifar_doctor.inputs import Affine, ModelInfo
from conftest import only, status

MINE = ["RNG", "PRE", "DAT", "DUP"]


RESCALING = dict(
    rescaling=["Rescaling(scale=0.00392156862745098, offset=0.0)"],
    rescaling_affine=(Affine("Rescaling", 1 / 255, 0.0),),
)


def codes(report):
    return [f.code for f in report.findings]


def test_rng001_both_raw_is_input_not_normalized(data):
    report = diagnose(**data("uint8", "uint8"))
    assert report.verdict.cause == "input-not-normalized"
    f = only(report, "RNG001")
    assert f.severity.value == "warning"
    assert f.evidence["splits"]["train"]["scheme"] == "raw-uint8"
    assert "Rescaling(1.0 / 255)" in f.fix.snippet


def test_rng001_skipped_with_labels_only(make_labels):
    report = diagnose(y_train=make_labels(50), y_test=make_labels(20), select=MINE)
    for code in ("RNG001", "RNG002", "PRE001", "PRE002", "PRE003", "DAT001", "DAT002", "DAT003", "DAT004", "DUP001"):
        assert status(report, code) == "skipped", code
    assert "needs training images" in {c.code: c for c in report.checks}["PRE001"].reason


def test_rng001_silent_when_the_model_rescales(data):
    report = diagnose(**data("uint8", "uint8"), model=ModelInfo(input_shape=(32, 32, 3), **RESCALING), select=["RNG"])
    assert status(report, "RNG001") == "ran" and "RNG001" not in codes(report)


def test_rng001_silent_for_scaled_inputs(data):
    assert "RNG001" not in codes(diagnose(**data("unit", "unit"), select=["RNG"]))


def test_rng001_whole_number_levels_on_a_narrow_scale(make_labels):
    """Digits-like images, whole numbers 0-16 (std about 6): unscaled levels; divided by 16, silent."""
    import numpy as np

    rng = np.random.default_rng(0)

    def levels(n: int) -> np.ndarray:
        return rng.choice(np.arange(17), size=(n, 8, 8), p=np.r_[0.4, np.full(16, 0.6 / 16)]).astype("float32")

    x_train, x_test = levels(300), levels(100)
    y_train, y_test = make_labels(300), make_labels(100)
    report = diagnose(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, select=["RNG"])
    f = only(report, "RNG001")
    assert f.evidence["splits"]["train"]["scheme"] == "raw-levels" and f.evidence["levels_max"] == 16
    assert "/ 16" in f.fix.snippet
    scaled = diagnose(x_train=x_train / 16, y_train=y_train, x_test=x_test / 16, y_test=y_test, select=["RNG"])
    assert "RNG001" not in codes(scaled)
    # values on the same scale that are not whole numbers are not levels
    noisy = diagnose(x_train=x_train + 0.3, y_train=y_train, x_test=x_test + 0.3, y_test=y_test, select=["RNG"])
    assert "RNG001" not in codes(noisy)


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
    model = ModelInfo(
        rescaling=["Rescaling(scale=1.5378e-05, offset=0)"], rescaling_affine=(Affine("Rescaling", 1 / 65025, 0.0),)
    )
    assert "RNG003" not in {f.code for f in diagnose(x_train=x, model=model).findings}
