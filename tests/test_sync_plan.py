"""The sync planner and job spec: which units are due, from tables, without an event loop."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from tabnine_usage_async.errors import InvalidParameterError
from tabnine_usage_async.orchestrator import Entity
from tabnine_usage_async.streams import get_stream
from tabnine_usage_async.sync import (
    DEFAULT_LOOKBACK,
    SyncSpec,
    UnitIndex,
    due_reason,
    group_name,
    parse_lookback,
    plan_stream,
    split_unit_key,
    sync_windows,
    unit_key,
)
from tabnine_usage_async.windows import Window

UTC = timezone.utc


def at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "now", "window", "granularity", "expected"),
    [
        # Month windows, daily rows: the open month is asked up to tomorrow's midnight.
        (
            "2026-01-01",
            at("2026-02-03", 9),
            "month",
            "daily",
            [
                ("2026-01-01", "2026-02-01", "2026-02-01"),
                ("2026-02-01", "2026-03-01", "2026-02-04"),
            ],
        ),
        # Exactly at midnight the new day has started: it is asked for.
        (
            "2026-01-01",
            at("2026-02-01"),
            "month",
            "daily",
            [
                ("2026-01-01", "2026-02-01", "2026-02-01"),
                ("2026-02-01", "2026-03-01", "2026-02-02"),
            ],
        ),
        # Weekly rows in week windows: the open week is asked whole (it has started).
        (
            "2026-01-05",
            at("2026-01-14", 5),
            "week",
            "weekly",
            [
                ("2026-01-05", "2026-01-12", "2026-01-12"),
                ("2026-01-12", "2026-01-19", "2026-01-19"),
            ],
        ),
        # Monthly rows: the open month is asked whole.
        (
            "2026-01-01",
            at("2026-01-20"),
            "month",
            "monthly",
            [("2026-01-01", "2026-02-01", "2026-02-01")],
        ),
        # Day windows: one per started day, none for tomorrow.
        (
            "2026-01-30",
            at("2026-02-01", 23),
            "day",
            "daily",
            [
                ("2026-01-30", "2026-01-31", "2026-01-31"),
                ("2026-01-31", "2026-02-01", "2026-02-01"),
                ("2026-02-01", "2026-02-02", "2026-02-02"),
            ],
        ),
        # A start in the future of now plans nothing.
        ("2026-03-01", at("2026-02-01"), "month", "daily", []),
    ],
)
def test_sync_windows(start, now, window, granularity, expected) -> None:
    """Windows cover [start, now], never one that has not started, each asked up to the period
    that contains now."""
    got = [
        (w.start.date().isoformat(), w.end.date().isoformat(), r.end.date().isoformat())
        for w, r in sync_windows(at(start), now, window, granularity)
    ]
    assert got == expected
    for w, r in sync_windows(at(start), now, window, granularity):
        assert r.start == w.start and r.start <= now


JAN = Window(at("2026-01-01"), at("2026-02-01"))
LOOKBACK = timedelta(days=3)


@pytest.mark.parametrize(
    ("fetched_at", "now", "expected"),
    [
        (None, at("2026-03-01"), "new"),
        (None, at("2026-01-01"), "new"),  # the window has just started
        (at("2026-01-31", 23), at("2026-02-01", 1), "provisional"),
        (at("2026-01-15"), at("2026-03-01"), "provisional"),  # a run missed for weeks
        (at("2026-02-01"), at("2026-02-02"), "lookback"),
        (at("2026-02-03", 23), at("2026-02-10"), "lookback"),  # late data can still change it
        (at("2026-02-04"), at("2026-02-05"), None),  # fetched once the lookback had passed
        (at("2026-02-04"), at("2027-01-01"), None),
    ],
)
def test_due_reason(fetched_at, now, expected) -> None:
    """A unit is due when never fetched, fetched before its end, or before its end plus the
    lookback; otherwise it is final."""
    assert due_reason(JAN, fetched_at, LOOKBACK, now) == expected


def test_due_reason_never_plans_a_future_window() -> None:
    """A window that starts after now is not due, whatever the state."""
    feb = Window(at("2026-02-01"), at("2026-03-01"))
    assert due_reason(feb, None, LOOKBACK, at("2026-01-31", 23)) is None


def test_zero_lookback_refetches_only_open_windows() -> None:
    """Without a lookback a window fetched after its end is final at once."""
    assert due_reason(JAN, at("2026-02-01"), timedelta(0), at("2026-02-01", 1)) is None


ORG = Entity("organization", "o1")
TEAM = Entity("team", "t1")
OLD_USER = Entity("user", "u1", ("t1",), "a@example.com")
NEW_USER = Entity("user", "u2", (), "b@example.com")


def plan(stream: str, entities, states, now, *, start="2026-01-01"):
    windows = sync_windows(at(start), now, "month", "daily")
    return [
        (u.key, u.reason)
        for u in plan_stream(
            get_stream(stream),
            entities=entities,
            windows=windows,
            states=UnitIndex.of(states.items(), LOOKBACK),
            now=now,
            granularity="daily",
        )
    ]


def test_plan_second_run_fetches_only_open_and_new() -> None:
    """After a first run, a later one plans the open month, the lookback, and a new user's whole
    history from the dataset's start; a user the roster no longer lists is not planned."""
    first_now = at("2026-02-10")
    windows = sync_windows(at("2026-01-01"), first_now, "month", "daily")
    states = {unit_key(e, w, "daily"): first_now for e in (ORG, TEAM, OLD_USER) for w, _ in windows}
    now = at("2026-03-02", 6)
    got = plan("usage", [ORG, TEAM, NEW_USER], states, now)
    jan, feb, mar = (
        "2026-01-01T00:00:00Z/2026-02-01T00:00:00Z",
        "2026-02-01T00:00:00Z/2026-03-01T00:00:00Z",
        "2026-03-01T00:00:00Z/2026-04-01T00:00:00Z",
    )
    assert got == [
        (f"organization:o1:{feb}:daily", "provisional"),
        (f"organization:o1:{mar}:daily", "new"),
        (f"team:t1:{feb}:daily", "provisional"),
        (f"team:t1:{mar}:daily", "new"),
        (f"user:u2:{jan}:daily", "new"),
        (f"user:u2:{feb}:daily", "new"),
        (f"user:u2:{mar}:daily", "new"),
    ]


