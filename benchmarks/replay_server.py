"""A recording proxy in front of the fake server that replays its answers at a set latency.

``python -m benchmarks.replay_server CONFIG.json`` listens on 127.0.0.1 and answers each
request, keyed by its method and target (path and query, byte for byte), with the fake Tabnine
server's real answer to that request: status, ``Content-Type``, ``Retry-After`` and body. The
first time a request is seen (a *miss*) it is forwarded to the fake server and the answer is
stored; every later time (a *hit*) the stored bytes are written back after the latency, counted
from the request's arrival with ``loop.call_later``. A hit costs a few tens of microseconds of
CPU, where the fake server (aiohttp's web server and the fake's whole pipeline) spends most of a
millisecond, so with 64 requests in flight at 50 ms the replayed walk measures the client and
the latency, not the server.

It listens on one port per entry of ``listeners``, each with its own latency and one shared
recording, so a single warm-up serves the fixed, jittered and slow walks. A listener's latency is
``latency_ms`` (``fixed``) or drawn uniformly from ``latency_ms ± jitter_ms`` (``uniform``), as
the fake server's own latency option does. Answers on one connection keep
their order even when the drawn latencies would reorder them. Misses are answered as soon as the
fake server answers: they only happen in the untimed warm-up run that fills the recording.

Control routes, as the benchmark runner expects of a server: ``/__fake__/stats`` (with
``hits`` and ``misses`` next to the usual counters; one set for the whole process) and
``/__fake__/reset-stats``. CONFIG.json holds ``upstream`` (the fake's base URL), ``token`` (the
fake's token, which clients send and hits are checked against), ``seed`` and ``listeners`` (a
list of ``{"latency_ms", "jitter_ms", "distribution"}``). It prints one JSON line
``{"base_urls": [...], "token": ...}`` when it is ready.
"""

from __future__ import annotations

import asyncio
import json
import random
import selectors
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from .static_server import request_heads

__all__ = ["main"]

#: Answer headers worth replaying; the rest (Date, Server) describe the fake, not the answer.
_KEPT_HEADERS = ("Content-Type", "Retry-After")

#: Request headers not forwarded on a miss: hop-by-hop ones, and encodings, so the recorded
#: body is the plain bytes that ``Content-Length`` describes.
_DROPPED_HEADERS = {b"host", b"connection", b"content-length", b"accept-encoding", b"keep-alive"}


