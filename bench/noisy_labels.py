"""How well LBL010 estimates wrong training labels, on real human label noise (CIFAR-10N).

Trains the small CNN of the `noisy-labels` case (three 3x3 conv layers of 32/64/128 with
max-pooling, Dense 256, softmax; Adam; batch 64; 12 epochs) on `x_train[:4000]` with each
of the CIFAR-10N label sets `clean` (0% wrong), `aggre` (9.4%) and `worse` (41.6%), with
validation on the clean `x_test[:1000]`. Each run's model, data and history are cached
under `out/noisy_labels/<labels>/` (`model.keras`, `data.npz`, `history.json`), so a second
run only diagnoses. For each run it prints the estimated fraction of wrong labels, how
many of the 100 top suspects are truly wrong (against the original CIFAR-10 labels), whether
the guards trust the estimate, the signals behind them, and the verdict of `check --data --model`
(and with `--log`).

With `--mixes`, also three mixtures of human noise at intermediate rates (`MIXES`: the `worse`
label on a random 25, 40 or 60% of the images, `clean` elsewhere: 10.5, 16.2 and 24.9% wrong).

Measured (two CPU cores; estimate, top 100 truly wrong, verdict of `check --data --model`, then with
`--log`), seed 0 / seed 1:

| labels | wrong | estimate | top 100 | verdict | with the log |
|---|---|---|---|---|---|
| clean | 0% | 0.038 / 0.048 | 0 / 0 | overfitting | overfitting |
| aggre | 9.4% | 0.045 / 0.063 | 41 / 43 | overfitting | overfitting |
| mix25 | 10.5% | 0.080 / 0.086 | 67 / 66 | overfitting | overfitting |
| mix40 | 16.2% | 0.141 / 0.134 | 84 / 83 | noisy-labels | noisy-labels, overfitting / noisy-labels |
| mix60 | 24.9% | 0.150 / 0.171 | 84 / 90 | noisy-labels | noisy-labels, overfitting |
| worse | 41.6% | 0.320 / 0.223 | 92 / 91 | noisy-labels | noisy-labels, overfitting |

The estimate reads human noise at 0.5-0.9 of its rate: people mislabel the images a classifier finds
ambiguous too, and confident learning does not count what the classifier agrees with.

Usage:

    python bench/noisy_labels.py [--data ../shared/data] [--out out/noisy_labels] [--only worse] [--mixes] [--seed 1]

About 30 s per run to train on two quiet CPU cores (two minutes under load); 11-19 s to diagnose.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

RUNS = ("clean", "aggre", "worse")

#: Intermediate human noise: the `worse` label of a seeded random share of the images (this many
#: percent), the `clean` label elsewhere (`labels_named`): 10.5%, 16.2% and 24.9% wrong in the first
#: 4,000, the noise people make at the rates of single annotators.
MIXES = ("mix25", "mix40", "mix60")

#: Seed of the mixtures' draws (fixed, whatever the training seed).
MIX_SEED = 1

TRAIN_IMAGES = 4000
EVAL_IMAGES = 1000
EPOCHS = 12
SEED = 0


def build_model(keras, classes: int = 10, *, rescale: bool = False):
    """The issue's small CNN; with `rescale`, reading 0-255 pixels (a `Rescaling(1/255)` layer first)."""
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            *([layers.Rescaling(1.0 / 255)] if rescale else []),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(128, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def labels_named(name: str, data_dir: Path) -> np.ndarray:
    """The CIFAR-10N label set `name`, or a mixture `mixNN` of `worse` (NN% of the images) and `clean`."""
    with np.load(data_dir / "cifar10n" / "cifar10n_labels.npz", allow_pickle=False) as n:
        if not name.startswith("mix"):
            return n[name]
        clean, worse = n["clean"], n["worse"]
    rng = np.random.default_rng(MIX_SEED)
    draws = {mix: rng.random(len(clean)) for mix in MIXES}  # one draw per mixture, in MIXES order
    return np.where(draws[name] < int(name[3:]) / 100, worse, clean)


def train_run(name: str, data_dir: Path, out: Path, seed: int = SEED) -> Path:
    """Train (or reuse) the run with the `name` labels; returns its folder (`<name>`, or `<name>-seed<N>`)."""
    folder = out / (name if seed == SEED else f"{name}-seed{seed}")
    if (folder / "model.keras").exists() and (folder / "data.npz").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    from cifar_doctor.tfenv import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(seed)
    with np.load(data_dir / "cifar10" / "cifar10.npz", allow_pickle=False) as d:
        x_train = d["x_train"][:TRAIN_IMAGES].astype("float32") / 255.0
        x_test = d["x_test"][:EVAL_IMAGES].astype("float32") / 255.0
        y_test = d["y_test"][:EVAL_IMAGES].reshape(-1).astype("int64")
    y_train = labels_named(name, data_dir)[:TRAIN_IMAGES].astype("int64")
    model = build_model(keras)
    t0 = time.time()
    hist = model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, validation_data=(x_test, y_test), verbose=0)
    print(
        f"[{name}] trained in {time.time() - t0:.0f}s; val_accuracy "
        + " ".join(f"{v:.3f}" for v in hist.history["val_accuracy"]),
        file=sys.stderr,
    )
    model.save(folder / "model.keras")
    np.savez(folder / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (folder / "history.json").write_text(json.dumps({k: [float(v) for v in vs] for k, vs in hist.history.items()}))
    return folder


def diagnose_run(name: str, folder: Path, data_dir: Path, with_log: bool) -> dict:
    """The check's estimate, the top-100 precision against the true labels, and the verdicts."""
    from cifar_doctor.api import diagnose

    with np.load(data_dir / "cifar10" / "cifar10.npz", allow_pickle=False) as d:
        truth = d["y_train"][:TRAIN_IMAGES].reshape(-1)
    with np.load(folder / "data.npz", allow_pickle=False) as d:
        arrays = {k: d[k] for k in d.files}
    wrong = float((arrays["y_train"] != truth).mean())
    row: dict = {"labels": name, "true_wrong": round(wrong, 4)}
    t0 = time.time()
    report = diagnose(**arrays, model=str(folder / "model.keras"))
    row["seconds"] = round(time.time() - t0, 1)
    row["verdict"] = report.verdict.causes
    found = [f for f in report.findings if f.code == "LBL010"]
    outcome = next((o for o in report.checks if o.code == "LBL010"), None)
    row["status"] = outcome.status if outcome else None
    if found:
        ev = found[0].evidence
        row["estimate"] = ev.get("estimated_wrong_fraction")
        row["severity"] = found[0].severity.value
        suspects = ev.get("suspects", [])
        top = [s["index"] for s in suspects[:100]]
        row["suspects"] = len(suspects)
        row["top100_wrong"] = int(sum(arrays["y_train"][i] != truth[i] for i in top))
        row["top100_of"] = len(top)
        row["trusted"] = ev.get("trusted")
        row["signals"] = ev.get("signals")
    if with_log:
        report_log = diagnose(**arrays, model=str(folder / "model.keras"), history=str(folder / "history.json"))
        row["verdict_with_log"] = report_log.verdict.causes
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder with cifar10/ and cifar10n/")
    parser.add_argument("--out", default="out/noisy_labels", help="cache of trained runs")
    parser.add_argument("--only", choices=RUNS + MIXES, action="append", help="run only these label sets")
    parser.add_argument("--mixes", action="store_true", help=f"also the mixtures {', '.join(MIXES)}")
    parser.add_argument("--seed", type=int, default=SEED, help="training seed (default: %(default)s)")
    parser.add_argument("--train-only", action="store_true", help="train (or reuse) the runs, diagnose nothing")
    parser.add_argument("--no-log", action="store_true", help="skip the second diagnosis with the history")
    args = parser.parse_args(argv)
    data_dir, out = Path(args.data), Path(args.out)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in args.only or (RUNS + MIXES if args.mixes else RUNS):
        folder = train_run(name, data_dir, out, args.seed)
        if args.train_only:
            continue
        print(json.dumps(diagnose_run(name, folder, data_dir, not args.no_log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
