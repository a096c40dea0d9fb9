"""The command line as a user meets it: exit codes, streams, formats, errors."""

from __future__ import annotations

import json
import sys

import jsonschema
import numpy as np
import pytest

from cifar_doctor.schema import load_schema
from conftest import run_cli, run_json, scale_images

#: Subprocesses of the CLI: run by CI, skipped by the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


@pytest.fixture
def seed_npz(tmp_path, make_images, make_labels):
    """The seed's pipeline on generated images: train / 255, test raw, float32, one-hot labels."""

    def make(train="unit", test="raw-float", name="data.npz", n=300):
        x = make_images(n, "uint8", seed=1)
        xt = make_images(n // 3, "uint8", seed=2)
        path = tmp_path / name
        np.savez(
            path,
            x_train=scale_images(x, train),
            y_train=make_labels(n, one_hot=True),
            x_test=scale_images(xt, test),
            y_test=make_labels(n // 3, one_hot=True, seed=3),
        )
        return path

    return make


def test_version_and_help():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("cifar-doctor ")
    out = run_cli("-h")
    assert out.returncode == 0
    for cmd in ("check", "compare", "watch", "checks", "explain"):
        assert cmd in out.stdout


def test_seed_bug_in_npz_exits_1_with_scale_ratio(seed_npz):
    rc, report, err = run_json("check", "--data", str(seed_npz()))
    assert rc == 1
    assert report["verdict"]["cause"] == "eval-input-scale-mismatch"
    pre = [f for f in report["findings"] if f["code"] == "PRE001"]
    assert pre and 200 < pre[0]["evidence"]["scale_ratio"] < 320
    jsonschema.validate(report, load_schema())


@pytest.mark.parametrize(
    "scale,cause", [("unit", "healthy"), ("standardized", "healthy"), ("raw-float", "input-not-normalized")]
)
def test_consistent_pipelines(seed_npz, scale, cause):
    rc, report, _ = run_json("check", "--data", str(seed_npz(scale, scale)))
    assert report["verdict"]["cause"] == cause
    assert rc == (0 if cause == "healthy" else 0)  # a warning does not fail the default --fail-on error
    if scale == "standardized":
        assert not [f for f in report["findings"] if f["code"].startswith(("RNG", "PRE"))]
    jsonschema.validate(report, load_schema())


def test_fail_on_warning(seed_npz):
    out = run_cli("check", "--data", str(seed_npz("raw-float", "raw-float")), "--fail-on", "warning")
    assert out.returncode == 1


def test_markdown_and_text_formats(seed_npz):
    path = str(seed_npz())
    md = run_cli("check", "--data", path, "--format", "markdown")
    assert md.returncode == 1
    assert md.stdout.startswith("## cifar-doctor report")
    assert "`eval-input-scale-mismatch`" in md.stdout and "PRE001" in md.stdout
    text = run_cli("check", "--data", path)
    assert text.returncode == 1
    assert "eval-input-scale-mismatch" in text.stdout and "Fix:" in text.stdout
    assert "\x1b[" not in text.stdout  # NO_COLOR honoured


def test_json_output_is_stable(seed_npz):
    path = str(seed_npz())
    a = run_cli("check", "--data", path, "--json").stdout
    b = run_cli("check", "--data", path, "--json").stdout
    assert a == b


def test_data_check_does_not_import_tensorflow(seed_npz):
    out = run_cli("check", "--data", str(seed_npz()), "--json", env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert imported, "import timing missing"
    assert not {m for m in imported if m.split(".")[0] in ("tensorflow", "keras")}


def test_checks_and_explain():
    out = run_cli("checks", "--json")
    data = json.loads(out.stdout)
    codes = [c["code"] for c in data["checks"]]
    assert codes == sorted(codes) and "PRE001" in codes
    out = run_cli("explain", "PRE001")
    assert out.returncode == 0 and "What it does" in out.stdout
    out = run_cli("explain", "train-test-scale-mismatch")
    assert out.returncode == 0 and "PRE001" in out.stdout
    out = run_cli("explain", "metric-not-applicable")  # a verdict's cause: its meaning and its checks
    assert out.returncode == 0 and "LOG015" in out.stdout and "regression" in out.stdout


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("explain", "NOPE01"), "Unknown check"),
        (("check", "--data", "/nonexistent/data.npz"), "/nonexistent/data.npz"),
        (("check", "--fail-on", "sometimes"), "--fail-on"),
        (("check", "--loss", "crossentropy_of_doom", "--log", "-"), "--loss"),
        (("check", "--recipe", "nonesuch"), "Unknown recipe"),
        (("check", "--limit", "0"), "--limit"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args, fragment):
    out = run_cli(*args, input="")
    assert out.returncode == 2, out.stderr
    assert fragment in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_debug_shows_traceback():
    out = run_cli("--debug", "check", "--data", "/nonexistent/data.npz")
    assert out.returncode == 2 and "Traceback" in out.stderr


def test_truncated_and_object_npz_exit_2(tmp_path, seed_npz):
    good = seed_npz()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:2000])
    obj = tmp_path / "object.npz"
    np.savez(obj, x_train=np.array([np.zeros(3), np.zeros(2)], dtype=object), y_train=np.zeros(2))
    before = sorted(p.name for p in tmp_path.iterdir())
    for path in (truncated, obj):
        out = run_cli("check", "--data", str(path))
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("args", [("check", "--nope"), ("compare",), ("check", "--limit", "abc")])
def test_usage_errors_are_one_line(args):
    out = run_cli(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "-h' for help" in lines[0]


# --- strict selection, crashed checks, errors in the caller's terms -----------------------

LOG = "tests/fixtures/logs/seed-question-run1-keras2.txt"


@pytest.mark.parametrize(
    "args,bad",
    [
        (("--select", "XYZ"), "--select XYZ"),
        (("--select", "PRE001,LBX"), "--select LBX"),
        (("--ignore", "nope-check"), "--ignore nope-check"),
    ],
)
def test_unknown_selector_is_a_usage_error_naming_the_families(args, bad):
    out = run_cli("check", "--log", LOG, *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid value received for `--")
    assert bad in lines[0] and "RNG, PRE, DAT, DUP, LBL, MDL, LOG, FIT" in lines[0]
    assert out.stdout == ""


def test_selector_by_code_name_and_prefix_still_selects():
    rc, report, _ = run_json("check", "--log", LOG, "--select", "log,saturated-eval-loss", "--ignore", "LOG00")
    ran = {c["code"] for c in report["checks"]}
    assert ran and all(c.startswith("LOG") for c in ran) and not any(c.startswith("LOG00") for c in ran)


def _crash(monkeypatch, code="LOG001"):
    from cifar_doctor import registry

    def boom(inputs):
        raise RuntimeError("broken on purpose")

    import dataclasses

    monkeypatch.setitem(registry._REGISTRY, code, dataclasses.replace(registry.get(code), func=boom))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_crashed_check_exits_2_and_the_report_still_prints(monkeypatch, capsys, fmt):
    from cifar_doctor.cli.app import main

    _crash(monkeypatch)
    with pytest.raises(SystemExit) as exc:
        main(["check", "--log", LOG, "--format", fmt])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert "LOG001" in out and ("crashed" in out)
    assert err.startswith("Error: internal error in 1 check (LOG001: RuntimeError: broken on purpose)")
    assert len(err.strip().splitlines()) == 1


def test_crashed_check_with_fail_on_never_exits_0(monkeypatch, capsys):
    from cifar_doctor.cli.app import main

    _crash(monkeypatch)
    with pytest.raises(SystemExit) as exc:
        main(["check", "--log", LOG, "--json", "--fail-on", "never"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0 and json.loads(out)["summary"]["checks_crashed"] == 1 and err == ""


def test_library_errors_name_python_parameters():
    from cifar_doctor import diagnose
    from cifar_doctor.errors import UsageError

    with pytest.raises(UsageError) as exc:
        diagnose(loss="nope")
    assert "argument `loss`" in str(exc.value) and "loss='nope'" in str(exc.value) and "--" not in str(exc.value)
    with pytest.raises(UsageError) as exc:
        diagnose(history={"loss": [1.0]}, select=["XYZ"])
    assert "argument `select`" in str(exc.value) and "select=['XYZ']" in str(exc.value)
    with pytest.raises(UsageError, match="argument `classes`"):
        diagnose(classes=1)
    report = diagnose(history={"loss": [1.0, 0.9]})
    reasons = {c.reason for c in report.checks if c.status == "skipped"}
    assert "needs a model (model)" in reasons and not any("--" in r for r in reasons)


def test_cli_skip_reasons_name_flags():
    _, report, _ = run_json("check", "--log", LOG)
    reasons = {c["reason"] for c in report["checks"] if c["status"] == "skipped"}
    assert "needs a model (--model)" in reasons


def test_schema_causes_are_the_verdict_causes():
    from cifar_doctor.diagnosis import CAUSES

    assert set(load_schema()["$defs"]["cause"]["enum"]) == set(CAUSES)


@pytest.mark.parametrize("framework", [None, "torch"])
def test_command_ends_without_teardown_unless_a_framework_was_loaded(framework):
    """`run` ends the process once its output is flushed, skipping the interpreter's teardown (exit
    handlers included), unless a framework that works in its exit handlers was imported."""
    import subprocess

    code = (
        "import atexit, sys\n"
        + (f"sys.modules[{framework!r}] = object()\n" if framework else "")
        + "atexit.register(lambda: print('teardown ran'))\n"
        "sys.argv = ['cifar-doctor', 'explain', 'LOG001']\n"
        "from cifar_doctor.cli.app import run\n"
        "run()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "LOG001" in out.stdout
    assert out.stdout.rstrip().endswith("teardown ran") == (framework is not None)
    bad = subprocess.run(
        [sys.executable, "-c", code.replace("'explain', 'LOG001'", "'explain', 'XYZ999'")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "XYZ999" in bad.stderr
