"""backfill(): every sink, resuming after failures and cancellation, foreign checkpoints."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.checkpoint import Checkpoint, CheckpointMismatchError
from tabnine_usage_async.orchestrator import walk_usage
from tabnine_usage_async.sinks import FORMATS, read_records
from tabnine_usage_async.testing import FakeTabnine, ScriptedFault, serve_fake_tabnine

from .conftest import FAST_RETRIES

START, END = "2026-01-01", "2026-03-01"
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "sqlite": "sqlite", "parquet": "parquet"}


def key(row: dict[str, Any]) -> tuple[Any, ...]:
    entity = row["user_id"] or row["team_id"] or row["organization_id"]
    return (row["scope"], entity, row["granularity"], row["period_start"])


def client_for(fake: FakeTabnine, **kwargs: Any) -> TabnineClient:
    options: dict[str, Any] = {"max_retries": 2, "retry_policy": FAST_RETRIES, "timeout": 5.0}
    options.update(kwargs)
    return TabnineClient(token=fake.token, base_url=fake.base_url, **options)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    async with serve_fake_tabnine(teams=4, users=24, seed=9) as server:
        yield server


async def truth(fake: FakeTabnine, **kwargs: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    async with client_for(fake) as client:
        rows = [r.to_row() async for r in walk_usage(client, START, END, **kwargs)]
    return {key(r): r for r in rows}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_backfill_writes_every_record_once(
    fake: FakeTabnine, tmp_path: Path, fmt: str
) -> None:
    """Each sink ends up with exactly the walk's records, once each, and a summary that adds up."""
    expected = await truth(fake, granularity="weekly")
    output = tmp_path / f"usage.{EXTENSIONS[fmt]}"
    before = fake.stats.total_requests
    async with client_for(fake) as client:
        summary = await backfill(client, START, END, sink=output, granularity="weekly")
    rows = read_records(output)
    assert len(rows) == len(expected) == summary.records_written
    assert {key(r): r for r in rows} == expected
    assert summary.ok and summary.units_skipped == 0
    assert summary.requests == fake.stats.total_requests - before
    assert summary.checkpoint == output.with_name(output.name + ".checkpoint.sqlite")


async def test_failed_units_are_fetched_on_the_next_run(tmp_path: Path) -> None:
    """Failed units are reported with a cause, done work stays done, and a re-run completes."""
    fault = ScriptedFault("503", route="/api/v1/organization/usage", times=1000)
    output = tmp_path / "usage.jsonl"
    async with serve_fake_tabnine(teams=3, users=12, seed=4, scripted=[fault]) as fake:
        async with client_for(fake) as client:
            first = await backfill(client, START, END, sink=output)
    assert len(first.failed) == 2 and all("503" in f.cause for f in first.failed)
    assert not first.ok
    async with serve_fake_tabnine(teams=3, users=12, seed=4) as fake:
        async with client_for(fake) as client:
            second = await backfill(client, START, END, sink=output)
        expected = await truth(fake)
    assert second.ok
    assert second.units_done == 2
    assert second.units_skipped == first.units_done
    rows = read_records(output)
    assert len(rows) == len(expected)
    assert {key(r): r for r in rows} == expected


@pytest.mark.parametrize("fmt", FORMATS)
async def test_cancelled_backfill_resumes_exactly_once(
    fake: FakeTabnine, tmp_path: Path, fmt: str
) -> None:
    """A backfill cancelled midway and run again leaves every record exactly once."""
    output = tmp_path / f"usage.{EXTENSIONS[fmt]}"
    async with client_for(fake, max_concurrency=2) as client:
        progress: list[int] = []
        task = asyncio.create_task(
            backfill(
                client,
                START,
                END,
                sink=output,
                window="week",
                commit_interval=0.0,
                on_progress=lambda p: progress.append(p.units_done),
            )
        )
        while not progress or progress[-1] < 20:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        second = await backfill(client, START, END, sink=output, window="week")
    expected = await truth(fake, window="week")
    rows = read_records(output)
    assert second.units_skipped >= 20
    assert len(rows) == len(expected)
    assert {key(r): r for r in rows} == expected


async def test_checkpoint_of_another_job_is_refused(fake: FakeTabnine, tmp_path: Path) -> None:
    """Re-running against a checkpoint with other parameters is refused, naming what differs."""
    output = tmp_path / "usage.csv"
    async with client_for(fake) as client:
        await backfill(client, START, END, sink=output, scopes="organization")
        with pytest.raises(CheckpointMismatchError, match="granularity"):
            await backfill(
                client, START, END, sink=output, scopes="organization", granularity="weekly"
            )
    assert len(read_records(output)) == 59  # the first job's output is untouched


async def test_a_failure_while_starting_the_run_releases_the_checkpoint(
    fake: FakeTabnine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If starting the run fails, the checkpoint is closed so the next run can take it."""
    output = tmp_path / "usage.jsonl"

    def broken(self: Checkpoint) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    async with client_for(fake) as client:
        with monkeypatch.context() as patch:
            patch.setattr(Checkpoint, "begin_run", broken)
            with pytest.raises(sqlite3.OperationalError):
                await backfill(client, START, END, sink=output, scopes="organization")
        summary = await backfill(client, START, END, sink=output, scopes="organization")
    assert summary.ok and summary.records_written == len(read_records(output)) > 0


async def test_without_checkpoint_the_output_is_rewritten(
    fake: FakeTabnine, tmp_path: Path
) -> None:
    """checkpoint=False writes a fresh output each time and leaves no checkpoint file."""
    output = tmp_path / "usage.jsonl"
    async with client_for(fake) as client:
        for _ in range(2):
            summary = await backfill(
                client, START, END, sink=output, scopes="team", checkpoint=False
            )
    assert summary.checkpoint is None
    assert len(read_records(output)) == summary.records_written == 4 * 59
    assert not list(tmp_path.glob("*.checkpoint.sqlite"))
