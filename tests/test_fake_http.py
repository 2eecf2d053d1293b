"""The fake server behaves like the live API: auth, validation, errors and pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import FakeTabnine, serve_fake_tabnine

Client = tuple[FakeTabnine, aiohttp.ClientSession]


@pytest.fixture
async def fake() -> AsyncIterator[Client]:
    async with (
        serve_fake_tabnine(teams=4, users=40, seed=5, empty_teams=1, max_page_size=7) as server,
        aiohttp.ClientSession(headers=server.headers) as session,
    ):
        yield server, session


async def get(
    client: Client, path: str, params: dict[str, str] | None = None, **kwargs: Any
) -> tuple[int, Any]:
    server, session = client
    async with session.get(server.url(path), params=params or {}, **kwargs) as response:
        return response.status, await response.json(content_type=None)


def assert_envelope(body: Any, status: int) -> dict[str, Any]:
    """The live API's error body: {"error": {"message": str, "errors": [str], "status": int}}."""
    error = body["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["errors"], list)
    assert all(isinstance(item, str) for item in error["errors"])
    assert error["status"] == status
    result: dict[str, Any] = error
    return result


def usage_params(server: FakeTabnine, **overrides: str) -> dict[str, str]:
    params = {
        "organizationId": server.organization_id,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-08T00:00:00Z",
        "granularity": "daily",
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value != "-"}


async def walk(client: Client, path: str, limit: int, **params: str) -> list[dict[str, Any]]:
    """Follow ``meta.next`` from offset 0; return every page body."""
    pages = []
    offset = 0
    while True:
        query = {"offset": str(offset), "limit": str(limit), **params}
        status, body = await get(client, path, query)
        assert status == 200, body
        pages.append(body)
        following = body["meta"].get("next")
        if not following:
            return pages
        assert following["offset"] == offset + body["meta"]["count"]
        offset = following["offset"]
        assert len(pages) < 100


# Auth and organization checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Token x"}],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_requests_without_the_right_token_get_401(fake: Client, headers: Any) -> None:
    """A missing, wrong or non-Bearer token is refused with 401 and the error envelope."""
    server, _ = fake
    async with (
        aiohttp.ClientSession(headers=headers) as anonymous,
        anonymous.get(server.url("/api/v1/organization")) as response,
    ):
        assert response.status == 401
        assert_envelope(await response.json(), 401)


@pytest.mark.parametrize("scope", ["organization", "team", "user"])
@pytest.mark.parametrize("org", ["-", "not-the-org"])
async def test_usage_checks_the_organization_id(fake: Client, scope: str, org: str) -> None:
    """Usage endpoints answer 401 "Invalid organization" without the right organizationId."""
    server, _ = fake
    extra = {"team": {"teamId": server.dataset.teams[0].id}, "user": {"userId": "x"}}
    params = usage_params(server, organizationId=org, **extra.get(scope, {}))
    status, body = await get(fake, f"/api/v1/{scope}/usage", params)
    assert status == 401
    assert assert_envelope(body, 401)["message"] == "Invalid organization"


async def test_organization_users_checks_a_given_organization_id(fake: Client) -> None:
    """/organization/users accepts its organizationId and refuses a wrong one with 401."""
    server, _ = fake
    params = {"offset": "0", "limit": "5", "teamMember": "false", "active": "true"}
    ok, _ = await get(
        fake, "/api/v1/organization/users", {**params, "organizationId": server.organization_id}
    )
    bad, body = await get(fake, "/api/v1/organization/users", {**params, "organizationId": "nope"})
    assert (ok, bad) == (200, 401)
    assert_envelope(body, 401)


# Parameter validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from", "2026-01-01T00:00:00.000Z"),
        ("from", "2026-01-01T00:00:00"),
        ("to", "2026-01-08"),
        ("to", "2026-01-08T00:00:00.5+00:00"),
        ("from", "yesterday"),
    ],
)
async def test_malformed_date_times_are_rejected(fake: Client, field: str, value: str) -> None:
    """Fractional seconds, missing zone and non-date-times are 400 with the envelope."""
    server, _ = fake
    status, body = await get(
        fake, "/api/v1/organization/usage", usage_params(server, **{field: value})
    )
    assert status == 400
    assert any(field in message for message in assert_envelope(body, 400)["errors"])


