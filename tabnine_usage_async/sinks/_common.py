"""What every sink shares: the error type, column kinds, marker parsing and durable file steps."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

from ..errors import InvalidParameterError, TabnineError
from ..records import RECORD_FIELDS, UsageRecord

__all__ = [
    "COLUMN_KINDS",
    "ClosingSink",
    "ColumnKind",
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


#: How a column is stored: plain text, integer, float, a UTC date-time, a list of strings, or JSON.
ColumnKind = Literal["str", "int", "float", "datetime", "list", "json"]


def _kind(hint: object) -> ColumnKind:
    args = set(typing.get_args(hint)) - {type(None)}
    base = args.pop() if len(args) == 1 else hint
    if base is int:
        return "int"
    if base is float:
        return "float"
    if base is datetime:
        return "datetime"
    origin = typing.get_origin(base)
    if origin is tuple:
        return "list"
    if origin is Mapping or base is Mapping:
        return "json"
    return "str"


# Derived from the annotations so every format follows the record contract when it grows.
_HINTS = typing.get_type_hints(UsageRecord)
#: The kind of each ``RECORD_FIELDS`` column, in order.
COLUMN_KINDS: dict[str, ColumnKind] = {name: _kind(_HINTS[name]) for name in RECORD_FIELDS}


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
