"""A dataset in one DuckDB file: a table per stream beside the state and the run ledger.

Column types are DuckDB's own: ``TIMESTAMPTZ`` (session time zone UTC), ``BIGINT``, ``DOUBLE``,
``BOOLEAN``, ``DATE``, ``VARCHAR``, ``VARCHAR[]`` and ``JSON``; each table has its primary key
(DuckDB's zone maps serve period filters without further indexes). The state tables are those of
the SQLite destination (``_meta``, ``_streams``, ``_units``, ``_runs``), in the same file, so a
unit's rows and its state commit in one transaction.

``write`` runs one transaction: the units' old rows are deleted and the new rows inserted column
by column (as Arrow arrays when pyarrow is installed, else ``unnest`` of typed lists; both far
faster than row-by-row inserts), then the units' state is upserted.

One run at a time: the writer holds an OS lock on ``<file>.lock`` (dropped by the operating
system when the process ends, however it ends) and keeps the DuckDB file open; DuckDB itself lets
one process write a file and no other process read it meanwhile, so a reader in another process
during a sync gets ``DestinationBusyError``. Readers in the writer's process
share its database. Blocking DuckDB calls run in a worker thread, one at a time per destination.

duckdb is imported only here (the ``duckdb`` extra), pyarrow only when a write inserts rows.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.to_thread

from .._version import __version__
from ._access import Access, first_line
from ._base import (
    UNIT_BATCH,
    ColumnType,
    DestinationBusyError,
    DestinationError,
    DestinationVersionError,
    RunRecord,
    RunStatus,
    TableSchema,
    UnitState,
    UnitWrite,
    selected_columns,
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
from ._values import check_aware, check_writes, normalizer, row_normalizer

if TYPE_CHECKING:
    import duckdb

__all__ = ["DUCKDB_MISSING", "FORMAT_VERSION", "DuckdbDestination"]

#: The layout version of the state tables (``_meta.format_version``).
FORMAT_VERSION = 1

#: The one-line message when the driver is missing.
DUCKDB_MISSING = "DuckDB destinations need duckdb: pip install 'tabnine-usage-async[duckdb]'"

#: Rows per batch yielded by ``read``, and per insert statement in ``write``.
READ_BATCH = 10_000
INSERT_BATCH = 100_000

#: How long the writer waits for a reader in another process to let go of the file.
OPEN_PATIENCE = 15.0

_DUCK_TYPES: dict[ColumnType, str] = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "JSON",
    "text_list": "VARCHAR[]",
}

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS _streams (
    stream VARCHAR PRIMARY KEY,
    version INTEGER NOT NULL,
    columns VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    period_column VARCHAR
);
CREATE TABLE IF NOT EXISTS _units (
    stream VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    complete BOOLEAN NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    run_id BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    PRIMARY KEY (stream, unit)
);
CREATE SEQUENCE IF NOT EXISTS _runs_ids;
CREATE TABLE IF NOT EXISTS _runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('_runs_ids'),
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    api_version VARCHAR NOT NULL,
    job VARCHAR NOT NULL,
    summary VARCHAR NOT NULL
)
"""

_FORMAT_KEY = "format_version"

#: Writer connections open in this process, by resolved path: readers here share them, since
#: DuckDB refuses a second, read-only database of the same file in one process.
_WRITERS: dict[Path, duckdb.DuckDBPyConnection] = {}


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:
        raise DestinationError(DUCKDB_MISSING) from None
    return duckdb


def _pyarrow() -> Any:
    """pyarrow when installed (the ``parquet`` extra), else ``None``: only a faster path."""
    try:
        import pyarrow
    except ImportError:
        return None
    return pyarrow


def q(name: str) -> str:
    """A double-quoted identifier (names are checked snake_case before they get here)."""
    return f'"{name}"'


def create_table_sql(table: TableSchema) -> str:
    """The statement that creates ``table`` with its primary key."""
    key = set(table.key)
    columns = [
        f"{q(c.name)} {_DUCK_TYPES[c.type]}"
        + (" NOT NULL" if c.name in key or not c.nullable else "")
        for c in table.columns
    ]
    columns.append(f"PRIMARY KEY ({', '.join(q(k) for k in table.key)})")
    return f"CREATE TABLE {q(table.name)} (\n    " + ",\n    ".join(columns) + "\n)"


