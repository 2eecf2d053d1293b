"""Every endpoint method: the exact request it sends and what it parses from the answer."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tabnine_usage_async import (
    AccountUtilization,
    Granularity,
    InvalidParameterError,
    License,
    Organization,
    PermissionUser,
    TabnineClient,
    Team,
    TeamInfo,
    TeamUtilization,
    User,
    UserInfo,
    UserTeam,
)

from .conftest import TOKEN, Recorder

UTC = timezone.utc

# The example responses of the published OpenAPI description.
ORG_EXAMPLE = {
    "publicKey": "-----BEGIN PUBLIC KEY-----\nMIICIXXXXXXAAQ==\n-----END PUBLIC KEY-----\n",
    "samlEnabled": False,
    "smtpConfigured": True,
    "usernamePasswordEnabled": True,
    "name": "Yagel",
    "domains": ["tabnine.com"],
    "planType": "Enterprise",
    "id": "9a3895ca-1c27-4231-8978-85ae00267d02",
}
TEAMS_EXAMPLE = {
    "data": [
        {"id": "XXXXXXXXXXXXX", "name": "FE team", "usersCount": 6, "isDefaultTeam": False},
        {"id": "YYYYYYYYYYYY", "name": "Default Team", "usersCount": 0, "isDefaultTeam": True},
        {"id": "ZZZZZZZZZZZZZZ", "name": "QA Team", "usersCount": 2, "isDefaultTeam": False},
        {
            "id": "MMMMMMMMMMMMMMMMM",
            "name": "Backend team",
            "usersCount": 5,
            "isDefaultTeam": False,
        },
    ],
    "meta": {"count": 4, "total": 4},
}
LICENSE_EXAMPLE = {
    "license": {
        "exp": 1895529600,
        "seats": 2000,
        "seatsCap": 22000,
        "audience": "idp-new",
        "features": [
            "chat",
            "chat_models",
            "local_retrieval",
            "remote_indexing",
            "jira_integration",
        ],
        "settings": {"chatModel": {"type": "Private"}},
        "iat": 1735806729,
    }
}
UTILIZATIONS_EXAMPLE = [
    {"year": 2025, "month": 0, "registered": 0, "deactivated": 0, "active": 0, "pending": 0}
]
PERMISSIONS_EXAMPLE = [
    {"username": "admin@tabnine.com", "organizationId": "9a3895ca-1c27-4231-8978-85ae00267d02"}
]
TEAM_UTILIZATION_EXAMPLE = {"registered": 5, "deactivated": 1, "invited": 1}
TEAM_NAME_EXAMPLE = {"id": "4e69f465-6f02-4e33-bfe3-9d10a1d20db9", "name": "Backend team"}

USER_WIRE = {
    "id": "u-1",
    "username": "ada",
    "email": "ada@example.com",
    "role": "member",
    "verified": True,
    "deactivatedAt": None,
    "updatedAt": "2026-01-02T03:04:05.123Z",
}


def _usage_body(**ids: str) -> dict[str, object]:
    return {
        "organizationId": "org-1",
        **ids,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-03T00:00:00Z",
        "usage": {
            "granularity": "daily",
            "data": [
                {
                    "from": "2026-01-01T00:00:00Z",
                    "to": "2026-01-02T00:00:00Z",
                    "activeUsers": 2,
                    "productivityFactor": 1.5,
                    "codeCompletions": {
                        "activeUsers": 2,
                        "completions": 10,
                        "charsCompleted": 300,
                        "keystrokes": 900,
                        "lines": 12,
                        "automationFactor": 0.25,
                    },
                    "chat": {
                        "activeUsers": 1,
                        "interactions": 4,
                        "usefulChatInteractions": 3,
                        "lines": 7,
                        "charsCompleted": 120,
                        "chatConsumptionRate": 0.75,
                    },
                    "agent": {"sessions": 3},
                },
                {"from": "2026-01-02T00:00:00Z", "to": "2026-01-03T00:00:00Z", "activeUsers": 0},
            ],
        },
    }


def _only(recorder: Recorder, path: str) -> dict[str, str]:
    matching = [s for s in recorder.seen if s.raw_path == path]
    assert len(matching) == 1, recorder.paths()
    seen = matching[0]
    assert seen.method == "GET"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    return seen.query


async def test_get_organization(recorder: Recorder, client: TabnineClient) -> None:
    """get_organization sends a bare GET and parses the YAML example into an Organization."""
    recorder.json("/api/v1/organization", ORG_EXAMPLE)
    org = await client.get_organization()
    assert _only(recorder, "/api/v1/organization") == {}
    assert org == Organization(
        id="9a3895ca-1c27-4231-8978-85ae00267d02",
        name="Yagel",
        public_key=ORG_EXAMPLE["publicKey"],  # type: ignore[arg-type]
        saml_enabled=False,
        smtp_configured=True,
        username_password_enabled=True,
        domains=("tabnine.com",),
        plan_type="Enterprise",
    )


async def test_iter_teams(recorder: Recorder, client: TabnineClient) -> None:
    """iter_teams sends offset and limit and yields the YAML example's four teams."""
    recorder.json("/api/v1/organization/teams", TEAMS_EXAMPLE)
    teams = [t async for t in client.iter_teams()]
    assert _only(recorder, "/api/v1/organization/teams") == {"offset": "0", "limit": "100"}
    assert [t.name for t in teams] == ["FE team", "Default Team", "QA Team", "Backend team"]
    assert teams[1] == Team(
        id="YYYYYYYYYYYY", name="Default Team", users_count=0, is_default_team=True
    )


