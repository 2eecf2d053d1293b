"""The Tabnine 6.2 reads: the exact request each method sends and what it parses from the answer."""

from __future__ import annotations

import csv
import io
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tabnine_usage_async import (
    AgentModelUsage,
    AuditActor,
    AuditEvent,
    AuditResource,
    FeatureNotAvailableError,
    Granularity,
    InvalidParameterError,
    Invitation,
    ModelUsage,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    ServerError,
    TabnineClient,
    Team,
    TransportError,
    UserTeam,
)
from tabnine_usage_async import client as client_module

from .conftest import TOKEN, Recorder

UTC = timezone.utc
ORG_ID = "org-1"  # what the recorder's /api/v1/organization answers


def _only(recorder: Recorder, path: str) -> dict[str, str]:
    matching = [s for s in recorder.seen if s.raw_path == path]
    assert len(matching) == 1, recorder.paths()
    assert matching[0].method == "GET"
    assert matching[0].headers["Authorization"] == f"Bearer {TOKEN}"
    return matching[0].query


def _v2_body(**ids: str) -> dict[str, Any]:
    return {
        "organizationId": ORG_ID,
        **ids,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-03T00:00:00Z",
        "usage": {
            "granularity": "all",
            "data": [
                {
                    "from": "2026-01-01T00:00:00Z",
                    "to": "2026-01-03T00:00:00Z",
                    "activeUsers": 3,
                    "codeCompletions": {
                        "activeUsers": 2,
                        "completions": 10,
                        "charsCompleted": 300,
                        "keystrokes": 900,
                        "lines": 12,
                    },
                    "chat": {
                        "activeUsers": 1,
                        "messages": 4,
                        "linesAdded": 7,
                        "models": [
                            {
                                "model": "0b5a6f2e-7a4e-4b59-9d53-8f4a8c0e0001",
                                "messages": 4,
                                "uniqueUsers": 1,
                                "inputTokens": 1000,
                                "outputTokens": 200,
                            }
                        ],
                    },
                    "agent": {
                        "activeUsers": 1,
                        "messages": 2,
                        "linesAdded": 30,
                        "linesAddedAccepted": 20,
                        "linesRemoved": 5,
                        "linesRemovedAccepted": 4,
                        "futureMetric": 9,
                    },
                    "ides": "vscode",
                }
            ],
        },
    }


def _agent_body(**ids: str) -> dict[str, Any]:
    model = {
        "model": "claude",
        "tokensConsumed": 150,
        "inputTokens": 100,
        "outputTokens": 50,
        "cost": 0.25,
    }
    return {
        "organizationId": ORG_ID,
        **ids,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "usage": {
            "granularity": "daily",
            "data": [
                {
                    "from": "2026-01-01T00:00:00Z",
                    "to": "2026-01-02T00:00:00Z",
                    "activeUsers": 2,
                    "totalTokensConsumed": 150,
                    "totalInputTokens": 100,
                    "totalOutputTokens": 50,
                    "totalCost": 0.25,
                    "modelBreakdown": [model],
                    "agentTypeBreakdown": [
                        {
                            "agentType": "cli",
                            "activeUsers": 2,
                            "interactions": 3,
                            "linesAdded": 10,
                            "linesAddedAccepted": 8,
                            "linesRemoved": 2,
                            "linesRemovedAccepted": 1,
                            "tokensConsumed": 150,
                            "inputTokens": 100,
                            "outputTokens": 50,
                            "cost": 0.25,
                            "userInitiatedMessages": 3,
                            "modelBreakdown": [model],
                        }
                    ],
                }
            ],
        },
    }


RANGE_QUERY = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"}


# -- v2 usage ------------------------------------------------------------------------------------


