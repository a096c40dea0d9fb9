"""Log shapes: deterministic writers that turn a run's recorded history into what users paste.

Every writer takes a run record (a `result.json` of the generator or a packed record: `history`,
`history_order`, `steps`, `steps_per_epoch`, `val_steps`, `samples`, `epoch_seconds`, `evaluate`,
`spec`) and returns the text (or, for TensorBoard, the bytes) of one shape:

| shape | what it is |
|---|---|
| `console-v2` | the captured stdout of the run itself, `verbose=2` (not a writer) |
| `console-v1` | the captured terminal output of its identically seeded `verbose=1` twin (not a writer) |
| `keras3-v2` | Keras 3 `verbose=2`: `32/32 - 1s - 29ms/step - accuracy: ... - val_loss: ...` |
| `keras3-v1` | Keras 3 `verbose=1`: `━━━` bars redrawn with `\\b`/`\\r` and ANSI colours, as a file keeps them |
| `keras2` | standalone Keras 2.2: `Train on N samples, validate on M samples`, `[=====]` sample bars, `acc`/`val_acc` |
| `keras1` | Keras 1 / 2.0-2.1 `verbose=2`: ` - 3s - loss: ... - acc: ...` under `Epoch k/n` |
| `tfkeras2` | tf.keras 2.x `verbose=1` as pasted from a notebook: `[=====]` step bars, `accuracy` |
| `csvlogger` | `keras.callbacks.CSVLogger` (sorted columns, 0-based `epoch`) |
| `history-json` | `json.dump(history.history)` |
| `tensorboard` | one event file as standalone Keras 2's TensorBoard callback wrote it (`simple_value` scalars `loss`, `val_acc`, ...); `write_tensorboard_run` writes Keras 3's `train/` + `validation/` layout |
| `per-step` | one line per recorded optimizer step: `Step 120: loss = 2.1034, accuracy = 0.2188` |
| `custom-loop` | a hand-written loop's printout: `epoch 3: train_loss=... train_acc=... val_loss=... val_acc=...` |
| `truncated` | the Keras 3 `verbose=1` text cut in the middle of an epoch (a run killed or still going) |

Numbers are the run's own (Keras 3 on TensorFlow: losses computed from logits, unclipped). A real
standalone Keras <= 2.2 run clipped probabilities at 1e-7, so its crossentropy never exceeded
-ln(1e-7) = 16.12 per sample: the `keras1`/`keras2` shapes keep Keras 3's numbers and are only as old
as their layout. Times are the run's measured epoch times spread evenly over its steps. The per-step
values are what Keras passes to `on_train_batch_end`: running means over the epoch so far.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
import struct
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cifar_doctor.sources.console import TERMINAL_WIDTHS

#: Shapes read from the run's captured console text rather than written from its history.
CAPTURED_V2 = "console-v2"
CAPTURED_V1 = "console-v1"

#: Shapes that hold no printed evaluate() result (history files): they do not apply to a run whose
#: bug only evaluate() shows.
HISTORY_SHAPES = frozenset({"csvlogger", "history-json", "tensorboard", "per-step"})

#: Written shapes beyond `keras3-v2` and the share of runs each applies to (csvlogger and
#: history-json: every run whose history shows the bug; the rest: enough runs of every cause).
OPTIONAL_SHAPES = {
    "csvlogger": 1.0,
    "history-json": 1.0,
    "keras3-v1": 0.4,
    "keras2": 0.3,
    "keras1": 0.25,
    "tfkeras2": 0.3,
    "tensorboard": 0.35,
    "per-step": 0.3,
    "custom-loop": 0.3,
    "truncated": 0.25,
}

SHAPES = (
    CAPTURED_V2,
    CAPTURED_V1,
    "keras3-v2",
    "keras3-v1",
    "keras2",
    "keras1",
    "tfkeras2",
    "csvlogger",
    "history-json",
    "tensorboard",
    "per-step",
    "custom-loop",
    "truncated",
)

#: Width of the progress bars (Keras 3: 20 `━`; Keras 2: 30 `=`).
K3_BAR = 20
K2_BAR = 30

#: Keras 3's progress bar redraws at most every 0.05 s (`Progbar.interval`).
REDRAW_SECONDS = 0.05

#: Keras 3 evaluate()'s default batch size.
EVAL_BATCH = 32

#: Wall-clock start written into TensorBoard events (fixed, so writers are deterministic).
EVENT_T0 = 1_764_000_000.0


# ------------------------------------------------------------------------------------------
# Shared pieces
# ------------------------------------------------------------------------------------------
def _fmt_v1(v: float) -> str:
    """Keras 3's Progbar value format in verbose=1 (`abs(avg) > 1e-3`)."""
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _fmt_v2(v: float) -> str:
    """Keras 3's Progbar value format in verbose=2 (`avg > 1e-3`: negative values print in e-notation)."""
    return f"{v:.4f}" if v > 1e-3 else f"{v:.4e}"


