"""Time the full seed case through the check engine, and measure its memory.

Builds the `original` recipe's data pipeline (train divided by 255, test left
raw: 60,000 float32 CIFAR-10 images, 737 MB) from the real CIFAR-10 file when
present, generated images otherwise, then times
`engine.run(build_inputs(...))` and prints:

- seconds for the whole run (every registered check, verdict, report);
- peak RSS of the process (`resource.getrusage`, includes loading the data)
  and of the check alone (the kernel's high-water mark, reset just before the
  run where `/proc/self/clear_refs` allows it);
- the size of the arrays fed to the check, and the peak/arrays ratios;
- whether TensorFlow got imported (it must not be).

Usage:

    python bench/check_speed.py [--data PATH/cifar10.npz] [--generated] [--repeat 3] [--heap]
    python bench/check_speed.py --inflate [--repeat 3]
    python bench/check_speed.py --ahead [--repeat 10]

`--heap` first sets the allocator as `cifar-doctor check` does (`cifar_doctor.cli.heap`: freed
blocks stay in the heap); the CPU seconds printed (user and kernel) compare the two.

`--ahead` times what `cifar-doctor check --data cifar10.npz` does after start-up, in this process:
reading the npz (`build_inputs`) and checking it (`engine.run`), with the test split's own work done
while the training images inflate (`engine.ahead`, as `check` does) and without, alternated
`--repeat` times (the heap kept as `check` keeps it); it prints the best and median of each.

`--inflate` times only the reading of the npz's training images: `np.load`, and
the inflates of `check` (`cifar_doctor.sources.inflate`): libdeflate in one call,
and the stream with zlib and with ISA-L, on one core, best of `--repeat`.

Targets, on a 2-core machine: peak <= 1.5x the arrays; <= 2 s for every check but
the near-duplicate search (DUP002), which compares every test image with every
training image and may take up to 30 s on full CIFAR-10 (`--ignore DUP002` on the
command line skips it).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (
    ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz",
    Path("/work/shared/data/cifar10/cifar10.npz"),
)


def _status(field: str) -> int | None:
    """A /proc/self/status field in bytes (Linux), else None."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark for this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024  # bytes on macOS, KiB on Linux


