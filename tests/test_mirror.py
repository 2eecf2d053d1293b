"""With the speed extra, v2 reports checked by mirror structs decode exactly as without them."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabnine_usage_async import (
    AgentUsageReport,
    AgentUsageV2,
    ChatUsageV2,
    CodeCompletionsUsageV2,
    DecodeError,
    Granularity,
    ModelUsage,
    UsageBucket,
    UsageReport,
    UsageReportV2,
    _convert,
    _mirror,
)
from tabnine_usage_async._compiled import Refused
from tabnine_usage_async._convert import _FIELD_HOOKS, _MIRRORS, _RENAMES, _REPORTS, decode
from tabnine_usage_async._mirror import Mirrors

from .test_convert import json_values
from .test_current_api_schema import bodies

CONV = _convert.make_converter()
ENDPOINT = "/api/v2/user/usage"

pytestmark = pytest.mark.skipif(_mirror.msgspec is None, reason="needs the speed extra")


def _mirrored_or_refused(data: Any, cls: Any = UsageReportV2) -> Any:
    structure = Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS).get(cls)
    assert structure is not None
    try:
        return structure(data)
    except Exception:  # any failure hands the body to the structure functions
        return Refused


def _without_mirrors(data: Any, cls: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``decode`` as an install without the speed extra runs it."""
    with monkeypatch.context() as patch:
        patch.setattr(_mirror, "msgspec", None)
        patch.setattr(_convert, "_MIRRORS", Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS))
        return _outcome(data, cls)


def _outcome(data: Any, cls: Any) -> Any:
    try:
        return decode(copy.deepcopy(data), cls, endpoint=ENDPOINT)
    except DecodeError as exc:
        return ("error", str(exc), exc.field)


BUCKET: dict[str, Any] = {
    "from": "2026-01-01T00:00:00.000Z",
    "to": "2026-01-02T00:00:00.000Z",
    "activeUsers": 1,
    "codeCompletions": {
        "activeUsers": 1,
        "completions": 67,
        "charsCompleted": 1887,
        "keystrokes": 3076,
        "lines": 1,
    },
    "chat": {"activeUsers": 0, "messages": 0, "linesAdded": 0},
    "agent": {
        "activeUsers": 0,
        "messages": 0,
        "linesAdded": 0,
        "linesAddedAccepted": 0,
        "linesRemoved": 0,
        "linesRemovedAccepted": 0,
    },
    "ides": "vscode",
    "languages": "python",
}
REPORT: dict[str, Any] = {
    "organizationId": "o",
    "userId": "u",
    "from": "2026-01-01T00:00:00Z",
    "to": "2026-01-03T00:00:00Z",
    "usage": {
        "granularity": "daily",
        "data": [
            BUCKET,
            {
                **BUCKET,
                "from": "2026-01-02T00:00:00.000Z",
                "to": "2026-01-03T00:00:00.000Z",
                "chat": {
                    "activeUsers": 1,
                    "messages": 2,
                    "linesAdded": 3,
                    "models": [{"model": "m", "messages": 2, "uniqueUsers": 1}],
                },
            },
        ],
    },
}


