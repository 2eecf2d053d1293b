"""Servers that answer badly, for real on 127.0.0.1: huge, endless and compressed bodies."""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import json
import sqlite3
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tabnine_usage_async import (
    ConfigurationError,
    DecodeError,
    ResponseTooLargeError,
    TabnineClient,
)
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.sinks import FORMATS
from tabnine_usage_async.testing import serve_fake_tabnine

from .conftest import FAST_RETRIES, TOKEN, Recorder
from .netsupport import hostile_front

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


def _json_answer(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/json")


async def test_deeply_nested_json_is_a_decode_error(recorder: Recorder) -> None:
    """A body nested 100,000 levels deep raises DecodeError, not a bare RecursionError."""
    recorder.answer("/api/v1/organization", lambda _r: _json_answer("[" * 100_000 + "]" * 100_000))
    async with TabnineClient(token=TOKEN, base_url=recorder.base_url) as client:
        with pytest.raises(DecodeError, match="nest"):
            await client.get_organization()


async def test_huge_integer_is_a_decode_error_that_says_so(recorder: Recorder) -> None:
    """A 5,000-digit integer is reported as an over-long number, not as 'not JSON'."""
    body = '{"id": "o", "name": "n", "seats": ' + "9" * 5000 + "}"
    recorder.answer("/api/v1/organization", lambda _r: _json_answer(body))
    async with TabnineClient(token=TOKEN, base_url=recorder.base_url) as client:
        with pytest.raises(DecodeError) as info:
            await client.get_organization()
    assert "digits" in info.value.reason
    assert "not JSON" not in info.value.reason


async def test_deep_json_in_one_unit_fails_only_that_unit(tmp_path: Path) -> None:
    """In a backfill, one deeply nested usage answer is one failed unit; the rest is written."""
    hit: list[str] = []

    def override(request: web.Request) -> web.StreamResponse | None:
        if "/team/" in request.path and request.path.endswith("/usage") and not hit:
            hit.append(request.path)
            return _json_answer("{" + '"a":{' * 50_000 + "}" * 50_001)
        return None

    async with serve_fake_tabnine(teams=2, users=4, seed=3, token=TOKEN) as fake:
        async with hostile_front(fake.base_url, override) as base_url:
            async with TabnineClient(token=TOKEN, base_url=base_url) as client:
                summary = await backfill(
                    client, "2026-01-01", "2026-01-03", sink=tmp_path / "out.jsonl"
                )
    assert len(summary.failed) == 1
    assert "nest" in summary.failed[0].cause
    assert summary.units_done > 1


NAN_FIELDS = '"futureRatio": NaN, "futureMax": Infinity, "futureMin": -Infinity, '


@pytest.mark.parametrize("fmt", FORMATS)
async def test_non_finite_numbers_never_make_invalid_output(tmp_path: Path, fmt: str) -> None:
    """NaN and Infinity in unknown keys reach every output format as valid null values."""

    async with serve_fake_tabnine(teams=1, users=2, seed=3, token=TOKEN) as fake:
        upstream = fake.base_url

        async def relay_with_nan(request: web.Request) -> web.StreamResponse:
            async with ClientSession() as session:
                async with session.get(
                    upstream + request.path_qs,
                    headers={"Authorization": request.headers["Authorization"]},
                ) as resp:
                    text = await resp.text()
            if request.path.endswith("/usage"):
                # Unknown keys with non-finite numbers, in every usage block of the answer.
                text = text.replace('"codeCompletions"', NAN_FIELDS + '"codeCompletions"')
            return web.Response(text=text, status=resp.status, content_type="application/json")

        app = web.Application()
        app.router.add_get("/{tail:.*}", relay_with_nan)
        async with TestServer(app, host="127.0.0.1") as server:
            async with TabnineClient(
                token=TOKEN, base_url=f"http://127.0.0.1:{server.port}"
            ) as client:
                output = tmp_path / f"out.{fmt}"
                summary = await backfill(client, "2026-01-01", "2026-01-03", sink=output)
    assert not summary.failed
    assert summary.records_written > 0
    extras = [json.loads(text, parse_constant=_refuse) for text in _extra_texts(output, fmt)]
    assert extras
    unknown = [{k: e[k] for k in ("futureRatio", "futureMax", "futureMin")} for e in extras]
    assert unknown == [{"futureRatio": None, "futureMax": None, "futureMin": None}] * len(extras)


def _refuse(constant: str) -> None:
    raise AssertionError(f"invalid JSON constant {constant} in the output")


def _extra_texts(output: Path, fmt: str) -> list[str]:
    """The ``extra`` column of every record, as the JSON text the format stores."""
    if fmt == "jsonl":
        rows = [
            json.loads(line, parse_constant=_refuse) for line in output.read_text().splitlines()
        ]
        return [json.dumps(row["extra"], allow_nan=False) for row in rows]
    if fmt == "csv":
        with output.open(newline="") as file:
            return [row["extra"] for row in csv.DictReader(file)]
    if fmt == "sqlite":
        with contextlib.closing(sqlite3.connect(output)) as db:
            # json_extract fails on invalid JSON: the symptom.
            db.execute("SELECT json_extract(extra, '$.futureRatio') FROM usage_records").fetchall()
            return [text for (text,) in db.execute("SELECT extra FROM usage_records")]
    import pyarrow.parquet as pq

    return [str(text) for text in pq.read_table(output).column("extra").to_pylist()]
