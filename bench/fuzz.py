"""Fuzz the input parsers in-process: crashes, timeouts and memory peaks.

For each parser, `--n` inputs are generated from the seed (each from its own
`random.Random(f"{seed}:{parser}:{i}")`, so one input can be replayed with
`--only I`) by mutating real inputs (bit flips, truncation, splices of the
logs in tests/fixtures/logs, numbers and separators swapped for odd ones) or
by building random structure, and handed to the function that reads them:

- `log`: `read_history` on console logs (Keras output, custom loops, garbage);
- `csv`: `read_history` on CSV histories;
- `json`: `read_history` on JSON text, and `history_from_dict` on random objects;
- `npz`: `load_data_path` on an npz in a temporary folder (random arrays,
  forged .npy headers and zip sizes, damaged bytes);
- `keras-config`: `read_model_config` (the checks made before Keras is
  imported) on a `.keras` archive with a mutated config and members;
- `tensorboard`: `read_tensorboard` on a run folder holding a mutated event
  file of tests/fixtures/tensorboard: bytes damaged (checksums then fail), or
  Event payloads damaged and framed again with valid checksums, so that the
  protocol buffer decoder meets them.

An outcome is `ok` (a result), `input-error` (an `InputError`: the input was
refused with a message, as it should be), `crash` (any other exception) or
`timeout` (over `--time-limit` seconds). The run prints counts per parser, the
slowest inputs, the largest memory increases and every crash, and exits 1 on
any crash or timeout.

Usage:

    python bench/fuzz.py [--n 10000] [--seed 0] [--parser log csv ...] [--time-limit 2] [--only I]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cifar_doctor.errors import InputError  # noqa: E402
from cifar_doctor.sources.datasets import load_data_path  # noqa: E402
from cifar_doctor.sources.history import history_from_dict  # noqa: E402
from cifar_doctor.sources.logs import read_history  # noqa: E402
from cifar_doctor.sources.models import read_model_config  # noqa: E402
from cifar_doctor.sources.tensorboard import masked_crc32c, read_tensorboard  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "logs"
PARSERS = ("log", "csv", "json", "npz", "keras-config", "tensorboard")
TB_FIXTURE = ROOT / "tests" / "fixtures" / "tensorboard" / "k3-scale-bug" / "tb"

#: Address space of the fuzzing process: an input that makes a parser allocate by a
#: forged size fails with MemoryError (a crash) instead of exhausting the machine.
ADDRESS_SPACE_BYTES = 6 << 30
#: Inputs listed as the slowest and as the largest memory increases.
SHOWN = 5

NUMBERS = (
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "+0.0",
    "0",
    "1" + "0" * 400,
    "1" + "0" * 5000,
    "9" * 30,
    ".5",
    "5.",
    "1e",
    "0x10",
    "1_000",
    "١٢",
    "",
    "-",
    "1/0",
    "1%",
    "50 %",
)
JUNK = (
    "\x00",
    "\x1b[31m",
    "\x1b]0;title\x07",
    "\r",
    "\b" * 8,
    "\ufeff",
    "\ufffd",
    "\u2028",
    "\t",
    "\xa0",
    '"',
    "'",
    ",",
    ";",
    "{",
    "[",
    "}",
    "]",
    ":",
    "=",
    " - ",
    "Epoch 1/0",
    "Epoch 99999999999999/1",
    "val_",
    "loss:",
    "accuracy:",
    "Train on 5 samples",
    "Traceback (most recent call last):",
    "━━━━",
    "[====>....]",
)
KEYS = (
    "loss",
    "val_loss",
    "accuracy",
    "val_accuracy",
    "acc",
    "val_acc",
    "epoch",
    "lr",
    "history",
    "",
    "Unnamed: 0",
    "step",
    "test_loss",
    "x" * 300,
    "loss\n",
    "val_loss ",
    "\u00e9",
    "1",
    "null",
)
NPZ_KEYS = (
    "x_train",
    "y_train",
    "x_test",
    "y_test",
    "x_val",
    "y_val",
    "X_train",
    "train_images",
    "train_labels",
    "x_tr",
    "y_te",
    "junk",
    "x_train.npy",
    "../x_test",
    "",
)
DTYPES = (
    "|u1",
    "<f4",
    "<f2",
    "<f8",
    "|b1",
    "<i8",
    ">i4",
    "<u2",
    "<c8",
    "<U3",
    "|S2",
    "|O",
    "<M8[s]",
    "|V4",
    "[('a', '<f4')]",
    "<f16",
    "|u1|",
    "float32",
    "",
)


class Timeout(BaseException):
    """Raised by the alarm inside a parser that ran past the time limit (a BaseException, so no `except Exception`
    in the code under test can swallow it)."""


@dataclass
class Tally:
    """Outcomes of one parser."""

    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "input-error": 0, "crash": 0, "timeout": 0})
    slowest: list[tuple[float, int, str]] = field(default_factory=list)
    memory: list[tuple[int, int, str]] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --- mutations ----------------------------------------------------------------------------------
def flip_bits(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randint(0, len(data))]


def splice(rng: random.Random, a: bytes, b: bytes) -> bytes:
    return a[: rng.randint(0, len(a))] + b[rng.randint(0, len(b)) :]


def insert(rng: random.Random, data: bytes, piece: bytes) -> bytes:
    i = rng.randint(0, len(data))
    return data[:i] + piece + data[i:]


def repeat_chunk(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randint(1, 200))
    return data[:j] + data[i:j] * rng.randint(2, 50) + data[j:]


def swap_numbers(rng: random.Random, text: str) -> str:
    import re

    spots = [m.span() for m in re.finditer(r"\d+\.?\d*(?:e[-+]?\d+)?", text)]
    for start, end in rng.sample(spots, min(len(spots), rng.randint(1, 6))) if spots else []:
        text = text[:start] + rng.choice(NUMBERS) + text[end:]
        break  # spans after the first change have moved; one swap per call keeps them right
    return text


def mutate_text(rng: random.Random, text: str, others: list[str]) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(10)
        if op == 9:  # a long run of one token: what makes a backtracking pattern slow
            i = rng.randint(0, len(text))
            token = rng.choice(("1", " ", "%", "-", ":", "1.", "a ", " - ", "loss: 1 ", "\t", "=", "e", "[", "1/"))
            text = text[:i] + token * rng.randint(100, 16_000 // len(token)) + rng.choice(("x", "", "\n")) + text[i:]
        elif op == 0:
            text = swap_numbers(rng, text)
        elif op == 1:
            i = rng.randint(0, len(text))
            text = text[:i] + rng.choice(JUNK) * rng.randint(1, 3) + text[i:]
        elif op == 2:
            lines = text.split("\n")
            rng.shuffle(lines) if rng.random() < 0.2 else None
            if lines:
                k = rng.randrange(len(lines))
                lines.insert(k, lines[rng.randrange(len(lines))])
                if rng.random() < 0.5:
                    del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        elif op == 3:
            text = text.replace("\n", rng.choice(("\r\n", "\r", "\b\b\b", "\n\n", "")))
        elif op == 4:
            other = rng.choice(others)
            text = text[: rng.randint(0, len(text))] + other[rng.randint(0, len(other)) :]
        elif op == 5:
            text = text[: rng.randint(0, len(text))]
        elif op == 6:
            text = text.replace(rng.choice(KEYS) or "loss", rng.choice(KEYS))
        elif op == 7:
            i = rng.randint(0, len(text))
            text = text[:i] + rng.choice(NUMBERS) + text[i:]
        else:
            text = text.upper() if rng.random() < 0.5 else text.lower()
    return text


def encode(rng: random.Random, text: str) -> bytes:
    r = rng.random()
    if r < 0.05:
        return text.encode("utf-16")
    if r < 0.07:
        return text.encode("utf-16-le", "replace")
    if r < 0.09:
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def mutate_bytes(rng: random.Random, data: bytes, others: list[bytes]) -> bytes:
    op = rng.randrange(6)
    if op == 0:
        return flip_bits(rng, data)
    if op == 1:
        return truncate(rng, data)
    if op == 2:
        return splice(rng, data, rng.choice(others))
    if op == 3:
        return insert(rng, data, rng.randbytes(rng.randint(1, 64)))
    if op == 4:
        return repeat_chunk(rng, data)
    return rng.randbytes(rng.randint(0, 4096))


# --- inputs per parser --------------------------------------------------------------------------
def _fixtures(suffix: str) -> list[str]:
    return [p.read_text(encoding="utf-8", errors="replace") for p in sorted(FIXTURES.glob(f"*{suffix}"))]


def custom_loop_log(rng: random.Random) -> str:
    lines = []
    for e in range(1, rng.randint(1, 30)):
        loss, acc = 2.3 / e, min(0.1 * e, 1.0)
        lines.append(
            rng.choice(
                (
                    f"Epoch {e} of 30 took {rng.random():.3f}s\n  training loss:  {loss:.6f}\n  validation accuracy:  {acc * 100:.2f} %",
                    f"Epoch: {e:04d} train_loss= {loss:.5f} val_loss= {loss * 1.1:.5f} val_acc= {acc:.4f}",
                    f"2018-03-23 15:29:33,355:INFO: train loss:{loss:.5f}",
                    f"Iter {e * 100}: Testing Accuracy = {acc:.3f}",
                    f"epoch [{e}]: training loss: {loss:.2f} - acc: {acc:.2f} - val_loss: {loss + 1:.2f}",
                )
            )
        )
    return "\n".join(lines) + "\n"


class LogInputs:
    def __init__(self) -> None:
        self.texts = _fixtures(".txt") or ["Epoch 1/1\n1/1 - loss: 1.0 - val_loss: 2.0\n"]

    def __call__(self, rng: random.Random) -> tuple[Callable[[], Any], str]:
        r = rng.random()
        if r < 0.1:
            data = rng.randbytes(rng.randint(0, 8192))
            how = "random bytes"
        else:
            base = custom_loop_log(rng) if r < 0.3 else rng.choice(self.texts)
            data = encode(rng, mutate_text(rng, base, self.texts))
            if rng.random() < 0.2:
                data = mutate_bytes(rng, data, [t.encode() for t in self.texts[:3]])
            how = "mutated log"
        return (lambda: read_history(io.BytesIO(data))), f"{how}, {len(data)} bytes"


def random_csv(rng: random.Random) -> str:
    cols = rng.sample(KEYS, rng.randint(1, 6))
    delim = rng.choice(",;\t")
    rows = [delim.join(cols)]
    for e in range(rng.randint(0, 50)):
        cells = [
            rng.choice((str(e), f"{rng.random():.4f}", rng.choice(NUMBERS), "NA", "", '"x,y"', '"open'))
            for _ in range(len(cols) + rng.choice((0, 0, 0, -1, 1)))
        ]
        rows.append(delim.join(cells))
    return "\n".join(rows) + rng.choice(("\n", "", "\r\n"))


class CsvInputs:
    def __init__(self) -> None:
        self.texts = _fixtures(".csv") or ["epoch,loss,val_loss\n0,1.0,2.0\n"]

    def __call__(self, rng: random.Random) -> tuple[Callable[[], Any], str]:
        base = random_csv(rng) if rng.random() < 0.5 else rng.choice(self.texts)
        text = mutate_text(rng, base, self.texts) if rng.random() < 0.7 else base
        data = encode(rng, text)
        return (lambda: read_history(io.BytesIO(data))), f"csv, {len(data)} bytes"


def random_json(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 6 or r < 0.3 + 0.12 * depth:  # leaves grow likelier with depth: trees of tens to thousands of nodes
        return rng.choice(
            (
                None,
                True,
                False,
                0,
                -1,
                1.5,
                float("nan"),
                float("inf"),
                10**400,
                "1.0",
                "NA",
                "",
                "x",
                rng.random(),
                rng.randint(-(10**6), 10**6),
            )
        )
    if r < 0.65:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 8))]
    return {rng.choice(KEYS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 8))}


def history_like(rng: random.Random) -> Any:
    n = rng.randint(0, 40)
    d: Any = {
        k: [rng.choice((rng.random(), None, "NA", rng.choice(NUMBERS)[:5] or "0")) for _ in range(n)]
        for k in rng.sample(KEYS, rng.randint(1, 5))
    }
    if rng.random() < 0.2:
        d = {"history": d}
    elif rng.random() < 0.2:
        d = [{k: v[i] for k, v in d.items() if rng.random() < 0.9} for i in range(n)]
    return d


class JsonInputs:
    def __init__(self) -> None:
        self.texts = _fixtures(".json") or ['{"loss": [1.0], "val_loss": [2.0]}']

    def __call__(self, rng: random.Random) -> tuple[Callable[[], Any], str]:
        r = rng.random()
        if r < 0.35:
            obj = random_json(rng) if rng.random() < 0.5 else history_like(rng)
            return (lambda: history_from_dict(obj)), "history_from_dict of a random object"
        if r < 0.45:
            deep = rng.randint(10, 200_000)
            data = b'{"loss": ' + b"[" * deep + b"]" * rng.choice((deep, deep - 1, 0)) + b"}"
        else:
            try:
                base = json.dumps(history_like(rng)) if rng.random() < 0.5 else rng.choice(self.texts)
            except ValueError:
                base = rng.choice(self.texts)
            data = encode(rng, mutate_text(rng, base, self.texts))
        return (lambda: read_history(io.BytesIO(data))), f"json text, {len(data)} bytes"


def npy_bytes(rng: random.Random) -> bytes:
    """A .npy member: a real array, or a header with a random shape and dtype (and some data)."""
    if rng.random() < 0.5:
        shape = tuple(rng.randint(0, 6) for _ in range(rng.randint(0, 5)))
        dtype = rng.choice(("u1", "f4", "f2", "f8", "b1", "i8", "c8", "U3", "O", "V2"))
        try:
            arr = np.zeros(shape, dtype=dtype)
        except (TypeError, ValueError):
            arr = np.zeros(3, np.uint8)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=True)
        return buf.getvalue()
    shape = tuple(rng.choice((0, 1, 3, 32, 10**6, 2**31, 2**63, -1, 10**20)) for _ in range(rng.randint(0, 5)))
    descr = rng.choice(DTYPES)
    text = rng.choice(
        (
            "{'descr': %r, 'fortran_order': %s, 'shape': %r, }" % (descr, rng.choice(("False", "True", "1")), shape),
            "{'descr': %r, 'shape': %r}" % (descr, shape),
            "{'descr': %r, 'fortran_order': False, 'shape': %s, }" % (descr, rng.choice(("(1,", "[3]", "None", "'x'"))),
            "__import__('os')",
        )
    )
    body = (text + " " * rng.randint(0, 80) + "\n").encode("latin1", "replace")
    version = rng.choice((1, 1, 2, 3, 9))
    length = len(body) + rng.choice((0, 0, 0, -1, 5, 70000))
    head = (
        b"\x93NUMPY"
        + bytes([version, 0])
        + (
            length.to_bytes(2 if version == 1 else 4, "little", signed=False)
            if 0 <= length < (1 << 16 if version == 1 else 1 << 32)
            else b"\xff\xff"
        )
    )
    return head + body + rng.randbytes(rng.randint(0, 512))


def plausible_npz(rng: random.Random) -> bytes:
    """Image-like arrays of random numeric dtypes and shapes, labels of random encodings."""
    n, m = rng.randint(1, 12), rng.randint(1, 12)
    shape = rng.choice(((32, 32, 3), (3, 32, 32), (8, 8), (48,), (28, 28, 1)))
    dtype = rng.choice(("u1", "f4", "f2", "f8", "b1", "i8", "i2", "u4"))
    gen = np.random.default_rng(rng.randrange(2**32))
    x = (gen.random((n + m, *shape)) * rng.choice((1, 255, 1e6, -1))).astype(dtype)
    if dtype[0] == "f" and rng.random() < 0.3:
        x.flat[gen.integers(0, x.size, 3)] = rng.choice((np.nan, np.inf, -np.inf))
    k = rng.choice((2, 10, 100))
    y = gen.integers(rng.choice((0, -3)), k, n + m)
    if rng.random() < 0.3:
        y = np.eye(k, dtype="f4")[np.clip(y, 0, k - 1)]
    elif rng.random() < 0.3:
        y = y.reshape(-1, 1).astype(rng.choice(("f4", "u1", "i8")))
    buf = io.BytesIO()
    arrays = {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:]}
    (np.savez if rng.random() < 0.5 else np.savez_compressed)(buf, **arrays)
    return buf.getvalue()


class NpzInputs:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "data.npz"
        rng = np.random.default_rng(0)
        buf = io.BytesIO()
        np.savez(
            buf,
            x_train=rng.integers(0, 256, (20, 32, 32, 3), np.uint8),
            y_train=np.arange(20) % 10,
            x_test=rng.integers(0, 256, (10, 32, 32, 3), np.uint8),
            y_test=np.arange(10) % 10,
        )
        self.valid = buf.getvalue()

    def __call__(self, rng: random.Random) -> tuple[Callable[[], Any], str]:
        r = rng.random()
        if r < 0.3:
            data, how = mutate_bytes(rng, self.valid, [self.valid]), "damaged npz bytes"
        elif r < 0.5:
            data, how = plausible_npz(rng), "plausible npz"
        else:
            buf = io.BytesIO()
            method = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
            with zipfile.ZipFile(buf, "w", method) as zf:
                keys = rng.sample(NPZ_KEYS, rng.randint(0, 7))
                if rng.random() < 0.6:
                    keys = list(dict.fromkeys(["x_train", "y_train", "x_test", "y_test", *keys]))
                for key in keys:
                    name = key if key and (key.endswith(".npy") or rng.random() < 0.1) else key + ".npy"
                    zf.writestr(name, npy_bytes(rng))
            data, how = buf.getvalue(), "npz of random members"
            if rng.random() < 0.15:
                data = flip_bits(rng, data)
        path = self.path

        def run() -> Any:
            path.write_bytes(data)
            return load_data_path(path)

        return run, f"{how}, {len(data)} bytes"


def keras_config() -> dict:
    dense = {
        "module": "keras.layers",
        "class_name": "Dense",
        "registered_name": None,
        "config": {"name": "dense", "units": 10, "activation": "softmax"},
    }
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "sequential",
            "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 32, 32, 3]}},
                {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten"}},
                dense,
            ],
        },
        "compile_config": {"loss": "categorical_crossentropy", "optimizer": "adam"},
    }


def mutate_tree(rng: random.Random, obj: Any, depth: int = 0) -> Any:
    if rng.random() < 0.1 or depth > 8:
        return rng.choice(
            (
                random_json(rng),
                "Lambda",
                {"class_name": "Lambda", "config": rng.choice(([], None, {}))},
                {"class_name": "__lambda__", "config": {"code": "AAAA"}},
                {
                    "module": rng.choice(("my.layers", None, 3, ["keras"])),
                    "class_name": rng.choice(("MyLayer", 7, None, {"a": 1})),
                    "registered_name": rng.choice(("X>Y", None, [1])),
                },
            )
        )
    if isinstance(obj, dict):
        out = {k: mutate_tree(rng, v, depth + 1) for k, v in obj.items() if rng.random() > 0.05}
        if rng.random() < 0.1:
            out[rng.choice(KEYS + ("class_name", "module", "config", "layers"))] = random_json(rng)
        return out
    if isinstance(obj, list):
        return [mutate_tree(rng, v, depth + 1) for v in obj if rng.random() > 0.05]
    return obj


class KerasInputs:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "model.keras"

    def __call__(self, rng: random.Random) -> tuple[Callable[[], Any], str]:
        r = rng.random()
        if r < 0.1:
            depth = rng.randint(100, 100_000)
            config = b'{"class_name": "Sequential", "config": ' + b"[" * depth + b"]" * depth + b"}"
        else:
            config = json.dumps(mutate_tree(rng, keras_config())).encode()
            if rng.random() < 0.2:
                config = mutate_bytes(rng, config, [config])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("metadata.json", b'{"keras_version": "3.5.0"}')
            if rng.random() < 0.95:
                zf.writestr("config.json", config)
            if rng.random() < 0.9:
                zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + rng.randbytes(64))
            for _ in range(rng.choice((0, 0, 0, 1, 2))):
                info = zipfile.ZipInfo(rng.choice(("assets/a", "../escape", "/abs", "a/../../b", "C:\\x", "assets/l")))
                if rng.random() < 0.3:
                    info.external_attr = 0o120777 << 16
                zf.writestr(info, rng.randbytes(rng.randint(0, 100)))
        data = buf.getvalue()
        if rng.random() < 0.15:
            data = mutate_bytes(rng, data, [data])
        path = self.path

        def run() -> Any:
            path.write_bytes(data)
            return read_model_config(path)

        return run, f"keras archive, {len(data)} bytes"


def tfrecord(data: bytes, crc: bool = True) -> bytes:
    """`data` framed as one TFRecord: length, its masked CRC32C, data, the data's masked CRC32C (or a wrong one)."""
    head = struct.pack("<Q", len(data))
    tail = struct.pack("<I", masked_crc32c(data)) if crc else struct.pack("<I", masked_crc32c(data) ^ 1)
    return head + struct.pack("<I", masked_crc32c(head)) + data + tail


