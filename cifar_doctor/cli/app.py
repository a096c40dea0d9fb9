"""The `cifar-doctor` command line: one Typer app, errors mapped in one place.

stdout carries the report only; progress, notices and hints go to stderr.
Exit codes: 0 nothing at or above `--fail-on`, 1 findings at or above it,
2 usage error, unreadable input or an internal failure.
"""

from __future__ import annotations

import os
import sys

import typer

from .. import __version__
from ..errors import DoctorError

app = typer.Typer(
    name="cifar-doctor",
    help="Tell a Keras user why validation accuracy lags training accuracy: pipeline bug or overfitting.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEBUG = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cifar-doctor {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    """Diagnose a Keras image classifier: data, labels, model and training log."""
    global DEBUG
    DEBUG = DEBUG or debug
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


# Commands live in their own modules and attach themselves to `app`.
from . import check as _check  # noqa: E402,F401
from . import compare as _compare  # noqa: E402,F401
from . import watch as _watch  # noqa: E402,F401


def error_line(exc: BaseException) -> str:
    """The one line shown for an exception (the traceback only with --debug)."""
    if isinstance(exc, DoctorError):
        return f"Error: {exc.line()}"
    if isinstance(exc, MemoryError):
        return "Error: out of memory while loading or checking the data. Try --limit N to check a subset."
    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted."
    return (
        f"Error: internal error ({type(exc).__name__}: {exc}). "
        "Run again with --debug for the traceback, and report it if the input looks valid."
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    global DEBUG
    args = list(sys.argv[1:] if argv is None else argv)
    own = args[: args.index("--")] if "--" in args else args
    if "--debug" in own or os.environ.get("CIFAR_DOCTOR_DEBUG"):
        DEBUG = True
    try:
        rc = app(args=args, prog_name="cifar-doctor", standalone_mode=False)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - this is the one place errors are mapped
        try:
            import click

            Exit, Abort, ClickException = click.exceptions.Exit, click.exceptions.Abort, click.ClickException
        except ImportError:  # typer >= 0.22 vendors click as typer._click and defines Exit/Abort itself
            import typer
            from typer._click import ClickException

            Exit, Abort = typer.Exit, typer.Abort

        if isinstance(exc, Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, Abort):
            sys.stderr.write("Aborted.\n")
            sys.exit(130)
        if isinstance(exc, ClickException):
            exc.show(file=sys.stderr)
            sys.exit(2)
        if DEBUG:
            import traceback

            traceback.print_exc()
        sys.stderr.write(error_line(exc) + "\n")
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 2)
    sys.exit(rc if isinstance(rc, int) else 0)
