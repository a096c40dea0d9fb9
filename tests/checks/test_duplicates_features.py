"""Checks DUP003: where it fires, where it stays silent, where it is skipped; and the feature search itself."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.checks.duplicates import features as dup003
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, Split
from cifar_doctor.measure import featdup
from cifar_doctor.sources import features as feature_source


def mirror_invariant_features(evaluate, x):
    """Stand-in for a model's features: the zero-mean 8x8 colour thumbnail of the image plus its mirror image,
    so a horizontally flipped copy has the features of its original (as a model trained with flips nearly does)."""
    x = np.asarray(x, np.float32)
    both = x + x[:, :, ::-1]
    n = len(x)
    thumb = both.reshape(n, 8, 4, 8, 4, 3).mean(axis=(2, 4)).reshape(n, -1)
    f = thumb - thumb.mean(axis=1, keepdims=True)
    return feature_source.Features(f, np.full((n, 10), 0.1, np.float32), "dense")


@pytest.fixture
def features_of_images(monkeypatch):
    monkeypatch.setattr(feature_source, "read_features", mirror_invariant_features)


def inputs(x_train, x_test, evaluate=lambda x, y: {"accuracy": 0.5, "loss": 1.0}) -> Inputs:
    return Inputs(splits={"train": Split("train", x_train), "test": Split("test", x_test)}, evaluate=evaluate)


@pytest.fixture
def real(sample_arrays):
    """1,000 real training and 400 real test images from the bundled sample."""
    return sample_arrays["x_train"][:1000].copy(), sample_arrays["x_test"][:400].copy()


def test_dup003_finds_mirrored_copies_that_the_pixel_search_misses(features_of_images, real, monkeypatch):
    from cifar_doctor.checks.duplicates import features

    monkeypatch.setattr(features, "FEATURE_NAMES_CAUSE", True)  # shipped off: see its docstring
    x_train, x_test = real
    x_test[:20] = x_train[100:120, :, ::-1]  # mirrored: no pixel match
    x_test[20:25] = x_train[200:205]  # exact copies: pixel matches, counted apart
    (f,) = run(inputs(x_train, x_test), select_codes=["DUP003"]).findings
    found = {(p[0], p[1]) for p in f.evidence["pairs"]}
    assert {(i, 100 + i) for i in range(20)} <= found
    assert not any(i in range(20, 25) for i, _ in found)
    assert f.evidence["pixel_matched"] >= 5
    assert f.evidence["count"] <= 20 + 2  # a couple of natural look-alikes at most
    assert f.severity.value == "warning" and f.cause == "train-test-leakage"  # 5% of the test split
    assert f.message.startswith(f"{f.evidence['count']} of 400 x_test images") and "(DUP002)" in f.message


def test_dup003_reports_a_few_copies_as_information(features_of_images, real):
    x_train, x_test = real
    x_test[:3] = x_train[100:103, :, ::-1]
    (f,) = run(inputs(x_train, x_test), select_codes=["DUP003"]).findings
    assert f.severity.value == "info" and f.cause is None


def test_dup003_names_no_cause_as_shipped(features_of_images, real):
    x_train, x_test = real
    x_test[:20] = x_train[100:120, :, ::-1]  # 5% of the test split
    (f,) = run(inputs(x_train, x_test), select_codes=["DUP003"]).findings
    assert f.evidence["count"] >= 20 and f.severity.value == "info" and f.cause is None
    assert {(i, 100 + i) for i in range(3)} <= {(p[0], p[1]) for p in f.evidence["pairs"]}


def test_dup003_silent_on_independent_images(features_of_images, make_images):
    x = make_images(1400, seed=3)
    report = run(inputs(x[:1000], x[1000:]), select_codes=["DUP003"])
    assert report.checks[0].status == "ran" and not report.findings


def test_dup003_silent_when_every_copy_matches_in_pixels(features_of_images, real):
    x_train, x_test = real
    x_test[:10] = x_train[300:310]
    findings = run(inputs(x_train, x_test), select_codes=["DUP003"]).findings
    assert not findings or not any(p[0] < 10 for p in findings[0].evidence["pairs"])


def test_dup003_skipped_without_a_model(make_images):
    x = make_images(300)
    report = run(
        Inputs(splits={"train": Split("train", x[:200]), "test": Split("test", x[200:])}), select_codes=["DUP003"]
    )
    (outcome,) = report.checks
    assert outcome.status == "skipped" and "needs a model" in outcome.reason


def test_dup003_silent_without_a_keras_model(make_images):
    """An `evaluate` function that is not the model's evaluator has no features to read."""
    x = make_images(300)
    report = run(inputs(x[:200], x[200:]), select_codes=["DUP003"])
    assert report.checks[0].status == "ran" and not report.findings


