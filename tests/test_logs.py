"""Parsers of training logs: console output of every Keras generation, CSV, JSON, bad input."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cifar_doctor.errors import InputError
from cifar_doctor.sources.console import MAX_SEGMENT, LogParser
from cifar_doctor.sources.history import history_from_dict
from cifar_doctor.sources.logs import read_history

LOGS = Path(__file__).parent / "fixtures" / "logs"
RUN1 = LOGS / "seed-question-run1-keras2.txt"
RUN2 = LOGS / "seed-question-run2-keras2.txt"
K3V2 = LOGS / "seed-original-keras3-verbose2.txt"
K3TTY = LOGS / "k3-scale-bug-verbose1-tty.txt"
K3PIPE = LOGS / "k3-high-lr-verbose1-pipe.txt"


def parse(text: str, **kw):
    return read_history(io.StringIO(text), **kw)


# --- the seed logs ---------------------------------------------------------------
def test_seed_run1_keras2():
    h = read_history(RUN1)
    assert h.epochs == 5
    assert h.flavor == "keras2"
    assert h.acc == [0.3584, 0.5131, 0.5721, 0.6080, 0.6385]
    assert h.val_loss[0] == 8.6776 and h.val_acc[-1] == 0.5321
    # the user's print('loss: ', loss, '\naccuracy: ', accuracy), across two lines
    assert h.evaluations == [{"loss": 7.435152648162842, "accuracy": 0.5321}]
    assert not h.truncated


def test_seed_run2_and_keras3_verbose2():
    assert read_history(RUN2).epochs == 10
    h = read_history(K3V2)
    assert h.flavor == "keras3"
    assert h.val_loss == [196.7172, 208.3196, 216.5395, 202.9664, 161.1452]
    assert h.acc_key == "accuracy" and h.val_acc[-1] == 0.5347


# --- Keras 3 verbose=1, real captures ------------------------------------------------
def test_keras3_tty_capture_with_redraws_and_ansi():
    raw = K3TTY.read_bytes()
    assert b"\x08" in raw and b"\r" in raw and b"\x1b[" in raw  # the real thing
    h = read_history(K3TTY)
    assert h.flavor == "keras3"
    assert h.epochs == 3
    assert set(h.metrics) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    # final state of each epoch = the line with val_ metrics, not a mid-epoch redraw
    text = raw.decode()
    for vl in h.val_loss:
        assert f"val_loss: {vl:.4f}" in text
    # the first-batch loss (~ln 10) gives K
    assert h.classes == 10
    # the evaluate() bar and the printed result are one evaluation
    assert len(h.evaluations) == 1 and h.evaluations[0]["loss"] == pytest.approx(h.val_loss[-1], rel=1e-4)


def test_keras3_pipe_capture_one_line_per_update():
    h = read_history(K3PIPE)
    assert h.epochs == 4 and h.flavor == "keras3"
    assert len(h.loss) == len(h.val_loss) == 4


def test_synthetic_dynamic_redraws_only_final_state_counts():
    bar = "\x1b[1m{s}/50\x1b[0m \x1b[32m━━━━\x1b[0m \x1b[1m3s\x1b[0m 60ms/step - loss: {l:.4f} - accuracy: {a:.4f}"
    text = "Epoch 1/2\n"
    for s in (1, 10, 25, 50):
        text += "\b" * 80 + "\r" + bar.format(s=s, l=3.0 - s / 50, a=s / 100)
    text += "\b" * 80 + "\r" + bar.format(s=50, l=2.0, a=0.5) + " - val_accuracy: 0.5500 - val_loss: 1.9000\n"
    text += "Epoch 2/2\n" + "\r" + bar.format(s=50, l=1.5, a=0.6) + " - val_loss: 1.7000 - val_accuracy: 0.6000\n"
    h = parse(text)
    assert h.loss == [2.0, 1.5] and h.acc == [0.5, 0.6]
    assert h.val_loss == [1.9, 1.7]  # metrics in any order


# --- Keras 2 / tf.keras variants ------------------------------------------------------
TFKERAS = """\
2024-01-01 12:00:00.000000: W tensorflow/core/platform/cpu_feature_guard.cc:193] This TensorFlow binary is optimized
Train on 50000 samples, validate on 10000 samples
Epoch 1/3
 1000/50000 [..............................] - ETA: 7:23 - loss: 2.3100 - accuracy: 0.1010
