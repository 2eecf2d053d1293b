"""Every figure of the report against the fake server's ground truth after a real sync.

The expected numbers are computed here from the fake ``Dataset``'s own methods (the wire JSON it
serves and its roster), never with the report's code.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.report import Report, ReportOptions, load_report
from tabnine_usage_async.testing import Dataset

from .report_support import SINCE, sync_fake

START = SINCE
END = date(2026, 1, 16)  # the fake's clock stops at the end of 2026-01-15
OPTIONS = ReportOptions(since=START, until=END, inactive_days=(7, 30, 60))


def _at(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    """One fake organization synced once for the whole module."""
    path = tmp_path_factory.mktemp("report") / "usage.sqlite"
    data = asyncio.run(sync_fake(path))
    return path, data


@pytest.fixture(scope="module")
def report(synced: tuple[Path, Dataset]) -> Report:
    """The report of the synced dataset over the fake's whole history."""
    return asyncio.run(load_report(open_destination(synced[0]), OPTIONS))


def _org(data: Dataset, granularity: str = "daily") -> list[dict[str, Any]]:
    return data.usage_v2_buckets(
        "organization",
        data.organization.id,
        _at(START),
        _at(END),
        granularity,  # type: ignore[arg-type]
    )


def _user_active_days(data: Dataset) -> dict[str, list[date]]:
    days: dict[str, list[date]] = {}
    for user in data.users:
        buckets = data.usage_v2_buckets("user", user.id, _at(START), _at(END), "daily")
        days[user.id] = [_day(b["from"]) for b in buckets if b["activeUsers"]]
    return days


def _user_activity(data: Dataset, user_id: str, start: date, end: date) -> int:
    (bucket,) = data.usage_v2_buckets("user", user_id, _at(start), _at(end), "all")
    return (
        bucket["codeCompletions"].get("completions", 0)
        + bucket["chat"].get("messages", 0)
        + bucket["agent"].get("messages", 0)
    )


def test_daily_series_equals_the_organization_buckets(synced: Any, report: Report) -> None:
    """Each day's active users, completions, chat and agent messages and lines are the server's."""
    expected = [
        (
            _day(b["from"]),
            b["activeUsers"],
            b["codeCompletions"]["completions"],
            b["chat"]["messages"],
            b["agent"]["messages"],
            b["codeCompletions"]["lines"],
            b["chat"]["linesAdded"],
            b["agent"]["linesAdded"],
            b["agent"]["linesAddedAccepted"],
        )
        for b in _org(synced[1])
    ]
    got = [
        (
            p.start,
            p.active_users,
            p.code_completions,
            p.chat_messages,
            p.agent_messages,
            p.code_completions_lines,
            p.chat_lines_added,
            p.agent_lines_added,
            p.agent_lines_added_accepted,
        )
        for p in report.daily
    ]
    assert got == expected
    assert report.header.missing_days == ()
    assert report.totals.code_completions == sum(row[2] for row in expected)


def test_weekly_active_users_equal_the_servers_weekly_buckets(synced: Any, report: Report) -> None:
    """Distinct users per full week equal the server's own weekly activeUsers."""
    data = synced[1]
    full = [p for p in report.weekly if p.full]
    assert len(full) >= 10
    for week in full:
        (bucket,) = data.usage_v2_buckets(
            "organization",
            data.organization.id,
            _at(week.start),
            _at(week.start + timedelta(days=7)),
            "weekly",
        )
        assert week.active_users == bucket["activeUsers"], week.start


def test_period_active_users_equal_the_servers_total(synced: Any, report: Report) -> None:
    """Active users over the whole period equal the server's granularity=all bucket."""
    (bucket,) = _org(synced[1], "all")
    assert report.totals.active_users == bucket["activeUsers"]


def test_seat_counts_follow_the_roster(synced: Any, report: Report) -> None:
    """Registered, deactivated, pending invitations and 28-day activity match the roster."""
    data = synced[1]
    registered = [u for u in data.users if u.active and u.verified]
    days = _user_active_days(data)
    recent = {u.id for u in registered if any(d >= END - timedelta(days=28) for d in days[u.id])}
    seats = report.seats
    assert seats.registered == len(registered)
    assert seats.deactivated == sum(1 for u in data.users if not u.active)
    assert seats.pending_invitations == len(data.invitations())
    assert seats.active_28d == len(recent)
    assert seats.activation_rate == pytest.approx(len(recent) / len(registered))


def test_monthly_utilization_is_the_servers(synced: Any, report: Report) -> None:
    """Each month's registered, active, deactivated and pending users are the server's."""
    expected = [
        (date(m["year"], m["month"] + 1, 1), m["registered"], m["active"], m["deactivated"])
        for m in synced[1].account_utilizations((START.year, START.month))
    ]
    got = [(m.month, m.registered, m.active, m.deactivated) for m in report.seats.months]
    assert got == expected
    for month in report.seats.months:
        assert month.utilization == pytest.approx(month.active / month.registered)


def test_team_rows_match_members_activity(synced: Any, report: Report) -> None:
    """Each team's members, active members and activity come from its members' own usage."""
    data = synced[1]
    days = _user_active_days(data)
    rows = {r.team_id: r for r in report.teams}
    for team in data.teams:
        members = [data.user(uid) for uid in team.member_ids]
        seated = [u for u in members if u.active and u.verified]
        active = [u for u in seated if days[u.id]]
        row = rows[team.id]
        assert (row.name, row.members, row.active) == (team.name, len(seated), len(active))
        activity = sum(_user_activity(data, u.id, START, END) for u in seated)
        expected = activity / len(active) if active else None
        assert row.activity_per_active_user == pytest.approx(expected)


