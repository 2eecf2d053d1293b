"""Request log and counters of the fake server, readable in-process or as JSON."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["FaultRecord", "RequestRecord", "ServerStats"]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request: ``time`` is seconds since the stats started; ``status`` 0 means no reply."""

    method: str
    path: str
    route: str
    query: str
    time: float
    status: int = 0
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """One injected fault (``kind`` as in ``FaultKind``, or ``"rate_limit"``)."""

    kind: str
    path: str
    time: float


@dataclass
class ServerStats:
    """What the fake server saw. Times are seconds on the server's monotonic clock.

    ``requests_by_route`` counts requests by route template (``/api/v1/team/{teamId}``), faulty
    ones included; ``rate_limited`` counts 429 answers from the rate limit and from ``"429"``
    faults alike.
    """

    started: float = 0.0
    requests_by_route: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    rate_limited: int = 0
    faults: list[FaultRecord] = field(default_factory=list)
    log: list[RequestRecord] = field(default_factory=list)
    _arrivals: list[float] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        """All requests counted so far."""
        return sum(self.requests_by_route.values())

    def request_started(self, route: str, now: float) -> None:
        """Count an arriving request."""
        self.requests_by_route[route] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self._arrivals.append(now - self.started)

    def request_finished(self, record: RequestRecord) -> None:
        """Log a request once it is answered (or abandoned)."""
        self.in_flight -= 1
        self.log.append(record)
        if record.status == 429:
            self.rate_limited += 1

    def fault_injected(self, kind: str, path: str, now: float) -> None:
        """Record an injected fault."""
        self.faults.append(FaultRecord(kind, path, now - self.started))

    def per_second(self) -> dict[int, int]:
        """Request arrivals per whole second since the stats started."""
        buckets: Counter[int] = Counter(int(t) for t in self._arrivals)
        return dict(sorted(buckets.items()))

    def max_in_window(self, window: float = 1.0) -> int:
        """The most arrivals within any sliding window of ``window`` seconds."""
        times = sorted(self._arrivals)
        best = 0
        for i, start in enumerate(times):
            # A window [start, start + window) holds the arrivals from i up to this point.
            j = bisect.bisect_left(times, start + window, lo=i)
            best = max(best, j - i)
        return best

    def reset(self, now: float) -> None:
        """Forget everything seen so far (requests in flight keep being counted as such)."""
        self.started = now
        self.requests_by_route.clear()
        self.max_in_flight = self.in_flight
        self.rate_limited = 0
        self.faults.clear()
        self.log.clear()
        self._arrivals.clear()

    def to_json(self, include_log: bool = True) -> dict[str, Any]:
        """A JSON-ready summary, as served at ``GET /__fake__/stats`` (``?log=0`` drops the log)."""
        summary = {
            "total_requests": self.total_requests,
            "requests_by_route": dict(sorted(self.requests_by_route.items())),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "rate_limited": self.rate_limited,
            "per_second": {str(k): v for k, v in self.per_second().items()},
            "max_in_one_second": self.max_in_window(1.0),
            "faults": [asdict(f) for f in self.faults],
        }
        if include_log:
            summary["log"] = [asdict(r) for r in self.log]
        return summary