def _response(status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json(status: int, reason: str, data: Any) -> bytes:
    body = json.dumps(data).encode()
    return _response(status, reason, [("Content-Type", "application/json")], body)


class _Latency:
    """One listener's latency: fixed, or uniform around the mean."""

    def __init__(self, config: dict[str, Any], seed: int) -> None:
        self.latency = float(config.get("latency_ms", 0.0)) / 1000
        self.jitter = float(config.get("jitter_ms", 0.0)) / 1000
        distribution = config.get("distribution", "fixed")
        if distribution not in ("fixed", "uniform"):
            raise ValueError(f"unsupported distribution {distribution!r}")
        if distribution == "fixed":
            self.jitter = 0.0
        self.random = random.Random(seed)

    def delay(self) -> float:
        if not self.jitter:
            return self.latency
        return max(0.0, self.latency + (2 * self.random.random() - 1) * self.jitter)


class _Replay:
    """The recording and the counters, shared by every listener and connection."""

    def __init__(self, config: dict[str, Any], session: aiohttp.ClientSession) -> None:
        self.upstream: str = config["upstream"].rstrip("/")
        self.auth = f"Bearer {config['token']}".encode()
        self.session = session
        self.recorded: dict[bytes, bytes] = {}
        self.reset()

    def reset(self) -> None:
        self.hits = 0
        self.misses = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.per_second: Counter[int] = Counter()
        # How late answers went out after they were due (the loop's timer granularity).
        self.late_total = 0.0

    def stats(self) -> dict[str, Any]:
        seconds = sorted(self.per_second)
        per_second = (
            [self.per_second[s] for s in range(seconds[0], seconds[-1] + 1)] if seconds else []
        )
        return {
            "total_requests": self.hits + self.misses,
            "hits": self.hits,
            "misses": self.misses,
            "recorded": len(self.recorded),
            "max_in_flight": self.max_in_flight,
            "late_ms": 1000 * self.late_total / self.hits if self.hits else 0.0,
            "rate_limited": 0,
            # Arrivals per whole second of the loop clock: close enough to a sliding window here.
            "max_in_one_second": max(per_second, default=0),
            "per_second": per_second,
        }

    async def fetch(self, method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
        """Forward one request to the fake server; the answer's bytes as they will be replayed."""
        async with self.session.request(
            method, self.upstream + target, headers=headers, allow_redirects=False
        ) as reply:
            body = await reply.read()
            kept = [(name, reply.headers[name]) for name in _KEPT_HEADERS if name in reply.headers]
            return _response(reply.status, reply.reason or "", kept, body)


class _Connection(asyncio.Protocol):
    """One client connection: hits go out after the latency, misses once recorded."""

    def __init__(self, replay: _Replay, latency: _Latency) -> None:
        self._replay = replay
        self._latency = latency
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        # When the previous answer on this connection goes out: answers must keep their order.
        self._last_due = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        heads, self._buffer = request_heads(self._buffer + data if self._buffer else data)
        for head in heads:
            self._request(head)

    def _request(self, head: bytes) -> None:
        line_end = head.find(b"\r\n")
        line = head if line_end < 0 else head[:line_end]
        method, target, _ = line.split(b" ", 2)
        if target.startswith(b"/__fake__/"):
            self._write(self._control(target))
            return
        replay = self._replay
        now = self._loop.time()
        replay.per_second[int(now)] += 1
        key = method + b" " + target
        answer = replay.recorded.get(key)
        if answer is None:
            replay.misses += 1
            task = self._loop.create_task(self._miss(key, method, target, head[line_end + 2 :]))
            task.add_done_callback(_report_failure)
            return
        replay.hits += 1
        if replay.auth not in head:
            answer = _json(401, "Unauthorized", {"message": "Unauthorized"})
        due = max(now + self._latency.delay(), self._last_due)
        self._last_due = due
        replay.in_flight += 1
        replay.max_in_flight = max(replay.max_in_flight, replay.in_flight)
        self._loop.call_at(due, self._send_later, answer, due)

    def _send_later(self, answer: bytes, due: float) -> None:
        self._replay.in_flight -= 1
        self._replay.late_total += self._loop.time() - due
        self._write(answer)

    def _write(self, answer: bytes) -> None:
        if self._transport is not None:
            self._transport.write(answer)

    async def _miss(self, key: bytes, method: bytes, target: bytes, rest: bytes) -> None:
        headers = []
        for raw in rest.split(b"\r\n"):
            name, _, value = raw.partition(b":")
            if name and name.strip().lower() not in _DROPPED_HEADERS:
                headers.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
        answer = await self._replay.fetch(method.decode(), target.decode("latin-1"), headers)
        # Answers that depend on timing or on who asked are not worth replaying.
        if answer[9:12] not in (b"401", b"429", b"503"):
            self._replay.recorded[key] = answer
        self._write(answer)

    def _control(self, target: bytes) -> bytes:
        if target.startswith(b"/__fake__/reset-stats"):
            self._replay.reset()
            return _json(200, "OK", {})
        return _json(200, "OK", self._replay.stats())


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"replay: forwarding failed: {task.exception()!r}", file=sys.stderr, flush=True)


async def _serve(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        replay = _Replay(config, session)
        servers = []
        for number, listener in enumerate(config["listeners"]):
            latency = _Latency(listener, int(config.get("seed", 0)) + number)
            servers.append(
                await loop.create_server(
                    lambda latency=latency: _Connection(replay, latency),  # type: ignore[misc]
                    "127.0.0.1",
                    0,
                    backlog=1024,
                )
            )
        ports = [server.sockets[0].getsockname()[1] for server in servers]
        ready = {
            "base_urls": [f"http://127.0.0.1:{port}" for port in ports],
            "token": config["token"],
        }
        print(json.dumps(ready), flush=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        for server in servers:
            server.close()
            await server.wait_closed()


def main(argv: list[str]) -> int:
    """Replay the fake server named in the JSON config file ``argv[0]`` until SIGTERM."""
    config = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    # select() takes its timeout in microseconds, epoll in whole milliseconds rounded up: on
    # epoll every answer would go out up to a millisecond late, 1-2 % of a 50 ms round trip
    # that the client would be blamed for. The walk's 256 connections stay far below select's
    # 1024 descriptors.
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        loop.run_until_complete(_serve(config))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
