"""The fake's v2 usage and agent usage agree across users, teams, periods and breakdowns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import (
    AGENT_MODELS,
    CHAT_MODELS,
    Dataset,
    FakeTabnine,
    serve_fake_tabnine,
)
from tabnine_usage_async.testing.dataset import Scope

DATA = Dataset(seed=21, teams=3, users=24)
START = datetime(2025, 12, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 12, tzinfo=timezone.utc)
ORG = DATA.organization.id

V2_COUNTS = {
    "codeCompletions": ("activeUsers", "completions", "charsCompleted", "keystrokes", "lines"),
    "chat": ("messages", "linesAdded"),
    "agent": (
        "messages",
        "linesAdded",
        "linesAddedAccepted",
        "linesRemoved",
        "linesRemovedAccepted",
    ),
}
AGENT_TOTALS = ("totalTokensConsumed", "totalInputTokens", "totalOutputTokens")
TYPE_COUNTS = (
    "interactions",
    "linesAdded",
    "linesAddedAccepted",
    "linesRemoved",
    "linesRemovedAccepted",
    "tokensConsumed",
    "inputTokens",
    "outputTokens",
    "userInitiatedMessages",
)
MODEL_COUNTS = ("tokensConsumed", "inputTokens", "outputTokens")


def summed_counts(buckets: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Every additive v2 count of ``buckets`` summed over the buckets."""
    sums: dict[tuple[str, str], int] = {}
    for bucket in buckets:
        for section, keys in V2_COUNTS.items():
            for key in keys:
                if key == "activeUsers":
                    continue
                sums[section, key] = sums.get((section, key), 0) + bucket[section][key]
    return sums


def agent_sums(points: list[dict[str, Any]]) -> dict[str, float]:
    """Agent totals summed over points (tokens exact, cost in micro-dollars)."""
    sums: dict[str, float] = dict.fromkeys(AGENT_TOTALS, 0)
    sums["cost"] = 0
    for point in points:
        for key in AGENT_TOTALS:
            sums[key] += point[key]
        sums["cost"] += round(point["totalCost"] * 1_000_000)
    return sums


def test_a_team_bucket_is_the_sum_of_its_members() -> None:
    """Every additive v2 count of a team equals the sum over its members, per week."""
    for team in DATA.teams:
        team_buckets = DATA.usage_v2_buckets("team", team.id, START, END, "weekly")
        member_buckets = [
            DATA.usage_v2_buckets("user", uid, START, END, "weekly") for uid in team.member_ids
        ]
        for position, bucket in enumerate(team_buckets):
            expected = summed_counts([buckets[position] for buckets in member_buckets])
            assert summed_counts([bucket]) == expected


def test_the_organization_is_the_sum_of_all_users() -> None:
    """Organization v2 counts and agent tokens equal the sums over every user."""
    org = DATA.usage_v2_buckets("organization", ORG, START, END, "all")
    users = [DATA.usage_v2_buckets("user", u.id, START, END, "all")[0] for u in DATA.users]
    assert summed_counts(org) == summed_counts(users)
    org_agent = DATA.agent_usage_points("organization", ORG, START, END, "all")
    user_agent = [DATA.agent_usage_points("user", u.id, START, END, "all")[0] for u in DATA.users]
    org_sums, user_sums = agent_sums(org_agent), agent_sums(user_agent)
    for key in AGENT_TOTALS:
        assert org_sums[key] == user_sums[key]
    assert org_sums["cost"] == pytest.approx(user_sums["cost"], abs=len(DATA.users))


def test_weeks_and_months_are_sums_of_their_days() -> None:
    """Weekly and monthly v2 buckets and agent points sum the daily ones they cover."""
    daily = DATA.usage_v2_buckets("organization", ORG, START, END, "daily")
    daily_agent = DATA.agent_usage_points("organization", ORG, START, END, "daily")
    for granularity in ("weekly", "monthly", "all"):
        buckets = DATA.usage_v2_buckets("organization", ORG, START, END, granularity)
        points = DATA.agent_usage_points("organization", ORG, START, END, granularity)
        for bucket, point in zip(buckets, points, strict=True):
            inside = [d for d in daily if bucket["from"] <= d["from"] < bucket["to"]]
            inside_agent = [p for p in daily_agent if bucket["from"] <= p["from"] < bucket["to"]]
            assert summed_counts([bucket]) == summed_counts(inside)
            for key in AGENT_TOTALS:
                assert point[key] == sum(p[key] for p in inside_agent)


