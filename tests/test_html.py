"""The HTML report: one self-contained page, curves as inline SVG, every user string escaped."""

from __future__ import annotations

import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cifar_doctor.render.html import html_fragment, to_html

LOGS = Path(__file__).parent / "fixtures" / "logs"
SEED_LOG = LOGS / "seed-question-run1-keras2.txt"
HOSTILE = "<img src=x onerror=alert(1)>"


class Page(HTMLParser):
    """The tags, attributes and text of a page, as a browser's tokenizer sees them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False if tag == "style" else self._in_style

    def handle_data(self, data):
        if not self._in_style:
            self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


def assert_self_contained(text: str) -> Page:
    page = Page(text)
    assert "script" not in page.tags
    assert not {"img", "link", "iframe", "object", "embed"} & set(page.tags)
    assert not [(k, v) for k, v in page.attrs if k.startswith("on")], "an event handler attribute"
    assert not [(k, v) for k, v in page.attrs if "://" in v], "a URL in an attribute"
    assert "url(" not in text and "@import" not in text
    return page


def _check_report(history=None):
    from cifar_doctor import diagnose

    return diagnose(history=history if history is not None else str(SEED_LOG))


def test_check_report_page():
    page = assert_self_contained(to_html(_check_report()))
    assert page.tags.count("svg") == 2  # accuracy and loss
    assert page.tags[:2] == ["html", "head"]
    assert "eval-input-scale-mismatch" in page.all_text
    assert "LOG001" in page.all_text
    assert "verdict (epoch 5)" in page.all_text  # the epoch the verdict was read at, marked on the charts
    assert "Fix:" in page.all_text and "x_test" in page.all_text


def test_report_without_history_has_no_chart():
    import numpy as np

    from cifar_doctor import diagnose

    rng = np.random.default_rng(0)
    x = rng.random((40, 8, 8, 3), dtype=np.float32)
    report = diagnose(x_train=x, y_train=np.arange(40) % 10, x_test=x * 255, y_test=np.arange(40) % 10)
    page = assert_self_contained(to_html(report))
    assert page.tags.count("svg") == 0
    assert "PRE001" in page.all_text
    assert "Inputs read" in page.all_text


def test_hostile_metric_name_is_escaped():
    history = {
        "loss": [2.0, 1.5],
        "accuracy": [0.3, 0.5],
        "val_loss": [2.1, 1.9],
        "val_accuracy": [0.3, 0.4],
        HOSTILE: [1.0, 2.0],
    }
    text = to_html(_check_report(history))
    page = assert_self_contained(text)
    assert HOSTILE in page.all_text  # shown, as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_hostile_file_name_is_escaped(tmp_path, monkeypatch, capsys):
    from cifar_doctor.cli.app import main

    log = tmp_path / "<svg onload=alert(1)>.txt"
    shutil.copy(SEED_LOG, log)
    with pytest.raises(SystemExit) as exc:
        main(["check", "--log", str(log), "--format", "html"])
    out = capsys.readouterr().out
    assert exc.value.code == 1
    page = assert_self_contained(out)
    assert "<svg onload=alert(1)>.txt" in page.all_text
    assert page.tags.count("svg") == 2  # the charts, and no third one from the file name


def test_comparison_page():
    from test_snapshots import comparison

    text = to_html(comparison())
    page = assert_self_contained(text)
    assert page.tags.count("svg") == 2  # both runs overlaid on one accuracy and one loss chart
    for name in ("original train", "original val", "fixed train", "fixed val"):
        assert name in page.all_text
    assert "eval-input-scale-mismatch" in page.all_text and "healthy" in page.all_text
    assert "PRE001" in page.all_text and "LOG001" in page.all_text
    assert "val with x_test / 255" in page.all_text  # the measured counterfactual, marked on the chart
    assert "Runs" in page.all_text and "Per-epoch results" in page.all_text


def test_fragment_is_one_div_with_its_style():
    page = Page(html_fragment(_check_report()))
    assert page.tags[:2] == ["div", "style"]
    assert "html" not in page.tags and "body" not in page.tags


def test_log_scale_for_a_loss_spanning_decades():
    history = {
        "loss": [2.0, 1.0, 0.5],
        "val_loss": [60.0, 80.0, 90.0],
        "accuracy": [0.3, 0.5, 0.6],
        "val_accuracy": [0.2, 0.2, 0.2],
    }
    page = Page(to_html(_check_report(history)))
    assert "loss (log scale)" in page.all_text
    calm = {k: [min(v, 3.0) for v in vals] for k, vals in history.items()}
    assert "loss (log scale)" not in Page(to_html(_check_report(calm))).all_text


def test_reports_render_as_html_in_jupyter():
    from test_snapshots import comparison

    for report, expected in ((_check_report(), "eval-input-scale-mismatch"), (comparison(), "fixed val")):
        bundle = report._repr_mimebundle_()
        assert set(bundle) == {"text/html", "text/plain"}
        page = assert_self_contained(bundle["text/html"])
        assert page.tags[0] == "div" and "html" not in page.tags
        assert expected in page.all_text
        assert "\x1b[" not in bundle["text/plain"] and bundle["text/plain"].strip()
        assert report._repr_html_() == bundle["text/html"]


def _fake_ipython(monkeypatch, kernel: bool) -> list[str]:
    """An IPython module whose shell has a kernel (Jupyter) or not (the terminal IPython); records displays."""
    import types

    shown: list[str] = []
    shell = types.SimpleNamespace(kernel=object() if kernel else None)
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    display = types.ModuleType("IPython.display")
    display.display = lambda bundle, raw=False: shown.append(bundle["text/html"])
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def _seed_alert_args():
    report = _check_report()
    return report.findings, report.verdict


def test_live_alert_in_a_notebook_is_an_html_block(monkeypatch, capsys):
    from cifar_doctor.render.live import print_alert, print_notice

    shown = _fake_ipython(monkeypatch, kernel=True)
    findings, verdict = _seed_alert_args()
    print_alert(findings, verdict, epoch=1, action="Training goes on.")
    print_notice("a <b>notice</b>")
    assert capsys.readouterr().err == ""  # nothing terminal-styled on stderr
    assert len(shown) == 2
    page = assert_self_contained(shown[0])
    assert "LOG001" in page.all_text and "eval-input-scale-mismatch" in page.all_text
    assert "after epoch 1" in page.all_text and "Training goes on." in page.all_text
    assert "a <b>notice</b>" in Page(shown[1]).all_text  # escaped, shown as text
    assert Page(shown[1]).tags == ["div", "b"]  # the "cifar-doctor:" label only


@pytest.mark.parametrize("ipython", ["absent", "terminal"])
def test_live_alert_outside_a_notebook_stays_on_stderr(monkeypatch, capsys, ipython):
    from cifar_doctor.render.live import print_alert

    if ipython == "absent":
        monkeypatch.delitem(sys.modules, "IPython", raising=False)
        shown: list[str] = []
    else:
        shown = _fake_ipython(monkeypatch, kernel=False)
    findings, verdict = _seed_alert_args()
    print_alert(findings, verdict, epoch=1)
    err = capsys.readouterr().err
    assert "cifar-doctor ✖ LOG001 saturated-eval-loss" in err and "<div" not in err
    assert shown == []
    if ipython == "absent":
        assert "IPython" not in sys.modules  # not imported to find out


@pytest.mark.parametrize("log", sorted(p.name for p in LOGS.iterdir() if p.suffix in (".txt", ".csv", ".json")))
def test_every_fixture_log_renders(log):
    page = assert_self_contained(to_html(_check_report(str(LOGS / log))))
    assert page.tags.count("svg") == 2
