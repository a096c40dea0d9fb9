"""Fit the reliability table (`cifar_doctor/data/calibration.json`) on the run corpus; report it out-of-fold.

Input: the rules' own verdicts on every trial, with their evidence patterns, as written by

    python -m bench.corpus.score --rules --inputs log data --out out/cal/rules-logdata.jsonl
    python -m bench.corpus.score --rules --inputs model+data --out out/cal/rules-model.jsonl

What is fitted (see `cifar_doctor.calibration` for how the table is used):
- the table: per evidence pattern, the runs that produced it and how many of them it got right
  (each run counts once per kind of input, however many log shapes it was rendered in);
- `prior_strength`: how many pseudo-runs of its parent pattern a pattern's frequency is shrunk
  towards, chosen from `PRIOR_STRENGTHS` by what the table promises, leave-one-fold-out: the
  largest gap between stated confidence and observed accuracy over the reliability bins that hold
  `MIN_BIN_VERDICTS` verdicts or more (`calibration_gap`), the log-loss of the stated confidences
  breaking ties;
- `abstain_below`: the frequency under which a verdict becomes `insufficient-evidence`, chosen
  from `ABSTAIN_GRID` to maximise right verdicts minus `FORBIDDEN_COST` times forbidden ones,
  leave-one-fold-out.

Out-of-fold: the corpus's families (data x model) are split into `score.FOLDS` folds. For each
fold, both constants are chosen and the table is fitted on the other folds only (the constants
by an inner leave-one-fold-out on those), then applied to the fold's trials. Every figure printed
is from those held-out applications; the shipped table is then fitted on every fold.

Usage (from the repository root):

    python -m bench.corpus.calibrate [--trials FILE ...] [--write]

`--write` writes the table fitted on the whole corpus into the package.

    python -m bench.corpus.calibrate --trials out/cal/rules-logdata.jsonl ... --carry data+model --write

refits the table on the log and data trials given and keeps the data + model patterns (and the two
constants, with which its out-of-fold figures are then computed) of the shipped table, for a change to
checks that never read a model: those trials need the kept models (`python -m bench.corpus` rebuilds
them, hours here), and a root's counts are the sums of its inputs' (`carried`), so the table is the one a refit on every trial would give, but for the
weights that keep the corpus's mix of kinds, set over the runs the given trials cover (refitted on the
trials of the shipped table, 69 of its 158 patterns moved by at most 0.05%).

    python -m bench.corpus.calibrate --held-out out/cal/draw5-logdata.jsonl out/cal/draw5-model.jsonl \
        --held-out-corpus out/corpus-draw5/runs.jsonl.gz

applies the shipped table, as the package does, to the trials of a draw (`python -m bench.corpus
--draw K`): runs of the same kinds from other seeds, which no rule, threshold or table saw. A draw
takes every kind equally often, where the corpus holds some kinds more than others (80 of its 440
runs are healthy): a verdict's precision depends on that mix (a `healthy` from a log is wrong more
often among runs that are mostly bugs), so the report gives the figures as drawn and with each
trial weighted by its kind's share of the corpus over its share of the draw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cifar_doctor.calibration import NEVER_ABSTAIN, PARTIAL_LOG, Table

from .load import load_runs
from .pack import PACKED
from .score import CONFIDENT, FOLDS, confidence_bins, input_kind, reliability

#: Where the package reads its table.
TABLE_PATH = Path(__file__).resolve().parents[2] / "cifar_doctor" / "data" / "calibration.json"

#: The trial files `score.py --rules` writes.
DEFAULT_TRIALS = (Path("out/cal/rules-logdata.jsonl"), Path("out/cal/rules-model.jsonl"))

#: Candidate pseudo-run counts for shrinking a pattern towards its parent.
PRIOR_STRENGTHS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

#: A reliability bin with fewer verdicts than this says too little to choose the prior strength by.
MIN_BIN_VERDICTS = 30

#: Gaps between stated and observed within this of each other count as equal when choosing the prior
#: strength; the log-loss decides among them. The expected calibration error was tried instead: it
#: prefers ever stronger shrinkage (32 pseudo-runs on every trial of the corpus and draws 2-4, against
#: 8 by this gap), and the table it gave stated every forbidden verdict of held-out draws 5 and 6 at
#: 0.7 or more (7.1% and 9.4% of their trials, against 5.3% and 7.3%), with a worse calibration error
#: on draw 6 (0.076 against 0.068).
CALIBRATION_GAP_RESOLUTION = 0.01

#: Candidate abstention thresholds; 0 never abstains.
ABSTAIN_GRID = (0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)

#: A forbidden verdict (a pipeline bug called overfitting or healthy, a healthy run called a bug)
#: sends the user to the wrong fix, which costs more than no verdict: it counts as this many misses.
FORBIDDEN_COST = 2.0


@dataclass
class Row:
    """One trial of the rules, as `score.py --rules` wrote it."""

    run_id: str
    fold: int
    kind: str
    source: str
    cause: str
    verdict: str
    keys: tuple[str, ...]
    right: bool
    forbidden: bool
    abstain_right: bool
    abstain_forbidden: bool
    rule_confidence: float
    weight: float = 1.0


@dataclass
class Applied:
    """A trial after the table: what the user would see."""

    row: Row
    verdict: str
    confidence: float
    right: bool
    forbidden: bool
    abstained: bool


def load_rows(paths: Iterable[Path]) -> list[Row]:
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as f:
            for line in f:
                t = json.loads(line)
                if not t["verdict"] or t["verdict"] == "error" or not t.get("keys"):
                    continue
                rows.append(
                    Row(
                        run_id=t["run_id"],
                        fold=t["fold"],
                        kind=t["keys"][1].split("|", 1)[1] if len(t["keys"]) > 1 else input_kind(t["source"]),
                        source=t["source"],
                        cause=t["cause"],
                        verdict=t["verdict"],
                        keys=tuple(t["keys"]),
                        right=t["verdict"] in t["accepted"],
                        forbidden=t["verdict"] in t["forbidden"],
                        abstain_right="insufficient-evidence" in t["accepted"],
                        abstain_forbidden="insufficient-evidence" in t["forbidden"],
                        rule_confidence=float(t["confidence"]),
                    )
                )
    per = Counter((r.run_id, r.kind) for r in rows)
    for r in rows:
        r.weight = 1.0 / per[(r.run_id, r.kind)]
    return rows


def keep_corpus_mix(rows: Sequence[Row], corpus_kinds: Counter[str], run_kinds: dict[str, str]) -> None:
    """Weight the runs of each kind so that the kinds keep their shares of the corpus (`corpus_kinds`)
    when trials of draws, which take every kind equally often, join the corpus's; the total weight
    stays the number of runs, which the shrinkage's pseudo-runs are measured against."""
    runs = {r.run_id for r in rows}
    present = Counter(run_kinds[i] for i in runs)
    scale = len(runs) / sum(corpus_kinds[k] for k in present)
    for r in rows:
        k = run_kinds[r.run_id]
        r.weight *= scale * corpus_kinds[k] / present[k]


