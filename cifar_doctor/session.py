"""A live diagnosis: the engine re-run as a training run goes, each new finding reported once.

`watch` (a training command's log), `DoctorCallback` (inside `model.fit`) and
`compare --until-verdict` (the runs it trains) are adapters around one
`Session`: they hand it the history so far after each epoch and draw what it
returns with `cifar_doctor.render.live`. The rules live here, once:

- a finding is new the first time its `(code, split)` appears at or above the
  session's severity floor;
- the verdict is certain once the same cause, supported by an error-level
  finding, has been the verdict on `CONFIRMING_EPOCHS` consecutive updates.

Live updates never evaluate the model: its weights change with every batch,
and an untrained model measured before the first batch says nothing about the
run. `Session.finish` does, once: model measurements and counterfactuals.

Example:

>>> from cifar_doctor.inputs import Inputs
>>> from cifar_doctor.session import Session
>>> from cifar_doctor.sources.history import history_from_dict
>>> session = Session(Inputs(), floor="warning")
>>> update = session.update(history_from_dict({"loss": [1.78], "accuracy": [0.36], "val_loss": [8.68],
...                                            "val_accuracy": [0.45]}))
>>> [f.code for f in update.new], update.report.verdict.cause
(['LOG001'], 'eval-input-scale-mismatch')
>>> session.update(history_from_dict({"loss": [1.78, 1.37], "accuracy": [0.36, 0.51],
...                                   "val_loss": [8.68, 8.97], "val_accuracy": [0.45, 0.44]})).new
()
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from . import registry
from .engine import run
from .findings import Finding, Severity
from .inputs import History, Inputs
from .report import Report

#: The verdict is certain once the same error-level cause has been the verdict
#: after this many consecutive epochs. One epoch of curves cannot tell a trend
#: from noise; two agreeing epochs with an error-level finding (evidence with no
#: benign reading) can, and the model has learned enough by then for the
#: counterfactual evaluation to measure what the fix buys.
CONFIRMING_EPOCHS = 2

#: Causes that are never "certain": they are not a problem to act on.
NON_STOPPING_CAUSES = ("healthy", "insufficient-evidence")


@dataclass(frozen=True)
class Update:
    """What one update of a `Session` found.

    Attributes:
        report: The full report on the evidence so far (no counterfactual).
        new: Findings at or above the session's floor not reported before, most severe first.
        epoch: Epochs in the history; `None` before training.
        streak: Consecutive updates whose verdict is the same error-level cause.
        certain: That cause once `streak` reaches the session's `confirm_after`, else `None`.
    """

    report: Report
    new: tuple[Finding, ...]
    epoch: int | None
    streak: int
    certain: str | None


class Session:
    """Diagnose a training run as it goes.

    Args:
        inputs: The evidence known before training (data samples, model, loss,
            an evaluator of the model for `finish`). Not modified.
        floor: The least severity a finding needs to be reported as new:
            `"error"`, `"warning"` or `"info"`. Defaults to `"error"`.
        select: Only checks whose code starts with one of these. Defaults to `None` (all).
        ignore: Skip checks whose code starts with one of these. Defaults to `None`.
        hints: How the front end's user supplies each requirement, for skip
            reasons. Defaults to `None` (the parameters of `diagnose`).
        confirm_after: Updates of agreement that make a verdict certain.
            Defaults to `CONFIRMING_EPOCHS`.

    Raises:
        UsageError: an unknown `floor` or selector.
    """

    def __init__(
        self,
        inputs: Inputs,
        *,
        floor: Severity | str = Severity.ERROR,
        select: list[str] | None = None,
        ignore: list[str] | None = None,
        hints: dict[str, str] | None = None,
        confirm_after: int = CONFIRMING_EPOCHS,
    ) -> None:
        try:
            self.floor = Severity.parse(floor)
        except ValueError:
            from .errors import invalid_value

            raise invalid_value("floor", floor, expected="'error', 'warning' or 'info'") from None
        registry.select(select, ignore)  # an unknown selector fails before training starts
        self.inputs = inputs
        self.history = inputs.history
        self.select, self.ignore, self.hints = select, ignore, hints
        self.confirm_after = confirm_after
        self.report: Report | None = None
        self._seen: set[tuple[str, str | None]] = set()
        self._cause: str | None = None
        self._streak = 0

    def update(self, history: History | None = None) -> Update:
        """Diagnose the evidence with `history` so far (`None`: before training), without the model's evaluator."""
        if history is not None:
            self.history = history
        report = self._run(replace(self.inputs, history=self.history, evaluate=None), counterfactual=False)
        return self.observe(report, epoch=history.epochs if history is not None else None)

    def observe(self, report: Report, *, epoch: int | None) -> Update:
        """Judge a report of this run: which findings are new, and how long its verdict has held."""
        self.report = report
        new = tuple(
            f for f in report.findings if f.severity.rank >= self.floor.rank and (f.code, f.split) not in self._seen
        )
        self._seen.update((f.code, f.split) for f in new)
        self._count(report)
        certain = self._cause if self._streak >= self.confirm_after else None
        return Update(report, new, epoch, self._streak, certain)

    def finish(self, history: History | None = None, *, extra: dict[str, Any] | None = None) -> Report:
        """The final report: every check, and model measurements and counterfactuals when the
        model can be evaluated. `extra` adds plain sections to it (see `engine.run`)."""
        if history is not None:
            self.history = history
        return self._run(replace(self.inputs, history=self.history), counterfactual=True, extra=extra)

    def _run(self, inputs: Inputs, *, counterfactual: bool, extra: dict[str, Any] | None = None) -> Report:
        self.report = run(
            inputs,
            select_codes=self.select,
            ignore_codes=self.ignore,
            counterfactual=counterfactual,
            extra=extra,
            hints=self.hints,
        )
        return self.report

    def _count(self, report: Report) -> None:
        cause = report.verdict.cause
        error_level = any(f.cause == cause and f.severity is Severity.ERROR for f in report.findings)
        if cause in NON_STOPPING_CAUSES or not error_level:
            self._cause, self._streak = None, 0
        elif cause == self._cause:
            self._streak += 1
        else:
            self._cause, self._streak = cause, 1
