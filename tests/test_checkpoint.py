"""Checkpoint: create, reopen, job matching, failures, atomic commits, refusing bad files."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointMismatchError,
    default_path,
)
from tabnine_usage_async.errors import InvalidParameterError

JOB: dict[str, Any] = {
    "base_url": "https://api.example.com",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-03-01T00:00:00Z",
    "granularity": "daily",
    "windows": ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"],
    "scopes": ["organization", "team", "user"],
    "include_unassigned": True,
    "output": "usage.parquet",
    "format": "parquet",
}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the test's checkpoint lives."""
    return tmp_path / "usage.parquet.checkpoint.sqlite"


def test_new_checkpoint_is_empty(path: Path) -> None:
    """A fresh checkpoint has no marker, no done and no failed units, and keeps the job."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.sink_marker is None
        assert checkpoint.done_units() == set()
        assert checkpoint.failed_units() == {}
        assert checkpoint.job == JOB
    assert path.exists()


def test_commit_survives_reopening(path: Path) -> None:
    """Units and the marker of every commit are there after closing and reopening."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=["a", "b"], failed={"c": "boom"}, sink_marker="offset:10")
        checkpoint.commit(done=iter(["d"]), failed={}, sink_marker="offset:25")
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.done_units() == {"a", "b", "d"}
        assert checkpoint.failed_units() == {"c": "boom"}
        assert checkpoint.sink_marker == "offset:25"


def test_failed_unit_is_cleared_once_done(path: Path) -> None:
    """A failure stays listed until a later commit reports the unit done."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=[], failed={"u1": "timeout", "u2": "500"}, sink_marker="rows:0")
        checkpoint.commit(done=[], failed={"u1": "429 again"}, sink_marker="rows:0")
        assert checkpoint.failed_units() == {"u1": "429 again", "u2": "500"}
        checkpoint.commit(done=["u1"], failed={}, sink_marker="rows:3")
        assert checkpoint.failed_units() == {"u2": "500"}
        assert checkpoint.done_units() == {"u1"}


def test_done_unit_stays_done_when_reported_failed_later(path: Path) -> None:
    """Finished work is never demoted by a stray failure report."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=["u1"], failed={}, sink_marker="m1")
        checkpoint.commit(done=[], failed={"u1": "late error"}, sink_marker="m2")
        assert checkpoint.done_units() == {"u1"}
        assert checkpoint.failed_units() == {}


def test_causes_are_kept_on_one_line(path: Path) -> None:
    """Multi-line causes are stored as one readable line."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=[], failed={"u": "500 Server Error\n  body:\tdown"}, sink_marker="")
        assert checkpoint.failed_units() == {"u": "500 Server Error body: down"}


def test_begin_run_counts_runs_and_forgets_old_failures(path: Path) -> None:
    """Each run starts without the previous run's failures; finished units are untouched."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.runs == 0
        assert checkpoint.begin_run() == 1
        checkpoint.commit(done=["a"], failed={"b": "error"}, sink_marker="m")
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.begin_run() == 2
        assert checkpoint.runs == 2
        assert checkpoint.failed_units() == {}
        assert checkpoint.done_units() == {"a"}
        assert checkpoint.sink_marker == "m"


def test_commit_that_raises_midway_changes_nothing(path: Path) -> None:
    """A commit interrupted after some inserts rolls back: units and marker stay as they were."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=["a"], failed={"f": "error"}, sink_marker="offset:1")
        bad: list[Any] = ["b", "c", 3]
        with pytest.raises(TypeError):
            checkpoint.commit(done=bad, failed={"g": "x"}, sink_marker="offset:2")
        assert checkpoint.done_units() == {"a"}
        assert checkpoint.failed_units() == {"f": "error"}
        assert checkpoint.sink_marker == "offset:1"
        checkpoint.commit(done=["b"], failed={}, sink_marker="offset:3")
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.done_units() == {"a", "b"}
        assert checkpoint.sink_marker == "offset:3"


def test_job_mismatch_names_each_difference(path: Path) -> None:
    """Reopening for another job lists every differing key with stored and given values."""
    Checkpoint.open(path, job=JOB).close()
    other = dict(JOB, granularity="weekly", include_unassigned=False, extra_key=1)
    del other["format"]
    with pytest.raises(CheckpointMismatchError) as info:
        Checkpoint.open(path, job=other)
    error = info.value
    assert set(error.differences) == {"granularity", "include_unassigned", "extra_key", "format"}
    assert error.differences["granularity"] == ("daily", "weekly")
    message = str(error)
    for key in error.differences:
        assert key in message
    assert '"daily"' in message and '"weekly"' in message
    assert "start" not in error.differences and "--checkpoint" in message
    assert isinstance(error, InvalidParameterError)


def test_mismatch_leaves_the_checkpoint_untouched(path: Path) -> None:
    """A refused re-run does not change the stored job or progress."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=["a"], failed={}, sink_marker="m")
    with pytest.raises(CheckpointMismatchError):
        Checkpoint.open(path, job=dict(JOB, start="2025-01-01T00:00:00Z"))
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.done_units() == {"a"} and checkpoint.sink_marker == "m"


