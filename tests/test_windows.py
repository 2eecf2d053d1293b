"""Date parsing, formatting and window splitting: pure UTC calendar maths."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabnine_usage_async import InvalidParameterError, Window, split_windows
from tabnine_usage_async.windows import (
    WindowSpec,
    due_windows,
    format_datetime,
    parse_datetime,
    resolve_range,
    to_utc,
    window_state,
)

UTC = timezone.utc


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", d(2026, 1, 1)),
        ("2026-01-01T00:00:00.123456Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T00:00:00.1234567891Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T02:30:00+02:30", d(2026, 1, 1)),
        ("2025-12-31T19:00:00-05:00", d(2026, 1, 1)),
        ("2026-01-01 00:00:00z", d(2026, 1, 1)),
    ],
)
def test_parse_datetime(text: str, expected: datetime) -> None:
    """Any RFC 3339 form (fractions, offsets) parses to an aware UTC datetime."""
    got = parse_datetime(text)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["2026-01-01", "2026-01-01T00:00:00", "yesterday", "2026-01-01T25:00:00Z"]
)
def test_parse_datetime_rejects(text: str) -> None:
    """Strings without a zone or not date-times at all are refused."""
    with pytest.raises(ValueError, match=r"RFC 3339|must be in"):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (d(2026, 1, 1), "2026-01-01T00:00:00Z"),
        (datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=UTC), "2026-01-01T00:00:00Z"),
        (datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))), "2026-01-01T00:00:00Z"),
        (d(1999, 12, 31, 23, 59, 59), "1999-12-31T23:59:59Z"),
    ],
)
def test_format_datetime(moment: datetime, expected: str) -> None:
    """Date-times go out as UTC, whole seconds, with a Z: what the live API accepts."""
    assert format_datetime(moment) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 2, 28), d(2026, 2, 28)),
        ("2026-02-28", d(2026, 2, 28)),
        (" 2026-02-28 ", d(2026, 2, 28)),
        ("2026-02-28T10:00:00.5+01:00", d(2026, 2, 28, 9)),
        (datetime(2026, 2, 28, 10, 0, 0, 5, tzinfo=UTC), d(2026, 2, 28, 10)),
    ],
)
def test_to_utc(value: Any, expected: datetime) -> None:
    """Dates mean midnight UTC; aware datetimes and strings convert to UTC whole seconds."""
    assert to_utc(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime(2026, 1, 1), "naive datetime"),
        ("2026-02-30", "is not a date"),
        ("01/02/2026", "is not a date"),
        (20260101, "not int"),
        (None, "not NoneType"),
    ],
)
def test_to_utc_rejects(value: Any, message: str) -> None:
    """Ambiguous or malformed dates raise InvalidParameterError saying what to pass."""
    with pytest.raises(InvalidParameterError, match=message):
        to_utc(value, name="start")


def test_resolve_range_rejects_empty_and_reversed() -> None:
    """end must be strictly after start; ranges are half-open."""
    with pytest.raises(InvalidParameterError, match="half-open"):
        resolve_range("2026-01-02", "2026-01-01")
    with pytest.raises(InvalidParameterError, match="half-open"):
        resolve_range("2026-01-01T00:00:00.9Z", "2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("start", "end", "spec", "expected"),
    [
        (
            d(2026, 1, 30),
            d(2026, 3, 2),
            "month",
            [
                (d(2026, 1, 30), d(2026, 2, 1)),
                (d(2026, 2, 1), d(2026, 3, 1)),
                (d(2026, 3, 1), d(2026, 3, 2)),
            ],
        ),
        (d(2024, 2, 1), d(2024, 3, 1), "month", [(d(2024, 2, 1), d(2024, 3, 1))]),
        (
            d(2025, 12, 15),
            d(2026, 1, 15),
            "month",
            [(d(2025, 12, 15), d(2026, 1, 1)), (d(2026, 1, 1), d(2026, 1, 15))],
        ),
        # 2026-01-01 is a Thursday; ISO weeks start on Monday 2026-01-05.
        (
            d(2026, 1, 1),
            d(2026, 1, 13),
            "week",
            [
                (d(2026, 1, 1), d(2026, 1, 5)),
                (d(2026, 1, 5), d(2026, 1, 12)),
                (d(2026, 1, 12), d(2026, 1, 13)),
            ],
        ),
        (
            d(2024, 2, 28),
            d(2024, 3, 1),
            "day",
            [(d(2024, 2, 28), d(2024, 2, 29)), (d(2024, 2, 29), d(2024, 3, 1))],
        ),
        (
            d(2026, 1, 1, 12),
            d(2026, 1, 2, 6),
            "day",
            [(d(2026, 1, 1, 12), d(2026, 1, 2)), (d(2026, 1, 2), d(2026, 1, 2, 6))],
        ),
        (
            d(2026, 1, 1),
            d(2026, 1, 4),
            timedelta(days=2),
            [(d(2026, 1, 1), d(2026, 1, 3)), (d(2026, 1, 3), d(2026, 1, 4))],
        ),
        (d(2026, 1, 1), d(2026, 7, 1), None, [(d(2026, 1, 1), d(2026, 7, 1))]),
        # DST does not exist in UTC: the day of the US/EU switch is 24 hours like any other.
        (d(2026, 3, 29), d(2026, 3, 30), "day", [(d(2026, 3, 29), d(2026, 3, 30))]),
    ],
)
def test_split_windows_table(
    start: datetime, end: datetime, spec: WindowSpec, expected: list[tuple[datetime, datetime]]
) -> None:
    """Windows cut at calendar boundaries, with partial first and last windows."""
    assert split_windows(start, end, spec) == [Window(a, b) for a, b in expected]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("year", "unknown window"),
        (timedelta(0), "positive"),
        (timedelta(seconds=-5), "positive"),
        (timedelta(milliseconds=10), "at least one second"),
    ],
)
def test_split_windows_rejects(spec: Any, message: str) -> None:
    """Unknown units and non-positive lengths are refused."""
    with pytest.raises(InvalidParameterError, match=message):
        split_windows(d(2026, 1, 1), d(2026, 2, 1), spec)


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda m: m.replace(microsecond=0, tzinfo=UTC)
)
specs = st.one_of(
    st.sampled_from(["day", "week", "month", None]),
    st.integers(min_value=6 * 3600, max_value=86400 * 40).map(lambda s: timedelta(seconds=s)),
)


@given(moments, st.integers(min_value=1, max_value=86400 * 400), specs)
def test_windows_cover_the_range_exactly(start: datetime, length: int, spec: Any) -> None:
    """Windows are contiguous, non-empty, cover [start, end) exactly and align to the unit."""
    end = start + timedelta(seconds=length)
    windows = split_windows(start, end, spec)
    assert windows[0].start == start and windows[-1].end == end
    for a, b in pairwise(windows):
        assert a.end == b.start
    for w in windows:
        assert w.start < w.end
    inner = [w.start for w in windows[1:]]
    if spec == "day":
        assert all((m.hour, m.minute, m.second) == (0, 0, 0) for m in inner)
    elif spec == "week":
        assert all(m.weekday() == 0 and m.hour == 0 for m in inner)
    elif spec == "month":
        assert all(m.day == 1 and m.hour == 0 for m in inner)


@pytest.mark.parametrize(
    ("start", "end", "granularity", "now", "state"),
    [
        # Daily: a window is final once its last day is over.
        (d(2026, 12, 1), d(2026, 12, 2), "daily", d(2026, 12, 2), "ended"),
        (d(2026, 12, 1), d(2026, 12, 2), "daily", d(2026, 12, 3), "ended"),
        (d(2026, 12, 1), d(2026, 12, 2), "daily", d(2026, 12, 1, 12), "open"),
        (d(2026, 12, 1), d(2026, 12, 2), "daily", d(2026, 12, 1, 0, 0, 1), "open"),
        (d(2026, 12, 1), d(2026, 12, 2), "daily", d(2026, 12, 1), "future"),
        (d(2026, 12, 1), d(2026, 12, 2), "daily", d(2026, 11, 30), "future"),
        # A window ending mid-day is not final until that day is over.
        (d(2026, 12, 1), d(2026, 12, 1, 6), "daily", d(2026, 12, 1, 7), "open"),
        (d(2026, 12, 1), d(2026, 12, 1, 6), "all", d(2026, 12, 1, 7), "ended"),
        # Weekly: ISO weeks; 2026-11-30 is a Monday.
        (d(2026, 11, 30), d(2026, 12, 2), "weekly", d(2026, 12, 5), "open"),
        (d(2026, 11, 30), d(2026, 12, 2), "weekly", d(2026, 12, 7), "ended"),
        (d(2026, 11, 23), d(2026, 11, 30), "weekly", d(2026, 11, 30), "ended"),
        # Monthly: a few days of December are final only when December is over.
        (d(2026, 12, 1), d(2026, 12, 8), "monthly", d(2026, 12, 20), "open"),
        (d(2026, 12, 1), d(2026, 12, 8), "monthly", d(2027, 1, 1), "ended"),
        (d(2026, 11, 1), d(2026, 12, 1), "monthly", d(2026, 12, 1), "ended"),
        # All: the window is the period.
        (d(2026, 1, 1), d(2026, 7, 1), "all", d(2026, 6, 30), "open"),
        (d(2026, 1, 1), d(2026, 7, 1), "all", d(2026, 7, 1), "ended"),
    ],
)
def test_window_state_table(
    start: datetime, end: datetime, granularity: str, now: datetime, state: str
) -> None:
    """A window is final only when the last period it touches has ended; future ones wait."""
    assert window_state(Window(start, end), granularity, now) == state


def test_due_windows_keep_only_the_ended_ones() -> None:
    """Of a range reaching past now, only the windows already over are due, in order."""
    windows = split_windows(d(2026, 11, 28), d(2026, 12, 5), "day")
    due = due_windows(windows, "daily", d(2026, 12, 2, 15))
    assert [w.start.day for w in due] == [28, 29, 30, 1]
