"""The fan-out walk against the fake server: completeness, values, dedupe, overlap, stops."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tabnine_usage_async import InvalidParameterError, ServerError, TabnineClient, Window
from tabnine_usage_async.orchestrator import (
    Entity,
    parse_scopes,
    parse_window,
    plan_units,
    walk_usage,
)
from tabnine_usage_async.records import UsageRecord
from tabnine_usage_async.testing import FakeTabnine, ScriptedFault, serve_fake_tabnine
from tabnine_usage_async.windows import split_windows

from .conftest import FAST_RETRIES

UTC = timezone.utc
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 3, 1, tzinfo=UTC)
USERS_ROUTE = "/api/v1/team/{teamId}/users"


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    async with serve_fake_tabnine(teams=5, users=40, seed=11) as server:
        yield server


def client_for(fake: FakeTabnine, **kwargs: Any) -> TabnineClient:
    options: dict[str, Any] = {"max_retries": 2, "retry_policy": FAST_RETRIES, "timeout": 5.0}
    options.update(kwargs)
    return TabnineClient(token=fake.token, base_url=fake.base_url, **options)


def expected_blocks(
    fake: FakeTabnine, window: str | None = "month"
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Ground truth: (scope, entity id, period start) -> wire block, for every entity."""
    data = fake.dataset
    entities = [("organization", data.organization.id)]
    entities += [("team", t.id) for t in data.teams]
    entities += [("user", u.id) for u in data.users]
    out = {}
    for scope, entity_id in entities:
        for w in split_windows(START, END, window):  # type: ignore[arg-type]
            for block in data.usage_blocks(scope, entity_id, w.start, w.end, "daily"):  # type: ignore[arg-type]
                start = datetime.fromisoformat(block["from"].replace("Z", "+00:00"))
                out[(scope, entity_id, start.isoformat())] = block
    return out


async def test_walk_yields_every_record_once_with_true_values(fake: FakeTabnine) -> None:
    """Every (scope, entity, day) appears exactly once, with the fake's ground-truth numbers."""
    async with client_for(fake) as client:
        records = [r async for r in walk_usage(client, START, END, "daily", "month")]
    truth = expected_blocks(fake)
    got = {(r.scope, r.entity_id, r.period_start.isoformat()): r for r in records}
    assert len(got) == len(records) == len(truth)
    assert got.keys() == truth.keys()
    for key, record in got.items():
        block = truth[key]
        assert record.active_users == block["activeUsers"]
        assert record.code_completions == block["codeCompletions"]["completions"]
        assert record.code_completions_chars == block["codeCompletions"]["charsCompleted"]
        assert record.chat_useful_interactions == block["chat"]["usefulChatInteractions"]
        assert record.chat_consumption_rate == block["chat"]["chatConsumptionRate"]
        assert record.productivity_factor == block["productivityFactor"]
        assert dict(record.extra) == {k: v for k, v in block.items() if k == "agent"}
        assert record.organization_id == fake.dataset.organization.id


async def test_user_in_several_teams_is_fetched_once(fake: FakeTabnine) -> None:
    """A multi-team user has one record per period, listing all of its teams."""
    multi = [u for u in fake.dataset.users if len(u.team_ids) > 1]
    assert multi, "the fake org must contain a user in two teams"
    async with client_for(fake) as client:
        records = [r async for r in walk_usage(client, START, END, scopes="user")]
    by_user: dict[str, list[UsageRecord]] = {}
    for r in records:
        by_user.setdefault(r.user_id or "", []).append(r)
    days = (END - START).days
    for user in fake.dataset.users:
        rows = by_user[user.id]
        assert len(rows) == days
        assert {tuple(sorted(r.team_ids)) for r in rows} == {tuple(sorted(user.team_ids))}
        assert rows[0].user_email == user.email
    requests = [rec for rec in fake.stats.log if rec.path == "/api/v1/user/usage"]
    assert len(requests) == len(fake.dataset.users) * 2  # two monthly windows each