def _unnest(index: int, column_type: ColumnType) -> str:
    if column_type == "json":
        return f"unnest(${index}::VARCHAR[])::JSON"
    return f"unnest(${index}::{_DUCK_TYPES[column_type]}[])"


class _Plan:
    """The statements and value checks of one stream's table."""

    def __init__(self, table: TableSchema) -> None:
        self.table = table
        self.normalize_row = row_normalizer(table)
        self.by_name = {c.name: normalizer(c, table.name) for c in table.columns}
        self.types = {c.name: c.type for c in table.columns}
        names = ", ".join(q(c) for c in table.column_names)
        values = ", ".join(_unnest(i, c.type) for i, c in enumerate(table.columns, start=1))
        self.insert = f"INSERT INTO {q(table.name)} ({names}) SELECT {values}"
        from_arrow = ", ".join(
            f"{q(c.name)}::JSON" if c.type == "json" else q(c.name) for c in table.columns
        )
        self.insert_arrow = f"INSERT INTO {q(table.name)} ({names}) SELECT {from_arrow} FROM _rows"

    def arrow_table(self, arrow: Any, values: list[list[Any]]) -> Any:
        """The columns as a ``pyarrow.Table`` typed like the table's columns."""
        types = {
            "text": arrow.string(),
            "integer": arrow.int64(),
            "float": arrow.float64(),
            "boolean": arrow.bool_(),
            "timestamp": arrow.timestamp("us", tz="UTC"),
            "date": arrow.date32(),
            "json": arrow.string(),
            "text_list": arrow.list_(arrow.string()),
        }
        return arrow.table(
            {
                c.name: arrow.array(v, type=types[c.type])
                for c, v in zip(self.table.columns, values, strict=True)
            }
        )

    def deletes(self, writes: Sequence[UnitWrite]) -> list[tuple[str, list[Any]]]:
        """Statements that delete the old rows of ``writes``: one per shape of unit.

        Units of one shape (the same match columns, the same ones ``None``, a period or not)
        are deleted by one statement joined to their values as lists, so a write scans the
        table once per shape instead of once per unit.
        """
        shapes: dict[tuple[tuple[tuple[str, bool], ...], bool], list[UnitWrite]] = defaultdict(list)
        for w in writes:
            shape = tuple((c, w.match[c] is None) for c in sorted(w.match))
            shapes[shape, w.period is not None].append(w)
        statements: list[tuple[str, list[Any]]] = []
        for (columns, has_period), units in shapes.items():
            conditions: list[str] = []
            lists: list[list[Any]] = []
            selects: list[str] = []
            for column, is_null in columns:
                if is_null:
                    conditions.append(f"t.{q(column)} IS NULL")
                    continue
                kind = self.types[column]
                cast = "VARCHAR" if kind == "json" else _DUCK_TYPES[kind]
                n = len(lists) + 1
                selects.append(f"unnest(${n}::{cast}[]) AS m{n}")
                conditions.append(f"t.{q(column)} = d.m{n}")
                lists.append([self.by_name[column](w.match[column]) for w in units])
            if has_period:
                assert self.table.period_column is not None
                p = f"t.{q(self.table.period_column)}"
                n = len(lists) + 1
                selects.append(
                    f"unnest(${n}::TIMESTAMPTZ[]) AS lo, unnest(${n + 1}::TIMESTAMPTZ[]) AS hi"
                )
                conditions.append(f"{p} >= d.lo AND {p} < d.hi")
                lists.append([w.period[0] for w in units if w.period is not None])
                lists.append([w.period[1] for w in units if w.period is not None])
            name = q(self.table.name)
            if not lists:
                where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
                statements.append((f"DELETE FROM {name} AS t{where}", []))
            else:
                statements.append(
                    (
                        f"DELETE FROM {name} AS t USING (SELECT {', '.join(selects)}) AS d "
                        f"WHERE {' AND '.join(conditions)}",
                        lists,
                    )
                )
        return statements


