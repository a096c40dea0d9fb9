"""CSVLogger files: one row per epoch, `NA` where an epoch has no value.

Nothing here imports TensorFlow or NumPy.
"""

from __future__ import annotations

import csv
import io
import re

from ..errors import InputError
from ..records import History
from .history import MAX_HISTORY_VALUES, history_from_dict, too_many_values
from .logstream import SNIFF_BYTES, LogInput, require_epochs

#: A column name of a CSV history: a name, empty, or pandas' `Unnamed: 0`. A
#: timestamped log line (`2018-03-23 15:29:33,355:INFO: ... acc 0.74`) splits
#: on its comma into cells that start with a digit or hold `: value`, and a
#: printed step (`step 100, training accuracy 0.34`) into cells that end in a
#: number of their own: neither is a header.
_CSV_HEADER_CELL_RE = re.compile(r"(?:[a-z_][\w.\-]*(?: [a-z_][\w.\-]*)*|unnamed: \d+)?")

#: A number with a decimal comma (`1,8123`), as a spreadsheet in a European locale writes it, in a file
#: whose fields are separated by semicolons or tabs (`df.to_csv(sep=";", decimal=",")`).
_DECIMAL_COMMA_RE = re.compile(r"[-+]?\d+,\d+(?:[eE][-+]?\d+)?")


def parse_csv(text: str, name: str = "<stream>") -> dict[str, list[str]]:
    """Columns of a CSV history, read row by row: header -> one string per row.

    A row with a different number of fields is refused unless it is the last
    one (a file cut mid-row), or, first of all, one more than the header's: pandas' unnamed
    index column, whose empty name before a tab went with the blank lead. Numbers with a decimal
    comma are read in files separated otherwise (`_DECIMAL_COMMA_RE`). At most
    `MAX_HISTORY_VALUES` cells are kept.
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
            if delim == "\t" and row == 2 and len(r) == len(header) + 1 and r[0].strip().isdigit() and "" not in cols:
                header = ["", *header]  # `df.to_csv(sep="\t")`: the index column's empty name was the lead
                cols = {"": [], **cols}
            if delim != ",":
                r = [c.replace(",", ".") if _DECIMAL_COMMA_RE.fullmatch(c.strip()) else c for c in r]
            if len(r) != len(header):
                ragged = (row, r)
                continue
            cells += len(r)
            if cells > MAX_HISTORY_VALUES:
                raise too_many_values(name, f"more than {MAX_HISTORY_VALUES:,} cells")
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


def looks_like_csv_header(first: str) -> bool:
    if "Epoch" in first or " - " in first:
        return False
    for delim in (",", ";", "\t"):
        cells = [c.strip().lower() for c in first.split(delim)]
        if len(cells) >= 2 and any(c == "loss" or c.endswith("loss") or "acc" in c for c in cells):
            return all(_CSV_HEADER_CELL_RE.fullmatch(c) for c in cells)
    return False


def _csv_index(epochs: list[str] | None, n: int) -> list[int] | None:
    """Printed (1-based) epoch numbers from CSVLogger's 0-based `epoch` column, unless they are 1..N."""
    if not epochs or len(epochs) < n:
        return None
    try:
        numbers = [int(e) + 1 for e in epochs[:n]]
    except ValueError:
        return None
    return None if numbers == list(range(1, n + 1)) else numbers


class CsvLoggerReader:
    """A `keras.callbacks.CSVLogger` file (or any CSV whose header names a loss or an accuracy)."""

    name = "csvlogger"
    text = True

    def sniff(self, head: bytes | None, path: str | None) -> bool:
        if head is None:
            return False
        first = head.lstrip().split(b"\n", 1)[0].decode("utf-8", "replace").strip()
        return looks_like_csv_header(first)

    def read(self, log: LogInput, classes: int | None) -> History:
        text = log.rest_text()
        cols = parse_csv(text.lstrip("\ufeff"), log.name)
        h = history_from_dict(cols, source=log.name, classes=classes)
        h.read_as["format"] = "csvlogger"
        h.index = _csv_index(cols.get("epoch"), h.epochs)
        return require_epochs(h, log.name)


READER = CsvLoggerReader()
