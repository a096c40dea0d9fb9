"""Loading image data: one table of readers, walked first match wins, and CIFAR-10 itself.

`load_data_path` hands a path to the first reader in `DATA_READERS` whose
`sniff` accepts it: a file by its first bytes and name, a folder by what it
holds. The formats live in their own modules (`cifar_doctor.sources.npz`,
`cifar10`, `npy`, `folders`); a new one is a module with a reader plus one
line in the table. `load_cifar10` finds CIFAR-10 as Keras would.

Everything here is NumPy only: no TensorFlow or Keras import, so the data and
label checks stay fast. User files never execute code: npz files are read with
`np.load(..., allow_pickle=False)`, and pickle is used only for the official
CIFAR-10 batches, through an unpickler that can rebuild NumPy arrays and nothing else.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path
from typing import Protocol

from ..errors import InputError
from . import cifar10, folders, npy, npz, tfrecord
from .base import LoadedData, short_error
from .cifar10 import (
    BATCHES_DIR,
    KERAS_ARCHIVE_NAME,
    KERAS_EXTRACT_DIR,
    LEGACY_ARCHIVE_NAMES,
    TEST_BATCH,
    TRAIN_BATCHES,
    is_file,
    keras_home,
    read_head,
)
from .npz import CANONICAL_KEYS, KEY_ALIASES, REQUIRED_KEYS, canonical_key

__all__ = [
    "BATCHES_DIR",
    "CANONICAL_KEYS",
    "DATA_READERS",
    "KERAS_ARCHIVE_NAME",
    "KERAS_EXTRACT_DIR",
    "KEY_ALIASES",
    "LEGACY_ARCHIVE_NAMES",
    "REQUIRED_KEYS",
    "TEST_BATCH",
    "TRAIN_BATCHES",
    "DataReader",
    "LoadedData",
    "canonical_key",
    "keras_home",
    "load_cifar10",
    "load_data",
    "load_data_path",
]

#: Entries listed from a folder that holds no CIFAR-10 data, to name a few in the message.
MAX_LISTED_ENTRIES = 1_000

_NPY_MAGIC = b"\x93NUMPY"


class DataReader(Protocol):
    """One data format.

    Attributes:
        name: The format's name.
    """

    name: str

    def sniff(self, head: bytes | None, path: Path) -> bool:
        """Whether `path` is this format: a file by its first bytes (`head`), a folder (`head` is `None`) by its entries."""
        ...

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        """Its arrays (or samples of them, with the full sources)."""
        ...


class _SingleNpy:
    """A lone `.npy` file: refused with how to save the splits together."""

    name = "npy-file"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is not None and head.startswith(_NPY_MAGIC)

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        raise InputError(
            f"Cannot read data: {path} is a single .npy array",
            expected="an .npz holding x_train, y_train, x_test, y_test",
            hint="Save the splits together with np.savez('data.npz', x_train=..., y_train=..., x_test=..., y_test=...)",
        )


class _NamedInFolder:
    """A folder holding a `cifar10.npz` or a CIFAR-10 tarball under a known name: that file."""

    name = "named-file-in-folder"
    NPZ_NAMES = ("cifar10.npz", "cifar-10.npz", "cifar10_sample.npz")
    TARBALL_NAMES = (*LEGACY_ARCHIVE_NAMES, KERAS_ARCHIVE_NAME)

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is None and self._file(path) is not None

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        found = self._file(path)
        assert found is not None
        return load_data_path(found) if found.name in self.NPZ_NAMES else cifar10.load_tarball(found)

    def _file(self, p: Path) -> Path | None:
        return next((p / n for n in (*self.NPZ_NAMES, *self.TARBALL_NAMES) if is_file(p / n)), None)


class _NpyFolder:
    """A folder of `.npy` files named after the canonical keys (`x_train.npy`, `train_labels.npy`, ...)."""

    name = "npy-folder"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is None and bool(self._files(path))

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        return npy.load_npy_dir(path, self._files(path))

    @staticmethod
    def _files(p: Path) -> dict[str, Path]:
        return {key: p / n for n in _entries(p) if n.lower().endswith(".npy") and (key := canonical_key(n[:-4]))}


class _ImageFolders:
    """`train/` and `test/` (or `val/`) folders of class folders of images."""

    name = "image-folders"

    def sniff(self, head: bytes | None, path: Path) -> bool:
        return head is None and folders.find_split_folders(path) is not None

    def read(self, path: Path, head: bytes | None) -> LoadedData:
        found = folders.find_split_folders(path)
        assert found is not None
        return folders.load_image_folders(found, root=path)


#: The data formats, in the order they are tried: the first whose `sniff` accepts a path reads it.
DATA_READERS: tuple[DataReader, ...] = (
    npz.READER,
    _SingleNpy(),
    cifar10.TARBALL_READER,  # files, by their first bytes and name
    cifar10.BATCHES_READER,
    _NamedInFolder(),
    _NpyFolder(),
    tfrecord.READER,
    _ImageFolders(),  # folders, by their entries
)


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
        raise InputError(
            f"Cannot read data: {p}: {exc.strerror or exc}",
            expected="an .npz file, a cifar-10-batches-py folder or a cifar-10-python.tar.gz",
            hint="Check the path and its permissions",
        ) from None
    head = None if stat.S_ISDIR(st.st_mode) else b""
    if head is None:
        entries = _entries(p)  # an unreadable folder is refused before any reader looks
    elif not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"Cannot read data: {p} is not a regular file (a pipe, a device or a socket)",
            expected="an .npz file, a cifar-10-batches-py folder or a cifar-10-python.tar.gz",
            hint="Save the data to a file and pass its path",
        )
    else:
        head = read_head(p)
    for reader in DATA_READERS:
        if reader.sniff(head, p):
            return reader.read(p, head)
    if head is None:
        raise InputError(
            f"Cannot read data: folder {p} holds no image data",
            expected=f"{', '.join(TRAIN_BATCHES)} and {TEST_BATCH} (a cifar-10-batches-py folder), "
            "a cifar10.npz, a cifar-10-python.tar.gz, .npy files (x_train.npy, y_train.npy, x_test.npy, y_test.npy) "
            "or train/ and test/ (or val/) folders of class folders of images",
            received=f"{entries[:10] or 'an empty folder'}",
            hint=_dir_hint(entries),
        )
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
    for candidate in cifar10.cache_candidates():
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
        reasons.append(f"not in the Keras cache ({cifar10.datasets_dir(keras_home())})")

    if os.environ.get(cifar10.OFFLINE_ENV, "").strip() not in ("", "0"):
        reasons.append(f"download skipped ({cifar10.OFFLINE_ENV}=1)")
    else:
        try:
            archive = cifar10.download()
            loaded = load_data_path(archive)
            loaded.description["source"] = "keras-download"
            return loaded
        except (OSError, ValueError, InputError) as exc:
            reasons.append(f"download failed ({short_error(exc)})")
    return cifar10.load_sample(reasons)


def _entries(p: Path) -> list[str]:
    """The first `MAX_LISTED_ENTRIES` names in folder `p`, sorted."""
    try:
        with os.scandir(p) as it:
            return sorted(e.name for e in itertools.islice(it, MAX_LISTED_ENTRIES))
    except OSError as exc:
        raise InputError(
            f"Cannot read data: folder {p}: {exc.strerror or exc}",
            expected="a readable folder",
            hint="Check the folder's permissions",
        ) from None


def _dir_hint(entries: list[str]) -> str:
    if any(n.lower() in ("train", "training", "test", "val", "validation") for n in entries):
        return "Each of train/ and test/ (or val/) must hold one folder of images per class"
    return "Point --data at the file itself, or give image folders with --train DIR --eval DIR"
