"""The table a sink writes: a ``TableSchema`` of rows, ``RECORDS_TABLE`` for ``UsageRecord``s.

A sink writes rows (``dict``s keyed by column name, plain Python values as the stream row builders
make them: aware ``datetime``s, ``date``s, lists of text, JSON-ready values) of one table. Without
a table it writes ``RECORDS_TABLE``, the columns of ``UsageRecord`` in ``RECORD_FIELDS`` order,
and also takes ``UsageRecord`` objects. The text forms every format shares live here too, so a
file written in one format reads back equal to the same rows written in another.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

import attrs

from ..destinations import Column, ColumnType, TableSchema
from ..destinations._values import format_timestamp, parse_timestamp
from ..records import RECORD_FIELDS, UsageRecord
from ..windows import format_datetime

__all__ = [
    "RECORDS_TABLE",
    "Row",
    "RowLike",
    "as_rows",
    "dump_json",
    "read_value",
    "record_row",
    "text_value",
]

#: One row: column name -> plain value.
Row = Mapping[str, Any]
#: What ``Sink.write`` takes: rows, or ``UsageRecord``s for ``RECORDS_TABLE``.
RowLike = Row | UsageRecord

#: Compact JSON, as every format stores ``json`` and ``text_list`` values.
dump_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# Columns that may not be empty in a backfill's output (unchanged since the first version).
_REQUIRED = {"scope", "organization_id", "team_ids", "granularity", "period_start", "period_end"}


def _column_type(hint: object) -> ColumnType:
    args = set(typing.get_args(hint)) - {type(None)}
    base = args.pop() if len(args) == 1 else hint
    if base is int:
        return "integer"
    if base is float:
        return "float"
    if base is datetime:
        return "timestamp"
    origin = typing.get_origin(base)
    if origin is tuple:
        return "text_list"
    if origin is Mapping or base is Mapping:
        return "json"
    return "text"


def _records_table() -> TableSchema:
    hints = typing.get_type_hints(UsageRecord)
    columns = tuple(
        Column(name, _column_type(hints[name]), name not in _REQUIRED and name != "extra")
        for name in RECORD_FIELDS
    )
    return TableSchema(
        name="usage_records",
        columns=columns,
        # user_id and team_id are empty on the other scopes' rows: together with the scope they
        # name the entity, as ``UsageRecord.key`` does.
        key=("scope", "organization_id", "team_id", "user_id", "granularity", "period_start"),
        period_column="period_start",
    )


#: The columns of ``UsageRecord``: what ``backfill`` writes without ``streams`` (a contract).
RECORDS_TABLE = _records_table()


def record_row(record: UsageRecord) -> dict[str, Any]:
    """A ``UsageRecord`` as a row of ``RECORDS_TABLE`` (date-times stay ``datetime``s)."""
    row = attrs.asdict(record, recurse=False)
    row["team_ids"] = list(record.team_ids)
    row["extra"] = dict(record.extra)
    return row


def as_rows(items: Sequence[RowLike]) -> Sequence[Row]:
    """Rows as they are; ``UsageRecord``s turned into ``RECORDS_TABLE`` rows."""
    if items and isinstance(items[0], UsageRecord):
        return [record_row(r) if isinstance(r, UsageRecord) else r for r in items]
    return items  # type: ignore[return-value]


def _timestamp_text(value: Any) -> str:
    if isinstance(value, datetime):
        return format_timestamp(value)
    return str(value)


def _seconds_text(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def text_value(kind: ColumnType, table: TableSchema | None = None) -> Callable[[Any], Any] | None:
    """How a value of ``kind`` is written as JSON-ready text or number; ``None``: as it is.

    Timestamps of ``RECORDS_TABLE`` are whole seconds (the ``UsageRecord`` contract); those of
    other tables keep their microseconds, if any.
    """
    if kind == "timestamp":
        return _seconds_text if table == RECORDS_TABLE else _timestamp_text
    if kind == "date":
        return lambda value: value.isoformat() if isinstance(value, date) else str(value)
    if kind == "text_list":
        return list
    return None


def read_value(kind: ColumnType, value: Any) -> Any:
    """A value read back from any format in the one form they all share.

    Timestamps are ``...Z`` text, dates ``YYYY-MM-DD`` text, ``json`` values parsed, lists
    lists; ``None`` stays ``None``.
    """
    if value is None:
        return None
    if kind == "timestamp":
        if isinstance(value, str):
            return format_timestamp(parse_timestamp(value))
        return format_timestamp(value.astimezone(timezone.utc))
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if kind == "json" and isinstance(value, str):
        return json.loads(value)
    if kind == "text_list":
        return json.loads(value) if isinstance(value, str) else list(value)
    if kind == "boolean":
        return bool(value)
    return value
