"""What every sink shares: the error type, marker parsing and durable file steps."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from ..errors import InvalidParameterError, TabnineError

__all__ = [
    "ClosingSink",
    "SinkError",
    "check_output_path",
    "fsync_dir",
    "make_marker",
    "parse_marker",
    "remove_file",
]


class SinkError(TabnineError):
    """An output cannot be written or resumed as asked (changed on disk, wrong marker...)."""


_S = TypeVar("_S", bound="ClosingSink")


class ClosingSink:
    """Makes a sink a context manager that closes it on the way out."""

    def close(self) -> None:
        """Finish the output."""
        raise NotImplementedError

    def interrupt(self) -> None:
        """Ask a ``close`` running in another thread to stop; formats that close at once
        have nothing to stop."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_output_path(path: Path) -> None:
    """Refuse an output that cannot be created: a missing or read-only folder, or a folder name."""
    folder = path.parent
    if path.is_dir():
        raise InvalidParameterError(f"output {path} is a directory; give a file name")
    if not folder.is_dir():
        raise InvalidParameterError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidParameterError(f"cannot write {path}: folder {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidParameterError(f"cannot write {path}: the file is read-only")


def fsync_dir(folder: Path) -> None:
    """Make the creation, rename or removal of entries in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_file(path: Path) -> None:
    """Delete ``path`` if it exists."""
    path.unlink(missing_ok=True)


def make_marker(unit: str, value: int) -> str:
    """A position marker such as ``offset:1024``: the unit names what the number counts."""
    return f"{unit}:{value}"


def parse_marker(marker: str, unit: str, path: Path) -> int:
    """The number in a marker made by :func:`make_marker` with the same ``unit``."""
    prefix, _, number = marker.partition(":")
    if prefix != unit or not number.isdigit():
        raise SinkError(
            f"cannot resume {path}: {marker!r} is not a {unit!r} position of this format; "
            "the checkpoint belongs to another output format"
        )
    return int(number)