def test_nearest_matches_the_full_product():
    rng = np.random.default_rng(0)
    index = rng.normal(size=(3000, 24)).astype(np.float32)
    query = rng.normal(size=(700, 24)).astype(np.float32)
    query[:4] = index[[5, 2999, 1024, 0]] * 3.0
    query[4] = 0.0  # no features: not matched
    old = featdup.QUERY_BLOCK, featdup.INDEX_BLOCK
    featdup.QUERY_BLOCK, featdup.INDEX_BLOCK = 128, 1000  # several blocks each way, a short last one
    try:
        r = featdup.nearest(query, index)
    finally:
        featdup.QUERY_BLOCK, featdup.INDEX_BLOCK = old
    q = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
    t = index / np.linalg.norm(index, axis=1, keepdims=True)
    s = np.sort(q @ t.T, axis=1)
    ok = np.arange(len(query)) != 4
    assert r.index[:4].tolist() == [5, 2999, 1024, 0] and r.index[4] == -1 and r.similarity[4] == -1.0
    np.testing.assert_allclose(r.similarity[ok], s[ok, -1], atol=1e-5)
    np.testing.assert_allclose(r.second[ok], s[ok, -2], atol=1e-5)
    assert (r.index[ok] == (q @ t.T)[ok].argmax(axis=1)).all()


def test_the_ratio_test_keeps_pairs_that_stand_out():
    sim = np.array([0.99, 0.99, 0.97, 0.85, 1.0])
    second = np.array([0.95, 0.985, 0.85, 0.3, 1.0])
    assert dup003.standing_out(sim, second).tolist() == [True, False, True, False, True]


@pytest.mark.tf
def test_dup003_reads_the_features_of_a_keras_model(real):
    """A real model whose last features are row means over the full width: blind to mirroring."""
    keras = pytest.importorskip("keras")
    from keras import layers

    from cifar_doctor.sources.evaluator import Evaluator

    x_train, x_test = real
    x_test[:10] = x_train[100:110, :, ::-1]
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Rescaling(1 / 64, offset=-2.0),
            layers.AveragePooling2D(pool_size=(2, 32)),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy")
    (f,) = run(inputs(x_train, x_test, Evaluator.of(model)), select_codes=["DUP003"]).findings
    assert {(i, 100 + i) for i in range(10)} <= {(p[0], p[1]) for p in f.evidence["pairs"]}
    assert f.evidence["feature_layer"] == "flatten" and f.evidence["count"] <= 12


def test_dup003_and_lbl010_share_one_feature_pass_per_split(real, sample_arrays, monkeypatch):
    # a split that fits both samples (here 1,000 training and 400 test images) is read through the model once
    reads = []

    def counted(evaluate, x):
        reads.append(len(x))
        return mirror_invariant_features(evaluate, x)

    monkeypatch.setattr(feature_source, "read_features", counted)
    x_train, x_test = real
    y_train, y_test = sample_arrays["y_train"][:1000].reshape(-1), sample_arrays["y_test"][:400].reshape(-1)
    shared = Inputs(
        splits={"train": Split("train", x_train, y_train), "test": Split("test", x_test, y_test)},
        evaluate=lambda x, y: {"accuracy": 0.5, "loss": 1.0},
        classes=10,
    )
    report = run(shared, select_codes=["DUP003", "LBL010"])
    assert {c.code for c in report.checks if c.status == "ran"} == {"DUP003", "LBL010"}
    assert sorted(reads) == [400, 1000]
