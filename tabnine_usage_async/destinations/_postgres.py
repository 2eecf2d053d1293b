"""A dataset in a PostgreSQL schema: a table per stream beside the state and the run ledger.

Column types are PostgreSQL's own: ``timestamptz``, ``bigint``, ``double precision``,
``boolean``, ``date``, ``text``, ``text[]`` and ``jsonb``. Each table has its primary key and an
index on its period column (and on ``(scope, period)`` when it has a ``scope`` column), which is
what a dashboard's time and scope filters use. The schema also holds::

    _meta     key, value                            small values; format_version
    _streams  stream, version, columns, key, ...    each table's schema as last written
    _units    stream, unit, complete, fetched_at, run_id, rows
    _runs     run_id, started_at, finished_at, status, api_version, job, summary

``write`` runs one transaction: the units' rows go by binary ``COPY`` into a temporary staging
table, the units' old rows are deleted, the staged rows inserted and the units' state upserted.
One run at a time: the writer holds a session-level advisory lock, which PostgreSQL releases by
itself when the connection ends however it ends, so a killed run never leaves a stale lock.

asyncpg is imported only here (the ``postgres`` extra). The password (from the URL,
``PGPASSWORD`` or ``.pgpass``, looked up by asyncpg as libpq would) is never part of a message.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

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
from ._pgurl import PostgresTarget, parse_postgres_url
from ._values import check_aware, check_writes, normalizer, row_normalizer

if TYPE_CHECKING:
    import asyncpg

__all__ = ["FORMAT_VERSION", "POSTGRES_MISSING", "PostgresDestination", "pg_type"]

#: The layout version of the state tables (``_meta.format_version``).
FORMAT_VERSION = 1

#: The one-line message when the driver is missing.
POSTGRES_MISSING = (
    "PostgreSQL destinations need asyncpg: pip install 'tabnine-usage-async[postgres]'"
)

#: Rows per batch yielded by ``read``.
READ_BATCH = 10_000

_PG_TYPES: dict[ColumnType, str] = {
    "text": "text",
    "integer": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "timestamp": "timestamptz",
    "date": "date",
    "json": "jsonb",
    "text_list": "text[]",
}

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}._meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}._streams (
    stream text PRIMARY KEY,
    version integer NOT NULL,
    columns jsonb NOT NULL,
    key jsonb NOT NULL,
    period_column text
);
CREATE TABLE IF NOT EXISTS {s}._units (
    stream text NOT NULL,
    unit text NOT NULL,
    complete boolean NOT NULL,
    fetched_at timestamptz NOT NULL,
    run_id bigint NOT NULL,
    rows bigint NOT NULL,
    PRIMARY KEY (stream, unit)
);
CREATE TABLE IF NOT EXISTS {s}._runs (
    run_id bigserial PRIMARY KEY,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    status text NOT NULL,
    api_version text NOT NULL,
    job jsonb NOT NULL,
    summary jsonb NOT NULL
);
"""

_FORMAT_KEY = "format_version"


def pg_type(column_type: ColumnType) -> str:
    """The PostgreSQL type of a logical column type."""
    return _PG_TYPES[column_type]


def q(name: str) -> str:
    """A double-quoted identifier (names are checked snake_case before they get here)."""
    return f'"{name}"'


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError:
        raise DestinationError(POSTGRES_MISSING) from None
    return asyncpg


