"""Bad input of every kind, from the caller or from the server, gets one clear, typed error.

The tables below drive the library; the CLI's half of the contract (exit code 2, one line on
stderr, no traceback) is tested with the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from aiohttp import web

from tabnine_usage_async import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    InvalidParameterError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    TabnineClient,
    UnexpectedRedirectError,
)
from tabnine_usage_async.orchestrator import walk_usage

from .conftest import TOKEN, Recorder

# -- arguments -----------------------------------------------------------------------------------

ARGUMENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("end equals start", {"start": "2026-01-01", "end": "2026-01-01"}, "must be after start"),
    ("end before start", {"start": "2026-02-01", "end": "2026-01-01"}, "must be after start"),
    ("naive start", {"start": datetime(2026, 1, 1)}, "naive datetime"),
    ("naive end", {"end": datetime(2026, 2, 1)}, "naive datetime"),
    ("malformed date", {"start": "2026/01/01"}, "is not a date"),
    ("impossible date", {"start": "2026-02-30"}, "is not a date"),
    ("date-time without zone", {"start": "2026-01-01T00:00:00"}, "with a zone"),
    ("date as a number", {"start": 20260101}, "must be a date"),
    ("unknown granularity", {"granularity": "hourly"}, "'all', 'daily', 'weekly', 'monthly'"),
    ("short granularity", {"granularity": "day"}, "unknown granularity"),
    ("unknown window", {"window": "fortnight"}, "unknown window"),
    ("negative window", {"window": -1}, "unknown window"),
    ("unknown scope", {"scopes": "org"}, "unknown scope"),
    ("unknown on_error", {"on_error": "ignore"}, "on_error must be"),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "message"), ARGUMENT_CASES, ids=[c[0] for c in ARGUMENT_CASES]
)
async def test_walk_arguments(
    recorder: Recorder, client: TabnineClient, case: str, kwargs: dict[str, Any], message: str
) -> None:
    """Each bad walk argument raises InvalidParameterError saying what to fix, before a request."""
    options: dict[str, Any] = {"start": "2026-01-01", "end": "2026-02-01"}
    options.update(kwargs)
    with pytest.raises(InvalidParameterError, match=message):
        walk_usage(client, **options)
    assert recorder.seen == []


CONFIG_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("zero concurrency", {"max_concurrency": 0}, "max_concurrency"),
    ("negative concurrency", {"max_concurrency": -4}, "max_concurrency"),
    ("zero page size", {"page_size": 0}, "page_size"),
    ("negative page size", {"page_size": -10}, "page_size"),
    ("zero rate limit", {"rate_limit": 0}, "rate_limit"),
    ("negative rate limit", {"rate_limit": -5}, "rate_limit"),
    ("zero timeout", {"timeout": 0}, "timeout"),
    ("negative timeout", {"timeout": -1.0}, "timeout"),
    ("negative retries", {"max_retries": -1}, "max_retries"),
    ("empty token", {"token": ""}, "empty"),
    ("whitespace token", {"token": "   "}, "empty"),
    ("token with newline", {"token": "abc\ndef"}, "control character"),
    ("base URL without scheme", {"base_url": "console.tabnine.com"}, "scheme and a host"),
    ("base URL with path", {"base_url": "https://console.tabnine.com/api/v1"}, "no path"),
    ("base URL with query", {"base_url": "https://console.tabnine.com/?org=1"}, "no path, query"),
    ("plain http to a remote host", {"base_url": "http://tabnine.example.com"}, "plain http"),
]


@pytest.mark.parametrize(
    ("case", "kwargs", "message"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES]
)
def test_configuration(case: str, kwargs: dict[str, Any], message: str) -> None:
    """Each bad client setting raises ConfigurationError saying what to fix."""
    options: dict[str, Any] = {"token": "secret-token-value"}
    options.update(kwargs)
    with pytest.raises(ConfigurationError, match=message) as info:
        TabnineClient(**options)
    assert "secret-token-value" not in str(info.value)


def test_missing_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token at all names the environment variable to set."""
    monkeypatch.delenv("TABNINE_API_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="TABNINE_API_TOKEN"):
        TabnineClient()


ID_CASES = [
    ("slash", "a/b", "a%2Fb"),
    ("dot-dot", "..", "%2E%2E"),
    ("traversal", "../../organization", "..%2F..%2Forganization"),
    ("question mark", "a?limit=1", "a%3Flimit%3D1"),
    ("hash", "a#frag", "a%23frag"),
    ("percent", "50%", "50%25"),
    ("encoded slash", "a%2Fb", "a%252Fb"),
    ("non-ASCII", "équipe", "%C3%A9quipe"),
]


@pytest.mark.parametrize(("case", "raw", "encoded"), ID_CASES, ids=[c[0] for c in ID_CASES])
async def test_ids_never_change_the_path(
    recorder: Recorder, client: TabnineClient, case: str, raw: str, encoded: str
) -> None:
    """An id is always exactly one encoded path segment of the intended endpoint."""
    recorder.json(f"/api/v1/team/{encoded}", {"id": raw, "name": "n"})
    recorder.json(f"/api/v1/user/{encoded}", {"user": {"user_id": raw}})
    recorder.json(f"/api/v1/team/{encoded}/users", {"data": [], "meta": {}})
    assert (await client.get_team(raw)).id == raw
    assert (await client.get_user(raw)).user_id == raw
    assert [u async for u in client.iter_team_users(raw)] == []
    assert [s.raw_path for s in recorder.seen] == [
        f"/api/v1/team/{encoded}",
        f"/api/v1/user/{encoded}",
        f"/api/v1/team/{encoded}/users",
    ]


async def test_query_ids_arrive_verbatim(recorder: Recorder, client: TabnineClient) -> None:
    """Ids sent as query parameters reach the server unchanged, however odd."""
    odd = "a&teamId=evil#?/ü%"
    recorder.json(
        "/api/v1/team/account-utilizations", {"registered": 1, "deactivated": 0, "invited": 0}
    )
    await client.get_team_utilization(odd)
    assert recorder.seen[0].query == {"teamId": odd}


# -- server answers ------------------------------------------------------------------------------

PATH = "/api/v1/team/t-1"


def _raw(status: int, body: bytes, content_type: str = "application/json", **headers: str) -> Any:
    return lambda _r: web.Response(
        status=status, body=body, content_type=content_type, headers=headers
    )


ANSWER_CASES: list[tuple[str, Any, type[Exception], str]] = [
    (
        "HTML instead of JSON",
        _raw(200, b"<html><body>Login</body></html>", "text/html"),
        DecodeError,
        "not JSON",
    ),
    ("empty body", _raw(200, b""), DecodeError, "empty"),
    ("invalid JSON", _raw(200, b'{"id": "t-1", "name": '), DecodeError, "not JSON"),
    ("JSON of the wrong shape", _raw(200, b'["t-1"]'), DecodeError, "expected an object"),
    ("missing required field", _raw(200, b'{"id": "t-1"}'), DecodeError, "required field missing"),
    ("wrong type", _raw(200, b'{"id": 7, "name": "x"}'), DecodeError, "expected a string"),
    (
        "401 error envelope",
        _raw(401, b'{"error": {"message": "Invalid token", "errors": [], "status": 401}}'),
        AuthenticationError,
        "Invalid token",
    ),
    (
        "401 message envelope",
        _raw(401, b'{"message": "Invalid organization", "status": 401}'),
        AuthenticationError,
        "Invalid organization",
    ),
    (
        "403 error envelope",
        _raw(403, b'{"error": {"message": "Admins only", "status": 403}}'),
        PermissionDeniedError,
        "Admins only",
    ),
    (
        "403 message envelope",
        _raw(403, b'{"message": "No access", "status": 403, "details": {}}'),
        PermissionDeniedError,
        "No access",
    ),
    (
        "404 error envelope",
        _raw(404, b'{"error": {"message": "Team not found", "status": 404}}'),
        NotFoundError,
        "Team not found",
    ),
    (
        "404 message envelope",
        _raw(404, b'{"message": "Not Found", "status": 404}'),
        NotFoundError,
        "Not Found",
    ),
    (
        "404 from a proxy",
        _raw(404, b"<h1>404 Not Found</h1>", "text/html"),
        NotFoundError,
        "404 Not Found",
    ),
    ("418 unknown status", _raw(418, b"teapot", "text/plain"), APIStatusError, "teapot"),
    (
        "redirect to another host",
        _raw(302, b"", Location="https://elsewhere.example/api"),
        UnexpectedRedirectError,
        "elsewhere.example",
    ),
]


@pytest.mark.parametrize(
    ("case", "answer", "cls", "message"), ANSWER_CASES, ids=[c[0] for c in ANSWER_CASES]
)
async def test_server_answers(
    recorder: Recorder,
    client: TabnineClient,
    case: str,
    answer: Any,
    cls: type[Exception],
    message: str,
) -> None:
    """Each bad answer becomes its typed error with the server's message, never the token."""
    recorder.answer(PATH, answer)
    with pytest.raises(cls, match=message) as info:
        await client.get_team("t-1")
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


NUMBER_CASES = [
    ("negative count", -1, "non-negative"),
    ("huge count", 2**70, r"2\*\*63"),
    ("fractional count", 2.5, "whole number"),
    ("boolean count", True, "got a boolean"),
    ("string count", "12", "got a string"),
]


@pytest.mark.parametrize(
    ("case", "value", "message"), NUMBER_CASES, ids=[c[0] for c in NUMBER_CASES]
)
async def test_bad_numbers(
    recorder: Recorder, client: TabnineClient, case: str, value: Any, message: str
) -> None:
    """Negative, huge or mistyped numbers are decode errors naming the field."""
    recorder.json(
        "/api/v1/team/account-utilizations", {"registered": value, "deactivated": 0, "invited": 0}
    )
    with pytest.raises(DecodeError, match=message) as info:
        await client.get_team_utilization("t-1")
    assert info.value.field == "$.registered"


async def test_huge_float_is_refused(recorder: Recorder, client: TabnineClient) -> None:
    """A ratio overflowing to infinity is a decode error, not a silent inf."""
    body = (
        b'{"organizationId":"o","from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z",'
        b'"usage":{"granularity":"all","data":[{"from":"2026-01-01T00:00:00Z",'
        b'"to":"2026-01-02T00:00:00Z","activeUsers":1,"productivityFactor":1e999}]}}'
    )
    recorder.answer("/api/v1/user/usage", _raw(200, body))
    with pytest.raises(DecodeError, match="finite") as info:
        await client.get_user_usage("u", "2026-01-01", "2026-01-02", organization_id="o")
    assert info.value.field == "$.usage.data[0].productivityFactor"


async def test_repeated_next_offset(recorder: Recorder, client: TabnineClient) -> None:
    """A meta.next that repeats an offset raises PaginationError instead of looping."""
    page = {"data": [{"id": "t", "name": "n"}], "meta": {"next": {"offset": 0, "limit": 100}}}
    recorder.always("/api/v1/organization/teams", page)
    with pytest.raises(PaginationError, match="does not move past"):
        _ = [t async for t in client.iter_teams()]
    assert len(recorder.seen) == 1


async def test_page_larger_than_limit(recorder: Recorder) -> None:
    """A page with more items than the limit asked for raises PaginationError."""
    page = {"data": [{"id": str(i), "name": "n"} for i in range(3)], "meta": {}}
    recorder.json("/api/v1/organization/teams", page)
    async with TabnineClient(token=TOKEN, base_url=recorder.base_url, page_size=2) as client:
        with pytest.raises(PaginationError, match="limit was 2"):
            _ = [t async for t in client.iter_teams()]
