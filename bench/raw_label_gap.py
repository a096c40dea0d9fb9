"""How LBL010's model-free witness, the raw-image gap, reads real human label noise across slices of CIFAR-10.

`image_label_gap` (`cifar_doctor.measure.noise`) fits a logistic regression on random-patch
features of the raw training images by folds and compares its held-out agreement with the
training labels against its accuracy on the eval labels, as a fraction of wrong labels. It
involves no model, so it can be read on many label sets without training anything. This bench
reads it on `SLICES` disjoint slices of 4,000 CIFAR-10 training images (eval: 1,000 test images,
a different thousand for each slice) with the CIFAR-10N labels `clean` (0%) and `aggre` (about
9%), and mixtures of human noise: the `worse` label on a seeded random 30, 40 or 50% of the
images, the `clean` label elsewhere (about 12, 16 and 20% wrong). For each label set it prints
the range of wrong fractions, the readings, and how many of them corroborate an estimate under
LBL010's bar (`CORROBORATING_GAP`, `CORROBORATING_ERRORS`) and how many rule the cause out
(`CLEAN_GAP`).

Usage:

    python bench/raw_label_gap.py [--data ../shared/data] [--slices 12] [--jsonl FILE]

About 6.5 s a reading on two CPU cores: 7 minutes for the 60 readings of 12 slices.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cifar_doctor.checks.labels.noise import CLEAN_GAP, CORROBORATING_ERRORS, CORROBORATING_GAP, corroborates  # noqa: E402
from cifar_doctor.measure.noise import image_label_gap  # noqa: E402

SLICES = 12
TRAIN_IMAGES = 4000
EVAL_IMAGES = 1000

#: Shares of the images that carry the `worse` label in the mixtures (seeded per slice).
SHARES = (0.3, 0.4, 0.5)

#: Seed of a slice's mixture draws: `MIX_SEED + slice`.
MIX_SEED = 100


def label_sets(clean: np.ndarray, aggre: np.ndarray, worse: np.ndarray, s: int) -> dict[str, np.ndarray]:
    """The label sets read on slice `s` (arrays already cut to the slice)."""
    rng = np.random.default_rng(MIX_SEED + s)
    sets = {"clean": clean, "aggre": aggre}
    for share in SHARES:
        sets[f"worse on {share:.0%}"] = np.where(rng.random(len(clean)) < share, worse, clean)
    return sets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder with cifar10/ and cifar10n/")
    parser.add_argument("--slices", type=int, default=SLICES, help="slices of 4,000 training images (at most 12)")
    parser.add_argument("--jsonl", help="also write each reading to this file")
    args = parser.parse_args(argv)
    data = Path(args.data)
    with np.load(data / "cifar10" / "cifar10.npz", allow_pickle=False) as d:
        x, xt, yt = d["x_train"], d["x_test"], d["y_test"].reshape(-1)
    with np.load(data / "cifar10n" / "cifar10n_labels.npz", allow_pickle=False) as n:
        clean, aggre, worse = n["clean"], n["aggre"], n["worse"]
    out = open(args.jsonl, "w") if args.jsonl else None
    readings: dict[str, list[dict]] = {}
    for s in range(min(args.slices, len(x) // TRAIN_IMAGES)):
        tr = slice(TRAIN_IMAGES * s, TRAIN_IMAGES * (s + 1))
        e = (s % (len(xt) // EVAL_IMAGES)) * EVAL_IMAGES
        ev = slice(e, e + EVAL_IMAGES)
        for name, labels in label_sets(clean[tr], aggre[tr], worse[tr], s).items():
            read = image_label_gap(x[tr], labels, xt[ev], yt[ev], 10)
            if read is None:
                continue
            read = {"slice": s, "labels": name, "wrong": round(float((labels != clean[tr]).mean()), 4), **read}
            readings.setdefault(name, []).append(read)
            print(json.dumps(read), file=sys.stderr, flush=True)
            if out:
                out.write(json.dumps(read) + "\n")
    bar = f"max({CORROBORATING_GAP}, {CORROBORATING_ERRORS:g} s.e.)"
    print(f"| labels | wrong | raw-image gap | corroborates ({bar}) | rules out (< {CLEAN_GAP}) |")
    print("|---|---|---|---|---|")
    for name, reads in readings.items():
        wrong = [r["wrong"] for r in reads]
        gaps = [r["image_label_gap"] for r in reads]
        print(
            f"| {name} | {min(wrong):.1%}-{max(wrong):.1%} | {min(gaps):.2f} to {max(gaps):.2f} "
            f"(mean {np.mean(gaps):.2f}) | {sum(map(corroborates, reads))} of {len(reads)} "
            f"| {sum(r['image_label_gap'] < CLEAN_GAP for r in reads)} of {len(reads)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
