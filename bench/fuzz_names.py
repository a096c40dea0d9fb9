"""Fuzz the names a report quotes: no input name can act on the reader of any output format.

Names are generated from the seed (random bytes decoded as file names are,
escape sequences, Rich markup, HTML, Markdown and Python syntax, Unicode format
characters) and put where inputs put them, a batch at a time, through the real
engine:

- `folder`: class folders on disk (train holds the names, test does not: DAT005
  quotes them), read with `build_inputs(data=...)`;
- `file`: image files that do not decode, named with them (DAT006);
- `key`: metric names of a History dict (`history_from_dict`);
- `tag`: TensorBoard scalar tags in an event file (`read_tensorboard`), written
  by the test suite's event writer;
- `run`: run names of a comparison (`ComparisonReport.of`).

Each report is drawn by every renderer (text at widths 40, 80 and 200,
Markdown, HTML, JSON), and each output is checked:

- text: no control character or escape (only newlines), and each name that the
  report holds appears as `sanitize.one_line(name)` (so no markup was parsed;
  nothing raised a MarkupError);
- Markdown: no `<` but the report's own `<sub>`, and no control character;
- HTML: each name appears as `sanitize.html(name)` and no `<script`, `<img` or
  control character appears;
- JSON: the document parses and holds each name unchanged.

A source may refuse a name (an `InputError`, counted as refused: its one `Error:`
line is checked like text). The run prints, per source, the names tried, shown,
refused and failed, and the time; it exits 1 on any failure.

Usage:

    python bench/fuzz_names.py [--n 10000] [--seed 0] [--source folder key ...] [--batch 8]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cifar_doctor import sanitize  # noqa: E402
from cifar_doctor.api import build_inputs  # noqa: E402
from cifar_doctor.cli.app import error_line  # noqa: E402
from cifar_doctor.comparison import ComparisonReport, RunResult  # noqa: E402
from cifar_doctor.engine import run  # noqa: E402
from cifar_doctor.errors import InputError  # noqa: E402
from cifar_doctor.render import render  # noqa: E402
from cifar_doctor.render.text import make_console, print_report  # noqa: E402
from cifar_doctor.sources.history import history_from_dict  # noqa: E402
from cifar_doctor.sources.tensorboard import read_tensorboard  # noqa: E402

SOURCES = ("folder", "file", "key", "tag", "run")
WIDTHS = (40, 80, 200)

PIECES = (
    "\x1b]0;owned\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x1b]8;;https://evil.example\x1b\\",
    "\x1b\\",
    "\x9b",
    "\x07",
    "\r",
    "\n",
    "\t",
    "\b",
    "\x00",
    "\x7f",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\u2028",
    "[link=https://evil.example]",
    "[/link]",
    "[/]",
    "[bold red]",
    "[",
    "]",
    ":smile:",
    ":warning:",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<",
    ">",
    "&",
    "&lt;",
    '"',
    "'",
    "`",
    "```",
    "|",
    "*",
    "_",
    "~~",
    "![x](http://evil.example/x.png)",
    "[x](javascript:alert(1))",
    "\\",
    "'''",
    '"""',
    "__import__('os').system('id')",
    "{0}",
    "%s",
    "$(id)",
    " ",
    "é",
    "漢",
    "🙂",
)

#: Characters a file name cannot hold on Linux.
NOT_IN_FILE_NAMES = re.compile("[/\x00]")

#: Characters the text report may hold besides printable text.
TEXT_CONTROL = re.compile(sanitize.CONTROL_CHARS.pattern)

#: A fenced code block of the Markdown report (a fix snippet): its text is shown as written, never read as
#: HTML or Markdown, and `sanitize.markdown_fence` makes sure nothing inside can close it.
FENCED = re.compile(r"^ *(`{3,})python\n.*?^ *\1$", re.S | re.M)

#: Box-drawing characters and whitespace the text renderer wraps and frames with.
FRAME = re.compile(r"[\s│╭╮╰╯─]+")


