"""Parquet output (needs pyarrow): durable part files while running, one final file at close.

A Parquet file cannot be appended to, and a writer killed mid-way leaves a file without its
footer, which no reader accepts. So each ``flush`` writes the records buffered since the previous
flush as one complete part file, ``<output>.parts/part-00000.parquet``, ``part-00001...``, made
atomic by writing a temporary name, fsyncing and renaming; the marker ``parts:<n>`` names the
committed prefix. A resumed run deletes every part past the marker.

``close`` streams the parts, in order, into ``<output>`` (again via a temporary file and an atomic
rename), then removes the parts folder. Only ``close`` writes ``<output>``: a run that stops
early (``abort``) leaves the parts, and ``<output>`` holds nothing or a finished run's file.
The final file records how many rows each part had (schema
metadata ``tabnine_usage_async.part_rows``), so a re-run of a finished job rebuilds the committed
parts from it and carries on. Readers only ever see a complete file: the previous one or the new.

``json`` columns (``extra``) are stored as JSON text, because arbitrary JSON has no fixed Parquet
type; lists are ``list<string>``, dates ``date32``. Date-times are whole seconds in an Arrow
``timestamp("s", tz="UTC")`` in the ``UsageRecord`` output (Parquet itself has no seconds unit,
so the file stores them as UTC milliseconds and readers see ``timestamp[ms, tz=UTC]``), and
microseconds in the tables of streams.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..destinations import ColumnType, TableSchema
from ..errors import InvalidParameterError
from ._common import ClosingSink, SinkError, fsync_dir, make_marker, parse_marker, remove_file
from ._schema import RECORDS_TABLE, Row, RowLike, as_rows, read_value

__all__ = ["PARQUET_MISSING", "ParquetSink", "parquet_schema", "read_parquet"]

#: The message when pyarrow is not installed.
PARQUET_MISSING = "Parquet output needs pyarrow: pip install 'tabnine-usage-async[parquet]'"

_UNIT = "parts"
_PART_ROWS = b"tabnine_usage_async.part_rows"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)
_ROW_GROUP = 128 * 1024
_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _pyarrow() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, imported only when Parquet is used."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InvalidParameterError(PARQUET_MISSING) from None
    return pyarrow, pyarrow.parquet


def parquet_schema(table: TableSchema = RECORDS_TABLE) -> Any:
    """The ``pyarrow.Schema`` of a Parquet output of ``table``, one field per column."""
    pa, _ = _pyarrow()
    # The UsageRecord output has had whole seconds since its first version.
    timestamp = pa.timestamp("s" if table == RECORDS_TABLE else "us", tz="UTC")
    types = {
        "text": pa.string(),
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": timestamp,
        "date": pa.date32(),
        "json": pa.string(),
        "text_list": pa.list_(pa.string()),
    }
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in table.columns])


def _column(rows: Sequence[Row], name: str, kind: ColumnType, seconds: bool) -> list[Any]:
    values = [row.get(name) for row in rows]
    if kind == "timestamp" and seconds:
        # Whole seconds, floored, exactly as the text formats write them.
        return [None if v is None else (v - _EPOCH) // _SECOND for v in values]
    if kind == "json":
        return [None if v is None else _json(v) for v in values]
    if kind == "text_list":
        return [None if v is None else list(v) for v in values]
    return values


def _table(rows: Sequence[Row], schema: Any, table: TableSchema) -> Any:
    pa, _ = _pyarrow()
    seconds = table == RECORDS_TABLE
    arrays = [
        pa.array(_column(rows, c.name, c.type, seconds), type=f.type)
        for c, f in zip(table.columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _remove_tree(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)


def _part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def _part_index(path: Path) -> int | None:
    """The index of a committed part file, or None for any other name."""
    name = path.name
    if name.startswith("part-") and name.endswith(".parquet"):
        digits = name[len("part-") : -len(".parquet")]
        if digits.isdigit() and name == _part_name(int(digits)):
            return int(digits)
    return None


class ParquetSink(ClosingSink):
    """Writes one part file per ``flush`` and the final ``<output>`` at ``close``.

    Markers are ``parts:<number of committed part files>``.
    """

    format = "parquet"

    def __init__(
        self, path: Path, *, resume: str | None, table: TableSchema = RECORDS_TABLE
    ) -> None:
        _, self._pq = _pyarrow()
        self.path = path
        self.table = table
        self._schema = parquet_schema(table)
        self._parts_dir = path.with_name(path.name + ".parts")
        self._buffer: list[Row] = []
        self._closed = False
        self._stop = threading.Event()
        # Leftovers of an interrupted close, restore or final write.
        _remove_tree(self._trash_dir)
        _remove_tree(self._restore_dir)
        remove_file(self._final_tmp)
        if resume is None:
            _remove_tree(self._parts_dir)
            remove_file(path)
            self._parts_dir.mkdir()
            fsync_dir(path.parent)
            self._parts = 0
        else:
            committed = parse_marker(resume, _UNIT, path)
            if not self._parts_dir.is_dir():
                self._restore_parts(committed)
            self._parts = self._cut_back(committed)

    @property
    def _trash_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".parts.trash")

    @property
    def _restore_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".parts.restore")

    @property
    def _final_tmp(self) -> Path:
        return self.path.with_name(self.path.name + ".tmp")

    def _committed_parts(self) -> dict[int, Path]:
        parts: dict[int, Path] = {}
        for entry in self._parts_dir.iterdir():
            index = _part_index(entry)
            if index is not None:
                parts[index] = entry
            elif entry.name.endswith(".tmp"):
                entry.unlink()  # a part whose write was cut short: never committed
        return parts

    def _cut_back(self, committed: int) -> int:
        parts = self._committed_parts()
        missing = [i for i in range(committed) if i not in parts]
        if missing:
            raise SinkError(
                f"cannot resume {self.path}: committed part {_part_name(missing[0])} is missing "
                f"from {self._parts_dir}; delete the checkpoint to start over"
            )
        extra = [path for index, path in parts.items() if index >= committed]
        for path in extra:
            path.unlink()
        if extra:
            fsync_dir(self._parts_dir)
        return committed

    def _restore_parts(self, committed: int) -> None:
        """Split a finished output back into its first ``committed`` parts."""
        advice = "delete the checkpoint to start over"
        if not self.path.exists():
            raise SinkError(f"cannot resume {self.path}: the file is missing; {advice}")
        try:
            table = self._pq.read_table(self.path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise SinkError(
                f"cannot resume {self.path}: unreadable Parquet ({exc}); {advice}"
            ) from None
        metadata = table.schema.metadata or {}
        if _PART_ROWS not in metadata:
            raise SinkError(f"cannot resume {self.path}: it was not written by this tool; {advice}")
        part_rows: list[int] = json.loads(metadata[_PART_ROWS])
        if len(part_rows) < committed:
            raise SinkError(
                f"cannot resume {self.path}: it holds {len(part_rows)} parts but {committed} were "
                f"committed; {advice}"
            )
        table = table.replace_schema_metadata(None).cast(self._schema)
        self._restore_dir.mkdir()
        offset = 0
        for index, rows in enumerate(part_rows[:committed]):
            part = self._restore_dir / _part_name(index)
            self._pq.write_table(table.slice(offset, rows), part)
            _fsync_file(part)
            offset += rows
        fsync_dir(self._restore_dir)
        # The folder appears whole or not at all.
        os.replace(self._restore_dir, self._parts_dir)
        fsync_dir(self.path.parent)

    def _live(self) -> None:
        if self._closed:
            raise SinkError(f"{self.path} is closed")

    def write(self, rows: Sequence[RowLike]) -> None:
        """Buffer the rows in memory until the next ``flush``."""
        self._live()
        self._buffer.extend(as_rows(rows))

    def flush(self) -> str:
        """Write the buffered records as the next part file and return ``parts:<count>``."""
        self._live()
        if self._buffer:
            part = self._parts_dir / _part_name(self._parts)
            tmp = part.with_name(part.name + ".tmp")
            self._pq.write_table(_table(self._buffer, self._schema, self.table), tmp)
            _fsync_file(tmp)
            os.replace(tmp, part)
            fsync_dir(self._parts_dir)
            self._parts += 1
            self._buffer.clear()
        return make_marker(_UNIT, self._parts)

    def abort(self) -> None:
        """Stop without writing ``<output>``: buffered records are dropped, parts are kept."""
        self._closed = True
        self._buffer.clear()

    def interrupt(self) -> None:
        """Ask a ``close`` running in another thread to stop at the next part it joins.

        The stopped ``close`` raises ``SinkError``, leaves ``<output>`` as it was (no file, or
        the previous finished run's) and keeps the parts, so the job resumes at its marker.
        """
        self._stop.set()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise SinkError(f"writing {self.path} was interrupted; the parts are kept")

    def close(self) -> None:
        """Flush, write ``<output>`` from every part in order, then remove the parts folder.

        ``<output>`` is replaced in one rename at the very end, so it only ever holds a finished
        output. :meth:`interrupt` (from another thread) stops the join before that rename.
        """
        if self._closed:
            return
        self.flush()
        self._closed = True
        try:
            self._join()
        except BaseException:
            remove_file(self._final_tmp)
            raise
        # Renamed first so a kill half-way through the delete never leaves a partial parts folder.
        os.replace(self._parts_dir, self._trash_dir)
        fsync_dir(self.path.parent)
        shutil.rmtree(self._trash_dir)

    def _join(self) -> None:
        parts = [self._parts_dir / _part_name(i) for i in range(self._parts)]
        part_rows = [self._pq.read_metadata(p).num_rows for p in parts]
        schema = self._schema.with_metadata({_PART_ROWS: json.dumps(part_rows).encode()})
        pa, _ = _pyarrow()
        with self._pq.ParquetWriter(self._final_tmp, schema) as writer:
            # Parts hold a few seconds of work each; regroup them so readers get large row groups.
            batch: list[Any] = []
            for part in parts:
                self._check_stop()
                batch.append(self._pq.read_table(part, schema=self._schema))
                if sum(t.num_rows for t in batch) >= _ROW_GROUP:
                    writer.write_table(pa.concat_tables(batch), row_group_size=_ROW_GROUP)
                    batch = []
            if batch or not parts:
                writer.write_table(
                    pa.concat_tables(batch) if batch else _table([], self._schema, self.table)
                )
        _fsync_file(self._final_tmp)
        self._check_stop()
        os.replace(self._final_tmp, self.path)
        fsync_dir(self.path.parent)


def read_parquet(path: Path, table: TableSchema = RECORDS_TABLE) -> list[dict[str, Any]]:
    """Every row of a Parquet output as a row dict with the table's value types."""
    _, pq = _pyarrow()
    data = pq.read_table(path)
    names = list(table.column_names)
    if data.schema.names != names:
        raise SinkError(f"{path} does not have the columns of a {table.name} output")
    rows: list[dict[str, Any]] = data.to_pylist()
    converted = [(c.name, c.type) for c in table.columns if c.type in ("timestamp", "date", "json")]
    for row in rows:
        for name, kind in converted:
            row[name] = read_value(kind, row[name])
    return rows
