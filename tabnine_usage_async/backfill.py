"""``backfill``: run the walk into a sink, resumably, and report what happened.

Exactly-once output after a kill rests on one ordering rule. Records of finished units are written
to the sink; every ``commit_interval`` seconds the sink is flushed to disk, which yields a marker
of its durable state, and then one checkpoint transaction stores that marker together with the
units whose records it holds. A re-run reopens the sink at the stored marker (file sinks cut back
anything written after it, torn lines included) and skips the stored units, so every unit's
records end up in the output exactly once, however abruptly the earlier run ended.

Example::

    async with TabnineClient() as client:
        summary = await backfill(client, "2026-01-01", "2026-07-01", sink="usage.parquet")
    print(summary.records_written, "records;", len(summary.failed), "units failed")
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from .checkpoint import Checkpoint, default_path
from .client import TabnineClient
from .orchestrator import SCOPES, FailedUnit, OnError, UnitResult, UsageWalk, WalkProgress
from .sinks import Sink, format_for_path, open_sink
from .sinks._lock import OutputLock
from .sinks._paths import check_apart, check_plain, output_paths, sqlite_paths
from .windows import DateLike, WindowSpec, format_datetime

__all__ = ["BackfillSummary", "backfill", "check_paths", "job_parameters"]


@attrs.frozen
class BackfillSummary:
    """What a backfill did.

    Attributes:
        records_written: records written by this run.
        units_done: units fetched by this run.
        units_skipped: units already done by an earlier run of the same job.
        failed: units (or listings) that still failed after retries; fetched again next run.
        requests: HTTP attempts, retries included.
        retries: attempts that were retries.
        rate_limited: answers with status 429.
        elapsed: seconds this run took.
        windows_not_ended: windows of the job left out because a period in them had not ended
            (or begun); the same job run again later fetches them.
        output: the output file.
        checkpoint: the checkpoint file, or None when running without one.
    """

    records_written: int
    units_done: int
    units_skipped: int
    failed: tuple[FailedUnit, ...]
    requests: int
    retries: int
    rate_limited: int
    elapsed: float
    output: Path
    checkpoint: Path | None
    windows_not_ended: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


def job_parameters(
    walk: UsageWalk, *, organization_id: str, output: Path, output_format: str
) -> dict[str, Any]:
    """What identifies a job in its checkpoint: a re-run must match all of it. No secrets.

    The organization, not the base URL, names the data: a console reached through another
    address (or a fake server on another port) still holds the same organization's usage.
    """
    return {
        "organization_id": organization_id,
        "start": format_datetime(walk.windows[0].start),
        "end": format_datetime(walk.windows[-1].end),
        "granularity": walk.granularity.value,
        "windows": [format_datetime(w.start) for w in walk.windows],
        "scopes": list(walk.scopes),
        "include_unassigned": walk.include_unassigned,
        "output": os.fspath(output.resolve()),
        "format": output_format,
    }


def check_paths(output: Path, output_format: str, checkpoint: Path | None) -> None:
    """Refuse unusable output and checkpoint paths, before either is touched.

    Refused: an output or checkpoint that is ``-``, exists but is not a regular file (a device
    such as ``/dev/stdout``, a pipe, a socket) or is a symbolic link (so is any of their side
    files), and an output and checkpoint that would share any file. The output's side files
    (SQLite journals, Parquet parts and temporary file, the lock) and the checkpoint's journals
    count too; paths are compared after resolving links, ``..``, hard links and letter case.
    Pure but for reading the file system.

    Raises:
        InvalidParameterError: naming the path and what is wrong with it.
    """
    owned = output_paths(output, output_format)
    check_plain(owned, "output")
    if checkpoint is None:
        return
    journals = sqlite_paths(checkpoint)
    check_plain(journals, "checkpoint")
    check_apart({"output": owned, "checkpoint": journals})


async def backfill(
    client: TabnineClient,
    start: DateLike,
    end: DateLike,
    *,
    sink: str | os.PathLike[str],
    output_format: str | None = None,
    checkpoint: str | os.PathLike[str] | bool = True,
    granularity: str = "daily",
    window: WindowSpec | str = "month",
    scopes: Iterable[str] | str = SCOPES,
    include_unassigned: bool = True,
    on_error: OnError = "collect",
    commit_interval: float = 2.0,
    on_progress: Callable[[WalkProgress], None] | None = None,
    now: DateLike | None = None,
) -> BackfillSummary:
    """Fetch every usage record of ``[start, end)`` into the output file ``sink``.

    Args:
        sink: the output path; its extension picks the format unless ``output_format`` is given
            (``jsonl``, ``csv``, ``sqlite``, ``parquet``).
        checkpoint: ``True`` for ``<output>.checkpoint.sqlite`` beside the output, a path, or
            ``False`` to run without resuming (the output is then rewritten from scratch).
        on_error: ``"collect"`` (default here) keeps going past failed units and lists them in
            the summary; ``"raise"`` stops at the first.
        commit_interval: seconds between durable commits; a kill loses at most this much work.
        on_progress: called with live counters after every unit.
        now: the current moment (default: the clock). Only windows whose every period has
            ended by then are fetched and marked done; later ones (``end`` in the future, or
            today's day, week or month) are left for a later run of the same job, which
            fetches them once they have ended. Future periods are never requested.

    Raises:
        InvalidParameterError: bad arguments, an unknown format, an unwritable output, an
            output and checkpoint that share a file, an output another running job writes
            (``OutputLockedError``), or a checkpoint written by a job with other parameters
            (``CheckpointMismatchError``).
    """
    started = time.monotonic()
    stats_before = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    output = Path(sink)
    fmt = output_format or format_for_path(output)
    # Validate everything (dates, granularity, window, scopes) before touching any file.
    walk = UsageWalk(
        client,
        start,
        end,
        granularity=granularity,
        window=window,
        scopes=scopes,
        include_unassigned=include_unassigned,
        on_error=on_error,
        now=now,
        final_only=True,
    )
    checkpoint_path: Path | None = None
    if checkpoint is True:
        checkpoint_path = default_path(output)
    elif checkpoint is not False:
        checkpoint_path = Path(checkpoint)
    check_paths(output, fmt, checkpoint_path)
    # The output itself is locked, not only the checkpoint: two runs given different
    # checkpoints must not write one output either.
    with OutputLock.acquire(output):
        organization_id = await client.resolve_organization_id()
        job = job_parameters(
            walk, organization_id=organization_id, output=output, output_format=fmt
        )
        store = Checkpoint.open(checkpoint_path, job=job) if checkpoint_path is not None else None
        try:
            if store is not None:
                store.begin_run()
                walk.skip_units(store.done_units())
            out = open_sink(output, fmt, resume=store.sink_marker if store is not None else None)
            written = await _drain(walk, out, store, commit_interval, on_progress)
        finally:
            if store is not None:
                store.close()
    return BackfillSummary(
        records_written=written,
        units_done=walk.progress.units_done,
        units_skipped=walk.progress.units_skipped,
        failed=tuple(walk.failures),
        requests=client.stats.requests - stats_before[0],
        retries=client.stats.retries - stats_before[1],
        rate_limited=client.stats.rate_limited - stats_before[2],
        elapsed=time.monotonic() - started,
        output=output,
        checkpoint=checkpoint_path,
        windows_not_ended=len(walk.windows) - len(walk.planned),
    )


async def _drain(
    walk: UsageWalk,
    out: Sink,
    store: Checkpoint | None,
    commit_interval: float,
    on_progress: Callable[[WalkProgress], None] | None,
) -> int:
    written = 0
    pending_done: list[str] = []
    pending_failed: dict[str, str] = {}
    last_commit = time.monotonic()
    # True once a write or flush of the sink failed: the records it held since the last marker
    # may be gone (SQLite rolls back on a full disk), so their units must not be marked done.
    sink_failed = False

    def commit() -> None:
        nonlocal last_commit, sink_failed
        try:
            marker = out.flush()
        except BaseException:
            sink_failed = True
            raise
        if store is not None:
            store.commit(done=pending_done, failed=pending_failed, sink_marker=marker)
        pending_done.clear()
        pending_failed.clear()
        last_commit = time.monotonic()

    try:
        async with walk:
            async for item in walk.results():
                if isinstance(item, UnitResult):
                    try:
                        out.write(item.records)
                    except BaseException:
                        sink_failed = True
                        raise
                    written += len(item.records)
                    pending_done.append(item.unit.key)
                else:
                    pending_failed[item.key] = item.cause
                if on_progress is not None:
                    on_progress(walk.progress)
                if time.monotonic() - last_commit >= commit_interval:
                    # On the event loop, not a thread: a cancellation could otherwise land while
                    # a worker thread is half-way through a flush that the finally clause repeats.
                    # An fsync every couple of seconds costs the loop a few milliseconds.
                    commit()
    except BaseException:
        # Cancelled or failed: the output is not finished (no final Parquet file is written).
        try:
            if not sink_failed:
                # Every unit in pending_done was written whole, so committing it keeps the work;
                # whatever was not is simply fetched again next run.
                commit()
        finally:
            # After a sink failure the checkpoint keeps the last durable marker instead.
            out.abort()
        raise
    try:
        commit()
    except BaseException:
        out.abort()
        raise
    await _finish(out)
    return written


async def _finish(out: Sink) -> None:
    """Finish the output in a thread, so that the event loop (and its signal handlers) runs on.

    Joining Parquet parts can take a while; a cancellation (Ctrl-C) meanwhile interrupts the
    join, which then leaves the output unfinished but resumable. The thread is a daemon, so a
    second Ctrl-C ends the process even while a join step is still running.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            out.close()
        except BaseException as exc:  # handed to the loop, raised there
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, error)

    threading.Thread(target=run, name="tabnine-usage-finish", daemon=True).start()
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        out.interrupt()
        # Wait for the join to stop at its next step (its "interrupted" error is expected),
        # unless cancelled once more.
        with contextlib.suppress(Exception):
            await done
        raise
