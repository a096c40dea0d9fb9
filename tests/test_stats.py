"""cifar_doctor.measure.stats: chunked statistics and scheme inference."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from cifar_doctor.errors import InputError
from cifar_doctor.measure import stats
from cifar_doctor.measure.stats import image_stats, infer_scheme


@pytest.mark.parametrize(
    "scale, scheme",
    [
        ("uint8", "raw-uint8"),
        ("raw-float", "raw-float"),
        ("unit", "unit"),
        ("symmetric", "symmetric"),
        ("standardized", "standardized"),
        ("imagenet", "imagenet"),
    ],
)
def test_scheme_of_each_conftest_scale(make_images, scale, scheme):
    st = image_stats(make_images(300, scale=scale))
    assert st.scheme == scheme, st.scheme_detail
    assert st.scheme_detail


def test_more_schemes(make_images):
    x = make_images(300).astype(np.float32)
    caffe = x[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype=np.float32)
    assert image_stats(caffe).scheme == "centered-255"
    assert image_stats(x / 255 / 255).scheme == "double-scaled"
    flat = x.reshape(len(x), -1)
    per_image = ((flat - flat.mean(1, keepdims=True)) / flat.std(1, keepdims=True)).reshape(x.shape)
    st = image_stats(per_image)
    assert st.scheme == "standardized" and "per-image" in st.scheme_detail
    assert st.per_image_standardized > 0.99
    assert image_stats(x / 64).scheme == "unknown"  # 0..4: no common scheme
    assert image_stats(np.zeros((4, 8, 8, 3), np.float32)).scheme == "unknown"
    # a global (not per-channel) standardization is still standardized
    assert image_stats((x - x.mean()) / x.std()).scheme == "standardized"


def test_per_channel_values_match_numpy(make_images, monkeypatch):
    monkeypatch.setattr(stats, "CHUNK_IMAGES", 37)  # several chunks plus a remainder
    x = make_images(250, scale="unit")
    st = image_stats(x)
    ref = x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(st.mean, ref.mean(0), rtol=1e-6)
    np.testing.assert_allclose(st.std, ref.std(0), rtol=1e-5)
    np.testing.assert_allclose(st.min, ref.min(0))
    np.testing.assert_allclose(st.max, ref.max(0))
    assert st.n == 250 and st.shape == (250, 32, 32, 3) and st.dtype == "float32"
    assert st.channel_axis == -1 and st.channels == 3 and st.layout == "NHWC"
    img_means = x.reshape(250, -1, 3).astype(np.float64).mean(1)
    np.testing.assert_allclose(st.image_mean_std, img_means.std(0), rtol=1e-5)


def test_variance_has_no_cancellation_far_from_zero(make_images):
    x = make_images(100, scale="unit").astype(np.float32) + 1000.0
    ref = x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(image_stats(x).std, ref.std(0), rtol=1e-3)


def test_layouts(make_images):
    x = make_images(40)
    nchw = np.transpose(x, (0, 3, 1, 2))
    a, b = image_stats(x), image_stats(nchw)
    assert (b.layout, b.channel_axis, b.channels) == ("NCHW", 1, 3)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    gray = image_stats(x[..., 0])
    assert (gray.layout, gray.channels) == ("NHW", 1)
    assert image_stats(x[..., :1]).channels == 1
    assert image_stats(x.reshape(40, -1)).layout == "flat"


def test_nonfinite_and_constant_images(make_images):
    x = make_images(60, scale="unit").copy()
    x[3, 0, 0, 0] = np.nan
    x[3, 1, 0, 0] = np.nan
    x[7, 5, 5, 2] = np.inf
    x[10] = 0.25
    x[42] = 0.0
    st = image_stats(x)
    assert (st.nan_count, st.inf_count) == (2, 1)
    assert st.nonfinite_images == 2 and st.nonfinite_indices == [3, 7]
    assert st.constant_images == 2 and st.constant_indices == [10, 42]
    assert st.scheme == "unit"  # judged on the finite values
    flat = x.reshape(-1, 3).astype(np.float64)
    expected = [flat[np.isfinite(flat[:, c]), c].mean() for c in range(3)]
    np.testing.assert_allclose(st.mean, expected, rtol=1e-5)


def test_integer_valued(make_images):
    x = make_images(30)
    assert image_stats(x).integer_valued
    assert image_stats(x.astype(np.float32)).integer_valued
    assert not image_stats(x.astype(np.float32) / 255).integer_valued


@pytest.mark.parametrize("threads", [1, 2])
def test_no_full_size_copy(make_images, monkeypatch, threads):
    from cifar_doctor.runners import base

    monkeypatch.setattr(base, "available_cores", lambda: threads)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(4000, 32, 32, 3), dtype=np.uint8).astype(np.float32) / 255
    tracemalloc.start()
    try:
        image_stats(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one 1024-image work buffer (12.6 MB) per thread plus small per-image arrays, against 49 MB of data
    buffer = 1024 * 32 * 32 * 3 * 4
    assert peak < threads * buffer + 0.15 * x.nbytes, f"peak {peak / 2**20:.1f} MiB for {x.nbytes / 2**20:.1f} MiB"


def test_bad_input():
    with pytest.raises(InputError, match="Invalid image array"):
        image_stats(np.arange(10))
    with pytest.raises(InputError):
        image_stats(np.array([["a", "b"]]))


def test_empty():
    st = image_stats(np.zeros((0, 32, 32, 3), np.float32))
    assert st.n == 0 and st.scheme == "unknown"


def test_infer_scheme_is_pure_on_numbers(make_images):
    st = image_stats(make_images(50, scale="unit"))
    assert infer_scheme(st)[0] == "unit"
    st.min, st.max = [0.0] * 3, [255.0] * 3
    st.std = [60.0] * 3
    assert infer_scheme(st)[0] == "raw-float"


def test_canonical_affine(make_images):
    x = make_images(20)
    for scale in ("uint8", "unit", "symmetric", "imagenet"):
        xs = make_images(20, scale=scale)
        k, c = image_stats(xs).canonical_affine()
        back = np.rint(xs.astype(np.float64) * k + c)
        np.testing.assert_array_equal(back, x)
    assert image_stats(make_images(20, scale="standardized")).canonical_affine() is None


def test_real_sample(sample_arrays):
    x = sample_arrays["x_train"]
    st = image_stats(x)
    assert st.scheme == "raw-uint8" and st.constant_images == 0
    assert image_stats(x.astype(np.float32) / 255).scheme == "unit"
    # CIFAR-10 channel means on the 0-255 scale: about 125, 123, 114
    np.testing.assert_allclose(st.mean, [125.3, 123.0, 113.9], atol=4)


def test_scale_ratio_nominal_for_known_schemes_else_measured(make_images):
    from cifar_doctor.measure.stats import image_stats, scale_ratio

    x = make_images(60)
    unit, raw = image_stats(x / 255.0), image_stats(x.astype("float32"))
    assert scale_ratio(unit, raw) == 255.0 and scale_ratio(unit, unit) == 1.0
    std = x.astype("float32").std()
    odd = image_stats((x.astype("float32") - 100.0) / std * 3.0)  # no scheme with fixed constants
    assert scale_ratio(raw, odd) == pytest.approx(3.0 / std, rel=0.01)
