"""Train recipes side by side and diagnose each run with the engine.

`compare(["original", "fixed"], ...)` loads the data once, then for each recipe:
applies its NumPy pipeline (one float32 copy per split), trains its model
(`cifar_doctor.training.fit.train`) with a live view on stderr, and diagnoses the
run through `cifar_doctor.api.build_inputs` + `cifar_doctor.engine.run` with the
run's data, history and trained model: the data checks, the history checks, the
verdict and, for a proposed data fix, the counterfactual. The returned `Report`
is the first run's, with every run under `extra["runs"]` and a plain-words
`extra["comparison"]` explaining the difference.
"""

from __future__ import annotations

import csv
import gc
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, invalid_value
from ..report import Report
from .fit import HISTORY_KEYS, OP_DETERMINISM_DEFAULT, RunState, train
from .recipes import Recipe, get_recipe

#: Smallest `--limit`: below this a stratified 10-class subset holds at most one
#: image per class, too few for a training curve to mean anything.
MIN_LIMIT = 10

#: Redraws per second of the live view (cheap: it only reads counters).
LIVE_REFRESH_PER_SECOND = 4


@dataclass
class RunSpec:
    """One run to make: a display name and its recipe."""

    name: str
    recipe: Recipe


def parse_limit(value: Any) -> int | None:
    """`limit` as an int >= MIN_LIMIT, or None."""
    if value is None:
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        n = None
    if n is None or n < MIN_LIMIT:
        raise invalid_value("limit", value,
                            expected=f"an integer >= {MIN_LIMIT} (training images, stratified by class)")
    return n


def resolve(names: list[str]) -> list[RunSpec]:
    """Recipes by name or `path.py:function`; repeated names get a `#2` suffix."""
    if not names:
        raise invalid_value("names", [], expected="one or more of original, revised, fixed, keras-example, "
                            "or path/to/file.py:function", received="nothing",
                            hint="e.g. original and fixed")
    specs: list[RunSpec] = []
    seen: dict[str, int] = {}
    for n in names:
        rec = get_recipe(n)
        seen[rec.name] = seen.get(rec.name, 0) + 1
        name = rec.name if seen[rec.name] == 1 else f"{rec.name}#{seen[rec.name]}"
        specs.append(RunSpec(name, rec))
    return specs


def check_save_dir(save: Path | None) -> None:
    """Refuse an existing non-empty `save` directory (never overwrite a user's files)."""
    if save is None:
        return
    if save.exists() and not save.is_dir():
        raise UsageError("Cannot save into {arg}", expected="a new or empty directory",
                         received=f"{save} (an existing file)", param="save")
    if save.is_dir() and any(save.iterdir()):
        raise UsageError("Refusing to write into a non-empty directory ({arg})",
                         expected="a new or empty directory", received=str(save), param="save",
                         hint="Pick another directory; cifar-doctor never overwrites existing files")


# --- live view --------------------------------------------------------------------------

class LiveView:
    """Progress per run and a side-by-side per-epoch table, on stderr.

    On a terminal: a Rich Live display redrawn a few times a second from the
    `RunState`s. Elsewhere (a pipe, a CI log): one plain line per epoch.
    """

    def __init__(self, states: list[RunState], console: Any = None, enabled: bool = True) -> None:
        from rich.console import Console

        self.states = states
        self.console = console or Console(file=sys.stderr, highlight=False)
        self.enabled = enabled
        self.live = None

    # renderables are rebuilt on each refresh: Rich calls __rich__
    def __rich__(self) -> Any:
        from rich.console import Group

        return Group(self.progress_table(), self.epoch_table())

    def progress_table(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        t = Table.grid(padding=(0, 1))
        for _ in range(6):
            t.add_column(no_wrap=True)
        for s in self.states:
            total = max(s.epochs * s.steps, 1)
            done = min(s.epoch * s.steps + (s.step if s.phase == "training" else 0), total)
            if s.phase == "done":
                done = total
            ips = s.images_per_second()
            eta = s.eta_seconds()
            t.add_row(
                f"[bold]{s.name}[/]",
                f"epoch {min(s.epoch + (1 if s.phase in ('training', 'validating') else 0), s.epochs)}/{s.epochs}",
                ProgressBar(total=total, completed=done, width=28),
                f"{ips:,.0f} img/s" if ips else "",
                f"ETA {_hms(eta)}" if eta is not None else "",
                f"[dim]{s.phase}{' · ' + s.note if s.note else ''}[/]",
            )
        return t

    def epoch_table(self) -> Any:
        return epoch_table(self.states)

    def start(self) -> "LiveView":
        if self.enabled and self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self, console=self.console, refresh_per_second=LIVE_REFRESH_PER_SECOND,
                             transient=False, redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        return self

    def stop(self) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()
            self.live = None

    def epoch_done(self, s: RunState) -> None:
        """Plain per-epoch line when there is no live display."""
        if self.live is not None or not self.enabled:
            return
        h = s.history
        parts = [f"{s.name}: epoch {s.epoch}/{s.epochs}"]
        for key in HISTORY_KEYS:
            if h.get(key):
                parts.append(f"{key} {h[key][-1]:.4g}")
        parts.append(f"{s.epoch_seconds[-1]:.1f}s")
        self.console.print(" - ".join(parts), highlight=False, soft_wrap=True)

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False, soft_wrap=True)


