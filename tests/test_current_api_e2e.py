"""The 6.2 reads end to end against the fake server: values equal its ground truth, typed errors
on a 5.x server and without the Agent licence."""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import AsyncIterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async import (
    AgentUsageReport,
    FeatureNotAvailableError,
    NotFoundError,
    TabnineClient,
    UsageReportV2,
)
from tabnine_usage_async.cli import main
from tabnine_usage_async.testing import FakeTabnine, serve_fake_tabnine
from tabnine_usage_async.windows import parse_datetime

UTC = timezone.utc
SEED, TEAMS, USERS = 11, 4, 40
START, END = datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)
FAKE = ["--fake", "--fake-seed", str(SEED), "--fake-teams", str(TEAMS), "--fake-users", str(USERS)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTabnine]:
    """A 6.2 fake with the Agent licence."""
    async with serve_fake_tabnine(teams=TEAMS, users=USERS, seed=SEED) as server:
        yield server


@pytest.fixture
async def client(fake: FakeTabnine) -> AsyncIterator[TabnineClient]:
    """A client of the fake, with a small page size so that listings take several pages."""
    async with TabnineClient(token=fake.token, base_url=fake.base_url, page_size=7) as c:
        yield c


def _moment(text: str) -> datetime:
    return parse_datetime(text)


def _bucket_values(report: UsageReportV2) -> list[dict[str, Any]]:
    """The buckets' values under the wire's names, for comparison with the ground truth."""
    out = []
    for b in report.buckets:
        code, chat, agent = b.code_completions, b.chat, b.agent
        assert code is not None and chat is not None and agent is not None
        row: dict[str, Any] = {
            "from": b.start,
            "to": b.end,
            "activeUsers": b.active_users,
            "codeCompletions": {
                "activeUsers": code.active_users,
                "completions": code.completions,
                "charsCompleted": code.chars_completed,
                "keystrokes": code.keystrokes,
                "lines": code.lines,
            },
            "chat": {
                "activeUsers": chat.active_users,
                "messages": chat.messages,
                "linesAdded": chat.lines_added,
            },
            "agent": {
                "activeUsers": agent.active_users,
                "messages": agent.messages,
                "linesAdded": agent.lines_added,
                "linesAddedAccepted": agent.lines_added_accepted,
                "linesRemoved": agent.lines_removed,
                "linesRemovedAccepted": agent.lines_removed_accepted,
            },
            "ides": b.ides,
            "languages": b.languages,
        }
        for section, models in (("chat", chat.models), ("agent", agent.models)):
            if models is not None:
                row[section]["models"] = [
                    {
                        "model": m.model,
                        "messages": m.messages,
                        "uniqueUsers": m.unique_users,
                        "inputTokens": m.input_tokens,
                        "outputTokens": m.output_tokens,
                    }
                    for m in models
                ]
        out.append(row)
    return out


