"""Outputs on a fixed training sample, recorded at each epoch end (`History.probes`): by DoctorCallback
and compare, with the images' positions in the user's training split."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cifar_doctor.records import TrainProbes
from cifar_doctor.training.compare import _in_data_order
from cifar_doctor.training.recipe import stratified_indices

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def probes_of(labels: np.ndarray, epochs: int = 2, k: int = 10) -> TrainProbes:
    p = np.full((len(labels), k), 1.0 / k, dtype=np.float32)
    return TrainProbes(labels=labels, probabilities=(p,) * epochs)


def test_compare_probes_name_the_images_of_the_data_not_of_the_subset():
    y = np.random.default_rng(0).integers(0, 10, 500)
    idx = stratified_indices(y, 120, seed=3)
    got = _in_data_order(probes_of(y[idx[:50]]), {"y_train": y}, limit=120, seed=3)
    assert np.array_equal(got.indices, idx[:50])
    # the whole split, in order
    whole = _in_data_order(probes_of(y[:50]), {"y_train": y}, limit=None, seed=0)
    assert np.array_equal(whole.indices, np.arange(50))


def test_compare_probes_of_another_pipeline_keep_their_positions():
    y = np.random.default_rng(0).integers(0, 10, 500)
    foreign = probes_of((y[:50] + 1) % 10)  # a recipe that fed its own subset: the labels do not match
    assert _in_data_order(foreign, {"y_train": y}, limit=120, seed=3).indices is None


@pytest.mark.training
def test_callback_records_the_outputs_on_its_training_sample_each_epoch():
    keras = pytest.importorskip("keras")
    from cifar_doctor.keras import DoctorCallback

    rng = np.random.default_rng(0)
    x = rng.random((600, 8, 8, 3), dtype=np.float32)
    y = rng.integers(0, 4, 600)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = DoctorCallback(train_sample=(x, y), validation_data=(x[:100], y[:100]), warn=False, sample_size=300)
    model.fit(x, y, epochs=3, batch_size=100, verbose=0, validation_data=(x[:100], y[:100]), callbacks=[doctor])
    probes = doctor._history_object().probes
    assert probes is not None and probes.epochs == 3
    assert all(p.shape == (300, 4) and np.allclose(p.sum(axis=1), 1.0, atol=1e-4) for p in probes.probabilities)
    # the sample is every 2nd image of the 600: its i-th image is the user's (2 i)-th
    assert np.array_equal(probes.indices, np.arange(300) * 2)
    assert np.array_equal(probes.labels, y[::2])
    assert "LBL012" in {o.code for o in doctor.report.checks}
