"""Ground truth of a synced dataset, read from the fake's Dataset (never from the client)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.models import Granularity
from tabnine_usage_async.testing import Dataset

UTC = timezone.utc


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def next_midnight(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)


def months(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Calendar months of [start, end), each cut at end."""
    out = []
    cursor = start
    while cursor < end:
        nxt = datetime(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1, tzinfo=UTC)
        out.append((cursor, min(nxt, end)))
        cursor = nxt
    return out


def entities(data: Dataset) -> list[tuple[str, str]]:
    """Every entity the sync covers: the organization, each team, each listed user."""
    return [
        ("organization", data.organization.id),
        *(("team", t.id) for t in data.teams),
        *(("user", u.id) for u in data.users),
    ]


async def read_table(target: str, stream: str) -> list[dict[str, Any]]:
    dest = open_destination(target)
    await dest.open([], lock=False)
    try:
        rows: list[dict[str, Any]] = []
        async for batch in dest.read(stream):
            rows += batch
        return rows
    finally:
        await dest.close()


def usage_truth(data: Dataset, since: datetime, now: datetime) -> dict[tuple[Any, ...], tuple]:
    end = next_midnight(now)
    truth = {}
    for scope, eid in entities(data):
        for b in data.usage_v2_buckets(scope, eid, since, end, Granularity.DAILY):
            truth[(scope, eid, ts(b["from"]))] = (
                b["activeUsers"],
                b["codeCompletions"]["completions"],
                b["chat"]["messages"],
                b["agent"]["messages"],
                b["agent"]["linesAdded"],
            )
    return truth


def usage_rows(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple]:
    return {
        (r["scope"], r["entity_id"], r["period_start"]): (
            r["active_users"],
            r["code_completions"],
            r["chat_messages"],
            r["agent_messages"],
            r["agent_lines_added"],
        )
        for r in rows
    }


def agent_truth(data: Dataset, since: datetime, now: datetime) -> tuple[dict, int]:
    """Agent totals by key, and the number of breakdown rows the points hold."""
    end = next_midnight(now)
    truth, breakdown = {}, 0
    for scope, eid in entities(data):
        for p in data.agent_usage_points(scope, eid, since, end, Granularity.DAILY):
            truth[(scope, eid, ts(p["from"]))] = (p["totalTokensConsumed"], p["activeUsers"])
            types = p["agentTypeBreakdown"]
            breakdown += len(types) + sum(len(t["modelBreakdown"]) for t in types)
            breakdown += len(p["modelBreakdown"])
    return truth, breakdown


def model_truth(data: Dataset, since: datetime, now: datetime) -> dict[tuple[Any, ...], int]:
    truth = {}
    for scope, eid in entities(data):
        for start, end in months(since, next_midnight(now)):
            for b in data.usage_v2_buckets(scope, eid, start, end, Granularity.ALL):
                for section in ("chat", "agent"):
                    for m in b[section].get("models", []):
                        truth[(scope, eid, start, section, m["model"])] = m["messages"]
    return truth


def seats_truth(data: Dataset, since: datetime) -> dict[date, tuple[int, int]]:
    return {
        date(m["year"], m["month"] + 1, 1): (m["registered"], m["active"])
        for m in data.account_utilizations((since.year, since.month))
    }


def audit_truth(data: Dataset, since: datetime, now: datetime) -> set[str]:
    return {e["id"] for e in data.audit_events() if since <= ts(e["timestamp"]) < now}
