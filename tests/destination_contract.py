"""The contract every destination keeps, as tests parametrized by destination kind.

A test module collects these tests with ``from tests.destination_contract import *`` and runs
each once per entry of ``DESTINATION_KINDS``: adding a destination is one more ``DestinationKind``
in that list. A kind hands out fresh dataset targets (what ``open_destination`` accepts), so the
same dataset can be opened twice, and from other processes: this module doubles as the writer
and lock-holder those processes run (``python -m tests.destination_contract ...``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from tabnine_usage_async.destinations import (
    Column,
    ColumnReader,
    Destination,
    DestinationBusyError,
    DestinationError,
    DestinationVersionError,
    TableSchema,
    UnitWrite,
    _duckdb,
    _postgres,
    _state,
    open_destination,
)
from tests import database_targets

__all__ = [
    "DESTINATION_KINDS",
    "DestinationKind",
    "destination_kind",
    "test_bad_value_writes_nothing",
    "test_duplicate_key_is_refused",
    "test_killed_lock_holder_releases_the_lock",
    "test_ledger_round_trip_and_interrupted_runs",
    "test_lock_refuses_a_second_open",
    "test_lock_refuses_another_process",
    "test_meta_round_trip",
    "test_newer_format_is_refused",
    "test_newer_stream_version_is_refused",
    "test_older_table_is_migrated_in_place",
    "test_period_bounds_select_exactly_the_unit",
    "test_read_columns_gives_only_those_columns",
    "test_reader_is_not_blocked_by_the_lock",
    "test_reader_never_creates_a_dataset",
    "test_reader_refuses_writes_and_closed_refuses_all",
    "test_sigkilled_writer_resumes_to_the_same_dataset",
    "test_snapshot_write_replaces_the_table",
    "test_state_round_trip",
    "test_unit_fetches_pages_every_unit_once",
    "test_unit_rewrite_replaces_only_its_rows",
    "test_values_round_trip_exactly",
]

UTC = timezone.utc
REPO = Path(__file__).resolve().parent.parent


def _sqlite_bump(target: str) -> None:
    with sqlite3.connect(target) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()


def _parquet_bump(target: str) -> None:
    _sqlite_bump(str(Path(target) / "_state.sqlite"))


@attrs.frozen
class DestinationKind:
    """One kind of destination under contract.

    Attributes:
        name: test id.
        new_target: a target for a fresh, empty dataset inside the given temporary folder.
        bump_format: make the dataset at a target look written by a newer format version.
        available: why the kind cannot run here (missing driver or server), or ``None``.
    """

    name: str
    new_target: Callable[[Path], str]
    bump_format: Callable[[str], None]
    available: Callable[[], str | None] = lambda: None


def _pyarrow_missing() -> str | None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return "pyarrow is not installed"
    return None


#: Every destination kind the contract runs against.
DESTINATION_KINDS: list[DestinationKind] = [
    DestinationKind("sqlite", lambda tmp: str(tmp / "data.sqlite"), _sqlite_bump),
    DestinationKind("parquet", lambda tmp: str(tmp / "data"), _parquet_bump, _pyarrow_missing),
    DestinationKind("duckdb", database_targets.duckdb_target, database_targets.duckdb_bump),
    DestinationKind("postgresql", database_targets.postgres_target, database_targets.postgres_bump),
]


@pytest.fixture(params=DESTINATION_KINDS, ids=lambda kind: kind.name)
def destination_kind(request: pytest.FixtureRequest) -> DestinationKind:
    """Each destination kind in turn (skipped where its driver or server is missing)."""
    kind: DestinationKind = request.param
    reason = kind.available()
    if reason is not None:
        pytest.skip(reason)
    return kind


# -- tables and rows ------------------------------------------------------------------------

EVENTS = TableSchema(
    name="events",
    columns=(
        Column("entity_id", "text", nullable=False),
        Column("period_start", "timestamp", nullable=False),
        Column("scope", "text"),
        Column("count", "integer"),
        Column("fetched_at", "timestamp"),
    ),
    key=("entity_id", "period_start"),
    period_column="period_start",
)

PEOPLE = TableSchema(
    name="people",
    columns=(
        Column("id", "text", nullable=False),
        Column("name", "text"),
        Column("teams", "text_list"),
    ),
    key=("id",),
)

ALL_TYPES = TableSchema(
    name="all_types",
    columns=(
        Column("id", "integer", nullable=False),
        Column("text", "text"),
        Column("integer", "integer"),
        Column("float", "float"),
        Column("boolean", "boolean"),
        Column("timestamp", "timestamp"),
        Column("date", "date"),
        Column("json", "json"),
        Column("text_list", "text_list"),
    ),
    key=("id",),
)

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)
FETCHED = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def event_rows(entity: str, start: datetime, days: int, count: int) -> list[dict[str, Any]]:
    """``days`` daily rows of ``entity`` from ``start``, each with ``count``."""
    return [
        {
            "entity_id": entity,
            "period_start": start + timedelta(days=d),
            "scope": "user",
            "count": count,
            "fetched_at": FETCHED,
        }
        for d in range(days)
    ]


def unit(
    entity: str,
    rows: Sequence[dict[str, Any]],
    *,
    period: tuple[datetime, datetime] = (NOV, JAN),
    complete: bool = True,
) -> UnitWrite:
    """The unit of one entity over ``period`` of the events table."""
    return UnitWrite(
        stream="events",
        unit=f"{entity}:{period[0].date()}/{period[1].date()}",
        match={"entity_id": entity},
        period=period,
        rows=rows,
        complete=complete,
        fetched_at=FETCHED,
    )


def people_unit(people: Sequence[dict[str, Any]]) -> UnitWrite:
    """The one unit of the people snapshot."""
    return UnitWrite("people", "people", {}, None, people, True, FETCHED)


async def rows_of(dest: Destination, stream: str) -> list[dict[str, Any]]:
    """Every row of ``stream``, sorted by its JSON form for comparisons."""
    rows: list[dict[str, Any]] = []
    async for batch in dest.read(stream):
        rows.extend(batch)
    return sorted_rows(rows)


def sorted_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` sorted by their JSON form, as ``rows_of`` sorts."""
    return sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))


