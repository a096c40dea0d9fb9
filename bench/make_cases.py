"""Generate further, independent sets of re-enacted train/val-gap cases on real CIFAR-10.

The development cases in `../shared/cases/reenact/` each re-enact one known cause of a gap
between training and validation accuracy. This script re-enacts the same kinds of cause with
different details (other models, optimizers, batch sizes, data slices and epochs, fixed seeds),
so that verdict accuracy can be measured on evidence that rules were not tuned on.

There are two sets of 16 variants each:

- `--set a` (the default), written to `out/cases-extra/reenact/`: contiguous slices of the
  training and test arrays, the bugs written much like the development cases;
- `--set b`, written to `out/cases-b/reenact/`: the same kinds of bug written another way
  (a tf.data pipeline, a preprocessing function applied twice, a variable left unused, overlapping
  slice bounds, ...), on random subsets of the images and with other architectures (functional,
  residual, strided, separable convolutions), optimizers, metrics names and printed test results.
  Once a set has been used to develop rules, it no longer measures generalization; set b was
  added for that reason.

It writes one folder per case, in the layout of the development set:

- `log-verbose1.txt`: stdout of fit + evaluate with verbose=1, exactly as Keras writes it
  (the training runs in a child process whose stdout is the file, so the progress bar's
  `\\b`/`\\r`/ANSI bytes are kept), followed by the printed test result;
- `log-verbose2.txt`: stdout of a second, identically seeded run with verbose=2;
- `stderr-verbose1.txt`, `stderr-verbose2.txt`: the children's stderr;
- `history.json` (`history.history` of the verbose=1 run), `history.csv` (`keras.callbacks.CSVLogger`);
- `data.npz`: the arrays exactly as fed (x_train, y_train, x_test, y_test, and x_val/y_val where
  a separate validation array was fed), `np.savez_compressed`, dtypes as fed;
- `model.keras`: the model of the verbose=1 run (`model.save`);
- `truth.json`: `case`, `bug`, `expected_causes`, `also_acceptable`, `must_not_report_as_primary`,
  `detectable_from`, `expected_symptom`, `symptom_check`, `observed`, `arrays`, `notes`.

The truth of each case follows from what its bug is, never from any tool's output. Whether the
run showed the intended symptom is recorded in `symptom_check` (`passed`, `evidence`).

Usage (about 15-20 minutes for a whole set on 2 CPU cores):

    .venv/bin/python bench/make_cases.py [--set a|b] [--out DIR] [--only NAME] [--jobs 1]
    .venv/bin/python bench/make_cases.py [--set a|b] --list

CIFAR-10 is read from `--cifar`, else `$CIFAR10_NPZ`, else `../shared/data/cifar10/cifar10.npz`.

Score a set with:

    python bench/accuracy.py out/cases-extra --artifacts out/cases-extra/reenact
    python bench/accuracy.py out/cases-b --artifacts out/cases-b/reenact

(`bench/accuracy.py` reads the `reenact/` layout under the folder it is given; `data.npz` and
`model.keras` are found in each case folder itself.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "out" / "cases-extra" / "reenact"
DEFAULT_CIFAR = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz"
LN10 = math.log(10)

#: Verdicts that name a pipeline bug; wrong for a run without one.
PIPELINE = ["input-not-normalized", "eval-input-scale-mismatch", "eval-distribution-shift"]


# --------------------------------------------------------------------------------------------
# Child side: one training run. Everything printed to stdout here ends up in the log file.
# --------------------------------------------------------------------------------------------


class Run:
    """What a variant needs in the child: the data, where to write, how verbose."""

    def __init__(self, cifar: str, outdir: str, verbose: int, epochs: int, save_artifacts: bool):
        import numpy as np

        self.np = np
        d = np.load(cifar)
        self.x_train_all, self.y_train_all = d["x_train"], d["y_train"]
        self.x_test_all, self.y_test_all = d["x_test"], d["y_test"]
        self.outdir = outdir
        self.verbose = verbose
        self.epochs = epochs
        self.save_artifacts = save_artifacts
        self.extras: dict[str, Any] = {}

    def out(self, name: str) -> str:
        return os.path.join(self.outdir, name)

    def train_slice(self, a: int, b: int):
        return self.x_train_all[a:b], self.y_train_all[a:b]

    def test_slice(self, a: int, b: int):
        return self.x_test_all[a:b], self.y_test_all[a:b]

    def save_arrays(self, **arrays) -> None:
        if self.save_artifacts:
            self.np.savez_compressed(self.out("data.npz"), **arrays)

    def fit_evaluate(
        self,
        model,
        x_train,
        y_train,
        x_test,
        y_test,
        *,
        batch_size: int,
        validation_data=None,
        validation_split: float = 0.0,
        eval_batch_size: int | None = None,
        print_style: str = "lines",
    ):
        import keras

        history = model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            epochs=self.epochs,
            verbose=self.verbose,
            validation_data=validation_data,
            validation_split=validation_split,
            callbacks=[keras.callbacks.CSVLogger(self.out("history.csv"))],
        )
        score = model.evaluate(x_test, y_test, batch_size=eval_batch_size, verbose=self.verbose)
        if print_style == "lines":
            print("Test loss:", score[0])
            print("Test accuracy:", score[1])
        else:
            print("test loss, test acc:", score)
        sys.stdout.flush()
        self.extras["test_as_fed"] = [float(v) for v in score]
        self.history = history
        self.model = model
        return history

    def pick(self, split: str, n: int, seed: int):
        """`n` random rows of the train or test split (kept in their original order)."""
        np = self.np
        x, y = (self.x_train_all, self.y_train_all) if split == "train" else (self.x_test_all, self.y_test_all)
        idx = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
        return x[idx], y[idx]

    def fit(self, model, *args, **kwargs):
        """model.fit with this run's epochs, verbosity and a CSVLogger; any fit arguments."""
        import keras

        kwargs.setdefault("epochs", self.epochs)
        kwargs["verbose"] = self.verbose
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [keras.callbacks.CSVLogger(self.out("history.csv"))]
        self.history = model.fit(*args, **kwargs)
        self.model = model
        return self.history

    def test(self, model, x, y, *, style: str, batch_size: int | None = None) -> None:
        """model.evaluate on the test set as fed, printed the way a user's script would."""
        result = model.evaluate(x, y, batch_size=batch_size, verbose=self.verbose, return_dict=True)
        loss = float(result["loss"])
        acc = float(next(v for k, v in result.items() if k != "loss"))
        if style == "dict":
            print(result)
        elif style == "percent":
            print("Accuracy on the test set: %.2f%%" % (acc * 100))
        elif style == "fmt":
            print("Test loss: %.4f, test accuracy: %.4f" % (loss, acc))
        elif style == "fstring":
            print(f"test_loss={loss:.4f} test_acc={acc:.4f}")
        else:  # "lines"
            print("Test loss:", loss)
            print("Test accuracy:", acc)
        sys.stdout.flush()
        self.extras["test_as_fed"] = [loss, acc]

    def finish(self) -> None:
        with open(self.out("history.json"), "w") as f:
            json.dump({k: [float(v) for v in vs] for k, vs in self.history.history.items()}, f, indent=1)
        if self.save_artifacts:
            self.model.save(self.out("model.keras"))


def conv_stack(layers, widths, *, kernel=3, pool=True, input_shape=(32, 32, 3)):
    import keras

    out = [keras.Input(shape=input_shape)]
    for w in widths:
        out.append(layers.Conv2D(w, kernel, activation="relu", padding="same"))
        if pool:
            out.append(layers.MaxPooling2D())
    return out


# ---- the variants (child side) -------------------------------------------------------------


