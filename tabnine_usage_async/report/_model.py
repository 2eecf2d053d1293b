"""The numbers of the adoption report, as frozen attrs classes (no rendering, no I/O).

``Report`` is what ``compute_report`` returns and what ``render_html`` and ``--format json`` show.
Dates are calendar days in UTC; every period is half-open ``[start, end)``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import attrs

__all__ = [
    "AdoptionPoint",
    "AgentCost",
    "AgentPoint",
    "Averages",
    "Definition",
    "Header",
    "ReclaimRow",
    "Report",
    "ReportOptions",
    "SeatMonth",
    "Seats",
    "TeamRow",
    "report_to_json",
]


def _thresholds(value: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(value)))


@attrs.frozen
class ReportOptions:
    """What the report covers and how it counts.

    Attributes:
        since: first day of the report's period; ``None``: the first day with usage.
        until: day after the period's last day (exclusive); ``None``: the day after the last
            day with usage.
        inactive_days: thresholds (days without activity) of the seats-to-reclaim table.
        exclude_weekends: leave Saturdays and Sundays out of per-day averages.
        top: how many teams and users the agent-cost rankings list.
    """

    since: date | None = None
    until: date | None = None
    inactive_days: tuple[int, ...] = attrs.field(default=(30, 60, 90), converter=_thresholds)
    exclude_weekends: bool = False
    top: int = attrs.field(default=10)

    @inactive_days.validator
    def _check_thresholds(self, _: Any, value: tuple[int, ...]) -> None:
        if not value or value[0] < 1:
            raise ValueError("inactive_days needs at least one threshold, each at least 1 day")

    @top.validator
    def _check_top(self, _: Any, value: int) -> None:
        if value < 1:
            raise ValueError("top must be at least 1")


@attrs.frozen
class Header:
    """Where the numbers come from and how complete they are.

    Attributes:
        organization: the organization's name, or its id when the dataset has no name.
        period_start: first day of the period.
        period_end: day after the last day of the period.
        synced_at: when the last run that wrote data finished (``None``: no finished run).
        api_version: the usage API the last run read (``v2`` / ``v1``), or ``None``.
        last_run_status: ``succeeded``, ``partial``, ``failed``, ``interrupted`` or ``None``.
        missing_days: days of the period without organization usage (gaps in the data).
        provisional_days: days from the period's start whose numbers were fetched before the
            day ended (they may change; by default the period ends before them).
        failed_units: units the last run could not fetch, as the ledger names them.
    """

    organization: str
    period_start: date
    period_end: date
    synced_at: datetime | None
    api_version: str | None
    last_run_status: str | None
    missing_days: tuple[date, ...]
    provisional_days: tuple[date, ...]
    failed_units: tuple[str, ...]


@attrs.frozen
class SeatMonth:
    """One month of account utilization beside the month's active users from usage."""

    month: date
    registered: int | None
    active: int | None
    deactivated: int | None
    pending: int | None
    utilization: float | None
    usage_active_users: int | None
    provisional: bool


@attrs.frozen
class Seats:
    """Seat counts as of the end of the period.

    Attributes:
        licensed: seats of the licence (``None`` when the dataset does not record it).
        registered: users with a seat: in the roster and not deactivated.
        active_28d: registered users active in the last 28 days of the period.
        activation_rate: ``active_28d / registered`` (``None`` with no registered user).
        deactivated: deactivated users.
        pending_invitations: invitations not yet accepted.
        months: monthly utilization, oldest first.
    """

    licensed: int | None
    registered: int
    active_28d: int
    activation_rate: float | None
    deactivated: int
    pending_invitations: int
    months: tuple[SeatMonth, ...]


@attrs.frozen
class AdoptionPoint:
    """Organization usage of one day or one week (``start`` is the day, or the week's Monday).

    ``full`` is ``False`` for a week cut by the period's start or end, or with missing days.
    """

    start: date
    active_users: int
    code_completions: int
    chat_messages: int
    agent_messages: int
    code_completions_lines: int
    chat_lines_added: int
    agent_lines_added: int
    agent_lines_added_accepted: int
    full: bool = True


@attrs.frozen
class Averages:
    """Per-day averages of the organization's usage over the period's counted days."""

    days: int
    weekends_excluded: bool
    active_users: float | None
    code_completions: float | None
    chat_messages: float | None
    agent_messages: float | None


@attrs.frozen
class TeamRow:
    """One team over the period (users in several teams count in each of them).

    Attributes:
        team_id: the team (empty for users without a team).
        name: its name.
        members: registered members as of the last sync.
        active: members active at least once in the period.
        share_active: ``active / members``.
        completions, chat_messages, agent_messages: the members' usage in the period.
        activity_per_active_user: (completions + chat + agent messages) per active member.
        trend: relative change of that activity over the period's last 28 days against the 28
            days before (``None`` when the earlier window had none).
    """

    team_id: str
    name: str
    members: int
    active: int
    share_active: float | None
    completions: int
    chat_messages: int
    agent_messages: int
    activity_per_active_user: float | None
    trend: float | None


@attrs.frozen
class ReclaimRow:
    """A registered user without activity for at least the smallest threshold, or never active.

    ``inactive_days`` counts from the last active day to the period's end (``None``: never
    active in the dataset); ``threshold`` is the largest threshold reached (``0``: never).
    """

    user_id: str
    email: str
    role: str
    teams: str
    last_active: date | None
    inactive_days: int | None
    threshold: int


@attrs.frozen
class AgentPoint:
    """Agent tokens and cost of one day for one model or agent type (organization scope)."""

    day: date
    name: str
    tokens: int
    cost: float


@attrs.frozen
class AgentCost:
    """Agent tokens and cost of one team or user over the period."""

    id: str
    name: str
    tokens: int
    cost: float


@attrs.frozen
class Definition:
    """One metric and what it means, in one sentence."""

    metric: str
    meaning: str


@attrs.frozen
class Report:
    """Every number of the adoption report; see each part's class."""

    header: Header
    seats: Seats
    daily: tuple[AdoptionPoint, ...]
    weekly: tuple[AdoptionPoint, ...]
    totals: AdoptionPoint
    averages: Averages
    teams: tuple[TeamRow, ...]
    reclaim: tuple[ReclaimRow, ...]
    inactive_thresholds: tuple[int, ...]
    agent_by_model: tuple[AgentPoint, ...]
    agent_by_type: tuple[AgentPoint, ...]
    agent_top_teams: tuple[AgentCost, ...]
    agent_top_users: tuple[AgentCost, ...]
    agent_total_tokens: int
    agent_total_cost: float
    definitions: tuple[Definition, ...]


def _jsonable(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def report_to_json(report: Report) -> dict[str, Any]:
    """The report as JSON-ready values: dates as ``YYYY-MM-DD``, date-times as ISO 8601 UTC."""
    return attrs.asdict(report, value_serializer=_jsonable)
