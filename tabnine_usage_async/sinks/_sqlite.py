"""SQLite output: table ``usage_records`` with one column per ``RECORD_FIELDS`` entry.

A unique index on ``(scope, entity, granularity, period_start)`` (the entity being
``coalesce(user_id, team_id, organization_id)``) and ``INSERT OR REPLACE`` make a replayed unit
overwrite its own rows instead of adding copies, so resuming needs no cut-back. ``team_ids`` and
``extra`` are JSON text; date-times are ``2026-01-01T00:00:00Z`` text, which sorts in time order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..records import RECORD_FIELDS, UsageRecord
from ._common import (
    COLUMN_KINDS,
    ClosingSink,
    ColumnKind,
    SinkError,
    make_marker,
    parse_marker,
    remove_file,
)

__all__ = ["TABLE", "SqliteSink", "read_sqlite"]

#: The table every SQLite output holds.
TABLE = "usage_records"

_UNIT = "rows"
# SQLite's result code for a full disk (sqlite3.SQLITE_FULL exists only from Python 3.11).
_SQLITE_FULL = 13
_SQL_TYPES: dict[ColumnKind, str] = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "REAL",
    "datetime": "TEXT",
    "list": "TEXT",
    "json": "TEXT",
}
_NOT_NULL = {"scope", "organization_id", "team_ids", "granularity", "period_start", "period_end"}
_COLUMNS = ",\n    ".join(
    f"{name} {_SQL_TYPES[kind]}{' NOT NULL' if name in _NOT_NULL else ''}"
    for name, kind in COLUMN_KINDS.items()
)
_SCHEMA = f"""
CREATE TABLE {TABLE} (
    {_COLUMNS}
);
CREATE UNIQUE INDEX {TABLE}_key ON {TABLE}
    (scope, coalesce(user_id, team_id, organization_id), granularity, period_start);
"""
_INSERT = (
    f"INSERT OR REPLACE INTO {TABLE} ({', '.join(RECORD_FIELDS)}) "
    f"VALUES ({', '.join('?' for _ in RECORD_FIELDS)})"
)
_JSON_COLUMNS = frozenset(n for n, k in COLUMN_KINDS.items() if k in ("list", "json"))
_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _params(record: UsageRecord) -> tuple[Any, ...]:
    row = record.to_row()
    row["team_ids"] = _json(row["team_ids"])
    row["extra"] = _json(row["extra"])
    return tuple(row.values())


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


def _columns(conn: sqlite3.Connection) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")]


class SqliteSink(ClosingSink):
    """Upserts records into ``usage_records``; markers are ``rows:<row count>``."""

    format = "sqlite"

    def __init__(self, path: Path, *, resume: str | None) -> None:
        self.path = path
        if resume is None:
            # A fresh job replaces the whole file, like the other formats do.
            for leftover in ("", "-wal", "-shm", "-journal"):
                remove_file(path.with_name(path.name + leftover))
            self._conn: sqlite3.Connection | None = _connect(path)
            self._conn.executescript(_SCHEMA)
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
        found = _columns(conn)
        if found != list(RECORD_FIELDS):
            conn.close()
            raise SinkError(f"cannot resume {self.path}: it has no {TABLE} table of this version")
        (rows,) = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
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

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Upsert the records inside the open transaction (committed by ``flush``)."""
        conn = self._usable()
        if not records:
            return
        try:
            if not conn.in_transaction:
                conn.execute("BEGIN")
            conn.executemany(_INSERT, [_params(r) for r in records])
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def flush(self) -> str:
        """Commit (durably: WAL with ``synchronous=FULL``) and return ``rows:<row count>``."""
        conn = self._usable()
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
            (rows,) = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
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


def read_sqlite(path: Path) -> list[dict[str, Any]]:
    """Every row of ``usage_records`` as a row dict, in insertion order."""
    if not path.exists():
        raise SinkError(f"{path} does not exist")
    conn = _connect(path, writing=False)
    try:
        if _columns(conn) != list(RECORD_FIELDS):
            raise SinkError(f"{path} has no {TABLE} table of this version")
        cursor = conn.execute(f"SELECT {', '.join(RECORD_FIELDS)} FROM {TABLE} ORDER BY rowid")
        rows = [dict(zip(RECORD_FIELDS, values, strict=True)) for values in cursor]
    finally:
        conn.close()
    for row in rows:
        for name in _JSON_COLUMNS:
            row[name] = json.loads(row[name])
    return rows
