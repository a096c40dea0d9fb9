"""The report: verdict, findings and check outcomes, as one output object.

`Report.to_dict()` is the versioned JSON envelope (`SCHEMA_VERSION`); the
renderers in `cifar_doctor.render` draw the same object as Rich text or Markdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .diagnosis import Verdict
from .findings import Finding, Severity, plain

if TYPE_CHECKING:
    from .counterfactual import Counterfactual

#: Version of the JSON documents (`Report`, `cifar_doctor.comparison.ComparisonReport`).
#: Bump the major on an incompatible change. 2.0: `compare` writes a comparison
#: document holding every run's full report (the report of `check` and `watch` is unchanged).
#: 2.1: each run of `compare` adds `training` (batch plan, strategy, replicas, mixed precision).
#: 2.2: every document says what it is: `kind` is `"report"` or `"comparison"` (`DOCUMENT_KINDS`).
#: 2.3: a verdict's confidence is a measured frequency; `verdict.evidence.calibration` says from what, and
#: `verdict.evidence.abstained_from` names a cause withheld for weak evidence.
#: 2.4: the cause `metric-not-applicable` (a logged metric that does not measure the task).
SCHEMA_VERSION = "2.4"

#: The values of a JSON document's `kind`: a `Report` (`check`, `watch`, each run of `compare`) or a
#: `ComparisonReport` (`compare`). Renderers dispatch on it.
REPORT_KIND, COMPARISON_KIND = "report", "comparison"
DOCUMENT_KINDS = (REPORT_KIND, COMPARISON_KIND)

FAIL_ON_CHOICES = ("error", "warning", "info", "never")


@dataclass(frozen=True)
class CheckOutcome:
    """What happened to one check.

    Attributes:
        code: The check's code.
        name: The check's name.
        status: `ran`, `skipped` or `crashed`.
        reason: Why it was skipped (its `missing` joined), or the error it crashed with; `None` when it ran.
        findings: Findings it returned.
        missing: When skipped, each missing requirement with how to supply it.
    """

    code: str
    name: str
    status: str
    reason: str | None = None
    findings: int = 0
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "findings": self.findings,
        }


def tool() -> dict[str, str]:
    """The `tool` section of every JSON document."""
    from .version import __version__

    return {"name": "cifar-doctor", "version": __version__}


def _sort_key(f: Finding) -> tuple:
    return (-f.severity.rank, f.code, f.split or "", f.message)


class Rendered:
    """What a report and a comparison share, from their `to_dict()`: JSON, printing, notebook display."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - defined by each subclass
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows the HTML report (`render.html.html_fragment`); plain front ends the text one."""
        from .render.html import mimebundle

        return mimebundle(self)

    def _repr_html_(self) -> str:
        from .render.html import html_fragment

        return html_fragment(self)

    def print(self, console: Any = None, fmt: str = "text") -> None:
        """Print it with Rich (or as `json`/`markdown`/`html`) to `console` (stdout by default)."""
        from .render import render

        render(self, fmt, console=console)


@dataclass
class Report(Rendered):
    """The result of one diagnosis.

    Attributes:
        verdict: The `Verdict`.
        findings: Findings, most severe first, in a stable order.
        checks: One `CheckOutcome` per registered check.
        inputs: Plain description of what was examined.
        counterfactuals: Measured effects of proposed data fixes.
        extra: Further plain sections (e.g. `watch`: the command, its return code).
    """

    verdict: Verdict
    findings: list[Finding] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    counterfactuals: list[Counterfactual] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.findings = sorted(self.findings, key=_sort_key)
        self.checks = sorted(self.checks, key=lambda c: c.code)

    @property
    def summary(self) -> dict[str, int]:
        count = {s.value: 0 for s in Severity}
        for f in self.findings:
            count[f.severity.value] += 1
        status = {"ran": 0, "skipped": 0, "crashed": 0}
        for c in self.checks:
            status[c.status] = status.get(c.status, 0) + 1
        return {
            "errors": count["error"],
            "warnings": count["warning"],
            "infos": count["info"],
            "checks_ran": status["ran"],
            "checks_skipped": status["skipped"],
            "checks_crashed": status["crashed"],
        }

    def codes(self) -> list[str]:
        return sorted({f.code for f in self.findings})

    def crashed(self) -> list[CheckOutcome]:
        """The checks that raised instead of returning findings."""
        return [c for c in self.checks if c.status == "crashed"]

    def exit_code(self, fail_on: str = "error") -> int:
        """The linter convention: 2 when a check crashed, 1 when a finding is at or above
        `fail_on`, else 0; always 0 with `fail_on="never"`."""
        if fail_on == "never":
            return 0
        if self.crashed():
            return 2
        threshold = Severity.parse(fail_on).rank
        return 1 if any(f.severity.rank >= threshold for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": REPORT_KIND,
            "tool": tool(),
            "inputs": plain(self.inputs),
            "verdict": self.verdict.to_dict(),
            "summary": self.summary,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings],
            "counterfactuals": [c.to_dict() for c in self.counterfactuals],
        }
        for key, value in self.extra.items():
            out[key] = plain(value)
        return out
