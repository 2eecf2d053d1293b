"""Rendering of the read subcommands' results on stdout: table, json, jsonl or csv."""

from __future__ import annotations

import csv
import enum
import io
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any

import attrs

from ..windows import format_datetime
from ._terminal import visible

__all__ = ["READ_FORMATS", "Table", "emit", "fields", "model_row", "plain"]

READ_FORMATS = ("table", "json", "jsonl", "csv")


@attrs.frozen
class Table:
    """Rows to print. ``single`` marks a one-object result (``json`` prints an object)."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    single: bool = False


def plain(value: Any) -> Any:
    """A JSON-ready version of a model value."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if attrs.has(type(value)):
        # A nested model (a user's team, a bucket's per-model rows): its fields, without extra.
        return {
            f.name: plain(getattr(value, f.name))
            for f in attrs.fields(type(value))
            if f.name != "extra"
        }
    return value


def model_row(model: Any, columns: Sequence[str]) -> dict[str, Any]:
    """The named attributes of a model as a JSON-ready row."""
    return {name: plain(getattr(model, name)) for name in columns}


def fields(cls: type, *, skip: Sequence[str] = ("extra",)) -> tuple[str, ...]:
    """The attribute names of an attrs model class, in declaration order."""
    return tuple(f.name for f in attrs.fields(cls) if f.name not in skip)


def cell(value: Any) -> str:
    """A value as text in a CSV cell or a table: lists and objects as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _table_cell(value: Any) -> str:
    # A line break inside a cell (a PEM public key) would break the table's alignment, and an
    # escape sequence in a server's string would drive the terminal.
    return visible(cell(value).replace("\r\n", "\n"))


def _write_plain_table(table: Table, out: IO[str]) -> None:
    if table.single:
        # One object reads better as a list of field/value pairs than as one very wide row.
        row = table.rows[0] if table.rows else {}
        width = max((len(c) for c in table.columns), default=0)
        for name in table.columns:
            out.write(f"{name.ljust(width)}  {_table_cell(row.get(name))}".rstrip() + "\n")
        return
    cells = [[_table_cell(row.get(name)) for name in table.columns] for row in table.rows]
    widths = [
        max([len(name)] + [len(line[i]) for line in cells]) for i, name in enumerate(table.columns)
    ]
    numeric = [
        all(isinstance(row.get(name), (int, float)) or row.get(name) is None for row in table.rows)
        and any(isinstance(row.get(name), (int, float)) for row in table.rows)
        for name in table.columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line(table.columns))
    out.write(line(["-" * w for w in widths]))
    for values in cells:
        out.write(line(values))


def _write_rich_table(table: Table) -> bool:
    """Print with rich on a terminal; False when rich is missing or stdout is not a terminal."""
    if not sys.stdout.isatty():
        # Piped output stays plain: rich would fit it to an 80-column console and cut values.
        return False
    try:
        from rich.console import Console
        from rich.table import Table as RichTable
        from rich.text import Text
    except ImportError:
        return False
    console = Console()
    if table.single:
        grid = RichTable(show_header=False, box=None)
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        row = table.rows[0] if table.rows else {}
        for name in table.columns:
            grid.add_row(name, Text(_table_cell(row.get(name))))
        console.print(grid)
        return True
    rich_table = RichTable(show_lines=False)
    for name in table.columns:
        justify: Any = "right" if any(isinstance(r.get(name), int) for r in table.rows) else "left"
        rich_table.add_column(name, justify=justify, overflow="fold")
    for row in table.rows:
        # Text, not str: rich would read "[red]" in a server's string as markup.
        rich_table.add_row(*(Text(_table_cell(row.get(name))) for name in table.columns))
    console.print(rich_table)
    return True


def emit(table: Table, fmt: str) -> None:
    """Write ``table`` to stdout in the format ``fmt`` (one of ``READ_FORMATS``)."""
    out = sys.stdout
    if fmt == "json":
        body: Any = (table.rows[0] if table.rows else None) if table.single else table.rows
        out.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "jsonl":
        for row in table.rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([cell(row.get(name)) for name in table.columns])
        out.write(buffer.getvalue())
    elif not _write_rich_table(table):
        _write_plain_table(table, out)
    out.flush()
