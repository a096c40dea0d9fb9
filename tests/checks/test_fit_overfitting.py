"""Checks FIT001, FIT003, FIT004, FIT008: where each fires, where it stays silent, where it is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from cifar_doctor.engine import run
from cifar_doctor.inputs import Inputs
from cifar_doctor.sources.logs import read_history

CURVE_CODES = ["LOG007", "LOG008", "LOG009", "LOG010", "LOG011", "LOG012", "LOG013", "LOG014", "FIT005", "FIT006"]


#: A healthy small-CNN run on CIFAR-10 (validation a little below training, both improving).
HEALTHY = dict(
    loss=[2.083, 1.738, 1.58, 1.454, 1.354],
    accuracy=[0.241, 0.368, 0.427, 0.473, 0.511],
    val_loss=[1.932, 1.74, 1.594, 1.551, 1.513],
    val_accuracy=[0.299, 0.376, 0.42, 0.45, 0.457],
)


def found(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw)).findings}


def verdict(history, **kw):
    return run(Inputs(history=history, **kw), calibrated=False).verdict.cause  # the rules, not the table


FIT_CODES = ["FIT001", "FIT002", "FIT003", "FIT004"]


HEALTHY_FIT = dict(
    loss=[1.55, 1.20, 1.02, 0.90, 0.82],
    accuracy=[0.44, 0.57, 0.64, 0.68, 0.71],
    val_loss=[1.30, 1.10, 0.98, 0.92, 0.90],
    val_accuracy=[0.53, 0.61, 0.66, 0.68, 0.69],
)


def found_fit(history, **kw):
    return {f.code: f for f in run(Inputs(history=history, **kw), select_codes=["FIT", "LOG"]).findings}


LOGS = Path(__file__).parent.parent / "fixtures" / "logs"


@pytest.mark.parametrize("code", CURVE_CODES + ["FIT001", "FIT004"])
def test_fit001_silent_on_healthy(make_history, code):
    assert code not in found(make_history(**HEALTHY))


# --- FIT001 branches -----------------------------------------------------------------------------
def test_fit001_memorization_with_saturated_accuracy(make_history):
    # keras#1971: training loss 5e-4 against val_loss 0.13, accuracy 1.0 vs 0.96
    h = make_history(
        loss=[0.1026, 4.6988e-04, 5.7437e-04, 6.3242e-04, 5.3643e-04, 4.2413e-04, 4.8201e-04],
        acc=[0.9667, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        val_loss=[0.1384, 0.129, 0.1321, 0.1312, 0.1322, 0.1326, 0.1295],
        val_acc=[0.9733, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96],
    )
    f = found(h)["FIT001"]
    assert f.evidence["memorization_loss_ratio"] > 100
    assert verdict(h) == "overfitting"


def test_fit001_memorization_of_a_training_loss_printed_as_zero(make_history):
    # a custom loop printing f"{loss:.2f}": training losses of 0.004 to 0.0008 print 0.00, below half the step
    # (0.005), so the validation loss of 0.20 is at least 40x the training loss
    h = make_history(
        loss=[0.35, 0.08, 0.02, 0.0, 0.0, 0.0, 0.0],
        acc=[0.90, 0.98, 0.99, 1.0, 1.0, 1.0, 1.0],
        val_loss=[0.15, 0.10, 0.09, 0.11, 0.14, 0.17, 0.20],
        val_acc=[0.95, 0.96, 0.97, 0.96, 0.96, 0.96, 0.96],
    )
    f = found(h)["FIT001"]
    assert f.evidence["memorization_loss_ratio"] == pytest.approx(40.0) and "at least 40x" in f.message
    assert verdict(h) == "overfitting"
    # losses stored in full (float32 in a History JSON) print no step: a 0.0 there bounds no ratio
    full = make_history(
        **{
            **h.metrics,
            "loss": [0.35123457, 0.08132771, 0.02177613, 0.0, 0.0, 0.0, 0.0],
            "val_loss": [0.15123457, 0.10132771, 0.09177613, 0.11246071, 0.14133541, 0.17214811, 0.20124763],
        }
    )
    assert "FIT001" not in found(full)


def test_fit001_on_a_validation_score_other_than_accuracy(make_history):
    # graph auto-encoder: train_acc rises, val_roc falls, printed epochs 198-200 then 999-1000
    h = make_history(
        loss=[0.40438, 0.40435, 0.40434, 0.39955, 0.39954],
        acc=[0.80021, 0.80037, 0.80052, 0.89461, 0.89462],
        val_roc=[0.91772, 0.91785, 0.9178, 0.86105, 0.86104],
    )
    h.index = [198, 199, 200, 999, 1000]
    f = found(h)["FIT001"]
    assert f.evidence["val_score"] == "val_roc" and f.evidence["early_stopping_epoch"] == 199


def test_fit001_not_when_training_loss_climbs(make_history):
    h = make_history(
        loss=[1.5869, 1.2171, 1.1202, 1.0933, 1.1043, 1.1402, 1.1855, 1.2136, 1.2371],
        acc=[0.4241, 0.5706, 0.6111, 0.6293, 0.6293, 0.6204, 0.6111, 0.6026, 0.5952],
        val_loss=[1.2808, 1.0393, 0.9591, 0.9481, 0.9987, 1.0415, 1.1173, 1.1018, 1.1139],
        val_acc=[0.5496, 0.6423, 0.6687, 0.6777, 0.6573, 0.6596, 0.6163, 0.626, 0.6444],
    )
    f = found(h)
    assert "FIT001" not in f and f["FIT004"].evidence["climbing"] is True
    assert verdict(h) == "unstable-training"


# --- FIT003 without training accuracy --------------------------------------------------------------
def test_fit003_losses_only(make_history):
    h = make_history(
        loss=[1.233348, 0.571644, 0.471582, 0.412204],
        val_loss=[0.405868, 0.310221, 0.265931, 0.238558],
        val_accuracy=[0.8878, 0.9124, 0.9235, 0.9305],
    )
    assert found(h)["FIT003"].cause == "regularization-gap"
    assert verdict(h) == "regularization-gap"


def test_fit001_losses_and_validation_accuracy_without_training_accuracy(make_history):
    # a custom loop printing the training loss and the validation loss and accuracy: validation loss
    # climbs 73% past its minimum while the training loss falls, so the loss gap widens from 0.24 to 2.54
    h = make_history(
        loss=[2.10, 1.80, 1.60, 1.40, 1.10, 0.80, 0.50, 0.30],
        val_loss=[2.00, 1.76, 1.66, 1.64, 1.74, 1.94, 2.34, 2.84],
        val_accuracy=[0.28, 0.36, 0.41, 0.43, 0.44, 0.43, 0.42, 0.43],
    )
    f = found_fit(h)["FIT001"]
    assert f.evidence["best_val_loss_epoch"] == 4 and f.evidence["gap_last"] is None
    assert verdict(h) == "overfitting"


def test_fit001_silent_without_training_accuracy_when_the_training_loss_rose_too(make_history):
    # validation loss rises past its minimum, but the training loss rises with it: not memorization
    h = make_history(
        loss=[2.10, 1.80, 1.60, 1.50, 1.52, 1.55, 1.58],
        val_loss=[2.00, 1.76, 1.66, 1.60, 1.64, 1.68, 1.72],
        val_accuracy=[0.28, 0.36, 0.41, 0.43, 0.43, 0.42, 0.42],
    )
    assert "FIT001" not in found_fit(h)


# --- FIT004 ------------------------------------------------------------------------------------------
def test_fit004_ignores_late_wobbles_of_an_overfit_model(make_history):
    loss = [
        2.191,
        1.882,
        1.726,
        1.563,
        1.467,
        1.374,
        1.271,
        1.168,
        1.064,
        0.9703,
        0.9264,
        0.8671,
        0.768,
        0.6878,
        0.604,
        0.5557,
        0.5413,
        0.4048,
        0.3161,
        0.2293,
        0.2139,
        0.2403,
        0.3301,
        0.2538,
        0.2071,
        0.1781,
        0.1082,
        0.1145,
        0.1571,
        0.1369,
    ]
    val_loss = [
        1.986,
        1.869,
        1.694,
        1.608,
        1.554,
        1.502,
        1.46,
        1.446,
        1.466,
        1.53,
        1.56,
        1.713,
        1.859,
        1.881,
        2.045,
        2.166,
        1.817,
        2.145,
        2.096,
        2.17,
        2.232,
        2.245,
        2.18,
        2.572,
        2.624,
        2.564,
        2.865,
        2.929,
        2.822,
        2.69,
    ]
    acc = [min(0.2 + 0.03 * i, 0.97) for i in range(30)]
    # a plateau that wanders by a few images, as a changing model's accuracy does (an identical value in
    # every epoch is one answer for every image: FIT001 then withholds overfitting, see the frozen tests)
    val_acc = [0.31, 0.309, 0.39, 0.411, 0.43, 0.454, 0.476, 0.481, 0.483, 0.48] + [0.46, 0.462, 0.458, 0.461] * 5
    h = make_history(loss=loss, accuracy=acc, val_loss=val_loss, val_accuracy=val_acc)
    f = found(h)
    assert "FIT004" not in f and f["FIT001"].evidence["best_val_loss_epoch"] == 8
    assert verdict(h) == "overfitting"


def test_fit004_accuracy_collapse(make_history):
    h = make_history(loss=[1.9, 1.6, 1.5, 2.2, 2.3], accuracy=[0.3, 0.42, 0.45, 0.11, 0.10])
    assert found(h)["FIT004"].evidence["accuracy_collapse"] == [0.45, 0.1]


@pytest.mark.parametrize("code", FIT_CODES)
def test_skipped_without_history(code):
    o = next(c for c in run(Inputs()).checks if c.code == code)
    assert o.status == "skipped"


@pytest.mark.parametrize("code", FIT_CODES)
def test_silent_on_healthy(make_history, code):
    assert code not in found_fit(make_history(**HEALTHY_FIT))


def test_fit001_seed_run2_fires_with_early_stopping_epoch():
    f = found_fit(read_history(LOGS / "seed-question-run2-keras2.txt"))["FIT001"]
    assert f.evidence["early_stopping_epoch"] == 8
    assert f.evidence["best_val_acc"] == 0.6615
    assert f.evidence["gap_last"] == pytest.approx(0.2634, abs=1e-4)


def test_fit001_a_turn_that_never_carried_over_is_information(make_history):
    # BatchNormalization statistics lagging the weights: training learns, the validation loss turns
    # without ever having fallen (a corpus run with the layer, healthy and unregularized)
    h = make_history(
        loss=[2.4774, 1.9042, 1.6947, 1.5157, 1.3704],
        accuracy=[0.2749, 0.4016, 0.4676, 0.5344, 0.5963],
        val_loss=[2.4351, 2.5408, 2.6271, 3.0327, 2.9926],
        val_accuracy=[0.1706, 0.132, 0.1761, 0.1348, 0.1829],
    )
    f = found_fit(h)["FIT001"]
    assert f.severity.value == "info" and f.cause == "overfitting"
    assert f.evidence["never_carried_over"] is True and f.evidence["val_loss_fall_share"] == 0.0
    assert "never showed on the validation split" in f.message


def test_fit001_a_turn_after_validation_carried_over_stays_a_warning():
    f = found_fit(read_history(LOGS / "seed-question-run2-keras2.txt"))["FIT001"]
    assert f.severity.value == "warning" and f.evidence["never_carried_over"] is False
    assert f.evidence["val_loss_fall_share"] > 0.10


def test_fit001_silent_on_seed_run1_val_still_improving():
    assert "FIT001" not in found_fit(read_history(LOGS / "seed-question-run1-keras2.txt"))


def test_fit001_needs_patience(make_history):
    h = make_history(
        loss=[1.5, 1.0, 0.7, 0.5],
        accuracy=[0.45, 0.65, 0.75, 0.83],
        val_loss=[1.2, 0.95, 0.9, 1.0],
        val_accuracy=[0.57, 0.66, 0.70, 0.69],
    )
    assert "FIT001" not in found_fit(h)  # one epoch past the minimum is noise, not a trend


def test_fit003_val_better_than_train(make_history):
    h = make_history(
        loss=[1.9, 1.5, 1.3, 1.2],
        accuracy=[0.30, 0.45, 0.53, 0.57],
        val_loss=[1.6, 1.25, 1.1, 1.0],
        val_accuracy=[0.42, 0.55, 0.61, 0.64],
    )
    f = found_fit(h)["FIT003"]
    assert f.cause == "regularization-gap" and f.severity.value == "info"


def test_fit004_oscillating(make_history):
    h = make_history(loss=[1.91, 1.62, 2.05, 1.70, 2.31], accuracy=[0.3, 0.4, 0.3, 0.38, 0.28])
    f = found_fit(h)["FIT004"]
    assert f.evidence["jump_epochs"] == [3, 5] and f.cause == "unstable-training"


def test_fit004_oscillating_with_the_validation_loss(make_history):
    h = make_history(
        loss=[1.91, 1.62, 2.05, 1.70, 2.31],
        accuracy=[0.3, 0.4, 0.3, 0.38, 0.28],
        val_loss=[1.85, 1.60, 2.10, 1.72, 2.40],
        val_accuracy=[0.31, 0.39, 0.29, 0.37, 0.27],
    )
    assert found_fit(h)["FIT004"].evidence["jump_epochs"] == [3, 5]


def test_fit004_silent_when_only_the_training_average_jumps(make_history):
    # heavy dropout on a 134-image tabular set (a healthy run of the corpus): the training-mode epoch
    # average jumps, the validation loss read in inference mode falls at every epoch
    h = make_history(
        loss=[1.543, 1.344, 1.252, 1.278, 1.134, 1.067, 1.288, 1.179, 1.081, 1.027, 0.897, 1.083, 0.894, 1.012],
        accuracy=[0.299, 0.351, 0.455, 0.351, 0.53, 0.5, 0.433, 0.455, 0.537, 0.493, 0.552, 0.448, 0.597, 0.485],
        val_loss=[1.025, 0.96, 0.921, 0.875, 0.837, 0.793, 0.764, 0.741, 0.715, 0.682, 0.661, 0.65, 0.628, 0.606],
        val_accuracy=[0.455, 0.568, 0.727, 0.795, 0.841, 0.886, 0.886, 0.909, 0.909, 0.932, 0.932, 0.932, 0.932, 0.977],
    )
    assert "FIT004" not in found_fit(h)
    # the same training curve without a validation loss to vouch for the weights still reads as oscillating
    assert "FIT004" in found_fit(make_history(loss=h.metrics["loss"], accuracy=h.metrics["accuracy"]))


def test_fit004_diverging(make_history):
    f = found_fit(make_history(loss=[1.5, 1.2, 1.6, 2.1], accuracy=[0.45, 0.55, 0.45, 0.30]))["FIT004"]
    assert f.evidence["diverging"] is True


def test_fit001_silent_when_training_does_not_beat_validation(make_history):
    # validation starts far above training (dropout, a short run); its small dip is not memorization
    h = make_history(
        loss=[2.28, 2.11, 2.02],
        accuracy=[0.13, 0.22, 0.25],
        val_loss=[1.95, 2.01, 2.06],
        val_accuracy=[0.238, 0.208, 0.21],
    )
    from cifar_doctor.engine import run
    from cifar_doctor.inputs import Inputs

    assert "FIT001" not in {f.code for f in run(Inputs(history=h), select_codes=["FIT001"]).findings}


def test_fit001_uses_inference_mode_training_accuracy_for_the_gap(make_history):
    from cifar_doctor.engine import run
    from cifar_doctor.inputs import Inputs

    # val loss turns up; logged (dropout-on) training accuracy barely beats validation,
    # but in inference mode the model fits its training images far better: a real gap
    curves = dict(
        loss=[1.6, 1.2, 1.0, 0.8, 0.6],
        accuracy=[0.40, 0.52, 0.58, 0.61, 0.63],
        val_loss=[1.3, 1.1, 1.05, 1.12, 1.2],
        val_accuracy=[0.55, 0.60, 0.62, 0.60, 0.59],
    )
    h = make_history(**curves)
    assert "FIT001" not in {f.code for f in run(Inputs(history=h), select_codes=["FIT001"]).findings}
    h = make_history(**curves)
    h.train_accuracy_inference_mode = [0.50, 0.64, 0.72, 0.80, 0.86]
    found_fit = {f.code: f for f in run(Inputs(history=h), select_codes=["FIT001"]).findings}
    assert found_fit["FIT001"].evidence["gap_measured_with"] == "inference-mode training accuracy"
    assert found_fit["FIT001"].evidence["gap_last"] == pytest.approx(0.27)


def test_fit004_a_loss_near_zero_wandering_is_not_divergence(make_history):
    # a memorizing model at training accuracy 1.0: 0.0177 -> 0.0284 is 1.6x the minimum but 1.6% of the range
    loss = [0.68, 0.62, 0.55, 0.46, 0.38, 0.33, 0.29, 0.25, 0.2, 0.15, 0.1, 0.06, 0.03, 0.0201, 0.0177, 0.019, 0.0284]
    h = make_history(loss=loss, accuracy=[min(1.0, 0.56 + 0.03 * i) for i in range(len(loss))])
    assert "FIT004" not in found(h)
    # the same shape an order of magnitude up, climbing back by a good part of the range, is divergence
    h = make_history(loss=[*loss[:-3], 0.177, 0.19, 0.284], accuracy=[0.5] * len(loss))
    assert found(h)["FIT004"].evidence["diverging"] is True


def test_fit004_judges_a_log_of_steps_on_block_means():
    # Keras' running means restart from one batch each epoch: 0.2355 -> 0.1756 -> 0.2191 at step 55 is
    # one batch's noise, not an overshooting step
    h = read_history(LOGS / "k3-per-step-running-means.txt")
    assert h.index_kind == "step"
    assert "FIT004" not in found_fit(h)


def test_fit004_still_reads_a_diverging_log_of_steps(make_history):
    loss = [2.3 - 0.02 * i for i in range(40)] + [1.5 + 0.08 * i for i in range(40)]
    h = make_history(loss=loss, accuracy=[0.3] * 80)
    h.index_kind = "step"
    f = found_fit(h)["FIT004"]
    assert f.evidence["step_blocks"] == 10 and f.evidence["diverging"] is True
    assert "steps" in f.message


def test_fit004_a_classifier_loss_near_zero_wandering_by_factors_of_two_is_noise(make_history):
    # fine-tuning a model already at training accuracy 1.0: 0.0021 -> 0.0049 -> 0.0018 ... are rises of
    # 100%+ of a loss that is 0.3% of ln 2
    loss = [0.0031, 0.0021, 0.0049, 0.0018, 0.0042, 0.0016, 0.0038, 0.0044]
    h = make_history(loss=loss, accuracy=[1.0] * len(loss))
    assert "FIT004" not in found_fit(h)
    # a regression's MSE keeps its own range: the same numbers without an accuracy still oscillate
    assert "FIT004" in found_fit(make_history(loss=loss))


# --- FIT008: the validation loss never gets below where training started ---------------------------
SHUFFLED_WINE = dict(  # wine, validation labels shuffled apart from their rows (the run corpus)
    loss=[1.061, 0.901, 0.771, 0.676, 0.575, 0.513, 0.469, 0.381, 0.347, 0.305, 0.271, 0.228],
    accuracy=[0.4403, 0.6418, 0.7836, 0.8284, 0.8955, 0.9104, 0.9254, 0.9328, 0.9403, 0.9478, 0.9552, 0.9478],
    val_loss=[1.154, 1.17, 1.204, 1.255, 1.318, 1.393, 1.481, 1.582, 1.691, 1.809, 1.932, 2.059],
    val_accuracy=[0.318, 0.318, 0.364, 0.341, 0.364, 0.386, 0.341, 0.364, 0.386, 0.364, 0.386, 0.364],
)


def test_fit008_validation_that_never_benefits_is_not_overfitting(make_history):
    h = make_history(**SHUFFLED_WINE)
    f = found_fit(h)["FIT008"]
    assert f.evidence["val_loss_min"] == pytest.approx(1.154) and f.evidence["loss_first"] == pytest.approx(1.061)
    assert verdict(h) == "eval-distribution-shift"


def test_fit008_silent_on_overfitting_healthy_and_one_answer_runs(make_history):
    overfit = dict(  # validation first improves below the first training loss, then turns
        loss=[2.1, 1.6, 1.2, 0.8, 0.5, 0.3],
        accuracy=[0.25, 0.42, 0.58, 0.72, 0.84, 0.91],
        val_loss=[1.9, 1.6, 1.5, 1.6, 1.8, 2.1],
        val_accuracy=[0.32, 0.42, 0.46, 0.47, 0.46, 0.45],
    )
    one_answer = dict(SHUFFLED_WINE, val_accuracy=[0.318] * 12)  # LOG004's frozen answer, not this check's
    drifting = dict(SHUFFLED_WINE, val_accuracy=[0.64, 0.6, 0.55, 0.52, 0.5, 0.49, 0.49, 0.49, 0.5, 0.49, 0.5, 0.49])
    for curves in (overfit, HEALTHY, HEALTHY_FIT, one_answer, drifting):
        assert "FIT008" not in found_fit(make_history(**curves))
    assert verdict(make_history(**overfit)) == "overfitting"


def test_fit008_silent_on_a_console_pasted_from_its_middle(tmp_path):
    # epochs 6-10 of an overfitting run: its validation loss fell before the paste began, so "never below the
    # first training loss" says nothing of what validation learned; pasted from epoch 1 the same numbers read it
    from conftest import keras3_console

    metrics = dict(
        loss=[0.4012, 0.3011, 0.2213, 0.1608, 0.1102],
        accuracy=[0.8521, 0.8903, 0.9204, 0.9467, 0.9688],
        val_loss=[0.9013, 0.9412, 1.0321, 1.1502, 1.2907],
        val_accuracy=[0.7012, 0.7034, 0.6987, 0.6954, 0.6931],
    )

    def pasted(first: int) -> Path:
        path = tmp_path / f"from-{first}.txt"
        path.write_text(keras3_console(metrics, first))
        return path

    tail = read_history(pasted(6))
    assert tail.index[0] == 6 and "FIT008" not in found(tail)
    assert verdict(tail) == "overfitting"
    # FIT001 cannot say whether validation showed what was learned before the paste, and says so
    assert "in the epochs the log shows (from epoch 6)" in found(tail)["FIT001"].message
    assert "FIT008" in found(read_history(pasted(1)))


def test_fit008_skipped_without_enough_epochs(make_history):
    assert "FIT008" not in found_fit(make_history(**{k: v[:2] for k, v in SHUFFLED_WINE.items()}))


def test_fit004_one_explosion_is_instability(make_history):
    # raw inputs into SGD (the run corpus): the epoch loss multiplies by 1e8 once, then sits at ln 3
    h = make_history(
        loss=[4.5e23, 6544623.0, 1.1, 2.234, 253410704.0, 1.099, 1.098],
        accuracy=[0.315, 0.311, 0.312, 0.312, 0.35, 0.35, 0.35],
        val_loss=[1.099] * 7,
        val_accuracy=[0.331, 0.331, 0.331, 0.338, 0.338, 0.338, 0.338],
    )
    f = found_fit(h)["FIT004"]
    assert f.evidence["exploded_at"] == [5] and "explodes" in f.message
    # a loss near zero that grows tenfold by a few thousandths is not an explosion
    tiny = make_history(loss=[0.9, 0.4, 0.1, 0.02, 0.001, 0.011, 0.004], accuracy=[0.6, 0.8, 0.95, 1.0, 1.0, 1.0, 1.0])
    assert "FIT004" not in found_fit(tiny)


def test_fit004_gives_way_to_a_training_softmax_saturated_by_unscaled_inputs(make_history):
    # raw pixels into SGD (draw 5 of the run corpus): every training error costs over 100 nats (LOG014), which
    # explains the loss's explosion at epoch 3 and names the fix; FIT004's reading of the same losses is dropped
    from cifar_doctor.checks.fit.overfitting import unstable_loss

    loss = [3931.8, 54.86, 580.3] + [41.34 - 0.0124 * i for i in range(12)]
    h = make_history(
        loss=loss,
        accuracy=[0.532, 0.464, 0.501] + [0.637] * 12,
        val_loss=[29.17, 31.0, 30.2] + [29.5] * 12,
        val_accuracy=[0.52, 0.5, 0.51] + [0.62] * 12,
    )
    assert unstable_loss(Inputs(history=h))[0].evidence["exploded_at"] == [3]
    f = found_fit(h)
    assert "LOG014" in f and "FIT004" not in f
    assert verdict(h) == "input-not-normalized"


def test_fit004_a_last_epoch_spike_of_an_overfitting_run_is_not_divergence(make_history):
    # RMSprop on 776 images (the run corpus): the loss spikes in its last epoch while validation has turned
    loss = [0.972, 0.741, 0.575, 0.499, 0.45, 0.386, 0.318, 0.295, 0.247, 0.205, 0.179, 0.144]
    loss += [0.127, 0.101, 0.099, 0.147, 0.074, 0.054, 0.1, 0.044, 0.15]
    val_loss = [0.884, 0.787, 0.706, 0.698, 0.696, 0.72, 0.734, 0.732, 0.774, 0.838, 0.86, 0.909]
    val_loss += [0.884, 0.939, 0.96, 1.018, 1.126, 0.982, 1.086, 1.062, 1.035]
    acc = [0.528, 0.688, 0.765, 0.798, 0.83, 0.856, 0.887, 0.888, 0.921, 0.93, 0.94, 0.95]
    acc += [0.955, 0.965, 0.966, 0.95, 0.975, 0.98, 0.966, 0.985, 0.95]
    val_acc = [0.621, 0.655, 0.703, 0.722, 0.738, 0.754, 0.766, 0.766, 0.747, 0.75, 0.752, 0.76]
    val_acc += [0.77, 0.755, 0.75, 0.748, 0.745, 0.744, 0.746, 0.745, 0.747]
    h = make_history(loss=loss, accuracy=acc, val_loss=val_loss, val_accuracy=val_acc)
    assert "FIT004" not in found_fit(h)
    assert verdict(h) == "overfitting"


def test_fit008_silent_on_a_validation_split_too_small_to_be_flat(make_history):
    # 32 validation images (a steganalysis thread: every accuracy is k/32); the maintainer's reading is
    # overfitting, and 0.53-0.63 on 32 images is within the noise of anything
    h = make_history(
        loss=[0.5388, 0.4599, 0.309, 0.2499, 0.2135],
        acc=[0.7156, 0.7707, 0.8372, 0.8438, 0.8454],
        val_loss=[0.7477, 0.7986, 1.1656, 1.3593, 1.4827],
        val_acc=[0.5938, 0.625, 0.5312, 0.5625, 0.5625],
    )
    assert "FIT008" not in found_fit(h)
    assert verdict(h) == "overfitting"


def test_accuracy_step_reads_the_precision_accuracies_were_printed_with(make_history):
    from cifar_doctor.measure.history import accuracy_step, printed_step

    two = make_history(loss=[1.812, 1.402], accuracy=[0.33, 0.49], val_loss=[1.602, 1.399], val_accuracy=[0.41, 0.5])
    assert accuracy_step(two) == pytest.approx(0.01)  # `loss 1.812, acc 33%`: the accuracies' own step
    # Keras prints four decimals: a validation accuracy of exactly 0.1000 beside 0.3524 in training reads 1e-4
    keras = make_history(loss=[2.1, 1.9], accuracy=[0.3524, 0.4], val_loss=[2.5, 2.6], val_accuracy=[0.1, 0.1])
    assert accuracy_step(keras) == pytest.approx(1e-4)
    # float32 values of a History JSON, and Keras' 4.5123e-05, are printed in full
    assert printed_step([0.5799999833106995, 0.5]) == 0.0 and printed_step([4.5123e-05]) == 0.0


def test_accuracy_denominator_of_two_decimal_accuracies_reads_small_splits_only(make_history):
    from cifar_doctor.measure.history import accuracy_denominator, val_split_images

    # every two-decimal value is a count of 100 images: that says nothing of the split
    assert accuracy_denominator([0.41, 0.5, 0.56, 0.58]) == 100  # read as four decimals: 41 of 100 ...
    assert accuracy_denominator([0.41, 0.5, 0.56, 0.58], step=0.01) is None  # ... printed to two: unknown
    # a split small enough that its counts fit by coincidence less than once in 100 logs still reads
    assert accuracy_denominator([0.45, 0.55, 0.6, 0.65], step=0.01) == 20
    two = make_history(accuracy=[0.33, 0.49, 0.58, 0.65], val_accuracy=[0.41, 0.5, 0.56, 0.58])
    assert val_split_images(two) is None
    keras = make_history(accuracy=[0.3345, 0.4912, 0.5831, 0.6502], val_accuracy=[0.41, 0.5, 0.56, 0.58])
    assert val_split_images(keras) == 100


def test_accuracy_denominator_reads_the_image_count_off_printed_accuracies():
    from cifar_doctor.measure.history import accuracy_denominator

    assert accuracy_denominator([0.5938, 0.625, 0.5312, 0.5625]) == 32
    assert accuracy_denominator([0.3182, 0.3409, 0.3636, 0.3864]) == 44
    assert accuracy_denominator([0.5154, 0.4846]) is None  # two values fit many counts
    assert accuracy_denominator([0.4512, 0.4633, 0.4781]) is None  # a larger split
    # more distinct values look further: six counts of 1,000 images, printed
    assert accuracy_denominator([round(k / 1000, 4) for k in (311, 287, 342, 305, 296, 330)]) == 1000
    assert accuracy_denominator([round(k / 1000, 4) for k in (311, 287, 342)]) is None


def test_printed_values_that_are_no_counts_rarely_fit_one():
    """The search limit keeps coincidental fits of random four-decimal values near `COINCIDENTAL_FITS`."""
    import numpy as np

    from cifar_doctor.measure.history import COINCIDENTAL_FITS, _denominator, printed_search_limit

    assert printed_search_limit(3) < printed_search_limit(5) < printed_search_limit(10)
    rng = np.random.default_rng(0)
    for distinct in (3, 5, 8):
        fits = sum(
            _denominator(tuple(round(v, 4) for v in rng.uniform(0.05, 0.95, distinct)), 0.0) is not None
            for _ in range(400)
        )
        assert fits <= 3 * COINCIDENTAL_FITS * 400


def test_accuracy_denominator_reads_larger_splits_off_float32_accuracies():
    import numpy as np

    from cifar_doctor.measure.history import accuracy_denominator

    # CSVLogger and History JSON keep float32: 167, 133, 136 and 120 of 439 images
    assert accuracy_denominator([float(np.float32(k / 439)) for k in (167, 133, 136, 120)]) == 439
    # values that are no split's counts fit none
    rng = np.random.default_rng(0)
    assert not any(accuracy_denominator([float(np.float32(v)) for v in rng.uniform(0.1, 0.9, 4)]) for _ in range(200))


#: Eval images scrambled apart from their labels on three classes, 439 validation images (the run corpus):
#: validation wanders around 1/3 by the split's noise (0.273-0.380) while training climbs to 0.73.
AT_CHANCE_439 = dict(
    loss=[1.064, 0.907, 0.849, 0.808, 0.773, 0.753, 0.715, 0.715, 0.688, 0.653, 0.659],
    accuracy=[0.487, 0.590, 0.629, 0.652, 0.659, 0.672, 0.698, 0.696, 0.709, 0.734, 0.725],
    val_loss=[1.223, 1.589, 1.917, 1.783, 1.503, 1.983, 2.324, 2.508, 1.731, 1.857, 1.829],
    val_accuracy=[k / 439 for k in (167, 133, 136, 130, 127, 124, 132, 120, 128, 130, 130)],
)


def test_fit001_leaves_validation_wandering_at_chance_within_its_split_noise_to_log004():
    import numpy as np

    from cifar_doctor.measure.history import accuracy_denominator
    from cifar_doctor.records import History

    h = History(metrics={k: [float(np.float32(v)) for v in vs] for k, vs in AT_CHANCE_439.items()})
    codes = found(h)
    # 0.273 lies 2.7 standard errors (0.0225 on 439 images) below 1/3, outside the fixed 0.05 band
    assert "FIT001" not in codes
    assert codes["LOG004"].cause == "eval-labels-misaligned"
    assert verdict(h) == "eval-labels-misaligned"
    # the same curve printed with four decimals: its ten distinct values pin the 439 images too (a wrong
    # count fits ten four-decimal values by coincidence about once in 100, looking up to 3,000 images)
    printed = History(metrics={k: [round(v, 4) for v in vs] for k, vs in AT_CHANCE_439.items()})
    assert accuracy_denominator(printed.val_acc) == 439
    assert verdict(printed) == "eval-labels-misaligned"
    # three distinct printed values say too little to look past 200 images: no split size
    assert accuracy_denominator([round(k / 439, 4) for k in (167, 133, 136)]) is None


# --- FIT001: a frozen validation accuracy is not read as overfitting ------------------------------
#: Raw 0-255 training images, /255 validation images, a residual CNN with BatchNormalization on two classes
#: (the run corpus): validation loss turns up while validation accuracy prints one class's share throughout.
FROZEN = dict(
    loss=[0.796, 0.691, 0.662, 0.621, 0.574],
    accuracy=[0.625, 0.685, 0.692, 0.758, 0.791],
    val_loss=[0.698, 0.75, 0.922, 1.06, 1.07],
    val_accuracy=[0.6211] * 5,
)


def test_fit001_frozen_validation_accuracy_withholds_overfitting(make_history):
    f = found(make_history(**FROZEN))["FIT001"]
    assert f.cause == "insufficient-evidence" and f.severity.value == "info"
    assert f.evidence["frozen_epochs"] == 5 and f.evidence["val_acc_frozen"] == pytest.approx(0.6211)
    assert verdict(make_history(**FROZEN)) == "insufficient-evidence"


def test_fit001_repeats_of_a_two_decimal_log_are_a_plateau(make_history):
    # a custom loop printing f"{acc:.2f}": validation accuracy 0.5810, 0.5842, 0.5801 prints 0.58 three times
    # while validation loss climbs; the plateau of an overfitting run, not one answer for every image
    h = make_history(
        loss=[1.81, 1.40, 1.17, 0.99, 0.83, 0.69],
        accuracy=[0.33, 0.49, 0.58, 0.65, 0.71, 0.76],
        val_loss=[1.60, 1.40, 1.25, 1.20, 1.24, 1.31],
        val_accuracy=[0.41, 0.50, 0.56, 0.58, 0.58, 0.58],
    )
    f = found(h)["FIT001"]
    assert f.cause == "overfitting" and "val_acc_frozen" not in f.evidence
    assert verdict(h) == "overfitting"
    # the same curves printed to four decimals, the last three accuracies identical: one answer, withheld
    frozen = make_history(
        loss=[1.8123, 1.4021, 1.1734, 0.9921, 0.8302, 0.6899],
        accuracy=[0.3345, 0.4912, 0.5831, 0.6502, 0.7088, 0.7601],
        val_loss=[1.6021, 1.3987, 1.2512, 1.2033, 1.2411, 1.3102],
        val_accuracy=[0.412, 0.5003, 0.5577, 0.58, 0.58, 0.58],
    )
    assert found(frozen)["FIT001"].cause == "insufficient-evidence"


def test_fit001_frozen_at_chance_gives_way_to_the_chance_reading(make_history):
    # one answer for every image of two classes (0.5211) while training climbs: LOG020's inference-side reading
    at_chance = dict(FROZEN, accuracy=[0.525, 0.585, 0.592, 0.658, 0.691], val_accuracy=[0.5211] * 5)
    found_codes = found(make_history(**at_chance))
    assert "FIT001" not in found_codes and found_codes["LOG020"].cause == "eval-distribution-shift"
    assert verdict(make_history(**at_chance)) == "eval-distribution-shift"


def test_fit001_frozen_near_training_accuracy_stays_overfitting(make_history):
    # 45 wine images: validation settles at 0.977 (43 of 44) while training reaches 1.0 and validation loss
    # climbs; a model that transfers what it learned, not one answer for every image
    n = 20
    h = make_history(
        loss=[0.6 * 0.7**i for i in range(n)],
        accuracy=[min(0.7 + 0.05 * i, 1.0) for i in range(n)],
        val_loss=[0.2, 0.1, 0.08] + [0.08 + 0.02 * i for i in range(n - 3)],
        val_accuracy=[0.977] * n,
    )
    assert found(h)["FIT001"].cause == "overfitting"


#: The last 17 of 41 epochs of a fine-tuned frozen base on two CIFAR-10 classes (the run corpus): training accuracy
#: at 0.9941 (one error in 169) from the best val_loss epoch on, val_loss 0.3017 -> 0.3169.
CEILING = {
    name: [float(v) for v in values.split()]
    for name, values in {
        "loss": "0.1663 0.1551 0.1444 0.1341 0.1249 0.1167 0.109 0.1006 0.0939 0.0867 0.081 0.0761 0.0715 0.0676 0.0637 "
        "0.0596 0.0557",
        "accuracy": "0.9527 0.9586 0.9704 0.9763 0.9822 0.9882 0.9882 0.9941 0.9941 0.9941 0.9941 0.9941 0.9941 0.9941 "
        "0.9941 0.9941 0.9941",
        "val_loss": "0.3139 0.3113 0.3069 0.3061 0.3054 0.3042 0.3037 0.3034 0.3017 0.3046 0.306 0.3082 0.3102 0.3115 "
        "0.3125 0.315 0.3169",
        "val_accuracy": "0.8652 0.8652 0.8652 0.863 0.8674 0.8696 0.8674 0.8652 0.8717 0.8717 0.8717 0.8696 0.8652 "
        "0.8587 0.8652 0.8587 0.8652",
    }.items()
}


def test_fit001_training_accuracy_at_its_ceiling_reads_the_loss_gap(make_history):
    f = found(make_history(**CEILING))["FIT001"]
    assert f.evidence["gap_last"] == pytest.approx(0.1289, abs=1e-4)
    assert verdict(make_history(**CEILING)) == "overfitting"


def test_fit001_silent_at_the_ceiling_when_the_loss_gap_closes(make_history):
    # the same turn while the training loss stops falling: nothing memorized since the best epoch
    flat = [*CEILING["loss"][:9], *[0.0939] * 8]
    assert "FIT001" not in found(make_history(**{**CEILING, "loss": flat}))
