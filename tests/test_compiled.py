"""The structure functions written per class accept only what the converter accepts, identically."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabnine_usage_async import (
    AgentUsageReport,
    ChatUsage,
    CodeCompletionsUsage,
    DecodeError,
    Team,
    UsageBlock,
    UsageBucket,
    UsageReport,
    UsageReportV2,
    User,
)
from tabnine_usage_async._compiled import Refused
from tabnine_usage_async._convert import _COMPILED, decode, make_converter

from .test_convert import MODELS, REPORT, json_values
from .test_current_api_schema import DECODED, bodies

CONV = make_converter()


def _compiled_or_refused(data: Any, cls: Any) -> Any:
    compiled = _COMPILED.get(cls)
    assert compiled is not None, f"no structure function for {cls}"
    try:
        return compiled(data)
    except Exception:  # any failure hands the body to the converters
        return Refused


@pytest.mark.parametrize(
    "cls",
    [UsageReport, UsageReportV2, AgentUsageReport, UsageBlock, UsageBucket, User, Team, list[User]],
    ids=str,
)
def test_usage_models_and_listings_have_a_structure_function(cls: Any) -> None:
    """The classes every walk decodes get a written structure function, not cattrs' dispatch."""
    assert _COMPILED.get(cls) is not None


@pytest.mark.parametrize("cls", [c for c in MODELS if _COMPILED.get(c)], ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_written_functions_build_what_the_converter_builds(cls: type, data: st.DataObject) -> None:
    """For any model's wire form, the written function accepts it and builds an equal model."""
    model = data.draw(MODELS[cls])
    wire = CONV.unstructure(model)
    got = _compiled_or_refused(wire, cls)
    assert got is not Refused
    assert got == CONV.structure(wire, cls) == model


WRITTEN = [(schema, cls) for schema, cls in DECODED if _COMPILED.get(cls) is not None]


@pytest.mark.parametrize(
    ("schema", "cls"), WRITTEN, ids=[str(s) if isinstance(s, str) else "Team[]" for s, _ in WRITTEN]
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_written_functions_never_accept_what_the_converter_would_not(
    schema: Any, cls: Any, data: st.DataObject
) -> None:
    """On random schema bodies (any 64-bit value), an accepted body equals the converter's model."""
    body = data.draw(bodies(schema))
    got = _compiled_or_refused(copy.deepcopy(body), cls)
    if got is Refused:
        return
    assert got == CONV.structure(body, cls)


@settings(max_examples=80, deadline=None)
@given(
    path=st.sampled_from(
        [
            ["organizationId"],
            ["userId"],
            ["from"],
            ["usage", "granularity"],
            ["usage", "data"],
            ["usage", "data", 0, "from"],
            ["usage", "data", 0, "activeUsers"],
            ["usage", "data", 0, "productivityFactor"],
            ["usage", "data", 0, "codeCompletions"],
            ["usage", "data", 0, "codeCompletions", "completions"],
            ["usage", "data", 0, "chat", "chatConsumptionRate"],
        ]
    ),
    value=json_values | st.integers() | st.floats(),
)
def test_a_broken_field_gets_the_converter_answer(path: list[Any], value: Any) -> None:
    """Any value anywhere in a report: the written function agrees with the converter or refuses."""
    body = copy.deepcopy(REPORT)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    got = _compiled_or_refused(copy.deepcopy(body), UsageReport)
    try:
        expected = CONV.structure(body, UsageReport)
    except Exception:
        assert got is Refused
        return
    if got is not Refused:
        assert got == expected


def test_unknown_keys_stay_in_the_order_sent() -> None:
    """Keys the model does not know are kept in extra, in the order the server sent them."""
    block = {
        "zeta": 1,
        "from": "2026-01-01T00:00:00Z",
        "alpha": {"x": [1]},
        "to": "2026-01-02T00:00:00Z",
        "activeUsers": 1,
        "middle": None,
    }
    got = _compiled_or_refused(block, UsageBlock)
    assert list(got.extra) == ["zeta", "alpha", "middle"]
    assert got.extra["alpha"] == {"x": [1]}


def test_usage_envelope_extras_are_kept() -> None:
    """Unknown keys beside and inside the usage envelope end up where the converter puts them."""
    body = copy.deepcopy(REPORT)
    body["note"] = "n"
    body["usage"]["cursor"] = 3
    got = _compiled_or_refused(body, UsageReport)
    assert got.extra == {"note": "n", "usage": {"cursor": 3}}
    assert got == CONV.structure(body, UsageReport)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.0, 3), (0, 0.0)],
    ids=["count sent as a float", "ratio sent as an integer"],
)
def test_uncommon_but_valid_numbers_still_decode(value: Any, expected: Any) -> None:
    """What the written functions leave to the converters still decodes to the right type."""
    body = {"completions": value, "automationFactor": value}
    got = decode(body, CodeCompletionsUsage, endpoint="/test")
    assert got.completions == 3 if value == 3.0 else got.completions == 0
    assert isinstance(got.completions, int)
    assert isinstance(got.automation_factor, float)
    assert got.automation_factor == float(expected)


def test_errors_are_still_the_detailed_ones() -> None:
    """A refused body raises the detailed DecodeError, naming the wire path, as before."""
    body = copy.deepcopy(REPORT)
    body["usage"]["data"][0]["chat"] = {"interactions": "2"}
    with pytest.raises(DecodeError) as caught:
        decode(body, UsageReport, endpoint="/api/v1/user/usage")
    assert caught.value.field == "$.usage.data[0].chat.interactions"
    assert "expected a non-negative integer, got a string" in str(caught.value)


def test_nested_models_are_typed() -> None:
    """Nested objects come out as their model classes, not dicts."""
    got = _compiled_or_refused(copy.deepcopy(REPORT), UsageReport)
    (block,) = got.blocks
    assert isinstance(block, UsageBlock)
    assert isinstance(block.code_completions, CodeCompletionsUsage)
    assert isinstance(block.chat, ChatUsage)
