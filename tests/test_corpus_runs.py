"""The generated corpus (bench/corpus): the grid's coverage, and three tiny real runs end to end.

The end-to-end test trains three tiny specs on the bundled sample (never ../shared), packs them,
loads them back, renders every log shape and reads each with cifar_doctor's log reader, and
rebuilds the arrays as fed.
"""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench.corpus import data as corpus_data
from bench.corpus.grid import CAUSES_INJECTED, GRID, KINDS, PIPELINE
from bench.corpus.shapes import SHAPES
from bench.corpus.spec import (
    DataSpec,
    Injection,
    ModelSpec,
    RunSpec,
    Split,
    TrainSpec,
    Truth,
    spec_from_dict,
)

#: Truth ids that are not (yet) in cifar_doctor's cause vocabulary.
NEW_CAUSES = {"noisy-labels", "metric-not-applicable"}


def test_grid_covers_causes_shapes_and_families():
    from cifar_doctor.diagnosis import CAUSES

    assert len(GRID) >= 400
    assert len({s.run_id for s in GRID}) == len(GRID)
    assert set(CAUSES_INJECTED) <= {s.cause for s in GRID}
    assert set(SHAPES) <= {sh for s in GRID for sh in s.shapes}
    assert len({s.family for s in GRID}) >= 10
    assert {s.severity for s in GRID} == {"none", "mild", "gross"}
    for s in GRID:
        t = s.truth
        ids = set(t.expected) | set(t.also_acceptable) | set(t.must_not)
        assert ids <= set(CAUSES) | NEW_CAUSES, (s.kind, ids - set(CAUSES))
        assert not set(t.expected) & set(t.must_not), s.kind
        assert spec_from_dict(s.to_dict()) == s
    counts = Counter(s.kind for s in GRID)
    assert counts == {k: v.count for k, v in KINDS.items()}


def test_a_fresh_draw_has_every_kind_and_no_run_of_the_corpus():
    from bench.corpus.grid import build_grid

    fresh = build_grid(1)
    assert Counter(s.kind for s in fresh) == Counter(s.kind for s in GRID)
    assert not {s.run_id for s in fresh} & {s.run_id for s in GRID}
    assert [s.run_id for s in build_grid(1)] == [s.run_id for s in fresh]  # the same on every machine


def test_pipeline_bugs_never_accept_healthy_or_overfitting():
    """A gross pipeline bug forbids `healthy` and `overfitting`; genuine overfitting forbids pipeline verdicts."""
    pipeline = (
        "eval-input-scale-mismatch",
        "label-format-mismatch",
        "eval-labels-misaligned",
        "output-loss-mismatch",
        "eval-distribution-shift",
        "train-test-leakage",
        "numerical-instability",
    )
    for s in GRID:
        if s.severity == "gross" and s.cause in pipeline:
            assert "healthy" in s.truth.must_not, s.kind
        if s.severity == "gross" and s.cause in ("eval-input-scale-mismatch", "eval-labels-misaligned"):
            assert "overfitting" in s.truth.must_not, s.kind
        if s.cause in ("overfitting", "healthy"):
            assert {"eval-input-scale-mismatch", "input-not-normalized"} <= set(s.truth.must_not), s.kind
        if s.cause == "healthy":
            assert set(PIPELINE) <= set(s.truth.must_not), s.kind


def test_trials_score_only_inputs_that_can_show_the_bug():
    """A log shape is scored only where it can carry the evidence: no trial where the bug lives in a line the
    shape lacks, and abstaining is right where a log without validation meets a validation-side cause."""
    from bench.corpus.load import load_runs
    from bench.corpus.score import (
        LOG_BLIND_KINDS,
        NO_EVALUATE_SHAPES,
        VALIDATION_SIDE_CAUSES,
        effective_truth,
        plan,
    )

    runs = load_runs()
    trials = [t for run in runs for t in plan(run, ("log",))]
    assert trials
    assert not [t for t in trials if t.kind in LOG_BLIND_KINDS]
    evaluate_only = {r.kind for r in runs if r.truth["detectable_from"].get("history") is False}
    assert evaluate_only
    assert not [t for t in trials if t.kind in evaluate_only and t.source in NO_EVALUATE_SHAPES]
    truth = {r.run_id: {*t["expected"], *t.get("also_acceptable", [])} for r in runs for t in [effective_truth(r)[1]]}
    steps = [t for t in trials if t.source == "per-step"]
    assert {t.cause for t in steps} & VALIDATION_SIDE_CAUSES and {t.cause for t in steps} - VALIDATION_SIDE_CAUSES
    for t in trials:
        added = t.source == "per-step" and t.cause in VALIDATION_SIDE_CAUSES
        assert set(t.accepted) == truth[t.run_id] | ({"insufficient-evidence"} if added else set()), (t.kind, t.source)


