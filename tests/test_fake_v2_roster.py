"""The fake's audit logs, invitations and user and team reads agree with its roster."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import (
    AUDIT_CSV_COLUMNS,
    Dataset,
    FakeTabnine,
    serve_fake_tabnine,
)
from tabnine_usage_async.testing._timefmt import format_timestamp

DATA = Dataset(seed=9, teams=5, users=300)


def test_every_deactivated_user_has_a_deactivation_event_at_deactivated_at() -> None:
    """Each deactivated user has exactly one ``user.deactivated`` event at ``deactivatedAt``."""
    events = DATA.audit_events()
    deactivations = {
        e["resource"]["id"]: e["timestamp"] for e in events if e["eventType"] == "user.deactivated"
    }
    expected = {
        u.id: format_timestamp(u.deactivated_at) for u in DATA.users if u.deactivated_at is not None
    }
    assert expected and deactivations == expected


def test_memberships_and_roles_have_events() -> None:
    """Each team membership has a ``team_member.added`` event; each admin a ``role.assigned``."""
    events = DATA.audit_events()
    added = {
        (e["resource"]["id"], e["metadata"]["userId"])
        for e in events
        if e["eventType"] == "team_member.added"
    }
    assert added == {(tid, u.id) for u in DATA.users for tid in u.team_ids}
    roles = {
        e["resource"]["id"]: e["metadata"]["role"]
        for e in events
        if e["eventType"] == "role.assigned"
    }
    admins = {u.id: u.role for u in DATA.users if u.role in ("Admin", "Manager")}
    assert admins and roles == admins


def test_events_are_ordered_and_before_now() -> None:
    """Events come oldest first, with unique ids, all before the dataset's clock."""
    events = DATA.audit_events()
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert len({e["id"] for e in events}) == len(events)
    assert stamps[-1] < format_timestamp(DATA.now)


