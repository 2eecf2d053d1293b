"""The structure functions written per class accept only what the converter accepts, identically."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabnine_usage_async import (
    AgentUsageReport,
    ChatUsage,
    ChatUsageV2,
    CodeCompletionsUsage,
    DecodeError,
    Team,
    UsageBlock,
    UsageBucket,
    UsageReport,
    UsageReportV2,
    User,
    _convert,
)
from tabnine_usage_async._compiled import Compiler, Refused, _slot_setters
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


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        ({"activeUsers": 1, "messages": 2, "linesAdded": 3, "models": None}, {}),
        ({"activeUsers": 1, "messages": 2, "linesAdded": 3, "newMetric": 4}, {"newMetric": 4}),
        ({"messages": 2, "linesAdded": 3, "models": [], "newMetric": 4}, {"newMetric": 4}),
        ({"activeUsers": 1, "messages": 2, "linesAdded": 3}, {}),
        ({"activeUsers": 1, "messages": 2, "linesAdded": 3, "models": [], "x": 5}, {"x": 5}),
    ],
    ids=["every key", "one unknown in place of one known", "unknown first", "one absent", "more"],
)
def test_a_body_read_all_at_once_is_read_like_key_by_key(
    body: dict[str, Any], extra: dict[str, Any]
) -> None:
    """As many keys as fields is not enough to skip the unknown-key search: all must be known."""
    got = _compiled_or_refused(copy.deepcopy(body), ChatUsageV2)
    assert got == CONV.structure(body, ChatUsageV2)
    assert dict(got.extra) == extra


def _fresh(cls: type) -> Any:
    """A structure function that has learned no set of keys yet."""
    structure = Compiler(_convert._RENAMES, _convert._FIELD_HOOKS, _convert._REPORTS).get(cls)
    assert structure is not None
    return structure


CHAT_KEYS = ["activeUsers", "messages", "linesAdded", "models"]


@settings(max_examples=60, deadline=None)
@given(
    bodies=st.lists(
        st.dictionaries(
            st.sampled_from([*CHAT_KEYS, "newMetric", "other"]),
            st.integers(min_value=0, max_value=3)
            | st.booleans()
            | st.sampled_from([None, [], 1.0, -1, "1"]),
            max_size=6,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_bodies_read_after_learning_their_keys_read_as_before(
    bodies: list[dict[str, Any]],
) -> None:
    """Any run of bodies with any keys, in any order: each is refused or read as the converter.

    Plain counts and nulls are always taken (uncommon values, such as ``1.0`` for a count, may be
    left to the converters).
    """
    structure = _fresh(ChatUsageV2)
    for body in bodies * 2:  # the second time round, every set of keys has been learned
        try:
            got = structure(copy.deepcopy(body))
        except Exception:
            got = Refused
        try:
            expected = CONV.structure(copy.deepcopy(body), ChatUsageV2)
        except Exception:
            assert got is Refused
            continue
        plain = all((type(v) is int and v >= 0) or v is None for v in body.values())
        assert got is not Refused or not plain
        if got is not Refused:
            assert got == expected
            assert list(got.extra) == list(expected.extra)


def test_a_known_key_in_place_of_an_unknown_one_is_not_mistaken_for_it() -> None:
    """A body as large as a learned one, with a field the learned one lacked, keeps that field."""
    structure = _fresh(ChatUsageV2)
    learned = {"activeUsers": 1, "messages": 2, "newMetric": 3}
    structure(learned)
    structure(learned)
    got = structure({"activeUsers": 1, "messages": 2, "linesAdded": 3})
    assert got.lines_added == 3
    assert got.extra == {}


def test_equal_sections_are_built_once() -> None:
    """Once its keys are learned, a section equal to an earlier one is that same instance."""
    structure = _fresh(ChatUsageV2)
    zero = {"activeUsers": 0, "messages": 0, "linesAdded": 0}
    structure(dict(zero))
    first = structure(dict(zero))
    assert structure(dict(zero)) is first
    assert structure({**zero, "messages": 1}) is not first
    assert structure({**zero, "messages": 1}).messages == 1


@pytest.mark.parametrize(
    ("cls", "seen", "body"),
    [
        (ChatUsageV2, {"activeUsers": 1}, {"activeUsers": True}),
        (ChatUsageV2, {"activeUsers": 0}, {"activeUsers": False}),
        (ChatUsageV2, {"activeUsers": 1}, {"activeUsers": 1.0}),
        (
            Team,
            {"id": "t", "name": "n", "isDefaultTeam": True},
            {"id": "t", "name": "n", "isDefaultTeam": 1},
        ),
    ],
    ids=["true for 1", "false for 0", "1.0 for 1", "1 for true"],
)
def test_a_value_equal_to_a_shared_one_but_of_another_type_is_not_shared(
    cls: type, seen: dict[str, Any], body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """True == 1 and 1.0 == 1, yet such a body decodes (or fails) as the converter says."""
    structure = _fresh(cls)
    for _ in range(3):
        structure(dict(seen))
    monkeypatch.setattr(
        _convert, "_COMPILED", Compiler(_convert._RENAMES, _convert._FIELD_HOOKS, {})
    )
    _convert._COMPILED._done[cls] = structure
    try:
        expected = CONV.structure(dict(body), cls)
    except Exception:
        with pytest.raises(DecodeError):
            decode(dict(body), cls, endpoint="/test")
        return
    got = decode(dict(body), cls, endpoint="/test")
    assert got == expected
    assert type(got.active_users) is int


def test_functions_learned_for_two_sets_of_one_size_stay_apart() -> None:
    """Learning a second set of the same size (another thread, say) leaves the first one intact."""
    structure = _fresh(ChatUsageV2)
    learn = structure.__globals__["_learn"]
    fast = structure.__globals__["_fast"]
    first = {"activeUsers": 1, "messages": 2}
    learn(first)
    read_first = fast[2]
    learn({"linesAdded": 7, "newMetric": 8})
    assert fast[2] is not read_first
    got = read_first(dict(first))
    assert got == ChatUsageV2(active_users=1, messages=2)


def test_unknown_keys_keep_the_order_of_each_body() -> None:
    """Two bodies with the same keys in different orders keep their own order in extra."""
    structure = _fresh(ChatUsageV2)
    first = structure({"activeUsers": 1, "b": 1, "a": 2})
    second = structure({"a": 2, "activeUsers": 1, "b": 1})
    assert list(first.extra) == ["b", "a"]
    assert list(second.extra) == ["a", "b"]


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


def test_models_filled_in_without_init_behave_like_constructed_ones() -> None:
    """A block built slot by slot is equal, hashes, prints and stays frozen like __init__'s."""
    wire = {"activeUsers": 1, "completions": 2, "lines": 3, "automationFactor": 0.5}
    got = _compiled_or_refused(wire, CodeCompletionsUsage)
    built = CodeCompletionsUsage(active_users=1, completions=2, lines=3, automation_factor=0.5)
    assert type(got) is CodeCompletionsUsage
    assert got == built
    assert repr(got) == repr(built)
    assert got.extra == {} and got.keystrokes is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.lines = 4  # type: ignore[misc]
    assert hash(attrs.evolve(got, extra=())) == hash(attrs.evolve(built, extra=()))


