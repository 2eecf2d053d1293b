"""SQLite output: one table named after the table schema, one column per schema column.

A unique index on the table's key and ``INSERT OR REPLACE`` make a replayed unit overwrite its
own rows instead of adding copies, so resuming needs no cut-back. Key columns that may be empty
are indexed as ``coalesce(column, '')``: the ``usage_records`` table of a backfill without streams
(``UsageRecord`` columns) is keyed on ``(scope, entity, granularity, period_start)`` that way.
Lists and ``json`` values are JSON text, booleans 0 / 1, date-times ``2026-01-01T00:00:00Z`` text,
which sorts in time order, and dates ``YYYY-MM-DD``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..destinations import ColumnType, TableSchema
from ._common import (
    ClosingSink,
    SinkError,
    make_marker,
    parse_marker,
    remove_file,
)
from ._schema import RECORDS_TABLE, RowLike, as_rows, dump_json, read_value, text_value

__all__ = ["TABLE", "SqliteSink", "read_sqlite"]

#: The table of a backfill's SQLite output without streams.
TABLE = RECORDS_TABLE.name

_UNIT = "rows"
# SQLite's result code for a full disk (sqlite3.SQLITE_FULL exists only from Python 3.11).
_SQLITE_FULL = 13
_SQL_TYPES: dict[ColumnType, str] = {
    "text": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "boolean": "INTEGER",
    "timestamp": "TEXT",
    "date": "TEXT",
    "text_list": "TEXT",
    "json": "TEXT",
}


def _ddl(table: TableSchema) -> str:
    columns = ",\n    ".join(
        f"{c.name} {_SQL_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    )
    nullable = {c.name for c in table.columns if c.nullable}
    key = ", ".join(f"coalesce({k}, '')" if k in nullable else k for k in table.key)
    return f"""
CREATE TABLE {table.name} (
    {columns}
);
CREATE UNIQUE INDEX {table.name}_key ON {table.name} ({key});
"""


def _sql_value(kind: ColumnType, table: TableSchema) -> Callable[[Any], Any] | None:
    if kind == "json":
        return dump_json
    if kind == "text_list":
        return lambda value: dump_json(list(value))
    if kind == "boolean":
        return int
    return text_value(kind, table)


def _connect(path: Path, *, writing: bool = True) -> sqlite3.Connection:
    # Autocommit mode: transactions are begun and committed explicitly below. Any thread may
    # drive the sink (e.g. flushes moved off the event loop); calls are never concurrent.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        if writing:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        else:
            conn.execute("SELECT count(*) FROM sqlite_master")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise SinkError(f"{path} is not a SQLite database: {exc}") from None
    return conn


def _write_error(path: Path, exc: sqlite3.Error) -> SinkError:
    """A failed write as a ``SinkError`` that names the real cause (a full disk above all)."""
    full = getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL or "is full" in str(exc)
    reason = "no space left on device" if full else str(exc)
    return SinkError(f"cannot write {path}: {reason} (SQLite: {exc})")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


class SqliteSink(ClosingSink):
    """Upserts rows into the table's own table; markers are ``rows:<row count>``."""

    format = "sqlite"

    def __init__(
        self, path: Path, *, resume: str | None, table: TableSchema = RECORDS_TABLE
    ) -> None:
        self.path = path
        self.table = table
        names = table.column_names
        self._insert = (
            f"INSERT OR REPLACE INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})"
        )
        self._convert = [(c.name, _sql_value(c.type, table)) for c in table.columns]
        if resume is None:
            # A fresh job replaces the whole file, like the other formats do.
            for leftover in ("", "-wal", "-shm", "-journal"):
                remove_file(path.with_name(path.name + leftover))
            self._conn: sqlite3.Connection | None = _connect(path)
            self._conn.executescript(_ddl(table))
        else:
            committed = parse_marker(resume, _UNIT, path)
            if not path.exists():
                raise SinkError(
                    f"cannot resume {path}: the file is missing; the output was changed after "
                    "the checkpoint was written; delete the checkpoint"
                )
            self._conn = _connect(path)
            self._check_resumable(committed)
        # Set by a failed write: what the open transaction held is gone (SQLite may roll back on
        # its own), so no later flush may report a marker as if it were durable.
        self._broken: SinkError | None = None

    def _check_resumable(self, committed: int) -> None:
        conn = self._live()
        found = _columns(conn, self.table.name)
        if found != list(self.table.column_names):
            conn.close()
            raise SinkError(
                f"cannot resume {self.path}: it has no {self.table.name} table of this version"
            )
        (rows,) = conn.execute(f"SELECT count(*) FROM {self.table.name}").fetchone()
        # Replays only add or replace rows, so fewer rows than committed means outside edits.
        if rows < committed:
            conn.close()
            raise SinkError(
                f"cannot resume {self.path}: it has {rows} rows but {committed} were committed; "
                "the output was changed after the checkpoint was written; delete the checkpoint"
            )

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SinkError(f"{self.path} is closed")
        return self._conn

    def _params(self, row: Any) -> tuple[Any, ...]:
        return tuple(
            value if (value := row.get(name)) is None or convert is None else convert(value)
            for name, convert in self._convert
        )

    def write(self, rows: Sequence[RowLike]) -> None:
        """Upsert the rows inside the open transaction (committed by ``flush``)."""
        conn = self._usable()
        if not rows:
            return
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN")
            conn.executemany(self._insert, [self._params(r) for r in as_rows(rows)])
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def flush(self) -> str:
        """Commit (durably: WAL with ``synchronous=FULL``) and return ``rows:<row count>``."""
        conn = self._usable()
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
            (rows,) = conn.execute(f"SELECT count(*) FROM {self.table.name}").fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc
        return make_marker(_UNIT, rows)

    def _usable(self) -> sqlite3.Connection:
        conn = self._live()
        if self._broken is not None:
            raise self._broken
        return conn

    def _fail(self, exc: sqlite3.Error) -> SinkError:
        self._broken = _write_error(self.path, exc)
        return self._broken

    def close(self) -> None:
        """Commit what was written, fold the WAL into the database and close it."""
        if self._conn is None:
            return
        try:
            self.flush()
            # Leaves a single self-contained file for users to copy around.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._conn.close()
            self._conn = None

    def abort(self) -> None:
        """Close without committing: rows written since the last ``flush`` are dropped."""
        if self._conn is None:
            return
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # closing discards the transaction anyway
        finally:
            self._conn.close()
            self._conn = None


def read_sqlite(path: Path, table: TableSchema = RECORDS_TABLE) -> list[dict[str, Any]]:
    """Every row of the table as a row dict, in insertion order."""
    if not path.exists():
        raise SinkError(f"{path} does not exist")
    conn = _connect(path, writing=False)
    names = list(table.column_names)
    try:
        if _columns(conn, table.name) != names:
            raise SinkError(f"{path} has no {table.name} table of this version")
        cursor = conn.execute(f"SELECT {', '.join(names)} FROM {table.name} ORDER BY rowid")
        kinds = [c.type for c in table.columns]
        return [
            {n: read_value(k, v) for n, k, v in zip(names, kinds, values, strict=True)}
            for values in cursor
        ]
    finally:
        conn.close()
