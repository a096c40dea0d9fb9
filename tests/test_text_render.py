"""What the text renderer prints: code is never cut, a comparison is compact by default, renderers
dispatch on the document's `kind`."""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest

from cifar_doctor import diagnose
from cifar_doctor.findings import Finding, Fix, Severity
from cifar_doctor.registry import all_checks
from cifar_doctor.render import html as html_render
from cifar_doctor.render import markdown, render, text
from cifar_doctor.render.catalog import FENCE, print_explanation
from cifar_doctor.report import DOCUMENT_KINDS, CheckOutcome, Report
from cifar_doctor.sources.logs import read_history
from conftest import SAMPLE
from test_snapshots import LOG, comparison, seed_bug

WIDTHS = (40, 80, 200)

#: A fix snippet with a line longer than any terminal, and a blank line inside.
LONG_SNIPPET = (
    "x_test = x_test.astype('float32') / 255.0  # "
    + "whatever x_train got, x_test gets too; " * 6
    + "\n\nmodel.evaluate(x_test, y_test)"
)


def _text(report, width: int, monkeypatch, **kw) -> str:
    """The text report as a pipe of `width` columns gets it (COLUMNS, no terminal)."""
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    render(report, "text", file=buf, **kw)
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def _reports_with_snippets() -> tuple[Report, ...]:
    """Real reports whose findings carry fix snippets (scale bug, raw inputs, the question's log), and one
    with a snippet longer than any width."""
    data = np.load(SAMPLE, allow_pickle=False)
    x, y, xt, yt = data["x_train"][:400], data["y_train"][:400], data["x_test"][:200], data["y_test"][:200]
    reports = [
        diagnose(x_train=x.astype("float32") / 255, y_train=y, x_test=xt.astype("float32"), y_test=yt),
        diagnose(x_train=x, y_train=y, x_test=xt, y_test=yt),
        diagnose(history=read_history(LOG)),
    ]
    long = Finding(
        "PRE001",
        "train-test-scale-mismatch",
        Severity.ERROR,
        "x_test is raw.",
        fix=Fix("Scale x_test", snippet=LONG_SNIPPET),
    )
    base = seed_bug()
    reports.append(Report(base.verdict, [long], [CheckOutcome("PRE001", "train-test-scale-mismatch", "ran")]))
    return tuple(reports)


def _snippets(report: Report) -> list[str]:
    return [f.fix.snippet for f in report.findings if f.fix is not None and f.fix.snippet]


def test_the_reports_carry_snippets():
    reports = _reports_with_snippets()
    assert all(_snippets(r) for r in reports)
    assert any(len(line) > 80 for r in reports for s in _snippets(r) for line in s.splitlines())


@pytest.mark.parametrize("width", WIDTHS)
def test_fix_snippets_are_printed_whole_at_any_width(monkeypatch, width):
    for report in _reports_with_snippets():
        lines = [ln.rstrip() for ln in _text(report, width, monkeypatch).splitlines()]
        for snippet in _snippets(report):
            for line in snippet.splitlines():
                if line.strip():
                    want = " " * text.SNIPPET_INDENT + line.rstrip()
                    assert want in lines, f"cut at width {width}: {line!r}"


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_details_prints_snippets_whole(monkeypatch, width):
    report = comparison()
    lines = [ln.rstrip() for ln in _text(report, width, monkeypatch, details=True).splitlines()]
    for run in report.runs:
        for snippet in _snippets(run.report):
            for line in snippet.splitlines():
                assert " " * text.SNIPPET_INDENT + line in lines


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("spec", all_checks(), ids=lambda s: s.code)
def test_explain_prints_code_blocks_whole(monkeypatch, width, spec):
    from cifar_doctor.registry import FAMILIES

    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    print_explanation(spec, FAMILIES[spec.family], console=text.make_console(buf))
    lines = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    for block in FENCE.finditer(spec.doc):
        for line in block.group(1).splitlines():
            if line.strip():
                assert " " * text.SNIPPET_INDENT + line.rstrip() in lines, f"{spec.code} at {width}: {line!r}"


def test_markdown_and_html_keep_snippets_whole():
    for report in _reports_with_snippets():
        md, page = markdown.to_markdown(report), html_render.to_html(report)
        for snippet in _snippets(report):
            for line in snippet.splitlines():
                if line.strip():
                    assert "    " + line in md.splitlines()
                    assert html_render.escape(line) in page


def test_compact_comparison_fits_a_screen_per_run(monkeypatch):
    report = comparison()
    compact = _text(report, 80, monkeypatch, details=False).splitlines()
    full = _text(report, 80, monkeypatch, details=True).splitlines()
    assert len(compact) <= 24 * len(report.runs)
    assert len(compact) < len(full) / 2
    assert all(len(ln) <= 80 for ln in compact)
    joined = "\n".join(compact)
    for run in report.runs:  # the verdict with its confidence, each finding with its fix title
        v = run.report.verdict
        assert f"Run {run.name}: {v.cause} (confidence {v.confidence:.2f})" in joined
        for f in run.report.findings:
            line = next(ln for ln in compact if f" {f.code} {f.severity.value}" in ln)
            assert line.strip().startswith(text.SEVERITY_ICON[f.severity.value])
    assert "Fix: Scale x_test exactly like x_train (`x_test / 255`)" in joined
    assert "scale_ratio" not in joined and "Per-epoch results" not in joined  # evidence and tables: --details


def test_first_sentence():
    assert text.first_sentence("A is 2. B is 3.") == "A is 2."
    assert text.first_sentence("Ratio 2.5 here. `x / 255` fixes it.") == "Ratio 2.5 here."
    assert text.first_sentence("No full stop") == "No full stop"


@pytest.mark.parametrize("drawers", [text.DRAW, html_render.TITLES, html_render.BODIES], ids=["text", "title", "body"])
def test_every_kind_has_a_drawer(drawers):
    assert set(drawers) == set(DOCUMENT_KINDS)


def test_kinds_of_documents():
    assert seed_bug().to_dict()["kind"] == "report"
    d = comparison().to_dict()
    assert d["kind"] == "comparison" and {r["report"]["kind"] for r in d["runs"]} == {"report"}


class _NoKind:
    def to_dict(self):
        d = seed_bug().to_dict()
        del d["kind"]
        return d


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_a_document_without_kind_is_refused(fmt):
    with pytest.raises(ValueError, match="kind"):
        render(_NoKind(), fmt, file=io.StringIO())


@pytest.mark.parametrize(
    "args, hint", [([], True), (["--details"], False), (["--format", "json"], False), (["--quiet"], False)]
)
def test_compare_says_on_stderr_where_the_details_are(monkeypatch, capsys, args, hint):
    from test_snapshots import _run_cli

    out = _run_cli(monkeypatch, capsys, comparison, ["compare", "original", "fixed", *args])
    stdout, stderr = out.split("# stdout\n", 1)[1].split("# stderr\n", 1)
    assert ("--details" in stderr) is hint
    assert "--details" not in stdout
