"""``OutputLock``: one running job per output, whatever checkpoint each run was given.

The lock is an advisory ``flock`` on ``<output>.lock``, so the operating system releases it when
the holder exits, however it ends (a SIGKILL included): a stale lock file never blocks the next
run. A released lock's file is removed; a run that opened the file just before that removal
notices (the inode it locked is no longer the one at the path) and opens it again, so two runs can
never both believe they hold it. The file holds the holder's process id, for the message of the
run that is turned away.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from ..errors import InvalidParameterError
from ._paths import lock_path

__all__ = ["OutputLock", "OutputLockedError"]

_ATTEMPTS = 5


class OutputLockedError(InvalidParameterError):
    """Another running job writes the same output."""


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return ""
    return f" (process {text})" if text.isdigit() else ""


class OutputLock:
    """A held lock on one output; :meth:`release` it (or use ``with``) when the run ends.

    Attributes:
        path: the lock file, ``<output>.lock``.
    """

    def __init__(self, path: Path, fd: int) -> None:
        """Wrap a locked file descriptor; call :meth:`acquire` instead."""
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, output: Path) -> OutputLock:
        """Lock ``output`` for this process, or fail at once if another process holds it.

        Raises:
            OutputLockedError: another running job writes ``output``.
            InvalidParameterError: the lock file cannot be created.
        """
        return cls.acquire_file(lock_path(output), what=f"the output {output}")

    @classmethod
    def acquire_file(cls, path: Path, *, what: str) -> OutputLock:
        """Lock the lock file ``path`` itself; ``what`` names the locked thing in messages.

        Destinations use this with their own lock file beside their data.
        """
        for _ in range(_ATTEMPTS):
            try:
                # O_NOFOLLOW: a link planted at the lock's name is never followed.
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                fd = os.open(path, flags, 0o644)
            except OSError as exc:
                raise InvalidParameterError(
                    f"cannot create the lock file {path}: {exc.strerror}"
                ) from None
            try:
                if not _try_lock(fd):
                    raise OutputLockedError(
                        f"{what} is being written by another running job"
                        f"{_holder(path)}; wait for it to end (its lock is {path})"
                    )
                if _still_at(path, fd):
                    os.ftruncate(fd, 0)
                    os.write(fd, str(os.getpid()).encode("ascii"))
                    return cls(path, fd)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the holder removed this file as we opened it: open the new one
        raise OutputLockedError(f"{what} is being locked and released by other jobs")

    def release(self) -> None:
        """Remove the lock file and release the lock; releasing twice is harmless."""
        if self._fd is None:
            return
        # Removed while still held, so no other process can lock this file and then lose it.
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _still_at(path: Path, fd: int) -> bool:
    try:
        here = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)
