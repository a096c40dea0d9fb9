"""Other ways to estimate wrong training labels from a final model, next to LBL010's, on CIFAR-10N.

LBL010 runs confident learning on cross-validated probabilities of a logistic regression on the
model's penultimate-layer features (`cifar_doctor.measure.noise`). On heavy human noise it reads
low (0.32 for 41.6%): the features of a network that memorized part of the wrong labels agree
with them. This bench measures the alternatives on the same three runs as `bench/noisy_labels.py`
(the small CNN, 12 epochs on `x_train[:4000]` with the `clean`, `aggre` and `worse` labels; trained
there and cached under `out/noisy_labels/`), each from the same final model and data:

- `cl`: confident learning (cleanlab's `estimate_joint`, off-diagonal mass) on the cross-validated
  probabilities of each layer's features (pooled to 4x4 cells for convolution outputs): LBL010's
  reading for the penultimate layer, earlier layers memorize less but classify worse;
- `gap`: the eval gap, (a - m) / (a - (1 - a) / (K - 1)): a is the fold classifiers' accuracy on the
  clean eval images, m their agreement with the training labels on held-out folds; assumes a
  wrong label is agreed with no more often than a random wrong class;
- `moments`: the method of moments with the eval set's confusion matrix C (true label -> prediction,
  from the clean eval labels): the training joint M (given label, prediction) = T' diag(pi) C, so
  the wrong fraction is 1 - trace(M C^-1); assumes which images are mislabeled is independent of
  the prediction given the true class;
- `mirrored`: confident learning on the model's own probabilities for the mirrored training images
  (out of sample for a model trained without flips, in sample for its features);
- on the raw images' random-patch features (`patch_features`, no model: nothing memorized), two
  readings of the eval gap that try to undo its assumption: `stratified`, the gap within each fifth
  of the classifier's confidence (quantiles of the eval images'), weighted by the training images'
  share, so that hard and easy images are compared with their own kind; and `hardness`, the gap's
  denominator computed as if annotators erred in proportion to the classifier's doubt, 1 - p(true),
  towards the classes it gives probability to (the opposite extreme of `gap`'s uniform errors).

Usage:

    python bench/noise_estimators.py [--data ../shared/data] [--out out/noisy_labels]

Prints one row per run and estimator, with the true fraction. About three minutes after the runs are
trained (two minutes each on two CPU cores, by `bench/noisy_labels.py`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from noisy_labels import RUNS, TRAIN_IMAGES, train_run  # noqa: E402

from cifar_doctor.measure.noise import cross_validated_probabilities  # noqa: E402

CLASSES = 10


def _pooled(a: np.ndarray, cells: int = 4) -> np.ndarray:
    """A layer's outputs as vectors: convolution maps averaged over cells x cells blocks."""
    if a.ndim == 4:
        n, h, w, c = a.shape
        return a.reshape(n, cells, h // cells, cells, w // cells, c).mean(axis=(2, 4)).reshape(n, -1)
    return a.reshape(len(a), -1)


def _joint(given: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    m = np.zeros((CLASSES, CLASSES))
    np.add.at(m, (given, predicted), 1.0)
    return m / len(given)


def _off_diagonal(labels: np.ndarray, probs: np.ndarray) -> float:
    from cleanlab.count import estimate_joint

    return float(1.0 - np.trace(estimate_joint(labels, probs)))


def estimates(keras, folder: Path) -> list[tuple[str, str, float]]:
    """(layer, estimator, estimate) for one trained run."""
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    with np.load(folder / "data.npz", allow_pickle=False) as d:
        x, y = d["x_train"], d["y_train"].astype(np.int64)
        xt, yt = d["x_test"], d["y_test"].reshape(-1).astype(np.int64)
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    train_out = probe.predict(x, batch_size=500, verbose=0)
    eval_out = probe.predict(xt, batch_size=500, verbose=0)
    rows, pools = [], 0
    for layer, tr, ev in zip(model.layers, train_out, eval_out):
        if type(layer).__name__ not in ("MaxPooling2D", "Dense") or layer is model.layers[-1]:
            continue
        pools += type(layer).__name__ == "MaxPooling2D"
        name = f"pool{pools}" if type(layer).__name__ == "MaxPooling2D" else "penultimate"
        p, pe = cross_validated_probabilities(_pooled(tr), y, CLASSES, others=_pooled(ev))
        assert pe is not None
        a, m = float((pe.argmax(1) == yt).mean()), float((p.argmax(1) == y).mean())
        c_eval = _joint(yt, pe.argmax(1))
        confusion = c_eval / np.maximum(c_eval.sum(axis=1, keepdims=True), 1e-12)
        moments = 1.0 - float(np.trace(_joint(y, p.argmax(1)) @ np.linalg.pinv(confusion)))
        rows += [
            (name, "cl", _off_diagonal(y, p)),
            (name, "gap", (a - m) / (a - (1 - a) / (CLASSES - 1))),
            (name, "moments", moments),
        ]
    mirrored = model.predict(x[:, :, ::-1], batch_size=500, verbose=0)
    rows.append(("output", "mirrored", _off_diagonal(y, mirrored)))
    return rows + _raw_gaps(x, y, xt, yt)


def _raw_gaps(
    x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, bins: int = 5
) -> list[tuple[str, str, float]]:
    """`stratified` and `hardness` readings of the eval gap on the raw images' patch features."""
    from sklearn.model_selection import StratifiedKFold

    from cifar_doctor.measure.noise import _classifier, patch_features

    read = patch_features(x, xt)
    assert read is not None
    tr, ev = read
    agree, conf_tr, right, conf_ev, weak, towards = [], [], [], [], [], []
    for fit_idx, held in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(tr, y):
        clf = _classifier().fit(tr[fit_idx], y[fit_idx])
        pt, pe = clf.predict_proba(tr[held]), clf.predict_proba(ev)
        agree.append(pt.argmax(1) == y[held])
        conf_tr.append(pt.max(1))
        pred, p_true = pe.argmax(1), pe[np.arange(len(yt)), yt]
        right.append(pred == yt)
        conf_ev.append(pe.max(1))
        doubt = 1.0 - p_true  # the weight of an image under annotators who err where the classifier doubts
        weak.append(float(((pred == yt) * doubt).sum() / doubt.sum()))
        towards.append(float(((pred != yt) * pe[np.arange(len(yt)), pred]).sum() / doubt.sum()))
    agree_, conf_tr_, right_, conf_ev_ = map(np.concatenate, (agree, conf_tr, right, conf_ev))
    edges = np.quantile(conf_ev_, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    stratified = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        t, e = (conf_tr_ >= lo) & (conf_tr_ < hi), (conf_ev_ >= lo) & (conf_ev_ < hi)
        a, m = right_[e].mean(), agree_[t].mean()
        stratified += t.mean() * (a - m) / max(a - (1 - a) / (CLASSES - 1), 0.05)
    a, m = right_.mean(), agree_.mean()
    hardness = (a - m) / (np.mean(weak) - np.mean(towards))
    return [("patches", "stratified", float(stratified)), ("patches", "hardness", float(hardness))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder with cifar10/ and cifar10n/")
    parser.add_argument("--out", default="out/noisy_labels", help="cache of trained runs (bench/noisy_labels.py)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cifar_doctor.tfenv import import_keras

    keras = import_keras()
    data_dir = Path(args.data)
    with np.load(data_dir / "cifar10" / "cifar10.npz", allow_pickle=False) as d:
        truth = d["y_train"][:TRAIN_IMAGES].reshape(-1)
    print(f"{'labels':7s} {'true':>6s}  {'layer':16s} {'estimator':9s} {'estimate':>8s}")
    for name in RUNS:
        folder = train_run(name, data_dir, Path(args.out))
        with np.load(folder / "data.npz", allow_pickle=False) as d:
            wrong = float((d["y_train"] != truth).mean())
        for layer, how, value in estimates(keras, folder):
            print(f"{name:7s} {wrong:6.3f}  {layer:16s} {how:9s} {value:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
