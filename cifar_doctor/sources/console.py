"""Keras console output: the `model.fit` progress of every Keras generation, read incrementally.

`LogParser` reads what `model.fit` prints in every Keras generation: standalone
Keras 2 (`50000/50000 [====] - 454s 9ms/step - loss: ... - acc: ...`),
tf.keras 2.x (`accuracy`), Keras 3 `verbose=1` (`━━━` bars redrawn with
`\\r`/`\\b`, ANSI colours) and `verbose=2` (one line per epoch), with
warnings and tracebacks interleaved; "Train on N samples, validate on M
samples"; and what the user printed from `model.evaluate()` (`loss:  7.43` /
`accuracy:  0.53` on separate lines, `[8.05, 0.50]`, `Test loss: ...`), and
the evaluate() progress bar that Keras 3 and tf.keras print with metrics.

Only the final state of each epoch counts: the line that carries `val_`
metrics, else the last redraw of the training bar before the next
`Epoch k/n`. An epoch that never reached the end of its bar (a run killed
mid-epoch) is dropped and `History.truncated` is set.

The parser is incremental (`LogParser.feed(text) -> completed epochs`), so
`cifar-doctor watch` shares it, and a line longer than `MAX_SEGMENT`
characters is skipped unread. `ConsoleReader` reads a whole log in one pass
with it and, for the printouts of custom training loops (`Epoch 1 of 500 took
1.858s`, `Epoch: 0198 train_loss= 0.40438 ...`), with
`cifar_doctor.sources.textlog` when the text holds no Keras epoch. Nothing
here imports TensorFlow or NumPy.

Number of classes: `classes=` when given; otherwise inferred from the loss of
the very first training batch of epoch 1 (only visible in `verbose=1` logs):
an untrained softmax classifier starts at a loss of about ln K, so that loss
is matched against ln K for the common class counts in `COMMON_CLASS_COUNTS`.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..records import History
from ..sanitize import one_line
from .history import intermittent_validation, number_from_text
from .logstream import LogInput, require_epochs
from .metric_keys import metric_name
from .textlog import BoundedLines, TextLogReader

#: Longest line (between newlines, carriage returns or backspace runs) read, in
#: characters. A Keras progress line is under 300 characters even with a dozen
#: metrics; anything longer is not a progress line and is skipped, which keeps
#: memory bounded on a log with no line breaks (binary data, a minified dump).
MAX_SEGMENT = 16_384

#: Most epochs a history keeps from a console log. A real run has at most a few thousand
#: epochs, and every check reads a curve's shape, which 10,000 evenly spaced points keep; past
#: it the parser keeps every 2nd, then 4th ... epoch as it reads (at most twice this many held),
#: so a log of a million epochs is read in bounded memory, and the report says it was thinned.
MAX_LOG_EPOCHS = 10_000

#: Lines of an epoch that thinning skips held unparsed (in case it is the last epoch, which is
#: always kept): a `verbose=2` epoch is one line, a `verbose=1` one a few dozen bar redraws.
MAX_HELD_LINES = 256

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
    r"Train on (\d{1,12}) (samples|steps)(?:, validate on (\d{1,12}) (samples|steps))?", re.IGNORECASE
)
_BAR_RE = re.compile(r"^\s*(\d{1,12})/(\d{1,12}|Unknown)\b")
# EarlyStopping(restore_best_weights=True, verbose=1): the epoch whose weights the model ends with
_RESTORED_RE = re.compile(r"Restoring model weights from the end of the best epoch:?\s*(\d{1,12})")
# A progress line hard-wrapped at a space (a Windows console's copy, a mail or forum quote): cut after a
# metric's name or a separator (`... - loss: 2.2453 - acc:` / `0.2675 - val_loss: ...`), or before a
# separator (`... - val_accuracy: 0.5209` / `- val_loss: 2.1104`)
#: A progress line this long or longer is never joined with another: Keras prints a few hundred
#: characters an epoch, and a log of lines that each continue the last must not grow one line
#: without bound (reading it again at every join would take time quadratic in its length).
MAX_WRAPPED_LINE = 2_048
# What a log's lines can carry before Keras' own text: a mail or forum quote (`> `), an MPI launcher's
# rank tag (`[1,0]<stdout>:`), a timestamp (a cloud job's log, `2024-03-02T10:11:12.345Z`), with the level
# a `logging` handler adds (`2024-03-02 10:11:12,345 - INFO - `)
_LINE_PREFIX_RE = re.compile(
    r"^(?:[ \t]*>)+[ \t]?"
    r"|^[ \t]*\[\d{1,6},\d{1,6}\]<std(?:out|err)>:[ \t]?"
    r"|^[ \t]*\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?\]?"
    r"(?:[ \t]*-?[ \t]*(?:INFO|DEBUG|WARNING|ERROR|CRITICAL)[ \t]*-?)?[ \t]+"
)

#: Widths a terminal wraps a line at when its text is copied with the breaks it drew (80, the
#: default of most terminal emulators, and the wider presets; 132 is the VT100's wide mode). A
#: progress line exactly this long may have been cut at any character, inside a name or a number,
#: so it is joined with the next line as it was cut, when that line starts no record of its own and
#: the joined line keeps every metric and adds or lengthens one (`_cut_at_width`).
TERMINAL_WIDTHS = frozenset({80, 100, 120, 132, 160, 200})

#: Widths of a window resized by hand (a tmux pane, an editor's terminal panel) are learned instead: a
#: progress line of any length in this range that the next line turns out to continue (`_cut_at_width`)
#: was cut at the terminal's edge. That line is mended, and from then on lines exactly that long are held
#: as those of `TERMINAL_WIDTHS` are. Narrower than 40 columns no window shows a Keras progress line;
#: from `MAX_WRAPPED_LINE` on no line is joined.
LEARNED_WIDTHS = range(40, 400)

#: `_OPEN_END_RE` is tried on this many last characters of a line: a separator or a metric's name.
OPEN_END_CHARS = 64
_OPEN_END_RE = re.compile(r"(?:\s-|[A-Za-z_][\w.]*:)$")
_CONTINUATION_RE = re.compile(r"^(?:[-+]?\d|\.\d|nan\b|inf|[A-Za-z_][\w.]*:\s)")
# What starts a record of its own, never the rest of a line cut at a terminal's width
_RECORD_START_RE = re.compile(r"^\s*(?:Epoch\s+\d|\d+/(?:\d+|Unknown)\b|$)")


# Every pattern below reads a line in time linear in its length: no two adjacent parts can
# match the same characters (`\d+(?:\.\d*)?`, not `\d+\.?\d*`, whose two digit runs split a
# long number in n ways and made one 16 kB line take minutes).
_NUM = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf|infinity|Infinity)"
_METRIC_RE = re.compile(r"(?:^|\s)-\s+([A-Za-z_][\w.]*):\s+(" + _NUM + r")(?=\s|$)")
_K3_V2_RE = re.compile(r"^\s*\d+/\d+ - \d+s - [\d.]+(?:s|ms|us|µs)/step")
_EVAL_PAIR_RE = re.compile(
    r"(?:(test|val|validation|eval|evaluation|train|training)[\s_]*)?(loss|acc|accuracy|score)\s*[:=]\s*("
    + _NUM
    + r")\s*(%?)",
    re.IGNORECASE,
)
_EVAL_LINE_RE = re.compile(
    r"^\s*(?:(?:test|val|validation|eval|evaluation|train|training)[\s_]*)?(?:loss|acc|accuracy|score)\s*[:=]\s*"
    + _NUM
    + r"(?:\s*%)?(?:(?:\s*[,;])?\s*(?:(?:test|val|validation|eval|evaluation|train|training)[\s_]*)?"
    r"(?:loss|acc|accuracy|score)\s*[:=]\s*" + _NUM + r"(?:\s*%)?)*\s*$",
    re.IGNORECASE,
)
#: A `name: value` pair ending the text before a line's first ` - name: value`
#: metric, as custom loops print it (`epoch [1]: training loss: 2.27 - acc: 0.50`).
_LEAD_METRIC_RE = re.compile(r"([A-Za-z]\w*(?:[ \t]+[A-Za-z]\w*){0,2})\s*[:=]\s*(" + _NUM + r")\s*$")
_LIST_RE = re.compile(r"^\s*\[\s*(" + _NUM + r")\s*((?:,\s*" + _NUM + r"\s*)+)\]\s*$")
#: `print("test loss, test acc:", results)`, as the Keras guide prints `model.evaluate()`'s list:
#: a short label naming the values, then the list.
_LABELLED_LIST_RE = re.compile(
    r"^\s*([A-Za-z][A-Za-z _,/-]{0,60}?)\s*[:=]?\s*\[\s*(" + _NUM + r")\s*((?:,\s*" + _NUM + r"\s*)+)\]\s*$"
)


def _without_prefix(line: str) -> str:
    """`line` without what a log put before Keras' text (`_LINE_PREFIX_RE`), unless that is all it holds."""
    if (m := _LINE_PREFIX_RE.match(line)) and m.end() < len(line):
        return line[m.end() :]
    return line


