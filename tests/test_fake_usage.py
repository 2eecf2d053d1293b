"""Usage reports of the fake server agree across granularities, scopes and windows."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import FakeTabnine, serve_fake_tabnine

COUNT_KEYS = {
    "codeCompletions": ("completions", "charsCompleted", "keystrokes", "lines"),
    "chat": ("interactions", "usefulChatInteractions", "lines", "charsCompleted"),
    "agent": ("sessions", "toolCalls"),
}
METRIC_ATTRS = {
    ("codeCompletions", "completions"): "completions",
    ("codeCompletions", "charsCompleted"): "chars_completed",
    ("codeCompletions", "keystrokes"): "keystrokes",
    ("codeCompletions", "lines"): "code_lines",
    ("chat", "interactions"): "chat_interactions",
    ("chat", "usefulChatInteractions"): "useful_chat_interactions",
    ("chat", "lines"): "chat_lines",
    ("chat", "charsCompleted"): "chat_chars",
    ("agent", "sessions"): "agent_sessions",
    ("agent", "toolCalls"): "agent_tool_calls",
}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeTabnine, aiohttp.ClientSession]]:
    async with (
        serve_fake_tabnine(teams=3, users=16, seed=21) as server,
        aiohttp.ClientSession(headers=server.headers) as session,
    ):
        yield server, session


async def usage(
    server: FakeTabnine,
    session: aiohttp.ClientSession,
    scope: str,
    entity: str | None,
    start: str,
    end: str,
    granularity: str,
) -> list[dict[str, Any]]:
    params = {"organizationId": server.organization_id, "from": start, "to": end}
    params["granularity"] = granularity
    if scope == "team":
        params["teamId"] = entity or ""
    elif scope == "user":
        params["userId"] = entity or ""
    async with session.get(server.url(f"/api/v1/{scope}/usage"), params=params) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    blocks: list[dict[str, Any]] = body["usage"]["data"]
    return blocks


def counts(block: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(group, key): block[group][key] for group, keys in COUNT_KEYS.items() for key in keys}


def summed(blocks: Iterable[dict[str, Any]]) -> dict[tuple[str, str], int]:
    total = dict.fromkeys(METRIC_ATTRS, 0)
    for block in blocks:
        for key, value in counts(block).items():
            total[key] += value
    return total


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def days_in(block: dict[str, Any]) -> list[date]:
    """Days whose 00:00 UTC lies in the block's half-open range (the documented rule)."""
    start, end = parse(block["from"]), parse(block["to"])
    day = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(1)
    found = []
    while datetime(day.year, day.month, day.day, tzinfo=timezone.utc) < end:
        found.append(day)
        day += timedelta(days=1)
    return found


def truth(server: FakeTabnine, user_ids: Iterable[str], days: Iterable[date]) -> dict[str, Any]:
    """Expected counts and distinct active users, from the raw per-user-day numbers."""
    totals = dict.fromkeys(METRIC_ATTRS, 0)
    active: set[str] = set()
    code: set[str] = set()
    chat: set[str] = set()
    ids = list(user_ids)
    for day in days:
        for uid in ids:
            m = server.dataset.user_day_metrics(uid, day)
            for key, attr in METRIC_ATTRS.items():
                totals[key] += getattr(m, attr)
            if m.active:
                active.add(uid)
            if m.code_active:
                code.add(uid)
            if m.chat_active:
                chat.add(uid)
    return {"counts": totals, "active": len(active), "code": len(code), "chat": len(chat)}


START, END = "2025-11-24T00:00:00Z", "2026-01-12T00:00:00Z"


async def test_weekly_and_monthly_blocks_sum_their_daily_blocks(fake: Any) -> None:
    """For each scope, every weekly and monthly block's counts equal the sum of its days."""
    server, session = fake
    team = server.dataset.teams[1].id
    user = server.dataset.teams[1].member_ids[0]
    for scope, entity in (("organization", None), ("team", team), ("user", user)):
        daily = await usage(server, session, scope, entity, START, END, "daily")
        by_day = {parse(b["from"]).date(): b for b in daily}
        assert len(daily) == 49
        for granularity in ("weekly", "monthly", "all"):
            for block in await usage(server, session, scope, entity, START, END, granularity):
                inside = [by_day[d] for d in days_in(block)]
                assert counts(block) == summed(inside), (scope, granularity, block["from"])
                assert block["activeUsers"] >= max(b["activeUsers"] for b in inside)


async def test_active_users_are_distinct_users_with_activity(fake: Any) -> None:
    """Top-level, completion and chat ``activeUsers`` count distinct users, not user-days."""
    server, session = fake
    everyone = [u.id for u in server.dataset.users]
    blocks = await usage(server, session, "organization", None, START, END, "weekly")
    saw_overlap = False
    for block in blocks:
        expected = truth(server, everyone, days_in(block))
        assert block["activeUsers"] == expected["active"]
        assert block["codeCompletions"]["activeUsers"] == expected["code"]
        assert block["chat"]["activeUsers"] == expected["chat"]
        assert counts(block) == expected["counts"]
        daily_sum = sum(truth(server, everyone, [day])["active"] for day in days_in(block))
        saw_overlap = saw_overlap or daily_sum > block["activeUsers"] > 0
    assert saw_overlap


