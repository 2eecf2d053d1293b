"""A server that does almost no work per request, so that the client is what gets measured.

``python -m benchmarks.static_server BODIES.json`` answers every ``GET`` with a response whose
bytes were built once at start-up: the path's prefix picks the body (``BODIES.json`` maps path
prefixes to files holding a real answer of the fake Tabnine server). There is no routing beyond
that, no JSON encoding, no dataset, no latency: a raw asyncio protocol that finds the end of each
request's headers and writes the prepared bytes. It costs a few tens of microseconds per request,
a small fraction of what any client spends building the request and reading the answer.

It speaks just enough of the fake's control routes for the benchmark runner
(``/__fake__/stats`` and ``/__fake__/reset-stats``) and checks the bearer token. It prints one
JSON line ``{"base_url": ..., "token": ...}`` when it is ready, like the fake server's ``--json``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import socket
import sys
from pathlib import Path

__all__ = ["main", "request_heads"]


def _response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def request_heads(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete request heads in ``buffer`` (GETs: no bodies), and the bytes after them."""
    heads = []
    while (end := buffer.find(b"\r\n\r\n")) >= 0:
        heads.append(buffer[:end])
        buffer = buffer[end + 4 :]
    return heads, buffer


class _State:
    """Counters shared by every connection of this process."""

    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0


class _Static(asyncio.Protocol):
    """One connection: answer each complete request head with prepared bytes."""

    def __init__(self, routes: list[tuple[bytes, bytes]], auth: bytes, state: _State) -> None:
        self._routes = routes
        self._auth = auth
        self._state = state
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        heads, self._buffer = request_heads(self._buffer + data if self._buffer else data)
        for head in heads:
            transport.write(self._answer(head))

    def _answer(self, head: bytes) -> bytes:
        line = head[: head.find(b"\r\n")]
        path = line.split(b" ", 2)[1]
        if path.startswith(b"/__fake__/"):
            return self._control(path)
        self._state.requests += 1
        if self._auth not in head:
            return _response("401 Unauthorized", b'{"message":"Unauthorized"}')
        for prefix, answer in self._routes:
            if path.startswith(prefix):
                return answer
        return _response("404 Not Found", b'{"message":"Not Found"}')

    def _control(self, path: bytes) -> bytes:
        if path.startswith(b"/__fake__/reset-stats"):
            self._state.requests = 0
            return _response("200 OK", b"{}")
        stats = {
            "total_requests": self._state.requests,
            "max_in_flight": 0,
            "rate_limited": 0,
            "max_in_one_second": 0,
            "per_second": [],
        }
        return _response("200 OK", json.dumps(stats).encode())


async def _serve(bodies: dict[str, Path]) -> None:
    token = secrets.token_urlsafe(24)
    routes = [
        (prefix.encode(), _response("200 OK", path.read_bytes()))
        for prefix, path in sorted(bodies.items(), key=lambda item: -len(item[0]))
    ]
    state = _State()
    auth = f"Bearer {token}".encode()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Static(routes, auth, state), "127.0.0.1", 0, backlog=1024
    )
    sock: socket.socket = server.sockets[0]
    port = sock.getsockname()[1]
    print(json.dumps({"base_url": f"http://127.0.0.1:{port}", "token": token}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> int:
    """Serve the bodies named in the JSON file ``argv[0]`` until SIGTERM."""
    mapping = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    asyncio.run(_serve({prefix: Path(name) for prefix, name in mapping.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
