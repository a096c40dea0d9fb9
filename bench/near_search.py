"""Time the near-duplicate search (DUP002): `check` on full CIFAR-10, its matrix-product floor, and a search at scale.

CIFAR-10 (50,000 train x 10,000 test, uint8), from `--data`:

- `cifar-doctor check --data FILE` in a child process, whole and with
  `--ignore DUP002` (the difference is the near-duplicate search), best of
  `--repeat`; the child's peak RSS;
- the search's stages in this process (signatures, index, look-ups, verification);
- the floor: a plain NumPy product of the same signatures (the five probes of
  every test image by every training image, float32, in 4,096 x 8,192 blocks,
  each block also scanned for its maximum) with NumPy's BLAS threads and with
  one, and the ratio of the search to the faster floor;
- what was found (test images with a near-duplicate in train, near-identical,
  within test), to compare with the README.

At scale (`--train` x `--test` images of 48x48x3, the `bench/scale.py` scenes
with planted exact and shifted copies, written to `--scale-dir` once): the
full search of every test image against every training image, signatures and
index built once, queried shard by shard; its stages, the planted pairs found
and the peak RSS. `--skip-scale` leaves it out.

Usage:

    python bench/near_search.py [--data PATH.npz] [--repeat 3] [--scale-dir out/scale-full]
                                [--train 1000000] [--test 50000] [--skip-scale]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
CANDIDATES = (
    ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz",
    Path("/work/shared/data/cifar10/cifar10.npz"),
)
FLOOR_QUERY_BLOCK = 4096
FLOOR_INDEX_BLOCK = 8192
SHARD = 16_384


def _child(args: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of `python -m cifar_doctor ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cifar_doctor", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"check failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def _load_avg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def _timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def _chunks(x: np.ndarray, size: int = 1024):
    return ((s, x[s : s + size]) for s in range(0, len(x), size))


def cifar(path: Path, repeat: int) -> None:
    from cifar_doctor.measure import neardup

    runs = []
    for _ in range(repeat):
        whole = _child(["check", "--data", str(path), "--json"])
        rest = _child(["check", "--data", str(path), "--json", "--ignore", "DUP002"])
        runs.append((whole, rest, _load_avg()))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    best = min(runs, key=lambda r: r[0][0])
    (w_all, c_all, out), (w_rest, c_rest, _), load = best
    report = json.loads(out)
    f = next(f for f in report["findings"] if f["code"] == "DUP002")
    ev = f["evidence"]
    print(f"data:              {path}")
    print(
        f"check:             {w_all:.2f} s wall, {c_all:.2f} s CPU (best of {repeat}; all: "
        f"{', '.join(f'{r[0][0]:.2f}' for r in runs)} s; load average {', '.join(r[2] for r in runs)})"
    )
    print(f"  --ignore DUP002: {w_rest:.2f} s wall, {c_rest:.2f} s CPU")
    print(f"  near-duplicates: {w_all - w_rest:.2f} s wall, {c_all - c_rest:.2f} s CPU (the difference)")
    print(f"  peak RSS:        {peak / 2**20:.0f} MiB (the child, whole check)")
    print(
        f"found:             {ev['count']} test images with a near-duplicate in train, {ev['near_identical']} "
        f"near-identical, {ev['exact']} exact; {ev['within_split']['images']} within test; "
        f"{ev['candidates_verified']} candidate pairs verified"
    )

    with np.load(path, allow_pickle=False) as d:
        x_train, x_test = d["x_train"], d["x_test"]
    identity = (np.ones(3, np.float32), np.zeros(3, np.float32))  # uint8 0-255 data: the check's canonical affine
    sig_train, t_sig = _timed(
        lambda: neardup.concat(neardup.signatures(c, affine=identity) for _, c in _chunks(x_train))
    )
    index, t_index = _timed(lambda: neardup.build_index(sig_train))
    (i, j, _), t_cross = _timed(lambda: neardup.search(_chunks(x_test), index, affine=identity))
    sig_test, t_sig_test = _timed(
        lambda: neardup.concat(neardup.signatures(c, affine=identity) for _, c in _chunks(x_test))
    )
    (wi, wj, _), t_within = _timed(lambda: neardup.search(_chunks(x_test), sig_test, affine=identity, within=True))

    def prep(x):
        return lambda ix: neardup.prepare(x[ix], affine=identity)

    _, t_confirm = _timed(lambda: neardup.confirm(i, j, prep(x_test), prep(x_train)))
    _, t_confirm_w = _timed(lambda: neardup.confirm(wi, wj, prep(x_test), prep(x_test)))
    stages = t_sig + t_index + t_cross + t_sig_test + t_within + t_confirm + t_confirm_w
    print(
        f"stages:            {stages:.2f} s in all: signatures {t_sig + t_sig_test:.2f}, index {t_index:.2f} "
        f"({len(index.centroids)} lists), look-ups test x train {t_cross:.2f} (probes included), within test "
        f"{t_within:.2f}, verification {t_confirm + t_confirm_w:.2f} ({len(i) + len(wi):,} pairs)"
    )

    probes = np.concatenate(
        [neardup.signatures(x_test, shift=s, affine=identity).thumbs for s in ((0, 0), *neardup.PROBE_SHIFTS)]
    )
    floors = {
        name: _floor(probes, sig_train.thumbs, threads) for name, threads in (("BLAS default", None), ("1 thread", 1))
    }
    floor = min(floors.values())
    search = t_cross + t_within
    print(
        f"floor:             {', '.join(f'{k} {v:.2f} s' for k, v in floors.items())}: the product of the "
        f"{len(probes):,} probe signatures by the {len(sig_train):,} training signatures"
    )
    print(
        f"ratio:             look-ups {search:.2f} s / floor {floor:.2f} s = {search / floor:.2f}; "
        f"near-duplicate part of check {w_all - w_rest:.2f} s / floor = {(w_all - w_rest) / floor:.2f}"
    )


def _floor(q: np.ndarray, t: np.ndarray, threads: int | None) -> float:
    """Seconds for the plain float32 product q @ t.T in blocks, each block scanned for its row maxima."""
    import contextlib

    limit: contextlib.AbstractContextManager = contextlib.nullcontext()
    if threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(threads, user_api="blas")
    qf, tf = q.astype(np.float32), t.astype(np.float32)
    with limit:
        t0 = time.perf_counter()
        for a in range(0, len(qf), FLOOR_QUERY_BLOCK):
            for b in range(0, len(tf), FLOOR_INDEX_BLOCK):
                (qf[a : a + FLOOR_QUERY_BLOCK] @ tf[b : b + FLOOR_INDEX_BLOCK].T).max(axis=1)
        return time.perf_counter() - t0


def at_scale(d: Path, n_train: int, n_test: int) -> None:
    import scale

    from cifar_doctor.measure import neardup

    meta_path = d / "planted.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if meta is None or meta["train"] != n_train or meta["test"] != n_test:
        print(f"writing {n_train:,} + {n_test:,} images to {d} ...", file=sys.stderr)
        meta = scale.build(d, n_train, n_test, 200, 500)
    x_train = np.load(d / "x_train.npy", mmap_mode="r")
    x_test = np.load(d / "x_test.npy", mmap_mode="r")
    load = _load_avg()
    sig, t_sig = _timed(lambda: neardup.concat(neardup.signatures(c) for _, c in _chunks(x_train, SHARD)))
    index, t_index = _timed(lambda: neardup.build_index(sig))
    (i, j, _), t_search = _timed(lambda: neardup.search(_chunks(x_test, SHARD), index))

    def take(x):
        return lambda ix: neardup.prepare(np.asarray(x[ix]))

    pairs, t_confirm = _timed(lambda: neardup.confirm(i, j, take(x_test), take(x_train)))
    found = set(zip(pairs.a.tolist(), pairs.b.tolist()))
    planted = {(int(k), v) for k, v in meta["pairs"].items()}
    near = {(int(k), meta["pairs"][str(k)]) for k in meta["near"]}
    total = t_sig + t_index + t_search + t_confirm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"scale:             {n_test:,} test x {n_train:,} train images 48x48x3, every pair searched (load average {load})"
    )
    print(
        f"  time:            {total:.1f} s: training signatures {t_sig:.1f}, index {t_index:.1f} "
        f"({len(index.centroids):,} lists), look-ups {t_search:.1f} ({n_test:,} images x 5 probes, shards of "
        f"{SHARD:,}), verification {t_confirm:.1f} ({len(i):,} candidate pairs)"
    )
    print(
        f"  found:           {len(planted & found)} of {len(planted)} planted pairs "
        f"({len(near & found)} of {len(near)} shifted copies); {len(found)} pairs in all; peak RSS {peak / 2**30:.2f} GiB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="CIFAR-10 npz (default: ../shared when present)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale-dir", type=Path, default=ROOT / "out" / "scale-full")
    ap.add_argument("--train", type=int, default=1_000_000)
    ap.add_argument("--test", type=int, default=50_000)
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-cifar", action="store_true")
    args = ap.parse_args()
    path = args.data or next((p for p in CANDIDATES if p.exists()), None)
    if not args.skip_cifar:
        if path is None or not path.exists():
            print("No CIFAR-10 npz: pass --data", file=sys.stderr)
            return 2
        cifar(path, args.repeat)
    if not args.skip_scale:
        at_scale(args.scale_dir, args.train, args.test)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
