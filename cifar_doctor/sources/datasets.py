"""Loading image data: user npz files, the official CIFAR-10 batches, the Keras cache, the bundled sample.

Everything here is NumPy only: no TensorFlow or Keras import, so the data and
label checks stay fast. User files never execute code: npz files are read with
`np.load(..., allow_pickle=False)`, and pickle is used only for the official
CIFAR-10 batches (`data_batch_1..5`, `test_batch`), through an unpickler that
can rebuild NumPy arrays and nothing else.

Arrays are returned as stored. CIFAR-10 comes back exactly as
`keras.datasets.cifar10.load_data()` returns it: images uint8 (N, 32, 32, 3),
labels uint8 (N, 1).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import lzma
import math
import os
import pickle
import re
import stat
import sys
import tarfile
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from . import archives
from .npy import NPY_MAX_HEADER_BYTES, read_npy_header

#: Canonical array keys, in report order.
CANONICAL_KEYS = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")
REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")

# Spellings seen in tutorials and dataset dumps. A key is compared after lower-casing
# and dropping everything but letters and digits, as `<role><split>` or `<split><role>`:
# `X_train`, `xtrain`, `x_tr`, `train_images`, `trainX`, `val_images`, `x_valid`, ...
_ROLE_ALIASES = {
    "x": ("x", "images", "image", "imgs", "img", "data", "features", "feats", "inputs", "input", "pixels"),
    "y": ("y", "labels", "label", "lbls", "lbl", "targets", "target", "classes", "class", "ys"),
}
_SPLIT_ALIASES = {
    "train": ("train", "training", "trn", "tr"),
    "test": ("test", "testing", "tst", "te"),
    "val": ("val", "valid", "validation", "dev", "va"),
}


def _build_aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for role, roles in _ROLE_ALIASES.items():
        for split, splits in _SPLIT_ALIASES.items():
            canonical = f"{role}_{split}"
            for r in roles:
                for s in splits:
                    for compact in (r + s, s + r):
                        prev = table.setdefault(compact, canonical)
                        if prev != canonical:  # pragma: no cover - guarded by a test
                            raise RuntimeError(f"ambiguous key alias {compact!r}: {prev} or {canonical}")
    return table


#: Compact key spelling -> canonical key.
KEY_ALIASES: dict[str, str] = _build_aliases()

# --- CIFAR-10 as Keras stores it ---------------------------------------------------------------
#: The URL `keras.datasets.cifar10.load_data()` downloads from.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: The sha256 Keras verifies that download against.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
#: Where Keras >= 3.6 saves the tarball, and extracts it, under `<keras home>/datasets/`.
KERAS_ARCHIVE_NAME = "cifar-10-batches-py-target_archive"
KERAS_EXTRACT_DIR = "cifar-10-batches-py-target"
BATCHES_DIR = "cifar-10-batches-py"
#: Tarball names older Keras versions (2.x, 3.0-3.5) or users leave in the cache.
LEGACY_ARCHIVE_NAMES = ("cifar-10-batches-py.tar.gz", "cifar-10-python.tar.gz")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
#: Socket timeout for the download, seconds: long enough for a slow server to answer,
#: short enough that an offline machine falls back to the bundled sample at once.
DOWNLOAD_TIMEOUT_S = 10.0
#: Set to 1 to never try the download.
OFFLINE_ENV = "CIFAR_DOCTOR_OFFLINE"

#: The bundled real sample (see `cifar_doctor/data/README.md`).
SAMPLE_PATH = Path(__file__).resolve().parent.parent / "data" / "cifar10_sample.npz"

# --- bounds on what a file may make us read or allocate -------------------------------------------
#: Largest array read from an npz, in bytes, from the shape its header declares (checked
#: before anything is allocated). The full CIFAR-10 training set as float64 is 1.2 GB; 4 GiB
#: leaves room for larger images as float32, and refuses the shapes of corrupt headers and
#: of zip bombs (a few MB that inflate to many GB).
MAX_ARRAY_BYTES = 4 << 30
#: Largest total of the arrays read from one npz (also capped by the memory available):
#: every split of CIFAR-10 as float64 is 1.5 GB.
MAX_DATA_BYTES = 6 << 30
#: Images of an npz above this total are not loaded: stored (uncompressed) members are read
#: in chunks and sampled, like a folder of .npy files. Every split of CIFAR-10 as float64
#: (1.5 GB) stays below, so the data the checks were measured on is still read whole.
CHUNKED_ABOVE_BYTES = 2 << 30
#: Largest stored image member described by a header: 16 TB; only chunks and the sample are allocated.
MAX_STORED_IMAGE_BYTES = 1 << 44
#: Array names quoted in a message about an npz with many members.
MAX_KEYS_SHOWN = 20
#: Largest CIFAR-10 batch file read whole: an official batch is 31 MB (10,000 images and
#: their labels); twice that leaves room for batches re-saved by other tools.
MAX_BATCH_BYTES = 64 << 20
#: Bytes read from a tarball: the official cifar-10-python.tar.gz unpacks to 178 MB, and
#: reading stops as soon as its six batches are found.
MAX_TAR_BYTES = 256 << 20
#: Entries read from a tarball: the official one has 9.
MAX_TAR_MEMBERS = 1_000
#: Labels are class indices below this. The largest class-index dataset, ImageNet-21k, has
#: 21,841 classes; the label checks size per-class tables by the largest label, so a label of
#: 10**12 would ask them for terabytes.
MAX_LABEL_VALUE = 100_000
#: Entries listed from a folder that holds no CIFAR-10 data, to name a few in the message.
MAX_LISTED_ENTRIES = 1_000

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = b"\x93NUMPY"


@dataclass
class LoadedData:
    """Arrays read from a data source, and a plain description of it.

    Args:
        arrays: Canonical key (`x_train`, `y_train`, `x_test`, `y_test`, optionally
            `x_val`, `y_val`) -> array, as stored.
        description: Plain JSON values: `kind` (`npz`, `cifar-10-batches-py`,
            `cifar-10-tarball`, `bundled-sample`), `path`, `shapes`, `dtypes`,
            `notices` and, for `load_cifar10()`, `source`.
        sources: Split name -> `DataSource` over every image, for splits
            whose `arrays` hold a sample (`.npy` files, image folders).
            Defaults to `{}`.
        samples: Split name -> `SampleInfo`: how that sample was drawn. Defaults to `{}`.
        scan: What reading an image folder found (`cifar_doctor.sources.folders.FolderScan`).
            Defaults to `None`.
    """

    arrays: dict[str, np.ndarray]
    description: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, Any] = field(default_factory=dict)
    scan: Any = None


# --- public entry points ------------------------------------------------------------------------
def load_data_path(path: str | os.PathLike) -> LoadedData:
    """Load image data from an npz file, a `cifar-10-batches-py` folder or a CIFAR-10 tarball.

    Args:
        path: An `.npz` with `x_train, y_train, x_test, y_test` (optional `x_val, y_val`;
            common alternatives such as `train_images` or `X_train` are accepted), a
            `cifar-10-batches-py` folder, a `cifar-10-python.tar.gz` tarball, or a folder
            holding one of these (or a `cifar10.npz`).

    Returns:
        A `LoadedData`.

    Raises:
        InputError: the path is missing, unreadable, or does not hold the expected arrays.
    """
    p = Path(path).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        broken = p.is_symlink()
        raise InputError(
            f"Cannot read data: {p} " + ("is a symbolic link to nothing" if broken else "does not exist"),
            expected="an .npz file, a cifar-10-batches-py folder or a cifar-10-python.tar.gz",
            hint="Check the path",
        ) from None
    except OSError as exc:  # a symbolic link loop, a folder on the way that cannot be searched
        raise InputError(f"Cannot read data: {p}: {exc.strerror or exc}",
                         expected="an .npz file, a cifar-10-batches-py folder or a cifar-10-python.tar.gz",
                         hint="Check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        return _load_dir(p)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"Cannot read data: {p} is not a regular file (a pipe, a device or a socket)",
            expected="an .npz file, a cifar-10-batches-py folder or a cifar-10-python.tar.gz",
            hint="Save the data to a file and pass its path",
        )
    head = _head(p)
    if head.startswith(_ZIP_MAGIC) or p.suffix.lower() == ".npz":
        return _load_npz(p, head)
    if head.startswith(_NPY_MAGIC):
        raise InputError(
            f"Cannot read data: {p} is a single .npy array",
            expected="an .npz holding x_train, y_train, x_test, y_test",
            hint="Save the splits together with np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
        )
    if _is_tar(p, head):
        return _load_tarball(p)
    raise InputError(
        f"Cannot read data: {p} is not an npz, a cifar-10-batches-py folder or a CIFAR-10 tarball",
        expected="an .npz (zip) file, a folder, or a .tar.gz",
        received=f"a file starting with bytes {head[:8]!r}",
        hint="Save arrays with np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
    )


def load_data(path: str | os.PathLike | None) -> LoadedData:
    """The data at `path` (see `load_data_path`), or CIFAR-10 when no path is given (see `load_cifar10`)."""
    return load_data_path(path) if path is not None else load_cifar10()


def load_cifar10() -> LoadedData:
    """Load CIFAR-10 without TensorFlow: the Keras cache, then the Keras download, then the bundled sample.

    1. The Keras cache (`$KERAS_HOME/datasets/` or `~/.keras/datasets/`): the extracted
       `cifar-10-batches-py` folder or the tarball Keras saved.
    2. The download Keras would make (`CIFAR10_URL`), saved where Keras saves it and
       verified with the same sha256; skipped when `CIFAR_DOCTOR_OFFLINE=1`.
    3. The bundled sample of exact CIFAR-10 images (2,500 train / 1,000 test), with a
       one-line notice on stderr.

    Returns:
        A `LoadedData` with uint8 arrays shaped like `keras.datasets.cifar10.load_data()`;
        `description["source"]` is `keras-cache`, `keras-download` or `bundled-sample`.
    """
    reasons: list[str] = []
    for candidate in _cache_candidates():
        if not candidate.exists():
            continue
        try:
            loaded = load_data_path(candidate)
        except InputError as exc:
            reasons.append(f"unreadable cache entry {candidate} ({exc.what})")
            continue
        loaded.description["source"] = "keras-cache"
        return loaded
    if not reasons:
        reasons.append(f"not in the Keras cache ({_datasets_dir(keras_home())})")

    if os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
        reasons.append(f"download skipped ({OFFLINE_ENV}=1)")
    else:
        try:
            archive = _download()
            loaded = load_data_path(archive)
            loaded.description["source"] = "keras-download"
            return loaded
        except (OSError, ValueError, InputError) as exc:
            reasons.append(f"download failed ({_short(exc)})")
    return _load_sample(reasons)


def keras_home() -> Path:
    """Keras' home folder: `$KERAS_HOME`, else `~/.keras` (`/tmp/.keras` if home is not writable)."""
    env = os.environ.get("KERAS_HOME")
    if env:
        return Path(env).expanduser()
    home = Path(os.path.expanduser("~"))
    if not os.access(home, os.W_OK):
        home = Path("/tmp")
    return home / ".keras"