def test_reprint_scores_each_log_once_as_users_print_and_paste_it():
    """`score.py --reprint 2` renders every run's log once, as a custom loop printing two places, and the
    package reads that printout back at its step; `--reprint tail` pastes the console from its middle."""
    from bench.corpus.load import load_runs, render_log
    from bench.corpus.score import plan
    from bench.corpus.shapes import REPRINT_MIN_EPOCHS, REPRINT_SHAPES
    from cifar_doctor.measure.history import accuracy_step
    from cifar_doctor.sources.logs import read_history

    run = next(r for r in load_runs() if plan(r, ("log",)))
    trials = plan(run, ("log",), reprint="2")
    assert [t.source for t in trials] == [REPRINT_SHAPES["2"]]
    text = render_log(run, REPRINT_SHAPES["2"])
    assert isinstance(text, str) and "train_acc=" in text
    values = [v for line in text.splitlines() for v in line.split() if "=" in v]
    assert values and all(len(v.split("=")[1].split(".")[1]) == 2 for v in values)
    assert accuracy_step(read_history(io.StringIO(text))) == pytest.approx(0.01)
    # `--reprint tail`: the console pasted from the epoch after its first half, on runs long enough for it
    long = next(r for r in load_runs() if plan(r, ("log",)) and len(r.history["loss"]) >= 8)
    epochs = len(long.history["loss"])
    pasted = render_log(long, REPRINT_SHAPES["tail"])
    assert isinstance(pasted, str) and pasted.startswith(f"Epoch {epochs // 2 + 1}/{epochs}\n")
    assert read_history(io.StringIO(pasted)).index[0] == epochs // 2 + 1
    short = next(r for r in load_runs() if plan(r, ("log",)) and len(r.history["loss"]) < REPRINT_MIN_EPOCHS["tail"])
    assert plan(short, ("log",), reprint="tail") == []
    # `--reprint restored`: evaluate() repeats the best epoch's validation numbers, on runs without a bug
    history = read_history(io.StringIO(render_log(long, REPRINT_SHAPES["restored"])))
    best = min(range(len(history.val_loss)), key=history.val_loss.__getitem__)
    assert history.evaluations[-1]["loss"] == pytest.approx(history.val_loss[best], abs=1e-4)
    bug = next(r for r in load_runs() if plan(r, ("log",)) and r.cause == "eval-input-scale-mismatch")
    assert plan(bug, ("log",), reprint="restored") == []
    # `cut`, `every5`, `chatter`, `renamed`: each read back as the same run, with what it left out or added
    longest = max((r for r in load_runs() if plan(r, ("log",))), key=lambda r: len(r.history["loss"]))
    epochs = len(longest.history["loss"])
    cut = read_history(io.StringIO(render_log(longest, REPRINT_SHAPES["cut"])))
    assert cut.index == [1, 2, 3, epochs - 2, epochs - 1, epochs]
    every5 = read_history(io.StringIO(render_log(longest, REPRINT_SHAPES["every5"])))
    assert every5.index == [1, *range(5, epochs + 1, 5)]
    chatter = render_log(longest, REPRINT_SHAPES["chatter"])
    assert "WARNING:tensorflow" in chatter and read_history(io.StringIO(chatter)).epochs == epochs
    wrapped = render_log(longest, REPRINT_SHAPES["wrapped"])
    assert max(len(line) for line in wrapped.splitlines()) <= 80
    assert (
        read_history(io.StringIO(wrapped)).metrics == read_history(io.StringIO(render_log(longest, "keras2"))).metrics
    )
    terminal = render_log(longest, REPRINT_SHAPES["terminal"])
    assert max(len(line) for line in terminal.splitlines()) == 80
    assert (
        read_history(io.StringIO(terminal)).metrics == read_history(io.StringIO(render_log(longest, "keras2"))).metrics
    )
    # each run's console at a width of its own, no preset's: the longest run's lines are shorter than its
    # width, so the first runs are read too
    cut_runs = 0
    for run in [longest, *[r for r in load_runs() if plan(r, ("log",))][:12]]:
        anywhere, whole = render_log(run, REPRINT_SHAPES["terminal-any"]), render_log(run, "keras2")
        cut_runs += anywhere != whole
        read = (read_history(io.StringIO(text)).metrics for text in (anywhere, whole))
        assert repr(next(read)) == repr(next(read))  # NaN losses of a diverged run compare as printed
    assert cut_runs >= 6
    for variant, made in (("quoted", "keras2"), ("stamped", "keras3-v2")):
        text = render_log(longest, REPRINT_SHAPES[variant])
        assert all(line.startswith(("> ", "2024-")) for line in text.splitlines())
        assert read_history(io.StringIO(text)).metrics == read_history(io.StringIO(render_log(longest, made))).metrics
    renamed = read_history(io.StringIO(render_log(longest, REPRINT_SHAPES["renamed"])))
    assert "sparse_top_k_categorical_accuracy" in renamed.metrics and renamed.acc == pytest.approx(
        longest.history["accuracy"], abs=1e-4
    )


