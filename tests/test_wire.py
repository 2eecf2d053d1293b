"""The pure wire decisions, from tables: no event loop needed."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest

from tabnine_usage_async import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    Granularity,
    InvalidParameterError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    UnexpectedRedirectError,
    UnprocessableEntityError,
)
from tabnine_usage_async._wire import (
    backoff_delay,
    encode_path_segment,
    error_class_for_status,
    error_for_status,
    format_month,
    next_page_offset,
    parse_error_body,
    parse_granularity,
    parse_retry_after,
    retry_delay,
    should_retry_status,
    validate_base_url,
    validate_token,
)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
        (301, UnexpectedRedirectError),
        (307, UnexpectedRedirectError),
        (418, APIStatusError),
    ],
)
def test_error_class_for_status(status: int, cls: type[APIStatusError]) -> None:
    """Each status maps to the class that names its meaning."""
    assert error_class_for_status(status) is cls


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (422, False),
        (501, False),
        (301, False),
    ],
)
def test_should_retry_status(status: int, retry: bool) -> None:
    """Only throttling and transient server failures are retried; 409 and other 4xx are final."""
    assert should_retry_status(status) is retry


@pytest.mark.parametrize(
    ("body", "message", "details"),
    [
        (
            b'{"error": {"message": "Invalid organization", "errors": ["bad"], "status": 401}}',
            "Invalid organization",
            {"errors": ["bad"]},
        ),
        (
            b'{"message": "Team not found", "status": 404, "details": {"teamId": "x"}}',
            "Team not found",
            {"details": {"teamId": "x"}},
        ),
        (b'{"error": "Forbidden"}', "Forbidden", {}),
        (
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            {},
        ),
        (b"", "(empty response body)", {}),
        (b'{"unexpected": true}', '{"unexpected": true}', {}),
        (b"\xff\xfe broken", "\ufffd\ufffd broken", {}),
    ],
)
def test_parse_error_body(body: bytes, message: str, details: dict[str, Any]) -> None:
    """Both error envelopes are read; anything else falls back to the body text."""
    assert parse_error_body(body) == (message, details)


def test_parse_error_body_shortens_long_pages() -> None:
    """A huge proxy page is cut to a readable length on one line."""
    message, _ = parse_error_body(b"<p>\n" + b"x" * 5000)
    assert len(message) <= 503 and "\n" not in message and message.endswith("...")


def test_error_for_status_carries_context() -> None:
    """The built error has status, message, method, path and, for 429, retry_after."""
    err = error_for_status(
        429, b'{"message": "slow down"}', method="GET", path="/p", retry_after=2.0
    )
    assert isinstance(err, RateLimitError)
    assert (err.status, err.message, err.path, err.retry_after) == (429, "slow down", "/p", 2.0)
    assert str(err) == "429 slow down (GET /p)"


def test_error_for_redirect_names_only_the_host() -> None:
    """A redirect error names where it pointed, without following it."""
    err = error_for_status(302, b"", method="GET", path="/p", location="https://evil.example/x?y")
    assert isinstance(err, UnexpectedRedirectError)
    assert "evil.example" in err.message and "not followed" in err.message


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        (None, 0.0, None),
        ("", 0.0, None),
        ("5", 0.0, 5.0),
        ("0.5", 0.0, 0.5),
        ("-3", 0.0, 0.0),
        ("soon", 0.0, None),
        ("nan", 0.0, None),
        ("inf", 0.0, None),
        ("Thu, 01 Jan 1970 00:01:00 GMT", 30.0, 30.0),
        ("Thu, 01 Jan 1970 00:01:00 GMT", 90.0, 0.0),
    ],
)
def test_parse_retry_after(value: str | None, now: float, expected: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP date relative to now, never negative."""
    assert parse_retry_after(value, now=now) == expected


@pytest.mark.parametrize(
    ("retry", "jitter", "expected"),
    [(0, 0.0, 0.25), (0, 1.0, 0.5), (1, 0.0, 0.5), (3, 0.5, 3.0), (10, 0.0, 5.0), (10, 1.0, 10.0)],
)
def test_backoff_delay(retry: int, jitter: float, expected: float) -> None:
    """Backoff doubles per retry, is half fixed and half jitter, and is capped."""
    policy = RetryPolicy(base_delay=0.5, max_delay=10.0)
    assert backoff_delay(policy, retry, jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(None, 0.25), (3.0, 3.0), (0.0, 0.0), (500.0, 60.0)]
)
def test_retry_delay_prefers_retry_after_up_to_a_cap(
    retry_after: float | None, expected: float
) -> None:
    """A server's Retry-After wins over backoff, capped by max_retry_after."""
    policy = RetryPolicy(base_delay=0.5, max_delay=10.0, max_retry_after=60.0)
    assert retry_delay(policy, 0, retry_after=retry_after, jitter=0.0) == expected


@pytest.mark.parametrize(
    ("meta", "offset", "count", "limit", "expected"),
    [
        ({"next": {"offset": 100, "limit": 100}}, 0, 100, 100, 100),
        ({"next": {"offset": 60}}, 0, 60, 100, 60),  # a short page that is not the last
        ({"next": None}, 0, 100, 100, None),
        ({"count": 5, "total": 5}, 0, 5, 100, None),
        (None, 0, 5, 100, None),
        ({"next": {"offset": 300}}, 200, 0, 100, None),  # empty page ends the walk
    ],
)
def test_next_page_offset(
    meta: dict[str, Any] | None, offset: int, count: int, limit: int, expected: int | None
) -> None:
    """The next offset follows meta.next and stops on absent/null next or an empty page."""
    got = next_page_offset(meta, offset=offset, count=count, limit=limit, endpoint="/e")
    assert got == expected


