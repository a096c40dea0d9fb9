"""Generate real tf.keras 2.x (Keras 2 API) training logs for tests/fixtures/logs/.

The same bug classes as `scripts/make_logs.py`, run through `tf.keras` with
`TF_USE_LEGACY_KERAS=1`, i.e. the `tf_keras` 2.x package: metric names as
compiled (`accuracy` or `acc`), `[====]` progress bars, `verbose=1` through a
pipe and under a pseudo-terminal, `verbose=2`, one run with
`validation_split`, and `model.evaluate()` results printed in the ways
users print them (two lines, a list, "Test loss: ...").

Needs its own environment, apart from the project's (Keras 3) one:

    python3 -m venv /tmp/tfk && /tmp/tfk/bin/pip install "tensorflow==2.21.*" "tf-keras==2.21.*"
    TF_CPP_MIN_LOG_LEVEL=3 python scripts/make_logs_tfkeras.py --python /tmp/tfk/bin/python

Data: `--data` (an .npz with x_train, y_train, x_test, y_test), else
`../shared/data/cifar10/cifar10.npz` when present, else the bundled sample
`cifar_doctor/data/cifar10_sample.npz`. 2,000 training images, 500 test
images; runs on CPU in about two minutes.

Note on the loss: tf.keras 2.x computes `categorical_crossentropy` of a
softmax output from the logits behind it (`backend._get_logits`: the output
carries `_keras_logits`, or is a `Softmax` op in the traced graph), so unlike
standalone Keras 2.2 its loss is not clipped at -ln(1e-7) = 16.12: the scale
bug gives val_loss in the tens to hundreds, as in Keras 3. The eager run
(`run_eagerly=True`) shows that this holds outside tf.function too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_logs import BUG_PIPELINE, parse_args, write_log  # noqa: E402

#: name -> (bug, verbose, epochs, learning rate, how the data is split, how evaluate() is printed, options)
#: bug: "scale" (test images raw 0-255, training images /255), "none", "shuffled-labels" (test labels permuted).
#: split: "data" (validation_data=(x_test, y_test)) or "split" (validation_split=0.2; the test set is only
#: evaluated). evaluate: "seed" (print("loss: ", loss, "\naccuracy: ", accuracy), as in the seed question),
#: "list" (print(model.evaluate(...))), "test" (print("Test loss:", ...) / print("Test accuracy:", ...)).
#: options: "acc" compiles metrics=["acc"]; "eager" compiles run_eagerly=True.
RUNS = {
    "tfk-scale-bug-verbose1-pipe.txt": ("scale", 1, 3, 1e-3, "data", "seed", ""),
    "tfk-scale-bug-verbose1-tty.txt": ("scale", 1, 3, 1e-3, "data", "seed", ""),
    "tfk-scale-bug-verbose2.txt": ("scale", 2, 3, 1e-3, "data", "seed", "acc"),
    "tfk-scale-bug-eager-verbose2.txt": ("scale", 2, 3, 1e-3, "data", "seed", "eager"),
    "tfk-scale-bug-validation-split-verbose2.txt": ("scale", 2, 4, 1e-3, "split", "test", ""),
    "tfk-healthy-verbose2.txt": ("none", 2, 4, 1e-3, "data", "list", ""),
    "tfk-shuffled-val-labels-verbose2.txt": ("shuffled-labels", 2, 4, 1e-3, "data", "seed", ""),
    "tfk-high-lr-verbose1-pipe.txt": ("none", 1, 4, 0.5, "data", "seed", "acc"),
}

CHILD = (
    r"""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
bug, verbose, epochs, lr, n, data, split, how, opts = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6],
    sys.argv[7], sys.argv[8], sys.argv[9])
import tensorflow as tf
keras = tf.keras
keras.utils.set_random_seed(0)
with np.load(data, allow_pickle=False) as d:
    x_train, y_train, x_test, y_test = d["x_train"][:n], d["y_train"][:n], d["x_test"][:n // 4], d["y_test"][:n // 4]
"""
    + BUG_PIPELINE
    + r"""model = keras.Sequential([
    keras.layers.Conv2D(16, 3, activation="relu", input_shape=(32, 32, 3)),
    keras.layers.MaxPooling2D(),
    keras.layers.Conv2D(32, 3, activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dropout(0.3),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(lr), loss="categorical_crossentropy",
              metrics=["acc" if "acc" in opts.split(",") else "accuracy"], run_eagerly="eager" in opts)
if split == "split":
    model.fit(x_train, y_train, batch_size=50, epochs=epochs, verbose=verbose, validation_split=0.2)
else:
    model.fit(x_train, y_train, batch_size=50, epochs=epochs, verbose=verbose, validation_data=(x_test, y_test))
if how == "list":
    print(model.evaluate(x_test, y_test, verbose=0))
elif how == "test":
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
else:
    loss, accuracy = model.evaluate(x_test, y_test, verbose=verbose)
    print("loss: ", loss, "\naccuracy: ", accuracy)
"""
)


def main() -> None:
    def python_option(ap):
        ap.add_argument(
            "--python",
            default="/tmp/tfk/bin/python",
            help="interpreter of an environment with tensorflow and tf-keras 2.x",
        )

    a = parse_args(__doc__.splitlines()[0], python_option)
    env = dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="", TF_USE_LEGACY_KERAS="1"
    )
    for name, (bug, verbose, epochs, lr, split, how, opts) in RUNS.items():
        if a.only and name != a.only:
            continue
        args = [a.python, "-c", CHILD, bug, str(verbose), str(epochs), str(lr), str(a.n), a.data, split, how, opts]
        write_log(a.out, name, args, env)


if __name__ == "__main__":
    main()