def _fmt_k2(v: float) -> str:
    """Keras 2's `' %.4f'` / `' %.4e'` (abs)."""
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def _per_unit(seconds: float, unit: str = "step") -> str:
    """Keras' `_format_time`: `1s/step`, `29ms/step`, `812us/step`."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1000:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _order(run: dict[str, Any]) -> list[str]:
    return list(run.get("history_order") or run["history"].keys())


def _epochs(run: dict[str, Any]) -> int:
    return max((len(v) for v in run["history"].values()), default=0)


def _row(run: dict[str, Any], e: int) -> list[tuple[str, float]]:
    h = run["history"]
    return [(k, _num(h[k][e])) for k in _order(run) if e < len(h[k])]


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _eval_pairs(run: dict[str, Any]) -> list[tuple[str, float]]:
    """evaluate()'s logs in the order Keras prints them (the training keys' order)."""
    ev = dict(zip(run["evaluate"]["names"], run["evaluate"]["values"]))
    order = [k for k in _order(run) if not k.startswith("val_") and k in ev]
    return [(k, _num(ev[k])) for k in order + [k for k in ev if k not in order]]


def _eval_steps(run: dict[str, Any]) -> int:
    return max(1, math.ceil(run["samples"]["eval"] / EVAL_BATCH))


def _k2_name(name: str, old: bool) -> str:
    """Keras <= 2.2 logged `acc`/`val_acc` for metrics=['accuracy']."""
    if not old:
        return name
    return {"accuracy": "acc", "val_accuracy": "val_acc"}.get(name, name)


def _k2_pairs(pairs: list[tuple[str, float]], old: bool) -> list[tuple[str, float]]:
    """Keras 2 order: loss first, then metrics, then the val_ ones in the same order."""
    train = [p for p in pairs if not p[0].startswith("val_")]
    val = [p for p in pairs if p[0].startswith("val_")]

    def key(p: tuple[str, float]) -> tuple[bool]:
        return (p[0] not in ("loss", "val_loss"),)

    return [(_k2_name(k, old), v) for k, v in sorted(train, key=key) + sorted(val, key=key)]


def _printed(run: dict[str, Any]) -> str:
    return run["evaluate"].get("printed", "")


def _truncation(run: dict[str, Any]) -> tuple[int, int]:
    """(complete epochs kept, steps drawn of the next one) for the truncated shape, from the run id."""
    r = random.Random(zlib.crc32(str(run["run_id"]).encode()))
    n = _epochs(run)
    keep = max(1, min(n - 1, int(n * r.uniform(0.3, 0.9))))
    steps = run["steps_per_epoch"]
    return keep, max(1, min(steps - 1, int(steps * r.uniform(0.2, 0.8)))) if steps > 1 else 1


# ------------------------------------------------------------------------------------------
# Keras 3
# ------------------------------------------------------------------------------------------
def keras3_v2(run: dict[str, Any]) -> str:
    out = []
    n, steps = _epochs(run), run["steps_per_epoch"]
    width = len(str(steps))
    for e in range(n):
        if n > 1:
            out.append(f"Epoch {e + 1}/{n}\n")
        secs = run["epoch_seconds"][e] if e < len(run["epoch_seconds"]) else 0.0
        info = f"{steps:>{width}}/{steps} - {secs:.0f}s - {_per_unit(secs / steps)}"
        info += "".join(f" - {k}: {_fmt_v2(v)}" for k, v in _row(run, e))
        out.append(info + "\n")
    es = _eval_steps(run)
    secs = run["evaluate"].get("seconds", 0.0)
    info = f"{es}/{es} - {secs:.0f}s - {_per_unit(secs / es)}" + "".join(
        f" - {k}: {_fmt_v2(v)}" for k, v in _eval_pairs(run)
    )
    out.append(info + "\n")
    out.append(_printed(run))
    return "".join(out)


class _Bar:
    """Keras 3's Progbar in verbose=1 with dynamic display: each update erases the previous line."""

    def __init__(self, target: int) -> None:
        self.target, self.prev = target, 0
        self.parts: list[str] = []

    def update(self, current: int, pairs: list[tuple[str, float]], eta_or_elapsed: str, per: str, final: bool) -> None:
        msg = "\b" * self.prev + "\r"
        digits = int(math.log10(self.target)) + 1
        bar = f"\x1b[1m{current:>{digits}}/{self.target}\x1b[0m "
        special = 8
        filled = int(K3_BAR * current / self.target)
        if filled > 0:
            bar += f"\x1b[32m{'━' * filled}\x1b[0m"
            special += 9
        bar += f"\x1b[37m{'━' * (K3_BAR - filled)}\x1b[0m"
        special += 9
        info = f" \x1b[1m{eta_or_elapsed}\x1b[0m {per}"
        special += 8
        info += "".join(f" - {k}: {_fmt_v1(v)}" for k, v in pairs)
        total = len(bar) + len(info) - special
        msg += bar + info
        if self.prev > total:
            msg += " " * (self.prev - total)
        if final:
            msg += "\n"
        self.parts.append(msg)
        self.prev = total


