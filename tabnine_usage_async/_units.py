"""The units of a walk, pure: entities, windows -> work units, failures, progress counters.

Shared by the engine (``sync._engine``), the walk (``orchestrator``), ``backfill`` and ``sync``;
nothing here touches the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Literal

import attrs

from .errors import InvalidParameterError
from .models import Granularity, UsageReport
from .records import Scope, UsageRecord, records_from_report
from .windows import Window, WindowSpec, format_datetime, window_state

__all__ = [
    "SCOPES",
    "Entity",
    "FailedUnit",
    "OnError",
    "UnitResult",
    "WalkProgress",
    "WorkUnit",
    "entity_records",
    "parse_scopes",
    "parse_window",
    "plan_units",
    "planned_windows",
]

#: Every scope, in walk order.
SCOPES: tuple[Scope, ...] = ("organization", "team", "user")

#: ``"raise"`` stops at the first unit that fails after retries; ``"collect"`` keeps going.
OnError = Literal["raise", "collect"]


@attrs.frozen
class Entity:
    """Something usage is fetched for: the organization, a team, or a user with its teams."""

    scope: Scope
    id: str
    team_ids: tuple[str, ...] = ()
    email: str | None = None


@attrs.frozen
class WorkUnit:
    """One request: usage of one entity over one window."""

    entity: Entity
    window: Window

    @property
    def key(self) -> str:
        """A stable id of the unit, used by checkpoints: ``scope|id|start|end``."""
        return "|".join(
            (
                self.entity.scope,
                self.entity.id,
                format_datetime(self.window.start),
                format_datetime(self.window.end),
            )
        )


@attrs.frozen
class UnitResult:
    """The records of one finished unit."""

    unit: WorkUnit
    records: tuple[UsageRecord, ...]


@attrs.frozen
class FailedUnit:
    """A unit (or a listing) that still failed after the client's retries.

    Attributes:
        key: the unit key, or ``list|...`` for a listing.
        cause: one readable line: the error class and message.
    """

    key: str
    cause: str
    error: BaseException = attrs.field(eq=False, repr=False)


@attrs.define
class WalkProgress:
    """Live counters of a walk, for progress bars.

    ``units_total`` is ``None`` until every entity has been listed, then the number of units
    the walk covers (skipped ones included), so a progress bar can show a total and an ETA.
    """

    units_total: int | None = None
    units_planned: int = 0
    units_skipped: int = 0
    units_done: int = 0
    units_failed: int = 0
    records: int = 0
    listing_done: bool = False


def parse_scopes(scopes: Iterable[str] | str) -> tuple[Scope, ...]:
    """Validate scopes (an iterable or a comma-separated string); return them in walk order.

    >>> parse_scopes("user,organization")
    ('organization', 'user')
    """
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    wanted = {str(s).strip().lower() for s in items if str(s).strip()}
    unknown = wanted.difference(SCOPES)
    if unknown or not wanted:
        raise InvalidParameterError(
            f"unknown scope(s) {sorted(unknown) or '(none given)'}: use any of {', '.join(SCOPES)}"
        )
    return tuple(s for s in SCOPES if s in wanted)


def parse_window(window: WindowSpec | str) -> WindowSpec:
    """Accept ``"day"``, ``"week"``, ``"month"``, ``"none"``/``None`` or a ``timedelta``.

    >>> parse_window("Month")
    'month'
    """
    if window is None or isinstance(window, timedelta):
        return window
    if isinstance(window, str):
        text = window.strip().lower()
        if text in ("day", "week", "month"):
            return text  # type: ignore[return-value]
        if text in ("none", "whole", "all"):
            return None
    raise InvalidParameterError(
        f"unknown window {window!r}: use 'day', 'week', 'month', 'none', or a timedelta"
    )


def plan_units(entities: Iterable[Entity], windows: Sequence[Window]) -> Iterator[WorkUnit]:
    """Every (entity, window) pair, entity by entity, windows in order. Pure.

    >>> from datetime import datetime, timezone
    >>> utc = timezone.utc
    >>> w = [Window(datetime(2026, 1, 1, tzinfo=utc), datetime(2026, 2, 1, tzinfo=utc))]
    >>> [u.key for u in plan_units([Entity("team", "t1")], w)]
    ['team|t1|2026-01-01T00:00:00Z|2026-02-01T00:00:00Z']
    """
    for entity in entities:
        for window in windows:
            yield WorkUnit(entity, window)


def planned_windows(
    windows: Sequence[Window], granularity: Granularity, now: datetime, *, final_only: bool
) -> list[Window]:
    """The windows a walk requests at ``now``. Pure.

    A window that has not begun is never requested: it has no usage yet. With ``final_only``
    (what a backfill uses), a window is requested only when every period in it has ended, so
    that a unit marked done never holds numbers that still change.
    """
    wanted = ("ended",) if final_only else ("ended", "open")
    return [w for w in windows if window_state(w, granularity.value, now) in wanted]


def entity_records(report: UsageReport, organization_id: str, entity: Entity) -> list[UsageRecord]:
    """The ``UsageRecord``s of a v1 report about ``entity``, ids taken from the entity. Pure."""
    if entity.scope == "organization":
        return records_from_report(report, scope="organization", organization_id=organization_id)
    if entity.scope == "team":
        return records_from_report(
            report, scope="team", organization_id=organization_id, team_id=entity.id
        )
    return records_from_report(
        report,
        scope="user",
        organization_id=organization_id,
        team_ids=entity.team_ids,
        user_id=entity.id,
        user_email=entity.email,
    )
