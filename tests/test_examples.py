"""Every script in `examples/` runs on small data and prints what its header says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE

#: Subprocesses of the CLI: run by CI, skipped by the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples"
#: Small runs: enough images for the checks, a few seconds of training on a CPU.
LIMIT = "500"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        NO_COLOR="1",
        COLUMNS="120",
        CIFAR_DOCTOR_OFFLINE="1",
        PYTHON=sys.executable,
        PATH=bindir + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra)
    return env


def _run(cmd: list[str], timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(**env), timeout=timeout)


def _python(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, str(EXAMPLES / script), *args], **env)


@pytest.fixture(scope="module", autouse=True)
def _sample_present():
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")


#: The runnable examples tested here (examples/my_recipe.py is a `compare` recipe, tested with compare).
SCRIPTS = ("diagnose_my_arrays.py", "pipe_json.sh", "seed_fixed.py", "seed_original.py", "watch_training.sh")


def test_every_example_has_expected_output():
    for name in SCRIPTS:
        text = (EXAMPLES / name).read_text()
        assert "Expected output" in text or "expected output" in text.lower(), name
        assert (EXAMPLES / (Path(name).stem + ".txt")).exists(), name


@pytest.mark.tf
@pytest.mark.training
def test_seed_original_warns_and_names_the_cause():
    proc = _python(
        "seed_original.py",
        "--data",
        str(SAMPLE),
        "--limit",
        LIMIT,
        "--epochs",
        "1",
        "--batch-size",
        "250",
        "--verbose",
        "2",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the live alert on stderr, before the first batch, with the scale ratio
    assert "(before the first batch): " in proc.stderr and "cifar-doctor ✖ PRE001" in proc.stderr
    assert "255" in proc.stderr
    # Keras' own per-epoch line survives on stdout, then the question's prints and the verdict
    assert "val_accuracy: " in proc.stdout and "val_loss: " in proc.stdout
    assert "accuracy: " in proc.stdout
    assert "verdict: eval-input-scale-mismatch" in proc.stdout


@pytest.mark.tf
@pytest.mark.training
def test_seed_original_limit_from_environment_and_stop_on_error():
    proc = _python(
        "seed_original.py",
        "--data",
        str(SAMPLE),
        "--epochs",
        "3",
        "--batch-size",
        "250",
        "--verbose",
        "0",
        "--stop-on-error",
        CIFAR_DOCTOR_EXAMPLE_LIMIT=LIMIT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Stopping training (stop_on='error')" in proc.stderr
    assert "verdict: eval-input-scale-mismatch" in proc.stdout


@pytest.mark.tf
@pytest.mark.training
def test_seed_fixed_no_warning():
    # three epochs (the curve checks need them) of ten steps: one step per epoch is no training run
    proc = _python(
        "seed_fixed.py",
        "--data",
        str(SAMPLE),
        "--limit",
        LIMIT,
        "--epochs",
        "3",
        "--batch-size",
        "50",
        "--verbose",
        "0",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cifar-doctor:" not in proc.stderr
    verdict = [ln for ln in proc.stdout.splitlines() if ln.startswith("verdict: ")]
    assert verdict and verdict[0].split()[1] in ("healthy", "overfitting", "underfitting", "regularization-gap"), (
        proc.stdout
    )
    assert "train accuracy, inference mode: [" in proc.stdout


def test_diagnose_my_arrays_default_sample():
    proc = _python("diagnose_my_arrays.py")
    assert proc.returncode in (0, 1), proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == "verdict: input-not-normalized", proc.stdout[:2000]


def test_diagnose_my_arrays_seed_bug_and_json(tmp_path):
    proc = _python("diagnose_my_arrays.py", str(SAMPLE), "--seed-bug", "--loss", "categorical_crossentropy")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[0] == "verdict: eval-input-scale-mismatch"
    proc = _python("diagnose_my_arrays.py", "--seed-bug", "--json")
    assert json.loads(proc.stdout)["verdict"]["cause"] == "eval-input-scale-mismatch"


def test_diagnose_my_arrays_bad_path_is_one_line():
    proc = _python("diagnose_my_arrays.py", "no/such/file.npz")
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("jq", ["jq", "/nonexistent/jq"], ids=["jq", "python-fallback"])
def test_pipe_json_reads_verdict_and_gates_on_exit_code(jq):
    if jq == "jq" and shutil.which("jq") is None:
        pytest.skip("jq not installed")
    proc = _run(["bash", str(EXAMPLES / "pipe_json.sh"), "--recipe", "original", "--data", str(SAMPLE)], JQ=jq)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "verdict: eval-input-scale-mismatch"
    assert lines[1].startswith("errors: ") and len(lines[1].split()) > 1
    assert lines[-1].startswith("CI gate: FAILED")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_pipe_json_passes_a_clean_pipeline():
    proc = _run(["bash", str(EXAMPLES / "pipe_json.sh"), "--recipe", "fixed", "--data", str(SAMPLE)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "CI gate: passed"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_pipe_json_usage_error_exits_2():
    proc = _run(["bash", str(EXAMPLES / "pipe_json.sh"), "--data", "no/such/file.npz"])
    assert proc.returncode == 2
    assert "could not run" in proc.stderr


@pytest.mark.tf
@pytest.mark.training
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_watch_training_diagnoses_the_log():
    # the log alone must show it: a model trained enough in its one epoch (40 steps) to score above chance on
    # the raw test set, seeded so that the run is the same every time
    proc = _run(
        [
            "bash",
            str(EXAMPLES / "watch_training.sh"),
            "--data",
            str(SAMPLE),
            "--limit",
            "2000",
            "--epochs",
            "1",
            "--batch-size",
            "50",
            "--verbose",
            "2",
            "--seed",
            "0",
        ]
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), out[-3000:]
    assert "LOG001" in out and "(after epoch 1)" in out
    assert "eval-input-scale-mismatch" in out
    assert "╭─ cifar-doctor:" not in out  # the script runs without DoctorCallback here


# --- the recordings in examples/*.txt match what the code prints ---------------------------------


def _recorder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("record_examples", ROOT / "scripts" / "record_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


RECORDER = _recorder()


@pytest.mark.parametrize("example", [e for e in RECORDER.ALL if e.deterministic], ids=lambda e: e.name)
def test_recording_matches_the_code(example):
    want = RECORDER.path(example).read_text(encoding="utf-8")
    got = RECORDER.record(example, timeout=600)
    assert got == want, (
        f"examples/{example.name}.txt no longer shows what the code prints: "
        f"python scripts/record_examples.py {example.name}"
    )


@pytest.mark.parametrize("example", [e for e in RECORDER.ALL if not e.deterministic], ids=lambda e: e.name)
def test_training_recording_keeps_its_structure(example):
    """Not compared in full (a training run's numbers move); the test above runs each on small data."""
    assert example.note, "say why it is not compared"
    lines = RECORDER.path(example).read_text(encoding="utf-8").splitlines()
    command = "$ " + example.command.format(python="python", doctor="cifar-doctor", data="DATA")
    assert re.fullmatch(re.escape(command).replace("DATA", r"\S+"), lines[0]), lines[0]  # the same command
    assert re.fullmatch(r"# exit code: [012]", lines[-1])
    assert any(ln.startswith(("verdict: ", "│ ")) for ln in lines)  # the verdict, printed or in its panel


def test_every_recording_is_known():
    known = {e.name for e in RECORDER.ALL} | set(RECORDER.BY_HAND)
    assert {p.stem for p in EXAMPLES.glob("*.txt")} == known
