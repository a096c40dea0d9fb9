"""Generate real Keras 3 training logs of each bug class for tests/fixtures/logs/.

Each log is the console output of a short `model.fit` on a CIFAR-10 subset,
captured as the user would paste it:

- `verbose=1` runs execute under a pseudo-terminal, so Keras draws its live
  progress bar with `\\r`/`\\b` redraws and ANSI colours (what `script`/a
  terminal recording or `watch` sees);
- `verbose=2` runs write through a pipe (one line per epoch).

Usage:

    TF_CPP_MIN_LOG_LEVEL=3 python scripts/make_logs.py [--out tests/fixtures/logs] [--data PATH] [--n 2000]

Data: `--data` (an .npz with x_train, y_train, x_test, y_test), else
`../shared/data/cifar10/cifar10.npz` when present, else the bundled sample
`cifar_doctor/data/cifar10_sample.npz`. Runs on CPU in a minute or two.
"""

from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> (bug, verbose, epochs, learning rate[, model, training images, extras])
#: model: "cnn" (the small CNN with dropout), "wide" (one conv layer, a 512-unit
#: Dense layer, no dropout: memorizes a small training set) or "tiny" (8 filters
#: and global average pooling: too little capacity for CIFAR-10; "tinyN": N filters).
#: training images: overrides --n for that run (its test set stays n/4).
#: extras: "csv" also writes `<stem>.csv` with CSVLogger and `<stem>.json` with
#: json.dump(history.history).
RUNS = {
    "k3-scale-bug-verbose1-tty.txt": ("scale", 1, 3, 1e-3),
    "k3-scale-bug-verbose2.txt": ("scale", 2, 3, 1e-3),
    "k3-healthy-verbose2.txt": ("none", 2, 4, 1e-3),
    "k3-shuffled-val-labels-verbose2.txt": ("shuffled-labels", 2, 4, 1e-3),
    "k3-high-lr-verbose1-pipe.txt": ("none", 1, 4, 0.5),
    "k3-overfitting-verbose2.txt": ("none", 2, 20, 1e-3, "wide", 800, "csv"),
    "k3-underfitting-verbose2.txt": ("none", 2, 40, 1e-2, "tiny", None, ""),
    # 4 filters at Adam's default rate: stuck just above chance, val accuracy wobbling on 500 images
    "k3-underfitting-near-chance-verbose2.txt": ("none", 2, 15, 1e-3, "tiny4", None, ""),
}

#: The data pipeline of each bug class, shared by the training children of both log generators:
#: `bug` is "scale" (test images raw 0-255, training images /255), "none" or "shuffled-labels".
BUG_PIPELINE = """
y_train = keras.utils.to_categorical(y_train.reshape(-1), 10)
y_test = keras.utils.to_categorical(y_test.reshape(-1), 10)
x_train = x_train.astype("float32") / 255.0
x_test = x_test.astype("float32") if bug == "scale" else x_test.astype("float32") / 255.0
if bug == "shuffled-labels":
    y_test = y_test[np.random.default_rng(1).permutation(len(y_test))]
"""

CHILD = (
    r"""
import os, sys
import numpy as np
bug, verbose, epochs, lr, n, data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
kind, n_train, stem = sys.argv[7], int(sys.argv[8]), sys.argv[9]
import keras
keras.utils.set_random_seed(0)
with np.load(data, allow_pickle=False) as d:
    x_train, y_train, x_test, y_test = d["x_train"][:n_train], d["y_train"][:n_train], d["x_test"][:n // 4], d["y_test"][:n // 4]
"""
    + BUG_PIPELINE
    + r"""if kind == "wide":
    layers = [keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(), keras.layers.Flatten(),
              keras.layers.Dense(512, activation="relu")]
elif kind.startswith("tiny"):
    layers = [keras.layers.Conv2D(int(kind[4:] or 8), 3, strides=2, activation="relu"),
              keras.layers.GlobalAveragePooling2D()]
else:
    layers = [
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.3),
    ]
model = keras.Sequential([keras.Input((32, 32, 3))] + layers + [keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(lr), loss="categorical_crossentropy", metrics=["accuracy"])
callbacks = [keras.callbacks.CSVLogger(stem + ".csv")] if stem else []
history = model.fit(x_train, y_train, batch_size=50, epochs=epochs, verbose=verbose, validation_data=(x_test, y_test),
                    callbacks=callbacks)
if stem:
    import json
    with open(stem + ".json", "w") as f:
        json.dump(history.history, f)
loss, accuracy = model.evaluate(x_test, y_test, verbose=verbose)
print("loss: ", loss, "\naccuracy: ", accuracy)
"""
)


def run_tty(args: list[str], env: dict) -> bytes:
    """Run `args` under a pseudo-terminal; return everything it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(args[0], args, env)
    out = bytearray()
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.waitpid(pid, 0)
    return bytes(out)  # kept raw, "\r\n" line ends included, as a terminal recording has them


def parse_args(description: str, extra=None) -> argparse.Namespace:
    """The options both log generators take; `extra(ap)` adds more. Resolves `--data`."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "logs"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=2000, help="training images (test: n/4)")
    ap.add_argument("--only", default=None, help="generate only this file name")
    if extra is not None:
        extra(ap)
    a = ap.parse_args()
    if a.data is None:
        shared = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz"
        a.data = str(shared if shared.exists() else ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz")
    a.out = Path(a.out)
    a.out.mkdir(parents=True, exist_ok=True)
    return a


def write_log(out: Path, name: str, args: list[str], env: dict[str, str]) -> None:
    """Run one training child and write its raw output (under a pseudo-terminal for `*tty*` names)."""
    if "tty" in name:
        text = run_tty(args, dict(env, COLUMNS="120", TERM="xterm-256color"))
    else:
        text = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
    (out / name).write_bytes(text)
    print(f"wrote {out / name} ({len(text)} bytes)", file=sys.stderr)


def main() -> None:
    a = parse_args(__doc__.splitlines()[0])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    for name, (bug, verbose, epochs, lr, *more) in RUNS.items():
        if a.only and name != a.only:
            continue
        kind, n_train, extras = more + ["cnn", None, ""][len(more) :]
        stem = str(a.out / name.split("-verbose")[0]) if "csv" in extras else ""
        args = [
            sys.executable,
            "-c",
            CHILD,
            bug,
            str(verbose),
            str(epochs),
            str(lr),
            str(a.n),
            a.data,
            kind,
            str(n_train or a.n),
            stem,
        ]
        write_log(a.out, name, args, env)


if __name__ == "__main__":
    main()
