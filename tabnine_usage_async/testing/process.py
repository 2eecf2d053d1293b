"""Run the fake server until interrupted: the CLI entry and a separate-process helper.

The command line wires in with two calls::

    add_fake_server_arguments(subparsers.add_parser("fake-server"))
    ...
    return fake_server_main(args)

and ``python -m tabnine_usage_async.testing --port 0`` prints one JSON line
``{"base_url": ..., "token": ...}`` once it accepts connections, which is what
:func:`fake_tabnine_process` reads to drive a server in another process (for benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .fake_server import VERSIONS
from .faults import ALL_FAULT_KINDS, FaultConfig, FaultKind
from .server import FakeTabnine, serve_fake_tabnine
from .throttle import Latency

__all__ = [
    "FakeTabnineProcess",
    "add_fake_server_arguments",
    "fake_server_main",
    "fake_tabnine_process",
    "run_fake_server",
]


async def run_fake_server(
    *, ready: Callable[[FakeTabnine], None] | None = None, **options: Any
) -> None:
    """Serve until cancelled or until SIGINT/SIGTERM; ``options`` go to ``serve_fake_tabnine``.

    ``ready`` is called with the running server once it accepts connections.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with serve_fake_tabnine(**options) as fake:
            if ready is not None:
                ready(fake)
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def add_fake_server_arguments(parser: argparse.ArgumentParser, *, default_port: int = 8080) -> None:
    """Add the fake server's options (``--port``, ``--users``, ``--fault-rate``...)."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    parser.add_argument("--teams", type=int, default=20, help="teams, default team included")
    parser.add_argument("--users", type=int, default=500, help="users in the organization")
    parser.add_argument("--empty-teams", type=int, default=0, help="extra teams without members")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same organization")
    parser.add_argument("--token", default=None, help="access token to accept (default: random)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="mean added latency")
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0, help="latency spread")
    parser.add_argument(
        "--latency-distribution", choices=("fixed", "uniform", "lognormal"), default="fixed"
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of failed requests")
    parser.add_argument(
        "--fault-kinds",
        default=",".join(ALL_FAULT_KINDS),
        help="comma-separated fault kinds (default: all)",
    )
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of fault decisions")
    parser.add_argument(
        "--timeout-delay", type=float, default=5.0, help="seconds a 'timeout' fault stalls"
    )
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--max-page-size", type=int, default=100, help="server cap on limit")
    parser.add_argument("--short-pages", action="store_true", help="pages shorter than limit")
    parser.add_argument(
        "--server-version",
        dest="version",
        choices=VERSIONS,
        default="6.2",
        help="Tabnine version to play; 5.x lacks the 6.2 routes (default: %(default)s)",
    )
    parser.add_argument(
        "--v1-cutover",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="6.2 upgrade day: v1 usage counts no activity from it on",
    )
    parser.add_argument(
        "--no-agent-license",
        action="store_true",
        help="licence without the Agent feature (agent usage answers 403)",
    )
    parser.add_argument(
        "--now",
        type=_moment,
        default=None,
        metavar="DATETIME",
        help="the dataset's clock, e.g. 2026-01-15T12:00:00Z (default: midnight after today)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON line {base_url, token} when ready"
    )


def _options(args: argparse.Namespace) -> dict[str, Any]:
    kinds = tuple(k.strip() for k in str(args.fault_kinds).split(",") if k.strip())
    faults = None
    if args.fault_rate > 0:
        faults = FaultConfig(
            rate=args.fault_rate,
            kinds=tuple(_kind(k) for k in kinds),
            seed=args.fault_seed,
            timeout_delay=args.timeout_delay,
        )
    latency = None
    if args.latency_ms > 0:
        latency = Latency(
            args.latency_ms,
            jitter_ms=args.latency_jitter_ms,
            distribution=args.latency_distribution,
            seed=args.seed,
        )
    return {
        "host": args.host,
        "port": args.port,
        "teams": args.teams,
        "users": args.users,
        "empty_teams": args.empty_teams,
        "seed": args.seed,
        "token": args.token,
        "latency": latency,
        "faults": faults,
        "rate_limit": args.rate_limit,
        "max_page_size": args.max_page_size,
        "short_pages": args.short_pages,
        "version": args.version,
        "v1_cutover": args.v1_cutover,
        "agent_license": not args.no_agent_license,
        "now": args.now,
    }


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-01-15T12:00:00Z")
    return moment


def _kind(text: str) -> FaultKind:
    for kind in ALL_FAULT_KINDS:
        if kind == text:
            return kind
    raise ValueError(f"unknown fault kind {text!r}; choose from {', '.join(ALL_FAULT_KINDS)}")


def fake_server_main(args: argparse.Namespace) -> int:
    """Serve with the parsed options until interrupted; print where, and the token. Exit code."""
    try:
        options = _options(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    def announce(fake: FakeTabnine) -> None:
        if args.json:
            print(json.dumps({"base_url": fake.base_url, "token": fake.token}), flush=True)
        else:
            print(f"Fake Tabnine API: {fake.base_url}", flush=True)
            print(f"Token: {fake.token}", flush=True)
            print(f"Organization id: {fake.organization_id}", flush=True)
            print("Press Ctrl+C to stop.", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_fake_server(ready=announce, **options))
    return 0


@dataclass(frozen=True)
class FakeTabnineProcess:
    """A fake server running in a child process."""

    base_url: str
    token: str
    process: subprocess.Popen[str]

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header that the server accepts."""
        return {"Authorization": f"Bearer {self.token}"}

    def stats(self) -> dict[str, Any]:
        """The server's counters, read from ``GET /__fake__/stats``."""
        with urllib.request.urlopen(self.base_url + "/__fake__/stats", timeout=10) as reply:
            data: dict[str, Any] = json.load(reply)
        return data

    def reset_stats(self) -> None:
        """Clear the server's counters (``POST /__fake__/reset-stats``)."""
        request = urllib.request.Request(self.base_url + "/__fake__/reset-stats", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _control(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.base_url}/__fake__/{action}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            answer: dict[str, Any] = json.load(reply)
        return answer

    def set_now(self, moment: datetime) -> None:
        """Move the dataset's clock (see ``Dataset.set_now``)."""
        self._control("clock", {"now": moment.isoformat()})

    def correct(
        self, day: date, user_ids: Sequence[str] | None = None, revision: int | None = None
    ) -> int:
        """Re-draw past data of ``day`` (see ``Dataset.correct``); returns the revision."""
        payload = {"day": day.isoformat(), "userIds": user_ids, "revision": revision}
        return int(self._control("correct", payload)["revision"])

    def add_user(self, at: datetime, team_ids: Sequence[str] = (), role: str = "Member") -> str:
        """Add a user created at ``at`` (see ``Dataset.add_user``); returns its id."""
        payload = {"at": at.isoformat(), "teamIds": list(team_ids), "role": role}
        return str(self._control("add-user", payload)["id"])

    def deactivate_user(self, user_id: str, at: datetime) -> None:
        """Deactivate a user at ``at`` (see ``Dataset.deactivate_user``)."""
        self._control("deactivate-user", {"userId": user_id, "at": at.isoformat()})


_FLAGS = {"version": "--server-version"}


def _cli_args(options: dict[str, Any]) -> list[str]:
    args = ["--port", str(options.pop("port", 0)), "--json"]
    if options.pop("agent_license", True) is False:
        args.append("--no-agent-license")
    for name, value in options.items():
        flag = _FLAGS.get(name) or "--" + name.replace("_", "-")
        if isinstance(value, date | datetime):
            value = value.isoformat()
        if value is True:
            args.append(flag)
        elif value not in (None, False):
            args += [flag, ",".join(value) if isinstance(value, tuple | list) else str(value)]
    return args


@contextlib.contextmanager
def fake_tabnine_process(
    *, startup_timeout: float = 30.0, extra_args: Sequence[str] = (), **options: Any
) -> Iterator[FakeTabnineProcess]:
    """Run ``python -m tabnine_usage_async.testing`` in a child process for the block.

    ``options`` are the command-line options in Python spelling (``users=500``,
    ``latency_ms=30``, ``fault_rate=0.1``, ``fault_kinds=("503", "reset")``, ``short_pages=True``).
    The child is terminated (and killed if it lingers) on exit.

    Example::

        with fake_tabnine_process(users=2000, latency_ms=20) as fake:
            run_benchmark(fake.base_url, fake.token)
            print(fake.stats()["max_in_flight"])
    """
    command = [sys.executable, "-m", "tabnine_usage_async.testing"]
    command += _cli_args(dict(options)) + list(extra_args)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True)
    reader.start()
    try:
        try:
            line = lines.get(timeout=startup_timeout)
        except queue.Empty:
            raise RuntimeError("the fake server process did not start in time") from None
        if not line:
            raise RuntimeError(f"the fake server process exited with code {process.wait()}")
        ready = json.loads(line)
        yield FakeTabnineProcess(ready["base_url"], ready["token"], process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=1)
        stdout.close()
