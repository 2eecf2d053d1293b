"""Limits held only around a request: concurrency, request rate, and the shared 429 pause.

Retry sleeps never happen while holding these, so a request waiting to retry does not keep a
connection slot or a rate slot from the others.

Why the rate limiter is hand-written: the well-kept ``aiolimiter`` is a leaky bucket whose bucket
starts full, so it lets ``rate`` requests through at once and then ``rate`` more during the same
second. A server counting requests per second would see up to twice the limit. The generic cell
rate algorithm below spaces requests evenly at ``1 / rate`` seconds, so any one-second window
holds at most ``rate`` request starts (plus one at the boundary), and it is a dozen lines.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

__all__ = ["Limits", "PauseGate", "RateLimiter"]

Clock = Callable[[], float]


class RateLimiter:
    """Evenly spaced request starts: at most ``rate`` per second across every task.

    ``rate=None`` means unlimited. The rate can be changed while running (``set_rate``).
    """

    def __init__(self, rate: float | None, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._next = 0.0
        self._interval = 0.0
        self.set_rate(rate)

    @property
    def rate(self) -> float | None:
        """Requests per second, or ``None`` for unlimited."""
        return 1.0 / self._interval if self._interval else None

    def set_rate(self, rate: float | None) -> None:
        """Change the rate; ``None`` removes the limit."""
        self._interval = 0.0 if rate is None else 1.0 / rate

    def reserve(self) -> float:
        """Reserve the next slot and return how long to wait for it (pure bookkeeping)."""
        if not self._interval:
            return 0.0
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self._interval
        return slot - now

    async def acquire(self) -> None:
        """Wait for this request's slot."""
        delay = self.reserve()
        if delay > 0:
            await anyio.sleep(delay)


class PauseGate:
    """A pause every request waits out: a 429 tells the whole client to slow down, not one task."""

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (an earlier, longer pause is kept)."""
        self._until = max(self._until, self._clock() + seconds)

    def remaining(self) -> float:
        """Seconds left in the current pause, 0 when open."""
        return max(0.0, self._until - self._clock())

    async def wait(self) -> None:
        """Return once no pause is in force; a pause extended meanwhile is waited out too."""
        # Not an Event: the deadline can move later while we sleep, and nobody needs to "set" it.
        while (delay := self._until - self._clock()) > 0:  # noqa: ASYNC110
            await anyio.sleep(delay)


class Limits:
    """Everything that gates a request: pause, then a concurrency slot, then a rate slot.

    Attributes:
        in_flight: requests holding a slot now.
        max_in_flight: the most that ever held one at once (for tests and benchmarks).
    """

    def __init__(
        self, max_concurrency: int, rate_limit: float | None, *, clock: Clock = time.monotonic
    ) -> None:
        self.gate = PauseGate(clock=clock)
        self.rate = RateLimiter(rate_limit, clock=clock)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self.in_flight = 0
        self.max_in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a request slot for the duration of one attempt."""
        await self.gate.wait()
        async with self._semaphore:
            # A 429 may have paused the client while this task queued for the semaphore.
            await self.gate.wait()
            await self.rate.acquire()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
