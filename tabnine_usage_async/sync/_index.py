"""What the destination holds of one stream's units, in memory that follows the entities (pure).

A year of daily syncs of a 10,000-user organization records some 130,000 units per stream, and
the planner needs of each only whether it can still be due. A unit fetched at or after its
window's end plus the lookback is *settled*: no later run fetches it again (see ``due_reason``).
:class:`UnitIndex` keeps the settled units of each entity as merged time spans (one span per
entity when none is missing), and only the few units that may still be due (the open window, the
lookback) with their fetch times. It is filled batch by batch from
``Destination.unit_fetches``, so neither the destination's rows nor one object per unit are ever
held at once.

A unit key is ``<scope>:<id>:<start>/<end>:<granularity>`` (:func:`unit_key`); keys of another
form are never planned, so the index leaves them out.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from .._units import Entity
from ..windows import Window, format_datetime

__all__ = ["UnitIndex", "group_name", "split_unit_key", "unit_key"]

#: A key's timestamps, as ``format_datetime`` writes them: UTC, whole seconds, ``Z``.
_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_KEY = re.compile(rf"(.+):({_TIME})/({_TIME}):(\w+)", re.DOTALL)

#: ``[start, end)`` of a window, or of settled windows.
Span = tuple[datetime, datetime]

#: Characters of a key's window: two timestamps and a slash.
_SPAN = 41


def unit_key(entity: Entity, window: Window, granularity: str) -> str:
    """``<scope>:<id>:<start>/<end>:<granularity>``, e.g. ``user:u1:2026-01-01T00:00:00Z/...``."""
    span = f"{format_datetime(window.start)}/{format_datetime(window.end)}"
    return f"{entity.scope}:{entity.id}:{span}:{granularity}"


def split_unit_key(key: str) -> tuple[str, str, str, str] | None:
    """``(entity, start, end, granularity)`` of a key :func:`unit_key` made, else ``None``.

    ``entity`` is ``<scope>:<id>``; the timestamps are the key's text.

    >>> split_unit_key("user:u1:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z:daily")
    ('user:u1', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', 'daily')
    """
    found = _KEY.fullmatch(key)
    if found is None:
        return None
    entity, start, end, granularity = found.groups()
    return entity, start, end, granularity


def group_name(entity: Entity, granularity: str) -> str:
    """The index's name for the units of one entity at one granularity."""
    return f"{entity.scope}:{entity.id}:{granularity}"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)


def _cover(spans: list[Span], start: datetime, end: datetime) -> None:
    """Add ``[start, end)`` to sorted, disjoint ``spans``, merging what touches or overlaps."""
    if spans and spans[-1][1] == start:  # keys arrive sorted: each window continues the last
        spans[-1] = (spans[-1][0], end)
        return
    if not spans or spans[-1][1] < start:
        spans.append((start, end))
        return
    spans.append((start, end))
    spans.sort()
    merged = [spans[0]]
    for low, high in spans[1:]:
        if low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    spans[:] = merged


class UnitIndex:
    """One stream's units as the planner sees them with a given lookback.

    Fill it with :meth:`add` (``(unit key, fetched_at)`` pairs, in any order; sorted keys merge
    fastest), then ask :meth:`fetched_at` and :meth:`settled` per entity group and window.

    A window without a unit of its own that lies inside settled spans counts as settled too: its
    rows were fetched as part of a longer window after the lookback had passed (this happens only
    when ``window`` changes between runs).
    """

    def __init__(self, lookback: timedelta) -> None:
        self.lookback = lookback
        self._settled: dict[str, list[Span]] = {}
        self._open: dict[str, list[tuple[datetime, datetime, datetime]]] = {}
        # The windows and granularities seen in keys, checked and parsed once, held once.
        self._spans: dict[str, Span] = {}
        self._granularities: set[str] = set()
        #: Unit keys added (keys of another form are not counted).
        self.units = 0

    @classmethod
    def of(cls, fetches: Iterable[tuple[str, datetime]], lookback: timedelta) -> UnitIndex:
        """An index of ``fetches`` (``(unit key, fetched_at)`` pairs)."""
        index = cls(lookback)
        index.add(fetches)
        return index

    def _split(self, key: str) -> tuple[str, Span, str] | None:
        """``(entity, window, granularity)`` of a unit key, as ``split_unit_key`` reads it.

        A dataset has some 130,000 keys but only a few dozen windows and granularities: the
        windows' text is parsed and checked once, then each key is only sliced.
        """
        head, _, granularity = key.rpartition(":")
        span = self._spans.get(head[-_SPAN:])
        if span is not None and granularity in self._granularities:
            entity = head[: -_SPAN - 1]
            if entity and head[-_SPAN - 1] == ":":
                return entity, span, granularity
        parts = split_unit_key(key)
        if parts is None:
            return None
        entity, start, end, granularity = parts
        span = self._spans.setdefault(f"{start}/{end}", (_parse_time(start), _parse_time(end)))
        self._granularities.add(granularity)
        return entity, span, granularity

    def add(self, fetches: Iterable[tuple[str, datetime]]) -> None:
        """Record units the destination holds: ``(unit key, fetched_at)`` pairs."""
        for key, fetched_at in fetches:
            parts = self._split(key)
            if parts is None:
                continue
            self.units += 1
            entity, (start, end), granularity = parts
            group = f"{entity}:{granularity}"
            if fetched_at >= end + self.lookback:
                _cover(self._settled.setdefault(group, []), start, end)
            else:
                self._open.setdefault(group, []).append((start, end, fetched_at))

    @property
    def held(self) -> int:
        """Settled spans plus units that may still be due: what the index's memory follows."""
        return sum(map(len, self._settled.values())) + sum(map(len, self._open.values()))

    def fetched_at(self, group: str, window: Window) -> datetime | None:
        """When the unit of ``window`` was fetched, if it may still be due; else ``None``."""
        for start, end, fetched_at in self._open.get(group, ()):
            if start == window.start and end == window.end:
                return fetched_at
        return None

    def settled(self, group: str, window: Window) -> bool:
        """Whether ``window`` lies inside the group's settled units."""
        spans = self._settled.get(group)
        if not spans:
            return False
        at = bisect_right(spans, window.start, key=lambda span: span[0]) - 1
        return at >= 0 and spans[at][1] >= window.end
