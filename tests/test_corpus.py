"""Every broken or hostile input of tests/corpus.py through the real command line.

Each case runs `python -m cifar_doctor ...` in a subprocess with an address-space
limit and a time limit, from an empty working folder and with an empty TMPDIR,
and must:

- exit 2 with exactly one line on stderr, `Error: ...`, that is not an internal
  error (or, for a valid but odd input, exit 0 or 1 with a report on stdout);
- print no traceback;
- leave the input's folder, the working folder and TMPDIR as they were;
- stay under `MAX_RSS_BYTES` of resident memory and `MAX_SECONDS` of wall time.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import corpus
from conftest import ROOT

#: Subprocesses of the CLI: run by CI, skipped by the fast loop (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

#: Resident memory allowed to one run.
MAX_RSS_BYTES = 1 << 30
#: Wall time allowed to one run, start-up included.
MAX_SECONDS = 30.0
#: Address space allowed to one run. TensorFlow maps ~2 GB of virtual memory when a
#: model is loaded; 3 GiB lets that happen and makes an allocation by a declared
#: size fail fast instead of paging the machine to death.
ADDRESS_SPACE_BYTES = 3 << 30

#: Lines TensorFlow's C++ runtime writes to stderr when it starts, whatever
#: TF_CPP_MIN_LOG_LEVEL says: not ours, and ignored.
TF_CHATTER = (
    "WARNING: All log messages before absl",
    "I0000",
    "W0000",
    "E0000",
    "To enable the following instructions",
)

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_permission_override() -> None:
    """As root, give up the capabilities that bypass file permissions (for this child only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            os._exit(97)


def _permissions_apply() -> bool:
    if os.geteuid() != 0:
        return True
    return subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_drop_permission_override).returncode == 0


PERMISSIONS_APPLY = _permissions_apply()


