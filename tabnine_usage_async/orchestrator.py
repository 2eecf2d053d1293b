"""The walk: every usage record of the organization, its teams and their users, as an iterator.

``walk_usage`` streams ``UsageRecord``s (legacy v1 usage) of ``[start, end)``. It is a thin
adapter over the one engine every job runs on (``sync._engine.fetch_jobs``, fed by the roster feed
of ``sync._feed``): each (entity, window) is one job, and each finished job's answer becomes the
records of its unit. Every buffer is bounded by the client's concurrency, so a slow consumer
slows the walk instead of growing a queue, and memory follows the concurrency, not the size of the
organization (save the roster, needed to fetch a user who is in several teams once with all its
teams). The pure pieces (``Entity``, ``plan_units``...) live in ``_units`` and are re-exported.

Example::

    async with TabnineClient() as client:
        async for record in walk_usage(client, "2026-01-01", "2026-07-01", window="month"):
            print(record.scope, record.entity_id, record.period_start, record.code_completions)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import datetime, timezone

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ._groups import only_error
from ._units import (
    SCOPES,
    Entity,
    FailedUnit,
    OnError,
    UnitResult,
    WalkProgress,
    WorkUnit,
    entity_records,
    parse_scopes,
    parse_window,
    plan_units,
    planned_windows,
)
from ._wire import parse_granularity
from .client import TabnineClient
from .errors import InvalidParameterError
from .models import Granularity
from .records import Scope, UsageRecord
from .sync._engine import FetchJob, JobDone, JobFailed, describe, fetch_jobs
from .sync._feed import EntityPlan, RosterFeed, organization_and_teams
from .windows import DateLike, WindowSpec, resolve_range, split_windows, to_utc

__all__ = [
    "SCOPES",
    "Entity",
    "FailedUnit",
    "OnError",
    "UnitResult",
    "UsageWalk",
    "WalkProgress",
    "WorkUnit",
    "parse_scopes",
    "parse_window",
    "plan_units",
    "planned_windows",
    "walk_usage",
]


class UsageWalk:
    """An async iterable over the usage records of a walk (see ``walk_usage``).

    Iterate it once. After iteration, ``failures`` lists units that failed under
    ``on_error="collect"``, and ``progress`` holds the final counters. Breaking out of the loop or
    cancelling the consuming task stops every request of the walk; ``async with`` (or
    ``aclose()``) makes that cleanup deterministic instead of waiting for garbage collection.
    """

    def __init__(
        self,
        client: TabnineClient,
        start: DateLike,
        end: DateLike,
        *,
        granularity: Granularity | str = Granularity.DAILY,
        window: WindowSpec | str = "month",
        scopes: Iterable[str] | str = SCOPES,
        include_unassigned: bool = True,
        on_error: OnError = "raise",
        skip: Collection[str] = (),
        now: DateLike | None = None,
        final_only: bool = False,
    ) -> None:
        start_utc, end_utc = resolve_range(start, end)
        self.granularity = parse_granularity(granularity)
        self.windows = split_windows(start_utc, end_utc, parse_window(window))
        self.now = datetime.now(timezone.utc) if now is None else to_utc(now, name="now")
        #: The windows requested for each entity (``windows`` minus those not begun or, with
        #: ``final_only``, not ended at ``now``); later windows are left for a later run.
        self.planned = planned_windows(
            self.windows, self.granularity, self.now, final_only=final_only
        )
        self.scopes = parse_scopes(scopes)
        if on_error not in ("raise", "collect"):
            raise InvalidParameterError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
        self.on_error: OnError = on_error
        self.include_unassigned = bool(include_unassigned)
        self.failures: list[FailedUnit] = []
        self.progress = WalkProgress()
        self._client = client
        self._skip: set[str] = set(skip)
        self._workers = max(1, client.max_concurrency)
        self._iterator: AsyncIterator[UnitResult | FailedUnit] | None = None
        self._feed: RosterFeed | None = None

    @property
    def _early(self) -> Collection[str]:
        """The users fetched while the roster was still listed (see ``sync._feed``)."""
        return () if self._feed is None else self._feed.early.keys()

    def skip_units(self, keys: Iterable[str]) -> None:
        """Leave out these unit keys (finished by an earlier run); call before iterating."""
        if self._iterator is not None:
            raise RuntimeError("skip_units must be called before the walk starts")
        self._skip.update(keys)

    # -- consumer side -----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[UsageRecord]:
        return self._records()

    async def __aenter__(self) -> UsageWalk:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the walk now and wait until every request of it has ended."""
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]

    async def _records(self) -> AsyncIterator[UsageRecord]:
        async for result in self.units():
            for record in result.records:
                yield record

    async def units(self) -> AsyncIterator[UnitResult]:
        """The walk unit by unit: each finished request with its records."""
        async for item in self.results():
            if isinstance(item, UnitResult):
                yield item

    def results(self) -> AsyncIterator[UnitResult | FailedUnit]:
        """Finished and failed units as they complete (failed ones also go to ``failures``)."""
        if self._iterator is not None:
            raise RuntimeError("a UsageWalk can be iterated only once")
        self._iterator = self._run()
        return self._iterator

    async def _run(self) -> AsyncIterator[UnitResult | FailedUnit]:
        send, receive = anyio.create_memory_object_stream[UnitResult | FailedUnit](self._workers)
        # The engine runs in its own task, so that the consumer can break out of this generator
        # at any time: the finally clause cancels the engine and waits for it to end.
        engine = asyncio.ensure_future(self._engine(send))
        try:
            async for item in receive:
                if isinstance(item, FailedUnit):
                    self.failures.append(item)
                    self.progress.units_failed += 1
                else:
                    self.progress.units_done += 1
                    self.progress.records += len(item.records)
                yield item
            try:
                await engine
            except BaseException as exc:
                raise only_error(exc) from None
        finally:
            # Cancel the engine before closing the stream, so no worker meets a closed stream.
            if not engine.done():
                engine.cancel()
                await asyncio.wait([engine])
            if not engine.cancelled():
                engine.exception()  # retrieved: the consumer left, so nobody else wants it
            receive.close()

    # -- engine side -------------------------------------------------------------------------

    def _plan(self, entity: Entity) -> EntityPlan:
        """One job per window of ``entity`` not finished by an earlier run."""
        gran = self.granularity.value
        jobs = [
            FetchJob("usage_v1", entity, unit.window, gran, ())
            for unit in plan_units([entity], self.planned)
            if not self._skip or unit.key not in self._skip
        ]
        return EntityPlan(jobs, len(self.planned), len(self.planned) - len(jobs))

    async def _engine(self, results: MemoryObjectSendStream[UnitResult | FailedUnit]) -> None:
        async with results:
            needs_teams = "team" in self.scopes or "user" in self.scopes
            org_id, teams = await organization_and_teams(self._client, teams=needs_teams)

            async def listing_failed(failure: FailedUnit) -> None:
                if self.on_error == "raise":
                    raise failure.error
                await results.send(failure)

            feed = self._feed = RosterFeed(
                self._client,
                org_id,
                plan=self._plan,
                units_of=self._units_of,
                scopes=self.scopes,
                include_unassigned=self.include_unassigned,
                fetched_at=self.now,
                on_listing_error=listing_failed,
                teams=teams,
            )
            # Listing counters come from the feed; done and failed ones are counted in ``_run``.
            self.progress = feed.progress

            async def consume(item: JobDone | JobFailed) -> None:
                for final in feed.settle(item):
                    await results.send(self._unit(org_id, final))

            await fetch_jobs(
                self._client,
                org_id,
                feed.produce,
                consume,
                fetched_at=self.now,
                since=self.windows[0].start.date(),
                slots=feed.slots,
            )
            for final in feed.release():
                await results.send(self._unit(org_id, final))

    def _units_of(self, scope: Scope) -> int:
        return len(self.planned) if scope in self.scopes else 0

    def _unit(self, org_id: str, item: JobDone | JobFailed) -> UnitResult | FailedUnit:
        """A finished job as the walk's unit result; a failed one raises under ``"raise"``."""
        entity, window = item.job.entity, item.job.request
        assert entity is not None  # every walk job has an entity and a window
        assert window is not None
        unit = WorkUnit(entity, window)
        if isinstance(item, JobFailed):
            assert item.error is not None
            if self.on_error == "raise":
                raise item.error
            return FailedUnit(unit.key, describe(item.error), item.error)
        return UnitResult(unit, tuple(entity_records(item.answer, org_id, entity)))


