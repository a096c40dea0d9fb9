"""The full passes on a runner: the same report from every runner, and Beam's options checked up front.

`PickleRunner` ships every function and work item through pickle and runs them
out of order, as a distributed runner would, so the main suite checks the
runner seam without Apache Beam. The `beam` tests run a real pipeline on the
DirectRunner with two worker processes (apache-beam: `pip install '.[beam]'`).
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from cifar_doctor.api import build_inputs
from cifar_doctor.engine import run
from cifar_doctor.errors import UsageError
from cifar_doctor.runners import DIRECT, runner_named
from cifar_doctor.sources import sampling
from conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import scale  # noqa: E402  (bench/ is not a package)

#: The DirectRunner with two worker processes: what a cluster does, on this machine.
BEAM_FLAGS = ["--runner=DirectRunner", "--direct_num_workers=2", "--direct_running_mode=multi_processing"]

#: Images in each split's in-memory sample: below the split sizes, so the statistics read a sample
#: and the duplicate checks the full files.
SAMPLE = 700


class PickleRunner:
    """Each function and work item pickled and unpickled, the items run last first: a runner's contract."""

    name = "pickle"
    searches_all = True

    def __init__(self) -> None:
        self.stages: list[str] = []

    def map(self, fn, items, *, stage):
        self.stages.append(stage)
        shipped = pickle.loads(pickle.dumps(fn))
        out = {k: shipped(pickle.loads(pickle.dumps(item))) for k, item in reversed(list(enumerate(items)))}
        return [pickle.loads(pickle.dumps(out[k])) for k in range(len(items))]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """`bench/scale.py`'s layout, small: raw uint8 train, test / 255, exact and near copies planted."""
    d = tmp_path_factory.mktemp("shards")
    scale.build(d, 3000, 1000, 20, 30)
    return d


def _planted(tmp_path: Path, save, *, raw_test: bool = False) -> Path:
    """`bench/scale.py`'s splits (1,200 training, 400 test images, copies planted) in one npz written by
    `save`; with `raw_test`, the test split back on the 0-255 bytes of the training split, and copies within
    it too."""
    d = tmp_path / "mem"
    scale.build(d, 1200, 400, 10, 10)
    x_test = np.load(d / "x_test.npy")
    if raw_test:
        x_test = np.rint(x_test * 255).astype(np.uint8)
        x_test[390:] = x_test[:10]
    path = tmp_path / "data.npz"
    save(
        path,
        x_train=np.load(d / "x_train.npy"),
        y_train=np.load(d / "y_train.npy"),
        x_test=x_test,
        y_test=np.load(d / "y_test.npy"),
    )
    return path


@pytest.fixture
def in_memory(tmp_path) -> Path:
    """An `.npz` read whole (no file source: work items carry the images), with copies planted."""
    return _planted(tmp_path, np.savez)


def _report(data: Path, runner) -> dict:
    return run(build_inputs(data=data, runner=runner)).to_dict()


def _same(a: dict, b: dict) -> None:
    assert a["verdict"] == b["verdict"]
    assert a["findings"] == b["findings"]
    assert a == b


def test_every_runner_gives_the_same_report(shards, monkeypatch):
    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", SAMPLE)
    runner = PickleRunner()
    direct, shipped = _report(shards, DIRECT), _report(shards, runner)
    _same(direct, shipped)
    codes = {f["code"] for f in direct["findings"]}
    assert {"PRE001", "DUP001", "DUP002"} <= codes
    dup = next(f for f in direct["findings"] if f["code"] == "DUP001")
    assert dup["evidence"]["count"] == 20
    assert {"statistics", "hash", "signatures-test", "search-test", "verify-test"} <= set(runner.stages)


def test_carried_images_give_the_same_report(in_memory):
    _same(_report(in_memory, DIRECT), _report(in_memory, PickleRunner()))


def test_direct_runner_refuses_beam_flags():
    with pytest.raises(UsageError, match="beam runner"):
        runner_named("direct", ["--direct_num_workers=2"])
    with pytest.raises(UsageError, match="direct or beam"):
        runner_named("spark")


