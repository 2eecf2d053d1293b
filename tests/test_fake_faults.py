"""Fault injection, rate limiting, latency and the stats of the fake server."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import aiohttp
import pytest

from tabnine_usage_async.testing import (
    ALL_FAULT_KINDS,
    FakeTabnine,
    FaultConfig,
    FaultKind,
    Latency,
    ScriptedFault,
    SlowBody,
    serve_fake_tabnine,
)
from tabnine_usage_async.testing.faults import FaultPlanner, decide_random_fault, request_key
from tabnine_usage_async.testing.stats import ServerStats
from tabnine_usage_async.testing.throttle import RateLimiter

ORG = "/api/v1/organization"
TEAM_USERS = "/api/v1/team/{teamId}/users"

# Pure decisions -----------------------------------------------------------------------------------


def test_random_faults_depend_only_on_the_request_and_its_occurrence() -> None:
    """The same key and occurrence always get the same decision; the rate is honoured."""
    config = FaultConfig(rate=0.25, seed=3)
    keys = [request_key("GET", f"/api/v1/team/{n}", [("a", "1")]) for n in range(2000)]
    first = [decide_random_fault(config, key, 0) for key in keys]
    assert first == [decide_random_fault(config, key, 0) for key in keys]
    share = sum(kind is not None for kind in first) / len(keys)
    assert 0.2 < share < 0.3
    assert set(first) - {None} == set(ALL_FAULT_KINDS)
    retried = [decide_random_fault(config, key, 1) for key in keys]
    assert retried != first


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, {None}),
        (FaultConfig(rate=0.0), {None}),
        (FaultConfig(rate=1.0, kinds=("503",)), {"503"}),
        (FaultConfig(rate=1.0, kinds=("reset", "429")), {"reset", "429"}),
    ],
)
def test_random_fault_table(config: FaultConfig | None, expected: set[str | None]) -> None:
    """Rate 0 never faults, rate 1 always does, and only with the configured kinds."""
    seen = {decide_random_fault(config, f"GET /x?n={n}", 0) for n in range(200)}
    assert seen == expected


def test_query_order_does_not_change_the_request_key() -> None:
    """Query parameters are sorted, so their order does not matter."""
    assert request_key("get", "/p", [("b", "2"), ("a", "1")]) == request_key(
        "GET", "/p", [("a", "1"), ("b", "2")]
    )


@pytest.mark.parametrize(
    ("fault", "requests", "expected"),
    [
        (
            ScriptedFault("503", route=TEAM_USERS, nth=3),
            [(TEAM_USERS, "/api/v1/team/a/users")] * 4,
            [None, None, "503", None],
        ),
        (
            ScriptedFault("reset", path="/api/v1/team/b/users", nth=1, times=2),
            [(TEAM_USERS, "/api/v1/team/a/users")] + [(TEAM_USERS, "/api/v1/team/b/users")] * 3,
            [None, "reset", "reset", None],
        ),
        (
            ScriptedFault("429", route=ORG, nth=2),
            [(ORG, ORG), (TEAM_USERS, "/api/v1/team/a/users"), (ORG, ORG)],
            [None, None, "429"],
        ),
    ],
)
def test_scripted_faults_hit_the_nth_matching_request(
    fault: ScriptedFault, requests: list[tuple[str, str]], expected: list[str | None]
) -> None:
    """Scripted faults count only matching requests, by route template or exact path."""
    planner = FaultPlanner(None, [fault])
    assert [planner.decide("GET", route, path, []) for route, path in requests] == expected


@pytest.mark.parametrize(
    "make",
    [
        lambda: FaultConfig(rate=1.5),
        lambda: FaultConfig(rate=0.1, kinds=()),
        lambda: FaultConfig(rate=0.1, kinds=("418",)),  # type: ignore[arg-type]
        lambda: ScriptedFault("503", nth=0),
        lambda: Latency(-1),
    ],
)
def test_bad_configurations_are_refused(make: Any) -> None:
    """Out-of-range rates, unknown kinds and non-positive counts raise ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - several different messages
        make()


def test_latency_draws_are_deterministic_and_bounded() -> None:
    """Uniform draws stay within mean ± jitter; lognormal draws average near the mean."""
    uniform = Latency(50, jitter_ms=10, distribution="uniform", seed=1)
    draws = [uniform.delay_seconds(f"k{n}", 0) for n in range(500)]
    assert draws == [uniform.delay_seconds(f"k{n}", 0) for n in range(500)]
    assert all(0.04 <= d <= 0.06 for d in draws)
    lognormal = Latency(50, jitter_ms=20, distribution="lognormal", seed=1)
    mean = sum(lognormal.delay_seconds(f"k{n}", 0) for n in range(4000)) / 4000
    assert mean == pytest.approx(0.05, rel=0.1)


