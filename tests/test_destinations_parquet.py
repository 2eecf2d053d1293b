"""The Parquet folder destination's own promises: layout, outside readers, crash recovery."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from tabnine_usage_async.destinations import (
    DestinationError,
    DestinationVersionError,
    ParquetFolderDestination,
    _parquet,
    open_destination,
)

from .destination_contract import (
    DEC,
    EVENTS,
    NOV,
    PEOPLE,
    event_rows,
    people_unit,
    rows_of,
    sorted_rows,
    unit,
)

pa = pytest.importorskip("pyarrow")
ds = pytest.importorskip("pyarrow.dataset")


async def _filled(folder: Path) -> ParquetFolderDestination:
    """An open destination holding 61 days of "a", 3 days of "b" and two people."""
    dest = ParquetFolderDestination(folder)
    await dest.open([EVENTS, PEOPLE])
    run = await dest.begin_run(started_at=NOV, api_version="v2", job={})
    await dest.write(
        run,
        [
            unit("a", event_rows("a", NOV, 61, 1)),
            unit("b", event_rows("b", DEC, 3, 2)),
            people_unit([{"id": "p1", "teams": ["t"]}, {"id": "p2"}]),
        ],
    )
    return dest


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("form", ["existing", "slash", "plain"])
def test_folder_targets_open_a_parquet_folder(form: str, tmp_path: Path) -> None:
    """An existing folder, a path ending in a slash, or a path without suffix is a folder."""
    target = {"existing": str(tmp_path), "slash": f"{tmp_path}/new.d/", "plain": "out/data"}
    assert isinstance(open_destination(target[form]), ParquetFolderDestination)


async def test_layout_is_hive_partitioned_by_month(tmp_path: Path) -> None:
    """Months get a file each, snapshots one, state a hidden name; no lock file is left."""
    dest = await _filled(tmp_path / "ds")
    await dest.close()
    assert _files(tmp_path / "ds") == [
        "_state.sqlite",
        "events/month=2026-11/part-0.parquet",
        "events/month=2026-12/part-0.parquet",
        "people/part-0.parquet",
    ]


async def test_pyarrow_reads_the_folder_as_one_dataset(tmp_path: Path) -> None:
    """pyarrow.dataset reads a stream with its month partition and the documented types."""
    dest = await _filled(tmp_path / "ds")
    await dest.close()
    table = ds.dataset(tmp_path / "ds" / "events", partitioning="hive").to_table()
    assert table.num_rows == 64
    assert table.schema.field("period_start").type == pa.timestamp("us", tz="UTC")
    months = table.group_by("month").aggregate([([], "count_all")]).to_pylist()
    assert sorted((m["month"], m["count_all"]) for m in months) == [
        ("2026-11", 30),
        ("2026-12", 34),
    ]
    people = ds.dataset(tmp_path / "ds" / "people").to_table()
    assert people.schema.field("teams").type == pa.list_(pa.string())


async def test_duckdb_reads_the_folder_with_hive_partitioning(tmp_path: Path) -> None:
    """DuckDB's read_parquet with hive_partitioning sees every row and the month column."""
    duckdb = pytest.importorskip("duckdb")
    dest = await _filled(tmp_path / "ds")
    await dest.close()
    pattern = str(tmp_path / "ds" / "events" / "**" / "*.parquet")
    conn = duckdb.connect()
    try:
        rows = conn.execute(
            "SELECT month, count(*), sum(count) FROM read_parquet(?, hive_partitioning = true) "
            "GROUP BY month ORDER BY month",
            [pattern],
        ).fetchall()
    finally:
        conn.close()
    assert [r[:2] for r in rows] == [("2026-11", 30), ("2026-12", 34)]
    assert sum(r[2] for r in rows) == 30 + 31 + 3 * 2


async def test_untouched_partitions_are_not_rewritten(tmp_path: Path) -> None:
    """A unit of November leaves December's file as it was (same inode, same bytes)."""
    dest = await _filled(tmp_path / "ds")
    try:
        december = tmp_path / "ds" / "events" / "month=2026-12" / "part-0.parquet"
        before = (december.stat().st_ino, december.read_bytes())
        await dest.write(1, [unit("c", event_rows("c", NOV, 5, 9), period=(NOV, DEC))])
        assert (december.stat().st_ino, december.read_bytes()) == before
        assert len(await rows_of(dest, "events")) == 61 + 3 + 5
    finally:
        await dest.close()


async def test_emptied_partition_disappears(tmp_path: Path) -> None:
    """A partition whose every row is replaced by nothing is removed with its folder."""
    dest = await _filled(tmp_path / "ds")
    try:
        await dest.write(1, [unit("a", []), unit("b", [])])
        assert not (tmp_path / "ds" / "events").exists() or _files(tmp_path / "ds" / "events") == []
        assert await rows_of(dest, "events") == []
    finally:
        await dest.close()


async def test_journal_left_by_a_crash_is_applied_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files committed in the journal but not yet renamed are put in place by the next open."""
    dest = await _filled(tmp_path / "ds")
    real_apply = ParquetFolderDestination._apply_journal

    def crash(self: ParquetFolderDestination, conn: sqlite3.Connection) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(ParquetFolderDestination, "_apply_journal", crash)
    newer = event_rows("a", NOV, 2, 7)
    with pytest.raises(OSError, match="disk went away"):
        await dest.write(1, [unit("a", newer)])
    assert any(p.name.endswith(".parquet.tmp") for p in (tmp_path / "ds").rglob("*"))
    with pytest.raises(DestinationError, match="reopen"):
        await dest.write(1, [unit("b", [])])
    await dest.close()
    monkeypatch.setattr(ParquetFolderDestination, "_apply_journal", real_apply)

    again = ParquetFolderDestination(tmp_path / "ds")
    await again.open([EVENTS, PEOPLE])
    try:
        expected = newer + event_rows("b", DEC, 3, 2)
        assert await rows_of(again, "events") == sorted_rows(expected)
        assert (await again.units("events"))[unit("a", []).unit].rows == 2
        assert not any(p.name.endswith(".tmp") for p in (tmp_path / "ds").rglob("*"))
    finally:
        await again.close()


async def test_leftover_temporary_files_are_removed_on_open(tmp_path: Path) -> None:
    """Hidden temporaries of a run killed before its commit are deleted; rows are unchanged."""
    dest = await _filled(tmp_path / "ds")
    expected = await rows_of(dest, "events")
    await dest.close()
    stray = tmp_path / "ds" / "events" / "month=2026-11" / ".part-dead.parquet.tmp"
    stray.write_bytes(b"half a parquet file")
    again = ParquetFolderDestination(tmp_path / "ds")
    await again.open([EVENTS, PEOPLE])
    try:
        assert not stray.exists()
        assert await rows_of(again, "events") == expected
    finally:
        await again.close()


async def test_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    """A non-empty folder that is not a dataset is refused and left alone; an empty one is used."""
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"meow")
    with pytest.raises(DestinationVersionError, match="not a dataset"):
        await ParquetFolderDestination(tmp_path / "photos").open([EVENTS])
    assert _files(tmp_path / "photos") == ["cat.jpg"]
    (tmp_path / "empty").mkdir()
    dest = ParquetFolderDestination(tmp_path / "empty")
    await dest.open([EVENTS])
    await dest.close()


def test_missing_pyarrow_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pyarrow, a folder destination says which extra to install."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(DestinationError) as caught:
        open_destination("some/folder/")
    assert str(caught.value) == _parquet.PARQUET_MISSING
    assert "pip install" in str(caught.value)