def test_overfitting_called_healthy_is_a_miss_not_a_forbidden_verdict():
    """Forbidden is a wrong fix (a pipeline bug called overfitting or healthy, overfitting called a bug); calling
    overfitting healthy is a miss (unless the curves never showed it), and every pipeline verdict stays
    forbidden for an overfitting run."""
    from bench.corpus.grid import PIPELINE
    from bench.corpus.load import load_runs
    from bench.corpus.score import overfitting_never_showed, plan

    runs = [run for run in load_runs() if run.cause == "overfitting"]
    trials = [t for run in runs for t in plan(run, ("log",))]
    assert trials
    never = {run.run_id for run in runs if overfitting_never_showed(run)}
    assert 0 < len(never) < len(runs) / 5  # a few: most overfitting runs turn
    for t in trials:
        assert "healthy" not in t.forbidden and ("healthy" in t.accepted) == (t.run_id in never)
        assert set(PIPELINE) <= set(t.forbidden)


def test_a_layer_bug_without_its_layer_is_scored_as_the_correct_run_it_is():
    """`bn-inference-gap` needs BatchNormalization: the grid builds it only on images small enough for the
    BatchNorm models, and a packed run whose model lacks the layer is scored with the `healthy` truth."""
    import copy

    from bench.corpus.load import CorpusRun, load_runs
    from bench.corpus.score import NEEDS_LAYER, bn_gap_opened, plan

    layered = NEEDS_LAYER["bn-inference-gap"]
    specs = [s for s in GRID if s.kind == "bn-inference-gap"]
    assert specs and all(s.model.kind in layered for s in specs)
    run = next(r for r in load_runs() if r.kind == "bn-inference-gap" and bn_gap_opened(r) is not False)
    as_built = plan(run, ("log",))
    assert as_built and all("healthy" in t.forbidden and t.cause == "regularization-gap" for t in as_built)
    record = copy.deepcopy(run.record)
    record["spec"]["model"]["kind"] = "cnn"
    plain = plan(CorpusRun(record), ("log", "data"))
    healthy = KINDS["healthy"]
    assert [t.source for t in plain if t.source == "data"] == ["data"]  # a correct run's data shows it too
    for t in plain:
        assert t.cause == "healthy"
        assert "healthy" in t.accepted and "healthy" not in t.forbidden
        assert set(t.forbidden) == set(healthy.must_not)


