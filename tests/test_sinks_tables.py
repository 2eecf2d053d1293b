"""File sinks writing the tables of streams: every column type, every format, keys and resume."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async.sinks import FORMATS, SinkError, open_sink, read_rows
from tabnine_usage_async.streams import get_stream

UTC = timezone.utc
FETCHED = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
USERS = get_stream("users").table
SEATS = get_stream("seats").table
AUDIT = get_stream("audit_log").table


def user_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Users with every column type of the users table, some values left out."""
    return [
        {
            "user_id": f"u{i}",
            "email": None if i % 3 == 0 else f'user "{i}", é@example.com',
            "username": f"name\n{i}",
            "role": "Member",
            "verified": i % 2 == 0,
            "team_ids": [f"t{i}", "t,x"] if i % 2 else [],
            "deactivated_at": None if i % 4 else datetime(2026, 1, i + 1, tzinfo=UTC),
            "updated_at": datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=i),
            "extra": None if i % 2 else {"k": [1, None, "v"]},
            "fetched_at": FETCHED,
        }
        for i in range(start, start + count)
    ]


def read_back(row: dict[str, Any]) -> dict[str, Any]:
    """What every format reads back for a users row: text times, lists and parsed JSON."""
    out = dict(row)
    for name in ("deactivated_at", "updated_at", "fetched_at"):
        if out[name] is not None:
            moment: datetime = out[name]
            text = moment.strftime("%Y-%m-%dT%H:%M:%S")
            out[name] = f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_of_a_stream_table_read_back_the_same_in_every_format(
    tmp_path: Path, fmt: str
) -> None:
    """Booleans, lists, JSON, empty values and sub-second times survive each format unchanged."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / f"users.{fmt}"
    rows = user_rows(8)
    with open_sink(path, table=USERS) as sink:
        sink.write(rows[:5])
        sink.write(rows[5:])
    got = read_rows(path, table=USERS)
    if fmt == "sqlite":
        got.sort(key=lambda r: r["user_id"])
    assert got == [read_back(r) for r in sorted(rows, key=lambda r: r["user_id"])]


@pytest.mark.parametrize("fmt", FORMATS)
def test_dates_and_counts_of_the_seats_table(tmp_path: Path, fmt: str) -> None:
    """Date columns come back as ISO dates, integers as integers."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / f"seats.{fmt}"
    row = {
        "month": date(2026, 2, 1),
        "year": 2026,
        "month_number": 2,
        "registered": 7,
        "deactivated": None,
        "active": 0,
        "pending": 1,
        "provisional": False,
        "extra": None,
        "fetched_at": FETCHED,
    }
    with open_sink(path, table=SEATS) as sink:
        sink.write([row])
    assert read_rows(path, table=SEATS) == [
        {**row, "month": "2026-02-01", "fetched_at": "2026-03-01T12:00:00.250000Z"}
    ]


def test_sqlite_output_upserts_on_the_table_key(tmp_path: Path) -> None:
    """A row written again with the same key replaces the first one in the SQLite table."""
    path = tmp_path / "users.sqlite"
    first, second = user_rows(2)
    with open_sink(path, table=USERS) as sink:
        sink.write([first, second])
        sink.write([{**first, "role": "Admin"}])
    rows = read_rows(path, table=USERS)
    assert sorted((r["user_id"], r["role"]) for r in rows) == [("u0", "Admin"), ("u1", "Member")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_of_a_stream_table_keeps_exactly_the_committed_rows(
    tmp_path: Path, fmt: str
) -> None:
    """Resumed at a marker, a table output drops what came after it and appends anew."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / f"users.{fmt}"
    sink = open_sink(path, table=USERS)
    sink.write(user_rows(3))
    marker = sink.flush()
    sink.write(user_rows(2, start=3))
    sink.abort()
    with open_sink(path, resume=marker, table=USERS) as resumed:
        resumed.write(user_rows(2, start=10))
    got = sorted(r["user_id"] for r in read_rows(path, table=USERS))
    assert got == ["u0", "u1", "u10", "u11", "u2"]


def test_a_file_of_another_table_is_not_read_as_this_one(tmp_path: Path) -> None:
    """Reading a users CSV as the audit log table is refused with the expected header."""
    path = tmp_path / "users.csv"
    with open_sink(path, table=USERS) as sink:
        sink.write(user_rows(1))
    with pytest.raises(SinkError, match="header"):
        read_rows(path, table=AUDIT)
