"""The ``tabnine-usage`` command line: read subcommands, backfills, exit codes, secrets."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async.cli import main
from tabnine_usage_async.sinks import read_records
from tabnine_usage_async.testing import Dataset, FakeTabnine, ScriptedFault, serve_fake_tabnine
from tabnine_usage_async.windows import format_datetime, parse_datetime

SEED, TEAMS, USERS = 3, 4, 40
FAKE = ["--fake", "--fake-seed", str(SEED), "--fake-teams", str(TEAMS), "--fake-users", str(USERS)]
DATA = Dataset(seed=SEED, teams=TEAMS, users=USERS)
USAGE_ROUTES = ("/api/v1/organization/usage", "/api/v1/team/usage", "/api/v1/user/usage")
UTC = timezone.utc


@contextlib.contextmanager
def fake_in_thread(**options: Any) -> Iterator[FakeTabnine]:
    """A fake server on its own event loop in a thread, so that ``main`` can run its own loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: list[Any] = []
    stop: list[asyncio.Event] = []

    async def serve() -> None:
        stop.append(asyncio.Event())
        try:
            async with serve_fake_tabnine(**options) as fake:
                box.append(fake)
                started.set()
                await stop[0].wait()
        except BaseException as exc:
            box.append(exc)
            started.set()
            raise

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    try:
        assert started.wait(10), "the fake server did not start"
        if isinstance(box[0], BaseException):
            raise box[0]
        yield box[0]
    finally:
        if stop:
            loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)
        loop.close()


def usage_requests(fake: FakeTabnine) -> int:
    return sum(fake.stats.requests_by_route[route] for route in USAGE_ROUTES)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, *FAKE, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    entity = row["user_id"] or row["team_id"] or row["organization_id"]
    return (row["scope"], entity, row["granularity"], row["period_start"])


def entities(data: Dataset) -> int:
    """Organization, teams and users: every user is fetched once, in whichever teams."""
    return 1 + len(data.teams) + len(data.users)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "tabnine_usage_async", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABNINE_")}
    env.update(extra)
    return env


# -- read subcommands ------------------------------------------------------------------------------


def test_org_matches_the_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    """`org --format json` prints the organization's id and name as one object."""
    org = run_json(capsys, "org")
    assert (org["id"], org["name"]) == (DATA.organization.id, DATA.organization.name)
    assert org["domains"] == [DATA.organization.domain]


def test_teams_match_the_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    """`teams` lists every team with its member count, default team first."""
    teams = run_json(capsys, "teams")
    assert [(t["id"], t["name"], t["users_count"]) for t in teams] == [
        (t.id, t.name, len(t.member_ids)) for t in DATA.teams
    ]
    assert [t["is_default_team"] for t in teams] == [t.is_default for t in DATA.teams]


def test_users_lists_everyone_once_with_all_teams(capsys: pytest.CaptureFixture[str]) -> None:
    """`users` without options lists every user once, with every team the user is in."""
    users = run_json(capsys, "users")
    assert len(users) == len({u["id"] for u in users})
    assert {u["id"]: set(u["team_ids"]) for u in users} == {
        u.id: set(u.team_ids) for u in DATA.users
    }
    assert {u["id"]: u["email"] for u in users} == {u.id: u.email for u in DATA.users}


def test_users_of_one_team(capsys: pytest.CaptureFixture[str]) -> None:
    """`users --team ID` lists that team's members in paging order."""
    team = max(DATA.teams, key=lambda t: len(t.member_ids))
    users = run_json(capsys, "users", "--team", team.id)
    assert [u["id"] for u in users] == list(team.member_ids)


@pytest.mark.parametrize("deactivated", [False, True])
def test_unassigned_users(capsys: pytest.CaptureFixture[str], deactivated: bool) -> None:
    """`users --unassigned [--deactivated]` lists users in no team, active or deactivated."""
    extra = ["--deactivated"] if deactivated else []
    users = run_json(capsys, "users", "--unassigned", *extra)
    assert [u["id"] for u in users] == DATA.unassigned_user_ids(active=not deactivated)
    assert all((u["deactivated_at"] is not None) == deactivated for u in users)


