"""TensorBoard event files read without TensorFlow (cifar_doctor.sources.tensorboard)."""

from __future__ import annotations

import csv
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from cifar_doctor.errors import InputError
from cifar_doctor.sources import tensorboard as tb
from cifar_doctor.sources import tfevents
from cifar_doctor.sources.logs import read_history
from conftest import ROOT, run_cli, run_json

FIXTURE = ROOT / "tests" / "fixtures" / "tensorboard" / "k3-scale-bug"
RUN = FIXTURE / "tb"
CSV = FIXTURE / "run.csv"


# --- a writer for hand-made event files ------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        return key + _varint(payload)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def event(step: int, tag: str, value: float, kind: str = "tensor") -> bytes:
    """An `Event` with one scalar: `simple_value` (tf.keras 1.x) or a float tensor (`tf.summary.scalar`)."""
    if kind == "simple":
        val = _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", value))
    else:
        tensor = _field(1, 0, 1) + _field(2, 2, b"") + _field(5, 2, struct.pack("<f", value))
        if kind == "double":
            tensor = _field(1, 0, 2) + _field(2, 2, b"") + _field(4, 2, struct.pack("<d", value))
        val = _field(1, 2, tag.encode()) + _field(8, 2, tensor)
    return _field(1, 1, struct.pack("<d", 1.7e9)) + _field(2, 0, step) + _field(5, 2, _field(1, 2, val))


def record(data: bytes, crc: bool = True) -> bytes:
    header = struct.pack("<Q", len(data))
    data_crc = struct.pack("<I", tb.masked_crc32c(data)) if crc else b"\0\0\0\0"
    return header + struct.pack("<I", tb.masked_crc32c(header)) + data + data_crc


def event_file(path: Path, events: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    version = _field(1, 1, struct.pack("<d", 1.7e9)) + _field(3, 2, b"brain.Event:2")
    path.write_bytes(record(version) + b"".join(record(e) for e in events))
    return path


def csv_columns(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows] for k in rows[0] if k != "epoch"}


# --- format ----------------------------------------------------------------------------------
def test_crc32c_check_value():
    assert tfevents.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)


def test_fixture_reads_as_its_csvlogger_file():
    h = tb.read_tensorboard(RUN)
    expected = csv_columns(CSV)
    assert {k: h.metrics[k] for k in expected} == expected  # same float32 values, same epochs
    assert set(h.metrics) - set(expected) == {"learning_rate"}  # TensorBoard also logs the optimizer's rate
    assert h.index is None and not h.gaps and not h.truncated
    assert h.read_as["format"] == "tensorboard" and h.read_as["files"] == 2