def fit(rows: Sequence[Row], prior_strength: float, abstain_below: float, meta: dict | None = None) -> Table:
    """The table of `rows`. A pasted log (`PARTIAL_LOG`) is the same run's log again, cut: it gets patterns
    of its own but leaves each cause's root, the prior every kind is shrunk towards, to whole inputs, so
    adding such trials leaves every other pattern's confidence as it was."""
    nodes: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    whole = [r for r in rows if r.kind != PARTIAL_LOG]
    for r in rows:
        nodes[r.keys[0]]  # a cause's root exists, if only as the prior, for every pattern under it
        for key in r.keys if r.kind != PARTIAL_LOG else r.keys[1:]:
            nodes[key][0] += r.weight
            nodes[key][1] += r.weight * r.right
    total = sum(r.weight for r in whole)
    prior = sum(r.weight * r.right for r in whole) / total if total else 0.5
    return Table({k: (n, rr) for k, (n, rr) in nodes.items()}, prior_strength, abstain_below, prior, dict(meta or {}))


def carried(table: Table, kind: str) -> dict[str, tuple[float, float]]:
    """The nodes of one kind of input in `table` (`cause|kind` and finer), with the share of each cause's
    root they make up: what refitting on that kind's trials again would give, when no rule that reads
    it has changed. A root holds the sums of its kinds' nodes, and a kind's nodes only its own trials."""
    out: dict[str, tuple[float, float]] = {}
    for key, (n, r) in table.nodes.items():
        parts = key.split("|")
        if len(parts) >= 2 and parts[1] == kind:
            out[key] = (n, r)
            if len(parts) == 2:
                root = out.get(parts[0], (0.0, 0.0))
                out[parts[0]] = (root[0] + n, root[1] + r)
    return out


