"""The generic reader of custom training-loop printouts, and gaps in Keras' own history files."""

from __future__ import annotations

import doctest
import io
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cifar_doctor.sources.textlog as textlog
from cifar_doctor.errors import InputError
from cifar_doctor.inputs import Inputs
from cifar_doctor.sources.logs import read_history
from cifar_doctor.sources.metric_keys import metric_name
from cifar_doctor.sources.textlog import TextLogReader

TEST_AS_VAL = "val_* (no validation metric printed: the test split evaluated during training)"


def parse(text: str):
    return read_history(io.BytesIO(text.encode()))


def nan_safe(values):
    return ["nan" if isinstance(v, float) and math.isnan(v) else v for v in values]


# --- the real formats (verbatim from public threads) ---------------------------------
LASAGNE = """\
Epoch 1 of 500 took 1.858s
  training loss:                1.233348
  validation loss:              0.405868
  validation accuracy:          88.78 %
Epoch 2 of 500 took 1.845s
  training loss:                0.571644
  validation loss:              0.310221
  validation accuracy:          91.24 %
Epoch 3 of 500 took 1.845s
  training loss:                0.471582
  validation loss:              0.265931
  validation accuracy:          92.35 %
Epoch 4 of 500 took 1.847s
  training loss:                0.412204
  validation loss:              0.238558
  validation accuracy:          93.05 %
"""


def test_lasagne_multi_line_epoch_blocks():
    h = parse(LASAGNE)
    assert h.metrics == {
        "loss": [1.233348, 0.571644, 0.471582, 0.412204],
        "val_loss": [0.405868, 0.310221, 0.265931, 0.238558],
        "val_accuracy": [0.8878, 0.9124, 0.9235, 0.9305],
    }
    assert h.index is None and h.index_kind == "epoch" and h.evaluations == [] and not h.truncated
    assert h.flavor == "unknown"
    assert h.read_as == {
        "format": "custom",
        "records": 4,
        "index_kind": "epoch",
        "mapping": {"training loss": "loss", "validation loss": "val_loss", "validation accuracy": "val_accuracy"},
    }


EPOCH_BRACKETS = """\
epoch [1]: training loss: 2.27 - acc: 0.50 - val_loss: 3.29 - val_acc: 0.49
epoch [2]: training loss: 1.55 - acc: 0.50 - val_loss: 0.92 - val_acc: 0.50
epoch [3]: training loss: 1.07 - acc: 0.51 - val_loss: 1.43 - val_acc: 0.53
"""


def test_epoch_brackets_read_the_first_pair_too():
    h = parse(EPOCH_BRACKETS)  # the Keras parser reads ` - name: value` lines; the lead pair is loss
    assert h.loss == [2.27, 1.55, 1.07]
    assert h.acc == [0.50, 0.50, 0.51]
    assert h.val_loss == [3.29, 0.92, 1.43] and h.val_acc == [0.49, 0.50, 0.53]
    assert h.read_as["mapping"] == {"training loss": "loss"}
    # the generic reader alone reads it the same way, with Keras History names
    r = TextLogReader()
    r.feed(EPOCH_BRACKETS)
    log = r.finish()
    assert log.metrics == {
        "loss": [2.27, 1.55, 1.07],
        "accuracy": [0.50, 0.50, 0.51],
        "val_loss": [3.29, 0.92, 1.43],
        "val_accuracy": [0.49, 0.50, 0.53],
    }
    assert log.mapping == {
        "training loss": "loss",
        "acc": "accuracy",
        "val_loss": "val_loss",
        "val_acc": "val_accuracy",
    }


def test_epoch_colon_train_and_validation_loss():
    h = parse(
        "Epoch 1: train loss: 1041.52 - validation loss: 1045.89\n"
        "Epoch 2: train loss: 750.78  - validation loss: 749.95\n"
        "Epoch 3: train loss: 425.88  - validation loss: 423.35\n"
    )
    assert h.metrics == {"loss": [1041.52, 750.78, 425.88], "val_loss": [1045.89, 749.95, 423.35]}
    assert h.read_as["mapping"] == {"train loss": "loss", "validation loss": "val_loss"}


