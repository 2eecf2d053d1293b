"""Stream declarations: tables are consistent, and every row builder fills exactly its columns."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tabnine_usage_async import TabnineClient
from tabnine_usage_async.errors import InvalidParameterError
from tabnine_usage_async.listing import list_members
from tabnine_usage_async.orchestrator import Entity
from tabnine_usage_async.streams import (
    ALL_ROWS,
    STREAMS,
    RowContext,
    default_streams,
    get_stream,
    parse_streams,
)
from tabnine_usage_async.streams._fetch import fetch_answer
from tabnine_usage_async.testing import serve_fake_tabnine
from tabnine_usage_async.windows import Window

UTC = timezone.utc
NOW = datetime(2026, 1, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.name)
def test_table_is_consistent(stream) -> None:
    """A stream's table is named after it; key columns exist and are never null; incremental
    tables have a period column and carry fetched_at and complete."""
    table = stream.table
    assert table.name == stream.name
    columns = {c.name: c for c in table.columns}
    assert len(columns) == len(table.columns)
    assert all(c.doc for c in table.columns)
    for name in table.key:
        assert not columns[name].nullable
    if stream.incremental:
        assert table.period_column in columns
        assert columns["complete"].type == "boolean"
    else:
        assert table.period_column is None
    assert columns["fetched_at"].type == "timestamp"


def test_registry() -> None:
    """Streams are picked by name in registry order; defaults depend on the server's API."""
    assert [s.name for s in parse_streams(" users , USAGE")] == ["usage", "users"]
    assert "model_usage" not in [s.name for s in default_streams("v2")]
    assert "usage_v1" not in [s.name for s in default_streams("v2")]
    assert [s.name for s in default_streams("v1")] == ["usage_v1", "users", "teams", "seats"]
    with pytest.raises(InvalidParameterError, match="unknown stream"):
        get_stream("usage_v3")
    with pytest.raises(InvalidParameterError, match="no stream"):
        parse_streams(" , ")


async def test_every_builder_fills_exactly_its_columns() -> None:
    """Rows built from real answers of the fake carry every column of the table, no other,
    with the key columns filled."""
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC))
    async with serve_fake_tabnine(teams=2, users=6, seed=3, now=NOW) as fake:
        async with TabnineClient(token=fake.token, base_url=fake.base_url) as client:
            org = fake.organization_id
            teams = [t async for t in client.iter_teams()]
            roster = await list_members(client, [t.id for t in teams])
            user = roster.members[0]
            entity = Entity("user", user.user.id, user.team_ids, user.user.email)
            seen = 0
            for stream in STREAMS:
                if stream.source == "roster":
                    answer = roster.members if stream.name == "users" else teams
                else:
                    target = Entity("organization", org) if stream.units != "entities" else entity
                    answer = await fetch_answer(
                        client,
                        stream.source,
                        org,
                        target,
                        window,
                        stream.granularity or "daily",
                        window.start.date(),
                    )
                ctx = RowContext(org, entity, NOW)
                rows = stream.rows(answer, ctx)
                columns = set(stream.table.column_names)
                for row in rows:
                    assert set(row) == columns, stream.name
                    assert all(row[k] is not None for k in stream.table.key), stream.name
                seen += bool(rows)
    # Every stream but usage_v1 (empty on a 6.2 server after its cut-over) and invitations.
    assert seen >= len(STREAMS) - 2


async def test_breakdown_totals_add_up_to_the_agent_usage_totals() -> None:
    """Per period, the agent types' totals (model '*') and the models' totals (agent type '*')
    each add up to the period's agent_usage total tokens."""
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC))
    async with serve_fake_tabnine(teams=2, users=8, seed=4, now=NOW) as fake:
        async with TabnineClient(token=fake.token, base_url=fake.base_url) as client:
            org = Entity("organization", fake.organization_id)
            answer = await fetch_answer(
                client, "agent_usage", org.id, org, window, "daily", window.start.date()
            )
    ctx = RowContext(org.id, org, NOW)
    totals = {
        r["period_start"]: r["total_tokens"] for r in get_stream("agent_usage").rows(answer, ctx)
    }
    breakdown = get_stream("agent_usage_breakdown").rows(answer, ctx)
    assert any(totals.values())
    for start, total in totals.items():
        rows = [r for r in breakdown if r["period_start"] == start]
        by_type = sum(r["tokens"] for r in rows if r["model"] == ALL_ROWS)
        by_model = sum(r["tokens"] for r in rows if r["agent_type"] == ALL_ROWS)
        assert by_type == by_model == total
        per_type_model = [r for r in rows if ALL_ROWS not in (r["model"], r["agent_type"])]
        assert all(r["interactions"] is None for r in per_type_model)


def test_readme_documents_every_column_of_every_stream() -> None:
    """The README's stream tables list every column of every stream, in order."""
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for stream in STREAMS:
        heading = f"#### `{stream.name}` ("
        assert heading in readme, stream.name
        section = readme.split(heading, 1)[1].split("\n#", 1)[0]
        documented = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
        assert documented == list(stream.table.column_names), stream.name
