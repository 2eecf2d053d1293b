"""Shared fixtures: a real in-process HTTP server that records requests and plays scripted answers.

A real server (rather than a mock of aiohttp) sees exactly the bytes the client sends: the raw
percent-encoded path, every query parameter and header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tabnine_usage_async import TabnineClient
from tabnine_usage_async._wire import RetryPolicy

# A real PostgreSQL server for the database destination tests (started only when used).
pytest_plugins = ("tests.postgres_server",)

TOKEN = "test-token-123"


@attrs.define
class Seen:
    """One request as the server received it."""

    method: str
    raw_path: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Answer = Callable[[web.Request], Any]


@attrs.define
class Recorder:
    """Records requests; answers each path from a script (consumed in order) or a default."""

    server: TestServer
    seen: list[Seen] = attrs.field(factory=list)
    scripts: dict[str, list[Answer]] = attrs.field(factory=dict)
    defaults: dict[str, Answer] = attrs.field(factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def json(self, path: str, body: Any, status: int = 200, **headers: str) -> None:
        """Answer ``path`` once with a JSON body."""
        self.scripts.setdefault(path, []).append(
            lambda _r: web.Response(
                status=status,
                text=json.dumps(body),
                content_type="application/json",
                headers=headers,
            )
        )

    def always(self, path: str, body: Any, status: int = 200) -> None:
        """Answer ``path`` with this JSON every time the script for it is empty."""
        self.defaults[path] = lambda _r: web.json_response(body, status=status)

    def answer(self, path: str, handler: Answer) -> None:
        """Answer ``path`` once with a custom handler (may be async)."""
        self.scripts.setdefault(path, []).append(handler)

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]


ORG = {"id": "org-1", "name": "Yagel"}


async def _start_recorder() -> Recorder:
    recorder: Recorder

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = request.raw_path.split("?", 1)[0]
        recorder.seen.append(
            Seen(
                request.method,
                raw,
                request.path,
                dict(request.query),
                dict(request.headers),
            )
        )
        script = recorder.scripts.get(raw)
        if script:
            handler = script.pop(0)
        elif raw in recorder.defaults:
            handler = recorder.defaults[raw]
        elif raw == "/api/v1/organization":
            return web.json_response(ORG)
        else:
            return web.json_response({"error": {"message": f"no script for {raw}"}}, status=404)
        result = handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, web.StreamResponse)
        return result

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    recorder = Recorder(server)
    await server.start_server()
    return recorder


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    """A recording server on 127.0.0.1 that stops after the test."""
    rec = await _start_recorder()
    try:
        yield rec
    finally:
        await rec.server.close()


FAST_RETRIES = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05, max_retry_after=0.2)


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[TabnineClient]:
    """A client pointed at the recorder, with quick retries."""
    async with TabnineClient(
        token=TOKEN,
        base_url=recorder.base_url,
        timeout=2.0,
        max_retries=3,
        retry_policy=FAST_RETRIES,
    ) as c:
        yield c
