"""Checks LOG006: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_doctor import diagnose
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.sources.logs import read_history
from conftest import run_cli, run_json  # noqa: E402

CURVE_CODES = ["LOG007", "LOG008", "LOG009", "LOG010", "LOG011", "LOG012", "LOG013", "LOG014", "FIT005", "FIT006"]


#: A healthy small-CNN run on CIFAR-10 (validation a little below training, both improving).
HEALTHY = dict(
    loss=[2.083, 1.738, 1.58, 1.454, 1.354],
    accuracy=[0.241, 0.368, 0.427, 0.473, 0.511],
    val_loss=[1.932, 1.74, 1.594, 1.551, 1.513],
    val_accuracy=[0.299, 0.376, 0.42, 0.45, 0.457],
)


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


LOG_CODES = ["LOG001", "LOG002", "LOG003", "LOG004", "LOG005", "LOG006"]


def outcome(report, code):
    return next(c for c in report.checks if c.code == code)


def codes(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["LOG", "FIT"]).findings}


# a healthy CIFAR-10 run: loss falls, val follows, honest errors cost ~2-3 nats
HEALTHY_LOG = dict(
    loss=[1.55, 1.20, 1.02, 0.90, 0.82],
    accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
    val_loss=[1.30, 1.10, 0.98, 0.92, 0.90],
    val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69],
)


LOGS = Path(__file__).parent.parent / "fixtures" / "logs"


RUN1 = LOGS / "seed-question-run1-keras2.txt"


@pytest.mark.parametrize("code", CURVE_CODES)
def test_log007_to_log014_fit005_fit006_skipped_without_history(code):
    assert next(c for c in run(Inputs()).checks if c.code == code).status == "skipped"


def test_healthy_run_is_healthy(make_history):
    assert verdict(make_history(**HEALTHY)) == "healthy"


def test_log006_a_log_of_test_accuracy_alone_is_not_healthy(make_history):
    h = make_history(val_accuracy=[0.43, 0.45, 0.46])
    assert found(h)["LOG006"].evidence["has_training"] is False
    assert verdict(h) == "insufficient-evidence"


@pytest.mark.parametrize("code", LOG_CODES)
def test_log001_to_log006_skipped_without_history(code):
    report = run(Inputs())
    o = outcome(report, code)
    assert o.status == "skipped" and "(history)" in o.reason


def test_healthy_history_is_silent(make_history):
    found = codes(make_history(**HEALTHY_LOG))
    assert not any(c.startswith("LOG") for c in found)
    report = diagnose(history=HEALTHY_LOG, select=["LOG", "FIT"])
    assert report.verdict.cause == "healthy"


# --- LOG006 -----------------------------------------------------------------------------
def test_log006_one_epoch_healthy_is_insufficient(make_history):
    report = diagnose(history={"loss": [1.55], "accuracy": [0.44], "val_loss": [1.30], "val_accuracy": [0.53]})
    assert report.verdict.cause == "insufficient-evidence"
    f = next(f for f in report.findings if f.code == "LOG006")
    assert "at least 3 epochs" in f.message and f.severity.value == "info"


def test_log006_silent_on_long_run(make_history):
    assert "LOG006" not in codes(make_history(**HEALTHY_LOG))


def test_read_seed_from_history_object_round_trip():
    h = read_history(LOGS / "seed-question-run1-keras2.txt")
    assert diagnose(history=h).verdict.cause == "eval-input-scale-mismatch"


def test_cli_check_log_run1_exit_1_verdict():
    rc, data, err = run_json("check", "--log", str(RUN1))
    assert rc == 1
    assert data["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert "16.12" in data["verdict"]["explanation"]
    assert data["inputs"]["history"]["flavor"] == "keras2"


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


@pytest.mark.parametrize(
    "content", [b"", b"\x00\xff\x00garbage" * 50, b"just some text\n", b"Epoch 1/5\n 1/50 [..] - ETA: 3s - loss: 2.3"]
)
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

    code = (
        "import sys\nfrom cifar_doctor.cli.app import main\n"
        f"sys.argv = ['cifar-doctor', 'check', '--log', {str(RUN1)!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax', 'torch'))\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY=\n" in proc.stderr, proc.stderr[-2000:]
