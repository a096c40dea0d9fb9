"""`cifar-doctor check`, `checks` and `explain`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import UsageError, invalid_value
from ..render import Format
from .common import (
    CHECK_HINTS,
    DATA_HELP,
    check_output,
    classes_option,
    emit,
    exit_for,
    fail_on_option,
    format_option,
    ignore_option,
    json_option,
    output_format,
    output_option,
    select_option,
    split_codes,
    validate_fail_on,
)
from .completion import complete_check


def check(
    data: Optional[Path] = typer.Option(None, "--data", "-d", help=DATA_HELP),
    train: Optional[Path] = typer.Option(None, "--train", help="A folder of class folders of training images."),
    evals: Optional[list[Path]] = typer.Option(
        None, "--eval", help="A folder of class folders of test (first --eval) or validation (second) images."
    ),
    recipe: Optional[str] = typer.Option(
        None,
        "--recipe",
        "-r",
        help="Check the data pipeline of a built-in recipe (original, revised, fixed, keras-example). "
        "With no other input, --recipe original.",
    ),
    loss: Optional[str] = typer.Option(None, "--loss", help="The loss you train with, e.g. categorical_crossentropy."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="A .keras model (loaded with safe_mode=True)."),
    log: Optional[str] = typer.Option(
        None,
        "--log",
        "-l",
        help="A training log (console output, CSVLogger CSV, History JSON) or a TensorBoard "
        "log_dir or event file; - for stdin.",
    ),
    classes: Optional[int] = classes_option(),
    limit: Optional[int] = typer.Option(None, "--limit", help="Check only the first N images of each split."),
    fmt: Format = format_option(),
    json_flag: bool = json_option(),
    output: Optional[Path] = output_option(),
    fail_on: str = fail_on_option(),
    select: Optional[list[str]] = select_option(),
    ignore: Optional[list[str]] = ignore_option(),
    runner: str = typer.Option(
        "direct",
        "--runner",
        help="Where the passes that read every image (duplicates, statistics) run: direct (this process) "
        "or beam (an Apache Beam pipeline; Beam's own flags follow `--`, e.g. -- --runner=DataflowRunner).",
    ),
    beam_flags: Optional[list[str]] = typer.Argument(
        None, metavar="[-- BEAM_FLAGS...]", help="Apache Beam pipeline options, passed through (with --runner beam)."
    ),
) -> None:
    """Check data, labels, a model and/or a training log; print a verdict and findings."""
    from .heap import keep_freed_memory

    keep_freed_memory()  # the passes over image splits reuse the blocks they free (cifar_doctor.cli.heap)
    from ..api import build_inputs
    from ..engine import reading_ahead, run
    from ..inputs import check_classes
    from ..registry import select as select_checks
    from ..runners.named import runner_named

    # every option is checked before any data is read
    validate_fail_on(fail_on)
    check_output(output, [data, model, log, train, *(evals or [])])
    check_classes(classes)
    if limit is not None and limit < 1:
        raise invalid_value("limit", limit, expected="a positive integer")
    if loss is not None:
        from ..sources.losses import canonical_loss_name

        loss = canonical_loss_name(loss)
    if (train is None) != (not evals):
        raise UsageError("--train and --eval go together: a folder of training images and one of eval images")
    if train is not None and (data is not None or recipe is not None):
        raise UsageError("--train/--eval replace --data and --recipe: give one or the other")
    sel, ign = split_codes(select), split_codes(ignore)
    select_checks(sel, ign)
    full_pass = runner_named(runner, beam_flags or [])
    if data is None and train is None and recipe is None and model is None and log is None:
        recipe = "original"  # `check` alone: the pipeline of the question this tool comes from
    # work on each split's images alone is done while the others are still read (`engine.ahead`)
    with reading_ahead(sel, ign, full_pass):
        inputs = build_inputs(
            data=data,
            recipe=recipe,
            loss=loss,
            model=model,
            log=log,
            classes=classes,
            limit=limit,
            train_folder=train,
            eval_folders=evals or None,
            runner=full_pass,
        )
    report = run(inputs, select_codes=sel, ignore_codes=ign, hints=CHECK_HINTS)
    emit(report, output_format(fmt, json_flag), output)
    raise typer.Exit(exit_for(report, fail_on))


def list_checks(
    json_flag: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
) -> None:
    """List every check: code, name, what it needs, the cause it supports."""
    from ..registry import FAMILIES, all_checks

    specs = all_checks()
    if json_flag:
        import json

        typer.echo(json.dumps({"schema_version": "1.0", "checks": [s.to_dict() for s in specs]}, indent=2))
        return
    from ..render.catalog import print_checks

    print_checks(specs, FAMILIES)


def explain(
    code: str = typer.Argument(
        ...,
        help="A check code (PRE001) or name (train-test-scale-mismatch), or a verdict's cause (metric-not-applicable).",
        autocompletion=complete_check,
    ),
) -> None:
    """Print a check's documentation, or what a verdict's cause means and which checks support it."""
    from ..diagnosis import CAUSES, PRECEDENCE
    from ..registry import FAMILIES, all_checks, get

    try:
        spec = get(code)
    except KeyError as exc:
        cause = code.strip().lower()
        if cause not in CAUSES:
            raise UsageError(f"{exc.args[0]} Causes: {', '.join(CAUSES)}.") from None
        from ..render.catalog import print_cause

        rank = PRECEDENCE.index(cause) + 1 if cause in PRECEDENCE else None
        print_cause(cause, CAUSES[cause], rank, [s for s in all_checks() if s.cause == cause])
        return
    from ..render.catalog import print_explanation

    print_explanation(spec, FAMILIES[spec.family])