@pytest.mark.parametrize(
    ("meta", "offset", "count", "limit", "message"),
    [
        ({"next": {"offset": 100}}, 100, 10, 100, "does not move past"),
        ({"next": {"offset": 50}}, 100, 10, 100, "does not move past"),
        ({"next": {"offset": "200"}}, 100, 10, 100, "integer offset"),
        ({"next": {"offset": True}}, 0, 10, 100, "integer offset"),
        ({"next": [1]}, 0, 10, 100, "object or null"),
        ({"next": None}, 0, 101, 100, "limit was 100"),
    ],
)
def test_next_page_offset_refuses_loops(
    meta: dict[str, Any], offset: int, count: int, limit: int, message: str
) -> None:
    """A repeated or backwards offset, or a page over the limit, raises PaginationError."""
    with pytest.raises(PaginationError, match=message):
        next_page_offset(meta, offset=offset, count=count, limit=limit, endpoint="/e")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        ("a/b", "a%2Fb"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("a..b", "a..b"),
        ("x?y#z", "x%3Fy%23z"),
        ("100%", "100%25"),
        ("ü", "%C3%BC"),
        ("a b", "a%20b"),
    ],
)
def test_encode_path_segment(value: str, expected: str) -> None:
    """Ids are percent-encoded so they can never change the requested path."""
    assert encode_path_segment(value, name="id") == expected


@pytest.mark.parametrize("value", ["", "   "])
def test_encode_path_segment_rejects_empty(value: str) -> None:
    """An empty id is refused instead of requesting the parent path."""
    with pytest.raises(InvalidParameterError, match="must not be empty"):
        encode_path_segment(value, name="team_id")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Granularity.WEEKLY, Granularity.WEEKLY),
        ("daily", Granularity.DAILY),
        (" Monthly ", Granularity.MONTHLY),
        ("all", Granularity.ALL),
    ],
)
def test_parse_granularity(value: Any, expected: Granularity) -> None:
    """Granularity accepts the enum or its string values."""
    assert parse_granularity(value) is expected


@pytest.mark.parametrize("value", ["day", "hourly", "", 3, None, ["daily"]])
def test_parse_granularity_names_allowed_values(value: Any) -> None:
    """Anything else is rejected with the list of allowed values."""
    with pytest.raises(InvalidParameterError, match="'all', 'daily', 'weekly', 'monthly'"):
        parse_granularity(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03", "2026-03"),
        (date(2026, 12, 31), "2026-12"),
        (datetime(2025, 1, 1, tzinfo=timezone.utc), "2025-01"),
    ],
)
def test_format_month(value: Any, expected: str) -> None:
    """startDate is formatted as YYYY-MM."""
    assert format_month(value) == expected


@pytest.mark.parametrize("value", ["2026-13", "2026-00", "2026-3", "March", "2026-03-01"])
def test_format_month_rejects(value: str) -> None:
    """Malformed months are refused before any request."""
    with pytest.raises(InvalidParameterError, match="YYYY-MM"):
        format_month(value)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "TABNINE_API_TOKEN"),
        ("", "empty"),
        ("   ", "empty"),
        ("abc\n", "whitespace or a control"),
        ("ab c", "whitespace or a control"),
        ("ab\x00c", "whitespace or a control"),
        (123, "must be a string"),
    ],
)
def test_validate_token(token: Any, message: str) -> None:
    """Bad tokens are refused with a message that never repeats the token."""
    with pytest.raises(ConfigurationError, match=message) as info:
        validate_token(token)
    if isinstance(token, str) and token.strip():
        assert token.strip() not in str(info.value)


@pytest.mark.parametrize(
    ("url", "insecure", "expected"),
    [
        ("https://console.tabnine.com", False, "https://console.tabnine.com"),
        ("https://console.tabnine.com/", False, "https://console.tabnine.com"),
        ("https://tabnine.corp.example:8443", False, "https://tabnine.corp.example:8443"),
        ("http://127.0.0.1:8080", False, "http://127.0.0.1:8080"),
        ("http://localhost:9", False, "http://localhost:9"),
        ("http://[::1]:9", False, "http://[::1]:9"),
        ("http://tabnine.corp.example", True, "http://tabnine.corp.example"),
    ],
)
def test_validate_base_url(url: str, insecure: bool, expected: str) -> None:
    """Base URLs are normalised to scheme://host[:port]."""
    assert validate_base_url(url, allow_insecure_http=insecure) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("console.tabnine.com", "needs a scheme and a host"),
        ("ftp://console.tabnine.com", "needs a scheme and a host"),
        ("https://console.tabnine.com/api/v1", "no path"),
        ("https://console.tabnine.com?x=1", "no path, query"),
        ("https://console.tabnine.com#frag", "no path, query"),
        ("http://tabnine.corp.example", "plain http"),
        ("http://10.0.0.5", "plain http"),
        ("https://user:pw@console.tabnine.com", "credentials"),
        ("https://host:99999", "not a valid URL"),
        ("", "non-empty"),
    ],
)
def test_validate_base_url_rejects(url: str, message: str) -> None:
    """Bad base URLs are refused with what to use instead."""
    with pytest.raises(ConfigurationError, match=message):
        validate_base_url(url)
