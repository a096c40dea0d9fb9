"""Shared factory fixtures: small seeded data, histories and CLI runners."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cifar_doctor.api import build_inputs
from cifar_doctor.engine import run
from cifar_doctor.inputs import ModelInfo

# Tests never reach the network (the CIFAR-10 download) and keep TensorFlow quiet.
os.environ.setdefault("CIFAR_DOCTOR_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Under pytest-xdist (`-n 2`, the default in pyproject.toml) each worker, and every subprocess it starts, runs
# TensorFlow and BLAS on one thread: two workers then share the cores instead of oversubscribing them (the
# 177 slowest tests: 15 min on two such workers, 19 min in one process with TensorFlow's own thread pools).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz"

#: CIFAR-10 per-channel mean/std on the 0-1 scale (train split).
CIFAR_MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
CIFAR_STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)


def _uint8_images(n: int, seed: int, shape=(32, 32, 3)) -> np.ndarray:
    """Image-like uint8 data: per-image brightness, smooth gradients, noise, CIFAR-like channel means."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = (CIFAR_MEAN[:c] * 255)[None, None, None, :]
    bright = rng.normal(0, 40, size=(n, 1, 1, 1)).astype(np.float32)
    grad = (
        rng.normal(0, 1.5, size=(n, 1, 1, 1)) * (xx - w / 2)[None, :, :, None]
        + rng.normal(0, 1.5, size=(n, 1, 1, 1)) * (yy - h / 2)[None, :, :, None]
    ).astype(np.float32)
    noise = rng.normal(0, 25, size=(n, h, w, c)).astype(np.float32)
    return np.clip(base + bright + grad + noise, 0, 255).astype(np.uint8)


def scale_images(x: np.ndarray, scale: str) -> np.ndarray:
    """Apply a normalization scheme to uint8 images."""
    if scale == "uint8":
        return x
    xf = x.astype(np.float32)
    if scale == "raw-float":
        return xf
    if scale == "unit":
        return xf / 255.0
    if scale == "symmetric":
        return xf / 127.5 - 1.0
    if scale == "standardized":
        m = xf.reshape(-1, x.shape[-1]).mean(0)
        s = xf.reshape(-1, x.shape[-1]).std(0)
        return (xf - m) / s
    if scale == "imagenet":
        return (xf / 255.0 - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    raise ValueError(scale)


@pytest.fixture
def make_images():
    """`make_images(n, scale="uint8", seed=0)`: image-like data in a given scheme."""

    def make(n: int = 200, scale: str = "uint8", seed: int = 0, shape=(32, 32, 3)) -> np.ndarray:
        return scale_images(_uint8_images(n, seed, shape), scale)

    return make


@pytest.fixture
def make_labels():
    """`make_labels(n, classes=10, one_hot=False, seed=0, column=False)`: balanced shuffled labels."""

    def make(n: int = 200, classes: int = 10, one_hot: bool = False, seed: int = 0, column: bool = False):
        rng = np.random.default_rng(seed)
        y = rng.permutation(np.arange(n) % classes)
        if one_hot:
            return np.eye(classes, dtype=np.float32)[y]
        return y.reshape(-1, 1) if column else y

    return make


def keras3_console(metrics: dict[str, list[float]], first: int = 1, total: int | None = None) -> str:
    """What Keras 3 prints for `fit(verbose=2)` with these per-epoch `metrics` (each to four decimals, in the
    dict's order), its epochs numbered from `first` of `total` (the last one numbered, by default)."""
    epochs = len(next(iter(metrics.values())))
    total = total or first + epochs - 1
    return "".join(
        f"Epoch {first + e}/{total}\n20/20 - 1s - 30ms/step"
        + "".join(f" - {name}: {values[e]:.4f}" for name, values in metrics.items())
        + "\n"
        for e in range(epochs)
    )


@pytest.fixture
def make_history():
    """`make_history(loss=[...], accuracy=[...], val_loss=[...], val_accuracy=[...])` -> History."""
    from cifar_doctor.sources.logs import history_from_dict

    def make(**metrics):
        return history_from_dict({k: list(v) for k, v in metrics.items()}, source="test")

    return make


@pytest.fixture(scope="session")
def sample_arrays():
    """The bundled real CIFAR-10 sample (uint8)."""
    if not SAMPLE.exists():
        pytest.skip("bundled sample not built")
    with np.load(SAMPLE, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


#: Markers whose tests are slow (training, TensorFlow imports, clusters): `slow` is added to them, so that
#: `pytest -m "not slow"` is the fast edit-and-test loop; CI runs everything.
SLOW_MARKERS = ("training", "tf", "distributed")

#: Names whose use in a test (or in a helper of its module it calls) means a subprocess: a fresh Python
#: importing cifar-doctor costs about 0.6 s, about 5 s with TensorFlow. Such a test is `slow` too.
SUBPROCESS_NAMES = frozenset({"run_cli", "run_json", "subprocess", "Popen"})


def _code_names(code: Any) -> set[str]:
    """The global names a code object uses, its nested functions' included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _code_names(const)
    return names


def runs_a_subprocess(fn: Any, module: Any, depth: int = 2) -> bool:
    """Whether test function `fn` starts a subprocess, directly or through its module's helpers (`depth` deep)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    names = _code_names(code)
    if names & SUBPROCESS_NAMES:
        return True
    helpers = [getattr(module, n, None) for n in names] if depth else []
    return any(
        inspect.isfunction(h) and h.__module__ == module.__name__ and runs_a_subprocess(h, module, depth - 1)
        for h in helpers
    )


#: A module-level `pytestmark` with a slow marker: every test of the module is slow.
SLOW_MODULE = re.compile(r"^pytestmark\s*=.*\bpytest\.mark\.(?:slow|training|tf|distributed)\b", re.M)


def _deselects_slow(config) -> bool:
    """Whether `-m` deselects the slow tests (`-m "not slow"`, `-m "not slow and not tf"`, ...)."""
    expr = (config.getoption("markexpr", "") or "").strip()
    if not expr:  # no -m: every test runs (an empty expression evaluates to False in pytest 9)
        return False
    try:
        from _pytest.mark.expression import Expression

        return not Expression.compile(expr).evaluate(lambda name: name in ("slow", *SLOW_MARKERS))
    except Exception:  # another pytest: the plain reading
        return "not slow" in expr


def pytest_ignore_collect(collection_path, config):
    """With slow tests deselected, do not even import a module whose every test is slow: several import
    Keras at module level, which costs TensorFlow's start-up (10-40 s on a loaded machine) for nothing."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_") or not _deselects_slow(config):
        return None
    try:
        head = collection_path.read_text(encoding="utf-8")
    except OSError:
        return None
    return True if SLOW_MODULE.search(head) else None


def pytest_collection_modifyitems(config, items):
    """Mark `slow` the tests with a `SLOW_MARKERS` marker and those that start a subprocess."""
    for item in items:
        if item.get_closest_marker("slow") is not None:
            continue
        fn, module = getattr(item, "function", None), getattr(item, "module", None)
        if any(item.get_closest_marker(m) is not None for m in SLOW_MARKERS) or (
            fn is not None and module is not None and runs_a_subprocess(fn, module)
        ):
            item.add_marker(pytest.mark.slow)


def run_cli(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 600):
    """Run `python -m cifar_doctor ARGS` in a subprocess; return CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    full_env["NO_COLOR"] = "1"
    full_env["COLUMNS"] = "120"
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cifar_doctor", *args],
        capture_output=True,
        text=True,
        input=input,
        env=full_env,
        timeout=timeout,
    )


def only(report, code):
    """The one finding of `report` with `code` (fails listing every finding otherwise)."""
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message) for f in report.findings]
    return found[0]


