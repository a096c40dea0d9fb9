"""A class folder named to attack each output format, through `check --data DIR` end to end."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from cifar_doctor import sanitize
from conftest import run_cli

#: Folder names cannot hold "/": the link and the script are left open, as a folder name can.
NAMES = ("evil\x1b]0;owned\x07", "x[link=https:evil.example]y[bold]z", "<script>alert(1)")


@pytest.mark.slow
def test_hostile_class_folders_in_every_format(photos, tmp_path):
    root = shutil.copytree(photos, tmp_path / "photos")
    for name in NAMES:  # classes of train that test lacks: DAT005 quotes them
        shutil.copytree(root / "train" / "cat", root / "train" / name)
    for fmt in ("text", "markdown", "html", "json"):
        res = run_cli("check", "--data", str(root), "--format", fmt)
        assert res.returncode in (0, 1), (fmt, res.stderr)
        out = res.stdout
        assert "\x1b" not in out and "\x07" not in out and "Error:" not in res.stderr, fmt
        if fmt == "json":
            strings = json.dumps(json.loads(out), ensure_ascii=False)
            assert all(json.dumps(n, ensure_ascii=False)[1:-1] in strings for n in NAMES)
        elif fmt == "text":
            flat = re.sub(r"\s+", "", out)
            assert all(re.sub(r"\s+", "", sanitize.one_line(n)) in flat for n in NAMES), out
        elif fmt == "markdown":  # a fenced fix snippet shows code as written: Markdown reads no HTML there
            prose = re.sub(r"^ *(`{3,})python\n.*?^ *\1$", "", out, flags=re.S | re.M)
            assert "<script" not in prose and "&lt;script&gt;" in prose
        else:
            assert "<script" not in out and "&lt;script&gt;" in out