_NOTHING_EXTRA: Mapping[str, Any] = MappingProxyType({})


@attrs.frozen
class _Plain:
    count: int
    extra: Mapping[str, Any] = attrs.field(default=_NOTHING_EXTRA, kw_only=True)


@attrs.frozen
class _Checked:
    count: int = attrs.field(validator=attrs.validators.lt(5))
    extra: Mapping[str, Any] = attrs.field(default=_NOTHING_EXTRA, kw_only=True)


@attrs.frozen
class _FactoryExtra:
    count: int
    extra: dict[str, Any] = attrs.field(factory=dict, kw_only=True)


@attrs.frozen
class _PostInit:
    count: int
    extra: Mapping[str, Any] = attrs.field(default=_NOTHING_EXTRA, kw_only=True)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "count", self.count * 2)


@attrs.frozen(cache_hash=True)
class _CachedHash:
    count: int
    extra: Mapping[str, Any] = attrs.field(default=_NOTHING_EXTRA, kw_only=True)


@attrs.frozen(slots=False)
class _NoSlots:
    count: int
    extra: Mapping[str, Any] = attrs.field(default=_NOTHING_EXTRA, kw_only=True)


@pytest.mark.parametrize(
    ("cls", "fills_slots"),
    [
        (CodeCompletionsUsage, True),
        (UsageBlock, True),
        (_Plain, True),
        (_Checked, False),
        (_FactoryExtra, False),
        (_PostInit, False),
        (_CachedHash, False),
        (_NoSlots, False),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_only_plain_slotted_classes_skip_their_init(cls: type, fills_slots: bool) -> None:
    """Validators, converters, init hooks, cached hashes or no slots keep the class's __init__."""
    assert (_slot_setters(cls) is not None) is fills_slots


@pytest.mark.parametrize(
    "cls",
    [_Plain, _Checked, _FactoryExtra, _PostInit, _CachedHash, _NoSlots],
    ids=lambda c: c.__name__,
)
def test_every_kind_of_class_is_built_as_its_init_builds_it(cls: type) -> None:
    """Slot by slot or through __init__ (hooks and all), the written function builds the same."""
    compiler = Compiler({cls: {}}, {}, {})
    structure = compiler.get(cls)
    assert structure is not None
    assert structure({"count": 3, "x": 1}) == cls(count=3, extra={"x": 1})
    assert structure({"count": 3}) == cls(count=3)
    if cls is _Checked:
        with pytest.raises(ValueError, match="count"):
            structure({"count": 7})