def test_plan_model_usage_keys_use_granularity_all() -> None:
    """Per-model rows come from granularity=all requests, and their unit keys say so."""
    got = plan("model_usage", [ORG], {}, at("2026-01-05"))
    assert got == [("organization:o1:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z:all", "new")]


def test_plan_snapshot_stream_is_one_unit_every_run() -> None:
    """A snapshot stream is one unit, due on every run whatever the state."""
    states = {"snapshot": at("2026-01-05")}
    assert plan("users", [ORG, TEAM], states, at("2026-01-06")) == [("snapshot", "new")]


def test_plan_nothing_due_right_after_a_final_fetch() -> None:
    """Units fetched after their window ended plus the lookback are never fetched again."""
    now = at("2026-02-10")
    windows = sync_windows(at("2026-01-01"), at("2026-01-20"), "month", "daily")
    states = {unit_key(ORG, w, "daily"): at("2026-02-05") for w, _ in windows}
    assert plan("usage", [ORG], states, now) == [
        ("organization:o1:2026-02-01T00:00:00Z/2026-03-01T00:00:00Z:daily", "new")
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("72h", timedelta(hours=72)),
        ("0", timedelta(0)),
        (2, timedelta(days=2)),
        (timedelta(hours=5), timedelta(hours=5)),
    ],
)
def test_parse_lookback(value, expected) -> None:
    """A lookback is days or hours."""
    assert parse_lookback(value) == expected


