"""The command line under stress: killed and resumed, failing units re-run, cancellation, bad input.

Each test runs the real program (or the library in a fresh interpreter) against a fake server on
127.0.0.1 and checks what ends up on disk and on stderr.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tabnine_usage_async.cli import main
from tabnine_usage_async.sinks import read_records
from tabnine_usage_async.testing import Dataset, ScriptedFault

from .kill_support import kill_then_finish, units_done_skipped
from .test_cli import (
    UNUSED_URL,
    child_env,
    cli,
    entities,
    error_lines,
    fake_in_thread,
    row_key,
    usage_requests,
)

SEED, TEAMS, USERS = 11, 3, 20
DATA = Dataset(seed=SEED, teams=TEAMS, users=USERS)
FAKE = ["--fake", "--fake-seed", str(SEED), "--fake-teams", str(TEAMS), "--fake-users", str(USERS)]
# One request per entity and day: enough units that a run at the fake's latency lasts seconds.
DAYS = 40
SPAN = ["--start", "2026-01-01", "--end", "2026-02-10", "--window", "day"]
UNITS = entities(DATA) * DAYS
SINKS = ("jsonl", "csv", "sqlite", "parquet")


def sorted_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: tuple(str(v) for v in row_key(r)))


# -- kill and resume -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The rows of one backfill run from start to end without interruption."""
    output = tmp_path_factory.mktemp("reference") / "usage.jsonl"
    result = cli("backfill", *FAKE, "-q", *SPAN, "--output", str(output), env=child_env())
    assert result.returncode == 0, result.stderr
    return sorted_rows(read_records(output))


def assert_every_line_parses(output: Path, fmt: str, records: int) -> None:
    """The raw file holds whole lines only: each parses, and there is one per record."""
    data = output.read_bytes()
    assert data.endswith(b"\n")
    lines = data.decode("utf-8").splitlines()
    if fmt == "jsonl":
        assert all(isinstance(json.loads(line), dict) for line in lines)
        assert len(lines) == records
    else:
        rows = list(csv.reader(lines))
        assert all(len(row) == len(rows[0]) for row in rows)
        assert len(rows) == records + 1


@pytest.mark.parametrize("fmt", SINKS)
def test_killed_three_times_then_resumed_equals_an_uninterrupted_run(
    tmp_path: Path, fmt: str, uninterrupted: list[dict[str, Any]]
) -> None:
    """SIGKILL at three random moments, resumed by the same command, yields the same rows."""
    rng = random.Random(f"kill-{fmt}")
    output = tmp_path / f"usage.{fmt}"
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS, latency=10) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        argv = [sys.executable, "-m", "tabnine_usage_async", "backfill", "--base-url"]
        argv += [fake.base_url, *SPAN, "--concurrency", "2", "--output", str(output)]
        # The first kill may land before anything is committed; the later ones after a commit
        # (every 2 s), so that the resumed runs really skip work.
        moments = ((0.2, 1.5), (2.1, 2.8), (2.1, 2.8))
        final = kill_then_finish(argv, env, lambda: usage_requests(fake), moments, rng)
    assert final.returncode == 0, final.stderr
    done, skipped = units_done_skipped(final.stderr)
    assert skipped > 0, "no run before the last committed anything"
    assert done + skipped == UNITS
    rows = read_records(output)
    assert len({row_key(r) for r in rows}) == len(rows) == UNITS
    assert sorted_rows(rows) == uninterrupted
    if fmt in ("jsonl", "csv"):
        assert_every_line_parses(output, fmt, len(rows))


# -- a persistent failure, then a healthy re-run ---------------------------------------------------


