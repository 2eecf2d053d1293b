"""The destination protocol: tables, their sync state and the run ledger, behind one interface.

A destination is where a dataset lives (a SQLite file, a folder of Parquet files, a DuckDB file,
a PostgreSQL schema). It knows columns and keys, never Tabnine: streams describe their tables with
:class:`TableSchema` and hand rows over as plain Python values.

The protocol is shaped by one rule, *exactly once*: the rows of a unit of work (one entity over
one window of one stream) are replaced in the same transaction that records the unit as done. A
unit fetched again (its period was still open, or it lies in the lookback) therefore replaces its
earlier rows, a correction by the server propagates, and a run killed at any instant leaves either
the old rows with the old state or the new rows with the new state, never a mix.

Row values are ``str``, ``int``, ``float``, ``bool``, aware UTC ``datetime``, ``date``, ``None``,
``list[str]`` (``text_list`` columns) or JSON-ready ``dict``/``list`` (``json`` columns); each
destination maps them to its own types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from ..errors import TabnineError

__all__ = [
    "UNIT_BATCH",
    "Column",
    "ColumnReader",
    "ColumnType",
    "Destination",
    "DestinationBusyError",
    "DestinationError",
    "DestinationVersionError",
    "RunRecord",
    "RunStatus",
    "TableSchema",
    "UnitState",
    "UnitWrite",
    "selected_columns",
]

#: Logical column types; every destination maps each to a native type.
ColumnType = Literal[
    "text", "integer", "float", "boolean", "timestamp", "date", "json", "text_list"
]

#: Units per batch of ``Destination.unit_fetches``: a few hundred kilobytes of keys at a time.
UNIT_BATCH = 5000

#: How a run ended. A run still marked ``running`` when the next one opens the destination was
#: killed: the destination records it as ``interrupted``.
RunStatus = Literal["running", "succeeded", "partial", "failed", "interrupted"]


class DestinationError(TabnineError):
    """A destination cannot be opened, read or written; the message names it (never a password)."""


class DestinationBusyError(DestinationError):
    """Another run holds the destination's lock: one run at a time per destination."""


class DestinationVersionError(DestinationError):
    """The destination was written by a newer version of this package, or is not a dataset."""


@attrs.frozen
class Column:
    """One column of a stream's table.

    Attributes:
        name: snake_case column name.
        type: logical type (see ``ColumnType``).
        nullable: whether ``None`` is allowed; key columns are never nullable.
        doc: one sentence for the README's stream table and database comments.
    """

    name: str
    type: ColumnType
    nullable: bool = True
    doc: str = ""


