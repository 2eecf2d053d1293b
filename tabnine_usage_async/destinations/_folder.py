"""Filesystem steps of the Parquet folder destination: fsync a folder, swap two folders atomically.

A month of a Parquet folder is several files that must change together. Readers list a month's
folder, so the one step that switches every file at once is swapping the whole folder:
``renameat2(..., RENAME_EXCHANGE)`` (Linux 3.15+, glibc 2.28+; the standard library has no
binding for it, so it is called through ``ctypes``). Where it is missing, two renames do it, with
a short moment when the month is absent (never one where it is doubled).
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["exchange", "fsync_dir", "link_or_copy"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _load_renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Any = libc.renameat2
    except (OSError, AttributeError):
        return None
    text, number = ctypes.c_char_p, ctypes.c_int
    function.argtypes = [number, text, number, text, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_renameat2 = _load_renameat2()


def fsync_dir(folder: Path) -> None:
    """Make ``folder``'s entries (files created, renamed or removed in it) durable."""
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def exchange(staged: Path, live: Path) -> None:
    """Put folder ``staged`` at ``live``; ``live``'s old content ends up at ``staged``.

    One atomic step where the system has ``RENAME_EXCHANGE``; otherwise ``live`` moves to
    ``staged.old`` first, then ``staged`` takes its place (the caller removes both leftovers).
    """
    if _renameat2 is not None:
        old, new = os.fsencode(staged), os.fsencode(live)
        result = _renameat2(_AT_FDCWD, old, _AT_FDCWD, new, _RENAME_EXCHANGE)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), str(live))
    os.rename(live, staged.with_name(staged.name + ".old"))
    os.rename(staged, live)


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link of ``source`` at ``target``, or a copy where the filesystem has no links."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        with open(target, "rb") as copied:
            os.fsync(copied.fileno())
