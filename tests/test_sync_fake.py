"""Syncs against the fake server: ground truth, incremental runs, corrections, roster changes."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.destinations import (
    DestinationBusyError,
    DestinationError,
    open_destination,
)
from tabnine_usage_async.errors import InvalidParameterError
from tabnine_usage_async.models import Granularity
from tabnine_usage_async.streams import STREAMS
from tabnine_usage_async.sync import SyncSpec, SyncSummary, run_sync
from tabnine_usage_async.testing import FakeTabnine, ScriptedFault, serve_fake_tabnine

from . import _sync_truth as truth
from .conftest import FAST_RETRIES

UTC = timezone.utc
SINCE = datetime(2025, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 10, 15, 30, tzinfo=UTC)
USAGE_ROUTES = ("/api/v2/organization/usage", "/api/v2/team/usage", "/api/v2/user/usage")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    async with serve_fake_tabnine(teams=3, users=14, seed=11, max_page_size=5, now=NOW) as server:
        yield server


async def sync(fake: FakeTabnine, target: Path, **kwargs: Any) -> SyncSummary:
    extra = kwargs.pop("client_options", {})
    options: dict[str, Any] = {"since": SINCE, "now": fake.dataset.now}
    options.update(kwargs)
    spec = SyncSpec.build(str(target), **options)
    async with TabnineClient(
        token=fake.token, base_url=fake.base_url, retry_policy=FAST_RETRIES, timeout=5.0, **extra
    ) as client:
        return await run_sync(client, spec)


def usage_requests(fake: FakeTabnine, before: Counter[str]) -> int:
    """v2 usage requests since ``before``, less the one-day probe of ``--api auto``."""
    after = fake.stats.requests_by_route
    return sum(after[r] - before[r] for r in USAGE_ROUTES) - 1


async def assert_matches_truth(fake: FakeTabnine, target: Path, *, models: bool = False) -> None:
    data, now = fake.dataset, fake.dataset.now
    rows = await truth.read_table(str(target), "usage")
    assert truth.usage_rows(rows) == truth.usage_truth(data, SINCE, now)
    assert all(r["complete"] == (r["period_end"] <= now) for r in rows)
    agent = await truth.read_table(str(target), "agent_usage")
    expected_agent, breakdown = truth.agent_truth(data, SINCE, now)
    assert {
        (r["scope"], r["entity_id"], r["period_start"]): (r["total_tokens"], r["active_users"])
        for r in agent
    } == expected_agent
    assert len(await truth.read_table(str(target), "agent_usage_breakdown")) == breakdown
    if models:
        got = await truth.read_table(str(target), "model_usage")
        assert {
            (r["scope"], r["entity_id"], r["period_start"], r["section"], r["model"]): r["messages"]
            for r in got
        } == truth.model_truth(data, SINCE, now)
    users = await truth.read_table(str(target), "users")
    assert {r["user_id"]: (sorted(r["team_ids"]), r["deactivated_at"]) for r in users} == {
        u.id: (sorted(u.team_ids), u.deactivated_at) for u in data.users
    }
    teams = await truth.read_table(str(target), "teams")
    assert {r["team_id"]: r["name"] for r in teams} == {t.id: t.name for t in data.teams}
    seats = await truth.read_table(str(target), "seats")
    assert {r["month"]: (r["registered"], r["active"]) for r in seats} == truth.seats_truth(
        data, SINCE
    )
    invitations = await truth.read_table(str(target), "invitations")
    assert {r["invitation_id"] for r in invitations} == {i["id"] for i in data.invitations()}
    audit = await truth.read_table(str(target), "audit_log")
    assert {r["event_id"] for r in audit} == truth.audit_truth(data, SINCE, now)


async def test_first_sync_equals_ground_truth(fake: FakeTabnine, tmp_path: Path) -> None:
    """A first sync of every stream into SQLite holds exactly the fake's ground truth."""
    target = tmp_path / "usage.sqlite"
    summary = await sync(fake, target, streams=[s.name for s in STREAMS if s.api != "v1"])
    assert summary.status == "succeeded" and summary.failed == ()
    await assert_matches_truth(fake, target, models=True)
    runs = await _runs(target)
    assert [(r.status, r.api_version) for r in runs] == [("succeeded", "v2")]
    assert runs[0].summary["records"] == summary.records > 0


