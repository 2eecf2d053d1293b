"""Roster members: compact, immutable, and the same users the listings returned."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone

import attrs
import pytest

from tabnine_usage_async import Member, TabnineClient, User, list_members
from tabnine_usage_async.testing import serve_fake_tabnine

LISTED = User(
    "u1",
    "Ada Lovelace",
    "ada@example.com",
    "Admin",
    True,
    updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    extra={"createdAt": "2025-01-01T00:00:00.000Z", "score": [1, 2.5, None]},
)


async def test_members_hold_the_users_the_listings_returned() -> None:
    """Every member's ``user`` equals the model its first listing decoded, extra included."""
    async with serve_fake_tabnine(teams=4, users=80, seed=2) as fake:
        async with TabnineClient(token=fake.token, base_url=fake.base_url) as client:
            roster = await list_members(client)
            listed: dict[str, User] = {}
            for team_id in roster.team_ids:
                async for user in client.iter_team_users(team_id):
                    listed.setdefault(user.id, user)
            for active in (True, False):
                async for user in client.iter_unassigned_users(active=active):
                    listed.setdefault(user.id, user)
    assert len(roster.members) == len(listed) == 80
    for member in roster.members:
        assert member.user == listed[member.id]
        assert member.user.extra and member.user.extra == listed[member.id].extra
        assert (member.id, member.email) == (member.user.id, member.user.email)


async def test_members_share_repeated_values() -> None:
    """Members with the same teams share one tuple, and equal roles are one string."""
    async with serve_fake_tabnine(teams=3, users=60, seed=4) as fake:
        async with TabnineClient(token=fake.token, base_url=fake.base_url) as client:
            roster = await list_members(client)
    by_teams: dict[tuple[str, ...], list[Member]] = {}
    for member in roster.members:
        by_teams.setdefault(member.team_ids, []).append(member)
    crowded = [group for group in by_teams.values() if len(group) > 1]
    assert crowded
    for group in crowded:
        assert all(m.team_ids is group[0].team_ids for m in group)
    roles: dict[str, str] = {}
    for member in roster.members:
        role = member.user.role
        assert roles.setdefault(role, role) is role


def test_a_member_is_immutable() -> None:
    """Setting or deleting any attribute of a member raises ``FrozenInstanceError``."""
    member = Member(LISTED, ["t1"])
    for name in ("team_ids", "user", "id", "_team_ids", "anything"):
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(member, name, ())
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            delattr(member, name)
    assert member.team_ids == ("t1",)


def test_members_compare_by_user_and_teams() -> None:
    """Members are equal when user and teams are; equal members hash alike."""
    same = Member(LISTED, ("t1",))
    assert Member(LISTED, ["t1"]) == same and hash(Member(LISTED, ["t1"])) == hash(same)
    assert Member(LISTED, ()) != same
    assert Member(attrs.evolve(LISTED, extra={}), ["t1"]) != same
    assert same != LISTED


def test_a_member_survives_pickle_and_copy() -> None:
    """Pickling or copying a member gives an equal member with the same user."""
    member = Member(LISTED, ("t1", "t2"))
    for twin in (pickle.loads(pickle.dumps(member)), copy.copy(member), copy.deepcopy(member)):
        assert twin == member and twin.user == LISTED and twin.team_ids == ("t1", "t2")


def test_a_member_shows_its_user_and_teams() -> None:
    """The repr names the user's fields and the teams, as the model's repr does."""
    text = repr(Member(LISTED, ("t1",)))
    assert text == f"Member(user={LISTED!r}, team_ids=('t1',))"
