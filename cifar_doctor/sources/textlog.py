"""Training histories from the printouts of custom training loops.

`cifar_doctor.sources.logs.read_history` reads Keras' own output first; when
a log holds no Keras epoch it hands the same text to `TextLogReader`, which
reads what people print from their own loops:

- multi-line blocks (Lasagne): `Epoch 1 of 500 took 1.858s` then
  `  training loss:  1.233348` and `  validation accuracy:  88.78 %`;
- one line per epoch in any spelling: `epoch [1]: training loss: 2.27 -
  acc: 0.50 - val_loss: 3.29`, `Epoch: 0198 train_loss= 0.40438 ...`,
  `Epoch 3 - loss = 0.5, val_loss = 0.7`, `Iter 5120: Testing Accuracy = 0.43`;
- one line per step with no epoch marker, behind logging prefixes:
  `2018-03-23 15:29:33,355:INFO: train loss:1.10886`;
- tables: a header row of metric names, then a row of numbers per epoch, as
  `print(pd.DataFrame(history.history))` and fastai's `fit` print them
  (`       loss  accuracy  val_loss` then `0  1.823412  0.334500  1.602311`),
  Markdown and box-drawn tables included (`_Table`).

A line is read as `name: value`, `name= value`, `name=value` or `name value`
pairs. An epoch/iteration header (`Epoch N`, `Epoch N of M`, `Epoch: 0199`,
`epoch [N]`, `epoch N/M`, `Iter N`, `Iteration N`, `Step N`) starts a
record, and the pairs of the following lines belong to it until the next
header (except new names printed after an epoch that is already complete, a
test result or a line after other text: an evaluation). Without headers, a
line whose metrics are already in the current record, or that would make it
differ from the record before, starts a new one. The main series is the largest group of records
with the same metric names that includes a loss or an accuracy; a metric is
kept only when every record of that series has it. Other records with a loss
or an accuracy become `History.evaluations`.

Names are mapped onto Keras History names (`train loss` -> `loss`,
`validation accuracy` -> `val_accuracy`, `Testing Accuracy` ->
`test_accuracy`, and `test_*` -> `val_*` when nothing `val_*` was printed:
the test split is then the held-out split evaluated during training). The
mapping is reported in `History.read_as["mapping"]`.

Input is fed in pieces (`feed`), lines over `MAX_LINE` characters are skipped
and at most `MAX_KEPT_RECORDS` records are kept (a longer series is sampled
evenly), so memory stays bounded on any input. Nothing here imports
TensorFlow or NumPy.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

from ..records import History
from .history import intermittent_validation
from .metric_keys import (
    HEADER_BRACKETS,
    HEADER_WORDS,
    SPLIT_PREFIXES,
    Key,
    is_accuracy,
    is_core,
    metric_name,
    read_key,
    split_context,
)

#: Longest line read, in characters; a longer line is skipped. Printed metric
#: lines are a few hundred characters; the cap bounds memory on input with no
#: line breaks. Same value as `logs.MAX_SEGMENT`.
MAX_LINE = 16_384

#: Words of a key kept before its value (`Test ROC score` is three). A longer
#: run of words is prose, whose last words still name the value.
MAX_KEY_WORDS = 3

#: Metric pairs read from one line; a line with more is a dump, not a log line.
MAX_PAIRS_PER_LINE = 64

#: Records kept in memory. A log of one line per step can hold millions of
#: records; past this count the largest group keeps every 2nd, then every
#: 4th, ... record, which still shows the shape of a long series.
MAX_KEPT_RECORDS = 100_000

#: Distinct key sets (groups of records) tracked. Real logs have a handful;
#: random text could make one per line.
MAX_GROUPS = 256

#: Evaluation results kept (the last ones). A real log prints a few.
MAX_EVALUATIONS = 100

#: Distinct key names remembered for the mapping and for the refusal message.
MAX_KEY_NAMES = 256

#: Key names quoted in the refusal message.
MAX_FOUND_KEYS_SHOWN = 12

#: Printed spellings remembered per metric for the mapping.
MAX_SPELLINGS = 3

#: Characters of a printed key read (its end, next to the value). Real keys
#: are under 40 characters; the cap bounds the key cache on odd input.
MAX_KEY_CHARS = 60

#: Longest printed epoch or step number read as a header (a billion steps).
MAX_HEADER_DIGITS = 9

_ANSI_RE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
#: Dates and clock times of logging prefixes; replaced by a delimiter so that
#: `15:29:33,355:INFO: train loss:1.1` does not read `15:29` as a pair.
_STAMP_RE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T ]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
)
#: One token per match, with the blanks and quotes before it; the outer group
#: of each alternative closes last, so `match.lastgroup` names the token kind.
_TOKEN_RE = re.compile(
    r"[\s\"']*(?:(?P<value>(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?:/(?P<den>\d+)(?![\d.]))?"
    r"(?P<unit>\s*%|[A-Za-zµ_][\w/]*)?)"
    r"|(?P<special>[-+]?(?:nan|inf(?:inity)?)\b)"
    r"|(?P<word>[A-Za-z][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*)"
    r"|(?P<sep>[:=])"
    r"|(?P<other>.))",
    re.IGNORECASE,
)
_VALUE_HINT_RE = re.compile(r"\d|nan|inf", re.IGNORECASE)
#: Cell separators of a table: blanks, and the bars of Markdown and box-drawn tables.
_TABLE_SPLIT_RE = re.compile(r"[\s|\u2502\u2503\u2551]+")
#: A column name: one word, no number of its own (`val_loss`, `top-5`, `lr`).
_TABLE_NAME_RE = re.compile(r"[A-Za-z_#][\w.\-/@#]*")
#: A number standing on its own (`Epoch 1/5`, `loss: 1.2`, a time stamp): a line with one is no header row.
_TABLE_NUMBER_RE = re.compile(r"(?:^|[\s|:=,(\[])[-+.]?\d")
#: A rule between a table's header and its rows (`|---|:--:|`, `+=====+`, box drawing).
_TABLE_RULE_RE = re.compile(r"[\s|:+=\-\u2500-\u257f]+")


def split_breaks(text: str) -> list[str]:
    """`text` split at newlines, carriage returns (progress redraws) and backspaces.

    The first piece continues the line before `text`, the last one is continued
    by the text after it. A run of breaks gives empty pieces, which readers skip.
    `str.replace` and `str.split` scan at C speed, so a gigabyte with no break
    at all passes in about a second.
    """
    return text.replace("\r", "\n").replace("\x08", "\n").split("\n")


@dataclass
class BoundedLines:
    """Lines of a stream fed in arbitrary pieces, each at most `limit` characters.

    `feed(text)` returns the lines that `text` completed; `close()` the
    unterminated last one. A line longer than `limit` is dropped whole (a
    progress line is far shorter; anything longer is not one), so memory stays
    bounded however long a line a file holds.
    """

    limit: int
    _pending: str = ""
    _skipping: bool = False

    def feed(self, text: str) -> list[str]:
        lines = split_breaks(text)
        out: list[str] = []
        self._take(lines[0])
        if len(lines) > 1:
            if not self._skipping and self._pending:
                out.append(self._pending)
            self._pending, self._skipping = "", False
            out.extend(line for line in itertools.islice(lines, 1, len(lines) - 1) if line and len(line) <= self.limit)
            self._take(lines[-1])
        return out

    def close(self) -> str | None:
        last = self._pending if self._pending and not self._skipping else None
        self._pending, self._skipping = "", False
        return last

    def _take(self, piece: str) -> None:
        if self._skipping or not piece:
            return
        room = self.limit - len(self._pending)
        if len(piece) > room:
            self._pending += piece[:room]
            self._skipping = True
        else:
            self._pending += piece


@dataclass
class _Line:
    """The pairs of one line: its header, its metrics, the names of its other keys."""

    header: tuple[str, int] | None = None
    metrics: list[tuple[Key, str, float]] = field(default_factory=list)
    others: list[str] = field(default_factory=list)


def _scan(line: str) -> _Line:
    out = _Line()
    words: list[str] = []
    sep = False
    split = ""
    for m in _TOKEN_RE.finditer(line):
        kind = m.lastgroup
        if kind == "word":
            if sep:
                context = split_context(words)
                if context is not None:
                    split = context
                words, sep = [], False
            words.append(m.group("word"))
        elif kind == "sep":
            sep = sep or bool(words)
            if len(words) > MAX_KEY_WORDS:
                del words[:-MAX_KEY_WORDS]
        elif kind == "other":
            if not (words and not sep and m.group("other") in HEADER_BRACKETS and words[-1].lower() in HEADER_WORDS):
                words, sep = [], False  # "epoch [1]", "Epoch #3" keep their header word
        else:
            # a number or a nan/inf after a name pairs with it, with or without a `:` or `=` (`train loss nan`)
            if words and (kind in ("value", "special") or sep) and len(out.metrics) < MAX_PAIRS_PER_LINE:
                _pair(out, read_key(" ".join(words[-MAX_KEY_WORDS:])[-MAX_KEY_CHARS:], split), m)
            words, sep = [], False
    return out


def _pair(out: _Line, key: Key, m: re.Match) -> None:
    num, den, unit = m.group("num"), m.group("den"), (m.group("unit") or "").strip()
    if (
        key.header is not None
        and out.header is None
        and not out.metrics
        and num is not None
        and not unit
        and num.lstrip("+").isdigit()
        and len(num) <= MAX_HEADER_DIGITS
    ):
        out.header = (key.header, int(num))
        out.others.append(key.snake)
        return
    if key.name is None or (unit and unit != "%"):  # `took 1.858s`: a value with a unit is no metric
        out.others.append(key.snake)
        return
    value = float(num if num is not None else m.group("special").lower())
    if (
        den is not None
        and num is not None
        and num.lstrip("+-").isdigit()
        and len(den) <= MAX_HEADER_DIGITS
        and int(den) > 0
    ):
        value /= int(den)  # "Accuracy: 9695/10000"
    if unit == "%":
        value /= 100.0
    out.metrics.append((key, key.name, value))


@dataclass(frozen=True)
class _Table:
    """The header row of a table: each column's key (`None` for a column that is no metric).

    `epoch` is the position of an `epoch` column, if any.
    """

    columns: tuple[Key | None, ...]
    epoch: int | None


def _table_header(line: str) -> _Table | None:
    """The table whose header row `line` is, or None.

    A header row is words only, at least two of them metric names, one a loss or an
    accuracy; a split word before a metric word is one name (`Train Loss`, `Valid Acc`).
    """
    if _TABLE_NUMBER_RE.search(line):
        return None  # most log lines: cheap to rule out before splitting
    cells = [c for c in _TABLE_SPLIT_RE.split(line) if c]
    if not 2 <= len(cells) <= MAX_PAIRS_PER_LINE or not all(_TABLE_NAME_RE.fullmatch(c) for c in cells):
        return None
    names: list[str] = []
    for cell in cells:
        if names and names[-1].lower() in SPLIT_PREFIXES and metric_name(cell) is not None:
            names[-1] += " " + cell
        else:
            names.append(cell)
    keys = [read_key(n, "") for n in names]
    metrics = [k.name for k in keys if k.name is not None]
    if len(metrics) < 2 or not any(is_core(m) for m in metrics):
        return None
    epoch = next((i for i, k in enumerate(keys) if k.header == "epoch"), None)
    return _Table(tuple(k if k.name is not None else None for k in keys), epoch)


def _table_cell(cell: str) -> float | None:
    text = cell.rstrip("%")
    try:
        value = float(text)
    except ValueError:
        return None
    return value / 100.0 if text != cell else value


def _table_row(line: str, table: _Table) -> tuple[int | None, list[tuple[Key, str, float]]] | None:
    """`(printed number, metrics)` of a row of `table`, or None when `line` is no row of it.

    A row has one cell per column, or one more in front: an integer index
    (pandas). Every metric cell is a number (`nan` allowed); other cells (`time`,
    `00:45`) are skipped.
    """
    cells = [c for c in _TABLE_SPLIT_RE.split(line) if c]
    number: int | None = None
    if len(cells) == len(table.columns) + 1 and cells[0].isdigit():
        number = int(cells[0])
        cells = cells[1:]
    if len(cells) != len(table.columns):
        return None
    metrics: list[tuple[Key, str, float]] = []
    for i, (key, cell) in enumerate(zip(table.columns, cells)):
        if i == table.epoch:
            if not cell.isdigit() or len(cell) > MAX_HEADER_DIGITS:
                return None
            number = int(cell)
        elif key is not None and key.name is not None:
            value = _table_cell(cell)
            if value is None:
                return None
            metrics.append((key, key.name, value))
    return (number, metrics) if metrics else None


@dataclass
class _Record:
    """The record being read: a header's number and kind (`None` without a header) and its values."""

    number: int | None
    kind: str | None
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class _Group:
    """Records with one key set: the kept rows `(sequence, number, values)`, sampled every `stride`."""

    kind: str | None
    keys: tuple[str, ...]
    rows: list[tuple[int, int, tuple[float, ...]]] = field(default_factory=list)
    count: int = 0
    stride: int = 1


