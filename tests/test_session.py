"""`Session`: the one live-diagnosis loop of watch, DoctorCallback and compare --until-verdict."""

from __future__ import annotations

import pytest

from cifar_doctor.diagnosis import decide
from cifar_doctor.errors import UsageError
from cifar_doctor.findings import Finding, Severity
from cifar_doctor.inputs import Inputs
from cifar_doctor.report import Report
from cifar_doctor.session import CONFIRMING_EPOCHS, Session


def _finding(code="PRE001", severity=Severity.ERROR, split="test", cause="eval-input-scale-mismatch"):
    return Finding(
        code=code, name="some-problem", severity=severity, message=f"{code} fired.", cause=cause, split=split
    )


def _report(*findings):
    return Report(verdict=decide(list(findings), ran=["PRE001"]), findings=list(findings))


def test_new_findings_are_deduplicated_by_code_and_split():
    s = Session(Inputs())
    assert [f.code for f in s.observe(_report(_finding()), epoch=1).new] == ["PRE001"]
    assert s.observe(_report(_finding()), epoch=2).new == ()
    again = s.observe(_report(_finding(), _finding(split="val")), epoch=3).new
    assert [(f.code, f.split) for f in again] == [("PRE001", "val")]


@pytest.mark.parametrize(
    "floor,expected",
    [("error", ["PRE001"]), ("warning", ["PRE001", "FIT001"]), ("info", ["PRE001", "FIT001", "RNG001"])],
)
def test_severity_floor_is_a_parameter(floor, expected):
    s = Session(Inputs(), floor=floor)
    update = s.observe(
        _report(
            _finding(),
            _finding("FIT001", Severity.WARNING, None, "overfitting"),
            _finding("RNG001", Severity.INFO, None, None),
        ),
        epoch=1,
    )
    assert [f.code for f in update.new] == expected


def test_verdict_is_certain_after_confirming_epochs_of_the_same_error_level_cause():
    s = Session(Inputs())
    streaks = [s.observe(_report(_finding()), epoch=e) for e in range(1, CONFIRMING_EPOCHS + 2)]
    assert [u.streak for u in streaks] == list(range(1, CONFIRMING_EPOCHS + 2))
    assert [u.certain for u in streaks] == [None] * (CONFIRMING_EPOCHS - 1) + ["eval-input-scale-mismatch"] * 2


def test_streak_resets_on_a_warning_level_cause_or_healthy():
    s = Session(Inputs())
    s.observe(_report(_finding()), epoch=1)
    assert s.observe(_report(_finding(severity=Severity.WARNING)), epoch=2).streak == 0
    assert s.observe(_report(_finding()), epoch=3).streak == 1
    assert s.observe(_report(), epoch=4).streak == 0


def test_another_cause_restarts_the_streak():
    s = Session(Inputs())
    s.observe(_report(_finding()), epoch=1)
    u = s.observe(_report(_finding("LBL001", cause="label-format-mismatch")), epoch=2)
    assert (u.streak, u.certain) == (1, None)


def test_update_runs_the_engine_on_the_history_so_far(make_history):
    s = Session(Inputs(), floor="warning")
    first = s.update()
    assert first.epoch is None and first.report.verdict.cause == "insufficient-evidence"
    u = s.update(make_history(loss=[1.78], accuracy=[0.36], val_loss=[8.68], val_accuracy=[0.45]))
    assert u.epoch == 1 and "LOG001" in {f.code for f in u.new}
    final = s.finish()
    assert final is s.report and final.verdict.cause == "eval-input-scale-mismatch"


def test_bad_floor_and_selector_fail_before_training():
    with pytest.raises(UsageError, match="argument `floor`"):
        Session(Inputs(), floor="loud")
    with pytest.raises(UsageError, match="argument `select`"):
        Session(Inputs(), select=["XYZ"])
