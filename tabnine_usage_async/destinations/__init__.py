"""Destinations: where a synced dataset lives, behind one protocol (see ``_base``).

:func:`open_destination` picks the destination a ``--to`` target names. The drivers of optional
formats (pyarrow for Parquet folders) are imported only when such a destination is used.
"""

from __future__ import annotations

from pathlib import Path

from ._base import (
    Column,
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
from ._parquet import ParquetFolderDestination
from ._sqlite import SqliteDestination

__all__ = [
    "Column",
    "ColumnType",
    "Destination",
    "DestinationBusyError",
    "DestinationError",
    "DestinationVersionError",
    "ParquetFolderDestination",
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

#: The accepted ``--to`` forms, for error messages and help texts.
ACCEPTED_FORMS = "a SQLite file (*.sqlite, *.sqlite3, *.db) or a folder for Parquet files"


def open_destination(target: str | Path) -> Destination:
    """The destination ``target`` names (not yet opened: call ``await dest.open(tables)``).

    - ``*.sqlite``, ``*.sqlite3``, ``*.db``: a SQLite file;
    - an existing folder, a path ending in ``/``, or a path without a suffix: a folder of
      Parquet files (needs the ``parquet`` extra).

    Anything else raises ``DestinationError`` listing the accepted forms.
    """
    text = str(target)
    if not text.strip():
        raise DestinationError(f"no destination given; expected {ACCEPTED_FORMS}")
    # Database URLs come first: they are not paths. (postgresql://... is added here.)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise DestinationError(f"unsupported destination {scheme}://...; expected {ACCEPTED_FORMS}")
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in SQLITE_SUFFIXES:
        return SqliteDestination(path)
    # (*.duckdb is added here.)
    if path.is_dir() or text.endswith(("/", "\\")) or not suffix:
        return ParquetFolderDestination(path)
    raise DestinationError(f"unsupported destination {text}; expected {ACCEPTED_FORMS}")