async def test_get_license(recorder: Recorder, client: TabnineClient) -> None:
    """get_license unwraps the license object and turns Unix timestamps into UTC datetimes."""
    recorder.json("/api/v1/license", LICENSE_EXAMPLE)
    lic = await client.get_license()
    assert _only(recorder, "/api/v1/license") == {}
    assert lic.expires_at == datetime(2030, 1, 25, tzinfo=UTC)
    assert lic.issued_at == datetime.fromtimestamp(1735806729, tz=UTC)
    assert lic == License(
        expires_at_unix=int(datetime(2030, 1, 25, tzinfo=UTC).timestamp()),
        issued_at_unix=1735806729,
        seats=2000,
        seats_cap=22000,
        audience="idp-new",
        features=("chat", "chat_models", "local_retrieval", "remote_indexing", "jira_integration"),
        settings={"chatModel": {"type": "Private"}},
    )


@pytest.mark.parametrize(
    ("start", "sent"),
    [(None, None), ("2026-03", "2026-03"), (date(2025, 11, 30), "2025-11")],
)
async def test_get_account_utilizations(
    recorder: Recorder, client: TabnineClient, start: date | str | None, sent: str | None
) -> None:
    """Account utilizations send startDate as YYYY-MM (or nothing); January comes back as 1."""
    recorder.json("/api/v1/organization/account-utilizations", UTILIZATIONS_EXAMPLE)
    months = await client.get_account_utilizations(start)
    query = _only(recorder, "/api/v1/organization/account-utilizations")
    assert query == ({} if sent is None else {"startDate": sent})
    assert months == [
        AccountUtilization(
            month_start=date(2025, 1, 1), registered=0, deactivated=0, active=0, pending=0
        )
    ]
    assert (months[0].year, months[0].month) == (2025, 1)


async def test_get_permissions(recorder: Recorder, client: TabnineClient) -> None:
    """get_permissions sends the role and parses the bare array."""
    recorder.json("/api/v1/instance/permissions", PERMISSIONS_EXAMPLE)
    admins = await client.get_permissions()
    assert _only(recorder, "/api/v1/instance/permissions") == {"role": "Admin"}
    assert admins == [
        PermissionUser(
            username="admin@tabnine.com", organization_id="9a3895ca-1c27-4231-8978-85ae00267d02"
        )
    ]


async def test_get_organization_usage(recorder: Recorder, client: TabnineClient) -> None:
    """Organization usage resolves the org id once, formats dates as whole-second Z strings."""
    recorder.always("/api/v1/organization/usage", _usage_body())
    start = datetime(2026, 1, 1, 2, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))
    report = await client.get_organization_usage(start, "2026-01-03", Granularity.DAILY)
    await client.get_organization_usage("2026-01-01T00:00:00Z", date(2026, 1, 3), "daily")
    assert recorder.paths().count("/api/v1/organization") == 1
    queries = [s.query for s in recorder.seen if s.path == "/api/v1/organization/usage"]
    assert (
        queries
        == [
            {
                "organizationId": "org-1",
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-01-03T00:00:00Z",
                "granularity": "daily",
            }
        ]
        * 2
    )
    assert report.organization_id == "org-1"
    assert report.granularity is Granularity.DAILY
    first, second = report.blocks
    assert first.code_completions is not None and first.code_completions.completions == 10
    assert first.chat is not None and first.chat.useful_interactions == 3
    assert first.chat.consumption_rate == 0.75
    assert first.extra == {"agent": {"sessions": 3}}
    assert second.code_completions is None and second.productivity_factor is None


async def test_iter_unassigned_users(recorder: Recorder, client: TabnineClient) -> None:
    """Unassigned users always carry organizationId, offset, limit, teamMember and active."""
    recorder.json("/api/v1/organization/users", {"data": [USER_WIRE], "meta": {"next": None}})
    users = [u async for u in client.iter_unassigned_users(active=False)]
    query = _only(recorder, "/api/v1/organization/users")
    assert query == {
        "organizationId": "org-1",
        "teamMember": "false",
        "active": "false",
        "offset": "0",
        "limit": "100",
    }
    assert users == [
        User(
            id="u-1",
            username="ada",
            email="ada@example.com",
            role="member",
            verified=True,
            deactivated_at=None,
            updated_at=datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC),
        )
    ]