def _set(body: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _drop(body: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


CC = ["usage", "data", 0, "codeCompletions"]
TABLE: dict[str, dict[str, Any]] = {
    "plain": REPORT,
    "team report": _set(_drop(REPORT, ["userId"]), ["teamId"], "t"),
    "null optional section": _set(REPORT, ["usage", "data", 0, "chat"], None),
    "absent optional count": _drop(REPORT, [*CC, "lines"]),
    "empty data": _set(REPORT, ["usage", "data"], []),
    "offset date-time": _set(REPORT, ["from"], "2026-01-01T02:00:00+02:00"),
    "unknown key in a section": _set(REPORT, [*CC, "newMetric"], 5),
    "unknown key in a bucket": _set(REPORT, ["usage", "data", 0, "ideVersion"], "1"),
    "unknown key in the envelope": _set(REPORT, ["usage", "cursor"], 3),
    "unknown key at the top": _set(REPORT, ["note"], "n"),
    "count sent as a whole float": _set(REPORT, [*CC, "completions"], 3.0),
    "count sent as a fraction": _set(REPORT, [*CC, "completions"], 3.5),
    "count sent as a boolean": _set(REPORT, [*CC, "completions"], True),
    "zero sent as false": _set(REPORT, ["usage", "data", 0, "chat", "messages"], False),
    "negative count": _set(REPORT, [*CC, "completions"], -1),
    "count past 64 bits": _set(REPORT, [*CC, "completions"], 2**63),
    "largest count": _set(REPORT, [*CC, "completions"], 2**63 - 1),
    "count sent as a string": _set(REPORT, [*CC, "completions"], "3"),
    "string sent as a number": _set(REPORT, ["usage", "data", 0, "ides"], 3),
    "required count missing": _drop(REPORT, ["usage", "data", 0, "activeUsers"]),
    "required count null": _set(REPORT, ["usage", "data", 0, "activeUsers"], None),
    "date-time without a zone": _set(REPORT, ["usage", "data", 0, "from"], "2026-01-01T00:00:00"),
    "date-time not a string": _set(REPORT, ["to"], 1767225600),
    "unknown granularity": _set(REPORT, ["usage", "granularity"], "hourly"),
    "section not an object": _set(REPORT, [*CC], [1, 2]),
    "data not an array": _set(REPORT, ["usage", "data"], {"a": 1}),
    "models not an array": _set(REPORT, ["usage", "data", 1, "chat", "models"], {}),
    "organization missing": _drop(REPORT, ["organizationId"]),
    "body not an object": [REPORT],  # type: ignore[dict-item]
}


@pytest.mark.parametrize("body", TABLE.values(), ids=TABLE.keys())
def test_a_table_of_bodies_decodes_alike_with_and_without_the_mirrors(
    body: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid, unusual and broken v2 bodies: equal models or the same error, extra or not."""
    with_mirrors = _outcome(body, UsageReportV2)
    assert with_mirrors == _without_mirrors(body, UsageReportV2, monkeypatch)
    mirrored = _mirrored_or_refused(copy.deepcopy(body))
    if mirrored is not Refused:
        assert mirrored == with_mirrors


@pytest.mark.parametrize(
    "name",
    ["plain", "team report", "null optional section", "absent optional count", "empty data"],
)
def test_common_bodies_are_taken_by_the_mirrors(name: str) -> None:
    """The answers servers send today go through the mirrors, not back to Python checks."""
    assert _mirrored_or_refused(copy.deepcopy(TABLE[name])) is not Refused


def test_v2_reports_have_a_mirror_and_reports_with_ratios_do_not() -> None:
    """Only models whose every field the mirror checks exactly as the converters get one."""
    assert _MIRRORS.get(UsageReportV2) is not None
    assert _MIRRORS.get(UsageReport) is None  # ratios: finiteness is checked in Python
    assert _MIRRORS.get(AgentUsageReport) is None
    assert _MIRRORS.get(UsageBucket) is None  # only whole reports


def test_without_the_speed_extra_there_are_no_mirrors(monkeypatch: pytest.MonkeyPatch) -> None:
    """An install without msgspec gets no mirror and decodes through the structure functions."""
    monkeypatch.setattr(_mirror, "msgspec", None)
    assert Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS).get(UsageReportV2) is None


def test_equal_sections_are_shared_and_unequal_ones_are_not() -> None:
    """Two all-zero chat sections are one object; a different section is its own."""
    structure = Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS).get(UsageReportV2)
    assert structure is not None
    first, second = structure(copy.deepcopy(REPORT)).buckets
    again = structure(copy.deepcopy(REPORT))
    assert again.buckets[0].chat is first.chat
    assert first.agent is second.agent
    assert first.chat is not second.chat
    assert second.chat.models == (ModelUsage(model="m", messages=2, unique_users=1),)
    assert isinstance(first.code_completions, CodeCompletionsUsageV2)
    assert isinstance(first.agent, AgentUsageV2)
    assert isinstance(second.chat, ChatUsageV2)


def test_a_class_refused_again_and_again_skips_its_mirror_for_a_while() -> None:
    """Answers that always carry a new key stop paying for a mirror that refuses them, a while."""
    structure = Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS).get(UsageReportV2)
    assert structure is not None
    body = TABLE["unknown key in a section"]
    for _ in range(_mirror._REFUSALS_TOLERATED):
        with pytest.raises(Refused):
            structure(copy.deepcopy(body))
    for _ in range(_mirror._ANSWERS_SKIPPED):
        with pytest.raises(Refused):
            structure(REPORT)  # not even looked at
    assert structure(copy.deepcopy(REPORT)) == CONV.structure(REPORT, UsageReportV2)


def test_an_accepted_answer_resets_the_refusal_count() -> None:
    """Refusals only count in a row: an occasional odd answer keeps the mirror."""
    mirrors = Mirrors(_RENAMES, _FIELD_HOOKS, _REPORTS)
    structure = mirrors.get(UsageReportV2)
    assert structure is not None
    for _ in range(3 * _mirror._REFUSALS_TOLERATED):
        with pytest.raises(Refused):
            structure(copy.deepcopy(TABLE["count sent as a whole float"]))
        assert structure(copy.deepcopy(REPORT)).user_id == "u"


_moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
_counts = st.integers(min_value=0, max_value=2**63 - 1)
_text = st.text(max_size=8)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


_models = _opt(
    st.lists(
        st.builds(
            ModelUsage,
            _opt(_text),
            _opt(_counts),
            _opt(_counts),
            _opt(_counts),
            _opt(_counts),
        ),
        max_size=2,
    ).map(tuple)
)
_buckets = st.builds(
    lambda start, *rest: UsageBucket(start, start + timedelta(days=1), *rest),
    _moments,
    _counts,
    _opt(st.builds(CodeCompletionsUsageV2, *[_opt(_counts)] * 5)),
    _opt(st.builds(ChatUsageV2, *[_opt(_counts)] * 3, _models)),
    _opt(st.builds(AgentUsageV2, *[_opt(_counts)] * 6, _models)),
    _opt(_text),
    _opt(_text),
)
_reports = st.builds(
    UsageReportV2,
    _text,
    _moments,
    _moments,
    st.sampled_from(list(Granularity)),
    st.lists(_buckets, max_size=4).map(tuple),
    _opt(_text),
    _opt(_text),
)


@settings(max_examples=80, deadline=None)
@given(report=_reports)
def test_any_v2_report_comes_back_equal_through_its_mirror(report: UsageReportV2) -> None:
    """For any v2 report's wire form, the mirror accepts it and builds an equal report."""
    wire = CONV.unstructure(report)
    got = _mirrored_or_refused(wire)
    assert got is not Refused
    assert got == CONV.structure(wire, UsageReportV2) == report


def _agrees_with_converter(body: Any) -> None:
    """The mirror refuses ``body`` or builds the converter's model; it refuses what that refuses."""
    got = _mirrored_or_refused(copy.deepcopy(body))
    try:
        expected = CONV.structure(body, UsageReportV2)
    except Exception:
        assert got is Refused
        return
    if got is not Refused:
        assert got == expected


@pytest.mark.parametrize("schema", ["V2UserUsageResponse", "V2TeamUsageResponse"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_mirror_never_accepts_what_the_converter_would_not(
    schema: str, data: st.DataObject
) -> None:
    """On random schema bodies (any 64-bit value), an accepted body equals the converter's model."""
    body = data.draw(bodies(schema))
    _agrees_with_converter(body)


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(
        [
            ["organizationId"],
            ["from"],
            ["usage", "granularity"],
            ["usage", "data", 0, "from"],
            ["usage", "data", 0, "activeUsers"],
            ["usage", "data", 0, "ides"],
            [*CC],
            [*CC, "completions"],
            ["usage", "data", 0, "chat", "models"],
            ["usage", "data", 1, "chat", "models", 0, "uniqueUsers"],
            ["usage", "data", 0, "agent", "linesRemoved"],
        ]
    ),
    value=json_values | st.integers() | st.floats() | st.booleans(),
)
def test_a_broken_field_gets_the_converter_answer(path: list[Any], value: Any) -> None:
    """Any value anywhere in a v2 report: the mirror agrees with the converter or refuses."""
    body = _set(REPORT, path, value)
    _agrees_with_converter(body)
