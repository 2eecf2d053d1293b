"""``backfill``: fetch a fixed range of streams into files, resumably, and report what happened.

A backfill runs on the engine every job shares (``sync._engine.fetch_jobs``), fed by the roster
feed (``sync._feed``): the organization's and teams' jobs start at once, users' while the roster
is still listed. Without ``streams`` it writes one file of ``UsageRecord`` rows (legacy v1 usage,
the contract of ``records.py``); with ``streams`` it writes one file per stream into a folder,
``<folder>/<stream>.<format>``, each holding the stream's table (see ``streams``).

Exactly-once output after a kill rests on one ordering rule. Rows of finished units are written
to the sinks; every ``commit_interval`` seconds each sink is flushed to disk, which yields a
marker of its durable state, and then one checkpoint transaction stores those markers together
with the units whose rows they hold. A re-run reopens each sink at its stored marker (file sinks
cut back anything written after it, torn lines included) and skips the stored units, so every
unit's rows end up in the output exactly once, however abruptly the earlier run ended. With
several streams the stored marker is a JSON object, ``{stream: marker}``, and unit keys begin
with the stream's name.

Example::

    async with TabnineClient() as client:
        summary = await backfill(client, "2026-01-01", "2026-07-01", sink="usage.parquet")
        print(summary.records_written, "records;", len(summary.failed), "units failed")
        await backfill(
            client, "2026-01-01", "2026-07-01", sink="export", output_format="parquet",
            streams="usage,users,teams",
        )   # export/usage.parquet, export/users.parquet, export/teams.parquet
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from ._backfill_jobs import RECORDS_STREAM, BackfillJobs
from ._units import (
    SCOPES,
    Entity,
    FailedUnit,
    OnError,
    WalkProgress,
    parse_scopes,
    parse_window,
    planned_windows,
)
from ._wire import parse_granularity
from .checkpoint import Checkpoint, default_path
from .client import TabnineClient
from .errors import InvalidParameterError
from .records import Scope
from .sinks import FORMATS, Sink, format_for_path, open_sink
from .sinks._lock import OutputLock
from .sinks._paths import check_apart, check_plain, output_paths, sqlite_paths
from .streams import RowContext, Stream, parse_streams
from .sync._engine import JobDone, JobFailed, describe, fetch_jobs, unit_write
from .sync._feed import RosterFeed
from .sync._plan import DueUnit
from .windows import (
    DateLike,
    Window,
    WindowSpec,
    format_datetime,
    resolve_range,
    split_windows,
    to_utc,
)

__all__ = [
    "BackfillSummary",
    "backfill",
    "check_paths",
    "check_stream_outputs",
    "job_parameters",
    "stream_outputs",
]


@attrs.frozen
class BackfillSummary:
    """What a backfill did.

    Attributes:
        records_written: rows written by this run (every stream's).
        units_done: units fetched by this run.
        units_skipped: units already done by an earlier run of the same job.
        failed: units (or listings) that still failed after retries; fetched again next run.
        requests: HTTP attempts, retries included.
        retries: attempts that were retries.
        rate_limited: answers with status 429.
        elapsed: seconds this run took.
        windows_not_ended: windows of the job left out because a period in them had not ended
            (or begun); the same job run again later fetches them.
        output: the output file, or the folder of the stream files.
        checkpoint: the checkpoint file, or None when running without one.
        outputs: stream name -> its output file (one entry, ``usage_records``, without streams).
        per_stream: stream name -> rows written by this run.
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
    outputs: Mapping[str, Path] = attrs.field(factory=dict)
    per_stream: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


def job_parameters(
    *,
    organization_id: str,
    windows: list[Window],
    granularity: str,
    scopes: Iterable[str],
    include_unassigned: bool,
    output: Path,
    output_format: str,
    streams: Iterable[str] | None = None,
) -> dict[str, Any]:
    """What identifies a job in its checkpoint: a re-run must match all of it. No secrets.

    The organization, not the base URL, names the data: a console reached through another
    address (or a fake server on another port) still holds the same organization's usage.
    Without ``streams`` the parameters are those of every earlier version, so their checkpoints
    resume.
    """
    job: dict[str, Any] = {
        "organization_id": organization_id,
        "start": format_datetime(windows[0].start),
        "end": format_datetime(windows[-1].end),
        "granularity": granularity,
        "windows": [format_datetime(w.start) for w in windows],
        "scopes": list(scopes),
        "include_unassigned": include_unassigned,
        "output": os.fspath(output.resolve()),
        "format": output_format,
    }
    if streams is not None:
        job["streams"] = list(streams)
    return job


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


def stream_outputs(folder: Path, streams: Iterable[Stream], output_format: str) -> dict[str, Path]:
    """The file of each stream: ``<folder>/<stream>.<format>``. Pure.

    >>> from tabnine_usage_async.streams import parse_streams
    >>> stream_outputs(Path("out"), parse_streams("users,usage"), "csv")
    {'usage': PosixPath('out/usage.csv'), 'users': PosixPath('out/users.csv')}
    """
    return {s.name: folder / f"{s.name}.{output_format}" for s in streams}


def _check_folder(folder: Path, output_format: str | None) -> str:
    """Refuse what cannot be the folder of a backfill with streams; return the format."""
    text = os.fspath(folder)
    if text == "-":
        raise InvalidParameterError(
            "with --streams the output is a folder (one file per stream), not standard output"
        )
    if folder.exists() and not folder.is_dir():
        raise InvalidParameterError(
            f"with --streams the output is a folder (one file per stream): {folder} is a file"
        )
    if not folder.exists() and folder.suffix.lower() in _FILE_SUFFIXES:
        raise InvalidParameterError(
            f"with --streams the output is a folder that gets <stream>.<format> files, but "
            f"{folder} looks like a file name; give a folder, e.g. --output "
            f"{folder.with_suffix('')}"
        )
    if output_format is None:
        raise InvalidParameterError(
            f"with --streams give --format ({', '.join(FORMATS)}): the files are "
            f"{folder}/<stream>.<format>"
        )
    if output_format not in FORMATS:
        raise InvalidParameterError(
            f"unknown output format {output_format!r}; use one of {', '.join(FORMATS)}"
        )
    return output_format


_FILE_SUFFIXES = {".jsonl", ".ndjson", ".csv", ".sqlite", ".sqlite3", ".db", ".parquet", ".pq"}


def check_stream_outputs(
    folder: Path, output_format: str | None, streams: Iterable[Stream], checkpoint: Path | None
) -> tuple[str, dict[str, Path]]:
    """Check the folder, every stream's file and the checkpoint; return format and files.

    Raises:
        InvalidParameterError: a folder that is a file or looks like a file name, no format,
            or a path refused by ``check_paths``.
    """
    fmt = _check_folder(folder, output_format)
    outputs = stream_outputs(folder, streams, fmt)
    roles = {}
    for name, path in outputs.items():
        owned = output_paths(path, fmt)
        check_plain(owned, f"output of {name}")
        roles[f"output of {name}"] = owned
    if checkpoint is not None:
        journals = sqlite_paths(checkpoint)
        check_plain(journals, "checkpoint")
        roles["checkpoint"] = journals
    check_apart(roles)
    return fmt, outputs


@attrs.frozen
class _Range:
    windows: list[Window]
    planned: list[Window]
    granularity: str
    scopes: tuple[Scope, ...]
    now: datetime


def _resolve(
    start: DateLike,
    end: DateLike,
    granularity: str,
    window: WindowSpec | str,
    scopes: Iterable[str] | str,
    now: DateLike | None,
) -> _Range:
    start_utc, end_utc = resolve_range(start, end)
    gran = parse_granularity(granularity)
    windows = split_windows(start_utc, end_utc, parse_window(window))
    moment = datetime.now(timezone.utc) if now is None else to_utc(now, name="now")
    # Rows carry the moment as fetched_at, in whole seconds like every other time.
    moment = moment.replace(microsecond=0)
    planned = planned_windows(windows, gran, moment, final_only=True)
    return _Range(windows, planned, gran.value, parse_scopes(scopes), moment)


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
    streams: Iterable[str] | str | None = None,
) -> BackfillSummary:
    """Fetch every row of ``[start, end)`` into the output file ``sink`` (or folder, with streams).

    Args:
        sink: the output path; its extension picks the format unless ``output_format`` is given
            (``jsonl``, ``csv``, ``sqlite``, ``parquet``). With ``streams``, a folder (created if
            missing) that gets one file per stream, ``<sink>/<stream>.<output_format>``; the
            format must then be given.
        checkpoint: ``True`` for ``<output>.checkpoint.sqlite`` beside the output (beside the
            folder, with streams), a path, or ``False`` to run without resuming (the output is
            then rewritten from scratch).
        on_error: ``"collect"`` (default here) keeps going past failed units and lists them in
            the summary; ``"raise"`` stops at the first.
        commit_interval: seconds between durable commits; a kill loses at most this much work.
        on_progress: called with live counters after every unit.
        now: the current moment (default: the clock). Only windows whose every period has
            ended by then are fetched and marked done; later ones (``end`` in the future, or
            today's day, week or month) are left for a later run of the same job, which
            fetches them once they have ended. Future periods are never requested.
        streams: the streams to export (names or a comma-separated string, see ``streams``);
            ``None`` writes the ``UsageRecord`` rows of legacy v1 usage into one file. Snapshot
            streams (users, teams, seats, invitations) are fetched once, as of the run.

    Raises:
        InvalidParameterError: bad arguments, an unknown format, an unwritable output, an
            output and checkpoint that share a file, an output another running job writes
            (``OutputLockedError``), a checkpoint written by a job with other parameters
            (``CheckpointMismatchError``), or v2 streams on a server without the v2 API.
    """
    started = time.monotonic()
    stats_before = (client.stats.requests, client.stats.retries, client.stats.rate_limited)
    output = Path(sink)
    # Validate everything (dates, granularity, window, scopes, streams) before touching a file.
    span = _resolve(start, end, granularity, window, scopes, now)
    if on_error not in ("raise", "collect"):
        raise InvalidParameterError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    chosen = None if streams is None else parse_streams(streams)
    checkpoint_path: Path | None = None
    if checkpoint is True:
        checkpoint_path = default_path(output)
    elif checkpoint is not False:
        checkpoint_path = Path(checkpoint)
    if chosen is None:
        fmt = output_format or format_for_path(output)
        check_paths(output, fmt, checkpoint_path)
        outputs = {RECORDS_STREAM.name: output}
        tables: tuple[Stream, ...] = (RECORDS_STREAM,)
    else:
        fmt, outputs = check_stream_outputs(output, output_format, chosen, checkpoint_path)
        tables = chosen
        if any(s.api == "v2" for s in chosen) and not await client.supports_v2_usage():
            wrong = ", ".join(s.name for s in chosen if s.api == "v2")
            raise InvalidParameterError(
                f"stream(s) {wrong} need Tabnine 6.2 or later, and the server has only the v1 "
                "usage API: use --streams usage_v1,users,teams,seats"
            )
        _make_folder(output)
    # Each output itself is locked, not only the checkpoint: two runs given different
    # checkpoints must not write one output either.
    with contextlib.ExitStack() as locks:
        for path in outputs.values():
            locks.enter_context(OutputLock.acquire(path))
        organization_id = await client.resolve_organization_id()
        job = job_parameters(
            organization_id=organization_id,
            windows=span.windows,
            granularity=span.granularity,
            scopes=span.scopes,
            include_unassigned=bool(include_unassigned),
            output=output,
            output_format=fmt,
            streams=None if chosen is None else [s.name for s in chosen],
        )
        store = Checkpoint.open(checkpoint_path, job=job) if checkpoint_path is not None else None
        try:
            done: set[str] = set()
            markers: dict[str, str | None] = dict.fromkeys(outputs)
            if store is not None:
                store.begin_run()
                done = store.done_units()
                markers = _stored_markers(store.sink_marker, outputs, legacy=chosen is None)
            jobs = BackfillJobs(tables, span.planned, span.granularity, span.scopes, span.now, done)
            run = _Run(client, organization_id, jobs, store, commit_interval, on_progress)
            run.open(outputs, fmt, markers)
            await run.drain(
                include_unassigned=bool(include_unassigned),
                on_error=on_error,
                since=span.windows[0].start.date(),
            )
        finally:
            if store is not None:
                store.close()
    return BackfillSummary(
        records_written=run.written,
        units_done=run.progress.units_done,
        units_skipped=run.progress.units_skipped,
        failed=tuple(run.failures),
        requests=client.stats.requests - stats_before[0],
        retries=client.stats.retries - stats_before[1],
        rate_limited=client.stats.rate_limited - stats_before[2],
        elapsed=time.monotonic() - started,
        output=output,
        checkpoint=checkpoint_path,
        windows_not_ended=len(span.windows) - len(span.planned),
        outputs=outputs,
        per_stream=dict(run.per_stream),
    )


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidParameterError(f"cannot create the output folder {folder}: {reason}") from None


