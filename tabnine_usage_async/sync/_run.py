"""The run: open the destination, plan what is due, fetch it through the engine, write, record.

``run_sync`` is the library call behind ``tabnine-usage sync``. It takes the destination's lock
for the whole run, records the run in the ledger (``begin_run`` ... ``finish_run``), and writes
finished units in batches: each batch replaces its units' rows and records them done in one
transaction, so a run killed at any instant leaves whole units only, and the next run fetches
what is missing. ``plan_sync`` is the same planning without fetching (``--dry-run``).

Example::

    spec = SyncSpec.build("usage.sqlite", since="2026-01-01")
    async with TabnineClient() as client:
        summary = await run_sync(client, spec)
    print(summary.status, summary.records)
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import anyio
import attrs

from .._units import Entity, FailedUnit, WalkProgress
from ..client import TabnineClient
from ..destinations import (
    Destination,
    DestinationError,
    RunStatus,
    UnitWrite,
    open_destination,
)
from ..errors import InvalidParameterError, TabnineError
from ..listing import Roster, list_members
from ..models import Team
from ..streams import RowContext, Stream, default_streams
from ..windows import Window, format_datetime, to_utc
from ._engine import (
    FetchJob,
    JobDone,
    JobFailed,
    describe,
    fetch_jobs,
    group_jobs,
    unit_write,
)
from ._plan import DueUnit, UnitIndex, plan_stream, sync_windows
from ._spec import SyncSpec

__all__ = ["StreamPlan", "SyncPlan", "SyncSummary", "plan_sync", "run_sync"]

logger = logging.getLogger("tabnine_usage_async")

#: A batch is written once it holds this many units, even if they hold few rows.
BATCH_UNITS = 200
#: The ledger keeps at most this many failed units per run (the count is always exact).
LEDGER_FAILURES = 1000

_META_SINCE = "since"
_META_ORG = "organization_id"
#: Shown by the report: the organization's name and the seats its license grants.
_META_ORG_NAME = "organization_name"
_META_LICENSE_SEATS = "license_seats"


@attrs.frozen
class StreamPlan:
    """What a run will do for one stream: its due units by reason, and the range it covers."""

    stream: str
    units: int
    by_reason: Mapping[str, int]
    start: datetime | None
    end: datetime | None


@attrs.frozen
class SyncPlan:
    """Everything a run decided before fetching."""

    api_version: str
    streams: tuple[Stream, ...]
    organization_id: str
    start: datetime
    now: datetime
    entities: int
    jobs: int
    per_stream: tuple[StreamPlan, ...]
    listing_failures: tuple[FailedUnit, ...]


@attrs.frozen
class SyncSummary:
    """How a run ended.

    Attributes:
        status: ``succeeded``, ``partial`` (some units failed: run again), ``failed``.
        failed: the failed units (and listings) with their causes.
        per_stream: ``{stream: {"units", "rows", "failed", "from", "to"}}``.
    """

    run_id: int
    status: RunStatus
    api_version: str
    destination: str
    units_done: int
    records: int
    requests: int
    retries: int
    rate_limited: int
    elapsed: float
    failed: tuple[FailedUnit, ...]
    per_stream: Mapping[str, Mapping[str, Any]]

    @property
    def ok(self) -> bool:
        """Whether every due unit was written."""
        return self.status == "succeeded"

    def to_json(self) -> dict[str, Any]:
        """The ledger's ``summary``: JSON-ready, failed units capped at ``LEDGER_FAILURES``."""
        return {
            "records": self.records,
            "units": self.units_done,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "elapsed_seconds": round(self.elapsed, 3),
            "streams": {k: dict(v) for k, v in self.per_stream.items()},
            "failed_count": len(self.failed),
            "failed": [{"unit": f.key, "cause": f.cause} for f in self.failed[:LEDGER_FAILURES]],
        }


async def resolve_api(client: TabnineClient, spec: SyncSpec) -> str:
    """``v2`` or ``v1``: the spec's choice, or (``auto``) what the server supports."""
    if spec.api != "auto":
        return spec.api
    if await client.supports_v2_usage():
        return "v2"
    logger.warning(
        "the server has no v2 usage API (Tabnine before 6.2): syncing legacy v1 usage "
        "(stream usage_v1) instead of usage and agent usage"
    )
    return "v1"


