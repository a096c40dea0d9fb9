"""Shell completion: Typer's --show-completion / --install-completion, and the package's own candidates."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cifar_doctor.cli.completion import complete_check, complete_recipe

#: Typer's switch that makes `--show-completion SHELL` / `--install-completion SHELL` take the shell
#: as given instead of detecting the shell the tests run under.
EXPLICIT_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cifar_doctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "shell, marker",
    [
        ("bash", "complete -o default -F _cifar_doctor_completion cifar-doctor"),
        ("zsh", "#compdef cifar-doctor"),
        ("fish", "complete --command cifar-doctor"),
    ],
)
def test_show_completion_prints_the_shells_script(shell, marker):
    proc = _run("--show-completion", shell, env=EXPLICIT_SHELL)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout and f"_CIFAR_DOCTOR_COMPLETE=complete_{shell}" in proc.stdout
    assert proc.stderr == ""


def test_install_completion_writes_the_bash_script_under_home(tmp_path):
    proc = _run("--install-completion", "bash", env={**EXPLICIT_SHELL, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "cifar-doctor.sh"
    assert "_CIFAR_DOCTOR_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def _complete_bash(words: str) -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    proc = subprocess.run(
        [sys.executable, "-m", "cifar_doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "_CIFAR_DOCTOR_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_completes_commands_options_and_values():
    assert {"check", "checks"} <= set(_complete_bash("cifar-doctor ch"))
    assert _complete_bash("cifar-doctor check --fo") == ["--format"]
    assert {"text", "json", "markdown"} <= set(_complete_bash("cifar-doctor check --format "))
    codes = _complete_bash("cifar-doctor explain PRE00")
    assert "PRE001" in codes and all(c.startswith("PRE00") for c in codes)
    assert _complete_bash("cifar-doctor compare orig") == ["original"]


def test_check_candidates_are_codes_and_names():
    codes = dict(complete_check("lbl"))
    assert codes and all(c.startswith("LBL") for c in codes)
    assert ("train-test-scale-mismatch", "PRE001") in complete_check("train-test-s")
    assert complete_check("zzz") == []


def test_recipe_candidates_describe_each_recipe_in_one_short_line():
    names = dict(complete_recipe(""))
    assert {"original", "fixed"} <= set(names)
    assert all("\n" not in d and len(d) <= 64 for d in names.values())
