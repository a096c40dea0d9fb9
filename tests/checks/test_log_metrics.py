"""Checks LOG009, LOG012, LOG015, LOG016, LOG017, LOG018: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


# --- LOG009: binary accuracy on one-hot labels ----------------------------------------------------
BCE = dict(
    loss=[0.3614, 0.3051, 0.2744, 0.2536, 0.2419],
    accuracy=[0.8999, 0.8997, 0.9025, 0.9055, 0.9078],
    val_loss=[0.3235, 0.2974, 0.2701, 0.2594, 0.2481],
    val_accuracy=[0.9, 0.9003, 0.9036, 0.9044, 0.9073],
)


def test_log009_binary_accuracy_pinned_at_one_minus_one_over_k(make_history):
    f = found(make_history(**BCE))["LOG009"]
    assert f.evidence["classes_implied"] == 10
    assert f.evidence["prior_binary_entropy"] == pytest.approx(0.3251, abs=1e-4)
    assert verdict(make_history(**BCE)) == "label-format-mismatch"


def test_log009_silent_on_mnist_like_categorical_run(make_history):
    # categorical accuracy 0.90 at epoch 1 with a similar loss, but it rises as the loss falls
    h = make_history(
        loss=[0.34, 0.11, 0.08, 0.06],
        accuracy=[0.90, 0.967, 0.976, 0.982],
        val_loss=[0.33, 0.07, 0.05, 0.045],
        val_accuracy=[0.90, 0.978, 0.984, 0.986],
    )
    assert "LOG009" not in found(h)


# --- LOG012: val loss lower but val accuracy lower -------------------------------------------------
def test_log012_splits_disagree_on_loss_and_accuracy(make_history):
    h = make_history(
        loss=[0.6356, 0.6243, 0.6204, 0.6215, 0.618],
        acc=[0.8289, 0.8248, 0.8302, 0.8307, 0.8318],
        val_loss=[0.4981, 0.5075, 0.5152, 0.4981, 0.4942],
        val_acc=[0.776, 0.7609, 0.7694, 0.7824, 0.7848],
    )
    assert found(h)["LOG012"].cause == "eval-distribution-shift"


def test_log012_silent_under_dropout(make_history):
    # validation better on both measures: the dropout gap, FIT003
    h = make_history(
        loss=[2.3, 2.156, 1.979, 1.886],
        accuracy=[0.114, 0.192, 0.262, 0.308],
        val_loss=[2.24, 2.001, 1.865, 1.768],
        val_accuracy=[0.206, 0.308, 0.341, 0.383],
    )
    assert "LOG012" not in found(h) and "FIT003" in found(h)


def test_log009_binary_accuracy_flat_at_exactly_one_minus_one_over_k(make_history):
    h = make_history(
        loss=[0.4245, 0.3343, 0.3319, 0.3288, 0.3238, 0.3173],
        accuracy=[0.9] * 6,
        val_loss=[0.3372, 0.3354, 0.3322, 0.329, 0.3242, 0.322],
        val_accuracy=[0.9] * 6,
    )
    assert verdict(h) == "label-format-mismatch"


def test_log009_binary_accuracy_of_outputs_that_start_unsure(make_history):
    # a residual network's outputs start near 1/2 (first validation loss 0.686, near ln 2, far above H(0.1));
    # later epochs leave the flat band once outputs learn to say "yes", but the first three print 0.9000
    h = make_history(
        loss=[0.412, 0.316, 0.302, 0.279, 0.25, 0.216, 0.185],
        accuracy=[0.88, 0.9, 0.9, 0.9, 0.9, 0.907, 0.924],
        val_loss=[0.686, 0.311, 0.293, 0.266, 0.234, 0.202, 0.175],
        val_accuracy=[0.9, 0.9, 0.9, 0.9, 0.9, 0.912, 0.931],
    )
    f = found(h)["LOG009"]
    assert f.evidence["classes_implied"] == 10 and f.evidence["loss_first"] == pytest.approx(0.686)
    assert verdict(h) == "label-format-mismatch"


def test_log009_silent_on_an_imbalanced_binary_share_a_little_off_one_minus_one_over_k(make_history):
    # a binary CIFAR-10 pair at 1:10 (the run corpus): validation answers the majority, 0.9326, with the
    # binary entropy of that share; 1 - 1/15 = 0.9333 is 0.0007 away, where K outputs that all say "no"
    # score 1 - 1/K exactly
    h = make_history(
        loss=[0.3584, 0.2264, 0.1771, 0.1406, 0.1137, 0.092, 0.0774, 0.0697, 0.067],
        accuracy=[0.8915, 0.9315, 0.9505, 0.9702, 0.9867, 0.9924, 0.9943, 0.9994, 0.9968],
        val_loss=[0.2569, 0.2252, 0.2231, 0.231, 0.2408, 0.2605, 0.2649, 0.278, 0.3213],
        val_accuracy=[0.9326, 0.9354, 0.9409, 0.9422, 0.9464, 0.9436, 0.9477, 0.9436, 0.9409],
    )
    assert "LOG009" not in found(h)
    assert verdict(h) == "overfitting"


def test_log009_both_splits_at_the_prior_after_the_first_epoch(make_history):
    # three CIFAR-10 classes, one-hot labels under binary_crossentropy (the run corpus): per-output binary
    # accuracy starts at 2/3 in both splits with a loss of H(1/3) = 0.637, then climbs with the model
    h = make_history(
        loss=[0.6746, 0.6308, 0.5922, 0.5442, 0.5258, 0.5239, 0.4949, 0.4903],
        accuracy=[0.6659, 0.6672, 0.7153, 0.7535, 0.7564, 0.7554, 0.7761, 0.7713],
        val_loss=[0.645, 0.6135, 0.5648, 0.5351, 0.5397, 0.5009, 0.485, 0.5037],
        val_accuracy=[0.6667, 0.6771, 0.7392, 0.7612, 0.7433, 0.7872, 0.7984, 0.7798],
    )
    f = found(h)["LOG009"]
    assert f.evidence["classes_implied"] == 3 and f.evidence["train_accuracy_first"] == pytest.approx(0.6659)
    assert verdict(h) == "label-format-mismatch"
    # validation alone at 2/3 after one epoch of a climbing class accuracy is one coincidence, not two
    off = make_history(**{**h.metrics, "accuracy": [0.61, 0.6672, 0.7153, 0.7535, 0.7564, 0.7554, 0.7761, 0.7713]})
    assert "LOG009" not in found(off)


def test_log009_silent_on_an_imbalanced_binary_share_near_one_minus_one_over_k(make_history):
    # 95/5 binary classes predicted as the majority (the run corpus): 0.9516 is 1 - 1/21 within 0.0008 and
    # its loss lies between H(1/21) and ln 2, but 1 - 1/21 stands too close to 1 - 1/20 and 1 - 1/22
    h = make_history(
        loss=[0.52, 0.321, 0.313, 0.3, 0.28, 0.269],
        accuracy=[0.861, 0.952, 0.952, 0.952, 0.952, 0.952],
        val_loss=[0.311, 0.295, 0.281, 0.268, 0.256, 0.244],
        val_accuracy=[0.9516] * 6,
    )
    assert "LOG009" not in found(h)


# --- LOG015: accuracy exactly 0 in every epoch ---------------------------------------------------
#: A regression (diabetes targets, MSE) compiled with metrics=["accuracy"]: float equality never holds.
REGRESSION = dict(
    loss=[29002.5, 28718.7, 28384.7, 27966.1, 27434.7],
    accuracy=[0.0, 0.0, 0.0, 0.0, 0.0],
    val_loss=[28310.2, 28012.3, 27640.9, 27174.7, 26584.0],
    val_accuracy=[0.0, 0.0, 0.0, 0.0, 0.0],
)


def test_log015_regression_with_accuracy_is_not_underfitting(make_history):
    report = run(Inputs(history=make_history(**REGRESSION)))
    codes = {f.code for f in report.findings}
    assert "LOG015" in codes
    assert not codes & {"FIT002", "FIT006"}  # superseded: the zero is not a model that cannot fit
    assert report.verdict.cause == "metric-not-applicable"
    f = found(make_history(**REGRESSION))["LOG015"]
    assert f.evidence["epochs"] == 5 and f.evidence["loss_last"] < f.evidence["loss_first"]


def test_log015_names_the_metric_before_a_swinging_regression_loss(make_history):
    # digit-image pixel sums regressed with plain SGD (the run corpus): the MSE swings tenfold between epochs
    # (FIT005), but the first thing to fix is the metric, and no curve reading holds until then
    h = make_history(
        loss=[5.8e4, 2.01e4, 9.85e3, 1.25e4, 1.53e4, 1.66e4, 1.38e4, 1.43e4, 1.51e4, 1.17e4],
        accuracy=[0.0] * 10,
        val_loss=[3.61e3, 1.26e4, 1.22e3, 2.15e4, 3.16e4, 7.38e3, 9.86e3, 3.61e4, 986.0, 6.8e3],
        val_accuracy=[0.0] * 10,
    )
    assert "FIT005" in found(h)
    assert verdict(h) == "metric-not-applicable"


def test_log015_supersedes_a_training_loss_read_as_a_classifiers(make_history):
    # a regression's MSE that climbs back (the run corpus): FIT004's divergence reads a classifier's loss
    h = make_history(
        loss=[31966.9, 11570.3, 15933.8, 15307.2, 12245.2, 13088.7, 16000.0, 17500.0],
        accuracy=[0.0] * 8,
    )
    report = run(Inputs(history=h), calibrated=False)
    codes = {f.code for f in report.findings}
    assert "LOG015" in codes and "FIT004" not in codes
    assert report.verdict.cause == "metric-not-applicable"
    # the same loss beside an accuracy that is not always 0 is a classifier's: every error costs thousands of
    # nats, a softmax saturated by unscaled inputs (LOG014, which supersedes FIT004's reading of it)
    with_acc = make_history(loss=h.loss, accuracy=[0.1, 0.2, 0.25, 0.3, 0.3, 0.31, 0.3, 0.29])
    assert {"LOG014"} <= set(found(with_acc)) and not {"LOG015", "FIT004"} & set(found(with_acc))


def test_log015_silent_when_accuracy_leaves_zero_once(make_history):
    h = make_history(**{**REGRESSION, "accuracy": [0.0, 0.0, 0.0, 0.001, 0.0]})
    assert "LOG015" not in found(h)


def test_log015_silent_on_a_classifier_at_chance(make_history):
    h = make_history(
        loss=[2.303, 2.302, 2.302, 2.301],
        accuracy=[0.098, 0.101, 0.1, 0.099],
        val_loss=[2.302, 2.302, 2.302, 2.302],
        val_accuracy=[0.1, 0.1, 0.1, 0.1],
    )
    assert "LOG015" not in found(h)


def test_log015_skipped_without_enough_epochs(make_history):
    h = make_history(**{k: v[:2] for k, v in REGRESSION.items()})
    assert "LOG015" not in found(h)


# --- LOG016: a loss below -1 -----------------------------------------------------------------------
#: Integer labels 0-9 fed to binary cross-entropy over one sigmoid unit (a generated run's log).
BCE_ON_INTEGER_LABELS = dict(
    loss=[-66.779, -605.774, -2081.749, -4930.666, -9548.191],
    accuracy=[0.0916, 0.0913, 0.0913, 0.0913, 0.0913],
    val_loss=[-214.556, -1123.169, -3097.607, -6526.459, -11967.875],
    val_accuracy=[0.089, 0.089, 0.089, 0.089, 0.089],
)


def test_log016_negative_loss_is_labels_outside_the_loss_range(make_history):
    report = run(Inputs(history=make_history(**BCE_ON_INTEGER_LABELS)))
    (f,) = [f for f in report.findings if f.code == "LOG016"]
    assert f.severity.value == "error" and f.evidence["lowest"]["loss"] == pytest.approx(-9548.191)
    assert report.verdict.cause == "label-format-mismatch"


def test_log016_supersedes_the_nan_it_leads_to(make_history):
    h = make_history(
        loss=[-1.4e23, float("nan"), float("nan"), float("nan")],
        accuracy=[0.092, 0.097, 0.1, 0.1],
        val_loss=[float("nan")] * 4,
        val_accuracy=[0.12, 0.089, 0.089, 0.089],
    )
    codes = set(found(h))
    assert "LOG016" in codes and "LOG003" not in codes


def test_log016_silent_on_cosine_similarity_and_healthy_runs(make_history):
    cosine = make_history(loss=[-0.41, -0.62, -0.75], accuracy=[0.4, 0.55, 0.63])  # cosine similarity >= -1
    assert "LOG016" not in found(cosine)
    assert "LOG016" not in found(make_history(loss=[2.1, 1.7, 1.5], accuracy=[0.25, 0.38, 0.45]))


def test_log016_skipped_for_a_regression_at_accuracy_zero(make_history):
    h = make_history(loss=[-3.1, -4.5, -5.8], accuracy=[0.0, 0.0, 0.0])  # Poisson-like counts: LOG015's case
    assert "LOG016" not in found(h)


# --- LOG017: accuracy frozen while the loss moves, or a loss of 0 -----------------------------------
def test_log017_single_softmax_unit_freezes_accuracy(make_history):
    h = make_history(
        loss=[0.811, 0.738, 0.718, 0.658, 0.667, 0.629],
        accuracy=[0.532] * 6,
        val_loss=[0.706, 0.677, 0.649, 0.629, 0.603, 0.583],
        val_accuracy=[0.492] * 6,
    )
    report = run(Inputs(history=h))
    assert "LOG017" in {f.code for f in report.findings}
    assert report.verdict.cause == "output-loss-mismatch"


def test_log017_loss_of_zero_at_a_low_accuracy(make_history):
    h = make_history(loss=[0.0] * 5, accuracy=[0.831, 0.859, 0.85, 0.838, 0.827], val_loss=[0.0] * 5)
    f = found(h)["LOG017"]
    assert f.evidence["loss_zero"] is True


def test_log017_frozen_after_the_first_epochs_running_mean(make_history):
    # categorical cross-entropy on one output unit (a fresh draw of the run corpus): epoch 1's running mean
    # still carries the first steps, then 0.4840 in ten epochs while the loss climbs thirtyfold
    h = make_history(
        loss=[0.22, 0.273, 0.426, 0.702, 1.12, 1.68, 2.4, 3.29, 4.33, 5.55, 6.93],
        accuracy=[0.488] + [0.484] * 10,
        val_loss=[0.234, 0.336, 0.55, 0.897, 1.39, 2.04, 2.84, 3.81, 4.95, 6.25, 7.72],
        val_accuracy=[0.534] * 11,
    )
    f = found(h)["LOG017"]
    assert "in the last 10 epochs" in f.message
    assert verdict(h) == "output-loss-mismatch"


def test_log017_four_identical_epochs_are_enough(make_history):
    h = make_history(loss=[0.811, 0.702, 0.655, 0.629], accuracy=[0.532] * 4)
    assert "in all 4 epochs" in found(h)["LOG017"].message


def test_log017_leaves_a_majority_share_frozen_from_epoch_two_to_log018(make_history):
    # 0.9516 from the second epoch on is the commonest class of imbalanced data, not a loss that misses
    h = make_history(
        loss=[0.52, 0.321, 0.313, 0.3, 0.28, 0.269],
        accuracy=[0.861, 0.9516, 0.9516, 0.9516, 0.9516, 0.9516],
    )
    assert "LOG017" not in found(h)


def test_log017_silent_on_converged_and_learning_runs(make_history):
    converged = make_history(loss=[0.02, 0.01, 0.006, 0.004], accuracy=[1.0, 1.0, 1.0, 1.0])
    learning = make_history(loss=[2.08, 1.74, 1.58, 1.45, 1.35], accuracy=[0.241, 0.368, 0.427, 0.473, 0.511])
    stuck = make_history(loss=[0.6931, 0.6931, 0.6932, 0.6931], accuracy=[0.5, 0.5, 0.5, 0.5])  # the loss does not move
    for h in (converged, learning, stuck):
        assert "LOG017" not in found(h)


def test_log017_binary_accuracy_pinned_at_one_minus_one_over_k(make_history):
    # binary cross-entropy on 10 one-hot labels (a residual CNN of the run corpus): "accuracy" is a binary
    # accuracy over the 10 outputs, 0.9 for outputs near 0 whatever the network learns
    h = make_history(
        loss=[0.697, 0.596, 0.533, 0.483, 0.453, 0.413],
        accuracy=[0.89642, 0.89675, 0.896, 0.89633, 0.89758, 0.89675],
        val_loss=[0.62, 0.55, 0.5, 0.47, 0.44, 0.42],
        val_accuracy=[0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
    )
    report = run(Inputs(history=h), calibrated=False)
    (f,) = [f for f in report.findings if f.code == "LOG017"]
    assert "1 - 1/10" in f.message and "one-hot" in f.message
    # LOG009 reads the same run as binary accuracy on one-hot labels (first loss 0.62, between H(0.1) and ln 2)
    assert report.verdict.cause == "label-format-mismatch"
    assert "output-loss-mismatch" in report.verdict.causes


def test_log017_silent_on_a_model_that_climbs_to_one_minus_one_over_k(make_history):
    # a real 10-class model at 0.9 got there from chance, and a plateau there moves by more than the band
    climbed = make_history(loss=[1.2, 0.6, 0.45, 0.38, 0.33], accuracy=[0.62, 0.82, 0.87, 0.89, 0.9])
    plateau = make_history(loss=[0.36, 0.33, 0.31, 0.3, 0.29], accuracy=[0.884, 0.893, 0.899, 0.904, 0.908])
    for h in (climbed, plateau):
        assert "LOG017" not in found(h)


def test_log017_reads_the_epochs_before_the_loss_overflowed(make_history):
    # one sigmoid unit under categorical cross-entropy (a draw of the run corpus): accuracy is the share of
    # class 0 from the first epoch while the loss grows fiftyfold an epoch until it overflows to NaN
    nan = float("nan")
    h = make_history(
        loss=[0.0058, 0.028, 1.06, 49.5, 2323.6, 108999.5, nan, nan, nan],
        accuracy=[0.637] * 6 + [0.363] * 3,
        val_loss=[0.03, 0.13, 5.1, 238.0, 11150.0, 523000.0, nan, nan, nan],
        val_accuracy=[0.5986] * 6 + [0.4014] * 3,
    )
    report = run(Inputs(history=h), calibrated=False)
    f = next(f for f in report.findings if f.code == "LOG017")
    assert f.evidence["epochs"] == 6 and f.evidence["accuracy"] == [0.637]
    # the NaN that followed is the loss's overflow, not an instability of its own: LOG003 gives way
    assert "LOG003" not in {f.code for f in report.findings}
    assert report.verdict.cause == "output-loss-mismatch"


def test_log017_leaves_a_run_that_learned_before_its_nan_to_log003(make_history):
    nan = float("nan")
    h = make_history(loss=[2.1, 1.8, 1.7, 9.5, nan, nan], accuracy=[0.24, 0.35, 0.39, 0.21, 0.1, 0.1])
    report = run(Inputs(history=h), calibrated=False)
    assert "LOG017" not in {f.code for f in report.findings}
    assert report.verdict.cause == "numerical-instability"


def test_log017_skipped_when_an_epoch_in_between_lacks_a_value(make_history):
    nan = float("nan")
    h = make_history(loss=[0.81, 0.74, nan, 0.66, 0.63], accuracy=[0.532] * 5)  # finite again after the gap
    assert "LOG017" not in found(h)


def test_log017_skipped_with_too_few_epochs(make_history):
    assert "LOG017" not in found(make_history(loss=[0.0, 0.0], accuracy=[0.5, 0.5]))


# --- LOG018: both accuracies frozen from the start, training at a share only imbalance gives ---------
IMBALANCED = dict(  # 95/5 training classes, a balanced validation split (a residual CNN of the run corpus)
    loss=[0.428, 0.271, 0.223, 0.199, 0.183, 0.17],
    accuracy=[0.9375, 0.9521, 0.9521, 0.9521, 0.9521, 0.9521],
    val_loss=[0.763, 0.851, 0.875, 0.894, 0.944, 1.01],
    val_accuracy=[0.5009, 0.5009, 0.5009, 0.5009, 0.5009, 0.5009],
)


def test_log018_one_answer_at_the_majority_share(make_history):
    f = found(make_history(**IMBALANCED))["LOG018"]
    assert f.evidence["train_accuracy"] == pytest.approx(0.9521)
    assert (f.evidence["frozen_from"], f.evidence["frozen_to"]) == (2, 6)
    assert "95%" in f.message
    assert verdict(make_history(**IMBALANCED)) == "class-imbalance"


def test_log018_silent_on_balanced_stuck_learning_and_fitted_runs(make_history):
    stuck = dict(IMBALANCED, accuracy=[0.5012] * 6)  # one answer on balanced classes: at most 1/2
    learning = dict(IMBALANCED, accuracy=[0.70, 0.80, 0.86, 0.90, 0.93, 0.95])
    late = dict(IMBALANCED, accuracy=[0.55, 0.62, 0.70, 0.9521, 0.9521, 0.9521])  # climbed there: not from the start
    moving_val = dict(IMBALANCED, val_accuracy=[0.50, 0.52, 0.55, 0.58, 0.61, 0.63])
    fitted = dict(IMBALANCED, accuracy=[0.97, 0.995, 0.995, 0.995, 0.995, 0.995])
    for h in (stuck, learning, late, moving_val, fitted):
        assert "LOG018" not in found(make_history(**h))


def test_log018_gives_way_to_an_output_that_cannot_express_the_labels(make_history):
    # frozen in every epoch while the loss moves: LOG017's single softmax unit, on a 63/37 task
    h = make_history(
        loss=[0.155, 0.104, 0.087, 0.079, 0.075, 0.073],
        accuracy=[0.6374] * 6,
        val_loss=[0.16, 0.12, 0.1, 0.09, 0.085, 0.08],
        val_accuracy=[0.5986] * 6,
    )
    codes = found(h)
    assert "LOG017" in codes and "LOG018" not in codes


def test_log018_skipped_with_too_few_epochs(make_history):
    assert "LOG018" not in found(make_history(**{k: v[:3] for k, v in IMBALANCED.items()}))
