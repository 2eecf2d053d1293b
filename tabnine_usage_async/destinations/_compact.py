"""When a month of a Parquet folder is compacted, and into which parts: pure decisions.

Every write adds a part to each month it writes rows to, and lookback writes leave small
remainders of the parts they rewrite, so a month synced daily gains parts every day, and a
reader pays a fixed cost per file. A write that leaves a month with more than ``max_parts``
parts therefore merges the month's *small* parts (fewer than half of ``part_rows`` rows) into
parts of at most ``part_rows`` rows, sorted by period. Large parts are left alone: merging only
small ones bounds the rows one compaction rewrites (at most ``max_parts`` small parts), so a
month that grows by many writes is not rewritten whole again and again. Sorting by period keeps
each merged part to a short range of days, so a later lookback write (which replaces only the
last days) rewrites the parts holding those days, not every part of the month.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["chunk_sizes", "parts_to_merge"]


def parts_to_merge(rows: Sequence[int], max_parts: int | None, part_rows: int) -> list[int]:
    """The positions in ``rows`` (each part's row count) of the parts to merge; empty for none.

    Nothing is merged while the month has at most ``max_parts`` parts (``None``: never), nor
    when fewer than two parts are small enough to merge.
    """
    if max_parts is None or len(rows) <= max_parts:
        return []
    small = [i for i, count in enumerate(rows) if count < part_rows // 2]
    return small if len(small) > 1 else []


def chunk_sizes(total: int, part_rows: int) -> list[int]:
    """Row counts of the fewest parts of at most ``part_rows`` rows holding ``total`` rows,
    as even as possible (so no part is a tiny remainder)."""
    if total <= 0:
        return []
    count = -(-total // part_rows)
    size, extra = divmod(total, count)
    return [size + 1] * extra + [size] * (count - extra)