def _cut_at_width(held: str, nxt: str) -> str | None:
    """`held` (a progress line a terminal's width long) and `nxt` as one line, if `nxt` is its rest: it starts
    no record of its own (`_RECORD_START_RE`), and the two read as one carry every metric `held` does and
    more, or one of them with more digits (a number cut by the wrap). A whole line that happens to be that
    long is followed by text that adds no metric (a `print`), or that would take its last number. Joined as
    cut, or with a blank where that reads more: a wrap at a space drops the space."""
    nxt = _without_prefix(nxt)  # a quote's `> ` or a timestamp starts every line a log writes, pieces included
    if _RECORD_START_RE.match(nxt) or len(held) + len(nxt) >= MAX_WRAPPED_LINE:
        return None
    before = _first_values(held)
    joined, after = max(
        ((text, _first_values(text)) for text in (held + nxt, held.rstrip() + " " + nxt.lstrip())),
        key=lambda pair: len(pair[1]),
    )
    if after == before or any(not after.get(name, "").startswith(value) for name, value in before.items()):
        return None  # nothing added, or a value of `held` changed: not its rest (the next epoch's own line)
    return joined


def _first_values(line: str) -> dict[str, str]:
    """Each metric's value in `line` as printed, at its first mention."""
    values: dict[str, str] = {}
    for name, value in _METRIC_RE.findall(line):
        values.setdefault(name, value)
    return values


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
    partial: bool = False  # the metrics came from an unterminated last line


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
    seen: int = 0
    _last: Epoch | None = None
    _last_number: int | None = None
    _last_keys: dict[bool, frozenset[str]] = field(default_factory=dict)  # by whether val_ metrics were in it
    _skipped: list[str] | None = None
    _stride: int = 1
    restored_epoch: int | None = None
    _held: str | None = None  # a progress line cut at its end (`_OPEN_END_RE`), waiting for its continuation
    _held_raw: str | None = None  # ... or a progress line exactly a terminal's width long (`TERMINAL_WIDTHS`)
    _wrap_width: int | None = None  # that width, while the pieces of one line are joined
    _learned_width: int | None = None  # a width outside `TERMINAL_WIDTHS` a cut line showed (`LEARNED_WIDTHS`)
    # the last progress line read unheld (`LEARNED_WIDTHS`): as read so far, its last piece's length, and the
    # epoch completed before it
    _unheld: tuple[str, int, Epoch | None] | None = None
    _progress_line: str | None = None  # the last progress line read in the open block

    # --- streaming ----------------------------------------------------------------
    def feed(self, text: str) -> list[Epoch]:
        """Parse `text` (any chunk of the stream); return the epochs it completed."""
        out: list[Epoch] = []
        for line in self._lines.feed(text):
            self._joined(line, out)
        return out

    def _joined(self, raw: str, out: list[Epoch], last: bool = False, hold: bool = True) -> None:
        """`_segment` on whole lines: a progress line cut at its end is held and joined with the line that
        continues it (`_OPEN_END_RE`, `_CONTINUATION_RE`), and so is one exactly a terminal's width long
        (`TERMINAL_WIDTHS`, `_cut_at_width`). `hold=False` reads a held line that nothing continued."""
        if "\x1b" in raw:
            raw = _ANSI_RE.sub("", raw)
        if self._unheld is not None:
            (so_far, width, before), self._unheld = self._unheld, None
            # a rest that starts with a separator is a wrap at a space, read whole by `_segment` (`_continued`)
            if (
                not _without_prefix(raw.lstrip()).startswith("- ")
                and (joined := _cut_at_width(so_far, raw)) is not None
                and self._mended(joined, before, out, last)
            ):
                self._learned_width = width
                if len(raw) == width:  # a line cut more than once: this piece may have a rest too
                    self._unheld = (joined, width, before)
                return
        if self._held_raw is not None:
            held_raw, self._held_raw = self._held_raw, None
            if (joined := _cut_at_width(held_raw, raw)) is not None:
                raw = joined
            else:
                self._wrap_width = None
                self._joined(held_raw, out, hold=False)  # a whole line that happens to be that long
        line = _without_prefix(raw.strip())
        spliced = False  # the rest of a line wrapped at a space: never also a piece of a cut at a width
        if self._held is not None:
            held, self._held = self._held, None
            if spliced := bool(_CONTINUATION_RE.match(line)):
                line = held + " " + line
            else:
                self._segment(held, out)
        hold = hold and not last and len(raw) < MAX_WRAPPED_LINE
        if not hold or not (_METRIC_RE.search(line) or _BAR_RE.match(line)):
            self._wrap_width = None
            self._segment(line, out, last)  # cleaned already: `_segment` finds no colour codes or blanks to strip
        elif not spliced and (
            len(raw) in TERMINAL_WIDTHS
            or len(raw) == self._learned_width
            or (self._wrap_width and len(raw) % self._wrap_width == 0)
        ):
            # the second piece of a line wrapped three times is joined at twice the width
            self._wrap_width = self._wrap_width or len(raw)
            self._held_raw = raw
        elif _OPEN_END_RE.search(line[-OPEN_END_CHARS:]):
            # the end only (a search over a long line of word characters would try every start: quadratic)
            self._held = line
        else:
            self._wrap_width = None
            if self._learned_width is None and len(raw) in LEARNED_WIDTHS:
                self._unheld = (line, len(raw), self._last)
            self._segment(line, out, last)

    def _mended(self, joined: str, before: Epoch | None, out: list[Epoch], last: bool) -> bool:
        """Read `joined` (a progress line read alone, then found cut at a terminal's edge, with its rest) in
        place of its first piece: the epoch that piece completed takes the joined line's values (a number cut
        there was read short), or the open epoch reads the joined line as its latest. False where the piece
        was not read into an epoch (a log without `Epoch k/n` headers), which is left as read."""
        line = _without_prefix(joined.strip())
        metrics = self._metrics(line)
        b, done = self._block, self._last
        if done is not None and done is not before:
            done.metrics.update(metrics)
            if b is not None and b.done and b.number == done.number:
                b.metrics = dict(done.metrics)
            self._last_keys[_validated(done.metrics)] = frozenset(done.metrics)
            self._progress_line = line if b is not None else None
            return True
        if b is None or b.done or not metrics:
            return False
        self._segment(line, out, last)
        return True

    def finish(self) -> list[Epoch]:
        """End of input: parse the unterminated last line, close the open epoch."""
        out: list[Epoch] = []
        last = self._lines.close()
        if self._skipped is not None:  # the last epoch is always kept: its lines are parsed after all
            skipped, self._skipped = self._skipped, None
            for line in skipped:
                self._segment(line, out)
        if last is not None:
            self._joined(last, out, last=True)
        elif self._held_raw is not None:
            held_raw, self._held_raw = self._held_raw, None
            self._joined(held_raw, out, last=True, hold=False)
        elif self._held is not None:
            held, self._held = self._held, None
            self._segment(held, out, last=True)
        self._close_block(out, at_end=True)
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
        if self._skipped is not None and not line.startswith("Epoch"):
            # an epoch that thinning will not keep: held unparsed, in case it turns out to be the last
            if len(self._skipped) >= MAX_HELD_LINES:
                del self._skipped[: MAX_HELD_LINES // 2]
            self._skipped.append(line)
            return
        if "━" in line:
            self._votes["keras3"] += 1
        if line.startswith("Epoch") and (m := _EPOCH_RE.match(line)):
            self._close_eval()
            self._header(int(m.group(1)), int(m.group(2)), out)
            return
        if (
            line.startswith("- ")
            and self._progress_line is not None
            and len(self._progress_line) + len(line) < MAX_WRAPPED_LINE
            and self._metrics(line)
        ):
            self._continued(self._progress_line + " " + line, out, last)  # the rest of a wrapped progress line
            return
        if ":" in line or "=" in line:
            if " - " in line and (metrics := self._metrics(line)):
                self._close_eval()
                self._progress(line, metrics, out, last)
                self._progress_line = line if self._block is not None else None
                return
            if _EVAL_LINE_RE.match(line):
                self._eval_line(line)
                return
        if line.startswith("[") and (m := _LIST_RE.match(line)):
            self._eval_list(m)
            return
        if line.endswith("]") and (m := _LABELLED_LIST_RE.match(line)) and "loss" in m.group(1).lower():
            self._eval_labelled_list(m)
            return
        if "Restoring model weights" in line and (m := _RESTORED_RE.search(line)):
            self.restored_epoch = int(m.group(1))
            self._close_eval()
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
                metrics[name] = number_from_text(value)
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
        lead = line[max(0, first.start() - MAX_LEAD_CHARS) : first.start()] if first else ""
        if ":" not in lead and "=" not in lead:
            return metrics  # a Keras line: a bar, a time, nothing
        m = _LEAD_METRIC_RE.search(lead)
        name = metric_name(m.group(1)) if m else None
        if m is None or name is None or name in metrics:
            return metrics
        try:
            value = number_from_text(m.group(2))
        except ValueError:
            return metrics
        raw = m.group(1)
        if raw != name and len(self.renamed) < MAX_RENAMED:
            self.renamed[raw] = name
        return {name: value, **metrics}

    def _continued(self, joined: str, out: list[Epoch], last: bool) -> None:
        """A progress line hard-wrapped before a ` - ` separator, read again whole: the epoch its first part
        completed (its `val_` metrics came before the cut) takes the metrics it lacked."""
        metrics = self._metrics(joined)
        b, done = self._block, self._last
        self._progress_line = joined
        if b is not None and b.done and done is not None and done.number == b.number:
            for name, value in metrics.items():
                done.metrics.setdefault(name, value)
            b.metrics = dict(done.metrics)
            self._last_keys[_validated(done.metrics)] = frozenset(done.metrics)
            return
        self._progress(joined, metrics, out, last)

    def _header(self, number: int, declared: int, out: list[Epoch]) -> None:
        if self._skipped is not None:  # the held epoch was not the last: counted, never parsed
            self._skipped = None
            if self._block is not None:
                self.seen += 1
                self._last_number = self._block.number
            self._block = None
        self._close_block(out)
        if self._last_number is not None and number <= self._last_number:
            # a new fit() call: the latest run is the one diagnosed
            self.epochs, self.evaluations = [], []
            self._last, self._last_number, self.seen, self._stride = None, None, 0, 1
            self._last_keys = {}
            self._first_loss = self._first_acc = None
            self.truncated = False
            self.restored_epoch = None
        if not self.epochs:
            self.runs += 1
        self._block = _Block(number, declared)
        self._progress_line = None
        if self._stride > 1 and self.seen % self._stride != 0:
            self._skipped = []  # thinning keeps every `_stride`-th epoch: this one's lines are not parsed

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
        has_val = _validated(metrics)
        b = self._block
        if b is not None or step is not None:
            self.keras_lines += 1  # a progress line of an `Epoch k/n` block, or a bar: Keras output
        if b is None:
            if has_val:  # a log without "Epoch k/n" headers: each line with val_ metrics is an epoch
                number = self._last.number + 1 if self._last is not None else 1
                if not self.epochs:
                    self.runs += 1
                self._emit(Epoch(number, metrics, step, total), out, last)
            elif self.epochs:  # a bar with metrics after training: evaluate()
                self._add_eval(metrics)
            return
        if b.done or (
            b.metrics is not None
            and b.total is not None
            and total is not None
            and total != b.total
            and b.step is not None
            and b.step >= b.total
        ):
            # after the epoch's final line: the evaluate() bar (Keras 3, tf.keras)
            if not has_val:
                if b.eval_total is not None and total != b.eval_total:
                    self._commit_eval_bar(b)
                b.eval_bar, b.eval_total = metrics, total
            return
        if b.number == 1 and self._first_loss is None and step is not None and "loss" in metrics:
            if total is None or step <= max(1, total // 50):
                self._first_loss = metrics["loss"]
        b.metrics, b.step, b.total, b.partial = metrics, step, total, last
        if has_val:
            b.done = True
            self._emit(Epoch(b.number, metrics, step, total), out, last)

    def _emit(self, epoch: Epoch, out: list[Epoch], last: bool) -> None:
        validated = _validated(epoch.metrics)
        # epochs with validation and without differ (`validation_freq`); before one of its kind, any epoch
        prev = self._last_keys.get(validated, self._last_keys.get(not validated))
        if last and prev is not None and not prev <= set(epoch.metrics):
            self.truncated = True  # an unterminated last line cut inside its metrics
            return
        self._last_keys[validated] = frozenset(epoch.metrics)
        if self.seen % self._stride == 0:  # every epoch while they are few; then every 2nd, 4th ...
            self.epochs.append(epoch)
            if len(self.epochs) >= 2 * MAX_LOG_EPOCHS:
                self.epochs = self.epochs[::2]
                self._stride *= 2
        self.seen += 1
        self._last, self._last_number = epoch, epoch.number
        out.append(epoch)

    def kept_epochs(self) -> list[Epoch]:
        """The epochs a history holds: all of them, or at most `MAX_LOG_EPOCHS` evenly spaced, first and last kept."""
        epochs = self.epochs
        if self._last is not None and (not epochs or epochs[-1] is not self._last):
            epochs = [*epochs, self._last]
        if len(epochs) <= MAX_LOG_EPOCHS:
            return epochs
        n = len(epochs)
        return [epochs[round(i * (n - 1) / (MAX_LOG_EPOCHS - 1))] for i in range(MAX_LOG_EPOCHS)]

    def _close_block(self, out: list[Epoch], at_end: bool = False) -> None:
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
        # an epoch without val_ metrics (no validation, or not in this epoch: `validation_freq`) ends at the
        # next header; only an unterminated last line can have been cut inside its metrics, and a last epoch
        # of a run that validated every epoch so far stopped during its validation
        cut = at_end and True in self._last_keys and False not in self._last_keys
        self._emit(Epoch(b.number, b.metrics, b.step, b.total), out, last=b.partial or cut)

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
                v = number_from_text(value)
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
        values = [number_from_text(m.group(1))] + [number_from_text(v) for v in re.findall(_NUM, m.group(2))]
        if not self.epochs or len(values) < 2:
            return
        loss, acc = values[0], values[1]
        if loss >= 0 and 0.0 <= acc <= 1.0:
            self._add_eval({"loss": loss, "accuracy": acc})

    def _eval_labelled_list(self, m: re.Match) -> None:
        """`test loss, test acc: [0.52, 0.83]`: the label's names, in order, name the values."""
        self._close_eval()
        values = [number_from_text(m.group(2))] + [number_from_text(v) for v in re.findall(_NUM, m.group(3))]
        names = [part.strip().lower() for part in re.split(r"[,/]", m.group(1))]
        if not self.epochs or len(names) != len(values):
            return
        ev: dict[str, float] = {}
        for name, v in zip(names, values):
            key = "loss" if name.endswith("loss") else "accuracy" if name.endswith(("acc", "accuracy")) else None
            if key and key not in ev and (key == "loss" and v >= 0 or key == "accuracy" and 0.0 <= v <= 1.0):
                ev[key] = v
        if "loss" in ev:
            self._add_eval(ev)

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
        """The `History` of the epochs completed so far (the latest run in the log).

        Past `MAX_LOG_EPOCHS` epochs, an evenly spaced subset of them, the first and the last
        included (`History.index` holds their numbers; `read_as["downsampled_from"]` their count).
        """
        epochs = self.kept_epochs()
        keys: list[str] = []
        if epochs:
            common = set(epochs[0].metrics)
            for e in epochs[1:]:
                common &= set(e.metrics)
            seen = Counter(k for e in epochs for k in e.metrics)
            # validation every few epochs (`validation_freq`): its metrics, with gaps where it did not run
            keys = [*(k for k in epochs[-1].metrics if k in common)] + [
                k
                for k in dict.fromkeys(k for e in epochs for k in e.metrics)
                if intermittent_validation(k, common, seen[k])
            ]
        metrics = {k: [e.metrics.get(k, math.nan) for e in epochs] for k in keys}
        gaps = {k: [i for i, e in enumerate(epochs) if k not in e.metrics] for k in keys if k not in common}
        numbers = [e.number for e in epochs]
        read_as: dict[str, Any] = {"format": "keras", "records": len(epochs), "index_kind": "epoch"}
        if self.seen > len(epochs):
            read_as["downsampled_from"] = self.seen
        if self.renamed:
            read_as["mapping"] = dict(self.renamed)
        if self.runs > 1:
            read_as["runs"] = self.runs
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
            gaps=gaps,
            read_as=read_as,
            bar_total=epochs[-1].total if epochs else None,
            restored_epoch=self.restored_epoch,
        )


def _validated(metrics: dict[str, float]) -> bool:
    """Whether an epoch's metrics hold validation metrics (`val_`)."""
    return any(k.startswith("val_") for k in metrics)


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


class ConsoleReader:
    """Console output: Keras' own (`LogParser`), else a custom loop's printout (`TextLogReader`), in one pass.

    It takes any text, so it comes last in `cifar_doctor.sources.logs.LOG_READERS`.
    The generic reader stops as soon as the Keras parser has seen Keras output.
    """

    name = "console"
    text = True

    def sniff(self, head: bytes | None, path: str | None) -> bool:
        return head is not None

    def read(self, log: LogInput, classes: int | None) -> History:
        name = log.name
        parser: LogParser = LogParser()
        generic: TextLogReader | None = TextLogReader()
        for t in log.texts():
            parser.feed(t)
            if generic is not None:
                if parser.epochs or parser.keras_lines:
                    generic = None
                else:
                    generic.feed(t)
        parser.finish()
        if generic is None or parser.epochs or parser.keras_lines:
            h = require_epochs(parser.history(classes=classes, source=name), name, _detail(parser))
            if h.read_as.get("downsampled_from"):
                print(
                    f"Notice: {one_line(name)} holds {h.read_as['downsampled_from']:,} epochs; {h.epochs:,} evenly spaced "
                    f"ones are read, the first and the last included (at most {MAX_LOG_EPOCHS:,}).",
                    file=sys.stderr,
                )
            return h
        found = generic.finish()
        if found.metrics:
            return found.history(classes=classes, source=name)
        detail = None if parser.truncated else found.detail  # "Epoch 1/5" and nothing after it: say that
        return require_epochs(
            parser.history(classes=classes, source=name), name, detail if detail is not None else _detail(parser)
        )


def _detail(parser: LogParser) -> str:
    """What the Keras parser saw, for a log without a complete epoch."""
    if parser.truncated:
        return "the only epoch stops before the end of its progress bar"
    return f"{parser.lines} lines, none with per-epoch metrics"


READER = ConsoleReader()
