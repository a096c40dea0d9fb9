"""The JSON report lists every flagged item; the text, Markdown and HTML reports show the first few."""

from __future__ import annotations

import io
import json

import numpy as np

from cifar_doctor import findings
from cifar_doctor.api import build_inputs
from cifar_doctor.engine import run
from cifar_doctor.render import render


def _report():
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8)
    x_test = np.concatenate([x_train[:30], rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)])
    inputs = build_inputs(x_train=x_train, y_train=np.arange(60) % 10, x_test=x_test, y_test=np.arange(40) % 10)
    return run(inputs, select_codes=["DUP001"], counterfactual=False)


def test_json_carries_every_duplicate_pair_and_text_a_short_list():
    report = _report()
    (f,) = [f for f in json.loads(report.to_json())["findings"] if f["code"] == "DUP001"]
    assert f["evidence"]["count"] == 30 and len(f["evidence"]["pairs"]) == 30
    assert sorted(p[1] for p in f["evidence"]["pairs"]) == list(range(30))
    assert "listed_up_to" not in f["evidence"]
    for fmt in ("text", "markdown", "html"):
        buf = io.StringIO()
        render(report, fmt, file=buf)
        assert f"and {30 - 8} more" in buf.getvalue(), fmt


def test_listed_cuts_at_the_bound_and_says_so(monkeypatch):
    monkeypatch.setattr(findings, "EVIDENCE_MAX_ITEMS", 4)
    evidence: dict = {}
    assert findings.listed(list(range(10)), evidence) == [0, 1, 2, 3] and evidence == {"listed_up_to": 4}
    evidence = {}
    assert findings.listed([1, 2], evidence) == [1, 2] and evidence == {}
