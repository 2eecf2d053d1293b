"""Fresh dataset targets in the PostgreSQL test server and in DuckDB files, for the contract."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
from pathlib import Path

from tests.postgres_server import shared_server

__all__ = ["duckdb_bump", "duckdb_target", "postgres_bump", "postgres_target", "run_sync"]


def run_sync(coro: object) -> object:
    """Run a coroutine to the end from synchronous code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def postgres_target(folder: Path) -> str:
    """A URL to a schema of its own in the test server, one per folder (password included)."""
    schema = "t_" + hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return shared_server().url(password=True, schema=schema)


def postgres_bump(target: str) -> None:
    """Make the dataset at ``target`` look written by a newer format version."""
    import asyncpg

    from tabnine_usage_async.destinations._pgurl import parse_postgres_url

    parsed = parse_postgres_url(target)

    async def bump() -> None:
        conn = await asyncpg.connect(parsed.dsn, password=parsed.password)
        try:
            await conn.execute(
                f'UPDATE "{parsed.schema}"._meta SET value = $1 WHERE key = $2',
                "99",
                "format_version",
            )
        finally:
            await conn.close()

    run_sync(bump())


def duckdb_target(folder: Path) -> str:
    """A DuckDB file inside ``folder``."""
    return str(folder / "data.duckdb")


def duckdb_bump(target: str) -> None:
    """Make the DuckDB dataset at ``target`` look written by a newer format version."""
    import duckdb

    with duckdb.connect(target) as conn:
        conn.execute("UPDATE _meta SET value = '99' WHERE key = 'format_version'")
