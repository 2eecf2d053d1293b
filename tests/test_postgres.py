"""The PostgreSQL destination against the real test server: types, indexes, credentials, failures.

The protocol's guarantees (replace, state, ledger, lock, migration, SIGKILL) are checked by the
destination contract; this module checks what only PostgreSQL has.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from tabnine_usage_async.destinations import (
    DestinationBusyError,
    DestinationError,
    DestinationVersionError,
    PostgresDestination,
    open_destination,
)
from tabnine_usage_async.destinations._pgurl import parse_postgres_url
from tests.destination_contract import ALL_TYPES, EVENTS, NOV, PEOPLE, event_rows, rows_of, unit
from tests.postgres_server import PostgresServer


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))


@pytest.fixture
def schema(request: pytest.FixtureRequest) -> str:
    """A schema name of this test's own."""
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]
    return (
        "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40] + digest
    )


@pytest.fixture
async def admin(postgres_server: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test server, for looking behind the destination's back."""
    conn = await asyncpg.connect(postgres_server.url(), password=postgres_server.password)
    try:
        yield conn
    finally:
        await conn.close()


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "dsn", "password", "schema", "display"),
    [
        (
            "postgresql://bob:s3cr%40t@db.example:5433/metrics?schema=usage&sslmode=require",
            "postgresql://bob@db.example:5433/metrics?sslmode=require",
            "s3cr@t",
            "usage",
            "postgresql://bob@db.example:5433/metrics?schema=usage",
        ),
        (
            "postgres://bob@localhost/db",
            "postgresql://bob@localhost/db",
            None,
            "tabnine",
            "postgresql://bob@localhost/db?schema=tabnine",
        ),
        (
            "postgresql:///db?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            "postgresql:///db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
            None,
            "tabnine",
            "postgresql:///db?schema=tabnine",
        ),
        (
            "postgresql://:only-pw@[::1]:6000/d",
            "postgresql://[::1]:6000/d",
            "only-pw",
            "tabnine",
            "postgresql://[::1]:6000/d?schema=tabnine",
        ),
    ],
)
def test_url_splits_into_dsn_password_schema_and_display(
    url: str, dsn: str, password: str | None, schema: str, display: str
) -> None:
    """A URL gives the driver's DSN without password or schema, and a display without password."""
    target = parse_postgres_url(url)
    assert (target.dsn, target.password, target.schema, target.display) == (
        dsn,
        password,
        schema,
        display,
    )
    if password:
        assert password not in repr(target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:pw-in-port@h:notaport/d", "not a PostgreSQL URL"),
        ("postgresql://h/d?schema=Bad-Name", "schema"),
        ("postgresql://h/d?schema=", "schema"),
        ("postgresql://h/d?sslmode=always", "sslmode"),
        ("mysql://h/d", "not a PostgreSQL URL"),
    ],
)
def test_bad_urls_are_refused_without_the_password(url: str, message: str) -> None:
    """A malformed URL raises DestinationError that says why and never repeats a password."""
    with pytest.raises(DestinationError, match=message) as caught:
        parse_postgres_url(url)
    assert "pw-in-port" not in str(caught.value)


def test_open_destination_picks_postgres_for_both_schemes() -> None:
    """postgresql:// and postgres:// URLs name a PostgreSQL destination."""
    for scheme in ("postgresql", "postgres", "POSTGRESQL"):
        dest = open_destination(f"{scheme}://u@h:5432/d?schema=s")
        assert isinstance(dest, PostgresDestination)
        assert dest.display == "postgresql://u@h:5432/d?schema=s"


# -- tables ---------------------------------------------------------------------------------