def select_streams(spec: SyncSpec, api: str) -> tuple[Stream, ...]:
    """The spec's streams, or the defaults for ``api``; refuse v2 streams on a v1 server."""
    streams = spec.streams if spec.streams is not None else default_streams(api)
    if api == "v1":
        wrong = [s.name for s in streams if s.api == "v2"]
        if wrong:
            raise InvalidParameterError(
                f"stream(s) {', '.join(wrong)} need Tabnine 6.2 or later, and the server has "
                "only the v1 usage API: use --streams usage_v1,users,teams,seats"
            )
    return streams


def _entities(org_id: str, teams: Sequence[Team], roster: Roster | None) -> list[Entity]:
    entities = [Entity("organization", org_id)]
    entities += [Entity("team", t.id) for t in teams]
    if roster is not None:
        entities += [Entity("user", m.id, m.team_ids, m.email) for m in roster.members]
    return entities


class _Planner:
    """Lists the roster and plans every stream's due units (shared by run and dry run)."""

    def __init__(
        self, client: TabnineClient, spec: SyncSpec, dest: Destination | _NoDataset
    ) -> None:
        self.client = client
        self.spec = spec
        self.dest = dest
        self.listing_failures: list[FailedUnit] = []
        self.teams: list[Team] = []
        self.roster: Roster | None = None
        # Set by ``plan``.
        self.now = datetime.now(timezone.utc)
        self.entities: list[Entity] = []
        self.windows: dict[str, list[tuple[Window, Window]]] = {}
        self.streams: tuple[Stream, ...] = ()
        self.states: dict[str, UnitIndex] = {}

    async def start_of_dataset(self) -> datetime:
        stored_text = await self.dest.get_meta(_META_SINCE)
        stored = None if stored_text is None else to_utc(stored_text, name="stored since")
        candidates = [d for d in (stored, self.spec.since) if d is not None]
        if not candidates:
            raise InvalidParameterError(
                f"{self.dest.display} holds no dataset yet: give --since for the first sync"
            )
        return min(candidates)

    async def check_organization(self, org_id: str) -> None:
        stored = await self.dest.get_meta(_META_ORG)
        if stored is not None and stored != org_id:
            raise InvalidParameterError(
                f"{self.dest.display} holds the dataset of another organization ({stored}); "
                "sync into a new destination"
            )

    async def list_roster(self, streams: Sequence[Stream]) -> None:
        needs = any(s.units == "entities" or s.source == "roster" for s in streams)
        if not needs:
            return
        try:
            self.teams = [team async for team in self.client.iter_teams()]
        except TabnineError as exc:
            self.listing_failures.append(FailedUnit("list|teams", describe(exc), exc))
            return

        async def failed(key: str, exc: TabnineError) -> None:
            self.listing_failures.append(FailedUnit(key, describe(exc), exc))

        self.roster = await list_members(
            self.client, [t.id for t in self.teams], include_unassigned=True, on_error=failed
        )

    async def plan(self, api: str, streams: tuple[Stream, ...], org_id: str) -> SyncPlan:
        """List the roster, read the states and count what is due; ``jobs()`` then yields it.

        Due units are not kept: ``jobs()`` plans them again entity by entity while the engine
        fetches, so memory holds each stream's compact ``UnitIndex``, not a list of every due
        unit nor one state per unit written so far.
        """
        start = await self.start_of_dataset()
        now = self.spec.now or datetime.now(timezone.utc).replace(microsecond=0)
        if now <= start:
            raise InvalidParameterError(
                f"the dataset starts at {format_datetime(start)}, after now "
                f"({format_datetime(now)}): nothing to sync"
            )
        await self.list_roster(streams)
        self.now = now
        self.entities = _entities(org_id, self.teams, self.roster)
        gran = self.spec.granularity.value
        self.windows = {
            g: sync_windows(start, now, self.spec.window, g) for g in (gran, "all", "daily")
        }
        self.streams = streams
        self.states = {s.name: await self._index(s.name) for s in streams if s.incremental}
        tally = {s.name: _StreamTally() for s in streams}
        jobs = 0
        for units in self._unit_groups():
            for unit in units:
                tally[unit.stream.name].add(unit)
            jobs += len(group_jobs(u for u in units if u.stream.source != "roster"))
        roster = any(s.source == "roster" for s in streams)
        return SyncPlan(
            api_version=api,
            streams=streams,
            organization_id=org_id,
            start=start,
            now=now,
            entities=len(self.entities),
            jobs=jobs + int(roster),
            per_stream=tuple(tally[s.name].plan(s.name) for s in streams),
            listing_failures=tuple(self.listing_failures),
        )

    async def _index(self, stream: str) -> UnitIndex:
        index = UnitIndex(self.spec.lookback)
        async for batch in self.dest.unit_fetches(stream):
            index.add(batch)
        return index

    def _granularity(self, stream: Stream) -> str:
        if stream.granularity is not None:
            return stream.granularity
        return self.spec.granularity.value if stream.units == "entities" else "daily"

    def _due(self, stream: Stream, entities: Sequence[Entity]) -> list[DueUnit]:
        gran = self._granularity(stream)
        return list(
            plan_stream(
                stream,
                entities=entities,
                windows=self.windows[gran],
                states=self.states.get(stream.name) or UnitIndex(self.spec.lookback),
                now=self.now,
                granularity=gran,
            )
        )

    def _unit_groups(self) -> Iterator[list[DueUnit]]:
        """Due units in small groups: the snapshots, then the organization-wide streams, then
        each entity's units of every entity stream (one group per entity)."""
        once = [s for s in self.streams if s.units == "once"]
        org_wide = [s for s in self.streams if s.units == "organization"]
        per_entity = [s for s in self.streams if s.units == "entities"]
        yield [u for s in once for u in self._due(s, ())]
        yield [u for s in org_wide for u in self._due(s, self.entities[:1])]
        for entity in self.entities:
            units = [u for s in per_entity for u in self._due(s, (entity,))]
            if units:
                yield units

    def roster_units(self) -> list[DueUnit]:
        """The due units of the streams built from the roster (users, teams)."""
        return [u for s in self.streams if s.source == "roster" for u in self._due(s, ())]

    def jobs(self) -> Iterator[FetchJob]:
        """Every request to make, planned lazily (see ``plan``)."""
        for units in self._unit_groups():
            yield from group_jobs(u for u in units if u.stream.source != "roster")


