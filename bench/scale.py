"""Scale benchmark: `cifar-doctor check` on a memory-mapped dataset larger than most laptops' RAM.

Writes (once; reused while it exists) a folder of `.npy` files:

    x_train.npy  1,000,000 x 48x48x3 uint8, raw 0-255      6.9 GB
    y_train.npy  1,000,000 int64 labels, 10 classes
    x_test.npy     100,000 x 48x48x3 float32, divided by 255  2.8 GB  <- the planted scale mismatch
    y_test.npy     100,000 int64 labels

Images are smooth random scenes (a 6x6 colour layout upsampled with noise),
so that distinct images look distinct to a perceptual hash. Planted in the
test split: `--exact` exact copies of training images and `--near`
near-duplicates (a training image shifted by one pixel, brightened and
re-noised), all then divided by 255 like the rest of the test split.

Then runs `cifar-doctor check --data DIR --json` in a child process and
prints its wall time, its peak RSS (`ru_maxrss` of the child) and what it
found. Targets: <= 60 s and <= 1.5 GB peak RSS, the scale mismatch and the
planted duplicates found.

Usage: python bench/scale.py [--dir out/scale] [--train 1000000] [--test 100000] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIDE = 48
CHANNELS = 3
CLASSES = 10
CHUNK = 20_000
SEED = 7


def scenes(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` uint8 images: a random 6x6 colour layout, upsampled x8, plus pixel noise."""
    coarse = rng.integers(0, 256, size=(n, 6, 6, CHANNELS), dtype=np.uint8)
    img = np.repeat(np.repeat(coarse, SIDE // 6, axis=1), SIDE // 6, axis=2).astype(np.int16)
    img += rng.integers(-12, 13, size=img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_npy(path: Path, shape: tuple[int, ...], dtype: str, fill) -> None:
    """Write an .npy of `shape` chunk by chunk: `fill(start, stop)` returns the rows."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_2_0(f, header)
        for start in range(0, shape[0], CHUNK):
            f.write(np.ascontiguousarray(fill(start, min(start + CHUNK, shape[0])), dtype=dtype).tobytes())
    tmp.replace(path)


def build(d: Path, n_train: int, n_test: int, n_exact: int, n_near: int) -> dict:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    y_train = rng.integers(0, CLASSES, n_train)
    y_test = rng.integers(0, CLASSES, n_test)
    # planted pairs: test positions and the training images they copy
    test_pos = rng.choice(n_test, n_exact + n_near, replace=False)
    train_src = rng.choice(n_train, n_exact + n_near, replace=False)
    plant = dict(zip(test_pos.tolist(), train_src.tolist()))
    exact = set(test_pos[:n_exact].tolist())

    wanted = np.sort(train_src)
    kept: dict[int, np.ndarray] = {}  # the training images the test split copies, kept while writing

    def train_rows(a: int, b: int) -> np.ndarray:
        rows = scenes(b - a, np.random.default_rng([SEED, a]))
        for i in wanted[(wanted >= a) & (wanted < b)]:
            kept[int(i)] = rows[i - a].copy()
        return rows

    def test_rows(a: int, b: int) -> np.ndarray:
        x = scenes(b - a, np.random.default_rng([SEED + 1, a])).astype(np.float32)
        for j in range(a, b):
            if j in plant:
                src = kept[plant[j]].astype(np.float32)
                if j not in exact:  # one pixel to the right, a little brighter, fresh noise
                    src = np.roll(src, 1, axis=1) + 6 + np.random.default_rng(j).normal(0, 3, src.shape)
                x[j - a] = np.clip(src, 0, 255)
        return x / 255.0

    t0 = time.perf_counter()
    write_npy(d / "x_train.npy", (n_train, SIDE, SIDE, CHANNELS), "uint8", train_rows)
    np.save(d / "y_train.npy", y_train)
    write_npy(d / "x_test.npy", (n_test, SIDE, SIDE, CHANNELS), "float32", test_rows)
    np.save(d / "y_test.npy", y_test)
    meta = {
        "train": n_train,
        "test": n_test,
        "exact": sorted(exact),
        "near": sorted(set(plant) - exact),
        "pairs": {str(k): v for k, v in plant.items()},
        "seconds_to_write": round(time.perf_counter() - t0, 1),
    }
    (d / "planted.json").write_text(json.dumps(meta))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="out/scale", type=Path)
    ap.add_argument("--train", type=int, default=1_000_000)
    ap.add_argument("--test", type=int, default=100_000)
    ap.add_argument("--exact", type=int, default=200)
    ap.add_argument("--near", type=int, default=500)
    ap.add_argument("--fresh", action="store_true", help="write the data again even if it exists")
    args = ap.parse_args()

    meta_path = args.dir / "planted.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not args.fresh else None
    if meta is None or meta["train"] != args.train or meta["test"] != args.test:
        print(f"writing {args.train:,} + {args.test:,} images to {args.dir} ...", file=sys.stderr)
        meta = build(args.dir, args.train, args.test, args.exact, args.near)
    size = sum(p.stat().st_size for p in args.dir.glob("*.npy"))

    cmd = [sys.executable, "-m", "cifar_doctor", "check", "--data", str(args.dir), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    if proc.returncode not in (0, 1):
        sys.exit(f"check failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    found = {f["code"]: f for f in report["findings"]}
    planted = set(map(int, meta["exact"])) | set(map(int, meta["near"]))

    def hits(code: str) -> str:
        f = found.get(code)
        if f is None:
            return "not reported"
        return f"{f['evidence'].get('count', f['evidence'].get('affected', '?'))} reported"

    print(
        f"data        {size / 1e9:.1f} GB on disk: {args.train:,} train + {args.test:,} test images "
        f"{SIDE}x{SIDE}x{CHANNELS} ({len(meta['exact'])} exact and {len(meta['near'])} near copies planted)"
    )
    print(f"check       {seconds:.1f} s wall, peak RSS {peak / 2**30:.2f} GiB")
    print(f"verdict     {report['verdict']['cause']} ({report['verdict']['confidence']:.2f})")
    print(
        f"scale       PRE001 {'found' if 'PRE001' in found else 'NOT FOUND'}"
        + (f" (ratio {found['PRE001']['evidence'].get('scale_ratio')})" if "PRE001" in found else "")
    )
    print(f"exact       DUP001 {hits('DUP001')} (planted {len(meta['exact'])})")
    near = found.get("DUP002")
    if near is not None and "estimate" in near["evidence"]:
        e = near["evidence"]
        lo, hi = e["estimate"]["fraction_interval_95"]
        print(
            f"near        DUP002 {e['count']} of {e['searched']:,} test images searched against all of train: "
            f"about {e['estimate']['images']:,} in all (95% interval {lo * e['eval_images']:,.0f}-"
            f"{hi * e['eval_images']:,.0f}; planted {len(planted)} incl. exact)"
        )
    else:
        print(f"near        DUP002 {hits('DUP002')} (planted {len(planted)} incl. exact)")
    sample = report["inputs"]["splits"]["train"].get("sample", {})
    print(
        f"sample      {sample.get('taken', '?'):,} of {sample.get('total', '?'):,} train images "
        f"({sample.get('method')}): {sample.get('limits')}"
    )
    ok = seconds <= 60 and peak <= 1.5 * 2**30 and {"PRE001", "DUP001", "DUP002"} <= set(found)
    print(f"targets     {'met' if ok else 'NOT met'} (<= 60 s, <= 1.5 GiB, scale mismatch and duplicates found)")


if __name__ == "__main__":
    main()
