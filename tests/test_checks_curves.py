"""Loss-math fingerprints in training histories (LOG007-LOG012, FIT001 branches, FIT003-FIT006).

Each check fires on the curve of a real case (numbers copied from the
re-enacted bugs and public threads its docstring names), stays silent on a
healthy run and on the look-alike it must not be confused with, and is
skipped without a history.
"""

from __future__ import annotations

import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs

NEW_CODES = ["LOG007", "LOG008", "LOG009", "LOG010", "LOG011", "LOG012", "LOG013", "LOG014", "FIT005", "FIT006"]

#: A healthy small-CNN run on CIFAR-10 (validation a little below training, both improving).
HEALTHY = dict(loss=[2.083, 1.738, 1.58, 1.454, 1.354], accuracy=[0.241, 0.368, 0.427, 0.473, 0.511],
               val_loss=[1.932, 1.74, 1.594, 1.551, 1.513], val_accuracy=[0.299, 0.376, 0.42, 0.45, 0.457])


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw)).verdict.cause


@pytest.mark.parametrize("code", NEW_CODES)
def test_skipped_without_history(code):
    assert next(c for c in run(Inputs()).checks if c.code == code).status == "skipped"


@pytest.mark.parametrize("code", NEW_CODES + ["FIT001", "FIT004"])
def test_silent_on_healthy(make_history, code):
    assert code not in found(make_history(**HEALTHY))


def test_healthy_run_is_healthy(make_history):
    assert verdict(make_history(**HEALTHY)) == "healthy"


# --- LOG007: eval outputs uniform ------------------------------------------------------------
TYPO = dict(loss=[3.651, 1.948, 1.734, 1.6, 1.478], accuracy=[0.1817, 0.3043, 0.375, 0.4245, 0.4593],
            val_loss=[2.3009, 2.3011, 2.3014, 2.3022, 2.3033], val_accuracy=[0.128, 0.139, 0.135, 0.122, 0.107])


def test_log007_val_loss_pinned_at_ln_k_is_a_scale_mismatch(make_history):
    f = found(make_history(**TYPO))["LOG007"]
    assert f.severity.value == "error" and f.evidence["classes"] == 10
    assert f.evidence["classes_source"] == "fitted to val_loss"
    assert verdict(make_history(**TYPO)) == "eval-input-scale-mismatch"
    assert "FIT001" not in found(make_history(**TYPO))  # the val accuracy dip is not overfitting


def test_log007_silent_when_training_is_at_chance_too(make_history):
    dead = dict(loss=[2.311, 2.307, 2.307, 2.307], accuracy=[0.10, 0.097, 0.095, 0.096],
                val_loss=[2.305, 2.304, 2.304, 2.304], val_accuracy=[0.1, 0.109, 0.109, 0.109])
    assert "LOG007" not in found(make_history(**dead))


# --- LOG008: loss above ln K ---------------------------------------------------------------------
LOGITS = dict(loss=[4.522, 3.593, 3.73, 3.604, 3.414], accuracy=[0.0953, 0.1503, 0.1719, 0.1213, 0.1841],
              val_loss=[3.717, 5.157, 3.484, 3.451, 3.429], val_accuracy=[0.095, 0.1675, 0.2113, 0.1713, 0.0887])


def test_log008_loss_above_chance_is_an_output_loss_mismatch(make_history):
    f = found(make_history(**LOGITS))["LOG008"]
    assert f.cause == "output-loss-mismatch"
    assert f.severity.value == "warning" and f.evidence["classes_source"] == "assumed"  # K unknown
    assert found(make_history(**LOGITS), classes=10)["LOG008"].severity.value == "error"
    assert verdict(make_history(**LOGITS)) == "output-loss-mismatch"


def test_log008_no_wiring_verdict_on_a_learning_100_class_run(make_history):
    # CIFAR-100 loss is above ln 10 for a long time, but it falls and accuracy rises: K decides
    h = make_history(loss=[4.3, 3.9, 3.6, 3.35], accuracy=[0.05, 0.10, 0.15, 0.19])
    assert found(h)["LOG008"].cause == "insufficient-evidence"
    assert "LOG008" not in found(h, classes=100)


# --- LOG009: binary accuracy on one-hot labels ----------------------------------------------------
BCE = dict(loss=[0.3614, 0.3051, 0.2744, 0.2536, 0.2419], accuracy=[0.8999, 0.8997, 0.9025, 0.9055, 0.9078],
           val_loss=[0.3235, 0.2974, 0.2701, 0.2594, 0.2481], val_accuracy=[0.9, 0.9003, 0.9036, 0.9044, 0.9073])