def test_invitations_agree_with_team_utilization() -> None:
    """Per team: invitations listed = utilization ``invited`` = ``pendingInvitationsCount``."""
    total = 0
    for team in DATA.teams:
        invited = DATA.team_utilization(team.id)["invited"]
        assert len(DATA.invitations(team.id)) == invited
        assert DATA.team_json(team.id)["pendingInvitationsCount"] == invited
        total += invited
    assert total > 0 and len(DATA.invitations()) == total
    for invitation in DATA.invitations():
        user = DATA.user_by_email(invitation["email"])
        assert not user.verified and user.active and invitation["teamId"] in user.team_ids


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeTabnine, aiohttp.ClientSession]]:
    async with (
        serve_fake_tabnine(dataset=Dataset(seed=9, teams=5, users=300)) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        yield fake, session


async def get_json(
    fake: FakeTabnine, session: aiohttp.ClientSession, path: str, params: dict[str, str]
) -> Any:
    async with session.get(fake.url(path), params=params) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_audit_pages_walk_every_event(
    served: tuple[FakeTabnine, aiohttp.ClientSession],
) -> None:
    """Paging with limit and offset (desc by default) yields every event once, newest first."""
    fake, session = served
    seen: list[dict[str, Any]] = []
    offset = 0
    while True:
        params = {"limit": "97", "offset": str(offset)}
        page = await get_json(fake, session, "/api/v1/organization/audit-logs", params)
        assert page["limit"] == 97 and page["offset"] == offset
        if not page["items"]:
            break
        seen += page["items"]
        offset += len(page["items"])
    assert seen == fake.dataset.audit_events()[::-1]


async def test_audit_filters_and_sort(served: tuple[FakeTabnine, aiohttp.ClientSession]) -> None:
    """eventType, actorEmail, resourceId, from/to and sort=asc select the matching events."""
    fake, session = served
    events = fake.dataset.audit_events()
    owner = fake.dataset.users[0]
    params = {
        "eventType": "team_member.added",
        "actorEmail": owner.email.upper(),
        "resourceId": fake.dataset.teams[2].id,
        "from": "2024-01-01T00:00:00Z",
        "to": "2025-06-01T00:00:00Z",
        "sort": "asc",
        "limit": "1000",
    }
    page = await get_json(fake, session, "/api/v1/organization/audit-logs", params)
    expected = [
        e
        for e in events
        if e["eventType"] == "team_member.added"
        and e["resource"]["id"] == fake.dataset.teams[2].id
        and "2024-01-01" <= e["timestamp"] < "2025-06-01"
    ]
    assert expected and page["items"] == expected and page["total"] == len(expected)
    for bad in ({"sort": "up"}, {"limit": "1001"}, {"limit": "0"}, {"format": "xml"}):
        async with session.get(fake.url("/api/v1/organization/audit-logs"), params=bad) as response:
            assert response.status == 400
            assert (await response.json())["error"] == "VALIDATION_ERROR"


async def test_audit_csv_export_holds_every_matching_event(
    served: tuple[FakeTabnine, aiohttp.ClientSession],
) -> None:
    """format=csv streams a header and one row per matching event, in the asked order."""
    fake, session = served
    params = {"format": "csv", "sort": "asc", "resourceType": "user"}
    async with session.get(fake.url("/api/v1/organization/audit-logs"), params=params) as response:
        assert response.status == 200 and response.content_type == "text/csv"
        text = await response.text()
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == AUDIT_CSV_COLUMNS
    expected = [e for e in fake.dataset.audit_events() if e["resource"]["type"] == "user"]
    assert [row[0] for row in rows[1:]] == [e["id"] for e in expected]
    first = dict(zip(AUDIT_CSV_COLUMNS, rows[1], strict=True))
    assert json.loads(first["metadata"]) == expected[0]["metadata"]
    assert len(expected) > 500  # more than one streamed chunk


async def test_invitation_pages_use_an_integer_next(
    served: tuple[FakeTabnine, aiohttp.ClientSession],
) -> None:
    """``meta.next`` is the next offset as an integer, then null on the last page."""
    fake, session = served
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = await get_json(
            fake, session, "/api/invitation/v1", {"offset": str(offset), "limit": "2"}
        )
        assert page["meta"]["count"] == len(page["data"])
        seen += page["data"]
        offset = page["meta"]["next"]
        assert offset is None or isinstance(offset, int)
    assert seen == fake.dataset.invitations()
    team = fake.dataset.teams[1].id
    page = await get_json(
        fake, session, "/api/invitation/v1", {"offset": "0", "limit": "100", "teamId": team}
    )
    assert page["data"] == fake.dataset.invitations(team)


async def test_user_and_team_reads(served: tuple[FakeTabnine, aiohttp.ClientSession]) -> None:
    """User reads show role, active flag and allowed teams; the team read the 6.2 fields."""
    fake, session = served
    data = fake.dataset
    user = next(u for u in data.users if len(u.team_ids) == 2)
    body = await get_json(fake, session, f"/api/user/v1/{user.id}", {})
    assert body["user"]["user_id"] == user.id and body["user"]["active"] == user.active
    assert [t["id"] for t in body["user"]["allowedTeams"]] == list(user.team_ids)
    assert body["teams"]["team_id"] == user.team_ids[0]
    lookup = await get_json(fake, session, f"/api/user/v1/by-email/{user.email.upper()}", {})
    assert lookup["id"] == user.id and lookup["team"]["id"] == user.team_ids[0]
    allowed = await get_json(fake, session, f"/api/user/v1/{user.id}/allowed-teams", {})
    assert allowed == [data.team_json(tid) for tid in user.team_ids]
    team = await get_json(fake, session, f"/api/team/v1/{user.team_ids[0]}", {})
    assert team == data.team_json(user.team_ids[0])
    assert team["organizationId"] == data.organization.id
    loner = data.unassigned_user_ids(True)[0]
    body = await get_json(fake, session, f"/api/user/v1/{loner}", {})
    assert body["teams"] == {"team_id": None, "team_name": None}
    assert body["user"]["allowedTeams"] == []


async def test_org_users_carry_their_team(
    served: tuple[FakeTabnine, aiohttp.ClientSession],
) -> None:
    """Organization users in a team carry it as ``team``; users in no team have none."""
    fake, session = served
    params = {"offset": "0", "limit": "100", "teamMember": "true", "active": "true"}
    page = await get_json(fake, session, "/api/v1/organization/users", params)
    for row in page["data"]:
        user = fake.dataset.user(row["id"])
        assert row["team"] == fake.dataset.team_json(user.team_ids[0])
        assert "updatedAt" in row and "deactivatedAt" in row
    params["teamMember"] = "false"
    page = await get_json(fake, session, "/api/v1/organization/users", params)
    assert page["data"] and all("team" not in row for row in page["data"])


async def test_audit_total_is_approximate_above_a_thousand() -> None:
    """Above 1000 events ``total`` is rounded, yet walking to an empty page finds every event."""
    async with (
        serve_fake_tabnine(teams=4, users=450, seed=2) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        events = fake.dataset.audit_events()
        assert len(events) > 1000
        seen: list[dict[str, Any]] = []
        totals = set()
        while True:
            params = {"limit": "1000", "offset": str(len(seen)), "sort": "asc"}
            page = await get_json(fake, session, "/api/v1/organization/audit-logs", params)
            totals.add(page["total"])
            if not page["items"]:
                break
            seen += page["items"]
        assert seen == events
        assert totals == {round(len(events), -3)}


async def test_listings_follow_roster_changes_between_pages(
    served: tuple[FakeTabnine, aiohttp.ClientSession],
) -> None:
    """Users in no team, invitations and audit pages answer the roster as changed since."""
    fake, session = served
    data = fake.dataset
    unassigned = {"offset": "0", "limit": "100", "teamMember": "false", "active": "true"}
    audit = {"limit": "1000", "sort": "asc", "eventType": "user.invited"}
    invitations = {"offset": "0", "limit": "100"}
    before = await get_json(fake, session, "/api/v1/organization/users", unassigned)
    invited = await get_json(fake, session, "/api/v1/organization/audit-logs", audit)
    pending = await get_json(fake, session, "/api/invitation/v1", invitations)
    moment = data.now - timedelta(days=1)
    loner = data.add_user(moment, email="loner@example.com", verified=False)
    joiner = data.add_user(
        moment, team_ids=[data.teams[1].id], email="joiner@example.com", verified=False
    )
    after = await get_json(fake, session, "/api/v1/organization/users", unassigned)
    assert [u["id"] for u in after["data"]] == [u["id"] for u in before["data"]] + [loner.id]
    events = await get_json(fake, session, "/api/v1/organization/audit-logs", audit)
    added = [e["resource"]["id"] for e in events["items"][len(invited["items"]) :]]
    assert sorted(added) == sorted([loner.id, joiner.id])
    now_pending = await get_json(fake, session, "/api/invitation/v1", invitations)
    emails = [i["email"] for i in now_pending["data"]]
    assert emails == [i["email"] for i in pending["data"]] + [joiner.email]
    registered = {**audit, "eventType": "user.registered"}
    events = await get_json(fake, session, "/api/v1/organization/audit-logs", registered)
    assert {e["eventType"] for e in events["items"]} == {"user.registered"}


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 5, tzinfo=timezone.utc),
        datetime(2026, 1, 5, 23, 59, 59, 999_999, tzinfo=timezone.utc),
        datetime(2025, 12, 31, 22, 30, 0, 1_500, tzinfo=timezone(timedelta(hours=-3))),
        datetime(999, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
    ],
)
def test_timestamps_are_utc_milliseconds_with_z(moment: datetime) -> None:
    """Timestamps are written in UTC with milliseconds cut (not rounded) and a ``Z``."""
    utc = moment.astimezone(timezone.utc)
    expected = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
    assert format_timestamp(moment) == expected


def test_roster_lists_are_the_callers_to_change() -> None:
    """Lists the dataset hands out are fresh: changing one changes no later answer."""
    data = Dataset(seed=9, teams=5, users=300)
    for active in (True, False):
        for team_member in (True, False):
            ids = data.user_ids(team_member=team_member, active=active)
            listed = (data.assigned_user_ids if team_member else data.unassigned_user_ids)(active)
            assert listed == list(ids) and listed
            listed.clear()
            assert data.user_ids(team_member=team_member, active=active) == ids
    invitations = data.invitations()
    expected = list(invitations)
    invitations.clear()
    assert data.invitations() == expected and expected
