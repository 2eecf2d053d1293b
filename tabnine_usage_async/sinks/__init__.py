"""Sinks: where a backfill's rows go, as JSON Lines, CSV, SQLite or Parquet files.

A sink writes the rows of one table (a ``TableSchema``: a stream's table, or ``RECORDS_TABLE``,
the ``UsageRecord`` columns, which also takes ``UsageRecord`` objects). Every sink follows one
protocol, built for exactly-once output across crashes. ``write`` adds
records (not yet durable); ``flush`` makes everything written so far durable and returns a
*marker*, a short string describing exactly that durable state; ``close`` finalises the file,
and ``abort`` stops after a failure, keeping only what the last ``flush`` made durable.
A caller that stores the marker in the same transaction that marks the written work done can,
after being killed at any instant, reopen with ``open_sink(path, resume=marker)``: the sink
drops whatever was written after that marker, so nothing is lost and nothing is doubled.

========  ====================  ===============================================================
Format    Marker                Resume
========  ====================  ===============================================================
jsonl     ``offset:<bytes>``    cut the file back to the offset (drops a torn last line)
csv       ``offset:<bytes>``    the same; the header is written once, by a fresh start
sqlite    ``rows:<count>``      nothing to cut: rows are upserts keyed on the table's key
parquet   ``parts:<count>``     delete part files past the count; ``close`` joins the parts
========  ====================  ===============================================================

``resume=None`` starts a fresh, empty output and replaces any file already there.

Example::

    from tabnine_usage_async.sinks import open_sink, read_records

    with open_sink("usage.csv") as sink:
        sink.write(records)
        marker = sink.flush()   # durable from here on
    rows = read_records("usage.csv")

    from tabnine_usage_async.streams import get_stream

    users = get_stream("users").table
    with open_sink("users.jsonl", table=users) as sink:
        sink.write([{"user_id": "u1", "email": "a@example.com", ...}])
    rows = read_rows("users.jsonl", table=users)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ..destinations import TableSchema
from ..errors import InvalidParameterError
from ._common import SinkError, check_output_path
from ._csv import CsvSink, read_csv
from ._jsonl import JsonlSink, read_jsonl
from ._lock import OutputLock, OutputLockedError
from ._parquet import PARQUET_MISSING, ParquetSink, read_parquet
from ._paths import check_plain, output_paths
from ._schema import RECORDS_TABLE, Row, RowLike
from ._sqlite import SqliteSink, read_sqlite

__all__ = [
    "FORMATS",
    "PARQUET_MISSING",
    "RECORDS_TABLE",
    "OutputLock",
    "OutputLockedError",
    "Row",
    "RowLike",
    "Sink",
    "SinkError",
    "format_for_path",
    "open_sink",
    "read_records",
    "read_rows",
]

#: Every output format, by name.
FORMATS = ("csv", "jsonl", "parquet", "sqlite")

_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class Sink(Protocol):
    """An open output: ``write`` rows, ``flush`` for a durable marker, ``close`` to finish.

    Attributes:
        path: the output file.
        format: one of ``FORMATS``.
        table: the table whose rows it holds.
    """

    path: Path
    format: str
    table: TableSchema

    def write(self, rows: Sequence[RowLike]) -> None:
        """Add rows of ``table`` (``UsageRecord``s for ``RECORDS_TABLE``); they are durable only
        after the next ``flush``."""

    def flush(self) -> str:
        """Make everything written so far durable; return the marker of that state."""

    def close(self) -> None:
        """Finish the output file; safe to call twice. Only flushed data is guaranteed."""

    def interrupt(self) -> None:
        """Ask a ``close`` running in another thread to stop early, leaving the output
        unfinished but resumable (``close`` then raises ``SinkError``). Thread-safe."""

    def abort(self) -> None:
        """Stop after a failure without finishing: keep what ``flush`` made durable, so that a
        resume at its last marker is exact; drop the rest. Safe after ``close``."""

    def __enter__(self) -> Sink:
        """The sink itself."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the sink."""


def _allowed() -> str:
    return ", ".join(FORMATS)


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The format an output's extension names (case-insensitive).

    Raises:
        InvalidParameterError: the extension is none of the known ones.
    """
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(_EXTENSIONS)
        raise InvalidParameterError(
            f"cannot tell the output format of {os.fspath(path)!r} from its extension "
            f"({known}); pass a format: {_allowed()}"
        ) from None


def _check_format(format: str | None, path: Path) -> str:
    if format is None:
        return format_for_path(path)
    if format not in FORMATS:
        raise InvalidParameterError(f"unknown output format {format!r}; use one of {_allowed()}")
    return format


# Typed as returning Sink so the type checker proves every class implements the protocol.
_OPENERS: dict[str, Callable[..., Sink]] = {
    "csv": CsvSink,
    "jsonl": JsonlSink,
    "parquet": ParquetSink,
    "sqlite": SqliteSink,
}
_READERS: dict[str, Callable[[Path, TableSchema], list[dict[str, Any]]]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "sqlite": read_sqlite,
}


def open_sink(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    resume: str | None = None,
    table: TableSchema = RECORDS_TABLE,
) -> Sink:
    """Open an output for writing.

    Args:
        path: the output file; its folder must exist and be writable.
        format: one of ``FORMATS``; by default the extension decides.
        table: the table of the rows (columns, types, key); ``RECORDS_TABLE`` by default.
        resume: a marker returned by ``flush`` of an earlier sink on the same path, to continue
            exactly from that durable state; ``None`` starts an empty output, replacing any file.

    Raises:
        InvalidParameterError: unknown format or extension, an unusable path (a symbolic link
            among them: nothing is written through a link), or Parquet without pyarrow installed.
        SinkError: the output cannot be resumed at ``resume`` (missing, shortened or changed).
    """
    target = Path(path)
    fmt = _check_format(format, target)
    check_output_path(target)
    check_plain(output_paths(target, fmt), "output")
    return _OPENERS[fmt](target, resume=resume, table=table)


def read_records(path: str | os.PathLike[str], format: str | None = None) -> list[dict[str, Any]]:
    """Read a finished output back as rows shaped like ``UsageRecord.to_row()``.

    ``team_ids`` is a list, ``extra`` a dict and date-times ``...Z`` strings, whatever the format,
    so outputs of different formats compare equal. SQLite rows come in insertion order.
    """
    return read_rows(path, format, table=RECORDS_TABLE)


def read_rows(
    path: str | os.PathLike[str], format: str | None = None, *, table: TableSchema
) -> list[dict[str, Any]]:
    """Read a finished output of ``table`` back as row dicts, the same whatever the format.

    Lists are lists, ``json`` values parsed, timestamps ``...Z`` strings, dates ``YYYY-MM-DD``
    strings, booleans ``bool``. SQLite rows come in insertion order.
    """
    target = Path(path)
    return _READERS[_check_format(format, target)](target, table)
