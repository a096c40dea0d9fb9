"""Rebuild the bundled CIFAR-10 sample, `cifar_doctor/data/cifar10_sample.npz`, byte for byte.

The sample holds exact CIFAR-10 pixels only:

- `x_train`, `y_train`: the first `PER_CLASS` training images of each class, in
  their original order (`data_batch_1` ... `data_batch_5`), i.e. a stratified,
  deterministic subset of the training set;
- `x_test`, `y_test`: the first `TEST_IMAGES` images of `test_batch`, in order.

Arrays are stored as `keras.datasets.cifar10.load_data()` returns them:
images uint8 (N, 32, 32, 3) RGB, labels uint8 (N, 1).

The source is a CIFAR-10 npz with `x_train, y_train, x_test, y_test` whose
training images and first 1,000 test images are exact (see
`cifar_doctor/data/README.md`); test images past `TEST_IMAGES` are never read.

The archive is written with fixed zip timestamps (unlike `np.savez_compressed`,
which stamps the current time), so the same source gives the same bytes;
`np.load` reads it like any npz.

Usage:

    python scripts/build_sample.py [--source ../shared/data/cifar10/cifar10.npz] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz"
DEFAULT_OUT = ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz"

#: Training images per class: 250 x 10 = 2,500 images keep the file under 10 MB
#: (2,800 would not: measured 10.77 MB).
PER_CLASS = 250
#: Exact test images available in the source (the rest of its test set is JPEG-decoded).
TEST_IMAGES = 1000
NUM_CLASSES = 10
#: Size budget for the file shipped in the package.
MAX_BYTES = 10_000_000
#: DOS epoch: the earliest timestamp a zip entry can hold; fixed for reproducibility.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def sample_indices(y_train: np.ndarray, per_class: int = PER_CLASS) -> np.ndarray:
    """The first `per_class` indices of each class, merged back into original order."""
    y = np.asarray(y_train).reshape(-1)
    parts = []
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(y == c)[:per_class]
        if len(idx) < per_class:
            raise SystemExit(f"class {c} has only {len(idx)} training images; expected {per_class}")
        parts.append(idx)
    return np.sort(np.concatenate(parts))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """Write `arrays` as a deflate-compressed npz with fixed metadata; return the bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, npy.getvalue(), compresslevel=9)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def build(source: Path, out: Path) -> dict:
    with np.load(source, allow_pickle=False) as d:
        x_train, y_train = d["x_train"], d["y_train"]
        x_test, y_test = d["x_test"][:TEST_IMAGES], d["y_test"][:TEST_IMAGES]
    idx = sample_indices(y_train)
    arrays = {
        "x_train": x_train[idx].astype(np.uint8),
        "y_train": np.asarray(y_train)[idx].reshape(-1, 1).astype(np.uint8),
        "x_test": x_test.astype(np.uint8),
        "y_test": np.asarray(y_test).reshape(-1, 1).astype(np.uint8),
    }
    data = write_npz(out, arrays)
    # reload and compare, so a bad write never ships
    with np.load(out, allow_pickle=False) as back:
        for k, v in arrays.items():
            if not np.array_equal(back[k], v) or back[k].dtype != v.dtype:
                raise SystemExit(f"{out}: {k} does not read back identically")
    return {
        "path": str(out),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "train": len(idx),
        "test": len(x_test),
        "train_counts": np.bincount(arrays["y_train"].ravel(), minlength=NUM_CLASSES).tolist(),
        "test_counts": np.bincount(arrays["y_test"].ravel(), minlength=NUM_CLASSES).tolist(),
        "train_index_span": [int(idx[0]), int(idx[-1])],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="CIFAR-10 npz (uint8).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Where to write the sample.")
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"Source not found: {args.source}. Pass --source PATH to a CIFAR-10 npz.", file=sys.stderr)
        return 2
    info = build(args.source, args.out)
    for k, v in info.items():
        print(f"{k}: {v}")
    if info["bytes"] > MAX_BYTES:
        print(f"The sample is {info['bytes']} bytes, over the {MAX_BYTES}-byte budget.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