@attrs.define
class _StreamTally:
    """Counts one stream's due units by reason, and the range they cover."""

    units: int = 0
    reasons: dict[str, int] = attrs.Factory(dict)
    start: datetime | None = None
    end: datetime | None = None

    def add(self, unit: DueUnit) -> None:
        self.units += 1
        self.reasons[unit.reason] = self.reasons.get(unit.reason, 0) + 1
        if unit.window is not None:
            w = unit.window
            self.start = w.start if self.start is None else min(self.start, w.start)
            self.end = w.end if self.end is None else max(self.end, w.end)

    def plan(self, name: str) -> StreamPlan:
        return StreamPlan(name, self.units, dict(self.reasons), self.start, self.end)


async def plan_sync(
    client: TabnineClient, spec: SyncSpec, destination: Destination | None = None
) -> SyncPlan:
    """What ``run_sync`` would fetch now, without fetching or writing (``--dry-run``).

    Lists the roster (a few requests) and reads the destination without taking its lock.
    """
    dest = destination if destination is not None else open_destination(spec.destination)
    api = await resolve_api(client, spec)
    streams = select_streams(spec, api)
    reader: Destination | _NoDataset = dest
    try:
        await dest.open([s.table for s in streams], lock=False)
    except DestinationError:
        if await anyio.Path(spec.destination).exists():
            raise
        reader = _NoDataset(dest.display)  # a first sync: nothing is there yet
    try:
        org_id = await client.resolve_organization_id()
        planner = _Planner(client, spec, reader)
        await planner.check_organization(org_id)
        return await planner.plan(api, streams, org_id)
    finally:
        await dest.close()


