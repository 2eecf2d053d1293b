"""The SQLite destination's own promises: target mapping, SQL-friendly values, refusals."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tabnine_usage_async.destinations import (
    DestinationError,
    DestinationVersionError,
    SqliteDestination,
    UnitWrite,
    open_destination,
)
from tabnine_usage_async.destinations._values import (
    format_timestamp,
    months_between,
    parse_timestamp,
    time_range_sql,
)

from .destination_contract import EVENTS, FETCHED, NOV, PEOPLE, event_rows, people_unit, unit

UTC = timezone.utc


@pytest.mark.parametrize("name", ["a.sqlite", "a.SQLITE3", "dir/a.db"])
def test_sqlite_suffixes_open_a_sqlite_file(name: str, tmp_path: Path) -> None:
    """*.sqlite, *.sqlite3 and *.db name a SQLite dataset at that path."""
    dest = open_destination(tmp_path / name)
    assert isinstance(dest, SqliteDestination)
    assert dest.display == str(tmp_path / name)


@pytest.mark.parametrize("target", ["", "  ", "usage.csv", "mysql://u:secret@h/db", "x.jsonl"])
def test_unknown_targets_are_refused_in_one_line(target: str) -> None:
    """Unknown targets raise DestinationError listing the accepted forms, never a password."""
    with pytest.raises(DestinationError) as caught:
        open_destination(target)
    message = str(caught.value)
    assert "SQLite file" in message and "\n" not in message and "secret" not in message


def test_timestamps_are_utc_text_ending_in_z() -> None:
    """Whole seconds print without a fraction; any offset is converted to UTC; parse inverts."""
    plus_two = timezone(timedelta(hours=2))
    cases = {
        datetime(2026, 11, 1, tzinfo=UTC): "2026-11-01T00:00:00Z",
        datetime(2026, 11, 1, 2, tzinfo=plus_two): "2026-11-01T00:00:00Z",
        datetime(2026, 11, 1, 0, 0, 0, 5, tzinfo=UTC): "2026-11-01T00:00:00.000005Z",
        datetime(99, 1, 2, 3, 4, 5, tzinfo=UTC): "0099-01-02T03:04:05Z",
    }
    for moment, text in cases.items():
        assert format_timestamp(moment) == text
        assert parse_timestamp(text) == moment


def test_time_range_sql_matches_python_comparisons() -> None:
    """The text range selects exactly start <= value < end, mixing whole and fractional seconds."""
    base = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
    offsets = [-1_000_001, -1_000_000, -1, 0, 1, 499_999, 500_000, 999_999, 1_000_000, 1_000_001]
    moments = [base + timedelta(microseconds=us) for us in offsets]
    conn = sqlite3.connect(":memory:")
    conn.execute('CREATE TABLE t ("at" TEXT)')
    conn.executemany("INSERT INTO t VALUES (?)", [(format_timestamp(m),) for m in moments])
    for start in moments:
        for end in moments:
            sql, params = time_range_sql("at", start, end)
            got = {
                parse_timestamp(r[0]) for r in conn.execute(f"SELECT at FROM t WHERE {sql}", params)
            }
            assert got == {m for m in moments if start <= m < end}, (start, end)
    conn.close()


def test_months_between_lists_every_overlapped_month() -> None:
    """[start, end) covers the months it touches; an end at a month's first instant excludes it."""
    assert months_between(NOV, NOV) == []
    assert months_between(NOV, NOV + timedelta(microseconds=1)) == ["2026-11"]
    assert months_between(
        datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    ) == [
        "2026-10",
        "2026-11",
        "2026-12",
        "2027-01",
    ]


async def test_sqlite_file_is_queryable_with_sql(tmp_path: Path) -> None:
    """Rows are plain SQL: date() and json_each work; WAL, key and period index are in place."""
    path = tmp_path / "usage.sqlite"
    dest = SqliteDestination(path)
    await dest.open([EVENTS, PEOPLE])
    try:
        run = await dest.begin_run(started_at=FETCHED, api_version="v2", job={})
        await dest.write(run, [unit("a", event_rows("a", NOV, 3, 4))])
        await dest.write(run, [people_unit([{"id": "p", "teams": ["t1", "t2"]}])])
    finally:
        await dest.close()
    conn = sqlite3.connect(path)
    try:
        days = conn.execute(
            "SELECT date(period_start), count FROM events ORDER BY period_start"
        ).fetchall()
        assert days == [("2026-11-01", 4), ("2026-11-02", 4), ("2026-11-03", 4)]
        teams = conn.execute("SELECT j.value FROM people, json_each(people.teams) j").fetchall()
        assert teams == [("t1",), ("t2",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(events)")}
        assert "events__period" in indexes
        pk = [r[1] for r in conn.execute("PRAGMA table_info(events)") if r[5]]
        assert pk == ["entity_id", "period_start"]
        (status,) = conn.execute("SELECT status FROM _runs").fetchone()
        assert status == "running"
    finally:
        conn.close()


async def test_other_sqlite_files_are_not_taken_over(tmp_path: Path) -> None:
    """A SQLite file with other tables, or a file that is not SQLite, is refused untouched."""
    foreign = tmp_path / "other.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE usage_records (x)")
    conn.commit()
    conn.close()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all, just some bytes" * 100)
    for path in (foreign, garbage):
        before = path.read_bytes()
        for lock in (True, False):
            with pytest.raises(DestinationVersionError, match="not a"):
                await SqliteDestination(path).open([EVENTS], lock=lock)
        assert path.read_bytes() == before


async def test_write_needs_an_opened_stream_and_a_writable_destination(tmp_path: Path) -> None:
    """Writes to a stream not opened, or to a period-less table with a period, are refused."""
    dest = SqliteDestination(tmp_path / "d.sqlite")
    with pytest.raises(DestinationError, match="not open"):
        await dest.units("events")
    await dest.open([PEOPLE])
    try:
        with pytest.raises(DestinationError, match="not opened"):
            await dest.write(1, [unit("a", [])])
        bad = UnitWrite("people", "p", {}, (NOV, NOV), [], True, FETCHED)
        with pytest.raises(DestinationError, match="no period column"):
            await dest.write(1, [bad])
        with pytest.raises(DestinationError, match="already open"):
            await dest.open([PEOPLE])
    finally:
        await dest.close()
