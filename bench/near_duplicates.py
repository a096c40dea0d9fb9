"""Time DUP002 (near-duplicates) on a dataset, and draw a sample of the pairs it finds.

Loads x_train and x_test (and x_val when present) from an npz, runs the
check through the engine (`diagnose(..., select=["DUP002"])`) and prints:

- seconds for the check and the peak RSS of the process (loading included);
- how many test images have a near-duplicate in train (exact, near-identical),
  and how many are near-duplicates of other test images;
- then (not timed) a montage PNG of a random sample of the train/test pairs,
  each pair side by side, upscaled, in rows; and a CSV next to it listing
  each tile's indices and similarity, to judge the pairs by eye.

Usage:

    python bench/near_duplicates.py [--data PATH.npz] [--montage out/near_duplicates.png]
                                    [--sample 60] [--seed 0] [--within]

`--within` draws the montage from pairs within the test split instead.
Defaults to the shared CIFAR-10 copy, else the bundled 2,500 + 1,000 sample.
Target: <= 30 s for full CIFAR-10 on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (
    ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz",
    Path("/work/shared/data/cifar10/cifar10.npz"),
    ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz",
)
UPSCALE = 3
GAP = 4


def load_arrays(path: Path | None, keys: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """`keys` (those present) from `path`, else from the first of `CANDIDATES` that exists; None without data."""
    path = path or next((p for p in CANDIDATES if p.exists()), None)
    if path is None or not path.exists():
        print(f"No data: {path}", file=sys.stderr)
        return None
    with np.load(path, allow_pickle=False) as d:
        arrays = {k: d[k] for k in keys if k in d.files}
    print(f"data: {path} ({', '.join(f'{k} {v.shape}' for k, v in arrays.items())})")
    return arrays


def montage(pairs: list[tuple[int, int]], x_left: np.ndarray, x_right: np.ndarray, cols: int = 6) -> np.ndarray:
    """RGB uint8 grid: each tile is left image | right image, upscaled `UPSCALE` times."""
    h, w = x_left.shape[1:3]
    tile_w, tile_h = 2 * w + 1, h
    rows = max(1, -(-len(pairs) // cols))
    canvas = np.full((rows * (tile_h + GAP), cols * (tile_w + GAP), 3), 255, np.uint8)
    for k, (i, j) in enumerate(pairs):
        r, c = divmod(k, cols)
        y, x = r * (tile_h + GAP), c * (tile_w + GAP)
        canvas[y : y + h, x : x + w] = _rgb(x_left[i])
        canvas[y : y + h, x + w + 1 : x + 2 * w + 1] = _rgb(x_right[j])
    return np.repeat(np.repeat(canvas, UPSCALE, axis=0), UPSCALE, axis=1)


def _rgb(im: np.ndarray) -> np.ndarray:
    im = np.asarray(im)
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=-1)
    if im.dtype != np.uint8:
        lo, hi = float(im.min()), float(im.max())
        im = ((im - lo) / max(hi - lo, 1e-12) * 255).round().astype(np.uint8)
    return im


def _save_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image

    matplotlib.image.imsave(str(path), image)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="npz with x_train, x_test[, x_val]")
    ap.add_argument("--montage", type=Path, default=ROOT / "out" / "near_duplicates.png")
    ap.add_argument("--sample", type=int, default=60, help="pairs drawn for the montage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--within", action="store_true", help="draw the montage from pairs within the test split")
    args = ap.parse_args(argv)

    arrays = load_arrays(args.data, ("x_train", "x_test", "x_val"))
    if arrays is None:
        return 2

    from cifar_doctor import diagnose

    t0 = time.perf_counter()
    report = diagnose(**arrays, select=["DUP002"])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = {c.code: c for c in report.checks}["DUP002"]
    print(f"DUP002 {status.status}: {seconds:.1f} s; peak RSS {peak:.0f} MB (loading included)")
    for f in report.findings:
        ev = f.evidence
        print(
            f"  {f.split}: {ev['count']} of {ev['eval_images']} images ({ev['fraction']:.2%}) have a near-duplicate "
            f"in train ({ev['exact']} exact, {ev['near_identical']} near-identical); "
            f"{ev['within_split']['images']} are near-duplicates of other {f.split} images; "
            f"severity {f.severity.value}, cause {f.cause}; {ev['candidates_verified']} candidate pairs verified"
        )
    if not report.findings:
        print("  no near-duplicates")

    from cifar_doctor.measure import neardup

    x_test, x_train = arrays["x_test"], arrays["x_train"]
    pairs = neardup.find(x_test, None if args.within else x_train)
    left = x_test if args.within else x_train
    rows = [
        (int(b), int(a), float(s)) if not args.within else (int(a), int(b), float(s))
        for a, b, s in zip(pairs.a, pairs.b, pairs.similarity)
    ]
    if not rows:
        return 0
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(rows), size=min(args.sample, len(rows)), replace=False))
    chosen = [rows[k] for k in pick]
    _save_png(args.montage, montage([(i, j) for i, j, _ in chosen], left, x_test))
    listing = args.montage.with_suffix(".csv")
    with open(listing, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["tile", "left_split", "left_index", "test_index", "similarity"])
        for k, (i, j, s) in enumerate(chosen):
            w.writerow([k, "test" if args.within else "train", i, j, f"{s:.3f}"])
    print(
        f"montage of {len(chosen)} of {len(rows)} pairs ({'test/test' if args.within else 'train/test'}, "
        f"left | right, 6 per row): {args.montage}; tiles listed in {listing}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