async def _runs(target: Path) -> list[Any]:
    dest = open_destination(str(target))
    await dest.open([], lock=False)
    try:
        return await dest.runs()
    finally:
        await dest.close()


async def test_second_sync_fetches_only_open_periods(fake: FakeTabnine, tmp_path: Path) -> None:
    """After the clock moves on, a sync asks only for the open month (December is final) and
    the dataset equals the ground truth again, provisional days included."""
    target = tmp_path / "usage.sqlite"
    first = await sync(fake, target)
    entities = len(truth.entities(fake.dataset))
    # December and January, for every entity.
    assert first.per_stream["usage"]["units"] == 2 * entities
    fake.dataset.set_now(NOW + timedelta(days=2, hours=3))
    before = Counter(fake.stats.requests_by_route)
    second = await sync(fake, target)
    assert second.status == "succeeded"
    assert usage_requests(fake, before) == entities  # January only
    assert second.per_stream["usage"]["units"] == entities
    await assert_matches_truth(fake, target)
    # A third run at the same moment still refreshes the open month, nothing else.
    before = Counter(fake.stats.requests_by_route)
    await sync(fake, target)
    assert usage_requests(fake, before) == entities


async def test_lookback_refetches_the_month_just_ended(fake: FakeTabnine, tmp_path: Path) -> None:
    """A month that ended less than the lookback before its last fetch is fetched again, and
    once a fetch happened after the lookback it is final."""
    target = tmp_path / "usage.sqlite"
    fake.dataset.set_now(datetime(2026, 1, 2, 10, tzinfo=UTC))
    await sync(fake, target)
    entities = len(truth.entities(fake.dataset))
    fake.dataset.set_now(datetime(2026, 1, 3, 10, tzinfo=UTC))
    before = Counter(fake.stats.requests_by_route)
    await sync(fake, target)
    assert usage_requests(fake, before) == 2 * entities  # December (lookback) and January
    fake.dataset.set_now(datetime(2026, 1, 5, 10, tzinfo=UTC))
    before = Counter(fake.stats.requests_by_route)
    await sync(fake, target)
    assert usage_requests(fake, before) == 2 * entities  # December last fetched Jan 3 < Jan 4
    before = Counter(fake.stats.requests_by_route)
    await sync(fake, target)
    assert usage_requests(fake, before) == entities  # December is final now
    await assert_matches_truth(fake, target)


async def test_correction_inside_lookback_propagates(fake: FakeTabnine, tmp_path: Path) -> None:
    """A correction of a day in a window still inside the lookback reaches the dataset; one in a
    window that was final before the correction does not (it needs a fresh sync)."""
    target = tmp_path / "usage.sqlite"
    data = fake.dataset
    data.set_now(datetime(2026, 1, 2, 10, tzinfo=UTC))
    await sync(fake, target, since=datetime(2025, 11, 1, tzinfo=UTC))
    org = data.organization.id

    def org_day(day: datetime) -> tuple[Any, ...]:
        b = data.usage_v2_buckets("organization", org, day, day + timedelta(days=1), "daily")[0]
        return (b["codeCompletions"]["completions"], b["chat"]["messages"])

    inside = datetime(2025, 12, 30, tzinfo=UTC)  # December: ended Jan 1, lookback to Jan 4
    outside = datetime(2025, 11, 20, tzinfo=UTC)  # November: final since Dec 4
    old_inside, old_outside = org_day(inside), org_day(outside)
    data.correct(inside.date())
    data.correct(outside.date())
    assert org_day(inside) != old_inside and org_day(outside) != old_outside
    data.set_now(datetime(2026, 1, 3, 10, tzinfo=UTC))
    await sync(fake, target, since=datetime(2025, 11, 1, tzinfo=UTC))
    rows = {
        (r["scope"], r["period_start"]): (r["code_completions"], r["chat_messages"])
        for r in await truth.read_table(str(target), "usage")
        if r["scope"] == "organization"
    }
    assert rows[("organization", inside)] == org_day(inside)
    assert rows[("organization", outside)] == old_outside
    # Every row of the corrected month is replaced, none doubled.
    keys = [
        (r["scope"], r["entity_id"], r["period_start"])
        for r in await truth.read_table(str(target), "usage")
    ]
    assert len(keys) == len(set(keys))