def _truth_buckets(truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for b in truth:
        row = {**b, "from": _moment(b["from"]), "to": _moment(b["to"])}
        row.setdefault("ides", None)
        row.setdefault("languages", None)
        out.append(row)
    return out


@pytest.mark.parametrize("granularity", ["daily", "weekly", "all"])
async def test_v2_usage_equals_the_ground_truth(
    fake: FakeTabnine, client: TabnineClient, granularity: str
) -> None:
    """Organization, team and user v2 buckets equal the fake's, per-model rows included."""
    data = fake.dataset
    team = max(data.teams, key=lambda t: len(t.member_ids))
    user = data.user(team.member_ids[0])
    cases = [
        (await client.get_organization_usage_v2(START, END, granularity), "organization", None),
        (await client.get_team_usage_v2(team.id, START, END, granularity), "team", team.id),
        (await client.get_user_usage_v2(user.id, START, END, granularity), "user", user.id),
    ]
    for report, scope, entity in cases:
        truth = data.usage_v2_buckets(
            scope, entity or fake.organization_id, START, END, granularity
        )  # type: ignore[arg-type]
        assert _bucket_values(report) == _truth_buckets(truth)
        assert report.organization_id == fake.organization_id
        assert (report.team_id, report.user_id) == (
            entity if scope == "team" else None,
            entity if scope == "user" else None,
        )
        has_models = [b.chat.models is not None for b in report.buckets if b.chat]
        assert set(has_models) == {granularity == "all"}


def _point_values(report: AgentUsageReport) -> list[dict[str, Any]]:
    def model(m: Any) -> dict[str, Any]:
        return {
            "model": m.model,
            "tokensConsumed": m.tokens,
            "inputTokens": m.input_tokens,
            "outputTokens": m.output_tokens,
            "cost": m.cost,
        }

    return [
        {
            "from": p.start,
            "to": p.end,
            "activeUsers": p.active_users,
            "totalTokensConsumed": p.total_tokens,
            "totalInputTokens": p.total_input_tokens,
            "totalOutputTokens": p.total_output_tokens,
            "totalCost": p.total_cost,
            "modelBreakdown": [model(m) for m in p.models],
            "agentTypeBreakdown": [
                {
                    "agentType": t.agent_type,
                    "activeUsers": t.active_users,
                    "interactions": t.interactions,
                    "linesAdded": t.lines_added,
                    "linesAddedAccepted": t.lines_added_accepted,
                    "linesRemoved": t.lines_removed,
                    "linesRemovedAccepted": t.lines_removed_accepted,
                    "tokensConsumed": t.tokens,
                    "inputTokens": t.input_tokens,
                    "outputTokens": t.output_tokens,
                    "cost": t.cost,
                    "userInitiatedMessages": t.user_initiated_messages,
                    "modelBreakdown": [model(m) for m in t.models],
                }
                for t in p.agent_types
            ],
        }
        for p in report.points
    ]


async def test_agent_usage_equals_the_ground_truth(
    fake: FakeTabnine, client: TabnineClient
) -> None:
    """Agent data points of each scope equal the fake's, and totals add up over models."""
    data = fake.dataset
    team = data.teams[1]
    user = data.user(team.member_ids[0])
    cases = [
        (await client.get_organization_agent_usage(START, END, "weekly"), "organization", None),
        (await client.get_team_agent_usage(team.id, START, END, "weekly"), "team", team.id),
        (await client.get_user_agent_usage(user.id, START, END, "daily"), "user", user.id),
    ]
    for report, scope, entity in cases:
        granularity = report.granularity.value
        truth = data.agent_usage_points(
            scope, entity or fake.organization_id, START, END, granularity
        )  # type: ignore[arg-type]
        expected = [{**p, "from": _moment(p["from"]), "to": _moment(p["to"])} for p in truth]
        assert _point_values(report) == expected
        for point in report.points:
            assert point.total_tokens == sum(m.tokens for m in point.models)
            assert point.total_tokens == sum(t.tokens for t in point.agent_types)


async def test_audit_logs_equal_the_ground_truth(fake: FakeTabnine, client: TabnineClient) -> None:
    """Every audit event once, in either order, across pages; filters narrow as the fake does."""
    truth = fake.dataset.audit_events()
    assert len(truth) > 7  # several pages at page_size=7
    ascending = [e async for e in client.iter_audit_logs(sort="asc")]
    assert [e.id for e in ascending] == [e["id"] for e in truth]
    assert [e.timestamp for e in ascending] == [_moment(e["timestamp"]) for e in truth]
    descending = [e.id async for e in client.iter_audit_logs()]
    assert sorted(descending) == sorted(e["id"] for e in truth)
    kind = truth[-1]["eventType"]
    chosen = [e async for e in client.iter_audit_logs(event_type=kind, sort="asc")]
    assert [e.id for e in chosen] == [e["id"] for e in truth if e["eventType"] == kind]
    since = _moment(truth[len(truth) // 2]["timestamp"])
    recent = [e.id async for e in client.iter_audit_logs(since, sort="asc")]
    assert recent == [e["id"] for e in truth if _moment(e["timestamp"]) >= since]


async def test_audit_csv_export_has_every_event(
    fake: FakeTabnine, client: TabnineClient, tmp_path: Path
) -> None:
    """The streamed CSV export holds every event, in the order asked, written to the path."""
    target = tmp_path / "audit.csv"
    written = await client.export_audit_logs_csv(target, sort="asc")
    assert written == target.stat().st_size
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == [e["id"] for e in fake.dataset.audit_events()]


async def test_invitations_equal_the_ground_truth(fake: FakeTabnine, client: TabnineClient) -> None:
    """Invitations of the organization and of each team equal the fake's pending ones."""
    data = fake.dataset
    everyone = [i async for i in client.iter_invitations()]
    assert [i.id for i in everyone] == [i["id"] for i in data.invitations()]
    teams = {t.id: t async for t in client.iter_teams()}
    for team in data.teams:
        mine = [i.id async for i in client.iter_invitations(team.id)]
        assert mine == [i["id"] for i in data.invitations(team.id)]
        assert teams[team.id].pending_invitations_count == len(mine)


async def test_user_and_team_reads_equal_the_ground_truth(
    fake: FakeTabnine, client: TabnineClient
) -> None:
    """The user-management reads and the team read agree with the roster."""
    data = fake.dataset
    team = max(data.teams, key=lambda t: len(t.member_ids))
    user = data.user(team.member_ids[0])
    managed = await client.get_managed_user(user.id)
    assert (managed.user_id, managed.email) == (user.id, user.email)
    assert {t.id for t in managed.allowed_teams or ()} == set(user.team_ids)
    found = await client.get_user_by_email(user.email.upper())
    assert found.id == user.id
    allowed = await client.get_allowed_teams(user.id)
    assert {t.id for t in allowed} == set(user.team_ids)
    details = await client.get_team_details(team.id)
    wire = data.team_json(team.id)
    assert (details.id, details.name, details.users_count) == (
        wire["id"],
        wire["name"],
        wire["usersCount"],
    )
    assert (details.organization_id, details.synced_group_id, details.seat_cap) == (
        wire["organizationId"],
        wire["syncedGroupId"],
        wire.get("seatCap"),
    )
    assert details.pending_invitations_count == wire["pendingInvitationsCount"]
    with pytest.raises(NotFoundError):
        await client.get_user_by_email("nobody@nowhere.example")


async def test_a_6_2_server_supports_v2(client: TabnineClient) -> None:
    """supports_v2_usage is True on a 6.2 fake."""
    assert await client.supports_v2_usage() is True


async def test_a_5x_server_has_no_v2_or_agent_usage() -> None:
    """On a 5.x fake: no v2 (detected), v2 and agent reads raise NotFoundError, v1 still works."""
    async with (
        serve_fake_tabnine(teams=TEAMS, users=USERS, seed=SEED, version="5.x") as fake,
        TabnineClient(token=fake.token, base_url=fake.base_url) as client,
    ):
        assert await client.supports_v2_usage() is False
        with pytest.raises(NotFoundError):
            await client.get_organization_usage_v2(START, END)
        with pytest.raises(NotFoundError):
            await client.get_user_agent_usage(fake.dataset.users[0].id, START, END)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # checked elsewhere
            report = await client.get_organization_usage(START, END, "weekly")
        assert len(report.blocks) == 6


async def test_no_agent_licence_is_feature_not_available() -> None:
    """Without the Agent feature every agent-usage read raises FeatureNotAvailableError."""
    async with (
        serve_fake_tabnine(teams=TEAMS, users=USERS, seed=SEED, agent_license=False) as fake,
        TabnineClient(token=fake.token, base_url=fake.base_url) as client,
    ):
        team = fake.dataset.teams[1]
        for call in (
            client.get_organization_agent_usage(START, END),
            client.get_team_agent_usage(team.id, START, END),
            client.get_user_agent_usage(team.member_ids[0], START, END),
        ):
            with pytest.raises(FeatureNotAvailableError) as info:
                await call
            assert info.value.code == "FEATURE_NOT_AVAILABLE" and info.value.request_id
        # v2 usage does not need the Agent licence.
        assert (await client.get_organization_usage_v2(START, END)).buckets


async def test_v1_after_the_cutover_is_frozen_and_v2_is_not() -> None:
    """On a 6.2 fake with a cutover, v1 reports no activity after it while v2 still does."""
    cutover = date(2026, 1, 1)
    async with (
        serve_fake_tabnine(teams=TEAMS, users=USERS, seed=SEED, v1_cutover=cutover) as fake,
        TabnineClient(token=fake.token, base_url=fake.base_url) as client,
    ):
        after = datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # checked elsewhere
            v1 = await client.get_organization_usage(*after, "all")
        v2 = await client.get_organization_usage_v2(*after, "all")
        assert [b.active_users for b in v1.blocks] == [0]
        assert v2.buckets[0].active_users > 0


# -- the command line ------------------------------------------------------------------------------


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, *FAKE, "-q", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_usage_reads_v2_on_a_6_2_server(capsys: pytest.CaptureFixture[str]) -> None:
    """`usage` on a 6.2 server prints v2 rows; `--api v1` the legacy ones."""
    span = ["--organization", "--start", "2026-01-01", "--end", "2026-01-04"]
    rows = _run_json(capsys, "usage", *span)
    assert len(rows) == 3 and "chat_messages" in rows[0] and "agent_lines_added" in rows[0]
    legacy = _run_json(capsys, "usage", *span, "--api", "v1")
    assert "chat_interactions" in legacy[0]
    assert [r["active_users"] for r in rows] == [r["active_users"] for r in legacy]


def test_cli_usage_falls_back_to_v1_on_5x(capsys: pytest.CaptureFixture[str]) -> None:
    """`usage` on a 5.x server reads v1; `--api v2` there is a readable 404 error."""
    span = ["--organization", "--start", "2026-01-01", "--end", "2026-01-04"]
    rows = _run_json(capsys, "usage", *span, "--fake-version", "5.x")
    assert "chat_interactions" in rows[0]
    assert main(["usage", *span, *FAKE, "--fake-version", "5.x", "--api", "v2", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NotFoundError" in err[0]


def test_cli_agent_usage_by_model(capsys: pytest.CaptureFixture[str]) -> None:
    """`agent-usage --by model` prints one row per period and model with tokens and cost."""
    rows = _run_json(
        capsys,
        "agent-usage",
        "--organization",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-03",
        "--by",
        "model",
    )
    assert rows and {"model", "tokens", "cost", "period_start"} <= set(rows[0])
    points = _run_json(
        capsys, "agent-usage", "--organization", "--start", "2026-01-01", "--end", "2026-01-03"
    )
    for point in points:
        mine = [r for r in rows if r["period_start"] == point["period_start"]]
        assert point["total_tokens"] == sum(r["tokens"] for r in mine)


def test_cli_agent_usage_without_licence(capsys: pytest.CaptureFixture[str]) -> None:
    """Without the Agent licence `agent-usage` fails with one line naming the code."""
    argv = ["agent-usage", "--organization", "--start", "2026-01-01", "--end", "2026-01-03"]
    assert main([*argv, *FAKE, "--fake-no-agent-license", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FEATURE_NOT_AVAILABLE" in err[0] and "request id" in err[0]


def test_cli_audit_log_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`audit-log` as JSON, and as the server's CSV on stdout and in a file, hold the same ids."""
    rows = _run_json(capsys, "audit-log", "--sort", "asc")
    ids = [r["id"] for r in rows]
    assert ids and len(set(ids)) == len(ids)
    target = tmp_path / "audit.csv"
    argv = ["audit-log", *FAKE, "-q", "--sort", "asc", "--format", "csv"]
    assert main([*argv, "--output", str(target)]) == 0
    from_file = [r["id"] for r in csv.DictReader(io.StringIO(target.read_text()))]
    assert from_file == ids
    assert main(["audit-log", *FAKE, "-q", "--output", str(target)]) == 2
    assert "--format csv" in capsys.readouterr().err


def test_cli_audit_log_csv_on_stdout(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    """`audit-log --format csv` streams the export to stdout."""
    kind = "user.deactivated"
    argv = ["audit-log", *FAKE, "-q", "--format", "csv", "--event-type", kind]
    assert main(argv) == 0
    rows = list(csv.DictReader(io.StringIO(capfdbinary.readouterr().out.decode())))
    assert rows and {r["eventType"] for r in rows} == {kind}


def test_cli_invitations(capsys: pytest.CaptureFixture[str]) -> None:
    """`invitations` lists pending invitations with their team and role."""
    rows = _run_json(capsys, "invitations")
    assert rows and {"id", "email", "team_id", "role", "created_at"} <= set(rows[0])