@pytest.mark.parametrize("value", ["-1d", "3w", "", True, timedelta(days=-1)])
def test_parse_lookback_refuses(value) -> None:
    """Anything else is refused with a readable error."""
    with pytest.raises(InvalidParameterError):
        parse_lookback(value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"granularity": "all"}, "no periods"),
        ({"granularity": "weekly", "window": "month"}, "do not fit"),
        ({"window": "year"}, "unknown window"),
        ({"since": "2026-01-02", "granularity": "monthly"}, "must start a monthly period"),
        ({"since": "2026-01-01T05:00:00Z"}, "must start a daily period"),
        ({"since": "2026-02-01", "now": "2026-01-01"}, "must be before now"),
        ({"api": "v3"}, "unknown api"),
        ({"streams": "usage,nope"}, "unknown stream"),
        ({"batch_rows": 0}, "batch_rows"),
    ],
)
def test_spec_refuses_bad_values(kwargs, message) -> None:
    """Every value of a job is checked where the spec is built, with a readable message."""
    with pytest.raises(InvalidParameterError, match=message):
        SyncSpec.build("out.sqlite", **kwargs)


def test_spec_defaults_and_json() -> None:
    """The defaults are daily rows, month windows, a three-day lookback, auto API; the job
    serialises to plain values."""
    spec = SyncSpec.build("out.sqlite", since="2026-01-01", streams="users,usage")
    assert spec.lookback == DEFAULT_LOOKBACK == timedelta(days=3)
    assert spec.to_json() == {
        "streams": ["usage", "users"],
        "since": "2026-01-01T00:00:00Z",
        "now": None,
        "lookback_hours": 72.0,
        "granularity": "daily",
        "window": "month",
        "api": "auto",
        "batch_rows": 5000,
    }


@pytest.mark.parametrize(
    ("entity", "granularity"),
    [
        (Entity("user", "u1"), "daily"),
        (Entity("team", "t:1/2"), "weekly"),  # ids may hold the key's separators
        (Entity("organization", "o 1\nß:"), "all"),
        (Entity("user", "2026-01-01T00:00:00Z"), "monthly"),
    ],
)
def test_split_unit_key_inverts_unit_key(entity, granularity) -> None:
    """Every key ``unit_key`` makes splits back into its entity, window and granularity."""
    key = unit_key(entity, JAN, granularity)
    assert split_unit_key(key) == (
        f"{entity.scope}:{entity.id}",
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        granularity,
    )


@pytest.mark.parametrize(
    "key",
    [
        "snapshot",
        "",
        "user:u1:2026-01-01/2026-02-01:daily",
        "user:u1:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z",
        ":2026-01-01T00:00:00Z/2026-02-01T00:00:00Z:daily",
        "user:u12026-01-01T00:00:00Z/2026-02-01T00:00:00Z:daily",
        "user:u1:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z:dai-ly",
        "user:u1:2026-01-01T00:00:00Z/2026-02-01T00:00:00Z:",
    ],
)
def test_split_unit_key_refuses_other_keys(key) -> None:
    """Keys of another form are not unit keys; the index leaves them out, also once it has seen
    their window in a valid key."""
    assert split_unit_key(key) is None
    assert UnitIndex.of([(key, at("2026-01-05"))], LOOKBACK).units == 0
    valid = unit_key(ORG, JAN, "daily")
    assert UnitIndex.of([(valid, at("2026-01-05")), (key, at("2026-01-05"))], LOOKBACK).units == 1


@pytest.mark.parametrize(
    ("fetched_at", "open_", "settled"),
    [
        (at("2026-01-20"), True, False),  # provisional
        (at("2026-02-01"), True, False),  # complete, inside the lookback
        (at("2026-02-03", 23), True, False),
        (at("2026-02-04"), False, True),  # the lookback has passed: never due again
        (at("2026-06-01"), False, True),
    ],
)
def test_index_keeps_only_units_that_can_be_due(fetched_at, open_, settled) -> None:
    """A unit fetched before its window's end plus the lookback keeps its fetch time; one fetched
    later is only remembered as settled."""
    index = UnitIndex.of([(unit_key(ORG, JAN, "daily"), fetched_at)], LOOKBACK)
    group = group_name(ORG, "daily")
    assert index.fetched_at(group, JAN) == (fetched_at if open_ else None)
    assert index.settled(group, JAN) is settled
    assert index.held == 1
    assert not index.settled(group_name(ORG, "weekly"), JAN)
    assert not index.settled(group_name(TEAM, "daily"), JAN)