def test_team_usage_rows_match_the_blocks(capsys: pytest.CaptureFixture[str]) -> None:
    """`usage --team --api v1` prints one flat row per v1 block with the fake's numbers."""
    team = DATA.teams[1]
    start, end = datetime(2025, 11, 3, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
    rows = run_json(
        capsys,
        "usage",
        "--team",
        team.id,
        "--start",
        "2025-11-03",
        "--end",
        "2026-01-05",
        "--granularity",
        "weekly",
        "--api",
        "v1",
    )
    blocks = DATA.usage_blocks("team", team.id, start, end, "weekly")
    assert [(r["period_start"], r["active_users"]) for r in rows] == [
        (format_datetime(parse_datetime(b["from"])), b["activeUsers"]) for b in blocks
    ]
    assert [r["code_completions"] for r in rows] == [
        b["codeCompletions"]["completions"] for b in blocks
    ]
    assert {(r["scope"], r["team_id"], r["granularity"]) for r in rows} == {
        ("team", team.id, "weekly")
    }


def test_user_and_organization_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """`usage --user` and `usage --organization` (v1) default to daily rows over the range."""
    user = DATA.users[0]
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC)
    span = ["--start", "2026-01-01", "--end", "2026-01-11", "--api", "v1"]
    user_rows = run_json(capsys, "usage", "--user", user.id, *span)
    blocks = DATA.usage_blocks("user", user.id, start, end, "daily")
    assert [r["active_users"] for r in user_rows] == [b["activeUsers"] for b in blocks]
    assert {r["user_id"] for r in user_rows} == {user.id}
    org_rows = run_json(capsys, "usage", "--organization", *span)
    org_blocks = DATA.usage_blocks("organization", DATA.organization.id, start, end, "daily")
    assert [r["active_users"] for r in org_rows] == [b["activeUsers"] for b in org_blocks]
    assert {r["granularity"] for r in org_rows} == {"daily"}


def test_license_matches_the_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    """`license` shows seats, cap and features."""
    found = run_json(capsys, "license")
    truth = DATA.license()
    assert (found["seats"], found["seats_cap"]) == (truth["seats"], truth["seatsCap"])
    assert found["features"] == truth["features"]


def test_utilization_uses_calendar_months(capsys: pytest.CaptureFixture[str]) -> None:
    """`utilization --since` shows each month with its 1-based calendar number."""
    months = run_json(capsys, "utilization", "--since", "2025-06")
    truth = DATA.account_utilizations((2025, 6))
    assert [(m["year"], m["month"]) for m in months] == [(t["year"], t["month"] + 1) for t in truth]
    assert [m["registered"] for m in months] == [t["registered"] for t in truth]
    assert months[0]["month"] == 6


def test_team_utilization(capsys: pytest.CaptureFixture[str]) -> None:
    """`utilization --team ID` shows the team's registered, deactivated and invited seats."""
    team = DATA.teams[0]
    found = run_json(capsys, "utilization", "--team", team.id)
    assert {k: found[k] for k in ("registered", "deactivated", "invited")} == (
        DATA.team_utilization(team.id)
    )


def test_admins_match_the_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    """`admins` lists the usernames holding the Admin role."""
    admins = run_json(capsys, "admins")
    assert sorted(a["username"] for a in admins) == sorted(
        u.email for u in DATA.users_with_role("Admin")
    )


