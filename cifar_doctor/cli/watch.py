"""`cifar-doctor watch -- CMD ...`: run a training command and diagnose its output live.

The command's merged stdout and stderr pass through unchanged, byte for byte,
to our stdout (its console). They are parsed as they stream
(`cifar_doctor.sources.logs.LogParser`); after each completed epoch a
`cifar_doctor.session.Session` diagnoses the history so far, and a new error or
warning is printed at once on stderr (`cifar_doctor.render.live`; for the seed
bug: at the end of epoch 1). When the command ends, the report is printed.

Streams:

- default: the command's output and then the report (`--format`) on stdout,
  live warnings on stderr;
- `--json` (= `--format json`, as on every command): the JSON report alone on
  stdout, the command's output moved to stderr, so
  `watch --json -- python train.py > report.json` keeps the console visible;
- `--json-out FILE`: the JSON report is also written to FILE;
- `--output FILE`: the report (`--format`) goes to FILE instead of stdout,
  and the command's output stays on stdout whatever the format.

Exit code: the command's own when it fails (or 128+N when killed by signal N,
130 on Ctrl-C), else 0/1/2 by `--fail-on` as for `check`; 2 when the command cannot be started.
Ctrl-C is forwarded to the command (it runs in its own process group and gets
exactly one SIGINT); what was seen until then is reported.
"""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import UsageError
from ..render import Format
from .common import (
    WATCH_HINTS,
    check_output,
    classes_option,
    emit,
    exit_for,
    fail_on_option,
    format_option,
    ignore_option,
    output_format,
    output_option,
    select_option,
    split_codes,
    validate_fail_on,
)

#: Bytes read from the command at a time.
READ_BYTES = 65536

#: Severity floor of the live alerts: a log shows problems as warnings long
#: before they are errors (a validation loss drifting up), and a person watching
#: a run wants to hear of both.
LIVE_FLOOR = "warning"


class _Sink:
    """Where the command's bytes go; survives a closed pipe (`| head`)."""

    def __init__(self, stream: Any) -> None:
        self.buf = getattr(stream, "buffer", stream)
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self.buf.write(data)
            self.buf.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.broken = True


def watch(
    command: list[str] = typer.Argument(..., metavar="-- CMD [ARGS]...", help="The training command to run."),
    classes: Optional[int] = classes_option(),
    fmt: Format = format_option("Format of the final report."),
    json_flag: bool = typer.Option(
        False,
        "--json",
        help="Alias for --format json: the JSON report alone on stdout, the command's output on stderr.",
    ),
    json_out: Optional[Path] = typer.Option(
        None, "--json-out", metavar="FILE", help="Also write the JSON report to FILE."
    ),
    output: Optional[Path] = output_option(),
    fail_on: str = fail_on_option(),
    select: Optional[list[str]] = select_option(),
    ignore: Optional[list[str]] = ignore_option(),
) -> None:
    """Run a training command, pass its output through, and warn the moment its log shows a problem."""
    from ..api import build_inputs
    from ..render.live import print_alert, print_notice
    from ..session import Session
    from ..sources.logs import LogParser

    validate_fail_on(fail_on)
    check_output(output, [json_out])
    check_output(json_out, [output], param="json_out")
    if not command:
        raise UsageError(
            "No command given to watch",
            expected="cifar-doctor watch -- CMD [ARGS]...",
            hint="e.g. cifar-doctor watch -- python train.py",
        )
    inputs = build_inputs(classes=classes, provenance={"log": "watch: " + " ".join(command)})
    session = Session(
        inputs, floor=LIVE_FLOOR, select=split_codes(select), ignore=split_codes(ignore), hints=WATCH_HINTS
    )
    fmt = output_format(fmt, json_flag)
    sink = _Sink(sys.stderr if fmt is Format.json and output is None else sys.stdout)
    parser = LogParser()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def on_output(data: bytes) -> None:
        sink.write(data)
        if parser.feed(decoder.decode(data)):
            update = session.update(parser.history(classes=classes, source="watch"))
            if update.new:
                print_alert(update.new, update.report.verdict, epoch=update.epoch, action="Training goes on.")

    rc, interrupted = _run_command(command, on_output)
    parser.feed(decoder.decode(b"", final=True))
    parser.finish()
    history = parser.history(classes=classes, source="watch")
    status = {"command": list(command), "returncode": rc, "interrupted": interrupted, "epochs_seen": history.epochs}
    report = session.finish(history if history.epochs else None, extra={"watch": status})
    if rc != 0:
        why = (
            "was interrupted"
            if interrupted
            else (f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}")
        )
        print_notice(f"the command {why} after {history.epochs} complete epoch(s).")
    if history.epochs == 0:
        print_notice("no Keras epoch lines seen (train with verbose=1 or 2).")
    if json_out is not None:
        from ..atomic import write_text

        write_text(json_out, report.to_json() + "\n")
    emit(report, fmt, output)
    if interrupted:
        raise typer.Exit(130)
    if rc != 0:
        raise typer.Exit(128 - rc if rc < 0 else rc)
    raise typer.Exit(exit_for(report, fail_on))


def _run_command(command: list[str], on_output: Any) -> tuple[int, bool]:
    """Run `command` in its own process group, hand its merged output to `on_output`, forward signals.

    Returns:
        `(returncode, interrupted)`: the command's return code (negative: killed
        by that signal) and whether Ctrl-C was pressed.
    """
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        # the command and its children in a process group of their own, so that stopping it stops them all
        # (Popen's process_group is Python 3.11+; os.setpgrp in the child does the same on 3.10)
        group: dict[str, Any] = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, bufsize=0, **group)
    except FileNotFoundError:
        raise UsageError(
            f"Cannot run `{command[0]}`: command not found",
            expected="a command on PATH, e.g. python train.py",
            received=" ".join(command),
        ) from None
    except PermissionError:
        raise UsageError(f"Cannot run `{command[0]}`: permission denied", received=" ".join(command)) from None

    interrupts = 0

    def forward(signum: int, _frame: Any) -> None:
        nonlocal interrupts
        if signum == signal.SIGINT:
            interrupts += 1
        try:
            os.killpg(proc.pid, signum if interrupts < 3 else signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    assert proc.stdout is not None  # stdout=PIPE
    fd = proc.stdout.fileno()
    try:
        while True:
            data = os.read(fd, READ_BYTES)
            if not data:
                break
            on_output(data)
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rc, interrupts > 0
