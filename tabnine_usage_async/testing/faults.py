"""Fault injection for the fake server: random faults at a rate, and scripted ones.

Random faults are decided by hashing ``(seed, method, path, sorted query, occurrence)``, where
``occurrence`` counts how often this exact request was seen before. The decision therefore does
not depend on the order in which concurrent requests arrive, and a retried request gets a fresh
decision. What each kind does on the wire:

- ``"429"``: status 429, ``Retry-After: <seconds>`` and the error envelope.
- ``"500"``, ``"502"``, ``"503"``: that status with the error envelope.
- ``"reset"``: the connection is closed before any byte of the response is written.
- ``"truncated"``: status 200 announcing a longer ``Content-Length`` than the bytes written,
  then the connection is closed.
- ``"timeout"``: the real response, after sleeping ``timeout_delay`` seconds.
- ``"proxy_html"``: status 502 with a ``text/html`` error page, as a proxy in front would send.

Example::

    faults = FaultConfig(rate=0.2, kinds=("503", "reset"), seed=1)
    scripted = [ScriptedFault("503", route="/api/v1/team/{teamId}/users", nth=3)]
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

__all__ = [
    "ALL_FAULT_KINDS",
    "FaultConfig",
    "FaultKind",
    "FaultPlanner",
    "ScriptedFault",
    "decide_random_fault",
    "request_key",
    "unit_hash",
]

FaultKind = Literal["429", "500", "502", "503", "reset", "truncated", "timeout", "proxy_html"]
ALL_FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)


def _check_kinds(kinds: Iterable[str]) -> None:
    for kind in kinds:
        if kind not in ALL_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {ALL_FAULT_KINDS}")


@dataclass(frozen=True)
class FaultConfig:
    """Random fault injection: each request fails with probability ``rate``.

    The kind is picked uniformly from ``kinds``. ``retry_after`` is the ``Retry-After`` of
    ``"429"`` faults in seconds; ``timeout_delay`` is how long ``"timeout"`` faults stall.
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = ALL_FAULT_KINDS
    seed: int = 0
    timeout_delay: float = 5.0
    retry_after: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], not {self.rate}")
        if not self.kinds:
            raise ValueError("kinds must not be empty")
        _check_kinds(self.kinds)
        if self.timeout_delay < 0 or self.retry_after < 0:
            raise ValueError("timeout_delay and retry_after must not be negative")


@dataclass(frozen=True)
class ScriptedFault:
    """Fail chosen requests: the ``nth`` (1-based) request matching, and ``times`` in a row.

    Match by ``route`` template (``"/api/v1/team/{teamId}/users"``) or exact ``path``
    (``"/api/v1/team/abc/users"``); with neither, every API request matches.

    Example: ``ScriptedFault("503", route="/api/v1/team/{teamId}/users", nth=3)`` makes the
    third request to any team's user list answer 503.
    """

    kind: FaultKind
    route: str | None = None
    path: str | None = None
    nth: int = 1
    times: int = 1
    method: str = "GET"

    def __post_init__(self) -> None:
        _check_kinds((self.kind,))
        if self.nth < 1 or self.times < 1:
            raise ValueError("nth and times must be at least 1")

    def matches(self, method: str, route: str, path: str) -> bool:
        """Whether a request with this method, route template and path is a candidate."""
        if method.upper() != self.method.upper():
            return False
        if self.route is not None and route != self.route:
            return False
        return self.path is None or path == self.path


def request_key(method: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    """A canonical text for a request: method, path and query pairs in sorted order."""
    pairs = "&".join(f"{k}={v}" for k, v in sorted(query))
    return f"{method.upper()} {path}?{pairs}"


def unit_hash(*parts: object) -> float:
    """A deterministic number in ``[0, 1)`` from ``parts`` (stable across processes)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def decide_random_fault(config: FaultConfig | None, key: str, occurrence: int) -> FaultKind | None:
    """The random fault for the ``occurrence``-th (0-based) sighting of request ``key``, if any."""
    if config is None or config.rate <= 0.0:
        return None
    if unit_hash(config.seed, "fault", key, occurrence) >= config.rate:
        return None
    pick = unit_hash(config.seed, "kind", key, occurrence)
    return config.kinds[int(pick * len(config.kinds))]


@dataclass
class FaultPlanner:
    """Stateful part of fault injection: counts requests and applies scripted faults first."""

    config: FaultConfig | None = None
    scripted: list[ScriptedFault] = field(default_factory=list)
    _seen: Counter[str] = field(default_factory=Counter)
    _matched: Counter[int] = field(default_factory=Counter)

    def add(self, fault: ScriptedFault) -> None:
        """Add a scripted fault; it counts matching requests from now on."""
        self.scripted.append(fault)

    def decide(
        self, method: str, route: str, path: str, query: Sequence[tuple[str, str]]
    ) -> FaultKind | None:
        """Record one request and return the fault to inject into it, if any."""
        chosen: FaultKind | None = None
        for number, fault in enumerate(self.scripted):
            if not fault.matches(method, route, path):
                continue
            self._matched[number] += 1
            seen = self._matched[number]
            if chosen is None and fault.nth <= seen < fault.nth + fault.times:
                chosen = fault.kind
        key = request_key(method, path, query)
        occurrence = self._seen[key]
        self._seen[key] = occurrence + 1
        return chosen if chosen is not None else decide_random_fault(self.config, key, occurrence)
