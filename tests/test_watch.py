"""`cifar-doctor watch`: pass-through, live warnings at the end of epoch 1, report, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LOGS = Path(__file__).parent / "fixtures" / "logs"
RUN1 = LOGS / "seed-question-run1-keras2.txt"

#: Prints a log line by line with short sleeps, like a training run. After the
#: line with `pause_after`, waits until the file `gate` exists (or 20 s).
REPLAY = r"""
import os, sys, time
path, delay, rc = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
gate = sys.argv[4] if len(sys.argv) > 4 else None
for i, line in enumerate(open(path, encoding="utf-8").read().splitlines(True)):
    sys.stdout.write(line)
    time.sleep(delay)
    if gate and i == 1:
        t0 = time.time()
        while not os.path.exists(gate) and time.time() - t0 < 20:
            time.sleep(0.02)
sys.exit(rc)
"""


def env():
    e = dict(os.environ, NO_COLOR="1", COLUMNS="120")
    e.pop("PYTHONUNBUFFERED", None)  # watch must set it for the child itself
    return e


def watch(*args, child=("0.01", "0")):
    cmd = [sys.executable, "-m", "cifar_doctor", "watch", *args, "--", sys.executable, "-c", REPLAY, str(RUN1), *child]
    return subprocess.run(cmd, capture_output=True, env=env(), timeout=120)


def test_passthrough_report_and_exit_code():
    proc = watch()
    out = proc.stdout
    assert out.startswith(RUN1.read_bytes())  # byte for byte, then the report
    assert b"eval-input-scale-mismatch" in out[len(RUN1.read_bytes()) :]
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.count("LOG001") == 1 and "after epoch 1" in err  # warned once, at epoch 1


def test_json_to_stdout_moves_child_output_to_stderr():
    proc = watch("--json")
    data = json.loads(proc.stdout)
    assert data["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert data["watch"]["epochs_seen"] == 5 and data["watch"]["returncode"] == 0
    # the command's output, then the live warning after epoch 1's line, then the rest
    first, rest = RUN1.read_bytes().split(b"\n", 2)[:2], RUN1.read_bytes().split(b"\n", 2)[2]
    assert proc.stderr.startswith(b"\n".join(first) + b"\n")
    assert rest in proc.stderr and proc.stderr.index(b"LOG001") < proc.stderr.index(rest[:40])


def test_json_file_and_child_failure(tmp_path):
    out = tmp_path / "report.json"
    proc = watch("--json-out", str(out), child=("0", "3"))
    assert proc.returncode == 3
    assert b"exited with code 3" in proc.stderr
    assert json.loads(out.read_text())["watch"]["returncode"] == 3


def test_warning_arrives_at_end_of_epoch_1(tmp_path):
    gate = tmp_path / "gate"
    cmd = [
        sys.executable,
        "-m",
        "cifar_doctor",
        "watch",
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
    try:
        line = p.stderr.readline().decode()  # blocks until the first warning; the child waits at the gate
        assert "LOG001" in line and "after epoch 1" in line
    finally:
        gate.write_text("go")
    out, _ = p.communicate(timeout=60)
    assert out.startswith(RUN1.read_bytes())


def test_ctrl_c_reaches_child_and_report_covers_what_was_seen(tmp_path):
    gate = tmp_path / "never"
    cmd = [
        sys.executable,
        "-m",
        "cifar_doctor",
        "watch",
        "--json",
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
    while b"LOG001" not in seen:  # the child's lines come first on stderr in this mode
        line = p.stderr.readline()
        assert line, seen
        seen += line
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert time.time() - t0 < 15  # the child did not wait out its gate
    assert p.returncode == 130
    data = json.loads(out)
    assert data["watch"]["interrupted"] is True and data["watch"]["epochs_seen"] == 1
    assert data["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert b"KeyboardInterrupt" in err  # the child got the SIGINT


def test_command_not_found_is_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "cifar_doctor", "watch", "--", "no-such-command-xyz"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: Cannot run `no-such-command-xyz`") and "Traceback" not in proc.stderr


def test_child_without_epochs_gives_insufficient_evidence():
    proc = subprocess.run(
        [sys.executable, "-m", "cifar_doctor", "watch", "--json", "--", sys.executable, "-c", "print('hello')"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["verdict"]["cause"] == "insufficient-evidence"
    assert "hello" in proc.stderr and "no Keras epoch lines" in proc.stderr
