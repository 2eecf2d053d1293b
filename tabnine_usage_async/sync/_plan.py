"""The planner: which units of which streams a run must fetch. Pure, tested from tables.

A unit is one entity over one calendar window of one stream; its key names all three. A unit is
due when

* the destination has never recorded it (a new period, a new entity, or a stream added later);
* or its last fetch happened before its window ended plus the lookback: its rows were provisional
  (the window had not ended) or late data may still have changed them.

A window that has not started is never planned. The last window is requested only up to the end
of the period that contains ``now`` (today, for daily usage), so no request covers a period that
has not started; its unit keeps the whole window's key and becomes complete once a fetch happens
after the window's end. Entities the roster no longer lists are not planned: their rows stay, so
removed users keep their history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Literal

import attrs

from .._units import Entity
from ..streams import Stream
from ..windows import Window, split_windows
from ._index import UnitIndex, group_name, unit_key

__all__ = [
    "DueUnit",
    "Reason",
    "UnitIndex",
    "due_reason",
    "plan_stream",
    "sync_windows",
    "unit_key",
]

#: Why a unit is due: never fetched, fetched before its window ended, or inside the lookback.
Reason = Literal["new", "provisional", "lookback"]

_GRANULARITY_UNIT = {"daily": "day", "weekly": "week", "monthly": "month", "all": "day"}

#: The unit key of a snapshot stream: the stream has one unit, the whole table.
SNAPSHOT_KEY = "snapshot"


@attrs.frozen
class DueUnit:
    """One unit to fetch.

    Attributes:
        stream: the stream.
        entity: the entity (the organization for organization-wide streams); ``None`` for
            snapshot streams.
        window: the whole calendar window; the unit's rows in it are replaced.
        request: what is asked of the server: the window, cut at the end of the current period.
        granularity: the request's granularity.
        reason: why the unit is due.
    """

    stream: Stream
    entity: Entity | None
    window: Window | None
    request: Window | None
    granularity: str
    reason: Reason

    @property
    def key(self) -> str:
        """The unit's key in the destination's state."""
        if self.entity is None or self.window is None:
            return SNAPSHOT_KEY
        return unit_key(self.entity, self.window, self.granularity)


def _next_boundary(moment: datetime, unit: str) -> datetime:
    # The split of [moment, far future) begins with the window that ends at the next boundary.
    return split_windows(moment, moment + timedelta(days=40), unit)[0].end  # type: ignore[arg-type]


def sync_windows(
    start: datetime, now: datetime, window: str, granularity: str
) -> list[tuple[Window, Window]]:
    """The calendar windows of ``[start, now]`` with what to request of each.

    Each item is ``(window, request)``: the whole window, and the window cut at the end of the
    ``granularity`` period that contains ``now``. Windows that start after ``now`` are left out.

    >>> from datetime import datetime, timezone
    >>> utc = timezone.utc
    >>> start, now = datetime(2026, 1, 1, tzinfo=utc), datetime(2026, 2, 3, 9, tzinfo=utc)
    >>> [(w.end.day, r.end.day) for w, r in sync_windows(start, now, "month", "daily")]
    [(1, 1), (1, 4)]
    """
    if now <= start:
        return []
    horizon = _next_boundary(now, _GRANULARITY_UNIT[granularity])
    last_end = _next_boundary(now, window)
    windows = split_windows(start, last_end, window)  # type: ignore[arg-type]
    return [(w, Window(w.start, min(w.end, horizon))) for w in windows if w.start <= now]


def due_reason(
    window: Window, fetched_at: datetime | None, lookback: timedelta, now: datetime
) -> Reason | None:
    """Why the unit of ``window`` is due given when it was last fetched (``None``: never).

    >>> from datetime import datetime, timezone
    >>> utc = timezone.utc
    >>> w = Window(datetime(2026, 1, 1, tzinfo=utc), datetime(2026, 2, 1, tzinfo=utc))
    >>> due_reason(w, None, timedelta(days=3), datetime(2026, 3, 1, tzinfo=utc))
    'new'
    """
    if window.start > now:
        return None
    if fetched_at is None:
        return "new"
    if fetched_at < window.end:
        return "provisional"
    if fetched_at < window.end + lookback:
        return "lookback"
    return None


def plan_stream(
    stream: Stream,
    *,
    entities: Iterable[Entity],
    windows: Sequence[tuple[Window, Window]],
    states: UnitIndex,
    now: datetime,
    granularity: str,
) -> Iterator[DueUnit]:
    """Every due unit of ``stream``, entity by entity, windows in order.

    ``entities`` are those the stream covers (the organization, teams and users; only the
    organization for organization-wide streams); ``states`` the destination's units of the stream
    (its lookback is the run's). A snapshot stream has one unit, due on every run.
    """
    if not stream.incremental:
        yield DueUnit(stream, None, None, None, granularity, "new")
        return
    gran = stream.granularity or granularity
    for entity in entities:
        group = group_name(entity, gran)
        for window, request in windows:
            fetched_at = states.fetched_at(group, window)
            if fetched_at is None and states.settled(group, window):
                continue
            reason = due_reason(window, fetched_at, states.lookback, now)
            if reason is not None:
                yield DueUnit(stream, entity, window, request, gran, reason)
