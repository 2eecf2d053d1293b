"""Limits held only around a request: concurrency, request rate, the 429 pause and throttle.

Retry sleeps never happen while holding these, so a request waiting to retry does not keep a
connection slot or a rate slot from the others.

Why the rate limiter is hand-written: the well-kept ``aiolimiter`` is a leaky bucket whose bucket
starts full, so it lets ``rate`` requests through at once and then ``rate`` more during the same
second. A server counting requests per second would see up to twice the limit. The generic cell
rate algorithm below spaces requests evenly at ``1 / rate`` seconds, so any one-second window
holds at most ``rate`` request starts (plus one at the boundary), and it is a dozen lines.

Why an adaptive throttle (``AdaptiveRate``): pausing every request for ``Retry-After`` on a 429 is
right once, but a client without a configured rate (or with one above the server's) then sends at
full speed again after each pause, and gets 429s again: a storm of pauses. The throttle learns the
server's rate instead, the way TCP learns a path's capacity (additive increase, multiplicative
decrease), except that the decrease is not a blind halving: it goes to the rate the server just
proved it accepts, which is both safe and close to the limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

__all__ = ["AdaptiveRate", "Limits", "PauseGate", "RateLimiter"]

logger = logging.getLogger("tabnine_usage_async")

# Fewer refusals than this in a window are noise, whatever their share.
_MIN_REFUSED = 3

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


class AdaptiveRate:
    """Learns the rate a server accepts from its 429 answers, and drives a ``RateLimiter``.

    The algorithm (additive increase, decrease to the measured rate):

    - Every attempt that ended in anything but a 429 is remembered by its send time, and so is
      every 429 (only the last ``2 * window`` seconds of each).
    - Fewer than three 429s in the last window tell a hiccup from a limit apart no better than
      chance: they only pause every request for ``Retry-After``, as a 429 asks (or, while
      throttled, make only their own request wait).
    - Once the 429s are more, for an attempt sent at ``t``: the server had just let through
      ``n`` attempts sent in ``[t - window, t)``, the rate it allows, measured. The client's
      rate becomes ``margin * n / window`` (never above the configured limit) and every request
      waits out ``Retry-After``, because the burst that drew the 429s has filled the server's
      window.
    - Then the rate grows by ``increase`` (a fraction of the rate set at the decrease) per
      second, so the client probes slowly upward and finds the limit again if it rose.
    - While throttled, a 429 lowers the rate again (to ``margin`` times the rate let through in
      the last window, without a pause) only when it shows a limit: the rate has grown past the
      highest rate the server was measured to let through (the "ceiling") and more than
      ``refused_share`` of the attempts of the last window were refused (the probe went past the
      limit), or more than half of them were refused (the limit fell far below our rate; the
      ceiling is then lowered too). Other 429s are sporadic (server hiccups, not a limit) and
      only their own requests wait and retry: reacting to each of them would ratchet the rate
      down towards zero. 429s for attempts sent before a decrease reflect the old rate and are
      ignored.
    - The learned rate is dropped when it grows back to the configured limit or, with no
      configured limit, once it has doubled without a decrease (the server no longer limits
      us): ``rate_limit=None`` still means no limit of our own.

    So the client settles between ``margin`` and ``1 + refused_share`` times the server's limit,
    with 429s for a few percent of requests at most. Why not only pause on every 429, as before:
    an unthrottled client resumes at full speed after each pause and is refused again, so a
    server limit turns into a storm of 429s and whole-second pauses.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        configured: float | None,
        *,
        clock: Clock = time.monotonic,
        window: float = 1.0,
        margin: float = 0.95,
        increase: float = 0.02,
        refused_share: float = 0.05,
    ) -> None:
        self._limiter = limiter
        self._configured = configured
        self._clock = clock
        self._window = window
        self._margin = margin
        self._increase = increase
        self._refused_share = refused_share
        self._passed: deque[float] = deque()
        self._refused: deque[float] = deque()
        self._base = 0.0
        self._ceiling = 0.0
        self._since = 0.0
        self.learned: float | None = None

    def passed(self, sent: float) -> None:
        """Remember an attempt sent at ``sent`` that ended in anything but a 429."""
        self._remember(self._passed, sent)

    def _remember(self, times: deque[float], sent: float) -> None:
        times.append(sent)
        horizon = sent - 2 * self._window
        while times[0] < horizon:
            times.popleft()

    def throttled(self, sent: float) -> bool:
        """React to a 429 for an attempt sent at ``sent``; ``True``: pause every request."""
        self._remember(self._refused, sent)
        if self.learned is not None and sent < self._since:
            return False  # sent before the last decrease: that one already accounted for it
        start = sent - self._window
        count = sum(1 for t in self._passed if start <= t < sent)
        if count == 0:
            return True  # nothing was let through: nothing to learn, only waiting helps
        refused = sum(1 for t in self._refused if t >= start)
        if refused < _MIN_REFUSED:
            # Too few to tell a limit from a hiccup: throttled, let the request retry alone;
            # not throttled, pause everyone for Retry-After as a 429 asks.
            return self.learned is None
        measured = count / self._window
        ceiling = measured
        if self.learned is not None:
            share = refused / (count + refused)
            probing = self.learned >= self._ceiling
            if share <= 0.5 and not (probing and share > self._refused_share):
                return False  # sporadic: the server lets this rate through, it refused a few
            if share <= 0.5:
                ceiling = max(self._ceiling, measured)  # a probe: the proven rate still holds
        rate = self._margin * measured
        if self._configured is not None:
            rate = min(rate, self._configured)
        pause = self.learned is None
        self.learned = self._base = rate
        self._ceiling = ceiling
        self._since = self._clock()
        self._limiter.set_rate(rate)
        logger.info("the server refused requests (429): throttling to %.1f requests/s", rate)
        return pause

    def tick(self) -> None:
        """Raise the learned rate for the time since the last decrease (call before a request)."""
        if self.learned is None:
            return
        rate = self._base * (1 + self._increase * (self._clock() - self._since))
        ceiling = self._configured if self._configured is not None else 2 * self._base
        if rate >= ceiling:
            self.learned = None
            self._limiter.set_rate(self._configured)
            return
        self.learned = rate
        self._limiter.set_rate(rate)


