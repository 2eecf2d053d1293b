"""backfill --streams: one file per stream, equal to the fake's ground truth, resumable, checked."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.backfill import backfill
from tabnine_usage_async.cli import main
from tabnine_usage_async.sinks import FORMATS, read_rows
from tabnine_usage_async.streams import get_stream
from tabnine_usage_async.testing import Dataset, FakeTabnine, serve_fake_tabnine

from . import _sync_truth as truth
from .conftest import FAST_RETRIES
from .kill_support import kill_then_finish, units_done_skipped
from .test_cli import child_env, error_lines, fake_in_thread

UTC = timezone.utc
START, END = datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 10, 15, 30, tzinfo=UTC)
LAST = END - timedelta(seconds=1)  # the truth helpers end at the midnight after their "now"
EVERY = [
    "usage",
    "agent_usage",
    "agent_usage_breakdown",
    "model_usage",
    "users",
    "teams",
    "seats",
    "invitations",
    "audit_log",
]
V2_USAGE = ("/api/v2/organization/usage", "/api/v2/team/usage", "/api/v2/user/usage")
AGENT = ("/api/v1/organization/agent-usage", "/api/v1/team/agent-usage", "/api/v1/user/agent-usage")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    async with serve_fake_tabnine(teams=3, users=14, seed=11, max_page_size=5, now=NOW) as server:
        yield server


def table(folder: Path, stream: str, fmt: str) -> list[dict[str, Any]]:
    return read_rows(folder / f"{stream}.{fmt}", table=get_stream(stream).table)


def at(text: str) -> datetime:
    return truth.ts(text)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_several_streams_equal_the_ground_truth(
    fake: FakeTabnine, tmp_path: Path, fmt: str
) -> None:
    """Every stream's file holds exactly the fake's data of the range, each row once."""
    folder = tmp_path / "export"
    data = fake.dataset
    async with TabnineClient(
        token=fake.token, base_url=fake.base_url, retry_policy=FAST_RETRIES, timeout=5.0
    ) as client:
        summary = await backfill(
            client, START, END, sink=folder, output_format=fmt, streams=EVERY, now=NOW
        )
    assert summary.ok, summary.failed
    assert set(summary.outputs) == set(EVERY)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.{fmt}" for s in EVERY)
    assert sum(summary.per_stream.values()) == summary.records_written > 0

    usage = table(folder, "usage", fmt)
    got = truth.usage_rows([{**r, "period_start": at(r["period_start"])} for r in usage])
    assert len(got) == len(usage)
    assert got == truth.usage_truth(data, START, LAST)
    expected_agent, breakdown = truth.agent_truth(data, START, LAST)
    agent = table(folder, "agent_usage", fmt)
    assert {
        (r["scope"], r["entity_id"], at(r["period_start"])): (r["total_tokens"], r["active_users"])
        for r in agent
    } == expected_agent
    assert len(table(folder, "agent_usage_breakdown", fmt)) == breakdown
    models = table(folder, "model_usage", fmt)
    assert {
        (r["scope"], r["entity_id"], at(r["period_start"]), r["section"], r["model"]): r["messages"]
        for r in models
    } == truth.model_truth(data, START, LAST)
    users = table(folder, "users", fmt)
    assert {r["user_id"]: sorted(r["team_ids"]) for r in users} == {
        u.id: sorted(u.team_ids) for u in data.users
    }
    assert {r["team_id"]: r["name"] for r in table(folder, "teams", fmt)} == {
        t.id: t.name for t in data.teams
    }
    seats = table(folder, "seats", fmt)
    assert {
        date.fromisoformat(r["month"]): (r["registered"], r["active"]) for r in seats
    } == truth.seats_truth(data, START)
    invitations = table(folder, "invitations", fmt)
    assert {r["invitation_id"] for r in invitations} == {i["id"] for i in data.invitations()}
    audit = table(folder, "audit_log", fmt)
    assert {r["event_id"] for r in audit} == truth.audit_truth(data, START, END)
    # One request per entity and window per source: agent_usage and its breakdown share theirs.
    entities = len(truth.entities(data))
    routes: Counter[str] = fake.stats.requests_by_route
    assert sum(routes[r] for r in AGENT) == entities
    assert sum(routes[r] for r in V2_USAGE) == 2 * entities + 1  # + the v2 probe


# -- killed and resumed, with two streams ---------------------------------------------------------

SEED, TEAMS, USERS = 11, 3, 20
DATA = Dataset(seed=SEED, teams=TEAMS, users=USERS)
SPAN = ["--start", "2026-01-01", "--end", "2026-02-10", "--window", "day"]
TWO = "usage,users"


def comparable(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows without the moment they were fetched, sorted: what two runs must agree on."""
    return sorted(
        tuple(str(v) for k, v in sorted(r.items()) if k not in ("fetched_at", "complete"))
        for r in rows
    )


