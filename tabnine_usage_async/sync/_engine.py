"""The engine under every stream: fetch jobs concurrently, turn answers into unit writes.

A *job* is one request: a source (v2 usage, agent usage, audit events...) for one entity over one
window. It feeds every due unit of the streams that share the source, so ``agent_usage`` and
``agent_usage_breakdown`` cost one request per entity and window together. Jobs flow through a
bounded queue to ``workers`` tasks; their results flow back through a bounded stream to one
consumer (the run, which batches them into destination writes). Every buffer is bounded by the
number of workers, so a slow destination slows the fetching instead of growing memory. A usage
answer travels unread (``Unparsed``) and the consumer parses it: a worker sends its next request
before the CPU work of reading its answer, so the requests in flight stay full. A job
that still fails after the client's retries becomes one ``FailedUnit`` per unit it feeds; the
other jobs go on.

Jobs come from a plain iterable (a sync plans them from the destination's state) or from a
``JobProducer``, an async function that sends them as it finds them: a backfill and the walk list
the roster while the first users' jobs already run (see ``sync._feed``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Any, TypeVar

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._groups import one_error
from .._units import Entity, FailedUnit, WalkProgress
from .._unparsed import Unparsed
from ..client import TabnineClient
from ..destinations import UnitWrite
from ..errors import TabnineError
from ..streams import RowContext, Source
from ..streams._fetch import fetch_unread
from ..windows import Window
from ._plan import DueUnit

__all__ = [
    "FetchJob",
    "JobDone",
    "JobFailed",
    "JobProducer",
    "Result",
    "build_done",
    "fetch_jobs",
    "group_jobs",
    "unit_write",
]


@attrs.frozen
class FetchJob:
    """One request and the units (of one or more streams) its answer completes."""

    source: Source
    entity: Entity | None
    request: Window | None
    granularity: str
    units: tuple[DueUnit, ...]


@attrs.frozen
class JobDone:
    """A finished job: the writes of its units, ready for the destination.

    ``answer`` is what the server returned, kept so that a caller can build the rows again for
    another entity (a user fetched before the roster told all of its teams) or turn it into
    records of its own (the walk's ``UsageRecord``s).
    """

    job: FetchJob
    writes: tuple[UnitWrite, ...]
    answer: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def rows(self) -> int:
        """Rows in all of the job's writes."""
        return sum(len(w.rows) for w in self.writes)


@attrs.frozen
class JobFailed:
    """A job that still failed after retries: one ``FailedUnit`` per unit it would have fed."""

    job: FetchJob
    failures: tuple[FailedUnit, ...]
    error: TabnineError | None = attrs.field(default=None, eq=False, repr=False)


#: An async source of jobs: called with ``send``, it awaits ``send(job)`` for every job it finds
#: and returns when there are no more. ``send`` waits while the workers are busy.
JobProducer = Callable[[Callable[[FetchJob], Awaitable[None]]], Awaitable[None]]


def group_jobs(units: Iterable[DueUnit]) -> list[FetchJob]:
    """Units that one request answers (same source, entity, window, granularity) -> one job.

    Pure; jobs keep the order in which their first unit came.
    """
    jobs: dict[tuple[object, ...], list[DueUnit]] = {}
    for unit in units:
        ident = (unit.stream.source, unit.entity, unit.request, unit.granularity)
        jobs.setdefault(ident, []).append(unit)
    return [
        FetchJob(u[0].stream.source, u[0].entity, u[0].request, u[0].granularity, tuple(u))
        for u in jobs.values()
    ]


def unit_write(unit: DueUnit, rows: list[dict[str, object]], fetched_at: datetime) -> UnitWrite:
    """The write that replaces ``unit``'s rows in the destination."""
    window = unit.window
    if unit.entity is None or window is None:
        return UnitWrite(unit.stream.name, unit.key, {}, None, rows, True, fetched_at)
    if unit.stream.units == "organization":
        match: dict[str, object] = {}
    else:
        match = {
            "scope": unit.entity.scope,
            "entity_id": unit.entity.id,
            "granularity": unit.granularity,
        }
    complete = window.end <= fetched_at
    return UnitWrite(
        unit.stream.name, unit.key, match, (window.start, window.end), rows, complete, fetched_at
    )


def describe(exc: BaseException) -> str:
    """One readable line: the error class and message."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def failed_units(job: FetchJob, exc: TabnineError) -> JobFailed:
    """The failure of every unit ``job`` feeds."""
    cause = describe(exc)
    return JobFailed(
        job, tuple(FailedUnit(f"{u.stream.name}:{u.key}", cause, exc) for u in job.units), exc
    )


def build_done(job: FetchJob, answer: Any, organization_id: str, fetched_at: datetime) -> JobDone:
    """The writes of every unit ``job`` feeds, built from the server's ``answer``."""
    ctx = RowContext(organization_id, job.entity, fetched_at)
    writes = tuple(unit_write(u, u.stream.rows(answer, ctx), fetched_at) for u in job.units)
    return JobDone(job, writes, answer)


#: What the consumer receives for each job.
Result = JobDone | JobFailed
T = TypeVar("T")


@attrs.frozen
class _Fetched:
    """A job's answer on its way from a worker to the consumer, rows not built yet."""

    job: FetchJob
    answer: Any


def _finish(fetched: _Fetched | JobFailed, organization_id: str, fetched_at: datetime) -> Result:
    """The result of a fetched job: its answer read (if the worker left that) and its rows."""
    if isinstance(fetched, JobFailed):
        return fetched
    answer = fetched.answer
    if isinstance(answer, Unparsed):
        try:
            answer = answer.decode()
        except TabnineError as exc:
            return failed_units(fetched.job, exc)
    return build_done(fetched.job, answer, organization_id, fetched_at)


async def next_job(queue: MemoryObjectReceiveStream[T]) -> T | None:
    """The next item of ``queue`` (``None`` once it has ended), yielding only if it must wait."""
    try:
        return queue.receive_nowait()
    except anyio.WouldBlock:
        try:
            return await queue.receive()
        except anyio.EndOfStream:
            return None
    except anyio.EndOfStream:
        return None


async def hand_over(stream: MemoryObjectSendStream[T], item: T) -> None:
    """Send ``item``, yielding to the event loop only while the stream is full."""
    try:
        stream.send_nowait(item)
    except anyio.WouldBlock:
        await stream.send(item)


async def run_job(
    client: TabnineClient, organization_id: str, job: FetchJob, since: date
) -> _Fetched:
    """Fetch one job; raises the client's ``TabnineError``."""
    answer = await fetch_unread(
        client, job.source, organization_id, job.entity, job.request, job.granularity, since
    )
    return _Fetched(job, answer)


async def fetch_jobs(
    client: TabnineClient,
    organization_id: str,
    jobs: Iterable[FetchJob] | JobProducer,
    consume: Callable[[JobDone | JobFailed], Awaitable[None]],
    *,
    fetched_at: datetime,
    since: date,
    progress: WalkProgress | None = None,
    slots: anyio.CapacityLimiter | None = None,
) -> None:
    """Fetch every job with ``client.max_concurrency`` workers; hand each result to ``consume``.

    ``consume`` runs in the calling task, one result at a time, so it may write to a destination
    without locks; while it works, the workers wait on the bounded result stream. Cancelling the
    caller stops every request; so does an error raised by ``consume`` or by a ``JobProducer``,
    which then leaves this call as it is.

    Args:
        jobs: the jobs, or a ``JobProducer`` that sends them as it finds them.
        progress: counts a finished or failed job as one unit, and its rows as records.
        slots: held by a worker for each request; a producer that lists while jobs run lowers
            its ``total_tokens`` to keep connections free for its listings.
    """
    workers = max(1, client.max_concurrency)
    send_jobs, receive_jobs = anyio.create_memory_object_stream[FetchJob](workers)
    # Rows are built by the consumer, one job at a time: the buffers hold answers, not rows.
    send_results, receive_results = anyio.create_memory_object_stream[_Fetched | JobFailed](workers)

    async def send(job: FetchJob) -> None:
        await hand_over(send_jobs, job)

    async def produce() -> None:
        async with send_jobs:
            if callable(jobs):
                await jobs(send)
            else:
                for job in jobs:
                    await send(job)

    async def fetch(job: FetchJob) -> _Fetched:
        if slots is None:
            return await run_job(client, organization_id, job, since)
        try:
            slots.acquire_nowait()
        except anyio.WouldBlock:
            await slots.acquire()
        try:
            return await run_job(client, organization_id, job, since)
        finally:
            slots.release()

    async def work(
        queue: MemoryObjectReceiveStream[FetchJob],
        results: MemoryObjectSendStream[_Fetched | JobFailed],
    ) -> None:
        # From an answer to the next request without yielding to the event loop where nothing
        # has to wait: each yield puts this worker behind every other ready task, a burst of
        # answers then goes back out as a burst, and the requests in flight drop by as much
        # (see ``hand_over`` and ``next_job``).
        async with queue, results:
            while (job := await next_job(queue)) is not None:
                try:
                    item: _Fetched | JobFailed = await fetch(job)
                except TabnineError as exc:
                    item = failed_units(job, exc)
                await hand_over(results, item)

    # The result stream is closed only after the task group has ended, so that no worker meets a
    # closed stream when the consumer fails or the caller is cancelled: the group cancels them.
    # A failing consumer (a destination that cannot write) leaves as its own error, not a group.
    with one_error():
        async with receive_results, anyio.create_task_group() as tg:
            tg.start_soon(produce)
            for _ in range(workers):
                tg.start_soon(work, receive_jobs.clone(), send_results.clone())
            receive_jobs.close()
            send_results.close()
            async for fetched in receive_results:
                item = _finish(fetched, organization_id, fetched_at)
                del fetched
                if progress is not None:
                    if isinstance(item, JobDone):
                        progress.units_done += 1
                        progress.records += item.rows
                    else:
                        progress.units_failed += 1
                await consume(item)