# --- sources of load_cifar10 --------------------------------------------------------------------
def _datasets_dir(home: Path) -> Path:
    return home / "datasets"


def _cache_candidates() -> list[Path]:
    """Where Keras versions leave CIFAR-10, newest layout first; extracted folders before tarballs."""
    homes = [keras_home()]
    tmp_home = Path("/tmp/.keras")  # Keras' get_file falls back here when the cache is not writable
    if tmp_home not in homes:
        homes.append(tmp_home)
    out: list[Path] = []
    for home in homes:
        d = _datasets_dir(home)
        out += [d / KERAS_EXTRACT_DIR / BATCHES_DIR, d / BATCHES_DIR, d / KERAS_ARCHIVE_NAME]
        out += [d / name for name in LEGACY_ARCHIVE_NAMES]
    return out


def _download() -> Path:
    """Fetch the CIFAR-10 tarball to where Keras would save it, verifying Keras' sha256.

    Nothing is written unless the server answers; the file appears under its final
    name only once complete and verified.
    """
    import urllib.request

    with urllib.request.urlopen(CIFAR10_URL, timeout=DOWNLOAD_TIMEOUT_S) as resp:
        target_dir = _datasets_dir(keras_home())
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(target_dir, os.W_OK):
                raise PermissionError(f"{target_dir} is not writable")
        except OSError:  # Keras' get_file falls back to /tmp/.keras the same way
            target_dir = _datasets_dir(Path("/tmp/.keras"))
            target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / KERAS_ARCHIVE_NAME
        partial = target_dir / f".{KERAS_ARCHIVE_NAME}.{os.getpid()}.part"
        print(f"Downloading CIFAR-10 from {CIFAR10_URL} to {target}", file=sys.stderr)
        hasher = hashlib.sha256()
        try:
            with open(partial, "wb") as out:
                while True:
                    chunk = resp.read(1 << 20)
                    if not chunk:
                        break
                    hasher.update(chunk)
                    out.write(chunk)
            if hasher.hexdigest() != CIFAR10_SHA256:
                raise ValueError(
                    f"sha256 {hasher.hexdigest()[:12]}... differs from Keras' {CIFAR10_SHA256[:12]}..."
                )
            os.replace(partial, target)
        finally:
            if partial.exists():  # our own partial download, never a user's file
                partial.unlink()
    return target


