"""Servers that answer badly, for real on 127.0.0.1: huge, endless and compressed bodies."""

from __future__ import annotations

import functools
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tabnine_usage_async import (
    ConfigurationError,
    ResponseTooLargeError,
    TabnineClient,
)

from .conftest import FAST_RETRIES, TOKEN

MiB = 1024 * 1024
CAP = 1 * MiB
TEAM_PATH = "/api/v1/team/t-1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    async with TestServer(app, host="127.0.0.1") as server:
        yield f"http://127.0.0.1:{server.port}"


async def huge(request: web.Request) -> web.StreamResponse:
    """A 20 MiB JSON body with its Content-Length, written in pieces."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    head, tail = b'{"id": "', b'", "name": "QA"}'
    response.content_length = len(head) + 20 * MiB + len(tail)
    await response.prepare(request)
    await response.write(head)
    chunk = b"x" * 65536
    for _ in range(20 * 16):
        await response.write(chunk)
    await response.write(tail)
    return response


async def endless(request: web.Request) -> web.StreamResponse:
    """A chunked body that never ends (until the client hangs up, or 2 GiB as a backstop)."""
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b'{"id": "')
    chunk = b"y" * 65536
    for _ in range(2048 * 16):
        await response.write(chunk)
    return response


@functools.cache
def bomb() -> bytes:
    """About 60 KiB of gzip that unpack to 64 MiB, built without holding the 64 MiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"0" * MiB
    parts = [packer.compress(b'{"id": "')]
    parts += [packer.compress(zeros) for _ in range(64)]
    parts += [packer.compress(b'"}'), packer.flush()]
    return b"".join(parts)


async def gzip_bomb(request: web.Request) -> web.StreamResponse:
    """A gzip bomb: a small compressed body that unpacks to 64 MiB."""
    return web.Response(
        body=bomb(), headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )


async def small_gzip(request: web.Request) -> web.StreamResponse:
    """A normal compressed answer."""
    body = gzip.compress(b'{"id": "t-1", "name": "QA"}')
    return web.Response(
        body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("handler", [huge, endless, gzip_bomb], ids=["huge", "endless", "gzip"])
async def test_body_over_the_cap_fails_typed_with_bounded_memory(handler: Handler) -> None:
    """A body past max_response_bytes fails at once, unretried, without being held in memory."""
    async for base_url in serve(handler):
        async with TabnineClient(
            token=TOKEN,
            base_url=base_url,
            max_response_bytes=CAP,
            retry_policy=FAST_RETRIES,
            timeout=60,
        ) as client:
            bomb()  # built before measuring: it is the server's memory, not the client's
            tracemalloc.start()
            try:
                with pytest.raises(ResponseTooLargeError) as info:
                    await client.get_team("t-1")
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert client.stats.requests == 1
    assert info.value.limit == CAP
    assert "1 MiB" in str(info.value)
    # The huge body alone is 20 MiB and the bomb 64 MiB: only a bounded part was ever held.
    assert peak < 8 * MiB


async def test_body_under_the_cap_is_read_compressed_or_not() -> None:
    """A compressed answer is unpacked, and a cap at its exact size still lets it through."""
    async for base_url in serve(small_gzip):
        async with TabnineClient(token=TOKEN, base_url=base_url, max_response_bytes=27) as client:
            team = await client.get_team("t-1")
    assert team.name == "QA"


async def test_default_cap_is_far_above_any_answer() -> None:
    """By default a 20 MiB body is read whole: the cap only stops the absurd."""
    async for base_url in serve(huge):
        async with TabnineClient(token=TOKEN, base_url=base_url) as client:
            team = await client.get_team("t-1")
    assert len(team.id) == 20 * MiB


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "64"])
def test_max_response_bytes_is_checked(bad: object) -> None:
    """A cap that is not a positive whole number is refused when the client is built."""
    with pytest.raises(ConfigurationError, match="max_response_bytes"):
        TabnineClient(token=TOKEN, max_response_bytes=bad)  # type: ignore[arg-type]
