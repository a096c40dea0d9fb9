"""Every real training log under tests/fixtures/logs/: how it parses and what it is diagnosed as.

The logs are real console output (standalone Keras 2, tf.keras 2.21 through
`tf_keras`, Keras 3.15), CSVLogger and History JSON files; see the README
beside them. Parsing only: no training here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cifar_doctor
from cifar_doctor.findings import Severity
from cifar_doctor.measure.history import KERAS2_LOSS_CEILING, per_error_cost
from cifar_doctor.sources.logs import read_history

LOGS = Path(__file__).parent / "fixtures" / "logs"

K2 = {"loss", "acc", "val_loss", "val_acc"}
K = {"loss", "accuracy", "val_loss", "val_accuracy"}

SCALE = {"eval-input-scale-mismatch"}
HEALTHY = {"healthy", "regularization-gap"}  # regularization-gap is the benign "val beats train" note
#: A healthy pipeline stopped early: 4 epochs, training accuracy 0.29 and still rising. It has not fitted its
#: training data yet, and "train longer" (underfitting) says so.
STOPPED_EARLY = HEALTHY | {"underfitting"}
DIVERGED = {"not-learning", "unstable-training", "numerical-instability"}
#: Validation labels shuffled apart from their images, over 4 epochs of 40 optimizer steps: validation at chance
#: that few steps in is what BatchNorm statistics that have not settled give too, so the log alone hedges
#: (LOG004's `eval-distribution-shift`, naming the labels among its readings).
MISALIGNED = {"eval-labels-misaligned", "eval-distribution-shift"}

#: file -> (epochs, metric names, flavor, acceptable primary causes)
EXPECTED = {
    "seed-question-run1-keras2.txt": (5, K2, "keras2", SCALE),
    "seed-question-run2-keras2.txt": (10, K2, "keras2", SCALE),
    "seed-original-keras3-verbose2.txt": (5, K, "keras3", SCALE),
    "k3-scale-bug-verbose1-tty.txt": (3, K, "keras3", SCALE),
    "k3-scale-bug-verbose2.txt": (3, K, "keras3", SCALE),
    "k3-healthy-verbose2.txt": (4, K, "keras3", STOPPED_EARLY),
    "k3-shuffled-val-labels-verbose2.txt": (4, K, "keras3", MISALIGNED),
    "k3-high-lr-verbose1-pipe.txt": (4, K, "keras3", DIVERGED),
    "k3-overfitting-verbose2.txt": (20, K, "keras3", {"overfitting"}),
    "k3-overfitting.csv": (20, K, "unknown", {"overfitting"}),
    "k3-overfitting.json": (20, K, "unknown", {"overfitting"}),
    "k3-underfitting-verbose2.txt": (40, K, "keras3", {"underfitting"}),
    "k3-underfitting-near-chance-verbose2.txt": (15, K, "keras3", {"underfitting"}),
    "tfk-scale-bug-verbose1-pipe.txt": (3, K, "keras2", SCALE),
    "tfk-scale-bug-verbose1-tty.txt": (3, K, "keras2", SCALE),
    "tfk-scale-bug-verbose2.txt": (3, K2, "keras2", SCALE),
    "tfk-scale-bug-eager-verbose2.txt": (3, K, "keras2", SCALE),
    "tfk-scale-bug-validation-split-verbose2.txt": (4, K, "keras2", SCALE),
    "tfk-healthy-verbose2.txt": (4, K, "keras2", STOPPED_EARLY),
    "tfk-shuffled-val-labels-verbose2.txt": (4, K, "keras2", MISALIGNED),
    "tfk-high-lr-verbose1-pipe.txt": (4, K2, "keras2", DIVERGED),
    # one line per optimizer step, no validation: nothing to judge a gap on, and its batch noise is not instability
    "k3-per-step-running-means.txt": (90, {"loss", "accuracy"}, "unknown", {"insufficient-evidence"}),
}


def fixture_files() -> list[str]:
    return sorted(p.name for p in LOGS.iterdir() if p.suffix in (".txt", ".csv", ".json"))


def test_every_fixture_has_an_expectation():
    assert fixture_files() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parse(name):
    epochs, metrics, flavor, _ = EXPECTED[name]
    h = read_history(LOGS / name)
    assert h.epochs == epochs
    assert set(h.metrics) == metrics
    assert h.flavor == flavor
    assert not h.truncated
    assert all(len(v) == epochs for v in h.metrics.values())
    assert all(0.0 <= a <= 1.0 for a in h.acc + h.val_acc)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name):
    causes = EXPECTED[name][3]
    report = cifar_doctor.diagnose(history=LOGS / name)
    assert report.verdict.cause in causes, [(f.code, f.severity.value, f.message) for f in report.findings]
    if causes is HEALTHY or causes is STOPPED_EARLY:
        assert not [f.code for f in report.findings if f.severity.rank >= Severity.WARNING.rank]


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.endswith(".txt")])
def test_last_epoch_values_are_the_printed_val_line(name):
    """The final state of each epoch is the line with val_ metrics, never a mid-epoch redraw."""
    h = read_history(LOGS / name)
    text = (LOGS / name).read_bytes().decode()
    key = h.val_acc_key
    for vl, va in zip(h.val_loss, h.val_acc):
        assert f"val_loss: {vl:.4f} - {key}: {va:.4f}" in text or f"{key}: {va:.4f} - val_loss: {vl:.4f}" in text


def test_csv_json_and_console_of_one_run_agree():
    console = read_history(LOGS / "k3-overfitting-verbose2.txt")
    csv = read_history(LOGS / "k3-overfitting.csv")
    js = read_history(LOGS / "k3-overfitting.json")
    assert csv.metrics == js.metrics  # CSVLogger and History.history hold the same float32 values
    for k in K:  # the console rounds to 4 digits
        assert console.metrics[k] == pytest.approx(js.metrics[k], abs=6e-5)
    assert json.loads((LOGS / "k3-overfitting.json").read_text())["val_loss"] == js.val_loss


# --- the loss regime: clipped (standalone Keras 2) or from logits (tf.keras 2.x, Keras 3) ---------
def _log001(name):
    report = cifar_doctor.diagnose(history=LOGS / name)
    found = [f for f in report.findings if f.code == "LOG001"]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("name", ["seed-question-run1-keras2.txt", "seed-question-run2-keras2.txt"])
def test_standalone_keras2_scale_bug_sits_under_the_clipping_ceiling(name):
    h = read_history(LOGS / name)
    costs = [per_error_cost(vl, va) for vl, va in zip(h.val_loss, h.val_acc)]
    assert all(0.8 * KERAS2_LOSS_CEILING < c <= KERAS2_LOSS_CEILING * 1.01 for c in costs)
    f = _log001(name)
    assert f.evidence["clipped"] is True and "clipped at 1e-7" in f.explanation


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.startswith("tfk-scale-bug") and "split" not in n])
def test_tfkeras2_scale_bug_is_unclipped(name):
    """tf.keras 2.x takes the logits behind a softmax output: the bug costs far more than 16.12 nats per error."""
    h = read_history(LOGS / name)
    costs = [per_error_cost(vl, va) for vl, va in zip(h.val_loss, h.val_acc)]
    assert min(costs) > 2 * KERAS2_LOSS_CEILING
    f = _log001(name)
    assert f.evidence["clipped"] is False and f.evidence["flavor"] == "keras2"
    assert "unclipped" in f.explanation and f.split == "val"


def test_validation_split_scale_bug_is_seen_in_printed_evaluate():
    """validation_split takes correctly scaled training images; only evaluate(x_test) shows the bug."""
    name = "tfk-scale-bug-validation-split-verbose2.txt"
    h = read_history(LOGS / name)
    assert max(h.val_loss) < 3 and len(h.evaluations) == 1  # "Test loss: ..." / "Test accuracy: ..."
    ev = h.evaluations[0]
    assert ev["loss"] > 50 and 0 < ev["accuracy"] < 1
    f = _log001(name)
    assert f.split == "test" and f.evidence["reference"] == "validation"
    assert f.evidence["evaluate_cost_per_error"] == pytest.approx(per_error_cost(ev["loss"], ev["accuracy"]), rel=1e-3)


# --- evaluate() output as users print it ----------------------------------------------------------
@pytest.mark.parametrize(
    "name, style",
    [
        ("tfk-healthy-verbose2.txt", "list"),  # print(model.evaluate(x, y, verbose=0))
        ("tfk-scale-bug-verbose2.txt", "bar and two lines"),  # evaluate bar + print('loss: ', l, '\naccuracy: ', a)
        ("k3-overfitting-verbose2.txt", "bar and two lines"),
    ],
)
def test_printed_evaluate_matches_last_validation(name, style):
    h = read_history(LOGS / name)
    assert len(h.evaluations) == 1, style
    ev = h.evaluations[0]
    assert ev["loss"] == pytest.approx(h.val_loss[-1], rel=1e-3)
    assert ev["accuracy"] == pytest.approx(h.val_acc[-1], abs=1e-3)


def test_first_batch_loss_gives_classes_in_verbose1_logs():
    for name in ("tfk-scale-bug-verbose1-pipe.txt", "tfk-scale-bug-verbose1-tty.txt", "k3-scale-bug-verbose1-tty.txt"):
        assert read_history(LOGS / name).classes == 10


def test_overfitting_finding_numbers():
    report = cifar_doctor.diagnose(history=LOGS / "k3-overfitting-verbose2.txt")
    (f,) = [f for f in report.findings if f.code == "FIT001"]
    h = read_history(LOGS / "k3-overfitting-verbose2.txt")
    best = min(range(h.epochs), key=lambda i: h.val_loss[i])
    assert f.evidence["best_val_loss_epoch"] == best + 1 < h.epochs - 5
    assert f.evidence["val_loss_rise"] > 0.2 and f.evidence["train_loss_last"] < f.evidence["train_loss_at_best"]


def test_underfitting_near_chance_is_not_called_overfitting():
    """Val accuracy wobbles on 500 images while val_loss still falls: no overfitting turn."""
    h = read_history(LOGS / "k3-underfitting-near-chance-verbose2.txt")
    assert h.val_loss[-1] == min(h.val_loss) and max(h.val_acc) - h.val_acc[-1] > 0.02
    report = cifar_doctor.diagnose(history=LOGS / "k3-underfitting-near-chance-verbose2.txt")
    assert "FIT001" not in {f.code for f in report.findings}


def test_accuracy_dip_needs_val_loss_to_stop_improving(make_history):
    """FIT001: a val accuracy drop counts only once val_loss has stopped setting minima."""
    acc = [0.30, 0.40, 0.50, 0.60, 0.70]
    dip = [0.40, 0.45, 0.44, 0.42, 0.41]
    falling = make_history(
        loss=[1.9, 1.6, 1.4, 1.2, 1.0], accuracy=acc, val_loss=[1.80, 1.70, 1.65, 1.62, 1.60], val_accuracy=dip
    )
    stalled = make_history(
        loss=[1.9, 1.6, 1.4, 1.2, 1.0], accuracy=acc, val_loss=[1.80, 1.60, 1.61, 1.61, 1.62], val_accuracy=dip
    )
    assert "FIT001" not in {f.code for f in cifar_doctor.diagnose(history=falling).findings}
    assert "FIT001" in {f.code for f in cifar_doctor.diagnose(history=stalled).findings}
