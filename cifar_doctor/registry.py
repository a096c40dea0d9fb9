"""The check registry: every check's metadata, in one central table.

A check is a function `check(inputs) -> list[Finding]` decorated with
`@register(...)`. The decorator returns a `CheckSpec`, which is still callable
and also builds findings pre-filled with the check's code, name and cause:

    @register("PRE001", "train-test-scale-mismatch", requires=("train_x", "eval_x"),
              cause="eval-input-scale-mismatch")
    def train_test_scale_mismatch(inputs: Inputs) -> list[Finding]:
        '''What it does: ...'''
        return [train_test_scale_mismatch.finding(Severity.ERROR, "...", evidence={...})]

Exclusivity is declared here too: `superseded_by=("PRE001",)` makes the
engine drop this check's finding on a split where PRE001 found something, so
no check recomputes another's judgement to stay silent.

Codes are a three-letter family prefix plus three digits. They never change
meaning and are never reused; a renamed code keeps working through
`REDIRECTS`.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

from .diagnosis import CAUSES
from .errors import invalid_value
from .findings import Finding, Fix, Severity
from .inputs import REQUIREMENTS, Inputs, Requirement  # noqa: F401  (Requirement re-exported with the table)

FAMILIES: dict[str, str] = {
    "RNG": "input range and normalization scheme",
    "PRE": "preprocessing mismatch between train and eval",
    "DAT": "data integrity (dtype, NaN/Inf, constant images, layout)",
    "DUP": "train/eval duplicates",
    "LBL": "labels and their encoding",
    "MDL": "model structure vs loss and data",
    "LOG": "loss and accuracy in a training log",
    "FIT": "over- and underfitting from learning curves",
}

#: The modules that define checks, one per family; imported on first use.
CHECK_MODULES = (
    "cifar_doctor.checks.range",
    "cifar_doctor.checks.preprocessing",
    "cifar_doctor.checks.data.arrays",
    "cifar_doctor.checks.data.folders",
    "cifar_doctor.checks.duplicates.exact",
    "cifar_doctor.checks.duplicates.near",
    "cifar_doctor.checks.duplicates.features",
    "cifar_doctor.checks.labels.encoding",
    "cifar_doctor.checks.labels.distribution",
    "cifar_doctor.checks.labels.noise",
    "cifar_doctor.checks.model.structure",
    "cifar_doctor.checks.model.input_layer",
    "cifar_doctor.checks.model.measured",
    "cifar_doctor.checks.model.orientation",
    "cifar_doctor.checks.model.modes",
    "cifar_doctor.checks.model.optimizer",
    "cifar_doctor.checks.log.saturation",
    "cifar_doctor.checks.log.chance",
    "cifar_doctor.checks.log.evaluate",
    "cifar_doctor.checks.log.metrics",
    "cifar_doctor.checks.log.history",
    "cifar_doctor.checks.fit.overfitting",
    "cifar_doctor.checks.fit.progress",
    "cifar_doctor.checks.fit.memorization",
    "cifar_doctor.checks.fit.gap",
)

#: Old code -> current code. Codes are never reused, only redirected.
REDIRECTS: dict[str, str] = {}


#: How a caller of `cifar_doctor.diagnose` supplies each requirement, shown after
#: the skip reason. Other front ends pass their own (the CLI: its flags).
PYTHON_HINTS: dict[str, str] = {
    "train_x": "x_train",
    "eval_x": "x_test or x_val",
    "labels": "y_train",
    "eval_labels": "y_test or y_val",
    "loss": "loss, or a compiled model",
    "model": "model",
    "history": "history",
    "evaluator": "model, a Keras model or .keras file",
    "folders": "data, a folder with train/ and test/ folders of class folders",
    "label_order": "y_train as fed to fit()",
    # how the caller names an argument that a finding's message refers to (`{classes}`, `{classes_arg}`, `{loss_arg}`)
    "classes": "classes=K",
    "classes_arg": "classes",
    "loss_arg": "loss",
}

#: The placeholders a finding's message, fix title, explanation or string evidence may
#: hold; the engine fills them from the front end's hints (Python's by default), the
#: way `DoctorError.line` fills `{arg}`, so that a Python user never reads a flag.
#: `{model}` is the hint of the `model` requirement.
MESSAGE_PLACEHOLDERS = ("classes", "classes_arg", "loss_arg", "model")


def speak(text: str, hints: dict[str, str] | None = None) -> str:
    """`text` with each `{placeholder}` of `MESSAGE_PLACEHOLDERS` in the front end's words."""
    if "{" not in text:
        return text
    for key in MESSAGE_PLACEHOLDERS:
        token = "{" + key + "}"
        if token in text:
            text = text.replace(token, (hints or {}).get(key) or PYTHON_HINTS[key])
    return text


