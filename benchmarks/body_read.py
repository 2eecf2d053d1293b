"""Micro-benchmark of the transport's body handling against the plain aiohttp calls it replaced.

``python -m benchmarks.body_read`` reads a 3 KB JSON body from a server on 127.0.0.1 many times,
alternating ``await resp.read()`` with the capped streaming read, and times the redaction and
parsing of the same body against ``json.loads``. Medians and minima, in microseconds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import timeit

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from tabnine_usage_async._guard import parse_json, redact, secret_forms
from tabnine_usage_async._transport import DEFAULT_MAX_RESPONSE_BYTES, _read_body

USERS = [{"id": f"u-{i}", "email": f"user{i}@example.com", "n": i, "r": 0.5} for i in range(45)]
BODY = json.dumps({"data": USERS}).encode()
READS = 4000


async def reads() -> tuple[list[float], list[float]]:
    """Microseconds per body read: ``resp.read()`` and ``_read_body``, interleaved."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", answer)
    old: list[float] = []
    new: list[float] = []
    async with TestServer(app, host="127.0.0.1") as server, ClientSession() as session:
        url = f"http://127.0.0.1:{server.port}/"
        for i in range(READS):
            async with session.get(url) as resp:
                await asyncio.sleep(0)  # the body has arrived, as when a real read starts
                began = time.perf_counter_ns()
                if i % 2:
                    body = await resp.read()
                    old.append((time.perf_counter_ns() - began) / 1000)
                else:
                    body = await _read_body(resp, DEFAULT_MAX_RESPONSE_BYTES)
                    new.append((time.perf_counter_ns() - began) / 1000)
                assert body == BODY
    return old, new


def per_call(function: object, number: int = 500, repeat: int = 200) -> float:
    """The fastest of ``repeat`` batches, in microseconds per call."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    """Print the figures."""
    old, new = asyncio.run(reads())
    print(f"body: {len(BODY)} bytes")
    print(
        f"read:  resp.read() median {statistics.median(old):.2f} us, "
        f"capped read median {statistics.median(new):.2f} us"
    )
    forms = secret_forms("tnt_0123456789abcdefghijklmnopqrstuvwxyz/ABC")
    print(f"redact: {per_call(lambda: redact(BODY, forms)):.2f} us")
    loads = per_call(lambda: json.loads(BODY))
    parse = per_call(lambda: parse_json(BODY, "/e"))
    print(f"parse: json.loads {loads:.2f} us, parse_json {parse:.2f} us")


if __name__ == "__main__":
    main()