@pytest.mark.parametrize("where", ["run", "parent", "train-file", "validation-folder"])
def test_accepted_layouts(where, tmp_path):
    shutil.copytree(RUN, tmp_path / "logs" / "fit" / "20260101-120000")
    run = tmp_path / "logs" / "fit" / "20260101-120000"
    path = {
        "run": run,
        "parent": tmp_path / "logs",
        "train-file": next((run / "train").iterdir()),
        "validation-folder": run / "validation",
    }[where]
    h = read_history(path)
    keys = {
        "run": {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"},
        "parent": {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"},
        "train-file": {"loss", "accuracy", "learning_rate"},
        "validation-folder": {"val_loss", "val_accuracy"},
    }[where]
    assert set(h.metrics) == keys and h.epochs == 3


def test_keras2_simple_values_in_one_folder(tmp_path):
    events = [
        event(e, tag, v, kind="simple")
        for e in range(2)
        for tag, v in (("loss", 1.5 - e / 4), ("acc", 0.4 + e / 10), ("val_loss", 8.0), ("val_acc", 0.45))
    ]
    event_file(tmp_path / "logs" / "events.out.tfevents.1.host", events)
    h = read_history(tmp_path / "logs")
    assert h.metrics["loss"] == [1.5, 1.25] and h.metrics["val_acc"] == pytest.approx([0.45, 0.45])
    assert h.flavor == "keras2"  # the `acc` names of the Keras 2 API, as from a CSV of the same run


def test_validation_every_other_epoch_leaves_gaps(tmp_path):
    train = [event(e, "epoch_loss", 2.0 - e / 10) for e in range(4)]
    val = [event(e, "epoch_loss", 2.1 - e / 10, kind="double") for e in (1, 3)]  # validation_freq=2
    event_file(tmp_path / "run" / "train" / "events.out.tfevents.1.h.0.v2", train)
    event_file(tmp_path / "run" / "validation" / "events.out.tfevents.1.h.1.v2", val)
    h = tb.read_tensorboard(tmp_path / "run")
    assert h.gaps == {"val_loss": [0, 2]} and h.metrics["val_loss"][1] == pytest.approx(2.0)


def test_resumed_run_keeps_epoch_numbers(tmp_path):
    event_file(tmp_path / "events.out.tfevents.1.h", [event(e, "epoch_loss", 1.0) for e in range(3, 6)])
    h = tb.read_tensorboard(tmp_path)
    assert h.index == [4, 5, 6]  # step 3 is the 4th epoch, as CSVLogger's epoch column 3


def test_batch_and_evaluation_curves_are_not_epochs(tmp_path):
    events = [event(s, "batch_loss", 2.0) for s in range(50)] + [event(0, "epoch_loss", 1.9)]
    events += [event(7, "evaluation_loss_vs_iterations", 2.2)]
    event_file(tmp_path / "events.out.tfevents.1.h", events)
    h = tb.read_tensorboard(tmp_path)
    assert h.metrics == {"loss": [pytest.approx(1.9)]}


def test_oversized_record_is_skipped_unread(tmp_path):
    """A graph over MAX_RECORD_BYTES is stepped over; the scalars around it are read."""
    big = _field(4, 2, bytes(tb.MAX_RECORD_BYTES + 10))  # Event.graph_def
    header = struct.pack("<Q", len(big))
    framed = header + struct.pack("<I", tb.masked_crc32c(header)) + big + b"\0\0\0\0"
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(record(event(0, "epoch_loss", 1.0)) + framed + record(event(1, "epoch_loss", 0.5)))
    assert tb.read_tensorboard(tmp_path).metrics["loss"] == [1.0, 0.5]


# --- hostile files ---------------------------------------------------------------------------
def _fixture_bytes() -> bytes:
    return next((RUN / "train").iterdir()).read_bytes()


def _write(tmp_path: Path, content: bytes) -> Path:
    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(content)
    return p


def test_last_record_cut_short_is_dropped(tmp_path):
    h = tb.read_tensorboard(_write(tmp_path, _fixture_bytes()[:-10]))  # a run still writing its last epoch
    assert h.truncated and h.epochs == 3 and h.gaps == {"learning_rate": [2]}  # epoch 3's rate was not written


@pytest.mark.parametrize(
    "content, match",
    [
        (lambda b: b[:20], "ends inside its first record"),
        (lambda b: b[:-8] + bytes([b[-8] ^ 0xFF]) + b[-7:], "checksum of its data"),
        (lambda b: b[:3800] + bytes([b[3800] ^ 0x01]) + b[3801:], "byte 3,799 is corrupt .the checksum of its length"),
        (lambda b: os.urandom(4096), "not a TensorBoard event file"),
        (lambda b: b"", "ends inside its first record|No per-epoch scalars"),
        (
            lambda b: (
                struct.pack("<Q", 1 << 60) + struct.pack("<I", tb.masked_crc32c(struct.pack("<Q", 1 << 60))) + b"x" * 64
            ),
            "declares 1,152,921,504,606,846,976 bytes",
        ),
        (
            lambda b: (
                struct.pack("<Q", 100 << 20)
                + struct.pack("<I", tb.masked_crc32c(struct.pack("<Q", 100 << 20)))
                + b"x" * 64
            ),
            "ends inside its first record",
        ),
        (lambda b: record(b"\x0f\xff\xff"), "not an Event message"),
    ],
    ids=[
        "truncated-first-record",
        "bad-data-crc",
        "flipped-length-bit",
        "random-bytes",
        "empty",
        "huge-length",
        "length-past-end",
        "garbage-with-valid-crc",
    ],
)
def test_hostile_event_files_raise_one_input_error(tmp_path, content, match):
    with pytest.raises(InputError, match=match):
        tb.read_tensorboard(_write(tmp_path, content(_fixture_bytes())))


def test_pipe_named_as_an_event_file_is_skipped_and_named(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    pipe = run / "validation" / "events.out.tfevents.1800000000.host\x1b[2J.1.0.v2"
    os.mkfifo(pipe)
    h = read_history(run)  # never opened: opening a pipe without a writer would block
    assert h.epochs == 3 and "val_loss" in h.metrics
    err = capsys.readouterr().err
    assert "Notice: skipped" in err and "host\\x1b[2J.1.0.v2: a named pipe, not a regular file" in err
    assert "\x1b" not in err and len(err.splitlines()) == 1


def test_folder_without_event_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hi\n")
    with pytest.raises(InputError, match=r"No TensorBoard event files .*notes\.txt"):
        read_history(tmp_path)


def test_folder_of_several_runs_lists_them(tmp_path):
    for name in ("run-a", "run-b"):
        shutil.copytree(RUN, tmp_path / name)
    with pytest.raises(InputError, match="holds 2 TensorBoard runs: run-a, run-b"):
        read_history(tmp_path)


def test_cli_refuses_a_corrupt_file_in_one_line(tmp_path):
    b = _fixture_bytes()
    p = _write(tmp_path, b[:-8] + bytes([b[-8] ^ 0xFF]) + b[-7:])
    proc = run_cli("check", "--log", str(p))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("Error: ")


# --- the command line, without TensorFlow ----------------------------------------------------
def test_reading_the_fixture_does_not_import_tensorflow():
    code = (
        "import sys; from cifar_doctor.sources.logs import read_history; h = read_history(sys.argv[1]); "
        "assert h.epochs == 3; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(RUN)], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_check_gives_the_csv_verdict_from_the_fixture():
    rc_tb, tb_report, _ = run_json("check", "--log", str(RUN))
    rc_csv, csv_report, _ = run_json("check", "--log", str(CSV))
    assert rc_tb == rc_csv == 1
    assert tb_report["verdict"]["cause"] == csv_report["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert tb_report["inputs"]["history"]["curves"] == csv_report["inputs"]["history"]["curves"]
    assert [f["code"] for f in tb_report["findings"]] == [f["code"] for f in csv_report["findings"]]
    jsonschema = pytest.importorskip("jsonschema")
    from cifar_doctor.schema import load_schema

    jsonschema.validate(tb_report, load_schema())


def test_diagnose_reads_a_tensorboard_folder():
    from cifar_doctor import diagnose

    report = diagnose(history=str(RUN))
    assert report.verdict.cause == "eval-input-scale-mismatch"


def test_check_reads_event_bytes_from_stdin():
    data = next((RUN / "validation").iterdir()).read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "cifar_doctor", "check", "--log", "-", "--json"],
        input=data,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert b'"format": "tensorboard"' in proc.stdout


# --- a real run ------------------------------------------------------------------------------
@pytest.mark.tf
@pytest.mark.training
def test_real_keras_run_tensorboard_and_csvlogger_agree(tmp_path):
    pytest.importorskip("tensorboard", reason="keras.callbacks.TensorBoard writes through the tensorboard package")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_tensorboard_log.py"),
            "--out",
            str(tmp_path),
            "--n",
            "200",
            "--epochs",
            "2",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    rc_tb, tb_report, _ = run_json("check", "--log", str(tmp_path / "tb"))
    rc_csv, csv_report, _ = run_json("check", "--log", str(tmp_path / "run.csv"))
    assert rc_tb == rc_csv
    assert tb_report["verdict"]["cause"] == csv_report["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert tb_report["inputs"]["history"]["curves"] == csv_report["inputs"]["history"]["curves"]
    h = tb.read_tensorboard(tmp_path / "tb")
    expected = csv_columns(tmp_path / "run.csv")
    assert {k: h.metrics[k] for k in expected} == expected and h.epochs == 2
