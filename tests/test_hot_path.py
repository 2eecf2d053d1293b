"""Per-request shortcuts give what the general code gives: parser, URL, slots, ranges."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from tabnine_usage_async import DecodeError, InvalidParameterError, _guard
from tabnine_usage_async._limits import Limits
from tabnine_usage_async._transport import build_url
from tabnine_usage_async.client import _wire_range
from tabnine_usage_async.windows import format_datetime, resolve_range

UTC = timezone.utc

# Bodies where a fast parser and the standard library could disagree.
TRICKY = [
    b'{"a": 1, "a": 2}',
    b"[18446744073709551616, -9223372036854775809, 123456789012345678901234567890]",
    b"[1e400, -1e400, 1e-400]",
    b'{"ratio": NaN, "big": Infinity, "small": -Infinity}',
    b"\xef\xbb\xbf[1]",
    b'["\\ud800"]',
    b"[0.1000000000000000055511151231257827, 4.9e-324, 1E2, -0.0]",
    b'["\\u0000", "a\\/b", "\\u00e9"]',
    b" [1] ",
    '["é"]'.encode("utf-16"),
]
BROKEN = [b"", b"{", b"[1,]", b"nope", b"\xff\xfe\x00", b"[" * 100_000, b"[" + b"9" * 5000 + b"]"]


def _stdlib(body: bytes, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(_guard, "_FAST_PARSE", None)
        return _guard.parse_json(body, "/test")


def test_the_speed_extra_parser_is_used_when_installed() -> None:
    """With msgspec installed (it is in the dev extra), parse_json uses it."""
    assert _guard._FAST_PARSE is not None


@pytest.mark.parametrize("body", TRICKY)
def test_fast_parser_gives_the_standard_library_result(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big integers, duplicate keys, NaN, BOMs, surrogates: the same value as without the extra."""
    fast = _guard.parse_json(body, "/test")
    slow = _stdlib(body, monkeypatch)
    assert repr(fast) == repr(slow)
    assert json.dumps(fast) == json.dumps(slow)


@pytest.mark.parametrize("body", BROKEN, ids=lambda b: repr(b[:12]))
def test_fast_parser_keeps_the_standard_library_errors(
    body: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that is not JSON raises the same DecodeError with or without the extra."""
    with pytest.raises(DecodeError) as fast:
        _guard.parse_json(body, "/test")
    with pytest.raises(DecodeError) as slow:
        _stdlib(body, monkeypatch)
    assert str(fast.value) == str(slow.value)


json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(document=json_documents, indent=st.sampled_from([None, 1]))
def test_fast_parser_agrees_on_any_document(document: Any, indent: int | None) -> None:
    """Any JSON document parses to the same Python value with the fast and standard parsers."""
    body = json.dumps(document, indent=indent).encode()
    fast = _guard.parse_json(body, "/test")
    assert repr(fast) == repr(json.loads(body))


PLAIN_PATH = "/api/v1/user/usage"


@settings(max_examples=200, deadline=None)
@given(
    params=st.dictionaries(
        st.text(min_size=1, max_size=8) | st.sampled_from(["userId", "from", "to"]),
        st.text(max_size=12) | st.sampled_from(["2026-01-01T00:00:00Z", "u-1", "a&b", "x=y"]),
        max_size=5,
    )
)
def test_build_url_is_what_yarl_builds(params: dict[str, str]) -> None:
    """Plain or not, the URL and the shown path are yarl's with_query result."""
    base = "https://tabnine.example.com"
    url, shown = build_url(base, PLAIN_PATH, params)
    expected = URL(base + PLAIN_PATH, encoded=True).with_query(params)
    assert str(url) == str(expected)
    assert url.query == expected.query
    assert shown == (f"{PLAIN_PATH}?{expected.raw_query_string}" if params else PLAIN_PATH)


def test_build_url_writes_plain_queries_directly() -> None:
    """Ids, RFC 3339 times and words are written as they are, in order."""
    params = {"organizationId": "o-1", "from": "2026-01-01T00:00:00Z", "granularity": "daily"}
    url, shown = build_url("http://127.0.0.1:9", PLAIN_PATH, params)
    assert shown == f"{PLAIN_PATH}?organizationId=o-1&from=2026-01-01T00:00:00Z&granularity=daily"
    assert dict(url.query) == params


async def test_acquire_and_release_pair_up() -> None:
    """acquire() holds a slot until release(); the peak and the count follow."""
    limits = Limits(2, None)
    await limits.acquire()
    await limits.acquire()
    assert limits.in_flight == 2 == limits.max_in_flight
    third = asyncio.create_task(limits.acquire())
    await asyncio.sleep(0)
    assert not third.done()
    limits.release()
    await asyncio.wait_for(third, 5)
    limits.release()
    limits.release()
    assert limits.in_flight == 0 and limits.max_in_flight == 2


async def test_a_cancelled_acquire_gives_its_slot_back() -> None:
    """A task cancelled while waiting for the rate keeps no slot."""
    limits = Limits(1, 0.5)
    await limits.acquire()  # takes the first rate slot at once
    limits.release()
    waiter = asyncio.create_task(limits.acquire())  # the next one is 2 s away
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limits.in_flight == 0
    assert not limits._semaphore.locked()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 1, 1), date(2026, 2, 1)),
        ("2026-01-01", "2026-02-01T00:00:00Z"),
        (
            datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 2, 1, tzinfo=UTC),
        ),
        (datetime(2026, 1, 1, 0, 0, 0, 999, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)),
    ],
)
def test_wire_range_is_resolve_range_then_format(start: Any, end: Any) -> None:
    """Twice in a row, the remembered wire range is what resolving and formatting give."""
    lo, hi = resolve_range(start, end)
    expected = (format_datetime(lo), format_datetime(hi))
    assert _wire_range(start, end) == expected
    assert _wire_range(start, end) == expected


def test_wire_range_still_refuses_bad_bounds_after_good_ones() -> None:
    """An aware bound remembered does not let an equal-looking naive one through."""
    aware = datetime(2026, 3, 1, tzinfo=UTC)
    _wire_range(aware, aware + timedelta(days=1))
    with pytest.raises(InvalidParameterError, match="naive"):
        _wire_range(aware.replace(tzinfo=None), aware + timedelta(days=1))
    with pytest.raises(InvalidParameterError, match="after start"):
        _wire_range(aware, aware)
    with pytest.raises(InvalidParameterError):
        _wire_range([aware], aware)  # type: ignore[arg-type]
