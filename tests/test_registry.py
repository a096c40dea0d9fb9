"""Every registered check is held to the same invariants."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from cifar_doctor import registry
from cifar_doctor.diagnosis import CAUSES, PRECEDENCE
from cifar_doctor.engine import run_checks
from cifar_doctor.inputs import Inputs

SPECS = registry.all_checks()
TESTS = Path(__file__).parent


def _test_functions() -> set[str]:
    """Names of the test functions (and test methods) under tests/, this file excepted."""
    names = set()
    for path in TESTS.rglob("test_*.py"):
        if path.name == "test_registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


TEST_FUNCTIONS = _test_functions()
HEADINGS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def test_registry_is_populated():
    families = {s.family for s in SPECS}
    assert {"RNG", "PRE", "DAT", "DUP", "LBL", "MDL", "LOG", "FIT"} <= families


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.code}-{s.name}")
class TestEveryCheck:
    def test_code_and_name(self, spec):
        assert re.fullmatch(r"[A-Z]{3}\d{3}", spec.code)
        assert spec.code[:3] == spec.family and spec.family in registry.FAMILIES
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", spec.name), spec.name

    def test_documented_with_fixed_headings(self, spec):
        for heading in HEADINGS:
            assert heading in spec.doc, f"{spec.code} docstring lacks {heading!r}"
        assert spec.summary and len(spec.summary) > 10

    def test_cause_is_known(self, spec):
        assert spec.cause is None or spec.cause in CAUSES

    def test_requirements_are_known(self, spec):
        assert set(spec.requires) <= set(registry.REQUIREMENTS)

    def test_skipped_without_inputs(self, spec):
        if not spec.requires:
            pytest.skip("needs nothing")
        _, outcomes = run_checks(Inputs(), [spec])
        assert outcomes[0].status == "skipped"
        assert outcomes[0].reason

    def test_has_tests(self, spec):
        code = spec.code.lower()
        assert any(code in name for name in TEST_FUNCTIONS), f"no test function is named after {spec.code}"

    def test_module_does_not_import_tensorflow(self, spec):
        tree = ast.parse(inspect.getsource(inspect.getmodule(spec.func)))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
        assert not imported & {"tensorflow", "keras", "tf_keras"}


def test_no_check_module_imports_another():
    """A check module imports measurements, never another check module (at module level or inside a function)."""
    modules = set(registry.CHECK_MODULES)
    for name in modules:
        path = Path(importlib.import_module(name).__file__)
        package = name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            targets = {target} | {f"{target}.{a.name}" for a in node.names}
            assert not targets & (modules - {name}), f"{name} imports {targets & modules}"


def test_lookup_by_code_name_and_prefix():
    spec = SPECS[0]
    assert registry.get(spec.code.lower()) is spec
    assert registry.get(spec.name) is spec
    with pytest.raises(KeyError, match="Unknown check"):
        registry.get("XYZ999")
    assert all(s.code.startswith("PRE") for s in registry.select(["PRE"]))
    assert not any(s.code.startswith("PRE") for s in registry.select(None, ["PRE"]))


def test_causes_have_precedence():
    assert set(PRECEDENCE) | {"healthy"} == set(CAUSES)


def test_readme_lists_every_check():
    readme = (TESTS.parent / "README.md").read_text(encoding="utf-8")
    for spec in registry.all_checks():
        cause = f"`{spec.cause}`" if spec.cause else "advice"
        row = f"| `{spec.code}` | {spec.name} | {', '.join(spec.requires) or '-'} | {cause} |"
        assert row in readme, f"README's check table lacks: {row}"
