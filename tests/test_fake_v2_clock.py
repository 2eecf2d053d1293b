"""The fake's clock, corrections of past days and roster changes keep every number consistent."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timezone
from typing import Any

import pytest

from tabnine_usage_async.testing import Dataset, fake_tabnine_process

UTC = timezone.utc
START = datetime(2025, 12, 1, tzinfo=UTC)
END = datetime(2026, 1, 20, tzinfo=UTC)


def org_daily(data: Dataset, kind: str = "v2") -> list[dict[str, Any]]:
    """The organization's daily buckets (v2), points (agent) or blocks (v1)."""
    org = data.organization.id
    if kind == "agent":
        return data.agent_usage_points("organization", org, START, END, "daily")
    if kind == "v1":
        return data.usage_blocks("organization", org, START, END, "daily")
    return data.usage_v2_buckets("organization", org, START, END, "daily")


def by_day(buckets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {bucket["from"][:10]: bucket for bucket in buckets}


def test_no_activity_at_or_after_now() -> None:
    """Days after the clock's day are empty; moving the clock forward fills them."""
    data = Dataset(seed=4, teams=3, users=60)
    before = by_day(org_daily(data))
    assert before["2026-01-15"]["activeUsers"] > 0
    assert before["2026-01-16"]["activeUsers"] == 0
    data.set_now(datetime(2026, 1, 20, tzinfo=UTC))
    after = by_day(org_daily(data))
    assert after["2026-01-16"]["activeUsers"] > 0 and after["2026-01-19"]["activeUsers"] > 0
    assert after["2026-01-15"] == before["2026-01-15"]
    assert data.today == date(2026, 1, 19)


def test_a_day_that_has_not_ended_is_partial() -> None:
    """Through a weekday the day's users only grow, to the full day's numbers at midnight."""
    data = Dataset(seed=4, teams=3, users=200)
    day = date(2026, 1, 14)
    full = by_day(org_daily(data))[day.isoformat()]
    full_agent = by_day(org_daily(data, "agent"))[day.isoformat()]
    previous = -1
    seen = []
    for hour in (0, 6, 12, 18, 23):
        data.set_now(datetime(2026, 1, 14, hour, 30, tzinfo=UTC))
        bucket = by_day(org_daily(data))[day.isoformat()]
        assert previous <= bucket["activeUsers"] <= full["activeUsers"]
        assert by_day(org_daily(data))["2026-01-13"]["activeUsers"] > 0
        previous = bucket["activeUsers"]
        seen.append(previous)
        agent = by_day(org_daily(data, "agent"))[day.isoformat()]
        assert agent["totalTokensConsumed"] <= full_agent["totalTokensConsumed"]
    assert seen[0] < seen[-1] < full["activeUsers"]
    data.set_now(datetime(2026, 1, 15, tzinfo=UTC))
    assert by_day(org_daily(data))[day.isoformat()] == full


def test_the_clock_hides_audit_events_after_now() -> None:
    """Audit events are those before ``now``; moving the clock back hides later ones."""
    data = Dataset(seed=4, teams=3, users=60)
    cut = datetime(2025, 6, 1, tzinfo=UTC)
    everything = data.audit_events()
    data.set_now(cut)
    early = data.audit_events()
    assert early == [e for e in everything if e["timestamp"] < "2025-06-01"]
    assert 0 < len(early) < len(everything)


def test_a_correction_changes_one_day_everywhere_and_nothing_else() -> None:
    """Correcting a day changes its v1, v2 and agent numbers; other days stay the same."""
    data = Dataset(seed=4, teams=3, users=120)
    kinds = ("v1", "v2", "agent")
    before = {kind: by_day(org_daily(data, kind)) for kind in kinds}
    day = date(2026, 1, 7)
    assert data.correct(day) == 1
    after = {kind: by_day(org_daily(data, kind)) for kind in kinds}
    for kind in kinds:
        changed = {d for d in before[kind] if before[kind][d] != after[kind][d]}
        assert changed == {day.isoformat()}, kind
    team = data.teams[1]
    team_buckets = data.usage_v2_buckets("team", team.id, START, END, "weekly")
    members = [data.usage_v2_buckets("user", u, START, END, "weekly") for u in team.member_ids]
    for position, bucket in enumerate(team_buckets):
        total = sum(m[position]["codeCompletions"]["completions"] for m in members)
        assert bucket["codeCompletions"]["completions"] == total
    assert data.correct(day) == 2


def test_a_correction_of_one_user_changes_only_that_user() -> None:
    """A correction limited to one user changes that user's day and leaves the others alone."""
    data = Dataset(seed=4, teams=3, users=60)
    day = date(2026, 1, 8)
    users = [u.id for u in data.users if data.user_day_metrics(u.id, day).active]
    target, other = users[0], users[1]
    before = {uid: data.user_day_metrics(uid, day) for uid in (target, other)}
    for revision in range(1, 6):
        data.correct(day, [target], revision=revision)
        if data.user_day_metrics(target, day) != before[target]:
            break
    assert data.user_day_metrics(target, day) != before[target]
    assert data.user_day_metrics(other, day) == before[other]


def test_roster_changes_reach_usage_audit_and_lists() -> None:
    """An added user has activity, events and a membership; a deactivated one stops at once."""
    data = Dataset(seed=4, teams=3, users=40)
    team = data.teams[1]
    data.set_now(datetime(2026, 2, 1, tzinfo=UTC))
    added = data.add_user(datetime(2026, 1, 5, 9, tzinfo=UTC), team_ids=[team.id])
    assert added.id in data.team(team.id).member_ids
    buckets = data.usage_v2_buckets("user", added.id, START, END, "daily")
    active_days = [b["from"][:10] for b in buckets if b["activeUsers"]]
    assert active_days and min(active_days) >= "2026-01-05"
    kinds = {e["eventType"] for e in data.audit_events() if e["resource"]["id"] == added.id}
    assert {"user.invited", "user.registered"} <= kinds
    victim = data.team(team.id).member_ids[0]
    moment = datetime(2026, 1, 10, 15, tzinfo=UTC)
    data.deactivate_user(victim, moment)
    buckets = data.usage_v2_buckets("user", victim, START, END, "daily")
    assert all(b["activeUsers"] == 0 for b in buckets if b["from"] >= "2026-01-10")
    events = [e for e in data.audit_events() if e["eventType"] == "user.deactivated"]
    assert any(
        e["resource"]["id"] == victim and e["timestamp"].startswith("2026-01-10T15") for e in events
    )
    assert data.team_utilization(team.id)["deactivated"] >= 1


def _get(base_url: str, token: str, path: str, params: dict[str, str]) -> Any:
    url = f"{base_url}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def test_the_process_helper_drives_clock_corrections_and_roster() -> None:
    """A fake in another process moves its clock, corrects a day and adds a user on request."""
    with fake_tabnine_process(
        users=30, teams=3, seed=4, version="5.x", now=datetime(2026, 1, 10, tzinfo=UTC)
    ) as fake:
        data = Dataset(seed=4, teams=3, users=30)
        org = data.organization.id
        params = {
            "organizationId": org,
            "from": "2026-01-05T00:00:00Z",
            "to": "2026-01-15T00:00:00Z",
            "granularity": "daily",
        }
        start, end = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC)
        served = _get(fake.base_url, fake.token, "/api/v1/organization/usage", params)
        data.set_now(datetime(2026, 1, 10, tzinfo=UTC))
        assert served["usage"]["data"] == data.usage_blocks(
            "organization", org, start, end, "daily"
        )
        fake.set_now(datetime(2026, 1, 15, tzinfo=UTC))
        assert fake.correct(date(2026, 1, 12)) == 1
        new_id = fake.add_user(datetime(2026, 1, 6, tzinfo=UTC), [data.teams[1].id])
        fake.deactivate_user(data.teams[2].member_ids[0], datetime(2026, 1, 7, tzinfo=UTC))
        data.set_now(datetime(2026, 1, 15, tzinfo=UTC))
        data.correct(date(2026, 1, 12))
        assert (
            data.add_user(datetime(2026, 1, 6, tzinfo=UTC), team_ids=[data.teams[1].id]).id
            == new_id
        )
        data.deactivate_user(data.teams[2].member_ids[0], datetime(2026, 1, 7, tzinfo=UTC))
        served = _get(fake.base_url, fake.token, "/api/v1/organization/usage", params)
        assert served["usage"]["data"] == data.usage_blocks(
            "organization", org, start, end, "daily"
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            _get(fake.base_url, fake.token, "/api/v2/organization/usage", params)
        raised.value.close()
        assert raised.value.code == 404