def create_table_sql(schema: str, table: TableSchema) -> list[str]:
    """The statements that create ``table``, its indexes and its column comments."""
    key = set(table.key)
    name = f"{q(schema)}.{q(table.name)}"
    columns = [
        f"{q(c.name)} {_PG_TYPES[c.type]}"
        + (" NOT NULL" if c.name in key or not c.nullable else "")
        for c in table.columns
    ]
    columns.append(f"PRIMARY KEY ({', '.join(q(k) for k in table.key)})")
    statements = [f"CREATE TABLE {name} (\n    " + ",\n    ".join(columns) + "\n)"]
    period = table.period_column
    if period is not None:
        if table.key[0] != period:
            statements.append(f"CREATE INDEX {q(table.name + '__period')} ON {name} ({q(period)})")
        if "scope" in table.column_names and table.key[:2] != ("scope", period):
            statements.append(
                f"CREATE INDEX {q(table.name + '__scope_period')} ON {name} "
                f"({q('scope')}, {q(period)})"
            )
    statements.extend(
        f"COMMENT ON COLUMN {name}.{q(c.name)} IS {_literal(c.doc)}" for c in table.columns if c.doc
    )
    return statements


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Plan:
    """The statements and value checks of one stream's table."""

    def __init__(self, schema: str, table: TableSchema) -> None:
        self.table = table
        self.name = f"{q(schema)}.{q(table.name)}"
        self.staging = q(f"_staging_{table.name}")
        self.normalize_row = row_normalizer(table)
        self.by_name = {c.name: normalizer(c, table.name) for c in table.columns}
        self.types = {c.name: c.type for c in table.columns}
        self.json_columns = [i for i, c in enumerate(table.columns) if c.type == "json"]
        names = ", ".join(q(c) for c in table.column_names)
        self.create_staging = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.staging} "
            f"(LIKE {self.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        self.insert = f"INSERT INTO {self.name} ({names}) SELECT {names} FROM {self.staging}"

    def deletes(self, writes: Sequence[UnitWrite]) -> list[tuple[str, list[Any]]]:
        """Statements that delete the old rows of ``writes``: one per shape of unit.

        Units of one shape (the same match columns, the same ones ``None``, a period or not)
        go in one statement, joined to their values passed as arrays: one round trip per write,
        and the primary key's index finds each unit's rows.
        """
        shapes: dict[tuple[tuple[tuple[str, bool], ...], bool], list[UnitWrite]] = defaultdict(list)
        for w in writes:
            shape = tuple((c, w.match[c] is None) for c in sorted(w.match))
            shapes[shape, w.period is not None].append(w)
        statements: list[tuple[str, list[Any]]] = []
        for (columns, has_period), units in shapes.items():
            conditions: list[str] = []
            arrays: list[list[Any]] = []
            casts: list[str] = []
            for column, is_null in columns:
                if is_null:
                    conditions.append(f"t.{q(column)} IS NULL")
                    continue
                arrays.append([self.by_name[column](w.match[column]) for w in units])
                casts.append(f"${len(arrays)}::{_PG_TYPES[self.types[column]]}[]")
                conditions.append(f"t.{q(column)} = d.m{len(arrays)}")
            if has_period:
                assert self.table.period_column is not None
                p = f"t.{q(self.table.period_column)}"
                arrays.append([w.period[0] for w in units if w.period is not None])
                arrays.append([w.period[1] for w in units if w.period is not None])
                casts += [f"${len(arrays) - 1}::timestamptz[]", f"${len(arrays)}::timestamptz[]"]
                conditions.append(f"{p} >= d.m{len(arrays) - 1} AND {p} < d.m{len(arrays)}")
            if not arrays:
                where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
                statements.append((f"DELETE FROM {self.name} AS t{where}", []))
                continue
            names = ", ".join(f"m{i}" for i in range(1, len(arrays) + 1))
            statements.append(
                (
                    f"DELETE FROM {self.name} AS t USING unnest({', '.join(casts)}) AS d({names}) "
                    f"WHERE {' AND '.join(conditions)}",
                    arrays,
                )
            )
        return statements