def status(report, code):
    """`ran`, `skipped` or `crashed`: what happened to check `code` in `report`."""
    return {c.code: c for c in report.checks}[code].status


def run_json(*args: str, **kw):
    """Run the CLI with --json; return (returncode, parsed stdout, stderr)."""
    proc = run_cli(*args, "--json", **kw)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:  # pragma: no cover - shown on failure
        raise AssertionError(f"stdout is not JSON ({exc}):\n{proc.stdout}\nstderr:\n{proc.stderr}") from exc
    return proc.returncode, data, proc.stderr


#: CIFAR-10's class names, as the folders of the `photos` fixture.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The bundled CIFAR-10 sample written as train/ and test/ class folders of PNGs."""
    from PIL import Image

    sample = Path(__file__).resolve().parent.parent / "cifar_doctor" / "data" / "cifar10_sample.npz"
    if not sample.exists():
        pytest.skip("bundled sample not built")
    root = tmp_path_factory.mktemp("photos")
    with np.load(sample) as d:
        arrays = {k: d[k] for k in d.files}
    for split, n in (("train", 600), ("test", 300)):
        x, y = arrays[f"x_{split}"][:n], arrays[f"y_{split}"][:n].reshape(-1)
        for i in range(n):
            folder = root / split / CIFAR10_CLASSES[int(y[i])]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(x[i]).save(folder / f"{i:04d}.png")
    return root


@pytest.fixture
def data(make_images, make_labels):
    """Train (600) and test (200) images from different seeds, one-hot labels."""

    def make(train="unit", test="unit", n_train=600, n_test=200):
        return dict(
            x_train=make_images(n_train, scale=train, seed=0),
            y_train=make_labels(n_train, one_hot=True, seed=0),
            x_test=make_images(n_test, scale=test, seed=1),
            y_test=make_labels(n_test, one_hot=True, seed=1),
        )

    return make


def model_info(**kw) -> ModelInfo:
    """Facts of a small CIFAR-10 CNN, with `kw` changed."""
    base = dict(
        input_shape=(32, 32, 3),
        output_units=10,
        last_activation="softmax",
        loss="categorical_crossentropy",
        from_logits=False,
        rescaling=[],
        layers=["Conv2D", "MaxPooling2D", "Flatten", "Dense"],
    )
    base.update(kw)
    return ModelInfo(**base)


def run_check(code, **kw):
    """Run one check through the engine; return (findings of that code, its outcome)."""
    report = run(build_inputs(**kw), select_codes=[code], counterfactual=False)
    outcome = next(o for o in report.checks if o.code == code)
    return [f for f in report.findings if f.code == code], outcome, report
