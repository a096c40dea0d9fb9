"""Speed and memory of the log path: `cifar-doctor check --log` end to end, the parser alone, a large log.

Generates (in a temporary directory, removed afterwards):

- a 100-epoch standalone Keras 2 log (`verbose=1` without a terminal: one bar
  line per epoch, the seed question's format);
- a 100-epoch Keras 3 `verbose=1` terminal capture (20 `\\r`/`\\b` redraws
  with ANSI colours per epoch);
- a large Keras 3 capture (`--big-mb`, default 200 MB; 500 redraws per epoch) streamed through
  `read_history` while peak memory is measured;
- a 100-epoch TensorBoard run (`train/` and `validation/` event files of tensor summaries, as
  `keras.callbacks.TensorBoard` writes them), and one logged per batch as well (`--tb-batches`
  `batch_loss` records, default 500,000) read while peak memory is measured.

Usage:

    python bench/log_speed.py [--runs 7] [--big-mb 200] [--tb-batches 500000]

Prints median wall times (subprocess, so Python start-up and imports count)
and the peak RSS of the large-log parse. Target: <= 0.3 s for a 100-epoch log.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def keras2_log(epochs: int) -> str:
    out = []
    for e in range(1, epochs + 1):
        loss, acc = 1.8 / (1 + 0.08 * e), min(0.36 + 0.006 * e, 0.99)
        val_acc = min(0.45 + 0.002 * e, 0.9)
        out.append(
            f"Epoch {e}/{epochs}\n50000/50000 [==============================] - 452s 9ms/step - "
            f"loss: {loss:.4f} - acc: {acc:.4f} - val_loss: {15.85 * (1 - val_acc):.4f} - val_acc: {val_acc:.4f}\n"
        )
    out.append("10000/10000 [==============================] - 27s 3ms/step\nloss:  7.43\naccuracy:  0.53\n")
    return "".join(out)


def keras3_tty_epoch(e: int, epochs: int, redraws: int = 20, steps: int = 1563) -> str:
    parts = [f"Epoch {e}/{epochs}\r\n"]
    width = 0
    for k in range(1, redraws + 1):
        s = max(1, steps * k // redraws)
        bar = (
            f"\x1b[1m{s:4d}/{steps}\x1b[0m \x1b[32m{'━' * (20 * s // steps)}\x1b[0m"
            f"\x1b[37m{'━' * (20 - 20 * s // steps)}\x1b[0m \x1b[1m{(steps - s) // 100}s\x1b[0m 6ms/step - "
            f"accuracy: {0.3 + 0.003 * e:.4f} - loss: {1.9 - 0.005 * e + 0.1 / k:.4f}"
        )
        parts.append("\b" * width + "\r" + bar)
        width = len(bar)
    parts.append(f" - val_accuracy: {0.4 + 0.002 * e:.4f} - val_loss: {180 + e:.4f}\r\n")
    return "".join(parts)


def keras3_log(epochs: int) -> str:
    return "".join(keras3_tty_epoch(e, epochs) for e in range(1, epochs + 1))


def time_cli(path: Path, runs: int) -> list[float]:
    env = dict(os.environ, NO_COLOR="1", TF_CPP_MIN_LOG_LEVEL="3")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "cifar_doctor", "check", "--log", str(path), "--json"], capture_output=True, env=env
        )
        times.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"check --log failed: {proc.stderr.decode()[-500:]}")
    return times


def time_parser(path: Path, runs: int) -> list[float]:
    from cifar_doctor.sources.logs import read_history

    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        read_history(path)
        times.append(time.perf_counter() - t0)
    return times


def tb_event(step: int, tag: str, value: float) -> bytes:
    """A TFRecord holding an `Event` with one float32 scalar tensor summary (what `tf.summary.scalar` writes)."""
    import struct

    from cifar_doctor.sources.tfevents import masked_crc32c

    def field(number: int, wire: int, payload: bytes) -> bytes:
        return bytes([number << 3 | wire]) + (bytes([len(payload)]) if wire == 2 else b"") + payload

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)

    tensor = bytes([0x08, 0x01]) + field(2, 2, b"") + field(5, 2, struct.pack("<f", value))
    value_msg = field(1, 2, tag.encode()) + field(8, 2, tensor)
    data = field(1, 1, struct.pack("<d", 1.7e9)) + b"\x10" + varint(step) + field(5, 2, field(1, 2, value_msg))
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data))


def tensorboard_run(folder: Path, epochs: int, batches: int = 0) -> Path:
    """A run folder as keras.callbacks.TensorBoard writes it, with `batches` per-batch records in train/."""
    for split in ("train", "validation"):
        (folder / split).mkdir(parents=True)
        with open(folder / split / "events.out.tfevents.1.bench.0.v2", "wb") as f:
            per_epoch = max(1, batches // epochs)
            for e in range(epochs):
                if split == "train":
                    for b in range(per_epoch if batches else 0):
                        f.write(tb_event(e * per_epoch + b, "batch_loss", 2.0 - b / per_epoch))
                metrics = [("epoch_loss", 1.8 / (1 + 0.08 * e)), ("epoch_accuracy", min(0.36 + 0.006 * e, 0.99))]
                if split == "train":
                    metrics.append(("epoch_learning_rate", 1e-3))
                for tag, v in metrics:
                    f.write(tb_event(e, tag, v))
    return folder


BIG_CHILD = r"""
import resource, sys, time
from cifar_doctor.sources.logs import read_history
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
h = read_history(sys.argv[1])
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(h.epochs, dt, before, peak)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--big-mb", type=int, default=200)
    ap.add_argument("--tb-batches", type=int, default=500_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        k2, k3 = d / "keras2-100.log", d / "keras3-100-tty.log"
        k2.write_text(keras2_log(100))
        k3.write_text(keras3_log(100))
        print(f"100-epoch logs: Keras 2 {k2.stat().st_size / 1e3:.0f} kB, Keras 3 tty {k3.stat().st_size / 1e3:.0f} kB")
        for name, p in (("Keras 2", k2), ("Keras 3 verbose=1 tty", k3)):
            cli = time_cli(p, a.runs)
            par = time_parser(p, a.runs)
            print(
                f"{name:24s} check --log end to end: median {statistics.median(cli):.3f} s "
                f"(min {min(cli):.3f}, {a.runs} runs) | parser alone: median {statistics.median(par) * 1e3:.1f} ms"
            )
        tb = tensorboard_run(d / "tb", 100)
        cli, par = time_cli(tb, a.runs), time_parser(tb, a.runs)
        print(
            f"{'TensorBoard run':24s} check --log end to end: median {statistics.median(cli):.3f} s "
            f"(min {min(cli):.3f}, {a.runs} runs) | parser alone: median {statistics.median(par) * 1e3:.1f} ms"
        )
        tbb = tensorboard_run(d / "tb-batches", 100, a.tb_batches)
        size = sum(f.stat().st_size for f in tbb.rglob("events.*")) / 1e6
        out = subprocess.run([sys.executable, "-c", BIG_CHILD, str(tbb)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-800:])
        epochs, dt, before, peak = out.stdout.split()
        print(
            f"TensorBoard run logged per batch: {size:.0f} MB, {a.tb_batches:,} batch records, {epochs} epochs "
            f"read in {float(dt):.1f} s ({a.tb_batches / float(dt) / 1e3:.0f} k records/s); peak RSS "
            f"{int(peak) / 1024:.0f} MB (after imports {int(before) / 1024:.0f} MB)"
        )
        # Python start-up alone, for reference
        t = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"])
            t.append(time.perf_counter() - t0)
        print(f"{'(python -c pass)':24s} median {statistics.median(t):.3f} s")

        big = d / "big.log"
        # a real epoch of 1563 steps redraws its bar hundreds of times: 500 redraws (~90 kB) per epoch
        epoch_text = keras3_tty_epoch(1, 10**6, redraws=500)
        target = a.big_mb * 1_000_000
        with open(big, "w", encoding="utf-8") as f:
            e = 1
            while f.tell() < target:
                f.write(epoch_text.replace("Epoch 1/", f"Epoch {e}/", 1))
                e += 1
        out = subprocess.run([sys.executable, "-c", BIG_CHILD, str(big)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-800:])
        epochs, dt, before, peak = out.stdout.split()
        size = big.stat().st_size / 1e6
        print(
            f"large log: {size:.0f} MB, {epochs} epochs parsed in {float(dt):.1f} s "
            f"({size / float(dt):.0f} MB/s); peak RSS {int(peak) / 1024:.0f} MB "
            f"(after imports {int(before) / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
