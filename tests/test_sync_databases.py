"""Syncs into PostgreSQL and DuckDB against the fake server, through the library and the CLI.

Ground truth, incremental runs with a correction, two runs at once, SIGKILL and rerun, and a
PostgreSQL connection cut mid-run: the datasets issue's guarantees on both database destinations.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from tabnine_usage_async.destinations import DestinationBusyError, open_destination
from tabnine_usage_async.streams import STREAMS
from tabnine_usage_async.testing import FakeTabnine
from tests import _sync_truth as truth
from tests.postgres_server import PostgresServer
from tests.test_sync_fake import SINCE, assert_matches_truth, fake, sync

__all__ = ["fake"]  # the fixture, shared with the SQLite sync tests

UTC = timezone.utc
CLI = [sys.executable, "-m", "tabnine_usage_async"]
#: One fake organization for every CLI run: the same data, so runs can be compared.
FAKE_ARGS = ["--fake", "--fake-users", "12", "--fake-teams", "3", "--fake-seed", "3", "--quiet"]
CLI_SINCE = "2026-04-20"
CLI_NOW = "2026-06-10T12:00:00Z"


def _schema(request: pytest.FixtureRequest, tag: str = "") -> str:
    return "s_" + hashlib.sha256((request.node.nodeid + tag).encode()).hexdigest()[:20]


@pytest.fixture(params=["postgresql", "duckdb"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each database destination in turn."""
    return str(request.param)


@pytest.fixture
def new_target(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Makes fresh targets of this kind: a schema of the test server, or a DuckDB file."""

    def make(tag: str = "main") -> str:
        if kind == "duckdb":
            return str(tmp_path / f"{tag}.duckdb")
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.url(password=True, schema=_schema(request, tag))

    return make


async def dump(target: str) -> dict[str, list[dict[str, Any]]]:
    """Every stream's rows, sorted, without fetch times: what two equal runs must share."""
    out: dict[str, list[dict[str, Any]]] = {}
    for stream in STREAMS:
        rows = (
            await truth.read_table(target, stream.name) if await _has(target, stream.name) else []
        )
        for row in rows:
            row.pop("fetched_at", None)
        out[stream.name] = sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))
    return out


async def _has(target: str, stream: str) -> bool:
    dest = open_destination(target)
    await dest.open([], lock=False)
    try:
        return bool(await dest.units(stream))
    finally:
        await dest.close()


# -- through the library --------------------------------------------------------------------


async def test_first_sync_equals_ground_truth(fake: FakeTabnine, new_target: Any) -> None:
    """A first sync of every v2 stream holds exactly the fake's ground truth."""
    target = new_target()
    summary = await sync(fake, target, streams=[s.name for s in STREAMS if s.api != "v1"])
    assert summary.status == "succeeded" and summary.failed == ()
    await assert_matches_truth(fake, target, models=True)


async def test_incremental_sync_with_a_correction_equals_ground_truth(
    fake: FakeTabnine, new_target: Any
) -> None:
    """A later sync refreshes the open periods, a correction in the lookback propagates, and
    the dataset equals the ground truth again with no row doubled."""
    target = new_target()
    data = fake.dataset
    await sync(fake, target)
    day = datetime(2026, 1, 8, tzinfo=UTC)  # inside the open month
    data.correct(day.date())
    data.set_now(data.now + timedelta(days=2))
    second = await sync(fake, target)
    assert second.status == "succeeded"
    await assert_matches_truth(fake, target)
    rows = await truth.read_table(target, "usage")
    keys = [(r["scope"], r["entity_id"], r["granularity"], r["period_start"]) for r in rows]
    assert len(keys) == len(set(keys))


async def test_second_sync_at_once_is_refused(fake: FakeTabnine, new_target: Any) -> None:
    """While one run holds the destination, another sync is refused and changes nothing."""
    target = new_target()
    await sync(fake, target)
    holder = open_destination(target)
    await holder.open([s.table for s in STREAMS])
    try:
        with pytest.raises(DestinationBusyError, match="in use by another"):
            await sync(fake, target)
    finally:
        await holder.close()
    assert (await sync(fake, target)).status == "succeeded"


