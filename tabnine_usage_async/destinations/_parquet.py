"""A dataset in a folder of Parquet files (needs pyarrow), one hive-partitioned table per stream.

::

    <folder>/usage/month=2026-11/part-0.parquet    incremental streams: parts per month
    <folder>/usage/month=2026-11/part-7.parquet
    <folder>/users/part-0.parquet                  snapshot streams: one file
    <folder>/_state.sqlite                         units' state, run ledger, part index, journal
    <folder>/_state.sqlite.lock                    the one-run lock
    <folder>/_staging/                             month folders being prepared (transient)

Readers of the dataset (pyarrow.dataset, DuckDB, Spark) skip names starting with ``_`` or ``.``.

A month of an incremental stream holds several immutable part files. A write adds one new part
per month it writes rows to, and rewrites (under a new name, without the replaced rows) only the
parts that hold rows of a unit it replaces, so its cost follows the rows written and replaced,
not the size of the month. ``_state.sqlite`` indexes the parts: each part's row count, the range
of its period column, and the distinct values of every column units match on (``entity_id``...).
A unit's old rows can only be in the parts whose index admits its match values and period; only
those are read, and only those that really hold such rows are rewritten. A key appearing twice is
refused among the written rows and the rows of those parts (all a row can collide with when its
unit matches on columns of the key), not across the whole month.

Compaction keeps the parts of a month few: a write that would leave a month with more than
``max_parts`` parts (16 by default) also merges the month's small parts that hold only days
before those it replaces into parts of at most ``part_rows`` rows sorted by period, in the same
staged month (see ``_compact`` for the policy). It changes which files hold the rows, never the
rows, and is as crash-safe as any other write.

Exactly once across SIGKILL: a write prepares each changed month as a complete new folder under
``_staging/`` (hard links to its unchanged parts, its new and rewritten parts, all fsynced). Then
ONE state transaction records the units as done, the new part index, and a journal of the month
swaps; then each staged folder is swapped with the month's folder in one atomic step
(``renameat2(RENAME_EXCHANGE)`` on Linux, so readers list the old month or the new one, never a
doubled or half-replaced one; elsewhere two renames, during which the month is briefly absent but
never doubled), and the journal is cleared. A run killed before the commit leaves only
``_staging/``, deleted on the next open; one killed after it has its journal re-applied on the next
open (whether a part the swap adds or removes is in place tells a swap already done). Part names
are never reused within a month, so a reader that listed a month just before a swap gets a missing
file, never another file's rows.

Column types: ``timestamp[us, tz=UTC]``, ``date32``, ``int64``, ``double``, ``bool``, ``string``,
``list<string>`` for ``text_list`` and JSON text in a ``string`` for ``json``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio.to_thread
import attrs

from ._base import (
    Column,
    ColumnType,
    DestinationError,
    DestinationVersionError,
    TableSchema,
    UnitWrite,
    selected_columns,
)
from ._compact import chunk_sizes, parts_to_merge
from ._folder import exchange, fsync_dir, link_or_copy
from ._state import StateDestination, record_units, register_stream, registered_schemas
from ._values import dump_json, month_of, months_between, normalizer, row_normalizer

__all__ = ["MAX_PARTS", "PARQUET_MISSING", "PART_ROWS", "STATE_FILE", "ParquetFolderDestination"]

#: The message when pyarrow is not installed.
PARQUET_MISSING = (
    "Parquet folder destinations need pyarrow: pip install 'tabnine-usage-async[parquet]'"
)

#: The state file inside the folder.
STATE_FILE = "_state.sqlite"
#: Parts a month may hold before a write that touches it merges its settled small parts.
#: Opening a part file costs about a millisecond whatever its size; 16 keeps that small beside
#: decoding the rows, and a daily sync (a few parts per run) compacts once every few runs.
MAX_PARTS = 16
#: Rows of a part a compaction writes at most; parts of half as many or more are not merged.
PART_ROWS = 100_000
_STAGING = "_staging"
_PART = "part-0.parquet"
_TEMP_PREFIX = ".part-"
_TEMP_SUFFIX = ".parquet.tmp"
_TABLES = """
CREATE TABLE IF NOT EXISTS _journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    temp TEXT,
    final TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _month_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stage TEXT,
    month TEXT NOT NULL,
    token TEXT NOT NULL,
    probe TEXT NOT NULL,
    present INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS _parts (
    stream TEXT NOT NULL,
    month TEXT NOT NULL,
    part INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    first TEXT,
    last TEXT,
    columns TEXT NOT NULL,
    PRIMARY KEY (stream, month, part)
);
CREATE TABLE IF NOT EXISTS _part_values (
    stream TEXT NOT NULL,
    col TEXT NOT NULL,
    value TEXT NOT NULL,
    month TEXT NOT NULL,
    part INTEGER NOT NULL,
    PRIMARY KEY (stream, col, value, month, part)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _part_values_by_part ON _part_values (stream, month, part);
CREATE TABLE IF NOT EXISTS _part_next (
    stream TEXT NOT NULL,
    month TEXT NOT NULL,
    next INTEGER NOT NULL,
    PRIMARY KEY (stream, month)
);
CREATE TABLE IF NOT EXISTS _part_columns (
    stream TEXT NOT NULL,
    col TEXT NOT NULL,
    PRIMARY KEY (stream, col)
)
"""
#: Rows per batch yielded by ``read``.
READ_BATCH = 10_000
#: How often ``read`` lists a month again when a sync swapped it while it was being read.
_READ_ATTEMPTS = 5


def _pyarrow() -> tuple[Any, Any, Any]:
    """``(pyarrow, pyarrow.compute, pyarrow.parquet)``, imported only when a folder is used."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError:
        raise DestinationError(PARQUET_MISSING) from None
    return pyarrow, pyarrow.compute, pyarrow.parquet


def _arrow_type(pa: Any, column_type: ColumnType) -> Any:
    return {
        "text": pa.string(),
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "json": pa.string(),
        "text_list": pa.list_(pa.string()),
    }[column_type]


def arrow_schema(table: TableSchema) -> Any:
    """The ``pyarrow.Schema`` of a stream's files."""
    pa, _, _ = _pyarrow()
    return pa.schema([pa.field(c.name, _arrow_type(pa, c.type)) for c in table.columns])


#: Units are many and their match columns few: build each column's checker once.
_normalizer = functools.lru_cache(maxsize=256)(normalizer)

#: Rows repeat the same few period starts: find each one's month once.
_month_of = functools.lru_cache(maxsize=65536)(month_of)


def _index_key(value: Any) -> str:
    """The text the part index stores for a normalized value (equal exactly when values are)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return repr(value)


def _part_name(part: int) -> str:
    return f"part-{part}.parquet"


def _part_number(path: Path) -> int | None:
    stem = path.name.removeprefix("part-").removesuffix(".parquet")
    return int(stem) if stem.isdigit() and path.name.startswith("part-") else None


@attrs.frozen
class _Part:
    """What the index knows of one part file: enough to tell which units may have rows in it."""

    month: str
    part: int
    rows: int
    first: datetime | None
    last: datetime | None
    columns: frozenset[str]

    def may_overlap(self, period: tuple[datetime, datetime] | None) -> bool:
        if period is None or self.first is None or self.last is None:
            return True
        return self.first < period[1] and self.last >= period[0]


@attrs.define
class _MonthChange:
    """One month's new set of parts, staged in a folder of its own until the swap."""

    month: str
    removed: list[int]
    added: list[tuple[int, Any]]
    kept: list[int]


class ParquetFolderDestination(StateDestination):
    """A dataset in a folder of Parquet files; see the module docstring."""

    def __init__(
        self,
        folder: Path | str,
        *,
        max_parts: int | None = MAX_PARTS,
        part_rows: int = PART_ROWS,
    ) -> None:
        """A dataset in ``folder``.

        ``max_parts`` bounds the part files of a month (``None``: parts are never merged);
        ``part_rows`` bounds the rows of a part that compaction writes.
        """
        _pyarrow()
        if max_parts is not None and (isinstance(max_parts, bool) or max_parts < 1):
            raise DestinationError(f"max_parts must be a whole number of 1 or more: {max_parts!r}")
        if isinstance(part_rows, bool) or part_rows < 2:
            raise DestinationError(f"part_rows must be a whole number of 2 or more: {part_rows!r}")
        folder = Path(folder)
        super().__init__(folder / STATE_FILE, folder / (STATE_FILE + ".lock"), str(folder))
        self.folder = folder
        self.max_parts = max_parts
        self.part_rows = part_rows
        self._broken: str | None = None

    # -- layout ---------------------------------------------------------------------------

    def _snapshot_file(self, table: TableSchema) -> Path:
        return self.folder / table.name / _PART

    def _month_dir(self, stream: str, month: str) -> Path:
        return self.folder / stream / f"month={month}"

    def _month_parts(self, folder: Path) -> list[Path]:
        found = [p for p in folder.glob("part-*.parquet") if _part_number(p) is not None]
        return sorted(found, key=lambda p: _part_number(p) or 0)

    def _month_dirs(self, stream: str) -> list[Path]:
        return sorted(p for p in (self.folder / stream).glob("month=*") if p.is_dir())

    def _partition_files(self, stream: str) -> list[Path]:
        found = [f for d in self._month_dirs(stream) for f in self._month_parts(d)]
        if (self.folder / stream / _PART).exists():
            found.append(self.folder / stream / _PART)
        return found

    # -- opening --------------------------------------------------------------------------

    def _exists(self) -> bool:
        return self.folder.is_dir() and self._state_path.exists()

    def _prepare(self, conn: sqlite3.Connection, tables: Sequence[TableSchema]) -> None:
        conn.executescript(_TABLES)
        self._apply_journal(conn)
        self._remove_temporaries()
        stored = registered_schemas(conn)
        for table in tables:
            old = stored.get(table.name)
            if old is not None and set(table.column_names) - set(old.column_names):
                # A newer stream version added columns: rewrite its files with them (empty), in
                # place: the rows and so the part index stay the same.
                files = self._partition_files(table.name)
                self._commit(conn, [(f, self._load(f, table)) for f in files], [], 0, [])
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in tables:
                register_stream(conn, table)
                if table.period_column is not None:
                    self._index_unknown_parts(conn, table)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _index_unknown_parts(self, conn: sqlite3.Connection, table: TableSchema) -> None:
        """Index part files the state does not know (a folder of an earlier layout)."""
        known = {
            (month, part)
            for month, part in conn.execute(
                "SELECT month, part FROM _parts WHERE stream = ?", (table.name,)
            )
        }
        on_disk = set()
        columns = self._index_columns(conn, table.name)
        for folder in self._month_dirs(table.name):
            month = folder.name.removeprefix("month=")
            for path in self._month_parts(folder):
                number = _part_number(path)
                assert number is not None
                on_disk.add((month, number))
                if (month, number) not in known:
                    self._insert_part(conn, table, month, number, self._load(path, table), columns)
        for month, part in known - on_disk:
            self._delete_part(conn, table.name, month, part)

    def _open_locked(self, tables: Sequence[TableSchema]) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise DestinationError(f"{self._display} is a file, not a folder")
        if self.folder.is_dir() and not self._state_path.exists():
            others = [p.name for p in self.folder.iterdir() if p.name != self._lock_path.name]
            if others:
                raise DestinationVersionError(
                    f"{self._display} is not a dataset of tabnine-usage-async (it holds other "
                    f"files and no {STATE_FILE}); choose a new or empty folder"
                )
        super()._open_locked(tables)

    def _remove_temporaries(self) -> None:
        # With the lock held and the journal applied, no temporary file is wanted any more.
        shutil.rmtree(self.folder / _STAGING, ignore_errors=True)
        for path in self.folder.glob(f"*/**/{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            path.unlink(missing_ok=True)
        for path in self.folder.glob(f"*/{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            path.unlink(missing_ok=True)

    def _apply_journal(self, conn: sqlite3.Connection) -> None:
        """Finish the file replacements and month swaps a committed write recorded."""
        entries = conn.execute("SELECT temp, final FROM _journal ORDER BY seq").fetchall()
        touched: set[Path] = set()
        for temp, final in entries:
            final_path = self.folder / final
            if temp is None:
                final_path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # not empty, or already gone
                    final_path.parent.rmdir()
            elif (self.folder / temp).exists():
                os.replace(self.folder / temp, final_path)
            # else: applied before the previous run died
            touched.add(final_path.parent.parent if temp is None else final_path.parent)
        swaps = conn.execute(
            "SELECT stage, month, token, probe, present FROM _month_journal ORDER BY seq"
        )
        months = swaps.fetchall()
        for stage, month, token, probe, present in months:
            live = self.folder / month
            staging = self.folder / _STAGING
            if stage is None:
                if live.exists():
                    staging.mkdir(exist_ok=True)
                    os.rename(live, staging / f"{token}.old")
            elif (live / probe).exists() != bool(present):
                # Not swapped yet: the probe is a part only the new month has (or only the old).
                staged = self.folder / stage
                if staged.exists():  # else: swapped before the previous run died
                    if live.exists():
                        exchange(staged, live)
                    else:
                        live.parent.mkdir(parents=True, exist_ok=True)
                        os.rename(staged, live)
            touched.add(live.parent)
        for folder in touched:
            if folder.exists():
                fsync_dir(folder)
        if entries:
            conn.execute("DELETE FROM _journal")
        if months:
            conn.execute("DELETE FROM _month_journal")

    # -- the part index -------------------------------------------------------------------

    def _index_columns(self, conn: sqlite3.Connection, stream: str) -> frozenset[str]:
        rows = conn.execute("SELECT col FROM _part_columns WHERE stream = ?", (stream,))
        return frozenset(col for (col,) in rows)

    def _parts(self, conn: sqlite3.Connection, stream: str) -> dict[str, dict[int, _Part]]:
        found: dict[str, dict[int, _Part]] = defaultdict(dict)
        rows = conn.execute(
            "SELECT month, part, rows, first, last, columns FROM _parts WHERE stream = ?",
            (stream,),
        )
        for month, part, count, first, last, columns in rows:
            found[month][part] = _Part(
                month,
                part,
                count,
                datetime.fromisoformat(first) if first else None,
                datetime.fromisoformat(last) if last else None,
                frozenset(json.loads(columns)),
            )
        return found

    def _insert_part(
        self,
        conn: sqlite3.Connection,
        table: TableSchema,
        month: str,
        part: int,
        rows: Any,
        columns: Iterable[str],
    ) -> None:
        _, pc, _ = _pyarrow()
        first = last = None
        if table.period_column is not None and rows.num_rows:
            bounds = pc.min_max(rows.column(table.period_column)).as_py()
            if bounds["min"] is not None:
                first = bounds["min"].astimezone(timezone.utc).isoformat()
                last = bounds["max"].astimezone(timezone.utc).isoformat()
        indexed = sorted(columns)
        conn.execute(
            "INSERT INTO _parts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (table.name, month, part, rows.num_rows, first, last, dump_json(indexed)),
        )
        conn.executemany(
            "INSERT INTO _part_values VALUES (?, ?, ?, ?, ?)",
            [
                (table.name, col, _index_key(value), month, part)
                for col in indexed
                for value in pc.unique(rows.column(col)).to_pylist()
            ],
        )

    def _delete_part(self, conn: sqlite3.Connection, stream: str, month: str, part: int) -> None:
        key = (stream, month, part)
        conn.execute("DELETE FROM _parts WHERE stream = ? AND month = ? AND part = ?", key)
        conn.execute("DELETE FROM _part_values WHERE stream = ? AND month = ? AND part = ?", key)

    def _candidates(
        self,
        conn: sqlite3.Connection,
        table: TableSchema,
        parts: dict[str, dict[int, _Part]],
        units: Sequence[UnitWrite],
    ) -> dict[str, set[int]]:
        """The parts, by month, that may hold rows of ``units`` (a superset; never fewer)."""
        types = {c.name: c for c in table.columns}
        hits: dict[tuple[str, str], set[tuple[str, int]]] = {}
        # Parts indexed before a column was first matched on may hold any value of it.
        unindexed: dict[str, set[tuple[str, int]]] = {}
        found: dict[str, set[int]] = defaultdict(set)
        for w in units:
            months = list(parts) if w.period is None else months_between(*w.period)
            months = [m for m in months if m in parts]
            if not months:
                continue
            possible: set[tuple[str, int]] | None = None
            for col, raw in w.match.items():
                key = _index_key(_normalizer(types[col], table.name)(raw))
                if (col, key) not in hits:
                    hits[(col, key)] = set(
                        conn.execute(
                            "SELECT month, part FROM _part_values"
                            " WHERE stream = ? AND col = ? AND value = ?",
                            (table.name, col, key),
                        )
                    )
                if col not in unindexed:
                    unindexed[col] = {
                        (m, p.part)
                        for m, numbered in parts.items()
                        for p in numbered.values()
                        if col not in p.columns
                    }
                admitted = hits[(col, key)] | unindexed[col]
                possible = admitted if possible is None else possible & admitted
            if possible is None:
                possible = {(m, n) for m in months for n in parts[m]}
            wanted = set(months)
            for month, number in possible:
                part = parts[month].get(number) if month in wanted else None
                if part is not None and part.may_overlap(w.period):
                    found[month].add(number)
        return found

    # -- reading and writing files --------------------------------------------------------

    def _load(self, path: Path, table: TableSchema, columns: Sequence[Column] | None = None) -> Any:
        """The rows of a part file as a table of exactly ``columns`` (default: ``table``'s).

        Only those columns are read from the file (Parquet stores each column on its own); one
        the file lacks (added by a newer stream version) comes back as nulls.
        """
        pa, _, pq = _pyarrow()
        wanted = table.columns if columns is None else columns
        schema = pa.schema([pa.field(c.name, _arrow_type(pa, c.type)) for c in wanted])
        with pq.ParquetFile(path) as file:
            stored = set(file.schema_arrow.names)
            found = file.read(columns=[c.name for c in wanted if c.name in stored])
        arrays = []
        for field in schema:
            if field.name in stored:
                column = found.column(field.name)
                arrays.append(column if column.type == field.type else column.cast(field.type))
            else:
                arrays.append(pa.nulls(found.num_rows, field.type))
        return pa.Table.from_arrays(arrays, schema=schema)

    def _write_file(self, rows: Any, path: Path) -> None:
        _, _, pq = _pyarrow()
        pq.write_table(rows, path)
        with open(path, "rb") as written:
            os.fsync(written.fileno())

    def _stage(self, stream: str, change: _MonthChange, token: str) -> str | None:
        """Build the month's new folder under ``_staging``; its relative path, or ``None``."""
        if not change.kept and not change.added:
            return None
        staging = self.folder / _STAGING
        staged = staging / token
        staged.mkdir(parents=True)
        live = self._month_dir(stream, change.month)
        for part in change.kept:
            link_or_copy(live / _part_name(part), staged / _part_name(part))
        for part, rows in change.added:
            self._write_file(rows, staged / _part_name(part))
        fsync_dir(staged)
        fsync_dir(staging)
        return staged.relative_to(self.folder).as_posix()

    def _commit(
        self,
        conn: sqlite3.Connection,
        files: Sequence[tuple[Path, Any]],
        months: Sequence[tuple[TableSchema, _MonthChange]],
        run_id: int,
        writes: Sequence[UnitWrite],
    ) -> None:
        """Stage the new files, commit journal, part index and state together, then apply."""
        journal: list[tuple[str | None, str]] = []
        swaps: list[tuple[str | None, str, str, str, bool]] = []
        temps: list[Path] = []
        try:
            for final, rows in files:
                relative = final.relative_to(self.folder).as_posix()
                if rows is None or rows.num_rows == 0:
                    if final.exists():
                        journal.append((None, relative))
                    continue
                final.parent.mkdir(parents=True, exist_ok=True)
                temp = final.with_name(f"{_TEMP_PREFIX}{uuid.uuid4().hex}{_TEMP_SUFFIX}")
                temps.append(temp)
                self._write_file(rows, temp)
                journal.append((temp.relative_to(self.folder).as_posix(), relative))
            for table, change in months:
                token = uuid.uuid4().hex
                stage = self._stage(table.name, change, token)
                month = self._month_dir(table.name, change.month).relative_to(self.folder)
                # Part numbers only grow within a month: a new part's name was never in it, and
                # a removed part's name will not come back, so either tells a finished swap.
                probe = change.added[0][0] if change.added else change.removed[0]
                probe_name = _part_name(probe)
                swaps.append((stage, month.as_posix(), token, probe_name, bool(change.added)))
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT INTO _journal (temp, final) VALUES (?, ?)", journal)
                conn.executemany(
                    "INSERT INTO _month_journal (stage, month, token, probe, present)"
                    " VALUES (?, ?, ?, ?, ?)",
                    swaps,
                )
                self._record_parts(conn, months, writes)
                record_units(conn, run_id, writes)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            for temp in temps:
                temp.unlink(missing_ok=True)
            shutil.rmtree(self.folder / _STAGING, ignore_errors=True)
            raise
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._apply_journal(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            # The journal is committed: the next open finishes applying it.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._broken = f"{self._display}: could not apply written files ({exc}); reopen it"
            raise
        shutil.rmtree(self.folder / _STAGING, ignore_errors=True)

    def _record_parts(
        self,
        conn: sqlite3.Connection,
        months: Sequence[tuple[TableSchema, _MonthChange]],
        writes: Sequence[UnitWrite],
    ) -> None:
        """Update the part index for ``months`` (inside the caller's transaction)."""
        matched: dict[str, set[str]] = defaultdict(set)
        for w in writes:
            matched[w.stream].update(w.match)
        for stream, names in matched.items():
            conn.executemany(
                "INSERT OR IGNORE INTO _part_columns VALUES (?, ?)",
                [(stream, name) for name in names],
            )
        for table, change in months:
            columns = self._index_columns(conn, table.name)
            for part in change.removed:
                self._delete_part(conn, table.name, change.month, part)
            for part, rows in change.added:
                self._insert_part(conn, table, change.month, part, rows, columns)
            if change.added:
                conn.execute(
                    "INSERT OR REPLACE INTO _part_next VALUES (?, ?, ?)",
                    (table.name, change.month, max(n for n, _ in change.added) + 1),
                )

    async def write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        """Replace each unit's rows and record each unit's state, atomically per month."""
        self._check_writes(writes)
        await self._call(self._write, run_id, writes)

    def _write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        conn = self._writer()
        if self._broken:
            raise DestinationError(self._broken)
        by_stream: dict[str, list[UnitWrite]] = defaultdict(list)
        for w in writes:
            by_stream[w.stream].append(w)
        files: list[tuple[Path, Any]] = []
        months: list[tuple[TableSchema, _MonthChange]] = []
        for stream, units in by_stream.items():
            table = self._tables[stream]
            if table.period_column is None:
                files.extend(self._rewrite_snapshot(table, units))
            else:
                months.extend((table, m) for m in self._change_months(conn, table, units))
        # One commit for every stream of the batch: the state records all units or none.
        self._commit(conn, files, months, run_id, writes)

    def _fresh(self, table: TableSchema, rows: Sequence[Sequence[Any]]) -> Any:
        pa, _, _ = _pyarrow()
        schema = arrow_schema(table)
        return pa.Table.from_arrays(
            [pa.array([r[i] for r in rows], type=field.type) for i, field in enumerate(schema)],
            schema=schema,
        )

    def _check_unique(self, table: TableSchema, tables: Sequence[Any]) -> None:
        pa, _, _ = _pyarrow()
        merged = pa.concat_tables(tables)
        groups = merged.group_by(list(table.key)).aggregate([([], "count_all")])
        if groups.num_rows != merged.num_rows:
            raise DestinationError(
                f"{self._display}: a key of {table.name} appears twice ({', '.join(table.key)})"
            )

    def _rewrite_snapshot(
        self, table: TableSchema, units: Sequence[UnitWrite]
    ) -> list[tuple[Path, Any]]:
        """The snapshot file of ``table`` with the units' rows in place of their old ones."""
        normalize = row_normalizer(table)
        fresh = self._fresh(table, [normalize(row) for w in units for row in w.rows])
        path = self._snapshot_file(table)
        if not path.exists():
            if not fresh.num_rows:
                return []
            self._check_unique(table, [fresh])
            return [(path, fresh)]
        old = self._load(path, table)
        kept = old.filter(_keep_mask(old, table, units, arrow_schema(table)))
        if fresh.num_rows:
            self._check_unique(table, [kept, fresh])
        return [(path, kept if not fresh.num_rows else _concat([kept, fresh]))]

    def _change_months(
        self, conn: sqlite3.Connection, table: TableSchema, units: Sequence[UnitWrite]
    ) -> list[_MonthChange]:
        """Each touched month of ``table``: its parts to drop, to add and to keep."""
        normalize = row_normalizer(table)
        period = table.period_column
        assert period is not None
        period_index = table.column_names.index(period)
        _, pc, _ = _pyarrow()
        by_month: dict[str, list[list[Any]]] = defaultdict(list)
        for w in units:
            for row in w.rows:
                values = normalize(row)
                if values[period_index] is None:
                    raise DestinationError(f"{table.name}.{period} cannot be empty (None)")
                by_month[_month_of(values[period_index])].append(values)
        parts = self._parts(conn, table.name)
        numbers = dict(
            conn.execute("SELECT month, next FROM _part_next WHERE stream = ?", (table.name,))
        )
        candidates = self._candidates(conn, table, parts, units)
        schema = arrow_schema(table)
        changes = []
        for month in sorted(set(by_month) | set(candidates)):
            existing = parts.get(month, {})
            folder = self._month_dir(table.name, month)
            fresh = self._fresh(table, by_month[month]) if month in by_month else None
            removed: list[int] = []
            added: list[tuple[int, Any]] = []
            checked = [] if fresh is None else [fresh]
            next_part = max(max(existing, default=-1) + 1, numbers.get(month, 0))
            inside = [w for w in units if w.period is None or month in months_between(*w.period)]
            frontier: datetime | None = None
            for number in sorted(candidates.get(month, ())):
                old = self._load(folder / _part_name(number), table)
                keep = _keep_mask(old, table, inside, schema)
                kept = old.filter(keep)
                checked.append(kept)
                if kept.num_rows == old.num_rows:
                    continue  # the index admitted it, but none of its rows is replaced
                removed.append(number)
                first = _earliest(old.column(period).filter(pc.invert(keep)))
                if first is not None and (frontier is None or first < frontier):
                    frontier = first
                if kept.num_rows:
                    added.append((next_part, kept))
                    next_part += 1
            if fresh is not None:
                self._check_unique(table, checked)
                added.append((next_part, fresh))
            if not removed and not added:
                continue
            gone = set(removed)
            kept_parts = [n for n in sorted(existing) if n not in gone]
            change = _MonthChange(month, removed, added, kept_parts)
            changes.append(self._compact(table, change, existing, next_part, frontier))
        return changes

    def _compact(
        self,
        table: TableSchema,
        change: _MonthChange,
        existing: dict[int, _Part],
        next_part: int,
        frontier: datetime | None,
    ) -> _MonthChange:
        """``change`` with the month's cold small parts merged when it leaves too many parts
        (the policy is in the ``_compact`` module); ``frontier`` is the earliest period the
        write replaces in the month, ``None`` when it replaces none."""
        period = table.period_column
        assert period is not None
        parts = [(existing[n].rows, existing[n].last) for n in change.kept]
        parts += [(t.num_rows, _latest(t.column(period))) for _, t in change.added]
        merge = set(parts_to_merge(parts, frontier, self.max_parts, self.part_rows))
        if not merge:
            return change
        folder = self._month_dir(table.name, change.month)
        merged_kept = [n for i, n in enumerate(change.kept) if i in merge]
        offset = len(change.kept)
        merged_added = [t for i, (_, t) in enumerate(change.added) if i + offset in merge]
        tables = [self._load(folder / _part_name(n), table) for n in merged_kept] + merged_added
        order = [(period, "ascending")] + [(k, "ascending") for k in table.key if k != period]
        pa, _, _ = _pyarrow()
        rows = pa.concat_tables(tables).sort_by(order)
        added = [pair for i, pair in enumerate(change.added) if i + offset not in merge]
        # Part numbers only grow: the merged parts come after every part this write adds.
        next_part = max([next_part, *(n + 1 for n, _ in change.added)])
        start = 0
        for size in chunk_sizes(rows.num_rows, self.part_rows):
            added.append((next_part, rows.slice(start, size)))
            next_part += 1
            start += size
        return _MonthChange(
            change.month,
            [*change.removed, *merged_kept],
            added,
            [n for n in change.kept if n not in set(merged_kept)],
        )

    # -- reading --------------------------------------------------------------------------

    def _read_month(self, folder: Path, table: TableSchema, columns: Sequence[Column]) -> Any:
        """Every part of one month, read as one consistent set (a month swapped meanwhile is
        listed again), or ``None`` when the month is gone."""
        for _ in range(_READ_ATTEMPTS):
            try:
                parts = self._month_parts(folder)
                return _concat([self._load(path, table, columns) for path in parts])
            except FileNotFoundError:
                continue
        raise DestinationError(f"{self._display}: {folder.name} kept changing while being read")

    def _read_tables(self, stream: str, table: TableSchema) -> list[Path]:
        return [*self._month_dirs(stream), self.folder / stream / _PART]

    #: ``read`` takes ``columns`` (see ``ColumnReader``).
    reads_columns = True

    async def read(
        self, stream: str, columns: Sequence[str] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Rows of ``stream`` in batches, values typed as they were written.

        ``columns`` limits the rows to those columns (see ``ColumnReader``): only they are read
        from the files and decoded.
        """
        table = self._tables.get(stream)
        if table is None:
            raise DestinationError(f"{self._display} has no stream {stream}")
        selected = selected_columns(table, columns, self._display)
        # With no column asked for, one is still read: it tells how many rows there are.
        loaded = selected or list(table.columns[:1])
        places = await anyio.to_thread.run_sync(self._read_tables, stream, table)
        json_columns = [c.name for c in selected if c.type == "json"]
        time_columns = [c.name for c in selected if c.type == "timestamp"]
        moments: dict[int, datetime] = {}
        for place in places:
            try:
                if place.name == _PART:
                    data = await anyio.to_thread.run_sync(self._load, place, table, loaded)
                else:
                    data = await anyio.to_thread.run_sync(self._read_month, place, table, loaded)
            except FileNotFoundError:
                continue  # the stream was emptied by a running sync since we listed it
            if data is None:
                continue
            for batch in data.to_batches(max_chunksize=READ_BATCH):
                if not selected:
                    yield [{} for _ in range(batch.num_rows)]
                    continue
                yield _decoded(batch, json_columns, time_columns, moments)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Distinct timestamps ``read`` keeps decoded; cleared when full (audit events are all distinct).
_MOMENTS = 100_000


def _decoded(
    batch: Any, json_columns: Sequence[str], time_columns: Sequence[str], moments: dict[int, Any]
) -> list[dict[str, Any]]:
    """The rows of ``batch`` as dicts, JSON parsed and timestamps as aware UTC datetimes.

    Timestamps come out of Arrow as integers and each distinct one is made a datetime once:
    a daily table repeats a few hundred period starts over millions of rows.
    """
    pa, _, _ = _pyarrow()
    if time_columns:
        names = batch.schema.names
        arrays = [
            column.cast(pa.int64()) if name in time_columns else column
            for name, column in zip(names, batch.columns, strict=True)
        ]
        batch = pa.RecordBatch.from_arrays(arrays, names=names)
    rows: list[dict[str, Any]] = batch.to_pylist()
    for name in json_columns:
        for row in rows:
            if row[name] is not None:
                row[name] = json.loads(row[name])
    for name in time_columns:
        if len(moments) > _MOMENTS:
            moments.clear()
        for row in rows:
            micros = row[name]
            if micros is not None:
                moment = moments.get(micros)
                if moment is None:
                    moment = moments[micros] = _EPOCH + timedelta(microseconds=micros)
                row[name] = moment
    return rows


def _earliest(moments: Any) -> datetime | None:
    """The earliest of a timestamp column's values (aware UTC), ``None`` when it has none."""
    _, pc, _ = _pyarrow()
    value: datetime | None = pc.min(moments).as_py()
    return None if value is None else value.astimezone(timezone.utc)


def _latest(moments: Any) -> datetime | None:
    """The latest of a timestamp column's values (aware UTC), ``None`` when it has none."""
    _, pc, _ = _pyarrow()
    value: datetime | None = pc.max(moments).as_py()
    return None if value is None else value.astimezone(timezone.utc)


def _concat(tables: Sequence[Any]) -> Any | None:
    pa, _, _ = _pyarrow()
    return pa.concat_tables(tables) if tables else None


def _keep_mask(old: Any, table: TableSchema, units: Sequence[UnitWrite], schema: Any) -> Any:
    """A boolean array: ``True`` for each row of ``old`` that no unit in ``units`` replaces.

    Units are grouped by their match columns and period, and each group selects its rows with
    one ``is_in`` on the match columns joined into one text value, so the cost does not grow
    with the number of units times the rows.
    """
    pa, pc, _ = _pyarrow()
    groups: dict[tuple[tuple[str, ...], Any], list[UnitWrite]] = defaultdict(list)
    for w in units:
        groups[(tuple(sorted(w.match)), w.period)].append(w)
    types = {c.name: c for c in table.columns}
    replaced = pa.array([False] * old.num_rows, type=pa.bool_())
    for (columns, period), members in groups.items():
        selected = pa.array([True] * old.num_rows, type=pa.bool_())
        if columns:
            for name in columns:
                if types[name].type == "text_list":
                    raise DestinationError(f"{table.name}: cannot match units on {name}")
            wanted = [
                pa.array(
                    [_normalizer(types[name], table.name)(w.match[name]) for w in members],
                    type=schema.field(name).type,
                )
                for name in columns
            ]
            keys = _joined(pa, pc, wanted)
            have = _joined(pa, pc, [old.column(name) for name in columns])
            selected = pc.is_in(have, value_set=keys)
        if period is not None:
            assert table.period_column is not None
            moment = old.column(table.period_column)
            kind = schema.field(table.period_column).type
            start, end = (pa.scalar(p.astimezone(timezone.utc), type=kind) for p in period)
            inside = pc.and_(pc.greater_equal(moment, start), pc.less(moment, end))
            selected = pc.and_(selected, pc.fill_null(inside, False))
        replaced = pc.or_(replaced, selected)
    return pc.invert(replaced)


def _joined(pa: Any, pc: Any, arrays: Sequence[Any]) -> Any:
    """One text value per row from several columns, equal exactly when every column is."""
    # Each part is "<byte length>:<text>" or "N" for null: self-delimiting, so joining the parts
    # cannot make two different rows look alike whatever characters the values hold.
    parts = []
    for array in arrays:
        text = pc.cast(array, pa.string())
        length = pc.cast(pc.binary_length(text), pa.string())
        parts.append(pc.fill_null(pc.binary_join_element_wise(length, text, ":"), "N"))
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")