def test_team_rows_add_up_to_the_organization(synced: Any, report: Report) -> None:
    """Active team members (no-team row included, multi-team users once) are the period's
    active registered users."""
    data = synced[1]
    days = _user_active_days(data)
    multi = sum(
        1 for u in data.users if u.active and u.verified and len(u.team_ids) > 1 and days[u.id]
    )
    extra = sum(
        len(u.team_ids) - 1
        for u in data.users
        if u.active and u.verified and len(u.team_ids) > 1 and days[u.id]
    )
    active_registered = sum(1 for u in data.users if u.active and u.verified and days[u.id])
    assert sum(r.active for r in report.teams) - extra == active_registered
    assert multi <= extra


def test_seats_to_reclaim_list_idle_and_never_active_users(synced: Any, report: Report) -> None:
    """Exactly the registered users idle for 7+ days or never active are listed, with dates."""
    data = synced[1]
    days = _user_active_days(data)
    expected = {}
    for user in data.users:
        if not (user.active and user.verified):
            continue
        last = max(days[user.id], default=None)
        idle = None if last is None else (END - timedelta(days=1) - last).days
        if idle is None or idle >= 7:
            expected[user.id] = (last, idle, user.role)
    got = {r.user_id: (r.last_active, r.inactive_days, r.role) for r in report.reclaim}
    assert got == expected
    assert any(r.threshold == 0 for r in report.reclaim) == any(
        v[0] is None for v in expected.values()
    )


def test_agent_cost_by_model_and_type_equal_the_breakdowns(synced: Any, report: Report) -> None:
    """Per-day cost and tokens per model and per agent type are the server's breakdowns."""
    data = synced[1]
    points = data.agent_usage_points(
        "organization", data.organization.id, _at(START), _at(END), "daily"
    )
    models: dict[tuple[date, str], tuple[int, float]] = {}
    types: dict[tuple[date, str], tuple[int, float]] = {}
    for p in points:
        for m in p["modelBreakdown"]:
            models[(_day(p["from"]), m["model"])] = (m["tokensConsumed"], m["cost"])
        for t in p["agentTypeBreakdown"]:
            types[(_day(p["from"]), t["agentType"])] = (t["tokensConsumed"], t["cost"])
    got_models = {(a.day, a.name): (a.tokens, a.cost) for a in report.agent_by_model}
    got_types = {(a.day, a.name): (a.tokens, a.cost) for a in report.agent_by_type}
    assert got_models.keys() == models.keys()
    assert got_types.keys() == types.keys()
    for key, (tokens, cost) in models.items():
        assert got_models[key][0] == tokens
        assert got_models[key][1] == pytest.approx(cost)
    for key, (tokens, cost) in types.items():
        assert got_types[key][0] == tokens
        assert got_types[key][1] == pytest.approx(cost)
    total = sum(p["totalCost"] for p in points)
    assert report.agent_total_cost == pytest.approx(total, rel=1e-6)


def test_top_users_and_teams_by_cost(synced: Any, report: Report) -> None:
    """The top users and teams by agent cost, in order, with the server's period totals."""
    data = synced[1]

    def period_cost(scope: str, entity_id: str) -> float:
        (point,) = data.agent_usage_points(scope, entity_id, _at(START), _at(END), "all")  # type: ignore[arg-type]
        return float(point["totalCost"])

    users = sorted(((period_cost("user", u.id), u.id) for u in data.users), key=lambda c: -c[0])
    expected_users = [uid for cost, uid in users if cost > 0][: OPTIONS.top]
    assert [c.id for c in report.agent_top_users] == expected_users
    for c in report.agent_top_users:
        assert c.cost == pytest.approx(period_cost("user", c.id))
    teams = sorted(((period_cost("team", t.id), t.id) for t in data.teams), key=lambda c: -c[0])
    assert [c.id for c in report.agent_top_teams] == [tid for cost, tid in teams if cost > 0][
        : OPTIONS.top
    ]


def test_weekends_left_out_of_per_day_averages(synced: Any) -> None:
    """With weekends excluded, averages count weekdays only and equal their mean."""
    path, data = synced
    options = ReportOptions(since=START, until=END, exclude_weekends=True)
    report = asyncio.run(load_report(open_destination(path), options))
    weekdays = [b for b in _org(data) if _day(b["from"]).weekday() < 5]
    assert report.averages.weekends_excluded
    assert report.averages.days == len(weekdays)
    assert report.averages.code_completions == pytest.approx(
        sum(b["codeCompletions"]["completions"] for b in weekdays) / len(weekdays)
    )
    everyday = asyncio.run(load_report(open_destination(path), ReportOptions()))
    assert everyday.averages.days > report.averages.days


def test_monthly_usage_active_users_are_distinct_users(synced: Any, report: Report) -> None:
    """The usage column beside monthly utilization counts distinct users active in the month."""
    data = synced[1]
    per_month: dict[date, set[str]] = defaultdict(set)
    for user_id, days in _user_active_days(data).items():
        for d in days:
            per_month[d.replace(day=1)].add(user_id)
    for month in report.seats.months:
        assert month.usage_active_users == len(per_month[month.month]), month.month
