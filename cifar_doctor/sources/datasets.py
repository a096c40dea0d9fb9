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
import os
import pickle
import re
import sys
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

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
    """

    arrays: dict[str, np.ndarray]
    description: dict[str, Any] = field(default_factory=dict)


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
    if not p.exists():
        raise InputError(
            f"Cannot read data: {p} does not exist",
            expected="an .npz file, a cifar-10-batches-py folder or a cifar-10-python.tar.gz",
            hint="Check the path",
        )
    if p.is_dir():
        return _load_dir(p)
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
        npz = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        raise InputError(
            f"Cannot read data: {p} is truncated or corrupt ({_short(exc)})",
            expected="a complete .npz archive",
            hint="Write the file again, or check that its copy or download finished",
        ) from None
    with npz:
        found = list(npz.files)
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
                received=f"keys {sorted(found)}",
                hint="Rename the arrays, e.g. np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
            )
        arrays: dict[str, np.ndarray] = {}
        for canonical in CANONICAL_KEYS:
            if canonical not in mapping:
                continue
            key = mapping[canonical]
            try:
                arr = npz[key]
            except ValueError as exc:
                if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                    raise InputError(
                        f"Cannot read data: array {key!r} in {p} is a pickled object array",
                        expected="numeric arrays (loaded with allow_pickle=False, so files cannot run code)",
                        hint="Convert it before saving, e.g. np.stack(list_of_images).astype('uint8')",
                    ) from None
                raise InputError(f"Cannot read data: array {key!r} in {p} is corrupt ({_short(exc)})",
                                 hint="Write the file again") from None
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
                raise InputError(
                    f"Cannot read data: array {key!r} in {p} is truncated or corrupt ({_short(exc)})",
                    expected="a complete .npz archive",
                    hint="Write the file again, or check that its copy or download finished",
                ) from None
            arrays[canonical] = _check_numeric(arr, key, p)
    ignored = sorted(set(found) - set(mapping.values()))
    notices = [f"ignored keys: {', '.join(ignored)}"] if ignored else []
    renamed = {c: k for c, k in mapping.items() if c != k}
    return _finish(arrays, "npz", p, notices, renamed)


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


def _check_numeric(arr: np.ndarray, key: str, p: Path) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"Cannot read data: array {key!r} in {p} is not numeric",
            expected="integer, float or bool values",
            received=f"dtype {arr.dtype} with shape {tuple(arr.shape)}",
            hint="Convert it before saving, e.g. arr.astype('float32')",
        )
    if arr.ndim == 0:
        raise InputError(f"Cannot read data: array {key!r} in {p} is a scalar", expected="one entry per image",
                         received=f"shape {tuple(arr.shape)}")
    return arr


def _finish(arrays: dict[str, np.ndarray], kind: str, p: Path, notices: list[str],
            renamed: dict[str, str] | None = None) -> LoadedData:
    for split in ("train", "test", "val"):
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
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
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or labels is None:
        raise InputError(bad, expected="'data' (N, 3072) uint8 and 'labels'", received=f"keys {sorted(map(str, d))}")
    labels = np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data) or labels.ndim != 1:
        raise InputError(bad, expected="'data' of shape (N, 3072) and N labels",
                         received=f"data shape {tuple(data.shape)}, {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise InputError(bad, expected="labels 0..9", received=f"labels in [{labels.min()}, {labels.max()}]")
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
        if f.is_file():
            try:
                raw = f.read_bytes()
            except OSError as exc:
                raise InputError(f"Cannot read data: {f}: {exc.strerror or exc}") from None
            parsed[name] = _parse_batch(raw, name, f"{p}/{name}")
    return _from_batches(parsed, "cifar-10-batches-py", p)


def _load_tarball(p: Path) -> LoadedData:
    """Read the batches from a CIFAR-10 tarball in memory; nothing is extracted to disk."""
    wanted = {*TRAIN_BATCHES, TEST_BATCH}
    parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(p, "r:*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted and base not in parsed:
                    fobj = tar.extractfile(member)
                    if fobj is not None:  # parsed at once: one batch's bytes in memory at a time
                        parsed[base] = _parse_batch(fobj.read(), base, f"{p}:{member.name}")
    except (tarfile.TarError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"Cannot read data: {p} is not a readable tar archive ({_short(exc)})",
            expected="cifar-10-python.tar.gz as downloaded from https://www.cs.toronto.edu/~kriz/cifar.html",
            hint="Download it again; the file may be truncated",
        ) from None
    return _from_batches(parsed, "cifar-10-tarball", p)


def _load_dir(p: Path) -> LoadedData:
    if (p / TEST_BATCH).is_file() or any((p / b).is_file() for b in TRAIN_BATCHES):
        return _load_batches_dir(p)
    for sub in (p / BATCHES_DIR, p / KERAS_EXTRACT_DIR / BATCHES_DIR):
        if sub.is_dir():
            return _load_batches_dir(sub)
    for name in ("cifar10.npz", "cifar-10.npz", "cifar10_sample.npz"):
        if (p / name).is_file():
            return load_data_path(p / name)
    for name in (*LEGACY_ARCHIVE_NAMES, KERAS_ARCHIVE_NAME):
        if (p / name).is_file():
            return _load_tarball(p / name)
    entries = sorted(e.name for e in p.iterdir())[:10]
    raise InputError(
        f"Cannot read data: folder {p} holds no CIFAR-10 data",
        expected=f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH} (a cifar-10-batches-py folder), "
        "a cifar10.npz or a cifar-10-python.tar.gz",
        received=f"{entries or 'an empty folder'}",
        hint="Point --data at the file itself",
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