def with_carried(table: Table, nodes: dict[str, tuple[float, float]]) -> Table:
    """`table` with the `carried` nodes of another fit added in, and the prior over both."""
    merged = dict(table.nodes)
    for key, (n, r) in nodes.items():
        m = merged.get(key, (0.0, 0.0))
        merged[key] = (m[0] + n, m[1] + r)
    roots = [v for k, v in merged.items() if "|" not in k]
    total = sum(n for n, _ in roots)
    prior = sum(r for _, r in roots) / total if total else table.prior
    return Table(merged, table.prior_strength, table.abstain_below, prior, table.meta)


def apply(table: Table, r: Row) -> Applied:
    confidence, abstain = table.judge(r.keys, r.verdict)  # as `cifar_doctor.calibration.calibrate` decides
    if abstain:
        return Applied(r, "insufficient-evidence", confidence, r.abstain_right, r.abstain_forbidden, True)
    return Applied(r, r.verdict, confidence, r.right, r.forbidden, False)


def committed_verdicts(applied: Sequence[Applied]) -> list[Applied]:
    """The verdicts that commit to a cause: neither an abstention of the table nor a rule's own
    `insufficient-evidence` (`NEVER_ABSTAIN`), which the reliability bins leave out."""
    return [a for a in applied if not a.abstained and a.verdict not in NEVER_ABSTAIN]


def log_loss(applied: Sequence[Applied]) -> float:
    committed = committed_verdicts(applied)
    w = sum(a.row.weight for a in committed) or 1.0
    return -sum(a.row.weight * math.log(a.confidence if a.right else 1.0 - a.confidence) for a in committed) / w


def calibration_gap(applied: Sequence[Applied]) -> float:
    """The largest |stated - observed| over the reliability bins of committed verdicts with
    `MIN_BIN_VERDICTS` verdicts or more: how far the table's promise is off where it is measured."""
    committed = committed_verdicts(applied)
    bins = reliability(committed)
    return max((abs(stated - observed) for _, n, stated, observed in bins if n >= MIN_BIN_VERDICTS), default=0.0)


def calibration_error(applied: Sequence[Applied]) -> float:
    """The expected calibration error of the committed verdicts: the mean over verdicts of
    |stated - observed| in their reliability bin."""
    committed = committed_verdicts(applied)
    return sum(n * abs(stated - observed) for _, n, stated, observed in reliability(committed)) / max(len(committed), 1)


def utility(applied: Sequence[Applied]) -> float:
    return sum(a.row.weight * (a.right - FORBIDDEN_COST * a.forbidden) for a in applied)


def _inner(rows: Sequence[Row], prior_strength: float, abstain_below: float) -> list[Applied]:
    """Leave-one-fold-out applications within `rows`."""
    out: list[Applied] = []
    for k in sorted({r.fold for r in rows}):
        table = fit([r for r in rows if r.fold != k], prior_strength, abstain_below)
        out.extend(apply(table, r) for r in rows if r.fold == k)
    return out


