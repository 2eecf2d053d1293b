"""JSON Lines output: one compact JSON object per row, keys in the table's column order.

Timestamps are ``2026-01-01T00:00:00Z`` text, dates ``YYYY-MM-DD``, lists and ``json`` values
are embedded as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..destinations import TableSchema
from ._appendfile import AppendFile
from ._common import ClosingSink, SinkError
from ._schema import RECORDS_TABLE, RowLike, as_rows, text_value

__all__ = ["JsonlSink", "read_jsonl"]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class JsonlSink(ClosingSink):
    """Appends rows to a ``.jsonl`` file; markers are ``offset:<bytes>``."""

    format = "jsonl"

    def __init__(
        self, path: Path, *, resume: str | None, table: TableSchema = RECORDS_TABLE
    ) -> None:
        self.path = path
        self.table = table
        self._names = table.column_names
        # Only the columns whose values need a text form are converted, row by row.
        self._convert = [(c.name, f) for c in table.columns if (f := text_value(c.type, table))]
        self._file = AppendFile(path, header=b"", resume=resume)

    def _line(self, row: Any) -> str:
        out = {name: row.get(name) for name in self._names}
        for name, convert in self._convert:
            value = out[name]
            if value is not None:
                out[name] = convert(value)
        return _encode(out) + "\n"

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


def read_jsonl(path: Path, table: TableSchema = RECORDS_TABLE) -> list[dict[str, Any]]:
    """Every line of a JSONL output as a row dict (values already in their read-back form)."""
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", newline="") as file:
        # Only "\n" ends a line: ensure_ascii=False leaves U+2028 and friends raw inside strings.
        lines = file.read().split("\n")
    if lines[-1]:
        raise SinkError(f"{path} ends with an unfinished line (line {len(lines)})")
    for number, line in enumerate(lines[:-1], start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SinkError(f"{path} line {number} is not valid JSON: {exc}") from None
    return rows
