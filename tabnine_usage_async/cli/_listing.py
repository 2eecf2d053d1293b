"""Listing the organization's teams and people a few listings at a time, timing the calls."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TypeVar

from ..client import TabnineClient
from ..models import User
from ..orchestrator import LISTING_PARALLELISM

__all__ = ["Lister"]

T = TypeVar("T")


class Lister:
    """Runs a client's listings at most ``parallelism`` at a time; ``busy`` sums their seconds."""

    def __init__(self, client: TabnineClient, parallelism: int = LISTING_PARALLELISM) -> None:
        self._client = client
        self._limiter = asyncio.Semaphore(parallelism)
        #: Seconds spent in listings, summed over the parallel ones.
        self.busy = 0.0

    @contextlib.asynccontextmanager
    async def timed(self) -> AsyncIterator[None]:
        """Hold one of the slots for a call, and add the call's seconds to ``busy``."""
        async with self._limiter:
            began = time.monotonic()
            try:
                yield
            finally:
                self.busy += time.monotonic() - began

    async def collect(self, listing: Callable[[], AsyncIterator[T]]) -> list[T]:
        """Every item of one listing, once a slot is free."""
        async with self.timed():
            return [item async for item in listing()]

    async def team_ids(self) -> list[str]:
        """The ids of every team, in listing order."""
        return [team.id for team in await self.collect(self._client.iter_teams)]

    async def members(self, team_ids: Iterable[str]) -> list[list[User]]:
        """The members of each team, one list per team in the order given."""
        client = self._client

        def listing(team_id: str) -> Callable[[], AsyncIterator[User]]:
            return lambda: client.iter_team_users(team_id)

        return list(await asyncio.gather(*(self.collect(listing(t)) for t in team_ids)))

    async def unassigned(self) -> list[User]:
        """Users in no team: the active ones, then the deactivated ones."""
        client = self._client
        active, deactivated = await asyncio.gather(
            self.collect(lambda: client.iter_unassigned_users(active=True)),
            self.collect(lambda: client.iter_unassigned_users(active=False)),
        )
        return active + deactivated
