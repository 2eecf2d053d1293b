"""Typed, immutable results of the Usage Metrics API.

Models are frozen attrs classes with snake_case fields. They know nothing about JSON: the wire
names (camelCase in most bodies, snake_case in ``/api/v1/user/{id}``) live in ``_convert``.

Every model has an ``extra`` mapping holding the keys the server sent that this version of the SDK
does not know (new metrics, for example), exactly as received, so nothing the server says is lost.
Fields the API does not promise are optional and ``None`` when absent (never ``0``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

import attrs

__all__ = [
    "AccountUtilization",
    "AgentModelUsage",
    "AgentTypeUsage",
    "AgentUsagePoint",
    "AgentUsageReport",
    "AgentUsageV2",
    "AuditActor",
    "AuditEvent",
    "AuditRequestContext",
    "AuditResource",
    "ChatUsage",
    "ChatUsageV2",
    "CodeCompletionsUsage",
    "CodeCompletionsUsageV2",
    "Granularity",
    "Invitation",
    "License",
    "ManagedUser",
    "ModelUsage",
    "Organization",
    "PermissionUser",
    "Team",
    "TeamInfo",
    "TeamUtilization",
    "UsageBlock",
    "UsageBucket",
    "UsageReport",
    "UsageReportV2",
    "User",
    "UserInfo",
    "UserLookup",
    "UserTeam",
]

_EMPTY: Mapping[str, Any] = {}


def _extra_field() -> Any:
    # A shared empty mapping is safe because models are frozen and never mutate it.
    return attrs.field(default=_EMPTY, kw_only=True, eq=True, repr=False)


class Granularity(str, enum.Enum):
    """How usage is aggregated into blocks.

    >>> Granularity("daily") is Granularity.DAILY
    True
    """

    ALL = "all"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Organization:
    """The organization the token belongs to (``GET /api/v1/organization``)."""

    id: str
    name: str
    public_key: str | None = None
    saml_enabled: bool | None = None
    smtp_configured: bool | None = None
    username_password_enabled: bool | None = None
    domains: tuple[str, ...] | None = None
    plan_type: str | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class Team:
    """A team as listed by ``iter_teams()`` or read by ``get_team_details()``.

    ``organization_id``, ``synced_group_id``, ``seat_cap`` and ``pending_invitations_count`` come
    from Tabnine 6.2 and later (``seat_cap`` only when a cap is configured); ``None`` otherwise.
    """

    id: str
    name: str
    users_count: int | None = None
    is_default_team: bool | None = None
    organization_id: str | None = None
    synced_group_id: str | None = None
    seat_cap: int | None = None
    pending_invitations_count: int | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class TeamInfo:
    """A team's identity (``get_team(team_id)``)."""

    id: str
    name: str
    extra: Mapping[str, Any] = _extra_field()