def _eta(seconds: float) -> str:
    """Keras' ETA: `1:02:03`, `2:05` or `12s` (whole seconds, truncated)."""
    s = int(seconds)
    if seconds > 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if seconds > 60:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s}s"


def _step_rows(run: dict[str, Any], epoch: int) -> list[tuple[int, list[tuple[str, float]]]]:
    """The recorded (step, train metrics) of one 1-based epoch, in Keras' key order."""
    s = run["steps"]
    keys = [k for k in _order(run) if not k.startswith("val_") and k in s]
    keys += [k for k in s if k not in ("epoch", "step") and k not in keys]
    rows = []
    for i, ep in enumerate(s.get("epoch", [])):
        if ep == epoch:
            rows.append((int(s["step"][i]), [(k, _num(s[k][i])) for k in keys]))
    return rows


def _epoch_v1(run: dict[str, Any], e: int, bar: _Bar, stop_at: int | None = None) -> None:
    steps = run["steps_per_epoch"]
    secs = run["epoch_seconds"][e] if e < len(run["epoch_seconds"]) else 0.0
    per = secs / steps
    every = max(1, math.ceil(REDRAW_SECONDS / per)) if per > 0 else 1
    last_drawn = -every
    for step, pairs in _step_rows(run, e + 1):
        if stop_at is not None and step > stop_at:
            return
        if step != 1 and step - last_drawn < every:
            continue
        last_drawn = step
        bar.update(step, pairs, _eta(per * (steps - step)), _per_unit(per), False)
    if stop_at is None:
        bar.update(steps, _row(run, e), f"{secs:.0f}s", _per_unit(per), True)


def keras3_v1(run: dict[str, Any], truncate: bool = False) -> str:
    out: list[str] = []
    n, steps = _epochs(run), run["steps_per_epoch"]
    keep, partial = _truncation(run) if truncate else (n, 0)
    for e in range(min(n, keep + 1) if truncate else n):
        if n > 1:
            out.append(f"Epoch {e + 1}/{n}\n")
        bar = _Bar(steps)
        _epoch_v1(run, e, bar, stop_at=partial if truncate and e == keep else None)
        out.extend(bar.parts)
    if truncate:
        return "".join(out)
    es = _eval_steps(run)
    secs = run["evaluate"].get("seconds", 0.0)
    bar = _Bar(es)
    bar.update(es, _eval_pairs(run), f"{secs:.0f}s", _per_unit(secs / es), True)
    out.extend(bar.parts)
    out.append(_printed(run))
    return "".join(out)


