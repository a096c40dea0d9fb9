"""Verdict accuracy on cases with known root causes (the `../shared/cases` layout).

Runs the engine on every case from every input its truth says the evidence is
detectable from, and scores the primary verdict:

- `real-logs/cases.json` + `real-logs/logs/`: `check --log` on each posted log;
  right when the verdict is accepted for one of the case's root causes
  (`ACCEPTED`, the table of the cases' README).
- `reenact/<case>/`: `check --log` on `log-verbose1.txt` and `log-verbose2.txt`
  (when `detectable_from.log`), on `history.json` and `history.csv` (unless
  `detectable_from.history` is false), `check --data data.npz` (when
  `detectable_from.data`) and `check --data data.npz --model model.keras` (when
  `detectable_from["model+data"]`). Right when the verdict is in
  `expected_causes` or `also_acceptable`; **forbidden** when it is in
  `must_not_report_as_primary`. `data.npz` and `model.keras` are not stored with
  the cases: they are looked up in the case folder, then in `--artifacts DIR/<case>/`;
  `--rebuild` runs each case's `program.py --outdir` for those missing
  (about a minute each on 2 cores).

A real log has no forbidden list of its own; a verdict that sends its user the
wrong way counts as forbidden there too (`REAL_FORBIDDEN`): a pipeline bug
called `healthy` or `overfitting`, or a healthy/overfitting run called a pipeline bug.

Usage:

    python bench/accuracy.py ../shared/cases [--artifacts out/cases] [--rebuild] [--only 07] [-v]
    python bench/accuracy.py --corpus [PACKED] [--inputs log data model+data]   # the run corpus

Prints a confusion table (expected cause x verdict given), every miss with the
verdict given, and ends with one line: `accuracy R/N = X%, forbidden F`.
A calibration table (right / total by confidence band) comes before it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

#: Root cause of a real log -> the primary verdicts accepted for it (cases README).
ACCEPTED: dict[str, set[str]] = {
    "overfitting": {"overfitting"},
    "test-input-not-normalized": {"eval-input-scale-mismatch", "eval-distribution-shift"},
    "input-not-normalized": {"input-not-normalized", "not-learning"},
    "label-format-mismatch": {"label-format-mismatch"},
    "wrong-output-activation": {"output-loss-mismatch"},
    "from-logits-mismatch": {"output-loss-mismatch"},
    "metric-mismatch": {"label-format-mismatch", "output-loss-mismatch"},
    "learning-rate-too-high": {"unstable-training", "not-learning", "numerical-instability"},
    "learning-rate-too-low": {"underfitting", "not-learning"},
    "validation-split-unshuffled": {"eval-distribution-shift", "eval-labels-misaligned"},
    "data-leakage": {"train-test-leakage"},
    "dropout-bn-train-eval-gap": {"regularization-gap", "eval-distribution-shift"},
    "class-imbalance": {"class-imbalance", "eval-distribution-shift"},
    "augmentation-only-on-train": {"regularization-gap", "eval-distribution-shift"},
    "underfitting": {"underfitting"},
    "healthy-no-issue": {"healthy", "regularization-gap"},
}

#: Verdicts that send the user of a real log the wrong way, by root-cause kind.
PIPELINE_VERDICTS = {
    "eval-input-scale-mismatch",
    "input-not-normalized",
    "label-format-mismatch",
    "output-loss-mismatch",
    "train-test-leakage",
    "eval-labels-misaligned",
}
REAL_FORBIDDEN: dict[str, set[str]] = {
    "overfitting": PIPELINE_VERDICTS | {"healthy"},
    "healthy-no-issue": PIPELINE_VERDICTS | {"overfitting"},
    "test-input-not-normalized": {"overfitting", "healthy"},
    "label-format-mismatch": {"overfitting", "healthy"},
    "wrong-output-activation": {"overfitting", "healthy"},
    "from-logits-mismatch": {"overfitting", "healthy"},
    "metric-mismatch": {"overfitting", "healthy"},
    "validation-split-unshuffled": {"overfitting", "healthy"},
    "data-leakage": {"healthy"},
    "learning-rate-too-high": {"healthy", "overfitting"},
}


@dataclass
class Trial:
    case: str
    source: str
    expected: list[str]
    accepted: set[str]
    forbidden: set[str]
    verdict: str = ""
    confidence: float = 0.0
    error: str = ""
    seconds: float = 0.0

    @property
    def right(self) -> bool:
        return self.verdict in self.accepted

    @property
    def is_forbidden(self) -> bool:
        return self.verdict in self.forbidden


def diagnose(*, data: Path | None = None, model: Path | None = None, log: Path | None = None) -> tuple[str, float]:
    """The primary verdict of `cifar-doctor check` on these inputs, through the library (`cifar_doctor.diagnose`)."""
    from cifar_doctor.api import diagnose as run_diagnosis

    report = run_diagnosis(data=data, model=model, history=log)
    return report.verdict.cause, report.verdict.confidence


def real_log_trials(root: Path) -> list[Trial]:
    spec = json.loads((root / "cases.json").read_text())
    cases = spec["cases"] if isinstance(spec, dict) else spec
    out = []
    for c in cases:
        causes = list(c["root_causes"])
        accepted = set().union(*(ACCEPTED.get(rc, set()) for rc in causes))
        forbidden = set().union(*(REAL_FORBIDDEN.get(rc, set()) for rc in causes)) - accepted
        t = Trial(f"real/{c['id']}", "log", causes, accepted, forbidden)
        t.path = root / c["file"]  # type: ignore[attr-defined]
        out.append(t)
    return out


def artifact(case_dir: Path, name: str, artifacts: Path | None) -> Path | None:
    for d in (case_dir, artifacts / case_dir.name if artifacts else None):
        if d is not None and (d / name).is_file():
            return d / name
    return None


def rebuild(case_dir: Path, artifacts: Path) -> None:
    out = artifacts / case_dir.name
    out.mkdir(parents=True, exist_ok=True)
    print(f"  rebuilding {case_dir.name} into {out} ...", file=sys.stderr, flush=True)
    subprocess.run(
        [sys.executable, str(case_dir / "program.py"), "--verbose", "2", "--outdir", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def reenact_trials(root: Path, artifacts: Path | None, do_rebuild: bool) -> list[Trial]:
    out = []
    for case_dir in sorted(p for p in root.iterdir() if (p / "truth.json").is_file()):
        truth = json.loads((case_dir / "truth.json").read_text())
        det = truth.get("detectable_from", {})
        accepted = set(truth["expected_causes"]) | set(truth.get("also_acceptable", []))
        forbidden = set(truth.get("must_not_report_as_primary", []))
        name = f"reenact/{case_dir.name}"

        def trial(
            source: str,
            name: str = name,
            truth: dict = truth,
            accepted: set[str] = accepted,
            forbidden: set[str] = forbidden,
            **paths: Path | None,
        ) -> None:
            t = Trial(name, source, list(truth["expected_causes"]), accepted, forbidden)
            t.paths = paths  # type: ignore[attr-defined]
            out.append(t)

        if det.get("log"):
            for f in ("log-verbose1.txt", "log-verbose2.txt"):
                if (case_dir / f).is_file():
                    trial(f, log=case_dir / f)
            if det.get("history", True):
                for f in ("history.json", "history.csv"):
                    if (case_dir / f).is_file():
                        trial(f, log=case_dir / f)
        needs_arrays = det.get("data") or det.get("model+data")
        if (
            needs_arrays
            and do_rebuild
            and artifacts
            and (
                artifact(case_dir, "data.npz", artifacts) is None
                or (det.get("model+data") and artifact(case_dir, "model.keras", artifacts) is None)
            )
        ):
            rebuild(case_dir, artifacts)
        data = artifact(case_dir, "data.npz", artifacts)
        model = artifact(case_dir, "model.keras", artifacts)
        if det.get("data"):
            trial("data", data=data)
        if det.get("model+data"):
            trial("model+data", data=data, model=model)
    return out


def run_trial(t: Trial) -> None:
    t0 = time.perf_counter()
    try:
        if hasattr(t, "path"):
            t.verdict, t.confidence = diagnose(log=t.path)  # type: ignore[attr-defined]
        else:
            paths = t.paths  # type: ignore[attr-defined]
            missing = [k for k, v in paths.items() if v is None]
            if missing:
                t.verdict, t.error = "not-run", f"no {' or '.join(missing)} (build it with --rebuild)"
            else:
                t.verdict, t.confidence = diagnose(**paths)
    except Exception as exc:  # a refused input counts as wrong
        t.verdict, t.error = "error", f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    t.seconds = time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", type=Path, nargs="?", help="the cases folder (real-logs/ and reenact/)")
    ap.add_argument(
        "--corpus",
        nargs="?",
        const="",
        default=None,
        metavar="PACKED",
        help="score the generated run corpus instead (bench/corpus/score.py: every flag after it is its own)",
    )
    ap.add_argument(
        "--artifacts",
        type=Path,
        default=Path("out/cases"),
        help="where rebuilt data.npz/model.keras live, one folder per case (default out/cases)",
    )
    ap.add_argument("--rebuild", action="store_true", help="run program.py for cases whose arrays are missing")
    ap.add_argument("--only", default=None, help="only cases whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every trial, not only the misses")
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--corpus" in argv:  # the corpus scorer takes every flag after --corpus
        at = argv.index("--corpus")
        rest = argv[:at] + argv[at + 1 :]
        if at + 1 < len(argv) and not argv[at + 1].startswith("-"):
            rest = argv[:at] + ["--corpus", argv[at + 1]] + argv[at + 2 :]
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from bench.corpus.score import main as score_corpus

        return score_corpus(rest)
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.cases is None or not args.cases.is_dir():
        print(f"Error: {args.cases} is not a folder of cases", file=sys.stderr)
        return 2
    trials: list[Trial] = []
    if (args.cases / "real-logs" / "cases.json").is_file():
        trials += real_log_trials(args.cases / "real-logs")
    if (args.cases / "reenact").is_dir():
        trials += reenact_trials(args.cases / "reenact", args.artifacts, args.rebuild)
    if args.only:
        trials = [t for t in trials if args.only in t.case]
    for t in trials:
        run_trial(t)
        if args.verbose:
            mark = "ok " if t.right else ("FORBIDDEN" if t.is_forbidden else "miss")
            print(f"{mark:9} {t.case:42} {t.source:17} {t.verdict} ({t.confidence:.2f}) {t.error}", flush=True)

    scored = [t for t in trials if t.verdict != "not-run"]
    skipped = [t for t in trials if t.verdict == "not-run"]
    # confusion: expected (first accepted cause) x verdict given
    table: dict[str, Counter] = defaultdict(Counter)
    for t in scored:
        table[t.expected[0]][t.verdict] += 1
    print("\nConfusion (rows: expected cause, columns: primary verdict given)")
    w = max([len(v) for v in table] + [8])
    for row in sorted(table):
        cells = ", ".join(f"{v} {n}" for v, n in table[row].most_common())
        print(f"  {row:{w}}  {cells}")
    misses = [t for t in scored if not t.right]
    print(f"\nMisses ({len(misses)}):")
    for t in misses:
        tag = "FORBIDDEN " if t.is_forbidden else ""
        print(
            f"  {tag}{t.case} [{t.source}]: {t.verdict} ({t.confidence:.2f}), expected "
            f"{' / '.join(sorted(t.accepted))}{'  ' + t.error if t.error else ''}"
        )
    if skipped:
        print(f"\nNot run ({len(skipped)}): " + ", ".join(f"{t.case} [{t.source}]" for t in skipped))
    print("\nCalibration (right / verdicts, by confidence)")
    for lo, hi in ((0.9, 1.01), (0.7, 0.9), (0.0, 0.7)):
        band = [t for t in scored if lo <= t.confidence < hi and t.verdict not in ("error",)]
        if band:
            print(f"  [{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}: {sum(t.right for t in band)}/{len(band)}")
    by_kind = Counter()
    for t in scored:
        by_kind[(t.case.split("/")[0], t.right)] += 1
    for kind in ("real", "reenact"):
        n = by_kind[(kind, True)] + by_kind[(kind, False)]
        if n:
            print(f"  {kind}: {by_kind[(kind, True)]}/{n} right")
    right = sum(t.right for t in scored)
    forbidden = sum(t.is_forbidden for t in scored)
    n = len(scored)
    print(f"accuracy {right}/{n} = {100.0 * right / max(n, 1):.1f}%, forbidden {forbidden}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
