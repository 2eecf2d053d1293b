"""The SDK runs unchanged on uvloop's event loop: usage reads, a walk, errors and retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import pytest

from tabnine_usage_async import NotFoundError, TabnineClient, UsageReportV2
from tabnine_usage_async.orchestrator import walk_usage
from tabnine_usage_async.testing import ScriptedFault, serve_fake_tabnine

uvloop = pytest.importorskip("uvloop")

T = TypeVar("T")


def _on_uvloop(main: Callable[[], Awaitable[T]]) -> T:
    loop = uvloop.new_event_loop()
    try:
        assert type(loop).__module__.startswith("uvloop")
        return loop.run_until_complete(main())
    finally:
        loop.close()


def test_usage_walk_and_errors_on_uvloop() -> None:
    """On a uvloop loop: a v2 read, a whole walk, a retried 503 and a typed 404 all behave."""

    async def main() -> dict[str, Any]:
        fault = ScriptedFault(kind="503", path="/api/v2/user/usage", times=1)
        async with serve_fake_tabnine(teams=3, users=12, seed=5, scripted=[fault]) as fake:
            async with TabnineClient(
                token=fake.token, base_url=fake.base_url, max_concurrency=8
            ) as client:
                loop_name = type(asyncio.get_running_loop()).__module__
                user = (await _first_user(client)).id
                report = await client.get_user_usage_v2(
                    user, date(2026, 1, 1), date(2026, 1, 8), "daily"
                )
                walk = walk_usage(client, "2025-12-01", "2026-01-01", "daily", "month")
                records = 0
                async with walk:
                    async for unit in walk.units():
                        records += len(unit.records)
                with pytest.raises(NotFoundError):
                    await client.get_team("no-such-team")
                return {
                    "expected_units": 1 + len(fake.dataset.teams) + len(fake.dataset.users),
                    "loop": loop_name,
                    "report": report,
                    "records": records,
                    "units": walk.progress.units_done,
                    "failures": list(walk.failures),
                    "retries": client.stats.retries,
                }

    got = _on_uvloop(main)
    assert got["loop"].startswith("uvloop")
    assert isinstance(got["report"], UsageReportV2) and len(got["report"].buckets) == 7
    assert got["units"] == got["expected_units"] and not got["failures"]
    assert got["records"] >= 31 * got["units"]
    assert got["retries"] == 1


async def _first_user(client: TabnineClient) -> Any:
    async for team in client.iter_teams():
        async for user in client.iter_team_users(team.id):
            return user
    raise AssertionError("the fake organization has no users in teams")
