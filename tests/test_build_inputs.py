"""`api.build_inputs` and `diagnose` read files themselves; inputs a user has are not refused."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.api import build_inputs, diagnose
from cifar_doctor.errors import UsageError
from cifar_doctor.sources.datasets import load_data_path
from conftest import SAMPLE, run_json

#: Checks that need an evaluation split (images or labels), so skipped for a training split alone.
NEEDS_EVAL = ("PRE001", "LBL005")


@pytest.fixture
def train_only(tmp_path, make_images, make_labels):
    path = tmp_path / "train-only.npz"
    np.savez(path, x_train=make_images(300, "uint8", seed=3), y_train=make_labels(300, seed=3))
    return path


def test_an_npz_of_the_training_split_alone_loads(train_only):
    loaded = load_data_path(train_only)
    assert sorted(loaded.arrays) == ["x_train", "y_train"]


def test_diagnose_reads_a_data_path_and_skips_what_needs_an_eval_split(train_only):
    report = diagnose(data=train_only)
    outcomes = {c.code: c for c in report.checks}
    for code in NEEDS_EVAL:
        assert outcomes[code].status == "skipped"
        assert "x_test or x_val" in outcomes[code].reason or "y_test or y_val" in outcomes[code].reason
    assert outcomes["DAT001"].status == "ran"  # a training-split check
    assert report.to_dict()["inputs"]["data"]["kind"] == "npz"


def test_cli_check_of_a_training_split_alone(train_only):
    code, doc, _ = run_json("check", "--data", str(train_only))
    assert code in (0, 1)
    checks = {c["code"]: c for c in doc["checks"]}
    for check in NEEDS_EVAL:
        assert checks[check]["status"] == "skipped" and "--data" in checks[check]["reason"]
    assert checks["DAT001"]["status"] == "ran"
    assert sorted(doc["inputs"]["splits"]) == ["train"]


def test_build_inputs_limit_and_provenance():
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    inputs = build_inputs(data=SAMPLE, limit=50)
    assert len(inputs.splits["train"].x) == 50 and len(inputs.splits["test"].x) == 50
    assert inputs.provenance["data"]["kind"] == "npz"
    assert build_inputs(sources={"x": 1}).provenance == {"x": 1}  # the former keyword still works


def test_build_inputs_errors_name_the_parameter():
    with pytest.raises(UsageError) as exc:
        build_inputs(limit=0)
    assert "argument `limit`" in exc.value.line() and "`--limit`" in exc.value.line({"limit": "--limit"})
    with pytest.raises(UsageError, match="argument `log`"):
        build_inputs(log="train.log", history={"loss": [1.0]})