# -- through the CLI ------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parent.parent,
    )


async def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = await anyio.to_thread.run_sync(process.communicate)
    return process.returncode, out, err


def _sync_args(target: str, now: str = CLI_NOW) -> list[str]:
    return ["sync", "--to", target, "--since", CLI_SINCE, "--now", now, *FAKE_ARGS]


@pytest.mark.parametrize(
    ("kind", "password_in"), [("postgresql", "url"), ("postgresql", "env"), ("duckdb", None)]
)
async def test_cli_sync_status_and_never_the_password(
    kind: str, new_target: Any, request: pytest.FixtureRequest, password_in: str | None
) -> None:
    """``sync --to`` (dry run and real) and ``status --to`` work on the database, and print no
    password anywhere, whether it came in the URL or in PGPASSWORD."""
    target = readable = new_target()
    env: dict[str, str] = {}
    secret = None
    if kind == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        secret = server.password
        if password_in == "env":
            target = server.url(schema=readable.rsplit("schema=", 1)[1])
            env["PGPASSWORD"] = secret
    outputs = []
    for args in (
        [*_sync_args(target), "--dry-run"],
        [a for a in _sync_args(target) if a != "--quiet"],
        ["status", "--to", target],
    ):
        code, out, err = await _finish(_cli(*args, env=env))
        assert code == 0, err
        outputs.append(out + err)
    assert '"destination"' in outputs[0]
    assert "sync succeeded" in outputs[1]
    assert "usage:" in outputs[2] and "succeeded" in outputs[2]
    if secret is not None:
        assert all(secret not in text for text in outputs)
        assert all(f"127.0.0.1:{server.port}/postgres" in text for text in outputs)
    assert (await dump(readable))["usage"]


async def test_cli_two_runs_at_once(new_target: Any) -> None:
    """A sync started while another run holds the destination exits 2 with one clear line."""
    target = new_target()
    holder = open_destination(target)
    await holder.open([s.table for s in STREAMS])
    try:
        code, _out, err = await _finish(_cli(*_sync_args(target)))
    finally:
        await holder.close()
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use by another" in lines[0]


async def test_cli_sigkill_then_rerun_equals_an_uninterrupted_run(
    kind: str, new_target: Any, request: pytest.FixtureRequest
) -> None:
    """Syncs SIGKILLed mid-run and run again leave the dataset an uninterrupted sync gives."""
    reference, killed = new_target("reference"), new_target("killed")
    code, _, err = await _finish(_cli(*_sync_args(reference)))
    assert code == 0, err
    rng = random.Random(os.getpid())
    hits = 0
    for _attempt in range(2):
        process = _cli(*_sync_args(killed))
        if kind == "postgresql":
            await _until_units_written(request.getfixturevalue("postgres_server"), killed)
        else:
            # Once the file is being written (its WAL exists), at a random moment after.
            wal = Path(killed + ".wal")
            while not wal.exists() and process.poll() is None:
                await anyio.sleep(0.02)
            await anyio.sleep(rng.random())
        process.send_signal(signal.SIGKILL)
        code, _, _ = await _finish(process)
        hits += code == -signal.SIGKILL
    assert hits >= 1
    code, _, err = await _finish(_cli(*_sync_args(killed)))
    assert code == 0, err
    assert await dump(killed) == await dump(reference)


async def _until_units_written(server: PostgresServer, target: str) -> None:
    """Until the run under test has committed some units (we look; no timing guess)."""
    schema = target.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(server.url(), password=server.password)
    try:
        while True:
            found = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{schema}"._units')
            if found and await conn.fetchval(f'SELECT count(*) FROM "{schema}"._units') > 10:
                return
            await anyio.sleep(0.02)
    finally:
        await conn.close()