def test_log009_binary_accuracy_pinned_at_one_minus_one_over_k(make_history):
    f = found(make_history(**BCE))["LOG009"]
    assert f.evidence["classes_implied"] == 10
    assert f.evidence["prior_binary_entropy"] == pytest.approx(0.3251, abs=1e-4)
    assert verdict(make_history(**BCE)) == "label-format-mismatch"


def test_log009_silent_on_mnist_like_categorical_run(make_history):
    # categorical accuracy 0.90 at epoch 1 with a similar loss, but it rises as the loss falls
    h = make_history(loss=[0.34, 0.11, 0.08, 0.06], accuracy=[0.90, 0.967, 0.976, 0.982],
                     val_loss=[0.33, 0.07, 0.05, 0.045], val_accuracy=[0.90, 0.978, 0.984, 0.986])
    assert "LOG009" not in found(h)


# --- LOG010: validation below chance -------------------------------------------------------------
SORTED = dict(loss=[2.053, 1.756, 1.588, 1.456, 1.373], accuracy=[0.2091, 0.3597, 0.4191, 0.465, 0.4953],
              val_loss=[6.878, 6.987, 7.216, 7.984, 8.628], val_accuracy=[0.0, 0.0, 0.0, 0.0, 0.0])


def test_log010_val_accuracy_zero_is_a_distribution_shift_not_overfitting(make_history):
    f = found(make_history(**SORTED))["LOG010"]
    assert f.cause == "eval-distribution-shift" and f.evidence["classes_assumed"] is True
    assert found(make_history(**SORTED), classes=10)["LOG010"].severity.value == "error"
    assert "FIT001" not in found(make_history(**SORTED))
    assert verdict(make_history(**SORTED)) == "eval-distribution-shift"


# --- LOG011: evaluate() after few steps ------------------------------------------------------------
def test_log011_few_steps_train_eval_mode_gap(make_history):
    h = make_history(loss=[1.4624, 0.6051, 0.2168, 1.1921e-07, 1.1921e-07], acc=[0.3333, 0.6667, 1.0, 1.0, 1.0])
    h.evaluations = [{"loss": 10.745, "accuracy": 0.3333}]
    h.bar_total = 3
    f = found(h)
    assert f["LOG011"].evidence["max_steps"] == 15 and "LOG001" not in f
    assert verdict(h) == "regularization-gap"
    h.bar_total = 1563  # thousands of steps: the BatchNorm statistics have settled, LOG001 may speak
    assert "LOG011" not in found(h)


# --- LOG012: val loss lower but val accuracy lower -------------------------------------------------
def test_log012_splits_disagree_on_loss_and_accuracy(make_history):
    h = make_history(loss=[0.6356, 0.6243, 0.6204, 0.6215, 0.618], acc=[0.8289, 0.8248, 0.8302, 0.8307, 0.8318],
                     val_loss=[0.4981, 0.5075, 0.5152, 0.4981, 0.4942], val_acc=[0.776, 0.7609, 0.7694, 0.7824, 0.7848])
    assert found(h)["LOG012"].cause == "eval-distribution-shift"


def test_log012_silent_under_dropout(make_history):
    # validation better on both measures: the dropout gap, FIT003
    h = make_history(loss=[2.3, 2.156, 1.979, 1.886], accuracy=[0.114, 0.192, 0.262, 0.308],
                     val_loss=[2.24, 2.001, 1.865, 1.768], val_accuracy=[0.206, 0.308, 0.341, 0.383])
    assert "LOG012" not in found(h) and "FIT003" in found(h)


