"""The fan-out walk: organization, then teams, then every team's users, each over every window.

Two parts. ``plan_units`` is pure: entities x windows -> work units, tested from tables. The walk is
the concurrent part: a background task lists teams and users and feeds units into a bounded queue,
a pool of workers fetches them, and results flow back through a bounded stream. Every buffer is
bounded by the client's concurrency, so a slow consumer slows the walk instead of growing a queue,
and memory follows the concurrency, not the size of the organization (save one small index of user
ids, needed to fetch a user who is in several teams once).

Example::

    async with TabnineClient() as client:
        async for record in walk_usage(client, "2026-01-01", "2026-07-01", window="month"):
            print(record.scope, record.entity_id, record.period_start, record.code_completions)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._groups import only_error
from ._wire import parse_granularity
from .client import TabnineClient
from .errors import InvalidParameterError, TabnineError
from .listing import list_members
from .models import Granularity, UsageReport, User
from .records import Scope, UsageRecord, records_from_report
from .windows import (
    DateLike,
    Window,
    WindowSpec,
    format_datetime,
    resolve_range,
    split_windows,
    to_utc,
    window_state,
)

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

#: Every scope, in walk order.
SCOPES: tuple[Scope, ...] = ("organization", "team", "user")

#: While the roster is listed, up to this many rounds of ``max_concurrency`` user units are
#: fetched ahead and held (a slow installation's listing takes a dozen round trips; each held
#: answer is one report, a few KB to a few tens of KB).
EARLY_ROUNDS = 8

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


def _describe(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


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
        # Users whose units started before the roster was complete (see ``_list_users``), and
        # what those units returned meanwhile, held until the roster says who is in which team.
        self._early: dict[str, None] = {}
        self._held: list[tuple[WorkUnit, UsageReport | TabnineError]] = []
        self._roster: dict[str, Entity] | None = None
        self._fetch_slots: anyio.CapacityLimiter  # made in _engine, inside the event loop

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

    async def _engine(self, results: MemoryObjectSendStream[UnitResult | FailedUnit]) -> None:
        async with results:
            org_id = await self._client.resolve_organization_id()
            # Usage fetches hold one of these; fewer while listings run (see ``_produce``).
            self._fetch_slots = anyio.CapacityLimiter(self._workers)
            units, queue = anyio.create_memory_object_stream[WorkUnit](self._workers)
            async with anyio.create_task_group() as tg:
                for _ in range(self._workers):
                    tg.start_soon(self._worker, org_id, queue.clone(), results.clone())
                queue.close()
                async with units:
                    await self._produce(org_id, units, results)
            self.progress.listing_done = True

    async def _submit(self, units: MemoryObjectSendStream[WorkUnit], entity: Entity) -> None:
        for unit in plan_units([entity], self.planned):
            self.progress.units_planned += 1
            if unit.key in self._skip:
                self.progress.units_skipped += 1
                continue
            await units.send(unit)

    async def _fail(
        self, results: MemoryObjectSendStream[UnitResult | FailedUnit], key: str, exc: TabnineError
    ) -> None:
        if self.on_error == "raise":
            raise exc
        await results.send(FailedUnit(key, _describe(exc), exc))

    async def _produce(
        self,
        org_id: str,
        units: MemoryObjectSendStream[WorkUnit],
        results: MemoryObjectSendStream[UnitResult | FailedUnit],
    ) -> None:
        if "organization" in self.scopes:
            await self._submit(units, Entity("organization", org_id))
        windows = len(self.planned)
        if "team" not in self.scopes and "user" not in self.scopes:
            self.progress.units_total = self.progress.units_planned
            self.progress.listing_done = True
            return
        try:
            teams = [team async for team in self._client.iter_teams()]
        except TabnineError as exc:
            self.progress.units_total = self.progress.units_planned
            await self._fail(results, "list|teams", exc)
            return
        members: dict[str, Entity] = {}
        if "user" in self.scopes:
            # Keep a connection free for each listing (they page one after the other): usage
            # fetches filling every slot would make each page wait a whole round trip.
            listings = len(teams) + (2 if self.include_unassigned else 0)
            reserve = min(self._workers // 2, listings)
            self._fetch_slots.total_tokens = max(1, self._workers - reserve)
        async with anyio.create_task_group() as tg:
            if "user" in self.scopes:
                tg.start_soon(self._list_users, [t.id for t in teams], members, units, results)
            if "team" in self.scopes:
                for team in teams:
                    await self._submit(units, Entity("team", team.id))
        self._fetch_slots.total_tokens = self._workers
        team_units = len(teams) * windows if "team" in self.scopes else 0
        org_units = windows if "organization" in self.scopes else 0
        self.progress.units_total = org_units + team_units + len(members) * windows
        self.progress.listing_done = True
        for entity in members.values():
            if entity.id not in self._early:
                await self._submit(units, entity)

    async def _list_users(
        self,
        team_ids: list[str],
        members: dict[str, Entity],
        units: MemoryObjectSendStream[WorkUnit],
        results: MemoryObjectSendStream[UnitResult | FailedUnit],
    ) -> None:
        """Fill ``members`` with every user once, with all of the user's teams, in team order.

        A user's records name all of the user's teams, known only once every listing has ended,
        but the user's usage does not depend on them: while the listings run, the first users
        listed are fetched already (up to ``EARLY_ROUNDS x max_concurrency`` units), so that
        the requests in flight do not drop to the few organization and team units while the
        roster is read, which costs a long walk round trips behind a slow server. Their answers
        are held until the roster is complete, then sent with the user's teams, or dropped if
        the user is not in the final roster (removed while it was listed).
        """
        early_users = max(1, EARLY_ROUNDS * self._workers // max(1, len(self.planned)))
        arrived: list[User] = []
        woken = anyio.Event()
        listed = False

        def on_user(user: User) -> None:
            if user.id in self._early or len(self._early) >= early_users:
                return
            self._early[user.id] = None
            arrived.append(user)
            woken.set()

        async def submit_early() -> None:
            # Never cancelled mid-user: every unit of an early user is submitted here or none.
            nonlocal woken
            while True:
                while arrived:
                    user = arrived.pop(0)
                    await self._submit(units, Entity("user", user.id, (), user.email))
                if listed:
                    return
                await woken.wait()
                woken = anyio.Event()

        async def failed(key: str, exc: TabnineError) -> None:
            await self._fail(results, key, exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(submit_early)
            roster = await list_members(
                self._client,
                team_ids,
                include_unassigned=self.include_unassigned,
                on_error=failed,
                on_user=on_user,
            )
            listed = True
            woken.set()
        for member in roster.members:
            user = member.user
            members[user.id] = Entity("user", user.id, member.team_ids, user.email)
        self._roster = members
        held, self._held = self._held, []
        org_id = await self._client.resolve_organization_id()
        for unit, outcome in held:
            await self._settle(org_id, unit, outcome, results)
        for user_id in self._early:
            if user_id not in members:
                self._forget(user_id)

    def _forget(self, user_id: str) -> None:
        """Take an early user missing from the final roster out of the counters."""
        for unit in plan_units([Entity("user", user_id)], self.planned):
            self.progress.units_planned -= 1
            if unit.key in self._skip:
                self.progress.units_skipped -= 1

    async def _settle(
        self,
        org_id: str,
        unit: WorkUnit,
        outcome: UsageReport | TabnineError,
        results: MemoryObjectSendStream[UnitResult | FailedUnit],
    ) -> None:
        """Send what a unit returned; an early user's as the unit of its final entity, or not."""
        if unit.entity.scope == "user" and unit.entity.id in self._early:
            assert self._roster is not None  # early answers are held until the roster is known
            entity = self._roster.get(unit.entity.id)
            if entity is None:
                return  # not in the organization after all: never part of this walk
            unit = WorkUnit(entity, unit.window)
        if isinstance(outcome, TabnineError):
            await self._fail(results, unit.key, outcome)
            return
        await results.send(UnitResult(unit, tuple(self._to_records(org_id, unit, outcome))))

    async def _worker(
        self,
        org_id: str,
        queue: MemoryObjectReceiveStream[WorkUnit],
        results: MemoryObjectSendStream[UnitResult | FailedUnit],
    ) -> None:
        async with queue, results:
            async for unit in queue:
                outcome: UsageReport | TabnineError
                try:
                    async with self._fetch_slots:
                        outcome = await self._fetch(org_id, unit)
                except TabnineError as exc:
                    outcome = exc
                early = unit.entity.scope == "user" and unit.entity.id in self._early
                if early and self._roster is None:
                    self._held.append((unit, outcome))  # sent once the roster is known
                    continue
                await self._settle(org_id, unit, outcome, results)

    async def _fetch(self, org_id: str, unit: WorkUnit) -> UsageReport:
        entity, window = unit.entity, unit.window
        args = (window.start, window.end, self.granularity)
        if entity.scope == "organization":
            return await self._client.get_organization_usage(*args, organization_id=org_id)
        if entity.scope == "team":
            return await self._client.get_team_usage(entity.id, *args, organization_id=org_id)
        return await self._client.get_user_usage(entity.id, *args, organization_id=org_id)

    @staticmethod
    def _to_records(org_id: str, unit: WorkUnit, report: UsageReport) -> list[UsageRecord]:
        entity = unit.entity
        if entity.scope == "organization":
            return records_from_report(report, scope="organization", organization_id=org_id)
        if entity.scope == "team":
            return records_from_report(
                report, scope="team", organization_id=org_id, team_id=entity.id
            )
        return records_from_report(
            report,
            scope="user",
            organization_id=org_id,
            team_ids=entity.team_ids,
            user_id=entity.id,
            user_email=entity.email,
        )


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