# ------------------------------------------------------------------------------------------
# Keras 1/2 and tf.keras 2
# ------------------------------------------------------------------------------------------
def _k2_bar(current: int, target: int) -> str:
    digits = len(str(target))
    filled = int(K2_BAR * current / target)
    bar = "=" * (filled - 1) + (">" if current < target else "=") if filled > 0 else ""
    return f"{current:>{digits}}/{target} [" + bar + "." * (K2_BAR - len(bar)) + "]"


def keras2(run: dict[str, Any]) -> str:
    """Standalone Keras 2.2: sample counts, `acc`, per-sample times, `Train on ... samples`."""
    n = _epochs(run)
    samples = run["samples"]
    out = []
    head = f"Train on {samples['train']} samples"
    if samples.get("val"):
        head += f", validate on {samples['val']} samples"
    out.append(head + "\n")
    for e in range(n):
        out.append(f"Epoch {e + 1}/{n}\n")
        secs = run["epoch_seconds"][e] if e < len(run["epoch_seconds"]) else 0.0
        line = f"{_k2_bar(samples['train'], samples['train'])} - {secs:.0f}s {_per_unit(secs / samples['train'])}"
        line += "".join(f" - {k}: {_fmt_k2(v)}" for k, v in _k2_pairs(_row(run, e), old=True))
        out.append(line + "\n")
    ne = samples["eval"]
    secs = run["evaluate"].get("seconds", 0.0)
    out.append(f"{_k2_bar(ne, ne)} - {secs:.0f}s {_per_unit(secs / ne)}\n")
    out.append(_printed(run))
    return "".join(out)


def keras1(run: dict[str, Any]) -> str:
    """Keras 1 / 2.0-2.1 with verbose=2: one ` - 3s - loss: ...` line per epoch."""
    n = _epochs(run)
    samples = run["samples"]
    out = []
    head = f"Train on {samples['train']} samples"
    if samples.get("val"):
        head += f", validate on {samples['val']} samples"
    out.append(head + "\n")
    for e in range(n):
        out.append(f"Epoch {e + 1}/{n}\n")
        secs = run["epoch_seconds"][e] if e < len(run["epoch_seconds"]) else 0.0
        out.append(
            f" - {secs:.0f}s" + "".join(f" - {k}: {_fmt_k2(v)}" for k, v in _k2_pairs(_row(run, e), old=True)) + "\n"
        )
    out.append(_printed(run))
    return "".join(out)


def tfkeras2(run: dict[str, Any]) -> str:
    """tf.keras 2.x verbose=1 as a notebook keeps it: the final bar of each epoch, step counts."""
    n, steps = _epochs(run), run["steps_per_epoch"]
    out = []
    for e in range(n):
        out.append(f"Epoch {e + 1}/{n}\n")
        secs = run["epoch_seconds"][e] if e < len(run["epoch_seconds"]) else 0.0
        line = f"{_k2_bar(steps, steps)} - {secs:.0f}s {_per_unit(secs / steps)}"
        line += "".join(f" - {k}: {_fmt_k2(v)}" for k, v in _k2_pairs(_row(run, e), old=False))
        out.append(line + "\n")
    es = _eval_steps(run)
    secs = run["evaluate"].get("seconds", 0.0)
    out.append(
        f"{_k2_bar(es, es)} - {secs:.0f}s {_per_unit(secs / es)}"
        + "".join(f" - {k}: {_fmt_k2(v)}" for k, v in _k2_pairs(_eval_pairs(run), old=False))
        + "\n"
    )
    out.append(_printed(run))
    return "".join(out)


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------
def csvlogger(run: dict[str, Any]) -> str:
    """CSVLogger: `epoch` then the sorted keys; values as `str(float)` (Keras writes the Python float)."""
    keys = sorted(run["history"])
    lines = [",".join(["epoch"] + keys)]
    for e in range(_epochs(run)):
        lines.append(
            ",".join(
                [str(e)] + [repr(_num(run["history"][k][e])) if e < len(run["history"][k]) else "NA" for k in keys]
            )
        )
    return "\r\n".join(lines) + "\r\n"  # csv.writer's default line terminator


