"""``Checkpoint``: which work units of a backfill are finished, so a re-run continues the job.

A checkpoint is a small SQLite file (WAL, ``synchronous=FULL``) holding the job's parameters, the
keys of finished and failed units, and the output's position marker. :meth:`Checkpoint.commit`
stores units and marker in one transaction, which is what makes a killed backfill resumable
without losing or doubling records: the marker always describes an output that holds exactly the
records of the units marked done. Only unit keys are kept, never records, tokens or anything else
from the environment.

While a checkpoint is open, its process holds an exclusive lock on the file, so two runs can
never write the same job (and the same output) at once.

Example::

    with Checkpoint.open(default_path(output), job=job) as checkpoint:
        done = checkpoint.done_units()
        ...
        checkpoint.commit(done=["user|u1|2026-01-01T00:00:00Z|..."], failed={}, sink_marker=m)
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import InvalidParameterError

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointMismatchError",
    "default_path",
]

_KIND = "tabnine-usage-async checkpoint"
_VERSION = "1"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE units (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('done', 'failed')),
    cause TEXT
) WITHOUT ROWID;
"""
# A unit done once stays done: a later failure report for it is ignored.
_MARK_FAILED = """
INSERT INTO units (key, state, cause) VALUES (?, 'failed', ?)
ON CONFLICT (key) DO UPDATE SET cause = excluded.cause WHERE state = 'failed'
"""
_MARK_DONE = """
INSERT INTO units (key, state, cause) VALUES (?, 'done', NULL)
ON CONFLICT (key) DO UPDATE SET state = 'done', cause = NULL
"""
_SET_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
# Waiting longer would only delay the inevitable "in use" error of a second concurrent run.
_LOCK_TIMEOUT = 0.2
_SHOWN = 80


class CheckpointError(InvalidParameterError):
    """The checkpoint file cannot be used: not a checkpoint, damaged, or in use by another run."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint was written by a job with other parameters.

    Attributes:
        path: the checkpoint file.
        differences: each differing parameter -> ``(stored value, given value)``; a parameter
            missing on one side shows as ``None`` there.
    """

    def __init__(self, path: Path, differences: Mapping[str, tuple[Any, Any]]) -> None:
        self.path = path
        self.differences = dict(differences)
        details = "; ".join(
            f"{key}: stored {_show(old)}, given {_show(new)}"
            for key, (old, new) in differences.items()
        )
        super().__init__(
            f"checkpoint {path} belongs to a different job ({details}). Use a new --checkpoint "
            f"path for this job, or delete {path} to start the old one over."
        )


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def default_path(output: Path) -> Path:
    """Where a backfill to ``output`` keeps its checkpoint: ``<output>.checkpoint.sqlite``."""
    return output.with_name(output.name + ".checkpoint.sqlite")


def _canonical(job: Mapping[str, Any]) -> str:
    # Sorted keys and a JSON round trip make tuples and lists, and key order, compare equal.
    return json.dumps(dict(job), sort_keys=True, ensure_ascii=False, allow_nan=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _checked_done(keys: Iterable[str]) -> Iterator[tuple[str]]:
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"unit keys are strings, not {type(key).__name__}: {key!r}")
        yield (key,)


