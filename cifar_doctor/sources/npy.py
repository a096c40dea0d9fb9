"""`.npy` arrays larger than memory: read in chunks and sampled, never loaded whole.

A folder of `.npy` files (`x_train.npy`, `y_train.npy`, `x_test.npy`,
`y_test.npy`, optionally `x_val.npy`, `y_val.npy`, or the alternative names
`load_data_path` accepts) and the uncompressed members of a large `.npz`
are read with `os.pread` into a reused buffer, not through a memory map: the
pages a map touches count in the process's resident memory, so a full pass
over a memory-mapped 8 GB file would end at 8 GB RSS, while reading the
same bytes through the page cache keeps RSS at one chunk.

Labels are small (8 bytes per image at most) and are read whole; images
reach the checks as a stratified sample (`cifar_doctor.sources.sampling`)
plus an `NpySource` for the checks that read every image.
"""

from __future__ import annotations

import math
import os
import stat
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import sampling
from .base import CHUNK_IMAGES, LoadedData
from .regular import open_fd, open_regular
from .sampling import SampleInfo, sample_indices

#: Longest `.npy` header read: NumPy's own default (`max_header_size`) for untrusted files;
#: a plain array's header is under 200 bytes.
NPY_MAX_HEADER_BYTES = 10_000

#: Largest label array read whole: 100 million int64 labels. Labels of a
#: real dataset are a few MB; a header declaring more is forged.
MAX_LABEL_BYTES = 800_000_000

#: Largest image array described by a header: 16 TB. Only chunks and the
#: sample are ever allocated, so this bounds nothing but absurd headers.
MAX_IMAGE_BYTES = 1 << 44


@dataclass(frozen=True)
class NpyLayout:
    """Where an array's bytes lie in a file: after a header, C order."""

    path: Path
    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def row_bytes(self) -> int:
        return math.prod(self.shape[1:]) * self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.row_bytes if self.shape else self.dtype.itemsize


