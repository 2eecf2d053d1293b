"""TLS to PostgreSQL with libpq's ``sslmode`` and ``sslrootcert``, against a TLS-only front.

The test server's build has no TLS, so a small front on 127.0.0.1 plays PostgreSQL's side of the
TLS negotiation (answers the SSLRequest with ``S``, then a real TLS handshake with a certificate
from a throwaway CA) and relays the decrypted protocol to the server. It refuses clients that do
not ask for TLS, as a server with ``hostssl``-only rules does. The driver's TLS is thus exercised
for real: handshake, certificate and host-name checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from tabnine_usage_async.destinations import DestinationError, open_destination
from tests.destination_contract import EVENTS, NOV, event_rows, rows_of, unit
from tests.postgres_server import PostgresServer

_SSL_REQUEST = 80877103


class TlsFront:
    """Accepts TLS PostgreSQL clients and relays them to the plain server."""

    def __init__(self, upstream_port: int, context: ssl.SSLContext) -> None:
        self.upstream_port = upstream_port
        self.context = context
        self.tls_sessions = 0
        self.refused = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length, code = struct.unpack("!ii", await reader.readexactly(8))
        if length != 8 or code != _SSL_REQUEST:
            self.refused += 1
            return
        writer.write(b"S")
        await writer.drain()
        loop = asyncio.get_running_loop()
        protocol = writer.transport.get_protocol()
        tls = await loop.start_tls(writer.transport, protocol, self.context, server_side=True)
        assert tls is not None
        secure = asyncio.StreamWriter(tls, protocol, reader, loop)
        self.tls_sessions += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, secure))
        finally:
            up_writer.transport.abort()
            tls.abort()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        raise OSError("closed")


@pytest.fixture
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture
async def front(postgres_server: PostgresServer, ca: trustme.CA) -> AsyncIterator[TlsFront]:
    """A TLS-only front to the test server, its certificate issued for 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    tls = TlsFront(postgres_server.port, context)
    await tls.start()
    try:
        yield tls
    finally:
        await tls.stop()


def _url(server: PostgresServer, front: TlsFront, schema: str, **query: str) -> str:
    url = server.url(password=True, schema=schema, **query)
    return url.replace(f":{server.port}/", f":{front.port}/")


async def _round_trip(url: str) -> None:
    dest = open_destination(url)
    await dest.open([EVENTS])
    try:
        run = await dest.begin_run(started_at=NOV, api_version="v2", job={})
        rows = event_rows("a", NOV, 3, 1)
        await dest.write(run, [unit("a", rows)])
        assert len(await rows_of(dest, "events")) == 3
    finally:
        await dest.close()


async def test_sslmode_require_encrypts_without_checking_the_certificate(
    postgres_server: PostgresServer, front: TlsFront
) -> None:
    """sslmode=require connects over TLS and, without sslrootcert, trusts any certificate."""
    await _round_trip(_url(postgres_server, front, "tls_require", sslmode="require"))
    assert front.tls_sessions >= 1 and front.refused == 0


async def test_sslmode_verify_full_checks_the_certificate(
    postgres_server: PostgresServer, front: TlsFront, ca: trustme.CA, tmp_path: Path
) -> None:
    """verify-full with the right CA connects; with another CA it fails with one clear error."""
    good = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(good))
    url = _url(postgres_server, front, "tls_verify", sslmode="verify-full", sslrootcert=str(good))
    await _round_trip(url)
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    bad = _url(postgres_server, front, "tls_verify", sslmode="verify-full", sslrootcert=str(other))
    with pytest.raises(DestinationError, match="cannot connect") as caught:
        await open_destination(bad).open([EVENTS])
    assert "certificate" in str(caught.value).lower()
    assert postgres_server.password not in str(caught.value)


async def test_sslmode_disable_does_not_use_tls(
    postgres_server: PostgresServer, front: TlsFront
) -> None:
    """sslmode=disable never asks for TLS, so the TLS-only front refuses it."""
    url = _url(postgres_server, front, "tls_disable", sslmode="disable")
    with pytest.raises(DestinationError, match="cannot connect"):
        await open_destination(url).open([EVENTS])
    assert front.refused == 1 and front.tls_sessions == 0
