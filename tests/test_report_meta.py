"""The report's header and seats show what a sync records about the organization."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.report import load_report
from tabnine_usage_async.streams import parse_streams
from tabnine_usage_async.sync import SyncSpec, run_sync
from tabnine_usage_async.testing import Dataset, ScriptedFault, serve_fake_tabnine

from .report_support import NOW, REPORT_STREAMS, SINCE, sync_fake


async def test_report_shows_the_organization_name_and_licensed_seats(tmp_path: Path) -> None:
    """A synced dataset's report names the fake's organization and its license's seats."""
    path = tmp_path / "usage.sqlite"
    data = await sync_fake(path, users=30, teams=3, seed=11)
    report = await load_report(open_destination(path))
    assert report.header.organization == data.organization.name
    assert report.header.organization != data.organization.id
    assert report.seats.licensed == data.license()["seats"]


async def test_unreadable_license_leaves_seats_out_and_the_sync_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A license the server will not give is logged and left out; the run still succeeds."""
    path = tmp_path / "usage.sqlite"
    data = Dataset(seed=12, teams=2, users=10)
    fault = ScriptedFault("503", route="/api/v1/license", times=1000)
    async with serve_fake_tabnine(dataset=data, scripted=[fault]) as fake:
        async with TabnineClient(
            token=fake.token, base_url=fake.base_url, allow_insecure_http=True, max_retries=0
        ) as client:
            spec = SyncSpec.build(
                str(path),
                streams=[s.name for s in parse_streams(REPORT_STREAMS)],
                since=SINCE,
                now=NOW,
            )
            with caplog.at_level(logging.WARNING, logger="tabnine_usage_async"):
                summary = await run_sync(client, spec)
    assert summary.status == "succeeded", summary
    assert any("could not read the license" in r.getMessage() for r in caplog.records)
    report = await load_report(open_destination(path))
    assert report.seats.licensed is None
    assert report.header.organization == data.organization.name
