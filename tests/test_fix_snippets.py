"""Fix snippets are code users copy and run: a value from an input enters them only as one harmless literal.

Hostile names (quotes, newlines, triple quotes, backslashes, a call, escape sequences) go
through every check whose snippet interpolates a value from an input: class folder names and
folder paths (DAT005), the optimizer's name read from a model (MDL008). Each snippet must
parse, call nothing the template does not call, and hold each name as a string literal equal
to it. Split names enter snippets as variable names (`x_test`): a `Split` refuses any name
that is not a Python identifier.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cifar_doctor.api import build_inputs
from cifar_doctor.engine import run
from cifar_doctor.inputs import ModelInfo, Split
from cifar_doctor.sources.folders import FolderScan, SplitScan

HOSTILE = [
    "bird",  # the template's own shape, for comparison
    "x'); __import__('os').system('id'); ('",
    'x"); __import__("os").system("id"); ("',
    "x'''; __import__('os').system('id'); '''",
    'x"""; __import__("os").system("id"); """',
    "a\\",
    "a\\'); import os #",
    "line\n__import__('os').system('id')\n#",
    "\r__import__('os').system('id')",
    "\x1b]0;owned\x07\x1b[2J",
    "[link=https://evil.example]x[/link]",
    "<script>alert(1)</script>",
    "{0.__class__}{x!r}",
    "\u202e)'(metsys.)'so'(__tropmi__",
    "",
]


def calls(tree: ast.AST) -> Counter:
    """The functions called in `tree`, by their source text."""
    return Counter(ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call))


def strings(tree: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def parse(code: str) -> ast.Module:
    """`code` parsed, with the `, ...)` that stands for the user's other arguments dropped."""
    return ast.parse(code.replace(", ...)", ")"))


def assert_harmless(snippet: str, template: str, names: list[str]) -> None:
    """`snippet` parses, calls what `template` calls and nothing else, and holds each name as one literal."""
    tree = parse(snippet)
    assert calls(tree) == calls(parse(template)), snippet
    assert len(tree.body) == len(parse(template).body), snippet
    found = strings(tree)
    for name in names:
        assert any(name in s for s in found), (name, snippet)


def _folder_inputs(tmp_path: Path, class_name: str, folder: str):
    x = np.zeros((4, 8, 8, 3), np.uint8)
    y = np.array([0, 1, 0, 1])
    inputs = build_inputs(x_train=x, y_train=y, x_test=x, y_test=y)
    train = SplitScan(
        "train",
        tmp_path / "train",
        ["airplane", class_name],
        [2, 2],
        modes=Counter({"RGB": 4}),
        sizes=Counter({(8, 8): 4}),
        read=4,
    )
    test = SplitScan(
        "test", tmp_path / folder, ["airplane"], [4], modes=Counter({"RGB": 4}), sizes=Counter({(8, 8): 4}), read=4
    )
    inputs.folders = FolderScan({"train": train, "test": test}, target_size=(8, 8))
    return inputs


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_dat005_snippet_holds_folder_names_as_literals(tmp_path, name):
    folder = name.replace("/", "_").replace("\x00", "_") or "test"
    report = run(_folder_inputs(tmp_path, name, folder), select_codes=["DAT005"], counterfactual=False)
    (f,) = [f for f in report.findings if f.code == "DAT005"]
    template = _folder_inputs(tmp_path, "bird", "test")
    (t,) = [f for f in run(template, select_codes=["DAT005"], counterfactual=False).findings if f.code == "DAT005"]
    assert_harmless(f.fix.snippet, t.fix.snippet, [name, str(tmp_path / folder)])


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_mdl008_snippet_holds_optimizer_name_as_a_literal(name):
    def snippet(opt: str) -> str:
        info = ModelInfo(
            input_shape=(32, 32, 3),
            output_units=10,
            last_activation="softmax",
            loss="categorical_crossentropy",
            from_logits=False,
            rescaling=[],
            layers=["Dense"],
            optimizer=opt,
            learning_rate=-1.0,
        )
        report = run(build_inputs(model=info), select_codes=["MDL008"], counterfactual=False)
        (f,) = [f for f in report.findings if f.code == "MDL008"]
        return f.fix.snippet

    assert_harmless(snippet(name), snippet("MyOptimizer"), [name])
    assert "keras.optimizers.Adam(" in snippet("Adam")  # Keras' own optimizers keep their class


@pytest.mark.parametrize("name", ["x'); import os #", "test\n", "a-b", "1st", ""])
def test_split_names_are_identifiers(name):
    with pytest.raises(ValueError, match="identifier"):
        Split(name)