async def test_new_and_deactivated_users(fake: FakeTabnine, tmp_path: Path) -> None:
    """A user added later gets usage from the dataset's start; a deactivated user keeps its
    history and shows its deactivation in users."""
    target = tmp_path / "usage.sqlite"
    await sync(fake, target)
    data = fake.dataset
    gone = data.users[2]
    history = [r for r in await truth.read_table(str(target), "usage") if r["entity_id"] == gone.id]
    assert history
    new = data.add_user(NOW + timedelta(hours=2), team_ids=[data.teams[1].id])
    data.deactivate_user(gone.id, NOW + timedelta(days=1))
    data.set_now(NOW + timedelta(days=3))
    await sync(fake, target)
    await assert_matches_truth(fake, target)
    rows = await truth.read_table(str(target), "usage")
    new_rows = [r for r in rows if r["entity_id"] == new.id]
    assert min(r["period_start"] for r in new_rows) == SINCE
    kept = {r["period_start"] for r in rows if r["entity_id"] == gone.id}
    assert {r["period_start"] for r in history} <= kept
    users = {r["user_id"]: r for r in await truth.read_table(str(target), "users")}
    assert users[gone.id]["deactivated_at"] == NOW + timedelta(days=1)
    assert users[new.id]["team_ids"] == [data.teams[1].id]


async def test_second_sync_at_once_is_refused(fake: FakeTabnine, tmp_path: Path) -> None:
    """While one run holds the destination, another sync is refused and changes nothing."""
    target = tmp_path / "usage.sqlite"
    await sync(fake, target)
    holder = open_destination(str(target))
    await holder.open([s.table for s in STREAMS])
    try:
        with pytest.raises(DestinationBusyError, match="in use by another run"):
            await sync(fake, target)
    finally:
        await holder.close()
    assert [r.status for r in await _runs(target)] == ["succeeded"]
    assert (await sync(fake, target)).status == "succeeded"


async def test_failed_units_make_a_partial_run_that_the_next_run_repairs(
    fake: FakeTabnine, tmp_path: Path
) -> None:
    """A unit that fails after retries is listed and recorded; the run is partial, and the next
    run fetches it so the dataset equals the ground truth."""
    target = tmp_path / "usage.sqlite"
    # One worker and one retry, so both attempts of the third user request fail.
    fake.add_scripted_fault(ScriptedFault("500", route="/api/v2/user/usage", nth=3, times=2))
    first = await sync(fake, target, client_options={"max_concurrency": 1, "max_retries": 1})
    assert first.status == "partial"
    assert len(first.failed) == 1 and "ServerError" in first.failed[0].cause
    assert first.failed[0].key.startswith("usage:user:")
    failed_key = first.failed[0].key.split(":", 1)[1]
    dest = open_destination(str(target))
    await dest.open([], lock=False)
    try:
        assert failed_key not in await dest.units("usage")
    finally:
        await dest.close()
    assert (await _runs(target))[0].summary["failed"][0]["unit"] == first.failed[0].key
    second = await sync(fake, target)
    assert second.status == "succeeded"
    await assert_matches_truth(fake, target)


