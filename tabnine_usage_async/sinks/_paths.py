"""Which files an output owns, and the checks that keep outputs, checkpoints and their companion
files apart and writable as ordinary files.

The rules, the same for every format:

- An output (or checkpoint) is a regular file or not there yet. Standard output (``-``), a
  device such as ``/dev/stdout``, a pipe or a socket is refused: outputs are cut back, replaced
  and renamed on resume, which only a regular file allows.
- The path itself must not be a symbolic link: a link is refused with its target named, never
  written through nor replaced. Links among the folders above it are fine (they are resolved).
- No file or folder of one role (the output with its side files, the checkpoint with its
  journals) may be a file or folder of another. Paths are compared after resolving links,
  ``..`` and hard links; names that differ only in letter case count as the same, because they
  are the same file on the case-insensitive file systems of macOS and Windows.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import attrs

from ..errors import InvalidParameterError

__all__ = [
    "OwnedPaths",
    "check_apart",
    "check_plain",
    "lock_path",
    "output_paths",
    "sqlite_paths",
]

_SQLITE_SIDES = ("-wal", "-shm", "-journal")


@attrs.frozen
class OwnedPaths:
    """The files and folders one role (an output, a checkpoint) creates, writes or deletes."""

    files: tuple[Path, ...]
    folders: tuple[Path, ...] = ()


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def lock_path(output: Path) -> Path:
    """The lock file of an output: ``<output>.lock`` beside it."""
    return _beside(output, ".lock")


def sqlite_paths(path: Path) -> OwnedPaths:
    """A SQLite database and the journal files SQLite keeps beside it."""
    return OwnedPaths((path, *(_beside(path, s) for s in _SQLITE_SIDES)))


def output_paths(path: Path, format: str) -> OwnedPaths:
    """Every file and folder an output of ``format`` at ``path`` may create, its lock included."""
    if format == "sqlite":
        files = sqlite_paths(path).files
    elif format == "parquet":
        files = (path, _beside(path, ".tmp"))
    else:
        files = (path,)
    folders: tuple[Path, ...] = ()
    if format == "parquet":
        folders = tuple(_beside(path, s) for s in (".parts", ".parts.trash", ".parts.restore"))
    return OwnedPaths((*files, lock_path(path)), folders)


def _real(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path)).casefold()


def _same_file(a: Path, b: Path) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False  # one of them does not exist yet


def _inside(path: Path, folder: Path) -> bool:
    return _real(path).startswith(_real(folder) + os.sep) or _same_file(path, folder)


def _clash(a: OwnedPaths, b: OwnedPaths) -> tuple[Path, Path] | None:
    for x in a.files:
        for y in b.files:
            if _same_file(x, y):
                return x, y
        for folder in b.folders:
            if _inside(x, folder):
                return x, folder
    for folder in a.folders:
        for y in b.files:
            if _inside(y, folder):
                return folder, y
        for other in b.folders:
            if _inside(folder, other) or _inside(other, folder):
                return folder, other
    return None


def check_apart(roles: Mapping[str, OwnedPaths]) -> None:
    """Refuse roles (``{"output": ..., "checkpoint": ...}``) that share a file or folder.

    Raises:
        InvalidParameterError: naming both roles and the paths that meet.
    """
    names = list(roles)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            clash = _clash(roles[first], roles[second])
            if clash is not None:
                mine, theirs = clash
                raise InvalidParameterError(
                    f"the {first} and the {second} would share a file: {mine} (of the {first}) "
                    f"is {theirs} (of the {second}); give the {second} another path"
                )


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def check_plain(owned: OwnedPaths, what: str) -> None:
    """Refuse ``-``, files that exist but are not regular files, and symbolic links.

    The first of ``owned.files`` is the path given by the user; the others (side files) and the
    folders are held to the same rule, so no write of the run can leave the place it was given.

    Raises:
        InvalidParameterError: saying what the path of the ``what`` is and what to give instead.
    """
    if owned.files and os.fspath(owned.files[0]) == "-":
        raise InvalidParameterError(
            f"the {what} cannot be standard output ('-'): it must be a file that a re-run can "
            "resume; write to a file and read it from there"
        )
    for path in owned.files:
        _check_file(path, what)
    for folder in owned.folders:
        _check_link(folder, what)


def _check_file(path: Path, what: str) -> None:
    try:
        mode = os.stat(path).st_mode  # follows links: what a write would reach
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise InvalidParameterError(f"cannot use {path} as the {what}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise InvalidParameterError(
            f"the {what} {path} is {_kind(mode)}: it must be a regular file that a re-run can "
            "resume; write to a file and read it from there"
        )
    _check_link(path, what)


def _check_link(path: Path, what: str) -> None:
    if path.is_symlink():
        raise InvalidParameterError(
            f"the {what} {path} is a symbolic link (to {os.readlink(path)}); nothing is ever "
            "written through a link: give the target's path, or remove the link"
        )