@attrs.frozen
class TableSchema:
    """The table of one stream.

    Attributes:
        name: table name, equal to the stream name (``usage``, ``users``...).
        columns: every column, in order.
        key: primary-key column names; unique in the table.
        period_column: the timestamp column that places a row in time (``period_start`` or an
            event's ``timestamp``). Incremental streams have one: a unit's rows are those matching
            its ``match`` with this column inside its period, and folder destinations partition by
            its month. ``None`` for snapshot streams.
        version: the stream's schema version; raised when columns are added (destinations migrate
            older tables in place by adding the new nullable columns).
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    period_column: str | None = None
    version: int = 1

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(c.name for c in self.columns)


@attrs.frozen
class UnitWrite:
    """The complete rows of one unit of work, to replace whatever the unit held before.

    The rows to delete are those of table ``stream`` whose columns equal ``match`` and, when
    ``period`` is given, whose ``period_column`` lies in ``[period[0], period[1])``. A snapshot
    stream writes one unit (``match={}``, ``period=None``) that replaces the whole table.

    Attributes:
        stream: the table.
        unit: the unit's key, unique within the stream (``user:<id>:<start>/<end>:daily``...).
        match: column -> value that selects the unit's rows.
        period: ``[start, end)`` on the table's ``period_column``, or ``None``.
        rows: the unit's rows (may be empty: the unit is still recorded as done).
        complete: ``True`` when the unit's period had ended when fetched (its rows are final);
            ``False`` marks it provisional, to be fetched again by the next run.
        fetched_at: when the rows were fetched (aware UTC).
    """

    stream: str
    unit: str
    match: Mapping[str, Any]
    period: tuple[datetime, datetime] | None
    rows: Sequence[Mapping[str, Any]]
    complete: bool
    fetched_at: datetime


@attrs.frozen
class UnitState:
    """What a destination remembers of one written unit."""

    stream: str
    unit: str
    complete: bool
    fetched_at: datetime
    run_id: int
    rows: int


@attrs.frozen
class RunRecord:
    """One row of the run ledger.

    Attributes:
        run_id: increasing id, assigned by ``begin_run``.
        started_at: aware UTC.
        finished_at: ``None`` while running or when the run was killed.
        status: see ``RunStatus``.
        api_version: ``"v2"`` or ``"v1"``: which usage API the run read.
        job: the run's parameters as JSON-ready values (streams, since, lookback...); never a
            secret.
        summary: counts and ranges once finished (records, requests, per-stream ranges, failed
            units with their causes) as JSON-ready values.
    """

    run_id: int
    started_at: datetime
    finished_at: datetime | None
    status: RunStatus
    api_version: str
    job: Mapping[str, Any]
    summary: Mapping[str, Any]


class Destination(Protocol):
    """A dataset's storage: one table per stream, the units' state and the run ledger.

    Lifecycle: ``await open(tables)`` (takes the one-run lock, creates or migrates tables, marks a
    killed run ``interrupted``), then ``begin_run``, any number of ``write`` calls, ``finish_run``,
    and ``close`` (releases the lock; idempotent). Reading (``units``, ``runs``, ``read``,
    ``get_meta``) also works after ``open(tables, lock=False)``, which never blocks a running sync
    and never migrates.
    """

    @property
    def display(self) -> str:
        """A short description safe to print: path or ``host/database/schema``, never a password."""
        ...

    async def open(self, tables: Sequence[TableSchema], *, lock: bool = True) -> None:
        """Connect, take the lock (``DestinationBusyError`` if held) and prepare ``tables``.

        Raises ``DestinationVersionError`` for a destination written by a newer version.
        """
        ...

    async def close(self) -> None:
        """Release the lock and every resource; idempotent."""
        ...

    async def get_meta(self, key: str) -> str | None:
        """A small value of the dataset (organization id, first ``since``...), or ``None``."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Store a small value of the dataset."""
        ...

    async def units(self, stream: str) -> dict[str, UnitState]:
        """The state of every unit of ``stream`` written so far, by unit key."""
        ...

    def unit_fetches(self, stream: str) -> AsyncIterator[list[tuple[str, datetime]]]:
        """``(unit key, fetched_at)`` of every unit of ``stream``, in batches ordered by key.

        What a sync plans from: read batch by batch, so the planner never holds one object per
        unit of a large dataset (see ``units`` for the whole state of each unit).
        """
        ...

    async def write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        """Replace each unit's rows and record each unit's state, all in one transaction."""
        ...

    async def begin_run(
        self, *, started_at: datetime, api_version: str, job: Mapping[str, Any]
    ) -> int:
        """Record a new ``running`` run in the ledger; return its id."""
        ...

    async def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        finished_at: datetime,
        summary: Mapping[str, Any],
    ) -> None:
        """Record how a run ended."""
        ...

    async def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        ...

    def read(self, stream: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Every row of ``stream`` in batches, values typed as they were written.

        Destinations that can also read a subset of the columns are :class:`ColumnReader` too.
        """
        ...


@runtime_checkable
class ColumnReader(Protocol):
    """A destination whose ``read`` can fetch and decode only some columns of a stream.

    Readers that need a few columns of a wide table (the report reads a dozen of the usage
    table's thirty) check ``isinstance(destination, ColumnReader)`` and pass ``columns``; a
    destination without it reads every column, which gives the same values, only slower.
    """

    #: Always ``True``: marks the destinations whose ``read`` takes ``columns``.
    reads_columns: bool

    def read(
        self, stream: str, columns: Sequence[str] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows of ``stream`` in batches holding only ``columns`` (every column when ``None``).

        A column the stream does not have raises ``DestinationError``; a column the stored
        table lacks (added by a newer stream version) reads as ``None``.
        """
        ...


def selected_columns(table: TableSchema, columns: Sequence[str] | None, where: str) -> list[Column]:
    """The columns of ``table`` a ``read(columns=...)`` asks for, in the order asked, once each.

    Raises ``DestinationError`` naming ``where`` and the stream for a column it does not have.
    """
    if columns is None:
        return list(table.columns)
    by_name = {c.name: c for c in table.columns}
    unknown = sorted({name for name in columns if name not in by_name})
    if unknown:
        raise DestinationError(f"{where}: stream {table.name} has no column {', '.join(unknown)}")
    return [by_name[name] for name in dict.fromkeys(columns)]