def test_other_formats_and_options_before_the_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """csv, jsonl and the plain table all carry the rows; options may precede the subcommand."""
    ids = [t.id for t in DATA.teams]
    assert main([*FAKE, "-q", "teams", "--format", "csv"]) == 0
    assert [r["id"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ids
    assert main([*FAKE, "-q", "teams", "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ids
    assert main(["teams", *FAKE, "-q"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "id",
        "name",
        "users_count",
        "is_default_team",
        "organization_id",
        "synced_group_id",
        "seat_cap",
        "pending_invitations_count",
    ]
    assert [line.split()[0] for line in table[2:]] == ids


# -- backfill --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_backfill_fake_writes_every_record_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """A fake backfill writes one record per entity and day, each key once, and a summary."""
    output = tmp_path / "out" / f"usage.{fmt}"
    argv = ["backfill", *FAKE, "--start", "2026-01-01", "--end", "2026-02-01"]
    assert main([*argv, "--window", "week", "--output", str(output)]) == 0
    rows = read_records(output)
    keys = {row_key(r) for r in rows}
    assert len(rows) == len(keys) == entities(DATA) * 31
    assert {r["scope"] for r in rows} == {"organization", "team", "user"}
    err = capsys.readouterr().err
    assert f"{len(rows)} records written" in err
    assert output.with_name(output.name + ".checkpoint.sqlite").exists()


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    """`--format jsonl` writes JSON Lines whatever the output is called."""
    output = tmp_path / "usage.data"
    argv = ["backfill", *FAKE, "-q", "--start", "2026-01-01", "--end", "2026-01-03"]
    assert main([*argv, "--output", str(output), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == entities(DATA) * 2


def test_dry_run_counts_requests_without_fetching_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--dry-run` prints entities and usage requests per window, and requests no usage."""
    output = tmp_path / "usage.jsonl"
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS) as fake:
        monkeypatch.setenv("TABNINE_API_TOKEN", fake.token)
        argv = ["backfill", "--base-url", fake.base_url, "--dry-run", "--output", str(output)]
        code = main([*argv, "--start", "2026-01-01", "--end", "2026-07-01", "--window", "month"])
        assert code == 0
        assert usage_requests(fake) == 0
        assert fake.stats.total_requests > 0
    out = capsys.readouterr().out
    found = re.search(r"usage requests: (\d+)", out)
    assert found is not None
    assert int(found.group(1)) == entities(DATA) * 6
    assert re.search(rf"users: {USERS}\b", out)
    assert "estimated duration" in out
    assert not output.exists()


def test_a_persistently_failing_unit_gives_exit_1_and_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit that keeps failing is listed with its cause, the rest is written, and exit is 1."""
    output = tmp_path / "usage.jsonl"
    fault = ScriptedFault("503", route="/api/v1/organization/usage", times=1000)
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS, scripted=[fault]) as fake:
        monkeypatch.setenv("TABNINE_API_TOKEN", fake.token)
        argv = ["backfill", "--base-url", fake.base_url, "--max-retries", "0"]
        argv += ["--start", "2026-01-01", "--end", "2026-01-08", "--window", "none"]
        code = main([*argv, "--scope", "organization,team", "--output", str(output)])
    assert code == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.strip().startswith("organization|")]
    assert len(failed) == 1
    assert DATA.organization.id in failed[0]
    assert "503" in failed[0]
    rows = read_records(output)
    assert {r["scope"] for r in rows} == {"team"}
    assert len(rows) == len(DATA.teams) * 7


def test_a_checkpoint_of_another_job_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reusing an output (and its checkpoint) for other parameters exits 2 with one line."""
    output = tmp_path / "usage.jsonl"
    with fake_in_thread(seed=SEED, teams=2, users=6) as fake:
        monkeypatch.setenv("TABNINE_API_TOKEN", fake.token)
        argv = ["backfill", "-q", "--base-url", fake.base_url, "--output", str(output)]
        argv += ["--start", "2026-01-01", "--end", "2026-01-15"]
        assert main(argv) == 0
        capsys.readouterr()
        before = output.read_bytes()
        assert main([*argv, "--granularity", "weekly"]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("tabnine-usage: error:")
    assert "checkpoint" in lines[0]
    assert output.read_bytes() == before


# -- usage errors ----------------------------------------------------------------------------------

# Never contacted: every case fails validation before any request.
UNUSED_URL = "http://127.0.0.1:9"
GOOD = ["--start", "2026-01-01", "--end", "2026-02-01"]


def backfill_argv(tmp_path: Path, *extra: str, dates: list[str] = GOOD) -> list[str]:
    return ["backfill", "--base-url", UNUSED_URL, *dates, "-o", str(tmp_path / "u.jsonl"), *extra]


BAD_BACKFILLS: dict[str, tuple[list[str], list[str]]] = {
    "end before start": (["--start", "2026-02-01", "--end", "2026-01-01"], []),
    "naive date-time": (["--start", "2026-01-01T00:00:00", "--end", "2026-02-01"], []),
    "malformed date": (["--start", "2026-13-01", "--end", "2026-02-01"], []),
    "unknown granularity": (GOOD, ["--granularity", "hourly"]),
    "unknown window": (GOOD, ["--window", "year"]),
    "unknown scope": (GOOD, ["--scope", "org"]),
    "zero concurrency": (GOOD, ["--concurrency", "0"]),
    "negative concurrency": (GOOD, ["--concurrency", "-4"]),
    "zero rate limit": (GOOD, ["--rate-limit", "0"]),
    "negative rate limit": (GOOD, ["--rate-limit", "-1.5"]),
    "zero timeout": (GOOD, ["--timeout", "0"]),
    "unknown format": (GOOD, ["--format", "xml"]),
    "negative retries": (GOOD, ["--max-retries", "-1"]),
}


@pytest.mark.parametrize("case", list(BAD_BACKFILLS))
def test_bad_backfill_arguments_exit_2_with_one_line(
    case: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each bad argument is refused with exit 2 and one readable line, before any request."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "token-never-sent")
    dates, extra = BAD_BACKFILLS[case]
    assert main(backfill_argv(tmp_path, *extra, dates=dates)) == 2
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("tabnine-usage: error: ")
    assert captured.out == ""
    assert not (tmp_path / "u.jsonl").exists()


def test_unknown_extension_and_unwritable_folder_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output whose format is unknown, or whose folder cannot be made, is a usage error."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "token-never-sent")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for output in (tmp_path / "usage.txt", blocker / "usage.jsonl"):
        argv = ["backfill", "--base-url", UNUSED_URL, *GOOD, "--output", str(output)]
        assert main(argv) == 2
        lines = error_lines(capsys.readouterr().err)
        assert len(lines) == 1
        assert str(output.parent if output.parent == blocker else output) in lines[0]


BAD_CONNECTIONS: dict[str, tuple[list[str], str | None]] = {
    "missing token": ([], None),
    "base URL without scheme": (["--base-url", "console.tabnine.com"], "t0ken"),
    "base URL with a path": (["--base-url", "https://console.tabnine.com/api/v1"], "t0ken"),
    "plain http to a remote host": (["--base-url", "http://tabnine.example.com"], "t0ken"),
}


@pytest.mark.parametrize("case", list(BAD_CONNECTIONS))
def test_bad_connection_settings_exit_2(
    case: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing token or an unusable base URL is refused with one line and exit 2."""
    extra, token = BAD_CONNECTIONS[case]
    monkeypatch.delenv("TABNINE_BASE_URL", raising=False)
    if token is None:
        monkeypatch.delenv("TABNINE_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TABNINE_API_TOKEN", token)
    assert main(["teams", *extra]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("tabnine-usage: error: ")


def test_a_blank_token_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token file holding only whitespace is an error, even when the environment has a token."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "env-token")
    token_file = tmp_path / "token"
    token_file.write_text("  \n\t\n")
    assert main(["org", "--base-url", UNUSED_URL, "--token-file", str(token_file)]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert "empty" in lines[0]


def test_token_file_is_stripped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token file's surrounding whitespace (a trailing newline) is not part of the token."""
    monkeypatch.delenv("TABNINE_API_TOKEN", raising=False)
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS) as fake:
        token_file = tmp_path / "token"
        token_file.write_text(f"\n  {fake.token}\n")
        argv = ["org", "--base-url", fake.base_url, "--token-file", str(token_file)]
        assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == DATA.organization.id


def test_usage_errors_in_a_real_process_have_no_traceback(tmp_path: Path) -> None:
    """Run as a program, usage errors exit 2 with one line on stderr and no traceback."""
    runs = [
        cli(*backfill_argv(tmp_path, "--granularity", "hourly"), env=child_env()),
        cli("teams", "--base-url", UNUSED_URL, env=child_env()),
        cli("backfill", "--start", "2026-01-01", env=child_env()),
    ]
    for result in runs:
        assert result.returncode == 2, result.stderr
        lines = error_lines(result.stderr)
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("tabnine-usage: error: ")
        assert "Traceback" not in result.stderr


def test_an_api_error_at_the_top_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rejected token ends the command with exit 1 and one line naming the error."""
    with fake_in_thread(seed=SEED, teams=TEAMS, users=USERS) as fake:
        monkeypatch.setenv("TABNINE_API_TOKEN", "not-the-right-token")
        assert main(["teams", "--base-url", fake.base_url]) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert "AuthenticationError" in lines[0]


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` of a subcommand prints its options and exits 0; no --token option exists."""
    assert main(["backfill", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--token-file" in out
    assert re.search(r"--token\b(?!-)", out) is None


# -- secrets ---------------------------------------------------------------------------------------


def test_the_token_never_appears_in_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With debug logging, success and failure alike, the token is in no output or file."""
    canary = "canary-Q7ZX-do-not-print-9f41"
    output = tmp_path / "usage.jsonl"
    fault = ScriptedFault("503", route="/api/v1/team/usage", times=3)
    with fake_in_thread(seed=SEED, teams=2, users=8, token=canary, scripted=[fault]) as fake:
        monkeypatch.setenv("TABNINE_API_TOKEN", canary)
        base = ["--base-url", fake.base_url, "-vv", "--debug"]
        assert main(["teams", *base, "--format", "json"]) == 0
        backfill = ["backfill", *base, "--start", "2026-01-01", "--end", "2026-01-03"]
        assert main([*backfill, "--max-retries", "0", "--output", str(output)]) == 1
        monkeypatch.setenv("TABNINE_API_TOKEN", canary + "x")
        assert main(["org", *base]) == 1
    captured = capsys.readouterr()
    assert "DEBUG" in captured.err
    text = captured.out + captured.err
    assert canary not in text
    for written in tmp_path.iterdir():
        assert canary.encode() not in written.read_bytes()


# -- processes: signals and the fake server ------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_backfill_resumes_to_exactly_once(tmp_path: Path, sig: int) -> None:
    """SIGINT/SIGTERM mid-run exits 130 with a resume hint; the same command then completes."""
    output = tmp_path / "usage.jsonl"
    data = Dataset(seed=5, teams=3, users=20)
    units = entities(data) * 31
    with fake_in_thread(seed=5, teams=3, users=20, latency=10) as fake:
        env = child_env(TABNINE_API_TOKEN=fake.token)
        argv = [sys.executable, "-m", "tabnine_usage_async", "backfill", "--base-url"]
        argv += [fake.base_url, "--start", "2026-01-01", "--end", "2026-02-01", "--window", "day"]
        argv += ["--output", str(output)]
        child = subprocess.Popen(
            [*argv, "--concurrency", "2"], env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 30
            while usage_requests(fake) < 60 and time.monotonic() < deadline:
                assert child.poll() is None, "the backfill ended before it was interrupted"
                time.sleep(0.02)
            child.send_signal(sig)
            _, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 130, err
        assert "resume" in err
        assert "Traceback" not in err
        first_run = usage_requests(fake)
        assert first_run < units
        again = subprocess.run(
            [*argv, "--concurrency", "16"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert again.returncode == 0, again.stderr
        second_run = usage_requests(fake) - first_run
    # The units done before the interrupt were not fetched again.
    assert second_run < units
    rows = read_records(output)
    assert len(rows) == len({row_key(r) for r in rows}) == units


def test_fake_server_subcommand_serves_until_terminated() -> None:
    """`fake-server --port 0 --json` announces where it listens and answers with its token."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tabnine_usage_async", "fake-server", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        assert child.stdout is not None
        ready = json.loads(child.stdout.readline())
        request = urllib.request.Request(
            ready["base_url"] + "/api/v1/organization",
            headers={"Authorization": f"Bearer {ready['token']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert json.load(reply)["id"]
        child.terminate()
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