def test_rate_limiter_allows_a_window_then_asks_to_wait() -> None:
    """Three per second: the fourth request within a second waits whole seconds."""
    limiter = RateLimiter(3)
    assert [limiter.retry_after(t) for t in (0.0, 0.1, 0.2)] == [None, None, None]
    assert limiter.retry_after(0.3) == 1
    assert limiter.retry_after(1.05) is None


def test_sliding_window_maximum() -> None:
    """max_in_window finds the densest one-second window, across bucket borders."""
    stats = ServerStats()
    for t in (0.1, 0.9, 1.0, 1.2, 1.8, 3.0):
        stats.request_started("/r", t)
    assert stats.max_in_window(1.0) == 4
    assert stats.per_second() == {0: 2, 1: 3, 3: 1}


# Faults seen from the client ---------------------------------------------------------------------


async def one(fake: FakeTabnine, session: aiohttp.ClientSession, path: str = ORG) -> Any:
    async with session.get(fake.url(path)) as response:
        return response.status, response.headers, await response.text()


@pytest.mark.parametrize("kind", ["500", "502", "503"])
async def test_server_error_faults_send_the_envelope(kind: FaultKind) -> None:
    """5xx faults answer that status with the JSON error envelope."""
    async with (
        serve_fake_tabnine(users=5, scripted=[ScriptedFault(kind, route=ORG)]) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
        session.get(fake.url(ORG)) as response,
    ):
        body = await response.json()
        assert response.status == int(kind)
        assert body["error"]["status"] == int(kind)
        assert fake.stats.faults[0].kind == kind


