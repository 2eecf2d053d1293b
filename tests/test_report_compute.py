"""The report's pure computations, from small tables of rows."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tabnine_usage_async.report import (
    DatasetRows,
    ReportDataError,
    ReportOptions,
    compute_report,
    report_to_json,
)


def _usage(scope: str, entity: str, day: date, active: int, completions: int) -> dict[str, object]:
    return {
        "scope": scope,
        "entity_id": entity,
        "organization_id": "org",
        "granularity": "daily",
        "period_start": datetime(day.year, day.month, day.day, tzinfo=timezone.utc),
        "active_users": active,
        "code_completions": completions,
        "chat_messages": 0,
        "agent_messages": 0,
        "complete": True,
    }


def _data() -> DatasetRows:
    data = DatasetRows()
    data.users = [
        {"user_id": "a", "email": "a@x", "role": "Member", "verified": True, "team_ids": ["t"]},
        {"user_id": "b", "email": "b@x", "role": "Admin", "verified": True, "team_ids": []},
        {
            "user_id": "c",
            "email": "c@x",
            "verified": True,
            "team_ids": ["t"],
            "deactivated_at": datetime(2026, 1, 1, tzinfo=timezone.utc),
        },
    ]
    data.teams = [{"team_id": "t", "name": "Core"}]
    for d in range(1, 32):
        day = date(2026, 1, d)
        data.add_usage([_usage("organization", "org", day, 1, 10)])
    data.add_usage([_usage("user", "a", date(2026, 1, 2), 1, 10)])
    return data


def test_idle_users_fall_into_the_largest_threshold_reached() -> None:
    """A user idle 29 days is listed at the 20-day threshold; one never active at 0."""
    report = compute_report(_data(), options=ReportOptions(inactive_days=(20, 40)))
    rows = {r.user_id: (r.inactive_days, r.threshold) for r in report.reclaim}
    assert rows == {"a": (29, 20), "b": (None, 0)}


def test_weekends_are_left_out_only_when_asked() -> None:
    """January 2026 has 22 weekdays of 31 days."""
    assert compute_report(_data()).averages.days == 31
    excluded = compute_report(_data(), options=ReportOptions(exclude_weekends=True))
    assert excluded.averages.days == 22
    assert excluded.averages.code_completions == pytest.approx(10)


def test_missing_days_are_reported_as_gaps() -> None:
    """Days of the period without organization rows are named in the header."""
    options = ReportOptions(since=date(2025, 12, 30), until=date(2026, 1, 3))
    report = compute_report(_data(), options=options)
    assert report.header.missing_days == (date(2025, 12, 30), date(2025, 12, 31))


def test_rows_of_other_granularities_are_not_counted() -> None:
    """Weekly rows are skipped, so days are never counted twice."""
    data = _data()
    row = _usage("organization", "org", date(2026, 1, 5), 3, 999)
    row["granularity"] = "weekly"
    data.add_usage([row])
    assert data.skipped_rows == 1
    assert compute_report(data).totals.code_completions == 310


def test_an_empty_dataset_is_a_clear_error() -> None:
    """Without daily usage the report says which stream to sync."""
    with pytest.raises(ReportDataError, match="usage"):
        compute_report(DatasetRows())


def test_json_has_plain_values() -> None:
    """Dates become ISO strings and the teams table keeps every column."""
    out = report_to_json(compute_report(_data()))
    assert out["header"]["period_start"] == "2026-01-01"
    teams = {t["name"]: t for t in out["teams"]}
    assert teams["Core"]["members"] == 1
    assert teams["(no team)"]["members"] == 1


def test_rows_in_any_order_give_the_same_report() -> None:
    """Users' and agent rows folded newest first give the report of rows folded oldest first."""
    days = [date(2026, 1, d) for d in range(1, 29)]

    def fold(order: list[date]) -> str:
        data = _data()
        for day in order:
            data.add_usage([_usage("user", "b", day, day.day % 3 % 2, day.day % 5)])
            at = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            agent = {"granularity": "daily", "scope": "user", "entity_id": "b", "period_start": at}
            data.add_agent_usage([{**agent, "total_tokens": day.day, "total_cost": day.day / 8}])
        options = ReportOptions(since=date(2026, 1, 1), until=date(2026, 1, 20))
        return report_to_json(compute_report(data, options=options))

    assert fold(days[::-1]) == fold(days)
