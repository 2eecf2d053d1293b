"""Real network pieces for tests on 127.0.0.1: a TLS server with a generated CA, and a proxy.

The forward proxy is a few dozen lines of asyncio rather than a proxy package: it runs inside the
test's own event loop (nothing to start or stop in another process), records every request line
it forwards, checks ``Proxy-Authorization``, and refuses any target but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import trustme
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ORG = {"id": "org-1", "name": "Yagel"}


async def answer_org(request: web.Request) -> web.StreamResponse:
    """Answer every path with the organization, and say which client certificate was shown."""
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    return web.json_response(ORG, headers={"X-Client-Cert": "yes" if peer else "no"})


@contextlib.asynccontextmanager
async def tls_server(
    ca: trustme.CA, handler: Handler = answer_org, *, require_client_cert: bool = False
) -> AsyncIterator[str]:
    """An HTTPS server on 127.0.0.1 with a certificate from ``ca``; yields its base URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if require_client_cert:
        ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=context)
    try:
        yield f"https://127.0.0.1:{server.port}"
    finally:
        await server.close()


@attrs.define
class ForwardProxy:
    """An HTTP forward proxy: absolute-form requests for http, ``CONNECT`` tunnels for https."""

    credentials: tuple[str, str] | None = None
    seen: list[str] = attrs.field(factory=list)
    port: int = 0
    _tasks: set[asyncio.Task[None]] = attrs.field(factory=set)

    def url(self, *, userinfo: str = "") -> str:
        """The proxy's URL, with ``user:password@`` when given."""
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = [line for line in head.split("\r\n") if line]
        method, target, version = request_line.split(" ", 2)
        self.seen.append(f"{method} {target}")
        auth = next(
            (
                v.strip()
                for k, _, v in (h.partition(":") for h in lines)
                if k.lower() == "proxy-authorization"
            ),
            None,
        )
        if self.credentials is not None:
            user, password = self.credentials
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if auth != expected:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            if host != "127.0.0.1":
                raise ConnectionError("only 127.0.0.1 is reachable through this proxy")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = URL(target)
            if url.host != "127.0.0.1" or url.port is None:
                raise ConnectionError("only 127.0.0.1 is reachable through this proxy")
            up_reader, up_writer = await asyncio.open_connection(url.host, url.port)
            kept = [
                h
                for h in lines
                if not h.lower().startswith(("proxy-", "connection:", "keep-alive:"))
            ]
            forwarded = [f"{method} {url.raw_path_qs} {version}", *kept, "Connection: close"]
            up_writer.write(("\r\n".join(forwarded) + "\r\n\r\n").encode("latin-1"))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def forward_proxy(credentials: tuple[str, str] | None = None) -> AsyncIterator[ForwardProxy]:
    """A running ``ForwardProxy`` on 127.0.0.1 that stops (with its tunnels) on exit."""
    proxy = ForwardProxy(credentials)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for task in list(proxy._tasks):
            task.cancel()
        await asyncio.gather(*proxy._tasks, return_exceptions=True)
        await server.wait_closed()


Override = Callable[[web.Request], "web.StreamResponse | None"]


@contextlib.asynccontextmanager
async def hostile_front(upstream: str, override: Override) -> AsyncIterator[str]:
    """A server on 127.0.0.1 that relays to ``upstream`` except where ``override`` answers.

    ``override`` sees each request first; when it returns a response, that is sent instead.
    Yields the front's base URL.
    """
    from aiohttp import ClientSession

    async def relay(request: web.Request) -> web.StreamResponse:
        answer = override(request)
        if answer is not None:
            return answer
        async with session.get(
            upstream + request.path_qs, headers={"Authorization": request.headers["Authorization"]}
        ) as resp:
            return web.Response(
                status=resp.status, body=await resp.read(), content_type="application/json"
            )

    app = web.Application()
    app.router.add_get("/{tail:.*}", relay)
    async with ClientSession() as session, TestServer(app, host="127.0.0.1") as server:
        yield f"http://127.0.0.1:{server.port}"
