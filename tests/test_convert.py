"""The cattrs converter: round trips, unknown keys, strict types and readable decode errors."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabnine_usage_async import (
    AccountUtilization,
    ChatUsage,
    CodeCompletionsUsage,
    DecodeError,
    Granularity,
    License,
    Organization,
    PermissionUser,
    Team,
    TeamInfo,
    TeamUtilization,
    UsageBlock,
    UsageReport,
    User,
    UserInfo,
    UserTeam,
)
from tabnine_usage_async._convert import decode, make_converter

UTC = timezone.utc
CONV = make_converter()

text = st.text(max_size=12)
counts = st.integers(min_value=0, max_value=2**63 - 1)
ratios = st.floats(allow_nan=False, allow_infinity=False, width=64)
moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | ratios | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


def extras(*known: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(text.filter(lambda k: k not in known), json_values, max_size=3)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


code = st.builds(
    CodeCompletionsUsage,
    opt(counts),
    opt(counts),
    opt(counts),
    opt(counts),
    opt(counts),
    opt(ratios),
    extra=extras(
        "activeUsers", "completions", "charsCompleted", "keystrokes", "lines", "automationFactor"
    ),
)
chat = st.builds(
    ChatUsage,
    opt(counts),
    opt(counts),
    opt(counts),
    opt(counts),
    opt(counts),
    opt(ratios),
    extra=extras(
        "activeUsers",
        "interactions",
        "usefulChatInteractions",
        "lines",
        "charsCompleted",
        "chatConsumptionRate",
    ),
)
blocks = st.builds(
    UsageBlock,
    moments,
    moments,
    counts,
    opt(ratios),
    opt(code),
    opt(chat),
    extra=extras("from", "to", "activeUsers", "productivityFactor", "codeCompletions", "chat"),
)
MODELS: dict[type, st.SearchStrategy[Any]] = {
    Organization: st.builds(
        Organization,
        text,
        text,
        opt(text),
        opt(st.booleans()),
        opt(st.booleans()),
        opt(st.booleans()),
        opt(st.lists(text, max_size=3).map(tuple)),
        opt(text),
        extra=extras(
            "id",
            "name",
            "publicKey",
            "samlEnabled",
            "smtpConfigured",
            "usernamePasswordEnabled",
            "domains",
            "planType",
        ),
    ),
    Team: st.builds(
        Team,
        text,
        text,
        opt(counts),
        opt(st.booleans()),
        opt(text),
        opt(text),
        opt(st.integers(-(2**63), 2**63 - 1)),
        opt(counts),
        extra=extras(
            "id",
            "name",
            "usersCount",
            "isDefaultTeam",
            "organizationId",
            "syncedGroupId",
            "seatCap",
            "pendingInvitationsCount",
        ),
    ),
    TeamInfo: st.builds(TeamInfo, text, text, extra=extras("id", "name")),
    License: st.builds(
        License,
        opt(st.integers(-(2**63), 2**63 - 1)),
        opt(st.integers(-(2**63), 2**63 - 1)),
        opt(counts),
        opt(counts),
        opt(text),
        opt(st.lists(text, max_size=3).map(tuple)),
        opt(st.dictionaries(text, json_values, max_size=2)),
        extra=extras("exp", "iat", "seats", "seatsCap", "audience", "features", "settings"),
    ),
    AccountUtilization: st.builds(
        AccountUtilization,
        st.dates(min_value=date(1970, 1, 1)).map(lambda x: x.replace(day=1)),
        counts,
        counts,
        counts,
        counts,
        extra=extras("year", "month", "registered", "deactivated", "active", "pending"),
    ),
    PermissionUser: st.builds(
        PermissionUser, text, text, extra=extras("username", "organizationId")
    ),
    User: st.builds(
        User,
        text,
        text,
        text,
        text,
        st.booleans(),
        opt(st.builds(Team, text, text, extra=extras("id", "name"))),
        opt(moments),
        opt(moments),
        extra=extras(
            "id", "username", "email", "role", "verified", "team", "deactivatedAt", "updatedAt"
        ),
    ),
    UserInfo: st.builds(
        UserInfo,
        opt(text),
        opt(text),
        opt(text),
        opt(text),
        opt(moments),
        opt(moments),
        st.lists(
            st.builds(UserTeam, opt(text), opt(text), extra=extras("team_id", "team_name")),
            max_size=3,
        ).map(tuple),
        extra=extras("user", "teams"),
    ),
    TeamUtilization: st.builds(
        TeamUtilization,
        counts,
        counts,
        counts,
        extra=extras("registered", "deactivated", "invited"),
    ),
    UsageReport: st.builds(
        UsageReport,
        text,
        moments,
        moments,
        st.sampled_from(Granularity),
        st.lists(blocks, max_size=3).map(tuple),
        opt(text),
        opt(text),
        extra=extras("organizationId", "teamId", "userId", "from", "to", "usage"),
    ),
}


@pytest.mark.parametrize("cls", list(MODELS), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    """Unstructuring to wire JSON and structuring back gives the same model, extras included."""
    model = data.draw(MODELS[cls])
    wire = CONV.unstructure(model)
    assert decode(wire, cls, endpoint="/test") == model


DETAILED = make_converter(detailed_validation=True)


@pytest.mark.parametrize("cls", list(MODELS), ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fast_and_detailed_converters_agree(cls: type, data: st.DataObject) -> None:
    """The fast converter's lean hooks build exactly what the detailed converter builds."""
    wire = CONV.unstructure(data.draw(MODELS[cls]))
    assert CONV.structure(wire, cls) == DETAILED.structure(wire, cls)