# --- FIT001 branches -----------------------------------------------------------------------------
def test_fit001_memorization_with_saturated_accuracy(make_history):
    # keras#1971: training loss 5e-4 against val_loss 0.13, accuracy 1.0 vs 0.96
    h = make_history(loss=[0.1026, 4.6988e-04, 5.7437e-04, 6.3242e-04, 5.3643e-04, 4.2413e-04, 4.8201e-04],
                     acc=[0.9667, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                     val_loss=[0.1384, 0.129, 0.1321, 0.1312, 0.1322, 0.1326, 0.1295],
                     val_acc=[0.9733, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96])
    f = found(h)["FIT001"]
    assert f.evidence["memorization_loss_ratio"] > 100
    assert verdict(h) == "overfitting"


def test_fit001_on_a_validation_score_other_than_accuracy(make_history):
    # graph auto-encoder: train_acc rises, val_roc falls, printed epochs 198-200 then 999-1000
    h = make_history(loss=[0.40438, 0.40435, 0.40434, 0.39955, 0.39954],
                     acc=[0.80021, 0.80037, 0.80052, 0.89461, 0.89462],
                     val_roc=[0.91772, 0.91785, 0.9178, 0.86105, 0.86104])
    h.index = [198, 199, 200, 999, 1000]
    f = found(h)["FIT001"]
    assert f.evidence["val_score"] == "val_roc" and f.evidence["early_stopping_epoch"] == 199


def test_fit001_not_when_training_loss_climbs(make_history):
    h = make_history(loss=[1.5869, 1.2171, 1.1202, 1.0933, 1.1043, 1.1402, 1.1855, 1.2136, 1.2371],
                     acc=[0.4241, 0.5706, 0.6111, 0.6293, 0.6293, 0.6204, 0.6111, 0.6026, 0.5952],
                     val_loss=[1.2808, 1.0393, 0.9591, 0.9481, 0.9987, 1.0415, 1.1173, 1.1018, 1.1139],
                     val_acc=[0.5496, 0.6423, 0.6687, 0.6777, 0.6573, 0.6596, 0.6163, 0.626, 0.6444])
    f = found(h)
    assert "FIT001" not in f and f["FIT004"].evidence["climbing"] is True
    assert verdict(h) == "unstable-training"


# --- FIT003 without training accuracy --------------------------------------------------------------
def test_fit003_losses_only(make_history):
    h = make_history(loss=[1.233348, 0.571644, 0.471582, 0.412204], val_loss=[0.405868, 0.310221, 0.265931, 0.238558],
                     val_accuracy=[0.8878, 0.9124, 0.9235, 0.9305])
    assert found(h)["FIT003"].cause == "regularization-gap"
    assert verdict(h) == "regularization-gap"


# --- FIT004 ------------------------------------------------------------------------------------------
def test_fit004_ignores_late_wobbles_of_an_overfit_model(make_history):
    loss = [2.191, 1.882, 1.726, 1.563, 1.467, 1.374, 1.271, 1.168, 1.064, 0.9703, 0.9264, 0.8671, 0.768, 0.6878,
            0.604, 0.5557, 0.5413, 0.4048, 0.3161, 0.2293, 0.2139, 0.2403, 0.3301, 0.2538, 0.2071, 0.1781, 0.1082,
            0.1145, 0.1571, 0.1369]
    val_loss = [1.986, 1.869, 1.694, 1.608, 1.554, 1.502, 1.46, 1.446, 1.466, 1.53, 1.56, 1.713, 1.859, 1.881, 2.045,
                2.166, 1.817, 2.145, 2.096, 2.17, 2.232, 2.245, 2.18, 2.572, 2.624, 2.564, 2.865, 2.929, 2.822, 2.69]
    acc = [min(0.2 + 0.03 * i, 0.97) for i in range(30)]
    val_acc = [0.31, 0.309, 0.39, 0.411, 0.43, 0.454, 0.476, 0.481, 0.483, 0.48] + [0.46] * 20
    h = make_history(loss=loss, accuracy=acc, val_loss=val_loss, val_accuracy=val_acc)
    f = found(h)
    assert "FIT004" not in f and f["FIT001"].evidence["best_val_loss_epoch"] == 8
    assert verdict(h) == "overfitting"


def test_fit004_accuracy_collapse(make_history):
    h = make_history(loss=[1.9, 1.6, 1.5, 2.2, 2.3], accuracy=[0.3, 0.42, 0.45, 0.11, 0.10])
    assert found(h)["FIT004"].evidence["accuracy_collapse"] == [0.45, 0.1]


# --- FIT005: oscillating validation loss -------------------------------------------------------------
def test_fit005_validation_loss_swings(make_history):
    h = make_history(loss=[2.27, 1.55, 1.07, 0.87, 0.59, 0.52, 0.38, 0.32, 0.21, 0.34],
                     acc=[0.5, 0.5, 0.51, 0.58, 0.72, 0.79, 0.85, 0.88, 0.91, 0.88],
                     val_loss=[3.29, 0.92, 1.43, 1.85, 0.58, 2.3, 0.17, 1.52, 0.14, 2.81],
                     val_acc=[0.49, 0.5, 0.53, 0.61, 0.61, 0.5, 0.86, 0.6, 0.88, 0.49])
    f = found(h)["FIT005"]
    assert len(f.evidence["reversal_epochs"]) >= 3
    assert verdict(h) == "unstable-training"


# --- FIT006: slow learning ---------------------------------------------------------------------------
ADADELTA = dict(loss=[2.2754, 2.2023, 2.1075, 1.9826], accuracy=[0.1646, 0.2839, 0.3794, 0.4569],
                val_loss=[2.2287, 2.138, 2.0163, 1.8593], val_accuracy=[0.3468, 0.5022, 0.5872, 0.6505])


def test_fit006_slow_learning_over_many_steps(make_history):
    h = make_history(**ADADELTA)
    h.bar_total = 60000
    f = found(h)["FIT006"]
    assert f.evidence["classes"] == 10 and f.evidence["fraction_of_ln_k"] == pytest.approx(0.861, abs=1e-3)
    assert verdict(h) == "underfitting"


def test_fit006_silent_on_few_steps_or_unknown_steps(make_history):
    h = make_history(**ADADELTA)
    assert "FIT006" not in found(h)  # no progress bar: the pace cannot be judged
    h.bar_total = 40  # 160 steps: a healthy start is this slow too
    assert "FIT006" not in found(h)


def test_log008_saturated_training_softmax_is_not_learning_not_a_wiring_bug(make_history):
    # raw 0-255 pixels under Keras 2's clipped loss: every error costs ~16 nats, accuracy at chance
    h = make_history(loss=[14.6, 14.5, 14.51, 14.49], acc=[0.094, 0.1, 0.099, 0.101])
    f = found(h)["LOG008"]
    assert f.cause == "not-learning" and f.evidence["cost_per_error"] > 16
    assert verdict(h) == "not-learning"


def test_log004_validation_at_chance_with_a_saturated_softmax_is_a_scale_bug(make_history):
    # raw test images into a BatchNorm model trained on /255 images: one class wins every image, confidently
    h = make_history(loss=[1.9, 1.5, 1.3, 1.2], accuracy=[0.3, 0.45, 0.53, 0.57],
                     val_loss=[95.0, 120.0, 140.0, 151.0], val_accuracy=[0.1, 0.1, 0.1, 0.1])
    f = found(h)["LOG004"]
    assert f.cause == "eval-input-scale-mismatch" and f.evidence["val_cost_per_error"] > 100
    shuffled = make_history(loss=[2.28, 2.11, 2.02, 1.9], accuracy=[0.13, 0.22, 0.25, 0.3],
                            val_loss=[2.34, 2.5, 2.56, 2.71], val_accuracy=[0.108, 0.118, 0.124, 0.108])
    assert found(shuffled)["LOG004"].cause == "eval-labels-misaligned"


def test_log013_loss_stuck_on_the_double_softmax_floor(make_history):
    h = make_history(loss=[2.05, 1.72, 1.61, 1.57, 1.55], accuracy=[0.45, 0.72, 0.83, 0.88, 0.90],
                     val_loss=[1.80, 1.66, 1.60, 1.58, 1.57], val_accuracy=[0.62, 0.78, 0.84, 0.86, 0.87])
    f = found(h)["LOG013"]
    assert f.evidence["classes"] == 10 and f.evidence["floor"] == pytest.approx(1.4612, abs=1e-4)
    assert verdict(h) == "output-loss-mismatch"


def test_log013_silent_when_one_softmax_takes_the_loss_below_the_floor(make_history):
    h = make_history(loss=[1.6, 0.9, 0.6, 0.45, 0.38], accuracy=[0.45, 0.72, 0.83, 0.88, 0.90])
    assert "LOG013" not in found(h)


def test_log004_frozen_validation_accuracy_is_not_misaligned_labels(make_history):
    # fine-tuning with frozen BatchNorm statistics: one answer for every validation image
    h = make_history(loss=[0.62, 0.41, 0.30, 0.22], accuracy=[0.68, 0.81, 0.87, 0.91],
                     val_loss=[0.83, 0.85, 0.84, 0.86], val_accuracy=[0.5, 0.5, 0.5, 0.5])
    f = found(h, classes=2)["LOG004"]
    assert f.cause == "eval-distribution-shift" and f.evidence["constant"] is True


def test_log007_near_ln_k_with_validation_at_chance(make_history):
    # test images divided by 255 twice: the answer barely depends on the image, val_loss drifts 2.31 -> 2.37
    h = make_history(loss=[2.169, 1.859, 1.726, 1.619, 1.523, 1.439],
                     accuracy=[0.2023, 0.3383, 0.385, 0.4303, 0.464, 0.4967],
                     val_loss=[2.307, 2.319, 2.316, 2.326, 2.346, 2.367],
                     val_accuracy=[0.094, 0.089, 0.094, 0.089, 0.089, 0.108])
    assert verdict(h) == "eval-input-scale-mismatch"


def test_log009_binary_accuracy_flat_at_exactly_one_minus_one_over_k(make_history):
    h = make_history(loss=[0.4245, 0.3343, 0.3319, 0.3288, 0.3238, 0.3173], accuracy=[0.9] * 6,
                     val_loss=[0.3372, 0.3354, 0.3322, 0.329, 0.3242, 0.322], val_accuracy=[0.9] * 6)
    assert verdict(h) == "label-format-mismatch"


def test_log005_validation_that_keeps_up_with_training_is_leakage(make_history):
    # validation_data = a slice of the training arrays; the real test set is printed after fit
    h = make_history(loss=[1.2543, 1.1561, 1.0593], accuracy=[0.5543, 0.5933, 0.6297],
                     val_loss=[1.2082, 1.147, 1.0001], val_accuracy=[0.5533, 0.59, 0.63])
    h.evaluations = [{"loss": 1.7336, "accuracy": 0.438}]
    assert found(h)["LOG005"].cause == "train-test-leakage"
    # a test set read in BGR: validation (held out, correct) falls behind training, the test far below
    h = make_history(loss=[1.708, 1.59, 1.498], accuracy=[0.3906, 0.4267, 0.4653],
                     val_loss=[1.675, 1.584, 1.534], val_accuracy=[0.3775, 0.4275, 0.425])
    h.evaluations = [{"loss": 2.3128, "accuracy": 0.209}]
    assert found(h)["LOG005"].cause == "eval-distribution-shift"


def test_log014_saturated_training_errors_while_learning(make_history):
    h = make_history(loss=[643.99, 89.73, 27.71, 39.43, 38.48, 31.03, 19.08, 16.93, 18.71, 12.14],
                     accuracy=[0.119, 0.155, 0.214, 0.196, 0.206, 0.218, 0.237, 0.253, 0.216, 0.271],
                     val_loss=[165.8, 27.6, 25.5, 63.0, 40.8, 21.9, 20.7, 16.7, 18.5, 10.0],
                     val_accuracy=[0.151, 0.232, 0.188, 0.167, 0.177, 0.228, 0.267, 0.206, 0.196, 0.248])
    assert found(h)["LOG014"].evidence["cost_per_error"] > 16
    assert verdict(h) == "input-not-normalized"


def test_log003_a_missing_value_is_not_a_nan_loss(make_history):
    # CSVLogger with validation every other epoch: NA in val_loss is a gap, not NaN
    h = make_history(**HEALTHY)
    h.metrics["val_loss"][1] = float("nan")
    h.gaps = {"val_loss": [1]}
    assert "LOG003" not in found(h)
    h.gaps = {}
    assert found(h)["LOG003"].evidence["first_epoch"] == 2


def test_log008_abstains_when_k_is_unknown_and_the_model_learns(make_history):
    # a ReLU output with categorical cross-entropy, or a CIFAR-100 run: only K tells them apart
    h = make_history(loss=[5.134, 4.857, 4.749, 3.485, 3.412, 3.357], accuracy=[0.107, 0.14, 0.185, 0.158, 0.143, 0.216],
                     val_loss=[4.518, 4.503, 3.759, 3.226, 3.264, 3.206], val_accuracy=[0.108, 0.124, 0.166, 0.203, 0.143, 0.223])
    assert verdict(h) == "insufficient-evidence"
    assert "LOG008" not in found(h, classes=10)  # K known: a rough start and a bad output look alike here


def test_log006_a_log_of_test_accuracy_alone_is_not_healthy(make_history):
    h = make_history(val_accuracy=[0.43, 0.45, 0.46])
    assert found(h)["LOG006"].evidence["has_training"] is False
    assert verdict(h) == "insufficient-evidence"
