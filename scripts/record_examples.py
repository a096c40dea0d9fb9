"""Re-record what examples/ shows (and the README points to) from the current code.

    python scripts/record_examples.py               # the examples that run in seconds (no training)
    python scripts/record_examples.py --training    # also those that train (minutes; full CIFAR-10 from
                                                    # ../shared/data/cifar10/cifar10.npz when present)
    python scripts/record_examples.py --screenshot  # also the HTML report of compare and its screenshot
                                                    # (scripts/screenshot_report.sh: trains, needs chromium)
    python scripts/record_examples.py --check       # write nothing: exit 1 naming each stale recording
    python scripts/record_examples.py NAME ...      # only these examples

Each recording is `examples/NAME.txt`: the command, what a terminal of `COLUMNS` columns shows (stdout
and stderr together, no colour, TensorFlow's own start-up lines removed) and the exit code. The
examples marked `deterministic` print the same on every run; `tests/test_examples.py` fails when their
recording no longer matches the code. The others train a model, whose numbers move from run to run:
only their structure is tested (a verdict line, the exit code line).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: The recordings' terminal width: what most terminals open with, where cutting and wrapping show first.
COLUMNS = 80
#: The full data for the training examples, when this checkout sits beside the shared folder.
FULL_DATA = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz"
SAMPLE = "cifar_doctor/data/cifar10_sample.npz"
#: Lines that TensorFlow's native code prints at start-up: not cifar-doctor's, and not on every machine.
TF_NOISE = re.compile(r"^(WARNING: All log messages|I0000|W0000|E0000)")
HEADER = "# stdout and stderr together, as on a terminal (TensorFlow's own start-up log lines removed)"


@dataclass(frozen=True)
class Example:
    """One recorded example.

    Attributes:
        name: `examples/NAME.txt`.
        command: A shell command run from the repository root. `{python}` is the interpreter (shown as
            `python`), `{doctor}` the CLI (shown as `cifar-doctor`), `{data}` the CIFAR-10 file.
        deterministic: The same output on every run, compared in full by the tests.
        note: Why a recording is not compared in full.
    """

    name: str
    command: str
    deterministic: bool
    note: str = ""


ALL = (
    Example(
        "diagnose_my_arrays",
        "{python} examples/diagnose_my_arrays.py; "
        "{python} examples/diagnose_my_arrays.py --seed-bug --loss categorical_crossentropy",
        True,
    ),
    Example("pipe_json", f"examples/pipe_json.sh --recipe original --data {SAMPLE}", True),
    Example("check_log", "{doctor} check --log tests/fixtures/logs/seed-question-run1-keras2.txt", True),
    Example("explain", "{doctor} explain PRE001", True),
    Example(
        "seed_original",
        "{python} examples/seed_original.py --data {data} --limit 10000 --epochs 3 --verbose 2",
        False,
        "trains a model: its numbers move from run to run",
    ),
    Example(
        "seed_fixed",
        "{python} examples/seed_fixed.py --data {data} --limit 5000 --epochs 3 --verbose 2",
        False,
        "trains a model: its numbers move from run to run",
    ),
    Example(
        "watch_training",
        "examples/watch_training.sh --data {data} --limit 2000 --epochs 3 --verbose 2",
        False,
        "trains a model: its numbers move from run to run",
    ),
)

#: Recorded by hand on full CIFAR-10 (18 minutes on 2 cores): the command is at the top of the file.
BY_HAND = ("compare_original_fixed",)


def _data() -> str:
    return str(FULL_DATA) if FULL_DATA.exists() else SAMPLE


def shown(example: Example) -> str:
    """The command as the recording shows it."""
    return example.command.format(python="python", doctor="cifar-doctor", data=_data())


def environment() -> dict[str, str]:
    """A terminal's environment, with this checkout's package first and its interpreter for the scripts."""
    env = dict(os.environ)
    env.update(
        NO_COLOR="1",
        COLUMNS=str(COLUMNS),
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONUNBUFFERED="1",
        CIFAR_DOCTOR_OFFLINE="1",
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    env.pop("FORCE_COLOR", None)
    return env


def record(example: Example, timeout: float = 3600) -> str:
    """Run `example` and return its recording (the text of `examples/NAME.txt`)."""
    command = example.command.format(
        python=f'"{sys.executable}"', doctor=f'"{sys.executable}" -m cifar_doctor', data=_data()
    )
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if not TF_NOISE.match(ln)]
    return "\n".join([f"$ {shown(example)}", HEADER, *lines, f"# exit code: {proc.returncode}"]) + "\n"


def path(example: Example) -> Path:
    return EXAMPLES / f"{example.name}.txt"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="Only these examples.")
    ap.add_argument("--training", action="store_true", help="Also the examples that train (minutes).")
    ap.add_argument("--screenshot", action="store_true", help="Also the HTML report of compare and its screenshot.")
    ap.add_argument("--check", action="store_true", help="Write nothing; exit 1 when a recording is stale.")
    args = ap.parse_args(argv)
    unknown = set(args.names) - {e.name for e in ALL}
    if unknown:
        ap.error(f"unknown example {', '.join(sorted(unknown))}; known: {', '.join(e.name for e in ALL)}")
    chosen = [e for e in ALL if (e.name in args.names if args.names else (e.deterministic or args.training))]
    stale = []
    for example in chosen:
        text = record(example)
        if args.check:
            if not path(example).exists() or path(example).read_text(encoding="utf-8") != text:
                stale.append(example.name)
            continue
        path(example).write_text(text, encoding="utf-8")
        print(f"recorded {path(example).relative_to(ROOT)}", file=sys.stderr)
    if args.screenshot and not args.check:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "screenshot_report.sh")],
            cwd=ROOT,
            check=True,
            env=dict(environment(), PYTHON=sys.executable),
        )
    if not args.training and not args.names:
        print(
            "not re-recorded (they train; --training): "
            + ", ".join(e.name for e in ALL if not e.deterministic)
            + "; by hand on full CIFAR-10: "
            + ", ".join(BY_HAND),
            file=sys.stderr,
        )
    if stale:
        print("stale: " + ", ".join(stale) + " (python scripts/record_examples.py to re-record)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