@pytest.mark.slow
@pytest.mark.beam
def test_beam_pipeline_gives_the_same_report(shards, in_memory, monkeypatch):
    pytest.importorskip("apache_beam")
    monkeypatch.setattr(sampling, "SAMPLE_IMAGES", SAMPLE)
    beam = runner_named("beam", BEAM_FLAGS)
    _same(_report(shards, DIRECT), _report(shards, beam))
    _same(_report(in_memory, DIRECT), _report(in_memory, beam))


@pytest.mark.slow
@pytest.mark.beam
def test_cli_beam_report_matches_default(shards):
    pytest.importorskip("apache_beam")
    direct = run_cli("check", "--data", str(shards), "--json")
    beam = run_cli("check", "--data", str(shards), "--json", "--runner", "beam", "--", *BEAM_FLAGS)
    assert direct.returncode == beam.returncode == 1
    assert json.loads(direct.stdout) == json.loads(beam.stdout)
    assert beam.stderr == direct.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags,says",
    [
        (["--direct_num_workers=two"], "Invalid Beam pipeline option: argument --direct_num_workers: invalid int"),
        (["--direct_workers=2"], "Unknown Beam pipeline option --direct_workers"),
        (["--runner=NoSuchRunner"], "Cannot use the Beam runner 'NoSuchRunner'"),
        (["--runner=DataflowRunner"], "needs --temp_location"),
    ],
)
def test_bad_beam_option_is_one_line_exit_2(shards, flags, says):
    pytest.importorskip("apache_beam")
    out = run_cli("check", "--data", str(shards), "--runner", "beam", "--", *flags)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("Error: ") and says in out.stderr


@pytest.mark.slow
def test_beam_runner_without_apache_beam_is_one_line_exit_2(shards):
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("apache-beam is installed")
    out = run_cli("check", "--data", str(shards), "--runner", "beam")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "pip install 'cifar-doctor[beam]'" in out.stderr


