"""CIFAR-10 as Keras stores it: the official pickled batches, the tarball, the Keras cache and download.

Pickle is used only for the official batches (`data_batch_1..5`, `test_batch`),
through an unpickler that can rebuild NumPy arrays and nothing else. Arrays come
back exactly as `keras.datasets.cifar10.load_data()` returns them: images uint8
(N, 32, 32, 3), labels uint8 (N, 1). `load_cifar10` falls back to the bundled
sample when neither the cache nor the download has the data. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import pickle
import stat
import sys
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..sanitize import one_line
from . import archives
from .base import LoadedData, loaded_arrays, short_error
from .npz import load_npz
from .regular import open_regular

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
#: Largest CIFAR-10 batch file read whole: an official batch is 31 MB (10,000 images and
#: their labels); twice that leaves room for batches re-saved by other tools.
MAX_BATCH_BYTES = 64 << 20
#: Bytes read from a tarball: the official cifar-10-python.tar.gz unpacks to 178 MB, and
#: reading stops as soon as its six batches are found.
MAX_TAR_BYTES = 256 << 20
#: Entries read from a tarball: the official one has 9.
MAX_TAR_MEMBERS = 1_000


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
def datasets_dir(home: Path) -> Path:
    return home / "datasets"


def cache_candidates() -> list[Path]:
    """Where Keras versions leave CIFAR-10, newest layout first; extracted folders before tarballs."""
    homes = [keras_home()]
    tmp_home = Path("/tmp/.keras")  # Keras' get_file falls back here when the cache is not writable
    if tmp_home not in homes:
        homes.append(tmp_home)
    out: list[Path] = []
    for home in homes:
        d = datasets_dir(home)
        out += [d / KERAS_EXTRACT_DIR / BATCHES_DIR, d / BATCHES_DIR, d / KERAS_ARCHIVE_NAME]
        out += [d / name for name in LEGACY_ARCHIVE_NAMES]
    return out


def download() -> Path:
    """Fetch the CIFAR-10 tarball to where Keras would save it, verifying Keras' sha256.

    Nothing is written unless the server answers; the file appears under its final
    name only once complete and verified.
    """
    import urllib.request

    with urllib.request.urlopen(CIFAR10_URL, timeout=DOWNLOAD_TIMEOUT_S) as resp:
        target_dir = datasets_dir(keras_home())
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(target_dir, os.W_OK):
                raise PermissionError(f"{target_dir} is not writable")
        except OSError:  # Keras' get_file falls back to /tmp/.keras the same way
            target_dir = datasets_dir(Path("/tmp/.keras"))
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
                raise ValueError(f"sha256 {hasher.hexdigest()[:12]}... differs from Keras' {CIFAR10_SHA256[:12]}...")
            os.replace(partial, target)
        finally:
            if partial.exists():  # our own partial download, never a user's file
                partial.unlink()
    return target


def load_sample(reasons: list[str]) -> LoadedData:
    if not SAMPLE_PATH.exists():
        raise InputError(
            "Cannot load CIFAR-10: " + "; ".join(reasons) + f"; and the bundled sample {SAMPLE_PATH} is missing",
            expected="CIFAR-10 in the Keras cache (~/.keras/datasets) or a file given with --data",
            hint="Run python -c 'import keras; keras.datasets.cifar10.load_data()' once, or pass --data",
        )
    loaded = load_npz(SAMPLE_PATH, read_head(SAMPLE_PATH))
    n_train, n_test = len(loaded.arrays["x_train"]), len(loaded.arrays["x_test"])
    notice = (
        f"Notice: CIFAR-10 {'; '.join(reasons)}: using the bundled CIFAR-10 sample "
        f"({n_train} train / {n_test} test images, exact pixels). For the full dataset, run "
        "keras.datasets.cifar10.load_data() once or pass --data."
    )
    print(one_line(notice), file=sys.stderr)
    loaded.description.update(kind="bundled-sample", source="bundled-sample")
    loaded.description["notices"].append(notice)
    return loaded


# --- the official pickled batches ---------------------------------------------------------------
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and NumPy arrays; refuses every other global.

    The official batches (Python 2 pickles) need only the NumPy names. `_codecs.encode`
    (str -> bytes, no side effects) is how Python 3 writes bytes at protocol 2, as in
    batches re-saved by other tools.
    """

    ALLOWED = frozenset(
        {
            ("_codecs", "encode"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
        }
    )

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
        raise InputError(
            f"{bad} ({short_error(exc)})",
            expected="the pickled batches of cifar-10-python.tar.gz",
            hint="Download the Python version from https://www.cs.toronto.edu/~kriz/cifar.html",
        ) from None
    if not isinstance(d, dict):
        raise InputError(bad, expected="a pickled dict with 'data' and 'labels'", received=type(d).__name__)
    d = {k.decode("utf8", "replace") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or not isinstance(labels, (list, tuple, np.ndarray)):
        keys = sorted(k for k in d if isinstance(k, str))[:10]
        raise InputError(bad, expected="'data' (N, 3072) uint8 and 'labels'", received=f"keys {keys}")
    if data.nbytes > len(raw):  # an array built from a declared shape, not from bytes in the file
        raise InputError(
            bad,
            expected="'data' whose pixels are in the file",
            received=f"'data' declaring shape {tuple(data.shape)} ({archives.size_text(data.nbytes)}) "
            f"in a file of {archives.size_text(len(raw))}",
        )
    one_d = isinstance(labels, (list, tuple)) or labels.ndim == 1
    n_labels = len(labels) if one_d else -1
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or n_labels != len(data) or data.dtype.kind not in "biu":
        raise InputError(
            bad,
            expected="'data' of shape (N, 3072) uint8 and N labels",
            received=f"data shape {tuple(data.shape)} of {data.dtype}, "
            f"labels of shape {np.shape(labels) if isinstance(labels, np.ndarray) else n_labels}",
        )
    try:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "biu":
            raise TypeError(f"labels of dtype {labels.dtype}")
        low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(bad, expected="integer labels 0..9", received=short_error(exc)) from None
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
    return loaded_arrays(arrays, kind, p, notices)


def load_batches_dir(p: Path) -> LoadedData:
    parsed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in (*TRAIN_BATCHES, TEST_BATCH):
        f = p / name
        if is_file(f):
            try:
                size = f.stat().st_size
                _check_batch_size(size, str(f))
                with open_regular(f) as fh:
                    raw = fh.read(MAX_BATCH_BYTES + 1)
            except OSError as exc:
                raise InputError(
                    f"Cannot read data: {f}: {exc.strerror or exc}",
                    expected="a readable file",
                    hint="Check the file's permissions",
                ) from None
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


def load_tarball(p: Path) -> LoadedData:
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
        with open_regular(p) as raw:
            stream = archives.BoundedReader(archives.decompressed(raw, read_head(p)), MAX_TAR_BYTES, "it")
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for count, member in enumerate(tar, start=1):
                    if count > MAX_TAR_MEMBERS:
                        raise InputError(
                            f"{bad}: it has more than {MAX_TAR_MEMBERS} members",
                            expected=expected,
                            hint="Point --data at the cifar-10-python.tar.gz itself",
                        )
                    if archives.unsafe_name(member.name):
                        raise InputError(
                            f"{bad}: it holds a member with an unsafe path",
                            expected=expected,
                            received=repr(member.name[:200]),
                            hint="Do not extract it; download the official tarball",
                        )
                    base = member.name.rsplit("/", 1)[-1]
                    if base in wanted and (member.issym() or member.islnk()):
                        raise InputError(
                            f"{bad}: its {member.name} is a link, not a file",
                            expected=expected,
                            received=f"a link to {member.linkname[:200]!r}",
                        )
                    if base in wanted or member.size > MAX_TAR_BYTES:
                        _check_batch_size(member.size, f"{p}:{member.name[:200]}")
                    if member.isfile() and base in wanted and base not in parsed:
                        fobj = tar.extractfile(member)
                        if fobj is not None:  # parsed at once: one batch's bytes in memory at a time
                            parsed[base] = _parse_batch(fobj.read(), base, f"{p}:{member.name}")
                        if len(parsed) == len(wanted):
                            break
    except archives.ArchiveError as exc:
        raise InputError(f"{bad}: {exc}", expected=f"{expected} (178 MB unpacked)", hint="Download it again") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise InputError(
            f"Cannot read data: {p} is not a readable tar archive ({short_error(exc)})",
            expected=expected,
            hint="Download it again; the file may be truncated",
        ) from None
    return _from_batches(parsed, "cifar-10-tarball", p)


def is_tarball(p: Path, head: bytes) -> bool:
    """A gzip stream, a `.tar`/`.tar.gz`/`.tgz` name, or a POSIX tar header."""
    name = p.name.lower()
    if head.startswith(b"\x1f\x8b") or name.endswith((".tar.gz", ".tgz", ".tar")):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def read_head(p: Path) -> bytes:
    """The first 512 bytes of a file (enough for every magic number and a tar header)."""
    try:
        with open_regular(p) as f:
            return f.read(512)
    except OSError as exc:
        raise InputError(f"Cannot read data: {p}: {exc.strerror or exc}", hint="Check the file's permissions") from None


def is_file(p: Path) -> bool:
    """A regular file (links followed); `False` for anything that cannot be looked at."""
    try:
        return stat.S_ISREG(p.stat().st_mode)
    except OSError:
        return False


def is_dir(p: Path) -> bool:
    """A folder (links followed); `False` for anything that cannot be looked at."""
    try:
        return stat.S_ISDIR(p.stat().st_mode)
    except OSError:
        return False


class TarballReader:
    """The `cifar-10-python.tar.gz` tarball (or Keras' saved copy of it), read in memory."""

    name = "cifar-10-tarball"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is not None and is_tarball(path, head)

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        return load_tarball(path)


class BatchesFolderReader:
    """A `cifar-10-batches-py` folder, or a folder holding one (also in Keras' extraction folder)."""

    name = "cifar-10-batches-py"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is None and self._folder(path) is not None

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        folder = self._folder(path)
        assert folder is not None
        return load_batches_dir(folder)

    @staticmethod
    def _folder(p: Path) -> Path | None:
        if is_file(p / TEST_BATCH) or any(is_file(p / b) for b in TRAIN_BATCHES):
            return p
        for sub in (p / BATCHES_DIR, p / KERAS_EXTRACT_DIR / BATCHES_DIR):
            if is_dir(sub):
                return sub
        return None


TARBALL_READER = TarballReader()
BATCHES_READER = BatchesFolderReader()