@dataclass
class TextLog:
    """What `TextLogReader` read from a log.

    Args:
        metrics: Keras History name -> one value per record of the main series.
            Empty when the log holds no metric series.
        index: The printed epoch/step number of each record, or `None` when
            they are 1..N. Defaults to `None`.
        index_kind: `"epoch"` or `"step"`. Defaults to `"epoch"`.
        evaluations: Records outside the main series with a loss or an
            accuracy, as `{"loss": .., "accuracy": ..}`. Defaults to `[]`.
        mapping: Printed key -> Keras History name, for the main series.
            Defaults to `{}`.
        records: Records in the main series. Defaults to `0`.
        lines: Non-empty lines read. Defaults to `0`.
        truncated: The last record lacks some of the series' metrics (a run
            killed mid-epoch) and was dropped. Defaults to `False`.
        found_keys: Every key seen, metric or not, for the refusal message.
            Defaults to `()`.
        runs: Training runs in the log (epoch numbers starting over); the
            last one is read. Defaults to `1`.
        sampled_every: `n` when only every n-th record of a very long series
            was kept. Defaults to `1`.
        gaps: Metric name -> positions of records without it: validation metrics
            printed every few epochs only (`validation_freq`). Defaults to `{}`.

    Example:

    >>> r = TextLogReader()
    >>> r.feed("Epoch 1: train loss: 1041.52 - validation loss: 1045.89\\n")
    >>> r.finish().metrics
    {'loss': [1041.52], 'val_loss': [1045.89]}
    """

    metrics: dict[str, list[float]]
    index: list[int] | None = None
    index_kind: str = "epoch"
    evaluations: list[dict[str, float]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    records: int = 0
    lines: int = 0
    truncated: bool = False
    found_keys: tuple[str, ...] = ()
    runs: int = 1
    sampled_every: int = 1
    gaps: dict[str, list[int]] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        """What was found, for a refusal: `412 lines, no per-epoch or per-step metric values; found keys: ...`."""
        keys = list(self.found_keys[:MAX_FOUND_KEYS_SHOWN])
        if len(self.found_keys) > MAX_FOUND_KEYS_SHOWN:
            keys.append("...")
        return (
            f"{self.lines} lines, no per-epoch or per-step metric values; "
            f"found keys: {', '.join(keys) if keys else 'none'}"
        )

    def read_as(self) -> dict[str, object]:
        """The `History.read_as` entry: format, records, index kind, mapping."""
        out: dict[str, object] = {
            "format": "custom",
            "records": self.records,
            "index_kind": self.index_kind,
            "mapping": dict(self.mapping),
        }
        if self.runs > 1:
            out["runs"] = self.runs
        if self.sampled_every > 1:
            out["sampled_every"] = self.sampled_every
        return out

    def history(self, classes: int | None = None, source: str | None = None) -> History:
        """The `History` of the main series.

        Args:
            classes: Number of classes, if known. Defaults to `None`.
            source: Where the log came from, for the report. Defaults to `None`.
        """
        return History(
            metrics={k: list(v) for k, v in self.metrics.items()},
            evaluations=[dict(e) for e in self.evaluations],
            flavor="unknown",
            classes=classes,
            source=source,
            truncated=self.truncated,
            index=list(self.index) if self.index is not None else None,
            index_kind=self.index_kind,
            gaps={k: list(v) for k, v in self.gaps.items()},
            read_as=self.read_as(),
        )


@dataclass
class TextLogReader:
    """Incremental reader of the printouts of custom training loops.

    Feed it text in pieces of any size; `finish()` returns the `TextLog`.

    Example:

    >>> r = TextLogReader()
    >>> r.feed("Epoch 1 of 500 took 1.858s\\n  training loss:  1.233348\\n")
    >>> r.feed("  validation loss:  0.405868\\n  validation accuracy:  88.78 %\\n")
    >>> log = r.finish()
    >>> log.metrics["val_accuracy"], log.mapping["validation accuracy"]
    ([0.8878], 'val_accuracy')
    """

    lines: int = 0
    _lines: BoundedLines = field(default_factory=lambda: BoundedLines(MAX_LINE))
    _current: _Record | None = None
    _shape: frozenset[str] | None = None  # key set of the last headerless record
    _header_shape: frozenset[str] | None = None  # key set of the last header record
    _last_number: dict[str, int] = field(default_factory=dict)
    _last_kind: str | None = None
    _groups: dict[tuple[str | None, frozenset[str]], _Group] = field(default_factory=dict)
    _kept: int = 0
    _seq: int = 0
    _headerless: int = 0
    _runs: int = 1
    _dangling: bool = False
    _cut: bool = False
    _prose: bool = False  # the previous line had no header and no metric (text, a warning)
    _table: _Table | None = None  # the table whose rows follow
    _table_rows: int = 0
    _table_offset: int = 0  # added to its printed numbers: 1 when they start at 0 (pandas' index, fastai)
    _spellings: dict[str, list[str]] = field(default_factory=dict)
    _keys: dict[str, None] = field(default_factory=dict)

    # --- streaming ----------------------------------------------------------------
    def feed(self, text: str) -> None:
        """Read `text`, any piece of the log."""
        for line in self._lines.feed(text):
            self._line(line)

    def finish(self) -> TextLog:
        """End of input: read the unterminated last line and return what was read."""
        last = self._lines.close()
        if last is not None:
            self._line(last)
        cur = self._current
        if cur is not None:
            # the last record stopped early: a header with nothing after it, or fewer
            # metrics than the record before (a run killed mid-epoch): dropped
            prior = self._shape if cur.kind is None else self._header_shape
            self._dangling = cur.kind is not None and not cur.values
            if prior is not None and cur.values and set(cur.values) < prior:
                self._current, self._cut = None, True
        self._close()
        return self._result()

    # --- one line -----------------------------------------------------------------
    def _line(self, raw: str) -> None:
        if "\x1b" in raw:
            raw = _ANSI_RE.sub("", raw)
        line = raw.strip()
        if not line:
            return
        self.lines += 1
        if self._table_line(line):
            return
        if not _VALUE_HINT_RE.search(line):  # no digit, no nan/inf: text, a warning, a traceback
            self._prose = True
            return
        scan = _scan(_STAMP_RE.sub(" | ", line))
        for key in scan.others:
            self._remember_key(key)
        if scan.header is not None:
            self._header(*scan.header)
        if scan.metrics:
            self._add(scan.metrics)
        self._prose = scan.header is None and not scan.metrics

    def _table_line(self, line: str) -> bool:
        """Read `line` as a table's header, rule or row; False when it is none of them."""
        table = self._table
        if table is not None:
            if _TABLE_RULE_RE.fullmatch(line):
                return True
            row = _table_row(line, table)
            if row is not None:
                number, metrics = row
                if number is None:
                    number = self._table_rows
                if self._table_rows == 0:
                    self._table_offset = 1 if number == 0 else 0
                self._table_rows += 1
                self._header("epoch", number + self._table_offset)
                self._add(metrics)
                self._prose = False
                return True
            self._table = None
        header = _table_header(line)
        if header is None:
            return False
        self._close()
        self._table, self._table_rows = header, 0
        for key in header.columns:
            if key is not None:
                self._remember_key(key.snake)
        self._prose = False
        return True

    def _remember_key(self, key: str) -> None:
        if key and key not in self._keys and len(self._keys) < MAX_KEY_NAMES:
            self._keys[key] = None

    def _header(self, kind: str, number: int) -> None:
        cur = self._current
        if cur is not None and cur.kind == kind and cur.number == number:
            return  # the same epoch printed again (a redrawn progress line): one record
        self._close()
        last = self._last_number.get(kind)
        if last is not None and number <= last and self._last_kind == kind:
            self._new_run()  # the numbers start over: a new training run, the last one is read
        self._last_number[kind], self._last_kind = number, kind
        self._current = _Record(number, kind)

    def _add(self, metrics: list[tuple[Key, str, float]]) -> None:
        for key, name, _ in metrics:
            self._remember_key(key.snake)
            spellings = self._spellings.get(name)
            if spellings is None and len(self._spellings) < MAX_KEY_NAMES:
                spellings = self._spellings[name] = []
            if spellings is not None and key.raw not in spellings and len(spellings) < MAX_SPELLINGS:
                spellings.append(key.raw)
        names = {name for _, name, _ in metrics}
        cur = self._current
        if cur is not None and cur.kind is not None:
            # Every pair until the next header belongs to the header's record, except
            # new names after an epoch that is already complete (as the previous
            # one was) that are a test result or follow other text (`Optimization
            # Finished!`): an evaluation after training, a record of its own.
            shape = self._header_shape
            split_off = (
                shape is not None
                and set(cur.values) >= shape
                and not names & shape
                and (self._prose or all(n.startswith("test_") for n in names))
            )
            if not split_off:
                cur.values.update((name, value) for _, name, value in metrics)
                return
            self._close()
            cur = None
        if cur is not None:
            keys = set(cur.values)
            if not keys & names and (self._shape is None or keys | names <= self._shape):
                cur.values.update((name, value) for _, name, value in metrics)
                return
            self._close()
        self._current = _Record(None, None, {name: value for _, name, value in metrics})

    # --- records --------------------------------------------------------------------
    def _close(self) -> None:
        rec, self._current = self._current, None
        if rec is None or not rec.values:
            return
        keys = frozenset(rec.values)
        if rec.kind is None:
            self._shape = keys
            self._headerless += 1
            number = self._headerless
        else:
            self._header_shape = keys
            number = rec.number if rec.number is not None else 0
        self._commit(rec.kind, number, rec.values, keys)

    def _commit(self, kind: str | None, number: int, values: dict[str, float], keys: frozenset[str]) -> None:
        gkey = (kind, keys)
        g = self._groups.get(gkey)
        if g is None:
            if len(self._groups) >= MAX_GROUPS:
                return
            g = self._groups[gkey] = _Group(kind, tuple(values))
        ordinal = g.count
        g.count += 1
        self._seq += 1
        if ordinal % g.stride:
            return
        g.rows.append((self._seq, number, tuple(values[k] for k in g.keys)))
        self._kept += 1
        if self._kept > MAX_KEPT_RECORDS:
            big = max(self._groups.values(), key=lambda x: len(x.rows))
            self._kept -= len(big.rows) - len(big.rows[::2])
            big.rows = big.rows[::2]
            big.stride *= 2

    def _new_run(self) -> None:
        self._groups.clear()
        self._kept = self._headerless = 0
        self._shape = self._header_shape = None
        self._last_number.clear()
        self._runs += 1

    # --- result ---------------------------------------------------------------------
    def _result(self) -> TextLog:
        found = tuple(self._keys)
        candidates = [g for g in self._groups.values() if g.rows and any(is_core(k) for k in g.keys)]
        if not candidates:
            return TextLog(metrics={}, lines=self.lines, found_keys=found, runs=self._runs)

        def rank(g: _Group) -> tuple[int, int, int, int]:
            # the largest group; on a tie the one whose keys more records share, then more keys, the latest
            covered = sum(o.count for o in candidates if o.kind == g.kind and set(g.keys) <= set(o.keys))
            return g.count, covered, len(g.keys), g.rows[-1][0]

        best = max(candidates, key=rank)
        main_keys = set(best.keys)
        main = [g for g in candidates if g.kind == best.kind and main_keys <= set(g.keys)]
        rows = sorted(
            ((seq, number, dict(zip(g.keys, values))) for g in main for seq, number, values in g.rows),
            key=lambda r: r[0],
        )
        names = list(best.keys)
        series = {k: [r[2][k] for r in rows] for k in names}
        # validation every few epochs (`validation_freq`): its metrics join the series, with gaps
        gaps: dict[str, list[int]] = {}
        for k in dict.fromkeys(k for g in main for k in g.keys):
            if intermittent_validation(k, main_keys, sum(k in r[2] for r in rows)):
                names.append(k)
                series[k] = [r[2].get(k, math.nan) for r in rows]
                gaps[k] = [i for i, r in enumerate(rows) if k not in r[2]]
        for k, values in series.items():
            finite = [v for v in values if math.isfinite(v)]
            if is_accuracy(k) and finite and all(0.0 <= v <= 100.0 for v in finite) and any(v > 1.0 for v in finite):
                series[k] = [v / 100.0 for v in values]  # an accuracy printed in percent without `%`
        rename = {k: k for k in names}
        test_as_val = not any(k.startswith("val_") for k in names) and any(k.startswith("test_") for k in names)
        if test_as_val:
            rename = {k: "val_" + k[len("test_") :] if k.startswith("test_") else k for k in names}
        mapping = {raw: rename[k] for k in names for raw in self._spellings.get(k, [])}
        if test_as_val:
            mapping["test_*"] = "val_* (no validation metric printed: the test split evaluated during training)"
        stride = max(g.stride for g in main)
        numbers = [r[1] for r in rows]
        index: list[int] | None = numbers
        if (best.kind is None and stride == 1) or numbers == list(range(1, len(numbers) + 1)):
            index = None
        kind = best.kind or ("epoch" if any(rename[k].startswith("val_") for k in names) else "step")
        main_ids = {id(g) for g in main}
        partial_ids = {
            id(g)
            for g in self._groups.values()
            if id(g) not in main_ids and g.kind == best.kind and set(g.keys) < main_keys
        }
        truncated = self._cut or (self._dangling and best.kind is not None)
        return TextLog(
            metrics={rename[k]: series[k] for k in names},
            gaps={rename[k]: v for k, v in gaps.items()},
            index=index,
            index_kind=kind,
            evaluations=self._evaluations(main_ids, partial_ids),
            mapping=mapping,
            records=sum(g.count for g in main),
            lines=self.lines,
            truncated=truncated,
            found_keys=found,
            runs=self._runs,
            sampled_every=stride,
        )

    def _evaluations(self, main_ids: set[int], partial_ids: set[int]) -> list[dict[str, float]]:
        rows: list[tuple[int, dict[str, float]]] = []
        for g in self._groups.values():
            if g.kind is not None or id(g) in main_ids or id(g) in partial_ids:
                continue
            for seq, _, values in g.rows:
                ev = _evaluation(dict(zip(g.keys, values)))
                if ev:
                    rows.append((seq, ev))
        rows.sort(key=lambda r: r[0])
        return [ev for _, ev in rows[-MAX_EVALUATIONS:]]


def _evaluation(values: dict[str, float]) -> dict[str, float]:
    """`{"loss", "accuracy"}` of a record, from its test, then unprefixed, then validation keys."""
    out: dict[str, float] = {}
    for bare in ("loss", "accuracy"):
        for prefix in ("test_", "", "val_"):
            if prefix + bare in values:
                v = values[prefix + bare]
                if bare == "accuracy" and 1.0 < v <= 100.0:
                    v /= 100.0  # printed in percent
                out[bare] = v
                break
    return out