async def test_iter_team_users_encodes_the_id(recorder: Recorder, client: TabnineClient) -> None:
    """A team id with '/', '..' and '?' stays inside its path segment."""
    raw = "/api/v1/team/a%2F..%2Fb%3Fc%23d/users"
    recorder.json(raw, {"data": [USER_WIRE], "meta": {"count": 1, "total": 1}})
    users = [u async for u in client.iter_team_users("a/../b?c#d")]
    assert _only(recorder, raw) == {"offset": "0", "limit": "100"}
    assert [u.id for u in users] == ["u-1"]


async def test_get_team_utilization(recorder: Recorder, client: TabnineClient) -> None:
    """Team utilization passes teamId in the query, not the path."""
    recorder.json("/api/v1/team/account-utilizations", TEAM_UTILIZATION_EXAMPLE)
    got = await client.get_team_utilization("t/1")
    assert _only(recorder, "/api/v1/team/account-utilizations") == {"teamId": "t/1"}
    assert got == TeamUtilization(registered=5, deactivated=1, invited=1)


async def test_get_team(recorder: Recorder, client: TabnineClient) -> None:
    """get_team parses the YAML example."""
    recorder.json("/api/v1/team/4e69f465-6f02-4e33-bfe3-9d10a1d20db9", TEAM_NAME_EXAMPLE)
    got = await client.get_team("4e69f465-6f02-4e33-bfe3-9d10a1d20db9")
    _only(recorder, "/api/v1/team/4e69f465-6f02-4e33-bfe3-9d10a1d20db9")
    assert got == TeamInfo(id="4e69f465-6f02-4e33-bfe3-9d10a1d20db9", name="Backend team")


async def test_get_team_usage(recorder: Recorder, client: TabnineClient) -> None:
    """Team usage sends teamId and an explicit organization id without looking it up."""
    recorder.json("/api/v1/team/usage", _usage_body(teamId="t-1"))
    report = await client.get_team_usage(
        "t-1", date(2026, 1, 1), date(2026, 1, 3), "daily", organization_id="org-x"
    )
    assert "/api/v1/organization" not in recorder.paths()
    assert _only(recorder, "/api/v1/team/usage") == {
        "organizationId": "org-x",
        "teamId": "t-1",
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-03T00:00:00Z",
        "granularity": "daily",
    }
    assert report.team_id == "t-1" and len(report.blocks) == 2


async def test_get_user(recorder: Recorder, client: TabnineClient) -> None:
    """get_user reads the snake_case body and accepts teams as one object."""
    body = {
        "user": {
            "organization_id": "org-1",
            "user_id": "ü 1",
            "email": "ada@example.com",
            "role": "member",
            "createdAt": "2025-05-01T10:00:00+02:00",
            "updatedAt": "2025-06-01T10:00:00Z",
        },
        "teams": {"team_id": "t-1", "team_name": "QA"},
    }
    recorder.json("/api/v1/user/%C3%BC%201", body)
    info = await client.get_user("ü 1")
    _only(recorder, "/api/v1/user/%C3%BC%201")
    assert info == UserInfo(
        user_id="ü 1",
        organization_id="org-1",
        email="ada@example.com",
        role="member",
        created_at=datetime(2025, 5, 1, 8, tzinfo=UTC),
        updated_at=datetime(2025, 6, 1, 10, tzinfo=UTC),
        teams=(UserTeam(team_id="t-1", team_name="QA"),),
    )


async def test_get_user_usage(recorder: Recorder, client: TabnineClient) -> None:
    """User usage sends userId and parses the report."""
    recorder.json("/api/v1/user/usage", _usage_body(userId="u-1"))
    report = await client.get_user_usage("u-1", "2026-01-01", "2026-01-03", "DAILY")
    query = _only(recorder, "/api/v1/user/usage")
    assert query["userId"] == "u-1" and query["granularity"] == "daily"
    assert report.user_id == "u-1"
    assert report.blocks[0].start == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "granularity", "message"),
    [
        ("2026-01-02", "2026-01-01", "daily", "must be after start"),
        ("2026-01-01", "2026-01-01", "daily", "must be after start"),
        (datetime(2026, 1, 1), "2026-01-02", "daily", "naive datetime"),
        ("2026-13-01", "2026-01-02", "daily", "is not a date"),
        ("2026-01-01T00:00:00", "2026-01-02", "daily", "is not a date"),
        ("2026-01-01", "2026-01-02", "hourly", "'all', 'daily', 'weekly', 'monthly'"),
        ("2026-01-01", "2026-01-02", "day", "unknown granularity"),
    ],
)
async def test_bad_usage_arguments_send_nothing(
    recorder: Recorder,
    client: TabnineClient,
    start: object,
    end: object,
    granularity: str,
    message: str,
) -> None:
    """Invalid dates or granularity raise InvalidParameterError before any request is sent."""
    with pytest.raises(InvalidParameterError, match=message):
        await client.get_user_usage("u-1", start, end, granularity)  # type: ignore[arg-type]
    assert recorder.seen == []