def _stored_markers(
    stored: str | None, outputs: Mapping[str, Path], *, legacy: bool
) -> dict[str, str | None]:
    """Each output's marker from the checkpoint (one marker, or a JSON object of them)."""
    if stored is None:
        return dict.fromkeys(outputs)
    if legacy:
        return dict.fromkeys(outputs, stored)
    found = json.loads(stored)
    return {name: found.get(name) for name in outputs}


class _Run:
    """One run of a backfill: the open sinks, the engine, the commits."""

    def __init__(
        self,
        client: TabnineClient,
        organization_id: str,
        jobs: BackfillJobs,
        store: Checkpoint | None,
        commit_interval: float,
        on_progress: Callable[[WalkProgress], None] | None,
    ) -> None:
        self.client = client
        self.organization_id = organization_id
        self.jobs = jobs
        self.store = store
        self.commit_interval = commit_interval
        self.on_progress = on_progress
        self.sinks: dict[str, Sink] = {}
        self.progress = WalkProgress()
        self.failures: list[FailedUnit] = []
        self.per_stream: dict[str, int] = {}
        self.written = 0
        self.pending_done: list[str] = []
        self.pending_failed: dict[str, str] = {}
        self.last_commit = time.monotonic()
        # True once a write or flush of a sink failed: the rows it held since the last marker
        # may be gone (SQLite rolls back on a full disk), so their units must not be marked done.
        self.sink_failed = False
        self.on_error: OnError = "collect"
        self.listings_failed = 0

    def open(
        self, outputs: Mapping[str, Path], fmt: str, markers: Mapping[str, str | None]
    ) -> None:
        """Open every stream's sink, at its stored marker."""
        tables = {s.name: s.table for s in self.jobs.streams}
        try:
            for name, path in outputs.items():
                self.sinks[name] = open_sink(path, fmt, resume=markers[name], table=tables[name])
                self.per_stream[name] = 0
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        for out in self.sinks.values():
            out.abort()

    def commit(self) -> None:
        """Flush every sink, then store their markers with the pending units in one go."""
        try:
            markers = {name: out.flush() for name, out in self.sinks.items()}
        except BaseException:
            self.sink_failed = True
            raise
        if self.store is not None:
            if self.jobs.legacy:
                (marker,) = markers.values()
            else:
                marker = json.dumps(markers, sort_keys=True)
            self.store.commit(
                done=self.pending_done, failed=self.pending_failed, sink_marker=marker
            )
        self.pending_done.clear()
        self.pending_failed.clear()
        self.last_commit = time.monotonic()

    def _write(self, unit: DueUnit, rows: Any) -> None:
        try:
            self.sinks[unit.stream.name].write(rows)
        except BaseException:
            self.sink_failed = True
            raise
        self.written += len(rows)
        self.per_stream[unit.stream.name] += len(rows)
        self.pending_done.append(self.jobs.key(unit))
        self.progress.units_done += 1
        self.progress.records += len(rows)

    def _fail(self, failure: FailedUnit) -> None:
        if self.on_error == "raise":
            raise failure.error
        self.failures.append(failure)
        self.pending_failed[failure.key] = failure.cause
        self.progress.units_failed += 1

    async def consume(self, item: JobDone | JobFailed) -> None:
        """Write a finished job's rows, or record its units as failed; commit when due."""
        if isinstance(item, JobDone):
            for unit, write in zip(item.job.units, item.writes, strict=True):
                self._write(unit, write.rows)
        else:
            assert item.error is not None
            for unit in item.job.units:
                self._fail(FailedUnit(self.jobs.key(unit), describe(item.error), item.error))
        self._tick()

    def _tick(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)
        if time.monotonic() - self.last_commit >= self.commit_interval:
            # On the event loop, not a thread: a cancellation could otherwise land while a
            # worker thread is half-way through a flush that the finally clause repeats. An
            # fsync every couple of seconds costs the loop a few milliseconds.
            self.commit()

    async def listing_failed(self, failure: FailedUnit) -> None:
        """A listing failed after retries: recorded like a failed unit (or raised)."""
        self.listings_failed += 1
        self._fail(failure)

    def _roster_rows(self, feed: RosterFeed) -> Iterator[tuple[DueUnit, Any] | FailedUnit]:
        units, skipped = self.jobs.roster_units()
        self.progress.units_planned += len(units) + skipped
        self.progress.units_skipped += skipped
        ctx = RowContext(self.organization_id, None, self.jobs.now)
        for unit in units:
            answer: Any = feed.teams
            if unit.stream.name == "users":
                answer = None if feed.roster is None else feed.roster.members
            if self.listings_failed or not feed.teams_listed or answer is None:
                # A snapshot of part of the roster would be marked done: fetch it next run.
                cause = "a listing of the roster failed (see the listing failures)"
                yield FailedUnit(self.jobs.key(unit), cause, RuntimeError(cause))
                continue
            rows = unit_write(unit, unit.stream.rows(answer, ctx), self.jobs.now).rows
            yield unit, rows

    async def drain(self, *, include_unassigned: bool, on_error: OnError, since: date) -> None:
        """Run the engine over every job, write as results come, commit, finish the files."""
        self.on_error = on_error
        jobs = self.jobs
        organization = Entity("organization", self.organization_id)
        once = jobs.once(organization)
        roster = {s.name for s in jobs.roster_streams}
        feed = RosterFeed(
            self.client,
            self.organization_id,
            plan=jobs.plan,
            units_of=jobs.units_of,
            scopes=jobs.scopes if jobs.entity_streams else (),
            include_unassigned=include_unassigned,
            fetched_at=jobs.now,
            on_listing_error=self.listing_failed,
            once=once.jobs,
            list_users="users" in roster,
            list_teams="teams" in roster,
            keep_roster="users" in roster,
        )
        self.progress = feed.progress
        self.progress.units_planned += once.units
        self.progress.units_skipped += once.skipped

        async def consume(item: JobDone | JobFailed) -> None:
            for final in feed.settle(item):
                await self.consume(final)

        try:
            await fetch_jobs(
                self.client,
                self.organization_id,
                feed.produce,
                consume,
                fetched_at=jobs.now,
                since=since,
                slots=feed.slots,
            )
            for final in feed.release():
                await self.consume(final)
            for item in self._roster_rows(feed):
                if isinstance(item, FailedUnit):
                    self._fail(item)
                else:
                    self._write(*item)
            self.progress.units_total = self.progress.units_planned
        except BaseException:
            # Cancelled or failed: the output is not finished (no final Parquet file is written).
            try:
                if not self.sink_failed:
                    # Every unit in pending_done was written whole, so committing it keeps the
                    # work; whatever was not is simply fetched again next run.
                    self.commit()
            finally:
                # After a sink failure the checkpoint keeps the last durable marker instead.
                self._abort()
            raise
        try:
            self.commit()
        except BaseException:
            self._abort()
            raise
        for out in self.sinks.values():
            await _finish(out)


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
