"""Streams: the tables of a synced dataset, each a small declaration, and their registry.

=========================  ===========  =====================================================
stream                     kind         from
=========================  ===========  =====================================================
``usage``                  incremental  v2 usage of the organization, every team and user
``agent_usage``            incremental  agent usage totals, same entities
``agent_usage_breakdown``  incremental  agent usage per agent type and model
``model_usage``            incremental  v2 chat/agent rows per model (``granularity=all``)
``usage_v1``               incremental  legacy v1 usage (``UsageRecord`` columns)
``users``                  snapshot     every user once, with all teams
``teams``                  snapshot     every team
``seats``                  snapshot     monthly account utilization
``invitations``            snapshot     pending invitations
``audit_log``              incremental  audit events, by timestamp
=========================  ===========  =====================================================

Example::

    >>> from tabnine_usage_async.streams import parse_streams
    >>> [s.name for s in parse_streams("users,usage")]
    ['usage', 'users']
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidParameterError
from ._base import ApiVersion, RowBuilder, RowContext, Source, Stream, StreamKind, UnitsOf
from ._rows import (
    agent_usage_breakdown_rows,
    agent_usage_rows,
    audit_log_rows,
    invitations_rows,
    model_usage_rows,
    seats_rows,
    teams_rows,
    usage_rows,
    usage_v1_rows,
    users_rows,
)
from ._tables import (
    AGENT_USAGE,
    AGENT_USAGE_BREAKDOWN,
    ALL_ROWS,
    AUDIT_LOG,
    INVITATIONS,
    MODEL_USAGE,
    SEATS,
    TEAMS,
    USAGE,
    USAGE_V1,
    USERS,
)

__all__ = [
    "ALL_ROWS",
    "STREAMS",
    "ApiVersion",
    "RowBuilder",
    "RowContext",
    "Source",
    "Stream",
    "StreamKind",
    "UnitsOf",
    "default_streams",
    "get_stream",
    "parse_streams",
]

#: Every stream, in the order of the README's stream table (and of a sync's work).
STREAMS: tuple[Stream, ...] = (
    Stream(
        "usage",
        USAGE,
        "incremental",
        "entities",
        "usage_v2",
        usage_rows,
        api="v2",
        doc="v2 usage of the organization, every team and every user",
    ),
    Stream(
        "agent_usage",
        AGENT_USAGE,
        "incremental",
        "entities",
        "agent_usage",
        agent_usage_rows,
        api="v2",
        doc="agent usage totals (tokens, cost) of the organization, teams and users",
    ),
    Stream(
        "agent_usage_breakdown",
        AGENT_USAGE_BREAKDOWN,
        "incremental",
        "entities",
        "agent_usage",
        agent_usage_breakdown_rows,
        api="v2",
        doc="agent usage per agent type and model (same requests as agent_usage)",
    ),
    Stream(
        "model_usage",
        MODEL_USAGE,
        "incremental",
        "entities",
        "usage_v2_all",
        model_usage_rows,
        api="v2",
        default=False,
        granularity="all",
        doc="v2 chat and agent usage per model: one extra request per entity and window",
    ),
    Stream(
        "usage_v1",
        USAGE_V1,
        "incremental",
        "entities",
        "usage_v1",
        usage_v1_rows,
        api="v1",
        doc="legacy v1 usage (the backfill's columns); the default on servers before 6.2",
    ),
    Stream(
        "users",
        USERS,
        "snapshot",
        "once",
        "roster",
        users_rows,
        doc="every user once, with all teams, role and deactivation time",
    ),
    Stream(
        "teams", TEAMS, "snapshot", "once", "roster", teams_rows, doc="every team with its counts"
    ),
    Stream(
        "seats",
        SEATS,
        "snapshot",
        "once",
        "seats",
        seats_rows,
        doc="monthly account utilization; the current month is provisional",
    ),
    Stream(
        "invitations",
        INVITATIONS,
        "snapshot",
        "once",
        "invitations",
        invitations_rows,
        api="v2",
        doc="pending invitations",
    ),
    Stream(
        "audit_log",
        AUDIT_LOG,
        "incremental",
        "organization",
        "audit_log",
        audit_log_rows,
        api="v2",
        doc="the organization's audit events, by timestamp",
    ),
)

_BY_NAME = {stream.name: stream for stream in STREAMS}


def get_stream(name: str) -> Stream:
    """The stream called ``name``; ``InvalidParameterError`` names the known ones otherwise."""
    try:
        return _BY_NAME[name.strip().lower()]
    except KeyError:
        raise InvalidParameterError(
            f"unknown stream {name!r}: use any of {', '.join(_BY_NAME)}"
        ) from None


def default_streams(api: str) -> tuple[Stream, ...]:
    """The streams a sync reads when none are named, for a server with usage API ``api``.

    >>> [s.name for s in default_streams("v1")]
    ['usage_v1', 'users', 'teams', 'seats']
    """
    return tuple(s for s in STREAMS if s.default and s.api in (api, "any"))


def parse_streams(names: Iterable[str] | str) -> tuple[Stream, ...]:
    """Validate stream names (an iterable or a comma-separated string); return them in
    registry order, each once."""
    items = names.split(",") if isinstance(names, str) else list(names)
    wanted = {get_stream(n).name for n in items if n.strip()}
    if not wanted:
        raise InvalidParameterError(f"no stream given: use any of {', '.join(_BY_NAME)}")
    return tuple(s for s in STREAMS if s.name in wanted)
