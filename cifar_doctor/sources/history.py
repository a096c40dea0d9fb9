"""Training histories from dicts: Keras' `History.history`, a History JSON dump, a table of columns.

`history_from_dict` is where every reader of a structured history ends (the
History JSON reader here, `cifar_doctor.sources.csvlog`,
`cifar_doctor.sources.tensorboard`) and what a front end calls with the
per-epoch dict of lists it holds (`DoctorCallback`, `compare --until-verdict`,
`diagnose(history=dict)`). Nothing here imports TensorFlow or NumPy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from typing import Any

from ..errors import InputError
from ..records import History
from .logstream import LogInput, first_line, require_epochs

#: Most values (epochs x metrics) read from a CSV/JSON history. 10,000 epochs of 100
#: metrics are 1M; the cap bounds the table a list of per-epoch dicts with a key of
#: its own in every row would make (rows x keys cells), and the work of the checks.
MAX_HISTORY_VALUES = 1_000_000

#: Most JSON objects (`{...}`) in a History JSON. A dict of lists has one; a list of per-epoch
#: dicts has one per epoch, and 100,000 is ten times the epochs a console log keeps
#: (`console.MAX_LOG_EPOCHS`). Each dict costs a few hundred bytes once built, so this also
#: bounds the memory `json.loads` takes.
MAX_JSON_OBJECTS = 100_000

#: Cell values that mean "no value at this epoch": CSVLogger writes `NA` for a
#: metric missing from an epoch's logs (no validation data, `validation_freq`
#: > 1); a History JSON holds `null`. `nan` is a value (a NaN loss), not a gap.
MISSING_VALUES = frozenset({"", "na", "n/a", "none", "null"})


def number_from_text(text: str) -> float:
    """A metric value as printed (`1.77`, `nan`, `inf`, `-Infinity`) as a float."""
    t = text.lower()
    if t in ("inf", "+inf", "infinity"):
        return math.inf
    if t in ("-inf", "-infinity"):
        return -math.inf
    return float(t)


def too_many_values(name: str, received: str) -> InputError:
    """The error for a history holding more than `MAX_HISTORY_VALUES` values."""
    return InputError(
        f"The history {name} holds too many values to be a training history",
        expected=f"at most {MAX_HISTORY_VALUES:,} values (epochs x metrics)",
        received=received,
        hint="Pass the per-epoch history (CSVLogger, History.history), not per-batch values",
    )


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

    Validation every k-th epoch (`fit(validation_freq=2)`: Keras' History holds 2 values for 4
    epochs) is spread over the epochs that validated (`_spread_validation`):

    >>> history_from_dict({"loss": [1.7, 1.3, 1.1, 0.9], "val_loss": [1.4, 1.2]}).gaps
    {'val_loss': [0, 2]}
    """
    if isinstance(d, dict) and isinstance(d.get("history"), dict):
        d = d["history"]
    d = _frame_as_lists(d)
    if isinstance(d, list) and d and all(isinstance(row, dict) for row in d):
        rows = d
        keys: dict[Any, None] = {}
        for row in rows:
            keys.update(dict.fromkeys(row))
        if len(keys) * len(rows) > MAX_HISTORY_VALUES:  # one column per key, one cell per row
            raise too_many_values(source or "<history>", f"{len(rows):,} rows x {len(keys):,} keys")
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
        raise too_many_values(source or "<history>", f"{total:,} values")
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
                out.append(number_from_text(v) if isinstance(v, str) else float(v))
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
    _spread_validation(metrics, gaps)
    flavor = "keras2" if ("acc" in metrics or "val_acc" in metrics) else "unknown"
    read_as = {
        "format": "history",
        "records": max((len(v) for v in metrics.values()), default=0),
        "index_kind": "epoch",
    }
    return History(metrics=metrics, flavor=flavor, classes=classes, source=source, gaps=gaps, read_as=read_as)


def _row_numbers(d: dict[Any, Any]) -> list[Any] | None:
    """The keys of `d` in row order when each is a row number (`"0"`, `"1"`, ... as JSON writes them)."""
    try:
        return sorted(d, key=lambda k: int(k))
    except (TypeError, ValueError):
        return None


def _frame_as_lists(d: Any) -> Any:
    """A history saved by pandas (`pd.DataFrame(history.history).to_json()`) as Keras' dict of lists: its
    default layout maps each metric to {row number: value}, `orient="index"` each row number to
    {metric: value}. Anything else is returned as it is."""
    if not isinstance(d, dict) or not d or not all(isinstance(v, dict) for v in d.values()):
        return d
    if sum(len(v) for v in d.values()) > MAX_HISTORY_VALUES:
        return d  # refused as too many values, or as not a history, by the caller
    if (rows := _row_numbers(d)) is not None:
        return [d[r] for r in rows]  # orient="index": one dict a row
    columns = {}
    for name, cells in d.items():
        if (order := _row_numbers(cells)) is None:
            return d
        columns[name] = [cells[r] for r in order]
    return columns


