"""The token never leaks: not in reprs, DEBUG logs, errors, tracebacks, checkpoints or outputs."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest

from tabnine_usage_async import RetryPolicy, TabnineClient, TabnineError
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.orchestrator import walk_usage
from tabnine_usage_async.sinks import FORMATS
from tabnine_usage_async.testing import FaultConfig, ScriptedFault, serve_fake_tabnine

CANARY = "canary-7f3e9b2a41d8c6e5-secret"
POLICY = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.005, max_retry_after=0.01)


def everything_in(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


async def test_canary_token_appears_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every path a token could travel (reprs, logs, errors, files) is searched for a canary."""
    seen: list[str] = []
    faults = FaultConfig(rate=0.2, seed=2, timeout_delay=0.3, retry_after=0)
    failing = ScriptedFault("500", route="/api/v1/organization/usage", times=1000)
    caplog.set_level(logging.DEBUG)
    async with serve_fake_tabnine(
        teams=3, users=12, seed=5, token=CANARY, faults=faults, scripted=[failing]
    ) as fake:
        async with TabnineClient(
            token=CANARY, base_url=fake.base_url, timeout=0.2, retry_policy=POLICY
        ) as client:
            seen += [repr(client), str(client), repr(client.stats)]
            org = await client.get_organization()
            seen.append(repr(org))
            walk = walk_usage(client, "2026-01-01", "2026-02-01", on_error="collect")
            records = [r async for r in walk]
            seen += [repr(r) for r in records[:50]] + [repr(f) for f in walk.failures]
            seen += [f.cause for f in walk.failures]
            for fmt in FORMATS:
                summary = await backfill(
                    client, "2026-01-01", "2026-02-01", sink=tmp_path / f"out.{fmt}"
                )
                seen.append(repr(summary))
            for call in (
                client.get_team("missing"),
                client.get_user_usage("u", "2026-01-01", "2026-01-02", organization_id="bad"),
                client.get_organization_usage("2026-01-01", "2026-01-02"),
            ):
                with pytest.raises(TabnineError) as info:
                    await call
                seen += [str(info.value), repr(info.value)]
                seen += traceback.format_exception(info.value)
    async with TabnineClient(
        token=CANARY, base_url="http://127.0.0.1:9", retry_policy=POLICY
    ) as client:
        with pytest.raises(TabnineError) as info:
            await client.get_organization()
        seen += [str(info.value), repr(info.value), *traceback.format_exception(info.value)]
    assert len(seen) > 20  # every path above was taken
    assert "GET /api/v1/organization" in caplog.text  # DEBUG logging was on
    for text in [*seen, caplog.text]:
        assert CANARY not in text
    assert CANARY.encode() not in everything_in(tmp_path)
    assert len(list(tmp_path.iterdir())) >= len(FORMATS) * 2  # outputs and checkpoints