GAE = """\
Epoch: 0198 train_loss= 0.40438 train_acc= 0.80021 val_roc= 0.91772 val_ap= 0.93526 time= 0.42112
Epoch: 0199 train_loss= 0.40435 train_acc= 0.80037 val_roc= 0.91785 val_ap= 0.93544 time= 0.51987
Epoch: 0200 train_loss= 0.40434 train_acc= 0.80052 val_roc= 0.91780 val_ap= 0.93540 time= 0.49462
Optimization Finished!
Test ROC score: 0.923083293426
Test AP score: 0.929091873277

Epoch: 0999 train_loss= 0.39955 train_acc= 0.89461 val_roc= 0.86105 val_ap= 0.85885 time= 0.43444
Epoch: 1000 train_loss= 0.39954 train_acc= 0.89462 val_roc= 0.86104 val_ap= 0.85884 time= 0.45543
Optimization Finished!
Test ROC score: 0.873462980099
Test AP score: 0.893914158688
"""


def test_key_equals_value_with_printed_epoch_numbers_as_index():
    h = parse(GAE)
    assert h.metrics == {
        "loss": [0.40438, 0.40435, 0.40434, 0.39955, 0.39954],
        "accuracy": [0.80021, 0.80037, 0.80052, 0.89461, 0.89462],
        "val_roc": [0.91772, 0.91785, 0.91780, 0.86105, 0.86104],
        "val_ap": [0.93526, 0.93544, 0.93540, 0.85885, 0.85884],
    }
    assert h.index == [198, 199, 200, 999, 1000] and h.index_kind == "epoch"
    assert h.evaluations == []  # "Test ROC score" lines: evaluations without loss/accuracy, not epochs
    assert h.read_as["records"] == 5
    assert h.read_as["mapping"] == {
        "train_loss": "loss",
        "train_acc": "accuracy",
        "val_roc": "val_roc",
        "val_ap": "val_ap",
    }
    assert h.to_dict()["index"] == [198, 199, 200, 999, 1000]


NER = """\
2018-03-23 15:29:33,355:INFO: train loss:1.10886
2018-03-23 15:31:41,870:INFO: train loss:1.53702
2018-03-23 15:33:53,753:INFO: train loss:0.866067
2018-03-23 15:40:22,720:INFO: train loss:nan
2018-03-23 15:42:27,061:INFO: train loss:nan
133 2018-03-23 16:04:34,913:INFO: acc 0.74 - f1 0.02
"""


def test_logging_prefixes_one_step_per_line_nan_kept_and_final_dev_line():
    h = parse(NER)
    assert nan_safe(h.loss) == [1.10886, 1.53702, 0.866067, "nan", "nan"]
    assert list(h.metrics) == ["loss"]
    assert h.evaluations == [{"accuracy": 0.74}]  # the dev line is no step of the loss series
    assert h.index is None and h.index_kind == "step"
    assert h.read_as["mapping"] == {"train loss": "loss"}


def test_names_and_values_without_separators_read_nan_too():
    # `print(f"Epoch {e}/{n} | train loss {loss:.4f} | ...")` once the loss has overflowed
    h = parse(
        "Epoch 1/3 | train loss 2.3012 | train acc 0.1010 | val loss 2.3104 | val acc 0.0980\n"
        "Epoch 2/3 | train loss nan | train acc 0.0990 | val loss nan | val acc 0.1000\n"
        "Epoch 3/3 | train loss nan | train acc 0.0990 | val loss nan | val acc 0.1000\n"
    )
    assert nan_safe(h.loss) == [2.3012, "nan", "nan"] and nan_safe(h.val_loss) == [2.3104, "nan", "nan"]
    assert h.acc == [0.101, 0.099, 0.099]


