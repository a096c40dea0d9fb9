"""A seeded slice of bench/fuzz.py: every parser meets 300 generated inputs without a crash or a timeout."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


def test_fuzz_slice_finds_no_crash_and_no_timeout():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz.py"), "--n", "300", "--seed", "20240601"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = [line.split() for line in proc.stdout.splitlines()[1:7]]
    assert [r[0] for r in rows] == ["log", "csv", "json", "npz", "keras-config", "tensorboard"]
    assert all(r[1] == "300" and r[4] == "0" and r[5] == "0" for r in rows), proc.stdout


@pytest.mark.slow  # about 20 s: 240 names, each through six renderings
def test_names_fuzz_slice_reaches_no_reader():
    """A seeded slice of bench/fuzz_names.py: hostile names from every source through every renderer."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fuzz_names.py"), "--n", "48", "--seed", "20240601"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:6]}
    assert set(rows) == {"folder", "file", "key", "tag", "run"}
    assert all(r[1] == "48" and r[4] == "0" for r in rows.values()), proc.stdout
