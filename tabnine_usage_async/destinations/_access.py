"""A destination's connection and what it was opened for: the checks every destination makes.

Each destination holds one :class:`Access` (composition: the destinations share these checks, not
a class). It answers "is the destination open, and for writing?" with the same errors everywhere,
runs the blocking calls of an embedded database (SQLite, DuckDB) in a worker thread, one at a
time, and remembers a connection that was lost (PostgreSQL) so every later call names the cause.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

from ._base import DestinationError
from ._lock import RunLock

__all__ = ["Access", "first_line"]

_C = TypeVar("_C")
_T = TypeVar("_T")


def first_line(exc: BaseException) -> str:
    """The first line of a driver's error message, or ``""`` when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


class Access(Generic[_C]):
    """The connection of one destination (type ``_C``), whether it may write, and its thread.

    Attributes:
        display: the destination as it may be printed (never a password).
        conn: the open connection, or ``None``.
        writable: whether it was opened with the lock, for writing.
        lock: the one-run file lock, while held (file destinations).
        lost: set when the connection died mid-run: every later call raises this message.
    """

    def __init__(self, display: str) -> None:
        self.display = display
        self.conn: _C | None = None
        self.writable = False
        self.lost: str | None = None
        self.lock: RunLock | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    def live(self) -> _C:
        """The connection; ``DestinationError`` when it is not open or was lost."""
        if self.lost is not None:
            raise DestinationError(self.lost)
        if self.conn is None:
            raise DestinationError(f"{self.display} is not open")
        return self.conn

    def writer(self) -> _C:
        """The connection, if opened for writing; else ``DestinationError``."""
        conn = self.live()
        if not self.writable:
            raise DestinationError(f"{self.display} was opened for reading only")
        return conn

    def refuse_open(self) -> None:
        """Raise ``DestinationError`` if the destination is open already."""
        if self._limiter is not None or self.conn is not None:
            raise DestinationError(f"{self.display} is already open")

    def take_lock(self, path: Path) -> None:
        """Take the one-run file lock at ``path`` (``DestinationBusyError`` if held)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(path, display=self.display)
        self.lock.acquire()

    def release(self, close: Callable[[_C], object]) -> None:
        """Forget the connection and the lock: ``close`` the one, then release the other (also
        when closing fails)."""
        conn, self.conn = self.conn, None
        lock, self.lock = self.lock, None
        self.writable = False
        try:
            if conn is not None:
                close(conn)
        finally:
            if lock is not None:
                lock.release()

    async def call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in the worker thread, after every earlier call (so the loop never waits
        on the disk, and the connection is used by one thread at a time)."""
        if self._limiter is None:
            raise DestinationError(f"{self.display} is not open")
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def open_in_thread(
        self, prepare: Callable[[], None], release: Callable[[], None]
    ) -> None:
        """Open: ``prepare()`` in the worker thread; if it fails, ``release()`` and stay closed."""
        self.refuse_open()
        self._limiter = anyio.CapacityLimiter(1)
        try:
            await self.call(prepare)
        except BaseException:
            await anyio.to_thread.run_sync(release)
            self._limiter = None
            raise

    async def close_in_thread(self, release: Callable[[], None]) -> None:
        """Close: ``release()`` in the worker thread; idempotent."""
        if self._limiter is None:
            return
        try:
            await self.call(release)
        finally:
            self._limiter = None
