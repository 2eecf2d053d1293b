"""One request per source: what the engine calls to answer a unit of a stream.

Each fetcher takes the client, the organization id, the unit's entity (``None`` for
organization-wide snapshots) and the requested window, and returns the answer the stream's row
builder reads. Streams that share a source (``agent_usage`` and ``agent_usage_breakdown``) are
answered by one call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from .._units import Entity
from .._unparsed import Unparsed
from ..client import TabnineClient
from ..models import AgentUsageReport, UsageReport, UsageReportV2
from ..windows import Window
from ._base import Source

__all__ = ["FETCHERS", "Fetcher", "fetch_answer", "fetch_unread"]

#: ``(client, organization id, entity, request window, granularity, since) -> answer``.
Fetcher = Callable[
    [TabnineClient, str, "Entity | None", "Window | None", str, "date | None"], Awaitable[Any]
]


def _need(entity: Entity | None, window: Window | None) -> tuple[Entity, Window]:
    if entity is None or window is None:  # pragma: no cover - the planner always sets both
        raise ValueError("an incremental source needs an entity and a window")
    return entity, window


#: The organization's, a team's and a user's path of each usage family, and its answer.
_USAGE_PATHS: dict[str, tuple[str, str, str, type[Any]]] = {
    "v2": ("/api/v2/organization/usage", "/api/v2/team/usage", "/api/v2/user/usage", UsageReportV2),
    "agent": (
        "/api/v1/organization/agent-usage",
        "/api/v1/team/agent-usage",
        "/api/v1/user/agent-usage",
        AgentUsageReport,
    ),
    "v1": ("/api/v1/organization/usage", "/api/v1/team/usage", "/api/v1/user/usage", UsageReport),
}


async def _by_scope(
    client: TabnineClient,
    family: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    org: str,
) -> Unparsed[Any]:
    """One usage family's answer for ``entity``, not read yet (the engine decodes it).

    The same request, checks and errors as the client's ``get_*_usage*`` methods; only the
    parsing waits, so that the worker can send its next request first.
    """
    e, w = _need(entity, window)
    for_org, for_team, for_user, cls = _USAGE_PATHS[family]
    if e.scope == "organization":
        path, ids = for_org, {}
    elif e.scope == "team":
        path, ids = for_team, {"teamId": e.id}
    else:
        path, ids = for_user, {"userId": e.id}
    return await client._usage_unparsed(path, w.start, w.end, granularity, org, ids, cls)


async def _usage_v2(
    client: TabnineClient,
    org: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    _since: date | None,
) -> Any:
    return await _by_scope(client, "v2", entity, window, granularity, org)


async def _agent_usage(
    client: TabnineClient,
    org: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    _since: date | None,
) -> Any:
    return await _by_scope(client, "agent", entity, window, granularity, org)


async def _usage_v1(
    client: TabnineClient,
    org: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    _since: date | None,
) -> Any:
    return await _by_scope(client, "v1", entity, window, granularity, org)


async def _audit_log(
    client: TabnineClient,
    _org: str,
    entity: Entity | None,
    window: Window | None,
    _granularity: str,
    _since: date | None,
) -> Any:
    _e, w = _need(entity, window)
    return [event async for event in client.iter_audit_logs(w.start, w.end, sort="asc")]


async def _seats(
    client: TabnineClient,
    _org: str,
    _entity: Entity | None,
    _window: Window | None,
    _granularity: str,
    since: date | None,
) -> Any:
    return await client.get_account_utilizations(since)


async def _invitations(
    client: TabnineClient,
    _org: str,
    _entity: Entity | None,
    _window: Window | None,
    _granularity: str,
    _since: date | None,
) -> Any:
    return [invitation async for invitation in client.iter_invitations()]


#: The fetcher of every source but ``roster`` (the engine lists the roster itself, once).
FETCHERS: dict[Source, Fetcher] = {
    "usage_v2": _usage_v2,
    "usage_v2_all": _usage_v2,
    "agent_usage": _agent_usage,
    "usage_v1": _usage_v1,
    "audit_log": _audit_log,
    "seats": _seats,
    "invitations": _invitations,
}


async def fetch_unread(
    client: TabnineClient,
    source: Source,
    organization_id: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    since: date | None = None,
) -> Any:
    """Ask the server for one unit of ``source``; raises the client's ``TabnineError``s.

    A usage answer comes back ``Unparsed`` (its ``decode()`` parses it), so that the engine's
    worker can send its next request before the CPU work of reading this one.
    """
    return await FETCHERS[source](client, organization_id, entity, window, granularity, since)


async def fetch_answer(
    client: TabnineClient,
    source: Source,
    organization_id: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    since: date | None = None,
) -> Any:
    """Like ``fetch_unread``, with the answer read: what the stream's row builder takes."""
    answer = await fetch_unread(client, source, organization_id, entity, window, granularity, since)
    return answer.decode() if isinstance(answer, Unparsed) else answer
