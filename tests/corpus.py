"""Broken and hostile inputs for every source, generated on demand.

Each generator `make_<name>(folder)` writes its input into the empty `folder`
and returns a `Case`: the `cifar-doctor` arguments, what must happen
(`REFUSE`: exit 2 with one `Error:` line; `VERDICT`: exit 0 or 1 with a
report), and what to feed on standard input. `tests/test_corpus.py` runs every
case through the real command line with bounded memory and time.

Large inputs cost almost nothing to build: sparse files (`truncate`), zip and
tar headers that declare sizes their data does not hold, deflate streams
built from one repeated block, and a gigabyte streamed through a pipe.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Exit 2 and one `Error:` line on stderr.
REFUSE = "refuse"
#: Exit 0 or 1 and a report on stdout: the input is odd but valid.
VERDICT = "verdict"

GiB = 1 << 30
MiB = 1 << 20

LOG_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "logs"


@dataclass(frozen=True)
class Case:
    """One input and what `cifar-doctor` must do with it.

    Args:
        argv: Arguments after `cifar-doctor`.
        expect: `REFUSE` or `VERDICT`. Defaults to `REFUSE`.
        match: A regular expression the error line must contain. Defaults to `""`.
        stdin: Bytes, or a function returning an iterator of byte chunks, fed to
            standard input. Defaults to `None` (empty input).
        stdin_closed: Start the command with file descriptor 0 closed. Defaults to `False`.
        unprivileged: The case relies on file permissions, which root bypasses.
            Defaults to `False`.
    """

    argv: tuple[str, ...]
    expect: str = REFUSE
    match: str = ""
    stdin: bytes | Callable[[], Iterator[bytes]] | None = None
    stdin_closed: bool = False
    unprivileged: bool = False


#: Case name -> generator.
CASES: dict[str, Callable[[Path], Case]] = {}
#: Cases that load TensorFlow (slow to start): marked `tf`.
TF_CASES: set[str] = set()


def case(tf: bool = False) -> Callable[[Callable[[Path], Case]], Callable[[Path], Case]]:
    """Register `make_<name>` as the case `<name>` (underscores read as dashes)."""

    def register(fn: Callable[[Path], Case]) -> Callable[[Path], Case]:
        name = fn.__name__.removeprefix("make_").replace("_", "-")
        CASES[name] = fn
        if tf:
            TF_CASES.add(name)
        return fn

    return register


def data(path: Path, **kw) -> Case:
    return Case(("check", "--data", str(path)), **kw)


def log(path: Path | str, **kw) -> Case:
    return Case(("check", "--log", str(path)), **kw)


def model(path: Path, **kw) -> Case:
    return Case(("check", "--model", str(path)), **kw)


# --- building blocks --------------------------------------------------------------------------
def images(n: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def labels(n: int = 20) -> np.ndarray:
    return (np.arange(n) % 10).astype(np.uint8)


def valid_arrays(n: int = 20) -> dict[str, np.ndarray]:
    return {"x_train": images(n), "y_train": labels(n), "x_test": images(n, seed=1), "y_test": labels(n)}


def savez(path: Path, **arrays: np.ndarray) -> Path:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def npy_header(shape: tuple[int, ...], descr: str = "|u1", version: int = 1) -> bytes:
    """An .npy header (magic, version, length, dict) declaring `shape` and `descr`, as numpy writes it."""
    text = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))
    prefix = 8 + (2 if version == 1 else 4)
    pad = -(prefix + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin1")
    length = struct.pack("<H", len(body)) if version == 1 else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes([version, 0]) + length + body


@dataclass(frozen=True)
class Member:
    """A zip member as stored: its bytes in the archive, the method, and the size and CRC it declares."""

    name: str
    raw: bytes
    size: int
    crc: int = 0
    method: int = zipfile.ZIP_STORED
    mode: int = 0o100644
    stored_size: int | None = None  # the compressed size the headers declare; defaults to len(raw)


def stored(name: str, payload: bytes) -> Member:
    return Member(name, payload, len(payload), zlib.crc32(payload))


def deflated(name: str, payload: bytes) -> Member:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return Member(name, c.compress(payload) + c.flush(), len(payload), zlib.crc32(payload), zipfile.ZIP_DEFLATED)


def deflate_bomb(name: str, prefix: bytes, size: int) -> Member:
    """A deflate stream that inflates to `prefix` and zeros up to `size` bytes (a multiple of 1 MiB).

    One compressed MiB of zeros, ended by a full flush, is a self-contained run of
    blocks: repeated, it inflates to as many MiB at ~1000:1. The CRC is not
    computed (that would mean hashing `size` bytes): a reader must refuse the
    member from its declared size before it reads any data.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(prefix + bytes(MiB - len(prefix))) + c.flush(zlib.Z_FULL_FLUSH)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = z.compress(bytes(MiB)) + z.flush(zlib.Z_FULL_FLUSH)
    raw = first + block * (size // MiB - 1) + b"\x03\x00"  # \x03\x00: an empty final block
    return Member(name, raw, size, 0, zipfile.ZIP_DEFLATED)


def write_zip(path: Path, members: list[Member]) -> Path:
    """Write a zip whose headers declare exactly what `members` say (zip64 sizes when needed)."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        declared = len(m.raw) if m.stored_size is None else m.stored_size
        big = m.size >= 0xFFFFFFFF or declared >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, m.size, declared) if big else b""
        csize, usize = (0xFFFFFFFF, 0xFFFFFFFF) if big else (declared, m.size)
        version = 45 if big else 20
        offset = len(out)
        out += (
            struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, version, 0, m.method, 0, 33, m.crc, csize, usize, len(name), len(extra)
            )
            + name
            + extra
            + m.raw
        )
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | version,
            version,
            0,
            m.method,
            0,
            33,
            m.crc,
            csize,
            usize,
            len(name),
            len(extra),
            0,
            0,
            0,
            m.mode << 16,
            offset,
        )
        central += name + extra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def npz_member(name: str, arr: np.ndarray) -> Member:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return stored(name, buf.getvalue())


def valid_members(skip: tuple[str, ...] = ()) -> list[Member]:
    return [npz_member(f"{k}.npy", v) for k, v in valid_arrays().items() if k not in skip]


def batch_pickle(n: int = 10, protocol: int = 2) -> bytes:
    """An official-looking CIFAR-10 batch: a dict with `data` (n, 3072) uint8 and `labels`."""
    data_ = images(n).transpose(0, 3, 1, 2).reshape(n, 3072)
    return pickle.dumps({b"batch_label": b"test", b"labels": list(range(n)), b"data": data_}, protocol=protocol)


BATCH_NAMES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")


def batches_dir(folder: Path, content: Callable[[str], bytes]) -> Path:
    d = folder / "cifar-10-batches-py"
    d.mkdir()
    for name in BATCH_NAMES:
        (d / name).write_bytes(content(name))
    return d


def tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, payload in members:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    path.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    return path


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def keras_config(layers: list[dict] | None = None) -> dict:
    """A Keras 3 config of Sequential(Input((32, 32, 3)), Flatten, Dense(10, softmax)), or of `layers`."""
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    default = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "registered_name": None,
            "config": {"batch_shape": [None, 32, 32, 3], "dtype": "float32", "sparse": False, "name": "input_layer"},
        },
        {
            "module": "keras.layers",
            "class_name": "Flatten",
            "registered_name": None,
            "config": {"name": "flatten", "trainable": True, "dtype": policy, "data_format": "channels_last"},
        },
        {
            "module": "keras.layers",
            "class_name": "Dense",
            "registered_name": None,
            "config": {
                "name": "dense",
                "trainable": True,
                "dtype": policy,
                "units": 10,
                "activation": "softmax",
                "use_bias": True,
            },
        },
    ]
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": layers or default},
        "compile_config": None,
    }


def keras_weights() -> bytes:
    """`model.weights.h5` for `keras_config()`: the Dense kernel and bias, laid out as Keras 3 saves them."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        dense = f.create_group("layers/dense/vars")
        dense.attrs["name"] = "dense"
        rng = np.random.default_rng(0)
        dense["0"] = rng.normal(0, 0.01, (3072, 10)).astype(np.float32)
        dense["1"] = np.zeros(10, np.float32)
        f.create_group("layers/flatten/vars").attrs["name"] = "flatten"
        f.create_group("vars").attrs["name"] = "sequential"
    return buf.getvalue()


def keras_file(
    path: Path, config: dict | bytes | None = None, weights: bytes | None = None, extra: list[Member] = ()
) -> Path:
    """A `.keras` archive (metadata, config, weights) with the given parts; `None` weights are left out."""
    cfg = config if isinstance(config, bytes) else json.dumps(config or keras_config()).encode()
    members = [
        stored("metadata.json", b'{"keras_version": "3.5.0", "date_saved": "2025-01-01@00:00:00"}'),
        stored("config.json", cfg),
    ]
    if weights is not None:
        members.append(stored("model.weights.h5", weights))
    return write_zip(path, members + list(extra))


def fixture_log(name: str = "k3-overfitting-verbose2.txt") -> bytes:
    return (LOG_FIXTURES / name).read_bytes()


# --- npz and npy ------------------------------------------------------------------------------
@case()
def make_npz_truncated(d: Path) -> Case:
    p = savez(d / "data.npz", **valid_arrays())
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return data(p, match="truncated or corrupt")


@case()
def make_npz_random_bytes(d: Path) -> Case:
    p = d / "data.npz"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    return data(p, match="not an npz")


@case()
def make_npz_wrong_magic(d: Path) -> Case:
    p = d / "data.npz"
    p.write_bytes(b"GIF89a" + bytes(200))
    return data(p, match="not an npz")


@case()
def make_npz_zero_bytes(d: Path) -> Case:
    p = d / "data.npz"
    p.touch()
    return data(p, match="not an npz")


@case()
def make_npz_empty_zip(d: Path) -> Case:
    return data(write_zip(d / "data.npz", []), match="lacks")


@case()
def make_npz_object_array(d: Path) -> Case:
    p = d / "data.npz"
    arrays = valid_arrays()
    arrays["x_train"] = np.array([images(1)[0], "a string"], dtype=object)
    with open(p, "wb") as f:
        np.savez(f, **arrays)
    return data(p, match="pickled object array")


@case()
def make_npz_pickled_member(d: Path) -> Case:
    evil = pickle.dumps({"x": images(2)})
    p = write_zip(d / "data.npz", [stored("x_train.npy", evil)] + valid_members(skip=("x_train",)))
    return data(p, match="not a .npy array")


@case()
def make_npz_member_not_npy(d: Path) -> Case:
    p = write_zip(d / "data.npz", [stored("x_train", b"raw bytes, no npy header")] + valid_members(("x_train",)))
    return data(p, match="not a .npy array")


@case()
def make_npz_structured_dtype(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = np.zeros(20, dtype=[("r", "u1"), ("g", "u1"), ("b", "u1")])
    return data(savez(d / "data.npz", **arrays), match="not numeric")


@case()
def make_npz_string_labels(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["y_train"] = np.array(["cat", "dog"] * 10)
    return data(savez(d / "data.npz", **arrays), match="not numeric")


@case()
def make_npz_complex(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = arrays["x_train"].astype(np.complex64)
    return data(savez(d / "data.npz", **arrays), match="not numeric")


@case()
def make_npz_zero_length(d: Path) -> Case:
    arrays = {k: v[:0] for k, v in valid_arrays().items()}
    return data(savez(d / "data.npz", **arrays), match="no images")


@case()
def make_npz_mismatched_lengths(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["y_train"] = arrays["y_train"][:7]
    return data(savez(d / "data.npz", **arrays), match="different lengths")


@case()
def make_npz_scalar(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = np.float32(1.0)
    return data(savez(d / "data.npz", **arrays), match="scalar")


@case()
def make_npz_nan_inf_images(d: Path) -> Case:
    arrays = valid_arrays()
    x = arrays["x_train"].astype(np.float32) / 255
    x[0, 0, 0, 0], x[1, 1, 1, 1], x[2, 2, 2, 2] = np.nan, np.inf, -np.inf
    arrays["x_train"] = x
    arrays["x_test"] = arrays["x_test"].astype(np.float32) / 255
    return data(savez(d / "data.npz", **arrays), expect=VERDICT)


@case()
def make_npz_nan_labels(d: Path) -> Case:
    arrays = valid_arrays()
    y = arrays["y_train"].astype(np.float32)
    y[3] = np.nan
    arrays["y_train"] = y
    return data(savez(d / "data.npz", **arrays), expect=VERDICT)


@case()
def make_npz_inf_labels(d: Path) -> Case:
    arrays = valid_arrays()
    y = arrays["y_test"].astype(np.float64)
    y[0] = np.inf
    arrays["y_test"] = y
    return data(savez(d / "data.npz", **arrays), expect=VERDICT)


@case()
def make_npz_negative_labels(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.int64) - 5
    return data(savez(d / "data.npz", **arrays), expect=VERDICT)


@case()
def make_npz_1d_images(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = np.arange(20, dtype=np.float32)
    arrays["x_test"] = np.arange(20, dtype=np.float32)
    return data(savez(d / "data.npz", **arrays), match="images")


@case()
def make_npz_5d_images(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = np.zeros((20, 2, 8, 8, 3), np.uint8)
    arrays["x_test"] = np.zeros((20, 2, 8, 8, 3), np.uint8)
    return data(savez(d / "data.npz", **arrays), match="images")


@case()
def make_npz_float16(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = (arrays["x_train"] / 255).astype(np.float16)
    arrays["x_test"] = (arrays["x_test"] / 255).astype(np.float16)
    return data(savez(d / "data.npz", **arrays), expect=VERDICT)


@case()
def make_npz_bool(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["x_train"] = arrays["x_train"] > 127
    arrays["x_test"] = arrays["x_test"] > 127
    return data(savez(d / "data.npz", **arrays), expect=VERDICT)


@case()
def make_npz_zip_bomb(d: Path) -> Case:
    """x_train inflates to 8 GiB of zeros behind a valid header, from 8 MB on disk."""
    shape = (8 * GiB // 3072, 32, 32, 3)
    bomb = deflate_bomb("x_train.npy", npy_header(shape), 8 * GiB)
    return data(write_zip(d / "data.npz", [bomb] + valid_members(("x_train",))), match="GB")


@case()
def make_npz_declared_huge_member(d: Path) -> Case:
    """The central directory says x_train is 10 GiB; the archive holds a few bytes of it."""
    header = npy_header((10 * GiB // 3072, 32, 32, 3))
    member = Member("x_train.npy", header + bytes(64), 10 * GiB + len(header), 0)
    return data(write_zip(d / "data.npz", [member] + valid_members(("x_train",))), match="GB|truncated")


@case()
def make_npz_absurd_npy_shape(d: Path) -> Case:
    """A small member whose .npy header declares 10**15 images."""
    member = stored("x_train.npy", npy_header((10**15, 32, 32, 3)) + bytes(3072))
    return data(write_zip(d / "data.npz", [member] + valid_members(("x_train",))), match="declares")


@case()
def make_npz_shape_past_int64(d: Path) -> Case:
    member = stored("y_train.npy", npy_header((2**62, 2**62), "<f8"))
    return data(write_zip(d / "data.npz", [member] + valid_members(("y_train",))), match="declares")


@case()
def make_npz_negative_shape(d: Path) -> Case:
    member = stored("x_train.npy", npy_header((-20, 32, 32, 3)) + bytes(100))
    return data(write_zip(d / "data.npz", [member] + valid_members(("x_train",))), match="x_train")


@case()
def make_npz_huge_npy_header(d: Path) -> Case:
    """A version 2.0 header of 1 MB (numpy reads at most 10 kB of header)."""
    head = b"\x93NUMPY\x02\x00" + struct.pack("<I", MiB) + b"{" + b" " * (MiB - 2) + b"\n"
    member = stored("x_train.npy", head)
    return data(write_zip(d / "data.npz", [member] + valid_members(("x_train",))), match="x_train")


@case()
def make_npz_truncated_stored_member(d: Path) -> Case:
    """A stored member whose headers declare 6 MB (2,000 images) and whose data stops after 1 kB."""
    full = npz_member("x_train.npy", images(2000))
    short = Member(full.name, full.raw[:1000], full.size, full.crc, stored_size=full.size)
    return data(write_zip(d / "data.npz", valid_members(("x_train",)) + [short]), match="truncated|corrupt")


@case()
def make_npz_bad_crc(d: Path) -> Case:
    good = npz_member("x_train.npy", images())
    bad = Member(good.name, good.raw, good.size, good.crc ^ 0xFFFF)
    return data(write_zip(d / "data.npz", [bad] + valid_members(("x_train",))), match="corrupt")


@case()
def make_npz_huge_label_values(d: Path) -> Case:
    """Labels up to 10**12: a class count taken from the largest label must not size an allocation."""
    arrays = valid_arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.int64) * 10**11
    return data(savez(d / "data.npz", **arrays), match="not a class index")


@case()
def make_npz_huge_float_labels(d: Path) -> Case:
    arrays = valid_arrays()
    arrays["y_test"] = arrays["y_test"].astype(np.float64)
    arrays["y_test"][0] = 1e300
    return data(savez(d / "data.npz", **arrays), match="not a class index")


@case()
def make_npz_many_members(d: Path) -> Case:
    """30,000 empty members: a central directory of 1.5 MB before any array."""
    junk = [stored(f"junk_{i:05d}.npy", b"") for i in range(30_000)]
    return data(write_zip(d / "data.npz", valid_members() + junk), match="directory")


@case()
def make_npy_single_absurd_shape(d: Path) -> Case:
    p = d / "data.npy"
    p.write_bytes(npy_header((10**12, 32, 32, 3)))
    return data(p, match="single .npy")


# --- CIFAR-10 batches and tarballs ------------------------------------------------------------
@case()
def make_batches_random_bytes(d: Path) -> Case:
    return data(
        batches_dir(d, lambda name: np.random.default_rng(len(name)).bytes(5000)),
        match="not an official CIFAR-10 batch",
    )


@case()
def make_batches_wrong_pickle(d: Path) -> Case:
    return data(
        batches_dir(d, lambda name: pickle.dumps([1, 2, 3], protocol=2)), match="not an official CIFAR-10 batch"
    )


@case()
def make_batches_wrong_keys(d: Path) -> Case:
    return data(
        batches_dir(d, lambda name: pickle.dumps({b"images": b"x", b"targets": [1]}, protocol=2)),
        match="not an official CIFAR-10 batch",
    )


class _RunsCode:
    """Unpickling this would run `touch` (the refusal is checked by the folder staying unchanged)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@case()
def make_batches_pickle_runs_code(d: Path) -> Case:
    return data(batches_dir(d, lambda name: pickle.dumps(_RunsCode(d / "pwned"), protocol=2)), match="refused to load")


class _Declared:
    """An uninitialized array of a declared shape: no bytes of it are in the pickle."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, self.shape, b"B"))


@case()
def make_batches_declared_array(d: Path) -> Case:
    """`data` declares 200,000 images (614 MB) without holding them."""
    payload = pickle.dumps({b"data": _Declared((200_000, 3072)), b"labels": _Declared((200_000,))}, protocol=2)
    return data(batches_dir(d, lambda name: payload), match="not an official CIFAR-10 batch")


@case()
def make_batches_huge_sparse_file(d: Path) -> Case:
    folder = batches_dir(d, lambda name: batch_pickle())
    with open(folder / "data_batch_1", "r+b") as f:
        f.truncate(10 * GiB)
    return data(folder, match="GB|MB")


@case()
def make_batches_symlink_loop(d: Path) -> Case:
    folder = batches_dir(d, lambda name: batch_pickle())
    for name in BATCH_NAMES:
        (folder / name).unlink()
        (folder / name).symlink_to(name)
    return data(folder, match="")


@case()
def make_batches_symlink_to_device(d: Path) -> Case:
    folder = batches_dir(d, lambda name: batch_pickle())
    (folder / "test_batch").unlink()
    (folder / "test_batch").symlink_to("/dev/zero")
    return data(folder, match="test_batch")


@case()
def make_tar_path_traversal(d: Path) -> Case:
    members = [(tar_info(f"../../{name}"), batch_pickle()) for name in BATCH_NAMES]
    return data(tar_gz(d / "cifar-10-python.tar.gz", members), match="unsafe")


@case()
def make_tar_absolute_names(d: Path) -> Case:
    members = [(tar_info(f"/tmp/cifar-10-batches-py/{name}"), batch_pickle()) for name in BATCH_NAMES]
    return data(tar_gz(d / "cifar-10-python.tar.gz", members), match="unsafe")


@case()
def make_tar_symlinks(d: Path) -> Case:
    members = [(tar_info(f"cifar-10-batches-py/{name}", tarfile.SYMTYPE, "/etc/passwd"), None) for name in BATCH_NAMES]
    return data(tar_gz(d / "cifar-10-python.tar.gz", members), match="link")


@case()
def make_tar_wrong_pickle(d: Path) -> Case:
    members = [(tar_info(f"cifar-10-batches-py/{name}"), pickle.dumps("not a batch")) for name in BATCH_NAMES]
    return data(tar_gz(d / "cifar-10-python.tar.gz", members), match="not an official CIFAR-10 batch")


@case()
def make_tar_huge_member(d: Path) -> Case:
    """A member header that declares 10 GiB; the archive ends a block later."""
    info = tar_info("cifar-10-batches-py/data_batch_1")
    info.size = 10 * GiB
    raw = info.tobuf(format=tarfile.GNU_FORMAT) + bytes(512)
    p = d / "cifar-10-python.tar.gz"
    p.write_bytes(gzip.compress(raw, mtime=0))
    return data(p, match="GB")


@case()
def make_tar_pax_header_bomb(d: Path) -> Case:
    """A pax extended header that declares 4 GiB of zeros, gzip-compressed to 4 MB."""
    info = tar_info("././@PaxHeader", tarfile.XHDTYPE)
    info.size = 4 * GiB
    head = gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT), mtime=0)
    zeros = gzip.compress(bytes(MiB), mtime=0)  # concatenated gzip members read as one stream
    p = d / "cifar-10-python.tar.gz"
    with open(p, "wb") as f:
        f.write(head)
        for _ in range(4 * 1024):
            f.write(zeros)
    return data(p, match="MB|GB")


@case()
def make_tar_many_members(d: Path) -> Case:
    members = [(tar_info(f"junk/{i}"), b"") for i in range(5000)]
    return data(tar_gz(d / "cifar-10-python.tar.gz", members), match="members|entries")


@case()
def make_tar_truncated(d: Path) -> Case:
    members = [(tar_info(f"cifar-10-batches-py/{name}"), batch_pickle()) for name in BATCH_NAMES]
    p = tar_gz(d / "cifar-10-python.tar.gz", members)
    p.write_bytes(p.read_bytes()[:3000])
    return data(p, match="tar")


@case()
def make_tar_gzip_of_text(d: Path) -> Case:
    p = d / "cifar-10-python.tar.gz"
    p.write_bytes(gzip.compress(b"hello, not a tar archive\n" * 100, mtime=0))
    return data(p, match="tar")


# --- .keras and .h5 ---------------------------------------------------------------------------
@case()
def make_keras_text_file(d: Path) -> Case:
    p = d / "model.keras"
    p.write_text("this is not a model\n")
    return model(p, match="not a .keras file")


@case()
def make_keras_truncated(d: Path) -> Case:
    p = keras_file(d / "model.keras", weights=keras_weights())
    p.write_bytes(p.read_bytes()[:5000])
    return model(p, match="")


@case()
def make_keras_without_config(d: Path) -> Case:
    return model(write_zip(d / "model.keras", [stored("model.weights.h5", keras_weights())]), match="no Keras model")


@case()
def make_keras_config_not_json(d: Path) -> Case:
    return model(keras_file(d / "model.keras", b"{not json", keras_weights()), match="damaged|config")


@case()
def make_keras_config_not_a_dict(d: Path) -> Case:
    return model(keras_file(d / "model.keras", b"[1, 2, 3]", keras_weights()), match="config")


@case()
def make_keras_config_deeply_nested(d: Path) -> Case:
    deep = b'{"class_name": "Sequential", "config": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return model(keras_file(d / "model.keras", deep, keras_weights()), match="config")


@case(tf=True)
def make_keras_custom_class(d: Path) -> Case:
    cfg = keras_config()
    cfg["config"]["layers"][2] = {
        "module": "my_project.layers",
        "class_name": "MyDense",
        "registered_name": "MyProject>MyDense",
        "config": {"name": "dense", "units": 10},
    }
    return model(keras_file(d / "model.keras", cfg, keras_weights()), match="custom objects")


@case(tf=True)
def make_keras_unknown_builtin_class(d: Path) -> Case:
    cfg = keras_config()
    cfg["config"]["layers"][1]["class_name"] = "Flatten9D"
    return model(keras_file(d / "model.keras", cfg, keras_weights()), match="Flatten9D")


@case(tf=True)
def make_keras_from_other_version(d: Path) -> Case:
    """A Dense layer with an argument this Keras does not know, as a newer version would write."""
    cfg = keras_config()
    cfg["config"]["layers"][2]["config"]["units_per_shard"] = 4
    return model(keras_file(d / "model.keras", cfg, keras_weights()), match="Cannot load")


@case(tf=True)
def make_keras_valid(d: Path) -> Case:
    """A valid model built without Keras (config and weights by hand): the control case."""
    return model(keras_file(d / "model.keras", keras_config(), keras_weights()), expect=VERDICT)


@case(tf=True)
def make_keras_h5_dataset_bomb(d: Path) -> Case:
    """The Dense kernel in model.weights.h5 declares 3 GB of float32 and stores none of it."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        dense = f.create_group("layers/dense/vars")
        dense.attrs["name"] = "dense"
        dense.create_dataset("0", shape=(3 * 10**9 // 40, 10), dtype="f4", chunks=(1024, 10), compression="gzip")
        dense["1"] = np.zeros(10, np.float32)
        f.create_group("layers/flatten/vars").attrs["name"] = "flatten"
        f.create_group("vars").attrs["name"] = "sequential"
    return model(keras_file(d / "model.keras", keras_config(), buf.getvalue()), match="Cannot load")


@case(tf=True)
def make_keras_config_huge_layer(d: Path) -> Case:
    """A Dense layer of 2**62 units: a kernel past any memory, asked for while Keras builds the model."""
    cfg = keras_config()
    cfg["config"]["layers"][2]["config"]["units"] = 2**62
    return model(keras_file(d / "model.keras", cfg, keras_weights()), match="")


@case()
def make_keras_lambda(d: Path) -> Case:
    cfg = keras_config()
    cfg["config"]["layers"].insert(
        1,
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "registered_name": None,
            "config": {
                "name": "scale",
                "function": {
                    "class_name": "__lambda__",
                    "config": {
                        "code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARsAUwApAk7p/wAAAKkAKQHaAXhyAQAAAHIBAAAA+gg8c3RkaW4+"
                        "2gg8bGFtYmRhPgEAAABzAgAAAAgA",
                        "defaults": None,
                        "closure": None,
                    },
                },
            },
        },
    )
    return model(keras_file(d / "model.keras", cfg, keras_weights()), match="Lambda")


@case()
def make_keras_weights_missing(d: Path) -> Case:
    return model(keras_file(d / "model.keras", keras_config(), None), match="weights")


@case()
def make_keras_path_traversal(d: Path) -> Case:
    extra = [stored("../../escaped.txt", b"x"), stored("assets/x", b"y")]
    return model(keras_file(d / "model.keras", keras_config(), keras_weights(), extra), match="unsafe")


@case()
def make_keras_absolute_member(d: Path) -> Case:
    extra = [stored("/tmp/escaped.txt", b"x")]
    return model(keras_file(d / "model.keras", keras_config(), keras_weights(), extra), match="unsafe")


@case()
def make_keras_symlink_member(d: Path) -> Case:
    extra = [Member("assets/link", b"/etc/passwd", 11, zlib.crc32(b"/etc/passwd"), mode=0o120777)]
    return model(keras_file(d / "model.keras", keras_config(), keras_weights(), extra), match="link")


@case()
def make_keras_10gb_declared_member(d: Path) -> Case:
    weights = Member("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(1000), 10 * GiB, 0)
    return model(
        write_zip(d / "model.keras", [stored("config.json", json.dumps(keras_config()).encode()), weights]), match="GB"
    )


@case()
def make_keras_config_bomb(d: Path) -> Case:
    """config.json inflates to 2 GiB (a JSON string of zeros... of NUL bytes) from 2 MB."""
    bomb = deflate_bomb("config.json", b'{"a": "', 2 * GiB)
    return model(write_zip(d / "model.keras", [bomb, stored("model.weights.h5", keras_weights())]), match="GB|MB")


@case()
def make_keras_legacy_h5(d: Path) -> Case:
    p = d / "model.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(2000))
    return model(p, match="HDF5")


@case()
def make_keras_wrong_suffix(d: Path) -> Case:
    return model(keras_file(d / "model.zip", keras_config(), keras_weights()), match=".keras")


@case()
def make_keras_npz_given_as_model(d: Path) -> Case:
    return model(savez(d / "model.keras", **valid_arrays()), match="as data")


@case()
def make_keras_directory(d: Path) -> Case:
    (d / "model.keras").mkdir()
    return model(d / "model.keras", match="folder")


@case()
def make_keras_fifo(d: Path) -> Case:
    os.mkfifo(d / "model.keras")
    return model(d / "model.keras", match="regular file|not a file")


@case()
def make_keras_unreadable(d: Path) -> Case:
    p = keras_file(d / "model.keras", keras_config(), keras_weights())
    p.chmod(0)
    return model(p, match="[Pp]ermission|not readable", unprivileged=True)


# --- logs -------------------------------------------------------------------------------------
@case()
def make_log_binary_garbage(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(np.random.default_rng(0).bytes(50_000))
    return log(p, match="binary")


@case()
def make_log_nul_bytes(d: Path) -> Case:
    p = d / "train.log"
    text = fixture_log()
    p.write_bytes(text[:500] + b"\x00" * 64 + text[500:])
    return log(p, match="NUL")


@case()
def make_log_invalid_utf8(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(b"caf\xe9 \xff\xfe warning: \xc3\x28 bad bytes\n" + fixture_log())
    return log(p, expect=VERDICT)


@case()
def make_log_utf16_bom(d: Path) -> Case:
    """What Windows PowerShell 5 writes for `python train.py > train.log`."""
    p = d / "train.log"
    p.write_bytes(fixture_log().decode("utf-8").encode("utf-16"))
    return log(p, expect=VERDICT)


@case()
def make_log_utf16_without_bom(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(fixture_log().decode("utf-8").encode("utf-16-le"))
    return log(p, match="UTF-16")


@case()
def make_log_crlf(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(fixture_log().replace(b"\n", b"\r\n"))
    return log(p, expect=VERDICT)


@case()
def make_log_one_gigabyte_line(d: Path) -> Case:
    """1 GiB without a line break, streamed through standard input."""

    def chunks() -> Iterator[bytes]:
        yield b"Epoch 1/1\n"
        block = b" - loss: 0.5" * (MiB // 12)
        for _ in range(GiB // len(block)):
            yield block

    return Case(("check", "--log", "-"), stdin=chunks, match="No complete training epoch")


@case()
def make_log_ten_million_empty_lines(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(b"\n" * 10_000_000)
    return log(p, match="empty")


@case()
def make_log_empty_lines_then_a_log(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(b"\n" * 3_000_000 + fixture_log())
    return log(p, expect=VERDICT)


@case()
def make_log_odd_numbers(d: Path) -> Case:
    p = d / "train.log"
    lines = [
        "Epoch 1/4",
        "16/16 - 1s - loss: nan - accuracy: 0.1 - val_loss: inf - val_accuracy: -0",
        "Epoch 2/4",
        "16/16 - 1s - loss: 1e400 - accuracy: -0.0 - val_loss: -inf - val_accuracy: 0.1",
        "Epoch 3/4",
        "16/16 - 1s - loss: 1e-400 - accuracy: 1" + "0" * 5000 + " - val_loss: NaN - val_accuracy: 1",
        "Epoch 4/4",
        "16/16 - 1s - loss: -0 - accuracy: +0.5 - val_loss: 2.3 - val_accuracy: Infinity",
    ]
    p.write_text("\n".join(lines) + "\n")
    return log(p, expect=VERDICT)


@case()
def make_log_backtracking_lines(d: Path) -> Case:
    """Lines of 16 kB (the longest read) built to make number and pair patterns backtrack."""
    p = d / "train.log"
    lines = [
        "Epoch 1/1",
        " - loss: " + "1" * 16_000 + "x",
        "loss: 1 %" + " " * 16_000 + "x",
        "a: " + "1" * 16_000 + "x - loss: 1",
        "[" + "1" * 16_000 + ", 1x",
        "loss = 1 % ; " * 1_200 + "x",
    ]
    p.write_text("\n".join(lines * 20) + "\n")
    return log(p, expect=VERDICT)


@case()
def make_log_cut_mid_line(d: Path) -> Case:
    p = d / "train.log"
    text = fixture_log()
    p.write_bytes(text[: text.index(b"Epoch 9/20") + 40])
    return log(p, expect=VERDICT)


@case()
def make_log_empty_file(d: Path) -> Case:
    p = d / "train.log"
    p.touch()
    return log(p, match="empty")


@case()
def make_log_stdin_empty(d: Path) -> Case:
    return Case(("check", "--log", "-"), stdin=b"", match="empty")


@case()
def make_log_stdin_closed(d: Path) -> Case:
    return Case(("check", "--log", "-"), stdin_closed=True, match="standard input")


@case()
def make_log_directory(d: Path) -> Case:
    return log(d, match="No TensorBoard event files")


@case()
def make_log_unreadable(d: Path) -> Case:
    p = d / "train.log"
    p.write_bytes(fixture_log())
    p.chmod(0)
    return log(p, match="[Pp]ermission|not readable", unprivileged=True)


@case()
def make_log_read_error(d: Path) -> Case:
    """A file that opens but fails to read (EIO), as on a failing disk or a network mount."""
    return log("/proc/self/mem", match="Cannot read the log")


# --- CSV and JSON histories -------------------------------------------------------------------
@case()
def make_csv_missing_columns(d: Path) -> Case:
    p = d / "history.csv"
    p.write_text("epoch,loss\n0,2.1\n1,1.9\n2,1.7\n")
    return log(p, expect=VERDICT)


@case()
def make_csv_ragged_rows(d: Path) -> Case:
    p = d / "history.csv"
    p.write_text("epoch,loss,val_loss\n0,2.1,2.2\n1,1.9\n2,1.7,1.8,9,9\n3,1.5,1.6\n")
    return log(p, match="fields")


@case()
def make_csv_strings_for_numbers(d: Path) -> Case:
    p = d / "history.csv"
    p.write_text("epoch,loss,val_loss\n0,2.1,two\n1,1.9,1.8\n")
    return log(p, match="non-number")


@case()
def make_csv_unterminated_quote(d: Path) -> Case:
    """An open quote swallows the rest of the file into one field larger than the csv module allows."""
    p = d / "history.csv"
    p.write_text('epoch,loss,val_loss\n0,2.1,"2.2\n' + "1,1.9,1.8\n" * 30_000)
    return log(p, match="CSV")


@case()
def make_csv_header_only(d: Path) -> Case:
    p = d / "history.csv"
    p.write_text("epoch,loss,val_loss,accuracy,val_accuracy\n")
    return log(p, match="No complete training epoch")


@case()
def make_json_nested_values(d: Path) -> Case:
    p = d / "history.json"
    p.write_text(json.dumps({"loss": [[1.0, 2.0], [3.0]], "val_loss": {"a": 1}}))
    return log(p, match="non-number|not a list")


@case()
def make_json_deeply_nested(d: Path) -> Case:
    p = d / "history.json"
    p.write_text('{"loss": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return log(p, match="History JSON")


@case()
def make_json_100k_keys(d: Path) -> Case:
    p = d / "history.json"
    h = {f"metric_{i}": [0.5, 0.4] for i in range(100_000)}
    h.update(loss=[1.0, 0.9], val_loss=[1.1, 1.2], accuracy=[0.5, 0.6], val_accuracy=[0.4, 0.45])
    p.write_text(json.dumps(h))
    return log(p, expect=VERDICT)


@case()
def make_json_rows_with_distinct_keys(d: Path) -> Case:
    """A list of 50,000 per-epoch dicts, each with a key of its own: a 50,000 x 50,000 table."""
    p = d / "history.json"
    p.write_text(json.dumps([{"loss": 1.0, f"m{i}": 0.5} for i in range(50_000)]))
    return log(p, match="values|metrics")


@case()
def make_json_huge_integer(d: Path) -> Case:
    p = d / "history.json"
    p.write_text('{"loss": [1' + "0" * 5000 + ", 2]}")
    return log(p, match="History JSON")


@case()
def make_json_integer_past_float(d: Path) -> Case:
    p = d / "history.json"
    p.write_text('{"loss": [1' + "0" * 400 + ', 2], "val_loss": [1, 2]}')
    return log(p, match="non-number")


@case()
def make_csv_three_million_rows(d: Path) -> Case:
    p = d / "history.csv"
    p.write_text("loss,val_loss\n" + "0.5,0.6\n" * 3_000_000)
    return log(p, match="too many values")


@case()
def make_json_strings_for_numbers(d: Path) -> Case:
    p = d / "history.json"
    p.write_text(json.dumps({"loss": [1.0, "one"], "val_loss": [1.0, 2.0]}))
    return log(p, match="non-number")


@case()
def make_json_truncated(d: Path) -> Case:
    p = d / "history.json"
    p.write_bytes(fixture_log("k3-overfitting.json")[:200])
    return log(p, match="History JSON")


@case()
def make_json_too_large(d: Path) -> Case:
    """A 70 MB JSON history (the reader stops at 64 MB)."""
    p = d / "history.json"
    with open(p, "w") as f:
        f.write('{"loss": [')
        f.write("0.5, " * 14_000_000)
        f.write("0.5]}")
    return log(p, match="too large")


# --- TensorBoard event files -----------------------------------------------------------------
TB_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tensorboard" / "k3-scale-bug" / "tb"


def tb_events(split: str = "train") -> bytes:
    """The bytes of a real Keras 3 event file (graph summary, then 3 epochs of scalars)."""
    return next((TB_FIXTURE / split).iterdir()).read_bytes()


def tfrecord_header(length: int) -> bytes:
    """A TFRecord length field and its valid masked CRC32C: a header that declares `length` bytes."""
    from cifar_doctor.sources.tfevents import masked_crc32c

    head = struct.pack("<Q", length)
    return head + struct.pack("<I", masked_crc32c(head))


def tb_file(d: Path, content: bytes, name: str = "events.out.tfevents.1700000000.host.1.0.v2") -> Path:
    p = d / name
    p.write_bytes(content)
    return p


@case()
def make_tb_truncated_first_record(d: Path) -> Case:
    return log(tb_file(d, tb_events()[:40]), match="ends inside its first record")


@case()
def make_tb_cut_last_record(d: Path) -> Case:
    """A run still writing: the last record is half there. Read, the record dropped."""
    return log(tb_file(d, tb_events()[:-20]), expect=VERDICT)


@case()
def make_tb_bad_data_crc(d: Path) -> Case:
    b = bytearray(tb_events())
    b[-8] ^= 0x40  # inside the last scalar's value
    return log(tb_file(d, bytes(b)), match="checksum of its data")


@case()
def make_tb_bad_length_crc(d: Path) -> Case:
    b = bytearray(tb_events())
    b[0] ^= 0x01
    return log(tb_file(d, bytes(b)), match="not a TensorBoard event file")


@case()
def make_tb_random_bytes(d: Path) -> Case:
    return log(tb_file(d, np.random.default_rng(0).bytes(100_000)), match="not a TensorBoard event file")


@case()
def make_tb_empty_file(d: Path) -> Case:
    return log(tb_file(d, b""), match="No per-epoch scalars")


@case()
def make_tb_declared_exabyte_record(d: Path) -> Case:
    return log(tb_file(d, tfrecord_header(1 << 60) + bytes(64)), match="declares")


@case()
def make_tb_declared_record_past_end(d: Path) -> Case:
    """100 MiB declared (within the file bound), 64 bytes there: nothing is allocated by the header."""
    return log(tb_file(d, tfrecord_header(100 << 20) + bytes(64)), match="ends inside its first record")


@case()
def make_tb_huge_record_between_scalars(d: Path) -> Case:
    """A 64 MiB record (a graph) between valid records: stepped over, unread."""
    big = tfrecord_header(64 << 20) + bytes(64 << 20) + bytes(4)
    return log(tb_file(d, tb_events()[:3729] + big + tb_events()[3729:]), expect=VERDICT)


@case()
def make_tb_sparse_oversize_file(d: Path) -> Case:
    p = tb_file(d, tb_events())
    os.truncate(p, 300 << 20)  # sparse: costs nothing on disk
    return log(p, match="too large")


@case()
def make_tb_valid_crc_garbage(d: Path) -> Case:
    """Bytes that are no Event, framed with valid checksums."""
    from cifar_doctor.sources.tfevents import masked_crc32c

    data = b"\x0f\xff\xff\xff"
    return log(
        tb_file(d, tfrecord_header(len(data)) + data + struct.pack("<I", masked_crc32c(data))),
        match="not an Event message",
    )


@case()
def make_tb_folder_without_event_files(d: Path) -> Case:
    (d / "logs" / "train").mkdir(parents=True)
    (d / "logs" / "train" / "notes.txt").write_text("nothing here\n")
    return log(d / "logs", match="No TensorBoard event files")


@case()
def make_tb_folder_of_several_runs(d: Path) -> Case:
    for run in ("run-a", "run-b", "run-c"):
        for split in ("train", "validation"):
            (d / "logs" / run / split).mkdir(parents=True)
            tb_file(d / "logs" / run / split, tb_events(split))
    return log(d / "logs", match="3 TensorBoard runs: run-a, run-b, run-c")


@case()
def make_tb_folder_symlink_loop(d: Path) -> Case:
    (d / "logs" / "train").mkdir(parents=True)
    (d / "logs" / "train" / "self").symlink_to("..")
    return log(d / "logs", match="No TensorBoard event files")


@case()
def make_tb_folder_30000_entries(d: Path) -> Case:
    (d / "logs").mkdir()
    for i in range(30_000):
        (d / "logs" / f"f{i}").touch()
    return log(d / "logs", match="too many entries")


@case()
def make_tb_events_on_stdin(d: Path) -> Case:
    return Case(("check", "--log", "-"), expect=VERDICT, stdin=tb_events("validation"))


# --- folders ----------------------------------------------------------------------------------
@case()
def make_folder_empty(d: Path) -> Case:
    (d / "images").mkdir()
    return data(d / "images", match="holds no image data")


@case()
def make_folder_of_class_images(d: Path) -> Case:
    for cls in ("cat", "dog"):
        (d / "images" / cls).mkdir(parents=True)
        for i in range(3):
            (d / "images" / cls / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return data(d / "images", match="holds no image data")


@case()
def make_folder_zero_byte_images(d: Path) -> Case:
    (d / "images").mkdir()
    for i in range(5):
        (d / "images" / f"{i}.png").touch()
    return data(d / "images", match="holds no image data")


@case()
def make_folder_unreadable_files(d: Path) -> Case:
    (d / "images").mkdir()
    for i in range(3):
        f = d / "images" / f"{i}.jpg"
        f.write_bytes(b"\xff\xd8\xff" + bytes(50))
        f.chmod(0)
    return data(d / "images", match="holds no image data", unprivileged=True)


@case()
def make_folder_symlink_loops(d: Path) -> Case:
    (d / "images").mkdir()
    (d / "images" / "self").symlink_to(".")
    (d / "images" / "a").symlink_to("b")
    (d / "images" / "b").symlink_to("a")
    return data(d / "images", match="holds no image data")


@case()
def make_folder_unreadable(d: Path) -> Case:
    (d / "images").mkdir()
    (d / "images" / "x.png").touch()
    (d / "images").chmod(0)
    return data(d / "images", match="[Pp]ermission|not readable", unprivileged=True)


@case()
def make_folder_file_where_folder_expected(d: Path) -> Case:
    (d / "data").mkdir()
    (d / "data" / "cifar-10-batches-py").write_text("I should be a folder\n")
    return data(d / "data", match="holds no image data")


@case()
def make_data_symlink_loop(d: Path) -> Case:
    (d / "data.npz").symlink_to("data.npz")
    return data(d / "data.npz", match="link")


@case()
def make_data_fifo(d: Path) -> Case:
    os.mkfifo(d / "data.npz")
    return data(d / "data.npz", match="regular file|not a file")


@case()
def make_data_unreadable(d: Path) -> Case:
    p = savez(d / "data.npz", **valid_arrays())
    p.chmod(0)
    return data(p, match="[Pp]ermission|not readable", unprivileged=True)


@case()
def make_data_directory_named_npz(d: Path) -> Case:
    (d / "data.npz").mkdir()
    return data(d / "data.npz", match="holds no image data")


@case()
def make_data_missing(d: Path) -> Case:
    return data(d / "nope.npz", match="does not exist")


# --- --save ---------------------------------------------------------------------------------
@case()
def make_save_into_a_file(d: Path) -> Case:
    (d / "results").write_text("my notes\n")
    return Case(("compare", "original", "--epochs", "1", "--limit", "20", "--save", str(d / "results")), match="--save")


@case()
def make_save_into_a_non_empty_folder(d: Path) -> Case:
    (d / "results").mkdir()
    (d / "results" / "notes.txt").write_text("my notes\n")
    return Case(("compare", "original", "--epochs", "1", "--limit", "20", "--save", str(d / "results")), match="--save")


# --- pipes, sockets and devices as inputs ---------------------------------------------------
def unix_socket(path: Path) -> Path:
    """A Unix socket file at `path` (bound, then closed: the file stays)."""
    import socket

    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
    finally:
        s.close()
    return path


def png_bytes(width: int, height: int, row: bytes | None = None) -> bytes:
    """An RGB PNG whose every row is `row` (black by default): one deflate stream of repeated rows."""

    def chunk(tag: bytes, data_: bytes) -> bytes:
        return struct.pack(">I", len(data_)) + tag + data_ + struct.pack(">I", zlib.crc32(tag + data_))

    row = b"\x00" + (row if row is not None else bytes(width * 3))
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def small_png(seed: int) -> bytes:
    """A 32x32 PNG of random pixels (rows differ, so images are not duplicates of each other)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 256, size=(32, 32 * 3), dtype=np.uint8)
    raw = b"".join(b"\x00" + r.tobytes() for r in rows)

    def chunk(tag: bytes, data_: bytes) -> bytes:
        return struct.pack(">I", len(data_)) + tag + data_ + struct.pack(">I", zlib.crc32(tag + data_))

    ihdr = struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_root(d: Path, per_class: int = 4, classes: tuple[str, ...] = ("cat", "dog")) -> Path:
    """`images/train` and `images/test`, each with class folders of small PNGs."""
    root = d / "images"
    seed = 0
    for split in ("train", "test"):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                seed += 1
                (root / split / cls / f"{i}.png").write_bytes(small_png(seed))
    return root


def npy_folder(d: Path) -> Path:
    root = d / "arrays"
    root.mkdir()
    for key, arr in valid_arrays().items():
        np.save(root / f"{key}.npy", arr)
    return root


def log_file(d: Path) -> Path:
    p = d / "train.log"
    p.write_bytes(fixture_log())
    return p


def folder_json(path: Path, **kw) -> Case:
    """`check --data DIR --json`: the JSON report (text rendering of input names is another matter)."""
    return Case(("check", "--data", str(path), "--json"), **kw)


@case()
def make_log_fifo(d: Path) -> Case:
    os.mkfifo(d / "train.log")
    return log(d / "train.log", match="named pipe")


@case()
def make_log_socket(d: Path) -> Case:
    return log(unix_socket(d / "train.log"), match="socket")


@case()
def make_log_dev_zero(d: Path) -> Case:
    """An endless stream of NUL bytes: refused before it is read."""
    return log("/dev/zero", match="character device")


@case()
def make_log_dev_null(d: Path) -> Case:
    """Standard input is /dev/null in the test: read as standard input, which is empty."""
    return log("/dev/null", match="empty|character device")


@case()
def make_log_fifo_named_json(d: Path) -> Case:
    os.mkfifo(d / "history.json")
    return log(d / "history.json", match="named pipe")


@case()
def make_log_fifo_named_csv(d: Path) -> Case:
    os.mkfifo(d / "history.csv")
    return log(d / "history.csv", match="named pipe")


@case()
def make_log_fifo_named_event_file(d: Path) -> Case:
    os.mkfifo(d / "events.out.tfevents.1700000000.host.1.0.v2")
    return log(d / "events.out.tfevents.1700000000.host.1.0.v2", match="regular file")


@case()
def make_log_dev_stdin(d: Path) -> Case:
    """`--log /dev/stdin` is standard input by another name: read, as `--log -` is."""
    return Case(("check", "--log", "/dev/stdin"), expect=VERDICT, stdin=fixture_log())


@case()
def make_data_socket(d: Path) -> Case:
    return data(unix_socket(d / "data.npz"), match="regular file")


@case()
def make_data_dev_zero(d: Path) -> Case:
    return data(Path("/dev/zero"), match="regular file")


@case()
def make_model_socket(d: Path) -> Case:
    return model(unix_socket(d / "model.keras"), match="regular file")


@case()
def make_model_dev_zero(d: Path) -> Case:
    return model(Path("/dev/zero"), match="regular file")


# --- pipes and sockets inside input folders ----------------------------------------------------
@case()
def make_folder_fifo_as_image(d: Path) -> Case:
    """A named pipe called x.png in a class folder: listed as unreadable, never opened for reading."""
    root = image_root(d)
    os.mkfifo(root / "train" / "cat" / "x.png")
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_socket_as_image(d: Path) -> Case:
    root = image_root(d)
    unix_socket(root / "train" / "dog" / "x.png")
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_fifo_in_eval_split(d: Path) -> Case:
    root = image_root(d)
    os.mkfifo(root / "test" / "cat" / "zz.jpg")
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_fifo_as_class_folder(d: Path) -> Case:
    root = image_root(d)
    os.mkfifo(root / "train" / "bird")
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_pair_fifo_as_image(d: Path) -> Case:
    root = image_root(d)
    os.mkfifo(root / "train" / "cat" / "y.png")
    return Case(("check", "--train", str(root / "train"), "--eval", str(root / "test"), "--json"), expect=VERDICT)


@case()
def make_folder_only_fifos(d: Path) -> Case:
    for split in ("train", "test"):
        (d / "images" / split / "cat").mkdir(parents=True)
        for i in range(3):
            os.mkfifo(d / "images" / split / "cat" / f"{i}.png")
    return data(d / "images", match="could be decoded")


@case()
def make_npy_folder_fifo_x_train(d: Path) -> Case:
    root = npy_folder(d)
    (root / "x_train.npy").unlink()
    os.mkfifo(root / "x_train.npy")
    return data(root, match="named pipe")


@case()
def make_npy_folder_fifo_y_test(d: Path) -> Case:
    root = npy_folder(d)
    (root / "y_test.npy").unlink()
    os.mkfifo(root / "y_test.npy")
    return data(root, match="named pipe")


@case()
def make_npy_folder_socket_x_test(d: Path) -> Case:
    root = npy_folder(d)
    (root / "x_test.npy").unlink()
    unix_socket(root / "x_test.npy")
    return data(root, match="socket")


@case()
def make_batches_fifo_as_batch(d: Path) -> Case:
    root = batches_dir(d, lambda name: batch_pickle())
    (root / "data_batch_3").unlink()
    os.mkfifo(root / "data_batch_3")
    return data(root, expect=VERDICT)


@case()
def make_data_folder_fifo_named_cifar10_npz(d: Path) -> Case:
    (d / "data").mkdir()
    os.mkfifo(d / "data" / "cifar10.npz")
    return data(d / "data", match="holds no image data")


@case()
def make_tb_folder_fifo_beside_event_file(d: Path) -> Case:
    (d / "logs" / "train").mkdir(parents=True)
    tb_file(d / "logs" / "train", tb_events())
    os.mkfifo(d / "logs" / "train" / "events.out.tfevents.1700000001.host.2.0.v2")
    return log(d / "logs", expect=VERDICT)


@case()
def make_tb_folder_only_fifo(d: Path) -> Case:
    (d / "logs" / "train").mkdir(parents=True)
    os.mkfifo(d / "logs" / "train" / "events.out.tfevents.1700000000.host.1.0.v2")
    return log(d / "logs", match="No TensorBoard event files.*a named pipe, not a regular file")


# --- --output on devices, pipes, sockets and the command's own inputs -------------------------
def report_to(d: Path, target: Path | str, *inputs: str) -> Case:
    argv = ("check", *(inputs or ("--log", str(log_file(d)))), "-o", str(target))
    return Case(argv, match="--output")


@case()
def make_output_dev_null(d: Path) -> Case:
    return report_to(d, "/dev/null")


@case()
def make_output_dev_full(d: Path) -> Case:
    return report_to(d, "/dev/full")


@case()
def make_output_fifo(d: Path) -> Case:
    os.mkfifo(d / "report.txt")
    return report_to(d, d / "report.txt")


@case()
def make_output_socket(d: Path) -> Case:
    return report_to(d, unix_socket(d / "report.txt"))


@case()
def make_output_folder(d: Path) -> Case:
    (d / "reports").mkdir()
    return report_to(d, d / "reports")


@case()
def make_output_symlink_to_dev_null(d: Path) -> Case:
    (d / "report.txt").symlink_to("/dev/null")
    return report_to(d, d / "report.txt")


@case()
def make_output_is_the_log(d: Path) -> Case:
    p = log_file(d)
    return report_to(d, p, "--log", str(p))


@case()
def make_output_hard_link_to_the_log(d: Path) -> Case:
    p = log_file(d)
    os.link(p, d / "report.txt")
    return report_to(d, d / "report.txt", "--log", str(p))


@case()
def make_output_symlink_to_the_model(d: Path) -> Case:
    p = keras_file(d / "model.keras", keras_config(), keras_weights())
    (d / "report.txt").symlink_to(p)
    return report_to(d, d / "report.txt", "--model", str(p))


@case()
def make_output_is_npy_folder_member(d: Path) -> Case:
    root = npy_folder(d)
    return report_to(d, root / "x_train.npy", "--data", str(root))


@case()
def make_output_symlink_to_npy_folder_member(d: Path) -> Case:
    root = npy_folder(d)
    (d / "report.md").symlink_to(root / "y_train.npy")
    return report_to(d, d / "report.md", "--data", str(root))


@case()
def make_output_is_image_in_data_folder(d: Path) -> Case:
    root = image_root(d)
    return report_to(d, root / "train" / "cat" / "0.png", "--data", str(root))


@case()
def make_output_is_image_in_train_folder(d: Path) -> Case:
    root = image_root(d)
    return report_to(d, root / "train" / "dog" / "1.png", "--train", str(root / "train"), "--eval", str(root / "test"))


@case()
def make_output_is_image_in_eval_folder(d: Path) -> Case:
    root = image_root(d)
    return report_to(d, root / "test" / "cat" / "2.png", "--train", str(root / "train"), "--eval", str(root / "test"))


@case()
def make_output_hard_link_to_an_image(d: Path) -> Case:
    """A hard link elsewhere to an image the command reads: the same file by device and inode."""
    root = image_root(d)
    os.link(root / "train" / "cat" / "0.png", d / "report.html")
    return report_to(d, d / "report.html", "--data", str(root))


@case()
def make_output_is_event_file(d: Path) -> Case:
    (d / "logs" / "train").mkdir(parents=True)
    p = tb_file(d / "logs" / "train", tb_events())
    return report_to(d, p, "--log", str(d / "logs"))


@case()
def make_output_is_batch_file(d: Path) -> Case:
    root = batches_dir(d, lambda name: batch_pickle())
    return report_to(d, root / "test_batch", "--data", str(root))


# --- work bombs: small on disk, costly to read ---------------------------------------------------
@case()
def make_folder_pixel_bomb(d: Path) -> Case:
    """Four 7000x7000 PNGs (49 megapixels, ~150 kB each: one file, hard-linked): 590 MB decoded as RGB."""
    root = image_root(d, per_class=2)
    big = root / "train" / "cat" / "big0.png"
    big.write_bytes(png_bytes(7000, 7000))
    for i in range(1, 4):
        os.link(big, root / "train" / "cat" / f"big{i}.png")
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_pixel_bomb_in_both_splits(d: Path) -> Case:
    root = image_root(d, per_class=2)
    big = root / "train" / "dog" / "big.png"
    big.write_bytes(png_bytes(6000, 6000))
    os.link(big, root / "test" / "dog" / "big.png")
    os.link(big, root / "test" / "cat" / "big.png")
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_png_declares_49_megapixels_holds_none(d: Path) -> Case:
    """A PNG header of 7000x7000 with a few bytes of image data: refused when decoded, listed."""
    root = image_root(d)
    (root / "train" / "cat" / "liar.png").write_bytes(png_bytes(7000, 7000)[:200])
    return folder_json(root, expect=VERDICT)


@case()
def make_folder_png_above_pixel_limit(d: Path) -> Case:
    root = image_root(d)
    (root / "train" / "cat" / "huge.png").write_bytes(png_bytes(8000, 8000)[:300])
    return folder_json(root, expect=VERDICT)


def epoch_lines(epochs: int, headers: bool = True) -> bytes:
    line = " - 0s - loss: 0.5000 - acc: 0.8000 - val_loss: 0.6000 - val_acc: 0.7000\n"
    if not headers:
        return (line[3:] * epochs).encode()
    return "".join(f"Epoch {i}/{epochs}\n{line}" for i in range(1, epochs + 1)).encode()


@case()
def make_log_300k_epochs(d: Path) -> Case:
    """A console log of 300,000 epochs (28 MB): read in bounded memory, thinned to the kept maximum."""
    p = d / "train.log"
    p.write_bytes(epoch_lines(300_000))
    return log(p, expect=VERDICT)


@case()
def make_log_150k_epochs_without_headers(d: Path) -> Case:
    """Lines with `val_` metrics and no `Epoch k/n` headers: each is an epoch, parsed (no header to skip by)."""
    p = d / "train.log"
    p.write_bytes(epoch_lines(150_000, headers=False))
    return log(p, expect=VERDICT)


@case()
def make_log_300k_epochs_on_stdin(d: Path) -> Case:
    return Case(("check", "--log", "-"), expect=VERDICT, stdin=epoch_lines(300_000))


@case()
def make_json_list_of_small_objects(d: Path) -> Case:
    """A 7 MB list of 500,000 one-key dicts: refused from its separators, before json.loads builds them."""
    p = d / "history.json"
    p.write_bytes(b"[" + b'{"loss": 0.5},' * 499_999 + b'{"loss": 0.5}]')
    return log(p, match="too many values")


@case()
def make_json_long_flat_list(d: Path) -> Case:
    p = d / "history.json"
    p.write_bytes(b'{"loss": [' + b"0.5," * 2_000_000 + b"0.5]}")
    return log(p, match="too many values")


@case()
def make_json_many_empty_objects(d: Path) -> Case:
    """`{"loss": [{}, {}, ...]}`: 300,000 objects with no comma-separated values between their braces."""
    p = d / "history.json"
    p.write_bytes(b'{"loss": [' + b"{}," * 299_999 + b"{}]}")
    return log(p, match="too many values")


@case()
def make_json_deep_and_long(d: Path) -> Case:
    p = d / "history.json"
    p.write_bytes(b'{"loss": ' + b"[" * 50_000 + b"0.5," * 500_000 + b"0.5" + b"]" * 50_000 + b"}")
    return log(p, match="History JSON|too many values")


def tb_record(data_: bytes) -> bytes:
    from cifar_doctor.sources.tfevents import masked_crc32c

    header = struct.pack("<Q", len(data_))
    return header + struct.pack("<I", masked_crc32c(header)) + data_ + struct.pack("<I", masked_crc32c(data_))


@case()
def make_tb_many_tiny_records(d: Path) -> Case:
    """400,000 records of one `step` field each (6 MB): bounded in records, no scalar found."""
    return log(tb_file(d, tb_record(b"\x10\x01") * 400_000), match="No per-epoch scalars")


@case()
def make_tb_records_of_many_tiny_fields(d: Path) -> Case:
    """300 records of 30,000 two-byte fields each: parsing stops at the per-record field bound."""
    return log(tb_file(d, tb_record(b"\x10\x00" * 30_000) * 300), match="No per-epoch scalars")


@case()
def make_tb_large_records_of_tiny_fields(d: Path) -> Case:
    """60 MB of 1 MB records of tiny fields: skipped unparsed, as no scalar event is that large."""
    return log(tb_file(d, tb_record(b"\x10\x00" * ((1 << 20) // 2 - 16)) * 60), match="No per-epoch scalars")


@case()
def make_tb_tiny_fields_beside_scalars(d: Path) -> Case:
    """Records of many tiny fields between a run's real scalar events: skipped, the scalars read."""
    return log(tb_file(d, tb_events() + tb_record(b"\x10\x00" * 30_000) * 50), expect=VERDICT)


def layer_bomb_config(layers: int, with_class_name: bool = True) -> bytes:
    layer = {"class_name": "ReLU", "config": {}} if with_class_name else {"config": {}}
    body = ",".join([json.dumps(layer, separators=(",", ":"))] * layers)  # 40 bytes a layer: 11 MB in all
    return (
        '{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": ['
        + body
        + ']}, "registered_name": null}'
    ).encode()


@case()
def make_keras_275k_layers(d: Path) -> Case:
    """A 28 kB .keras whose deflated config.json (9 MB) lists 275,000 layers: refused before it is parsed."""
    cfg = deflated("config.json", layer_bomb_config(275_000))
    return model(
        write_zip(
            d / "model.keras", [stored("metadata.json", b"{}"), cfg, stored("model.weights.h5", keras_weights())]
        ),
        match="serialized objects",
    )


@case()
def make_keras_layers_without_class_names(d: Path) -> Case:
    """50,000 layers with no `class_name` (the byte count misses them): refused by the layer count."""
    cfg = deflated("config.json", layer_bomb_config(50_000, with_class_name=False))
    return model(
        write_zip(
            d / "model.keras", [stored("metadata.json", b"{}"), cfg, stored("model.weights.h5", keras_weights())]
        ),
        match="layers",
    )


@case()
def make_keras_nested_models(d: Path) -> Case:
    """60 Sequential models each inside the last: nesting past the bound, refused before Keras."""
    inner: dict = keras_config()
    for _ in range(60):
        inner = keras_config([inner])
    return model(keras_file(d / "model.keras", inner, keras_weights()), match="nests deeper")
