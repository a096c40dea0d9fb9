"""`DoctorCallback` and `diagnose(model=...)` under `tf.distribute` strategies and on the JAX and PyTorch backends.

Each run is a subprocess of tests/callback_run.py: logical devices must be
configured before TensorFlow initialises, and Keras picks its backend once
per process (`KERAS_BACKEND`). Every run is the seed's bug (training images
/ 255, validation images raw) on the bundled CIFAR-10 sample, one epoch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.tf

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(__file__).with_name("callback_run.py")

#: Seconds one subprocess may take: a run takes 15-40 s on a shared two-core CPU
#: (the import of the backend and the first compilation dominate).
TIMEOUT = 300

#: What the seed's bug gets, with a strategy or without, on every backend.
SEED_CAUSE = "eval-input-scale-mismatch"


def _env(backend: str = "tensorflow", **extra: str) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


def _run(*args: str, backend: str = "tensorflow") -> list[dict]:
    """Run callback_run.py; its JSON lines."""
    proc = subprocess.run(
        [sys.executable, str(RUN), *args], capture_output=True, text=True, env=_env(backend), timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _before(run: dict, key: str) -> dict:
    """The measured score of the data as given, in the PRE001 counterfactual of `key`."""
    (cf,) = [c for c in run[key] if c["code"] == "PRE001"]
    assert cf["confirmed"] is True, cf
    return cf["before"]


def _check_seed_run(run: dict) -> None:
    """What any run of the seed's bug must show, whatever the backend or strategy."""
    assert run["epoch1"] == SEED_CAUSE and run["final"] == SEED_CAUSE, run
    assert "PRE001" in run["errors"]
    (acc,) = run["train_eval_accuracy"]  # measured with model.predict after the epoch
    assert 0.0 <= acc <= 1.0
    assert run["diagnose"] == SEED_CAUSE
    # the callback's evaluator, made before fit, measures the trained model: the same numbers as
    # diagnose(model=...) after fit on the same 100 images
    assert _before(run, "counterfactuals") == _before(run, "diagnose_counterfactuals")


@pytest.fixture(scope="module")
def tensorflow_run() -> dict:
    (run,) = _run(backend="tensorflow")
    return run


# --- backends -----------------------------------------------------------------------------
@pytest.mark.training
def test_tensorflow_backend_reference(tensorflow_run):
    _check_seed_run(tensorflow_run)
    assert tensorflow_run["backend"] == "tensorflow"
    assert tensorflow_run["flavor"] == "keras3"  # cross-entropy from the logits, unclipped
    assert tensorflow_run["normalization"], "an adapted Normalization layer is read"


@pytest.mark.training
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_gets_the_tensorflow_verdict(backend, tensorflow_run):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -e '.[test]' installs its CPU build)")
    (run,) = _run("--without-tensorflow", backend=backend)  # as installed without TensorFlow
    assert run["backend"] == backend
    _check_seed_run(run)
    for key in ("epoch1", "final", "errors", "diagnose"):
        assert run[key] == tensorflow_run[key], key
    # Keras 3 on JAX and PyTorch clips probabilities at 1e-7: LOG001 reads that from the numbers
    assert run["flavor"] != "keras3"
    # in-model normalization read from backend tensors: the same affine map as on TensorFlow
    flat = [v for scale, offset in run["normalization"] for v in (*scale, *offset)]
    reference = [v for scale, offset in tensorflow_run["normalization"] for v in (*scale, *offset)]
    assert flat and flat == pytest.approx(reference, rel=1e-4)


# --- strategies -----------------------------------------------------------------------------
@pytest.mark.training
def test_mirrored_strategy_same_verdict_as_without():
    plain, mirrored = _run("--mirrored")
    assert plain["strategy"] is None
    assert mirrored["strategy"] == "MirroredStrategy" and mirrored["replicas"] == 2
    for run in (plain, mirrored):
        _check_seed_run(run)
    for key in ("epoch1", "final", "errors", "diagnose"):
        assert mirrored[key] == plain[key], key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.distributed
