"""What a backfill fetches: its streams' units over a fixed range, as jobs for the engine. Pure.

A backfill has no destination state to plan from: every unit of ``[start, end)`` whose windows
have ended is due, except those its checkpoint already holds. The units are the sync planner's
(``sync._plan.plan_stream``), so a stream is split and requested the same way by both commands;
only their checkpoint keys differ. Without ``streams`` a backfill writes ``usage_records`` (the
``UsageRecord`` columns, from v1 usage) under the unit keys of the walk, ``scope|id|start|end``,
so checkpoints of earlier versions resume; with streams a key is ``<stream>:<unit key>``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ._units import Entity, WorkUnit, entity_records
from .records import Scope
from .sinks._schema import RECORDS_TABLE, record_row
from .streams import RowContext, Stream
from .sync._engine import group_jobs
from .sync._feed import EntityPlan
from .sync._plan import DueUnit, UnitIndex, plan_stream
from .windows import Window

__all__ = ["RECORDS_STREAM", "BackfillJobs"]


def records_rows(report: Any, ctx: RowContext) -> list[dict[str, Any]]:
    """A v1 usage report -> ``usage_records`` rows (``UsageRecord`` columns)."""
    assert ctx.entity is not None  # an entity stream
    return [record_row(r) for r in entity_records(report, ctx.organization_id, ctx.entity)]


#: The output of a backfill without streams: ``UsageRecord`` rows of legacy v1 usage.
#: A fixed range is fetched whole: no unit is done before the checkpoint says so.
_NOTHING_DONE = UnitIndex(timedelta(0))

RECORDS_STREAM = Stream(
    "usage_records",
    RECORDS_TABLE,
    "incremental",
    "entities",
    "usage_v1",
    records_rows,
    api="v1",
    default=False,
    doc="legacy v1 usage as UsageRecord columns (a backfill without --streams)",
)


@attrs.frozen
class BackfillJobs:
    """Plans the jobs of a backfill of ``streams`` over ``windows`` (those that have ended).

    Attributes:
        streams: the streams written, ``(RECORDS_STREAM,)`` without ``--streams``.
        windows: the windows fetched for every entity.
        granularity: the job's granularity (streams with their own keep theirs).
        scopes: the entity scopes fetched.
        now: the moment of the run; rows carry it as ``fetched_at``.
        done: checkpoint keys of units finished by an earlier run.
    """

    streams: tuple[Stream, ...]
    windows: Sequence[Window]
    granularity: str
    scopes: Collection[Scope]
    now: datetime
    done: Collection[str] = frozenset()

    @property
    def legacy(self) -> bool:
        """Whether this is the ``UsageRecord`` output of a backfill without streams."""
        return self.streams == (RECORDS_STREAM,)

    def key(self, unit: DueUnit) -> str:
        """The unit's key in the checkpoint."""
        if self.legacy and unit.entity is not None and unit.window is not None:
            return WorkUnit(unit.entity, unit.window).key
        return f"{unit.stream.name}:{unit.key}"

    def _units(self, streams: Sequence[Stream], entity: Entity | None) -> list[DueUnit]:
        pairs = [(w, w) for w in self.windows]
        units: list[DueUnit] = []
        for stream in streams:
            units += plan_stream(
                stream,
                entities=() if entity is None else (entity,),
                windows=pairs,
                states=_NOTHING_DONE,
                now=self.now,
                granularity=stream.granularity or self.granularity,
            )
        return units

    def _plan(self, units: list[DueUnit]) -> EntityPlan:
        due = [u for u in units if self.key(u) not in self.done]
        return EntityPlan(group_jobs(due), len(units), len(units) - len(due))

    @property
    def entity_streams(self) -> tuple[Stream, ...]:
        """Streams with one unit per entity and window."""
        return tuple(s for s in self.streams if s.units == "entities")

    @property
    def roster_streams(self) -> tuple[Stream, ...]:
        """Snapshot streams built from the roster the run lists anyway (users, teams)."""
        return tuple(s for s in self.streams if s.source == "roster")

    def plan(self, entity: Entity) -> EntityPlan:
        """The jobs of ``entity`` in every entity stream."""
        return self._plan(self._units(self.entity_streams, entity))

    def units_of(self, scope: Scope) -> int:
        """How many units an entity of ``scope`` has."""
        return len(self.entity_streams) * len(self.windows) if scope in self.scopes else 0

    def once(self, organization: Entity) -> EntityPlan:
        """Jobs of no entity: snapshots fetched by a request, organization-wide streams."""
        snapshots = [s for s in self.streams if s.units == "once" and s.source != "roster"]
        org_wide = [s for s in self.streams if s.units == "organization"]
        return self._plan(self._units(snapshots, None) + self._units(org_wide, organization))

    def roster_units(self) -> tuple[list[DueUnit], int]:
        """The due units of the roster streams, and how many of them are done already."""
        units = self._units(self.roster_streams, None)
        due = [u for u in units if self.key(u) not in self.done]
        return due, len(units) - len(due)

    def fetches(self, entities: Mapping[str, int]) -> dict[str, int]:
        """Requests per source-sharing stream group for ``entities`` of each scope (dry run).

        Streams that share a source share its requests: the count goes to the first of them.
        """
        per: dict[str, int] = {}
        seen: set[object] = set()
        count = sum(n for scope, n in entities.items() if scope in self.scopes)
        for stream in self.streams:
            ident = (stream.source, stream.granularity)
            if stream.source == "roster":
                per[stream.name] = 0  # built from the listing
                continue
            if ident in seen:
                per[stream.name] = 0
                continue
            seen.add(ident)
            if stream.units == "entities":
                per[stream.name] = count * len(self.windows)
            elif stream.units == "organization":
                per[stream.name] = len(self.windows)
            else:
                per[stream.name] = 1
        return per
