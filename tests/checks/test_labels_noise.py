"""Check LBL010 (noisy training labels): the estimator on synthetic features, and the check on the bundled
sample with the real human labels of its images (CIFAR-10N), where it fires, stays silent, is skipped."""

from __future__ import annotations


import numpy as np
import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, ModelInfo, Split

pytest.importorskip("cleanlab")
pytest.importorskip("sklearn")


def clusters(n: int, k: int = 10, d: int = 32, seed: int = 0):
    """Features of `n` images in `k` separable Gaussian clusters, and their true labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (k, d))
    y = rng.integers(0, k, n)
    return centers[y] + rng.normal(0.0, 1.0, (n, d)), y


def confuse(y, rate: float, k: int = 10, seed: int = 1):
    """`y` with a fraction `rate` of labels moved to a neighbouring class (class-dependent, like cat/dog)."""
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < rate
    out = y.copy()
    out[flip] = (y[flip] + 1 + rng.integers(0, 2, flip.sum())) % k
    return out, flip


# --- the estimator, on synthetic features (fast) ---------------------------------------------------
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.4])
def test_lbl010_estimate_tracks_the_wrong_fraction(rate):
    from cifar_doctor.measure.noise import estimate_noise

    f, truth = clusters(1500)
    y, flip = confuse(truth, rate)
    est = estimate_noise(f, y, 10)  # no eval reference: confident learning alone
    assert est is not None
    assert abs(est.fraction - flip.mean()) < 0.06
    if rate:
        top = [s.index for s in est.suspects[:100]]
        assert flip[top].mean() >= 0.9
        assert all(s.given == y[s.index] and s.likely != s.given and 0.0 < s.confidence <= 1.0
                   for s in est.suspects)
        assert np.mean([s.likely == truth[s.index] for s in est.suspects[:100]]) >= 0.8


def test_lbl010_eval_reference_reads_agreement():
    from cifar_doctor.measure.noise import estimate_noise

    rng = np.random.default_rng(5)
    centers = rng.normal(0.0, 1.0, (10, 32))
    truth = rng.integers(0, 10, 1500)
    te = rng.integers(0, 10, 400)
    f = centers[truth] + rng.normal(0.0, 1.0, (1500, 32))
    fe = centers[te] + rng.normal(0.0, 1.0, (400, 32))
    y, flip = confuse(truth, 0.3)
    est = estimate_noise(f, y, 10, eval_features=fe, eval_labels=te)
    assert {"confident_learning", "cv_agreement", "eval_accuracy", "agreement"} <= set(est.signals)
    assert abs(est.signals["agreement"] - flip.mean()) < 0.06


def test_lbl010_too_few_images_per_class_gives_no_estimate():
    from cifar_doctor.measure.noise import estimate_noise

    f, y = clusters(30)
    assert estimate_noise(f, y, 10) is None


def test_lbl010_skipped_without_a_model(make_images, make_labels):
    inp = Inputs(splits={"train": Split("train", make_images(100, "unit"), make_labels(100))})
    report = run(inp, select_codes=["LBL010"])
    (outcome,) = report.checks
    assert outcome.status == "skipped" and "needs a model" in outcome.reason


def test_lbl010_skipped_without_the_extra(make_images, make_labels, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cleanlab" else real(name, *a))
    inp = Inputs(splits={"train": Split("train", make_images(100, "unit"), make_labels(100))},
                 model=ModelInfo(input_shape=(32, 32, 3), output_units=10, last_activation="softmax"),
                 evaluate=lambda x, y: {"accuracy": 0.5, "loss": 1.0})
    report = run(inp, select_codes=["LBL010"])
    (outcome,) = report.checks
    assert outcome.status == "skipped" and "pip install 'cifar-doctor[labels]'" in outcome.reason


def test_lbl010_silent_without_a_keras_model(make_images, make_labels):
    """An `evaluate` function that is not the model's evaluator has no features to read."""
    inp = Inputs(splits={"train": Split("train", make_images(100, "unit"), make_labels(100))},
                 model=ModelInfo(input_shape=(32, 32, 3), output_units=10, last_activation="softmax"),
                 evaluate=lambda x, y: {"accuracy": 0.5, "loss": 1.0})
    report = run(inp, select_codes=["LBL010"])
    assert report.checks[0].status == "ran" and not report.findings
