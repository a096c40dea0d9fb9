"""What the commands share: the names of their options, validation, and how a report ends a command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable

import typer

from ..errors import invalid_value
from ..render import Format
from ..report import FAIL_ON_CHOICES

#: Python parameter -> the command-line name a user types, so that an error
#: raised by the library about `loss=` reads `--loss` here.
FLAGS: dict[str, str] = {
    "loss": "--loss",
    "model": "--model",
    "data": "--data",
    "history": "--log",
    "log": "--log",
    "recipe": "--recipe",
    "train_folder": "--train",
    "eval_folders": "--eval",
    "classes": "--classes",
    "limit": "--limit",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "save": "--save",
    "select": "--select",
    "ignore": "--ignore",
    "fail_on": "--fail-on",
    "names": "RECIPE",
    "output": "--output",
    "strategy": "--strategy",
    "devices": "--devices",
}

#: How a `check` user supplies each requirement, shown after a skip reason.
CHECK_HINTS: dict[str, str] = {
    "train_x": "--data or --recipe",
    "eval_x": "--data or --recipe",
    "labels": "--data or --recipe",
    "eval_labels": "--data or --recipe",
    "loss": "--loss or a compiled --model",
    "model": "--model",
    "history": "--log",
    "evaluator": "--model with --data",
    "folders": "--data DIR with train/ and test/ class folders, or --train DIR --eval DIR",
    "label_order": "--data with arrays (an .npz or .npy files) in training order",
    "classes": "--classes K",
    "classes_arg": "--classes",
    "loss_arg": "--loss",
}

#: The same for `watch`, which reads only a training log: the rest needs `check`.
WATCH_HINTS: dict[str, str] = {
    **{k: f"cifar-doctor check {v}" for k, v in CHECK_HINTS.items()},
    "history": "Keras epoch lines in the command's output",
    "classes": "--classes K",
    "classes_arg": "--classes",
}

DATA_HELP = (
    "Data to check: an .npz with x_train, y_train, x_test, y_test (optional x_val, y_val), "
    "a cifar-10-batches-py folder, a cifar-10-python.tar.gz, a folder of .npy files (x_train.npy, ...; "
    "read in chunks), or a folder with train/ and test/ (or val/) folders of class folders of images."
)


def format_option(help: str = "Output format.") -> Any:
    return typer.Option(Format.text, "--format", "-f", help=help)


def json_option() -> Any:
    return typer.Option(False, "--json", help="Alias for --format json.")


def output_format(fmt: Format, json_flag: bool) -> Format:
    return Format.json if json_flag else fmt


def output_option() -> Any:
    return typer.Option(None, "--output", "-o", metavar="FILE",
                        help="Write the report (any --format) to FILE instead of stdout. FILE is written under a "
                             "temporary name and moved into place when complete; an input file is never replaced.")


def check_output(output: Path | None, inputs: Iterable[Any] = ()) -> None:
    """Refuse, before any work, an `--output` that is a folder, lies in no folder, or is one of the `inputs`."""
    if output is None:
        return
    if output.is_dir():
        raise invalid_value("output", output, expected="a file name, not a folder",
                            hint=f"Name a file, e.g. --output {output / 'report.html'}")
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise invalid_value("output", output, expected="a file in an existing folder",
                            hint=f"Create {parent} first")
    for src in inputs:
        if src is None or str(src) == "-":
            continue
        if _same_file(output, Path(src)):
            raise invalid_value("output", output, expected="a file that is not one of the command's inputs",
                                hint=f"{src} is read by this command: pick another name")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def emit(report: Any, fmt: Format, output: Path | None, details: bool = True) -> None:
    """Render `report` in `fmt` to stdout, or, with `output`, to that file (atomically) and say so on stderr.

    `details=False`: a comparison's compact text (other formats hold everything).
    """
    from ..render import render

    if output is None:
        render(report, fmt, details=details)
        return
    import io

    from ..atomic import write_text
    from ..errors import InputError

    buf = io.StringIO()
    render(report, fmt, file=buf, details=details)
    try:
        write_text(output, buf.getvalue())
    except OSError as exc:
        raise InputError(f"Cannot write the report to {output}", received=exc.strerror or str(exc),
                         hint="pick a writable --output path") from None
    from ..sanitize import one_line

    sys.stderr.write(one_line(f"cifar-doctor: {fmt.value} report written to {output}") + "\n")


def fail_on_option(default: str = "error", help: str | None = None) -> Any:
    return typer.Option(default, "--fail-on", help=help or f"Exit 1 when a finding is at or above this severity: "
                        f"{', '.join(FAIL_ON_CHOICES)}. Exit 2 when a check crashed (unless never).")


def select_option() -> Any:
    return typer.Option(None, "--select", help="Only these check codes, prefixes or names (e.g. PRE,LBL).")


def ignore_option() -> Any:
    return typer.Option(None, "--ignore", help="Skip these check codes, prefixes or names.")


def classes_option() -> Any:
    return typer.Option(None, "--classes", help="Number of classes, if it cannot be inferred.")


def validate_fail_on(value: str) -> str:
    if value not in FAIL_ON_CHOICES:
        raise invalid_value("fail_on", value, expected=" or ".join(FAIL_ON_CHOICES))
    return value


def split_codes(values: list[str] | None) -> list[str] | None:
    """`--select PRE,LBL --select DAT` -> ["PRE", "LBL", "DAT"]."""
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def exit_for(report: Any, fail_on: str) -> int:
    """The command's exit code for a rendered report; a crashed check also gets one line on stderr."""
    code = report.exit_code(fail_on)
    if code == 2:
        crashed = report.crashed()
        from ..sanitize import one_line

        sys.stderr.write(one_line(
            f"Error: internal error in {len(crashed)} check{'s' if len(crashed) != 1 else ''} "
            f"({'; '.join(f'{c.code}: {c.reason}' for c in crashed)}); the report above lacks "
            f"{'their' if len(crashed) != 1 else 'its'} findings. Please report it; --fail-on never ignores it."
        ) + "\n")
    return code
