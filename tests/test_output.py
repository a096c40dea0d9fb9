"""`--output FILE`: the report in any format goes to the file, stdout stays empty, exit codes are unchanged."""

from __future__ import annotations

import json
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import run_cli

LOG = str(Path(__file__).parent / "fixtures" / "logs" / "seed-question-run1-keras2.txt")
HEALTHY_LOG = str(Path(__file__).parent / "fixtures" / "logs" / "k3-healthy-verbose2.txt")


def _assert_format(fmt: str, text: str) -> None:
    if fmt == "json":
        assert json.loads(text)["verdict"]["cause"]
    elif fmt == "html":
        tags: list[str] = []
        parser = HTMLParser()
        parser.handle_starttag = lambda tag, attrs: tags.append(tag)
        parser.feed(text)
        assert tags[0] == "html" and "svg" in tags and "script" not in tags
    elif fmt == "markdown":
        assert text.startswith("## cifar-doctor report")
    else:
        assert "Verdict" in text and "\x1b[" not in text  # no colour codes in a file


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
@pytest.mark.parametrize("log,rc", [(LOG, 1), (HEALTHY_LOG, 0)], ids=["seed-bug", "healthy"])
def test_check_output_writes_the_file_and_nothing_on_stdout(tmp_path, fmt, log, rc):
    out = tmp_path / f"report.{fmt}"
    proc = run_cli("check", "--log", log, "--format", fmt, "--output", str(out))
    assert proc.returncode == rc, proc.stderr
    assert proc.stdout == ""
    assert str(out) in proc.stderr
    _assert_format(fmt, out.read_text(encoding="utf-8"))
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left beside it


def test_json_flag_and_short_option(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("check", "--log", LOG, "--json", "-o", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads(out.read_text())["verdict"]["cause"] == "eval-input-scale-mismatch"


def test_output_replaces_a_previous_report(tmp_path):
    out = tmp_path / "r.md"
    out.write_text("old report")
    assert run_cli("check", "--log", LOG, "-f", "markdown", "-o", str(out)).returncode == 1
    assert out.read_text().startswith("## cifar-doctor report")


def test_output_never_overwrites_an_input(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(Path(LOG).read_text())
    before = log.read_bytes()
    for target in (str(log), str(tmp_path / "." / "train.log")):
        proc = run_cli("check", "--log", str(log), "-f", "html", "-o", target)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.startswith("Error:") and "--output" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert log.read_bytes() == before


@pytest.mark.parametrize("where", ["folder", "missing-folder"])
def test_output_into_a_folder_or_nowhere_is_refused_before_any_work(tmp_path, where):
    target = tmp_path if where == "folder" else tmp_path / "nope" / "r.html"
    proc = run_cli("check", "--log", LOG, "-o", str(target))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--output" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_compare_output(monkeypatch, capsys, tmp_path, fmt):
    from cifar_doctor.cli.app import main
    from cifar_doctor.training import compare
    from test_snapshots import comparison

    monkeypatch.setattr(compare, "compare", lambda *a, **kw: comparison())
    out = tmp_path / f"cmp.{fmt}"
    with pytest.raises(SystemExit) as exc:
        main(["compare", "original", "fixed", "--quiet", "--format", fmt, "--output", str(out)])
    stdout, stderr = capsys.readouterr()
    assert exc.value.code == 0  # compare's default --fail-on never
    assert stdout == "" and str(out) in stderr
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert [r["name"] for r in json.loads(text)["runs"]] == ["original", "fixed"]
    elif fmt == "html":
        assert text.count("<svg") == 2 and "fixed val" in text
    else:
        assert "original" in text and "fixed" in text


def test_compare_refuses_its_data_file_as_output_before_training(monkeypatch, capsys, tmp_path):
    from cifar_doctor.cli.app import main
    from cifar_doctor.training import compare

    data = tmp_path / "c.npz"
    data.write_bytes(b"not read")

    def never(*a, **kw):  # pragma: no cover - reached only when the check is missing
        raise AssertionError("trained before checking --output")

    monkeypatch.setattr(compare, "compare", never)
    with pytest.raises(SystemExit) as exc:
        main(["compare", "original", "--data", str(data), "-o", str(data)])
    assert exc.value.code == 2
    assert data.read_bytes() == b"not read"


def test_watch_output_keeps_the_command_output_on_stdout(tmp_path):
    out = tmp_path / "w.json"
    proc = run_cli(
        "watch", "--json", "-o", str(out), "--", sys.executable, "-c", f"print(open({LOG!r}).read(), end='')"
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == Path(LOG).read_text()  # the training output, unchanged; the report is in the file
    assert json.loads(out.read_text())["verdict"]["cause"] == "eval-input-scale-mismatch"
    assert "LOG001" in proc.stderr  # the live warning still appears
