"""Checks LOG002, LOG004, LOG007, LOG008, LOG010, LOG020: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cifar_doctor import diagnose
from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.sources.logs import read_history


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


# --- LOG007: eval outputs uniform ------------------------------------------------------------
TYPO = dict(
    loss=[3.651, 1.948, 1.734, 1.6, 1.478],
    accuracy=[0.1817, 0.3043, 0.375, 0.4245, 0.4593],
    val_loss=[2.3009, 2.3011, 2.3014, 2.3022, 2.3033],
    val_accuracy=[0.128, 0.139, 0.135, 0.122, 0.107],
)


# --- LOG008: loss above ln K ---------------------------------------------------------------------
LOGITS = dict(
    loss=[4.522, 3.593, 3.73, 3.604, 3.414],
    accuracy=[0.0953, 0.1503, 0.1719, 0.1213, 0.1841],
    val_loss=[3.717, 5.157, 3.484, 3.451, 3.429],
    val_accuracy=[0.095, 0.1675, 0.2113, 0.1713, 0.0887],
)


# --- LOG010: validation below chance -------------------------------------------------------------
SORTED = dict(
    loss=[2.053, 1.756, 1.588, 1.456, 1.373],
    accuracy=[0.2091, 0.3597, 0.4191, 0.465, 0.4953],
    val_loss=[6.878, 6.987, 7.216, 7.984, 8.628],
    val_accuracy=[0.0, 0.0, 0.0, 0.0, 0.0],
)


LOGS = Path(__file__).parent.parent / "fixtures" / "logs"


def codes(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["LOG", "FIT"]).findings}


# a healthy CIFAR-10 run: loss falls, val follows, honest errors cost ~2-3 nats
HEALTHY = dict(
    loss=[1.55, 1.20, 1.02, 0.90, 0.82],
    accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
    val_loss=[1.30, 1.10, 0.98, 0.92, 0.90],
    val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69],
)


def test_log007_val_loss_pinned_at_ln_k_is_a_scale_mismatch(make_history):
    f = found(make_history(**TYPO))["LOG007"]
    assert f.severity.value == "error" and f.evidence["classes"] == 10
    assert f.evidence["classes_source"] == "fitted to val_loss"
    assert verdict(make_history(**TYPO)) == "eval-input-scale-mismatch"
    assert "FIT001" not in found(make_history(**TYPO))  # the val accuracy dip is not overfitting


def test_log007_training_left_unscaled_saturates_while_validation_sits_at_ln_k(make_history):
    # raw 0-255 training pixels, /255 validation pixels (the run corpus): the training loss stays far above
    # ln 10 while the validation loss does not move from it
    h = make_history(
        loss=[22.611, 9.636, 6.789, 5.513, 4.47],
        accuracy=[0.102, 0.105, 0.117, 0.125, 0.131],
        val_loss=[2.304, 2.302, 2.302, 2.301, 2.302],
        val_accuracy=[0.084, 0.099, 0.095, 0.11, 0.098],
    )
    f = found(h)["LOG007"]
    assert f.evidence["train_saturated"] is True and "far larger scale" in f.message
    assert verdict(h) == "eval-input-scale-mismatch"
    # the typo's training loss fell below ln K: the other reading
    assert found(make_history(**TYPO))["LOG007"].evidence["train_saturated"] is False


#: A residual CNN with BatchNorm after few steps (the run corpus): val_loss at ln 2 and one answer throughout.
UNIFORM_BN = dict(
    loss=[0.805, 0.588, 0.498, 0.41, 0.351, 0.316],
    accuracy=[0.518, 0.756, 0.803, 0.864, 0.883, 0.89],
    val_loss=[0.705, 0.705, 0.704, 0.703, 0.704, 0.703],
    val_accuracy=[0.494, 0.483, 0.497, 0.494, 0.494, 0.494],
)


def test_log007_one_frozen_uniform_answer_is_an_inference_mode_shift(make_history):
    h = make_history(**UNIFORM_BN)
    f = found(h)["LOG007"]
    assert f.cause == "eval-distribution-shift" and f.evidence["longest_constant_run"] == 3
    assert verdict(h) == "eval-distribution-shift"
    assert found(make_history(**TYPO))["LOG007"].cause == "eval-input-scale-mismatch"  # answers still move


#: A residual network with BatchNorm after 114 optimizer steps (19 a epoch, draw 8 of the run corpus): validation
#: at chance with val_loss at ln 10 while training climbs, on clean data.
UNSETTLED = dict(
    loss=[2.302, 2.0489, 1.8432, 1.6442, 1.4491, 1.2629],
    accuracy=[0.1775, 0.4408, 0.615, 0.6975, 0.775, 0.8342],
    val_loss=[2.3085, 2.307, 2.305, 2.3081, 2.3076, 2.3064],
    val_accuracy=[0.055, 0.065, 0.095, 0.105, 0.13, 0.11],
)


@pytest.mark.parametrize("bar_total, cause", [(19, "eval-distribution-shift"), (400, "eval-input-scale-mismatch")])
def test_log007_after_few_optimizer_steps_names_no_pipeline_bug(make_history, bar_total, cause):
    # 19 steps an epoch x 6 epochs: BatchNorm's moving statistics still carry half their initial values and give
    # the uniform output a blank input gives; 400 x 6 steps settle them, and the scale reading stands
    h = make_history(**UNSETTLED)
    h.bar_total = bar_total
    f = found(h)["LOG007"]
    assert f.cause == cause and verdict(h) == cause
    if bar_total == 19:
        assert f.severity.value == "warning" and f.evidence["max_steps"] == 114
        assert "BatchNormalization" in f.explanation and "at most 114 optimizer steps" in f.message
    h.bar_total = None  # a History JSON shows no steps: the scale reading as before
    assert found(h)["LOG007"].cause == "eval-input-scale-mismatch"


def test_log004_after_few_optimizer_steps_hedges_misaligned_labels(make_history):
    # validation wandering at 1/10 while training climbs: misaligned labels, unless BatchNorm has not settled
    h = make_history(
        loss=[2.1, 1.8, 1.6, 1.45, 1.3],
        accuracy=[0.25, 0.36, 0.44, 0.5, 0.55],
        val_loss=[2.9, 3.1, 3.3, 3.6, 3.9],
        val_accuracy=[0.104, 0.093, 0.108, 0.097, 0.101],
    )
    assert found(h)["LOG004"].cause == "eval-labels-misaligned"
    h.bar_total = 16  # 80 steps
    f = found(h)["LOG004"]
    assert f.cause == "eval-distribution-shift" and f.evidence["max_steps"] == 80
    assert verdict(h) == "eval-distribution-shift" and "validation labels out of step" in f.explanation


def test_log007_a_repeat_printed_to_two_decimals_keeps_the_hedged_reading(make_history):
    # the same BatchNorm run printed f"{acc:.2f}": 0.49 three times may hide answers that moved, which the
    # scale reading needs; the one-answer reading, which names the scale too, holds
    two = {k: [round(v, 2) for v in vals] if "acc" in k else vals for k, vals in UNIFORM_BN.items()}
    f = found(make_history(**two))["LOG007"]
    assert f.cause == "eval-distribution-shift" and f.evidence["accuracy_step"] == pytest.approx(0.01)
    assert "repeats 0.4900 in 3 consecutive epochs as printed" in f.message and "may give" in f.message
    # the repeated value is the run's, not the last epoch's
    shifted = make_history(**{**two, "val_accuracy": [0.49, 0.48, 0.50, 0.50, 0.50, 0.49]})
    assert "repeats 0.5000 in 3" in found(shifted)["LOG007"].message
    # answers that visibly move at two decimals keep the scale reading
    moving = {**TYPO, "val_accuracy": [0.13, 0.14, 0.14, 0.12, 0.11], "accuracy": [0.18, 0.30, 0.38, 0.42, 0.46]}
    assert found(make_history(**moving))["LOG007"].cause == "eval-input-scale-mismatch"


def test_log007_silent_when_training_is_at_chance_too(make_history):
    dead = dict(
        loss=[2.311, 2.307, 2.307, 2.307],
        accuracy=[0.10, 0.097, 0.095, 0.096],
        val_loss=[2.305, 2.304, 2.304, 2.304],
        val_accuracy=[0.1, 0.109, 0.109, 0.109],
    )
    assert "LOG007" not in found(make_history(**dead))


def test_log008_loss_above_chance_is_an_output_loss_mismatch(make_history):
    f = found(make_history(**LOGITS))["LOG008"]
    assert f.cause == "output-loss-mismatch"
    assert f.severity.value == "warning" and f.evidence["classes_source"] == "assumed"  # K unknown
    assert found(make_history(**LOGITS), classes=10)["LOG008"].severity.value == "error"
    assert verdict(make_history(**LOGITS)) == "output-loss-mismatch"


#: A learning rate too low (a run of the corpus): a fresh softmax's start a little above ln 10, then a loss
#: that falls at every epoch, 1.7% in nine.
CREEPING = dict(
    loss=[2.789, 2.783, 2.778, 2.772, 2.767, 2.762, 2.757, 2.752, 2.747, 2.742],
    accuracy=[0.092, 0.093, 0.093, 0.093, 0.093, 0.093, 0.094, 0.097, 0.098, 0.1],
    val_loss=[2.313, 2.313, 2.313, 2.315, 2.318, 2.32, 2.323, 2.326, 2.33, 2.335],
    val_accuracy=[0.125, 0.12, 0.104, 0.099, 0.083, 0.091, 0.109, 0.117, 0.123, 0.131],
)


def test_log008_a_fresh_start_creeping_down_is_not_learning_not_a_wiring_bug(make_history):
    f = found(make_history(**CREEPING))["LOG008"]
    assert f.cause == "not-learning" and f.evidence["first_loss"] == 2.789
    assert "learning rate" in f.fix.title.lower()
    assert verdict(make_history(**CREEPING)) == "not-learning"


def test_log008_a_fresh_start_that_climbs_is_left_to_fit004(make_history):
    # a learning rate too high: a fresh start, then the loss climbs far above ln 10
    loss = [2.396, 3.381, 8.554, 11.069, 11.151, 10.703, 10.194, 9.704, 9.241, 8.805]
    h = make_history(loss=loss, accuracy=[0.136, 0.121, 0.106, 0.082] + [0.091] * 6)
    found_ = found(h)
    assert "LOG008" not in found_ and found_["FIT004"].evidence["diverging"] is True
    assert verdict(h) == "unstable-training"


def test_log008_reads_a_log_of_steps_on_block_means(make_history):
    # the same run logged per step: one batch's loss jumps about, its block means fall at every block
    loss = [2.79 - 0.0003 * i + (0.03 if i % 2 else -0.03) for i in range(200)]
    h = make_history(loss=loss, accuracy=[0.09 + (0.01 if i % 3 else 0.0) for i in range(200)])
    h.index_kind = "step"
    assert found(h)["LOG008"].cause == "not-learning"


def test_log008_a_fresh_start_hovering_above_chance_is_not_learning(make_history):
    # a residual CNN at a learning rate of 1e-6 (a draw of the run corpus): it starts where a 10-class softmax
    # starts and hovers there, neither falling at every epoch nor climbing; a broken output starts far above
    h = make_history(
        loss=[2.7663, 2.762, 2.7409, 2.7357, 2.7562, 2.7504],
        accuracy=[0.0925, 0.1017, 0.0917, 0.0967, 0.0992, 0.1033],
        val_loss=[2.4226, 2.4253, 2.4307, 2.437, 2.4435, 2.4497],
        val_accuracy=[0.1041, 0.0935, 0.0888, 0.0911, 0.0947, 0.0935],
    )
    f = found(h)["LOG008"]
    assert f.cause == "not-learning" and "stayed within 10% of it" in f.message
    assert verdict(h) == "not-learning"


def test_log008_a_start_far_above_chance_keeps_the_wiring_reading(make_history):
    # linear outputs under a loss that expects probabilities start far above ln 10 and stay there
    h = make_history(loss=[5.1, 4.9, 5.0, 4.95, 4.97, 4.96], accuracy=[0.1, 0.11, 0.1, 0.1, 0.11, 0.1])
    assert found(h)["LOG008"].cause == "output-loss-mismatch"


def test_log008_validation_at_ln_k_throughout_clears_the_wiring(make_history):
    # a BatchNorm CNN at a learning rate of 1e-6 (the run corpus): the training-mode loss sits at 3.4-3.6,
    # half again ln 10, but in inference mode the same output and loss give the uniform guess at every epoch
    h = make_history(
        loss=[3.5863, 3.432, 3.5224, 3.491, 3.4216, 3.3923],
        accuracy=[0.0997, 0.1103, 0.0921, 0.1005, 0.108, 0.105],
        val_loss=[2.3221, 2.3337, 2.3496, 2.3664, 2.3836, 2.4008],
        val_accuracy=[0.1009, 0.0999, 0.1009, 0.0999, 0.0999, 0.0989],
    )
    f = found(h)["LOG008"]
    assert f.cause == "not-learning" and f.evidence["val_loss"][0] == 2.3221
    assert "wiring fits" in f.explanation and verdict(h) == "not-learning"
    # a linear output fed to a probability loss: validation far above ln K, or at it only while every output is
    # dead and equal, then leaving it: the wiring
    for val_loss in ([7.7234, 7.9826, 7.9132, 7.848, 7.7935, 7.8], [2.3026, 4.4633, 4.8348, 5.9315, 6.5005, 6.6]):
        assert found(make_history(**{**h.metrics, "val_loss": val_loss}))["LOG008"].cause == "output-loss-mismatch"


def test_log008_no_wiring_verdict_on_a_learning_100_class_run(make_history):
    # CIFAR-100 loss is above ln 10 for a long time, but it falls and accuracy rises: K decides
    h = make_history(loss=[4.3, 3.9, 3.6, 3.35], accuracy=[0.05, 0.10, 0.15, 0.19])
    assert found(h)["LOG008"].cause == "insufficient-evidence"
    assert "LOG008" not in found(h, classes=100)


def test_log010_val_accuracy_zero_is_a_distribution_shift_not_overfitting(make_history):
    f = found(make_history(**SORTED))["LOG010"]
    assert f.cause == "eval-distribution-shift" and f.evidence["classes_assumed"] is True
    assert found(make_history(**SORTED), classes=10)["LOG010"].severity.value == "error"
    assert "FIT001" not in found(make_history(**SORTED))
    assert verdict(make_history(**SORTED)) == "eval-distribution-shift"


def test_log010_fires_while_the_remaining_classes_are_learned_slowly(make_history):
    # validation holds the last 2 of 10 classes (an unshuffled validation_split, the run corpus): the other 8
    # train from 0.13 to 0.20 in eight epochs, under LOG004's rise of 0.15 above chance, and validation
    # never scores; a history file carries no evaluate() line to contradict it
    h = make_history(
        loss=[2.307, 2.152, 2.125, 2.081, 2.074, 2.046, 2.035, 2.034],
        accuracy=[0.1257, 0.1305, 0.1524, 0.1762, 0.1676, 0.219, 0.201, 0.2038],
        val_loss=[3.687, 4.268, 4.231, 5.286, 5.148, 5.594, 5.755, 5.492],
        val_accuracy=[0.0] * 8,
    )
    assert found(h)["LOG010"].evidence["train_acc_last"] == pytest.approx(0.2038)
    assert verdict(h) == "eval-distribution-shift"


def test_log010_epochs_at_zero_that_a_random_split_could_not_print(make_history):
    # a class-sorted validation split of 109 images (the run corpus, digits): 0 of 109 right in two epochs
    # while training is right on 30-67% of its images, then validation catches up as the classes are learned
    val = [round(c / 109, 4) for c in (0, 0, 6, 50, 70, 78, 87, 89, 90)]
    h = make_history(
        loss=[2.264, 1.281, 0.689, 0.478, 0.396, 0.337, 0.304, 0.278, 0.259],
        accuracy=[0.298, 0.674, 0.863, 0.922, 0.95, 0.966, 0.974, 0.979, 0.986],
        val_loss=[4.575, 3.905, 2.434, 1.485, 1.13, 0.989, 0.914, 0.848, 0.794],
        val_accuracy=val,
    )
    f = found(h)["LOG010"]
    assert f.evidence["epochs_below"] == [1, 2] and f.evidence["val_images_implied"] == 109
    assert verdict(h) == "eval-distribution-shift"
    # the same curve on a split whose size the printed accuracies do not give: ten images can score 0 by chance
    h = make_history(loss=h.loss, accuracy=h.acc, val_loss=h.val_loss, val_accuracy=[0.0, 0.0] + [0.5] * 7)
    assert "LOG010" not in found(h)


def test_log010_one_epoch_at_zero_needs_a_training_accuracy_that_makes_it_improbable(make_history):
    # 0 of 109 at a training accuracy of 0.12: the bound on scoring under 0.05 by chance is 0.04, not under 0.001
    val = [round(c / 109, 4) for c in (0, 6, 50, 70, 78)]
    h = make_history(loss=[2.3, 1.2, 0.7, 0.5, 0.4], accuracy=[0.12, 0.6, 0.8, 0.9, 0.92], val_accuracy=val)
    assert "LOG010" not in found(h)


def test_log010_silent_when_training_accuracy_is_below_chance_too(make_history):
    # an `accuracy` that no prediction earns on either split is the metric's doing (LOG015), not the split's
    h = make_history(
        loss=[1.9, 1.7, 1.6, 1.5, 1.45],
        accuracy=[0.02, 0.03, 0.03, 0.04, 0.04],
        val_loss=[1.8, 1.7, 1.65, 1.6, 1.58],
        val_accuracy=[0.0, 0.0, 0.01, 0.0, 0.0],
    )
    assert "LOG010" not in found(h)


def test_log008_saturated_training_softmax_is_not_learning_not_a_wiring_bug(make_history):
    # raw 0-255 pixels under Keras 2's clipped loss: every error costs ~16 nats, accuracy at chance
    h = make_history(loss=[14.6, 14.5, 14.51, 14.49], acc=[0.094, 0.1, 0.099, 0.101])
    f = found(h)["LOG008"]
    assert f.cause == "not-learning" and f.evidence["cost_per_error"] > 16
    assert verdict(h) == "not-learning"


def test_log004_validation_at_chance_with_a_saturated_softmax_is_a_scale_bug(make_history):
    # raw test images into a BatchNorm model trained on /255 images: one class wins every image, confidently
    h = make_history(
        loss=[1.9, 1.5, 1.3, 1.2],
        accuracy=[0.3, 0.45, 0.53, 0.57],
        val_loss=[95.0, 120.0, 140.0, 151.0],
        val_accuracy=[0.1, 0.1, 0.1, 0.1],
    )
    f = found(h)["LOG004"]
    assert f.cause == "eval-input-scale-mismatch" and f.evidence["val_cost_per_error"] > 100
    shuffled = make_history(
        loss=[2.28, 2.11, 2.02, 1.9],
        accuracy=[0.13, 0.22, 0.25, 0.3],
        val_loss=[2.34, 2.5, 2.56, 2.71],
        val_accuracy=[0.108, 0.118, 0.124, 0.108],
    )
    assert found(shuffled)["LOG004"].cause == "eval-labels-misaligned"


#: Fine-tuning with frozen BatchNorm statistics: one answer for every validation image (Keras' four decimals).
FROZEN_BN = dict(
    loss=[0.6213, 0.4127, 0.3021, 0.2234],
    accuracy=[0.6812, 0.8105, 0.8733, 0.9118],
    val_loss=[0.8307, 0.8512, 0.8436, 0.8641],
    val_accuracy=[0.5, 0.5, 0.5, 0.5],
)


def test_log004_frozen_validation_accuracy_is_not_misaligned_labels(make_history):
    f = found(make_history(**FROZEN_BN), classes=2)["LOG004"]
    assert f.cause == "eval-distribution-shift" and f.evidence["constant"] is True


def test_log004_repeats_of_a_two_decimal_log_are_not_one_answer(make_history):
    # the same run printed f"{v:.2f}": 0.50 hides a validation accuracy wandering between 0.495 and 0.505
    two_decimals = {k: [round(v, 2) for v in vals] for k, vals in FROZEN_BN.items()}
    f = found(make_history(**two_decimals), classes=2)["LOG004"]
    assert f.cause == "eval-labels-misaligned" and "constant" not in f.evidence


def test_log007_near_ln_k_with_validation_at_chance(make_history):
    # test images divided by 255 twice: the answer barely depends on the image, val_loss drifts 2.31 -> 2.37
    h = make_history(
        loss=[2.169, 1.859, 1.726, 1.619, 1.523, 1.439],
        accuracy=[0.2023, 0.3383, 0.385, 0.4303, 0.464, 0.4967],
        val_loss=[2.307, 2.319, 2.316, 2.326, 2.346, 2.367],
        val_accuracy=[0.094, 0.089, 0.094, 0.089, 0.089, 0.108],
    )
    assert verdict(h) == "eval-input-scale-mismatch"


def test_log008_abstains_when_k_is_unknown_and_the_model_learns(make_history):
    # a ReLU output with categorical cross-entropy, or a CIFAR-100 run: only K tells them apart
    h = make_history(
        loss=[5.134, 4.857, 4.749, 3.485, 3.412, 3.357],
        accuracy=[0.107, 0.14, 0.185, 0.158, 0.143, 0.216],
        val_loss=[4.518, 4.503, 3.759, 3.226, 3.264, 3.206],
        val_accuracy=[0.108, 0.124, 0.166, 0.203, 0.143, 0.223],
    )
    assert found(h)["LOG008"].cause == "insufficient-evidence"
    # still rising below one half: FIT002's "train longer" (underfitting, which such an output also is)
    # decides over the abstention, never "healthy" (on the run corpus, deferring to LOG008 cost 17 trials)
    assert verdict(h) == "underfitting"
    assert "LOG008" not in found(h, classes=10)  # K known: a rough start and a bad output look alike here


# --- LOG002 -----------------------------------------------------------------------------
def test_log002_fires_on_real_dead_run():
    report = diagnose(history=str(LOGS / "k3-high-lr-verbose1-pipe.txt"))
    assert report.verdict.cause == "not-learning"
    f = next(f for f in report.findings if f.code == "LOG002")
    assert f.evidence["classes"] == 10


def test_log002_uses_given_classes(make_history):
    h = make_history(loss=[4.62, 4.60, 4.61], accuracy=[0.009, 0.011, 0.010])
    assert codes(h)["LOG002"].evidence["classes"] == 100
    assert "LOG002" not in codes(h, classes=10)


def test_log002_reads_three_classes_off_loss_and_accuracy(make_history):
    # raw wine features into SGD (the run corpus): the first epoch blows up, then the loss sits at ln 3 = 1.0986
    h = make_history(
        loss=[15662.0, 50.55, 1.103, 1.1, 1.099, 1.098, 1.097, 1.095, 1.094],
        accuracy=[0.366, 0.276, 0.343, 0.343, 0.351, 0.366, 0.343, 0.381, 0.366],
        val_loss=[1.221, 1.119, 1.108, 1.106, 1.1, 1.099, 1.097, 1.095, 1.09],
        val_accuracy=[0.25, 0.295, 0.295, 0.295, 0.295, 0.295, 0.295, 0.455, 0.455],
    )
    assert codes(h)["LOG002"].evidence["classes"] == 3
    assert verdict(h) == "not-learning"
    # a ten-class model at the same loss is far above 1/3 in accuracy: learning
    assert "LOG002" not in codes(make_history(loss=[1.3, 1.2, 1.1, 1.09], accuracy=[0.55, 0.58, 0.61, 0.62]))


def test_log002_a_loss_at_or_above_ln_k_learned_nothing_whatever_the_accuracy_reads(make_history):
    # two epochs of a model too small to learn ten digit classes (the run corpus): the loss sits above
    # ln 10 = 2.3026 while the arg-max of near-equal outputs reads 0.13 and 0.137, outside the chance band
    h = make_history(
        loss=[2.3971, 2.3585],
        accuracy=[0.1300, 0.1367],
        val_loss=[2.3871, 2.3508],
        val_accuracy=[0.1166, 0.1244],
    )
    assert codes(h)["LOG002"].evidence["classes"] == 10
    assert verdict(h) == "not-learning"
    below = make_history(loss=[2.3112, 2.3096], accuracy=[0.0650, 0.0583])
    assert "LOG002" in codes(below)
    # below ln K the same accuracy is a model that learned a little: no judgement on two epochs
    assert "LOG002" not in codes(make_history(loss=[2.2938, 2.1825], accuracy=[0.1442, 0.1942]))
    # above ln K but far above chance: not a model at chance
    assert "LOG002" not in codes(make_history(loss=[2.40, 2.36], accuracy=[0.25, 0.30]))


def test_log002_reads_k_off_validation_at_the_uniform_guess(make_history):
    # a ten-class CNN fed raw pixels (the run corpus): the training loss falls from 67 to 2.48, above every
    # ln K band, with accuracy at 0.10-0.11, while validation sits at ln 10 and 1/10 in every epoch
    h = make_history(
        loss=[67.23, 43.76, 26.98, 16.47, 8.689, 4.723, 3.225, 2.734, 2.617, 2.477],
        accuracy=[0.095, 0.094, 0.098, 0.106, 0.139, 0.113, 0.110, 0.105, 0.108, 0.110],
        val_loss=[2.3064, 2.3045, 2.3035, 2.3027, 2.3022, 2.3022, 2.3024, 2.3024, 2.3025, 2.3025],
        val_accuracy=[0.106, 0.106, 0.105, 0.115, 0.111, 0.105, 0.101, 0.118, 0.116, 0.118],
    )
    f = codes(h)["LOG002"]
    assert f.evidence["classes"] == 10
    assert f.evidence["classes_source"] == "validation at the uniform guess"
    assert f.evidence["val_loss_tail"] == [2.3024, 2.3025, 2.3025]
    assert verdict(h) == "not-learning"
    # validation that learned (above its chance band) is a network training mode hides: no judgement here
    learned = make_history(**{**h.metrics, "val_accuracy": [0.2, 0.25, 0.3, 0.32, 0.35, 0.37, 0.38, 0.4, 0.41, 0.42]})
    assert "LOG002" not in codes(learned)
    # training accuracy well above chance: the network learned, whatever validation says
    climbing = make_history(**{**h.metrics, "accuracy": [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55]})
    assert "LOG002" not in codes(climbing)


def test_log002_silent_when_learning(make_history):
    assert "LOG002" not in codes(make_history(loss=[2.30, 2.0, 1.7], accuracy=[0.10, 0.25, 0.38]))


def test_log002_silent_when_validation_learned_under_heavy_dropout(make_history):
    # dropout 0.8 on a three-class MLP (the run corpus): training numbers, measured with dropout on, sit
    # at ln 3 and 1/3 while validation, in inference mode, climbs to 0.45
    h = make_history(
        loss=[1.28, 1.13, 1.11, 1.09, 1.10],
        accuracy=[0.322, 0.319, 0.330, 0.376, 0.343],
        val_loss=[1.10, 1.10, 1.09, 1.09, 1.09],
        val_accuracy=[0.317, 0.338, 0.428, 0.470, 0.453],
    )
    assert "LOG002" not in codes(h)
    assert verdict(h) != "not-learning"
    # the same validation numbers repeated from epoch to epoch are one answer for every image
    stuck = make_history(
        loss=[1.28, 1.13, 1.11, 1.09, 1.10],
        accuracy=[0.322, 0.319, 0.330, 0.336, 0.333],
        val_loss=[1.10, 1.10, 1.09, 1.09, 1.09],
        val_accuracy=[0.317, 0.338, 0.455, 0.455, 0.455],
    )
    assert "LOG002" in codes(stuck)
    # printed to two decimals a plateau repeats values (0.45, 0.45, 0.46): validation is seen to move unless it
    # prints one value throughout the epochs judged
    two = {k: [round(v, 2) for v in vals] for k, vals in h.metrics.items()}
    plateau = make_history(**{**two, "val_accuracy": [0.32, 0.34, 0.45, 0.45, 0.46]})
    assert "LOG002" not in codes(plateau)
    assert "LOG002" in codes(make_history(**{**two, "val_accuracy": [0.32, 0.34, 0.46, 0.46, 0.46]}))


# --- LOG004 -----------------------------------------------------------------------------
def test_log004_real_shuffled_labels():
    # 40 steps an epoch x 4 epochs: too few for BatchNorm's statistics to settle, so the log alone hedges
    # between them and the labels; with the steps unknown (the same run's History), the labels
    report = diagnose(history=str(LOGS / "k3-shuffled-val-labels-verbose2.txt"))
    assert report.verdict.cause == "eval-distribution-shift"
    f = next(f for f in report.findings if f.code == "LOG004")
    assert f.evidence["max_steps"] == 160 and "validation labels" in f.fix.title
    assert "overfitting" not in report.verdict.causes
    h = read_history(LOGS / "k3-shuffled-val-labels-verbose2.txt")
    h.bar_total = None
    assert verdict(h) == "eval-labels-misaligned"


def test_log004_error_with_known_classes(make_history):
    h = make_history(
        accuracy=[0.4, 0.6, 0.75], val_accuracy=[0.10, 0.09, 0.11], loss=[1.6, 1.1, 0.7], val_loss=[3.0, 3.5, 4.1]
    )
    assert codes(h, classes=10)["LOG004"].severity.value == "error"
    assert codes(h)["LOG004"].severity.value == "warning"  # 10 classes assumed
    assert "LOG004" not in codes(h, classes=100)  # 0.10 is 10x chance for CIFAR-100


def test_log004_silent_when_val_learns(make_history):
    assert "LOG004" not in codes(make_history(**HEALTHY))


# two classes, validation labels shuffled apart from their images (a corpus run, cifar10-c2-gray16/mlp): the
# validation loss never falls below ln 2 = 0.693, accuracy wanders around 0.5
SHUFFLED_TWO_CLASSES = dict(
    loss=[0.670, 0.544, 0.473, 0.451, 0.410, 0.378],
    accuracy=[0.580, 0.663, 0.698, 0.720, 0.741, 0.766],
    val_loss=[0.718, 0.755, 0.778, 0.795, 0.825, 0.861],
    val_accuracy=[0.496, 0.501, 0.504, 0.509, 0.507, 0.493],
)


def test_log004_reads_two_classes_off_the_curves(make_history):
    f = codes(make_history(**SHUFFLED_TWO_CLASSES))["LOG004"]
    assert f.cause == "eval-labels-misaligned" and f.severity.value == "warning"
    assert f.evidence["classes"] == 2 and f.evidence["classes_source"] == "read off the curves"
    assert verdict(make_history(**SHUFFLED_TWO_CLASSES)) == "eval-labels-misaligned"


def test_log004_k_read_off_a_two_decimal_log_whose_repeat_may_be_a_class_share(make_history):
    # printed to two decimals, 0.50 in three epochs may be one answer for every image (a class share), which
    # a K read off the curves cannot tell from chance: LOG004 gives way (LOG020 names the shift)
    two = {k: [round(v, 2) for v in vals] if "acc" in k else vals for k, vals in SHUFFLED_TWO_CLASSES.items()}
    assert "LOG004" not in codes(make_history(**two))
    assert verdict(make_history(**two)) == "eval-distribution-shift"


def test_log004_reads_two_classes_off_a_console_pasted_from_its_middle(tmp_path):
    # epochs 5-10: the first loss printed is not the start's, so K is read off the validation curve alone
    from cifar_doctor.sources.logs import read_history
    from conftest import keras3_console

    path = tmp_path / "tail.txt"
    path.write_text(keras3_console(SHUFFLED_TWO_CLASSES, first=5, total=10))
    h = read_history(path)
    assert h.index[0] == 5
    f = codes(h)["LOG004"]
    assert f.evidence["classes"] == 2 and f.evidence["classes_source"] == "read off the curves"


def test_log004_three_classes_read_off_the_curves(make_history):
    h = make_history(
        loss=[1.189, 1.082, 1.048, 1.032, 1.009, 0.987],
        accuracy=[0.407, 0.500, 0.533, 0.536, 0.560, 0.602],
        val_loss=[1.221, 1.250, 1.280, 1.304, 1.315, 1.334],
        val_accuracy=[0.339, 0.337, 0.330, 0.318, 0.315, 0.311],
    )
    assert codes(h)["LOG004"].evidence["classes"] == 3


def test_log004_no_class_count_from_a_validation_loss_below_ln_k(make_history):
    # a learning two-class model at 0.5-0.52: its validation loss has fallen below ln 2, so the labels are not unrelated
    h = make_history(**{**SHUFFLED_TWO_CLASSES, "val_loss": [0.69, 0.64, 0.61, 0.60, 0.61, 0.62]})
    assert "LOG004" not in codes(h)


def test_log004_no_class_count_from_a_nearly_constant_accuracy(make_history):
    # a BatchNorm model whose inference-mode outputs settle slowly: nearly one answer for every image
    h = make_history(**{**SHUFFLED_TWO_CLASSES, "val_accuracy": [0.515, 0.513, 0.513, 0.514, 0.514, 0.515]})
    assert "LOG004" not in codes(h)


def test_log004_no_hundred_classes_from_an_accuracy_near_zero(make_history):
    # validation classes the model never trained on (a class-sorted validation_split) also score about 0
    h = make_history(
        loss=[2.2, 1.9, 1.7, 1.6],
        accuracy=[0.2, 0.3, 0.4, 0.45],
        val_loss=[6.4, 7.0, 6.6, 7.3],
        val_accuracy=[0.003, 0.003, 0.0, 0.011],
    )
    assert codes(h).get("LOG004") is None or codes(h)["LOG004"].evidence["classes"] != 100


def test_log004_scale_bug_with_validation_near_chance_but_astray(make_history):
    # raw test pixels into a ResNet trained on /255 images (a corpus run on load_digits): validation accuracy
    # near 1/10 on average, above the band in two epochs, and every validation error costs ~30 nats
    h = make_history(
        loss=[1.997, 1.134, 0.562, 0.287, 0.170, 0.112],
        accuracy=[0.452, 0.832, 0.923, 0.968, 0.986, 0.994],
        val_loss=[4.673, 10.137, 15.530, 18.877, 25.112, 27.475],
        val_accuracy=[0.144, 0.146, 0.118, 0.118, 0.118, 0.118],
    )
    f = codes(h)["LOG004"]
    assert f.cause == "eval-input-scale-mismatch" and f.evidence["val_cost_per_error"] > 25
    assert verdict(h) == "eval-input-scale-mismatch"


# a BatchNorm CNN whose inference-mode statistics settle slowly (a corpus run of the `healthy` kind, its gap
# measured at 0.20): near 1/10 on average, 0.142 in the first epoch, honest costs of a few nats per error
SLOW_BATCHNORM_START = dict(
    loss=[2.282, 2.038, 1.943, 1.827, 1.715],
    accuracy=[0.177, 0.268, 0.306, 0.339, 0.406],
    val_loss=[2.28, 2.369, 2.494, 2.657, 2.739],
    val_accuracy=[0.142, 0.113, 0.116, 0.106, 0.108],
)


def test_log004_no_labels_judgement_when_validation_strays_from_chance(make_history):
    assert "LOG004" not in codes(make_history(**SLOW_BATCHNORM_START))


# --- LOG020: validation accuracy falls back to chance ----------------------------------------------
# a ResNet with BatchNormalization on two CIFAR-10 classes (a run corpus's `healthy` run whose moving
# statistics lag: 0.49 in inference mode, 0.89 with batch statistics on the same validation images)
COLLAPSED = dict(
    loss=[0.7372, 0.5356, 0.4510, 0.3900, 0.3566, 0.3434],
    accuracy=[0.6630, 0.8226, 0.8632, 0.8978, 0.9020, 0.9105],
    val_loss=[0.7912, 0.7810, 0.8604, 0.9726, 1.0676, 1.4872],
    val_accuracy=[0.6399, 0.5288, 0.4918, 0.4897, 0.4918, 0.4918],
)


def test_log020_validation_back_at_chance_is_not_overfitting(make_history):
    h = make_history(**COLLAPSED)
    f = codes(h)["LOG020"]
    assert f.cause == "eval-distribution-shift"
    assert f.evidence["classes"] == 2 and f.evidence["val_acc_peak"] == 0.6399
    assert f.evidence["val_acc_last"] == [0.4918, 0.4918]
    assert "FIT001" not in codes(h)  # the turn FIT001 reads as overfitting gives way
    assert verdict(h) == "eval-distribution-shift"


def test_log020_a_slow_batchnorm_start_that_lost_its_first_epoch(make_history):
    # the curve LOG004 leaves alone (above the band in its first epoch): back at 1/10 for its last epochs
    h = make_history(**SLOW_BATCHNORM_START)
    assert codes(h)["LOG020"].evidence["classes"] == 10
    assert verdict(h) == "eval-distribution-shift"


def test_log020_band_of_a_two_decimal_log_holds_what_it_rounds(make_history):
    # scrambled eval images on three classes (the run corpus), printed f"{acc:.2f}": 0.2849 prints 0.28, 0.053
    # from 1/3; the band widens by half the printed step
    h = make_history(
        loss=[1.18, 1.15, 1.13, 1.10, 1.06, 1.01, 0.94, 0.89],
        accuracy=[0.34, 0.38, 0.47, 0.50, 0.54, 0.57, 0.62, 0.63],
        val_loss=[1.16, 1.15, 1.14, 1.15, 1.16, 1.23, 1.32, 1.43],
        val_accuracy=[0.35, 0.38, 0.39, 0.33, 0.34, 0.30, 0.29, 0.28],
    )
    f = found(h)["LOG020"]
    assert f.evidence["band"] == pytest.approx(0.055) and verdict(h) == "eval-distribution-shift"
    # four decimals widen nothing
    assert found(make_history(**FROZEN_BN))["LOG020"].evidence["band"] == pytest.approx(0.05)


def test_log020_silent_while_validation_climbs_out_of_chance(make_history):
    # 129 validation images of ten classes, a model still learning: validation follows training up
    h = make_history(
        loss=[2.679, 2.456, 2.375, 2.327, 2.292, 2.262, 2.233, 2.206, 2.177, 2.149, 2.121],
        accuracy=[0.093, 0.108, 0.125, 0.141, 0.173, 0.188, 0.205, 0.227, 0.249, 0.266, 0.288],
        val_loss=[2.387, 2.362, 2.352, 2.348, 2.343, 2.336, 2.329, 2.321, 2.315, 2.304, 2.294],
        val_accuracy=[0.0853, 0.0853, 0.0853, 0.1008, 0.1008, 0.124, 0.124, 0.1318, 0.1395, 0.155, 0.1705],
    )
    assert "LOG020" not in codes(h)


def test_log020_silent_on_overfitting_that_keeps_what_it_learned(make_history):
    h = make_history(
        loss=[1.60, 1.20, 0.90, 0.60, 0.40, 0.25],
        accuracy=[0.42, 0.57, 0.68, 0.79, 0.86, 0.92],
        val_loss=[1.35, 1.15, 1.08, 1.12, 1.25, 1.41],
        val_accuracy=[0.52, 0.60, 0.63, 0.62, 0.60, 0.58],
    )
    assert "LOG020" not in codes(h)
    assert verdict(h) == "overfitting"


def test_log020_gives_way_to_log004_when_validation_never_left_chance(make_history):
    h = make_history(
        loss=[2.30, 2.10, 1.90, 1.70, 1.50, 1.30],
        accuracy=[0.12, 0.22, 0.31, 0.39, 0.46, 0.53],
        val_loss=[2.31, 2.35, 2.41, 2.48, 2.57, 2.66],
        val_accuracy=[0.101, 0.094, 0.108, 0.097, 0.103, 0.099],
    )
    found_codes = codes(h)
    assert "LOG004" in found_codes and "LOG020" not in found_codes


# a CNN with BatchNormalization on ten CIFAR-10 classes, trained with augmentation (the run corpus): validation
# keeps a sliver of skill while training climbs to 0.44, and overfitting was the reading
STALLED = dict(
    loss=[2.2480, 1.9675, 1.8419, 1.7778, 1.6878, 1.6749, 1.6130, 1.5782, 1.5399, 1.5257],
    accuracy=[0.1864, 0.2960, 0.3485, 0.3595, 0.3912, 0.3987, 0.4276, 0.4432, 0.4374, 0.4420],
    val_loss=[2.2708, 2.2135, 2.1940, 2.2320, 2.3761, 2.3799, 2.4286, 2.3732, 2.4068, 2.4959],
    val_accuracy=[0.1138, 0.1769, 0.1594, 0.1454, 0.1331, 0.1419, 0.1541, 0.1506, 0.1821, 0.1419],
)


def test_log020_validation_that_never_followed_training_counts_near_chance(make_history):
    # 0.18 and 0.14 lie outside one epoch's noise around 1/10, but within COLLAPSED_SKILL of the way to 1, and
    # validation rose 0.03 while training rose 0.26: not the overfitting of a network that generalized
    h = make_history(**STALLED)
    f = found(h)["LOG020"]
    assert f.evidence["band"] < 0.05 and f.evidence["band_read_in"] == pytest.approx(0.135)
    assert "validation rose +0.0281 since the first epoch, training +0.2556" in f.message
    assert verdict(h) == "eval-distribution-shift"


def test_log020_keeps_the_noise_band_where_validation_followed_training(make_history):
    # a BatchNorm still settling on ten classes: validation 0.12 -> 0.18 while training 0.16 -> 0.30 (a share
    # of 0.42 of its rise): it climbs with training, however close to chance
    h = make_history(
        loss=[2.4200, 2.2241, 2.1118, 2.0260, 1.9574],
        accuracy=[0.1550, 0.2461, 0.2731, 0.2930, 0.3030],
        val_loss=[2.3161, 2.2866, 2.2632, 2.2530, 2.2401],
        val_accuracy=[0.1197, 0.1225, 0.1709, 0.2051, 0.1823],
    )
    assert "LOG020" not in found(h)


def test_log020_reads_no_rise_since_the_start_off_a_console_pasted_from_its_middle(tmp_path):
    from cifar_doctor.sources.logs import read_history
    from tests.conftest import keras3_console

    tail = {k: v[4:] for k, v in STALLED.items()}  # epochs 5-10: what came before is not in the paste
    path = tmp_path / "pasted.txt"
    path.write_text(keras3_console(tail, first=5, total=10))
    assert "LOG020" not in found(read_history(path), classes=10)
    path.write_text(keras3_console(STALLED))
    assert "LOG020" in found(read_history(path), classes=10)


def test_log020_skipped_without_validation_accuracy(make_history):
    h = make_history(loss=COLLAPSED["loss"], accuracy=COLLAPSED["accuracy"], val_loss=COLLAPSED["val_loss"])
    assert "LOG020" not in codes(h)


def test_log020_one_epoch_at_chance_is_a_dip_not_a_fall(make_history):
    h = make_history(**dict(COLLAPSED, val_accuracy=[0.6399, 0.5288, 0.5918, 0.6197, 0.5918, 0.4918]))
    assert "LOG020" not in codes(h)


# --- LOG021 -----------------------------------------------------------------------------
#: A three-class MLP on wine with a linear output under sparse_categorical_crossentropy (the run corpus):
#: it begins at 5.45 nats, learns, and ends at 66% validation accuracy where the task allows 95%.
LINEAR_WINE = dict(
    loss=[5.4458, 3.3911, 2.7671, 2.2549, 1.6854, 1.4731, 1.4529, 1.418, 1.2349]
    + [1.2232, 1.0997, 0.9821, 0.9609, 0.8597, 0.8519, 0.8436, 0.8442, 0.8368],
    accuracy=[0.3209, 0.3955, 0.4478, 0.5, 0.5224, 0.5597, 0.5821, 0.597, 0.6119]
    + [0.6119, 0.6194, 0.6269, 0.6343, 0.6343, 0.6343, 0.6418, 0.6567, 0.6716],
    val_loss=[2.1235, 1.8782, 1.8986, 1.5209, 1.0238, 0.9932, 0.7061, 0.6772, 0.6506]
    + [0.6412, 0.6937, 0.6832, 0.6713, 0.6634, 0.6844, 0.6867, 0.7038, 0.9465],
    val_accuracy=[0.3864, 0.4091, 0.5227, 0.5227, 0.5682, 0.6364, 0.6591, 0.6591, 0.6818] + [0.6591] * 9,
)


def test_log021_a_first_epoch_no_fresh_softmax_gives_abstains_instead_of_healthy(make_history):
    h = make_history(**LINEAR_WINE)
    f = codes(h)["LOG021"]
    assert f.evidence["loss_first"] == pytest.approx(5.4458) and f.evidence["classes_read"] == [2, 100]
    assert verdict(h) == "insufficient-evidence"
    assert verdict(h, classes=3) == "insufficient-evidence"
    # a 1,000-class run may begin there: given its class count, the start is a fresh softmax's
    assert "LOG021" not in codes(h, classes=1000)


def test_log021_silent_on_fresh_starts_and_on_logs_pasted_from_their_middle(make_history):
    # a ten-class CNN's first epoch near ln 10, and a 100-class one's near ln 100
    assert "LOG021" not in codes(make_history(loss=[2.31, 1.9, 1.6], accuracy=[0.14, 0.31, 0.42]))
    assert "LOG021" not in codes(make_history(loss=[4.41, 3.9, 3.5], accuracy=[0.04, 0.1, 0.16]))
    # a BatchNorm network's large first step on two classes, answering at chance: some K up to 100 admits it
    assert "LOG021" not in codes(make_history(loss=[4.533, 0.908, 0.7], accuracy=[0.504, 0.565, 0.6]))
    # a regression's mean squared error, with no accuracy or one that is never right (LOG015's)
    assert "LOG021" not in codes(make_history(loss=[1041.5, 750.8, 425.9], val_loss=[1045.9, 750.0, 423.4]))
    assert "LOG021" not in codes(make_history(loss=[29002.5, 28718.7, 28384.7], accuracy=[0.0, 0.0, 0.0]))
    assert "LOG021" not in found(make_history(**LINEAR_WINE), loss="mean_squared_error")
    # a log whose first line is epoch 7 shows no start
    pasted = "\n".join(
        f"Epoch {i + 7}/18\n9/9 - 0s - accuracy: {a:.4f} - loss: {lo:.4f}"
        for i, (lo, a) in enumerate(zip(LINEAR_WINE["loss"][:4], LINEAR_WINE["accuracy"][:4]))
    )
    assert "LOG021" not in found(read_history(io.StringIO(pasted)))
