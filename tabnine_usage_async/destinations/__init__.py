"""Destinations: where a synced dataset lives, behind one protocol (see ``_base``)."""

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

__all__ = [
    "Column",
    "ColumnType",
    "Destination",
    "DestinationBusyError",
    "DestinationError",
    "DestinationVersionError",
    "RunRecord",
    "RunStatus",
    "TableSchema",
    "UnitState",
    "UnitWrite",
]
