"""Run the registered checks on an `Inputs`, then decide the verdict.

This is the one diagnosis path: the `check` CLI, `watch`, `compare`, the Keras
callback and `diagnose()` all end here. A check whose inputs are missing is
recorded as skipped with the reason; a check that raises is recorded as
crashed with the error, and the run goes on. A finding of a check declared
`superseded_by` another is dropped on a split where that other check found
something (`drop_superseded`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import Any

from .calibration import SETTLING_ORDER, SOURCE_REQUIREMENTS, calibrate
from .counterfactual import Counterfactual, run_counterfactuals
from .diagnosis import decide
from .findings import Finding
from .inputs import EVAL_SPLITS, STATS_KEY, Inputs, Split
from .measure.history import from_training_start
from .memo import remember
from .registry import CheckSpec, need, select, speak
from .report import CheckOutcome, Report
from .runners.base import DIRECT, ThreadedRunner
from .sources.base import while_reading


def ahead(key: str, x: Any, *, select_codes: list[str] | None = None, ignore_codes: list[str] | None = None) -> None:
    """Work on one split's images while the rest of the data is still being read.

    A reader calls this (`sources.base.while_reading`) with an array it has read while it reads or
    hands over others: the split's statistics, which every data check reads, and the `ahead` part of
    each selected check (`CheckSpec.ahead`) are computed then, on one thread (the other cores are
    busy), and kept for this array (`cifar_doctor.memo`): the checks find them instead of computing
    them again, the same values either way. Never raises: what fails here fails again in the check,
    which reports it.
    """
    name = key.removeprefix("x_")
    if not key.startswith("x_") or name not in ("train", *EVAL_SPLITS):
        return
    split = Split(name, x, runner=ThreadedRunner(1))
    try:
        remember(x, STATS_KEY, split.stats)
        for spec in select(select_codes, ignore_codes):
            if spec.ahead is not None:
                spec.ahead(split)
    except Exception:  # noqa: BLE001 - the check meets the same error on the same array and reports it
        return


def reading_ahead(
    select_codes: list[str] | None = None, ignore_codes: list[str] | None = None, runner: Any = None
) -> contextlib.AbstractContextManager[None]:
    """The block in which data readers hand each split's images over to `ahead` as soon as they are read
    (for the checks `select_codes` and `ignore_codes` leave), when the full passes run in this process
    (`runner` `None` or the direct runner): `with reading_ahead(...): inputs = build_inputs(data=...)`."""
    in_process = runner is None or runner is DIRECT
    return while_reading(partial(ahead, select_codes=select_codes, ignore_codes=ignore_codes) if in_process else None)


def run_checks(
    inputs: Inputs, specs: Iterable[CheckSpec], hints: dict[str, str] | None = None
) -> tuple[list[Finding], list[CheckOutcome]]:
    """Run `specs` on `inputs`; never raises for a failing check.

    `hints` says how the caller supplies each requirement (`registry.PYTHON_HINTS` by default).
    """
    specs = list(specs)
    findings: list[Finding] = []
    outcomes: list[CheckOutcome] = []
    for spec in specs:
        missing = tuple(need(r, hints) for r in spec.requires if not inputs.has(r))
        if missing:
            outcomes.append(CheckOutcome(spec.code, spec.name, "skipped", "; ".join(missing), missing=missing))
            continue
        try:
            found = list(spec(inputs) or [])
        except Exception as exc:  # a broken check must not hide the others
            outcomes.append(CheckOutcome(spec.code, spec.name, "crashed", f"{type(exc).__name__}: {exc}"))
            continue
        findings.extend(in_words(f, hints) for f in found)
        outcomes.append(CheckOutcome(spec.code, spec.name, "ran", None, len(found)))
    return drop_superseded(findings, outcomes, specs)


def in_words(finding: Finding, hints: dict[str, str] | None) -> Finding:
    """The finding with its message placeholders (`registry.MESSAGE_PLACEHOLDERS`) in the front end's words."""
    fix = finding.fix
    if fix is not None and "{" in fix.title:
        fix = replace(fix, title=speak(fix.title, hints))
    evidence = {k: speak(v, hints) if isinstance(v, str) else v for k, v in finding.evidence.items()}
    return replace(
        finding,
        message=speak(finding.message, hints),
        fix=fix,
        evidence=evidence,
        explanation=speak(finding.explanation, hints) if finding.explanation else finding.explanation,
    )


