"""Checking row values against a table's columns, and the text forms SQLite stores (pure).

Every destination first normalizes a row with :func:`row_normalizer`: a checked value per column
in the table's order, where ``json`` values become compact JSON text, ``text_list`` values a list
of ``str``, timestamps aware UTC ``datetime`` and numbers for floats ``float``. Each destination
then maps these to its own types, so all of them accept and refuse the same rows.

Timestamps are stored as text by SQLite: ``2026-11-01T00:00:00Z`` for whole seconds (every time
the API reports) and ``2026-11-01T00:00:00.250000Z`` otherwise. The two forms do not sort
together inside one second (``.`` sorts before ``Z``), so :func:`time_range_sql` compares against
bounds that account for it instead of making every value longer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ._base import Column, DestinationError, TableSchema, UnitWrite

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "check_aware",
    "check_names",
    "check_writes",
    "dump_json",
    "format_timestamp",
    "month_of",
    "months_between",
    "normalizer",
    "parse_timestamp",
    "row_normalizer",
    "time_range_sql",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

dump_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode

Normalize = Callable[[Any], Any]


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise TypeError("integer out of the 64-bit range")
    return value


def _float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("expected a number")
    return float(value)


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _timestamp(value: Any) -> Any:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TypeError("expected an aware datetime")
    return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)


def _date(value: Any) -> Any:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError("expected a date")
    return value


def _json(value: Any) -> Any:
    try:
        return dump_json(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"not JSON-ready ({exc})") from None


def _text_list(value: Any) -> Any:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError("expected a list of text")
    if not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of text")
    return list(value)


_NORMALIZERS: dict[str, Normalize] = {
    "text": _text,
    "integer": _integer,
    "float": _float,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "date": _date,
    "json": _json,
    "text_list": _text_list,
}


def normalizer(column: Column, table: str) -> Normalize:
    """A function that checks one value of ``column`` and returns its normalized form."""
    check = _NORMALIZERS[column.type]
    nullable = column.nullable
    # Fast paths for the common exact types: rows are many, and most values are plain.
    exact = {"text": str, "boolean": bool, "float": float}.get(column.type)
    kind = column.type

    def normalize(value: Any) -> Any:
        if type(value) is exact:
            return value
        if kind == "integer" and type(value) is int and INT64_MIN <= value <= INT64_MAX:
            return value
        if value is None:
            if nullable:
                return None
            raise DestinationError(f"{table}.{column.name} cannot be empty (None)")
        try:
            return check(value)
        except TypeError as exc:
            raise DestinationError(
                f"{table}.{column.name} ({column.type}): {exc}, got {type(value).__name__} "
                f"{value!r:.80}"
            ) from None

    return normalize


def row_normalizer(schema: TableSchema) -> Callable[[Mapping[str, Any]], list[Any]]:
    """A function that turns a row dict into its normalized values, in the table's column order.

    Missing nullable columns are ``None``; a key column must be present; an unknown column is
    refused, because it would be silently lost.
    """
    key = set(schema.key)
    steps = [
        (c.name, normalizer(Column(c.name, c.type, c.nullable and c.name not in key), schema.name))
        for c in schema.columns
    ]
    known = frozenset(schema.column_names)

    def normalize_row(row: Mapping[str, Any]) -> list[Any]:
        if not known.issuperset(row):
            unknown = sorted(set(row) - known)
            raise DestinationError(f"{schema.name} has no column {', '.join(unknown)}")
        return [step(row.get(name)) for name, step in steps]

    return normalize_row


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 text ending in ``Z``; whole seconds unless the value has microseconds.

    >>> format_timestamp(datetime(2026, 11, 1, tzinfo=timezone.utc))
    '2026-11-01T00:00:00Z'
    """
    utc = moment.astimezone(timezone.utc)
    head = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    )
    return f"{head}Z" if utc.microsecond == 0 else f"{head}.{utc.microsecond:06d}Z"


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime of a :func:`format_timestamp` text."""
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


def time_range_sql(column: str, start: datetime, end: datetime) -> tuple[str, list[str]]:
    """An SQL condition (and its parameters) for ``start <= column < end`` on timestamp text.

    Whole-second bounds compare against ``<second>.``, which sorts below every value of that
    second (``...SSZ`` and ``...SS.ffffffZ`` alike) and above every earlier one. A fractional
    bound compares as fixed-width text and treats the whole-second value of its second apart.
    """
    lo_head, hi_head = format_timestamp(start)[:19], format_timestamp(end)[:19]
    quoted = f'"{column}"'
    if start.microsecond == 0:
        low, low_params = f"{quoted} >= ?", [f"{lo_head}."]
    else:
        low = f"({quoted} >= ? AND {quoted} <> ?)"
        low_params = [format_timestamp(start), f"{lo_head}Z"]
    if end.microsecond == 0:
        high, high_params = f"{quoted} < ?", [f"{hi_head}."]
    else:
        high = f"({quoted} < ? OR {quoted} = ?)"
        high_params = [format_timestamp(end), f"{hi_head}Z"]
    return f"{low} AND {high}", low_params + high_params


def month_of(moment: datetime) -> str:
    """The ``YYYY-MM`` month of an aware datetime, in UTC."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc.year:04d}-{utc.month:02d}"


def months_between(start: datetime, end: datetime) -> list[str]:
    """Every ``YYYY-MM`` month that ``[start, end)`` overlaps, in order (none if empty)."""
    if end <= start:
        return []
    last = month_of(end - timedelta(microseconds=1))
    utc = start.astimezone(timezone.utc)
    year, month = utc.year, utc.month
    months: list[str] = []
    while (current := f"{year:04d}-{month:02d}") <= last:
        months.append(current)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def check_names(names: Sequence[str], what: str) -> None:
    """Refuse identifiers that would need quoting tricks: tables and columns are snake_case."""
    for name in names:
        if not name or not (name.replace("_", "a").isalnum() and name.isascii()):
            raise DestinationError(f"{what} name {name!r} is not snake_case")
        if name[0].isdigit() or name[0] == "_":
            raise DestinationError(f"{what} name {name!r} is not snake_case")


def check_aware(value: datetime, what: str) -> None:
    """Refuse a naive ``datetime``: every moment a destination stores is aware."""
    if value.utcoffset() is None:
        raise DestinationError(f"{what} must be an aware datetime")


def check_writes(
    writes: Sequence[UnitWrite], tables: Mapping[str, TableSchema], *, display: str
) -> None:
    """Refuse a write batch before any of it is stored: every destination checks the same way.

    ``tables`` holds the streams the destination was opened with. Each unit's stream must be one
    of them, its ``match`` may name only the table's columns, a ``period`` needs the table's
    period column, moments must be aware, and no unit may appear twice in one batch.
    """
    for w in writes:
        table = tables.get(w.stream)
        if table is None:
            raise DestinationError(f"{display}: stream {w.stream} was not opened")
        check_aware(w.fetched_at, f"{w.stream} unit {w.unit}: fetched_at")
        unknown = set(w.match) - set(table.column_names)
        if unknown:
            raise DestinationError(f"{w.stream} has no column {', '.join(sorted(unknown))}")
        if w.period is not None:
            if table.period_column is None:
                raise DestinationError(f"{w.stream} has no period column; give period=None")
            check_aware(w.period[0], f"{w.stream} unit {w.unit}: period start")
            check_aware(w.period[1], f"{w.stream} unit {w.unit}: period end")
    keys = [(w.stream, w.unit) for w in writes]
    if len(set(keys)) != len(keys):
        raise DestinationError("a unit appears twice in one write")
