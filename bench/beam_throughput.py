"""Per-worker throughput of the full passes, and what auditing an ImageNet-size set costs on a Beam runner.

A Beam worker runs the same functions on the same work items as the direct
runner (`cifar_doctor.runners`), so what one core does per image here is
what one worker core does per image there. This script:

1. writes `--train` + `--test` ImageNet-sized images (224x224x3 uint8
   scenes, `--copies` test images copied from train and shifted by a pixel)
   as a `.npy` folder and runs the check's passes in this process with a
   runner that times every stage: CPU seconds (this process, all threads)
   and wall seconds, per image read;
2. times decoding ImageNet-like JPEG files (`--jpeg` files of 500x375, quality
   90, about ImageNet's median) to 224x224 RGB with Pillow, as
   `cifar_doctor.sources.folders` feeds a folder of images: every full pass
   over an image folder pays this per image;
3. times the search of the test images in an inverted-list index of `--index`
   signatures (random thumbnails): through the index a query is compared
   with its 16 nearest lists of about 200 signatures whatever the index's
   size, so this is the per-query cost of a search in 1.28 million;
4. projects the CPU time of a check of ImageNet-1k (1,281,167 training and
   50,000 validation JPEGs) and its time and cost on `--workers` Dataflow
   workers of `--vcpus` vCPUs at the prices given.

Usage: python bench/beam_throughput.py [--dir out/throughput] [--train 3000] [--test 1000] [--copies 50]
                                       [--jpeg 300] [--index 200000] [--workers 10] [--vcpus 4]
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

SIDE = 224
CLASSES = 1000
SEED = 11

#: ImageNet-1k: training and validation images.
IMAGENET_TRAIN = 1_281_167
IMAGENET_VAL = 50_000

#: A JPEG like ImageNet's median file: 500x375 pixels, quality 90 (about 110 KB).
JPEG_SIZE = (500, 375)
JPEG_QUALITY = 90

#: Dataflow batch list prices (us-central1) per vCPU-hour and per GB-hour of memory, and the GB of an
#: n1-standard-4 (4 vCPUs): an assumption to check against the current price list, not a quote.
VCPU_HOUR_USD = 0.056
GB_HOUR_USD = 0.003557
GB_PER_VCPU = 3.75

#: Driver seconds to index the training signatures (k-means): 80.8 s for 1,000,000 on 2 busy cores
#: (README, `bench/near_search.py`), growing with the square of the count (lists x sample).
INDEX_SECONDS_PER_MILLION_SQUARED = 80.8

#: Seconds to start a Dataflow job's workers (VMs booting, the SDK container pulled), paid per
#: pipeline: the check runs five (statistics, hashes, signatures, search, verification).
STARTUP_SECONDS = 180
PIPELINES = 5


class TimedRunner:
    """The direct runner, timing each stage (CPU of this process and wall) and counting its images."""

    name = "direct"
    searches_all = True

    def __init__(self) -> None:
        self.stages: dict[str, list[float]] = {}

    def map(self, fn, items, *, stage):
        c0, t0 = time.process_time(), time.perf_counter()
        out = [fn(item) for item in items]
        key = stage.split("-")[0]
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        done = self.stages.setdefault(key, [0.0, 0.0])
        done[0] += cpu
        done[1] += wall
        return out


def scenes(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` 224x224x3 uint8 images: a random 7x7 colour layout upsampled x32, plus pixel noise."""
    coarse = rng.integers(0, 256, size=(n, 7, 7, 3), dtype=np.uint8)
    img = np.repeat(np.repeat(coarse, SIDE // 7, axis=1), SIDE // 7, axis=2).astype(np.int16)
    img += rng.integers(-12, 13, size=img.shape, dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def write(d: Path, n_train: int, n_test: int, copies: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    x_train = scenes(n_train, rng)
    x_test = scenes(n_test, rng)
    src = rng.choice(n_train, copies, replace=False)
    x_test[:copies] = np.roll(x_train[src], 1, axis=2)
    np.save(d / "x_train.npy", x_train)
    np.save(d / "y_train.npy", rng.integers(0, CLASSES, n_train))
    np.save(d / "x_test.npy", x_test)
    np.save(d / "y_test.npy", rng.integers(0, CLASSES, n_test))


def jpeg_seconds(n: int) -> tuple[float, float]:
    """(CPU, wall) seconds per file to decode a 500x375 JPEG and resize it to 224x224 RGB."""
    from PIL import Image

    rng = np.random.default_rng(SEED)
    h, w = JPEG_SIZE[1], JPEG_SIZE[0]
    files = []
    for _ in range(n):
        coarse = rng.integers(0, 256, size=(15, 20, 3), dtype=np.uint8)
        img = np.repeat(np.repeat(coarse, 25, axis=0), 25, axis=1)[:h, :w].astype(np.int16)
        img = np.clip(img + rng.integers(-12, 13, size=img.shape, dtype=np.int16), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=JPEG_QUALITY)
        files.append(buf.getvalue())
    c0, t0 = time.process_time(), time.perf_counter()
    for data in files:
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)
    return (time.process_time() - c0) / n, (time.perf_counter() - t0) / n


def ivf_search_seconds(x_test: np.ndarray, n_index: int) -> tuple[float, float]:
    """(CPU seconds per query image, CPU seconds to build the index) for an inverted-list index of `n_index`."""
    from cifar_doctor.measure import neardup

    rng = np.random.default_rng(SEED)
    v = rng.normal(size=(n_index, neardup.SIG_GRID**2)).astype(np.float32)
    v -= v.mean(axis=1, keepdims=True)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sigs = neardup.Signatures(np.rint(v * 127).astype(np.int8), np.zeros(n_index, bool))
    c0 = time.process_time()
    index = neardup.build_index(sigs)
    built = time.process_time() - c0
    c0 = time.process_time()
    neardup.search_batch([(0, x_test)], index)
    return (time.process_time() - c0) / len(x_test), built


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default="out/throughput", type=Path)
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--copies", type=int, default=50)
    ap.add_argument("--jpeg", type=int, default=300)
    ap.add_argument("--index", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=10)
    ap.add_argument("--vcpus", type=int, default=4)
    args = ap.parse_args()

    from cifar_doctor.api import build_inputs
    from cifar_doctor.engine import run

    write(args.dir, args.train, args.test, args.copies)
    runner = TimedRunner()
    t0 = time.perf_counter()
    report = run(build_inputs(data=args.dir, runner=runner), select_codes=["DUP", "PRE", "RNG"])
    wall = time.perf_counter() - t0
    found = {f["code"]: f["evidence"].get("count") for f in report.to_dict()["findings"]}
    images = args.train + args.test
    reads = {"hash": images, "signatures": images, "search": args.test}
    print(f"data        {args.train:,} train + {args.test:,} test images {SIDE}x{SIDE}x3 uint8 ({args.copies} copies)")
    print(f"check       {wall:.1f} s wall in this process; found {found}")
    per_image = {}
    for stage, (cpu, sec) in runner.stages.items():
        n = reads.get(stage)
        if n:
            per_image[stage] = cpu / n
            print(f"stage       {stage:<11} {cpu:6.2f} s CPU {sec:6.2f} s wall: {n / cpu:8.0f} images/s per core")
        else:
            print(f"stage       {stage:<11} {cpu:6.2f} s CPU {sec:6.2f} s wall (sample or candidate pairs)")
    jpeg_cpu, jpeg_wall = jpeg_seconds(args.jpeg)
    print(
        f"jpeg        {1 / jpeg_cpu:.0f} files/s per core decoded and resized to {SIDE}x{SIDE} ({JPEG_SIZE[0]}x{JPEG_SIZE[1]} q{JPEG_QUALITY})"
    )

    query_cpu, build_cpu = ivf_search_seconds(np.load(args.dir / "x_test.npy"), args.index)
    print(
        f"search      {1 / query_cpu:.0f} queries/s per core in an index of {args.index:,} "
        f"(built in {build_cpu:.1f} s CPU)"
    )

    # ImageNet-1k from JPEG files: hashes and signatures read every image, the search every validation image
    n_all = IMAGENET_TRAIN + IMAGENET_VAL
    decodes = 2 * n_all + IMAGENET_VAL
    compute = per_image["hash"] * n_all + per_image["signatures"] * n_all + query_cpu * IMAGENET_VAL
    core_s = decodes * jpeg_cpu + compute
    cores = args.workers * args.vcpus
    driver_s = INDEX_SECONDS_PER_MILLION_SQUARED * (IMAGENET_TRAIN / 1e6) ** 2
    run_s = core_s / cores + PIPELINES * STARTUP_SECONDS + driver_s
    core_hour_usd = VCPU_HOUR_USD + GB_PER_VCPU * GB_HOUR_USD
    per_million = core_s / n_all * 1e6 / 3600
    print(
        f"imagenet    {decodes / 1e6:.2f} M JPEG decodes ({decodes * jpeg_cpu / core_s:.0%} of the work) + passes: "
        f"{core_s / 3600:.2f} core-hours, {per_million:.2f} per million images "
        f"(${per_million * core_hour_usd:.2f} per million at ${core_hour_usd:.3f} per vCPU-hour with its memory)"
    )
    print(
        f"dataflow    {args.workers} workers x {args.vcpus} vCPUs: {run_s / 60:.0f} min = {core_s / cores / 60:.1f} min "
        f"of passes + {PIPELINES} x {STARTUP_SECONDS} s worker start-up + {driver_s / 60:.1f} min indexing on the driver; "
        f"${cores * core_hour_usd * run_s / 3600:.2f}"
    )


if __name__ == "__main__":
    main()