def drop_superseded(
    findings: list[Finding], outcomes: list[CheckOutcome], specs: Iterable[CheckSpec]
) -> tuple[list[Finding], list[CheckOutcome]]:
    """Drop each finding whose check is `superseded_by` a check that found something on the same split, or,
    for a finding about the whole run (no split), on any split.

    The outcomes' finding counts are those of the findings kept.
    """
    superseded_by = {spec.code: spec.superseded_by for spec in specs if spec.superseded_by}
    if not superseded_by:
        return findings, outcomes
    fired = {(f.code, f.split) for f in findings}
    anywhere = {f.code for f in findings}

    def superseded(f: Finding) -> bool:
        codes = superseded_by.get(f.code, ())
        return any(code in anywhere if f.split is None else (code, f.split) in fired for code in codes)

    kept = [f for f in findings if not superseded(f)]
    if len(kept) == len(findings):
        return findings, outcomes
    counts: dict[str, int] = {}
    for f in kept:
        counts[f.code] = counts.get(f.code, 0) + 1
    outcomes = [replace(o, findings=counts.get(o.code, 0)) if o.status == "ran" else o for o in outcomes]
    return kept, outcomes


def run(
    inputs: Inputs,
    *,
    select_codes: list[str] | None = None,
    ignore_codes: list[str] | None = None,
    counterfactual: bool = True,
    extra: dict[str, Any] | None = None,
    hints: dict[str, str] | None = None,
    calibrated: bool = True,
) -> Report:
    """Diagnose `inputs`: run the checks, test what can be tested, decide.

    Args:
        inputs: The evidence.
        select_codes: Only checks whose code starts with one of these. Defaults to `None` (all).
        ignore_codes: Skip checks whose code starts with one of these. Defaults to `None`.
        counterfactual: Evaluate the model on eval data with each proposed data fix
            applied, when a model evaluator is available. Defaults to `True`.
        extra: Additional plain sections for the report (e.g. `watch`: the command run). Defaults to `None`.
        hints: How the caller supplies each requirement, shown in skip reasons. Defaults to
            `None` (`registry.PYTHON_HINTS`, the parameters of `diagnose`).
        calibrated: State the verdict's confidence as the frequency measured on the run corpus for
            its evidence, and abstain where that evidence was mostly wrong (`cifar_doctor.calibration`).
            `False` gives the rules' own verdict and confidence. Defaults to `True`.

    Returns:
        A `Report`.
    """
    specs = select(select_codes, ignore_codes)
    findings, outcomes = run_checks(inputs, specs, hints)
    counterfactuals: list[Counterfactual] = []
    if counterfactual and inputs.evaluate is not None:
        counterfactuals = run_counterfactuals(inputs, findings)
    verdict = decide(
        findings,
        ran=[o.code for o in outcomes if o.status == "ran"],
        missing=[need for o in outcomes for need in o.missing],
        counterfactuals=counterfactuals,
    )
    if calibrated:
        given = [r for r in dict.fromkeys((*SOURCE_REQUIREMENTS, *SETTLING_ORDER)) if inputs.has(r)]
        settle = {r: need(r, hints).removeprefix("needs ") for r in SETTLING_ORDER if r not in given}
        partial = inputs.history is not None and not from_training_start(inputs.history)
        verdict = calibrate(verdict, findings, given=given, settle=settle, partial_log=partial)
    return Report(
        inputs=inputs.describe(),
        verdict=verdict,
        findings=findings,
        checks=outcomes,
        counterfactuals=counterfactuals,
        extra=dict(extra or {}),
    )