def tb_records(data: bytes) -> list[bytes]:
    """The record payloads of a well-formed event file."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[pos : pos + 8])
        out.append(data[pos + 12 : pos + 12 + length])
        pos += 16 + length
    return out


#: Protocol buffer fragments spliced into Event payloads: keys of every wire type, varints of 10+ bytes,
#: lengths past the end, a TensorProto of each numeric dtype with and without a shape.
PROTO_PIECES = (
    b"\x08",
    b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x2a\xff\xff\xff\x0f",
    b"\x0b",
    b"\x0c",
    b"\x0e",
    b"\x0f",
    b"\x80" * 11,
    b"\x42\x06\x08\x13\x6a\x02\x00\x3c",
    b"\x42\x08\x08\x0e\x12\x04\x12\x02\x08\x03",
    b"\x42\x05\x08\x01\x22\x01\x00",
    b"\x42\x04\x08\x09\x50\xff",
    b"\x15\x00\x00\xc0\x7f",
    b"\x0a\x00",
    b"\x2a\x00",
)


class TensorBoardInputs:
    """Event files from the fixture: bytes mutated (checksums broken), or Event payloads mutated and re-framed with
    valid checksums (the protocol buffer decoder meets them), and folders of such files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = {split: next((TB_FIXTURE / split).iterdir()).read_bytes() for split in ("train", "validation")}

    def __call__(self, rng: random.Random) -> tuple[Callable[[], Any], str]:
        split = rng.choice(("train", "validation"))
        data = self.files[split]
        r = rng.random()
        if r < 0.3:
            data, how = mutate_bytes(rng, data, list(self.files.values())), "bytes mutated"
        else:
            records = tb_records(data)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(records))
                payload = records[i]
                op = rng.random()
                if op < 0.4:
                    payload = flip_bits(rng, payload)
                elif op < 0.6:
                    payload = insert(rng, payload, rng.choice(PROTO_PIECES))
                elif op < 0.8:
                    payload = truncate(rng, payload)
                else:
                    payload = rng.randbytes(rng.randint(0, 200))
                records[i] = payload
            data = b"".join(tfrecord(p, crc=rng.random() > 0.05) for p in records)
            if rng.random() < 0.1:
                data = truncate(rng, data)
            how = "payloads mutated, re-framed"
        run_dir = self.folder / "tb"
        target = run_dir / split / "events.out.tfevents.1.fuzz.0.v2"

        def run() -> Any:
            shutil.rmtree(run_dir, ignore_errors=True)
            target.parent.mkdir(parents=True)
            target.write_bytes(data)
            return read_tensorboard(run_dir)

        return run, f"{split} event file, {how}, {len(data)} bytes"


