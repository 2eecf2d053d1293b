"""A large organization answers one user's usage from that user's bits: same numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from tabnine_usage_async.testing import Dataset, usage

UTC = timezone.utc
START = datetime(2025, 12, 20, tzinfo=UTC)
END = datetime(2026, 1, 16, tzinfo=UTC)


def answers(data: Dataset) -> list[Any]:
    """Every user's daily blocks, v2 buckets, agent points and per-day metrics."""
    found: list[Any] = []
    for user in data.users:
        found.append(data.usage_blocks("user", user.id, START, END, "daily"))
        found.append(data.usage_blocks("user", user.id, START, END, "all"))
        found.append(data.usage_v2_buckets("user", user.id, START, END, "weekly"))
        found.append(data.agent_usage_points("user", user.id, START, END, "daily"))
        day = date(2026, 1, 5)
        while day <= date(2026, 1, 15):
            found.append(data.user_day_metrics(user.id, day))
            day += timedelta(days=1)
    return found


def test_one_users_numbers_do_not_depend_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """With corrections and a partial last day, both ways of reading one user agree."""
    data = Dataset(seed=6, teams=4, users=120)
    data.correct(date(2026, 1, 7))
    data.correct(date(2026, 1, 8), [data.users[3].id, data.users[40].id])
    data.set_now(datetime(2026, 1, 15, 13, 10, tzinfo=UTC))
    assert len(data.users) < usage.ONE_USER_PATH_FROM
    every_mask = answers(data)
    monkeypatch.setattr(usage, "ONE_USER_PATH_FROM", 1)
    one_user = answers(data)
    assert one_user == every_mask
    assert any(m.active for m in one_user if hasattr(m, "active"))