def read_npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) from the `.npy` header at `fh`'s position, leaving `fh` at the data.

    Raises:
        ValueError: not an `.npy` header of format 1.0 or 2.0 (3.0 holds non-Latin-1 field
            names, i.e. a structured array), or longer than `NPY_MAX_HEADER_BYTES`.
    """
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh, max_header_size=NPY_MAX_HEADER_BYTES)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fh, max_header_size=NPY_MAX_HEADER_BYTES)
    raise ValueError(f"npy format version {version[0]}.{version[1]}")


def read_layout(path: Path, *, base: int = 0, name: str | None = None) -> NpyLayout:
    """The layout of the `.npy` array starting at byte `base` of `path` (a member of a stored zip, or 0).

    Raises:
        InputError: not a numeric C-order `.npy`, or the file is shorter than its header declares.
    """
    where = f"{name!r} in {path}" if name else str(path)
    try:
        with open_regular(path) as fh:
            fh.seek(base)
            shape, fortran, dtype = read_npy_header(fh)
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
    except (ValueError, EOFError, SyntaxError, TypeError, RecursionError, tokenize.TokenError) as exc:
        raise InputError(
            f"Cannot read data: {where} is not a .npy array ({str(exc)[:120]})",
            expected="arrays written by np.save (read with allow_pickle=False)",
            hint="Save each array with np.save('x_train.npy', x_train)",
        ) from None
    except OSError as exc:
        raise InputError(
            f"Cannot read data: {where}: {exc.strerror or exc}",
            expected="a readable .npy file",
            hint="Check the path and its permissions",
        ) from None
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InputError(
            f"Cannot read data: {where} is not a numeric array",
            expected="integer, float or bool values",
            received=f"dtype {dtype} with shape {tuple(shape)}",
            hint="Save numeric arrays, e.g. np.save('x_train.npy', x.astype('uint8'))",
        )
    if fortran and len(shape) > 1:
        raise InputError(
            f"Cannot read data: {where} is stored in Fortran order",
            expected="a C-order array, whose images lie one after another in the file",
            hint="Save it again with np.save(path, np.ascontiguousarray(x))",
        )
    layout = NpyLayout(Path(path), offset, tuple(int(s) for s in shape), dtype)
    if not layout.shape:
        raise InputError(f"Cannot read data: {where} is a scalar", expected="an array with one row per image")
    if layout.nbytes > MAX_IMAGE_BYTES:
        raise InputError(
            f"Cannot read data: {where} declares shape {layout.shape}",
            expected="a real dataset",
            hint="A header this large is corrupt or forged; save the array again",
        )
    if size < offset + layout.nbytes:
        raise InputError(
            f"Cannot read data: {where} declares shape {layout.shape} of {dtype} but the file is short "
            f"by {offset + layout.nbytes - size:,} bytes",
            expected="a complete file",
            hint="Write the file again, or check that its copy finished",
        )
    return layout


class NpySource:
    """A `DataSource` over the rows of an `.npy` array on disk, read with `os.pread`."""

    def __init__(self, layout: NpyLayout, description: str | None = None) -> None:
        self.layout = layout
        self.count = layout.shape[0]
        self.description = description or f"{layout.path.name} (read in chunks)"

    def _rows(self, fd: int, start: int, n: int) -> np.ndarray:
        lay = self.layout
        want = n * lay.row_bytes
        buf = os.pread(fd, want, lay.offset + start * lay.row_bytes)
        if len(buf) < want:
            raise InputError(
                f"Cannot read data: {lay.path} ended early while reading row {start:,}",
                expected="a file that is not being written or truncated",
                hint="Run again once the file is complete",
            )
        return np.frombuffer(buf, dtype=lay.dtype).reshape((n, *lay.shape[1:]))

    def chunks(self, size: int = CHUNK_IMAGES) -> Iterator[np.ndarray]:
        fd = open_fd(self.layout.path)
        try:
            for start in range(0, self.count, size):
                yield self._rows(fd, start, min(size, self.count - start))
        finally:
            os.close(fd)

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Rows `start..stop` in one read (a runner's work item)."""
        if not 0 <= start <= stop <= self.count:
            raise IndexError(f"rows {start}..{stop} out of range for {self.count} rows")
        fd = open_fd(self.layout.path)
        try:
            return self._rows(fd, start, stop - start)
        finally:
            os.close(fd)

    def take(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.count):
            raise IndexError(f"row index out of range for {self.count} rows")
        out = np.empty((len(idx), *self.layout.shape[1:]), dtype=self.layout.dtype)
        order = np.argsort(idx, kind="stable")
        fd = open_fd(self.layout.path)
        try:
            k = 0
            while k < len(order):  # coalesce runs of consecutive rows into one read
                run = 1
                while k + run < len(order) and idx[order[k + run]] == idx[order[k]] + run:
                    run += 1
                rows = self._rows(fd, int(idx[order[k]]), run)
                out[order[k : k + run]] = rows
                k += run
        finally:
            os.close(fd)
        return out

    def read_all(self, limit: int = MAX_LABEL_BYTES) -> np.ndarray:
        """The whole array (labels), refused above `limit` bytes."""
        if self.layout.nbytes > limit:
            raise InputError(
                f"Cannot read data: {self.layout.path} declares {self.layout.nbytes:,} bytes of labels",
                expected=f"at most {limit:,}",
                hint="Check that the labels file is the right one",
            )
        return (
            np.concatenate(list(self.chunks(max(self.count, 1))))
            if self.count
            else np.empty(self.layout.shape, self.layout.dtype)
        )


