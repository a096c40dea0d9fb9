"""Arrays of a corpus run, rebuilt exactly from its `DataSpec` (the data recipe), without TensorFlow.

`build(data)` draws each split from its dataset's pools with `numpy.random.default_rng` seeded by
`(data.seed, salt)`, applies the recipe's transforms and label corruptions, and returns the arrays as
fed to Keras: `x_train`, `y_train`, `x_test`, `y_test` (the eval split), `x_val`/`y_val` when the run
validates on a separate holdout, and `x_pre`/`y_pre` (the pre-training data of a fine-tuned base).

Pools:

- `cifar10`: `x_train` (50,000) and `x_test` (10,000) of `cifar10.npz`, found at `$CIFAR10_NPZ`, else
  `../shared/data/cifar10/cifar10.npz` relative to the repository root (`CIFAR10_NPZ`);
  `cifar10-sample`: the 2,500 + 1,000 images bundled with cifar_doctor.
- `digits`, `digits-sum`, `breast_cancer`, `wine`, `diabetes`: scikit-learn's bundled datasets,
  split once into a train pool (the first `1 - TEST_POOL_FRACTION` of a permutation seeded with
  `POOL_SEED`) and a test pool (the rest).

Images stay uint8 (16 px: 2x2 block means rounded; gray: ITU-R 601 luma rounded) until a transform
makes them float32.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .spec import DataSpec, Split

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_NPZ = ROOT / "cifar_doctor" / "data" / "cifar10_sample.npz"

#: Share of a scikit-learn dataset held out as its test pool: the usual 75/25 train_test_split.
TEST_POOL_FRACTION = 0.25

#: Seed of the one permutation that splits a scikit-learn dataset into pools (fixed for every run,
#: so that pools never change with a run's own seed).
POOL_SEED = 20240601

#: Confusable CIFAR-10 class pairs (original ids) for class-dependent label noise: cat<->dog,
#: automobile<->truck, deer<->horse, airplane<->ship, bird<->frog.
CIFAR_PAIRS = ((3, 5), (1, 9), (4, 7), (0, 8), (2, 6))

#: Confusable digit pairs for class-dependent label noise (1<->7, 3<->8, 4<->9, 5<->6, 0<->2).
DIGIT_PAIRS = ((1, 7), (3, 8), (4, 9), (5, 6), (0, 2))

#: ITU-R BT.601 luma weights (what PIL's convert("L") uses).
LUMA = (0.299, 0.587, 0.114)

#: Salts that make each draw of a recipe its own random stream.
SALT = {
    "train": 1,
    "holdout": 2,
    "eval": 3,
    "leak": 4,
    "y_train": 5,
    "y_eval": 6,
    "x_train": 7,
    "x_eval": 8,
    "pretrain": 9,
}


def cifar10_path() -> Path:
    """`$CIFAR10_NPZ`, else `../shared/data/cifar10/cifar10.npz` next to the repository root."""
    env = os.environ.get("CIFAR10_NPZ")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "cifar10" / "cifar10.npz"


@functools.lru_cache(maxsize=4)
def _npz(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as d:
        return {k: d[k] for k in d.files}


@functools.lru_cache(maxsize=8)
def _sklearn(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_pool_train, y_pool_train, x_pool_test, y_pool_test) of a scikit-learn dataset."""
    from sklearn import datasets

    if name in ("digits", "digits-sum"):
        d = datasets.load_digits()
        x = d.images.astype(np.uint8)[..., None]  # 0..16 integers, (N, 8, 8, 1)
        y = d.target.astype(np.int64) if name == "digits" else d.images.reshape(len(x), -1).sum(1).astype(np.float32)
    elif name == "diabetes":
        d = datasets.load_diabetes(scaled=False)
        x, y = d.data.astype(np.float32), d.target.astype(np.float32)
    else:
        d = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]()
        x, y = d.data.astype(np.float32), d.target.astype(np.int64)
    perm = np.random.default_rng(POOL_SEED).permutation(len(x))
    cut = int(round(len(x) * (1 - TEST_POOL_FRACTION)))
    tr, te = perm[:cut], perm[cut:]
    return x[tr], y[tr], x[te], y[te]


