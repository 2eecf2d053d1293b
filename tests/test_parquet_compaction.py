"""Compaction of a Parquet folder's months: parts stay few, rows stay the same, SIGKILL-safe.

This module doubles as the writer process the SIGKILL test kills
(``python -m tests.test_parquet_compaction TARGET``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from tabnine_usage_async.destinations import (
    DestinationError,
    ParquetFolderDestination,
    UnitWrite,
)
from tabnine_usage_async.destinations._compact import chunk_sizes, parts_to_merge

from .destination_contract import EVENTS, FETCHED, NOV, event_rows, rows_of, sorted_rows, unit

REPO = Path(__file__).resolve().parent.parent
ENTITIES = 24
BATCH = 6
LOOKBACK = 3
#: Parts a sync may still be rewriting beside the max_parts settled ones: the parts of the
#: previous sync's writes not yet rewritten and its own writes' new parts.
IN_FLIGHT = 2 * ENTITIES // BATCH


def _at(day: int) -> datetime:
    return NOV + timedelta(days=day)


@pytest.mark.parametrize(
    ("parts", "frontier", "max_parts", "part_rows", "expected"),
    [
        ([(5, _at(1))] * 3, None, 3, 100, []),  # not over the limit
        ([(5, _at(1))] * 4, None, 3, 100, [0, 1, 2, 3]),  # no frontier: every small part
        ([(80, _at(1)), (5, _at(1)), (60, _at(1)), (5, _at(1))], None, 3, 100, [1, 3]),
        ([(80, _at(1)), (5, _at(1)), (60, _at(1)), (70, _at(1))], None, 3, 100, []),
        ([(5, _at(1))] * 40, None, None, 100, []),  # None: never
        # Only parts whose last day is before the frontier: the others are being rewritten.
        ([(5, _at(1)), (5, _at(4)), (5, _at(2)), (5, _at(3))], _at(3), 3, 100, [0, 2]),
        ([(5, _at(1)), (5, _at(4)), (5, _at(5)), (5, _at(3))], _at(3), 3, 100, []),
        ([(5, None), (5, _at(1)), (5, _at(2))], _at(3), 2, 100, [1, 2]),
    ],
)
def test_parts_to_merge(
    parts: list[tuple[int, datetime | None]],
    frontier: datetime | None,
    max_parts: int | None,
    part_rows: int,
    expected: list[int],
) -> None:
    """Only small parts before the frontier merge, once a month holds more than max_parts."""
    assert parts_to_merge(parts, frontier, max_parts, part_rows) == expected


@pytest.mark.parametrize(
    ("total", "part_rows", "expected"),
    [(0, 10, []), (7, 10, [7]), (10, 10, [10]), (11, 10, [6, 5]), (25, 10, [9, 8, 8])],
)
def test_chunk_sizes(total: int, part_rows: int, expected: list[int]) -> None:
    """Merged rows are cut into the fewest parts of at most part_rows rows, evenly."""
    assert chunk_sizes(total, part_rows) == expected
    assert sum(expected) == total


@pytest.mark.parametrize("value", [0, -1, True])
def test_bad_knobs_are_refused(value: int, tmp_path: Path) -> None:
    """A max_parts or part_rows that cannot bound anything is a clear DestinationError."""
    with pytest.raises(DestinationError, match="max_parts"):
        ParquetFolderDestination(tmp_path, max_parts=value)
    with pytest.raises(DestinationError, match="part_rows"):
        ParquetFolderDestination(tmp_path, part_rows=value)


def _day(n: int) -> datetime:
    return NOV + timedelta(days=n)


def _daily_syncs(days: int) -> Iterator[list[UnitWrite]]:
    """The writes of ``days`` daily syncs: each re-fetches every entity's last days.

    Sync ``d`` writes, for every entity, the days from ``d - LOOKBACK`` through ``d``, with
    counts that change from one sync to the next (late corrections), in writes of ``BATCH``
    units, as the engine batches them.
    """
    for today in range(days):
        start = _day(max(0, today - LOOKBACK))
        units = []
        for e in range(ENTITIES):
            name = f"e{e:02d}"
            rows = [
                {
                    "entity_id": name,
                    "period_start": _day(d),
                    "scope": "user",
                    "count": e * 1000 + d * 10 + today,
                    "fetched_at": FETCHED,
                }
                for d in range(max(0, today - LOOKBACK), today + 1)
            ]
            units.append(unit(name, rows, period=(start, _day(today + 1))))
        for i in range(0, len(units), BATCH):
            yield units[i : i + BATCH]


def _truth(days: int) -> list[dict[str, Any]]:
    """The rows after ``days`` syncs: each day as last fetched (by the sync of day + LOOKBACK)."""
    last = days - 1
    return sorted_rows(
        [
            {
                "entity_id": f"e{e:02d}",
                "period_start": _day(d),
                "scope": "user",
                "count": e * 1000 + d * 10 + min(d + LOOKBACK, last),
                "fetched_at": FETCHED,
            }
            for e in range(ENTITIES)
            for d in range(days)
        ]
    )


def _part_counts(folder: Path) -> dict[str, int]:
    months = (folder / "events").glob("month=*")
    return {m.name: len(list(m.glob("part-*.parquet"))) for m in months}


async def test_parts_stay_bounded_over_many_daily_syncs(tmp_path: Path) -> None:
    """Over 40 daily syncs months keep at most max_parts settled parts (plus those the sync
    is rewriting); without compaction they pile up."""
    days = 40
    compacted = ParquetFolderDestination(tmp_path / "compacted", max_parts=6, part_rows=400)
    piled = ParquetFolderDestination(tmp_path / "piled", max_parts=None)
    await compacted.open([EVENTS])
    await piled.open([EVENTS])
    try:
        run = await compacted.begin_run(started_at=FETCHED, api_version="v2", job={})
        await piled.begin_run(started_at=FETCHED, api_version="v2", job={})
        most = 0
        for writes in _daily_syncs(days):
            await compacted.write(run, writes)
            await piled.write(run, writes)
            most = max(most, *_part_counts(tmp_path / "compacted").values())
        assert most <= 6 + IN_FLIGHT
        assert max(_part_counts(tmp_path / "piled").values()) > 3 * (6 + IN_FLIGHT)
        expected = _truth(days)
        assert await rows_of(compacted, "events") == expected
        assert await rows_of(piled, "events") == expected
        index = compacted._writer().execute("SELECT count(*), sum(rows) FROM _parts").fetchone()
        assert index == (sum(_part_counts(tmp_path / "compacted").values()), len(expected))
    finally:
        await compacted.close()
        await piled.close()


async def test_a_first_sync_of_many_writes_keeps_few_parts(tmp_path: Path) -> None:
    """Writes of new entities only (a first sync) merge their parts: each month stays bounded."""
    dest = ParquetFolderDestination(tmp_path / "ds", max_parts=4)
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=FETCHED, api_version="v2", job={})
        expected = []
        for pair in range(30):
            writes = []
            for name in (f"n{pair:02d}a", f"n{pair:02d}b"):
                rows = event_rows(name, NOV, 45, pair)  # November and half of December
                expected += rows
                writes.append(unit(name, rows))
            await dest.write(run, writes)
            assert max(_part_counts(tmp_path / "ds").values()) <= 4
        assert set(_part_counts(tmp_path / "ds")) == {"month=2026-11", "month=2026-12"}
        assert await rows_of(dest, "events") == sorted_rows(expected)
    finally:
        await dest.close()


async def test_compaction_keeps_the_rows_outside_readers_see(tmp_path: Path) -> None:
    """pyarrow reads the same rows from a compacted month as from one never compacted."""
    ds = pytest.importorskip("pyarrow.dataset")
    tables = {}
    for name, max_parts in (("compacted", 2), ("piled", None)):
        dest = ParquetFolderDestination(tmp_path / name, max_parts=max_parts)
        await dest.open([EVENTS])
        try:
            run = await dest.begin_run(started_at=FETCHED, api_version="v2", job={})
            for writes in _daily_syncs(12):
                await dest.write(run, writes)
        finally:
            await dest.close()
        table = ds.dataset(tmp_path / name / "events", partitioning="hive").to_table()
        tables[name] = table.sort_by([("entity_id", "ascending"), ("period_start", "ascending")])
    assert len(_part_counts(tmp_path / "compacted")) == 1
    assert max(_part_counts(tmp_path / "compacted").values()) <= 2 + IN_FLIGHT
    assert tables["compacted"].num_rows == ENTITIES * 12
    assert tables["compacted"].equals(tables["piled"])


async def test_merged_parts_hold_short_ranges_of_days(tmp_path: Path) -> None:
    """Merged rows are sorted by period, so a write of the last days leaves older parts alone."""
    dest = ParquetFolderDestination(tmp_path / "ds", max_parts=2, part_rows=48)
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=FETCHED, api_version="v2", job={})
        for writes in _daily_syncs(10):
            await dest.write(run, writes)
        month = tmp_path / "ds" / "events" / "month=2026-11"
        before = {p.name: p.stat().st_ino for p in month.glob("part-*.parquet")}
        ranges = dest._writer().execute("SELECT part, rows, last FROM _parts").fetchall()
        # Large merged parts (compaction leaves them alone) that end before the replaced days.
        old = {
            f"part-{part}.parquet"
            for part, rows, last in ranges
            if rows >= 24 and last < _day(6).isoformat()
        }
        assert old
        rows = [{**r, "count": -1} for r in _truth(10) if r["entity_id"] == "e00"]
        late = [r for r in rows if r["period_start"] >= _day(6)]
        await dest.write(run, [unit("e00", late, period=(_day(6), _day(10)))])
        after = {p.name: p.stat().st_ino for p in month.glob("part-*.parquet")}
        assert {n: after.get(n) for n in old} == {n: before[n] for n in old}
        expected = [r for r in _truth(10) if r["entity_id"] != "e00" or r["period_start"] < _day(6)]
        assert await rows_of(dest, "events") == sorted_rows(expected + late)
    finally:
        await dest.close()


# -- SIGKILL during compaction ----------------------------------------------------------------

KILL_DAYS = 8


class _Announcing(ParquetFolderDestination):
    """Says "compacting" before each write that merges parts, so a test can kill it then."""

    def _compact(self, table: Any, change: Any, existing: Any, next_part: int, at: Any) -> Any:
        result = super()._compact(table, change, existing, next_part, at)
        if result is not change:
            print("compacting", flush=True)
        return result


async def _writer(target: str) -> None:
    """Run the daily syncs not yet done (by the units' state), compacting whenever it can."""
    dest = _Announcing(target, max_parts=2, part_rows=40)
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=FETCHED, api_version="v2", job={})
        done = {key: state.fetched_at for key, state in (await dest.units("events")).items()}
        for number, writes in enumerate(_daily_syncs(KILL_DAYS)):
            # A write is done when its units are recorded; the sync number tells it apart from
            # an earlier sync's unit of the same key.
            marked = [w for w in writes if done.get(w.unit) != _marker(number)]
            if not marked:
                continue
            stamped = [
                UnitWrite(w.stream, w.unit, w.match, w.period, w.rows, w.complete, _marker(number))
                for w in writes
            ]
            await dest.write(run, stamped)
        await dest.finish_run(run, status="succeeded", finished_at=FETCHED, summary={})
    finally:
        await dest.close()


