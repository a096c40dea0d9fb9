"""Image folders in the layout `keras.utils.image_dataset_from_directory` reads.

    photos/train/cat/0001.png        photos/test/cat/0007.png
    photos/train/dog/0002.jpg        photos/test/dog/0008.jpg

A root holds a training folder (`train`, `training`) and an eval folder
(`test`, `val`, `validation`, `valid`), each a folder of class folders; or
the two are given apart (`--train DIR --eval DIR`). As in Keras, class ids
are the positions of the class folder names in sorted order, *per split*:
a class folder missing from one split shifts every later id of that split.

Images are decoded with Pillow (no TensorFlow): JPEG, PNG, BMP and GIF (the
first frame), the formats Keras reads. What the checks see is what
`image_dataset_from_directory` feeds with its defaults: RGB (`color_mode`
`"rgb"`: grayscale and palette images are converted, alpha dropped), values
0-255, every image resized to one size. That size is the most common one
of the training sample (Keras' default is 256x256; a folder of 32x32 CIFAR
PNGs is kept at 32x32 so that nothing is invented). A sample stratified by
class feeds the statistics; the duplicate checks decode every image.

What reading found (class folders per split, files that do not decode,
colour modes and sizes) is kept in a `FolderScan` for the DAT checks.
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..sanitize import one_line
from . import sampling
from .base import CHUNK_IMAGES, LoadedData
from .regular import open_regular, require_regular
from .sampling import SampleInfo, sample_indices

#: File extensions read, as `keras.utils.image_dataset_from_directory` allows them.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

#: Folder names of each split, in order of preference.
TRAIN_NAMES = ("train", "training")
EVAL_NAMES = {"test": ("test", "testing"), "val": ("val", "validation", "valid", "dev")}

#: Largest image file decoded: 64 MB. A real photo is a few MB; a bigger file is skipped and listed.
MAX_IMAGE_FILE_BYTES = 64 << 20

#: Largest decoded image: 50 megapixels (an 8K frame is 33). Pillow's own bomb guard,
#: made an error, so a forged header cannot make the tool allocate gigabytes.
MAX_IMAGE_PIXELS = 50_000_000

#: Decoded pixels the samples of all splits may take together: 100 million, the pixels of
#: 97,000 CIFAR images or 1,500 images of 256x256, a few seconds of decoding. Counted from
#: the files' headers before any is decoded; past it an evenly spaced part of each split's
#: sample is decoded (five 49-megapixel PNGs of 150 kB each would take 2 GB and minutes).
MAX_SAMPLE_PIXELS = 100_000_000

#: Largest size images are fed at: 262,144 pixels (512x512). Below it, the most common size of
#: the training images, as before; above it, that size scaled down with its aspect ratio kept
#: (Keras' own default is 256x256), so that a sample of 49-megapixel images is not held, and
#: small images are not enlarged to 49 megapixels each.
MAX_TARGET_PIXELS = 512 * 512

#: Decoded pixels a full pass over one split may take (the duplicate checks read every image,
#: one chunk at a time, once per check): 60 million, CIFAR-10's 50,000 training images
#: (51 million) with room to spare. Estimated from the sample's headers; a split above it is
#: searched for duplicates in its sample only, and a notice says so.
MAX_FULL_PASS_PIXELS = 60_000_000

#: Files listed per split before giving up: 20 million, far above any image-folder dataset
#: (ImageNet's training set has 1.28 million), so listing stays bounded.
MAX_FILES = 20_000_000

#: Unreadable files and odd images named in the evidence.
MAX_LISTED = 10


@dataclass
class SplitScan:
    """What one split's folder holds.

    Args:
        name: `train`, `test` or `val`.
        path: Its folder.
        classes: Class folder names, sorted (class id = position).
        counts: Image files per class, in that order.
        ignored: Files with other extensions, not read.
        unreadable: `(path, reason)` of files that did not decode, among those read.
        modes: Pillow mode (`RGB`, `L`, `RGBA`, `P` ...) -> images, among those read.
        sizes: `(height, width)` -> images, among those read.
        mode_by_class: Class name -> Counter of modes, among those read.
        read: Images decoded (the sample, or every image after a full pass).
    """

    name: str
    path: Path
    classes: list[str]
    counts: list[int]
    ignored: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    modes: Counter = field(default_factory=Counter)
    sizes: Counter = field(default_factory=Counter)
    mode_by_class: dict[str, Counter] = field(default_factory=dict)
    read: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "classes": len(self.classes),
            "images": self.total,
            "ignored": self.ignored,
            "read": self.read,
            "unreadable": len(self.unreadable),
            "modes": dict(self.modes),
            "sizes": {f"{h}x{w}": n for (h, w), n in self.sizes.most_common(MAX_LISTED)},
        }


@dataclass
class FolderScan:
    """What reading an image-folder dataset found, split by split, and the size every image was fed at."""

    splits: dict[str, SplitScan]
    target_size: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "splits": {k: v.to_dict() for k, v in self.splits.items()},
            "target_size": list(self.target_size) if self.target_size else None,
        }


def find_split_folders(root: Path) -> dict[str, Path] | None:
    """`{"train": ..., "test"/"val": ...}` under `root`, or `None` when it is not an image-folder root."""
    found: dict[str, Path] = {}
    names = {n.lower(): n for n in _listdir(root)}
    for n in TRAIN_NAMES:
        if n in names and (root / names[n]).is_dir():
            found["train"] = root / names[n]
            break
    for split, options in EVAL_NAMES.items():
        for n in options:
            if n in names and (root / names[n]).is_dir():
                found[split] = root / names[n]
                break
    if "train" not in found or len(found) < 2:
        return None
    if not any(_class_dirs(found["train"])):
        return None
    return found


def _listdir(p: Path) -> list[str]:
    try:
        with os.scandir(p) as it:
            return sorted(e.name for e in it)
    except OSError as exc:
        raise InputError(
            f"Cannot read data: folder {p}: {exc.strerror or exc}",
            expected="a readable folder",
            hint="Check the folder's permissions",
        ) from None


def _class_dirs(p: Path) -> list[str]:
    out = []
    for name in _listdir(p):
        if name.startswith("."):
            continue
        try:
            if stat.S_ISDIR((p / name).stat().st_mode):
                out.append(name)
        except OSError:
            continue
    return out


def scan_split(name: str, path: Path) -> tuple[SplitScan, list[Path], np.ndarray]:
    """List a split's class folders and image files (sorted, as Keras orders them), with class ids."""
    classes = _class_dirs(path)
    if not classes:
        raise InputError(
            f"Cannot read data: {path} holds no class folders",
            expected="one folder per class, e.g. train/cat/*.png, train/dog/*.png",
            received=f"{_listdir(path)[:8] or 'an empty folder'}",
            hint="Arrange the images as image_dataset_from_directory expects",
        )
    files: list[Path] = []
    ids: list[int] = []
    counts: list[int] = []
    ignored = 0
    for cid, cls in enumerate(classes):
        n = 0
        for dirpath, dirnames, filenames in os.walk(path / cls, followlinks=False):
            dirnames.sort()
            for fname in sorted(filenames):
                if fname.lower().endswith(IMAGE_EXTENSIONS):
                    files.append(Path(dirpath) / fname)
                    ids.append(cid)
                    n += 1
                else:
                    ignored += 1
                if len(files) > MAX_FILES:
                    raise InputError(
                        f"Cannot read data: {path} holds more than {MAX_FILES:,} files",
                        expected="an image-folder dataset",
                        hint="Point --data at the dataset's root",
                    )
        counts.append(n)
    if not files:
        raise InputError(
            f"Cannot read data: the class folders of {path} hold no images",
            expected=f"image files ({', '.join(IMAGE_EXTENSIONS)})",
            received=f"{ignored} other files",
            hint="Check the path",
        )
    return SplitScan(name, path, classes, counts, ignored=ignored), files, np.asarray(ids, dtype=np.int64)


