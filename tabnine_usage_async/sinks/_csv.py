"""CSV output: a header of the table's column names, then one line per row.

Every text value is quoted and ``None`` is an empty, unquoted cell, so a missing value and an
empty string stay distinct (the convention PostgreSQL ``COPY ... CSV`` and most warehouse loaders
read as NULL versus ``''``). Lists and ``json`` values (``team_ids``, ``extra``) are quoted JSON
text, timestamps and dates quoted ISO text, booleans bare ``true`` / ``false``, floats keep
``repr`` precision, and lines end with ``\\n``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..destinations import ColumnType, TableSchema
from ._appendfile import AppendFile
from ._common import ClosingSink, SinkError
from ._schema import RECORDS_TABLE, RowLike, as_rows, dump_json, text_value

__all__ = ["CsvSink", "header", "read_csv"]


def header(table: TableSchema) -> str:
    """The first line of a CSV output of ``table``."""
    return ",".join(table.column_names) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _encoder(kind: ColumnType, table: TableSchema) -> Callable[[Any], str]:
    if kind in ("integer", "float"):
        return repr  # repr, not str: it is the shortest text that reads back as the same float
    if kind == "boolean":
        return lambda value: "true" if value else "false"
    if kind in ("text_list", "json"):
        return lambda value: _quote(dump_json(list(value) if kind == "text_list" else value))
    as_text = text_value(kind, table)
    if as_text is not None:
        return lambda value: _quote(as_text(value))
    return _quote


class CsvSink(ClosingSink):
    """Appends records to a ``.csv`` file; markers are ``offset:<bytes>``."""

    format = "csv"

    def __init__(
        self, path: Path, *, resume: str | None, table: TableSchema = RECORDS_TABLE
    ) -> None:
        self.path = path
        self.table = table
        self._encoders = [(c.name, _encoder(c.type, table)) for c in table.columns]
        self._file = AppendFile(path, header=header(table).encode("utf-8"), resume=resume)

    def _line(self, row: Any) -> str:
        cells = [
            "" if (value := row.get(name)) is None else encode(value)
            for name, encode in self._encoders
        ]
        return ",".join(cells) + "\n"

    def write(self, rows: Sequence[RowLike]) -> None:
        """Append one line per row (buffered until ``flush``)."""
        if rows:
            self._file.write("".join([self._line(r) for r in as_rows(rows)]).encode("utf-8"))

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


def _decode(kind: ColumnType, value: str, quoted: bool) -> Any:
    if not quoted and not value:
        return None
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "boolean":
        return value == "true"
    if kind in ("text_list", "json"):
        return json.loads(value)
    return value


def read_csv(path: Path, table: TableSchema = RECORDS_TABLE) -> list[dict[str, Any]]:
    """Every line of a CSV output but the header as a row dict with the table's value types."""
    with open(path, encoding="utf-8", newline="") as file:
        text = file.read()
    if text and not text.endswith("\n"):
        raise SinkError(f"{path} ends with an unfinished line")
    lines = _cells(text, path)
    names = list(table.column_names)
    if not lines or [value for value, _ in lines[0]] != names:
        raise SinkError(f"{path} does not start with the header {header(table).strip()!r}")
    kinds = [c.type for c in table.columns]
    rows: list[dict[str, Any]] = []
    for number, cells in enumerate(lines[1:], start=1):
        if len(cells) != len(kinds):
            raise SinkError(f"{path} record {number} has {len(cells)} cells, not {len(kinds)}")
        values = [_decode(k, v, q) for k, (v, q) in zip(kinds, cells, strict=True)]
        rows.append(dict(zip(names, values, strict=True)))
    return rows