def history_json(run: dict[str, Any]) -> str:
    return json.dumps({k: [_num(v) for v in run["history"][k]] for k in _order(run)})


def per_step(run: dict[str, Any]) -> str:
    s = run["steps"]
    keys = [k for k in s if k not in ("epoch", "step")]
    steps = run["steps_per_epoch"]
    out = []
    for i, (ep, st) in enumerate(zip(s.get("epoch", []), s.get("step", []))):
        global_step = (int(ep) - 1) * steps + int(st)
        out.append(f"Step {global_step}: " + ", ".join(f"{k} = {_num(s[k][i]):.4f}" for k in keys) + "\n")
    return "".join(out)


def custom_loop(run: dict[str, Any], decimals: int = 4) -> str:
    """A hand-written training loop's printout, every value to `decimals` places (`f"{acc:.2f}"` at 2)."""
    names = {"loss": "train_loss", "val_loss": "val_loss"}
    out = []
    for e in range(_epochs(run)):
        pairs = []
        for k, v in _row(run, e):
            if k in names:
                name = names[k]
            elif k.startswith("val_"):
                name = "val_acc" if "acc" in k else k
            else:
                name = "train_acc" if "acc" in k else "train_" + k
            pairs.append(f"{name}={v:.{decimals}f}")
        out.append(f"epoch {e + 1}: " + " ".join(pairs) + "\n")
    ev = _eval_pairs(run)
    out.append(
        "test: "
        + " ".join(
            f"{'test_loss' if k == 'loss' else 'test_acc' if 'acc' in k else 'test_' + k}={v:.{decimals}f}"
            for k, v in ev
        )
        + "\n"
    )
    return "".join(out)


# --- TensorBoard: TFRecord framing of Event protocol buffers, written by hand ------------------
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    """One protocol buffer field: a varint (wire 0), length-delimited bytes (2) or fixed bytes (1, 5)."""
    key = _varint((number << 3) | wire)
    if isinstance(payload, int):
        return key + _varint(payload)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _event(wall: float, step: int | None = None, summary: bytes | None = None, version: str | None = None) -> bytes:
    out = _field(1, 1, struct.pack("<d", wall))
    if step is not None:
        out += _field(2, 0, step)
    if version is not None:
        out += _field(3, 2, version.encode())
    if summary is not None:
        out += _field(5, 2, summary)
    return out


def _simple_value(tag: str, value: float) -> bytes:
    return _field(1, 2, _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", value)))


def _tensor_value(tag: str, value: float) -> bytes:
    """A `tf.summary.scalar` value: a float32 scalar tensor with the scalars plugin's metadata."""
    meta = _field(1, 2, _field(1, 2, b"scalars"))
    tensor = _field(1, 0, 1) + _field(2, 2, b"") + _field(5, 2, struct.pack("<f", value))
    return _field(1, 2, _field(1, 2, tag.encode()) + _field(9, 2, meta) + _field(8, 2, tensor))


def _record(data: bytes) -> bytes:
    from cifar_doctor.sources.tfevents import masked_crc32c

    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data))


def _wall(run: dict[str, Any], e: int) -> float:
    return EVENT_T0 + sum(run["epoch_seconds"][: e + 1])


def tensorboard(run: dict[str, Any]) -> bytes:
    """One event file as standalone Keras 2's TensorBoard callback wrote it: `simple_value` scalars tagged
    with the logs' names (`loss`, `acc`, `val_loss`, `val_acc`), step = the 0-based epoch."""
    out = [_record(_event(EVENT_T0, step=0, version="brain.Event:2"))]
    for e in range(_epochs(run)):
        summary = b"".join(_simple_value(k, v) for k, v in _k2_pairs(_row(run, e), old=True))
        out.append(_record(_event(_wall(run, e), step=e, summary=summary)))
    return b"".join(out)