def test_iteration_logs_index_by_step_and_read_test_as_val():
    h = parse(
        "Iter 1280: Minibatch Loss= 2.1, Training Accuracy= 0.30\n"
        "Iter 1280: Testing Accuracy = 0.25\n"
        "Iter 2560: Minibatch Loss= 1.5, Training Accuracy= 0.45\n"
        "Iter 2560: Testing Accuracy = 0.35\n"
        "Iter 5120: Minibatch Loss= 1.1, Training Accuracy= 0.55\n"
        "Iter 5120: Testing Accuracy = 0.43\n"
    )
    assert h.metrics == {"loss": [2.1, 1.5, 1.1], "accuracy": [0.30, 0.45, 0.55], "val_accuracy": [0.25, 0.35, 0.43]}
    assert h.index == [1280, 2560, 5120] and h.index_kind == "step"
    assert h.read_as["mapping"] == {
        "Minibatch Loss": "loss",
        "Training Accuracy": "accuracy",
        "Testing Accuracy": "val_accuracy",
        "test_*": TEST_AS_VAL,
    }


@pytest.mark.parametrize(
    "text, metrics, index",
    [
        (
            "epoch 3/10 train_loss=0.61 val_loss=0.70\nepoch 4/10 train_loss=0.55 val_loss=0.69\n",
            {"loss": [0.61, 0.55], "val_loss": [0.70, 0.69]},
            [3, 4],
        ),
        (
            "Epoch 3 - loss = 0.5, val_loss = 0.7\r\nEpoch 4 - loss = 0.4, val_loss = 0.72\r\n",
            {"loss": [0.5, 0.4], "val_loss": [0.7, 0.72]},
            [3, 4],
        ),
        (
            "Epoch 1: loss 1.2 acc 45.5 val_acc 40%\nEpoch 2: loss 0.9 acc 60.25 val_acc 52.5 %\n",
            {"loss": [1.2, 0.9], "accuracy": [0.455, 0.6025], "val_accuracy": [0.40, 0.525]},
            None,
        ),
        ("Step 100: loss 2.0\nStep 200: loss 1.5\nStep 300: loss 1.2\n", {"loss": [2.0, 1.5, 1.2]}, [100, 200, 300]),
        ("Iteration 1 cost= 2.171\nIteration 2 cost= 0.512\n", {"loss": [2.171, 0.512]}, None),
    ],
    ids=["epoch-n-of-m", "epoch-dash-crlf", "percent", "step", "iteration-cost"],
)
def test_other_headers_and_values(text, metrics, index):
    h = parse(text)
    assert h.metrics == metrics and h.index == index


def test_warnings_and_tracebacks_are_ignored():
    h = parse(
        "Epoch 1\n"
        "/usr/lib/python3/site-packages/x.py:12: UserWarning: something odd\n"
        "  warnings.warn(msg)\n"
        "  training loss: 0.9\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 12, in <module>\n'
        "  validation loss: 1.0\n"
        "Epoch 2\n  training loss: 0.8\n  validation loss: 0.95\n"
    )
    assert h.metrics == {"loss": [0.9, 0.8], "val_loss": [1.0, 0.95]}


def test_evaluation_after_training_is_not_an_epoch():
    h = parse("Epoch: 0001 cost= 2.171\nEpoch: 0002 cost= 0.512\nOptimization Finished!\nAccuracy: 0.91\n")
    assert h.metrics == {"loss": [2.171, 0.512]}
    assert h.evaluations == [{"accuracy": 0.91}]
    h = parse("Epoch 1: loss 1.0 acc 0.5\nEpoch 2: loss 0.8 acc 0.6\nTest loss: 0.9, test acc: 52.5%\n")
    assert h.metrics == {"loss": [1.0, 0.8], "accuracy": [0.5, 0.6]}
    assert h.evaluations == [{"loss": 0.9, "accuracy": 0.525}]


