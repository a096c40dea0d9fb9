"""Train a small Keras model with the question's scale bug, logging with TensorBoard and CSVLogger.

Writes, into `--out`:

- `tb/train/events.out.tfevents.*` and `tb/validation/events.out.tfevents.*`:
  what `keras.callbacks.TensorBoard("tb")` writes (per-epoch `epoch_loss`,
  `epoch_accuracy`, `epoch_learning_rate`; the model graph);
- `run.csv`: what `keras.callbacks.CSVLogger` writes for the same run.

The bug: training images /255, validation images raw 0-255, so
`cifar-doctor check` reads `eval-input-scale-mismatch` from either file. The
fixture in `tests/fixtures/tensorboard/k3-scale-bug/` was made with the
defaults; `tests/test_tensorboard.py` runs this script to compare a fresh run's
two logs. Needs TensorFlow and the `tensorboard` package (Keras' callback writes
through `tf.summary`).

Usage:

    python scripts/make_tensorboard_log.py --out tests/fixtures/tensorboard/k3-scale-bug [--n 300] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="Folder to write tb/ and run.csv into.")
    ap.add_argument("--n", type=int, default=300, help="Training images (validation: n/3).")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    from keras import layers

    with np.load(SAMPLE, allow_pickle=False) as d:
        x, y = d["x_train"][: args.n], d["y_train"][: args.n]
        xv, yv = d["x_test"][: args.n // 3], d["y_test"][: args.n // 3]
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    args.out.mkdir(parents=True, exist_ok=True)
    model.fit(
        x.astype("float32") / 255.0,
        y,
        validation_data=(xv.astype("float32"), yv),  # the bug: val raw
        epochs=args.epochs,
        batch_size=64,
        verbose=0,
        callbacks=[
            keras.callbacks.TensorBoard(str(args.out / "tb")),
            keras.callbacks.CSVLogger(str(args.out / "run.csv")),
        ],
    )


if __name__ == "__main__":
    main()