def export(folder: Path, stream: str) -> list[dict[str, Any]]:
    return read_rows(folder / f"{stream}.jsonl", table=get_stream(stream).table)


def test_killed_then_resumed_with_two_streams_writes_each_row_once(tmp_path: Path) -> None:
    """SIGKILL twice mid-run, then the same command: both files equal an uninterrupted run's."""
    rng = random.Random("kill-streams")
    reference, folder = tmp_path / "reference", tmp_path / "export"
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS, latency=10) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        base = [sys.executable, "-m", "tabnine_usage_async", "backfill", "--base-url"]
        base += [fake.base_url, *SPAN, "--streams", TWO, "--format", "jsonl"]
        whole = subprocess.run(
            [*base, "-q", "--output", str(reference)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert whole.returncode == 0, whole.stderr
        argv = [*base, "--concurrency", "2", "--output", str(folder)]
        v2_requests = lambda: sum(fake.stats.requests_by_route[r] for r in V2_USAGE)  # noqa: E731
        final = kill_then_finish(argv, env, v2_requests, ((0.2, 1.5), (2.1, 2.8)), rng)
    assert final.returncode == 0, final.stderr
    done, skipped = units_done_skipped(final.stderr)
    assert skipped > 0, "no run before the last committed anything"
    entities = 1 + len(DATA.teams) + len(DATA.users)
    assert done + skipped == entities * 40 + 1  # + the users table
    for stream in ("usage", "users"):
        got, expected = export(folder, stream), export(reference, stream)
        assert comparable(got) == comparable(expected), stream
    usage = export(folder, "usage")
    assert len({(r["scope"], r["entity_id"], r["period_start"]) for r in usage}) == len(usage)


# -- arguments ------------------------------------------------------------------------------------

FAKE = ["--fake", "--fake-seed", str(SEED), "--fake-teams", str(TEAMS), "--fake-users", str(USERS)]


def bad_streams_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    existing = tmp_path / "a-file"
    existing.write_text("x")
    folder = str(tmp_path / "out")
    return {
        "unknown stream": (
            ["--streams", "usage,nope", "--format", "csv", "-o", folder],
            "unknown stream 'nope'",
        ),
        "no streams": (["--streams", ",", "--format", "csv", "-o", folder], "no stream given"),
        "no format": (["--streams", "usage", "-o", folder], "give --format"),
        "a file name": (
            ["--streams", "usage", "--format", "csv", "-o", str(tmp_path / "usage.parquet")],
            "looks like a file name",
        ),
        "an existing file": (
            ["--streams", "usage", "--format", "csv", "-o", str(existing)],
            "is a file",
        ),
    }


@pytest.mark.parametrize(
    "case", ["unknown stream", "no streams", "no format", "a file name", "an existing file"]
)
def test_bad_streams_arguments_exit_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad --streams/--output/--format combination is one readable line and exit 2."""
    extra, message = bad_streams_cases(tmp_path)[case]
    argv = ["backfill", *FAKE, "--start", "2026-01-01", "--end", "2026-02-01", *extra]
    assert main(argv) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1, lines
    assert lines[0].startswith("tabnine-usage: error: ")
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


def test_dry_run_shows_requests_per_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--dry-run counts each stream's requests (shared sources once) and fetches no usage."""
    folder = tmp_path / "export"
    streams = "usage,agent_usage,agent_usage_breakdown,users,seats"
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS) as fake:
        monkeypatch.setenv("TABNINE_API_TOKEN", fake.token)
        argv = ["backfill", "--base-url", fake.base_url, "--dry-run", "--streams", streams]
        argv += ["--format", "csv", "--output", str(folder), "--window", "month"]
        assert main([*argv, "--start", "2026-01-01", "--end", "2026-04-01"]) == 0
        fetched = sum(fake.stats.requests_by_route[r] for r in (*V2_USAGE, *AGENT))
    out = capsys.readouterr().out
    entities = 1 + len(DATA.teams) + len(DATA.users)
    per = {m.group(1): int(m.group(2)) for m in re.finditer(r"^ {4}(\w+): (\d+)$", out, re.M)}
    assert per == {
        "usage": entities * 3,
        "agent_usage": entities * 3,
        "agent_usage_breakdown": 0,
        "users": 0,
        "seats": 1,
    }
    found = re.search(r"usage requests: (\d+)", out)
    assert found is not None
    assert int(found.group(1)) == entities * 6 + 1
    assert fetched == 0
    assert not folder.exists()
