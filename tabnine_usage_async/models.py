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
from datetime import date, datetime
from typing import Any

import attrs

__all__ = [
    "AccountUtilization",
    "ChatUsage",
    "CodeCompletionsUsage",
    "Granularity",
    "License",
    "Organization",
    "PermissionUser",
    "Team",
    "TeamInfo",
    "TeamUtilization",
    "UsageBlock",
    "UsageReport",
    "User",
    "UserInfo",
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
    """A team as listed by ``iter_teams()``."""

    id: str
    name: str
    users_count: int | None = None
    is_default_team: bool | None = None
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class TeamInfo:
    """A team's identity (``get_team(team_id)``)."""

    id: str
    name: str
    extra: Mapping[str, Any] = _extra_field()


@attrs.frozen
class License:
    """The installation's license (``get_license()``); timestamps are aware UTC datetimes."""

    expires_at: datetime | None = None
    issued_at: datetime | None = None
    seats: int | None = None
    seats_cap: int | None = None
    audience: str | None = None
    features: tuple[str, ...] | None = None
    settings: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = _extra_field()


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
    """A user as listed by ``iter_team_users()`` and ``iter_unassigned_users()``."""

    id: str
    username: str
    email: str
    role: str
    verified: bool
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
