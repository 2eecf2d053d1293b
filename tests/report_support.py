"""Shared by the report tests: a fake organization synced into a SQLite dataset."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.streams import parse_streams
from tabnine_usage_async.sync import SyncSpec, run_sync
from tabnine_usage_async.testing import Dataset, serve_fake_tabnine

#: The synced period: the fake's default clock stops at the end of 2026-01-15.
SINCE = date(2025, 10, 1)
NOW = datetime(2026, 1, 16, tzinfo=timezone.utc)
REPORT_STREAMS = "usage,agent_usage,agent_usage_breakdown,users,teams,seats,invitations"


async def sync_fake(path: Path, *, users: int = 40, teams: int = 4, seed: int = 5) -> Dataset:
    """Serve a fake organization, sync the report's streams into ``path``; return its data."""
    data = Dataset(seed=seed, teams=teams, users=users)
    async with serve_fake_tabnine(dataset=data) as fake:
        async with TabnineClient(
            token=fake.token, base_url=fake.base_url, allow_insecure_http=True
        ) as client:
            spec = SyncSpec.build(
                str(path),
                streams=[s.name for s in parse_streams(REPORT_STREAMS)],
                since=SINCE,
                now=NOW,
            )
            summary = await run_sync(client, spec)
            assert summary.status == "succeeded", summary
    return data