def choose(rows: Sequence[Row]) -> tuple[float, float]:
    """(prior_strength, abstain_below) chosen by leave-one-fold-out within `rows`."""
    inner = {m: _inner(rows, m, 0.0) for m in PRIOR_STRENGTHS}
    m = min(
        PRIOR_STRENGTHS,
        key=lambda m: (round(calibration_gap(inner[m]) / CALIBRATION_GAP_RESOLUTION), log_loss(inner[m])),
    )
    # ties go to the lower threshold: abstain only where it pays
    a = max(ABSTAIN_GRID, key=lambda a: (round(utility(_inner(rows, m, a)), 6), -a))
    return m, a


def out_of_fold(
    rows: Sequence[Row], constants: tuple[float, float] | None = None
) -> tuple[list[Applied], dict[int, tuple[float, float]]]:
    """Each fold's trials under the table fitted on the other folds, with the two constants chosen on
    those folds too, or `constants` where they are kept (`--carry`)."""
    applied: list[Applied] = []
    chosen: dict[int, tuple[float, float]] = {}
    for k in range(FOLDS):
        train = [r for r in rows if r.fold != k]
        held = [r for r in rows if r.fold == k]
        if not held:
            continue
        m, a = constants or choose(train)
        chosen[k] = (m, a)
        table = fit(train, m, a)
        applied.extend(apply(table, r) for r in held)
    return applied, chosen


def report(applied: Sequence[Applied], rules: Sequence[Row], chosen: dict[int, tuple[float, float]], out=sys.stdout):
    def line(label: str, xs: Sequence[Applied], base: Sequence[Row]) -> None:
        n = len(xs)
        right = sum(a.right for a in xs)
        forb = sum(a.forbidden for a in xs)
        f7 = sum(a.forbidden and a.confidence >= CONFIDENT for a in xs)
        b_right = sum(r.right for r in base)
        b_forb = sum(r.forbidden for r in base)
        print(
            f"  {label:12} {right:5}/{n:<5} = {100 * right / max(n, 1):5.1f}% right, forbidden {forb:4} ({f7} at >= "
            f"{CONFIDENT}), abstained {sum(a.abstained for a in xs):4}   | rules: {100 * b_right / max(n, 1):5.1f}% "
            f"right, forbidden {b_forb}",
            file=out,
        )

    print(f"{len(applied)} trials on {len({a.row.run_id for a in applied})} runs, out-of-fold", file=out)
    print("\nChosen on the training folds (prior_strength, abstain_below):", file=out)
    for k, (m, a) in sorted(chosen.items()):
        print(f"  fold {k}: {m:g}, {a:g}", file=out)
    print("\nBy input (after the table | the rules alone)", file=out)
    for kind in ("log", PARTIAL_LOG, "data", "data+model"):
        xs = [a for a in applied if a.row.kind == kind]
        if xs:
            line(kind, xs, [a.row for a in xs])
    line("all", applied, rules)
    abst = [a for a in applied if a.abstained]
    if abst:
        print(
            f"\nAbstentions: {len(abst)}; the rules' verdict there was right {sum(a.row.right for a in abst)} times, "
            f"forbidden {sum(a.row.forbidden for a in abst)} times; abstaining was acceptable {sum(a.right for a in abst)}",
            file=out,
        )
        by = Counter(a.row.verdict for a in abst)
        print("  abstained from: " + ", ".join(f"{c} {n}" for c, n in by.most_common()), file=out)
    committed = committed_verdicts(applied)
    print("\nReliability of committed verdicts (bin: verdicts, mean stated confidence, observed accuracy)", file=out)
    for label, n, stated, observed in reliability(committed):
        print(f"  {label:12} {n:5}   stated {stated:.2f}   observed {observed:.2f}", file=out)
    print(f"  expected calibration error {calibration_error(applied):.3f}", file=out)
    pasted = [a for a in applied if a.row.kind == PARTIAL_LOG]
    if pasted:
        print(f"\n... of which on logs that start after training did ({PARTIAL_LOG})", file=out)
        for label, n, stated, observed in reliability(committed_verdicts(pasted)):
            print(f"  {label:12} {n:5}   stated {stated:.2f}   observed {observed:.2f}", file=out)
        print(f"  expected calibration error {calibration_error(pasted):.3f}", file=out)
    weighted_summary(
        applied,
        lambda a: a.row.weight,
        "Weighted as the table is fitted (each run once per kind of input, the kinds at the corpus's shares)",
        out,
    )
    print("\nThe rules alone, same bins (their severity-table confidences)", file=out)
    as_is = [Applied(r, r.verdict, r.rule_confidence, r.right, r.forbidden, False) for r in rules]
    for label, n, stated, observed in reliability(committed_verdicts(as_is)):
        print(f"  {label:12} {n:5}   stated {stated:.2f}   observed {observed:.2f}", file=out)


