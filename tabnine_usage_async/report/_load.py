"""Read a synced dataset through the destination protocol and compute its report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..destinations import ColumnReader, Destination
from ._model import Report, ReportOptions
from .compute import (
    AGENT_BREAKDOWN_COLUMNS,
    AGENT_USAGE_COLUMNS,
    USAGE_COLUMNS,
    DatasetRows,
    Ledger,
    compute_report,
)

__all__ = ["load_report", "read_dataset"]

#: Meta keys the report shows when the dataset records them.
_META_KEYS = ("organization_name", "license_seats")


def _read(
    destination: Destination, stream: str, columns: Sequence[str]
) -> AsyncIterator[list[dict[str, Any]]]:
    # The usage tables are wide and long: fetch only what the report folds, where the
    # destination can (the others give every column, which the folds ignore).
    if isinstance(destination, ColumnReader):
        return destination.read(stream, columns=columns)
    return destination.read(stream)


async def read_dataset(destination: Destination) -> tuple[DatasetRows, Ledger]:
    """Fold every stream the report needs from an open destination, batch by batch.

    Streams that were never synced (no unit written) are left empty: the report shows what the
    dataset has.
    """
    data = DatasetRows()
    folds = {
        "usage": (data.add_usage, USAGE_COLUMNS),
        "agent_usage": (data.add_agent_usage, AGENT_USAGE_COLUMNS),
        "agent_usage_breakdown": (data.add_agent_breakdown, AGENT_BREAKDOWN_COLUMNS),
    }
    for stream, (fold, columns) in folds.items():
        if await destination.units(stream):
            async for batch in _read(destination, stream, columns):
                fold(batch)
    snapshots = {"users": data.users, "teams": data.teams, "seats": data.seats}
    for stream, target in snapshots.items():
        if await destination.units(stream):
            async for batch in destination.read(stream):
                target.extend(batch)
    if await destination.units("invitations"):
        data.invitations = []
        async for batch in destination.read("invitations"):
            data.invitations.extend(batch)
    meta = {}
    for key in _META_KEYS:
        value = await destination.get_meta(key)
        if value is not None:
            meta[key] = value
    return data, Ledger(runs=await destination.runs(), meta=meta)


async def load_report(destination: Destination, options: ReportOptions | None = None) -> Report:
    """Open ``destination`` read-only (never blocking a running sync), compute, close."""
    await destination.open((), lock=False)
    try:
        data, ledger = await read_dataset(destination)
    finally:
        await destination.close()
    return compute_report(data, ledger, options)