class Limits:
    """Everything that gates a request: pause, then a concurrency slot, then a rate slot.

    Attributes:
        in_flight: requests holding a slot now.
        max_in_flight: the most that ever held one at once (for tests and benchmarks).
        adaptive: the throttle learned from 429s, or ``None`` when turned off.
    """

    def __init__(
        self,
        max_concurrency: int,
        rate_limit: float | None,
        *,
        clock: Clock = time.monotonic,
        adaptive: bool = True,
    ) -> None:
        self._clock = clock
        self.gate = PauseGate(clock=clock)
        self.rate = RateLimiter(rate_limit, clock=clock)
        self.adaptive = AdaptiveRate(self.rate, rate_limit, clock=clock) if adaptive else None
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self.in_flight = 0
        self.max_in_flight = 0

    def passed(self, sent: float) -> None:
        """An attempt sent at ``sent`` ended in anything but a 429 (an answer, a timeout...)."""
        if self.adaptive is not None:
            self.adaptive.passed(sent)

    def throttled(self, sent: float) -> bool:
        """An attempt sent at ``sent`` got a 429; ``True`` when every request should pause."""
        return True if self.adaptive is None else self.adaptive.throttled(sent)

    async def acquire(self) -> float:
        """Take a request slot (waiting out a pause, then concurrency, then rate); the send time.

        Every successful ``acquire`` must be paired with one ``release``. The waits are skipped,
        not merely short, when nothing limits: this runs once per request.
        """
        gate = self.gate
        if gate.remaining():
            await gate.wait()
        semaphore = self._semaphore
        await semaphore.acquire()
        try:
            # A 429 may have paused the client while this task queued for the semaphore.
            if gate.remaining():
                await gate.wait()
            if self.adaptive is not None and self.adaptive.learned is not None:
                self.adaptive.tick()
            if self.rate.rate is not None:
                await self.rate.acquire()
        except BaseException:
            semaphore.release()
            raise
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        return self._clock()

    def release(self) -> None:
        """Give back the slot taken by ``acquire``."""
        self.in_flight -= 1
        self._semaphore.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a request slot for the duration of one attempt; yields the send time."""
        sent = await self.acquire()
        try:
            yield sent
        finally:
            self.release()