def pools(data: DataSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The dataset's train and test pools, before any class filter: x as stored, y as int64/float32."""
    if data.dataset in ("cifar10", "cifar10-sample"):
        d = _npz(str(cifar10_path() if data.dataset == "cifar10" else SAMPLE_NPZ))
        return (
            d["x_train"],
            d["y_train"].reshape(-1).astype(np.int64),
            d["x_test"],
            d["y_test"].reshape(-1).astype(np.int64),
        )
    return _sklearn(data.dataset)


def is_image(data: DataSpec) -> bool:
    return data.dataset in ("cifar10", "cifar10-sample", "digits", "digits-sum")


def is_regression(data: DataSpec) -> bool:
    return data.dataset in ("diabetes", "digits-sum")


def num_classes(data: DataSpec) -> int:
    if is_regression(data):
        return 1
    if data.classes:
        return len(data.classes)
    return {"breast_cancer": 2, "wine": 3}.get(data.dataset, 10)


def input_shape(data: DataSpec) -> tuple[int, ...]:
    if data.dataset in ("digits", "digits-sum"):
        return (8, 8, 1)
    if data.dataset in ("cifar10", "cifar10-sample"):
        return (data.size, data.size, 1 if data.gray else 3)
    return (pools(data)[0].shape[1],)


def _rng(data: DataSpec, salt: str) -> np.random.Generator:
    return np.random.default_rng([data.seed, SALT[salt]])


def _candidates(data: DataSpec, y_pool: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    if not classes or is_regression(data):
        return np.arange(len(y_pool))
    return np.flatnonzero(np.isin(y_pool, classes))


def _draw(data: DataSpec, split: Split, cand: np.ndarray, y_pool: np.ndarray, salt: str) -> np.ndarray:
    rng = _rng(data, salt)
    n = min(split.n, len(cand))
    if split.rule == "first":
        idx = cand[:n]
    elif split.rule == "random":
        idx = rng.choice(cand, size=n, replace=False)
    elif split.rule == "imbalanced":
        labels = np.unique(y_pool[cand])
        k = len(labels)
        weights = np.array([split.imbalance ** (i / max(k - 1, 1)) for i in range(k)])
        counts = np.maximum(1, np.round(n * weights / weights.sum()).astype(int))
        parts = []
        for lab, c in zip(labels, counts):
            own = cand[y_pool[cand] == lab]
            parts.append(rng.choice(own, size=min(int(c), len(own)), replace=False))
        idx = rng.permutation(np.concatenate(parts))
    else:
        raise ValueError(f"unknown split rule {split.rule!r}")
    if split.sort_by_class:
        idx = idx[np.argsort(y_pool[idx], kind="stable")]
    return idx


def _relabel(data: DataSpec, y: np.ndarray) -> np.ndarray:
    if not data.classes or is_regression(data) or not len(y):
        return y.copy()
    lut = np.full(int(y.max()) + 1, -1, np.int64)
    for new, old in enumerate(data.classes):
        lut[old] = new
    return lut[y]


def _images(data: DataSpec, x: np.ndarray) -> np.ndarray:
    """Pool rows as the run's uint8 images: downsampled and/or grayscale."""
    if data.dataset not in ("cifar10", "cifar10-sample"):
        return x.copy()
    out = x
    if data.size != x.shape[1]:
        f = x.shape[1] // data.size
        blocks = out.reshape(len(out), data.size, f, data.size, f, out.shape[-1]).astype(np.uint32).sum((2, 4))
        out = ((blocks + (f * f) // 2) // (f * f)).astype(np.uint8)
    if data.gray:
        luma = out.astype(np.float32) @ np.array(LUMA, np.float32)
        out = np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None]
    return out


# ------------------------------------------------------------------------------------------
# Transforms
# ------------------------------------------------------------------------------------------
def _axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(x.ndim - 1))  # per channel (images) or per feature (tabular)


def _standardize(x: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, tuple]:
    xf = x.astype(np.float32)
    if stats is None:
        mean = xf.mean(_axes(xf), dtype=np.float64).astype(np.float32)
        std = xf.std(_axes(xf), dtype=np.float64).astype(np.float32)
        stats = (mean, np.where(std > 0, std, 1).astype(np.float32))
    return ((xf - stats[0]) / stats[1]).astype(np.float32), stats


def _nan(x: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    out = x.astype(np.float32)
    rows = rng.choice(len(out), size=max(1, int(round(fraction * len(out)))), replace=False)
    flat = out.reshape(len(out), -1)
    flat[rows, rng.integers(0, flat.shape[1], size=len(rows))] = np.nan
    return out


#: Transform ops (the first element of each tuple in `DataSpec.x_train` / `x_eval`):
#: `float32` (cast, values kept), `uint8` (fed as stored), `div d`, `affine a b` (x*a+b),
#: `standardize train|self` (per channel/feature, with the training split's or its own statistics
#: at that point), `bgr` (channels reversed), `transpose-hw` (rows and columns swapped),
#: `scramble-chw` (an HWC buffer read as CHW: pixels no longer form the image), `nan fraction`
#: (one value of that fraction of rows set to NaN).
TRANSFORMS = ("float32", "uint8", "div", "affine", "standardize", "bgr", "transpose-hw", "scramble-chw", "nan")


def apply_x(
    x: np.ndarray,
    ops: tuple[tuple[Any, ...], ...],
    rng: np.random.Generator,
    train_stats: list[tuple] | None = None,
    record: list[tuple] | None = None,
) -> np.ndarray:
    """Apply `ops` in order. `standardize train` uses `train_stats` (filled by the training split's
    own pass through `record`) in order of appearance."""
    k = 0
    for op in ops:
        name, args = op[0], op[1:]
        if name == "float32":
            x = x.astype(np.float32)
        elif name == "uint8":
            x = x.astype(np.uint8)
        elif name == "div":
            x = (x.astype(np.float32) / np.float32(args[0])).astype(np.float32)
        elif name == "affine":
            x = (x.astype(np.float32) * np.float32(args[0]) + np.float32(args[1])).astype(np.float32)
        elif name == "standardize":
            # `train`: the statistics the training split had at its k-th standardization (its own when
            # the training split was never standardized)
            use_train = args[0] == "train" and train_stats is not None and k < len(train_stats)
            stats = train_stats[k] if use_train and train_stats is not None else None
            x, stats = _standardize(x, stats)
            if record is not None:
                record.append(stats)
            k += 1
        elif name == "bgr":
            x = np.ascontiguousarray(x[..., ::-1])
        elif name == "transpose-hw":
            x = np.ascontiguousarray(x.transpose(0, 2, 1, 3))
        elif name == "scramble-chw":
            x = np.ascontiguousarray(x.reshape(len(x), x.shape[3], x.shape[1], x.shape[2]).transpose(0, 2, 3, 1))
        elif name == "nan":
            x = _nan(x, float(args[0]), rng)
        else:
            raise ValueError(f"unknown transform {name!r}")
    return x


def _pairs(data: DataSpec) -> list[tuple[int, int]]:
    k = num_classes(data)
    if k == 2:
        return [(0, 1)]
    base = CIFAR_PAIRS if data.dataset.startswith("cifar10") else DIGIT_PAIRS if data.dataset == "digits" else ()
    classes = data.classes or tuple(range(k))
    out = [(classes.index(a), classes.index(b)) for a, b in base if a in classes and b in classes]
    return out or [(i, i + 1) for i in range(0, k - 1, 2)]


def apply_y(data: DataSpec, y: np.ndarray, ops: tuple[tuple[Any, ...], ...], rng: np.random.Generator) -> np.ndarray:
    k = num_classes(data)
    y = y.copy()
    for op in ops:
        name, args = op[0], op[1:]
        if name == "shuffle":
            y = y[rng.permutation(len(y))]
        elif name == "flip" and args[1] == "symmetric":
            rows = rng.choice(len(y), size=int(round(args[0] * len(y))), replace=False)
            y[rows] = (y[rows] + rng.integers(1, k, size=len(rows))) % k
        elif name == "flip" and args[1] == "pairs":
            partner = np.arange(k)
            for a, b in _pairs(data):
                partner[a], partner[b] = b, a
            paired = np.flatnonzero(partner[y] != y)
            rows = rng.choice(paired, size=int(round(args[0] * len(paired))), replace=False)
            y[rows] = partner[y[rows]]
        else:
            raise ValueError(f"unknown label op {op!r}")
    return y


def _format(data: DataSpec, y: np.ndarray) -> np.ndarray:
    if is_regression(data):
        return y.astype(np.float32)
    if data.label_format == "onehot":
        return np.eye(num_classes(data), dtype=np.float32)[y]
    if data.label_format == "column":
        return y.reshape(-1, 1)
    return y


def build(data: DataSpec, validation: str = "eval") -> dict[str, Any]:
    """The arrays of `data` as fed, with `indices` (pool rows of each split) and `classes`.

    Args:
        data: The recipe.
        validation: The run's `TrainSpec.validation`; `holdout` draws `x_val`/`y_val`.
            Defaults to `"eval"`.
    """
    xp_tr, yp_tr, xp_te, yp_te = pools(data)
    cand = _candidates(data, yp_tr, data.classes)
    i_train = _draw(data, data.train, cand, yp_tr, "train")
    out: dict[str, Any] = {"indices": {"train": i_train}}
    x_train_raw = _images(data, xp_tr[i_train])
    y_train_clean = _relabel(data, yp_tr[i_train])

    # eval: from the test pool, with a share of training rows copied in when it leaks
    cand_te = _candidates(data, yp_te, data.classes)
    n_leak = int(round(data.eval.leak * data.eval.n))
    i_eval = (
        _draw(data, replace_n(data.eval, data.eval.n - n_leak), cand_te, yp_te, "eval")
        if data.eval.n > n_leak
        else np.zeros(0, np.int64)
    )
    x_eval_raw = _images(data, xp_te[i_eval])
    y_eval_clean = _relabel(data, yp_te[i_eval])
    if n_leak:
        leak_rows = _rng(data, "leak").choice(len(i_train), size=min(n_leak, len(i_train)), replace=False)
        order = _rng(data, "leak").permutation(len(i_eval) + len(leak_rows))
        x_eval_raw = np.concatenate([x_eval_raw, x_train_raw[leak_rows]])[order]
        y_eval_clean = np.concatenate([y_eval_clean, y_train_clean[leak_rows]])[order]
        out["indices"]["eval_leaked_train_rows"] = leak_rows
        out["indices"]["eval_order"] = order
    out["indices"]["eval"] = i_eval

    record: list[tuple] = []
    x_train = apply_x(x_train_raw, data.x_train, _rng(data, "x_train"), record=record)
    out["x_train"] = x_train
    out["y_train"] = _format(data, apply_y(data, y_train_clean, data.y_train, _rng(data, "y_train")))
    out["y_train_clean"] = y_train_clean
    out["x_test"] = apply_x(x_eval_raw, data.x_eval, _rng(data, "x_eval"), train_stats=record)
    out["y_test"] = _format(data, apply_y(data, y_eval_clean, data.y_eval, _rng(data, "y_eval")))

    if validation == "holdout" and data.holdout is not None:
        rest = np.setdiff1d(cand, i_train)
        i_val = _draw(data, data.holdout, rest, yp_tr, "holdout")
        out["indices"]["holdout"] = i_val
        clean_ops = tuple(op for op in data.x_train if op[0] != "nan")
        out["x_val"] = apply_x(_images(data, xp_tr[i_val]), clean_ops, _rng(data, "x_train"), train_stats=record)
        out["y_val"] = _format(data, _relabel(data, yp_tr[i_val]))
    if data.pretrain:
        pre = _candidates(data, yp_tr, data.pretrain)
        i_pre = _draw(data, Split(data.pretrain_n), pre, yp_tr, "pretrain")
        out["indices"]["pretrain"] = i_pre
        lut = {c: i for i, c in enumerate(data.pretrain)}
        out["x_pre"] = apply_x(_images(data, xp_tr[i_pre]), (("div", 255),), _rng(data, "pretrain"))
        out["y_pre"] = np.array([lut[int(v)] for v in yp_tr[i_pre]], np.int64)
    return out


def replace_n(split: Split, n: int) -> Split:
    from dataclasses import replace

    return replace(split, n=n)


#: Arrays of a run as fed to Keras, in the order `model.fit`/`evaluate` take them.
FED = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")


def digest(a: np.ndarray) -> str:
    """A short fingerprint of an array's dtype, shape and bytes (to check a rebuild)."""
    h = hashlib.sha1(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def describe(a: np.ndarray) -> dict[str, Any]:
    """Shape, dtype, range and fingerprint of one fed array."""
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    d: dict[str, Any] = {"shape": list(a.shape), "dtype": a.dtype.str.lstrip("<|="), "sha1": digest(a)}
    if finite.size:
        d.update(min=float(finite.min()), max=float(finite.max()), mean=round(float(finite.mean()), 5))
    if a.dtype.kind == "f":
        d["nan"] = int(np.isnan(a).sum())
    return d
