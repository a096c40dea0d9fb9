"""DUP003 on full CIFAR-10: near-duplicates in a model's penultimate features that the pixel search misses.

Trains (once, cached as `out/feature_duplicates/model.keras`) a small CNN on all 50,000
CIFAR-10 training images: Rescaling 1/255, three 3x3 conv layers of 32/64/128 with
max-pooling, Dense 256 (the features), Dense 10 softmax; Adam, batch 128, a random half of
the images mirrored each epoch. Then runs DUP002 and DUP003 through the engine
(`diagnose(..., model=..., select=["DUP002", "DUP003"])`) and prints:

- seconds for each check and the peak RSS of the process (loading and training included);
- test images with a near-duplicate in train by features, by pixels, and by features only;
- then (not timed) a montage PNG of a random sample of the feature-only pairs, train | test,
  and a CSV next to it listing each tile's indices, classes and similarity, to judge by eye.

Usage:

    python bench/feature_duplicates.py [--data PATH.npz] [--epochs 8] [--sample 60] [--seed 0]
                                       [--montage out/feature_duplicates.png] [--ratio LO HI]

`--ratio LO HI` draws the montage from the feature-only pairs whose distance ratio
(1 - second similarity) / (1 - similarity) lies in [LO, HI) instead of the check's own pairs
(to look at the pairs it rejects below `FEATURE_DISTANCE_RATIO`).
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from near_duplicates import _save_png, load_arrays, montage  # noqa: E402

MODEL = ROOT / "out" / "feature_duplicates" / "model.keras"
EPOCHS = 8
BATCH = 128
SEED = 0
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def build_model(keras):
    """The small CNN of `bench/noisy_labels.py`, reading 0-255 pixels."""
    from noisy_labels import build_model as small_cnn

    return small_cnn(keras, 10, rescale=True)


def train(arrays: dict[str, np.ndarray], path: Path, epochs: int) -> None:
    """Train the CNN on all of x_train (a random half mirrored each epoch) and save it at `path`."""
    from cifar_doctor.tfenv import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x, y = arrays["x_train"], arrays["y_train"].reshape(-1)
    xt, yt = arrays["x_test"].astype("float32"), arrays["y_test"].reshape(-1)
    model = build_model(keras)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        flip = rng.random(len(x)) < 0.5
        xe = np.where(flip[:, None, None, None], x[:, :, ::-1], x).astype("float32")
        h = model.fit(xe, y, batch_size=BATCH, epochs=1, validation_data=(xt, yt), verbose=0)
        print(
            f"epoch {epoch + 1}: accuracy {h.history['accuracy'][0]:.3f}, val_accuracy "
            f"{h.history['val_accuracy'][0]:.3f} ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="npz with x_train, y_train, x_test, y_test")
    ap.add_argument("--model", type=Path, default=MODEL, help="trained here when missing")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--train-only", action="store_true")
    ap.add_argument("--montage", type=Path, default=ROOT / "out" / "feature_duplicates.png")
    ap.add_argument("--sample", type=int, default=60, help="pairs drawn for the montage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ratio", type=float, nargs=2, default=None, metavar=("LO", "HI"))
    args = ap.parse_args(argv)

    arrays = load_arrays(args.data, ("x_train", "y_train", "x_test", "y_test"))
    if arrays is None:
        return 2
    if not args.model.exists():
        train(arrays, args.model, args.epochs)
    if args.train_only:
        return 0

    from cifar_doctor import diagnose

    data = {k: arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    t0 = time.perf_counter()
    pixel = diagnose(**data, select=["DUP002"])
    t_pixel = time.perf_counter() - t0
    t0 = time.perf_counter()
    feat = diagnose(**data, model=str(args.model), select=["DUP003"])
    t_feat = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for report, code in ((pixel, "DUP002"), (feat, "DUP003")):
        status = {c.code: c for c in report.checks}[code]
        if status.status != "ran":
            print(f"{code} {status.status}: {status.reason}", file=sys.stderr)
            return 1
    px = next((f.evidence for f in pixel.findings), None)
    fe = next((f for f in feat.findings), None)
    pixel_images = px["count"] if px else 0
    only = fe.evidence["count"] if fe else 0
    both = fe.evidence["pixel_matched"] if fe else 0
    print(
        f"DUP002 (pixels): {t_pixel:.1f} s; DUP003 (features, model loading included): {t_feat:.1f} s "
        f"(search {fe.evidence['seconds'] if fe else 0} s); peak RSS {peak:.0f} MB (loading and training included)"
    )
    print(
        f"  test images with a near-duplicate in train: by pixels {pixel_images}; by features {only + both} "
        f"({both} of them also pixel pairs, {only} by features only)"
    )
    if fe is None:
        return 0
    print(f"  DUP003: severity {fe.severity.value}, cause {fe.cause}; {fe.message}")
    rows = fe.evidence["pairs"]  # [test, train, similarity, second]
    if args.ratio is not None:
        rows = _rows_at(args.model, arrays, *args.ratio)
    if not rows:
        return 0
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(rows), size=min(args.sample, len(rows)), replace=False))
    chosen = [rows[k] for k in pick]
    x_test, x_train, y_test, y_train = (arrays[k] for k in ("x_test", "x_train", "y_test", "y_train"))
    _save_png(args.montage, montage([(int(j), int(i)) for i, j, *_ in chosen], x_train, x_test, cols=5))
    listing = args.montage.with_suffix(".csv")
    with open(listing, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["tile", "train_index", "test_index", "similarity", "second", "train_class", "test_class"])
        for k, (i, j, s, s2) in enumerate(chosen):
            w.writerow([k, j, i, f"{s:.4f}", f"{s2:.4f}", CLASSES[int(y_train[j])], CLASSES[int(y_test[i])]])
    print(
        f"montage of {len(chosen)} of {len(rows)} feature-only pairs (train | test, 5 per row): {args.montage}; "
        f"tiles listed in {listing}"
    )
    return 0


def _rows_at(model_path: Path, arrays: dict[str, np.ndarray], lo: float, hi: float) -> list[list]:
    """[test, train, similarity, second] of every test image whose nearest training image has a distance
    ratio in [lo, hi) and does not match in pixels: to look at what the check rejects."""
    from cifar_doctor.checks.duplicates.features import FEATURE_MIN_SIMILARITY, _pixel_matched
    from cifar_doctor.inputs import Split
    from cifar_doctor.measure import featdup
    from cifar_doctor.sources.evaluator import Evaluator
    from cifar_doctor.sources.features import read_features
    from cifar_doctor.tfenv import import_keras

    evaluate = Evaluator.of(import_keras().models.load_model(model_path))
    feats = []
    for x in (arrays["x_test"], arrays["x_train"]):
        parts = [read_features(evaluate, x[s : s + 8192]) for s in range(0, len(x), 8192)]
        feats.append(np.concatenate([p.features for p in parts if p is not None]))
    near = featdup.nearest(*feats)
    s1, s2 = near.similarity.astype(np.float64), near.second.astype(np.float64)
    ratio = (1.0 - s2) / np.maximum(1.0 - s1, 1e-9)
    hit = np.flatnonzero((ratio >= lo) & (ratio < hi) & (s1 >= FEATURE_MIN_SIMILARITY))
    a, b = hit, near.index[hit]
    pixel = _pixel_matched(Split("test", arrays["x_test"]), Split("train", arrays["x_train"]), a, b)
    return [[int(i), int(j), float(s1[i]), float(s2[i])] for i, j in zip(a[~pixel], b[~pixel])]


if __name__ == "__main__":
    sys.exit(main())
