"""The roster feed: the jobs of the organization, its teams and its users, found while listing.

A fixed-range job (``backfill``, the walk) does not wait for the whole roster before it fetches:
the organization's and the teams' jobs go out at once, and while the users are still being
listed, the first users listed are fetched already (up to ``EARLY_ROUNDS x workers`` units), so
the requests in flight do not drop to the few organization and team jobs while the roster is
read, which costs a long run round trips behind a slow server.

A user's rows name all of the user's teams, known only once every listing has ended, but the
user's usage does not depend on them. So the answers of those early users are held (``settle``)
until the roster is complete, then built again with the user's final entity, or dropped if the
user is not in the final roster (removed while it was listed). Every other user is fetched once,
with all of its teams, after the listing. Memory holds the roster's entities and at most the
early answers, never a list of every job.

The feed is a ``JobProducer`` for ``fetch_jobs`` (``produce``) plus the consumer-side filter
(``settle`` and, once ``fetch_jobs`` has returned, ``release``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from datetime import datetime

import anyio
import attrs

from .._groups import one_error
from .._units import Entity, FailedUnit, WalkProgress
from ..client import TabnineClient
from ..errors import TabnineError
from ..listing import Roster, list_members
from ..models import Team, User
from ..records import Scope
from ._engine import FetchJob, JobDone, JobFailed, Result, build_done, describe

__all__ = ["EARLY_ROUNDS", "EntityPlan", "RosterFeed", "list_teams", "organization_and_teams"]

#: While the roster is listed, up to this many rounds of ``workers`` user units are fetched
#: ahead and held (a slow installation's listing takes a dozen round trips; each held answer is
#: one report, a few KB to a few tens of KB).
EARLY_ROUNDS = 8


@attrs.frozen
class EntityPlan:
    """The jobs of one entity, and how many units it has (those skipped included)."""

    jobs: Sequence[FetchJob]
    units: int
    skipped: int


async def list_teams(client: TabnineClient) -> list[Team] | TabnineError:
    """Every team, or the error the listing still failed with after the client's retries."""
    try:
        return [team async for team in client.iter_teams()]
    except TabnineError as exc:
        return exc


async def organization_and_teams(
    client: TabnineClient, *, teams: bool
) -> tuple[str, list[Team] | TabnineError | None]:
    """The organization's id and, with ``teams``, the teams listing's outcome, side by side.

    Listing the teams needs no organization id, so it does not wait for the lookup: the teams'
    and users' jobs start one round trip sooner. A failed lookup raises (and stops the listing);
    a failed listing is returned, for ``RosterFeed`` to report like its own. When the id is
    known already, nothing is listed here: the feed then sends the organization's jobs first
    and lists the teams while they run.
    """
    if not teams or client.organization_id is not None:
        return await client.resolve_organization_id(), None
    outcome: list[list[Team] | TabnineError] = []

    async def listing() -> None:
        outcome.append(await list_teams(client))

    with one_error():
        async with anyio.create_task_group() as tg:
            tg.start_soon(listing)
            organization_id = await client.resolve_organization_id()
    return organization_id, outcome[0]


