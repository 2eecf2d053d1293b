"""Dataset rows -> report numbers: pure functions and one accumulator, no I/O.

The rows are those of a synced dataset's streams (plain dicts keyed by column name, as a
destination's ``read`` yields them). ``DatasetRows`` folds the large incremental streams batch by
batch into compact per-day arrays, so a year of daily usage for ten thousand users fits in tens of
megabytes; ``compute_report`` then derives every figure of the report from it.

Where each figure comes from:

* organization charts and averages: the organization's daily ``usage`` rows (the server's totals);
* weekly and 28-day active users, teams and seats to reclaim: the users' daily ``usage`` rows
  (distinct users cannot be added up from daily totals), with teams as the ``users`` snapshot
  lists them;
* seats: the ``users``, ``invitations`` and ``seats`` snapshots;
* agent: ``agent_usage`` (teams and users) and ``agent_usage_breakdown`` (models, agent types) of
  the organization.
"""

from __future__ import annotations

import functools
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from itertools import compress
from typing import Any

import attrs

from ..errors import TabnineError
from ._definitions import DEFINITIONS
from ._model import (
    AdoptionPoint,
    AgentCost,
    AgentPoint,
    Averages,
    Header,
    ReclaimRow,
    Report,
    ReportOptions,
    SeatMonth,
    Seats,
    TeamRow,
)

__all__ = [
    "ALL",
    "AGENT_BREAKDOWN_COLUMNS",
    "AGENT_USAGE_COLUMNS",
    "DatasetRows",
    "Ledger",
    "ReportDataError",
    "USAGE_COLUMNS",
    "compute_report",
    "day_of",
]

#: ``agent_type`` or ``model`` of a breakdown row that sums over all of them.
ALL = "*"

#: The organization metrics the adoption charts show, in ``AdoptionPoint`` order.
USAGE_METRICS = (
    "code_completions",
    "chat_messages",
    "agent_messages",
    "code_completions_lines",
    "chat_lines_added",
    "agent_lines_added",
    "agent_lines_added_accepted",
)

#: The columns each ``add_*`` method reads, for destinations that can read only some columns.
USAGE_COLUMNS = (
    "granularity",
    "scope",
    "entity_id",
    "organization_id",
    "period_start",
    "complete",
    "active_users",
    *USAGE_METRICS,
)
AGENT_USAGE_COLUMNS = (
    "granularity",
    "scope",
    "entity_id",
    "period_start",
    "total_tokens",
    "total_cost",
)
AGENT_BREAKDOWN_COLUMNS = (
    "granularity",
    "scope",
    "agent_type",
    "model",
    "period_start",
    "tokens",
    "cost",
)

_TREND_DAYS = 28


class ReportDataError(TabnineError):
    """The dataset cannot give a report (no daily usage in it, or an empty period)."""


def day_of(value: Any) -> date:
    """The UTC calendar day of a row's timestamp (``datetime``, ``date`` or ISO 8601 text)."""
    if isinstance(value, datetime):
        return value.date() if value.tzinfo is None else value.astimezone(timezone.utc).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return day_of(datetime.fromisoformat(value.replace("Z", "+00:00")))
    raise ReportDataError(f"not a date or timestamp: {value!r}")


@functools.lru_cache(maxsize=65536)
def _ordinal(value: Any) -> int:
    # Rows repeat the same few hundred period starts: convert each once.
    return day_of(value).toordinal()


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _float(value: Any) -> float:
    return float(value) if value is not None else 0.0


@attrs.define
class _UserDays:
    """A user's days with usage, as parallel arrays (day, active, completions, chat, agent)."""

    days: array[int] = attrs.field(factory=lambda: array("i"))
    active: array[int] = attrs.field(factory=lambda: array("b"))
    completions: array[int] = attrs.field(factory=lambda: array("q"))
    chat: array[int] = attrs.field(factory=lambda: array("q"))
    agent: array[int] = attrs.field(factory=lambda: array("q"))
    ordered: bool = True

    def sort(self) -> None:
        """Put the days in order (rows arrive in any order), so day ranges are slices."""
        if not self.ordered:
            _sort_parallel(self.days, self.active, self.completions, self.chat, self.agent)
            self.ordered = True

    def span(self, start: int, end: int) -> slice:
        """The slice of the (sorted) arrays for days in ``[start, end)``."""
        return slice(bisect_left(self.days, start), bisect_left(self.days, end))


