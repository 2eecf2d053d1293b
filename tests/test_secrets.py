"""The token never leaks: not in reprs, DEBUG logs, errors, tracebacks, checkpoints or outputs."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import anyio
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tabnine_usage_async import RetryPolicy, TabnineClient, TabnineError
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.cli import main as cli_main
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


# A slash, so that a JSON encoder that escapes it (``\/``) is covered too.
ECHO_CANARY = "echo-canary/9d1c4b7e2f-secret"


def _echo_answers(request: web.Request) -> list[web.Response]:
    """Error and success bodies that repeat the request's Authorization in several spellings."""
    auth = request.headers["Authorization"]
    escaped = json.dumps(auth)[1:-1].replace("/", "\\/")
    return [
        web.Response(status=400, text=f"400 denied for {auth}"),
        web.Response(
            status=403,
            text=f'{{"error": {{"message": "no access for {escaped}", "errors": ["{auth}"]}}}}',
            content_type="application/json",
        ),
        web.Response(status=404, text=json.dumps({"message": "x", "details": {"token": auth}})),
        web.Response(status=200, text=f"<html>login as {auth}</html>"),
    ]


async def test_server_echoed_token_is_scrubbed_from_errors_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that echoes the Authorization header in any body gets the token redacted."""
    index = 0

    async def echo(request: web.Request) -> web.Response:
        nonlocal index
        answers = _echo_answers(request)
        answer = answers[index % len(answers)]
        index += 1
        return answer

    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    async with TestServer(app, host="127.0.0.1") as server:
        async with TabnineClient(
            token=ECHO_CANARY, base_url=f"http://127.0.0.1:{server.port}", retry_policy=POLICY
        ) as client:
            for _ in range(4):
                with pytest.raises(TabnineError) as info:
                    await client.get_team("t-1")
                exc = info.value
                seen += [str(exc), repr(exc), repr(getattr(exc, "details", None))]
                seen += traceback.format_exception(exc)
    assert index == 4
    assert "[REDACTED]" in " ".join(seen)
    for text in [*seen, caplog.text]:
        assert ECHO_CANARY not in text
        assert ECHO_CANARY.replace("/", "\\/") not in text


async def test_server_echoed_token_stays_out_of_checkpoint_and_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Usage calls failing with the token in their body leave it out of causes, files, stderr."""
    async with serve_fake_tabnine(teams=2, users=4, seed=3, token=ECHO_CANARY) as fake:
        upstream = fake.base_url

        async def hostile(request: web.Request) -> web.StreamResponse:
            if request.path.endswith("/usage"):
                return web.Response(
                    status=400, text=f"400 denied for {request.headers['Authorization']}"
                )
            async with ClientSession() as session:
                async with session.get(
                    upstream + request.path_qs,
                    headers={"Authorization": request.headers["Authorization"]},
                ) as resp:
                    return web.Response(
                        status=resp.status,
                        body=await resp.read(),
                        content_type="application/json",
                    )

        app = web.Application()
        app.router.add_get("/{tail:.*}", hostile)
        async with TestServer(app, host="127.0.0.1") as server:
            base_url = f"http://127.0.0.1:{server.port}"
            async with TabnineClient(token=ECHO_CANARY, base_url=base_url) as client:
                summary = await backfill(
                    client, "2026-01-01", "2026-01-03", sink=tmp_path / "out.jsonl"
                )
            assert summary.failed
            causes = [f.cause for f in summary.failed]
            monkeypatch.setenv("TABNINE_API_TOKEN", ECHO_CANARY)
            code = await anyio.to_thread.run_sync(
                cli_main,
                [
                    "backfill",
                    "--base-url",
                    base_url,
                    "--start",
                    "2026-01-01",
                    "--end",
                    "2026-01-03",
                    "-o",
                    str(tmp_path / "cli.csv"),
                ],
            )
    assert code == 1
    err = capsys.readouterr().err
    assert "denied for Bearer [REDACTED]" in err
    for text in [*causes, repr(summary), err]:
        assert ECHO_CANARY not in text
    assert ECHO_CANARY.encode() not in everything_in(tmp_path)