def test_active_users_count_distinct_users() -> None:
    """A bucket's activeUsers equals the users active on at least one of its days."""
    team = DATA.teams[1]
    for bucket in DATA.usage_v2_buckets("team", team.id, START, END, "weekly"):
        first = datetime.fromisoformat(bucket["from"].replace("Z", "+00:00"))
        last = datetime.fromisoformat(bucket["to"].replace("Z", "+00:00"))
        days = [(first + timedelta(days=k)).date() for k in range((last - first).days)]
        active = {
            uid for uid in team.member_ids for day in days if DATA.user_day_metrics(uid, day).active
        }
        agent = {
            uid
            for uid in team.member_ids
            for day in days
            if DATA.user_day_metrics(uid, day).agent_active
        }
        assert bucket["activeUsers"] == len(active)
        assert bucket["agent"]["activeUsers"] == len(agent)


def test_v2_shares_code_and_chat_numbers_with_v1() -> None:
    """v2 completions, chat messages and chat lines are v1's completions, interactions, lines."""
    v1 = DATA.usage_blocks("organization", ORG, START, END, "weekly")
    v2 = DATA.usage_v2_buckets("organization", ORG, START, END, "weekly")
    for old, new in zip(v1, v2, strict=True):
        assert old["activeUsers"] == new["activeUsers"]
        assert old["codeCompletions"]["completions"] == new["codeCompletions"]["completions"]
        assert old["chat"]["interactions"] == new["chat"]["messages"]
        assert old["chat"]["lines"] == new["chat"]["linesAdded"]
        assert old["agent"]["toolCalls"] == new["agent"]["messages"]


def test_agent_totals_equal_their_breakdowns() -> None:
    """A point's totals equal its model breakdown and its agent-type breakdown, each type's too."""
    points = DATA.agent_usage_points("organization", ORG, START, END, "weekly")
    assert any(point["agentTypeBreakdown"] for point in points)
    for point in points:
        models = point["modelBreakdown"]
        types = point["agentTypeBreakdown"]
        assert point["totalInputTokens"] == sum(m["inputTokens"] for m in models)
        assert point["totalOutputTokens"] == sum(m["outputTokens"] for m in models)
        assert point["totalTokensConsumed"] == sum(m["tokensConsumed"] for m in models)
        assert point["totalTokensConsumed"] == sum(t["tokensConsumed"] for t in types)
        assert point["totalCost"] == pytest.approx(sum(m["cost"] for m in models), abs=1e-5)
        assert point["totalCost"] == pytest.approx(sum(t["cost"] for t in types), abs=1e-5)
        assert point["activeUsers"] <= sum(t["activeUsers"] for t in types)
        for agent_type in types:
            for key in MODEL_COUNTS:
                assert agent_type[key] == sum(m[key] for m in agent_type["modelBreakdown"])
            assert agent_type["linesAddedAccepted"] <= agent_type["linesAdded"]
            assert agent_type["linesRemovedAccepted"] <= agent_type["linesRemoved"]
        for key in MODEL_COUNTS:
            by_model = {m["model"]: m[key] for m in models}
            from_types: dict[str, int] = {}
            for agent_type in types:
                for row in agent_type["modelBreakdown"]:
                    from_types[row["model"]] = from_types.get(row["model"], 0) + row[key]
            assert by_model == from_types


def test_agent_usage_and_v2_agent_agree() -> None:
    """v2 agent messages and per-model tokens equal agent usage's interactions and tokens."""
    bucket = DATA.usage_v2_buckets("organization", ORG, START, END, "all")[0]
    point = DATA.agent_usage_points("organization", ORG, START, END, "all")[0]
    assert bucket["agent"]["messages"] == sum(
        t["interactions"] for t in point["agentTypeBreakdown"]
    )
    names = {model.id: model.name for model in AGENT_MODELS}
    v2_tokens = {names[row["model"]]: row["inputTokens"] for row in bucket["agent"]["models"]}
    assert v2_tokens == {row["model"]: row["inputTokens"] for row in point["modelBreakdown"]}
    assert bucket["agent"]["activeUsers"] == point["activeUsers"]


