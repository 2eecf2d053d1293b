"""The fake's version, licence and cutover switches, and its pipeline on the 6.2 routes."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import (
    FakeTabnine,
    FaultConfig,
    ScriptedFault,
    serve_fake_tabnine,
)

WINDOW = {"from": "2025-12-01T00:00:00Z", "to": "2026-01-12T00:00:00Z", "granularity": "weekly"}
START = datetime(2025, 12, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 12, tzinfo=timezone.utc)


def current_calls(fake: FakeTabnine) -> list[tuple[str, dict[str, str]]]:
    """One valid request for each route that only a 6.2 server has."""
    data = fake.dataset
    team = data.teams[1]
    user = data.user(team.member_ids[0])
    usage = {"organizationId": fake.organization_id, **WINDOW}
    calls: list[tuple[str, dict[str, str]]] = []
    for prefix in ("/api/v2/{}/usage", "/api/v1/{}/agent-usage"):
        calls += [
            (prefix.format("organization"), usage),
            (prefix.format("team"), {**usage, "teamId": team.id}),
            (prefix.format("user"), {**usage, "userId": user.id}),
        ]
    calls += [
        ("/api/v1/organization/audit-logs", {}),
        ("/api/invitation/v1", {"offset": "0", "limit": "10"}),
        (f"/api/user/v1/{user.id}", {}),
        (f"/api/user/v1/by-email/{user.email}", {}),
        (f"/api/user/v1/{user.id}/allowed-teams", {}),
        (f"/api/team/v1/{team.id}", {}),
    ]
    return calls


async def get(
    fake: FakeTabnine, session: aiohttp.ClientSession, path: str, params: dict[str, str]
) -> tuple[int, Any]:
    async with session.get(fake.url(path), params=params) as response:
        text = await response.text()
        is_json = response.content_type == "application/json"
        return response.status, (await response.json() if is_json else text)


@pytest.mark.parametrize("version", ["6.2", "5.x"])
async def test_the_version_decides_whether_6_2_routes_exist(version: str) -> None:
    """A 6.2 fake answers every 6.2 route with 200; a 5.x fake answers each with 404."""
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5, version=version) as fake,  # type: ignore[arg-type]
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        for path, params in current_calls(fake):
            status, _ = await get(fake, session, path, params)
            assert status == (200 if version == "6.2" else 404), path
        usage = {"organizationId": fake.organization_id, **WINDOW}
        status, body = await get(fake, session, "/api/v1/organization/usage", usage)
        assert status == 200 and body["usage"]["data"]
        status, body = await get(fake, session, "/api/v1/organization/teams", {})
        assert ("pendingInvitationsCount" in body["data"][0]) == (version == "6.2")


async def test_without_the_agent_license_agent_usage_is_forbidden() -> None:
    """Every agent-usage route answers 403 FEATURE_NOT_AVAILABLE and the licence lacks 'agent'."""
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5, agent_license=False) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        for path, params in current_calls(fake):
            status, body = await get(fake, session, path, params)
            if "agent-usage" in path:
                assert status == 403
                assert body["error"] == "FEATURE_NOT_AVAILABLE" and body["message"]
            else:
                assert status == 200
        _, body = await get(fake, session, "/api/v1/license", {})
        assert "agent" not in body["license"]["features"]
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        _, body = await get(fake, session, "/api/v1/license", {})
        assert "agent" in body["license"]["features"]


async def test_v1_usage_stops_at_the_cutover_while_v2_goes_on() -> None:
    """After ``v1_cutover`` v1 blocks are empty; v2 still has activity; earlier days agree."""
    cutover = date(2025, 12, 22)
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5, v1_cutover=cutover) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        usage = {"organizationId": fake.organization_id, **WINDOW}
        _, v1 = await get(fake, session, "/api/v1/organization/usage", usage)
        _, v2 = await get(fake, session, "/api/v2/organization/usage", usage)
        org = fake.organization_id
        truth = fake.dataset.usage_blocks(
            "organization", org, START, END, "weekly", v1_cutover=cutover
        )
        assert v1["usage"]["data"] == truth
        for old, new in zip(v1["usage"]["data"], v2["usage"]["data"], strict=True):
            if old["from"] >= "2025-12-22":
                assert old["activeUsers"] == 0 and old["codeCompletions"]["completions"] == 0
                assert new["activeUsers"] > 0
            else:
                assert old["activeUsers"] == new["activeUsers"] > 0


async def test_agent_usage_parameter_habits() -> None:
    """No organizationId: 401 Invalid organization; startDate/endDate: 500; both 6.2 bodies."""
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        status, body = await get(fake, session, "/api/v1/organization/agent-usage", WINDOW)
        assert status == 401 and body["message"] == "Invalid organization"
        assert isinstance(body["error"], str) and body["status"] == 401
        old_names = {
            "organizationId": fake.organization_id,
            "startDate": "2025-12-01T00:00:00Z",
            "endDate": "2026-01-01T00:00:00Z",
            "granularity": "all",
        }
        status, body = await get(fake, session, "/api/v1/organization/agent-usage", old_names)
        assert status == 500 and body["error"] == "INTERNAL_ERROR"
        status, body = await get(fake, session, "/api/v1/organization/usage", WINDOW)
        assert status == 401 and body["error"]["message"] == "Invalid organization"


async def test_faults_and_rate_limits_reach_the_new_routes() -> None:
    """A scripted 503 and a 429 on 6.2 routes use the 6.2 body; the retry then succeeds."""
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        fake.add_scripted_fault(ScriptedFault("503", route="/api/v2/team/usage"))
        fake.add_scripted_fault(ScriptedFault("429", route="/api/v1/organization/audit-logs"))
        team = {"organizationId": fake.organization_id, "teamId": fake.dataset.teams[1].id}
        status, body = await get(fake, session, "/api/v2/team/usage", {**team, **WINDOW})
        assert status == 503 and body["error"] == "SERVICE_UNAVAILABLE"
        status, body = await get(fake, session, "/api/v2/team/usage", {**team, **WINDOW})
        assert status == 200
        async with session.get(fake.url("/api/v1/organization/audit-logs")) as response:
            assert response.status == 429 and "Retry-After" in response.headers
            assert (await response.json())["error"] == "RATE_LIMITED"
        assert fake.stats.requests_by_route["/api/v2/team/usage"] == 2


async def test_random_faults_hit_the_new_routes() -> None:
    """With a fault rate of one, every 6.2 route request fails with an injected fault."""
    faults = FaultConfig(rate=1.0, kinds=("500",), seed=1)
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5, faults=faults) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        for path, params in current_calls(fake):
            status, body = await get(fake, session, path, params)
            assert status == 500 and body["error"] == "INTERNAL_ERROR", path


async def test_unknown_entities_are_404_with_the_current_body() -> None:
    """Unknown users and teams on 6.2 routes are 404 NOT_FOUND."""
    async with (
        serve_fake_tabnine(teams=3, users=20, seed=5) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        missing = "00000000-0000-4000-8000-000000000000"
        for path in (
            f"/api/user/v1/{missing}",
            f"/api/team/v1/{missing}",
            "/api/user/v1/by-email/nobody@example.com",
        ):
            status, body = await get(fake, session, path, {})
            assert status == 404 and body["error"] == "NOT_FOUND", path
        params = {"organizationId": fake.organization_id, "userId": missing, **WINDOW}
        status, body = await get(fake, session, "/api/v2/user/usage", params)
        assert status == 404 and body["error"] == "NOT_FOUND"


async def test_a_truncated_csv_export_ends_early() -> None:
    """A ``truncated`` fault cuts the streamed CSV export off; the next export is whole."""
    async with (
        serve_fake_tabnine(teams=3, users=400, seed=5) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        route = "/api/v1/organization/audit-logs"
        fake.add_scripted_fault(ScriptedFault("truncated", route=route))
        params = {"format": "csv"}
        async with session.get(fake.url(route), params=params) as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        async with session.get(fake.url(route), params=params) as response:
            lines = (await response.text()).splitlines()
        assert len(lines) == len(fake.dataset.audit_events()) + 1