@attrs.frozen
class _NoDataset:
    """The state of a destination that does not exist yet, for a first sync's dry run."""

    display: str

    async def get_meta(self, key: str) -> str | None:
        return None

    async def unit_fetches(self, stream: str) -> AsyncIterator[list[tuple[str, datetime]]]:
        return
        yield


class _Writer:
    """Collects finished units and writes them in batches (bounded memory)."""

    def __init__(self, dest: Destination, run_id: int, batch_rows: int) -> None:
        self.dest = dest
        self.run_id = run_id
        self.batch_rows = batch_rows
        self.pending: list[UnitWrite] = []
        self.pending_rows = 0
        self.failed: list[FailedUnit] = []
        self.per_stream: dict[str, dict[str, Any]] = {}
        self.units = 0
        self.rows = 0

    def count(self, stream: str, key: str, amount: int = 1) -> None:
        """Add ``amount`` to a per-stream counter (``units``, ``rows`` or ``failed``)."""
        counts = self.per_stream.setdefault(stream, {"units": 0, "rows": 0, "failed": 0})
        counts[key] += amount

    async def add(self, writes: Sequence[UnitWrite]) -> None:
        for w in writes:
            self.pending.append(w)
            self.pending_rows += len(w.rows)
            self.count(w.stream, "units")
            self.count(w.stream, "rows", len(w.rows))
        if self.pending_rows >= self.batch_rows or len(self.pending) >= BATCH_UNITS:
            await self.flush()

    async def consume(self, item: JobDone | JobFailed) -> None:
        if isinstance(item, JobDone):
            await self.add(item.writes)
        else:
            self.failed += item.failures
            for u in item.job.units:
                self.count(u.stream.name, "failed")

    async def flush(self) -> None:
        if self.pending:
            await self.dest.write(self.run_id, self.pending)
            self.units += len(self.pending)
            self.rows += self.pending_rows
            self.pending = []
            self.pending_rows = 0


def _status(writer: _Writer) -> RunStatus:
    if not writer.failed:
        return "succeeded"
    return "partial" if writer.units else "failed"


def _roster_writes(
    due: Sequence[DueUnit], planner: _Planner, org_id: str, fetched_at: datetime
) -> Iterator[UnitWrite | FailedUnit]:
    """The users and teams snapshots, from the roster the run listed (no extra request).

    A roster with a failed listing would drop users or teams from the table, so then the
    snapshot fails instead and the previous one stays.
    """
    ctx = RowContext(org_id, None, fetched_at)
    for unit in due:
        if unit.stream.source != "roster":
            continue
        if planner.listing_failures or planner.roster is None:
            cause = "the roster listing failed: " + "; ".join(
                f.cause for f in planner.listing_failures[:3]
            )
            yield FailedUnit(f"{unit.stream.name}:{unit.key}", cause, RuntimeError(cause))
            continue
        answer: Any = planner.roster.members if unit.stream.name == "users" else planner.teams
        yield unit_write(unit, unit.stream.rows(answer, ctx), fetched_at)