def weighted_summary(
    applied: Sequence[Applied], weight: Callable[[Applied], float], label: str, out=sys.stdout
) -> None:
    """Right and forbidden shares, by input and in all, and the reliability bins, with each trial counted
    `weight(trial)` times."""
    total = sum(weight(a) for a in applied) or 1.0
    right = sum(weight(a) * a.right for a in applied) / total
    forb = sum(weight(a) * a.forbidden for a in applied) / total
    confident = sum(weight(a) * (a.forbidden and a.confidence >= CONFIDENT) for a in applied) / total
    print(
        f"\n{label}: {100 * right:.1f}% right, forbidden {100 * forb:.1f}% of trials "
        f"({100 * confident:.1f}% at >= {CONFIDENT})",
        file=out,
    )
    for kind in ("log", "data", "data+model"):
        xs = [a for a in applied if a.row.kind == kind]
        t = sum(weight(a) for a in xs)
        if t:
            print(f"  {kind:12} {100 * sum(weight(a) * a.right for a in xs) / t:5.1f}% right", file=out)
    committed = committed_verdicts(applied)
    ece, n_all = 0.0, sum(weight(a) for a in committed) or 1.0
    for bin_label, band in confidence_bins(committed):
        w = sum(weight(a) for a in band)
        if not w:
            continue
        stated = sum(weight(a) * a.confidence for a in band) / w
        observed = sum(weight(a) * a.right for a in band) / w
        ece += w * abs(stated - observed)
        print(f"  {bin_label}  {len(band):5} verdicts   stated {stated:.2f}   observed {observed:.2f}", file=out)
    print(f"  expected calibration error {ece / n_all:.3f}", file=out)


def held_out_report(
    table: Table, rows: Sequence[Row], corpus_kinds: Counter[str], draw_kinds: dict[str, str], out=sys.stdout
) -> None:
    """The shipped table on a draw's trials: accuracy, forbidden verdicts and reliability, as drawn and
    reweighted to the corpus's mix of kinds (`draw_kinds`: run id -> kind)."""
    applied = [apply(table, r) for r in rows if r.run_id in draw_kinds]
    drawn = Counter(draw_kinds.values())

    def mix(a: Applied) -> float:
        k = draw_kinds[a.row.run_id]
        return corpus_kinds[k] / drawn[k] if drawn[k] else 0.0

    print(f"{len(applied)} held-out trials on {len({a.row.run_id for a in applied})} runs, the shipped table", file=out)
    weighted_summary(applied, lambda a: 1.0, "as drawn", out)
    weighted_summary(applied, mix, "corpus mix", out)