def _load_sample(reasons: list[str]) -> LoadedData:
    if not SAMPLE_PATH.exists():
        raise InputError(
            "Cannot load CIFAR-10: " + "; ".join(reasons) + f"; and the bundled sample {SAMPLE_PATH} is missing",
            expected="CIFAR-10 in the Keras cache (~/.keras/datasets) or a file given with --data",
            hint="Run python -c 'import keras; keras.datasets.cifar10.load_data()' once, or pass --data",
        )
    loaded = _load_npz(SAMPLE_PATH, _head(SAMPLE_PATH))
    n_train, n_test = len(loaded.arrays["x_train"]), len(loaded.arrays["x_test"])
    notice = (
        f"Notice: CIFAR-10 {'; '.join(reasons)}: using the bundled CIFAR-10 sample "
        f"({n_train} train / {n_test} test images, exact pixels). For the full dataset, run "
        "keras.datasets.cifar10.load_data() once or pass --data."
    )
    print(notice, file=sys.stderr)
    loaded.description.update(kind="bundled-sample", source="bundled-sample")
    loaded.description["notices"].append(notice)
    return loaded


# --- npz ----------------------------------------------------------------------------------------
def _head(p: Path) -> bytes:
    try:
        with open(p, "rb") as f:
            return f.read(512)
    except OSError as exc:
        raise InputError(f"Cannot read data: {p}: {exc.strerror or exc}", hint="Check the file's permissions") from None