async def test_offsets_are_accepted_in_date_times(fake: Client) -> None:
    """A whole-second date-time with an explicit offset is accepted and converted to UTC."""
    server, _ = fake
    status, body = await get(
        fake,
        "/api/v1/organization/usage",
        usage_params(server, **{"from": "2026-01-01T02:00:00+02:00"}),
    )
    assert status == 200
    assert body["from"].startswith("2026-01-01T00:00:00")


@pytest.mark.parametrize("end", ["2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z"])
async def test_ranges_that_end_before_they_start_are_rejected(fake: Client, end: str) -> None:
    """``to <= from`` is a 400."""
    server, _ = fake
    status, body = await get(fake, "/api/v1/organization/usage", usage_params(server, to=end))
    assert status == 400
    assert_envelope(body, 400)


@pytest.mark.parametrize("granularity", ["day", "week", "hourly", "DAILY"])
async def test_unknown_granularities_are_rejected(fake: Client, granularity: str) -> None:
    """Only all, daily, weekly and monthly are accepted."""
    server, _ = fake
    params = usage_params(server, granularity=granularity)
    status, body = await get(fake, "/api/v1/organization/usage", params)
    assert status == 400
    assert "granularity" in " ".join(assert_envelope(body, 400)["errors"])


@pytest.mark.parametrize(
    ("path", "params", "missing"),
    [
        (
            "/api/v1/team/usage",
            {"from": "-", "granularity": "-"},
            {"teamId", "from", "granularity"},
        ),
        ("/api/v1/user/usage", {"to": "-"}, {"userId", "to"}),
        ("/api/v1/organization/users", None, {"offset", "limit", "teamMember", "active"}),
        ("/api/v1/instance/permissions", None, {"role"}),
        ("/api/v1/team/account-utilizations", None, {"teamId"}),
    ],
)
async def test_missing_required_parameters_are_listed(
    fake: Client, path: str, params: dict[str, str] | None, missing: set[str]
) -> None:
    """Every missing required parameter is named in a 400 validation envelope."""
    server, _ = fake
    query = usage_params(server, **params) if params is not None else {}
    status, body = await get(fake, path, query)
    assert status == 400
    errors = assert_envelope(body, 400)["errors"]
    assert {error.split()[0] for error in errors} == missing


async def test_team_users_require_offset_and_limit(fake: Client) -> None:
    """/team/{teamId}/users without paging parameters is a 400."""
    server, _ = fake
    status, body = await get(fake, f"/api/v1/team/{server.dataset.teams[0].id}/users")
    assert status == 400
    assert {e.split()[0] for e in assert_envelope(body, 400)["errors"]} == {"offset", "limit"}


@pytest.mark.parametrize("value", ["2025-13", "2025-1", "25-01", "2025/01"])
async def test_bad_start_dates_are_rejected(fake: Client, value: str) -> None:
    """account-utilizations' startDate must look like YYYY-MM."""
    status, body = await get(
        fake, "/api/v1/organization/account-utilizations", {"startDate": value}
    )
    assert status == 400
    assert_envelope(body, 400)


async def test_start_date_months_are_zero_based_on_the_wire(fake: Client) -> None:
    """startDate=2025-01 yields a first row with year 2025 and month 0, up to today's month."""
    server, _ = fake
    status, rows = await get(
        fake, "/api/v1/organization/account-utilizations", {"startDate": "2025-01"}
    )
    assert status == 200
    assert (rows[0]["year"], rows[0]["month"]) == (2025, 0)
    today = server.dataset.today
    assert (rows[-1]["year"], rows[-1]["month"] + 1) == (today.year, today.month)
    assert len(rows) == (today.year - 2025) * 12 + today.month


# Not found --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/team/no-such-team", None),
        ("/api/v1/team/no-such-team/users", {"offset": "0", "limit": "5"}),
        ("/api/v1/team/account-utilizations", {"teamId": "no-such-team"}),
        ("/api/v1/user/no-such-user", None),
        ("/api/v1/no/such/endpoint", None),
    ],
)
async def test_unknown_resources_are_404_with_the_envelope(
    fake: Client, path: str, params: dict[str, str] | None
) -> None:
    """Unknown teams, users and paths answer 404 with the error envelope."""
    status, body = await get(fake, path, params)
    assert status == 404
    assert_envelope(body, 404)


