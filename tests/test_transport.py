"""Retries, the shared 429 pause, timeouts, cancellation and lifecycle, against a real server."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest
from aiohttp import web

from tabnine_usage_async import (
    AuthenticationError,
    ClientClosedError,
    ConflictError,
    DecodeError,
    NotFoundError,
    RateLimitError,
    RequestTimeoutError,
    RetryPolicy,
    ServerError,
    TabnineClient,
    TransportError,
    UnexpectedRedirectError,
)

from .conftest import FAST_RETRIES, TOKEN, Recorder

TEAM = {"id": "t-1", "name": "QA"}
PATH = "/api/v1/team/t-1"


def _client(recorder: Recorder, **kwargs: object) -> TabnineClient:
    options: dict[str, object] = {"timeout": 2.0, "max_retries": 3, "retry_policy": FAST_RETRIES}
    options.update(kwargs)
    return TabnineClient(token=TOKEN, base_url=recorder.base_url, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_transient_statuses_are_retried(
    recorder: Recorder, client: TabnineClient, status: int
) -> None:
    """A transient status is retried and the call succeeds once the server recovers."""
    recorder.json(PATH, {"error": {"message": "boom"}}, status=status)
    recorder.json(PATH, {"error": {"message": "boom"}}, status=status)
    recorder.json(PATH, TEAM)
    team = await client.get_team("t-1")
    assert team.name == "QA"
    assert recorder.paths().count(PATH) == 3
    assert (client.stats.requests, client.stats.retries) == (3, 2)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, None), (401, AuthenticationError), (404, NotFoundError), (409, ConflictError)],
)
async def test_final_statuses_are_not_retried(
    recorder: Recorder, client: TabnineClient, status: int, cls: type[Exception] | None
) -> None:
    """409 and other 4xx fail at once, with the server's message."""
    recorder.json(
        PATH, {"error": {"message": "Invalid organization", "status": status}}, status=status
    )
    with pytest.raises(cls or Exception) as info:
        await client.get_team("t-1")
    assert recorder.paths().count(PATH) == 1
    assert "Invalid organization" in str(info.value)


async def test_retries_are_bounded(recorder: Recorder, client: TabnineClient) -> None:
    """After max_retries the last error is raised as a typed ServerError carrying the message."""
    recorder.always(PATH, {"message": "still down", "status": 503}, status=503)
    with pytest.raises(ServerError, match="still down") as info:
        await client.get_team("t-1")
    assert info.value.status == 503 and info.value.path == PATH
    assert recorder.paths().count(PATH) == 4
    assert client.stats.failures == 1


async def test_proxy_html_error_is_readable(recorder: Recorder, client: TabnineClient) -> None:
    """A non-JSON proxy page becomes the error message instead of a JSON crash."""
    for _ in range(4):
        recorder.answer(
            PATH,
            lambda _r: web.Response(
                status=502, text="<h1>Bad Gateway</h1>", content_type="text/html"
            ),
        )
    with pytest.raises(ServerError, match="Bad Gateway"):
        await client.get_team("t-1")


async def test_connection_reset_is_retried(recorder: Recorder, client: TabnineClient) -> None:
    """A connection dropped before the response counts as transient and is retried."""

    async def reset(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    # aiohttp itself re-sends once on a dropped keep-alive connection; three resets get past it.
    for _ in range(3):
        recorder.answer(PATH, reset)
    recorder.json(PATH, TEAM)
    assert (await client.get_team("t-1")).id == "t-1"
    assert recorder.paths().count(PATH) == 4
    assert client.stats.retries >= 1


async def test_connection_refused_is_transport_error() -> None:
    """Nobody listening gives a TransportError after retries, not an aiohttp exception."""
    async with TabnineClient(
        token=TOKEN, base_url="http://127.0.0.1:9", max_retries=1, retry_policy=FAST_RETRIES
    ) as client:
        with pytest.raises(TransportError) as info:
            await client.get_team("t-1")
    assert not isinstance(info.value, aiohttp.ClientError)
    assert TOKEN not in str(info.value)


async def test_timeout_is_retried_then_raised(recorder: Recorder) -> None:
    """An attempt slower than timeout raises RequestTimeoutError once retries are spent."""

    async def slow(_r: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1.0)
        return web.json_response(TEAM)

    for _ in range(3):
        recorder.answer(PATH, slow)
    async with _client(recorder, timeout=0.1, max_retries=1) as client:
        with pytest.raises(RequestTimeoutError, match=r"0\.1s"):
            await client.get_team("t-1")
    assert recorder.paths().count(PATH) == 2


async def test_retry_after_is_honoured(recorder: Recorder) -> None:
    """A 429's Retry-After decides the wait before the retry."""
    recorder.json(PATH, {"message": "slow"}, status=429, **{"Retry-After": "0.3"})
    recorder.json(PATH, TEAM)
    policy = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.001, max_retry_after=5)
    async with _client(recorder, retry_policy=policy) as client:
        started = time.monotonic()
        await client.get_team("t-1")
        elapsed = time.monotonic() - started
        assert client.stats.rate_limited == 1
    assert elapsed >= 0.3