async def test_unassigned_users_follow_the_flag(fake: FakeTabnine) -> None:
    """Users in no team, active and deactivated, are walked only with include_unassigned."""
    unassigned = set(fake.dataset.unassigned_user_ids(True)) | set(
        fake.dataset.unassigned_user_ids(False)
    )
    assert unassigned
    async with client_for(fake) as client:
        with_flag = {r.user_id async for r in walk_usage(client, START, END, scopes=["user"])}
        without = {
            r.user_id
            async for r in walk_usage(client, START, END, scopes=["user"], include_unassigned=False)
        }
    assert unassigned <= with_flag
    assert not unassigned & without
    assert with_flag - without == unassigned


async def test_records_arrive_before_user_listing_ends() -> None:
    """Listing and fetching overlap: the first record comes before the last team is listed."""
    async with serve_fake_tabnine(teams=16, users=120, seed=2, latency=15) as fake:
        async with client_for(fake, max_concurrency=8) as client:
            walk = walk_usage(client, START, END, window="month")
            async with walk:
                async for _record in walk:
                    listed_so_far = fake.stats.requests_by_route.get(USERS_ROUTE, 0)
                    break
    assert listed_so_far < len(fake.dataset.teams)


async def test_slow_consumer_bounds_requests() -> None:
    """A consumer that stops reading stops the walk: requests stop growing, in flight is bounded."""
    async with serve_fake_tabnine(teams=4, users=60, seed=4) as fake:
        async with client_for(fake, max_concurrency=4) as client:
            walk = walk_usage(client, START, END, window="day")
            async with walk:
                async for _record in walk:
                    await asyncio.sleep(0.3)
                    before = fake.stats.total_requests
                    await asyncio.sleep(0.3)
                    after = fake.stats.total_requests
                    break
            assert client.max_in_flight <= 4
    assert before == after
    # Far fewer than the whole walk (about 2,000 unit requests): bounded by the buffers.
    assert after < 200


async def test_break_stops_everything(fake: FakeTabnine) -> None:
    """Breaking out of the loop cancels the walk: no request in flight, none sent afterwards."""
    async with client_for(fake, max_concurrency=4) as client:
        tasks_before = asyncio.all_tasks()
        walk = walk_usage(client, START, END, window="day")
        async with walk:
            async for _record in walk:
                break
        count = fake.stats.total_requests
        await asyncio.sleep(0.2)
        assert fake.stats.total_requests == count
        assert fake.stats.in_flight == 0
        leftover = [t for t in asyncio.all_tasks() - tasks_before if not t.done()]
        assert leftover == []


async def test_break_without_async_with_cleans_up(fake: FakeTabnine) -> None:
    """A plain `async for ... break` also stops the walk once the generator is collected."""
    async with client_for(fake, max_concurrency=4) as client:
        async for _record in walk_usage(client, START, END, window="day"):
            break
        await asyncio.sleep(0.1)
        count = fake.stats.total_requests
        await asyncio.sleep(0.2)
        assert fake.stats.total_requests == count


async def test_cancelling_the_consumer_stops_the_walk(fake: FakeTabnine) -> None:
    """Cancelling the consuming task stops every request of the walk promptly."""
    got: list[UsageRecord] = []

    async def consume(client: TabnineClient) -> None:
        async for record in walk_usage(client, START, END, window="day"):
            got.append(record)
            await asyncio.sleep(0.01)

    async with client_for(fake, max_concurrency=4) as client:
        task = asyncio.create_task(consume(client))
        while len(got) < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        count = fake.stats.total_requests
        await asyncio.sleep(0.2)
        assert fake.stats.total_requests == count
        assert fake.stats.in_flight == 0