def _is_tar(p: Path, head: bytes) -> bool:
    name = p.name.lower()
    if head.startswith(b"\x1f\x8b") or name.endswith((".tar.gz", ".tgz", ".tar")):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def canonical_key(key: str) -> str | None:
    """`"X_train"`, `"train_images"`, `"x_tr"`, `"val_labels"` -> canonical key, or None."""
    compact = re.sub(r"[^a-z0-9]", "", key.lower())
    return KEY_ALIASES.get(compact)


def _load_npz(p: Path, head: bytes) -> LoadedData:
    if not head.startswith(_ZIP_MAGIC):
        raise InputError(
            f"Cannot read data: {p} is not an npz file (not a zip archive)",
            expected="an .npz written by np.savez or np.savez_compressed",
            received=f"a file starting with bytes {head[:8]!r}",
            hint="Save arrays with np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
        )
    try:
        zf = archives.open_zip(p)
    except archives.ArchiveError as exc:
        raise InputError(f"Cannot read data: {p} is not a plain npz: {exc}", expected="an .npz of a few arrays",
                         hint="Save arrays with np.savez('data.npz', x_train=..., y_train=..., ...)") from None
    except archives.ZIP_READ_ERRORS as exc:
        raise _corrupt(p, exc) from None
    with zf:
        members = _npz_members(zf)
        found = list(members)
        mapping, ambiguous = _map_keys(found)
        if ambiguous:
            raise InputError(
                f"Cannot read data: {p} has several arrays for the same split",
                expected="one array per key x_train, y_train, x_test, y_test",
                received="; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(ambiguous.items())),
                hint="Rename or drop the duplicates",
            )
        missing = [k for k in ("x_train", "y_train") if k not in mapping]
        has_test = "x_test" in mapping or "y_test" in mapping
        has_val = "x_val" in mapping or "y_val" in mapping
        if not has_test and not has_val:
            missing += ["x_test", "y_test"]
        for split in ("test", "val"):
            pair = (f"x_{split}", f"y_{split}")
            if (pair[0] in mapping) != (pair[1] in mapping):
                missing.append(pair[0] if pair[1] in mapping else pair[1])
        if missing:
            raise InputError(
                f"Cannot read data: {p} lacks {', '.join(missing)}",
                expected="keys x_train, y_train, x_test, y_test (optional x_val, y_val) "
                "or alternatives such as train_images/train_labels, X_train/Y_train",
                received=f"keys {sorted(found)[:MAX_KEYS_SHOWN]}" + (" ..." if len(found) > MAX_KEYS_SHOWN else ""),
                hint="Rename the arrays, e.g. np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
            )
        archive_size = p.stat().st_size
        keys = [(c, mapping[c]) for c in CANONICAL_KEYS if c in mapping]
        stored = {c for c, key in keys if members[key].compress_type == zipfile.ZIP_STORED}
        declared = {c: _npy_declared(zf, members[key], key, p, archive_size,
                                     limit=None if c in stored and c.startswith("x_") else MAX_ARRAY_BYTES)
                    for c, key in keys}
        images = sum(v for c, v in declared.items() if c.startswith("x_"))
        if images > CHUNKED_ABOVE_BYTES:
            if any(c.startswith("x_") and c not in stored for c, _ in keys):
                raise InputError(
                    f"Cannot read data: the images in {p} are compressed and declare {archives.size_text(images)}",
                    expected=f"images of at most {archives.size_text(CHUNKED_ABOVE_BYTES)} when compressed, or stored "
                             "uncompressed (np.savez), which is read in chunks",
                    hint="Save with np.savez (not savez_compressed), or one .npy file per array in a folder",
                )
            from .npy import load_npz_members

            return load_npz_members(p, {c: members[key] for c, key in keys}, mapping)
        _check_memory(declared, p)
        arrays: dict[str, np.ndarray] = {}
        for canonical, key in keys:
            try:
                with zf.open(members[key]) as fh:
                    arr = np.lib.format.read_array(fh, allow_pickle=False, max_header_size=NPY_MAX_HEADER_BYTES)
            except (*archives.ZIP_READ_ERRORS, KeyError, OverflowError) as exc:
                raise InputError(
                    f"Cannot read data: array {key!r} in {p} is truncated or corrupt ({_short(exc)})",
                    expected="a complete .npz archive",
                    hint="Write the file again, or check that its copy or download finished",
                ) from None
            arrays[canonical] = arr
    ignored = sorted(set(found) - set(mapping.values()))
    notices = [f"ignored keys: {', '.join(ignored[:MAX_KEYS_SHOWN])}" + (" ..." if len(ignored) > MAX_KEYS_SHOWN else "")
               ] if ignored else []
    renamed = {c: k for c, k in mapping.items() if c != k}
    return _finish(arrays, "npz", p, notices, renamed)


