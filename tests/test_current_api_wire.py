"""Tabnine 6.2's wire decisions from tables: error bodies, page shapes, tolerant timestamps."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from tabnine_usage_async import (
    APIStatusError,
    AuthenticationError,
    DecodeError,
    FeatureNotAvailableError,
    License,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from tabnine_usage_async._convert import decode
from tabnine_usage_async._wire import (
    ErrorBody,
    error_class_for_status,
    error_for_status,
    next_audit_offset,
    next_invitation_offset,
    read_error_body,
)
from tabnine_usage_async.pagination import paginate_audit_logs, paginate_invitations

UTC = timezone.utc

# -- error bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": "FEATURE_NOT_AVAILABLE", "message": "No Agent", "status": 403,'
            b' "requestId": "r-1", "details": {"feature": "agent"}}',
            ErrorBody(
                "No Agent", {"details": {"feature": "agent"}}, "FEATURE_NOT_AVAILABLE", "r-1"
            ),
        ),
        (
            b'{"error": "NOT_FOUND", "message": "Team not found", "requestId": null}',
            ErrorBody("Team not found", {}, "NOT_FOUND", None),
        ),
        (
            b'{"error": {"message": "Invalid organization", "errors": ["x"], "status": 401}}',
            ErrorBody("Invalid organization", {"errors": ["x"]}),
        ),
        (
            b'{"error": {"message": "m", "code": "C", "requestId": "r"}}',
            ErrorBody("m", {}, "C", "r"),
        ),
        (b'{"error": "RATE_LIMITED"}', ErrorBody("RATE_LIMITED", {}, "RATE_LIMITED")),
        (
            b'{"message": "Team not found", "status": 404, "details": {"teamId": "x"}}',
            ErrorBody("Team not found", {"details": {"teamId": "x"}}),
        ),
        (b'{"message": "m", "requestId": "r-2"}', ErrorBody("m", {}, None, "r-2")),
        (b'{"error": 5, "message": "m", "requestId": 7}', ErrorBody("m", {}, None, None)),
        (b'{"error": "", "message": "m"}', ErrorBody("m", {}, None, None)),
        (b"<html>502</html>", ErrorBody("<html>502</html>")),
        (b"", ErrorBody("(empty response body)")),
        (b"[1, 2]", ErrorBody("[1, 2]")),
        (b'{"requestId": "r-3"}', ErrorBody('{"requestId": "r-3"}', {}, None, "r-3")),
        (b'{"error": {"message": "m"}, "requestId": "r-4"}', ErrorBody("m", {}, None, "r-4")),
    ],
)
def test_read_error_body(body: bytes, expected: ErrorBody) -> None:
    """The 6.2 body, the older nested envelope and the plain one are all read; else the text."""
    assert read_error_body(body) == expected


def test_error_code_and_request_id_are_kept_short() -> None:
    """A code or request id is one line of bounded length (it is shown to people)."""
    read = read_error_body(
        b'{"error": "A\\nB", "message": "m", "requestId": "' + b"r" * 900 + b'"}'
    )
    assert read.code == "A B"
    assert read.request_id is not None and len(read.request_id) <= 503


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (403, "FEATURE_NOT_AVAILABLE", FeatureNotAvailableError),
        (403, "FORBIDDEN", PermissionDeniedError),
        (403, None, PermissionDeniedError),
        (401, "FEATURE_NOT_AVAILABLE", AuthenticationError),
        (404, "NOT_FOUND", NotFoundError),
        (429, "RATE_LIMITED", RateLimitError),
        (503, None, ServerError),
        (418, None, APIStatusError),
    ],
)
def test_error_class_for_status_and_code(
    status: int, code: str | None, cls: type[APIStatusError]
) -> None:
    """Only a 403 with FEATURE_NOT_AVAILABLE is a FeatureNotAvailableError."""
    assert error_class_for_status(status, code) is cls


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (
            b'{"error": "FEATURE_NOT_AVAILABLE", "message": "No Agent", "requestId": "r-1"}',
            "403 No Agent (GET /p) [code FEATURE_NOT_AVAILABLE, request id r-1]",
        ),
        (
            b'{"message": "No access", "requestId": "r-2"}',
            "403 No access (GET /p) [request id r-2]",
        ),
        (b'{"message": "No access"}', "403 No access (GET /p)"),
    ],
)
def test_error_str_carries_code_and_request_id(body: bytes, shown: str) -> None:
    """str() of an error names the code and request id when the server sent them."""
    error = error_for_status(403, body, method="GET", path="/p")
    assert str(error) == shown


def test_rate_limit_error_keeps_code_and_retry_after() -> None:
    """A 429 keeps Retry-After next to the code and request id."""
    error = error_for_status(
        429,
        b'{"error": "RATE_LIMITED", "message": "slow", "requestId": "r"}',
        method="GET",
        path="/p",
        retry_after=3.0,
    )
    assert isinstance(error, RateLimitError)
    assert (error.retry_after, error.code, error.request_id) == (3.0, "RATE_LIMITED", "r")


# -- audit-log pages -----------------------------------------------------------------------------

AUDIT = "/api/v1/organization/audit-logs"


@pytest.mark.parametrize(
    ("page_offset", "offset", "count", "limit", "expected"),
    [
        (0, 0, 50, 50, 50),
        (50, 50, 20, 50, 70),  # a short page is not the end: only an empty page is
        (100, 100, 0, 50, None),
        (None, 100, 10, 50, 110),  # an offset the page does not state is not checked
        ("100", 100, 10, 50, 110),
        (True, 1, 10, 50, 11),
    ],
)
def test_next_audit_offset(
    page_offset: Any, offset: int, count: int, limit: int, expected: int | None
) -> None:
    """Audit pages move by the items received and stop only on an empty page."""
    assert (
        next_audit_offset(page_offset, offset=offset, count=count, limit=limit, endpoint=AUDIT)
        == expected
    )


@pytest.mark.parametrize(
    ("page_offset", "offset", "count", "limit"),
    [
        (0, 100, 50, 50),  # the server ignored the offset: the walk would repeat
        (0, 100, 0, 50),
        (0, 0, 51, 50),  # more items than asked
    ],
)
def test_next_audit_offset_refuses(page_offset: Any, offset: int, count: int, limit: int) -> None:
    """A page at another offset than asked, or larger than the limit, raises PaginationError."""
    with pytest.raises(PaginationError):
        next_audit_offset(page_offset, offset=offset, count=count, limit=limit, endpoint=AUDIT)


# -- invitation pages ----------------------------------------------------------------------------

INVITATIONS = "/api/invitation/v1"


@pytest.mark.parametrize(
    ("meta", "offset", "count", "limit", "expected"),
    [
        ({"count": 2, "total": 5, "next": 2}, 0, 2, 2, 2),
        ({"count": 2, "total": 5, "next": 4}, 2, 2, 2, 4),
        ({"count": 1, "total": 5, "next": None}, 4, 1, 2, None),
        ({"count": 1, "total": 5}, 4, 1, 2, None),
        ({"count": 0, "total": 5, "next": 9}, 4, 0, 2, None),  # empty page stops
        (None, 0, 1, 2, None),
        ("garbage", 0, 1, 2, None),
        ({"count": 1, "total": 1, "next": 10}, 0, 1, 100, 10),  # never relies on total
    ],
)
def test_next_invitation_offset(
    meta: Any, offset: int, count: int, limit: int, expected: int | None
) -> None:
    """meta.next is a plain integer offset; null or absent ends the walk."""
    assert (
        next_invitation_offset(meta, offset=offset, count=count, limit=limit, endpoint=INVITATIONS)
        == expected
    )


@pytest.mark.parametrize(
    ("meta", "offset", "count", "limit"),
    [
        ({"next": 0}, 0, 1, 2),
        ({"next": 2}, 4, 1, 2),
        ({"next": "4"}, 0, 1, 2),
        ({"next": True}, 0, 1, 2),
        ({"next": {"offset": 2, "limit": 2}}, 0, 1, 2),  # the other lists' shape
        ({"next": 3}, 0, 3, 2),
    ],
)
def test_next_invitation_offset_refuses(meta: Any, offset: int, count: int, limit: int) -> None:
    """A next that does not move forward or is not an integer raises PaginationError."""
    with pytest.raises(PaginationError):
        next_invitation_offset(meta, offset=offset, count=count, limit=limit, endpoint=INVITATIONS)


# -- the generators, driven by plain functions ---------------------------------------------------


async def test_paginate_audit_logs_stops_on_repeated_page() -> None:
    """A server repeating the same page without stating offsets raises instead of looping."""
    calls: list[int] = []

    async def fetch(offset: int, limit: int) -> Any:
        calls.append(offset)
        return {"items": [{"id": "a"}, {"id": "b"}], "limit": limit}

    with pytest.raises(PaginationError):
        _ = [page async for page in paginate_audit_logs(fetch, limit=2, endpoint=AUDIT)]
    assert calls == [0, 2]


@pytest.mark.parametrize("body", [None, [], {"items": None}, {"items": {}}, {"data": []}], ids=repr)
async def test_paginate_audit_logs_bad_shape(body: Any) -> None:
    """A page that is not {items: [...]} raises DecodeError."""

    async def fetch(offset: int, limit: int) -> Any:
        return body

    with pytest.raises(DecodeError):
        _ = [page async for page in paginate_audit_logs(fetch, limit=2, endpoint=AUDIT)]


@pytest.mark.parametrize(
    "body", [None, {"data": None}, {"items": []}, {"data": "x", "meta": {}}], ids=repr
)
async def test_paginate_invitations_bad_shape(body: Any) -> None:
    """An invitation page that is not {data: [...]} raises DecodeError."""

    async def fetch(offset: int, limit: int) -> Any:
        return body

    with pytest.raises(DecodeError):
        _ = [page async for page in paginate_invitations(fetch, limit=2, endpoint=INVITATIONS)]


# -- tolerant licence timestamps -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exp", "expires_at"),
    [
        (1895529600, datetime(2030, 1, 25, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (-86400, datetime(1969, 12, 31, tzinfo=UTC)),
        (1895529600.0, datetime(2030, 1, 25, tzinfo=UTC)),
        (253402300800, None),  # year 10000
        (2**63 - 1, None),
        (-(2**63), None),
        (None, None),
    ],
)
def test_license_timestamps(exp: Any, expires_at: datetime | None) -> None:
    """exp is kept as sent; its datetime is None when absent or beyond what datetime holds."""
    lic = decode({"exp": exp, "iat": exp}, License, endpoint="/api/v1/license")
    assert lic.expires_at == expires_at and lic.issued_at == expires_at
    assert lic.expires_at_unix == (None if exp is None else int(exp))


@pytest.mark.parametrize("exp", ["1895529600", 1.5, True, [1]])
def test_license_timestamps_of_the_wrong_type_fail(exp: Any) -> None:
    """A timestamp that is not an integer is still a DecodeError naming $.exp."""
    with pytest.raises(DecodeError) as info:
        decode({"exp": exp}, License, endpoint="/api/v1/license")
    assert info.value.field == "$.exp"