def _decode(path: Path) -> tuple[Any, str]:
    """A Pillow image (loaded) and its original mode, or raises `Unreadable`."""
    try:
        size = require_regular(path).st_size
    except OSError as exc:
        raise Unreadable(exc.strerror or str(exc)) from None
    if size > MAX_IMAGE_FILE_BYTES:
        raise Unreadable(f"file of {size:,} bytes, above {MAX_IMAGE_FILE_BYTES:,}")
    try:
        fh = open_regular(path)
    except OSError as exc:
        raise Unreadable(exc.strerror or str(exc)) from None
    with fh:
        return decode_stream(fh)


def decode_stream(fh: Any) -> tuple[Any, str]:
    """A Pillow image (loaded) and its original mode from an open binary stream (a file, the bytes of an
    encoded image), or raises `Unreadable`; images above `MAX_IMAGE_PIXELS` are refused before decoding."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fh) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise Unreadable(f"{img.width}x{img.height} pixels, above {MAX_IMAGE_PIXELS:,}")
                img.load()
                return img.copy(), img.mode
    except Unreadable:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        EOFError,
    ) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise Unreadable(reason) from None


class Unreadable(Exception):
    """An image that does not decode (the message says why)."""


def as_array(img: Any, size: tuple[int, int]) -> np.ndarray:
    """RGB uint8 (H, W, 3) at `size`, as `image_dataset_from_directory(color_mode="rgb")` feeds it."""
    from PIL import Image

    if img.mode != "RGB":
        img = img.convert("RGB")
    if (img.height, img.width) != size:
        # Pillow copies Image.Resampling's members onto the module at import; its types declare only the enum
        img = img.resize((size[1], size[0]), Image.BILINEAR)  # type: ignore[attr-defined]
    return np.asarray(img, dtype=np.uint8)


class FolderSource:
    """A `DataSource` over a split's image files: decoded, RGB, at the target size."""

    def __init__(self, scan: SplitScan, files: list[Path], target: tuple[int, int]) -> None:
        self.scan = scan
        self.files = files
        self.target = target
        self.count = len(files)
        self.description = f"{scan.path} ({len(files):,} image files, decoded at {target[0]}x{target[1]})"

    def _image(self, i: int) -> np.ndarray:
        try:
            img, _ = _decode(self.files[i])
        except Unreadable:
            return np.zeros((*self.target, 3), np.uint8)  # listed by the scan; a blank keeps positions aligned
        return as_array(img, self.target)

    def chunks(self, size: int = CHUNK_IMAGES) -> Iterator[np.ndarray]:
        for start in range(0, self.count, size):
            yield np.stack([self._image(i) for i in range(start, min(start + size, self.count))])

    def take(self, indices: Sequence[int]) -> np.ndarray:
        return (
            np.stack([self._image(int(i)) for i in indices])
            if len(indices)
            else np.zeros((0, *self.target, 3), np.uint8)
        )