async def test_v1_server_syncs_legacy_usage_with_one_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Against a server before 6.2, auto mode syncs usage_v1 (and says so once), matching the
    v1 ground truth; asking for v2 streams there is refused."""
    target = tmp_path / "v1.sqlite"
    async with serve_fake_tabnine(teams=2, users=6, seed=5, version="5.x", now=NOW) as fake:
        with caplog.at_level(logging.WARNING, logger="tabnine_usage_async"):
            summary = await sync(fake, target)
        notices = [r for r in caplog.records if "no v2 usage API" in r.getMessage()]
        assert len(notices) == 1
        assert summary.api_version == "v1" and summary.status == "succeeded"
        assert set(summary.per_stream) == {"usage_v1", "users", "teams", "seats"}
        rows = await truth.read_table(str(target), "usage_v1")
        expected = {}
        for scope, eid in truth.entities(fake.dataset):
            for b in fake.dataset.usage_blocks(
                scope, eid, SINCE, truth.next_midnight(NOW), Granularity.DAILY
            ):
                expected[(scope, eid, truth.ts(b["from"]))] = b["activeUsers"]
        assert {
            (r["scope"], r["entity_id"], r["period_start"]): r["active_users"] for r in rows
        } == expected
        with pytest.raises(InvalidParameterError, match=r"need Tabnine 6\.2"):
            await sync(fake, tmp_path / "other.sqlite", streams="usage")


async def test_first_sync_needs_since(fake: FakeTabnine, tmp_path: Path) -> None:
    """A first sync without since is refused; later ones continue from the stored start."""
    target = tmp_path / "usage.sqlite"
    with pytest.raises(InvalidParameterError, match="give --since"):
        await sync(fake, target, since=None)
    await sync(fake, target)
    fake.dataset.set_now(NOW + timedelta(days=1))
    assert (await sync(fake, target, since=None)).status == "succeeded"
    await assert_matches_truth(fake, target)


async def test_cancelled_sync_is_recorded_interrupted_and_completed_by_the_next(
    tmp_path: Path,
) -> None:
    """Cancelling a sync after it wrote some units records the run as interrupted, keeps whole
    units only, and the next run completes the dataset."""
    target = tmp_path / "usage.sqlite"
    async with serve_fake_tabnine(teams=3, users=14, seed=11, now=NOW, latency=20) as fake:
        spec = SyncSpec.build(
            str(target), since=SINCE, now=NOW, window="day", batch_rows=1, streams="usage,users"
        )
        async with TabnineClient(
            token=fake.token, base_url=fake.base_url, retry_policy=FAST_RETRIES
        ) as client:
            written = asyncio.Event()
            seen: list[int] = []

            def on_progress(progress: Any) -> None:
                seen.append(progress.units_done)
                if progress.units_done >= 20:
                    written.set()

            task = asyncio.ensure_future(run_sync(client, spec, on_progress=on_progress))
            await asyncio.wait_for(written.wait(), 60)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        statuses = [r.status for r in await _runs(target)]
        assert statuses == ["interrupted"]
        dest = open_destination(str(target))
        await dest.open([], lock=False)
        try:
            units = await dest.units("usage")
        finally:
            await dest.close()
        rows = await truth.read_table(str(target), "usage")
        # Every recorded unit holds exactly its day's row; no row is outside a recorded unit.
        assert 0 < len(units) == len(rows) < 41 * len(truth.entities(fake.dataset))
        assert (await sync(fake, target)).status == "succeeded"
        await assert_matches_truth(fake, target)
        assert [r.status for r in await _runs(target)] == ["succeeded", "interrupted"]


class FailingWrites:
    """A SQLite destination whose writes fail from the ``fail_at``-th on (a full disk)."""

    def __init__(self, target: Path, fail_at: int) -> None:
        self._inner = open_destination(str(target))
        self._fail_at = fail_at
        self._writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def write(self, run_id: int, writes: Any) -> None:
        self._writes += 1
        if self._writes >= self._fail_at:
            raise DestinationError("disk full")
        await self._inner.write(run_id, writes)


async def test_destination_failure_fails_the_run_with_its_own_error(
    fake: FakeTabnine, tmp_path: Path
) -> None:
    """A destination that cannot write stops the run with that error (not a group of them),
    the ledger says failed with the cause, and the next run completes the dataset."""
    target = tmp_path / "usage.sqlite"
    spec = SyncSpec.build(str(target), since=SINCE, now=NOW, batch_rows=50)
    async with TabnineClient(token=fake.token, base_url=fake.base_url) as client:
        with pytest.raises(DestinationError, match="disk full"):
            await run_sync(client, spec, FailingWrites(target, fail_at=3))  # type: ignore[arg-type]
    (run,) = await _runs(target)
    assert run.status == "failed" and "disk full" in run.summary["error"]
    assert (await sync(fake, target)).status == "succeeded"
    await assert_matches_truth(fake, target)