def need(requirement: str, hints: dict[str, str] | None = None) -> str:
    """The phrase for a missing requirement, with how to supply it: "needs a model (model)"."""
    how = (hints or PYTHON_HINTS).get(requirement)
    reason = REQUIREMENTS[requirement].reason
    return f"{reason} ({how})" if how else reason


_CODE_RE = re.compile(r"^[A-Z]{3}\d{3}$")


@dataclass(frozen=True)
class CheckSpec:
    """Metadata of one check, and the check itself.

    `superseded_by` lists codes whose finding on a split makes this check's
    finding on the same split redundant (the more specific explanation wins),
    and its finding about the whole run (no split) too; the engine applies it.
    `ahead`, when given, does the part of the check that one split's images
    allow while the rest of the data is still being read (`engine.ahead`),
    keeping its results for the check (`cifar_doctor.memo`).
    """

    code: str
    name: str
    func: Callable[[Any], list[Finding]]
    requires: tuple[str, ...] = ()
    cause: str | None = None
    family: str = ""
    doc: str = ""
    summary: str = ""
    superseded_by: tuple[str, ...] = ()
    ahead: Callable[[Any], None] | None = None

    def __call__(self, inputs: Any) -> list[Finding]:
        return self.func(inputs)

    def finding(
        self,
        severity: Severity | str,
        message: str,
        *,
        evidence: dict[str, Any] | None = None,
        fix: Fix | str | None = None,
        explanation: str | None = None,
        split: str | None = None,
        cause: str | None | EllipsisType = ...,
    ) -> Finding:
        """Build a finding of this check; `cause` defaults to the check's cause."""
        if isinstance(fix, str):
            fix = Fix(fix)
        return Finding(
            code=self.code,
            name=self.name,
            severity=Severity.parse(severity),
            message=message,
            evidence=dict(evidence or {}),
            fix=fix,
            cause=self.cause if cause is ... else cause,
            explanation=explanation,
            split=split,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "family": self.family,
            "requires": list(self.requires),
            "cause": self.cause,
            "superseded_by": list(self.superseded_by),
            "summary": self.summary,
        }


_REGISTRY: dict[str, CheckSpec] = {}
_LOADED = False