def write_tensorboard_run(run: dict[str, Any], log_dir: str | Path) -> Path:
    """Keras 3's layout: `log_dir/train/` and `log_dir/validation/`, each one event file of tensor scalars
    `epoch_loss`, `epoch_accuracy`, ... (step = the 0-based epoch). Returns `log_dir`."""
    root = Path(log_dir)
    for folder, val in (("train", False), ("validation", True)):
        records = [_record(_event(EVENT_T0, step=0, version="brain.Event:2"))]
        for e in range(_epochs(run)):
            pairs = [(k[4:] if val else k, v) for k, v in _row(run, e) if k.startswith("val_") == val]
            if not pairs:
                continue
            for k, v in pairs:
                records.append(_record(_event(_wall(run, e), step=e, summary=_tensor_value(f"epoch_{k}", v))))
        if len(records) == 1:
            continue
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / f"events.out.tfevents.{int(EVENT_T0)}.corpus.0.v2").write_bytes(b"".join(records))
    return root


# ------------------------------------------------------------------------------------------
WRITERS: dict[str, Callable[[dict[str, Any]], str | bytes]] = {
    "keras3-v2": keras3_v2,
    "keras3-v1": keras3_v1,
    "keras2": keras2,
    "keras1": keras1,
    "tfkeras2": tfkeras2,
    "csvlogger": csvlogger,
    "history-json": history_json,
    "tensorboard": tensorboard,
    "per-step": per_step,
    "custom-loop": custom_loop,
    "truncated": lambda run: keras3_v1(run, truncate=True),
}


_HEADER_RE = re.compile(r"Epoch \d+/\d+")


def _console_lines(run: dict[str, Any]) -> tuple[list[str], list[int]]:
    """The Keras 3 console (verbose 2) of a run, as lines, and the positions of its `Epoch k/n` headers."""
    lines = keras3_v2(run).splitlines(keepends=True)
    return lines, [i for i, line in enumerate(lines) if _HEADER_RE.match(line)]


