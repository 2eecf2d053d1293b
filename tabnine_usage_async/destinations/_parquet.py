"""A dataset in a folder of Parquet files (needs pyarrow), one hive-partitioned table per stream.

::

    <folder>/usage/month=2026-11/part-0.parquet    incremental streams: a file per month
    <folder>/users/part-0.parquet                  snapshot streams: one file
    <folder>/_state.sqlite                         units' state, run ledger, metadata, journal
    <folder>/_state.sqlite.lock                    the one-run lock

Readers of the dataset (pyarrow.dataset, DuckDB, Spark) skip names starting with ``_`` or ``.``.

Exactly once across SIGKILL: a unit's rows share a file with other units' rows, so ``write``
rewrites each partition it touches whole: the partition's rows minus the replaced units' rows plus
the new rows, written to a hidden temporary file in the same directory and fsynced. Then ONE state
transaction records the units as done together with a journal of the file replacements; then each
temporary file is renamed over the partition's file (``os.replace``: atomic, so readers see the
old month or the new one, never a torn or doubled one), and the journal is cleared. A run killed
before the commit leaves only hidden temporary files, deleted on the next open; one killed after
it has its journal re-applied on the next open. Untouched partitions are never rewritten, and the
engine batches many units per write, so a daily sync rewrites the recent month or two.

Column types: ``timestamp[us, tz=UTC]``, ``date32``, ``int64``, ``double``, ``bool``, ``string``,
``list<string>`` for ``text_list`` and JSON text in a ``string`` for ``json``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio.to_thread

from ._base import ColumnType, DestinationError, DestinationVersionError, TableSchema, UnitWrite
from ._state import StateDestination, record_units, register_stream, registered_schemas
from ._values import month_of, months_between, normalizer, row_normalizer

__all__ = ["PARQUET_MISSING", "STATE_FILE", "ParquetFolderDestination"]

#: The message when pyarrow is not installed.
PARQUET_MISSING = (
    "Parquet folder destinations need pyarrow: pip install 'tabnine-usage-async[parquet]'"
)

#: The state file inside the folder.
STATE_FILE = "_state.sqlite"
_PART = "part-0.parquet"
_TEMP_PREFIX = ".part-"
_TEMP_SUFFIX = ".parquet.tmp"
_JOURNAL = """
CREATE TABLE IF NOT EXISTS _journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    temp TEXT,
    final TEXT NOT NULL
)
"""
#: Rows per batch yielded by ``read``.
READ_BATCH = 10_000


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


#: Rows repeat the same few period starts: find each one's month once.
_month_of = functools.lru_cache(maxsize=65536)(month_of)


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ParquetFolderDestination(StateDestination):
    """A dataset in a folder of Parquet files; see the module docstring."""

    def __init__(self, folder: Path | str) -> None:
        _pyarrow()
        folder = Path(folder)
        super().__init__(folder / STATE_FILE, folder / (STATE_FILE + ".lock"), str(folder))
        self.folder = folder
        self._broken: str | None = None

    # -- layout ---------------------------------------------------------------------------

    def _partition_file(self, table: TableSchema, month: str | None) -> Path:
        base = self.folder / table.name
        return base / _PART if month is None else base / f"month={month}" / _PART

    def _partition_files(self, stream: str) -> list[Path]:
        base = self.folder / stream
        found = sorted(base.glob(f"month=*/{_PART}"))
        if (base / _PART).exists():
            found.append(base / _PART)
        return found

    def _month(self, path: Path) -> str | None:
        parent = path.parent.name
        return parent.removeprefix("month=") if parent.startswith("month=") else None

    # -- opening --------------------------------------------------------------------------

    def _exists(self) -> bool:
        return self.folder.is_dir() and self._state_path.exists()

    def _prepare(self, conn: sqlite3.Connection, tables: Sequence[TableSchema]) -> None:
        conn.execute(_JOURNAL)
        self._apply_journal(conn)
        self._remove_temporaries()
        stored = registered_schemas(conn)
        for table in tables:
            old = stored.get(table.name)
            if old is not None and set(table.column_names) - set(old.column_names):
                # A newer stream version added columns: rewrite its files with them (empty).
                files = self._partition_files(table.name)
                self._commit(conn, [(f, self._load(f, table)) for f in files], 0, [])
        conn.execute("BEGIN IMMEDIATE")
        for table in tables:
            register_stream(conn, table)
        conn.execute("COMMIT")

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
        for path in self.folder.glob(f"*/**/{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            path.unlink(missing_ok=True)
        for path in self.folder.glob(f"*/{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            path.unlink(missing_ok=True)

    def _apply_journal(self, conn: sqlite3.Connection) -> None:
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
        for folder in touched:
            if folder.exists():
                _fsync_dir(folder)
        if entries:
            conn.execute("DELETE FROM _journal")

    # -- reading and writing files --------------------------------------------------------

    def _load(self, path: Path, table: TableSchema) -> Any:
        """The rows of a partition file as a table of exactly ``table``'s columns."""
        pa, _, pq = _pyarrow()
        found = pq.read_table(path)
        schema = arrow_schema(table)
        columns = []
        for field in schema:
            if field.name in found.column_names:
                column = found.column(field.name)
                columns.append(column if column.type == field.type else column.cast(field.type))
            else:
                columns.append(pa.nulls(found.num_rows, field.type))
        return pa.Table.from_arrays(columns, schema=schema)

    def _commit(
        self,
        conn: sqlite3.Connection,
        partitions: Sequence[tuple[Path, Any]],
        run_id: int,
        writes: Sequence[UnitWrite],
    ) -> None:
        """Write each partition's new rows to a temp file, commit journal and state, apply."""
        _, _, pq = _pyarrow()
        journal: list[tuple[str | None, str]] = []
        temps: list[Path] = []
        try:
            for final, rows in partitions:
                relative = final.relative_to(self.folder).as_posix()
                if rows is None or rows.num_rows == 0:
                    if final.exists():
                        journal.append((None, relative))
                    continue
                final.parent.mkdir(parents=True, exist_ok=True)
                temp = final.with_name(f"{_TEMP_PREFIX}{uuid.uuid4().hex}{_TEMP_SUFFIX}")
                temps.append(temp)
                pq.write_table(rows, temp)
                with open(temp, "rb") as written:
                    os.fsync(written.fileno())
                journal.append((temp.relative_to(self.folder).as_posix(), relative))
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT INTO _journal (temp, final) VALUES (?, ?)", journal)
                record_units(conn, run_id, writes)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            for temp in temps:
                temp.unlink(missing_ok=True)
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

    async def write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        """Replace each unit's rows and record each unit's state, atomically per partition."""
        self._check_writes(writes)
        await self._call(self._write, run_id, writes)

    def _write(self, run_id: int, writes: Sequence[UnitWrite]) -> None:
        conn = self._writer()
        if self._broken:
            raise DestinationError(self._broken)
        by_stream: dict[str, list[UnitWrite]] = defaultdict(list)
        for w in writes:
            by_stream[w.stream].append(w)
        partitions: list[tuple[str, Path, Any]] = []
        for stream, units in by_stream.items():
            table = self._tables[stream]
            partitions.extend((stream, path, rows) for path, rows in self._rewrite(table, units))
        # One commit for every stream of the batch: the state records all units or none.
        self._commit(conn, [(path, rows) for _, path, rows in partitions], run_id, writes)

    def _rewrite(self, table: TableSchema, units: Sequence[UnitWrite]) -> list[tuple[Path, Any]]:
        """Each touched partition of ``table`` with its new rows."""
        pa, _, _ = _pyarrow()
        normalize = row_normalizer(table)
        period = table.period_column
        period_index = table.column_names.index(period) if period else -1
        by_month: dict[str | None, list[list[Any]]] = defaultdict(list)
        touched: set[Path] = set()
        for w in units:
            for row in w.rows:
                values = normalize(row)
                month = None
                if period:
                    if values[period_index] is None:
                        raise DestinationError(f"{table.name}.{period} cannot be empty (None)")
                    month = _month_of(values[period_index])
                by_month[month].append(values)
            if not period:
                touched.add(self._partition_file(table, None))
            elif w.period is None:
                touched.update(self._partition_files(table.name))
            else:
                touched.update(self._partition_file(table, m) for m in months_between(*w.period))
        new_rows = {self._partition_file(table, m): rows for m, rows in by_month.items()}
        touched.update(new_rows)
        schema = arrow_schema(table)
        result = []
        for path in sorted(touched):
            kept = None
            if path.exists():
                old = self._load(path, table)
                kept = old.filter(_keep_mask(old, table, units, schema))
            rows = new_rows.get(path, [])
            fresh = pa.Table.from_arrays(
                [pa.array([r[i] for r in rows], type=field.type) for i, field in enumerate(schema)],
                schema=schema,
            )
            merged = fresh if kept is None else pa.concat_tables([kept, fresh])
            if rows and merged.num_rows:
                groups = merged.group_by(list(table.key)).aggregate([([], "count_all")])
                if groups.num_rows != merged.num_rows:
                    raise DestinationError(
                        f"{self._display}: a key of {table.name} appears twice "
                        f"({', '.join(table.key)})"
                    )
            if kept is None and not rows:
                continue
            result.append((path, merged))
        return result

    # -- reading --------------------------------------------------------------------------

    async def read(self, stream: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Every row of ``stream`` in batches, values typed as they were written."""
        table = self._tables.get(stream)
        if table is None:
            raise DestinationError(f"{self._display} has no stream {stream}")
        files = await anyio.to_thread.run_sync(self._partition_files, stream)
        json_columns = [c.name for c in table.columns if c.type == "json"]
        time_columns = [c.name for c in table.columns if c.type == "timestamp"]
        for path in files:
            try:
                data = await anyio.to_thread.run_sync(self._load, path, table)
            except FileNotFoundError:
                continue  # the partition was emptied by a running sync since we listed it
            for batch in data.to_batches(max_chunksize=READ_BATCH):
                rows = batch.to_pylist()
                for row in rows:
                    for name in json_columns:
                        if row[name] is not None:
                            row[name] = json.loads(row[name])
                    for name in time_columns:
                        value: datetime | None = row[name]
                        if value is not None:
                            row[name] = value.astimezone(timezone.utc)
                yield rows


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
                    [normalizer(types[name], table.name)(w.match[name]) for w in members],
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