@pytest.mark.parametrize(("scope", "key"), [("team", "teamId"), ("user", "userId")])
async def test_usage_of_unknown_entities_is_404(fake: Client, scope: str, key: str) -> None:
    """Team or user usage for an unknown id is a 404."""
    server, _ = fake
    status, body = await get(fake, f"/api/v1/{scope}/usage", usage_params(server, **{key: "ghost"}))
    assert status == 404
    assert_envelope(body, 404)


# Entities ---------------------------------------------------------------------------------------


async def test_user_info_uses_snake_case_and_the_first_team(fake: Client) -> None:
    """/user/{id} has snake_case keys; a two-team user shows the first; a loner shows {}."""
    server, _ = fake
    data = server.dataset
    double = next(u for u in data.users if len(u.team_ids) == 2)
    status, body = await get(fake, f"/api/v1/user/{double.id}")
    assert status == 200
    assert body["user"]["user_id"] == double.id
    assert body["user"]["organization_id"] == server.organization_id
    assert body["teams"] == {
        "team_id": double.team_ids[0],
        "team_name": data.team(double.team_ids[0]).name,
    }
    loner = data.unassigned_user_ids(True)[0]
    status, body = await get(fake, f"/api/v1/user/{loner}")
    assert (status, body["teams"]) == (200, {})


async def test_permissions_list_the_admins(fake: Client) -> None:
    """role=Admin lists every active admin's email with the organization id."""
    server, _ = fake
    status, body = await get(fake, "/api/v1/instance/permissions", {"role": "Admin"})
    assert status == 200
    admins = {u.email for u in server.dataset.users if u.role == "Admin" and u.active}
    assert {row["username"] for row in body} == admins
    assert {row["organizationId"] for row in body} == {server.organization_id}


async def test_team_utilization_matches_the_members(fake: Client) -> None:
    """registered, deactivated and invited count the team's members by state."""
    server, _ = fake
    team = max(server.dataset.teams, key=lambda t: len(t.member_ids))
    status, body = await get(fake, "/api/v1/team/account-utilizations", {"teamId": team.id})
    members = server.dataset.team_members(team.id)
    assert status == 200
    assert body["deactivated"] == sum(1 for m in members if not m.active)
    assert body["registered"] + body["deactivated"] + body["invited"] == len(members)


# Pagination -------------------------------------------------------------------------------------


async def test_team_user_pages_cover_every_member_once(fake: Client) -> None:
    """Following meta.next lists each member exactly once, in order, with a correct total."""
    server, _ = fake
    team = max(server.dataset.teams, key=lambda t: len(t.member_ids))
    pages = await walk(fake, f"/api/v1/team/{team.id}/users", 3)
    ids = [user["id"] for page in pages for user in page["data"]]
    assert ids == list(team.member_ids)
    assert all(page["meta"]["total"] == len(team.member_ids) for page in pages)


async def test_limit_is_capped_by_the_server(fake: Client) -> None:
    """A limit above max_page_size returns max_page_size items and a capped next.limit."""
    status, body = await get(
        fake,
        "/api/v1/organization/users",
        {"offset": "0", "limit": "1000", "teamMember": "true", "active": "true"},
    )
    assert status == 200
    assert body["meta"]["count"] == len(body["data"]) == 7
    assert body["meta"]["next"] == {"limit": 7, "offset": 7}


async def test_an_exact_multiple_of_the_page_size_ends_without_an_empty_page() -> None:
    """When total is a multiple of limit, the last full page already ends the walk."""
    async with (
        serve_fake_tabnine(teams=2, users=12, seed=1) as server,
        aiohttp.ClientSession(headers=server.headers) as session,
    ):
        total = len(server.dataset.teams)
        pages = await walk((server, session), "/api/v1/organization/teams", 1)
        assert len(pages) == total
        assert all(page["meta"]["count"] == 1 for page in pages)
        assert not pages[-1]["meta"].get("next")


async def test_empty_team_and_empty_organization_give_empty_pages(fake: Client) -> None:
    """An empty team has no users; an organization without teams lists none."""
    server, _ = fake
    empty = server.dataset.teams[-1]
    status, body = await get(fake, f"/api/v1/team/{empty.id}/users", {"offset": "0", "limit": "5"})
    assert (status, body["data"], body["meta"]["total"]) == (200, [], 0)
    assert not body["meta"].get("next")
    async with (
        serve_fake_tabnine(teams=0, users=0) as bare,
        aiohttp.ClientSession(headers=bare.headers) as session,
    ):
        status, body = await get((bare, session), "/api/v1/organization/teams")
        assert (status, body["data"], body["meta"]["total"]) == (200, [], 0)


