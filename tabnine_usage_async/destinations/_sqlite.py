"""A dataset in one SQLite file: a table per stream beside the state and the run ledger.

Column types: ``text``/``json``/``text_list`` (JSON text) are ``TEXT``, ``integer`` and
``boolean`` (0/1) ``INTEGER``, ``float`` ``REAL``, ``date`` ``YYYY-MM-DD`` text and ``timestamp``
UTC ISO-8601 text ending in ``Z``, so ``date()``, ``strftime()`` and ``json_extract()`` work on
them directly. ``write`` deletes each unit's old rows, inserts its new ones and records its state
in one transaction. The one-run lock is a file lock on ``<file>.lock`` beside the database.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import anyio.to_thread

from ._base import (
    Column,
    ColumnType,
    DestinationError,
    TableSchema,
    UnitWrite,
    selected_columns,
)
from ._state import StateDestination, connect, quote, record_units, register_stream
from ._values import (
    dump_json,
    format_timestamp,
    normalizer,
    parse_timestamp,
    row_normalizer,
    time_range_sql,
)

__all__ = ["SqliteDestination"]

_SQL_TYPES: dict[ColumnType, str] = {
    "text": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "boolean": "INTEGER",
    "timestamp": "TEXT",
    "date": "TEXT",
    "json": "TEXT",
    "text_list": "TEXT",
}

_ENCODERS: dict[ColumnType, Callable[[Any], Any]] = {
    # Rows repeat the same few period bounds and fetch times: format each once.
    "timestamp": functools.lru_cache(maxsize=65536)(format_timestamp),
    "date": date.isoformat,
    "boolean": int,
    "text_list": dump_json,
}


@functools.lru_cache(maxsize=65536)
def _list_items(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _text_list(text: str) -> list[str]:
    # Team lists repeat across rows: parse each distinct text once, hand out a fresh list.
    return list(_list_items(text))


_DECODERS: dict[ColumnType, Callable[[Any], Any]] = {
    # Rows repeat the same few period bounds, fetch times and days: parse each once (the
    # values are immutable, so rows may share them).
    "timestamp": functools.lru_cache(maxsize=65536)(parse_timestamp),
    "date": functools.lru_cache(maxsize=65536)(date.fromisoformat),
    "boolean": bool,
    "json": json.loads,
    "text_list": _text_list,
}

#: Rows per batch yielded by ``read``.
READ_BATCH = 10_000


def _encoder(column_type: ColumnType) -> Callable[[Any], Any]:
    encode = _ENCODERS.get(column_type)
    if encode is None:
        return lambda value: value
    return lambda value: None if value is None else encode(value)


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def both(value: Any) -> Any:
        value = first(value)
        return None if value is None else second(value)

    return both


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The columns ``table`` has in the database, in order (empty if it does not exist)."""
    return [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]


def create_table_sql(table: TableSchema) -> list[str]:
    """The statements that create ``table`` and its period index."""
    key = set(table.key)
    columns = [
        f"{quote(c.name)} {_SQL_TYPES[c.type]}"
        + (" NOT NULL" if c.name in key or not c.nullable else "")
        for c in table.columns
    ]
    columns.append(f"PRIMARY KEY ({', '.join(quote(k) for k in table.key)})")
    statements = [f"CREATE TABLE {quote(table.name)} (\n    " + ",\n    ".join(columns) + "\n)"]
    if table.period_column is not None and table.key[0] != table.period_column:
        statements.append(
            f"CREATE INDEX {quote(table.name + '__period')} "
            f"ON {quote(table.name)} ({quote(table.period_column)})"
        )
    return statements


class _Plan:
    """The prepared statements and value converters of one stream's table."""

    def __init__(self, table: TableSchema) -> None:
        self.table = table
        self.normalize_row = row_normalizer(table)
        self.known = frozenset(table.column_names)
        key = set(table.key)
        self.steps = []
        for c in table.columns:
            column = Column(c.name, c.type, c.nullable and c.name not in key)
            normalize, encode = normalizer(column, table.name), _ENCODERS.get(c.type)
            if encode is None:
                self.steps.append((c.name, normalize))
            else:
                self.steps.append((c.name, _then(normalize, encode)))
        self.by_name = {
            c.name: (normalizer(c, table.name), _encoder(c.type)) for c in table.columns
        }
        names = ", ".join(quote(c) for c in table.column_names)
        marks = ", ".join("?" for _ in table.columns)
        self.insert = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"
        self.indexed: set[tuple[str, ...]] = set()

    def match_value(self, column: str, value: Any) -> Any:
        """The stored form of a ``match`` value of ``column``."""
        normalize, encode = self.by_name[column]
        return encode(normalize(value))

    def encode(self, row: Mapping[str, Any]) -> list[Any]:
        """The stored values of a row, in column order."""
        if not self.known.issuperset(row):
            self.normalize_row(row)  # raises the error that names the unknown column
        return [step(row.get(name)) for name, step in self.steps]