def make_name(rng: random.Random) -> str:
    """A name: random bytes decoded as a file name, or hostile pieces mixed with random characters."""
    r = rng.random()
    if r < 0.25:
        return rng.randbytes(rng.randint(1, 24)).decode("utf-8", "surrogateescape")
    parts = []
    for _ in range(rng.randint(1, 5)):
        q = rng.random()
        if q < 0.6:
            parts.append(rng.choice(PIECES))
        elif q < 0.8:
            parts.append("".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(1, 6))))
        else:
            parts.append("".join(rng.choice("abcxyz_-.0123") for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def file_name(name: str, i: int) -> str:
    """`name` as a file or folder name that Linux accepts and a listing keeps: unique, not hidden, < 200 bytes."""
    name = NOT_IN_FILE_NAMES.sub("_", name)
    while len(name.encode("utf-8", "surrogateescape")) > 180:
        name = name[:-1]
    return f"c{i:02d}{name}"


_PNG_CACHE: dict[int, bytes] = {}


def png(seed: int) -> bytes:
    from PIL import Image

    if seed not in _PNG_CACHE:
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(buf, "PNG")
        _PNG_CACHE[seed] = buf.getvalue()
    return _PNG_CACHE[seed]


def _folders(tmp: Path, names: list[str], broken: bool) -> tuple[Any, list[str]]:
    import shutil

    root = tmp / "data"
    shutil.rmtree(root, ignore_errors=True)
    (root / "test" / "c_base").mkdir(parents=True)
    (root / "test" / "c_base" / "a.png").write_bytes(png(0))
    used = []
    if broken:
        for cls, seed in (("c_base", 1), ("c_other", 2)):
            (root / "train" / cls).mkdir(parents=True, exist_ok=True)
            (root / "train" / cls / "a.png").write_bytes(png(seed))
        for i, n in enumerate(names):
            fn = file_name(n, i) + ".png"
            (
                root / "train" / "c_other" / fn.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
            ).write_bytes(b"not a png")
            used.append(fn)
    else:
        (root / "train" / "c_base").mkdir(parents=True)
        (root / "train" / "c_base" / "a.png").write_bytes(png(1))
        for i, n in enumerate(names):
            d = root / "train" / file_name(n, i)
            d.mkdir()
            (d / "a.png").write_bytes(png(i + 3))
            used.append(file_name(n, i))
    return run(build_inputs(data=str(root)), counterfactual=False), used


def _history(names: list[str]) -> dict[str, list[float]]:
    d = {
        "loss": [2.0, 1.5, 1.2, 1.0],
        "val_loss": [2.1, 1.8, 1.7, 1.7],
        "accuracy": [0.3, 0.45, 0.55, 0.6],
        "val_accuracy": [0.28, 0.4, 0.44, 0.45],
    }
    for i, n in enumerate(names):
        d[n] = [0.1 * (i + 1)] * 4
    return d


def _tags(tmp: Path, names: list[str]) -> Any:
    import shutil

    from test_tensorboard import event, event_file

    run_dir = tmp / "tb"
    shutil.rmtree(run_dir, ignore_errors=True)
    for split, scale in (("train", 1.0), ("validation", 1.2)):
        (run_dir / split).mkdir(parents=True)
        events = []
        for step in range(4):
            events.append(event(step, "epoch_loss", 2.0 * scale / (step + 1)))
            events.append(event(step, "epoch_accuracy", 0.3 + 0.1 * step / scale))
            events += [event(step, n, 0.5) for n in names]
        event_file(run_dir / split / "events.out.tfevents.1.fuzz.0.v2", events)
    return read_tensorboard(run_dir)


_BASE_REPORT: list[Any] = []


def build(source: str, tmp: Path, names: list[str]) -> tuple[Any, list[str]]:
    """A report holding `names` as `source` puts them, and the names as the input holds them."""
    if source == "folder":
        return _folders(tmp, names, broken=False)
    if source == "file":
        return _folders(tmp, names, broken=True)
    if source == "key":
        return run(build_inputs(history=history_from_dict(_history(names), source="fuzz")), counterfactual=False), names
    if source == "tag":  # an event file holds UTF-8 tags; Keras names epoch-level scalars `epoch_<metric>`
        tags = [n.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for n in names]
        return run(build_inputs(history=_tags(tmp, ["epoch_" + t for t in tags])), counterfactual=False), tags
    if source == "run":
        if not _BASE_REPORT:
            _BASE_REPORT.append(
                run(build_inputs(history=history_from_dict(_history([]), source="fuzz")), counterfactual=False)
            )
        runs = [
            RunResult(name=n, recipe="original", report=_BASE_REPORT[0], history=_history([]), epochs_run=4)
            for n in names
        ]
        return ComparisonReport.of(runs), names
    raise ValueError(source)


def _strings(doc: Any) -> list[str]:
    out: list[str] = []
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out += [str(k) for k in v]
            stack += list(v.values())
        elif isinstance(v, list):
            stack += v
    return out


def check_outputs(report: Any, names: list[str]) -> tuple[list[str], int]:
    """Problems found in every rendering of `report`, and how many `names` the JSON report holds."""
    problems = []
    data = json.loads(render_to_string(report, "json"))
    strings = _strings(data)
    held = [n for n in names if any(n in s for s in strings)]
    for width in WIDTHS:
        buf = io.StringIO()
        console = make_console(file=buf)
        console.width = width
        print_report(report, console=console, details=True)
        text = buf.getvalue()
        bad = TEXT_CONTROL.search(text.replace("\n", ""))
        if bad:
            problems.append(f"text@{width}: control character {bad.group(0)!r}")
        if width == 200:
            flat = FRAME.sub("", text)
            problems += [
                f"text: {n!r} not shown as written" for n in held if FRAME.sub("", sanitize.one_line(n)) not in flat
            ]
    md = render_to_string(report, "markdown")
    if "<" in re.sub(r"</?sub>", "", FENCED.sub("", md)):
        problems.append("markdown: a raw '<'")
    if TEXT_CONTROL.search(md.replace("\n", "")):
        problems.append("markdown: a control character")
    page = render_to_string(report, "html")
    if re.search(r"<(script|img|iframe|a|svg on|object|embed)\b", page.replace("<svg ", ""), re.I):
        problems.append("html: a script, an image, a frame or a link")
    if TEXT_CONTROL.search(page.replace("\n", "")):
        problems.append("html: a control character")
    problems += [f"html: {n!r} not escaped" for n in held if sanitize.html(n) not in page]
    return problems, len(held)


def render_to_string(report: Any, fmt: str) -> str:
    buf = io.StringIO()
    render(report, fmt, file=buf)
    return buf.getvalue()


def fuzz(source: str, n: int, seed: int, batch: int, tmp: Path) -> tuple[Counter, list[str], float]:
    counts: Counter = Counter()
    failures: list[str] = []
    start = time.monotonic()
    for first in range(0, n, batch):
        rng = random.Random(f"{seed}:{source}:{first}")
        names = [make_name(rng) for _ in range(min(batch, n - first))]
        counts["names"] += len(names)
        try:
            report, held_names = build(source, tmp, names)
        except InputError as exc:
            counts["refused"] += len(names)
            line = error_line(exc)
            if "\n" in line or TEXT_CONTROL.search(line):
                failures.append(f"#{first}: Error: line not one clean line: {line!r}")
            continue
        except Exception as exc:  # noqa: BLE001 - a crash is what is being looked for
            counts["failed"] += len(names)
            failures.append(f"#{first}: crash building the report: {type(exc).__name__}: {exc!r}"[:300])
            continue
        try:
            problems, held = check_outputs(report, held_names)
        except Exception as exc:  # noqa: BLE001
            problems, held = [f"crash rendering: {type(exc).__name__}: {exc!r}"[:300]], 0
        counts["shown"] += held
        if problems:
            counts["failed"] += len(names)
            failures += [f"#{first}: {p}" for p in problems[:5]]
    return counts, failures, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="Names per source (default 10000).")
    ap.add_argument("--seed", type=int, default=0, help="Seed of the names (default 0).")
    ap.add_argument("--source", nargs="+", choices=SOURCES, default=list(SOURCES), help="Sources (default all).")
    ap.add_argument("--batch", type=int, default=8, help="Names per report (default 8).")
    args = ap.parse_args(argv)
    failed = False
    print(f"{'source':<8}{'names':>8}{'shown':>8}{'refused':>9}{'failed':>8}{'seconds':>9}")
    all_failures = []
    with tempfile.TemporaryDirectory(prefix="cifar-doctor-names-") as tmp:
        for source in args.source:
            counts, failures, seconds = fuzz(source, args.n, args.seed, args.batch, Path(tmp))
            print(
                f"{source:<8}{counts['names']:>8}{counts['shown']:>8}{counts['refused']:>9}{counts['failed']:>8}"
                f"{seconds:>9.1f}",
                flush=True,
            )
            all_failures += [f"{source}: {f}" for f in failures]
            failed = failed or bool(failures)
    for line in all_failures[:40]:
        print(line)
    print(f"renderers per report: text at widths {', '.join(map(str, WIDTHS))}, markdown, html, json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