def memmap_source(a: np.ndarray) -> NpySource | None:
    """An `NpySource` over the file behind a NumPy memmap (`np.load(..., mmap_mode="r")`), or `None`."""
    mm = a
    while isinstance(base := getattr(mm, "base", None), np.ndarray):  # the map itself, under any slices of it
        mm = base
    filename = getattr(mm, "filename", None)
    if not isinstance(mm, np.memmap) or filename is None:
        return None
    if not a.flags.c_contiguous or a.ndim < 2:
        return None
    try:  # the file position of a's first byte: the map's offset plus a's distance into the map
        start = int(mm.offset) + a.__array_interface__["data"][0] - mm.__array_interface__["data"][0]
    except (AttributeError, KeyError, TypeError):
        return None
    layout = NpyLayout(Path(filename), int(start), tuple(a.shape), a.dtype)
    try:
        st = os.stat(layout.path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size < layout.offset + layout.nbytes:
        return None
    return NpySource(layout, f"{layout.path.name} (memory-mapped, read in chunks)")


def _member_offset(path: Path, info) -> int:
    """Where a stored zip member's bytes start: after its local header, whose name and extra field vary."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise InputError(
            f"Cannot read data: {path} has a damaged zip entry {info.filename!r}",
            expected="a complete .npz archive",
            hint="Write the file again",
        )
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len


def load_npz_members(p: Path, members: dict, mapping: dict[str, str], sample_size: int | None = None):
    """A large npz whose image members are stored uncompressed: read like a folder of `.npy` files."""
    layouts = {
        c: read_layout(p, base=_member_offset(p, info), name=mapping[c])
        for c, info in members.items()
        if c.startswith("x_")
    }
    labels = {}
    import zipfile

    with zipfile.ZipFile(p) as zf:
        for c, info in members.items():
            if c.startswith("y_"):
                if info.file_size > MAX_LABEL_BYTES:
                    raise InputError(
                        f"Cannot read data: labels {mapping[c]!r} in {p} hold {info.file_size:,} bytes",
                        expected=f"at most {MAX_LABEL_BYTES:,}",
                        hint="Check that the labels are right",
                    )
                with zf.open(info) as fh:
                    labels[c] = np.lib.format.read_array(fh, allow_pickle=False, max_header_size=NPY_MAX_HEADER_BYTES)
    out = _sampled(p, layouts, labels, sample_size, kind="npz")
    out.description["notices"].append("images read in chunks (stored npz members)")
    return out


def load_npy_dir(p: Path, files: dict[str, Path], sample_size: int | None = None):
    """A folder of `.npy` files, one per canonical key: labels read whole, images sampled.

    Args:
        p: The folder, for messages.
        files: Canonical key (`x_train`, `y_train`, ...) -> `.npy` path.
        sample_size: Images per split in the sample. Defaults to `SAMPLE_IMAGES`.

    Returns:
        A `cifar_doctor.sources.base.LoadedData` whose `arrays` hold the
        sample and whose `full`/`samples` say where the rest is.
    """
    layouts: dict[str, NpyLayout] = {}
    labels: dict[str, np.ndarray] = {}
    for split in ("train", "test", "val"):
        xk, yk = f"x_{split}", f"y_{split}"
        if xk not in files and yk not in files:
            continue
        if (xk in files) != (yk in files):
            missing = yk if xk in files else xk
            raise InputError(
                f"Cannot read data: folder {p} has {xk if xk in files else yk}.npy but no {missing}.npy",
                expected="images and labels of each split, e.g. x_train.npy and y_train.npy",
                hint=f"Save the missing array with np.save('{missing}.npy', ...)",
            )
        layouts[xk] = read_layout(files[xk], name=files[xk].name)
        labels[yk] = NpySource(read_layout(files[yk], name=files[yk].name)).read_all()
    out = _sampled(p, layouts, labels, sample_size, kind="npy-folder")
    out.description["files"] = {k: v.name for k, v in sorted(files.items())}
    return out


def _sampled(p: Path, layouts: dict[str, NpyLayout], labels: dict[str, np.ndarray], sample_size: int | None, kind: str):
    """Stratified samples of the images at `layouts`, with their labels, as a `LoadedData`."""

    n = sample_size or sampling.SAMPLE_IMAGES  # read when called: tests lower it
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, NpySource] = {}
    samples: dict[str, SampleInfo] = {}
    shapes: dict[str, list[int]] = {}
    dtypes: dict[str, str] = {}
    for split in ("train", "test", "val"):
        xk, yk = f"x_{split}", f"y_{split}"
        if xk not in layouts or yk not in labels:
            continue
        xs, y_all = NpySource(layouts[xk]), labels[yk]
        if len(xs.layout.shape) < 3:
            raise InputError(
                f"Cannot read data: {xk} in {p} has shape {xs.layout.shape}",
                expected="images (N, H, W, C), (N, C, H, W) or (N, H, W)",
                hint="Save the images, not flattened vectors",
            )
        if len(y_all) != xs.count:
            raise InputError(
                f"Cannot read data: {xk} and {yk} in {p} have different lengths",
                expected="one label per image",
                received=f"{xs.count:,} images and {len(y_all):,} labels",
                hint="Save the images and labels of each split together, in the same order",
            )
        idx, method = sample_indices(xs.count, n, y_all)
        arrays[xk] = xs.take(idx)
        arrays[yk] = y_all[idx]
        sources[split] = xs
        samples[split] = SampleInfo(xs.count, len(idx), method, indices=idx)
        shapes[xk], shapes[yk] = list(xs.layout.shape), list(y_all.shape)
        dtypes[xk], dtypes[yk] = str(xs.layout.dtype), str(y_all.dtype)
    description = {"kind": kind, "path": str(p), "shapes": shapes, "dtypes": dtypes, "notices": []}
    return LoadedData(arrays, description, full=sources, samples=samples)
