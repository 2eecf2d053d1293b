"""The whole core SDK against the fake server: every endpoint, paging, 429s, faults, timeouts."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timezone
from typing import Any

import pytest

from tabnine_usage_async import (
    AuthenticationError,
    Granularity,
    NotFoundError,
    RequestTimeoutError,
    RetryPolicy,
    TabnineClient,
)
from tabnine_usage_async.testing import (
    FakeTabnine,
    FaultConfig,
    ScriptedFault,
    serve_fake_tabnine,
)

from .conftest import FAST_RETRIES

UTC = timezone.utc


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    async with serve_fake_tabnine(teams=6, users=70, seed=21, max_page_size=7) as server:
        yield server


def client_for(fake: FakeTabnine, **kwargs: Any) -> TabnineClient:
    options: dict[str, Any] = {"retry_policy": FAST_RETRIES, "timeout": 5.0}
    options.update(kwargs)
    return TabnineClient(token=fake.token, base_url=fake.base_url, **options)


async def test_every_endpoint_matches_the_ground_truth(fake: FakeTabnine) -> None:
    """Each endpoint method returns exactly what the fake's dataset holds."""
    data = fake.dataset
    team = max(data.teams, key=lambda t: len(t.member_ids))
    user = data.users[0]
    async with client_for(fake, page_size=5) as client:
        org = await client.get_organization()
        assert (org.id, org.name, org.plan_type) == (
            data.organization.id,
            data.organization.name,
            data.organization.plan_type,
        )
        teams = [t async for t in client.iter_teams()]
        assert [t.id for t in teams] == [t.id for t in data.teams]
        lic = await client.get_license()
        assert lic.seats == data.license()["seats"]
        assert lic.expires_at == datetime.fromtimestamp(data.license()["exp"], tz=UTC)
        months = await client.get_account_utilizations("2026-01")
        wire = data.account_utilizations((2026, 1))
        assert [(m.year, m.month, m.active) for m in months] == [
            (w["year"], w["month"] + 1, w["active"]) for w in wire
        ]
        admins = await client.get_permissions("Admin")
        assert {a.username for a in admins} == {u.email for u in data.users_with_role("Admin")}
        members = [u async for u in client.iter_team_users(team.id)]
        assert [u.id for u in members] == list(team.member_ids)
        active = [u async for u in client.iter_unassigned_users(active=True)]
        inactive = [u async for u in client.iter_unassigned_users(active=False)]
        assert [u.id for u in active] == data.unassigned_user_ids(True)
        assert [u.id for u in inactive] == data.unassigned_user_ids(False)
        assert all(u.deactivated_at is not None for u in inactive)
        seats = await client.get_team_utilization(team.id)
        assert (seats.registered, seats.deactivated, seats.invited) == tuple(
            data.team_utilization(team.id).values()
        )
        assert (await client.get_team(team.id)).name == team.name
        info = await client.get_user(user.id)
        assert (info.user_id, info.email) == (user.id, user.email)
        assert [t.team_id for t in info.teams] == list(user.team_ids[:1])
        start, end = datetime(2026, 1, 3, tzinfo=UTC), datetime(2026, 2, 17, tzinfo=UTC)
        for report, scope, entity in [
            (await client.get_organization_usage(start, end, "weekly"), "organization", org.id),
            (await client.get_team_usage(team.id, start, end, "weekly"), "team", team.id),
            (await client.get_user_usage(user.id, start, end, "weekly"), "user", user.id),
        ]:
            truth = data.usage_blocks(scope, entity, start, end, "weekly")  # type: ignore[arg-type]
            assert [b.active_users for b in report.blocks] == [b["activeUsers"] for b in truth]
            assert report.blocks[0].start == start and report.blocks[-1].end == end
            assert report.granularity is Granularity.WEEKLY


async def test_pagination_across_many_short_pages() -> None:
    """Paging through many capped, short pages yields every user once, in order."""
    async with serve_fake_tabnine(
        teams=2, users=90, seed=3, max_page_size=4, short_pages=True
    ) as fake:
        team = max(fake.dataset.teams, key=lambda t: len(t.member_ids))
        async with client_for(fake, page_size=50) as client:
            members = [u.id async for u in client.iter_team_users(team.id)]
        pages = fake.stats.requests_by_route["/api/v1/team/{teamId}/users"]
    assert members == list(team.member_ids)
    assert pages > len(members) // 4


async def test_server_rate_limit_is_survived_with_retry_after() -> None:
    """Against a server limiting requests per second, every call succeeds after 429 pauses."""
    async with serve_fake_tabnine(teams=2, users=10, seed=3, rate_limit=20) as fake:
        policy = RetryPolicy(max_retries=8, base_delay=0.05, max_delay=0.5, max_retry_after=2)
        async with client_for(fake, retry_policy=policy, max_concurrency=8) as client:
            results = await asyncio.gather(
                *(client.get_team(fake.dataset.teams[0].id) for _ in range(40))
            )
            assert len(results) == 40
            assert client.stats.rate_limited == fake.stats.rate_limited > 0


