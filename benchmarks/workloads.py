"""The contenders: the same requests, made by our client and by the scripts users would write.

Every workload runs in a child process of its own (see ``benchmarks.child``) and returns a
``dict`` of measurements. The baselines share one structure with ours (a pool of ``concurrency``
workers pulling from one list of requests), so the only difference between contenders is the
HTTP library and what is done with the body.

Contenders:

- ``ours``: ``TabnineClient`` as users get it: typed models, limiters and retries all on.
- ``aiohttp``: a hand-written aiohttp loop, ``json.loads`` and no models: the floor.
- ``httpx``: the same loop with ``httpx.AsyncClient``: what many users would write.
- ``sequential``: one request after the other (the walk only; a sample, extrapolated).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp
import httpx

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.listing import list_members
from tabnine_usage_async.orchestrator import Entity, plan_units, walk_usage
from tabnine_usage_async.windows import format_datetime, resolve_range, split_windows

__all__ = ["CONTENDERS", "run_workload"]

#: Every contender, in the order the table lists them.
CONTENDERS = ("ours", "aiohttp", "httpx", "sequential")

Params = dict[str, str]
_USAGE_PATHS = {
    "organization": "/api/v1/organization/usage",
    "team": "/api/v1/team/usage",
    "user": "/api/v1/user/usage",
}
_V2_USER_PATH = "/api/v2/user/usage"


@dataclass
class Tally:
    """What one workload counted."""

    ok: int = 0
    attempts: int = 0
    status_429: int = 0
    failed: int = 0
    records: int = 0
    first_record: float | None = None
    started: float = field(default_factory=time.perf_counter)

    def record(self, blocks: int) -> None:
        """Count one successful usage answer with ``blocks`` records."""
        self.ok += 1
        self.records += blocks
        if self.first_record is None:
            self.first_record = time.perf_counter() - self.started


def _speed_parser() -> bool:
    """Whether the SDK parses with the speed extra's parser in this process."""
    from tabnine_usage_async import _guard

    return _guard._FAST_PARSE is not None


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


# -- request lists ----------------------------------------------------------------------------


