"""Check LBL012 (wrong training labels read from outputs recorded before the validation peak):
fires on many wrong labels, stays silent on clean ones, abstains on a weak model, is skipped without probes."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.records import TrainProbes

pytest.importorskip("cleanlab")
pytest.importorskip("sklearn")

K = 10
N = 1000
EPOCHS = 8
PEAK = 4  # 1-based epoch of the best validation accuracy


def curves(peak_acc: float = 0.6) -> dict[str, list[float]]:
    """Validation rises to `peak_acc` at epoch PEAK and falls while training accuracy keeps climbing."""
    val = [peak_acc * min(e, PEAK) / PEAK - 0.03 * max(0, e - PEAK) for e in range(1, EPOCHS + 1)]
    acc = [0.2 + 0.1 * e for e in range(1, EPOCHS + 1)]
    loss = [2.3 - 0.25 * e for e in range(1, EPOCHS + 1)]
    val_loss = [2.0 - 0.1 * min(e, PEAK) + 0.2 * max(0, e - PEAK) for e in range(1, EPOCHS + 1)]
    return {"loss": loss, "accuracy": acc, "val_loss": val_loss, "val_accuracy": val}


def probes(rate: float, *, skill: float = 3.0, seed: int = 0) -> tuple[TrainProbes, np.ndarray]:
    """Outputs of a model that learns the true classes first and memorizes the given labels after PEAK."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, N)
    given = truth.copy()
    flip = rng.random(N) < rate
    given[flip] = (truth[flip] + 1 + rng.integers(0, 2, flip.sum())) % K  # neighbouring classes, like cat/dog
    out = []
    for e in range(1, EPOCHS + 1):
        logits = rng.normal(0.0, 1.0, (N, K))
        logits[np.arange(N), truth] += skill * min(e, PEAK) / PEAK
        logits[np.arange(N), given] += 2.0 * max(0, e - PEAK)  # memorization after the peak
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        out.append((z / z.sum(axis=1, keepdims=True)).astype(np.float32))
    return TrainProbes(labels=given, probabilities=tuple(out), indices=np.arange(N) * 4), flip


def inputs_with(probe: TrainProbes | None, make_history, peak_acc: float = 0.6) -> Inputs:
    h = make_history(**curves(peak_acc))
    h.probes = probe
    return Inputs(history=h, classes=K)


def lbl012(inputs: Inputs):
    report = run(inputs, select_codes=["LBL012"], calibrated=False)
    return [f for f in report.findings if f.code == "LBL012"], report


def test_lbl012_fires_on_many_wrong_labels_and_lists_them(make_history):
    probe, flip = probes(0.4)
    found, report = lbl012(inputs_with(probe, make_history))
    assert len(found) == 1
    f = found[0]
    assert f.cause == "noisy-labels" and f.severity.value == "warning"
    ev = f.evidence
    assert abs(ev["estimated_wrong_fraction"] - flip.mean()) < 0.08
    assert ev["peak_epoch"] == PEAK and ev["memorization_from"] == PEAK + 1
    assert f"Memorization starts at epoch {PEAK + 1}" in f.message
    top = [s["index"] // 4 for s in ev["suspects"][:100]]  # indices are positions in the training split
    assert flip[top].mean() >= 0.9
    assert ev["suspect_count"] == len(ev["suspects"])
    assert report.verdict.cause == "noisy-labels"


def test_lbl012_silent_on_clean_labels(make_history):
    probe, _ = probes(0.0)
    found, report = lbl012(inputs_with(probe, make_history))
    assert [f.cause for f in found] == [None]
    assert found[0].evidence["estimated_wrong_fraction"] < 0.05
    assert report.verdict.cause != "noisy-labels"


def test_lbl012_does_not_judge_a_model_that_learned_little(make_history):
    probe, _ = probes(0.4, skill=0.5)
    found, _ = lbl012(inputs_with(probe, make_history, peak_acc=0.2))
    assert [f.cause for f in found] == [None]
    assert "under 3x chance" in found[0].message


def test_lbl012_does_not_judge_before_memorization_shows(make_history):
    probe, _ = probes(0.4)
    h = make_history(**{k: v[:PEAK] for k, v in curves().items()})  # validation still rising at the last epoch
    h.probes = TrainProbes(labels=probe.labels, probabilities=probe.probabilities[:PEAK])
    found, report = lbl012(Inputs(history=h, classes=K))
    assert [f.cause for f in found] == [None]
    assert "not judged" in found[0].message and found[0].evidence["memorization_from"] is None
    assert report.verdict.cause != "noisy-labels"


def test_lbl012_does_not_read_one_epochs_dip_as_memorization(make_history):
    # a clean CIFAR-10 run with unscaled test images: validation "peaks" in its fourth of five epochs and
    # dips once, which validation noise draws; the estimate of an underfit model is not judged
    probe, _ = probes(0.4)
    c = {k: v[: PEAK + 1] for k, v in curves().items()}
    h = make_history(**c)
    h.probes = TrainProbes(labels=probe.labels, probabilities=probe.probabilities[: PEAK + 1])
    found, report = lbl012(Inputs(history=h, classes=K))
    assert [f.cause for f in found] == [None]
    assert found[0].evidence["memorization_from"] is None and "for 2 epochs" in found[0].message
    assert report.verdict.cause != "noisy-labels"
    # a second epoch below the peak shows it
    c = {k: v[: PEAK + 2] for k, v in curves().items()}
    h = make_history(**c)
    h.probes = TrainProbes(labels=probe.labels, probabilities=probe.probabilities[: PEAK + 2])
    found, _ = lbl012(Inputs(history=h, classes=K))
    assert [f.cause for f in found] == ["noisy-labels"] and found[0].evidence["memorization_from"] == PEAK + 1


def test_lbl012_skipped_without_probes(make_history):
    found, report = lbl012(inputs_with(None, make_history))
    assert found == []
    (outcome,) = [o for o in report.checks if o.code == "LBL012"]
    assert outcome.status == "skipped" and "recorded during training" in outcome.reason


def test_logits_are_read_as_probabilities(make_history):
    from cifar_doctor.measure.early import early_noise

    probe, flip = probes(0.4)
    logits = tuple(np.log(np.clip(p, 1e-9, None)) + 3.0 for p in probe.probabilities)
    h = make_history(**curves())
    h.probes = TrainProbes(labels=probe.labels, probabilities=logits)
    est = early_noise(h, K)
    assert est is not None and abs(est.fraction - flip.mean()) < 0.08
