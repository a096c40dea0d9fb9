"""`compare --strategy`, `--devices` and `--mixed-precision`: where and in what precision the runs train.

`compare` stays on TensorFlow (Keras 3 with the TensorFlow backend): the
strategies are `tf.distribute` ones.

- `default`: no distribution (`tf.distribute.get_strategy()`, one replica).
- `mirrored`: `tf.distribute.MirroredStrategy` over the local GPUs, or over the
  CPU's logical devices when there is no GPU (`--devices N` splits the CPU into N).
- `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy`, which reads the
  cluster and this worker's task from the `TF_CONFIG` environment variable as
  TensorFlow documents (`{"cluster": {"worker": ["host:port", ...]}, "task":
  {"type": "worker", "index": i}}`); every worker runs the same command.

Each recipe is built and compiled inside the strategy's scope; the datasets
are batched by the global batch, which Keras splits into per-replica batches
(global batch = per-replica batch x replicas; the report gives both).

Devices must be configured before TensorFlow initializes them, so
`configure` runs first, before anything else touches TensorFlow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError, invalid_value

#: The accepted `--strategy` values.
STRATEGIES = ("default", "mirrored", "multiworker")

#: Most logical CPU devices `--devices` makes: each is a replica with its own
#: copy of the model and its share of every batch; more than 64 only splits a
#: CPU into slivers.
MAX_LOGICAL_DEVICES = 64

#: The mixed-precision policy of `--mixed-precision` (float16 compute, float32 variables).
MIXED_POLICY = "mixed_float16"


@dataclass(frozen=True)
class Placement:
    """The strategy the runs train under, for the report.

    Attributes:
        strategy: The `tf.distribute.Strategy` (not reported).
        name: `default`, `mirrored` or `multiworker`.
        replicas: Replicas in sync (over all workers).
        devices: This worker's replica device names.
        workers: Workers in the cluster (1 without `TF_CONFIG`).
        task: This worker's `TF_CONFIG` task (`{"type", "index"}`), else `None`.
        mixed_precision: The Keras dtype policy when mixed precision is on, else `None`.
        logical_devices: CPU logical devices made by `--devices`, else `None`.
    """

    strategy: Any
    name: str
    replicas: int
    devices: tuple[str, ...]
    workers: int = 1
    task: dict[str, Any] | None = None
    mixed_precision: str | None = None
    logical_devices: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "class": type(self.strategy).__name__,
            "replicas": self.replicas,
            "devices": list(self.devices),
            "workers": self.workers,
            "task": dict(self.task) if self.task else None,
            "logical_cpu_devices": self.logical_devices,
            "mixed_precision": self.mixed_precision,
            "batch": "global batch = per-replica batch x replicas",
        }


def check_options(strategy: str, devices: int | None) -> str:
    """`strategy` lower-cased if known and `devices` in range, before any data is read.

    Raises:
        UsageError: naming `strategy` or `devices`.
    """
    name = str(strategy).strip().lower()
    if name not in STRATEGIES:
        raise invalid_value("strategy", strategy, expected=f"one of {', '.join(STRATEGIES)}")
    if devices is not None and not 1 <= devices <= MAX_LOGICAL_DEVICES:
        raise invalid_value("devices", devices, expected=f"an integer from 1 to {MAX_LOGICAL_DEVICES}")
    return name


def task_of(env: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | None]:
    """Workers and this task from `TF_CONFIG` (`(1, None)` without it).

    Raises:
        UsageError: `TF_CONFIG` is set but is not the JSON TensorFlow documents.
    """
    raw = (env if env is not None else os.environ).get("TF_CONFIG")
    if not raw:
        return 1, None
    try:
        config = json.loads(raw)
        workers = len(config.get("cluster", {}).get("worker", [])) or 1
        task = config.get("task")
    except (ValueError, AttributeError, TypeError) as exc:
        raise UsageError(
            "Invalid TF_CONFIG",
            expected='JSON like {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}',
            received=raw[:200],
            hint="See https://www.tensorflow.org/guide/distributed_training",
        ) from exc
    return workers, (task if isinstance(task, dict) else None)


def configure(name: str = "default", *, devices: int | None = None, mixed_precision: bool = False) -> Placement:
    """Split the CPU, set the precision policy and make the strategy, in the order TensorFlow needs.

    Args:
        name: `default`, `mirrored` or `multiworker`. Defaults to `"default"`.
        devices: Split the first CPU into this many logical devices (before
            TensorFlow initializes its devices). Defaults to `None` (as is).
        mixed_precision: Set the global Keras policy `mixed_float16`.
            Defaults to `False`.

    Returns:
        A `Placement`.

    Raises:
        UsageError: a bad name or device count, or devices already initialized.

    Example:

    >>> placement = configure("default")
    >>> placement.replicas
    1
    """
    name = check_options(name, devices)
    from ..tfenv import import_keras, import_tensorflow

    keras, tf = import_keras(), import_tensorflow()

    if devices is not None:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(devices)]
            )
        except RuntimeError as exc:  # already initialized with another layout
            current = len(tf.config.list_logical_devices("CPU"))
            if current != devices:
                raise UsageError(
                    "Cannot split the CPU into {arg} logical devices",
                    param="devices",
                    received=f"devices={devices} after TensorFlow already initialized {current}",
                    hint="Pass devices before TensorFlow starts (a fresh process)",
                ) from exc
    workers, task = task_of()
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        targets = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices=targets)
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    policy = None
    if mixed_precision:
        keras.mixed_precision.set_global_policy(MIXED_POLICY)
        policy = MIXED_POLICY
    try:
        replica_devices = tuple(strategy.extended.worker_devices)
    except (RuntimeError, AttributeError):  # the default strategy has none: it runs where TensorFlow places ops
        replica_devices = ()
    if not replica_devices:
        replica_devices = tuple(d.name for d in tf.config.list_logical_devices("CPU")[:1])
    return Placement(
        strategy,
        name,
        int(strategy.num_replicas_in_sync),
        replica_devices,
        workers if name == "multiworker" else 1,
        task if name == "multiworker" else None,
        policy,
        devices,
    )


def reset_precision() -> None:
    """Back to Keras' default `float32` policy (after a mixed-precision comparison in the same process)."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