25000/50000 [==============>...............] - ETA: 3:02 - loss: 2.0012 - accuracy: 0.2500
50000/50000 [==============================] - 12s 240us/sample - loss: 1.5500 - accuracy: 0.4400 - val_loss: 1.3000 - val_accuracy: 0.5300
Epoch 2/3
WARNING:tensorflow:Callback method `on_train_batch_end` is slow compared to the batch time
50000/50000 [==============================] - 11s 220us/sample - loss: 1.2000 - accuracy: 0.5700 - val_loss: 1.1000 - val_accuracy: 0.6100
Epoch 3/3
50000/50000 [==============================] - 11s 220us/sample - loss: 1.0000 - accuracy: 0.6500 - val_loss: 1.0500 - val_accuracy: 0.6300
10000/10000 [==============================] - 1s 90us/sample - loss: 1.0500 - accuracy: 0.6300
Test loss: 1.05
Test accuracy: 0.63
"""


def test_tfkeras2_with_train_on_samples_and_warnings():
    h = parse(TFKERAS)
    assert h.epochs == 3
    assert h.train_samples == 50000 and h.val_samples == 10000
    assert h.flavor == "keras2"
    assert h.loss == [1.55, 1.2, 1.0]
    assert h.evaluations == [{"loss": 1.05, "accuracy": 0.63}]  # bar and print deduplicated


def test_keras2_verbose2_and_list_evaluate_and_custom_metrics():
    text = """Epoch 1/2
 - 454s - loss: 1.7761 - sparse_categorical_accuracy: 0.3584 - my_metric: 12.5 - val_loss: 1.6 - val_sparse_categorical_accuracy: 0.4489 - val_top_k_categorical_accuracy: 0.91
Epoch 2/2
 - 452s - loss: 1.3670 - sparse_categorical_accuracy: 0.5131 - my_metric: 11.0 - val_loss: 1.5 - val_sparse_categorical_accuracy: 0.4365 - val_top_k_categorical_accuracy: 0.93