async def test_client_learns_the_server_rate_after_a_429(caplog: pytest.LogCaptureFixture) -> None:
    """An unlimited client refused by a rate-limited server throttles itself and loses nothing."""
    caplog.set_level(logging.INFO, logger="tabnine_usage_async")
    # With 20 ms of latency all 32 requests of the opening burst reach the server within one
    # second: it lets 20 through and refuses 12, well past the three 429s the client needs
    # before it trusts them as a limit (a limit close to the concurrency refused only two
    # per burst and left the outcome to scheduling).
    async with serve_fake_tabnine(teams=2, users=10, seed=3, rate_limit=20, latency=20) as fake:
        policy = RetryPolicy(max_retries=8, base_delay=0.05, max_delay=0.5, max_retry_after=1)
        async with client_for(fake, retry_policy=policy, max_concurrency=32) as client:
            team_id = fake.dataset.teams[0].id
            results = await asyncio.gather(*(client.get_team(team_id) for _ in range(60)))
            # A burst of 32 in flight draws several 429s at once: enough to learn from. The
            # learned rate may be forgotten again by the end, so the log is what is checked.
            assert client.stats.rate_limited >= 3
    learned = [
        float(m.group(1)) for m in re.finditer(r"throttling to ([0-9.]+) requests/s", caplog.text)
    ]
    assert learned and learned[0] <= 21  # about 0.95 x 20
    assert len(results) == 60 and client.stats.failures == 0


async def test_adaptive_rate_limit_off_only_pauses(caplog: pytest.LogCaptureFixture) -> None:
    """With ``adaptive_rate_limit=False`` the same 429 burst is ridden out by pauses alone."""
    caplog.set_level(logging.INFO, logger="tabnine_usage_async")
    async with serve_fake_tabnine(teams=2, users=10, seed=3, rate_limit=20, latency=20) as fake:
        policy = RetryPolicy(max_retries=8, base_delay=0.05, max_delay=0.5, max_retry_after=1)
        async with client_for(
            fake, retry_policy=policy, max_concurrency=32, adaptive_rate_limit=False
        ) as client:
            team_id = fake.dataset.teams[0].id
            results = await asyncio.gather(*(client.get_team(team_id) for _ in range(60)))
            assert client.stats.rate_limited >= 3
    assert "throttling to" not in caplog.text
    assert len(results) == 60 and client.stats.failures == 0


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "reset", "truncated", "proxy_html"])
async def test_each_fault_kind_is_retried(kind: str) -> None:
    """Each injected fault kind is retried and the call still returns the true value."""
    fault = ScriptedFault(kind, route="/api/v1/team/{teamId}", times=2)  # type: ignore[arg-type]
    async with serve_fake_tabnine(teams=2, users=5, seed=3, scripted=[fault]) as fake:
        team = fake.dataset.teams[0]
        async with client_for(fake, max_retries=4) as client:
            assert (await client.get_team(team.id)).name == team.name
        assert [f.kind for f in fake.stats.faults] == [kind, kind]


async def test_timeout_fault_raises_timeout_error() -> None:
    """A response slower than the timeout on every attempt ends in RequestTimeoutError."""
    faults = FaultConfig(rate=1.0, kinds=("timeout",), timeout_delay=1.0)
    async with serve_fake_tabnine(teams=1, users=2, seed=3, faults=faults) as fake:
        async with client_for(fake, timeout=0.1, max_retries=1) as client:
            with pytest.raises(RequestTimeoutError):
                await client.get_organization()


async def test_random_faults_leave_results_intact() -> None:
    """With 30% random faults of every recoverable kind, every result equals a fault-free run."""
    kinds = ("429", "500", "502", "503", "reset", "truncated", "proxy_html")
    faults = FaultConfig(rate=0.3, kinds=kinds, seed=5, retry_after=0)  # type: ignore[arg-type]
    start, end = date(2026, 1, 1), date(2026, 1, 15)
    async with serve_fake_tabnine(teams=3, users=25, seed=8, faults=faults) as fake:
        policy = RetryPolicy(max_retries=10, base_delay=0.001, max_delay=0.01)
        async with client_for(fake, retry_policy=policy) as client:
            got = {
                u.id: (await client.get_user_usage(u.id, start, end, "daily")).blocks
                for u in fake.dataset.users
            }
            assert client.stats.retries > 0
    for user in fake.dataset.users:
        truth = fake.dataset.usage_blocks(
            "user",
            user.id,
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 15, tzinfo=UTC),
            "daily",
        )
        assert [b.code_completions.completions for b in got[user.id] if b.code_completions] == [
            b["codeCompletions"]["completions"] for b in truth
        ]


async def test_wrong_token_and_unknown_ids(fake: FakeTabnine) -> None:
    """A wrong token is an AuthenticationError and an unknown team a NotFoundError."""
    async with TabnineClient(
        token="wrong", base_url=fake.base_url, retry_policy=FAST_RETRIES
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_organization()
        assert info.value.message
    async with client_for(fake) as client:
        with pytest.raises(NotFoundError):
            await client.get_team("no-such-team")
        with pytest.raises(AuthenticationError, match=r"(?i)organization"):
            await client.get_organization_usage("2026-01-01", "2026-01-02", organization_id="bogus")