def test_validation_every_other_epoch_joins_the_series_with_gaps():
    # a loop validating every 2nd epoch: its records of two shapes are one series
    text = "".join(
        f"epoch {e}: train_loss={1.6 - e / 6:.4f} train_acc={0.40 + 0.05 * e:.4f}"
        + (f" val_loss={1.30 + 0.02 * e:.4f} val_acc={0.55 - 0.004 * e:.4f}" if e % 2 == 0 else "")
        + "\n"
        for e in range(1, 9)
    )
    h = parse(text)
    assert h.epochs == 8 and h.gaps == {"val_loss": [0, 2, 4, 6], "val_accuracy": [0, 2, 4, 6]}
    assert nan_safe(h.val_acc)[:4] == ["nan", 0.542, "nan", 0.534]
    # validation printed once is no curve: left out, as before
    once = "".join(
        f"epoch {e}: train_loss={1.6 - e / 6:.4f} train_acc={0.40 + 0.05 * e:.4f}"
        + (" val_loss=1.3 val_acc=0.5" if e == 4 else "")
        + "\n"
        for e in range(1, 9)
    )
    assert "val_loss" not in parse(once).metrics


def test_killed_mid_epoch_and_restarted_runs():
    h = parse(LASAGNE + "Epoch 5 of 500 took 1.850s\n  training loss:                0.38\n")
    assert h.epochs == 4 and h.truncated and h.evaluations == []
    h = parse("Epoch 1: loss 1.0\nEpoch 2: loss 0.9\nEpoch 1: loss 2.0\nEpoch 2: loss 1.5\nEpoch 3: loss 1.2\n")
    assert h.loss == [2.0, 1.5, 1.2] and h.read_as["runs"] == 2


def test_feeding_in_pieces_equals_whole():
    text = GAE + NER + LASAGNE
    whole = TextLogReader()
    whole.feed(text)
    pieces = TextLogReader()
    for i in range(0, len(text), 5):
        pieces.feed(text[i : i + 5])
    assert nan_safe(pieces.finish().metrics["loss"]) == nan_safe(whole.finish().metrics["loss"])


def test_long_series_are_sampled_and_memory_bounded(monkeypatch):
    monkeypatch.setattr(textlog, "MAX_KEPT_RECORDS", 100)
    r = TextLogReader()
    r.feed("".join(f"step {i}: loss {1 / i:.6f}\n" for i in range(1, 1001)))
    r.feed("x" * (3 * textlog.MAX_LINE))  # a line without breaks is capped
    assert len(r._lines._pending) <= textlog.MAX_LINE
    log = r.finish()
    assert log.records == 1000 and log.sampled_every == 16
    assert len(log.metrics["loss"]) == len(log.index) <= 100
    assert log.index[:3] == [1, 17, 33] and log.metrics["loss"][1] == pytest.approx(1 / 17, rel=1e-5)


@pytest.mark.parametrize(
    "raw, name",
    [
        ("train loss", "loss"),
        ("train_loss", "loss"),
        ("Training Loss", "loss"),
        ("tr_acc", "accuracy"),
        ("validation accuracy", "val_accuracy"),
        ("dev f1", "val_f1"),
        ("valid-loss", "val_loss"),
        ("Testing Accuracy", "test_accuracy"),
        ("Test ROC score", "test_roc_score"),
        ("valAcc", "val_accuracy"),
        ("top5 error", "top5_error"),
        ("val_loss_epoch", "val_loss"),
        ("time", None),
        ("lr", None),
        ("eta", None),
        ("epoch", None),
        ("batch", None),
        ("samples", None),
    ],
)
def test_name_mapping(raw, name):
    assert metric_name(raw) == name


# --- tables ------------------------------------------------------------------------------
PANDAS = """\
       loss  accuracy  val_loss  val_accuracy
0  1.823412  0.334500  1.602311      0.421000
1  1.421312  0.487200  1.389011      0.501100
2  1.201234  0.571100  1.301122      0.541200
"""

FASTAI = """\
epoch     train_loss  valid_loss  accuracy  time
0         1.612345    1.401234    0.501200  00:45
1         1.201234    1.101234    0.612300  00:44
2         0.951234    0.991234    0.661200  00:44
"""