class RosterFeed:
    """Sends the jobs of every entity in ``scopes`` to the engine, listing as it goes.

    Args:
        plan: the jobs of one entity (units finished by an earlier run left out).
        units_of: how many units an entity of a scope has, for the progress total.
        once: jobs sent first, that belong to no entity (snapshot streams).
        scopes: the entity scopes whose jobs are sent.
        list_users: list the users even when ``user`` is not among ``scopes`` (for a stream
            built from the roster).
        list_teams: list the teams even when neither ``team`` nor ``user`` is among ``scopes``.
        keep_roster: keep the listed roster in ``roster`` (for a stream built from it);
            otherwise only each user's id, email and teams are kept, a fraction of its size.
        on_listing_error: told of a listing that failed after retries (it may raise to stop).
        teams: the outcome of the teams listing when the caller ran it already (see
            ``organization_and_teams``); ``None`` lists them here.
    """

    def __init__(
        self,
        client: TabnineClient,
        organization_id: str,
        *,
        plan: Callable[[Entity], EntityPlan],
        units_of: Callable[[Scope], int],
        scopes: Collection[Scope],
        include_unassigned: bool,
        fetched_at: datetime,
        on_listing_error: Callable[[FailedUnit], Awaitable[None]],
        once: Sequence[FetchJob] = (),
        list_users: bool = False,
        list_teams: bool = False,
        keep_roster: bool = False,
        teams: list[Team] | TabnineError | None = None,
    ) -> None:
        self.client = client
        self.organization_id = organization_id
        self.progress = WalkProgress()
        self.teams: list[Team] = []
        #: Whether ``teams`` holds the listed teams (the listing ran and did not fail).
        self.teams_listed = False
        #: The listed roster, with ``keep_roster`` once the listing has ended.
        self.roster: Roster | None = None
        self._keep_roster = keep_roster
        self.workers = max(1, client.max_concurrency)
        #: Usage fetches hold one of these; fewer while listings run (see ``produce``).
        self.slots = anyio.CapacityLimiter(self.workers)
        #: Early users (see the module) -> their ``EntityPlan``, for the counters.
        self.early: dict[str, EntityPlan] = {}
        self._plan = plan
        self._units_of = units_of
        self._scopes = frozenset(scopes)
        self._include_unassigned = include_unassigned
        self._fetched_at = fetched_at
        self._on_listing_error = on_listing_error
        self._once = tuple(once)
        self._list_users = list_users or "user" in self._scopes
        self._list_teams = list_teams or self._list_users or "team" in self._scopes
        self._members: dict[str, Entity] | None = None
        self._held: deque[Result] = deque()
        self._listings = 0
        self._teams_given = teams

    # -- producer side ------------------------------------------------------------------------

    async def _submit(self, send: Callable[[FetchJob], Awaitable[None]], entity: Entity) -> None:
        planned = self._plan(entity)
        self.progress.units_planned += planned.units
        self.progress.units_skipped += planned.skipped
        for job in planned.jobs:
            await send(job)

    async def _listing_failed(self, key: str, exc: TabnineError) -> None:
        await self._on_listing_error(FailedUnit(key, describe(exc), exc))

    async def produce(self, send: Callable[[FetchJob], Awaitable[None]]) -> None:
        """Send every job: the ``once`` jobs, the organization's, the teams', the users'."""
        try:
            await self._produce(send)
        finally:
            self.progress.listing_done = True
            if self.progress.units_total is None:
                self.progress.units_total = self.progress.units_planned

    async def _produce(self, send: Callable[[FetchJob], Awaitable[None]]) -> None:
        for job in self._once:
            await send(job)
        if "organization" in self._scopes:
            await self._submit(send, Entity("organization", self.organization_id))
        if not self._list_teams:
            return
        teams = self._teams_given
        if teams is None:
            teams = await list_teams(self.client)
        if isinstance(teams, TabnineError):
            await self._listing_failed("list|teams", teams)
            return
        self.teams = teams
        self.teams_listed = True
        if self._list_users:
            # Keep a connection free for each listing (they page one after the other): usage
            # fetches filling every slot would make each page wait a whole round trip.
            self._listings = len(self.teams) + (2 if self._include_unassigned else 0)
            self._reserve_for_listings()
        async with anyio.create_task_group() as tg:
            if self._list_users:
                tg.start_soon(self._list_roster, send)
            if "team" in self._scopes:
                for team in self.teams:
                    await self._submit(send, Entity("team", team.id))
        self.slots.total_tokens = self.workers
        if "user" not in self._scopes or self._members is None:
            return
        late = [e for e in self._members.values() if e.id not in self.early]
        self.progress.units_total = self.progress.units_planned + len(late) * self._units_of("user")
        self.progress.listing_done = True
        for entity in late:
            await self._submit(send, entity)

    def _reserve_for_listings(self) -> None:
        """Usage fetches leave one connection per listing still running (at most half)."""
        reserve = min(self.workers // 2, self._listings)
        self.slots.total_tokens = max(1, self.workers - reserve)

    def _listing_ended(self, _key: str) -> None:
        # A large team pages on long after the others: its connection is all it still needs.
        self._listings = max(0, self._listings - 1)
        self._reserve_for_listings()

    async def _list_roster(self, send: Callable[[FetchJob], Awaitable[None]]) -> None:
        """List every user once with all of its teams; fetch the first ones listed meanwhile."""
        fetch_early = "user" in self._scopes
        early_users = max(1, EARLY_ROUNDS * self.workers // max(1, self._units_of("user")))
        arrived: list[User] = []
        woken = anyio.Event()
        listed = False

        def on_user(user: User) -> None:
            if not fetch_early or user.id in self.early or len(self.early) >= early_users:
                return
            self.early[user.id] = EntityPlan((), 0, 0)
            arrived.append(user)
            woken.set()

        async def submit_early() -> None:
            # Never cancelled mid-user: every job of an early user is sent here or none.
            nonlocal woken
            while True:
                while arrived:
                    user = arrived.pop(0)
                    planned = self._plan(Entity("user", user.id, (), user.email))
                    self.early[user.id] = planned
                    self.progress.units_planned += planned.units
                    self.progress.units_skipped += planned.skipped
                    for job in planned.jobs:
                        await send(job)
                if listed:
                    return
                await woken.wait()
                woken = anyio.Event()

        async with anyio.create_task_group() as tg:
            tg.start_soon(submit_early)
            roster = await list_members(
                self.client,
                [t.id for t in self.teams],
                include_unassigned=self._include_unassigned,
                on_error=self._listing_failed,
                on_user=on_user,
                on_listing_end=self._listing_ended,
            )
            listed = True
            # Every listing has ended: its reserved connections go back to the usage fetches
            # now, not once the early users' jobs are all sent.
            self.slots.total_tokens = self.workers
            woken.set()
        members = {m.id: Entity("user", m.id, m.team_ids, m.email) for m in roster.members}
        if self._keep_roster:
            self.roster = roster
        for user_id, planned in self.early.items():
            if user_id not in members:  # not in the organization after all
                self.progress.units_planned -= planned.units
                self.progress.units_skipped -= planned.skipped
        self._members = members

    # -- consumer side ------------------------------------------------------------------------

    def settle(self, item: Result) -> Iterator[Result]:
        """The results that are final now: any held ones, then ``item`` unless it is held.

        An early user's result is held until the roster is complete, then given the user's
        final entity (every team), or dropped if the roster does not list the user. Results
        are built one by one as the caller takes them, so at most one held answer has rows.
        """
        if self._held and self._members is not None:
            yield from self.release()
        entity = item.job.entity
        if entity is not None and entity.scope == "user" and entity.id in self.early:
            if self._members is None:
                # Held as the answer alone: the rows are built again for the final entity.
                held = attrs.evolve(item, writes=()) if isinstance(item, JobDone) else item
                self._held.append(held)
                return
            final = self._final(item)
            if final is not None:
                yield final
            return
        yield item

    def release(self) -> Iterator[Result]:
        """The held results, once the roster is complete (also after ``fetch_jobs`` returns)."""
        while self._held and self._members is not None:
            final = self._final(self._held.popleft())
            if final is not None:
                yield final

    def _final(self, item: Result) -> Result | None:
        assert item.job.entity is not None  # only user results are held
        entity = (self._members or {}).get(item.job.entity.id)
        if entity is None:
            return None
        units = tuple(attrs.evolve(u, entity=entity) for u in item.job.units)
        job = attrs.evolve(item.job, entity=entity, units=units)
        if isinstance(item, JobFailed):
            return attrs.evolve(item, job=job)
        return build_done(job, item.answer, self.organization_id, self._fetched_at)