def corpus_digest(path: Path = PACKED) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=Path, nargs="+", default=list(DEFAULT_TRIALS), help="score.py --rules outputs")
    ap.add_argument("--write", action="store_true", help=f"write the table fitted on every fold to {TABLE_PATH}")
    ap.add_argument(
        "--draws",
        type=Path,
        nargs="+",
        help="the packed runs of draws whose trials --trials includes (fit on them too)",
    )
    ap.add_argument(
        "--held-out", type=Path, nargs="+", help="score.py --rules outputs on a draw: apply the shipped table"
    )
    ap.add_argument("--held-out-corpus", type=Path, help="the draw's packed runs (for their kinds)")
    ap.add_argument(
        "--carry",
        choices=("data+model",),
        help="keep this kind of input's patterns, and the two constants, from the shipped table (for a change "
        "that no check reading it saw: its trials need the kept models); --trials then holds the other kinds",
    )
    args = ap.parse_args(argv)
    if args.held_out:
        missing = [p for p in [*args.held_out, args.held_out_corpus] if p is None or not p.is_file()]
        if missing:
            print(
                "Error: --held-out needs its trial files and --held-out-corpus, the draw's runs.jsonl.gz",
                file=sys.stderr,
            )
            return 2
        table = Table.from_dict(json.loads(TABLE_PATH.read_text(encoding="utf-8")))
        corpus_kinds = Counter(r.kind for r in load_runs())
        draw_kinds = {r.run_id: r.kind for r in load_runs(args.held_out_corpus)}
        held_out_report(table, load_rows(args.held_out), corpus_kinds, draw_kinds)
        return 0
    missing = [p for p in args.trials if not p.is_file()]
    if missing:
        print(f"Error: no trials at {', '.join(map(str, missing))}; see the usage in {__file__}", file=sys.stderr)
        return 2
    rows = load_rows(args.trials)
    if args.draws:
        # draws join the corpus: every run weighted to keep the corpus's mix of kinds
        corpus = load_runs()
        run_kinds = {r.run_id: r.kind for r in corpus} | {r.run_id: r.kind for p in args.draws for r in load_runs(p)}
        keep_corpus_mix(rows, Counter(r.kind for r in corpus), run_kinds)
    shipped = Table.from_dict(json.loads(TABLE_PATH.read_text(encoding="utf-8"))) if args.carry else None
    if shipped is not None and any(r.kind == args.carry for r in rows):
        print(f"Error: --carry {args.carry} keeps that input's patterns; leave its trials out", file=sys.stderr)
        return 2
    kept = (shipped.prior_strength, shipped.abstain_below) if shipped is not None else None
    applied, chosen = out_of_fold(rows, kept)
    report(applied, rows, chosen)
    if shipped is not None:
        print(
            f"\n(--carry {args.carry}: the figures above are the other inputs', with the shipped table's two "
            "constants in every fold; its own are the shipped table's)"
        )
    if args.write:
        m, a = (shipped.prior_strength, shipped.abstain_below) if shipped is not None else choose(rows)
        oof = {
            "trials": len(applied),
            "right": sum(x.right for x in applied),
            "forbidden": sum(x.forbidden for x in applied),
            "forbidden_confident": sum(x.forbidden and x.confidence >= CONFIDENT for x in applied),
            "abstained": sum(x.abstained for x in applied),
        }
        meta = {
            "corpus": PACKED.name,
            "corpus_sha256_16": corpus_digest(),
            "runs": len({r.run_id for r in rows}),
            "trials": len(rows),
            "folds": FOLDS,
            "out_of_fold": oof,
            "fitted_by": "python -m bench.corpus.calibrate --write",
        }
        if args.draws:
            meta["draws"] = {p.name: corpus_digest(p) for p in args.draws}
            meta["fitted_by"] += " --draws " + " ".join(p.name for p in args.draws)
        if shipped is not None:
            meta["fitted_by"] += f" --carry {args.carry}"
            meta["carried"] = {
                "input": args.carry,
                "from": shipped.meta.get("fitted_by", ""),
                "out_of_fold": shipped.meta.get("out_of_fold", {}),
            }
        table = fit(rows, m, a, meta)
        if shipped is not None:
            table = with_carried(table, carried(shipped, args.carry))
        TABLE_PATH.write_text(json.dumps(table.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {TABLE_PATH} (prior_strength {m:g}, abstain_below {a:g}, {len(table.nodes)} patterns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
