"""Who is in the organization: every user once, with every team the user belongs to.

The API lists users per team (and, separately, the users in no team), so a user in two teams
shows up twice and no single call says which teams a user is in. ``list_members`` runs those
listings side by side and merges them. The walk, the CLI's ``users`` command and its dry run
all list through it, so they agree on who is in the organization.

Example::

    async with TabnineClient() as client:
        roster = await list_members(client)
        for member in roster.members:
            print(member.email, member.team_ids)
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

import anyio
import attrs

from ._groups import one_error
from ._members import Interner, Member, from_listing, set_teams
from .client import TabnineClient
from .errors import InvalidParameterError, ListingChangedError, TabnineError
from .models import User

__all__ = ["ListingErrorHandler", "Member", "Roster", "list_members"]

T = TypeVar("T")

logger = logging.getLogger("tabnine_usage_async")

#: Times a listing that changed while it was paged through is read again before it fails.
RELISTS = 3

#: Called with a listing's key (``list|teams``, ``list|team-users|<team id>``,
#: ``list|unassigned|active`` or ``list|unassigned|deactivated``) and the error it still failed
#: with after the client's retries. It may raise to stop the whole listing.
ListingErrorHandler = Callable[[str, TabnineError], Awaitable[None]]


@attrs.frozen
class Roster:
    """The result of ``list_members``.

    Attributes:
        team_ids: every team listed (or given, each once), in order.
        members: every user once: team members in team order, then users in no team (active
            ones, then deactivated ones).
        seconds: time spent in listing calls, summed over those that ran side by side.
    """

    team_ids: tuple[str, ...]
    members: tuple[Member, ...]
    seconds: float


async def list_members(
    client: TabnineClient,
    team_ids: Iterable[str] | None = None,
    *,
    include_unassigned: bool = True,
    parallelism: int | None = None,
    on_error: ListingErrorHandler | None = None,
    on_user: Callable[[User], object] | None = None,
    on_listing_end: Callable[[str], object] | None = None,
) -> Roster:
    """List every user of the organization once, with all of the user's teams.

    Args:
        team_ids: the teams whose members to list; ``None`` lists the organization's teams
            first.
        include_unassigned: also list users in no team, active and deactivated.
        parallelism: listings in flight at once (each walks its own pages in order); ``None``
            means the client's ``max_concurrency``. Nothing in a walk can use a user before
            every listing has ended, so by default listings are held back only by the
            client's own limits.
        on_error: without it, the first listing that fails after the client's retries raises
            its error and stops the others; with it, the handler is told and the listing goes
            on without that team's (or group's) users.
        on_user: called with each user as a listing returns it, before the roster is complete,
            for work that can start early. A user in several teams (or in a listing read again)
            is reported again, and one reported may still be missing from the final roster
            (removed while it was listed): only the returned roster is authoritative.
        on_listing_end: called with a listing's key (see ``ListingErrorHandler``) when that
            listing has ended, whether it succeeded or failed, for a caller that keeps
            connections free for the listings still running.

    Example::

        roster = await list_members(client, include_unassigned=False)
        in_two_teams = [m.email for m in roster.members if len(m.team_ids) > 1]
    """
    if parallelism is None:
        parallelism = max(1, client.max_concurrency)
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise InvalidParameterError(f"parallelism must be a positive integer, not {parallelism!r}")
    if isinstance(team_ids, str):
        raise InvalidParameterError("team_ids must be a collection of team ids, not one string")
    lister = _Lister(parallelism, on_error, on_listing_end)
    if team_ids is None:
        teams = await lister.collect("list|teams", client.iter_teams)
        if teams is None:
            return Roster((), (), lister.seconds)
        team_ids = [team.id for team in teams]
    teams_in_order = tuple(dict.fromkeys(team_ids))
    # Users are made compact page by page, so the roster never holds every user's full model
    # at once (see ``_members``).
    intern = Interner()
    listed: dict[str, list[Member]] = {}

    async def members_of(team_id: str) -> None:
        found = await lister.collect(
            f"list|team-users|{team_id}",
            lambda: _compact(client.iter_team_users(team_id), on_user, intern),
        )
        listed[team_id] = found or []

    unassigned: dict[bool, list[Member]] = {}

    async def users_in_no_team(active: bool) -> None:
        key = f"list|unassigned|{'active' if active else 'deactivated'}"
        found = await lister.collect(
            key, lambda: _compact(client.iter_unassigned_users(active=active), on_user, intern)
        )
        unassigned[active] = found or []

    with one_error():
        async with anyio.create_task_group() as tg:
            for team_id in teams_in_order:
                tg.start_soon(members_of, team_id)
            if include_unassigned:
                tg.start_soon(users_in_no_team, True)
                tg.start_soon(users_in_no_team, False)

    # Merge in team order, so the result does not depend on which listing finished first. A
    # user listed again (another team) keeps its first member; the copies are dropped.
    members: dict[str, Member] = {}
    for team_id in teams_in_order:
        for member in listed.pop(team_id):
            first = members.setdefault(member.id, member)
            if team_id not in first.team_ids:
                set_teams(first, intern((*first.team_ids, team_id)))
    for active in (True, False):
        for member in unassigned.pop(active, ()):
            members.setdefault(member.id, member)
    return Roster(teams_in_order, tuple(members.values()), lister.seconds)


async def _compact(
    users: AsyncIterator[User], on_user: Callable[[User], object] | None, intern: Interner
) -> AsyncIterator[Member]:
    """``users`` as compact members in no team yet, each also handed to ``on_user`` first."""
    async for user in users:
        if on_user is not None:
            on_user(user)
        yield from_listing(user, intern)


async def _until_stable(key: str, listing: Callable[[], AsyncIterator[T]]) -> list[T]:
    """One listing's items, listed again while it changes underneath (``RELISTS`` times)."""
    for relist in range(RELISTS + 1):
        try:
            return [item async for item in listing()]
        except ListingChangedError as exc:
            if relist == RELISTS:
                raise ListingChangedError(
                    f"{exc.reason}; listed {RELISTS + 1} times and it changed every time",
                    endpoint=exc.endpoint,
                    field=exc.field,
                ) from None
            logger.info("%s changed while it was listed (%s); listing it again", key, exc.reason)
    raise AssertionError("unreachable")  # pragma: no cover


class _Lister:
    """Runs listings at most ``parallelism`` at a time and sums the seconds they take."""

    def __init__(
        self,
        parallelism: int,
        on_error: ListingErrorHandler | None,
        on_end: Callable[[str], object] | None = None,
    ) -> None:
        self._limiter = anyio.CapacityLimiter(parallelism)
        self._on_error = on_error
        self._on_end = on_end
        self.seconds = 0.0

    async def collect(self, key: str, listing: Callable[[], AsyncIterator[T]]) -> list[T] | None:
        """Every item of one listing, or ``None`` when it failed and ``on_error`` took it.

        A listing that changed while it was paged through is read again from the start, up to
        ``RELISTS`` times: a silent gap in the roster would leave users' usage unfetched.
        """
        try:
            async with self._limiter:
                began = time.monotonic()
                try:
                    return await _until_stable(key, listing)
                finally:
                    self.seconds += time.monotonic() - began
                    if self._on_end is not None:
                        self._on_end(key)
        except TabnineError as exc:
            if self._on_error is None:
                raise
            # Outside the slot: a handler that waits (a full result stream) holds up no listing.
            await self._on_error(key, exc)
            return None