def test_equal_job_in_another_shape_matches(path: Path) -> None:
    """Key order and tuples versus lists do not make a job different."""
    Checkpoint.open(path, job=JOB).close()
    reordered = {key: JOB[key] for key in reversed(list(JOB))}
    reordered["scopes"] = tuple(JOB["scopes"])
    Checkpoint.open(path, job=reordered).close()


def test_text_file_is_refused(path: Path) -> None:
    """A file that is not SQLite is refused with a CheckpointError naming it."""
    path.write_text("hello, this is a CSV\n1,2,3\n" * 50, encoding="utf-8")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        Checkpoint.open(path, job=JOB)
    assert path.read_text(encoding="utf-8").startswith("hello")


def test_other_sqlite_database_is_refused(path: Path) -> None:
    """A SQLite database of something else is refused and left as it was."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE usage_records (scope TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        Checkpoint.open(path, job=JOB)
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
    finally:
        conn.close()
    assert tables == ["usage_records"]


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    """A checkpoint path in a folder that does not exist is refused clearly."""
    with pytest.raises(CheckpointError, match="does not exist"):
        Checkpoint.open(tmp_path / "nope" / "job.sqlite", job=JOB)


def test_second_open_while_in_use_is_refused(path: Path) -> None:
    """Two runs cannot hold the same checkpoint at once; the lock goes with close."""
    with Checkpoint.open(path, job=JOB):
        with pytest.raises(CheckpointError, match="in use"):
            Checkpoint.open(path, job=JOB)
    Checkpoint.open(path, job=JOB).close()


def test_closed_checkpoint_refuses_use(path: Path) -> None:
    """After close, reads and commits raise CheckpointError; closing again is harmless."""
    checkpoint = Checkpoint.open(path, job=JOB)
    checkpoint.close()
    checkpoint.close()
    with pytest.raises(CheckpointError):
        checkpoint.done_units()
    with pytest.raises(CheckpointError):
        checkpoint.commit(done=[], failed={}, sink_marker="m")


def test_environment_never_reaches_the_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the environment, such as the API token, is written to the checkpoint."""
    secret = "tok-4b1d-very-secret"
    monkeypatch.setenv("TABNINE_API_TOKEN", secret)
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=["a"], failed={"b": "401"}, sink_marker="m")
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    assert secret.encode() not in stored
    assert b"https://api.example.com" in stored


def test_file_stays_small(path: Path) -> None:
    """Ten thousand finished units take well under a megabyte: only keys are stored."""
    keys = [f"user|user-{i}|2026-01-01T00:00:00Z|2026-02-01T00:00:00Z" for i in range(10_000)]
    with Checkpoint.open(path, job=JOB) as checkpoint:
        checkpoint.commit(done=keys, failed={}, sink_marker="m")
    size = sum(p.stat().st_size for p in path.parent.iterdir() if p.is_file())
    assert size < 1_000_000
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert checkpoint.done_units() == set(keys)


def test_default_path_sits_beside_the_output(tmp_path: Path) -> None:
    """The default checkpoint is <output>.checkpoint.sqlite in the output's folder."""
    output = tmp_path / "out" / "usage.csv"
    assert default_path(output) == tmp_path / "out" / "usage.csv.checkpoint.sqlite"


def test_repr_names_the_file_only(path: Path) -> None:
    """The repr shows the path, nothing from the job."""
    with Checkpoint.open(path, job=JOB) as checkpoint:
        assert repr(checkpoint) == f"Checkpoint({str(path)!r})"


def test_commit_from_a_worker_thread(path: Path) -> None:
    """A commit may run in another thread than the open, e.g. off an event loop."""
    with Checkpoint.open(path, job=JOB) as checkpoint, ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(checkpoint.commit, done=["a"], failed={}, sink_marker="m").result()
        assert checkpoint.done_units() == {"a"}
