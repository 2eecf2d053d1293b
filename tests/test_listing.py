"""Listing the organization's members: every user once, with all teams, errors typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tabnine_usage_async import (
    InvalidParameterError,
    ServerError,
    TabnineClient,
    TabnineError,
    list_members,
)
from tabnine_usage_async.testing import FakeTabnine, ScriptedFault, serve_fake_tabnine

from .conftest import FAST_RETRIES


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    async with serve_fake_tabnine(teams=6, users=60, seed=5, latency=5) as server:
        yield server


def client_for(fake: FakeTabnine, **kwargs: Any) -> TabnineClient:
    options: dict[str, Any] = {"max_retries": 1, "retry_policy": FAST_RETRIES, "timeout": 5.0}
    options.update(kwargs)
    return TabnineClient(token=fake.token, base_url=fake.base_url, **options)


async def test_every_user_once_with_every_team(fake: FakeTabnine) -> None:
    """Each user appears once, with exactly the teams the dataset puts it in, in team order."""
    data = fake.dataset
    async with client_for(fake) as client:
        roster = await list_members(client)
    assert roster.team_ids == tuple(t.id for t in data.teams)
    ids = [m.user.id for m in roster.members]
    assert len(ids) == len(set(ids)) == len(data.users)
    order = {team_id: i for i, team_id in enumerate(roster.team_ids)}
    for member in roster.members:
        truth = data.user(member.user.id)
        assert set(member.team_ids) == set(truth.team_ids)
        assert list(member.team_ids) == sorted(member.team_ids, key=order.__getitem__)
        assert member.user.email == truth.email
    assert any(len(m.team_ids) > 1 for m in roster.members)
    assert roster.seconds > 0


async def test_members_come_in_team_order_then_unassigned(fake: FakeTabnine) -> None:
    """Members follow the team order, then active and then deactivated users in no team."""
    data = fake.dataset
    expected: dict[str, None] = {}
    for team in data.teams:
        expected.update(dict.fromkeys(team.member_ids))
    expected.update(dict.fromkeys(data.unassigned_user_ids(True)))
    expected.update(dict.fromkeys(data.unassigned_user_ids(False)))
    async with client_for(fake) as client:
        roster = await list_members(client)
    assert [m.user.id for m in roster.members] == list(expected)


async def test_given_teams_only_and_no_unassigned(fake: FakeTabnine) -> None:
    """With team ids given and no unassigned users, only those teams' members are listed."""
    teams = fake.dataset.teams[:2]
    async with client_for(fake) as client:
        roster = await list_members(client, [t.id for t in teams], include_unassigned=False)
    assert fake.stats.requests_by_route.get("/api/v1/organization/teams", 0) == 0
    assert {m.user.id for m in roster.members} == {u for t in teams for u in t.member_ids}
    for member in roster.members:
        assert set(member.team_ids) <= {t.id for t in teams} and member.team_ids


async def test_parallelism_bounds_listings_in_flight(fake: FakeTabnine) -> None:
    """No more listings than ``parallelism`` are in flight at once."""
    async with client_for(fake) as client:
        await list_members(client, [t.id for t in fake.dataset.teams], parallelism=2)
    assert fake.stats.max_in_flight == 2


async def test_a_failed_listing_raises_its_typed_error(fake: FakeTabnine) -> None:
    """Without a handler, a listing that fails after retries raises its own error class."""
    victim = fake.dataset.teams[1]
    fake.add_scripted_fault(ScriptedFault("503", path=f"/api/v1/team/{victim.id}/users", times=5))
    async with client_for(fake) as client:
        with pytest.raises(ServerError):
            await list_members(client)


async def test_a_failed_listing_goes_to_the_handler_and_the_rest_goes_on(
    fake: FakeTabnine,
) -> None:
    """With a handler, the failed team is reported by key and every other user is still listed."""
    data = fake.dataset
    victim = data.teams[0]
    fault = ScriptedFault("503", path=f"/api/v1/team/{victim.id}/users", times=5)
    fake.add_scripted_fault(fault)
    reported: list[tuple[str, TabnineError]] = []

    async def on_error(key: str, exc: TabnineError) -> None:
        reported.append((key, exc))

    async with client_for(fake) as client:
        roster = await list_members(client, on_error=on_error)
    assert [(key, type(exc)) for key, exc in reported] == [
        (f"list|team-users|{victim.id}", ServerError)
    ]
    others = {u.id for u in data.users if set(u.team_ids) - {victim.id} or not u.team_ids}
    assert {m.user.id for m in roster.members} == others
    assert all(victim.id not in m.team_ids for m in roster.members)


async def test_a_failed_team_listing_is_reported_and_nothing_else_is_listed(
    fake: FakeTabnine,
) -> None:
    """A failed team listing reaches the handler as ``list|teams`` and the roster is empty."""
    fault = ScriptedFault("500", route="/api/v1/organization/teams", times=5)
    fake.add_scripted_fault(fault)
    keys: list[str] = []

    async def on_error(key: str, exc: TabnineError) -> None:
        keys.append(key)

    async with client_for(fake) as client:
        roster = await list_members(client, on_error=on_error)
    assert keys == ["list|teams"] and roster.members == () and roster.team_ids == ()


@pytest.mark.parametrize("parallelism", [0, -1, 1.5, True, "4"])
async def test_bad_parallelism_is_refused(fake: FakeTabnine, parallelism: Any) -> None:
    """Parallelism must be a positive integer; anything else is an InvalidParameterError."""
    async with client_for(fake) as client:
        with pytest.raises(InvalidParameterError, match="parallelism"):
            await list_members(client, parallelism=parallelism)


async def test_default_parallelism_follows_the_client_concurrency(fake: FakeTabnine) -> None:
    """Without ``parallelism``, as many listings run at once as the client's concurrency."""
    async with client_for(fake, max_concurrency=3) as client:
        await list_members(client, [t.id for t in fake.dataset.teams])
    assert fake.stats.max_in_flight == 3


async def test_one_string_is_not_taken_for_a_list_of_teams(fake: FakeTabnine) -> None:
    """A bare string for ``team_ids`` is refused instead of being read letter by letter."""
    async with client_for(fake) as client:
        with pytest.raises(InvalidParameterError, match="team_ids"):
            await list_members(client, fake.dataset.teams[0].id)


async def test_a_team_given_twice_is_listed_once(fake: FakeTabnine) -> None:
    """Repeated team ids are listed once and appear once in the roster."""
    team = fake.dataset.teams[0]
    async with client_for(fake) as client:
        roster = await list_members(client, [team.id, team.id], include_unassigned=False)
    assert roster.team_ids == (team.id,)
    assert [m.user.id for m in roster.members] == list(team.member_ids)
    assert fake.stats.requests_by_route["/api/v1/team/{teamId}/users"] == 1