async def test_team_totals_are_the_sums_of_their_members(fake: Any) -> None:
    """A team's counts equal the sum of its members' user reports, per block."""
    server, session = fake
    for team in server.dataset.teams:
        team_blocks = await usage(server, session, "team", team.id, START, END, "monthly")
        member_blocks = [
            await usage(server, session, "user", uid, START, END, "monthly")
            for uid in team.member_ids
        ]
        for index, block in enumerate(team_blocks):
            assert counts(block) == summed(blocks[index] for blocks in member_blocks)
            expected = truth(server, team.member_ids, days_in(block))
            assert block["activeUsers"] == expected["active"]


async def test_organization_totals_include_users_without_a_team(fake: Any) -> None:
    """The organization's counts are the sums over all users, unassigned ones included."""
    server, session = fake
    org_blocks = await usage(server, session, "organization", None, START, END, "all")
    user_blocks = [
        (await usage(server, session, "user", u.id, START, END, "all"))[0]
        for u in server.dataset.users
    ]
    assert counts(org_blocks[0]) == summed(user_blocks)
    loners = set(
        server.dataset.unassigned_user_ids(True) + server.dataset.unassigned_user_ids(False)
    )
    loner_total = summed(
        b for u, b in zip(server.dataset.users, user_blocks, strict=True) if u.id in loners
    )
    assert any(loner_total.values()), "pick a seed where some unassigned user was active"
    team_members = {uid for team in server.dataset.teams for uid in team.member_ids}
    assert team_members.isdisjoint(loners)


async def test_blocks_are_clipped_to_the_requested_range(fake: Any) -> None:
    """Partial first and last periods start at ``from`` and end at ``to``, with no gaps."""
    server, session = fake
    start, end = "2025-12-10T12:00:00Z", "2026-01-06T06:30:00Z"
    expected_counts = {"daily": 28, "weekly": 5, "monthly": 2, "all": 1}
    for granularity, expected in expected_counts.items():
        blocks = await usage(server, session, "organization", None, start, end, granularity)
        assert len(blocks) == expected, granularity
        assert parse(blocks[0]["from"]) == parse(start)
        assert parse(blocks[-1]["to"]) == parse(end)
        for before, after in itertools.pairwise(blocks):
            assert before["to"] == after["from"]
        if granularity == "weekly":
            assert all(parse(b["from"]).weekday() == 0 for b in blocks[1:])
        if granularity == "monthly":
            assert parse(blocks[1]["from"]) == datetime(2026, 1, 1, tzinfo=timezone.utc)


async def test_every_period_has_a_block_even_without_activity(fake: Any) -> None:
    """Periods after the dataset's today still get blocks, all zero."""
    server, session = fake
    blocks = await usage(
        server,
        session,
        "organization",
        None,
        "2027-01-01T00:00:00Z",
        "2027-01-08T00:00:00Z",
        "daily",
    )
    assert len(blocks) == 7
    assert all(b["activeUsers"] == 0 and not any(counts(b).values()) for b in blocks)
    assert all(b["chat"]["chatConsumptionRate"] == 0.0 for b in blocks)


async def test_ratios_follow_the_summed_counts(fake: Any) -> None:
    """Automation factor, chat consumption rate and productivity come from the block's sums."""
    server, session = fake
    for block in await usage(server, session, "organization", None, START, END, "weekly"):
        code, chat = block["codeCompletions"], block["chat"]
        typed = code["keystrokes"]
        assert code["automationFactor"] == pytest.approx(
            code["charsCompleted"] / (code["charsCompleted"] + typed), abs=1e-4
        )
        assert chat["chatConsumptionRate"] == pytest.approx(
            chat["usefulChatInteractions"] / chat["interactions"], abs=1e-4
        )
        ai = code["charsCompleted"] + chat["charsCompleted"]
        assert block["productivityFactor"] == pytest.approx(ai / (ai + typed), abs=1e-4)


async def test_usage_blocks_carry_an_unknown_agent_object(fake: Any) -> None:
    """Blocks include an ``agent`` object that the published schema does not describe."""
    server, session = fake
    block = (await usage(server, session, "organization", None, START, END, "all"))[0]
    assert set(block["agent"]) == {"activeUsers", "sessions", "toolCalls"}
    assert block["agent"]["sessions"] > 0


async def test_dataset_usage_blocks_are_what_the_server_sends(fake: Any) -> None:
    """``Dataset.usage_blocks`` returns exactly the blocks of the HTTP response."""
    server, session = fake
    team = server.dataset.teams[0].id
    served = await usage(server, session, "team", team, START, END, "weekly")
    start, end = parse(START), parse(END)
    assert server.dataset.usage_blocks("team", team, start, end, "weekly") == served
