"""Sync state, run ledger and dataset metadata in SQLite tables, shared by the file destinations.

A SQLite destination keeps these tables in the dataset's own file, so a unit's rows and its state
commit in one transaction; a Parquet folder keeps them in ``_state.sqlite`` inside the folder.
Either way the dataset describes itself and can be copied elsewhere and synced again.

::

    _meta     key, value                         small values of the dataset
    _streams  stream, version, columns, key...   each table's schema as last written
    _units    stream, unit, complete, fetched_at, run_id, rows
    _runs     run_id, started_at, finished_at, status, api_version, job, summary

``PRAGMA user_version`` holds the format version; a newer one is refused, never guessed at.
Blocking SQLite calls run in a worker thread, one at a time per destination (a capacity limiter
of one), so the event loop never waits on the disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from .._version import __version__
from ._access import Access
from ._base import (
    UNIT_BATCH,
    DestinationError,
    DestinationVersionError,
    RunRecord,
    RunStatus,
    TableSchema,
    UnitState,
    UnitWrite,
)
from ._ledger import (
    check_newer,
    check_tables,
    ledger_json,
    run_record,
    schema_from_row,
    schema_json,
    unit_pages,
)
from ._values import (
    check_aware,
    check_writes,
    format_timestamp,
    parse_timestamp,
)

__all__ = ["FORMAT_VERSION", "StateDestination", "connect", "quote"]

#: The layout version of the state tables (``PRAGMA user_version``); raised on breaking changes.
FORMAT_VERSION = 1

_STATE_SCHEMA = """
CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE _streams (
    stream TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    columns TEXT NOT NULL,
    key TEXT NOT NULL,
    period_column TEXT
);
CREATE TABLE _units (
    stream TEXT NOT NULL,
    unit TEXT NOT NULL,
    complete INTEGER NOT NULL,
    fetched_at TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (stream, unit)
);
CREATE TABLE _runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    api_version TEXT NOT NULL,
    job TEXT NOT NULL,
    summary TEXT NOT NULL
);
"""

_T = TypeVar("_T")


def quote(name: str) -> str:
    """An SQL identifier in double quotes (names are checked snake_case before they get here)."""
    return f'"{name}"'


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any one thread.

    Readers open the file read-only: they never create, migrate or otherwise change it.
    """
    try:
        if readonly:
            conn = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise DestinationError(f"cannot open {path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DestinationVersionError(f"{path} is not a SQLite dataset: {exc}") from None
    return conn


def _table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _check_format(conn: sqlite3.Connection, display: str, *, create: bool) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > FORMAT_VERSION:
        raise DestinationVersionError(
            f"{display} was written by a newer version of tabnine-usage-async (dataset format "
            f"{version}; this version {__version__} reads up to {FORMAT_VERSION}); upgrade it"
        )
    if version == 0:
        if not create or _table_names(conn) - {"sqlite_sequence"}:
            raise DestinationVersionError(
                f"{display} is not a dataset of tabnine-usage-async (no sync state in it)"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _STATE_SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            conn.execute(
                "INSERT INTO _meta VALUES ('created_by', ?)",
                (f"tabnine-usage-async {__version__}",),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def registered_schemas(conn: sqlite3.Connection) -> dict[str, TableSchema]:
    """Each stream's schema as recorded by the last writer, by stream name."""
    rows = conn.execute("SELECT stream, version, columns, key, period_column FROM _streams")
    return {row[0]: schema_from_row(row) for row in rows}


def register_stream(conn: sqlite3.Connection, table: TableSchema) -> None:
    """Record ``table`` as the stream's current schema (inside the caller's transaction)."""
    columns, key = schema_json(table)
    conn.execute(
        "INSERT OR REPLACE INTO _streams VALUES (?, ?, ?, ?, ?)",
        (table.name, table.version, columns, key, table.period_column),
    )


def record_units(conn: sqlite3.Connection, run_id: int, writes: Sequence[UnitWrite]) -> None:
    """Upsert each unit's state (inside the caller's transaction)."""
    conn.executemany(
        "INSERT OR REPLACE INTO _units VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                w.stream,
                w.unit,
                int(w.complete),
                format_timestamp(w.fetched_at),
                run_id,
                len(w.rows),
            )
            for w in writes
        ],
    )


class StateDestination:
    """What the SQLite file and Parquet folder destinations share: lock, state, ledger, meta.

    Subclasses say where the state file and lock file are, prepare their tables on open and
    implement ``write`` and ``read``.
    """

    def __init__(self, state_path: Path, lock_path: Path, display: str) -> None:
        self._state_path = state_path
        self._lock_path = lock_path
        self._display = display
        self._access: Access[sqlite3.Connection] = Access(display)
        #: The schemas this destination reads and writes, by stream.
        self._tables: dict[str, TableSchema] = {}

    @property
    def display(self) -> str:
        """The dataset's path, safe to print."""
        return self._display

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._display!r})"

    # -- plumbing -------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await self._access.call(fn, *args)

    def _live(self) -> sqlite3.Connection:
        return self._access.live()

    def _writer(self) -> sqlite3.Connection:
        return self._access.writer()

    def _prepare(self, conn: sqlite3.Connection, tables: Sequence[TableSchema]) -> None:
        """Create or migrate the data tables of ``tables`` (with the lock held)."""
        raise NotImplementedError

    def _exists(self) -> bool:
        return self._state_path.exists()

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self, tables: Sequence[TableSchema], *, lock: bool = True) -> None:
        """Take the lock and prepare ``tables``, or with ``lock=False`` open for reading only."""
        self._access.refuse_open()
        check_tables(tables)
        opener = self._open_locked if lock else self._open_reader
        await self._access.open_in_thread(lambda: opener(tables), self._release)

    def _open_locked(self, tables: Sequence[TableSchema]) -> None:
        self._access.take_lock(self._lock_path)
        conn = self._access.conn = connect(self._state_path, readonly=False)
        _check_format(conn, self._display, create=True)
        # Only once the file is known to be ours. WAL: readers are never blocked by a running
        # sync; synchronous=FULL: a committed unit survives a power cut.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        check_newer(self._display, registered_schemas(conn), tables)
        self._prepare(conn, tables)
        # We hold the lock, so a run still marked running died without finishing.
        conn.execute("UPDATE _runs SET status = 'interrupted' WHERE status = 'running'")
        self._tables = {t.name: t for t in tables}
        self._access.writable = True

    def _open_reader(self, tables: Sequence[TableSchema]) -> None:
        if not self._exists():
            raise DestinationError(f"{self._display}: no dataset there yet")
        conn = self._access.conn = connect(self._state_path, readonly=True)
        _check_format(conn, self._display, create=False)
        stored = registered_schemas(conn)
        check_newer(self._display, stored, tables)
        self._tables = {**stored, **{t.name: t for t in tables}}

    def _release(self) -> None:
        self._access.release(sqlite3.Connection.close)

    async def close(self) -> None:
        """Close the state and release the lock; idempotent."""
        await self._access.close_in_thread(self._release)

    # -- meta -----------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A small value of the dataset, or ``None``."""

        def get() -> str | None:
            row = self._live().execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else cast(str, row[0])

        return await self._call(get)

    async def set_meta(self, key: str, value: str) -> None:
        """Store a small value of the dataset."""

        def put() -> None:
            self._writer().execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", (key, value))

        await self._call(put)

    # -- units ----------------------------------------------------------------------------

    async def units(self, stream: str) -> dict[str, UnitState]:
        """The state of every unit of ``stream`` written so far, by unit key."""

        def load() -> dict[str, UnitState]:
            rows = self._live().execute(
                "SELECT unit, complete, fetched_at, run_id, rows FROM _units WHERE stream = ?",
                (stream,),
            )
            return {
                unit: UnitState(
                    stream=stream,
                    unit=unit,
                    complete=bool(complete),
                    fetched_at=parse_timestamp(fetched_at),
                    run_id=run_id,
                    rows=count,
                )
                for unit, complete, fetched_at, run_id, count in rows
            }

        return await self._call(load)

    def unit_fetches(self, stream: str) -> AsyncIterator[list[tuple[str, datetime]]]:
        """``(unit key, fetched_at)`` of every unit of ``stream``, in batches ordered by key."""

        def page(after: str) -> list[tuple[str, datetime]]:
            rows = self._live().execute(
                "SELECT unit, fetched_at FROM _units WHERE stream = ? AND unit > ? "
                "ORDER BY unit LIMIT ?",
                (stream, after, UNIT_BATCH),
            )
            return [(unit, parse_timestamp(fetched_at)) for unit, fetched_at in rows]

        return unit_pages(lambda after: self._call(page, after))

    def _check_writes(self, writes: Sequence[UnitWrite]) -> None:
        check_writes(writes, self._tables, display=self._display)

    # -- ledger ---------------------------------------------------------------------------

    async def begin_run(
        self, *, started_at: datetime, api_version: str, job: Mapping[str, Any]
    ) -> int:
        """Record a new ``running`` run; return its id."""
        check_aware(started_at, "started_at")
        job_text = ledger_json(job, "job", self._display)

        def insert() -> int:
            cursor = self._writer().execute(
                "INSERT INTO _runs (started_at, finished_at, status, api_version, job, summary) "
                "VALUES (?, NULL, 'running', ?, ?, '{}')",
                (format_timestamp(started_at), api_version, job_text),
            )
            return cast(int, cursor.lastrowid)

        return await self._call(insert)

    async def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        finished_at: datetime,
        summary: Mapping[str, Any],
    ) -> None:
        """Record how a run ended."""
        check_aware(finished_at, "finished_at")
        summary_text = ledger_json(summary, "summary", self._display)

        def update() -> None:
            cursor = self._writer().execute(
                "UPDATE _runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
                (status, format_timestamp(finished_at), summary_text, run_id),
            )
            if cursor.rowcount != 1:
                raise DestinationError(f"{self._display}: no run {run_id} in the ledger")

        await self._call(update)

    async def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""

        def load() -> list[RunRecord]:
            rows = self._live().execute(
                "SELECT run_id, started_at, finished_at, status, api_version, job, summary "
                "FROM _runs ORDER BY run_id DESC LIMIT ?",
                (limit,),
            )
            return [run_record(row, parse_timestamp) for row in rows]

        return await self._call(load)