def test_units_that_failed_are_fetched_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed units are listed with their cause (exit 1); the same command later fetches them."""
    data = Dataset(seed=SEED, teams=2, users=6)
    units = entities(data) * 2
    output = tmp_path / "usage.jsonl"
    # Two weekly windows: the organization's two units fail, every other unit succeeds.
    argv = ["backfill", "--max-retries", "1", "--output", str(output)]
    argv += ["--start", "2026-01-05", "--end", "2026-01-19", "--window", "week"]
    fault = ScriptedFault("503", route="/api/v1/organization/usage", times=10000)
    with fake_in_thread(seed=SEED, teams=2, users=6, scripted=[fault]) as broken:
        monkeypatch.setenv("TABNINE_API_TOKEN", broken.token)
        monkeypatch.setenv("TABNINE_BASE_URL", broken.base_url)
        assert main(argv) == 1
    first = capsys.readouterr().err
    failed = [line.strip() for line in first.splitlines() if line.startswith("  organization|")]
    assert len(failed) == 2, first
    assert all(data.organization.id in line and "503" in line for line in failed)
    assert len(read_records(output)) == (units - 2) * 7
    with fake_in_thread(seed=SEED, teams=2, users=6) as healthy:
        monkeypatch.setenv("TABNINE_API_TOKEN", healthy.token)
        monkeypatch.setenv("TABNINE_BASE_URL", healthy.base_url)
        assert main(argv) == 0
        assert usage_requests(healthy) == 2
        assert healthy.stats.requests_by_route["/api/v1/organization/usage"] == 2
    second = capsys.readouterr().err
    assert f"units: 2 done, {units - 2} skipped" in second
    assert "0 failed" in second
    rows = read_records(output)
    assert len(rows) == len({row_key(r) for r in rows}) == units * 7
    assert {r["organization_id"] for r in rows if r["scope"] == "organization"} == {
        data.organization.id
    }


# -- cancellation, with every warning an error -----------------------------------------------------

CANCELLATION_SCRIPT = textwrap.dedent(
    """
    import asyncio
    import json
    import sys
    import urllib.request

    from tabnine_usage_async import TabnineClient
    from tabnine_usage_async.backfill import backfill
    from tabnine_usage_async.orchestrator import walk_usage

    BASE_URL, TOKEN, OUTPUT = sys.argv[1:4]


    def server_stats():
        with urllib.request.urlopen(BASE_URL + "/__fake__/stats?log=0", timeout=10) as reply:
            return json.load(reply)


    async def report(phase, **facts):
        # Requests abandoned by the client end on the server once its latency has passed.
        for _ in range(500):
            stats = await asyncio.to_thread(server_stats)
            if stats["in_flight"] == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        later = await asyncio.to_thread(server_stats)
        others = [repr(t) for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        facts.update(
            phase=phase,
            other_tasks=others,
            in_flight=stats["in_flight"],
            requests_after_cleanup=later["total_requests"] - stats["total_requests"],
        )
        print(json.dumps(facts), flush=True)


    async def break_out_of_the_walk():
        async with TabnineClient(token=TOKEN, base_url=BASE_URL, max_concurrency=8) as client:
            seen = 0
            async with walk_usage(client, "2026-01-01", "2026-03-01", window="day") as walk:
                async for _record in walk:
                    seen += 1
                    if seen == 5:
                        break
        await report("walk", records=seen)


    async def cancel_the_backfill():
        done = 0

        def on_progress(progress):
            nonlocal done
            done = progress.units_done

        async with TabnineClient(token=TOKEN, base_url=BASE_URL, max_concurrency=8) as client:
            task = asyncio.create_task(
                backfill(
                    client,
                    "2026-01-01",
                    "2026-03-01",
                    sink=OUTPUT,
                    window="day",
                    on_progress=on_progress,
                )
            )
            while done < 50 and not task.done():
                await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled = True
            else:
                cancelled = False
        await report("backfill", cancelled=cancelled, units_done=done)


    async def main():
        # Dev mode is here for its resource and task warnings; on a loaded machine its report of
        # steps slower than 0.1 s would be noise, so that one threshold is raised.
        asyncio.get_running_loop().slow_callback_duration = 60.0
        await break_out_of_the_walk()
        await cancel_the_backfill()


    asyncio.run(main())
    """
)


def test_cancelled_walk_and_backfill_leave_nothing_behind(tmp_path: Path) -> None:
    """Breaking out of a walk or cancelling a backfill leaves no task, request or warning."""
    script = tmp_path / "cancel.py"
    script.write_text(CANCELLATION_SCRIPT)
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS, latency=20) as fake:
        argv = [sys.executable, "-W", "error", "-X", "dev", str(script), fake.base_url]
        argv += [fake.token, str(tmp_path / "usage.jsonl")]
        result = subprocess.run(
            argv, capture_output=True, text=True, env=child_env(), timeout=60, check=False
        )
    for sign in ("Unclosed", "Task was destroyed", "never awaited", "Traceback"):
        assert sign not in result.stderr
    assert result.stderr == ""
    assert result.returncode == 0
    walk, cancelled = (json.loads(line) for line in result.stdout.splitlines())
    assert walk["records"] == 5
    assert cancelled["cancelled"] is True
    assert cancelled["units_done"] >= 50
    for phase in (walk, cancelled):
        assert phase["other_tasks"] == [], phase
        assert phase["in_flight"] == 0, phase
        assert phase["requests_after_cleanup"] == 0, phase


# -- bad input: the cases tests/test_cli.py does not already cover --------------------------------

SECRET = "s3cret-token-text"
TINY_FAKE = ["--fake", "--fake-teams", "1", "--fake-users", "2", "-q"]
TWO_DAYS = ["--start", "2026-01-01", "--end", "2026-01-03"]


class BadInput(NamedTuple):
    """A command line ({tmp} is the test's folder) that must be refused before any request."""

    argv: list[str]
    says: str  # what the error line must mention
    token: str | None = "t0ken"  # TABNINE_API_TOKEN; None leaves it unset
    token_file: str | None = None  # text of {tmp}/token
    before: list[str] | None = None  # a command that must succeed first


OUTPUT = ["-o", "{tmp}/u.jsonl"]
BAD_INPUT: dict[str, BadInput] = {
    "end equals start": BadInput(
        ["backfill", "--start", "2026-01-01", "--end", "2026-01-01", *OUTPUT], "after --start"
    ),
    "zero page size": BadInput(["teams", "--page-size", "0"], "--page-size"),
    "negative page size": BadInput(["teams", "--page-size", "-10"], "--page-size"),
    "page size not a number": BadInput(["teams", "--page-size", "ten"], "--page-size"),
    "negative timeout": BadInput(["teams", "--timeout", "-1"], "--timeout"),
    "infinite rate limit": BadInput(["teams", "--rate-limit", "inf"], "--rate-limit"),
    "output is a folder": BadInput(
        ["backfill", *TWO_DAYS, "-o", "{tmp}/folder.jsonl"], "is a folder"
    ),
    "read-only output folder": BadInput(
        ["backfill", *TWO_DAYS, "-o", "{tmp}/locked/u.jsonl"], "not writable"
    ),
    "checkpoint of another organization": BadInput(
        ["backfill", *TINY_FAKE, "--fake-seed", "2", *TWO_DAYS, *OUTPUT],
        "checkpoint",
        before=["backfill", *TINY_FAKE, "--fake-seed", "1", *TWO_DAYS, *OUTPUT],
    ),
    "missing token file": BadInput(["org", "--token-file", "{tmp}/absent"], "cannot read"),
    "empty token file": BadInput(["org", "--token-file", "{tmp}/token"], "empty", token_file=""),
    "token file with an inner newline": BadInput(
        ["org", "--token-file", "{tmp}/token"],
        "2 lines",
        token=None,
        token_file=f"{SECRET}\n{SECRET}\n",
    ),
    "base URL with a query": BadInput(
        ["org", "--base-url", "https://console.tabnine.com/?o=1"], "no path, query"
    ),
}
CASES = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            name == "read-only output folder" and os.geteuid() == 0,
            reason="root may write into a read-only folder",
        ),
    )
    for name in BAD_INPUT
]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_exits_2_with_one_line(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each bad input exits 2 with exactly one error line, no traceback and no secret."""
    case = BAD_INPUT[name]
    (tmp_path / "locked").mkdir(mode=0o555)
    (tmp_path / "folder.jsonl").mkdir()
    if case.token_file is not None:
        (tmp_path / "token").write_text(case.token_file)
    monkeypatch.delenv("TABNINE_BASE_URL", raising=False)
    if case.token is None:
        monkeypatch.delenv("TABNINE_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TABNINE_API_TOKEN", case.token)
    if case.before is not None:
        assert main([arg.format(tmp=tmp_path) for arg in case.before]) == 0
        capsys.readouterr()
    argv = [arg.format(tmp=tmp_path) for arg in case.argv]
    if "--base-url" not in argv and "--fake" not in argv:
        # Validation must refuse the input before this address would ever be contacted.
        argv += ["--base-url", UNUSED_URL]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("tabnine-usage: error: ")
    assert case.says in lines[0]
    assert "Traceback" not in captured.err
    assert SECRET not in captured.err + captured.out
