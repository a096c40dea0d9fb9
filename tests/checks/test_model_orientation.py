"""Check MDL011: where it fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import numpy as np
import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs, Split
from conftest import run_json

SIDE = 16


def bars(n: int, *, seed: int, where: str = "across") -> tuple[np.ndarray, np.ndarray]:
    """Images of one bright bar on noise, (n, 16, 16, 1) in [0, 1], and their labels.

    `across`: class 0 a horizontal bar, class 1 a vertical one. `height`: a horizontal bar in
    the top half (class 0) or the bottom half (class 1).
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0.0, 0.3, (n, SIDE, SIDE, 1)).astype("float32")
    pos = rng.integers(2, SIDE - 2, n)
    for i in range(n):
        if where == "height":
            row = rng.integers(1, SIDE // 2 - 1) if y[i] == 0 else rng.integers(SIDE // 2 + 1, SIDE - 1)
            x[i, row, :, 0] = 1.0
        elif y[i] == 0:
            x[i, pos[i], :, 0] = 1.0
        else:
            x[i, :, pos[i], 0] = 1.0
    return x, y


def orientation_reader(where: str):
    """An `evaluate(x, y)` that reads the bars the way a network trained on upright images would."""

    def evaluate(x, y):
        x = np.asarray(x)[..., 0]
        rows, cols = x.mean(axis=2), x.mean(axis=1)
        if where == "height":
            pred = (rows.argmax(axis=1) >= SIDE // 2).astype(int)
        else:
            pred = (cols.var(axis=1) > rows.var(axis=1)).astype(int)
        acc = float((pred == np.asarray(y)).mean())
        return {"accuracy": acc, "loss": 2.0 * (1.0 - acc) + 0.05}

    return evaluate


def inputs(where: str, eval_transform=None) -> Inputs:
    x, y = bars(400, seed=1, where=where)
    xt, yt = bars(300, seed=2, where=where)
    if eval_transform is not None:
        xt = np.ascontiguousarray(eval_transform(xt))
    return Inputs(
        splits={"train": Split("train", x, y), "test": Split("test", xt, yt)},
        evaluate=orientation_reader(where),
    )


def found(inp):
    report = run(inp, calibrated=False)
    return {f.code: f for f in report.findings}, report


def test_mdl011_transposed_eval_images():
    f, report = found(inputs("across", lambda a: np.swapaxes(a, 1, 2)))
    ev = f["MDL011"].evidence
    assert ev["best"] == "transposed" and ev["accuracy_given"] < 0.05 and ev["accuracy_reoriented"]["transposed"] > 0.95
    assert ev["train_control"]["given"] > 0.95 and ev["train_control"]["transposed"] < 0.05
    assert "np.swapaxes(x_test, 1, 2)" in f["MDL011"].fix.snippet
    assert f["MDL011"].severity.value == "error"
    assert report.verdict.cause == "input-layout-mismatch"


def test_mdl011_upside_down_eval_images():
    f, _ = found(inputs("height", lambda a: a[:, ::-1]))
    assert f["MDL011"].evidence["best"] == "upside-down"
    assert "x_test = x_test[:, ::-1]" in f["MDL011"].fix.snippet


def test_mdl011_reversed_colour_channels_are_a_distribution_shift():
    # class 0 a red bar, class 1 a blue bar; the reader tells them by colour, the test set is BGR
    def coloured(n, seed):
        r = np.random.default_rng(seed)
        y = r.integers(0, 2, n)
        x = r.uniform(0.0, 0.2, (n, SIDE, SIDE, 3)).astype("float32")
        for i in range(n):
            x[i, r.integers(2, SIDE - 2), :, 0 if y[i] == 0 else 2] = 1.0
        return x, y

    def reader(x, y):
        x = np.asarray(x)
        pred = (x[..., 2].max(axis=(1, 2)) > x[..., 0].max(axis=(1, 2))).astype(int)
        acc = float((pred == np.asarray(y)).mean())
        return {"accuracy": acc, "loss": 2.0 * (1.0 - acc) + 0.05}

    (x, y), (xt, yt) = coloured(300, 1), coloured(200, 2)
    inp = Inputs(
        splits={"train": Split("train", x, y), "test": Split("test", xt[..., ::-1].copy(), yt)}, evaluate=reader
    )
    f, report = found(inp)
    assert f["MDL011"].evidence["best"] == "channels-reversed" and f["MDL011"].cause == "eval-distribution-shift"
    assert "x_test = x_test[..., ::-1]" in f["MDL011"].fix.snippet
    assert report.verdict.cause == "eval-distribution-shift"


def test_mdl011_silent_when_eval_images_are_laid_out_like_training():
    for where in ("across", "height"):
        f, _ = found(inputs(where))
        assert "MDL011" not in f


def test_mdl011_silent_on_images_that_are_not_square():
    inp = inputs("across", lambda a: np.swapaxes(a, 1, 2))
    wide = {name: Split(name, s.x[:, :, :12], s.y) for name, s in inp.splits.items()}
    f, _ = found(Inputs(splits=wide, evaluate=inp.evaluate))
    assert "MDL011" not in f


def test_mdl011_skipped_without_a_model():
    x, y = bars(50, seed=1)
    inp = Inputs(splits={"train": Split("train", x, y), "test": Split("test", x, y)})
    assert next(c for c in run(inp).checks if c.code == "MDL011").status == "skipped"


@pytest.mark.slow
def test_mdl011_names_a_transposed_test_set_from_a_real_model(tmp_path):
    keras = pytest.importorskip("keras")
    from keras import layers

    keras.utils.set_random_seed(0)
    x, y = bars(600, seed=1)
    xt, yt = bars(300, seed=2)
    model = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 1)),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    model.save(tmp_path / "model.keras")
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_test=np.swapaxes(xt, 1, 2), y_test=yt)
    code, report, _ = run_json("check", "--data", str(tmp_path / "data.npz"), "--model", str(tmp_path / "model.keras"))
    (f,) = [f for f in report["findings"] if f["code"] == "MDL011"]
    assert f["evidence"]["best"] == "transposed" and f["evidence"]["gain"] > 0.3
    assert report["verdict"]["cause"] == "input-layout-mismatch"
    assert code != 0  # an error-level finding


def test_mdl011_samples_large_images_by_bytes():
    from cifar_doctor.checks.model.orientation import ORIENTATION_BYTES, ORIENTATION_SAMPLE, _sample

    small = np.zeros((50_000, 32, 32, 3), np.float32)
    large = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (100_000, 224, 224, 3), (0, 0, 0, 0))
    assert len(_sample(small)) == ORIENTATION_SAMPLE
    assert len(_sample(large)) * 224 * 224 * 3 <= ORIENTATION_BYTES < (len(_sample(large)) + 1) * 224 * 224 * 3