MARKDOWN = """\
| Epoch | Train Loss | Train Acc | Val Loss | Val Acc |
|-------|-----------|-----------|----------|---------|
| 1 | 1.52 | 44.1% | 1.31 | 53.2% |
| 2 | 1.12 | 59.0% | 1.10 | 61.2% |
| 3 | 0.92 | 67.0% | 1.05 | 64.2% |
"""


def test_pandas_dataframe_of_a_history():
    h = parse("History of the run:\n" + PANDAS + "\nDone.\n")
    assert h.metrics == {
        "loss": [1.823412, 1.421312, 1.201234],
        "accuracy": [0.3345, 0.4872, 0.5711],
        "val_loss": [1.602311, 1.389011, 1.301122],
        "val_accuracy": [0.421, 0.5011, 0.5412],
    }
    assert h.index is None and h.index_kind == "epoch"  # pandas' 0-based index read as epochs 1..3


def test_fastai_table_skips_its_time_column():
    h = parse(FASTAI)
    assert h.metrics == {
        "loss": [1.612345, 1.201234, 0.951234],
        "val_loss": [1.401234, 1.101234, 0.991234],
        "accuracy": [0.5012, 0.6123, 0.6612],
    }
    assert h.read_as["mapping"]["valid_loss"] == "val_loss"


def test_markdown_table_with_two_word_names_and_percentages():
    h = parse(MARKDOWN)
    assert h.metrics["accuracy"] == pytest.approx([0.441, 0.59, 0.67])
    assert h.metrics["val_loss"] == [1.31, 1.10, 1.05] and h.index is None


def test_a_table_ends_at_the_first_line_that_is_no_row():
    h = parse(PANDAS + "Epoch 9: loss 0.1\n")  # a header line of words that is prose does not start a table
    assert h.metrics["loss"] == [1.823412, 1.421312, 1.201234]
    assert read_history(io.BytesIO(b"plot loss and accuracy below\nEpoch 1: loss 1.5\nEpoch 2: loss 1.2\n")).loss == [
        1.5,
        1.2,
    ]


# --- printed Python dicts and TF1 step lines -------------------------------------------------------------
def test_printed_history_dict_with_nan_and_numpy_scalars(tmp_path):
    f = tmp_path / "history.txt"
    f.write_text(
        "{'loss': [np.float64(1.72), np.float32(1.31), nan], 'accuracy': [0.36, 0.53, 0.1], "
        "'val_loss': [8.9, 7.6, inf], \"val_accuracy\": [0.44, 0.52, 0.1]}\n"
    )
    h = read_history(f)
    assert nan_safe(h.loss) == [1.72, 1.31, "nan"] and h.val_loss[2] == math.inf
    assert h.read_as["format"] == "history-json"


def test_printed_history_dict_behind_a_label(tmp_path):
    f = tmp_path / "out.txt"
    f.write_text("INFO:root:history: {'loss': [1.72, 1.31], 'val_loss': [8.9, 7.6]}\n")
    assert read_history(f).metrics == {"loss": [1.72, 1.31], "val_loss": [8.9, 7.6]}


@pytest.mark.parametrize(
    "lead, tail",
    [
        (">>> print(history.history)\n", ">>> \n"),  # the REPL's statement, and its next prompt left empty
        ("print(history.history)\n\n", ""),
        ("In [12]: history.history\nOut[12]:\n", "\nIn [13]: \n"),  # IPython, the dict pretty-printed
        ("history:\n", ""),
    ],
)
def test_printed_history_dict_pasted_with_the_lines_around_it(tmp_path, lead, tail):
    body = (
        "{'accuracy': [0.3512,\n  0.4601,\n  0.5183],\n 'loss': [1.8123, 1.5012, 1.3521],\n"
        " 'val_accuracy': [0.4489, 0.5011, 0.5213],\n 'val_loss': [8.6776, 8.9012, 9.0113]}\n"
    )
    f = tmp_path / "pasted.txt"
    f.write_text(lead + body + tail)
    h = read_history(f)
    assert h.read_as["format"] == "history-json" and h.val_loss == [8.6776, 8.9012, 9.0113]