async def test_organization_usage_v2_request_and_parse(
    recorder: Recorder, client: TabnineClient
) -> None:
    """get_organization_usage_v2 sends organizationId, from, to, granularity and parses buckets."""
    recorder.json("/api/v2/organization/usage", _v2_body())
    report = await client.get_organization_usage_v2("2026-01-01", "2026-01-03", "all")
    assert _only(recorder, "/api/v2/organization/usage") == {
        "organizationId": ORG_ID,
        **RANGE_QUERY,
        "granularity": "all",
    }
    assert report.granularity is Granularity.ALL and report.team_id is None
    (bucket,) = report.buckets
    assert bucket.active_users == 3 and bucket.ides == "vscode" and bucket.languages is None
    assert bucket.code_completions is not None and bucket.code_completions.keystrokes == 900
    assert bucket.chat is not None and bucket.chat.models == (
        ModelUsage("0b5a6f2e-7a4e-4b59-9d53-8f4a8c0e0001", 4, 1, 1000, 200),
    )
    assert bucket.agent is not None
    assert (bucket.agent.lines_removed_accepted, bucket.agent.models) == (4, None)
    assert bucket.agent.extra == {"futureMetric": 9}


async def test_team_usage_v2_request(recorder: Recorder, client: TabnineClient) -> None:
    """get_team_usage_v2 adds teamId and uses the given organization_id without a lookup."""
    recorder.json("/api/v2/team/usage", _v2_body(teamId="t-1"))
    report = await client.get_team_usage_v2(
        "t-1", "2026-01-01", "2026-01-03", "weekly", organization_id="org-9"
    )
    assert _only(recorder, "/api/v2/team/usage") == {
        "organizationId": "org-9",
        "teamId": "t-1",
        **RANGE_QUERY,
        "granularity": "weekly",
    }
    assert "/api/v1/organization" not in recorder.paths()
    assert report.team_id == "t-1"


async def test_user_usage_v2_request(recorder: Recorder, client: TabnineClient) -> None:
    """get_user_usage_v2 adds userId and looks the organization id up once."""
    recorder.json("/api/v2/user/usage", _v2_body(userId="u-1"))
    recorder.json("/api/v2/user/usage", _v2_body(userId="u-1"))
    await client.get_user_usage_v2("u-1", "2026-01-01", "2026-01-03", Granularity.DAILY)
    report = await client.get_user_usage_v2("u-1", "2026-01-01", "2026-01-03", "daily")
    queries = [s.query for s in recorder.seen if s.raw_path == "/api/v2/user/usage"]
    assert (
        queries
        == [{"organizationId": ORG_ID, "userId": "u-1", **RANGE_QUERY, "granularity": "daily"}] * 2
    )
    assert recorder.paths().count("/api/v1/organization") == 1
    assert report.user_id == "u-1"


# -- agent usage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "ids"),
    [
        ("get_organization_agent_usage", "/api/v1/organization/agent-usage", {}),
        ("get_team_agent_usage", "/api/v1/team/agent-usage", {"teamId": "t-1"}),
        ("get_user_agent_usage", "/api/v1/user/agent-usage", {"userId": "u-1"}),
    ],
)
async def test_agent_usage_request_and_parse(
    recorder: Recorder, client: TabnineClient, method: str, path: str, ids: dict[str, str]
) -> None:
    """Each agent-usage method sends its ids, from, to, granularity and parses the breakdowns."""
    recorder.json(path, _agent_body(**ids))
    args = list(ids.values())
    report = await getattr(client, method)(*args, "2026-01-01", "2026-01-03", "daily")
    assert _only(recorder, path) == {
        "organizationId": ORG_ID,
        **ids,
        **RANGE_QUERY,
        "granularity": "daily",
    }
    (point,) = report.points
    model = AgentModelUsage("claude", 150, 100, 50, 0.25)
    assert (point.total_tokens, point.total_cost, point.models) == (150, 0.25, (model,))
    (kind,) = point.agent_types
    assert (kind.agent_type, kind.user_initiated_messages, kind.models) == ("cli", 3, (model,))