async def test_429_fault_carries_retry_after() -> None:
    """A 429 fault has a whole-second Retry-After and the envelope, then service resumes."""
    faults = FaultConfig(retry_after=2)
    async with (
        serve_fake_tabnine(users=5, faults=faults, scripted=[ScriptedFault("429")]) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        status, headers, text = await one(fake, session)
        assert (status, headers["Retry-After"]) == (429, "2")
        assert '"status":429' in text
        assert (await one(fake, session))[0] == 200
        assert fake.stats.rate_limited == 1


async def test_proxy_html_fault_is_not_json() -> None:
    """A proxy fault answers 502 with an HTML page."""
    async with (
        serve_fake_tabnine(users=5, scripted=[ScriptedFault("proxy_html")]) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
        session.get(fake.url(ORG)) as response,
    ):
        assert response.status == 502
        assert response.content_type == "text/html"
        with pytest.raises(aiohttp.ContentTypeError):
            await response.json()


async def test_reset_fault_drops_the_connection() -> None:
    """A reset closes the connection before any response byte (twice, as aiohttp retries once)."""
    async with (
        serve_fake_tabnine(users=5, scripted=[ScriptedFault("reset", times=2)]) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        with pytest.raises(aiohttp.ClientConnectionError):
            await one(fake, session)
        assert [f.kind for f in fake.stats.faults] == ["reset", "reset"]
        assert fake.stats.log[0].status == 0


async def test_truncated_fault_breaks_the_body() -> None:
    """A truncated answer promises more bytes than it sends, so reading the body fails."""
    async with (
        serve_fake_tabnine(users=5, scripted=[ScriptedFault("truncated")]) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        with pytest.raises(aiohttp.ClientPayloadError):
            await one(fake, session)
        assert (await one(fake, session))[0] == 200


async def test_timeout_fault_outlasts_the_client_timeout() -> None:
    """A timeout fault stalls longer than the client waits, so the client's timeout fires."""
    faults = FaultConfig(timeout_delay=0.3)
    async with (
        serve_fake_tabnine(users=5, faults=faults, scripted=[ScriptedFault("timeout")]) as fake,
        aiohttp.ClientSession(
            headers=fake.headers, timeout=aiohttp.ClientTimeout(total=0.1)
        ) as session,
    ):
        with pytest.raises(asyncio.TimeoutError):
            await one(fake, session)


async def test_leaving_the_context_wakes_stalled_handlers() -> None:
    """Exiting serve_fake_tabnine ends a 30-second timeout fault promptly."""
    faults = FaultConfig(timeout_delay=30)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async with serve_fake_tabnine(
            users=5, faults=faults, scripted=[ScriptedFault("timeout")]
        ) as fake:
            pending = asyncio.ensure_future(session.get(fake.url(ORG), headers=fake.headers))
            while fake.stats.in_flight == 0:
                await asyncio.sleep(0.01)
        with pytest.raises(aiohttp.ClientError):
            await pending
    assert time.monotonic() - started < 5


async def test_scripted_faults_can_be_added_while_running() -> None:
    """add_scripted_fault counts matching requests from the moment it is added."""
    async with (
        serve_fake_tabnine(users=5, teams=2) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        team = fake.dataset.teams[0].id
        path = f"/api/v1/team/{team}/users?offset=0&limit=5"
        assert (await one(fake, session, path))[0] == 200
        fake.add_scripted_fault(ScriptedFault("503", route=TEAM_USERS, nth=2))
        statuses = [(await one(fake, session, path))[0] for _ in range(3)]
        assert statuses == [200, 503, 200]


async def fault_pattern(order: list[int]) -> Counter[tuple[str, str]]:
    faults = FaultConfig(rate=0.4, kinds=("500", "503", "proxy_html"), seed=9)
    async with (
        serve_fake_tabnine(users=20, teams=3, seed=2, faults=faults) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        users = fake.dataset.users
        paths = [f"/api/v1/user/{users[n % len(users)].id}" for n in order]
        await asyncio.gather(*(one(fake, session, path) for path in paths))
        return Counter((f.path, f.kind) for f in fake.stats.faults)


async def test_random_faults_do_not_depend_on_arrival_order() -> None:
    """The same requests sent concurrently in another order meet the same faults."""
    forward = list(range(40))
    pattern = await fault_pattern(forward)
    assert pattern
    assert pattern == await fault_pattern(forward[::-1])


# Rate limit, latency, slow bodies, stats ---------------------------------------------------------


async def test_rate_limit_answers_429_with_retry_after() -> None:
    """Over the per-second limit the server answers 429 with Retry-After and the envelope."""
    async with (
        serve_fake_tabnine(users=5, rate_limit=5) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        results = await asyncio.gather(*(one(fake, session) for _ in range(12)))
        statuses = Counter(status for status, _, _ in results)
        assert statuses == {200: 5, 429: 7}
        retry = {headers["Retry-After"] for status, headers, _ in results if status == 429}
        assert retry == {"1"}
        assert fake.stats.rate_limited == 7


async def test_latency_and_in_flight_counters() -> None:
    """With added latency, concurrent requests overlap and max_in_flight sees them all."""
    async with (
        serve_fake_tabnine(users=5, latency=100) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        started = time.monotonic()
        await asyncio.gather(*(one(fake, session) for _ in range(5)))
        assert time.monotonic() - started >= 0.09
        assert fake.stats.max_in_flight == 5
        assert fake.stats.in_flight == 0


async def test_slow_bodies_arrive_complete() -> None:
    """A body written in small chunks with pauses is the same body."""
    async with (
        serve_fake_tabnine(users=5, seed=3) as plain,
        aiohttp.ClientSession(headers=plain.headers) as session,
    ):
        expected = (await one(plain, session))[2]
    slow = SlowBody(chunk_bytes=64, pause_ms=5)
    async with (
        serve_fake_tabnine(users=5, seed=3, slow_body=slow) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        started = time.monotonic()
        assert (await one(fake, session))[2] == expected
        assert time.monotonic() - started >= 0.005 * (len(expected) // 64)


async def test_stats_count_requests_per_route_and_serve_them_as_json() -> None:
    """Per-route counts, windows and faults are kept and served at /__fake__/stats."""
    async with (
        serve_fake_tabnine(users=8, teams=2, scripted=[ScriptedFault("503", route=ORG)]) as fake,
        aiohttp.ClientSession(headers=fake.headers) as session,
    ):
        team = fake.dataset.teams[0].id
        for _ in range(3):
            await one(fake, session)
        await one(fake, session, f"/api/v1/team/{team}")
        await one(fake, session, f"/api/v1/team/{fake.dataset.teams[1].id}")
        stats = fake.stats
        assert stats.requests_by_route == {ORG: 3, "/api/v1/team/{teamId}": 2}
        assert stats.max_in_window(1.0) == 5
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(fake.url("/__fake__/stats")) as response:
                served = await response.json()
            assert served["requests_by_route"] == {ORG: 3, "/api/v1/team/{teamId}": 2}
            assert served["max_in_one_second"] == 5
            assert [f["kind"] for f in served["faults"]] == ["503"]
            assert len(served["log"]) == 5
            async with anonymous.post(fake.url("/__fake__/reset-stats")) as response:
                assert response.status == 200
        assert fake.stats.total_requests == 0
        assert fake.stats.faults == []
