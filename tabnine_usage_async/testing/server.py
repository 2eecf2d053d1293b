"""Start and stop the fake server in the current event loop."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime

from aiohttp import web

from .dataset import DEFAULT_TODAY, Dataset
from .fake_server import FakeServerConfig, FakeTabnineApp, Version
from .faults import FaultConfig, ScriptedFault
from .stats import ServerStats
from .throttle import Latency, SlowBody

__all__ = ["FakeTabnine", "new_token", "serve_fake_tabnine"]


def new_token() -> str:
    """A fresh random fake access token (never a real Tabnine token)."""
    return f"fake-tabnine-{secrets.token_hex(16)}"


@dataclass(frozen=True)
class FakeTabnine:
    """A running fake server: where it is, how to authenticate, and what it serves.

    ``base_url`` has no trailing slash (``http://127.0.0.1:PORT``); ``dataset`` is the ground
    truth; ``stats`` counts what the server saw.
    """

    base_url: str
    token: str
    dataset: Dataset
    server: FakeTabnineApp

    @property
    def stats(self) -> ServerStats:
        """Counters and the request log of this server."""
        return self.server.stats

    @property
    def organization_id(self) -> str:
        """The organization's id, as the usage endpoints expect in ``organizationId``."""
        return self.dataset.organization.id

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header that this server accepts."""
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        """``base_url`` joined with an absolute ``path`` such as ``/api/v1/organization``."""
        return self.base_url + path

    def add_scripted_fault(self, fault: ScriptedFault) -> None:
        """Inject ``fault`` into matching requests from now on (counting starts now)."""
        self.server.planner.add(fault)


def _latency(value: float | Latency | None) -> Latency | None:
    if value is None or isinstance(value, Latency):
        return value
    return Latency(mean_ms=float(value))


@asynccontextmanager
async def serve_fake_tabnine(
    *,
    teams: int = 5,
    users: int = 50,
    seed: int = 0,
    empty_teams: int = 0,
    today: date = DEFAULT_TODAY,
    dataset: Dataset | None = None,
    faults: FaultConfig | None = None,
    scripted: Iterable[ScriptedFault] = (),
    latency: float | Latency | None = None,
    slow_body: SlowBody | None = None,
    rate_limit: float | None = None,
    max_page_size: int = 100,
    short_pages: bool = False,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    version: Version = "6.2",
    v1_cutover: date | None = None,
    agent_license: bool = True,
    now: datetime | None = None,
) -> AsyncIterator[FakeTabnine]:
    """Serve a fake Tabnine API for the duration of the ``async with`` block.

    The organization comes from ``dataset`` or is built from ``seed``, ``teams``, ``users``,
    ``empty_teams`` and ``today``. ``latency`` is milliseconds or a :class:`Latency`;
    ``rate_limit`` is requests per second. ``version``, ``v1_cutover`` and ``agent_license``
    are described in :class:`FakeServerConfig`; ``now`` sets the dataset's clock
    (:meth:`Dataset.set_now`). Port 0 picks a free port. On exit, handlers that are
    still sleeping (latency, ``timeout`` faults, slow bodies) are woken and the server stops.

    Example::

        async with serve_fake_tabnine(users=30, seed=3) as fake:
            async with aiohttp.ClientSession(headers=fake.headers) as session:
                async with session.get(fake.url("/api/v1/organization")) as response:
                    assert (await response.json())["id"] == fake.organization_id
    """
    data = dataset or Dataset(
        seed=seed, teams=teams, users=users, empty_teams=empty_teams, today=today
    )
    config = FakeServerConfig(
        token=token or new_token(),
        max_page_size=max_page_size,
        short_pages=short_pages,
        latency=_latency(latency),
        slow_body=slow_body,
        rate_limit=rate_limit,
        faults=faults,
        scripted=tuple(scripted),
        version=version,
        v1_cutover=v1_cutover,
        agent_license=agent_license,
    )
    if now is not None:
        data.set_now(now)
    server = FakeTabnineApp(data, config)
    runner = web.AppRunner(server.app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        shown_host = f"[{host}]" if ":" in host else host
        server.stats.reset(server.now())
        yield FakeTabnine(f"http://{shown_host}:{bound_port}", config.token, data, server)
    finally:
        server.close()
        await runner.cleanup()