async def test_agent_usage_without_licence_is_feature_not_available(
    recorder: Recorder, client: TabnineClient
) -> None:
    """A 403 FEATURE_NOT_AVAILABLE becomes FeatureNotAvailableError with code and request id."""
    body = {
        "error": "FEATURE_NOT_AVAILABLE",
        "message": "The Agent feature is not included in your account's license.",
        "status": 403,
        "requestId": "req-42",
    }
    recorder.json("/api/v1/organization/agent-usage", body, status=403)
    with pytest.raises(FeatureNotAvailableError) as info:
        await client.get_organization_agent_usage("2026-01-01", "2026-01-02")
    assert isinstance(info.value, PermissionDeniedError)
    assert (info.value.code, info.value.request_id) == ("FEATURE_NOT_AVAILABLE", "req-42")
    assert "req-42" in str(info.value) and "FEATURE_NOT_AVAILABLE" in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_organization_usage_v2("2026-02-01", "2026-01-01"),
        lambda c: c.get_team_usage_v2("", "2026-01-01", "2026-01-02"),
        lambda c: c.get_user_usage_v2("u", "2026-01-01", "2026-01-02", "hourly"),
        lambda c: c.get_organization_agent_usage("yesterday", "2026-01-02"),
        lambda c: c.get_team_agent_usage(None, "2026-01-01", "2026-01-02"),
        lambda c: c.get_user_agent_usage("u", "2026-01-01", "2026-01-02", 3),
        lambda c: c.get_managed_user(""),
        lambda c: c.get_user_by_email("  "),
        lambda c: c.get_allowed_teams(7),
        lambda c: c.get_team_details(""),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    recorder: Recorder, client: TabnineClient, call: Any
) -> None:
    """Invalid arguments raise InvalidParameterError before any request, even the org lookup."""
    with pytest.raises(InvalidParameterError):
        await call(client)
    assert recorder.seen == []


# -- version detection ---------------------------------------------------------------------------