@attrs.define
class _CostDays:
    """One team's or user's agent days: parallel arrays (day ordinal, tokens, cost)."""

    days: array[int] = attrs.field(factory=lambda: array("i"))
    tokens: array[int] = attrs.field(factory=lambda: array("q"))
    cost: array[float] = attrs.field(factory=lambda: array("d"))
    ordered: bool = True

    def sort(self) -> None:
        """Put the days in order, so day ranges are slices."""
        if not self.ordered:
            _sort_parallel(self.days, self.tokens, self.cost)
            self.ordered = True

    def span(self, start: int, end: int) -> slice:
        """The slice of the (sorted) arrays for days in ``[start, end)``."""
        return slice(bisect_left(self.days, start), bisect_left(self.days, end))


def _sort_parallel(days: array[int], *columns: array[Any]) -> None:
    """Sort ``days`` and reorder ``columns`` alike, in place."""
    order = sorted(range(len(days)), key=days.__getitem__)
    for column in (days, *columns):
        column[:] = array(column.typecode, [column[i] for i in order])


@attrs.define
class DatasetRows:
    """The dataset's rows, folded for the report. Feed batches with the ``add_*`` methods.

    Only daily rows of the incremental streams are used (the report's charts are per day); other
    granularities are counted in ``skipped_rows``.
    """

    organization_id: str | None = None
    org_days: dict[int, tuple[int, ...]] = attrs.field(factory=dict)
    provisional: set[int] = attrs.field(factory=set)
    users_usage: dict[str, _UserDays] = attrs.field(factory=dict)
    agent_entities: dict[tuple[str, str], _CostDays] = attrs.field(factory=dict)
    agent_by_model: dict[tuple[int, str], list[float]] = attrs.field(factory=dict)
    agent_by_type: dict[tuple[int, str], list[float]] = attrs.field(factory=dict)
    users: list[Mapping[str, Any]] = attrs.field(factory=list)
    teams: list[Mapping[str, Any]] = attrs.field(factory=list)
    seats: list[Mapping[str, Any]] = attrs.field(factory=list)
    invitations: list[Mapping[str, Any]] | None = None
    skipped_rows: int = 0

    def add_usage(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Fold rows of the ``usage`` stream (v2)."""
        for row in rows:
            if row.get("granularity") != "daily":
                self.skipped_rows += 1
                continue
            scope = row["scope"]
            if scope == "team":
                continue
            if scope == "organization":
                day = _ordinal(row["period_start"])
                self.organization_id = row.get("organization_id") or row.get("entity_id")
                self.org_days[day] = (
                    _int(row.get("active_users")),
                    *(_int(row.get(name)) for name in USAGE_METRICS),
                )
                if row.get("complete") is False:
                    self.provisional.add(day)
                continue
            # The hot path (one row per user and day): no call per value.
            get = row.get
            active = get("active_users") or 0
            completions = get("code_completions") or 0
            chat = get("chat_messages") or 0
            agent = get("agent_messages") or 0
            if not (active or completions or chat or agent):
                continue
            day = _ordinal(row["period_start"])
            user = self.users_usage.get(row["entity_id"])
            if user is None:
                user = self.users_usage[row["entity_id"]] = _UserDays()
            elif day < user.days[-1]:
                user.ordered = False
            user.days.append(day)
            user.active.append(1 if active else 0)
            user.completions.append(completions)
            user.chat.append(chat)
            user.agent.append(agent)

    def add_agent_usage(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Fold rows of the ``agent_usage`` stream (teams' and users' tokens and cost)."""
        for row in rows:
            if row.get("granularity") != "daily":
                self.skipped_rows += 1
                continue
            scope = row["scope"]
            tokens, cost = _int(row.get("total_tokens")), _float(row.get("total_cost"))
            if scope == "organization" or not (tokens or cost):
                continue
            key = (scope, row["entity_id"])
            day = _ordinal(row["period_start"])
            series = self.agent_entities.get(key)
            if series is None:
                series = self.agent_entities[key] = _CostDays()
            elif day < series.days[-1]:
                series.ordered = False
            series.days.append(day)
            series.tokens.append(tokens)
            series.cost.append(cost)

    def add_agent_breakdown(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Fold the organization's rows of ``agent_usage_breakdown`` (per model, per type)."""
        for row in rows:
            if row.get("scope") != "organization":
                continue
            if row.get("granularity") != "daily":
                self.skipped_rows += 1
                continue
            agent_type, model = row.get("agent_type"), row.get("model")
            if agent_type == ALL and model != ALL:
                target, name = self.agent_by_model, str(model)
            elif model == ALL and agent_type != ALL:
                target, name = self.agent_by_type, str(agent_type)
            else:
                continue
            day = _ordinal(row["period_start"])
            slot = target.setdefault((day, name), [0.0, 0.0])
            slot[0] += _int(row.get("tokens"))
            slot[1] += _float(row.get("cost"))


@attrs.frozen
class Ledger:
    """What the destination says about itself: runs (newest first) and small values."""

    runs: Sequence[Any] = ()
    meta: Mapping[str, str] = attrs.field(factory=dict)


# -- helpers -------------------------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _period(data: DatasetRows, options: ReportOptions) -> tuple[int, int]:
    days = set(data.org_days)
    for user in data.users_usage.values():
        if user.days:
            days.add(min(user.days))
            days.add(max(user.days))
    if not days and (options.since is None or options.until is None):
        raise ReportDataError(
            "the dataset has no daily usage: sync the 'usage' stream with daily granularity"
        )
    start = options.since.toordinal() if options.since else min(days)
    final = [d for d in data.org_days if d not in data.provisional]
    # By default the period ends with the last final day: a day still open would show as a
    # drop in every chart (the header lists it as provisional).
    last = max(final) if final and max(final) >= start else max(days)
    end = options.until.toordinal() if options.until else last + 1
    if end <= start:
        raise ReportDataError(
            f"empty period: {date.fromordinal(start)} to {date.fromordinal(end)} (exclusive)"
        )
    return start, end


def _is_registered(user: Mapping[str, Any]) -> bool:
    return user.get("deactivated_at") is None and user.get("verified") is not False


def _header(data: DatasetRows, ledger: Ledger, start: int, end: int) -> Header:
    runs = list(ledger.runs)
    last = runs[0] if runs else None
    finished = [r for r in runs if r.finished_at is not None and r.status != "running"]
    synced_at = finished[0].finished_at if finished else None
    failed: list[str] = []
    if last is not None:
        summary = last.summary or {}
        for item in summary.get("failed_units", ()) or ():
            if isinstance(item, Mapping):
                failed.append(f"{item.get('unit', '?')}: {item.get('cause', '')}".strip(": "))
            else:
                failed.append(str(item))
    name = ledger.meta.get("organization_name") or data.organization_id or "unknown organization"
    return Header(
        organization=name,
        period_start=date.fromordinal(start),
        period_end=date.fromordinal(end),
        synced_at=synced_at,
        api_version=last.api_version if last is not None else None,
        last_run_status=last.status if last is not None else None,
        missing_days=tuple(
            date.fromordinal(d) for d in range(start, end) if d not in data.org_days
        ),
        provisional_days=tuple(date.fromordinal(d) for d in sorted(data.provisional) if start <= d),
        failed_units=tuple(failed),
    )


def _point(day: int, values: Sequence[int], full: bool = True) -> AdoptionPoint:
    active, completions, chat, agent, code_lines, chat_lines, agent_lines, accepted = values
    return AdoptionPoint(
        date.fromordinal(day),
        active,
        completions,
        chat,
        agent,
        code_lines,
        chat_lines,
        agent_lines,
        accepted,
        full=full,
    )


def _active_users(data: DatasetRows, start: int, end: int) -> set[str]:
    """Users active on at least one day of ``[start, end)``."""
    out = set()
    for user_id, user in data.users_usage.items():
        if 1 in user.active[user.span(start, end)]:
            out.add(user_id)
    return out


def _active_counts(
    data: DatasetRows, start: int, end: int, bucket: Callable[[int], Hashable]
) -> Counter[Any]:
    """Distinct active users per bucket of days (``bucket(day ordinal)`` -> key)."""
    keys: dict[int, Hashable] = {}
    counts: Counter[Any] = Counter()
    for user in data.users_usage.values():
        span = user.span(start, end)
        days = set(compress(user.days[span], user.active[span]))
        for day in days - keys.keys():
            keys[day] = bucket(day)
        counts.update({keys[day] for day in days})
    return counts


def _monday_of(day: int) -> int:
    # Ordinal 1 (0001-01-01) is a Monday.
    return day - (day - 1) % 7


def _weekly(data: DatasetRows, start: int, end: int) -> tuple[AdoptionPoint, ...]:
    weeks = _active_counts(data, start, end, _monday_of)
    points = []
    first = _monday(date.fromordinal(start)).toordinal()
    for week in range(first, end, 7):
        days = [d for d in range(week, week + 7) if start <= d < end]
        sums = [0] * len(USAGE_METRICS)
        for d in days:
            values = data.org_days.get(d)
            if values is not None:
                for i, v in enumerate(values[1:]):
                    sums[i] += v
        full = len(days) == 7 and all(d in data.org_days for d in days)
        points.append(_point(week, [weeks[week], *sums], full))
    return tuple(points)


def _averages(data: DatasetRows, start: int, end: int, exclude_weekends: bool) -> Averages:
    counted = [
        data.org_days[d]
        for d in range(start, end)
        if d in data.org_days and not (exclude_weekends and date.fromordinal(d).weekday() >= 5)
    ]
    n = len(counted)

    def mean(i: int) -> float | None:
        return sum(v[i] for v in counted) / n if n else None

    return Averages(
        days=n,
        weekends_excluded=exclude_weekends,
        active_users=mean(0),
        code_completions=mean(1),
        chat_messages=mean(2),
        agent_messages=mean(3),
    )


def _last_active(data: DatasetRows, end: int) -> dict[str, int]:
    last: dict[str, int] = {}
    for user_id, user in data.users_usage.items():
        index = user.active[: bisect_left(user.days, end)].tobytes().rfind(1)
        if index >= 0:
            last[user_id] = user.days[index]
    return last


def _seats(data: DatasetRows, ledger: Ledger, start: int, end: int) -> Seats:
    registered = [u for u in data.users if _is_registered(u)]
    registered_ids = {u["user_id"] for u in registered}
    recent = _active_users(data, max(start, end - 28), end)
    if data.invitations is not None:
        pending = sum(1 for i in data.invitations if i.get("revoked_at") is None)
    else:
        pending = sum(
            1 for u in data.users if u.get("deactivated_at") is None and u.get("verified") is False
        )
    monthly = _active_counts(data, -(10**9), 10**9, lambda d: date.fromordinal(d).replace(day=1))
    months = []
    for row in sorted(data.seats, key=lambda r: day_of(r["month"])):
        month = day_of(row["month"])
        active, registered_count = row.get("active"), row.get("registered")
        months.append(
            SeatMonth(
                month=month,
                registered=registered_count,
                active=active,
                deactivated=row.get("deactivated"),
                pending=row.get("pending"),
                utilization=_ratio(_int(active), _int(registered_count)),
                usage_active_users=monthly.get(month),
                provisional=bool(row.get("provisional")),
            )
        )
    licensed = ledger.meta.get("license_seats")
    active_28d = len(recent & registered_ids)
    return Seats(
        licensed=int(licensed) if licensed and licensed.isdigit() else None,
        registered=len(registered),
        active_28d=active_28d,
        activation_rate=_ratio(active_28d, len(registered)),
        deactivated=sum(1 for u in data.users if u.get("deactivated_at") is not None),
        pending_invitations=pending,
        months=tuple(months),
    )


def _user_sums(user: _UserDays, start: int, end: int) -> tuple[bool, int, int, int]:
    span = user.span(start, end)
    return (
        1 in user.active[span],
        sum(user.completions[span]),
        sum(user.chat[span]),
        sum(user.agent[span]),
    )


def _teams(data: DatasetRows, start: int, end: int) -> tuple[TeamRow, ...]:
    names = {t["team_id"]: t.get("name") or t["team_id"] for t in data.teams}
    members: dict[str, list[str]] = {team_id: [] for team_id in names}
    for user in data.users:
        if not _is_registered(user):
            continue
        for team_id in user.get("team_ids") or [""]:
            members.setdefault(team_id, []).append(user["user_id"])
    trend_mid = max(start, end - _TREND_DAYS)
    trend_start = max(start, trend_mid - _TREND_DAYS)
    # Each user once, whatever the number of teams: (active, completions, chat, agent, recent
    # activity, earlier activity).
    per_user: dict[str, tuple[int, int, int, int, int, int]] = {}
    for user_id, usage in data.users_usage.items():
        was_active, c, ch, a = _user_sums(usage, start, end)
        recent = sum(_user_sums(usage, trend_mid, end)[1:])
        earlier = sum(_user_sums(usage, trend_start, trend_mid)[1:])
        per_user[user_id] = (int(was_active), c, ch, a, recent, earlier)
    nothing = (0, 0, 0, 0, 0, 0)
    rows = []
    for team_id, user_ids in members.items():
        if not user_ids and team_id == "":
            continue
        sums = [0] * 6
        for user_id in user_ids:
            for i, value in enumerate(per_user.get(user_id, nothing)):
                sums[i] += value
        active, completions, chat, agent, recent, earlier = sums
        rows.append(
            TeamRow(
                team_id=team_id,
                name=names.get(team_id, "(no team)" if team_id == "" else team_id),
                members=len(user_ids),
                active=active,
                share_active=_ratio(active, len(user_ids)),
                completions=completions,
                chat_messages=chat,
                agent_messages=agent,
                activity_per_active_user=_ratio(completions + chat + agent, active),
                trend=(recent - earlier) / earlier if earlier else None,
            )
        )
    rows.sort(key=lambda r: (-r.members, r.name))
    return tuple(rows)


def _reclaim(
    data: DatasetRows, start: int, end: int, thresholds: tuple[int, ...]
) -> tuple[ReclaimRow, ...]:
    last = _last_active(data, end)
    team_names = {t["team_id"]: t.get("name") or t["team_id"] for t in data.teams}
    rows = []
    for user in data.users:
        if not _is_registered(user):
            continue
        day = last.get(user["user_id"])
        idle = None if day is None else end - 1 - day
        reached = [t for t in thresholds if idle is not None and idle >= t]
        if idle is not None and not reached:
            continue
        rows.append(
            ReclaimRow(
                user_id=user["user_id"],
                email=user.get("email") or "",
                role=user.get("role") or "",
                teams=", ".join(team_names.get(t, t) for t in user.get("team_ids") or []),
                last_active=date.fromordinal(day) if day is not None else None,
                inactive_days=idle,
                threshold=reached[-1] if reached else 0,
            )
        )
    rows.sort(key=lambda r: (r.inactive_days is not None, -(r.inactive_days or 0), r.email))
    return tuple(rows)


def _agent_series(
    source: Mapping[tuple[int, str], list[float]], start: int, end: int
) -> tuple[AgentPoint, ...]:
    return tuple(
        AgentPoint(date.fromordinal(day), name, int(v[0]), round(v[1], 6))
        for (day, name), v in sorted(source.items())
        if start <= day < end
    )


def _agent_top(
    data: DatasetRows, scope: str, names: Mapping[str, str], start: int, end: int, top: int
) -> tuple[AgentCost, ...]:
    totals = []
    for (entity_scope, entity_id), series in data.agent_entities.items():
        if entity_scope != scope:
            continue
        span = series.span(start, end)
        tokens, cost = sum(series.tokens[span]), sum(series.cost[span])
        if tokens or cost:
            totals.append(AgentCost(entity_id, names.get(entity_id, entity_id), tokens, cost))
    totals.sort(key=lambda c: (-c.cost, -c.tokens, c.name))
    return tuple(attrs.evolve(c, cost=round(c.cost, 6)) for c in totals[:top])


def compute_report(
    data: DatasetRows, ledger: Ledger | None = None, options: ReportOptions | None = None
) -> Report:
    """Every figure of the report from the folded rows, the ledger and the options.

    Raises ``ReportDataError`` when the dataset has no daily usage or the period is empty.
    """
    ledger = ledger or Ledger()
    options = options or ReportOptions()
    for user in data.users_usage.values():
        user.sort()
    for series in data.agent_entities.values():
        series.sort()
    start, end = _period(data, options)
    present = [d for d in range(start, end) if d in data.org_days]
    daily = tuple(_point(d, data.org_days[d]) for d in present)
    sums = [sum(data.org_days[d][i] for d in present) for i in range(1, 1 + len(USAGE_METRICS))]
    active_period = _active_users(data, start, end)
    totals = _point(start, [len(active_period), *sums], len(present) == end - start)
    team_names = {t["team_id"]: t.get("name") or t["team_id"] for t in data.teams}
    user_names = {u["user_id"]: u.get("email") or u["user_id"] for u in data.users}
    by_model = _agent_series(data.agent_by_model, start, end)
    return Report(
        header=_header(data, ledger, start, end),
        seats=_seats(data, ledger, start, end),
        daily=daily,
        weekly=_weekly(data, start, end),
        totals=totals,
        averages=_averages(data, start, end, options.exclude_weekends),
        teams=_teams(data, start, end),
        reclaim=_reclaim(data, start, end, options.inactive_days),
        inactive_thresholds=options.inactive_days,
        agent_by_model=by_model,
        agent_by_type=_agent_series(data.agent_by_type, start, end),
        agent_top_teams=_agent_top(data, "team", team_names, start, end, options.top),
        agent_top_users=_agent_top(data, "user", user_names, start, end, options.top),
        agent_total_tokens=sum(p.tokens for p in by_model),
        agent_total_cost=round(sum(p.cost for p in by_model), 6),
        definitions=DEFINITIONS,
    )
