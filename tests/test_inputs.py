"""`Inputs`: K resolved once with its provenance; caches keyed by what they depend on."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.errors import UsageError
from cifar_doctor.inputs import ClassCount, Inputs, ModelInfo, Split, check_classes


def test_class_count_provenance_in_order(make_labels, make_history):
    onehot = make_labels(40, classes=4, one_hot=True)
    logged = make_history(loss=[1.0])
    logged.classes = 7
    inputs = Inputs(
        splits={"train": Split("train", None, onehot)}, model=ModelInfo(output_units=5), history=logged, classes=3
    )
    assert inputs.class_count == ClassCount(3, "given")
    inputs.classes = None
    assert inputs.class_count == ClassCount(5, "model") and inputs.num_classes == 5
    inputs.model = ModelInfo(output_units=1)  # one sigmoid unit tells no K
    assert inputs.class_count == ClassCount(4, "labels")
    inputs.splits = {}
    assert inputs.class_count == ClassCount(7, "log")
    inputs.history = None
    assert inputs.class_count == ClassCount(None, None)
    assert inputs.describe()["classes_from"] is None


def test_label_cache_is_keyed_by_classes():
    split = Split("train", None, np.array([0, 1, 2, 3]))
    assert split.labels(10).given_classes == 10
    assert split.labels(4).given_classes == 4  # not the first answer again
    assert split.labels(10) is split.labels(10)


@pytest.mark.parametrize("value", [1, 0, 2.5, True, "10"])
def test_check_classes_rejects_non_integers_below_2(value):
    with pytest.raises(UsageError, match="argument `classes`"):
        check_classes(value)


def test_check_classes_accepts_numpy_integers():
    assert check_classes(np.int64(10)) == 10 and check_classes(None) is None