def test_printed_history_dict_followed_by_more_code_says_where_the_dict_ends(tmp_path):
    f = tmp_path / "pasted.txt"
    f.write_text(">>> print(history.history)\n{'loss': [1.0, 2.0]}\n>>> model.evaluate(x_test, y_test)\n")
    with pytest.raises(InputError, match="text after the dict at line 3"):
        read_history(f)


def test_a_dict_below_more_than_a_few_lines_is_not_taken_for_the_log():
    # four lines of the user's own prints, then a dict: output of a log that is something else
    with pytest.raises(InputError, match="No complete training epoch"):
        parse("starting\nloading data\nbuilding model\ntraining\n{'loss': [1.0, 2.0], 'val_loss': [1.5, 1.4]}\n")


def test_a_printed_configuration_above_keras_output_leaves_the_log_to_the_console_reader():
    h = parse(
        "config: {'layers': [32, 64], 'lr': 0.001}\n"
        "Epoch 1/2\n3/3 [==============================] - 1s 6ms/step - loss: 1.4624 - acc: 0.3333\n"
        "Epoch 2/2\n3/3 [==============================] - 0s 6ms/step - loss: 0.6051 - acc: 0.6667\n"
    )
    assert h.loss == [1.4624, 0.6051] and h.read_as["format"] == "keras"


def test_printed_dict_that_is_not_a_history_is_still_refused(tmp_path):
    f = tmp_path / "history.txt"
    f.write_text("{'loss': [1.0, oops]}\n")
    with pytest.raises(InputError, match="Cannot read the History JSON"):
        read_history(f)


def test_step_lines_with_commas_are_not_a_csv_header():
    h = parse("step 0, training accuracy 0.1\nstep 100, training accuracy 0.34\nstep 200, training accuracy 0.46\n")
    assert h.metrics == {"accuracy": [0.1, 0.34, 0.46]} and h.index == [0, 100, 200] and h.index_kind == "step"


# --- refusals --------------------------------------------------------------------------
def test_no_metric_series_is_refused_with_what_was_found():
    with pytest.raises(InputError) as exc:
        parse("starting\ntime 3.2 lr 0.1\ntime 3.1 lr 0.1\ndone\n")
    msg = str(exc.value)
    assert "No complete training epoch found" in msg
    assert "Received: 4 lines, no per-epoch or per-step metric values; found keys: time, lr." in msg


def test_keras_output_is_never_handed_to_the_generic_reader():
    # a Keras epoch cut mid-bar: running averages, not a result; still refused as before
    with pytest.raises(InputError, match="the only epoch stops before the end of its progress bar"):
        parse("Epoch 1/5\n 12/50 [====>.....] - ETA: 3s - loss: 2.1 - acc: 0.2")


@pytest.mark.parametrize(
    "text",
    [
        "Epoch " + "1" * 5000 + "/5\n",  # int() refuses over 4300 digits
        "Epoch 1: loss 1 acc 5/" + "1" * 5000 + "\n",
        "Step " + "9" * 5000 + ": loss 1\n",
        "x:" + "a" * 16000 + " - loss: 1.0 - val_loss: 2.0\n",
        "Test set: " * 2000 + "loss 1\n",
    ],
    ids=["epoch-digits", "fraction-digits", "step-digits", "long-lead", "repeated-context"],
)
def test_pathological_lines_give_a_history_or_an_input_error(text):
    try:
        h = parse(text)
    except InputError:
        return
    assert h.epochs >= 1


# --- Keras' own files: gaps, read_as, bar_total -------------------------------------------
def test_csvlogger_without_validation_drops_the_na_columns(tmp_path):
    f = tmp_path / "training.log"
    f.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.35,1.79,NA,NA\n1,0.50,1.38,NA,NA\n")
    h = read_history(f)
    assert h.metrics == {"accuracy": [0.35, 0.50], "loss": [1.79, 1.38]}
    assert h.gaps == {} and h.read_as == {"format": "csvlogger", "records": 2, "index_kind": "epoch"}


