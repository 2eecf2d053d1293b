"""The sync and status commands: killed and rerun, two at once, exit codes, dry run, status."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async.cli import main
from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.streams import STREAMS

from .test_cli import child_env, fake_in_thread

SEED, TEAMS, USERS = 13, 3, 16
NOW = "2026-01-10T15:30:00Z"
SINCE = "2025-12-15"
# The killed runs start earlier: 41 days of two sources for 20 entities at 10 ms, two at a time,
# last about 8 s unkilled, well beyond the 5 s the three runs get before their SIGKILL.
KILL_SINCE = "2025-12-01"
FAKE = ["--fake", "--fake-seed", str(SEED), "--fake-teams", str(TEAMS), "--fake-users", str(USERS)]
# Day windows: one request per entity, day and source.
JOB = ["--since", KILL_SINCE, "--now", NOW, "--window", "day"]
SYNCED = {s.name for s in STREAMS if s.default and s.api != "v1"}
USAGE_ROUTES = ("/api/v2/organization/usage", "/api/v2/team/usage", "/api/v2/user/usage")


def dataset_rows(target: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, without what differs between runs (nothing: fetch times are
    the job's --now) and the units' states without their run ids."""

    async def read() -> dict[str, list[tuple[Any, ...]]]:
        dest = open_destination(str(target))
        await dest.open([], lock=False)
        try:
            tables: dict[str, list[tuple[Any, ...]]] = {}
            for stream in STREAMS:
                rows: list[tuple[Any, ...]] = []
                if stream.name not in SYNCED:
                    continue
                async for batch in dest.read(stream.name):
                    rows += [tuple(repr(r[c]) for c in stream.table.column_names) for r in batch]
                units = await dest.units(stream.name)
                tables[stream.name] = sorted(rows)
                tables[f"{stream.name} units"] = sorted(
                    (u.unit, u.complete, u.fetched_at, u.rows) for u in units.values()
                )
            return tables
        finally:
            await dest.close()

    return asyncio.run(read())


def statuses(target: Path) -> list[str]:
    async def read() -> list[str]:
        dest = open_destination(str(target))
        await dest.open([], lock=False)
        try:
            return [r.status for r in await dest.runs()]
        finally:
            await dest.close()

    return asyncio.run(read())


def usage_requests(fake: Any) -> int:
    return sum(fake.stats.requests_by_route[route] for route in USAGE_ROUTES)


@pytest.mark.parametrize("kind", ["sqlite", "parquet"])
def test_killed_syncs_then_rerun_equal_an_uninterrupted_sync(tmp_path: Path, kind: str) -> None:
    """SIGKILL at random moments of a sync, then the same command to the end, gives the same
    dataset, row for row and unit for unit, as one uninterrupted sync."""
    if kind == "parquet":
        pytest.importorskip("pyarrow")
    rng = random.Random(f"sync-kill-{kind}")
    name = "usage.sqlite" if kind == "sqlite" else "dataset"
    killed, reference = tmp_path / "killed" / name, tmp_path / "reference" / name
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS, latency=10) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        base = [sys.executable, "-m", "tabnine_usage_async", "sync", "--base-url", fake.base_url]
        base += [*JOB, "--concurrency", "2", "-q"]
        for low, high in ((0.1, 1.0), (0.5, 2.0), (0.5, 2.0)):
            child = subprocess.Popen([*base, "--to", str(killed)], env=env, stderr=subprocess.PIPE)
            try:
                before = usage_requests(fake)
                deadline = time.monotonic() + 30
                while usage_requests(fake) == before and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(low, high))
                assert child.poll() is None, "the sync ended before it was killed"
                child.send_signal(signal.SIGKILL)
            finally:
                child.kill()
                child.wait()
                assert child.stderr is not None
                child.stderr.close()
        final = subprocess.run(
            [*base, "--to", str(killed)], env=env, capture_output=True, text=True, check=False
        )
        assert final.returncode == 0, final.stderr
        whole = subprocess.run(
            [*base, "--to", str(reference)], env=env, capture_output=True, text=True, check=False
        )
        assert whole.returncode == 0, whole.stderr
    got, expected = dataset_rows(killed), dataset_rows(reference)
    assert got["usage"] and got["agent_usage_breakdown"]
    assert got == expected
    runs = statuses(killed)
    assert runs[0] == "succeeded" and "interrupted" in runs[1:]


def test_status_reports_freshness_and_the_last_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status lists each synced stream and the runs, exit 0 after a successful run and 1 for a
    destination without runs."""
    target = tmp_path / "usage.sqlite"
    assert main(["sync", *FAKE, "-q", "--to", str(target), "--since", SINCE, "--now", NOW]) == 0
    capsys.readouterr()
    assert main(["status", "--to", str(target)]) == 0
    out = capsys.readouterr().out
    assert "usage:" in out and "users:" in out and "#1 succeeded api v2" in out


def test_sync_dry_run_prints_the_job_and_costs_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run shows the job and the requests per stream, and creates no dataset."""
    target = tmp_path / "usage.sqlite"
    argv = ["sync", *FAKE, "--to", str(target), "--since", "2025-12-01", "--now", NOW]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    entities = 1 + TEAMS + USERS
    assert f"usage: {2 * entities} ({2 * entities} new)" in out
    assert '"lookback_hours": 72.0' in out
    assert not target.exists()


def test_second_sync_while_one_runs_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sync into a destination another run holds exits 2 with one clear line."""
    target = tmp_path / "usage.sqlite"
    assert main(["sync", *FAKE, "-q", "--to", str(target), "--since", SINCE, "--now", NOW]) == 0
    capsys.readouterr()

    async def hold_and_sync() -> int:
        dest = open_destination(str(target))
        await dest.open([s.table for s in STREAMS])
        try:
            result = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "tabnine_usage_async", "sync", *FAKE, "--to", str(target)],
                capture_output=True,
                text=True,
                env=child_env(),
                check=False,
            )
        finally:
            await dest.close()
        assert "in use by another run" in result.stderr
        assert "Traceback" not in result.stderr
        return result.returncode

    assert asyncio.run(hold_and_sync()) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "2026-01-01", "--lookback", "soon"], "lookback"),
        (["--since", "2026-01-01", "--streams", "usage,nope"], "unknown stream"),
        ([], "give --since"),
        (["--since", "2026-01-01", "--to", "usage.jsonl"], "expected a SQLite file"),
    ],
)
def test_bad_sync_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad sync arguments exit 2 with one readable line."""
    target = tmp_path / "usage.sqlite"
    assert main(["sync", *FAKE, "--to", str(target), "--now", NOW, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
