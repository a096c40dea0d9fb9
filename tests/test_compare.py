"""`cifar-doctor compare`: real training via the CLI, the JSON report, errors, the live view."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cifar_doctor.cli.progress import LiveView
from cifar_doctor.comparison import ComparisonReport, RunResult, compare_runs
from cifar_doctor.counterfactual import Counterfactual
from cifar_doctor.diagnosis import Verdict
from cifar_doctor.errors import UsageError
from cifar_doctor.report import Report
from cifar_doctor.session import CONFIRMING_EPOCHS
from cifar_doctor.training.fit import RunState
from cifar_doctor.training.runs import parse_limit
from cifar_doctor.training.until_verdict import UntilVerdict
from conftest import SAMPLE, run_cli, run_json

DATA = ("--data", str(SAMPLE))


@pytest.fixture(scope="module")
def compare_json(tmp_path_factory):
    """One real `compare original fixed --limit 300 --epochs 1 --json --save DIR` run, shared."""
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    save = tmp_path_factory.mktemp("cmp") / "out"
    rc, data, err = run_json(
        "compare",
        "original",
        "fixed",
        "--limit",
        "300",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        *DATA,
        "--save",
        str(save),
    )
    return rc, data, err, save


@pytest.mark.training
@pytest.mark.tf
def test_compare_json_has_two_diagnosed_runs(compare_json):
    rc, data, err, _ = compare_json
    assert rc == 0, err
    assert set(data) == {"schema_version", "kind", "tool", "comparison", "runs"}  # no first-run verdict on top
    runs = {r["name"]: r for r in data["runs"]}
    assert list(runs) == ["original", "fixed"]
    for r in runs.values():
        assert set(r["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert all(len(v) == 1 for v in r["history"].values())
        assert 0 <= r["history"]["val_accuracy"][0] <= 1
        assert r["settings"]["train_images"] == 300 and r["settings"]["limit"] == 300
        assert r["settings"]["batch_size"] == 50
        assert r["epochs_run"] == 1 and r["seconds"] > 0
    orig, fixed = runs["original"]["report"], runs["fixed"]["report"]
    codes = {name: {f["code"] for f in r["report"]["findings"]} for name, r in runs.items()}
    assert orig["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert "PRE001" in codes["original"] and "PRE001" not in codes["fixed"]
    assert fixed["verdict"]["cause"] != "eval-input-scale-mismatch"
    cf = [c for c in orig["counterfactuals"] if c["transform"].get("split") == "test"]
    assert cf and "before" in cf[0] and "after" in cf[0]
    # the raw test images lose far more than the rescaled ones
    assert cf[0]["after"]["loss"] < cf[0]["before"]["loss"]
    assert runs["original"]["eval_to_train_scale"] == 255
    # top level: the plain-words comparison
    assert "original: not overfitting" in data["comparison"]["summary"]
    assert "larger than training images" in data["comparison"]["summary"]
    assert "Error" not in err


@pytest.mark.training
@pytest.mark.tf
def test_compare_json_validates_against_the_schema(compare_json):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (Path(__file__).resolve().parent.parent / "cifar_doctor" / "schema" / "report.schema.json").read_text()
    )
    data = compare_json[1]
    jsonschema.validate(data, schema)
    assert data["schema_version"].startswith("2.")
    report_schema = dict(schema, oneOf=[{"$ref": "#/$defs/report"}])
    for run in data["runs"]:  # every run's full report is inside, valid on its own
        jsonschema.validate(run["report"], report_schema)


@pytest.mark.training
@pytest.mark.tf
def test_compare_save_writes_every_artifact(compare_json):
    _, data, _, save = compare_json
    for name in ("original", "fixed"):
        d = save / name
        assert (d / "model.keras").stat().st_size > 0
        hist = json.loads((d / "history.json").read_text())
        assert hist == data["runs"][0 if name == "original" else 1]["history"] or len(hist["loss"]) == 1
        rows = (d / "history.csv").read_text().splitlines()
        assert rows[0].startswith("epoch,") and len(rows) == 2
        assert json.loads((d / "report.json").read_text())["schema_version"]
        pytest.importorskip("matplotlib")
        assert (d / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((save / "report.json").read_text())["runs"]
    md = (save / "report.md").read_text()
    assert md.startswith("## cifar-doctor comparison") and "### Run: original" in md and "### Run: fixed" in md


@pytest.mark.training
@pytest.mark.tf
def test_until_verdict_stops_early_and_says_what_it_saved():
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    proc = run_cli(
        "compare",
        "original",
        "--limit",
        "300",
        "--epochs",
        "4",
        "--batch-size",
        "100",
        "--until-verdict",
        "--details",
        *DATA,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"stopped after epoch {CONFIRMING_EPOCHS}/4" in proc.stderr
    assert "saved 2 epochs" in proc.stderr
    assert "Run: original" in proc.stdout and "Per-epoch results" in proc.stdout
    assert f"Stopped after epoch {CONFIRMING_EPOCHS}/4" in proc.stdout


# --- usage errors: one line, exit 2, before any training -----------------------------------


def _one_line_exit_2(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), proc.stderr
    for n in needles:
        assert n in lines[0]
    assert proc.stdout == ""


def test_unknown_recipe_exits_2():
    _one_line_exit_2(run_cli("compare", "original", "orignal"), "Unknown recipe", "'orignal'", "Did you mean")


@pytest.mark.parametrize("value", ["abc", "5", "-1"])
def test_bad_limit_exits_2(value):
    _one_line_exit_2(run_cli("compare", "original", "--limit", value), "--limit", ">= 10")


def test_raising_user_recipe_exits_2(tmp_path):
    p = tmp_path / "bad.py"
    p.write_text("raise ImportError('no such thing as keras_cv2')\n")
    _one_line_exit_2(run_cli("compare", "original", f"{p}:recipe"), "raised while being imported", "keras_cv2")


def test_non_empty_save_dir_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("user data")
    _one_line_exit_2(run_cli("compare", "original", "--save", str(tmp_path), *DATA), "non-empty")
    assert (tmp_path / "mine.txt").read_text() == "user data"


def test_parse_limit():
    assert parse_limit(None) is None and parse_limit("2000") == 2000
    with pytest.raises(UsageError):
        parse_limit("9")


# --- pieces without TensorFlow --------------------------------------------------------------


def _run(name, cause, acc, vacc, cfs=(), ratio=None):
    report = Report(verdict=Verdict(cause, 0.9, f"{cause} explained."), counterfactuals=list(cfs))
    return RunResult(name, name, report, history={"accuracy": acc, "val_accuracy": vacc}, eval_to_train_scale=ratio)


def test_comparison_explains_the_difference_in_plain_words():
    cf = Counterfactual(
        "PRE001",
        "test",
        {"split": "test", "expression": "x_test / 255"},
        images=100,
        before={"accuracy": 0.535, "loss": 161.0},
        after={"accuracy": 0.644, "loss": 1.1},
        accuracy_gain=0.109,
        confirmed=True,
        summary="Measured.",
    )
    out = compare_runs(
        [
            _run("original", "eval-input-scale-mismatch", [0.35, 0.64], [0.41, 0.535], [cf], 255.3),
            _run("fixed", "healthy", [0.33, 0.70], [0.52, 0.678]),
        ]
    )
    assert out.lines[0] == (
        "original: not overfitting; test images are 255x larger than training images; "
        "the same trained model scores 0.64 on test images with x_test / 255 "
        "(against 0.54 as given)"
    )
    assert out.lines[1] == "fixed: healthy, test accuracy 0.68 (train 0.70)"
    assert "comes from its pipeline" in out.note and out.to_dict()["best"] == {"name": "fixed", "val_accuracy": 0.678}


def test_comparison_does_not_claim_what_the_runs_do_not_show():
    out = compare_runs(
        [_run("original", "eval-input-scale-mismatch", [0.3], [0.35]), _run("fixed", "healthy", [0.3], [0.30])]
    )
    assert "shows what a correct pipeline gives" not in out.note
    assert "has not overtaken it" in out.note and "0.30 against 0.35" in out.note


def test_comparison_of_two_healthy_runs_has_no_blame():
    out = compare_runs([_run("a", "healthy", [0.5], [0.5]), _run("b", "overfitting", [0.9], [0.6])])
    assert out.note is None and out.lines[1].startswith("b: overfitting")


def test_comparison_exit_code_is_the_worst_run():
    from cifar_doctor.findings import Finding, Severity
    from cifar_doctor.report import CheckOutcome

    warn = Finding("FIT001", "overfit", Severity.WARNING, "m", cause="overfitting")
    a = RunResult("a", "a", Report(verdict=Verdict("healthy", 0.9, "ok")))
    b = RunResult("b", "b", Report(verdict=Verdict("overfitting", 0.7, "x"), findings=[warn]))
    c = RunResult(
        "c",
        "c",
        Report(
            verdict=Verdict("healthy", 0.9, "ok"), checks=[CheckOutcome("LOG001", "x", "crashed", "RuntimeError: boom")]
        ),
    )
    assert ComparisonReport.of([a, b]).exit_code("never") == 0
    assert ComparisonReport.of([a, b]).exit_code("error") == 0
    assert ComparisonReport.of([a, b]).exit_code("warning") == 1
    assert ComparisonReport.of([a, b, c]).exit_code("error") == 2
    assert ComparisonReport.of([a, b, c]).exit_code("never") == 0


def test_live_view_draws_progress_and_side_by_side_epochs():
    from rich.console import Console

    a = RunState("original", epochs=2, steps=5, batch_size=100, train_images=500, phase="training", step=3)
    a.history = {"accuracy": [0.3512], "val_accuracy": [0.4141], "val_loss": [161.2]}
    a.epoch, a.epoch_seconds = 1, [10.0]
    b = RunState("fixed", epochs=2)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=140, color_system=None)
    view = LiveView(console=console)
    view.states = [a, b]
    console.print(view)
    text = buf.getvalue()
    assert "original" in text and "epoch 2/2" in text and "ETA" in text
    assert "0.351" in text and "0.414" in text and "161.2" in text and "·" in text
    assert "fixed" in text and "waiting" in text


def test_until_verdict_needs_two_agreeing_epochs(make_images, make_labels):
    """The engine's verdict on data + history so far; certain after CONFIRMING_EPOCHS error-level epochs."""
    from cifar_doctor.api import build_inputs

    x = make_images(200)
    y = make_labels(200, one_hot=True)
    watch = UntilVerdict(
        build_inputs(
            x_train=x / 255.0, y_train=y, x_test=x.astype("float32"), y_test=y, loss="categorical_crossentropy"
        )
    )
    s = RunState("original", epochs=5, steps=1, batch_size=200, train_images=200)
    curve = {
        "loss": [1.78, 1.37, 1.21],
        "accuracy": [0.36, 0.51, 0.57],
        "val_loss": [8.68, 8.97, 7.73],
        "val_accuracy": [0.45, 0.44, 0.51],
    }
    stops = []
    for epoch in range(1, 4):
        s.history = {k: v[:epoch] for k, v in curve.items()}
        s.epoch, s.epoch_seconds = epoch, [2.0] * epoch
        stops.append(watch(s))
    assert stops[:CONFIRMING_EPOCHS] == [False] * (CONFIRMING_EPOCHS - 1) + [True]
    assert watch.stopped.cause == "eval-input-scale-mismatch" and watch.stopped.epochs_saved == 3
    assert "PRE001" in watch.stopped.codes


def test_until_verdict_never_stops_a_healthy_run(make_images, make_labels):
    from cifar_doctor.api import build_inputs

    x = make_images(200, scale="unit")
    y = make_labels(200, one_hot=True)
    watch = UntilVerdict(build_inputs(x_train=x, y_train=y, x_test=x, y_test=y, loss="categorical_crossentropy"))
    s = RunState("fixed", epochs=5)
    for epoch in range(1, 5):
        s.history = {
            "loss": [1.5, 1.2, 1.0, 0.9][:epoch],
            "accuracy": [0.45, 0.57, 0.64, 0.68][:epoch],
            "val_loss": [1.3, 1.1, 1.0, 0.95][:epoch],
            "val_accuracy": [0.52, 0.6, 0.64, 0.66][:epoch],
        }
        s.epoch, s.epoch_seconds = epoch, [2.0] * epoch
        assert watch(s) is False
    assert watch.stopped is None
