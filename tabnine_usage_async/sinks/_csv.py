"""CSV output: a header of ``RECORD_FIELDS``, then one line per record.

Every text value is quoted and ``None`` is an empty, unquoted cell, so a missing value and an
empty string stay distinct (the convention PostgreSQL ``COPY ... CSV`` and most warehouse loaders
read as NULL versus ``''``). ``team_ids`` and ``extra`` are JSON text, floats keep ``repr``
precision, and lines end with ``\\n``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..records import RECORD_FIELDS, UsageRecord
from ._appendfile import AppendFile
from ._common import COLUMN_KINDS, ClosingSink, ColumnKind, SinkError

__all__ = ["HEADER", "CsvSink", "read_csv"]

#: The first line of every CSV output.
HEADER = ",".join(RECORD_FIELDS) + "\n"

_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _encoder(kind: ColumnKind) -> Callable[[Any], str]:
    if kind in ("int", "float"):
        return repr  # repr, not str: it is the shortest text that reads back as the same float
    if kind in ("list", "json"):
        return lambda value: _quote(_json(value))
    return _quote  # text, and date-times already formatted by to_row()


_ENCODERS = [(name, _encoder(kind)) for name, kind in COLUMN_KINDS.items()]


def _line(row: dict[str, Any]) -> str:
    return ",".join(["" if row[n] is None else enc(row[n]) for n, enc in _ENCODERS]) + "\n"


class CsvSink(ClosingSink):
    """Appends records to a ``.csv`` file; markers are ``offset:<bytes>``."""

    format = "csv"

    def __init__(self, path: Path, *, resume: str | None) -> None:
        self.path = path
        self._file = AppendFile(path, header=HEADER.encode("utf-8"), resume=resume)

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Append one line per record (buffered until ``flush``)."""
        if records:
            self._file.write("".join([_line(r.to_row()) for r in records]).encode("utf-8"))

    def flush(self) -> str:
        """Fsync the file and return its durable length as ``offset:<bytes>``."""
        return self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def abort(self) -> None:
        """Close without the final flush (after a failure); the next resume cuts back."""
        self._file.abort()


# One cell: a quoted string (doubled quotes inside) or bare text, then a comma or a line end.
_CELL = re.compile(r'(?:"((?:[^"]|"")*)"|([^,"\r\n]*))(,|\r?\n|\Z)')


def _cells(text: str, path: Path) -> list[list[tuple[str, bool]]]:
    """Split CSV text into lines of ``(value, was_quoted)`` cells."""
    lines: list[list[tuple[str, bool]]] = []
    cells: list[tuple[str, bool]] = []
    pos = 0
    end = len(text)
    while pos < end:
        match = _CELL.match(text, pos)
        if match is None or match.end() == pos:
            line = text.count("\n", 0, pos) + 1
            raise SinkError(f"{path} line {line} is not valid CSV")
        quoted, bare, stop = match.groups()
        cells.append((quoted.replace('""', '"'), True) if quoted is not None else (bare, False))
        pos = match.end()
        if stop != ",":
            lines.append(cells)
            cells = []
    return lines


def _decode(kind: ColumnKind, value: str, quoted: bool) -> Any:
    if not quoted and not value:
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind in ("list", "json"):
        return json.loads(value)
    return value


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Every line of a CSV output but the header as a row dict with the record's value types."""
    with open(path, encoding="utf-8", newline="") as file:
        text = file.read()
    if text and not text.endswith("\n"):
        raise SinkError(f"{path} ends with an unfinished line")
    lines = _cells(text, path)
    if not lines or [value for value, _ in lines[0]] != list(RECORD_FIELDS):
        raise SinkError(f"{path} does not start with the header {HEADER.strip()!r}")
    kinds = list(COLUMN_KINDS.values())
    rows: list[dict[str, Any]] = []
    for number, cells in enumerate(lines[1:], start=1):
        if len(cells) != len(kinds):
            raise SinkError(f"{path} record {number} has {len(cells)} cells, not {len(kinds)}")
        values = [_decode(k, v, q) for k, (v, q) in zip(kinds, cells, strict=True)]
        rows.append(dict(zip(RECORD_FIELDS, values, strict=True)))
    return rows
