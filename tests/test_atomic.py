"""Output files are written whole or not at all (`cifar_doctor.atomic`), also when a run is interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from cifar_doctor.atomic import atomic_path, write_text
from test_watch import REPLAY, RUN1, env


def test_write_text_replaces_whole(tmp_path):
    p = tmp_path / "r.json"
    write_text(p, "one")
    write_text(p, "two")
    assert p.read_text() == "two" and sorted(x.name for x in tmp_path.iterdir()) == ["r.json"]


def test_exclusive_never_replaces(tmp_path):
    p = tmp_path / "r.json"
    p.write_text("mine")
    with pytest.raises(FileExistsError):
        write_text(p, "theirs", exclusive=True)
    assert p.read_text() == "mine" and len(list(tmp_path.iterdir())) == 1


def test_interrupted_write_leaves_nothing(tmp_path):
    p = tmp_path / "model.keras"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(p) as tmp:
            assert tmp.suffix == ".keras" and tmp.parent == tmp_path
            tmp.write_bytes(b"half a model")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_watch_json_out_leaves_a_whole_report(tmp_path):
    out = tmp_path / "report.json"
    gate = tmp_path / "never"
    cmd = [
        sys.executable,
        "-m",
        "cifar_doctor",
        "watch",
        "--json-out",
        str(out),
        "--",
        sys.executable,
        "-c",
        REPLAY,
        str(RUN1),
        "0",
        "0",
        str(gate),
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    seen = b""
    while b"LOG001" not in seen:
        line = p.stderr.readline()
        assert line, seen
        seen += line
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
    assert p.returncode == 130
    assert [x.name for x in tmp_path.iterdir()] == ["report.json"]  # no .part file beside it
    assert json.loads(out.read_text())["watch"]["interrupted"] is True
