"""Measured effects of what a run was built with, for the runs whose truth depends on them.

An injected cause is only a cause when it acted. One effect is measured here, on the kept models
(`load.model_path`), never from a check's output: the **BatchNormalization gap**. A model with
BatchNormalization layers is scored on the validation images it was validated on twice: in inference
mode (the moving statistics, what `fit` logs as `val_*`) and with each batch normalized by its own
statistics (as `fit` trains; Dropout off, so only the normalization differs), in batches of the
run's own batch size. When the moving averages have not caught up with the weights (momentum 0.99
and a few hundred steps), the second reads far above the first: the logged validation accuracy
measures stale statistics, not what the network learned. That happens in runs of every kind with
such layers, and in some runs of the `bn-inference-gap` kind it does not happen at all.

`score.effective_truth` reads the measurements (`bench/corpus/effects/<set>.json`, committed) to
score a run as what it is: a `healthy` run whose gap opened is also right as the gap's cause, and
may not be called a bug the gap imitates; a `bn-inference-gap` run whose gap never opened is the
healthy run it is.

    python -m bench.corpus.effects [--corpus PACKED] [--models OUT] [--dest FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .load import DEFAULT_OUT, CorpusRun, load_runs, model_path, rebuild_arrays
from .pack import PACKED

HERE = Path(__file__).resolve().parent
EFFECTS_DIR = HERE / "effects"

#: Model kinds of the grid that hold BatchNormalization layers.
BN_MODELS = frozenset({"cnn-bn", "resnet"})

#: Validation images scored per run (the first ones of the split); enough for a standard error of
#: about 0.016 on an accuracy near 0.5.
MAX_IMAGES = 1000


def effects_path(corpus: Path) -> Path:
    """Where the measurements of a packed set live: `effects/runs.json` for the corpus,
    `effects/drawK.json` for a draw."""
    name = corpus.name.split(".")[0]
    return EFFECTS_DIR / f"{name}.json"


def validation_arrays(run: CorpusRun, arrays: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels `fit` validated on: the eval split, the holdout, or the last fraction of
    the training arrays for `validation_split` (Keras takes it before shuffling)."""
    val = run.spec.train.validation
    if val == "holdout":
        return arrays["x_val"], arrays["y_val"]
    if val.startswith("split:"):
        n = len(arrays["x_train"])
        start = int(n * (1 - float(val.split(":", 1)[1])))
        return arrays["x_train"][start:], arrays["y_train"][start:]
    return arrays["x_test"], arrays["y_test"]


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of outputs `p` on labels `y` (integers, one-hot, or 0/1 with one output unit)."""
    y = np.asarray(y)
    if p.shape[-1] == 1:
        return float(np.mean((p[:, 0] > 0.5).astype(int) == y.reshape(len(y), -1)[:, 0].astype(int)))
    truth = y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype(int)
    return float(np.mean(p.argmax(axis=1) == truth))


def bn_gap(run: CorpusRun, path: Path) -> dict[str, float]:
    """Inference-mode and batch-statistics accuracy of the kept model on its validation images."""
    import keras

    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    x, y = validation_arrays(run, rebuild_arrays(run))
    x, y = x[:MAX_IMAGES], y[:MAX_IMAGES]
    batch = max(2, int(run.spec.train.batch))
    inference = model.predict(x, batch_size=256, verbose=0)
    batched = np.concatenate(
        [keras.ops.convert_to_numpy(model(x[s : s + batch], training=True)) for s in range(0, len(x), batch)]
    )
    a_inf, a_bat = accuracy(inference, y), accuracy(batched, y)
    se = math.sqrt(max(a_inf * (1 - a_inf) + a_bat * (1 - a_bat), 1e-9) / len(x))
    return {"inference": round(a_inf, 4), "batch_statistics": round(a_bat, 4), "images": len(x), "se": round(se, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=PACKED, help="the packed set (default: the corpus)")
    ap.add_argument("--models", type=Path, default=DEFAULT_OUT, help="the generator's output folder")
    ap.add_argument("--dest", type=Path, default=None, help="default: bench/corpus/effects/<set>.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    dest = args.dest or effects_path(args.corpus)
    out: dict[str, Any] = {}
    runs = [r for r in load_runs(args.corpus) if r.record["spec"]["model"]["kind"] in BN_MODELS]
    t0 = time.perf_counter()
    missing = 0
    for k, run in enumerate(runs, 1):
        path = model_path(run, args.models)
        if path is None:
            missing += 1
            continue
        out[run.run_id] = {"bn": bn_gap(run, path)}
        g = out[run.run_id]["bn"]
        print(
            f"[{k}/{len(runs)}] {run.run_id} {run.kind:28} inference {g['inference']:.3f} "
            f"batch statistics {g['batch_statistics']:.3f}  {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    doc = {"corpus": args.corpus.name, "models_missing": missing, "runs": dict(sorted(out.items()))}
    dest.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{len(out)} runs measured, {missing} without a kept model -> {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