class DuckdbDestination:
    """A dataset in one DuckDB file (created on first open); see the module docstring."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._display = str(self.path)
        self._access: Access[duckdb.DuckDBPyConnection] = Access(self._display)
        self._tables: dict[str, TableSchema] = {}
        self._plans: dict[str, _Plan] = {}

    @property
    def display(self) -> str:
        """The file's path, safe to print."""
        return self._display

    def __repr__(self) -> str:
        return f"DuckdbDestination({self._display!r})"

    # -- plumbing -------------------------------------------------------------------------

    def _error(self, what: str, exc: Exception) -> DestinationError:
        first = first_line(exc) or type(exc).__name__
        return DestinationError(f"{self._display}: {what} failed ({first})")

    def _connect(self, *, readonly: bool) -> duckdb.DuckDBPyConnection:
        driver = _duckdb()
        deadline = time.monotonic() + (0 if readonly else OPEN_PATIENCE)
        while True:
            try:
                conn = cast(
                    "duckdb.DuckDBPyConnection",
                    driver.connect(str(self.path), read_only=readonly),
                )
                break
            except driver.IOException as exc:
                if "not a valid duckdb database" in str(exc).lower():
                    raise DestinationVersionError(
                        f"{self._display} is not a DuckDB file, so not a dataset"
                    ) from None
                if "lock" not in str(exc).lower():
                    raise self._error("opening", exc) from None
                if time.monotonic() >= deadline:
                    raise DestinationBusyError(
                        f"{self._display} is in use by another process (DuckDB lets one process "
                        "write a file and none read it meanwhile); try again when it is done"
                    ) from None
                time.sleep(0.2)
            except driver.Error as exc:
                if isinstance(exc, driver.ConnectionException) and readonly:
                    raise DestinationBusyError(
                        f"{self._display} is open for writing elsewhere in this process"
                    ) from None
                raise DestinationVersionError(
                    f"{self._display} is not a DuckDB dataset ({str(exc).splitlines()[0]})"
                ) from None
        conn.execute("SET TimeZone = 'UTC'")
        return conn

    def _has_table(self, conn: duckdb.DuckDBPyConnection, name: str) -> bool:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_name = ?",
            [name],
        ).fetchone()
        return bool(row and row[0])

    def _columns(self, conn: duckdb.DuckDBPyConnection, name: str) -> list[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return [r[0] for r in rows]

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self, tables: Sequence[TableSchema], *, lock: bool = True) -> None:
        """Take the lock and prepare ``tables``, or with ``lock=False`` open for reading only."""
        self._access.refuse_open()
        check_tables(tables)
        _duckdb()
        opener = self._open_locked if lock else self._open_reader
        await self._access.open_in_thread(lambda: opener(tables), self._release)

    def _open_locked(self, tables: Sequence[TableSchema]) -> None:
        self._access.take_lock(self.path.with_name(self.path.name + ".lock"))
        existed = self.path.exists()
        conn = self._access.conn = self._connect(readonly=False)
        driver = _duckdb()
        try:
            conn.execute("BEGIN TRANSACTION")
            try:
                self._check_format(conn, create=True, existed=existed)
                stored = self._stored_schemas(conn)
                check_newer(self._display, stored, tables)
                for table in tables:
                    self._prepare(conn, table, table.name in stored)
                # We hold the lock, so a run still marked running died without finishing.
                conn.execute("UPDATE _runs SET status = 'interrupted' WHERE status = 'running'")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except driver.Error as exc:
            raise self._error("preparing the tables", exc) from None
        self._tables = {t.name: t for t in tables}
        self._plans = {t.name: _Plan(t) for t in tables}
        self._access.writable = True
        _WRITERS[self.path.resolve()] = conn

    def _open_reader(self, tables: Sequence[TableSchema]) -> None:
        if not self.path.exists():
            raise DestinationError(f"{self._display}: no dataset there yet")
        shared = _WRITERS.get(self.path.resolve())
        if shared is not None:
            conn = self._access.conn = shared.cursor()
            conn.execute("SET TimeZone = 'UTC'")
        else:
            conn = self._access.conn = self._connect(readonly=True)
        driver = _duckdb()
        try:
            self._check_format(conn, create=False, existed=True)
            stored = self._stored_schemas(conn)
        except driver.Error as exc:
            raise self._error("reading the dataset", exc) from None
        check_newer(self._display, stored, tables)
        self._tables = {**stored, **{t.name: t for t in tables}}

    def _check_format(
        self, conn: duckdb.DuckDBPyConnection, *, create: bool, existed: bool
    ) -> None:
        has_meta = self._has_table(conn, "_meta")
        if not has_meta:
            others = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchone()
            if not create or (existed and others and others[0]):
                raise DestinationVersionError(
                    f"{self._display} is not a dataset of tabnine-usage-async (no sync state in it)"
                )
            for statement in _STATE_SCHEMA.split(";"):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _meta VALUES (?, ?), ('created_by', ?)",
                [_FORMAT_KEY, str(FORMAT_VERSION), f"tabnine-usage-async {__version__}"],
            )
        row = conn.execute("SELECT value FROM _meta WHERE key = ?", [_FORMAT_KEY]).fetchone()
        version = None if row is None else str(row[0])
        if version is None or not version.isdigit():
            raise DestinationVersionError(
                f"{self._display} is not a dataset of tabnine-usage-async (no format version)"
            )
        if int(version) > FORMAT_VERSION:
            raise DestinationVersionError(
                f"{self._display} was written by a newer version of tabnine-usage-async (dataset "
                f"format {version}; this version {__version__} reads up to {FORMAT_VERSION}); "
                "upgrade it"
            )

    def _stored_schemas(self, conn: duckdb.DuckDBPyConnection) -> dict[str, TableSchema]:
        rows = conn.execute(
            "SELECT stream, version, columns, key, period_column FROM _streams"
        ).fetchall()
        return {r[0]: schema_from_row(r) for r in rows}

    def _prepare(
        self, conn: duckdb.DuckDBPyConnection, table: TableSchema, registered: bool
    ) -> None:
        present = self._columns(conn, table.name)
        if present and not registered:
            raise DestinationVersionError(
                f"{self._display}: a table {table.name} exists and is not part of a dataset"
            )
        if not present:
            conn.execute(create_table_sql(table))
        for column in table.columns:
            if present and column.name not in present:
                # Added by a newer stream version: older rows have no value for it.
                conn.execute(
                    f"ALTER TABLE {q(table.name)} ADD COLUMN {q(column.name)} "
                    f"{_DUCK_TYPES[column.type]}"
                )
        columns, key = schema_json(table)
        conn.execute("DELETE FROM _streams WHERE stream = ?", [table.name])
        conn.execute(
            "INSERT INTO _streams VALUES (?, ?, ?, ?, ?)",
            [table.name, table.version, columns, key, table.period_column],
        )

    def _release(self) -> None:
        if self._access.writable:
            _WRITERS.pop(self.path.resolve(), None)
        self._access.release(lambda conn: conn.close())

    async def close(self) -> None:
        """Close the file and release the lock; idempotent."""
        await self._access.close_in_thread(self._release)

    # -- meta -----------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A small value of the dataset, or ``None``."""

        def get() -> str | None:
            row = (
                self._access.live()
                .execute("SELECT value FROM _meta WHERE key = ?", [key])
                .fetchone()
            )
            return None if row is None else str(row[0])

        return await self._access.call(get)

    async def set_meta(self, key: str, value: str) -> None:
        """Store a small value of the dataset."""

        def put() -> None:
            conn = self._access.writer()
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.execute("DELETE FROM _meta WHERE key = ?", [key])
                conn.execute("INSERT INTO _meta VALUES (?, ?)", [key, value])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._access.call(put)

    # -- units ----------------------------------------------------------------------------

    async def units(self, stream: str) -> dict[str, UnitState]:
        """The state of every unit of ``stream`` written so far, by unit key."""

        def load() -> dict[str, UnitState]:
            rows = (
                self._access.live()
                .execute(
                    "SELECT unit, complete, fetched_at, run_id, rows FROM _units WHERE stream = ?",
                    [stream],
                )
                .fetchall()
            )
            return {
                unit: UnitState(
                    stream=stream,
                    unit=unit,
                    complete=bool(complete),
                    fetched_at=_utc(fetched_at),
                    run_id=run_id,
                    rows=count,
                )
                for unit, complete, fetched_at, run_id, count in rows
            }

        return await self._access.call(load)

    def unit_fetches(self, stream: str) -> AsyncIterator[list[tuple[str, datetime]]]:
        """``(unit key, fetched_at)`` of every unit of ``stream``, in batches ordered by key."""

        def page(after: str) -> list[tuple[str, datetime]]:
            rows = (
                self._access.live()
                .execute(
                    "SELECT unit, fetched_at FROM _units WHERE stream = ? AND unit > ? "
                    "ORDER BY unit LIMIT ?",
                    [stream, after, UNIT_BATCH],
                )
                .fetchall()
            )
            return [(unit, _utc(fetched_at)) for unit, fetched_at in rows]

        return unit_pages(lambda after: self._access.call(page, after))

    def _check_writes(self, writes: Sequence[UnitWrite]) -> None:
        check_writes(
            writes,
            {n: t for n, t in self._tables.items() if n in self._plans},
            display=self._display,
        )

    async def write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        """Replace each unit's rows and record its state, all in one transaction."""
        self._access.writer()
        self._check_writes(writes)
        by_stream: dict[str, list[UnitWrite]] = defaultdict(list)
        for w in writes:
            by_stream[w.stream].append(w)
        # Check every value before touching the file: a bad row fails the whole write.
        columns = {
            stream: _columns_of(
                [self._plans[stream].normalize_row(r) for w in ws for r in w.rows],
                len(self._plans[stream].table.columns),
            )
            for stream, ws in by_stream.items()
        }
        deletes = [d for stream, ws in by_stream.items() for d in self._plans[stream].deletes(ws)]
        await self._access.call(self._write, run_id, writes, by_stream, columns, deletes)

    def _write(
        self,
        run_id: int,
        writes: Sequence[UnitWrite],
        by_stream: Mapping[str, Sequence[UnitWrite]],
        columns: Mapping[str, list[list[Any]]],
        deletes: Sequence[tuple[str, list[Any]]],
    ) -> None:
        conn = self._access.writer()
        driver = _duckdb()
        try:
            conn.execute("BEGIN TRANSACTION")
            try:
                for sql, args in deletes:
                    conn.execute(sql, args)
                for stream in by_stream:
                    plan, values = self._plans[stream], columns[stream]
                    count = len(values[0]) if values else 0
                    for start in range(0, count, INSERT_BATCH):
                        chunk = [v[start : start + INSERT_BATCH] for v in values]
                        self._insert(conn, plan, chunk)
                keys = [[w.stream, w.unit] for w in writes]
                conn.executemany("DELETE FROM _units WHERE stream = ? AND unit = ?", keys)
                conn.execute(
                    "INSERT INTO _units SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), "
                    "unnest($3::BOOLEAN[]), unnest($4::TIMESTAMPTZ[]), unnest($5::BIGINT[]), "
                    "unnest($6::BIGINT[])",
                    [
                        [w.stream for w in writes],
                        [w.unit for w in writes],
                        [w.complete for w in writes],
                        [w.fetched_at for w in writes],
                        [run_id] * len(writes),
                        [len(w.rows) for w in writes],
                    ],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except driver.ConstraintException as exc:
            first = str(exc).strip().splitlines()[0]
            raise DestinationError(f"{self._display}: {first} (a key appears twice)") from None
        except driver.Error as exc:
            raise self._error("writing", exc) from None

    @staticmethod
    def _insert(conn: duckdb.DuckDBPyConnection, plan: _Plan, values: list[list[Any]]) -> None:
        arrow = _pyarrow()
        if arrow is None:
            conn.execute(plan.insert, values)
            return
        # With pyarrow at hand, columns go over as Arrow arrays: about five times faster than
        # DuckDB's conversion of Python lists.
        conn.register("_rows", plan.arrow_table(arrow, values))
        try:
            conn.execute(plan.insert_arrow)
        finally:
            conn.unregister("_rows")

    # -- ledger ---------------------------------------------------------------------------

    async def begin_run(
        self, *, started_at: datetime, api_version: str, job: Mapping[str, Any]
    ) -> int:
        """Record a new ``running`` run; return its id."""
        check_aware(started_at, "started_at")
        job_text = ledger_json(job, "job", self._display)

        def insert() -> int:
            row = (
                self._access.writer()
                .execute(
                    "INSERT INTO _runs (started_at, finished_at, status, api_version, job, "
                    "summary) VALUES (?, NULL, 'running', ?, ?, '{}') RETURNING run_id",
                    [started_at, api_version, job_text],
                )
                .fetchone()
            )
            assert row is not None
            return int(row[0])

        return await self._access.call(insert)

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
            row = (
                self._access.writer()
                .execute(
                    "UPDATE _runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ? "
                    "RETURNING run_id",
                    [status, finished_at, summary_text, run_id],
                )
                .fetchall()
            )
            if len(row) != 1:
                raise DestinationError(f"{self._display}: no run {run_id} in the ledger")

        await self._access.call(update)

    async def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""

        def load() -> list[RunRecord]:
            rows = (
                self._access.live()
                .execute(
                    "SELECT run_id, started_at, finished_at, status, api_version, job, summary "
                    "FROM _runs ORDER BY run_id DESC LIMIT ?",
                    [limit],
                )
                .fetchall()
            )
            return [run_record(r, _utc) for r in rows]

        return await self._access.call(load)

    # -- reading --------------------------------------------------------------------------

    #: ``read`` takes ``columns`` (see ``ColumnReader``).
    reads_columns = True

    async def read(
        self, stream: str, columns: Sequence[str] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows of ``stream`` in key order, in batches, values typed as they were written.

        ``columns`` limits the rows to those columns (see ``ColumnReader``).
        """
        table = self._tables.get(stream)
        if table is None:
            raise DestinationError(f"{self._display} has no stream {stream}")
        selected = selected_columns(table, columns, self._display)
        # A cursor of its own: one consistent snapshot while writes go on.
        cursor = await self._access.call(lambda: self._access.live().cursor())
        try:
            present = set(await self._access.call(self._columns, cursor, stream))
            if not present:
                return
            wanted = [c for c in selected if c.name in present]
            missing = [c.name for c in selected if c.name not in present]
            names = [c.name for c in wanted]
            json_names = [c.name for c in wanted if c.type == "json"]
            time_names = [c.name for c in wanted if c.type == "timestamp"]
            select = ", ".join(q(n) for n in names) or "NULL"
            key = ", ".join(q(k) for k in table.key)

            def start() -> None:
                cursor.execute("SET TimeZone = 'UTC'")
                cursor.execute(f"SELECT {select} FROM {q(stream)} ORDER BY {key}")

            await self._access.call(start)
            while batch := await self._access.call(cursor.fetchmany, READ_BATCH):
                rows = []
                for values in batch:
                    # (strict=False: with no column selected, the query still returns one NULL.)
                    row = dict(zip(names, values, strict=False))
                    for n in json_names:
                        if row[n] is not None:
                            row[n] = json.loads(row[n])
                    for n in time_names:
                        row[n] = _utc(row[n])
                    for n in missing:
                        row[n] = None
                    rows.append(row)
                yield rows
        finally:
            await anyio.to_thread.run_sync(cursor.close)


def _columns_of(rows: list[list[Any]], width: int) -> list[list[Any]]:
    """Rows of normalized values turned into one list per column."""
    if not rows:
        return []
    return [list(column) for column in zip(*rows, strict=True)] if width else []


def _utc(value: Any) -> Any:
    """DuckDB's UTC ``ZoneInfo`` datetimes as the ``timezone.utc`` ones every destination gives."""
    return None if value is None else value.astimezone(timezone.utc)