async def test_429_pauses_every_request(recorder: Recorder) -> None:
    """After one request sees 429, other requests of the client wait for Retry-After too."""
    recorder.json(PATH, {"message": "slow"}, status=429, **{"Retry-After": "0.4"})
    recorder.always(PATH, TEAM)
    recorder.always("/api/v1/team/t-2", {"id": "t-2", "name": "B"})
    policy = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.001, max_retry_after=5)
    async with _client(recorder, retry_policy=policy) as client:
        await client.get_team("t-1")  # got 429, retried after 0.4 s
        started = time.monotonic()
        # Re-arm: a fresh 429 and, right behind it, an unrelated request.
        recorder.json(PATH, {"message": "slow"}, status=429, **{"Retry-After": "0.4"})
        first = asyncio.create_task(client.get_team("t-1"))
        while client.stats.rate_limited < 2:
            await asyncio.sleep(0.005)
        await client.get_team("t-2")
        other_elapsed = time.monotonic() - started
        await first
    assert other_elapsed >= 0.35


async def test_rate_limit_exhausted_raises_rate_limit_error(
    recorder: Recorder, client: TabnineClient
) -> None:
    """429 on every attempt ends in RateLimitError with retry_after."""
    for _ in range(4):
        recorder.json(PATH, {"message": "slow"}, status=429, **{"Retry-After": "0"})
    with pytest.raises(RateLimitError) as info:
        await client.get_team("t-1")
    assert info.value.retry_after == 0.0 and client.stats.rate_limited == 4


async def test_cancellation_interrupts_retry_sleep(recorder: Recorder) -> None:
    """Cancelling a call while it waits to retry stops it at once."""
    recorder.always(PATH, {"message": "down"}, status=503)
    policy = RetryPolicy(max_retries=5, base_delay=30, max_delay=30)
    async with _client(recorder, retry_policy=policy) as client:
        task = asyncio.create_task(client.get_team("t-1"))
        while client.stats.retries < 1:
            await asyncio.sleep(0.005)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 1.0
        assert client.stats.requests == 1


async def test_cancellation_interrupts_request_in_flight(recorder: Recorder) -> None:
    """Cancelling a call during a slow response frees its slot for the next call."""

    async def slow(_r: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response(TEAM)

    recorder.answer(PATH, slow)
    recorder.json(PATH, TEAM)
    async with _client(recorder, max_concurrency=1) as client:
        task = asyncio.create_task(client.get_team("t-1"))
        while not recorder.seen:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await asyncio.wait_for(client.get_team("t-1"), 2)).id == "t-1"


async def test_redirects_are_not_followed(recorder: Recorder, client: TabnineClient) -> None:
    """A redirect to another host is refused, so the token never travels there."""
    recorder.answer(
        PATH, lambda _r: web.Response(status=302, headers={"Location": "http://127.0.0.2:1/steal"})
    )
    with pytest.raises(UnexpectedRedirectError, match=r"127\.0\.0\.2"):
        await client.get_team("t-1")
    assert recorder.paths().count(PATH) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"<html>oops</html>", "not JSON"),
        (b'{"id": 1, "name": "x"}', "expected a string"),
    ],
)
async def test_bad_success_bodies(
    recorder: Recorder, client: TabnineClient, body: bytes, reason: str
) -> None:
    """A 200 whose body is empty, not JSON, or the wrong shape raises DecodeError, unretried."""
    recorder.answer(
        PATH, lambda _r: web.Response(status=200, body=body, content_type="application/json")
    )
    with pytest.raises(DecodeError, match=reason) as info:
        await client.get_team("t-1")
    assert info.value.endpoint == "/api/v1/team/{teamId}"
    assert recorder.paths().count(PATH) == 1


async def test_concurrency_is_bounded(recorder: Recorder) -> None:
    """No more than max_concurrency requests are ever in flight at once."""
    in_flight = 0
    peak = 0

    async def slow(_r: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return web.json_response(TEAM)

    recorder.defaults[PATH] = slow
    async with _client(recorder, max_concurrency=3) as client:
        await asyncio.gather(*(client.get_team("t-1") for _ in range(12)))
        assert client.max_in_flight == 3
    assert peak == 3


async def test_closed_client_refuses_use(recorder: Recorder) -> None:
    """A client used outside async with, or after closing, raises ClientClosedError."""
    client = _client(recorder)
    with pytest.raises(ClientClosedError):
        await client.get_team("t-1")
    async with client:
        pass
    with pytest.raises(ClientClosedError):
        await client.get_team("t-1")
    with pytest.raises(ClientClosedError):
        async with client:
            pass


async def test_borrowed_session_is_left_open(recorder: Recorder) -> None:
    """A borrowed aiohttp session is used and never closed by the client."""
    recorder.json(PATH, TEAM)
    async with aiohttp.ClientSession() as session:
        async with _client(recorder, session=session) as client:
            await client.get_team("t-1")
        assert not session.closed
    assert recorder.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_debug_log_has_no_token(
    recorder: Recorder, client: TabnineClient, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs show method, path, status, attempt and latency, never the token."""
    recorder.json(PATH, {"message": "x"}, status=503)
    recorder.json(PATH, TEAM)
    with caplog.at_level(logging.DEBUG, logger="tabnine_usage_async"):
        await client.get_team("t-1")
    text = caplog.text
    assert "GET /api/v1/team/t-1 -> 503 attempt=1" in text
    assert "-> 200 attempt=2" in text
    assert TOKEN not in text and TOKEN not in repr(client)
