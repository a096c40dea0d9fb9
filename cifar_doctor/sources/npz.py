"""User `.npz` files: array keys under their many spellings, and bounds checked before anything is read.

Read with `allow_pickle=False` (NumPy's own member reader, or for deflated members its header
parser and a plain inflate into the array), so a file never executes code. An npz whose images
declare more than `CHUNKED_ABOVE_BYTES` is read in chunks and sampled (`cifar_doctor.sources.npy`).
"""

from __future__ import annotations

import math
import re
import threading
import tokenize
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..runners.base import available_cores
from . import archives, inflate
from .base import LoadedData, loaded_arrays, on_read, short_error
from .npy import NPY_MAX_HEADER_BYTES, load_npz_members, read_npy_header
from .regular import open_regular

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
#: Compressed members of at least this many bytes (inflated) are read side by side, one thread each
#: (`_read_all`): the 31 MB of CIFAR-10's test images inflate in about 0.2 s, while its training images
#: take 0.9 s; smaller members (labels) are not worth a thread.
PARALLEL_READ_BYTES = 1 << 20
#: Array names quoted in a message about an npz with many members.
MAX_KEYS_SHOWN = 20

#: The first bytes of an npz (a zip archive): a local file header, or the end record of an empty one.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class NpzReader:
    """An `.npz` (a zip of `.npy` arrays) with `x_train`, `y_train` and, optionally, test and validation splits.

    An npz of the training split alone is read: a user who validates with
    `validation_split` has no other, and the checks that need an evaluation
    split are then skipped with the reason.
    """

    name = "npz"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is not None and (head.startswith(ZIP_MAGIC) or path.suffix.lower() == ".npz")

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        return load_npz(path, head or b"")


READER = NpzReader()


def canonical_key(key: str) -> str | None:
    """`"X_train"`, `"train_images"`, `"x_tr"`, `"val_labels"` -> canonical key, or None."""
    compact = re.sub(r"[^a-z0-9]", "", key.lower())
    return KEY_ALIASES.get(compact)


def load_npz(p: Path, head: bytes) -> LoadedData:
    if not head.startswith(ZIP_MAGIC):
        raise InputError(
            f"Cannot read data: {p} is not an npz file (not a zip archive)",
            expected="an .npz written by np.savez or np.savez_compressed",
            received=f"a file starting with bytes {head[:8]!r}",
            hint="Save arrays with np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
        )
    try:
        zf = archives.open_zip(p)
    except archives.ArchiveError as exc:
        raise InputError(
            f"Cannot read data: {p} is not a plain npz: {exc}",
            expected="an .npz of a few arrays",
            hint="Save arrays with np.savez('data.npz', x_train=..., y_train=..., ...)",
        ) from None
    except archives.ZIP_READ_ERRORS as exc:
        raise _corrupt(p, exc) from None
    with zf:
        members = npz_members(zf)
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
        if not has_test and not has_val and missing:
            # training arrays alone are enough (a user who validates with validation_split):
            # the checks that need an evaluation split are skipped, with the reason
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
        declared = {
            c: _npy_declared(
                zf,
                members[key],
                key,
                p,
                archive_size,
                limit=None if c in stored and c.startswith("x_") else MAX_ARRAY_BYTES,
            )
            for c, key in keys
        }
        images = sum(v for c, v in declared.items() if c.startswith("x_"))
        if images > CHUNKED_ABOVE_BYTES:
            if any(c.startswith("x_") and c not in stored for c, _ in keys):
                raise InputError(
                    f"Cannot read data: the images in {p} are compressed and declare {archives.size_text(images)}",
                    expected=f"images of at most {archives.size_text(CHUNKED_ABOVE_BYTES)} when compressed, or stored "
                    "uncompressed (np.savez), which is read in chunks",
                    hint="Save with np.savez (not savez_compressed), or one .npy file per array in a folder",
                )
            return load_npz_members(p, {c: members[key] for c, key in keys}, mapping)
        _check_memory(declared, p)
        arrays = _read_all(zf, [(canonical, members[key], key) for canonical, key in keys], p)
    ignored = sorted(set(found) - set(mapping.values()))
    notices = (
        [f"ignored keys: {', '.join(ignored[:MAX_KEYS_SHOWN])}" + (" ..." if len(ignored) > MAX_KEYS_SHOWN else "")]
        if ignored
        else []
    )
    renamed = {c: k for c, k in mapping.items() if c != k}
    return loaded_arrays(arrays, "npz", p, notices, renamed)


def read_npz_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, p: Path, *, limit: int) -> np.ndarray:
    """One array of an open npz, read only after its header declares a numeric array of at most `limit` bytes.

    Raises:
        InputError: the member is truncated, corrupt, pickled, not numeric or larger than `limit`.
    """
    _npy_declared(zf, info, key, p, p.stat().st_size, limit=limit)
    return _read_declared(zf, info, key, p)