@pytest.mark.parametrize(
    "block",
    [
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "nope", "activeUsers": 1},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "activeUsers": True},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "activeUsers": -1},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "activeUsers": 2**63},
        {"from": 5, "to": "2026-01-02T00:00:00Z", "activeUsers": 1},
        {
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z",
            "activeUsers": 1,
            "productivityFactor": float("nan"),
        },
        {
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z",
            "activeUsers": 1,
            "chat": {"interactions": "2"},
        },
    ],
)
def test_fast_converter_refuses_what_the_detailed_one_refuses(block: dict[str, Any]) -> None:
    """Missing fields, wrong types and out-of-range numbers fail on the fast path too."""
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure sends decode to the details
        CONV.structure(block, UsageBlock)
    with pytest.raises(DecodeError):
        decode(block, UsageBlock, endpoint="/test")


def test_repeated_datetimes_are_shared() -> None:
    """Equal date-time strings decode to one shared (immutable) datetime object."""
    first = decode(
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "activeUsers": 0},
        UsageBlock,
        endpoint="/test",
    )
    second = decode(
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "activeUsers": 0},
        UsageBlock,
        endpoint="/test",
    )
    assert first.start is second.start
    assert first.start == datetime(2026, 3, 1, tzinfo=UTC)


@settings(max_examples=80, deadline=None)
@given(
    extra=extras("from", "to", "activeUsers", "productivityFactor", "codeCompletions", "chat"),
    nested=extras(
        "activeUsers",
        "interactions",
        "usefulChatInteractions",
        "lines",
        "charsCompleted",
        "chatConsumptionRate",
    ),
)
def test_unknown_keys_never_break_parsing(extra: dict[str, Any], nested: dict[str, Any]) -> None:
    """Arbitrary unknown keys, at any level, parse and stay reachable in extra."""
    block = {
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "activeUsers": 1,
        "chat": {"interactions": 2, **nested},
        **extra,
    }
    got = decode(block, UsageBlock, endpoint="/test")
    assert dict(got.extra) == extra
    assert got.chat is not None and dict(got.chat.extra) == nested and got.chat.interactions == 2