#: Runs as the child: sets the address-space limit, (as root) gives up the permission override and
#: closes stdin when the case says so, runs `python -m cifar_doctor ARGS` as its own child and writes
#: that grandchild's peak RSS (kB) to the file named in argv[4]. A process's peak RSS also counts the
#: memory of the process it was forked or exec'd from, which here is pytest, possibly holding a trained
#: model; the grandchild is forked from this small launcher instead, so its figure is its own.
LAUNCHER = f"""
import ctypes, os, resource, sys
limit, unprivileged, close_stdin, rss_file = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3] == "1", sys.argv[4]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
if unprivileged and os.geteuid() == 0:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in ({_CAP_DAC_OVERRIDE}, {_CAP_DAC_READ_SEARCH}):
        if libc.prctl({_PR_CAPBSET_DROP}, cap, 0, 0, 0) != 0:
            os._exit(97)
if close_stdin:
    os.close(0)
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "cifar_doctor", *sys.argv[5:]])
_, status, usage = os.wait4(pid, 0)
with open(rss_file, "w") as fh:
    fh.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


def snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under `folder` (links not followed): relative path -> (mode, size, mtime)."""
    out: dict[str, tuple[int, int, int]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            out[os.path.relpath(p, folder)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


class Run:
    """The outcome of one command: exit code, stdout, stderr, peak RSS, wall time."""

    def __init__(self, rc: int, stdout: str, stderr: str, rss: int, seconds: float, timed_out: bool) -> None:
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        self.rss, self.seconds, self.timed_out = rss, seconds, timed_out

    def own_stderr(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip() and not line.startswith(TF_CHATTER)]


def run(case: corpus.Case, work: Path, home: Path) -> Run:
    """Run the case's command in a fresh working folder with bounded memory and time."""
    cwd, tmp = work / "cwd", work / "tmp"
    cwd.mkdir(parents=True)
    tmp.mkdir()
    env = dict(
        os.environ,
        NO_COLOR="1",
        COLUMNS="120",
        TF_CPP_MIN_LOG_LEVEL="3",
        CIFAR_DOCTOR_OFFLINE="1",
        TMPDIR=str(tmp),
        HOME=str(home),
        PYTHONPATH=str(ROOT),
    )
    env.pop("CIFAR_DOCTOR_DEBUG", None)
    env.pop("KERAS_HOME", None)

    feed: Callable[[], object] | None = None
    if case.stdin is None or case.stdin_closed:
        stdin = subprocess.DEVNULL
    else:
        stdin = subprocess.PIPE
        chunks = case.stdin() if callable(case.stdin) else iter([case.stdin])

        def feed() -> None:
            try:
                for chunk in chunks:
                    proc.stdin.write(chunk)
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

    out_path, err_path = work / "stdout", work / "stderr"
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        rss_file = work / "rss"
        launch = [
            sys.executable,
            "-c",
            LAUNCHER,
            str(ADDRESS_SPACE_BYTES),
            str(int(case.unprivileged)),
            str(int(case.stdin_closed)),
            str(rss_file),
            *case.argv,
        ]
        proc = subprocess.Popen(launch, cwd=cwd, env=env, stdin=stdin, stdout=out, stderr=err, start_new_session=True)
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command it runs
            except ProcessLookupError:
                pass

        timer = threading.Timer(MAX_SECONDS, kill)
        timer.start()
        writer = threading.Thread(target=feed, daemon=True) if feed is not None else None
        if writer is not None:
            writer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if writer is not None:
            writer.join(5)
            if proc.stdin and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
    seconds = time.monotonic() - start
    rss_kb = int(rss_file.read_text()) if rss_file.exists() else usage.ru_maxrss
    return Run(
        proc.returncode,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        rss_kb * 1024,
        seconds,
        timed_out.is_set(),
    )


def _param(name: str):
    marks = [pytest.mark.tf] if name in corpus.TF_CASES else []
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One HOME for every run: Keras and matplotlib write their config and caches there once."""
    return tmp_path_factory.mktemp("home")


def test_corpus_is_large_and_covers_every_source():
    prefixes = {name.split("-")[0] for name in corpus.CASES}
    assert len(corpus.CASES) >= 60
    assert {"npz", "npy", "batches", "tar", "keras", "log", "csv", "json", "tb", "folder", "data", "save"} <= prefixes


@pytest.mark.parametrize("name", [_param(n) for n in corpus.CASES])
def test_corpus_case(name: str, tmp_path: Path, home: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    case = corpus.CASES[name](inputs)
    if case.unprivileged and not PERMISSIONS_APPLY:
        pytest.skip("file permissions do not apply to this user")
    before = snapshot(inputs)
    try:
        result = run(case, tmp_path / "run", home)
        after = snapshot(inputs)
    finally:
        _make_removable(inputs)
    shown = (
        f"exit {result.rc}, {result.seconds:.1f} s, {result.rss >> 20} MB\nstdout:\n{result.stdout[-2000:]}\n"
        f"stderr:\n{result.stderr[-3000:]}"
    )
    assert not result.timed_out, f"over {MAX_SECONDS} s\n{shown}"
    assert result.seconds < MAX_SECONDS, shown
    assert result.rss < MAX_RSS_BYTES, shown
    assert "Traceback" not in result.stderr + result.stdout, shown
    lines = result.own_stderr()
    if case.expect == corpus.REFUSE:
        assert result.rc == 2, shown
        assert len(lines) == 1, shown
        assert lines[0].startswith("Error: "), shown
        assert "internal error" not in lines[0], shown
        assert re.search(case.match, lines[0]), f"{case.match!r} not in the error line\n{shown}"
    else:
        assert result.rc in (0, 1), shown
        assert result.stdout.strip(), shown
        assert not any(line.startswith("Error") for line in lines), shown
    assert after == before, "the input folder changed"
    assert not list((tmp_path / "run" / "cwd").iterdir()), "a file appeared in the working folder"
    assert not list((tmp_path / "run" / "tmp").iterdir()), "a file was left in TMPDIR"


def _make_removable(path: Path) -> None:
    """Give back the permissions a case took away, so that pytest can remove its files."""
    if path.is_symlink():
        return
    path.chmod(0o700 if path.is_dir() else 0o600)
    if path.is_dir():
        for child in path.iterdir():
            _make_removable(child)