def epoch_table(states: list[RunState]) -> Any:
    """One row per epoch, one column group (acc, val acc, val loss) per run."""
    from rich.table import Table

    t = Table(title="Per-epoch results", title_justify="left", expand=False, pad_edge=False)
    t.add_column("epoch", justify="right")
    for s in states:
        for label in ("acc", "val acc", "val loss"):
            t.add_column(f"{s.name}\n{label}", justify="right")
    rows = max((max(s.epochs, s.epoch) for s in states), default=0)
    for i in range(rows):
        row = [str(i + 1)]
        for s in states:
            h = s.history
            for key in ("accuracy", "val_accuracy", "val_loss"):
                vals = h.get(key, [])
                row.append(_fmt(vals[i]) if i < len(vals) else ("·" if i < s.epochs else ""))
        t.add_row(*row)
    return t


def _fmt(v: float) -> str:
    if v != v:
        return "nan"
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.4g}"


def _hms(sec: float) -> str:
    sec = int(round(sec))
    return f"{sec // 3600}:{sec % 3600 // 60:02d}:{sec % 60:02d}"


# --- per-epoch judgement (--until-verdict) -------------------------------------------------

class VerdictWatch:
    """`until_verdict`: stop a run once its live `Session` says the verdict is certain.

    The session runs the engine on the run's data and its history so far (no
    model, so no counterfactual: that is measured once at the end). Certain
    means the same cause, supported by an error-level finding, on
    `CONFIRMING_EPOCHS` consecutive epochs.
    """

    def __init__(self, inputs: Any) -> None:
        from ..session import Session

        self.session = Session(inputs)
        self.stopped: dict[str, Any] | None = None

    def __call__(self, state: RunState) -> bool:
        from ..sources.logs import history_from_dict

        if self.stopped is not None:  # already decided; Keras is finishing the epoch
            return True
        state.phase = "diagnosing"
        update = self.session.update(history_from_dict({k: list(v) for k, v in state.history.items()},
                                                       source=f"compare:{state.name}"))
        state.phase = "training"
        cause = update.certain
        if cause is None or state.epoch >= state.epochs:
            return False
        per_epoch = sum(state.epoch_seconds) / len(state.epoch_seconds)
        saved = state.epochs - state.epoch
        self.stopped = {
            "after_epoch": state.epoch,
            "planned_epochs": state.epochs,
            "epochs_saved": saved,
            "seconds_saved_estimate": round(per_epoch * saved, 1),
            "cause": cause,
            "codes": sorted({f.code for f in update.report.findings if f.cause == cause}),
            "reason": f"verdict {cause} (error-level) on {update.streak} consecutive epochs",
        }
        state.note = f"verdict certain: {cause}; {saved} epochs saved"
        return True


# --- the comparison -----------------------------------------------------------------------