async def test_tables_have_native_types_keys_and_dashboard_indexes(
    postgres_server: PostgresServer, admin: asyncpg.Connection, schema: str
) -> None:
    """Each column gets its PostgreSQL type; the key is the primary key; period/scope indexed."""
    dest = PostgresDestination(postgres_server.url(password=True, schema=schema))
    await dest.open([ALL_TYPES, EVENTS])
    await dest.close()
    types = {
        r["column_name"]: r["data_type"]
        for r in await admin.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = 'all_types'",
            schema,
        )
    }
    assert types == {
        "id": "bigint",
        "text": "text",
        "integer": "bigint",
        "float": "double precision",
        "boolean": "boolean",
        "timestamp": "timestamp with time zone",
        "date": "date",
        "json": "jsonb",
        "text_list": "ARRAY",
    }
    indexes = {
        r["indexname"]: r["indexdef"]
        for r in await admin.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 "
            "AND tablename = 'events'",
            schema,
        )
    }
    defs = sorted(d.split(" USING ")[1] for d in indexes.values())
    assert defs == [
        "btree (entity_id, period_start)",
        "btree (period_start)",
        "btree (scope, period_start)",
    ]
    tables = {
        r[0]
        for r in await admin.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    }
    assert tables == {"all_types", "events", "_meta", "_streams", "_units", "_runs"}


async def test_a_foreign_table_of_the_same_name_is_never_touched(
    postgres_server: PostgresServer, admin: asyncpg.Connection, schema: str
) -> None:
    """A schema that already has an unrelated ``events`` table is refused, and the table kept."""
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    await admin.execute(f'CREATE TABLE "{schema}".events (x int)')
    await admin.execute(f'INSERT INTO "{schema}".events VALUES (42)')
    dest = PostgresDestination(postgres_server.url(password=True, schema=schema))
    with pytest.raises(DestinationVersionError, match="not part of a dataset"):
        await dest.open([EVENTS])
    assert await admin.fetchval(f'SELECT x FROM "{schema}".events') == 42


async def test_sql_sees_the_rows_as_typed_values(
    postgres_server: PostgresServer, admin: asyncpg.Connection, schema: str
) -> None:
    """What a dashboard's SQL sees: real timestamps to group by day, arrays to unnest."""
    dest = PostgresDestination(postgres_server.url(password=True, schema=schema))
    await dest.open([EVENTS, PEOPLE])
    try:
        run = await dest.begin_run(started_at=NOV, api_version="v2", job={})
        await dest.write(run, [unit("a", event_rows("a", NOV, 3, 2))])
        await dest.write(
            run,
            [unit("b", event_rows("b", NOV + timedelta(days=1), 1, 5))],
        )
    finally:
        await dest.close()
    per_day = await admin.fetch(
        f"SELECT date_trunc('day', period_start)::date AS day, sum(count) AS total "
        f'FROM "{schema}".events GROUP BY 1 ORDER BY 1'
    )
    assert [(str(r["day"]), r["total"]) for r in per_day] == [
        ("2026-11-01", 2),
        ("2026-11-02", 7),
        ("2026-11-03", 2),
    ]


# -- credentials ----------------------------------------------------------------------------