async def test_on_error_raise_stops_at_first_failed_unit() -> None:
    """With on_error='raise', a unit failing after retries raises its typed error."""
    fault = ScriptedFault("500", route="/api/v1/organization/usage", times=1000)
    async with serve_fake_tabnine(teams=2, users=10, seed=1, scripted=[fault]) as fake:
        async with client_for(fake) as client:
            with pytest.raises(ServerError):
                async for _ in walk_usage(client, START, END, scopes="organization,team"):
                    pass


async def test_on_error_collect_keeps_going() -> None:
    """With on_error='collect', failed units are listed with their cause and the rest arrive."""
    fault = ScriptedFault("503", route="/api/v1/organization/usage", times=1000)
    async with serve_fake_tabnine(teams=3, users=10, seed=1, scripted=[fault]) as fake:
        async with client_for(fake) as client:
            walk = walk_usage(client, START, END, scopes="organization,team", on_error="collect")
            records = [r async for r in walk]
    assert {r.scope for r in records} == {"team"}
    assert len({r.team_id for r in records}) == len(fake.dataset.teams)
    assert sorted(f.key for f in walk.failures) == [
        f"organization|{fake.dataset.organization.id}|2026-01-01T00:00:00Z|2026-02-01T00:00:00Z",
        f"organization|{fake.dataset.organization.id}|2026-02-01T00:00:00Z|2026-03-01T00:00:00Z",
    ]
    assert all("ServerError: 503" in f.cause for f in walk.failures)
    assert walk.progress.units_failed == 2


async def test_failed_listing_is_reported() -> None:
    """A team whose member listing keeps failing is reported as a failed listing unit."""
    fault = ScriptedFault("500", route=USERS_ROUTE, nth=1, times=1000)
    async with serve_fake_tabnine(teams=2, users=10, seed=1, scripted=[fault]) as fake:
        async with client_for(fake) as client:
            walk = walk_usage(client, START, END, scopes="user", on_error="collect")
            records = [r async for r in walk]
    assert any(f.key.startswith("list|team-users|") for f in walk.failures)
    assert all(not r.team_ids for r in records)  # only unassigned users were reachable


async def test_skip_leaves_out_finished_units(fake: FakeTabnine) -> None:
    """Units named in skip are not fetched again."""
    async with client_for(fake) as client:
        first = walk_usage(client, START, END, scopes="team")
        keys = [u.unit.key async for u in first.units()]
        second = walk_usage(client, START, END, scopes="team", skip=set(keys[:3]))
        again = [u.unit.key async for u in second.units()]
    assert sorted(again) == sorted(keys[3:])
    assert second.progress.units_skipped == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2026-02-01", "end": "2026-01-01"}, "must be after start"),
        ({"granularity": "hourly"}, "unknown granularity"),
        ({"window": "year"}, "unknown window"),
        ({"scopes": "org"}, "unknown scope"),
        ({"scopes": ""}, "unknown scope"),
        ({"on_error": "ignore"}, "on_error"),
    ],
)
async def test_walk_validates_arguments_first(
    fake: FakeTabnine, kwargs: dict[str, Any], message: str
) -> None:
    """Bad walk arguments raise InvalidParameterError before any request."""
    options: dict[str, Any] = {"start": START, "end": END}
    options.update(kwargs)
    async with client_for(fake) as client:
        with pytest.raises(InvalidParameterError, match=message):
            walk_usage(client, **options)
    assert fake.stats.total_requests == 0