def test_model_rows_only_at_granularity_all() -> None:
    """Per-model chat and agent rows come with granularity=all and never otherwise."""
    (bucket,) = DATA.usage_v2_buckets("organization", ORG, START, END, "all")
    chat_ids = {model.id for model in CHAT_MODELS}
    assert {row["model"] for row in bucket["chat"]["models"]} <= chat_ids
    assert sum(row["messages"] for row in bucket["chat"]["models"]) == bucket["chat"]["messages"]
    assert (
        max(row["uniqueUsers"] for row in bucket["chat"]["models"]) <= bucket["chat"]["activeUsers"]
    )
    assert sum(row["messages"] for row in bucket["agent"]["models"]) == bucket["agent"]["messages"]
    for granularity in ("daily", "weekly", "monthly"):
        for other in DATA.usage_v2_buckets("organization", ORG, START, END, granularity):
            assert "models" not in other["chat"] and "models" not in other["agent"]


def test_user_buckets_name_ides_and_languages_only_when_active() -> None:
    """``ides``/``languages`` appear on a user's active buckets only, never on teams."""
    user = DATA.user(DATA.teams[1].member_ids[0])
    buckets = DATA.usage_v2_buckets("user", user.id, START, END, "daily")
    for bucket in buckets:
        assert ("ides" in bucket) == (bucket["activeUsers"] > 0)
    assert any("ides" in bucket for bucket in buckets)
    team = DATA.usage_v2_buckets("team", DATA.teams[1].id, START, END, "all")[0]
    assert "ides" not in team and "languages" not in team


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeTabnine, aiohttp.ClientSession]]:
    async with (
        serve_fake_tabnine(dataset=Dataset(seed=21, teams=3, users=24)) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        yield fake, session


@pytest.mark.parametrize("scope", ["organization", "team", "user"])
async def test_served_bodies_are_the_ground_truth(
    served: tuple[FakeTabnine, aiohttp.ClientSession], scope: Scope
) -> None:
    """The v2 and agent-usage routes send exactly the dataset's buckets and points."""
    fake, session = served
    data = fake.dataset
    params = {
        "organizationId": fake.organization_id,
        "from": "2025-12-01T00:00:00Z",
        "to": "2026-01-12T00:00:00Z",
        "granularity": "weekly",
    }
    entity = fake.organization_id
    if scope == "team":
        entity = params["teamId"] = data.teams[2].id
    elif scope == "user":
        entity = params["userId"] = data.teams[2].member_ids[0]
    async with session.get(fake.url(f"/api/v2/{scope}/usage"), params=params) as response:
        assert response.status == 200
        body = await response.json()
    assert body["usage"] == {
        "granularity": "weekly",
        "data": data.usage_v2_buckets(scope, entity, START, END, "weekly"),
    }
    async with session.get(fake.url(f"/api/v1/{scope}/agent-usage"), params=params) as response:
        assert response.status == 200
        body = await response.json()
    assert body["usage"]["data"] == data.agent_usage_points(scope, entity, START, END, "weekly")
    assert body["organizationId"] == fake.organization_id


async def test_v2_rejects_what_v1_rejects(
    served: tuple[FakeTabnine, aiohttp.ClientSession],
) -> None:
    """v2 refuses fractional seconds and a missing granularity with a 6.2 error body."""
    fake, session = served
    params = {
        "organizationId": fake.organization_id,
        "from": "2025-12-01T00:00:00.000Z",
        "to": "2026-01-12T00:00:00Z",
    }
    async with session.get(fake.url("/api/v2/organization/usage"), params=params) as response:
        body = await response.json()
    assert response.status == 400
    assert body["error"] == "VALIDATION_ERROR" and body["status"] == 400
    assert any("granularity" in text for text in body["details"]["errors"])
    params["granularity"] = "all"
    async with session.get(fake.url("/api/v2/organization/usage"), params=params) as response:
        body = await response.json()
    assert response.status == 400 and "from" in body["details"]["errors"][0]
    assert body["requestId"] == response.headers["X-Request-Id"]
