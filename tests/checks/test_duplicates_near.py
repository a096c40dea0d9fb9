"""Checks DUP002: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor import diagnose
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, Split
from cifar_doctor.measure import ivf, neardup
from conftest import only, run_json, status


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift images by whole pixels, repeating the edge."""
    h, w = x.shape[1:3]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return x[:, rows][:, :, cols]


def requantize(x: np.ndarray, step: float = 24.0) -> np.ndarray:
    """JPEG-like re-encoding: 8x8 block DCT per channel, coefficients rounded to a step growing with frequency."""
    k = np.arange(8)
    d = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    q = step * (1 + (k[:, None] + k[None, :]) / 4)
    n, h, w, c = x.shape
    blocks = x.astype(np.float64).reshape(n, h // 8, 8, w // 8, 8, c).transpose(0, 1, 3, 5, 2, 4) - 128
    coef = d @ blocks @ d.T
    back = d.T @ (np.round(coef / q) * q) @ d
    out = back.transpose(0, 1, 4, 2, 5, 3).reshape(n, h, w, c) + 128
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def brighten(x: np.ndarray, gain: float = 1.1, offset: float = 12.0, cast=(1.0, 0.95, 0.85)) -> np.ndarray:
    out = x.astype(np.float32) * gain * np.asarray(cast, np.float32) + offset
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def noisy(x: np.ndarray, sigma: float = 4.0, seed: int = 0) -> np.ndarray:
    return np.clip(x + np.random.default_rng(seed).normal(0, sigma, x.shape), 0, 255).astype(np.uint8)


#: test index -> what was done to which training image; 40 planted pairs
PLANTS = {
    "shift": (range(0, 10), range(100, 110), lambda x: shift(x, 1, -2)),
    "colour": (range(10, 20), range(110, 120), brighten),
    "requantized": (range(20, 30), range(120, 130), requantize),
    "noise": (range(30, 40), range(130, 140), noisy),
}


@pytest.fixture
def real(sample_arrays):
    """600 real training and 300 real test images from the bundled sample."""
    return sample_arrays["x_train"][:600].copy(), sample_arrays["x_test"][:300].copy()


def plant(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    x_test = x_test.copy()
    for test_idx, train_idx, f in PLANTS.values():
        x_test[list(test_idx)] = f(x_train[list(train_idx)])
    return x_test


def smooth_images(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Image-like uint8 data: low-pass random fields (blobs and gradients) per channel, plus faint noise."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    spectrum = 1.0 / np.maximum(radius, 1.0 / size) ** 1.6  # natural images fall off like 1/f^2 in power
    noise = rng.normal(size=(n, 3, size, size)) + 1j * rng.normal(size=(n, 3, size, size))
    field = np.fft.ifft2(noise * spectrum).real
    field = field.transpose(0, 2, 3, 1)
    field = (field - field.mean(axis=(1, 2, 3), keepdims=True)) / field.std(axis=(1, 2, 3), keepdims=True)
    img = 128 + 45 * field + rng.normal(0, 3, field.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def found_test_indices(f) -> set[int]:
    return {p[1] for p in f.evidence["pairs"]}


def test_each_transform_is_found(real):
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    pairs = neardup.find(x_test, x_train, chunk=128)
    got = set(zip(pairs.a.tolist(), pairs.b.tolist()))
    for name, (test_idx, train_idx, _) in PLANTS.items():
        hits = sum((t, r) in got for t, r in zip(test_idx, train_idx))
        assert hits >= 9, f"{name}: {hits} of 10 found"
    assert not pairs.exact.any()
    assert (pairs.similarity >= neardup.DETAIL_THRESHOLD).all()


def test_signatures_are_small_and_chunk_invariant(real):
    x_train, _ = real
    whole = neardup.signatures(x_train)
    parts = neardup.concat(neardup.signatures(x_train[i : i + 97]) for i in range(0, len(x_train), 97))
    assert whole.thumbs.dtype == np.int8 and whole.thumbs.shape == (600, neardup.SIG_GRID**2)
    np.testing.assert_array_equal(whole.thumbs, parts.thumbs)
    assert whole.thumbs.nbytes + whole.flat.nbytes <= 65 * len(x_train)


def test_candidate_window_loses_no_pair():
    """The projection window must return exactly what the full product returns."""
    x = smooth_images(700, seed=3)
    x[400:450] = brighten(x[:50])
    s = neardup.signatures(x)
    i, j, _ = neardup.candidates(s, s, same=True)
    t = s.thumbs.astype(np.float32)
    full = t @ t.T >= neardup.PREFILTER_CORR * 127 * 127
    iu = np.triu_indices(len(t), 1)
    expected = set(zip(iu[0][full[iu]].tolist(), iu[1][full[iu]].tolist()))
    assert set(zip(i.tolist(), j.tolist())) == expected


def test_dup002_fires_on_planted_copies(real):
    x_train, x_test = real
    report = diagnose(x_train=x_train, x_test=plant(x_train, x_test), select=["DUP"])
    f = only(report, "DUP002")
    planted = set(range(40))
    ev = f.evidence
    assert ev["count"] >= 38 and ev["fraction"] == pytest.approx(ev["count"] / 300)
    assert ev["near_identical"] >= 30 and ev["exact"] == 0
    assert f.severity.value == "warning" and f.cause == "train-test-leakage"
    assert report.verdict.cause == "train-test-leakage"
    assert ev["max_accuracy_inflation"] == pytest.approx(ev["fraction"])
    assert found_test_indices(f) <= planted | set(range(40, 300))
    assert [p[:2] for p in ev["pairs"][:3]] == [[100, 0], [101, 1], [102, 2]]
    assert all(neardup.DETAIL_THRESHOLD <= p[2] <= 1 for p in ev["pairs"])
    assert ev["thresholds"]["detail"] == neardup.DETAIL_THRESHOLD and "px" in ev["method"]
    assert "DUP001" not in [g.code for g in report.findings]  # none of them is exact


def test_dup002_exact_copies_are_counted_as_exact(real):
    x_train, x_test = real
    x_test[:5] = x_train[200:205]
    f = only(diagnose(x_train=x_train, x_test=x_test, select=["DUP002"]), "DUP002")
    assert f.evidence["exact"] >= 5
    assert [p for p in f.evidence["pairs"] if p[1] < 5] == [[200 + k, k, 1.0] for k in range(5)]


def test_dup002_natural_rate_is_information_not_a_verdict(real):
    """One near-duplicate in 300 (0.3%, CIFAR-10's own rate is 2.2%) supports no verdict."""
    x_train, x_test = real
    x_test[7] = requantize(x_train[50:51])[0]
    report = diagnose(x_train=x_train / np.float32(255), x_test=x_test / np.float32(255), select=["DUP"])
    f = only(report, "DUP002")
    assert f.severity.value == "info" and f.cause is None
    assert 7 in found_test_indices(f)
    assert report.verdict.cause == "healthy"


def test_dup002_across_scales(real):
    """Train divided by 255, test raw (the seed bug): compared on the canonical 0-255 scale."""
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    report = diagnose(x_train=x_train.astype(np.float32) / 255, x_test=x_test.astype(np.float32), select=["DUP002"])
    f = only(report, "DUP002")
    assert f.evidence["compared_as"] == "canonical 0-255 pixels"
    assert f.evidence["count"] >= 38


def test_dup002_within_test_duplicates(real):
    x_train, x_test = real
    x_test[250:260] = requantize(brighten(x_test[200:210]))
    x_test[260:265] = shift(x_test[210:215], 1, 0)
    f = only(diagnose(x_train=x_train, x_test=x_test, select=["DUP002"]), "DUP002")
    within = f.evidence["within_split"]
    assert within["images"] >= 28
    assert {(a, b) for a, b, _ in within["pairs"]} >= {(200 + k, 250 + k) for k in range(10)}
    assert f.severity.value == "info" and f.cause is None  # duplicates within test leak nothing


def test_dup002_val_split_too(real):
    x_train, x_test = real
    report = diagnose(x_train=x_train, x_val=plant(x_train, x_test), select=["DUP002"])
    assert only(report, "DUP002").split == "val"


def test_dup002_silent_on_independent_smooth_images():
    report = diagnose(x_train=smooth_images(800, seed=0), x_test=smooth_images(300, seed=1), select=["DUP"])
    assert status(report, "DUP002") == "ran"
    assert not [f.code for f in report.findings]


def test_dup002_silent_on_fixture_images(make_images):
    report = diagnose(x_train=make_images(600, "unit", seed=0), x_test=make_images(200, "unit", seed=1), select=["DUP"])
    assert status(report, "DUP002") == "ran" and not report.findings


def test_dup002_skipped_without_eval_images(real):
    x_train, _ = real
    report = diagnose(x_train=x_train, select=["DUP002"])
    c = {c.code: c for c in report.checks}["DUP002"]
    assert c.status == "skipped" and "test or validation images" in c.reason


def test_dup002_measures_accuracy_on_affected_images(real):
    """With an evaluator: accuracy on the affected images and on the rest, and the inflation they cause."""
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    y_test = np.zeros(len(x_test), np.int64)
    affected = set(range(40))

    def evaluate(x, y):  # a "model" that is right exactly on the copies of its training images
        hits = [any(np.array_equal(im, x_test[k]) for k in affected) for im in x]
        return {"loss": 1.0, "accuracy": float(np.mean(hits))}

    inputs = Inputs(splits={"train": Split("train", x_train), "test": Split("test", x_test, y_test)}, evaluate=evaluate)
    f = only(run(inputs, select_codes=["DUP002"]), "DUP002")
    m = f.evidence["measured"]
    assert m["accuracy_affected"] > 0.9 and m["accuracy_unaffected"] == 0.0
    assert m["measured_inflation"] == pytest.approx(f.evidence["fraction"] * m["accuracy_affected"])


def test_cli_reports_dup002(real, tmp_path):
    x_train, x_test = real
    path = tmp_path / "leaky.npz"
    np.savez(
        path, x_train=x_train, y_train=np.arange(600) % 10, x_test=plant(x_train, x_test), y_test=np.arange(300) % 10
    )
    code, report, _ = run_json("check", "--data", str(path), "--select", "DUP", "--fail-on", "warning")
    assert code == 1
    f = [f for f in report["findings"] if f["code"] == "DUP002"][0]
    assert f["severity"] == "warning" and f["evidence"]["count"] >= 38
    assert report["verdict"]["cause"] == "train-test-leakage"
    code, report, _ = run_json("check", "--data", str(path), "--select", "DUP")
    assert code == 0  # a warning is below the default --fail-on error


def test_dup002_channels_first(real):
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    report = diagnose(x_train=x_train.transpose(0, 3, 1, 2), x_test=x_test.transpose(0, 3, 1, 2), select=["DUP002"])
    assert only(report, "DUP002").evidence["count"] >= 38


def test_dup002_tiny_images_are_not_compared():
    """2x2 random images carry too little detail: no claim either way."""
    rng = np.random.default_rng(0)
    report = diagnose(
        x_train=rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8),
        x_test=rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8),
        select=["DUP002"],
    )
    assert status(report, "DUP002") == "ran" and not report.findings


def test_within_split_shifted_both_ways(real):
    _, x_test = real
    x_test[260:263] = shift(x_test[210:213], 0, -2)
    x_test[263:266] = shift(x_test[213:216], 2, 0)
    p = neardup.find(x_test)
    assert set(zip(p.a.tolist(), p.b.tolist())) >= {(210 + k, 260 + k) for k in range(6)}


def _pair_set(i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(i.tolist(), j.tolist()))


def test_inverted_lists_find_the_pairs_of_the_exhaustive_search(real):
    """Searched through inverted lists (`build_index`), the planted copies are the same candidates as exhaustively."""
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    sigs = neardup.signatures(x_train)
    index = neardup.build_index(sigs, lists=8)
    assert not index.exhaustive and len(index.starts) == 9
    assert sorted(index.members.tolist()) == np.flatnonzero(~sigs.flat).tolist()  # each image filed once

    def chunks():
        return ((s, x_test[s : s + 128]) for s in range(0, len(x_test), 128))

    ivf = _pair_set(*neardup.search(chunks(), index)[:2])
    full = _pair_set(*neardup.search(chunks(), neardup.build_index(sigs, lists=0))[:2])
    planted = {(t, r) for t_idx, r_idx, _ in PLANTS.values() for t, r in zip(t_idx, r_idx)}
    assert ivf <= full  # never a pair the exact search would not give
    assert len(planted & ivf) >= len(planted & full) - 1
    assert len(ivf) >= 0.9 * len(full)


def test_inverted_lists_keep_dup002_findings(real, monkeypatch):
    """DUP002 through inverted lists (as on a large training split) reports what the exhaustive search reports."""
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    exhaustive = only(diagnose(x_train=x_train, x_test=x_test, select=["DUP002"]), "DUP002").evidence
    monkeypatch.setattr(ivf, "IVF_MIN_INDEX", 100)
    monkeypatch.setattr(ivf, "IVF_LIST_SIZE", 60)  # 10 lists of the 600 training images
    listed = only(diagnose(x_train=x_train, x_test=x_test, select=["DUP002"]), "DUP002").evidence
    for key in ("count", "exact", "near_identical"):
        assert abs(listed[key] - exhaustive[key]) <= 1, key
    assert listed["count"] >= 38


def test_inverted_lists_silent_on_independent_images():
    sigs = neardup.signatures(smooth_images(800, seed=0))
    index = neardup.build_index(sigs, lists=8)
    q = neardup.signatures(smooth_images(300, seed=1))
    i, _, _ = neardup.lookup(q, index)
    assert len(i) == 0


def test_probes_searched_together_match_probes_searched_apart(real):
    """One search of the stacked probes, each with its threshold, equals one search per probe."""
    x_train, x_test = real
    x_test = plant(x_train, x_test)
    index = neardup.build_index(neardup.signatures(x_train), lists=0)
    together = _pair_set(*neardup.search([(0, x_test)], index)[:2])
    apart: set[tuple[int, int]] = set()
    for shift in ((0, 0), *neardup.PROBE_SHIFTS):
        t = neardup.PREFILTER_CORR if shift == (0, 0) else neardup.PROBE_CORR
        i, j, _ = neardup.candidates(neardup.signatures(x_test, shift=shift), index.signatures, threshold=t)
        apart |= _pair_set(i, j)
    assert together == apart


def test_small_index_is_exhaustive():
    sigs = neardup.signatures(smooth_images(50, seed=0))
    assert neardup.build_index(sigs).exhaustive


@pytest.mark.parametrize("size", [32, 30])
def test_probe_signatures_equal_shifting_first(real, size):
    """Thumbnails of every probe built from half-block sums equal those of the shifted images (up to the
    int8 rounding of a sum taken in another order); sizes the half blocks do not fit shift first."""
    x_train, _ = real
    gray = neardup._gray(x_train[:200, :size, :size], "NHWC", None)
    shifts = [(0, 0), *neardup.PROBE_SHIFTS, (2, 2), (-2, 2)]
    assert neardup._half_block_probes(size, size, shifts) == (size == 32)
    for (dy, dx), got in zip(shifts, neardup._probe_signatures(gray, shifts, True)):
        want = neardup._signatures_of_gray(neardup._shift(gray, dy, dx), True)
        assert np.abs(got.thumbs.astype(int) - want.thumbs.astype(int)).max() <= 1
        assert (got.thumbs != want.thumbs).mean() < 0.001
        np.testing.assert_array_equal(got.flat, want.flat)


def test_gray_of_bytes_equals_gray_of_floats(real):
    x_train, _ = real
    np.testing.assert_array_equal(
        neardup._gray(x_train, "NHWC", None), neardup._gray(x_train.astype(np.float32), "NHWC", None)
    )


@pytest.mark.parametrize("count", [250, 5_000, 70_000])
def test_lists_sorted_in_narrow_integers_keep_the_stable_order(count):
    from cifar_doctor.measure import ivf

    lists = np.random.default_rng(count).integers(0, count, 200_000)
    np.testing.assert_array_equal(ivf._by_list(lists, count), np.argsort(lists, kind="stable"))


def test_half_resolution_is_the_mean_of_each_block(real):
    """The screen's 2x2 block means, from strided sums, equal NumPy's mean over the blocks."""
    from cifar_doctor.measure import pixelmatch

    x_train, _ = real
    for g in (neardup.prepare(x_train[:300]), np.random.default_rng(0).normal(size=(300, 32, 32)).astype(np.float32)):
        want = g.reshape(len(g), 16, 2, 16, 2).mean(axis=(2, 4), dtype=np.float32)
        np.testing.assert_allclose(pixelmatch._half(g), want, rtol=1e-6, atol=1e-5)
