"""The DuckDB destination: native types, plain-SQL querying, and DuckDB's one-process file lock.

The protocol's guarantees are checked by the destination contract; this module checks what only
DuckDB has.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import anyio
import duckdb
import pytest

from tabnine_usage_async.destinations import (
    DestinationBusyError,
    DestinationVersionError,
    DuckdbDestination,
    open_destination,
)
from tabnine_usage_async.destinations import _duckdb as duckdb_module
from tests.destination_contract import ALL_TYPES, EVENTS, NOV, event_rows, rows_of, unit

REPO = Path(__file__).resolve().parent.parent


def test_open_destination_picks_duckdb_for_duckdb_files(tmp_path: Path) -> None:
    """A *.duckdb path names a DuckDB destination; its display is the path."""
    dest = open_destination(tmp_path / "usage.DuckDB")
    assert isinstance(dest, DuckdbDestination)
    assert dest.display == str(tmp_path / "usage.DuckDB")


async def test_tables_have_native_types(tmp_path: Path) -> None:
    """Each column gets DuckDB's own type, and the key is the primary key."""
    path = tmp_path / "usage.duckdb"
    dest = DuckdbDestination(path)
    await dest.open([ALL_TYPES])
    await dest.close()
    with duckdb.connect(str(path), read_only=True) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'all_types'"
            ).fetchall()
        )
        constraints = conn.execute(
            "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = 'all_types' AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    assert types == {
        "id": "BIGINT",
        "text": "VARCHAR",
        "integer": "BIGINT",
        "float": "DOUBLE",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "date": "DATE",
        "json": "JSON",
        "text_list": "VARCHAR[]",
    }
    assert constraints == [("PRIMARY KEY", ["id"])]


async def test_the_file_answers_plain_sql(tmp_path: Path) -> None:
    """An analyst's query on the file: group by day, filter by scope, no conversions needed."""
    path = tmp_path / "usage.duckdb"
    dest = DuckdbDestination(path)
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=NOV, api_version="v2", job={})
        await dest.write(run, [unit("a", event_rows("a", NOV, 3, 2))])
        await dest.write(run, [unit("b", event_rows("b", NOV + timedelta(days=1), 1, 5))])
    finally:
        await dest.close()
    with duckdb.connect(str(path), read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        per_day = conn.execute(
            "SELECT strftime(date_trunc('day', period_start), '%Y-%m-%d'), sum(count) "
            "FROM events WHERE scope = 'user' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert per_day == [("2026-11-01", 2), ("2026-11-02", 7), ("2026-11-03", 2)]


async def test_a_file_that_is_not_a_dataset_is_refused(tmp_path: Path) -> None:
    """A DuckDB file with other tables in it is not taken over; a non-DuckDB file is refused."""
    foreign = tmp_path / "other.duckdb"
    with duckdb.connect(str(foreign)) as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")
    with pytest.raises(DestinationVersionError, match="not a dataset"):
        await DuckdbDestination(foreign).open([EVENTS])
    text = tmp_path / "notes.duckdb"
    text.write_text("hello, not a database\n" * 100)
    with pytest.raises(DestinationVersionError):
        await DuckdbDestination(text).open([EVENTS])
    assert text.read_text().startswith("hello")


def _hold_open(path: Path) -> subprocess.Popen[str]:
    """Another process that opens the file read-only (as an analyst's notebook would)."""
    code = (
        "import duckdb, sys\n"
        f"conn = duckdb.connect({str(path)!r}, read_only=True)\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


async def test_a_reader_elsewhere_makes_the_writer_busy_not_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process has the file open, a sync is refused as busy; then it proceeds."""
    path = tmp_path / "usage.duckdb"
    dest = DuckdbDestination(path)
    await dest.open([EVENTS])
    await dest.close()
    monkeypatch.setattr(duckdb_module, "OPEN_PATIENCE", 0.5)
    with _hold_open(path) as reader:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "open"
        with pytest.raises(DestinationBusyError, match="in use by another process"):
            await DuckdbDestination(path).open([EVENTS])
        reader.communicate()
    again = DuckdbDestination(path)
    await again.open([EVENTS])
    await again.close()


async def test_a_reader_elsewhere_during_a_sync_is_told_busy(tmp_path: Path) -> None:
    """A read-only open from another process while a sync writes fails as busy, not corrupt."""
    path = tmp_path / "usage.duckdb"
    writer = DuckdbDestination(path)
    await writer.open([EVENTS])
    try:
        code = (
            "import anyio\n"
            "from tabnine_usage_async.destinations import open_destination\n"
            "from tests.destination_contract import EVENTS\n"
            "async def main():\n"
            f"    await open_destination({str(path)!r}).open([EVENTS], lock=False)\n"
            "anyio.run(main)\n"
        )
        result = await anyio.run_process([sys.executable, "-c", code], cwd=REPO, check=False)
        assert result.returncode != 0
        assert b"DestinationBusyError" in result.stderr
        assert b"in use by another process" in result.stderr
    finally:
        await writer.close()


async def test_committed_writes_survive_a_crash_without_checkpoint(tmp_path: Path) -> None:
    """A writer killed after a commit (its changes only in the WAL) loses nothing."""
    path = tmp_path / "usage.duckdb"
    code = (
        "import anyio, os, signal\n"
        "from tabnine_usage_async.destinations import open_destination\n"
        "from tests.destination_contract import EVENTS, NOV, event_rows, unit\n"
        "async def main():\n"
        f"    dest = open_destination({str(path)!r})\n"
        "    await dest.open([EVENTS])\n"
        "    run = await dest.begin_run(started_at=NOV, api_version='v2', job={})\n"
        "    await dest.write(run, [unit('a', event_rows('a', NOV, 4, 1))])\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "anyio.run(main)\n"
    )
    result = await anyio.run_process([sys.executable, "-c", code], cwd=REPO, check=False)
    assert result.returncode == -9
    dest = DuckdbDestination(path)
    await dest.open([EVENTS])
    try:
        assert len(await rows_of(dest, "events")) == 4
        assert [r.status for r in await dest.runs()] == ["interrupted"]
    finally:
        await dest.close()


async def test_rows_round_trip_without_pyarrow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pyarrow (its fast path switched off), every column type still round-trips."""
    from tests.database_targets import duckdb_bump, duckdb_target
    from tests.destination_contract import DestinationKind, test_values_round_trip_exactly

    monkeypatch.setattr(duckdb_module, "_pyarrow", lambda: None)
    kind = DestinationKind("duckdb", duckdb_target, duckdb_bump)
    await test_values_round_trip_exactly(kind, tmp_path)