class SqliteDestination(StateDestination):
    """A dataset in one SQLite file (created on first open); see the module docstring."""

    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        super().__init__(path, path.with_name(path.name + ".lock"), str(path))
        self.path = path
        self._plans: dict[str, _Plan] = {}

    def _prepare(self, conn: sqlite3.Connection, tables: Sequence[TableSchema]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in tables:
                found = table_columns(conn, table.name)
                if not found:
                    for statement in create_table_sql(table):
                        conn.execute(statement)
                for column in table.columns:
                    if found and column.name not in found:
                        # Added by a newer stream version: older rows have no value for it.
                        conn.execute(
                            f"ALTER TABLE {quote(table.name)} ADD COLUMN "
                            f"{quote(column.name)} {_SQL_TYPES[column.type]}"
                        )
                register_stream(conn, table)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._plans = {t.name: _Plan(t) for t in tables}

    async def write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        """Replace each unit's rows and record its state, all in one transaction."""
        self._check_writes(writes)
        await self._call(self._write, run_id, writes)

    def _index_match(self, conn: sqlite3.Connection, plan: _Plan, columns: tuple[str, ...]) -> None:
        # Unit deletes select by their match columns: index them once, unless the key does.
        if not columns or columns in plan.indexed:
            return
        plan.indexed.add(columns)
        if plan.table.key[: len(columns)] == columns:
            return
        name = quote(f"{plan.table.name}__by_{'_'.join(columns)}")
        indexed = ", ".join(quote(c) for c in columns)
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {quote(plan.table.name)} ({indexed})")

    def _write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        conn = self._writer()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for w in writes:
                plan = self._plans[w.stream]
                match = tuple(sorted(w.match))
                self._index_match(conn, plan, match)
                conditions = [f"{quote(c)} IS ?" for c in match]
                params: list[Any] = [plan.match_value(c, w.match[c]) for c in match]
                if w.period is not None:
                    assert plan.table.period_column is not None
                    sql, range_params = time_range_sql(plan.table.period_column, *w.period)
                    conditions.append(sql)
                    params.extend(range_params)
                where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
                conn.execute(f"DELETE FROM {quote(w.stream)}{where}", params)
                conn.executemany(plan.insert, [plan.encode(row) for row in w.rows])
            record_units(conn, run_id, writes)
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise DestinationError(f"{self._display}: {exc} (a key appears twice)") from None
            if isinstance(exc, sqlite3.Error):
                raise DestinationError(f"{self._display}: {exc}") from None
            raise

    #: ``read`` takes ``columns`` (see ``ColumnReader``).
    reads_columns = True

    async def read(
        self, stream: str, columns: Sequence[str] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows of ``stream`` in batches, values typed as they were written.

        ``columns`` limits the rows to those columns (see ``ColumnReader``): only they are
        fetched and decoded.
        """
        table = self._tables.get(stream)
        if table is None:
            raise DestinationError(f"{self._display} has no stream {stream}")
        selected = selected_columns(table, columns, self._display)
        conn = await anyio.to_thread.run_sync(lambda: connect(self.path, readonly=True))
        try:
            present = set(await anyio.to_thread.run_sync(table_columns, conn, stream))
            if not present:
                return
            wanted = [c for c in selected if c.name in present]
            absent = dict.fromkeys(c.name for c in selected if c.name not in present)
            names = [c.name for c in wanted]
            decoders = [(c.name, _DECODERS[c.type]) for c in wanted if c.type in _DECODERS]
            select = ", ".join(quote(name) for name in names) or "NULL"
            # One read transaction for every batch: a consistent snapshot while a sync writes.
            conn.execute("BEGIN")
            cursor = await anyio.to_thread.run_sync(
                conn.execute, f"SELECT {select} FROM {quote(stream)}"
            )
            while batch := await anyio.to_thread.run_sync(cursor.fetchmany, READ_BATCH):
                # Build the rows in bulk, then decode column by column: a per-value function
                # call for every column of every row was most of the time of a large read.
                # (strict=False: with no column selected, SQLite still returns one NULL.)
                rows = [dict(zip(names, values, strict=False)) for values in batch]
                for name, decode in decoders:
                    for row in rows:
                        value = row[name]
                        if value is not None:
                            row[name] = decode(value)
                if absent:
                    for row in rows:
                        row.update(absent)
                yield rows
        finally:
            conn.close()
