"""Destinations: where a synced dataset lives, behind one protocol (see ``_base``).

:func:`open_destination` picks the destination a ``--to`` target names. The drivers of optional
formats (pyarrow for Parquet folders, duckdb, asyncpg) are imported only when such a destination
is used.
"""

from __future__ import annotations

from pathlib import Path

from ._base import (
    Column,
    ColumnReader,
    ColumnType,
    Destination,
    DestinationBusyError,
    DestinationError,
    DestinationVersionError,
    RunRecord,
    RunStatus,
    TableSchema,
    UnitState,
    UnitWrite,
)
from ._duckdb import DuckdbDestination
from ._parquet import ParquetFolderDestination
from ._pgurl import SCHEMES as POSTGRES_SCHEMES
from ._postgres import PostgresDestination
from ._sqlite import SqliteDestination

__all__ = [
    "Column",
    "ColumnReader",
    "ColumnType",
    "Destination",
    "DestinationBusyError",
    "DestinationError",
    "DestinationVersionError",
    "DuckdbDestination",
    "ParquetFolderDestination",
    "PostgresDestination",
    "RunRecord",
    "RunStatus",
    "SqliteDestination",
    "TableSchema",
    "UnitState",
    "UnitWrite",
    "open_destination",
]

#: File suffixes that name a SQLite dataset.
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")

#: File suffixes that name a DuckDB dataset.
DUCKDB_SUFFIXES = (".duckdb",)

#: The accepted ``--to`` forms, for error messages and help texts.
ACCEPTED_FORMS = (
    "a SQLite file (*.sqlite, *.sqlite3, *.db), a DuckDB file (*.duckdb), "
    "a postgresql:// URL or a folder for Parquet files"
)


def open_destination(target: str | Path) -> Destination:
    """The destination ``target`` names (not yet opened: call ``await dest.open(tables)``).

    - ``*.sqlite``, ``*.sqlite3``, ``*.db``: a SQLite file;
    - ``*.duckdb``: a DuckDB file (needs the ``duckdb`` extra);
    - ``postgresql://`` or ``postgres://`` URLs: a schema of a PostgreSQL database (needs the
      ``postgres`` extra);
    - an existing folder, a path ending in ``/``, or a path without a suffix: a folder of
      Parquet files (needs the ``parquet`` extra).

    Anything else raises ``DestinationError`` listing the accepted forms.
    """
    text = str(target)
    if not text.strip():
        raise DestinationError(f"no destination given; expected {ACCEPTED_FORMS}")
    # Database URLs come first: they are not paths.
    if "://" in text:
        if text.split("://", 1)[0].lower() in POSTGRES_SCHEMES:
            return PostgresDestination(text)
        scheme = text.split("://", 1)[0]
        raise DestinationError(f"unsupported destination {scheme}://...; expected {ACCEPTED_FORMS}")
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in SQLITE_SUFFIXES:
        return SqliteDestination(path)
    if suffix in DUCKDB_SUFFIXES:
        return DuckdbDestination(path)
    if path.is_dir() or text.endswith(("/", "\\")) or not suffix:
        return ParquetFolderDestination(path)
    raise DestinationError(f"unsupported destination {text}; expected {ACCEPTED_FORMS}")