def user_usage_requests(spec: dict[str, Any]) -> list[tuple[str, datetime, datetime]]:
    """The ``count`` (user id, from, to) triples of the overhead and rate scenarios."""
    users: list[str] = spec["user_ids"]
    windows = [(_parse(a), _parse(b)) for a, b in spec["windows"]]
    out = []
    for i in range(int(spec["count"])):
        start, end = windows[(i // len(users)) % len(windows)]
        out.append((users[i % len(users)], start, end))
    return out


def _usage_params(
    org_id: str, scope: str, entity: str, start: datetime, end: datetime, granularity: str
) -> Params:
    params = {"organizationId": org_id}
    if scope == "team":
        params["teamId"] = entity
    elif scope == "user":
        params["userId"] = entity
    params.update(
        {"from": format_datetime(start), "to": format_datetime(end), "granularity": granularity}
    )
    return params


async def _pool(
    concurrency: int, jobs: Sequence[Any], work: Callable[[Any], Awaitable[None]]
) -> None:
    """Run ``work(job)`` for every job with ``concurrency`` workers pulling from one iterator."""
    iterator: Iterator[Any] = iter(jobs)

    async def worker() -> None:
        for job in iterator:
            await work(job)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# -- a generic GET for the baselines -----------------------------------------------------------

Getter = Callable[[str, Params], Awaitable[tuple[int, bytes, str | None]]]


async def _get_json(get: Getter, tally: Tally, path: str, params: Params) -> Any:
    """GET until it is not a 429 (sleeping Retry-After, naively, per request)."""
    while True:
        tally.attempts += 1
        status, body, retry_after = await get(path, params)
        if status == 429:
            tally.status_429 += 1
            await asyncio.sleep(float(retry_after or 1))
            continue
        if status != 200:
            tally.failed += 1
            return None
        return json.loads(body)


def _aiohttp_getter(session: aiohttp.ClientSession, base: str, concurrency: int) -> Getter:
    semaphore = asyncio.Semaphore(concurrency)

    async def get(path: str, params: Params) -> tuple[int, bytes, str | None]:
        async with semaphore, session.get(base + path, params=params) as response:
            return response.status, await response.read(), response.headers.get("Retry-After")

    return get


def _httpx_getter(client: httpx.AsyncClient, concurrency: int) -> Getter:
    semaphore = asyncio.Semaphore(concurrency)

    async def get(path: str, params: Params) -> tuple[int, bytes, str | None]:
        async with semaphore:
            response = await client.get(path, params=params)
            return response.status_code, response.content, response.headers.get("Retry-After")

    return get


async def _with_getter(
    contender: str, spec: dict[str, Any], body: Callable[[Getter], Awaitable[None]]
) -> None:
    concurrency = int(spec["concurrency"])
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    if contender == "aiohttp":
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
            await body(_aiohttp_getter(session, spec["base_url"], concurrency))
    else:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=spec["base_url"], headers=headers, limits=limits, timeout=60
        ) as client:
            await body(_httpx_getter(client, concurrency))


# -- scenario: a list of user-usage requests ---------------------------------------------------


async def requests_ours(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """Our client: ``get_user_usage`` for every request, ``concurrency`` at a time."""
    jobs = user_usage_requests(spec)
    org_id: str = spec["org_id"]
    granularity: str = spec["granularity"]
    v2 = spec.get("api") == "v2"
    async with TabnineClient(
        token=spec["token"],
        base_url=spec["base_url"],
        max_concurrency=int(spec["concurrency"]),
        rate_limit=spec.get("rate_limit"),
        organization_id=org_id,
    ) as client:
        tally.started = time.perf_counter()

        async def one(job: tuple[str, datetime, datetime]) -> None:
            user_id, start, end = job
            if v2:
                report_v2 = await client.get_user_usage_v2(
                    user_id, start, end, granularity, organization_id=org_id
                )
                tally.record(len(report_v2.buckets))
                return
            report = await client.get_user_usage(
                user_id, start, end, granularity, organization_id=org_id
            )
            tally.record(len(report.blocks))

        await _pool(int(spec["concurrency"]), jobs, one)
        tally.attempts = client.stats.requests
        tally.status_429 = client.stats.rate_limited
        tally.failed = client.stats.failures
    return {}


async def requests_baseline(contender: str, spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """A baseline: the same requests, JSON parsed, the records counted."""
    jobs = user_usage_requests(spec)
    org_id: str = spec["org_id"]
    granularity: str = spec["granularity"]
    path = _V2_USER_PATH if spec.get("api") == "v2" else _USAGE_PATHS["user"]

    async def body(get: Getter) -> None:
        tally.started = time.perf_counter()

        async def one(job: tuple[str, datetime, datetime]) -> None:
            user_id, start, end = job
            params = _usage_params(org_id, "user", user_id, start, end, granularity)
            data = await _get_json(get, tally, path, params)
            if data is not None:
                tally.record(len(data["usage"]["data"]))

        await _pool(int(spec["concurrency"]), jobs, one)

    await _with_getter(contender, spec, body)
    return {}


# -- scenario: the walk -----------------------------------------------------------------------


async def walk_ours(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """Our ``walk_usage`` over the whole organization."""
    async with TabnineClient(
        token=spec["token"],
        base_url=spec["base_url"],
        max_concurrency=int(spec["concurrency"]),
        page_size=100,
    ) as client:
        tally.started = time.perf_counter()
        walk = walk_usage(client, spec["start"], spec["end"], spec["granularity"], spec["window"])
        listing_done: float | None = None
        async with walk:
            async for unit in walk.units():
                tally.record(len(unit.records))
                if listing_done is None and walk.progress.listing_done:
                    listing_done = time.perf_counter() - tally.started
        tally.attempts = client.stats.requests
        tally.status_429 = client.stats.rate_limited
        tally.failed = client.stats.failures + len(walk.failures)
    return {"listing_done": listing_done, "units": walk.progress.units_done}


async def _list_all(get: Getter, tally: Tally, path: str, params: Params) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await _get_json(get, tally, path, {**params, "offset": str(offset), "limit": "100"})
        if page is None:
            return items
        items.extend(page["data"])
        if not page["data"] or not (page.get("meta") or {}).get("next"):
            return items
        offset += len(page["data"])


async def _list_units(
    get: Getter, tally: Tally, spec: dict[str, Any], parallel: int
) -> list[tuple[str, str]]:
    """List the organization like a script would: teams, then members, then unassigned users."""
    org = await _get_json(get, tally, "/api/v1/organization", {})
    org_id: str = org["id"]
    teams = await _list_all(get, tally, "/api/v1/organization/teams", {})
    semaphore = asyncio.Semaphore(parallel)

    async def members(path: str, params: Params) -> list[dict[str, Any]]:
        async with semaphore:
            return await _list_all(get, tally, path, params)

    listings = [members(f"/api/v1/team/{team['id']}/users", {}) for team in teams]
    for active in ("true", "false"):
        params = {"organizationId": org_id, "teamMember": "false", "active": active}
        listings.append(members("/api/v1/organization/users", params))
    users = dict.fromkeys(
        user["id"] for listed in await asyncio.gather(*listings) for user in listed
    )
    entities = [("organization", org_id)] + [("team", t["id"]) for t in teams]
    return entities + [("user", user_id) for user_id in users]


def _windows(spec: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    start, end = resolve_range(spec["start"], spec["end"])
    return [(w.start, w.end) for w in split_windows(start, end, spec["window"])]


async def walk_baseline(contender: str, spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """The walk as a script: list everything, then fetch every unit ``concurrency`` at a time."""
    extra: dict[str, Any] = {}

    async def body(get: Getter) -> None:
        tally.started = time.perf_counter()
        entities = await _list_units(get, tally, spec, parallel=4)
        extra["listing_done"] = time.perf_counter() - tally.started
        org_id = entities[0][1]
        units = [(scope, entity, w) for scope, entity in entities for w in _windows(spec)]
        extra["units"] = len(units)

        async def one(unit: tuple[str, str, tuple[datetime, datetime]]) -> None:
            scope, entity, (start, end) = unit
            params = _usage_params(org_id, scope, entity, start, end, spec["granularity"])
            data = await _get_json(get, tally, _USAGE_PATHS[scope], params)
            if data is not None:
                tally.record(len(data["usage"]["data"]))

        await _pool(int(spec["concurrency"]), units, one)

    await _with_getter(contender, spec, body)
    return extra


async def walk_sequential(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """The "before" picture: one request at a time, on a sample of units, extrapolated."""
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    async with httpx.AsyncClient(base_url=spec["base_url"], headers=headers, timeout=60) as client:

        async def get(path: str, params: Params) -> tuple[int, bytes, str | None]:
            response = await client.get(path, params=params)
            return response.status_code, response.content, response.headers.get("Retry-After")

        tally.started = time.perf_counter()
        entities = await _list_units(get, tally, spec, parallel=1)
        listing = time.perf_counter() - tally.started
        org_id = entities[0][1]
        units = [(scope, entity, w) for scope, entity in entities for w in _windows(spec)]
        # An even spread over the organization, teams and users alike.
        sample_size = min(len(units), int(spec["sample_units"]))
        step = max(1, len(units) // sample_size)
        sample = units[::step][:sample_size]
        began = time.perf_counter()
        for scope, entity, (start, end) in sample:
            params = _usage_params(org_id, scope, entity, start, end, spec["granularity"])
            data = await _get_json(get, tally, _USAGE_PATHS[scope], params)
            if data is not None:
                tally.record(len(data["usage"]["data"]))
        per_unit = (time.perf_counter() - began) / max(1, len(sample))
    return {
        "listing_done": listing,
        "units": len(units),
        "sample_units": len(sample),
        "extrapolated_wall": listing + per_unit * len(units),
    }


# -- scenario: memory of a streaming walk into a file ------------------------------------------


async def memory_ours(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """Stream a whole walk into a JSON Lines file; the caller reads this process's peak RSS."""
    output = spec["output"]
    async with TabnineClient(
        token=spec["token"], base_url=spec["base_url"], max_concurrency=int(spec["concurrency"])
    ) as client:
        tally.started = time.perf_counter()
        try:
            from tabnine_usage_async.backfill import backfill
        except ImportError:  # the sinks without the resumable backfill on top
            how = "walk_usage+open_sink"
            from tabnine_usage_async.sinks import open_sink

            walk = walk_usage(
                client, spec["start"], spec["end"], spec["granularity"], spec["window"]
            )
            with open_sink(output, "jsonl") as sink:
                async with walk:
                    async for unit in walk.units():
                        sink.write(unit.records)
                        tally.record(len(unit.records))
        else:
            how = "backfill"
            summary = await backfill(
                client,
                spec["start"],
                spec["end"],
                sink=output,
                granularity=spec["granularity"],
                window=spec["window"],
            )
            tally.ok = summary.units_done
            tally.records = summary.records_written
        tally.attempts = client.stats.requests
        tally.failed = client.stats.failures
    return {"via": how}


# -- scenario: scale ------------------------------------------------------------------------------


async def scale_list(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """List the whole organization (every user once, with teams) and plan one window's units."""
    async with TabnineClient(
        token=spec["token"],
        base_url=spec["base_url"],
        max_concurrency=int(spec["concurrency"]),
        page_size=100,
    ) as client:
        tally.started = time.perf_counter()
        org_id = await client.resolve_organization_id()
        roster = await list_members(client)
        listed = time.perf_counter() - tally.started
        entities = [Entity("organization", org_id)]
        entities += [Entity("team", team_id) for team_id in roster.team_ids]
        entities += [Entity("user", m.id, m.team_ids, m.email) for m in roster.members]
        units = sum(1 for _ in plan_units(entities, _windows(spec)))
        planned = time.perf_counter() - tally.started - listed
        tally.ok = units
        tally.attempts = client.stats.requests
        tally.failed = client.stats.failures
    return {"listing_s": listed, "planning_s": planned, "users": len(roster.members)}


def dry_run(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """``tabnine-usage backfill --dry-run`` in this process, as a user would run it."""
    from tabnine_usage_async.cli import main

    os.environ["TABNINE_API_TOKEN"] = spec["token"]
    argv = [
        "backfill",
        "--dry-run",
        "--base-url",
        spec["base_url"],
        "--start",
        spec["start"],
        "--end",
        spec["end"],
        "--window",
        spec["window"],
        "--granularity",
        spec["granularity"],
        "--concurrency",
        str(spec["concurrency"]),
        "--output",
        spec["output"],
        "-q",
    ]
    tally.started = time.perf_counter()
    code = main(argv)
    if code != 0:
        raise RuntimeError(f"the dry run exited with {code}")
    tally.ok = 1
    return {}


async def sync_ours(spec: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """One ``run_sync`` into a SQLite dataset (a first sync is a full backfill of the range).

    With ``plan_only``, only the planning a run starts with (``plan_sync``, as ``--dry-run``):
    the roster listing and the dataset's state, nothing fetched or written.
    """
    from tabnine_usage_async.sync import SyncSpec, plan_sync, run_sync

    job = SyncSpec.build(
        spec["target"], since=spec["since"], now=spec["now"], streams=spec["streams"]
    )
    async with TabnineClient(
        token=spec["token"], base_url=spec["base_url"], max_concurrency=int(spec["concurrency"])
    ) as client:
        tally.started = time.perf_counter()
        if spec.get("plan_only"):
            plan = await plan_sync(client, job)
            tally.ok = client.stats.requests - client.stats.failures
            tally.attempts = client.stats.requests
            tally.failed = client.stats.failures + len(plan.listing_failures)
            return {"units": sum(p.units for p in plan.per_stream), "status": "planned"}
        summary = await run_sync(client, job)
        tally.ok = client.stats.requests - client.stats.failures
        tally.attempts = client.stats.requests
        tally.status_429 = client.stats.rate_limited
        tally.failed = client.stats.failures + len(summary.failed)
        tally.records = summary.records
    return {"units": summary.units_done, "status": summary.status}


# -- dispatch -----------------------------------------------------------------------------------


async def _dispatch(
    kind: str, contender: str, spec: dict[str, Any], tally: Tally
) -> dict[str, Any]:
    if kind == "requests":
        if contender == "ours":
            return await requests_ours(spec, tally)
        return await requests_baseline(contender, spec, tally)
    if kind == "walk":
        if contender == "ours":
            return await walk_ours(spec, tally)
        if contender == "sequential":
            return await walk_sequential(spec, tally)
        return await walk_baseline(contender, spec, tally)
    if kind == "memory":
        return await memory_ours(spec, tally)
    if kind == "scale-list":
        return await scale_list(spec, tally)
    if kind == "sync":
        return await sync_ours(spec, tally)
    raise ValueError(f"unknown workload {kind!r}")


def _run(main: Coroutine[Any, Any, dict[str, Any]], loop: str) -> dict[str, Any]:
    """Run ``main`` on asyncio's default event loop or on uvloop's."""
    if loop == "asyncio":
        return asyncio.run(main)
    if loop != "uvloop":
        raise ValueError(f"unknown event loop {loop!r}")
    import uvloop

    event_loop = uvloop.new_event_loop()
    try:
        asyncio.set_event_loop(event_loop)
        return event_loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        event_loop.close()


def run_workload(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one workload in this process and return its measurements.

    ``wall`` and ``cpu`` cover the workload only (not interpreter start-up or imports); ``cpu`` is
    this process's user + system time; ``elapsed`` runs from the first request (after the client
    is set up) to the end; ``max_rss_kb`` is the process's peak resident set size.
    """
    kind, contender = spec["kind"], spec["contender"]
    if contender not in CONTENDERS:
        raise ValueError(f"unknown contender {contender!r}")
    tally = Tally()
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    if kind == "dry-run":  # the command line runs its own event loop
        extra = dry_run(spec, tally)
    else:
        extra = _run(_dispatch(kind, contender, spec, tally), spec.get("loop", "asyncio"))
    ended = time.perf_counter()
    wall = ended - began
    cpu = _cpu_seconds() - cpu_before
    return {
        "wall": wall,
        "elapsed": ended - tally.started,
        "cpu": cpu,
        "ok": tally.ok,
        "attempts": tally.attempts,
        "status_429": tally.status_429,
        "failed": tally.failed,
        "records": tally.records,
        "first_record": tally.first_record,
        "loop": spec.get("loop", "asyncio"),
        "speed_parser": _speed_parser(),
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        **extra,
    } | ({"output_bytes": os.path.getsize(spec["output"])} if kind == "memory" else {})
