"""LOG checks: each fires, stays silent, and is skipped without a history; verdicts of the seed logs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cifar_doctor import diagnose
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.sources.logs import read_history

LOGS = Path(__file__).parent / "fixtures" / "logs"
LOG_CODES = ["LOG001", "LOG002", "LOG003", "LOG004", "LOG005", "LOG006"]


def codes(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["LOG", "FIT"]).findings}


def outcome(report, code):
    return next(c for c in report.checks if c.code == code)


# a healthy CIFAR-10 run: loss falls, val follows, honest errors cost ~2-3 nats
HEALTHY = dict(loss=[1.55, 1.20, 1.02, 0.90, 0.82], accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
               val_loss=[1.30, 1.10, 0.98, 0.92, 0.90], val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69])


@pytest.mark.parametrize("code", LOG_CODES)
def test_skipped_without_history(code):
    report = run(Inputs())
    o = outcome(report, code)
    assert o.status == "skipped" and "(history)" in o.reason


def test_healthy_history_is_silent(make_history):
    found = codes(make_history(**HEALTHY))
    assert not any(c.startswith("LOG") for c in found)
    report = diagnose(history=HEALTHY, select=["LOG", "FIT"])
    assert report.verdict.cause == "healthy"


# --- LOG001 ---------------------------------------------------------------------------
def test_log001_seed_run1_quotes_ceiling():
    report = diagnose(history=str(LOGS / "seed-question-run1-keras2.txt"))
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert "overfitting" not in report.verdict.causes
    f = next(f for f in report.findings if f.code == "LOG001")
    assert f.severity.value == "error"
    assert 15.7 <= f.evidence["val_cost_per_error"] <= 15.95
    assert "16.12" in f.explanation and "15.9" in f.explanation and "15.7-15.9" in f.explanation
    assert f.evidence["train_cost_per_error"] < 3.5


def test_log001_seed_run2_also_overfitting():
    report = diagnose(history=str(LOGS / "seed-question-run2-keras2.txt"))
    assert report.verdict.cause == "eval-input-scale-mismatch"
    assert [a["cause"] for a in report.verdict.also] == ["overfitting"]


@pytest.mark.parametrize("name", ["seed-original-keras3-verbose2.txt", "k3-scale-bug-verbose1-tty.txt",
                                  "k3-scale-bug-verbose2.txt"])
def test_log001_keras3_unclipped(name):
    report = diagnose(history=str(LOGS / name))
    assert report.verdict.cause == "eval-input-scale-mismatch"
    f = next(f for f in report.findings if f.code == "LOG001")
    assert f.evidence["val_cost_per_error"] > 20 and "unclipped" in f.explanation


def test_log001_fires_on_a_single_epoch(make_history):
    found = codes(make_history(loss=[1.7761], acc=[0.3584], val_loss=[8.6776], val_acc=[0.4489]))
    assert found["LOG001"].evidence["epoch"] == 1


def test_log001_silent_for_overfitting_with_high_val_loss(make_history):
    # strong overfitting: val loss climbs to 2.6 at val acc .70 (3.7 nats/error at the end, 2.6 at the best epoch)
    h = make_history(loss=[1.5, 1.0, 0.6, 0.3, 0.1, 0.03], accuracy=[0.45, 0.65, 0.79, 0.90, 0.97, 0.99],
                     val_loss=[1.2, 0.95, 0.9, 1.2, 1.8, 2.6], val_accuracy=[0.57, 0.66, 0.70, 0.71, 0.70, 0.70])
    found = codes(h)
    assert "LOG001" not in found and "FIT001" in found


def test_log001_silent_when_training_saturates_too(make_history):
    # raw 0-255 inputs in both splits under Keras 2: train and val both near the ceiling
    found = codes(make_history(loss=[14.3, 14.2, 14.3], acc=[0.11, 0.12, 0.11], val_loss=[14.4, 14.3, 14.4],
                               val_acc=[0.10, 0.11, 0.10]))
    assert "LOG001" not in found


# --- LOG002 -----------------------------------------------------------------------------
def test_log002_fires_on_real_dead_run():
    report = diagnose(history=str(LOGS / "k3-high-lr-verbose1-pipe.txt"))
    assert report.verdict.cause == "not-learning"
    f = next(f for f in report.findings if f.code == "LOG002")
    assert f.evidence["classes"] == 10


def test_log002_uses_given_classes(make_history):
    h = make_history(loss=[4.62, 4.60, 4.61], accuracy=[0.009, 0.011, 0.010])
    assert codes(h)["LOG002"].evidence["classes"] == 100
    assert "LOG002" not in codes(h, classes=10)


def test_log002_silent_when_learning(make_history):
    assert "LOG002" not in codes(make_history(loss=[2.30, 2.0, 1.7], accuracy=[0.10, 0.25, 0.38]))


# --- LOG003 -----------------------------------------------------------------------------
def test_log003_nan(make_history):
    f = codes(make_history(loss=[1.5, 1.2, math.nan], accuracy=[0.4, 0.5, 0.1]))["LOG003"]
    assert f.evidence["first_epoch"] == 3 and f.cause == "numerical-instability"
    assert diagnose(history={"loss": [1.5, math.inf], "accuracy": [0.4, 0.1]}).verdict.cause == "numerical-instability"


def test_log003_silent(make_history):
    assert "LOG003" not in codes(make_history(**HEALTHY))


# --- LOG004 -----------------------------------------------------------------------------
def test_log004_real_shuffled_labels():
    report = diagnose(history=str(LOGS / "k3-shuffled-val-labels-verbose2.txt"))
    assert report.verdict.cause == "eval-labels-misaligned"
    assert "overfitting" not in report.verdict.causes


def test_log004_error_with_known_classes(make_history):
    h = make_history(accuracy=[0.4, 0.6, 0.75], val_accuracy=[0.10, 0.09, 0.11], loss=[1.6, 1.1, 0.7],
                     val_loss=[3.0, 3.5, 4.1])
    assert codes(h, classes=10)["LOG004"].severity.value == "error"
    assert codes(h)["LOG004"].severity.value == "warning"  # 10 classes assumed
    assert "LOG004" not in codes(h, classes=100)  # 0.10 is 10x chance for CIFAR-100


def test_log004_silent_when_val_learns(make_history):
    assert "LOG004" not in codes(make_history(**HEALTHY))


# --- LOG005 -----------------------------------------------------------------------------
def test_log005_fires_when_evaluate_disagrees(make_history):
    h = make_history(**HEALTHY)
    h.evaluations = [{"loss": 2.31, "accuracy": 0.10}]
    f = codes(h)["LOG005"]
    assert f.severity.value == "warning" and f.evidence["evaluate"]["accuracy"] == 0.1


def test_log005_silent_on_seed_where_evaluate_equals_val():
    report = diagnose(history=str(LOGS / "seed-question-run1-keras2.txt"))
    assert "LOG005" not in report.codes()
    assert outcome(report, "LOG005").status == "ran"


# --- LOG006 -----------------------------------------------------------------------------
def test_log006_one_epoch_healthy_is_insufficient(make_history):
    report = diagnose(history={"loss": [1.55], "accuracy": [0.44], "val_loss": [1.30], "val_accuracy": [0.53]})
    assert report.verdict.cause == "insufficient-evidence"
    f = next(f for f in report.findings if f.code == "LOG006")
    assert "at least 3 epochs" in f.message and f.severity.value == "info"


def test_log006_silent_on_long_run(make_history):
    assert "LOG006" not in codes(make_history(**HEALTHY))


def test_read_seed_from_history_object_round_trip():
    h = read_history(LOGS / "seed-question-run1-keras2.txt")
    assert diagnose(history=h).verdict.cause == "eval-input-scale-mismatch"


# --- the command line: check --log ----------------------------------------------------
from conftest import run_cli, run_json  # noqa: E402

RUN1 = LOGS / "seed-question-run1-keras2.txt"


def test_cli_check_log_run1_exit_1_verdict():
    rc, data, err = run_json("check", "--log", str(RUN1))
    assert rc == 1
    assert data["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert "16.12" in data["verdict"]["explanation"]
    assert data["inputs"]["history"]["flavor"] == "keras2"


def test_cli_check_log_text_output():
    proc = run_cli("check", "--log", str(LOGS / "seed-question-run2-keras2.txt"))
    assert proc.returncode == 1
    assert "eval-input-scale-mismatch" in proc.stdout and "overfitting" in proc.stdout
    assert "LOG001" in proc.stdout and "FIT001" in proc.stdout


def test_cli_check_log_stdin():
    rc, data, _ = run_json("check", "--log", "-", input=RUN1.read_text())
    assert rc == 1 and data["verdict"]["cause"] == "eval-input-scale-mismatch"


def test_cli_check_log_csv_and_json(tmp_path):
    csv = tmp_path / "training.log"
    csv.write_text("epoch,acc,loss,val_acc,val_loss\n0,0.3584,1.7761,0.4489,8.6776\n1,0.5131,1.3670,0.4365,8.9749\n")
    rc, data, _ = run_json("check", "--log", str(csv))
    assert rc == 1 and data["verdict"]["cause"] == "eval-input-scale-mismatch"
    js = tmp_path / "history.json"
    js.write_text('{"loss": [1.55], "accuracy": [0.44], "val_loss": [1.30], "val_accuracy": [0.53]}')
    rc, data, _ = run_json("check", "--log", str(js))
    assert rc == 0 and data["verdict"]["cause"] == "insufficient-evidence"


@pytest.mark.parametrize("content", [b"", b"\x00\xff\x00garbage" * 50, b"just some text\n",
                                     b"Epoch 1/5\n 1/50 [..] - ETA: 3s - loss: 2.3"])
def test_cli_bad_logs_one_line_exit_2(tmp_path, content):
    f = tmp_path / "bad.log"
    f.write_bytes(content)
    proc = run_cli("check", "--log", str(f))
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_cli_truncated_log_still_diagnosed(tmp_path):
    f = tmp_path / "cut.log"
    f.write_text(RUN1.read_text()[:300])  # epoch 2 cut in the middle of its line
    rc, data, _ = run_json("check", "--log", str(f))
    assert rc == 1 and data["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert data["inputs"]["history"]["metrics"]


def test_check_log_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys\nfrom cifar_doctor.cli.app import main\n"
            f"sys.argv = ['cifar-doctor', 'check', '--log', {str(RUN1)!r}, '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax', 'torch'))\n"
            "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY=\n" in proc.stderr, proc.stderr[-2000:]


def test_log001_silent_when_saturated_run_is_at_chance(make_history):
    # one optimizer step per epoch on a few hundred images: huge val loss, accuracy at chance.
    # Nothing here shows an arg-max that survives on mismatched inputs.
    h = make_history(loss=[2.35, 2.30, 2.29], accuracy=[0.10, 0.11, 0.10],
                     val_loss=[14.1, 13.8, 13.5], val_accuracy=[0.09, 0.10, 0.11])
    assert "LOG001" not in codes(h)


def test_log001_fires_on_one_epoch_above_chance(make_history):
    h = make_history(loss=[1.7761], acc=[0.3584], val_loss=[8.6776], val_acc=[0.4489])
    f = codes(h)["LOG001"]
    assert f.evidence["val_cost_per_error"] == pytest.approx(8.6776 / (1 - 0.4489), rel=1e-3)