async def test_supports_v2_usage_true_and_cached(recorder: Recorder, client: TabnineClient) -> None:
    """A 6.2 server answers the probe; the answer is cached for the client's life."""
    recorder.always("/api/v2/organization/usage", _v2_body())
    assert await client.supports_v2_usage() is True
    assert await client.supports_v2_usage() is True
    probes = [s.query for s in recorder.seen if s.raw_path == "/api/v2/organization/usage"]
    assert len(probes) == 1
    assert probes[0]["organizationId"] == ORG_ID and probes[0]["granularity"] == "all"
    start = datetime.fromisoformat(probes[0]["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(probes[0]["to"].replace("Z", "+00:00"))
    assert (end - start).days == 1


async def test_supports_v2_usage_false_on_404(recorder: Recorder, client: TabnineClient) -> None:
    """An older server answers 404 on the v2 path: no v2, asked only once."""
    assert await client.supports_v2_usage() is False
    assert await client.supports_v2_usage() is False
    assert recorder.paths().count("/api/v2/organization/usage") == 1


async def test_supports_v2_usage_raises_what_says_nothing_about_the_version(
    recorder: Recorder, client: TabnineClient
) -> None:
    """A 403 on the probe is raised rather than guessed, and nothing is cached."""
    recorder.json("/api/v2/organization/usage", {"error": "FORBIDDEN", "message": "no"}, 403)
    with pytest.raises(PermissionDeniedError):
        await client.supports_v2_usage()
    recorder.json("/api/v2/organization/usage", _v2_body())
    assert await client.supports_v2_usage() is True


# -- audit logs ----------------------------------------------------------------------------------


def _event(n: int) -> dict[str, Any]:
    return {
        "id": f"ev-{n}",
        "timestamp": f"2026-01-01T00:00:{n % 60:02d}Z",
        "eventType": "team_member.added",
        "actor": {"id": "a-1", "type": "user", "email": "ada@example.com"},
        "resource": {"id": "t-1", "type": "team", "name": "QA"},
        "metadata": {"n": n},
    }


def _audit_pages(recorder: Recorder, total: int, *, ignore: int = 0) -> None:
    """Serve ``total`` events by offset and limit; ``total`` is misreported on purpose."""

    def handle(request: web.Request) -> web.Response:
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        items = [_event(n) for n in range(offset, min(offset + limit, total))]
        body = {"items": items, "total": total + 1000, "limit": limit, "offset": offset}
        return web.json_response(body)

    recorder.defaults["/api/v1/organization/audit-logs"] = handle


async def test_iter_audit_logs_sends_every_filter(
    recorder: Recorder, client: TabnineClient
) -> None:
    """iter_audit_logs sends from, to, each filter, sort, offset and limit, and parses events."""
    _audit_pages(recorder, 1)
    events = [
        e
        async for e in client.iter_audit_logs(
            "2026-01-01",
            datetime(2026, 2, 1, tzinfo=UTC),
            event_type="team_member.added",
            actor_id="a-1",
            actor_email="ada@example.com",
            resource_type="team",
            resource_id="t-1",
            sort="asc",
        )
    ]
    first = recorder.seen[0].query
    assert first == {
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-02-01T00:00:00Z",
        "eventType": "team_member.added",
        "actorId": "a-1",
        "actorEmail": "ada@example.com",
        "resourceType": "team",
        "resourceId": "t-1",
        "sort": "asc",
        "offset": "0",
        "limit": "100",
    }
    assert events == [
        AuditEvent(
            "ev-0",
            datetime(2026, 1, 1, tzinfo=UTC),
            "team_member.added",
            AuditActor("a-1", "user", "ada@example.com"),
            AuditResource("t-1", "team", "QA"),
            {"n": 0},
        )
    ]


async def test_iter_audit_logs_walks_until_an_empty_page(
    recorder: Recorder, client: TabnineClient
) -> None:
    """Every event once, offsets moving by the items received, ignoring an inflated total."""
    _audit_pages(recorder, 250)
    ids = [e.id async for e in client.iter_audit_logs()]
    assert ids == [f"ev-{n}" for n in range(250)]
    offsets = [s.query["offset"] for s in recorder.seen]
    assert offsets == ["0", "100", "200", "250"]
    assert all("from" not in s.query and s.query["sort"] == "desc" for s in recorder.seen)


async def test_audit_page_size_is_capped_at_1000(recorder: Recorder) -> None:
    """A client page_size above 1000 sends limit=1000, the endpoint's maximum."""
    _audit_pages(recorder, 3)
    async with TabnineClient(token=TOKEN, base_url=recorder.base_url, page_size=5000) as client:
        assert len([e async for e in client.iter_audit_logs()]) == 3
    assert {s.query["limit"] for s in recorder.seen} == {"1000"}


async def test_audit_server_ignoring_offset_raises(
    recorder: Recorder, client: TabnineClient
) -> None:
    """A server that answers offset 0 whatever is asked raises PaginationError, not a loop."""
    recorder.always(
        "/api/v1/organization/audit-logs",
        {"items": [_event(n) for n in range(100)], "total": 5, "limit": 100, "offset": 0},
    )
    with pytest.raises(PaginationError):
        _ = [e async for e in client.iter_audit_logs()]
    assert len(recorder.seen) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sort": "newest"},
        {"event_type": ""},
        {"actor_email": 5},
        {"start": "2026-02-01", "end": "2026-01-01"},
        {"start": "not a date"},
    ],
)
async def test_audit_bad_arguments_fail_before_any_request(
    recorder: Recorder, client: TabnineClient, kwargs: dict[str, Any]
) -> None:
    """Bad filters, sort or dates raise InvalidParameterError before any request."""
    with pytest.raises(InvalidParameterError):
        _ = [e async for e in client.iter_audit_logs(**kwargs)]
    with pytest.raises(InvalidParameterError):
        await client.export_audit_logs_csv(io.BytesIO(), **kwargs)
    assert recorder.seen == []


# -- audit-log CSV export ------------------------------------------------------------------------

CSV_ROWS = 20_000