def test_multi_worker_diagnoses_alike_and_prints_on_chief_only():
    cluster = {"worker": [f"localhost:{_free_port()}" for _ in range(2)]}
    procs = []
    try:
        for index in range(2):
            config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(RUN), "--multi-worker"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=_env(TF_CONFIG=config),
                )
            )
        outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-4000:]
    (chief, chief_err), (other, other_err) = [(json.loads(out.splitlines()[-1]), err) for out, err in outs]
    assert chief["task"]["index"] == 0 and chief["replicas"] == 2
    for run in (chief, other):
        assert run["predict_in_order"] is True
        assert run["final"] == SEED_CAUSE
        assert run["stop_training"] is True  # stop_on="error": every worker stops, or the others would hang
    # the same evidence and measurements on both workers (and the same outcome of Keras' own fit)
    for key in ("fit_error", "events", "train_eval_accuracy", "counterfactuals"):
        assert chief[key] == other[key], key
    assert [e["codes"] for e in chief["events"]][0] == ["PRE001"]
    assert "cifar-doctor ✖ PRE001" in chief_err and "Stopping training" in chief_err
    assert "cifar-doctor" not in other_err


# --- who prints -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tf_config, chief",
    [
        (None, True),
        ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
        ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, True),
        ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, False),
        ({"cluster": {"worker": ["a:1"], "evaluator": ["e:3"]}, "task": {"type": "evaluator", "index": 0}}, False),
        ("{not json", True),
    ],
    ids=["single", "worker-0", "worker-1", "chief", "worker-0-with-chief", "evaluator", "unreadable"],
)
def test_only_the_chief_prints(tf_config, chief, monkeypatch):
    from cifar_doctor.keras import _is_chief

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TF_CONFIG is read on the TensorFlow backend")
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config if isinstance(tf_config, str) else json.dumps(tf_config))
    assert _is_chief(SimpleNamespace()) is chief


def test_strategy_resolver_wins_over_tf_config(monkeypatch):
    from cifar_doctor.keras import _is_chief

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute strategies exist on the TensorFlow backend")
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}})
    )
    spec = SimpleNamespace(as_dict=lambda: {"worker": ["a:1", "b:2"]})
    resolver = SimpleNamespace(task_type="worker", task_id=1, cluster_spec=lambda: spec)
    model = SimpleNamespace(distribute_strategy=SimpleNamespace(cluster_resolver=resolver))
    assert _is_chief(model) is False
    resolver.task_id = 0
    assert _is_chief(model) is True


def test_non_chief_records_but_does_not_print(capsys):
    """A worker that is not the chief keeps events and stops like the chief, silently."""
    from cifar_doctor.keras import DoctorCallback

    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    cb = DoctorCallback(stop_on="error")
    cb.set_model(model)
    cb.set_params({"verbose": 0, "epochs": 5, "steps": 50})
    cb.on_train_begin()
    cb._speaks = False  # as `_is_chief` decides in worker 1
    cb.on_epoch_end(0, {"accuracy": 0.3584, "loss": 1.7761, "val_accuracy": 0.4489, "val_loss": 8.6776})
    cb.on_train_end()
    assert cb.events and cb.events[0]["stopped"] is True and model.stop_training is True
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "backend, module, fake, chief",
    [
        ("jax", "jax", SimpleNamespace(process_index=lambda: 0), True),
        ("jax", "jax", SimpleNamespace(process_index=lambda: 1), False),
        (
            "torch",
            "torch.distributed",
            SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True, get_rank=lambda: 1),
            False,
        ),
        (
            "torch",
            "torch.distributed",
            SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True, get_rank=lambda: 0),
            True,
        ),
        (
            "torch",
            "torch.distributed",
            SimpleNamespace(is_available=lambda: True, is_initialized=lambda: False, get_rank=lambda: 1),
            True,
        ),
    ],
    ids=["jax-process-0", "jax-process-1", "torch-rank-1", "torch-rank-0", "torch-not-initialised"],
)
def test_jax_and_torch_process_zero_prints(backend, module, fake, chief, monkeypatch):
    import cifar_doctor.keras as doctor_keras

    monkeypatch.setattr(doctor_keras.keras.backend, "backend", lambda: backend)
    monkeypatch.setitem(sys.modules, module, fake)
    assert doctor_keras._is_chief(SimpleNamespace()) is chief
