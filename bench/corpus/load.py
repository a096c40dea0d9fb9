"""Read the packed corpus: runs, their arrays rebuilt exactly, their logs in every shape, their models.

>>> from bench.corpus.load import load_runs, rebuild_arrays, render_log
>>> runs = load_runs()                                   # bench/corpus/runs.jsonl.gz
>>> run = runs[0]
>>> run.truth["expected"], run.family, run.spec.shapes   # doctest: +SKIP
>>> text = render_log(run, "keras3-v2")                  # str; bytes for "tensorboard"
>>> arrays = rebuild_arrays(run)                         # x_train, y_train, x_test, y_test (+ x_val, y_val)

Nothing here imports TensorFlow; `rebuild_arrays` needs NumPy (and scikit-learn for its datasets, and
CIFAR-10 at `$CIFAR10_NPZ` or `../shared/data/cifar10/cifar10.npz` for CIFAR runs).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import shapes
from .pack import PACKED
from .spec import RunSpec, spec_from_dict

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "out" / "corpus"


@dataclass(frozen=True)
class CorpusRun:
    """One packed run.

    Args:
        record: The packed record (spec, truth, history, per-step history, evaluate(), arrays'
            fingerprints, timings, captured console texts).
    """

    record: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.record["run_id"]

    @property
    def spec(self) -> RunSpec:
        return spec_from_dict(self.record["spec"])

    @property
    def truth(self) -> dict[str, Any]:
        return self.record["spec"]["truth"]

    @property
    def family(self) -> str:
        return self.record["spec"]["family"]

    @property
    def cause(self) -> str:
        inj = self.record["spec"]["injections"]
        return inj[0]["cause"] if inj else "healthy"

    @property
    def kind(self) -> str:
        return "+".join(i["kind"] for i in self.record["spec"]["injections"]) or "control"

    @property
    def history(self) -> dict[str, list[float]]:
        return self.record["history"]

    @property
    def shapes(self) -> tuple[str, ...]:
        return tuple(self.record["spec"]["shapes"])


def load_runs(path: str | Path = PACKED) -> list[CorpusRun]:
    """Every run of a packed corpus file (`bench/corpus/runs.jsonl.gz` by default)."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(CorpusRun(json.loads(line)))
    return out


def rebuild_arrays(run: CorpusRun, check: bool = True) -> dict[str, Any]:
    """The arrays as fed: `x_train`, `y_train`, `x_test`, `y_test` (the eval split given to evaluate(),
    and validation_data unless the run validated on a holdout or a validation_split), and `x_val`,
    `y_val` for a holdout.

    Args:
        run: A packed run.
        check: Compare each array's fingerprint with the one recorded when the run trained, and raise
            `ValueError` on a difference. Defaults to `True`.
    """
    from . import data

    spec = run.spec
    built = data.build(spec.data, spec.train.validation)
    arrays = {k: built[k] for k in data.FED if k in built}
    if check:
        for k, desc in run.record.get("arrays", {}).items():
            got = data.digest(arrays[k]) if k in arrays else None
            if got != desc["sha1"]:
                raise ValueError(
                    f"run {run.run_id}: rebuilt {k} differs from the array the run was fed "
                    f"(fingerprint {got} != {desc['sha1']})"
                )
    return arrays


def render_log(run: CorpusRun, shape: str) -> str | bytes:
    """The log of `run` in `shape` (`bench.corpus.shapes.SHAPES`): str, or bytes for `tensorboard`."""
    return shapes.render(run.record, shape, run.record.get("captured"))


def model_path(run: CorpusRun, out: str | Path = DEFAULT_OUT) -> Path | None:
    """The trained `model.keras` of a run, when the generator kept it (models are not packed: they stay
    under `out/corpus/runs/<run_id>/`); None otherwise."""
    p = Path(out) / "runs" / run.run_id / "model.keras"
    return p if p.is_file() else None
