"""A backfill's progress on stderr: a rich bar on a terminal, periodic plain lines otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

from .._units import WalkProgress
from ..client import TabnineClient
from ._errors import PROG

__all__ = ["ProgressReporter"]

# Plain progress lines are for logs (stderr is not a terminal): one every few seconds is enough.
PLAIN_PROGRESS_INTERVAL = 5.0
RICH_REFRESH_INTERVAL = 0.25


class ProgressReporter:
    """Shows a backfill's progress on stderr: a rich bar, periodic plain lines, or nothing.

    ``update`` is the backfill's ``on_progress`` callback and only stores the counters; a ticker
    task renders them, so a fast walk does not spend its time printing. The total (and so the
    ETA) appears once the walk has listed the whole organization.
    """

    def __init__(self, client: TabnineClient, interval: float) -> None:
        self._client = client
        self._interval = interval
        self._progress = WalkProgress()
        self._task: asyncio.Task[None] | None = None
        self._last = (time.monotonic(), client.stats.requests)

    @staticmethod
    def create(client: TabnineClient, *, quiet: bool) -> ProgressReporter:
        """The reporter that fits stderr: rich on a terminal, plain lines otherwise."""
        if quiet:
            return ProgressReporter(client, 0.0)
        if sys.stderr.isatty():
            try:
                return _RichProgress(client)
            except ImportError:
                pass
        return _PlainProgress(client, PLAIN_PROGRESS_INTERVAL)

    def update(self, progress: WalkProgress) -> None:
        """Remember the latest counters (called after every unit)."""
        self._progress = progress

    async def start(self) -> None:
        """Begin rendering."""
        if self._interval > 0:
            self._task = asyncio.ensure_future(self._tick())

    async def stop(self) -> None:
        """Stop rendering and show the final state."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._render()

    def _finished(self) -> int:
        p = self._progress
        return p.units_done + p.units_failed + p.units_skipped

    def _rate(self) -> float:
        now, requests = time.monotonic(), self._client.stats.requests
        last_time, last_requests = self._last
        self._last = (now, requests)
        return (requests - last_requests) / (now - last_time) if now > last_time else 0.0

    def _render(self) -> None:
        pass

    def _close(self) -> None:
        pass


class _PlainProgress(ProgressReporter):
    def _render(self) -> None:
        total = self._progress.units_total
        print(
            f"{PROG}: units {self._finished()}/{'?' if total is None else total} "
            f"records {self._progress.records} "
            f"req/s {self._rate():.1f} retries {self._client.stats.retries}",
            file=sys.stderr,
            flush=True,
        )


class _RichProgress(ProgressReporter):
    def __init__(self, client: TabnineClient) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        super().__init__(client, RICH_REFRESH_INTERVAL)
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("units"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[records]} records"),
            TextColumn("{task.fields[rate]:.1f} req/s"),
            TextColumn("{task.fields[retries]} retries"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task_id = self._bar.add_task("backfill", total=None, records=0, rate=0.0, retries=0)
        self._bar.start()

    def _render(self) -> None:
        self._bar.update(
            self._task_id,
            # No total (and no ETA) until the walk has listed every entity.
            total=self._progress.units_total,
            completed=self._finished(),
            records=self._progress.records,
            rate=self._rate(),
            retries=self._client.stats.retries,
        )

    def _close(self) -> None:
        self._render()
        self._bar.stop()
