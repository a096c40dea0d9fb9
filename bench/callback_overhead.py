"""Per-epoch overhead of `DoctorCallback` against an epoch of the seed's `original` model.

What is timed, on this machine's CPU (or GPU, if TensorFlow sees one):

1. One epoch of the question's `original` model (Conv2D 256 -> ... -> Dense 10,
   batch 1000, Adam) on full CIFAR-10 is *extrapolated*: we time `model.fit` on a
   subset of `--train-images` training images (after a warm-up epoch that builds
   the graph) and `model.evaluate` on `--val-images` test images, and scale each
   per image to 50,000 training and 10,000 validation images. A full epoch on a
   2-core CPU takes many minutes; the per-image cost of a fixed-batch conv net is
   flat in the number of batches, so the extrapolation is close.
2. `DoctorCallback.on_epoch_end` with realistic logs, given `train_sample` and
   `validation_data` on the full arrays (the callback takes its own bounded
   samples), `--repeats` times: split into the inference-mode accuracy on the
   training sample (`train_eval_accuracy`) and the diagnosis (history + cached
   data checks).
3. One-off costs, reported apart: `on_train_begin` (data statistics, model
   facts) and `on_train_end` (final report, with the counterfactual evaluation).

Usage:
    python bench/callback_overhead.py [--data /path/to/cifar10.npz] [--train-images 2000]

Prints the figures and the ratio (target: <= 2% per epoch).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


FULL_TRAIN = 50_000
FULL_VAL = 10_000
TARGET = 0.02


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="CIFAR-10 npz or folder (default: cifar_doctor.sources.datasets.load_cifar10())")
    p.add_argument("--train-images", type=int, default=2000, help="training images in the timed epoch")
    p.add_argument("--val-images", type=int, default=2000, help="test images in the timed evaluation")
    p.add_argument("--repeats", type=int, default=5, help="timed on_epoch_end calls")
    args = p.parse_args(argv)

    import keras

    from cifar_doctor.keras import DoctorCallback
    from cifar_doctor.sources.datasets import load_cifar10, load_data_path
    from cifar_doctor.training.recipes import RECIPES

    loaded = load_data_path(args.data) if args.data else load_cifar10()
    rec = RECIPES["original"]
    arrays = rec.preprocess(loaded.arrays)  # train / 255, test raw, one-hot: the seed's pipeline
    x_tr, y_tr, x_te, y_te = arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
    print(
        f"data: {loaded.description.get('source') or loaded.description.get('kind')} "
        f"train {x_tr.shape} test {x_te.shape}; keras {keras.__version__} backend {keras.backend.backend()}"
    )

    model = rec.compile(rec.build())
    n_tr = min(args.train_images, len(x_tr))
    n_va = min(args.val_images, len(x_te))
    # warm-up: builds the train and test graphs, so the timed epoch measures steady state
    model.fit(x_tr[: rec.batch_size], y_tr[: rec.batch_size], batch_size=rec.batch_size, epochs=1, verbose=0)
    model.evaluate(x_te[: rec.batch_size], y_te[: rec.batch_size], batch_size=rec.batch_size, verbose=0)

    t0 = time.perf_counter()
    model.fit(x_tr[:n_tr], y_tr[:n_tr], batch_size=rec.batch_size, epochs=1, verbose=0)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.evaluate(x_te[:n_va], y_te[:n_va], batch_size=rec.batch_size, verbose=0)
    t_eval = time.perf_counter() - t0
    epoch = t_fit / n_tr * FULL_TRAIN + t_eval / n_va * FULL_VAL
    print(
        f"epoch of `original` (batch {rec.batch_size}): measured fit {t_fit:.2f}s on {n_tr} images and "
        f"evaluate {t_eval:.2f}s on {n_va} images; extrapolated per image to {FULL_TRAIN} + {FULL_VAL}: "
        f"{epoch:.1f}s"
    )

    doctor = DoctorCallback(train_sample=(x_tr, y_tr), validation_data=(x_te, y_te), warn=False)
    doctor.set_model(model)
    doctor.set_params({"verbose": 0, "epochs": args.repeats, "steps": FULL_TRAIN // rec.batch_size})
    t0 = time.perf_counter()
    doctor.on_train_begin()
    t_begin = time.perf_counter() - t0

    # the seed's Keras 3 numbers (fixtures/logs/seed-original-keras3-verbose2.txt shape)
    logs = [
        {"loss": 1.78, "accuracy": 0.36, "val_loss": 8.68, "val_accuracy": 0.45},
        {"loss": 1.37, "accuracy": 0.51, "val_loss": 8.97, "val_accuracy": 0.44},
        {"loss": 1.21, "accuracy": 0.57, "val_loss": 7.73, "val_accuracy": 0.51},
        {"loss": 1.11, "accuracy": 0.61, "val_loss": 7.96, "val_accuracy": 0.50},
        {"loss": 1.03, "accuracy": 0.64, "val_loss": 7.44, "val_accuracy": 0.53},
    ]
    totals, infer = [], []
    from cifar_doctor import keras as doctor_keras

    original = doctor_keras.DoctorCallback._train_eval_accuracy
    for i in range(args.repeats):
        spent = {}

        def timed(self, _spent=spent):
            s = time.perf_counter()
            try:
                return original(self)
            finally:
                _spent["t"] = time.perf_counter() - s

        doctor_keras.DoctorCallback._train_eval_accuracy = timed
        try:
            t0 = time.perf_counter()
            doctor.on_epoch_end(i, logs[i % len(logs)])
            totals.append(time.perf_counter() - t0)
        finally:
            doctor_keras.DoctorCallback._train_eval_accuracy = original
        infer.append(spent.get("t", 0.0))
    t0 = time.perf_counter()
    doctor.on_train_end()
    t_end = time.perf_counter() - t0

    per_epoch = statistics.median(totals)
    t_inf = statistics.median(infer)
    print(
        f"on_epoch_end (median of {args.repeats}): {per_epoch * 1000:.0f} ms = inference-mode accuracy on "
        f"{min(len(doctor._train[0]), doctor_keras.TRAIN_EVAL_IMAGES)} training images {t_inf * 1000:.0f} ms "
        f"+ diagnosis {(per_epoch - t_inf) * 1000:.0f} ms (first call {totals[0] * 1000:.0f} ms)"
    )
    print(
        f"one-off: on_train_begin {t_begin:.2f}s (samples of {doctor.sample_size} images per split), "
        f"on_train_end {t_end:.2f}s (final report with measured fixes)"
    )
    print(f"verdict after {args.repeats} epochs: {doctor.report.verdict.cause}")
    ratio = per_epoch / epoch
    print(
        f"per-epoch overhead: {ratio:.2%} of an epoch (target <= {TARGET:.0%}): "
        f"{'OK' if ratio <= TARGET else 'OVER TARGET'}"
    )
    print(
        f"including the one-off costs spread over the question's 5 epochs: "
        f"{(per_epoch * 5 + t_begin + t_end) / (epoch * 5):.2%}"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
