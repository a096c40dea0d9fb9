"""What the commands share: the names of their options, validation, and how a report ends a command."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
    "json_out": "--json-out",
    "strategy": "--strategy",
    "devices": "--devices",
    "runner": "--runner",
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
    "read in chunks), a folder with train/ and test/ (or val/) folders of class folders of images, or a folder "
    "of TFRecord shards of encoded images (train-00000-of-00004, test-00000-of-00001, ...)."
)


def format_option(help: str = "Output format.") -> Any:
    return typer.Option(Format.text, "--format", "-f", help=help)


def json_option() -> Any:
    return typer.Option(False, "--json", help="Alias for --format json.")


def output_format(fmt: Format, json_flag: bool) -> Format:
    return Format.json if json_flag else fmt


def output_option() -> Any:
    return typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Write the report (any --format) to FILE instead of stdout. FILE is written under a "
        "temporary name and moved into place when complete; an input file is never replaced.",
    )


#: Entries of an input folder looked at to make sure `--output` is none of its files (an image in a
#: class folder, a member of an `.npy` folder, an event file): as many as the image-folder reader lists.
MAX_OUTPUT_WALK_ENTRIES = 20_000_000


def check_output(output: Path | None, inputs: Iterable[Any] = (), param: str = "output") -> None:
    """Refuse, before any work, an `--output` that would destroy something.

    Refused: an existing path that is not a regular file (a folder, a device such as
    `/dev/null`, a named pipe, a socket), a path in no folder, and a file that the command
    reads: one of the `inputs` or any file inside an input folder, compared by device and
    inode after links are resolved (a hard link or a symbolic link is the same file).
    """
    if output is None:
        return
    try:
        st: os.stat_result | None = os.stat(output)
    except FileNotFoundError:
        st = None  # a new file (or a link to nothing, which the atomic rename replaces)
    except OSError as exc:
        raise invalid_value(
            param, output, expected="a file that can be written", hint=f"{output}: {exc.strerror or exc}"
        ) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise invalid_value(
            param,
            output,
            expected="a file name, not a folder",
            hint=f"Name a file, e.g. {FLAGS.get(param, param)} {output / 'report.html'}",
        )
    if st is not None and not stat.S_ISREG(st.st_mode):
        from ..sources.regular import kind_of

        raise invalid_value(
            param,
            output,
            expected="a regular file or a new file name",
            hint=f"{output} is {kind_of(st.st_mode)}, which a report must not replace: "
            "name a file, or leave the option out to print to stdout",
        )
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise invalid_value(param, output, expected="a file in an existing folder", hint=f"Create {parent} first")
    if st is None:
        return
    target = (st.st_dev, st.st_ino)
    for src in inputs:
        if src is None or str(src) == "-":
            continue
        found = _read_by(Path(src), target)
        if found is not None:
            what = str(src) if found == Path(src) else f"{found} (in {src})"
            raise invalid_value(
                param,
                output,
                expected="a file that is not one of the command's inputs",
                hint=f"{what} is read by this command: pick another name",
            )


def _read_by(src: Path, target: tuple[int, int]) -> Path | None:
    """`src`, or the file inside folder `src`, that is the file `target` (device, inode); `None` if none is."""
    try:
        st = os.stat(src)
    except OSError:
        return None
    if (st.st_dev, st.st_ino) == target:
        return src
    if not stat.S_ISDIR(st.st_mode):
        return None
    seen = 0
    for root, dirs, files in os.walk(src, followlinks=False):
        for name in files + dirs:  # links to folders are listed among dirs and not followed
            seen += 1
            if seen > MAX_OUTPUT_WALK_ENTRIES:
                return None
            p = os.path.join(root, name)
            try:
                s = os.stat(p)
            except OSError:
                continue
            if (s.st_dev, s.st_ino) == target:
                return Path(p)
    return None


def _check_target(output: Path) -> None:
    """Just before the rename: `output` is still a regular file or absent (not swapped for a device)."""
    try:
        st = os.lstat(output)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) and _is_regular_or_absent(output):
        return
    from ..errors import InputError
    from ..sources.regular import kind_of

    raise InputError(
        f"Cannot write the report to {output}: it is now {kind_of(os.stat(output).st_mode)}",
        expected="a regular file or a new file name",
        hint="pick another --output path",
    )


def _is_regular_or_absent(p: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(p).st_mode)
    except FileNotFoundError:
        return True


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
    _check_target(output)
    try:
        write_text(output, buf.getvalue())
    except OSError as exc:
        raise InputError(
            f"Cannot write the report to {output}",
            received=exc.strerror or str(exc),
            hint="pick a writable --output path",
        ) from None
    from ..sanitize import one_line

    sys.stderr.write(one_line(f"cifar-doctor: {fmt.value} report written to {output}") + "\n")


def fail_on_option(default: str = "error", help: str | None = None) -> Any:
    return typer.Option(
        default,
        "--fail-on",
        help=help
        or f"Exit 1 when a finding is at or above this severity: "
        f"{', '.join(FAIL_ON_CHOICES)}. Exit 2 when a check crashed (unless never).",
    )


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

        sys.stderr.write(
            one_line(
                f"Error: internal error in {len(crashed)} check{'s' if len(crashed) != 1 else ''} "
                f"({'; '.join(f'{c.code}: {c.reason}' for c in crashed)}); the report above lacks "
                f"{'their' if len(crashed) != 1 else 'its'} findings. Please report it; --fail-on never ignores it."
            )
            + "\n"
        )
    return code