def test_csvlogger_validation_freq_keeps_gaps(tmp_path):
    f = tmp_path / "training.log"
    f.write_text("epoch,loss,val_loss\n10,1.79,NA\n11,1.38,1.41\n12,1.20,\n13,1.10,nan\n")
    h = read_history(f)
    assert nan_safe(h.val_loss) == ["nan", 1.41, "nan", "nan"]
    assert h.gaps == {"val_loss": [0, 2]}  # position 3 is a real NaN, not a gap
    assert h.index == [11, 12, 13, 14]  # resumed at initial_epoch=10: printed as Epoch 11..14


def test_history_json_with_null(tmp_path):
    f = tmp_path / "history.json"
    f.write_text(json.dumps({"loss": [1.0, 0.9, 0.8], "val_loss": [None, 1.1, None], "val_accuracy": [None] * 3}))
    h = read_history(f)
    assert sorted(h.metrics) == ["loss", "val_loss"] and h.gaps == {"val_loss": [0, 2]}
    assert h.read_as["format"] == "history-json"


def test_keras_console_read_as_and_bar_total():
    h = parse(
        "Epoch 1/2\n3/3 [==============================] - 19s 6s/step - loss: 1.4624 - acc: 0.3333\n"
        "Epoch 2/2\n3/3 [==============================] - 0s 63ms/step - loss: 0.6051 - acc: 0.6667\n"
    )
    assert h.bar_total == 3 and h.index is None
    assert h.read_as == {"format": "keras", "records": 2, "index_kind": "epoch"}
    d = h.to_dict()
    assert d["read_as"]["format"] == "keras" and d["bar_total"] == 3
    assert Inputs(history=h).describe()["history"]["read_as"] == h.read_as


def test_partial_keras_log_keeps_printed_epoch_numbers():
    h = parse(
        "Epoch 12/100\n4s - loss: 0.1026 - acc: 0.9667 - val_loss: 0.1384 - val_acc: 0.9733\n"
        "Epoch 95/100\n3s - loss: 4.6988e-04 - acc: 1.0000 - val_loss: 0.1290 - val_acc: 0.9600\n"
    )
    assert h.index == [12, 95]


def test_docstring_examples():
    result = doctest.testmod(textlog, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# --- fuzzing ---------------------------------------------------------------------------
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = st.sampled_from(
    [
        "Epoch",
        "epoch",
        "Iter",
        "Step",
        "train",
        "val",
        "test",
        "loss",
        "acc",
        "accuracy",
        "f1",
        "time",
        "lr",
        "INFO",
        "Test set",
        "nan",
        "inf",
        "of",
        "took",
    ]
)
PUNCT = st.sampled_from([" ", ":", "=", " - ", ", ", "[", "]", "%", "/", "\n", "\r\n", "\r", "\t", "'", "#", "|"])
NUMBERS = st.one_of(
    st.integers(-5, 2000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0198", "1e-3", "88.78", "2018-03-23", "15:29:33,355", "9695/10000"]),
)


@FUZZ
@given(st.lists(st.one_of(WORDS, PUNCT, NUMBERS, st.text(max_size=3)), max_size=120))
def test_fuzz_read_history_only_input_errors(tokens):
    try:
        h = read_history(io.BytesIO("".join(tokens).encode("utf-8", "surrogatepass")))
    except InputError:
        return
    assert h.epochs >= 1
    assert all(len(v) == h.epochs for v in h.metrics.values())
    assert h.index is None or len(h.index) == h.epochs
    json.dumps(h.read_as)


@FUZZ
@given(st.lists(st.one_of(WORDS, PUNCT, NUMBERS), max_size=120), st.integers(1, 9))
def test_fuzz_pieces_equal_whole(tokens, size):
    text = "".join(tokens)
    whole, pieces = TextLogReader(), TextLogReader()
    whole.feed(text)
    for i in range(0, len(text), size):
        pieces.feed(text[i : i + size])
    a, b = whole.finish(), pieces.finish()
    assert {k: nan_safe(v) for k, v in a.metrics.items()} == {k: nan_safe(v) for k, v in b.metrics.items()}
    assert a.index == b.index
