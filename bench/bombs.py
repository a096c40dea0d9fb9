"""Time and peak memory of `cifar-doctor check` on five inputs that are small on disk and costly to read.

    python bench/bombs.py [--only NAME ...] [--keep DIR]

Builds, in a temporary folder (cheaply: repeated blocks, one deflate stream):

- `pixels`: five 7000x7000 (49-megapixel) PNGs of ~150 kB each in a class folder
  (over 700 MB decoded);
- `epochs`: a 94 MB Keras console log of a million epochs;
- `json-objects`: a 50 MB History JSON of one list of 3.6 million small dicts;
- `tb-fields`: a 250 MiB TensorBoard event file of 1 MB records of tiny fields;
- `keras-layers`: a 28 kB `.keras` whose config.json (9 MB deflated to 27 kB) lists 275,000 layers;

then runs `python -m cifar_doctor check ...` on each in a subprocess and prints
its exit code, wall time, peak RSS (`wait4`'s `ru_maxrss`) and stderr's last line.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def png(path: Path, width: int, height: int) -> Path:
    """An RGB PNG of `width` x `height` black pixels: one deflate stream of repeated rows."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    comp = zlib.compressobj(9)
    row = b"\x00" + bytes(width * 3)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def pixel_folders(d: Path, images: int = 5, side: int = 7000) -> Path:
    """train/ and test/ class folders; the training class folder holds `images` PNGs of side x side."""
    root = d / "images"
    for split in ("train", "test"):
        (root / split / "cat").mkdir(parents=True)
    big = png(root / "train" / "cat" / "0.png", side, side)
    for i in range(1, images):
        os.link(big, root / "train" / "cat" / f"{i}.png")
    png(root / "test" / "cat" / "0.png", 32, 32)
    return root


def epoch_log(d: Path, epochs: int = 1_000_000) -> Path:
    """A Keras 2 `verbose=2` console log of `epochs` epochs (~94 bytes each)."""
    p = d / "train.log"
    with open(p, "w") as f:
        for start in range(1, epochs + 1, 10_000):
            f.write(
                "".join(
                    f"Epoch {i}/{epochs}\n - 0s - loss: 0.5000 - acc: 0.8000 - val_loss: 0.6000 - val_acc: 0.7000\n"
                    for i in range(start, min(start + 10_000, epochs + 1))
                )
            )
    return p


def json_objects(d: Path, size: int = 50 << 20) -> Path:
    """A History JSON of one list of `{"loss": 0.5}` dicts, `size` bytes long."""
    p = d / "history.json"
    item = b'{"loss": 0.5},'
    with open(p, "wb") as f:
        f.write(b"[")
        block = item * 100_000
        for _ in range(size // len(block)):
            f.write(block)
        f.write(b'{"loss": 0.5}]')
    return p


def tb_fields(d: Path, size: int = 250 << 20, record: int = 1 << 20) -> Path:
    """An event file of `size` bytes: records of `record` bytes, each a run of 2-byte `step` fields."""
    from cifar_doctor.sources.tfevents import masked_crc32c

    data = b"\x10\x00" * ((record - 16) // 2)
    header = struct.pack("<Q", len(data))
    framed = header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))
    (d / "logs").mkdir()
    p = d / "logs" / "events.out.tfevents.1700000000.host.1.0.v2"
    with open(p, "wb") as f:
        for _ in range(size // len(framed)):
            f.write(framed)
    return p


def keras_layers(d: Path, layers: int = 275_000) -> Path:
    """A `.keras` zip whose deflated config.json lists `layers` Activation layers."""
    layer = {"class_name": "ReLU", "config": {}}
    body = ",".join([json.dumps(layer, separators=(",", ":"))] * layers)  # 40 bytes a layer: 11 MB in all
    config = (
        '{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": ['
        + body
        + ']}, "registered_name": null}'
    )
    p = d / "model.keras"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        zf.writestr("config.json", config)
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(100))
    return p


#: Name -> (builder, check arguments from the built path).
BOMBS: dict[str, tuple[Callable[[Path], Path], Callable[[Path], list[str]]]] = {
    "pixels": (pixel_folders, lambda p: ["--data", str(p), "--json"]),
    "epochs": (epoch_log, lambda p: ["--log", str(p)]),
    "json-objects": (json_objects, lambda p: ["--log", str(p)]),
    "tb-fields": (tb_fields, lambda p: ["--log", str(p.parent)]),
    "keras-layers": (keras_layers, lambda p: ["--model", str(p)]),
}


def run(args: list[str], pythonpath: str, timeout: float) -> tuple[int | str, float, int, str]:
    """(exit code or `timeout`, seconds, peak RSS in MB, stderr's last line) of one check."""
    env = dict(os.environ, PYTHONPATH=pythonpath, NO_COLOR="1", TF_CPP_MIN_LOG_LEVEL="3", CIFAR_DOCTOR_OFFLINE="1")
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cifar_doctor", "check", *args],
        env=env,
        cwd=pythonpath,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, 9)
            _, status, usage = os.wait4(proc.pid, 0)
            return "timeout", time.monotonic() - start, usage.ru_maxrss >> 10, ""
        time.sleep(0.05)
    seconds = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace").strip().splitlines() if proc.stderr else []
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss >> 10, (err[-1] if err else "")[:110]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=sorted(BOMBS), help="Run only these bombs.")
    ap.add_argument("--pythonpath", default=str(ROOT), help="The checkout whose cifar_doctor runs (default: this one).")
    ap.add_argument("--timeout", type=float, default=300.0, help="Seconds before a run is killed.")
    ap.add_argument("--keep", type=Path, help="Build the inputs in this (empty) folder and keep them.")
    ns = ap.parse_args()
    names = ns.only or list(BOMBS)
    with tempfile.TemporaryDirectory() as tmp:
        base = ns.keep or Path(tmp)
        print(f"{'bomb':14} {'on disk':>10} {'exit':>7} {'seconds':>8} {'peak MB':>8}  last stderr line")
        for name in names:
            build, argv = BOMBS[name]
            d = base / name
            d.mkdir(parents=True, exist_ok=True)
            p = build(d)
            disk = sum(
                {(s.st_dev, s.st_ino): s.st_size for f in d.rglob("*") if f.is_file() for s in [f.stat()]}.values()
            )
            rc, seconds, rss, last = run(argv(p), ns.pythonpath, ns.timeout)
            print(f"{name:14} {disk / 2**20:9.1f}M {rc!s:>7} {seconds:8.1f} {rss:8d}  {last}", flush=True)


if __name__ == "__main__":
    main()
