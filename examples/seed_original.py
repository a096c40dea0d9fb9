"""The question's first model and pipeline on Keras 3, with cifar-doctor watching the training.

The question ("CNN train accuracy gets better during training, but test accuracy
stays around 40%") divides the training images by 255 and feeds the test images
raw. `DoctorCallback` sees it before the first batch, from samples of both splits
(training images on [0, 1], test images on [0, 255]: a ~255x scale ratio), and at
the end of epoch 1 from the epoch's numbers (a validation loss far above what its
accuracy allows). It prints a warning on stderr, lets training go on (pass
`--stop-on-error` to stop), and after training `doctor.report` holds the diagnosis,
with the fix measured on the trained model.

Run:
    python examples/seed_original.py                      # full CIFAR-10, 5 epochs, as in the question
    python examples/seed_original.py --limit 2000 --epochs 1
    CIFAR_DOCTOR_EXAMPLE_LIMIT=2000 python examples/seed_original.py
    python examples/seed_original.py --data path/to/cifar10.npz

Full CIFAR-10 comes from `cifar_doctor.sources.datasets.load_cifar10()` (the Keras
cache, the Keras download, else the bundled 2,500-image sample with a notice).
With `--limit N`, N training images and min(N, 10,000) test images are used.

Expected output: see `examples/seed_original.txt` (stdout and stderr of a real run).
The lines to look for:
    stderr: "cifar-doctor ✖ PRE001 ... (before the first batch): ..." with the scale ratio
    stdout: verdict: eval-input-scale-mismatch
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ start-up chatter

import keras  # noqa: E402
from keras import layers  # noqa: E402

from cifar_doctor.keras import DoctorCallback  # noqa: E402
from cifar_doctor.sources.datasets import load_cifar10, load_data_path  # noqa: E402

LIMIT_ENV = "CIFAR_DOCTOR_EXAMPLE_LIMIT"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--limit",
        type=int,
        default=int(os.environ.get(LIMIT_ENV, 0)) or None,
        help=f"use the first N training images (and test images); env {LIMIT_ENV}",
    )
    p.add_argument("--epochs", type=int, default=5, help="epochs (the question: 5)")
    p.add_argument("--batch-size", type=int, default=1000, help="batch size (the question: 1000)")
    p.add_argument("--data", help="an npz / cifar-10-batches-py folder instead of load_cifar10()")
    p.add_argument("--seed", type=int, default=None, help="seed the weights and shuffling (default: unseeded)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity (the question: 1)")
    p.add_argument("--stop-on-error", action="store_true", help="stop training on the first error")
    p.add_argument(
        "--no-callback",
        action="store_true",
        help="train without DoctorCallback: the question's script as it was (for `cifar-doctor watch`)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    data = (load_data_path(args.data) if args.data else load_cifar10()).arrays
    x_train, y_train, x_test, y_test = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]

    # The question's pipeline: "The input images are (32,32,3) numpy arrays normalized to (0,1)" --
    # but only the training images were divided by 255.
    train_images = x_train.astype("float32") / 255
    test_images = x_test.astype("float32")
    train_labels = keras.utils.to_categorical(y_train, 10)
    test_labels = keras.utils.to_categorical(y_test, 10)

    # The question's model, on Keras 3 (an Input layer instead of input_shape=).
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(filters=256, kernel_size=(3, 3), activation="relu", data_format="channels_last"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(filters=128, kernel_size=(2, 2), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy", metrics=["accuracy"])

    doctor = DoctorCallback(
        train_sample=(train_images, train_labels),  # a strided sample of 2,000 is taken, no copy
        validation_data=(test_images, test_labels),
        stop_on="error" if args.stop_on_error else None,
    )
    model.fit(
        train_images,
        train_labels,
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=args.verbose,
        validation_data=(test_images, test_labels),
        callbacks=[] if args.no_callback else [doctor],
    )

    loss, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    print("loss: ", loss, "\naccuracy: ", accuracy)
    if not args.no_callback:
        print("verdict:", doctor.report.verdict.cause)
        doctor.report.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