def _from_unix(seconds: int | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


@attrs.frozen
class License:
    """The installation's license (``get_license()``).

    ``expires_at_unix`` and ``issued_at_unix`` are the Unix seconds the server sent (``exp`` and
    ``iat``, any 64-bit integer); ``expires_at`` and ``issued_at`` are the same instants as aware
    UTC datetimes, or ``None`` when absent or outside what a ``datetime`` can hold.
    """

    expires_at_unix: int | None = None
    issued_at_unix: int | None = None
    seats: int | None = None
    seats_cap: int | None = None
    audience: str | None = None
    features: tuple[str, ...] | None = None
    settings: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = _extra_field()

    @property
    def expires_at(self) -> datetime | None:
        """The expiry as an aware UTC datetime; ``None`` if absent or out of range."""
        return _from_unix(self.expires_at_unix)

    @property
    def issued_at(self) -> datetime | None:
        """The issue time as an aware UTC datetime; ``None`` if absent or out of range."""
        return _from_unix(self.issued_at_unix)


@attrs.frozen
class AccountUtilization:
    """Seat counts for one calendar month.

    ``month_start`` is the real first day of the month. (The API sends a zero-based month number,
    0 = January; that trap stops at the converter.)
    """

    month_start: date
    registered: int
    deactivated: int
    active: int
    pending: int
    extra: Mapping[str, Any] = _extra_field()

    @property
    def year(self) -> int:
        """The calendar year."""
        return self.month_start.year

    @property
    def month(self) -> int:
        """The calendar month, 1 = January."""
        return self.month_start.month


@attrs.frozen
class PermissionUser:
    """A user holding a role (``get_permissions(role=...)``)."""

    username: str
    organization_id: str
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class User:
    """A user as listed by ``iter_team_users()`` and ``iter_unassigned_users()``.

    ``team``, ``deactivated_at`` and ``updated_at`` are sent by Tabnine 6.2 and later for
    organization users; ``None`` otherwise.
    """

    id: str
    username: str
    email: str
    role: str
    verified: bool
    team: Team | None = None
    deactivated_at: datetime | None = None
    updated_at: datetime | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UserTeam:
    """A team a user belongs to, as ``get_user()`` reports it."""

    team_id: str | None = None
    team_name: str | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UserInfo:
    """One user's details (``get_user(user_id)``).

    ``teams`` is a tuple because a user may be in several teams or none; the API sends one object
    or a list, and both arrive here the same way.
    """

    user_id: str | None = None
    organization_id: str | None = None
    email: str | None = None
    role: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    teams: tuple[UserTeam, ...] = ()
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class TeamUtilization:
    """Seat counts of one team right now (``get_team_utilization(team_id)``)."""

    registered: int
    deactivated: int
    invited: int
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class CodeCompletionsUsage:
    """Code-completion metrics of one usage block."""

    active_users: int | None = None
    completions: int | None = None
    chars_completed: int | None = None
    keystrokes: int | None = None
    lines: int | None = None
    automation_factor: float | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class ChatUsage:
    """Chat metrics of one usage block."""

    active_users: int | None = None
    interactions: int | None = None
    useful_interactions: int | None = None
    lines: int | None = None
    chars_completed: int | None = None
    consumption_rate: float | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UsageBlock:
    """Usage over one period ``[start, end)`` of a report.

    Unknown keys (for example newer agent metrics) are kept in ``extra``.
    """

    start: datetime
    end: datetime
    active_users: int
    productivity_factor: float | None = None
    code_completions: CodeCompletionsUsage | None = None
    chat: ChatUsage | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UsageReport:
    """A usage report for the organization, a team or a user over ``[start, end)``.

    ``team_id`` is set for team reports and ``user_id`` for user reports.
    """

    organization_id: str
    start: datetime
    end: datetime
    granularity: Granularity
    blocks: tuple[UsageBlock, ...]
    team_id: str | None = None
    user_id: str | None = None
    extra: Mapping[str, Any] = _extra_field()


# -- Tabnine 6.2: v2 usage ---------------------------------------------------------------------


@attrs.frozen
class ModelUsage:
    """One model's share of a v2 chat or agent section (only when the server aggregates by model).

    ``model`` is Tabnine's internal model id, not a display name.
    """

    model: str | None = None
    messages: int | None = None
    unique_users: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class CodeCompletionsUsageV2:
    """Code-completion metrics of one v2 usage bucket."""

    active_users: int | None = None
    completions: int | None = None
    chars_completed: int | None = None
    keystrokes: int | None = None
    lines: int | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class ChatUsageV2:
    """Chat metrics of one v2 usage bucket.

    ``models`` is ``None`` when the server sent no per-model rows (it sends them only for some
    aggregations, typically ``granularity=all``), and a tuple, possibly empty, when it did.
    """

    active_users: int | None = None
    messages: int | None = None
    lines_added: int | None = None
    models: tuple[ModelUsage, ...] | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AgentUsageV2:
    """Agent metrics of one v2 usage bucket; ``models`` as in :class:`ChatUsageV2`."""

    active_users: int | None = None
    messages: int | None = None
    lines_added: int | None = None
    lines_added_accepted: int | None = None
    lines_removed: int | None = None
    lines_removed_accepted: int | None = None
    models: tuple[ModelUsage, ...] | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UsageBucket:
    """Usage over one period ``[start, end)`` of a v2 report.

    ``ides`` and ``languages`` are the server's strings, sent only when available.
    """

    start: datetime
    end: datetime
    active_users: int
    code_completions: CodeCompletionsUsageV2 | None = None
    chat: ChatUsageV2 | None = None
    agent: AgentUsageV2 | None = None
    ides: str | None = None
    languages: str | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UsageReportV2:
    """A v2 usage report (``get_*_usage_v2``) for the organization, a team or a user.

    ``team_id`` is set for team reports and ``user_id`` for user reports.
    """

    organization_id: str
    start: datetime
    end: datetime
    granularity: Granularity
    buckets: tuple[UsageBucket, ...]
    team_id: str | None = None
    user_id: str | None = None
    extra: Mapping[str, Any] = _extra_field()


# -- Tabnine 6.2: agent usage ------------------------------------------------------------------


@attrs.frozen
class AgentModelUsage:
    """Tokens and cost of one model inside an agent-usage data point or agent type."""

    model: str
    tokens: int
    input_tokens: int
    output_tokens: int
    cost: float
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AgentTypeUsage:
    """Agent usage of one agent type (such as IDE or CLI) inside a data point."""

    agent_type: str
    active_users: int
    interactions: int
    lines_added: int
    lines_added_accepted: int
    lines_removed: int
    lines_removed_accepted: int
    tokens: int
    input_tokens: int
    output_tokens: int
    cost: float
    user_initiated_messages: int
    models: tuple[AgentModelUsage, ...]
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AgentUsagePoint:
    """Agent usage over one period ``[start, end)``: totals, per model and per agent type."""

    start: datetime
    end: datetime
    active_users: int
    total_tokens: int
    total_input_tokens: int
    total_output_tokens: int
    total_cost: float
    models: tuple[AgentModelUsage, ...]
    agent_types: tuple[AgentTypeUsage, ...]
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AgentUsageReport:
    """An agent-usage report (``get_*_agent_usage``) for the organization, a team or a user."""

    organization_id: str
    start: datetime
    end: datetime
    granularity: Granularity
    points: tuple[AgentUsagePoint, ...]
    team_id: str | None = None
    user_id: str | None = None
    extra: Mapping[str, Any] = _extra_field()


# -- Tabnine 6.2: audit logs, invitations, user management ------------------------------------


@attrs.frozen
class AuditActor:
    """Who did it: ``type`` is ``user``, ``system`` or ``api_key`` (others kept as sent)."""

    id: str
    type: str
    email: str | None = None
    display_name: str | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AuditResource:
    """What it was done to (a team, user, role, organization...)."""

    id: str
    type: str
    name: str | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AuditRequestContext:
    """Where the request that caused an audit event came from."""

    ip_address: str | None = None
    user_agent: str | None = None
    client_id: str | None = None
    request_id: str | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class AuditEvent:
    """One organization audit-log event (``iter_audit_logs()``)."""

    id: str
    timestamp: datetime
    event_type: str
    actor: AuditActor | None = None
    resource: AuditResource | None = None
    metadata: Mapping[str, Any] | None = None
    request: AuditRequestContext | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class Invitation:
    """A pending invitation to a team (``iter_invitations()``)."""

    id: str
    email: str
    team_id: str
    role: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class ManagedUser:
    """A user as the user-management API reads it (``get_managed_user(user_id)``).

    ``team`` is the primary team (``None`` when the server sent none); ``allowed_teams`` the teams
    the user may access, ``None`` when the server did not say.
    """

    user_id: str
    email: str
    role: str
    active: bool | None = None
    allowed_teams: tuple[Team, ...] | None = None
    team: UserTeam | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class UserLookup:
    """A user found by email (``get_user_by_email(email)``)."""

    id: str
    email: str
    role: str
    verified: bool
    username: str | None = None
    active: bool | None = None
    team: Team | None = None
    allowed_teams: tuple[Team, ...] | None = None
    extra: Mapping[str, Any] = _extra_field()
