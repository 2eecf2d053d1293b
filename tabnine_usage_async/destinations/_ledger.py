"""The state tables' values as every destination stores and reads them back.

Every destination keeps the same four state tables (``_meta``, ``_streams``, ``_units``,
``_runs``; see ``_state``) in its own SQL dialect. What they store is the same everywhere, and
so is its checking: the schemas a destination may take, a stream's schema as JSON text, a run's
job and summary as JSON text, a ledger row as a :class:`RunRecord`, and the units' fetch times
read page by page.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .._version import __version__
from ._base import (
    Column,
    DestinationError,
    DestinationVersionError,
    RunRecord,
    TableSchema,
)
from ._values import check_names, dump_json

__all__ = [
    "check_newer",
    "check_tables",
    "ledger_json",
    "run_record",
    "schema_from_row",
    "schema_json",
    "unit_pages",
]


def check_tables(tables: Sequence[TableSchema]) -> None:
    """Refuse schemas a destination cannot store faithfully (bad names, missing key columns)."""
    check_names([t.name for t in tables], "stream")
    for table in tables:
        names = table.column_names
        check_names(names, f"{table.name} column")
        if len(set(names)) != len(names):
            raise DestinationError(f"{table.name} repeats a column name")
        missing = [c for c in (*table.key, table.period_column) if c and c not in names]
        if missing or not table.key:
            raise DestinationError(f"{table.name}: key or period column {missing} is not a column")


def check_newer(
    display: str, stored: Mapping[str, TableSchema], tables: Iterable[TableSchema]
) -> None:
    """Refuse a stream whose table was written by a newer stream version than ours."""
    for table in tables:
        found = stored.get(table.name)
        if found is not None and found.version > table.version:
            raise DestinationVersionError(
                f"{display}: stream {table.name} was written by a newer version of "
                f"tabnine-usage-async (stream version {found.version}; this version "
                f"{__version__} knows {table.version}); upgrade it"
            )


def schema_json(table: TableSchema) -> tuple[str, str]:
    """``(columns, key)`` of a ``_streams`` row: the table's columns and key as JSON text."""
    columns = [
        {"name": c.name, "type": c.type, "nullable": c.nullable, "doc": c.doc}
        for c in table.columns
    ]
    return dump_json(columns), dump_json(list(table.key))


def schema_from_row(row: Sequence[Any]) -> TableSchema:
    """The schema of a ``_streams`` row ``(stream, version, columns, key, period_column)``."""
    stream, version, columns, key, period_column = row
    return TableSchema(
        name=stream,
        columns=tuple(
            Column(c["name"], c["type"], nullable=c["nullable"], doc=c.get("doc", ""))
            for c in json.loads(columns)
        ),
        key=tuple(json.loads(key)),
        period_column=period_column,
        version=version,
    )


def ledger_json(value: Mapping[str, Any], what: str, display: str) -> str:
    """A run's ``job`` or ``summary`` as JSON text; ``DestinationError`` when it is not JSON."""
    try:
        return dump_json(value)
    except (TypeError, ValueError) as exc:
        raise DestinationError(f"{display}: the run's {what} is not JSON ({exc})") from None


def run_record(row: Sequence[Any], timestamp: Callable[[Any], datetime]) -> RunRecord:
    """The ledger row ``(run_id, started, finished, status, api, job, summary)`` as a record.

    ``timestamp`` turns the stored times into aware UTC datetimes; ``job`` and ``summary`` are
    JSON text.
    """
    run_id, started, finished, status, api_version, job, summary = row
    return RunRecord(
        run_id=run_id,
        started_at=timestamp(started),
        finished_at=timestamp(finished) if finished is not None else None,
        status=status,
        api_version=api_version,
        job=json.loads(job),
        summary=json.loads(summary),
    )


async def unit_pages(
    page: Callable[[str], Awaitable[list[tuple[str, datetime]]]],
) -> AsyncIterator[list[tuple[str, datetime]]]:
    """Every page ``page(after)`` gives, each starting after the last unit key of the one before.

    ``page`` answers at most a batch of ``(unit, fetched_at)`` with keys above ``after``, in key
    order; keyset paging keeps no cursor open between pages.
    """
    after = ""
    while batch := await page(after):
        yield batch
        after = batch[-1][0]
