"""The one-run lock of a destination kept in files: an OS file lock that dies with its holder.

``filelock`` takes an exclusive ``flock`` (Unix) or ``LockFileEx`` (Windows) on a lock file beside
the dataset. The operating system drops such a lock when the holding process ends, however it
ends (SIGKILL, power cut, crash), so a killed run never leaves a stale lock behind, and there is
no pid file to second-guess. The lock file itself stays in place: removing it on release would
let two processes lock two different files of the same name.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._base import DestinationBusyError, DestinationError

if TYPE_CHECKING:
    import filelock

__all__ = ["RunLock"]


class RunLock:
    """A non-blocking exclusive lock on ``path``; refused at once when another holder has it."""

    def __init__(self, path: Path, *, display: str) -> None:
        self.path = path
        self._display = display
        self._lock: filelock.BaseFileLock | None = None

    def acquire(self) -> None:
        """Take the lock, or raise ``DestinationBusyError`` when another run holds it."""
        import filelock

        # thread_local=False: the lock is taken and released from worker threads of one run.
        lock = filelock.FileLock(str(self.path), timeout=0, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise DestinationBusyError(
                f"{self._display} is in use by another run (lock {self.path.name}); "
                "wait for it to finish: one run at a time per destination"
            ) from None
        except OSError as exc:
            raise DestinationError(f"cannot lock {self._display}: {exc.strerror or exc}") from None
        self._lock = lock

    def release(self) -> None:
        """Release the lock if held; idempotent."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()