def walk_usage(
    client: TabnineClient,
    start: DateLike,
    end: DateLike,
    granularity: Granularity | str = Granularity.DAILY,
    window: WindowSpec | str = "month",
    scopes: Iterable[str] | str = SCOPES,
    include_unassigned: bool = True,
    on_error: OnError = "raise",
    *,
    skip: Collection[str] = (),
    now: DateLike | None = None,
    final_only: bool = False,
) -> UsageWalk:
    """Walk the organization, its teams and their users, streaming ``UsageRecord``s.

    Each entity's ``[start, end)`` is split into calendar windows (``"day"``, ``"week"``,
    ``"month"``, a ``timedelta``, or ``None`` for one request per entity); each window is one
    request at ``granularity``. A user in several teams is fetched once and its records list every
    team. Records arrive as soon as their request completes, so their order is not fixed.
    Arguments are validated here, before any request.

    Args:
        on_error: ``"raise"`` stops at the first unit that fails after retries; ``"collect"``
            goes on and lists the failed units in ``walk.failures`` when iteration ends.
        skip: unit keys to leave out (units finished by an earlier run).
        now: the current moment (default: the clock); windows that have not begun by then are
            never requested.
        final_only: request only windows whose every period has ended by ``now``.

    Example::

        walk = walk_usage(client, date(2026, 1, 1), date(2026, 7, 1), on_error="collect")
        async with walk:
            async for record in walk:
                ...
        print(len(walk.failures), "units failed")
    """
    return UsageWalk(
        client,
        start,
        end,
        granularity=granularity,
        window=window,
        scopes=scopes,
        include_unassigned=include_unassigned,
        on_error=on_error,
        skip=skip,
        now=now,
        final_only=final_only,
    )