def load_arrays(data: Path | None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The raw arrays from `--data` (same sources as `check`), else CIFAR-10 with its offline fallback."""
    from ..sources.datasets import load_cifar10, load_data_path

    loaded = load_data_path(data) if data is not None else load_cifar10()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        if key not in loaded.arrays:
            from ..errors import InputError

            raise InputError("The data has no " + key, expected="x_train, y_train, x_test and y_test",
                             received=", ".join(sorted(loaded.arrays)) or "no arrays")
    return loaded.arrays, loaded.description


def compare(
    names: list[str],
    *,
    epochs: int | None = None,
    limit: Any = None,
    batch_size: int | None = None,
    seed: int = 0,
    deterministic: bool = OP_DETERMINISM_DEFAULT,
    data: Path | None = None,
    until_verdict: bool = False,
    save: Path | None = None,
    console: Any = None,
    live: bool = True,
) -> Report:
    """Train each recipe and diagnose each run; return the comparison `Report`.

    Args:
        names: Recipe names or `path.py:function` user recipes.
        epochs: Epochs per run. Defaults to `None` (each recipe's own).
        limit: Stratified training subset size (also caps the test split). Defaults to `None` (all).
        batch_size: Batch size for every run. Defaults to `None` (each recipe's own).
        seed: Seed for the subset, the weights and the shuffling. Defaults to `0`.
        deterministic: Also enable TensorFlow op determinism. Defaults to `False`.
        data: A data path as for `check --data`. Defaults to `None` (CIFAR-10 from the
            Keras cache, else download, else the bundled sample with a notice).
        until_verdict: Stop each run once its verdict is certain. Defaults to `False`.
        save: A new or empty directory for per-run artifacts. Defaults to `None`.
        console: Rich console for progress (stderr). Defaults to `None`.
        live: Show progress. Defaults to `True`.

    Returns:
        The first run's `Report`, with `extra["runs"]` and `extra["comparison"]`.
    """
    limit = parse_limit(limit)
    for param, v in (("epochs", epochs), ("batch_size", batch_size)):
        if v is not None and v < 1:
            raise invalid_value(param, v, expected="a positive integer")
    specs = resolve(names)
    check_save_dir(save)
    raw, description = load_arrays(data)
    states = [RunState(s.name, epochs=int(epochs or s.recipe.epochs)) for s in specs]
    view = LiveView(states, console=console, enabled=live)
    runs: list[dict[str, Any]] = []
    reports: list[Report] = []
    view.start()
    try:
        for spec, state in zip(specs, states):
            run_dict, report, trained = _one_run(spec, state, raw, description, view, epochs=epochs, limit=limit,
                                                 batch_size=batch_size, seed=seed, deterministic=deterministic,
                                                 until_verdict=until_verdict)
            runs.append(run_dict)
            reports.append(report)
            if save is not None:
                _save_run(save, spec.name, run_dict, report, trained.model)
            del trained
            gc.collect()
    finally:
        view.stop()
    final = reports[0]
    final.extra["runs"] = runs
    final.extra["comparison"] = comparison(runs)
    if save is not None:
        (save / "report.json").write_text(final.to_json() + "\n")
        from ..render.markdown import to_markdown

        (save / "report.md").write_text(to_markdown(final))
    return final


def _one_run(spec: RunSpec, state: RunState, raw: dict[str, np.ndarray], description: dict[str, Any],
             view: LiveView, *, epochs: int | None, limit: int | None, batch_size: int | None, seed: int,
             deterministic: bool, until_verdict: bool) -> tuple[dict[str, Any], Report, Any]:
    from ..api import build_inputs
    from ..engine import run

    state.phase = "preparing"
    arrays = spec.recipe.preprocess(raw, limit=limit, seed=seed)
    loss = spec.recipe.loss if isinstance(spec.recipe.loss, str) else None
    sources = {"data": description, "recipe": spec.recipe.name}
    watch = None
    if until_verdict:
        watch = VerdictWatch(build_inputs(x_train=arrays["x_train"], y_train=arrays["y_train"],
                                          x_test=arrays["x_test"], y_test=arrays["y_test"], loss=loss,
                                          sources=sources))

    def on_epoch(s: RunState) -> bool:
        stop = watch(s) if watch is not None else False
        view.epoch_done(s)
        return stop

    t0 = time.perf_counter()
    trained = train(spec.recipe, arrays, epochs=epochs, batch_size=batch_size, seed=seed,
                    deterministic=deterministic, state=state, on_epoch=on_epoch)
    state.phase = "diagnosing"
    history = {k: v for k, v in trained.history.items()}
    inputs = build_inputs(x_train=arrays["x_train"], y_train=arrays["y_train"], x_test=arrays["x_test"],
                          y_test=arrays["y_test"], model=trained.model, loss=loss, history=history,
                          sources=sources)
    report = run(inputs)
    seconds = time.perf_counter() - t0
    state.phase = "done"
    ratio = _scale_ratio(inputs)
    stopped = watch.stopped if watch is not None else None
    run_dict = {
        "name": spec.name,
        "recipe": spec.recipe.name,
        "doc": spec.recipe.doc,
        "settings": dict(trained.settings, limit=limit),
        "history": {k: history[k] for k in HISTORY_KEYS if k in history}
        | {k: v for k, v in history.items() if k not in HISTORY_KEYS},
        "epochs_run": trained.epochs_run,
        "verdict": report.verdict.to_dict(),
        "findings": report.codes(),
        "counts": {k: report.summary[k] for k in ("errors", "warnings", "infos")},
        "counterfactuals": [c.to_dict() for c in report.counterfactuals],
        "eval_to_train_scale": ratio,
        "expected": spec.recipe.expected,
        "seconds": round(seconds, 1),
        "train_seconds": round(trained.seconds, 1),
        "stopped_early": stopped,
    }
    if stopped:
        view.message(f"{spec.name}: stopped after epoch {stopped['after_epoch']}/{stopped['planned_epochs']}: "
                     f"{stopped['reason']}; saved {stopped['epochs_saved']} epochs, about "
                     f"{stopped['seconds_saved_estimate']:.0f} s.")
    del arrays, inputs
    return run_dict, report, trained


def _scale_ratio(inputs: Any) -> float | None:
    """How many times larger the test inputs are than the training inputs (1.0 when scaled alike)."""
    from ..stats import scale_ratio

    train, test = inputs.splits.get("train"), inputs.splits.get("test")
    if train is None or test is None or train.stats is None or test.stats is None:
        return None
    ratio = scale_ratio(train.stats, test.stats)
    return round(ratio, 1) if ratio is not None else None


# --- the plain-words comparison -------------------------------------------------------------

def describe_run(r: dict[str, Any]) -> str:
    """One plain sentence on a run: its verdict, in the terms of its own numbers."""
    v = r["verdict"]
    cause = v["cause"]
    h = r.get("history", {})
    acc, vacc = h.get("accuracy") or [], h.get("val_accuracy") or []
    final = f"train {acc[-1]:.2f}, test {vacc[-1]:.2f}" if acc and vacc else ""
    cfs = [c for c in r.get("counterfactuals", []) if c.get("after")]
    if cause == "healthy":
        return f"{r['name']}: healthy, test accuracy {vacc[-1]:.2f}" + (f" (train {acc[-1]:.2f})" if acc else "") \
            if vacc else f"{r['name']}: healthy"
    from ..diagnosis import CAUSES

    parts = []
    if cause in ("eval-input-scale-mismatch", "input-not-normalized", "label-format-mismatch",
                 "input-layout-mismatch", "output-loss-mismatch") and vacc:
        parts.append("not overfitting")
    ratio = r.get("eval_to_train_scale")
    if cause == "eval-input-scale-mismatch" and ratio and ratio > 1.5:
        parts.append(f"test images are {ratio:.0f}x larger than training images")
    elif cause == "eval-input-scale-mismatch" and ratio and ratio < 1 / 1.5:
        parts.append(f"test images are {1 / ratio:.0f}x smaller than training images")
    else:
        parts.append(f"{cause} ({CAUSES.get(cause, '')})")
    for c in cfs[:1]:
        expr = c.get("transform", {}).get("expression") or "the fix"
        parts.append(f"the same trained model scores {c['after']['accuracy']:.2f} on test images with {expr} "
                     f"(against {c['before']['accuracy']:.2f} as given)")
    if final and not cfs:
        parts.append(final)
    return f"{r['name']}: " + "; ".join(parts)


def comparison(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The plain-words summary of a comparison, with each run's line and the best test accuracy."""
    lines = [describe_run(r) for r in runs]
    best = None
    for r in runs:
        vacc = (r.get("history") or {}).get("val_accuracy") or []
        if vacc and (best is None or vacc[-1] > best[1]):
            best = (r["name"], vacc[-1])
    note = ""
    bugs = [r for r in runs if r["verdict"]["cause"] not in ("healthy", "overfitting", "underfitting",
                                                              "insufficient-evidence")]
    healthy = [r for r in runs if r["verdict"]["cause"] == "healthy"]
    if bugs and healthy:
        b = bugs[0]
        note = (f"The gap in {b['name']} comes from its pipeline ({b['verdict']['cause']}), "
                f"not from its model: {healthy[0]['name']} shows what a correct pipeline gives.")
    text = "; ".join(lines) + "." + (" " + note if note else "")
    return {"summary": text, "runs": lines, "note": note or None,
            "best": {"name": best[0], "val_accuracy": round(best[1], 4)} if best else None}


# --- --save ---------------------------------------------------------------------------------

def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "run"


def _save_run(root: Path, name: str, run_dict: dict[str, Any], report: Report, model: Any) -> None:
    """Per run: history CSV and JSON, the model (.keras), the run's report, curves PNG when possible."""
    d = root / _safe_name(name)
    d.mkdir(parents=True, exist_ok=False)
    h = run_dict["history"]
    keys = list(h)
    n = max((len(v) for v in h.values()), default=0)
    with open(d / "history.csv", "x", newline="") as fh:  # CSVLogger layout: epoch first
        w = csv.writer(fh)
        w.writerow(["epoch", *keys])
        for i in range(n):
            w.writerow([i, *[h[k][i] if i < len(h[k]) else "" for k in keys]])
    with open(d / "history.json", "x") as fh:
        json.dump(h, fh, indent=2)
    model.save(d / "model.keras")
    with open(d / "report.json", "x") as fh:
        fh.write(report.to_json() + "\n")
    from .plot import save_curves

    save_curves(h, d / "curves.png", title=name)