def _checked_failed(failed: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    for key, cause in failed.items():
        if not isinstance(key, str) or not isinstance(cause, str):
            raise TypeError(f"failed units map string keys to string causes: {key!r}: {cause!r}")
        yield (key, _one_line(cause))


class Checkpoint:
    """An open checkpoint file. Use :meth:`open`; close it (or use ``with``) when done.

    Attributes:
        path: the checkpoint file.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        """Wrap an initialised connection; call :meth:`open` instead."""
        self.path = path
        self._conn: sqlite3.Connection | None = conn

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, job: Mapping[str, Any]) -> Checkpoint:
        """Open the checkpoint at ``path`` for ``job``, creating it if the file does not exist.

        Args:
            path: the checkpoint file.
            job: the job's parameters as JSON values (no secrets); a re-run must give equal ones.

        Raises:
            CheckpointMismatchError: the file belongs to a job with other parameters.
            CheckpointError: the file is not a checkpoint, is damaged, is locked by another
                running job, or cannot be created.
        """
        target = Path(path)
        if not target.parent.is_dir():
            raise CheckpointError(
                f"cannot create checkpoint {target}: folder {target.parent} does not exist"
            )
        wanted = _canonical(job)
        try:
            # Commits may run in a worker thread; one run never commits concurrently.
            conn = sqlite3.connect(
                target, isolation_level=None, timeout=_LOCK_TIMEOUT, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise CheckpointError(f"cannot open checkpoint {target}: {exc}") from None
        try:
            _prepare(conn, target, wanted)
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" in str(exc):
                raise CheckpointError(
                    f"checkpoint {target} is in use by another running backfill"
                ) from None
            raise CheckpointError(f"cannot use checkpoint {target}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CheckpointError(
                f"{target} is not a checkpoint file ({exc}); give another --checkpoint path"
            ) from None
        except BaseException:
            conn.close()
            raise
        return cls(target, conn)

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise CheckpointError(f"checkpoint {self.path} is closed")
        return self._conn

    def _meta(self, key: str) -> str | None:
        row = self._live().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def job(self) -> dict[str, Any]:
        """The job parameters stored when the checkpoint was created."""
        stored: dict[str, Any] = json.loads(self._meta("job") or "{}")
        return stored

    @property
    def sink_marker(self) -> str | None:
        """The output marker stored by the last commit, or None before the first commit."""
        return self._meta("sink_marker")

    @property
    def runs(self) -> int:
        """How many runs were started with :meth:`begin_run`."""
        return int(self._meta("runs") or "0")

    def done_units(self) -> set[str]:
        """Keys of every finished unit."""
        rows = self._live().execute("SELECT key FROM units WHERE state = 'done'")
        return {key for (key,) in rows}

    def failed_units(self) -> dict[str, str]:
        """Unit key -> one-line cause, for units that failed (in this run, once it has begun)."""
        rows = self._live().execute("SELECT key, cause FROM units WHERE state = 'failed'")
        return {str(key): str(cause) for key, cause in rows}

    def begin_run(self) -> int:
        """Count a new run and forget the previous run's failures (those units are retried).

        Returns:
            the number of this run, from 1.
        """
        conn = self._live()
        run = self.runs + 1
        with _Transaction(conn):
            conn.execute("DELETE FROM units WHERE state = 'failed'")
            conn.execute(_SET_META, ("runs", str(run)))
        return run

    def commit(self, *, done: Iterable[str], failed: Mapping[str, str], sink_marker: str) -> None:
        """In one transaction: mark ``done`` finished, record ``failed`` ones, store the marker.

        A done unit leaves the failed list; a failed unit that is already done stays done. If
        anything raises, nothing of this commit is stored.
        """
        conn = self._live()
        if not isinstance(sink_marker, str):
            raise TypeError(f"sink_marker is a string, not {type(sink_marker).__name__}")
        with _Transaction(conn):
            conn.executemany(_MARK_FAILED, _checked_failed(failed))
            conn.executemany(_MARK_DONE, _checked_done(done))
            conn.execute(_SET_META, ("sink_marker", sink_marker))

    def close(self) -> None:
        """Close the file and release its lock; closing twice is harmless."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpoint({os.fspath(self.path)!r})"


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` if the body raises."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._conn.execute("COMMIT")
        elif self._conn.in_transaction:  # SQLite may already have rolled back on its own error
            self._conn.execute("ROLLBACK")


def _prepare(conn: sqlite3.Connection, path: Path, wanted: str) -> None:
    """Set durability, take the run's lock, then create the tables or check the stored job."""
    # Exclusive locking: the first write lock is kept until close, so a second run fails fast.
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    with _Transaction(conn):
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        if not tables:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(_SET_META, [("kind", _KIND), ("version", _VERSION), ("job", wanted)])
            return
        kind = None
        if {"meta", "units"} <= tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'kind'").fetchone()
            kind = None if row is None else row[0]
        if kind != _KIND:
            raise sqlite3.DatabaseError("a SQLite database, but not a checkpoint")
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if version != _VERSION:
            raise CheckpointError(
                f"checkpoint {path} has format version {version}; this version reads "
                f"{_VERSION}. Give a new --checkpoint path."
            )
        (stored_text,) = conn.execute("SELECT value FROM meta WHERE key = 'job'").fetchone()
    stored, given = json.loads(stored_text), json.loads(wanted)
    if stored != given:
        missing = object()
        differences = {
            key: (stored.get(key), given.get(key))
            for key in sorted(stored.keys() | given.keys())
            if stored.get(key, missing) != given.get(key, missing)
        }
        raise CheckpointMismatchError(path, differences)
