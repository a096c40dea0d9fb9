"""Where the near-duplicate verification's half-resolution screen can stand: the screen's detail of pairs
that pass the full verification.

`pixelmatch.verify` compares every candidate pair at half resolution first and the survivors at full
resolution. A pair dropped by the screen is never verified, so the screen may only drop pairs that the
full comparison would reject. This measures, for pairs that the full comparison accepts, the detail the
screen sees (`pixelmatch._match` at half resolution, shifts of one half-resolution pixel):

- copies of `--copies` CIFAR-10 training images (seeded), each moved by up to 2 pixels (edges repeated),
  JPEG re-encoded (quality 30-90), and its brightness and contrast changed;
- harsher copies of as many more: also rescaled by 0.9-1.1 (half of them), quality 10-90, stronger
  brightness and contrast changes and Gaussian noise;
- CIFAR-10's own test/train near-duplicates: the candidate pairs of the full search (test x train),
  then how many candidates pass the screen at each bar, and how long verification takes at 0.30 and at
  `SCREEN_DETAIL`.

Usage:

    python bench/verify_screen.py [--data PATH.npz] [--copies 4000] [--seed 1]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.near_duplicates import load_arrays  # noqa: E402
from cifar_doctor.measure import neardup, pixelmatch  # noqa: E402

BARS = (0.30, 0.35, 0.40, 0.45, 0.50)
IDENTITY = (np.ones(3, np.float32), np.zeros(3, np.float32))  # uint8 0-255 data: the check's canonical affine


def _shift(im: np.ndarray, dy: int, dx: int) -> np.ndarray:
    h, w = im.shape[:2]
    return im[np.clip(np.arange(h) - dy, 0, h - 1)][:, np.clip(np.arange(w) - dx, 0, w - 1)]


def _jpeg(im: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(im).save(buf, "JPEG", quality=int(quality))
    return np.asarray(Image.open(buf))


def _rescale(im: np.ndarray, s: float) -> np.ndarray:
    """Resized by `s`, then cropped or edge-padded back to its size (a slightly different framing)."""
    from PIL import Image

    h = im.shape[0]
    m = int(round(h * s))
    x = np.asarray(Image.fromarray(im).resize((m, m), Image.BILINEAR))
    if m >= h:
        o = (m - h) // 2
        return x[o : o + h, o : o + h]
    a, b = (h - m) // 2, h - m - (h - m) // 2
    return np.pad(x, ((a, b), (a, b), (0, 0)), mode="edge")


def copies(src: np.ndarray, rng: np.random.Generator, harsh: bool) -> np.ndarray:
    out = []
    for im in src:
        dy, dx = rng.integers(-2, 3, 2)
        x = _shift(im, int(dy), int(dx))
        if harsh and rng.random() < 0.5:
            x = _rescale(x, rng.uniform(0.9, 1.1))
        x = _jpeg(x, rng.integers(10 if harsh else 30, 90))
        gain, offset = (
            (rng.uniform(0.7, 1.3), rng.uniform(-30, 30)) if harsh else (rng.uniform(0.8, 1.2), rng.uniform(-20, 20))
        )
        y = x.astype(np.float32) * gain + offset
        if harsh:
            y += rng.normal(0, rng.uniform(0, 6), x.shape)
        out.append(np.clip(y, 0, 255).astype(np.uint8))
    return np.array(out)


def screen_detail(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the screen's detail, whether the full verification accepts) of pairs of prepared images."""
    detail, _ = pixelmatch._match(
        pixelmatch._features(pixelmatch._half(a), 1), ia, pixelmatch._features(pixelmatch._half(b), 1), ib, 1
    )
    bar = pixelmatch.SCREEN_DETAIL
    try:  # the full comparison of every pair: what the screen may not lose
        pixelmatch.SCREEN_DETAIL = -1.0
        same, _, _ = pixelmatch.verify(a, b, ia, ib)
    finally:
        pixelmatch.SCREEN_DETAIL = bar
    return detail, same


def report(name: str, detail: np.ndarray, same: np.ndarray) -> None:
    kept = detail[same]
    print(
        f"{name}: {int(same.sum()):,} of {len(same):,} pass the full verification; the screen's detail of those: "
        f"min {kept.min():.3f}, 0.1% {np.percentile(kept, 0.1):.3f}, 1% {np.percentile(kept, 1):.3f}, "
        f"5% {np.percentile(kept, 5):.3f}"
    )
    print("  lost at bar " + ", ".join(f"{t:.2f}: {int((same & (detail < t)).sum())}" for t in BARS))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data", type=Path, default=None, help="npz with x_train, x_test (default: ../shared when present)"
    )
    ap.add_argument("--copies", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    arrays = load_arrays(args.data, ("x_train", "x_test"))
    if arrays is None:
        return 2
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    rng = np.random.default_rng(args.seed)
    print(f"screen now: detail >= {pixelmatch.SCREEN_DETAIL} at half resolution")
    for harsh in (False, True):
        src = x_train[rng.choice(len(x_train), min(args.copies, len(x_train)), replace=False)]
        a, b = neardup.prepare(src), neardup.prepare(copies(src, rng, harsh))
        idx = np.arange(len(src))
        report("harsh copies" if harsh else "copies", *screen_detail(a, b, idx, idx))

    def chunks(x: np.ndarray) -> list[tuple[int, np.ndarray]]:
        return [(s, x[s : s + 1024]) for s in range(0, len(x), 1024)]

    sig = neardup.concat(neardup.signatures(c, affine=IDENTITY) for _, c in chunks(x_train))
    i, j, _ = neardup.search(chunks(x_test), neardup.build_index(sig), affine=IDENTITY)
    ui, ii = np.unique(i, return_inverse=True)
    uj, jj = np.unique(j, return_inverse=True)
    a, b = neardup.prepare(x_test[ui], affine=IDENTITY), neardup.prepare(x_train[uj], affine=IDENTITY)
    detail, same = screen_detail(a, b, ii, jj)
    report("CIFAR-10 test x train candidates", detail, same)
    print(
        "  candidates passing the screen's detail at bar "
        + ", ".join(f"{t:.2f}: {int((detail >= t).sum()):,}" for t in BARS)
    )

    def prep(x: np.ndarray):
        return lambda ix: neardup.prepare(x[ix], affine=IDENTITY)

    bar = pixelmatch.SCREEN_DETAIL
    for t in sorted({0.30, bar}):
        pixelmatch.SCREEN_DETAIL = t
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            found = neardup.confirm(i, j, prep(x_test), prep(x_train))
            times.append(time.perf_counter() - t0)
        print(f"  verification at bar {t:.2f}: {min(times):.2f} s (best of 3), {len(found.a)} pairs verified")
    pixelmatch.SCREEN_DETAIL = bar
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