def register(
    code: str,
    name: str,
    *,
    requires: tuple[str, ...] = (),
    cause: str | None = None,
    superseded_by: tuple[str, ...] = (),
    ahead: Callable[[Any], None] | None = None,
) -> Callable[[Callable[[Any], list[Finding]]], CheckSpec]:
    """Register a check under `code` and kebab-case `name`.

    `superseded_by`: codes whose finding on a split drops this check's finding on that split.
    `ahead`: the check's work on one `Split` alone, done before the other inputs exist (`CheckSpec`).
    """
    if not _CODE_RE.match(code):
        raise ValueError(f"Invalid check code. Expected three capitals and three digits. Received: {code!r}")
    if code[:3] not in FAMILIES:
        raise ValueError(f"Unknown check family {code[:3]!r} for {code}.")
    for req in requires:
        if req not in REQUIREMENTS:
            raise ValueError(f"Unknown requirement {req!r} for {code}.")
    for other in superseded_by:
        if not _CODE_RE.match(other) or other == code:
            raise ValueError(f"Invalid superseding code {other!r} for {code}.")
    if cause is not None:
        if cause not in CAUSES:
            raise ValueError(f"Unknown cause {cause!r} for {code}.")

    def decorate(func: Callable[[Any], list[Finding]]) -> CheckSpec:
        doc = inspect.cleandoc(func.__doc__ or "")
        summary = _summary(doc)
        spec = CheckSpec(code, name, func, tuple(requires), cause, code[:3], doc, summary, tuple(superseded_by), ahead)
        if code in _REGISTRY and _REGISTRY[code].func.__qualname__ != func.__qualname__:
            raise ValueError(f"Check code {code} registered twice.")
        _REGISTRY[code] = spec
        return spec

    return decorate


def _summary(doc: str) -> str:
    """First sentence under "What it does", or the first line of the docstring."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower().startswith("## what it does"):
            body = " ".join(ln.strip() for ln in lines[i + 1 : i + 4] if ln.strip() and not ln.startswith("#"))
            return body.split(". ")[0].rstrip(".") + "."
    return lines[0] if lines else ""


def load_all() -> None:
    """Import every check module (none of them imports TensorFlow)."""
    global _LOADED
    if _LOADED:
        return
    for mod in CHECK_MODULES:
        importlib.import_module(mod)
    _LOADED = True


def all_checks() -> list[CheckSpec]:
    """Every registered check, sorted by code."""
    load_all()
    return [_REGISTRY[c] for c in sorted(_REGISTRY)]


def get(code_or_name: str) -> CheckSpec:
    """Look a check up by code (case-insensitive, redirects honoured) or name.

    Raises:
        KeyError: with a message listing close matches.
    """
    load_all()
    key = code_or_name.strip()
    upper = REDIRECTS.get(key.upper(), key.upper())
    if upper in _REGISTRY:
        return _REGISTRY[upper]
    for spec in _REGISTRY.values():
        if spec.name == key.lower():
            return spec
    import difflib

    names = list(_REGISTRY) + [s.name for s in _REGISTRY.values()]
    close = difflib.get_close_matches(key, names, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else " Run `cifar-doctor checks` for the list."
    raise KeyError(f"Unknown check {code_or_name!r}.{hint}")


def select(prefixes: list[str] | None = None, ignore: list[str] | None = None) -> list[CheckSpec]:
    """Checks whose code starts with one of `prefixes` (all if None), minus `ignore`.

    A selector is a code (`PRE001`), a code prefix (`PRE`, `PRE0`) or a check
    name (`train-test-scale-mismatch`), case-insensitive; redirected codes count.

    Raises:
        UsageError: a selector matches no check (naming `select` or `ignore`).
    """
    specs = all_checks()
    if prefixes:
        keys = _selectors(prefixes, "select")
        specs = [s for s in specs if _matches(s, keys)]
    if ignore:
        keys = _selectors(ignore, "ignore")
        specs = [s for s in specs if not _matches(s, keys)]
    return specs


def _matches(spec: CheckSpec, keys: list[str]) -> bool:
    return any(spec.code.startswith(k) or spec.name == k.lower() for k in keys)


def _selectors(values: list[str], param: str) -> list[str]:
    """Upper-cased selectors with redirects applied; an unknown one is a usage error."""

    keys = [REDIRECTS.get(v.strip().upper(), v.strip().upper()) for v in values]
    unknown = [v for v, k in zip(values, keys) if not any(_matches(s, [k]) for s in all_checks())]
    if unknown:
        raise invalid_value(
            param,
            unknown,
            expected="check codes (PRE001), code prefixes or check names; families: " + ", ".join(FAMILIES),
            hint="Run `cifar-doctor checks` for every code",
        )
    return keys