[8.05, 0.50]
"""
    h = parse(text)
    assert h.epochs == 2
    assert h.acc_key == "sparse_categorical_accuracy"
    assert h.val_acc_key == "val_sparse_categorical_accuracy"
    assert h.metrics["my_metric"] == [12.5, 11.0]
    assert h.metrics["val_top_k_categorical_accuracy"] == [0.91, 0.93]
    assert h.evaluations == [{"loss": 8.05, "accuracy": 0.5}]


def test_evaluate_list_printed_with_a_label_names_its_values():
    # the Keras guide's print("test loss, test acc:", results)
    epochs = (
        "Epoch 1/2\n1487/1487 [====] - 0s 85us/step - loss: 0.51 - acc: 0.79 - val_loss: 0.46 - val_acc: 0.78\n"
        "Epoch 2/2\n1487/1487 [====] - 0s 86us/step - loss: 0.34 - acc: 0.86 - val_loss: 0.33 - val_acc: 0.85\n"
        "498/498 [====] - 0s 172us/step\n"
    )
    assert parse(epochs + "test loss, test acc: [35.7264, 0.8715]\n").evaluations == [
        {"loss": 35.7264, "accuracy": 0.8715}
    ]
    assert parse(epochs + "Test accuracy / loss = [0.8715, 35.7264]\n").evaluations == [
        {"accuracy": 0.8715, "loss": 35.7264}
    ]
    # a label that does not name each value, or names no loss, is not read
    assert parse(epochs + "test loss: [0.5, 0.8, 0.9]\n").evaluations == []
    assert parse(epochs + "predictions: [0.5, 0.8]\n").evaluations == []


def test_tfkeras_verbose2_with_epoch_suffix_and_nan():
    text = (
        "Epoch 1/2\n1563/1563 - 10s - loss: 1.5000 - accuracy: 0.4500 - val_loss: 1.2000 - val_accuracy: 0.5600 "
        "- 10s/epoch - 6ms/step\nEpoch 2/2\n1563/1563 - 9s - loss: nan - accuracy: 0.1000 - val_loss: nan "
        "- val_accuracy: 0.1000 - 9s/epoch - 6ms/step\n"
    )
    h = parse(text)
    assert h.epochs == 2 and math.isnan(h.loss[1])


def test_no_validation_last_epoch_vs_evaluate_bar():
    text = (
        "Epoch 1/2\n40/40 ━━━━ 1s 9ms/step - accuracy: 0.30 - loss: 1.90\n"
        "Epoch 2/2\n20/40 ━━━━ 1s 9ms/step - accuracy: 0.38 - loss: 1.75\n"
        "40/40 ━━━━ 1s 9ms/step - accuracy: 0.40 - loss: 1.70\n"
        "16/16 ━━━━ 0s 3ms/step - accuracy: 0.35 - loss: 1.80\n"
    )
    h = parse(text)
    assert h.acc == [0.30, 0.40]
    assert h.evaluations == [{"accuracy": 0.35, "loss": 1.80}]


def test_two_fit_calls_keep_the_latest_run():
    h = parse(RUN1.read_text() + RUN2.read_text())
    assert h.epochs == 10 and h.val_acc[-1] == 0.6399
    assert h.evaluations == [{"loss": 5.74234927444458, "accuracy": 0.6399}]


def test_headerless_lines_with_val_metrics_are_epochs():
    text = "".join(f" - loss: {2 - i / 10} - acc: {0.3 + i / 20} - val_loss: 8.5 - val_acc: 0.45\n" for i in range(3))
    assert parse(text).epochs == 3


def test_name_value_pair_before_the_first_dash_metric():
    p = LogParser()
    p.feed("epoch [1]: training loss: 2.27 - acc: 0.50 - val_loss: 3.29 - val_acc: 0.49\n")
    p.finish()
    h = p.history()
    assert list(h.metrics) == ["loss", "acc", "val_loss", "val_acc"] and h.loss == [2.27]
    assert h.read_as["mapping"] == {"training loss": "loss"}
    # Keras lines have no such pair: a bar, a time, an ETA before the first metric
    assert parse(
        " 1000/50000 [....] - ETA: 7:23 - loss: 2.31 - acc: 0.10 - val_loss: 2.2 - val_acc: 0.1\n"
    ).read_as == {"format": "keras", "records": 1, "index_kind": "epoch"}


def test_classes_argument_overrides_inference():
    assert parse(RUN1.read_text(), classes=100).classes == 100
    assert read_history(RUN1).classes is None  # no first-batch loss in a per-epoch log: not guessed


# --- incremental parsing ----------------------------------------------------------
def test_incremental_feed_emits_epoch_when_val_line_arrives():
    p = LogParser()
    text = RUN1.read_text()
    first_val = text.index("val_acc: 0.4489") + len("val_acc: 0.4489")
    assert p.feed(text[:first_val]) == []  # the value could still continue
    done = p.feed(text[first_val : first_val + 1])
    assert [e.number for e in done] == [1] and done[0].metrics["val_acc"] == 0.4489


def test_feeding_char_by_char_equals_whole():
    text = K3TTY.read_bytes().decode()
    p = LogParser()
    for ch in text:
        p.feed(ch)
    p.finish()
    assert p.history().metrics == read_history(K3TTY).metrics


# --- CSV and JSON --------------------------------------------------------------------
def test_csvlogger_csv(tmp_path):
    f = tmp_path / "training.log"
    f.write_text(
        "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.35,1.79,0.41,196.7\n1,0.50,1.38,0.43,208.3\n"
        "2,0.57,1.21,0.45,nan\n"
    )
    h = read_history(f)
    assert h.epochs == 3 and h.val_acc == [0.41, 0.43, 0.45] and math.isnan(h.val_loss[2])
    assert "epoch" not in h.metrics


def test_pandas_csv_and_truncated_row(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text(",loss,acc,val_loss,val_acc\n0,1.7,0.36,8.6,0.45\n1,1.3,0.51,8.9,0.43\n2,1.2")
    h = read_history(f)
    assert h.epochs == 2 and h.flavor == "keras2"


@pytest.mark.parametrize(
    "text",
    [
        "\tloss\tacc\tval_loss\tval_acc\n0\t1.7\t0.36\t8.6\t0.45\n1\t1.3\t0.51\t8.9\t0.43\n",  # to_csv(sep="\t")
        ";loss;acc;val_loss;val_acc\n0;1,7;0,36;8,6;0,45\n1;1,3;0,51;8,9;0,43\n",  # sep=";", decimal=","
        "epoch\tloss\tacc\tval_loss\tval_acc\n0\t1,7\t0,36\t8,6\t0,45\n1\t1,3\t0,51\t8,9\t0,43\n",
    ],
)
def test_pandas_csv_with_tabs_or_decimal_commas(tmp_path, text):
    # a spreadsheet's export in a European locale; pandas' index column, whose empty name before a tab
    # goes with the blank lead
    f = tmp_path / "h.csv"
    f.write_text(text)
    h = read_history(f)
    assert h.metrics == {"loss": [1.7, 1.3], "acc": [0.36, 0.51], "val_loss": [8.6, 8.9], "val_acc": [0.45, 0.43]}


def test_comma_separated_csv_keeps_a_ragged_row_refused(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("loss,acc\n1.7,0.36\n1.3,0.51,9\n1.2,0.55\n")
    with pytest.raises(InputError, match="row 3 has 3 fields, the header 2"):
        read_history(f)


def test_history_saved_by_pandas_to_json(tmp_path):
    # pd.DataFrame(history.history).to_json(): {metric: {row: value}}; orient="index": {row: {metric: value}}
    cols = {"loss": {"0": 1.7, "1": 1.3, "10": 0.9, "2": 1.1}, "val_loss": {"0": 8.6, "1": 8.9, "2": None, "10": 9.1}}
    f = tmp_path / "h.json"
    f.write_text(json.dumps(cols))
    h = read_history(f)
    assert h.loss == [1.7, 1.3, 1.1, 0.9] and h.val_loss[:2] == [8.6, 8.9] and h.gaps == {"val_loss": [2]}
    f.write_text(json.dumps({"0": {"loss": 1.7, "acc": 0.36}, "1": {"loss": 1.3, "acc": 0.51}}))
    assert read_history(f).metrics == {"loss": [1.7, 1.3], "acc": [0.36, 0.51]}
    f.write_text(json.dumps({"loss": {"first": 1.7}}))  # not row numbers: not a history
    with pytest.raises(InputError, match="is not a list"):
        read_history(f)


def test_history_json(tmp_path):
    f = tmp_path / "history.json"
    f.write_text(
        json.dumps(
            {"loss": [1.78, 1.37], "accuracy": [0.36, 0.51], "val_loss": [8.68, 8.97], "val_accuracy": [0.45, 0.44]}
        )
    )
    h = read_history(f)
    assert h.epochs == 2 and h.val_loss == [8.68, 8.97]
    f.write_text(json.dumps([{"loss": 1.0, "acc": 0.5}, {"loss": 0.9, "acc": 0.6}]))
    assert read_history(f).acc == [0.5, 0.6]
    f.write_text('{"loss": [NaN, 1.0]}')
    assert math.isnan(read_history(f).loss[0])


def test_keras_history_of_validation_every_few_epochs_is_spread_over_its_epochs(tmp_path):
    # json.dump(history.history) after fit(validation_freq=3) over 9 epochs: 3 validation values
    d = {"loss": [2.0 - e / 10 for e in range(9)], "val_loss": [1.7, 1.5, 1.6], "val_accuracy": [0.4, 0.5, 0.48]}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(d))
    h = read_history(path)
    assert h.gaps["val_loss"] == [0, 1, 3, 4, 6, 7] and h.val_loss[2] == 1.7 and h.val_loss[8] == 1.6
    # lengths that no single frequency explains stay as given: one value short of a stopped run's epochs
    short = history_from_dict({"loss": [2.0, 1.8, 1.6, 1.5], "val_loss": [1.9, 1.7, 1.6]})
    assert short.val_loss == [1.9, 1.7, 1.6] and "val_loss" not in short.gaps


def test_history_from_dict_validates():
    h = history_from_dict({"history": {"loss": [1, 2], "val_acc": [0.1, 0.2]}}, source="x")
    assert h.loss == [1.0, 2.0] and h.flavor == "keras2" and h.source == "x"
    with pytest.raises(InputError, match="non-number"):
        history_from_dict({"loss": ["a"]})
    with pytest.raises(InputError, match="not a list"):
        history_from_dict({"loss": {"a": 1}})
    with pytest.raises(InputError):
        history_from_dict(["x"])


# --- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x00\x01\x02\x89PNG\x00\x00" * 100, "binary"),
        (bytes(range(256)) * 40, "binary"),
        (b"hello\nworld\nno keras here\n", "No complete training epoch"),
        (b"Epoch 1/5\n 12/50 [====>.....] - ETA: 3s - loss: 2.1 - acc: 0.2", "No complete training epoch"),
        (b'{"loss": [1.0,', "History JSON"),
    ],
)
def test_bad_inputs_raise_one_input_error(tmp_path, content, match):
    f = tmp_path / "bad.log"
    f.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_history(f)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_history(tmp_path / "nope.log")
    with pytest.raises(InputError, match="No TensorBoard event files in the folder"):  # a folder is a TensorBoard log
        read_history(tmp_path)


def test_a_second_fit_call_is_the_run_read_and_the_report_says_so():
    first = "".join(
        f"Epoch {e}/2\n10/10 [====] - 1s - loss: {2.1 - e / 10:.4f} - acc: 0.{30 + e}12 - val_loss: 2.0{e}1"
        f" - val_acc: 0.{28 + e}34\n"
        for e in (1, 2)
    )
    second = "".join(
        f"Epoch {e}/3\n10/10 [====] - 1s - loss: {1.4 - e / 10:.4f} - acc: 0.{50 + e}12 - val_loss: 1.9{e}1"
        f" - val_acc: 0.{40 + e}34\n"
        for e in (1, 2, 3)
    )
    h = parse(first + second)
    assert h.epochs == 3 and h.loss[0] == pytest.approx(1.3) and h.read_as["runs"] == 2
    assert "runs" not in parse(second).read_as

    from cifar_doctor.render.common import history_read_line

    line = history_read_line({"history": {"epochs": 3, "metrics": ["loss"], "read_as": h.read_as}})
    assert line is not None and "the last of 2 training runs" in line


def test_a_console_pasted_from_its_middle_is_read_with_its_epoch_numbers():
    # the end of a log pasted into a question: the report says the log starts after training did
    text = "".join(
        f"Epoch {e}/10\n10/10 [====] - 1s - loss: {1.4 - e / 20:.4f} - acc: 0.{50 + e}12 - val_loss: 1.{90 + e}1"
        f" - val_acc: 0.{40 + e}34\n"
        for e in range(6, 11)
    )
    h = parse(text)
    assert h.index == [6, 7, 8, 9, 10]

    from cifar_doctor.render.common import history_read_line

    report = {"epochs": 5, "metrics": ["loss"], "read_as": h.read_as, "curves": {"epoch": h.index}}
    line = history_read_line({"history": report})
    assert line is not None and "epochs 6-10: the log starts after training did" in line
    assert "starts after" not in (history_read_line({"history": {**report, "curves": {"epoch": [1, 2]}}}) or "")


def test_a_console_hard_wrapped_at_80_columns_reads_as_the_same_log():
    # a Windows console's copy of Keras 2 and Keras 3 output: each line cut at a space near column 80
    import textwrap

    keras2 = "".join(
        f"Epoch {e}/3\n1200/1200 [==============================] - 1s 806us/step - loss: {2.2 - e / 5:.4f} - acc: "
        f"0.{26 + 10 * e}75 - val_loss: {2.1 - e / 4:.4f} - val_acc: 0.{52 + 8 * e}09\n"
        for e in (1, 2, 3)
    )
    keras3 = (
        "".join(
            f"Epoch {e}/3\n38/38 - 1s - 37ms/step - accuracy: 0.{26 + 10 * e}75 - loss: {2.2 - e / 5:.4f} - "
            f"val_accuracy: 0.{52 + 8 * e}09 - val_loss: {2.1 - e / 4:.4f}\n"
            for e in (1, 2, 3)
        )
        + "12/12 - 0s - 16ms/step - accuracy: 0.7609 - loss: 1.3500\n"
    )
    for text in (keras2, keras3):
        wrapped = "".join(
            "\n".join(textwrap.wrap(line, 80, break_long_words=False)) + "\n" for line in text.splitlines()
        )
        assert wrapped != text and max(len(line) for line in wrapped.splitlines()) <= 80
        whole, cut = parse(text), parse(wrapped)
        assert cut.metrics == whole.metrics and cut.evaluations == whole.evaluations
        assert set(cut.metrics) >= {"loss", "val_loss"} and cut.epochs == 3


def cut_at_width(text: str, width: int) -> str:
    """`text` as a terminal `width` columns wide copies it: every line broken where it reaches the edge."""
    return "".join(
        "".join(line[i : i + width] + "\n" for i in range(0, len(line), width)) for line in text.splitlines()
    )


@pytest.mark.parametrize("width", [80, 100, 120, 61, 73, 97, 143])
def test_a_console_cut_at_a_terminals_width_reads_as_the_same_log(width):
    # a terminal's copy breaks each line where it reaches the edge, inside a name or a number, some lines
    # into three pieces; the log's own evaluate() print after the last epoch is still read as one
    keras2 = "".join(
        f"Epoch {e}/3\n1200/1200 [==============================] - 1s 806us/step - loss: {2.2 - e / 5:.4f} - "
        f"sparse_categorical_accuracy: 0.{26 + 10 * e}75 - val_loss: {2.1 - e / 4:.4f} - "
        f"val_sparse_categorical_accuracy: 0.{52 + 8 * e}09\n"
        for e in (1, 2, 3)
    )
    text = keras2 + "Test accuracy: 0.6612\n"
    cut = cut_at_width(text, width)
    assert any(len(line) == width and line[-1].isalnum() for line in cut.splitlines())
    whole, pieces = parse(text), parse(cut)
    assert pieces.metrics == whole.metrics and pieces.evaluations == whole.evaluations
    assert pieces.epochs == 3 and whole.evaluations and len(whole.metrics) == 4


@pytest.mark.parametrize("width", [66, 97])
def test_a_width_learned_from_the_first_cut_line_mends_it_as_the_log_arrives(width):
    # a window resized by hand: the first cut line is read before anything shows it was cut, then mended
    # when its rest arrives (a number cut there, `loss: 2.` / `3152`, takes its digits); later lines of
    # that length wait for their rest, as lines of a preset width do
    text = "".join(
        f"Epoch {e}/3\n1200/1200 [==============================] - 1s 1ms/step - loss: 2.{3152 - e} - "
        f"sparse_categorical_accuracy: 0.{1117 + e} - val_loss: 2.{3150 - e} - "
        f"val_sparse_categorical_accuracy: 0.{1198 + e}\n"
        for e in (1, 2, 3)
    )
    cut = cut_at_width(text, width)
    p = LogParser()
    epochs = [e for line in cut.splitlines(keepends=True) for e in p.feed(line)] + p.finish()
    assert [e.number for e in epochs] == [1, 2, 3]
    whole = LogParser()
    assert [e.metrics for e in epochs] == [e.metrics for e in whole.feed(text) + whole.finish()]
    assert epochs[0].metrics["loss"] == pytest.approx(2.3151) and epochs[2].metrics["val_loss"] == pytest.approx(2.3147)


def test_a_width_is_learned_only_from_a_line_its_next_line_continues():
    # epoch lines of one length, each followed by the next epoch or a print that adds no metric: nothing is
    # joined, so no width is learned and no later line waits for a rest
    rows = [f"epoch {e} - loss: {1.5 - e / 10:.4f} - acc: {0.4 + e / 20:.4f} - val_acc: 0.5{e}00" for e in (1, 2, 3)]
    text = "\n".join(f"{row}\nlr now 0.00{e}" for e, row in enumerate(rows, 1)) + "\n"
    p = LogParser()
    fed = [p.feed(line) for line in text.splitlines(keepends=True)]
    assert [len(f) for f in fed] == [1, 0] * 3  # each epoch as soon as its line arrives
    assert p._learned_width is None
    h = parse(text)
    assert h.epochs == 3 and h.val_acc == pytest.approx([0.51, 0.52, 0.53])


def test_a_line_a_terminals_width_long_that_nothing_continues_is_read_alone():
    # an 80-character epoch line ending in a whole number, then a print: no metric is gained by joining
    # them, and joining would take the number (`0.5209Restoring ...`) or the print
    tail = "] - 1s 9ms/step - loss: 1.2345 - acc: 0.5612 - val_acc: 0.5209"
    line = "10/10 [" + "=" * (80 - len("10/10 [") - len(tail)) + tail
    assert len(line) == 80
    for after in ("Test accuracy: 0.5100", "Restoring model weights from the end of the best epoch: 1.", "done"):
        h = parse(f"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n{after}\n")
        assert h.epochs == 2 and h.val_acc == pytest.approx([0.5209, 0.5209]) and h.loss == pytest.approx([1.2345] * 2)
    h = parse(f"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\nTest accuracy: 0.5100\n")
    assert h.evaluations and h.evaluations[-1]["accuracy"] == pytest.approx(0.51)
    # a custom loop's epochs, one line each, that happen to be 80 characters: the next line is the next epoch
    loop = [
        f"epoch {e} - loss: {1.5 - e / 10:.4f} - acc: {0.4 + e / 20:.4f} - val_loss: 1.{e}000 - val_acc: 0.5{e}00"
        for e in (1, 2, 3)
    ]
    loop = [row + " " * (80 - len(row)) for row in loop]
    assert all(len(row) == 80 for row in loop)
    h = parse("\n".join(loop) + "\n")
    assert h.epochs == 3 and h.loss == pytest.approx([1.4, 1.3, 1.2]) and h.val_acc == pytest.approx([0.51, 0.52, 0.53])


@pytest.mark.parametrize(
    "prefix",
    [
        "> ",
        "> > ",
        "[1,0]<stdout>:",
        "2024-03-02T10:11:12.345Z ",
        "2024-03-02 10:11:12,345 - INFO - ",
        "[2024-03-02 10:11:12] ",
    ],
)
def test_a_console_with_a_prefix_on_every_line_reads_as_the_same_log(prefix):
    # a quote in a mail or forum post, an MPI rank tag, a cloud job's timestamps, a logging handler
    text = (
        "".join(
            f"Epoch {e}/3\n1200/1200 [==============================] - 1s 806us/step - loss: {2.2 - e / 5:.4f} - acc: "
            f"0.{26 + 10 * e}75 - val_loss: {2.1 - e / 4:.4f} - val_acc: 0.{52 + 8 * e}09\n"
            for e in (1, 2, 3)
        )
        + "loss:  1.3500\naccuracy:  0.7609\n"
    )
    whole, prefixed = parse(text), parse("".join(prefix + line for line in text.splitlines(keepends=True)))
    assert prefixed.metrics == whole.metrics and prefixed.evaluations == whole.evaluations
    assert prefixed.bar_total == whole.bar_total == 1200 and whole.evaluations


def test_validation_every_other_epoch_is_read_with_gaps():
    # fit(validation_freq=2): odd epochs print no val_ metrics; none of them is a cut-off line
    lines = []
    for e in range(1, 7):
        line = f"Epoch {e}/6\n250/250 [====] - 4s 16ms/step - loss: {1.6 - e / 5:.4f} - accuracy: 0.{40 + 5 * e}12"
        if e % 2 == 0:
            line += f" - val_loss: {1.3 + e / 50:.4f} - val_accuracy: 0.{50 + e}34"
        lines.append(line + "\n")
    h = parse("".join(lines))
    assert h.epochs == 6 and not h.truncated
    assert h.gaps == {"val_loss": [0, 2, 4], "val_accuracy": [0, 2, 4]}
    assert h.val_acc[1] == pytest.approx(0.5234) and math.isnan(h.val_acc[2])
    assert h.loss == pytest.approx([1.4, 1.2, 1.0, 0.8, 0.6, 0.4])
    # the last line cut inside its metrics is still dropped
    cut = "".join(lines)[: -len(" - val_accuracy: 0.5634\n")]
    h = parse(cut)
    assert h.epochs == 5 and h.truncated


def test_a_run_killed_during_its_last_validation_drops_that_epoch():
    # every epoch validated, then the last one's bar completes and the run stops before its val_ metrics
    text = "".join(
        f"Epoch {e}/3\n250/250 [====] - 4s 16ms/step - loss: {1.6 - e / 5:.4f} - accuracy: 0.{40 + 5 * e}12"
        + (f" - val_loss: {1.3 + e / 50:.4f} - val_accuracy: 0.{50 + e}34" if e < 3 else "")
        + "\n"
        for e in range(1, 4)
    )
    h = parse(text)
    assert h.epochs == 2 and h.truncated and not h.gaps


def test_truncated_runs_drop_the_partial_epoch():
    text = RUN1.read_text()
    cut = text.index("Epoch 5/5") + len("Epoch 5/5\n") + 20  # inside epoch 5's line
    h = parse(text[:cut])
    assert h.epochs == 4 and h.truncated
    # cut inside the metrics of the last line: val_acc missing -> dropped, not half-counted
    cut = text.index("val_loss: 7.4351") + 5
    h = parse(text[:cut])
    assert h.epochs == 4 and h.truncated


def test_overlong_line_is_capped():
    p = LogParser()
    p.feed("Epoch 1/1\n")
    for _ in range(50):
        p.feed("x" * 100_000)
    assert len(p._lines._pending) <= MAX_SEGMENT
    p.feed("\n1/1 - 1s - loss: 1.0 - accuracy: 0.5 - val_loss: 1.1 - val_accuracy: 0.4\n")
    p.finish()
    assert p.history().epochs == 1


# --- fuzzing ---------------------------------------------------------------------------
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALPHABET = st.sampled_from(list('Epoch 0123456789/.-:[]=>━ \n\r\b\x1bmaccuracylossval_nainf,%{}"e') + ["\x00", "é"])


@FUZZ
@given(st.text(alphabet=ALPHABET, max_size=400))
def test_fuzz_parser_never_raises(text):
    p = LogParser()
    for i in range(0, len(text), 7):
        p.feed(text[i : i + 7])
    p.finish()
    h = p.history()
    assert all(len(v) == h.epochs for v in h.metrics.values())


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_read_history_only_input_errors(data):
    try:
        read_history(io.BytesIO(data))
    except InputError:
        pass


@FUZZ
@given(st.data())
def test_fuzz_mutated_real_logs(data):
    src = data.draw(st.sampled_from([RUN1, RUN2, K3V2, K3TTY, K3PIPE])).read_bytes()
    b = bytearray(src)
    for _ in range(data.draw(st.integers(1, 12))):
        op = data.draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(b) - 1)))
        if op == "flip" and b:
            b[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del b[pos : pos + data.draw(st.integers(1, 80))]
        elif op == "dup":
            b[pos:pos] = b[pos : pos + data.draw(st.integers(1, 120))]
        else:
            b[pos:pos] = data.draw(st.sampled_from([b"\r", b"\b" * 9, b"\n", b"Epoch 1/5\n", b"nan", b"\x1b[1m"]))
    try:
        h = read_history(io.BytesIO(bytes(b)))
    except InputError:
        return
    assert h.epochs >= 1