async def test_password_never_appears_in_errors_reprs_logs_or_the_dataset(
    postgres_server: PostgresServer,
    admin: asyncpg.Connection,
    schema: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The password given in the URL is used, and shows up nowhere: not even in the tables."""
    caplog.set_level(logging.DEBUG)
    secret = postgres_server.password
    good = postgres_server.url(password=True, schema=schema)
    dest = open_destination(good)
    assert secret not in dest.display and secret not in repr(dest)
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=NOV, api_version="v2", job={"to": dest.display})
        await dest.write(run, [unit("a", event_rows("a", NOV, 2, 1))])
        await dest.finish_run(run, status="succeeded", finished_at=NOV, summary={"records": 2})
    finally:
        await dest.close()
    wrong = good.replace(secret, secret[::-1])
    with pytest.raises(DestinationError, match="password authentication failed") as bad_pw:
        await open_destination(wrong).open([EVENTS])
    refused = good.replace(f":{postgres_server.port}/", ":1/")
    with pytest.raises(
        DestinationError, match="cannot connect to postgresql://postgres@127"
    ) as down:
        await open_destination(refused).open([EVENTS])
    messages = [str(bad_pw.value), str(down.value), *(r.getMessage() for r in caplog.records)]
    for text in messages:
        assert secret not in text and secret[::-1] not in text
    assert "schema=" + schema in str(down.value)
    dump = await admin.fetchval(
        "SELECT string_agg(t::text, '|') FROM ("
        f'SELECT m::text AS t FROM "{schema}"._meta m UNION ALL '
        f'SELECT r::text FROM "{schema}"._runs r UNION ALL '
        f'SELECT u::text FROM "{schema}"._units u UNION ALL '
        f'SELECT s::text FROM "{schema}"._streams s) x'
    )
    assert dump and "127.0.0.1" in dump  # the job's display went in, so the check is real
    assert secret not in dump


async def test_password_from_pgpassword(pg_env: PostgresServer, schema: str) -> None:
    """Without a password in the URL, PGPASSWORD is used, as libpq would."""
    dest = open_destination(pg_env.url(schema=schema))
    await dest.open([EVENTS])
    await dest.close()


async def test_password_from_a_pgpass_file(
    postgres_server: PostgresServer,
    schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a password anywhere else, the .pgpass file (PGPASSFILE) is used."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = postgres_server.url(schema=schema)
    with pytest.raises(DestinationError, match="password"):
        await open_destination(url).open([EVENTS])
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:*:postgres:{postgres_server.password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    dest = open_destination(url)
    await dest.open([EVENTS])
    await dest.close()


# -- a server that goes away ----------------------------------------------------------------


def _admin_params(server: PostgresServer) -> dict[str, Any]:
    return {"dsn": server.url(), "password": server.password}


async def _wait_until_waiting(admin: asyncpg.Connection, pid: int, ended: list[Any]) -> None:
    """Until the destination's backend waits on the lock (no timing guess: we look)."""
    while not ended and not await admin.fetchval(
        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
    ):
        await anyio.sleep(0.05)


@pytest.mark.parametrize("how", ["terminate", "restart"])
async def test_lost_server_fails_the_write_and_the_rerun_completes_once(
    postgres_server: PostgresServer, admin: asyncpg.Connection, schema: str, how: str
) -> None:
    """A connection killed or a server restarted mid-write: one DestinationError, the unit not
    done, the lock released; the next open and write complete exactly once."""
    url = postgres_server.url(password=True, schema=schema)
    dest = PostgresDestination(url)
    await dest.open([EVENTS])
    old = event_rows("a", NOV, 5, 1)
    new = event_rows("a", NOV, 7, 2)
    run = await dest.begin_run(started_at=NOV, api_version="v2", job={})
    await dest.write(run, [unit("a", old, complete=False)])
    pid = dest._live().get_server_pid()
    blocker = await asyncpg.connect(**_admin_params(postgres_server))
    tx = blocker.transaction()
    await tx.start()
    await blocker.execute(f'LOCK TABLE "{schema}".events IN ACCESS EXCLUSIVE MODE')
    caught: list[BaseException] = []
    ended: list[bool] = []

    async def write() -> None:
        try:
            await dest.write(run, [unit("a", new), unit("b", event_rows("b", NOV, 2, 3))])
        except BaseException as exc:
            caught.append(exc)
        finally:
            ended.append(True)

    async with anyio.create_task_group() as tg:
        tg.start_soon(write)
        await _wait_until_waiting(admin, pid, ended)
        if how == "terminate":
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        else:
            # In this thread: the server must outlive the thread that started it (see
            # postgres_server). The write waits on its socket meanwhile.
            postgres_server.restart()
    blocker.terminate()
    assert len(caught) == 1 and isinstance(caught[0], DestinationError), caught
    assert "connection to PostgreSQL was lost" in str(caught[0])
    assert postgres_server.password not in str(caught[0])
    with pytest.raises(DestinationError):
        await dest.finish_run(run, status="failed", finished_at=NOV, summary={})
    await dest.close()

    again = PostgresDestination(url)
    await again.open([EVENTS])  # the advisory lock died with the connection
    try:
        units = await again.units("events")
        assert set(units) == {unit("a", []).unit} and not units[unit("a", []).unit].complete
        assert await rows_of(again, "events") == _sorted(old)
        assert [r.status for r in await again.runs()] == ["interrupted"]
        run2 = await again.begin_run(started_at=NOV, api_version="v2", job={})
        b = event_rows("b", NOV, 2, 3)
        await again.write(run2, [unit("a", new), unit("b", b)])
        assert await rows_of(again, "events") == _sorted(new + b)
        assert {u.rows for u in (await again.units("events")).values()} == {7, 2}
    finally:
        await again.close()


async def test_busy_names_the_destination(postgres_server: PostgresServer, schema: str) -> None:
    """A second writer is refused with DestinationBusyError naming host, database and schema."""
    url = postgres_server.url(password=True, schema=schema)
    first = open_destination(url)
    await first.open([EVENTS])
    try:
        with pytest.raises(DestinationBusyError) as busy:
            await open_destination(url).open([EVENTS])
        text = str(busy.value)
        assert f"127.0.0.1:{postgres_server.port}/postgres?schema={schema}" in text
        assert postgres_server.password not in text
    finally:
        await first.close()


# -- without the driver ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocked", "target", "extra"),
    [("asyncpg", "postgresql://u@127.0.0.1:1/d", "postgres"), ("duckdb", "x.duckdb", "duckdb")],
)
def test_missing_driver_names_the_extra(
    blocked: str, target: str, extra: str, tmp_path: Path
) -> None:
    """Without the driver installed, opening says in one line which extra to install."""
    code = (
        "import sys, anyio\n"
        f"sys.modules[{blocked!r}] = None  # as if not installed\n"
        "from tabnine_usage_async.destinations import open_destination, DestinationError\n"
        "async def main():\n"
        f"    await open_destination({target!r}).open([])\n"
        "try:\n"
        "    anyio.run(main)\n"
        "except DestinationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert out.count("\n") == 1
    assert f"tabnine-usage-async[{extra}]" in out


async def test_a_role_that_owns_only_its_schema_can_sync(
    postgres_server: PostgresServer, admin: asyncpg.Connection, schema: str
) -> None:
    """A least-privilege role (owner of a prepared schema, no CREATE on the database) syncs,
    and a read-only role granted SELECT reads the tables, as a dashboard would."""
    await admin.execute(f"CREATE ROLE {schema}_w LOGIN PASSWORD 'w-secret'")
    await admin.execute(f"CREATE ROLE {schema}_r LOGIN PASSWORD 'r-secret'")
    await admin.execute("REVOKE CREATE ON DATABASE postgres FROM PUBLIC")
    await admin.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION {schema}_w')
    await admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {schema}_r')
    await admin.execute(
        f'ALTER DEFAULT PRIVILEGES FOR ROLE {schema}_w IN SCHEMA "{schema}" '
        f"GRANT SELECT ON TABLES TO {schema}_r"
    )
    host = f"127.0.0.1:{postgres_server.port}/postgres?schema={schema}"
    dest = open_destination(f"postgresql://{schema}_w:w-secret@{host}")
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=NOV, api_version="v2", job={})
        await dest.write(run, [unit("a", event_rows("a", NOV, 2, 1))])
    finally:
        await dest.close()
    reader = await asyncpg.connect(
        f"postgresql://{schema}_r@{host.split('?')[0]}", password="r-secret"
    )
    try:
        assert await reader.fetchval(f'SELECT count(*) FROM "{schema}".events') == 2
    finally:
        await reader.close()
