"""The output lock on real files: one holder at a time, never through a link."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabnine_usage_async.errors import InvalidParameterError
from tabnine_usage_async.sinks import OutputLock, OutputLockedError


def test_an_output_is_locked_once_at_a_time(tmp_path: Path) -> None:
    """A second lock on a held output is refused at once; after release it can be taken again."""
    output = tmp_path / "u.jsonl"
    with OutputLock.acquire(output) as held:
        assert held.path == tmp_path / "u.jsonl.lock"
        with pytest.raises(OutputLockedError, match="another running job"):
            OutputLock.acquire(output)
    assert not held.path.exists()
    OutputLock.acquire(output).release()


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    """A lock file left by a killed run holds no lock: the next run takes it."""
    (tmp_path / "u.jsonl.lock").write_text("12345")
    lock = OutputLock.acquire(tmp_path / "u.jsonl")
    assert (tmp_path / "u.jsonl.lock").read_text() != "12345"
    lock.release()


def test_a_link_at_the_lock_name_is_never_followed(tmp_path: Path) -> None:
    """A symbolic link planted as the lock file is refused, and its target is not created."""
    target = tmp_path / "victim"
    (tmp_path / "u.jsonl.lock").symlink_to(target)
    with pytest.raises(InvalidParameterError, match="lock file"):
        OutputLock.acquire(tmp_path / "u.jsonl")
    assert not target.exists()
