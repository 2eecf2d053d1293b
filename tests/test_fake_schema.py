"""The fake server's 200 responses validate against the published OpenAPI description."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import FakeTabnine, serve_fake_tabnine

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "api" / "tabnine-usage-openapi.yaml"
SPEC_HOST = "https://api.example.com"


@pytest.fixture(scope="module")
def openapi() -> Any:
    if not SPEC_PATH.parent.is_dir():
        pytest.skip(
            f"the API description folder {SPEC_PATH.parent.name!r} beside the repo is absent"
        )
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(SPEC_PATH))


def _calls(fake: FakeTabnine) -> list[tuple[str, str, dict[str, str]]]:
    data = fake.dataset
    org = fake.organization_id
    team = data.teams[1]
    user = data.user(team.member_ids[0])
    unassigned = data.unassigned_user_ids(True)[0]
    window = {"from": "2025-12-20T00:00:00Z", "to": "2026-01-10T12:00:00Z"}
    calls: list[tuple[str, str, dict[str, str]]] = [
        ("/api/v1/organization", "/api/v1/organization", {}),
        ("/api/v1/organization/teams", "/api/v1/organization/teams", {"limit": "3"}),
        ("/api/v1/organization/teams", "/api/v1/organization/teams", {}),
        ("/api/v1/license", "/api/v1/license", {}),
        (
            "/api/v1/organization/account-utilizations",
            "/api/v1/organization/account-utilizations",
            {},
        ),
        (
            "/api/v1/organization/account-utilizations",
            "/api/v1/organization/account-utilizations",
            {"startDate": "2025-03"},
        ),
        ("/api/v1/instance/permissions", "/api/v1/instance/permissions", {"role": "Admin"}),
        (
            "/api/v1/organization/users",
            "/api/v1/organization/users",
            {"offset": "0", "limit": "5", "teamMember": "false", "active": "true"},
        ),
        (
            "/api/v1/organization/users",
            "/api/v1/organization/users",
            {"offset": "0", "limit": "5", "teamMember": "false", "active": "false"},
        ),
        (
            f"/api/v1/team/{team.id}/users",
            "/api/v1/team/{teamId}/users",
            {"offset": "0", "limit": "50"},
        ),
        (
            "/api/v1/team/account-utilizations",
            "/api/v1/team/account-utilizations",
            {"teamId": team.id},
        ),
        (f"/api/v1/team/{team.id}", "/api/v1/team/{teamId}", {}),
        (f"/api/v1/user/{user.id}", "/api/v1/user/{user_id}", {}),
        (f"/api/v1/user/{unassigned}", "/api/v1/user/{user_id}", {}),
    ]
    for granularity in ("all", "daily", "weekly", "monthly"):
        usage = {"organizationId": org, "granularity": granularity, **window}
        calls += [
            ("/api/v1/organization/usage", "/api/v1/organization/usage", usage),
            ("/api/v1/team/usage", "/api/v1/team/usage", {**usage, "teamId": team.id}),
            ("/api/v1/user/usage", "/api/v1/user/usage", {**usage, "userId": user.id}),
        ]
    return calls


def _path_params(template: str, path: str) -> dict[str, str]:
    pairs = zip(template.split("/"), path.split("/"), strict=True)
    return {name[1:-1]: value for name, value in pairs if name.startswith("{")}


async def test_every_endpoint_validates_against_the_published_schema(openapi: Any) -> None:
    """Each of the 13 endpoints answers 200 with a body that the OpenAPI validator accepts."""
    from openapi_core.testing import MockRequest, MockResponse

    async with (
        serve_fake_tabnine(teams=4, users=30, seed=11) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        calls = _calls(fake)
        templates = set()
        for path, template, params in calls:
            async with session.get(fake.url(path), params=params) as response:
                body = await response.read()
                assert response.status == 200, (path, body)
                content_type = response.content_type
            request = MockRequest(
                SPEC_HOST,
                "get",
                path,
                path_pattern=template,
                args=params,
                view_args=_path_params(template, path),
                headers=fake.headers,
            )
            openapi.validate_request(request)
            openapi.validate_response(request, MockResponse(body, 200, content_type=content_type))
            templates.add(template)
        assert len(templates) == 13


async def test_the_validator_rejects_a_broken_body(openapi: Any) -> None:
    """The schema check can fail: a usage block without ``activeUsers`` is refused."""
    from openapi_core.testing import MockRequest, MockResponse

    body = (
        b'{"organizationId":"o","from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z",'
        b'"usage":{"granularity":"all","data":[{"from":"2026-01-01T00:00:00Z",'
        b'"to":"2026-01-02T00:00:00Z"}]}}'
    )
    request = MockRequest(SPEC_HOST, "get", "/api/v1/organization/usage")
    with pytest.raises(Exception, match=r"(?i)valid"):
        openapi.validate_response(request, MockResponse(body, 200))


SPEC62_PATH = SPEC_PATH.with_name("tabnine-platform-api-6.2.0.yaml")
SPEC62_HOST = "https://console.tabnine.com"
# Templates of the v1 description spelled differently, or absent, in the 6.2 description.
RENAMED_IN_62 = {"/api/v1/user/{user_id}": "/api/v1/user/{userId}", "/api/v1/team/{teamId}": None}


@pytest.fixture(scope="module")
def openapi62() -> Any:
    if not SPEC62_PATH.is_file():
        pytest.skip(f"the 6.2 API description {SPEC62_PATH.name!r} beside the repo is absent")
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(SPEC62_PATH))


def _calls62(fake: FakeTabnine) -> list[tuple[str, str, dict[str, str]]]:
    data = fake.dataset
    org = fake.organization_id
    team = data.teams[1]
    user = data.user(team.member_ids[0])
    loner = data.user(data.unassigned_user_ids(True)[0])
    window = {"from": "2025-12-20T00:00:00Z", "to": "2026-01-10T12:00:00Z"}
    calls: list[tuple[str, str, dict[str, str]]] = []
    for path, template, params in _calls(fake):
        renamed = RENAMED_IN_62.get(template, template)
        if renamed is not None:
            calls.append((path, renamed, params))
    calls += [
        (
            "/api/v1/organization/users",
            "/api/v1/organization/users",
            {"offset": "0", "limit": "20", "teamMember": "true", "active": "true"},
        ),
        ("/api/v1/organization/audit-logs", "/api/v1/organization/audit-logs", {}),
        (
            "/api/v1/organization/audit-logs",
            "/api/v1/organization/audit-logs",
            {"eventType": "user.deactivated", "sort": "asc", "limit": "1000", **window},
        ),
        (
            "/api/v1/organization/audit-logs",
            "/api/v1/organization/audit-logs",
            {"format": "csv", "resourceType": "team"},
        ),
        ("/api/invitation/v1", "/api/invitation/v1", {"offset": "0", "limit": "50"}),
        (
            "/api/invitation/v1",
            "/api/invitation/v1",
            {"offset": "0", "limit": "1", "teamId": team.id},
        ),
        (f"/api/team/v1/{team.id}", "/api/team/v1/{teamid}", {}),
        (f"/api/team/v1/{data.teams[0].id}", "/api/team/v1/{teamid}", {}),
        (f"/api/user/v1/{user.id}", "/api/user/v1/{userId}", {}),
        (f"/api/user/v1/{loner.id}", "/api/user/v1/{userId}", {}),
        (f"/api/user/v1/by-email/{user.email}", "/api/user/v1/by-email/{email}", {}),
        (f"/api/user/v1/by-email/{loner.email}", "/api/user/v1/by-email/{email}", {}),
        (f"/api/user/v1/{user.id}/allowed-teams", "/api/user/v1/{userId}/allowed-teams", {}),
    ]
    for granularity in ("all", "daily", "weekly", "monthly"):
        usage = {"organizationId": org, "granularity": granularity, **window}
        for prefix in ("/api/v2/{}/usage", "/api/v1/{}/agent-usage"):
            calls += [
                (prefix.format("organization"), prefix.format("organization"), usage),
                (prefix.format("team"), prefix.format("team"), {**usage, "teamId": team.id}),
                (prefix.format("user"), prefix.format("user"), {**usage, "userId": user.id}),
            ]
    return calls


async def test_every_route_validates_against_the_6_2_description(openapi62: Any) -> None:
    """Old and new routes of a 6.2 fake answer 200 bodies the 6.2 description accepts."""
    from openapi_core.testing import MockRequest, MockResponse

    async with (
        serve_fake_tabnine(teams=4, users=60, seed=11) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        templates = set()
        for path, template, params in _calls62(fake):
            async with session.get(fake.url(path), params=params) as response:
                body = await response.read()
                assert response.status == 200, (path, body)
                content_type = response.content_type
            request = MockRequest(
                SPEC62_HOST,
                "get",
                path,
                path_pattern=template,
                args=params,
                view_args=_path_params(template, path),
                headers=fake.headers,
            )
            openapi62.validate_request(request)
            openapi62.validate_response(request, MockResponse(body, 200, content_type=content_type))
            templates.add(template)
        assert len(templates) == 24


async def test_6_2_error_bodies_validate_against_the_error_schema(openapi62: Any) -> None:
    """400, 401, 403 and 404 answers of the 6.2 routes fit the 6.2 ``Error`` schema."""
    from openapi_core.testing import MockRequest, MockResponse

    async with (
        serve_fake_tabnine(teams=3, users=20, seed=11, agent_license=False) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        org = fake.organization_id
        missing = "00000000-0000-4000-8000-000000000000"
        cases = [
            ("/api/v2/organization/usage", "/api/v2/organization/usage", {"organizationId": org}),
            ("/api/v2/organization/usage", "/api/v2/organization/usage", {}),
            ("/api/v1/organization/audit-logs", "/api/v1/organization/audit-logs", {"limit": "0"}),
            (f"/api/user/v1/{missing}", "/api/user/v1/{userId}", {}),
            (f"/api/team/v1/{missing}", "/api/team/v1/{teamid}", {}),
        ]
        statuses = []
        for path, template, params in cases:
            async with session.get(fake.url(path), params=params) as response:
                body = await response.read()
                statuses.append(response.status)
            request = MockRequest(
                SPEC62_HOST,
                "get",
                path,
                path_pattern=template,
                args=params,
                view_args=_path_params(template, path),
            )
            openapi62.validate_response(
                request, MockResponse(body, response.status, content_type="application/json")
            )
        assert statuses == [400, 401, 400, 404, 404]


def test_the_6_2_validator_rejects_an_agent_point_without_breakdowns(openapi62: Any) -> None:
    """The 6.2 check can fail: an agent data point lacking ``agentTypeBreakdown`` is refused."""
    from openapi_core.testing import MockRequest, MockResponse

    body = (
        b'{"organizationId":"o","from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z",'
        b'"usage":{"granularity":"all","data":[{"from":"2026-01-01T00:00:00Z",'
        b'"to":"2026-01-02T00:00:00Z","activeUsers":1,"totalTokensConsumed":1,'
        b'"totalInputTokens":1,"totalOutputTokens":0,"totalCost":0.1,"modelBreakdown":[]}]}}'
    )
    request = MockRequest(SPEC62_HOST, "get", "/api/v1/organization/agent-usage")
    with pytest.raises(Exception, match=r"(?i)valid"):
        openapi62.validate_response(request, MockResponse(body, 200))