def test_a_measured_batchnorm_gap_decides_a_runs_truth(monkeypatch):
    """The kept model's accuracy with batch statistics against its moving statistics (`effects.bn_gap`):
    a correct run whose gap opened is scored as the gap, a `bn-inference-gap` run whose gap never opened
    as the correct run it is, and a run without the measurement as packed."""
    from bench.corpus import score
    from bench.corpus.load import load_runs

    runs = load_runs()
    healthy = next(r for r in runs if r.kind == "healthy")
    bn = next(
        r for r in runs if r.kind == "bn-inference-gap" and r.record["spec"]["model"]["kind"] in {"cnn-bn", "resnet"}
    )
    opened = {"inference": 0.49, "batch_statistics": 0.89, "images": 1000, "se": 0.02}
    closed = {"inference": 0.75, "batch_statistics": 0.78, "images": 1000, "se": 0.02}
    noisy = {"inference": 0.30, "batch_statistics": 0.42, "images": 60, "se": 0.06}  # 0.12, two standard errors
    measured = {healthy.run_id: {"bn": opened}, bn.run_id: {"bn": closed}}
    monkeypatch.setattr(score, "measured_effects", lambda: measured)

    cause, truth = score.effective_truth(healthy)
    assert cause == "regularization-gap"
    assert {"healthy", "overfitting"} <= set(truth["must_not"]) and "eval-distribution-shift" in truth["expected"]
    assert all("healthy" in t.forbidden for t in score.plan(healthy, ("log",)))
    assert score.effective_truth(bn) == ("healthy", KINDS["healthy"].truth().to_dict())

    measured[healthy.run_id] = {"bn": noisy}
    assert score.bn_gap_opened(healthy) is False and score.effective_truth(healthy)[0] == "healthy"
    measured.clear()
    assert score.bn_gap_opened(bn) is None and score.effective_truth(bn) == (bn.cause, bn.truth)


def test_overfitting_that_never_showed_also_accepts_healthy():
    """An `overfitting` run whose validation loss still falls at its last epoch and whose accuracy gap
    stays under `OVERFIT_GAP_MATERIAL` never overfitted: `healthy` is right too; a run that turned is not."""
    import dataclasses

    from bench.corpus import score
    from bench.corpus.load import load_runs

    run = next(r for r in load_runs() if r.cause == "overfitting")
    curves = {
        "accuracy": [0.70, 0.95, 1.0, 1.0],
        "loss": [0.8, 0.3, 0.1, 0.05],
        "val_accuracy": [0.90, 0.95, 0.97, 0.98],
    }
    still = dataclasses.replace(run, record={**run.record, "history": {**curves, "val_loss": [0.5, 0.3, 0.2, 0.15]}})
    turned = dataclasses.replace(run, record={**run.record, "history": {**curves, "val_loss": [0.5, 0.3, 0.2, 0.25]}})
    assert score.overfitting_never_showed(still) and not score.overfitting_never_showed(turned)
    cause, truth = score.effective_truth(still)
    assert cause == "overfitting" and "healthy" in truth["also_acceptable"] and "overfitting" in truth["expected"]
    assert "healthy" not in score.effective_truth(turned)[1].get("also_acceptable", [])


def test_committed_batchnorm_measurements_are_whole():
    """Every committed measurement names a packed run with BatchNormalization, with accuracies and a
    standard error that fit its image count."""
    from bench.corpus.effects import BN_MODELS, EFFECTS_DIR
    from bench.corpus.load import load_runs
    from bench.corpus.pack import PACKED

    files = sorted(EFFECTS_DIR.glob("*.json"))
    assert files, "no measurements committed"
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        packed = PACKED if path.stem == "runs" else PACKED.parent / "draws" / f"{path.stem}.jsonl.gz"
        runs = {r.run_id: r for r in load_runs(packed)}
        assert doc["runs"], path
        with_layer = {i for i, r in runs.items() if r.record["spec"]["model"]["kind"] in BN_MODELS}
        assert len(with_layer - set(doc["runs"])) == doc["models_missing"], path  # every one measured or missing
        for run_id, m in doc["runs"].items():
            assert runs[run_id].record["spec"]["model"]["kind"] in BN_MODELS
            g = m["bn"]
            assert 0 <= g["inference"] <= 1 and 0 <= g["batch_statistics"] <= 1 and 0 < g["images"] <= 1000
            assert 0 <= g["se"] <= (0.5 / g["images"]) ** 0.5 + 1e-3  # two binomial variances of at most 1/4


