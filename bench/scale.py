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

`--runner beam` runs the check as an Apache Beam pipeline instead (`--beam-flag`
gives Beam's flags; by default the DirectRunner with 2 worker processes), and
`--runner both` runs the default path and then the pipeline on the same data
and says whether the two JSON reports are identical. Memory is then sampled
over the whole process tree (the check and Beam's worker processes): the peak
of their summed RSS, and the largest single process.

Usage: python bench/scale.py [--dir out/scale] [--train 1000000] [--test 100000] [--fresh]
                             [--runner direct|beam|both] [--beam-flag=--direct_num_workers=2 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

SIDE = 48
CHANNELS = 3
CLASSES = 10
CHUNK = 20_000
SEED = 7

#: Beam's flags when none are given: the local DirectRunner with two worker processes.
BEAM_FLAGS = ["--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]

#: Seconds between two samples of the process tree's memory.
RSS_POLL_SECONDS = 0.2


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
    ap.add_argument("--runner", choices=("direct", "beam", "both"), default="direct")
    ap.add_argument(
        "--beam-flag", action="append", help="a Beam pipeline flag (repeat); default: " + " ".join(BEAM_FLAGS)
    )
    args = ap.parse_args()

    meta_path = args.dir / "planted.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not args.fresh else None
    if meta is None or meta["train"] != args.train or meta["test"] != args.test:
        print(f"writing {args.train:,} + {args.test:,} images to {args.dir} ...", file=sys.stderr)
        meta = build(args.dir, args.train, args.test, args.exact, args.near)
    size = sum(p.stat().st_size for p in args.dir.glob("*.npy"))

    runners = ("direct", "beam") if args.runner == "both" else (args.runner,)
    reports, timings = {}, {}
    for runner in runners:
        extra = ["--runner", "beam", "--", *(args.beam_flag or BEAM_FLAGS)] if runner == "beam" else []
        cmd = [sys.executable, "-m", "cifar_doctor", "check", "--data", str(args.dir), "--json", *extra]
        reports[runner], timings[runner] = _run_check(cmd, runner, tree=args.runner != "direct")
    if len(reports) == 2:
        same = reports["direct"] == reports["beam"]
        print(f"reports     {'identical' if same else 'DIFFERENT'} (direct and beam, whole JSON documents)")
    found = _summary(args, meta, size, reports[runners[-1]])
    if args.runner == "direct":  # the default path alone: its targets
        seconds, peak = timings["direct"]
        ok = seconds <= 60 and peak <= 1.5 * 2**30 and {"PRE001", "DUP001", "DUP002"} <= found
        print(f"targets     {'met' if ok else 'NOT met'} (<= 60 s, <= 1.5 GiB, scale mismatch and duplicates found)")


def _tree_rss(root: int) -> tuple[int, int]:
    """(summed RSS, largest RSS) in bytes of process `root` and its descendants, from /proc."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        grew = bool(more)
        tree |= more
    sizes = [rss.get(p, 0) for p in tree]
    return sum(sizes), max(sizes, default=0)


def _run_check(cmd: list[str], runner: str, *, tree: bool) -> tuple[dict, tuple[float, int]]:
    """Run one check; print its wall time and memory; return its JSON report, its seconds and peak bytes."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, largest = _tree_rss(proc.pid)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], largest)
            done.wait(RSS_POLL_SECONDS)

    watcher = threading.Thread(target=sample, daemon=True)
    if tree:
        watcher.start()
    out, err = proc.communicate()
    done.set()
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"check failed ({proc.returncode}):\n{err[-3000:]}")
    if tree:
        peak = peaks[0]
        print(
            f"check       {runner}: {seconds:.1f} s wall, peak RSS {peaks[0] / 2**30:.2f} GiB summed over the "
            f"process tree (largest process {peaks[1] / 2**30:.2f} GiB)"
        )
    else:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
        print(f"check       {seconds:.1f} s wall, peak RSS {peak / 2**30:.2f} GiB")
    return json.loads(out), (seconds, peak)


def _summary(args, meta: dict, size: int, report: dict) -> set[str]:
    """Print what the check found, against what was planted; return the codes found."""
    found = {f["code"]: f for f in report["findings"]}
    planted = set(map(int, meta["exact"])) | set(map(int, meta["near"]))

    def hits(code: str) -> str:
        f = found.get(code)
        if f is None:
            return "not reported"
        return f"{f['evidence'].get('count', f['evidence'].get('affected', '?'))} reported"

    print(
        f"data        {size / 1e9:.2f} GB on disk: {args.train:,} train + {args.test:,} test images "
        f"{SIDE}x{SIDE}x{CHANNELS} ({len(meta['exact'])} exact and {len(meta['near'])} near copies planted)"
    )
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
    return set(found)


if __name__ == "__main__":
    main()
