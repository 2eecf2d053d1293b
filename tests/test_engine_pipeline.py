"""How the engine keeps requests in flight: answers read after the next request, listings early.

Each test runs a real walk against the fake server behind a relay on 127.0.0.1 that records when
every request arrives and ends, or answers one request itself.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tabnine_usage_async import DecodeError, TabnineClient, walk_usage
from tabnine_usage_async.testing import FakeTabnine, serve_fake_tabnine

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 3, 1, tzinfo=UTC)
TOKEN = "engine-pipeline-token"


@attrs.define
class Relay:
    """What the relay saw: ``(arrived, ended, path)`` per request, and the in-flight peaks."""

    base_url: str = ""
    seen: list[tuple[float, float, str]] = attrs.field(factory=list)
    in_flight: dict[str, int] = attrs.field(factory=lambda: {"usage": 0, "listing": 0})
    #: The most usage requests in flight while a listing request was in flight too.
    usage_beside_listing: int = 0


def kind(path: str) -> str:
    return "usage" if path.endswith("usage") else "listing"


@contextlib.asynccontextmanager
async def relay(
    fake: FakeTabnine, answer: Callable[[web.Request], web.Response | None] = lambda _r: None
) -> AsyncIterator[Relay]:
    """Relay every request to ``fake`` (or answer it with ``answer``), recording its times."""
    seen = Relay()

    async def forward(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        which = kind(request.path)
        seen.in_flight[which] += 1
        if seen.in_flight["listing"]:
            seen.usage_beside_listing = max(seen.usage_beside_listing, seen.in_flight["usage"])
        try:
            own = answer(request)
            if own is not None:
                return own
            headers = {"Authorization": request.headers["Authorization"]}
            async with session.get(fake.base_url + request.path_qs, headers=headers) as resp:
                body = await resp.read()
            return web.Response(status=resp.status, body=body, content_type="application/json")
        finally:
            seen.in_flight[which] -= 1
            seen.seen.append((arrived, time.monotonic(), request.path))

    app = web.Application()
    app.router.add_get("/{tail:.*}", forward)
    async with ClientSession() as session, TestServer(app, host="127.0.0.1") as server:
        seen.base_url = f"http://127.0.0.1:{server.port}"
        yield seen


def client_for(base_url: str, **options: Any) -> TabnineClient:
    return TabnineClient(token=TOKEN, base_url=base_url, max_retries=0, timeout=10.0, **options)


async def test_answer_that_does_not_fit_fails_only_its_unit() -> None:
    """An answer read after the next request still fails its own unit with the DecodeError."""
    async with serve_fake_tabnine(teams=2, users=8, seed=5, token=TOKEN) as fake:
        victim = fake.dataset.users[3].id

        def broken(request: web.Request) -> web.Response | None:
            if request.path == "/api/v1/user/usage" and request.query["userId"] == victim:
                return web.json_response({"usage": 5})
            return None

        async with relay(fake) as clean, client_for(clean.base_url) as client:
            expected = [r async for r in walk_usage(client, START, END, window="month")]
        async with relay(fake, broken) as front, client_for(front.base_url) as client:
            walk = walk_usage(client, START, END, window="month", on_error="collect")
            async with walk:
                got = [r async for r in walk]
            async with walk_usage(client, START, END, window="month") as raising:
                with pytest.raises(DecodeError) as info:
                    [r async for r in raising]
    # Both monthly windows of that one user, and nothing else.
    assert sorted(f.key.split("|")[:2] for f in walk.failures) == [["user", victim]] * 2
    assert all(f.cause.startswith("DecodeError: ") for f in walk.failures)
    assert info.value.endpoint == "/api/v1/user/usage"
    kept = [r for r in expected if r.entity_id != victim]
    assert sorted(got, key=repr) == sorted(kept, key=repr)


async def test_teams_are_listed_while_the_organization_is_looked_up() -> None:
    """The teams listing goes out before the organization lookup has come back."""
    async with serve_fake_tabnine(teams=2, users=6, seed=5, token=TOKEN, latency=150) as fake:
        async with relay(fake) as front, client_for(front.base_url) as client:
            async with walk_usage(client, START, END, window="month") as walk:
                [r async for r in walk]
    first = {path: (arrived, ended) for arrived, ended, path in reversed(front.seen)}
    lookup = first["/api/v1/organization"]
    teams = first["/api/v1/organization/teams"]
    assert teams[0] < lookup[1]


async def test_connections_kept_for_listings_come_back_as_each_ends() -> None:
    """Once only the long team listing still pages, usage fetches use every other connection."""
    workers = 4
    # One team of many pages beside the two short listings of users in no team: before the
    # change the usage fetches kept two connections free until the last page.
    async with serve_fake_tabnine(teams=1, users=40, seed=5, token=TOKEN, latency=20) as fake:
        async with relay(fake) as front:
            async with client_for(front.base_url, max_concurrency=workers, page_size=2) as client:
                async with walk_usage(client, START, END, window="month") as walk:
                    [r async for r in walk]
                assert client.max_in_flight <= workers
    team_pages = [s for s in front.seen if s[2].startswith("/api/v1/team/")]
    assert len(team_pages) >= 10
    assert front.usage_beside_listing == workers - 1


async def test_known_organization_sends_its_jobs_before_the_teams_are_listed() -> None:
    """With the organization id given, its usage goes out before the teams listing returns."""
    async with serve_fake_tabnine(teams=2, users=6, seed=5, token=TOKEN, latency=150) as fake:
        async with relay(fake) as front:
            given = fake.organization_id
            async with client_for(front.base_url, organization_id=given) as client:
                assert client.organization_id == given
                async with walk_usage(client, START, END, window="month") as walk:
                    [r async for r in walk]
    assert "/api/v1/organization" not in {path for _a, _e, path in front.seen}
    teams = next(s for s in front.seen if s[2] == "/api/v1/organization/teams")
    first_usage = min(s[0] for s in front.seen if s[2] == "/api/v1/organization/usage")
    assert first_usage < teams[1]


async def test_organization_id_is_known_after_the_first_lookup() -> None:
    """``organization_id`` is None until looked up, then the organization's id."""
    async with serve_fake_tabnine(teams=1, users=2, seed=5, token=TOKEN) as fake:
        async with client_for(fake.base_url) as client:
            assert client.organization_id is None
            await client.resolve_organization_id()
            assert client.organization_id == fake.organization_id
