"""A comparison of training runs: every run's full report, and what tells them apart.

`cifar_doctor.training.compare.compare` trains the runs; this module holds
what it returns, with no TensorFlow: `ComparisonReport` (its own JSON
envelope, `schema_version` as for `Report`), one `RunResult` per run holding
that run's `Report`, and the plain-words `Comparison` written from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .diagnosis import CAUSES, PRECEDENCE
from .findings import plain
from .report import COMPARISON_KIND, SCHEMA_VERSION, CheckOutcome, Rendered, Report, tool

#: A run whose test images are more than this many times larger (or smaller)
#: than its training images is described by that ratio: 1.5x is outside any
#: honest preprocessing difference, and the seed bug's 255x is far beyond it.
SCALE_RATIO_WORTH_NAMING = 1.5


@dataclass(frozen=True)
class EarlyStop:
    """Why and when a run stopped before its planned epochs (`until_verdict`)."""

    after_epoch: int
    planned_epochs: int
    epochs_saved: int
    seconds_saved_estimate: float
    cause: str
    codes: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "after_epoch": self.after_epoch,
            "planned_epochs": self.planned_epochs,
            "epochs_saved": self.epochs_saved,
            "seconds_saved_estimate": self.seconds_saved_estimate,
            "cause": self.cause,
            "codes": list(self.codes),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RunResult:
    """One training run of a comparison and its diagnosis.

    Attributes:
        name: Display name (`fixed`, `fixed#2` for a repeated recipe).
        recipe: The recipe's name.
        doc: What the recipe is.
        settings: Epochs, batch size, seed, image counts, optimizer, loss, limit.
        history: Per-epoch metrics keyed as Keras names them.
        epochs_run: Epochs trained.
        report: The run's full `Report` (data checks, curves, counterfactual).
        eval_to_train_scale: How many times larger test inputs are than training inputs.
        expected: Published or measured reference figures of the recipe.
        seconds: Wall seconds of training and diagnosis.
        train_seconds: Wall seconds of `model.fit`.
        stopped_early: Set when the run stopped before its planned epochs.
        training: How the optimizer steps were made: batch size and steps per
            epoch (`scaled_from` and `reason` when the batch was scaled for
            small data), global and per-replica batch, gradient accumulation,
            the strategy with its replicas' devices, mixed precision.
    """

    name: str
    recipe: str
    report: Report
    history: Mapping[str, list[float]] = field(default_factory=dict)
    doc: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    epochs_run: int = 0
    eval_to_train_scale: float | None = None
    expected: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    train_seconds: float = 0.0
    stopped_early: EarlyStop | None = None
    training: Mapping[str, Any] = field(default_factory=dict)

    def series(self, key: str) -> list[float]:
        return list(self.history.get(key) or [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "recipe": self.recipe,
            "doc": self.doc,
            "settings": plain(dict(self.settings)),
            "history": plain(dict(self.history)),
            "epochs_run": self.epochs_run,
            "eval_to_train_scale": self.eval_to_train_scale,
            "expected": plain(dict(self.expected)),
            "seconds": self.seconds,
            "train_seconds": self.train_seconds,
            "stopped_early": self.stopped_early.to_dict() if self.stopped_early else None,
            "training": plain(dict(self.training)) if self.training else None,
            "report": self.report.to_dict(),
        }


@dataclass(frozen=True)
class Comparison:
    """What tells the runs apart, in plain words.

    Attributes:
        lines: One sentence per run: its verdict in the terms of its own numbers.
        note: Why one run lags another, when a pipeline problem explains it.
        best: `(name, final val_accuracy)` of the best run, if any has one.
    """

    lines: tuple[str, ...]
    note: str | None = None
    best: tuple[str, float] | None = None

    @property
    def summary(self) -> str:
        return "; ".join(self.lines) + "." + (" " + self.note if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "lines": list(self.lines),
            "note": self.note,
            "best": {"name": self.best[0], "val_accuracy": round(self.best[1], 4)} if self.best else None,
        }


@dataclass(frozen=True)
class ComparisonReport(Rendered):
    """The result of `compare`: each run's report, and the comparison.

    Attributes:
        runs: One `RunResult` per run, in the order asked.
        comparison: The plain-words `Comparison` of the runs.
    """

    runs: tuple[RunResult, ...]
    comparison: Comparison

    @classmethod
    def of(cls, runs: list[RunResult] | tuple[RunResult, ...]) -> ComparisonReport:
        """The report of `runs`, with their comparison written from them."""
        return cls(tuple(runs), compare_runs(runs))

    def crashed(self) -> list[CheckOutcome]:
        """The checks that crashed, in any run."""
        return [c for r in self.runs for c in r.report.crashed()]

    def exit_code(self, fail_on: str = "never") -> int:
        """The worst of the runs' exit codes (see `Report.exit_code`); 0 for no run."""
        return max((r.report.exit_code(fail_on) for r in self.runs), default=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": COMPARISON_KIND,
            "tool": tool(),
            "comparison": self.comparison.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
        }