def _read_all(zf: zipfile.ZipFile, members: list[tuple[str, zipfile.ZipInfo, str]], p: Path) -> dict[str, np.ndarray]:
    """canonical key -> array of each member (headers checked by `_npy_declared`), the compressed ones
    inflated side by side: zlib releases the interpreter lock while it inflates, and an archive's
    members are independent streams, so the test images inflate while the training images do. An
    array inflated while another member is still being inflated or handed over is handed to the
    `while_reading` function, in its thread: the last one is not, since the callers' own passes then
    have every core."""
    deflated = {
        info.filename
        for _, info, _ in members
        if info.compress_type != zipfile.ZIP_STORED and info.file_size >= PARALLEL_READ_BYTES
    }
    workers = min(len(deflated), available_cores())
    if workers < 2:
        return {canonical: _read_declared(zf, info, key, p) for canonical, info, key in members}
    done, lock, unfinished = on_read(), threading.Lock(), [len(deflated)]

    def read(canonical: str, info: zipfile.ZipInfo, key: str) -> np.ndarray:
        if info.filename not in deflated:
            return _read_declared(zf, info, key, p)
        try:
            array = _read_declared(zf, info, key, p)
            with lock:
                others = unfinished[0] > 1  # another deflated member still read, or still handed over
            if done is not None and others:
                done(canonical, array)
            return array
        finally:
            with lock:
                unfinished[0] -= 1

    with ThreadPoolExecutor(workers) as pool:
        futures = {canonical: pool.submit(read, canonical, info, key) for canonical, info, key in members}
        return {canonical: f.result() for canonical, f in futures.items()}


def _read_declared(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, p: Path) -> np.ndarray:
    """The array of a member whose header `_npy_declared` has checked; a deflated one is inflated
    straight into the array (`inflate.inflate_array`), the others read by NumPy's reader."""
    try:
        if not inflate.fast_path(info):
            with zf.open(info) as fh:
                return np.lib.format.read_array(fh, allow_pickle=False, max_header_size=NPY_MAX_HEADER_BYTES)
        with zf.open(info) as fh:
            shape, fortran, dtype = read_npy_header(fh)
            header_end = fh.tell()
        with open_regular(p) as raw:
            data = inflate.inflate_array(raw, info, header_end, math.prod(shape) * dtype.itemsize)
        return data.view(dtype).reshape(shape, order="F" if fortran else "C")
    except archives.ZIP_READ_ERRORS + inflate.INFLATE_ERRORS + (KeyError, OverflowError) as exc:
        raise InputError(
            f"Cannot read data: array {key!r} in {p} is truncated or corrupt ({short_error(exc)})",
            expected="a complete .npz archive",
            hint="Write the file again, or check that its copy or download finished",
        ) from None


def _corrupt(p: Path, exc: BaseException) -> InputError:
    return InputError(
        f"Cannot read data: {p} is truncated or corrupt ({short_error(exc)})",
        expected="a complete .npz archive",
        hint="Write the file again, or check that its copy or download finished",
    )


def npz_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name -> zip member, named as `np.load` names them (`x_train.npy` -> `x_train`)."""
    return {
        (i.filename[:-4] if i.filename.endswith(".npy") else i.filename): i for i in zf.infolist() if not i.is_dir()
    }


def _npy_declared(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    key: str,
    p: Path,
    archive_size: int,
    limit: int | None = MAX_ARRAY_BYTES,
) -> int:
    """Bytes the .npy header of a member declares, after checking that the member can hold them.

    Only the header is read: the dtype must be numeric, the shape within
    `MAX_ARRAY_BYTES`, and the member's declared size (from the zip directory,
    checked against the file and against what deflate can produce) must hold
    header and data. Nothing is allocated by a declared size before this.
    """
    where = f"array {key!r} in {p}"
    problem = archives.zip_member_problem(info, archive_size)
    if problem is not None:
        raise InputError(
            f"Cannot read data: {where} {problem}",
            expected="a complete .npz archive",
            hint="Write the file again, or check that its copy or download finished",
        )
    try:
        with zf.open(info) as fh:
            shape, _, dtype = read_npy_header(fh)
            header_end = fh.tell()
    except (ValueError, EOFError, SyntaxError, TypeError, RecursionError, tokenize.TokenError) as exc:
        hint = " (it looks like a Python pickle)" if _is_pickle_member(zf, info) else ""
        raise InputError(
            f"Cannot read data: {where} is not a .npy array{hint} ({short_error(exc)})",
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
            f"Cannot read data: {where} declares shape {tuple(shape)} of {dtype}, {archives.size_text(nbytes)}",
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
        raise InputError(
            f"Cannot read data: array {key!r} in {p} is a scalar",
            expected="one entry per image",
            received=f"shape {shape}",
        )