def _generated(n_train: int = 50_000, n_test: int = 10_000) -> dict[str, np.ndarray]:
    """Image-like uint8 data of CIFAR-10's shape, built cheaply in chunks."""
    rng = np.random.default_rng(0)
    out = {}
    for name, n in (("train", n_train), ("test", n_test)):
        x = np.empty((n, 32, 32, 3), dtype=np.uint8)
        for i in range(0, n, 5000):
            m = min(5000, n - i)
            base = rng.integers(40, 200, size=(m, 1, 1, 3))
            noise = rng.integers(-40, 40, size=(m, 32, 32, 3), dtype=np.int16)
            x[i : i + m] = np.clip(base + noise, 0, 255)
        out[f"x_{name}"] = x
        out[f"y_{name}"] = rng.integers(0, 10, size=n)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="CIFAR-10 npz (default: ../shared when present)")
    parser.add_argument("--generated", action="store_true", help="use generated images even if the data exists")
    parser.add_argument("--repeat", type=int, default=1, help="time the run this many times (fresh inputs each)")
    parser.add_argument("--inflate", action="store_true", help="time reading the training images only")
    parser.add_argument("--heap", action="store_true", help="keep freed blocks in the heap, as cifar-doctor check does")
    parser.add_argument(
        "--ahead", action="store_true", help="time reading and checking the npz, with work ahead and without"
    )
    args = parser.parse_args()
    if args.ahead:
        from cifar_doctor.cli.heap import keep_freed_memory

        keep_freed_memory()
        path = args.data or next((p for p in CANDIDATES if p.exists()), None)
        if path is None:
            print("no CIFAR-10 npz found: pass --data", file=sys.stderr)
            return 2
        return _time_ahead(path, max(args.repeat, 1))
    if args.heap:
        from cifar_doctor.cli.heap import keep_freed_memory

        print(f"heap kept:         {keep_freed_memory()}")
    if args.inflate:
        path = args.data or next((p for p in CANDIDATES if p.exists()), None)
        if path is None:
            print("no CIFAR-10 npz found: pass --data", file=sys.stderr)
            return 2
        return _time_inflate(path, max(args.repeat, 1))

    from cifar_doctor.training.recipes import get_recipe

    path = args.data or next((p for p in CANDIDATES if p.exists()), None)
    if args.generated or path is None or not path.exists():
        source = "generated 60,000 images"
        raw = _generated()
    else:
        source = str(path)
        with np.load(path, allow_pickle=False) as d:
            raw = {k: d[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    data = get_recipe("original").preprocess(raw)
    del raw
    nbytes = sum(a.nbytes for a in data.values())

    from cifar_doctor import engine
    from cifar_doctor.api import build_inputs
    from cifar_doctor.registry import load_all

    load_all()  # import the check modules before timing (as the CLI does at start-up)
    rss_before = _status("VmRSS")
    load_peak = _peak_rss()
    reset = _reset_peak()
    times = []
    report = None
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(max(args.repeat, 1)):
        t0 = time.perf_counter()
        report = engine.run(build_inputs(**data))
        times.append(time.perf_counter() - t0)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    runs = max(args.repeat, 1)
    check_peak = _status("VmHWM") if reset else None
    peak = max(load_peak, _peak_rss())

    mib = 2**20
    print(f"source:            {source}")
    print(
        f"arrays:            {nbytes / mib:.1f} MiB "
        f"({', '.join(f'{k} {v.dtype}{list(v.shape)}' for k, v in data.items())})"
    )
    print(f"seconds:           {min(times):.3f} (best of {len(times)}; all: {', '.join(f'{t:.3f}' for t in times)})")
    print(
        f"cpu per run:       {(cpu1.ru_utime - cpu0.ru_utime) / runs:.2f} s user, "
        f"{(cpu1.ru_stime - cpu0.ru_stime) / runs:.2f} s kernel"
    )
    print(f"peak RSS process:  {peak / mib:.1f} MiB  ratio {peak / nbytes:.2f}x arrays (includes loading)")
    if check_peak is not None:
        print(
            f"peak RSS check:    {check_peak / mib:.1f} MiB  ratio {check_peak / nbytes:.2f}x arrays "
            f"(RSS before the check: {rss_before / mib:.1f} MiB)"
        )
    timed = _timed_checks(build_inputs(**data))
    print(
        f"slowest checks:    {', '.join(f'{code} {sec:.3f}s' for code, sec in timed[:4])} "
        "(each timed alone, statistics already computed)"
    )
    print(f"verdict:           {report.verdict.cause} ({', '.join(report.codes())})")
    print(f"tensorflow imported: {'tensorflow' in sys.modules}")
    print(f"cpus:              {os.cpu_count()}")
    others = min(times) - dict(timed).get("DUP002", 0.0)
    print(f"without DUP002:    {others:.3f} s")
    ok = (
        min(times) <= 30.0
        and others <= 2.0
        and (check_peak or peak) <= 1.5 * nbytes
        and "tensorflow" not in sys.modules
    )
    return 0 if ok else 1


def _time_inflate(path: Path, repeat: int, key: str = "x_train") -> int:
    """Print the best of `repeat` seconds to read `key` of the npz at `path` three ways."""
    import zipfile
    import zlib

    from cifar_doctor.sources import inflate
    from cifar_doctor.sources.npy import read_npy_header

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(f"{key}.npy")
        with zf.open(info) as fh:
            read_npy_header(fh)
            skip = fh.tell()

    def best(read) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            read()
            times.append(time.perf_counter() - t0)
        return min(times)

    def inflated() -> None:
        out = np.empty(info.file_size - skip, np.uint8)
        with open(path, "rb") as fh:
            inflate.inflate_member(fh, info, out, skip)

    def in_one_call() -> None:
        with open(path, "rb") as fh:
            if inflate._inflate_whole(fh, info) is None:
                raise RuntimeError("libdeflate could not read the member")

    def np_load() -> None:
        with np.load(path, allow_pickle=False) as d:
            d[key]

    shipped = inflate._zlib
    print(
        f"member:            {key} of {path}: {info.compress_size / 1e6:.1f} MB deflated, {info.file_size / 1e6:.1f} MB"
    )
    print(f"np.load:           {best(np_load):.3f} s (best of {repeat})")
    if inflate._libdeflate is not None:
        print(f"libdeflate:        {best(in_one_call):.3f} s (one call, the file mapped)")
    else:
        print("libdeflate:        not installed (pip install deflate)")
    try:
        inflate._zlib = zlib
        print(f"inflate, zlib:     {best(inflated):.3f} s")
    finally:
        inflate._zlib = shipped
    if inflate.BACKEND == "isal":
        print(f"inflate, isal:     {best(inflated):.3f} s")
    else:
        print("inflate, isal:     not installed (pip install isal)")
    return 0


def _time_ahead(path: Path, repeat: int) -> int:
    """Print the best and median seconds of reading and checking the npz at `path`, with the test split's
    work done while the training images inflate and without, alternated `repeat` times."""
    import statistics

    from cifar_doctor import engine
    from cifar_doctor.api import build_inputs
    from cifar_doctor.registry import load_all
    from cifar_doctor.sources.base import while_reading

    load_all()
    times: dict[str, list[tuple[float, float, float]]] = {"ahead": [], "after reading": []}
    reports = {}
    for _ in range(repeat):
        for mode, times_of in times.items():
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            with while_reading(engine.ahead if mode == "ahead" else None):
                inputs = build_inputs(data=path)
            t1 = time.perf_counter()
            reports[mode] = engine.run(inputs).to_dict()
            t2 = time.perf_counter()
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
            times_of.append((t2 - t0, t1 - t0, cpu))
            del inputs
    print(f"data:              {path}")
    for mode, v in times.items():
        total = [t[0] for t in v]
        print(
            f"{mode + ':':18s} {min(total):.3f} s best, {statistics.median(total):.3f} s median of {len(v)} "
            f"(reading {statistics.median(t[1] for t in v):.3f} s, CPU {statistics.median(t[2] for t in v):.2f} s, medians)"
        )
    same = reports["ahead"]["findings"] == reports["after reading"]["findings"]
    print(f"same findings:     {same}")
    return 0 if same else 1


def _timed_checks(inputs) -> list[tuple[str, float]]:
    """(code, seconds) of every check that runs on `inputs`, slowest first, each run alone after the
    split statistics are cached."""
    from cifar_doctor.registry import all_checks

    for split in inputs.splits.values():
        _ = split.stats
    timed = []
    for spec in all_checks():
        if all(inputs.has(r) for r in spec.requires):
            t0 = time.perf_counter()
            spec(inputs)
            timed.append((spec.code, time.perf_counter() - t0))
    return sorted(timed, key=lambda t: -t[1])


if __name__ == "__main__":
    raise SystemExit(main())