def run_test_not_rescaled_bn(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(10000, 13000)
    test_images, test_labels = r.test_slice(2000, 3000)

    inputs = keras.Input(shape=(32, 32, 3))
    x = inputs
    for w in (32, 64, 96):
        x = layers.Conv2D(w, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32")  # BUG: the test images are never divided by 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=64, validation_data=(x_test, y_test))
    r.extras["counterfactual_test_scaled_like_train"] = [
        float(v) for v in model.evaluate(x_test / 255.0, y_test, verbose=0)
    ]
    r.extras["train_eval_mode"] = [float(v) for v in model.evaluate(x_train, y_train, verbose=0)]
    r.finish()


def run_test_scaled_twice(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(13000, 16000)
    test_images, test_labels = r.test_slice(3000, 4000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 5, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(48, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(96, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    x_test = x_test / 255  # BUG: a second normalisation step divides the test set by 255 again
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit_evaluate(
        model, x_train, train_labels, x_test, test_labels, batch_size=96, validation_data=(x_test, test_labels)
    )
    r.extras["counterfactual_test_scaled_like_train"] = [
        float(v) for v in model.evaluate(x_test * 255, test_labels, verbose=0)
    ]
    r.finish()


def run_train_raw_test_scaled(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(16000, 18500)
    test_images, test_labels = r.test_slice(4000, 5000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            # no Rescaling(1/255) layer: the model sees whatever scale it is given
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images  # BUG: raw uint8 0..255 fed for training
    x_test = test_images.astype("float32") / 255  # ...while the test set is scaled to [0, 1]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit_evaluate(
        model, x_train, train_labels, x_test, test_labels, batch_size=64, validation_data=(x_test, test_labels)
    )
    r.extras["counterfactual_test_scaled_like_train"] = [
        float(v) for v in model.evaluate(test_images, test_labels, verbose=0)
    ]
    r.finish()


def run_train_standardized_test_unit(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(18500, 21500)
    test_images, test_labels = r.test_slice(5000, 6000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(24, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(48, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(96, 3, activation="relu", padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32")
    mean = x_train.mean(axis=(0, 1, 2))
    std = x_train.std(axis=(0, 1, 2))
    x_train = (x_train - mean) / std
    x_test = test_images.astype("float32") / 255  # BUG: test only /255, not standardized like train
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=128, validation_data=(x_test, y_test))
    fixed = (test_images.astype("float32") - mean) / std
    r.extras["train_mean"] = [float(v) for v in mean]
    r.extras["train_std"] = [float(v) for v in std]
    r.extras["counterfactual_test_scaled_like_train"] = [float(v) for v in model.evaluate(fixed, y_test, verbose=0)]
    r.finish()


def run_overfit_small_wide(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(21500, 23000)
    test_images, test_labels = r.test_slice(6000, 7000)
    model = keras.Sequential(
        conv_stack(layers, (32, 32))
        + [
            layers.Flatten(),
            layers.Dense(768, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=64, validation_data=(x_test, y_test))
    r.extras["train_eval_mode"] = [float(v) for v in model.evaluate(x_train, y_train, verbose=0)]
    r.finish()


def run_healthy_unit_dropout(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(23000, 26000)
    test_images, test_labels = r.test_slice(7000, 8000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.25),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit_evaluate(
        model, x_train, train_labels, x_test, test_labels, batch_size=128, validation_data=(x_test, test_labels)
    )
    r.extras["train_eval_mode"] = [float(v) for v in model.evaluate(x_train, train_labels, verbose=0)]
    r.finish()


def run_healthy_standardized(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(26000, 28500)
    test_images, test_labels = r.test_slice(0, 1000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64))
        + [
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),
        ]
    )
    x_train = train_images.astype("float32")
    mean = x_train.mean(axis=(0, 1, 2))
    std = x_train.std(axis=(0, 1, 2))
    x_train = (x_train - mean) / std
    x_test = (test_images.astype("float32") - mean) / std  # same statistics on both sides
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit_evaluate(
        model, x_train, train_labels, x_test, test_labels, batch_size=128, validation_data=(x_test, test_labels)
    )
    r.extras["train_mean"] = [float(v) for v in mean]
    r.extras["train_std"] = [float(v) for v in std]
    r.finish()


def run_dropout_heavy_head(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(28500, 31500)
    test_images, test_labels = r.test_slice(9000, 10000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64, 64))
        + [
            layers.Flatten(),
            layers.Dropout(0.6),
            layers.Dense(384, activation="relu"),
            layers.Dropout(0.6),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=64, validation_data=(x_test, y_test))
    r.extras["train_eval_mode"] = [float(v) for v in model.evaluate(x_train, y_train, verbose=0)]
    r.finish()


def run_lr_too_high(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.train_slice(31500, 34500)
    test_images, test_labels = r.test_slice(1000, 2000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64))
        + [
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.1),  # BUG: 100x Adam's default
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=128, validation_data=(x_test, y_test))
    pred = model.predict(x_test, verbose=0).argmax(1)
    r.extras["test_predicted_class_counts"] = np.bincount(pred, minlength=10).tolist()
    r.finish()


def run_lr_too_low(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(34500, 37500)
    test_images, test_labels = r.test_slice(0, 1000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64, 64))
        + [
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-4),  # BUG: 100x below SGD's default
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit_evaluate(
        model, x_train, train_labels, x_test, test_labels, batch_size=64, validation_data=(x_test, test_labels)
    )
    r.finish()


def run_val_split_sorted(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.train_slice(37500, 40500)
    test_images, test_labels = r.test_slice(2000, 3000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64))
        + [
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    order = np.argsort(train_labels, kind="stable")  # BUG: images gathered class by class
    x_train = train_images[order].astype("float32") / 255
    y_train = train_labels[order]
    x_test = test_images.astype("float32") / 255
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=test_labels)
    # validation_split takes the LAST 10% of the rows, before any shuffling
    r.fit_evaluate(model, x_train, y_train, x_test, test_labels, batch_size=100, validation_split=0.1)
    split_at = int(np.floor(len(x_train) * (1 - 0.1)))
    r.extras["val_class_counts"] = np.bincount(y_train[split_at:], minlength=10).tolist()
    r.extras["train_part_class_counts"] = np.bincount(y_train[:split_at], minlength=10).tolist()
    r.finish()


def run_linear_output_cce(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(40500, 43500)
    test_images, test_labels = r.test_slice(3000, 4000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),  # BUG: linear output, but the loss below expects probabilities
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=64, validation_data=(x_test, y_test))
    out = model.predict(x_test, verbose=0)
    r.extras["test_output_range"] = [float(out.min()), float(out.max())]
    r.extras["test_output_row_sum_mean"] = float(out.sum(1).mean())
    r.finish()


def run_bce_binary_accuracy(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(43500, 46500)
    test_images, test_labels = r.test_slice(4000, 5000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(16, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu", padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    # BUG: binary loss and per-output binary accuracy on a 10-class single-label problem
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=128, validation_data=(x_test, y_test))
    r.extras["true_categorical_accuracy_test"] = float(
        (model.predict(x_test, verbose=0).argmax(1) == test_labels).mean()
    )
    r.extras["true_categorical_accuracy_train"] = float(
        (model.predict(x_train, verbose=0).argmax(1) == train_labels).mean()
    )
    r.finish()


def run_test_leak_30pct(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.train_slice(46500, 49000)
    test_images, test_labels = r.test_slice(5000, 6000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64))
        + [
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    rng = np.random.default_rng(7)
    leaked = rng.choice(len(test_images), size=300, replace=False)
    x_all = np.concatenate([train_images, test_images[leaked]])  # BUG: 30% of the test set in training
    y_all = np.concatenate([train_labels, test_labels[leaked]])
    perm = rng.permutation(len(x_all))
    x_train = x_all[perm].astype("float32") / 255
    y_train = y_all[perm]
    x_test = test_images.astype("float32") / 255
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=test_labels)
    r.fit_evaluate(model, x_train, y_train, x_test, test_labels, batch_size=96, validation_data=(x_test, test_labels))
    clean = np.setdiff1d(np.arange(len(x_test)), leaked)
    r.extras["leaked_test_indices_in_x_test"] = sorted(int(i) for i in leaked)
    r.extras["test_leaked_subset"] = [float(v) for v in model.evaluate(x_test[leaked], test_labels[leaked], verbose=0)]
    r.extras["test_clean_subset"] = [float(v) for v in model.evaluate(x_test[clean], test_labels[clean], verbose=0)]
    r.finish()


def run_val_slice_of_train(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(4000, 7000)
    test_images, test_labels = r.test_slice(6000, 7000)
    model = keras.Sequential(
        conv_stack(layers, (32, 64, 128))
        + [
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255
    x_test = test_images.astype("float32") / 255
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    x_val, y_val = x_train[500:800], y_train[500:800]  # BUG: "validation" rows are also training rows
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)
    r.fit_evaluate(
        model,
        x_train,
        y_train,
        x_test,
        y_test,
        batch_size=64,
        validation_data=(x_val, y_val),
        eval_batch_size=1000,
        print_style="list",
    )
    r.extras["train_eval_mode"] = [float(v) for v in model.evaluate(x_train, y_train, verbose=0)]
    r.finish()


def run_raw_inputs_dense(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.train_slice(7000, 10000)
    test_images, test_labels = r.test_slice(7000, 8000)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32")  # BUG: never scaled; pixel values 0..255 on both sides
    x_test = test_images.astype("float32")
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit_evaluate(model, x_train, y_train, x_test, y_test, batch_size=128, validation_data=(x_test, y_test))
    r.finish()


# ---- set b: the same kinds of bug, written another way, on other models and data ------------


def _ev(model, x, y) -> list[float]:
    return [float(v) for v in model.evaluate(x, y, verbose=0)]


def run_b_test_raw_tfdata(r: Run) -> None:
    import keras
    import tensorflow as tf
    from keras import layers

    train_images, train_labels = r.pick("train", 2500, seed=101)
    test_images, test_labels = r.pick("test", 1000, seed=201)

    inputs = keras.Input(shape=(32, 32, 3), name="image")
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(96, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="cifar_functional")

    x_train = train_images.astype("float32") / 255.0
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, train_labels)).shuffle(len(x_train), seed=5).batch(32)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=5e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # BUG: the test array goes in as loaded (uint8, 0..255); only the tf.data pipeline was scaled
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=test_images, y_test=test_labels)
    r.fit(model, train_ds, validation_data=(test_images, test_labels))
    r.test(model, test_images, test_labels, style="dict")
    r.extras["counterfactual_test_scaled_like_train"] = _ev(model, test_images.astype("float32") / 255.0, test_labels)
    r.finish()


def run_b_preprocess_twice(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 3000, seed=102)
    test_images, test_labels = r.pick("test", 1000, seed=202)

    def preprocess(images):
        return images.astype("float32") / 255.0

    x_train, x_test = preprocess(train_images), preprocess(test_images)
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(128, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.02, momentum=0.9, nesterov=True),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    x_eval = preprocess(x_test)  # BUG: x_test was already preprocessed; now in [0, 1/255]
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_eval, y_test=y_test)
    r.fit(model, x_train, y_train, batch_size=50, validation_data=(x_eval, y_test))
    r.test(model, x_eval, y_test, style="percent")
    r.extras["counterfactual_test_scaled_like_train"] = _ev(model, x_test, y_test)
    r.finish()


def run_b_train_raw_typo_bn(r: Run) -> None:
    import keras
    from keras import layers

    xtrain, ytrain = r.pick("train", 2500, seed=103)
    xtest, ytest = r.pick("test", 1000, seed=203)
    xtrain_norm = xtrain.astype("float32") / 255.0  # noqa: F841  (computed, then not used)
    xtest_norm = xtest.astype("float32") / 255.0
    ytrain_1hot = keras.utils.to_categorical(ytrain, 10)
    ytest_1hot = keras.utils.to_categorical(ytest, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, padding="same"),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="nadam", loss="categorical_crossentropy", metrics=["accuracy"])
    # BUG: fit() is given `xtrain` (raw uint8) instead of `xtrain_norm`; validation gets xtest_norm
    r.save_arrays(x_train=xtrain, y_train=ytrain_1hot, x_test=xtest_norm, y_test=ytest_1hot)
    r.fit(model, xtrain, ytrain_1hot, batch_size=48, validation_data=(xtest_norm, ytest_1hot))
    r.test(model, xtest_norm, ytest_1hot, style="lines")
    r.extras["counterfactual_test_scaled_like_train"] = _ev(model, xtest, ytest_1hot)
    r.finish()


def run_b_test_centered_not_scaled(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 3000, seed=104)
    test_images, test_labels = r.pick("test", 1000, seed=204)
    x_train = train_images.astype("float32")
    x_test = test_images.astype("float32")
    mean, std = x_train.mean(), x_train.std()  # one scalar each, on the 0..255 scale
    x_train = (x_train - mean) / std
    x_test = x_test - mean  # BUG: `/ std` left off for the test set (values about -120..135)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="elu", kernel_initializer="he_normal"),
            layers.Conv2D(32, 3, padding="same", activation="elu", kernel_initializer="he_normal"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="elu", kernel_initializer="he_normal"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit(model, x_train, train_labels, batch_size=32, validation_data=(x_test, test_labels))
    r.test(model, x_test, test_labels, style="fmt")
    r.extras["train_mean_std"] = [float(mean), float(std)]
    r.extras["counterfactual_test_scaled_like_train"] = _ev(model, x_test / std, test_labels)
    r.finish()


def run_b_overfit_strided(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 1000, seed=105)
    test_images, test_labels = r.pick("test", 1000, seed=205)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit(model, x_train, train_labels, batch_size=32, validation_data=(x_test, test_labels))
    r.test(model, x_test, test_labels, style="fstring")
    r.extras["train_eval_mode"] = _ev(model, x_train, train_labels)
    r.finish()


def run_b_healthy_augment_in_model(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 3000, seed=106)
    test_images, test_labels = r.pick("test", 1000, seed=206)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Rescaling(1.0 / 255),  # the model scales its own inputs: arrays are fed as uint8
            layers.RandomFlip("horizontal"),
            layers.RandomTranslation(0.1, 0.1),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=train_images, y_train=train_labels, x_test=test_images, y_test=test_labels)
    r.fit(model, train_images, train_labels, batch_size=64, validation_data=(test_images, test_labels))
    r.test(model, test_images, test_labels, style="lines")
    r.extras["train_eval_mode"] = _ev(model, train_images, train_labels)
    r.finish()


def run_b_healthy_resnetish(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 3000, seed=107)
    test_images, test_labels = r.pick("test", 1000, seed=207)

    def residual(x, width):
        y = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(width, 3, padding="same")(y)
        return layers.Activation("relu")(layers.Add()([x, y]))

    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = residual(x, 32)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = residual(x, 64)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="tiny_resnet")

    x_train = train_images.astype("float32") / 127.5 - 1.0  # [-1, 1] on both sides
    x_test = test_images.astype("float32") / 127.5 - 1.0
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit(model, x_train, train_labels, batch_size=32, validation_data=(x_test, test_labels))
    r.test(model, x_test, test_labels, style="dict")
    r.finish()


def run_b_dropout_every_block_l2(r: Run) -> None:
    import keras
    from keras import layers, regularizers

    train_images, train_labels = r.pick("train", 3000, seed=108)
    test_images, test_labels = r.pick("test", 1000, seed=208)
    l2 = regularizers.l2(1e-4)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu", kernel_regularizer=l2),
            layers.MaxPooling2D(),
            layers.Dropout(0.5),
            layers.Conv2D(64, 3, padding="same", activation="relu", kernel_regularizer=l2),
            layers.MaxPooling2D(),
            layers.Dropout(0.5),
            layers.Flatten(),
            layers.Dense(256, activation="relu", kernel_regularizer=l2),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit(model, x_train, y_train, batch_size=64, validation_data=(x_test, y_test))
    r.test(model, x_test, y_test, style="fmt")
    r.extras["train_eval_mode"] = _ev(model, x_train, y_train)
    r.finish()


def run_b_lr_too_high_rmsprop(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.pick("train", 2500, seed=109)
    test_images, test_labels = r.pick("test", 1000, seed=209)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1.0),  # BUG: 1000x the default
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit(model, x_train, train_labels, batch_size=256, validation_data=(x_test, test_labels))
    r.test(model, x_test, test_labels, style="lines")
    pred = np.nan_to_num(model.predict(x_test, verbose=0)).argmax(1)
    r.extras["test_predicted_class_counts"] = np.bincount(pred, minlength=10).tolist()
    r.finish()


def run_b_lr_too_low_adam(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 2500, seed=110)
    test_images, test_labels = r.pick("test", 1000, seed=210)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-6),  # BUG: 1000x below the default
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_test=x_test, y_test=test_labels)
    r.fit(model, x_train, train_labels, batch_size=32, validation_data=(x_test, test_labels))
    r.test(model, x_test, test_labels, style="fstring")
    r.finish()


#: The order of the class folders in case b11: two classes per folder.
B11_PAIRS = [(3, 5), (0, 8), (1, 9), (2, 6), (4, 7)]


def run_b_val_split_class_pairs(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    rng = np.random.default_rng(111)
    # 300 images of each class, read folder by folder; each folder holds two classes, mixed
    blocks = []
    for pair in B11_PAIRS:
        rows = np.concatenate([rng.choice(np.flatnonzero(r.y_train_all == c), 300, replace=False) for c in pair])
        blocks.append(rng.permutation(rows))
    order = np.concatenate(blocks)
    x_train = r.x_train_all[order].astype("float32") / 255.0
    labels = r.y_train_all[order]
    y_train = keras.utils.to_categorical(labels, 10)
    test_images, test_labels = r.pick("test", 1000, seed=211)
    x_test = test_images.astype("float32") / 255.0
    y_test = keras.utils.to_categorical(test_labels, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.SeparableConv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.SeparableConv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    # BUG: validation_split=0.2 takes the last 20% of the rows, i.e. the last folder, before shuffling
    r.fit(model, x_train, y_train, batch_size=40, validation_split=0.2)
    r.test(model, x_test, y_test, style="fmt")
    split_at = int(np.floor(len(x_train) * (1 - 0.2)))
    r.extras["val_class_counts"] = np.bincount(labels[split_at:], minlength=10).tolist()
    r.extras["train_part_class_counts"] = np.bincount(labels[:split_at], minlength=10).tolist()
    r.finish()


def run_b_relu_output(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.pick("train", 3000, seed=112)
    test_images, test_labels = r.pick("test", 1000, seed=212)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="relu"),  # BUG: relu instead of softmax on the output
        ]
    )
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit(model, x_train, y_train, batch_size=100, validation_data=(x_test, y_test))
    r.test(model, x_test, y_test, style="dict")
    out = model.predict(x_test, verbose=0)
    r.extras["test_output_range"] = [float(np.nanmin(out)), float(np.nanmax(out))]
    r.extras["test_rows_all_zero"] = float((out.max(1) <= 0).mean())
    r.finish()


def run_b_sigmoid_bce_acc(r: Run) -> None:
    import keras
    from keras import layers

    train_images, train_labels = r.pick("train", 3000, seed=113)
    test_images, test_labels = r.pick("test", 1000, seed=213)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="sigmoid"),
        ]
    )
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    # BUG: a multi-label setup (sigmoid + binary loss + per-output accuracy) for single-label classes
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[keras.metrics.BinaryAccuracy(name="acc")])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit(model, x_train, y_train, batch_size=64, validation_data=(x_test, y_test))
    r.test(model, x_test, y_test, style="lines")
    r.extras["true_categorical_accuracy_test"] = float(
        (model.predict(x_test, verbose=0).argmax(1) == test_labels).mean()
    )
    r.extras["true_categorical_accuracy_train"] = float(
        (model.predict(x_train, verbose=0).argmax(1) == train_labels).mean()
    )
    r.finish()


def run_b_overlapping_split(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    tr_images, tr_labels = r.pick("train", 2000, seed=114)
    te_images, te_labels = r.pick("test", 1000, seed=214)
    images = np.concatenate([tr_images, te_images]).astype("float32") / 255.0
    labels = np.concatenate([tr_labels, te_labels])
    n_train = 2000
    x_train, y_train = images[: n_train + 200], labels[: n_train + 200]  # BUG: should stop at n_train
    x_test, y_test = images[n_train:], labels[n_train:]  # ...so x_test[:200] are training rows too
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=5e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit(model, x_train, y_train, batch_size=64, validation_data=(x_test, y_test))
    r.test(model, x_test, y_test, style="fstring")
    r.extras["test_leaked_subset"] = _ev(model, x_test[:200], y_test[:200])
    r.extras["test_clean_subset"] = _ev(model, x_test[200:], y_test[200:])
    r.finish()


def run_b_val_random_train_rows(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.pick("train", 2000, seed=115)
    test_images, test_labels = r.pick("test", 1000, seed=215)
    x_train = train_images.astype("float32") / 255.0
    x_test = test_images.astype("float32") / 255.0
    val_idx = np.random.default_rng(15).choice(len(x_train), size=400, replace=False)
    x_val, y_val = x_train[val_idx], train_labels[val_idx]  # BUG: sampled from the training rows
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(48, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(96, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    steps = r.epochs * math.ceil(len(x_train) / 32)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    r.save_arrays(x_train=x_train, y_train=train_labels, x_val=x_val, y_val=y_val, x_test=x_test, y_test=test_labels)
    r.fit(model, x_train, train_labels, batch_size=32, validation_data=(x_val, y_val))
    r.test(model, x_test, test_labels, style="fmt", batch_size=500)
    r.extras["train_eval_mode"] = _ev(model, x_train, train_labels)
    r.finish()


def run_b_raw_cnn_sgd(r: Run) -> None:
    import keras
    from keras import layers

    np = r.np
    train_images, train_labels = r.pick("train", 2000, seed=116)
    test_images, test_labels = r.pick("test", 1000, seed=216)
    x_train = train_images.astype("float32")  # BUG: no scaling on either side (0..255)
    x_test = test_images.astype("float32")
    y_train = keras.utils.to_categorical(train_labels, 10)
    y_test = keras.utils.to_categorical(test_labels, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(), loss="categorical_crossentropy", metrics=["accuracy"])
    r.save_arrays(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    r.fit(model, x_train, y_train, batch_size=32, validation_data=(x_test, y_test))
    r.test(model, x_test, y_test, style="lines")
    pred = np.nan_to_num(model.predict(x_test, verbose=0)).argmax(1)
    r.extras["test_predicted_class_counts"] = np.bincount(pred, minlength=10).tolist()
    r.finish()


# --------------------------------------------------------------------------------------------
# Parent side: the truth of each case, and the symptom each run must show.
# --------------------------------------------------------------------------------------------


Check = Callable[[dict], "tuple[bool, str]"]


@dataclass
class Variant:
    folder: str
    case: str
    title: str
    bug: str
    kind_of: str  # the development case of the same kind
    run: Callable[[Run], None]
    epochs: int
    seed: int
    expected: list[str]
    also: list[str]
    must_not: list[str]
    detectable: dict[str, bool]
    expected_symptom: str
    symptom: Check
    notes: str
    details: dict[str, Any] = field(default_factory=dict)


def det(data: bool, model_data: bool, log: bool, history: bool | None = None) -> dict[str, bool]:
    d = {"data": data, "model+data": model_data, "log": log}
    if history is not None:
        d["history"] = history
    return d


def _f(v: float) -> str:
    return f"{v:.4g}"


def scale_bug_symptom(o: dict) -> tuple[bool, str]:
    cf = o.get("counterfactual_test_scaled_like_train")
    ratio = o["val_loss"] / max(o["train_loss"], 1e-9)
    gain = cf[1] - o["test_acc"] if cf else 0.0
    passed = (ratio > 3 or o["val_acc"] < o["train_acc"] - 0.1) and gain > 0.05
    ev = (
        f"val_loss {_f(o['val_loss'])} vs loss {_f(o['train_loss'])} (x{ratio:.1f}); "
        f"train acc {_f(o['train_acc'])}, val acc {_f(o['val_acc'])}; "
        f"test acc {_f(o['test_acc'])} as fed vs {_f(cf[1]) if cf else '?'} scaled like train"
    )
    return passed, ev


def overfit_symptom(o: dict) -> tuple[bool, str]:
    passed = (
        o["train_acc"] >= 0.85
        and o["val_loss"] > 1.3 * o["best_val_loss"]
        and o["best_val_loss_epoch"] <= o["epochs"] - 5
    )
    return passed, (
        f"train acc {_f(o['train_acc'])}; val_loss min {_f(o['best_val_loss'])} at epoch "
        f"{o['best_val_loss_epoch']}, last {_f(o['val_loss'])}; val acc {_f(o['val_acc'])}"
    )


def healthy_symptom(o: dict) -> tuple[bool, str]:
    gap = o["train_acc"] - o["val_acc"]
    rising = o["val_loss"] > 1.1 * o["best_val_loss"]
    passed = abs(gap) < 0.12 and not rising and o["val_acc"] > 0.3
    return passed, (
        f"train acc {_f(o['train_acc'])}, val acc {_f(o['val_acc'])} (gap {gap:+.3f}); "
        f"val_loss last {_f(o['val_loss'])}, min {_f(o['best_val_loss'])} at epoch "
        f"{o['best_val_loss_epoch']}"
    )


def dropout_gap_symptom(o: dict) -> tuple[bool, str]:
    above = sum(v > t for v, t in zip(o["val_acc_curve"], o["train_acc_curve"]))
    n = len(o["train_acc_curve"])
    passed = o["val_acc"] > o["train_acc"] and above >= n // 2 and o["val_acc"] > 0.3
    return passed, (
        f"val acc above running train acc in {above}/{n} epochs; final train "
        f"{_f(o['train_acc'])}, val {_f(o['val_acc'])}; inference-mode train acc "
        f"{_f(o['train_eval_mode'][1])}"
    )


def lr_high_symptom(o: dict) -> tuple[bool, str]:
    first = o["train_loss_curve"][0]
    passed = o["train_acc"] < 0.2 and (abs(o["train_loss"] - LN10) < 0.05 or first > 5)
    return passed, (
        f"first-epoch loss {_f(first)}, last {_f(o['train_loss'])} (ln 10 = 2.3026); "
        f"acc {_f(o['train_acc'])}, val acc {_f(o['val_acc'])}; predicted class counts "
        f"{o.get('test_predicted_class_counts')}"
    )


def lr_low_symptom(o: dict) -> tuple[bool, str]:
    c = o["train_loss_curve"]
    passed = o["train_acc"] < 0.2 and c[-1] > 2.1 and c[0] - c[-1] < 0.2
    return passed, (
        f"loss {_f(c[0])} -> {_f(c[-1])} over {len(c)} epochs; train acc "
        f"{_f(o['train_acc'])}, val acc {_f(o['val_acc'])}"
    )


def split_sorted_symptom(o: dict) -> tuple[bool, str]:
    vc = o["val_class_counts"]
    passed = o["val_acc"] < 0.1 and o["train_acc"] > 0.3 and sum(1 for v in vc if v) <= 2
    return passed, (
        f"val class counts {vc}; train-part class counts {o['train_part_class_counts']}; "
        f"train acc {_f(o['train_acc'])}, val acc {_f(o['val_acc'])}, test acc {_f(o['test_acc'])}"
    )


def linear_output_symptom(o: dict) -> tuple[bool, str]:
    passed = o["train_acc"] < 0.3 or o["train_loss"] > LN10 or not math.isfinite(o["train_loss"])
    return passed, (
        f"loss {_f(o['train_loss'])} (ln 10 = 2.3026), acc {_f(o['train_acc'])}, val acc "
        f"{_f(o['val_acc'])}; test outputs range {o.get('test_output_range')}, row sums mean "
        f"{o.get('test_output_row_sum_mean')}"
    )


def bce_symptom(o: dict) -> tuple[bool, str]:
    first = o["train_acc_curve"][0]
    true_acc = o["true_categorical_accuracy_test"]
    passed = first >= 0.89 and o["val_acc"] >= 0.89 and true_acc < o["val_acc"] - 0.3
    return passed, (
        f"reported 'accuracy' {_f(first)} at epoch 1, {_f(o['train_acc'])} last; val "
        f"{_f(o['val_acc'])}; true categorical accuracy test {_f(true_acc)}, train "
        f"{_f(o['true_categorical_accuracy_train'])}"
    )


def leak_symptom(o: dict) -> tuple[bool, str]:
    lk, cl = o["test_leaked_subset"][1], o["test_clean_subset"][1]
    passed = lk > cl + 0.15
    return passed, (
        f"leaked test images acc {_f(lk)} vs clean {_f(cl)}; reported test acc "
        f"{_f(o['test_acc'])}; train acc {_f(o['train_acc'])}"
    )


def val_from_train_symptom(o: dict) -> tuple[bool, str]:
    passed = o["val_acc"] >= o["train_acc"] - 0.03 and o["test_acc"] < o["val_acc"] - 0.1
    return passed, (
        f"val (training rows) acc {_f(o['val_acc'])}, running train acc {_f(o['train_acc'])}, "
        f"inference-mode train acc {_f(o['train_eval_mode'][1])}; test acc {_f(o['test_acc'])}"
    )


def raw_dense_symptom(o: dict) -> tuple[bool, str]:
    first = o["train_loss_curve"][0]
    passed = (
        o["train_acc"] < 0.3 and first > 10 * LN10 and (o["train_loss"] > 2 * LN10 or abs(o["train_loss"] - LN10) < 0.1)
    )
    return passed, (
        f"first-epoch loss {_f(first)}, last {_f(o['train_loss'])}; train acc "
        f"{_f(o['train_acc'])}, val acc {_f(o['val_acc'])}"
    )


VARIANTS: list[Variant] = [
    Variant(
        folder="01-test-not-rescaled-bn",
        case="test-not-rescaled (BatchNorm functional model)",
        title="train /255, test left at 0-255; functional CNN with BatchNorm, SGD with momentum",
        bug="x_test is cast to float32 but never divided by 255; the raw test set is validation_data "
        "and is passed to evaluate(). The model normalizes activations with BatchNorm, whose "
        "moving statistics were learned on [0,1] inputs.",
        kind_of="01-test-not-rescaled",
        run=run_test_not_rescaled_bn,
        epochs=8,
        seed=11,
        expected=["eval-input-scale-mismatch"],
        also=["eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val_loss far above train loss (or val accuracy far below train); test accuracy "
        "recovers when the test set is scaled like train",
        symptom=scale_bug_symptom,
        notes="x_train[10000:13000], x_test[2000:3000] (JPEG-decoded test images). One-hot labels, "
        "batch 64, 8 epochs. validation_data is the raw test set, so val_* = test. Adjusted after "
        "first runs: with a GlobalAveragePooling head (batch 128 and 6 epochs, then batch 64 and 8 "
        "epochs) the BatchNorm network scored far lower in inference mode than in training mode even "
        "on its own training images (0.17 vs 0.51 running), so even the correctly scaled test set "
        "was near chance (0.12-0.19) and the scale bug was not isolated. With the Flatten head the "
        "correctly scaled test set scores 0.36 against 0.17 as fed. Some of that train/inference "
        "gap remains (observed.train_eval_mode: 0.50 on the training images in inference mode vs "
        "0.72 running), and the model overfits somewhat, but the loud symptom is the scale bug's: "
        "val_loss 44 at epoch 1 climbing to over 800 against a train loss near 1.",
    ),
    Variant(
        folder="02-test-scaled-twice",
        case="test-scaled-twice",
        title="test set divided by 255 twice (values in [0, 0.004])",
        bug="the test images are scaled to [0,1] and then divided by 255 again by a second "
        "normalisation step; training images are scaled once.",
        kind_of="01-test-not-rescaled",
        run=run_test_scaled_twice,
        epochs=6,
        seed=12,
        expected=["eval-input-scale-mismatch"],
        also=["eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val accuracy near chance while train accuracy climbs; test accuracy recovers "
        "when the test set is scaled like train",
        symptom=scale_bug_symptom,
        notes="x_train[13000:16000], x_test[3000:4000]. Integer labels, sparse_categorical_crossentropy. "
        "validation_data is the test set, so val_* = test.",
    ),
    Variant(
        folder="03-train-raw-test-scaled",
        case="train-raw-test-scaled",
        title="training on raw uint8 0-255, test scaled to [0,1]; no Rescaling layer in the model",
        bug="the uint8 training array is fed as is (no /255 and no Rescaling layer in the model) while "
        "the test set is divided by 255.",
        kind_of="02-train-not-rescaled-typo",
        run=run_train_raw_test_scaled,
        epochs=6,
        seed=13,
        expected=["eval-input-scale-mismatch"],
        also=["input-not-normalized", "eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="train accuracy climbs while val accuracy stays low; raw test images score "
        "far better than the [0,1] ones",
        symptom=scale_bug_symptom,
        notes="x_train[16000:18500] stored as uint8 exactly as fed (Keras casts inside the model); "
        "x_test[4000:5000] float32 /255. Integer labels. The counterfactual evaluates the raw "
        "uint8 test images.",
    ),
    Variant(
        folder="04-train-standardized-test-unit",
        case="train-standardized-test-unit",
        title="train standardized with its mean/std, test only divided by 255",
        bug="training images are standardized per channel with the training mean and std (0..255 "
        "scale); the test images are only divided by 255, so they are on a different scale and "
        "offset from what the model was trained on.",
        kind_of="01-test-not-rescaled",
        run=run_train_standardized_test_unit,
        epochs=8,
        seed=14,
        expected=["eval-input-scale-mismatch", "eval-distribution-shift"],
        also=[],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val accuracy well below train accuracy from the first epoch; test accuracy "
        "recovers when the test set is standardized like train",
        symptom=scale_bug_symptom,
        notes="x_train[18500:21500] standardized (mean ~0, std ~1), x_test[5000:6000] in [0,1]. "
        "RMSprop, batch 128, one-hot labels. validation_data is the test set.",
    ),
    Variant(
        folder="05-overfit-small-wide-dense",
        case="overfit-genuine (1,500 images, wide Dense head)",
        title="genuine overfitting: 1,500 images, Dense(768) head, no regularization, 35 epochs",
        bug="no pipeline bug. 1,500 training images for a 1.6M-parameter model with no regularization, "
        "trained long enough that val_loss turns up while train accuracy approaches 1.0.",
        kind_of="07-overfit-genuine",
        run=run_overfit_small_wide,
        epochs=35,
        seed=15,
        expected=["overfitting"],
        also=[],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "healthy"],
        detectable=det(False, True, True),
        expected_symptom="val_loss reaches its minimum early and then rises while train accuracy approaches 1.0",
        symptom=overfit_symptom,
        notes="x_train[21500:23000], x_test[6000:7000], both /255, one-hot labels, Adam, batch 64.",
    ),
    Variant(
        folder="06-healthy-unit-dropout",
        case="unit-both with dropout (HEALTHY control)",
        title="HEALTHY control: both /255, small CNN with Dropout(0.25), 8 epochs",
        bug="none. Both sides are divided by 255; a small CNN with Dropout(0.25) trained for 8 epochs.",
        kind_of="06-unit-both",
        run=run_healthy_unit_dropout,
        epochs=8,
        seed=16,
        expected=["healthy"],
        also=["regularization-gap", "underfitting"],
        must_not=PIPELINE + ["overfitting"],
        detectable=det(True, True, True),
        expected_symptom="train and val accuracy improve together, small gap, val_loss not rising",
        symptom=healthy_symptom,
        notes="x_train[23000:26000], x_test[7000:8000], integer labels, Adam, batch 128.",
    ),
    Variant(
        folder="07-healthy-standardized",
        case="standardized-both (HEALTHY control)",
        title="HEALTHY control: per-channel standardization from train applied to both, 6 epochs",
        bug="none. Per-channel mean and std from the training images, applied to train and test; "
        "logits + SparseCategoricalCrossentropy(from_logits=True).",
        kind_of="05-standardized-both",
        run=run_healthy_standardized,
        epochs=6,
        seed=17,
        expected=["healthy"],
        also=["overfitting"],
        must_not=PIPELINE,
        detectable=det(True, True, True),
        expected_symptom="train and val accuracy improve together; a range check must not fire on standardized inputs",
        symptom=healthy_symptom,
        notes="x_train[26000:28500], x_test[0:1000] (the lossless test images), SGD(0.01, momentum "
        "0.9), batch 128. 'Overfitting beginning' is defensible after 6 epochs; any range or scale "
        "alarm is a false positive. Adjusted after first runs: RMSprop(1e-3) with batch 96 on "
        "x_test[8000:9000] left val accuracy 0.14-0.17 under train from epoch 2 on (noisy), and "
        "Adam(1e-3) had val_loss past its minimum by epoch 4 with a 0.22 gap (overfitting rather than "
        "a healthy control).",
    ),
    Variant(
        folder="08-dropout-heavy-head",
        case="dropout-heavy (benign)",
        title="Dropout(0.6) around a Dense(384) head: validation accuracy above training accuracy",
        bug="no bug in the pipeline. Heavy dropout makes the running training accuracy (dropout on, "
        "averaged over the epoch) lower than validation accuracy (dropout off, end of epoch).",
        kind_of="15-dropout-heavy",
        run=run_dropout_heavy_head,
        epochs=7,
        seed=18,
        expected=["regularization-gap"],
        also=["healthy", "underfitting"],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "overfitting", "train-test-leakage"],
        detectable=det(False, True, True),
        expected_symptom="val accuracy above the running train accuracy in most epochs",
        symptom=dropout_gap_symptom,
        notes="x_train[28500:31500], x_test[9000:10000], both /255, one-hot labels, Adam, batch 64, "
        "7 epochs. A first run of 10 epochs had val above the running train accuracy in epochs 1-7 "
        "and 9, but the running train accuracy caught up by epoch 10 (0.484 vs val 0.478), so the "
        "benign inverted gap no longer showed at the end; the run stops at 7 epochs.",
    ),
    Variant(
        folder="09-lr-too-high-adam",
        case="lr-too-high (Adam 0.1)",
        title="Adam(learning_rate=0.1): the network dies, loss at ln(10), accuracy at chance",
        bug="Adam with learning_rate=0.1 (100x its default of 0.001). The first updates blow the "
        "ReLU network up; it ends predicting a near-constant class.",
        kind_of="13-lr-too-high",
        run=run_lr_too_high,
        epochs=6,
        seed=19,
        expected=["unstable-training", "not-learning"],
        also=["underfitting"],
        must_not=["healthy", "overfitting", "eval-input-scale-mismatch"],
        detectable=det(False, True, True),
        expected_symptom="first-epoch loss far above ln(10) and/or loss pinned at ln(10); accuracy ~0.10",
        symptom=lr_high_symptom,
        notes="x_train[31500:34500], x_test[1000:2000], both /255, one-hot labels, batch 128.",
    ),
    Variant(
        folder="10-lr-too-low-sgd",
        case="lr-too-low (SGD 1e-4)",
        title="SGD(learning_rate=1e-4): loss barely moves in 10 epochs",
        bug="plain SGD with learning_rate=1e-4 (100x below its default of 0.01); the network barely "
        "moves from its initialisation in 10 epochs.",
        kind_of="13-lr-too-high (the opposite end)",
        run=run_lr_too_low,
        epochs=10,
        seed=20,
        expected=["underfitting", "not-learning"],
        also=[],
        must_not=["overfitting", "eval-input-scale-mismatch", "healthy"],
        detectable=det(False, True, True),
        expected_symptom="loss stays near ln(10) and accuracy near chance on train and val, no gap",
        symptom=lr_low_symptom,
        notes="x_train[34500:37500], x_test[0:1000] (the lossless test images), both /255, integer "
        "labels, batch 64. 'healthy' is forbidden: the run is broken by its optimizer setting.",
    ),
    Variant(
        folder="11-val-split-sorted",
        case="unshuffled-validation-split (10%)",
        title="training array sorted by class, then fit(validation_split=0.1)",
        bug="the training set is ordered by class; validation_split=0.1 takes the LAST 10% of the rows "
        "before shuffling, so validation holds (almost) only the last class, which the training "
        "part barely contains.",
        kind_of="11-unshuffled-validation-split",
        run=run_val_split_sorted,
        epochs=6,
        seed=21,
        expected=["eval-distribution-shift"],
        also=["class-imbalance"],
        must_not=["overfitting", "eval-input-scale-mismatch", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val accuracy ~0 while train accuracy climbs; the test set (normal) scores "
        "far above validation",
        symptom=split_sorted_symptom,
        notes="x_train[37500:40500] stably sorted by label, x_test[2000:3000], integer labels, RMSprop, "
        "batch 100. Keras 3 slices the validation rows off the end before any shuffling.",
    ),
    Variant(
        folder="12-linear-output-cce",
        case="linear-output-with-categorical-crossentropy",
        title="Dense(10) with no activation + loss='categorical_crossentropy' (expects probabilities)",
        bug="the last layer has no softmax, but categorical_crossentropy with from_logits=False treats "
        "its outputs as probabilities (normalised by their sum, clipped to [1e-7, 1-1e-7]).",
        kind_of="09-logits-without-from-logits",
        run=run_linear_output_cce,
        epochs=6,
        seed=22,
        expected=["output-loss-mismatch"],
        also=["not-learning", "underfitting"],
        must_not=["healthy", "overfitting"],
        detectable=det(False, True, True),
        expected_symptom="loss does not behave like a crossentropy on probabilities (above ln(10), or "
        "accuracy far below a normal run)",
        symptom=linear_output_symptom,
        notes="x_train[40500:43500], x_test[3000:4000], both /255, one-hot labels, Adam, batch 64.",
    ),
    Variant(
        folder="13-bce-binary-accuracy",
        case="binary_crossentropy on one-hot 10-class labels",
        title="binary_crossentropy + BinaryAccuracy(name='accuracy') on one-hot labels: inflated 'accuracy'",
        bug="a binary loss for a 10-class single-label problem, with per-output binary accuracy reported "
        "as 'accuracy' (what Keras <= 2.3 picked for metrics=['accuracy'] with this loss).",
        kind_of="08b-binary-crossentropy-onehot",
        run=run_bce_binary_accuracy,
        epochs=6,
        seed=23,
        expected=["label-format-mismatch", "output-loss-mismatch"],
        also=[],
        must_not=["healthy", "overfitting"],
        detectable=det(False, True, True),
        expected_symptom="'accuracy' about 0.90 from epoch 1 on train and val (predicting 0 on 10 "
        "outputs), far above the true categorical accuracy",
        symptom=bce_symptom,
        notes="x_train[43500:46500], x_test[4000:5000], both /255, softmax output, RMSprop, batch 128. "
        "Keras 3's own 'accuracy' string would pick CategoricalAccuracy here; the metric is "
        "pinned to reproduce the inflated figure users saw. Unlike the development case, this "
        "network barely learns in 6 epochs under the binary loss (true categorical accuracy stays "
        "near chance, see symptom_check), so the printed 'accuracy' sits at exactly 0.90 "
        "(all ten outputs below 0.5) on train and val while the loss creeps down.",
    ),
    Variant(
        folder="14-test-leak-30pct",
        case="train-test-leakage (30%)",
        title="30% of the test images copied into the training set",
        bug="300 of the 1,000 test images are appended to the training set (then shuffled), so the "
        "reported test accuracy is inflated by memorised images.",
        kind_of="12-train-test-leakage",
        run=run_test_leak_30pct,
        epochs=18,
        seed=24,
        expected=["train-test-leakage"],
        also=["overfitting"],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "healthy"],
        detectable=det(True, True, False),
        expected_symptom="leaked test images score far above the clean ones",
        symptom=leak_symptom,
        notes="x_train[46500:49000] plus 300 exact copies of x_test[5000:6000] rows (indices in "
        "observed.leaked_test_indices_in_x_test), shuffled: 2,800 rows. RMSprop, batch 96. "
        "Visible only in the data (exact duplicates across x_train and x_test); by the last "
        "epochs the curves also show ordinary overfitting, hence overfitting also acceptable.",
    ),
    Variant(
        folder="15-val-slice-of-train",
        case="val-from-train (a slice of the training arrays)",
        title="validation_data = x_train[500:800], rows that are also trained on",
        bug="validation_data is a slice of the training arrays, so 'validation' measures memorisation; "
        "only the final evaluate() on the real test set shows the generalisation gap.",
        kind_of="14-val-from-train",
        run=run_val_slice_of_train,
        epochs=15,
        seed=25,
        expected=["train-test-leakage"],
        also=["overfitting"],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "healthy"],
        detectable=det(True, True, True, history=False),
        expected_symptom="val accuracy tracks or beats train accuracy all the way, while the printed "
        "test accuracy is much lower",
        symptom=val_from_train_symptom,
        notes="x_train[4000:7000], validation rows x_train[4500:4800] (x_val/y_val in data.npz), "
        "x_test[6000:7000]. SGD(0.01, momentum 0.9), batch 64, one-hot labels; evaluate() with "
        "batch_size=1000 and the result printed as a list.",
    ),
    Variant(
        folder="16-raw-inputs-dense",
        case="raw 0-255 inputs on both sides, plain Dense network",
        title="no scaling anywhere: a Dense network on raw 0-255 pixels with Adam",
        bug="the images are cast to float32 but never scaled, on both sides; a plain Dense network "
        "gets 3,072 inputs of size up to 255, so its first activations and logits are huge.",
        kind_of="02-train-not-rescaled-typo (both sides raw)",
        run=run_raw_inputs_dense,
        epochs=10,
        seed=26,
        expected=["input-not-normalized", "not-learning"],
        also=["underfitting"],
        must_not=["eval-input-scale-mismatch", "eval-distribution-shift", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="enormous first-epoch loss that never comes down to a normal crossentropy range "
        "(or pins at ln(10)); accuracy stays low (under 0.3)",
        symptom=raw_dense_symptom,
        notes="x_train[7000:10000], x_test[7000:8000], both float32 0..255, one-hot labels, Adam, "
        "batch 128. The network is not fully stuck: accuracy crawls to about 0.27 while the loss "
        "jumps between tens and hundreds, far above ln(10) throughout. The symptom check first "
        "asked for accuracy under 0.25; it was restated as the loss criterion above (the run "
        "itself was not changed).",
    ),
]

BY_FOLDER = {v.folder: v for v in VARIANTS}


# ---- set b ----------------------------------------------------------------------------------

#: Verdicts that name a bug in the pipeline, the labels or the loss: wrong for a run without one.
PIPELINE_ANY = PIPELINE + [
    "train-test-leakage",
    "label-format-mismatch",
    "output-loss-mismatch",
    "eval-labels-misaligned",
]


def _finite(xs) -> bool:
    return all(math.isfinite(x) for x in xs)


def lr_high_b_symptom(o: dict) -> tuple[bool, str]:
    c = o["train_loss_curve"]
    blown = not _finite(c) or c[0] > 5 or abs(c[-1] - LN10) < 0.05
    passed = o["train_acc"] < 0.2 and blown
    return passed, (
        f"loss per epoch {[round(x, 3) for x in c]} (ln 10 = 2.3026); acc "
        f"{_f(o['train_acc'])}, val acc {_f(o['val_acc'])}; predicted class counts "
        f"{o.get('test_predicted_class_counts')}"
    )


def split_pairs_symptom(o: dict) -> tuple[bool, str]:
    vc = o["val_class_counts"]
    seen = [c for c, n in enumerate(o["train_part_class_counts"]) if n]
    passed = (
        o["val_acc"] < 0.1 and o["train_acc"] > 0.3 and sum(1 for v in vc if v) <= 2 and not any(vc[c] for c in seen)
    )
    return passed, (
        f"val class counts {vc}; train-part class counts {o['train_part_class_counts']}; "
        f"train acc {_f(o['train_acc'])}, val acc {_f(o['val_acc'])}, test acc {_f(o['test_acc'])}"
    )


def relu_output_symptom(o: dict) -> tuple[bool, str]:
    c = o["train_loss_curve"]
    passed = o["train_acc"] < 0.3 or not _finite(c) or c[-1] > LN10
    return passed, (
        f"loss per epoch {[round(x, 3) for x in c]} (ln 10 = 2.3026), acc {_f(o['train_acc'])}, "
        f"val acc {_f(o['val_acc'])}; test outputs range {o.get('test_output_range')}, "
        f"rows all zero {o.get('test_rows_all_zero')}"
    )


def raw_cnn_symptom(o: dict) -> tuple[bool, str]:
    c = o["train_loss_curve"]
    broken = not _finite(c) or c[0] > 10 * LN10 or abs(c[-1] - LN10) < 0.05
    passed = o["train_acc"] < 0.3 and broken
    return passed, (
        f"loss per epoch {[round(x, 3) for x in c]} (ln 10 = 2.3026); train acc "
        f"{_f(o['train_acc'])}, val acc {_f(o['val_acc'])}; predicted class counts "
        f"{o.get('test_predicted_class_counts')}"
    )


VARIANTS_B: list[Variant] = [
    Variant(
        folder="01-tfdata-train-raw-test",
        case="test-not-rescaled (tf.data training pipeline)",
        title="tf.data pipeline of /255 training images; the raw uint8 test array is validation_data",
        bug="the training images are divided by 255 before Dataset.from_tensor_slices(...).batch(32); "
        "the test array is passed as loaded (uint8, 0..255) as validation_data and to evaluate(). "
        "The functional model has no Rescaling layer.",
        kind_of="01-test-not-rescaled",
        run=run_b_test_raw_tfdata,
        epochs=6,
        seed=31,
        expected=["eval-input-scale-mismatch"],
        also=["eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val_loss far above train loss (or val accuracy far below train); test accuracy "
        "recovers when the test set is scaled like train",
        symptom=scale_bug_symptom,
        notes="2,500 random training images (rng seed 101), 1,000 random test images (seed 201); integer "
        "labels, Adam(5e-4), batch 32 from the shuffled Dataset. validation_data is the raw test "
        "array, so val_* = test; data.npz holds x_train as it enters the Dataset (float32 [0,1]) and "
        "x_test as fed (uint8). evaluate() printed with return_dict=True.",
    ),
    Variant(
        folder="02-preprocess-applied-twice",
        case="test-scaled-twice (a preprocessing function called twice)",
        title="preprocess() (astype + /255) applied to the already preprocessed test set",
        bug="x_test = preprocess(test_images) at load time, then preprocess(x_test) again before fit(): "
        "the test set ends in [0, 1/255] while training images are in [0, 1].",
        kind_of="01-test-not-rescaled",
        run=run_b_preprocess_twice,
        epochs=7,
        seed=32,
        expected=["eval-input-scale-mismatch"],
        also=["eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val accuracy far below train accuracy; test accuracy recovers when the test "
        "set is scaled like train",
        symptom=scale_bug_symptom,
        notes="3,000 random training images (seed 102), 1,000 random test images (seed 202); one-hot "
        "labels; a CNN of three stride-2 convolutions and no pooling; SGD(0.02, momentum 0.9, "
        "Nesterov), batch 50. The test accuracy is printed as a percentage only.",
    ),
    Variant(
        folder="03-fit-on-unnormalized-name",
        case="train-not-rescaled (fit() given the raw variable)",
        title="xtrain_norm computed but fit() given xtrain (raw uint8); BatchNorm after the first conv",
        bug="the script computes xtrain_norm = xtrain / 255 and xtest_norm = xtest / 255, then passes "
        "xtrain (raw uint8 0..255) to fit() and xtest_norm as validation_data and to evaluate(). "
        "BatchNormalization after the first convolution keeps training stable on the raw scale, "
        "and its moving statistics are those of 0..255 inputs.",
        kind_of="02-train-not-rescaled-typo",
        run=run_b_train_raw_typo_bn,
        epochs=6,
        seed=33,
        expected=["eval-input-scale-mismatch"],
        also=["input-not-normalized", "eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="train accuracy climbs while val accuracy stays near chance; the raw test "
        "images score far better than the [0,1] ones",
        symptom=scale_bug_symptom,
        notes="2,500 random training images (seed 103) fed as uint8 (as stored in data.npz), 1,000 random "
        "test images (seed 203) float32 /255; one-hot labels; Nadam, batch 48. The counterfactual "
        "evaluates the raw uint8 test images.",
    ),
    Variant(
        folder="04-test-centered-not-scaled",
        case="test mean-subtracted but not divided by std",
        title="train (x - mean) / std with global scalars on the 0..255 scale; test only x - mean",
        bug="one mean and one std are computed over the training pixels (0..255 scale); training images "
        "are standardized, the test images are only centered (the `/ std` is missing), so they "
        "reach the model about 64 times larger in scale than the training images.",
        kind_of="01-test-not-rescaled",
        run=run_b_test_centered_not_scaled,
        epochs=5,
        seed=34,
        expected=["eval-input-scale-mismatch"],
        also=["eval-distribution-shift"],
        must_not=["overfitting", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val accuracy far below train accuracy and val_loss far above it from the first "
        "epoch; test accuracy recovers when the test set is divided by the same std",
        symptom=scale_bug_symptom,
        notes="3,000 random training images (seed 104), 1,000 random test images (seed 204); integer "
        "labels; ELU convolutions with he_normal init; Adam(3e-4), batch 32. Both sides are centered "
        "on the training mean, so only the spread differs (test std about 64, train 1).",
    ),
    Variant(
        folder="05-overfit-strided-no-pool",
        case="overfit-genuine (1,000 images, strided CNN, RMSprop)",
        title="genuine overfitting: 1,000 images, four convolutions without pooling, RMSprop, 30 epochs",
        bug="no pipeline bug. A CNN downsampling with stride-2 convolutions (no pooling layers, no "
        "regularization) and a Dense(128) head on 1,000 images, trained 30 epochs with RMSprop.",
        kind_of="07-overfit-genuine",
        run=run_b_overfit_strided,
        epochs=30,
        seed=35,
        expected=["overfitting"],
        also=[],
        must_not=PIPELINE_ANY + ["healthy"],
        detectable=det(False, True, True),
        expected_symptom="val_loss reaches its minimum early and then rises while train accuracy approaches 1.0",
        symptom=overfit_symptom,
        notes="1,000 random training images (seed 105), 1,000 random test images (seed 205), both /255, "
        "integer labels, RMSprop(1e-3), batch 32.",
    ),
    Variant(
        folder="06-healthy-augment-in-model",
        case="HEALTHY control: Rescaling + RandomFlip + RandomTranslation in the model",
        title="HEALTHY control: uint8 arrays, the model rescales and augments its own inputs, 8 epochs",
        bug="none. Both splits are fed as uint8; the model starts with Rescaling(1/255), RandomFlip and "
        "RandomTranslation (active in training only), then a small CNN.",
        kind_of="06-unit-both",
        run=run_b_healthy_augment_in_model,
        epochs=8,
        seed=36,
        expected=["healthy"],
        also=["regularization-gap", "underfitting"],
        must_not=PIPELINE_ANY + ["overfitting"],
        detectable=det(False, True, True),
        expected_symptom="train and val accuracy improve together, small gap (val may lead), val_loss not rising",
        symptom=healthy_symptom,
        notes="3,000 random training images (seed 106), 1,000 random test images (seed 206), integer "
        "labels, Adam, batch 64. data.npz alone shows raw 0..255 arrays on both sides, which is "
        "exactly what a model with a Rescaling layer should get; without the model the arrays "
        "cannot tell this run from a scaling bug, so `data` is not a scored input here.",
    ),
    Variant(
        folder="07-healthy-resnetish",
        case="HEALTHY control: small residual network, inputs in [-1, 1]",
        title="HEALTHY control: two residual blocks + global average pooling, inputs x/127.5 - 1, 6 epochs",
        bug="none. Both splits are mapped to [-1, 1] the same way; a small residual network (no "
        "BatchNorm) trained for 6 epochs.",
        kind_of="05-standardized-both",
        run=run_b_healthy_resnetish,
        epochs=6,
        seed=37,
        expected=["healthy"],
        also=["overfitting", "underfitting"],
        must_not=PIPELINE_ANY,
        detectable=det(True, True, True),
        expected_symptom="train and val accuracy improve together, small gap, val_loss not rising",
        symptom=healthy_symptom,
        notes="3,000 random training images (seed 107), 1,000 random test images (seed 207), integer "
        "labels, Adam(1e-3), batch 32.",
    ),
    Variant(
        folder="08-dropout-every-block-l2",
        case="dropout 0.5 after every block + L2 (benign)",
        title="Dropout(0.5) after each block and L2(1e-4) on every kernel: validation above training",
        bug="no bug in the pipeline. Dropout(0.5) after both conv blocks and the Dense layer, plus L2 "
        "weight decay (which is added to the training loss only), keep the running training "
        "accuracy below validation accuracy.",
        kind_of="15-dropout-heavy",
        run=run_b_dropout_every_block_l2,
        epochs=8,
        seed=38,
        expected=["regularization-gap"],
        also=["healthy", "underfitting"],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "overfitting", "train-test-leakage"],
        detectable=det(False, True, True),
        expected_symptom="val accuracy above the running train accuracy in most epochs",
        symptom=dropout_gap_symptom,
        notes="3,000 random training images (seed 108), 1,000 random test images (seed 208), both /255, "
        "one-hot labels, Adam, batch 64.",
    ),
    Variant(
        folder="09-lr-too-high-rmsprop",
        case="lr-too-high (RMSprop 1.0)",
        title="RMSprop(learning_rate=1.0): the loss blows up, accuracy at chance",
        bug="RMSprop with learning_rate=1.0 (1000x its default of 0.001): the first updates move every "
        "weight by about 1, which wrecks the ReLU network.",
        kind_of="13-lr-too-high",
        run=run_b_lr_too_high_rmsprop,
        epochs=5,
        seed=39,
        expected=["unstable-training", "not-learning", "numerical-instability"],
        also=["underfitting"],
        must_not=["healthy", "overfitting", "eval-input-scale-mismatch", "input-not-normalized"],
        detectable=det(False, True, True),
        expected_symptom="first-epoch loss far above ln(10), non-finite losses, or loss pinned at ln(10); "
        "accuracy ~0.10",
        symptom=lr_high_b_symptom,
        notes="2,500 random training images (seed 109), 1,000 random test images (seed 209), both /255, "
        "integer labels, batch 256.",
    ),
    Variant(
        folder="10-lr-too-low-adam",
        case="lr-too-low (Adam 1e-6)",
        title="Adam(learning_rate=1e-6): loss barely moves in 8 epochs",
        bug="Adam with learning_rate=1e-6 (1000x below its default); 8 epochs move the weights by less than 1e-3 each.",
        kind_of="13-lr-too-high (the opposite end)",
        run=run_b_lr_too_low_adam,
        epochs=8,
        seed=40,
        expected=["underfitting", "not-learning"],
        also=[],
        must_not=PIPELINE + ["overfitting", "healthy"],
        detectable=det(False, True, True),
        expected_symptom="loss stays near ln(10) and accuracy near chance on train and val, no gap",
        symptom=lr_low_symptom,
        notes="2,500 random training images (seed 110), 1,000 random test images (seed 210), both /255, "
        "integer labels, metric 'sparse_categorical_accuracy' (the history keys carry that name), "
        "batch 32.",
    ),
    Variant(
        folder="11-val-split-class-pair-folders",
        case="unshuffled-validation-split (20%, two classes per block)",
        title="images read two classes per folder, then fit(validation_split=0.2)",
        bug="the training array is built folder by folder, each folder holding two classes (mixed "
        "within the folder); validation_split=0.2 takes the last 20% of the rows before shuffling, "
        "which is exactly the last folder: two classes that the training part never contains.",
        kind_of="11-unshuffled-validation-split",
        run=run_b_val_split_class_pairs,
        epochs=5,
        seed=41,
        expected=["eval-distribution-shift"],
        also=["class-imbalance"],
        must_not=["overfitting", "eval-input-scale-mismatch", "input-not-normalized", "healthy"],
        detectable=det(True, True, True),
        expected_symptom="val accuracy ~0 while train accuracy climbs; the (normal) test set scores far "
        "above validation",
        symptom=split_pairs_symptom,
        notes="300 random images of each class (seed 111), blocks in the class-pair order "
        f"{B11_PAIRS}, so validation holds classes 4 and 7 only. 1,000 random test images (seed "
        "211). One-hot labels, SeparableConv2D network, Adam, batch 40.",
    ),
    Variant(
        folder="12-relu-output-cce",
        case="relu output with categorical_crossentropy",
        title="Dense(10, activation='relu') output + loss='categorical_crossentropy'",
        bug="the output layer is ReLU, not softmax; categorical_crossentropy (from_logits=False) treats "
        "the non-negative, unnormalized outputs as probabilities (divided by their sum, clipped), "
        "and an output of 0 for the true class costs -log(1e-7) = 16.1.",
        kind_of="09-logits-without-from-logits",
        run=run_b_relu_output,
        epochs=6,
        seed=42,
        expected=["output-loss-mismatch"],
        also=["not-learning", "underfitting"],
        must_not=["healthy", "overfitting"],
        detectable=det(False, True, True),
        expected_symptom="loss above ln(10) or non-finite, or accuracy far below a normal run",
        symptom=relu_output_symptom,
        notes="3,000 random training images (seed 112), 1,000 random test images (seed 212), both /255, "
        "one-hot labels, Adam, batch 100.",
    ),
    Variant(
        folder="13-sigmoid-bce-binary-acc",
        case="sigmoid + binary_crossentropy + BinaryAccuracy('acc') on one-hot labels",
        title="a multi-label head on a single-label task: the reported 'acc' is per-output binary accuracy",
        bug="Dense(10, activation='sigmoid') with binary_crossentropy and "
        "metrics=[BinaryAccuracy(name='acc')] on one-hot labels of a 10-class single-label task: "
        "predicting 0 everywhere already scores acc 0.90.",
        kind_of="08b-binary-crossentropy-onehot",
        run=run_b_sigmoid_bce_acc,
        epochs=6,
        seed=43,
        expected=["label-format-mismatch", "output-loss-mismatch"],
        also=[],
        must_not=["healthy", "overfitting"],
        detectable=det(False, True, True),
        expected_symptom="'acc' about 0.90 or more from epoch 1 on train and val, far above the true "
        "categorical accuracy",
        symptom=bce_symptom,
        notes="3,000 random training images (seed 113), 1,000 random test images (seed 213), both /255, "
        "Adam, batch 64. The history keys are 'acc' and 'val_acc'.",
    ),
    Variant(
        folder="14-overlapping-split-bounds",
        case="train-test-leakage (20%, overlapping slice bounds)",
        title="train = images[:2200], test = images[2000:]: 200 of the 1,000 test images are trained on",
        bug="train and test are cut from one pooled array with overlapping bounds (the train slice should "
        "stop at 2000), so the first 200 test rows are exact copies of training rows and the test "
        "accuracy is inflated by memorised images.",
        kind_of="12-train-test-leakage",
        run=run_b_overlapping_split,
        epochs=15,
        seed=44,
        expected=["train-test-leakage"],
        also=["overfitting"],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "healthy"],
        detectable=det(True, True, False),
        expected_symptom="leaked test images score far above the clean ones",
        symptom=leak_symptom,
        notes="2,000 random training images (seed 114) and 1,000 random test images (seed 214) pooled; "
        "x_train = pool[:2200], x_test = pool[2000:] (x_test[:200] leaked). Integer labels, "
        "Adam(5e-4), batch 64. Visible only in the data (exact duplicates across x_train and "
        "x_test); the curves show ordinary overfitting.",
    ),
    Variant(
        folder="15-val-random-train-rows",
        case="val-from-train (a random sample of the training rows)",
        title="validation_data = 400 rows drawn at random from x_train",
        bug="validation_data is a random sample of the training arrays, so 'validation' measures "
        "memorisation; only the final evaluate() on the real test set shows the generalisation gap.",
        kind_of="14-val-from-train",
        run=run_b_val_random_train_rows,
        epochs=14,
        seed=45,
        expected=["train-test-leakage"],
        also=["overfitting"],
        must_not=["eval-input-scale-mismatch", "input-not-normalized", "healthy"],
        detectable=det(True, True, True, history=False),
        expected_symptom="val accuracy tracks or beats train accuracy all the way, while the printed "
        "test accuracy is much lower",
        symptom=val_from_train_symptom,
        notes="2,000 random training images (seed 115), validation rows drawn with rng seed 15 "
        "(x_val/y_val in data.npz), 1,000 random test images (seed 215). Integer labels, Adam with "
        "a cosine decay of the learning rate from 1e-3 to 0 over the run, batch 32; evaluate() "
        "with batch_size=500, result printed as 'Test loss: ..., test accuracy: ...'. Adjusted "
        "after first runs: with a constant Adam(1e-3) (2,500 images and 12 epochs, then 2,000 "
        "images and 14 epochs) validation tracked the running training accuracy within about "
        "0.05 all the way while the test accuracy stayed at 0.43-0.44, but both runs ended on a "
        "dip of the noisy last epoch (val 0.825 vs running train 0.880; 0.823 vs 0.910), short "
        "of the 'tracks or beats' check; the decaying learning rate ends the run without that "
        "noise.",
    ),
    Variant(
        folder="16-raw-inputs-cnn-sgd",
        case="raw 0-255 inputs on both sides, CNN with plain SGD",
        title="no scaling anywhere: the Keras MNIST-example CNN on raw 0-255 pixels with SGD()",
        bug="the images are cast to float32 but never scaled, on both sides; with the default "
        "SGD(learning_rate=0.01) the gradients of 0..255 inputs are far too large.",
        kind_of="02-train-not-rescaled-typo (both sides raw)",
        run=run_b_raw_cnn_sgd,
        epochs=5,
        seed=46,
        expected=["input-not-normalized", "not-learning"],
        also=["underfitting"],
        must_not=["eval-input-scale-mismatch", "eval-distribution-shift", "healthy", "overfitting"],
        detectable=det(True, True, True),
        expected_symptom="enormous first-epoch loss, non-finite losses, or loss pinned at ln(10); accuracy near chance",
        symptom=raw_cnn_symptom,
        notes="2,000 random training images (seed 116), 1,000 random test images (seed 216), one-hot labels, batch 32.",
    ),
]

SETS = {"a": VARIANTS, "b": VARIANTS_B}
DEFAULT_OUTS = {"a": DEFAULT_OUT, "b": ROOT / "out" / "cases-b" / "reenact"}


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def child_main(args: argparse.Namespace) -> int:
    """Run one variant in this process (stdout is the log)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    v = {v.folder: v for v in SETS[args.set]}[args.child]
    keras.utils.set_random_seed(v.seed)
    os.makedirs(args.outdir, exist_ok=True)
    r = Run(args.cifar, args.outdir, args.verbose, v.epochs, save_artifacts=not args.no_artifacts)
    v.run(r)
    if args.extras:
        with open(args.extras, "w") as f:
            json.dump(r.extras, f, indent=1)
    return 0


def run_child(
    v: Variant,
    cifar: str,
    verbose: int,
    outdir: Path,
    log: Path,
    err: Path,
    extras: Path | None,
    artifacts: bool,
    case_set: str = "a",
) -> int:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--set",
        case_set,
        "--child",
        v.folder,
        "--verbose",
        str(verbose),
        "--outdir",
        str(outdir),
        "--cifar",
        cifar,
    ]
    if extras:
        cmd += ["--extras", str(extras)]
    if not artifacts:
        cmd.append("--no-artifacts")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CIFAR10_NPZ=cifar)
    with open(log, "wb") as out, open(err, "wb") as er:
        return subprocess.run(cmd, stdout=out, stderr=er, env=env, cwd=str(outdir)).returncode


def summarize_arrays(path: Path) -> dict:
    import numpy as np

    out = {}
    with np.load(path) as d:
        for k in d.files:
            a = d[k]
            s: dict[str, Any] = {"shape": list(a.shape), "dtype": str(a.dtype)}
            if a.size:
                s["min"] = round(float(a.min()), 4)
                s["max"] = round(float(a.max()), 4)
            if a.ndim == 4:
                s["channel_mean"] = [round(float(m), 4) for m in a.reshape(-1, a.shape[-1]).mean(0)]
            out[k] = s
    return out


ACC_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")


def acc_key(hist: dict) -> str:
    """The name the run's accuracy metric has in its history."""
    return next(k for k in ACC_KEYS if k in hist)


def observe(hist: dict, extras: dict) -> dict:
    acc = acc_key(hist)
    o: dict[str, Any] = {"epochs": len(hist["loss"])}
    if acc != "accuracy":
        o["accuracy_metric_name"] = acc
    o["train_acc"] = round(hist[acc][-1], 4)
    o["train_loss"] = round(hist["loss"][-1], 4)
    if "val_loss" in hist:
        o["val_acc"] = round(hist["val_" + acc][-1], 4)
        o["val_loss"] = round(hist["val_loss"][-1], 4)
        vl = hist["val_loss"]
        finite = [(x, i) for i, x in enumerate(vl) if math.isfinite(x)]
        if finite:
            best, i = min(finite)
            o["best_val_loss"] = round(best, 4)
            o["best_val_loss_epoch"] = i + 1
        o["best_val_acc"] = round(max(hist["val_" + acc]), 4)
    test = extras.get("test_as_fed")
    if test:
        o["test_loss"] = round(test[0], 4)
        o["test_acc"] = round(test[1], 4)
    for k, val in extras.items():
        if k == "test_as_fed":
            continue
        if isinstance(val, list) and val and isinstance(val[0], float):
            val = [round(x, 4) for x in val]
        elif isinstance(val, float):
            val = round(val, 4)
        o[k] = val
    return o


def make_case(v: Variant, out_root: Path, cifar: str, case_set: str = "a") -> dict:
    case_dir = out_root / v.folder
    if case_dir.exists():
        shutil.rmtree(case_dir)
    case_dir.mkdir(parents=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix=f"make-cases-{v.folder}-") as tmp:
        tmp = Path(tmp)
        scratch = tmp / "verbose2"
        scratch.mkdir()
        rc1 = run_child(
            v,
            cifar,
            1,
            case_dir,
            case_dir / "log-verbose1.txt",
            case_dir / "stderr-verbose1.txt",
            tmp / "extras.json",
            artifacts=True,
            case_set=case_set,
        )
        rc2 = run_child(
            v,
            cifar,
            2,
            scratch,
            case_dir / "log-verbose2.txt",
            case_dir / "stderr-verbose2.txt",
            None,
            artifacts=False,
            case_set=case_set,
        )
        if rc1 != 0 or rc2 != 0:
            raise RuntimeError(f"{v.folder}: child runs exited {rc1}/{rc2}; see {case_dir}/stderr-verbose*.txt")
        hist = json.loads((case_dir / "history.json").read_text())
        hist2 = json.loads((scratch / "history.json").read_text())
        extras = json.loads((tmp / "extras.json").read_text())
    o = observe(hist, extras)
    diffs = [abs(a - b) for k in hist for a, b in zip(hist[k], hist2.get(k, []))]
    o["verbose2_run_max_abs_diff_vs_verbose1"] = max(diffs) if diffs else None
    o["verbose2_run_epochs"] = len(hist2.get("loss", []))
    check_in = dict(o)
    check_in["train_acc_curve"] = hist[acc_key(hist)]
    check_in["train_loss_curve"] = hist["loss"]
    check_in["val_acc_curve"] = hist.get("val_" + acc_key(hist), [])
    try:
        passed, evidence = v.symptom(check_in)
    except Exception as exc:  # a run too broken to measure did not show the intended symptom
        passed, evidence = False, f"could not measure: {type(exc).__name__}: {exc}"
    truth = {
        "set": case_set,
        "case": v.case,
        "folder": v.folder,
        "title": v.title,
        "bug": v.bug,
        "kind_of_dev_case": v.kind_of,
        "expected_causes": v.expected,
        "also_acceptable": v.also,
        "must_not_report_as_primary": v.must_not,
        "detectable_from": v.detectable,
        "expected_symptom": v.expected_symptom,
        "symptom_check": {"passed": bool(passed), "evidence": evidence},
        "observed": o,
        "arrays": summarize_arrays(case_dir / "data.npz"),
        "seed": f"keras.utils.set_random_seed({v.seed})",
        "notes": v.notes,
        "files": sorted(p.name for p in case_dir.iterdir()) + ["truth.json"],
        "seconds": round(time.time() - t0, 1),
    }
    (case_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--set",
        default="a",
        choices=sorted(SETS),
        help="which set of variants: a (the first) or b (an independent second one); default a",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where the case folders go (default {DEFAULT_OUTS['a']} for --set a, {DEFAULT_OUTS['b']} for --set b)",
    )
    ap.add_argument("--only", default=None, help="only cases whose folder name contains this")
    ap.add_argument("--jobs", type=int, default=1, help="cases built at the same time (default 1)")
    ap.add_argument("--cifar", default=os.environ.get("CIFAR10_NPZ", str(DEFAULT_CIFAR)), help="cifar10.npz")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    # internal: one training run in a child process
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--verbose", type=int, default=1, choices=[1, 2], help=argparse.SUPPRESS)
    ap.add_argument("--outdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--extras", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-artifacts", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        return child_main(args)
    if args.out is None:
        args.out = DEFAULT_OUTS[args.set]
    chosen = [v for v in SETS[args.set] if args.only is None or args.only in v.folder]
    if args.list:
        for v in chosen:
            print(f"{v.folder:34} {', '.join(v.expected):45} {v.title}")
        return 0
    if not chosen:
        print(f"Error: no case matches {args.only!r}", file=sys.stderr)
        return 2
    if not Path(args.cifar).is_file():
        print(f"Error: {args.cifar} not found (use --cifar or $CIFAR10_NPZ)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)

    def one(v: Variant) -> tuple[Variant, dict | None, str]:
        try:
            return v, make_case(v, args.out, args.cifar, args.set), ""
        except Exception as exc:
            return v, None, f"{type(exc).__name__}: {exc}"

    failures = 0
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for v, truth, err in pool.map(one, chosen):
            if truth is None:
                failures += 1
                print(f"FAILED   {v.folder}: {err}", flush=True)
                continue
            sc = truth["symptom_check"]
            mark = "symptom " if sc["passed"] else "NO-SYMPT"
            print(f"{mark} {v.folder:34} {truth['seconds']:6.1f}s  {sc['evidence']}", flush=True)
    print(f"{len(chosen) - failures}/{len(chosen)} cases written to {args.out} in {time.time() - t0:.0f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
