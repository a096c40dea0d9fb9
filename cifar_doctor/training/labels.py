"""Training labels read from a file, for `compare --train-labels` (e.g. real human label noise).

`read_train_labels("labels.npz:worse", y_train)` returns the labels of the key `worse`
(or of an `.npy` file) checked against the training split they replace: one integer label
per training image, in the classes the split already has. Only a regular file within
`MAX_LABEL_FILE_BYTES` is opened, and it is read by the data readers (`sources.npy`,
`sources.npz`): without pickle, and only after its header declares a numeric array the file
can hold, so a forged header or a deflate bomb allocates nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..sources import archives
from ..sources.npy import NpySource, read_layout
from ..sources.npz import MAX_KEYS_SHOWN, ZIP_MAGIC, npz_members, read_npz_member
from ..sources.regular import NotRegular, open_regular, require_regular

__all__ = ["MAX_LABEL_FILE_BYTES", "read_train_labels", "split_spec"]

#: Largest labels file read: int64 labels of 8 million training images. A label
#: vector is small next to its images; a larger file is not one.
MAX_LABEL_FILE_BYTES = 64 << 20

#: The key read from an `.npz` holding several arrays when none is named.
DEFAULT_KEY = "y_train"

EXPECTED = "an .npy file, or an .npz file and a key (FILE.npz:KEY), holding one integer label per training image"


def split_spec(spec: str) -> tuple[Path, str | None]:
    """(path, key) from `FILE` or `FILE.npz:KEY` (a path that exists as given wins over a key)."""
    path = Path(spec)
    if path.exists() or ":" not in spec:
        return path, None
    head, _, key = spec.rpartition(":")
    return Path(head), key or None


def _load(path: Path, key: str | None) -> np.ndarray:
    """The array of an `.npy` file or of an `.npz` key, read by the data readers' bounded readers."""
    try:
        st = require_regular(path)
        with open_regular(path) as fh:
            head = fh.read(4)
    except NotRegular as exc:
        raise InputError(
            f"Cannot read the training labels {path}", expected=EXPECTED, received=f"{path}: {exc.kind}"
        ) from None
    except OSError as exc:
        raise InputError(
            f"Cannot read the training labels {path}", expected=EXPECTED, received=f"{path}: {exc.strerror or exc}"
        ) from None
    if st.st_size > MAX_LABEL_FILE_BYTES:
        raise InputError(
            f"The training labels file {path} is too large",
            expected=f"at most {MAX_LABEL_FILE_BYTES >> 20} MiB",
            received=f"{st.st_size:,} bytes",
        )
    if head.startswith(ZIP_MAGIC):
        return _npz_array(path, key)
    if key is not None:
        raise InputError(
            f"The training labels {path} are one array, not an .npz with keys",
            expected=EXPECTED,
            received=f"{path}:{key}",
        )
    # header first: numeric, C order, and the file holds what it declares (at most its own size)
    return NpySource(read_layout(path)).read_all()


def _npz_array(path: Path, key: str | None) -> np.ndarray:
    """The array `key` of the npz at `path` (the only one, or `DEFAULT_KEY`, when `key` is None)."""
    try:
        zf = archives.open_zip(path)
    except archives.ZIP_READ_ERRORS as exc:  # ArchiveError is a ValueError
        raise InputError(
            f"Cannot read the training labels {path}",
            expected=EXPECTED,
            received=f"{type(exc).__name__}: {exc}".splitlines()[0][:200],
        ) from None
    with zf:
        members = npz_members(zf)
        names = list(members)
        if key is None:
            key = names[0] if len(names) == 1 else DEFAULT_KEY if DEFAULT_KEY in names else None
        if key is None or key not in members:
            raise InputError(
                f"The training labels file {path} has no key {key!r}" if key else f"Name the key of {path}",
                expected=f"{path}:KEY with KEY one of {', '.join(names[:MAX_KEYS_SHOWN])}",
                received=f"{path}" + (f":{key}" if key else f" with {len(names)} arrays"),
            )
        return read_npz_member(zf, members[key], key, path, limit=MAX_LABEL_FILE_BYTES)


def read_train_labels(spec: str, y_train: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The labels of `spec` in the shape and dtype of `y_train`, and how they differ from it.

    Args:
        spec: `FILE.npy`, or `FILE.npz:KEY` (`KEY` optional when the file holds one
            array or a `y_train`).
        y_train: The training labels they replace (integers, one per image).

    Returns:
        `(labels, summary)`: the labels, and `{"file", "key", "changed", "changed_fraction"}`.

    Raises:
        InputError: the file is missing, not a regular file, too large, pickled or
            malformed, or its labels do not fit the training split.
    """
    path, key = split_spec(spec)
    labels = _load(path, key)
    n = len(y_train)
    where = f"{path}" + (f":{key}" if key else "")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise InputError(
            f"The training labels {where} are not one integer label per image",
            expected="a 1-D integer array (class indices, not one-hot)",
            received=f"shape {labels.shape}, dtype {labels.dtype}",
        )
    if len(labels) != n:
        raise InputError(
            f"The training labels {where} do not match the training split",
            expected=f"{n:,} labels, one per training image, in the order of the data",
            received=f"{len(labels):,} labels",
        )
    given = np.asarray(y_train).reshape(-1)
    k = int(given.max()) + 1 if n else 0
    if n and (labels.min() < 0 or labels.max() >= k):
        raise InputError(
            f"The training labels {where} hold classes the data does not have",
            expected=f"class indices 0 to {k - 1}",
            received=f"{int(labels.min())} to {int(labels.max())}",
        )
    changed = int(np.count_nonzero(labels != given))
    summary = {
        "file": str(path),
        "key": key,
        "changed": changed,
        "changed_fraction": round(changed / n, 4) if n else 0.0,
    }
    return labels.astype(np.asarray(y_train).dtype).reshape(np.shape(y_train)), summary