# --- running ------------------------------------------------------------------------------------
def _alarm(signum: int, frame: Any) -> None:
    raise Timeout()


def fuzz(
    parser: str,
    make: Callable[[random.Random], tuple[Callable[[], Any], str]],
    n: int,
    seed: int,
    limit: float,
    only: int | None,
) -> Tally:
    tally = Tally()
    start = time.monotonic()
    indices = [only] if only is not None else range(n)
    for i in indices:
        rng = random.Random(f"{seed}:{parser}:{i}")
        call, how = make(rng)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            call()
            outcome = "ok"
        except InputError:
            outcome = "input-error"
        except Timeout:
            outcome = "timeout"
        except Exception as exc:  # noqa: BLE001 - a crash is what is being looked for
            outcome = "crash"
            where = traceback.extract_tb(exc.__traceback__)[-1]
            tally.crashes.append(
                f"#{i} ({how}): {type(exc).__name__}: {str(exc)[:200]} [{Path(where.filename).name}:{where.lineno}]"
            )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - t0
        if outcome != "crash" and elapsed > limit:
            outcome = "timeout"
        tally.counts[outcome] += 1
        tally.slowest = sorted(tally.slowest + [(elapsed, i, how)], reverse=True)[:SHOWN]
        grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        if grew >= 1024:  # kB: a rise of the process peak by 1 MB or more
            tally.memory = sorted(tally.memory + [(grew, i, how)], reverse=True)[:SHOWN]
    tally.seconds = time.monotonic() - start
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="Inputs per parser (default 10000).")
    ap.add_argument("--seed", type=int, default=0, help="Seed of the inputs (default 0).")
    ap.add_argument(
        "--parser", nargs="+", choices=PARSERS, default=list(PARSERS), help="Parsers to fuzz (default all)."
    )
    ap.add_argument("--time-limit", type=float, default=2.0, help="Seconds allowed per input (default 2).")
    ap.add_argument("--only", type=int, default=None, help="Replay one input index.")
    args = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > ADDRESS_SPACE_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, hard))
    signal.signal(signal.SIGALRM, _alarm)
    warnings.simplefilter("ignore")  # zipfile warns about the duplicate member names made on purpose
    failed = False
    print(
        f"{'parser':<14}{'inputs':>8}{'ok':>8}{'refused':>9}{'crash':>7}{'timeout':>9}{'slowest s':>11}"
        f"{'seconds':>9}{'peak RSS MB':>13}"
    )
    reports = []
    with tempfile.TemporaryDirectory(prefix="cifar-doctor-fuzz-") as tmp:
        makers: dict[str, Callable[[], Callable[[random.Random], Any]]] = {
            "log": LogInputs,
            "csv": CsvInputs,
            "json": JsonInputs,
            "npz": lambda: NpzInputs(Path(tmp)),
            "keras-config": lambda: KerasInputs(Path(tmp)),
            "tensorboard": lambda: TensorBoardInputs(Path(tmp)),
        }
        for parser in args.parser:
            tally = fuzz(parser, makers[parser](), args.n, args.seed, args.time_limit, args.only)
            c = tally.counts
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
            slowest = tally.slowest[0][0] if tally.slowest else 0.0
            print(
                f"{parser:<14}{sum(c.values()):>8}{c['ok']:>8}{c['input-error']:>9}{c['crash']:>7}{c['timeout']:>9}"
                f"{slowest:>11.3f}{tally.seconds:>9.1f}{peak:>13}",
                flush=True,
            )
            reports.append((parser, tally))
            failed = failed or c["crash"] > 0 or c["timeout"] > 0
    for parser, tally in reports:
        print(f"\n{parser}: slowest " + "; ".join(f"#{i} {s:.3f} s ({how})" for s, i, how in tally.slowest))
        if tally.memory:
            print(
                f"{parser}: largest RSS increases "
                + "; ".join(f"#{i} +{kb >> 10} MB ({how})" for kb, i, how in tally.memory)
            )
        for line in tally.crashes[:20]:
            print(f"{parser}: CRASH {line}")
        if len(tally.crashes) > 20:
            print(f"{parser}: ... {len(tally.crashes) - 20} more crashes")
    print(f"\nreplay one input: python bench/fuzz.py --parser PARSER --seed {args.seed} --only I")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
