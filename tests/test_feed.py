"""How `compare` feeds a recipe: the batch plan, images scaled on demand, the tf.data pipelines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cifar_doctor.counterfactual import run_counterfactuals
from cifar_doctor.findings import Fix
from cifar_doctor.inputs import Inputs, Split
from cifar_doctor.mapped import MappedImages, is_lazy
from cifar_doctor.measure.stats import image_stats
from cifar_doctor.registry import get, load_all
from cifar_doctor.training.feed import MIN_BATCH_SIZE, MIN_STEPS_PER_EPOCH, TrainingPlan, plan_batches, small_data_batch
from cifar_doctor.training.recipes import RECIPES

ORIGINAL_BYTES_PER_IMAGE = 327_690 * 12  # feed.activation_bytes of `original`: its activation values x 12 bytes


@pytest.fixture
def raw(make_images, make_labels):
    return {
        "x_train": make_images(120, scale="uint8", seed=1),
        "y_train": make_labels(120, seed=1),
        "x_test": make_images(40, scale="uint8", seed=2),
        "y_test": make_labels(40, seed=2),
    }


# --- the batch plan ------------------------------------------------------------------------


def test_small_data_scales_the_batch_to_the_minimum_steps():
    assert small_data_batch(500, 2500) == 50 and small_data_batch(1000, 2500) == 50
    assert math.ceil(2500 / small_data_batch(500, 2500)) >= MIN_STEPS_PER_EPOCH
    assert small_data_batch(1000, 2000) == 40  # --limit 2000: 50 steps


def test_full_data_and_small_batches_are_left_alone():
    assert small_data_batch(1000, 50000) == 1000 and small_data_batch(500, 50000) == 500
    assert small_data_batch(32, 2500) == 32  # keras-example already has 79 steps


def test_tiny_data_stops_at_the_smallest_batch():
    assert small_data_batch(500, 300) == MIN_BATCH_SIZE


def test_plan_reports_what_was_scaled_and_why():
    plan = plan_batches(500, 5, 2500)
    d = plan.to_dict()
    assert (d["batch_size"], d["steps_per_epoch"], d["optimizer_steps"]) == (50, 50, 250)
    assert d["scaled_from"] == {"batch_size": 500, "steps_per_epoch": 5} and "2500 training images" in d["reason"]
    assert d["batch_size_source"] == "scaled"


def test_given_batch_and_full_data_are_not_scaled():
    assert plan_batches(500, 5, 2500, given=100).to_dict()["scaled_from"] is None
    assert plan_batches(500, 5, 2500, given=100).batch_size == 100
    full = plan_batches(1000, 5, 50000).to_dict()
    assert full["scaled_from"] is None and full["reason"] is None and full["steps_per_epoch"] == 50


def test_global_batch_is_per_replica_times_replicas():
    plan = plan_batches(1000, 1, 50000, replicas=2).to_dict()
    assert (plan["global_batch_size"], plan["per_replica_batch_size"]) == (1000, 500)
    odd = plan_batches(25, 1, 50000, given=25, replicas=2)
    assert odd.batch_size == 26 and odd.to_dict()["per_replica_batch_size"] == 13


def test_a_batch_too_large_for_memory_is_accumulated_not_shrunk():
    plan = plan_batches(1000, 5, 50000, activation_bytes_per_image=ORIGINAL_BYTES_PER_IMAGE)
    assert plan.batch_size == 1000 and plan.accumulation > 1 and 1000 % plan.accumulation == 0
    assert plan.steps_per_epoch == 50 and plan.micro_steps_per_epoch == 50 * plan.accumulation
    small = plan_batches(1000, 5, 2500, activation_bytes_per_image=ORIGINAL_BYTES_PER_IMAGE)
    assert small.accumulation == 1  # batch 50 fits


# --- images scaled on demand ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_fed_images_hold_exactly_the_preprocessed_values(name, raw):
    rec = RECIPES[name]
    fed, eager = rec.feed(raw, limit=100), rec.preprocess(raw, limit=100)
    for key in ("x_train", "x_test"):
        x = fed[key]
        assert is_lazy(x) and x.shape == eager[key].shape and x.dtype == np.float32
        assert x.nbytes == eager[key].nbytes
        np.testing.assert_array_equal(np.asarray(x), eager[key])
        np.testing.assert_array_equal(x[3:17], eager[key][3:17])
        np.testing.assert_array_equal(x[[5, 1, 9]], eager[key][[5, 1, 9]])
        np.testing.assert_array_equal(x[(slice(None), 3, 4, 0)], eager[key][:, 3, 4, 0])
        np.testing.assert_array_equal(x[-1], eager[key][-1])
    for key in ("y_train", "y_test"):
        np.testing.assert_array_equal(fed[key], eager[key])


def test_per_image_mapping_applies_only_the_first_index_first():
    src = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    x = MappedImages(src, lambda a: a[..., ::-1].astype(np.float32), elementwise=False)
    np.testing.assert_array_equal(x[(slice(None), 0, 0, 0)], src[:, 0, 0, 2])
    np.testing.assert_array_equal(x[1], src[1][..., ::-1])
    np.testing.assert_array_equal(x.head(1)[0], src[0][..., ::-1])


def test_statistics_of_fed_images_equal_those_of_the_array(raw):
    fed, eager = RECIPES["original"].feed(raw), RECIPES["original"].preprocess(raw)
    for key in ("x_train", "x_test"):
        a, b = image_stats(fed[key]), image_stats(eager[key])
        assert a.scheme == b.scheme and a.mean == b.mean and a.std == b.std and a.max == b.max


def test_data_checks_read_fed_images_as_arrays(raw):
    fed, eager = RECIPES["original"].feed(raw), RECIPES["original"].preprocess(raw)
    load_all()
    check = get("PRE001")

    def findings(arrays):
        inputs = Inputs(
            splits={
                "train": Split("train", arrays["x_train"], arrays["y_train"]),
                "test": Split("test", arrays["x_test"], arrays["y_test"]),
            }
        )
        return [(f.code, f.message) for f in check(inputs)]

    assert findings(fed) == findings(eager) and findings(fed)


def test_counterfactual_streams_the_fix_and_measures_the_same(raw):
    fed, eager = RECIPES["original"].feed(raw), RECIPES["original"].preprocess(raw)
    seen = []

    def evaluate(x, y):  # a model that reads in chunks, as the real evaluator does
        seen.append(type(x).__name__)
        total = sum(float(np.asarray(x[i : i + 16], dtype=np.float64).sum()) for i in range(0, len(x), 16))
        return {"loss": total / len(x), "accuracy": 0.5}

    fix = Fix(
        "Divide the test images by 255",
        transform={"split": "test", "scale": 1 / 255, "offset": 0.0, "expression": "x_test / 255"},
    )
    load_all()
    finding = get("PRE001").finding("error", "m", fix=fix)
    results = []
    for arrays in (fed, eager):
        inputs = Inputs(splits={"test": Split("test", arrays["x_test"], arrays["y_test"])}, evaluate=evaluate)
        results.append(run_counterfactuals(inputs, [finding])[0])
    assert results[0].before == results[1].before and results[0].after == results[1].after
    assert "MappedImages" in seen and "ndarray" in seen  # streamed for the fed images


# --- the tf.data pipelines ------------------------------------------------------------------


@pytest.mark.tf
def test_dataset_feeds_the_preprocessed_values_once_per_epoch(raw):
    pytest.importorskip("tensorflow")
    from cifar_doctor.training.feed import dataset

    rec = RECIPES["original"]
    fed, eager = rec.feed(raw), rec.preprocess(raw)
    plan = TrainingPlan(40, 1, 120, accumulation=4)
    batches = list(dataset(fed["x_train"], fed["y_train"], plan, shuffle=True, seed=3).as_numpy_iterator())
    assert len(batches) == plan.micro_steps_per_epoch and all(len(b[0]) == 10 for b in batches)
    xs = np.concatenate([b[0] for b in batches])
    order = np.lexsort(xs.reshape(len(xs), -1).T)
    ref = eager["x_train"]
    np.testing.assert_array_equal(xs[order], ref[np.lexsort(ref.reshape(len(ref), -1).T)])
    test = list(dataset(fed["x_test"], fed["y_test"], TrainingPlan(16, 1, 40), shuffle=False).as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([b[0] for b in test]), eager["x_test"])  # raw 0-255, as fed


def test_a_recipe_with_its_own_preprocess_is_fed_its_arrays(raw):
    from dataclasses import replace

    from cifar_doctor.training.compare import feed_arrays
    from cifar_doctor.training.recipes import Recipe

    class Halved(Recipe):
        def preprocess(self, arrays, *, limit=None, seed=0):
            out = super().preprocess(arrays, limit=limit, seed=seed)
            return dict(out, x_train=out["x_train"] / 2)

    base = RECIPES["fixed"]
    mine = Halved(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    fed = feed_arrays(mine, raw, limit=None, seed=0)
    assert not is_lazy(fed["x_train"]) and float(fed["x_train"].max()) <= 0.5
    assert is_lazy(feed_arrays(replace(base), raw, limit=None, seed=0)["x_train"])
