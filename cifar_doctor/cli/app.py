"""The `cifar-doctor` command line: one Typer app, errors mapped in one place.

stdout carries the report only; progress, notices and hints go to stderr.
Exit codes: 0 nothing at or above `--fail-on`, 1 findings at or above it,
2 usage error, unreadable input or an internal failure.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from ..errors import DoctorError
from ..sanitize import one_line
from ..version import __version__
from .common import FLAGS

app = typer.Typer(
    name="cifar-doctor",
    help="Tell a Keras user why validation accuracy lags training accuracy: pipeline bug or overfitting.",
    no_args_is_help=False,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEBUG = False

#: Frameworks that do work in their exit handlers (flushing logs, releasing devices, stopping workers):
#: while one is imported, the process ends through the interpreter's own teardown (`run`).
TEARDOWN_MODULES = ("tensorflow", "keras", "jax", "torch", "apache_beam")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cifar-doctor {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Diagnose a Keras image classifier: data, labels, model and training log."""
    global DEBUG
    DEBUG = DEBUG or debug
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def _register() -> None:
    """Commands live in their own modules (one per command group); they know nothing of `app`."""
    from . import check, compare, watch

    app.command()(check.check)
    app.command("checks")(check.list_checks)
    app.command()(check.explain)
    app.command()(compare.compare)
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False}
    )(watch.watch)


_register()


def error_line(exc: BaseException) -> str:
    """The one line shown for an exception (the traceback only with --debug).

    Library errors name Python parameters (`loss=`); here they read as the flags (`--loss`).
    Messages quote inputs (file names, keys), so the line is `sanitize.one_line`: newlines
    and escape sequences are shown as escapes, never sent to the terminal.
    """
    return one_line(_error_text(exc))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DoctorError):
        return f"Error: {exc.line(FLAGS)}"
    if isinstance(exc, MemoryError):
        return "Error: out of memory while loading or checking the data. Try --limit N to check a subset."
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted."
    return (
        f"Error: internal error ({type(exc).__name__}: {exc}). "
        "Run again with --debug for the traceback, and report it if the input looks valid."
    )


def _cli_exception_types() -> tuple[tuple[type[Any], ...], tuple[type[Any], ...], tuple[type[Any], ...]]:
    """Exit, Abort and usage-error classes of typer and of the click it runs on.

    typer >= 0.22 vendors click as `typer._click`; a separately installed click
    may be present too, so both families are collected. Typed `type[Any]`: the
    click modules are imported by name, so their attributes are not known here.
    """
    import typer

    exits, aborts, usage = [typer.Exit], [typer.Abort], []
    for mod in ("typer._click", "click"):
        try:
            click = __import__(mod, fromlist=["exceptions"])
        except ImportError:
            continue
        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
        usage.append(click.exceptions.ClickException)
    return tuple(exits), tuple(aborts), tuple(usage)


def run() -> None:
    """The `cifar-doctor` command (and `python -m cifar_doctor`): `main`, then the end of the process.

    When no framework of `TEARDOWN_MODULES` was imported (data and log checks, `explain`, `checks`), the
    process ends as soon as its output is flushed, without the interpreter freeing every array and
    module one by one first: that teardown took 40-85 ms after a 2 s check of full CIFAR-10, 12 ms
    without it (measured here). A failed flush (a closed pipe) ends it the usual way.
    """
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if not (code is None or type(code) is int) or any(name in sys.modules for name in TEARDOWN_MODULES):
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    os._exit(code or 0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command of `argv` (the process's arguments by default), exit with its code."""
    global DEBUG
    args = list(sys.argv[1:] if argv is None else argv)
    own = args[: args.index("--")] if "--" in args else args
    if "--debug" in own or os.environ.get("CIFAR_DOCTOR_DEBUG"):
        DEBUG = True
    from .. import tfenv

    tfenv.set_cli(True)  # Keras, when a command needs it, is imported without TensorFlow's start-up chatter
    tfenv.set_debug(DEBUG)  # ... which --debug shows
    try:
        rc = app(args=args, prog_name="cifar-doctor", standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - this is the one place errors are mapped
        exit_types, abort_types, usage_types = _cli_exception_types()
        if isinstance(exc, exit_types):
            sys.exit(exc.exit_code)
        if isinstance(exc, abort_types):
            sys.stderr.write("Aborted.\n")
            sys.exit(130)
        if isinstance(exc, usage_types):  # a bad option or argument: one line, like every other error
            ctx = getattr(exc, "ctx", None)
            hint = f" Try '{ctx.command_path} -h' for help." if ctx is not None else ""
            sys.stderr.write(one_line(f"Error: {exc.format_message()}{hint}") + "\n")
            sys.exit(2)
        if DEBUG:
            import traceback

            traceback.print_exc()
        sys.stderr.write(error_line(exc) + "\n")
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 2)
    sys.exit(rc if isinstance(rc, int) else 0)