def test_bn_effect_reads_accuracy_and_the_validation_split_like_fit():
    from bench.corpus.effects import accuracy

    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert accuracy(p, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(p, np.eye(2)[[0, 1, 1]]) == pytest.approx(2 / 3)  # one-hot
    assert accuracy(np.array([[0.7], [0.2]]), np.array([[1], [1]])) == 0.5  # one sigmoid unit


def test_recipes_rebuild_the_same_arrays_without_tensorflow():
    spec = DataSpec(
        dataset="cifar10-sample",
        classes=(3, 5),
        gray=True,
        size=16,
        train=Split(120, "imbalanced", imbalance=0.25),
        eval=Split(40, leak=0.5),
        x_train=(("div", 255),),
        x_eval=(("div", 255), ("bgr",)),
        y_train=(("flip", 0.5, "pairs"),),
        seed=3,
    )
    a, b = corpus_data.build(spec), corpus_data.build(spec)
    for k in ("x_train", "y_train", "x_test", "y_test"):
        assert corpus_data.digest(a[k]) == corpus_data.digest(b[k])
    assert a["x_train"].shape[1:] == (16, 16, 1) and a["x_train"].dtype == np.float32
    assert a["x_train"].max() <= 1.0
    counts = np.bincount(a["y_train_clean"])
    assert counts[0] > 2 * counts[1]  # imbalanced toward the first class
    assert 0.4 < (a["y_train"] != a["y_train_clean"]).mean() < 0.6
    leaked = a["indices"]["eval_leaked_train_rows"]
    assert len(leaked) == 20


def _specs() -> list[RunSpec]:
    truth = Truth(("eval-input-scale-mismatch",), (), ("healthy",), (("log", True),))
    model = ModelSpec("cnn-bn", width=4, units=10)  # BatchNormalization: effects.py measures its gap
    train = TrainSpec("adam", 1e-3, 64, 2)
    a = RunSpec.make(
        data=DataSpec(
            dataset="cifar10-sample",
            size=16,
            train=Split(256, "first"),
            eval=Split(96, "first"),
            x_train=(("div", 255),),
            x_eval=(("float32",),),
        ),
        model=model,
        train=train,
        injections=(Injection("eval-input-scale-mismatch", "test-not-rescaled", "gross"),),
        truth=truth,
        shapes=SHAPES,
        verbose1=True,
        seed=1,
    )
    b = RunSpec.make(
        data=DataSpec(
            dataset="cifar10-sample",
            gray=True,
            size=16,
            train=Split(200),
            eval=Split(64),
            x_train=(("div", 255),),
            x_eval=(("div", 255),),
            y_train=(("flip", 0.4, "symmetric"),),
            label_format="onehot",
        ),
        model=ModelSpec("mlp", width=16, depth=1, dropout=0.25, units=10),
        train=TrainSpec("sgd-momentum", 0.01, 32, 3, loss="categorical_crossentropy", validation="split:0.25"),
        injections=(Injection("noisy-labels", "noisy-labels-symmetric", "mild"),),
        truth=Truth(("noisy-labels",)),
        shapes=tuple(s for s in SHAPES if s != "console-v1"),
        seed=2,
    )
    c = RunSpec.make(
        data=DataSpec(
            dataset="cifar10-sample",
            classes=(1, 7),
            size=16,
            train=Split(160),
            eval=Split(60, leak=0.5),
            holdout=Split(40),
            x_train=(("div", 255),),
            x_eval=(("div", 255),),
            label_format="column",
        ),
        model=ModelSpec("mlp", width=8, depth=1, units=1, activation="sigmoid"),
        train=TrainSpec("rmsprop", 1e-3, 16, 2, loss="binary_crossentropy", validation="holdout"),
        injections=(Injection("train-test-leakage", "eval-partly-from-train", "mild"),),
        truth=Truth(("train-test-leakage",)),
        shapes=tuple(s for s in SHAPES if s != "console-v1"),
        seed=3,
    )
    return [a, b, c]


@pytest.mark.training
def test_tiny_runs_pack_load_render_and_rebuild(tmp_path, monkeypatch):
    from bench.corpus.generate import generate
    from bench.corpus.load import load_runs, model_path, rebuild_arrays, render_log
    from bench.corpus.pack import pack
    from bench.corpus.shapes import write_tensorboard_run
    from cifar_doctor.sources.logs import read_history

    for k in ("TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(k, "1")  # the generator sets them; restored after the test
    specs = _specs()
    out = tmp_path / "corpus"
    assert generate(specs, out, jobs=1) == 0
    assert generate(specs, out, jobs=1) == 0  # resumes: nothing left to run
    dest = tmp_path / "runs.jsonl.gz"
    assert pack(out, dest)[0] == 3
    runs = {r.run_id: r for r in load_runs(dest)}
    assert set(runs) == {s.run_id for s in specs}

    for spec in specs:
        run = runs[spec.run_id]
        assert run.spec == spec
        assert model_path(run, out) is not None
        epochs = spec.train.epochs
        for shape in spec.shapes:
            text = render_log(run, shape)
            raw = text if isinstance(text, bytes) else text.encode("utf-8")
            h = read_history(io.BytesIO(raw))
            assert "loss" in h.metrics, shape
            if shape == "per-step":
                assert h.index_kind == "step" and h.epochs == run.record["steps_recorded"], shape
                continue
            if shape == "truncated":
                assert h.truncated and 1 <= h.epochs < epochs, shape
            else:
                assert h.epochs == epochs, shape
            assert "val_loss" in h.metrics, shape
            assert any("acc" in k for k in h.metrics), shape
            np.testing.assert_allclose(h.metrics["loss"], run.history["loss"][: h.epochs], rtol=1e-3, atol=1e-4)
        tb = write_tensorboard_run(run.record, tmp_path / f"tb-{spec.run_id}")
        assert read_history(tb).epochs == epochs

    a = rebuild_arrays(runs[specs[0].run_id])
    assert a["x_train"].shape == (256, 16, 16, 3) and a["x_train"].max() <= 1.0
    assert a["x_test"].max() > 1.0  # the eval split left at 0-255
    v1 = runs[specs[0].run_id].record["verbose1"]
    assert v1 and v1["history_max_abs_diff"] < 1e-4
    assert b"\x1b[" in render_log(runs[specs[0].run_id], "console-v1").encode()

    rec_b = runs[specs[1].run_id].record
    b = rebuild_arrays(runs[specs[1].run_id])
    assert b["y_train"].shape == (200, 10) and b["x_train"].shape[-1] == 1
    assert rec_b["label_noise"]["fraction"] == pytest.approx(0.4, abs=0.01)
    assert rec_b["samples"] == {"train": 150, "val": 50, "eval": 64}

    from bench.corpus import effects

    measured = tmp_path / "effects.json"
    assert effects.main(["--corpus", str(dest), "--models", str(out), "--dest", str(measured)]) == 0
    doc = json.loads(measured.read_text(encoding="utf-8"))
    assert set(doc["runs"]) == {specs[0].run_id} and doc["models_missing"] == 0  # the one BatchNorm run
    g = doc["runs"][specs[0].run_id]["bn"]
    assert g["images"] == 96 and 0 <= g["inference"] <= 1 and 0 <= g["batch_statistics"] <= 1 and g["se"] > 0
    x_val, _ = effects.validation_arrays(runs[specs[1].run_id], b)  # validation_split: the last quarter, as fit
    np.testing.assert_array_equal(x_val, b["x_train"][150:])

    c = rebuild_arrays(runs[specs[2].run_id])
    assert set(c) == {"x_train", "y_train", "x_test", "y_test", "x_val", "y_val"}
    built = corpus_data.build(specs[2].data, "holdout")
    leaked = built["indices"]["eval_leaked_train_rows"]
    rows = {c["x_train"][i].tobytes() for i in leaked}
    assert sum(x.tobytes() in rows for x in c["x_test"]) >= len(leaked)  # copies of training images
    assert c["y_train"].shape == (160, 1)


def test_packing_a_draw_never_overwrites_the_committed_corpus(tmp_path, monkeypatch):
    """`pack --draw K` without --dest writes the draw beside the other draws, not over runs.jsonl.gz."""
    from bench.corpus import __main__ as corpus_cli
    from bench.corpus import pack as pack_module

    corpus = tmp_path / "runs.jsonl.gz"
    monkeypatch.setattr(pack_module, "PACKED", corpus)
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    assert corpus_cli.main(["pack", "--draw", "9", "--out", str(tmp_path / "empty")]) == 0
    assert (tmp_path / "draws" / "draw9.jsonl.gz").is_file() and not corpus.exists()


def test_log_variants_bench_prints_one_line_a_variant(capsys):
    """`bench/log_variants.py` on one draw and two variants: a header and a line each, runs and counts that add up."""
    import re

    from bench import log_variants

    draw = ROOT / "bench" / "corpus" / "draws" / "draw2.jsonl.gz"
    assert log_variants.main(["--corpus", str(draw), "--only", "cut", "renamed"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("variant") and len(lines) == 3
    for line in lines[1:]:
        m = re.match(
            r"(\w+)\s+(\d+)\s+(\d+) =\s+[\d.]+%,\s+(\d+) forbidden\s+(\d+) =\s+[\d.]+%,\s+(\d+) forbidden", line
        )
        assert m is not None, line
        runs, made, made_f, right, forb = (int(g) for g in m.groups()[1:])
        assert runs > 0 and made + made_f <= runs and right + forb <= runs
