"""`cifar-doctor watch -- CMD ...`: run a training command and diagnose its output live.

The command's merged stdout and stderr pass through unchanged, byte for byte,
to our stdout (its console). They are parsed as they stream
(`cifar_doctor.sources.logs.LogParser`); after each completed epoch the
history checks run through the engine, and a new error or warning is printed
at once, as a Rich warning on stderr (for the seed bug: at the end of epoch 1).
When the command ends, the report is printed.

Streams:

- default: the command's output and then the report (`--format`) on stdout,
  live warnings on stderr;
- `--json` (= `--format json`, as on every command): the JSON report alone on
  stdout, the command's output moved to stderr, so
  `watch --json -- python train.py > report.json` keeps the console visible;
- `--json-out FILE`: the JSON report is also written to FILE.

Exit code: the command's own when it fails (or 128+N when killed by signal N,
130 on Ctrl-C), else 0/1 by `--fail-on`; 2 when the command cannot be started.
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
from ..findings import Severity
from ..render import Format
from .common import (
    CHECK_HINTS,
    classes_option,
    exit_for,
    fail_on_option,
    format_option,
    ignore_option,
    json_option,
    output_format,
    select_option,
    split_codes,
    validate_fail_on,
)

#: Families run live after each epoch (the ones that read a history).
LIVE_FAMILIES = ["LOG", "FIT"]

#: Bytes read from the command at a time.
READ_BYTES = 65536


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


def _live_warning(console: Any, finding: Any, epoch: int) -> None:
    from rich.text import Text

    from ..render.common import SEVERITY_ICON, SEVERITY_STYLE

    sev = finding.severity.value
    t = Text()
    t.append(f"cifar-doctor {SEVERITY_ICON[sev]} {finding.code} {finding.name}", style=SEVERITY_STYLE[sev])
    t.append(f" (after epoch {epoch}): ", style="bold")
    t.append(finding.message)
    if finding.fix is not None:
        t.append("\n  Fix: ", style="bold green")
        t.append(finding.fix.title)
    console.print(t)


def watch(
    command: list[str] = typer.Argument(..., metavar="-- CMD [ARGS]...", help="The training command to run."),
    classes: Optional[int] = classes_option(),
    fmt: Format = format_option("Format of the final report."),
    json_flag: bool = typer.Option(False, "--json", help="Alias for --format json: the JSON report alone on "
                                   "stdout, the command's output on stderr."),
    json_out: Optional[Path] = typer.Option(None, "--json-out", metavar="FILE",
                                            help="Also write the JSON report to FILE."),
    fail_on: str = fail_on_option(),
    select: Optional[list[str]] = select_option(),
    ignore: Optional[list[str]] = ignore_option(),
) -> None:
    """Run a training command, pass its output through, and warn the moment its log shows a problem."""
    from ..api import build_inputs
    from ..engine import run
    from ..render import render
    from ..render.text import make_console
    from ..sources.logs import LogParser

    from ..inputs import check_classes
    from ..registry import select as select_checks

    validate_fail_on(fail_on)
    if not command:
        raise UsageError("No command given to watch", expected="cifar-doctor watch -- CMD [ARGS]...",
                         hint="e.g. cifar-doctor watch -- python train.py")
    check_classes(classes)
    sel, ign = split_codes(select), split_codes(ignore)
    select_checks(sel, ign)
    fmt = output_format(fmt, json_flag)
    json_stdout = fmt is Format.json
    sink = _Sink(sys.stderr if json_stdout else sys.stdout)
    err = make_console(stderr=True)
    live_sel = sel or LIVE_FAMILIES

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, bufsize=0,
                                process_group=0)
    except FileNotFoundError:
        raise UsageError(f"Cannot run `{command[0]}`: command not found",
                         expected="a command on PATH, e.g. python train.py",
                         received=" ".join(command)) from None
    except PermissionError:
        raise UsageError(f"Cannot run `{command[0]}`: permission denied", received=" ".join(command)) from None

    interrupted = {"n": 0}

    def forward(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT:
            interrupted["n"] += 1
        try:
            os.killpg(proc.pid, signum if interrupted["n"] < 3 else signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    parser = LogParser()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    reported: set[str] = set()
    fd = proc.stdout.fileno()
    try:
        while True:
            data = os.read(fd, READ_BYTES)
            if not data:
                break
            sink.write(data)
            epochs = parser.feed(decoder.decode(data))
            if epochs:
                history = parser.history(classes=classes, source="watch")
                rep = run(build_inputs(history=history, classes=classes), select_codes=live_sel,
                          ignore_codes=ign, counterfactual=False, hints=CHECK_HINTS)
                for f in rep.findings:
                    if f.severity.rank >= Severity.WARNING.rank and f.code not in reported:
                        reported.add(f.code)
                        _live_warning(err, f, epochs[-1].number)
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    parser.feed(decoder.decode(b"", final=True))
    parser.finish()
    history = parser.history(classes=classes, source="watch")
    status = {"command": list(command), "returncode": rc, "interrupted": interrupted["n"] > 0,
              "epochs_seen": history.epochs}
    inputs = build_inputs(history=history if history.epochs else None, classes=classes,
                          sources={"log": "watch: " + " ".join(command)})
    report = run(inputs, select_codes=sel, ignore_codes=ign, counterfactual=False, extra={"watch": status},
                 hints=CHECK_HINTS)
    if rc != 0:
        why = "was interrupted" if interrupted["n"] else (
            f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}")
        err.print(f"cifar-doctor: the command {why} after {history.epochs} complete epoch(s).", style="yellow")
    if history.epochs == 0:
        err.print("cifar-doctor: no Keras epoch lines seen (train with verbose=1 or 2).", style="yellow")
    if json_out is not None:
        json_out.write_text(report.to_json() + "\n", encoding="utf-8")
    render(report, fmt)
    if interrupted["n"]:
        raise typer.Exit(130)
    if rc != 0:
        raise typer.Exit(128 - rc if rc < 0 else rc)
    raise typer.Exit(exit_for(report, fail_on))