def test_threaded_runner_keeps_item_order_and_raises():
    import threading

    from cifar_doctor.runners.base import ThreadedRunner

    seen: set[int] = set()

    def slow_square(v: int) -> int:
        seen.add(threading.get_ident())
        np.linalg.svd(np.random.default_rng(v).normal(size=(200, 200)))  # some work that drops the lock
        return v * v

    assert ThreadedRunner(2).map(slow_square, list(range(12)), stage="t") == [v * v for v in range(12)]
    assert len(seen) == 2
    with pytest.raises(ZeroDivisionError):
        ThreadedRunner(2).map(lambda v: 1 // v, [3, 2, 1, 0], stage="t")


def test_dup002_gives_the_same_report_on_one_thread_or_two(in_memory, monkeypatch):
    from cifar_doctor.runners import base

    monkeypatch.setattr(base, "available_cores", lambda: 1)
    one = _report(in_memory, DIRECT)
    monkeypatch.setattr(base, "available_cores", lambda: 2)
    _same(one, _report(in_memory, DIRECT))
    assert "DUP002" in {f["code"] for f in one["findings"]}


def test_thread_pool_is_capped_on_many_cores(monkeypatch):
    from cifar_doctor.runners import base

    monkeypatch.setattr(base, "available_cores", lambda: 64)
    assert base.ThreadedRunner().workers == base.MAX_THREADS
    monkeypatch.setattr(base, "available_cores", lambda: 1)
    assert base.local_runner(base.DIRECT, True).workers == 1
    assert base.local_runner(base.DIRECT, False) is base.DIRECT


@pytest.fixture
def compressed(tmp_path) -> Path:
    """An `np.savez_compressed` file of uint8 splits over 1 MB each (inflated side by side), with copies
    of training images in the test split and copies within it."""
    return _planted(tmp_path, np.savez_compressed, raw_test=True)


def test_work_done_while_reading_gives_the_same_report(compressed, monkeypatch):
    from cifar_doctor import engine, memo
    from cifar_doctor.checks.data import arrays
    from cifar_doctor.checks.duplicates import near
    from cifar_doctor.inputs import STATS_KEY
    from cifar_doctor.measure import neardup

    plain = _report(compressed, DIRECT)
    inputs = build_inputs(data=compressed)
    x_test = inputs.splits["test"].x
    engine.ahead("x_test", x_test)
    kept = memo.recall(x_test, STATS_KEY)
    within = memo.recall(x_test, near._within_key(kept.canonical_affine()))
    assert kept is not None and len(within.a) >= 10
    engine.ahead("x_train", inputs.splits["train"].x)
    # the checks use what was kept: searching the test split against itself again, or measuring either
    # split's neighbour correlations again, would now fail
    monkeypatch.setattr(neardup, "pairs_within", lambda index: 1 / 0)
    monkeypatch.setattr(arrays, "neighbour_correlation", lambda x, layout: 1 / 0)
    early = run(inputs).to_dict()
    assert inputs.splits["test"].stats is kept
    _same(plain, early)
    dup = next(f for f in early["findings"] if f["code"] == "DUP002")
    assert dup["evidence"]["within_split"]["images"] >= 10 and dup["evidence"]["count"] >= 10


def test_work_ahead_skips_what_it_cannot_use():
    from cifar_doctor import engine, memo
    from cifar_doctor.checks.duplicates import near
    from cifar_doctor.inputs import STATS_KEY

    x_train = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    engine.ahead("x_train", x_train)  # training images: statistics and neighbour correlations, no search within
    kept = memo.recall(x_train, STATS_KEY)
    assert kept.n == 5 and memo.recall(x_train, ("neighbour-correlation", "NHWC")) is not None
    assert memo.recall(x_train, near._within_key(kept.canonical_affine())) is None
    for bad in (np.zeros(3), np.array(["a", "b"], dtype=object)):
        engine.ahead("x_test", bad)  # what fails here fails again in the check, which reports it
        assert memo.recall(bad, STATS_KEY) is None
    labels = np.zeros((4, 8, 8, 3), np.uint8)
    engine.ahead("y_test", labels)
    assert memo.recall(labels, STATS_KEY) is None
    small = np.zeros((4, 8, 8, 3), np.uint8)
    engine.ahead("x_val", small, ignore_codes=["DUP", "DAT"])
    assert memo.recall(small, STATS_KEY).n == 4 and memo.recall(small, ("neighbour-correlation", "NHWC")) is None


def test_npz_hands_over_the_arrays_read_while_others_are(compressed, monkeypatch):
    import time

    from cifar_doctor.sources import npz
    from cifar_doctor.sources.base import while_reading

    monkeypatch.setattr(npz, "available_cores", lambda: 2)
    handed: list[str] = []
    with while_reading(lambda key, x: handed.append(key)):
        build_inputs(data=compressed)
    # the first of the two inflated members always (the other is unfinished), labels never
    assert 1 <= len(handed) <= 2 and set(handed) <= {"x_train", "x_test"}
    handed.clear()
    with while_reading(lambda key, x: (handed.append(key), time.sleep(0.5))):
        build_inputs(data=compressed)
    assert sorted(handed) == ["x_test", "x_train"]  # the second is read while the first is still handed over
    handed.clear()
    build_inputs(data=compressed)
    assert handed == []  # outside the block, nothing is handed over
    monkeypatch.setattr(npz, "available_cores", lambda: 1)
    with while_reading(lambda key, x: handed.append(key)):
        build_inputs(data=compressed)
    assert handed == []  # read one after another: no array is read while another is


@pytest.mark.parametrize("raw_test", [True, False])
def test_check_and_diagnose_of_a_compressed_npz_give_the_report_computed_after_reading(tmp_path, raw_test):
    """Bytes on both sides, or the test split divided by 255 (the seed bug: compared on the canonical scale)."""
    from cifar_doctor import diagnose

    compressed = _planted(tmp_path, np.savez_compressed, raw_test=raw_test)
    out = run_cli("check", "--data", str(compressed), "--json")
    assert out.returncode in (0, 1), out.stderr
    direct = _report(compressed, DIRECT)
    for report in (json.loads(out.stdout), diagnose(data=compressed).to_dict()):
        assert report["findings"] == direct["findings"] and report["verdict"] == direct["verdict"]