async def run_sync(
    client: TabnineClient,
    spec: SyncSpec,
    destination: Destination | None = None,
    *,
    on_progress: Callable[[WalkProgress], None] | None = None,
) -> SyncSummary:
    """Bring the destination up to now: one run, recorded in its ledger.

    Raises ``DestinationBusyError`` when another run holds the destination, and
    ``InvalidParameterError`` for a job the destination cannot take (no ``since`` on a first
    sync, another organization's dataset, v2 streams on a v1 server). Failed units do not raise:
    the summary lists them (status ``partial`` or ``failed``) and the next run fetches them.
    Cancelled (Ctrl-C), the run is recorded ``interrupted`` and the cancellation goes on.
    """
    dest = destination if destination is not None else open_destination(spec.destination)
    began = time.monotonic()
    stats0 = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    api = await resolve_api(client, spec)
    streams = select_streams(spec, api)
    try:
        await dest.open([s.table for s in streams])
        org_id = await client.resolve_organization_id()
        planner = _Planner(client, spec, dest)
        await planner.check_organization(org_id)
        start = await planner.start_of_dataset()
        started_at = datetime.now(timezone.utc)
        job = {**spec.to_json(), "destination": dest.display, "organization_id": org_id}
        run_id = await dest.begin_run(started_at=started_at, api_version=api, job=job)
        writer = _Writer(dest, run_id, spec.batch_rows)
        progress = WalkProgress()
        try:
            await dest.set_meta(_META_ORG, org_id)
            await dest.set_meta(_META_SINCE, format_datetime(start))
            await record_organization(client, dest, org_id)
            plan = await planner.plan(api, streams, org_id)
            writer.failed += plan.listing_failures
            fetched = plan.now
            progress.units_total = plan.jobs
            progress.listing_done = True
            roster_units = planner.roster_units()
            for item in _roster_writes(roster_units, planner, org_id, fetched):
                if isinstance(item, FailedUnit):
                    writer.failed.append(item)
                    writer.count(item.key.split(":", 1)[0], "failed")
                else:
                    await writer.add([item])
            progress.units_done += int(bool(roster_units))

            async def consume(item: JobDone | JobFailed) -> None:
                await writer.consume(item)
                if on_progress is not None:
                    on_progress(progress)

            await fetch_jobs(
                client,
                org_id,
                planner.jobs(),
                consume,
                fetched_at=fetched,
                since=plan.start.date(),
                progress=progress,
            )
            await writer.flush()
        except BaseException as exc:
            status: RunStatus = (
                "interrupted"
                if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt))
                else "failed"
            )
            summary = _summary(
                run_id, status, api, dest, writer, client, stats0, began, plan_of=None
            )
            extra = {} if status == "interrupted" else {"error": describe(exc)}
            with anyio.CancelScope(shield=True):
                await dest.finish_run(
                    run_id,
                    status=status,
                    finished_at=datetime.now(timezone.utc),
                    summary={**summary.to_json(), **extra},
                )
            raise
        status = _status(writer)
        summary = _summary(run_id, status, api, dest, writer, client, stats0, began, plan_of=plan)
        await dest.finish_run(
            run_id,
            status=status,
            finished_at=datetime.now(timezone.utc),
            summary=summary.to_json(),
        )
        return summary
    finally:
        with anyio.CancelScope(shield=True):
            await dest.close()


async def record_organization(client: TabnineClient, dest: Destination, org_id: str) -> None:
    """Store the organization's name and licensed seats in the dataset, for the report.

    Neither is needed to sync: when the server will not tell (a token without the rights, an
    installation without a license endpoint), the value is left as it was and the run goes on.
    """
    try:
        org = await client.get_organization()
    except TabnineError as exc:
        logger.warning("could not read the organization's name, not recorded: %s", describe(exc))
    else:
        if org.id == org_id and org.name:
            await dest.set_meta(_META_ORG_NAME, org.name)
    try:
        granted = await client.get_license()
    except TabnineError as exc:
        logger.warning("could not read the license, licensed seats not recorded: %s", describe(exc))
    else:
        if granted.seats is not None:
            await dest.set_meta(_META_LICENSE_SEATS, str(granted.seats))


def _summary(
    run_id: int,
    status: RunStatus,
    api: str,
    dest: Destination,
    writer: _Writer,
    client: TabnineClient,
    stats0: tuple[int, int, int],
    began: float,
    *,
    plan_of: SyncPlan | None,
) -> SyncSummary:
    per_stream: dict[str, dict[str, Any]] = {}
    if plan_of is not None:
        for p in plan_of.per_stream:
            per_stream[p.stream] = {
                "units": 0,
                "rows": 0,
                "failed": 0,
                "from": None if p.start is None else format_datetime(p.start),
                "to": None if p.end is None else format_datetime(p.end),
            }
    for name, counts in writer.per_stream.items():
        per_stream.setdefault(name, {}).update(counts)
    stats = client.stats
    return SyncSummary(
        run_id=run_id,
        status=status,
        api_version=api,
        destination=dest.display,
        units_done=writer.units,
        records=writer.rows,
        requests=stats.requests - stats0[0],
        retries=stats.retries - stats0[1],
        rate_limited=stats.rate_limited - stats0[2],
        elapsed=time.monotonic() - began,
        failed=tuple(writer.failed),
        per_stream=per_stream,
    )