def _csv_answer(rows: int = CSV_ROWS, *, cut: bool = False) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        await response.write(b"id,timestamp,eventType\r\n")
        for start in range(0, rows, 1000):
            chunk = "".join(
                f"ev-{n},2026-01-01T00:00:00Z,team_member.added\r\n"
                for n in range(start, min(start + 1000, rows))
            )
            await response.write(chunk.encode())
            if cut:
                assert request.transport is not None
                request.transport.close()  # the connection breaks mid-body
                return response
        await response.write_eof()
        return response

    return handle


async def test_export_csv_to_path_streams_every_row(
    recorder: Recorder, client: TabnineClient, tmp_path: Path
) -> None:
    """The export asks format=csv with the filters and writes the whole body to the path."""
    recorder.answer("/api/v1/organization/audit-logs", _csv_answer())
    target = tmp_path / "audit.csv"
    written = await client.export_audit_logs_csv(target, "2026-01-01", event_type="role.assigned")
    seen = recorder.seen[-1]
    assert seen.query == {
        "from": "2026-01-01T00:00:00Z",
        "eventType": "role.assigned",
        "sort": "desc",
        "format": "csv",
    }
    assert seen.headers["Accept"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["id"] for r in rows] == [f"ev-{n}" for n in range(CSV_ROWS)]
    assert written == target.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.csv"]


async def test_export_csv_to_file_object(recorder: Recorder, client: TabnineClient) -> None:
    """A binary file object receives the body in several chunks, as they arrive."""
    recorder.answer("/api/v1/organization/audit-logs", _csv_answer())

    class Chunks(io.BytesIO):
        writes = 0

        def write(self, data: Any) -> int:
            Chunks.writes += 1
            return super().write(data)

    out = Chunks()
    written = await client.export_audit_logs_csv(out)
    assert written == len(out.getvalue()) and Chunks.writes > 1
    assert out.getvalue().count(b"\r\n") == CSV_ROWS + 1


async def test_export_csv_broken_midway_keeps_the_old_file(
    recorder: Recorder, client: TabnineClient, tmp_path: Path
) -> None:
    """A body cut short raises TransportError, leaves no temp file and the old file untouched."""
    recorder.answer("/api/v1/organization/audit-logs", _csv_answer(cut=True))
    target = tmp_path / "audit.csv"
    target.write_bytes(b"previous export\n")
    with pytest.raises(TransportError):
        await client.export_audit_logs_csv(target)
    assert target.read_bytes() == b"previous export\n"
    assert os.listdir(tmp_path) == ["audit.csv"]
    # Bytes had reached the file: retrying would have duplicated them, so it was not retried.
    assert recorder.paths().count("/api/v1/organization/audit-logs") == 1


async def test_export_csv_retries_before_the_body_starts(
    recorder: Recorder, client: TabnineClient, tmp_path: Path
) -> None:
    """A 503 before any byte is retried; the second answer is written."""
    recorder.json("/api/v1/organization/audit-logs", {"error": "BUSY", "message": "later"}, 503)
    recorder.answer("/api/v1/organization/audit-logs", _csv_answer(rows=3))
    target = tmp_path / "audit.csv"
    await client.export_audit_logs_csv(target)
    assert target.read_bytes().count(b"\n") == 4
    assert client.stats.retries == 1


async def test_export_csv_error_status_is_typed(
    recorder: Recorder, client: TabnineClient, tmp_path: Path
) -> None:
    """A final 500 raises ServerError with the request id, and no file is created."""
    body = {"error": "INTERNAL", "message": "boom", "requestId": "r-9"}
    for _ in range(4):
        recorder.json("/api/v1/organization/audit-logs", body, 500)
    with pytest.raises(ServerError) as info:
        await client.export_audit_logs_csv(tmp_path / "audit.csv")
    assert info.value.request_id == "r-9"
    assert os.listdir(tmp_path) == []