def _header(path: Path) -> tuple[int, int, str]:
    """(width, height, mode) from an image file's header, without decoding it, or raises `Unreadable`."""
    from PIL import Image, UnidentifiedImageError

    try:
        size = require_regular(path).st_size
        if size > MAX_IMAGE_FILE_BYTES:
            raise Unreadable(f"file of {size:,} bytes, above {MAX_IMAGE_FILE_BYTES:,}")
        with open_regular(path) as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fh) as img:
                return img.width, img.height, img.mode
    except Unreadable:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Unreadable(reason.splitlines()[0][:100] if reason else type(exc).__name__) from None


def _within_budget(pixels: list[int], budget: int) -> list[int]:
    """Positions of an evenly spaced subset of images whose `pixels` add up to at most `budget` (all if they fit)."""
    total = sum(pixels)
    if total <= budget:
        return list(range(len(pixels)))
    n = len(pixels)
    for k in range(max(1, n * budget // max(total, 1)), 0, -1):
        keep = sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)}) if k > 1 else [0]
        if sum(pixels[i] for i in keep) <= budget:
            return keep
    return []


def _read_headers(scan: SplitScan, files: list[Path], idx: np.ndarray) -> list[tuple[int, int, int, str]]:
    """`(index, height, width, mode)` of the sampled files with a readable header (the others are listed
    in `scan.unreadable`)."""
    found: list[tuple[int, int, int, str]] = []
    for i in idx:
        try:
            w, h, mode = _header(files[i])
        except Unreadable as exc:
            scan.unreadable.append((str(files[i]), str(exc)))
            continue
        if w * h > MAX_IMAGE_PIXELS:
            scan.unreadable.append((str(files[i]), f"{w}x{h} pixels, above {MAX_IMAGE_PIXELS:,}"))
            continue
        found.append((int(i), h, w, mode))
    return found


def _fit_target(size: tuple[int, int]) -> tuple[int, int]:
    """`size` (height, width), scaled down to at most `MAX_TARGET_PIXELS` with its aspect ratio kept."""
    h, w = size
    if h * w <= MAX_TARGET_PIXELS:
        return size
    scale = (MAX_TARGET_PIXELS / (h * w)) ** 0.5
    return max(1, int(h * scale)), max(1, int(w * scale))