async def test_offsets_beyond_the_end_return_nothing(fake: Client) -> None:
    """An offset past the last item returns an empty page without next."""
    server, _ = fake
    team = server.dataset.teams[0]
    params = {"offset": str(len(team.member_ids) + 10), "limit": "5"}
    status, body = await get(fake, f"/api/v1/team/{team.id}/users", params)
    assert (status, body["data"], body["meta"]["count"]) == (200, [], 0)
    assert not body["meta"].get("next")


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "2.5", ""])
async def test_invalid_limits_are_rejected(fake: Client, limit: str) -> None:
    """limit must be a positive integer."""
    server, _ = fake
    path = f"/api/v1/team/{server.dataset.teams[0].id}/users"
    status, body = await get(fake, path, {"offset": "0", "limit": limit})
    assert status == 400
    assert_envelope(body, 400)


async def test_last_pages_have_next_both_absent_and_null(fake: Client) -> None:
    """Across lists, the last page's next is sometimes missing and sometimes null."""
    server, _ = fake
    shapes = set()
    for team in server.dataset.teams:
        for limit in (2, 3, 5):
            last = (await walk(fake, f"/api/v1/team/{team.id}/users", limit))[-1]["meta"]
            shapes.add("absent" if "next" not in last else repr(last["next"]))
    assert shapes == {"absent", "None"}


async def test_short_pages_still_cover_everything() -> None:
    """With short_pages, some pages hold fewer items than the limit yet the walk is complete."""
    async with (
        serve_fake_tabnine(teams=2, users=60, seed=2, short_pages=True) as server,
        aiohttp.ClientSession(headers=server.headers) as session,
    ):
        team = max(server.dataset.teams, key=lambda t: len(t.member_ids))
        pages = await walk((server, session), f"/api/v1/team/{team.id}/users", 6)
        ids = [user["id"] for page in pages for user in page["data"]]
        assert ids == list(team.member_ids)
        assert any(0 < page["meta"]["count"] < 6 for page in pages[:-1])


# Determinism ------------------------------------------------------------------------------------


def every_endpoint(server: FakeTabnine) -> list[tuple[str, dict[str, str]]]:
    data = server.dataset
    team, user = data.teams[0].id, data.users[0].id
    usage = usage_params(server, granularity="weekly", to="2026-01-15T00:00:00Z")
    return [
        ("/api/v1/organization", {}),
        ("/api/v1/organization/teams", {"offset": "0", "limit": "3"}),
        ("/api/v1/license", {}),
        ("/api/v1/organization/account-utilizations", {}),
        ("/api/v1/instance/permissions", {"role": "Admin"}),
        ("/api/v1/organization/usage", usage),
        (
            "/api/v1/organization/users",
            {"offset": "0", "limit": "9", "teamMember": "false", "active": "false"},
        ),
        (f"/api/v1/team/{team}/users", {"offset": "0", "limit": "9"}),
        ("/api/v1/team/account-utilizations", {"teamId": team}),
        (f"/api/v1/team/{team}", {}),
        ("/api/v1/team/usage", {**usage, "teamId": team}),
        (f"/api/v1/user/{user}", {}),
        ("/api/v1/user/usage", {**usage, "userId": user}),
    ]


async def fetch_all(seed: int) -> list[bytes]:
    async with (
        serve_fake_tabnine(teams=3, users=25, seed=seed) as server,
        aiohttp.ClientSession(headers=server.headers) as session,
    ):
        bodies = []
        for path, params in every_endpoint(server):
            async with session.get(server.url(path), params=params) as response:
                assert response.status == 200, path
                bodies.append(await response.read())
        return bodies


async def test_same_seed_serves_the_same_bytes_on_every_endpoint() -> None:
    """Two servers built from one seed answer all 13 endpoints byte for byte alike."""
    first, second = await fetch_all(4), await fetch_all(4)
    assert len(first) == 13
    assert first == second


async def test_different_seeds_serve_different_organizations() -> None:
    """Another seed changes the organization body and the usage numbers."""
    first, second = await fetch_all(4), await fetch_all(40)
    assert first[0] != second[0]
    assert first[5] != second[5]
