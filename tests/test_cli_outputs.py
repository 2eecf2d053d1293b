"""Outputs that must never lose data: overlapping paths, locks, links, special files, a full disk,
future periods, interrupted Parquet joins and dates at the end of the calendar.

Each test runs the real program (in-process or in a fresh interpreter) against a fake server on
127.0.0.1 and checks what ends up on disk and on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.backfill import _finish, backfill
from tabnine_usage_async.cli import main
from tabnine_usage_async.cli._run import Run, run_command
from tabnine_usage_async.sinks import open_sink, read_records
from tabnine_usage_async.testing import serve_fake_tabnine

from .test_cli import (
    UNUSED_URL,
    child_env,
    cli,
    error_lines,
    fake_in_thread,
    row_key,
    usage_requests,
)
from .test_cli_reliability import sorted_rows
from .test_sinks import records

# -- dates at the end of the calendar --------------------------------------------------------------

FAR_DATES = {
    "month window into year 10000": ["--start", "9999-12-01", "--end", "9999-12-31"],
    "week window into year 10000": [
        "--start",
        "9999-12-25",
        "--end",
        "9999-12-31",
        "--window",
        "week",
    ],
    "offset past the last day": ["--start", "9999-12-30", "--end", "9999-12-31T23:00:00-02:00"],
}


@pytest.mark.parametrize("name", FAR_DATES)
def test_dates_near_year_9999_exit_2_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range reaching the end of the calendar is refused with one line and exit 2."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    argv = ["backfill", *FAR_DATES[name], "-o", str(tmp_path / "u.jsonl")]
    assert main([*argv, "--base-url", UNUSED_URL]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("tabnine-usage: error: "), lines
    assert "9999" in lines[0]


def test_usage_near_year_9999_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usage command refuses the last days of the calendar before any request."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    argv = ["usage", "--organization", "--start", "9999-12-30", "--end", "9999-12-31"]
    assert main([*argv, "--granularity", "monthly", "--base-url", UNUSED_URL]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "9999" in lines[0], lines


# -- outputs, checkpoints and their side files never overlap ---------------------------------------


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``argv`` (never reaching a server) and return its one error line; it must exit 2."""
    code = main([*argv, "--base-url", UNUSED_URL])
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("tabnine-usage: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


TWO_DAYS = ["--start", "2026-01-01", "--end", "2026-01-03"]
# (output, checkpoint) relative to the test's folder; "sub" is a folder, "link" a link to it.
OVERLAPS = {
    "same path jsonl": ("u.jsonl", "u.jsonl"),
    "same path csv": ("u.csv", "u.csv"),
    "same path sqlite": ("u.sqlite", "u.sqlite"),
    "same path parquet": ("u.parquet", "u.parquet"),
    "another spelling": ("sub/u.jsonl", "sub/../sub/./u.jsonl"),
    "through a linked folder": ("sub/u.csv", "link/u.csv"),
    "other letter case": ("u.jsonl", "U.JSONL"),
    "the sqlite output's journal": ("u.sqlite", "u.sqlite-wal"),
    "inside the parquet parts": ("u.parquet", "u.parquet.parts/c.sqlite"),
    "the parquet temporary file": ("u.parquet", "u.parquet.tmp"),
    "the output's lock": ("u.jsonl", "u.jsonl.lock"),
    "the checkpoint's journal": ("c.sqlite-wal", "c.sqlite"),
}


@pytest.mark.parametrize("name", OVERLAPS)
def test_overlapping_output_and_checkpoint_are_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output sharing any file with its checkpoint exits 2 and leaves an earlier file alone."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "sub")
    output, checkpoint = (tmp_path / p for p in OVERLAPS[name])
    output.write_bytes(b"earlier data\n")
    argv = ["backfill", *TWO_DAYS, "-o", str(output), "--checkpoint", str(checkpoint)]
    if output.suffix not in (".jsonl", ".csv", ".sqlite", ".parquet"):
        argv += ["--format", "jsonl"]
    line = refused(capsys, *argv)
    assert "share a file" in line
    assert output.read_bytes() == b"earlier data\n"


def test_a_checkpoint_hard_linked_to_the_output_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard link is the same file under another name: refused like the same path."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    output = tmp_path / "u.jsonl"
    output.write_bytes(b"earlier data\n")
    os.link(output, tmp_path / "c.sqlite")
    line = refused(
        capsys, "backfill", *TWO_DAYS, "-o", str(output), "--checkpoint", str(tmp_path / "c.sqlite")
    )
    assert "share a file" in line
    assert output.read_bytes() == b"earlier data\n"


# -- one symbolic-link policy for every format -----------------------------------------------------

FORMATS = ("jsonl", "csv", "sqlite", "parquet")


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_output_that_is_a_symbolic_link_is_refused(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A linked output is never written through nor replaced: exit 2, link and target intact."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"precious\n")
    link = tmp_path / f"u.{fmt}"
    link.symlink_to(target)
    line = refused(capsys, "backfill", *TWO_DAYS, "-o", str(link))
    assert "symbolic link" in line and str(target) in line
    assert link.is_symlink() and target.read_bytes() == b"precious\n"


def test_a_checkpoint_that_is_a_symbolic_link_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint follows the same link rule as the output."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    target = tmp_path / "elsewhere.sqlite"
    link = tmp_path / "c.sqlite"
    link.symlink_to(target)
    argv = ["backfill", *TWO_DAYS, "-o", str(tmp_path / "u.jsonl"), "--checkpoint", str(link)]
    assert "symbolic link" in refused(capsys, *argv)
    assert link.is_symlink() and not target.exists()


def test_an_output_in_a_linked_folder_is_written(tmp_path: Path) -> None:
    """Links among the folders above the output are resolved, not refused."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    argv = ["backfill", "--fake", "--fake-teams", "1", "--fake-users", "2", "-q", *TWO_DAYS]
    result = cli(*argv, "-o", str(tmp_path / "link" / "u.jsonl"), env=child_env())
    assert result.returncode == 0, result.stderr
    assert len(read_records(tmp_path / "real" / "u.jsonl")) == (1 + 1 + 2) * 2


# -- outputs are regular files ---------------------------------------------------------------------


def test_dev_stdout_as_output_is_refused_before_writing(tmp_path: Path) -> None:
    """``--output /dev/stdout`` (a pipe here) exits 2 up front and writes nothing to it."""
    argv = ["backfill", "--fake", "--fake-teams", "1", "--fake-users", "2", "-q", *TWO_DAYS]
    result = cli(*argv, "--format", "jsonl", "-o", "/dev/stdout", env=child_env())
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "regular file" in lines[0], result.stderr
    assert result.stdout == ""


def test_a_named_pipe_as_output_is_refused(tmp_path: Path) -> None:
    """A FIFO is refused at once instead of blocking on open or failing on fsync."""
    fifo = tmp_path / "u.jsonl"
    os.mkfifo(fifo)
    argv = ["backfill", "--fake", "--fake-teams", "1", "--fake-users", "2", "-q", *TWO_DAYS]
    result = cli(*argv, "-o", str(fifo), env=child_env(), timeout=30)
    assert result.returncode == 2, result.stderr
    assert "is a pipe" in result.stderr


def test_dash_as_output_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--output -`` is refused with the reason, not taken as a file named '-'."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    line = refused(capsys, "backfill", *TWO_DAYS, "--format", "jsonl", "-o", "-")
    assert "standard output" in line
    assert not Path("-").exists()


# -- one running job per output --------------------------------------------------------------------


def test_a_second_run_on_the_same_output_is_refused_until_the_first_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another checkpoint does not let two runs write one output; a killed run's lock is freed."""
    output = tmp_path / "u.jsonl"
    span = ["--start", "2026-01-01", "--end", "2026-02-10", "--window", "day"]
    with fake_in_thread(seed=3, teams=2, users=6, latency=20) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        argv = [sys.executable, "-m", "tabnine_usage_async", "backfill", "--base-url"]
        argv += [fake.base_url, *span, "--concurrency", "1", "-o", str(output)]
        first = subprocess.Popen(
            [*argv, "--checkpoint", str(tmp_path / "first.sqlite")],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while usage_requests(fake) == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert first.poll() is None, "the first run ended too early"
            monkeypatch.setenv("TABNINE_API_TOKEN", fake.token)
            second = ["backfill", "--base-url", fake.base_url, *span, "-q", "-o", str(output)]
            second += ["--checkpoint", str(tmp_path / "second.sqlite")]
            assert main(second) == 2
            lines = error_lines(capsys.readouterr().err)
            assert len(lines) == 1 and "another running job" in lines[0], lines
            assert str(first.pid) in lines[0]
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        # The killed run's lock file is still there, but the operating system released its lock.
        assert main(second) == 0
    assert not (tmp_path / "u.jsonl.lock").exists()
    assert len(read_records(output)) == (1 + 2 + 6) * 40


# -- a full disk -----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs file system, mounted for this test (needs the right to mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to create a small file system")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_under_sqlite_names_the_cause_and_resumes_exactly(
    small_disk: Path, tmp_path: Path
) -> None:
    """SQLite output on a full disk says 'no space left'; with room again, it resumes exactly."""
    fake_args = ["--fake", "--fake-seed", "11", "--fake-teams", "3", "--fake-users", "20"]
    span = ["--start", "2026-01-01", "--end", "2026-02-10", "--window", "day"]
    reference = tmp_path / "reference.sqlite"
    done = cli("backfill", *fake_args, "-q", *span, "-o", str(reference), env=child_env())
    assert done.returncode == 0, done.stderr
    expected = sorted_rows(read_records(reference))
    output = small_disk / "u.sqlite"
    with fake_in_thread(seed=11, teams=3, users=20, latency=10) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        argv = ["backfill", "--base-url", fake.base_url, *span, "--concurrency", "4", "-q"]
        argv += ["-o", str(output), "--checkpoint", str(tmp_path / "c.sqlite")]
        full = cli(*argv, env=env)
        assert full.returncode == 1, full.stderr
        lines = error_lines(full.stderr)
        assert len(lines) == 1 and "no space left on device" in lines[0], full.stderr
        assert "no transaction" not in full.stderr
        grown = ["mount", "-o", "remount,size=8m", str(small_disk)]
        subprocess.run(grown, check=True, capture_output=True)
        resumed = cli(*argv, env=env)
    assert resumed.returncode == 0, resumed.stderr
    rows = read_records(output)
    assert len(rows) == len(expected)
    assert sorted_rows(rows) == expected


# -- periods that have not ended -------------------------------------------------------------------


async def test_windows_not_ended_are_neither_requested_nor_marked_done(tmp_path: Path) -> None:
    """Before ``now`` only ended days are fetched; a later run fetches the rest, exactly once."""
    output = tmp_path / "u.jsonl"
    now = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
    async with serve_fake_tabnine(teams=1, users=3, seed=5) as fake:
        async with TabnineClient(token=fake.token, base_url=fake.base_url) as client:
            first = await backfill(
                client, "2026-01-01", "2026-01-20", sink=output, window="day", now=now
            )
            ends = [
                parse_qs(r.query)["to"][0] for r in fake.stats.log if r.route.endswith("/usage")
            ]
            assert ends and max(ends) <= "2026-01-10T00:00:00Z"
            assert first.windows_not_ended == 10
            assert {r["period_start"][:10] for r in read_records(output)} == {
                f"2026-01-{day:02d}" for day in range(1, 10)
            }
            later = datetime(2026, 1, 25, tzinfo=timezone.utc)
            second = await backfill(
                client, "2026-01-01", "2026-01-20", sink=output, window="day", now=later
            )
    entities = 1 + 1 + 3
    assert second.windows_not_ended == 0
    assert (second.units_skipped, second.units_done) == (entities * 9, entities * 10)
    rows = read_records(output)
    assert len(rows) == len({row_key(r) for r in rows}) == entities * 19


def test_an_end_in_the_future_is_told_once_and_left_for_later(tmp_path: Path) -> None:
    """With --end after today, ended days are written, the rest is not, and one note says so."""
    today = datetime.now(timezone.utc).date()
    start, end = today - timedelta(days=2), today + timedelta(days=3)
    output = tmp_path / "u.jsonl"
    argv = ["backfill", "--fake", "--fake-teams", "1", "--fake-users", "2", "--window", "day"]
    argv += ["--start", start.isoformat(), "--end", end.isoformat(), "-o", str(output)]
    result = cli(*argv, env=child_env())
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "lies in the future" in line]
    assert len(notes) == 1, result.stderr
    assert "3 of 5 windows" in notes[0]
    days = {r["period_start"][:10] for r in read_records(output)}
    assert days == {start.isoformat(), (start + timedelta(days=1)).isoformat()}


# -- an interrupted Parquet run never leaves a finished-looking file -------------------------------


def test_an_interrupted_parquet_run_leaves_no_final_file_and_resumes(tmp_path: Path) -> None:
    """SIGINT mid-run: exit 130, only 'interrupted' reported, no file at the final path."""
    output = tmp_path / "usage.parquet"
    span = ["--start", "2026-01-01", "--end", "2026-02-01", "--window", "day"]
    with fake_in_thread(seed=5, teams=2, users=8, latency=10) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        argv = [sys.executable, "-m", "tabnine_usage_async", "backfill", "--base-url"]
        argv += [fake.base_url, *span, "--concurrency", "2", "--output", str(output)]
        child = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while usage_requests(fake) < 40 and time.monotonic() < deadline:
                assert child.poll() is None, "the backfill ended before it was interrupted"
                time.sleep(0.02)
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 130, err
        assert "interrupted" in err and "finished" not in err
        assert not output.exists()
        assert not (tmp_path / "usage.parquet.tmp").exists()
        again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    rows = read_records(output)
    assert len(rows) == len({row_key(r) for r in rows}) == (1 + 2 + 8) * 31


def many_parts(path: Path, parts: int) -> str:
    """A Parquet sink left unfinished with ``parts`` committed parts; returns its marker."""
    sink = open_sink(path)
    for index in range(parts):
        sink.write(records(index * 20, 20))
        marker = sink.flush()
    sink.abort()
    return marker


async def test_cancelling_the_parquet_join_stops_it_and_keeps_the_parts(tmp_path: Path) -> None:
    """A cancellation during the final join stops it: no final file, and the job resumes."""
    output = tmp_path / "u.parquet"
    marker = many_parts(output, 120)
    sink = open_sink(output, resume=marker)
    finishing = asyncio.ensure_future(_finish(sink))
    temporary = tmp_path / "u.parquet.tmp"
    while not temporary.exists():  # the join has begun: its temporary file is open
        assert not finishing.done(), "the join ended before it could be cancelled"
        await asyncio.sleep(0.001)
    finishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finishing
    assert not output.exists() and not temporary.exists()
    resumed = open_sink(output, resume=marker)
    resumed.close()
    assert len(read_records(output)) == 120 * 20


async def test_a_signal_after_the_summary_does_not_also_report_interrupted() -> None:
    """Once a command has finished its work, a late SIGINT keeps its exit code (not 130)."""

    async def handler(_args: argparse.Namespace, run: Run) -> int:
        run.finished = 0
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)  # cleanup that the signal cancels
        return 0

    assert await run_command(handler, argparse.Namespace(), Run()) == 0


def test_dry_run_counts_only_the_windows_that_have_ended(tmp_path: Path) -> None:
    """--dry-run's request count leaves out windows the run would leave for later."""
    today = datetime.now(timezone.utc).date()
    start, end = today - timedelta(days=2), today + timedelta(days=3)
    argv = ["backfill", "--fake", "--fake-teams", "1", "--fake-users", "2", "--window", "day"]
    argv += ["--start", start.isoformat(), "--end", end.isoformat(), "--dry-run"]
    result = cli(*argv, "-o", str(tmp_path / "u.jsonl"), env=child_env())
    assert result.returncode == 0, result.stderr
    assert "usage requests: 8\n" in result.stdout  # 4 entities x 2 ended days
    assert "3 not ended yet" in result.stdout