@pytest.fixture
async def admin(postgres_server: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the test server."""
    conn = await asyncpg.connect(postgres_server.url(), password=postgres_server.password)
    try:
        yield conn
    finally:
        await conn.close()


async def test_cli_connection_lost_mid_run_exits_1_and_the_rerun_completes(
    postgres_server: PostgresServer, admin: asyncpg.Connection, request: pytest.FixtureRequest
) -> None:
    """A sync whose PostgreSQL connection is cut mid-run exits 1 with one clear line; the unit in
    flight is not marked done and the next sync completes to what an uninterrupted one gives."""
    target = postgres_server.url(password=True, schema=_schema(request))
    reference = postgres_server.url(password=True, schema=_schema(request, "reference"))
    for where in (target, reference):
        code, _, err = await _finish(_cli(*_sync_args(where, now="2026-05-10T12:00:00Z")))
        assert code == 0, err
    code, _, err = await _finish(_cli(*_sync_args(reference)))
    assert code == 0, err
    schema = target.rsplit("schema=", 1)[1]
    before = await admin.fetchval(f'SELECT count(*) FROM "{schema}".usage')
    blocker = await asyncpg.connect(postgres_server.url(), password=postgres_server.password)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(f'LOCK TABLE "{schema}".usage IN ACCESS EXCLUSIVE MODE')
        process = _cli(*_sync_args(target))
        pid = None
        while pid is None and process.poll() is None:
            pid = await admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'tabnine-usage-async' "
                "AND wait_event_type = 'Lock'"
            )
            await anyio.sleep(0.05)
        assert pid is not None, process.communicate()
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
        code, _, err = await _finish(process)
    finally:
        await blocker.close()
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "connection to PostgreSQL was lost" in lines[0]
    assert postgres_server.password not in err
    assert await admin.fetchval(f'SELECT count(*) FROM "{schema}".usage') == before
    code, _, err = await _finish(_cli(*_sync_args(target)))
    assert code == 0, err
    assert await dump(target) == await dump(reference)


# -- the README's examples ------------------------------------------------------------------


def _readme_blocks(language: str) -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text.split("## Databases", 1)[1].split("\n## ", 1)[0]
    return [b.split("```", 1)[0] for b in section.split(f"```{language}\n")[1:]]


async def test_readme_dashboard_queries_run_on_a_synced_dataset(
    fake: FakeTabnine,
    postgres_server: PostgresServer,
    admin: asyncpg.Connection,
    request: pytest.FixtureRequest,
) -> None:
    """The README's Grafana-style queries run as printed on a synced PostgreSQL dataset, and
    the daily active users per team they show are the fake's."""
    schema = _schema(request)
    await sync(fake, postgres_server.url(password=True, schema=schema))
    now = fake.dataset.now.isoformat()
    queries = [q for q in _readme_blocks("sql") if "tabnine.usage" in q]
    assert len(queries) == 2
    results = []
    for query in queries:
        sql = query.replace("tabnine.", f'"{schema}".').replace("now()", f"'{now}'::timestamptz")
        results.append(await admin.fetch(sql))
    daily, adoption = results
    assert daily and adoption
    teams = {t.id: t.name for t in fake.dataset.teams}
    truth_rows = await truth.read_table(postgres_server.url(password=True, schema=schema), "usage")
    expected = {
        (r["period_start"], teams[r["team_id"]]): r["active_users"]
        for r in truth_rows
        if r["scope"] == "team"
        and r["granularity"] == "daily"
        and r["period_start"] >= fake.dataset.now - timedelta(days=30)
    }
    assert {(r["time"], r["team"]): r["active_users"] for r in daily} == expected
    assert all(0 <= r["adoption_pct"] <= 100 for r in adoption if r["adoption_pct"] is not None)


async def test_readme_duckdb_example_runs_on_a_synced_file(
    fake: FakeTabnine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's DuckDB snippet runs as printed on a synced file."""
    await sync(fake, tmp_path / "usage.duckdb")
    (block,) = _readme_blocks("python")
    monkeypatch.chdir(tmp_path)
    printed: list[str] = []
    exec(block, {"print": lambda value: printed.append(str(value))})  # as a user would paste it
    (table,) = printed
    assert "day" in table and "completions" in table
    assert str(SINCE.date()) in table  # the first synced day is there