async def test_export_csv_bad_destination(client: TabnineClient, tmp_path: Path) -> None:
    """A folder, a missing folder or a non-file destination is refused before any request."""
    for bad in (tmp_path, tmp_path / "missing" / "a.csv", 42):
        with pytest.raises(InvalidParameterError):
            await client.export_audit_logs_csv(bad)  # type: ignore[arg-type]


# -- invitations ---------------------------------------------------------------------------------


def _invitation(n: int) -> dict[str, Any]:
    return {
        "id": f"inv-{n}",
        "email": f"new{n}@example.com",
        "teamId": "t-1",
        "role": "Member",
        "createdAt": "2026-01-05T10:00:00Z",
        "expiresAt": None,
    }


async def test_iter_invitations_follows_integer_next(
    recorder: Recorder, client: TabnineClient
) -> None:
    """iter_invitations sends offset, limit and teamId and follows meta.next as an offset."""
    page_one = {
        "data": [_invitation(0), _invitation(1)],
        "meta": {"count": 2, "total": 3, "next": 2},
    }
    page_two = {"data": [_invitation(2)], "meta": {"count": 1, "total": 3, "next": None}}
    recorder.json("/api/invitation/v1", page_one)
    recorder.json("/api/invitation/v1", page_two)
    invitations = [i async for i in client.iter_invitations(team_id="t-1")]
    assert [s.query for s in recorder.seen] == [
        {"offset": "0", "limit": "100", "teamId": "t-1"},
        {"offset": "2", "limit": "100", "teamId": "t-1"},
    ]
    assert invitations[0] == Invitation(
        "inv-0", "new0@example.com", "t-1", "Member", datetime(2026, 1, 5, 10, tzinfo=UTC)
    )
    assert len(invitations) == 3


async def test_iter_invitations_without_team(recorder: Recorder, client: TabnineClient) -> None:
    """Without team_id only offset and limit are sent; a repeated next raises PaginationError."""
    looping = {"data": [_invitation(0)], "meta": {"count": 1, "total": 9, "next": 0}}
    recorder.always("/api/invitation/v1", looping)
    with pytest.raises(PaginationError):
        _ = [i async for i in client.iter_invitations()]
    assert recorder.seen[0].query == {"offset": "0", "limit": "100"}


# -- user management and teams -------------------------------------------------------------------

TEAM_62 = {
    "id": "t-1",
    "name": "QA",
    "organizationId": ORG_ID,
    "syncedGroupId": None,
    "usersCount": 4,
    "isDefaultTeam": False,
    "seatCap": 10,
    "pendingInvitationsCount": 2,
}


async def test_get_managed_user(recorder: Recorder, client: TabnineClient) -> None:
    """get_managed_user reads /api/user/v1/{userId}: role, active, allowed and primary team."""
    body = {
        "user": {
            "user_id": "u/1",
            "email": "ada@example.com",
            "role": "Admin",
            "active": True,
            "allowedTeams": [TEAM_62],
        },
        "teams": {"team_id": "t-1", "team_name": "QA"},
    }
    recorder.json("/api/user/v1/u%2F1", body)
    user = await client.get_managed_user("u/1")
    assert _only(recorder, "/api/user/v1/u%2F1") == {}
    assert (user.user_id, user.role, user.active) == ("u/1", "Admin", True)
    assert user.team == UserTeam("t-1", "QA")
    assert user.allowed_teams == (Team("t-1", "QA", 4, False, ORG_ID, None, 10, 2),)


async def test_get_user_by_email(recorder: Recorder, client: TabnineClient) -> None:
    """get_user_by_email percent-encodes the address into the path and parses the lookup."""
    body = {"id": "u-1", "email": "ada+x@example.com", "role": "Member", "verified": True}
    recorder.json("/api/user/v1/by-email/ada%2Bx%40example.com", body)
    user = await client.get_user_by_email("ada+x@example.com")
    assert _only(recorder, "/api/user/v1/by-email/ada%2Bx%40example.com") == {}
    assert (user.id, user.verified, user.team, user.allowed_teams) == ("u-1", True, None, None)