def _marker(write: int) -> datetime:
    return FETCHED + timedelta(seconds=write)


def _helper(target: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.test_parquet_compaction", str(target)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_sigkill_during_compaction_then_rerun_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    """Writers killed just after deciding to compact, then run to the end, equal one run."""
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    with _helper(reference) as whole:
        whole.communicate()
    assert whole.returncode == 0

    rng = random.Random(os.getpid())
    kills = 0
    for _ in range(6):
        with _helper(killed) as writer:
            assert writer.stdout is not None
            for _ in range(rng.randrange(1, 4)):
                if writer.stdout.readline() != "compacting\n":
                    break
            # Within the compacting write: staging its month, committing, or swapping it in.
            await anyio.sleep(rng.random() * 0.03)
            writer.send_signal(signal.SIGKILL)
            writer.communicate()
        kills += writer.returncode == -signal.SIGKILL
    with _helper(killed) as finish:
        finish.communicate()
    assert finish.returncode == 0
    assert kills >= 3

    ref = ParquetFolderDestination(reference)
    got = ParquetFolderDestination(killed)
    await ref.open([EVENTS], lock=False)
    await got.open([EVENTS], lock=False)
    try:
        expected = await rows_of(ref, "events")
        assert expected == _truth(KILL_DAYS)
        assert await rows_of(got, "events") == expected
        # Every write is the same whether or not a kill interrupted it: so are the parts.
        query = "SELECT month, part, rows, first, last FROM _parts ORDER BY month, part"
        assert got._live().execute(query).fetchall() == ref._live().execute(query).fetchall()
        assert _part_counts(killed) == _part_counts(reference)
        assert not (killed / "_staging").exists()
    finally:
        await ref.close()
        await got.close()


if __name__ == "__main__":
    anyio.run(_writer, sys.argv[1])
