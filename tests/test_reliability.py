"""Reliability: a backfill through a storm of faults gives exactly the fault-free output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabnine_usage_async import RetryPolicy, TabnineClient
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.sinks import read_records
from tabnine_usage_async.testing import ALL_FAULT_KINDS, FaultConfig, serve_fake_tabnine

START, END = "2026-01-01", "2026-07-01"  # six monthly windows
ORG = {"teams": 12, "users": 500, "seed": 17}


async def run(
    tmp_path: Path, name: str, faults: FaultConfig | None
) -> tuple[Any, list[dict[str, Any]]]:
    output = tmp_path / f"{name}.jsonl"
    # Retry-After and backoff are honoured but capped small, so the soak stays quick; a timeout
    # fault stalls longer than the client's timeout.
    policy = RetryPolicy(max_retries=12, base_delay=0.005, max_delay=0.05, max_retry_after=0.05)
    async with serve_fake_tabnine(**ORG, faults=faults) as fake:
        async with TabnineClient(
            token=fake.token,
            base_url=fake.base_url,
            max_concurrency=32,
            timeout=0.5,
            retry_policy=policy,
        ) as client:
            summary = await backfill(client, START, END, sink=output, granularity="monthly")
        injected = list(fake.stats.faults)
    return (summary, injected), read_records(output)


async def test_fault_soak_output_equals_fault_free_output(tmp_path: Path) -> None:
    """With 20% faults of every kind, the output equals a fault-free run record for record."""
    (clean, _), expected = await run(tmp_path, "clean", None)
    faults = FaultConfig(rate=0.2, kinds=ALL_FAULT_KINDS, seed=3, timeout_delay=1.0, retry_after=1)
    (stormy, injected), got = await run(tmp_path, "stormy", faults)

    assert clean.ok and stormy.ok
    assert {f.kind for f in injected} == set(ALL_FAULT_KINDS)
    assert len(injected) > 0.15 * stormy.requests
    # aiohttp silently re-sends once after a dropped keep-alive connection, so a few resets
    # never reach our retry loop; every other fault does.
    assert stormy.retries >= len(injected) - sum(1 for f in injected if f.kind == "reset")
    assert stormy.rate_limited == sum(1 for f in injected if f.kind == "429")

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(
            rows, key=lambda r: (r["scope"], r["user_id"] or r["team_id"] or "", r["period_start"])
        )

    assert len(got) == len(expected) == stormy.records_written
    assert ordered(got) == ordered(expected)
