"""The one-run lock of a destination kept in files: an OS file lock that dies with its holder.

It is the same ``flock`` as the lock of a backfill's output (``sinks._lock``): the operating
system drops it when the holding process ends, however it ends (SIGKILL, power cut, crash), so a
killed run never leaves a stale lock behind. Here its refusal is a ``DestinationBusyError``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidParameterError
from ..sinks._lock import OutputLock, OutputLockedError
from ._base import DestinationBusyError, DestinationError

__all__ = ["RunLock"]


class RunLock:
    """A non-blocking exclusive lock on ``path``; refused at once when another holder has it."""

    def __init__(self, path: Path, *, display: str) -> None:
        self.path = path
        self._display = display
        self._lock: OutputLock | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``DestinationBusyError`` when another run holds it."""
        try:
            self._lock = OutputLock.acquire_file(self.path, what=self._display)
        except OutputLockedError:
            raise DestinationBusyError(
                f"{self._display} is in use by another run (lock {self.path.name}); "
                "wait for it to finish: one run at a time per destination"
            ) from None
        except InvalidParameterError as exc:
            raise DestinationError(f"cannot lock {self._display}: {exc}") from None

    def release(self) -> None:
        """Release the lock if held; idempotent."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()
