"""Run the grid: pending specs, N long-lived job processes, progress and ETA on stderr, resumable.

A run is finished when `out/runs/<run_id>/result.json` exists (written last, by an atomic rename of
the run's whole folder), so an interrupted generator resumes where it stopped. A run that raises is
written to `out/failed/<run_id>.txt` (the traceback) and retried on the next start.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .spec import RunSpec

FAILED = "failed"
RUNS = "runs"


def _fmt(seconds: float) -> str:
    seconds = int(seconds)
    h, m, s = seconds // 3600, seconds % 3600 // 60, seconds % 60
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _run_one(spec: RunSpec, out: Path) -> tuple[str, float, float, str]:
    """(status, wall seconds, CPU seconds, detail) of one run in this process."""
    from .runner import run_spec

    t0 = time.perf_counter()
    try:
        result = run_spec(spec, out / RUNS)
    except Exception:
        (out / FAILED).mkdir(parents=True, exist_ok=True)
        (out / FAILED / f"{spec.run_id}.txt").write_text(traceback.format_exc(), encoding="utf-8")
        return "failed", time.perf_counter() - t0, 0.0, traceback.format_exc().strip().splitlines()[-1][:200]
    (out / FAILED / f"{spec.run_id}.txt").unlink(missing_ok=True)
    return "ok", time.perf_counter() - t0, result["timings"]["cpu_s"], ""


def _one_thread() -> None:
    """TensorFlow on one thread in this process (imported here, once per job)."""
    from .runner import configure_threads

    if "tensorflow" not in sys.modules:
        configure_threads()
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already started in this process (a test): its setting stays
        pass


def _worker(specs: dict[str, RunSpec], todo: Any, done: Any, out: str) -> None:
    _one_thread()
    while True:
        try:
            run_id = todo.get(timeout=1)
        except queue.Empty:
            return
        if run_id is None:
            return
        done.put((run_id, *_run_one(specs[run_id], Path(out))))


class Progress:
    def __init__(self, total: int, jobs: int) -> None:
        self.total, self.jobs, self.count, self.t0 = total, jobs, 0, time.perf_counter()
        self.seconds: list[float] = []
        self.cpu: list[float] = []
        self.failed = 0

    def report(self, spec: RunSpec, status: str, secs: float, cpu: float, detail: str) -> None:
        self.count += 1
        self.seconds.append(secs)
        self.cpu.append(cpu)
        self.failed += status != "ok"
        elapsed = time.perf_counter() - self.t0
        mean = sum(self.seconds) / len(self.seconds)
        eta = mean * (self.total - self.count) / self.jobs
        flag = "" if status == "ok" else f"  FAILED: {detail}"
        print(
            f"[{self.count}/{self.total}] {spec.run_id} {spec.kind:<34} {spec.family:<28} {secs:6.1f} s (CPU {cpu:5.1f} s)  "
            f"elapsed {_fmt(elapsed)}  ETA {_fmt(eta)}{flag}",
            file=sys.stderr,
            flush=True,
        )

    def final(self) -> None:
        elapsed = time.perf_counter() - self.t0
        mean = sum(self.seconds) / len(self.seconds) if self.seconds else 0.0
        cpu = sum(self.cpu) / len(self.cpu) if self.cpu else 0.0
        print(
            f"done: {self.count - self.failed} runs ok, {self.failed} failed, in {_fmt(elapsed)} "
            f"({elapsed:.0f} s; {mean:.1f} s per run, {cpu:.1f} s of CPU per run, "
            f"{self.jobs} job{'s' if self.jobs > 1 else ''})",
            file=sys.stderr,
            flush=True,
        )


def pending(grid: list[RunSpec], out: Path) -> list[RunSpec]:
    from .runner import is_done

    return [s for s in grid if not is_done(out / RUNS, s.run_id)]


def generate(grid: list[RunSpec], out: Path, jobs: int = 1) -> int:
    """Run every unfinished spec of `grid` into `out`; returns the number of failures."""
    todo_specs = pending(grid, out)
    (out / RUNS).mkdir(parents=True, exist_ok=True)
    for stale in (out / RUNS).glob(".tmp-*"):  # a run interrupted before its folder was renamed
        shutil.rmtree(stale, ignore_errors=True)
    skipped = len(grid) - len(todo_specs)
    print(
        f"{len(grid)} runs in the selection, {skipped} already done, {len(todo_specs)} to run on {jobs} "
        f"job{'s' if jobs > 1 else ''} -> {out}",
        file=sys.stderr,
        flush=True,
    )
    progress = Progress(len(todo_specs), jobs)
    if not todo_specs:
        progress.final()
        return 0
    if jobs <= 1:
        _one_thread()
        for spec in todo_specs:
            progress.report(spec, *_run_one(spec, out))
        progress.final()
        return progress.failed
    ctx = mp.get_context("spawn")
    todo, done = ctx.Queue(), ctx.Queue()
    by_id = {s.run_id: s for s in todo_specs}
    for s in todo_specs:
        todo.put(s.run_id)
    for _ in range(jobs):
        todo.put(None)
    procs = [ctx.Process(target=_worker, args=(by_id, todo, done, str(out)), daemon=True) for _ in range(jobs)]
    for p in procs:
        p.start()
    received = 0
    while received < len(todo_specs):
        try:
            run_id, status, secs, cpu, detail = done.get(timeout=5)
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                break
            continue
        received += 1
        progress.report(by_id[run_id], status, secs, cpu, detail)
    for p in procs:
        p.join(timeout=30)
    progress.final()
    return progress.failed + (len(todo_specs) - received)