class PostgresDestination:
    """A dataset in a schema of a PostgreSQL database; see the module docstring.

    ``url`` is a ``postgresql://`` (or ``postgres://``) URL with an optional ``?schema=``
    (default ``tabnine``) and libpq's ``sslmode``/``sslrootcert``/... parameters. ``password``
    overrides the URL's; without either, asyncpg looks in ``PGPASSWORD`` and ``.pgpass``.
    """

    def __init__(self, url: str, *, password: str | None = None) -> None:
        self._target: PostgresTarget = parse_postgres_url(url)
        self._password = password if password is not None else self._target.password
        self._access: Access[asyncpg.Connection] = Access(self._target.display)
        self._tables: dict[str, TableSchema] = {}
        self._plans: dict[str, _Plan] = {}
        self._staged: set[str] = set()

    @property
    def display(self) -> str:
        """``postgresql://user@host:port/database?schema=...``: never the password."""
        return self._target.display

    @property
    def schema(self) -> str:
        """The schema that holds the dataset."""
        return self._target.schema

    def __repr__(self) -> str:
        return f"PostgresDestination({self.display!r})"

    # -- errors ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _fail(self, what: str, exc: BaseException) -> NoReturn:
        """Raise one readable ``DestinationError`` for a driver or network error."""
        driver = _asyncpg()
        lost = isinstance(
            exc,
            (
                OSError,
                driver.ConnectionDoesNotExistError,
                driver.InterfaceError,
                driver.AdminShutdownError,
                driver.CannotConnectNowError,
                driver.PostgresConnectionError,
            ),
        ) or (isinstance(exc, driver.PostgresError) and str(exc.sqlstate).startswith("57P"))
        detail = self._scrub(first_line(exc))
        kind = type(exc).__name__
        if lost:
            message = f"{self.display}: {what} failed, the connection to PostgreSQL was lost"
        else:
            message = f"{self.display}: {what} failed"
        message = f"{message} ({kind}{': ' + detail if detail else ''})"
        if lost:
            # The connection (and with it the advisory lock) is gone: every later call says so,
            # rather than a vaguer error hiding the cause.
            self._access.lost = message
            conn, self._access.conn = self._access.conn, None
            if conn is not None:
                conn.terminate()
        raise DestinationError(message) from None

    # -- plumbing -------------------------------------------------------------------------

    def _live(self) -> asyncpg.Connection:
        return self._access.live()

    def _writer(self) -> asyncpg.Connection:
        return self._access.writer()

    async def _connect(self) -> asyncpg.Connection:
        driver = _asyncpg()
        try:
            conn: asyncpg.Connection = await driver.connect(
                self._target.dsn,
                password=self._password,
                server_settings={
                    "application_name": "tabnine-usage-async",
                    # Plan each statement for the table's size now: a plan cached while the
                    # table was empty would scan a large one for every unit.
                    "plan_cache_mode": "force_custom_plan",
                },
            )
        except Exception as exc:
            detail = self._scrub(first_line(exc))
            raise DestinationError(
                f"cannot connect to {self.display} ({type(exc).__name__}"
                f"{': ' + detail if detail else ''})"
            ) from None
        return conn

    async def _relation_exists(self, name: str) -> bool:
        found = await self._live().fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f"{q(self.schema)}.{q(name)}"
        )
        return bool(found)

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self, tables: Sequence[TableSchema], *, lock: bool = True) -> None:
        """Connect, take the advisory lock and create or migrate ``tables``.

        With ``lock=False``: connect for reading only; nothing is created or migrated.
        """
        self._access.refuse_open()
        check_tables(tables)
        self._access.conn = await self._connect()
        try:
            if lock:
                await self._open_locked(tables)
            else:
                await self._open_reader(tables)
        except BaseException:
            await self.close()
            raise

    async def _open_locked(self, tables: Sequence[TableSchema]) -> None:
        conn = self._live()
        try:
            got = await conn.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                f"tabnine-usage-async:{self.schema}",
            )
        except Exception as exc:
            self._fail("locking", exc)
        if not got:
            raise DestinationBusyError(
                f"{self.display} is in use by another run; wait for it to finish: "
                "one run at a time per destination"
            )
        try:
            async with conn.transaction():
                # Only when missing: a role that owns the schema need not create in the database.
                if not await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", self.schema
                ):
                    await conn.execute(f"CREATE SCHEMA {q(self.schema)}")
                await self._check_format(create=True)
                stored = await self._stored_schemas()
                check_newer(self.display, stored, tables)
                for table in tables:
                    await self._prepare(table, table.name in stored)
                # We hold the lock, so a run still marked running died without finishing.
                await conn.execute(
                    f"UPDATE {q(self.schema)}._runs SET status = 'interrupted' "
                    "WHERE status = 'running'"
                )
        except DestinationError:
            raise
        except Exception as exc:
            self._fail("preparing the tables", exc)
        self._tables = {t.name: t for t in tables}
        self._plans = {t.name: _Plan(self.schema, t) for t in tables}
        self._access.writable = True

    async def _open_reader(self, tables: Sequence[TableSchema]) -> None:
        try:
            if not await self._relation_exists("_meta"):
                raise DestinationError(f"{self.display}: no dataset there yet")
            await self._check_format(create=False)
            stored = await self._stored_schemas()
        except DestinationError:
            raise
        except Exception as exc:
            self._fail("reading the dataset", exc)
        check_newer(self.display, stored, tables)
        self._tables = {**stored, **{t.name: t for t in tables}}

    async def _check_format(self, *, create: bool) -> None:
        conn = self._live()
        s = q(self.schema)
        if create:
            has_meta = await self._relation_exists("_meta")
            await conn.execute(_STATE_SCHEMA.format(s=s))
            if not has_meta:
                await conn.execute(
                    f"INSERT INTO {s}._meta VALUES ($1, $2), ('created_by', $3)",
                    _FORMAT_KEY,
                    str(FORMAT_VERSION),
                    f"tabnine-usage-async {__version__}",
                )
        version = await conn.fetchval(f"SELECT value FROM {s}._meta WHERE key = $1", _FORMAT_KEY)
        if version is None or not str(version).isdigit():
            raise DestinationVersionError(
                f"{self.display} is not a dataset of tabnine-usage-async (no format version)"
            )
        if int(version) > FORMAT_VERSION:
            raise DestinationVersionError(
                f"{self.display} was written by a newer version of tabnine-usage-async (dataset "
                f"format {version}; this version {__version__} reads up to {FORMAT_VERSION}); "
                "upgrade it"
            )

    async def _stored_schemas(self) -> dict[str, TableSchema]:
        rows = await self._live().fetch(
            f"SELECT stream, version, columns::text, key::text, period_column "
            f"FROM {q(self.schema)}._streams"
        )
        return {r[0]: schema_from_row(tuple(r)) for r in rows}

    async def _prepare(self, table: TableSchema, registered: bool) -> None:
        conn = self._live()
        exists = await self._relation_exists(table.name)
        if exists and not registered:
            raise DestinationVersionError(
                f"{self.display}: a table {table.name} exists and is not part of a dataset; "
                "choose another schema with ?schema="
            )
        name = f"{q(self.schema)}.{q(table.name)}"
        if not exists:
            for statement in create_table_sql(self.schema, table):
                await conn.execute(statement)
        else:
            present = {
                r[0]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = $1 AND table_name = $2",
                    self.schema,
                    table.name,
                )
            }
            for column in table.columns:
                if column.name not in present:
                    # Added by a newer stream version: older rows have no value for it.
                    await conn.execute(
                        f"ALTER TABLE {name} ADD COLUMN {q(column.name)} {_PG_TYPES[column.type]}"
                    )
        columns, key = schema_json(table)
        await conn.execute(
            f"INSERT INTO {q(self.schema)}._streams VALUES ($1, $2, $3::jsonb, $4::jsonb, $5) "
            "ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version, "
            "columns = EXCLUDED.columns, key = EXCLUDED.key, "
            "period_column = EXCLUDED.period_column",
            table.name,
            table.version,
            columns,
            key,
            table.period_column,
        )

    async def close(self) -> None:
        """Close the connection, which releases the advisory lock; idempotent."""
        conn, self._access.conn = self._access.conn, None
        self._access.writable = False
        self._access.lost = None
        self._staged.clear()
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=10)
        except Exception:
            conn.terminate()

    # -- meta -----------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A small value of the dataset, or ``None``."""
        conn = self._live()
        try:
            value = await conn.fetchval(
                f"SELECT value FROM {q(self.schema)}._meta WHERE key = $1", key
            )
        except Exception as exc:
            self._fail("reading meta", exc)
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        """Store a small value of the dataset."""
        conn = self._writer()
        try:
            await conn.execute(
                f"INSERT INTO {q(self.schema)}._meta VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                key,
                value,
            )
        except Exception as exc:
            self._fail("writing meta", exc)

    # -- units ----------------------------------------------------------------------------

    async def units(self, stream: str) -> dict[str, UnitState]:
        """The state of every unit of ``stream`` written so far, by unit key."""
        conn = self._live()
        try:
            rows = await conn.fetch(
                f"SELECT unit, complete, fetched_at, run_id, rows FROM {q(self.schema)}._units "
                "WHERE stream = $1",
                stream,
            )
        except Exception as exc:
            self._fail("reading the units", exc)
        return {
            r[0]: UnitState(
                stream=stream, unit=r[0], complete=r[1], fetched_at=r[2], run_id=r[3], rows=r[4]
            )
            for r in rows
        }

    def unit_fetches(self, stream: str) -> AsyncIterator[list[tuple[str, datetime]]]:
        """``(unit key, fetched_at)`` of every unit of ``stream``, in batches ordered by key."""

        async def page(after: str) -> list[tuple[str, datetime]]:
            try:
                rows = await self._live().fetch(
                    f"SELECT unit, fetched_at FROM {q(self.schema)}._units "
                    "WHERE stream = $1 AND unit > $2 ORDER BY unit LIMIT $3",
                    stream,
                    after,
                    UNIT_BATCH,
                )
            except Exception as exc:
                self._fail("reading the units", exc)
            return [(r[0], r[1]) for r in rows]

        return unit_pages(page)

    def _check_writes(self, writes: Sequence[UnitWrite]) -> None:
        check_writes(
            writes,
            {n: t for n, t in self._tables.items() if n in self._plans},
            display=self.display,
        )

    async def write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        """Replace each unit's rows and record its state, all in one transaction."""
        conn = self._writer()
        self._check_writes(writes)
        # Check every value before touching the database: a bad row fails the whole write.
        by_stream: dict[str, list[UnitWrite]] = defaultdict(list)
        for w in writes:
            by_stream[w.stream].append(w)
        staged = {
            stream: [tuple(self._plans[stream].normalize_row(r)) for w in ws for r in w.rows]
            for stream, ws in by_stream.items()
        }
        driver = _asyncpg()
        try:
            for stream in by_stream:
                if stream not in self._staged:
                    await conn.execute(self._plans[stream].create_staging)
                    self._staged.add(stream)
            async with conn.transaction():
                for stream, ws in by_stream.items():
                    await self._replace(conn, self._plans[stream], ws, staged[stream])
                await conn.executemany(
                    f"INSERT INTO {q(self.schema)}._units VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT (stream, unit) DO UPDATE SET complete = EXCLUDED.complete, "
                    "fetched_at = EXCLUDED.fetched_at, run_id = EXCLUDED.run_id, "
                    "rows = EXCLUDED.rows",
                    [
                        (w.stream, w.unit, w.complete, w.fetched_at, run_id, len(w.rows))
                        for w in writes
                    ],
                )
        except driver.UniqueViolationError as exc:
            raise DestinationError(
                f"{self.display}: {self._scrub(str(exc))} (a key appears twice)"
            ) from None
        except Exception as exc:
            self._fail("writing", exc)

    async def _replace(
        self,
        conn: asyncpg.Connection,
        plan: _Plan,
        writes: Sequence[UnitWrite],
        records: list[tuple[Any, ...]],
    ) -> None:
        if records:
            await conn.copy_records_to_table(
                plan.staging.strip('"'), records=records, columns=list(plan.table.column_names)
            )
        for sql, arrays in plan.deletes(writes):
            await conn.execute(sql, *arrays)
        if records:
            await conn.execute(plan.insert)

    # -- ledger ---------------------------------------------------------------------------

    async def begin_run(
        self, *, started_at: datetime, api_version: str, job: Mapping[str, Any]
    ) -> int:
        """Record a new ``running`` run; return its id."""
        check_aware(started_at, "started_at")
        conn = self._writer()
        job_text = ledger_json(job, "job", self.display)
        try:
            run_id = await conn.fetchval(
                f"INSERT INTO {q(self.schema)}._runs "
                "(started_at, finished_at, status, api_version, job, summary) "
                "VALUES ($1, NULL, 'running', $2, $3::jsonb, '{}') RETURNING run_id",
                started_at,
                api_version,
                job_text,
            )
        except Exception as exc:
            self._fail("recording the run", exc)
        return int(run_id)

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
        conn = self._writer()
        text = ledger_json(summary, "summary", self.display)
        try:
            result = await conn.execute(
                f"UPDATE {q(self.schema)}._runs SET status = $1, finished_at = $2, "
                "summary = $3::jsonb WHERE run_id = $4",
                status,
                finished_at,
                text,
                run_id,
            )
        except Exception as exc:
            self._fail("recording the run's end", exc)
        if result != "UPDATE 1":
            raise DestinationError(f"{self.display}: no run {run_id} in the ledger")

    async def runs(self, limit: int = 20) -> list[RunRecord]:
        """The most recent runs, newest first."""
        conn = self._live()
        try:
            rows = await conn.fetch(
                "SELECT run_id, started_at, finished_at, status, api_version, job::text, "
                f"summary::text FROM {q(self.schema)}._runs ORDER BY run_id DESC LIMIT $1",
                limit,
            )
        except Exception as exc:
            self._fail("reading the ledger", exc)
        # asyncpg gives timestamptz as aware UTC datetimes already.
        return [run_record(tuple(r), lambda moment: moment) for r in rows]

    # -- reading --------------------------------------------------------------------------

    #: ``read`` takes ``columns`` (see ``ColumnReader``).
    reads_columns = True

    async def read(
        self, stream: str, columns: Sequence[str] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows of ``stream`` in key order, in batches, values typed as they were written.

        Batches follow the key (keyset pagination), so no cursor stays open between them.
        ``columns`` limits the rows to those columns (see ``ColumnReader``).
        """
        table = self._tables.get(stream)
        if table is None:
            raise DestinationError(f"{self.display} has no stream {stream}")
        selected = selected_columns(table, columns, self.display)
        conn = self._live()
        name = f"{q(self.schema)}.{q(stream)}"
        try:
            present = {
                r[0]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = $1 AND table_name = $2",
                    self.schema,
                    stream,
                )
            }
        except Exception as exc:
            self._fail(f"reading {stream}", exc)
        if not present:
            return
        wanted = [c for c in selected if c.name in present]
        missing = [c.name for c in selected if c.name not in present]
        # The key columns come last, always: the next batch starts after the last row's key.
        keys = list(table.key)
        selects = [f"{q(c.name)}::text" if c.type == "json" else q(c.name) for c in wanted]
        selects += [q(k) for k in keys]
        json_names = {c.name for c in wanted if c.type == "json"}
        key = ", ".join(q(k) for k in keys)
        marks = ", ".join(f"${i}" for i in range(1, len(keys) + 1))
        head = f"SELECT {', '.join(selects)} FROM {name}"
        after: list[Any] | None = None
        names = [c.name for c in wanted]
        width = len(names)
        while True:
            try:
                if after is None:
                    rows = await conn.fetch(f"{head} ORDER BY {key} LIMIT {READ_BATCH}")
                else:
                    rows = await conn.fetch(
                        f"{head} WHERE ({key}) > ({marks}) ORDER BY {key} LIMIT {READ_BATCH}",
                        *after,
                    )
            except Exception as exc:
                self._fail(f"reading {stream}", exc)
            if not rows:
                return
            batch = []
            for r in rows:
                # The record ends with the key columns: zip stops before them.
                row = dict(zip(names, r, strict=False))
                for n in json_names:
                    if row[n] is not None:
                        row[n] = json.loads(row[n])
                for n in missing:
                    row[n] = None
                batch.append(row)
            yield batch
            if len(rows) < READ_BATCH:
                return
            after = [rows[-1][i] for i in range(width, width + len(keys))]
