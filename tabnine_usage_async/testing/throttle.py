"""Timing knobs for the fake server: latency, slow bodies and a server-side rate limit."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from .faults import unit_hash

__all__ = ["Latency", "RateLimiter", "SlowBody"]

_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Latency:
    """Added delay per request, in milliseconds.

    ``fixed`` waits ``mean_ms``; ``uniform`` draws from ``mean_ms ± jitter_ms``; ``lognormal``
    draws with mean ``mean_ms`` and standard deviation ``jitter_ms`` (a long right tail, like
    real networks). Draws hash the request and its occurrence with ``seed``, so they do not
    depend on arrival order.

    Example: ``Latency(30, jitter_ms=10, distribution="lognormal", seed=7)``.
    """

    mean_ms: float = 0.0
    jitter_ms: float = 0.0
    distribution: Literal["fixed", "uniform", "lognormal"] = "fixed"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mean_ms < 0 or self.jitter_ms < 0:
            raise ValueError("mean_ms and jitter_ms must not be negative")
        if self.distribution not in ("fixed", "uniform", "lognormal"):
            raise ValueError(f"unknown distribution {self.distribution!r}")

    def delay_seconds(self, key: str, occurrence: int) -> float:
        """The delay for the ``occurrence``-th sighting of request ``key``, in seconds."""
        if self.mean_ms <= 0:
            return 0.0
        if self.distribution == "fixed" or self.jitter_ms == 0:
            return self.mean_ms / 1000
        u = min(max(unit_hash(self.seed, "latency", key, occurrence), 1e-9), 1 - 1e-9)
        if self.distribution == "uniform":
            value = self.mean_ms + (2 * u - 1) * self.jitter_ms
        else:
            sigma2 = math.log1p((self.jitter_ms / self.mean_ms) ** 2)
            mu = math.log(self.mean_ms) - sigma2 / 2
            value = math.exp(mu + math.sqrt(sigma2) * _STANDARD_NORMAL.inv_cdf(u))
        return max(0.0, value) / 1000


@dataclass(frozen=True)
class SlowBody:
    """Write response bodies in ``chunk_bytes`` pieces with ``pause_ms`` between them."""

    chunk_bytes: int = 256
    pause_ms: float = 20.0

    def __post_init__(self) -> None:
        if self.chunk_bytes < 1 or self.pause_ms < 0:
            raise ValueError("chunk_bytes must be positive and pause_ms not negative")


class RateLimiter:
    """At most ``per_second`` accepted requests in any sliding one-second window.

    Refused requests do not count against the window.
    """

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self._accepted: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        """``None`` and count the request when allowed; otherwise whole seconds to wait."""
        while self._accepted and self._accepted[0] <= now - 1.0:
            self._accepted.popleft()
        if len(self._accepted) < self.per_second:
            self._accepted.append(now)
            return None
        return max(1, math.ceil(self._accepted[0] + 1.0 - now))