def load_image_folders(folders: dict[str, Path], root: Path | None = None, sample_size: int | None = None):
    """Image folders -> a `LoadedData` of stratified samples, `FolderSource`s and a `FolderScan`.

    Pixels are counted from the files' headers before anything is decoded: the sample decodes
    at most `MAX_SAMPLE_PIXELS` (an evenly spaced part of it past that), and a split whose full
    pass would decode more than `MAX_FULL_PASS_PIXELS` gets no full source (the checks that
    read every image read the sample); the description's notices say so.

    Args:
        folders: Split name (`train`, `test`, `val`) -> folder of class folders.
        root: The dataset's root, for the report. Defaults to `None`.
        sample_size: Images per split in the sample. Defaults to `SAMPLE_IMAGES`.
    """

    n = sample_size or sampling.SAMPLE_IMAGES  # read when called: tests lower it
    scans: dict[str, SplitScan] = {}
    listed: dict[str, tuple[list[Path], np.ndarray]] = {}
    headers: dict[str, list[tuple[int, int, int, str]]] = {}
    samples: dict[str, SampleInfo] = {}
    notices: list[str] = []
    estimates: dict[str, int] = {}
    found_by: dict[str, list[tuple[int, int, int, str]]] = {}
    for split, path in folders.items():
        scan, files, ids = scan_split(split, path)
        idx, method = sample_indices(len(files), n, ids)
        found_by[split] = _read_headers(scan, files, idx)
        scans[split], listed[split] = scan, (files, ids)
        samples[split] = SampleInfo(len(files), len(idx), method)
    sizes = Counter((h, w) for _, h, w, _ in found_by.get("train", []))
    sizes = sizes or Counter((h, w) for rows in found_by.values() for _, h, w, _ in rows)
    if not sizes:
        raise InputError(
            f"Cannot read data: no image of {root or folders.get('train')} could be decoded",
            expected="JPEG, PNG, BMP or GIF files",
            received="; ".join(f"{p}: {r}" for s in scans.values() for p, r in s.unreadable[:3]),
            hint="Check that the files are images and were copied completely",
        )
    common = sizes.most_common(1)[0][0]
    target = _fit_target(common)
    if target != common:
        notices.append(
            f"images fed at {target[0]}x{target[1]}, not at their most common size "
            f"{common[0]}x{common[1]}: at most {MAX_TARGET_PIXELS:,} pixels an image"
        )
    area = target[0] * target[1]
    budget = MAX_SAMPLE_PIXELS // len(folders)
    for split, found in found_by.items():
        files = listed[split][0]
        cost = [max(h * w, area) for _, h, w, _ in found]  # decoded, then held at the target size
        kept = [found[k] for k in _within_budget(cost, budget)]
        if len(kept) < len(found):
            notices.append(
                f"{split}: {len(kept):,} of {len(found):,} sampled images decoded, evenly spaced: "
                f"the {len(found):,} would take {sum(cost):,} pixels, more than the {budget:,} "
                "read per split"
            )
        if found:
            estimates[split] = sum(cost) * len(files) // len(found)
        headers[split] = kept
        samples[split] = SampleInfo(samples[split].total, len(kept), samples[split].method)
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, FolderSource] = {}
    for split, rows in headers.items():
        scan = scans[split]
        files, ids = listed[split]
        images, keep = [], []
        for i, _, _, _ in rows:  # decoded and brought to the target size one at a time
            try:
                img, mode = _decode(files[i])
            except Unreadable as exc:
                scan.unreadable.append((str(files[i]), str(exc)))
                continue
            scan.modes[mode] += 1
            scan.sizes[(img.height, img.width)] += 1
            scan.mode_by_class.setdefault(scan.classes[ids[i]], Counter())[mode] += 1
            images.append(as_array(img, target))
            keep.append(i)
            del img
        scan.read = len(rows)
        arrays[f"x_{split}"] = np.stack(images) if images else np.zeros((0, *target, 3), np.uint8)
        arrays[f"y_{split}"] = ids[keep].astype(np.int64)
        if estimates.get(split, 0) <= MAX_FULL_PASS_PIXELS:
            sources[split] = FolderSource(scans[split], files, target)
        elif len(keep) < len(files):
            notices.append(
                f"{split}: duplicates searched in the sample only: reading all {len(files):,} images "
                f"would decode about {estimates[split]:,} pixels, more than {MAX_FULL_PASS_PIXELS:,}"
            )
        samples[split] = SampleInfo(samples[split].total, len(keep), samples[split].method)
    scan_all = FolderScan(scans, target)
    for notice in notices:
        print(f"Notice: {one_line(notice)}.", file=sys.stderr)
    description = {
        "kind": "image-folders",
        "path": str(root) if root else {k: str(v) for k, v in folders.items()},
        "shapes": {k: list(v.shape) for k, v in arrays.items()},
        "dtypes": {k: str(v.dtype) for k, v in arrays.items()},
        "notices": notices,
        "folders": scan_all.to_dict(),
    }
    return LoadedData(arrays, description, full=sources, samples=samples, scan=scan_all)


def load_folder_pair(train: Path, evals: Sequence[Path], sample_size: int | None = None):
    """`--train DIR --eval DIR [--eval DIR]`: a training folder and a test (then a validation) folder."""
    folders: dict[str, Path] = {"train": Path(train).expanduser()}
    for split, path in zip(("test", "val"), evals):
        folders[split] = Path(path).expanduser()
    if len(evals) > 2:
        raise InputError(
            "Cannot read data: more than two --eval folders",
            expected="a test folder, then a validation one",
            received=f"{len(evals)} folders",
            hint="Give at most two --eval folders",
        )
    for path in folders.values():
        try:
            ok = stat.S_ISDIR(path.stat().st_mode)
        except OSError:
            ok = False
        if not ok:
            raise InputError(
                f"Cannot read data: {path} is not a folder",
                expected="a folder of class folders of images",
                hint="Check the path",
            )
    return load_image_folders(folders, root=None, sample_size=sample_size)
