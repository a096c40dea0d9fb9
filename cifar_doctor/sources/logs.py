"""Training histories from console logs, CSVLogger CSV files, History JSON and TensorBoard logs.

`read_history(path_or_textio)` turns what a Keras user has at hand into a
`cifar_doctor.inputs.History`:

- the console output of `model.fit` in every Keras generation: standalone
  Keras 2 (`50000/50000 [====] - 454s 9ms/step - loss: ... - acc: ...`),
  tf.keras 2.x (`accuracy`), Keras 3 `verbose=1` (`━━━` bars redrawn with
  `\\r`/`\\b`, ANSI colours) and `verbose=2` (one line per epoch), with
  warnings and tracebacks interleaved;
- "Train on N samples, validate on M samples";
- what the user printed from `model.evaluate()` (`loss:  7.43` /
  `accuracy:  0.53` on separate lines, `[8.05, 0.50]`, `Test loss: ...`), and
  the evaluate() progress bar that Keras 3 and tf.keras print with metrics;
- a CSVLogger CSV and a `json.dump(history.history)` file, with `NA`/`null`
  where an epoch has no value (no validation data, `validation_freq`);
- the printouts of custom training loops (`Epoch 1 of 500 took 1.858s`,
  `Epoch: 0198 train_loss= 0.40438 ...`, `INFO: train loss:1.10886`), read by
  `cifar_doctor.sources.textlog` when the text holds no Keras epoch;
- TensorBoard logs (a `keras.callbacks.TensorBoard` log_dir, a folder of
  `events.out.tfevents.*` files, one such file, or its bytes on stdin),
  read by `cifar_doctor.sources.tensorboard` without TensorFlow.

Only the final state of each epoch counts: the line that carries `val_`
metrics, else the last redraw of the training bar before the next
`Epoch k/n`. An epoch that never reached the end of its bar (a run killed
mid-epoch) is dropped and `History.truncated` is set.

The parser is incremental (`LogParser.feed(text) -> completed epochs`), so
`cifar-doctor watch` shares it, and streaming: input is read in chunks and a
line longer than `MAX_SEGMENT` characters is skipped unread, so a 1 GB log is parsed in
bounded memory. Nothing here imports TensorFlow or NumPy.

Number of classes: `classes=` when given; otherwise inferred from the loss of
the very first training batch of epoch 1 (only visible in `verbose=1` logs):
an untrained softmax classifier starts at a loss of about ln K, so that loss
is matched against ln K for the common class counts in `COMMON_CLASS_COUNTS`.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import InputError
from ..inputs import History
from . import tensorboard
from .textlog import BoundedLines, TextLogReader, metric_name

#: Longest line (between newlines, carriage returns or backspace runs) read, in
#: characters. A Keras progress line is under 300 characters even with a dozen
#: metrics; anything longer is not a progress line and is skipped, which keeps
#: memory bounded on a log with no line breaks (binary data, a minified dump).
MAX_SEGMENT = 16_384

#: Bytes read at a time from a file or stream.
CHUNK_BYTES = 1 << 20

#: Largest CSV/JSON history read whole. A History JSON of 10,000 epochs with
#: 20 metrics is ~4 MB; anything far larger is not a history.
MAX_STRUCTURED_BYTES = 64 << 20

#: Most values (epochs x metrics) read from a CSV/JSON history. 10,000 epochs of 100
#: metrics are 1M; the cap bounds the table a list of per-epoch dicts with a key of
#: its own in every row would make (rows x keys cells), and the work of the checks.
MAX_HISTORY_VALUES = 1_000_000

#: Bytes looked at to tell text from binary data and to detect the format.
SNIFF_BYTES = 8192

#: Share of non-text characters in the first `SNIFF_BYTES` above which the
#: input is called binary. Progress-bar redraws use \\b, \\r and ESC, which are
#: not counted; real logs have none of the others.
BINARY_CONTROL_FRACTION = 0.10

#: Cell values that mean "no value at this epoch": CSVLogger writes `NA` for a
#: metric missing from an epoch's logs (no validation data, `validation_freq`
#: > 1); a History JSON holds `null`. `nan` is a value (a NaN loss), not a gap.
MISSING_VALUES = frozenset({"", "na", "n/a", "none", "null"})

#: Renamed leading metrics remembered for `History.read_as["mapping"]`.
MAX_RENAMED = 16

#: Characters before a line's first ` - name: value` searched for a leading
#: `name: value` pair. The pair ends there and is under 100 characters; a
#: bounded window keeps the search linear on a pathological line.
MAX_LEAD_CHARS = 160

#: Class counts an inferred K is snapped to (binary, CIFAR-10, CIFAR-100, ImageNet).
COMMON_CLASS_COUNTS = (2, 10, 100, 1000)

#: The first-batch loss must lie within this relative distance of ln K to infer
#: K. Glorot-initialized networks on normalized inputs start within ~10% of
#: ln K; raw 0-255 inputs start far above it, and are then not used.
CLASS_INFERENCE_TOLERANCE = 0.15

#: Flavor votes. The flavor names the Keras generation that printed the log:
#: "[====]" bars and the `- 1s/epoch - 32ms/step` tail of `verbose=2` lines
#: come from the Keras 2 API only (standalone Keras 2 and tf.keras/tf_keras
#: 2.x, whether the bar counts samples or steps); "━━━" bars and
#: `N/N - 1s - 9ms/step - ...` lines from Keras 3 only. Whether the loss was
#: clipped is not implied: standalone Keras <= 2.2 clipped probabilities at
#: 1e-7, tf.keras 2.x takes the logits behind a softmax output (unclipped),
#: so `checks.log` reads clipping from the numbers. "Train on N samples"
#: (Keras 2 / TF <= 2.1 only) weighs more than one bar redraw.
TRAIN_ON_VOTE = 3
_K2_BAR_RE = re.compile(r"\[[=>.]{10,}\]")
_EPOCH_SUFFIX_RE = re.compile(r"\s-\s[\d.]+(?:s|ms|us|µs)/epoch\s-\s[\d.]+(?:s|ms|us|µs)/step\s*$")

_ANSI_RE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# Counts read with int() have at most 12 digits: int() refuses strings over 4300 digits.
_EPOCH_RE = re.compile(r"^\s*Epoch\s+(\d{1,12})\s*/\s*(\d{1,12})\s*$")
_TRAIN_ON_RE = re.compile(
    r"Train on (\d{1,12}) (samples|steps)(?:, validate on (\d{1,12}) (samples|steps))?", re.IGNORECASE)
_BAR_RE = re.compile(r"^\s*(\d{1,12})/(\d{1,12}|Unknown)\b")
# Every pattern below reads a line in time linear in its length: no two adjacent parts can
# match the same characters (`\d+(?:\.\d*)?`, not `\d+\.?\d*`, whose two digit runs split a
# long number in n ways and made one 16 kB line take minutes).
_NUM = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf|infinity|Infinity)"
_METRIC_RE = re.compile(r"(?:^|\s)-\s+([A-Za-z_][\w.]*):\s+(" + _NUM + r")(?=\s|$)")
_K3_V2_RE = re.compile(r"^\s*\d+/\d+ - \d+s - [\d.]+(?:s|ms|us|µs)/step")
_EVAL_PAIR_RE = re.compile(
    r"(?:(test|val|validation|eval|evaluation|train|training)[\s_]*)?(loss|acc|accuracy|score)\s*[:=]\s*("
    + _NUM + r")\s*(%?)",
    re.IGNORECASE,
)
_EVAL_LINE_RE = re.compile(
    r"^\s*(?:(?:test|val|validation|eval|evaluation|train|training)[\s_]*)?(?:loss|acc|accuracy|score)\s*[:=]\s*"
    + _NUM + r"(?:\s*%)?(?:(?:\s*[,;])?\s*(?:(?:test|val|validation|eval|evaluation|train|training)[\s_]*)?"
    r"(?:loss|acc|accuracy|score)\s*[:=]\s*" + _NUM + r"(?:\s*%)?)*\s*$",
    re.IGNORECASE,
)
#: A `name: value` pair ending the text before a line's first ` - name: value`
#: metric, as custom loops print it (`epoch [1]: training loss: 2.27 - acc: 0.50`).
_LEAD_METRIC_RE = re.compile(r"([A-Za-z]\w*(?:[ \t]+[A-Za-z]\w*){0,2})\s*[:=]\s*(" + _NUM + r")\s*$")
#: A column name of a CSV history: a name, empty, or pandas' `Unnamed: 0`. A
#: timestamped log line (`2018-03-23 15:29:33,355:INFO: ... acc 0.74`) splits
#: on its comma into cells that start with a digit or hold `: value`, and is no header.
_CSV_HEADER_CELL_RE = re.compile(r"(?:[a-z_][\w.\- ]*|unnamed: \d+)?")
_LIST_RE = re.compile(r"^\s*\[\s*(" + _NUM + r")\s*((?:,\s*" + _NUM + r"\s*)+)\]\s*$")


def _float(text: str) -> float:
    t = text.lower()
    if t in ("inf", "+inf", "infinity"):
        return math.inf
    if t in ("-inf", "-infinity"):
        return -math.inf
    return float(t)


@dataclass
class Epoch:
    """One completed epoch: its number as printed (1-based) and its final metrics."""

    number: int
    metrics: dict[str, float]
    step: int | None = None
    total: int | None = None


@dataclass
class _Block:
    """The state of the epoch being read."""

    number: int
    declared: int | None = None
    metrics: dict[str, float] | None = None
    step: int | None = None
    total: int | None = None
    done: bool = False  # emitted (val_ metrics seen)
    eval_bar: dict[str, float] | None = None
    eval_total: int | None = None
    first_loss: float | None = None


@dataclass
class LogParser:
    """Incremental parser of Keras console output.

    Feed it text as it arrives; `feed` returns the epochs completed by that
    text (an epoch completes when its line with `val_` metrics arrives, or
    when the next `Epoch k/n` header does). `finish()` closes the stream and
    returns the last epoch if it was complete.

    Example:

    >>> p = LogParser()
    >>> p.feed("Epoch 1/5\\n50000/50000 [====] - 454s 9ms/step - loss: 1.7761 - acc: 0.3584")
    []
    >>> [e.metrics["val_acc"] for e in p.feed(" - val_loss: 8.6776 - val_acc: 0.4489\\n")]
    [0.4489]
    """

    epochs: list[Epoch] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    train_samples: int | None = None
    val_samples: int | None = None
    truncated: bool = False
    runs: int = 0
    lines: int = 0
    keras_lines: int = 0
    renamed: dict[str, str] = field(default_factory=dict)
    _lines: BoundedLines = field(default_factory=lambda: BoundedLines(MAX_SEGMENT))
    _block: _Block | None = None
    _eval_group: dict[str, float] | None = None
    _votes: dict[str, int] = field(default_factory=lambda: {"keras2": 0, "keras3": 0})
    _first_loss: float | None = None
    _first_acc: float | None = None

    # --- streaming ----------------------------------------------------------------
    def feed(self, text: str) -> list[Epoch]:
        """Parse `text` (any chunk of the stream); return the epochs it completed."""
        out: list[Epoch] = []
        for line in self._lines.feed(text):
            self._segment(line, out)
        return out

    def finish(self) -> list[Epoch]:
        """End of input: parse the unterminated last line, close the open epoch."""
        out: list[Epoch] = []
        last = self._lines.close()
        if last is not None:
            self._segment(last, out, last=True)
        self._close_block(out)
        self._close_eval()
        return out

    # --- one line -----------------------------------------------------------------
    def _segment(self, raw: str, out: list[Epoch], last: bool = False) -> None:
        if not raw:
            return
        if "\x1b" in raw:
            raw = _ANSI_RE.sub("", raw)
        line = raw.strip()
        if not line:
            return
        self.lines += 1
        if "━" in line:
            self._votes["keras3"] += 1
        if line.startswith("Epoch") and (m := _EPOCH_RE.match(line)):
            self._close_eval()
            self._header(int(m.group(1)), int(m.group(2)), out)
            return
        if ":" in line or "=" in line:
            if " - " in line and (metrics := self._metrics(line)):
                self._close_eval()
                self._progress(line, metrics, out, last)
                return
            if _EVAL_LINE_RE.match(line):
                self._eval_line(line)
                return
        if line.startswith("[") and (m := _LIST_RE.match(line)):
            self._eval_list(m)
            return
        if "Train on" in line and (m := _TRAIN_ON_RE.search(line)):
            if m.group(2).lower() == "samples":
                self.train_samples = int(m.group(1))
                self._votes["keras2"] += TRAIN_ON_VOTE
                if m.group(3) and m.group(4).lower() == "samples":
                    self.val_samples = int(m.group(3))
            return
        # anything else (warnings, tracebacks, the user's own prints) ends an evaluate() group
        self._close_eval()

    def _metrics(self, line: str) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for name, value in _METRIC_RE.findall(line):
            if name in ("ETA",):
                continue
            try:
                metrics[name] = _float(value)
            except ValueError:
                continue
        if metrics:
            metrics = self._lead_metric(line, metrics)
        if "acc" in metrics or "val_acc" in metrics:
            self._votes["keras2"] += 1
        return metrics

    def _lead_metric(self, line: str, metrics: dict[str, float]) -> dict[str, float]:
        """Add the `name: value` pair that precedes the first ` - ` metric (`training loss: 2.27`)."""
        first = _METRIC_RE.search(line)
        lead = line[max(0, first.start() - MAX_LEAD_CHARS):first.start()] if first else ""
        if ":" not in lead and "=" not in lead:
            return metrics  # a Keras line: a bar, a time, nothing
        m = _LEAD_METRIC_RE.search(lead)
        name = metric_name(m.group(1)) if m else None
        if m is None or name is None or name in metrics:
            return metrics
        try:
            value = _float(m.group(2))
        except ValueError:
            return metrics
        raw = m.group(1)
        if raw != name and len(self.renamed) < MAX_RENAMED:
            self.renamed[raw] = name
        return {name: value, **metrics}

    def _header(self, number: int, declared: int, out: list[Epoch]) -> None:
        self._close_block(out)
        if self.epochs and number <= self.epochs[-1].number:
            # a new fit() call: the latest run is the one diagnosed
            self.epochs, self.evaluations = [], []
            self._first_loss = self._first_acc = None
            self.truncated = False
        if not self.epochs:
            self.runs += 1
        self._block = _Block(number, declared)

    def _progress(self, line: str, metrics: dict[str, float], out: list[Epoch], last: bool) -> None:
        step = total = None
        if m := _BAR_RE.match(line):
            step = int(m.group(1))
            total = int(m.group(2)) if m.group(2) != "Unknown" else None
            if "[" in line and _K2_BAR_RE.search(line):
                self._votes["keras2"] += 1  # a "[====>....]" bar: Keras 2 API
        if _EPOCH_SUFFIX_RE.search(line):
            self._votes["keras2"] += 1
        if _K3_V2_RE.match(line):
            self._votes["keras3"] += 1
        has_val = any(k.startswith("val_") for k in metrics)
        b = self._block
        if b is not None or step is not None:
            self.keras_lines += 1  # a progress line of an `Epoch k/n` block, or a bar: Keras output
        if b is None:
            if has_val:  # a log without "Epoch k/n" headers: each line with val_ metrics is an epoch
                number = self.epochs[-1].number + 1 if self.epochs else 1
                if not self.epochs:
                    self.runs += 1
                self._emit(Epoch(number, metrics, step, total), out, last)
            elif self.epochs:  # a bar with metrics after training: evaluate()
                self._add_eval(metrics)
            return
        if b.done or (b.metrics is not None and b.total is not None and total is not None and total != b.total
                      and b.step is not None and b.step >= b.total):
            # after the epoch's final line: the evaluate() bar (Keras 3, tf.keras)
            if not has_val:
                if b.eval_total is not None and total != b.eval_total:
                    self._commit_eval_bar(b)
                b.eval_bar, b.eval_total = metrics, total
            return
        if b.number == 1 and self._first_loss is None and step is not None and "loss" in metrics:
            if total is None or step <= max(1, total // 50):
                self._first_loss = metrics["loss"]
        b.metrics, b.step, b.total = metrics, step, total
        if has_val:
            b.done = True
            self._emit(Epoch(b.number, metrics, step, total), out, last)

    def _emit(self, epoch: Epoch, out: list[Epoch], last: bool) -> None:
        prev = self.epochs[-1].metrics if self.epochs else None
        if last and prev is not None and not set(prev) <= set(epoch.metrics):
            self.truncated = True  # an unterminated last line cut inside its metrics
            return
        self.epochs.append(epoch)
        out.append(epoch)

    def _close_block(self, out: list[Epoch]) -> None:
        b = self._block
        if b is None:
            return
        self._block = None
        if b.eval_bar is not None:
            self._commit_eval_bar(b)
        if b.done:
            return
        if b.metrics is None:
            self.truncated = True  # the epoch began and never showed a result
            return
        if b.total is not None and b.step is not None and b.step < b.total:
            self.truncated = True  # stopped mid-epoch: running averages, not the epoch's result
            return
        self._emit(Epoch(b.number, b.metrics, b.step, b.total), out, last=True)

    # --- evaluate() results ---------------------------------------------------------
    def _commit_eval_bar(self, b: _Block) -> None:
        if b.eval_bar:
            self._add_eval(b.eval_bar)
        b.eval_bar = b.eval_total = None

    def _add_eval(self, metrics: dict[str, float]) -> None:
        ev: dict[str, float] = {}
        for k, v in metrics.items():
            name = _canonical_eval_name(k)
            if name and name not in ev:
                ev[name] = v
        if not ev:
            return
        if self.evaluations:
            last = self.evaluations[-1]
            common = set(last) & set(ev)
            if common and all(_close(last[k], ev[k]) for k in common):
                last.update({k: v for k, v in ev.items() if k not in last})
                return
        self.evaluations.append(ev)

    def _eval_line(self, line: str) -> None:
        for prefix, name, value, pct in _EVAL_PAIR_RE.findall(line):
            try:
                v = _float(value)
            except ValueError:
                continue
            key = "accuracy" if name.lower() in ("acc", "accuracy") else "loss"
            if key == "accuracy" and pct:
                v /= 100.0
            if prefix.lower() in ("train", "training"):
                key = "train_" + key
            if self._eval_group is None:
                self._eval_group = {}
            elif key in self._eval_group:
                self._close_eval()
                self._eval_group = {}
            self._eval_group[key] = v

    def _eval_list(self, m: re.Match) -> None:
        self._close_eval()
        values = [_float(m.group(1))] + [_float(v) for v in re.findall(_NUM, m.group(2))]
        if not self.epochs or len(values) < 2:
            return
        loss, acc = values[0], values[1]
        if loss >= 0 and 0.0 <= acc <= 1.0:
            self._add_eval({"loss": loss, "accuracy": acc})

    def _close_eval(self) -> None:
        g, self._eval_group = self._eval_group, None
        if g and self.epochs:
            self._add_eval(g)

    # --- result ---------------------------------------------------------------------
    @property
    def flavor(self) -> str:
        k2, k3 = self._votes["keras2"], self._votes["keras3"]
        if k2 > k3:
            return "keras2"
        if k3 > k2:
            return "keras3"
        return "unknown"

    def inferred_classes(self) -> int | None:
        """K from the first-batch loss of epoch 1 (≈ ln K for an untrained softmax), if it fits one."""
        loss = self._first_loss
        if loss is None or not math.isfinite(loss) or loss <= 0:
            return None
        for k in COMMON_CLASS_COUNTS:
            if abs(loss - math.log(k)) <= CLASS_INFERENCE_TOLERANCE * math.log(k):
                return k
        return None

    def history(self, classes: int | None = None, source: str | None = None) -> History:
        """The `History` of the epochs completed so far (the latest run in the log)."""
        epochs = self.epochs
        keys: list[str] = []
        if epochs:
            common = set(epochs[0].metrics)
            for e in epochs[1:]:
                common &= set(e.metrics)
            keys = [k for k in epochs[-1].metrics if k in common]
        metrics = {k: [e.metrics[k] for e in epochs] for k in keys}
        numbers = [e.number for e in epochs]
        read_as: dict[str, Any] = {"format": "keras", "records": len(epochs), "index_kind": "epoch"}
        if self.renamed:
            read_as["mapping"] = dict(self.renamed)
        return History(
            metrics=metrics,
            evaluations=[dict(e) for e in self.evaluations],
            flavor=self.flavor,
            classes=classes or self.inferred_classes(),
            source=source,
            train_samples=self.train_samples,
            val_samples=self.val_samples,
            truncated=self.truncated,
            index=numbers if numbers != list(range(1, len(numbers) + 1)) else None,
            read_as=read_as,
            bar_total=epochs[-1].total if epochs else None,
        )


def _canonical_eval_name(name: str) -> str | None:
    n = name.lower()
    if n.startswith("val_"):
        return None
    if n == "loss":
        return "loss"
    if n in ("acc", "accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "compile_metrics"):
        return "accuracy"
    return None


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 5e-4 * max(1.0, abs(a), abs(b))


# ------------------------------------------------------------------------------------
# History.history-like dicts, CSV and JSON
# ------------------------------------------------------------------------------------
def history_from_dict(d: Any, source: str | None = None, classes: int | None = None) -> History:
    """Build a `History` from a dict like Keras' `History.history`.

    Args:
        d: Metric name -> list of per-epoch values (`{"loss": [...],
            "val_accuracy": [...]}`); `{"history": {...}}` and a list of
            per-epoch dicts are accepted too. A missing value (`None`,
            `"NA"`, `""`, a key absent from a row) is NaN at that epoch and
            listed in `History.gaps`; a metric with no value at all (the
            `val_*` columns of a run without validation data) is dropped.
        source: Where it came from, for the report. Defaults to `None`.
        classes: Number of classes, if known. Defaults to `None`.

    Raises:
        InputError: when `d` is not such a dict.

    Example:

    >>> h = history_from_dict({"loss": [1.78, 1.37], "acc": [0.36, 0.51]})
    >>> h.epochs, h.flavor, h.acc
    (2, 'keras2', [0.36, 0.51])
    >>> h = history_from_dict({"loss": [1.7, 1.3], "val_loss": [None, 1.4], "val_acc": ["NA", "NA"]})
    >>> sorted(h.metrics), h.gaps
    (['loss', 'val_loss'], {'val_loss': [0]})
    """
    if isinstance(d, dict) and isinstance(d.get("history"), dict):
        d = d["history"]
    if isinstance(d, list) and d and all(isinstance(row, dict) for row in d):
        rows = d
        keys: dict[Any, None] = {}
        for row in rows:
            keys.update(dict.fromkeys(row))
        if len(keys) * len(rows) > MAX_HISTORY_VALUES:  # one column per key, one cell per row
            raise _too_many_values(source or "<history>", f"{len(rows):,} rows x {len(keys):,} keys")
        d = {k: [row.get(k) for row in rows] for k in keys}
    if not isinstance(d, dict):
        raise InputError(
            "Invalid training history",
            expected="a dict of metric name -> per-epoch values, like keras History.history",
            received=f"{type(d).__name__}",
        )
    metrics: dict[str, list[float]] = {}
    gaps: dict[str, list[int]] = {}
    total = sum(len(v) for v in d.values() if isinstance(v, (list, tuple)))
    if total > MAX_HISTORY_VALUES:
        raise _too_many_values(source or "<history>", f"{total:,} values")
    for key, values in d.items():
        name = str(key).strip()
        if name in ("epoch", "", "Unnamed: 0", "step"):
            continue
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            values = [values]
        if hasattr(values, "tolist"):
            values = values.tolist()
        if not isinstance(values, (list, tuple)):
            raise InputError(
                f"Invalid training history: metric `{name}` is not a list",
                expected="a list of per-epoch numbers for each metric",
                received=f"{name}={type(values).__name__}",
            )
        out: list[float] = []
        missing: list[int] = []
        for v in values:
            if v is None or (isinstance(v, str) and v.strip().lower() in MISSING_VALUES):
                missing.append(len(out))
                out.append(math.nan)
                continue
            try:
                out.append(_float(v) if isinstance(v, str) else float(v))
            except (TypeError, ValueError, OverflowError):
                raise InputError(
                    f"Invalid training history: metric `{name}` holds a non-number",
                    expected="numbers (NaN and inf allowed)",
                    received=f"{v!r}"[:80],
                ) from None
        if out and len(missing) == len(out):
            continue  # no value at any epoch: a metric this run did not compute
        metrics[name] = out
        if missing:
            gaps[name] = missing
    if metrics and not any(metrics.values()):
        metrics = {}
    flavor = "keras2" if ("acc" in metrics or "val_acc" in metrics) else "unknown"
    read_as = {"format": "history", "records": max((len(v) for v in metrics.values()), default=0),
               "index_kind": "epoch"}
    return History(metrics=metrics, flavor=flavor, classes=classes, source=source, gaps=gaps, read_as=read_as)


def _parse_csv(text: str, name: str = "<stream>") -> dict[str, list[str]]:
    """Columns of a CSV history, read row by row: header -> one string per row.

    A row with a different number of fields is refused unless it is the last
    one (a file cut mid-row). At most `MAX_HISTORY_VALUES` cells are kept.
    """
    sample = text[:SNIFF_BYTES]
    delim = max(",;\t", key=lambda c: sample.splitlines()[0].count(c) if sample else 0)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    header: list[str] | None = None
    cols: dict[str, list[str]] = {}
    ragged: tuple[int, list[str]] | None = None
    cells = row = 0
    try:
        for r in reader:
            if not r or not any(c.strip() for c in r):
                continue
            if header is None:
                header = [h.strip() for h in r]
                cols = {h: [] for h in header}
                row = 1
                continue
            row += 1
            if ragged is not None:
                break
            if len(r) != len(header):
                ragged = (row, r)
                continue
            cells += len(r)
            if cells > MAX_HISTORY_VALUES:
                raise _too_many_values(name, f"more than {MAX_HISTORY_VALUES:,} cells")
            for h, v in zip(header, r):
                cols[h].append(v.strip())
    except csv.Error as exc:  # a field over the csv module's limit (an unclosed quote), a NUL byte
        raise InputError(
            f"Cannot read the CSV history {name}: {exc} (line {reader.line_num})",
            expected="a CSVLogger file (one row per epoch)",
            hint="Check the file for an unclosed quote",
        ) from None
    if ragged is not None and header is not None:
        if row > ragged[0]:  # more rows follow the bad one: not a cut-off last row
            i, r = ragged
            raise InputError(
                f"Cannot read the CSV history: row {i} has {len(r)} fields, the header {len(header)}",
                expected="a CSVLogger file (one row per epoch)",
                received=",".join(r)[:80],
            )
    return cols


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _too_many_values(name: str, received: str) -> InputError:
    return InputError(
        f"The history {name} holds too many values to be a training history",
        expected=f"at most {MAX_HISTORY_VALUES:,} values (epochs x metrics)",
        received=received,
        hint="Pass the per-epoch history (CSVLogger, History.history), not per-batch values",
    )


def _looks_like_csv_header(first: str) -> bool:
    if "Epoch" in first or " - " in first:
        return False
    for delim in (",", ";", "\t"):
        cells = [c.strip().lower() for c in first.split(delim)]
        if len(cells) >= 2 and any(c == "loss" or c.endswith("loss") or "acc" in c for c in cells):
            return all(_CSV_HEADER_CELL_RE.fullmatch(c) for c in cells)
    return False


# ------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------
def _byte_chunks(src: Any, name: str) -> Iterable[bytes]:
    while True:
        try:
            chunk = src.read(CHUNK_BYTES)
        except OSError as exc:  # a failing disk or mount, a stream closed under us
            raise InputError(f"Cannot read the log {name}: {exc.strerror or exc}",
                             expected="a readable file or stream", hint="Copy the log to a local file and pass that"
                             ) from None
        except ValueError as exc:  # "I/O operation on closed file"
            raise InputError(f"Cannot read the log {name}: {exc}", expected="an open stream") from None
        if not chunk:
            return
        yield chunk


def _encoding(first: bytes) -> str:
    """The text encoding a byte-order mark announces (Windows PowerShell 5 writes UTF-16); UTF-8 otherwise."""
    if first.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _check_text(head: str, name: str) -> None:
    if "\x00" in head:
        nul = head.count("\x00")
        # UTF-16 text of ASCII characters has a NUL in every other position
        utf16 = nul >= len(head) // 3 and max(head[0::2].count("\x00"), head[1::2].count("\x00")) >= 0.9 * nul
        if utf16:
            raise InputError(
                f"Cannot read the log {name}: it looks like UTF-16 text without a byte-order mark",
                expected="UTF-8 text, or UTF-16 that starts with its byte-order mark",
                received=f"{len(head)} characters starting {head[:16]!r}",
                hint="Convert it to UTF-8, e.g. iconv -f UTF-16LE -t UTF-8 train.log > train-utf8.log",
            )
        raise InputError(
            f"Cannot read the log {name}: it looks like binary data (NUL bytes)",
            expected="a text training log, a CSVLogger CSV or a History JSON",
            received=f"{len(head)} characters starting {head[:16]!r}",
            hint="Pass the console output of model.fit (python train.py 2>&1 | tee train.log)",
        )
    bad = sum(1 for c in head if (ord(c) < 32 and c not in "\n\r\t\b\x1b\f") or c == "\ufffd")
    if head and bad / len(head) > BINARY_CONTROL_FRACTION:
        raise InputError(
            f"Cannot read the log {name}: it looks like binary data ({bad} of the first {len(head)} "
            "characters are not text)",
            expected="a text training log, a CSVLogger CSV or a History JSON",
            received=f"data starting {head[:16]!r}",
            hint="Pass the console output of model.fit, or the file CSVLogger wrote",
        )


def read_history(path_or_textio: Any, classes: int | None = None) -> History:
    """Read a training history from a console log, a CSVLogger CSV, a History JSON or a TensorBoard log.

    Args:
        path_or_textio: A path, `-` for stdin, or an open text/binary stream.
            A folder or a file named `*tfevents*` is read as a TensorBoard
            log (`cifar_doctor.sources.tensorboard.read_tensorboard`), and so
            is any input whose first bytes are a TFRecord header.
        classes: Number of classes, when known (`--classes`). Defaults to
            `None`: inferred from the first-batch loss when a `verbose=1`
            log shows it.

    Returns:
        A `History` with one value per completed epoch for each metric, the
        printed `evaluate()` results, the Keras flavor and the sample counts;
        for a custom loop's printout, one value per printed epoch or step
        (`History.index`, `History.read_as["mapping"]`).

    Raises:
        InputError: for a missing, empty, binary or unreadable input, or one
            with no complete epoch and no per-epoch or per-step metric values.

    Example:

    >>> import io
    >>> log = io.StringIO("Epoch 1/1\\n50000/50000 [====] - 454s 9ms/step - loss: 1.7761 "
    ...                   "- acc: 0.3584 - val_loss: 8.6776 - val_acc: 0.4489\\n")
    >>> h = read_history(log)
    >>> h.val_loss, h.flavor
    ([8.6776], 'keras2')
    """
    close = None
    if isinstance(path_or_textio, (str, os.PathLike)):
        name = str(path_or_textio)
        if name == "-":
            src: Any = getattr(sys.stdin, "buffer", sys.stdin)
            name = "<stdin>"
        else:
            if os.path.isdir(name) or tensorboard.EVENT_FILE_MARK in os.path.basename(name):
                return tensorboard.read_tensorboard(name, classes=classes)  # a TensorBoard log_dir or event file
            try:
                src = close = open(name, "rb")
            except FileNotFoundError:
                raise InputError(f"Cannot read the log {name}: no such file",
                                 expected="an existing log, CSV or JSON file",
                                 hint="Check the path, or pass - to read standard input") from None
            except OSError as exc:
                raise InputError(f"Cannot read the log {name}: {exc.strerror or exc}",
                                 expected="a readable file") from None
    else:
        src = getattr(path_or_textio, "buffer", path_or_textio)
        name = getattr(path_or_textio, "name", None) or "<stream>"
        if not isinstance(name, str):
            name = "<stream>"
    if src is None:  # sys.stdin is None when the process started with standard input closed
        raise InputError(
            "Cannot read the log from standard input: it is closed",
            expected="a log piped to standard input, or a file",
            hint="Pipe the log in (python train.py 2>&1 | cifar-doctor check --log -), or pass the file",
        )
    try:
        return _read(src, name, classes)
    finally:
        if close is not None:
            close.close()


def _read(src: Any, name: str, classes: int | None) -> History:
    chunks = iter(_byte_chunks(src, name))
    first = next(chunks, b"")
    if isinstance(first, (bytes, bytearray)) and tensorboard.looks_like_event_file(first):
        return tensorboard.read_event_stream(_Rewound(first, chunks), name, classes=classes)
    encoding = _encoding(first) if isinstance(first, (bytes, bytearray)) else "utf-8"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def texts() -> Iterable[str]:
        for chunk in itertools.chain([first], chunks):
            yield decoder.decode(chunk) if isinstance(chunk, (bytes, bytearray)) else chunk
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    it = iter(texts())
    head = ""
    for t in it:  # enough text to sniff the format; blank text before it is dropped as it is read
        head = head + t if head else t.lstrip()
        if len(head) >= SNIFF_BYTES:
            break
    if head.startswith("\ufeff"):
        head = head[1:]
    if not head.strip():
        raise InputError(
            f"The log {name} is empty",
            expected="the console output of model.fit, a CSVLogger CSV or a History JSON",
            hint=("Keras writes progress to stdout and warnings to stderr: use python train.py 2>&1 | "
                  "cifar-doctor check --log -") if name == "<stdin>" else None,
        )
    _check_text(head[:SNIFF_BYTES], name)
    stripped = head.lstrip()
    first_line = stripped.split("\n", 1)[0].strip()
    if stripped.startswith("{") or re.match(r"\[\s*\{", stripped):
        text = _read_rest(head, it, name)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"Cannot read the History JSON {name}: {exc.msg} at line {exc.lineno}",
                expected="json.dump(history.history) output: {\"loss\": [...], \"val_loss\": [...]}",
            ) from None
        except (ValueError, RecursionError) as exc:  # an integer past Python's digit limit; nesting past the stack
            what = ("it nests too deeply" if isinstance(exc, RecursionError)
                    else "it holds an integer of thousands of digits" if "digits" in str(exc) else _first_line(exc))
            raise InputError(
                f"Cannot read the History JSON {name}: {what}",
                expected="json.dump(history.history) output: {\"loss\": [...], \"val_loss\": [...]}",
            ) from None
        h = history_from_dict(data, source=name, classes=classes)
        h.read_as["format"] = "history-json"
        return _require_epochs(h, name)
    if _looks_like_csv_header(first_line):
        text = _read_rest(head, it, name)
        cols = _parse_csv(text.lstrip("\ufeff"), name)
        h = history_from_dict(cols, source=name, classes=classes)
        h.read_as["format"] = "csvlogger"
        h.index = _csv_index(cols.get("epoch"), h.epochs)
        return _require_epochs(h, name)
    # One pass, two readers: Keras' own output, and the generic reader of custom
    # loops for when the text turns out to hold no Keras epoch. The generic
    # reader stops as soon as the Keras parser has seen Keras output.
    parser, generic = LogParser(), TextLogReader()
    for t in itertools.chain([head], it):
        parser.feed(t)
        if generic is not None:
            if parser.epochs or parser.keras_lines:
                generic = None
            else:
                generic.feed(t)
    parser.finish()
    if generic is None or parser.epochs or parser.keras_lines:
        return _require_epochs(parser.history(classes=classes, source=name), name, parser)
    log = generic.finish()
    if log.metrics:
        return log.history(classes=classes, source=name)
    detail = None if parser.truncated else log.detail  # "Epoch 1/5" and nothing after it: say that
    return _require_epochs(parser.history(classes=classes, source=name), name, parser, detail=detail)


class _Rewound(io.RawIOBase):
    """A binary stream that replays the chunks already read before the rest (for a sniffed event file)."""

    def __init__(self, first: bytes, rest: Iterable[bytes]) -> None:
        self._buf, self._pos, self._rest = bytes(first), 0, iter(rest)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        parts = []
        while n != 0:
            if self._pos >= len(self._buf):
                self._buf, self._pos = next(self._rest, b""), 0
                if not self._buf:
                    break
            take = len(self._buf) - self._pos if n < 0 else min(n, len(self._buf) - self._pos)
            parts.append(self._buf[self._pos:self._pos + take])
            self._pos += take
            n = n - take if n > 0 else n
        return b"".join(parts)


def _csv_index(epochs: list[str] | None, n: int) -> list[int] | None:
    """Printed (1-based) epoch numbers from CSVLogger's 0-based `epoch` column, unless they are 1..N."""
    if not epochs or len(epochs) < n:
        return None
    try:
        numbers = [int(e) + 1 for e in epochs[:n]]
    except ValueError:
        return None
    return None if numbers == list(range(1, n + 1)) else numbers


def _read_rest(head: str, it: Iterable[str], name: str) -> str:
    parts, size = [head], len(head)
    for t in it:
        size += len(t)
        if size > MAX_STRUCTURED_BYTES:
            raise InputError(f"The history file {name} is too large to be a CSV/JSON history",
                             expected=f"at most {MAX_STRUCTURED_BYTES >> 20} MB",
                             received=f"more than {size >> 20} MB")
        parts.append(t)
    return "".join(parts)


def _require_epochs(h: History, name: str, parser: LogParser | None = None, detail: str | None = None) -> History:
    if h.epochs > 0:
        return h
    if detail is None and parser is not None and parser.truncated:
        detail = "the only epoch stops before the end of its progress bar"
    elif detail is None and parser is not None:
        detail = f"{parser.lines} lines, none with per-epoch metrics"
    elif detail is None:
        detail = "no per-epoch metric values"
    raise InputError(
        f"No complete training epoch found in the log {name}",
        expected="Keras fit() output ('Epoch 1/5' then '... - loss: 1.77 - accuracy: 0.36 ...'), "
                 "a CSVLogger CSV or a History JSON",
        received=detail,
        hint="Train with verbose=1 or 2 and capture both streams (python train.py 2>&1 | tee train.log)",
    )
