"""An append-only text output whose durable length is its resume marker (JSONL and CSV).

The file only ever grows by whole lines, and ``flush`` fsyncs it and reports the byte offset. A
re-run cuts the file back to the last committed offset, which drops both lines of units that were
never committed and a line torn by the kill, then appends after it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from ._common import SinkError, fsync_dir, make_marker, parse_marker

__all__ = ["AppendFile"]

_UNIT = "offset"
# Large writes amortise the system call per batch; durability comes from fsync in flush.
_BUFFER = 1 << 20


class AppendFile:
    """A file opened fresh (truncated, ``header`` written) or resumed at an ``offset:N`` marker."""

    def __init__(self, path: Path, *, header: bytes, resume: str | None) -> None:
        self.path = path
        self._dir_synced = False
        self._file: BinaryIO | None
        if resume is None:
            self._file = open(path, "wb", buffering=_BUFFER)  # noqa: SIM115 - closed in close()
            self._file.write(header)
        else:
            self._file = self._reopen(parse_marker(resume, _UNIT, path), header)
            # The file already existed with its entry durable in the folder.
            self._dir_synced = True

    def _reopen(self, offset: int, header: bytes) -> BinaryIO:
        advice = "the output was changed after the checkpoint was written; delete the checkpoint"
        try:
            size = os.path.getsize(self.path)
        except FileNotFoundError:
            raise SinkError(f"cannot resume {self.path}: the file is missing; {advice}") from None
        if size < offset:
            raise SinkError(
                f"cannot resume {self.path}: it has {size} bytes but {offset} were committed; "
                f"{advice}"
            )
        file = open(self.path, "r+b", buffering=_BUFFER)  # noqa: SIM115 - closed in close()
        try:
            head = file.read(len(header))
            file.seek(max(offset - 1, 0))
            last = file.read(1)
            if offset < len(header) or head != header or (offset and last != b"\n"):
                raise SinkError(
                    f"cannot resume {self.path}: its content does not match the committed "
                    f"position {offset}; {advice}"
                )
            file.truncate(offset)
            file.seek(offset)
        except BaseException:
            file.close()
            raise
        return file

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            raise SinkError(f"{self.path} is closed")
        return self._file

    def write(self, data: bytes) -> None:
        """Append whole lines."""
        self._open_file().write(data)

    def flush(self) -> str:
        """Fsync what was appended and return ``offset:<durable length in bytes>``."""
        file = self._open_file()
        file.flush()
        os.fsync(file.fileno())
        if not self._dir_synced:
            fsync_dir(self.path.parent)
            self._dir_synced = True
        return make_marker(_UNIT, file.tell())

    def abort(self) -> None:
        """Close without the final flush; what follows the last marker is cut on resume."""
        if self._file is None:
            return
        file, self._file = self._file, None
        # Closing may still write the buffer (cut back on resume) and fail like the write that
        # stopped the run, which was already reported.
        with contextlib.suppress(OSError):
            file.close()

    def close(self) -> None:
        """Flush and close the file; closing twice is harmless."""
        if self._file is None:
            return
        try:
            self.flush()
        finally:
            self._file.close()
            self._file = None