def _corrupt(p: Path, exc: BaseException) -> InputError:
    return InputError(
        f"Cannot read data: {p} is truncated or corrupt ({_short(exc)})",
        expected="a complete .npz archive",
        hint="Write the file again, or check that its copy or download finished",
    )


def _npz_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name -> zip member, named as `np.load` names them (`x_train.npy` -> `x_train`)."""
    return {(i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i
            for i in zf.infolist() if not i.is_dir()}


def _npy_declared(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, p: Path, archive_size: int,
                  limit: int | None = MAX_ARRAY_BYTES) -> int:
    """Bytes the .npy header of a member declares, after checking that the member can hold them.

    Only the header is read: the dtype must be numeric, the shape within
    `MAX_ARRAY_BYTES`, and the member's declared size (from the zip directory,
    checked against the file and against what deflate can produce) must hold
    header and data. Nothing is allocated by a declared size before this.
    """
    where = f"array {key!r} in {p}"
    problem = archives.zip_member_problem(info, archive_size)
    if problem is not None:
        raise InputError(f"Cannot read data: {where} {problem}", expected="a complete .npz archive",
                         hint="Write the file again, or check that its copy or download finished")
    try:
        with zf.open(info) as fh:
            shape, _, dtype = read_npy_header(fh)
            header_end = fh.tell()
    except (ValueError, EOFError, SyntaxError, TypeError, RecursionError, tokenize.TokenError) as exc:
        hint = " (it looks like a Python pickle)" if _is_pickle_member(zf, info) else ""
        raise InputError(
            f"Cannot read data: {where} is not a .npy array{hint} ({_short(exc)})",
            expected="arrays written by np.savez (loaded with allow_pickle=False, so files cannot run code)",
            hint="Save the arrays with np.savez('data.npz', x_train=..., y_train=..., ...)",
        ) from None
    except archives.ZIP_READ_ERRORS as exc:
        raise _corrupt(p, exc) from None
    if dtype.hasobject:
        raise InputError(
            f"Cannot read data: {where} is a pickled object array",
            expected="numeric arrays (loaded with allow_pickle=False, so files cannot run code)",
            hint="Convert it before saving, e.g. np.stack(list_of_images).astype('uint8')",
        )
    _check_numeric_header(dtype, tuple(shape), key, p)
    nbytes = math.prod(shape) * dtype.itemsize
    limit = limit if limit is not None else MAX_STORED_IMAGE_BYTES  # stored images are read in chunks, not loaded
    if nbytes > limit or max(shape) > limit:  # a zero elsewhere hides a huge dimension
        raise InputError(
            f"Cannot read data: {where} declares shape {tuple(shape)} of {dtype}, "
            f"{archives.size_text(nbytes)}",
            expected=f"at most {archives.size_text(limit)} per array (the full CIFAR-10 training set "
                     "as float64 is 1.2 GB)",
            hint="A header this large is corrupt or forged; write the file again with np.savez",
        )
    if info.file_size < header_end + nbytes:
        raise InputError(
            f"Cannot read data: {where} declares shape {tuple(shape)} of {dtype} ({archives.size_text(nbytes)}) "
            f"but holds {archives.size_text(max(info.file_size - header_end, 0))}",
            expected="a complete .npz archive",
            hint="Write the file again, or check that its copy or download finished",
        )
    return nbytes


def _is_pickle_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        with zf.open(info) as fh:
            return fh.read(1) == b"\x80"
    except archives.ZIP_READ_ERRORS:
        return False


def _check_memory(declared: dict[str, int], p: Path) -> None:
    """Refuse, before reading, arrays whose declared total exceeds `MAX_DATA_BYTES` or the memory available."""
    total = sum(declared.values())
    available = _available_memory()
    limit = min(MAX_DATA_BYTES, available) if available is not None else MAX_DATA_BYTES
    if total > limit:
        sizes = ", ".join(f"{k} {archives.size_text(v)}" for k, v in declared.items())
        raise InputError(
            f"Cannot read data: the arrays in {p} declare {archives.size_text(total)} in all",
            expected=f"at most {archives.size_text(limit)}"
                     + (" (the memory available)" if limit != MAX_DATA_BYTES else ""),
            received=sizes,
            hint="Check a subset: save the first images of each split, e.g. x_train[:10000], to a new file",
        )


def _available_memory() -> int | None:
    """Memory the system can give without swapping (Linux `MemAvailable`), in bytes; `None` where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _map_keys(found: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Canonical key -> key in the file; exact canonical names win over alternatives."""
    by_canonical: dict[str, list[str]] = {}
    for key in found:
        c = canonical_key(key)
        if c is not None:
            by_canonical.setdefault(c, []).append(key)
    mapping: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for c, keys in by_canonical.items():
        if c in keys:
            mapping[c] = c
        elif len(keys) == 1:
            mapping[c] = keys[0]
        else:
            ambiguous[c] = sorted(keys)
    return mapping, ambiguous


def _check_numeric_header(dtype: np.dtype, shape: tuple[int, ...], key: str, p: Path) -> None:
    if dtype.kind not in "biuf":
        raise InputError(
            f"Cannot read data: array {key!r} in {p} is not numeric",
            expected="integer, float or bool values",
            received=f"dtype {dtype} with shape {shape}",
            hint="Convert it before saving, e.g. arr.astype('float32')",
        )
    if not shape:
        raise InputError(f"Cannot read data: array {key!r} in {p} is a scalar", expected="one entry per image",
                         received=f"shape {shape}")


def _check_images(x: np.ndarray, key: str, p: Path) -> None:
    """Images are (N, H, W, C), (N, C, H, W), (N, H, W) or flattened (N, D), with at least one image."""
    if not 2 <= x.ndim <= 4:
        raise InputError(
            f"Cannot read data: {key} in {p} is not an array of images",
            expected="images of shape (N, H, W, C), (N, C, H, W), (N, H, W) or flattened (N, D)",
            received=f"shape {tuple(x.shape)}",
            hint="Reshape before saving, e.g. x.reshape(-1, 32, 32, 3)",
        )
    if 0 in x.shape:
        raise InputError(
            f"Cannot read data: {key} in {p} holds no " + ("images" if len(x) == 0 else "pixels"),
            expected="at least one image with at least one pixel",
            received=f"shape {tuple(x.shape)}",
            hint="Save the split's images, or leave the split out",
        )


def _check_label_values(y: np.ndarray, key: str, p: Path) -> None:
    """Class-index labels stay below `MAX_LABEL_VALUE` (a class count is taken from the largest one)."""
    if (y.ndim == 2 and y.shape[1] != 1) or y.ndim > 2 or y.size == 0 or y.dtype.kind not in "iuf":
        return  # one-hot rows, or labels the label checks report as invalid
    finite = y[np.isfinite(y)] if y.dtype.kind == "f" else y
    top = finite.max() if finite.size else 0
    if top >= MAX_LABEL_VALUE:
        raise InputError(
            f"Cannot read data: {key} in {p} holds the label {top:.6g}, which is not a class index",
            expected=f"class indices 0..K-1 below {MAX_LABEL_VALUE:,} (ImageNet-21k has 21,841 classes), "
                     "or one-hot rows",
            hint="Save the class index of each image, e.g. np.argmax(one_hot, axis=1)",
        )


def _finish(arrays: dict[str, np.ndarray], kind: str, p: Path, notices: list[str],
            renamed: dict[str, str] | None = None) -> LoadedData:
    for split in ("train", "test", "val"):
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is not None:
            _check_images(x, f"x_{split}", p)
        if y is not None:
            _check_label_values(y, f"y_{split}", p)
        if x is not None and y is not None and len(x) != len(y):
            raise InputError(
                f"Cannot read data: x_{split} and y_{split} in {p} have different lengths",
                expected="one label per image",
                received=f"x_{split} shape {tuple(x.shape)}, y_{split} shape {tuple(y.shape)}",
                hint="Save the images and labels of each split together, in the same order",
            )
    description: dict[str, Any] = {
        "kind": kind,
        "path": str(p),
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "dtypes": {k: str(v.dtype) for k, v in arrays.items()},
        "notices": notices,
    }
    if renamed:
        description["keys"] = dict(renamed)
    return LoadedData(arrays, description)


# --- the official pickled batches ---------------------------------------------------------------
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and NumPy arrays; refuses every other global.

    The official batches (Python 2 pickles) need only the NumPy names. `_codecs.encode`
    (str -> bytes, no side effects) is how Python 3 writes bytes at protocol 2, as in
    batches re-saved by other tools.
    """

    ALLOWED = frozenset({
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def _parse_batch(raw: bytes, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One official batch -> images (n, 32, 32, 3) uint8, labels (n,) uint8."""
    bad = f"Cannot read data: {where} is not an official CIFAR-10 batch"
    try:
        d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means "not an official batch"
        raise InputError(f"{bad} ({_short(exc)})", expected="the pickled batches of cifar-10-python.tar.gz",
                         hint="Download the Python version from https://www.cs.toronto.edu/~kriz/cifar.html") from None
    if not isinstance(d, dict):
        raise InputError(bad, expected="a pickled dict with 'data' and 'labels'", received=type(d).__name__)
    d = {k.decode("utf8", "replace") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or not isinstance(labels, (list, tuple, np.ndarray)):
        keys = sorted(k for k in d if isinstance(k, str))[:10]
        raise InputError(bad, expected="'data' (N, 3072) uint8 and 'labels'", received=f"keys {keys}")
    if data.nbytes > len(raw):  # an array built from a declared shape, not from bytes in the file
        raise InputError(bad, expected="'data' whose pixels are in the file",
                         received=f"'data' declaring shape {tuple(data.shape)} ({archives.size_text(data.nbytes)}) "
                                  f"in a file of {archives.size_text(len(raw))}")
    one_d = isinstance(labels, (list, tuple)) or labels.ndim == 1
    n_labels = len(labels) if one_d else -1
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or n_labels != len(data) or data.dtype.kind not in "biu":
        raise InputError(bad, expected="'data' of shape (N, 3072) uint8 and N labels",
                         received=f"data shape {tuple(data.shape)} of {data.dtype}, "
                                  f"labels of shape {np.shape(labels) if isinstance(labels, np.ndarray) else n_labels}")
    try:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "biu":
            raise TypeError(f"labels of dtype {labels.dtype}")
        low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(bad, expected="integer labels 0..9", received=_short(exc)) from None
    if low < 0 or high > 255:
        raise InputError(bad, expected="labels 0..9", received=f"labels in [{low}, {high}]")
    images = np.ascontiguousarray(data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels.astype(np.uint8)


def _from_batches(parsed: dict[str, tuple[np.ndarray, np.ndarray]], kind: str, p: Path) -> LoadedData:
    """Assemble parsed batches (name -> (images, labels)) into Keras' arrays."""
    missing_train = [b for b in TRAIN_BATCHES if b not in parsed]
    if TEST_BATCH not in parsed or len(missing_train) == len(TRAIN_BATCHES):
        raise InputError(
            f"Cannot read data: {p} lacks the CIFAR-10 batches",
            expected=f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH}",
            received=f"{sorted(parsed) or 'none of them'}",
            hint="Point --data at the cifar-10-batches-py folder or the cifar-10-python.tar.gz itself",
        )
    train = [parsed[name] for name in TRAIN_BATCHES if name in parsed]
    x_test, y_test = parsed[TEST_BATCH]
    arrays = {
        "x_train": np.concatenate([x for x, _ in train]),
        "y_train": np.concatenate([y for _, y in train]).reshape(-1, 1),
        "x_test": np.ascontiguousarray(x_test),
        "y_test": y_test.reshape(-1, 1),
    }
    notices = [f"missing training batches: {', '.join(missing_train)}"] if missing_train else []
    return _finish(arrays, kind, p, notices)


def _load_batches_dir(p: Path) -> LoadedData:
    parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        f = p / name
        if _is_file(f):
            try:
                size = f.stat().st_size
                _check_batch_size(size, str(f))
                with open(f, "rb") as fh:
                    raw = fh.read(MAX_BATCH_BYTES + 1)
            except OSError as exc:
                raise InputError(f"Cannot read data: {f}: {exc.strerror or exc}", expected="a readable file",
                                 hint="Check the file's permissions") from None
            _check_batch_size(len(raw), str(f))
            parsed[name] = _parse_batch(raw, name, f"{p}/{name}")
    return _from_batches(parsed, "cifar-10-batches-py", p)


def _check_batch_size(size: int, where: str) -> None:
    if size > MAX_BATCH_BYTES:
        raise InputError(
            f"Cannot read data: {where} is {archives.size_text(size)}, too large for a CIFAR-10 batch",
            expected=f"an official batch of 31 MB (at most {archives.size_text(MAX_BATCH_BYTES)})",
            hint="Download the Python version from https://www.cs.toronto.edu/~kriz/cifar.html",
        )


def _load_tarball(p: Path) -> LoadedData:
    """Read the batches from a CIFAR-10 tarball in memory; nothing is extracted to disk.

    The archive is read as a stream, at most `MAX_TAR_BYTES` of it and `MAX_TAR_MEMBERS`
    entries, and reading stops once the six batches are found. An entry with an unsafe
    name, a batch that is a link, or one larger than `MAX_BATCH_BYTES` is refused.
    """
    wanted = {*TRAIN_BATCHES, TEST_BATCH}
    parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bad = f"Cannot read data: {p} is not an official CIFAR-10 tarball"
    expected = "cifar-10-python.tar.gz as downloaded from https://www.cs.toronto.edu/~kriz/cifar.html"
    try:
        with open(p, "rb") as raw:
            stream = archives.BoundedReader(archives.decompressed(raw, _head(p)), MAX_TAR_BYTES, "it")
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for count, member in enumerate(tar, start=1):
                    if count > MAX_TAR_MEMBERS:
                        raise InputError(f"{bad}: it has more than {MAX_TAR_MEMBERS} members", expected=expected,
                                         hint="Point --data at the cifar-10-python.tar.gz itself")
                    if archives.unsafe_name(member.name):
                        raise InputError(f"{bad}: it holds a member with an unsafe path",
                                         expected=expected, received=repr(member.name[:200]),
                                         hint="Do not extract it; download the official tarball")
                    base = member.name.rsplit("/", 1)[-1]
                    if base in wanted and (member.issym() or member.islnk()):
                        raise InputError(f"{bad}: its {member.name} is a link, not a file", expected=expected,
                                         received=f"a link to {member.linkname[:200]!r}")
                    if base in wanted or member.size > MAX_TAR_BYTES:
                        _check_batch_size(member.size, f"{p}:{member.name[:200]}")
                    if member.isfile() and base in wanted and base not in parsed:
                        fobj = tar.extractfile(member)
                        if fobj is not None:  # parsed at once: one batch's bytes in memory at a time
                            parsed[base] = _parse_batch(fobj.read(), base, f"{p}:{member.name}")
                        if len(parsed) == len(wanted):
                            break
    except archives.ArchiveError as exc:
        raise InputError(f"{bad}: {exc}", expected=f"{expected} (178 MB unpacked)",
                         hint="Download it again") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise InputError(
            f"Cannot read data: {p} is not a readable tar archive ({_short(exc)})",
            expected=expected,
            hint="Download it again; the file may be truncated",
        ) from None
    return _from_batches(parsed, "cifar-10-tarball", p)


def _load_dir(p: Path) -> LoadedData:
    try:
        with os.scandir(p) as it:
            entries = sorted(e.name for e in itertools.islice(it, MAX_LISTED_ENTRIES))
    except OSError as exc:
        raise InputError(f"Cannot read data: folder {p}: {exc.strerror or exc}",
                         expected="a readable folder", hint="Check the folder's permissions") from None
    if _is_file(p / TEST_BATCH) or any(_is_file(p / b) for b in TRAIN_BATCHES):
        return _load_batches_dir(p)
    for sub in (p / BATCHES_DIR, p / KERAS_EXTRACT_DIR / BATCHES_DIR):
        if _is_dir(sub):
            return _load_batches_dir(sub)
    for name in ("cifar10.npz", "cifar-10.npz", "cifar10_sample.npz"):
        if _is_file(p / name):
            return load_data_path(p / name)
    for name in (*LEGACY_ARCHIVE_NAMES, KERAS_ARCHIVE_NAME):
        if _is_file(p / name):
            return _load_tarball(p / name)
    npy = {canonical_key(n[:-4]): p / n for n in entries if n.lower().endswith(".npy") and canonical_key(n[:-4])}
    if npy:
        from .npy import load_npy_dir

        return load_npy_dir(p, npy)
    from .folders import find_split_folders, load_image_folders

    folders = find_split_folders(p)
    if folders is not None:
        return load_image_folders(folders, root=p)
    raise InputError(
        f"Cannot read data: folder {p} holds no image data",
        expected=f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH} (a cifar-10-batches-py folder), "
        "a cifar10.npz, a cifar-10-python.tar.gz, .npy files (x_train.npy, y_train.npy, x_test.npy, y_test.npy) "
        "or train/ and test/ (or val/) folders of class folders of images",
        received=f"{entries[:10] or 'an empty folder'}",
        hint=_dir_hint(entries),
    )


def _dir_hint(entries: list[str]) -> str:
    if any(n.lower() in ("train", "training", "test", "val", "validation") for n in entries):
        return "Each of train/ and test/ (or val/) must hold one folder of images per class"
    return "Point --data at the file itself, or give image folders with --train DIR --eval DIR"


def _is_file(p: Path) -> bool:
    """A regular file (links followed); `False` for anything that cannot be looked at."""
    try:
        return stat.S_ISREG(p.stat().st_mode)
    except OSError:
        return False


def _is_dir(p: Path) -> bool:
    try:
        return stat.S_ISDIR(p.stat().st_mode)
    except OSError:
        return False


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