def test_plan_units_is_entities_times_windows() -> None:
    """The planner gives each entity every window, in order, with stable keys."""
    windows = split_windows(d(2024, 2, 15), d(2024, 4, 1), "month")
    units = list(
        plan_units([Entity("organization", "o"), Entity("user", "u", ("t",), "e")], windows)
    )
    assert [(u.entity.id, u.window) for u in units] == [
        ("o", Window(d(2024, 2, 15), d(2024, 3, 1))),
        ("o", Window(d(2024, 3, 1), d(2024, 4, 1))),
        ("u", Window(d(2024, 2, 15), d(2024, 3, 1))),
        ("u", Window(d(2024, 3, 1), d(2024, 4, 1))),
    ]
    assert units[2].key == "user|u|2024-02-15T00:00:00Z|2024-03-01T00:00:00Z"
    assert len({u.key for u in units}) == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("user,organization", ("organization", "user")),
        (["TEAM"], ("team",)),
        ("organization,team,user", ("organization", "team", "user")),
    ],
)
def test_parse_scopes(value: Any, expected: tuple[str, ...]) -> None:
    """Scopes come back validated and in walk order."""
    assert parse_scopes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Month", "month"), ("none", None), (None, None), (timedelta(days=3), timedelta(days=3))],
)
def test_parse_window(value: Any, expected: Any) -> None:
    """Windows accept the calendar units, none, or a timedelta."""
    assert parse_window(value) == expected


async def test_progress_total_is_known_once_listing_ends(fake: FakeTabnine) -> None:
    """units_total is None while listing and then equals every unit the walk covers."""
    async with client_for(fake) as client:
        walk = walk_usage(client, START, END, window="month")
        assert walk.progress.units_total is None
        async for _ in walk:
            pass
    entities = 1 + len(fake.dataset.teams) + len(fake.dataset.users)
    assert walk.progress.units_total == entities * 2 == walk.progress.units_done


def test_only_error_picks_one_typed_error_from_a_group() -> None:
    """Simultaneous failures surface as one typed error, not an exception group."""
    from tabnine_usage_async._groups import only_error

    if sys.version_info >= (3, 11):
        from builtins import BaseExceptionGroup, ExceptionGroup
    else:
        from exceptiongroup import BaseExceptionGroup, ExceptionGroup

    first, second = ServerError("a", status=503), ServerError("b", status=500)
    group = BaseExceptionGroup(
        "x", [asyncio.CancelledError(), ExceptionGroup("y", [first, second])]
    )
    assert only_error(group) is first
    other = RuntimeError("boom")
    assert only_error(ExceptionGroup("z", [other])) is other
    assert only_error(first) is first


async def test_users_fetched_before_the_roster_is_complete_get_all_their_teams() -> None:
    """Users fetched while listings still run are sent once, with every team they are in."""
    async with serve_fake_tabnine(teams=5, users=40, seed=11, latency=5) as fake:
        multi = {u.id for u in fake.dataset.users if len(u.team_ids) > 1}
        async with client_for(fake, max_concurrency=200) as client:
            walk = walk_usage(client, START, END, scopes="user", skip={"nothing"})
            async with walk:
                records = [r async for r in walk]
        early = set(walk._early)
        assert early & multi, "a multi-team user must be among the early ones for this test"
        by_user: dict[str, set[tuple[str, ...]]] = {}
        for r in records:
            by_user.setdefault(r.user_id or "", set()).add(tuple(sorted(r.team_ids)))
        for user in fake.dataset.users:
            assert by_user[user.id] == {tuple(sorted(user.team_ids))}
        assert len(records) == len(fake.dataset.users) * (END - START).days
        requests = [rec for rec in fake.stats.log if rec.path == "/api/v1/user/usage"]
        assert len(requests) == len(fake.dataset.users) * 2
        assert walk.progress.units_planned == walk.progress.units_total == walk.progress.units_done


async def test_early_users_respect_skip(fake: FakeTabnine) -> None:
    """A finished unit of a user listed early is not fetched again, and counts as skipped."""
    async with client_for(fake, max_concurrency=200) as client:
        first = walk_usage(client, START, END, scopes="user")
        keys = sorted([u.unit.key async for u in first.units()])
        second = walk_usage(client, START, END, scopes="user", skip=set(keys[::2]))
        again = [u.unit.key async for u in second.units()]
    assert sorted(again) == keys[1::2]
    assert second.progress.units_skipped == len(keys[::2])
    assert second.progress.units_planned == second.progress.units_total == len(keys)