async def _run(dest: Destination) -> int:
    return await dest.begin_run(started_at=FETCHED, api_version="v2", job={"streams": ["events"]})


# -- replace semantics ----------------------------------------------------------------------


async def test_unit_rewrite_replaces_only_its_rows(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A unit written again with fewer rows keeps none of its old ones; other units keep theirs."""
    dest = open_destination(destination_kind.new_target(tmp_path))
    await dest.open([EVENTS])
    try:
        run = await _run(dest)
        a, b = event_rows("a", NOV, 45, 1), event_rows("b", NOV, 45, 2)
        await dest.write(run, [unit("a", a, complete=False), unit("b", b)])
        newer = event_rows("a", NOV + timedelta(days=3), 5, 7)
        await dest.write(run, [unit("a", newer)])
        assert await rows_of(dest, "events") == sorted_rows(newer + b)
        await dest.write(run, [unit("a", [])])
        assert await rows_of(dest, "events") == sorted_rows(b)
    finally:
        await dest.close()


async def test_period_bounds_select_exactly_the_unit(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A unit replaces rows inside [start, end) only, to the microsecond, and only its entity's."""
    dest = open_destination(destination_kind.new_target(tmp_path))
    await dest.open([EVENTS])
    try:
        run = await _run(dest)
        tick = timedelta(microseconds=1)
        moments = [NOV - tick, NOV, NOV + tick, DEC - tick, DEC, DEC + tick]
        rows = [
            {"entity_id": e, "period_start": m, "scope": None, "count": i, "fetched_at": None}
            for e in ("a", "b")
            for i, m in enumerate(moments)
        ]
        everything = (datetime(2026, 1, 1, tzinfo=UTC), JAN)
        await dest.write(run, [unit("a", rows[:6], period=everything)])
        await dest.write(run, [unit("b", rows[6:], period=everything)])
        await dest.write(run, [unit("a", [], period=(NOV, DEC))])
        kept = [r for r in rows if r["entity_id"] == "b" or not NOV <= r["period_start"] < DEC]
        assert await rows_of(dest, "events") == sorted_rows(kept)
    finally:
        await dest.close()


async def test_snapshot_write_replaces_the_table(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A snapshot unit leaves exactly its rows: people gone from the source are gone."""
    dest = open_destination(destination_kind.new_target(tmp_path))
    await dest.open([PEOPLE])
    try:
        run = await _run(dest)
        first = [{"id": f"u{i}", "name": f"n{i}", "teams": ["t1"]} for i in range(5)]
        await dest.write(run, [people_unit(first)])
        second = [{"id": "u1", "name": "renamed", "teams": []}, {"id": "u9", "name": None}]
        await dest.write(run, [people_unit(second)])
        assert await rows_of(dest, "people") == sorted_rows(
            [
                {"id": "u1", "name": "renamed", "teams": []},
                {"id": "u9", "name": None, "teams": None},
            ]
        )
    finally:
        await dest.close()


async def test_bad_value_writes_nothing(destination_kind: DestinationKind, tmp_path: Path) -> None:
    """A write with one bad value raises DestinationError and changes no row and no state."""
    dest = open_destination(destination_kind.new_target(tmp_path))
    await dest.open([EVENTS])
    try:
        run = await _run(dest)
        good = event_rows("a", NOV, 3, 1)
        await dest.write(run, [unit("a", good, complete=False)])
        bad = [*event_rows("b", NOV, 2, 1), {**good[0], "entity_id": "b", "count": "many"}]
        with pytest.raises(DestinationError, match="count"):
            await dest.write(run, [unit("a", good[:1]), unit("b", bad)])
        naive = [{**good[0], "period_start": datetime(2026, 11, 1)}]
        with pytest.raises(DestinationError, match="period_start"):
            await dest.write(run, [unit("a", naive)])
        with pytest.raises(DestinationError, match="nope"):
            await dest.write(run, [unit("a", [{**good[0], "nope": 1}])])
        with pytest.raises(DestinationError, match="JSON"):
            await dest.finish_run(run, status="failed", finished_at=FETCHED, summary={"x": {1, 2}})
        assert await rows_of(dest, "events") == sorted_rows(good)
        assert set(await dest.units("events")) == {unit("a", good).unit}
        assert not (await dest.units("events"))[unit("a", good).unit].complete
    finally:
        await dest.close()


async def test_duplicate_key_is_refused(destination_kind: DestinationKind, tmp_path: Path) -> None:
    """Two rows with one primary key raise DestinationError instead of one silently winning."""
    dest = open_destination(destination_kind.new_target(tmp_path))
    await dest.open([EVENTS])
    try:
        run = await _run(dest)
        rows = event_rows("a", NOV, 2, 1)
        with pytest.raises(DestinationError):
            await dest.write(run, [unit("a", [*rows, rows[0]])])
        assert await rows_of(dest, "events") == []
        assert await dest.units("events") == {}
    finally:
        await dest.close()


# -- values ---------------------------------------------------------------------------------


async def test_values_round_trip_exactly(destination_kind: DestinationKind, tmp_path: Path) -> None:
    """Every column type reads back as written: None, unicode, int64 ends, tz, nested JSON."""
    plus_five = timezone(timedelta(hours=5, minutes=30))
    rows = [
        {
            "id": 1,
            "text": "Zoë 東京 🚀 \"quoted\" 'single' \\ \n tab\t",
            "integer": 2**63 - 1,
            "float": 0.1 + 0.2,
            "boolean": True,
            "timestamp": datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),
            "date": date(1999, 12, 31),
            "json": {"nested": {"list": [1, 2.5, None, True, "é"], "empty": {}}, "n": -(2**40)},
            "text_list": ["a", "é", ""],
        },
        {
            "id": -(2**63),
            "text": "",
            "integer": -(2**63),
            "float": -1e300,
            "boolean": False,
            "timestamp": datetime(2026, 12, 1, 4, 0, tzinfo=plus_five),
            "date": date(2026, 2, 28),
            "json": [1, "two", [3]],
            "text_list": [],
        },
        {"id": 0, **{c: None for c in ALL_TYPES.column_names if c != "id"}},
        {"id": 2, "json": "just text", "float": 3},
    ]
    dest = open_destination(destination_kind.new_target(tmp_path))
    await dest.open([ALL_TYPES])
    try:
        run = await _run(dest)
        await dest.write(run, [UnitWrite("all_types", "all", {}, None, rows, True, FETCHED)])
        expected = [{c: r.get(c) for c in ALL_TYPES.column_names} for r in rows]
        expected[1]["timestamp"] = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
        expected[3]["float"] = 3.0
        got = await rows_of(dest, "all_types")
        assert got == sorted_rows(expected)
        for row in got:
            for name in ("timestamp",):
                if row[name] is not None:
                    assert row[name].utcoffset() == timedelta(0)
            assert row["float"] is None or isinstance(row["float"], float)
            assert row["boolean"] is None or isinstance(row["boolean"], bool)
    finally:
        await dest.close()


# -- state, meta and ledger -----------------------------------------------------------------


async def test_state_round_trip(destination_kind: DestinationKind, tmp_path: Path) -> None:
    """Units' state survives closing: completeness, fetch time, run id and row count."""
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([EVENTS, PEOPLE])
    try:
        run = await _run(dest)
        later = FETCHED + timedelta(hours=1, microseconds=5)
        await dest.write(
            run,
            [
                unit("a", event_rows("a", NOV, 3, 1), complete=False),
                attrs.evolve(unit("b", []), fetched_at=later),
                people_unit([{"id": "x"}]),
            ],
        )
    finally:
        await dest.close()
    again = open_destination(target)
    await again.open([EVENTS, PEOPLE], lock=False)
    try:
        units = await again.units("events")
        a, b = units[unit("a", []).unit], units[unit("b", []).unit]
        assert (a.complete, a.rows, a.run_id, a.fetched_at) == (False, 3, run, FETCHED)
        assert (b.complete, b.rows, b.fetched_at) == (True, 0, later)
        assert set(await again.units("people")) == {"people"}
        assert await again.units("nothing") == {}
    finally:
        await again.close()


async def test_unit_fetches_pages_every_unit_once(
    destination_kind: DestinationKind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``unit_fetches`` gives every unit of the stream once, its last fetch time, in key order
    and in batches of at most ``UNIT_BATCH``; other streams' units are left out."""
    batch = 3
    for module in (_state, _duckdb, _postgres):
        monkeypatch.setattr(module, "UNIT_BATCH", batch)
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([EVENTS, PEOPLE])
    names = ["dd", "ab", "cc", "aa", "bb", "ca", "ba", "ac"]
    when = {name: FETCHED + timedelta(hours=i, microseconds=i) for i, name in enumerate(names)}
    try:
        run = await _run(dest)
        await dest.write(run, [attrs.evolve(unit(n, []), fetched_at=when["cc"]) for n in names])
        await dest.write(run, [attrs.evolve(unit(n, []), fetched_at=when[n]) for n in names])
        await dest.write(run, [people_unit([])])
        batches = [b async for b in dest.unit_fetches("events")]
        nothing = [b async for b in dest.unit_fetches("nothing")]
    finally:
        await dest.close()
    assert [len(b) for b in batches] == [batch, batch, len(names) - 2 * batch]
    expected = sorted((unit(n, []).unit, when[n]) for n in names)
    assert [pair for b in batches for pair in b] == expected
    assert nothing == []


async def test_reader_refuses_writes_and_closed_refuses_all(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """Opened for reading, every write is refused with one clear line; once closed, every call
    says the destination is not open; opening twice is refused."""
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([EVENTS])
    await dest.close()
    reader = open_destination(target)
    await reader.open([EVENTS], lock=False)
    try:
        with pytest.raises(DestinationError, match="already open"):
            await reader.open([EVENTS], lock=False)
        with pytest.raises(DestinationError, match="opened for reading only"):
            await reader.set_meta("since", "2025-01-01")
        with pytest.raises(DestinationError, match="opened for reading only"):
            await _run(reader)
    finally:
        await reader.close()
    await reader.close()  # idempotent
    with pytest.raises(DestinationError, match="is not open"):
        await reader.get_meta("since")
    with pytest.raises(DestinationError, match="is not open"):
        [b async for b in reader.unit_fetches("events")]


async def test_meta_round_trip(destination_kind: DestinationKind, tmp_path: Path) -> None:
    """Meta values are stored, replaced and read back; unknown keys are None."""
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([EVENTS])
    try:
        await dest.set_meta("since", "2025-01-01")
        await dest.set_meta("organization", "org-1")
        await dest.set_meta("since", "2024-06-01")
    finally:
        await dest.close()
    reader = open_destination(target)
    await reader.open([], lock=False)
    try:
        assert await reader.get_meta("since") == "2024-06-01"
        assert await reader.get_meta("organization") == "org-1"
        assert await reader.get_meta("missing") is None
    finally:
        await reader.close()


async def test_ledger_round_trip_and_interrupted_runs(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """Runs read back newest first; a run left running is interrupted by the next locked open."""
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([EVENTS])
    job = {"streams": ["usage", "users"], "since": "2025-01-01", "lookback_days": 3}
    first = await dest.begin_run(started_at=FETCHED, api_version="v2", job=job)
    summary = {"records": 10, "failed": [{"unit": "u:1", "cause": "HTTP 500"}]}
    end = FETCHED + timedelta(minutes=5)
    await dest.finish_run(first, status="partial", finished_at=end, summary=summary)
    second = await dest.begin_run(started_at=end, api_version="v1", job={})
    await dest.close()  # as if killed: never finished

    reader = open_destination(target)
    await reader.open([EVENTS], lock=False)
    try:
        assert [r.status for r in await reader.runs()] == ["running", "partial"]
    finally:
        await reader.close()

    dest = open_destination(target)
    await dest.open([EVENTS])
    try:
        runs = await dest.runs()
        assert [(r.run_id, r.status) for r in runs] == [(second, "interrupted"), (first, "partial")]
        assert second > first
        assert runs[0].finished_at is None and runs[0].api_version == "v1"
        assert runs[1].job == job and runs[1].summary == summary
        assert (runs[1].started_at, runs[1].finished_at) == (FETCHED, end)
        assert len(await dest.runs(limit=1)) == 1
    finally:
        await dest.close()


# -- lock and readers -----------------------------------------------------------------------


async def test_lock_refuses_a_second_open(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A second locked open is refused while the first holds it, and allowed after close."""
    target = destination_kind.new_target(tmp_path)
    first = open_destination(target)
    await first.open([EVENTS])
    try:
        with pytest.raises(DestinationBusyError, match="another run"):
            await open_destination(target).open([EVENTS])
    finally:
        await first.close()
    await first.close()  # idempotent
    second = open_destination(target)
    await second.open([EVENTS])
    await second.close()


async def test_read_columns_gives_only_those_columns(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """read(columns=...) gives exactly the asked columns, typed; an unknown column is refused."""
    target = destination_kind.new_target(tmp_path)
    old = attrs.evolve(EVENTS, columns=EVENTS.columns[:4])
    dest = open_destination(target)
    await dest.open([old])
    try:
        run = await _run(dest)
        rows = event_rows("a", NOV, 3, 7) + event_rows("b", DEC, 2, 9)
        await dest.write(
            run,
            [
                unit(e, [{k: r[k] for k in old.column_names} for r in rows if r["entity_id"] == e])
                for e in ("a", "b")
            ],
        )
    finally:
        await dest.close()
    # A reader of a newer version: fetched_at is not stored yet, and reads as None.
    reader = open_destination(target)
    await reader.open([EVENTS], lock=False)
    try:
        if not isinstance(reader, ColumnReader):
            pytest.skip(f"{destination_kind.name} reads every column")
        asked = ["count", "period_start", "fetched_at", "count"]
        got: list[dict[str, Any]] = []
        async for batch in reader.read("events", columns=asked):
            got.extend(batch)
        expected = [
            {"count": r["count"], "period_start": r["period_start"], "fetched_at": None}
            for r in rows
        ]
        assert sorted_rows(got) == sorted_rows(expected)
        assert all(r["period_start"].utcoffset() == timedelta(0) for r in got)
        with pytest.raises(DestinationError, match="no column nope"):
            async for _ in reader.read("events", columns=["count", "nope"]):
                pass
    finally:
        await reader.close()


async def test_reader_is_not_blocked_by_the_lock(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A lock=False reader opens and reads while a writer holds the lock, without migrating."""
    target = destination_kind.new_target(tmp_path)
    writer = open_destination(target)
    await writer.open([EVENTS])
    try:
        run = await _run(writer)
        await writer.write(run, [unit("a", event_rows("a", NOV, 2, 1))])
        reader = open_destination(target)
        await reader.open([EVENTS], lock=False)
        try:
            assert len(await rows_of(reader, "events")) == 2
            assert [r.status for r in await reader.runs()] == ["running"]
            with pytest.raises(DestinationError):
                await reader.write(run, [unit("b", [])])
        finally:
            await reader.close()
        await writer.write(run, [unit("b", event_rows("b", NOV, 1, 1))])
        assert len(await rows_of(writer, "events")) == 3
    finally:
        await writer.close()


async def test_reader_never_creates_a_dataset(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A lock=False open of a target with no dataset fails and leaves nothing behind."""
    target = destination_kind.new_target(tmp_path)
    with pytest.raises(DestinationError):
        await open_destination(target).open([EVENTS], lock=False)
    assert list(tmp_path.iterdir()) == []


def _helper(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.destination_contract", *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_lock_refuses_another_process(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A lock held by another process refuses our open; it is free again once that one exits."""
    target = destination_kind.new_target(tmp_path)
    with _helper("hold", target) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DestinationBusyError):
            await open_destination(target).open([EVENTS])
        holder.communicate()
        assert holder.returncode == 0
    dest = open_destination(target)
    await dest.open([EVENTS])
    await dest.close()


async def test_killed_lock_holder_releases_the_lock(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """SIGKILL of the lock holder frees the lock, and its running run becomes interrupted."""
    target = destination_kind.new_target(tmp_path)
    with _helper("hold", target) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    reader = open_destination(target)
    await reader.open([EVENTS], lock=False)
    try:
        assert [r.status for r in await reader.runs()] == ["running"]
    finally:
        await reader.close()
    dest = open_destination(target)
    await dest.open([EVENTS])
    try:
        assert [r.status for r in await dest.runs()] == ["interrupted"]
    finally:
        await dest.close()


# -- versions -------------------------------------------------------------------------------


async def test_older_table_is_migrated_in_place(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A newer stream version with more columns adds them; old rows read them as None."""
    target = destination_kind.new_target(tmp_path)
    old = attrs.evolve(EVENTS, columns=EVENTS.columns[:3])
    dest = open_destination(target)
    await dest.open([old])
    run = await _run(dest)
    old_rows = [{k: r[k] for k in old.column_names} for r in event_rows("a", NOV, 40, 1)]
    await dest.write(run, [unit("a", old_rows)])
    await dest.close()

    # A reader of the newer version does not migrate, and sees the new columns empty.
    reader = open_destination(target)
    await reader.open([EVENTS], lock=False)
    try:
        expected = sorted_rows([{**r, "count": None, "fetched_at": None} for r in old_rows])
        assert await rows_of(reader, "events") == expected
    finally:
        await reader.close()

    new = attrs.evolve(EVENTS, version=2)
    dest = open_destination(target)
    await dest.open([new])
    try:
        assert await rows_of(dest, "events") == expected
        run = await _run(dest)
        fresh = event_rows("b", NOV, 2, 5)
        await dest.write(run, [unit("b", fresh)])
        assert await rows_of(dest, "events") == sorted_rows(expected + fresh)
    finally:
        await dest.close()


async def test_newer_stream_version_is_refused(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """A table written by a newer stream version is refused, by writers and readers alike."""
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([attrs.evolve(EVENTS, version=3)])
    await dest.close()
    for lock in (True, False):
        with pytest.raises(DestinationVersionError, match="newer version"):
            await open_destination(target).open([attrs.evolve(EVENTS, version=2)], lock=lock)
    dest = open_destination(target)
    await dest.open([attrs.evolve(EVENTS, version=3)])
    await dest.close()


async def test_newer_format_is_refused(destination_kind: DestinationKind, tmp_path: Path) -> None:
    """A dataset whose format is newer than this version's is refused with a clear message."""
    target = destination_kind.new_target(tmp_path)
    dest = open_destination(target)
    await dest.open([EVENTS])
    await dest.close()
    destination_kind.bump_format(target)
    for lock in (True, False):
        with pytest.raises(DestinationVersionError, match="newer version"):
            await open_destination(target).open([EVENTS], lock=lock)


# -- SIGKILL at random moments --------------------------------------------------------------

WRITER_ENTITIES = 40
WRITER_BATCH = 4


def _server_rows(entity: int, final: bool) -> list[dict[str, Any]]:
    """What the pretend server reports for an entity: provisional first, then corrected."""
    name = f"e{entity:03d}"
    if final:
        return event_rows(name, NOV + timedelta(days=entity % 7), 20 + entity % 11, entity)
    return event_rows(name, NOV, 30 + entity % 5, -1)


def _people(final: bool) -> list[dict[str, Any]]:
    return [
        {"id": f"p{i}", "name": f"person {i}{'!' if final else ''}", "teams": [f"t{i % 3}"]}
        for i in range(25 if final else 30)
    ]


async def _writer(target: str) -> None:
    """A run like the engine's: provisional pass, corrected pass, snapshot; skips what's done."""
    dest = open_destination(target)
    await dest.open([EVENTS, PEOPLE])
    try:
        run = await _run(dest)
        for final in (False, True):
            done = await dest.units("events")
            todo = [
                e
                for e in range(WRITER_ENTITIES)
                if (unit(f"e{e:03d}", []).unit not in done)
                or (final and not done[unit(f"e{e:03d}", []).unit].complete)
            ]
            for i in range(0, len(todo), WRITER_BATCH):
                writes = [
                    unit(f"e{e:03d}", _server_rows(e, final), complete=final)
                    for e in todo[i : i + WRITER_BATCH]
                ]
                if i % (3 * WRITER_BATCH) == 0:
                    writes.append(people_unit(_people(final)))
                await dest.write(run, writes)
                print("wrote", flush=True)
        await dest.write(run, [people_unit(_people(True))])
        await dest.finish_run(run, status="succeeded", finished_at=FETCHED, summary={})
    finally:
        await dest.close()


async def test_sigkilled_writer_resumes_to_the_same_dataset(
    destination_kind: DestinationKind, tmp_path: Path
) -> None:
    """Writers SIGKILLed at random moments, then run to the end, equal one uninterrupted run."""
    reference = destination_kind.new_target(tmp_path / "reference")
    killed = destination_kind.new_target(tmp_path / "killed")
    for folder in ("reference", "killed"):
        (tmp_path / folder).mkdir()
    with _helper("write", reference) as whole:
        whole.communicate()
    assert whole.returncode == 0

    rng = random.Random(os.getpid())
    kills = 0
    for attempt in range(4):
        with _helper("write", killed) as writer:
            assert writer.stdout is not None
            for _ in range(rng.randrange(1, 6) if attempt == 0 else rng.randrange(0, 12)):
                if not writer.stdout.readline():
                    break
            if attempt:
                # Mid-write as often as between writes: the kill lands anywhere.
                await anyio.sleep(rng.random() * 0.05)
            writer.send_signal(signal.SIGKILL)
            writer.communicate()
        kills += writer.returncode == -signal.SIGKILL
    with _helper("write", killed) as finish:
        finish.communicate()
    assert finish.returncode == 0
    assert kills >= 1

    ref, got = open_destination(reference), open_destination(killed)
    await ref.open([EVENTS, PEOPLE], lock=False)
    await got.open([EVENTS, PEOPLE], lock=False)
    try:
        for stream in ("events", "people"):
            assert await rows_of(got, stream) == await rows_of(ref, stream)
        assert {k: (u.complete, u.rows) for k, u in (await got.units("events")).items()} == {
            k: (u.complete, u.rows) for k, u in (await ref.units("events")).items()
        }
        assert (await got.runs(limit=1))[0].status == "succeeded"
    finally:
        await ref.close()
        await got.close()


# -- helper processes -----------------------------------------------------------------------


async def _hold(target: str) -> None:
    """Take the lock, start a run, say so, and keep both until stdin closes."""
    dest = open_destination(target)
    await dest.open([EVENTS])
    await _run(dest)
    print("locked", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.read)
    await dest.close()


if __name__ == "__main__":
    command, where = sys.argv[1], sys.argv[2]
    anyio.run(_hold if command == "hold" else _writer, where)