def pasted_tail(run: dict[str, Any]) -> str:
    """The Keras 3 console (verbose 2) as a user pastes it into a question: from the epoch after the first
    half on (`Epoch 7/12` first), with the `evaluate()` lines after it."""
    lines, starts = _console_lines(run)
    return "".join(lines[starts[len(starts) // 2] :]) if starts else "".join(lines)


def restored_best(run: dict[str, Any]) -> str:
    """The Keras 3 console (verbose 2) of the run as if `EarlyStopping(restore_best_weights=True)` had
    restored its epoch of lowest `val_loss` before `evaluate()` on the validation data: the evaluate line
    repeats that epoch's validation metrics."""
    h = run["history"]
    val_loss = [math.inf if v is None else _num(v) for v in h.get("val_loss", [])]
    if not val_loss:
        return keras3_v2(run)
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    names = run["evaluate"]["names"]
    values = [h["val_" + k][best] if len(h.get("val_" + k, [])) > best else None for k in names]
    return keras3_v2({**run, "evaluate": {**run["evaluate"], "values": values, "printed": ""}})


def middle_cut(run: dict[str, Any]) -> str:
    """The Keras 3 console (verbose 2) pasted with its middle left out: the first three epochs, a line of
    `...`, the last three and the `evaluate()` lines."""
    lines, starts = _console_lines(run)
    if len(starts) < 7:
        return "".join(lines)
    return "".join(lines[: starts[3]]) + "...\n" + "".join(lines[starts[-3] :])


def every_fifth(run: dict[str, Any]) -> str:
    """A custom loop that prints epoch 1 and every fifth epoch after it (`if epoch % 5 == 0`)."""
    kept = []
    for line in custom_loop(run).splitlines(keepends=True):
        m = re.match(r"epoch (\d+):", line)
        if m is None or int(m.group(1)) == 1 or int(m.group(1)) % 5 == 0:
            kept.append(line)
    return "".join(kept)


#: Lines TensorFlow and Python print between a run's epochs: a C++ log line, a warning with its source
#: line, a tf.data notice.
TF_CHATTER = (
    "2024-03-02 10:11:12.345678: I tensorflow/core/common_runtime/executor.cc:1197] [/device:CPU:0] (DEBUG INFO) "
    "Executor start aborting (this does not indicate an error and you can ignore this message): "
    "INVALID_ARGUMENT: You must feed a value for placeholder tensor 'Placeholder/_0' with dtype int32\n",
    "/usr/local/lib/python3.10/dist-packages/keras/src/trainers/data_adapters/py_dataset_adapter.py:121: "
    "UserWarning: Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor.\n",
    "  self._warn_if_super_not_called()\n",
    "WARNING:tensorflow:Your input ran out of data; interrupting training. Make sure that your dataset or "
    "generator can generate at least `steps_per_epoch * epochs` batches (in this case, 100 batches).\n",
)


def with_chatter(run: dict[str, Any]) -> str:
    """The Keras 3 console (verbose 1) with TensorFlow's log lines and warnings before it and after every
    third epoch header, as a notebook or a terminal shows them."""
    out = list(TF_CHATTER[:3])
    for i, line in enumerate(keras3_v1(run).splitlines(keepends=True)):
        out.append(line)
        if _HEADER_RE.match(line) and i % 3 == 0:
            out.append(TF_CHATTER[3])
    return "".join(out)


def renamed_metrics(run: dict[str, Any]) -> str:
    """The Keras 3 console (verbose 2) of a model compiled with metric objects,
    `metrics=[SparseCategoricalAccuracy(), SparseTopKCategoricalAccuracy()]`: `sparse_categorical_accuracy`
    for `accuracy`, and a top-k accuracy beside it (halfway from the accuracy to 1)."""
    names = {k: k.replace("accuracy", "sparse_categorical_accuracy") for k in run["history"] if "accuracy" in k}
    history: dict[str, Any] = {}
    order: list[str] = []
    for k in _order(run):
        history[names.get(k, k)] = run["history"][k]
        order.append(names.get(k, k))
        if k in names:
            top = k.replace("accuracy", "sparse_top_k_categorical_accuracy")
            history[top] = [None if v is None else min(1.0, _num(v) + 0.5 * (1.0 - _num(v))) for v in run["history"][k]]
            order.append(top)
    ev = {**run["evaluate"], "names": [names.get(n, n) for n in run["evaluate"]["names"]]}
    return keras3_v2({**run, "history": history, "history_order": order, "evaluate": ev})


def wrapped_console(run: dict[str, Any], width: int = 80) -> str:
    """The Keras 2 console (verbose 1) hard-wrapped at `width` columns at spaces, as a Windows console's
    copy or a quoted mail gives it: `... - loss: 2.2453 - acc:` then `0.2675 - val_loss: ...`."""
    return "".join(
        "\n".join(textwrap.wrap(line, width, break_long_words=False, break_on_hyphens=False)) + "\n"
        if line.strip()
        else "\n"
        for line in keras2(run).splitlines()
    )


def terminal_wrapped_console(run: dict[str, Any], width: int = 80) -> str:
    """The Keras 2 console (verbose 1) as copied from a terminal `width` columns wide that broke each long
    line where it reached the edge, inside a name or a number: `... - val_acc` then `uracy: 0.5209`."""
    return "".join(
        "".join(line[i : i + width] + "\n" for i in range(0, len(line), width)) if line else "\n"
        for line in keras2(run).splitlines()
    )


#: Widths of terminal windows resized by hand, for `terminal_any_width_console`: any from a narrow
#: pane to a wide screen, never one of the reader's `TERMINAL_WIDTHS` (80, 100, 120, 132, 160, 200).
ANY_WIDTHS = tuple(w for w in range(60, 221) if w not in TERMINAL_WIDTHS)


def terminal_any_width_console(run: dict[str, Any]) -> str:
    """`terminal_wrapped_console` at a width no preset gives, one per run (from its id): a window resized by
    hand, a tmux pane, an editor's terminal panel."""
    digest = hashlib.sha256(str(run.get("run_id", "")).encode()).digest()
    return terminal_wrapped_console(run, ANY_WIDTHS[int.from_bytes(digest[:4], "big") % len(ANY_WIDTHS)])


def quoted_console(run: dict[str, Any]) -> str:
    """The Keras 2 console (verbose 1) quoted in a mail or a forum post: `> ` before every line."""
    return "".join("> " + line for line in keras2(run).splitlines(keepends=True))


def stamped_console(run: dict[str, Any]) -> str:
    """The Keras 3 console (verbose 2) as a cloud job's log shows it: a timestamp before every line."""
    return "".join(
        f"2024-03-02T10:{i // 60 % 60:02d}:{i % 60:02d}.{i * 37 % 1000:03d}Z " + line
        for i, line in enumerate(keras3_v2(run).splitlines(keepends=True))
    )


#: Shapes no run is packed with, which `score.py --reprint` renders every run's log in: a custom loop
#: printing two or three places (`f"{acc:.2f}"`), as users' own loops do, or every fifth epoch; the
#: console pasted from its middle (`tail`) or with its middle cut out (`cut`); the console of a run whose
#: best epoch was restored before `evaluate()` (`restored`), with TensorFlow's chatter between its lines
#: (`chatter`), with metric objects' names (`renamed`) or a timestamp before every line (`stamped`); the
#: Keras 2 console hard-wrapped at 80 columns at a space (`wrapped`) or at the 80th character, as a
#: terminal copies it (`terminal`) or at a width no preset gives (`terminal-any`), or quoted with `> ` (`quoted`).
REPRINT_SHAPES: dict[str, str] = {
    "2": "custom-loop-2dp",
    "3": "custom-loop-3dp",
    "every5": "custom-loop-every5",
    "tail": "keras3-v2-tail",
    "cut": "keras3-v2-cut",
    "restored": "keras3-v2-restored",
    "chatter": "keras3-v1-chatter",
    "renamed": "keras3-v2-renamed",
    "wrapped": "keras2-wrapped",
    "terminal": "keras2-terminal",
    "terminal-any": "keras2-terminal-any",
    "quoted": "keras2-quoted",
    "stamped": "keras3-v2-stamped",
}
WRITERS.update({REPRINT_SHAPES[p]: functools.partial(custom_loop, decimals=int(p)) for p in ("2", "3")})
WRITERS[REPRINT_SHAPES["every5"]] = every_fifth
WRITERS[REPRINT_SHAPES["tail"]] = pasted_tail
WRITERS[REPRINT_SHAPES["cut"]] = middle_cut
WRITERS[REPRINT_SHAPES["restored"]] = restored_best
WRITERS[REPRINT_SHAPES["chatter"]] = with_chatter
WRITERS[REPRINT_SHAPES["renamed"]] = renamed_metrics
WRITERS[REPRINT_SHAPES["wrapped"]] = wrapped_console
WRITERS[REPRINT_SHAPES["terminal"]] = terminal_wrapped_console
WRITERS[REPRINT_SHAPES["terminal-any"]] = terminal_any_width_console
WRITERS[REPRINT_SHAPES["quoted"]] = quoted_console
WRITERS[REPRINT_SHAPES["stamped"]] = stamped_console

#: Runs a reprint is scored on have at least this many epochs: three or more pasted after the first half
#: (`tail`), three left out between the first and the last three (`cut`), three printed fifth epochs
#: (`every5`).
REPRINT_MIN_EPOCHS: dict[str, int] = {"tail": 6, "cut": 10, "every5": 15}


def render(run: dict[str, Any], shape: str, captured: dict[str, str | bytes] | None = None) -> str | bytes:
    """The text (bytes for `tensorboard`) of `shape` for a run record; `captured` holds the console texts."""
    if shape in (CAPTURED_V2, CAPTURED_V1):
        text = (captured or {}).get(shape)
        if text is None:
            raise KeyError(f"run {run.get('run_id')} has no captured {shape} text")
        return text
    return WRITERS[shape](run)
