"""TensorFlow starts quietly (cifar_doctor.tfenv), and what can be refused is refused before it starts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import corpus
from cifar_doctor import tfenv

#: Subprocesses of the CLI: run by CI, skipped by the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

#: Lines TensorFlow's native libraries and absl print at start-up (none of them cifar-doctor's).
TF_LINE = re.compile(
    r"absl|oneDNN|cuda|cuInit|I0000|W0000|E0000|tensorflow/|cpu_feature_guard|"
    r"To enable the following instructions",
    re.IGNORECASE,
)


def _cli(*args: str, debug: bool = False, cwd: Path | None = None, timeout: float = 600):
    """The command in a subprocess with the environment a user has: no TF_CPP_MIN_LOG_LEVEL, no debug."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel", "ABSL_MIN_LOG_LEVEL", tfenv.DEBUG_ENV)
    }
    env.update(NO_COLOR="1", COLUMNS="120", CIFAR_DOCTOR_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "cifar_doctor", *(("--debug",) if debug else ()), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )


def _tf_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if TF_LINE.search(line)]


@pytest.fixture
def model_and_data(tmp_path):
    """A valid .keras file (built without TensorFlow) and a small npz of its input shape."""
    model = corpus.keras_file(tmp_path / "m.keras", weights=corpus.keras_weights())
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(
        data,
        x_train=rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8),
        y_train=np.arange(60) % 10,
        x_test=rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8),
        y_test=np.arange(20) % 10,
    )
    return model, data


@pytest.mark.tf
def test_check_with_a_model_prints_no_tensorflow_start_up_lines(model_and_data):
    model, data = model_and_data
    proc = _cli("check", "--data", str(data), "--model", str(model))
    assert proc.returncode in (0, 1), proc.stderr
    assert _tf_lines(proc.stderr) == []
    assert "Verdict" in proc.stdout
    debug = _cli("check", "--data", str(data), "--model", str(model), debug=True)
    assert debug.returncode == proc.returncode
    if not _tf_lines(debug.stderr):
        pytest.skip("this TensorFlow build prints nothing at start-up: nothing to hide or show")
    assert any("absl" in line or "I0000" in line for line in _tf_lines(debug.stderr))  # --debug hides nothing


@pytest.mark.tf
@pytest.mark.training
def test_compare_prints_no_tensorflow_start_up_lines():
    proc = _cli("compare", "original", "--limit", "20", "--epochs", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert _tf_lines(proc.stderr) == [], proc.stderr


def test_watch_adds_no_tensorflow_lines(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "print('Epoch 1/1')\nprint('3/3 - 1s - loss: 2.3 - accuracy: 0.1 - val_loss: 2.3 - val_accuracy: 0.1')\n"
    )
    proc = _cli("watch", "--", sys.executable, str(script))
    assert proc.returncode in (0, 1), proc.stderr
    assert _tf_lines(proc.stderr) == []


@pytest.mark.parametrize(
    "layer, match",
    [
        (
            {
                "module": "keras.layers",
                "class_name": "Lambda",
                "registered_name": None,
                "config": {"name": "lambda", "function": {"class_name": "__lambda__", "config": {"code": "x"}}},
            },
            "Lambda",
        ),
        (
            {
                "module": None,
                "class_name": "MyLayer",
                "registered_name": "my_package>MyLayer",
                "config": {"name": "mine"},
            },
            "custom objects .*my_package>MyLayer",
        ),
    ],
    ids=["lambda", "registered-custom-layer"],
)
def test_refused_models_are_refused_before_tensorflow_is_imported(tmp_path, layer, match):
    config = corpus.keras_config()
    config["config"]["layers"].insert(1, layer)
    path = corpus.keras_file(tmp_path / "m.keras", config=config, weights=corpus.keras_weights())
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('imported', 'tensorflow' in sys.modules, 'keras' in sys.modules))\n"
        "from cifar_doctor.cli.app import main\n"
        f"main(['check', '--model', {str(path)!r}])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert re.search(match, proc.stderr) and proc.stderr.count("Error:") == 1
    assert proc.stdout.strip() == "imported False False"


def test_failed_import_shows_what_was_captured(capfd):
    """A real error during the silenced block is not hidden: its native output reaches stderr."""
    with pytest.raises(ImportError):
        with tfenv.silenced_stderr_fd():
            os.write(2, b"native: libfoo.so: cannot open shared object file\n")
            raise ImportError("libfoo")
    assert "libfoo.so: cannot open" in capfd.readouterr().err


def test_silenced_block_drops_its_output_and_restores_stderr(capfd):
    with tfenv.silenced_stderr_fd():
        os.write(2, b"I0000 00:00 chatter\n")
    os.write(2, b"ours\n")
    assert capfd.readouterr().err == "ours\n"


def test_quiet_tracing_drops_only_the_retracing_warning(caplog, monkeypatch):
    import logging

    monkeypatch.delenv(tfenv.DEBUG_ENV, raising=False)
    logger = logging.getLogger("tensorflow")
    retrace = "5 out of the last 17 calls to <function f> triggered tf.function retracing. Tracing is expensive"
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        with tfenv.quiet_tracing():
            logger.warning(retrace)
            logger.warning("Your input ran out of data")
        logger.warning(retrace)  # outside the block: the user's own code
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["Your input ran out of data", retrace]


def test_quiet_tracing_hides_nothing_when_debugging(caplog, monkeypatch):
    import logging

    monkeypatch.setenv(tfenv.DEBUG_ENV, "1")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        with tfenv.quiet_tracing():
            logging.getLogger("tensorflow").warning("3 calls triggered tf.function retracing")
    assert len(caplog.records) == 1