async def test_get_user_by_email_not_found(recorder: Recorder, client: TabnineClient) -> None:
    """An unknown address is a NotFoundError carrying the 6.2 code and request id."""
    body = {"error": "NOT_FOUND", "message": "User not found", "status": 404, "requestId": "r1"}
    recorder.json("/api/user/v1/by-email/nobody%40example.com", body, 404)
    with pytest.raises(NotFoundError) as info:
        await client.get_user_by_email("nobody@example.com")
    assert (info.value.code, info.value.request_id, info.value.message) == (
        "NOT_FOUND",
        "r1",
        "User not found",
    )


async def test_get_allowed_teams(recorder: Recorder, client: TabnineClient) -> None:
    """get_allowed_teams reads a bare array of teams."""
    recorder.json("/api/user/v1/u-1/allowed-teams", [TEAM_62, {"id": "t-2", "name": "Ops"}])
    teams = await client.get_allowed_teams("u-1")
    assert _only(recorder, "/api/user/v1/u-1/allowed-teams") == {}
    assert [t.id for t in teams] == ["t-1", "t-2"] and teams[1].seat_cap is None


async def test_get_team_details(recorder: Recorder, client: TabnineClient) -> None:
    """get_team_details reads /api/team/v1/{teamid} with the 6.2 team fields."""
    recorder.json("/api/team/v1/t-1", TEAM_62)
    team = await client.get_team_details("t-1")
    assert _only(recorder, "/api/team/v1/t-1") == {}
    assert team == Team("t-1", "QA", 4, False, ORG_ID, None, 10, 2)


# -- licence tolerance ---------------------------------------------------------------------------


@pytest.mark.parametrize("huge", [2**63 - 1, -(2**63), 10**15])
async def test_license_with_timestamps_no_datetime_holds(
    recorder: Recorder, client: TabnineClient, huge: int
) -> None:
    """An int64 exp/iat beyond datetime's range is kept raw, its datetime None, no DecodeError."""
    recorder.json("/api/v1/license", {"license": {"exp": huge, "iat": 1735806729, "seats": 3}})
    lic = await client.get_license()
    assert (lic.expires_at_unix, lic.expires_at) == (huge, None)
    assert lic.issued_at == datetime.fromtimestamp(1735806729, tz=UTC)


# -- v1 deprecation ------------------------------------------------------------------------------


async def test_v1_usage_warns_once_per_process(
    recorder: Recorder, client: TabnineClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each v1 usage method warns once per process, naming its v2 replacement."""
    monkeypatch.setattr(client_module, "_LEGACY_WARNED", set())
    body = {
        "organizationId": ORG_ID,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "usage": {"granularity": "all", "data": []},
    }
    recorder.always("/api/v1/organization/usage", body)
    recorder.always("/api/v1/user/usage", {**body, "userId": "u"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            await client.get_organization_usage("2026-01-01", "2026-01-02")
        await client.get_user_usage("u", "2026-01-01", "2026-01-02")
    messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert len(messages) == 2
    assert "get_organization_usage_v2()" in messages[0] and "get_user_usage_v2()" in messages[1]
    assert all(w.filename == __file__ for w in caught)


async def test_the_package_own_v1_callers_do_not_warn(
    recorder: Recorder, client: TabnineClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usage walk reads v1 on purpose and does not trigger the warning."""
    from tabnine_usage_async import walk_usage

    monkeypatch.setattr(client_module, "_LEGACY_WARNED", set())
    body = {
        "organizationId": ORG_ID,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "usage": {"granularity": "all", "data": []},
    }
    recorder.always("/api/v1/organization/usage", body)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = [
            r
            async for r in walk_usage(
                client, "2026-01-01", "2026-01-02", "all", None, scopes=["organization"]
            )
        ]
    assert records == [] and recorder.paths().count("/api/v1/organization/usage") == 1
    assert [w for w in caught if w.category is DeprecationWarning] == []
