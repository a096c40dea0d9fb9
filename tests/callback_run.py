"""One short `fit` of the seed's bug with `DoctorCallback`, run in a subprocess by tests/test_callback_backends.py.

The seed's bug: training images divided by 255, validation images raw. Prints
one JSON object per run on stdout (the callback's verdict after epoch 1 and at
the end, the error codes, the measured counterfactuals, `diagnose(model=...)`'s
verdict); the caller compares them across Keras backends and strategies.

Usage: `KERAS_BACKEND=jax python tests/callback_run.py [--mirrored | --multi-worker | --without-tensorflow]`.
With `--mirrored` (TensorFlow only) the CPU is split into two logical devices
and the same run is made without a strategy, then under a `MirroredStrategy`
over both. With `--multi-worker`, this process is one worker of a
`MultiWorkerMirroredStrategy` cluster described by `TF_CONFIG` (see
`multi_worker`). With `--without-tensorflow`, TensorFlow cannot be imported,
as for a user who installed only JAX or PyTorch.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SAMPLE = Path(__file__).resolve().parent.parent / "cifar_doctor" / "data" / "cifar10_sample.npz"

#: Images of each split: enough for the data checks (a few hundred), small enough for seconds of CPU.
N_TRAIN, N_VAL = 200, 100


def _arrays():
    import numpy as np

    with np.load(SAMPLE, allow_pickle=False) as d:
        x, y, xv, yv = d["x_train"][:N_TRAIN], d["y_train"][:N_TRAIN], d["x_test"][:N_VAL], d["y_test"][:N_VAL]
    eye = np.eye(10, dtype="float32")
    # the seed's bug: x_train / 255, x_test raw
    return x.astype("float32") / 255.0, eye[y.reshape(-1)], xv.astype("float32"), eye[yv.reshape(-1)]


def _build(keras):
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model


def run(strategy=None) -> dict:
    """Fit one epoch with the callback (under `strategy` when given) and describe what it found."""
    import keras

    import cifar_doctor
    from cifar_doctor.keras import DoctorCallback
    from cifar_doctor.sources.models import model_info

    x, y, xv, yv = _arrays()
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = _build(keras)
    doctor = DoctorCallback(train_sample=(x, y), validation_data=(xv, yv), warn=False)
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.setdefault("epoch1", doctor.report.verdict.cause)

    hist = model.fit(x, y, validation_data=(xv, yv), epochs=1, batch_size=50, verbose=0, callbacks=[doctor, Probe()])
    report = doctor.report
    diag = cifar_doctor.diagnose(x_train=x, y_train=y, x_test=xv, y_test=yv, model=model, history=hist)
    # in-model normalization read on this backend (an adapted layer's mean and variance are tensors)
    norm = keras.layers.Normalization()
    norm.adapt(x[:50])
    normed = keras.Sequential([keras.Input((32, 32, 3)), norm, keras.layers.Flatten(), keras.layers.Dense(10)])
    return {
        "backend": keras.backend.backend(),
        "strategy": type(strategy).__name__ if strategy is not None else None,
        "replicas": getattr(strategy, "num_replicas_in_sync", 1),
        "epoch1": seen.get("epoch1"),
        "final": report.verdict.cause,
        "errors": sorted({f.code for f in report.findings if f.severity.value == "error"}),
        "train_eval_accuracy": doctor.history.get("train_eval_accuracy"),
        "flavor": doctor._history_object().flavor,
        "counterfactuals": [c.to_dict() for c in report.counterfactuals],
        "diagnose": diag.verdict.cause,
        "diagnose_counterfactuals": [c.to_dict() for c in diag.counterfactuals],
        "normalization": [[a.scale, a.offset] for a in model_info(normed).rescaling_affine],
    }


def multi_worker() -> dict:
    """One worker's view of the callback under `MultiWorkerMirroredStrategy` (`TF_CONFIG` set by the caller).

    Keras 3's own `fit` fails under this strategy once the cluster has two
    workers (Keras 3.15, TensorFlow 2.21: `strategy.reduce` of the first
    batch's `(x, y)` tuple in `_maybe_symbolic_build`, then of the scalar logs
    with `axis=0` in `reduce_per_replica`), whatever the callbacks: a `fit`
    without callbacks tells. Where it fails, the callback's hooks are called
    here in `fit`'s order, with the seed's epoch-1 metrics; where it works,
    `fit` runs the callback. Either way everything the callback computes
    (`model.predict` on the training sample, the counterfactual predictions
    at train end) runs as collectives on both workers, which must agree, and
    only the chief may print.
    """
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # first: it configures the collectives
    import keras
    import numpy as np

    from cifar_doctor.keras import DoctorCallback

    x, y, xv, yv = _arrays()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = _build(keras)
    # predictions gathered from both workers come back in the order of the images
    gathered = model.predict(x[:100], batch_size=50, verbose=0)
    local = keras.ops.convert_to_numpy(model(x[:100], training=False))
    try:
        model.fit(x[:100], y[:100], epochs=1, batch_size=50, verbose=0)
        fit_error = None
    except Exception as exc:  # noqa: BLE001 - Keras' own failure under this strategy
        fit_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    doctor = DoctorCallback(train_sample=(x, y), validation_data=(xv, yv), stop_on="error")
    if fit_error is None:
        model.fit(x, y, validation_data=(xv, yv), epochs=2, batch_size=50, verbose=0, callbacks=[doctor])
    else:
        doctor.set_model(model)
        doctor.set_params({"verbose": 0, "epochs": 2, "steps": N_TRAIN // 50})
        doctor.on_train_begin()
        doctor.on_epoch_begin(0)
        doctor.on_epoch_end(0, {"loss": 1.7761, "accuracy": 0.3584, "val_loss": 8.6776, "val_accuracy": 0.4489})
        doctor.on_train_end()
    return {
        "fit_error": fit_error,
        "task": json.loads(os.environ["TF_CONFIG"])["task"],
        "replicas": strategy.num_replicas_in_sync,
        "predict_in_order": bool(np.allclose(gathered, local, atol=1e-5)),
        "final": doctor.report.verdict.cause,
        "events": doctor.events,
        "stop_training": bool(model.stop_training),
        "train_eval_accuracy": doctor.history.get("train_eval_accuracy"),
        "counterfactuals": [c.to_dict() for c in doctor.report.counterfactuals],
    }


def main(argv: list[str]) -> int:
    if "--without-tensorflow" in argv:
        sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError from here on
    if "--multi-worker" in argv:
        print(json.dumps(multi_worker()), flush=True)
        return 0
    if "--mirrored" in argv:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        # before TensorFlow initialises: two logical devices to mirror over
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        print(json.dumps(run()), flush=True)
        print(json.dumps(run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))), flush=True)
        return 0
    print(json.dumps(run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
