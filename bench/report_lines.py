"""Count the lines of the text report of `compare` at a terminal width, compact and with `--details`.

No training: the runs' reports are real diagnoses of the bundled sample (or of
`--data`) and of the question's 5-epoch log, put together as `compare original
fixed` would: `original` with test images left raw (the question's bug) and its
log, `fixed` with both splits divided by 255. Also counts the fixed comparison of
the snapshot tests. Prints one line per case: lines compact, lines with details.

Usage:

    python bench/report_lines.py [--columns 80] [--data PATH.npz] [--show]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cifar_doctor import diagnose  # noqa: E402
from cifar_doctor.comparison import ComparisonReport, RunResult  # noqa: E402
from cifar_doctor.render import render  # noqa: E402
from cifar_doctor.sources.logs import read_history  # noqa: E402

SAMPLE = ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz"
LOG = ROOT / "tests" / "fixtures" / "logs" / "seed-question-run1-keras2.txt"
#: Images per split taken from the data: enough for every data check, seconds to diagnose.
IMAGES = 2000


def realistic(data: Path) -> ComparisonReport:
    """`original` (test raw, with the question's log) and `fixed` (both / 255), diagnosed for real."""
    d = np.load(data, allow_pickle=False)
    x, xt = d["x_train"][:IMAGES], d["x_test"][:IMAGES]
    # one-hot, as the recipes feed categorical_crossentropy
    y, yt = (np.eye(10, dtype="float32")[d[k][:IMAGES].ravel()] for k in ("y_train", "y_test"))
    history = read_history(str(LOG))
    original = diagnose(
        x_train=x.astype("float32") / 255,
        y_train=y,
        x_test=xt.astype("float32"),
        y_test=yt,
        history=history,
        loss="categorical_crossentropy",
    )
    fixed = diagnose(
        x_train=x.astype("float32") / 255,
        y_train=y,
        x_test=xt.astype("float32") / 255,
        y_test=yt,
        loss="categorical_crossentropy",
    )
    # named as compare's runs name them (Keras 3: accuracy, not acc)
    curves = {k.replace("acc", "accuracy") if k.endswith("acc") else k: list(v) for k, v in history.metrics.items()}
    settings = {"batch_size": 32, "train_images": len(x), "test_images": len(xt)}
    return ComparisonReport.of(
        [
            RunResult(
                "original",
                "original",
                original,
                history=curves,
                settings=settings,
                epochs_run=5,
                eval_to_train_scale=255.0,
            ),
            RunResult("fixed", "fixed", fixed, history={}, settings=settings, epochs_run=5, eval_to_train_scale=1.0),
        ]
    )


def lines(report: ComparisonReport, details: bool) -> str:
    buf = io.StringIO()
    render(report, "text", file=buf, details=details)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--columns", type=int, default=80)
    ap.add_argument("--data", type=Path, default=SAMPLE)
    ap.add_argument("--show", action="store_true", help="Also print the compact reports.")
    args = ap.parse_args()
    os.environ.update(COLUMNS=str(args.columns), NO_COLOR="1")
    from test_snapshots import comparison

    for name, report in (
        ("snapshot comparison (2 runs, 2 epochs)", comparison()),
        (f"real diagnoses ({args.data.name}, question's log)", realistic(args.data)),
    ):
        compact, full = lines(report, False), lines(report, True)
        print(
            f"{name}: {len(compact.splitlines())} lines compact, {len(full.splitlines())} with --details "
            f"(COLUMNS={args.columns})"
        )
        if args.show:
            print(compact)


if __name__ == "__main__":
    main()
