"""Checks DAT005, DAT006, DAT007, DAT008: where each fires, where it stays silent, where it is skipped.

They run through the CLI on the `photos` fixture (conftest.py): the bundled sample as class folders of PNGs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import run_cli


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _codes(report) -> dict[str, object]:
    return {f["code"]: f for f in report["findings"]}


def test_dat005_to_dat008_silent_on_clean_folders(photos):
    res = run_cli("check", "--data", str(photos), "--json")
    report = json.loads(res.stdout)
    assert res.returncode in (0, 1), res.stderr
    assert not {"DAT005", "DAT006", "DAT007", "DAT008", "DUP001"} & set(_codes(report))
    folders = report["inputs"]["folders"]
    assert folders["splits"]["train"]["images"] == 600 and folders["target_size"] == [32, 32]
    skipped = {c["code"]: c for c in report["checks"]}
    assert skipped["LBL009"]["status"] == "skipped"  # files listed by class are not the feeding order


def test_dat005_folders_missing_class_shifts_ids(photos, tmp_path):
    import shutil

    root = _copy(photos, tmp_path / "photos")
    shutil.rmtree(root / "test" / "bird")
    res = run_cli("check", "--data", str(root), "--json")
    report = json.loads(res.stdout)
    f = _codes(report)["DAT005"]
    assert f["severity"] == "error" and f["evidence"]["missing_in_eval"] == ["bird"]
    assert f["evidence"]["shifted_ids"]["cat"] == [3, 2]
    assert report["verdict"]["cause"] == "eval-labels-misaligned" and res.returncode == 1


def test_dat006_dat007_folders_grayscale_class_and_broken_file(photos, tmp_path):
    from PIL import Image

    root = _copy(photos, tmp_path / "photos")
    for p in (root / "test" / "frog").glob("*.png"):
        Image.open(p).convert("L").save(p)
    good = next((root / "train" / "dog").glob("*.png"))
    (root / "train" / "dog" / "broken.png").write_bytes(good.read_bytes()[:60])
    report = json.loads(run_cli("check", "--data", str(root), "--json").stdout)
    codes = _codes(report)
    assert codes["DAT007"]["evidence"]["classes"][0]["class"] == "frog"
    assert "broken.png" in codes["DAT006"]["evidence"]["files"][0]


def test_dat008_folders_eval_images_of_another_size(photos, tmp_path):
    from PIL import Image

    root = _copy(photos, tmp_path / "photos")
    for p in (root / "test").rglob("*.png"):
        Image.open(p).resize((96, 96)).save(p)
    for p in list((root / "train" / "ship").glob("*.png"))[:5]:
        Image.open(p).resize((40, 32)).save(p)
    report = json.loads(run_cli("check", "--data", str(root), "--json").stdout)
    by_split = {f["split"]: f for f in report["findings"] if f["code"] == "DAT008"}
    assert by_split["test"]["severity"] == "warning" and by_split["test"]["evidence"]["ratio"] == 3.0
    assert by_split["train"]["severity"] == "info" and "32x40" in by_split["train"]["evidence"]["sizes"]
