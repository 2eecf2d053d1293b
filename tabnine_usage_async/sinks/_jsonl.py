"""JSON Lines output: one compact JSON object per record, keys in ``RECORD_FIELDS`` order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..records import UsageRecord
from ._appendfile import AppendFile
from ._common import ClosingSink, SinkError

__all__ = ["JsonlSink", "read_jsonl"]

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class JsonlSink(ClosingSink):
    """Appends records to a ``.jsonl`` file; markers are ``offset:<bytes>``."""

    format = "jsonl"

    def __init__(self, path: Path, *, resume: str | None) -> None:
        self.path = path
        self._file = AppendFile(path, header=b"", resume=resume)

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Append one line per record (buffered until ``flush``)."""
        if records:
            lines = "".join([_encode(r.to_row()) + "\n" for r in records])
            self._file.write(lines.encode("utf-8"))

    def flush(self) -> str:
        """Fsync the file and return its durable length as ``offset:<bytes>``."""
        return self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def abort(self) -> None:
        """Close without the final flush (after a failure); the next resume cuts back."""
        self._file.abort()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL output as a row dict."""
    rows: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", newline="") as file:
        # Only "\n" ends a line: ensure_ascii=False leaves U+2028 and friends raw inside strings.
        lines = file.read().split("\n")
    if lines[-1]:
        raise SinkError(f"{path} ends with an unfinished line (line {len(lines)})")
    for number, line in enumerate(lines[:-1], start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SinkError(f"{path} line {number} is not valid JSON: {exc}") from None
    return rows