def test_integral_floats_are_counts() -> None:
    """A count sent as 3.0 (numbers may be floats) becomes the integer 3."""
    got = decode(
        {"registered": 3.0, "deactivated": 0, "invited": 1}, TeamUtilization, endpoint="/t"
    )
    assert got.registered == 3 and isinstance(got.registered, int)


REPORT = {
    "organizationId": "o",
    "userId": "u",
    "from": "2026-01-01T00:00:00Z",
    "to": "2026-01-02T00:00:00Z",
    "usage": {
        "granularity": "daily",
        "data": [
            {
                "from": "2026-01-01T00:00:00Z",
                "to": "2026-01-02T00:00:00Z",
                "activeUsers": 1,
                "codeCompletions": {"completions": 1},
                "chat": {"interactions": 1},
            }
        ],
    },
}


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    import copy

    body = copy.deepcopy(REPORT)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        (["from"], "yesterday", "$.from", "RFC 3339"),
        (["organizationId"], KeyError, "$.organizationId", "required field missing"),
        (["organizationId"], 12, "$.organizationId", "expected a string"),
        (["usage", "granularity"], "hourly", "$.usage.granularity", "hourly"),
        (["usage", "data"], {"a": 1}, "$.usage.data", "expected an array"),
        (["usage", "data", 0, "to"], KeyError, "$.usage.data[0].to", "required field missing"),
        (["usage", "data", 0, "activeUsers"], -1, "$.usage.data[0].activeUsers", "non-negative"),
        (["usage", "data", 0, "activeUsers"], 2**64, "$.usage.data[0].activeUsers", "2**63"),
        (["usage", "data", 0, "activeUsers"], True, "$.usage.data[0].activeUsers", "got a boolean"),
        (["usage", "data", 0, "activeUsers"], 1.5, "$.usage.data[0].activeUsers", "whole number"),
        (
            ["usage", "data", 0, "codeCompletions", "completions"],
            "7",
            "$.usage.data[0].codeCompletions.completions",
            "got a string",
        ),
        (
            ["usage", "data", 0, "chat", "interactions"],
            None,
            "$.usage.data[0].chat.interactions",
            "",
        ),
        (["usage", "data", 0, "chat"], [1], "$.usage.data[0].chat", "expected an object"),
        (["usage"], KeyError, "$.usage", "required field missing"),
    ],
)
def test_decode_errors_name_the_wire_field(
    path: list[Any], value: Any, field: str, reason: str
) -> None:
    """A body that does not fit raises DecodeError naming endpoint and the wire field path."""
    body = _broken(path, value)
    if path[-1] == "interactions" and value is None:
        # null for an optional metric is "missing": accepted, never turned into 0.
        got = decode(body, UsageReport, endpoint="/api/v1/user/usage")
        assert got.blocks[0].chat is not None and got.blocks[0].chat.interactions is None
        return
    with pytest.raises(DecodeError) as info:
        decode(body, UsageReport, endpoint="/api/v1/user/usage")
    assert info.value.endpoint == "/api/v1/user/usage"
    assert info.value.field == field
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [([], "expected an object"), ("x", "expected an object"), (None, "expected an object")],
)
def test_decode_wrong_top_level_shape(body: Any, reason: str) -> None:
    """Valid JSON of the wrong shape is a DecodeError at $."""
    with pytest.raises(DecodeError, match=reason) as info:
        decode(body, Team, endpoint="/e")
    assert info.value.field == "$"


def test_account_utilization_month_out_of_range() -> None:
    """A wire month outside 0..11 is a decode error, not a silent wrong date."""
    body = [
        {"year": 2025, "month": 12, "registered": 0, "deactivated": 0, "active": 0, "pending": 0}
    ]
    with pytest.raises(DecodeError, match=r"0\.\.11") as info:
        decode(body, list[AccountUtilization], endpoint="/a")
    assert info.value.field == "$[0].month"
