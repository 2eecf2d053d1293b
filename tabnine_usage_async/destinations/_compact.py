"""When a month of a Parquet folder is compacted, and into which parts: pure decisions.

Every write adds a part to each month it writes rows to, and a lookback write leaves the parts
it rewrites as small remainders (the days before its period), so a month synced daily gains
parts every day, and a reader pays a fixed cost per file. A write that leaves a month with more
than ``max_parts`` parts therefore merges the month's *cold, small* parts into parts of at most
``part_rows`` rows, sorted by period:

- *cold*: every row of the part lies before the earliest row the write replaces in that month
  (its *frontier*). A daily sync replaces the same last days again and again; the parts holding
  those days are rewritten unit by unit by the sync's next writes, so merging them would make
  each of those writes rewrite the merged part whole. Parts before the frontier are settled. A
  write that replaces no earlier row of the month (the first sync of new users) has no
  frontier: each of its parts is cold.
- *small*: fewer than half of ``part_rows`` rows. Large parts are left alone, which bounds the
  rows one compaction rewrites, so a month that grows by many writes is not rewritten whole
  again and again.

Sorting by period keeps each merged part to a short range of days, so a later write that
replaces only the last days leaves the merged parts of earlier days alone. A month then holds at
most ``max_parts`` parts plus its large ones plus the parts a running sync is still rewriting
(about two per write of one sync): a number that does not grow with the number of syncs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

__all__ = ["chunk_sizes", "parts_to_merge"]


def parts_to_merge(
    parts: Sequence[tuple[int, datetime | None]],
    frontier: datetime | None,
    max_parts: int | None,
    part_rows: int,
) -> list[int]:
    """The positions in ``parts`` (each part's ``(rows, last period)``) to merge; empty for none.

    Nothing is merged while the month has at most ``max_parts`` parts (``None``: never), nor
    when fewer than two parts are both small and before ``frontier`` (``None``: no frontier).
    """
    if max_parts is None or len(parts) <= max_parts:
        return []
    merge = [
        i
        for i, (rows, last) in enumerate(parts)
        if rows < part_rows // 2 and (frontier is None or (last is not None and last < frontier))
    ]
    return merge if len(merge) > 1 else []


def chunk_sizes(total: int, part_rows: int) -> list[int]:
    """Row counts of the fewest parts of at most ``part_rows`` rows holding ``total`` rows,
    as even as possible (so no part is a tiny remainder)."""
    if total <= 0:
        return []
    count = -(-total // part_rows)
    size, extra = divmod(total, count)
    return [size + 1] * extra + [size] * (count - extra)
