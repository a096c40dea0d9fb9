"""Diagnose your own arrays with the Python API: `cifar_doctor.diagnose(...)`.

Save the arrays exactly as your pipeline feeds them to the model (after your own
scaling and label encoding) and point this script at the file:

    np.savez("my_data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    python examples/diagnose_my_arrays.py my_data.npz [--loss categorical_crossentropy]

Without a path it reads the bundled CIFAR-10 sample (2,500 training and 1,000 test
images, uint8 as downloaded). `--seed-bug` applies the question's pipeline first
(training images divided by 255, test images left raw, labels one-hot) to show
what a mismatch looks like. No TensorFlow is imported: the data checks are plain NumPy.

The exit code follows the CLI: 0 no error found, 1 error findings.

Expected output (the first line is the verdict cause; the Rich report follows):
    $ python examples/diagnose_my_arrays.py
    verdict: input-not-normalized          (uint8 pixels fed raw to both splits)
    $ python examples/diagnose_my_arrays.py --seed-bug --loss categorical_crossentropy
    verdict: eval-input-scale-mismatch     (exit code 1)
See `examples/diagnose_my_arrays.txt` for the full output of both runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import cifar_doctor
from cifar_doctor.sources.datasets import load_data_path

SAMPLE = Path(cifar_doctor.__file__).resolve().parent / "data" / "cifar10_sample.npz"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default=str(SAMPLE), help="an npz with x_train, y_train, x_test, y_test")
    p.add_argument("--loss", help="the loss you train with, e.g. categorical_crossentropy")
    p.add_argument("--seed-bug", action="store_true", help="divide x_train by 255 and leave x_test raw first")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the Rich one")
    args = p.parse_args(argv)

    arrays = load_data_path(args.path).arrays  # np.load(..., allow_pickle=False) underneath
    if args.seed_bug:  # the question's pipeline: train / 255, test raw, labels one-hot (to_categorical)
        arrays["x_train"] = arrays["x_train"].astype("float32") / 255
        arrays["x_test"] = arrays["x_test"].astype("float32")
        for key in ("y_train", "y_test"):
            arrays[key] = np.eye(10, dtype="float32")[arrays[key].reshape(-1).astype(int)]

    report = cifar_doctor.diagnose(**arrays, loss=args.loss)
    if args.json:
        print(report.to_json())
    else:
        print("verdict:", report.verdict.cause)
        report.print()
    return report.exit_code("error")


if __name__ == "__main__":
    sys.exit(main())
