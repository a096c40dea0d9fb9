"""examples/notebook.ipynb runs in a real Jupyter kernel: reports and live alerts show as HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat (pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient (pip install -e '.[test]')")
pytest.importorskip("ipykernel", reason="needs ipykernel (pip install -e '.[test]')")

pytestmark = [pytest.mark.training, pytest.mark.tf, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebook.ipynb"


@pytest.fixture
def kernel_name(tmp_path, monkeypatch):
    """A kernelspec running this very Python (the venv's), found before any other one installed."""
    spec = tmp_path / "jupyter" / "kernels" / "cifar-doctor-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "cifar-doctor test",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # connection files: not in $HOME
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    return "cifar-doctor-test"


def _outputs(nb, tag: str) -> list:
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r}"
    return cells[0].outputs


def _html(outputs) -> list[str]:
    return [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]


def test_notebook_runs_and_shows_html(tmp_path, kernel_name):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name=kernel_name, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()

    check = _outputs(nb, "data-check")
    assert [o.output_type for o in check] == ["execute_result"]  # the report alone, no stray Rich output
    assert "eval-input-scale-mismatch" in _html(check)[0] and "PRE001" in _html(check)[0]
    assert "Verdict" in check[0]["data"]["text/plain"]

    training = _outputs(nb, "training")
    alerts = _html(training)
    assert alerts and "PRE001" in alerts[0] and "before the first batch" in alerts[0]
    stderr = "".join(o.get("text", "") for o in training if o.output_type == "stream")
    assert "cifar-doctor" not in stderr  # the live warnings are HTML, not terminal text

    report = _html(_outputs(nb, "report"))
    assert len(report) == 1 and report[0].count("<svg") == 2 and "Measured" in report[0]

    verdict = _outputs(nb, "verdict")
    assert verdict[0]["data"]["text/plain"] == "'eval-input-scale-mismatch'"

    fix = "".join(o.get("text", "") for o in _outputs(nb, "fix"))
    assert "verdict after the fix: healthy" in fix
