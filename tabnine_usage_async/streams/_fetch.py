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
from ..client import TabnineClient
from ..windows import Window
from ._base import Source

__all__ = ["FETCHERS", "Fetcher", "fetch_answer"]

#: ``(client, organization id, entity, request window, granularity, since) -> answer``.
Fetcher = Callable[
    [TabnineClient, str, "Entity | None", "Window | None", str, "date | None"], Awaitable[Any]
]


def _need(entity: Entity | None, window: Window | None) -> tuple[Entity, Window]:
    if entity is None or window is None:  # pragma: no cover - the planner always sets both
        raise ValueError("an incremental source needs an entity and a window")
    return entity, window


async def _by_scope(
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    org: str,
    methods: tuple[Callable[..., Awaitable[Any]], ...],
) -> Any:
    """Call the organization, team or user method of one usage family for ``entity``."""
    e, w = _need(entity, window)
    for_org, for_team, for_user = methods
    if e.scope == "organization":
        return await for_org(w.start, w.end, granularity, organization_id=org)
    by_id = for_team if e.scope == "team" else for_user
    return await by_id(e.id, w.start, w.end, granularity, organization_id=org)


async def _usage_v2(
    client: TabnineClient,
    org: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    _since: date | None,
) -> Any:
    methods = (client.get_organization_usage_v2, client.get_team_usage_v2, client.get_user_usage_v2)
    return await _by_scope(entity, window, granularity, org, methods)


async def _agent_usage(
    client: TabnineClient,
    org: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    _since: date | None,
) -> Any:
    methods = (
        client.get_organization_agent_usage,
        client.get_team_agent_usage,
        client.get_user_agent_usage,
    )
    return await _by_scope(entity, window, granularity, org, methods)


async def _usage_v1(
    client: TabnineClient,
    org: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    _since: date | None,
) -> Any:
    methods = (client.get_organization_usage, client.get_team_usage, client.get_user_usage)
    return await _by_scope(entity, window, granularity, org, methods)


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


async def fetch_answer(
    client: TabnineClient,
    source: Source,
    organization_id: str,
    entity: Entity | None,
    window: Window | None,
    granularity: str,
    since: date | None = None,
) -> Any:
    """Ask the server for one unit of ``source``; raises the client's ``TabnineError``s."""
    return await FETCHERS[source](client, organization_id, entity, window, granularity, since)