def _month(year: int, month: int) -> Window:
    start = datetime(year, month, 1, tzinfo=UTC)
    return Window(start, (start + timedelta(days=32)).replace(day=1))


def test_index_merges_settled_windows_in_any_order() -> None:
    """Settled windows merge into spans whatever order they come in; a missing window stays a
    gap, and a window is settled only when settled spans cover it whole."""
    months = [_month(2025, m) for m in range(1, 13)]
    kept = [w for w in months if w.start.month != 6]  # June was never fetched
    fetches = [(unit_key(OLD_USER, w, "daily"), at("2026-01-10")) for w in kept]
    for order in (fetches, fetches[::-1], random.Random(3).sample(fetches, len(fetches))):
        index = UnitIndex.of(order, LOOKBACK)
        group = group_name(OLD_USER, "daily")
        assert [index.settled(group, w) for w in months] == [w in kept for w in months]
        assert index.held == 2  # January-May and July-December
        assert index.settled(group, Window(months[0].start, months[4].end))
        assert not index.settled(group, Window(months[4].start, months[6].end))
        assert not index.settled(group, _month(2026, 1))


def test_index_holds_a_span_per_entity_not_a_state_per_unit() -> None:
    """A year of settled months and one open month per entity leave two entries per entity."""
    users = [Entity("user", f"u{i}") for i in range(50)]
    first_now = at("2026-01-10")
    windows = sync_windows(at("2025-01-01"), first_now, "month", "daily")
    index = UnitIndex.of(
        ((unit_key(u, w, "daily"), first_now) for u in users for w, _ in windows), LOOKBACK
    )
    assert index.units == len(users) * len(windows) == 50 * 13
    assert index.held == 2 * len(users)


@pytest.mark.parametrize("seed", range(8))
def test_plan_from_the_index_equals_plan_from_every_state(seed) -> None:
    """Planning from the compact index gives exactly the units a lookup of every unit's fetch
    time gives, for random histories (gaps, provisional, lookback, settled, odd keys)."""
    rng = random.Random(seed)
    start = at("2025-01-01")
    now = at("2026-01-15", 6) + timedelta(hours=rng.randrange(0, 24 * 40))
    windows = sync_windows(start, now, rng.choice(["month", "week", "day"]), "daily")
    entities = [ORG, TEAM] + [Entity("user", f"u{i}") for i in range(12)]
    fetched: dict[str, datetime] = {"snapshot": now, "user:u1:odd": now}
    for entity in entities:
        for window, _ in windows:
            if rng.random() < 0.15:
                continue  # never fetched: a failed unit, a new user
            latest = min(now, window.end + timedelta(days=6))
            span = max(int((latest - window.start).total_seconds() // 3600), 1)
            fetched_at = window.start + timedelta(hours=rng.randrange(span))
            fetched[unit_key(entity, window, "daily")] = fetched_at
    items = list(fetched.items())
    rng.shuffle(items)
    got = [
        (u.key, u.reason)
        for u in plan_stream(
            get_stream("usage"),
            entities=entities,
            windows=windows,
            states=UnitIndex.of(items, LOOKBACK),
            now=now,
            granularity="daily",
        )
    ]
    expected = []
    for entity in entities:
        for window, _ in windows:
            key = unit_key(entity, window, "daily")
            reason = due_reason(window, fetched.get(key), LOOKBACK, now)
            if reason is not None:
                expected.append((key, reason))
    assert got == expected
    assert {reason for _, reason in got} >= {"new", "provisional"}
