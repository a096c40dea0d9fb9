"""Where the inverted lists start to pay: near-duplicates within a split, searched exhaustively and through
`cifar_doctor.measure.ivf`'s inverted lists, on slices of real CIFAR-10.

For each slice the within-split search (`neardup.search(..., within=True)`: the split against itself and
its probes) runs twice, on an exhaustive index and on inverted lists of `IVF_LIST_SIZE` signatures each,
and both results are verified. Prints the search's time, its candidate pairs and the verified pairs of
each, and the verified pairs the lists lost or added. `ivf.IVF_MIN_INDEX` is set from this table.

Usage (from the repository root):

    python bench/ivf_crossover.py [--data ../shared/data/cifar10/cifar10.npz] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cifar_doctor.measure import neardup  # noqa: E402
from cifar_doctor.measure.ivf import IVF_LIST_SIZE, build_index  # noqa: E402

#: (name, split, start, stop) of the slices searched.
SLICES = (
    ("test 0-10k", "x_test", 0, 10_000),
    ("train 0-5k", "x_train", 0, 5_000),
    ("train 5k-15k", "x_train", 5_000, 15_000),
    ("train 15k-30k", "x_train", 15_000, 30_000),
    ("train 30k-50k", "x_train", 30_000, 50_000),
)


def _chunks(x: np.ndarray, size: int = 1024) -> Iterator[tuple[int, np.ndarray]]:
    return ((s, x[s : s + size]) for s in range(0, len(x), size))


def within(x: np.ndarray, lists: int, repeat: int) -> tuple[float, int, set[tuple[int, int]]]:
    """Best search time of `repeat`, candidate pairs and verified pairs of `x` within itself."""
    sig = neardup.concat(neardup.signatures(c) for _, c in _chunks(x))
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        index = build_index(sig, lists=lists)
        i, j, _ = neardup.search(_chunks(x), index, within=True)
        best = min(best, time.perf_counter() - t)
    pairs = neardup.confirm(i, j, lambda ix: neardup.prepare(x[ix]), lambda ix: neardup.prepare(x[ix]))
    return best, len(i), set(zip(pairs.a.tolist(), pairs.b.tolist()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.data.is_file():
        print(f"Error: {args.data} not found (CIFAR-10 as an .npz with x_train and x_test)", file=sys.stderr)
        return 2
    data = np.load(args.data, allow_pickle=False)
    arrays = {"x_train": data["x_train"], "x_test": data["x_test"]}
    print(
        f"{'slice':14} {'images':>7} | {'exhaustive':>10} {'cand.':>6} {'pairs':>5} | {'lists':>5} {'ivf':>6} "
        f"{'cand.':>6} {'pairs':>5} | lost added"
    )
    for name, split, start, stop in SLICES:
        x = arrays[split][start:stop]
        t_ex, c_ex, p_ex = within(x, 0, args.repeat)
        lists = len(x) // IVF_LIST_SIZE
        t_iv, c_iv, p_iv = within(x, lists, args.repeat)
        print(
            f"{name:14} {len(x):>7,} | {t_ex:>9.2f}s {c_ex:>6,} {len(p_ex):>5} | {lists:>5} {t_iv:>5.2f}s "
            f"{c_iv:>6,} {len(p_iv):>5} | {len(p_ex - p_iv):>4} {len(p_iv - p_ex):>5}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