#: A validation metric that some epochs lack (`fit(validation_freq=k)` validates every k-th epoch) is read,
#: with gaps, from this many epochs that have it: one value is no curve (and no frequency can be read off
#: the lengths of a History's lists from one value).
INTERMITTENT_MIN_EPOCHS = 2


def intermittent_validation(key: str, every_epoch: Collection[str], epochs_with_it: int) -> bool:
    """Whether `key` is a validation metric logged in some epochs only, `epochs_with_it` of them (at least
    `INTERMITTENT_MIN_EPOCHS`), beside its training metric, which `every_epoch` (the keys every epoch logs)
    holds: the console and custom-loop readers read such a metric with gaps."""
    return (
        key.startswith("val_")
        and key not in every_epoch
        and key[4:] in every_epoch
        and epochs_with_it >= INTERMITTENT_MIN_EPOCHS
    )


def _validation_every(epochs: int, values: int) -> int | None:
    """The one `validation_freq` k >= 2 that validates `values` times in `epochs` epochs (at epochs k, 2k, ...)."""
    if values < INTERMITTENT_MIN_EPOCHS or values >= epochs:
        return None
    fits = [k for k in range(2, epochs + 1) if epochs // k == values]
    return fits[0] if len(fits) == 1 else None


def _spread_validation(metrics: dict[str, list[float]], gaps: dict[str, list[int]]) -> None:
    """Put the values of `fit(validation_freq=k)` at the epochs they were measured, in place.

    Keras' History appends a `val_` value only at the epochs that validated, so its `val_loss` is
    shorter than `loss` (4 values for 8 epochs at k = 2), and read as it stands the validation of
    epoch 2 would face the training of epoch 1. When exactly one k explains the lengths, each
    value moves to epoch k, 2k, ... and the epochs in between become gaps; otherwise (a run stopped
    during its last validation, a list of epochs) the lists stay as they are.
    """
    for name in [n for n in metrics if n.startswith("val_") and n[4:] in metrics and n not in gaps]:
        epochs, values = len(metrics[name[4:]]), metrics[name]
        k = _validation_every(epochs, len(values))
        if k is None:
            continue
        spread = [math.nan] * epochs
        for i, v in enumerate(values):
            spread[(i + 1) * k - 1] = v
        metrics[name] = spread
        gaps[name] = [i for i in range(epochs) if (i + 1) % k or (i + 1) // k > len(values)]


def _check_json_size(text: str, name: str) -> None:
    """Refuse, before `json.loads` builds them, more values or objects than a history holds.

    Counting separators is one pass in C over text already bounded by bytes; a value
    `json.loads` builds costs ~30-400 bytes of memory (a float, a dict), so a 50 MB list of
    small dicts would grow past a gigabyte before `history_from_dict` could count it.
    """
    values = text.count(",") + 1  # every value but the last of each list or object is followed by one
    if values > MAX_HISTORY_VALUES:
        raise too_many_values(name, f"about {values:,} values")
    objects = text.count("{")
    if objects > MAX_JSON_OBJECTS:
        raise too_many_values(name, f"about {objects:,} JSON objects (more than {MAX_JSON_OBJECTS:,})")


#: The pieces of a printed Python dict (`print(history.history)`) that JSON spells otherwise: strings
#: in either quotes (kept whole, so nothing inside one is rewritten), NumPy scalars' reprs
#: (`np.float32(0.35)` under NumPy 2), and the bare words `nan`, `inf`, `True`, `False`, `None`.
_PY_TOKEN_RE = re.compile(
    r"""(?P<dq>"(?:[^"\\]|\\.)*")|'(?P<sq>(?:[^'\\]|\\.)*)'"""
    r"|(?:np|numpy)\.(?:float|int)\d*\(\s*(?P<num>[^()'\"]*?)\s*\)"
    r"|(?P<word>\b(?:nan|inf|True|False|None)\b)"
)
_PY_WORDS = {"nan": "NaN", "inf": "Infinity", "True": "true", "False": "false", "None": "null"}


#: The start of a dict of lists: `{'loss': [`.
_DICT_START = rb"\{\s*['\"][^'\"\n]{1,80}['\"]\s*:\s*\["
_DICT_START_RE = re.compile(_DICT_START)

#: A dict of lists behind a short label (`history: {'loss': [1.72, ...`), as `print("history:",
#: history.history)` writes it, on a line of its own: a log that goes on after such a line (a printed
#: configuration above Keras' output) is the console reader's.
_LABELLED_DICT_RE = re.compile(rb"[^{}\[\]\n]{1,80}?" + _DICT_START)


def _labelled_dict(head: bytes) -> bool:
    """Whether `head` (blank lead dropped) is one line holding a labelled dict of lists."""
    return _LABELLED_DICT_RE.match(head) is not None and b"\n" not in head.rstrip()


#: A printed dict of lists may follow this many lines of its own, as it is pasted: the statement that
#: printed it (`>>> print(history.history)`), IPython's `Out[5]:` above a dict too long for one line, a
#: `print("history:")`. Each is at most `MAX_LEAD_CHARS` long and holds no brace (a printed configuration
#: above Keras' output, `config: {...}`, leaves the log to the console reader); a dict further down is
#: output of a log that is something else.
MAX_LEAD_LINES = 3
MAX_LEAD_CHARS = 200


#: An interpreter's prompt left empty at the end of a paste (`>>> `, `...`, IPython's `In [6]:`).
_TRAILING_PROMPTS_RE = re.compile(r"(?:\n[ \t]*(?:>>>|\.\.\.|In \[\d{1,6}\]:)[ \t]*)+\s*$")


def _dict_after_lead(head: bytes) -> bool:
    """Whether `head` (blank lead dropped) holds a dict of lists at a line's start after a few short lines
    (`MAX_LEAD_LINES`), blank lines between them."""
    at = 0
    for _ in range(MAX_LEAD_LINES):
        end = head.find(b"\n", at)
        if end < 0 or end - at > MAX_LEAD_CHARS or b"{" in head[at:end]:
            return False
        at = end + 1
        while at < len(head) and head[at : at + 1].isspace():
            at += 1
        if _DICT_START_RE.match(head, at):
            return True
    return False


def _python_repr_as_json(text: str) -> str:
    """A printed Python dict of lists (`{'loss': [1.7, nan], ...}`) rewritten as JSON; literals only, never run."""

    def one(m: re.Match) -> str:
        if m.group("dq") is not None:
            return m.group("dq")
        if m.group("sq") is not None:
            return json.dumps(m.group("sq").replace("\\'", "'"))
        if m.group("num") is not None:
            return _PY_TOKEN_RE.sub(one, m.group("num"))
        return _PY_WORDS[m.group("word")]

    return _PY_TOKEN_RE.sub(one, text)


def _loads(text: str) -> Any:
    """JSON, else the same text as Python prints a dict of lists; the JSON error when neither reads."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if not _PY_TOKEN_RE.search(text):
            raise
        try:
            return json.loads(_python_repr_as_json(text))
        except json.JSONDecodeError as printed:
            # the text as Python prints it read further than as JSON: its error is the one to show
            raise (printed if printed.pos > exc.pos else exc) from None


class HistoryJsonReader:
    """`json.dump(history.history)` output (a dict of lists, `{"history": ...}`, or a list of per-epoch dicts),
    or the same printed by Python (`print(history.history)`: single quotes, `nan`, `np.float32(...)`)."""

    name = "history-json"
    text = True

    def sniff(self, head: bytes | None, path: str | None) -> bool:
        if head is None:
            return False
        stripped = head.lstrip()
        return (
            stripped.startswith(b"{")
            or re.match(rb"\[\s*\{", stripped) is not None
            or _labelled_dict(stripped)
            or _dict_after_lead(stripped)
        )

    def read(self, log: LogInput, classes: int | None) -> History:
        name = log.name
        text = log.rest_text()
        lead = 0  # lines before the dict: a label, a prompt (`_dict_after_lead`)
        if not text.lstrip().startswith(("{", "[")) and "{" in text:
            lead = text.count("\n", 0, text.index("{"))
            text = text[text.index("{") :]  # `print("history:", history.history)`: the label is not JSON
        text = _TRAILING_PROMPTS_RE.sub("", text)
        _check_json_size(text, name)
        try:
            data = _loads(text)
        except json.JSONDecodeError as exc:
            what = "text after the dict" if exc.msg == "Extra data" else exc.msg
            raise InputError(
                f"Cannot read the History JSON {name}: {what} at line {lead + exc.lineno}",
                expected='json.dump(history.history) output: {"loss": [...], "val_loss": [...]}',
            ) from None
        except (ValueError, RecursionError) as exc:  # an integer past Python's digit limit; nesting past the stack
            what = (
                "it nests too deeply"
                if isinstance(exc, RecursionError)
                else "it holds an integer of thousands of digits"
                if "digits" in str(exc)
                else first_line(exc)
            )
            raise InputError(
                f"Cannot read the History JSON {name}: {what}",
                expected='json.dump(history.history) output: {"loss": [...], "val_loss": [...]}',
            ) from None
        h = history_from_dict(data, source=name, classes=classes)
        h.read_as["format"] = "history-json"
        return require_epochs(h, name)


JSON_READER = HistoryJsonReader()