# --- the plain-words comparison ------------------------------------------------------------


def _outranks_overfitting(cause: str) -> bool:
    """A cause the verdict puts before overfitting: a problem that makes the gap, not one of learning."""
    return cause in PRECEDENCE and PRECEDENCE.index(cause) < PRECEDENCE.index("overfitting")


def describe_run(run: RunResult) -> str:
    """One plain sentence on a run: its verdict, in the terms of its own numbers."""
    cause = run.report.verdict.cause
    acc, vacc = run.series("accuracy"), run.series("val_accuracy")
    if cause == "healthy":
        if not vacc:
            return f"{run.name}: healthy"
        return f"{run.name}: healthy, test accuracy {vacc[-1]:.2f}" + (f" (train {acc[-1]:.2f})" if acc else "")
    parts = []
    if _outranks_overfitting(cause) and vacc:
        parts.append("not overfitting")
    ratio = run.eval_to_train_scale
    if cause == "eval-input-scale-mismatch" and ratio and ratio > SCALE_RATIO_WORTH_NAMING:
        parts.append(f"test images are {ratio:.0f}x larger than training images")
    elif cause == "eval-input-scale-mismatch" and ratio and ratio < 1 / SCALE_RATIO_WORTH_NAMING:
        parts.append(f"test images are {1 / ratio:.0f}x smaller than training images")
    else:
        parts.append(f"{cause} ({CAUSES.get(cause, '')})")
    measured = [c for c in run.report.counterfactuals if c.after is not None and c.before is not None]
    for c in measured[:1]:
        assert c.after is not None and c.before is not None  # kept by the filter above
        expr = c.transform.expression or "the fix"
        parts.append(
            f"the same trained model scores {c.after['accuracy']:.2f} on test images with {expr} "
            f"(against {c.before['accuracy']:.2f} as given)"
        )
    if acc and vacc and not measured:
        parts.append(f"train {acc[-1]:.2f}, test {vacc[-1]:.2f}")
    return f"{run.name}: " + "; ".join(parts)


def compare_runs(runs: list[RunResult] | tuple[RunResult, ...]) -> Comparison:
    """The plain-words comparison: each run's line, why one lags, and the best test accuracy."""
    best = None
    for r in runs:
        vacc = r.series("val_accuracy")
        if vacc and (best is None or vacc[-1] > best[1]):
            best = (r.name, vacc[-1])
    bugs = [r for r in runs if _outranks_overfitting(r.report.verdict.cause)]
    healthy = [r for r in runs if r.report.verdict.cause == "healthy"]
    note = None
    if bugs and healthy:
        b, h = bugs[0], healthy[0]
        note = (
            f"The gap in {b.name} comes from its pipeline ({b.report.verdict.cause}), "
            f"not from its model: {h.name} shows what a correct pipeline gives."
        )
        bv, hv = b.series("val_accuracy"), h.series("val_accuracy")
        if bv and hv and hv[-1] < bv[-1]:  # not (yet) shown by these runs: say so instead of claiming it
            note = (
                f"The gap in {b.name} comes from its pipeline ({b.report.verdict.cause}), not from its "
                f"model; {h.name} has not overtaken it in these runs (test accuracy {hv[-1]:.2f} against "
                f"{bv[-1]:.2f}): train longer or on more data to see what a correct pipeline gives."
            )
    return Comparison(tuple(describe_run(r) for r in runs), note, best)
