"""Overhead of the `compare` training loop over a plain `model.fit`, in one process.

Alternates: plain `model.fit(..., verbose=0)` and `cifar_doctor.training.fit.train`
(progress callback + a Rich live view redrawn into a forced-terminal buffer),
same recipe, data, seed and epochs; prints the median wall time of each and the
ratio. Also, with `--determinism`, the cost of `enable_op_determinism()` (it is
process-global, so it is measured last) and, with `--jit`, XLA `jit_compile=True`.

Usage:
    python bench/compare_overhead.py [--recipe fixed] [--n 5000] [--epochs 2] [--reps 3]
        [--data ../shared/data/cifar10/cifar10.npz] [--determinism] [--jit]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="fixed")
    ap.add_argument("--n", type=int, default=5000, help="training images (stratified); test capped at n")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else None)
    ap.add_argument("--determinism", action="store_true", help="also time enable_op_determinism()")
    ap.add_argument("--jit", action="store_true", help="also time jit_compile=True")
    args = ap.parse_args()

    from rich.console import Console

    from cifar_doctor.cli.progress import LiveView
    from cifar_doctor.training.fit import RunState, build_compiled, set_seed, train
    from cifar_doctor.training.recipes import get_recipe
    from cifar_doctor.training.runs import load_arrays

    recipe = get_recipe(args.recipe)
    raw, desc = load_arrays(args.data)
    arrays = recipe.preprocess(raw, limit=args.n, seed=0)
    del raw
    print(
        f"data: {desc.get('source', desc)}; recipe {recipe.name}; {len(arrays['x_train'])} train / "
        f"{len(arrays['x_test'])} test images; batch {recipe.batch_size}; {args.epochs} epochs; "
        f"{args.reps} reps",
        file=sys.stderr,
    )

    def plain(jit: bool = False) -> float:
        set_seed(0)
        model = build_compiled(recipe)
        if jit:
            model.compile(
                optimizer=recipe.optimizer(), loss=recipe.loss, metrics=list(recipe.metrics), jit_compile=True
            )
        t0 = time.perf_counter()
        model.fit(
            arrays["x_train"],
            arrays["y_train"],
            batch_size=recipe.batch_size,
            epochs=args.epochs,
            verbose=0,
            validation_data=(arrays["x_test"], arrays["y_test"]),
        )
        return time.perf_counter() - t0

    def ours() -> float:
        state = RunState(recipe.name, epochs=args.epochs)
        view = LiveView(console=Console(file=io.StringIO(), force_terminal=True, width=120))
        view.start([state])
        try:
            # TrainedRun.seconds times model.fit only, like plain(): seeding and building are outside
            return train(recipe, arrays, epochs=args.epochs, seed=0, state=state, on_epoch=lambda s: False).seconds
        finally:
            view.stop()

    plain()  # warm-up: first graph trace, oneDNN kernels
    times: dict[str, list[float]] = {"plain": [], "compare": []}
    for _ in range(args.reps):
        times["plain"].append(plain())
        times["compare"].append(ours())
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:8s} median {med[k]:7.2f} s   runs {', '.join(f'{t:.2f}' for t in v)}")
    # each rep runs the two back to back, so the paired ratio cancels slow drifts of machine load
    paired = [c / p for p, c in zip(times["plain"], times["compare"])]
    print(
        f"overhead ratio compare/plain: median of paired ratios {statistics.median(paired):.3f}; "
        f"ratio of medians {med['compare'] / med['plain']:.3f}; "
        f"best-of ratio {min(times['compare']) / min(times['plain']):.3f}"
    )
    if args.jit:
        jt = [plain(jit=True) for _ in range(args.reps)]
        print(
            f"jit_compile=True median {statistics.median(jt):.2f} s; ratio to default "
            f"{statistics.median(jt) / med['plain']:.2f}"
        )
    if args.determinism:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        dt = [plain() for _ in range(args.reps)]
        print(
            f"op determinism median {statistics.median(dt):.2f} s; ratio to default "
            f"{statistics.median(dt) / med['plain']:.2f}"
        )


if __name__ == "__main__":
    main()
